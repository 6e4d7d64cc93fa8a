"""The Keras code shown on the pages (coursebook.course.code): runnable as shown, the same model."""

from __future__ import annotations

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
    settings = {"optimizer": "adam", "learning_rate": 0.01, "epochs": 50, "batch_size": 64, "augmentation": [],
                "early_stopping": {"monitor": "val_loss", "mode": "min", "patience": 5, "min_delta": 0.0,
                                   "restore_best_weights": True},
                "checkpoint": {"monitor": "val_loss", "mode": "min"}}
    text = code.training_code(settings)
    for part in ("keras.optimizers.Adam(learning_rate=0.01)", "loss='categorical_crossentropy'", "epochs=50",
                 "batch_size=64", "EarlyStopping(monitor='val_loss', mode='min', patience=5",
                 "ModelCheckpoint('best.keras', monitor='val_loss'"):
        assert part in text
    compile(text, "training", "exec")


def test_augmented_training_code_runs_on_the_generated_model():
    namespace: dict = {}
    exec(code.model_code("aml-lenet5"), namespace)
    settings = {"optimizer": "sgd", "learning_rate": None, "epochs": 1, "batch_size": 8, "early_stopping": None,
                "checkpoint": None, "augmentation": [{"rotation": {"factor_degrees": 10}},
                                                     {"translation": {"height": 0.1, "width": 0.1}}, "flip"]}
    setup = code.training_code(settings).split("history = model.fit(")[0]
    exec(setup, namespace)
    assert "keras.optimizers.SGD()" in setup and namespace["model"].count_params() == 62006


def test_the_dropdown_holds_code_summary_and_training_with_the_name_escaped_once():
    settings = {"optimizer": "adam", "learning_rate": None, "epochs": 2, "batch_size": 32, "augmentation": [],
                "early_stopping": None, "checkpoint": None}
    block = code.code_block("deep|er_2", "e4742-original", settings)
    assert block.startswith(":::{dropdown} Code: deep\\|er\\_2 (e4742-original, 364,426 parameters)")
    assert "Total params: 364,426" in block and "model.fit(" in block and block.endswith(":::")
    assert max(len(line) for line in code.summary_text("q6-deeper-gap").splitlines()) <= 90  # laptop width
