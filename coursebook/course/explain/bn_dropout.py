"""Batch normalization with dropout under early stopping (q6 Part 4): where each run stopped, how
noisy the validation curve was against the training curve (epochs in which accuracy fell, the
largest single-epoch drop, the mean epoch-to-epoch change), what batch normalization and dropout do
differently in training and evaluation, and what a noisy monitored curve means for early stopping.
With an arm without batch normalization beside it, the noise of the two is compared; without one,
the page says that the share of batch normalization in the noise is not measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coursebook.course.prose import comparison
from coursebook.course.explain import early_stopping, measures

DIGITS = 4
MIN_STEPS = 4  # epoch-to-epoch changes a run needs before its curve's noise is judged
BN_MOMENTUM = 0.99  # Keras' default for BatchNormalization, which the model specs keep


@dataclass(frozen=True)
class Noise:
    """Epoch-to-epoch movement of one accuracy curve of one run (shown values, ``DIGITS``)."""

    falls: int  # epochs in which the accuracy was lower than after the epoch before
    steps: int  # epoch-to-epoch changes (epochs - 1)
    largest_drop: float  # 0 when it never fell
    drop_epoch: int | None  # the epoch that ended with the largest drop
    mean_change: float  # mean absolute epoch-to-epoch change


def noise(values: Sequence[float]) -> Noise:
    """The movement of a per-epoch curve, from its values rounded to ``DIGITS``."""
    shown = [round(float(v), DIGITS) for v in values]
    changes = [b - a for a, b in zip(shown, shown[1:])]
    drops = [(-c, epoch) for epoch, c in enumerate(changes, start=2) if c < 0]
    largest, epoch = max(drops) if drops else (0.0, None)
    mean = math.fsum(abs(c) for c in changes) / len(changes) if changes else 0.0
    return Noise(len(drops), len(changes), round(largest, DIGITS), epoch, round(mean, DIGITS))


def _has_batchnorm(arm: Mapping[str, Any]) -> bool:
    return "batchnorm" in measures.layer_types(arm)


def bn_arm(results: Any) -> Mapping[str, Any]:
    """The first arm whose model has batch-normalization layers; a clear error when none has."""
    data = measures.as_mapping(results)
    for arm in data["arms"]:
        if _has_batchnorm(arm):
            return arm
    raise ValueError(f"explain 'bn-dropout': no arm's model has batchnorm layers; arms: {measures.arm_names(data)}")


def answer(results: Any) -> str:
    """Markdown: stopping per run, the noise of the validation curve, the mechanism, the limits."""
    data = measures.as_mapping(results)
    arm = bn_arm(data)
    name = measures.md_name(arm["name"])
    parts = []
    if (arm.get("settings") or {}).get("early_stopping"):
        parts += [f"**{name}: where each run stopped.** {early_stopping.rule(arm)}",
                  "\n".join(f"- {early_stopping.run_sentence(arm, run)}" for run in arm["runs"])]
    short = min(len(run["history"]["val_accuracy"]) for run in arm["runs"]) - 1 < MIN_STEPS
    noisier = not short and _val_noisier(arm)
    parts += [f"**How noisy the validation curve is.** {_noise_text(arm, noisier, short)}"]
    reference = next((other for other in data["arms"] if not _has_batchnorm(other)), None)
    if reference is not None:
        parts.append(f"**Against the model without batch normalization.** {_against(arm, reference)}")
    parts += [f"**Mechanism.** {_mechanism(arm, data, noisier, reference is not None, short)}",
              f"**Limits of the evidence.** {measures.limits(data)}"]
    return "\n\n".join(parts)


def _curves(arm: Mapping[str, Any], metric: str) -> list[Noise]:
    return [noise(run["history"][metric]) for run in arm["runs"]]


def _val_noisier(arm: Mapping[str, Any]) -> bool:
    """Validation accuracy fell in more epochs and by a larger largest drop than training accuracy,
    summed over runs (shown values)."""
    val, train = _curves(arm, "val_accuracy"), _curves(arm, "accuracy")
    return (sum(n.falls for n in val) > sum(n.falls for n in train)
            and max(n.largest_drop for n in val) > max(n.largest_drop for n in train))


def _noise_text(arm: Mapping[str, Any], noisier: bool, short: bool) -> str:
    val, train = _curves(arm, "val_accuracy"), _curves(arm, "accuracy")
    per_run = []
    for run, v, t in zip(arm["runs"], val, train):
        drop = (f"its largest drop, {v.largest_drop:.{DIGITS}f}, ended epoch {v.drop_epoch} "
                f"({_at(run, v.drop_epoch - 1)} to {_at(run, v.drop_epoch)})" if v.drop_epoch else "it never fell")
        per_run.append(f"- Seed {run['seed']}: validation accuracy fell in {v.falls} of {v.steps} epochs, training "
                       f"accuracy in {t.falls}; {drop}; the mean epoch-to-epoch change is {v.mean_change:.{DIGITS}f} "
                       f"for validation and {t.mean_change:.{DIGITS}f} for training accuracy.")
    if short:
        verdict = (f"Not judged: a run needs at least {MIN_STEPS + 1} epochs before the ups and downs of its curve "
                   "say anything about noise.")
    elif noisier:
        verdict = "The validation curve is the noisier one: it falls in more epochs and by more than the training curve."
    else:
        verdict = "By these measures the validation curve is not noisier than the training curve here."
    return verdict + "\n\n" + "\n".join(per_run)


def _at(run: Mapping[str, Any], epoch: int) -> str:
    return f"{measures.history_value(run, 'val_accuracy', epoch):.{DIGITS}f}"


def _against(arm: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    names = measures.md_name(arm["name"]), measures.md_name(reference["name"])
    drops = [[n.largest_drop for n in _curves(a, "val_accuracy")] for a in (arm, reference)]
    falls = [[float(n.falls) for n in _curves(a, "val_accuracy")] for a in (arm, reference)]
    return " ".join(comparison.compare(metric, names[0], a, names[1], b, digits=digits, relative=False).sentence
                    for metric, (a, b), digits in (("largest single-epoch drop of validation accuracy", drops, DIGITS),
                                                   ("number of epochs with falling validation accuracy", falls, 1)))


def _batches_per_epoch(arm: Mapping[str, Any], data: Mapping[str, Any]) -> int | None:
    settings = arm.get("settings") or {}
    size = settings.get("train_size") or ((data.get("dataset") or {}).get("sizes") or {}).get("train")
    batch = settings.get("batch_size")
    return math.ceil(size / batch) if size and batch else None


def _mechanism(arm: Mapping[str, Any], data: Mapping[str, Any], noisier: bool, has_reference: bool,
               short: bool) -> str:
    causes = [_bn_cause(arm, data)]
    if "dropout" in measures.layer_types(arm):
        causes.append("Dropout is active only in training: it lowers and roughens the training accuracy and leaves "
                      "the validation pass alone.")
    causes.append("The training accuracy is also an average over all batches of an epoch, while the validation "
                  "accuracy is one snapshot of the weights at the epoch's end, so the validation curve shows every "
                  "jolt of the last updates.")
    count = {2: "Two", 3: "Three"}[len(causes)]
    if short:
        lead = (f"The runs are too short to show how noisy the curves are; {count.lower()} things make them noisy in "
                "longer runs, as in the assignment's reference run.")
    elif not noisier:
        lead = (f"{count} things can make a validation curve noisy, as in the assignment's reference run, but here "
                "the noise did not show beyond the training curve's own movement.")
    elif has_reference:
        lead = f"{count} things make such a curve noisy."
    else:
        lead = (f"{count} things make such a curve noisy; this page trains no arm without batch normalization, so how "
                "much of the noise is batch normalization's is not measured here.")
    stopping = ""
    if (arm.get("settings") or {}).get("early_stopping") and noisier:
        stopping = (" For early stopping a noisy monitored curve matters twice: a chance dip can end a run within "
                    "the patience, and a chance peak can be the epoch that is restored, which makes that epoch's "
                    "validation score optimistic (the test accuracy is the honest estimate).")
    return " ".join([lead, *causes]) + stopping


def _bn_cause(arm: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    horizon = round(1 / (1 - BN_MOMENTUM))
    text = ("In training, batch normalization scales every channel with the mean and variance of the current batch; "
            f"in evaluation it uses moving averages of those statistics (momentum {BN_MOMENTUM}: roughly the last "
            f"{horizon} batches).")
    batches = _batches_per_epoch(arm, data)
    if batches is None:
        return text + " While the weights change quickly, those averages lag behind them."
    epochs = horizon / batches
    if epochs >= 1:
        return (text + f" Here {batches:,} batches make one epoch, so the averages span about {epochs:.2g} epochs of "
                "weights: they lag behind the weights, and the same weights are normalised differently in training "
                "and in evaluation.")
    return (text + f" Here {batches:,} batches make one epoch, so the averages span {epochs:.2g} of an epoch: they "
            "follow the weights closely except while the weights still change quickly.")
