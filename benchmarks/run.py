"""`make bench`: every benchmark, printed as tables of times and ratios, and written to
``_build/bench.json`` (performance claims live here, never in timed tests).

Keys of bench.json: overhead_ratio (and package_own_fraction, the same cost measured directly),
img_per_s and gflops (per model), noop_build_s, run_overhead_s, aug_ratio, plus the seconds behind
them and the last build's quick_chapter_s; chapters: each chapter's wall, training and other seconds,
runs trained and read, and its costliest cells beyond training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_chapters
import bench_data
import bench_pipeline
import bench_training

from coursebook.book import cache, paths


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--images", type=int, default=1024, help="images per training epoch")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print("== pipeline: package vs bare Keras, throughput, no-op build, run overhead ==", flush=True)
    results = bench_pipeline.main(["--images", str(args.images), "--repeats", str(args.repeats)])
    print("\n== data: synthetic generation, archive decode vs cached reload ==", flush=True)
    results["data"] = bench_data.main([])
    print("\n== training: seconds per epoch with and without augmentation ==", flush=True)
    augmentation = bench_training.main(["--images", str(2 * args.images), "--repeats", str(max(8, args.repeats))])
    results["aug_ratio"] = augmentation["ratio"]
    results["augmentation"] = augmentation
    print("\n== the last build's chapters: training, runs read from the store, time beyond training ==", flush=True)
    results["chapters"] = bench_chapters.main()
    results["bench_seconds"] = time.perf_counter() - start
    cache.atomic_write_text(paths.BUILD_DIR / "bench.json", json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(
        f"\n== summary ({results['device']}; ratios: medians over pairs of fits; times: medians of {args.repeats} "
        "runs) =="
    )
    for label, key, note in (
        ("pipeline overhead (package / bare Keras)", "overhead_ratio", "goal <= 1.05 (a noisy A/B)"),
        ("the package's own work / the fit", "package_own_fraction", "that cost, measured directly"),
        ("augmentation cost (with / without)", "aug_ratio", ""),
        ("no-op make book, s", "noop_build_s", "goal <= 3"),
        ("make run beyond the cells, s", "run_overhead_s", "goal <= 5"),
    ):
        value = f"{results[key]:8.2%}" if key.endswith("fraction") else f"{results[key]:8.3f}"
        print(f"  {label:44s} {value}  {note}")
    print(
        f"  written to {(paths.BUILD_DIR / 'bench.json').relative_to(paths.ROOT)} in {results['bench_seconds']:.0f} s"
    )
    return results


if __name__ == "__main__":
    main()
