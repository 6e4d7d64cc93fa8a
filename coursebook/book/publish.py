"""``make publish``: push the built book (``_build/html``) to the ``gh-pages`` branch of a remote.

    python -m coursebook publish [--remote origin] [--force]
    python -m coursebook publish --notebooks [--remote origin]

It refuses, with one line per reason, a book that should not be read by anyone: a chapter whose
last run failed, chapters computed with the smoke profile, HTML older than its executed chapters
(``--force``/``FORCE=1`` publishes anyway). The commit is made with ghp-import, which writes the
branch with ``git fast-import``: the working tree, the index and HEAD are never touched. If the push
fails, the local ``gh-pages`` branch is put back where it was.

Each chapter page links its runnable notebook in Colab (:func:`colab_url`), which opens files of
GitHub repositories only: at ``notebooks/<id>.ipynb`` of the ``gh-pages`` branch, where ``make publish``
puts it with the rest of the book. A book deployed by the Pages workflow (an artifact, no branch)
pushes those notebooks alone to ``gh-pages`` with ``--notebooks``, which refuses nothing: the workflow
deploys what it built.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from coursebook.book import cache, paths
from coursebook.book.params import toc_chapter_ids
from coursebook.book.provenance import git_commit

BRANCH = "gh-pages"
NOTEBOOKS_DIR_NAME = "notebooks"  # under the HTML output: the runnable notebook of each chapter, <id>.ipynb
COLAB = "https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/{path}"
GITHUB_REMOTE = re.compile(
    r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"
)


class PublishError(Exception):
    """A reason not to publish, or a failed push: one line for the user."""


def html_dir() -> Path:
    return paths.BUILD_DIR / "html"


def refusals() -> list[str]:
    """Why this book must not be published (empty: it may be)."""
    reasons = []
    chapters = toc_chapter_ids()
    failed = [c for c in chapters if cache.failed_path(c).exists()]
    if failed:
        reasons.append(
            f"chapter(s) failed: {', '.join(failed)} (see book/chapters/<id>.failed.ipynb; fix and run make book)"
        )
    smoke = [c for c in chapters if (cache.read_record(c) or {}).get("profile") == "smoke"]
    if smoke:
        reasons.append(
            f"built with PROFILE=smoke: {', '.join(smoke)} (a pipeline check, not a book: make book PROFILE=quick or "
            "full)"
        )
    missing = [c for c in chapters if not cache.output_path(c).exists()]
    if missing:
        reasons.append(f"never executed: {', '.join(missing)} (run make book)")
    stale = [c for c in chapters if c not in missing and _page_older_than_chapter(c)]
    if stale:
        reasons.append(f"the HTML is older than the executed chapter(s) {', '.join(stale)} (run make book)")
    return reasons


def _page_older_than_chapter(chapter_id: str) -> bool:
    page = html_dir() / "book" / "chapters" / f"{chapter_id}.html"
    return not page.exists() or page.stat().st_mtime < cache.output_path(chapter_id).stat().st_mtime


def github_repository(remote_url: str) -> tuple[str, str] | None:
    """(owner, repository) of a GitHub remote (ssh or https form); None for other hosts."""
    match = GITHUB_REMOTE.match(remote_url.strip())
    return (match["owner"], match["repo"]) if match else None


def site_url(remote_url: str) -> str | None:
    """The GitHub Pages address of a GitHub remote (ssh or https form); None for other hosts."""
    found = github_repository(remote_url)
    if found is None:
        return None
    owner, repo = found
    if repo.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{repo}/"


def colab_url(remote_url: str, chapter_id: str) -> str | None:
    """Where Colab opens a chapter's runnable notebook as published on the ``gh-pages`` branch of a
    GitHub remote; None for other hosts (Colab opens no other)."""
    found = github_repository(remote_url)
    if found is None:
        return None
    owner, repo = found
    return COLAB.format(owner=owner, repo=repo, branch=BRANCH, path=f"{NOTEBOOKS_DIR_NAME}/{chapter_id}.ipynb")


def _git(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=timeout)


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1].removeprefix("fatal: ").removeprefix("error: ") if lines else f"exit status {result.returncode}"


def remote_url(remote: str) -> str:
    """The remote's URL, after checking that it answers."""
    found = _git("remote", "get-url", remote)
    if found.returncode != 0:
        raise PublishError(f"no git remote '{remote}' (add one: git remote add {remote} <url>, or set REMOTE=<name>)")
    url = found.stdout.strip()
    try:
        reachable = _git("ls-remote", "--heads", remote, timeout=60)
    except subprocess.TimeoutExpired:
        raise PublishError(f"remote '{remote}' ({url}) did not answer within 60 s") from None
    if reachable.returncode != 0:
        raise PublishError(f"cannot reach remote '{remote}' ({url}): {_last_line(reachable)}")
    return url


def push(remote: str, notebooks_only: bool = False) -> None:
    """Commit _build/html (or its runnable notebooks alone, under ``notebooks/``) to the local gh-pages
    branch and push it; on failure, put the branch back."""
    import ghp_import

    before = _git("rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}").stdout.strip()
    if notebooks_only:
        source, prefix, message = html_dir() / NOTEBOOKS_DIR_NAME, NOTEBOOKS_DIR_NAME, "Publish the runnable notebooks"
    else:
        source, prefix, message = html_dir(), None, "Publish the book"
    message += f" built from {git_commit()}"
    try:
        ghp_import.ghp_import(
            str(source), mesg=message, remote=remote, branch=BRANCH, nojekyll=prefix is None, push=False, prefix=prefix
        )
        pushed = _git("push", "--force", remote, f"refs/heads/{BRANCH}:refs/heads/{BRANCH}", timeout=600)
        if pushed.returncode != 0:
            raise PublishError(f"push to '{remote}' failed: {_last_line(pushed)}")
    except ghp_import.GhpError as err:
        _restore_branch(before)
        raise PublishError(f"could not commit _build/html: {err.message}") from None
    except PublishError:
        _restore_branch(before)
        raise


def _restore_branch(before: str) -> None:
    if before:
        _git("update-ref", f"refs/heads/{BRANCH}", before)
    else:
        _git("update-ref", "-d", f"refs/heads/{BRANCH}")


def publish(remote: str = "origin", force: bool = False, log=print) -> None:
    if not (html_dir() / "index.html").exists():
        raise PublishError("no built book in _build/html: build it first (make book)")
    reasons = refusals()
    if reasons and not force:
        raise PublishError("refused: " + "; ".join(reasons) + "; FORCE=1 publishes anyway")
    for reason in reasons:
        log(f"publishing anyway (FORCE=1): {reason}")
    url = remote_url(remote)
    push(remote)
    site = site_url(url)
    log(f"published _build/html to {remote} ({url}), branch {BRANCH}")
    log(f"the site: {site}" if site else f"the site: served from branch {BRANCH} of {url} (not a GitHub remote)")


def publish_notebooks(remote: str = "origin", log=print) -> None:
    """Push the book's runnable notebooks alone to gh-pages, where its Colab links open them."""
    notebooks = html_dir() / NOTEBOOKS_DIR_NAME
    if not any(notebooks.glob("*.ipynb")):
        raise PublishError(f"no runnable notebooks in {notebooks}: build the book first (make book)")
    url = remote_url(remote)
    push(remote, notebooks_only=True)
    log(
        f"published {len(list(notebooks.glob('*.ipynb')))} runnable notebook(s) to {remote} ({url}), branch {BRANCH}, "
        f"folder {NOTEBOOKS_DIR_NAME}/"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursebook publish", description=__doc__.splitlines()[0])
    parser.add_argument("--remote", default="origin", help="git remote to push gh-pages to")
    parser.add_argument("--force", action="store_true", help="publish despite the refusals")
    parser.add_argument(
        "--notebooks",
        action="store_true",
        help="push only the runnable notebooks (notebooks/), which the Colab links open",
    )
    args = parser.parse_args(argv)
    try:
        publish_notebooks(args.remote) if args.notebooks else publish(args.remote, args.force)
    except PublishError as err:
        print(f"make publish: {err}", file=sys.stderr)
        return 1
    return 0
