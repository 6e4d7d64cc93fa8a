"""Parameter counts: every layer by formula checked against Keras, and how the count changes
when layers are inserted (E4742 Problem 1b), in sentences computed from the counts."""

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


def verified_total(name: str, *, num_classes: int = 10) -> int:
    """Total parameters by formula, checked against Keras' count of the built model (printed, asserted)."""
    by_formula = models.parameter_summary(name, num_classes=num_classes)
    by_keras = models.keras_parameter_counts(models.build_model(name, num_classes=num_classes))
    match = by_formula == by_keras
    print(f"{name}: by formula {by_formula['total']:,}, by Keras {by_keras['total']:,}, match: {match}")
    if not match:
        raise AssertionError(f"{name}: formula {by_formula} and Keras {by_keras} disagree")
    return by_formula["total"]


def layers_table(arms: Sequence[Any], *, num_classes: int = 10) -> pd.DataFrame:
    """Every distinct model of ``arms`` (objects with ``model``) layer by layer, by formula and checked
    against Keras (:func:`verified_table`), each followed by its total row and, where there are several,
    named on its first row."""
    frames, done = [], set()
    for arm in arms:
        if arm.model in done:
            continue
        done.add(arm.model)
        table = verified_table(arm.model, num_classes=num_classes).drop(columns=["keras"])
        total = {
            "layer": "total",
            "output_shape": "",
            "formula": "",
            **{c: int(table[c].sum()) for c in ("params", "trainable", "non_trainable")},
        }
        frames.append(
            pd.concat([table, pd.DataFrame([total])], ignore_index=True).assign(model=[arm.model] + [""] * len(table))
        )
    combined = pd.concat(frames, ignore_index=True)
    if len(frames) == 1:
        return combined.drop(columns="model")
    return combined[["model", *[c for c in combined.columns if c != "model"]]]


def _signature(layer: models.LayerSpec) -> str:
    return f"{layer.type}:{sorted(layer.options.items())}"


def _first_dense(spec: models.ModelSpec) -> int:
    """Index of the first dense layer; a clear error for a spec without one."""
    types = [layer.type for layer in spec.layers]
    if "dense" not in types:
        raise ValueError(
            f"parameter_change: model {spec.name!r} has no dense layer (its layers: {', '.join(types)}); "
            "the explanation follows how the first dense layer's inputs change"
        )
    return types.index("dense")


def _dense_input(spec: models.ModelSpec, table: pd.DataFrame) -> DenseInput:
    """Find the first dense layer and the feature map that Flatten or global pooling turns into its input."""
    types = [layer.type for layer in spec.layers]
    first_dense = _first_dense(spec)
    reductions = [i for i in range(first_dense) if types[i] in ("flatten", "gap")]
    params = int(table.iloc[first_dense]["params"])
    if not reductions:
        shape = tuple(spec.input_shape)
        return DenseInput(params, "input", models.format_shape(shape), int(np.prod(shape)))
    r = reductions[-1]
    feature_map = table.iloc[r - 1]["output_shape"] if r > 0 else models.format_shape(tuple(spec.input_shape))
    size = int(np.prod([int(v) for v in table.iloc[r]["output_shape"].strip("(),").split(",") if v.strip()]))
    return DenseInput(params, types[r], feature_map, size)


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
    matcher = difflib.SequenceMatcher(
        a=[_signature(layer) for layer in base_spec.layers],
        b=[_signature(layer) for layer in ext_spec.layers],
        autojunk=False,
    )
    opcodes = matcher.get_opcodes()
    differing = [op for op in opcodes if op[0] != "equal"]
    shared = {i1 + k: j1 + k for op, i1, i2, j1, _ in opcodes if op == "equal" for k in range(i2 - i1)}
    first_base, first_ext = _first_dense(base_spec), _first_dense(ext_spec)
    only_ext = ext_table.iloc[[j for _, _, _, j1, j2 in differing for j in range(j1, j2)]]
    only_base = base_table.iloc[[i for _, i1, i2, _, _ in differing for i in range(i1, i2)]]
    change = ParameterChange(
        int(base_table["params"].sum()),
        int(ext_table["params"].sum()),
        only_ext,
        only_base,
        _dense_input(base_spec, base_table),
        _dense_input(ext_spec, ext_table),
        dense_shared=shared.get(first_base) == first_ext,
        text="",
    )
    change.text = _parameter_change_text(change, base, extended)
    return change


def _layer_list(rows: pd.DataFrame) -> str:
    return ", ".join(f"{row.layer} ({row.params:,})" for row in rows.itertuples())


def _parameter_change_text(c: ParameterChange, base: str, extended: str) -> str:
    diff = c.difference
    parts = [
        f"`{extended}` learns {c.extended_total:,} parameters against {c.base_total:,} for `{base}`"
        + (
            ": the same number."
            if diff == 0
            else f": {abs(diff):,} {'more' if diff > 0 else 'fewer'} ({diff / c.base_total:+.1%})."
        )
    ]
    if len(c.only_in_extended):
        parts.append(
            f"Layers only in `{extended}` hold {c.added_params:,} parameters ({_layer_list(c.only_in_extended)})."
        )
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
    terms = [f"{c.added_params:,}"] if c.added_params or not c.removed_params else [f"−{c.removed_params:,}"]
    terms += [_signed(-c.removed_params)] if c.removed_params and c.added_params else []
    terms += [_signed(dense_change) + " (first dense layer)"] if dense_change else []
    terms += [_signed(other) + " (other shared layers)"] if other else []
    if len(terms) > 1:
        parts.append(f"Net change: {' '.join(terms)} = {diff:+,}.")
    return " ".join(parts)


def _signed(value: int) -> str:
    return f"{'+' if value >= 0 else '−'} {abs(value):,}"
