"""Prose for the chapters that train nothing, computed from the numbers it states.

``parameter_change`` explains how a model's parameter count changes when layers are inserted
(E4742 Problem 1b); ``backprop_checks`` states how the hand-written gradients compare with the
assignment's values, finite differences and automatic differentiation (AML Part 1).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook import models


@dataclass
class ParameterChange:
    """Counts of a base and an extended model and what the difference is made of."""

    base_total: int
    extended_total: int
    added_layers: pd.DataFrame  # rows of the extended table that the base does not have
    first_dense_before: int
    first_dense_after: int
    flatten_before: int
    flatten_after: int
    map_before: str  # feature-map shape that is flattened, e.g. "(4, 4, 128)"
    map_after: str
    text: str

    @property
    def difference(self) -> int:
        return self.extended_total - self.base_total

    @property
    def added_params(self) -> int:
        return int(self.added_layers["params"].sum())


def verified_table(name: str, *, num_classes: int = 10) -> pd.DataFrame:
    """The per-layer formula table with Keras' count of each built layer beside it (column
    ``keras``); raises if any layer disagrees."""
    table = models.parameter_table(name, num_classes=num_classes)
    model = models.build_model(name, num_classes=num_classes)
    table["keras"] = [model.get_layer(layer).count_params() for layer in table["layer"]]
    wrong = table[table["params"] != table["keras"]]
    if len(wrong):
        raise AssertionError(f"{name}: formula and Keras disagree on layers {wrong['layer'].tolist()}")
    return table


def verified_total(name: str, *, num_classes: int = 10) -> int:
    """Total parameters by formula, checked against Keras' count of the built model (printed, asserted)."""
    by_formula = models.parameter_summary(name, num_classes=num_classes)
    by_keras = models.keras_parameter_counts(models.build_model(name, num_classes=num_classes))
    match = by_formula == by_keras
    print(f"{name}: by formula {by_formula['total']:,}, by Keras {by_keras['total']:,}, match: {match}")
    if not match:
        raise AssertionError(f"{name}: formula {by_formula} and Keras {by_keras} disagree")
    return by_formula["total"]


def _signature(layer: models.LayerSpec) -> str:
    return f"{layer.type}:{sorted(layer.options.items())}"


def _first(table: pd.DataFrame, prefix: str) -> pd.Series:
    return table[table["layer"].str.startswith(prefix)].iloc[0]


def _flat_size(table: pd.DataFrame, dense_index: int) -> int:
    """Number of inputs of the layer at ``dense_index`` (product of the previous output shape)."""
    shape = table.iloc[dense_index - 1]["output_shape"].strip("(),").split(",")
    return int(np.prod([int(s) for s in shape if s.strip()]))


def _change_word(before: float, after: float, up: str, down: str, same: str) -> str:
    return up if after > before else down if after < before else same


def _ratio_words(before: int, after: int) -> str:
    if after * 2 == before:
        return "halves it"
    if after == before * 2:
        return "doubles it"
    return f"changes it by a factor of {after / before:.3g}"


def parameter_change(base: str, extended: str, *, num_classes: int = 10) -> ParameterChange:
    """Compare two architectures' formula counts and explain the difference in sentences."""
    base_spec, ext_spec = models.load_spec(base), models.load_spec(extended)
    base_table = models.parameter_table(base_spec, num_classes=num_classes)
    ext_table = models.parameter_table(ext_spec, num_classes=num_classes)
    matcher = difflib.SequenceMatcher(a=[_signature(l) for l in base_spec.layers],
                                      b=[_signature(l) for l in ext_spec.layers], autojunk=False)
    inserted = [j for op, _, _, j1, j2 in matcher.get_opcodes() if op in ("insert", "replace") for j in range(j1, j2)]
    added = ext_table.iloc[inserted]
    dense_b, dense_e = _first(base_table, "dense"), _first(ext_table, "dense")
    flat_b, flat_e = _flat_size(base_table, dense_b.name), _flat_size(ext_table, dense_e.name)
    totals = (int(base_table["params"].sum()), int(ext_table["params"].sum()))
    map_b, map_e = (t.iloc[max(i - 2, 0)]["output_shape"] for t, i in ((base_table, dense_b.name), (ext_table, dense_e.name)))
    change = ParameterChange(totals[0], totals[1], added, int(dense_b["params"]), int(dense_e["params"]),
                             flat_b, flat_e, map_b, map_e, text="")
    change.text = _parameter_change_text(change, base, extended)
    return change


def _parameter_change_text(c: ParameterChange, base: str, extended: str) -> str:
    diff = c.difference
    more_or_fewer = _change_word(c.base_total, c.extended_total, "more", "fewer", "as many")
    added_list = ", ".join(f"{row.layer} ({row.params:,})" for row in c.added_layers.itertuples()) or "none"
    dense_word = _change_word(c.first_dense_before, c.first_dense_after, "grows", "shrinks", "stays")
    text = (
        f"`{extended}` learns {c.extended_total:,} parameters against {c.base_total:,} for `{base}`: "
        f"{abs(diff):,} {more_or_fewer} ({diff / c.base_total:+.1%}). The inserted layers add "
        f"{c.added_params:,} parameters ({added_list}). "
    )
    dense_change = c.first_dense_after - c.first_dense_before
    if dense_change:
        connector = "Yet" if (c.added_params > 0) != (dense_change > 0) else "In addition,"
        text += (
            f"{connector} the first dense layer {dense_word} from {c.first_dense_before:,} to {c.first_dense_after:,} "
            f"parameters ({dense_change:+,}): a dense layer has one weight per input "
            f"and unit plus one bias per unit, and its input is the flattened feature map: {c.map_before} = "
            f"{c.flatten_before:,} values in `{base}`, {c.map_after} = {c.flatten_after:,} in `{extended}`, so the "
            f"extra block {_ratio_words(c.flatten_before, c.flatten_after)}. "
        )
    other = diff - c.added_params - dense_change
    terms = [f"{c.added_params:,}", _signed(dense_change)] + ([_signed(other) + " (other layers)"] if other else [])
    return text + f"Net change: {' '.join(terms)} = {diff:+,}."


def _signed(value: int) -> str:
    return f"{'+' if value >= 0 else '−'} {abs(value):,}"


@dataclass
class BackpropChecks:
    """How the analytic gradients compare with every independent reference."""

    loss: float
    db1: np.ndarray
    max_rel_error_fd: float
    max_rel_error_autodiff: float
    text: str


STATED_LOSS = 0.133
STATED_DB1 = np.array([0.00492, -0.000581, -0.00066])


def _values(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


def backprop_checks(loss: float, db1: np.ndarray, table: pd.DataFrame, *, seed: int) -> BackpropChecks:
    """Sentences on the analytic gradients: vs the assignment's stated values, FD and autodiff."""
    fd = float(table["rel_error_finite_difference"].max())
    ad = float(table["rel_error_autodiff"].max()) if "rel_error_autodiff" in table else float("nan")
    checks = BackpropChecks(loss, np.asarray(db1), fd, ad, "")
    agree = lambda err, tol: "agree" if err < tol else "DISAGREE"  # noqa: E731
    parts = [
        f"The analytic gradients {agree(fd, 1e-5)} with central finite differences (largest relative "
        f"error {fd:.1e}) and {agree(ad, 1e-5)} with the Keras backend's automatic differentiation "
        f"(largest relative error {ad:.1e})."
    ]
    if seed == 0:
        db1_gap = np.max(np.abs(np.asarray(db1) - STATED_DB1) / np.abs(STATED_DB1))
        match = "matching" if round(loss, 3) == STATED_LOSS else "not matching"
        parts.append(
            f"The assignment expects L ≈ {STATED_LOSS} and dL/db1 ≈ [{_values(STATED_DB1)}]; this run gives "
            f"L = {loss:.4f} ({match} to the three decimals stated) and dL/db1 = [{_values(db1)}], within "
            f"{db1_gap:.1%} of the stated values entry by entry."
        )
        if db1_gap > 0.001:
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
    """Where gradient descent ended relative to its start and to the constant-prediction loss."""
    start, end = round(float(losses[0]), digits), round(float(losses[-1]), digits)
    base = round(baseline, digits)
    moved = _change_word(start, end, "raised", "lowered", "left")
    relation = _change_word(base, end, "above", "below", "equal to")
    text = f"Gradient descent {moved} the loss {'at' if start == end else 'from'} {start:.{digits}f}"
    text += "" if start == end else f" to {end:.{digits}f}"
    text += f", which is {relation} "
    text += f"the constant-prediction loss {base:.{digits}f}"
    if end < base:
        text += (f" by {base - end:.{digits}f}: the network fits a little of the noise in these particular "
                 "random labels, which cannot generalize to new points.")
    elif end > base:
        text += f" by {end - base:.{digits}f}: it has not yet learned even the label mean; more steps would help."
    else:
        text += ": the network has learned the label mean and nothing more, as expected for random labels."
    return text
