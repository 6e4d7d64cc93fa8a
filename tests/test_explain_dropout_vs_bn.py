"""explain 'dropout-vs-bn' on crafted results: the verdict follows both signs and their spread."""

from __future__ import annotations

import pytest

from coursebook.course import explain
from coursebook.course.explain import dropout_vs_bn


def run(seed, accuracy, val_accuracy, val_loss):
    """A run whose last epoch is evaluated; accuracy/val_accuracy are the final values."""
    n = len(val_loss)
    return {"seed": seed, "evaluated_epoch": n,
            "history": {"loss": [1.0] * n, "val_loss": list(val_loss),
                        "accuracy": [0.1] * (n - 1) + [accuracy], "val_accuracy": [0.1] * (n - 1) + [val_accuracy]}}


def arm(name, model, runs):
    return {"name": name, "model": model, "parameters": {"total": 1}, "runs": runs}


def results(base, dropout, batchnorm, profile="full"):
    return {"profile": profile, "dataset": {"name": "CIFAR-10", "synthetic": False},
            "arms": [arm("LeNet-5", "aml-lenet5", base), arm("dropout", "aml-lenet5-dropout", dropout),
                     arm("BN", "aml-lenet5-batchnorm", batchnorm)]}


BASE = [run(s, 0.90 + s / 100, 0.60, (1.0, 0.8, 1.2)) for s in range(3)]


def test_dropout_wins_when_both_signs_agree_beyond_noise():
    dropout = [run(s, 0.62 + s / 1000, 0.60, (1.0, 0.8, 0.81 + s / 1000)) for s in range(3)]
    batchnorm = [run(s, 0.95 + s / 1000, 0.58, (1.0, 0.7, 1.3 + s / 1000)) for s in range(3)]
    text = explain.answer("dropout-vs-bn", results(BASE, dropout, batchnorm))
    assert "dropout helps more against over-fitting: both signs point to it" in text
    # gaps: dropout 0.021 mean (0.62..0.622 - 0.60), BN 0.371; shown in the table
    assert "| dropout | 0.6210 ± 0.0010 | 0.6000 ± 0.0000 | 0.0210 ± 0.0010 | 0.0110 ± 0.0010 |" in text
    assert "| BN | 0.9510 ± 0.0010 | 0.5800 ± 0.0000 | 0.3710 ± 0.0010 | 0.6010 ± 0.0010 |" in text
    assert "dropout narrows the gap of the plain base" in text and "BN widens the gap" in text
    assert "fits the training images faster than the base" in text  # BN 0.9510 > base 0.9100
    assert "3 runs (seeds) per arm" in text
    assert "switches off a random 30% of the hidden units" in text  # the rate of aml-lenet5-dropout.yaml


def test_signs_that_disagree_give_no_winner():
    dropout = [run(s, 0.62, 0.60, (1.0, 0.8, 1.4 + s / 100)) for s in range(3)]
    batchnorm = [run(s, 0.95, 0.58, (1.0, 0.7, 0.71 + s / 100)) for s in range(3)]
    verdict = explain.answer("dropout-vs-bn", results(BASE, dropout, batchnorm)).split("**Verdict.** ")[1]
    assert verdict.startswith("The two signs disagree (dropout has the smaller gap, BN the smaller rise)")
    assert "helps more against" not in verdict.split("\n")[0]


def test_one_run_states_the_direction_with_its_uncertainty():
    text = explain.answer("dropout-vs-bn", results(BASE[:1], [run(0, 0.62, 0.60, (1.0, 0.8, 0.9))],
                                                    [run(0, 0.95, 0.58, (1.0, 0.7, 1.3))], profile="quick"))
    assert "Both signs point to dropout as the stronger remedy against over-fitting in this run, but a single run " \
           "cannot tell this from run-to-run noise." in text
    assert "One run per arm" in text and "quick profile" in text


def test_overlapping_runs_are_within_noise():
    dropout = [run(s, 0.62 + s / 10, 0.60, (1.0, 0.8, 0.9 + s / 5)) for s in range(3)]
    batchnorm = [run(s, 0.70 + s / 10, 0.60, (1.0, 0.8, 1.0 + s / 5)) for s in range(3)]
    text = explain.answer("dropout-vs-bn", results(BASE, dropout, batchnorm))
    assert "Both signs point to dropout, but neither difference is larger than run-to-run noise" in text


def test_a_base_without_rise_is_said():
    flat = [run(s, 0.6, 0.6, (1.0, 0.9, 0.8)) for s in range(2)]
    text = explain.answer("dropout-vs-bn", results(flat, flat, flat))
    assert "over-fitting had barely begun" in text
    assert "the same for both to the digits shown" in text


def test_arms_of_another_base_are_refused():
    with pytest.raises(ValueError, match="no arm adds dropout layers to the reference arm 'LeNet-5'"):
        dropout_vs_bn.answer({"arms": [arm("LeNet-5", "aml-lenet5", BASE), arm("BN", "aml-lenet5-batchnorm", BASE)]})


def test_a_verdict_resting_on_the_biased_gap_alone_says_so():
    dropout = [run(s, 0.62 + s / 1000, 0.60, (1.0, 0.8, 0.9 + s / 5)) for s in range(3)]
    batchnorm = [run(s, 0.95 + s / 1000, 0.58, (1.0, 0.8, 1.0 + s / 5)) for s in range(3)]
    text = explain.answer("dropout-vs-bn", results(BASE, dropout, batchnorm))
    assert "the difference in the train-validation accuracy gap is larger than run-to-run noise; the " \
           "validation-loss rise, which has no training-mode bias, points the same way but within run-to-run " \
           "noise, so the verdict rests mainly on the gap, which that bias (see Limits) tilts towards dropout." in text
