"""What every data source shares: the DataError, the Dataset record, and the on-disk array
cache (``.npy`` files written atomically, complete once ``meta.json`` is written)."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursebook.atomic import atomic_write_bytes
from coursebook.book import paths

CACHE_ENV = "COURSEBOOK_CACHE"
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
_COMPLETE_MARKER = "meta.json"


class DataError(RuntimeError):
    """A data source is missing, damaged, or asked for with an impossible parameter."""


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (N, 32, 32, 3) RGB and labels as uint8 (N, 1), like Keras' loader."""

    name: str
    is_synthetic: bool
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    class_names: tuple[str, ...]
    fingerprint: str
    source: str

    @property
    def num_classes(self) -> int:
        """Number of classes (the length of `class_names`)."""
        return len(self.class_names)

    def summary(self) -> str:
        """One sentence for a page: name, sizes, image shape, where it came from."""
        return (
            f"{self.name}: {len(self.x_train):,} training and {len(self.x_test):,} test "
            f"colour images of {'x'.join(map(str, self.x_train.shape[1:]))} pixels in "
            f"{self.num_classes} classes (source: {self.source})."
        )


def default_cache_dir() -> Path:
    """`$COURSEBOOK_CACHE` if set, else `paths.DATASET_CACHE_DIR` (read at each call)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else paths.DATASET_CACHE_DIR


def save_arrays(directory: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write each array as ``<name>.npy`` and then `meta` (the marker of a complete cache); a
    directory that cannot be written (read-only, full) is a DataError saying so."""
    try:
        for name, array in arrays.items():
            atomic_write_bytes(directory / f"{name}.npy", functools.partial(np.save, arr=array))
        text = json.dumps(meta, indent=1, sort_keys=True).encode()
        atomic_write_bytes(directory / _COMPLETE_MARKER, lambda f: f.write(text))
    except OSError as error:
        raise unwritable(directory, error) from None


def unwritable(directory: Path, error: OSError) -> DataError:
    """The one-line error for a cache or data directory that cannot be written."""
    return DataError(
        f"cannot write to {directory} ({error.strerror or error}): make it writable or free space, "
        f"or set ${CACHE_ENV} to another directory."
    )


def load_arrays(directory: Path, sizes: tuple[int, int] | None = None) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata saved by `save_arrays`, or None when the cache is absent,
    incomplete or damaged (an unreadable file, or an array that is not a `Dataset` array: uint8
    (N, 32, 32, 3) images with (N, 1) labels, N = ``sizes`` (train, test) when given). Damage is
    said in one line on stderr, and the caller rebuilds the cache; it is never served."""
    marker = directory / _COMPLETE_MARKER
    if not marker.is_file():
        return None
    try:
        meta = json.loads(marker.read_text())
        arrays = {name: np.load(directory / f"{name}.npy", allow_pickle=False, mmap_mode="r") for name in ARRAY_NAMES}
    except (OSError, ValueError, EOFError) as error:
        report_damage(directory, f"unreadable: {error}")
        return None
    problem = _array_problem(arrays, sizes) or ("" if isinstance(meta, dict) else "meta.json is not an object")
    if problem:
        report_damage(directory, problem)
        return None
    return arrays, meta


def _array_problem(arrays: dict[str, np.ndarray], sizes: tuple[int, int] | None) -> str:
    for part, expected_n in zip(("train", "test"), sizes or (None, None), strict=True):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        n = expected_n if expected_n is not None else len(x)
        for name, array, shape in ((f"x_{part}", x, (n, 32, 32, 3)), (f"y_{part}", y, (n, 1))):
            if array.dtype != np.uint8 or array.shape != shape:
                return f"{name}.npy is {array.dtype} {array.shape}, expected uint8 {shape}"
    return ""


def report_damage(directory: Path, problem: str) -> None:
    """Say in one line that a cache is damaged and will be rebuilt (the caller treats it as absent)."""
    print(f"coursebook: the dataset cache {directory} is damaged ({problem}): rebuilding it", file=sys.stderr)
