"""explain 'baseline' on crafted results: the evaluated weights, the fit and the capacity sentence."""

from __future__ import annotations

from coursebook.course import explain


def run(seed, loss, val_loss, evaluated_epoch=None, accuracy=0.9, val_accuracy=0.6):
    n = len(loss)
    return {"seed": seed, "evaluated_epoch": evaluated_epoch or n,
            "history": {"loss": list(loss), "val_loss": list(val_loss),
                        "accuracy": [0.5] * (n - 1) + [accuracy], "val_accuracy": [0.5] * (n - 1) + [val_accuracy]}}


def results(runs, settings=None, profile="full"):
    return {"profile": profile, "dataset": {"synthetic": True, "name": "stand-in", "sizes": {"train": 40000}},
            "arms": [{"name": "E", "model": "a12-baseline", "parameters": {"total": 2168362},
                      "settings": settings or {}, "runs": runs}]}


def test_a_checkpointed_overfitting_model_is_explained():
    runs = [run(s, (1.0, 0.5, 0.3, 0.1), (1.0, 0.7, 0.9, 1.1 + s / 100), evaluated_epoch=4) for s in range(3)]
    runs = [dict(r, evaluated_epoch=2) for r in runs]
    text = explain.answer("baseline", results(runs, {"checkpoint": {"monitor": "val_loss"}}))
    assert "weights kept by the checkpoint" in text and "epoch 2 of 4 (seed 0), epoch 2 of 4 (seed 1)" in text
    assert "E over-fits." in text
    assert "With 2,168,362 parameters for 40,000 training images" in text
    assert "The checkpoint guards against this" in text
    assert "the training accuracy is" not in text  # the diagnosis already gives the gaps
    assert "not from CIFAR-10" in text


def test_the_kept_weights_on_each_part_come_from_the_confusion_matrices():
    runs = [dict(run(s, (1.0, 0.5), (1.0, 0.9)), confusion={"training": [[30, 10], [5, 55]]},
                 validation={"accuracy": 0.6 + s / 10, "loss": 0.9}) for s in range(2)]
    text = explain.answer("baseline", results(runs))
    # 85 of 100 training images on the diagonal, in both runs
    assert "classify 0.8500 ± 0.0000 of the training images and 0.6500 ± 0.0707 of the validation images" in text


def test_a_model_still_improving_is_under_fitting_at_the_budget():
    text = explain.answer("baseline", results([run(0, (1.0, 0.8), (1.0, 0.9))], profile="smoke"))
    assert "weights after the last epoch: epoch 2 of 2 (seed 0)" in text
    assert "under-fits at this budget: its validation loss was lowest in the last epoch of the run (0.9000 at " \
           "epoch 2 of 2)" in text and "more epochs" in text
    assert "the training accuracy is 0.9000 and the validation accuracy 0.6000: a gap of 0.3000" in text
    assert "checkpoint" not in text
