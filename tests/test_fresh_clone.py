"""A new user's first commands in a fresh clone: ``make status`` before anything was built, ``make run``
of one chapter (the book is built with the chapters that exist, the others are said to be not built
yet, exit 0), ``make status`` again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coursebook.book.params import toc_chapter_ids
from tests.road import fresh_clone, make, origin_repository

CHEAP = "e4742-p1b-parameter-count"  # no training: seconds


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fresh")
    return fresh_clone(origin_repository(base / "origin"), base / "clone")


def status_lines(output: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"^  (\S+)\s+(up to date.*|will .*)$", output, re.M)}


def test_status_run_status_in_a_fresh_clone(clone):
    chapters = toc_chapter_ids(clone / "_toc.yml")
    before = make(clone, "status", "PROFILE=smoke", "DATA=synthetic", timeout=120)
    assert before.returncode == 0, before.stdout + before.stderr
    lines = status_lines(before.stdout)
    assert set(lines) == set(chapters), before.stdout
    assert all(line.startswith("will execute: no previous result") for line in lines.values()), before.stdout
    assert re.search(r"^  total\s+15 of 15 chapter\(s\) will execute, ~\d", before.stdout, re.M), before.stdout

    run = make(clone, "run", f"CHAPTER={CHEAP}", "PROFILE=smoke", "DATA=synthetic")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FAILED" not in run.stdout + run.stderr
    not_built = [c for c in chapters if c != CHEAP]
    assert f"not built yet: {', '.join(not_built)}" in run.stdout
    html = clone / "_build" / "html" / "book" / "chapters"
    page = (html / f"{CHEAP}.html").read_text(encoding="utf-8")
    assert "git commit" in page and "Not built yet" not in page  # the executed chapter, with its run card
    assert "Not built yet" in (html / f"{not_built[0]}.html").read_text(encoding="utf-8")
    assert not list((clone / "book" / "chapters").glob("*.md")), "placeholder pages must not stay behind"

    after = status_lines(make(clone, "status", "PROFILE=smoke", "DATA=synthetic", timeout=120).stdout)
    assert after[CHEAP] == "up to date"
    assert all(after[c].startswith("will execute") for c in not_built)
    again = make(clone, "status", f"CHAPTER={CHEAP}", "PROFILE=smoke", "DATA=synthetic", timeout=120).stdout
    assert list(status_lines(again)) == [CHEAP], again
    assert status_lines(again)[CHEAP].startswith("will execute: forced (make run always executes), ~"), again
    assert status_lines(again)[CHEAP].endswith(" last run"), again  # estimated from the run just made


def test_placeholders_are_removed_and_nothing_else(mini_project):
    from coursebook.book import cache, runner

    runner.write_placeholders(["alpha", "beta"])
    page = runner.placeholder_path("alpha")
    assert page.read_text().startswith(runner.PLACEHOLDER_MARK) and "make run CHAPTER=alpha" in page.read_text()
    mine = cache.output_path("alpha").with_name("notes.md")
    mine.write_text("# my notes\n")  # a file the user put there is never touched
    runner.remove_placeholders()
    assert not page.exists() and not runner.placeholder_path("beta").exists() and mine.exists()
