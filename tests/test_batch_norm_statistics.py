"""Batch-norm statistics recomputed before every evaluation, and the inference-mode probe of the
training images, on tiny models whose statistics can be computed by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from coursebook.course import training


def bn_model(features: int = 4, classes: int = 3) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((features,)), keras.layers.BatchNormalization(), keras.layers.Dense(classes, activation="softmax")]
    )
    return training.compile_model(model, learning_rate=0.01)


def test_recomputed_statistics_are_the_average_of_the_batch_statistics():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 4)) * [1, 2, 3, 4] + [5, -1, 0, 2]).astype("float32")
    model = bn_model()
    training.recompute_batch_norm_statistics(model, x, batch_size=16)
    batches = x.reshape(4, 16, 4)
    layer = model.layers[0]
    np.testing.assert_allclose(layer.moving_mean.numpy(), batches.mean(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), batches.var(axis=1).mean(axis=0), rtol=1e-4)
    assert layer.momentum == 0.99  # restored


def test_only_models_with_batch_norm_have_their_statistics_recomputed():
    nested = keras.Sequential([keras.Input((4,)), keras.Sequential([keras.Input((4,)), bn_model()])])
    assert len(training.batch_norm_layers(nested)) == 1
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    assert training.batch_norm_layers(plain) == []


def learnable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)).astype("float32") * 3 + 10
    x[np.arange(n), labels] += 4
    return x, np.eye(3, dtype="float32")[labels]


@pytest.mark.parametrize("mode", ["recompute", "moving"])
def test_validation_and_the_kept_weights_see_the_statistics_of_the_mode(mode):
    x, y = learnable(200, 1)
    x_val, y_val = learnable(60, 2)
    model = bn_model()
    before = model.layers[0].moving_mean.numpy().copy()
    result = training.train(
        model,
        {"x_train": x, "y_train": y, "x_val": x_val, "y_val": y_val},
        epochs=2,
        batch_size=50,
        batch_norm=mode,
        verbose=0,
    )
    # every epoch's validation accuracy is that of the statistics the model holds after the epoch
    predicted = model.predict(x_val, verbose=0).argmax(axis=1)
    assert result.raw_history["val_accuracy"][-1] == pytest.approx(np.mean(predicted == y_val.argmax(axis=1)), abs=1e-6)
    moving_mean = model.layers[0].moving_mean.numpy()
    recomputed = x.reshape(4, 50, 4).mean(axis=1).mean(axis=0)  # the BN layer is first: its inputs are x
    if mode == "recompute":
        np.testing.assert_allclose(moving_mean, recomputed, rtol=1e-5)
    else:  # 8 steps at momentum 0.99 leave the moving mean 92 % of the way back at its start
        expected = before * 0.99**8 + (1 - 0.99**8) * recomputed
        np.testing.assert_allclose(moving_mean, expected, rtol=0.05)
        assert not np.allclose(moving_mean, recomputed, rtol=0.5)


def test_the_probe_records_inference_mode_scores_of_the_first_training_images(monkeypatch):
    monkeypatch.setattr(training, "PROBE_IMAGES", 120)
    x, y = learnable(200, 3)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    training.compile_model(model, learning_rate=0.01)
    result = training.train(model, (x, y), epochs=2, batch_size=40, verbose=0)
    scores = model.evaluate(x[:120], y[:120], verbose=0, return_dict=True)
    assert result.raw_history["eval_accuracy"][-1] == pytest.approx(scores["accuracy"], abs=1e-6)
    assert result.raw_history["eval_loss"][-1] == pytest.approx(scores["loss"], rel=1e-5)
    assert len(result.raw_history["eval_loss"]) == 2


def test_an_unknown_batch_norm_mode_is_refused():
    x, y = learnable(20, 4)
    with pytest.raises(ValueError, match="batch_norm must be one of"):
        training.train(bn_model(), (x, y), epochs=1, batch_size=10, batch_norm="frozen", verbose=0)
