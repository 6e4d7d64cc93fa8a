"""How far a measured value or difference can be trusted, from everything a run measured: the
evaluation set's sampling error always (an accuracy on n images is a binomial proportion), the
spread over seeds where an arm has several, and the rounding both allow.

Two models scored on the same images are compared image by image where the runs recorded which
images they got right: the standard error of the mean per-image difference, which is smaller than
that of two independent proportions when the models err on the same (hard) images. Runs recorded
without it get the independent proportions' error, on the cautious side, and the pages say which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def paired_images_se(arm: Sequence[Sequence[bool]], reference: Sequence[Sequence[bool]]) -> float:
    """Standard error of the difference of two accuracies on the same images, image by image: each
    model's correctness per image (averaged over its runs), their per-image differences' standard
    deviation over √n."""
    a = np.mean(np.asarray(arm, dtype=float), axis=0)
    b = np.mean(np.asarray(reference, dtype=float), axis=0)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"paired images need the same images, at least two: {a.shape} against {b.shape}")
    return float(np.std(a - b, ddof=1) / math.sqrt(a.size))


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


def accuracy_difference(
    arm: Sequence[float],
    reference: Sequence[float],
    n: int,
    paired: bool = False,
    images: tuple[Sequence[Sequence[bool]], Sequence[Sequence[bool]]] | None = None,
) -> Difference:
    """Mean accuracy of ``arm`` minus that of ``reference`` (per-seed values), both on ``n`` images:
    judged by the larger of the sampling error and, with two or more seeds per arm, the seeds'
    standard error of the difference (:func:`seed_difference`). The sampling error is image by image
    (:func:`paired_images_se`) where ``images`` gives each run's correctness per image, else that of
    two independent proportions."""
    a, b = math.fsum(arm) / len(arm), math.fsum(reference) / len(reference)
    if images is not None:
        sampling, basis = paired_images_se(*images), f"the sampling error of {n:,} images, paired image by image"
    else:
        sampling, basis = difference_se(a, b, n), f"the sampling error of {n:,} images"
    seeds = seed_difference(arm, reference, paired)
    if seeds is not None and seeds.se > sampling:
        return seeds
    return Difference(a - b, sampling, basis)


def mean_difference(arm: Sequence[float], reference: Sequence[float], paired: bool = False) -> Difference | None:
    """A difference of means judged by the seeds alone (losses, times); None with fewer than two
    seeds in an arm."""
    return seed_difference(arm, reference, paired)


def seed_difference(arm: Sequence[float], reference: Sequence[float], paired: bool = False) -> Difference | None:
    """``arm`` − ``reference`` with the seeds' standard error; None with fewer than two seeds in an arm.

    ``paired``: the i-th values of both come from one seed, trained on the same data and splits, so
    the error is that of the per-seed differences (what the seed changes in both arms alike cancels);
    otherwise that of two independent means."""
    a, b = math.fsum(arm) / len(arm), math.fsum(reference) / len(reference)
    if paired and len(arm) == len(reference) >= 2:
        se = seed_se([x - y for x, y in zip(arm, reference, strict=True)])
        return Difference(a - b, se or 0.0, f"the spread of the per-seed differences, {len(arm)} seeds paired")
    arm_se, reference_se = seed_se(arm), seed_se(reference)
    if arm_se is None or reference_se is None:
        return None
    spread = math.hypot(arm_se, reference_se)
    return Difference(a - b, spread, f"the spread over seeds, {len(arm)} and {len(reference)} runs")
