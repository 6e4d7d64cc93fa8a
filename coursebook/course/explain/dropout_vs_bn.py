"""Dropout against batch normalization on one base (AML HW4 Q3, 3.4): which helps more against
over-fitting, judged from two measured signs of over-fitting and their spread over runs.

Signs, per run: the train-validation accuracy gap at the evaluated epoch, and how far validation
loss rose after its lowest point. Arms: the reference (the first arm), the arm whose model adds
dropout and the arm whose model adds batch normalization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursebook.course.prose import comparison
from coursebook.course.explain import measures as m

GAP = "train-validation accuracy gap"
RISE = "validation-loss rise after its lowest epoch"


def signs(entry: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per-run signs of over-fitting of one arm, and its validation accuracy."""
    return {GAP: [m.accuracy_gap(run) for run in entry["runs"]],
            RISE: [m.val_loss_rise(run) for run in entry["runs"]],
            "validation accuracy": m.per_run(entry, "val_accuracy"),
            "training accuracy": m.per_run(entry, "accuracy")}


def answer(results: Any) -> str:
    """Which regularizer helps more against over-fitting, with evidence, mechanism and limits."""
    base = m.arm(results, index=0)
    dropout = m.arm_with_layer(results, "dropout", "dropout-vs-bn")
    batchnorm = m.arm_with_layer(results, "batchnorm", "dropout-vs-bn")
    measured = {entry["name"]: signs(entry) for entry in (base, dropout, batchnorm)}
    d, b = dropout["name"], batchnorm["name"]
    comparisons = {sign: comparison.compare(sign, d, measured[d][sign], b, measured[b][sign], higher_is_better=False)
                   for sign in (GAP, RISE)}
    parts = [
        _same_base(base, dropout, batchnorm),
        _table(measured),
        "**Dropout against batch normalization.** " + " ".join(c.sentence for c in comparisons.values()),
        "**Verdict.** " + _base_note(base["name"], measured) + verdict(d, b, comparisons),
        "**Against the plain base.** " + " ".join(_against_base(base["name"], name, measured) for name in (d, b)),
        "**Why.** " + " ".join(filter(None, [m.near_chance(results, [base]), _mechanism(base["name"], dropout, b, measured)])),
        "**Limits.** " + _caveat(d) + " " + m.limits(results),
    ]
    return "\n\n".join(parts)


def _same_base(base: Mapping, dropout: Mapping, batchnorm: Mapping) -> str:
    counts = ", ".join(f"{m.md_name(e['name'])} {int(e['parameters']['total']):,}" for e in (base, dropout, batchnorm)
                       if "parameters" in e)
    return ("All three arms are the same base network trained on the same data with the same seeds and settings; "
            "only the regularizer differs" + (f" (parameters: {counts})." if counts else "."))


def _table(measured: Mapping[str, Mapping[str, list[float]]]) -> str:
    header = ("| arm | training accuracy | validation accuracy | train − validation accuracy gap "
              "| validation-loss rise after its lowest epoch |\n|---|--:|--:|--:|--:|")
    rows = [f"| {m.md_name(name)} | {m.shown(v['training accuracy'])} | {m.shown(v['validation accuracy'])} "
            f"| {m.shown(v[GAP])} | {m.shown(v[RISE])} |" for name, v in measured.items()]
    return ("Signs of over-fitting at the evaluated epoch (mean ± sd over runs; a smaller gap and a smaller rise "
            "mean less over-fitting):\n\n" + "\n".join([header, *rows]))


def verdict(dropout: str, batchnorm: str, comparisons: Mapping[str, comparison.Comparison]) -> str:
    """Which one helps more: only when both signs point the same way, said with its certainty."""
    winners = {sign: _better(c, dropout, batchnorm) for sign, c in comparisons.items()}
    if None in winners.values():
        tied = [sign for sign, w in winners.items() if w is None]
        return (f"The {' and the '.join(tied)} {'is' if len(tied) == 1 else 'are'} the same for both to the digits "
                "shown, so these runs do not say which helps more.")
    if winners[GAP] != winners[RISE]:
        return (f"The two signs disagree ({m.md_name(winners[GAP])} has the smaller gap, {m.md_name(winners[RISE])} "
                "the smaller rise), so these runs do not say which helps more.")
    winner = winners[GAP]
    beyond = [sign for sign, c in comparisons.items() if c.exceeds_noise]
    if any(c.exceeds_noise is None for c in comparisons.values()):
        return (f"Both signs point to {m.md_name(winner)} as the stronger remedy against over-fitting in this run, "
                "but a single run cannot tell this from run-to-run noise.")
    if not beyond:
        return (f"Both signs point to {m.md_name(winner)}, but neither difference is larger than run-to-run noise: "
                "these runs do not settle which helps more.")
    text = (f"{m.md_name(winner)} helps more against over-fitting: both signs point to it, and the difference in the "
            f"{' and in the '.join(beyond)} is larger than run-to-run noise")
    if beyond == [GAP]:
        text += ("; the validation-loss rise, which has no training-mode bias, points the same way but within "
                 "run-to-run noise")
        text += (", so the verdict rests mainly on the gap, which that bias (see Limits) tilts towards dropout"
                 if winner == dropout else ", and the gap favours batch normalization although that bias (see Limits) "
                 "tilts it towards dropout")
    return text + "."


def _base_note(base: str, measured: Mapping[str, Mapping[str, list[float]]]) -> str:
    """A warning when the plain base shows no validation-loss rise: there was little to cure."""
    if round(m.mean_sd(measured[base][RISE])[0], 4) > 0:
        return ""
    return (f"The plain base's validation loss was still at its lowest at the end ({m.md_name(base)} shows no "
            "rise), so within these epochs over-fitting had barely begun and the remedies had little to cure. ")


def _better(comparison: comparison.Comparison, a: str, b: str) -> str | None:
    if comparison.judgement is None:
        return None
    return a if comparison.judgement == "better" else b


def _against_base(base: str, name: str, measured: Mapping[str, Mapping[str, list[float]]]) -> str:
    gap = comparison.compare(GAP, name, measured[name][GAP], base, measured[base][GAP], higher_is_better=False)
    word = {"better": "narrows", "worse": "widens"}.get(gap.judgement or "", "does not change")
    noise = ", within run-to-run noise" if gap.judgement and gap.exceeds_noise is False else ""
    return (f"{m.md_name(name)} {word} the gap of the plain base "
            f"({m.shown(measured[name][GAP])} against {m.shown(measured[base][GAP])}{noise}).")


def _rates(entry: Mapping[str, Any]) -> str:
    """The dropout rates of an arm's model as shares, e.g. '30%' or '20% to 50%'."""
    from coursebook.course import models

    rates = sorted({layer.options["rate"] for layer in models.load_spec(entry["model"]).layers
                    if layer.type == "dropout"})
    return f"{rates[0]:.0%}" if len(rates) == 1 else f"{rates[0]:.0%} to {rates[-1]:.0%}"


def _mechanism(base: str, dropout_arm: Mapping[str, Any], batchnorm: str,
               measured: Mapping[str, Mapping[str, list[float]]]) -> str:
    dropout = dropout_arm["name"]

    def mean(name: str, key: str) -> float:
        return round(m.mean_sd(measured[name][key])[0], 4)

    parts = [f"Dropout switches off a random {_rates(dropout_arm)} of the hidden units at every training step, so no unit can "
             "rely on particular others and the network cannot memorize individual images as easily; at test time "
             "all units are used, like an average of many thinned networks."]
    if mean(dropout, "training accuracy") < mean(base, "training accuracy"):
        parts.append(f"The price shows in its training accuracy, lower than the base's "
                     f"({mean(dropout, 'training accuracy'):.4f} against {mean(base, 'training accuracy'):.4f}).")
    parts.append("Batch normalization standardizes each hidden layer's inputs over the mini-batch; its main effect "
                 "is easier, faster optimization, and the noise of the batch statistics regularizes only a little.")
    if mean(batchnorm, "training accuracy") > mean(base, "training accuracy"):
        parts.append(f"Here it fits the training images faster than the base (training accuracy "
                     f"{mean(batchnorm, 'training accuracy'):.4f} against {mean(base, 'training accuracy'):.4f}), "
                     "which by itself makes over-fitting come sooner, not later.")
    return " ".join(parts)


def _caveat(dropout: str) -> str:
    return (f"Training accuracy is the running value Keras records during each epoch: for {m.md_name(dropout)} it is "
            "measured with dropout active, which lowers it and so narrows the measured gap; the validation-loss "
            "rise has no such bias, which is why the verdict needs both signs to agree.")
