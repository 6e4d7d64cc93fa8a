"""A chapter's "Answer" section, as a grader would accept it: the answer first, only what the data
show, each caveat once.

Every comparative sentence is rendered from a :class:`Claim`: two arms, one metric read at each run's
evaluated epoch, the per-run values, and what follows from them (direction from the values as shown,
whether the difference is beyond run-to-run noise, which test said so, an effect size). A claim is
checked against the results it was read from before it is rendered (:meth:`Claim.check`), its
sentence is generated from its fields alone, and a mechanism paragraph is written only when the
claims it explains hold. The page states the test and the uncertainty rule once
(:func:`method_sentence`) and the limits once (:func:`limits`).

Rules of uncertainty: with fewer than :data:`MIN_RUNS` runs in an arm a difference is reported with
its per-run values and not judged; with at least that many, Welch's t-test decides together with the
effect size d (the difference over the pooled sample sd): beyond noise needs p < :data:`ALPHA` and
|d| > 1. A difference of two pooled sds or more is never called noise. When neither arm's runs vary
at all (zero spread, floating-point residue included) no test applies, and the page says the
difference appeared identically in every run.

A run that did not learn (``Run.learned`` false) is reported as failed with its cause, is never
diagnosed as over- or under-fitting, and is left out of every claim.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from coursebook.course import history
from coursebook.course.prose.numbers import capitalized, fmt, join, md, mean_sd, sd, shown

ALPHA = 0.05
MIN_RUNS = 3
GAP_OVERFIT = 0.05  # training minus validation accuracy (evaluation mode) that counts as over-fitting
UNDERFIT_ACCURACY = 0.7  # below this training accuracy with a small gap: under-fitting
RISE_EPOCHS = 3  # a validation-loss rise over this many epochs after its minimum counts as over-fitting


class ClaimError(ValueError):
    """A claim that does not match the results it says it was read from."""


# =========================================================================== one number formatter


def number(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals, never '-0.0000' (the prose formatter)."""
    return fmt(value, digits)


def signed(value: float, digits: int = 4) -> str:
    """'+0.0123', '-0.0123', '0.0000' (a shown zero has no sign)."""
    text = fmt(value, digits)
    return text if shown(value, digits) <= 0 else f"+{text}"


def spread(values: Sequence[float]) -> float | None:
    """Sample sd of the values (:func:`coursebook.course.prose.numbers.sd`: None for one value,
    exactly 0.0 for values equal to floating-point precision)."""
    return sd(np.asarray(values, dtype=float))


def average(values: Sequence[float]) -> float:
    return math.fsum(float(v) for v in values) / len(values)


def name(text: str) -> str:
    """An arm name in prose and tables: escaped once and set in bold, so it never starts a sentence
    in lower case and never reads as part of the sentence."""
    return f"**{md(text)}**"


# =========================================================================== what is read from a run


def learned(run: Any) -> bool:
    return bool(getattr(run, "learned", True))


def learned_runs(arm: Any) -> list[Any]:
    return [run for run in arm.runs if learned(run)]


def eval_mode_training(run: Any) -> dict[str, float] | None:
    """Evaluation-mode loss and accuracy on the training part (``Run.training``), when measured."""
    training = getattr(run, "training", None)
    return training if training and "accuracy" in training else None


def training_words(results: Any, what: str = "accuracy") -> str:
    """How the page names the training metric it reads: evaluation mode when every run measured it,
    else Keras' running metric, labelled as such."""
    if all(eval_mode_training(run) for arm in results.arms for run in arm.runs):
        return f"evaluation-mode training {what}"
    return f"running training {what} (Keras' training-mode value)"


def _training(run: Any, what: str) -> float:
    measured = eval_mode_training(run)
    return float(measured[what]) if measured else float(run.at_evaluated(what))


READERS: dict[str, Callable[[Any], float]] = {
    "val_accuracy": lambda run: float(run.validation["accuracy"]),
    "val_loss": lambda run: float(run.validation["loss"]),
    "test_accuracy": lambda run: float(run.test["accuracy"]),
    "test_loss": lambda run: float(run.test["loss"]),
    "train_accuracy": lambda run: _training(run, "accuracy"),
    "train_loss": lambda run: _training(run, "loss"),
    "gap": lambda run: _training(run, "accuracy") - float(run.validation["accuracy"]),
    "seconds": lambda run: float(history.epoch_time(run.seconds_per_epoch)),
    "first_val_accuracy": lambda run: float(run.history["val_accuracy"][0]),
}
HIGHER_IS_BETTER = {"val_accuracy": True, "val_loss": False, "test_accuracy": True, "test_loss": False,
                    "train_accuracy": None, "train_loss": None, "gap": False, "seconds": False,
                    "first_val_accuracy": True}
DIGITS = {"seconds": 2}


def metric_words(results: Any, metric: str) -> str:
    words = {"val_accuracy": "validation accuracy", "val_loss": "validation loss",
             "test_accuracy": "test accuracy", "test_loss": "test loss",
             "train_accuracy": training_words(results), "train_loss": training_words(results, "loss"),
             "gap": "training − validation accuracy", "seconds": f"seconds per epoch ({history.EPOCH_TIME})",
             "first_val_accuracy": "validation accuracy after epoch 1"}
    return words[metric]


def values(arm: Any, metric: str) -> tuple[float, ...]:
    """``metric`` of every learned run of ``arm`` (evaluated weights)."""
    return tuple(READERS[metric](run) for run in learned_runs(arm))


# =========================================================================== claims


@dataclass(frozen=True)
class Claim:
    """One comparison of ``arm`` against ``reference`` on ``metric``, with the per-run values it
    rests on; every property is computed from those values, and the sentence only from properties."""

    metric: str
    words: str
    arm: str
    reference: str
    arm_values: tuple[float, ...]
    reference_values: tuple[float, ...]
    higher_is_better: bool | None = None
    digits: int = 4

    @property
    def runs(self) -> tuple[int, int]:
        return len(self.arm_values), len(self.reference_values)

    @property
    def difference(self) -> float:
        """Shown mean of the arm minus shown mean of the reference, as shown."""
        a = shown(average(self.arm_values), self.digits)
        b = shown(average(self.reference_values), self.digits)
        return shown(a - b, self.digits)

    @property
    def direction(self) -> str:
        """'higher', 'lower' or 'same' (to the digits shown)."""
        return "same" if self.difference == 0 else ("higher" if self.difference > 0 else "lower")

    @property
    def better(self) -> bool | None:
        if self.higher_is_better is None or self.direction == "same":
            return None
        return (self.direction == "higher") == self.higher_is_better

    @property
    def judged(self) -> bool:
        return min(self.runs) >= MIN_RUNS

    @property
    def zero_spread(self) -> bool:
        return self.judged and spread(self.arm_values) == 0 and spread(self.reference_values) == 0

    @property
    def pooled_sd(self) -> float | None:
        if not self.judged:
            return None
        return math.sqrt((spread(self.arm_values) ** 2 + spread(self.reference_values) ** 2) / 2)

    @property
    def effect(self) -> float | None:
        """Cohen's d: the difference over the pooled sd (None untested or without spread)."""
        pooled = self.pooled_sd
        if not pooled:
            return None
        return (average(self.arm_values) - average(self.reference_values)) / pooled

    @property
    def p_value(self) -> float | None:
        if not self.judged or self.zero_spread:
            return None
        from scipy import stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ttest_ind(self.arm_values, self.reference_values, equal_var=False).pvalue)
        return p if math.isfinite(p) else None

    @property
    def verdict(self) -> str:
        """'no difference', 'not judged' (too few runs), 'every run' (no spread: the same in every
        run), 'beyond noise', 'not confirmed' (d ≥ 2 but p ≥ alpha: too few runs to confirm, never
        noise) or 'within noise'."""
        if self.direction == "same":
            return "no difference"
        if not self.judged:
            return "not judged"
        if self.zero_spread:
            return "every run"
        p, d = self.p_value, self.effect
        if p is not None and d is not None and p < ALPHA and abs(d) > 1:
            return "beyond noise"
        if d is not None and abs(d) >= 2:
            return "not confirmed"
        return "within noise"

    @property
    def holds(self) -> bool:
        """Whether the difference is established: beyond noise, or the same in every run."""
        return self.verdict in ("beyond noise", "every run")

    @property
    def test(self) -> str:
        if not self.judged:
            return f"none (fewer than {MIN_RUNS} runs per arm)"
        return "none (no spread)" if self.zero_spread else "Welch's t-test"

    def check(self, results: Any) -> Claim:
        """Raise :class:`ClaimError` unless the values are those of ``results`` and the direction
        agrees with them."""
        for arm_name, stored in ((self.arm, self.arm_values), (self.reference, self.reference_values)):
            measured = values(results.arm(arm_name), self.metric)
            if not np.allclose(measured, stored, rtol=0, atol=1e-12):
                raise ClaimError(f"claim on {self.metric} of {arm_name!r}: values {stored} are not the "
                                 f"results' {measured}")
        gap = average(self.arm_values) - average(self.reference_values)
        if self.direction == "higher" and gap <= 0 or self.direction == "lower" and gap >= 0:
            raise ClaimError(f"claim on {self.metric}: direction {self.direction!r} but difference {gap}")
        return self

    # ------------------------------------------------------------------ rendering

    def cell(self) -> str:
        """The verdict as a table cell."""
        p, d = self.p_value, self.effect
        stats_text = ", ".join(part for part in (None if p is None else f"p = {p:.2g}",
                                                 None if d is None else f"d = {d:.1f}") if part)
        return {"no difference": "no difference",
                "not judged": f"not tested ({min(self.runs)} run{'s' if min(self.runs) > 1 else ''})",
                "every run": "same in every run (no spread)",
                "beyond noise": f"beyond noise ({stats_text})",
                "not confirmed": f"not confirmed ({stats_text})",
                "within noise": f"within noise ({stats_text})"}[self.verdict]

    def values_text(self, which: str) -> str:
        stored = self.arm_values if which == "arm" else self.reference_values
        if self.judged or len(stored) == 1:
            return mean_sd(stored, self.digits)
        return "runs " + ", ".join(number(v, self.digits) for v in stored)

    def sentence(self) -> str:
        """The claim in one sentence, starting with the metric (capitalized): direction and
        difference from :attr:`difference`, noise words from :attr:`verdict` only."""
        a, b = name(self.arm), name(self.reference)
        head = capitalized(self.words)
        if self.direction == "same":
            return (f"{head} was the same for {a} and {b} to {self.digits} decimals "
                    f"({self.values_text('arm')}).")
        judgement = "" if self.better is None else (", better" if self.better else ", worse")
        p = "" if self.p_value is None else f"p = {self.p_value:.2g}"
        d = "" if self.effect is None else f"d = {self.effect:.1f}"
        tail = {"not judged": "",
                "every run": ", the same value in every run of each arm",
                "beyond noise": f", beyond run-to-run noise ({p}, {d})",
                "not confirmed": f", about {abs(self.effect or 0):.1f} pooled sds, which {min(self.runs)} runs per "
                                 f"arm do not confirm ({p})",
                "within noise": f", within run-to-run noise ({p})"}[self.verdict]
        return (f"{head} was {self.direction}{judgement} for {a} ({self.values_text('arm')}) than for {b} "
                f"({self.values_text('reference')}), by {number(abs(self.difference), self.digits)}{tail}.")


def claim(results: Any, arm: str, reference: str, metric: str, words: str | None = None) -> Claim:
    """The checked claim of ``arm`` against ``reference`` on ``metric`` (learned runs only)."""
    made = Claim(metric=metric, words=words or metric_words(results, metric), arm=arm, reference=reference,
                 arm_values=values(results.arm(arm), metric), reference_values=values(results.arm(reference), metric),
                 higher_is_better=HIGHER_IS_BETTER.get(metric), digits=DIGITS.get(metric, 4))
    return made.check(results)


def comparable(results: Any) -> list[str]:
    """Arms with at least one learned run (failed arms stay out of every verdict)."""
    return [arm.name for arm in results.arms if learned_runs(arm)]


def runs_per_arm(results: Any) -> int:
    return min((len(learned_runs(arm)) for arm in results.arms if learned_runs(arm)), default=0)


def method_sentence(results: Any) -> str:
    """The uncertainty rule and the test, once per page."""
    n = runs_per_arm(results)
    if n >= MIN_RUNS:
        return (f"Each arm ran {n} or more times (seeds); a difference is called beyond run-to-run noise when "
                f"Welch's t-test gives p < {ALPHA} and the difference exceeds the pooled standard deviation "
                "(effect size d = difference / pooled sd, |d| > 1); a difference of 2 pooled sds or more is "
                "never called noise, and values that do not vary at all between runs are said so.")
    most = max(len(learned_runs(arm)) for arm in results.arms)
    counts = f"{n} run{'s' if n != 1 else ''}" if most == n else f"{n} to {most} runs"
    some = "" if most == n else " in some arm"
    return (f"With {counts} per arm (fewer than {MIN_RUNS}{some}), differences cannot be judged against run-to-run "
            "noise: the tables give each difference and the per-run values.")


# =========================================================================== evidence table


def table(claims: Sequence[Claim]) -> str:
    """A compact Markdown table: metric, the reference's value, the arm's, the difference, the verdict."""
    if not claims:
        return ""
    pairs = {(c.arm, c.reference) for c in claims}
    rows = ["| metric | " + ("arms | " if len(pairs) > 1 else "") +
            f"{'reference' if len(pairs) > 1 else md(claims[0].reference)} | "
            f"{'arm' if len(pairs) > 1 else md(claims[0].arm)} | difference | verdict |",
            "| --- | " + ("--- | " if len(pairs) > 1 else "") + "---: | ---: | ---: | --- |"]
    for c in claims:
        arms = f"{md(c.arm)} vs {md(c.reference)} | " if len(pairs) > 1 else ""
        rows.append(f"| {md(c.words)} | {arms}{c.values_text('reference')} | {c.values_text('arm')} | "
                    f"{signed(c.difference, c.digits)} | {c.cell()} |")
    return "\n".join(rows)


# =========================================================================== fit diagnosis


@dataclass(frozen=True)
class Fit:
    """How one arm fits, from its learned runs: evaluation-mode training accuracy (or the running one,
    labelled), validation accuracy, their gap, and the validation loss after its lowest epoch."""

    arm: str
    train: tuple[float, ...]
    val: tuple[float, ...]
    test: tuple[float, ...]
    rises: tuple[int, ...]  # per run: epochs of uninterrupted validation-loss rise at the end of training
    failed: tuple[str, ...]  # causes of the runs that did not learn

    @property
    def gap(self) -> float:
        return average(self.train) - average(self.val)

    @property
    def state(self) -> str:
        """'failed', 'over-fitting', 'under-fitting' or 'no clear over- or under-fitting'."""
        if not self.train:
            return "failed"
        if self.gap >= GAP_OVERFIT or min(self.rises) >= RISE_EPOCHS:
            return "over-fitting"
        if average(self.train) < UNDERFIT_ACCURACY:
            return "under-fitting"
        return "no clear over- or under-fitting"

    def sentence(self, train_words: str) -> str:
        who = name(self.arm)
        if self.state == "failed":
            return (f"Failed for {who}: no run learned ({causes(self.failed)}), so it is neither over- nor "
                    "under-fitting.")
        evidence = (f"{train_words} {mean_sd(self.train)} against validation accuracy {mean_sd(self.val)} "
                    f"(gap {signed(self.gap)})")
        rise = (f"; the validation loss rose for the last {min(self.rises)} epochs or more of every run"
                if min(self.rises) >= RISE_EPOCHS else "")
        test = f"; test accuracy {mean_sd(self.test)}" if self.test else ""

        return f"{capitalized(self.state)} for {who}: {evidence}{rise}{test}."


def causes(found: Sequence[str]) -> str:
    """Failure causes, each once; several different ones numbered by run."""
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1:
        return distinct[0] + ("" if len(found) == 1 else f", in all {len(found)} runs")
    return "; ".join(f"in run {i}, {cause}" for i, cause in enumerate(found, start=1))


def final_rise(losses: Sequence[float]) -> int:
    """Epochs of uninterrupted rise at the end of a validation-loss curve (0: it fell last)."""
    count = 0
    for before, after in zip(losses[-2::-1], losses[::-1]):
        if after > before:
            count += 1
        else:
            break
    return count


def fit(arm: Any) -> Fit:
    runs = learned_runs(arm)
    return Fit(arm=arm.name, train=tuple(_training(r, "accuracy") for r in runs),
               val=tuple(float(r.validation["accuracy"]) for r in runs),
               test=tuple(float(r.test["accuracy"]) for r in runs),
               rises=tuple(final_rise(r.history["val_loss"][:r.stopped_epoch]) for r in runs) or (0,),
               failed=tuple(getattr(r, "failure_cause", "") or "cause not recorded"
                            for r in arm.runs if not learned(r)))


FIT_RULE = (f"Over-fitting here means a training accuracy at least {GAP_OVERFIT:.2f} above the validation "
            f"accuracy, or a validation loss that rose for the last {RISE_EPOCHS} epochs or more; under-fitting "
            f"a training accuracy below {UNDERFIT_ACCURACY:.2f} without such a gap.")


# =========================================================================== learning speed


def epochs_to(run: Any, threshold: float) -> int | None:
    """First epoch whose validation accuracy reaches ``threshold`` (None: never)."""
    for epoch, value in enumerate(run.history["val_accuracy"][:run.stopped_epoch], start=1):
        if value >= threshold:
            return epoch
    return None


def speed_text(results: Any, threshold: float, first_epoch: bool = True) -> str:
    """Epochs to reach ``threshold`` validation accuracy, per arm (per run), and (``first_epoch``)
    each arm's epoch-1 value."""
    parts, reached_any, longest = [], False, 0
    for arm in results.arms:
        runs = learned_runs(arm)
        if not runs:
            continue
        reached = [e for e in (epochs_to(run, threshold) for run in runs) if e is not None]
        reached_any |= bool(reached)
        longest = max(longest, *(run.stopped_epoch for run in runs))
        first = f" had {mean_sd(values(arm, 'first_val_accuracy'))} after epoch 1 and" if first_epoch else ""
        if reached:
            when = (f"reached it in {len(reached)} of {len(runs)} runs, at epoch {join([str(e) for e in reached])}"
                    if len(runs) > 1 else f"reached it at epoch {reached[0]}")
        else:
            when = f"did not reach it within {max(run.stopped_epoch for run in runs)} epochs"
        parts.append(f"{name(arm.name)}{first} {when}")
    if not parts:
        return ""
    if not reached_any and not first_epoch:
        return (f"No model reached validation accuracy {number(threshold, 2)} within {longest} epochs, so the "
                "epochs needed to reach it cannot be compared.")
    return f"Learning speed, on validation accuracy with {number(threshold, 2)} as the mark: " + "; ".join(parts) + "."


# =========================================================================== mechanisms and facts


def small_map_share(model_name: str, side: int = 4) -> tuple[float, int, int]:
    """Share of a spec's parameters in layers whose input maps are ``side``×``side`` or smaller (or
    flat), with their count and the total: where depth adds weights that see little spatial layout."""
    from coursebook.course import models

    spec = models.load_spec(model_name)
    table_ = models.parameter_table(spec)
    shapes = [tuple(spec.input_shape)] + models.layer_shapes(spec)[:-1]
    small = sum(int(row["params"]) for row, shape in zip(table_.to_dict("records"), shapes)
                if len(shape) == 1 or max(shape[:2]) <= side)
    total = int(table_["params"].sum())
    return small / total, small, total


def small_map_kernels(model_name: str, side: int = 4) -> list[tuple[int, int]]:
    """The distinct kernel sizes of the conv layers whose input maps are ``side``×``side`` or smaller."""
    from coursebook.course import models

    spec = models.load_spec(model_name)
    shapes = [tuple(spec.input_shape)] + models.layer_shapes(spec)[:-1]
    return sorted({layer.options["kernel"] for layer, shape in zip(spec.layers, shapes)
                   if layer.type == "conv" and len(shape) == 3 and max(shape[:2]) <= side})


def layer_count(model_name: str, layer_type: str) -> int:
    from coursebook.course import models

    return sum(layer.type == layer_type for layer in models.load_spec(model_name).layers)


def has_batchnorm(results: Any) -> bool:
    return any(layer_count(arm.model, "batchnorm") for arm in results.arms)


def limits(results: Any, extra: Sequence[str] = (), compared: bool = True) -> str:
    """The limits of the evidence, once: runs and test (``compared``: when the page compares), profile,
    data, the arms' other differences."""
    n = runs_per_arm(results)
    parts = [method_sentence(results) if compared else
             f"Values are mean ± sd over {n} runs (seeds)." if n > 1 else "One run: its spread is unknown." if n else ""]
    if results.profile in ("smoke", "quick"):
        parts.append(f"The {results.profile} profile trains fewer epochs on fewer images than the assignment, "
                     "so these are not the assignment's numbers.")
    if results.dataset.synthetic:
        parts.append(f"The images are the {results.dataset.name}, not CIFAR-10.")
    if has_batchnorm(results) and getattr(results, "schema_version", 1) >= 2:
        parts.append("Batch-normalization statistics were re-estimated from training images before every "
                     "evaluation.")
    parts += list(extra)
    return "**Limits.** " + " ".join(parts)


def setting_differences(results: Any, arm: str, reference: str) -> list[str]:
    a, b = results.arm(reference).settings, results.arm(arm).settings
    keys = [key for key in ("optimizer", "learning_rate", "batch_size", "epochs", "train_size", "early_stopping",
                            "checkpoint", "augmentation") if a.get(key) != b.get(key)]
    return [f"{key.replace('_', ' ')} {_setting(a.get(key))} vs {_setting(b.get(key))}" for key in keys]


def _setting(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return "on" if value else "none"
    return str(value)


# =========================================================================== the page


def summary_block(text: str) -> str:
    """The direct answer, in the admonition the page styles as ``answer-summary``."""
    return f"```{{admonition}} Answer\n:class: answer-summary\n{text}\n```"


@dataclass
class Answer:
    """The Answer section: the summary (shown in an ``answer-summary`` admonition), the evidence,
    the mechanism (only when its claims hold) and the limits."""

    summary: list[str]
    evidence: list[str]
    mechanism: list[str]
    limits: str
    claims: list[Claim]

    def markdown(self) -> str:
        blocks = [summary_block(" ".join(s for s in self.summary if s))]
        blocks += [b.strip() for b in self.evidence if b.strip()]
        if self.mechanism:
            blocks.append("**Why.** " + " ".join(self.mechanism))
        blocks.append(self.limits)
        return "\n\n".join(blocks)


def _summary_value(c: Claim, which: str) -> str:
    stored = c.arm_values if which == "arm" else c.reference_values
    unit = " s" if c.metric == "seconds" else ""
    if c.judged or len(stored) == 1:
        return mean_sd(stored, c.digits) + unit
    return f"{number(average(stored), c.digits)}{unit} (mean of {len(stored)})"


def _diff_phrase(c: Claim) -> str:
    """'higher validation accuracy (0.71 ± 0.01 against 0.65 ± 0.02, +0.06, beyond run-to-run noise)'."""
    words = {"beyond noise": ", beyond run-to-run noise", "every run": ", in every run",
             "within noise": ", within run-to-run noise", "not confirmed": ", a margin the runs do not confirm",
             "not judged": "", "no difference": ""}[c.verdict]
    if c.direction == "same":
        return f"the same {c.words} ({_summary_value(c, 'arm')})"
    what = ({"higher": "slower epochs", "lower": "faster epochs"}[c.direction] if c.metric == "seconds"
            else f"{c.direction} {c.words}")
    return (f"{what} ({_summary_value(c, 'arm')} against {_summary_value(c, 'reference')}, "
            f"{signed(c.difference, c.digits)}{words})")


def _fits(results: Any) -> list[Fit]:
    return [fit(arm) for arm in results.arms]


def _fit_sentences(results: Any) -> list[str]:
    """The fit rule, one table row per arm, and the runs that did not learn."""
    return [FIT_RULE, failed_runs_sentence(results), fit_table(results)]


def fit_table(results: Any) -> str:
    """Per arm: training and validation accuracy, their gap, the final validation-loss rise, test accuracy
    and the diagnosis, as a Markdown table."""
    words = training_words(results)
    rows = [f"| arm | {words} | validation accuracy | gap | val. loss rising at the end (epochs per run) | test accuracy | diagnosis |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for f in _fits(results):
        if f.state == "failed":
            rows.append(f"| {md(f.arm)} | | | | | | failed: {md(causes(f.failed))} |")
            continue
        rows.append(f"| {md(f.arm)} | {mean_sd(f.train)} | {mean_sd(f.val)} | {signed(f.gap)} | "
                    f"{', '.join(str(r) for r in f.rises)} | {mean_sd(f.test)} | {f.state} |")
    return "\n".join(rows)


def failed_runs_sentence(results: Any) -> str:
    """The runs that did not learn, with their measured causes, once ('' when every run learned)."""
    parts = [f"{sum(not learned(r) for r in arm.runs)} of {len(arm.runs)} of {name(arm.name)} ("
             + causes([getattr(r, "failure_cause", "") or "cause not recorded" for r in arm.runs if not learned(r)])
             + ")" for arm in results.arms if any(not learned(r) for r in arm.runs) and learned_runs(arm)]
    return ("Runs that did not learn, left out of every number above: " + "; ".join(parts) + ".") if parts else ""


def single_arm(results: Any, topic: str, threshold: float) -> Answer:
    arm = results.arms[0]
    f = fit(arm)
    words = training_words(results)
    summary = [f.sentence(words)]
    runs = learned_runs(arm)
    if runs:
        summary.append(f"Loss: {training_words(results, 'loss')} {mean_sd(values(arm, 'train_loss'))}, validation "
                       f"{mean_sd(values(arm, 'val_loss'))}, test {mean_sd(values(arm, 'test_loss'))}.")
    evidence = [FIT_RULE, failed_runs_sentence(results)]
    mechanism: list[str] = []
    settings = arm.settings
    stopping, checkpoint = settings.get("early_stopping"), settings.get("checkpoint")
    if runs and (stopping or checkpoint):
        summary.insert(0, _epochs_summary(arm))
    if runs and topic == "bn-dropout":
        evidence.append(_noise_of_curves(arm))
    if runs and topic == "early-stopping":
        mechanism += _early_stopping_mechanism(arm)
        evidence.append(_confusion_summary(results, arm))
    if runs and f.state == "over-fitting" and topic in ("baseline", "bn-dropout", "early-stopping"):
        mechanism.append("The training images are fitted better than unseen ones: the weights adapt to the "
                         "particular training images, which the gap between training and validation accuracy "
                         "measures.")
    if runs:
        evidence.append(speed_text(results, threshold))
    return Answer(summary, evidence, mechanism, limits(results, compared=False), [])


def _epochs_summary(arm: Any) -> str:
    settings, runs = arm.settings, learned_runs(arm)
    stopping, checkpoint = settings.get("early_stopping"), settings.get("checkpoint")
    evaluated = ", ".join(str(run.evaluated_epoch) for run in runs)
    stopped = ", ".join(str(run.stopped_epoch) for run in runs)
    if checkpoint:
        source = f"the checkpoint kept the epoch with the best {checkpoint['monitor']}"
    elif stopping and stopping.get("restore_best_weights", True):
        source = f"early stopping restored the epoch with the best {stopping['monitor']}"
    else:
        source = "the last epoch's weights were kept"
    early = [run for run in runs if arm.stopped_early(run)]
    trained = (f"Training stopped at epoch {stopped} of {settings['epochs']} (per run)" if early
               else f"{'Every run' if len(runs) > 1 else 'The run'} trained all {settings['epochs']} epochs")
    return f"{trained}; {source}: epoch {evaluated}." if len(runs) == 1 else f"{trained}; {source}: epochs {evaluated} (per run)."


def _early_stopping_mechanism(arm: Any) -> list[str]:
    stopping = arm.settings.get("early_stopping")
    if not stopping:
        return []
    monitor, patience = stopping["monitor"], stopping["patience"]
    texts = []
    early = [run for run in learned_runs(arm) if arm.stopped_early(run)]
    if early:
        texts.append(f"Early stopping ended a run once {monitor} had not improved for {patience} epochs "
                     f"({len(early)} of {len(learned_runs(arm))} runs stopped before epoch {arm.settings['epochs']}).")
    else:
        ran_out = [patience_ran_out(run.history[monitor][:run.stopped_epoch], stopping) for run in learned_runs(arm)]
        if any(epoch is not None for epoch in ran_out):
            count = sum(e is not None for e in ran_out)
            which = "the run" if len(ran_out) == 1 else f"{count} of {len(ran_out)} runs"
            texts.append(f"No run stopped before epoch {arm.settings['epochs']}, but in {which} {monitor} had not "
                         f"improved for {patience} epochs by the last epoch, where stopping and finishing coincide.")
        else:
            every = "in every epoch" if patience == 1 else f"at least once in every {patience} consecutive epochs"
            texts.append(f"Early stopping never ended a run: {monitor} improved {every}.")
    if monitor == "val_loss":
        later = [run for run in learned_runs(arm) if run.evaluated_epoch < run.stopped_epoch]
        rose = [run for run in later if min(run.history["val_loss"][run.evaluated_epoch:run.stopped_epoch])
                > run.history["val_loss"][run.evaluated_epoch - 1]]
        if rose and stopping.get("restore_best_weights", True):
            runs_text = ("every run" if len(rose) == len(learned_runs(arm)) > 1 else "the run" if len(rose) == 1 ==
                         len(learned_runs(arm)) else f"{len(rose)} of {len(learned_runs(arm))} runs")
            texts.append(f"In {runs_text}, every epoch after the restored one had a higher validation loss, so "
                         "restoring discarded epochs that fitted the training images at the cost of unseen ones.")
    return texts


def patience_ran_out(series: Sequence[float], stopping: dict[str, Any]) -> int | None:
    """The 1-based epoch at which ``series`` (the monitored metric) had gone ``patience`` epochs without
    improving by more than ``min_delta`` in ``mode``, as Keras' EarlyStopping counts; None if never."""
    sign = 1.0 if stopping.get("mode", "min") == "min" else -1.0
    best, wait = math.inf, 0
    for epoch, value in enumerate(series, start=1):
        if sign * float(value) < best - float(stopping.get("min_delta", 0.0)):
            best, wait = sign * float(value), 0
        else:
            wait += 1
            if wait >= int(stopping["patience"]):
                return epoch
    return None


def _noise_of_curves(arm: Any) -> str:
    """How much validation accuracy moves from epoch to epoch (this arm only: no blame on a layer)."""
    changes = [b - a for run in learned_runs(arm)
               for a, b in zip(run.history["val_accuracy"][:run.stopped_epoch - 1],
                               run.history["val_accuracy"][1:run.stopped_epoch])]
    if not changes:
        return ""
    return (f"Validation curves: validation accuracy moved by {number(average([abs(c) for c in changes]))} per epoch "
            f"on average (largest drop {number(max(0.0, -min(changes)))}); this page has no arm without batch "
            "normalization or dropout, so it cannot attribute that movement to either.")


def _confusion_summary(results: Any, arm: Any) -> str:
    from coursebook.course.prose import confusion

    run = learned_runs(arm)[0]
    pairs = confusion.most_confused_pairs(np.asarray(run.confusion["test"]), list(results.dataset.class_names))
    f1 = {cls: average([r.classification_report[cls]["f1"] for r in learned_runs(arm)])
          for cls in results.dataset.class_names}
    best, worst = max(f1, key=f1.get), min(f1, key=f1.get)
    return (f"On the test set (seed {run.seed}): {pairs.sentence} Highest F1 {md(best)} ({number(f1[best])}), "
            f"lowest {md(worst)} ({number(f1[worst])}).")


SUBJECTS = {"batch-norm": "batch normalization", "depth": "depth", "augmentation": "augmentation",
            "dropout-vs-bn": "the added layers", "none": "the extra block"}
COMPARED = ("val_accuracy", "val_loss", "train_accuracy", "gap", "test_accuracy")


def comparison(results: Any, topic: str, threshold: float) -> Answer:
    names = comparable(results)
    failed = [f for f in _fits(results) if f.state == "failed"]
    if len(names) < 2:
        fits = _fits(results)
        summary = [f.sentence(training_words(results)) for f in fits if f.state != "failed"]
        summary.append(f"No run of {join([name(f.arm) for f in failed])} learned ("
                       + ("; ".join(f"{name(f.arm)}: {causes(f.failed)}" for f in failed) if len(failed) > 1
                          else causes(failed[0].failed))
                       + "), so " + ("it is" if len(failed) == 1 else "they are") + " neither over- nor under-fitting.")
        mechanism = []
        if topic == "depth" and len(results.arms) > 1:
            deep = results.arms[1]
            share, small, total = small_map_share(deep.model)
            mechanism.append(f"Depth did not help here because the deeper model did not learn at all (its measured "
                             f"cause is above). Architecture facts that make it harder to train: {share:.0%} of its "
                             f"{total:,} parameters ({small:,}) act on maps of 4×4 pixels or smaller, and it has "
                             f"{layer_count(deep.model, 'batchnorm') or 'no'} normalization layers.")
        return Answer(summary + ["No comparison is possible: an arm has no run that learned."], [], mechanism,
                      limits(results, compared=False), [])
    metrics = list(COMPARED)
    if topic == "batch-norm":
        metrics = ["train_loss", "val_accuracy", "train_accuracy", "val_loss", "seconds"]
        if results.chapter.startswith("e4742"):  # the question asks about learning speed first
            metrics = ["first_val_accuracy", *metrics]
    elif topic == "augmentation":
        metrics = ["val_loss", "val_accuracy", "train_accuracy", "gap", "test_accuracy"]
    elif topic == "dropout-vs-bn":  # three arms: the measures the question turns on
        metrics = ["gap", "val_accuracy", "test_accuracy"]
    reference = names[0]  # the first arm; when it never learned, the first arm that did
    claims = [claim(results, other, reference, metric) for other in names[1:] for metric in metrics]
    by = {(c.arm, c.metric): c for c in claims}
    others = names[1:]
    summary = _comparison_summary(results, topic, reference, others, by, threshold)
    evidence = [table(claims), *_fit_sentences(results)]
    if topic == "batch-norm" and not results.chapter.startswith("e4742"):
        evidence.append(speed_text(results, threshold))
    mechanism = _mechanism(results, topic, reference, others, by)
    extra = []
    subject = SUBJECTS.get(topic, "the model")
    for other in others:
        diffs = [d for d in setting_differences(results, other, reference)
                 if not (topic == "augmentation" and d.startswith("augmentation"))]
        if diffs:
            extra.append(f"Besides {subject}, {name(other)} differs from {name(reference)} in {join(diffs)}, so the "
                         f"differences cannot be put down to {subject} alone.")
    if failed:
        extra.append(f"No run of {join([name(f.arm) for f in failed])} learned, so "
                     f"{'it is' if len(failed) == 1 else 'they are'} left out of every verdict.")
    return Answer(summary, evidence, mechanism, limits(results, extra), claims)


def _effect(c: Claim, helped: str = "helped", hurt: str = "hurt") -> str:
    """What a change did to a better-or-worse measure, as firmly as the claim's verdict allows."""
    if c.direction == "same" or c.verdict == "within noise":
        return "made no difference beyond run-to-run noise to" if c.verdict == "within noise" else "did not change"
    verb = helped if c.better else hurt
    return {"not judged": f"{verb}, in these runs,", "not confirmed": f"{verb}, by a margin the runs do not confirm,"
            }.get(c.verdict, verb)


def _depth_answer(results: Any, other: str, by: dict) -> list[str]:
    """Whether more depth helped and, when it did not, why: the measured training fit (optimization
    or over-fitting) and the architecture facts that explain it."""
    acc, train, gap = by[other, "val_accuracy"], by[other, "train_accuracy"], by[other, "gap"]
    helped = "helped" if acc.better and acc.holds else "did not clearly help" if acc.better else "did not help"
    verdict = f"More depth {helped}: {name(other)} had {_diff_phrase(acc)}."
    if acc.better and acc.holds:
        return [verdict]
    model = results.arm(other).model
    share, small, total = small_map_share(model)
    norm = layer_count(model, "batchnorm")
    kernels = small_map_kernels(model)
    seen = (f", where a {kernels[0][0]}×{kernels[0][1]} kernel sees little spatial layout" if len(kernels) == 1
            else ", where its kernels see little spatial layout" if kernels else "")
    facts = (f"{share:.0%} of {name(other)}'s {total:,} parameters ({small:,}) act on maps of 4×4 pixels or smaller "
             f"or on flat vectors{seen}, and it has {norm or 'no'} normalization layer{'' if norm == 1 else 's'}")
    if train.direction == "lower" and train.verdict not in ("within noise", "no difference"):
        so = "so" if train.holds else "which suggests that"
        return [verdict, f"It also had {_diff_phrase(train)}: it fitted even its training images worse, {so} the "
                         f"extra depth made optimization harder rather than adding over-fitting, as its architecture "
                         f"predicts: {facts}."]
    if gap.direction == "higher" and gap.verdict not in ("within noise", "no difference"):
        so = "so" if gap.holds else "which suggests that"
        return [verdict, f"It had {_diff_phrase(gap)}, {so} the extra capacity went into fitting the training "
                         f"images. Architecture facts: {facts}."]
    return [verdict, f"The training accuracy and the gap do not separate the two models, so these runs cannot tell "
                     f"whether optimization or over-fitting held it back. Architecture facts: {facts}."]


def _comparison_summary(results: Any, topic: str, reference: str, others: list[str], by: dict, threshold: float
                        ) -> list[str]:
    out = []
    fits = {f.arm: f for f in _fits(results)}
    states = "; ".join(f"{name(arm)} {fits[arm].state}" for arm in [reference, *others])
    for other in others:
        head = f"Against {name(reference)}, {name(other)} had"
        if topic == "depth":
            out.extend(_depth_answer(results, other, by))
        elif topic == "batch-norm" and results.chapter.startswith("e4742"):
            first = by[other, "first_val_accuracy"]
            out.append(f"Batch normalization {_effect(first, 'sped up', 'slowed')} early learning: "
                       f"{name(other)} had {_diff_phrase(first)}.")
            out.append(speed_text(results, threshold, first_epoch=False))
            out.append(f"{head} {_diff_phrase(by[other, 'val_accuracy'])} and {_diff_phrase(by[other, 'train_accuracy'])}, "
                       f"with {_diff_phrase(by[other, 'seconds'])}.")
        elif topic == "batch-norm":
            out.append(f"{head} {_diff_phrase(by[other, 'train_loss'])} and {_diff_phrase(by[other, 'val_accuracy'])}.")
        elif topic == "augmentation":
            out.append(f"{head} {_diff_phrase(by[other, 'val_loss'])} and {_diff_phrase(by[other, 'gap'])}; on the "
                       f"test set, {_diff_phrase(by[other, 'test_accuracy'])}.")
        elif topic == "dropout-vs-bn":
            out.append(f"{head} {_diff_phrase(by[other, 'gap'])} and {_diff_phrase(by[other, 'test_accuracy'])}.")
        else:
            out.append(f"{head} {_diff_phrase(by[other, 'val_accuracy'])} and "
                       f"{_diff_phrase(by[other, 'train_accuracy'])}.")
    if topic == "dropout-vs-bn" and len(others) >= 2:
        gaps = {other: by[other, "gap"] for other in others}
        helped = [o for o, c in gaps.items() if c.holds and c.direction == "lower"]
        if len(helped) == 1:
            out.append(f"Against over-fitting, {name(helped[0])} helped more: only its narrower gap is established.")
        elif helped:
            between = claim(results, helped[1], helped[0], "gap")
            out.append(f"Both narrowed the gap; between them, {_diff_phrase(between)} for {name(helped[1])} "
                       f"against {name(helped[0])}.")
        else:
            out.append("Neither technique narrowed the training-validation gap beyond run-to-run noise, so these "
                       "runs do not say which helps more against over-fitting.")
    out.append(f"Fit: {states}.")
    if any(not learned(r) for arm in results.arms for r in arm.runs):
        out.append("Runs that did not learn are left out (see below).")
    return out


def _mechanism(results: Any, topic: str, reference: str, others: list[str], by: dict) -> list[str]:
    text: list[str] = []
    for other in others:  # depth is explained in the answer itself (:func:`_depth_answer`)
        gap = by.get((other, "gap"))
        if topic == "batch-norm":
            loss = by.get((other, "train_loss"))
            if loss is not None and loss.holds and loss.direction == "lower":
                text.append("Batch normalization standardizes each layer's inputs over the batch, which keeps "
                            "activations in a range where the optimizer's steps stay effective; the lower "
                            "training loss is what that predicts.")
            elif loss is not None and loss.holds and loss.direction == "higher":
                text.append(f"The training loss of {name(other)} was higher, the opposite of what faster "
                            "optimization with batch normalization would give; no mechanism is claimed.")
        elif topic == "augmentation":
            if gap is not None and gap.holds and gap.direction == "lower":
                text.append("Augmentation trains on shifted, rotated and flipped variants, so fitting the exact "
                            "training images pays less; the narrower gap is that effect.")
        elif topic == "dropout-vs-bn":
            if gap is not None and gap.holds and gap.direction == "lower":
                what = ("Dropout removes random units in every training step, so no unit can rely on particular "
                        "others" if layer_count(results.arm(other).model, "dropout") else
                        "Batch normalization adds batch-to-batch noise to each layer's inputs in training")
                text.append(f"{what}; {name(other)}'s narrower gap is consistent with that.")
    return text


def answer(results: Any, topic: str = "none", threshold: float = 0.5) -> str:
    """The whole Answer section of a comparison page, as Markdown."""
    built = single_arm(results, topic, threshold) if len(results.arms) == 1 else comparison(results, topic, threshold)
    return built.markdown()


def learning_curve(results: Any) -> str:
    """The Answer section of a learning curve (one arm per training-set size, smallest first)."""
    arms = sorted((arm for arm in results.arms if learned_runs(arm)), key=lambda a: a.settings["train_size"] or 0)
    if len(arms) < 2:
        summary = [fit(arm).sentence(training_words(results)) for arm in results.arms]
        return Answer(summary + ["Fewer than two sizes have runs that learned, so there is no curve to read."], [], [],
                      limits(results), []).markdown()
    small, large = arms[0], arms[-1]
    overall = claim(results, large.name, small.name, "val_accuracy")
    last = claim(results, large.name, arms[-2].name, "val_accuracy")
    steps = [claim(results, b.name, a.name, "val_accuracy") for a, b in zip(arms, arms[1:])]
    gap = claim(results, large.name, small.name, "gap")
    summary = [f"Validation accuracy went from {_summary_value(overall, 'reference')} with {name(small.name)} to "
               f"{_summary_value(overall, 'arm')} with {name(large.name)} ({signed(overall.difference)}"
               f"{'' if overall.verdict in ('not judged', 'no difference') else ', ' + overall.verdict.replace('every run', 'in every run')})."]
    if len(arms) == 2:
        summary.append("Two sizes cannot show whether the curve keeps rising beyond the larger one.")
    elif last.holds and last.direction == "higher":
        summary.append(f"It still rose between the two largest sizes ({signed(last.difference)}, beyond run-to-run "
                       "noise), so more images would likely help further.")
    elif last.verdict == "not judged":
        summary.append(f"Between the two largest sizes it changed by {signed(last.difference)}; too few runs to say "
                       "whether the curve is still rising.")
    else:
        summary.append(f"Between the two largest sizes it changed by {signed(last.difference)}, which is not a rise "
                       "beyond run-to-run noise: these runs do not show further gains.")
    subset = next((arm for arm in arms if arm.settings.get("train_size") == 10000), None)
    if subset is not None and subset is not large:
        c = claim(results, large.name, subset.name, "val_accuracy")
        summary.append(f"The assignment's 10,000-image subset reached {_summary_value(c, 'reference')}, against "
                       f"{_summary_value(c, 'arm')} with {name(large.name)}.")
    mechanism = []
    if overall.holds and overall.direction == "higher" and gap.holds and gap.direction == "lower":
        mechanism.append(f"With more images the weights cannot fit the particular training images as closely: the "
                         f"training − validation gap fell from {_summary_value(gap, 'reference')} to "
                         f"{_summary_value(gap, 'arm')}.")
    evidence = [table([*steps, gap]), *_fit_sentences(results)]
    return Answer(summary, evidence, mechanism, limits(results), [*steps, gap]).markdown()


def parameter_count(change: Any) -> str:
    """Problem 1(b) answered first: both totals, the difference, and what it is made of
    (``change``: :func:`coursebook.course.prose.parameter_counts.parameter_change`)."""
    added = int(change.only_in_extended["params"].sum()) if len(change.only_in_extended) else 0
    before, after = change.dense_base, change.dense_extended
    text = (f"The original model learns {change.base_total:,} parameters; with the extra block it learns "
            f"{change.extended_total:,}, {change.difference:+,}. The new layers add {added:,} weights, ")
    if before.layer_params != after.layer_params:
        text += (f"while the first dense layer changes from {before.layer_params:,} to {after.layer_params:,} "
                 f"parameters because the vector it receives changes from {before.size:,} values "
                 f"{before.feature_map} to {after.size:,} {after.feature_map}.")
    else:
        text += "and no other layer changes."
    return summary_block(text)


def backprop(checks: Any, losses: Sequence[float], verdict: str) -> str:
    """Part 1 answered first: the loss and dL/db1 against the assignment's, the two independent gradient
    checks, and where gradient descent ended (``verdict``: its sentence, computed from the whole curve)."""
    from coursebook.course.prose import backprop_checks as bc

    db1 = ", ".join(f"{v:.3g}" for v in checks.db1)
    fine = checks.max_rel_error_fd < bc.GRADIENT_TOLERANCE and (
        not math.isfinite(checks.max_rel_error_autodiff) or checks.max_rel_error_autodiff < bc.GRADIENT_TOLERANCE)
    about = "" if checks.stated_loss is None else f" (the assignment: about {checks.stated_loss:g})"
    text = (f"The forward pass gives L = {number(checks.loss)}{about} and the "
            f"backward pass dL/db1 = [{db1}]. The gradients are {'right' if fine else 'NOT confirmed'}: the largest "
            f"relative error is {checks.max_rel_error_fd:.1e} against central finite differences and "
            f"{checks.max_rel_error_autodiff:.1e} against automatic differentiation. {verdict}")
    return summary_block(text)


def feedforward(results: Any, model: str, image_shapes: Sequence[Sequence[int]], num_classes: int = 10,
                threshold: float = 0.5) -> str:
    """Part 2 answered first: the parameter count and its dependence on the image size (totals by formula
    for every (height, width, channels) in ``image_shapes``, the first the data's), then the run."""
    from coursebook.course import models

    first_layer = [(tuple(int(v) for v in shape), models.parameter_summary(
        model, num_classes=num_classes, input_shape=(math.prod(shape),))["total"]) for shape in image_shapes]
    (shape, total), *others = first_layer
    size = "; ".join(f"{h}×{w}×{c} images give {t:,}" for (h, w, c), t in others)
    units = next(layer.options["units"] for layer in models.load_spec(model).layers if layer.type == "dense")
    head = (f"The network has {total:,} parameters for {shape[0]}×{shape[1]}×{shape[2]} images, and the count "
            f"depends on the image height and width through the first dense layer only, (H · W · C + 1) · {units}"
            + (f" ({size})." if size else "."))
    built = single_arm(results, "baseline", threshold)
    built.summary.insert(0, head)
    return built.markdown()


# =========================================================================== page checks


def sentences(markdown: str) -> list[str]:
    """The prose sentences of a Markdown text (tables, fences and admonition options left out)."""
    lines = [line for line in markdown.splitlines()
             if line.strip() and not line.lstrip().startswith(("|", "```", ":", "<"))]
    text = " ".join(lines)
    text = re.sub(r"\*\*", "", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=\S)", text) if s.strip()]


def template(sentence: str) -> str:
    """A sentence with its numbers replaced by '#': its template."""
    return re.sub(r"[-+−]?\d[\d,]*(\.\d+)?(e-?\d+)?", "#", sentence)
