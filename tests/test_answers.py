"""The Answer section (coursebook.course.answers): claims checked against their results, the
answer first, each caveat once; property tests over reversed, absent, within-noise, single-run,
zero-spread and early-stopped results for every topic, and one regression test per defect class."""

from __future__ import annotations

import collections
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from coursebook.course import answers
from coursebook.course.results import Results, ResultsError
from tests import factories
from tests.factories import run


def results(*arms, **options) -> Results:
    """``arms``: (name, model, runs[, settings changes]) tuples, built by the shared factory."""
    return factories.results(*(factories.arm(name, runs, model=model, **(extra[0] if extra else {}))
                               for name, model, runs, *extra in arms), **options)


TOPIC_MODELS = {
    "none": ("e4742-original", "e4742-extra-block"),
    "batch-norm": ("e4742-original", "e4742-batchnorm"),
    "depth": ("q6-simple-cnn", "q6-deeper-gap"),
    "augmentation": ("a12-baseline", "a12-baseline"),
    "dropout-vs-bn": ("aml-lenet5", "aml-lenet5-dropout", "aml-lenet5-batchnorm"),
}
SINGLE_TOPICS = ("baseline", "early-stopping", "bn-dropout")


# --------------------------------------------------------------------------- page checks


def page_problems(text: str) -> list[str]:
    """What a grader would reject in an Answer section."""
    problems = []
    if ":class: answer-summary" not in text:
        problems.append("no answer-summary block")
    found = answers.sentences(text)
    counts = collections.Counter(answers.template(s) for s in found)
    problems += [f"said {n} times: {t}" for t, n in counts.items() if n > 2]
    problems += [f"lower-case start: {s}" for s in found if s[:1].islower()]
    words = len(re.sub(r"[|`*#:-]", " ", text).split())
    if words >= 600:
        problems.append(f"{words} words")
    for bad in ("-0.0000", "\\\\", "(1 images", "to 1 digits", "(0.0% relative)", "nan", "run(s)"):
        if bad in text:
            problems.append(f"contains {bad!r}")
    return problems


def values(mean, spread, n, rng):
    return [float(np.clip(mean + spread * rng.standard_normal(), 0.01, 0.99)) for _ in range(n)]


@st.composite
def comparison_results(draw):
    topic = draw(st.sampled_from(sorted(TOPIC_MODELS)))
    models = TOPIC_MODELS[topic]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    base = draw(st.floats(0.2, 0.8))
    arms = []
    for index, model in enumerate(models):
        n = draw(st.integers(1, 4))
        effect = 0.0 if index == 0 else draw(st.sampled_from([0.0, 0.001, -0.02, 0.05, -0.2, 0.3]))
        spread = draw(st.sampled_from([0.0, 0.001, 0.02, 0.1]))
        vals = values(base + effect, spread, n, rng)
        trains = values(min(0.99, base + 0.1 + effect / 2), spread, n, rng)
        stopped = draw(st.integers(2, 4))
        runs = [run(s, train=t, val=v, stopped=stopped, evaluated=draw(st.integers(1, stopped)),
                    seconds=1.0 + index, learned=draw(st.sampled_from([True, True, True, False])))
                for s, (v, t) in enumerate(zip(vals, trains))]
        extra = {"augmentation": [{"flip": {"mode": "horizontal"}}]} if topic == "augmentation" and index else {}
        arms.append((["reference arm", "other arm", "third arm"][index], model, runs, extra))
    return topic, results(*arms)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comparison_results())
def test_no_rendered_sentence_contradicts_its_claim(case):
    topic, made = case
    built = (answers.comparison(made, topic, 0.5))
    text = built.markdown()
    assert not page_problems(text), (page_problems(text), text)
    for claim in built.claims:
        claim.check(made)
        gap = answers.average(claim.arm_values) - answers.average(claim.reference_values)
        sentence = claim.sentence()
        if claim.direction == "higher":
            assert gap > 0 and " was higher" in sentence
        elif claim.direction == "lower":
            assert gap < 0 and " was lower" in sentence
        else:
            assert "the same" in sentence
        if "beyond run-to-run noise" in sentence:
            assert claim.holds and claim.p_value < answers.ALPHA and abs(claim.effect) > 1
        if "noise" in claim.cell() and "within" in claim.cell():
            assert abs(claim.effect) < 2  # never call a difference of many spreads noise
        if not claim.judged and claim.direction != "same":
            assert "noise" not in sentence and "not tested" in claim.cell()
    if "**Why.**" in text and topic in ("batch-norm", "augmentation", "dropout-vs-bn"):
        assert any(c.holds for c in built.claims)
    summary = " ".join(built.summary)
    if topic == "depth" and "More depth" in summary:  # the direct answer follows its claims
        by = {c.metric: c for c in built.claims}
        accuracy, training = by["val_accuracy"], by["train_accuracy"]
        assert ("More depth helped" in summary) == (accuracy.better is True and accuracy.holds)
        assert ("More depth did not help" in summary) == (accuracy.better is not True)
        if "made optimization harder" in summary:
            assert training.direction == "lower" and training.verdict not in ("within noise", "no difference")
            assert (", so the extra depth" in summary) == training.holds


@st.composite
def single_results(draw):
    topic = draw(st.sampled_from(SINGLE_TOPICS))
    monitor = draw(st.sampled_from(["loss", "accuracy", "val_loss", "val_accuracy"]))
    patience = draw(st.integers(1, 3))
    how = draw(st.sampled_from(["early", "checkpoint", "none"]))
    extra = ({"early_stopping": {"monitor": monitor, "patience": patience, "min_delta": 0.0,
                                 "restore_best_weights": True, "mode": "min" if "loss" in monitor else "max"}}
             if how == "early" else {"checkpoint": {"monitor": "val_loss", "mode": "min"}} if how == "checkpoint"
             else {})
    n = draw(st.integers(1, 4))
    runs_ = []
    for seed in range(n):
        stopped = draw(st.integers(2, 4)) if how == "early" else 4
        losses = draw(st.lists(st.floats(0.3, 2.5), min_size=stopped, max_size=stopped))
        runs_.append(run(seed, train=draw(st.floats(0.1, 0.99)), val=draw(st.floats(0.1, 0.9)), stopped=stopped,
                         evaluated=draw(st.integers(1, stopped)), val_losses=losses))
    return topic, how, extra, results(("only arm", "q6-simple-cnn", runs_, extra))


@settings(max_examples=40, deadline=None)
@given(single_results())
def test_single_arm_answers_say_only_what_the_runs_show(case):
    topic, how, extra, made = case
    text = answers.answer(made, topic, 0.5)
    assert not page_problems(text), (page_problems(text), text)
    arm = made.arms[0]
    early = [r for r in arm.runs if arm.stopped_early(r)]
    if not early:
        assert "Training stopped at epoch" not in text and "ended a run once" not in text
    if how == "early":
        assert f"the best {extra['early_stopping']['monitor']}" in text
        assert "lowest validation loss" not in text or extra["early_stopping"]["monitor"] == "val_loss"
    fit = answers.fit(arm)
    if fit.gap >= answers.GAP_OVERFIT:
        assert "Under-fitting for" not in text  # a large gap is never under-fitting


# --------------------------------------------------------------------------- one test per defect class


def test_zero_spread_runs_are_the_same_in_every_run_not_p_6e_29():
    made = results(("a", "e4742-original", [run(s, val=0.78) for s in range(3)]),
                   ("b", "e4742-extra-block", [run(s, val=0.79) for s in range(3)]))
    claim = answers.claim(made, "b", "a", "val_accuracy")
    assert claim.verdict == "every run" and claim.p_value is None and claim.effect is None
    assert "same value in every run" in claim.sentence() and "p =" not in claim.sentence()
    assert answers.spread([0.78] * 3) == 0.0


def test_a_large_gap_is_over_fitting_never_under_fitting():
    made = results(("m", "q6-simple-cnn", [run(s, train=0.99, val=0.60) for s in range(3)]))
    text = answers.answer(made, "baseline", 0.5)
    assert "Over-fitting for **m**" in text and "more epochs would help" not in text


def test_names_are_escaped_once_and_never_start_a_sentence_in_lower_case():
    made = results(("deep|er_2", "e4742-original", [run(s) for s in range(3)]),
                   ("with batch norm", "e4742-batchnorm", [run(s, val=0.75) for s in range(3)]))
    text = answers.answer(made, "batch-norm", 0.5)
    assert "deep\\|er\\_2" in text and "deep\\\\|er" not in text
    assert not [s for s in answers.sentences(text) if s[:1].islower()]


def test_single_runs_are_reported_with_their_values_and_the_caveat_is_said_once():
    made = results(("a", "e4742-original", [run(0, val=0.6)]), ("b", "e4742-extra-block", [run(0, val=0.7)]))
    text = answers.answer(made, "none", 0.5)
    assert text.count("cannot be judged against run-to-run noise") == 1
    assert "within run-to-run noise" not in text and "beyond run-to-run noise" not in text
    assert "not tested (1 run)" in text


def test_two_runs_show_per_run_values():
    made = results(("a", "e4742-original", [run(s, val=v) for s, v in enumerate((0.6, 0.62))]),
                   ("b", "e4742-extra-block", [run(s, val=v) for s, v in enumerate((0.7, 0.66))]))
    assert "runs 0.7000, 0.6600" in answers.answer(made, "none", 0.5)


def test_a_large_difference_with_few_runs_is_not_called_noise():
    claim = answers.Claim("val_accuracy", "validation accuracy", "b", "a", (0.70, 0.80, 0.75), (0.50, 0.62, 0.56))
    assert claim.verdict in ("beyond noise", "not confirmed") and "within" not in claim.sentence()


def test_failed_runs_are_reported_and_left_out_of_the_verdicts():
    made = results(("a", "e4742-original", [run(s, val=0.6) for s in range(3)]),
                   ("b", "e4742-batchnorm", [run(s, val=0.1, train=0.1, learned=False,
                                                 cause="train/inference mismatch") for s in range(3)]))
    text = answers.answer(made, "batch-norm", 0.5)
    assert "No run of **b** learned" in text and "train/inference mismatch" in text
    assert "No comparison is possible" in text and "Over-fitting for **b**" not in text


def test_when_the_first_arm_failed_the_arms_that_learned_are_still_compared():
    made = results(("plain", "aml-lenet5", [run(s, val=0.1, train=0.1, learned=False, cause="learning rate")
                                            for s in range(3)]),
                   ("dropout", "aml-lenet5-dropout", [run(s, val=0.60 + s / 100, train=0.70) for s in range(3)]),
                   ("batch norm", "aml-lenet5-batchnorm", [run(s, val=0.50 + s / 100, train=0.90) for s in range(3)]))
    built = answers.comparison(made, "dropout-vs-bn", 0.5)
    assert {(c.arm, c.reference) for c in built.claims} == {("batch norm", "dropout")}
    accuracy = next(c for c in built.claims if c.metric == "val_accuracy")
    assert accuracy.arm_values == (0.50, 0.51, 0.52) and accuracy.reference_values == (0.60, 0.61, 0.62)
    assert accuracy.direction == "lower"
    text = built.markdown()
    assert "**plain**" in text and "**plain** had" not in text and not page_problems(text)


@pytest.mark.parametrize("first_epoch, verb", [
    ((0.40, 0.41, 0.42), "Batch normalization sped up early learning"),
    ((0.10, 0.11, 0.12), "Batch normalization slowed early learning"),
    ((0.30, 0.20, 0.25), "Batch normalization did not change early learning"),
    ((0.27, 0.22, 0.29), "Batch normalization made no difference beyond run-to-run noise to early learning"),
])
def test_the_batch_norm_answer_opens_with_its_effect_on_learning_speed(first_epoch, verb):
    plain = [run(s, val=0.5, val_accuracies=[v, 0.45, 0.48, 0.5]) for s, v in enumerate((0.20, 0.25, 0.30))]
    normed = [run(s, val=0.5, val_accuracies=[v, 0.45, 0.48, 0.5]) for s, v in enumerate(first_epoch)]
    made = results(("original", "e4742-original", plain), ("with batch norm", "e4742-batchnorm", normed),
                   chapter="e4742-p2-batch-norm")
    built = answers.comparison(made, "batch-norm", 0.6)
    first = next(c for c in built.claims if c.metric == "first_val_accuracy")
    assert first.arm_values == first_epoch and first.reference_values == (0.20, 0.25, 0.30)
    assert built.summary[0].startswith(verb)
    assert "No model reached validation accuracy 0.60 within 4 epochs" in built.summary[1]


def test_mechanism_only_when_its_claim_holds():
    same = [run(s, val=0.6 + s / 100, train=0.7 + s / 100, train_loss=0.5 + s / 100) for s in range(3)]
    made = results(("a", "e4742-original", same), ("b", "e4742-batchnorm", same))
    assert "**Why.**" not in answers.answer(made, "batch-norm", 0.5)
    better = [run(s, val=0.7 + s / 100, train=0.9, train_loss=0.1 + s / 100) for s in range(3)]
    made = results(("a", "e4742-original", same), ("b", "e4742-batchnorm", better))
    assert "**Why.** Batch normalization standardizes" in answers.answer(made, "batch-norm", 0.5)


def test_depth_why_uses_architecture_facts_and_the_measured_training_accuracy():
    part1 = [run(s, val=0.70 + s / 200, train=0.90 + s / 200) for s in range(3)]
    deeper = [run(s, val=0.55 + s / 200, train=0.60 + s / 200) for s in range(3)]
    text = answers.answer(results(("Part 1", "q6-simple-cnn", part1), ("Part 2", "q6-deeper-gap", deeper)), "depth")
    share, small, total = answers.small_map_share("q6-deeper-gap")
    assert f"{share:.0%} of **Part 2**'s {total:,} parameters ({small:,})" in text
    assert "no normalization layers" in text and "optimization harder" in text


def test_early_stopping_that_never_triggered_is_said_so():
    stopping = {"early_stopping": {"monitor": "loss", "patience": 2, "min_delta": 0.0, "restore_best_weights": True,
                                   "mode": "min"}}
    made = results(("m", "q6-simple-cnn", [run(s, evaluated=3) for s in range(3)], stopping))
    text = answers.answer(made, "early-stopping", 0.5)
    assert "Early stopping never ended a run" in text and "the best loss" in text
    assert "validation score was the best" not in text


def test_patience_that_ran_out_at_the_last_epoch_is_not_called_improving():
    stopping = {"monitor": "val_loss", "patience": 2, "min_delta": 0.0, "restore_best_weights": True, "mode": "min"}
    made = results(("m", "q6-simple-cnn", [run(s, evaluated=2, val_losses=[1.0, 0.8, 0.9, 0.95]) for s in range(3)],
                    {"early_stopping": stopping}))
    text = answers.answer(made, "early-stopping", 0.5)
    assert answers.patience_ran_out([1.0, 0.8, 0.9, 0.95], stopping) == 4
    assert "had not improved for 2 epochs by the last epoch" in text and "never ended a run" not in text


def test_settings_the_arms_also_differ_in_are_named_as_a_limit():
    made = results(("E", "a12-baseline", [run(s) for s in range(3)]),
                   ("H", "a12-batchnorm", [run(s) for s in range(3)], {"learning_rate": 0.01, "batch_size": 64}))
    text = answers.answer(made, "batch-norm", 0.5)
    assert "learning rate default vs 0.01" in text and "batch size 32 vs 64" in text


def test_signed_and_number_never_print_minus_zero():
    assert answers.signed(-0.00001) == "0.0000" and answers.number(-0.00001) == "0.0000"
    assert answers.signed(0.01) == "+0.0100"


@pytest.mark.parametrize("change, message", [
    (lambda r: r["history"].pop("val_accuracy"), "history lacks metric 'val_accuracy'"),
    (lambda r: r["training"].update(accuracy=1.4), "accuracies lie in [0, 1]"),
])
def test_results_without_val_accuracy_or_with_impossible_accuracy_fail_on_load(change, message):
    made = results(("a", "e4742-original", [run(0)])).to_dict()
    change(made["arms"][0]["runs"][0])
    with pytest.raises(ResultsError, match=re.escape(message)):
        Results.from_dict(made)


# --------------------------------------------------------------------------- learning curve (data-size)


def curve(per_size: dict[int, list[float]], gaps: dict[int, float] | None = None) -> Results:
    gaps = gaps or {}
    return results(*[(f"{size:,} images", "q6-bn-dropout",
                      [run(s, val=v, train=min(0.99, v + gaps.get(size, 0.1))) for s, v in enumerate(vals)],
                      {"train_size": size}) for size, vals in per_size.items()])


def test_two_sizes_do_not_repeat_their_one_step():
    text = answers.learning_curve(curve({100: [0.30], 200: [0.35]}))
    assert text.count("+0.0500") == 2 and "Two sizes cannot show" in text  # once in the answer, once in the table


def test_a_curve_that_still_rises_is_not_called_flat():
    text = answers.learning_curve(curve({100: [0.30, 0.31, 0.32], 200: [0.40, 0.41, 0.42], 400: [0.60, 0.61, 0.62]}))
    assert "It still rose between the two largest sizes" in text and "flattened" not in text
    assert not page_problems(text)


def test_a_single_run_per_size_keeps_its_caveat():
    text = answers.learning_curve(curve({100: [0.30], 200: [0.35], 400: [0.36]}))
    assert "too few runs to say whether the curve is still rising" in text
    assert "cannot be judged against run-to-run noise" in text and "beyond run-to-run noise" not in text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0.1, 0.9), min_size=1, max_size=4), min_size=2, max_size=4))
def test_learning_curve_sentences_follow_their_claims(per_size_values):
    made = curve({100 * 2 ** i: vals for i, vals in enumerate(per_size_values)})
    text = answers.learning_curve(made)
    assert not page_problems(text), (page_problems(text), text)
    arms = made.arms
    last = answers.claim(made, arms[-1].name, arms[-2].name, "val_accuracy")
    assert ("It still rose" in text) == (last.holds and last.direction == "higher")


# --------------------------------------------------------------------------- pages that do not compare arms


def test_parameter_count_answer_gives_both_totals_and_why_the_dense_layer_shrinks():
    from coursebook.course.prose import parameter_counts

    text = answers.parameter_count(parameter_counts.parameter_change("e4742-original", "e4742-extra-block"))
    assert ":class: answer-summary" in text
    for part in ("364,426", "528,522", "+164,096", "295,168", "262,272 to 131,200", "2,048 values"):
        assert part in text


def test_backprop_answer_judges_training_on_the_whole_curve():
    from coursebook.course import backprop
    from coursebook.course.prose import backprop_checks

    weights, X, Y = backprop.assignment_setup(0)
    loss = backprop.loss(weights, X, Y)
    grads = backprop.backward(weights, X, Y, backprop.forward(weights, X))
    checks = backprop_checks.backprop_checks(loss, grads["b1"], backprop.gradient_table(weights, X, Y), seed=0)
    losses = np.array([loss, 0.30, loss - 0.003])
    text = answers.backprop(checks, losses, backprop_checks.training_verdict(losses, 0.125))
    assert "The gradients are right" in text and "overshot" in text and not page_problems(text)


def test_feedforward_answer_says_how_the_count_depends_on_the_image_size():
    made = results(("MLP", "aml-mlp", [run(0, train=0.6, val=0.45)]))
    text = answers.feedforward(made, "aml-mlp", [(32, 32, 3), (64, 64, 3)])
    assert "402,250 parameters for 32×32×3 images" in text and "64×64×3 images give 1,581,898" in text
    assert not page_problems(text)


def test_no_claim_about_epochs_after_the_restored_one_when_there_are_none():
    stopping = {"monitor": "val_loss", "patience": 1, "min_delta": 0.0, "restore_best_weights": True, "mode": "min"}
    made = results(("m", "q6-simple-cnn", [run(0, epochs=2, evaluated=2)], {"early_stopping": stopping, "epochs": 2}))
    text = answers.answer(made, "early-stopping", 0.5)
    assert "after the restored one" not in text and "improved in every epoch" in text and "The run trained" in text


def test_several_failed_arms_are_said_in_one_sentence():
    failed = [run(0, val=0.1, train=0.1, learned=False, cause="too few steps")]
    made = results(("a", "aml-lenet5", failed), ("b", "aml-lenet5-dropout", failed), ("c", "aml-lenet5-batchnorm", failed))
    text = answers.answer(made, "dropout-vs-bn", 0.5)
    assert text.count("too few steps") == 3 and text.count("learned (") == 1 and not page_problems(text)


def test_no_mechanism_after_single_runs_however_large_the_difference():
    made = results(("a", "e4742-original", [run(0, val=0.3, train_loss=2.0)]),
                   ("b", "e4742-batchnorm", [run(0, val=0.7, train_loss=0.2)]))
    text = answers.answer(made, "batch-norm", 0.5)
    assert "**Why.**" not in text and "moving average" not in text


def test_a_checkpoint_on_validation_accuracy_is_named_as_such():
    made = results(("E", "a12-baseline", [run(s, evaluated=2) for s in range(3)],
                    {"checkpoint": {"monitor": "val_accuracy", "mode": "max"}}))
    text = answers.answer(made, "baseline", 0.5)
    assert "the checkpoint kept the epoch with the best val_accuracy" in text and "lowest validation loss" not in text


def test_the_technique_that_helped_more_is_the_one_whose_gap_claim_holds():
    base = [run(s, val=0.60 + s / 100, train=0.95 + s / 200) for s in range(3)]
    dropout = [run(s, val=0.60 + s / 100, train=0.95 + s / 200) for s in range(3)]  # no change
    batchnorm = [run(s, val=0.65 + s / 100, train=0.70 + s / 200) for s in range(3)]  # gap narrowed
    made = results(("LeNet-5", "aml-lenet5", base), ("dropout", "aml-lenet5-dropout", dropout),
                   ("batch norm", "aml-lenet5-batchnorm", batchnorm))
    text = answers.answer(made, "dropout-vs-bn", 0.5)
    assert "Against over-fitting, **batch norm** helped more" in text
    assert "Batch normalization adds batch-to-batch noise" in text and "Dropout removes" not in text


def test_noisy_validation_curves_are_not_blamed_on_a_layer_the_page_cannot_isolate():
    made = results(("Part 4", "q6-bn-dropout", [run(s, val_accuracies=[0.3, 0.6, 0.4, 0.7]) for s in range(3)]))
    text = answers.answer(made, "bn-dropout", 0.5)
    assert "cannot attribute that movement to either" in text and "largest drop 0.2000" in text


def test_one_confused_image_is_one_image():
    from coursebook.course.prose import confusion

    matrix = np.array([[5, 1], [0, 6]])
    assert "(1 image, " in confusion.most_confused_pairs(matrix, ["cat", "dog"]).sentence


def test_one_failed_arm_is_named_once():
    made = results(("a", "q6-simple-cnn", [run(0)]),
                   ("b", "q6-deeper-gap", [run(s, val=0.1, train=0.1, learned=False, cause=f"cause {s}")
                                           for s in range(2)]))
    text = answers.answer(made, "depth", 0.5)
    assert "No run of **b** learned (in run 1, cause 0; in run 2, cause 1)" in text and text.count("**b**") == 1
