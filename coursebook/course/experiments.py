"""Experiments a chapter runs in a few calls, and what its page reports.

A comparison is a list of arms (``coursebook.course.arms``: each a model and its own training
settings): :func:`prepare` checks the arms and loads and splits the data, :meth:`Experiment.train`
trains every arm with every seed on the same validation and test images and returns a
:class:`~coursebook.course.results.Results`, and the page functions below (settings table,
summary at the evaluated epoch, where each run stopped, comparison sentences, confusion matrices,
test set) compute every table and sentence from that object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coursebook.book import progress
from coursebook.course import data, evaluation, history, learned, models, training
from coursebook.course.prose import confusion
from coursebook.course.prose.dataset import describe_dataset
from coursebook.course.training import PROBE_IMAGES
from coursebook.course.prose.numbers import epochs as epochs_text_of, md, mean_sd
from coursebook.course import arms as arms_module, results as results_module


def prepare_data(source: str, *, seed: int, validation: str = "holdout", validation_fraction: float = 0.2,
                 train_size: int | None = None, test_size: int | None = None, scaling: str = "unit",
                 flatten: bool = False) -> tuple[data.Dataset, data.Splits]:
    """Load the dataset, split it (seeded) and preprocess it (one-hot labels). The dataset itself
    does not depend on ``seed`` (the synthetic stand-in is always generated with its default seed,
    like CIFAR-10 it is one fixed dataset); the split and the training-subset do."""
    dataset = data.load_dataset(source)
    splits = data.make_splits(dataset, validation=validation, validation_fraction=validation_fraction,
                              train_size=train_size, test_size=test_size, seed=seed)
    return dataset, data.preprocess(splits, scaling=scaling, one_hot=True, flatten=flatten)


def seeds_for(seed: int, repeats: int) -> list[int]:
    """The seeds of ``repeats`` runs: seed, seed + 1, ..."""
    return [seed + i for i in range(repeats)]


def protocol_warning(splits: data.Splits) -> str:
    """A danger admonition when the test set serves as validation data (the reference protocol), else ''."""
    if not splits.leaks_test:
        return ""
    return ("```{danger} The test set is used as validation data\n" + splits.protocol +
            " Accuracies on it are not estimates of performance on unseen images.\n```")


def confusion_text(matrices: dict[str, np.ndarray], class_names: Sequence[str]) -> str:
    """Markdown bullets naming the most confused class pairs of every validation matrix."""
    return "\n".join(f"- {md(name)}: " + confusion.most_confused_pairs(matrix, list(class_names)).sentence
                      for name, matrix in matrices.items() if name.endswith("validation"))


def data_description(dataset: data.Dataset, splits: data.Splits) -> str:
    """What the chapter trains on, in one paragraph (the part of the dataset used, the split protocol)."""
    sizes = splits.sizes
    text = describe_dataset(f"The part of the {dataset.name} used here", sizes["train"], sizes["val"],
                            sizes["test"], dataset.x_train.shape[1:], validation_is_test=splits.leaks_test)
    return f"{text} {splits.protocol}"


# =========================================================================== arms as data
# A comparison chapter lists its arms in params/<id>.yaml (see coursebook.course.arms); the
# notebook prepares an Experiment, trains it into a Results object (coursebook.course.results),
# saves that with run.save_results(results) and computes every table, figure and sentence from it.


@dataclass
class Experiment:
    """The data and the checked arms of a comparison, ready to train."""

    dataset: data.Dataset
    splits: data.Splits  # the chapter-level splits (chapter train_size); arms may use a subset
    arms: list[dict[str, Any]]  # effective settings of each arm, with its name
    seeds: list[int]
    run: Any = None  # the chapter run (runtime.start): chapter, profile, parameters, device
    validation: str = "holdout"  # how the splits were made (arms with their own train_size reuse it)
    validation_fraction: float = 0.2
    test_size: int | None = None  # the first test_size test images (None: all), for every arm
    scaling: str = "unit"
    _splits: dict[int | None, data.Splits] = field(default_factory=dict, repr=False)

    def splits_for(self, train_size: int | None) -> data.Splits:
        """The splits an arm with ``train_size`` trains on: the same validation and test parts, and
        a seeded, stratified subset of the training part (all of it for None)."""
        if train_size not in self._splits:
            raw = data.make_splits(self.dataset, validation=self.validation, seed=self.seeds[0],
                                   validation_fraction=self.validation_fraction, train_size=train_size,
                                   test_size=self.test_size)
            self._splits[train_size] = data.preprocess(raw, scaling=self.scaling, one_hot=True)
        return self._splits[train_size]

    def train(self, verbose: int = 2) -> results_module.Results:
        """Train every arm with every seed (the random state reset to the seed before each model is
        built and before it is fitted, so every arm starts from the same seed) on the same
        validation and test parts, evaluate the weights each run ends with, and return the Results."""
        arms_done = {arm["name"]: [] for arm in self.arms}
        counts: dict[str, dict[str, int]] = {}
        runs = len(self.seeds) * len(self.arms)
        for seed in self.seeds:
            for arm in self.arms:
                if verbose:
                    print(f"--- {arm['name']}, seed {seed}")
                done = sum(map(len, arms_done.values()))
                with progress.labels(arm=arm["name"], seed=seed, run=done + 1, runs=runs):  # the live progress line
                    run, counts[arm["name"]] = _train_run(arm, self.splits_for(arm["train_size"]), seed, verbose)
                arms_done[arm["name"]].append(run)
        results = results_module.Results(
            chapter=getattr(self.run, "chapter", ""), profile=getattr(self.run, "profile", ""),
            parameters=dict(getattr(self.run, "parameters", {}) or {}), dataset=self._dataset_info(),
            versions=training.backend_versions(), device=getattr(self.run, "device", "") or training.configure_backend(),
            arms=[results_module.ArmResult(arm["name"], arm["model"], counts[arm["name"]],
                                           {k: v for k, v in arm.items() if k != "name"}, arms_done[arm["name"]])
                  for arm in self.arms])
        return results.check()

    def _dataset_info(self) -> results_module.DatasetInfo:
        sizes = self.splits.sizes
        return results_module.DatasetInfo(
            name=self.dataset.name, fingerprint=self.dataset.fingerprint, synthetic=bool(self.dataset.is_synthetic),
            sizes={"train": sizes["train"], "validation": sizes["val"], "test": sizes["test"]},
            class_names=list(self.splits.class_names))


def prepare(run: Any, arms: list[dict[str, Any]], *, data: str = "auto", seed: int = 0, repeats: int = 1,
            validation: str = "holdout", validation_fraction: float = 0.2, test_size: int | None = None,
            scaling: str = "unit", **chapter_settings: Any) -> Experiment:
    """Check the arms against the chapter-level settings (``epochs``, ``batch_size``, ``optimizer``,
    ``learning_rate``, ``train_size``, ...: an arm's own key wins), load and split the data (the
    split depends on ``seed``, not on the repeat; ``test_size`` keeps the first test images) and
    record the dataset on the run card."""
    from coursebook.course import arms as arms_module

    unknown = sorted(set(chapter_settings) - set(arms_module.SETTING_DEFAULTS))
    if unknown:
        raise TypeError(f"prepare: unknown chapter setting {unknown[0]!r}; allowed: {list(arms_module.SETTING_DEFAULTS)}")
    effective = arms_module.check_arms(arms, chapter_settings, where="notebook parameters")
    dataset, splits = prepare_data(data, seed=seed, validation=validation, validation_fraction=validation_fraction,
                                   train_size=chapter_settings.get("train_size"), test_size=test_size, scaling=scaling)
    if run is not None:
        run.use_dataset(dataset, splits)
    experiment = Experiment(dataset, splits, effective, seeds_for(seed, repeats), run, validation=validation,
                            validation_fraction=validation_fraction, test_size=test_size, scaling=scaling)
    experiment._splits[chapter_settings.get("train_size")] = splits  # already made: reuse it
    return experiment


def build_arm_model(arm: dict[str, Any], num_classes: int):
    """The compiled Keras model of one arm: its architecture, augmentation layers in front (if any),
    its optimizer and learning rate. Metric names stay loss/accuracy with or without augmentation."""
    model = models.build_model(arm["model"], num_classes=num_classes)
    if arm["augmentation"]:
        model = training.with_augmentation(model, training.augmentation_layers(arm["augmentation"]))
    return training.compile_model(model, optimizer=arm["optimizer"], learning_rate=arm["learning_rate"])


def _train_run(arm: dict[str, Any], splits: data.Splits, seed: int, verbose: int
               ) -> tuple[results_module.Run, dict[str, int]]:
    import keras

    keras.utils.set_random_seed(seed)
    model = build_arm_model(arm, len(splits.class_names))
    counts = models.keras_parameter_counts(model)
    fitted = training.train(model, splits, epochs=arm["epochs"], batch_size=arm["batch_size"], seed=seed,
                            early_stopping=arm["early_stopping"], checkpoint_best=arm["checkpoint"],
                            batch_norm=arm["batch_norm"], verbose=verbose)
    return measure_run(fitted, splits, seed, arm["batch_size"]), counts


def measure_run(fitted: training.TrainResult, splits: data.Splits, seed: int, batch_size: int) -> results_module.Run:
    """Measure the weights a run ends with, from one prediction pass over each part (with the
    training batch size, inference mode): training, validation and test loss and accuracy (computed
    from the predicted probabilities as ``model.evaluate`` computes them), whether the run learned
    (:func:`coursebook.course.learned.judge`), the test classification report and the confusion
    matrices of every part."""
    model, n_classes = fitted.model, len(splits.class_names)
    confusion, scores, predicted = {}, {}, {}
    for part, x, y in (("training", splits.x_train, splits.y_train), ("validation", splits.x_val, splits.y_val),
                       ("test", splits.x_test, splits.y_test)):
        probabilities = evaluation.predict_probabilities(model, x, batch_size=batch_size)
        predicted[part] = probabilities.argmax(axis=-1)
        confusion[part] = evaluation.confusion(evaluation.to_labels(y), predicted[part], n_classes).tolist()
        scores[part] = evaluation.scores_from_probabilities(y, probabilities)
    report = evaluation.classification_report_frame(splits.y_test, predicted["test"], splits.class_names)
    per_class = {name: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                        "f1": float(row["f1"]), "support": int(row["support"])}
                 for name, row in report.loc[list(splits.class_names)].iterrows()}
    verdict = learned.judge(
        classes=n_classes, validation_images=len(splits.x_val), validation_accuracy=scores["validation"]["accuracy"],
        training_loss=scores["training"]["loss"], training_accuracy=scores["training"]["accuracy"],
        running_accuracy=fitted.raw_history["accuracy"][fitted.best_epoch - 1],
        first_running_loss=fitted.raw_history["loss"][0], steps=-(-len(splits.x_train) // batch_size) * fitted.best_epoch,
        batch_norm=bool(training.batch_norm_layers(model)))
    return results_module.Run(
        seed=seed, history=fitted.raw_history, stopped_epoch=fitted.epochs_run, evaluated_epoch=fitted.best_epoch,
        seconds_per_epoch=[float(s) for s in fitted.seconds_per_epoch],
        training=scores["training"], validation=scores["validation"], test=scores["test"],
        learned=verdict.learned, learned_rule=verdict.rule, failure_cause=verdict.cause,
        classification_report=per_class, confusion=confusion)


# =========================================================================== the page, from Results
# Every table, figure and sentence of a comparison page is computed here from the Results object
# the chapter saved, so the page can never disagree with its results file. With early stopping or
# a checkpoint, values are taken at each run's evaluated epoch (the weights that were evaluated).

SETTING_LABELS = {"model": "model", "optimizer": "optimizer", "learning_rate": "learning rate",
                  "batch_size": "batch size", "epochs": "epochs", "train_size": "training images",
                  "early_stopping": "early stopping", "checkpoint": "checkpoint", "augmentation": "augmentation",
                  "batch_norm": "batch-norm statistics"}
# The summary's measures at the evaluated epoch: (label, how to read it from a run). Training scores
# come in both modes: inference (the weights as evaluated) and Keras' running value (training mode).
EVALUATED_MEASURES = {
    "validation accuracy": lambda run: run.validation["accuracy"],
    "validation loss": lambda run: run.validation["loss"],
    "training accuracy (inference mode)": lambda run: run.training["accuracy"],
    "training loss (inference mode)": lambda run: run.training["loss"],
    "training accuracy (running, training mode)": lambda run: run.at_evaluated("accuracy"),
}
def describe_setting(key: str, value: Any) -> str:
    """One effective setting in words, as the settings table shows it."""
    if key == "learning_rate" and value is None:
        return "optimizer default"
    if key == "train_size" and value is None:
        return "all"
    if key in ("early_stopping", "checkpoint") and not value:
        return "none"
    if key == "early_stopping":
        restore = "restores best weights" if value["restore_best_weights"] else "keeps last weights"
        return (f"on {value['monitor']} ({value['mode']}), patience {value['patience']}, "
                f"min_delta {value['min_delta']:g}, {restore}")
    if key == "checkpoint":
        return f"best {value['monitor']} ({value['mode']})"
    if key == "augmentation":
        return "none" if not value else ", ".join(_describe_layer(entry) for entry in value)
    if key == "batch_norm":
        return {"recompute": "recomputed from training images before each evaluation",
                "moving": "Keras' moving averages (momentum 0.99)"}[value]
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _describe_layer(entry: dict[str, dict[str, Any]]) -> str:
    (layer, options), = entry.items()
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


def settings_table(results: results_module.Results) -> pd.DataFrame:
    """One row per arm with its effective settings; a value the arm sets itself is marked "(arm)",
    the others come from the chapter level (notebook default < params file < profile < command line)."""
    own = arm_keys(results)
    labels = {key: label for key, label in SETTING_LABELS.items()
              if key != "batch_norm" or any(models.has_batch_norm(arm.model) for arm in results.arms)}
    rows = []
    for arm in results.arms:
        row = {"arm": arm.name}
        for key, label in labels.items():
            text = describe_setting(key, arm.settings.get(key, arms_module.SETTING_DEFAULTS[key]))
            row[label] = f"{text} (arm)" if key in own.get(arm.name, ()) and key != "model" else text
        rows.append(row)
    return pd.DataFrame(rows)


def parameters_table(results: results_module.Results) -> pd.DataFrame:
    """One row per arm: its model (title from the spec) and Keras' parameter counts of the model trained."""
    return pd.DataFrame([
        {"arm": arm.name, "model": arm.model, "title": models.load_spec(arm.model).title,
         "parameters": arm.parameters["total"], "trainable": arm.parameters["trainable"],
         "non-trainable": arm.parameters["non_trainable"]} for arm in results.arms])


def evaluated_summary_table(results: results_module.Results, digits: int = 4) -> pd.DataFrame:
    """One row per arm: epochs trained and evaluated epoch of each run (in seed order), the measures
    at the evaluated epoch (:data:`EVALUATED_MEASURES`), how many runs learned, and the seconds per
    epoch (:func:`history.epoch_time`), as 'mean ± sd'."""
    rows = []
    for arm in results.arms:
        row = {"arm": arm.name, "runs": len(arm.runs),
               "epochs trained": ", ".join(str(run.stopped_epoch) for run in arm.runs),
               "evaluated epoch": ", ".join(str(run.evaluated_epoch) for run in arm.runs)}
        for label, measure in EVALUATED_MEASURES.items():
            row[label] = mean_sd([measure(run) for run in arm.runs], digits, f"{label} of {arm.name!r}")
        failed = sum(not run.learned for run in arm.runs)
        row["runs that learned"] = f"{len(arm.runs) - failed} of {len(arm.runs)}"
        row[f"seconds per epoch ({history.EPOCH_TIME})"] = mean_sd(
            [history.epoch_time(run.seconds_per_epoch) for run in arm.runs], 1, f"seconds per epoch of {arm.name!r}")
        rows.append(row)
    return pd.DataFrame(rows)


def all_evaluated_at_last_epoch(results: results_module.Results) -> bool:
    """True when every run trained its configured epochs and was evaluated at the last of them."""
    return all(run.evaluated_epoch == run.stopped_epoch == arm.settings["epochs"]
               for arm in results.arms for run in arm.runs)


def epochs_text(results: results_module.Results) -> str:
    """Markdown bullets, one per arm: where its runs stopped and which epoch of each was evaluated
    (per run, in seed order), and why that epoch."""
    return "\n".join(f"- **{md(arm.name)}**: {_arm_epochs(arm)}" for arm in results.arms)


def _arm_epochs(arm: results_module.ArmResult) -> str:
    epochs, stopping, checkpoint = arm.settings["epochs"], arm.settings["early_stopping"], arm.settings["checkpoint"]
    runs, several = arm.runs, len(arm.runs) > 1
    early = [run for run in runs if arm.stopped_early(run)]
    if early:
        which = ("every run" if len(early) == len(runs) else f"{len(early)} of {len(runs)} runs") if several else "the run"
        trained = (f"early stopping ended {which} after epoch {', '.join(str(r.stopped_epoch) for r in early)} of "
                   f"{epochs} ({stopping['monitor']} did not improve for {epochs_text_of(stopping['patience'])})")
        if len(early) < len(runs):
            trained += f"; {'the other' if len(runs) - len(early) == 1 else 'the others'} trained all {epochs}"
    else:
        trained = (f"{'every run' if several else 'the run'} trained all {epochs_text_of(epochs)}"
                   + (" (early stopping did not stop it)" if stopping else ""))
    if checkpoint:
        why = f"the best {checkpoint['monitor']}, kept by the checkpoint"
    elif stopping and stopping["restore_best_weights"]:
        why = f"the best {stopping['monitor']}, restored by early stopping"
    else:
        why = "the last epoch trained"
    evaluated = ", ".join(str(run.evaluated_epoch) for run in runs)
    return f"{trained}; evaluated epoch{' per run' if several else ''}: {evaluated} ({why})."


# (metric, words, higher is better?) compared at each run's evaluated epoch
def results_confusion_matrices(results: results_module.Results, seed: int | None = None,
                               parts: Sequence[str] = ("training", "validation")) -> dict[str, np.ndarray]:
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
    return pd.DataFrame([{"arm": arm.name, "seed": run.seed, "evaluated epoch": run.evaluated_epoch,
                          "test loss": run.test["loss"], "test accuracy": run.test["accuracy"]}
                         for arm in results.arms for run in arm.runs])


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
        return (f"{what} per epoch: training dashed (Keras' running value, in training mode), training in inference "
                f"mode dotted (at most the first {PROBE_IMAGES:,} training images), validation solid{band}.")
    return (f"{what} per epoch, one line per run (runs stopped early end where they stopped): "
            "training dashed (Keras' running value, in training mode), training in inference mode dotted (at most "
            f"the first {PROBE_IMAGES:,} training images), validation solid; a dot marks the epoch whose weights were evaluated.")


def class_f1_table(results: results_module.Results, digits: int = 4) -> pd.DataFrame:
    """One row per class: its test images and each arm's F1 score on them (evaluated weights), as
    'mean ± sd' over runs; precision and recall are in the results file."""
    rows = []
    for name in results.dataset.class_names:
        first = results.arms[0].runs[0].classification_report[name]
        row = {"class": name, "test images": int(first["support"])}
        for arm in results.arms:
            row[f"F1: {arm.name}"] = mean_sd([run.classification_report[name]["f1"] for run in arm.runs], digits,
                                             f"F1 of {name!r} for {arm.name!r}")
        rows.append(row)
    return pd.DataFrame(rows)
