"""End to end: the smoke book (built once per session, see conftest.py) executed every chapter;
in a copy of it, rebuild without changes, then change one chapter's parameter and check only that
chapter re-executes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from coursebook.book.params import declarations, load_chapter, toc_chapter_ids
from tests.conftest import project_env, smoke_build


@pytest.fixture(scope="module")
def project(smoke_book, tmp_path_factory) -> Path:
    """A copy of the built smoke book, which these tests rebuild and change."""
    return smoke_book.copy(tmp_path_factory.mktemp("book") / "project")


def _env(project: Path) -> dict[str, str]:
    return project_env(project)


def build(project: Path, *args: str) -> str:
    """Run the book runner in the copy; return its output (fails the test on a non-zero exit)."""
    return smoke_build(project, *args)


def summary_status(output: str) -> dict[str, str]:
    """Chapter -> executed/reused/failed, read from the runner's summary lines."""
    summary = output.split("\nSummary\n", 1)[1]
    return {m[2]: m[1] for m in re.finditer(r"^\s+(executed|reused|failed)\s+(?:[\d.]+ s|-)\s+(\S+)", summary, re.M)}


def test_build_rebuild_and_change_one_chapter(smoke_book, project):
    chapters = toc_chapter_ids(project / "_toc.yml")
    assert chapters, "no chapter in _toc.yml"

    first = smoke_book.output  # the session's first build of a fresh copy
    assert summary_status(first) == dict.fromkeys(chapters, "executed")
    for chapter in chapters:
        page = (project / "_build" / "html" / "book" / "chapters" / f"{chapter}.html").read_text()
        assert "Traceback" not in page and "output error" not in page and "stderr" not in page, chapter
        assert "wall time" in page and "smoke" in page  # the run card
        assert "&lt;coursebook" not in page and "np.float64" not in page  # no raw reprs in prose
        if "data" in declarations(load_chapter(chapter).notebook):  # trained on the synthetic stand-in
            assert "NOT CIFAR-10 results" in page and "synthetic stand-in, not CIFAR-10" in page, chapter

    second = build(project)
    assert summary_status(second) == dict.fromkeys(chapters, "reused")
    assert "inputs unchanged" in second

    # the chapter that executed fastest (a change re-executes it alone; which one does not matter)
    changed = min(
        chapters, key=lambda c: json.loads((project / "book" / "chapters" / f"{c}.run.json").read_text())["seconds"]
    )
    params_file = project / "params" / f"{changed}.yaml"
    params_file.write_text(params_file.read_text().replace("seed: 0", "seed: 1"))
    third = build(project)
    assert summary_status(third) == {c: ("executed" if c == changed else "reused") for c in chapters}
    assert re.search(rf"{changed}  \(changed: parameters[;)]", third)  # a chapter that trains adds its runs


def test_make_run_reexecutes_one_chapter_with_overrides(project):
    chapters = toc_chapter_ids(project / "_toc.yml")
    build(project)  # everything up to date first
    target = "e4742-p1b-parameter-count"
    others = {c: (project / "book" / "chapters" / f"{c}.ipynb").read_bytes() for c in chapters if c != target}
    run = subprocess.run(
        ["make", "run", f"CHAPTER={target}", "PARAMS=num_classes=7", "PROFILE=smoke", "DATA=synthetic"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert summary_status(run.stdout) == {target: "executed"}
    page = (project / "_build" / "html" / "book" / "chapters" / f"{target}.html").read_text()
    assert "override" in page and "(7,)" in page  # the run card marks it; the table shows 7 outputs
    for chapter, before in others.items():  # nothing else was re-executed or rewritten
        assert (project / "book" / "chapters" / f"{chapter}.ipynb").read_bytes() == before, chapter


def test_make_run_rejects_bad_input_before_executing(project):
    for params, expected in [
        ("PARAMS=num_classes=many", "key 'num_classes'"),
        ("PARAMS=colour=red", "key 'colour' is not allowed"),
    ]:
        run = subprocess.run(
            ["make", "run", "CHAPTER=e4742-p1b-parameter-count", params],
            cwd=project,
            env=_env(project),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode != 0 and expected in run.stderr and "executing" not in run.stdout
    run = subprocess.run(
        ["make", "run", "CHAPTER=no-such-chapter"],
        cwd=project,
        env=_env(project),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "unknown chapter 'no-such-chapter'" in run.stderr


def test_a_run_two_chapters_share_is_trained_once_and_read_by_the_other(smoke_book):
    """a12-f and a12-h compare with a12-e's baseline: each of its runs was trained by one chapter of
    the build (whichever got it first) and read, with the same numbers, by the others."""
    from coursebook.course.results import Results

    chapters = ("a12-e-baseline", "a12-f-augmentation", "a12-h-batch-norm")
    arms = {
        c: Results.load(smoke_book.root / "book" / "chapters" / f"{c}.results.json").arm("E: baseline")
        for c in chapters
    }
    for index, run in enumerate(arms["a12-e-baseline"].runs):
        runs = {c: arm.runs[index] for c, arm in arms.items()}
        trained = [c for c, r in runs.items() if not r.read_from]
        assert len(trained) == 1, runs
        assert {r.read_from for r in runs.values()} == {"", trained[0]}
        assert all(r.history == run.history and r.validation == run.validation for r in runs.values())
    assert arms["a12-f-augmentation"].source_chapter == "a12-e-baseline"
    summary = smoke_book.output.split("\nSummary\n", 1)[1]
    reads = re.findall(r"(\S+)  \(.*; (\d+) runs? trained, (\d+) read from the run store\)", summary)
    assert sum(int(read) for chapter, _, read in reads if chapter in chapters) == 2 * len(arms["a12-e-baseline"].runs)


def test_a_chapter_interrupted_after_its_first_run_trains_only_the_rest_when_built_again(project):
    """Ctrl-C while a chapter trains its second run: the first run stays in the run store, and the
    next build of the chapter reads it and trains only the other."""
    import os
    import signal
    import sys
    import time

    store = project / ".cache" / "runs"
    before = set(store.glob("*.json"))
    command = [
        sys.executable,
        "-m",
        "coursebook",
        "build",
        "--no-html",
        "--profile",
        "smoke",
        "--data",
        "synthetic",
        "--chapter",
        "e4742-p1a-extra-conv-layer",
        "--set",
        "seed=7",
        "repeats=1",
    ]
    proc = subprocess.Popen(
        command,
        cwd=project,
        env=_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 600
    while len(set(store.glob("*.json")) - before) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # the first of its two runs is stored; the second is training
    proc.communicate(timeout=120)
    assert proc.returncode == 130 and len(set(store.glob("*.json")) - before) == 1
    again = subprocess.run(command, cwd=project, env=_env(project), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert re.search(r"e4742-p1a-extra-conv-layer  \(.*; 1 run trained, 1 read from the run store\)", again.stdout), (
        again.stdout
    )
