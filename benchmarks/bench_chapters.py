"""Where the last build's chapters spent their time: per chapter, its wall time (the run record),
the training it did (the epoch seconds of the runs it trained, from its results file), the runs it read
from the run store, and the rest (kernel start, imports, data, evaluation passes, figures, text), with
the cells that cost the most beyond training (Papermill's per-cell durations in the executed notebook).

Measures a build that happened (``make book`` first); runs nothing.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coursebook.book import paths


def chapter_profile(chapter: str, chapters_dir: Path) -> dict[str, Any] | None:
    """One executed chapter's times; None when it has no run record."""
    record_path = chapters_dir / f"{chapter}.run.json"
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    training, trained, read = training_seconds(chapters_dir / f"{chapter}.results.json")
    cells = cell_seconds(chapters_dir / f"{chapter}.ipynb")
    longest = max(range(len(cells)), key=lambda i: cells[i][1]) if training and cells else None
    beyond = [
        (source, seconds - training if index == longest else seconds)  # the training cell, less its training
        for index, (source, seconds) in enumerate(cells)
    ]
    return {
        "chapter": chapter,
        "profile": record.get("profile"),
        "wall_s": float(record["seconds"]),
        "training_s": training,
        "runs_trained": trained,
        "runs_read": read,
        "overhead_s": float(record["seconds"]) - training,
        "cells_s": sum(s for _, s in cells),
        "costliest": sorted(beyond, key=lambda cell: -cell[1])[:3],
    }


def training_seconds(results_path: Path) -> tuple[float, int, int]:
    """(seconds of the epochs this chapter trained, runs trained, runs read from the store)."""
    if not results_path.is_file():
        return 0.0, 0, 0
    try:
        arms = json.loads(results_path.read_text(encoding="utf-8"))["arms"]
    except (KeyError, ValueError, TypeError):
        return 0.0, 0, 0
    runs = [run for arm in arms for run in arm.get("runs", [])]
    own = [run for run in runs if not run.get("read_from")]
    return sum(sum(run["seconds_per_epoch"]) for run in own), len(own), len(runs) - len(own)


def cell_seconds(notebook: Path) -> list[tuple[str, float]]:
    """(first line of the cell, seconds) of every executed code cell, from Papermill's metadata."""
    if not notebook.is_file():
        return []
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    timed = []
    for cell in cells:
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if cell.get("cell_type") == "code" and isinstance(duration, (int, float)):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            timed.append(((source.strip().splitlines() or [""])[0][:60], float(duration)))
    return timed


def main(chapters: list[str] | None = None, chapters_dir: Path | None = None) -> dict[str, Any]:
    from coursebook.book.params import toc_chapter_ids

    chapters_dir = chapters_dir or paths.CHAPTERS_DIR
    found = [p for c in chapters or toc_chapter_ids() if (p := chapter_profile(c, chapters_dir))]
    if not found:
        print("  no executed chapters in book/chapters (run make book first)")
        return {"chapters": []}
    print(
        f"  {'chapter':30s} {'wall s':>7s} {'train s':>7s} {'trained':>7s} {'read':>5s} {'rest s':>7s}  costliest "
        "beyond training"
    )
    for row in found:
        costliest = "; ".join(f"{source or '(empty)'} {seconds:.1f}" for source, seconds in row["costliest"][:2])
        print(
            f"  {row['chapter']:30s} {row['wall_s']:7.1f} {row['training_s']:7.1f} {row['runs_trained']:7d} "
            f"{row['runs_read']:5d} {row['overhead_s']:7.1f}  {costliest}"
        )
    total = sum(row["wall_s"] for row in found)
    median_rest = statistics.median(row["overhead_s"] for row in found)
    print(
        f"  {len(found)} chapters: {total:.0f} s of chapter time, {sum(r['training_s'] for r in found):.0f} s of it "
        f"training; {sum(r['runs_read'] for r in found)} runs read from the run store; the median chapter's time "
        f"beyond training {median_rest:.1f} s"
    )
    return {"chapters": found, "chapter_time_s": total, "median_overhead_s": median_rest}


if __name__ == "__main__":
    main()
