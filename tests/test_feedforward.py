"""The feed-forward walkthrough's package side (AML Part 2): shapes, 2.5 from the layer sizes,
the softmax check and the table of a walkthrough run's settings, on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from coursebook.course import feedforward
from coursebook.course.data import Dataset


def tiny_dataset(n_train=20, n_test=10):
    rng = np.random.default_rng(0)
    return Dataset(
        "tiny",
        True,
        rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        (np.arange(n_train) % 2).astype(np.uint8).reshape(-1, 1),
        rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        (np.arange(n_test) % 2).astype(np.uint8).reshape(-1, 1),
        ("a", "b"),
        "fp",
        "test",
    )


def test_shapes_before_and_after_flattening():
    before = feedforward.development_shapes(tiny_dataset())
    after = feedforward.development_shapes(tiny_dataset(), flat=True)
    assert before["shape"].tolist() == ["(20, 32, 32, 3)", "(20, 1)", "(10, 32, 32, 3)", "(10, 1)"]
    assert after["shape"].tolist() == ["(20, 3072)", "(20, 1)", "(10, 3072)", "(10, 1)"]
    assert before["array"].tolist() == ["x_dev", "y_dev", "x_test", "y_test"]


def test_question_2_5_is_computed_from_the_layer_sizes():
    text = feedforward.first_layer_text("aml-mlp", [(32, 32, 3), (64, 64, 3)])
    # by hand: (3072 + 1) * 128 = 393,344; (12288 + 1) * 128 = 1,572,992; later layers 8,256 + 650 = 8,906
    assert "first layer (3,072 + 1) · 128 = 393,344 parameters, model 402,250." in text
    assert "first layer (12,288 + 1) · 128 = 1,572,992 parameters, model 1,581,898." in text
    assert "their 8,906 parameters do not depend on the image size" in text
    assert text.startswith("Yes.")


class Fixed:
    """A stand-in model whose output is a fixed row."""

    def __init__(self, row):
        self.row = np.asarray([row], dtype=np.float32)

    def predict(self, x, verbose=0):
        return self.row


def test_softmax_check_says_whether_the_output_sums_to_one():
    assert "it sums to 1" in feedforward.softmax_check(Fixed([0.25, 0.75]), np.zeros((1, 4)))
    assert "it does NOT sum to 1" in feedforward.softmax_check(Fixed([0.5, 0.75]), np.zeros((1, 4)))


def walkthrough(monkeypatch, **settings):
    """The walkthrough's one-arm experiment on the tiny dataset, prepared as its notebook does."""
    from coursebook.course import data, experiments

    monkeypatch.setattr(data, "load_dataset", lambda source: tiny_dataset(40, 10))
    return experiments.prepare(
        None, [{"name": "MLP", "model": "aml-mlp"}], data="synthetic", seed=0, validation_fraction=0.25,
        scaling="standardize", **settings,
    )  # fmt: skip


def test_the_walkthrough_standardizes_with_training_statistics_and_flattens_for_a_vector_model(monkeypatch):
    from coursebook.course import data

    experiment = walkthrough(monkeypatch)
    splits = experiment.arm_splits(experiment.arms[0])
    assert splits.x_train.shape == (30, 3072) and splits.y_train.shape == (30, 2)
    raw = data.make_splits(experiment.dataset, validation="holdout", validation_fraction=0.25, seed=0)
    channels = raw.x_train.reshape(-1, 3).astype(float)
    expected = (raw.x_val.reshape(-1, 3) - channels.mean(axis=0)) / channels.std(axis=0)
    assert splits.x_val.reshape(-1, 3) == pytest.approx(expected, abs=1e-4)
    assert experiment.splits_for(None).x_train.shape == (30, 32, 32, 3)  # a convolutional arm keeps its images


def test_the_walkthrough_run_records_its_standardization_and_predictions_and_its_shown_code_reproduces_it(
    monkeypatch, tmp_path
):
    import keras

    from coursebook.course import code, data, runstore

    experiment = walkthrough(monkeypatch, epochs=2, batch_size=8)
    results = experiment.train(verbose=0, store=runstore.RunStore(tmp_path / "store"))
    entry, run = results.arms[0], results.arms[0].runs[0]
    assert entry.settings["scaling"] == "standardize"
    monkeypatch.chdir(tmp_path)
    raw = data.make_splits(experiment.dataset, validation="holdout", validation_fraction=0.25, seed=0)
    namespace = {name: getattr(raw, name) for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    namespace |= {"keras": keras, "seed": run.seed}
    exec(code.data_code(entry.settings["scaling"], flatten=True, num_classes=2), namespace)
    keras.utils.set_random_seed(run.seed)
    exec(code.model_code(entry.model, num_classes=2), namespace)
    exec(
        code.training_code(entry.settings, recompute=code.recomputes_batch_norm(entry.settings, entry.model)), namespace
    )
    for metric, values in run.history.items():
        np.testing.assert_allclose(namespace["history"].history[metric], values, rtol=1e-5, err_msg=metric)
    # the prediction grid's classes are the shown model's predictions for the first test images
    shown = np.argmax(namespace["model"].predict(namespace["x_test"], verbose=0), axis=-1)
    x_first, y_first, predicted = feedforward.first_test_predictions(results, experiment.dataset, count=10)
    assert predicted.tolist() == shown.tolist()
    assert np.array_equal(x_first, experiment.dataset.x_test) and y_first.tolist() == [0, 1] * 5
    with pytest.raises(ValueError, match="records 10 test predictions, not 50"):
        feedforward.first_test_predictions(results, experiment.dataset)
