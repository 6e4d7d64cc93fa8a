"""One chapter's results file as the landing page's overview shows it (``book.overview`` lays the
page out): one row per arm with its parameter count, evaluated epoch(s), validation and test accuracy
(mean ± sd over runs), training time per run, and the runs that did not learn marked."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coursebook.book.hooks import Overview
from coursebook.course.prose.numbers import md, mean_sd

COLUMNS = ("arm", "parameters", "epoch", "validation accuracy", "test accuracy", "time per run")
NBSP = "\u00a0"  # keeps 'mean ± sd' on one line
INTRODUCTION = (
    "Every chapter that trains, one row per arm, read from its results file; beside each chapter, its runs per arm, "
    "data and profile. Accuracies are those of the evaluated weights (*epoch*: the last one, or the restored best "
    "one, per run) as mean ± sd over the runs; the test set played no part in training or model choice; *time per "
    "run* is the training time of one run. A run that *did not learn* stayed near chance on its validation images "
    "(its chapter says why): its accuracy is no measure of its arm.")


def overview(path: Path) -> Overview:
    """The overview of one results file; ValueError (or OSError) when it cannot be read at all."""
    results = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(results, dict) or not isinstance(results.get("arms"), list):
        raise ValueError("it has no list of arms")
    runs = sorted({len(arm.get("runs") or []) for arm in results["arms"] if isinstance(arm, dict)})
    dataset = results.get("dataset") or {}
    synthetic = bool(dataset.get("synthetic"))
    return Overview(
        runs=f"{'/'.join(map(str, runs))} run{'s' if runs != [1] else ''}",
        data="**synthetic**" if synthetic else md(" ".join(str(dataset.get("name", "?")).split())),
        profile=str(results.get("profile", "?")), stand_in=synthetic,
        rows=[_arm_row(arm) for arm in results["arms"]])


def _arm_row(arm: Any) -> list[str]:
    name = md(" ".join(str(arm.get("name", "?") if isinstance(arm, dict) else "?").split()))
    try:
        return arm_cells(arm)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        return [name, f"unreadable arm ({md(' '.join(str(err).split()))[:80]})", *[""] * (len(COLUMNS) - 2)]


def arm_cells(arm: Mapping[str, Any]) -> list[str]:
    """arm, parameters, evaluated epoch, validation and test accuracy, training time per run."""
    runs = arm["runs"]
    if not runs:
        raise ValueError("no runs")
    epochs = [int(run["evaluated_epoch"]) for run in runs]
    seconds = [math.fsum(run["seconds_per_epoch"]) for run in runs]
    failed = sum(1 for run in runs if run.get("learned") is False)
    marker = f" **({failed} of {len(runs)} did not learn)**" if failed else ""
    return [
        md(" ".join(str(arm["name"]).split())),
        f"{int(arm['parameters']['total']):,}",
        str(epochs[0]) if len(set(epochs)) == 1 else ", ".join(map(str, epochs)),
        _one_line(mean_sd([run["validation"]["accuracy"] for run in runs])) + marker,
        _one_line(mean_sd([run["test"]["accuracy"] for run in runs])),
        _one_line(mean_sd(seconds, digits=1)) + f"{NBSP}s",
    ]


def _one_line(text: str) -> str:
    return text.replace(" ", NBSP)
