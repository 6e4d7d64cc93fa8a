"""Data-layer timings: synthetic generation of 60,000 images, and a cold decode against a
cached reload of a full-size archive in the official CIFAR-10 format (built here from
synthetic images), and of the real archive when one is found.

    python benchmarks/bench_data.py
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from coursebook.course import data


def timed(action: Callable[[], object]) -> float:
    """Wall-clock seconds `action` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def write_official_format(path: Path, seed: int = 0) -> str:
    """Write 50,000 + 10,000 synthetic images as an official-format archive; return its md5."""
    x, y = data.synthetic_images(60_000, seed=seed)
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # HWC -> R, G, B planes
    parts = {f"data_batch_{i + 1}": slice(i * 10_000, (i + 1) * 10_000) for i in range(5)}
    parts[data.TEST_BATCH] = slice(50_000, 60_000)
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        for name, rows_slice in parts.items():
            batch = {b"labels": y[rows_slice].ravel().tolist(), b"data": rows[rows_slice]}
            _add(tar, name, pickle.dumps(batch, protocol=2))
        names = [n.encode() for n in data.SYNTHETIC_CLASS_NAMES]
        _add(tar, data.META_FILE, pickle.dumps({b"label_names": names}, protocol=2))
    return hashlib.md5(path.read_bytes()).hexdigest()


def _add(tar: tarfile.TarFile, name: str, raw: bytes) -> None:
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


def cold_and_cached(archive: Path, md5: str | None, cache_dir: Path) -> tuple[float, float]:
    """Seconds for the first load (hash, decode, write cache) and for a second load."""
    load = lambda: data.load_cifar10(dirs=[archive.parent], cache_dir=cache_dir,  # noqa: E731
                                        expected_md5=md5, download=False)  # fmt: skip
    return timed(load), timed(load)


def report(label: str, cold: float, cached: float) -> None:
    print(f"{label}: cold decode {cold:.2f} s, cached reload {cached:.2f} s, "
          f"cached is {cold / cached:.0f}x faster")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run every data benchmark, print seconds and ratios, and return the seconds."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    results = {"synthetic_60k_s": timed(lambda: data.synthetic_images(60_000, seed=0))}
    print(f"synthetic generation, 60,000 images: {results['synthetic_60k_s']:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "official-format" / data.ARCHIVE_NAMES[0]
        archive.parent.mkdir()
        md5 = write_official_format(archive)
        cold, cached = cold_and_cached(archive, md5, Path(tmp) / "cache")
        megabytes = archive.stat().st_size / 1e6
        report(f"official-format archive of synthetic images ({megabytes:.0f} MB)", cold, cached)
        results.update(format_cold_s=cold, format_cached_s=cached)
        real = data.find_cifar10()
        if real is not None and real.is_file():
            cold, cached = cold_and_cached(real, data.OFFICIAL_MD5, Path(tmp) / "real-cache")
            report(f"real CIFAR-10 archive {real}", cold, cached)
            results.update(cifar10_cold_s=cold, cifar10_cached_s=cached)
        else:
            print("real CIFAR-10 archive: not found, skipped")
    return results


if __name__ == "__main__":
    main()
