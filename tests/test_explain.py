"""The explanation registry and the measures the topic modules read from results."""

from __future__ import annotations

import math
import sys
import types

import pytest

from coursebook.course import explain
from coursebook.course.explain import measures


def run(seed=0, val_loss=(1.0, 0.8, 0.9), accuracy=(0.5, 0.6, 0.7), val_accuracy=(0.45, 0.5, 0.52),
        evaluated_epoch=None):
    return {"seed": seed, "evaluated_epoch": evaluated_epoch,
            "history": {"loss": [1.0] * len(val_loss), "val_loss": list(val_loss),
                        "accuracy": list(accuracy), "val_accuracy": list(val_accuracy)}}


def results(*arms, profile="full", synthetic=False):
    return {"profile": profile, "dataset": {"name": "stand-in", "synthetic": synthetic},
            "arms": [{"name": name, "model": name, "runs": runs} for name, runs in arms]}


def test_every_topic_names_a_module_and_an_unknown_topic_is_refused():
    assert explain.module_name("batch-norm") == "coursebook.course.explain.batch_norm"
    assert explain.module_name("dropout-vs-bn") == "coursebook.course.explain.dropout_vs_bn"
    with pytest.raises(ValueError, match="unknown explanation topic 'bn'"):
        explain.answer("bn", {})


def test_answer_calls_the_topic_module_with_the_results(monkeypatch):
    seen = []
    module = types.ModuleType("coursebook.course.explain.depth")
    module.answer = lambda res: seen.append(res) or "because"
    monkeypatch.setitem(sys.modules, "coursebook.course.explain.depth", module)
    assert explain.answer("depth", {"arms": []}) == "because"
    assert seen == [{"arms": []}]
    assert explain.answer("", {"arms": []}) == ""


def test_values_are_read_at_the_evaluated_epoch_not_the_last():
    r = run(evaluated_epoch=2)
    assert measures.evaluated(r, "val_loss") == 0.8
    assert measures.accuracy_gap(r) == pytest.approx(0.6 - 0.5, abs=1e-15)
    assert measures.evaluated(run(), "val_loss") == 0.9  # no evaluated epoch: the last


def test_rise_and_lowest_epoch():
    r = run(val_loss=(1.0, 0.7, 0.7, 0.95), accuracy=(0,) * 4, val_accuracy=(0,) * 4)
    assert measures.lowest_val_loss_epoch(r) == 2
    assert measures.val_loss_rise(r) == pytest.approx(0.25, abs=1e-15)


def test_mean_sd_uses_the_sample_sd():
    mean, sd = measures.mean_sd([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3, abs=1e-15)
    assert sd == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2), abs=1e-15)
    assert measures.shown([0.5]) == "0.5000"
    assert measures.shown([0.5, 0.7]) == "0.6000 ± 0.1414"


def test_limits_name_runs_profile_and_synthetic_data():
    one = measures.limits(results(("a", [run()]), profile="smoke", synthetic=True))
    assert "One run per arm" in one and "smoke profile" in one and "not from CIFAR-10" in one
    three = measures.limits(results(("a", [run(0), run(1), run(2)]), ("b", [run(0), run(1), run(2)])))
    assert three.startswith("3 runs (seeds) per arm") and "profile" not in three and "CIFAR-10" not in three


def test_missing_metric_and_arm_are_named():
    with pytest.raises(KeyError, match="metric 'seconds' is not in the history of seed 0"):
        measures.evaluated(run(), "seconds")
    with pytest.raises(KeyError, match="no arm named 'c'"):
        measures.arm(results(("a", [run()])), "c")


def test_an_object_is_read_through_its_mapping():
    class Results:
        def to_dict(self):
            return results(("a", [run()]))

    assert measures.arm_names(Results()) == ["a"]
    with pytest.raises(TypeError, match="cannot read results of type int"):
        measures.as_mapping(3)


def test_near_chance_is_said_only_when_every_arm_is_below_twice_chance():
    low = results(("a", [run(accuracy=(0.1, 0.15, 0.1999))]), ("b", [run(accuracy=(0.1, 0.1, 0.12))]))
    assert measures.near_chance(low).startswith("Training accuracy has hardly left chance (a 0.1999, b 0.1200, "
                                                "against 0.10 for guessing among 10 classes)")
    learned = results(("a", [run(accuracy=(0.1, 0.15, 0.2))]), ("b", [run(accuracy=(0.1, 0.1, 0.12))]))
    assert measures.near_chance(learned) == ""
