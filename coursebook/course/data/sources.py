"""Choosing a source: ``auto`` takes CIFAR-10 when it is on disk or can be downloaded, else
the synthetic stand-in; `dataset_fingerprint` names the result without decoding images."""

from __future__ import annotations

import warnings
from pathlib import Path

from coursebook.course.data import cifar10
from coursebook.course.data.core import Dataset, DataError
from coursebook.course.data.synthetic import load_synthetic, synthetic_fingerprint

SOURCES = ("auto", "cifar10", "synthetic")
FULL_SIZES = (50_000, 10_000)


def resolve_source(source: str = "auto", *, download: bool = True) -> str:
    """``cifar10`` or ``synthetic``: for ``auto``, CIFAR-10 when it is on disk or the
    download host answers (a ~3 s check), else the synthetic stand-in."""
    if source not in SOURCES:
        raise DataError(f"source={source!r}: choose one of {SOURCES}.")
    if source != "auto":
        return source
    if cifar10.find_cifar10() is not None or (download and cifar10.network_reachable()):
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
            return cifar10.load_cifar10(cache_dir=cache_dir, download=download)
        except DataError as error:
            if source == "cifar10" or cifar10.find_cifar10() is not None:
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
    found = cifar10.find_cifar10()
    if found is not None:
        return cifar10.cifar10_fingerprint(found, cache_dir)
    if download and cifar10.network_reachable():
        return cifar10.OFFICIAL_MD5
    hint = cifar10.placement_hint()
    raise DataError(f"CIFAR-10 was not found and cannot be downloaded. {hint}")
