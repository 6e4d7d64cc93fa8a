"""Real CIFAR-10: finding the official archive, checking its md5, decoding its pickled
batches, and downloading it.

CIFAR-10 is looked for, in order, in ``$COURSEBOOK_DATA``, `paths.DATA_DIR`
(``<ROOT>/data/``) and Keras' cache ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``);
in each, an archive under one of `ARCHIVE_NAMES` wins over an extracted directory under
one of `BATCH_DIR_NAMES`. The archive's md5 is checked, its pickled batches are decoded
once into ``.npy`` files under `paths.DATASET_CACHE_DIR` (or ``$COURSEBOOK_CACHE``), and
later loads read those. A download lands in `download_dir` (once, atomically: :func:`download_cifar10`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import filelock
import numpy as np

from coursebook.book import paths
from coursebook.course.data.core import (
    DataError,
    Dataset,
    atomic_write_bytes,
    default_cache_dir,
    load_arrays,
    report_damage,
    save_arrays,
    unwritable,
)

OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
# The md5 of each file of the official archive, as torchvision's CIFAR10 dataset checks them
# (torchvision/datasets/cifar.py): an extracted directory is accepted only when all match.
OFFICIAL_FILE_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
# A real sample of CIFAR-10 in the official format (the first 1,102 or 1,017 images of each official
# batch: 5,170 training and 1,017 test images), accepted by this md5 only and named for what it is.
SAMPLE_MD5 = "02c1c2c95b4c4fef3b3e85624979a496"
SAMPLE_NAME = "5,170-image sample of CIFAR-10"
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
_DOWNLOAD_TIMEOUT_S = 60.0  # seconds without a byte before a download fails
_PORTS = {"https": 443, "http": 80}
# Decoded arrays are cached per archive AND per version of this decoding code.
DECODER_SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def search_dirs() -> list[Path]:
    """The directories searched, in priority order (read from the environment each call)."""
    keras_home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    dirs = [paths.DATA_DIR, keras_home / "datasets"]
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
    """Where a good archive should go, for error messages; names near misses found there."""
    dirs = search_dirs() if dirs is None else dirs
    places = ", ".join(str(d) for d in dirs)
    misses = near_misses(dirs)
    seen = f" Found {', '.join(map(str, misses))}: not a name that is looked for (rename it)." if misses else ""
    return (
        f"Put the official archive cifar-10-python.tar.gz (md5 {OFFICIAL_MD5}, from {ORIGIN}) "
        f"in one of: {places} (or set ${DATA_ENV} to its directory).{seen}"
    )


def near_misses(dirs: Sequence[Path]) -> list[Path]:
    """Entries of `dirs` whose name looks like CIFAR-10 but is not one that is looked for
    (``cifar-10-python.tgz``, ``cifar10.tar.gz``, ``CIFAR-10-python.tar.gz``, ...)."""
    wanted = set(ARCHIVE_NAMES) | {name.split("/")[0] for name in BATCH_DIR_NAMES}
    found = []
    for directory in dirs:
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            squashed = entry.name.lower().replace("-", "").replace("_", "")
            if (
                "cifar10" in squashed and entry.name not in wanted and not entry.name.startswith(".")
            ):  # a download's lock
                found.append(entry)
    return found


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
            for chunk in iter(functools.partial(stream.read, 1 << 20), b""):
                digest.update(chunk)
    index[key] = {"stamp": stamp, "md5": digest.hexdigest()}
    text = json.dumps(index, indent=1).encode()
    try:
        atomic_write_bytes(index_path, lambda f: f.write(text))
    except OSError as error:
        raise unwritable(index_path.parent, error) from None
    return index[key]["md5"]


def _read_index(index_path: Path) -> dict[str, dict]:
    try:
        return json.loads(index_path.read_text())
    except (OSError, ValueError):
        return {}


def cifar10_fingerprint(location: Path, cache_dir: Path | None = None) -> str:
    """The archive's md5; for an extracted directory, ``batches-md5:`` + md5 of its files, once
    each file is checked against `OFFICIAL_FILE_MD5` (a DataError names the first that is not)."""
    if location.is_file():
        return content_md5([location], cache_dir)
    missing = [name for name in REQUIRED_FILES if not (location / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 directory {location} lacks {', '.join(missing)}. {placement_hint()}")
    for name in REQUIRED_FILES:
        md5 = content_md5([location / name], cache_dir)
        if md5 != OFFICIAL_FILE_MD5[name]:
            raise DataError(
                f"CIFAR-10 directory {location}: {name} has md5 {md5}, expected {OFFICIAL_FILE_MD5[name]}: "
                f"it is damaged or not from the official archive; remove the directory or provide the archive. "
                f"{placement_hint()}"
            )
    return "batches-md5:" + content_md5([location / n for n in REQUIRED_FILES], cache_dir)


# --- decoding the pickled batches -------------------------------------------------------


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and numpy arrays: a batch file cannot run code."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
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


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> bytes:
    stream = tar.extractfile(member)
    if stream is None:  # only regular files are read
        raise DataError(f"CIFAR-10 archive {where}: {member.name} is not a regular file")
    return stream.read()


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
                raise DataError(f"CIFAR-10 archive {archive} lacks {', '.join(missing)}. {placement_hint()}")
            return _decode_all(lambda name: _member_bytes(tar, members[name], str(archive)), str(archive))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataError(f"CIFAR-10 archive {archive} is corrupt or truncated ({error}). {placement_hint()}") from error


def decode_batch_dir(directory: Path) -> tuple[dict, tuple[str, ...]]:
    """Decode an extracted ``cifar-10-batches-py`` directory."""
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 directory {directory} lacks {', '.join(missing)}.")
    return _decode_all(lambda name: (directory / name).read_bytes(), str(directory))


def _class_names_ok(names) -> bool:
    return isinstance(names, list) and len(names) == 10 and all(isinstance(n, str) for n in names)


# --- download ---------------------------------------------------------------------------


@functools.cache
def network_reachable(url: str | None = None, timeout: float = _NETWORK_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the host of `url` (default `ORIGIN`) opens within `timeout` seconds.

    The answer is remembered for the life of the process, so planning many chapters costs
    one check; ``network_reachable.cache_clear()`` forgets it.
    """
    parsed = urllib.parse.urlsplit(url or ORIGIN)
    try:
        socket.create_connection((parsed.hostname, parsed.port or _PORTS[parsed.scheme]), timeout=timeout).close()
        return True
    except OSError:
        return False


def download_dir() -> Path:
    """Where a download lands: `paths.DATA_DIR`, the one place looked in first after ``$COURSEBOOK_DATA``
    (and the one the Pages workflow caches)."""
    return paths.DATA_DIR


def download_cifar10(target_dir: Path | None = None, origin: str | None = None, md5: str | None = None) -> Path:
    """The official archive in `target_dir` (default :func:`download_dir`), downloaded once: under a
    file lock, so processes that start at once download it once and the others wait for it; into a
    temporary file beside it whose md5 is checked before it is renamed into place, so no reader ever
    sees half an archive. ``origin`` and ``md5`` default to `ORIGIN` and `OFFICIAL_MD5`."""
    origin, md5 = origin or ORIGIN, md5 or OFFICIAL_MD5
    target = Path(target_dir or download_dir()) / ARCHIVE_NAMES[0]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(target.parent / f".{target.name}.lock"):
            if not target.is_file():  # a process we waited for may have fetched it
                atomic_write_bytes(target, lambda stream: _fetch(origin, md5, stream))
    except (OSError, filelock.Timeout) as error:
        raise DataError(f"Downloading {origin} to {target} failed ({error}). {placement_hint()}") from error
    return target


def _fetch(origin: str, md5: str, stream) -> None:
    """Copy `origin` into `stream`; OSError (a failed download is one) unless its md5 is `md5`."""
    digest = hashlib.md5()
    with urllib.request.urlopen(origin, timeout=_DOWNLOAD_TIMEOUT_S) as response:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            stream.write(chunk)
    if digest.hexdigest() != md5:
        raise OSError(f"the download has md5 {digest.hexdigest()}, expected {md5}: truncated or not the official file")


# --- the loader -------------------------------------------------------------------------


def locate_cifar10(dirs: Sequence[Path] | None = None, *, download: bool = True) -> Path:
    """The local archive or batch directory, downloading it when absent and reachable."""
    found = find_cifar10(dirs)
    if found is not None:
        return found
    if download and network_reachable():
        return download_cifar10()
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

    `expected_md5` is checked against an archive (None skips the check); the real sample
    (`SAMPLE_MD5`) is accepted too, under its own name (`SAMPLE_NAME`); an extracted directory is
    checked file by file against `OFFICIAL_FILE_MD5`.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    location = locate_cifar10(dirs, download=download)
    fingerprint = cifar10_fingerprint(location, cache_dir)
    sample = location.is_file() and fingerprint == SAMPLE_MD5
    if location.is_file() and expected_md5 and fingerprint != expected_md5.lower() and not sample:
        raise DataError(
            f"CIFAR-10 archive {location} has md5 {fingerprint}, expected {expected_md5}: "
            f"it is damaged or not the official file. {placement_hint(dirs)}"
        )
    array_dir = cache_dir / f"cifar10-{fingerprint.split(':')[-1]}-{DECODER_SOURCE_DIGEST}"
    cached = load_arrays(array_dir)
    if cached is not None and not _class_names_ok(cached[1].get("class_names")):
        report_damage(array_dir, "meta.json lacks the 10 class names")
        cached = None
    if cached is None:
        arrays, class_names = (decode_archive if location.is_file() else decode_batch_dir)(location)
        save_arrays(array_dir, arrays, {"class_names": class_names, "source": str(location)})
    else:
        arrays, class_names = cached[0], tuple(cached[1]["class_names"])
    return Dataset(SAMPLE_NAME if sample else CIFAR10_NAME, False, **arrays, class_names=class_names,
                   fingerprint=fingerprint, source=str(location))  # fmt: skip
