"""explain 'depth' on crafted results: the verdict and the mechanism follow the measured numbers."""

from __future__ import annotations

import statistics

import pytest

from coursebook.course import explain
from coursebook.course.explain import depth

# Parameter counts by hand: (k·k·C_in + 1)·C_out per convolution, (n_in + 1)·n_out per dense layer.
PART1 = [(27 + 1) * 32, (288 + 1) * 32, (288 + 1) * 64, (576 + 1) * 64, (576 + 1) * 128, (1152 + 1) * 128,
         (4 * 4 * 128 + 1) * 128, (128 + 1) * 10]
PART2_CONV = [(27 + 1) * 32, (288 + 1) * 64, (576 + 1) * 128, (1152 + 1) * 256, (2304 + 1) * 512]
PART2 = PART2_CONV + [(512 + 1) * 128, (128 + 1) * 32, (32 + 1) * 10]


def run(seed, accuracy, val_accuracy, val_loss, evaluated_epoch=None, test=None):
    n = len(val_loss)
    return {"seed": seed, "evaluated_epoch": evaluated_epoch or n, "test": {"accuracy": test} if test else {},
            "history": {"loss": [1.0] * n, "accuracy": list(accuracy), "val_accuracy": list(val_accuracy),
                        "val_loss": list(val_loss)}}


def results(reference_runs, deeper_runs, *, names=("Part 1", "Part 2: deeper"), profile="full"):
    return {"profile": profile, "dataset": {"name": "CIFAR-10", "synthetic": False},
            "arms": [{"name": names[0], "model": "q6-simple-cnn", "runs": reference_runs},
                     {"name": names[1], "model": "q6-deeper-gap", "runs": deeper_runs}]}


def shown(values):
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


# Part 1: train 0.80, val 0.70 (+- 0.002), validation loss 1.0 -> 0.8 -> 0.85.
PART1_RUNS = [run(s, (0.6, 0.7, 0.80), (0.6, 0.69, 0.70 + 0.002 * s), (1.0, 0.8, 0.85), test=0.69 + 0.002 * s)
              for s in range(3)]
# Part 2 over-fits: train 0.95, val 0.65, validation loss rises by 0.5.
OVERFITTING = [run(s, (0.7, 0.85, 0.95), (0.6, 0.68, 0.65 + 0.002 * s), (1.0, 0.7, 1.2), test=0.64 + 0.002 * s)
               for s in range(3)]
# Part 2 under-fits: train 0.55, val 0.52.
UNDERFITTING = [run(s, (0.3, 0.45, 0.55), (0.3, 0.45, 0.52 + 0.002 * s), (1.9, 1.5, 1.3)) for s in range(3)]


def test_architecture_facts_come_from_the_specs():
    part1, part2 = depth.architecture("q6-simple-cnn"), depth.architecture("q6-deeper-gap")
    assert (part1.parameters, part2.parameters) == (sum(PART1), sum(PART2))
    assert part1.conv_inputs == (32, 32, 16, 16, 8, 8) and part2.conv_inputs == (32, 16, 8, 4, 2)
    assert part2.small_map_parameters == PART2_CONV[3] + PART2_CONV[4] and part1.small_map_parameters == 0
    assert (part1.poolings, part2.poolings, part1.convolutions, part2.convolutions) == (3, 5, 6, 5)
    assert part1.dropout_rates == (0.2,) and part2.dropout_rates == () and part2.global_pooling


def test_overfitting_deeper_model_did_not_help_and_the_gap_is_the_reason():
    text = explain.answer("depth", results(PART1_RUNS, OVERFITTING))
    deeper_val = [0.65 + 0.002 * s for s in range(3)]
    reference_val = [0.70 + 0.002 * s for s in range(3)]
    assert (f"Part 2: deeper ({shown(deeper_val)}) has a lower, i.e. worse, mean validation accuracy than "
            f"Part 1 ({shown(reference_val)}), by 0.0500") in text
    assert "More depth did not help." in text and "over-fitting" in text and "does not even fit" not in text
    assert "its train-validation gap is larger (beyond run-to-run noise)" in text
    assert f"{sum(PART2):,} parameters, {sum(PART2) / sum(PART1):.1f} times as many as Part 1 ({sum(PART1):,})" in text
    share = (PART2_CONV[3] + PART2_CONV[4]) / sum(PART2)
    assert f"{share:.0%} of its parameters ({PART2_CONV[3] + PART2_CONV[4]:,})" in text
    assert "and no dropout, while the reference has some" in text
    assert "On the test set: Part 2: deeper" in text


def test_underfitting_deeper_model_is_explained_by_its_architecture_not_memorisation():
    text = explain.answer("depth", results(PART1_RUNS, UNDERFITTING))
    assert "does not even fit its training images as well as Part 1" in text
    assert "shrinks the image to 2×2 before the last convolution" in text and "global average pooling" in text
    assert "over-fitting)" not in text and "More depth did not help." in text


def test_a_deeper_model_that_wins_beyond_noise_is_credited():
    better = [run(s, (0.7, 0.85, 0.90), (0.6, 0.70, 0.75 + 0.002 * s), (1.0, 0.7, 0.65)) for s in range(3)]
    text = depth.answer(results(PART1_RUNS, better))
    assert "Here more depth helped." in text and "did not help" not in text
    assert "has a higher, i.e. better, mean validation accuracy" in text


def test_ahead_within_noise_is_not_called_a_win():
    noisy = [run(s, (0.7, 0.8, 0.8), (0.6, 0.7, v), (1.0, 0.8, 0.85)) for s, v in enumerate((0.66, 0.76, 0.72))]
    text = depth.answer(results(PART1_RUNS, noisy))
    assert "is ahead, but not clearly" in text and "Here more depth helped" not in text


def test_a_single_run_never_claims_beyond_noise():
    text = depth.answer(results(PART1_RUNS[:1], OVERFITTING[:1]))
    assert "beyond run-to-run noise" not in text and "in a single run" in text
    assert "One run per arm" in text


def test_values_are_read_at_the_evaluated_epoch():
    # the deeper arm's restored epoch 2 has validation accuracy 0.68, its last epoch 0.65
    restored = [dict(r, evaluated_epoch=2) for r in OVERFITTING]
    assert depth.evidence(results(PART1_RUNS, restored)).validation.mean_a == pytest.approx(0.68, abs=1e-12)


def test_names_are_escaped_and_two_arms_are_required():
    text = depth.answer(results(PART1_RUNS, OVERFITTING, names=("base_1", "deep*er")))
    assert "deep\\*er" in text and "base\\_1" in text and "deep*er" not in text
    with pytest.raises(ValueError, match="needs two arms"):
        depth.answer({"arms": results(PART1_RUNS, OVERFITTING)["arms"][:1]})


def test_curves_near_chance_are_not_explained():
    chance_runs = [run(s, (0.1, 0.1, 0.11), (0.1, 0.1, 0.10 + 0.01 * s), (2.30, 2.30, 2.30)) for s in range(3)]
    higher = [run(s, (0.1, 0.1, 0.12), (0.1, 0.1, 0.15 + 0.01 * s), (2.30, 2.30, 2.29)) for s in range(3)]
    text = depth.answer(results(chance_runs, higher))
    assert "Neither model learned much: mean validation accuracies of 0.1600 and 0.1100 are below twice chance (0.20 for 10 classes)" in text
    assert "over-fitting" not in text and "under-fitting" not in text and "pooling" not in text.split("**Mechanism.**")[1]


def test_underfitting_within_noise_is_tentative():
    close = [run(s, (0.3, 0.5, v), (0.3, 0.45, 0.52 + 0.002 * s), (1.9, 1.5, 1.3)) for s, v in enumerate((0.70, 0.90, 0.74))]
    text = depth.answer(results(PART1_RUNS, close))
    assert "points to under-fitting rather than memorisation, though not firmly" in text
    assert "does not even fit" not in text


def test_near_chance_asks_for_the_run_the_profile_lacks():
    chance_runs = [run(s, (0.1, 0.1, 0.11), (0.1, 0.1, 0.10 + 0.01 * s), (2.30, 2.30, 2.30)) for s in range(2)]
    assert "a longer run (the full profile) would be needed" in depth.answer(results(chance_runs, chance_runs, profile="quick"))
    assert "more epochs or more training images would be needed" in depth.answer(results(chance_runs, chance_runs))


def test_ahead_in_a_single_run_with_a_larger_gap_cuts_both_ways():
    ahead = [run(0, (0.5, 0.7, 0.9), (0.5, 0.7, 0.75), (1.0, 0.7, 0.9))]
    text = depth.answer(results(PART1_RUNS[:1], ahead))
    mechanism = text.split("**Mechanism.**")[1]
    assert "is ahead on validation accuracy here, but not beyond run-to-run noise" in mechanism
    assert "already shows a larger train-validation gap and a larger rise of validation loss" in mechanism
    assert "(over-fitting)" not in mechanism and "More runs would tell" in mechanism
