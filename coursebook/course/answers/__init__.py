"""A chapter's "Answer" section: each sub-question its chapter declares (``questions`` in
``params/<id>.yaml``) answered by the strategy of its kind (:mod:`.registry`, one module per kind in
:mod:`.kinds`), from facts computed on this run's curves (:mod:`coursebook.course.curves`) and judged
against everything the run measured (:mod:`coursebook.course.uncertainty`).

The page opens with every question's direct answer (an ``answer-summary`` block), then per question
its evidence, per-run tables and, where the question asks to explain, the mechanism weighed against
the numbers (:mod:`.mechanisms`); the limits of the evidence come once, last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from coursebook.course.answers import facts, mechanisms, registry
from coursebook.course.answers.facts import name
from coursebook.course.answers.registry import Question, Section
from coursebook.course.prose.numbers import fmt, join, md
from coursebook.course.results import ArmResult, Results

__all__ = [
    "Question",
    "Section",
    "answer",
    "backprop",
    "feedforward",
    "limits",
    "parameter_count",
    "section",
    "sentences",
    "summary_block",
    "template",
]


def summary_block(text: str) -> str:
    """The direct answer, in the admonition the page styles as ``answer-summary``."""
    return f"```{{admonition}} Answer\n:class: answer-summary\n{text}\n```"


def number(value: float, digits: int = 4) -> str:
    return fmt(value, digits)


def answer(results: Results, questions: Sequence[Mapping[str, Any] | Question], head: Sequence[str] = ()) -> str:
    """The whole Answer section: each question's direct answer first (after ``head``), then per
    question its evidence, tables and explanation, then the limits once."""
    asked = registry.questions(questions)
    sections = [(q, section(results, q)) for q in asked]
    direct = [*head, *(f"**{md(q.label)}.** {s.direct}" if q.label else s.direct for q, s in sections)]
    blocks = [summary_block("\n\n".join(direct))]
    for q, s in sections:
        label = f"**{md(q.label)}.** " if q.label else ""
        blocks.append(f"{label}*{md(q.ask)}*")
        if any(s.detail):
            blocks.append(" ".join(d for d in s.detail if d))
        blocks += [t for t in s.tables if t]
        if s.why:
            blocks.append("**Why.** " + " ".join(s.why))
    blocks.append(limits(results))
    return "\n\n".join(blocks)


def section(results: Results, question: Question) -> Section:
    """One question answered by its kind's strategy, with the explanation it asks for weighed against
    the facts of every arm it names (:mod:`.mechanisms`)."""
    answered = registry.strategy(question.kind)(results, question)
    if question.explain:
        arms = facts.arms(results, question)
        fits = {arm.name: facts.arm_fits(results, arm) for arm in arms if arm.learned_runs()}
        answered.why = [*mechanisms.explain(question.explain, results, arms, fits), *answered.why]
    return answered


def limits(results: Results) -> str:
    """The limits of the evidence, once: how differences are judged, the profile, the data, the
    batch-normalization statistics, runs that did not learn."""
    n, per_arm = results.runs_count(), " per arm" if len(results.arms) > 1 else ""
    runs = f"{n} runs (seeds){per_arm}" if n > 1 else f"one run{per_arm}, so no run-to-run spread"
    recorded = all(run.correct for arm in results.arms for run in arm.runs)
    paired = "image by image for models scored on the same images" if recorded else "unpaired: no per-image record"
    parts = [f"These results rest on {runs}. {_judged(results, paired)}"]
    if results.profile in ("smoke", "quick"):
        parts.append(
            f"The {results.profile} profile trains fewer epochs on fewer images than the assignment, so "
            "these are not the assignment's numbers."
        )
    if results.dataset.synthetic:
        parts.append(f"The images are the {results.dataset.name}, not CIFAR-10.")
    normed = [arm.name for arm in results.arms if _has_batchnorm(arm)]
    if normed:
        parts.append(
            f"Batch-normalization statistics of {join([name(a) for a in normed])} were re-estimated from "
            "training images before every evaluation."
        )
    parts += [_borrowed(arm) for arm in results.arms if arm.source_chapter]
    failed = [
        f"{sum(not r.learned for r in arm.runs)} of {len(arm.runs)} runs of {name(arm.name)} "
        f"({'; '.join(dict.fromkeys(r.failure_cause for r in arm.runs if not r.learned))})"
        for arm in results.arms
        if any(not r.learned for r in arm.runs)
    ]
    if failed:
        parts.append("Runs that did not learn are left out of every number: " + "; ".join(failed) + ".")
    return "**Limits.** " + " ".join(parts)


def _judged(results: Results, paired: str) -> str:
    """How a difference between arms is judged; with one arm, what a ± is."""
    if len(results.arms) > 1:
        return (
            f"A difference is judged by the larger of its sampling error (binomial, {paired}) and its spread "
            "over seeds (seed by seed for arms sharing seeds and splits); within two standard errors it is "
            "reported as the same within ±that margin."
        )
    if results.runs_count() > 1:
        return "A ± is two standard errors: the larger of the sampling error (binomial) and the spread over seeds."
    return "A ± is two binomial standard errors (the sampling error of a proportion of these images)."


def _borrowed(arm: ArmResult) -> str:
    """Which chapter declares ``arm``, and whether its runs were read from the run store or trained here."""
    read = [run for run in arm.runs if run.read_from]
    others = sorted({run.read_from for run in read} - {arm.source_chapter})
    if len(read) == len(arm.runs):
        how = "its runs were read from the run store" + (
            f", computed by {join([md(c) for c in others])}" if others else ""
        )
    elif read:
        rest = len(arm.runs) - len(read)
        how = (
            f"{len(read)} of its {len(arm.runs)} runs {'was' if len(read) == 1 else 'were'} read from the run "
            f"store, {'the other' if rest == 1 else f'the other {rest}'} trained here"
        )
    else:
        how = "its runs were trained here (the run store did not hold them yet)"
    return f"Chapter {md(arm.source_chapter)} declares the arm {name(arm.name)}: {how}."


def _has_batchnorm(arm: ArmResult) -> bool:
    from coursebook.course import models

    try:
        return models.has_batch_norm(models.load_spec(arm.model))
    except models.ModelSpecError:  # an arm whose spec is not in params/models
        return False


# =========================================================================== pages without arms


def parameter_count(change: Any) -> str:
    """Problem 1(b) answered first: both totals, the difference, and what it is made of
    (``change``: :func:`coursebook.course.prose.parameter_counts.parameter_change`)."""
    added = int(change.only_in_extended["params"].sum()) if len(change.only_in_extended) else 0
    before, after = change.dense_base, change.dense_extended
    text = (
        f"The original model learns {change.base_total:,} parameters; with the extra block it learns "
        f"{change.extended_total:,}, {change.difference:+,}. The new layers add {added:,} weights, "
    )
    if before.layer_params != after.layer_params:
        text += (
            f"while the first dense layer changes from {before.layer_params:,} to {after.layer_params:,} "
            f"parameters because the vector it receives changes from {before.size:,} values "
            f"{before.feature_map} to {after.size:,} {after.feature_map}."
        )
    else:
        text += "and no other layer changes."
    return summary_block(text)


def backprop(checks: Any, losses: Sequence[float], verdict: str) -> str:
    """Part 1 answered first: the loss and dL/db1 against the assignment's, the two independent gradient
    checks, and where gradient descent ended (``verdict``: its sentence, computed from the whole curve)."""
    from coursebook.course.prose import backprop_checks as bc

    db1 = ", ".join(f"{v:.3g}" for v in checks.db1)
    fine = checks.max_rel_error_fd < bc.GRADIENT_TOLERANCE and (
        not math.isfinite(checks.max_rel_error_autodiff) or checks.max_rel_error_autodiff < bc.GRADIENT_TOLERANCE
    )
    about = "" if checks.stated_loss is None else f" (the assignment: about {checks.stated_loss:g})"
    text = (
        f"The forward pass gives L = {number(checks.loss)}{about} and the "
        f"backward pass dL/db1 = [{db1}]. The gradients are {'right' if fine else 'NOT confirmed'}: the largest "
        f"relative error is {checks.max_rel_error_fd:.1e} against central finite differences and "
        f"{checks.max_rel_error_autodiff:.1e} against automatic differentiation. {verdict}"
    )
    return summary_block(text)


def feedforward(
    results: Results,
    model: str,
    image_shapes: Sequence[Sequence[int]],
    questions: Sequence[Mapping[str, Any] | Question],
    num_classes: int = 10,
) -> str:
    """Part 2 answered first: the parameter count and its dependence on the image size (totals by formula
    for every (height, width, channels) in ``image_shapes``, the first the data's), then the questions."""
    from coursebook.course import models

    first_layer = [
        (
            tuple(int(v) for v in shape),
            models.parameter_summary(model, num_classes=num_classes, input_shape=(math.prod(shape),))["total"],
        )
        for shape in image_shapes
    ]
    (shape, total), *others = first_layer
    size = "; ".join(f"{h}×{w}×{c} images give {t:,}" for (h, w, c), t in others)
    units = next(layer.options["units"] for layer in models.load_spec(model).layers if layer.type == "dense")
    head = (
        f"The network has {total:,} parameters for {shape[0]}×{shape[1]}×{shape[2]} images, and the count "
        f"depends on the image height and width through the first dense layer only, (H · W · C + 1) · {units}"
        + (f" ({size})." if size else ".")
    )
    return answer(results, questions, head=[head])
