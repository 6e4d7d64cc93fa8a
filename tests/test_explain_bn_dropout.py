"""explain 'bn-dropout' on crafted results: noise measures from the curves, the verdict from them,
the batch-norm horizon from the settings, and the comparison with an arm without batch norm."""

from __future__ import annotations

import pytest

from coursebook.course import explain
from coursebook.course.explain import bn_dropout

STOPPING = {"monitor": "val_loss", "patience": 2, "min_delta": 0.0, "restore_best_weights": True, "mode": "min"}
SMOOTH_TRAIN = [0.30, 0.40, 0.50, 0.55, 0.60, 0.62]
JAGGED_VAL = [0.30, 0.45, 0.40, 0.55, 0.35, 0.50]  # falls at epochs 3 and 5 (0.05, 0.20)
SMOOTH_VAL = [0.28, 0.38, 0.47, 0.52, 0.56, 0.58]


def run(seed, accuracy, val_accuracy, evaluated_epoch=None):
    n = len(accuracy)
    return {"seed": seed, "stopped_epoch": n, "evaluated_epoch": evaluated_epoch or n,
            "history": {"loss": [1.0 - 0.1 * e for e in range(n)], "val_loss": [1.0 - 0.05 * e for e in range(n)],
                        "accuracy": list(accuracy), "val_accuracy": list(val_accuracy)}}


def arm(name, model, runs, early=True):
    return {"name": name, "model": model, "runs": runs,
            "settings": {"epochs": 8, "batch_size": 32, "train_size": 640, "early_stopping": STOPPING if early else None}}


def results(*arms, synthetic=True):
    return {"profile": "quick", "dataset": {"name": "stand-in", "synthetic": synthetic, "sizes": {"train": 40_000}},
            "arms": list(arms)}


def test_noise_counts_falls_and_the_largest_drop_on_shown_values():
    measured = bn_dropout.noise(JAGGED_VAL)
    assert (measured.falls, measured.steps, measured.largest_drop, measured.drop_epoch) == (2, 5, 0.20, 5)
    changes = [0.15, 0.05, 0.15, 0.20, 0.15]
    assert measured.mean_change == pytest.approx(round(sum(changes) / 5, 4), abs=1e-12)
    assert bn_dropout.noise([0.1, 0.2, 0.3]).drop_epoch is None
    assert bn_dropout.noise([0.50001, 0.50004]).falls == 0  # the same to 4 digits is not a fall


def test_a_jagged_validation_curve_is_called_noisier_with_per_run_numbers():
    text = explain.answer("bn-dropout", results(arm("Part 4", "q6-bn-dropout", [run(0, SMOOTH_TRAIN, JAGGED_VAL)])))
    assert "The validation curve is the noisier one" in text
    assert ("Seed 0: validation accuracy fell in 2 of 5 epochs, training accuracy in 0; its largest drop, 0.2000, "
            "ended epoch 5 (0.5500 to 0.3500)") in text
    assert "this page trains no arm without batch normalization" in text
    assert "a chance dip can end a run within the patience" in text
    # 640 images in batches of 32: 20 batches per epoch, so 100 batches are 5 epochs
    assert "Here 20 batches make one epoch, so the averages span about 5 epochs" in text
    assert "Seed 0: ran all 8 epochs" not in text and "Seed 0: stopped after epoch 6 of at most 8" in text


def test_a_smooth_validation_curve_is_not_called_noisy():
    text = bn_dropout.answer(results(arm("Part 4", "q6-bn-dropout", [run(0, SMOOTH_TRAIN, SMOOTH_VAL)])))
    assert "not noisier than the training curve" in text and "the noise did not show beyond" in text
    assert "chance dip" not in text


def test_an_arm_without_batch_norm_is_compared():
    data = results(arm("Part 4", "q6-bn-dropout", [run(s, SMOOTH_TRAIN, JAGGED_VAL) for s in range(2)]),
                   arm("Part 3", "q6-simple-cnn", [run(s, SMOOTH_TRAIN, SMOOTH_VAL) for s in range(2)]))
    text = bn_dropout.answer(data)
    assert "**Against the model without batch normalization.**" in text
    assert "Part 4 (0.2000 ± 0.0000) has a higher mean largest single-epoch drop of validation accuracy than Part 3 (0.0000 ± 0.0000)" in text
    assert "how much of the noise is batch normalization's is not measured" not in text


def test_without_a_batch_norm_arm_it_refuses():
    with pytest.raises(ValueError, match="no arm's model has batchnorm layers"):
        bn_dropout.answer(results(arm("Part 3", "q6-simple-cnn", [run(0, SMOOTH_TRAIN, SMOOTH_VAL)])))


def test_with_many_batches_per_epoch_the_averages_span_less_than_an_epoch():
    full = arm("Part 4", "q6-bn-dropout", [run(0, SMOOTH_TRAIN, JAGGED_VAL)])
    full["settings"]["train_size"] = None  # the whole training part: 40,000 images, 1,250 batches
    assert "Here 1,250 batches make one epoch, so the averages span 0.08 of an epoch" in bn_dropout.answer(results(full))


def test_runs_too_short_to_judge_noise_say_so():
    short = arm("Part 4", "q6-bn-dropout", [run(0, SMOOTH_TRAIN[:3], JAGGED_VAL[:3])])
    text = bn_dropout.answer(results(short))
    assert "Not judged: a run needs at least 5 epochs" in text and "The runs are too short to show" in text
    assert "the noisier one" not in text and "chance dip" not in text
