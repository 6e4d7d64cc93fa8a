"""The Keras code shown on the pages (coursebook.course.code): runnable as shown, the same model."""

from __future__ import annotations

import numpy as np
import pytest

from coursebook.course import code, models


@pytest.mark.parametrize("name", models.available_models())
def test_generated_code_builds_the_same_model(name):
    namespace: dict = {}
    exec(code.model_code(name), namespace)  # runnable as shown: imports included
    built, reference = namespace["model"], models.build_model(name)
    assert models.keras_parameter_counts(built) == models.keras_parameter_counts(reference)
    assert [type(layer).__name__ for layer in built.layers] == [type(layer).__name__ for layer in reference.layers]


def test_training_code_names_optimizer_loss_epochs_batch_and_callbacks():
    settings = {
        "optimizer": "adam",
        "learning_rate": 0.01,
        "epochs": 50,
        "batch_size": 64,
        "augmentation": [],
        "early_stopping": {
            "monitor": "val_loss",
            "mode": "min",
            "patience": 5,
            "min_delta": 0.0,
            "restore_best_weights": True,
        },
        "checkpoint": {"monitor": "val_loss", "mode": "min"},
    }
    text = code.training_code(settings)
    for part in (
        "keras.optimizers.Adam(learning_rate=0.01)",
        "loss='categorical_crossentropy'",
        "epochs=50",
        "batch_size=64",
        "EarlyStopping(monitor='val_loss', mode='min', patience=5",
        "ModelCheckpoint('best.weights.h5', monitor='val_loss'",
        "model.load_weights('best.weights.h5')",
    ):
        assert part in text
    compile(text, "training", "exec")


def test_augmented_training_code_runs_on_the_generated_model():
    namespace: dict = {}
    exec(code.model_code("aml-lenet5"), namespace)
    settings = {
        "optimizer": "sgd",
        "learning_rate": None,
        "epochs": 1,
        "batch_size": 8,
        "early_stopping": None,
        "checkpoint": None,
        "augmentation": [{"rotation": {"factor_degrees": 10}}, {"translation": {"height": 0.1, "width": 0.1}}, "flip"],
    }
    setup = code.training_code(settings).split("callbacks = []")[0]
    exec(setup, namespace)
    assert "keras.optimizers.SGD()" in setup and namespace["model"].count_params() == 62006


def test_the_dropdown_holds_code_summary_and_training_with_the_name_escaped_once():
    settings = {
        "optimizer": "adam",
        "learning_rate": None,
        "epochs": 2,
        "batch_size": 32,
        "augmentation": [],
        "early_stopping": None,
        "checkpoint": None,
    }
    block = code.code_block("deep|er_2", "e4742-original", settings)
    assert block.startswith(":::{dropdown} Code: deep\\|er\\_2 (e4742-original, 364,426 parameters)")
    assert "Total params: 364,426" in block and "model.fit(" in block and block.endswith(":::")
    assert max(len(line) for line in code.summary_text("q6-deeper-gap").splitlines()) <= 90  # laptop width


# --------------------------------------------------------------------------- code shown is code run


def _training_settings(**changes):
    settings = {
        "optimizer": "adam",
        "learning_rate": None,
        "epochs": 3,
        "batch_size": 32,
        "augmentation": [],
        "early_stopping": None,
        "checkpoint": None,
        "batch_norm": "recompute",
        "train_size": None,
        "model": "m",
        "scaling": "unit",
    }
    return {**settings, **changes}


@pytest.fixture(scope="module", params=[None, 100], ids=["every validation image", "monitor_images=100"])
def trained_arm(request, tmp_path_factory):
    """One batch-norm arm with augmentation, early stopping and a checkpoint, trained as a chapter trains it
    (its curves on every validation image, or on the first 100 of them)."""
    from coursebook.course import arms, data, experiments

    dataset = data.load_dataset("synthetic", synthetic_sizes=(400, 40), cache_dir=tmp_path_factory.mktemp("cache"))
    raw = data.make_splits(dataset, validation_fraction=0.4, seed=5)  # as the experiment splits for its first seed
    effective = arms.check_arms(
        [
            {
                "name": "bn",
                "model": "aml-lenet5-batchnorm",
                "augmentation": ["flip"],
                "early_stopping": {"patience": 1},
                "checkpoint": {"monitor": "val_loss"},
                "monitor_images": request.param,
            }
        ],
        {"epochs": 3, "batch_size": 32},
        where="test",
    )
    experiment = experiments.Experiment(
        dataset, data.preprocess(raw, scaling="unit"), effective, seeds=[5], validation_fraction=0.4
    )
    return raw, experiment.train(verbose=0).arms[0]


def test_the_shown_data_and_training_code_reproduces_the_run(trained_arm, tmp_path, monkeypatch):
    import keras

    raw, arm = trained_arm
    assert arm.settings["scaling"] == "unit"  # the run records the scaling it applied
    run = arm.runs[0]
    monkeypatch.chdir(tmp_path)  # the checkpoint file of the shown code
    namespace = {
        "x_train": raw.x_train,
        "y_train": raw.y_train,
        "x_val": raw.x_val,
        "y_val": raw.y_val,
        "x_test": raw.x_test,
        "y_test": raw.y_test,
        "seed": run.seed,
        "keras": keras,
    }
    recompute = code.recomputes_batch_norm(arm.settings, arm.model)
    exec(code.data_code(arm.settings["scaling"], num_classes=10), namespace)
    keras.utils.set_random_seed(run.seed)
    exec(code.model_code(arm.model), namespace)
    exec(code.training_code(arm.settings, recompute=recompute), namespace)
    shown = namespace["history"].history
    assert sorted(shown) == sorted(run.history)
    for metric, values in run.history.items():
        np.testing.assert_allclose(shown[metric], values, rtol=1e-5, err_msg=metric)
    evaluated = namespace["model"].evaluate(
        namespace["x_val"], namespace["y_val"], batch_size=32, verbose=0, return_dict=True
    )  # the checkpoint's weights, loaded as shown
    assert evaluated["loss"] == pytest.approx(run.validation["loss"], rel=1e-5)
    images = len(namespace["y_val"])  # the same number of validation images right
    assert round(evaluated["accuracy"] * images) == round(run.validation["accuracy"] * images)


def test_the_preprocessing_shown_is_the_one_applied():
    import keras

    from coursebook.course import data

    rng = np.random.default_rng(0)
    parts = {
        name: rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
        for name, n in (("x_train", 40), ("x_val", 10), ("x_test", 10))
    }
    parts |= {f"y{name[1:]}": rng.integers(0, 3, len(x)) for name, x in parts.items()}
    parts["x_train"][..., 2] = 7  # a constant channel: its deviation counts as 1
    raw = data.Splits(**parts, class_names=("a", "b", "c"), protocol="p")
    for scaling, flatten in (("standardize", True), ("unit", False)):
        applied = data.preprocess(raw, scaling=scaling, flatten=flatten)
        namespace = {**parts, "keras": keras}
        exec(code.data_code(scaling, flatten=flatten, num_classes=3), namespace)
        for name in parts:
            np.testing.assert_array_equal(namespace[name], getattr(applied, name), err_msg=f"{scaling} {name}")
            assert namespace[name].dtype == getattr(applied, name).dtype


def _chapter_arms(resolved) -> list[dict]:
    """Each arm's effective settings as the chapter's notebook builds them (the notebooks' own calls)."""
    from coursebook.course import arms, learning_curve

    values, notebook = resolved.values, resolved.chapter.notebook.name
    chapter = {key: values[key] for key in arms.SETTING_DEFAULTS if key in values and key != "model"}
    if notebook == "mlp-walkthrough.ipynb":
        return arms.check_arms(arms.one_model(values["model"]), chapter, where="test")
    if notebook == "learning-curve.ipynb":
        return arms.check_arms(learning_curve.size_arms(values["arms"][0], values["sizes"]), chapter, where="test")
    return arms.check_arms(values["arms"], chapter, where="test") if "arms" in values else []


def _training_chapters():
    from coursebook.book import params

    return [(chapter_id, profile) for chapter_id in params.toc_chapter_ids() for profile in params.profiles()]


@pytest.mark.parametrize(("chapter_id", "profile"), _training_chapters())
def test_every_arm_shows_exactly_the_callbacks_and_layers_its_run_uses(chapter_id, profile):
    from coursebook.book import params
    from coursebook.course import training

    for arm in _chapter_arms(params.resolve(chapter_id, profile)):
        settings = {**{k: v for k, v in arm.items() if k != "name"}, "scaling": "unit"}
        block = code.code_block(arm["name"], arm["model"], settings)
        built = models.build_model(arm["model"])  # what training.train looks at
        recompute = arm["batch_norm"] == "recompute" and bool(training.batch_norm_layers(built))
        where = f"{chapter_id} ({profile}), arm {arm['name']!r}"
        assert ("callbacks.append(BatchNormStatistics(" in block) == recompute, where
        assert ("batch-norm statistics re-estimated" in block) == recompute, where
        assert block.count("callbacks.append(keras.callbacks.EarlyStopping(") == (arm["early_stopping"] is not None)
        if arm["early_stopping"]:
            assert f"patience={arm['early_stopping']['patience']}," in block, where
        assert block.count("callbacks.append(keras.callbacks.ModelCheckpoint(") == (arm["checkpoint"] is not None)
        assert block.count("layers.Random") == len(arm["augmentation"]), where
        assert f"epochs={arm['epochs']}, batch_size={arm['batch_size']}," in block, where
        flat = len(built.input_shape) == 2
        assert ("x.reshape(len(x), -1)" in block) == flat, where


def test_the_batch_norm_arms_of_the_book_show_the_statistics_callback():
    from coursebook.book import params

    shown = {
        (chapter_id, arm["name"])
        for chapter_id in params.toc_chapter_ids()
        for arm in _chapter_arms(params.resolve(chapter_id, "quick"))
        if "BatchNormStatistics(" in code.code_block(arm["name"], arm["model"], {**arm, "scaling": "unit"})
    }
    assert {
        ("e4742-p2-batch-norm", "with batch norm"),
        ("a12-h-batch-norm", "H: batch norm"),
        ("q6-p4-bn-dropout", "Part 4 BN and dropout"),
        ("aml-p3-dropout-vs-bn", "LeNet-5 + batch norm"),
    } <= shown
