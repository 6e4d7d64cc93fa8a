"""Chapters computed on one machine and reused everywhere else: build two cheap chapters in a clone,
``make freeze``, commit, clone that commit into a fresh directory (cold cache: no .cache, no
_build) and build there: both chapters are reused, none executes; the same after the workflow's
"Committed chapters win" step has overwritten what a stale Actions cache restored. And the cache key
of a chapter does not depend on the device, so a GPU run is reused by a CPU-only CI run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from coursebook.book import cache, runner
from tests.conftest import PROJECT
from tests.road import fresh_clone, git, make, origin_repository, user_env

TRAINS, COUNTS = "a12-e-baseline", "e4742-p1b-parameter-count"  # the cheapest chapter that trains, one that does not
FROZEN = {
    f"book/chapters/{TRAINS}.ipynb",
    f"book/chapters/{TRAINS}.run.json",
    f"book/chapters/{TRAINS}.results.json",
    f"book/chapters/{COUNTS}.ipynb",
    f"book/chapters/{COUNTS}.run.json",
}

# In a clone: plan the whole book as make book would, execute (only what is out of date) the two
# frozen chapters, build the HTML; print what happened to each chapter as JSON.
BUILD_TWO = f"""
import json
from coursebook.book import runner
plans = runner.plan_book("smoke", data="synthetic")
changed = {{p.chapter_id: p.changed for p in plans}}
chosen = [p for p in plans if p.chapter_id in ({TRAINS!r}, {COUNTS!r})]
summary = runner.execute_all(chosen, log=lambda line: None, live=False)
html = runner.build_html(log=lambda line: None)
print(json.dumps({{"changed": changed, "status": {{o.chapter_id: o.status for o in summary.outcomes}}, "html": html}}))
"""


def python(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=user_env(PYTHONPATH=str(project)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build_two(project: Path) -> dict:
    result = python(project, "-c", BUILD_TWO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def frozen(tmp_path_factory) -> Path:
    """A clone in which two chapters were executed, frozen with make freeze and committed."""
    base = tmp_path_factory.mktemp("freeze")
    computed = fresh_clone(origin_repository(base / "origin"), base / "gpu-machine")
    for chapter in (TRAINS, COUNTS):
        built = python(
            computed,
            "-m",
            "coursebook",
            "build",
            "--profile",
            "smoke",
            "--data",
            "synthetic",
            "--chapter",
            chapter,
            "--no-html",
        )
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    froze = make(computed, "freeze", timeout=300)
    assert froze.returncode == 0, froze.stdout + froze.stderr
    assert "staged 2 chapter(s), 5 file(s)" in froze.stdout and "profile(s): smoke (2)" in froze.stdout
    assert set(git(computed, "diff", "--cached", "--name-only").split()) == FROZEN  # exactly what a clone needs
    git(computed, "commit", "-q", "-m", "Executed chapters")
    return computed


def test_a_fresh_clone_of_the_frozen_commit_reuses_every_frozen_chapter(frozen, tmp_path):
    clone = fresh_clone(frozen, tmp_path / "ci")
    assert not (clone / ".cache").exists() and not (clone / "_build").exists()
    status = make(clone, "status", "PROFILE=smoke", "DATA=synthetic", timeout=300)
    assert status.returncode == 0, status.stderr
    assert f"  {TRAINS}" in status.stdout and "13 of 15 chapter(s) will execute" in status.stdout
    for chapter in (TRAINS, COUNTS):
        line = next(x for x in status.stdout.splitlines() if x.strip().startswith(chapter + " "))
        assert line.endswith("up to date"), line
    result = build_two(clone)
    assert result["changed"][TRAINS] == [] and result["changed"][COUNTS] == []
    assert result["status"] == {TRAINS: "reused", COUNTS: "reused"}  # nothing executed
    assert result["html"] == 0
    page = (clone / "_build" / "html" / "book" / "chapters" / f"{TRAINS}.html").read_text(encoding="utf-8")
    assert f'href="../../notebooks/{TRAINS}.ipynb"' in page  # the runnable notebook, offered on the page
    offered = nbformat.read(clone / "_build" / "html" / "notebooks" / f"{TRAINS}.ipynb", as_version=4)
    injected = [c for c in offered.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "epochs = 2" in injected[0].source and "'profile': 'smoke'" in injected[0].source


def test_committed_chapters_win_over_a_stale_actions_cache(frozen, tmp_path):
    """What the workflow does: restore an older book/chapters/ from the Actions cache, then check the
    committed chapters out over it (its step, run as it is written in book.yml), then build."""
    clone = fresh_clone(frozen, tmp_path / "ci")
    chapters = clone / "book" / "chapters"
    for name in FROZEN:  # an older run's files, as the cache would restore them
        (clone / name).write_text((clone / name).read_text().replace('"', "'", 3))
    (chapters / f"{TRAINS}.failed.ipynb").write_text("{}")
    workflow = yaml.safe_load((PROJECT / ".github" / "workflows" / "book.yml").read_text())
    step = next(
        s for s in workflow["jobs"]["build"]["steps"] if s.get("name") == "Committed chapters win over cached ones"
    )
    ran = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=clone, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert git(clone, "status", "--porcelain", "--", "book/chapters").strip() == ""
    result = build_two(clone)
    assert result["status"] == {TRAINS: "reused", COUNTS: "reused"}


def test_the_cache_key_does_not_depend_on_the_device(monkeypatch):
    """A chapter computed with GPU=1 (.venv-gpu, CUDA visible) has the key of a CPU-only run of the
    same commit: the device is on the run card, not in the key (see cache.py)."""
    assert "device" not in cache.components()
    for name in ("GPU", "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    cpu = runner.plan_chapter(COUNTS, "smoke", {}).components
    monkeypatch.setenv("GPU", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("VIRTUAL_ENV", str(PROJECT / ".venv-gpu"))
    assert runner.plan_chapter(COUNTS, "smoke", {}).components == cpu
    assert cpu["requirements"] == cache.file_digest(PROJECT / "requirements.txt")  # never requirements-gpu.txt
