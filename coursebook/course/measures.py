"""Values read from a chapter's results in the results-file schema (``book/chapters/<id>.results.json``,
or a :class:`~coursebook.course.results.Results`, read through its mapping): per-run values at the
evaluated epoch and the train-validation gap. ``arms`` is a list of ``{name, model, parameters,
settings, runs}``; each run has ``seed``, ``history`` (metric -> list per epoch), ``evaluated_epoch``
(1-based), ``training``, ``validation`` and ``test``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


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


def accuracy_gap(run: Mapping[str, Any]) -> float:
    """Training minus validation accuracy of the evaluated weights: the evaluation-mode training
    accuracy (``training``) where the run measured it, else Keras' running one at the evaluated epoch."""
    training = run.get("training") or {}
    if "accuracy" in training:
        return float(training["accuracy"]) - float((run.get("validation") or {}).get(
            "accuracy", evaluated(run, "val_accuracy")))
    return evaluated(run, "accuracy") - evaluated(run, "val_accuracy")


def runs_count(results: Any) -> int:
    """The smallest number of runs of any arm."""
    return min(len(entry["runs"]) for entry in as_mapping(results)["arms"])
