"""The Answer section of every built page, read as a grader reads it: the direct answer first (an
``answer-summary`` block), no templated sentence more than twice, no sentence starting in lower
case, under 600 words. Needs the smoke book (built once per session by tests/conftest.py)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from coursebook.book.params import toc_chapter_ids
from tests import prose

MAX_WORDS = 600


def answer_section(html: str) -> tuple[str, bool]:
    """The text of a page's "Answer" section (sentences, tables left out) and whether it holds an
    ``answer-summary`` block."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for decoration in soup.select("h2 .section-number, h2 .headerlink"):
        decoration.decompose()
    heading = next((h for h in soup.find_all("h2") if h.get_text(" ", strip=True) == "Answer"), None)
    if heading is None:
        return "", False
    section = heading.find_parent("section") or heading.parent
    summary = section.find(class_="answer-summary") is not None
    for hidden in section.find_all(["table", "pre", "details", "summary"]):
        hidden.decompose()
    blocks = [p.get_text(" ", strip=True) for p in section.find_all(["p", "li"])]
    return "\n".join(blocks), summary


def problems(text: str, summary: bool) -> list[str]:
    found = []
    if not summary:
        found.append("no answer-summary block")
    sentences = prose.sentences(text)
    counts = collections.Counter(prose.template(s) for s in sentences)
    found += [f"said {n} times: {t!r}" for t, n in counts.items() if n > 2]
    found += [f"starts in lower case: {s!r}" for s in sentences if s[:1].islower()]
    words = len(text.split())
    if words >= MAX_WORDS:
        found.append(f"{words} words (limit {MAX_WORDS})")
    return found


def chapter_pages(root: Path) -> dict[str, Path]:
    html = root / "_build" / "html" / "book" / "chapters"
    return {chapter: html / f"{chapter}.html" for chapter in toc_chapter_ids(root / "_toc.yml")}


def test_the_checker_reads_a_page_as_a_grader_would():
    page = (
        '<section id="answer"><h2><span class="section-number">1.2. </span>Answer<a class="headerlink">#</a></h2>'
        '<div class="admonition answer-summary"><p>Validation accuracy was higher.</p></div>'
        "<p>original was lower. original was lower. original was lower.</p><table><tr><td>x</td></tr></table>"
        "</section>"
    )
    text, summary = answer_section(page)
    assert summary and "x" not in text.split()
    found = problems(text, summary)
    assert any("said 3 times" in p for p in found) and any("lower case" in p for p in found)


def explains(root: Path, chapter: str) -> bool:
    """Whether the chapter declares a question that asks to explain."""
    from coursebook.yamlfile import safe_load

    values = (safe_load((root / "params" / f"{chapter}.yaml").read_text(encoding="utf-8")) or {}).get("parameters", {})
    return any(q.get("explain") for q in values.get("questions") or [])


@pytest.mark.slow  # builds the smoke book, like every test that reads it (conftest.BOOK_FIXTURES)
def test_every_built_answer_section_reads_as_a_graders_answer(smoke_book):
    found = {}
    for chapter, page in chapter_pages(smoke_book.root).items():
        text, summary = answer_section(page.read_text(encoding="utf-8"))
        issues = problems(text, summary)
        if explains(smoke_book.root, chapter) and "Why." not in text:
            issues.append("a question asks to explain, and the page has no explanation")
        if issues:
            found[chapter] = issues
    assert not found, found
