"""explain 'batch-norm' on crafted results: training losses compared early and at the end,
confounding settings named, mechanism clauses only for measured directions."""

from __future__ import annotations

from coursebook.course import explain
from coursebook.course.explain import batch_norm


def run(seed, loss, val_loss=None):
    n = len(loss)
    return {"seed": seed, "evaluated_epoch": n,
            "history": {"loss": list(loss), "val_loss": list(val_loss or [1.0 - i / 100 for i in range(n)]),
                        "accuracy": [0.5] * n, "val_accuracy": [0.5] * n}}


def results(ref_runs, bn_runs, ref_settings=None, bn_settings=None):
    return {"profile": "full", "dataset": {"synthetic": False},
            "arms": [{"name": "E", "model": "a12-baseline", "settings": ref_settings or {}, "runs": ref_runs},
                     {"name": "H", "model": "a12-batchnorm", "settings": bn_settings or {}, "runs": bn_runs}]}


E_SETTINGS = {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32, "epochs": 4}
H_SETTINGS = {"optimizer": "adam", "learning_rate": 0.01, "batch_size": 64, "epochs": 4}


def test_faster_first_epochs_then_higher_loss_with_the_recipe_named():
    ref = [run(s, (1.5 + s / 100, 1.0, 0.6, 0.3)) for s in range(3)]
    bn = [run(s, (1.2 + s / 100, 0.9, 0.7, 0.5)) for s in range(3)]
    text = explain.answer("batch-norm", results(ref, bn, E_SETTINGS, H_SETTINGS))
    assert "H (1.2100 ± 0.0100) has a lower mean training loss after epoch 1 than E (1.5100 ± 0.0100)" in text
    assert "H (0.5000 ± 0.0000) has a higher mean training loss at the last epoch than E (0.3000 ± 0.0000)" in text
    assert "is the lower one in 2 of the 4 epochs (epochs 1–2)" in text
    assert "falls faster in the first epochs, which is what the first epoch shows here" in text
    assert "learning rate 10 times larger (0.01 against 0.001)" in text
    assert "half as many weight updates per epoch" in text
    assert "At the end its training loss is the higher one" in text and "larger learning rate keep" in text
    assert "differ in batch size 64 against 32, learning rate 0.01 against 0.001" in text


def test_no_speed_up_is_not_claimed_and_shared_settings_are_said():
    ref = [run(s, (1.0, 0.8, 0.6)) for s in range(2)]
    bn = [run(s, (1.1, 0.7, 0.5)) for s in range(2)]
    text = explain.answer("batch-norm", results(ref, bn, E_SETTINGS, E_SETTINGS))
    assert "that is not what the first epoch shows here" in text
    assert "It also ends with the lower training loss" in text
    assert "share every training setting" in text
    assert "(epochs 2–3)" in text


def test_ranges():
    assert batch_norm._ranges([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"


def test_unsettled_moving_averages_are_named_when_validation_loss_explodes():
    ref = [run(s, (2.3, 2.2), (2.3, 2.2)) for s in range(2)]
    bn = [run(s, (3.6, 2.8), (40.0 + s, 30.0 + s)) for s in range(2)]
    res = results(ref, bn, E_SETTINGS, {**H_SETTINGS, "train_size": None})
    res["dataset"]["sizes"] = {"train": 500}
    text = explain.answer("batch-norm", res)
    # 500 images in batches of 64: 8 steps per epoch; validation above twice training in epochs 1-2
    assert "In epochs 1–2 the mean validation loss of H is more than twice its training loss (up to 40.5000)" in text
    assert "an epoch here is only 8 steps (16 by epoch 2)" in text
    assert "without diverging" not in text  # validation loss fell (40 -> 30) but stays far above training loss


def test_one_lower_epoch_is_named_in_the_singular():
    ref = [run(s, (1.0, 0.8)) for s in range(2)]
    bn = [run(s, (1.1, 0.7)) for s in range(2)]
    assert "the lower one in 1 of the 2 epochs (epoch 2)." in explain.answer("batch-norm", results(ref, bn))
