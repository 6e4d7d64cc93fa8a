"""`make publish` pushes the built HTML to a gh-pages branch (here: of a local bare repository)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from coursebook.book import paths


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_make_publish_pushes_the_html_to_gh_pages(tmp_path):
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "--bare", "-q", str(remote))
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(paths.ROOT / "Makefile", project)
    shutil.copy(paths.REQUIREMENTS_FILE, project)
    (project / ".venv").symlink_to(Path(sys.prefix))
    _git(project, "init", "-q", "-b", "main")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "--allow-empty", "-m", "start")
    _git(project, "remote", "add", "origin", str(remote))

    refused = subprocess.run(["make", "publish"], cwd=project, capture_output=True, text=True)
    assert refused.returncode != 0 and "build the book first" in refused.stdout

    html = project / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<h1>coursebook</h1>")
    published = subprocess.run(["make", "publish"], cwd=project, capture_output=True, text=True,
                               env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                                    "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert published.returncode == 0, published.stdout + published.stderr
    assert _git(remote, "show", "gh-pages:index.html") == "<h1>coursebook</h1>"
    assert ".nojekyll" in _git(remote, "ls-tree", "--name-only", "gh-pages")
