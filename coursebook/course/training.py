"""Training engine: backend set-up, compiling from parameters, augmentation layers, one fit
with early stopping / best checkpoint / epoch timing, seeded repeats of several arms,
and the tidy history frame that plots and text read.

GPU memory: TensorFlow grows its GPU memory on demand once :func:`configure_backend` ran;
JAX reads ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` only when jax is first imported, so the
environment that starts Python (the Makefile/runner) must set it; importing this module before
keras also sets it as a default. PyTorch allocates on demand and needs nothing.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coursebook import checks
from coursebook.book import progress

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # before keras imports jax
import keras

from coursebook.course import evaluation, history as history_frames
from coursebook.course.arms import (
    BATCH_NORM_IMAGES,
    BATCH_NORM_MODES,
    EARLY_STOPPING,
    FILL_MODE,
    OPTIMIZERS,
    PROBE_IMAGES,
    parse_augmentation,
)

# --------------------------------------------------------------------------- backend


def configure_backend() -> str:
    """Let the backend use a GPU without grabbing all its memory; describe backend and device."""
    backend = keras.backend.backend()
    describe = {"tensorflow": _configure_tensorflow, "jax": _describe_jax, "torch": _describe_torch}
    device = describe.get(backend, lambda: "CPU")()
    return f"{backend} on {device}"


def _configure_tensorflow() -> str:
    import tensorflow as tf  # the only backend that needs explicit set-up

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        with suppress(RuntimeError):  # already initialised: growth was set earlier or cannot change
            tf.config.experimental.set_memory_growth(gpu, True)
    if not gpus:
        return "CPU"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return f"GPU:0 ({name})" + (f" and {len(gpus) - 1} more" if len(gpus) > 1 else "")


def _describe_jax() -> str:
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return "CPU"
    return f"{device.platform}:{device.id} ({device.device_kind})"


def _describe_torch() -> str:
    import torch

    if not torch.cuda.is_available():
        return "CPU"
    return f"cuda:0 ({torch.cuda.get_device_name(0)})"


def backend_versions() -> dict[str, str]:
    """Versions for the run card: python, numpy, keras, the backend's name and its library."""
    import importlib

    backend = keras.backend.backend()
    library = importlib.import_module(backend)
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "backend": backend,
        backend: getattr(library, "__version__", "unknown"),
    }


# --------------------------------------------------------------------------- compile


def make_optimizer(name: str = "adam", learning_rate: float | None = None) -> keras.optimizers.Optimizer:
    """A Keras optimizer by (case-insensitive) name, with its default learning rate unless given."""
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(sorted(OPTIMIZERS))}")
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS[key])
    if learning_rate is None:
        return optimizer_class()
    if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    return optimizer_class(learning_rate=float(learning_rate))


def compile_model(
    model: keras.Model,
    *,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    loss: str = "categorical_crossentropy",
    metrics: Sequence[str] = ("accuracy",),
) -> keras.Model:
    """Compile ``model`` in place from parameters; metric names in histories stay as given
    (``"accuracy"`` -> ``accuracy``/``val_accuracy``). Returns the model."""
    if "acc" in metrics:
        raise ValueError("metric 'acc' would be recorded as 'acc'/'val_acc'; use 'accuracy'")
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=loss, metrics=list(metrics))
    return model


# --------------------------------------------------------------------------- augmentation


def augmentation_layers(spec: Sequence[Any]) -> keras.Sequential:
    """The one augmentation builder: Keras preprocessing layers from a list such as
    ``[{rotation: {factor_degrees: 10}}, {translation: {height: 0.1, width: 0.1}}, "flip"]``
    (checked by :func:`coursebook.course.arms.parse_augmentation`). Active in training only,
    identity at inference; empty areas take the nearest pixel, as ImageDataGenerator did."""
    build = {
        "rotation": lambda o: keras.layers.RandomRotation(o["factor_degrees"] / 360, fill_mode=FILL_MODE),
        "translation": lambda o: keras.layers.RandomTranslation(o["height"], o["width"], fill_mode=FILL_MODE),
        "flip": lambda o: keras.layers.RandomFlip(o["mode"]),
        "zoom": lambda o: keras.layers.RandomZoom(o["factor"], o["factor"], fill_mode=FILL_MODE),
    }
    layers = [build[name](options) for entry in parse_augmentation(list(spec)) for name, options in entry.items()]
    return keras.Sequential(layers, name="augmentation")


def augmentation(rotation_degrees: float = 10, shift: float = 0.1, horizontal_flip: bool = True) -> keras.Sequential:
    """Random rotation (within +-degrees), height/width shift (fraction) and horizontal flip,
    through :func:`augmentation_layers`; a zero or False leaves that layer out."""
    spec = (
        ([{"rotation": {"factor_degrees": rotation_degrees}}] if rotation_degrees else [])
        + ([{"translation": {"height": shift, "width": shift}}] if shift else [])
        + ([{"flip": {"mode": "horizontal"}}] if horizontal_flip else [])
    )
    return augmentation_layers(spec)


def with_augmentation(model: keras.Model, layers: keras.Sequential | None = None) -> keras.Model:
    """``model`` with augmentation layers (default: :func:`augmentation`) placed in front."""
    layers = augmentation() if layers is None else layers
    inputs = keras.Input(shape=model.input_shape[1:])
    return keras.Sequential([inputs, layers, model], name=f"{model.name}_augmented")


# --------------------------------------------------------------------------- callbacks


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch: its training steps, its validation pass and
    whatever the callbacks before it in the list do at the epoch's end (the inference-mode probe,
    the checkpoint), so that an epoch's seconds are all it costs."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of ``model``, nested models included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def recompute_batch_norm_statistics(model: keras.Model, x: Any, batch_size: int) -> None:
    """Replace the moving mean and variance of every batch-norm layer by their average over the
    batches of ``x`` (in training mode, as in training), as ``torch.optim.swa_utils.update_bn``
    does: the statistics then describe the current weights, not an exponential average over the
    weights of the last few hundred steps. Nothing trainable changes."""
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    try:
        for index, start in enumerate(range(0, len(x), batch_size)):
            for layer in layers:
                layer.momentum = index / (index + 1)  # the running average of the batch statistics
            model(x[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum


class BatchNormStatistics(keras.callbacks.Callback):
    """At the last training step of every epoch (before Keras' validation pass), recomputes the
    batch-norm statistics from ``x`` (:func:`recompute_batch_norm_statistics`), so validation,
    early stopping, checkpoints and the final measurement all see the statistics of the weights
    they evaluate. Keras' moving averages (momentum 0.99) forget their start only over hundreds
    of steps and lag behind fast-changing weights: after a few hundred steps on CIFAR-10 a model
    that fits its training batches can classify at chance in inference mode."""

    def __init__(self, x: Any, batch_size: int) -> None:
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch + 1 == self.params.get("steps"):
            recompute_batch_norm_statistics(self.model, self.x, self.batch_size)


class TrainingProbe(keras.callbacks.Callback):
    """Adds ``eval_loss`` and ``eval_accuracy`` to every epoch's logs: the loss and accuracy of the
    weights at the end of the epoch in inference mode (dropout off, batch norm's statistics) on a
    fixed set of training images, beside Keras' running ``loss``/``accuracy`` (training mode,
    averaged over the epoch's batches while the weights changed)."""

    def __init__(self, x: Any, y: Any) -> None:
        super().__init__()
        self.x, self.y = x, y

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        probabilities = evaluation.predict_probabilities(self.model, self.x)
        scores = evaluation.scores_from_probabilities(self.y, probabilities)
        if logs is not None:
            logs.update(eval_loss=scores["loss"], eval_accuracy=scores["accuracy"])


class ProgressCallback(keras.callbacks.Callback):
    """Reports every finished epoch to the book runner's progress file (see ``book.progress``)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        progress.report("epoch", epoch=epoch + 1, epochs=self.epochs, seconds=time.perf_counter() - self._start)


def early_stopping_callback(params: Mapping[str, Any] | None, verbose: int = 0) -> keras.callbacks.EarlyStopping:
    """EarlyStopping from parameters (monitor, patience, restore_best_weights, mode, min_delta),
    checked and completed as an arm's are (:data:`coursebook.course.arms.EARLY_STOPPING`: the one
    home of their defaults); a bad one raises ValueError in one line. ``verbose`` > 0 prints the
    stopping and restored epochs."""
    try:
        settings = EARLY_STOPPING(params or {})
    except checks.Invalid as bad:
        raise ValueError(bad.line("early_stopping")) from None
    return keras.callbacks.EarlyStopping(**settings, verbose=int(verbose > 0))


def best_checkpoint_callback(
    directory: str | Path, monitor: str = "val_loss", mode: str = "min"
) -> keras.callbacks.ModelCheckpoint:
    """Keeps the weights of the epoch with the best ``monitor`` (``mode`` min or max; the first
    such epoch on ties) in ``directory``."""
    if mode not in ("min", "max"):
        raise ValueError(f"checkpoint mode must be 'min' or 'max', got {mode!r}")
    path = Path(directory) / "best.weights.h5"
    return keras.callbacks.ModelCheckpoint(
        path, monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True
    )


# --------------------------------------------------------------------------- one run


@dataclass
class TrainResult:
    """One fit. ``best_epoch`` (1-based) is the epoch whose weights ``model`` holds: the best
    monitored epoch with a checkpoint (which wins) or when early stopping restores weights,
    otherwise the last epoch. ``stopped_epoch`` is None unless early stopping stopped.
    ``history`` is the run's history frame (:mod:`coursebook.course.history`), its arm named
    after the model."""

    model: keras.Model
    history: pd.DataFrame
    best_epoch: int
    stopped_epoch: int | None
    epochs_run: int
    seconds: float
    seconds_per_epoch: list[float]
    raw_history: dict[str, list[float]]  # Keras' History.history, metric -> per-epoch values


def fit_arrays(data: Any, validation_data: tuple | None = None) -> tuple[Any, Any, tuple | None]:
    """(x_train, y_train, (x_val, y_val) or None) from a Splits-like object, a mapping with those
    keys, or an (x, y) pair; an explicit ``validation_data`` wins over ``data``'s own."""
    if isinstance(data, (tuple, list)):
        x, y = data
    else:
        x, y = evaluation.attribute_or_key(data, "x_train"), evaluation.attribute_or_key(data, "y_train")
        if validation_data is None and evaluation.attribute_or_key(data, "x_val") is not None:
            validation_data = (evaluation.attribute_or_key(data, "x_val"), evaluation.attribute_or_key(data, "y_val"))
    if x is None or y is None:
        raise ValueError("training data needs x_train and y_train (attributes, keys, or an (x, y) pair)")
    _check_lengths("training", x, y)
    if validation_data is not None:
        _check_lengths("validation", *validation_data)
    return x, y, validation_data


def _check_lengths(split: str, x: Any, y: Any) -> None:
    if len(x) != len(y):
        raise ValueError(f"{split} data: {len(x)} images but {len(y)} labels")


def _check_fit_settings(
    model: keras.Model,
    epochs: int,
    batch_size: int,
    has_validation: bool,
    checkpoint: Mapping[str, str] | None,
    stopper: keras.callbacks.EarlyStopping | None,
) -> None:
    if not getattr(model, "compiled", False):
        raise ValueError(f"model {model.name!r} is not compiled: call compile_model(model, ...) first")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if checkpoint is not None and not has_validation:
        raise ValueError("checkpoint_best needs validation data (x_val, y_val)")
    if checkpoint is not None:
        _check_monitor(model, checkpoint["monitor"], has_validation, "checkpoint")
    if stopper is not None:
        _check_monitor(model, stopper.monitor, has_validation, "early_stopping")


def _check_monitor(model: keras.Model, monitor: str, has_validation: bool, what: str = "early_stopping") -> None:
    if monitor.startswith("val_") and not has_validation:
        raise ValueError(f"{what.replace('_', ' ')} on {monitor} needs validation data (x_val, y_val)")
    metric_names = [
        m if isinstance(m, str) else getattr(m, "name", str(m)) for m in model.get_compile_config().get("metrics") or []
    ]
    names = ["loss", *metric_names]
    allowed = names + ([f"val_{n}" for n in names] if has_validation else [])
    if monitor not in allowed:
        raise ValueError(f"{what} monitor {monitor!r} is not recorded; allowed: {allowed}")


def _checkpoint_settings(checkpoint: bool | Mapping[str, str] | None) -> dict[str, str] | None:
    """``True`` -> best val_loss; a mapping {monitor, mode?}; False/None -> no checkpoint."""
    if checkpoint is None or checkpoint is False:
        return None
    if checkpoint is True:
        return {"monitor": "val_loss", "mode": "min"}
    monitor = checkpoint["monitor"]
    return {"monitor": monitor, "mode": checkpoint.get("mode") or ("max" if monitor.endswith("accuracy") else "min")}


def train(
    model: keras.Model,
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    validation_data: tuple | None = None,
    early_stopping: Mapping[str, Any] | None = None,
    checkpoint_best: bool | Mapping[str, str] | None = False,
    batch_norm: str = "recompute",
    monitor_images: int | None = None,
    verbose: int = 2,
) -> TrainResult:
    """Fit a compiled model (seeded), optionally with early stopping and a best-weights checkpoint
    (``True``: lowest val_loss; or ``{"monitor": "val_accuracy", "mode": "max"}``) that is loaded
    back after training, and time each epoch. Settings are checked before fitting.

    Every epoch also records ``eval_loss``/``eval_accuracy`` (:class:`TrainingProbe`, on the first
    :data:`PROBE_IMAGES` training images). With ``batch_norm="recompute"`` a model with batch
    normalization has its statistics recomputed from the first :data:`BATCH_NORM_IMAGES` training
    images before every evaluation (:class:`BatchNormStatistics`); ``"moving"`` keeps Keras' moving
    averages. ``monitor_images``: the validation curves (and what early stopping and the checkpoint
    monitor) are computed on the first that many validation images only (None: all)."""
    x, y, validation = fit_arrays(data, validation_data)
    if validation is not None and monitor_images:
        validation = (validation[0][:monitor_images], validation[1][:monitor_images])
    stopper = None if early_stopping is None else early_stopping_callback(early_stopping, verbose)
    best = _checkpoint_settings(checkpoint_best)
    _check_fit_settings(model, epochs, batch_size, validation is not None, best, stopper)
    if batch_norm not in BATCH_NORM_MODES:
        raise ValueError(f"batch_norm must be one of {BATCH_NORM_MODES}, got {batch_norm!r}")
    timer = EpochTimer()
    statistics = (
        BatchNormStatistics(x[:BATCH_NORM_IMAGES], batch_size)
        if batch_norm == "recompute" and batch_norm_layers(model)
        else None
    )
    probe = TrainingProbe(x[:PROBE_IMAGES], y[:PROBE_IMAGES])
    reporter = ProgressCallback(epochs) if progress.active() else None
    with tempfile.TemporaryDirectory(prefix="coursebook-ckpt-") as directory:
        checkpoint = None if best is None else best_checkpoint_callback(directory, **best)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        callbacks = (statistics, probe, stopper, checkpoint, timer, reporter)  # the timer ends each epoch
        history = model.fit(
            x,
            y,
            validation_data=validation,
            epochs=epochs,
            batch_size=batch_size,
            validation_batch_size=validation_batch_size(batch_size),
            callbacks=[c for c in callbacks if c is not None],
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
        if checkpoint is not None:
            model.load_weights(checkpoint.filepath)
    return TrainResult(
        model=model,
        history=history_frames.from_keras(history.history, timer.seconds, arm=model.name, seed=seed),
        best_epoch=_weights_epoch(history.history, stopper, best),
        stopped_epoch=_stopped_epoch(stopper),
        epochs_run=len(timer.seconds),
        seconds=seconds,
        seconds_per_epoch=timer.seconds,
        raw_history={k: [float(v) for v in values] for k, values in history.history.items()},
    )


def validation_batch_size(batch_size: int) -> int:
    """Images per step of the validation pass: at least :data:`evaluation.INFERENCE_BATCH` (it
    trains nothing, so its batch changes no result, only the time)."""
    return max(batch_size, evaluation.INFERENCE_BATCH)


def _stopped_epoch(stopper: keras.callbacks.EarlyStopping | None) -> int | None:
    """1-based epoch after which early stopping ended training, None if it did not."""
    return stopper.stopped_epoch + 1 if stopper is not None and stopper.stopped_epoch > 0 else None


def _weights_epoch(history: Mapping[str, Sequence[float]], stopper: Any, checkpoint: Mapping[str, str] | None) -> int:
    """1-based epoch whose weights the model holds after fit (and after loading the checkpoint)."""
    if checkpoint is not None:
        values = np.asarray(history[checkpoint["monitor"]], dtype=float)
        return int(np.nanargmin(values) if checkpoint["mode"] == "min" else np.nanargmax(values)) + 1
    if stopper is not None and stopper.restore_best_weights and stopper.best_weights is not None:
        return stopper.best_epoch + 1
    return len(history["loss"])
