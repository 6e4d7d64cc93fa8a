"""Training histories: the one tidy frame every table, figure and sentence reads.

A history frame has the columns :data:`HISTORY_COLUMNS`: one row per arm (an arm of a
comparison), seed, 1-based epoch and metric (``loss``, ``val_accuracy``, ``seconds``, ...).
Runs may have different lengths (early stopping). Everything that asks the frame a question
lives here, in one style:

- :func:`check` validates a frame (columns, duplicates, missing metrics, non-finite values);
- :func:`select`, :func:`per_seed` pick one arm (and seed) and one metric per seed;
- :func:`run_lengths` gives each run's last epoch, :func:`ragged` whether they differ;
- :func:`seed_mean` averages over seeds per epoch, masked where some runs have ended, with
  the run count per epoch;
- :func:`epoch_time`, :func:`seconds_per_epoch` give the time per epoch (:data:`EPOCH_TIME`).

This module imports pandas only (no Keras), so tests and the book machinery can use it freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

HISTORY_COLUMNS = ("arm", "seed", "epoch", "metric", "value")
RUN_KEYS = ("arm", "seed")
ROW_KEYS = ("arm", "seed", "epoch", "metric")


class HistoryError(ValueError):
    """A history frame that cannot answer the question asked of it."""


# --- building ------------------------------------------------------------------------------


def from_keras(
    history: Mapping[str, Sequence[float]], seconds: Sequence[float] | None = None, *, arm: str, seed: int
) -> pd.DataFrame:
    """The tidy frame of one run from a Keras ``History.history`` dict and its epoch times.

    >>> from_keras({"loss": [0.9, 0.5]}, [1.5, 1.0], arm="a", seed=0).to_dict(orient="list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'arm': ['a', 'a', 'a', 'a'], 'seed': [0, 0, 0, 0], 'epoch': [1, 2, 1, 2],
     'metric': ['loss', 'loss', 'seconds', 'seconds'], 'value': [0.9, 0.5, 1.5, 1.0]}
    """
    series = {name: [float(v) for v in values] for name, values in history.items()}
    if seconds is not None:
        series["seconds"] = [float(v) for v in seconds]
    rows = [
        (arm, seed, epoch, metric, value)
        for metric, values in series.items()
        for epoch, value in enumerate(values, start=1)
    ]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several runs' frames as one history frame, checked (duplicates, epochs, accuracies); a
    non-finite value is left for the question that reads it to report."""
    frames = list(frames)
    if not frames:
        raise HistoryError("no runs to put in a history frame")
    return check(pd.concat([frame[list(HISTORY_COLUMNS)] for frame in frames], ignore_index=True), finite=False)


# --- checking ------------------------------------------------------------------------------


def check(
    frame: pd.DataFrame, metrics: Sequence[str] = (), *, finite: bool = True, purpose: str = "history"
) -> pd.DataFrame:
    """Return ``frame`` if it is a valid history frame, else raise :class:`HistoryError` saying
    what is wrong: a missing column, no rows, an epoch that is not a whole number >= 1, a
    duplicate (arm, seed, epoch, metric) row, a run lacking one of ``metrics``, (with
    ``finite``) a nan or infinite value of ``metrics`` (of every metric when none are named), or
    an accuracy outside [0, 1]."""
    if not isinstance(frame, pd.DataFrame):
        raise HistoryError(f"{purpose}: expected a history frame (pandas DataFrame), got {type(frame).__name__}")
    missing = [column for column in HISTORY_COLUMNS if column not in frame.columns]
    if missing:
        raise HistoryError(f"{purpose}: history frame lacks columns {missing}; it has {list(frame.columns)}")
    if frame.empty:
        raise HistoryError(f"{purpose}: history frame has no rows")
    epochs = pd.to_numeric(frame["epoch"], errors="coerce").to_numpy(dtype=float)
    bad_epochs = ~((epochs >= 1) & (epochs == np.floor(epochs)))
    if bad_epochs.any():
        row = frame[bad_epochs].iloc[0]
        raise HistoryError(
            f"{purpose}: epochs are whole numbers from 1, but {row['metric']!r} of "
            f"{row['arm']!r}, seed {row['seed']} has epoch {row['epoch']!r}"
        )
    duplicated = frame.duplicated(list(ROW_KEYS), keep=False)
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise HistoryError(
            f"{purpose}: duplicate rows for metric {row['metric']!r} of {row['arm']!r}, "
            f"seed {row['seed']}, epoch {row['epoch']} ({int(duplicated.sum())} rows in all)"
        )
    _check_metrics(frame, metrics, purpose)
    if finite:
        chosen = frame[frame["metric"].isin(metrics)] if metrics else frame
        values = pd.to_numeric(chosen["value"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = chosen[bad].iloc[0]
            raise HistoryError(
                f"{purpose}: {row['metric']!r} of {row['arm']!r} is not finite "
                f"({_value(row['value'])}) at seed {row['seed']}, epoch {row['epoch']}"
            )
    _check_accuracies(frame, purpose)
    return frame


def _value(value: Any) -> str:
    """A value for a message: numbers as plain floats (not np.float64(...)), anything else quoted."""
    try:
        return str(float(value))
    except (TypeError, ValueError):
        return repr(value)


def _check_accuracies(frame: pd.DataFrame, purpose: str) -> None:
    """Finite accuracies (metrics named ``accuracy`` or ``*_accuracy``) lie in [0, 1]; non-finite
    ones are the finite check's to report."""
    rows = frame[frame["metric"].astype(str).str.fullmatch(r"(.*_)?accuracy")]
    values = pd.to_numeric(rows["value"], errors="coerce")
    outside = rows[np.isfinite(values) & ((values < 0) | (values > 1))]
    if not outside.empty:
        row = outside.iloc[0]
        raise HistoryError(
            f"{purpose}: {row['metric']!r} of {row['arm']!r} is {_value(row['value'])} at seed "
            f"{row['seed']}, epoch {row['epoch']}; accuracies lie in [0, 1]"
        )


def _check_metrics(frame: pd.DataFrame, metrics: Sequence[str], purpose: str) -> None:
    """Every run has every one of ``metrics``."""
    if not metrics:
        return
    present = frame.groupby(list(RUN_KEYS), sort=False)["metric"].agg(set)
    for (arm, seed), names in present.items():
        lacking = [metric for metric in metrics if metric not in names]
        if lacking:
            raise HistoryError(
                f"{purpose} needs metric(s) {lacking}, but run {arm!r} seed {seed} records only {sorted(names)}"
            )


# --- choosing rows -------------------------------------------------------------------------


def arms(frame: pd.DataFrame) -> list[str]:
    """The arms in order of first appearance."""
    return list(pd.unique(frame["arm"]))


def select(frame: pd.DataFrame, arm: str | None = None, seed: int | None = None) -> pd.DataFrame:
    """The rows of one arm (required when there are several) and optionally one seed."""
    present = arms(check(frame, finite=False))
    if arm is None and len(present) > 1:
        raise HistoryError(f"history has several arms {present}: pass arm=")
    rows = frame if arm is None else frame[frame["arm"] == arm]
    if rows.empty:
        raise HistoryError(f"arm {arm!r} is not in the history; it has {present}")
    if seed is not None:
        seeds = sorted(pd.unique(rows["seed"]).tolist())
        rows = rows[rows["seed"] == seed]
        if rows.empty:
            chosen = present[0] if arm is None else arm
            raise HistoryError(f"seed {seed!r} is not in the history of {chosen!r}; it has seeds {seeds}")
    return rows


def per_seed(frame: pd.DataFrame, metric: str, arm: str | None = None) -> pd.DataFrame:
    """One arm's ``metric`` as epochs x seeds (nan after a run ended).

    >>> frame = concat([from_keras({"loss": [3.0, 2.0, 1.0]}, arm="a", seed=0),
    ...                 from_keras({"loss": [4.0, 2.0]}, arm="a", seed=1)])
    >>> per_seed(frame, "loss").to_dict()
    {0: {1: 3.0, 2: 2.0, 3: 1.0}, 1: {1: 4.0, 2: 2.0, 3: nan}}
    """
    rows = select(frame, arm)
    check(rows, [metric], finite=False, purpose=f"the {metric!r} curve")
    table = rows[rows["metric"] == metric].pivot(index="epoch", columns="seed", values="value").sort_index()
    table.columns.name = None
    return table.astype(float)


# --- run lengths ---------------------------------------------------------------------------


def run_lengths(frame: pd.DataFrame) -> pd.Series:
    """The last epoch of every run, indexed by (arm, seed), runs in their order."""
    check(frame, finite=False)
    return frame.groupby(list(RUN_KEYS), sort=False)["epoch"].max().astype(int)


# --- over seeds ----------------------------------------------------------------------------


def seed_mean(frame: pd.DataFrame, metrics: Sequence[str] | None = None, *, masked: bool = True) -> pd.DataFrame:
    """Mean over seeds per arm, metric and epoch, with columns arm, metric, epoch,
    ``runs`` (how many runs have that epoch), ``of`` (the arm's runs), mean, sd (ddof=1,
    nan for one run), min and max. With ``masked``, the statistics are nan at epochs that some
    run of the arm did not reach, so a mean never silently mixes fewer runs.

    >>> frame = concat([from_keras({"loss": [3.0, 2.0, 1.0]}, arm="a", seed=0),
    ...                 from_keras({"loss": [5.0, 2.0]}, arm="a", seed=1)])
    >>> seed_mean(frame)[["epoch", "runs", "of", "mean"]].to_dict(orient="list")
    {'epoch': [1, 2, 3], 'runs': [2, 2, 1], 'of': [2, 2, 2], 'mean': [4.0, 2.0, nan]}
    """
    check(frame, list(metrics or ()), finite=False)
    rows = frame if metrics is None else frame[frame["metric"].isin(metrics)]
    grouped = rows.groupby(["arm", "metric", "epoch"], sort=False)["value"]
    table = grouped.agg(runs="count", mean="mean", sd="std", min="min", max="max").reset_index()
    total = frame.groupby("arm", sort=False)["seed"].nunique()
    table.insert(4, "of", table["arm"].map(total).astype(int))
    if masked:
        table.loc[table["runs"] < table["of"], ["mean", "sd", "min", "max"]] = np.nan
    return table.sort_values(["arm", "metric", "epoch"], key=_in_order(frame), kind="stable").reset_index(drop=True)


def _in_order(frame: pd.DataFrame):
    """Sort key keeping arms and metrics in their order of first appearance."""
    order = {"arm": arms(frame), "metric": list(pd.unique(frame["metric"]))}

    def key(column: pd.Series) -> pd.Series:
        if column.name in order:
            return column.map({name: i for i, name in enumerate(order[column.name])})
        return column

    return key


def ragged(frame: pd.DataFrame, arm: str | None = None) -> bool:
    """Whether the runs (of ``arm``) have different lengths."""
    lengths = run_lengths(frame if arm is None else select(frame, arm))
    return lengths.nunique() > 1


# --- time per epoch ------------------------------------------------------------------------

EPOCH_TIME = "median after epoch 1"
"""How the book defines time per epoch, as a label's qualifier: "seconds per epoch (median after epoch 1)"."""


def epoch_time(seconds: Sequence[float]) -> float:
    """One run's time per epoch: the median of its epoch times after the first, or the only one.

    >>> epoch_time([9.0, 2.0, 4.0, 3.0]), epoch_time([9.0])
    (3.0, 9.0)
    """
    values = np.asarray(seconds, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise HistoryError(f"epoch times must be one or more finite numbers, got {values.tolist()}")
    return float(np.median(values[1:] if values.size > 1 else values))


def seconds_per_epoch(frame: pd.DataFrame, arm: str | None = None) -> pd.Series:
    """:func:`epoch_time` of every run (of ``arm``), indexed by (arm, seed)."""
    rows = frame if arm is None else select(frame, arm)
    check(rows, ["seconds"], purpose="seconds per epoch")
    timing = rows[rows["metric"] == "seconds"].sort_values("epoch", kind="stable")
    return timing.groupby(list(RUN_KEYS), sort=False)["value"].agg(epoch_time)
