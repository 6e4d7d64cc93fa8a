"""How a page names a measure (``results.MEASURES``), and, for a training curve, whether it is the
inference-mode value or Keras' running one."""

from __future__ import annotations

from collections.abc import Sequence

from coursebook.course import history
from coursebook.course.results import Run

NAMES = {
    "val_accuracy": "validation accuracy",
    "val_loss": "validation loss",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "train_accuracy": "training accuracy",
    "train_loss": "training loss",
    "gap": "training − validation accuracy",
    "seconds": f"seconds per epoch ({history.EPOCH_TIME})",
}


def words(measure: str, runs: Sequence[Run] = (), curve_of: bool = False) -> str:
    """How a page names ``measure``; for a training curve of ``runs``, which training value it is."""
    if curve_of and measure in ("train_loss", "train_accuracy"):
        what = measure.split("_")[1]
        if inference_mode(runs, measure):
            return f"training {what} (inference mode)"
        return f"training {what} (Keras' running value over each epoch)"
    return NAMES[measure]


def inference_mode(runs: Sequence[Run], measure: str) -> bool:
    """Whether every one of ``runs`` recorded ``measure``'s curve in inference mode (``eval_*``)."""
    return bool(runs) and all(run.curve_key(measure).startswith("eval_") for run in runs)
