"""Splits that keep the test set apart, preprocessing fitted on training data only, and
per-class samples for figures. scikit-learn is imported only when splits are made."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from coursebook.course.data.core import DataError, Dataset

VALIDATION_PROTOCOLS = ("holdout", "test")
SCALINGS = ("unit", "standardize")
RAW = "none: uint8 pixels in 0..255, integer labels"


@dataclass(frozen=True)
class Splits:
    """The three parts a training chapter uses, and a sentence describing how they were made."""

    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    class_names: tuple[str, ...]
    protocol: str
    leaks_test: bool = False
    dataset_name: str = ""
    fingerprint: str = ""
    preprocessing: str = RAW

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images in each part."""
        return {"train": len(self.x_train), "val": len(self.x_val), "test": len(self.x_test)}


def _stratified_pick(labels: np.ndarray, size: int | float, seed: int, what: str) -> np.ndarray:
    """Sorted indices of a seeded, class-stratified random subset of `labels`."""
    from sklearn.model_selection import train_test_split

    try:
        picked, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    except ValueError as error:
        raise DataError(f"{what}: cannot draw a stratified subset ({error}).") from error
    return np.sort(picked)


def _holdout(ds: Dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(fraction, (float, int)) or not 0 < fraction < 1:
        raise DataError(f"validation_fraction={fraction!r}: must be a number between 0 and 1.")
    val_idx = _stratified_pick(ds.y_train.ravel(), float(fraction), seed,
                               f"validation_fraction={fraction}")  # fmt: skip
    return np.setdiff1d(np.arange(len(ds.y_train)), val_idx), val_idx


def _validating(val_idx: np.ndarray, labels: np.ndarray, validation_size: int, seed: int) -> np.ndarray:
    """A seeded, stratified ``validation_size`` of the held-out images (all of them when no more are held
    out: a dataset smaller than CIFAR-10, such as the sample, keeps its whole validation part)."""
    if not isinstance(validation_size, (int, np.integer)) or isinstance(validation_size, bool) or validation_size < 1:
        raise DataError(f"validation_size={validation_size!r}: must be a positive integer (at most that many).")
    return _stratified_part(val_idx, labels, int(validation_size), seed, f"validation_size={validation_size}")


def _subset(train_idx: np.ndarray, labels: np.ndarray, train_size: int, seed: int) -> np.ndarray:
    available = len(train_idx)
    if not isinstance(train_size, (int, np.integer)) or not 0 < train_size <= available:
        raise DataError(
            f"train_size={train_size!r}: must be an integer from 1 to the {available:,} "
            "training images left after the validation split."
        )
    return _stratified_part(train_idx, labels, int(train_size), seed, f"train_size={train_size}")


def _stratified_part(indices: np.ndarray, labels: np.ndarray, size: int, seed: int, what: str) -> np.ndarray:
    """``size`` of ``indices``, a seeded pick stratified by their labels (all of them when there are no more)."""
    if size >= len(indices):
        return indices
    return indices[_stratified_pick(labels[indices], size, seed, what)]


def make_splits(
    ds: Dataset,
    *,
    validation: str = "holdout",
    validation_fraction: float = 0.2,
    train_size: int | None = None,
    test_size: int | None = None,
    validation_size: int | None = None,
    seed: int = 0,
) -> Splits:
    """Split `ds` by `validation` protocol, then optionally keep `train_size` training images and
    the first `test_size` test images (the same images for every seed and run).

    ``holdout``: a stratified random `validation_fraction` of the training set is held out; at most
    `validation_size` of it, a stratified part, validates (all of it for None; the rest is unused, so
    the training images do not depend on `validation_size`).
    ``test``: the reference protocol; the test set validates (`validation_fraction` unused)
    and the result has ``leaks_test=True``.
    """
    if validation not in VALIDATION_PROTOCOLS:
        raise DataError(f"validation={validation!r}: choose one of {VALIDATION_PROTOCOLS}.")
    labels = ds.y_train.ravel()
    x_test, y_test = _first_test_images(ds, test_size)
    held = 0
    if validation == "holdout":
        train_idx, val_idx = _holdout(ds, validation_fraction, seed)
        held = len(val_idx)
        if validation_size is not None:
            val_idx = _validating(val_idx, labels, validation_size, seed)
        x_val, y_val = ds.x_train[val_idx], ds.y_train[val_idx]
    else:
        train_idx, x_val, y_val = np.arange(len(labels)), x_test, y_test
    if train_size is not None:
        train_idx = _subset(train_idx, labels, train_size, seed)
    x_train, y_train = ds.x_train[train_idx], ds.y_train[train_idx]
    protocol = _describe(
        validation, len(labels), len(train_idx), len(x_val), len(x_test), seed, len(ds.x_test), held or None
    )
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test,
                  class_names=ds.class_names, protocol=protocol,
                  leaks_test=validation == "test", dataset_name=ds.name,
                  fingerprint=ds.fingerprint)  # fmt: skip


def _first_test_images(ds: Dataset, test_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    available = len(ds.x_test)
    if test_size is None:
        return ds.x_test, ds.y_test
    if not isinstance(test_size, (int, np.integer)) or isinstance(test_size, bool) or not 0 < test_size <= available:
        raise DataError(f"test_size={test_size!r}: must be an integer from 1 to the {available:,} test images.")
    return ds.x_test[:test_size], ds.y_test[:test_size]


def _describe(
    validation: str,
    n_all: int,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int,
    n_all_test: int | None = None,
    n_held: int | None = None,
) -> str:
    """The protocol sentence for a page, with the actual counts and shares.

    >>> _describe("holdout", 5170, 4000, 517, 1000, 0, 1017)  # doctest: +NORMALIZE_WHITESPACE
    'A stratified random 517 of the 5,170 training images (10%, seed 0) are held out for validation; the
    model trains on 4,000 of the other 4,653 (653 unused), and the first 1,000 of the 1,017 test images are
    used only for the final evaluation.'
    >>> _describe("holdout", 50000, 1500, 1000, 1000, 0, 10000, 5000)  # doctest: +NORMALIZE_WHITESPACE
    'A stratified random 5,000 of the 50,000 training images (10%, seed 0) are held out for validation, of
    which a stratified 1,000 validate; the model trains on 1,500 of the other 45,000 (43,500 unused), and the
    first 1,000 of the 10,000 test images are used only for the final evaluation.'
    """
    tests = (
        f"the {n_test:,} test images"
        if n_all_test in (None, n_test)
        else f"the first {n_test:,} of the {n_all_test:,} test images"
    )
    if validation == "test":
        return (
            f"The model trains on {n_train:,} of the {n_all:,} training images. Reference protocol: {tests} "
            "serve as validation data during training and model choice, so the test set is not independent of "
            "the model and test scores are optimistic."
        )
    held = n_held or n_val
    left = n_all - held
    trained = (
        f"trains on all {left:,} others"
        if n_train == left
        else f"trains on {n_train:,} of the other {left:,} ({left - n_train:,} unused)"
    )
    validating = "" if held == n_val else f", of which a stratified {n_val:,} validate"
    return (
        f"A stratified random {held:,} of the {n_all:,} training images ({held / n_all:.0%}, seed {seed}) "
        f"are held out for validation{validating}; the model {trained}, and {tests} are used only for the final "
        "evaluation."
    )


# --- preprocessing ----------------------------------------------------------------------


def channel_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (a zero deviation becomes 1) of uint8 images,
    computed exactly from each channel's histogram of the 256 pixel values."""
    values = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for channel in range(x.shape[-1]):
        counts = np.bincount(x[..., channel].ravel(), minlength=256)
        mean = counts @ values / counts.sum()
        means.append(mean)
        stds.append(np.sqrt(counts @ (values - mean) ** 2 / counts.sum()))
    return np.array(means), np.where(np.array(stds) > 0, stds, 1.0)


def to_labels(y) -> np.ndarray:
    """Integer class indices from one-hot rows (argmax) or from integer labels of shape (n,) / (n, 1)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    flat = y.reshape(-1) if y.ndim == 2 else y
    if flat.ndim != 1:
        raise ValueError(f"labels must be one-hot (n, classes) or integers (n,), got shape {y.shape}")
    if flat.size and not np.array_equal(flat, np.round(flat)):
        raise ValueError("integer labels expected, found non-integer values")
    return flat.astype(int)


def to_one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 (N, num_classes) one-hot rows for integer labels of shape (N,) or (N, 1)."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels).ravel()]


def preprocess(splits: Splits, *, scaling: str = "unit", one_hot: bool = True, flatten: bool = False) -> Splits:
    """float32 images scaled to [0, 1] (``unit``) or standardized per colour channel with
    statistics of the training part only (``standardize``); optionally flattened to
    vectors and with one-hot labels."""
    if scaling not in SCALINGS:
        raise DataError(f"scaling={scaling!r}: choose one of {SCALINGS}.")
    if splits.preprocessing != RAW or splits.x_train.dtype != np.uint8:
        raise DataError(f"preprocess: the splits are already preprocessed: {splits.preprocessing}.")
    shift: float | np.ndarray
    scale: float | np.ndarray
    if scaling == "unit":
        shift, scale, steps = 0.0, 255.0, ["pixels / 255"]
    else:
        shift, scale = channel_statistics(splits.x_train)
        steps = ["pixels standardized per colour channel (mean and std of the training part)"]
    images = {k: _scale(getattr(splits, k), shift, scale, flatten)
              for k in ("x_train", "x_val", "x_test")}  # fmt: skip
    labels = {k: getattr(splits, k) for k in ("y_train", "y_val", "y_test")}
    if flatten:
        steps.append(f"flattened to {images['x_train'].shape[1]}-vectors")
    if one_hot:
        labels = {k: to_one_hot(y, len(splits.class_names)) for k, y in labels.items()}
        steps.append("one-hot labels")
    arrays: dict[str, Any] = {**images, **labels}  # the array fields; replace checks their names
    return replace(splits, **arrays, preprocessing="; ".join(steps))


def _scale(x: np.ndarray, shift: float | np.ndarray, scale: float | np.ndarray, flatten: bool) -> np.ndarray:
    """(x - shift) / scale in float32, computed in place to need one float32 copy only."""
    scaled = x.astype(np.float32)
    scaled -= np.asarray(shift, np.float32)
    scaled /= np.asarray(scale, np.float32)
    return scaled.reshape(len(x), -1) if flatten else scaled


# --- samples for figures ----------------------------------------------------------------


def _images_and_labels(data) -> tuple[np.ndarray, np.ndarray, int | None]:
    if isinstance(data, (Dataset, Splits)):
        return data.x_train, data.y_train, len(data.class_names)
    x, y = data
    return np.asarray(x), np.asarray(y), None


def sample_per_class(data, per_class: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` random training images of every class, grouped by class (for a 10x5 grid).

    `data` is a Dataset, a Splits or an ``(x, y)`` pair with integer or one-hot labels;
    returns the images and their integer labels (shape (N,)).
    """
    x, y, num_classes = _images_and_labels(data)
    labels = to_labels(y)
    num_classes = num_classes or int(labels.max()) + 1
    rng = np.random.default_rng(seed)
    picked = []
    for label in range(num_classes):
        candidates = np.flatnonzero(labels == label)
        if len(candidates) < per_class:
            raise DataError(f"per_class={per_class}: class {label} has only {len(candidates)} images.")
        picked.append(np.sort(rng.choice(candidates, per_class, replace=False)))
    order = np.concatenate(picked)
    return x[order], labels[order]
