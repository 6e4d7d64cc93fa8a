"""What the explanations read from a chapter's results: arms, per-run values at the evaluated
epoch, train/validation gaps, validation-loss rises, and the limits of the evidence.

Results follow the results-file schema (``book/chapters/<id>.results.json``): ``arms`` is a list of
``{name, model, parameters, settings, runs}`` and each run has ``seed``, ``history`` (metric -> list
per epoch), ``evaluated_epoch`` (1-based), ``validation`` and ``test``. An object with ``to_dict()``
(or a dataclass) is read through that mapping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

PROFILE_WORDS = {"smoke": "the smoke profile (a pipeline check: a few epochs on a few hundred images)",
                 "quick": "the quick profile (fewer epochs and images than the assignment)"}


def as_mapping(results: Any) -> Mapping[str, Any]:
    """The results as a mapping of the results-file schema."""
    if isinstance(results, Mapping):
        return results
    for method in ("to_dict", "as_dict"):
        if callable(getattr(results, method, None)):
            return getattr(results, method)()
    if dataclasses.is_dataclass(results):
        return dataclasses.asdict(results)
    raise TypeError(f"cannot read results of type {type(results).__name__}: expected the results-file mapping")


def arm_names(results: Any) -> list[str]:
    """Arm names in the order of the results."""
    return [arm["name"] for arm in as_mapping(results)["arms"]]


def arm(results: Any, name: str | None = None, index: int | None = None) -> Mapping[str, Any]:
    """One arm, by name or by position."""
    arms = as_mapping(results)["arms"]
    if name is None:
        return arms[index or 0]
    for entry in arms:
        if entry["name"] == name:
            return entry
    raise KeyError(f"no arm named {name!r}; the results have {[a['name'] for a in arms]}")


def history_value(run: Mapping[str, Any], metric: str, epoch: int) -> float:
    """``metric`` of ``run`` after the 1-based ``epoch``; a missing metric or epoch raises naming it."""
    series = run["history"].get(metric)
    if series is None:
        raise KeyError(f"metric {metric!r} is not in the history of seed {run.get('seed')}; "
                       f"it has {sorted(run['history'])}")
    if not 1 <= epoch <= len(series):
        raise IndexError(f"epoch {epoch} is outside the {len(series)} epochs of seed {run.get('seed')}")
    return float(series[epoch - 1])


def evaluated(run: Mapping[str, Any], metric: str) -> float:
    """``metric`` at the run's evaluated epoch (the weights the tables and test score describe)."""
    return history_value(run, metric, evaluated_epoch(run))


def evaluated_epoch(run: Mapping[str, Any]) -> int:
    """The epoch whose weights were evaluated (the last epoch when the run does not say)."""
    epoch = run.get("evaluated_epoch")
    return int(epoch) if epoch else len(run["history"]["loss"])


def per_run(entry: Mapping[str, Any], metric: str) -> list[float]:
    """``metric`` at the evaluated epoch of every run of an arm."""
    return [evaluated(run, metric) for run in entry["runs"]]


def accuracy_gap(run: Mapping[str, Any]) -> float:
    """Training minus validation accuracy of the evaluated weights: the evaluation-mode training
    accuracy (``training``) where the run measured it, else Keras' running one at the evaluated epoch."""
    training = run.get("training") or {}
    if "accuracy" in training:
        return float(training["accuracy"]) - float((run.get("validation") or {}).get(
            "accuracy", evaluated(run, "val_accuracy")))
    return evaluated(run, "accuracy") - evaluated(run, "val_accuracy")


def val_loss_rise(run: Mapping[str, Any]) -> float:
    """Last validation loss minus the lowest one (0: the run ended at its lowest)."""
    losses = [float(v) for v in run["history"]["val_loss"]]
    return losses[-1] - min(losses)


def lowest_val_loss_epoch(run: Mapping[str, Any]) -> int:
    """1-based epoch of the lowest validation loss (the first on ties)."""
    losses = [float(v) for v in run["history"]["val_loss"]]
    return losses.index(min(losses)) + 1


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample sd (None for one value), as :mod:`coursebook.course.prose.numbers` computes them."""
    from coursebook.course.prose import numbers

    array = numbers.finite_values(values, "values")
    return numbers.mean(array), numbers.sd(array)


def shown(values: Sequence[float], digits: int = 4) -> str:
    """'0.7231' for one run, '0.7231 ± 0.0040' (mean ± sd) for several: the course's one mean ± sd."""
    from coursebook.course.prose.numbers import mean_sd as text

    return text(values, digits)


def runs_count(results: Any) -> int:
    """The smallest number of runs of any arm."""
    return min(len(entry["runs"]) for entry in as_mapping(results)["arms"])


def limits(results: Any) -> str:
    """What limits the evidence: the number of runs, the profile and the dataset, in sentences."""
    data = as_mapping(results)
    runs = runs_count(results)
    parts = [("One run per arm: a difference cannot be told apart from run-to-run noise."
              if runs == 1 else f"{runs} runs (seeds) per arm, where the assignment's reference ran each model once; "
              "differences are judged against their spread.")]
    profile = data.get("profile")
    if profile in PROFILE_WORDS:
        parts.append(f"The run used {PROFILE_WORDS[profile]}, so the curves are shorter than the assignment's "
                     "and the numbers are not the assignment's results.")
    dataset = data.get("dataset") or {}
    if dataset.get("synthetic"):
        parts.append(f"The images come from the {dataset.get('name', 'synthetic stand-in')}, not from CIFAR-10: "
                     "the mechanisms carry over, the sizes of the effects need not.")
    return " ".join(parts)


def history_frame(results: Any, names: Sequence[str] | None = None):
    """The tidy history frame (variant, seed, epoch, metric, value) of the named arms (default: all),
    the form :mod:`coursebook.course.history` describes."""
    import pandas as pd

    rows = [(entry["name"], run["seed"], epoch, metric, float(value))
            for entry in as_mapping(results)["arms"] if names is None or entry["name"] in names
            for run in entry["runs"] for metric, series in run["history"].items()
            for epoch, value in enumerate(series, start=1)]
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "metric", "value"])


def layer_types(entry: Mapping[str, Any]) -> list[str]:
    """The layer types of an arm's model spec (params/models/<model>.yaml)."""
    from coursebook.course import models

    return [layer.type for layer in models.load_spec(entry["model"]).layers]


def arm_with_layer(results: Any, layer_type: str, topic: str) -> Mapping[str, Any]:
    """The first arm after the reference (the first arm) whose model has ``layer_type`` layers
    that the reference lacks or has fewer of; a clear error when there is none."""
    arms = as_mapping(results)["arms"]
    base = layer_types(arms[0]).count(layer_type)
    for entry in arms[1:]:
        if layer_types(entry).count(layer_type) > base:
            return entry
    raise ValueError(f"explain {topic!r}: no arm adds {layer_type} layers to the reference arm "
                     f"{arms[0]['name']!r}; arms: {[a['name'] for a in arms]}")


def setting_differences(reference: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Training settings that differ between two arms: key -> (reference value, other value)."""
    a, b = reference.get("settings") or {}, other.get("settings") or {}
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def md_name(name: str) -> str:
    """An arm name safe inside Markdown prose and tables (the course's one escaper, applied once)."""
    from coursebook.course.prose.numbers import md

    return md(name)


def train_images(results: Any) -> int | None:
    """Number of training images the arms trained on, when the results say (split sizes)."""
    dataset = as_mapping(results).get("dataset") or {}
    for key in ("sizes", "split_sizes", "splits", "counts"):
        sizes = dataset.get(key)
        if isinstance(sizes, Mapping) and sizes.get("train"):
            return int(sizes["train"])
    return None


def confusion_accuracy(run: Mapping[str, Any], part: str) -> float | None:
    """Accuracy of the evaluated weights on ``part`` (training, validation, test) from its confusion
    matrix: correct over all; None when the run has no matrix for that part."""
    matrix = (run.get("confusion") or {}).get(part)
    if not matrix:
        return None
    total = sum(sum(row) for row in matrix)
    return sum(matrix[i][i] for i in range(len(matrix))) / total if total else None


def near_chance(results: Any, entries: Sequence[Mapping[str, Any]] | None = None) -> str:
    """A sentence when every given arm (default: all) ends with a mean training accuracy below twice
    chance (1 / number of classes): such curves are too short to show any mechanism. '' otherwise."""
    data = as_mapping(results)
    entries = list(entries or data["arms"])
    classes = len((data.get("dataset") or {}).get("class_names") or []) or 10
    chance = 1 / classes
    means = [mean_sd(per_run(entry, "accuracy"))[0] for entry in entries]
    if any(round(value, 4) >= 2 * chance for value in means):
        return ""
    shown_means = ", ".join(f"{md_name(e['name'])} {v:.4f}" for e, v in zip(entries, means))
    return (f"Training accuracy has hardly left chance ({shown_means}, against {chance:.2f} for guessing among "
            f"{classes} classes): these runs are too short to show the mechanism below, which is what usually "
            "happens once a network learns, not what these curves demonstrate.")
