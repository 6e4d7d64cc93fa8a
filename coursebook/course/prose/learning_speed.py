"""Learning speed: the metric after epoch 1, the first epoch at a threshold, time per epoch.

A threshold counts as reached when the value as shown (rounded to ``digits``) is at least the
threshold, so "0.5000 after epoch 1" never comes with "reaches 0.5 at epoch 2". With several
runs, "reaches" is said of the mean curve (named so), and the per-run epochs follow.
Time per epoch is :func:`coursebook.course.history.epoch_time` of each run, qualified on the page
by :data:`coursebook.course.history.EPOCH_TIME` ("median after epoch 1").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from coursebook.course import history
from coursebook.course.prose.comparison import compare
from coursebook.course.prose.numbers import epochs, fmt, md, mean, runs_note, shown

TIME_METRIC = f"time per epoch in seconds ({history.EPOCH_TIME})"


@dataclass(frozen=True)
class LearningSpeed:
    """Result of :func:`learning_speed`; per-run tuples hold one value per seed.
    ``epochs_to_threshold`` is read on the mean curve (the only curve with one run);
    ``epochs_per_run`` on each run's curve, None where not reached; ``epochs_run`` is each
    run's length and ``n_epochs`` the length of the mean curve (the epochs every run reached);
    ``seconds_per_epoch`` is each run's :func:`history.epoch_time`."""

    variant: str
    metric: str
    threshold: float
    first_epoch: tuple[float, ...]
    epochs_to_threshold: int | None
    n_epochs: int
    seconds_per_epoch: tuple[float, ...] | None
    sentence: str
    epochs_per_run: tuple[int | None, ...]
    epochs_run: tuple[int, ...] = ()
    digits: int = 4


def learning_speed(
    frame: pd.DataFrame,
    threshold: float = 0.6,
    *,
    metric: str = "accuracy",
    variant: str | None = None,
    digits: int = 4,
) -> LearningSpeed:
    """Metric after epoch 1, first epoch where the (seed-mean) metric as shown reaches
    ``threshold``, and each run's seconds per epoch (when the history has a "seconds" metric)."""
    rows = history.select(frame, variant)
    timed = "seconds" in set(rows["metric"])
    history.check(rows, [metric, "seconds"] if timed else [metric], purpose="learning_speed")
    name = str(rows["variant"].iloc[0])
    curves = history.per_seed(rows, metric)
    if curves.index[0] != 1:
        raise ValueError(f"history of {name!r} has no epoch 1 for {metric!r}")
    first = tuple(float(v) for v in curves.iloc[0])
    mean_curve = curves.mean(axis=1, skipna=False).dropna()  # the epochs every run reached
    per_run = tuple(reached_at(curves[seed].dropna(), threshold, digits) for seed in curves)
    seconds = tuple(history.seconds_per_epoch(rows).tolist()) if timed else None
    speed = LearningSpeed(name, metric, threshold, first, reached_at(mean_curve, threshold, digits),
                          len(mean_curve), seconds, "", per_run,
                          tuple(int(curves[seed].count()) for seed in curves), digits)
    return _with_sentence(speed)


def reached_at(curve: pd.Series, threshold: float, digits: int) -> int | None:
    """First epoch whose value as shown (rounded to ``digits``) is at least ``threshold``."""
    reached = [epoch for epoch, value in curve.items() if shown(value, digits) >= threshold]
    return int(reached[0]) if reached else None


def _with_sentence(speed: LearningSpeed) -> LearningSpeed:
    runs = len(speed.first_epoch)
    name = md(speed.variant) + runs_note(speed.epochs_run)
    after = f"{name} reaches {speed.metric} {fmt(mean(np.array(speed.first_epoch)), speed.digits)} after epoch 1"
    curve = "" if runs == 1 else " on the mean curve"
    reach = (f"and {speed.threshold:g} at epoch {speed.epochs_to_threshold}{curve}"
             if speed.epochs_to_threshold is not None
             else f"and{curve} does not reach {speed.threshold:g} within {epochs(speed.n_epochs)}")
    timing = (f", taking {mean(np.array(speed.seconds_per_epoch)):.2f} s per epoch ({history.EPOCH_TIME})"
              if speed.seconds_per_epoch else "")
    return replace(speed, sentence=f"{after} {reach}{timing}.")


def compare_learning_speed(a: LearningSpeed, b: LearningSpeed, *, digits: int = 4) -> str:
    """Compare two variants' speed: metric after epoch 1, epochs to the threshold, time per epoch."""
    if (a.metric, a.threshold) != (b.metric, b.threshold):
        raise ValueError(
            f"cannot compare learning speed on {a.metric!r} >= {a.threshold} with {b.metric!r} >= {b.threshold}"
        )
    parts = [
        compare(f"{a.metric} after epoch 1", a.variant, a.first_epoch, b.variant, b.first_epoch,
                higher_is_better=True, digits=digits).sentence,
        _epochs_to_sentence(a, b) + _epochs_noise(a, b),
    ]
    if a.seconds_per_epoch and b.seconds_per_epoch:
        parts.append(compare(TIME_METRIC, a.variant, a.seconds_per_epoch, b.variant, b.seconds_per_epoch,
                             higher_is_better=False, digits=2, relative=True).sentence)
    return " ".join(parts)


def _several(a: LearningSpeed, b: LearningSpeed) -> bool:
    return len(a.epochs_per_run) > 1 or len(b.epochs_per_run) > 1


def _epochs_to_sentence(a: LearningSpeed, b: LearningSpeed) -> str:
    """Epochs to the threshold on the mean curves (said so when there are several runs)."""
    goal = f"{a.metric} {a.threshold:g}"
    ea, eb = a.epochs_to_threshold, b.epochs_to_threshold
    na, nb = md(a.variant), md(b.variant)
    on = "On the mean curves, " if _several(a, b) else ""

    def lead(word: str) -> str:  # the sentence's first word, unless "On the mean curves, " precedes it
        return on + (word if on else word.capitalize())

    if ea is None and eb is None:
        return (f"{lead('neither')} reaches {goal} ({na} within {epochs(a.n_epochs)}, "
                f"{nb} within {epochs(b.n_epochs)}).")
    if ea is None or eb is None:
        fast, slow = (b, a) if ea is None else (a, b)
        return (f"{lead('only')} {md(fast.variant)} reaches {goal} (at epoch {fast.epochs_to_threshold}); "
                f"{md(slow.variant)} does not within {epochs(slow.n_epochs)}.")
    if ea == eb:
        return f"{on}{na} and {nb} both reach {goal} at epoch {ea}."
    word = "fewer" if ea < eb else "more"
    return f"{on}{na} needs {word} epochs than {nb} to reach {goal} ({ea} vs {eb})."


def _epochs_noise(a: LearningSpeed, b: LearningSpeed) -> str:
    """After a difference in epochs to the threshold: the single-run caveat of :func:`compare`,
    or, with several runs each, the epochs per run and whether every run of the faster
    variant reaches the threshold before any run of the slower one (not reached counts as
    later than any epoch)."""
    ea, eb = a.epochs_to_threshold, b.epochs_to_threshold
    if ea == eb:
        return ""
    single = [md(s.variant) for s in (a, b) if len(s.epochs_per_run) < 2]
    if len(single) == 2:
        return " A single run per variant cannot tell whether this difference is real or run-to-run noise."
    if single:
        return f" With a single run of {single[0]}, this cannot tell whether the difference is real."
    fast, slow = (a, b) if _later(eb, ea) else (b, a)
    separated = _later(min(slow.epochs_per_run, key=_order), max(fast.epochs_per_run, key=_order))
    verdict = (f"every run of {md(fast.variant)} reaches it before any run of {md(slow.variant)}" if separated
               else "the runs overlap, so this difference is within run-to-run noise")
    return f" Per run, {md(a.variant)} {per_run_text(a)} and {md(b.variant)} {per_run_text(b)}: {verdict}."


def per_run_text(speed: LearningSpeed) -> str:
    """'reaches it at epochs 3, 2, 2', 'reaches it in 1 of 2 runs (at epoch 2)',
    'reaches it in none of its 3 runs'."""
    reached = [str(epoch) for epoch in speed.epochs_per_run if epoch is not None]
    total = len(speed.epochs_per_run)
    if not reached:
        return f"reaches it in none of its {total} runs"
    at = f"at epoch{'s' if len(reached) > 1 else ''} {', '.join(reached)}"
    if len(reached) == total:
        return f"reaches it {at}"
    return f"reaches it in {len(reached)} of {total} runs ({at})"


def _order(epoch: int | None) -> float:
    return math.inf if epoch is None else epoch


def _later(first: int | None, second: int | None) -> bool:
    """Whether reaching at ``first`` is later than at ``second`` (None: never reached)."""
    return _order(first) > _order(second)
