"""The first-run estimate counts the training runs the real chapters ask for: arms x repeats (x sizes
for a learning curve), each arm with its own epochs and training images. The expected runs below are
worked out by hand from params/<id>.yaml and params/profiles/*.yaml, not by the code under test."""

from __future__ import annotations

import pytest

from coursebook.book import estimates
from coursebook.book.params import resolve
from coursebook.course import registration
from tests.conftest import DEEP_LEARNING, imported_by

# chapter, profile -> (training runs, epochs x images summed over the runs)
EXPECTED = {
    # 2 arms x 3 repeats (quick), 5 epochs of 3,000 images each
    ("e4742-p1a-extra-conv-layer", "quick"): (6, 6 * 5 * 3000),
    # 2 arms x 3 repeats, 20 epochs of 40,000 images (50,000 less the 20% validation split)
    ("e4742-p1a-extra-conv-layer", "full"): (6, 6 * 20 * 40_000),
    # a learning curve: sizes 500, 1,000, 2,000, 4,000 x 1 repeat, 10 epochs (at most)
    ("q6-p5-data-subset", "quick"): (4, 10 * (500 + 1000 + 2000 + 4000)),
    # sizes 2,500 ... 40,000 x 3 repeats, 40 epochs
    ("q6-p5-data-subset", "full"): (15, 3 * 40 * (2500 + 5000 + 10_000 + 20_000 + 40_000)),
    # sizes 100, 200 x 2 repeats, 2 epochs
    ("q6-p5-data-subset", "smoke"): (4, 2 * 2 * (100 + 200)),
    # 3 arms x 3 repeats, 10 epochs of 3,000 images (its LeNet-5 arm is aml-p3-lenet5's: 10 epochs too)
    ("aml-p3-dropout-vs-bn", "quick"): (9, 9 * 10 * 3000),
    # 2 arms (E and H) x 2 repeats, 10 epochs of 1,500 images
    ("a12-h-batch-norm", "quick"): (4, 4 * 10 * 1500),
    # the feed-forward walkthrough: no arms, one model, 10 epochs of 4,000 images
    ("aml-p2-mlp", "quick"): (1, 10 * 4000),
    ("aml-p2-mlp", "full"): (1, 20 * 40_000),
    # nothing is trained
    ("e4742-p1b-parameter-count", "full"): (0, 0),
    ("aml-p1-backprop", "quick"): (0, 0),
}


@pytest.mark.parametrize(("chapter", "profile"), sorted(EXPECTED))
def test_training_runs_of_the_real_chapters(chapter, profile):
    runs = registration.training_runs(resolve(chapter, profile, {}).values)
    count, images = EXPECTED[chapter, profile]
    assert len(runs) == count
    assert sum(epochs * n for epochs, n, _ in runs) == pytest.approx(images)


def test_seconds_follow_the_runs(monkeypatch):
    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
    values = resolve("e4742-p1a-extra-conv-layer", "quick", {}).values
    runs = registration.training_runs(values)  # 3 of each arm, 5 epochs of 3,000 images
    expected = estimates.START_UP_SECONDS + sum(estimates.RUN_SECONDS + 5 * 3000 * cost / 1000.0 for *_, cost in runs)
    assert estimates.from_parameters(values) == pytest.approx(expected)


def test_an_arm_keeps_its_own_epochs_and_images():
    values = {
        "epochs": 10,
        "train_size": 1000,
        "repeats": 2,
        "arms": [{"name": "a", "model": "m"}, {"name": "b", "model": "m", "epochs": 3, "train_size": 200}],
    }
    runs = sorted(run[:2] for run in registration.training_runs(values))
    assert runs == [(3, 200.0), (3, 200.0), (10, 1000.0), (10, 1000.0)]


def test_runs_read_from_the_store_cost_nothing(monkeypatch):
    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
    monkeypatch.setattr(registration, "run_cost", lambda setting, images, values: 1.0)  # 6 equal runs
    values = resolve("e4742-p1a-extra-conv-layer", "quick", {}).values
    per_run = estimates.RUN_SECONDS + 5 * 3000 / 1000.0
    assert estimates.from_parameters(values, read=2) == pytest.approx(estimates.START_UP_SECONDS + 4 * per_run)
    assert estimates.from_parameters(values, read=6) == pytest.approx(estimates.START_UP_SECONDS)


def test_a_last_run_that_read_runs_is_scaled_to_what_this_one_reads(monkeypatch, tmp_path):
    from coursebook.book import cache

    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
    monkeypatch.setattr(registration, "run_cost", lambda setting, images, values: 1.0)
    values = resolve("e4742-p1a-extra-conv-layer", "quick", {}).values
    for read_before in (None, 0, 3):  # a record without runs, one that trained all, one that read 3
        record = {"profile": "quick", "seconds": 100.0, "parameters": values, "runs_read": read_before}
        monkeypatch.setattr(cache, "read_record", lambda chapter, record=record: record)
        seconds, basis = estimates.estimate("e4742-p1a-extra-conv-layer", "quick", values, read=0)
        start, per_run = estimates.START_UP_SECONDS, estimates.RUN_SECONDS + 15.0
        recorded = start + (6 - (read_before or 0)) * per_run
        assert basis == "last run" and seconds == pytest.approx(100.0 * (start + 6 * per_run) / recorded)


# chapters in build order with their estimates (seconds): 1 h, 30 min, 2 h, 10 min
PLANNED = [("alpha", 3600.0), ("beta", 1800.0), ("gamma", 7200.0), ("delta", 600.0)]


@pytest.mark.parametrize(
    ("hours", "jobs", "fits", "seconds"),
    [
        (3, 1, ["alpha", "beta"], 5400.0),  # gamma would end at 3.5 h: delta (10 min) waits behind it
        (1.5, 1, ["alpha", "beta"], 5400.0),  # ends exactly at the session's end
        (3.5, 1, ["alpha", "beta", "gamma"], 12600.0),
        (0.5, 1, [], 0.0),
        (1.75, 2, ["alpha", "beta", "gamma"], 6300.0),  # two at a time: half of each, (3600 + 1800 + 7200) / 2
        (24, 1, ["alpha", "beta", "gamma", "delta"], 13200.0),
    ],
)
def test_the_chapters_a_session_finishes(hours, jobs, fits, seconds):
    assert estimates.session_fit(PLANNED, hours * 3600, jobs) == (fits, seconds)


def test_the_session_line_names_what_fits_and_how_many_wait():
    assert estimates.session_text(PLANNED, 3 * 3600) == (
        "a session of 3:00:00, by the estimates above, finishes 2 of the 4 chapter(s) to execute (~1:30:00): "
        "alpha, beta; the other 2 wait for a later build, which reuses what finished (a chapter cut short keeps "
        "its finished training runs)"
    )
    assert estimates.session_text(PLANNED, 24 * 3600) == (
        "a session of 24:00:00 fits all 4 chapter(s) to execute (~3:40:00 by the estimates above)"
    )
    assert estimates.session_text(PLANNED, 1800).startswith(
        "a session of 30:00, by the estimates above, finishes none of the 4 chapter(s) to execute; all wait"
    )
    assert estimates.session_text([], 3600) == "a session of 1:00:00: nothing to execute"


@pytest.mark.parametrize("value", ["0", "-1", "four", "inf", "nan"])
def test_a_session_that_is_not_a_positive_number_of_hours_is_one_line(value, capsys):
    from coursebook.book import cli

    assert cli.main(["status", "--profile", "smoke", "--session", value]) == 2
    assert capsys.readouterr().err == (
        f"error: command line: key 'session' (--session, SESSION=): value {value!r} is not allowed "
        "(expected a number of hours > 0, e.g. 4 or 1.5)\n"
    )


# Median seconds of an epoch measured in the two quick builds of 4079c60 on a 2-core CPU (docs/benchmarks.md: the
# sample, 517 validation images; CIFAR-10's sizes, 1,000): model, batch, training images -> (sample, CIFAR)
MEASURED_EPOCHS = {
    ("aml-mlp", 32, 4000): (0.67, 0.91),
    ("aml-lenet5", 32, 3000): (0.77, 0.70),
    ("aml-lenet5-batchnorm", 32, 3000): (2.11, 1.94),
    ("e4742-original", 64, 3000): (2.48, 2.17),
    ("e4742-batchnorm", 64, 3000): (5.07, 4.61),
    ("a12-baseline", 32, 1500): (4.01, 3.46),
    ("q6-simple-cnn", 32, 1500): (4.17, 4.18),
    ("q6-bn-dropout", 32, 500): (2.19, 1.65),
    ("q6-bn-dropout", 32, 4000): (6.63, 6.50),
}


@pytest.mark.parametrize(("model", "batch", "images"), sorted(MEASURED_EPOCHS))
def test_an_images_seconds_are_within_a_factor_of_two_of_measured_epochs(model, batch, images):
    """An epoch: its training images, then its validation images and the 500-image probe in inference
    mode and, for a batch-norm model, 1,024 images that recompute its statistics, each a third of a
    training image."""
    from coursebook.course import models

    recompute = 1024 if any(layer.type == "batchnorm" for layer in models.as_spec(model).layers) else 0
    for validated, measured in zip((517, 1000), MEASURED_EPOCHS[model, batch, images], strict=True):
        estimated = models.image_seconds(model, batch) * (images + (validated + 500 + recompute) / 3)
        assert 0.5 < estimated / measured < 2, (validated, estimated, measured)


def test_batch_normalization_and_smaller_batches_cost_more_per_image():
    """Same FLOPs, twice the measured epoch (above): the cost counts what batch normalization adds."""
    from coursebook.course import models

    assert models.forward_flops("e4742-batchnorm") == models.forward_flops("e4742-original")
    assert models.image_seconds("e4742-batchnorm", 64) > 1.3 * models.image_seconds("e4742-original", 64)
    assert models.image_seconds("e4742-original", 32) > models.image_seconds("e4742-original", 64)


def test_a_runs_cost_counts_each_epochs_evaluation_at_a_third_of_a_training_image():
    """Each epoch of 3,000 training images also validates 1,000 images (of 5,000 held out) and probes
    500: 3,000 + 1,500 / 3 training images' worth; with ``monitor_images: 100``, 3,000 + 600 / 3; a
    batch-norm model recomputing its statistics adds 1,024 / 3. Without a model (or one that does not
    load), an image costs one at the assumed throughput."""
    from coursebook.course import models

    values = {"validation_fraction": 0.1, "validation_size": 1000}
    setting = {"model": "e4742-original", "batch_size": 64, "monitor_images": None, "batch_norm": "recompute"}
    cost = registration.run_cost(setting, 3000.0, values)
    assert cost == pytest.approx(models.image_seconds("e4742-original", 64) * 1100 * 10_500 / 9000)
    assert registration.run_cost({**setting, "monitor_images": 100}, 3000.0, values) / cost == pytest.approx(
        9600 / 10_500
    )
    with_statistics = registration.run_cost({**setting, "model": "e4742-batchnorm"}, 3000.0, values)
    moving = registration.run_cost({**setting, "model": "e4742-batchnorm", "batch_norm": "moving"}, 3000.0, values)
    assert with_statistics / moving == pytest.approx((10_500 + 1024) / 10_500)
    assert registration.run_cost({**setting, "model": None}, 3000.0, values) == 1.0
    assert registration.run_cost({**setting, "model": "no-such-model"}, 3000.0, values) == 1.0


def test_estimating_a_chapter_imports_no_deep_learning_backend():
    """make status and the build's announcement estimate every chapter before any kernel starts: the
    estimate must not cost the planning process a TensorFlow import."""
    code = (
        "from coursebook.book import estimates; from coursebook.book.params import resolve; "
        "estimates.from_parameters(resolve('q6-p4-bn-dropout', 'quick', {}).values)"
    )
    assert imported_by(code, (*DEEP_LEARNING, "sklearn")) == []
