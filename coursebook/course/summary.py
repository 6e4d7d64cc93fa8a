"""One chapter's results file as the landing page's overview shows it (``book.overview`` lays the
page out): one row per arm with its parameter count, the training images and epochs it trained (and
the evaluated epochs where they are not the last), validation and test accuracy (mean ± sd over runs),
training time per run, and the runs that did not learn marked; and the chapter's budget (training
images, epochs trained, runs per arm) for the page's opening."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coursebook.book.hooks import Overview
from coursebook.course.prose.numbers import md, mean_sd

COLUMNS = (
    "arm",
    "parameters",
    "training images",
    "epochs trained",
    "validation accuracy",
    "test accuracy",
    "time per run",
)
NBSP = "\u00a0"  # keeps 'mean ± sd' on one line
INTRODUCTION = (
    "Every chapter that trains, one row per arm, read from its results file; beside each chapter, its runs per arm, "
    "data and profile. *Training images* and *epochs trained* are each arm's budget as run (the epochs of each run, "
    '"of" the most it could train when early stopping ended it sooner), so two rows of one model with different '
    "budgets differ for that reason. Accuracies are those of the evaluated weights (the last epoch's, or those of "
    "the epoch in parentheses, restored as the best) as mean ± sd over the runs; the test set played no part in "
    "training or model choice; *time per run* is the training time of one run. A run that *did not learn* stayed near "
    "chance on its validation images (its chapter says why): its accuracy is no measure of its arm."
)


def overview(path: Path) -> Overview:
    """The overview of one results file; ValueError (or OSError) when it cannot be read at all."""
    results = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(results, dict) or not isinstance(results.get("arms"), list):
        raise ValueError("it has no list of arms")
    runs = sorted({len(arm.get("runs") or []) for arm in results["arms"] if isinstance(arm, dict)})
    dataset = results.get("dataset") or {}
    synthetic = bool(dataset.get("synthetic"))
    chapter_images = (dataset.get("sizes") or {}).get("train")
    arms = [arm for arm in results["arms"] if isinstance(arm, dict)]
    return Overview(
        runs=f"{'/'.join(map(str, runs))} run{'s' if runs != [1] else ''}",
        data="**synthetic**" if synthetic else md(" ".join(str(dataset.get("name", "?")).split())),
        profile=str(results.get("profile", "?")),
        stand_in=synthetic,
        rows=[_arm_row(arm, chapter_images) for arm in results["arms"]],
        budget=_budget(arms, chapter_images),
    )


def _arm_row(arm: Any, chapter_images: Any = None) -> list[str]:
    name = md(" ".join(str(arm.get("name", "?") if isinstance(arm, dict) else "?").split()))
    try:
        return arm_cells(arm, chapter_images)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        return [name, f"unreadable arm ({md(' '.join(str(err).split()))[:80]})", *[""] * (len(COLUMNS) - 2)]


def training_images(arm: Mapping[str, Any], chapter_images: Any) -> int:
    """The images the arm trained on: its own ``train_size``, else the chapter's training part."""
    own = (arm.get("settings") or {}).get("train_size")
    if own is None and chapter_images is None:
        raise ValueError("no training-image count")
    return int(own if own is not None else chapter_images)


def _listed(values: list[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else ", ".join(map(str, values))


def epochs_trained(arm: Mapping[str, Any]) -> str:
    """The epochs each run trained ("of" the most it could, when a run stopped sooner) and, when the
    evaluated weights are not the last epoch's, the evaluated epochs in parentheses."""
    runs = arm["runs"]
    trained = [int(run["stopped_epoch"]) for run in runs]
    evaluated = [int(run["evaluated_epoch"]) for run in runs]
    most = (arm.get("settings") or {}).get("epochs")
    text = _listed(trained) + (f" of {int(most)}" if most is not None and min(trained) < int(most) else "")
    return text + (f" (evaluated {_listed(evaluated)})" if evaluated != trained else "")


def arm_cells(arm: Mapping[str, Any], chapter_images: Any = None) -> list[str]:
    """arm, parameters, training images, epochs trained (and evaluated), validation and test accuracy,
    training time per run."""
    runs = arm["runs"]
    if not runs:
        raise ValueError("no runs")
    seconds = [math.fsum(run["seconds_per_epoch"]) for run in runs]
    failed = sum(1 for run in runs if run.get("learned") is False)
    marker = f" **({failed} of {len(runs)} did not learn)**" if failed else ""
    return [
        md(" ".join(str(arm["name"]).split())),
        f"{int(arm['parameters']['total']):,}",
        f"{training_images(arm, chapter_images):,}",
        epochs_trained(arm),
        _one_line(mean_sd([run["validation"]["accuracy"] for run in runs])) + marker,
        _one_line(mean_sd([run["test"]["accuracy"] for run in runs])),
        _one_line(mean_sd(seconds, digits=1)) + f"{NBSP}s",
    ]


def _budget(arms: Sequence[Mapping[str, Any]], chapter_images: Any) -> dict[str, list[int]]:
    """Training images per arm, epochs trained per run and runs per arm, where the file says them."""
    budget: dict[str, list[int]] = {"training images": [], "epochs trained": [], "runs per arm": []}
    for arm in arms:
        try:
            budget["training images"].append(training_images(arm, chapter_images))
            budget["epochs trained"] += [int(run["stopped_epoch"]) for run in arm["runs"]]
            budget["runs per arm"].append(len(arm["runs"]))
        except (KeyError, TypeError, ValueError):
            continue
    return budget


def _one_line(text: str) -> str:
    return text.replace(" ", NBSP)
