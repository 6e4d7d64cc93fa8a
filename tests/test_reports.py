"""Prose of the chapters that train nothing: every number and direction word checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursebook.course import reports


def test_parameter_change_explains_the_extra_block():
    conv4 = (3 * 3 * 128 + 1) * 256
    dense_before, dense_after = (4 * 4 * 128 + 1) * 128, (2 * 2 * 256 + 1) * 128
    change = reports.parameter_change("e4742-original", "e4742-extra-block")
    assert change.added_params == conv4 == 295_168
    assert (change.first_dense_before, change.first_dense_after) == (dense_before, dense_after)
    assert change.difference == conv4 - (dense_before - dense_after) == 164_096
    assert (change.dense_base.size, change.dense_extended.size) == (4 * 4 * 128, 2 * 2 * 256)
    for fragment in ["164,096 more", "shrinks from 262,272 to 131,200", "half as many inputs",
                     "flattened (4, 4, 128) → 2,048 values", "295,168 − 131,072 (first dense layer) = +164,096", "Yet"]:
        assert fragment in change.text


def test_parameter_change_in_reverse_says_fewer_and_grows():
    change = reports.parameter_change("e4742-extra-block", "e4742-original")
    assert change.difference == -164_096
    assert "164,096 fewer" in change.text and "grows from 131,200 to 262,272" in change.text
    assert "twice as many inputs" in change.text and "Layers only in `e4742-extra-block` hold 295,168" in change.text
    assert "extra block" not in change.text.replace("e4742-extra-block", "")  # no block that is not there


def test_parameter_change_names_global_average_pooling():
    change = reports.parameter_change("q6-simple-cnn", "q6-deeper-gap")
    assert change.dense_extended.reduction == "gap" and change.dense_extended.size == 512
    assert change.first_dense_after == (512 + 1) * 128 and change.first_dense_before == (4 * 4 * 128 + 1) * 128
    assert "globally average-pooled (1, 1, 512) → 512 values" in change.text and "0.25 times as many" in change.text


def test_parameter_change_without_a_count_difference_or_a_shared_dense_layer():
    dropout = reports.parameter_change("aml-lenet5", "aml-lenet5-dropout")
    assert dropout.difference == 0 and "the same number" in dropout.text and "dense layer" not in dropout.text
    mlp_to_cnn = reports.parameter_change("aml-mlp", "aml-lenet5")
    assert not mlp_to_cnn.dense_shared and "first dense layer" not in mlp_to_cnn.text
    assert mlp_to_cnn.difference == 62_006 - 402_250


def test_verified_table_has_keras_counts_equal_to_the_formula():
    table = reports.verified_table("aml-lenet5")
    assert (table["keras"] == table["params"]).all()
    assert table.loc[table["layer"] == "conv1", "keras"].item() == (5 * 5 * 3 + 1) * 6


def test_constant_predictor_loss_is_the_best_constant():
    y = np.array([0, 1, 1, 1])
    assert reports.constant_predictor_loss(y) == pytest.approx(np.var(y) / 2) == pytest.approx(0.09375)
    grid = np.linspace(0, 1, 1001)
    best = min(np.mean((c - y) ** 2) / 2 for c in grid)
    assert reports.constant_predictor_loss(y) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize(("losses", "baseline", "words"), [
    ([0.2, 0.1], 0.15, ["lowered the loss from 0.2000 to 0.1000", "below", "by 0.0500"]),
    ([0.2, 0.3], 0.1, ["raised the loss from 0.2000 to 0.3000", "above", "by 0.2000"]),
    ([0.125, 0.125], 0.125, ["left the loss at 0.1250", "equal to"]),
])
def test_training_verdict_words_follow_the_numbers(losses, baseline, words):
    text = reports.training_verdict(np.array(losses), baseline)
    for word in words:
        assert word in text


def _table(fd: float, ad: float) -> pd.DataFrame:
    return pd.DataFrame({"rel_error_finite_difference": [fd / 10, fd], "rel_error_autodiff": [ad, ad / 10]})


def test_backprop_checks_against_the_stated_values():
    db1 = np.array([0.00492577, -0.00058023, -0.00065977])
    checks = reports.backprop_checks(0.1332476, db1, _table(2e-8, 1e-15), seed=0)
    assert "agree with central finite differences (largest relative error 2.0e-08)" in checks.text
    assert "L = 0.1332 (matching to the three decimals stated)" in checks.text
    gap = np.max(np.abs(db1 - reports.STATED_DB1) / np.abs(reports.STATED_DB1))
    assert f"within {gap:.1%} of the stated values" in checks.text


def test_backprop_checks_flag_disagreement_and_other_seeds():
    checks = reports.backprop_checks(0.2, np.zeros(3), _table(1e-2, 1e-15), seed=3)
    assert "DISAGREE with central finite differences" in checks.text
    assert "seed 3, not the assignment's seed 0" in checks.text and "0.133" not in checks.text


def test_backprop_checks_never_claim_confirmation_when_a_check_fails():
    db1 = reports.STATED_DB1 * 1.5  # far from the stated values
    failing = reports.backprop_checks(0.1332, db1, _table(0.5, 0.3), seed=0)
    assert failing.text.count("DISAGREE") == 2 and "confirm" not in failing.text
    passing = reports.backprop_checks(0.1332, db1, _table(1e-9, 1e-12), seed=0)
    assert "two independent checks confirm" in passing.text


def test_backprop_checks_without_autodiff_say_so():
    table = pd.DataFrame({"rel_error_finite_difference": [1e-9]})
    text = reports.backprop_checks(0.1332, reports.STATED_DB1, table, seed=0).text
    assert "automatic differentiation was not computed" in text and "nan" not in text


def test_training_verdict_reports_divergence_instead_of_comparing_nan():
    text = reports.training_verdict(np.array([0.2, 0.5, np.nan, np.nan]), 0.125)
    assert "diverged" in text and "step 2" in text and "nan" not in text
