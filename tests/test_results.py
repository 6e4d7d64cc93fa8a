"""The results object and file: round trip, schema checks on load, no non-finite numbers."""

from __future__ import annotations

import copy
import json

import pytest

from coursebook.course.results import Results, ResultsError
from tests import factories


def _run(seed: int, losses: list[float], evaluated: int) -> dict:
    """A run whose training loss per epoch is ``losses``; validation loss 0.5 above it; running accuracy
    0.1 per epoch, validation accuracy 0.05 per epoch; inference-mode training loss 0.1 below."""
    n = len(losses)
    return factories.run(
        seed,
        epochs=n,
        evaluated=evaluated,
        classes=["cat", "dog"],
        history={
            "loss": losses,
            "accuracy": [0.1 * (e + 1) for e in range(n)],
            "val_loss": [x + 0.5 for x in losses],
            "val_accuracy": [0.05 * (e + 1) for e in range(n)],
        },
        train_loss=losses[evaluated - 1] - 0.1,
        train=0.1 * evaluated,
        val_loss=losses[evaluated - 1] + 0.5,
        val=0.05 * evaluated,
        test_loss=1.5,
        test=0.4,
        report={
            "cat": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4},
            "dog": {"precision": 0.5, "recall": 0.75, "f1": 0.6, "support": 4},
        },
        confusion={"training": [[3, 1], [1, 3]], "validation": [[2, 2], [1, 3]], "test": [[1, 3], [1, 3]]},
    )


def _data() -> dict:
    """Two arms of two runs each on a two-class dataset; the second arm stops early."""
    counts = {"total": 10, "trainable": 8, "non_trainable": 2}
    stopping = {"monitor": "val_loss", "patience": 1, "min_delta": 0.0, "restore_best_weights": True, "mode": "min"}
    return factories.results_dict(
        factories.arm(
            "plain",
            [_run(0, [1.0, 0.8, 0.7], 3), _run(1, [1.1, 0.9, 0.6], 3)],
            parameters=counts,
            batch_size=8,
            epochs=3,
        ),
        factories.arm(
            "stops",
            [_run(0, [1.0, 0.5], 1), _run(1, [1.2, 0.9, 0.95], 2)],
            parameters=counts,
            batch_size=8,
            epochs=3,
            early_stopping=stopping,
        ),
        classes=["cat", "dog"],
        sizes=(8, 8, 8),
        dataset_name="d",
    )


def test_save_and_load_round_trip_as_plain_json(tmp_path):
    results = Results.from_dict(_data())
    path = results.save(tmp_path / "c.results.json")
    raw = json.loads(path.read_text())
    assert raw == _data() and next(iter(raw)) == "schema_version"
    assert Results.load(path) == results
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_values_at_the_evaluated_epoch_and_the_tidy_frame():
    results = Results.from_dict(_data())
    stops = results.arm("stops")
    running = [run.value("running_train_accuracy") for run in stops.runs]
    assert running == pytest.approx([0.1, 0.2])  # the history's accuracy at epoch 1 of seed 0, epoch 2 of seed 1
    assert [stops.stopped_early(run) for run in stops.runs] == [True, False]
    frame = results.history_frame()
    assert list(frame.columns) == ["arm", "seed", "epoch", "metric", "value"]
    assert len(frame) == (3 + 3 + 2 + 3) * 5  # runs of 3, 3, 2, 3 epochs; 4 metrics plus seconds
    row = frame[(frame.arm == "stops") & (frame.seed == 1) & (frame.metric == "val_loss")]
    assert row["value"].tolist() == [1.7, 1.4, 1.45] and row["epoch"].tolist() == [1, 2, 3]
    assert frame[(frame.metric == "seconds") & (frame.epoch == 1)]["value"].tolist() == [2.0] * 4


@pytest.mark.parametrize(
    "where, value, expected",
    [
        (("history", "val_loss", 1), float("nan"), "arm 'plain', seed 1: history metric 'val_loss' at epoch 2 is nan"),
        (("test", "accuracy"), float("inf"), "arm 'plain', seed 1: test metric 'accuracy' is inf"),
        (("seconds_per_epoch", 0), float("-inf"), "arm 'plain', seed 1: seconds_per_epoch at epoch 1 is -inf"),
    ],
)
def test_a_non_finite_number_fails_saving_naming_arm_seed_and_metric(tmp_path, where, value, expected):
    good = Results.from_dict(_data())
    path = good.save(tmp_path / "c.results.json")
    before = path.read_bytes()
    bad = copy.deepcopy(good)
    target = bad.arms[0].runs[1]
    container = getattr(target, where[0])
    for key in where[1:-1]:
        container = container[key]
    container[where[-1]] = value
    with pytest.raises(ResultsError, match="not a finite number") as info:
        bad.save(path)
    assert expected in str(info.value)
    assert path.read_bytes() == before  # the good file is untouched


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda d: d.pop("device"), "key 'device' is missing"),
        (
            lambda d: d["arms"][1]["runs"][0].pop("evaluated_epoch"),
            "results.json: key 'arms[1].runs[0].evaluated_epoch' is missing (expected an int)",
        ),
        (
            lambda d: d["arms"][0].update(colour="red"),
            ": key 'arms[0].colour' is not allowed (allowed: name, model, parameters, settings, runs, source_chapter)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0]["history"].update(loss="high"),
            ": key 'arms[0].runs[0].history.loss': value 'high' is not allowed (expected a list)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0].update(seed="0"),
            ": key 'arms[0].runs[0].seed': value '0' is not allowed (expected an int)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0]["test"].update(loss=True),
            ": key 'arms[0].runs[0].test.loss': value True is not allowed (expected a number)",
        ),
        (lambda d: d.update(schema_version=99), "key 'schema_version': value 99 is not allowed (expected 2)"),
        (lambda d: d.update(schema_version=1), "key 'schema_version': value 1 is not allowed (expected 2)"),
        (
            lambda d: d["arms"][0]["runs"][1]["validation"].pop("accuracy"),
            "arm 'plain', seed 1: validation lacks metric 'accuracy' (expected loss and accuracy)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0].pop("training"),
            ": key 'arms[0].runs[0].training' is missing (expected an object)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0]["history"].pop("val_accuracy"),
            "arm 'plain', seed 0: history lacks metric 'val_accuracy' (every run records loss, accuracy, val_loss, "
            "val_accuracy)",
        ),
        (
            lambda d: d["arms"][0]["runs"][0]["training"].update(accuracy=1.4),
            "arm 'plain', seed 0: training metric 'accuracy' is 1.4 (accuracies lie in [0, 1])",
        ),
        (
            lambda d: d["arms"][0]["runs"][0]["history"]["val_accuracy"].__setitem__(0, -0.1),
            "arm 'plain', seed 0: history metric 'val_accuracy' at epoch 1 is -0.1 (accuracies lie in [0, 1])",
        ),
        (
            lambda d: d["arms"][0]["runs"][0].update(learned=False),
            "arm 'plain', seed 0: failure_cause must be '' exactly when learned is true",
        ),
        (
            lambda d: d["arms"][0]["runs"][0].update(learned="yes"),
            ": key 'arms[0].runs[0].learned': value 'yes' is not allowed (expected true or false)",
        ),
        (
            lambda d: d["arms"][1]["runs"][0].update(evaluated_epoch=3),
            "arm 'stops', seed 0: evaluated_epoch 3 is not in [1, 2]",
        ),
        (
            lambda d: d["arms"][0]["runs"][0].update(stopped_epoch=4),
            "arm 'plain', seed 0: every history list and seconds_per_epoch must have stopped_epoch = 4 values",
        ),
        (lambda d: d["arms"].clear(), "no arm"),
    ],
)
def test_a_damaged_file_gives_one_clear_error(tmp_path, damage, expected):
    data = _data()
    damage(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError) as info:
        Results.load(path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_truncated_file_or_a_nan_literal_is_not_results_json(tmp_path):
    path = tmp_path / "results.json"
    text = json.dumps(_data())
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ResultsError, match="not valid results JSON"):
        Results.load(path)
    path.write_text(text.replace('"accuracy": 0.4', '"accuracy": NaN', 1))
    with pytest.raises(ResultsError, match="NaN is not a plain JSON number"):
        Results.load(path)
    with pytest.raises(ResultsError, match="no results file"):
        Results.load(tmp_path / "missing.json")
