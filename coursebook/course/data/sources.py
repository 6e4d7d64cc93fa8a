"""Choosing a source: ``auto`` takes CIFAR-10 when it is on disk or can be downloaded, else
the synthetic stand-in; `dataset_fingerprint` names the result without decoding images;
`fetch` downloads what the chosen sources need before any kernel starts, `describe` says what a
fingerprint is."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from coursebook.book import paths
from coursebook.course.data import cifar10
from coursebook.course.data.core import DataError, Dataset
from coursebook.course.data.synthetic import load_synthetic, synthetic_fingerprint

SOURCES = ("auto", "cifar10", "synthetic")
FULL_SIZES = (50_000, 10_000)


@dataclass(frozen=True)
class SourceChoice:
    """Where a dataset comes from, decided once by :func:`choose_source`: ``cifar10`` from the
    ``archive`` found on disk (or a downloaded one when ``archive`` is None), or ``synthetic``."""

    source: str
    archive: Path | None = None


def choose_source(source: str = "auto", *, download: bool = True) -> SourceChoice:
    """The one decision both :func:`load_dataset` and :func:`dataset_fingerprint` follow. For
    ``auto``: CIFAR-10 when it is on disk or the download host answers (a ~3 s check, made once
    per process), else the synthetic stand-in. ``cifar10`` stays CIFAR-10 (its loader says where
    to put the archive when it cannot be had)."""
    if source not in SOURCES:
        raise DataError(f"source={source!r}: choose one of {SOURCES}.")
    if source == "synthetic":
        return SourceChoice("synthetic")
    found = cifar10.find_cifar10()
    if found is not None or source == "cifar10" or (download and cifar10.network_reachable()):
        return SourceChoice("cifar10", found)
    return SourceChoice("synthetic")


def resolve_source(source: str = "auto", *, download: bool = True) -> str:
    """``cifar10`` or ``synthetic``, as :func:`choose_source` decides."""
    return choose_source(source, download=download).source


def load_dataset(
    source: str = "auto",
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
    download: bool = True,
    synthetic_sizes: tuple[int, int] = FULL_SIZES,
) -> Dataset:
    """The dataset :func:`choose_source` names; `seed` and `synthetic_sizes` (train, test) shape
    only the synthetic one. ``cifar10`` raises DataError saying where to put the archive; with
    ``auto``, a download that fails after the host answered falls back to synthetic, with a warning."""
    choice = choose_source(source, download=download)
    if choice.source == "cifar10":
        try:
            return cifar10.load_cifar10(cache_dir=cache_dir, download=download)
        except DataError as error:
            if source == "cifar10" or choice.archive is not None:
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
    choice = choose_source(source, download=download)
    if choice.source == "synthetic":
        return synthetic_fingerprint(*synthetic_sizes, seed=seed)
    if choice.archive is not None:
        return cifar10.cifar10_fingerprint(choice.archive, cache_dir)
    if download and cifar10.network_reachable():
        return cifar10.OFFICIAL_MD5
    raise DataError(f"CIFAR-10 was not found and cannot be downloaded. {cifar10.placement_hint()}")


def fetch(sources: Iterable[str]) -> Path | None:
    """Download CIFAR-10 (once, atomically: `cifar10.download_cifar10`) when one of `sources` will
    use it and it is on no disk; the archive, or None when nothing had to be downloaded."""
    if any(choice.source == "cifar10" and choice.archive is None for choice in map(choose_source, set(sources))):
        return cifar10.download_cifar10()
    return None


def describe(fingerprint: str) -> str:
    """What a fingerprint of :func:`dataset_fingerprint` is, in words, with where it is read from."""
    found = cifar10.find_cifar10()
    if fingerprint.startswith("synthetic-"):
        missing = found is None and not cifar10.network_reachable()
        return f"the synthetic stand-in ({'no CIFAR-10 on disk, its download unreachable' if missing else 'asked for'})"
    where = f" ({paths.relative(found)})" if found is not None else ""
    if fingerprint == cifar10.OFFICIAL_MD5:
        return f"CIFAR-10{where}" if found is not None else f"CIFAR-10, downloaded from {cifar10.ORIGIN} first"
    if fingerprint == cifar10.SAMPLE_MD5:
        return f"the {cifar10.SAMPLE_NAME}{where}"
    return f"CIFAR-10{where}, md5 {fingerprint.removeprefix('batches-md5:')}"
