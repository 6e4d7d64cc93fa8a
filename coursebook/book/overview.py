"""The landing page's results overview, built from every chapter's results file.

``write()`` (called by the runner before each HTML build) reads ``book/chapters/<id>.results.json`` of
every chapter in ``_toc.yml`` that has one and writes ``book/_generated/overview.md``, which
``book/index.md`` includes: one table per assignment, one row per arm, with its parameter count,
evaluated epoch(s), validation and test accuracy (mean ± sd over runs), training time and what the
numbers were computed on (profile, dataset), linked to the chapter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coursebook import atomic
from coursebook.book import cache, paths
from coursebook.book.params import CHAPTER_PREFIX, load_yaml

GENERATED = Path("_generated") / "overview.md"  # under book/, included by book/index.md
COLUMNS = ("chapter", "arm", "parameters", "epoch", "validation accuracy", "test accuracy", "time per run")
NBSP = "\u00a0"  # keeps 'mean ± sd' on one line
SMALL_PROFILES = ("smoke", "quick")
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
                results, problem = read_results(chapter_id)
                rows += chapter_rows(chapter_id, results, problem)
                flags.append(results and _small_or_synthetic(results))
        if rows:
            sections.append(f"### {_escape(caption)}\n\n" + _table(rows))
    if not sections:
        return f"## Results overview\n\n{NO_RESULTS}\n"
    return "## Results overview\n\n" + _introduction(flags) + "\n\n" + "\n\n".join(sections) + "\n"


def _introduction(flags: list[Any]) -> str:
    marked = sum(1 for flag in flags if flag)
    text = ("Every chapter that trains, one row per arm, read from its results file; beside each chapter, its runs "
            "per arm, data and profile. Accuracies are those of the evaluated weights (*epoch*: the last one, or the "
            "restored best one, per run) as mean ± sd over the runs; the test set played no part in training or "
            "model choice; *time per run* is the training time of one run. A run that *did not learn* stayed near "
            "chance on its validation images (its chapter says why): its accuracy is no measure of its arm.")
    if marked:
        text += (f" **{marked} of {len(flags)} chapters were computed with a reduced profile or on the synthetic "
                 "stand-in** (marked in bold beside the chapter): their numbers check the pipeline and show the "
                 "effects' direction, they are not the assignments' CIFAR-10 results.")
    return text


def read_results(chapter_id: str) -> tuple[Mapping[str, Any] | None, str]:
    """(results, '') or (None, why the file cannot be read)."""
    path = cache.results_path(chapter_id)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(results.get("arms"), list):
            raise ValueError("it has no list of arms")
        return results, ""
    except (OSError, ValueError, AttributeError) as err:
        return None, f"{path.relative_to(paths.ROOT)} cannot be read ({' '.join(str(err).split())[:120]})"


def chapter_rows(chapter_id: str, results: Mapping[str, Any] | None, problem: str = "") -> list[list[str]]:
    """Table rows of one chapter: one per arm, the chapter link on the first."""
    link = _link(chapter_id, results)
    if results is None:
        return [[link, problem, *[""] * (len(COLUMNS) - 2)]]
    runs = sorted({len(arm.get("runs") or []) for arm in results["arms"]})
    first = f"{link} ({'/'.join(map(str, runs))} run{'s' if runs != [1] else ''}; {_computed_on(results)})"
    rows = []
    for index, arm in enumerate(results["arms"]):
        try:
            cells = arm_cells(arm)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            cells = [_escape(str(arm.get("name", "?"))), f"unreadable arm ({_escape(str(err))[:80]})",
                     *[""] * (len(COLUMNS) - 3)]
        rows.append([first if index == 0 else "", *cells])
    return rows


def arm_cells(arm: Mapping[str, Any]) -> list[str]:
    """arm, parameters, evaluated epoch, validation and test accuracy, training time."""
    runs = arm["runs"]
    if not runs:
        raise ValueError("no runs")
    epochs = [int(run["evaluated_epoch"]) for run in runs]
    seconds = [math.fsum(run["seconds_per_epoch"]) for run in runs]
    failed = sum(1 for run in runs if run.get("learned") is False)
    marker = f" **({failed} of {len(runs)} did not learn)**" if failed else ""
    return [
        _escape(str(arm["name"])),
        f"{int(arm['parameters']['total']):,}",
        str(epochs[0]) if len(set(epochs)) == 1 else ", ".join(map(str, epochs)),
        mean_sd([run["validation"]["accuracy"] for run in runs]) + marker,
        mean_sd([run["test"]["accuracy"] for run in runs]),
        mean_sd(seconds, digits=1, unit=" s"),
    ]


def mean_sd(values: Sequence[float], digits: int = 4, unit: str = "") -> str:
    """'0.7231' for one value, '0.7231 ± 0.0040' (sample sd) for several."""
    values = [float(v) for v in values]
    mean = math.fsum(values) / len(values)
    unit = unit.replace(" ", NBSP)
    if len(values) == 1:
        return f"{mean:.{digits}f}{unit}"
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f}{NBSP}±{NBSP}{sd:.{digits}f}{unit}"


def _computed_on(results: Mapping[str, Any]) -> str:
    dataset = results.get("dataset") or {}
    profile = str(results.get("profile", "?"))
    data = "**synthetic**" if dataset.get("synthetic") else _escape(str(dataset.get("name", "?")))
    profile_text = f"**{profile}**" if profile in SMALL_PROFILES else profile
    return f"{data}, {profile_text}"


def _small_or_synthetic(results: Mapping[str, Any]) -> bool:
    return bool((results.get("dataset") or {}).get("synthetic")) or results.get("profile") in SMALL_PROFILES


def _link(chapter_id: str, results: Mapping[str, Any] | None) -> str:
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
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join(["---"] * 2 + ["--:"] * 5) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in rows)])
