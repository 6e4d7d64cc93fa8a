"""Facts read from training curves, the evidence every answer rests on: pure functions of per-epoch
values (lists of floats, epoch 1 first), each tested against hand-built histories.

- :func:`loss_shape`: where a validation-loss curve bottoms and what it does after: rising beyond
  its epoch-to-epoch noise, flat, or still falling when the budget ran out.
- :func:`climb_after`: what a curve did from one epoch to its last (a training accuracy that goes on
  rising after the validation loss bottomed), against its noise.
- :func:`equal_epochs`: two arms' curves compared epoch by epoch over the epochs both trained (mean
  over seeds at each epoch, and per seed where the seeds pair).
- :func:`epochs_to_mark` and :func:`reachable_mark`: the first epoch a curve reaches a mark, and a
  mark every run reached (a fraction of the lowest best value), so the question is never dodged.
- :func:`total_time`: a run's whole training time beside its time per epoch.
- :func:`where_parameters_sit`: parameters against training images and the largest layer's share.
- :func:`fit_state`: the fit label of one run, from its curve shape and its accuracy gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

FALLING, FLAT, RISING = "still falling", "flat", "rising"
OVER, STILL_IMPROVING, LEVELLED, UNDER = (
    "over-fitting",
    "still improving when the budget ran out",
    "levelled off",
    "under-fitting",
)
MIN_RISE = 0.02  # a rise after the minimum smaller than this share of the minimum is never called rising


def noise(values: Sequence[float]) -> float:
    """Epoch-to-epoch noise of a curve: the robust sd of its second differences (their median
    absolute value over 0.6745) over √6 (for independent noise of sd σ on a smooth trend, a second
    difference has mean 0 and sd σ·√6); 0 with fewer than 3 epochs."""
    series = np.asarray(values, dtype=float)
    if series.size < 3:
        return 0.0
    second = np.diff(series, n=2)
    return float(np.median(np.abs(second)) / 0.6745 / math.sqrt(6))


@dataclass(frozen=True)
class Shape:
    """A loss curve's shape: its lowest epoch (1-based), the values there and at the end, the rise
    after the minimum that counts as beyond noise, and the state (:data:`FALLING`, :data:`FLAT` or
    :data:`RISING`)."""

    epochs: int
    best_epoch: int
    best: float
    last: float
    threshold: float

    @property
    def rise(self) -> float:
        return self.last - self.best

    @property
    def state(self) -> str:
        if self.best_epoch == self.epochs:
            return FALLING
        return RISING if self.rise > self.threshold else FLAT


def loss_shape(losses: Sequence[float]) -> Shape:
    """The shape of a loss curve: minimum, and whether the end lies beyond noise above it (two
    noise sds, at least :data:`MIN_RISE` of the minimum). A curve whose last epoch is its lowest
    is still falling, whatever happened before."""
    series = [float(v) for v in losses]
    if not series:
        raise ValueError("a loss curve needs at least one epoch")
    best_epoch = int(np.argmin(series)) + 1
    best = series[best_epoch - 1]
    threshold = max(2 * noise(series), MIN_RISE * abs(best))
    return Shape(len(series), best_epoch, best, series[-1], threshold)


@dataclass(frozen=True)
class Climb:
    """A curve from one epoch (1-based) to its last: the values at both, and the rise that counts as
    beyond the curve's noise."""

    start_epoch: int
    start: float
    end_epoch: int
    end: float
    threshold: float

    @property
    def rise(self) -> float:
        return self.end - self.start

    @property
    def climbing(self) -> bool:
        return self.end_epoch > self.start_epoch and self.rise > self.threshold


def climb_after(values: Sequence[float], epoch: int) -> Climb:
    """What ``values`` did from ``epoch`` to the last epoch: climbing when the rise exceeds twice the
    curve's noise (and 0.01), the rule :func:`gap_grows` applies to the gap."""
    series = [float(v) for v in values]
    if not 1 <= epoch <= len(series):
        raise ValueError(f"epoch {epoch} is outside the curve's {len(series)} epochs")
    threshold = max(2 * noise(series), 0.01)
    return Climb(epoch, series[epoch - 1], len(series), series[-1], threshold)


def gap_grows(train: Sequence[float], val: Sequence[float], after: int) -> bool:
    """Whether the training − validation accuracy gap at the end exceeds the gap at epoch ``after``
    by more than twice the gap curve's noise (and by at least 0.01)."""
    gaps = np.asarray(train, dtype=float) - np.asarray(val, dtype=float)
    if gaps.size < 2 or after >= gaps.size:
        return False
    return climb_after(gaps, after).climbing


def fit_state(
    val_loss: Sequence[float],
    train_accuracy: Sequence[float],
    val_accuracy: Sequence[float],
    gap_noise: float = 0.0,
    gap: float | None = None,
) -> str:
    """One run's fit: over-fitting needs the validation loss past its minimum and rising beyond
    noise, or flat with a gap that grows; a loss still falling at the last epoch is
    :data:`STILL_IMPROVING` (a limit of the budget, never over-fitting); a flat loss with a training
    accuracy no more than ``gap_noise`` above the validation accuracy is under-fitting (``gap``: the
    evaluated weights' training − validation accuracy, the one a page shows; else the last epoch's);
    otherwise it levelled off."""
    shape = loss_shape(val_loss)
    if shape.state == FALLING:
        return STILL_IMPROVING
    if shape.state == RISING or gap_grows(train_accuracy, val_accuracy, shape.best_epoch):
        return OVER
    if (float(train_accuracy[-1]) - float(val_accuracy[-1]) if gap is None else gap) <= gap_noise:
        return UNDER
    return LEVELLED


@dataclass(frozen=True)
class EqualEpochs:
    """Two arms' curves at each epoch both trained: ``epochs`` (1-based), the seed means of each
    arm, their difference (arm − reference), and per paired seed the differences."""

    epochs: tuple[int, ...]
    arm: tuple[float, ...]
    reference: tuple[float, ...]
    per_seed: Mapping[int, tuple[float, ...]]

    @property
    def difference(self) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(self.arm, self.reference, strict=True))

    def lower_epochs(self) -> tuple[int, ...]:
        """Epochs at which the arm's mean was below the reference's in every paired seed (or, without
        pairs, on the mean)."""
        return self._where(lambda d: d < 0)

    def higher_epochs(self) -> tuple[int, ...]:
        return self._where(lambda d: d > 0)

    def _where(self, test) -> tuple[int, ...]:
        out = []
        for i, epoch in enumerate(self.epochs):
            seeds = [diffs[i] for diffs in self.per_seed.values()]
            if test(self.difference[i]) and all(test(d) for d in seeds):
                out.append(epoch)
        return tuple(out)


def equal_epochs(arm: Mapping[int, Sequence[float]], reference: Mapping[int, Sequence[float]]) -> EqualEpochs:
    """Compare two arms' curves (seed -> per-epoch values) at each epoch that every run of both
    trained; seeds present in both arms also give per-seed differences."""
    runs = [*arm.values(), *reference.values()]
    if not arm or not reference:
        raise ValueError("each arm needs at least one curve")
    common = min(len(values) for values in runs)
    epochs = tuple(range(1, common + 1))
    mean = lambda curves, i: math.fsum(float(c[i]) for c in curves.values()) / len(curves)  # noqa: E731
    paired = {
        seed: tuple(float(arm[seed][i]) - float(reference[seed][i]) for i in range(common))
        for seed in arm
        if seed in reference
    }
    return EqualEpochs(
        epochs, tuple(mean(arm, i) for i in range(common)), tuple(mean(reference, i) for i in range(common)), paired
    )


def epochs_to_mark(values: Sequence[float], mark: float) -> int | None:
    """The first epoch (1-based) whose value reaches ``mark`` (None: never)."""
    for epoch, value in enumerate(values, start=1):
        if float(value) >= mark:
            return epoch
    return None


def reachable_mark(curves: Sequence[Sequence[float]], fraction: float) -> float:
    """A mark every curve reached: ``fraction`` of the lowest of the curves' best values, rounded
    down to two decimals."""
    lowest_best = min(max(float(v) for v in curve) for curve in curves)
    return math.floor(fraction * lowest_best * 100) / 100


def total_time(seconds: Sequence[float]) -> float:
    """A run's whole training time: the sum of its epoch times."""
    return math.fsum(float(s) for s in seconds)


@dataclass(frozen=True)
class ParameterPlace:
    """Where a model's parameters sit: the total, the largest layer, its count and share, and the
    training images they are fitted to."""

    total: int
    largest_layer: str
    largest: int
    images: int

    @property
    def share(self) -> float:
        return self.largest / self.total if self.total else 0.0

    @property
    def per_image(self) -> float:
        return self.total / self.images if self.images else math.inf


def where_parameters_sit(layers: Mapping[str, int], images: int) -> ParameterPlace:
    """``layers`` (layer name -> parameters, in order) against ``images`` training images."""
    if not layers:
        raise ValueError("a model needs at least one layer")
    largest = max(layers, key=lambda name: layers[name])
    return ParameterPlace(int(sum(layers.values())), largest, int(layers[largest]), int(images))
