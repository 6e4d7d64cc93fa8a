"""Did a run learn at all? The rule that decides, and the likely cause when it did not.

A run that did not learn is a failed run, not an over-fitting or under-fitting one: its page says
so, and no comparison reads it as an effect of the arm. The rule, in words (:data:`RULE`):

- its validation accuracy must exceed chance (1 / classes) by more than :data:`CHANCE_BAND`
  binomial standard errors of a chance-level classifier on the validation images it was measured
  on (3 on 258 images: 0.156 for 10 classes; on 2,500 images: 0.118), and
- its training loss in inference mode must be below ln(classes), the loss of a model that
  predicts every class with the same probability (2.303 for 10 classes).

Causes are measured, in this order, from the run's own numbers (:func:`failure_cause`): a
train/inference mismatch (the running training accuracy far above the inference-mode one on the
same images), a learning rate too large (the first epoch's training loss above the untrained
model's), too few gradient steps (the running training accuracy itself near chance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHANCE_BAND = 3.0  # binomial standard errors above chance
MISMATCH_GAP = 0.2  # running minus inference-mode training accuracy that means the two modes disagree
DIVERGED_FACTOR = 1.2  # first-epoch training loss above this times ln(classes): the steps were too large
RULE = (
    f"a run learned when its validation accuracy exceeds chance by more than {CHANCE_BAND:g} "
    "standard errors of a chance-level classifier on its validation images, and its training loss "
    "in inference mode is below ln(classes), the loss of a uniform prediction"
)


@dataclass(frozen=True)
class Verdict:
    """Whether a run learned, the rule with its numbers, and the likely cause ('' when it learned)."""

    learned: bool
    rule: str
    cause: str


def chance_threshold(classes: int, validation_images: int) -> float:
    """The validation accuracy a run must exceed: chance plus :data:`CHANCE_BAND` standard errors.

    >>> round(chance_threshold(10, 258), 3), round(chance_threshold(10, 2500), 3)
    (0.156, 0.118)
    """
    chance = 1 / classes
    return chance + CHANCE_BAND * math.sqrt(chance * (1 - chance) / validation_images)


def judge(
    *,
    classes: int,
    validation_images: int,
    validation_accuracy: float,
    training_loss: float,
    training_accuracy: float,
    running_accuracy: float,
    first_running_loss: float,
    steps: int,
    batch_norm: bool,
) -> Verdict:
    """The verdict on one run from its evaluated epoch's numbers: ``validation_accuracy``,
    ``training_loss`` and ``training_accuracy`` (inference mode), ``running_accuracy`` (Keras' training accuracy of that
    epoch, training mode), ``first_running_loss`` (Keras' training loss of epoch 1), the gradient
    ``steps`` taken up to the evaluated epoch, and whether the model has batch normalization."""
    threshold, uniform = chance_threshold(classes, validation_images), math.log(classes)
    learned = validation_accuracy > threshold and training_loss < uniform
    rule = (
        f"validation accuracy {validation_accuracy:.3f} {'>' if validation_accuracy > threshold else '<='} "
        f"{threshold:.3f} (chance {1 / classes:.3f} + {CHANCE_BAND:g} standard errors on {validation_images:,} "
        f"images) and inference-mode training loss {training_loss:.3f} {'<' if training_loss < uniform else '>='} "
        f"{uniform:.3f} (ln {classes}, a uniform prediction)"
    )
    cause = (
        ""
        if learned
        else failure_cause(
            classes=classes,
            running_accuracy=running_accuracy,
            training_accuracy=training_accuracy,
            first_running_loss=first_running_loss,
            steps=steps,
            batch_norm=batch_norm,
        )
    )
    return Verdict(learned, rule, cause)


def failure_cause(
    *,
    classes: int,
    running_accuracy: float,
    training_accuracy: float,
    first_running_loss: float,
    steps: int,
    batch_norm: bool,
) -> str:
    """The likely cause of a failed run, measured from its numbers (see the module docstring)."""
    uniform = math.log(classes)
    if running_accuracy > training_accuracy + MISMATCH_GAP:
        where = (
            " (batch normalization: the statistics used in inference mode do not match the weights)"
            if batch_norm
            else ""
        )
        return (
            f"train/inference mismatch{where}: in training mode the model fits {running_accuracy:.3f} of its "
            f"training batches, in inference mode the same weights classify {training_accuracy:.3f} of the "
            "training images"
        )
    if not math.isfinite(first_running_loss) or first_running_loss > DIVERGED_FACTOR * uniform:
        return (
            f"learning rate too large: the training loss of epoch 1 ({first_running_loss:.2f}) is above the "
            f"{uniform:.2f} of an untrained model"
        )
    if running_accuracy <= 1 / classes + MISMATCH_GAP:
        return (
            f"too few steps: after {steps:,} gradient steps even the running training accuracy "
            f"({running_accuracy:.3f}) is near chance"
        )
    return "no cause could be measured from the run's numbers"
