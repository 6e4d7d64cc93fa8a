"""explain 'early-stopping' on crafted results: per-run stop and restored epochs, the cost of the last
weights, and the over-fitting and selection statements only where the numbers show them."""

from __future__ import annotations

import math
import statistics

import pytest

from coursebook.course import explain
from coursebook.course.explain import early_stopping

STOPPING = {"monitor": "val_loss", "patience": 3, "min_delta": 0.0, "restore_best_weights": True, "mode": "min"}


def run(seed, val_loss, val_accuracy, loss=None, evaluated_epoch=None, test=None):
    n = len(val_loss)
    loss = loss or [1.0 - 0.05 * e for e in range(n)]
    best = evaluated_epoch or val_loss.index(min(val_loss)) + 1
    return {"seed": seed, "stopped_epoch": n, "evaluated_epoch": best, "test": {"accuracy": test} if test else {},
            "history": {"loss": list(loss), "accuracy": [0.5] * n, "val_loss": list(val_loss),
                        "val_accuracy": list(val_accuracy)}}


def results(*runs, epochs=10, stopping=STOPPING, test_images=10_000):
    return {"profile": "full", "dataset": {"name": "CIFAR-10", "synthetic": False, "sizes": {"test": test_images}},
            "arms": [{"name": "Part 3", "model": "q6-simple-cnn", "settings": {"epochs": epochs, "early_stopping": stopping},
                      "runs": list(runs)}]}


# stops after epoch 7: best epoch 4 (0.60), then three epochs without improvement
STOPPED = run(0, [1.0, 0.8, 0.7, 0.6, 0.65, 0.7, 0.75], [0.3, 0.5, 0.6, 0.70, 0.69, 0.68, 0.66], test=0.68)
# runs the whole budget and is best at the last epoch
FULL = run(1, [1.0, 0.9, 0.8, 0.7, 0.65, 0.6, 0.58, 0.57, 0.56, 0.55], [0.3] * 9 + [0.72], test=0.71)


def test_each_run_says_where_it_stopped_and_which_epoch_was_evaluated():
    text = explain.answer("early-stopping", results(STOPPED, FULL))
    assert ("Seed 0: stopped after epoch 7 of at most 10, 3 epochs after its best; the weights of epoch 4 were "
            "evaluated (validation loss 0.6000, validation accuracy 0.7000).") in text
    assert ("The last epoch's weights would have given validation loss 0.7500 (0.1500 higher) and validation "
            "accuracy 0.6600 (0.0400 lower).") in text
    assert "Seed 1: ran all 10 epochs without stopping; its last epoch, 10, was also its best" in text
    assert "stops once validation loss (`val_loss`) has not improved for 3 epochs, then restores" in text


def test_summary_counts_runs_that_stopped_and_the_share_of_the_budget():
    text = early_stopping.answer(results(STOPPED, FULL))
    share = (7 + 10) / 20
    assert (f"1 of 2 runs stopped before the budget of 10 epochs; the runs trained 7 and 10 epochs (mean 8.5 ± "
            f"{statistics.stdev([7, 10]):.1f}, {share:.0%} of the budget) and evaluated epochs 4 and 10.") in text
    assert "Restoring mattered in 1 of 2 runs" in text


def test_overfitting_is_named_only_when_training_loss_falls_while_validation_loss_rises():
    assert "(over-fitting)" in early_stopping.answer(results(STOPPED))
    flat_training = run(0, STOPPED["history"]["val_loss"], STOPPED["history"]["val_accuracy"], loss=[0.5] * 7)
    assert "over-fitting" not in early_stopping.answer(results(flat_training)).replace("clearly over-fitting", "")


def test_no_run_stopping_says_early_stopping_only_chose_the_epoch():
    text = early_stopping.answer(results(FULL))
    assert "No run stopped before the budget of 10 epochs" in text
    assert "restoring changed nothing" in text and "(over-fitting)" not in text


def test_test_accuracy_against_the_chosen_validation_score_with_its_standard_error():
    text = early_stopping.answer(results(STOPPED, FULL))
    test_mean = (0.68 + 0.71) / 2
    assert f"The test set ({test_mean:.4f} ± {statistics.stdev([0.68, 0.71]):.4f}) gives a lower mean accuracy" in text
    assert f"standard error of about {math.sqrt(test_mean * (1 - test_mean) / 10_000):.4f}" in text
    higher = run(0, STOPPED["history"]["val_loss"], STOPPED["history"]["val_accuracy"], test=0.75)
    assert "the test images scored higher" in early_stopping.answer(results(higher))


def test_an_arm_without_early_stopping_is_refused():
    data = results(FULL)
    data["arms"][0]["settings"]["early_stopping"] = None
    with pytest.raises(ValueError, match="no arm has an early_stopping setting"):
        early_stopping.answer(data)


def test_per_class_report_and_the_most_confused_pairs_use_the_class_names():
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    report = {name: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 1000} for name in names}
    report["cat"] = {"precision": 0.5, "recall": 0.4, "f1": 0.45, "support": 1000}
    confusion = [[100 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[5][3] = 199  # dogs predicted as cats: dog is class 5, cat class 3
    confusion[3][5] = 120
    data = results(dict(STOPPED, classification_report=report, confusion={"test": confusion}))
    data["dataset"]["class_names"] = names
    text = early_stopping.answer(data)
    assert "| cat | 0.50 | 0.40 | 0.45 | 1,000 |" in text and "| dog | 0.80 | 0.80 | 0.80 | 1,000 |" in text
    assert ("The weakest class by F1 is cat (0.45), the strongest are airplane, automobile, bird, deer, "
            "dog, frog, horse, ship and truck (0.80).") in text
    assert (f"dog predicted as cat (199 images, {199 / 299:.1%} of dog images) and cat predicted as dog "
            f"(120 images, {120 / 220:.1%} of cat images)") in text


def test_a_patience_of_one_epoch_reads_in_the_singular():
    text = early_stopping.answer(results(FULL, stopping=dict(STOPPING, patience=1)))
    assert "has not improved for 1 epoch, then restores" in text and "at least once every epoch, so" in text


def test_validation_accuracy_that_still_rose_tempers_the_over_fitting_claim():
    # validation loss lowest at epoch 4 and rising after it, yet validation accuracy higher at the end
    accurate = run(0, [1.0, 0.8, 0.7, 0.6, 0.65, 0.7, 0.75], [0.3, 0.5, 0.6, 0.62, 0.64, 0.66, 0.70])
    text = early_stopping.answer(results(accurate))
    assert "yet validation accuracy ended higher than at the evaluated epoch in the run (by 0.0800)" in text
    assert "(over-fitting)" not in text and "monitoring `val_accuracy` would have chosen another epoch" in text
