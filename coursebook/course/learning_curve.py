"""A learning curve as an experiment: one arm per training-set size (the same model and settings,
``train_size`` differing), and the table and tidy frame the page draws from the Results.

The sizes are a chapter parameter (a list of image counts) so that a profile can shrink them; each
arm trains on a seeded, stratified subset of the training part, and every arm is validated and
tested on the same images.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from coursebook.course.results import Results

MIN_SIZE = 100  # the smallest train_size an arm accepts (coursebook.course.arms)


def arm_name(size: int) -> str:
    """The arm of one size, e.g. '2,500 images'."""
    return f"{size:,} images"


def check_sizes(sizes: Any, available: int | None = None) -> list[int]:
    """``sizes`` as a list of at least two increasing image counts in [MIN_SIZE, available];
    one ValueError line naming the parameter, the value and what is allowed otherwise."""
    top = "" if available is None else f"{available:,}"
    allowed = f"at least two increasing whole numbers of training images in [{MIN_SIZE}, {top}]" + (
        "" if available is None else f" ({available:,}: all training images after the validation split)"
    )
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or any(not isinstance(s, int) or isinstance(s, bool) or s < MIN_SIZE for s in sizes)
        or any(b <= a for a, b in itertools.pairwise(sizes))
        or (available is not None and sizes[-1] > available)
    ):
        raise ValueError(f"parameter 'sizes': value {sizes!r} is not allowed (expected {allowed})")
    return list(sizes)


def size_arms(base: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """One arm per size: the ``base`` arm (its model and any settings of its own) with ``train_size``
    = the size, named by the size; the chapter-level settings (epochs, early stopping, ...) apply to all."""
    return [{**base, "name": arm_name(size), "train_size": size} for size in check_sizes(list(sizes))]


def curve_frame(results: Results) -> pd.DataFrame:
    """Tidy frame, one row per run and part: size, seed, part (validation/test), accuracy, the
    train-validation accuracy gap and whether the run learned (``learned``), all for the weights of
    the run's evaluated epoch (validation values from the history at that epoch, as every other
    table of the book)."""
    rows = []
    for arm in results.arms:
        for run in arm.runs:
            accuracy = {"validation": run.value("val_accuracy"), "test": run.value("test_accuracy")}
            for part, value in accuracy.items():
                rows.append(
                    {
                        "size": arm.settings["train_size"],
                        "seed": run.seed,
                        "part": part,
                        "accuracy": value,
                        "gap": run.value("gap"),
                        "evaluated epoch": run.evaluated_epoch,
                        "learned": run.learned,
                    }
                )
    return pd.DataFrame(rows)


def curve_table(results: Results, available: int, digits: int = 4) -> pd.DataFrame:
    """One row per size: training images, their share of all training images, validation and test
    accuracy and the train-validation gap as mean ± sd over seeds, the evaluated epochs, and how
    many runs learned at all (:mod:`coursebook.course.learned`)."""
    from coursebook.course.prose.numbers import mean_sd

    frame = curve_frame(results)
    rows = []
    for size, group in frame.groupby("size", sort=True):
        val, test = (group[group["part"] == part] for part in ("validation", "test"))
        rows.append(
            {
                "training images": int(size),
                "share of all": f"{size / available:.1%}",
                "validation accuracy": mean_sd(val["accuracy"], digits),
                "test accuracy": mean_sd(test["accuracy"], digits),
                "train-validation gap": mean_sd(val["gap"], digits),
                "evaluated epoch": ", ".join(str(e) for e in val["evaluated epoch"]),
                "runs that learned": f"{int(val['learned'].sum())} of {len(val)}",
            }
        )
    return pd.DataFrame(rows)


def model_text(model: str) -> str:
    """One sentence naming the model and its parameter totals (by formula)."""
    from coursebook.course import models

    spec, totals = models.load_spec(model), models.parameter_summary(model)
    fixed = (
        f"{totals['non_trainable']:,} non-trainable (the moving statistics of batch normalization)"
        if totals["non_trainable"]
        else "none non-trainable"
    )
    return f"`{model}` ({spec.title}) has {totals['total']:,} parameters: {totals['trainable']:,} trainable, {fixed}."


def caption(results: Results) -> str:
    """The learning-curve figure's caption, saying how many runs each point summarises."""
    runs = results.runs_count()
    spread = f"mean ± sd over {runs} seeds, one dot per run" if runs > 1 else "one run per size"
    return (
        "Learning curve: validation and test accuracy against the number of training images (logarithmic axis), "
        f"for the weights of each run's evaluated epoch; {spread}."
    )


def sizes_text(sizes: Sequence[int], available: int) -> str:
    """What each arm trains on, in one sentence."""
    listed = ", ".join(f"{s:,}" for s in sizes[:-1]) + f" and {sizes[-1]:,}"
    whole = " (all of them)" if sizes[-1] == available else ""
    return (
        f"Each size is a seeded, stratified subset of these {available:,} training images: {listed}{whole}; "
        "the validation and test images are the same for every size."
    )


def settings_table(results: Results) -> pd.DataFrame:
    """The settings every size trained with, one row per setting (the sizes themselves in one row):
    the comparison page's settings table turned on its side, since only the size differs."""
    from coursebook.course import report

    table = report.settings_table(results).set_index("arm")
    rows = [{"setting": column, "value": "; ".join(dict.fromkeys(table[column]))} for column in table.columns]
    return pd.DataFrame(rows)
