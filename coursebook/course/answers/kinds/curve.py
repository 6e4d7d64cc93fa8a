"""``curve``: arms compared on a per-epoch measure at equal epochs over the whole curve, never at
each arm's own evaluated epoch (arms evaluated at different epochs would mix training lengths)."""

from __future__ import annotations

from coursebook import markdown
from coursebook.course import curves
from coursebook.course.answers import facts
from coursebook.course.answers.kinds.fit import _epochs
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose import measure_names
from coursebook.course.prose.numbers import md
from coursebook.course.results import ArmResult, Results


@register("curve", epochs=("equal", "curve"))
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    measure = question.measure or "train_loss"
    runs = [run for arm in arms for run in arm.learned_runs()]
    words = measure_names.words(measure, runs, curve_of=True)
    if len(arms) < 2:
        return Section(f"No comparison of the {words} is possible: fewer than two arms have a run that learned.")
    reference, sections = arms[0], []
    tables, direct = [], []
    for arm in arms[1:]:
        found = curves.equal_epochs(arm.curves(measure), reference.curves(measure))
        direct.append(sentence(arm, reference, found, words))
        tables.append(table(arm, reference, found))
    evaluated = {arm.name: [run.evaluated_epoch for run in arm.learned_runs()] for arm in arms}
    if len({tuple(v) for v in evaluated.values()}) > 1:
        sections.append(
            "The arms' evaluated weights come from different epochs ("
            + "; ".join(f"{facts.name(a)}: {facts.run_epochs(e)}" for a, e in evaluated.items())
            + "), so the comparison is made epoch by epoch instead."
        )
    section = Section(" ".join(direct), sections, tables)
    return section


def sentence(arm: ArmResult, reference: ArmResult, found: curves.EqualEpochs, words: str) -> str:
    """Where the arm's curve lay below or above the reference's (in every paired seed), and the
    values at the last epoch both trained."""
    lower, higher = found.lower_epochs(), found.higher_epochs()
    parts = [f"{side} at {_epochs(epochs)}" for side, epochs in (("lower", lower), ("higher", higher)) if epochs]
    every = " in every seed" if len(found.per_seed) > 1 else ""
    text = f"At equal epochs, {facts.name(arm.name)}'s {words} was " + (
        f"{' and '.join(parts)} than {facts.name(reference.name)}'s{every}"
        if parts
        else f"neither lower nor higher than {facts.name(reference.name)}'s{every} at any epoch"
    )
    mixed = len(found.epochs) - len(lower) - len(higher)
    if parts and mixed:
        text += f"; at {mixed} other epoch{'s' if mixed > 1 else ''} the seeds disagreed"
    last = found.epochs[-1]
    return (
        f"{text}. At epoch {last}, the last both trained, it was {found.arm[-1]:.2f} against "
        f"{found.reference[-1]:.2f}{facts.seed_means_note(len(found.per_seed))}."
    )


def table(arm: ArmResult, reference: ArmResult, found: curves.EqualEpochs) -> str:
    """Epoch by epoch: both seed means, their difference and each paired seed's difference."""
    seeds = sorted(found.per_seed)
    head = ["epoch", md(reference.name), md(arm.name), "difference", *(f"difference, seed {s}" for s in seeds)]
    rows = [
        [
            epoch,
            f"{found.reference[i]:.3f}",
            f"{found.arm[i]:.3f}",
            f"{found.difference[i]:+.3f}",
            *(f"{found.per_seed[s][i]:+.3f}" for s in seeds),
        ]
        for i, epoch in enumerate(found.epochs)
    ]
    return markdown.table(head, rows, numeric=[True] * len(head))
