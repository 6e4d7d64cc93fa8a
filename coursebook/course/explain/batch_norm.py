"""Batch normalization against the same network without it (E4742 Problem 2; Keras CNN
assignment, I): how the training loss of the two compares, early and at the end, and why.

Arms: the reference (the first arm) and the arm whose model adds batch normalization. Settings
that also differ between the two (learning rate, batch size, ...) are named as confounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course.prose import comparison
from coursebook.course.explain import measures as m

SETTING_WORDS = {"learning_rate": "learning rate", "batch_size": "batch size", "optimizer": "optimizer",
                 "epochs": "epochs"}


def answer(results: Any) -> str:
    """I: training loss of the two arms compared, with the mechanism and the limits."""
    ref = m.arm(results, index=0)
    bn = m.arm_with_layer(results, "batchnorm", "batch-norm")
    r, b = ref["name"], bn["name"]
    first = comparison.compare("training loss after epoch 1", b, _at(bn, 1), r, _at(ref, 1))
    last = comparison.compare("training loss at the last epoch", b, _at_last(bn), r, _at_last(ref))
    val = comparison.compare("validation loss at the evaluated epoch", b, m.per_run(bn, "val_loss"), r,
                           m.per_run(ref, "val_loss"), higher_is_better=False)
    confounds = m.setting_differences(ref, bn)
    unsettled = moving_average_note(bn, m.train_images(results))
    parts = [
        "**Training loss.** " + " ".join([first.sentence, epochs_lower(ref, bn), last.sentence]),
        "**Why.** " + _prefixed(m.near_chance(results, [ref, bn]),
                                mechanism(first, last, confounds, r, b, converged=_falls(bn) and not unsettled)),
        "**On validation data.** " + val.sentence + (
            " A faster fall of the training loss is not by itself better generalization." if last.direction == "lower"
            and val.judgement != "better" else "") + unsettled,
        "**Limits.** " + _confound_text(confounds, r, b) + "Training loss is recorded in training mode (batch "
        "statistics in the normalization layers" + (", dropout active" if "dropout" in m.layer_types(bn) else "")
        + "). " + m.limits(results),
    ]
    return "\n\n".join(parts)


def _prefixed(caution: str, text: str) -> str:
    return f"{caution} {text}" if caution else text


def _at_last(entry: Mapping[str, Any]) -> list[float]:
    return [float(run["history"]["loss"][-1]) for run in entry["runs"]]


def _at(entry: Mapping[str, Any], epoch: int) -> list[float]:
    return [m.history_value(run, "loss", epoch) for run in entry["runs"]]


def mean_curve(entry: Mapping[str, Any], metric: str = "loss") -> list[float]:
    """The mean over runs of ``metric`` per epoch, up to the shortest run."""
    n = min(len(run["history"][metric]) for run in entry["runs"])
    return [m.mean_sd([float(run["history"][metric][i]) for run in entry["runs"]])[0] for i in range(n)]


def epochs_lower(ref: Mapping[str, Any], bn: Mapping[str, Any], digits: int = 4) -> str:
    """In how many of the shared epochs the BN arm's mean training loss is the lower one."""
    a, b = mean_curve(bn), mean_curve(ref)
    n = min(len(a), len(b))
    lower = [i + 1 for i in range(n) if round(a[i], digits) < round(b[i], digits)]
    name = m.md_name(bn["name"])
    if not lower:
        return f"The mean training loss of {name} is not lower than the reference's in any of the {n} epochs."
    if len(lower) == n:
        return f"The mean training loss of {name} is the lower one in every one of the {n} epochs."
    where = f"epoch {lower[0]}" if len(lower) == 1 else f"epochs {_ranges(lower)}"
    return f"The mean training loss of {name} is the lower one in {len(lower)} of the {n} epochs ({where})."


def _ranges(epochs: list[int]) -> str:
    spans, start = [], epochs[0]
    for prev, cur in zip(epochs, epochs[1:] + [None]):
        if cur != prev + 1:
            spans.append(str(start) if start == prev else f"{start}–{prev}")
            start = cur
    return ", ".join(spans)


def _falls(entry: Mapping[str, Any]) -> bool:
    """Whether the mean training and validation losses both end below where they were after epoch 1."""
    return all(round(curve[-1], 4) < round(curve[0], 4)
               for curve in (mean_curve(entry), mean_curve(entry, "val_loss")))


MOMENTUM = 0.99  # Keras' BatchNormalization default: moving averages settle over about 1 / (1 - 0.99) steps


def moving_average_note(bn: Mapping[str, Any], images: int | None) -> str:
    """When the BN arm's mean validation loss is more than twice its training loss in some epochs, the
    likely reason: inference uses moving averages of the batch statistics that too few steps have shaped."""
    val, train = mean_curve(bn, "val_loss"), mean_curve(bn, "loss")
    far = [i + 1 for i in range(min(len(val), len(train))) if val[i] > 2 * train[i]]
    if not images or not far:
        return ""
    settings = bn.get("settings") or {}
    batch = int(settings.get("batch_size") or 32)
    per_epoch = -(-int(settings.get("train_size") or images) // batch)
    where = f"epoch {far[0]}" if len(far) == 1 else f"epochs {_ranges(far)}"
    return (f" In {where} the mean validation loss of {m.md_name(bn['name'])} is more than twice its training loss "
            f"(up to {max(val[i - 1] for i in far):.4f}): at inference the normalization layers use moving averages "
            f"of the batch statistics, which settle over a few hundred steps (momentum {MOMENTUM}), and an epoch "
            f"here is only {per_epoch:,} steps ({far[-1] * per_epoch:,} by epoch {far[-1]}), so those validation "
            "losses partly measure averages that had not settled yet.")


def mechanism(first: comparison.Comparison, last: comparison.Comparison, confounds: Mapping[str, tuple],
              ref: str, bn: str, converged: bool = True) -> str:
    """Why the training losses differ, each clause only for a measured direction."""
    parts = []
    if first.direction == "lower" and first.exceeds_noise is not False:
        parts.append("Batch normalization standardizes each layer's inputs over the mini-batch, so their scale "
                     "stays the same while the earlier layers change; gradients stay well scaled and the loss "
                     "falls faster in the first epochs, which is what the first epoch shows here.")
    elif first.direction == "lower":
        parts.append("Batch normalization usually speeds the first epochs (each layer's inputs are standardized "
                     "over the mini-batch, so gradients stay well scaled); here the first epoch's training loss is "
                     "lower, but within run-to-run noise.")
    else:
        parts.append("Batch normalization usually speeds the first epochs (each layer's inputs are standardized "
                     "over the mini-batch, so gradients stay well scaled), but that is not what the first epoch "
                     "shows here.")
    lr, batch = confounds.get("learning_rate"), confounds.get("batch_size")
    if lr and None not in lr and lr[1] > lr[0] and converged:
        parts.append(f"Normalization is also what lets {m.md_name(bn)} train with a learning rate "
                     f"{lr[1] / lr[0]:g} times larger ({lr[1]:g} against {lr[0]:g}) without diverging.")
    if batch and None not in batch and batch[1] > batch[0]:
        ratio = "half" if batch[1] == 2 * batch[0] else f"{batch[0] / batch[1]:.2g} times"
        parts.append(f"Its batch size of {batch[1]} against {batch[0]} means {ratio} as many weight updates per "
                     "epoch, which slows the fall per epoch.")
    if last.direction == "higher":
        parts.append("At the end its training loss is the higher one: the noise of batch statistics"
                     + (" and the larger learning rate keep" if lr and None not in lr and lr[1] > lr[0] else " keeps")
                     + " the weights from settling as close to the training images as the reference does.")
    elif last.direction == "lower":
        parts.append("It also ends with the lower training loss: it fits the training images more closely.")
    return " ".join(parts)


def _confound_text(confounds: Mapping[str, tuple], ref: str, bn: str) -> str:
    shown = {k: v for k, v in confounds.items() if k in SETTING_WORDS}
    if not shown:
        return "The two arms share every training setting, so the difference is batch normalization's. "
    listed = ", ".join(f"{SETTING_WORDS[key]} {other} against {reference}"
                       for key, (reference, other) in shown.items())
    return (f"The arms also differ in {listed} ({m.md_name(bn)} first), as the assignment prescribes, so the "
            "difference belongs to the whole recipe, not to batch normalization alone. ")
