"""A session that ends keeps what it finished: ``python -m coursebook keep`` saves each chapter (and
the run store) to a folder while the build runs, and a fresh session (the same sources, no executed
chapter, no run store) restores it and computes only the rest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from coursebook.book import cache, keep, runner
from tests.conftest import PROJECT

RUN = "ab" * 32 + ".json"  # a run store entry: the store keeps one file per run


@pytest.fixture(autouse=True)
def project_store(monkeypatch):
    """The run store where a session has it, in the project (``.cache/runs``), not the tests' own."""
    monkeypatch.delenv("COURSEBOOK_RUNS", raising=False)


def _reasons() -> dict[str, str]:
    """Why each chapter would execute ('' when it is reused)."""
    return {p.chapter_id: (p.changed and runner.describe_reason(p.changed)) or "" for p in runner.plan_book("quick")}


def _session_one(project):
    """A build cut off after its first chapter, with one finished run in the store."""
    assert runner.execute(runner.plan_chapter("alpha", "quick", None)).status == "executed"
    store = project / ".cache" / "runs"
    store.mkdir(parents=True)
    (store / RUN).write_text('{"run": 1}\n')
    (store / "locks").mkdir()
    (store / "locks" / "x.lock").write_text("")


def _fresh_session(project):
    """What a new session has before it restores: the sources, nothing executed, no run store."""
    for path in [*sorted((project / "book" / "chapters").iterdir()), project / ".cache" / "runs" / RUN]:
        path.unlink()


def test_a_fresh_session_restores_what_finished_and_computes_only_the_rest(mini_project, tmp_path):
    _session_one(mini_project)
    saved = tmp_path / "drive"
    copied = keep.save(saved)
    assert [str(p) for p in copied] == [
        "book/chapters/alpha.ipynb",
        "book/chapters/alpha.run.json",
        f".cache/runs/{RUN}",
    ]  # the record after the notebook; no lock
    assert keep.save(saved) == []  # nothing changed since: nothing copied again

    _fresh_session(mini_project)
    assert _reasons() == {"alpha": "no previous result", "beta": "no previous result"}
    restored = keep.restore(saved)
    assert sorted(map(str, restored)) == sorted(map(str, copied))
    assert _reasons() == {"alpha": "", "beta": "no previous result"}  # only beta is computed
    assert (mini_project / ".cache" / "runs" / RUN).read_text() == '{"run": 1}\n'


def test_a_chapter_whose_record_was_not_saved_executes_again(mini_project, tmp_path):
    _session_one(mini_project)
    saved = tmp_path / "drive"
    keep.save(saved)
    (saved / "book" / "chapters" / "alpha.run.json").unlink()  # the session ended between the two copies
    _fresh_session(mini_project)
    keep.restore(saved)
    assert _reasons()["alpha"] == "no previous result"


def test_save_runs_the_build_and_saves_each_chapter_as_it_finishes(mini_project, tmp_path):
    """The command executes alpha, then waits (up to 60 s) until alpha's record is in the saved
    folder before it ends: it ends 0 only if the save came while it was still running."""
    saved = tmp_path / "drive"
    build = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from coursebook.book import runner
        assert runner.execute(runner.plan_chapter("alpha", "quick", None)).status == "executed"
        record = Path({str(saved / "book" / "chapters" / "alpha.run.json")!r})
        deadline = time.time() + 60
        while not record.exists() and time.time() < deadline:
            time.sleep(0.1)
        sys.exit(0 if record.exists() else 3)
    """)
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "COURSEBOOK_ROOT": str(mini_project)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coursebook",
            "keep",
            "save",
            str(saved),
            "--every",
            "0.2",
            "--",
            sys.executable,
            "-c",
            build,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"coursebook keep: saved chapter(s) alpha to {saved}" in result.stdout
    assert (saved / "book" / "chapters" / "alpha.ipynb").read_bytes() == cache.output_path("alpha").read_bytes()


def test_save_exits_with_the_commands_status(mini_project, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "COURSEBOOK_ROOT": str(mini_project)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coursebook",
            "keep",
            "save",
            str(tmp_path / "d"),
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(7)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 7
