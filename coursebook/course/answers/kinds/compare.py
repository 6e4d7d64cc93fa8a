"""``compare``: arms against the first one named, on one measure of each run's evaluated weights.
An accuracy difference is judged by the evaluation set's sampling error (and the seeds' spread
where larger); a difference inside it is "the same within ±x", never higher or lower."""

from __future__ import annotations

from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose import measure_names
from coursebook.course.results import Results


@register("compare")
def answer(results: Results, question: Question) -> Section:
    arms = facts.learned(facts.arms(results, question))
    measure = question.measure or "val_accuracy"
    words = measure_names.words(measure)
    if len(arms) < 2:
        return Section(f"No comparison of {words} is possible: fewer than two arms have a run that learned.")
    reference = arms[0]
    said = [
        facts.verdict(facts.difference(results, arm, reference, measure), words, arm, reference) for arm in arms[1:]
    ]
    shown = list(dict.fromkeys([measure, "val_accuracy", "test_accuracy", "train_accuracy"]))
    others = [
        facts.verdict(facts.difference(results, arm, reference, m), measure_names.words(m), arm, reference)
        for m in shown[1:]
        for arm in arms[1:]
    ]
    section = Section(". ".join(said) + ".", [". ".join(others) + "."], [facts.per_run_table(results, arms, shown)])
    return section
