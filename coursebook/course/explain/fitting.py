"""Over- or under-fitting of one arm, in words computed from its runs (shared by the topics that
diagnose a single model: ``baseline``, ``augmentation``).

Over-fitting follows :func:`coursebook.course.overfitting_diagnosis` (validation loss rising
after its lowest epoch, beyond the spread over runs and in every run); under-fitting at the budget
means validation loss was lowest in the last tenth of the epochs of every run (the last epoch for
runs under 10 epochs): the model was still improving when training stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coursebook.course import history
from coursebook.course.prose.overfitting import OverfittingDiagnosis, overfitting_diagnosis
from coursebook.course.explain import measures as m


@dataclass(frozen=True)
class Fit:
    """How one arm fits: the over-fitting diagnosis and the under-fitting sign."""

    name: str
    diagnosis: OverfittingDiagnosis
    still_improving: bool  # lowest validation loss at the last epoch of every run
    lowest_epochs: tuple[int, ...]
    epochs: tuple[int, ...]
    verdict: str  # "over-fits", "may over-fit", "under-fits at this budget", "neither", "cannot tell"
    text: str


def diagnose(results: Any, entry: Mapping[str, Any]) -> Fit:
    """The fit of one arm of ``results``."""
    name = entry["name"]
    diagnosis = overfitting_diagnosis(m.history_frame(results, [name]), variant=name)
    lowest = tuple(m.lowest_val_loss_epoch(run) for run in entry["runs"])
    epochs = tuple(len(run["history"]["val_loss"]) for run in entry["runs"])
    still = all(low > last - _final_stretch(last) for low, last in zip(lowest, epochs))
    verdict = ("over-fits" if diagnosis.overfits else "cannot tell" if diagnosis.n_epochs < 2
               else "under-fits at this budget" if still
               else "may over-fit" if diagnosis.overfits is None else "neither")
    frame = m.history_frame(results, [name])
    train = history.mean_table(frame, name)["loss"].dropna()
    train_falls = round(float(train.iloc[-1]), 4) < round(float(train.loc[diagnosis.best_epoch]), 4)
    text = _text(name, diagnosis, verdict, lowest, epochs, train_falls)
    return Fit(name, diagnosis, still, lowest, epochs, verdict, text)


def _final_stretch(epochs: int) -> int:
    """How many final epochs count as 'the end' (a tenth of the run, at least the last one): a lowest
    validation loss there means the model was still improving when training stopped."""
    return max(1, epochs // 10)


def _text(name: str, diagnosis: OverfittingDiagnosis, verdict: str, lowest: tuple[int, ...],
          epochs: tuple[int, ...], train_falls: bool) -> str:
    shown = m.md_name(name)
    per_run = "" if len(lowest) == 1 else f" Per run, validation loss is lowest at epochs {', '.join(map(str, lowest))}."
    if verdict == "over-fits":
        why = (" Training loss keeps falling while validation loss climbs: the later epochs fit particulars of the "
               "training images that do not carry over." if train_falls else "")
        return f"{shown} over-fits. {diagnosis.sentence}{per_run}{why}"
    if verdict == "cannot tell":
        return f"One epoch cannot show whether {shown} over- or under-fits. {diagnosis.sentence}"
    if verdict == "may over-fit":
        return f"{shown} shows the pattern of over-fitting, unconfirmed. {diagnosis.sentence}"
    if verdict == "under-fits at this budget":
        stretch = _final_stretch(min(epochs))
        where = "in the last epoch" if stretch == 1 else f"within the last {stretch} epochs"
        return (f"{shown} under-fits at this budget: its validation loss was lowest {where} of "
                f"{'the run' if len(epochs) == 1 else 'every run'} ({diagnosis.best_val_loss:.4f} at epoch "
                f"{diagnosis.best_epoch} of {max(epochs)}{'' if len(epochs) == 1 else ', mean curve'}), so it was still "
                "improving when training stopped and more epochs would help.")
    return f"{shown} shows neither clear over-fitting nor under-fitting. {diagnosis.sentence}{per_run}"
