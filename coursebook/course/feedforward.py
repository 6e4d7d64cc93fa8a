"""The feed-forward walkthrough of Applied ML HW4 Q3, Part 2 (2.1-2.9): the data as vectors, a
dense network whose size follows from the data, and the sentences that answer 2.5, check the
softmax output and report the held-out metric. The network trains as a one-arm experiment
(:mod:`coursebook.course.experiments`), through the run store like every other chapter.

Preprocessing order: the development set (the training images) is split 80:20 first, so the
standardization statistics come from the training part only (the validation part stays unseen, a
stricter version of "fit on the development set only"); then every image is flattened to a vector
(the model's input is a vector: :func:`coursebook.course.models.takes_vectors`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursebook.course import data, models, report, results as results_module


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


# --------------------------------------------------------------------------- after training


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
    results: results_module.Results, dataset: data.Dataset, count: int = results_module.FIRST_TEST_PREDICTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``count`` test images (as loaded, for display), their labels and the classes the
    run's evaluated weights predicted for them (recorded in the results file)."""
    predicted = results.arms[0].runs[0].first_test_predictions
    if len(predicted) < count:
        raise ValueError(f"the results file records {len(predicted)} test predictions, not {count}")
    return dataset.x_test[:count], dataset.y_test[:count].ravel(), np.asarray(predicted[:count])


def describe(dataset: data.Dataset, splits: data.Splits) -> str:
    """The parts used and how they were made, with the standardization check."""
    return (
        f"{report.data_description(dataset, splits)} Preprocessing: "
        f"{splits.preprocessing}. {standardization_check(splits)}"
    )
