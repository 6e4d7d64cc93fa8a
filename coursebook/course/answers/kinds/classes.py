"""``classes``: per-class precision, recall and F1 of the evaluated weights on the test set (means
over seeds) and the most confused pairs of classes, named by class."""

from __future__ import annotations

import numpy as np

from coursebook import markdown
from coursebook.course.answers import facts
from coursebook.course.answers.registry import Question, Section, register
from coursebook.course.prose.numbers import md
from coursebook.course.results import Results


@register("classes")
def answer(results: Results, question: Question) -> Section:
    from coursebook.course.prose import confusion

    arms = facts.learned(facts.arms(results, question))
    if not arms:
        return Section("No run learned, so there is no classification report to read.")
    arm = arms[0]
    runs = arm.learned_runs()
    classes = list(results.dataset.class_names)
    scores = {
        c: {m: facts.average([r.classification_report[c][m] for r in runs]) for m in ("precision", "recall", "f1")}
        for c in classes
    }
    best = max(classes, key=lambda c: scores[c]["f1"])
    worst = min(classes, key=lambda c: scores[c]["f1"])
    summed = np.sum([np.asarray(r.confusion["test"]) for r in runs], axis=0)
    pairs = confusion.most_confused_pairs(summed, classes)
    n_test = int(results.dataset.sizes["test"])
    direct = (
        f"On the {n_test:,} test images ({facts.name(arm.name)}{facts.seed_means(len(runs))}), the best-recognized "
        "class was "
        f"{md(best)} (precision {scores[best]['precision']:.2f}, recall {scores[best]['recall']:.2f}, "
        f"F1 {scores[best]['f1']:.2f}) and the worst {md(worst)} (precision {scores[worst]['precision']:.2f}, "
        f"recall {scores[worst]['recall']:.2f}, F1 {scores[worst]['f1']:.2f})."
    )
    detail = [f"Summed over {facts.seeds(arm)}, {pairs.sentence[:1].lower()}{pairs.sentence[1:]}"]
    rows = [[md(c), *(f"{scores[c][m]:.2f}" for m in ("precision", "recall", "f1"))] for c in classes]
    return Section(
        direct,
        detail,
        [markdown.table(["class", "precision", "recall", "F1"], rows, numeric=[False, True, True, True])],
    )
