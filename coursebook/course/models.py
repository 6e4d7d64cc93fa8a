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
from typing import Any, Callable, Union

import yaml

from coursebook.book import paths
from coursebook.book.params import safe_load

NUM_CLASSES = "num_classes"
SPEC_KEYS = {"title": True, "source": True, "description": False, "input_shape": True, "layers": True}
ACTIVATIONS = frozenset(
    {"elu", "exponential", "gelu", "hard_sigmoid", "leaky_relu", "linear", "log_softmax", "mish",
     "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh"}
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


SpecLike = Union[ModelSpec, str, Path]


# --- option checkers: each returns the normalized value or raises ValueError -------------

def _int_at_least(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"expected an integer >= {minimum}, got {value!r}")
        return value
    return check


def _pair(value: Any) -> tuple[int, int]:
    """An int ``n`` (meaning ``(n, n)``) or a list of two positive ints."""
    items = value if isinstance(value, (list, tuple)) else [value, value]
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
        raise ValueError(f"expected a positive integer or a list of two, got {value!r}")
    return (items[0], items[1])


def _padding(value: Any) -> str:
    if value not in ("valid", "same"):
        raise ValueError(f"expected 'valid' or 'same', got {value!r}")
    return value


def _activation(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or value not in ACTIVATIONS):
        raise ValueError(f"expected one of {sorted(ACTIVATIONS)}, got {value!r}")
    return value


def _required_activation(value: Any) -> str:
    if value is None:
        raise ValueError("expected an activation name, got null")
    return _activation(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"expected a number in [0, 1), got {value!r}")
    return float(value)


def _units(value: Any) -> int | str:
    return value if value == NUM_CLASSES else _int_at_least(1)(value)


REQUIRED = object()
LAYER_OPTIONS: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {
    "conv": {"filters": (_int_at_least(1), REQUIRED), "kernel": (_pair, REQUIRED),
             "strides": (_pair, (1, 1)), "padding": (_padding, "valid"),
             "activation": (_activation, None), "use_bias": (_bool, True)},
    "maxpool": {"size": (_pair, REQUIRED), "strides": (_pair, None), "padding": (_padding, "valid")},
    "flatten": {},
    "dense": {"units": (_units, REQUIRED), "activation": (_activation, None), "use_bias": (_bool, True)},
    "dropout": {"rate": (_rate, REQUIRED)},
    "batchnorm": {"center": (_bool, True), "scale": (_bool, True)},
    "activation": {"name": (_required_activation, REQUIRED)},
    "gap": {},
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


def load_spec(name_or_path: str | Path) -> ModelSpec:
    """Load, validate and normalize a spec given by name (``params/models/<name>.yaml``) or path."""
    path = _spec_path(name_or_path)
    if not path.is_file():
        raise ModelSpecError(f"{path}: model spec file not found")
    try:
        data = safe_load(path.read_text(encoding="utf-8"))  # also rejects a key given twice
    except yaml.YAMLError as error:
        raise ModelSpecError(f"{path}: not valid YAML: {error}") from error
    return parse_spec(data, path)


def parse_spec(data: Any, path: Path) -> ModelSpec:
    """Validate a spec's YAML data (``path`` names it in errors) and infer its shapes."""
    if not isinstance(data, dict):
        raise ModelSpecError(f"{path}: expected a mapping with keys {sorted(SPEC_KEYS)}")
    _check_top_keys(data, path)
    for key in ("title", "source", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ModelSpecError(f"{path}: key '{key}': expected text, got {data[key]!r}")
    if not isinstance(data["layers"], list) or not data["layers"]:
        raise ModelSpecError(f"{path}: key 'layers': expected a non-empty list")
    spec = ModelSpec(
        name=path.stem, title=data["title"], source=data["source"],
        input_shape=_input_shape(data["input_shape"], path),
        layers=[_parse_layer(entry, path, i) for i, entry in enumerate(data["layers"])],
        description=data.get("description", ""), path=path,
    )
    layer_shapes(spec)  # shape errors surface at load time
    return spec


def _check_top_keys(data: dict, path: Path) -> None:
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ModelSpecError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(SPEC_KEYS)}")
    missing = [key for key, required in SPEC_KEYS.items() if required and key not in data]
    if missing:
        raise ModelSpecError(f"{path}: missing required key(s) {missing}")


def _input_shape(value: Any, path: Path) -> Shape:
    valid = isinstance(value, list) and len(value) in (1, 3) and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not valid:
        raise ModelSpecError(
            f"{path}: key 'input_shape': expected [height, width, channels] or [features] "
            f"of positive integers, got {value!r}")
    return tuple(value)


def layer_entry(entry: Any) -> tuple[Any, Any] | None:
    """A layer list entry, ``"name"`` or ``{name: options}``, as ``(name, options)`` (``{}`` when
    none are given); None when it is neither form. Model specs and augmentation lists share it."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and len(entry) == 1:
        name, options = next(iter(entry.items()))
        return name, {} if options is None else options
    return None


def _parse_layer(entry: Any, path: Path, index: int) -> LayerSpec:
    where = f"{path}: layers[{index}]"
    if (parsed := layer_entry(entry)) is None:
        raise ModelSpecError(f"{where}: expected a layer type or {{type: {{options}}}}, got {entry!r}")
    layer_type, options = parsed
    if layer_type not in LAYER_OPTIONS:
        raise ModelSpecError(f"{where}: unknown layer type {layer_type!r}; known: {sorted(LAYER_OPTIONS)}")
    if not isinstance(options, dict):
        raise ModelSpecError(f"{where} ({layer_type}): options must be a mapping, got {options!r}")
    return LayerSpec(layer_type, _parse_options(layer_type, options, f"{where} ({layer_type})"))


def _parse_options(layer_type: str, options: dict, where: str) -> dict[str, Any]:
    schema = LAYER_OPTIONS[layer_type]
    unknown = sorted(set(options) - set(schema))
    if unknown:
        raise ModelSpecError(f"{where}: unknown option '{unknown[0]}'; allowed: {sorted(schema)}")
    parsed = {}
    for key, (check, default) in schema.items():
        if key not in options:
            if default is REQUIRED:
                raise ModelSpecError(f"{where}: missing required option '{key}'")
            parsed[key] = default
            continue
        try:
            parsed[key] = check(options[key])
        except ValueError as error:
            raise ModelSpecError(f"{where}: option '{key}': {error}") from None
    if layer_type == "maxpool" and parsed["strides"] is None:
        parsed["strides"] = parsed["size"]
    return parsed


def as_spec(spec_or_name: SpecLike) -> ModelSpec:
    """A :class:`ModelSpec` as is, or loaded from a name or path."""
    return spec_or_name if isinstance(spec_or_name, ModelSpec) else load_spec(spec_or_name)


# --- shape arithmetic ---------------------------------------------------------------------

def window_output_size(size: int, window: int, stride: int, padding: str) -> int:
    """Output length of a sliding window: ceil(n/s) for 'same', floor((n-k)/s)+1 for 'valid'."""
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def _windowed_shape(shape: Shape, window: tuple[int, int], strides: tuple[int, int],
                    padding: str, channels: int) -> Shape:
    height, width = (window_output_size(n, k, s, padding)
                     for n, k, s in zip(shape[:2], window, strides))
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


def layer_shapes(spec: ModelSpec, *, num_classes: int = 10,
                 input_shape: Shape | None = None) -> list[Shape]:
    """Output shape of every layer (without the batch axis); raises on impossible shapes."""
    shape = tuple(input_shape or spec.input_shape)
    shapes = []
    for index, layer in enumerate(spec.layers):
        where = f"{spec.path or spec.name}: layers[{index}] ({layer.type})"
        if layer.type in NEEDS_IMAGE and len(shape) != 3:
            raise ModelSpecError(f"{where}: needs a (height, width, channels) input, got {shape}")
        if layer.type in NEEDS_VECTOR and len(shape) != 1:
            raise ModelSpecError(f"{where}: needs a flat input (add flatten or gap first), got {shape}")
        shape = _output_shape(layer, shape, num_classes)
        if min(shape) < 1:
            raise ModelSpecError(f"{where}: input too small, output shape would be {shape}")
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
    for layer, out in zip(spec.layers, layer_shapes(spec, num_classes=num_classes, input_shape=input_shape)):
        if layer.type == "conv":
            kh, kw = layer.options["kernel"]
            total += 2 * kh * kw * shape[-1] * math.prod(out)
        elif layer.type == "dense":
            total += 2 * shape[-1] * out[-1]
        shape = out
    return total


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


def parameter_table(spec_or_name: SpecLike, *, num_classes: int = 10,
                    input_shape: Shape | None = None):
    """One row per layer: layer, output_shape, formula, params, trainable, non_trainable.

    Computed from the spec by formula alone (no Keras): (k·k·C_in + 1)·C_out for a
    convolution, (n_in + 1)·n_out for a dense layer (no ``+ 1`` without bias), 4·C for
    batch normalization (2·C trainable), 0 for everything else.
    """
    import pandas as pd

    spec = as_spec(spec_or_name)
    shapes = layer_shapes(spec, num_classes=num_classes, input_shape=input_shape)
    in_shapes = [tuple(input_shape or spec.input_shape)] + shapes[:-1]
    rows = []
    for name, layer, in_shape, out_shape in zip(layer_names(spec), spec.layers, in_shapes, shapes):
        formula, trainable, non_trainable = _layer_params(layer, in_shape, out_shape)
        rows.append({"layer": name, "output_shape": format_shape(out_shape), "formula": formula,
                     "params": trainable + non_trainable, "trainable": trainable,
                     "non_trainable": non_trainable})
    return pd.DataFrame(rows)


def parameter_summary(spec_or_name: SpecLike, *, num_classes: int = 10,
                      input_shape: Shape | None = None) -> dict[str, int]:
    """Totals by formula: ``{"total", "trainable", "non_trainable"}``."""
    table = parameter_table(spec_or_name, num_classes=num_classes, input_shape=input_shape)
    return {"total": int(table["params"].sum()), "trainable": int(table["trainable"].sum()),
            "non_trainable": int(table["non_trainable"].sum())}


# --- the one Keras builder ----------------------------------------------------------------

def _keras_layer(layer: LayerSpec, name: str, num_classes: int):
    import keras

    opts, image = layer.options, {"data_format": "channels_last"}
    if layer.type == "conv":
        return keras.layers.Conv2D(opts["filters"], opts["kernel"], strides=opts["strides"],
                                   padding=opts["padding"], activation=opts["activation"],
                                   use_bias=opts["use_bias"], name=name, **image)
    if layer.type == "maxpool":
        return keras.layers.MaxPooling2D(opts["size"], strides=opts["strides"],
                                         padding=opts["padding"], name=name, **image)
    if layer.type == "dense":
        units = num_classes if opts["units"] == NUM_CLASSES else opts["units"]
        return keras.layers.Dense(units, activation=opts["activation"],
                                  use_bias=opts["use_bias"], name=name)
    simple = {
        "flatten": lambda: keras.layers.Flatten(name=name, **image),
        "gap": lambda: keras.layers.GlobalAveragePooling2D(name=name, **image),
        "dropout": lambda: keras.layers.Dropout(opts["rate"], name=name),
        "batchnorm": lambda: keras.layers.BatchNormalization(
            center=opts["center"], scale=opts["scale"], name=name),
        "activation": lambda: keras.layers.Activation(opts["name"], name=name),
    }
    return simple[layer.type]()


def build_model(spec_or_name: SpecLike, *, num_classes: int = 10,
                input_shape: Shape | None = None, name: str | None = None):
    """Build the spec as an (uncompiled) ``keras.Sequential`` with layers named as in
    :func:`parameter_table`; ``input_shape`` overrides the spec's (e.g. other image sizes)."""
    import keras

    spec = as_spec(spec_or_name)
    shape = tuple(input_shape or spec.input_shape)
    layer_shapes(spec, num_classes=num_classes, input_shape=shape)  # fail before Keras does
    layers = [_keras_layer(layer, layer_name, num_classes)
              for layer, layer_name in zip(spec.layers, layer_names(spec))]
    model_name = (name or spec.name).replace("-", "_")
    return keras.Sequential([keras.Input(shape=shape, name="input"), *layers], name=model_name)


def keras_parameter_counts(model) -> dict[str, int]:
    """Keras' own count: ``{"total", "trainable", "non_trainable"}`` from the model's weights."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {"total": int(trainable + non_trainable), "trainable": int(trainable),
            "non_trainable": int(non_trainable)}


def parameter_overview(names: list[str] | None = None, *, num_classes: int = 10):
    """Every architecture (default: all of ``params/models``) with its formula count and
    Keras' count side by side, and whether they match: the book's overview table."""
    import pandas as pd

    rows = []
    for model_name in names or available_models():
        spec = load_spec(model_name)
        formula = parameter_summary(spec, num_classes=num_classes)
        counted = keras_parameter_counts(build_model(spec, num_classes=num_classes))
        rows.append({"model": model_name, "title": spec.title, "layers": len(spec.layers),
                     "total": formula["total"], "trainable": formula["trainable"],
                     "non_trainable": formula["non_trainable"], "keras_total": counted["total"],
                     "matches_keras": formula == counted})
    return pd.DataFrame(rows)
