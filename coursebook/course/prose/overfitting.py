"""Over-fitting: the epoch of lowest validation loss, whether it rose after, and by how much
against the spread over runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coursebook.course import history
from coursebook.course.prose.numbers import epochs, fmt, md, runs_note, shown

CHECKED_METRICS = ("val_loss", "loss", "accuracy", "val_accuracy")


@dataclass(frozen=True)
class OverfittingDiagnosis:
    """Result of :func:`overfitting_diagnosis`; gaps are train minus validation accuracy and
    validation minus train loss (None without the train metric). ``overfits`` is None when one
    run or one epoch cannot tell; ``final_val_loss_sd`` is None for one run. ``n_epochs`` is
    the length of the curve judged: with runs of different lengths, the epochs every run reached."""

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
    """Find the epoch of lowest validation loss and whether validation loss rose after it.

    Over seeds the curves are averaged (unless ``seed`` is given); when runs have different
    lengths (early stopping), only the epochs every run reached are judged, and the sentence
    says so. All values are compared as shown (rounded to ``digits``): the best epoch is the
    first with the lowest shown value, ``rise`` is the last minus the lowest. The verdict:

    - a single epoch: nothing can be said (``overfits`` None);
    - no rise: no over-fitting (``overfits`` False);
    - a single run with a rise: the numbers with the caveat that one run cannot tell
      over-fitting from run-to-run noise (``overfits`` None);
    - several runs: over-fitting (``overfits`` True) only when the rise exceeds the sample sd
      over runs of the validation loss at the last judged epoch (``final_val_loss_sd``) AND
      validation loss rose from the best epoch to that epoch in every run.
    """
    rows = history.select(frame, variant, seed)
    present = set(rows["metric"])
    history.check(rows, ["val_loss", *(m for m in CHECKED_METRICS[1:] if m in present)],
                  purpose="overfitting_diagnosis")
    table = history.mean_table(rows)
    curve = table["val_loss"].dropna().map(lambda value: shown(value, digits))
    best_epoch, last_epoch = int(curve.idxmin()), int(curve.index[-1])
    best, final = float(curve[best_epoch]), float(curve[last_epoch])
    rise = shown(final - best, digits)
    runs, runs_rising, spread = _rise_per_run(rows, best_epoch, last_epoch, digits)
    overfits = None if len(curve) == 1 else _overfits(rise > 0, rise, spread, runs_rising, runs)
    gaps = {
        key: _gap(table, first, second, epoch, digits)
        for key, (first, second, epoch) in {
            "accuracy_gap_best": ("accuracy", "val_accuracy", best_epoch),
            "accuracy_gap_final": ("accuracy", "val_accuracy", last_epoch),
            "loss_gap_best": ("val_loss", "loss", best_epoch),
            "loss_gap_final": ("val_loss", "loss", last_epoch),
        }.items()
    }
    name = str(rows["variant"].iloc[0])
    label = md(name) + _runs_note(rows, seed)
    head = (_headline(label, curve, best_epoch, last_epoch, rise, digits)
            + _verdict(overfits, best_epoch, rise, spread, runs_rising, runs, digits))
    return OverfittingDiagnosis(
        variant=name, n_epochs=len(curve), best_epoch=best_epoch, best_val_loss=best, final_val_loss=final,
        rise=rise, overfits=overfits, **gaps,
        sentence=f"{head} {_gap_sentence(gaps, best_epoch, last_epoch, digits)}".strip(),
        runs=runs, runs_rising=runs_rising, final_val_loss_sd=spread,
    )


def _runs_note(rows: pd.DataFrame, seed: int | None) -> str:
    """' (seed 1)' for a chosen seed, else :func:`numbers.runs_note` of the runs' lengths."""
    return f" (seed {seed})" if seed is not None else runs_note(history.run_lengths(rows).tolist())


def _rise_per_run(rows: pd.DataFrame, best_epoch: int, last_epoch: int, digits: int
                  ) -> tuple[int, int, float | None]:
    """(runs, runs whose shown validation loss at ``last_epoch`` is above its value at
    ``best_epoch``, sample sd over runs of the shown value at ``last_epoch``, None for one run)."""
    per_seed = history.per_seed(rows, "val_loss")
    at_last = np.array([shown(v, digits) for v in per_seed.loc[last_epoch]])
    at_best = np.array([shown(v, digits) for v in per_seed.loc[best_epoch]])
    spread = None if at_last.size < 2 else shown(np.std(at_last, ddof=1), digits)
    return int(at_last.size), int(np.sum(at_last > at_best)), spread


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
    return shown(table.at[epoch, first] - table.at[epoch, second], digits)


def _headline(name: str, curve: pd.Series, best_epoch: int, last_epoch: int, rise: float, digits: int) -> str:
    best, final = fmt(curve[best_epoch], digits), fmt(curve[last_epoch], digits)
    if len(curve) == 1:
        return (f"Validation loss of {name} is {best} after its only epoch: "
                "a single epoch cannot show whether the model over-fits.")
    lowest = f"Validation loss of {name} is lowest at epoch {best_epoch} ({best})"
    if best_epoch == last_epoch:  # the first lowest shown value is the last: below every earlier one
        return (f"{lowest}, the last epoch: it was still falling, "
                f"so there is no over-fitting within {epochs(len(curve))}.")
    ends = f"and ends at {final} at epoch {last_epoch}"
    if rise == 0:
        return f"{lowest} {ends}, the same to {digits} digits: no over-fitting."
    return f"{lowest} {ends}, {fmt(rise, digits)} higher"


def _verdict(overfits, best_epoch, rise, spread, runs_rising, runs, digits) -> str:
    """The clause after a rise; it names the criterion that decided, never one that contradicts."""
    if rise <= 0:
        return ""
    if overfits is None:
        return ". A single run cannot tell whether this rise is over-fitting or run-to-run noise."
    sd_text = f"the sd over runs of the final validation loss ({fmt(spread, digits)})"
    every = "in both runs" if runs == 2 else f"in all {runs} runs"
    if overfits:
        return (f"; the rise exceeds {sd_text} and validation loss rose after epoch {best_epoch} {every}: "
                f"the model overfits from epoch {best_epoch}.")
    if rise <= spread:
        return f". The rise does not exceed {sd_text}, so it is within run-to-run noise: no clear over-fitting."
    return (f". Although the rise exceeds {sd_text}, validation loss rose after epoch {best_epoch} "
            f"in only {runs_rising} of {runs} runs: no clear over-fitting.")


def _gap_sentence(gaps: dict[str, float | None], best_epoch: int, last_epoch: int, digits: int) -> str:
    parts = []
    labels = {"accuracy_gap": "train-validation accuracy gap", "loss_gap": "validation-train loss gap"}
    for key, label in labels.items():
        at_best, at_end = gaps[f"{key}_best"], gaps[f"{key}_final"]
        if at_best is None:
            continue
        if best_epoch == last_epoch:
            parts.append(f"the {label} is {fmt(at_best, digits)} at epoch {best_epoch}")
            continue
        change = "grows" if at_end > at_best else "shrinks" if at_end < at_best else "stays"
        parts.append(f"the {label} {change} from {fmt(at_best, digits)} at epoch {best_epoch} "
                     f"to {fmt(at_end, digits)} at epoch {last_epoch}")
    text = " and ".join(parts)
    return f"{text[:1].upper()}{text[1:]}." if parts else ""
