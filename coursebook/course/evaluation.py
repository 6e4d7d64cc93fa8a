"""Evaluation: loss and accuracy per split, predicted labels, confusion matrix and the per-class
classification report (scikit-learn); `prose.confusion.most_confused_pairs` names the confused pairs.
Labels may be one-hot rows or integer class indices everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from coursebook.course.data.splits import to_labels  # evaluation.to_labels for callers

INFERENCE_BATCH = 256  # images per inference step: on a CPU a fifth of the time per image of batches of 32

SPLITS = {"train": ("x_train", "y_train"), "validation": ("x_val", "y_val"), "test": ("x_test", "y_test")}


def split_arrays(splits_or_arrays: Any) -> dict[str, tuple[Any, Any]]:
    """{split: (x, y)} from a Splits-like object (x_train, x_val, x_test, ...; absent or None splits
    are skipped) or from a mapping of split name to an (x, y) pair."""
    if isinstance(splits_or_arrays, Mapping) and all(
        isinstance(pair, (tuple, list)) for pair in splits_or_arrays.values()
    ):
        return dict(splits_or_arrays)
    found = {}
    for split, (x_name, y_name) in SPLITS.items():
        x, y = (attribute_or_key(splits_or_arrays, x_name), attribute_or_key(splits_or_arrays, y_name))
        if x is not None and y is not None:
            found[split] = (x, y)
    if not found:
        raise ValueError(
            "no split found: pass an object with x_train/y_train, x_val/y_val, x_test/y_test "
            "or a mapping {split: (x, y)}"
        )
    return found


def attribute_or_key(data: Any, name: str) -> Any:
    """``data[name]`` for a mapping, else the attribute ``name``; None when absent (Splits-like input)."""
    return data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)


def evaluate(model: Any, splits_or_arrays: Any, *, batch_size: int = INFERENCE_BATCH) -> pd.DataFrame:
    """One row per split (train, validation, test, as present): split, loss and compiled metrics."""
    rows = []
    for split, (x, y) in split_arrays(splits_or_arrays).items():
        scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        rows.append({"split": split, **{name: float(value) for name, value in scores.items()}})
    return pd.DataFrame(rows)


def predict_probabilities(model: Any, x: Any, *, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """The model's output (class probabilities) for every image, in one inference pass of
    ``batch_size`` images per step. Each step is one ``predict_on_batch`` call: ``model.predict``
    sets up a dataset and its callbacks on every call, which costs more than the pass itself over a
    few hundred images; the outputs are the same."""
    if not len(x):
        raise ValueError("no images to predict")
    steps = range(0, len(x), batch_size)
    return np.concatenate([np.asarray(model.predict_on_batch(x[start : start + batch_size])) for start in steps])


def scores_from_probabilities(y_true: Any, probabilities: np.ndarray, *, clip: bool | None = None) -> dict[str, float]:
    """Loss and accuracy as ``model.evaluate`` reports them for a softmax model compiled with
    ``categorical_crossentropy`` and ``accuracy``, from its predicted probabilities (one pass over
    the images instead of two): the cross-entropy of the true class, averaged over images, and the
    share of images whose most probable class is the true one. Rows are normalized to sum 1. With
    ``clip`` they are clipped to [epsilon, 1 - epsilon] (``keras.config.epsilon()``), as Keras
    does on the JAX and PyTorch backends; the TensorFlow backend instead reads the logits that the
    softmax keeps, which the probabilities give to float32 precision down to the smallest normal
    float32 (below it, about 87 nats, the loss of that image is capped there). ``clip=None``:
    as the current backend does."""
    import keras

    if clip is None:
        clip = keras.backend.backend() != "tensorflow"
    labels = to_labels(y_true)
    raw = np.asarray(probabilities, dtype=np.float64)
    p = raw / raw.sum(axis=-1, keepdims=True)
    low = keras.config.epsilon() if clip else float(np.finfo(np.float32).tiny)
    p = np.clip(p, low, 1.0 - keras.config.epsilon() if clip else 1.0)
    return {
        "loss": float(-np.log(p[np.arange(len(labels)), labels]).mean()),
        "accuracy": float((raw.argmax(axis=-1) == labels).mean()),
    }


def predict_labels(model: Any, x: Any, *, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Predicted class index of every image (argmax of the model's output)."""
    return predict_probabilities(model, x, batch_size=batch_size).argmax(axis=-1)


def confusion(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted class, all ``n_classes`` kept."""
    return confusion_matrix(to_labels(y_true), to_labels(y_pred), labels=np.arange(n_classes))


def classification_report_frame(y_true: Any, y_pred: Any, class_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (index: class name), then macro and weighted averages."""
    report = classification_report(
        to_labels(y_true),
        to_labels(y_pred),
        labels=np.arange(len(class_names)),
        target_names=list(class_names),
        output_dict=True,
        zero_division=0,
    )
    report.pop("accuracy", None)
    frame = pd.DataFrame(report).T.rename(columns={"f1-score": "f1"})
    frame.index.name = "class"
    return frame.astype({"support": int})
