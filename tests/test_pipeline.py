"""A training chapter in miniature: data -> splits -> arms -> an experiment over seeds -> its results,
one tidy frame, confusion matrices, named pairs and figures. Checks that the engine's pieces fit together."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from coursebook.course import arms, data, experiments, plots, report
from coursebook.course.prose import confusion

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    ds = data.load_dataset("synthetic", synthetic_sizes=(1500, 300), cache_dir=tmp_path_factory.mktemp("cache"))
    splits = data.preprocess(data.make_splits(ds, validation_fraction=0.2, seed=0), scaling="unit", one_hot=True)
    effective = arms.check_arms(
        [{"name": "lenet5", "model": "aml-lenet5"}, {"name": "lenet5-bn", "model": "aml-lenet5-batchnorm"}],
        {"epochs": 2, "batch_size": 64},
        where="test",
    )
    results = experiments.Experiment(ds, splits, effective, SEEDS, validation_fraction=0.2).train(verbose=0)
    return ds, splits, results, results.history_frame()


def test_every_run_is_in_the_tidy_frame(experiment):
    _, _, results, frame = experiment
    assert set(frame.columns) == {"arm", "seed", "epoch", "metric", "value"}
    runs = {(arm.name, run.seed) for arm in results.arms for run in arm.runs}
    assert (
        set(map(tuple, frame[["arm", "seed"]].drop_duplicates().values))
        == runs
        == {(arm, seed) for arm in ("lenet5", "lenet5-bn") for seed in SEEDS}
    )
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(frame["metric"])
    for arm in results.arms:
        for run in arm.runs:
            recorded = frame.query("arm == @arm.name and seed == @run.seed and metric == 'val_loss'")
            assert np.allclose(recorded.sort_values("epoch")["value"], run.history["val_loss"])


def test_each_run_s_confusion_matrices_agree_with_its_scores_and_named_pairs(experiment):
    ds, splits, results, _ = experiment
    for arm in results.arms:
        for run in arm.runs:
            for part, count in (("validation", len(splits.y_val)), ("test", len(splits.y_test))):
                cm = np.asarray(run.confusion[part])
                assert cm.shape == (ds.num_classes, ds.num_classes) and cm.sum() == count
                assert np.trace(cm) / count == pytest.approx(getattr(run, part)["accuracy"], abs=1e-9)
    cm = report.results_confusion_matrices(results, parts=("validation",))["lenet5: validation"]
    pairs = confusion.most_confused_pairs(cm, list(ds.class_names), k=2)
    for row in pairs.table.itertuples():
        assert cm[row.true_label, row.predicted_label] == row.count  # *_label: class index
        assert row.true == ds.class_names[row.true_label] and row.predicted == ds.class_names[row.predicted_label]


def test_figures_from_the_frame(experiment, tmp_path):
    ds, _splits, _, frame = experiment
    curves = plots.training_curves(frame)
    assert len(curves.axes) == 2
    x, y = data.sample_per_class(ds, per_class=5)
    grid = plots.sample_grid(x, y, list(ds.class_names), per_class=5)
    assert grid.axes[0].images[0].get_array().shape == (ds.num_classes * 34 - 2, 5 * 34 - 2, 3)  # 32-pixel tiles
    curves.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
