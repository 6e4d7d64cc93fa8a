"""The most confused class pairs of a confusion matrix, named by class (CIFAR-10's names are
``coursebook.course.data.CIFAR10_CLASS_NAMES``, by label index: 3 is cat, 5 is dog)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course.prose.numbers import join, md


@dataclass(frozen=True)
class ConfusedPairs:
    """Result of :func:`most_confused_pairs`: a table of (true, predicted) pairs and a sentence."""

    table: pd.DataFrame
    sentence: str


def most_confused_pairs(cm: np.ndarray, class_names: Sequence[str], k: int = 3) -> ConfusedPairs:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows true, columns predicted),
    named by class, with their share of the true class's images."""
    counts = _check_confusion(cm, class_names)
    totals = counts.sum(axis=1)
    rows = [
        (
            true,
            predicted,
            class_names[true],
            class_names[predicted],
            int(counts[true, predicted]),
            counts[true, predicted] / totals[true],
        )
        for true in range(len(class_names))
        for predicted in range(len(class_names))
        if true != predicted and counts[true, predicted] > 0
    ]
    table = pd.DataFrame(rows, columns=["true_label", "predicted_label", "true", "predicted", "count", "share"])
    table = table.sort_values(["count", "share"], ascending=False, kind="stable").head(k).reset_index(drop=True)
    return ConfusedPairs(table, _sentence(table))


def _check_confusion(cm: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion matrix must be square (n, n); got shape {counts.shape}")
    if counts.shape[0] != len(class_names):
        n = counts.shape[0]
        raise ValueError(f"confusion matrix is {n}x{n} but {len(class_names)} class names given")
    if np.any(counts < 0) or not np.all(counts == np.round(counts)):
        raise ValueError("confusion matrix must hold non-negative whole counts")
    return counts.astype(np.int64)


def _sentence(table: pd.DataFrame) -> str:
    if table.empty:
        return "There are no confusions: every image is classified correctly."
    items = [
        f"{md(row.true)} predicted as {md(row.predicted)} ({row.count} image{'' if row.count == 1 else 's'}, "
        f"{row.share:.1%} of {md(row.true)} images)"
        for row in table.itertuples()
    ]
    return f"The most frequent confusions are {join(items)}."
