"""What a comparison chapter's page shows: its tables, figures, captions and short texts.

Each is computed from the :class:`~coursebook.course.results.Results` the chapter saved (the
settings table, the summary at the evaluated epoch, where each run stopped, the curves, the
confusion matrices, the test set, the per-class F1), so the page can never disagree with its
results file. With early stopping or a checkpoint, values are taken at each run's evaluated epoch
(the weights that were evaluated). The data paragraph and the protocol warning describe the splits
the run trained on. The Answer section is :mod:`coursebook.course.answers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursebook.course import arms as arms_module, data, history, models, results as results_module
from coursebook.course.arms import PROBE_IMAGES
from coursebook.course.prose import confusion
from coursebook.course.prose.dataset import describe_dataset
from coursebook.course.prose.numbers import epochs as epochs_text_of, md, mean_sd


def protocol_warning(splits: data.Splits) -> str:
    """A danger admonition when the test set serves as validation data (the reference protocol), else ''."""
    if not splits.leaks_test:
        return ""
    return (
        "```{danger} The test set is used as validation data\n"
        + splits.protocol
        + " Accuracies on it are not estimates of performance on unseen images.\n```"
    )


def confusion_text(matrices: dict[str, np.ndarray], class_names: Sequence[str]) -> str:
    """Markdown bullets naming the most confused class pairs of every validation matrix."""
    return "\n".join(
        f"- {md(name)}: " + confusion.most_confused_pairs(matrix, list(class_names)).sentence
        for name, matrix in matrices.items()
        if name.endswith("validation")
    )


def data_description(dataset: data.Dataset, splits: data.Splits) -> str:
    """What the chapter trains on, in one paragraph (the part of the dataset used, the split protocol)."""
    sizes = splits.sizes
    text = describe_dataset(
        f"The part of the {dataset.name} used here",
        sizes["train"],
        sizes["val"],
        sizes["test"],
        dataset.x_train.shape[1:],
        validation_is_test=splits.leaks_test,
    )
    return f"{text} {splits.protocol}"


SETTING_LABELS = {
    "model": "model",
    "optimizer": "optimizer",
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "epochs": "epochs",
    "train_size": "training images",
    "early_stopping": "early stopping",
    "checkpoint": "checkpoint",
    "augmentation": "augmentation",
    "batch_norm": "batch-norm statistics",
}
# The summary's measures at the evaluated epoch: (label, how to read it from a run). Training scores
# come in both modes: inference (the weights as evaluated) and Keras' running value (training mode).
EVALUATED_MEASURES = {  # label: the measure (Run.value reads it)
    "validation accuracy": "val_accuracy",
    "validation loss": "val_loss",
    "training accuracy (inference mode)": "train_accuracy",
    "training loss (inference mode)": "train_loss",
    "training accuracy (running, training mode)": "running_train_accuracy",
}


def describe_setting(key: str, value: Any) -> str:
    """One effective setting in words, as the settings table and the answers' sentences show it."""
    if key == "learning_rate" and value is None:
        return "the optimizer's default"
    if key == "train_size" and value is None:
        return "all"
    if key in ("early_stopping", "checkpoint") and not value:
        return "none"
    if key == "early_stopping":
        restore = "restores best weights" if value["restore_best_weights"] else "keeps last weights"
        return (
            f"on {value['monitor']} ({value['mode']}), patience {value['patience']}, "
            f"min_delta {value['min_delta']:g}, {restore}"
        )
    if key == "checkpoint":
        return f"best {value['monitor']} ({value['mode']})"
    if key == "augmentation":
        return "none" if not value else ", ".join(_describe_layer(entry) for entry in value)
    if key == "batch_norm":
        return {
            "recompute": "recomputed from training images before each evaluation",
            "moving": "Keras' moving averages (momentum 0.99)",
        }[value]
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _describe_layer(entry: dict[str, dict[str, Any]]) -> str:
    ((layer, options),) = entry.items()
    if layer == "rotation":
        return f"rotation ±{options['factor_degrees']:g}°"
    if layer == "translation":
        return f"translation ±{options['height']:g} height, ±{options['width']:g} width"
    if layer == "flip":
        return f"flip {options['mode'].replace('_', ' ')}"
    return f"{layer} " + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in options.items())


def arm_keys(results: results_module.Results) -> dict[str, set[str]]:
    """For each arm, the keys it sets itself in the chapter's ``arms`` parameter."""
    return {arm["name"]: set(arm) - {"name"} for arm in results.parameters.get("arms", []) if isinstance(arm, dict)}


SCALING_TEXT = {
    "unit": "pixels / 255 (to [0, 1])",
    "standardize": "pixels standardized per colour channel (training part's mean and sd)",
}


def preprocessing_text(settings: dict[str, Any], model: str) -> str:
    """The preprocessing the arm's run applied: the scaling its settings record, flattening when
    its model takes vectors, one-hot labels."""
    text = SCALING_TEXT.get(settings.get("scaling") or "", "pixel scaling not recorded")
    flat = len(models.load_spec(model).input_shape) == 1 if model in models.available_models() else False
    return text + ("; images flattened to vectors" if flat else "") + "; one-hot labels"


def settings_table(results: results_module.Results) -> pd.DataFrame:
    """One row per arm with its effective settings; a value the arm sets itself is marked "(arm)",
    the others come from the chapter level (notebook default < params file < profile < command line).
    Training images are the number the arm trained on (the chapter's training part when the arm sets
    none); the batch-norm statistics row, shown when an arm has batch normalization, says "no
    batch-norm layers" for the arms without; the preprocessing row is what the run recorded."""
    own = arm_keys(results)
    labels = {
        key: label
        for key, label in SETTING_LABELS.items()
        if key != "batch_norm" or any(models.has_batch_norm(arm.model) for arm in results.arms)
    }
    dataset = getattr(results, "dataset", None)
    rows = []
    for arm in results.arms:
        row = {"arm": arm.name}
        for key, label in labels.items():
            value = arm.settings.get(key, arms_module.SETTING_DEFAULTS[key])
            if key == "train_size" and value is None and dataset is not None:
                text = f"{dataset.sizes['train']:,}"
            elif key == "batch_norm" and not models.has_batch_norm(arm.model):
                text = "no batch-norm layers"
            else:
                text = describe_setting(key, value)
            row[label] = f"{text} (arm)" if key in own.get(arm.name, ()) and key != "model" else text
        row["preprocessing"] = preprocessing_text(arm.settings, arm.model)
        rows.append(row)
    return pd.DataFrame(rows)


def parameters_table(results: results_module.Results) -> pd.DataFrame:
    """One row per arm: its model (title from the spec) and Keras' parameter counts of the model trained."""
    return pd.DataFrame(
        [
            {
                "arm": arm.name,
                "model": arm.model,
                "title": models.load_spec(arm.model).title,
                "parameters": arm.parameters["total"],
                "trainable": arm.parameters["trainable"],
                "non-trainable": arm.parameters["non_trainable"],
            }
            for arm in results.arms
        ]
    )


def evaluated_summary_table(results: results_module.Results, digits: int = 4) -> pd.DataFrame:
    """One row per arm: epochs trained and evaluated epoch of each run (in seed order), the measures
    at the evaluated epoch (:data:`EVALUATED_MEASURES`), how many runs learned, and the seconds per
    epoch (:func:`history.epoch_time`), as 'mean ± sd'."""
    rows = []
    for arm in results.arms:
        row = {
            "arm": arm.name,
            "runs": len(arm.runs),
            "epochs trained": ", ".join(str(run.stopped_epoch) for run in arm.runs),
            "evaluated epoch": ", ".join(str(run.evaluated_epoch) for run in arm.runs),
        }
        for label, measure in EVALUATED_MEASURES.items():
            row[label] = mean_sd([run.value(measure) for run in arm.runs], digits, f"{label} of {arm.name!r}")
        failed = sum(not run.learned for run in arm.runs)
        row["runs that learned"] = f"{len(arm.runs) - failed} of {len(arm.runs)}"
        row[f"seconds per epoch ({history.EPOCH_TIME})"] = mean_sd(
            [history.epoch_time(run.seconds_per_epoch) for run in arm.runs], 1, f"seconds per epoch of {arm.name!r}"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def all_evaluated_at_last_epoch(results: results_module.Results) -> bool:
    """True when every run trained its configured epochs and was evaluated at the last of them."""
    return all(
        run.evaluated_epoch == run.stopped_epoch == arm.settings["epochs"] for arm in results.arms for run in arm.runs
    )


def epochs_text(results: results_module.Results) -> str:
    """Markdown bullets, one per arm: where its runs stopped and which epoch of each was evaluated
    (per run, in seed order), and why that epoch."""
    return "\n".join(f"- **{md(arm.name)}**: {_arm_epochs(arm)}" for arm in results.arms)


def _arm_epochs(arm: results_module.ArmResult) -> str:
    epochs, stopping, checkpoint = arm.settings["epochs"], arm.settings["early_stopping"], arm.settings["checkpoint"]
    runs, several = arm.runs, len(arm.runs) > 1
    early = [run for run in runs if arm.stopped_early(run)]
    if early:
        which = (
            ("every run" if len(early) == len(runs) else f"{len(early)} of {len(runs)} runs") if several else "the run"
        )
        trained = (
            f"early stopping ended {which} after epoch {', '.join(str(r.stopped_epoch) for r in early)} of "
            f"{epochs} ({stopping['monitor']} did not improve for {epochs_text_of(stopping['patience'])})"
        )
        if len(early) < len(runs):
            trained += f"; {'the other' if len(runs) - len(early) == 1 else 'the others'} trained all {epochs}"
    else:
        trained = f"{'every run' if several else 'the run'} trained all {epochs_text_of(epochs)}" + (
            " (early stopping did not stop it)" if stopping else ""
        )
    if checkpoint:
        why = f"the best {checkpoint['monitor']}, kept by the checkpoint"
    elif stopping and stopping["restore_best_weights"]:
        why = f"the best {stopping['monitor']}, restored by early stopping"
    else:
        why = "the last epoch trained"
    evaluated = ", ".join(str(run.evaluated_epoch) for run in runs)
    return f"{trained}; evaluated epoch{' per run' if several else ''}: {evaluated} ({why})."


def results_confusion_matrices(
    results: results_module.Results, seed: int | None = None, parts: Sequence[str] = ("training", "validation")
) -> dict[str, np.ndarray]:
    """Confusion matrices of every arm's run with ``seed`` (default: the first seed) on ``parts``,
    for the evaluated weights, keyed 'arm: part'."""
    matrices = {}
    for arm in results.arms:
        run = arm.runs[0] if seed is None else next(r for r in arm.runs if r.seed == seed)
        for part in parts:
            matrices[f"{arm.name}: {part}"] = np.asarray(run.confusion[part])
    return matrices


def test_set_table(results: results_module.Results) -> pd.DataFrame:
    """Loss and accuracy on the test set of every run, for the weights of its evaluated epoch."""
    return pd.DataFrame(
        [
            {
                "arm": arm.name,
                "seed": run.seed,
                "evaluated epoch": run.evaluated_epoch,
                "test loss": run.test["loss"],
                "test accuracy": run.test["accuracy"],
            }
            for arm in results.arms
            for run in arm.runs
        ]
    )


def curves_figure(results: results_module.Results, metrics: Sequence[str] = ("loss", "accuracy")):
    """Curves of ``metrics`` (one panel each): mean ± sd over seeds when every run trained the same
    epochs and was evaluated at the last; otherwise one line per run with its evaluated epoch marked
    (a mean over runs that ended at different epochs would mix different numbers of runs)."""
    from coursebook.course import plots

    frame = results.history_frame()
    if all_evaluated_at_last_epoch(results):
        return plots.training_curves(frame, metrics=metrics)
    evaluated = {(arm.name, run.seed): run.evaluated_epoch for arm in results.arms for run in arm.runs}
    return plots.run_curves(frame, evaluated, metrics=metrics)


def curves_caption(results: results_module.Results, what: str = "Loss and accuracy") -> str:
    """The caption that matches :func:`curves_figure` (``what``: the metrics it shows, in words)."""
    if all_evaluated_at_last_epoch(results):
        runs = max(len(arm.runs) for arm in results.arms)
        band = "; bands show mean ± sd over the seeds" if runs > 1 else ""
        return (
            f"{what} per epoch: training dashed (Keras' running value, in training mode), training in inference "
            f"mode dotted (at most the first {PROBE_IMAGES:,} training images), validation solid{band}."
        )
    return (
        f"{what} per epoch, one line per run (runs stopped early end where they stopped): "
        "training dashed (Keras' running value, in training mode), training in inference mode dotted (at most "
        f"the first {PROBE_IMAGES:,} training images), validation solid; a dot marks the epoch whose weights were "
        "evaluated."
    )


def class_f1_table(results: results_module.Results, digits: int = 4) -> pd.DataFrame:
    """One row per class: its test images and each arm's F1 score on them (evaluated weights), as
    'mean ± sd' over runs; precision and recall are in the results file."""
    rows = []
    for name in results.dataset.class_names:
        first = results.arms[0].runs[0].classification_report[name]
        row = {"class": name, "test images": int(first["support"])}
        for arm in results.arms:
            row[f"F1: {arm.name}"] = mean_sd(
                [run.classification_report[name]["f1"] for run in arm.runs], digits, f"F1 of {name!r} for {arm.name!r}"
            )
        rows.append(row)
    return pd.DataFrame(rows)
