"""Arms as data: every bad arm is one line naming the file, the arm, the key, the value and what is
allowed, before any kernel starts; effective settings follow the documented precedence."""

from __future__ import annotations

import pytest
import yaml

from coursebook.book import runner
from coursebook.book.params import ParameterError, resolve
from coursebook.course import arms
from tests.conftest import imported_by, write_notebook

ARMS_CELL = """\
seed = 0                # [0, ] seed
data = "synthetic"      # {auto, cifar10, synthetic} images
arms = [{"name": "a", "model": "tiny"}]  # {@arms} arms compared
epochs = 10             # [1, 1000] epochs
batch_size = 32         # [1, 4096] batch size
optimizer = "adam"      # {adam, sgd} optimizer
train_size: "Optional[int]" = None  # [100, ] training images
repeats = 1             # [1, 20] seeds
"""


@pytest.fixture
def arms_project(mini_project):
    write_notebook(mini_project / "notebooks" / "train.ipynb", ARMS_CELL, "x = 1")
    return mini_project


def _chapter(root, arms_list, **parameters):
    text = yaml.safe_dump(
        {"notebook": "train.ipynb", "title": "A", "parameters": {"arms": arms_list, **parameters}}, sort_keys=False
    )
    (root / "params" / "alpha.yaml").write_text(text)


def _error(root, arms_list, profile="full", overrides=None, **parameters) -> str:
    _chapter(root, arms_list, **parameters)
    with pytest.raises(ParameterError) as info:
        resolve("alpha", profile, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


GOOD = {"name": "base", "model": "tiny"}


@pytest.mark.parametrize(
    "arm, expected",
    [
        (
            {"name": "b", "model": "tiny", "colour": "red"},
            "params/alpha.yaml: arm 'b' (arms[1]): key 'colour' is not allowed (allowed: name, model, optimizer",
        ),
        (
            {"name": "b", "model": "huge"},
            "params/alpha.yaml: arm 'b' (arms[1]): key 'model': value 'huge' is not allowed "
            "(expected a model in params/models: one of {tiny, wide})",
        ),
        (
            {"name": "b", "model": "tiny", "augmentation": [{"shear": {"factor": 0.1}}]},
            "params/alpha.yaml: arm 'b' (arms[1]): key 'augmentation[0]': value 'shear' is not allowed "
            "(expected a layer in {rotation, translation, flip, zoom})",
        ),
        (
            {"name": "b", "model": "tiny", "augmentation": [{"rotation": {"degrees": 10}}]},
            "params/alpha.yaml: arm 'b' (arms[1]): key 'augmentation[0].rotation.degrees' is not allowed "
            "(allowed: factor_degrees)",
        ),
        (
            {"name": "b", "model": "tiny", "augmentation": [{"flip": {"mode": "diagonal"}}]},
            "key 'augmentation[0].flip.mode': value 'diagonal' is not allowed "
            "(expected one of {horizontal, vertical, horizontal_and_vertical})",
        ),
        (
            {"name": "b", "model": "tiny", "augmentation": [{"rotation": {"factor_degrees": 400}}]},
            "key 'augmentation[0].rotation.factor_degrees': value 400 is not allowed (expected a number in (0, 180])",
        ),
        (
            {"name": "b", "model": "tiny", "batch_size": "64"},
            "arm 'b' (arms[1]): key 'batch_size': value '64' is not allowed (expected an int in [1, 4096])",
        ),
        (
            {"name": "b", "model": "tiny", "epochs": 2.5},
            "arm 'b' (arms[1]): key 'epochs': value 2.5 is not allowed (expected an int in [1, 1000])",
        ),
        (
            {"name": "b", "model": "tiny", "early_stopping": {"patience": True}},
            "key 'early_stopping.patience': value True is not allowed (expected an int in [0, ])",
        ),
        (
            {"name": "b", "model": "tiny", "early_stopping": {"patience": 10}},
            "arm 'b' (arms[1]): key 'early_stopping.patience': value 10 is not allowed (expected an int in [0, 9]: "
            "smaller than the arm's epochs (10), or early stopping could never stop; epochs from the default in "
            "notebooks/train.ipynb)",
        ),
        (
            {"name": "b", "model": "tiny", "early_stopping": {"monitor": "val_acc", "patience": 2}},
            "key 'early_stopping.monitor': value 'val_acc' is not allowed "
            "(expected one of {loss, accuracy, val_loss, val_accuracy})",
        ),
        (
            {"name": "b", "model": "tiny", "checkpoint": {"monitor": "accuracy"}},
            "arm 'b' (arms[1]): key 'checkpoint.monitor': value 'accuracy' is not allowed "
            "(expected one of {val_loss, val_accuracy})",
        ),
        (
            {"name": "b", "model": "tiny", "checkpoint": {}},
            "arm 'b' (arms[1]): key 'checkpoint.monitor' is missing (expected one of {val_loss, val_accuracy})",
        ),
        (
            {"name": "b", "model": "tiny", "learning_rate": 0},
            "key 'learning_rate': value 0 is not allowed (expected a number in (0, 1] or null)",
        ),
        (
            {"name": "base", "model": "wide"},
            "arm 'base' (arms[1]): key 'name': value 'base' is not allowed (expected a name of its own: arms[0] has "
            "the same name",
        ),
        (
            {"model": "tiny"},
            "params/alpha.yaml: arm arms[1]: key 'name' is missing (expected a value: every arm needs name and model)",
        ),
        (
            {"name": "b"},
            "params/alpha.yaml: arm 'b' (arms[1]): key 'model' is missing (expected a value: every arm needs name and "
            "model)",
        ),
        (
            {"name": "", "model": "tiny"},
            "arm arms[1]: key 'name': value '' is not allowed (expected a non-empty string)",
        ),
        ("b", "params/alpha.yaml: arm arms[1]: value 'b' is not allowed (expected a mapping with keys {name, model,"),
    ],
)
def test_a_bad_arm_is_one_line_naming_file_arm_key_value_and_allowed(arms_project, arm, expected):
    assert expected in _error(arms_project, [GOOD, arm])


def test_an_empty_or_missing_arm_list_is_rejected(arms_project):
    message = _error(arms_project, [])
    assert message.startswith("params/alpha.yaml: key 'arms': value [] is not allowed (expected a non-empty list")
    message = _error(arms_project, {"name": "a", "model": "tiny"})
    assert "key 'arms'" in message and "expected a non-empty list of arms" in message


def test_patience_is_checked_against_the_profiles_epochs_and_says_where_they_came_from(arms_project):
    (arms_project / "params" / "profiles" / "smoke.yaml").write_text("defaults: {epochs: 3}\nchapters: {}\n")
    arm = {"name": "stops", "model": "tiny", "early_stopping": {"patience": 4}}
    _chapter(arms_project, [arm])
    resolve("alpha", "full")  # 10 epochs at full scale: fine
    message = _error(arms_project, [arm], profile="smoke")
    assert message.startswith("params/alpha.yaml: arm 'stops' (arms[0]): key 'early_stopping.patience': value 4")
    assert "epochs from params/profiles/smoke.yaml" in message and "[0, 2]" in message


def test_arms_from_the_command_line_are_checked_and_named_so(arms_project):
    _chapter(arms_project, [GOOD])
    message = _error(arms_project, [GOOD], overrides={"arms": [{"name": "x", "model": "tiny", "optimiser": "sgd"}]})
    assert message.startswith("command line: arm 'x' (arms[0]): key 'optimiser' is not allowed")


def test_planning_fails_before_any_kernel_starts(arms_project):
    _chapter(arms_project, [{"name": "x", "model": "nope"}])
    with pytest.raises(ParameterError, match="arm 'x'"):
        runner.plan_book("quick")


def test_precedence_chapter_profile_command_line_and_the_arm_wins(arms_project):
    (arms_project / "params" / "profiles" / "smoke.yaml").write_text(
        "defaults: {epochs: 3, train_size: 200}\nchapters: {}\n"
    )
    fixed = {"name": "fixed", "model": "tiny", "epochs": 7, "batch_size": 16, "optimizer": "sgd"}
    _chapter(arms_project, [GOOD, fixed], batch_size=8)
    resolved = resolve("alpha", "smoke", {"optimizer": "adam", "train_size": 300})
    base, own = arms.check_arms(resolved.values["arms"], resolved.values)
    # notebook default < chapter file < profile < command line, for every arm that does not set the key
    assert (base["epochs"], base["batch_size"], base["optimizer"], base["train_size"]) == (3, 8, "adam", 300)
    # an arm's own key wins over every chapter-level layer
    assert (own["epochs"], own["batch_size"], own["optimizer"], own["train_size"]) == (7, 16, "sgd", 300)


def test_effective_settings_fill_in_the_documented_defaults():
    (settings,) = arms.check_arms(
        [
            {
                "name": "n",
                "model": "e4742-original",
                "early_stopping": {"monitor": "val_accuracy", "patience": 2},
                "checkpoint": {"monitor": "val_loss"},
                "augmentation": ["flip", {"translation": {"height": 0.1, "width": 0.2}}],
            }
        ],
        {"epochs": 5},
    )
    assert settings["early_stopping"] == {
        "monitor": "val_accuracy",
        "patience": 2,
        "min_delta": 0.0,
        "restore_best_weights": True,
        "mode": "max",
    }
    assert settings["checkpoint"] == {"monitor": "val_loss", "mode": "min"}
    assert settings["augmentation"] == [
        {"flip": {"mode": "horizontal"}},
        {"translation": {"height": 0.1, "width": 0.2}},
    ]
    assert (settings["optimizer"], settings["learning_rate"], settings["batch_size"], settings["train_size"]) == (
        "adam",
        None,
        64,
        None,
    )


def test_the_validator_imports_no_deep_learning_backend():
    code = "from coursebook.course import arms; arms.check_arms([{'name': 'a', 'model': 'e4742-original'}], {})"
    assert imported_by(code) == []


# --------------------------------------------------------------------------- building arms (Keras)


def test_augmentation_builder_makes_the_listed_layers_with_their_options():
    from coursebook.course import training

    layers = training.augmentation_layers(
        [
            {"rotation": {"factor_degrees": 18}},
            {"translation": {"height": 0.1, "width": 0.2}},
            {"flip": {"mode": "vertical"}},
            {"zoom": {"factor": 0.25}},
        ]
    ).layers
    assert [type(layer).__name__ for layer in layers] == [
        "RandomRotation",
        "RandomTranslation",
        "RandomFlip",
        "RandomZoom",
    ]
    rotation, translation, flip, zoom = (layer.get_config() for layer in layers)
    assert rotation["factor"] in (0.05, (-0.05, 0.05), [-0.05, 0.05])  # 18 degrees = 0.05 of a turn
    assert (translation["height_factor"], translation["width_factor"]) == (0.1, 0.2)
    assert flip["mode"] == "vertical"
    assert {rotation["fill_mode"], translation["fill_mode"], zoom["fill_mode"]} == {"nearest"}
    with pytest.raises(ValueError, match=r"key 'augmentation\[0\]': value 'blur'"):
        training.augmentation_layers(["blur"])


def test_augmentation_keeps_the_recorded_metric_names():
    import numpy as np

    from coursebook.course import experiments, training

    (arm,) = arms.check_arms(
        [
            {
                "name": "aug",
                "model": "e4742-original",
                "epochs": 1,
                "batch_size": 8,
                "augmentation": [{"rotation": {"factor_degrees": 10}}, "flip"],
            }
        ],
        {},
    )
    model = experiments.build_arm_model(arm, num_classes=10)
    assert model.layers[0].name == "augmentation"
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 32, 32, 3), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    fitted = training.train(
        model, {"x_train": x, "y_train": y, "x_val": x[:8], "y_val": y[:8]}, epochs=1, batch_size=8, verbose=0
    )
    assert set(fitted.raw_history) == {"loss", "accuracy", "val_loss", "val_accuracy", "eval_loss", "eval_accuracy"}
