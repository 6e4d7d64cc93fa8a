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
from coursebook.markdown import escape, link_text
from coursebook.book import cache, paths
from coursebook.book.hooks import Overview, course
from coursebook.book.params import CHAPTER_PREFIX, TocPart, load_yaml, toc_parts

GENERATED = Path("_generated") / "overview.md"  # under book/, included by book/index.md
SMALL_PROFILES = ("smoke", "quick")
CSS_CLASS = "results-overview"  # _static/coursebook.css sets its tables in a smaller type, to fit the column
NO_RESULTS = "No chapter has results yet: `make book` computes them."


def write(target: Path | None = None) -> Path:
    """Write the overview Markdown (atomically) and return its path."""
    target = target or paths.BOOK_DIR / GENERATED
    atomic.atomic_write_text(target, overview_markdown(toc_parts()))
    return target


def overview_markdown(parts: Sequence[TocPart]) -> str:
    """The overview: an introduction, then one table per part that has results."""
    sections, flags = [], []
    for part in parts:
        rows = []
        for chapter_id in part.chapters:
            if cache.results_path(chapter_id).exists() and cache.output_path(chapter_id).exists():
                summary, problem = read_results(chapter_id)
                rows += chapter_rows(chapter_id, summary, problem)
                flags.append(summary is not None and _reduced(summary))
        if rows:
            sections.append(f"### {escape(' '.join(part.caption.split()))}\n\n:::{{div}} {CSS_CLASS}\n{_table(rows)}\n:::")
    if not sections:
        return f"## Results overview\n\n{NO_RESULTS}\n"
    return "## Results overview\n\n" + _introduction(flags) + "\n\n" + "\n\n".join(sections) + "\n"


def _introduction(flags: list[Any]) -> str:
    marked = sum(1 for flag in flags if flag)
    text = course().overview_introduction
    if marked:
        text += (f" **{marked} of {len(flags)} chapters were computed with a reduced profile or on the synthetic "
                 "stand-in** (marked in bold beside the chapter): their numbers check the pipeline and show the "
                 "effects' direction, they are not the assignments' results on the full real data.")
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
    profile = f"**{summary.profile}**" if summary.profile in SMALL_PROFILES else escape(summary.profile)
    first = f"{link} ({summary.runs}; {summary.data}, {profile})"
    return [[first if index == 0 else "", *cells] for index, cells in enumerate(summary.rows)]


def _reduced(summary: Overview) -> bool:
    return summary.stand_in or summary.profile in SMALL_PROFILES


def _link(chapter_id: str) -> str:
    title = _chapter_title(chapter_id)
    return f"{{doc}}`{link_text(title)} </{CHAPTER_PREFIX}{chapter_id}>`"


def _chapter_title(chapter_id: str) -> str:
    try:
        return str(load_yaml(paths.PARAMS_DIR / f"{chapter_id}.yaml")["title"])
    except Exception:  # noqa: BLE001 - a title is a nicety: the id is a fine link text
        return chapter_id


def _table(rows: list[list[str]]) -> str:
    columns = ["chapter", *course().overview_columns]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join(["---"] * 2 + ["--:"] * (len(columns) - 2)) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in rows)])
