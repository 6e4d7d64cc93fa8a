"""``speed``: how fast each arm learns: the epochs each run needed to reach a validation-accuracy
mark that every run reached (a fraction of the lowest best value, so the budget can always answer),
the accuracy after epoch 1, and the whole training time beside the time per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coursebook import markdown
from coursebook.course import curves, history, uncertainty
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import md
from coursebook.course.results import ArmResult, Results


@register("speed", epochs=("curve",))
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    if not arms:
        return Section("No run learned, so there is no learning speed to read.")
    curves_ = [c for arm in arms for c in arm.curves("val_accuracy").values()]
    mark = curves.reachable_mark(curves_, question.mark)
    reached = {arm.name: [_reached(c, mark) for c in arm.curves("val_accuracy").values()] for arm in arms}
    mean_epochs = {name: facts.average(epochs) for name, epochs in reached.items()}
    order = sorted(arms, key=lambda arm: mean_epochs[arm.name])
    each = "; ".join(f"{facts.name(arm.name)} at {facts.run_epochs(reached[arm.name])}" for arm in order)
    direct = (
        f"With validation accuracy {mark:.2f} as the mark ({question.mark:.0%} of the lowest best value any run "
        f"reached, so every run reached it), the runs reached it at these epochs: {each}."
    )
    detail = [first_epoch_sentence(results, arms), time_sentence(arms)]
    section = Section(direct, detail, [table(arms, reached)])
    return section


def first_epoch_sentence(results: Results, arms: list[ArmResult]) -> str:
    """How far each arm got in epoch 1, against the first arm, judged by the validation images'
    sampling error (and the seeds' spread where larger)."""
    n_val = int(results.dataset.sizes["validation"])
    first = {arm.name: [c[0] for c in arm.curves("val_accuracy").values()] for arm in arms}
    reference = arms[0]
    parts = []
    for arm in arms[1:]:
        d = uncertainty.accuracy_difference(first[arm.name], first[reference.name], n_val)
        side = "the same as" if d.direction == "same" else f"{d.direction} than"
        parts.append(f"{facts.name(arm.name)}'s was {side} {facts.name(reference.name)}'s ({d.text()}, {d.basis})")
    values = "; ".join(f"{facts.name(a.name)} {uncertainty.rounded(facts.average(first[a.name]), 0.01)}" for a in arms)
    note = facts.seed_means_note(*(len(first[a.name]) for a in arms))
    return f"After epoch 1, validation accuracy was {values}{note}; " + "; ".join(parts) + "."


def time_sentence(arms: list[ArmResult]) -> str:
    """Whole training time and time per epoch, as seed means (each run's in the table)."""
    parts = []
    for arm in arms:
        runs = arm.learned_runs()
        total = facts.average([curves.total_time(run.seconds_per_epoch) for run in runs])
        per_epoch = facts.average([history.epoch_time(run.seconds_per_epoch) for run in runs])
        parts.append(f"{facts.name(arm.name)} {total:.0f} s in all, {per_epoch:.2g} s per epoch")
    return (
        f"Training time{facts.seed_means(*(len(arm.learned_runs()) for arm in arms))}: "
        + "; ".join(parts)
        + f" (time per epoch: the {history.EPOCH_TIME}, since "
        "the first epoch includes compilation)."
    )


def table(arms: list[ArmResult], reached: Mapping[str, Sequence[int | None]]) -> str:
    rows = [
        [
            md(arm.name),
            run.seed,
            epoch,
            f"{run.curve('val_accuracy')[0]:.3f}",
            run.stopped_epoch,
            f"{curves.total_time(run.seconds_per_epoch):.1f}",
            f"{history.epoch_time(run.seconds_per_epoch):.2f}",
        ]
        for arm in arms
        for run, epoch in zip(arm.learned_runs(), reached[arm.name], strict=True)
    ]
    return markdown.table(
        [
            "arm",
            "seed",
            "epoch reaching the mark",
            "validation accuracy after epoch 1",
            "epochs trained",
            "training time (s)",
            "seconds per epoch",
        ],
        rows,
        numeric=[False, *[True] * 6],
    )


def _reached(curve: Sequence[float], mark: float) -> int:
    """The epoch ``curve`` first reaches ``mark``, a mark that every curve reached."""
    epoch = curves.epochs_to_mark(curve, mark)
    if epoch is None:
        raise ValueError(f"speed: a curve never reached {mark}, which every curve should have")
    return epoch
