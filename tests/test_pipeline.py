"""A training chapter in miniature: data -> splits -> models -> training over seeds -> one tidy
frame -> evaluation, figures and sentences. Checks that the engine's pieces fit together and that
the text agrees with numbers recomputed here from the frame."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coursebook.course import data, evaluation, models, plots, training  # noqa: E402
from coursebook.course.prose import comparison, confusion  # noqa: E402

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    ds = data.load_dataset("synthetic", synthetic_sizes=(1500, 300), cache_dir=tmp_path_factory.mktemp("cache"))
    splits = data.preprocess(data.make_splits(ds, validation_fraction=0.2, seed=0), scaling="unit")

    def factory(name):
        return lambda: training.compile_model(models.build_model(name, num_classes=ds.num_classes))

    variants = {"lenet5": factory("aml-lenet5"), "lenet5-bn": factory("aml-lenet5-batchnorm")}
    results = training.train_variants(variants, splits, SEEDS, epochs=2, batch_size=64, verbose=0)
    return ds, splits, results, training.histories_frame(results)


def test_every_run_is_in_the_tidy_frame(experiment):
    _, _, results, frame = experiment
    assert set(frame.columns) == {"variant", "seed", "epoch", "metric", "value"}
    assert set(map(tuple, frame[["variant", "seed"]].drop_duplicates().values)) == set(results)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(frame["metric"])
    for (variant, seed), result in results.items():
        recorded = frame.query("variant == @variant and seed == @seed and metric == 'val_loss'")["value"].to_numpy()
        assert np.allclose(recorded, result.history.query("metric == 'val_loss'")["value"])


def test_comparison_sentence_agrees_with_the_frame(experiment):
    _, _, _, frame = experiment
    last = frame[(frame["metric"] == "val_accuracy") & (frame["epoch"] == frame["epoch"].max())]
    bn = last[last["variant"] == "lenet5-bn"]["value"].tolist()
    base = last[last["variant"] == "lenet5"]["value"].tolist()
    result = comparison.compare("validation accuracy", "lenet5-bn", bn, "lenet5", base, higher_is_better=True)
    mean_bn, mean_base = round(np.mean(bn), 4), round(np.mean(base), 4)
    expected = "higher" if mean_bn > mean_base else "lower" if mean_bn < mean_base else "the same"
    assert expected in result.sentence
    assert f"{mean_bn:.4f}" in result.sentence and f"{mean_base:.4f}" in result.sentence


def test_evaluation_confusion_and_named_pairs(experiment):
    ds, splits, results, _ = experiment
    model = results[("lenet5", 0)].model
    scores = evaluation.evaluate(model, splits).set_index("split")
    predicted = evaluation.predict_labels(model, splits.x_val)
    truth = evaluation.to_labels(splits.y_val)
    assert scores.loc["validation", "accuracy"] == pytest.approx(np.mean(predicted == truth), abs=1e-6)
    cm = evaluation.confusion(truth, predicted, ds.num_classes)
    assert cm.sum() == len(truth) and np.trace(cm) == np.sum(predicted == truth)
    pairs = confusion.most_confused_pairs(cm, list(ds.class_names), k=2)
    for row in pairs.table.itertuples():
        assert cm[row.true_label, row.predicted_label] == row.count  # *_label: class index
        assert row.true == ds.class_names[row.true_label] and row.predicted == ds.class_names[row.predicted_label]


def test_figures_from_the_frame(experiment, tmp_path):
    ds, splits, _, frame = experiment
    curves = plots.training_curves(frame)
    assert len(curves.axes) == 2
    x, y = data.sample_per_class(ds, per_class=5)
    grid = plots.sample_grid(x, y, list(ds.class_names), per_class=5)
    assert len([ax for ax in grid.axes if ax.images]) == 5 * ds.num_classes
    curves.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
