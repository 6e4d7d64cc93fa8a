"""`make publish` against local bare repositories: what it refuses, what it pushes, what it never
touches (the source branch's HEAD, index and working tree), and its one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursebook.book import paths
from coursebook.book.publish import site_url

CHAPTERS = ("alpha", "beta")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


def _bare(path: Path) -> Path:
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    return path


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A git project with two chapters in its _toc.yml, an origin remote, a staged and an unstaged change."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no user git configuration
    project = tmp_path / "project"
    shutil.copytree(paths.PACKAGE_DIR, project / "coursebook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(paths.ROOT / "Makefile", project)
    for prerequisite in (paths.REQUIREMENTS_FILE, paths.ROOT / "pyproject.toml"):  # the .venv stamp's prerequisites,
        shutil.copy2(prerequisite, project)  # with their times kept: the shared .venv's stamp stays newer
    (project / ".venv").symlink_to(Path(sys.prefix))
    (project / ".gitignore").write_text("/.venv\n/_build/\nbook/chapters/\n__pycache__/\n")
    (project / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nchapters:\n" + "".join(f"  - file: book/chapters/{c}\n" for c in CHAPTERS)
    )
    (project / "notes.md").write_text("committed\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "start")
    _git(project, "remote", "add", "origin", str(_bare(tmp_path / "origin.git")))
    (project / "notes.md").write_text("changed, not staged\n")
    (project / "staged.md").write_text("staged\n")
    _git(project, "add", "staged.md")
    return project


def write_book(project: Path, profile: str = "quick") -> None:
    """Executed chapters with their run records, then the HTML built from them (newer)."""
    chapters = project / "book" / "chapters"
    chapters.mkdir(parents=True, exist_ok=True)
    html = project / "_build" / "html"
    (html / "book" / "chapters").mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text("<h1>coursebook</h1>")
    for chapter in CHAPTERS:
        (chapters / f"{chapter}.ipynb").write_text("{}")
        (chapters / f"{chapter}.run.json").write_text(json.dumps({"chapter": chapter, "profile": profile}))
        page = html / "book" / "chapters" / f"{chapter}.html"
        page.write_text(f"<h1>{chapter}</h1>")
        executed = (chapters / f"{chapter}.ipynb").stat().st_mtime
        os.utime(page, (executed + 10, executed + 10))


def publish(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "publish", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"]},
        timeout=300,
    )


def source_state(project: Path) -> tuple[str, ...]:
    """HEAD, index, working tree changes and the files under _build: what publishing must leave alone."""
    built = (
        sorted((str(p.relative_to(project)), p.read_bytes()) for p in (project / "_build").rglob("*") if p.is_file())
        if (project / "_build").exists()
        else []
    )
    return (
        _git(project, "rev-parse", "HEAD"),
        _git(project, "symbolic-ref", "HEAD"),
        _git(project, "diff", "--cached"),
        _git(project, "diff"),
        _git(project, "status", "--porcelain"),
        repr(built),
    )


def remote_branches(remote: Path) -> str:
    return _git(remote, "branch", "--list")


def local_pages_branch(project: Path) -> str:
    return _git(project, "branch", "--list", "gh-pages")


def refused(project: Path, result: subprocess.CompletedProcess, expected: str) -> None:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert result.returncode != 0 and len(lines) == 1 and expected in lines[0], result.stdout + result.stderr
    assert "Installing" not in result.stdout
    assert remote_branches(project.parent / "origin.git") == "" and local_pages_branch(project) == ""


def test_publishes_html_to_gh_pages_without_touching_the_source_branch(project):
    write_book(project)
    before = source_state(project)
    result = publish(project)
    assert result.returncode == 0, result.stdout + result.stderr
    remote = project.parent / "origin.git"
    assert _git(remote, "show", "gh-pages:index.html") == "<h1>coursebook</h1>"
    assert _git(remote, "show", "gh-pages:book/chapters/beta.html") == "<h1>beta</h1>"
    assert ".nojekyll" in _git(remote, "ls-tree", "--name-only", "gh-pages")
    assert "main" not in remote_branches(remote)  # only the pages branch was pushed
    assert source_state(project) == before
    assert f"({remote})" in result.stdout and "not a GitHub remote" in result.stdout

    (project / "_build" / "html" / "index.html").write_text("<h1>second</h1>")  # publishing again replaces it
    assert publish(project).returncode == 0
    assert _git(remote, "show", "gh-pages:index.html") == "<h1>second</h1>"


def test_the_runnable_notebooks_alone_go_to_gh_pages_for_colab(project):
    """What the Pages workflow pushes (it deploys the pages themselves as an artifact): the notebooks
    its Colab links open, under notebooks/, from a smoke book too (nothing is refused)."""
    write_book(project, profile="smoke")
    notebooks = project / "_build" / "html" / "notebooks"
    notebooks.mkdir()
    for chapter in CHAPTERS:
        (notebooks / f"{chapter}.ipynb").write_text(f'{{"chapter": "{chapter}"}}')
    before = source_state(project)
    result = subprocess.run(
        [sys.executable, "-m", "coursebook", "publish", "--notebooks"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "PYTHONPATH": str(project)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    remote = project.parent / "origin.git"
    assert _git(remote, "ls-tree", "-r", "--name-only", "gh-pages").split() == [
        "notebooks/alpha.ipynb",
        "notebooks/beta.ipynb",
    ]
    assert _git(remote, "show", "gh-pages:notebooks/beta.ipynb") == '{"chapter": "beta"}'
    assert source_state(project) == before
    assert "published 2 runnable notebook(s)" in result.stdout


def test_refuses_a_book_that_was_never_built(project):
    refused(project, publish(project), "build it first (make book)")


def test_refuses_a_smoke_book_unless_forced(project):
    write_book(project, profile="smoke")
    before = source_state(project)
    refused(project, publish(project), "built with PROFILE=smoke: alpha, beta")
    forced = publish(project, "FORCE=1")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "publishing anyway (FORCE=1)" in forced.stdout
    assert _git(project.parent / "origin.git", "show", "gh-pages:index.html") == "<h1>coursebook</h1>"
    assert source_state(project) == before


def test_refuses_a_book_with_a_failed_chapter(project):
    write_book(project)
    (project / "book" / "chapters" / "beta.failed.ipynb").write_text("{}")
    refused(project, publish(project), "chapter(s) failed: beta")


def test_refuses_html_older_than_an_executed_chapter(project):
    write_book(project)
    page = project / "_build" / "html" / "book" / "chapters" / "alpha.html"
    executed = (project / "book" / "chapters" / "alpha.ipynb").stat().st_mtime
    os.utime(page, (executed - 60, executed - 60))
    refused(project, publish(project), "the HTML is older than the executed chapter(s) alpha")


def test_no_such_remote(project):
    write_book(project)
    before = source_state(project)
    refused(project, publish(project, "REMOTE=upstream"), "no git remote 'upstream'")
    assert source_state(project) == before


def test_unreachable_remote(project):
    write_book(project)
    _git(project, "remote", "add", "gone", str(project.parent / "missing.git"))
    before = source_state(project)
    refused(project, publish(project, "REMOTE=gone"), "cannot reach remote 'gone'")
    assert source_state(project) == before


def test_rejected_push_leaves_everything_as_it_was(project):
    write_book(project)
    hook = project.parent / "origin.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = source_state(project)
    refused(project, publish(project), "push to 'origin' failed")
    assert source_state(project) == before


@pytest.mark.parametrize(
    "remote, expected",
    [
        ("git@github.com:Ada/coursework.git", "https://ada.github.io/coursework/"),
        ("https://github.com/Ada/coursework.git", "https://ada.github.io/coursework/"),
        ("https://github.com/Ada/coursework", "https://ada.github.io/coursework/"),
        ("ssh://git@github.com/Ada/coursework.git", "https://ada.github.io/coursework/"),
        ("https://token@github.com/Ada/coursework.git", "https://ada.github.io/coursework/"),
        ("git@github.com:Ada/ada.github.io.git", "https://ada.github.io/"),
        ("https://gitlab.com/Ada/coursework.git", None),
        ("/srv/git/coursework.git", None),
    ],
)
def test_site_url_of_a_remote(remote, expected):
    assert site_url(remote) == expected
