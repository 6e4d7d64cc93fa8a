"""One model on its own (single-model pages such as LeNet-5 or the Keras CNN baseline, E): which
weights were evaluated, how the model fits, and why, from its runs.

The arm explained is the first one of the results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course.explain import fitting
from coursebook.course.explain import measures as m


def answer(results: Any) -> str:
    """The evaluated epoch, the fit diagnosis with its evidence, the mechanism and the limits."""
    entry = m.arm(results, index=0)
    fit = fitting.diagnose(results, entry)
    parts = [
        "**Which weights.** " + evaluated_text(entry) + " " + on_each_part(entry),
        "**Fit.** " + fit.text + (" " + gap_text(entry) if fit.verdict == "under-fits at this budget" else ""),
        "**Why.** " + " ".join(filter(None, [m.near_chance(results, [entry]),
                                             mechanism(entry, fit, m.train_images(results))])),
        "**Limits.** " + m.limits(results),
    ]
    return "\n\n".join(parts)


def checkpointed(entry: Mapping[str, Any]) -> bool:
    """Whether the arm keeps its best weights (a checkpoint, or early stopping restoring them)."""
    settings = entry.get("settings") or {}
    stopping = settings.get("early_stopping") or {}
    return bool(settings.get("checkpoint")) or bool(isinstance(stopping, Mapping) and
                                                    stopping.get("restore_best_weights"))


def evaluated_text(entry: Mapping[str, Any]) -> str:
    epochs = [m.evaluated_epoch(run) for run in entry["runs"]]
    ran = [len(run["history"]["loss"]) for run in entry["runs"]]
    per_run = ", ".join(f"epoch {e} of {n} (seed {run['seed']})" for e, n, run in zip(epochs, ran, entry["runs"]))
    if checkpointed(entry):
        return ("Every score on this page is that of the weights kept by the checkpoint, those of the epoch with "
                f"the lowest validation loss: {per_run}.")
    return f"Every score on this page is that of the weights after the last epoch: {per_run}."


def on_each_part(entry: Mapping[str, Any]) -> str:
    """The evaluated weights on the training and validation images, in inference mode (dropout off,
    batch-norm moving averages): the accuracy comes from each part's confusion matrix."""
    train = [m.confusion_accuracy(run, "training") for run in entry["runs"]]
    if any(value is None for value in train):
        return ""
    val = [float(run["validation"]["accuracy"]) for run in entry["runs"]]
    val_loss = [float(run["validation"]["loss"]) for run in entry["runs"]]
    recorded = m.per_run(entry, "loss")
    dropout = "dropout" in m.layer_types(entry)
    return (f"Evaluated in inference mode{' (dropout off)' if dropout else ''}, these weights classify "
            f"{m.shown(train)} of the training images and {m.shown(val)} of the validation images correctly "
            f"(validation loss {m.shown(val_loss)}); the training loss recorded during that epoch"
            f"{', with dropout on,' if dropout else ''} was {m.shown(recorded)}.")


def gap_text(entry: Mapping[str, Any]) -> str:
    train, val = m.per_run(entry, "accuracy"), m.per_run(entry, "val_accuracy")
    gaps = [m.accuracy_gap(run) for run in entry["runs"]]
    return (f"At the evaluated epoch the training accuracy is {m.shown(train)} and the validation accuracy "
            f"{m.shown(val)}: a gap of {m.shown(gaps)}.")


def mechanism(entry: Mapping[str, Any], fit: fitting.Fit, images: int | None) -> str:
    total = (entry.get("parameters") or {}).get("total")
    capacity = (f" With {int(total):,} parameters for {images:,} training images, the network has ample capacity "
                "to memorize them." if total and images else "")
    if fit.verdict in ("over-fits", "may over-fit"):
        text = ("Past the epoch of lowest validation loss the network keeps lowering its training loss by fitting "
                "details of the particular training images that do not recur in new images." + capacity)
        if checkpointed(entry):
            text += (" The checkpoint guards against this: the evaluated weights are those from before the "
                     "validation loss rose, not the over-fitted last ones.")
        return text
    if fit.verdict == "under-fits at this budget":
        return ("The validation loss was still falling when training stopped: the network had not yet learned "
                "all it can from the training images, and more epochs (or a higher learning rate) would help.")
    return ("The validation loss levelled off without a clear rise: within these epochs the network neither kept "
            "improving on new images nor clearly began to memorize the training images." + capacity)
