"""The first-run estimate counts the training runs the real chapters ask for: arms x repeats (x sizes
for a learning curve), each arm with its own epochs and training images. The expected runs below are
worked out by hand from params/<id>.yaml and params/profiles/*.yaml, not by the code under test."""

from __future__ import annotations

import pytest

from coursebook.book import estimates
from coursebook.book.params import resolve
from coursebook.course import registration

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
    assert sum(epochs * n for epochs, n in runs) == pytest.approx(images)


def test_seconds_follow_the_runs(monkeypatch):
    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
    values = resolve("e4742-p1a-extra-conv-layer", "quick", {}).values
    expected = estimates.START_UP_SECONDS + 6 * (estimates.RUN_SECONDS + 5 * 3000 / 1000.0)
    assert estimates.from_parameters(values) == pytest.approx(expected)


def test_an_arm_keeps_its_own_epochs_and_images():
    values = {
        "epochs": 10,
        "train_size": 1000,
        "repeats": 2,
        "arms": [{"name": "a", "model": "m"}, {"name": "b", "model": "m", "epochs": 3, "train_size": 200}],
    }
    assert sorted(registration.training_runs(values)) == [(3, 200.0), (3, 200.0), (10, 1000.0), (10, 1000.0)]


def test_runs_read_from_the_store_cost_nothing(monkeypatch):
    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
    values = resolve("e4742-p1a-extra-conv-layer", "quick", {}).values
    per_run = estimates.RUN_SECONDS + 5 * 3000 / 1000.0  # 6 equal runs
    assert estimates.from_parameters(values, read=2) == pytest.approx(estimates.START_UP_SECONDS + 4 * per_run)
    assert estimates.from_parameters(values, read=6) == pytest.approx(estimates.START_UP_SECONDS)


def test_a_last_run_that_read_runs_is_scaled_to_what_this_one_reads(monkeypatch, tmp_path):
    from coursebook.book import cache

    monkeypatch.setattr(estimates, "throughput", lambda: (1000.0, "assumed"))
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
