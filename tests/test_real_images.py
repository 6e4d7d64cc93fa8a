"""On real CIFAR-10 images (the 5,170-image sample in ../shared; skipped where it is absent): the
sample is recognized by its md5 and named for what it is, and a batch-norm model that fits its
training batches is evaluated with statistics that match its weights."""

from __future__ import annotations

import shutil

import pytest

from coursebook.course import data, experiments, learned
from coursebook.course.data import cifar10


def test_the_sample_is_recognized_by_its_md5_and_named_a_sample(real_sample):
    dataset = data.load_dataset("cifar10", download=False)
    assert dataset.name == "5,170-image sample of CIFAR-10" and not dataset.is_synthetic
    assert (len(dataset.x_train), len(dataset.x_test)) == (5170, 1017)
    assert dataset.fingerprint == "02c1c2c95b4c4fef3b3e85624979a496"
    names = [dataset.class_names[label] for label in dataset.y_test[:5, 0]]
    assert names == ["cat", "ship", "ship", "airplane", "frog"]  # the official test batch begins so


def test_any_other_archive_still_needs_the_official_md5(real_sample, tmp_path, monkeypatch):
    altered = tmp_path / "data" / "cifar-10-python.tar.gz"
    altered.parent.mkdir()
    shutil.copy(real_sample / "cifar-10-python.tar.gz", altered)
    with open(altered, "ab") as stream:
        stream.write(b"\0")  # gzip ignores trailing bytes, the md5 does not
    monkeypatch.setenv("COURSEBOOK_DATA", str(altered.parent))
    with pytest.raises(data.DataError, match=f"expected {cifar10.OFFICIAL_MD5}: it is damaged or not the official"):
        data.load_dataset("cifar10", download=False)


def train_batch_norm_model(mode: str):
    arm = {
        "name": "with batch norm",
        "model": "e4742-batchnorm",
        "epochs": 3,
        "batch_size": 64,
        "train_size": 2000,
        "batch_norm": mode,
    }
    experiment = experiments.prepare(None, [arm], data="cifar10", seed=0, validation_fraction=0.1, test_size=500)
    return experiment.train(verbose=0).arms[0].runs[0]


def test_batch_norm_learns_on_real_images_when_its_statistics_match_its_weights(real_sample):
    recomputed, moving = train_batch_norm_model("recompute"), train_batch_norm_model("moving")
    # The same seed trains the same weights: only the statistics used at evaluation differ.
    assert recomputed.history["accuracy"] == pytest.approx(moving.history["accuracy"], abs=0.02)
    threshold = learned.chance_threshold(10, 517)
    assert recomputed.learned and recomputed.validation["accuracy"] > threshold + 0.1
    assert recomputed.training["accuracy"] > recomputed.history["accuracy"][-1] - learned.MISMATCH_GAP
    # Keras' moving averages after 90 steps: the collapse the pages once called over-fitting
    assert moving.training["accuracy"] < moving.history["accuracy"][-1] - learned.MISMATCH_GAP
    assert not moving.learned and moving.failure_cause.startswith("train/inference mismatch (batch normalization")


def test_a_page_built_on_the_sample_says_so_and_its_runs_carry_their_verdicts(real_sample, tmp_path):
    import json
    import subprocess

    from tests.road import fresh_clone, origin_repository, user_env

    clone = fresh_clone(origin_repository(tmp_path / "origin"), tmp_path / "clone")
    chapter = "e4742-p2-batch-norm"
    built = subprocess.run(
        ["make", "--no-print-directory", "run", f"CHAPTER={chapter}", "PROFILE=smoke"],
        cwd=clone,
        env=user_env(COURSEBOOK_DATA=str(real_sample)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    results = json.loads((clone / "book" / "chapters" / f"{chapter}.results.json").read_text())
    assert results["dataset"]["name"] == "5,170-image sample of CIFAR-10" and not results["dataset"]["synthetic"]
    runs = [run for arm in results["arms"] for run in arm["runs"]]
    assert all(
        isinstance(run["learned"], bool) and run["learned_rule"] and set(run["training"]) == {"loss", "accuracy"}
        for run in runs
    )
    page = (clone / "_build" / "html" / "book" / "chapters" / f"{chapter}.html").read_text(encoding="utf-8")
    assert "Computed on a 5,170-image sample of CIFAR-10" in page and "Synthetic data" not in page
    assert "Settings reduced from the assignment" in page  # smoke's epochs and sizes, said on the page
