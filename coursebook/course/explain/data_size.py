"""What the training-set size does (q6 Part 5, the learning curve): validation and test accuracy
from the smallest to the largest size, every step between neighbouring sizes with its noise
verdict, the average gain per doubling, whether the curve is still rising at its largest step,
and the train-validation gap from small to large sets. The arms differ only in ``train_size``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from coursebook.course.prose import comparison
from coursebook.course.explain import measures
from coursebook.course.explain.chance import barely_learned

DIGITS = 4


def size_arms(results: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """(training images, arm) sorted by size; an arm without ``train_size`` uses the whole training part."""
    data = measures.as_mapping(results)
    available = ((data.get("dataset") or {}).get("sizes") or {}).get("train")
    sized = []
    for arm in data["arms"]:
        size = (arm.get("settings") or {}).get("train_size") or available
        if not size:
            raise ValueError(f"explain 'data-size': arm {arm['name']!r} has no train_size and the results "
                             "give no training-set size")
        sized.append((int(size), arm))
    if len({size for size, _ in sized}) < 2:
        raise ValueError(f"explain 'data-size' needs at least two training-set sizes; got {[s for s, _ in sized]}")
    return sorted(sized, key=lambda pair: pair[0])


def answer(results: Any) -> str:
    """Markdown: effect, the steps of the curve, the gap, the mechanism and the limits."""
    data = measures.as_mapping(results)
    sized = size_arms(data)
    parts = [f"**Effect.** {_effect(sized)}",
             f"**Step by step.** {_steps(sized)}",
             f"**Over-fitting against size.** {_gap(sized)}",
             f"**Mechanism.** {_learned(data, sized) or _mechanism(sized)}",
             f"**Limits of the evidence.** {measures.limits(data)} Each size is one seeded, stratified subset of "
             "the training part, validated and tested on the same images as every other size."]
    return "\n\n".join(parts)


def _label(size: int) -> str:
    return f"{size:,} images"


def _test(arm: Mapping[str, Any]) -> list[float] | None:
    values = [(run.get("test") or {}).get("accuracy") for run in arm["runs"]]
    return None if any(v is None for v in values) else [float(v) for v in values]


def _effect(sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    (small, first), (large, last) = sized[0], sized[-1]
    val = comparison.compare("validation accuracy", _label(large), measures.per_run(last, "val_accuracy"),
                           _label(small), measures.per_run(first, "val_accuracy"), higher_is_better=True)
    text = f"From {small:,} to {large:,} training images ({large / small:.3g} times as many): {val.sentence}"
    tests = _test(last), _test(first)
    if all(tests):
        test = comparison.compare("test accuracy", _label(large), tests[0], _label(small), tests[1], higher_is_better=True)
        text += f" On the test set, {test.sentence}"
    return text


def _steps(sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    comparisons = [comparison.compare("validation accuracy", _label(b_size), measures.per_run(b, "val_accuracy"),
                                    _label(a_size), measures.per_run(a, "val_accuracy"), higher_is_better=True)
                   for (a_size, a), (b_size, b) in zip(sized, sized[1:])]
    bullets = "\n".join(f"- {c.sentence}" for c in comparisons)
    up = sum(c.direction == "higher" for c in comparisons)
    clear = sum(c.direction == "higher" and c.exceeds_noise is True for c in comparisons)
    n = len(comparisons)
    judged = any(c.exceeds_noise is not None for c in comparisons)
    if n == 1:
        summary = ("Validation accuracy rose in the one step" if up else "Validation accuracy did not rise in the one step") + (
            f", {'beyond' if clear else 'not beyond'} run-to-run noise." if judged and up else ".")
    else:
        summary = f"Validation accuracy rose in {up} of the {n} steps" + (
            f", {clear} of them beyond run-to-run noise." if judged else ".")
    last = comparisons[-1]
    if last.direction == "higher" and last.exceeds_noise:
        tail = ("The last step still gains beyond run-to-run noise: the curve has not flattened, so more images "
                "would most likely raise the accuracy further.")
    elif last.direction == "higher" and last.exceeds_noise is None:
        tail = _single_run_tail(comparisons)
    elif last.direction == "higher":
        tail = ("The last step gains, but not beyond run-to-run noise: the curve may be flattening, "
                "or the runs are too few to see the gain.")
    else:
        tail = ("The last step gains nothing: at these sizes the curve has flattened, and more images of the same "
                "kind would help little without a larger model or more epochs.")
    return f"{_per_doubling(sized)} {summary} {tail}\n\n{bullets}"


def _single_run_tail(comparisons: list) -> str:
    """With one run per size: the last step's gain against the step before (shown values)."""
    last = comparisons[-1]
    if len(comparisons) < 2:
        return "The last step gains, in a single run per size: whether the curve flattens cannot be told."
    before = comparisons[-2]
    gains = f"{last.difference:.{DIGITS}f} against {before.difference:.{DIGITS}f}, single runs"
    if last.difference >= before.difference:
        return f"The last step gains at least as much as the one before ({gains}): no sign of flattening yet."
    return f"The last step gains less than the one before ({gains}): a first sign of flattening, from single runs."


def _per_doubling(sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    """The least-squares slope of mean validation accuracy against log2(size)."""
    sizes = np.log2([size for size, _ in sized])
    means = [math.fsum(values) / len(values) for values in (measures.per_run(arm, "val_accuracy") for _, arm in sized)]
    slope = float(np.polyfit(sizes, means, 1)[0])
    shown = round(slope, DIGITS)
    if shown == 0:
        return "Over these sizes a doubling of the training set changes mean validation accuracy by less than the digits shown."
    word = "adds" if shown > 0 else "costs"
    return (f"Over these sizes each doubling of the training set {word} about {abs(shown):.{DIGITS}f} of mean validation "
            "accuracy (least-squares slope against the logarithm of the size).")


def _gap(sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    (small, first), (large, last) = sized[0], sized[-1]
    gaps = [[measures.accuracy_gap(run) for run in arm["runs"]] for arm in (last, first)]
    c = comparison.compare("train-validation accuracy gap", _label(large), gaps[0], _label(small), gaps[1], relative=False)
    if c.direction == "lower":
        meaning = ("The small set is fitted more closely than it generalises: with fewer images the network can "
                   "memorise more of them.")
    elif c.direction == "higher":
        meaning = ("The gap does not shrink with more images here, so over-fitting to the small set is not what "
                   "held its accuracy down; the small sets rather did not learn enough (see the curves).")
    else:
        meaning = "The gap is the same at both ends of the curve."
    return f"{c.sentence} {meaning}"


def _learned(data: Mapping[str, Any], sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    means = [math.fsum(v) / len(v) for v in (measures.per_run(arm, "val_accuracy") for _, arm in sized)]
    return barely_learned(data, means, "The model learned little at every size")


def _mechanism(sized: list[tuple[int, Mapping[str, Any]]]) -> str:
    (small, first), (large, last) = sized[0], sized[-1]
    parameters = (last.get("parameters") or {}).get("total")
    params = f" The model has {parameters:,} parameters, far more than the smallest set has images." if (
        parameters and parameters > small) else ""
    text = ("A network learns features that generalise from what many images share; with few images it can fit "
            "them by their particulars instead, so its validation accuracy is lower." + params + " More images "
            "cut this variance, but each doubling adds less information that is new, which is why learning curves "
            "are drawn against the logarithm of the size and usually flatten at the right.")
    settings = first.get("settings") or {}
    batch = settings.get("batch_size")
    if settings.get("early_stopping") and batch:
        steps = math.ceil(small / batch), math.ceil(large / batch)
        text += (f" Early stopping counts epochs, and an epoch of {small:,} images is {steps[0]:,} gradient steps "
                 f"against {steps[1]:,} for {large:,} images, so the small sets also get fewer updates before "
                 "the same patience runs out.")
    if batch:
        taken = [(size, [len(run["history"]["loss"]) * math.ceil(size / batch) for run in arm["runs"]])
                 for size, arm in sized]
        listed = "; ".join(f"{size:,} images: {', '.join(f'{n:,}' for n in steps)}" for size, steps in taken)
        text += (f" Gradient steps taken per run ({listed}): part of what the curve shows is the number of updates, "
                 "not only the number of images; the small sets would need more epochs to be compared at equal steps.")
    return text
