"""The synthetic stand-in has ten classes of shapes (`SYNTHETIC_CLASSES`) drawn on textured
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
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from coursebook.course.data.core import DataError, Dataset, default_cache_dir, load_arrays, save_arrays

GENERATOR_VERSION = 1
# The generator's own source is part of the fingerprint too, so an edit that changes the images
# can never be served from an array cache made by the old code (a forgotten version bump).
GENERATOR_SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
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
    """A hash of generator version and source, seed and sizes: equal fingerprints, equal images."""
    spec = {
        "version": GENERATOR_VERSION,
        "source": GENERATOR_SOURCE_DIGEST,
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
    }
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


def _contrasting(colour: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
    cached = load_arrays(array_dir, sizes=(n_train, n_test))
    if cached is None:
        x_train, y_train = synthetic_images(n_train, seed=seed, stream=_TRAIN_STREAM)
        x_test, y_test = synthetic_images(n_test, seed=seed, stream=_TEST_STREAM)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        save_arrays(array_dir, arrays, {"generator_version": GENERATOR_VERSION, "seed": seed})
    else:
        arrays = cached[0]
    source = f"generated by coursebook.course.data (generator version {GENERATOR_VERSION}, seed {seed})"
    return Dataset(SYNTHETIC_NAME, True, **arrays, class_names=SYNTHETIC_CLASS_NAMES,
                   fingerprint=fingerprint, source=source)  # fmt: skip
