"""Experiment helpers on hand-made histories (training itself is covered in test_pipeline; the
page's tables and sentences from a Results object in test_experiments_results)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coursebook.course import experiments, report


def _frame() -> pd.DataFrame:
    """Two arms x two seeds x three epochs with known values."""
    rows = []
    for arm, offset in (("base", 0.0), ("wide", 0.1)):
        for seed in (0, 1):
            for epoch in (1, 2, 3):
                values = {
                    "loss": 2.0 - 0.5 * epoch - offset,
                    "accuracy": 0.2 * epoch + offset + 0.01 * seed,
                    "val_loss": 1.8 - 0.3 * epoch,
                    "val_accuracy": 0.15 * epoch + offset - 0.02 * seed,
                    "seconds": (30.0 if epoch == 1 else 10.0) + seed,
                }  # epoch 1 compiles
                rows += [{"arm": arm, "seed": seed, "epoch": epoch, "metric": m, "value": v} for m, v in values.items()]
    return pd.DataFrame(rows)


def test_seeds_for():
    assert experiments.seeds_for(3, 4) == [3, 4, 5, 6]


def test_data_description_counts_test_images_once_when_they_validate():
    from types import SimpleNamespace

    ds = SimpleNamespace(name="CIFAR-10", x_train=np.zeros((5, 32, 32, 3)))
    splits = SimpleNamespace(
        sizes={"train": 50_000, "val": 10_000, "test": 10_000}, leaks_test=True, protocol="Reference protocol."
    )
    text = report.data_description(ds, splits)
    assert "50,000 training and 10,000 test images (the test images also serve as validation data)" in text
    assert "10,000 validation" not in text


def test_protocol_warning_only_when_the_test_set_validates():
    from types import SimpleNamespace

    leak = SimpleNamespace(leaks_test=True, protocol="The test set is the validation set.")
    assert report.protocol_warning(leak).startswith("```{danger}") and leak.protocol in report.protocol_warning(leak)
    assert report.protocol_warning(SimpleNamespace(leaks_test=False, protocol="holdout")) == ""


def test_confusion_text_names_pairs_of_validation_matrices_only():
    cm = np.diag([5, 5, 5])
    cm[2, 0] = 4  # four "c" predicted as "a"
    text = report.confusion_text({"m: training": np.diag([9, 9, 9]), "m: validation": cm}, ["a", "b", "c"])
    assert text.count("\n") == 0 and text.startswith("- m: validation: ") and "c predicted as a (4 images" in text
