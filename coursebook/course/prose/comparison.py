"""Two variants on one metric: the direction word from the shown means, the size of the
difference, and whether Welch's t-test and the pooled sd say it exceeds run-to-run noise."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course import history
from coursebook.course.prose.numbers import finite_values, fmt, mean, mean_sd, md, sd, shown

ALPHA = 0.05

Values = float | Sequence[float] | np.ndarray | pd.Series


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`; ``difference`` and ``relative`` use the shown values."""

    metric: str
    name_a: str
    name_b: str
    mean_a: float
    mean_b: float
    sd_a: float | None
    sd_b: float | None
    n_a: int
    n_b: int
    difference: float
    relative: float | None
    direction: str
    judgement: str | None
    p_value: float | None
    exceeds_noise: bool | None
    sentence: str


def compare(
    metric: str,
    name_a: str,
    values_a: Values,
    name_b: str,
    values_b: Values,
    *,
    higher_is_better: bool | None = None,
    digits: int = 4,
    relative: bool | None = None,
) -> Comparison:
    """Describe how ``name_a`` stands against ``name_b`` (the reference) on ``metric``.

    Values are one number or one number per run (seed). Means are rounded to ``digits``
    decimals; the sentence says "higher"/"lower" from the rounded means, "the same to N
    digits" when they agree, and adds "better"/"worse" when ``higher_is_better`` is given.
    It states the absolute difference and, for losses (or ``relative=True``), the change
    relative to ``name_b``.

    Noise rule, with at least 2 runs of each: the difference is called larger than
    run-to-run noise only when Welch's t-test was computed and gives p < 0.05 (p as shown,
    3 significant digits) AND the shown absolute difference exceeds the shown pooled
    standard deviation sqrt((sd_a**2 + sd_b**2) / 2) (sample sd, ddof=1). When neither
    variant's runs vary, the test is undefined and nothing is claimed (``exceeds_noise`` None),
    as with a single run of either variant.

    >>> compare("validation accuracy", "extra block", 0.7336, "original", 0.7231).sentence[:71]
    'extra block (0.7336) has a higher validation accuracy than original (0.'
    """
    runs_a = finite_values(values_a, f"compare({metric!r}): {name_a!r}")
    runs_b = finite_values(values_b, f"compare({metric!r}): {name_b!r}")
    mean_a, mean_b = mean(runs_a), mean(runs_b)
    shown_a, shown_b = shown(mean_a, digits), shown(mean_b, digits)
    direction = _direction(shown_a, shown_b, digits)
    judgement = _judgement(direction, higher_is_better)
    difference = shown(shown_a - shown_b, digits)
    if relative is None:
        relative = "loss" in metric.lower()
    rel = difference / abs(shown_b) if relative and shown_b != 0 else None
    p_value, exceeds, noise_text = noise_verdict(
        runs_a, runs_b, md(name_a), md(name_b), abs(difference), digits, same=direction.startswith("the same"))
    head = _headline(metric, md(name_a), runs_a, md(name_b), runs_b, direction, judgement, abs(difference),
                     rel, digits)
    return Comparison(
        metric=metric, name_a=name_a, name_b=name_b, mean_a=mean_a, mean_b=mean_b, sd_a=sd(runs_a),
        sd_b=sd(runs_b), n_a=len(runs_a), n_b=len(runs_b), difference=difference, relative=rel,
        direction=direction, judgement=judgement, p_value=p_value, exceeds_noise=exceeds,
        sentence=f"{head} {noise_text}".strip(),
    )


def compare_at_epochs(frame: pd.DataFrame, metric: str, words: str, variant: str, reference: str, *,
                      epochs: history.EpochsPerRun | None = None, higher_is_better: bool | None = None,
                      digits: int = 4) -> Comparison:
    """:func:`compare` on ``metric`` of every run of ``variant`` and ``reference``, each run read
    at its epoch in ``epochs`` (e.g. its evaluated epoch) or, without ``epochs``, at its last
    epoch. ``words`` names the metric; the sentence says which epoch was read when runs differ
    in length or an evaluated epoch was given."""
    a = history.values_at(frame, metric, variant, epochs)
    b = history.values_at(frame, metric, reference, epochs)
    if epochs is not None:
        words = f"{words} at the evaluated epoch"
    elif history.run_lengths(frame[frame["variant"].isin([variant, reference])]).nunique() > 1:
        words = f"{words} at each run's last epoch"
    return compare(words, variant, a, reference, b, higher_is_better=higher_is_better, digits=digits)


def _direction(shown_a: float, shown_b: float, digits: int) -> str:
    if shown_a == shown_b:
        return f"the same to {digits} digits"
    return "higher" if shown_a > shown_b else "lower"


def _judgement(direction: str, higher_is_better: bool | None) -> str | None:
    if higher_is_better is None or direction not in ("higher", "lower"):
        return None
    return "better" if (direction == "higher") == higher_is_better else "worse"


def _headline(metric, name_a, runs_a, name_b, runs_b, direction, judgement, size, rel, digits) -> str:
    """First sentence: the values of both (a's first), the direction word and the size."""
    several = not runs_a.size == runs_b.size == 1
    mean_word = "mean " if several else ""
    note = f" (mean ± sd over {runs_a.size} and {runs_b.size} runs)" if several else ""
    a_part = f"{name_a} ({mean_sd(runs_a, digits)})"
    b_part = f"{name_b} ({mean_sd(runs_b, digits)})"
    if direction.startswith("the same"):
        return f"{a_part} and {b_part} have the same {mean_word}{metric} to {digits} digits{note}."
    word = f"{direction}, i.e. {judgement}," if judgement else direction
    rel_text = f" ({abs(rel):.1%} relative)" if rel is not None else ""
    return f"{a_part} has a {word} {mean_word}{metric} than {b_part}, by {fmt(size, digits)}{rel_text}{note}."


def noise_verdict(runs_a: np.ndarray, runs_b: np.ndarray, name_a: str, name_b: str, size: float, digits: int,
                  *, same: bool) -> tuple[float | None, bool | None, str]:
    """(p value as shown, exceeds noise, sentence) following the rule in :func:`compare`;
    ``size`` is the shown absolute difference. The sentence names both criteria and joins
    them with "although" when they disagree, so it never reads as a contradiction."""
    if same:
        return None, False, ""
    single = [name for name, runs in ((name_a, runs_a), (name_b, runs_b)) if runs.size < 2]
    if len(single) == 2:
        return None, None, "A single run per variant cannot tell whether this difference is real or run-to-run noise."
    if single:
        return None, None, f"With a single run of {single[0]}, this cannot tell whether the difference is real."
    if sd(runs_a) == sd(runs_b) == 0:  # zero spread (to floating-point precision): no test applies
        if min(runs_a.size, runs_b.size) >= 3:
            return None, True, ("Every run of each variant gave the same value, so the difference appeared in "
                                "every run; no test is needed.")
        return None, None, ("Neither variant's runs vary at all, so Welch's t-test is undefined and two runs "
                            "cannot tell whether the difference is real.")
    p = welch_p_value(runs_a, runs_b)
    if not math.isfinite(p):  # pragma: no cover - scipy gives a finite p whenever one group varies
        return None, None, "Welch's t-test is undefined for these runs."
    p_text = f"{p:.3g}"
    pooled = shown(math.sqrt((sd(runs_a) ** 2 + sd(runs_b) ** 2) / 2), digits)
    below, beyond = float(p_text) < ALPHA, size > pooled
    test = f"Welch's t-test gives p = {p_text}, {'below' if below else 'not below'} {ALPHA}"
    spread = (f"the difference {fmt(size, digits)} {'exceeds' if beyond else 'does not exceed'} "
              f"the pooled sd {fmt(pooled, digits)}")
    if below and beyond:
        return float(p_text), True, f"The difference is larger than run-to-run noise: {test}, and {spread}."
    if not below and not beyond:
        return float(p_text), False, f"The difference is within run-to-run noise: {test}, and {spread}."
    if below:  # the test alone would call it real; the spread says otherwise
        return float(p_text), False, f"The difference is within run-to-run noise: although {test}, {spread}."
    return float(p_text), False, f"The difference is within run-to-run noise: {test}, although {spread}."


def welch_p_value(runs_a: np.ndarray, runs_b: np.ndarray) -> float:
    """Two-sided Welch's t-test p value (nan when neither group varies); scipy's precision
    warning for near-equal runs is silenced."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(runs_a, runs_b, equal_var=False).pvalue)
