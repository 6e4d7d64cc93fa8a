"""Where a run came from: the git commit of the project (the runner passes it to the kernel)."""

from __future__ import annotations

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
