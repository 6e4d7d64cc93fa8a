"""``report``: the evaluated weights' scores, each with the error it is known to: training,
validation and test accuracy (the question's ``measure`` first) with ±2 standard errors, from the
images each was measured on or the seeds' spread where larger, and the losses beside them."""

from __future__ import annotations

from coursebook.course import uncertainty
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose import measure_names
from coursebook.course.results import ArmResult, Results

ACCURACIES = ("train_accuracy", "val_accuracy", "test_accuracy")


@register("report")
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    if not arms:
        return Section("No run learned, so there is nothing to report.")
    first = question.measure if question.measure in ACCURACIES else "test_accuracy"
    order = [first, *(m for m in ACCURACIES if m != first)]
    direct = [
        f"Evaluated weights of {facts.name(arm.name)} ({facts.seeds(arm)}): "
        + ", ".join(score(results, arm, m) for m in order)
        for arm in arms
    ]
    losses = [
        f"{facts.name(arm.name)}: "
        + ", ".join(
            f"{measure_names.words(m)} {facts.average(arm.values(m)):.2f}"
            for m in ("train_loss", "val_loss", "test_loss")
        )
        for arm in arms
    ]
    section = Section(
        ". ".join(direct) + ".",
        [f"Losses{facts.seed_means(*(len(arm.learned_runs()) for arm in arms))}: " + "; ".join(losses) + "."],
        [facts.per_run_table(results, arms, [*order, "val_loss"])],
    )
    return section


def score(results: Results, arm: ArmResult, measure: str) -> str:
    """'test accuracy 0.41 ± 0.03' (±2 standard errors: sampling, or the seeds' where larger)."""
    values = arm.values(measure)
    mean = facts.average(values)
    n = results.images(measure)
    if n is None:
        raise ValueError(f"score: {measure!r} is no accuracy, so it has no sampling error")
    if measure == "train_accuracy":
        n = arm.settings.get("train_size") or n  # a learning curve's arm trains on its own subset
    se = uncertainty.binomial_se(mean, int(n))
    seeds = uncertainty.seed_se(values)
    margin = 2 * max(se, seeds or 0.0)
    return f"{measure_names.words(measure)} {uncertainty.rounded(mean, margin)} ± {uncertainty.rounded(margin, margin)}"
