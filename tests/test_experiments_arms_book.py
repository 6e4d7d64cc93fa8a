"""Done-when for arms: the runner executes a comparison chapter whose arms differ in early stopping,
augmentation and a best checkpoint (smoke profile, synthetic data, in a copy of the project); its
results file is valid, and for every run the page and the file report the same evaluated epoch,
whose metrics are the history's at that epoch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursebook.book import paths
from coursebook.course.results import Results

CHAPTER = "arms-check"
TOP_LEVEL_OUTPUTS = {".git", ".venv", "_build", ".cache", "data"}
ANYWHERE = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def _sources_only(directory: str, names: list[str]) -> set[str]:
    """As in a fresh clone: no environment, builds, data or executed chapters."""
    here = Path(directory).resolve()
    skip = set(names) & ANYWHERE
    if here == paths.ROOT:
        skip |= set(names) & TOP_LEVEL_OUTPUTS
    if here == paths.BOOK_DIR:
        skip |= set(names) & {"chapters"}
    return skip


TINY_MODEL = """\
title: Tiny CNN
source: tests
input_shape: [32, 32, 3]
layers:
  - conv: {filters: 4, kernel: 3, activation: relu}
  - maxpool: {size: 4}
  - flatten
  - dense: {units: num_classes, activation: softmax}
"""
# min_delta 10 on a loss near 2.3: no epoch after the first can improve, so with patience 1 early
# stopping ends training after epoch 2 and restores epoch 1, whatever the data.
PARAMS = """\
notebook: compare-models.ipynb
title: Arms check
parameters:
  question: Does the page report the epoch whose weights were evaluated?
  arms:
    - {name: plain, model: tiny-cnn}
    - {name: early stop, model: tiny-cnn, epochs: 4,
       early_stopping: {monitor: val_loss, patience: 1, min_delta: 10}}
    - name: augmented best
      model: tiny-cnn
      epochs: 3
      train_size: 300
      augmentation: [{rotation: {factor_degrees: 10}}, {translation: {height: 0.1, width: 0.1}}, flip]
      checkpoint: {monitor: val_accuracy}
  batch_size: 50
  seed: 0
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Results, str]:
    """The results file and the executed page's text outputs of the chapter, built by the runner."""
    project = tmp_path_factory.mktemp("arms") / "project"
    shutil.copytree(paths.ROOT, project, ignore=_sources_only)
    (project / "params" / "models" / "tiny-cnn.yaml").write_text(TINY_MODEL)
    (project / "params" / f"{CHAPTER}.yaml").write_text(PARAMS)
    env = {k: v for k, v in os.environ.items() if k != "COURSEBOOK_ROOT"}
    env |= {"PYTHONPATH": str(project), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coursebook",
            "build",
            "--profile",
            "smoke",
            "--data",
            "synthetic",
            "--chapter",
            CHAPTER,
            "--no-html",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    chapters = project / "book" / "chapters"
    page = nbformat.read(chapters / f"{CHAPTER}.ipynb", as_version=4)
    return Results.load(chapters / f"{CHAPTER}.results.json"), _text_outputs(page)


def _text_outputs(nb) -> str:
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts.append(output.get("text", "") + data.get("text/markdown", "") + data.get("text/html", ""))
    return "\n".join(texts)


def test_the_file_holds_every_arm_with_every_seed_and_its_effective_settings(built):
    results, _ = built
    assert results.chapter == CHAPTER and results.profile == "smoke" and results.dataset.synthetic
    assert results.arm_names == ["plain", "early stop", "augmented best"]
    assert all([run.seed for run in arm.runs] == [0, 1] for arm in results.arms)  # smoke: 2 repeats
    # the profile's epochs (2) reach the arm that sets none; an arm's own epochs win
    assert [arm.settings["epochs"] for arm in results.arms] == [2, 4, 3]
    assert [arm.settings["train_size"] for arm in results.arms] == [500, 500, 300]  # the smoke profile's, the arm's
    assert results.arm("augmented best").settings["checkpoint"] == {"monitor": "val_accuracy", "mode": "max"}
    for arm in results.arms:
        for run in arm.runs:  # augmentation does not rename the recorded metrics
            assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "eval_loss", "eval_accuracy"}, (
                arm.name
            )
            # every part's accuracy (inference mode, evaluated weights) is its confusion matrix's diagonal share
            for part in ("training", "validation", "test"):
                matrix = np.asarray(run.confusion[part])
                assert getattr(run, part)["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-12)
            assert run.learned == (run.failure_cause == "") and run.learned_rule.startswith("validation accuracy")


def test_every_arm_trains_on_its_own_training_images_and_is_evaluated_on_the_same_others(built):
    results, _ = built
    for arm in results.arms:
        for run in arm.runs:
            sizes = {part: int(np.sum(matrix)) for part, matrix in run.confusion.items()}
            assert sizes == {
                "training": arm.settings["train_size"],
                "validation": results.dataset.sizes["validation"],
                "test": results.dataset.sizes["test"],
            }, (arm.name, run.seed)
    reports = [run.classification_report for arm in results.arms for run in arm.runs]  # the same test images
    assert all(report[c]["support"] == reports[0][c]["support"] for report in reports for c in report)


def test_early_stopping_stops_after_patience_and_evaluates_the_restored_epoch(built):
    results, page = built
    runs = results.arm("early stop").runs
    for run in runs:
        assert (run.stopped_epoch, run.evaluated_epoch) == (2, 1)
    which = "every run" if len(runs) > 1 else "the run"
    assert (
        f"**early stop**: early stopping ended {which} after epoch {', '.join('2' for _ in runs)} of 4 "
        "(val_loss did not improve for 1 epoch)"
    ) in page


def test_the_checkpoint_evaluates_the_first_epoch_with_the_best_validation_accuracy(built):
    results, _ = built
    for run in results.arm("augmented best").runs:
        assert run.stopped_epoch == 3
        assert run.evaluated_epoch == int(np.argmax(run.history["val_accuracy"])) + 1


def test_every_run_reports_its_evaluated_epoch_on_the_page_and_its_metrics_match_the_history(built):
    results, page = built
    for arm in results.arms:
        shown = re.search(
            rf"^- \*\*{re.escape(arm.name)}\*\*: .*; evaluated epoch(?: per run)?: ([\d, ]+) \(", page, re.M
        )
        assert shown and [int(e) for e in shown[1].split(", ")] == [run.evaluated_epoch for run in arm.runs], arm.name
        for run in arm.runs:
            epoch = run.evaluated_epoch - 1
            assert run.validation["loss"] == pytest.approx(run.history["val_loss"][epoch], rel=1e-5)
            assert run.validation["accuracy"] == pytest.approx(run.history["val_accuracy"][epoch], abs=1e-6)
            for part in ("validation", "test"):  # the matrices describe the same evaluated weights
                matrix = np.asarray(run.confusion[part])
                assert matrix.sum() == results.dataset.sizes[part]
                assert np.trace(matrix) / matrix.sum() == pytest.approx(getattr(run, part)["accuracy"], abs=1e-6)
            test = np.asarray(run.confusion["test"])
            recalls = [run.classification_report[name]["recall"] for name in results.dataset.class_names]
            assert recalls == pytest.approx(np.diag(test) / test.sum(axis=1), abs=1e-12)


def summary_column(page: str, arm: str) -> dict[str, str]:
    """One arm's column of the page's summary table (measures as rows, arms as columns): measure -> cell."""
    from bs4 import BeautifulSoup

    table = next(
        t
        for t in BeautifulSoup(page, "html.parser").find_all("table")
        if any(cell.get_text(strip=True) == "evaluated epoch" for cell in t.find_all("td"))
    )
    heads = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
    rows = [
        [cell.get_text(strip=True) for cell in tr.find_all(["td", "th"])] for tr in table.find("tbody").find_all("tr")
    ]
    return {row[0]: row[heads.index(arm)] for row in rows}


def test_the_summary_table_lists_the_evaluated_epochs_and_the_values_at_them(built):
    results, page = built
    early = results.arm("early stop")
    column = summary_column(page, "early stop")
    measures = list(column)
    # runs, epochs trained per run, evaluated epoch per run, then the metrics at that epoch
    assert (column["runs"], column["epochs trained"], column["evaluated epoch"]) == ("2", "2, 2", "1, 1")
    # validation accuracy, validation loss, training accuracy and loss (inference mode), running training accuracy
    expected = [
        [run.history["val_accuracy"][0] for run in early.runs],
        [run.history["val_loss"][0] for run in early.runs],
        [run.training["accuracy"] for run in early.runs],
        [run.training["loss"] for run in early.runs],
        [run.history["accuracy"][0] for run in early.runs],
    ]
    after = measures[measures.index("evaluated epoch") + 1 :]
    for measure, values in zip(after[:5], expected, strict=True):
        assert column[measure] == f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}", measure
