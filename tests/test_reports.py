"""Prose of the chapters that train nothing: every number and direction word checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursebook.course.prose import backprop_checks, parameter_counts


def test_parameter_change_explains_the_extra_block():
    conv4 = (3 * 3 * 128 + 1) * 256
    dense_before, dense_after = (4 * 4 * 128 + 1) * 128, (2 * 2 * 256 + 1) * 128
    change = parameter_counts.parameter_change("e4742-original", "e4742-extra-block")
    assert change.added_params == conv4 == 295_168
    assert (change.first_dense_before, change.first_dense_after) == (dense_before, dense_after)
    assert change.difference == conv4 - (dense_before - dense_after) == 164_096
    assert (change.dense_base.size, change.dense_extended.size) == (4 * 4 * 128, 2 * 2 * 256)
    for fragment in [
        "164,096 more",
        "shrinks from 262,272 to 131,200",
        "half as many inputs",
        "flattened (4, 4, 128) → 2,048 values",
        "295,168 − 131,072 (first dense layer) = +164,096",
        "Yet",
    ]:
        assert fragment in change.text


def test_parameter_change_in_reverse_says_fewer_and_grows():
    change = parameter_counts.parameter_change("e4742-extra-block", "e4742-original")
    assert change.difference == -164_096
    assert "164,096 fewer" in change.text and "grows from 131,200 to 262,272" in change.text
    assert "twice as many inputs" in change.text and "Layers only in `e4742-extra-block` hold 295,168" in change.text
    assert "extra block" not in change.text.replace("e4742-extra-block", "")  # no block that is not there


def test_parameter_change_names_global_average_pooling():
    change = parameter_counts.parameter_change("q6-simple-cnn", "q6-deeper-gap")
    assert change.dense_extended.reduction == "gap" and change.dense_extended.size == 512
    assert change.first_dense_after == (512 + 1) * 128 and change.first_dense_before == (4 * 4 * 128 + 1) * 128
    assert "globally average-pooled (1, 1, 512) → 512 values" in change.text and "0.25 times as many" in change.text


def test_parameter_change_without_a_count_difference_or_a_shared_dense_layer():
    dropout = parameter_counts.parameter_change("aml-lenet5", "aml-lenet5-dropout")
    assert dropout.difference == 0 and "the same number" in dropout.text and "dense layer" not in dropout.text
    mlp_to_cnn = parameter_counts.parameter_change("aml-mlp", "aml-lenet5")
    assert not mlp_to_cnn.dense_shared and "first dense layer" not in mlp_to_cnn.text
    assert mlp_to_cnn.difference == 62_006 - 402_250


def test_a_model_without_a_dense_layer_is_a_clear_error(tmp_path):
    spec = tmp_path / "no-dense.yaml"
    spec.write_text(
        "title: t\nsource: s\ninput_shape: [8, 8, 3]\nlayers:\n  - conv: {filters: 4, kernel: 3}\n  - gap\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="model 'no-dense' has no dense layer"):
        parameter_counts.parameter_change("e4742-original", str(spec))


def test_verified_table_has_keras_counts_equal_to_the_formula():
    table = parameter_counts.verified_table("aml-lenet5")
    assert (table["keras"] == table["params"]).all()
    assert table.loc[table["layer"] == "conv1", "keras"].item() == (5 * 5 * 3 + 1) * 6


def test_constant_predictor_loss_is_the_best_constant():
    y = np.array([0, 1, 1, 1])
    assert backprop_checks.constant_predictor_loss(y) == pytest.approx(np.var(y) / 2) == pytest.approx(0.09375)
    grid = np.linspace(0, 1, 1001)
    best = min(np.mean((c - y) ** 2) / 2 for c in grid)
    assert backprop_checks.constant_predictor_loss(y) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize(
    ("losses", "baseline", "words"),
    [
        ([0.2, 0.1], 0.15, ["lowered the loss from 0.2000 to 0.1000", "below", "by 0.0500"]),
        ([0.2, 0.18], 0.1, ["lowered the loss from 0.2000 to 0.1800", "above", "by 0.0800", "more steps would help"]),
        ([0.2, 0.3], 0.1, ["diverged", "raised the loss from 0.2000 to 0.3000", "above", "smaller learning rate"]),
        ([0.125, 0.125], 0.125, ["left the loss at 0.1250", "equal to"]),
    ],
)
def test_training_verdict_words_follow_the_numbers(losses, baseline, words):
    text = backprop_checks.training_verdict(np.array(losses), baseline)
    for word in words:
        assert word in text


def _table(fd: float, ad: float) -> pd.DataFrame:
    return pd.DataFrame({"rel_error_finite_difference": [fd / 10, fd], "rel_error_autodiff": [ad, ad / 10]})


# The assignment's stated values, typed from /work/shared/assignments/aml-hw4-q3.md (Part 1):
# "the answers should be close to L = 0.133 and dL/db1 = [0.00492, -0.000581, -0.00066]".
ASSIGNMENT_LOSS = 0.133
ASSIGNMENT_DB1 = [0.00492, -0.000581, -0.00066]
STATED = backprop_checks.Stated(0, ASSIGNMENT_LOSS, tuple(ASSIGNMENT_DB1))


def test_backprop_checks_against_the_stated_values():
    db1 = np.array([0.00492577, -0.00058023, -0.00065977])
    checks = backprop_checks.backprop_checks(0.1332476, db1, _table(2e-8, 1e-15), seed=0, stated=STATED)
    assert "agree with central finite differences (largest relative error 2.0e-08)" in checks.text
    assert "the assignment expects L ≈ 0.133 and dL/db1 ≈ [0.00492, -0.000581, -0.00066]" in checks.text
    assert "L = 0.1332 (matching to the 3 decimals stated)" in checks.text and checks.stated_loss == ASSIGNMENT_LOSS
    # entry by entry: |0.00492577 - 0.00492| / 0.00492 = 0.117%, |−0.00058023 + 0.000581| / 0.000581 = 0.133%,
    # |−0.00065977 + 0.00066| / 0.00066 = 0.0348%: the largest is 0.133%, shown as 0.13%
    gaps = [abs(x - s) / abs(s) * 100 for x, s in zip(db1, ASSIGNMENT_DB1, strict=True)]
    assert max(gaps) == pytest.approx(0.13253, abs=1e-5)
    assert "from the stated values, entry by entry, is 0.13%" in checks.text
    assert "within 0.1%" not in checks.text  # the gap is 0.133%, not within 0.1%
    assert "best read as rounded or approximate" in checks.text  # 0.13% > 0.1% as shown


def test_backprop_checks_loss_match_is_judged_to_three_decimals():
    assert (
        "not matching"
        in backprop_checks.backprop_checks(
            0.1336, np.array(ASSIGNMENT_DB1), _table(1e-9, 1e-12), seed=0, stated=STATED
        ).text
    )
    close = backprop_checks.backprop_checks(
        0.13349, np.array(ASSIGNMENT_DB1), _table(1e-9, 1e-12), seed=0, stated=STATED
    )
    assert "(matching to the 3 decimals stated)" in close.text and round(0.13349, 3) == ASSIGNMENT_LOSS
    assert "is 0%" in close.text and "rounded or approximate" not in close.text


def test_backprop_checks_flag_disagreement_and_other_seeds():
    checks = backprop_checks.backprop_checks(0.2, np.zeros(3), _table(1e-2, 1e-15), seed=3, stated=STATED)
    assert "DISAGREE with central finite differences" in checks.text and checks.stated_loss is None
    assert "seed 3, not the assignment's seed 0" in checks.text and "0.133" not in checks.text


def test_backprop_checks_never_claim_confirmation_when_a_check_fails():
    db1 = np.array(ASSIGNMENT_DB1) * 1.5  # far from the stated values
    failing = backprop_checks.backprop_checks(0.1332, db1, _table(0.5, 0.3), seed=0, stated=STATED)
    assert failing.text.count("DISAGREE") == 2 and "confirm" not in failing.text
    passing = backprop_checks.backprop_checks(0.1332, db1, _table(1e-9, 1e-12), seed=0, stated=STATED)
    assert "two independent checks confirm" in passing.text


def test_backprop_checks_without_autodiff_say_so():
    table = pd.DataFrame({"rel_error_finite_difference": [1e-9]})
    text = backprop_checks.backprop_checks(0.1332, np.array(ASSIGNMENT_DB1), table, seed=0, stated=STATED).text
    assert "automatic differentiation was not computed" in text and "nan" not in text


def test_a_too_large_learning_rate_is_called_diverged_never_more_steps():
    from coursebook.course import backprop

    weights, X, Y = backprop.assignment_setup(0)
    _, losses = backprop.train(weights, X, Y, steps=20, learning_rate=200.0)  # overshoots: the loss rises
    assert losses[-1] > losses[0]
    text = backprop_checks.training_verdict(losses, backprop_checks.constant_predictor_loss(Y))
    assert text.startswith("Gradient descent diverged: it raised the loss")
    assert "more steps would help" not in text and "smaller learning rate" in text


@pytest.mark.parametrize("losses", [[0.2, 0.1], [0.2, 0.18], [0.2, 0.3], [0.125, 0.125], [0.13, 0.13004]])
def test_more_steps_are_suggested_only_when_the_loss_fell(losses):
    text = backprop_checks.training_verdict(np.array(losses), 0.125)
    start, end = round(losses[0], 4), round(losses[-1], 4)
    assert ("more steps would help" in text) == (start > end > 0.125)
    assert ("diverged" in text) == (end > start)


def test_zero_steps_say_nothing_about_training():
    text = backprop_checks.training_verdict(np.array([0.133]), 0.125)
    assert "No gradient-descent step was run" in text and "too small" not in text


def test_a_loss_that_overshoots_mid_way_is_judged_on_the_whole_curve():
    text = backprop_checks.training_verdict(np.array([0.133, 0.30, 0.130]), 0.125)
    assert "overshot: it rose to 0.3000 at step 1" in text and "more steps would help" not in text


def test_more_steps_only_while_the_loss_still_falls():
    assert "more steps would help" not in backprop_checks.training_verdict(np.array([0.2, 0.17, 0.18]), 0.1)


def test_training_verdict_reports_divergence_instead_of_comparing_nan():
    text = backprop_checks.training_verdict(np.array([0.2, 0.5, np.nan, np.nan]), 0.125)
    assert "diverged" in text and "step 2" in text and "nan" not in text
