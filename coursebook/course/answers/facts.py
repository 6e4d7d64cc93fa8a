"""The facts every strategy reads from a chapter's results: the arms a question names, each run's
curve shape and fit, differences with the error they are judged by, where a model's parameters sit,
and the words and numbers the sentences use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coursebook import markdown
from coursebook.course import curves, results as results_module, uncertainty
from coursebook.course.prose import measure_names
from coursebook.course.prose.numbers import capitalized, join, md
from coursebook.course.results import ArmResult, Results, Run


def name(text: str) -> str:
    """An arm name in prose: escaped and bold, so it never reads as part of the sentence."""
    return f"**{md(text)}**"


def average(values: Sequence[float]) -> float:
    return math.fsum(float(v) for v in values) / len(values)


def arms(results: Results, question: Any) -> list[Any]:
    """The arms a question names (every arm when it names none), in the question's order; arms read
    from another chapter are found by name like the chapter's own."""
    if not question.arms:
        return list(results.arms)
    return [results.arm(arm) for arm in question.arms]


def learned(arms_: Sequence[ArmResult]) -> list[Any]:
    """The arms with at least one run that learned."""
    return [arm for arm in arms_ if arm.learned_runs()]


def seeds(arm: ArmResult) -> str:
    runs = arm.learned_runs()
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''}"


def seed_means(*run_counts: int) -> str:
    """', seed means' after values that average several runs; nothing after one run's own values."""
    return ", seed means" if max(run_counts) > 1 else ""


def seed_means_note(*run_counts: int) -> str:
    """' (seed means)' after values that average several runs; nothing after one run's own values."""
    return " (seed means)" if max(run_counts) > 1 else ""


def run_epochs(numbers: Sequence[int]) -> str:
    """An epoch per run: 'epoch 6' (one run), 'epoch 6 in both runs', 'epoch 6 in all 3 runs',
    'epochs 5, 4 and 4'."""
    if len(set(numbers)) == 1:
        count = len(numbers)
        return f"epoch {numbers[0]}" + (
            "" if count == 1 else " in both runs" if count == 2 else f" in all {count} runs"
        )
    return "epochs " + join([str(n) for n in numbers])


# --------------------------------------------------------------------------- shape and fit of a run


@dataclass(frozen=True)
class RunFit:
    """One run's validation-loss shape and fit label, and what its training accuracy did from the
    validation-loss minimum to the last epoch."""

    seed: int
    shape: curves.Shape
    state: str
    gap: float  # training − validation accuracy of the evaluated weights
    train_climb: curves.Climb


def run_fit(results: Results, run: Run) -> RunFit:
    """The run's fit from its curves: the gap counts as growing beyond twice the validation
    accuracy's sampling error (:func:`coursebook.course.curves.fit_state`)."""
    n_val = int(results.dataset.sizes["validation"])
    gap_noise = 2 * uncertainty.binomial_se(float(run.validation["accuracy"]), n_val)
    val_loss = run.curve("val_loss")
    gap = run.value("gap")
    train = run.curve("train_accuracy")
    state = curves.fit_state(val_loss, train, run.curve("val_accuracy"), gap_noise, gap)
    shape = curves.loss_shape(val_loss)
    climb = curves.climb_after(train, shape.best_epoch)
    return RunFit(run.seed, shape, state, gap, climb)


def arm_fits(results: Results, arm: ArmResult) -> list[RunFit]:
    return [run_fit(results, run) for run in arm.learned_runs()]


def arm_state(fits: Sequence[RunFit]) -> str:
    """The arm's label: the runs' common state, or 'over-fitting in 1 of 2 runs, …'."""
    states = [f.state for f in fits]
    if not states:
        return "failed"
    if len(set(states)) == 1:
        return states[0]
    counts = {s: states.count(s) for s in dict.fromkeys(states)}
    return "; ".join(f"{s} in {c} of {len(states)} runs" for s, c in counts.items())


def shape_sentence(arm: ArmResult, fits: Sequence[RunFit], digits: int = 2) -> str:
    """What the validation loss did, per run where the runs differ: '**E**'s validation loss was
    lowest at epochs 6 and 7 and then rose beyond its noise, to 1.3 at epoch 10'."""
    who = f"The validation loss of {name(arm.name)}"
    falling = [f for f in fits if f.shape.state == curves.FALLING]
    if len(falling) == len(fits):
        last = run_epochs([f.shape.epochs for f in fits])
        return (
            f"{who} was lowest at the last epoch trained, {last}: the model was still improving when the "
            "budget ran out."
        )
    best = run_epochs([f.shape.best_epoch for f in fits])
    rising = [f for f in fits if f.shape.state == curves.RISING]
    if len(rising) == len(fits):
        rise = average([f.shape.rise for f in fits])
        return (
            f"{who} was lowest at {best} and then rose beyond its epoch-to-epoch noise, by "
            f"{rise:.{digits}f}{' on average' if len(fits) > 1 else ''} by the last epoch."
        )
    counts = {s: sum(f.shape.state == s for f in fits) for s in (curves.RISING, curves.FLAT, curves.FALLING)}
    words = {
        curves.RISING: "had risen beyond its epoch-to-epoch noise",
        curves.FLAT: "stayed within noise of it",
        curves.FALLING: "was still falling",
    }
    parts = [f"{words[s]} in {c} of {len(fits)} runs" for s, c in counts.items() if c]
    return f"{who} was lowest at {best}; by the last epoch it {join(parts)}."


def past_minimum(fits: Sequence[RunFit]) -> list[RunFit]:
    """The runs whose validation loss has epochs after its minimum (not still falling at the last)."""
    return [f for f in fits if f.shape.state != curves.FALLING]


def after_minimum(fits: Sequence[RunFit], subject: str) -> str:
    """'its validation loss was still falling at epoch 8 in all 3 runs, its last' or '… bottomed at
    epoch 3, 2 and 2 and then rose by 0.35 on average'."""
    others = past_minimum(fits)
    falling = [f for f in fits if f.shape.state == curves.FALLING]
    if not others:
        return f"{subject} was still falling at {run_epochs([f.shape.epochs for f in fits])}, its last"
    rise = average([f.shape.rise for f in others])
    bottomed = f"bottomed at {run_epochs([f.shape.best_epoch for f in others])} and then rose by {rise:.2f}" + (
        " on average" if len(others) > 1 else ""
    )
    if not falling:
        return f"{subject} {bottomed}"
    return (
        f"{subject} was still falling at the last epoch in {len(falling)} of {len(fits)} runs; in the "
        f"other{'s' if len(others) > 1 else ''} it {bottomed}"
    )


def training_after_minimum(fits: Sequence[RunFit], subject: str) -> str:
    """What the training accuracy did from each run's validation-loss minimum to its last epoch: 'its
    training accuracy rose from 0.45 at epoch 4 to 0.71 at epoch 10' (one run), or '… rose beyond its
    epoch-to-epoch noise in 2 of 3 runs, by 0.21 on average'. Runs whose validation loss was still
    falling have no epoch after their minimum and are left out ('' when none is left)."""
    after = past_minimum(fits)
    if len(after) == 1:
        climb = after[0].train_climb
        moved = "rose" if climb.climbing else "fell" if climb.rise < -climb.threshold else "went"
        text = (
            f"{subject} {moved} from {climb.start:.2f} at epoch {climb.start_epoch} to {climb.end:.2f} "
            f"at epoch {climb.end_epoch}"
        )
        return text if moved != "went" else f"{text}, within its epoch-to-epoch noise"
    if not after:
        return ""
    climbing, count = sum(f.train_climb.climbing for f in after), len(after)
    rise = average([f.train_climb.rise for f in after])
    if climbing == count:
        where = "in both runs" if count == 2 else f"in all {count} runs"
        return f"{subject} rose beyond its epoch-to-epoch noise {where} after that minimum, by {rise:.2f} on average"
    where = f"in none of the {count} runs" if not climbing else f"in {climbing} of {count} runs"
    return (
        f"{subject} rose beyond its epoch-to-epoch noise {where} after that minimum ({rise:+.2f} on average "
        f"over the {count})"
    )


# --------------------------------------------------------------------------- differences


def difference(results: Results, arm: ArmResult, reference: ArmResult, measure: str) -> uncertainty.Difference | None:
    """``arm`` − ``reference`` on ``measure`` with its error: accuracies also by the sampling error
    of the images they were measured on, other measures by the seeds alone (None: too few). Arms
    whose learned runs have the same seeds are paired seed by seed: a chapter's arms, and arms read
    from another chapter, are trained on this chapter's data and splits with those seeds."""
    a, b = arm.values(measure), reference.values(measure)
    if not a or not b:
        return None
    pair = paired(arm, reference)
    n = results.images(measure)
    if n:
        return uncertainty.accuracy_difference(a, b, n, pair, same_images(arm, reference, measure, n))
    if measure == "gap":
        n_val = int(results.dataset.sizes["validation"])
        found = uncertainty.accuracy_difference(
            arm.values("val_accuracy"), reference.values("val_accuracy"), n_val, pair
        )
        seeds = uncertainty.mean_difference(a, b, pair)
        se = max(found.se, seeds.se if seeds else 0.0)
        basis = seeds.basis if seeds is not None and se != found.se else found.basis
        return uncertainty.Difference(average(a) - average(b), se, basis)
    return uncertainty.mean_difference(a, b, pair)


def same_images(arm: ArmResult, reference: ArmResult, measure: str, n: int) -> tuple[list[Any], list[Any]] | None:
    """Each learned run's correctness on the ``n`` images ``measure`` is computed on, for both arms
    (None where a run did not record it: then they cannot be paired image by image)."""
    part = results_module.MEASURED_PART[measure]
    found = [[run.correct_images(part) for run in a.learned_runs()] for a in (arm, reference)]
    if any(c is None or len(c) != n for side in found for c in side):
        return None
    return found[0], found[1]


def paired(arm: ArmResult, reference: ArmResult) -> bool:
    """Whether the two arms' learned runs come from the same seeds, in the same order."""
    seeds = [tuple(run.seed for run in a.learned_runs()) for a in (arm, reference)]
    return seeds[0] == seeds[1] and len(seeds[0]) >= 2


def verdict(
    d: uncertainty.Difference | None, words: str, arm: ArmResult, reference: ArmResult, start: bool = True
) -> str:
    """'Validation accuracy was higher for **A** than for **B** (+0.060 ± 0.044, the sampling error of
    517 images)' or 'the same … within ±x'; with too few runs for an error, says so. Starts with the
    measure (capitalized when it ``start``s a sentence), never with an arm's name."""
    head = capitalized(words) if start else words
    if d is None:
        return f"{head} cannot be judged for {name(arm.name)} against {name(reference.name)}: too few runs"
    if d.direction == "same":
        value, margin = d.text().split(" ± ")
        return (
            f"{head} was the same for {name(arm.name)} and {name(reference.name)} within ±{margin} "
            f"({d.basis}; difference {value})"
        )
    return f"{head} was {d.direction} for {name(arm.name)} than for {name(reference.name)} ({d.text()}, {d.basis})"


def per_run_table(results: Results, arms_: Sequence[ArmResult], measures_: Sequence[str]) -> str:
    """Per run: arm, seed, evaluated epoch and each measure (3 decimals): per-run values live in
    tables, never in parentheses."""
    rows = [
        [md(arm.name), run.seed, run.evaluated_epoch, *(f"{run.value(m):.3f}" for m in measures_)]
        for arm in arms_
        for run in arm.learned_runs()
    ]
    return markdown.table(
        ["arm", "seed", "evaluated epoch", *(measure_names.words(m) for m in measures_)],
        rows,
        numeric=[False, True, True, *[True] * len(measures_)],
    )


# --------------------------------------------------------------------------- models


def parameter_place(results: Results, arm: ArmResult) -> curves.ParameterPlace:
    """Where ``arm``'s parameters sit, against the images it trained on."""
    from coursebook.course import models

    table = models.parameter_table(arm.model)
    layers = {f"{row['layer']}": int(row["params"]) for row in table.to_dict("records")}
    images = arm.settings.get("train_size") or int(results.dataset.sizes["train"])
    return curves.where_parameters_sit(layers, int(images))


def layers_of(arm: ArmResult, layer_type: str) -> list[Any]:
    from coursebook.course import models

    return [layer for layer in models.load_spec(arm.model).layers if layer.type == layer_type]


def setting(arm: ArmResult, key: str) -> str:
    """One of the arm's effective settings in words (:func:`coursebook.course.report.describe_setting`)."""
    from coursebook.course import report

    return report.describe_setting(key, arm.settings.get(key))


def setting_differences(
    arm: ArmResult, reference: ArmResult, besides: Sequence[str] = ()
) -> list[tuple[str, Any, Any]]:
    """(setting, arm's value, reference's) for every training setting that differs."""
    keys = (
        "optimizer",
        "learning_rate",
        "batch_size",
        "epochs",
        "train_size",
        "early_stopping",
        "checkpoint",
        "augmentation",
    )
    return [
        (key, setting(arm, key), setting(reference, key))
        for key in keys
        if key not in besides and arm.settings.get(key) != reference.settings.get(key)
    ]
