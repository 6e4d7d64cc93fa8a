"""Experiments a chapter runs in a few calls: prepare the data, train several architectures
over several seeds, and collect what the page reports (a summary table, per-variant values for
the sentences, confusion matrices).

Every arm of a comparison shares the data, the seeds and the training settings; only the
architecture (a spec in ``params/models/``) differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from coursebook.course import data, evaluation, history, models, training
from coursebook.course.prose import comparison, confusion, learning_speed, overfitting
from coursebook.course.prose.dataset import describe_dataset
from coursebook.course.prose.numbers import md, mean_sd

SUMMARY_METRICS = {"accuracy": "train accuracy", "val_accuracy": "validation accuracy",
                   "loss": "train loss", "val_loss": "validation loss",
                   "seconds": f"seconds per epoch ({history.EPOCH_TIME})"}


def prepare_data(source: str, *, seed: int, validation: str = "holdout", validation_fraction: float = 0.2,
                 train_size: int | None = None, scaling: str = "unit", flatten: bool = False
                 ) -> tuple[data.Dataset, data.Splits]:
    """Load the dataset, split it (seeded) and preprocess it (one-hot labels). The dataset itself
    does not depend on ``seed`` (the synthetic stand-in is always generated with its default seed,
    like CIFAR-10 it is one fixed dataset); the split and the training-subset do."""
    dataset = data.load_dataset(source)
    splits = data.make_splits(dataset, validation=validation, validation_fraction=validation_fraction,
                              train_size=train_size, seed=seed)
    return dataset, data.preprocess(splits, scaling=scaling, one_hot=True, flatten=flatten)


def seeds_for(seed: int, repeats: int) -> list[int]:
    """The seeds of ``repeats`` runs: seed, seed + 1, ..."""
    return [seed + i for i in range(repeats)]


def compare_models(model_names: Sequence[str], splits: data.Splits, *, seeds: Sequence[int], epochs: int,
                   batch_size: int, optimizer: str = "adam", learning_rate: float | None = None,
                   augment: bool = False, verbose: int = 2) -> dict[tuple[str, int], training.TrainResult]:
    """Train every architecture with every seed under the same settings. Every run keeps its
    last epoch's weights, so the tables (last epoch), confusion matrices and test scores all
    describe the same model (early stopping or best-checkpoint restore would need the tables to
    report the restored epoch instead)."""
    num_classes = len(splits.class_names)

    def factory(name: str):
        def build():
            model = models.build_model(name, num_classes=num_classes)
            if augment:
                model = training.with_augmentation(model)
            return training.compile_model(model, optimizer=optimizer, learning_rate=learning_rate)
        return build

    return training.train_variants({name: factory(name) for name in model_names}, splits, seeds,
                                   epochs=epochs, batch_size=batch_size, verbose=verbose)


def final_values(frame: pd.DataFrame, metric: str, variant: str) -> list[float]:
    """``metric`` at the last epoch of each run of ``variant`` (one value per seed)."""
    return history.values_at(frame, metric, variant)


def summary_table(frame: pd.DataFrame, digits: int = 4, epochs: history.EpochsPerRun | None = None) -> pd.DataFrame:
    """One row per variant: its metrics at each run's epoch in ``epochs`` (its evaluated epoch;
    default its last) and its seconds per epoch (:func:`history.epoch_time`, the one definition
    the prose uses too), as 'mean ± sd' over runs. A missing or non-finite value is an error."""
    per_run = history.at_epoch(history.check(frame, list(SUMMARY_METRICS), purpose="summary_table"), epochs)
    seconds = history.seconds_per_epoch(frame)
    per_run["seconds"] = [seconds[(v, s)] for v, s in zip(per_run["variant"], per_run["seed"])]
    rows = []
    for variant, runs in per_run.groupby("variant", sort=False):
        read = sorted(set(runs["epoch"].astype(int)))
        row = {"model": variant, "runs": len(runs), "epoch": ", ".join(map(str, read))}
        for metric, label in SUMMARY_METRICS.items():
            row[label] = mean_sd(runs[metric].to_numpy(dtype=float), 1 if metric == "seconds" else digits,
                                 f"summary_table: {metric!r} of {variant!r}")
        rows.append(row)
    return pd.DataFrame(rows)


def confusion_matrices(results: dict[tuple[str, int], training.TrainResult], splits: data.Splits,
                       seed: int) -> dict[str, np.ndarray]:
    """Confusion matrices of each variant's run with ``seed``, on the training and validation parts."""
    matrices = {}
    n_classes = len(splits.class_names)
    for (variant, run_seed), result in results.items():
        if run_seed != seed:
            continue
        for part, x, y in (("training", splits.x_train, splits.y_train), ("validation", splits.x_val, splits.y_val)):
            predicted = evaluation.predict_labels(result.model, x)
            matrices[f"{variant}: {part}"] = evaluation.confusion(evaluation.to_labels(y), predicted, n_classes)
    return matrices


def test_set_scores(results: dict[tuple[str, int], training.TrainResult], splits: data.Splits) -> pd.DataFrame:
    """Loss and accuracy of every run on the test set (never used for training or model choice)."""
    rows = []
    for (variant, seed), result in results.items():
        scores = evaluation.evaluate(result.model, {"test": (splits.x_test, splits.y_test)}).iloc[0]
        rows.append({"variant": variant, "seed": seed, "test loss": scores["loss"], "test accuracy": scores["accuracy"]})
    return pd.DataFrame(rows)


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


# (metric, words, higher is better?): on training data, higher is not better (it may be over-fitting)
COMPARED = (("val_accuracy", "final validation accuracy", True), ("val_loss", "final validation loss", False),
            ("accuracy", "final training accuracy", None))


def comparison_text(frame: pd.DataFrame, variant: str, reference: str) -> str:
    """Markdown bullets comparing ``variant`` with ``reference``, each computed from the frame."""
    bullets = [comparison.compare_at_epochs(frame, metric, label, variant, reference,
                                            higher_is_better=better).sentence
               for metric, label, better in COMPARED]
    bullets += [overfitting.overfitting_diagnosis(frame, variant=name).sentence for name in (reference, variant)]
    return "\n".join(f"- {b}" for b in bullets)


def answer_text(frame: pd.DataFrame, architectures: Sequence[str], threshold: float) -> str:
    """The page's answer: every architecture against the first (the reference); with a single
    architecture, its over-fitting diagnosis and learning speed."""
    reference, *others = architectures
    if not others:
        return "\n".join(f"- {sentence}" for sentence in (
            overfitting.overfitting_diagnosis(frame, variant=reference).sentence,
            learning_speed.learning_speed(frame, threshold=threshold, variant=reference).sentence))
    return "\n\n".join(
        f"**{md(other)} against {md(reference)}**\n\n{comparison_text(frame, other, reference)}\n- "
        f"{learning_speed_text(frame, other, reference, threshold)}" for other in others)


def learning_speed_text(frame: pd.DataFrame, variant: str, reference: str, threshold: float) -> str:
    """How fast training accuracy rises for ``variant`` against ``reference``."""
    speeds = [learning_speed.learning_speed(frame, threshold=threshold, variant=name) for name in (variant, reference)]
    return learning_speed.compare_learning_speed(*speeds)
