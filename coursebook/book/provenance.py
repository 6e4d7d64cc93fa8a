"""Where a run came from: the git commit of the project (the runner passes it to the kernel)."""

from __future__ import annotations

import os
import subprocess

from coursebook.book import paths


def git_commit() -> str:
    """Short commit of the project, with '+uncommitted' when the tree has changes; 'uncommitted' outside git."""
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, check=True)  # noqa: E731
        commit = run("rev-parse", "--short", "HEAD").stdout.strip()
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return commit + ("+uncommitted" if dirty else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "uncommitted"


def repository() -> tuple[str, str] | None:
    """(clone URL, full commit) of the repository this project was built from: GitHub Actions' own
    (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY`` at ``GITHUB_SHA``), else the git remote ``origin`` at
    ``HEAD``; None when neither is known."""
    if os.environ.get("GITHUB_REPOSITORY") and os.environ.get("GITHUB_SHA"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{os.environ['GITHUB_REPOSITORY']}.git", os.environ["GITHUB_SHA"]
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, check=True)  # noqa: E731
        return run("remote", "get-url", "origin").stdout.strip(), run("rev-parse", "HEAD").stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
