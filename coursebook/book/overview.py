"""The landing page's results overview, built from every chapter's results file.

``write()`` (called by the runner before each HTML build) reads ``book/chapters/<id>.results.json`` of
every chapter in ``_toc.yml`` that has one and writes ``book/_generated/overview.md``, which
``book/index.md`` includes: one table per part, the chapter linked on its first row, beside it what
its numbers were computed on (runs, data, profile). The rows themselves come from the course
(``hooks.Course.overview``), which knows what a results file holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coursebook import atomic
from coursebook.book import cache, paths
from coursebook.book.hooks import Overview, course
from coursebook.book.params import CHAPTER_PREFIX, load_yaml

GENERATED = Path("_generated") / "overview.md"  # under book/, included by book/index.md
SMALL_PROFILES = ("smoke", "quick")
CSS_CLASS = "results-overview"  # _static/coursebook.css sets its tables in a smaller type, to fit the column
NO_RESULTS = "No chapter has results yet: `make book` computes them."


def write(target: Path | None = None) -> Path:
    """Write the overview Markdown (atomically) and return its path."""
    target = target or paths.BOOK_DIR / GENERATED
    atomic.atomic_write_text(target, overview_markdown(toc_parts()))
    return target


def toc_parts(toc_file: Path | None = None) -> list[tuple[str, list[str]]]:
    """(part caption, chapter ids in order) for every part of ``_toc.yml``."""
    toc = load_yaml(toc_file or paths.TOC_FILE) or {}
    return [(str(part.get("caption", "")), _chapter_files(part.get("chapters") or []))
            for part in toc.get("parts") or []]


def _chapter_files(node: Any) -> list[str]:
    if isinstance(node, list):
        return [chapter for item in node for chapter in _chapter_files(item)]
    if not isinstance(node, dict):
        return []
    entry = node.get("file")
    own = [entry.removeprefix(CHAPTER_PREFIX)] if isinstance(entry, str) and entry.startswith(CHAPTER_PREFIX) else []
    return own + _chapter_files(node.get("sections") or [])  # jb-book: parts > chapters > sections


def overview_markdown(parts: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The overview: an introduction, then one table per part that has results."""
    sections, flags = [], []
    for caption, chapter_ids in parts:
        rows = []
        for chapter_id in chapter_ids:
            if cache.results_path(chapter_id).exists() and cache.output_path(chapter_id).exists():
                summary, problem = read_results(chapter_id)
                rows += chapter_rows(chapter_id, summary, problem)
                flags.append(summary is not None and _reduced(summary))
        if rows:
            sections.append(f"### {_escape(caption)}\n\n:::{{div}} {CSS_CLASS}\n{_table(rows)}\n:::")
    if not sections:
        return f"## Results overview\n\n{NO_RESULTS}\n"
    return "## Results overview\n\n" + _introduction(flags) + "\n\n" + "\n\n".join(sections) + "\n"


def _introduction(flags: list[Any]) -> str:
    marked = sum(1 for flag in flags if flag)
    text = course().overview_introduction
    if marked:
        text += (f" **{marked} of {len(flags)} chapters were computed with a reduced profile or on the synthetic "
                 "stand-in** (marked in bold beside the chapter): their numbers check the pipeline and show the "
                 "effects' direction, they are not the assignments' CIFAR-10 results.")
    return text


def read_results(chapter_id: str) -> tuple[Overview | None, str]:
    """(the course's overview of the results file, '') or (None, why the file cannot be read)."""
    path = cache.results_path(chapter_id)
    try:
        return course().overview(path), ""
    except (OSError, ValueError) as err:
        return None, f"{path.relative_to(paths.ROOT)} cannot be read ({' '.join(str(err).split())[:120]})"


def chapter_rows(chapter_id: str, summary: Overview | None, problem: str = "") -> list[list[str]]:
    """Table rows of one chapter: one per arm, the chapter link on the first."""
    link = _link(chapter_id)
    if summary is None:
        return [[link, problem, *[""] * (len(course().overview_columns) - 1)]]
    profile = f"**{summary.profile}**" if summary.profile in SMALL_PROFILES else _escape(summary.profile)
    first = f"{link} ({summary.runs}; {summary.data}, {profile})"
    return [[first if index == 0 else "", *cells] for index, cells in enumerate(summary.rows)]


def _reduced(summary: Overview) -> bool:
    return summary.stand_in or summary.profile in SMALL_PROFILES


def _link(chapter_id: str) -> str:
    title = _chapter_title(chapter_id)
    return f"{{doc}}`{_escape(title, role=True)} </{CHAPTER_PREFIX}{chapter_id}>`"


def _chapter_title(chapter_id: str) -> str:
    try:
        return str(load_yaml(paths.PARAMS_DIR / f"{chapter_id}.yaml")["title"])
    except Exception:  # noqa: BLE001 - a title is a nicety: the id is a fine link text
        return chapter_id


def _escape(text: str, role: bool = False) -> str:
    """Text safe inside a Markdown table cell (and, with ``role``, inside a role's link text)."""
    text = " ".join(text.split()).replace("|", "\\|")
    if role:
        return text.replace("`", "'").replace("<", "‹").replace(">", "›")
    for char in "\\*_`[]<>":
        text = text.replace(char, "\\" + char) if char != "\\" else text
    return text


def _table(rows: list[list[str]]) -> str:
    columns = ["chapter", *course().overview_columns]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join(["---"] * 2 + ["--:"] * (len(columns) - 2)) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in rows)])
