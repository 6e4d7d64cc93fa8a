"""Whether curves have left chance: below twice chance accuracy, a run is too short (or the model
too far from learning) for its curves to explain anything, and the explanations say so instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DIGITS = 4
LONGER = {"smoke": "a longer run (the quick or full profile)", "quick": "a longer run (the full profile)"}


def classes(data: Mapping[str, Any]) -> int:
    """The number of classes of the results' dataset (10 when the results do not name them)."""
    return len((data.get("dataset") or {}).get("class_names") or []) or 10


def barely_learned(data: Mapping[str, Any], means: Sequence[float], what: str) -> str:
    """A sentence opened by ``what`` (e.g. "Neither model learned much") when every one of ``means``
    (mean validation accuracies, shown to ``DIGITS``) is below twice chance; '' otherwise."""
    n = classes(data)
    shown = [round(float(m), DIGITS) for m in means]
    if max(shown) >= 2 / n:
        return ""
    listed = ", ".join(f"{m:.{DIGITS}f}" for m in shown[:-1]) + (" and " if len(shown) > 1 else "") + f"{shown[-1]:.{DIGITS}f}"
    longer = LONGER.get(data.get("profile"), "more epochs or more training images")
    return (f"{what}: mean validation accuracies of {listed} are below twice chance "
            f"({2 / n:.2f} for {n} classes). Curves that have hardly left chance cannot say why; {longer} "
            "would be needed for that.")
