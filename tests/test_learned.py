"""The rule that says whether a run learned, and the measured cause when it did not."""

from __future__ import annotations

import math

import pytest

from coursebook.course import learned

GOOD = dict(
    classes=10,
    validation_images=500,
    validation_accuracy=0.45,
    training_loss=1.4,
    training_accuracy=0.52,
    running_accuracy=0.50,
    first_running_loss=2.1,
    steps=600,
    batch_norm=False,
)


def test_the_threshold_is_chance_plus_three_binomial_standard_errors():
    assert learned.chance_threshold(10, 500) == pytest.approx(0.1 + 3 * math.sqrt(0.1 * 0.9 / 500), rel=1e-12)
    assert learned.chance_threshold(2, 100) == pytest.approx(0.5 + 3 * 0.05, rel=1e-12)


def test_a_run_above_chance_with_a_training_loss_below_a_uniform_guess_learned():
    verdict = learned.judge(**GOOD)
    assert verdict.learned and verdict.cause == ""
    assert "validation accuracy 0.450 > 0.140" in verdict.rule and "1.400 < 2.303 (ln 10" in verdict.rule


@pytest.mark.parametrize(
    "changes, cause",
    [
        # the e4742-p2 case: fits its batches in training mode, chance in inference mode
        (
            dict(
                validation_accuracy=0.10,
                training_accuracy=0.21,
                training_loss=2.9,
                running_accuracy=0.85,
                batch_norm=True,
            ),
            "train/inference mismatch (batch normalization",
        ),
        # a12-h: ten times the learning rate, first-epoch loss far above ln 10
        (
            dict(
                validation_accuracy=0.11,
                training_accuracy=0.12,
                training_loss=2.5,
                running_accuracy=0.13,
                first_running_loss=3.08,
            ),
            "learning rate too large: the training loss of epoch 1 (3.08) is above the 2.30",
        ),
        (
            dict(validation_accuracy=0.11, training_accuracy=0.12, training_loss=2.29, running_accuracy=0.12, steps=25),
            "too few steps: after 25 gradient steps",
        ),
    ],
)
def test_a_failed_run_names_its_measured_cause(changes, cause):
    verdict = learned.judge(**{**GOOD, **changes})
    assert not verdict.learned and verdict.cause.startswith(cause)


def test_a_training_loss_above_a_uniform_guess_fails_even_above_chance():
    verdict = learned.judge(**{**GOOD, "training_loss": 2.5})
    assert not verdict.learned and "2.500 >= 2.303" in verdict.rule


def test_the_boundary_itself_is_not_learning():
    threshold = learned.chance_threshold(10, 500)
    assert not learned.judge(**{**GOOD, "validation_accuracy": threshold}).learned
