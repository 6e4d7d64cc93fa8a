"""The comparison page's tables and sentences, computed from a hand-made Results object whose
runs stop and are evaluated at different epochs."""

from __future__ import annotations

import copy

import numpy as np

from coursebook.course import report
from coursebook.course.results import Results
from tests.test_results import _data


def _results(**changes) -> Results:
    data = _data()
    data["parameters"]["arms"] = [
        {"name": "plain", "model": "m"},
        {"name": "stops", "model": "m", "early_stopping": {"patience": 1}},
    ]
    for key, value in changes.items():
        data[key] = value
    return Results.from_dict(data)


def test_settings_table_shows_effective_values_and_marks_what_the_arm_sets():
    table = report.settings_table(_results()).set_index("arm")
    assert table.loc["plain", "epochs"] == "3" and table.loc["stops", "epochs"] == "3"
    assert table.loc["plain", "early stopping"] == "none"
    assert table.loc["stops", "early stopping"] == (
        "on val_loss (min), patience 1, min_delta 0, restores best weights (arm)"
    )
    assert table.loc["stops", "learning rate"] == "the optimizer's default"
    # no train_size of its own: the number of images its run trained on, from the results' training part
    assert table.loc["stops", "training images"] == str(_results().dataset.sizes["train"])


def test_settings_table_says_batch_norm_only_of_arms_with_it_and_the_recorded_preprocessing():
    data = _data()
    data["arms"][1] = copy.deepcopy(data["arms"][0])
    data["arms"][0].update(name="plain", model="e4742-original")
    data["arms"][1].update(name="bn", model="e4742-batchnorm")
    data["arms"][0]["settings"]["scaling"] = "standardize"
    data["dataset"]["sizes"]["train"] = 4000
    data["arms"][1]["settings"]["train_size"] = 1500
    table = report.settings_table(Results.from_dict(data)).set_index("arm")
    assert table.loc["plain", "batch-norm statistics"] == "no batch-norm layers"
    assert table.loc["bn", "batch-norm statistics"].startswith("recomputed")
    assert (table.loc["plain", "training images"], table.loc["bn", "training images"]) == ("4,000", "1,500")
    assert table.loc["plain", "preprocessing"].startswith("pixels standardized per colour channel")
    assert table.loc["bn", "preprocessing"].startswith("pixel scaling not recorded")
    data["arms"][0].update(model="aml-mlp")
    data["arms"][0]["settings"]["scaling"] = "unit"
    table = report.settings_table(Results.from_dict(data)).set_index("arm")
    assert (
        table.loc["plain", "preprocessing"] == "pixels / 255 (to [0, 1]); images flattened to vectors; one-hot labels"
    )


def test_summary_reads_every_run_at_its_evaluated_epoch():
    table = report.evaluated_summary_table(_results()).set_index("arm")
    assert table.loc["stops", "epochs trained"] == "2, 3" and table.loc["stops", "evaluated epoch"] == "1, 2"
    val_loss = [1.0 + 0.5, 0.9 + 0.5]  # seed 0 at epoch 1, seed 1 at epoch 2
    assert table.loc["stops", "validation loss"] == f"{np.mean(val_loss):.4f} ± {np.std(val_loss, ddof=1):.4f}"
    # inference mode: the run's training scores (0.1 below its history's loss at epoch 3 here)
    assert (
        table.loc["plain", "training loss (inference mode)"]
        == f"{np.mean([0.6, 0.5]):.4f} ± {np.std([0.6, 0.5], ddof=1):.4f}"
    )
    # training mode: Keras' running accuracy at the evaluated epoch (0.1 per epoch in the history)
    assert (
        table.loc["stops", "training accuracy (running, training mode)"]
        == f"{np.mean([0.1, 0.2]):.4f} ± {np.std([0.1, 0.2], ddof=1):.4f}"
    )
    assert table.loc["plain", "runs that learned"] == "2 of 2"
    assert table.loc["plain", "seconds per epoch (median after epoch 1)"] == "1.0 ± 0.0"  # [2, 1, 1] -> 1


def test_epochs_text_says_where_each_run_stopped_and_which_epoch_was_evaluated():
    lines = report.epochs_text(_results()).split("\n")
    assert lines == [  # one line per arm, not one templated line per run
        "- **plain**: every run trained all 3 epochs; evaluated epoch per run: 3, 3 (the last epoch trained).",
        "- **stops**: early stopping ended 1 of 2 runs after epoch 2 of 3 (val_loss did not improve for 1 epoch); "
        "the other trained all 3; evaluated epoch per run: 1, 2 (the best val_loss, restored by early stopping).",
    ]


def test_arm_names_are_escaped_in_markdown():
    data = _data()
    data["arms"][0]["name"] = "a*b_c"
    assert report.epochs_text(Results.from_dict(data)).startswith("- **a\\*b\\_c**: ")


def test_confusion_matrices_and_test_table_come_from_the_runs():
    results = _results()
    matrices = report.results_confusion_matrices(results)
    assert list(matrices) == ["plain: training", "plain: validation", "stops: training", "stops: validation"]
    assert matrices["stops: validation"].tolist() == results.arm("stops").runs[0].confusion["validation"]
    table = report.test_set_table(results)
    assert table[["arm", "seed", "evaluated epoch"]].values.tolist() == [
        ["plain", 0, 3],
        ["plain", 1, 3],
        ["stops", 0, 1],
        ["stops", 1, 2],
    ]


def test_curves_draw_one_line_per_run_with_the_evaluated_epoch_marked_when_runs_differ():
    results = _results()
    assert not report.all_evaluated_at_last_epoch(results)
    figure = report.curves_figure(results)
    loss_axis = figure.axes[0]
    marks = [line for line in loss_axis.get_lines() if line.get_marker() == "o" and len(line.get_xdata())]
    assert sorted((int(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in marks) == sorted(
        [(3, 1.2), (3, 1.1), (1, 1.5), (2, 1.4)]
    )  # val_loss at each run's evaluated epoch
    assert "a dot marks the epoch whose weights were evaluated" in report.curves_caption(results)


def test_class_f1_table_lists_each_arms_f1_per_class():
    data = _data()
    data["arms"][1]["runs"][1]["classification_report"]["dog"]["f1"] = 0.8
    table = report.class_f1_table(Results.from_dict(data)).set_index("class")
    assert table.loc["dog", "test images"] == 4
    assert table.loc["dog", "F1: plain"] == "0.6000 ± 0.0000"
    assert table.loc["dog", "F1: stops"] == f"{np.mean([0.6, 0.8]):.4f} ± {np.std([0.6, 0.8], ddof=1):.4f}"
    assert table.loc["cat", "F1: stops"] == "0.3333 ± 0.0000"


def test_the_summary_table_uses_one_time_per_epoch():
    # epoch 1 (compilation) is slow in "stops": the mean over all epochs would call it slower
    # (18 vs 12 s), the median after epoch 1 calls it faster (6 vs 12 s)
    data = copy.deepcopy(_data())
    data["arms"][1]["runs"] = copy.deepcopy(data["arms"][0]["runs"])  # the same curves, other times
    for arm, times in zip(data["arms"], ([12.0, 12.0, 12.0], [42.0, 6.0, 6.0]), strict=True):
        for run in arm["runs"]:
            run["seconds_per_epoch"] = [t + run["seed"] for t in times]
    results = Results.from_dict(data)
    table = report.evaluated_summary_table(results).set_index("arm")["seconds per epoch (median after epoch 1)"]
    assert table.to_dict() == {
        "plain": f"12.5 ± {np.std([12, 13], ddof=1):.1f}",
        "stops": f"6.5 ± {np.std([6, 7], ddof=1):.1f}",
    }
