"""The Keras code a grader expects to see: each model a chapter trains, its preprocessing and its
training call, generated from the same data the chapter runs (``params/models/<name>.yaml`` and the
arm's effective settings, which record the pixel scaling), so the code on the page can never differ
from what was trained.

:func:`model_code` is runnable as shown (``exec`` it with nothing but ``keras`` installed: it
defines ``model``); a test checks that it builds a model with the parameter count of
:func:`coursebook.course.models.build_model`. :func:`data_code` is the preprocessing of the split
images; :func:`training_code` the ``compile`` and ``fit`` call with the arm's optimizer, loss, epochs,
batch size and every callback the run used (the batch-norm statistics callback and the training-set
probe are this package's, imported from :mod:`coursebook.course.training`); a test executes all three
and gets the run's own history. :func:`code_block` puts them, with ``model.summary()`` and
:func:`training_sentence`, in one collapsed MyST dropdown per arm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course import arms, models
from coursebook.course.results import Results

OPTIMIZER_CLASSES = arms.OPTIMIZERS  # the keras.optimizers class of each optimizer name: one table, the arms'


def _tuple(value: Any) -> str:
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    return f"({pair[0]}, {pair[1]})" if pair[0] != pair[1] else str(pair[0])


def _layer_code(layer: models.LayerSpec, num_classes: int) -> str:
    opts = layer.options
    if layer.type == "conv":
        args = [str(opts["filters"]), _tuple(opts["kernel"])]
        if tuple(opts["strides"]) != (1, 1):
            args.append(f"strides={_tuple(opts['strides'])}")
        args.append(f"padding={opts['padding']!r}")
        if opts["activation"]:
            args.append(f"activation={opts['activation']!r}")
        if not opts["use_bias"]:
            args.append("use_bias=False")
        return f"layers.Conv2D({', '.join(args)})"
    if layer.type == "maxpool":
        args = [_tuple(opts["size"])]
        if tuple(opts["strides"]) != tuple(opts["size"]):
            args.append(f"strides={_tuple(opts['strides'])}")
        if opts["padding"] != "valid":
            args.append(f"padding={opts['padding']!r}")
        return f"layers.MaxPooling2D({', '.join(args)})"
    if layer.type == "dense":
        units = num_classes if opts["units"] == models.NUM_CLASSES else opts["units"]
        args = [str(units)]
        if opts["activation"]:
            args.append(f"activation={opts['activation']!r}")
        if not opts["use_bias"]:
            args.append("use_bias=False")
        return f"layers.Dense({', '.join(args)})"
    if layer.type == "batchnorm":
        args = [f"{key}=False" for key in ("center", "scale") if not opts[key]]
        return f"layers.BatchNormalization({', '.join(args)})"
    simple = {"flatten": "layers.Flatten()", "gap": "layers.GlobalAveragePooling2D()"}
    if layer.type in simple:
        return simple[layer.type]
    if layer.type == "dropout":
        return f"layers.Dropout({opts['rate']:g})"
    if layer.type == "activation":
        return f"layers.Activation({opts['name']!r})"
    raise ValueError(f"no code for layer type {layer.type!r}")  # pragma: no cover - every spec type is above


def model_code(spec_or_name: models.SpecLike, *, num_classes: int = 10, variable: str = "model") -> str:
    """Python source that builds the spec as a ``keras.Sequential`` named ``variable``."""
    spec = models.as_spec(spec_or_name)
    lines = [
        "import keras",
        "from keras import layers",
        "",
        f"{variable} = keras.Sequential([",
        f"    keras.Input(shape={tuple(spec.input_shape)}),",
    ]
    lines += [f"    {_layer_code(layer, num_classes)}," for layer in spec.layers]
    lines.append(f"], name={spec.name.replace('-', '_')!r})")
    return "\n".join(lines)


def _augmentation_code(augmentation: list[Any]) -> list[str]:
    from coursebook.course.arms import parse_augmentation

    built = {
        "rotation": lambda o: f"layers.RandomRotation({o['factor_degrees']:g} / 360, fill_mode='nearest')",
        "translation": lambda o: f"layers.RandomTranslation({o['height']:g}, {o['width']:g}, fill_mode='nearest')",
        "flip": lambda o: f"layers.RandomFlip({o['mode']!r})",
        "zoom": lambda o: f"layers.RandomZoom({o['factor']:g}, {o['factor']:g}, fill_mode='nearest')",
    }
    entries = [
        built[name](options) for entry in parse_augmentation(list(augmentation)) for name, options in entry.items()
    ]
    return (
        [
            "# augmentation: active in training only (identity at inference)",
            "model = keras.Sequential([keras.Input(shape=model.input_shape[1:]), keras.Sequential([",
        ]
        + [f"    {entry}," for entry in entries]
        + ["]), model])"]
    )


PARTS = "(x_train, x_val, x_test)"
CHECKPOINT_FILE = "best.weights.h5"  # where the shown code's checkpoint keeps the best weights


def data_code(scaling: str | None, *, flatten: bool = False, num_classes: int = 10) -> str:
    """The preprocessing a run applied, as code on the split uint8 images (``x_train``, ``x_val``,
    ``x_test``) and integer labels: ``scaling`` is ``"unit"`` (pixels / 255) or ``"standardize"``
    (per colour channel, with the training part's mean and standard deviation, as
    :func:`coursebook.course.data.preprocess` computes them); None says it was not recorded."""
    lines = ["# x_train, x_val, x_test: the split images as loaded (uint8); y_train, y_val, y_test: class indices"]
    if scaling == "unit":
        lines.append(f"x_train, x_val, x_test = [x.astype('float32') / 255 for x in {PARTS}]  # pixels to [0, 1]")
    elif scaling == "standardize":
        lines += [
            "mean = x_train.mean(axis=(0, 1, 2))  # per colour channel, from the training part only",
            "std = x_train.std(axis=(0, 1, 2))",
            "std[std == 0] = 1",
            "mean, std = mean.astype('float32'), std.astype('float32')",
            f"x_train, x_val, x_test = [(x.astype('float32') - mean) / std for x in {PARTS}]",
        ]
    else:
        lines.append("# (how the pixels were scaled is not recorded in this results file)")
    if flatten:
        lines.append(f"x_train, x_val, x_test = [x.reshape(len(x), -1) for x in {PARTS}]  # one vector per image")
    lines.append(
        f"y_train, y_val, y_test = [keras.utils.to_categorical(y, {num_classes}).astype('float32') "
        "for y in (y_train, y_val, y_test)]  # one-hot"
    )
    return "\n".join(lines)


def _callback_code(settings: Mapping[str, Any], recompute: bool) -> list[str]:
    """The callbacks of :func:`coursebook.course.training.train`, in its order (the epoch timer and
    the progress report, which change nothing, left out)."""
    from coursebook.course.arms import BATCH_NORM_IMAGES, PROBE_IMAGES

    batch = settings["batch_size"]
    lines = ["callbacks = []"]
    if recompute:
        lines += [
            f"# before validation, each batch-norm layer's statistics re-estimated on {BATCH_NORM_IMAGES:,} "
            "training images",
            f"callbacks.append(BatchNormStatistics(x_train[:{BATCH_NORM_IMAGES}], batch_size={batch}))",
        ]
    lines += [
        f"# eval_loss, eval_accuracy: inference mode on {PROBE_IMAGES} training images (changes no weight)",
        f"callbacks.append(TrainingProbe(x_train[:{PROBE_IMAGES}], y_train[:{PROBE_IMAGES}]))",
    ]
    stopping, checkpoint = settings.get("early_stopping"), settings.get("checkpoint")
    if stopping:
        lines.append(
            f"callbacks.append(keras.callbacks.EarlyStopping(monitor={stopping['monitor']!r}, "
            f"mode={stopping.get('mode', 'auto')!r}, patience={stopping['patience']}, "
            f"min_delta={stopping.get('min_delta', 0):g}, "
            f"restore_best_weights={bool(stopping.get('restore_best_weights', True))}))"
        )
    if checkpoint:
        lines.append(
            f"callbacks.append(keras.callbacks.ModelCheckpoint({CHECKPOINT_FILE!r}, "
            f"monitor={checkpoint['monitor']!r}, mode={checkpoint.get('mode', 'auto')!r}, "
            "save_best_only=True, save_weights_only=True))"
        )
    return lines


def recomputes_batch_norm(settings: Mapping[str, Any], model_name: models.SpecLike) -> bool:
    """Whether the run re-estimated batch-norm statistics: its setting says so and its model has
    batch normalization (``training.train`` adds the callback only then)."""
    return settings.get("batch_norm", "recompute") == "recompute" and models.has_batch_norm(model_name)


def training_code(settings: Mapping[str, Any], *, recompute: bool = False) -> str:
    """The compile and fit call of one arm's effective settings (``ArmResult.settings``), with every
    callback the run used (``recompute``: the batch-norm statistics callback, see
    :func:`recomputes_batch_norm`); expects ``model``, the preprocessed parts and ``seed``."""
    from coursebook.course.training import validation_batch_size

    optimizer = OPTIMIZER_CLASSES[str(settings.get("optimizer", "adam")).lower()]
    rate = settings.get("learning_rate")
    imports = ["BatchNormStatistics", "TrainingProbe"] if recompute else ["TrainingProbe"]
    lines = [f"from coursebook.course.training import {', '.join(imports)}  # this package's callbacks", ""]
    lines += _augmentation_code(settings["augmentation"]) if settings.get("augmentation") else []
    lines += [
        "model.compile(",
        f"    optimizer=keras.optimizers.{optimizer}({'' if rate is None else f'learning_rate={rate:g}'}),",
        "    loss='categorical_crossentropy',",
        "    metrics=['accuracy'],",
        ")",
    ]
    lines += _callback_code(settings, recompute)
    lines += [
        "keras.utils.set_random_seed(seed)  # each run's seed, also set before its model was built",
        "history = model.fit(",
        "    x_train, y_train,",
        _validation_line(settings.get("monitor_images")),
        f"    epochs={settings['epochs']}, batch_size={settings['batch_size']},",
        f"    validation_batch_size={validation_batch_size(settings['batch_size'])},  # inference only: fewer steps",
        "    callbacks=callbacks,",
        ")",
    ]
    if settings.get("checkpoint"):
        lines.append(f"model.load_weights({CHECKPOINT_FILE!r})  # evaluate the checkpoint's weights")
    return "\n".join(lines)


def _validation_line(monitor_images: int | None) -> str:
    """The fit's validation data: the held-out part, or its first ``monitor_images`` images."""
    if not monitor_images:
        return "    validation_data=(x_val, y_val),  # the held-out validation part, never the test set"
    return (
        f"    validation_data=(x_val[:{monitor_images}], y_val[:{monitor_images}]),  # each epoch's curves: the first "
        f"{monitor_images:,} held-out images (the final weights are measured on all)"
    )


def training_sentence(settings: Mapping[str, Any], *, recompute: bool, flatten: bool = False) -> str:
    """What the training code does, in one sentence: preprocessing, optimizer, budget and every
    callback or layer that changes the run."""
    from coursebook.course.prose.numbers import md

    scaling = {
        "unit": "pixels scaled to [0, 1]",
        "standardize": "pixels standardized per colour channel with the training part's mean and sd",
    }.get(settings.get("scaling") or "", "pixel scaling not recorded")
    rate = settings.get("learning_rate")
    parts = [
        scaling + (", images flattened" if flatten else "") + ", one-hot labels",
        f"{OPTIMIZER_CLASSES[str(settings.get('optimizer', 'adam')).lower()]} "
        f"({'default learning rate' if rate is None else f'learning rate {rate:g}'}), "
        f"batch {settings['batch_size']}, at most {settings['epochs']} epochs",
    ]
    if settings.get("augmentation"):
        parts.append("random augmentation layers in front of the model (training only)")
    if monitor := settings.get("monitor_images"):
        parts.append(f"each epoch validated on the first {monitor:,} validation images (the final weights on all)")
    if recompute:
        from coursebook.course.arms import BATCH_NORM_IMAGES

        parts.append(
            f"batch-norm statistics re-estimated from {BATCH_NORM_IMAGES:,} training images before every evaluation"
        )
    if stopping := settings.get("early_stopping"):
        kept = "the best weights restored" if stopping.get("restore_best_weights", True) else "the last weights kept"
        parts.append(f"early stopping on {stopping['monitor']} (patience {stopping['patience']}, {kept})")
    if checkpoint := settings.get("checkpoint"):
        parts.append(f"the weights of the best {checkpoint['monitor']} checkpointed and evaluated")
    return md("Trained with " + "; ".join(parts) + ".")


def summary_text(spec_or_name: models.SpecLike, *, num_classes: int = 10) -> str:
    """What ``model.summary()`` reports for the built spec (layer and type, output shape, parameters,
    the totals), from the Keras model itself, in plain columns that fit a laptop-width page (Keras'
    own box table is cut at the console's width)."""
    model = models.build_model(spec_or_name, num_classes=num_classes)
    rows = [
        (
            f"{layer.name} ({type(layer).__name__})",
            str(tuple(layer.output.shape)).replace(",)", ")"),
            f"{layer.count_params():,}",
        )
        for layer in model.layers
    ]
    head = ("Layer (type)", "Output shape", "Param #")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(3)]
    line = lambda row: f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"  # noqa: E731
    counts = models.keras_parameter_counts(model)
    return "\n".join(
        [
            f'Model: "{model.name}"',
            line(head),
            *map(line, rows),
            f"Total params: {counts['total']:,}",
            f"Trainable params: {counts['trainable']:,}",
            f"Non-trainable params: {counts['non_trainable']:,}",
        ]
    )


def _fence(text: str, language: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text}\n{ticks}"


def code_block(arm_name: str, model_name: str, settings: Mapping[str, Any], *, num_classes: int = 10) -> str:
    """A collapsed MyST dropdown with the arm's model as Keras code, its ``model.summary()``, its
    preprocessing and training call, and one sentence saying what the training did; the title names
    the arm (escaped) and the model's parameter count."""
    from coursebook.course.prose.numbers import md

    total = models.parameter_summary(model_name, num_classes=num_classes)["total"]
    recompute, flatten = recomputes_batch_norm(settings, model_name), models.takes_vectors(model_name)
    body = "\n\n".join(
        [
            "The model, as Keras code (runnable as shown):",
            _fence(model_code(model_name, num_classes=num_classes), "python"),
            "`model.summary()`:",
            _fence(summary_text(model_name, num_classes=num_classes)),
            training_sentence(settings, recompute=recompute, flatten=flatten),
            "Data and training, as run:",
            _fence(
                data_code(settings.get("scaling"), flatten=flatten, num_classes=num_classes)
                + "\n\n"
                + training_code(settings, recompute=recompute),
                "python",
            ),
        ]
    )
    return f":::{{dropdown}} Code: {md(arm_name)} ({model_name}, {total:,} parameters)\n{body}\n:::"


def arms_code(results: Results, first_only: bool = False) -> str:
    """One dropdown per arm of a :class:`~coursebook.course.results.Results` (``first_only``: the first
    arm's, for pages whose arms differ only in their data, such as a learning curve)."""
    classes = len(results.dataset.class_names) or 10
    arms = results.arms[:1] if first_only else results.arms
    return "\n\n".join(code_block(arm.name, arm.model, arm.settings, num_classes=classes) for arm in arms)
