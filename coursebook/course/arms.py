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

from collections.abc import Callable, Mapping
from typing import Any

from coursebook import checks
from coursebook.checks import REQUIRED, Invalid
from coursebook.course import models

RECORDED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
VALIDATION_METRICS = ("val_loss", "val_accuracy")
OPTIMIZERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
    "nadam": "Nadam",
}
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODE = "nearest"  # what the classic ImageDataGenerator did: empty areas take the nearest pixel

# Settings an arm may take from the chapter (in the order the page shows them) and their defaults
# when neither the arm nor the chapter sets them.
SETTING_DEFAULTS: dict[str, Any] = {
    "model": None,
    "optimizer": "adam",
    "learning_rate": None,
    "batch_size": 64,
    "epochs": 20,
    "train_size": None,
    "early_stopping": None,
    "checkpoint": None,
    "augmentation": [],
    "batch_norm": "recompute",
    "monitor_images": None,
}
# What every epoch evaluates besides its validation images (training.train)
BATCH_NORM_IMAGES = 1024  # training images whose batches give the recomputed batch-norm statistics
PROBE_IMAGES = 500  # training images evaluated in inference mode after every epoch (eval_accuracy)
BATCH_NORM_MODES = ("recompute", "moving")  # batch-norm statistics at evaluation (training.BatchNormStatistics)
ARM_KEYS = ("name", *SETTING_DEFAULTS, "source_chapter")  # source_chapter: set by a reference (below)
REFERENCE_KEYS = ("name", "from", "arm")  # {name?, from: <chapter>, arm?: <its arm>}: another chapter's arm
# a referenced chapter is read with this chapter's data, seed and splits: its arm is then trained (or read) on
# exactly this chapter's images
SHARED = ("data", "seed", "validation", "validation_fraction", "validation_size", "test_size")
REQUIRED_KEYS = ("name", "model")


class ArmError(ValueError):
    """An arm that cannot be trained; the message is one line naming the arm, key and value."""


def _model() -> checks.Check:
    """A model spec's name, among those in params/models now."""
    names = models.available_models()
    return checks.Check(
        f"a model in params/models: one of {checks.listed(names)}", lambda value: value in names, {"enum": names}
    )


def _mode_for(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def _with_mode(parsed: dict[str, Any]) -> dict[str, Any]:
    """A monitor's mode, unless given: accuracies are maximized, losses minimized."""
    return {**parsed, "mode": parsed["mode"] or _mode_for(parsed["monitor"])}


AUGMENTATION_LAYERS: dict[str, checks.Options] = {
    # layer: {option: (check, default or REQUIRED)}; built by training.augmentation_layers
    "rotation": {"factor_degrees": (checks.number(0, 180, low_open=True), REQUIRED)},
    "translation": {
        "height": (checks.number(0, 1, high_open=True), REQUIRED),
        "width": (checks.number(0, 1, high_open=True), REQUIRED),
    },
    "flip": {"mode": (checks.choice(FLIP_MODES), "horizontal")},
    "zoom": {"factor": (checks.number(0, 1, low_open=True, high_open=True), REQUIRED)},
}
MODES = checks.optional(checks.choice(("min", "max")))
EARLY_STOPPING_KEYS: checks.Options = {
    "monitor": (checks.choice(RECORDED_METRICS), "val_loss"),
    "patience": (checks.integer(0), REQUIRED),
    "min_delta": (checks.number(0), 0.0),
    "restore_best_weights": (checks.boolean, True),
    "mode": (MODES, None),
}
CHECKPOINT_KEYS: checks.Options = {"monitor": (checks.choice(VALIDATION_METRICS), REQUIRED), "mode": (MODES, None)}
EARLY_STOPPING = checks.options(EARLY_STOPPING_KEYS, _with_mode)  # the one home of its defaults


def _augmentation(value: Any) -> list[dict[str, dict[str, Any]]]:
    """``[{layer: {options}}, "flip", ...]`` -> ``[{layer: {options, defaults filled}}]``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("a list of layers such as [{rotation: {factor_degrees: 10}}]", value=value)
    layers = []
    for index, entry in enumerate(value):
        if (parsed := models.layer_entry(entry)) is None:
            raise Invalid(
                f"one layer as {{layer: {{options}}}} with a layer in {checks.listed(AUGMENTATION_LAYERS)}", value=entry
            ).under(f"[{index}]")
        layer, options = parsed
        if layer not in AUGMENTATION_LAYERS:
            raise Invalid(f"a layer in {checks.listed(AUGMENTATION_LAYERS)}", value=layer).under(f"[{index}]")
        try:
            layers.append({layer: checks.check_options(options, AUGMENTATION_LAYERS[layer])})
        except Invalid as bad:
            raise bad.under(f"[{index}].{layer}") from None
    return layers


AUGMENTATION = checks.Check(
    "a list of layers such as [{rotation: {factor_degrees: 10}}]",
    lambda value: True,
    {
        "type": ["array", "null"],
        "items": {
            "anyOf": [
                {
                    "enum": [
                        name
                        for name, options in AUGMENTATION_LAYERS.items()
                        if not checks.mapping_schema(options)["required"]
                    ]
                },
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        name: checks.mapping_schema(options) for name, options in AUGMENTATION_LAYERS.items()
                    },
                },
            ]
        },
    },
    _augmentation,
)


def parse_augmentation(spec: Any) -> list[dict[str, dict[str, Any]]]:
    """An augmentation list checked and normalized (options' defaults filled in); a bad entry
    raises :class:`~coursebook.checks.Invalid` (a ValueError) whose message names the entry,
    option, value and what is allowed."""
    try:
        return _augmentation(spec)
    except Invalid as bad:
        raise bad.under("augmentation") from None


def setting_checks() -> dict[str, Callable[[Any], Any]]:
    """The check of each setting an arm trains with (the model names as they are on disk now)."""
    return {
        "model": _model(),
        "optimizer": checks.choice(tuple(OPTIMIZERS)),
        "learning_rate": checks.optional(checks.number(0, 1, low_open=True)),
        "batch_size": checks.integer(1, 4096),
        "epochs": checks.integer(1, 1000),
        "train_size": checks.optional(checks.integer(100)),
        "early_stopping": checks.optional(EARLY_STOPPING),
        "checkpoint": checks.optional(checks.options(CHECKPOINT_KEYS, _with_mode)),
        "augmentation": AUGMENTATION,
        "batch_norm": checks.choice(BATCH_NORM_MODES),
        "monitor_images": checks.optional(checks.integer(100)),
    }


# --------------------------------------------------------------------------- arms


def effective_settings(arm: Mapping[str, Any], chapter: Mapping[str, Any]) -> dict[str, Any]:
    """The settings one arm trains with, checked and normalized: the arm's own key, else the
    chapter's, else :data:`SETTING_DEFAULTS` (raises :class:`~coursebook.checks.Invalid` on a bad value)."""
    settings = {}
    for key, check in setting_checks().items():
        value = arm[key] if key in arm else chapter.get(key, SETTING_DEFAULTS[key])
        try:
            settings[key] = check(value)
        except Invalid as bad:
            raise bad.under(key) from None
    _check_consistency(settings)
    return settings


class _TooPatient(Invalid):
    """A patience that only the arm's epochs make wrong (the message says where they came from)."""


def _check_consistency(settings: dict[str, Any]) -> None:
    stopping, epochs = settings["early_stopping"], settings["epochs"]
    if stopping is not None and stopping["patience"] >= epochs:
        raise _TooPatient(
            f"an int in [0, {epochs - 1}]: smaller than the arm's epochs ({epochs}), "
            "or early stopping could never stop",
            value=stopping["patience"],
            key="early_stopping.patience",
        )


ARMS_ALLOWED = "a non-empty list of arms, each a mapping with at least 'name' and 'model'"


def arm_schema() -> dict[str, Any]:
    """One arm as JSON Schema: its name, its model and the settings it may set for itself."""
    options: checks.Options = {
        "name": (checks.text, REQUIRED),
        **{key: (check, REQUIRED if key == "model" else None) for key, check in setting_checks().items()},
    }
    return checks.mapping_schema(options)


ARM = checks.Check(f"a mapping with keys {checks.listed(ARM_KEYS)}", lambda value: isinstance(value, Mapping))


ONE_MODEL_ARM = "MLP"  # the name the feed-forward walkthrough's page shows its one model by


def one_model(model: str) -> list[dict[str, Any]]:
    """The arms of a chapter that trains one model with its own settings (the walkthrough)."""
    return [{"name": ONE_MODEL_ARM, "model": model}]


def check_arms(
    arms: Any, chapter: Mapping[str, Any], where: str = "arms", describe: Callable[[str], str | None] | None = None
) -> list[dict[str, Any]]:
    """Validate a list of arms against the chapter-level settings and return each arm's
    effective settings (with its ``name``). ``where`` names the file (or command line) the arms
    come from; ``describe(key)`` may say where a chapter-level value came from, for errors that
    a chapter value causes. Raises :class:`ArmError` with one line."""
    if not isinstance(arms, list) or not arms:
        raise ArmError(Invalid(ARMS_ALLOWED, value=arms, key="arms").line(where))
    seen: dict[str, int] = {}
    effective = []
    for index, arm in enumerate(arms):
        label = f"{where}: arm {_label(arm, index)}"
        try:
            name = _arm_name(ARM(arm), seen)
        except Invalid as bad:
            raise ArmError(bad.line(label)) from None
        try:
            settings = effective_settings(arm, chapter)
        except Invalid as bad:
            raise ArmError(bad.line(label, _origin_note(bad, arm, chapter, describe))) from None
        seen[name] = index
        source = {"source_chapter": arm["source_chapter"]} if arm.get("source_chapter") else {}
        effective.append({"name": name, **settings, **source})
    return effective


# --------------------------------------------------------------------------- another chapter's arm


def reference_schema() -> dict[str, Any]:
    """An arm of another chapter as JSON Schema: ``{name?, from: <chapter id>, arm?: <its arm's name>}``."""
    return {
        "type": "object",
        "required": ["from"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "from": {"type": "string", "minLength": 1},
            "arm": {"type": "string", "minLength": 1},
        },
    }


def link_references(
    arms: Any, values: Mapping[str, Any], read_chapter: Callable[[str, dict], Mapping[str, Any]], where: str
) -> Any:
    """``arms`` with every reference to another chapter's arm (``{name?, from, arm?}``) replaced by
    that arm's effective settings as that chapter trains it (its own epochs, training images, ...)
    and ``source_chapter``, so the run store gives this chapter the very runs that chapter trained.
    ``read_chapter(id, overrides)`` returns its resolved parameters; it is read with this chapter's
    data, seed and splits (:data:`SHARED`), so the arm trains on this chapter's images (and its runs
    are that chapter's whenever the two agree). Raises :class:`ArmError` with one line."""
    if not isinstance(arms, list):
        return arms
    return [
        _linked(arm, index, values, read_chapter, where) if isinstance(arm, Mapping) and "from" in arm else arm
        for index, arm in enumerate(arms)
    ]


def _linked(
    reference: Mapping[str, Any],
    index: int,
    values: Mapping[str, Any],
    read_chapter: Callable[[str, dict], Mapping[str, Any]],
    where: str,
) -> dict[str, Any]:
    label = f"{where}: arm {_label(reference, index)}"
    unknown = [key for key in reference if key not in REFERENCE_KEYS]
    if unknown:
        raise ArmError(
            Invalid(
                f"{checks.listed(REFERENCE_KEYS)} (an arm of another chapter takes its settings from there)",
                key=str(unknown[0]),
                problem="unknown",
            ).line(label)
        )
    chapter = reference["from"]
    try:
        other = read_chapter(str(chapter), {key: values[key] for key in SHARED if key in values})
        other_arms = check_arms(other["arms"], other, where=str(chapter))
    except (ValueError, KeyError, TypeError) as err:
        reason = " ".join(str(err).split()) if not isinstance(err, KeyError) else "it has no arms"
        raise ArmError(
            Invalid(f"a chapter whose arms are its own ({reason})", value=chapter, key="from").line(label)
        ) from None
    names = [arm["name"] for arm in other_arms]
    wanted = reference.get("arm", names[0])
    if wanted not in names:
        raise ArmError(
            Invalid(f"an arm of {chapter}: one of {checks.listed(names)}", value=wanted, key="arm").line(label)
        )
    settings = dict(other_arms[names.index(wanted)])
    return {**settings, "name": reference.get("name", wanted), "source_chapter": str(chapter)}


def _arm_name(arm: Mapping[str, Any], seen: dict[str, int]) -> str:
    """The arm's name, once its keys are known, present and the name its own."""
    unknown = [key for key in arm if key not in ARM_KEYS]
    if unknown:
        raise Invalid(", ".join(ARM_KEYS), key=str(unknown[0]), problem="unknown")
    missing = [key for key in REQUIRED_KEYS if key not in arm]
    if missing:
        raise Invalid(f"a value: every arm needs {' and '.join(REQUIRED_KEYS)}", key=missing[0], problem="missing")
    try:
        name = checks.text(arm["name"])
    except Invalid as bad:
        raise bad.under("name") from None
    if name in seen:
        raise Invalid(f"a name of its own: arms[{seen[name]}] has the same name", value=name, key="name")
    return name


def _label(arm: Any, index: int) -> str:
    name = arm.get("name") if isinstance(arm, Mapping) else None
    return f"'{name}' (arms[{index}])" if isinstance(name, str) and name else f"arms[{index}]"


def _origin_note(
    bad: Invalid, arm: Mapping[str, Any], chapter: Mapping[str, Any], describe: Callable[[str], str | None] | None
) -> str:
    """Where a value that the arm did not set came from (the chapter, a profile, the default)."""

    def origin(key: str) -> str:
        said = describe(key) if describe and key in chapter else None
        return said or "the default"

    top = bad.key.split(".")[0].split("[")[0]
    note = "" if top in arm else f"; {top} from {origin(top)}"
    if isinstance(bad, _TooPatient) and "epochs" not in arm:
        note += f"; epochs from {origin('epochs')}"
    return note
