"""Sentences about results that are right by construction.

Every direction word ("higher", "lower", "better", "worse", "the same") is computed from the
numbers the sentence shows, after rounding them to the digits it shows them with, so prose
can never contradict its own figures. Each function returns a frozen dataclass holding the
numbers (for ``glue``) and the sentence as one field.

Training histories are the tidy frames of :mod:`coursebook.course.history` (one row per
variant, seed, 1-based epoch and metric), queried only through that module.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course import history
from coursebook.course.history import HISTORY_COLUMNS  # noqa: F401  (kept for callers)

ALPHA = 0.05

Values = float | Sequence[float] | np.ndarray | pd.Series


# --- comparing two numbers or two groups of runs ----------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`; ``difference`` and ``relative`` use the shown values."""

    metric: str
    name_a: str
    name_b: str
    mean_a: float
    mean_b: float
    sd_a: float | None
    sd_b: float | None
    n_a: int
    n_b: int
    difference: float
    relative: float | None
    direction: str
    judgement: str | None
    p_value: float | None
    exceeds_noise: bool | None
    sentence: str


def compare(
    metric: str,
    name_a: str,
    values_a: Values,
    name_b: str,
    values_b: Values,
    *,
    higher_is_better: bool | None = None,
    digits: int = 4,
    relative: bool | None = None,
) -> Comparison:
    """Describe how ``name_a`` stands against ``name_b`` (the reference) on ``metric``.

    Values are one number or one number per run (seed). Means are rounded to ``digits``
    decimals; the sentence says "higher"/"lower" from the rounded means, "the same to N
    digits" when they agree, and adds "better"/"worse" when ``higher_is_better`` is given.
    It states the absolute difference and, for losses (or ``relative=True``), the change
    relative to ``name_b``.

    Noise rule, with at least 2 runs of each: the difference is called larger than
    run-to-run noise when Welch's t-test gives p < 0.05 (p as shown, 3 significant digits)
    AND the shown absolute difference exceeds the shown pooled standard deviation
    sqrt((sd_a**2 + sd_b**2) / 2) (sample sd, ddof=1); when the pooled sd rounds to 0, any
    shown difference counts as larger than the noise. With a single run of either variant,
    the sentence says that it cannot tell whether the difference is real, and
    ``exceeds_noise`` is None.

    >>> compare("validation accuracy", "extra block", 0.7336, "original", 0.7231).sentence[:71]
    'extra block (0.7336) has a higher validation accuracy than original (0.'
    """
    runs_a = _as_runs(values_a, metric, name_a)
    runs_b = _as_runs(values_b, metric, name_b)
    mean_a, mean_b = _mean(runs_a), _mean(runs_b)
    shown_a, shown_b = _round(mean_a, digits), _round(mean_b, digits)
    direction = _direction(shown_a, shown_b, digits)
    judgement = _judgement(direction, higher_is_better)
    difference = _round(shown_a - shown_b, digits)
    if relative is None:
        relative = "loss" in metric.lower()
    rel = difference / abs(shown_b) if relative and shown_b != 0 else None
    p_value, exceeds, noise_text = _noise_verdict(
        runs_a, runs_b, name_a, name_b, abs(difference), digits, same=direction.startswith("the same")
    )
    head = _headline(metric, name_a, runs_a, name_b, runs_b, direction, judgement, abs(difference), rel, digits)
    return Comparison(
        metric=metric,
        name_a=name_a,
        name_b=name_b,
        mean_a=mean_a,
        mean_b=mean_b,
        sd_a=_sd(runs_a),
        sd_b=_sd(runs_b),
        n_a=len(runs_a),
        n_b=len(runs_b),
        difference=difference,
        relative=rel,
        direction=direction,
        judgement=judgement,
        p_value=p_value,
        exceeds_noise=exceeds,
        sentence=f"{head} {noise_text}".strip(),
    )


def _as_runs(values: Values, metric: str, name: str) -> np.ndarray:
    """Values as a 1-d float array; reject empty and non-finite input by name."""
    runs = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    if runs.size == 0:
        raise ValueError(f"compare({metric!r}): no values for {name!r}")
    if not np.all(np.isfinite(runs)):
        raise ValueError(f"compare({metric!r}): a value of {name!r} is not finite: {runs.tolist()}")
    return runs


def _mean(runs: np.ndarray) -> float:
    return math.fsum(runs.tolist()) / runs.size


def _sd(runs: np.ndarray) -> float | None:
    return float(np.std(runs, ddof=1)) if runs.size >= 2 else None


def _round(value: float, digits: int) -> float:
    """Round half-even like the shown text; ``+ 0.0`` turns -0.0 into 0.0."""
    return round(float(value), digits) + 0.0


def _fmt(value: float, digits: int) -> str:
    return f"{_round(value, digits):.{digits}f}"


def _direction(shown_a: float, shown_b: float, digits: int) -> str:
    if shown_a == shown_b:
        return f"the same to {digits} digits"
    return "higher" if shown_a > shown_b else "lower"


def _judgement(direction: str, higher_is_better: bool | None) -> str | None:
    if higher_is_better is None or direction not in ("higher", "lower"):
        return None
    return "better" if (direction == "higher") == higher_is_better else "worse"


def _shown_runs(runs: np.ndarray, digits: int) -> str:
    """'0.7231' for one run, '0.7231 ± 0.0040' (mean ± sd) for several."""
    text = _fmt(_mean(runs), digits)
    return text if runs.size == 1 else f"{text} ± {_fmt(_sd(runs), digits)}"


def _runs_note(runs_a: np.ndarray, runs_b: np.ndarray) -> str:
    if runs_a.size == runs_b.size == 1:
        return ""
    return f" (mean ± sd over {runs_a.size} and {runs_b.size} runs)"


def _headline(metric, name_a, runs_a, name_b, runs_b, direction, judgement, size, rel, digits) -> str:
    """First sentence: the values of both (a's first), the direction word and the size."""
    mean_word = "" if runs_a.size == runs_b.size == 1 else "mean "
    a_part = f"{name_a} ({_shown_runs(runs_a, digits)})"
    b_part = f"{name_b} ({_shown_runs(runs_b, digits)})"
    note = _runs_note(runs_a, runs_b)
    if direction.startswith("the same"):
        return f"{a_part} and {b_part} have the same {mean_word}{metric} to {digits} digits{note}."
    word = f"{direction}, i.e. {judgement}," if judgement else direction
    rel_text = f" ({abs(rel):.1%} relative)" if rel is not None else ""
    return f"{a_part} has a {word} {mean_word}{metric} than {b_part}, by {_fmt(size, digits)}{rel_text}{note}."


def _noise_verdict(runs_a, runs_b, name_a, name_b, size, digits, *, same):
    """(p value, exceeds noise, sentence) following the rule in :func:`compare`."""
    if same:
        return None, False, ""
    single = [name for name, runs in ((name_a, runs_a), (name_b, runs_b)) if runs.size < 2]
    if len(single) == 2:
        return None, None, (
            "A single run per variant cannot tell whether this difference is real or run-to-run noise."
        )
    if single:
        return None, None, f"With a single run of {single[0]}, this cannot tell whether the difference is real."
    pooled = _round(math.sqrt((_sd(runs_a) ** 2 + _sd(runs_b) ** 2) / 2), digits)
    if pooled == 0:
        return None, True, (
            f"The runs show no spread to {digits} digits, so the difference is larger than run-to-run noise."
        )
    p_text = f"{_welch_p_value(runs_a, runs_b):.3g}"
    exceeds = float(p_text) < ALPHA and size > pooled
    verdict = "larger than" if exceeds else "within"
    return float(p_text), exceeds, (
        f"The difference is {verdict} run-to-run noise (Welch's t-test p = {p_text}, "
        f"{'below' if float(p_text) < ALPHA else 'not below'} {ALPHA}; difference {_fmt(size, digits)} "
        f"{'exceeds' if size > pooled else 'does not exceed'} the pooled sd {_fmt(pooled, digits)})."
    )


def _welch_p_value(runs_a: np.ndarray, runs_b: np.ndarray) -> float:
    """Two-sided Welch's t-test; scipy's precision warning for near-equal runs is silenced."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(runs_a, runs_b, equal_var=False).pvalue)


# --- training histories --------------------------------------------------------------------


check_history = history.check


def epoch_table(frame: pd.DataFrame, variant: str | None = None, seed: int | None = None) -> pd.DataFrame:
    """One variant's history as epochs x metrics: the seed mean (masked where some run ended)
    unless ``seed`` is given."""
    return history.mean_table(history.select(frame, variant, seed))


def _require(table: pd.DataFrame, metrics: Sequence[str], purpose: str) -> None:
    missing = [metric for metric in metrics if metric not in table.columns]
    if missing:
        raise ValueError(f"{purpose} needs metrics {missing}; history has {list(table.columns)}")


def _require_finite(rows: pd.DataFrame, metrics: Sequence[str], purpose: str) -> None:
    """Raise naming the metric, variant, seed and epoch of the first nan or inf value."""
    present = [metric for metric in metrics if metric in set(rows["metric"])]
    if present:
        history.check(rows, present, purpose=purpose)


def _variant_label(frame: pd.DataFrame, variant: str | None, seed: int | None) -> tuple[str, str]:
    """(variant name, note on runs such as ' (mean of 3 runs)' or ' (seed 1)')."""
    rows = history.select(frame, variant, seed)
    name = str(rows["variant"].iloc[0])
    if seed is not None:
        return name, f" (seed {seed})"
    n_seeds = rows["seed"].nunique()
    return name, "" if n_seeds == 1 else f" (mean of {n_seeds} runs)"


# --- over-fitting --------------------------------------------------------------------------


@dataclass(frozen=True)
class OverfittingDiagnosis:
    """Result of :func:`overfitting_diagnosis`; gaps are train minus validation accuracy and
    validation minus train loss (None without the train metric). ``overfits`` is None when
    a single run shows a rise (one run cannot tell); ``final_val_loss_sd`` is None for one run."""

    variant: str
    n_epochs: int
    best_epoch: int
    best_val_loss: float
    final_val_loss: float
    rise: float
    overfits: bool | None
    accuracy_gap_best: float | None
    accuracy_gap_final: float | None
    loss_gap_best: float | None
    loss_gap_final: float | None
    sentence: str
    runs: int
    runs_rising: int
    final_val_loss_sd: float | None


def overfitting_diagnosis(
    frame: pd.DataFrame,
    variant: str | None = None,
    seed: int | None = None,
    *,
    digits: int = 4,
) -> OverfittingDiagnosis:
    """Find the epoch of minimum validation loss and whether validation loss rose after it.

    Over seeds the curves are averaged (unless ``seed`` is given); ``rise`` is the last
    minus the lowest value of that curve, all rounded to ``digits``. The verdict:

    - no rise (lowest at the last epoch, or the same to ``digits``): no over-fitting
      (``overfits`` False);
    - a single run with a rise: the numbers are stated with the caveat that one run cannot
      tell over-fitting from run-to-run noise (``overfits`` None);
    - several runs: over-fitting (``overfits`` True) only when the rise exceeds the sample
      sd over seeds of the final validation loss (``final_val_loss_sd``) AND validation loss
      rose from the best epoch to its last epoch in every run (``runs_rising == runs``;
      shown values compared; a run that ended before the best epoch does not count as rising).
    """
    _require_finite(history.select(frame, variant, seed), ["val_loss", "loss", "accuracy", "val_accuracy"],
                    "overfitting_diagnosis")
    table = epoch_table(frame, variant, seed)
    _require(table, ["val_loss"], "overfitting_diagnosis")
    name, note = _variant_label(frame, variant, seed)
    val_loss = table["val_loss"].dropna()
    best_epoch, last_epoch = int(val_loss.idxmin()), int(val_loss.index[-1])
    best, final = _round(val_loss.min(), digits), _round(val_loss.iloc[-1], digits)
    rise = _round(final - best, digits)
    runs, runs_rising, spread = _rise_per_run(history.select(frame, variant, seed), best_epoch, digits)
    overfits = _overfits(best_epoch < last_epoch and rise > 0, rise, spread, runs_rising, runs)
    gaps = {
        key: _gap(table, train, val, epoch, digits)
        for key, (train, val, epoch) in {
            "accuracy_gap_best": ("accuracy", "val_accuracy", best_epoch),
            "accuracy_gap_final": ("accuracy", "val_accuracy", last_epoch),
            "loss_gap_best": ("val_loss", "loss", best_epoch),
            "loss_gap_final": ("val_loss", "loss", last_epoch),
        }.items()
    }
    head = _overfitting_headline(
        name + note, best_epoch, last_epoch, best, final, rise, digits
    ) + _overfitting_verdict(overfits, best_epoch, rise, spread, runs_rising, runs, digits)
    return OverfittingDiagnosis(
        variant=name,
        n_epochs=len(val_loss),
        best_epoch=best_epoch,
        best_val_loss=best,
        final_val_loss=final,
        rise=rise,
        overfits=overfits,
        **gaps,
        sentence=f"{head} {_gap_sentence(gaps, best_epoch, last_epoch, digits)}".strip(),
        runs=runs,
        runs_rising=runs_rising,
        final_val_loss_sd=spread,
    )


def _rise_per_run(rows: pd.DataFrame, best_epoch: int, digits: int) -> tuple[int, int, float | None]:
    """(runs, runs whose last validation loss is above their value at ``best_epoch``,
    sample sd over runs of the last validation loss or None for one run), shown values."""
    per_seed = history.per_seed(rows, "val_loss")
    finals = np.array([_round(per_seed[column].dropna().iloc[-1], digits) for column in per_seed])
    at_best = per_seed.loc[best_epoch].to_numpy()
    rising = sum(final > _round(value, digits) for final, value in zip(finals, at_best) if np.isfinite(value))
    spread = None if finals.size < 2 else _round(np.std(finals, ddof=1), digits)
    return int(finals.size), int(rising), spread


def _overfits(rises: bool, rise: float, spread: float | None, runs_rising: int, runs: int) -> bool | None:
    """The rule of :func:`overfitting_diagnosis`: False without a rise, None for one run."""
    if not rises:
        return False
    if spread is None:
        return None
    return rise > spread and runs_rising == runs


def _gap(table: pd.DataFrame, first: str, second: str, epoch: int, digits: int) -> float | None:
    if first not in table.columns or second not in table.columns:
        return None
    return _round(table.at[epoch, first] - table.at[epoch, second], digits)


def _overfitting_headline(name, best_epoch, last_epoch, best, final, rise, digits) -> str:
    lowest = f"Validation loss of {name} is lowest at epoch {best_epoch} ({_fmt(best, digits)})"
    if best_epoch == last_epoch:
        return (f"{lowest}, the last epoch: it was still falling, "
                f"so there is no over-fitting within {_epochs(last_epoch)}.")
    ends = f"and ends at {_fmt(final, digits)} at epoch {last_epoch}"
    if rise == 0:
        return f"{lowest} {ends}, the same to {digits} digits: no clear over-fitting."
    return f"{lowest} {ends}, {_fmt(rise, digits)} higher"


def _overfitting_verdict(overfits, best_epoch, rise, spread, runs_rising, runs, digits) -> str:
    """The clause after a rise, following the rule in :func:`overfitting_diagnosis`."""
    if rise == 0:
        return ""
    if overfits is None:
        return ". A single run cannot tell whether this rise is over-fitting or run-to-run noise."
    beats = "exceeds" if rise > spread else "does not exceed"
    every = (f"in {runs_rising} of {runs} runs" if runs_rising < runs
             else "in both runs" if runs == 2 else f"in all {runs} runs")
    evidence = (f"the rise {beats} the sd over runs of the final validation loss ({_fmt(spread, digits)}) "
                f"and validation loss rose after epoch {best_epoch} {every}")
    if overfits:
        return f"; {evidence}: the model overfits from epoch {best_epoch}."
    return f", but {evidence}: no clear over-fitting beyond run-to-run noise."


def _gap_sentence(gaps: dict[str, float | None], best_epoch: int, last_epoch: int, digits: int) -> str:
    parts = []
    labels = {"accuracy_gap": "train-validation accuracy gap", "loss_gap": "validation-train loss gap"}
    for key, label in labels.items():
        at_best, at_end = gaps[f"{key}_best"], gaps[f"{key}_final"]
        if at_best is None:
            continue
        if best_epoch == last_epoch:
            parts.append(f"the {label} is {_fmt(at_best, digits)} at epoch {best_epoch}")
            continue
        change = "grows" if at_end > at_best else "shrinks" if at_end < at_best else "stays"
        parts.append(
            f"the {label} {change} from {_fmt(at_best, digits)} at epoch {best_epoch} "
            f"to {_fmt(at_end, digits)} at the end"
        )
    text = " and ".join(parts)
    return f"{text[:1].upper()}{text[1:]}." if parts else ""


# --- learning speed ------------------------------------------------------------------------


@dataclass(frozen=True)
class LearningSpeed:
    """Result of :func:`learning_speed`; per-run tuples hold one value per seed
    (``epochs_per_run``: first epoch at the threshold in each run, None where not reached)."""

    variant: str
    metric: str
    threshold: float
    first_epoch: tuple[float, ...]
    epochs_to_threshold: int | None
    n_epochs: int
    seconds_per_epoch: tuple[float, ...] | None
    sentence: str
    epochs_per_run: tuple[int | None, ...]


def learning_speed(
    frame: pd.DataFrame,
    threshold: float = 0.6,
    *,
    metric: str = "accuracy",
    variant: str | None = None,
    digits: int = 4,
) -> LearningSpeed:
    """Metric after epoch 1, first epoch where the seed-averaged metric reaches ``threshold``,
    and mean seconds per epoch per seed (when the history has a "seconds" metric)."""
    rows = history.select(frame, variant, None)
    _require_finite(rows, [metric, "seconds"], "learning_speed")
    name, note = _variant_label(frame, variant, None)
    curves = history.per_seed(rows, metric)
    if curves.index[0] != 1:
        raise ValueError(f"history of {name!r} has no epoch 1 for {metric!r}")
    first = tuple(float(v) for v in curves.iloc[0])
    mean_curve = curves.mean(axis=1)
    epochs_to = _first_epoch_at(mean_curve, threshold)
    per_run = tuple(_first_epoch_at(curves[column], threshold) for column in curves)
    timing = history.per_seed(rows, "seconds") if "seconds" in set(rows["metric"]) else None
    seconds = None if timing is None else tuple(float(v) for v in timing.mean())
    sentence = _speed_sentence(name + note, metric, first, threshold, epochs_to, len(mean_curve), seconds, digits)
    return LearningSpeed(name, metric, threshold, first, epochs_to, len(mean_curve), seconds, sentence, per_run)


def _first_epoch_at(curve: pd.Series, threshold: float) -> int | None:
    reached = curve.index[curve >= threshold]
    return int(reached[0]) if len(reached) else None


def _speed_sentence(name, metric, first, threshold, epochs_to, n_epochs, seconds, digits) -> str:
    after = f"{name} reaches {metric} {_fmt(_mean(np.array(first)), digits)} after epoch 1"
    reach = (
        f"and {threshold} at epoch {epochs_to}"
        if epochs_to is not None
        else f"and does not reach {threshold} within {_epochs(n_epochs)}"
    )
    timing = f", taking {_mean(np.array(seconds)):.2f} s per epoch" if seconds else ""
    return f"{after} {reach}{timing}."


def compare_learning_speed(a: LearningSpeed, b: LearningSpeed, *, digits: int = 4) -> str:
    """Compare two variants' speed: metric after epoch 1, epochs to the threshold, time per epoch."""
    if (a.metric, a.threshold) != (b.metric, b.threshold):
        raise ValueError(
            f"cannot compare learning speed on {a.metric!r} >= {a.threshold} with {b.metric!r} >= {b.threshold}"
        )
    parts = [
        compare(f"{a.metric} after epoch 1", a.variant, a.first_epoch, b.variant, b.first_epoch,
                higher_is_better=True, digits=digits).sentence,
        _epochs_to_sentence(a, b) + _epochs_noise(a, b),
    ]
    if a.seconds_per_epoch and b.seconds_per_epoch:
        parts.append(compare("time per epoch in seconds", a.variant, a.seconds_per_epoch, b.variant,
                             b.seconds_per_epoch, higher_is_better=False, digits=2, relative=True).sentence)
    return " ".join(parts)


def _epochs_to_sentence(a: LearningSpeed, b: LearningSpeed) -> str:
    goal = f"{a.metric} {a.threshold}"
    ea, eb = a.epochs_to_threshold, b.epochs_to_threshold
    if ea is None and eb is None:
        return f"Neither reaches {goal} ({a.variant} within {_epochs(a.n_epochs)}, {b.variant} within {b.n_epochs})."
    if ea is None or eb is None:
        fast, slow = (b, a) if ea is None else (a, b)
        return (f"Only {fast.variant} reaches {goal} (at epoch {fast.epochs_to_threshold}); "
                f"{slow.variant} does not within {_epochs(slow.n_epochs)}.")
    if ea == eb:
        return f"{a.variant} and {b.variant} both reach {goal} at epoch {ea}."
    word = "fewer" if ea < eb else "more"
    where = " on the mean curves" if len(a.epochs_per_run) > 1 or len(b.epochs_per_run) > 1 else ""
    return f"{a.variant} needs {word} epochs than {b.variant} to reach {goal} ({ea} vs {eb}{where})."


def _epochs_noise(a: LearningSpeed, b: LearningSpeed) -> str:
    """After a difference in epochs to the threshold: the single-run caveat of :func:`compare`,
    or, with several runs each, the epochs per run and whether every run of the faster
    variant reaches the threshold before any run of the slower one (not reached counts as
    later than any epoch)."""
    ea, eb = a.epochs_to_threshold, b.epochs_to_threshold
    if ea == eb:
        return ""
    single = [s.variant for s in (a, b) if len(s.epochs_per_run) < 2]
    if len(single) == 2:
        return " A single run per variant cannot tell whether this difference is real or run-to-run noise."
    if single:
        return f" With a single run of {single[0]}, this cannot tell whether the difference is real."
    fast, slow = (a, b) if _later(eb, ea) else (b, a)
    separated = _later(min(slow.epochs_per_run, key=_order), max(fast.epochs_per_run, key=_order))
    verdict = (f"every run of {fast.variant} reaches it before any run of {slow.variant}" if separated
               else "the runs overlap, so this difference is within run-to-run noise")
    per_run = f"{a.variant} reaches it at epochs {_epochs_list(a)} and {b.variant} at {_epochs_list(b)}"
    return f" Per run, {per_run}: {verdict}."


def _order(epoch: int | None) -> float:
    return math.inf if epoch is None else epoch


def _later(first: int | None, second: int | None) -> bool:
    """Whether reaching at ``first`` is later than at ``second`` (None: never reached)."""
    return _order(first) > _order(second)


def _epochs_list(speed: LearningSpeed) -> str:
    return ", ".join("not reached" if epoch is None else str(epoch) for epoch in speed.epochs_per_run)


# --- confusion matrices --------------------------------------------------------------------


@dataclass(frozen=True)
class ConfusedPairs:
    """Result of :func:`most_confused_pairs`: a table of (true, predicted) pairs and a sentence."""

    table: pd.DataFrame
    sentence: str


def most_confused_pairs(cm: np.ndarray, class_names: Sequence[str], k: int = 3) -> ConfusedPairs:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows true, columns predicted),
    named by class, with their share of the true class's images."""
    counts = _check_confusion(cm, class_names)
    totals = counts.sum(axis=1)
    rows = [
        (true, predicted, class_names[true], class_names[predicted], int(counts[true, predicted]),
         counts[true, predicted] / totals[true])
        for true in range(len(class_names))
        for predicted in range(len(class_names))
        if true != predicted and counts[true, predicted] > 0
    ]
    table = pd.DataFrame(rows, columns=["true_label", "predicted_label", "true", "predicted", "count", "share"])
    table = table.sort_values(["count", "share"], ascending=False, kind="stable").head(k).reset_index(drop=True)
    return ConfusedPairs(table, _confusion_sentence(table))


def _check_confusion(cm: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion matrix must be square (n, n); got shape {counts.shape}")
    if counts.shape[0] != len(class_names):
        n = counts.shape[0]
        raise ValueError(f"confusion matrix is {n}x{n} but {len(class_names)} class names given")
    if np.any(counts < 0) or not np.all(counts == np.round(counts)):
        raise ValueError("confusion matrix must hold non-negative whole counts")
    return counts.astype(np.int64)


def _confusion_sentence(table: pd.DataFrame) -> str:
    if table.empty:
        return "There are no confusions: every image is classified correctly."
    items = [
        f"{row.true} predicted as {row.predicted} ({row.count} images, {row.share:.1%} of {row.true} images)"
        for row in table.itertuples()
    ]
    return f"The most frequent confusions are {_join(items)}."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- data sets -----------------------------------------------------------------------------


def describe_dataset(name: str, n_train: int, n_val: int, n_test: int, shape: Sequence[int]) -> str:
    """One sentence on split sizes and image shape (channels last; no channel axis or 1 channel
    is grayscale, 3 channels are colour)."""
    splits = [f"{n_train:,} training"] + ([f"{n_val:,} validation"] if n_val else []) + [f"{n_test:,} test"]
    sentence = f"{name} has {_join(splits)} images; {_describe_shape(tuple(shape))}."
    return sentence[:1].upper() + sentence[1:]


def _describe_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"each is a flat vector of {shape[0]:,} values"
    if len(shape) not in (2, 3):
        raise ValueError(f"describe_dataset: cannot describe image shape {shape}")
    pixels = f"each is {shape[0]}x{shape[1]} pixels"
    channels = shape[2] if len(shape) == 3 else 1
    if channels == 1:
        return f"{pixels} in grayscale (1 channel)"
    if channels == 3:
        return f"{pixels} in colour (3 channels, RGB)"
    return f"{pixels} with {channels} channels"


def _epochs(count: int) -> str:
    """'1 epoch', '5 epochs'."""
    return f"{count} epoch" + ("" if count == 1 else "s")
