"""Each executed chapter's page opens its runnable notebook in Colab, from the gh-pages branch of the
GitHub repository the book was built from; a book built from no GitHub repository has no such link."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
from docutils import nodes
from docutils.core import publish_doctree

from coursebook.book import paths, provenance, sphinx_pages
from coursebook.book.publish import colab_url


@pytest.mark.parametrize(
    "remote, expected",
    [
        (
            "https://github.com/Ada/coursework.git",
            "https://colab.research.google.com/github/Ada/coursework/blob/gh-pages/notebooks/alpha.ipynb",
        ),
        (
            "git@github.com:Ada/coursework.git",
            "https://colab.research.google.com/github/Ada/coursework/blob/gh-pages/notebooks/alpha.ipynb",
        ),
        (
            "https://token@github.com/Ada/course.work",
            "https://colab.research.google.com/github/Ada/course.work/blob/gh-pages/notebooks/alpha.ipynb",
        ),
        ("https://gitlab.com/Ada/coursework.git", None),
        ("/srv/git/coursework.git", None),
    ],
)
def test_colab_url_of_a_remote(remote, expected):
    assert colab_url(remote, "alpha") == expected


def _runnable_line(docname: str, suffix: str = ".ipynb") -> nodes.paragraph | None:
    app = SimpleNamespace(
        builder=SimpleNamespace(format="html"), env=SimpleNamespace(doc2path=lambda d: f"{d}{suffix}")
    )
    doctree = publish_doctree("A chapter\n=========\n\nIts text.\n", settings_overrides={"doctitle_xform": False})
    sphinx_pages._link_runnable_notebook(app, doctree, docname)
    return next(
        iter(doctree.findall(lambda n: isinstance(n, nodes.paragraph) and "runnable-notebook" in n["classes"])), None
    )


def _colab_links(line: nodes.paragraph) -> list[str]:
    return [ref["refuri"] for ref in line.findall(nodes.reference) if sphinx_pages.COLAB_CLASS in ref["classes"]]


def test_a_chapter_built_in_github_actions_opens_in_colab(monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/coursebook")
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    line = _runnable_line("book/chapters/alpha")
    assert _colab_links(line) == [
        "https://colab.research.google.com/github/someone/coursebook/blob/gh-pages/notebooks/alpha.ipynb"
    ]
    assert line.astext().startswith("Run this chapter yourself: alpha.ipynb (open it in Colab) has this page's")
    assert next(ref["refuri"] for ref in line.findall(nodes.reference)) == "../../notebooks/alpha.ipynb"


def test_a_chapter_built_from_a_clone_of_github_opens_in_colab(tmp_path, monkeypatch):
    for name in ("GITHUB_REPOSITORY", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:Ada/coursework.git"], check=True
    )
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "start",
        ],
        check=True,
    )
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    assert _colab_links(_runnable_line("book/chapters/beta")) == [
        "https://colab.research.google.com/github/Ada/coursework/blob/gh-pages/notebooks/beta.ipynb"
    ]


def test_no_colab_link_without_a_github_repository(monkeypatch):
    monkeypatch.setattr(provenance, "repository", lambda: ("/srv/git/coursework.git", "a" * 40))
    line = _runnable_line("book/chapters/alpha")
    assert _colab_links(line) == [] and "Colab" not in line.astext().split(" has this page's")[0]
    monkeypatch.setattr(provenance, "repository", lambda: None)
    line = _runnable_line("book/chapters/alpha")
    assert _colab_links(line) == [] and line.astext().startswith(
        "Run this chapter yourself: alpha.ipynb has this page's"
    )


def test_only_executed_chapters_have_the_line():
    assert _runnable_line("book/chapters/alpha", ".md") is None and _runnable_line("book/intro") is None
