"""``stopping``: what early stopping did in each run: where it stopped, which epoch's weights it
restored, and what the validation curves did after that epoch (did accuracy still rise?)."""

from __future__ import annotations

from typing import Any

from coursebook.course import measures, uncertainty
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import md


@register("stopping", epochs=("curve",))
def answer(results: Any, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    if not arms:
        return Section("No run learned, so early stopping cannot be read.")
    n_val = int(results.dataset.sizes["validation"])
    direct, rows = [], []
    for arm in arms:
        runs = measures.learned_runs(arm)
        configured = int(arm.settings["epochs"])
        stopped = [run.stopped_epoch for run in runs]
        restored = [run.evaluated_epoch for run in runs]
        early = sum(s < configured for s in stopped)
        after = [_accuracy_after(run, n_val) for run in runs]
        rose = sum(gain is not None for gain, _ in after)
        text = (f"For {facts.name(arm.name)}, {early} of {len(runs)} runs stopped before epoch {configured} "
                f"(at epoch {facts.epochs_list(stopped)}), and the restored weights were those of epoch "
                f"{facts.epochs_list(restored)}")
        if rose:
            text += (f"; in {rose} of {len(runs)} runs validation accuracy rose beyond its sampling error after the "
                     "restored epoch, so restoring the lowest validation loss gave up accuracy that later epochs had")
        else:
            text += "; after the restored epoch validation accuracy never rose beyond its sampling error"
        direct.append(text + ".")
        for run, (gain, epoch) in zip(runs, after):
            rows.append(f"| {md(arm.name)} | {run.seed} | {run.stopped_epoch} | {run.evaluated_epoch} | "
                        f"{run.history['val_accuracy'][run.evaluated_epoch - 1]:.3f} | "
                        f"{max(run.history['val_accuracy'][:run.stopped_epoch]):.3f} |")
    table = ("| arm | seed | stopped at epoch | restored epoch | validation accuracy, restored | best validation "
             "accuracy, any epoch |\n| --- | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows))
    section = Section(" ".join(direct), [], [table])
    return section


def _accuracy_after(run: Any, n_val: int) -> tuple[float | None, int | None]:
    """The largest validation-accuracy gain after the restored epoch, if beyond twice the sampling
    error of a difference on ``n_val`` images, and its epoch."""
    curve = run.history["val_accuracy"][:run.stopped_epoch]
    at = float(curve[run.evaluated_epoch - 1])
    later = curve[run.evaluated_epoch:]
    if not later:
        return None, None
    best = max(later)
    if best - at > 2 * uncertainty.difference_se(best, at, n_val):
        return best - at, run.evaluated_epoch + 1 + later.index(best)
    return None, None
