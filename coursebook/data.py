"""The data layer: real CIFAR-10 or a synthetic stand-in, splits and preprocessing.

    ds = load_dataset("auto")            # CIFAR-10 when it can be had, else synthetic
    splits = preprocess(make_splits(ds, validation="holdout"), scaling="unit")

Importing this module is cheap (numpy only): Keras is imported only to download CIFAR-10,
and scikit-learn only when splits are made. `dataset_fingerprint` never decodes images,
so the book runner can use it as a cache key before any kernel starts.

Real CIFAR-10 is looked for, in order, in ``$COURSEBOOK_DATA``, ``<ROOT>/data/`` and Keras'
cache ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``); in each, an archive under
one of `ARCHIVE_NAMES` wins over an extracted directory under one of `BATCH_DIR_NAMES`.
The archive's md5 is checked, its pickled batches are decoded once into ``.npy`` files
under ``<ROOT>/.cache/datasets/`` (or ``$COURSEBOOK_CACHE``), and later loads read those.

The synthetic stand-in has ten classes of shapes (`SYNTHETIC_CLASSES`) drawn on textured
backgrounds. One shape of random colour, size (half-size 5.5-12 px), position and tilt
(within 15 degrees) sits on a background of random colour with a smooth colour texture;
up to three distractors (small blobs and short strokes) lie behind it or, one of them,
in front; Gaussian pixel noise of random strength covers it all. 12% of the shapes are
drawn faintly (8-25 RGB units from their background), so some images are hard. The
classes come in deliberately similar pairs (filled vs hollow, upright vs diagonal,
horizontal vs vertical, triangle vs diamond); the hue of 60% of the shapes lies near a
hue shared by the pair, a weak cue like the colour statistics of CIFAR-10 classes. Every
class shape is mirror-symmetric and survives small rotations, so the assignments'
augmentation (flips, 10-degree rotations, 10% shifts) keeps labels valid.

Measured learnability (TensorFlow backend on 2 shared CPU cores, Adam, batch 32, pixels
/ 255, validation images disjoint from the training images):
- a 57k-parameter CNN (Conv 32, pool, Conv 64, pool, Conv 64, global max pool, Dense 10;
  learning rate 0.003) on 4,000 images: validation accuracy 0.60, 0.58 and 0.66 on 1,000
  images after 3 epochs (seeds 0, 1, 2), chance being 0.10. With 2,000 images it reaches
  only 0.18-0.33 after 3 epochs: learning takes off after about 300 steps.
- the Keras assignment's 2-block CNN (2,168,362 parameters, learning rate 0.001) on
  10,000 images, 6 epochs: accuracy on 1,000 validation images 0.15, 0.44, 0.74, 0.79,
  0.84, 0.86 by epoch (training accuracy 0.86 at the end); the most frequent confusions
  were plus taken for stripes-h, and diamond taken for saltire, plus or triangle.

`GENERATOR_VERSION` is part of the synthetic fingerprint: change it whenever the images
change.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from coursebook import paths


# === common: errors, the Dataset record, the array cache =================================

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
    """`$COURSEBOOK_CACHE` if set, else ``<ROOT>/.cache/datasets``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else paths.ROOT / ".cache" / "datasets"


def atomic_write_bytes(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp_file:
            write(tmp_file)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_arrays(directory: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write each array as ``<name>.npy`` and then `meta` (the marker of a complete cache)."""
    for name, array in arrays.items():
        atomic_write_bytes(directory / f"{name}.npy", lambda f, a=array: np.save(f, a))
    text = json.dumps(meta, indent=1, sort_keys=True).encode()
    atomic_write_bytes(directory / _COMPLETE_MARKER, lambda f: f.write(text))


def load_arrays(directory: Path) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata saved by `save_arrays`, or None when the cache is absent or
    incomplete (a damaged cache is treated as absent and rebuilt)."""
    marker = directory / _COMPLETE_MARKER
    if not marker.is_file():
        return None
    try:
        meta = json.loads(marker.read_text())
        arrays = {name: np.load(directory / f"{name}.npy") for name in ARRAY_NAMES}
    except (OSError, ValueError, EOFError):
        return None
    return arrays, meta


# === real CIFAR-10 =======================================================================

OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_NAME = "CIFAR-10"
CIFAR10_CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
DATA_ENV = "COURSEBOOK_DATA"
ARCHIVE_NAMES = (
    "cifar-10-python.tar.gz",  # the official name
    "cifar-10-batches-py.tar.gz",  # an older Keras 3 download name
    "cifar-10-batches-py-target_archive",  # the download name of Keras 3.15
)
BATCH_DIR_NAMES = (
    "cifar-10-batches-py",
    "cifar-10-batches-py_extracted/cifar-10-batches-py",
    "cifar-10-batches-py-target/cifar-10-batches-py",
)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
REQUIRED_FILES = (*TRAIN_BATCHES, TEST_BATCH, META_FILE)
_PIXELS = 32 * 32 * 3
_MD5_INDEX = "md5-index.json"
_NETWORK_TIMEOUT_S = 3.0
_DOWNLOAD_TIMEOUT_S = 60.0


def search_dirs() -> list[Path]:
    """The directories searched, in priority order (read from the environment each call)."""
    keras_home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    dirs = [paths.ROOT / "data", keras_home / "datasets"]
    if os.environ.get(DATA_ENV):
        dirs.insert(0, Path(os.environ[DATA_ENV]).expanduser())
    return dirs


def find_cifar10(dirs: Sequence[Path] | None = None) -> Path | None:
    """The first archive or extracted batch directory found in `dirs`, or None."""
    for directory in search_dirs() if dirs is None else dirs:
        for name in ARCHIVE_NAMES:
            if (directory / name).is_file():
                return directory / name
        for name in BATCH_DIR_NAMES:
            if (directory / name).is_dir():
                return directory / name
    return None


def placement_hint(dirs: Sequence[Path] | None = None) -> str:
    """Where a good archive should go, for error messages."""
    places = ", ".join(str(d) for d in (search_dirs() if dirs is None else dirs))
    return (
        f"Put the official archive cifar-10-python.tar.gz (md5 {OFFICIAL_MD5}, from {ORIGIN}) "
        f"in one of: {places} (or set ${DATA_ENV} to its directory)."
    )


# --- checksums, cached by path, size and modification time -------------------------------


def content_md5(files: Sequence[Path], cache_dir: Path | None = None) -> str:
    """The md5 of the files' concatenated bytes (of the file itself for one file), remembered
    in ``<cache_dir>/md5-index.json`` with their sizes and modification times, so unchanged
    files are hashed only once."""
    index_path = (cache_dir or default_cache_dir()) / _MD5_INDEX
    key = json.dumps([str(f.resolve()) for f in files])
    stamp = [[f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    index = _read_index(index_path)
    if index.get(key, {}).get("stamp") == stamp:
        return index[key]["md5"]
    digest = hashlib.md5()
    for file in files:
        with open(file, "rb") as stream:
            for chunk in iter(lambda s=stream: s.read(1 << 20), b""):
                digest.update(chunk)
    index[key] = {"stamp": stamp, "md5": digest.hexdigest()}
    text = json.dumps(index, indent=1).encode()
    atomic_write_bytes(index_path, lambda f: f.write(text))
    return index[key]["md5"]


def _read_index(index_path: Path) -> dict[str, dict]:
    try:
        return json.loads(index_path.read_text())
    except (OSError, ValueError):
        return {}


def cifar10_fingerprint(location: Path, cache_dir: Path | None = None) -> str:
    """The archive's md5; for an extracted directory, ``batches-md5:`` + md5 of its files."""
    if location.is_file():
        return content_md5([location], cache_dir)
    missing = [name for name in REQUIRED_FILES if not (location / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 directory {location} lacks {', '.join(missing)}.")
    return "batches-md5:" + content_md5([location / n for n in REQUIRED_FILES], cache_dir)


# --- decoding the pickled batches -------------------------------------------------------


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and numpy arrays: a batch file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a batch file")
        return super().find_class(module, name)


def _unpickle(raw: bytes, where: str) -> dict:
    try:
        content = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataError(f"{where} is not a readable CIFAR batch ({error}).") from error
    if not isinstance(content, dict):
        raise DataError(f"{where} holds a {type(content).__name__}, not a CIFAR batch dict.")
    return content


def decode_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) uint8 from one pickled batch file."""
    batch = _unpickle(raw, where)
    if b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{where} lacks the keys b'data' and b'labels' of a CIFAR batch.")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS:
        raise DataError(f"{where}: b'data' is {data.dtype} {data.shape}, not uint8 (N, 3072).")
    if labels.shape != (len(data),) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(f"{where}: b'labels' must be {len(data)} integers in 0..9.")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # planes R, G, B -> HWC
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def decode_class_names(raw: bytes, where: str) -> tuple[str, ...]:
    """The label names stored in ``batches.meta``."""
    meta = _unpickle(raw, where)
    if b"label_names" not in meta:
        raise DataError(f"{where} lacks the key b'label_names'.")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"])


def _decode_all(read: Callable[[str], bytes], where: str) -> tuple[dict, tuple[str, ...]]:
    train = [decode_batch(read(name), f"{where}: {name}") for name in TRAIN_BATCHES]
    x_test, y_test = decode_batch(read(TEST_BATCH), f"{where}: {TEST_BATCH}")
    arrays = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]).reshape(-1, 1),
        "x_test": x_test,
        "y_test": y_test.reshape(-1, 1),
    }
    return arrays, decode_class_names(read(META_FILE), f"{where}: {META_FILE}")


def decode_archive(archive: Path) -> tuple[dict, tuple[str, ...]]:
    """Decode the official ``.tar.gz``; a corrupt archive or a missing batch is a DataError."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in REQUIRED_FILES if name not in members]
            if missing:
                raise DataError(
                    f"CIFAR-10 archive {archive} lacks {', '.join(missing)}. {placement_hint()}"
                )
            return _decode_all(lambda name: tar.extractfile(members[name]).read(), str(archive))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataError(
            f"CIFAR-10 archive {archive} is corrupt or truncated ({error}). {placement_hint()}"
        ) from error


def decode_batch_dir(directory: Path) -> tuple[dict, tuple[str, ...]]:
    """Decode an extracted ``cifar-10-batches-py`` directory."""
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 directory {directory} lacks {', '.join(missing)}.")
    return _decode_all(lambda name: (directory / name).read_bytes(), str(directory))


# --- download ---------------------------------------------------------------------------


def network_reachable(url: str = ORIGIN, timeout: float = _NETWORK_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the download host opens within `timeout` seconds."""
    host = url.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def download_cifar10(target_dir: Path) -> Path:
    """Download the official archive into `target_dir` with Keras, checking its md5."""
    import keras

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        return Path(
            keras.utils.get_file(
                fname=ARCHIVE_NAMES[0],
                origin=ORIGIN,
                cache_dir=str(target_dir),
                cache_subdir="",
                file_hash=OFFICIAL_MD5,
            )
        )
    except Exception as error:
        raise DataError(f"Downloading {ORIGIN} failed ({error}). {placement_hint()}") from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


# --- the loader -------------------------------------------------------------------------


def locate_cifar10(dirs: Sequence[Path] | None = None, *, download: bool = True) -> Path:
    """The local archive or batch directory, downloading it when absent and reachable."""
    found = find_cifar10(dirs)
    if found is not None:
        return found
    if download and network_reachable():
        return download_cifar10((search_dirs() if dirs is None else list(dirs))[0])
    reason = "downloads are disabled" if not download else f"{ORIGIN} cannot be reached"
    raise DataError(f"CIFAR-10 was not found and {reason}. {placement_hint(dirs)}")


def load_cifar10(
    *,
    dirs: Sequence[Path] | None = None,
    cache_dir: Path | None = None,
    expected_md5: str | None = OFFICIAL_MD5,
    download: bool = True,
) -> Dataset:
    """CIFAR-10 as Keras returns it, decoded once and then read from the array cache.

    `expected_md5` is checked against an archive (None skips the check); an extracted
    directory cannot be checked against it and is only checked for structure.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    location = locate_cifar10(dirs, download=download)
    fingerprint = cifar10_fingerprint(location, cache_dir)
    if location.is_file() and expected_md5 and fingerprint != expected_md5.lower():
        raise DataError(
            f"CIFAR-10 archive {location} has md5 {fingerprint}, expected {expected_md5}: "
            f"it is damaged or not the official file. {placement_hint(dirs)}"
        )
    array_dir = cache_dir / f"cifar10-{fingerprint.split(':')[-1]}"
    cached = load_arrays(array_dir)
    if cached is None:
        arrays, class_names = (decode_archive if location.is_file() else decode_batch_dir)(location)
        save_arrays(array_dir, arrays, {"class_names": class_names, "source": str(location)})
    else:
        arrays, class_names = cached[0], tuple(cached[1]["class_names"])
    return Dataset(CIFAR10_NAME, False, **arrays, class_names=class_names,
                   fingerprint=fingerprint, source=str(location))  # fmt: skip


# === the synthetic stand-in ==============================================================

GENERATOR_VERSION = 1
SYNTHETIC_NAME = "synthetic CIFAR-shaped stand-in"
SYNTHETIC_CLASSES = {
    "disc": "a filled circle",
    "ring": "a hollow circle (an annulus)",
    "square": "a filled square",
    "frame": "a hollow square outline",
    "plus": "an upright cross (+)",
    "saltire": "a diagonal cross (x)",
    "stripes-h": "a square patch of horizontal stripes",
    "stripes-v": "a square patch of vertical stripes",
    "triangle": "a filled triangle pointing up",
    "diamond": "a filled square standing on a corner",
}
SYNTHETIC_CLASS_NAMES = tuple(SYNTHETIC_CLASSES)
_SIZE = 32
_CHUNK = 512  # images per vectorized step, each chunk with its own seed: keep it fixed
_MAX_TILT = np.deg2rad(15.0)
_MIN_CONTRAST = 60.0  # smallest RGB distance between shape and background
_FAINT = 0.12  # share of shapes drawn barely darker or lighter than their background
_HUE_CUE = 0.6  # share of shapes coloured near their class pair's hue
_TRAIN_STREAM, _TEST_STREAM = 0, 1


def synthetic_fingerprint(n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> str:
    """A hash of generator version, seed and sizes: equal fingerprints, equal images."""
    spec = {"version": GENERATOR_VERSION, "seed": seed, "n_train": n_train, "n_test": n_test}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return f"synthetic-v{GENERATOR_VERSION}-{digest[:16]}"


def balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` labels with every class equally often (within one), in random order."""
    return rng.permutation(np.arange(count) % len(SYNTHETIC_CLASS_NAMES)).astype(np.uint8)


def synthetic_images(count: int, *, seed: int = 0, stream: int = _TRAIN_STREAM) -> tuple:
    """Images (count, 32, 32, 3) uint8 and labels (count, 1) uint8, fixed by seed and stream.

    Chunks of images are drawn in parallel threads (numpy releases the GIL), each from its
    own child seed, so the result does not depend on the number of threads.
    """
    n_chunks = -(-count // _CHUNK)
    label_seed, *chunk_seeds = np.random.SeedSequence([seed, stream]).spawn(n_chunks + 1)
    labels = balanced_labels(count, np.random.default_rng(label_seed))
    images = np.empty((count, _SIZE, _SIZE, 3), np.uint8)

    def draw(chunk: int) -> None:
        rows = slice(chunk * _CHUNK, (chunk + 1) * _CHUNK)
        images[rows] = _draw_chunk(labels[rows], np.random.default_rng(chunk_seeds[chunk]))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(draw, range(n_chunks)))
    return images, labels.reshape(-1, 1)


# --- drawing ----------------------------------------------------------------------------

_GRID_Y, _GRID_X = (np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float32) + 0.5)[:, None]


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """n draws in [low, high), shaped (n, 1, 1) to broadcast over a batch of images."""
    return rng.uniform(low, high, n).astype(np.float32)[:, None, None]


def _coverage(sdf_px: np.ndarray) -> np.ndarray:
    """Anti-aliased ink coverage from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - sdf_px, 0.0, 1.0)[..., None]


def _paint(canvas: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    """Blend `colour` (n, 3) into `canvas` (n, H, W, 3) where `coverage` (n, H, W, 1) says."""
    ink = colour[:, None, None, :] - canvas
    ink *= coverage
    canvas += ink


def _background(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random base colour plus a smooth texture: 4x4 noise bilinearly upsampled."""
    base = rng.uniform(0, 255, (n, 1, 1, 3)).astype(np.float32)
    coarse = rng.normal(0, 1, (n, 4, 4, 3)).astype(np.float32)
    coarse *= _uniform(rng, 5, 30, n)[..., None]
    upsample = np.clip(1 - np.abs(np.linspace(-0.4, 3.4, _SIZE)[:, None] - np.arange(4)), 0, 1)
    upsample = (upsample / upsample.sum(1, keepdims=True)).astype(np.float32)
    smooth = upsample @ coarse.transpose(0, 3, 1, 2) @ upsample.T  # (n, 3, H, W)
    return base + smooth.transpose(0, 2, 3, 1)


def _distractor(rng: np.random.Generator, n: int) -> np.ndarray:
    """Coverage of a small blob or a short stroke, present in 70% of the images."""
    x0, y0 = _uniform(rng, 0, _SIZE, n), _uniform(rng, 0, _SIZE, n)
    angle, length = _uniform(rng, 0, np.pi, n), _uniform(rng, 0, 10, n)
    is_blob = _uniform(rng, 0, 1, n) < 0.5
    length = np.where(is_blob, 0.0, length)
    dx, dy = np.cos(angle) * length, np.sin(angle) * length
    along = ((_GRID_X - x0) * dx + (_GRID_Y - y0) * dy) / np.maximum(length**2, 1e-6)
    along = np.clip(along, 0.0, 1.0)
    distance = np.hypot(_GRID_X - x0 - along * dx, _GRID_Y - y0 - along * dy)
    width = np.where(is_blob, _uniform(rng, 1.0, 2.5, n), _uniform(rng, 0.5, 0.9, n))
    present = _uniform(rng, 0, 1, n) < 0.7
    return _coverage(distance - width) * present[..., None]


def _shape_sdf(label: int, u: np.ndarray, v: np.ndarray, thick: np.ndarray,
               period: np.ndarray, phase: np.ndarray, half: np.ndarray) -> np.ndarray:  # fmt: skip
    """Signed distance (in half-sizes) to the shape of class `label` in its own frame."""
    name = SYNTHETIC_CLASS_NAMES[label]
    rho, box = np.hypot(u, v), np.maximum(np.abs(u), np.abs(v))
    if name == "disc":
        return rho - 0.9
    if name == "ring":
        return np.abs(rho - 0.72) - thick
    if name == "square":
        return box - 0.8
    if name == "frame":
        return np.abs(box - 0.72) - thick
    if name in ("plus", "saltire"):
        if name == "saltire":
            u, v = (u + v) / np.sqrt(2), (u - v) / np.sqrt(2)
        arm = thick + 0.1
        bar_h = np.maximum(np.abs(u) - 1, np.abs(v) - arm)
        bar_v = np.maximum(np.abs(v) - 1, np.abs(u) - arm)
        return np.minimum(bar_h, bar_v)
    if name in ("stripes-h", "stripes-v"):
        across = v if name == "stripes-h" else u
        wave = np.abs(np.mod(across * half / period + phase, 1.0) - 0.5) - 0.25
        return np.maximum(box - 0.9, wave * period / half)
    if name == "triangle":
        side = (np.abs(u) * 1.7 - (v + 1) * 0.95) / np.hypot(1.7, 0.95)
        return np.maximum(v - 0.7, side)
    return (np.abs(u) + np.abs(v) - 1) / np.sqrt(2)  # diamond


def _shape_coverage(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coverage (n, H, W, 1) of each image's class shape at a random place, size and tilt."""
    n = len(labels)
    half, tilt = _uniform(rng, 5.5, 12, n), _uniform(rng, -_MAX_TILT, _MAX_TILT, n)
    cx, cy = _uniform(rng, 9, 23, n), _uniform(rng, 9, 23, n)
    thick, period = _uniform(rng, 0.15, 0.3, n), _uniform(rng, 3.5, 6.0, n)
    phase = _uniform(rng, 0, 1, n)
    dx, dy = _GRID_X - cx, _GRID_Y - cy
    u = (dx * np.cos(tilt) + dy * np.sin(tilt)) / half
    v = (-dx * np.sin(tilt) + dy * np.cos(tilt)) / half
    sdf = np.empty((n, _SIZE, _SIZE), np.float32)
    for label in np.unique(labels):
        rows = labels == label
        sdf[rows] = _shape_sdf(int(label), u[rows], v[rows], thick[rows], period[rows],
                               phase[rows], half[rows]) * half[rows]  # fmt: skip
    return _coverage(sdf)


def _hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """RGB in [0, 255] (n, 3) from hue, saturation and value in [0, 1] (each (n,))."""
    k = np.mod(hue[:, None] * 6 + [5, 3, 1], 6)
    ramp = np.clip(np.minimum(k, 4 - k), 0, 1)
    return (value[:, None] * (1 - saturation[:, None] * ramp) * 255).astype(np.float32)


def _foreground_colour(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random colour whose hue is, in `_HUE_CUE` of the images, near its pair's hue."""
    n = len(labels)
    pair_hue = (labels // 2) / (len(SYNTHETIC_CLASS_NAMES) // 2) + rng.normal(0, 0.04, n)
    hue = np.where(rng.random(n) < _HUE_CUE, pair_hue, rng.random(n))
    return _hsv_to_rgb(hue, rng.uniform(0.4, 1.0, n), rng.uniform(0.3, 1.0, n))


def _contrasting(
    colour: np.ndarray, background: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """`colour` at least `_MIN_CONTRAST` away from `background`, except for a `_FAINT` share
    of the images, where it is set only 8-25 away (hard, sometimes hopeless, cases)."""
    offset = colour - background
    distance = np.linalg.norm(offset, axis=1, keepdims=True)
    direction = np.where(distance > 1e-3, offset / np.maximum(distance, 1e-3), 1 / np.sqrt(3))
    faint = rng.random((len(colour), 1)) < _FAINT
    target = np.where(faint, rng.uniform(8, 25, (len(colour), 1)), _MIN_CONTRAST)
    moved = np.clip(background + direction * target, 0, 255).astype(np.float32)
    return np.where(faint | (distance < _MIN_CONTRAST), moved, colour)


def _draw_chunk(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Background, two distractors, the class shape, one distractor in front, then noise."""
    n = len(labels)
    canvas = _background(rng, n)
    mean_background = canvas.mean(axis=(1, 2))
    for _ in range(2):
        _paint(canvas, _distractor(rng, n), rng.uniform(0, 255, (n, 3)).astype(np.float32))
    colour = _contrasting(_foreground_colour(labels, rng), mean_background, rng)
    _paint(canvas, _shape_coverage(labels, rng), colour)
    _paint(canvas, _distractor(rng, n), rng.uniform(0, 255, (n, 3)).astype(np.float32))
    noise = rng.standard_normal(canvas.shape, dtype=np.float32)
    noise *= _uniform(rng, 2, 12, n)[..., None]
    canvas += noise
    return np.clip(canvas, 0, 255, out=canvas).round(out=canvas).astype(np.uint8)


# --- the dataset ------------------------------------------------------------------------


def load_synthetic(
    n_train: int = 50_000, n_test: int = 10_000, *, seed: int = 0, cache_dir: Path | None = None
) -> Dataset:
    """The stand-in dataset, generated once per (version, seed, sizes) and then cached."""
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, (int, np.integer)) or value < len(SYNTHETIC_CLASS_NAMES):
            minimum = len(SYNTHETIC_CLASS_NAMES)
            raise DataError(f"{name}={value!r}: need an integer of at least {minimum}.")
    fingerprint = synthetic_fingerprint(n_train, n_test, seed)
    array_dir = Path(cache_dir or default_cache_dir()) / fingerprint
    cached = load_arrays(array_dir)
    if cached is None:
        x_train, y_train = synthetic_images(n_train, seed=seed, stream=_TRAIN_STREAM)
        x_test, y_test = synthetic_images(n_test, seed=seed, stream=_TEST_STREAM)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        save_arrays(array_dir, arrays, {"generator_version": GENERATOR_VERSION, "seed": seed})
    else:
        arrays = cached[0]
    source = f"generated by coursebook.data (generator version {GENERATOR_VERSION}, seed {seed})"
    return Dataset(SYNTHETIC_NAME, True, **arrays, class_names=SYNTHETIC_CLASS_NAMES,
                   fingerprint=fingerprint, source=source)  # fmt: skip


# === choosing a source ===================================================================

SOURCES = ("auto", "cifar10", "synthetic")
FULL_SIZES = (50_000, 10_000)


def resolve_source(source: str = "auto", *, download: bool = True) -> str:
    """``cifar10`` or ``synthetic``: for ``auto``, CIFAR-10 when it is on disk or the
    download host answers (a ~3 s check), else the synthetic stand-in."""
    if source not in SOURCES:
        raise DataError(f"source={source!r}: choose one of {SOURCES}.")
    if source != "auto":
        return source
    if find_cifar10() is not None or (download and network_reachable()):
        return "cifar10"
    return "synthetic"


def load_dataset(
    source: str = "auto",
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
    download: bool = True,
    synthetic_sizes: tuple[int, int] = FULL_SIZES,
) -> Dataset:
    """The dataset named by `source`; `seed` and `synthetic_sizes` (train, test) shape only
    the synthetic one. ``cifar10`` raises DataError saying where to put the archive; ``auto``
    falls back to synthetic only when CIFAR-10 is absent locally and its download fails."""
    resolved = resolve_source(source, download=download)
    if resolved == "cifar10":
        try:
            return load_cifar10(cache_dir=cache_dir, download=download)
        except DataError as error:
            if source == "cifar10" or find_cifar10() is not None:
                raise
            warnings.warn(f"Using the synthetic stand-in: {error}", stacklevel=2)
    return load_synthetic(*synthetic_sizes, seed=seed, cache_dir=cache_dir)


def dataset_fingerprint(
    source: str = "auto",
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
    download: bool = True,
    synthetic_sizes: tuple[int, int] = FULL_SIZES,
) -> str:
    """The fingerprint `load_dataset` with the same arguments gives, without decoding:
    the archive's md5 (remembered by path, size and mtime), the official md5 for an
    archive still to be downloaded, or the synthetic generator's fingerprint."""
    if resolve_source(source, download=download) == "synthetic":
        return synthetic_fingerprint(*synthetic_sizes, seed=seed)
    found = find_cifar10()
    if found is not None:
        return cifar10_fingerprint(found, cache_dir)
    if download and network_reachable():
        return OFFICIAL_MD5
    raise DataError(f"CIFAR-10 was not found and cannot be downloaded. {placement_hint()}")


# === splits, preprocessing, samples ======================================================

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
        picked, _ = train_test_split(
            np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
        )
    except ValueError as error:
        raise DataError(f"{what}: cannot draw a stratified subset ({error}).") from error
    return np.sort(picked)


def _holdout(ds: Dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(fraction, (float, int)) or not 0 < fraction < 1:
        raise DataError(f"validation_fraction={fraction!r}: must be a number between 0 and 1.")
    val_idx = _stratified_pick(ds.y_train.ravel(), float(fraction), seed,
                               f"validation_fraction={fraction}")  # fmt: skip
    return np.setdiff1d(np.arange(len(ds.y_train)), val_idx), val_idx


def _subset(train_idx: np.ndarray, labels: np.ndarray, train_size: int, seed: int) -> np.ndarray:
    available = len(train_idx)
    if not isinstance(train_size, (int, np.integer)) or not 0 < train_size <= available:
        raise DataError(
            f"train_size={train_size!r}: must be an integer from 1 to the {available:,} "
            "training images left after the validation split."
        )
    if train_size == available:
        return train_idx
    return train_idx[_stratified_pick(labels[train_idx], int(train_size), seed,
                                      f"train_size={train_size}")]  # fmt: skip


def make_splits(
    ds: Dataset,
    *,
    validation: str = "holdout",
    validation_fraction: float = 0.2,
    train_size: int | None = None,
    seed: int = 0,
) -> Splits:
    """Split `ds` by `validation` protocol, then optionally keep `train_size` training images.

    ``holdout``: a stratified random `validation_fraction` of the training set validates.
    ``test``: the reference protocol; the test set validates (`validation_fraction` unused)
    and the result has ``leaks_test=True``.
    """
    if validation not in VALIDATION_PROTOCOLS:
        raise DataError(f"validation={validation!r}: choose one of {VALIDATION_PROTOCOLS}.")
    labels = ds.y_train.ravel()
    if validation == "holdout":
        train_idx, val_idx = _holdout(ds, validation_fraction, seed)
        x_val, y_val = ds.x_train[val_idx], ds.y_train[val_idx]
    else:
        train_idx, x_val, y_val = np.arange(len(labels)), ds.x_test, ds.y_test
    if train_size is not None:
        train_idx = _subset(train_idx, labels, train_size, seed)
    x_train, y_train = ds.x_train[train_idx], ds.y_train[train_idx]
    protocol = _describe(validation, len(labels), len(train_idx), len(x_val), len(ds.x_test), seed)
    return Splits(x_train, y_train, x_val, y_val, ds.x_test, ds.y_test,
                  class_names=ds.class_names, protocol=protocol,
                  leaks_test=validation == "test", dataset_name=ds.name,
                  fingerprint=ds.fingerprint)  # fmt: skip


def _describe(validation: str, n_all: int, n_train: int, n_val: int, n_test: int, seed: int) -> str:
    """The protocol sentence for a page, with the actual counts."""
    trained = f"The model trains on {n_train:,} of the {n_all:,} training images"
    if validation == "test":
        return (
            f"{trained}. Reference protocol: the {n_test:,} test images serve as validation "
            "data during training and model choice, so the test set is not independent of "
            "the model and test scores are optimistic."
        )
    return (
        f"{trained}; a stratified random {n_val:,} of the training images (seed {seed}) "
        f"are held out for validation, and the {n_test:,} test images are used only for "
        "the final evaluation."
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


def to_one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 (N, num_classes) one-hot rows for integer labels of shape (N,) or (N, 1)."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels).ravel()]


def preprocess(
    splits: Splits, *, scaling: str = "unit", one_hot: bool = True, flatten: bool = False
) -> Splits:
    """float32 images scaled to [0, 1] (``unit``) or standardized per colour channel with
    statistics of the training part only (``standardize``); optionally flattened to
    vectors and with one-hot labels."""
    if scaling not in SCALINGS:
        raise DataError(f"scaling={scaling!r}: choose one of {SCALINGS}.")
    if splits.preprocessing != RAW or splits.x_train.dtype != np.uint8:
        raise DataError(f"preprocess: the splits are already preprocessed: {splits.preprocessing}.")
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
    return replace(splits, **images, **labels, preprocessing="; ".join(steps))


def _scale(x: np.ndarray, shift, scale, flatten: bool) -> np.ndarray:
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
    labels = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.ravel().astype(int)
    num_classes = num_classes or int(labels.max()) + 1
    rng = np.random.default_rng(seed)
    picked = []
    for label in range(num_classes):
        candidates = np.flatnonzero(labels == label)
        if len(candidates) < per_class:
            raise DataError(
                f"per_class={per_class}: class {label} has only {len(candidates)} images."
            )
        picked.append(np.sort(rng.choice(candidates, per_class, replace=False)))
    order = np.concatenate(picked)
    return x[order], labels[order]
