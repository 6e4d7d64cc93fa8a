"""What early stopping did in each run (q6 Part 3, and any arm with an ``early_stopping`` setting):
where it stopped, which epoch's weights were evaluated, what keeping the last weights would have
cost, whether the curves show the over-fitting it guards against, and how far the validation score
of a chosen epoch can be trusted (against the test set, which played no part in the choice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coursebook.course.prose import comparison, confusion
from coursebook.course.explain import measures

METRIC_WORDS = {"val_loss": "validation loss", "val_accuracy": "validation accuracy",
                "loss": "training loss", "accuracy": "training accuracy"}
DIGITS = 4


def stopping_arms(results: Any) -> list[Mapping[str, Any]]:
    """The arms trained with early stopping; a clear error when there is none."""
    data = measures.as_mapping(results)
    arms = [arm for arm in data["arms"] if (arm.get("settings") or {}).get("early_stopping")]
    if not arms:
        raise ValueError(f"explain 'early-stopping': no arm has an early_stopping setting; arms: "
                         f"{measures.arm_names(data)}")
    return arms


def answer(results: Any) -> str:
    """Markdown: per arm, where each run stopped and what was evaluated; then the mechanism, the
    trust in the chosen epoch's score, and the limits."""
    data = measures.as_mapping(results)
    parts = []
    for arm in stopping_arms(data):
        parts += [f"**{measures.md_name(arm['name'])}: where each run stopped.** {rule(arm)}",
                  "\n".join(f"- {run_sentence(arm, run)}" for run in arm["runs"]),
                  f"**What stopping and restoring did.** {_summary(arm)} {_overfitting(arm)}".rstrip(),
                  f"**How far the chosen epoch's score can be trusted.** {_trust(arm, data)}"]
        if all(run.get("classification_report") for run in arm["runs"]):
            parts.append(f"**Per class on the test set.** {per_class(arm, _class_names(data, arm))}")
    parts.append(f"**Limits of the evidence.** {measures.limits(data)}")
    return "\n\n".join(parts)


def _stopping(arm: Mapping[str, Any]) -> Mapping[str, Any]:
    return arm["settings"]["early_stopping"]


def rule(arm: Mapping[str, Any]) -> str:
    """The stopping rule of an arm in one sentence."""
    es, epochs = _stopping(arm), arm["settings"]["epochs"]
    monitor = METRIC_WORDS.get(es["monitor"], es["monitor"])
    delta = f" by more than {es['min_delta']:g}" if es.get("min_delta") else ""
    restore = ("then restores the weights of the best epoch" if es.get("restore_best_weights", True)
               else "and keeps the weights of the last epoch")
    return (f"Training runs for at most {epochs} epochs, stops once {monitor} (`{es['monitor']}`) has not "
            f"improved{delta} for {_epochs(es['patience'])}, {restore}.")


def _last(run: Mapping[str, Any]) -> int:
    return len(run["history"]["loss"])


def run_sentence(arm: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """Where one run stopped and which epoch was evaluated, with the monitored values."""
    es, epochs = _stopping(arm), arm["settings"]["epochs"]
    last, chosen = _last(run), measures.evaluated_epoch(run)
    val_loss, val_acc = (measures.history_value(run, m, chosen) for m in ("val_loss", "val_accuracy"))
    after = f", {last - chosen} epoch{'s' if last - chosen > 1 else ''} after its best" if chosen < last else ""
    stopped = (f"stopped after epoch {last} of at most {epochs}{after}" if last < epochs
               else f"ran all {epochs} epochs without stopping")
    kept = (f"the weights of epoch {chosen} were evaluated" if chosen < last
            else f"its last epoch, {last}, was also its best" if es.get("restore_best_weights", True)
            else f"the weights of its last epoch, {last}, were kept")
    text = (f"Seed {run['seed']}: {stopped}; {kept} (validation loss {val_loss:.{DIGITS}f}, "
            f"validation accuracy {val_acc:.{DIGITS}f}).")
    if chosen < last:
        text += " " + _cost_of_last(run, chosen, last)
    return text


def _cost_of_last(run: Mapping[str, Any], chosen: int, last: int) -> str:
    """What keeping the last epoch's weights would have given instead."""
    loss_then, loss_last = (round(measures.history_value(run, "val_loss", e), DIGITS) for e in (chosen, last))
    acc_then, acc_last = (round(measures.history_value(run, "val_accuracy", e), DIGITS) for e in (chosen, last))
    return (f"The last epoch's weights would have given validation loss {loss_last:.{DIGITS}f} "
            f"({_change(loss_last - loss_then)}) and validation accuracy {acc_last:.{DIGITS}f} "
            f"({_change(acc_last - acc_then)}).")


def _change(difference: float) -> str:
    shown = round(difference, DIGITS)
    if shown == 0:
        return "the same"
    return f"{abs(shown):.{DIGITS}f} {'higher' if shown > 0 else 'lower'}"


def _summary(arm: Mapping[str, Any]) -> str:
    runs, epochs = arm["runs"], arm["settings"]["epochs"]
    trained = [_last(run) for run in runs]
    chosen = [measures.evaluated_epoch(run) for run in runs]
    early = sum(t < epochs for t in trained)
    share = math.fsum(trained) / (len(trained) * epochs)
    mean = "" if len(runs) == 1 else f"mean {measures.shown([float(t) for t in trained], 1)}, "
    stopped = (f"{_of(early, len(runs))} stopped before the budget of {epochs} epochs; the runs trained "
               f"{_listed(trained)} epochs ({mean}{share:.0%} of the budget) and evaluated "
               f"epoch{'s' if len(runs) > 1 else ''} {_listed(chosen)}."
               if early else f"No run stopped before the budget of {epochs} epochs: the monitored metric kept "
               f"improving at least once every {_epochs(_stopping(arm)['patience']).removeprefix('1 ')}, so early stopping only chose "
               f"the epoch to evaluate ({_listed(chosen)}).")
    restored = [c < t for c, t in zip(chosen, trained)]
    if not any(restored):
        return f"{stopped} In every run the evaluated epoch was the last, so restoring changed nothing."
    return f"{stopped} Restoring mattered in {_of(sum(restored), len(runs)).lower()}, where the best epoch came before the last."


def _overfitting(arm: Mapping[str, Any]) -> str:
    """Whether the runs that went on after their best epoch show the signature early stopping guards
    against (training loss falling while validation loss rises), from their own numbers, and whether
    validation accuracy nevertheless ended higher (a loss that rises from confident mistakes)."""
    rising, accuracy_up = [], []
    for run in arm["runs"]:
        chosen, last = measures.evaluated_epoch(run), _last(run)
        if chosen == last:
            continue
        val, train, acc = ([round(measures.history_value(run, metric, e), DIGITS) for e in (chosen, last)]
                           for metric in ("val_loss", "loss", "val_accuracy"))
        rising.append(val[1] > val[0] and train[1] < train[0])
        if rising[-1] and acc[1] > acc[0]:
            accuracy_up.append(acc[1] - acc[0])
    if not rising:
        return ""
    n = len(rising)
    if not all(rising):
        went_on = "run that went on" if n == 1 else "runs that went on"
        return (f"Training loss fell while validation loss rose in {sum(rising)} of the {n} {went_on} after their "
                "best epoch; in the others the epochs after the best were flat or noisy rather than clearly "
                "over-fitting.")
    where = "In the run that went on after its best epoch" if n == 1 else (
        f"In {_of(n, n).lower()}, which went on after their best epoch")
    text = f"{where}, the training loss kept falling while the validation loss rose"
    if not accuracy_up:
        return (text + ": the later epochs fitted particulars of the training images that do not carry over "
                "(over-fitting), and the evaluated weights are from before that.")
    k = len(accuracy_up)
    runs = "the run" if n == 1 else f"{k} of the {n} runs" if k < n else ("both runs" if n == 2 else f"all {n} runs")
    return (text + f"; yet validation accuracy ended higher than at the evaluated epoch in {runs} (by "
            f"{measures.shown(accuracy_up, DIGITS)}). Validation loss also rises when a model grows confidently "
            "wrong on some images while it still gets more of them right, so here restoring by validation loss "
            "gave up accuracy; monitoring `val_accuracy` would have chosen another epoch.")


def _trust(arm: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    val = measures.per_run(arm, "val_accuracy")
    test = [run.get("test", {}).get("accuracy") for run in arm["runs"]]
    text = ("The epoch was chosen because its validation score was the best, so that score is slightly "
            "optimistic as an estimate for new images; the test set played no part in the choice.")
    if any(t is None for t in test):
        return text
    c = comparison.compare("accuracy", "The test set", test, "the validation set at the evaluated epoch", val,
                         digits=DIGITS)
    n_test = (data.get("dataset") or {}).get("sizes", {}).get("test")
    error = ""
    if n_test:
        p = math.fsum(test) / len(test)
        error = (f" An accuracy measured on {n_test:,} test images has a standard error of about "
                 f"{math.sqrt(p * (1 - p) / n_test):.{DIGITS}f}.")
    return f"{text} {c.sentence.replace(' has a ', ' gives a ', 1)} {_selection_verdict(c)}{error}"


def _selection_verdict(c: comparison.Comparison) -> str:
    """How the test score stands against the chosen epoch's validation score."""
    if c.direction == "lower":
        return ("That is the direction the choice predicts." if c.exceeds_noise
                else "That is the direction the choice predicts, though not beyond run-to-run noise.")
    if c.direction == "higher":
        return ("Here the test images scored higher, so the optimism of the choice is smaller than the "
                "difference between the validation and the test images.")
    return "The two agree to the digits shown."


def _class_names(data: Mapping[str, Any], arm: Mapping[str, Any]) -> list[str]:
    names = ((data.get("dataset") or {}).get("class_names")) or list(arm["runs"][0]["classification_report"])
    return list(names)


def per_class(arm: Mapping[str, Any], class_names: list[str]) -> str:
    """The classification report on the test set (mean ± sd of each class's precision, recall and
    F1 over runs), the weakest and strongest class by F1, and the most confused pairs of the test
    confusion matrices summed over runs."""
    runs = arm["runs"]
    rows = ["| class | precision | recall | F1 | test images |", "|---|---|---|---|---|"]
    f1 = {}
    for name in class_names:
        cells = [[float(run["classification_report"][name][m]) for run in runs] for m in ("precision", "recall", "f1")]
        f1[name] = math.fsum(cells[2]) / len(runs)
        support = runs[0]["classification_report"][name]["support"]
        rows.append(f"| {measures.md_name(name)} | " + " | ".join(measures.shown(c, 2) for c in cells)
                    + f" | {int(support):,} |")
    over = "" if len(runs) == 1 else f" (mean ± sd over {len(runs)} runs)"
    shown = {name: round(value, 2) for name, value in f1.items()}
    low, high = min(shown.values()), max(shown.values())
    ranking = (f"{_classes_at(shown, low, 'weakest')}, {_classes_at(shown, high, 'strongest')}."
               if low < high else f"Every class has the same F1 to 2 digits ({low:.2f}).")
    pairs = confusion.most_confused_pairs(_summed_confusion(runs), [measures.md_name(n) for n in class_names]).sentence
    if len(runs) > 1:
        pairs = f"Summed over the {len(runs)} runs' test predictions, {pairs[:1].lower()}{pairs[1:]}"
    return (f"Precision, recall and F1 of each class on the test images{over}:\n\n" + "\n".join(rows)
            + f"\n\n{ranking} {pairs}")


def _classes_at(shown: dict[str, float], value: float, word: str) -> str:
    """'The weakest class by F1 is cat (0.45)' or 'the strongest classes by F1 are a and b (0.80)'."""
    names = [measures.md_name(name) for name, v in shown.items() if v == value]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "class by F1 is" if len(names) == 1 else "classes by F1 are"
    if word == "weakest":
        return f"The weakest {verb} {joined} ({value:.2f})"
    return f"the strongest {'is' if len(names) == 1 else 'are'} {joined} ({value:.2f})"


def _summed_confusion(runs: list[Mapping[str, Any]]):
    import numpy as np

    return sum(np.asarray(run["confusion"]["test"], dtype=np.int64) for run in runs)


def _of(k: int, n: int) -> str:
    if n == 1:
        return "The run" if k == 1 else "No run"
    if k == n:
        return "Both runs" if n == 2 else f"All {n} runs"
    return f"{k} of {n} runs"


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _listed(values: list[int]) -> str:
    """'7', '7 and 10', '4, 7 and 10'."""
    shown = [str(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
