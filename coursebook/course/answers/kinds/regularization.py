"""``regularization``: which of several techniques, each added to the first arm named (the base),
helps more against over-fitting. A technique helps when, against the base, its validation loss rose
less after its minimum or its training − validation gap narrowed beyond the error, without a lower
validation accuracy; the verdict follows those numbers and names any accuracy it cost."""

from __future__ import annotations

from coursebook.course import curves
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import join
from coursebook.course.results import Results


@register("regularization", epochs=("curve",))
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    if len(arms) < 2:
        return Section("No comparison is possible: fewer than two arms have a run that learned.")
    base, techniques = arms[0], arms[1:]
    fits = {arm.name: facts.arm_fits(results, arm) for arm in arms}
    base_state = facts.arm_state(fits[base.name])
    detail, helped = [], []
    for arm in techniques:
        gap = facts.difference(results, arm, base, "gap")
        val = facts.difference(results, arm, base, "val_accuracy")
        narrower = gap is not None and gap.direction == "lower"
        cost = val is not None and val.direction == "lower"
        if narrower and not cost:
            helped.append(arm)
        detail.append(
            f"{facts.verdict(gap, 'training − validation accuracy gap', arm, base)}; "
            f"{facts.verdict(val, 'validation accuracy', arm, base, start=False)}; "
            f"{facts.after_minimum(fits[arm.name], 'its validation loss')}."
        )
    if base_state == curves.STILL_IMPROVING:
        direct = (
            f"The base model {facts.name(base.name)} was itself still improving when the budget ran out (its "
            "validation loss still falling at the last epoch), so this budget shows no over-fitting for either "
            "technique to reduce; which helps more against it cannot be read here."
        )
    elif len(helped) == 1:
        direct = (
            f"Against over-fitting, {facts.name(helped[0].name)} helped more: only it narrowed the gap to "
            f"{facts.name(base.name)} beyond the error without costing validation accuracy."
        )
    elif helped:
        between = facts.difference(results, helped[1], helped[0], "gap")
        direct = (
            f"Both {join([facts.name(a.name) for a in helped])} narrowed the gap without costing accuracy; "
            f"between them, {facts.verdict(between, 'gap', helped[1], helped[0], start=False)}."
        )
    else:
        direct = (
            "Neither technique narrowed the gap beyond the error without costing validation accuracy, so "
            "these runs do not show one helping more against over-fitting."
        )
    section = Section(direct, detail, [facts.per_run_table(results, arms, ["gap", "val_accuracy", "test_accuracy"])])
    return section
