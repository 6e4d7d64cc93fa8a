"""The one builder of runs and results files for the tests: every field the results schema asks for is
present, and :func:`results` returns what ``Results.from_dict`` accepted (so a test never reads a
results file the book itself would refuse). Tests pass the values they assert on; the rest are
plausible fillers, listed here once.
"""

from __future__ import annotations

from typing import Any

from coursebook.course.results import SCHEMA_VERSION, Results

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SETTINGS = {
    "model": "m",
    "optimizer": "adam",
    "learning_rate": None,
    "batch_size": 32,
    "epochs": 4,
    "train_size": None,
    "early_stopping": None,
    "checkpoint": None,
    "augmentation": [],
    "batch_norm": "recompute",
}  # an arm's effective settings, as a results file records them


def run(
    seed: int = 0,
    *,
    train: float = 0.8,
    val: float = 0.7,
    val_loss: float | None = None,
    train_loss: float | None = None,
    test: float | None = None,
    test_loss: float | None = None,
    epochs: int = 4,
    stopped: int | None = None,
    evaluated: int | None = None,
    history: dict[str, list[float]] | None = None,
    val_losses: list[float] | None = None,
    val_accuracies: list[float] | None = None,
    learned: bool = True,
    cause: str = "",
    seconds: float | list[float] = 1.0,
    classes: list[str] = CIFAR_CLASSES,
    confusion: dict[str, list[list[int]]] | None = None,
    report: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """One run as a results file records it. ``train``/``val``/``test`` are the accuracies of the
    evaluated weights (``*_loss`` their losses); ``history`` replaces any of the per-epoch curves
    (``val_losses``, ``val_accuracies`` the two validation ones); ``seconds`` is the time of each epoch
    after the first (which takes 2 s), or the whole list."""
    stopped = stopped or epochs
    evaluated = evaluated or stopped
    val_loss = 1.0 - val / 2 if val_loss is None else val_loss
    curves = {
        "loss": [1.5 - 0.1 * e for e in range(stopped)],
        "accuracy": [min(1.0, train * (e + 1) / stopped) for e in range(stopped)],
        "val_loss": list(val_losses or [val_loss + 0.1 * (stopped - e) for e in range(1, stopped + 1)])[:stopped],
        "val_accuracy": list(val_accuracies or [val * e / stopped for e in range(1, stopped + 1)])[:stopped],
        **(history or {}),
    }
    n = len(classes)
    matrix = [[9 if i == j else 1 for j in range(n)] for i in range(n)]
    return {
        "seed": seed,
        "history": curves,
        "stopped_epoch": stopped,
        "evaluated_epoch": evaluated,
        "seconds_per_epoch": list(seconds) if isinstance(seconds, list) else [2.0] + [seconds] * (stopped - 1),
        "training": {"loss": 1.0 - train / 2 if train_loss is None else train_loss, "accuracy": train},
        "validation": {"loss": val_loss, "accuracy": val},
        "test": {"loss": val_loss if test_loss is None else test_loss, "accuracy": val if test is None else test},
        "learned": learned,
        "learned_rule": "validation accuracy above chance",
        "failure_cause": "" if learned else (cause or "too few steps"),
        "classification_report": report
        or {c: {"precision": 0.5, "recall": 0.5, "f1": 0.5 + i / 100, "support": 9} for i, c in enumerate(classes)},
        "confusion": confusion or {"training": matrix, "validation": matrix, "test": matrix},
    }


def arm(
    name: str, runs: list[dict[str, Any]], *, model: str = "m", parameters: int | dict[str, int] = 1, **settings: Any
) -> dict[str, Any]:
    """One arm: its model, Keras' counts (a total means all trainable), its settings and its runs."""
    counts = (
        parameters
        if isinstance(parameters, dict)
        else {"total": parameters, "trainable": parameters, "non_trainable": 0}
    )
    return {
        "name": name,
        "model": model,
        "parameters": counts,
        "settings": {**SETTINGS, "model": model, **settings},
        "runs": runs,
    }


def results_dict(
    *arms: dict[str, Any],
    chapter: str = "c",
    profile: str = "smoke",
    synthetic: bool = True,
    classes: list[str] = CIFAR_CLASSES,
    sizes: tuple[int, int, int] = (500, 100, 100),
    parameters: dict[str, Any] | None = None,
    dataset_name: str | None = None,
) -> dict[str, Any]:
    """A results file's mapping; ``sizes`` are the training, validation and test images."""
    return {
        "schema_version": SCHEMA_VERSION,
        "chapter": chapter,
        "profile": profile,
        "parameters": {"seed": 0, **(parameters or {})},
        "dataset": {
            "name": dataset_name or ("synthetic stand-in" if synthetic else "CIFAR-10"),
            "fingerprint": "f",
            "synthetic": synthetic,
            "sizes": dict(zip(("train", "validation", "test"), sizes, strict=True)),
            "class_names": list(classes),
        },
        "versions": {"python": "3", "keras": "3"},
        "device": "tensorflow on CPU",
        "arms": list(arms),
    }


def results(*arms: dict[str, Any], **options: Any) -> Results:
    """A :class:`Results` that ``Results.from_dict`` accepted (the checks a saved file passes)."""
    return Results.from_dict(results_dict(*arms, **options))
