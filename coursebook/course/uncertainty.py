"""How far a measured value or difference can be trusted, from everything a run measured: the
evaluation set's sampling error always (an accuracy on n images is a binomial proportion), the
spread over seeds where an arm has several, and the rounding both allow.

Runs store confusion matrices, not per-image predictions, so two models scored on the same images
cannot be paired image by image: a difference of two accuracies gets the standard error of a
difference of two independent proportions, which overstates it when the models err on the same
images (the verdicts are then on the cautious side), and the pages say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z = 2.0  # a difference within Z standard errors is "the same within ±Z·SE"


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` images: √(p(1 − p)/n)."""
    if n <= 0:
        raise ValueError(f"an accuracy needs at least one image, got n = {n}")
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(p * (1 - p) / n)


def difference_se(a: float, b: float, n: int) -> float:
    """Standard error of the difference of two accuracies, each on ``n`` images (unpaired)."""
    return math.hypot(binomial_se(a, n), binomial_se(b, n))


def seed_se(values: Sequence[float]) -> float | None:
    """Standard error of a mean over seeds (None with fewer than two)."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


def decimals(uncertainty: float, most: int = 4, least: int = 2) -> int:
    """Decimals that show a value to the first significant digit of its ``uncertainty`` (at least
    ``least``, at most ``most``)."""
    if not uncertainty or not math.isfinite(uncertainty):
        return most
    return max(least, min(most, -math.floor(math.log10(abs(uncertainty)))))


def rounded(value: float, uncertainty: float, most: int = 4) -> str:
    """``value`` with the decimals its uncertainty supports (never '-0.00')."""
    places = decimals(uncertainty, most)
    text = f"{round(float(value), places) + 0.0:.{places}f}"
    return text


@dataclass(frozen=True)
class Difference:
    """A difference (arm − reference) of two means with the standard error it is judged by and
    where that error comes from (``basis``)."""

    value: float
    se: float
    basis: str

    @property
    def margin(self) -> float:
        return Z * self.se

    @property
    def beyond(self) -> bool:
        """Whether the difference lies outside ±Z standard errors."""
        return abs(self.value) > self.margin

    @property
    def direction(self) -> str:
        """'higher' or 'lower' beyond the margin, else 'same'."""
        if not self.beyond:
            return "same"
        return "higher" if self.value > 0 else "lower"

    def text(self) -> str:
        """'+0.031 ± 0.022': the margin to two significant digits, the difference to the same decimals."""
        places = min(decimals(self.margin) + 1, 4)
        value = round(self.value, places) + 0.0
        return f"{'+' if value > 0 else ''}{value:.{places}f} ± {self.margin:.{places}f}"


def accuracy_difference(arm: Sequence[float], reference: Sequence[float], n: int) -> Difference:
    """Mean accuracy of ``arm`` minus that of ``reference`` (per-seed values), both on ``n`` images:
    judged by the larger of the sampling error of a difference of two proportions and, with two or
    more seeds per arm, the seeds' standard error of the difference."""
    a, b = math.fsum(arm) / len(arm), math.fsum(reference) / len(reference)
    sampling = difference_se(a, b, n)
    arm_se, reference_se = seed_se(arm), seed_se(reference)
    spread = math.hypot(arm_se, reference_se) if arm_se is not None and reference_se is not None else None
    if spread is not None and spread > sampling:
        return Difference(a - b, spread, f"the spread over seeds, {len(arm)} and {len(reference)} runs")
    return Difference(a - b, sampling, f"the sampling error of {n:,} images")


def mean_difference(arm: Sequence[float], reference: Sequence[float]) -> Difference | None:
    """A difference of means judged by the seeds alone (losses, times); None with fewer than two
    seeds in an arm."""
    arm_se, reference_se = seed_se(arm), seed_se(reference)
    if arm_se is None or reference_se is None:
        return None
    a, b = math.fsum(arm) / len(arm), math.fsum(reference) / len(reference)
    spread = math.hypot(arm_se, reference_se)
    return Difference(a - b, spread, f"the spread over seeds, {len(arm)} and {len(reference)} runs")
