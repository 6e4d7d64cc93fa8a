"""AML Part 1 in sentences: the hand-written gradients against the assignment's stated values,
finite differences and automatic differentiation, and where gradient descent ended."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course.prose.numbers import fmt, shown

STATED_LOSS = 0.133  # the assignment: "close to L = 0.133"
STATED_DB1 = np.array([0.00492, -0.000581, -0.00066])  # and "dL/db1 = [0.00492, -0.000581, -0.00066]"
STATED_PRECISION = 0.1  # percent: three significant digits are exact to about 0.1%
GRADIENT_TOLERANCE = 1e-5  # relative error; float32 backends (torch) reach about 1e-6


@dataclass
class BackpropChecks:
    """How the analytic gradients compare with every independent reference."""

    loss: float
    db1: np.ndarray
    max_rel_error_fd: float
    max_rel_error_autodiff: float
    text: str


def _values(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


def _agree(error: float) -> str:
    return "agree" if error < GRADIENT_TOLERANCE else "DISAGREE"


def largest_relative_gap(db1: np.ndarray) -> float:
    """Largest relative difference of ``db1`` from the stated values, entry by entry, in percent."""
    return float(np.max(np.abs(np.asarray(db1) - STATED_DB1) / np.abs(STATED_DB1))) * 100


def backprop_checks(loss: float, db1: np.ndarray, table: pd.DataFrame, *, seed: int) -> BackpropChecks:
    """Sentences on the analytic gradients: vs the assignment's stated values, FD and autodiff.
    The gap to the stated values is shown to 2 significant digits and judged as shown."""
    fd = float(table["rel_error_finite_difference"].max())
    ad = float(table["rel_error_autodiff"].max()) if "rel_error_autodiff" in table else float("nan")
    checks = BackpropChecks(loss, np.asarray(db1), fd, ad, "")
    confirmed = fd < GRADIENT_TOLERANCE and ad < GRADIENT_TOLERANCE
    autodiff = ("automatic differentiation was not computed" if np.isnan(ad) else
                f"{_agree(ad)} with the Keras backend's automatic differentiation (largest relative error {ad:.1e})")
    parts = [f"The analytic gradients {_agree(fd)} with central finite differences (largest relative "
             f"error {fd:.1e}); {autodiff}."]
    if seed == 0:
        gap_text = f"{largest_relative_gap(db1):.2g}"
        match = "matching" if shown(loss, 3) == STATED_LOSS else "not matching"
        parts.append(
            f"The assignment expects L ≈ {STATED_LOSS} and dL/db1 ≈ [{_values(STATED_DB1)}]; this run gives "
            f"L = {loss:.4f} ({match} to the three decimals stated) and dL/db1 = [{_values(db1)}], whose largest "
            f"relative difference from the stated values, entry by entry, is {gap_text}%."
        )
        if float(gap_text) > STATED_PRECISION and confirmed:
            parts.append("Since two independent checks confirm these gradients, the stated dL/db1 is best "
                         "read as rounded or approximate.")
    else:
        parts.append(f"This run uses seed {seed}, not the assignment's seed 0, so its values are not "
                     "comparable with the ones the assignment states.")
    checks.text = " ".join(parts)
    return checks


def constant_predictor_loss(y_true: np.ndarray) -> float:
    """Half-MSE of the best constant prediction (the mean label): Var(y)/2."""
    return float(np.var(np.asarray(y_true, dtype=float)) / 2)


def training_verdict(losses: np.ndarray, baseline: float, digits: int = 4) -> str:
    """Where gradient descent ended relative to its start and to the constant-prediction loss,
    every word decided on the values as shown. A loss that ends above where it started (the
    sigmoid network's loss is bounded, so overshooting shows as a rise, not as nan) or becomes
    non-finite is called diverged, with a smaller learning rate as the remedy, never more steps."""
    losses = np.asarray(losses, dtype=float)
    if losses.size == 0:
        raise ValueError("training_verdict: no losses")
    if not np.all(np.isfinite(losses)):
        first_bad = int(np.argmin(np.isfinite(losses)))
        return (f"Gradient descent diverged: the loss is no longer a finite number from step {first_bad} on; "
                "a smaller learning rate is needed.")
    start, end, base = (shown(v, digits) for v in (losses[0], losses[-1], baseline))
    if losses.size == 1:
        return (f"No gradient-descent step was run (0 steps), so the loss stays at its starting value "
                f"{fmt(start, digits)}; this run says nothing about training.")
    peak_step = int(np.argmax(losses))
    peak = shown(losses[peak_step], digits)
    overshoot = (f" On the way the loss overshot: it rose to {fmt(peak, digits)} at step {peak_step} before coming "
                 "back down, so the learning rate is large enough to overshoot; a smaller one would descend steadily."
                 if peak > start and end <= start else "")
    relation = ("above" if end > base else "below" if end < base else "equal to") + \
        f" the constant-prediction loss {fmt(base, digits)}"
    if end > start:
        return (f"Gradient descent diverged: it raised the loss from {fmt(start, digits)} to {fmt(end, digits)}, "
                f"{relation}. The steps overshoot, so the learning rate is too large; more steps would not help, "
                "a smaller learning rate would.")
    moved = f"lowered the loss from {fmt(start, digits)} to {fmt(end, digits)}" if end < start else \
        f"left the loss at {fmt(start, digits)}"
    text = f"Gradient descent {moved}, which is {relation}"
    if end < base:
        return text + (f" by {fmt(base - end, digits)}: the network fits a little of the noise in these particular "
                       "random labels, which cannot generalize to new points.") + overshoot
    if end > base and end < start:
        falling = shown(losses[-1], digits) < shown(losses[-2], digits) and not overshoot
        return text + (f" by {fmt(end - base, digits)}: it has not yet reached the loss of predicting the label "
                       "mean" + ("; it was still falling at the last step, so more steps would help." if falling
                                 else ".")) + overshoot
    if end > base:
        return text + (f" by {fmt(end - base, digits)}: the loss did not change to {digits} decimals in "
                       f"{losses.size - 1:,} steps.") + overshoot
    return text + ": the network has learned the label mean and nothing more, as expected for random labels." + overshoot
