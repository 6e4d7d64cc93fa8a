"""Values read from a results mapping: at each run's evaluated epoch, and the train-validation gap
from the inference-mode training accuracy where the run measured it."""

from __future__ import annotations

import pytest

from coursebook.course import measures


def run(seed=0, val_loss=(1.0, 0.8, 0.9), accuracy=(0.5, 0.6, 0.7), val_accuracy=(0.45, 0.5, 0.52),
        evaluated_epoch=None, **parts):
    return {"seed": seed, "evaluated_epoch": evaluated_epoch, **parts,
            "history": {"loss": [1.0] * len(val_loss), "val_loss": list(val_loss),
                        "accuracy": list(accuracy), "val_accuracy": list(val_accuracy)}}


def test_values_are_read_at_the_evaluated_epoch_not_the_last():
    assert measures.evaluated(run(evaluated_epoch=2), "val_loss") == 0.8
    assert measures.evaluated(run(), "val_loss") == 0.9  # no evaluated epoch: the last
    assert measures.evaluated_epoch(run()) == 3


def test_the_gap_uses_the_inference_mode_training_accuracy_where_measured():
    measured = run(evaluated_epoch=2, training={"accuracy": 0.9, "loss": 0.3}, validation={"accuracy": 0.55})
    assert measures.accuracy_gap(measured) == pytest.approx(0.9 - 0.55, abs=1e-15)
    # an older mapping without inference-mode scores: Keras' running accuracy at the evaluated epoch
    assert measures.accuracy_gap(run(evaluated_epoch=2)) == pytest.approx(0.6 - 0.5, abs=1e-15)


def test_a_missing_metric_or_epoch_is_named():
    with pytest.raises(KeyError, match="metric 'seconds' is not in the history of seed 0"):
        measures.evaluated(run(), "seconds")
    with pytest.raises(IndexError, match="epoch 4 is outside the 3 epochs of seed 0"):
        measures.history_value(run(), "loss", 4)


def test_an_object_is_read_through_its_mapping_and_runs_are_counted():
    class Results:
        def to_dict(self):
            return {"arms": [{"name": "a", "runs": [run(0), run(1)]}, {"name": "b", "runs": [run(0)]}]}

    assert measures.runs_count(Results()) == 1
    with pytest.raises(TypeError, match="cannot read results of type int"):
        measures.as_mapping(3)
