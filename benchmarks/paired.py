"""What the benchmarks share: random stand-in images, and pairs of measurements taken back to back.

On a shared machine a whole fit now and then runs up to half slower (other tenants, clock speed). A
ratio of two measurements is therefore taken from pairs run back to back, alternating which side goes
first, and reported as the median of the pairs' ratios, which discards the odd slow fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def random_images(
    n: int, shape: tuple[int, ...] = (32, 32, 3), classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random images in [0, 1) and one-hot labels (an epoch's cost does not depend on pixel values)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape), dtype=np.float32), np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]


def alternating_pairs(
    first: Callable[[], float], second: Callable[[], float], pairs: int
) -> tuple[list[float], list[float]]:
    """``pairs`` measurements of each side, back to back, the first side going first in even pairs."""
    firsts: list[float] = []
    seconds: list[float] = []
    for pair in range(pairs):
        order = ((first, firsts), (second, seconds))
        for measure, into in order if pair % 2 == 0 else order[::-1]:
            into.append(measure())
    return firsts, seconds
