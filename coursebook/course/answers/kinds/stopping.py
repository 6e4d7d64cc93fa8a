"""``stopping``: what early stopping did in each run: where it stopped, which epoch's weights it
restored, and what the validation curves did after that epoch (did accuracy still rise?)."""

from __future__ import annotations

from coursebook import markdown
from coursebook.course import uncertainty
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import md
from coursebook.course.results import ArmResult, Results, Run


@register("stopping", epochs=("curve",))
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    if not arms:
        return Section("No run learned, so early stopping cannot be read.")
    n_val = int(results.dataset.sizes["validation"])
    direct, rows, why = [], [], []
    for arm in arms:
        runs = arm.learned_runs()
        configured = int(arm.settings["epochs"])
        stopped = [run.stopped_epoch for run in runs]
        restored = [run.evaluated_epoch for run in runs]
        early = sum(s < configured for s in stopped)
        after = [_accuracy_after(run, n_val) for run in runs]
        rose = sum(gain is not None for gain, _ in after)
        text = (
            f"For {facts.name(arm.name)}, {early} of {len(runs)} runs stopped before epoch {configured} "
            f"(at {facts.run_epochs(stopped)}), and the restored weights were those of "
            f"{facts.run_epochs(restored)}"
        )
        if rose:
            text += (
                f"; in {rose} of {len(runs)} runs validation accuracy rose beyond its sampling error after the "
                "restored epoch, so restoring the lowest validation loss gave up accuracy that later epochs had"
            )
        else:
            text += "; after the restored epoch validation accuracy never rose beyond its sampling error"
        direct.append(text + ".")
        why += [
            loss_against_accuracy(arm, run, epoch)
            for run, (gain, epoch) in zip(runs, after, strict=True)
            if epoch is not None
        ]
        rows += [
            [
                md(arm.name),
                run.seed,
                run.stopped_epoch,
                run.evaluated_epoch,
                f"{run.curve('val_accuracy')[run.evaluated_epoch - 1]:.3f}",
                f"{max(run.curve('val_accuracy')):.3f}",
            ]
            for run in runs
        ]
    table = markdown.table(
        [
            "arm",
            "seed",
            "stopped at epoch",
            "restored epoch",
            "validation accuracy, restored",
            "best validation accuracy, any epoch",
        ],
        rows,
        numeric=[False, *[True] * 5],
    )
    return Section(" ".join(direct), [], [table], [WATCHED, *why] if why else [])


WATCHED = (
    "The restored weights were not the most accurate ones because loss and accuracy parted after the restored epoch."
)


def loss_against_accuracy(arm: ArmResult, run: Run, epoch: int) -> str:
    """Why the restored weights scored lower: between the restored epoch and ``epoch`` (where accuracy
    was higher) the two validation curves, and which way the loss went."""
    restored = run.evaluated_epoch
    losses, accuracies = run.curve("val_loss"), run.curve("val_accuracy")
    loss = losses[restored - 1], losses[epoch - 1]
    accuracy = accuracies[restored - 1], accuracies[epoch - 1]
    said = (
        f"In {facts.name(arm.name)}'s seed {run.seed}, from epoch {restored} to epoch {epoch} validation accuracy "
        f"rose from {accuracy[0]:.3f} to {accuracy[1]:.3f} while validation loss went from {loss[0]:.3f} to "
        f"{loss[1]:.3f}"
    )
    if round(loss[1], 3) > round(loss[0], 3):
        return (
            said + ": the later weights classified more validation images correctly, but gave the right class "
            "less probability on the images they found hard, which cross-entropy penalizes and accuracy does "
            "not count."
        )
    return (
        said + ": the loss did not fall below its restored value, so the later, more accurate weights were not chosen."
    )


def _accuracy_after(run: Run, n_val: int) -> tuple[float | None, int | None]:
    """The largest validation-accuracy gain after the restored epoch, if beyond twice the sampling
    error of a difference on ``n_val`` images, and its epoch."""
    curve = run.curve("val_accuracy")
    at = float(curve[run.evaluated_epoch - 1])
    later = curve[run.evaluated_epoch :]
    if not later:
        return None, None
    best = max(later)
    if best - at > 2 * uncertainty.difference_se(best, at, n_val):
        return best - at, run.evaluated_epoch + 1 + later.index(best)
    return None, None
