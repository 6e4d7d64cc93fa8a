"""The one reader of measures: a run's value of a measure at its evaluated epoch (the weights the
tables and the test score describe), its per-epoch curve, the words a page names it by, and the
evaluation set a measure was taken on (for its sampling error).

Training measures read the evaluation-mode scores of the training part (``Run.training``); their
curves read the inference-mode history (``eval_loss``/``eval_accuracy``) where a run recorded it,
else Keras' running training values, and :func:`words` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coursebook.course import history

MEASURES = ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "train_accuracy", "train_loss", "gap", "seconds")
PART = {"val_accuracy": "validation", "test_accuracy": "test", "train_accuracy": "train"}  # dataset part measured on
CURVE = {
    "val_accuracy": ("val_accuracy",),
    "val_loss": ("val_loss",),
    "train_accuracy": ("eval_accuracy", "accuracy"),
    "train_loss": ("eval_loss", "loss"),
}

READERS: dict[str, Callable[[Any], float]] = {
    "val_accuracy": lambda run: float(run.validation["accuracy"]),
    "val_loss": lambda run: float(run.validation["loss"]),
    "test_accuracy": lambda run: float(run.test["accuracy"]),
    "test_loss": lambda run: float(run.test["loss"]),
    "train_accuracy": lambda run: float(run.training["accuracy"]),
    "train_loss": lambda run: float(run.training["loss"]),
    "gap": lambda run: float(run.training["accuracy"]) - float(run.validation["accuracy"]),
    "seconds": lambda run: history.epoch_time(run.seconds_per_epoch),
    # Keras' running training accuracy of the evaluated epoch (training mode: dropout on, batch statistics)
    "running_train_accuracy": lambda run: float(run.history["accuracy"][run.evaluated_epoch - 1]),
}


def learned_runs(arm: Any) -> list[Any]:
    """The runs of ``arm`` that learned (a failed run is left out of every measure)."""
    return [run for run in arm.runs if getattr(run, "learned", True)]


def value(run: Any, measure: str) -> float:
    """``measure`` of ``run``'s evaluated weights."""
    return READERS[measure](run)


def values(arm: Any, measure: str) -> tuple[float, ...]:
    """``measure`` of every learned run of ``arm``, in run order."""
    return tuple(value(run, measure) for run in learned_runs(arm))


def curve(run: Any, measure: str) -> list[float]:
    """The per-epoch values of ``measure`` up to the run's last epoch."""
    key = curve_key(run, measure)
    return [float(v) for v in run.history[key][: run.stopped_epoch]]


def curve_key(run: Any, measure: str) -> str:
    """The history metric a measure's curve is read from (the inference-mode one where recorded)."""
    keys = CURVE.get(measure)
    if keys is None:
        raise KeyError(f"measure {measure!r} has no per-epoch curve (curves: {', '.join(CURVE)})")
    return next((key for key in keys if key in run.history), keys[-1])


def curves(arm: Any, measure: str) -> dict[int, list[float]]:
    """Seed -> curve of every learned run of ``arm``."""
    return {run.seed: curve(run, measure) for run in learned_runs(arm)}


def words(measure: str, runs: Sequence[Any] = (), curve_of: bool = False) -> str:
    """How a page names ``measure``; for a training curve, whether it is the inference-mode value."""
    if curve_of and measure in ("train_loss", "train_accuracy"):
        what = measure.split("_")[1]
        if runs and all(curve_key(run, measure).startswith("eval_") for run in runs):
            return f"training {what} (inference mode)"
        return f"training {what} (Keras' running value over each epoch)"
    return {
        "val_accuracy": "validation accuracy",
        "val_loss": "validation loss",
        "test_accuracy": "test accuracy",
        "test_loss": "test loss",
        "train_accuracy": "training accuracy",
        "train_loss": "training loss",
        "gap": "training − validation accuracy",
        "seconds": f"seconds per epoch ({history.EPOCH_TIME})",
    }[measure]


def images(results: Any, measure: str) -> int | None:
    """How many images an accuracy was measured on (None for a measure without a sampling error)."""
    part = PART.get(measure)
    return int(results.dataset.sizes[part]) if part else None


def evaluated_epoch(run: Any) -> int:
    return int(run.evaluated_epoch)


def runs_count(results: Any) -> int:
    """The smallest number of runs of any arm."""
    return min(len(arm.runs) for arm in results.arms)
