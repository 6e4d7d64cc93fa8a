"""Helpers of the new-user tests (test_fresh_clone.py, test_freeze.py, ...): a git repository made
from this working tree (so uncommitted work is tested too) and fresh clones of it, sharing this
virtualenv; ``make`` run in them with an environment that says nothing about the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT, _sources_only

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_IDENTITY}, timeout=120
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def origin_repository(directory: Path) -> Path:
    """A repository whose one commit is this working tree's sources (what a push would hold)."""
    shutil.copytree(PROJECT, directory, ignore=_sources_only)
    git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", "sources")
    return directory


def fresh_clone(origin: Path, directory: Path) -> Path:
    """``git clone`` of ``origin``, with this virtualenv as its ``.venv`` (make finds it installed)."""
    git(origin.parent, "clone", "-q", str(origin), str(directory))
    (directory / ".venv").symlink_to(Path(sys.prefix))
    for stamp in Path(sys.prefix).glob(".requirements-*"):  # installed: make must not reinstall (nor point
        stamp.touch()  # this virtualenv's editable install at the clone)
    return directory


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no COURSEBOOK_*, KERAS_BACKEND or TF_* variable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "KERAS_BACKEND", "VIRTUAL_ENV") and not k.startswith(("COURSEBOOK_", "TF_"))
    }
    return env | extra


def make(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
