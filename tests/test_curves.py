"""Curve facts (coursebook.course.curves) and uncertainty (coursebook.course.uncertainty), on
hand-built histories whose answers are known: minimum and what follows, equal-epoch differences,
epochs to a mark, total time, where parameters sit, fit labels, sampling errors and rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from coursebook.course import curves, uncertainty


def test_a_curve_that_bottoms_and_climbs_is_rising_from_its_minimum():
    shape = curves.loss_shape([1.2, 1.0, 0.9, 0.95, 1.1, 1.3])
    assert (shape.best_epoch, shape.best, shape.last, shape.state) == (3, 0.9, 1.3, curves.RISING)
    assert shape.rise == pytest.approx(0.4)


def test_a_curve_whose_last_epoch_is_lowest_is_still_falling():
    assert curves.loss_shape([2.0, 1.0, 1.5, 0.9]).state == curves.FALLING
    assert curves.loss_shape([1.0]).state == curves.FALLING


def test_a_curve_that_wobbles_at_its_floor_is_flat():
    # minimum at epoch 4 (0.800), the end 0.805 is 0.6% above it: below the 2% floor of a rise
    shape = curves.loss_shape([1.5, 1.1, 0.9, 0.800, 0.81, 0.805])
    assert shape.state == curves.FLAT and shape.best_epoch == 4


def test_noise_is_zero_on_a_straight_line_and_grows_with_alternation():
    assert curves.noise([1.0, 0.9, 0.8, 0.7]) == pytest.approx(0.0)
    # ±0.1 alternation: second differences ±0.4, MAD 0.4 -> 0.4 / 0.6745 / √6
    assert curves.noise([1.0, 1.2, 1.0, 1.2, 1.0]) == pytest.approx(0.4 / 0.6745 / math.sqrt(6))


def test_a_training_accuracy_climbs_after_an_epoch_only_beyond_its_noise():
    steady = curves.climb_after([0.3, 0.4, 0.5, 0.6, 0.7], 2)  # a straight line: no noise, floor 0.01
    assert (steady.start_epoch, steady.start, steady.end_epoch, steady.end) == (2, 0.4, 5, 0.7)
    assert steady.rise == pytest.approx(0.3) and steady.climbing
    # second differences -0.2, 0.2, -0.2, 0.3: median 0.2, noise 0.2 / 0.6745 / √6 = 0.121, so a rise
    # of 0.2 (0.5 at epoch 3 -> 0.7) is within twice it
    wobbling = curves.climb_after([0.5, 0.6, 0.5, 0.6, 0.5, 0.7], 3)
    assert wobbling.threshold == pytest.approx(2 * 0.2 / 0.6745 / math.sqrt(6)) and not wobbling.climbing
    assert not curves.climb_after([0.3, 0.4, 0.5], 3).climbing  # no epoch after the last
    assert not curves.climb_after([0.5, 0.505, 0.508], 1).climbing  # 0.008: under the 0.01 floor
    with pytest.raises(ValueError, match="outside the curve's 3 epochs"):
        curves.climb_after([0.3, 0.4, 0.5], 4)


def test_fit_state_follows_the_validation_loss_and_the_gap():
    rising = [1.0, 0.8, 0.9, 1.1]
    assert curves.fit_state(rising, [0.5, 0.6, 0.7, 0.8], [0.5, 0.55, 0.55, 0.55]) == curves.OVER
    assert curves.fit_state([1.0, 0.9, 0.8], [0.9, 0.95, 0.99], [0.5, 0.5, 0.5]) == curves.STILL_IMPROVING
    flat = [1.0, 0.8, 0.801, 0.8005]
    assert curves.fit_state(flat, [0.5, 0.55, 0.56, 0.56], [0.5, 0.55, 0.56, 0.56], gap_noise=0.02) == curves.UNDER
    assert curves.fit_state(flat, [0.6, 0.7, 0.7, 0.7], [0.5, 0.55, 0.56, 0.56]) == curves.LEVELLED
    # the evaluated weights' gap, the one a page shows, decides: 0.057 is beyond a noise of 0.043
    same_last = [0.5, 0.55, 0.56, 0.56]
    assert curves.fit_state(flat, same_last, same_last, gap_noise=0.043, gap=0.057) == curves.LEVELLED
    assert curves.fit_state(flat, same_last, same_last, gap_noise=0.043, gap=0.030) == curves.UNDER
    # flat loss but a gap growing from 0.0 at the minimum to 0.2
    assert curves.fit_state(flat, [0.5, 0.55, 0.66, 0.76], [0.5, 0.55, 0.56, 0.56]) == curves.OVER


@given(
    st.lists(st.floats(0.1, 5.0), min_size=1, max_size=30),
    st.floats(0.001, 1.0),
    st.lists(st.floats(0.0, 1.0), min_size=30, max_size=30),
)
def test_a_validation_loss_still_falling_at_the_end_is_never_over_fitting(prefix, drop, accuracies):
    losses = [*prefix, min(prefix) - drop]
    n = len(losses)
    assert curves.fit_state(losses, accuracies[:n], [0.0] * n) == curves.STILL_IMPROVING


def test_equal_epochs_compares_seed_means_at_every_common_epoch_and_per_seed():
    arm = {0: [1.0, 0.6, 0.5], 1: [1.2, 0.8, 0.7]}
    reference = {0: [0.9, 0.8, 0.9, 0.7], 1: [0.9, 0.9, 0.9, 0.8]}
    found = curves.equal_epochs(arm, reference)
    assert found.epochs == (1, 2, 3)
    assert found.arm == pytest.approx((1.1, 0.7, 0.6)) and found.reference == pytest.approx((0.9, 0.85, 0.9))
    assert found.difference == pytest.approx((0.2, -0.15, -0.3))
    assert found.per_seed[0] == pytest.approx((0.1, -0.2, -0.4)) and found.per_seed[1] == pytest.approx(
        (0.3, -0.1, -0.2)
    )
    assert found.lower_epochs() == (2, 3) and found.higher_epochs() == (1,)


def test_an_epoch_where_the_seeds_disagree_is_neither_lower_nor_higher():
    found = curves.equal_epochs({0: [1.0], 1: [0.5]}, {0: [0.8], 1: [0.6]})  # mean 0.75 vs 0.7, seeds +0.2 / -0.1
    assert found.lower_epochs() == () and found.higher_epochs() == ()


def test_epochs_to_a_mark_every_run_reached():
    slow, fast = [0.2, 0.3, 0.38, 0.42], [0.4, 0.5, 0.6, 0.58]
    mark = curves.reachable_mark([slow, fast], 0.9)  # 0.9 × 0.42 = 0.378 -> 0.37
    assert mark == 0.37
    assert (curves.epochs_to_mark(slow, mark), curves.epochs_to_mark(fast, mark)) == (3, 1)
    assert curves.epochs_to_mark(slow, 0.9) is None


def test_total_time_and_where_parameters_sit():
    assert curves.total_time([9.0, 2.0, 2.5]) == 13.5
    place = curves.where_parameters_sit({"conv": 896, "dense": 262_272, "out": 1_290}, 1_500)
    assert (place.total, place.largest_layer, place.largest) == (264_458, "dense", 262_272)
    assert place.share == pytest.approx(262_272 / 264_458) and place.per_image == pytest.approx(264_458 / 1_500)


def test_binomial_and_difference_errors():
    assert uncertainty.binomial_se(0.5, 100) == pytest.approx(0.05)
    assert uncertainty.difference_se(0.5, 0.5, 100) == pytest.approx(0.05 * math.sqrt(2))
    with pytest.raises(ValueError):
        uncertainty.binomial_se(0.5, 0)


def test_one_image_in_a_thousand_is_the_same_within_the_sampling_error():
    d = uncertainty.accuracy_difference([0.372, 0.371], [0.371, 0.370], 1000)
    assert d.direction == "same" and "1,000 images" in d.basis
    assert d.margin == pytest.approx(2 * uncertainty.difference_se(0.3715, 0.3705, 1000))


def test_a_large_difference_is_higher_and_seeds_count_when_they_spread_more():
    d = uncertainty.accuracy_difference([0.60, 0.62], [0.50, 0.52], 1000)
    assert d.direction == "higher"
    spread = uncertainty.accuracy_difference([0.40, 0.70], [0.50, 0.52], 10_000)
    assert "seeds" in spread.basis and spread.se == pytest.approx(math.hypot(0.15, 0.01))


def test_arms_paired_by_seed_are_judged_by_their_per_seed_differences():
    # seed 1 is hard for both arms (0.30 and 0.32), seed 2 easy for both (0.70 and 0.73): unpaired, the
    # seeds' spread hides a difference of +0.025 that every seed shows
    arm, reference = [0.32, 0.73], [0.30, 0.70]
    unpaired = uncertainty.accuracy_difference(arm, reference, 10_000)
    paired = uncertainty.accuracy_difference(arm, reference, 10_000, paired=True)
    assert unpaired.se == pytest.approx(math.hypot(0.205, 0.2)) and unpaired.direction == "same"
    # per-seed differences 0.02 and 0.03: sd 0.00707, se 0.005; the sampling error of 10,000 images is larger
    sampling = uncertainty.difference_se(0.525, 0.5, 10_000)
    assert paired.se == pytest.approx(max(0.005, sampling)) and paired.direction == "higher"
    losses = uncertainty.mean_difference([1.10, 1.50], [1.00, 1.42], paired=True)
    assert losses.se == pytest.approx(0.01) and "2 seeds paired" in losses.basis  # differences 0.10, 0.08


def test_two_models_scored_on_the_same_images_are_compared_image_by_image():
    # 100 images: the reference gets the first 50 right, the arm the same 50 and 10 more, so the
    # per-image differences are 1 on 10 images and 0 on 90: mean 0.1, sd √(0.1·0.9·100/99)
    reference = np.arange(100) < 50
    arm = np.arange(100) < 60
    se = math.sqrt(0.1 * 0.9 * 100 / 99) / 10
    assert uncertainty.paired_images_se([arm], [reference]) == pytest.approx(se)
    paired = uncertainty.accuracy_difference([0.6], [0.5], 100, images=([arm], [reference]))
    unpaired = uncertainty.accuracy_difference([0.6], [0.5], 100)
    assert paired.direction == "higher" and "paired image by image" in paired.basis  # 0.1 > 2 · 0.030
    assert unpaired.direction == "same"  # 0.1 < 2 · √(0.6·0.4/100 + 0.5·0.5/100) = 0.14
    # two runs per arm: each image's correctness is averaged over the runs first
    two = uncertainty.paired_images_se([arm, reference], [reference, reference])
    # per image: 0.5 on the 10 images only one of the arm's runs got, 0 elsewhere; mean 0.05
    assert two == pytest.approx(math.sqrt((10 * 0.45**2 + 90 * 0.05**2) / 99) / 10)


def test_rounding_follows_the_uncertainty():
    assert uncertainty.rounded(0.45312, 0.022) == "0.45"
    assert uncertainty.rounded(0.45312, 0.0022) == "0.453"
    assert uncertainty.rounded(-0.0001, 0.02) == "0.00"
    assert uncertainty.Difference(0.0312, 0.011, "x").text() == "+0.031 ± 0.022"


@given(st.floats(0.05, 0.95), st.floats(-0.2, 0.2), st.integers(50, 5000))
def test_a_difference_inside_the_sampling_error_is_never_higher_or_lower(p, delta, n):
    q = min(0.99, max(0.01, p + delta))
    d = uncertainty.accuracy_difference([q], [p], n)
    inside = abs(q - p) <= 2 * uncertainty.difference_se(q, p, n)
    assert (d.direction == "same") == inside
