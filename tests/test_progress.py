"""Live progress: the kernel reports epochs, the runner shows them (plain lines off a terminal)."""

from __future__ import annotations

import json
import re

import pytest

from coursebook.book import cache, estimates, progress, runner
from tests.conftest import write_notebook

SIMPLE = "seed = 0  # [0, ] seed\nepochs = 2  # [1, 100] epochs"
REPORTING = """\
from coursebook.book import progress
for run, arm in enumerate(["small", "large"], start=1):
    with progress.labels(arm=arm, seed=seed, run=run, runs=2):
        for epoch in range(1, epochs + 1):
            progress.report("epoch", epoch=epoch, epochs=epochs, seconds=2.0)
print("trained")
"""


def test_a_chapter_reports_its_epochs_as_timestamped_lines_off_a_terminal(mini_project, capfd):
    write_notebook(mini_project / "notebooks" / "train.ipynb", SIMPLE, REPORTING)
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\n")
    lines: list[str] = []
    summary = runner.execute_all([runner.plan_chapter("alpha", "quick", None)], log=lines.append, live=False)
    assert [o.status for o in summary.outcomes] == ["executed"], summary.outcomes
    shown = [line for line in lines if re.match(r"^  \[\d\d:\d\d:\d\d\] alpha", line)]
    assert len(shown) == 1 + 2 * 2  # the start, then every epoch of both runs
    assert re.search(r"alpha · running · \d+:\d\d elapsed", shown[0])
    # run 1 of 2, epoch 1 of 2 done at 2 s per epoch: 1 epoch of this run and 2 of the next are left
    assert re.search(r"alpha · small seed 0 \(run 1/2\) · epoch 1/2 · \d+:\d\d elapsed · ~0:06 left$", shown[1])
    assert re.search(r"alpha · large seed 0 \(run 2/2\) · epoch 1/2 · \d+:\d\d elapsed · ~0:02 left$", shown[-2])
    # after the last epoch: the estimate (no earlier run: the throughput model) less the time elapsed
    assert re.search(
        r"alpha · large seed 0 \(run 2/2\) · training done, evaluating · \d+:\d\d elapsed · ~\d+:\d\d left$", shown[-1]
    )
    printed = capfd.readouterr()
    # ipykernel's start-up warning is written, but to the kernel's log, not to the console
    assert "without encryption" in (mini_project / "_build" / "logs" / "alpha.kernel.log").read_text()
    assert "without encryption" not in printed.out + printed.err


def test_an_experiment_reports_every_epoch_with_arm_seed_and_run(tmp_path, monkeypatch):
    from coursebook.course import arms, data, experiments

    target = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.RUN_ENV, json.dumps({"chapter": "alpha", "progress_file": str(target)}))
    dataset = data.load_dataset("synthetic", synthetic_sizes=(120, 20), cache_dir=tmp_path / "cache")
    effective = arms.check_arms(
        [{"name": "a", "model": "e4742-original"}, {"name": "b", "model": "e4742-original", "learning_rate": 0.01}],
        {"epochs": 2, "batch_size": 32},
        where="test",
    )
    splits = data.preprocess(data.make_splits(dataset, validation_fraction=0.2, seed=0), scaling="unit", one_hot=True)
    experiments.Experiment(dataset, splits, effective, seeds=[3, 4]).train(verbose=0)
    events, _ = progress.read_events(target, 0)
    epochs = [
        (e["arm"], e["seed"], e["run"], e["runs"], e["epoch"], e["epochs"]) for e in events if e["event"] == "epoch"
    ]
    assert epochs == [
        ("a", 3, 1, 4, 1, 2),
        ("a", 3, 1, 4, 2, 2),
        ("b", 3, 2, 4, 1, 2),
        ("b", 3, 2, 4, 2, 2),
        ("a", 4, 3, 4, 1, 2),
        ("a", 4, 3, 4, 2, 2),
        ("b", 4, 4, 4, 1, 2),
        ("b", 4, 4, 4, 2, 2),
    ]
    assert all(e["seconds"] > 0 for e in events if e["event"] == "epoch")


def test_reporting_without_a_progress_file_does_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.RUN_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.report("epoch", epoch=1, epochs=2)
    assert not progress.active() and list(tmp_path.iterdir()) == []


def test_time_left_before_the_first_epoch_comes_from_the_estimate():
    state = progress.ChapterProgress("alpha", started=100.0, estimate=90.0)
    assert state.left(now=130.0) == 60.0
    assert state.line(130.0) == "alpha · running · 0:30 elapsed · ~1:00 left"
    assert progress.clock(3725) == "1:02:05"


def test_a_torn_last_line_waits_for_its_end(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"event": "start", "time": 1}\n{"event": "ep')
    events, offset = progress.read_events(path, 0)
    assert events == [{"event": "start", "time": 1}] and offset == len('{"event": "start", "time": 1}\n')


def test_estimate_from_the_last_run_scaled_by_the_parameters(mini_project):
    values = {"epochs": 4, "train_size": 1000, "repeats": 1}
    record = {"profile": "quick", "seconds": 100.0, "parameters": {"epochs": 2, "train_size": 1000, "repeats": 1}}
    cache.atomic_write_text(cache.record_path("alpha"), json.dumps(record))
    rate = estimates.CPU_IMAGES_PER_SECOND
    base, per_run = estimates.START_UP_SECONDS, estimates.RUN_SECONDS
    old, new = base + per_run + 2 * 1000 / rate, base + per_run + 4 * 1000 / rate
    seconds, basis = estimates.estimate("alpha", "quick", values)
    assert basis == "last run" and seconds == pytest.approx(100.0 * new / old, rel=1e-12)  # float rounding only
    # another profile's run says nothing: the throughput model, two arms, three repeats
    many = {
        "epochs": 5,
        "train_size": 2200,
        "repeats": 3,
        "arms": [{"name": "a", "model": "a"}, {"name": "b", "model": "b"}],
    }
    seconds, basis = estimates.estimate("alpha", "full", many)
    assert basis == "estimated" and seconds == pytest.approx(base + 6 * (per_run + 5 * 2200 / rate), rel=1e-12)


def test_time_left_uses_the_time_between_runs_once_two_runs_ended():
    state = progress.ChapterProgress("alpha", started=0.0)
    events = [(10.0, 1, 1), (12.0, 1, 2), (40.0, 2, 1), (42.0, 2, 2), (70.0, 3, 1)]  # (time, run, epoch)
    for t, run, epoch in events:
        state.apply(
            {
                "event": "epoch",
                "time": t,
                "arm": "a",
                "seed": 0,
                "run": run,
                "runs": 4,
                "epoch": epoch,
                "epochs": 2,
                "seconds": 2.0,
            }
        )
    # runs take 30 s (end to end); run 3 started at 42 s, so at 50 s it has 22 s left, and run 4 takes 30 s
    assert state.left(now=50.0) == 22.0 + 30.0
