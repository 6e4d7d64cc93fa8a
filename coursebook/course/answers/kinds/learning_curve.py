"""``learning-curve``: validation accuracy against the number of training images (one arm per
size). A curve that rises at every step, with the whole rise beyond the sampling error of the
validation images, is concluded: more images help (one clause says when each size ran once)."""

from __future__ import annotations

import itertools

from coursebook.course import uncertainty
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.results import ArmResult, Results


@register("learning-curve")
def answer(results: Results, question: Question) -> Section:
    arms = sorted(facts.learned(facts.arms(results, question)), key=lambda a: a.settings["train_size"] or 0)
    if len(arms) < 2:
        return Section("Fewer than two sizes have runs that learned, so there is no curve to read.")
    n = int(results.dataset.sizes["validation"])
    means = [facts.average(arm.values("val_accuracy")) for arm in arms]
    sizes = [int(arm.settings["train_size"]) for arm in arms]
    steps = [_gain(results, b, a) for a, b in itertools.pairwise(arms)]
    overall = _gain(results, arms[-1], arms[0])
    error = uncertainty.binomial_se(means[-1], n)
    points = ", ".join(f"{uncertainty.rounded(m, error)} with {s:,}" for m, s in zip(means, sizes, strict=True))
    single = max(len(arm.learned_runs()) for arm in arms) == 1
    caveat = ", though each size ran once, so a run-to-run spread is not measured" if single else ""
    monotone = all(step.value > 0 for step in steps)
    beyond = [
        f"{s:,} → {t:,}"
        for (s, t), step in zip(itertools.pairwise(sizes), steps, strict=True)
        if step.direction == "higher"
    ]
    if monotone and overall.direction == "higher":
        direct = (
            f"More training images helped: validation accuracy rose at every step ({points} images), "
            f"{overall.text()} from the smallest to the largest size, beyond the sampling error of {n:,} "
            f"validation images{caveat}."
        )
    elif overall.direction == "higher":
        direct = (
            f"Validation accuracy rose overall ({points} images; {overall.text()}, beyond the sampling error of "
            f"{n:,} images) but not at every step{caveat}."
        )
    else:
        direct = (
            f"Validation accuracy did not change beyond the sampling error of {n:,} images between the smallest "
            f"and the largest size ({points} images; {overall.text()}){caveat}."
        )
    detail = [
        f"Steps beyond the error on their own: {', '.join(beyond)}."
        if beyond
        else "No single step is beyond the error on its own; the conclusion rests on the whole curve."
        if overall.direction == "higher"
        else ""
    ]
    last = steps[-1]
    detail.append(
        "Between the two largest sizes it "
        + (
            "still rose beyond the error, so more images would likely help further."
            if last.direction == "higher"
            else f"changed by {last.text()}, within the error."
        )
    )
    if question.highlight and question.highlight in sizes and question.highlight != sizes[-1]:
        i = sizes.index(question.highlight)
        detail.append(
            f"The assignment's {question.highlight:,}-image subset reached "
            f"{uncertainty.rounded(means[i], error)}, against {uncertainty.rounded(means[-1], error)} with "
            f"{sizes[-1]:,}."
        )
    section = Section(direct, detail, [facts.per_run_table(results, arms, ["val_accuracy", "gap", "test_accuracy"])])
    return section


def _gain(results: Results, arm: ArmResult, reference: ArmResult) -> uncertainty.Difference:
    """``arm``'s validation accuracy minus ``reference``'s (arms that learned, so both have runs)."""
    found = facts.difference(results, arm, reference, "val_accuracy")
    if found is None:
        raise ValueError(f"learning-curve: arm {arm.name!r} or {reference.name!r} has no run")
    return found
