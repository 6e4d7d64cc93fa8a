"""Numbers as the prose shows them: one rounding, one 'mean ± sd', one Markdown escape.

A sentence decides every comparative word from the values returned by :func:`shown`, and
prints them with :func:`fmt`, so the word and the printed numbers always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from coursebook.markdown import escape as md  # noqa: F401  (the prose's name for it)


def shown(value: float, digits: int) -> float:
    """``value`` rounded half-even to ``digits`` decimals as printed; -0.0 becomes 0.0.

    >>> shown(0.12344, 4), shown(-0.00001, 2)
    (0.1234, 0.0)
    """
    return round(float(value), digits) + 0.0


def fmt(value: float, digits: int) -> str:
    """``value`` printed with ``digits`` decimals (after :func:`shown`).

    >>> fmt(0.5, 4), fmt(-0.4, 0)
    ('0.5000', '0')
    """
    return f"{shown(value, digits):.{digits}f}"


def finite_values(values: float | Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """``values`` as a 1-d float array; raise naming ``what`` if empty or not all finite."""
    array = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    if array.size == 0:
        raise ValueError(f"{what}: no values")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: a value is not finite: {array.tolist()}")
    return array


def mean(values: np.ndarray) -> float:
    """Exactly rounded mean (``math.fsum``)."""
    return math.fsum(values.tolist()) / values.size


def sd(values: np.ndarray | Sequence[float]) -> float | None:
    """Sample standard deviation (ddof=1), None for a single value, exactly 0.0 when the values
    agree to floating-point precision (``[0.78] * 3`` has no spread, not one of 1e-17).

    >>> sd(np.array([0.78] * 3)), sd(np.array([1.0]))
    (0.0, None)
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return None
    if float(np.max(values) - np.min(values)) <= 1e-12 * max(1.0, float(np.max(np.abs(values)))):
        return 0.0
    return float(np.std(values, ddof=1))


def mean_sd(values: float | Sequence[float] | np.ndarray, digits: int = 4, what: str = "values") -> str:
    """'0.7231' for one value, '0.7231 ± 0.0040' (mean ± sample sd) for several; never 'nan'.

    >>> mean_sd([0.5, 0.7], 2), mean_sd(3.14159, 2)
    ('0.60 ± 0.14', '3.14')
    """
    array = finite_values(values, what)
    text, spread = fmt(mean(array), digits), sd(array)  # sd: None for one value
    return text if spread is None else f"{text} ± {fmt(spread, digits)}"


def join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if not items:
        raise ValueError("join: nothing to join")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def epochs(count: int) -> str:
    """'1 epoch', '5 epochs'."""
    return f"{count} epoch" + ("" if count == 1 else "s")


def runs(count: int) -> str:
    """'1 run', '3 runs'."""
    return f"{count} run" + ("" if count == 1 else "s")


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
