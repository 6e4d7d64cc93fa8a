"""Tests of coursebook.course.history: the one history frame and its queries."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from coursebook.course import history
from coursebook.course.history import HISTORY_COLUMNS, HistoryError


def frame_of(values: dict) -> pd.DataFrame:
    """A history frame from {(arm, seed): {metric: per-epoch values}}, built by hand."""
    rows = [
        (arm, seed, epoch + 1, metric, value)
        for (arm, seed), metrics in values.items()
        for metric, series in metrics.items()
        for epoch, value in enumerate(series)
    ]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def hand_history() -> pd.DataFrame:
    return frame_of(
        {
            ("a", 0): {"val_loss": [0.9, 0.5, 0.7], "val_accuracy": [0.4, 0.6, 0.7]},
            ("a", 1): {"val_loss": [0.8, 0.6, 0.6], "val_accuracy": [0.5, 0.6, 0.5]},
            ("b", 0): {"val_loss": [1.0, 0.9, 0.8], "val_accuracy": [0.3, 0.4, 0.5]},
        }
    )


def test_history_columns_are_the_tidy_ones():
    assert HISTORY_COLUMNS == ("arm", "seed", "epoch", "metric", "value")


def test_from_keras_and_concat_give_the_tidy_frame():
    run = history.from_keras({"loss": [0.9, 0.5], "val_loss": [1.0, 0.8]}, [2.0, 1.0], arm="a", seed=3)
    assert list(run.columns) == list(HISTORY_COLUMNS) and len(run) == 6
    assert run[run.metric == "seconds"]["value"].tolist() == [2.0, 1.0]
    both = history.concat([run, run.assign(seed=4)])
    assert history.run_lengths(both).to_dict() == {("a", 3): 2, ("a", 4): 2}


run_lengths = st.lists(st.integers(1, 6), min_size=1, max_size=4)


@settings(max_examples=100, deadline=None)
@given(lengths=run_lengths, data=st.data())
def test_seed_mean_is_masked_where_some_run_has_ended(lengths, data):
    curves = [data.draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n)) for n in lengths]
    frame = frame_of({("a", seed): {"loss": curve} for seed, curve in enumerate(curves)})
    means = history.seed_mean(frame).set_index("epoch")
    assert means.index.tolist() == list(range(1, max(lengths) + 1))
    for epoch, row in means.iterrows():
        reached = [curve[epoch - 1] for curve in curves if len(curve) >= epoch]
        assert row["runs"] == len(reached) and row["of"] == len(curves)
        if len(reached) < len(curves):
            assert math.isnan(row["mean"]) and math.isnan(row["sd"])
        else:
            assert row["mean"] == pytest.approx(statistics.fmean(reached), rel=1e-9, abs=1e-9)
            assert row["min"] == min(reached) and row["max"] == max(reached)
    unmasked = history.seed_mean(frame, masked=False).set_index("epoch")
    for epoch, row in unmasked.iterrows():
        reached = [curve[epoch - 1] for curve in curves if len(curve) >= epoch]
        assert row["mean"] == pytest.approx(statistics.fmean(reached), rel=1e-9, abs=1e-9)
    assert history.ragged(frame) == (len(set(lengths)) > 1)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns="seed"), r"lacks columns \['seed'\]"),
        (lambda f: f.iloc[0:0], "has no rows"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "duplicate rows for metric 'val_loss' of 'a', seed 0, epoch 1"),
        (lambda f: f.assign(epoch=f["epoch"] - 1), "epochs are whole numbers from 1"),
        (lambda f: f.assign(value=f["value"].where(f.index != 4, np.nan)), "'val_accuracy' of 'a' is not finite"),
        (lambda f: f.assign(value=f["value"].where(f.index != 4, 1.5)), r"'val_accuracy' of 'a' is 1.5 .* in \[0, 1\]"),
        (lambda f: f.assign(value=f["value"].where(f.index != 4, 70.0)), r"accuracies lie in \[0, 1\]"),
    ],
)
def test_bad_frames_give_clear_errors(change, message):
    with pytest.raises(HistoryError, match=message):
        history.check(change(hand_history()))


def test_a_run_missing_a_metric_is_named():
    frame = hand_history()
    frame = frame[~((frame.arm == "b") & (frame.metric == "val_accuracy"))]
    with pytest.raises(HistoryError, match=r"needs metric\(s\) \['val_accuracy'\], but run 'b' seed 0"):
        history.check(frame, ["val_loss", "val_accuracy"])
    with pytest.raises(HistoryError, match="run 'b' seed 0"):
        history.per_seed(frame, "val_accuracy", "b")


def test_losses_may_exceed_one_but_accuracies_may_not():
    ok = frame_of({("a", 0): {"loss": [2.5, 1.2], "val_loss": [3.0, 2.0], "accuracy": [0.0, 1.0]}})
    assert history.check(ok) is ok


def test_epoch_time_is_the_median_after_the_first_epoch_of_every_run():
    frame = frame_of(
        {
            ("a", 0): {"seconds": [30.0, 2.0, 4.0, 3.0]},
            ("a", 1): {"seconds": [12.0]},
            ("b", 0): {"seconds": [20.0, 5.0]},
        }
    )
    per_run = history.seconds_per_epoch(frame)
    assert per_run.to_dict() == {("a", 0): statistics.median([2.0, 4.0, 3.0]), ("a", 1): 12.0, ("b", 0): 5.0}
    assert history.seconds_per_epoch(frame, "b").to_dict() == {("b", 0): 5.0}
    with pytest.raises(HistoryError, match="epoch times"):
        history.epoch_time([])
