"""The landing page's results overview, and each part's "what this build ran", built from every
chapter's results file.

``write()`` (called by the runner before each HTML build) reads ``book/chapters/<id>.results.json`` of
every chapter in ``_toc.yml`` that has one and writes ``book/_generated/overview.md``, which
``book/index.md`` includes: first what the build was computed on (the data, the profiles and the
budgets as run, and whether chapters executed side by side while their run times were measured),
then one table per part, the chapter linked on its first row, beside it what its numbers were
computed on (runs, data, profile). It also writes ``book/_generated/<part>.md`` for each part's
introduction page (``book/<part>.md`` includes it): the same opening and table for that part alone,
so the introductions state no budget that the run did not use. The rows themselves come from the
course (``hooks.Pages.overview``), which knows what a results file holds.

Side by side: each chapter's run record (``<id>.run.json``) says when its execution finished and how
long it took; chapters whose execution intervals overlap ran at the same time on the same machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from coursebook import atomic
from coursebook.book import cache, paths
from coursebook.book.hooks import Overview, course
from coursebook.book.params import CHAPTER_PREFIX, TocPart, load_yaml, toc_parts
from coursebook.markdown import escape, link_text

GENERATED = Path("_generated") / "overview.md"  # under book/, included by book/index.md
SMALL_PROFILES = ("smoke", "quick")
CSS_CLASS = "results-overview"  # _static/coursebook.css sets its tables in a smaller type, to fit the column
NO_RESULTS = "No chapter has results yet: `make book` computes them."
NO_PART_RESULTS = "No chapter of this part that trains has results yet: `make book` computes them."
OVERLAP_SECONDS = 1.0  # records give finishing times to the second: shorter overlaps are rounding


@dataclass(frozen=True)
class Chapter:
    """One chapter with a results file and a page: its overview (None: unreadable, and why)."""

    chapter_id: str
    summary: Overview | None
    problem: str = ""


def write(target: Path | None = None) -> Path:
    """Write the overview Markdown and each part's (atomically); return the overview's path."""
    target = target or paths.BOOK_DIR / GENERATED
    parts = toc_parts()
    found = {part.name: chapters_with_results(part) for part in parts}
    texts = {target: overview_markdown(parts, found)}
    texts.update(
        {
            target.parent / f"{part.name}.md": part_markdown(found[part.name])
            for part in parts
            if not part.root.startswith(CHAPTER_PREFIX)
        }
    )  # a part with an introduction page of its own
    atomic.atomic_write_texts(texts)
    return target


def chapters_with_results(part: TocPart) -> list[Chapter]:
    """The part's chapters that have a results file and a page, read."""
    found = []
    for chapter_id in part.chapters:
        if cache.results_path(chapter_id).exists() and cache.output_path(chapter_id).exists():
            summary, problem = read_results(chapter_id)
            found.append(Chapter(chapter_id, summary, problem))
    return found


def overview_markdown(parts: Sequence[TocPart], found: dict[str, list[Chapter]] | None = None) -> str:
    """The overview: what the build was computed on, an introduction, then one table per part that has results."""
    found = found if found is not None else {part.name: chapters_with_results(part) for part in parts}
    sections, chapters = [], []
    for part in parts:
        if found[part.name]:
            chapters += found[part.name]
            sections.append(f"### {escape(' '.join(part.caption.split()))}\n\n{_table_block(found[part.name])}")
    if not sections:
        return f"## Results overview\n\n{NO_RESULTS}\n"
    return (
        "## Results overview\n\n"
        + computed_on(chapters)
        + "\n\n"
        + _introduction(chapters)
        + "\n\n"
        + "\n\n".join(sections)
        + "\n"
    )


def part_markdown(chapters: list[Chapter]) -> str:
    """One part's "what this build ran": what it was computed on and its table (no heading: the
    introduction page has its own)."""
    if not chapters:
        return NO_PART_RESULTS + "\n"
    return computed_on(chapters) + "\n\n" + _table_block(chapters) + "\n"


def _table_block(chapters: list[Chapter]) -> str:
    rows = [row for chapter in chapters for row in chapter_rows(chapter.chapter_id, chapter.summary, chapter.problem)]
    return f":::{{div}} {CSS_CLASS}\n{_table(rows)}\n:::"


def computed_on(chapters: list[Chapter]) -> str:
    """One paragraph: the data, the profiles (reduced or not) and the budgets as run, and how the run
    times were measured (chapters side by side or one at a time)."""
    read = [chapter.summary for chapter in chapters if chapter.summary is not None]
    if not read:
        return ""
    data = list(dict.fromkeys(course().pages.stand_in if s.stand_in else s.data for s in read))
    profiles = list(dict.fromkeys(s.profile for s in read))
    named = " and ".join(f"**{escape(p)}**" if p in SMALL_PROFILES else escape(p) for p in profiles)
    reduced = [p for p in profiles if p in SMALL_PROFILES]
    text = (
        f"**What this build was computed on.** Data: {'; '.join(data)}. Profile{'s' if len(profiles) > 1 else ''}: "
        f"{named}"
        + (" (reduced budgets: fewer epochs, images or seeds than the assignments ask for)" if reduced else "")
        + "."
    )
    budget: dict[str, list[int]] = {}
    for summary in read:
        for label, values in summary.budget.items():
            budget.setdefault(label, []).extend(int(v) for v in values)
    ranges = [f"{escape(label)} {_range(values)}" for label, values in budget.items() if values]
    if ranges:
        text += f" Budgets as run: {'; '.join(ranges)} (each arm's in the table)."
    return text + " " + side_by_side([chapter.chapter_id for chapter in chapters])


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,} to {high:,}"


def execution_interval(record: dict[str, Any] | None) -> tuple[float, float] | None:
    """(start, end) in seconds since the epoch of the execution a run record describes; None when the
    record does not say (missing, unreadable, or re-rendered later, which moved its finishing time)."""
    if not record or record.get("rerendered") or "finished" not in record:
        return None
    try:
        end = datetime.strptime(str(record["finished"]), "%Y-%m-%dT%H:%M:%S%z").timestamp()
        seconds = float(record["seconds"])
    except (KeyError, TypeError, ValueError):
        return None
    return end - seconds, end


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap one another by more than :data:`OVERLAP_SECONDS` at one time."""
    events = sorted(
        [(start + OVERLAP_SECONDS, 1) for start, end in intervals if end - start > OVERLAP_SECONDS]
        + [(end, -1) for start, end in intervals if end - start > OVERLAP_SECONDS]
    )
    running = most = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start (+1)
        running += step
        most = max(most, running)
    return most


def side_by_side(chapter_ids: list[str]) -> str:
    """How the run times were measured: with up to N chapters executing at once, or one at a time
    (from the chapters' run records); '' when no record says."""
    intervals = [
        interval
        for chapter_id in chapter_ids
        if (interval := execution_interval(cache.read_record(chapter_id))) is not None
    ]
    if not intervals:
        return ""
    unknown = len(chapter_ids) - len(intervals)
    caveat = f" ({unknown} chapter{'s' if unknown > 1 else ''} without a timing record)" if unknown else ""
    at_once = most_at_once(intervals)
    if at_once > 1:
        return (
            f"Run times were measured with up to {at_once} chapters executing at once on the same machine"
            f"{caveat}: they compare the arms of one chapter, not one chapter with another."
        )
    return f"Run times were measured with one chapter executing at a time{caveat}."


def _introduction(chapters: list[Chapter]) -> str:
    read = [chapter.summary for chapter in chapters if chapter.summary is not None]
    marked = sum(1 for summary in read if _reduced(summary))
    text = course().pages.overview_introduction
    if marked:
        text += (
            f" **{marked} of {len(chapters)} chapters were computed with a reduced profile or on the synthetic "
            "stand-in** (marked in bold beside the chapter): their numbers check the pipeline and show the "
            "effects' direction, they are not the assignments' results on the full real data."
        )
    return text


def read_results(chapter_id: str) -> tuple[Overview | None, str]:
    """(the course's overview of the results file, '') or (None, why the file cannot be read)."""
    path = cache.results_path(chapter_id)
    try:
        return course().pages.overview(path), ""
    except (OSError, ValueError) as err:
        return None, f"{path.relative_to(paths.ROOT)} cannot be read ({' '.join(str(err).split())[:120]})"


def chapter_rows(chapter_id: str, summary: Overview | None, problem: str = "") -> list[list[str]]:
    """Table rows of one chapter: one per arm, the chapter link on the first."""
    link = _link(chapter_id)
    if summary is None:
        return [[link, problem, *[""] * (len(course().pages.overview_columns) - 1)]]
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
    columns = ["chapter", *course().pages.overview_columns]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join(["---"] * 2 + ["--:"] * (len(columns) - 2)) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in rows)])
