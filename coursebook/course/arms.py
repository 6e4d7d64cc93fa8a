"""Experiment arms as data: the schema of an arm, its validation and its effective settings.

A comparison chapter lists its arms under ``parameters: arms:`` in ``params/<id>.yaml``::

    arms:
      - name: original                 # shown on the page
        model: e4742-original          # a spec in params/models/
      - name: early stopping
        model: e4742-original
        early_stopping: {monitor: val_loss, patience: 3}
      - name: augmented
        model: e4742-original
        augmentation:
          - rotation: {factor_degrees: 10}
          - translation: {height: 0.1, width: 0.1}
          - flip: {mode: horizontal}

Chapter-level settings (``epochs``, ``batch_size``, ``optimizer``, ``learning_rate``,
``train_size``, ...) apply to every arm; a key the arm sets itself wins for that arm. This module
imports no deep-learning backend: the book runner validates every arm before any kernel starts,
and every error is one line naming where the arms come from, the arm, the key, the value and
what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from coursebook.course import models

RECORDED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
VALIDATION_METRICS = ("val_loss", "val_accuracy")
OPTIMIZERS = {
    "adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam",
}
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODE = "nearest"  # what the classic ImageDataGenerator did: empty areas take the nearest pixel

# Settings an arm may take from the chapter (in the order the page shows them) and their defaults
# when neither the arm nor the chapter sets them.
SETTING_DEFAULTS: dict[str, Any] = {
    "model": None, "optimizer": "adam", "learning_rate": None, "batch_size": 64, "epochs": 20,
    "train_size": None, "early_stopping": None, "checkpoint": None, "augmentation": [],
    "batch_norm": "recompute",
}
BATCH_NORM_MODES = ("recompute", "moving")  # batch-norm statistics at evaluation (training.BatchNormStatistics)
ARM_KEYS = ("name", *SETTING_DEFAULTS)
REQUIRED_KEYS = ("name", "model")


class ArmError(ValueError):
    """An arm that cannot be trained; the message is one line naming the arm, key and value."""


class _Bad(ValueError):
    """A bad value: ``allowed`` says what would be accepted."""

    def __init__(self, allowed: str):
        super().__init__(allowed)
        self.allowed = allowed


# --------------------------------------------------------------------------- value checkers


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_in(low: int, high: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not (isinstance(value, int) and not isinstance(value, bool)) or value < low or (
                high is not None and value > high):
            raise _Bad(f"int in [{low}, {'' if high is None else high}]")
        return value
    return check


def _number_in(low: float, high: float, *, low_open: bool, high_open: bool) -> Callable[[Any], float]:
    bounds = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(value: Any) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise _Bad(f"a number in {bounds}")
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (above and below):
            raise _Bad(f"a number in {bounds}")
        return float(value)
    return check


def _choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Bad(f"one of {{{', '.join(choices)}}}")
        return value
    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except _Bad as bad:
            raise _Bad(f"{bad.allowed} or null") from None
    return optional


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad("true or false")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("a non-empty string")
    return value


def _model(value: Any) -> str:
    names = models.available_models()
    if value not in names:
        raise _Bad(f"a model in params/models: one of {{{', '.join(names)}}}")
    return value


# --------------------------------------------------------------------------- nested schemas

REQUIRED = object()  # an option without a default


class _Located(Exception):
    """A bad value at a key path inside one arm (turned into an ArmError by :func:`check_arms`)."""

    def __init__(self, key: str, value: Any, allowed: str, *, unknown: bool = False, missing: bool = False,
                 against_epochs: bool = False):
        super().__init__(key)
        self.key, self.value, self.allowed, self.unknown, self.missing = key, value, allowed, unknown, missing
        self.against_epochs = against_epochs  # the value is wrong only for the arm's epochs


AUGMENTATION_LAYERS: dict[str, dict[str, tuple[Callable[[Any], Any], Any]]] = {
    # layer: {option: (checker, default or REQUIRED)}; built by training.augmentation_layers
    "rotation": {"factor_degrees": (_number_in(0, 180, low_open=True, high_open=False), REQUIRED)},
    "translation": {"height": (_number_in(0, 1, low_open=False, high_open=True), REQUIRED),
                    "width": (_number_in(0, 1, low_open=False, high_open=True), REQUIRED)},
    "flip": {"mode": (_choice(FLIP_MODES), "horizontal")},
    "zoom": {"factor": (_number_in(0, 1, low_open=True, high_open=True), REQUIRED)},
}


def _mode_for(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


EARLY_STOPPING_KEYS = {"monitor": (_choice(RECORDED_METRICS), "val_loss"), "patience": (_int_in(0), REQUIRED),
                       "min_delta": (_number_in(0, math.inf, low_open=False, high_open=True), 0.0),
                       "restore_best_weights": (_bool, True), "mode": (_choice(("min", "max")), None)}
CHECKPOINT_KEYS = {"monitor": (_choice(VALIDATION_METRICS), REQUIRED), "mode": (_choice(("min", "max")), None)}


def _options(value: Any, schema: Mapping[str, tuple[Callable, Any]], key: str) -> dict[str, Any]:
    """Check a mapping of options against ``schema``; raise (key path, value, allowed) on error."""
    if not isinstance(value, Mapping):
        raise _Located(key, value, f"a mapping with keys {{{', '.join(schema)}}}")
    unknown = [k for k in value if k not in schema]
    if unknown:
        raise _Located(key, unknown[0], f"{{{', '.join(schema)}}}", unknown=True)
    parsed = {}
    for option, (check, default) in schema.items():
        if option not in value:
            if default is REQUIRED:
                raise _Located(f"{key}.{option}", None, "a value: this key is required", missing=True)
            parsed[option] = default
            continue
        try:
            parsed[option] = check(value[option])
        except _Bad as bad:
            raise _Located(f"{key}.{option}", value[option], bad.allowed) from None
    return parsed


def _early_stopping(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    parsed = _options(value, EARLY_STOPPING_KEYS, "early_stopping")
    parsed["mode"] = parsed["mode"] or _mode_for(parsed["monitor"])
    return parsed


def _checkpoint(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    parsed = _options(value, CHECKPOINT_KEYS, "checkpoint")
    parsed["mode"] = parsed["mode"] or _mode_for(parsed["monitor"])
    return parsed


def _augmentation(value: Any) -> list[dict[str, dict[str, Any]]]:
    """``[{layer: {options}}, "flip", ...]`` -> ``[{layer: {options, defaults filled}}]``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Located("augmentation", value, "a list of layers such as [{rotation: {factor_degrees: 10}}]")
    layers = []
    for index, entry in enumerate(value):
        key = f"augmentation[{index}]"
        if (parsed := models.layer_entry(entry)) is None:
            raise _Located(key, entry, f"one layer as {{layer: {{options}}}} with a layer in "
                                       f"{{{', '.join(AUGMENTATION_LAYERS)}}}")
        layer, options = parsed
        if layer not in AUGMENTATION_LAYERS:
            raise _Located(key, layer, f"{{{', '.join(AUGMENTATION_LAYERS)}}}", unknown=True)
        layers.append({layer: _options(options, AUGMENTATION_LAYERS[layer], f"{key}.{layer}")})
    return layers


def parse_augmentation(spec: Any) -> list[dict[str, dict[str, Any]]]:
    """An augmentation list checked and normalized (options' defaults filled in); a bad entry
    raises ValueError naming the entry, option, value and what is allowed."""
    try:
        return _augmentation(spec)
    except _Located as bad:
        raise ValueError(f"key '{bad.key}': value {bad.value!r} is not allowed (expected {bad.allowed})") from None


SETTING_CHECKS: dict[str, Callable[[Any], Any]] = {
    "model": _model,
    "optimizer": _choice(tuple(OPTIMIZERS)),
    "learning_rate": _optional(_number_in(0, 1, low_open=True, high_open=False)),
    "batch_size": _int_in(1, 4096),
    "epochs": _int_in(1, 1000),
    "train_size": _optional(_int_in(100)),
    "early_stopping": _early_stopping,
    "checkpoint": _checkpoint,
    "augmentation": _augmentation,
    "batch_norm": _choice(BATCH_NORM_MODES),
}


# --------------------------------------------------------------------------- arms


def effective_settings(arm: Mapping[str, Any], chapter: Mapping[str, Any]) -> dict[str, Any]:
    """The settings one arm trains with, checked and normalized: the arm's own key, else the
    chapter's, else :data:`SETTING_DEFAULTS` (raises ``_Located`` on a bad value)."""
    settings = {}
    for key, default in SETTING_DEFAULTS.items():
        value = arm[key] if key in arm else chapter.get(key, default)
        try:
            settings[key] = SETTING_CHECKS[key](value)
        except _Bad as bad:
            raise _Located(key, value, bad.allowed) from None
    _check_consistency(settings)
    return settings


def _check_consistency(settings: dict[str, Any]) -> None:
    stopping, epochs = settings["early_stopping"], settings["epochs"]
    if stopping is not None and stopping["patience"] >= epochs:
        raise _Located("early_stopping.patience", stopping["patience"],
                       f"an int in [0, {epochs - 1}]: smaller than the arm's epochs ({epochs}), "
                       "or early stopping could never stop", against_epochs=True)


def check_arms(arms: Any, chapter: Mapping[str, Any], where: str = "arms",
               describe: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Validate a list of arms against the chapter-level settings and return each arm's
    effective settings (with its ``name``). ``where`` names the file (or command line) the arms
    come from; ``describe(key)`` may say where a chapter-level value came from, for errors that
    a chapter value causes. Raises :class:`ArmError` with one line."""
    if not isinstance(arms, list) or not arms:
        raise ArmError(f"{where}: key 'arms': value {arms!r} is not allowed (expected a non-empty list of arms, "
                       "each a mapping with at least 'name' and 'model')")
    seen: dict[str, int] = {}
    effective = []
    for index, arm in enumerate(arms):
        label = _label(arm, index)
        if not isinstance(arm, Mapping):
            raise ArmError(f"{where}: arm {label}: value {arm!r} is not allowed (expected a mapping with keys "
                           f"{{{', '.join(ARM_KEYS)}}})")
        unknown = [key for key in arm if key not in ARM_KEYS]
        if unknown:
            raise ArmError(f"{where}: arm {label}: unknown key '{unknown[0]}' (allowed: {', '.join(ARM_KEYS)})")
        missing = [key for key in REQUIRED_KEYS if key not in arm]
        if missing:
            raise ArmError(f"{where}: arm {label}: key '{missing[0]}' is missing (every arm needs "
                           f"{' and '.join(REQUIRED_KEYS)})")
        try:
            name = _text(arm["name"])
        except _Bad as bad:
            raise ArmError(f"{where}: arm {label}: key 'name': value {arm['name']!r} is not allowed "
                           f"(expected {bad.allowed})") from None
        if name in seen:
            raise ArmError(f"{where}: arm {label}: key 'name': value {name!r} is not allowed (arms[{seen[name]}] "
                           "has the same name; every arm needs its own)")
        seen[name] = index
        try:
            settings = effective_settings(arm, chapter)
        except _Located as bad:
            raise ArmError(_message(where, label, bad, arm, chapter, describe)) from None
        effective.append({"name": name, **settings})
    return effective


def _label(arm: Any, index: int) -> str:
    name = arm.get("name") if isinstance(arm, Mapping) else None
    return f"'{name}' (arms[{index}])" if isinstance(name, str) and name else f"arms[{index}]"


def _message(where: str, label: str, bad: _Located, arm: Mapping[str, Any], chapter: Mapping[str, Any],
             describe: Callable[[str], str] | None) -> str:
    def origin(key: str) -> str:
        return describe(key) if describe and key in chapter else "the default"

    top = bad.key.split(".")[0].split("[")[0]
    note = "" if top in arm else f"; {top} from {origin(top)}"  # the value came from the chapter level
    if bad.against_epochs and "epochs" not in arm:
        note += f"; epochs from {origin('epochs')}"
    head = f"{where}: arm {label}: key '{bad.key}'"
    if bad.unknown:
        kind = "layer" if bad.key.startswith("augmentation") and "." not in bad.key else "key"
        return f"{head}: unknown {kind} {bad.value!r} (allowed: {bad.allowed.strip('{}')})"
    if bad.missing:
        return f"{head} is missing (it is required{note})"
    return f"{head}: value {bad.value!r} is not allowed (expected {bad.allowed}{note})"
