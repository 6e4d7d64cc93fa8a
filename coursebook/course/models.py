"""Architectures as data: model specs in ``params/models/<name>.yaml``, one Keras builder,
and parameter counts derived by formula (checked against Keras' own count).

A spec lists layers as ``{type: {option: value}}`` or a bare type name::

    input_shape: [32, 32, 3]
    layers:
      - conv: {filters: 32, kernel: 3, padding: same, activation: relu}
      - maxpool: {size: 2}
      - flatten
      - dense: {units: num_classes, activation: softmax}

Loading validates every layer and option, fills in the defaults and infers every output
shape, so a broken spec fails with the file, layer index and key before any training.
Keras is imported only by :func:`build_model` and :func:`keras_parameter_counts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coursebook import checks
from coursebook.book import paths
from coursebook.checks import REQUIRED
from coursebook.yamlfile import safe_load

NUM_CLASSES = "num_classes"
ACTIVATIONS = frozenset(
    {
        "elu",
        "exponential",
        "gelu",
        "hard_sigmoid",
        "leaky_relu",
        "linear",
        "log_softmax",
        "mish",
        "relu",
        "relu6",
        "selu",
        "sigmoid",
        "silu",
        "softmax",
        "softplus",
        "softsign",
        "swish",
        "tanh",
    }
)
Shape = tuple[int, ...]


class ModelSpecError(ValueError):
    """A model spec that cannot describe a model; the message names file, layer and key."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its type and its options, defaults filled in."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """One architecture as loaded from ``params/models/<name>.yaml``."""

    name: str
    title: str
    source: str
    input_shape: Shape
    layers: list[LayerSpec]
    description: str = ""
    path: Path | None = None


SpecLike = ModelSpec | str | Path


# --- option checks (coursebook.checks): each returns the normalized value or raises Invalid ---

POSITIVE = checks.integer(1)
PAIR = checks.Check(
    "a positive int or a list of two",
    lambda v: POSITIVE.test(v) or (isinstance(v, list) and len(v) == 2 and all(map(POSITIVE.test, v))),
    {"anyOf": [POSITIVE.schema, {"type": "array", "items": POSITIVE.schema, "minItems": 2, "maxItems": 2}]},
    lambda v: tuple(v) if isinstance(v, list) else (v, v),
)
PADDING = checks.choice(("valid", "same"))
ACTIVATION = checks.choice(sorted(ACTIVATIONS))
UNITS = checks.Check(
    f"{NUM_CLASSES} or {POSITIVE.allowed}",
    lambda v: v == NUM_CLASSES or POSITIVE.test(v),
    {"anyOf": [{"const": NUM_CLASSES}, POSITIVE.schema]},
)


def _maxpool_strides(options: dict[str, Any]) -> dict[str, Any]:
    """A pooling window moves by its own size unless told otherwise."""
    return {**options, "strides": options["strides"] or options["size"]}


LAYER_OPTIONS: dict[str, checks.Options] = {
    "conv": {
        "filters": (POSITIVE, REQUIRED),
        "kernel": (PAIR, REQUIRED),
        "strides": (PAIR, (1, 1)),
        "padding": (PADDING, "valid"),
        "activation": (checks.optional(ACTIVATION), None),
        "use_bias": (checks.boolean, True),
    },
    "maxpool": {"size": (PAIR, REQUIRED), "strides": (checks.optional(PAIR), None), "padding": (PADDING, "valid")},
    "flatten": {},
    "dense": {
        "units": (UNITS, REQUIRED),
        "activation": (checks.optional(ACTIVATION), None),
        "use_bias": (checks.boolean, True),
    },
    "dropout": {"rate": (checks.number(0, 1, high_open=True), REQUIRED)},
    "batchnorm": {"center": (checks.boolean, True), "scale": (checks.boolean, True)},
    "activation": {"name": (ACTIVATION, REQUIRED)},
    "gap": {},
}
LAYER_FINISH = {"maxpool": _maxpool_strides}
INPUT_SHAPE = checks.Check(
    "[height, width, channels] or [features] of positive ints",
    lambda v: isinstance(v, list) and len(v) in (1, 3) and all(map(POSITIVE.test, v)),
    {"type": "array", "items": POSITIVE.schema, "minItems": 1, "maxItems": 3},
    tuple,
)


def _layer(entry: Any) -> LayerSpec:
    """One entry of ``layers``: ``type`` or ``{type: {options}}``, options checked, defaults filled."""
    if (parsed := layer_entry(entry)) is None or not isinstance(parsed[0], str):
        raise checks.Invalid(
            f"a layer type or {{type: {{options}}}} with a type in {checks.listed(LAYER_OPTIONS)}", value=entry
        )
    layer_type, options = parsed
    if layer_type not in LAYER_OPTIONS:
        raise checks.Invalid(f"a layer type in {checks.listed(LAYER_OPTIONS)}", value=layer_type)
    try:
        return LayerSpec(
            layer_type, checks.check_options(options, LAYER_OPTIONS[layer_type], finish=LAYER_FINISH.get(layer_type))
        )
    except checks.Invalid as bad:
        raise bad.under(layer_type) from None


def _layers(value: Any) -> list[LayerSpec]:
    if not isinstance(value, list) or not value:
        raise checks.Invalid("a non-empty list of layers", value=value)
    layers = []
    for index, entry in enumerate(value):
        try:
            layers.append(_layer(entry))
        except checks.Invalid as bad:
            raise bad.under(f"[{index}]") from None
    return layers


LAYERS = checks.Check(
    "a non-empty list of layers",
    lambda value: True,
    {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {
                    "enum": sorted(
                        name
                        for name, options in LAYER_OPTIONS.items()
                        if not checks.mapping_schema(options)["required"]
                    )
                },
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "properties": {
                        name: {"anyOf": [checks.mapping_schema(options), {"type": "null"}]}
                        for name, options in LAYER_OPTIONS.items()
                    },
                    "additionalProperties": False,
                },
            ]
        },
    },
    _layers,
)
SPEC_KEYS: checks.Options = {
    "title": (checks.string, REQUIRED),
    "source": (checks.string, REQUIRED),
    "description": (checks.string, ""),
    "input_shape": (INPUT_SHAPE, REQUIRED),
    "layers": (LAYERS, REQUIRED),
}


# --- loading and validation ---------------------------------------------------------------


def available_models() -> list[str]:
    """Names of the specs in ``params/models`` (file stems), sorted."""
    return sorted(p.stem for p in paths.MODELS_DIR.glob("*.yaml"))


def _spec_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(name_or_path)
    path = paths.MODELS_DIR / f"{text}.yaml"
    if not path.is_file():
        raise ModelSpecError(f"unknown model {text!r}: no {path}; available: {available_models()}")
    return path


def has_batch_norm(spec: SpecLike) -> bool:
    """Whether the model has a batch-normalization layer (False for a name with no spec file)."""
    try:
        spec = spec if isinstance(spec, ModelSpec) else load_spec(spec)
    except ModelSpecError:
        return False
    return any(layer.type == "batchnorm" for layer in spec.layers)


def takes_vectors(spec: SpecLike) -> bool:
    """Whether the model's input is one vector per image (its images are flattened before training)."""
    return len(as_spec(spec).input_shape) == 1


def load_spec(name_or_path: str | Path) -> ModelSpec:
    """Load, validate and normalize a spec given by name (``params/models/<name>.yaml``) or path."""
    path = _spec_path(name_or_path)
    if not path.is_file():
        raise ModelSpecError(f"{paths.relative(path)}: model spec file not found")
    try:
        data = safe_load(path.read_text(encoding="utf-8"))  # also rejects a key given twice
    except yaml.YAMLError as error:
        raise ModelSpecError(f"{paths.relative(path)}: not valid YAML: {' '.join(str(error).split())}") from None
    return parse_spec(data, path)


def spec_schema() -> dict[str, Any]:
    """A model spec file as JSON Schema (editors can check ``params/models/*.yaml`` with it)."""
    return {"title": "coursebook model spec", **checks.mapping_schema(SPEC_KEYS)}


def parse_spec(data: Any, path: Path) -> ModelSpec:
    """Validate a spec's YAML data (``path`` names it in errors) and infer its shapes."""
    try:
        parsed = checks.check_options(data, SPEC_KEYS)
    except checks.Invalid as bad:
        raise ModelSpecError(bad.line(paths.relative(path))) from None
    spec = ModelSpec(name=path.stem, path=path, **parsed)
    layer_shapes(spec)  # shape errors surface at load time
    return spec


def layer_entry(entry: Any) -> tuple[Any, Any] | None:
    """A layer list entry, ``"name"`` or ``{name: options}``, as ``(name, options)`` (``{}`` when
    none are given); None when it is neither form. Model specs and augmentation lists share it."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        name, options = next(iter(entry.items()))
        return name, {} if options is None else options
    return None


def as_spec(spec_or_name: SpecLike) -> ModelSpec:
    """A :class:`ModelSpec` as is, or loaded from a name or path."""
    return spec_or_name if isinstance(spec_or_name, ModelSpec) else load_spec(spec_or_name)


# --- shape arithmetic ---------------------------------------------------------------------


def window_output_size(size: int, window: int, stride: int, padding: str) -> int:
    """Output length of a sliding window: ceil(n/s) for 'same', floor((n-k)/s)+1 for 'valid'."""
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def _windowed_shape(
    shape: Shape, window: tuple[int, int], strides: tuple[int, int], padding: str, channels: int
) -> Shape:
    height, width = (window_output_size(n, k, s, padding) for n, k, s in zip(shape[:2], window, strides, strict=True))
    return (height, width, channels)


def _output_shape(layer: LayerSpec, shape: Shape, num_classes: int) -> Shape:
    opts = layer.options
    if layer.type == "conv":
        return _windowed_shape(shape, opts["kernel"], opts["strides"], opts["padding"], opts["filters"])
    if layer.type == "maxpool":
        return _windowed_shape(shape, opts["size"], opts["strides"], opts["padding"], shape[2])
    if layer.type == "flatten":
        return (math.prod(shape),)
    if layer.type == "gap":
        return (shape[2],)
    if layer.type == "dense":
        return (num_classes if opts["units"] == NUM_CLASSES else opts["units"],)
    return shape  # dropout, batchnorm, activation keep the shape


NEEDS_IMAGE = {"conv", "maxpool", "gap"}
NEEDS_VECTOR = {"dense"}


def layer_shapes(spec: ModelSpec, *, num_classes: int = 10, input_shape: Shape | None = None) -> list[Shape]:
    """Output shape of every layer (without the batch axis); raises on impossible shapes."""
    shape = tuple(input_shape or spec.input_shape)
    shapes = []
    for index, layer in enumerate(spec.layers):
        where = f"{paths.relative(spec.path) if spec.path else spec.name}: key 'layers[{index}]' ({layer.type})"
        if layer.type in NEEDS_IMAGE and len(shape) != 3:
            raise ModelSpecError(f"{where} needs a (height, width, channels) input, got {shape}")
        if layer.type in NEEDS_VECTOR and len(shape) != 1:
            raise ModelSpecError(f"{where} needs a flat input (add flatten or gap first), got {shape}")
        shape = _output_shape(layer, shape, num_classes)
        if min(shape) < 1:
            raise ModelSpecError(f"{where}: its input is too small, the output shape would be {shape}")
        shapes.append(shape)
    return shapes


# --- parameter counts by formula ----------------------------------------------------------


def layer_names(spec: ModelSpec) -> list[str]:
    """Readable, unique layer names: the type and its running number (conv1, maxpool1, ...)."""
    counts: dict[str, int] = {}
    names = []
    for layer in spec.layers:
        counts[layer.type] = counts.get(layer.type, 0) + 1
        names.append(f"{layer.type}{counts[layer.type]}")
    return names


TRAINING_FLOPS_FACTOR = 3  # a training step: the forward pass and a backward pass of about twice its cost


def forward_flops(spec_or_name: SpecLike, *, num_classes: int = 10, input_shape: Shape | None = None) -> int:
    """FLOPs of one image's forward pass, from the spec: 2 per multiply-accumulate of every conv
    (kh·kw·c_in per output value) and dense layer (n_in per unit). Biases, activations, pooling
    and normalization are left out (a few per cent). Times :data:`TRAINING_FLOPS_FACTOR` for training."""
    spec = as_spec(spec_or_name)
    shape = tuple(input_shape or spec.input_shape)
    total = 0
    for layer, out in zip(
        spec.layers, layer_shapes(spec, num_classes=num_classes, input_shape=input_shape), strict=True
    ):
        if layer.type == "conv":
            kh, kw = layer.options["kernel"]
            total += 2 * kh * kw * shape[-1] * math.prod(out)
        elif layer.type == "dense":
            total += 2 * shape[-1] * out[-1]
        shape = out
    return total


# A training image's seconds on a 2-core CPU, fitted to the quick book's epochs (both datasets: within a
# factor of 1.5 of 31 of the 34 measured, 1.8 of all): its share of a step's fixed cost and of each batch-normalization
# layer's, its forward FLOPs, and its layers' output values (what memory-bound layers cost)
STEP_SECONDS = 5.0e-3
BATCH_NORM_STEP_SECONDS = 2.8e-3
FLOP_SECONDS = 2.45e-11
VALUE_SECONDS = 2.2e-9


def image_seconds(spec_or_name: SpecLike, batch_size: int, *, num_classes: int = 10) -> float:
    """Rough seconds one training image costs (steps of ``batch_size``) on a 2-core CPU: an order of
    magnitude for planning. An inference pass costs about a third of it per image
    (:data:`TRAINING_FLOPS_FACTOR`)."""
    spec = as_spec(spec_or_name)
    values = sum(math.prod(shape) for shape in layer_shapes(spec, num_classes=num_classes))
    flops = forward_flops(spec, num_classes=num_classes)
    batch_norms = sum(layer.type == "batchnorm" for layer in spec.layers)
    step = STEP_SECONDS + BATCH_NORM_STEP_SECONDS * batch_norms
    return step / batch_size + FLOP_SECONDS * flops + VALUE_SECONDS * values


def _layer_params(layer: LayerSpec, in_shape: Shape, out_shape: Shape) -> tuple[str, int, int]:
    """(formula, trainable, non-trainable) of one layer."""
    opts = layer.options
    if layer.type == "conv":
        (kh, kw), c_in, c_out = opts["kernel"], in_shape[-1], out_shape[-1]
        return _weights_formula(f"{kh}·{kw}·{c_in}", kh * kw * c_in, c_out, opts["use_bias"])
    if layer.type == "dense":
        n_in = in_shape[-1]
        return _weights_formula(f"{n_in}", n_in, out_shape[-1], opts["use_bias"])
    if layer.type == "batchnorm":
        channels, learned = in_shape[-1], int(opts["center"]) + int(opts["scale"])
        formula = f"{learned + 2}·{channels} ({learned}·{channels} trainable)"
        return formula, learned * channels, 2 * channels  # gamma/beta; moving mean/variance
    return "0", 0, 0


def _weights_formula(fan_in_text: str, fan_in: int, units: int, use_bias: bool) -> tuple[str, int, int]:
    if use_bias:
        return f"({fan_in_text} + 1)·{units}", (fan_in + 1) * units, 0
    return f"{fan_in_text}·{units}", fan_in * units, 0


def format_shape(shape: Shape) -> str:
    """A shape as Keras prints it: (32, 32, 3), or (10,) for one axis."""
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def parameter_table(spec_or_name: SpecLike, *, num_classes: int = 10, input_shape: Shape | None = None):
    """One row per layer: layer, output_shape, formula, params, trainable, non_trainable.

    Computed from the spec by formula alone (no Keras): (k·k·C_in + 1)·C_out for a
    convolution, (n_in + 1)·n_out for a dense layer (no ``+ 1`` without bias), 4·C for
    batch normalization (2·C trainable), 0 for everything else.
    """
    import pandas as pd

    spec = as_spec(spec_or_name)
    shapes = layer_shapes(spec, num_classes=num_classes, input_shape=input_shape)
    in_shapes = [tuple(input_shape or spec.input_shape), *shapes[:-1]]
    rows = []
    for name, layer, in_shape, out_shape in zip(layer_names(spec), spec.layers, in_shapes, shapes, strict=True):
        formula, trainable, non_trainable = _layer_params(layer, in_shape, out_shape)
        rows.append(
            {
                "layer": name,
                "output_shape": format_shape(out_shape),
                "formula": formula,
                "params": trainable + non_trainable,
                "trainable": trainable,
                "non_trainable": non_trainable,
            }
        )
    return pd.DataFrame(rows)


def parameter_summary(
    spec_or_name: SpecLike, *, num_classes: int = 10, input_shape: Shape | None = None
) -> dict[str, int]:
    """Totals by formula: ``{"total", "trainable", "non_trainable"}``."""
    table = parameter_table(spec_or_name, num_classes=num_classes, input_shape=input_shape)
    return {
        "total": int(table["params"].sum()),
        "trainable": int(table["trainable"].sum()),
        "non_trainable": int(table["non_trainable"].sum()),
    }


# --- the one Keras builder ----------------------------------------------------------------


def _keras_layer(layer: LayerSpec, name: str, num_classes: int):
    import keras

    opts, image = layer.options, {"data_format": "channels_last"}
    if layer.type == "conv":
        return keras.layers.Conv2D(
            opts["filters"],
            opts["kernel"],
            strides=opts["strides"],
            padding=opts["padding"],
            activation=opts["activation"],
            use_bias=opts["use_bias"],
            name=name,
            **image,
        )
    if layer.type == "maxpool":
        return keras.layers.MaxPooling2D(
            opts["size"], strides=opts["strides"], padding=opts["padding"], name=name, **image
        )
    if layer.type == "dense":
        units = num_classes if opts["units"] == NUM_CLASSES else opts["units"]
        return keras.layers.Dense(units, activation=opts["activation"], use_bias=opts["use_bias"], name=name)
    simple = {
        "flatten": lambda: keras.layers.Flatten(name=name, **image),
        "gap": lambda: keras.layers.GlobalAveragePooling2D(name=name, **image),
        "dropout": lambda: keras.layers.Dropout(opts["rate"], name=name),
        "batchnorm": lambda: keras.layers.BatchNormalization(center=opts["center"], scale=opts["scale"], name=name),
        "activation": lambda: keras.layers.Activation(opts["name"], name=name),
    }
    return simple[layer.type]()


def build_model(
    spec_or_name: SpecLike, *, num_classes: int = 10, input_shape: Shape | None = None, name: str | None = None
):
    """Build the spec as an (uncompiled) ``keras.Sequential`` with layers named as in
    :func:`parameter_table`; ``input_shape`` overrides the spec's (e.g. other image sizes)."""
    import keras

    spec = as_spec(spec_or_name)
    shape = tuple(input_shape or spec.input_shape)
    layer_shapes(spec, num_classes=num_classes, input_shape=shape)  # fail before Keras does
    layers = [
        _keras_layer(layer, layer_name, num_classes)
        for layer, layer_name in zip(spec.layers, layer_names(spec), strict=True)
    ]
    model_name = (name or spec.name).replace("-", "_")
    return keras.Sequential([keras.Input(shape=shape, name="input"), *layers], name=model_name)


def keras_parameter_counts(model) -> dict[str, int]:
    """Keras' own count: ``{"total", "trainable", "non_trainable"}`` from the model's weights."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {"total": int(trainable + non_trainable), "trainable": int(trainable), "non_trainable": int(non_trainable)}


def parameter_overview(names: list[str] | None = None, *, num_classes: int = 10):
    """Every architecture (default: all of ``params/models``) with its formula count and
    Keras' count side by side, and whether they match: the book's overview table."""
    import pandas as pd

    rows = []
    for model_name in names or available_models():
        spec = load_spec(model_name)
        formula = parameter_summary(spec, num_classes=num_classes)
        counted = keras_parameter_counts(build_model(spec, num_classes=num_classes))
        rows.append(
            {
                "model": model_name,
                "title": spec.title,
                "layers": len(spec.layers),
                "total": formula["total"],
                "trainable": formula["trainable"],
                "non_trainable": formula["non_trainable"],
                "keras_total": counted["total"],
                "matches_keras": formula == counted,
            }
        )
    return pd.DataFrame(rows)
