"""The learning-curve chapter's pieces on crafted results: sizes, arms, the table and the figure
(its Answer is coursebook.course.answers', tested in test_answers.py)."""

from __future__ import annotations

import statistics

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from coursebook.course import learning_curve, plots
from coursebook.course.results import Results
from tests import factories


def run(seed, val, train, test):
    """A run of 3 epochs evaluated at epoch 2: ``val`` its validation accuracy there, ``train`` its
    training accuracy in inference mode (Keras' running value, 0.99, is not the one to compare)."""
    return factories.run(
        seed,
        val=val,
        train=train,
        test=test,
        epochs=3,
        evaluated=2,
        history={"accuracy": [0.1, 0.99, 0.99], "val_accuracy": [0.1, val, 0.05]},
    )


def results(curve, *, train_available=4000, parameters=550_570):
    """curve: {size: [(val, train, test) per seed]}, as results the book accepts."""
    arms = [
        factories.arm(
            learning_curve.arm_name(size),
            [run(s, *values) for s, values in enumerate(runs)],
            model="q6-bn-dropout",
            parameters=parameters,
            train_size=size,
        )
        for size, runs in curve.items()
    ]
    return factories.results(*arms, profile="full", synthetic=False, sizes=(train_available, 500, 1000))


RISING = {
    500: [(0.40, 0.90, 0.39), (0.42, 0.92, 0.41), (0.41, 0.91, 0.40)],
    1000: [(0.50, 0.85, 0.49), (0.52, 0.86, 0.51), (0.51, 0.84, 0.50)],
    2000: [(0.60, 0.80, 0.59), (0.62, 0.81, 0.61), (0.61, 0.79, 0.60)],
    4000: [(0.70, 0.75, 0.69), (0.72, 0.76, 0.71), (0.71, 0.74, 0.70)],
}


def test_sizes_are_checked_with_one_line_naming_the_parameter():
    assert learning_curve.check_sizes([100, 200], 200) == [100, 200]
    for bad in ([100], [200, 100], [100, 100], [50, 100], [100, 300], "100", [100, 2.5]):
        with pytest.raises(ValueError, match=r"^parameter 'sizes': value .* is not allowed \(expected at least two"):
            learning_curve.check_sizes(bad, 200)


def test_one_arm_per_size_with_the_shared_settings():
    base = {"name": "Part 4", "model": "q6-bn-dropout", "batch_size": 64}
    assert learning_curve.size_arms(base, [2500, 40000]) == [
        {"name": "2,500 images", "model": "q6-bn-dropout", "batch_size": 64, "train_size": 2500},
        {"name": "40,000 images", "model": "q6-bn-dropout", "batch_size": 64, "train_size": 40000},
    ]


def test_table_reads_the_evaluated_epoch_and_shows_mean_and_sample_sd():
    table = learning_curve.curve_table(results(RISING), available=4000).set_index("training images")
    assert list(table.index) == [500, 1000, 2000, 4000]
    vals = [0.50, 0.52, 0.51]
    assert table.loc[1000, "validation accuracy"] == f"{statistics.mean(vals):.4f} ± {statistics.stdev(vals):.4f}"
    gaps = [0.85 - 0.50, 0.86 - 0.52, 0.84 - 0.51]
    assert table.loc[1000, "train-validation gap"] == f"{statistics.mean(gaps):.4f} ± {statistics.stdev(gaps):.4f}"
    assert table.loc[500, "share of all"] == "12.5%" and table.loc[4000, "evaluated epoch"] == "2, 2, 2"


def test_figure_has_one_curve_per_part_with_sd_error_bars():
    fig = plots.learning_curves(learning_curve.curve_frame(results(RISING)))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["validation (mean ± sd)", "test (mean ± sd)"]
    line = ax.lines[0]
    assert np.allclose(line.get_ydata(), [0.41, 0.51, 0.61, 0.71]) and list(line.get_xdata()) == [500, 1000, 2000, 4000]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == [
        "500",
        "1,000",
        "2,000",
        "4,000",
    ]


def test_model_text_counts_by_hand_and_caption_says_what_a_point_is():
    layers = [
        (5 * 5 * 3 + 1) * 32,
        4 * 32,
        (9 * 32 + 1) * 64,
        4 * 64,
        (9 * 64 + 1) * 128,
        4 * 128,
        (4 * 4 * 128 + 1) * 128,
        (128 + 1) * 10,
    ]
    fixed = 2 * (32 + 64 + 128)  # moving mean and variance of each batch-norm channel
    text = learning_curve.model_text("q6-bn-dropout")
    assert f"has {sum(layers):,} parameters: {sum(layers) - fixed:,} trainable, {fixed:,} non-trainable" in text
    assert "mean ± sd over 3 seeds, one dot per run" in learning_curve.caption(results(RISING))
    assert "one run per size" in learning_curve.caption(results({s: r[:1] for s, r in RISING.items()}))


def test_sizes_text_and_the_settings_table_on_its_side():
    from types import SimpleNamespace

    assert learning_curve.sizes_text([400, 800, 1600], 1600).startswith(
        "Each size is a seeded, stratified subset of these 1,600 training images: 400, 800 and 1,600 (all of them);"
    )
    settings = {
        "model": "q6-bn-dropout",
        "optimizer": "adam",
        "learning_rate": None,
        "batch_size": 32,
        "epochs": 12,
        "early_stopping": None,
        "checkpoint": None,
        "augmentation": [],
    }
    arms = [
        SimpleNamespace(name=learning_curve.arm_name(n), model="q6-bn-dropout", settings=dict(settings, train_size=n))
        for n in (400, 800)
    ]
    table = learning_curve.settings_table(SimpleNamespace(arms=arms, parameters={})).set_index("setting")["value"]
    assert table["training images"] == "400; 800" and table["batch size"] == "32" and table["model"] == "q6-bn-dropout"


def test_a_run_that_did_not_learn_is_counted_and_marked_with_a_cross():
    mapping = results({500: [(0.10, 0.12, 0.10)], 1000: [(0.50, 0.85, 0.49)]}).to_dict()
    mapping["arms"][0]["runs"][0].update(learned=False, failure_cause="too few steps")
    data = Results.from_dict(mapping)
    table = learning_curve.curve_table(data, available=4000).set_index("training images")
    assert table.loc[500, "runs that learned"] == "0 of 1" and table.loc[1000, "runs that learned"] == "1 of 1"
    ax = plots.learning_curves(learning_curve.curve_frame(data)).axes[0]
    crosses = [c for c in ax.collections if c.get_label().endswith("run that did not learn")]
    assert [c.get_offsets().tolist() for c in crosses] == [[[500.0, 0.10]], [[500.0, 0.10]]]  # validation and test
