"""A chapter whose last run failed says so atop its page: the executed page (its last good result)
and the placeholder of a chapter never built alike; other pages say nothing."""

from __future__ import annotations

from types import SimpleNamespace

from docutils import nodes
from docutils.core import publish_doctree

from coursebook.book import paths, sphinx_pages


def _page(docname: str, suffix: str, tmp_path, monkeypatch, failed: bool):
    monkeypatch.setattr(paths, "CHAPTERS_DIR", tmp_path / "chapters")
    (tmp_path / "chapters").mkdir(exist_ok=True)
    chapter = docname.rsplit("/", 1)[-1]
    if failed:
        (tmp_path / "chapters" / f"{chapter}.failed.ipynb").write_text("{}")
    app = SimpleNamespace(
        builder=SimpleNamespace(format="html"), env=SimpleNamespace(doc2path=lambda d: f"{d}{suffix}")
    )
    doctree = publish_doctree(
        "A chapter\n=========\n\nIts text.\n", settings_overrides={"doctitle_xform": False}
    )  # as Sphinx
    sphinx_pages._mark_failed(app, doctree, docname)
    return doctree


def _first_after_title(doctree) -> nodes.Node:
    section = next(iter(doctree.findall(nodes.section)), doctree)
    title = next(iter(section.findall(nodes.title)))
    return section[section.index(title) + 1]


def test_a_failed_executed_chapter_shows_its_last_good_result_under_a_warning(tmp_path, monkeypatch):
    doctree = _page("book/chapters/alpha", ".ipynb", tmp_path, monkeypatch, failed=True)
    box = _first_after_title(doctree)
    assert isinstance(box, nodes.warning) and "chapter-failed" in box["classes"]
    text = box.astext()
    assert text.startswith("The last run of this chapter failed. This page shows its last good result")
    assert "book/chapters/alpha.failed.ipynb" in text and "make run CHAPTER=alpha" in text
    assert _first_after_title(doctree) is box and len(list(doctree.findall(nodes.warning))) == 1


def test_a_failed_chapter_never_built_says_it_has_no_result(tmp_path, monkeypatch):
    doctree = _page("book/chapters/beta", ".md", tmp_path, monkeypatch, failed=True)
    text = _first_after_title(doctree).astext()
    assert "It has no good result yet." in text and "last good result" not in text


def test_pages_of_chapters_that_did_not_fail_are_unmarked(tmp_path, monkeypatch):
    for docname, failed in (("book/chapters/alpha", False), ("book/intro", True)):
        doctree = _page(docname, ".ipynb", tmp_path, monkeypatch, failed=failed)
        assert list(doctree.findall(nodes.warning)) == []
        assert isinstance(_first_after_title(doctree), nodes.paragraph)
