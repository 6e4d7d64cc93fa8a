"""``fit``: is a model over- or under-fitting? Read from each run's validation-loss curve (where it
bottoms and what follows) and its accuracy gap; with two or more arms, their validation losses are
also compared epoch by epoch."""

from __future__ import annotations

from coursebook import markdown
from coursebook.course import curves
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import join, md
from coursebook.course.results import ArmResult, Results


@register("fit", epochs=("curve",))
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    fits = {arm.name: facts.arm_fits(results, arm) for arm in arms}
    states = [
        f"{'Model' if i == 0 else 'model'} {facts.name(arm.name)} {_state_words(fits[arm.name])}"
        for i, arm in enumerate(arms)
    ]
    failed = [arm for arm in facts.arms(results, question) if arm not in arms]
    direct = "; ".join(states) + "." if states else "No fit can be read."
    if failed:
        direct += f" No run of {', '.join(facts.name(a.name) for a in failed)} learned."
    detail = [facts.shape_sentence(arm, fits[arm.name]) + _gap_note(fits[arm.name]) for arm in arms]
    if len(arms) >= 2 and question.measure == "val_loss":  # the question compares the validation losses
        direct += " " + " ".join(equal_epoch_loss(arm, arms[0]) for arm in arms[1:])
        differences = [(arm, facts.difference(results, arm, arms[0], "val_loss")) for arm in arms[1:]]
        detail += [  # with one run per arm a loss has no error to judge it by: the table shows the values
            facts.verdict(d, "validation loss of the evaluated weights", arm, arms[0]) + "."
            for arm, d in differences
            if d is not None
        ]
    return Section(direct, detail, [fit_table(arms, fits)])


def _gap_note(fits: list[facts.RunFit]) -> str:
    """Where an over-fitting label rests on a growing gap rather than a rising validation loss."""
    by_gap = [f for f in fits if f.state == curves.OVER and f.shape.state != curves.RISING]
    if not by_gap:
        return ""
    return (
        f" In {len(by_gap)} of {len(fits)} runs the over-fitting shows in the training − validation accuracy gap, "
        "which grew beyond its noise after the validation-loss minimum."
    )


PREDICATES = {  # each fit state as what a sentence says of a model
    curves.OVER: "was over-fitting",
    curves.UNDER: "was under-fitting",
    curves.LEVELLED: "had levelled off",
    curves.STILL_IMPROVING: "was still improving when the budget ran out",
}


def _state_words(fits: list[facts.RunFit]) -> str:
    """What the runs' fit states say of the model: one state with its gloss, or each state with its count."""
    states = [f.state for f in fits]
    if len(set(states)) == 1:
        if states[0] == curves.STILL_IMPROVING:
            return f"{PREDICATES[states[0]]} (neither over- nor under-fitting could show yet)"
        if states[0] == curves.LEVELLED:
            return f"{PREDICATES[states[0]]} without clear over- or under-fitting"
        return PREDICATES[states[0]]
    counts = {state: states.count(state) for state in dict.fromkeys(states)}
    return join([f"{PREDICATES[state]} in {count} of {len(states)} runs" for state, count in counts.items()])


def equal_epoch_loss(arm: ArmResult, reference: ArmResult) -> str:
    """The two arms' validation losses at equal epochs: where the arm was lower in every paired
    seed, where higher, and the values at the last common epoch."""
    found = curves.equal_epochs(arm.curves("val_loss"), reference.curves("val_loss"))
    last = found.epochs[-1]
    lower, higher = found.lower_epochs(), found.higher_epochs()
    where = []
    if lower:
        where.append(f"lower at {_epochs(lower)}")
    if higher:
        where.append(f"higher at {_epochs(higher)}")
    trend = " and ".join(where) if where else "neither lower nor higher in every seed at any epoch"
    mixed = len(found.epochs) - len(lower) - len(higher)
    disagree = f"; at {mixed} other epoch{'s' if mixed > 1 else ''} the seeds disagreed" if where and mixed else ""
    return (
        f"At equal epochs, {facts.name(arm.name)}'s validation loss was {trend} than {facts.name(reference.name)}'s"
        f"{disagree} (epoch {last}: {found.arm[-1]:.2f} against {found.reference[-1]:.2f}"
        f"{facts.seed_means(len(found.per_seed))})."
    )


def _epochs(epochs: tuple[int, ...]) -> str:
    """'epochs 2–10', 'epoch 1', 'epochs 1, 3 and 5'."""
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if list(epochs) == list(range(epochs[0], epochs[-1] + 1)):
        return f"epochs {epochs[0]}–{epochs[-1]}"
    return "epochs " + join([str(e) for e in epochs])


def fit_table(arms: list[ArmResult], fits: dict[str, list[facts.RunFit]]) -> str:
    rows = [
        [
            md(arm.name),
            f.seed,
            f"{f.shape.best:.3f} ({f.shape.best_epoch})",
            f"{f.shape.last:.3f} ({f.shape.epochs})",
            f"{f.gap:.3f}",
            f.state,
        ]
        for arm in arms
        for f in fits[arm.name]
    ]
    return markdown.table(
        [
            "arm",
            "seed",
            "lowest validation loss (epoch)",
            "validation loss at the last epoch (epoch)",
            "training − validation accuracy",
            "fit",
        ],
        rows,
        numeric=[False, True, True, True, True],
    )
