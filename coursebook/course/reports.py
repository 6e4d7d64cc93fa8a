"""Prose for the chapters that train nothing, computed from the numbers it states.

``parameter_change`` explains how a model's parameter count changes when layers are inserted
(E4742 Problem 1b); ``backprop_checks`` states how the hand-written gradients compare with the
assignment's values, finite differences and automatic differentiation (AML Part 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coursebook.course import models


@dataclass
class DenseInput:
    """What feeds a model's first dense layer: the feature map and how it is reduced to a vector."""

    layer_params: int  # parameters of the first dense layer
    reduction: str  # "flatten", "gap" or "input" (the model input is already a vector)
    feature_map: str  # shape before the reduction, e.g. "(4, 4, 128)"
    size: int  # number of values the dense layer receives


@dataclass
class ParameterChange:
    """Counts of two architectures and what their difference is made of."""

    base_total: int
    extended_total: int
    only_in_extended: pd.DataFrame  # layer rows of `extended` that `base` does not have
    only_in_base: pd.DataFrame  # layer rows of `base` that `extended` does not have
    dense_base: DenseInput
    dense_extended: DenseInput
    dense_shared: bool  # the first dense layer is the same layer (same options) in both
    text: str

    @property
    def difference(self) -> int:
        return self.extended_total - self.base_total

    @property
    def added_params(self) -> int:
        return int(self.only_in_extended["params"].sum())

    @property
    def removed_params(self) -> int:
        return int(self.only_in_base["params"].sum())

    @property
    def first_dense_before(self) -> int:
        return self.dense_base.layer_params

    @property
    def first_dense_after(self) -> int:
        return self.dense_extended.layer_params


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


def layers_table(arms: Sequence[Any], *, num_classes: int = 10) -> pd.DataFrame:
    """Every distinct model of ``arms`` (objects with ``name`` and ``model``) layer by layer, by formula
    and checked against Keras (:func:`verified_table`), each followed by its total row."""
    frames, done = [], set()
    for arm in arms:
        if arm.model in done:
            continue
        done.add(arm.model)
        table = verified_table(arm.model, num_classes=num_classes).drop(columns=["keras"])
        users = ", ".join(a.name for a in arms if a.model == arm.model)
        total = {"layer": "total", "output_shape": "", "formula": "",
                 **{c: int(table[c].sum()) for c in ("params", "trainable", "non_trainable")}}
        frames.append(pd.concat([table, pd.DataFrame([total])], ignore_index=True)
                      .assign(model=[f"{arm.model} ({users})"] + [""] * len(table)))
    combined = pd.concat(frames, ignore_index=True)
    return combined[["model", *[c for c in combined.columns if c != "model"]]]


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


def _dense_input(spec: models.ModelSpec, table: pd.DataFrame) -> DenseInput:
    """Find the first dense layer and the feature map that Flatten or global pooling turns into its input."""
    types = [layer.type for layer in spec.layers]
    first_dense = types.index("dense")
    reductions = [i for i in range(first_dense) if types[i] in ("flatten", "gap")]
    params = int(table.iloc[first_dense]["params"])
    if not reductions:
        shape = tuple(spec.input_shape)
        return DenseInput(params, "input", _shape_text(shape), int(np.prod(shape)))
    r = reductions[-1]
    feature_map = table.iloc[r - 1]["output_shape"] if r > 0 else _shape_text(tuple(spec.input_shape))
    size = int(np.prod([int(v) for v in table.iloc[r]["output_shape"].strip("(),").split(",") if v.strip()]))
    return DenseInput(params, types[r], feature_map, size)


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def _change_word(before: float, after: float, up: str, down: str, same: str) -> str:
    return up if after > before else down if after < before else same


def _ratio_words(before: int, after: int) -> str:
    if after * 2 == before:
        return "half as many"
    if after == before * 2:
        return "twice as many"
    return f"{after / before:.3g} times as many"


REDUCTION_WORDS = {"flatten": "flattened", "gap": "globally average-pooled", "input": "input vector"}


def parameter_change(base: str, extended: str, *, num_classes: int = 10) -> ParameterChange:
    """Compare two architectures' formula counts and explain the difference in sentences."""
    base_spec, ext_spec = models.load_spec(base), models.load_spec(extended)
    base_table = models.parameter_table(base_spec, num_classes=num_classes)
    ext_table = models.parameter_table(ext_spec, num_classes=num_classes)
    matcher = difflib.SequenceMatcher(a=[_signature(l) for l in base_spec.layers],
                                      b=[_signature(l) for l in ext_spec.layers], autojunk=False)
    opcodes = matcher.get_opcodes()
    differing = [op for op in opcodes if op[0] != "equal"]
    shared = {i1 + k: j1 + k for op, i1, i2, j1, _ in opcodes if op == "equal" for k in range(i2 - i1)}
    first_base = [layer.type for layer in base_spec.layers].index("dense")
    first_ext = [layer.type for layer in ext_spec.layers].index("dense")
    only_ext = ext_table.iloc[[j for _, _, _, j1, j2 in differing for j in range(j1, j2)]]
    only_base = base_table.iloc[[i for _, i1, i2, _, _ in differing for i in range(i1, i2)]]
    change = ParameterChange(int(base_table["params"].sum()), int(ext_table["params"].sum()), only_ext, only_base,
                             _dense_input(base_spec, base_table), _dense_input(ext_spec, ext_table),
                             dense_shared=shared.get(first_base) == first_ext, text="")
    change.text = _parameter_change_text(change, base, extended)
    return change


def _layer_list(rows: pd.DataFrame) -> str:
    return ", ".join(f"{row.layer} ({row.params:,})" for row in rows.itertuples())


def _parameter_change_text(c: ParameterChange, base: str, extended: str) -> str:
    diff = c.difference
    parts = [f"`{extended}` learns {c.extended_total:,} parameters against {c.base_total:,} for `{base}`"
             + (": the same number." if diff == 0 else
                f": {abs(diff):,} {'more' if diff > 0 else 'fewer'} ({diff / c.base_total:+.1%}).")]
    if len(c.only_in_extended):
        parts.append(f"Layers only in `{extended}` hold {c.added_params:,} parameters ({_layer_list(c.only_in_extended)}).")
    if len(c.only_in_base):
        parts.append(f"Layers only in `{base}` hold {c.removed_params:,} parameters ({_layer_list(c.only_in_base)}).")
    dense_change = (c.first_dense_after - c.first_dense_before) if c.dense_shared else 0
    layers_change = c.added_params - c.removed_params
    if dense_change:
        connector = "Yet" if layers_change and (layers_change > 0) != (dense_change > 0) else "And"
        a, b = c.dense_base, c.dense_extended
        parts.append(
            f"{connector} the first dense layer {_change_word(a.layer_params, b.layer_params, 'grows', 'shrinks', '')} "
            f"from {a.layer_params:,} to {b.layer_params:,} parameters ({dense_change:+,}): a dense layer has one "
            f"weight per input and unit plus one bias per unit, and its inputs are the {REDUCTION_WORDS[a.reduction]} "
            f"{a.feature_map} → {a.size:,} values in `{base}` and the {REDUCTION_WORDS[b.reduction]} {b.feature_map} → "
            f"{b.size:,} values in `{extended}`: {_ratio_words(a.size, b.size)} inputs."
        )
    other = diff - layers_change - dense_change
    terms = ([f"{c.added_params:,}"] if c.added_params or not c.removed_params else [f"−{c.removed_params:,}"])
    terms += [_signed(-c.removed_params)] if c.removed_params and c.added_params else []
    terms += ([_signed(dense_change) + " (first dense layer)"] if dense_change else [])
    terms += ([_signed(other) + " (other shared layers)"] if other else [])
    if len(terms) > 1:
        parts.append(f"Net change: {' '.join(terms)} = {diff:+,}.")
    return " ".join(parts)


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


GRADIENT_TOLERANCE = 1e-5  # relative error; float32 backends (torch) reach about 1e-6


def _agree(error: float) -> str:
    return "agree" if error < GRADIENT_TOLERANCE else "DISAGREE"


def backprop_checks(loss: float, db1: np.ndarray, table: pd.DataFrame, *, seed: int) -> BackpropChecks:
    """Sentences on the analytic gradients: vs the assignment's stated values, FD and autodiff."""
    fd = float(table["rel_error_finite_difference"].max())
    ad = float(table["rel_error_autodiff"].max()) if "rel_error_autodiff" in table else float("nan")
    checks = BackpropChecks(loss, np.asarray(db1), fd, ad, "")
    confirmed = fd < GRADIENT_TOLERANCE and ad < GRADIENT_TOLERANCE
    autodiff = ("automatic differentiation was not computed" if np.isnan(ad) else
                f"{_agree(ad)} with the Keras backend's automatic differentiation (largest relative error {ad:.1e})")
    parts = [f"The analytic gradients {_agree(fd)} with central finite differences (largest relative "
             f"error {fd:.1e}); {autodiff}."]
    if seed == 0:
        db1_gap = np.max(np.abs(np.asarray(db1) - STATED_DB1) / np.abs(STATED_DB1))
        match = "matching" if round(loss, 3) == STATED_LOSS else "not matching"
        parts.append(
            f"The assignment expects L ≈ {STATED_LOSS} and dL/db1 ≈ [{_values(STATED_DB1)}]; this run gives "
            f"L = {loss:.4f} ({match} to the three decimals stated) and dL/db1 = [{_values(db1)}], within "
            f"{db1_gap:.1%} of the stated values entry by entry."
        )
        if db1_gap > 0.001 and confirmed:
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
    if not np.all(np.isfinite(losses)):
        first_bad = int(np.argmin(np.isfinite(losses)))
        return (f"Gradient descent diverged: the loss is no longer a finite number from step {first_bad} on; "
                "a smaller learning rate is needed.")
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
