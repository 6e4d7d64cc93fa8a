"""explain 'augmentation' on crafted results: validation losses compared, each arm diagnosed,
mechanism clauses only for measured effects."""

from __future__ import annotations

import pytest

from coursebook.course import explain
from coursebook.course.explain import augmentation, fitting

AUG = [{"RandomRotation": {"factor": 0.0278}}, {"RandomTranslation": {"height_factor": 0.1}},
       {"RandomFlip": {"mode": "horizontal"}}]


def run(seed, loss, val_loss, accuracy=None, val_accuracy=None, evaluated_epoch=None):
    n = len(loss)
    return {"seed": seed, "evaluated_epoch": evaluated_epoch or n,
            "history": {"loss": list(loss), "val_loss": list(val_loss),
                        "accuracy": list(accuracy or [0.5] * n), "val_accuracy": list(val_accuracy or [0.5] * n)}}


def results(plain_runs, aug_runs, profile="full"):
    return {"profile": profile, "dataset": {"synthetic": False},
            "arms": [{"name": "E: baseline", "model": "a12-baseline", "settings": {"augmentation": None},
                      "runs": plain_runs},
                     {"name": "F: augmented", "model": "a12-baseline", "settings": {"augmentation": AUG},
                      "runs": aug_runs}]}


# E over-fits (validation loss lowest at epoch 2, then rises in every run); F still improving
PLAIN = [run(s, (1.0, 0.6, 0.3, 0.1), (1.0, 0.7 + s / 100, 0.9, 1.2), accuracy=(0.5, 0.7, 0.9, 0.99))
         for s in range(3)]
AUGMENTED = [run(s, (1.2, 1.0, 0.9, 0.8), (1.1, 0.8, 0.7, 0.6 + s / 100), accuracy=(0.4, 0.5, 0.6, 0.65))
             for s in range(3)]


def test_baseline_overfits_and_augmentation_is_still_improving():
    text = explain.answer("augmentation", results([dict(r, evaluated_epoch=2) for r in PLAIN], AUGMENTED))
    # lowest validation loss: F 0.61 ± 0.01 (its last epoch) against E 0.71 ± 0.01
    assert "F: augmented (0.6100 ± 0.0100) has a lower, i.e. better, mean lowest validation loss than " \
           "E: baseline (0.7100 ± 0.0100)" in text
    assert "- E: baseline over-fits. Validation loss of E: baseline (mean of 3 runs) is lowest at epoch 2" in text
    assert "- F: augmented under-fits at this budget" in text and "more epochs would help" in text
    assert "rotated, shifted, flipped" in text
    assert "That is why the validation − training loss gap is smaller (negative: validation loss below" in text
    assert "The cost is training accuracy" in text


def test_no_narrowing_and_no_cost_are_said_as_measured():
    same = [run(s, (1.0, 0.6, 0.3, 0.1), (1.0, 0.7, 0.9, 1.2), accuracy=(0.5, 0.7, 0.9, 0.99)) for s in range(2)]
    text = explain.answer("augmentation", results(same, same))
    assert "the measured gap does not show that narrowing" in text and "does not show beyond noise here" in text
    assert "That is why" not in text and "The cost is" not in text


def test_fit_verdicts():
    res = results(PLAIN, AUGMENTED)
    assert fitting.diagnose(res, res["arms"][0]).verdict == "over-fits"
    assert fitting.diagnose(res, res["arms"][1]).verdict == "under-fits at this budget"
    single = results(PLAIN[:1], AUGMENTED[:1])
    assert fitting.diagnose(single, single["arms"][0]).verdict == "may over-fit"


def test_arms_without_augmentation_are_refused():
    res = results(PLAIN, AUGMENTED)
    res["arms"][1]["settings"] = {}
    with pytest.raises(ValueError, match="needs an arm with and one without augmentation"):
        augmentation.answer(res)


def test_effects_within_noise_are_not_explained_as_effects():
    plain = [run(s, (1.0, 0.6, 0.3), (1.0, 0.7, 0.9), accuracy=(0.5, 0.7, 0.9 + s / 10)) for s in range(2)]
    aug = [run(s, (1.0, 0.6, 0.35 + s / 5), (1.0, 0.7, 0.9), accuracy=(0.5, 0.7, 0.88 + s / 10)) for s in range(2)]
    text = explain.answer("augmentation", results(plain, aug))
    assert "That is why" not in text and "The cost is training accuracy" not in text
    assert "within run-to-run noise" in text


def test_one_run_states_the_expected_direction_without_calling_it_an_effect():
    text = explain.answer("augmentation", results([dict(PLAIN[0], evaluated_epoch=2)], AUGMENTED[:1]))
    assert "gap is smaller (negative: validation loss below training loss), as this predicts" in text
    assert "Training accuracy is lower, the expected cost of harder, varied images" in text
    assert "That is why" not in text and "The cost is" not in text


def test_a_lowest_loss_in_the_last_tenth_of_twenty_epochs_is_still_improving():
    climbing = [run(0, [2.3 - i / 20 for i in range(20)], [2.3 - i / 25 for i in range(19)] + [1.6],
                    accuracy=[0.1 + i / 40 for i in range(20)])]
    res = results(climbing, climbing)
    fit = fitting.diagnose(res, res["arms"][1])
    # lowest at epoch 19 (2.3 - 18/25 = 1.58), 1.6 at epoch 20: within the last 2 of 20 epochs
    assert fit.verdict == "under-fits at this budget"
    assert "lowest within the last 2 epochs of the run (1.5800 at epoch 19 of 20)" in fit.text
