"""The feed-forward walkthrough of Applied ML HW4 Q3, Part 2 (2.1-2.9): the data as vectors, a
dense network whose size follows from the data, one training run saved as a results file, and the
sentences that answer 2.5 and check the softmax output.

Preprocessing order: the development set (the training images) is split 80:20 first, so the
standardization statistics come from the training part only (the validation part stays unseen, a
stricter version of "fit on the development set only"); then every image is flattened to a vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coursebook.course import (
    arms as arms_module,
    data,
    experiments,
    models,
    report,
    results as results_module,
    training,
)

SCALING = "standardize"  # per colour channel, statistics of the training part (recorded with the arm's settings)


@dataclass
class Prepared:
    """The raw dataset, its split (uint8 images) and the model-ready parts (flat, standardized, one-hot)."""

    dataset: data.Dataset
    raw: data.Splits
    splits: data.Splits


def prepare(
    run: Any, source: str, *, seed: int, validation_fraction: float = 0.2, train_size: int | None = None
) -> Prepared:
    """Load, split (stratified, seeded) and preprocess: per-channel standardization fitted on the
    training part, flattened vectors, one-hot labels; the dataset goes on the run card."""
    dataset = data.load_dataset(source)
    raw = data.make_splits(
        dataset, validation="holdout", validation_fraction=validation_fraction, train_size=train_size, seed=seed
    )
    splits = data.preprocess(raw, scaling=SCALING, one_hot=True, flatten=True)
    if run is not None:
        run.use_dataset(dataset, splits)
    return Prepared(dataset, raw, splits)


def shapes(arrays: Mapping[str, Any]) -> pd.DataFrame:
    """Name, shape and type of each array, as a table."""
    return pd.DataFrame(
        [
            {"array": name, "shape": str(tuple(np.shape(a))), "type": str(np.asarray(a[:1]).dtype)}
            for name, a in arrays.items()
        ]
    )


def development_shapes(dataset: data.Dataset, flat: bool = False) -> pd.DataFrame:
    """Shapes of x_dev, y_dev, x_test, y_test as loaded, or (``flat``) after flattening each image
    into one vector of height · width · channels values."""
    x_dev, x_test = dataset.x_train, dataset.x_test
    if flat:
        x_dev, x_test = x_dev.reshape(len(x_dev), -1), x_test.reshape(len(x_test), -1)
    return shapes({"x_dev": x_dev, "y_dev": dataset.y_train, "x_test": x_test, "y_test": dataset.y_test})


def split_shapes(splits: data.Splits) -> pd.DataFrame:
    """Shapes of the model-ready parts (flat, standardized, one-hot)."""
    return shapes(
        {name: getattr(splits, name) for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    )


def standardization_check(splits: data.Splits) -> str:
    """One sentence: mean and sd of the standardized training part, and of the validation part."""

    def stats(x):
        return f"mean {float(np.mean(x)):.3f}, sd {float(np.std(x)):.3f}"

    return (
        f"After standardization the training part has {stats(splits.x_train)} (0 and 1 by construction, "
        f"per colour channel); the validation part, standardized with the training statistics, has "
        f"{stats(splits.x_val)}."
    )


# --------------------------------------------------------------------------- the model and 2.5


def first_layer_text(model: str, image_shapes: Sequence[Sequence[int]], num_classes: int = 10) -> str:
    """2.5: the parameter count depends on the image size only through the first dense layer;
    computed for every (height, width, channels) in ``image_shapes`` from the layer sizes."""
    spec = models.load_spec(model)
    units = _first_units(spec, num_classes)
    lines = []
    for height, width, channels in image_shapes:
        inputs = height * width * channels
        total = models.parameter_summary(spec, num_classes=num_classes, input_shape=(inputs,))["total"]
        lines.append(
            f"- {height}×{width} {_colour(channels)} images: {inputs:,} inputs, first layer "
            f"({inputs:,} + 1) · {units} = {(inputs + 1) * units:,} parameters, model {total:,}."
        )
    rest = models.parameter_summary(spec, num_classes=num_classes)["total"] - (math.prod(spec.input_shape) + 1) * units
    return (
        "Yes. A dense layer has one weight per input and unit plus one bias per unit, so the first layer "
        f"has (H · W · C + 1) · {units} parameters: it grows in proportion to the number of pixels. The "
        f"later layers see only the {units} outputs of the first, so their {rest:,} parameters do not depend "
        "on the image size:\n\n" + "\n".join(lines)
    )


def _first_units(spec: models.ModelSpec, num_classes: int) -> int:
    first = next(layer for layer in spec.layers if layer.type == "dense")
    units = first.options["units"]
    return num_classes if units == models.NUM_CLASSES else int(units)


def _colour(channels: int) -> str:
    return {1: "grayscale", 3: "colour"}.get(channels, f"{channels}-channel")


def softmax_check(model: Any, x: np.ndarray) -> str:
    """The model's output for one sample, and whether it sums to 1 (to float32 precision)."""
    output = np.asarray(model.predict(x[:1], verbose=0))[0].astype(np.float64)
    total = math.fsum(output.tolist())
    verdict = "sums to 1" if abs(total - 1) < 1e-5 else "does NOT sum to 1"
    return (
        f"The model's output for the first training image has {output.size} probabilities, each "
        f"between {output.min():.4f} and {output.max():.4f}; their sum is {total:.6f}: it {verdict}, as a "
        "softmax output must."
    )


# --------------------------------------------------------------------------- training


def arm(model: str, name: str, **settings: Any) -> dict[str, Any]:
    """The one arm of the walkthrough, checked like any experiment arm."""
    return arms_module.check_arms([{"name": name, "model": model}], settings, where="notebook parameters")[0]


def train(
    run: Any, prepared: Prepared, arm_settings: dict[str, Any], seed: int, verbose: int = 2
) -> tuple[results_module.Results, Any]:
    """Train the arm once and measure it as every experiment does; returns the Results (saved by
    the notebook with ``run.save_results``) and the trained model (for the prediction grid)."""
    import keras

    splits = prepared.splits
    keras.utils.set_random_seed(seed)
    model = experiments.build_arm_model(arm_settings, len(splits.class_names))
    counts = models.keras_parameter_counts(model)
    fitted = training.train(
        model,
        splits,
        epochs=arm_settings["epochs"],
        batch_size=arm_settings["batch_size"],
        seed=seed,
        early_stopping=arm_settings["early_stopping"],
        checkpoint_best=arm_settings["checkpoint"],
        batch_norm=arm_settings["batch_norm"],
        monitor_images=arm_settings["monitor_images"],
        verbose=verbose,
    )
    measured = experiments.measure_run(fitted, splits, seed, arm_settings["batch_size"])
    sizes = splits.sizes
    results = results_module.Results(
        chapter=getattr(run, "chapter", ""),
        profile=getattr(run, "profile", ""),
        parameters=dict(getattr(run, "parameters", {}) or {}),
        dataset=results_module.DatasetInfo(
            name=prepared.dataset.name,
            fingerprint=prepared.dataset.fingerprint,
            synthetic=bool(prepared.dataset.is_synthetic),
            sizes={"train": sizes["train"], "validation": sizes["val"], "test": sizes["test"]},
            class_names=list(splits.class_names),
        ),
        versions=training.backend_versions(),
        device=getattr(run, "device", "") or training.configure_backend(),
        arms=[
            results_module.ArmResult(
                arm_settings["name"],
                arm_settings["model"],
                counts,
                {**{k: v for k, v in arm_settings.items() if k != "name"}, "scaling": SCALING},
                [measured],
            )
        ],
    )
    return results.check(), fitted.model


def held_out_text(results: results_module.Results) -> str:
    """2.8: test loss and accuracy of the evaluated weights (the test set was used for nothing else)."""
    entry = results.arms[0]
    run = entry.runs[0]
    chance = 1 / len(results.dataset.class_names)
    return (
        f"On the {results.dataset.sizes['test']:,} test images, {entry.name} (weights of epoch "
        f"{run.evaluated_epoch}) reaches accuracy {run.test['accuracy']:.4f} and loss {run.test['loss']:.4f}; "
        f"guessing would give {chance:.2f}. The validation accuracy of the same weights is "
        f"{run.validation['accuracy']:.4f}."
    )


def first_test_predictions(
    model: Any, prepared: Prepared, count: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``count`` test images (as loaded, for display), their labels and the model's predictions."""
    from coursebook.course import evaluation

    predicted = evaluation.predict_labels(model, prepared.splits.x_test[:count])
    return prepared.dataset.x_test[:count], prepared.dataset.y_test[:count].ravel(), predicted


def describe(prepared: Prepared) -> str:
    """The parts used and how they were made, with the standardization check."""
    return (
        f"{report.data_description(prepared.dataset, prepared.splits)} Preprocessing: "
        f"{prepared.splits.preprocessing}. {standardization_check(prepared.splits)}"
    )
