"""The one reader of measures (``Run.value``/``curve``, ``ArmResult.values``/``curves``,
``Results.images``): values of the evaluated weights, curves (inference-mode where recorded), failed
runs left out, the images an accuracy was measured on; and the words a page names them by."""

from __future__ import annotations

import pytest

from coursebook.course.prose import measure_names
from tests import factories


def results():
    history = {"eval_loss": [1.4, 1.1, 1.0, 0.95]}
    return factories.results(
        factories.arm(
            "a",
            [
                factories.run(0, train=0.9, val=0.6, evaluated=2, history=history, seconds=[9.0, 2.0, 4.0, 3.0]),
                factories.run(1, train=0.8, val=0.5, learned=False),
            ],
        ),
        sizes=(500, 120, 300),
    )


def test_values_are_those_of_the_evaluated_weights_and_skip_failed_runs():
    arm = results().arms[0]
    assert arm.values("val_accuracy") == (0.6,)
    assert arm.values("gap") == (pytest.approx(0.9 - 0.6),)
    assert arm.values("seconds") == (3.0,)  # the median after epoch 1 of 2, 4, 3
    assert list(arm.curves("val_accuracy")) == [0]  # seed 1 did not learn


def test_a_training_curve_reads_the_inference_mode_history_where_recorded():
    arm = results().arms[0]
    run = arm.runs[0]
    assert run.curve("train_loss") == [1.4, 1.1, 1.0, 0.95]
    assert arm.runs[1].curve("train_loss") == [1.5, 1.4, 1.3, 1.2]  # Keras' running loss
    assert measure_names.words("train_loss", [run], curve_of=True) == "training loss (inference mode)"
    assert "running" in measure_names.words("train_loss", arm.runs, curve_of=True)
    with pytest.raises(KeyError, match="no per-epoch curve"):
        run.curve("test_accuracy")


def test_an_accuracy_knows_the_images_it_was_measured_on():
    data = results()
    assert (data.images("val_accuracy"), data.images("test_accuracy")) == (120, 300)
    assert data.images("val_loss") is None
