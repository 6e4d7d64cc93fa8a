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
    # From _frame by hand: accuracy after epoch 1 is 0.2 + 0.1 + 0.01 * seed for wide (mean 0.305) and
    # 0.2 + 0.01 * seed for base (mean 0.205); the mean curves reach 0.5 at epoch 2 (0.505) and
    # epoch 3 (0.605); every run's time per epoch is the median of epochs 2-3: 10 + seed for both.
    text = experiments.learning_speed_text(_frame(), "wide", "base", threshold=0.5)
    first, reach, timing = text.split(" by ")[0], text.split("On the mean curves, ")[1], text.split("time per")[1]
    assert first.startswith("wide (0.3050 ± 0.0071) has a higher, i.e. better, mean accuracy after epoch 1 "
                            "than base (0.2050 ± 0.0071)")
    assert reach.startswith("wide needs fewer epochs than base to reach accuracy 0.5 (2 vs 3).")
    assert "Per run, wide reaches it at epochs 2, 2 and base reaches it at epochs 3, 3: every run of wide" in text
    assert "have the same mean time per epoch in seconds (median after epoch 1)" in text
    assert "lower" not in first and "more epochs" not in text and "higher" not in timing


def test_summary_table_and_prose_use_one_time_per_epoch():
    # epoch 1 (compilation) is slow in "b": the mean over all epochs would call b slower (18 vs 12 s),
    # the median after epoch 1 calls it faster (6 vs 12 s); table and prose must say the same
    rows = [{"variant": v, "seed": seed, "epoch": e, "metric": m, "value": value}
            for v, times in (("a", [12.0, 12.0, 12.0]), ("b", [42.0, 6.0, 6.0])) for seed in (0, 1)
            for e, t in enumerate(times, start=1)
            for m, value in (("seconds", t + seed), ("accuracy", 0.3 * e), ("val_accuracy", 0.25 * e),
                             ("loss", 1.0 / e), ("val_loss", 1.2 / e))]
    frame = pd.DataFrame(rows)
    table = experiments.summary_table(frame).set_index("model")["seconds per epoch (median after epoch 1)"]
    assert table.to_dict() == {"a": f"12.5 ± {np.std([12, 13], ddof=1):.1f}", "b": f"6.5 ± {np.std([6, 7], ddof=1):.1f}"}
    prose = experiments.learning_speed_text(frame, "b", "a", threshold=0.5)
    assert "b (6.50 ± 0.71) has a lower, i.e. better, mean time per epoch in seconds (median after epoch 1)" in prose


def test_summary_table_refuses_missing_and_non_finite_values():
    frame = _frame()
    with pytest.raises(ValueError, match=r"summary_table needs metric\(s\) \['seconds'\]"):
        experiments.summary_table(frame[frame["metric"] != "seconds"])
    broken = frame.assign(value=frame["value"].where(~((frame.metric == "val_loss") & (frame.seed == 1)), np.nan))
    with pytest.raises(ValueError, match="'val_loss' of 'base' is not finite"):
        experiments.summary_table(broken)
    with pytest.raises(ValueError, match="duplicate rows"):
        experiments.summary_table(pd.concat([frame, frame.iloc[[0]]]))


def test_summary_table_reads_the_evaluated_epoch():
    epochs = {("base", 0): 1, ("base", 1): 2, ("wide", 0): 3, ("wide", 1): 3}
    table = experiments.summary_table(_frame(), epochs=epochs).set_index("model")
    assert table.loc["base", "epoch"] == "1, 2"
    base = [0.15 * 1 - 0.0, 0.15 * 2 - 0.02]  # val_accuracy of base at epochs 1 and 2
    assert table.loc["base", "validation accuracy"] == f"{np.mean(base):.4f} ± {np.std(base, ddof=1):.4f}"


def test_data_description_counts_test_images_once_when_they_validate():
    from types import SimpleNamespace

    ds = SimpleNamespace(name="CIFAR-10", x_train=np.zeros((5, 32, 32, 3)))
    splits = SimpleNamespace(sizes={"train": 50_000, "val": 10_000, "test": 10_000}, leaks_test=True,
                             protocol="Reference protocol.")
    text = experiments.data_description(ds, splits)
    assert "50,000 training and 10,000 test images (the test images also serve as validation data)" in text
    assert "10,000 validation" not in text


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
