"""The Keras code a grader expects to see: each model a chapter trains, and its training call,
generated from the same data the chapter runs (``params/models/<name>.yaml`` and the arm's
effective settings), so the code on the page can never differ from what was trained.

:func:`model_code` is runnable as shown (``exec`` it with nothing but ``keras`` installed: it
defines ``model``); a test checks that it builds a model with the parameter count of
:func:`coursebook.course.models.build_model`. :func:`training_code` is the ``compile`` and ``fit``
call with the arm's optimizer, loss, epochs, batch size and callbacks. :func:`code_block` puts
both, with ``model.summary()``, in one collapsed MyST dropdown per arm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course import models

OPTIMIZER_CLASSES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                     "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam"}


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
    lines = ["import keras", "from keras import layers", "",
             f"{variable} = keras.Sequential([",
             f"    keras.Input(shape={tuple(spec.input_shape)}),"]
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
    entries = [built[name](options) for entry in parse_augmentation(list(augmentation))
               for name, options in entry.items()]
    return (["# augmentation: active in training only (identity at inference)",
             "model = keras.Sequential([keras.Input(shape=model.input_shape[1:]), keras.Sequential(["]
             + [f"    {entry}," for entry in entries] + ["]), model])"])


def training_code(settings: Mapping[str, Any]) -> str:
    """The compile and fit call of one arm's effective settings (``ArmResult.settings``)."""
    optimizer = OPTIMIZER_CLASSES[str(settings.get("optimizer", "adam")).lower()]
    rate = settings.get("learning_rate")
    lines = _augmentation_code(settings["augmentation"]) if settings.get("augmentation") else []
    lines += ["model.compile(",
              f"    optimizer=keras.optimizers.{optimizer}({'' if rate is None else f'learning_rate={rate:g}'}),",
              "    loss='categorical_crossentropy',",
              "    metrics=['accuracy'],",
              ")", "callbacks = []"]
    stopping, checkpoint = settings.get("early_stopping"), settings.get("checkpoint")
    if stopping:
        lines.append(f"callbacks.append(keras.callbacks.EarlyStopping(monitor={stopping['monitor']!r}, "
                     f"mode={stopping.get('mode', 'auto')!r}, patience={stopping['patience']}, "
                     f"min_delta={stopping.get('min_delta', 0):g}, "
                     f"restore_best_weights={bool(stopping.get('restore_best_weights', True))}))")
    if checkpoint:
        lines.append(f"callbacks.append(keras.callbacks.ModelCheckpoint('best.keras', "
                     f"monitor={checkpoint['monitor']!r}, mode={checkpoint.get('mode', 'auto')!r}, "
                     "save_best_only=True))")
    lines += ["history = model.fit(",
              "    x_train, y_train,                      # images scaled to [0, 1], labels one-hot",
              "    validation_data=(x_val, y_val),        # the held-out validation part, never the test set",
              f"    epochs={settings['epochs']}, batch_size={settings['batch_size']},",
              "    callbacks=callbacks,",
              ")"]
    if checkpoint:
        lines.append("model = keras.models.load_model('best.keras')  # evaluate the checkpoint's weights")
    return "\n".join(lines)


def summary_text(spec_or_name: models.SpecLike, *, num_classes: int = 10) -> str:
    """What ``model.summary()`` reports for the built spec (layer and type, output shape, parameters,
    the totals), from the Keras model itself, in plain columns that fit a laptop-width page (Keras'
    own box table is cut at the console's width)."""
    model = models.build_model(spec_or_name, num_classes=num_classes)
    rows = [(f"{layer.name} ({type(layer).__name__})", str(tuple(layer.output.shape)).replace(",)", ")"),
             f"{layer.count_params():,}") for layer in model.layers]
    head = ("Layer (type)", "Output shape", "Param #")
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(3)]
    line = lambda row: f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"  # noqa: E731
    counts = models.keras_parameter_counts(model)
    return "\n".join([f'Model: "{model.name}"', line(head), *map(line, rows),
                      f"Total params: {counts['total']:,}", f"Trainable params: {counts['trainable']:,}",
                      f"Non-trainable params: {counts['non_trainable']:,}"])


def _fence(text: str, language: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text}\n{ticks}"


def code_block(arm_name: str, model_name: str, settings: Mapping[str, Any], *, num_classes: int = 10) -> str:
    """A collapsed MyST dropdown with the arm's model as Keras code, its ``model.summary()`` and its
    training call; the title names the arm (escaped) and the model's parameter count."""
    from coursebook.course.prose.numbers import md

    total = models.parameter_summary(model_name, num_classes=num_classes)["total"]
    body = "\n\n".join([
        "The model, as Keras code (runnable as shown):", _fence(model_code(model_name, num_classes=num_classes),
                                                                "python"),
        "`model.summary()`:", _fence(summary_text(model_name, num_classes=num_classes)),
        "Training:", _fence(training_code(settings), "python")])
    return f":::{{dropdown}} Code: {md(arm_name)} ({model_name}, {total:,} parameters)\n{body}\n:::"


def arms_code(results: Any, first_only: bool = False) -> str:
    """One dropdown per arm of a :class:`~coursebook.course.results.Results` (``first_only``: the first
    arm's, for pages whose arms differ only in their data, such as a learning curve)."""
    classes = len(results.dataset.class_names) or 10
    arms = results.arms[:1] if first_only else results.arms
    return "\n\n".join(code_block(arm.name, arm.model, arm.settings, num_classes=classes) for arm in arms)
