"""Tests of the prose (coursebook.course.prose): the sentences agree with the numbers, always."""

import math
import re
import statistics
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursebook.course import history as history_frames
from coursebook.course.prose import comparison, confusion, dataset, learning_speed, numbers, overfitting

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
NUMBER = re.compile(r"-?\d+\.\d+")
floats = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
runs = st.lists(floats, min_size=1, max_size=6)


def rounded(value: float, digits: int = 4) -> Decimal:
    """Exact half-even rounding of the float's binary value, independent of round()."""
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)


def words(sentence: str) -> set[str]:
    return set(re.findall(r"[a-z]+", sentence.lower()))


def history(curves: dict[str, list[float]], variant: str = "model", seed: int = 0) -> pd.DataFrame:
    """A tidy history frame from {metric: values per epoch}."""
    rows = [(variant, seed, epoch, metric, value)
            for metric, values in curves.items() for epoch, value in enumerate(values, start=1)]
    return pd.DataFrame(rows, columns=list(history_frames.HISTORY_COLUMNS))


# --- compare: direction words ------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(a=floats, b=floats)
def test_direction_word_matches_rounded_single_values(a, b):
    result = comparison.compare("score", "first", a, "second", b)
    found = words(result.sentence)
    assert ("higher" in found) == (rounded(a) > rounded(b))
    assert ("lower" in found) == (rounded(a) < rounded(b))
    assert ("same" in found) == (rounded(a) == rounded(b))


@settings(max_examples=200, deadline=None)
@given(a=runs, b=runs)
def test_direction_word_matches_rounded_means_of_runs(a, b):
    result = comparison.compare("score", "first", a, "second", b)
    mean_a, mean_b = rounded(statistics.fmean(a)), rounded(statistics.fmean(b))
    found = words(result.sentence)
    assert ("higher" in found) == (mean_a > mean_b)
    assert ("lower" in found) == (mean_a < mean_b)
    assert ("same" in found) == (mean_a == mean_b)


SHOWN = re.compile(r"^first \((-?\d+(?:\.\d+)?)\) .*?second \((-?\d+(?:\.\d+)?)\)(?:, by (\d+(?:\.\d+)?))?")


@settings(max_examples=200, deadline=None)
@given(a=floats, b=floats, digits=st.integers(0, 6))
def test_shown_numbers_agree_with_word_and_difference(a, b, digits):
    sentence = comparison.compare("score", "first", a, "second", b, digits=digits).sentence
    match = SHOWN.match(sentence)
    assert match, sentence
    shown_a, shown_b = Decimal(match[1]), Decimal(match[2])
    assert shown_a == rounded(a, digits) and shown_b == rounded(b, digits)
    assert ("." in match[1]) == (digits > 0)
    if shown_a == shown_b:
        assert match[3] is None and f"the same score to {digits} digits" in sentence
    else:
        assert ("higher" in words(sentence)) == (shown_a > shown_b)
        assert Decimal(match[3]) == abs(shown_a - shown_b)  # "by <difference>"


@settings(max_examples=200, deadline=None)
@given(a=floats, b=floats, higher_is_better=st.booleans())
def test_better_or_worse_follows_direction_and_goal(a, b, higher_is_better):
    result = comparison.compare("score", "first", a, "second", b, higher_is_better=higher_is_better)
    found = words(result.sentence)
    if rounded(a) == rounded(b):
        assert not {"better", "worse"} & found
    else:
        assert ("better" in found) == ((rounded(a) > rounded(b)) == higher_is_better)
        assert ("worse" in found) == ((rounded(a) > rounded(b)) != higher_is_better)


def test_reference_accuracy_that_went_up_is_higher():
    result = comparison.compare("validation accuracy", "with extra block", 0.7336, "original", 0.7231,
                              higher_is_better=True)
    assert result.direction == "higher" and result.judgement == "better"
    assert "lower" not in words(result.sentence)
    assert result.difference == pytest.approx(0.0105)


def test_reference_loss_that_went_down_is_lower_with_relative_change():
    result = comparison.compare("validation loss", "with extra block", 1.3954, "original", 1.4876)
    assert result.direction == "lower"
    assert "higher" not in words(result.sentence)
    assert result.relative == pytest.approx(-(1.4876 - 1.3954) / 1.4876)
    assert "6.2% relative" in result.sentence


def test_same_to_digits_names_the_digits():
    result = comparison.compare("accuracy", "first", 0.72311, "second", 0.72309, digits=4)
    assert "the same validation" not in result.sentence
    assert "the same accuracy to 4 digits" in result.sentence
    assert result.exceeds_noise is False


# --- compare: run-to-run noise -------------------------------------------------------------


def test_single_runs_say_they_cannot_tell():
    result = comparison.compare("accuracy", "first", 0.74, "second", 0.73)
    assert result.exceeds_noise is None and result.p_value is None
    assert "cannot tell" in result.sentence


def test_one_single_run_is_named():
    result = comparison.compare("accuracy", "first", [0.74, 0.75], "second", 0.73)
    assert result.exceeds_noise is None
    assert "single run of second" in result.sentence


def test_clearly_separated_groups_exceed_noise():
    result = comparison.compare("accuracy", "first", [0.80, 0.81, 0.79], "second", [0.70, 0.71, 0.69])
    assert result.exceeds_noise is True
    assert "larger than run-to-run noise" in result.sentence


def test_overlapping_groups_are_within_noise():
    result = comparison.compare("accuracy", "first", [0.74, 0.70, 0.76], "second", [0.72, 0.75, 0.71])
    assert result.exceeds_noise is False
    assert "within run-to-run noise" in result.sentence


def test_runs_without_any_spread_claim_nothing():
    result = comparison.compare("accuracy", "first", [0.8, 0.8], "second", [0.7, 0.7])
    assert result.exceeds_noise is None and result.p_value is None
    assert "Welch's t-test is undefined" in result.sentence and "larger than" not in result.sentence


def test_pooled_sd_rounding_to_zero_still_runs_the_welch_test():
    # pooled sd 4.1e-05 shows as 0.0000, the shown difference 0.0001 exceeds it, but p is large
    a, b = [0.70004, 0.70012], [0.70000, 0.70002]
    result = comparison.compare("accuracy", "first", a, "second", b)
    from scipy.stats import ttest_ind

    expected = ttest_ind(a, b, equal_var=False).pvalue
    assert expected > 0.05 and result.p_value == float(f"{expected:.3g}")
    assert result.exceeds_noise is False and "larger than" not in result.sentence
    assert "within run-to-run noise" in result.sentence and "although the difference 0.0001 exceeds" in result.sentence


def welch_closed_form(a: list[float], b: list[float]) -> float:
    """Two-sided p of Welch's t-test from its formula: t, the Welch-Satterthwaite df and the
    Student t tail as a regularized incomplete beta function, I_{df/(df+t^2)}(df/2, 1/2)."""
    from scipy.special import betainc

    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(betainc(df / 2, 0.5, df / (df + t * t)))


def test_welch_p_value_matches_the_formula():
    a, b = [0.80, 0.82, 0.79, 0.81], [0.78, 0.70, 0.74]
    expected = welch_closed_form(a, b)
    assert comparison.welch_p_value(np.array(a), np.array(b)) == pytest.approx(expected, rel=1e-9)
    result = comparison.compare("accuracy", "first", a, "second", b)
    assert result.p_value == float(f"{expected:.3g}")  # p as shown, 3 significant digits
    assert result.sd_a == pytest.approx(statistics.stdev(a), rel=1e-12)


group = st.lists(st.floats(0, 1), min_size=2, max_size=6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's precision note on near-equal runs
@settings(max_examples=300, deadline=None)
@given(a=group, b=group)
def test_beyond_noise_is_claimed_only_with_the_welch_test_computed(a, b):
    result = comparison.compare("accuracy", "first", a, "second", b)
    claimed = "larger than run-to-run noise" in result.sentence
    # without any spread (three or more identical runs per arm) the difference is in every run, untested
    assert claimed == (result.exceeds_noise is True and result.p_value is not None)
    if result.exceeds_noise and result.p_value is None:
        assert "appeared in every run" in result.sentence and min(len(a), len(b)) >= 3
    if claimed:
        from scipy.stats import ttest_ind

        assert result.p_value is not None and result.p_value < 0.05
        assert float(f"{ttest_ind(a, b, equal_var=False).pvalue:.3g}") == result.p_value
    if result.exceeds_noise is False and result.p_value is not None:
        pooled = rounded(math.sqrt((statistics.variance(a) + statistics.variance(b)) / 2))
        beyond = abs(rounded(statistics.fmean(a)) - rounded(statistics.fmean(b))) > pooled
        # rejecting the claim while one criterion passes must say "although", never read as a contradiction
        assert ("although" in result.sentence) == (result.p_value < 0.05 or beyond), result.sentence


def test_significant_but_tiny_difference_is_not_called_real():
    # Many runs make p small although the difference is below the pooled sd.
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.70, 0.05, 4000), rng.normal(0.705, 0.05, 4000)
    result = comparison.compare("accuracy", "first", a, "second", b)
    assert result.p_value < 0.05
    assert result.exceeds_noise is False


def test_bad_values_are_rejected_by_name():
    with pytest.raises(ValueError, match="second"):
        comparison.compare("accuracy", "first", 0.7, "second", [])
    with pytest.raises(ValueError, match="first"):
        comparison.compare("accuracy", "first", [0.7, float("nan")], "second", 0.7)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_rejected_naming_the_metric(bad):
    with pytest.raises(ValueError, match="'validation loss'.*not finite"):
        comparison.compare("validation loss", "first", [0.13, bad], "second", 0.2)
    with pytest.raises(ValueError, match="'val_loss' of 'model' is not finite.*seed 1, epoch 2"):
        overfitting.overfitting_diagnosis(seeds([{"val_loss": [1.0, 0.9]}, {"val_loss": [1.0, bad]}]))
    with pytest.raises(ValueError, match="'loss' of 'model' is not finite.*seed 0, epoch 1"):
        overfitting.overfitting_diagnosis(history({"val_loss": [1.0, 0.9], "loss": [bad, 0.5]}))
    with pytest.raises(ValueError, match="'accuracy' of 'model' is not finite"):
        learning_speed.learning_speed(history({"accuracy": [0.3, bad]}), 0.5)
    with pytest.raises(ValueError, match="'seconds' of 'model' is not finite"):
        learning_speed.learning_speed(history({"accuracy": [0.3, 0.6], "seconds": [5, bad]}), 0.5)


# --- over-fitting --------------------------------------------------------------------------


def seeds(curves_per_seed: list[dict[str, list[float]]], variant: str = "model") -> pd.DataFrame:
    """One history frame with seed i holding curves_per_seed[i]."""
    return pd.concat([history(curves, variant, seed) for seed, curves in enumerate(curves_per_seed)])


def test_overfitting_from_the_known_minimum_in_every_seed():
    epochs = np.arange(1, 36)
    base = 0.8 + (epochs - 7) ** 2 / 100  # minimum 0.8 at epoch 7, 8.64 at epoch 35
    frame = seeds([{"val_loss": base + 0.01 * seed, "loss": 1.0 / epochs,
                    "accuracy": 0.5 + epochs / 100, "val_accuracy": np.full(35, 0.6)} for seed in range(3)])
    result = overfitting.overfitting_diagnosis(frame)
    assert (result.best_epoch, result.n_epochs, result.runs) == (7, 35, 3)
    assert result.rise == pytest.approx((35 - 7) ** 2 / 100)
    assert result.final_val_loss_sd == pytest.approx(statistics.stdev([8.64, 8.65, 8.66]))
    assert result.runs_rising == 3
    assert result.overfits is True and "overfits from epoch 7" in result.sentence
    assert "in all 3 runs" in result.sentence
    assert result.accuracy_gap_best == pytest.approx(0.57 - 0.6)
    assert result.accuracy_gap_final == pytest.approx(0.85 - 0.6)
    assert result.loss_gap_final == pytest.approx(8.65 - 1 / 35, abs=1e-4)
    assert "grows" in result.sentence


def test_a_single_run_never_gets_the_overfitting_verdict():
    epochs = np.arange(1, 36)
    frame = history({"val_loss": 0.8 + (epochs - 7) ** 2 / 100})  # a large rise, but one run
    result = overfitting.overfitting_diagnosis(frame)
    assert result.runs == 1 and result.final_val_loss_sd is None
    assert result.overfits is None
    assert "overfits" not in result.sentence
    assert "single run cannot tell" in result.sentence
    assert "7.8400 higher" in result.sentence
    chosen = overfitting.overfitting_diagnosis(seeds([{"val_loss": [1.0, 0.5, 0.9]}] * 2), seed=1)
    assert chosen.runs == 1 and chosen.overfits is None and "single run cannot tell" in chosen.sentence


def test_rise_within_the_spread_of_final_losses_is_not_overfitting():
    # mean curve 1.0, 0.7, 0.95: rise 0.25 after epoch 2; both seeds rise, but the final
    # losses 0.6 and 1.3 differ by more (sd 0.4950).
    frame = seeds([{"val_loss": [1.0, 0.5, 0.6]}, {"val_loss": [1.0, 0.9, 1.3]}])
    result = overfitting.overfitting_diagnosis(frame)
    assert result.best_epoch == 2 and result.rise == pytest.approx(0.25)
    assert result.final_val_loss_sd == pytest.approx(statistics.stdev([0.6, 1.3]), abs=1e-4)
    assert result.runs_rising == 2
    assert result.overfits is False and "overfits" not in result.sentence
    assert "does not exceed" in result.sentence and "no clear over-fitting" in result.sentence


def test_rise_that_is_not_in_every_seed_is_not_overfitting():
    # mean curve 1.0, 0.725, 0.9: rise 0.175 > sd 0 of the finals, but seed 1 falls after epoch 2.
    frame = seeds([{"val_loss": [1.0, 0.5, 0.9]}, {"val_loss": [1.0, 0.95, 0.9]}])
    result = overfitting.overfitting_diagnosis(frame)
    assert result.best_epoch == 2 and result.final_val_loss_sd == 0
    assert result.runs_rising == 1
    assert result.overfits is False and "overfits" not in result.sentence
    assert "Although the rise exceeds" in result.sentence and "in only 1 of 2 runs" in result.sentence


def test_falling_validation_loss_does_not_overfit():
    frame = history({"val_loss": [1.2, 1.0, 0.9, 0.85], "loss": [1.3, 1.0, 0.8, 0.7]})
    result = overfitting.overfitting_diagnosis(frame)
    assert result.best_epoch == 4 and result.overfits is False
    assert "overfits" not in result.sentence
    assert result.accuracy_gap_best is None


def test_overfitting_averages_seeds_unless_one_is_chosen():
    frame = seeds([{"val_loss": [1.0, 0.5, 0.9, 1.0]}, {"val_loss": [1.0, 0.9, 0.6, 1.0]}])
    # mean curve: 1.0, 0.7, 0.75, 1.0 -> minimum at epoch 2
    assert overfitting.overfitting_diagnosis(frame).best_epoch == 2
    assert overfitting.overfitting_diagnosis(frame, seed=1).best_epoch == 3
    assert "mean of 2 runs" in overfitting.overfitting_diagnosis(frame).sentence


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.01, 10, allow_nan=False), min_size=1, max_size=12))
def test_single_run_rise_is_shown_but_never_judged(val_loss):
    result = overfitting.overfitting_diagnosis(history({"val_loss": val_loss}))
    shown_curve = [rounded(v) for v in val_loss]
    assert result.best_epoch == shown_curve.index(min(shown_curve)) + 1  # first lowest value as shown
    rises = shown_curve[-1] > min(shown_curve)
    assert result.overfits is (None if rises or len(val_loss) == 1 else False)
    assert ("cannot tell" in result.sentence) == rises
    assert "overfits" not in result.sentence
    if "still falling" in result.sentence:  # only after a fall, never after a single epoch
        assert len(val_loss) >= 2 and shown_curve[-1] < shown_curve[-2]


def test_a_single_epoch_says_it_cannot_show_over_fitting():
    result = overfitting.overfitting_diagnosis(history({"val_loss": [0.9]}))
    assert result.overfits is None and "still falling" not in result.sentence
    assert "after its only epoch" in result.sentence


curves_of_runs = st.integers(2, 4).flatmap(lambda n_epochs: st.lists(
    st.lists(st.floats(0.01, 10, allow_nan=False), min_size=n_epochs, max_size=n_epochs),
    min_size=2, max_size=4))


@settings(max_examples=150, deadline=None)
@given(curves_of_runs)
def test_several_runs_overfit_iff_rise_beats_spread_in_every_run(curves):
    result = overfitting.overfitting_diagnosis(seeds([{"val_loss": curve} for curve in curves]))
    table = np.array(curves)  # runs x epochs
    shown_mean = [rounded(v) for v in table.mean(axis=0)]
    best = shown_mean.index(min(shown_mean))
    rise = rounded(shown_mean[-1] - shown_mean[best])
    spread = rounded(statistics.stdev([float(rounded(v)) for v in table[:, -1]]))
    every = all(rounded(run[-1]) > rounded(run[best]) for run in table)
    assert result.best_epoch == best + 1
    assert result.overfits == (best < len(shown_mean) - 1 and rise > spread and every)
    assert ("overfits from epoch" in result.sentence) == result.overfits
    if rise > 0 and not result.overfits:  # the clause names the criterion that failed, without contradiction
        assert "no clear over-fitting" in result.sentence
        assert ("does not exceed" in result.sentence) == (rise <= spread)
        assert ("Although the rise exceeds" in result.sentence) == (rise > spread)


def test_runs_of_different_lengths_are_judged_on_the_epochs_all_reached():
    # early stopping ended seed 1 after 3 epochs; seed 0 ran 5
    frame = seeds([{"val_loss": [1.0, 0.6, 0.5, 0.7, 0.9]}, {"val_loss": [1.0, 0.8, 0.7]}])
    result = overfitting.overfitting_diagnosis(frame)
    assert result.n_epochs == 3 and result.best_epoch == 3  # mean curve 1.0, 0.7, 0.6 over epochs 1-3
    assert "mean of 2 runs over the 3 epochs every run reached; the runs ran 5 and 3 epochs" in result.sentence
    assert "still falling" in result.sentence


def test_several_variants_need_a_choice():
    frame = pd.concat([history({"val_loss": [1.0]}, "a"), history({"val_loss": [1.0]}, "b")])
    with pytest.raises(ValueError, match="variant"):
        overfitting.overfitting_diagnosis(frame)
    with pytest.raises(ValueError, match="'c'"):
        overfitting.overfitting_diagnosis(frame, variant="c")
    with pytest.raises(ValueError, match="val_loss"):
        overfitting.overfitting_diagnosis(history({"loss": [1.0]}))


# --- learning speed ------------------------------------------------------------------------


def test_learning_speed_reads_epoch_one_threshold_and_seconds():
    frame = pd.concat([
        history({"accuracy": [0.30, 0.50, 0.62, 0.70], "seconds": [10, 4, 4, 4]}, "plain", 0),
        history({"accuracy": [0.34, 0.52, 0.60, 0.72], "seconds": [12, 6, 6, 6]}, "plain", 1),
    ])
    speed = learning_speed.learning_speed(frame, threshold=0.6)
    assert speed.first_epoch == pytest.approx((0.30, 0.34))
    assert speed.epochs_to_threshold == 3  # mean curve 0.32, 0.51, 0.61, 0.71
    # each run's median over the epochs after the first (the first compiles)
    assert speed.seconds_per_epoch == (statistics.median([4, 4, 4]), statistics.median([6, 6, 6]))
    assert "0.6 at epoch 3 on the mean curve" in speed.sentence
    assert "s per epoch (median after epoch 1)" in speed.sentence


def test_learning_speed_not_reached():
    speed = learning_speed.learning_speed(history({"accuracy": [0.2, 0.3]}), threshold=0.9)
    assert speed.epochs_to_threshold is None and speed.seconds_per_epoch is None
    assert "does not reach 0.9 within 2 epochs" in speed.sentence


def test_compare_learning_speed_direction_words():
    fast = learning_speed.learning_speed(history({"accuracy": [0.48, 0.65], "seconds": [6, 6]}, "bn"), 0.6)
    slow = learning_speed.learning_speed(history({"accuracy": [0.33, 0.50], "seconds": [5, 5]}, "plain"), 0.6)
    text = learning_speed.compare_learning_speed(fast, slow)
    assert "bn (0.4800) has a higher, i.e. better, accuracy after epoch 1" in text
    assert "Only bn reaches accuracy 0.6" in text
    assert "bn (6.00) has a higher, i.e. worse, time per epoch" in text
    assert "20.0% relative" in text
    later = learning_speed.learning_speed(history({"accuracy": [0.33, 0.50, 0.61]}, "plain"), 0.6)
    earlier = learning_speed.learning_speed(history({"accuracy": [0.48, 0.65]}, "bn"), 0.6)
    assert "plain needs more epochs than bn to reach accuracy 0.6 (3 vs 2)" in (
        learning_speed.compare_learning_speed(later, earlier))
    with pytest.raises(ValueError, match="cannot compare"):
        learning_speed.compare_learning_speed(fast, learning_speed.learning_speed(history({"accuracy": [0.5]}), 0.7))


def test_single_run_epochs_to_threshold_carry_the_noise_caveat():
    later = learning_speed.learning_speed(history({"accuracy": [0.33, 0.50, 0.61]}, "plain"), 0.6)
    earlier = learning_speed.learning_speed(history({"accuracy": [0.48, 0.65]}, "bn"), 0.6)
    assert later.epochs_per_run == (3,) and earlier.epochs_per_run == (2,)
    text = learning_speed.compare_learning_speed(later, earlier)
    assert ("plain needs more epochs than bn to reach accuracy 0.6 (3 vs 2). "
            "A single run per variant cannot tell whether this difference is real") in text
    never = learning_speed.learning_speed(history({"accuracy": [0.33, 0.50]}, "plain"), 0.6)
    assert "does not within 2 epochs. A single run per variant cannot tell" in (
        learning_speed.compare_learning_speed(earlier, never))
    tie = learning_speed.learning_speed(history({"accuracy": [0.5, 0.7]}, "other"), 0.6)
    assert learning_speed.compare_learning_speed(earlier, tie).endswith("both reach accuracy 0.6 at epoch 2.")


def speed(variant: str, curves: list[list[float]], threshold: float = 0.6) -> learning_speed.LearningSpeed:
    return learning_speed.learning_speed(seeds([{"accuracy": c} for c in curves], variant), threshold)


def test_epochs_to_threshold_per_run_and_whether_the_difference_holds_in_every_run():
    fast = speed("fast", [[0.3, 0.55, 0.7], [0.3, 0.65, 0.7], [0.4, 0.62, 0.7]])  # runs: 3, 2, 2
    slow = speed("slow", [[0.2, 0.4, 0.5, 0.61], [0.2, 0.4, 0.55, 0.65], [0.2, 0.45, 0.5, 0.7]])  # 4, 4, 4
    mixed = speed("mixed", [[0.2, 0.4, 0.5, 0.61], [0.2, 0.5, 0.58, 0.7], [0.2, 0.3, 0.65, 0.7]])  # 4, 4, 3
    assert fast.epochs_per_run == (3, 2, 2) and mixed.epochs_per_run == (4, 4, 3)
    assert (fast.epochs_to_threshold, slow.epochs_to_threshold) == (2, 4)  # means 0.6067 and 0.6533
    separated = learning_speed.compare_learning_speed(fast, slow)
    assert "On the mean curves, fast needs fewer epochs than slow to reach accuracy 0.6 (2 vs 4)" in separated
    assert "Per run, fast reaches it at epochs 3, 2, 2 and slow reaches it at epochs 4, 4, 4" in separated
    assert "every run of fast reaches it before any run of slow" in separated
    overlapping = learning_speed.compare_learning_speed(mixed, fast)
    assert "mixed needs more epochs than fast" in overlapping
    assert "the runs overlap, so this difference is within run-to-run noise" in overlapping
    unreached = speed("flat", [[0.2, 0.3], [0.2, 0.7]])  # the second run reaches it at epoch 2
    assert unreached.epochs_per_run == (None, 2) and unreached.epochs_to_threshold is None
    text = learning_speed.compare_learning_speed(fast, unreached)
    # "only" is said of the mean curves, and the per-run list beside it says which runs reached it
    assert "On the mean curves, only fast reaches accuracy 0.6 (at epoch 2); flat does not within 2 epochs" in text
    assert "Per run, fast reaches it at epochs 3, 2, 2 and flat reaches it in 1 of 2 runs (at epoch 2)" in text
    assert "not reached" not in text
    assert "the runs overlap" in text
    one = learning_speed.learning_speed(history({"accuracy": [0.5, 0.55, 0.58, 0.7]}, "one"), 0.6)
    assert "With a single run of one, this cannot tell whether the difference is real." in (
        learning_speed.compare_learning_speed(fast, one))


@settings(max_examples=60, deadline=None)
@given(first=st.lists(st.floats(0, 1), min_size=1, max_size=6),
       second=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_epochs_to_threshold_words_follow_the_epochs(first, second):
    a = learning_speed.learning_speed(history({"accuracy": first}, "first"), 0.5)
    b = learning_speed.learning_speed(history({"accuracy": second}, "second"), 0.5)
    reach_a = next((epoch for epoch, v in enumerate(first, start=1) if v >= 0.5), None)
    reach_b = next((epoch for epoch, v in enumerate(second, start=1) if v >= 0.5), None)
    assert (a.epochs_to_threshold, b.epochs_to_threshold) == (reach_a, reach_b)
    found = words(learning_speed.compare_learning_speed(a, b))
    both = reach_a is not None and reach_b is not None
    assert ("fewer" in found) == (both and reach_a < reach_b)
    assert ("more" in found) == (both and reach_a > reach_b)
    assert ("only" in found) == ((reach_a is None) != (reach_b is None))
    assert ("neither" in found) == (reach_a is None and reach_b is None)


# --- confusion matrices --------------------------------------------------------------------


def test_dog_and_cat_are_named_by_their_true_indices():
    cm = np.diag(np.full(10, 800))
    cm[5, 3], cm[3, 5], cm[4, 6] = 199, 120, 60  # dog->cat, cat->dog, deer->frog
    result = confusion.most_confused_pairs(cm, CIFAR10, k=2)
    assert list(result.table["true"]) == ["dog", "cat"]
    assert list(result.table["predicted"]) == ["cat", "dog"]
    assert list(result.table["true_label"]) == [5, 3]
    assert result.table["share"][0] == pytest.approx(199 / (800 + 199))
    assert result.sentence.startswith("The most frequent confusions are dog predicted as cat (199 images, 19.9%")
    assert "deer" not in result.sentence and "class 4" not in result.sentence


def test_no_confusion_and_bad_matrices():
    assert "no confusions" in confusion.most_confused_pairs(np.eye(3, dtype=int), ["a", "b", "c"]).sentence
    with pytest.raises(ValueError, match="3 class names"):
        confusion.most_confused_pairs(np.eye(2, dtype=int), ["a", "b", "c"])
    with pytest.raises(ValueError, match="square"):
        confusion.most_confused_pairs(np.ones((2, 3), dtype=int), ["a", "b"])


# --- data sets -----------------------------------------------------------------------------


def test_describe_dataset_says_colour_and_counts():
    text = dataset.describe_dataset("CIFAR-10", 40_000, 10_000, 10_000, (32, 32, 3))
    assert "40,000 training, 10,000 validation and 10,000 test" in text
    assert "colour" in text and "gray" not in text.lower() and "grey" not in text.lower()
    assert "validation" not in dataset.describe_dataset("CIFAR-10", 50_000, 0, 10_000, (3072,))


@given(height=st.integers(1, 64), width=st.integers(1, 64), channels=st.integers(0, 5))
def test_describe_dataset_follows_the_channel_count(height, width, channels):
    shape = (height, width) if channels == 0 else (height, width, channels)  # 0: no channel axis
    text = dataset.describe_dataset("data", 10, 2, 3, shape).lower()
    n_channels = channels or 1
    assert f"{height}x{width} pixels" in text
    assert ("grayscale" in text) == (n_channels == 1) and "grey" not in text
    assert ("colour" in text) == (n_channels == 3)
    assert f"{n_channels} channel{'s' if n_channels != 1 else ''}" in text


def test_epoch_counts_are_singular_for_one():
    assert numbers.epochs(1) == "1 epoch" and numbers.epochs(2) == "2 epochs"


# --- thresholds, ragged runs, evaluated epochs ---------------------------------------------


@settings(max_examples=200, deadline=None)
@given(curve=st.lists(st.floats(0, 1), min_size=1, max_size=5), threshold=st.sampled_from([0.5, 0.6, 0.55]))
def test_threshold_is_judged_on_the_value_as_shown(curve, threshold):
    speed = learning_speed.learning_speed(history({"accuracy": curve}), threshold)
    shown_first = Decimal(re.search(r"reaches accuracy (\d\.\d{4}) after epoch 1", speed.sentence)[1])
    assert shown_first == rounded(curve[0])
    # "0.5000 after epoch 1" and "0.5 at epoch 2" never appear together
    assert (speed.epochs_to_threshold == 1) == (shown_first >= Decimal(str(threshold)))
    expected = next((e for e, v in enumerate(curve, start=1) if rounded(v) >= Decimal(str(threshold))), None)
    assert speed.epochs_to_threshold == expected


def test_threshold_reached_as_shown_at_epoch_one():
    speed = learning_speed.learning_speed(history({"accuracy": [0.49996, 0.7]}), 0.5)
    assert "reaches accuracy 0.5000 after epoch 1 and 0.5 at epoch 1" in speed.sentence


def test_learning_speed_over_runs_of_different_lengths():
    frame = seeds([{"accuracy": [0.3, 0.5, 0.58, 0.7]}, {"accuracy": [0.3, 0.52]}], "short")
    speed = learning_speed.learning_speed(frame, 0.6)
    assert speed.epochs_run == (4, 2) and speed.n_epochs == 2  # the mean curve stops where a run ended
    assert speed.epochs_per_run == (4, None) and speed.epochs_to_threshold is None
    assert speed.sentence.startswith("short (mean of 2 runs over the 2 epochs every run reached; the runs ran 4 and 2 "
                                     "epochs) reaches accuracy 0.3000 after epoch 1")
    assert "on the mean curve does not reach 0.6 within 2 epochs" in speed.sentence


def test_compare_at_the_evaluated_epoch_of_every_run():
    frame = pd.concat([seeds([{"val_accuracy": [0.5, 0.7, 0.6]}, {"val_accuracy": [0.5, 0.65]}], "es"),
                       seeds([{"val_accuracy": [0.4, 0.5, 0.55]}, {"val_accuracy": [0.45, 0.5, 0.6]}], "base")])
    evaluated = {("es", 0): 2, ("es", 1): 2, ("base", 0): 3, ("base", 1): 3}
    result = comparison.compare_at_epochs(frame, "val_accuracy", "validation accuracy", "es", "base",
                                          epochs=evaluated, higher_is_better=True)
    assert (result.mean_a, result.mean_b) == (pytest.approx((0.7 + 0.65) / 2), pytest.approx((0.55 + 0.6) / 2))
    assert "validation accuracy at the evaluated epoch" in result.sentence
    last = comparison.compare_at_epochs(frame, "val_accuracy", "validation accuracy", "es", "base")
    assert last.mean_a == pytest.approx((0.6 + 0.65) / 2) and "at each run's last epoch" in last.sentence


# --- Markdown ------------------------------------------------------------------------------


def rendered_text(markdown: str) -> str:
    """The text a reader sees: Markdown rendered (with tables) and the tags stripped."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert not re.search(r"<(em|strong|table|code|a)\b", html), html
    return re.sub(r"<[^>]+>", "", html).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


name_chars = st.text(alphabet="ab_*|`[]<>#~\\ -", min_size=1, max_size=8).filter(lambda t: t.strip() == t)


@settings(max_examples=100, deadline=None)
@given(a=name_chars, b=name_chars)
def test_variant_names_are_escaped_wherever_they_enter_markdown(a, b):
    sentence = comparison.compare("score", a, [0.5, 0.6], b, [0.4, 0.45]).sentence
    text = rendered_text(sentence)
    assert text.startswith(f"{a} (") and f"than {b} (" in text
    speed_a = learning_speed.learning_speed(history({"accuracy": [0.3, 0.7]}, a), 0.6)
    speed_b = learning_speed.learning_speed(history({"accuracy": [0.3, 0.4]}, b), 0.6)
    assert f"Only {a} reaches" in rendered_text(learning_speed.compare_learning_speed(speed_a, speed_b))
    diagnosis = overfitting.overfitting_diagnosis(history({"val_loss": [1.0, 0.5, 0.7]}, a))
    assert f"Validation loss of {a} is lowest" in rendered_text(diagnosis.sentence)
    cm = np.array([[3, 1], [0, 4]])
    assert f"{a} predicted as {b}" in rendered_text(confusion.most_confused_pairs(cm, [a, b]).sentence)


# --- data sets: the test set as validation --------------------------------------------------


def test_test_images_serving_as_validation_are_counted_once():
    text = dataset.describe_dataset("CIFAR-10", 50_000, 10_000, 10_000, (32, 32, 3), validation_is_test=True)
    assert "50,000 training and 10,000 test images (the test images also serve as validation data)" in text
    assert text.count("10,000") == 1
    with pytest.raises(ValueError, match="n_val == n_test"):
        dataset.describe_dataset("CIFAR-10", 50_000, 5_000, 10_000, (32, 32, 3), validation_is_test=True)
