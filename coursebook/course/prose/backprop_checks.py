"""AML Part 1 in sentences: the hand-written gradients against the values the assignment states
for its own seed, finite differences and automatic differentiation, where gradient descent ended,
and a second run with the page's seed when that is not the assignment's.

The assignment's seed and stated values come from the chapter's parameters (:class:`Stated`); the
reference check always runs with that seed, whatever seed a profile gives the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course.prose.numbers import fmt, shown

STATED_PRECISION = 0.1  # percent: three significant digits are exact to about 0.1%
GRADIENT_TOLERANCE = 1e-5  # relative error; float32 backends (torch) reach about 1e-6


@dataclass(frozen=True)
class Stated:
    """What the assignment states: its NumPy seed, and the loss and dL/db1 its setup should give."""

    seed: int
    loss: float
    db1: tuple[float, ...]


@dataclass
class BackpropChecks:
    """How the analytic gradients compare with every independent reference (``stated_loss``: the
    assignment's value, None when the run is not the assignment's seed)."""

    loss: float
    db1: np.ndarray
    max_rel_error_fd: float
    max_rel_error_autodiff: float
    text: str
    stated_loss: float | None = None


def _values(values: Sequence[float] | np.ndarray, digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}g}" for v in values)


def _agree(error: float) -> str:
    return "agree" if error < GRADIENT_TOLERANCE else "DISAGREE"


def largest_relative_gap(db1: np.ndarray, stated_db1: Sequence[float]) -> float:
    """Largest relative difference of ``db1`` from the stated values, entry by entry, in percent."""
    stated = np.asarray(stated_db1, dtype=float)
    return float(np.max(np.abs(np.asarray(db1) - stated) / np.abs(stated))) * 100


def backprop_checks(
    loss: float, db1: np.ndarray, table: pd.DataFrame, *, seed: int, stated: Stated | None = None
) -> BackpropChecks:
    """Sentences on the analytic gradients: vs the assignment's stated values (when ``seed`` is the
    assignment's, ``stated.seed``), finite differences and autodiff. The gap to the stated values is
    shown to 2 significant digits and judged as shown."""
    fd = float(table["rel_error_finite_difference"].max())
    ad = float(table["rel_error_autodiff"].max()) if "rel_error_autodiff" in table else float("nan")
    checks = BackpropChecks(loss, np.asarray(db1), fd, ad, "")
    confirmed = fd < GRADIENT_TOLERANCE and ad < GRADIENT_TOLERANCE
    autodiff = (
        "automatic differentiation was not computed"
        if np.isnan(ad)
        else f"{_agree(ad)} with the Keras backend's automatic differentiation (largest relative error {ad:.1e})"
    )
    parts = [
        f"The analytic gradients {_agree(fd)} with central finite differences (largest relative "
        f"error {fd:.1e}); {autodiff}."
    ]
    if stated is not None and seed == stated.seed:
        checks.stated_loss = stated.loss
        gap_text = f"{largest_relative_gap(db1, stated.db1):.2g}"
        decimals = len(f"{stated.loss:g}".partition(".")[2])  # as many as the assignment states
        match = "matching" if shown(loss, decimals) == stated.loss else "not matching"
        parts.append(
            f"With the assignment's seed {stated.seed}, the assignment expects L ≈ {stated.loss:g} and dL/db1 ≈ "
            f"[{_values(stated.db1)}]; this run gives L = {loss:.4f} ({match} to the {decimals} decimals stated) "
            f"and dL/db1 = [{_values(db1, 4)}], whose largest relative difference from the stated values, entry by "
            f"entry, is {gap_text}%."
        )
        if float(gap_text) > STATED_PRECISION and confirmed:
            parts.append(
                "Since two independent checks confirm these gradients, the stated dL/db1 is best "
                "read as rounded or approximate."
            )
    elif stated is not None:
        parts.append(
            f"This run uses seed {seed}, not the assignment's seed {stated.seed}, so its values are not "
            "comparable with the ones the assignment states."
        )
    checks.text = " ".join(parts)
    return checks


@dataclass
class SeedRun:
    """One run of the assignment's setup drawn with ``seed``: its loss, dL/db1, gradient checks and
    gradient descent."""

    seed: int
    checks: BackpropChecks
    losses: np.ndarray
    baseline: float


def run_seed(
    seed: int, *, fd_epsilon: float, steps: int, learning_rate: float, stated: Stated | None = None
) -> SeedRun:
    """The whole page's computation for one seed (what the page shows step by step for the
    assignment's seed): forward, backward, the gradient checks and gradient descent."""
    from coursebook.course import backprop

    weights, X, Y_true = backprop.assignment_setup(seed)
    loss = backprop.loss(weights, X, Y_true)
    grads = backprop.gradients(weights, X, Y_true)
    table = backprop.gradient_table(weights, X, Y_true, eps=fd_epsilon)
    _, losses = backprop.train(weights, X, Y_true, steps=steps, learning_rate=learning_rate)
    return SeedRun(
        seed,
        backprop_checks(loss, grads["b1"], table, seed=seed, stated=stated),
        losses,
        constant_predictor_loss(Y_true),
    )


def with_page_seed(
    reference: SeedRun, seed: int, *, fd_epsilon: float, steps: int, learning_rate: float, stated: Stated | None = None
) -> list[SeedRun]:
    """The assignment's run, and beside it a run with the page's ``seed`` when that is another one."""
    if seed == reference.seed:
        return [reference]
    return [reference, run_seed(seed, fd_epsilon=fd_epsilon, steps=steps, learning_rate=learning_rate, stated=stated)]


def runs_table(runs: Sequence[SeedRun]) -> pd.DataFrame:
    """One row per seed: L, dL/db1, the largest relative errors of both checks, and where gradient
    descent ended beside the constant-prediction loss."""
    return pd.DataFrame(
        [
            {
                "seed": run.seed,
                "L": round(run.checks.loss, 4),
                "dL/db1": f"[{_values(run.checks.db1)}]",
                "largest relative error, finite differences": f"{run.checks.max_rel_error_fd:.1e}",
                "largest relative error, autodiff": f"{run.checks.max_rel_error_autodiff:.1e}",
                f"loss after {len(run.losses) - 1:,} steps": round(float(run.losses[-1]), 4),
                "constant-prediction loss": round(run.baseline, 4),
            }
            for run in runs
        ]
    )


def seeds_text(runs: Sequence[SeedRun], stated: Stated) -> str:
    """Which seeds the page ran: the assignment's always (its reference check), the page's own as a
    second run when it differs, with that run's checks and descent verdict."""
    if len(runs) == 1:
        return f"The page's seed is the assignment's ({stated.seed}), so the reference check above is the only run."
    second = runs[1]
    return (
        f"The reference check above always uses the assignment's seed {stated.seed}. This build's seed "
        f"{second.seed} draws other weights, points and labels with the same setup: L = {second.checks.loss:.4f}, "
        f"dL/db1 = [{_values(second.checks.db1)}]. {second.checks.text} "
        f"{training_verdict(second.losses, second.baseline)}"
    )


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
        return (
            f"Gradient descent diverged: the loss is no longer a finite number from step {first_bad} on; "
            "a smaller learning rate is needed."
        )
    start, end, base = (shown(v, digits) for v in (losses[0], losses[-1], baseline))
    if losses.size == 1:
        return (
            f"No gradient-descent step was run (0 steps), so the loss stays at its starting value "
            f"{fmt(start, digits)}; this run says nothing about training."
        )
    peak_step = int(np.argmax(losses))
    peak = shown(losses[peak_step], digits)
    overshoot = (
        f" On the way the loss overshot: it rose to {fmt(peak, digits)} at step {peak_step} before coming "
        "back down, so the learning rate is large enough to overshoot; a smaller one would descend steadily."
        if peak > start and end <= start
        else ""
    )
    relation = (
        "above" if end > base else "below" if end < base else "equal to"
    ) + f" the constant-prediction loss {fmt(base, digits)}"
    if end > start:
        return (
            f"Gradient descent diverged: it raised the loss from {fmt(start, digits)} to {fmt(end, digits)}, "
            f"{relation}. The steps overshoot, so the learning rate is too large; more steps would not help, "
            "a smaller learning rate would."
        )
    moved = (
        f"lowered the loss from {fmt(start, digits)} to {fmt(end, digits)}"
        if end < start
        else f"left the loss at {fmt(start, digits)}"
    )
    text = f"Gradient descent {moved}, which is {relation}"
    if end < base:
        return (
            text
            + (
                f" by {fmt(base - end, digits)}: the network fits a little of the noise in these particular "
                "random labels, which cannot generalize to new points."
            )
            + overshoot
        )
    if end > base and end < start:
        falling = shown(losses[-1], digits) < shown(losses[-2], digits) and not overshoot
        return (
            text
            + (
                f" by {fmt(end - base, digits)}: it has not yet reached the loss of predicting the label "
                "mean" + ("; it was still falling at the last step, so more steps would help." if falling else ".")
            )
            + overshoot
        )
    if end > base:
        return (
            text
            + (
                f" by {fmt(end - base, digits)}: the loss did not change to {digits} decimals in "
                f"{losses.size - 1:,} steps."
            )
            + overshoot
        )
    return (
        text + ": the network has learned the label mean and nothing more, as expected for random labels." + overshoot
    )
