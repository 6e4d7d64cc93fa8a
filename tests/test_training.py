"""Tests of coursebook.course.training with tiny models on a few hundred small synthetic images."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from coursebook.book import paths
from coursebook.course import training
from coursebook.course.results import Results

IMAGE_SHAPE = (8, 8, 3)
N_CLASSES = 3


def brightest_channel_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is the colour channel with the largest mean (learnable in a few epochs)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, n)
    x = rng.random((n, *IMAGE_SHAPE), dtype=np.float32) * 0.5
    x[np.arange(n), :, :, labels] += 0.5
    return x, np.eye(N_CLASSES, dtype=np.float32)[labels]


@pytest.fixture(scope="module")
def data() -> SimpleNamespace:
    x_train, y_train = brightest_channel_images(240, seed=1)
    x_val, y_val = brightest_channel_images(90, seed=2)
    return SimpleNamespace(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


def tiny_cnn(learning_rate: float = 0.01, trainable: bool = True) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(N_CLASSES, activation="softmax"),
        ]
    )
    model.trainable = trainable
    return training.compile_model(model, learning_rate=learning_rate)


def accuracy_from_predictions(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == y.argmax(axis=1)))


def val_loss_of(model: keras.Model, data: SimpleNamespace) -> float:
    return float(model.evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)["loss"])


# --------------------------------------------------------------------------- backend, compile


def test_configure_backend_names_backend_and_device():
    description = training.configure_backend()
    assert description.startswith(f"{keras.backend.backend()} on ")
    assert description.endswith("CPU") or "GPU" in description or "cuda" in description


def test_backend_versions_report_the_running_libraries():
    versions = training.backend_versions()
    assert versions["keras"] == keras.__version__
    assert versions["numpy"] == np.__version__
    assert versions["backend"] == keras.backend.backend()
    assert versions[keras.backend.backend()] == sys.modules[keras.backend.backend()].__version__


def test_optimizer_by_name_with_and_without_learning_rate():
    sgd = training.make_optimizer("SGD", 0.05)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(sgd.learning_rate)) == pytest.approx(0.05)
    default = training.make_optimizer("adam")
    expected = keras.optimizers.Adam().learning_rate
    assert float(keras.ops.convert_to_numpy(default.learning_rate)) == pytest.approx(float(expected))


@pytest.mark.parametrize(
    "name, learning_rate, message",
    [
        ("adamm", None, "unknown optimizer 'adamm'; allowed: .*adam.*sgd"),
        ("adam", -0.1, "learning_rate must be a positive number, got -0.1"),
        ("adam", "fast", "learning_rate must be a positive number"),
    ],
)
def test_bad_optimizer_settings_are_rejected(name, learning_rate, message):
    with pytest.raises(ValueError, match=message):
        training.make_optimizer(name, learning_rate)


def test_compile_refuses_the_short_accuracy_name():
    with pytest.raises(ValueError, match="use 'accuracy'"):
        training.compile_model(tiny_cnn(), metrics=("acc",))


@pytest.mark.parametrize("augmented", [False, True], ids=["plain", "augmented"])
def test_recorded_accuracy_equals_accuracy_of_predictions(data, augmented):
    model = training.with_augmentation(tiny_cnn()) if augmented else tiny_cnn()
    if augmented:
        training.compile_model(model, learning_rate=0.01)
    result = training.train(model, data, epochs=2, batch_size=32, verbose=0)
    history = model.history.history
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "eval_loss", "eval_accuracy"}
    assert history["val_accuracy"][-1] == pytest.approx(
        accuracy_from_predictions(result.model, data.x_val, data.y_val), abs=1e-6
    )


def test_an_epochs_seconds_include_the_probe_at_its_end(data, monkeypatch):
    """The inference-mode probe runs at each epoch's end: its time is part of the epoch's seconds
    (a probe made to take 0.3 s makes every epoch take at least that)."""
    probe = training.TrainingProbe.on_epoch_end

    def slow_probe(self, epoch, logs=None):
        time.sleep(0.3)
        probe(self, epoch, logs)

    monkeypatch.setattr(training.TrainingProbe, "on_epoch_end", slow_probe)
    result = training.train(tiny_cnn(), data, epochs=2, batch_size=32, verbose=0)
    assert len(result.seconds_per_epoch) == 2
    assert min(result.seconds_per_epoch) >= 0.3
    assert sum(result.seconds_per_epoch) <= result.seconds


def test_recorded_training_accuracy_equals_predictions_when_weights_are_frozen(data):
    model = tiny_cnn(trainable=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no trainable weights" is the point here
        training.train(model, data, epochs=1, batch_size=32, verbose=0)
    expected = accuracy_from_predictions(model, data.x_train, data.y_train)
    assert model.history.history["accuracy"][0] == pytest.approx(expected, abs=1e-6)


# --------------------------------------------------------------------------- augmentation


def test_augmentation_layers_follow_the_parameters():
    layers = training.augmentation(rotation_degrees=10, shift=0.1, horizontal_flip=True).layers
    assert [type(layer).__name__ for layer in layers] == ["RandomRotation", "RandomTranslation", "RandomFlip"]
    assert layers[0].get_config()["factor"] == pytest.approx((-10 / 360, 10 / 360))
    assert layers[1].get_config()["height_factor"] == layers[1].get_config()["width_factor"] == 0.1
    assert layers[2].get_config()["mode"] == "horizontal"
    only_flip = training.augmentation(rotation_degrees=0, shift=0, horizontal_flip=True).layers
    assert [type(layer).__name__ for layer in only_flip] == ["RandomFlip"]


def test_augmentation_is_identity_at_inference_and_random_in_training():
    images = np.random.default_rng(3).random((6, 16, 16, 3), dtype=np.float32)
    layers = training.augmentation()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layers(images, training=False)), images)
    augmented = keras.ops.convert_to_numpy(layers(images, training=True))
    assert augmented.shape == images.shape
    assert np.abs(augmented - images).max() > 0.01


def test_augmented_model_keeps_parameters_and_inference_output():
    model = tiny_cnn()
    augmented = training.with_augmentation(model)
    images = np.random.default_rng(4).random((5, *IMAGE_SHAPE), dtype=np.float32)
    assert augmented.count_params() == model.count_params()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(augmented(images, training=False)),
        keras.ops.convert_to_numpy(model(images, training=False)),
        rtol=1e-6,
    )


# --------------------------------------------------------------------------- early stopping, checkpoint


def test_early_stopping_stops_after_patience_on_a_constant_monitor(data):
    model = tiny_cnn(trainable=False)  # frozen weights: val_loss is the same every epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = training.train(
            model, data, epochs=20, batch_size=64, verbose=0, early_stopping={"monitor": "val_loss", "patience": 2}
        )
    # epoch 1 sets the best value; epochs 2 and 3 do not improve on it -> stop after epoch 3
    assert (result.stopped_epoch, result.epochs_run, result.best_epoch) == (3, 3, 1)
    assert result.history["epoch"].max() == 3


def test_early_stopping_restores_the_best_epoch(data):
    # min_delta larger than any possible change: only epoch 1 counts as an improvement
    result = training.train(
        tiny_cnn(learning_rate=0.05),
        data,
        epochs=10,
        batch_size=32,
        verbose=0,
        early_stopping={"patience": 2, "min_delta": 100.0, "restore_best_weights": True},
    )
    val_loss = result.model.history.history["val_loss"]
    assert (result.stopped_epoch, result.epochs_run, result.best_epoch) == (3, 3, 1)
    assert val_loss[0] != pytest.approx(val_loss[-1], rel=1e-3)
    assert val_loss_of(result.model, data) == pytest.approx(val_loss[0], rel=1e-5)


def test_checkpoint_returns_weights_of_lowest_validation_loss(data):
    # validation labels contradict the training rule, so validation loss rises as the model learns
    flipped = SimpleNamespace(**vars(data))
    flipped.y_val = np.roll(data.y_val, 1, axis=1)
    result = training.train(
        tiny_cnn(learning_rate=0.05), flipped, epochs=5, batch_size=32, checkpoint_best=True, verbose=0
    )
    val_loss = result.model.history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert result.best_epoch == best + 1 < result.epochs_run == 5
    assert val_loss_of(result.model, flipped) == pytest.approx(val_loss[best], rel=1e-5)
    assert val_loss_of(result.model, flipped) != pytest.approx(val_loss[-1], rel=1e-3)


def test_without_restoring_the_model_keeps_the_last_epoch(data):
    result = training.train(tiny_cnn(), data, epochs=2, batch_size=32, verbose=0)
    assert (result.best_epoch, result.stopped_epoch, result.epochs_run) == (2, None, 2)
    assert len(result.seconds_per_epoch) == 2 and all(s > 0 for s in result.seconds_per_epoch)
    assert result.seconds >= sum(result.seconds_per_epoch) * 0.99


# --------------------------------------------------------------------------- checks before training


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
        ({"early_stopping": {"patience": 2, "monitr": "val_loss"}}, "early_stopping: key 'monitr' is not allowed"),
        ({"early_stopping": {"patience": 2, "monitor": "val_acc"}}, "key 'monitor': value 'val_acc' .*val_accuracy"),
        ({"early_stopping": {"patience": 2, "mode": "lowest"}}, "key 'mode': value 'lowest' is not allowed"),
        ({"early_stopping": {"monitor": "val_loss"}}, "early_stopping: key 'patience' is missing"),  # no default
    ],
)
def test_bad_fit_settings_are_rejected_before_training(data, settings, message):
    model = tiny_cnn()
    fit = {"epochs": 1, "batch_size": 32, **settings}
    with pytest.raises(ValueError, match=message):
        training.train(model, data, verbose=0, **fit)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_checkpoint_and_validation_monitor_need_validation_data(data):
    arrays = (data.x_train, data.y_train)
    with pytest.raises(ValueError, match="checkpoint_best need"):
        training.train(tiny_cnn(), arrays, epochs=1, batch_size=32, checkpoint_best=True)
    with pytest.raises(ValueError, match="early stopping on val_loss need"):
        training.train(
            tiny_cnn(), arrays, epochs=1, batch_size=32, early_stopping={"monitor": "val_loss", "patience": 2}
        )


def test_uncompiled_model_and_mismatched_arrays_are_rejected(data):
    raw = keras.Sequential([keras.Input(IMAGE_SHAPE), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="is not compiled: call compile_model"):
        training.train(raw, data, epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="validation data: 90 images but 89 labels"):
        training.train(tiny_cnn(), data, epochs=1, batch_size=32, validation_data=(data.x_val, data.y_val[:-1]))


# --------------------------------------------------------------------------- repeats (an experiment) and the tidy frame


@pytest.fixture(scope="module")
def repeated(tmp_path_factory) -> Results:
    """Two identical arms (same seed must give the same run) over two seeds, as a chapter trains them."""
    from coursebook.course import arms, data as data_module, experiments

    dataset = data_module.load_dataset(
        "synthetic", synthetic_sizes=(200, 40), cache_dir=tmp_path_factory.mktemp("cache")
    )
    splits = data_module.preprocess(
        data_module.make_splits(dataset, validation_fraction=0.2, seed=0), scaling="unit", one_hot=True
    )
    effective = arms.check_arms(
        [{"name": "a", "model": "e4742-original"}, {"name": "b", "model": "e4742-original"}],
        {"epochs": 2, "batch_size": 32},
        where="test",
    )
    return experiments.Experiment(dataset, splits, effective, seeds=[7, 8]).train(verbose=0)


def test_an_experiment_trains_every_arm_with_every_seed(repeated):
    assert sorted((arm.name, run.seed) for arm in repeated.arms for run in arm.runs) == [
        ("a", 7),
        ("a", 8),
        ("b", 7),
        ("b", 8),
    ]


def test_each_run_records_which_images_it_got_right_as_its_confusion_matrix_counts(repeated):
    for arm in repeated.arms:
        for run in arm.runs:
            for part in ("validation", "test"):
                correct = run.correct_images(part)
                matrix = np.asarray(run.confusion[part])
                assert correct.size == matrix.sum()  # one entry per image of the part
                assert int(correct.sum()) == int(np.trace(matrix))  # right exactly where the diagonal counts
                assert correct.mean() == pytest.approx(getattr(run, part)["accuracy"])


def test_same_seed_gives_the_same_history_and_other_seeds_differ(repeated):
    def history(arm, seed):
        return next(run.history for run in repeated.arm(arm).runs if run.seed == seed)

    for seed in (7, 8):
        for metric, values in history("a", seed).items():
            np.testing.assert_allclose(values, history("b", seed)[metric], rtol=1e-6)
    assert history("a", 7)["loss"] != pytest.approx(history("a", 8)["loss"], rel=1e-4)


def test_the_history_frame_is_tidy_and_matches_each_run(repeated):
    frame = repeated.history_frame()
    assert list(frame.columns) == ["arm", "seed", "epoch", "metric", "value"]
    assert set(frame["metric"]) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "eval_loss",
        "eval_accuracy",
        "seconds",
    }
    assert len(frame) == 4 * 2 * 7  # runs x epochs x metrics
    for arm in repeated.arms:
        for run in arm.runs:
            rows = frame[(frame.arm == arm.name) & (frame.seed == run.seed)]
            for metric, values in run.history.items():
                recorded = rows[rows.metric == metric].sort_values("epoch")
                assert recorded["epoch"].tolist() == [1, 2]
                np.testing.assert_allclose(recorded["value"], values, rtol=1e-7)
            seconds = rows[rows.metric == "seconds"].sort_values("epoch")["value"]
            np.testing.assert_allclose(seconds, run.seconds_per_epoch)


# --------------------------------------------------------------------------- other backends

BACKEND_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import keras
    from coursebook.course import evaluation, training

    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 3), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 64)]
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    training.compile_model(model, learning_rate=0.01)
    splits = {"x_train": x[:48], "y_train": y[:48], "x_val": x[48:], "y_val": y[48:]}
    result = training.train(model, splits, epochs=1, batch_size=16, checkpoint_best=True, verbose=0)
    scores = evaluation.evaluate(result.model, splits)
    predicted = evaluation.predict_labels(result.model, x[48:])
    print(json.dumps({
        "backend": keras.backend.backend(),
        "device": training.configure_backend(),
        "metrics": sorted(result.history["metric"].unique()),
        "val_loss": float(result.history.query("metric == 'val_loss'")["value"].iloc[0]),
        "evaluation": scores.to_dict(orient="records"),
        "accuracy_from_predictions": float(np.mean(predicted == y[48:].argmax(axis=1))),
    }))
""")


@pytest.mark.slow  # trains a CNN for a while, or starts another backend in a subprocess
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_train_and_evaluate_on_other_backends(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed in this environment, so the {backend} backend cannot run")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(paths.ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT], env=env, cwd=paths.ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend and report["device"].startswith(f"{backend} on ")
    assert report["metrics"] == [
        "accuracy",
        "eval_accuracy",
        "eval_loss",
        "loss",
        "seconds",
        "val_accuracy",
        "val_loss",
    ]
    by_split = {row["split"]: row for row in report["evaluation"]}
    assert sorted(by_split) == ["train", "validation"]
    assert by_split["validation"]["loss"] == pytest.approx(report["val_loss"], rel=1e-5)
    assert by_split["validation"]["accuracy"] == pytest.approx(report["accuracy_from_predictions"], abs=1e-6)
