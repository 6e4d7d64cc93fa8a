"""Seconds per epoch of the e4742-original model with and without the augmentation layers.

Run standalone: ``python benchmarks/bench_training.py [--images 5000 --epochs 3 --batch-size 64]``.
Random images and labels stand in for CIFAR-10 (the cost of an epoch does not depend on the
pixel values). The first epoch includes tracing/compilation and is left out; the median of the other epochs
is a fit's figure, and the ratio is the median over ``--repeats`` pairs of fits run back to back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paired import alternating_pairs, random_images

from coursebook.course import training

MODEL = "e4742-original"
IMAGE_SHAPE = (32, 32, 3)
N_CLASSES = 10


def original_model():
    """The e4742-original model from params/models."""
    from coursebook.course.models import build_model

    return build_model(MODEL)


def seconds_per_epoch(augmented: bool, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int) -> float:
    """Median wall time of the epochs after the first."""
    model = original_model()
    model = training.with_augmentation(model) if augmented else model
    training.compile_model(model)
    result = training.train(model, (x, y), epochs=epochs, batch_size=batch_size, verbose=0)
    timed = result.seconds_per_epoch[1:] or result.seconds_per_epoch
    return float(np.median(timed))


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print seconds per epoch without and with augmentation, and their ratio; return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3, help="including one warm-up epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1, help="pairs of fits (without, with augmentation)")
    args = parser.parse_args(argv)
    device = training.configure_backend()
    x, y = random_images(args.images, IMAGE_SHAPE, N_CLASSES)
    plain_runs, augmented_runs = alternating_pairs(
        lambda: seconds_per_epoch(False, x, y, args.epochs, args.batch_size),
        lambda: seconds_per_epoch(True, x, y, args.epochs, args.batch_size),
        args.repeats,
    )
    plain, augmented = float(np.median(plain_runs)), float(np.median(augmented_runs))
    # a whole fit now and then runs slower on a shared machine: the median of the pairs' ratios
    ratio = float(np.median(np.array(augmented_runs) / np.array(plain_runs)))
    print(
        f"seconds per epoch, {MODEL}, {args.images:,} images {'x'.join(map(str, IMAGE_SHAPE))}, "
        f"batch {args.batch_size}, {device} (median of epochs 2-{args.epochs}, median of {args.repeats} pairs of fits)"
    )
    print(f"  without augmentation: {plain:8.2f} s")
    print(f"  with augmentation:    {augmented:8.2f} s")
    print(f"  ratio with/without:   {ratio:8.2f}  (median of the pairs' ratios)")
    return {"seconds_per_epoch": plain, "seconds_per_epoch_augmented": augmented, "ratio": ratio}


if __name__ == "__main__":
    main()
