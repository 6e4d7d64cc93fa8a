"""Experiments a chapter runs in a few calls.

A comparison is a list of arms (``coursebook.course.arms``: each a model and its own training
settings): :func:`prepare` checks the arms and loads and splits the data, :meth:`Experiment.train`
trains every arm with every seed on the same validation and test images, measures each run
(:func:`measure_run`) and returns a :class:`~coursebook.course.results.Results`. What the page
shows of it is computed in :mod:`coursebook.course.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coursebook.book import progress
from coursebook.course import (
    arms as arms_module,
    data,
    evaluation,
    learned,
    models,
    results as results_module,
    runstore,
    training,
)
from coursebook.course.prose.numbers import join


def prepare_data(
    source: str,
    *,
    seed: int,
    validation: str = "holdout",
    validation_fraction: float = 0.2,
    train_size: int | None = None,
    test_size: int | None = None,
    validation_size: int | None = None,
    scaling: str = "unit",
) -> tuple[data.Dataset, data.Splits]:
    """Load the dataset, split it (seeded) and preprocess it (one-hot labels). The dataset itself
    does not depend on ``seed`` (the synthetic stand-in is always generated with its default seed,
    like CIFAR-10 it is one fixed dataset); the split and the training-subset do."""
    dataset = data.load_dataset(source)
    splits = data.make_splits(
        dataset,
        validation=validation,
        validation_fraction=validation_fraction,
        train_size=train_size,
        test_size=test_size,
        validation_size=validation_size,
        seed=seed,
    )
    return dataset, data.preprocess(splits, scaling=scaling, one_hot=True)


seeds_for = runstore.seeds_for


# =========================================================================== arms as data
# A comparison chapter lists its arms in params/<id>.yaml (see coursebook.course.arms); the
# notebook prepares an Experiment, trains it into a Results object (coursebook.course.results),
# saves that with run.save_results(results) and computes every table, figure and sentence from it
# (coursebook.course.report).


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
    validation_size: int | None = None  # a stratified validation_size of the held-out images validate (None: all)
    scaling: str = "unit"
    _splits: dict[tuple[int | None, bool], data.Splits] = field(default_factory=dict, repr=False)

    def splits_for(self, train_size: int | None, flatten: bool = False) -> data.Splits:
        """The splits an arm with ``train_size`` trains on: the same validation and test parts, and
        a seeded, stratified subset of the training part (all of it for None); ``flatten``: every
        image as one vector (for a model whose input is a vector)."""
        if (train_size, flatten) not in self._splits:
            raw = data.make_splits(
                self.dataset,
                validation=self.validation,
                seed=self.seeds[0],
                validation_fraction=self.validation_fraction,
                train_size=train_size,
                test_size=self.test_size,
                validation_size=self.validation_size,
            )
            self._splits[train_size, flatten] = data.preprocess(
                raw, scaling=self.scaling, one_hot=True, flatten=flatten
            )
        return self._splits[train_size, flatten]

    def arm_splits(self, arm: dict[str, Any]) -> data.Splits:
        """The splits ``arm`` trains and is measured on: its training subset, flattened for a model
        that takes vectors (the model spec, part of the run's key, decides)."""
        return self.splits_for(arm["train_size"], flatten=models.takes_vectors(arm["model"]))

    def train(self, verbose: int = 2, store: runstore.RunStore | None = None) -> results_module.Results:
        """Every arm with every seed, on the same validation and test parts: each run is read from
        the run store when it holds it, otherwise trained (the random state reset to the seed before
        the model is built and before it is fitted, so every arm starts from the same seed), its
        final weights measured, and stored as soon as it finished. Returns the Results."""
        jobs = [
            runstore.Job(self.run_inputs(arm, seed), self._trainer(arm, seed, verbose), (arm["name"], seed))
            for seed in self.seeds
            for arm in self.arms
        ]
        device = getattr(self.run, "device", "") or training.configure_backend()
        announce = _announcer(len(jobs), verbose)
        with progress.labels():  # the live progress line of each run (announce sets them)
            stored = dict(
                zip(
                    (job.label for job in jobs),
                    runstore.run_all(jobs, self.chapter, device, store, announce),
                    strict=True,
                )
            )
        if self.run is not None and hasattr(self.run, "extra"):
            self.run.extra["training runs"] = runstore.card_text(stored.values())
            if monitored := self.monitor_text():
                self.run.extra["validation each epoch"] = monitored
        return self._results(stored, device)

    def monitor_text(self) -> str:
        """What the run card says when the per-epoch validation uses fewer images than the final one."""
        total = len(self.splits.x_val)
        sizes = sorted({min(arm["monitor_images"], total) for arm in self.arms if arm["monitor_images"]})
        if not sizes or sizes == [total]:
            return ""
        worst = 0.5 / min(sizes) ** 0.5  # the standard error of an accuracy near 0.5
        return (
            f"the curves, early stopping and the checkpoint use the first {join([f'{size:,}' for size in sizes])} "
            f"of the {total:,} validation images (an accuracy's standard error at most {100 * worst:.1f} points); "
            f"the weights each run ends with are measured on all {total:,}"
        )

    @property
    def chapter(self) -> str:
        return getattr(self.run, "chapter", "") or ""

    def run_inputs(self, arm: dict[str, Any], seed: int) -> runstore.RunInputs:
        """What determines the run of ``arm`` with ``seed`` (its key in the run store)."""
        return runstore.RunInputs(
            arm,
            seed,
            runstore.data_inputs(
                self.dataset.fingerprint,
                self.validation,
                self.validation_fraction,
                self.test_size,
                self.scaling,
                self.seeds[0],
                self.validation_size,
            ),
        )

    def _trainer(self, arm: dict[str, Any], seed: int, verbose: int):
        def train() -> tuple[results_module.Run, dict[str, int]]:
            return _train_run(arm, self.arm_splits(arm), seed, verbose)

        return train

    def _results(self, stored: dict[tuple[str, int], runstore.Stored], device: str) -> results_module.Results:
        arms = []
        for arm in self.arms:
            runs = [stored[arm["name"], seed] for seed in self.seeds]
            for entry in runs:
                entry.run.read_from = (entry.chapter or "a notebook run outside the book") if entry.read else ""
            settings = {**{k: v for k, v in arm.items() if k not in runstore.NOT_IN_KEY}, "scaling": self.scaling}
            arms.append(
                results_module.ArmResult(
                    arm["name"],
                    arm["model"],
                    runs[0].parameters,
                    settings,
                    [entry.run for entry in runs],
                    arm.get("source_chapter", ""),
                )
            )
        results = results_module.Results(
            chapter=self.chapter,
            profile=getattr(self.run, "profile", ""),
            parameters=dict(getattr(self.run, "parameters", {}) or {}),
            dataset=self._dataset_info(),
            versions=training.backend_versions(),
            device=device,
            arms=arms,
        )
        return results.check()

    def _dataset_info(self) -> results_module.DatasetInfo:
        sizes = self.splits.sizes
        return results_module.DatasetInfo(
            name=self.dataset.name,
            fingerprint=self.dataset.fingerprint,
            synthetic=bool(self.dataset.is_synthetic),
            sizes={"train": sizes["train"], "validation": sizes["val"], "test": sizes["test"]},
            class_names=list(self.splits.class_names),
        )


def prepare(
    run: Any,
    arms: list[dict[str, Any]],
    *,
    data: str = "auto",
    seed: int = 0,
    repeats: int = 1,
    validation: str = "holdout",
    validation_fraction: float = 0.2,
    test_size: int | None = None,
    validation_size: int | None = None,
    scaling: str = "unit",
    **chapter_settings: Any,
) -> Experiment:
    """Check the arms against the chapter-level settings (``epochs``, ``batch_size``, ``optimizer``,
    ``learning_rate``, ``train_size``, ...: an arm's own key wins), load and split the data (the
    split depends on ``seed``, not on the repeat; ``test_size`` keeps the first test images,
    ``validation_size`` a stratified part of the held-out ones) and
    record the dataset on the run card."""

    unknown = sorted(set(chapter_settings) - set(arms_module.SETTING_DEFAULTS))
    if unknown:
        raise TypeError(
            f"prepare: unknown chapter setting {unknown[0]!r}; allowed: {list(arms_module.SETTING_DEFAULTS)}"
        )
    effective = arms_module.check_arms(arms, chapter_settings, where="notebook parameters")
    dataset, splits = prepare_data(
        data,
        seed=seed,
        validation=validation,
        validation_fraction=validation_fraction,
        train_size=chapter_settings.get("train_size"),
        test_size=test_size,
        validation_size=validation_size,
        scaling=scaling,
    )
    if run is not None:
        run.use_dataset(dataset, splits)
    experiment = Experiment(
        dataset,
        splits,
        effective,
        seeds_for(seed, repeats),
        run,
        validation=validation,
        validation_fraction=validation_fraction,
        test_size=test_size,
        validation_size=validation_size,
        scaling=scaling,
    )
    experiment._splits[chapter_settings.get("train_size"), False] = splits  # already made: reuse it
    return experiment


def _announcer(runs: int, verbose: int):
    """Say which run comes next, and whether it is read from the store; label its progress events."""
    count = iter(range(1, runs + 1))

    def announce(job: runstore.Job, read: bool) -> None:
        arm, seed = job.label
        number = next(count)
        if verbose:
            print(f"--- {arm}, seed {seed}" + (" (read from the run store)" if read else ""))
        progress.set_labels(arm=arm, seed=seed, run=number, runs=runs)

    return announce


def build_arm_model(arm: dict[str, Any], num_classes: int):
    """The compiled Keras model of one arm: its architecture, augmentation layers in front (if any),
    its optimizer and learning rate. Metric names stay loss/accuracy with or without augmentation."""
    model = models.build_model(arm["model"], num_classes=num_classes)
    if arm["augmentation"]:
        model = training.with_augmentation(model, training.augmentation_layers(arm["augmentation"]))
    return training.compile_model(model, optimizer=arm["optimizer"], learning_rate=arm["learning_rate"])


def _train_run(
    arm: dict[str, Any], splits: data.Splits, seed: int, verbose: int
) -> tuple[results_module.Run, dict[str, int]]:
    import keras

    keras.utils.set_random_seed(seed)
    model = build_arm_model(arm, len(splits.class_names))
    counts = models.keras_parameter_counts(model)
    fitted = training.train(
        model,
        splits,
        epochs=arm["epochs"],
        batch_size=arm["batch_size"],
        seed=seed,
        early_stopping=arm["early_stopping"],
        checkpoint_best=arm["checkpoint"],
        batch_norm=arm["batch_norm"],
        monitor_images=arm["monitor_images"],
        verbose=verbose,
    )
    return measure_run(fitted, splits, seed, arm["batch_size"]), counts


def measure_run(fitted: training.TrainResult, splits: data.Splits, seed: int, batch_size: int) -> results_module.Run:
    """Measure the weights a run ends with, from one prediction pass over each part (inference
    mode, ``evaluation.INFERENCE_BATCH`` images per step): training, validation and test loss and accuracy (computed
    from the predicted probabilities as ``model.evaluate`` computes them), whether the run learned
    (:func:`coursebook.course.learned.judge`), the test classification report and the confusion
    matrices of every part, and the predicted class of the first test images."""
    model, n_classes = fitted.model, len(splits.class_names)
    confusion, scores, predicted = {}, {}, {}
    for part, x, y in (
        ("training", splits.x_train, splits.y_train),
        ("validation", splits.x_val, splits.y_val),
        ("test", splits.x_test, splits.y_test),
    ):
        probabilities = evaluation.predict_probabilities(model, x)
        predicted[part] = probabilities.argmax(axis=-1)
        confusion[part] = evaluation.confusion(evaluation.to_labels(y), predicted[part], n_classes).tolist()
        scores[part] = evaluation.scores_from_probabilities(y, probabilities)
    report = evaluation.classification_report_frame(splits.y_test, predicted["test"], splits.class_names)
    per_class = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1"]),
            "support": int(row["support"]),
        }
        for name, row in report.loc[list(splits.class_names)].iterrows()
    }
    verdict = learned.judge(
        classes=n_classes,
        validation_images=len(splits.x_val),
        validation_accuracy=scores["validation"]["accuracy"],
        training_loss=scores["training"]["loss"],
        training_accuracy=scores["training"]["accuracy"],
        running_accuracy=fitted.raw_history["accuracy"][fitted.best_epoch - 1],
        first_running_loss=fitted.raw_history["loss"][0],
        steps=-(-len(splits.x_train) // batch_size) * fitted.best_epoch,
        batch_norm=bool(training.batch_norm_layers(model)),
    )
    return results_module.Run(
        seed=seed,
        history=fitted.raw_history,
        stopped_epoch=fitted.epochs_run,
        evaluated_epoch=fitted.best_epoch,
        seconds_per_epoch=[float(s) for s in fitted.seconds_per_epoch],
        training=scores["training"],
        validation=scores["validation"],
        test=scores["test"],
        learned=verdict.learned,
        learned_rule=verdict.rule,
        failure_cause=verdict.cause,
        classification_report=per_class,
        confusion=confusion,
        correct={
            part: results_module.pack_correct(predicted[part] == evaluation.to_labels(y))
            for part, y in (("validation", splits.y_val), ("test", splits.y_test))
        },
        first_test_predictions=predicted["test"][: results_module.FIRST_TEST_PREDICTIONS].tolist(),
    )
