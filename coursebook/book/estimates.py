"""How long a chapter will take, said before it runs.

From the chapter's last recorded run (``<id>.run.json`` holds its seconds) when that run used the
same profile (scaled by the model below when the parameters changed since); otherwise from a rough throughput model: a fixed start-up cost (kernel, imports,
data, figures), plus for every training run (repeats x arms, x sizes for a learning curve) a fixed
cost (building, compiling, evaluating) and its training images (the arm's own epochs x training
images) divided by a training throughput. The throughput is the median images/s that
``make bench`` measured on this machine (``_build/bench.json``) when present, else
:data:`CPU_IMAGES_PER_SECOND`, measured for the E4742 models on a 2-core laptop-class CPU. It is an
order of magnitude for planning, not a promise: bigger models, GPUs and other load change it.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from coursebook.book import cache, paths

CPU_IMAGES_PER_SECOND = 1100.0
START_UP_SECONDS = 60.0  # kernel start, backend import, data, figures (a smoke chapter on a 2-core CPU)
RUN_SECONDS = 10.0  # per training run: building, compiling, evaluating a model
CIFAR_TRAIN_IMAGES = 50_000
DEFAULT_EPOCHS = 20  # an arm's epochs when neither it nor the chapter sets them (coursebook.course.arms)


def throughput() -> tuple[float, str]:
    """Training images per second and where the figure comes from."""
    try:
        bench = json.loads((paths.BUILD_DIR / "bench.json").read_text(encoding="utf-8"))
        measured = [float(v) for v in bench["img_per_s"].values() if v]
        return statistics.median(measured), "make bench"
    except (FileNotFoundError, KeyError, ValueError, AttributeError, TypeError, statistics.StatisticsError):
        return CPU_IMAGES_PER_SECOND, "assumed"


def training_runs(values: dict[str, Any]) -> list[tuple[int, float]]:
    """(epochs, training images) of every training run a chapter's parameters ask for: each arm
    (``arms``; for a learning curve, one arm per entry of ``sizes``, its ``train_size`` the size)
    with its own epochs and training images (the arm's key, else the chapter's), ``repeats`` times.
    A chapter without arms but with ``epochs`` trains one model per repeat; one without ``epochs``
    trains nothing. Epochs are the most a run may take (early stopping can end it sooner)."""
    if "epochs" not in values and "arms" not in values:
        return []
    arms = values.get("arms") or [{}]
    if values.get("sizes"):  # a learning curve: the arm trained at every size
        arms = [{**arm, "train_size": size} for arm in arms for size in values["sizes"]]
    repeats = int(values.get("repeats", 1) or 1)
    runs = []
    for arm in arms:
        epochs = int(arm.get("epochs", values.get("epochs", DEFAULT_EPOCHS)))
        images = arm.get("train_size", values.get("train_size")) or all_training_images(values)
        runs += [(epochs, float(images))] * repeats
    return runs


def all_training_images(values: dict[str, Any]) -> float:
    """The training images left after the validation split (all of them when the test set validates)."""
    if values.get("validation") == "test":
        return float(CIFAR_TRAIN_IMAGES)
    return CIFAR_TRAIN_IMAGES * (1 - float(values.get("validation_fraction", 0.2)))


def from_parameters(values: dict[str, Any]) -> float:
    """Seconds by the throughput model; a chapter that trains nothing costs the start-up only."""
    rate = throughput()[0]
    return START_UP_SECONDS + sum(RUN_SECONDS + epochs * images / rate for epochs, images in training_runs(values))


def estimate(chapter_id: str, profile: str, values: dict[str, Any]) -> tuple[float, str]:
    """Expected seconds of one chapter and the basis ('last run' or 'estimated')."""
    record = cache.read_record(chapter_id)
    if record and record.get("profile") == profile and record.get("seconds"):
        scale = from_parameters(values) / from_parameters(record.get("parameters") or values)
        return float(record["seconds"]) * scale, "last run"
    return from_parameters(values), "estimated"
