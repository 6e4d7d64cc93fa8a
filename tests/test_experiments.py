"""Experiment helpers on hand-made histories (training itself is covered in test_pipeline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursebook.course import experiments


def _frame() -> pd.DataFrame:
    """Two variants x two seeds x three epochs with known values."""
    rows = []
    for variant, offset in (("base", 0.0), ("wide", 0.1)):
        for seed in (0, 1):
            for epoch in (1, 2, 3):
                values = {"loss": 2.0 - 0.5 * epoch - offset, "accuracy": 0.2 * epoch + offset + 0.01 * seed,
                          "val_loss": 1.8 - 0.3 * epoch, "val_accuracy": 0.15 * epoch + offset - 0.02 * seed,
                          "seconds": (30.0 if epoch == 1 else 10.0) + seed}  # epoch 1 compiles
                rows += [{"variant": variant, "seed": seed, "epoch": epoch, "metric": m, "value": v}
                         for m, v in values.items()]
    return pd.DataFrame(rows)


def test_seeds_for():
    assert experiments.seeds_for(3, 4) == [3, 4, 5, 6]


def test_final_values_are_last_epoch_per_seed():
    assert experiments.final_values(_frame(), "val_accuracy", "wide") == pytest.approx([0.55, 0.53])


def test_summary_table_shows_mean_and_sample_sd():
    table = experiments.summary_table(_frame()).set_index("model")
    wide_val = [0.55, 0.53]
    expected = f"{np.mean(wide_val):.4f} ± {np.std(wide_val, ddof=1):.4f}"
    assert table.loc["wide", "validation accuracy"] == expected
    assert table.loc["base", "seconds per epoch (median after epoch 1)"] == f"{10.5:.1f} ± {np.std([10, 11], ddof=1):.1f}"
    assert table.loc["base", "runs"] == 2 and table.loc["base", "epoch"] == "3"


def test_comparison_text_direction_follows_the_numbers():
    text = experiments.comparison_text(_frame(), "wide", "base")
    assert "higher, i.e. better, mean final validation accuracy" in text  # 0.54 against 0.44
    assert "the same" in text.split("\n")[1]  # validation losses are identical
    assert text.count("\n- ") == 4
    training_line = text.split("\n")[2]
    assert "final training accuracy" in training_line and "better" not in training_line and "worse" not in training_line


def test_learning_speed_text_names_both_variants():
    text = experiments.learning_speed_text(_frame(), "wide", "base", threshold=0.5)
    assert "wide" in text and "base" in text and "0.5" in text


def test_answer_text_compares_every_architecture_with_the_first():
    frame = _frame()
    both = experiments.answer_text(frame, ["base", "wide"], threshold=0.5)
    assert both.startswith("**wide against base**") and "after epoch 1" in both
    single = experiments.answer_text(frame[frame["variant"] == "base"], ["base"], threshold=0.5)
    assert "against" not in single and single.count("- ") == 2 and "base" in single


def test_protocol_warning_only_when_the_test_set_validates():
    from types import SimpleNamespace

    leak = SimpleNamespace(leaks_test=True, protocol="The test set is the validation set.")
    assert experiments.protocol_warning(leak).startswith("```{danger}") and leak.protocol in experiments.protocol_warning(leak)
    assert experiments.protocol_warning(SimpleNamespace(leaks_test=False, protocol="holdout")) == ""


def test_confusion_text_names_pairs_of_validation_matrices_only():
    cm = np.diag([5, 5, 5])
    cm[2, 0] = 4  # four "c" predicted as "a"
    text = experiments.confusion_text({"m: training": np.diag([9, 9, 9]), "m: validation": cm}, ["a", "b", "c"])
    assert text.count("\n") == 0 and text.startswith("- m: validation: ") and "c predicted as a (4 images" in text
