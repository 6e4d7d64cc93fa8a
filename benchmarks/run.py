"""`make bench`: every benchmark, printed as times and ratios (performance claims live here,
never in timed tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data  # noqa: E402
import bench_training  # noqa: E402


def main() -> None:
    print("== data: synthetic generation, archive decode vs cached reload ==", flush=True)
    bench_data.main([])
    print("\n== training: seconds per epoch with and without augmentation ==", flush=True)
    bench_training.main([])


if __name__ == "__main__":
    main()
