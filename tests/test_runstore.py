"""The run store: a run is trained once and read everywhere else, a damaged entry is trained again,
two kernels that need one run train it once, an interrupted chapter resumes at its runs, and the
book says what it will train and read."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from coursebook.course import arms as arms_module, experiments, results, runstore
from tests import factories

SETTINGS = {**factories.SETTINGS, "model": "a12-baseline", "epochs": 4}
DATA = runstore.data_inputs("fp-1", "holdout", 0.1, 1000, "unit", 0)


def fake_run(seed: int) -> tuple[results.Run, dict[str, int]]:
    """A trained run as the trainer hands it back (its numbers depend on the seed)."""
    return results.build_run(factories.run(seed, val=0.3 + seed / 100)), {
        "total": 10,
        "trainable": 10,
        "non_trainable": 0,
    }


def counting_jobs(seeds, calls: list[int], settings=SETTINGS, data=DATA, fail_at: int | None = None):
    def trainer(seed):
        def train():
            if fail_at is not None and len(calls) == fail_at:
                raise KeyboardInterrupt  # Ctrl-C while this run trains
            calls.append(seed)
            return fake_run(seed)

        return train

    return [runstore.Job(runstore.RunInputs(settings, seed, data), trainer(seed), seed) for seed in seeds]


# --------------------------------------------------------------------------- keys


def test_the_key_changes_with_everything_that_determines_a_run_and_with_nothing_else(tmp_path):
    base = runstore.RunInputs(SETTINGS, 0, DATA)
    key = base.key("code", {"keras": "3"})
    variants = [
        runstore.RunInputs({**SETTINGS, "epochs": 5}, 0, DATA),
        runstore.RunInputs({**SETTINGS, "learning_rate": 0.01}, 0, DATA),
        runstore.RunInputs({**SETTINGS, "model": "a12-batchnorm"}, 0, DATA),
        runstore.RunInputs(SETTINGS, 1, DATA),
        runstore.RunInputs(SETTINGS, 0, {**DATA, "fingerprint": "fp-2"}),
        runstore.RunInputs(SETTINGS, 0, {**DATA, "split_seed": 1}),
        runstore.RunInputs(SETTINGS, 0, {**DATA, "test_size": 500}),
    ]
    keys = {variant.key("code", {"keras": "3"}) for variant in variants}
    assert len(keys) == len(variants) and key not in keys
    assert base.key("other code", {"keras": "3"}) != key and base.key("code", {"keras": "3.1"}) != key
    renamed = runstore.RunInputs({**SETTINGS, "name": "E: baseline", "source_chapter": "x"}, 0, DATA)
    assert renamed.key("code", {"keras": "3"}) == key  # a label changes no number


def test_a_model_spec_enters_the_key_by_its_content_not_its_layout(tmp_path, monkeypatch):
    from coursebook.course import models

    spec = tmp_path / "m.yaml"
    monkeypatch.setattr(models, "_spec_path", lambda name: spec)
    spec.write_text("title: M\nlayers: [flatten, {dense: {units: 4}}]\n")
    first = runstore.RunInputs(SETTINGS, 0, DATA).key("c", {})
    spec.write_text("# a comment\ntitle: M\nlayers:\n  - flatten\n  - dense: {units: 4}\n")
    assert runstore.RunInputs(SETTINGS, 0, DATA).key("c", {}) == first
    spec.write_text("title: M\nlayers: [flatten, {dense: {units: 5}}]\n")
    assert runstore.RunInputs(SETTINGS, 0, DATA).key("c", {}) != first


def test_the_code_digest_follows_the_training_code_only(tmp_path, monkeypatch):
    from coursebook.book import paths

    package = tmp_path / "coursebook"
    for entry in runstore.TRAINING_CODE:
        target = package / entry / "core.py" if "." not in entry else package / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("X = 1\n")
    (package / "course" / "answers.py").write_text("A = 1\n")
    monkeypatch.setattr(paths, "PACKAGE_DIR", package)
    before = runstore.code_digest()
    (package / "course" / "answers.py").write_text("A = 2\n")  # the pages' code: no run changes
    assert runstore.code_digest() == before
    (package / "course" / "data" / "core.py").write_text("X = 2\n")
    assert runstore.code_digest() != before


# --------------------------------------------------------------------------- reading, damage


def test_a_stored_run_is_read_not_trained_and_is_the_same_run(tmp_path):
    store, calls = runstore.RunStore(tmp_path), []
    first = runstore.run_all(counting_jobs([0, 1], calls), "chapter-a", "CPU", store)
    second = runstore.run_all(counting_jobs([0, 1, 2], calls), "chapter-b", "CPU", store)
    assert calls == [0, 1, 2]  # seeds 0 and 1 trained once, by chapter-a
    assert [s.read for s in first] == [False, False] and [s.read for s in second] == [True, True, False]
    assert [s.chapter for s in second] == ["chapter-a", "chapter-a", "chapter-b"]
    assert second[0].run == first[0].run and second[1].parameters == first[1].parameters


@pytest.mark.parametrize("damage", ["a number", "a result", "truncated", "not json", "another key"])
def test_a_damaged_entry_is_trained_again_and_rewritten(tmp_path, damage):
    store, calls, warned = runstore.RunStore(tmp_path, warn=lambda line: warned.append(line)), [], []
    runstore.run_all(counting_jobs([0], calls), "a", "CPU", store)
    entry = next(tmp_path.glob("*.json"))
    text = entry.read_text()
    damaged = {
        "a number": text.replace('"seed": 0', '"seed": 7', 1),  # the inputs' seed
        "a result": text.replace('"val_accuracy": [', '"val_accuracy": [0.9, ', 1),
        "truncated": text[: len(text) // 2],
        "not json": "\x00garbage",
        "another key": text.replace(entry.stem, "0" * 64),
    }[damage]
    entry.write_text(damaged)
    again = runstore.run_all(counting_jobs([0], calls), "b", "CPU", store)
    assert calls == [0, 0] and not again[0].read
    assert len(warned) == 1 and entry.name in warned[0] and "damaged" in warned[0]
    assert store.read(entry.stem).run == again[0].run  # the entry is sound again


def test_an_entry_is_written_atomically_with_what_determined_it(tmp_path):
    store, calls = runstore.RunStore(tmp_path), []
    runstore.run_all(counting_jobs([3], calls), "a", "GPU:0", store)
    entry = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert entry["identity"]["seed"] == 3 and entry["identity"]["settings"]["epochs"] == 4
    assert entry["identity"]["data"] == DATA and entry["computed"]["device"] == "GPU:0"
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*"))


# --------------------------------------------------------------------------- concurrency, interruption


def _two_kernels_worker(directory: str, own_seed: int, log: str) -> None:
    def trainer(seed):
        def train():
            with open(log, "a") as out:
                out.write(f"{seed}\n")
            time.sleep(1.0)
            return fake_run(seed)

        return train

    jobs = [runstore.Job(runstore.RunInputs(SETTINGS, seed, DATA), trainer(seed), seed) for seed in (0, own_seed)]
    runstore.run_all(jobs, f"chapter-{own_seed}", "CPU", runstore.RunStore(Path(directory)))


def test_two_kernels_that_need_the_same_run_at_once_train_it_once(tmp_path):
    log = tmp_path / "trained.log"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_two_kernels_worker, args=(str(tmp_path / "runs"), seed, str(log))) for seed in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    trained = sorted(int(line) for line in log.read_text().split())
    assert trained == [0, 1, 2]  # the shared seed 0 once; each kernel its own run
    assert len(list((tmp_path / "runs").glob("*.json"))) == 3


def test_a_run_another_kernel_holds_is_left_for_later(tmp_path):
    store, calls = runstore.RunStore(tmp_path), []
    jobs = counting_jobs([0, 1], calls)
    busy_key = jobs[0].inputs.key(runstore.code_digest(), runstore.library_versions())
    held = store.lock(busy_key)
    held.acquire()
    try:
        import threading

        done = []
        thread = threading.Thread(target=lambda: done.append(runstore.run_all(jobs, "b", "CPU", store)))
        thread.start()
        time.sleep(1.0)
        assert calls == [1]  # seed 0 is busy elsewhere: seed 1 is trained meanwhile
        store.write(busy_key, jobs[0].inputs.identity(), runstore.Stored(*fake_run(0), "a", "CPU"))
    finally:
        held.release()
    thread.join(30)
    assert calls == [1] and done[0][0].read and done[0][0].chapter == "a"


def _experiment(monkeypatch, calls: list, fail_at: int | None = None) -> experiments.Experiment:
    def train_run(arm, splits, seed, verbose):
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        calls.append((arm["name"], seed))
        return fake_run(seed)

    monkeypatch.setattr(experiments, "_train_run", train_run)
    dataset = SimpleNamespace(name="synthetic", fingerprint="fp", is_synthetic=True)
    splits = SimpleNamespace(sizes={"train": 100, "val": 10, "test": 10}, class_names=factories.CIFAR_CLASSES)
    arms = [{"name": "E", **SETTINGS}, {"name": "H", **SETTINGS, "learning_rate": 0.01}]
    experiment = experiments.Experiment(dataset, splits, arms, [0, 1], None)
    experiment._splits[None, False] = splits
    return experiment


def test_an_interrupted_chapter_trains_only_the_runs_it_had_not_finished(monkeypatch, tmp_path):
    store, calls = runstore.RunStore(tmp_path), []
    with pytest.raises(KeyboardInterrupt):
        _experiment(monkeypatch, calls, fail_at=1).train(verbose=0, store=store)  # stopped in its second run
    assert calls == [("E", 0)]
    resumed = _experiment(monkeypatch, calls).train(verbose=0, store=store)
    assert calls == [("E", 0), ("H", 0), ("E", 1), ("H", 1)]  # E with seed 0 was not trained again
    assert [run.read_from for run in resumed.arm("E").runs] == ["a notebook run outside the book", ""]
    assert [run.seed for run in resumed.arm("H").runs] == [0, 1]


def test_the_plan_keys_the_runs_as_the_experiment_does():
    values = {
        "seed": 3,
        "repeats": 2,
        "arms": [{"name": "E", "model": "a12-baseline"}, {"name": "F", "model": "a12-baseline", "epochs": 7}],
        "epochs": 5,
        "batch_size": 32,
        "optimizer": "adam",
        "learning_rate": None,
        "train_size": 300,
        "validation": "holdout",
        "validation_fraction": 0.1,
        "test_size": 200,
    }
    experiment = experiments.prepare(
        None,
        values["arms"],
        data="synthetic",
        seed=3,
        repeats=2,
        validation="holdout",
        validation_fraction=0.1,
        test_size=200,
        epochs=5,
        batch_size=32,
        optimizer="adam",
        learning_rate=None,
        train_size=300,
    )
    executed = [experiment.run_inputs(arm, seed).key() for seed in experiment.seeds for arm in experiment.arms]
    planned = [inputs.key() for inputs in runstore.planned_runs(values, experiment.dataset.fingerprint)]
    assert planned == executed and len(set(planned)) == 4


def test_the_walkthrough_plans_its_one_model_as_the_run_its_notebook_trains():
    from coursebook.book import params

    values = params.resolve("aml-p2-mlp", "quick").values
    settings = ("epochs", "batch_size", "optimizer", "learning_rate", "train_size", "monitor_images")
    experiment = experiments.prepare(
        None,
        arms_module.one_model(values["model"]),
        data="synthetic",
        seed=values["seed"],
        scaling=values["scaling"],
        validation_fraction=values["validation_fraction"],
        validation_size=values["validation_size"],
        **{key: values[key] for key in settings},
    )
    executed = [experiment.run_inputs(arm, seed).key() for seed in experiment.seeds for arm in experiment.arms]
    planned = runstore.planned_runs(values, experiment.dataset.fingerprint)
    assert [inputs.key() for inputs in planned] == executed and len(executed) == 1
    assert planned[0].data["scaling"] == "standardize"  # the walkthrough's own scaling keys its run
    assert runstore.planned_runs({**values, "model": None}, "fp") == []


def test_a_real_run_read_back_has_every_number_of_the_trained_one(tmp_path):
    """Train one tiny run for real, read it back through a second experiment."""
    arm = {"name": "E", "model": "a12-baseline"}
    options = dict(
        data="synthetic",
        seed=0,
        repeats=1,
        epochs=1,
        train_size=200,
        test_size=100,
        validation_fraction=0.1,
        batch_size=64,
    )
    store = runstore.RunStore(tmp_path)
    trained = experiments.prepare(None, [arm], **options).train(verbose=0, store=store)
    read = experiments.prepare(None, [arm], **options).train(verbose=0, store=store)
    first, again = trained.arms[0].runs[0], read.arms[0].runs[0]
    assert first.read_from == "" and again.read_from
    again.read_from = ""
    assert again == first and read.arms[0].parameters == trained.arms[0].parameters
    assert np.isfinite(first.validation["loss"])


# --------------------------------------------------------------------------- what the book says


def test_status_counts_runs_to_train_and_to_read_across_chapters(monkeypatch):
    from coursebook.book import hooks, runner

    held = {"k1"}
    monkeypatch.setattr(
        hooks,
        "_registered",
        dataclasses.replace(
            hooks.course(),
            runs=dataclasses.replace(
                hooks.course().runs,
                run_store=hooks.RunStore(keys=lambda v, f: v["keys"], holds=held.__contains__, counts=lambda t: (0, 0)),
            ),
        ),
    )

    def plan(chapter, keys, changed=("no previous result",)):
        return SimpleNamespace(chapter_id=chapter, run_keys=keys, changed=list(changed), text_only=False)

    plans = [plan("a", ["k1", "k2"]), plan("b", ["k2", "k3"]), plan("c", ["k3"], changed=()), plan("d", ["k3", "k4"])]
    assert runner.store_counts(plans) == {"a": (1, 1), "b": (1, 1), "d": (1, 1)}
    assert runner.runs_text(1, 1) == "1 run to train, 1 read from the run store"
    assert runner.runs_text(0, 0) == ""


def test_chapters_that_read_another_chapters_runs_execute_after_the_others():
    """b reads a's k2 and d reads b's k3: both start after every chapter that reads nothing, so none
    waits for a run still training; the others keep their order, and so do the readers."""
    from coursebook.book import runner

    def plan(chapter, keys):
        return SimpleNamespace(chapter_id=chapter, run_keys=keys)

    plans = [
        plan("a", ["k1", "k2"]),
        plan("b", ["k2", "k3"]),
        plan("c", []),
        plan("d", ["k3", "k4"]),
        plan("e", ["k5"]),
    ]
    assert [p.chapter_id for p in runner.execution_order(plans)] == ["a", "c", "e", "b", "d"]
    alone = [plan("x", ["k1"]), plan("y", ["k2"])]
    assert runner.execution_order(alone) == alone


# --------------------------------------------------------------------------- another chapter's arm


REFERENCE = [
    {
        "name": "Part 3 early stopping",
        "model": "q6-simple-cnn",
        "early_stopping": {"monitor": "val_loss", "patience": 3},
    },
    {"from": "q6-p1-simple-cnn", "name": "Part 1 (no early stopping)"},
]


def test_another_chapters_arm_is_that_chapters_run_read_from_the_store():
    from coursebook.book import params
    from coursebook.yamlfile import safe_load

    linked = params.resolve("q6-p3-early-stopping", "quick", {"arms": REFERENCE}).values
    own = params.resolve("q6-p1-simple-cnn", "quick").values
    quick = safe_load((Path(__file__).parents[1] / "params" / "profiles" / "quick.yaml").read_text())
    part1 = linked["arms"][1]
    assert part1["source_chapter"] == "q6-p1-simple-cnn" and part1["name"] == "Part 1 (no early stopping)"
    assert part1["epochs"] == quick["chapters"]["q6-p1-simple-cnn"]["epochs"]  # that chapter's budget, not this one's
    assert part1["train_size"] == quick["chapters"]["q6-p1-simple-cnn"]["train_size"]
    keys = [inputs.key() for inputs in runstore.planned_runs(linked, "fp")]
    own_keys = [inputs.key() for inputs in runstore.planned_runs(own, "fp")]
    assert keys[1] == own_keys[0] and keys[3] == own_keys[1]  # seeds 0 and 1 of Part 1: the same runs


@pytest.mark.parametrize(
    "reference, overrides, words",
    [
        ({"from": "no-such-chapter"}, {}, ["key 'from'", "'no-such-chapter'", "unknown chapter"]),
        ({"from": "q6-p1-simple-cnn", "arm": "zzz"}, {}, ["key 'arm'", "'zzz'", "Part 1 CNN"]),
        ({"from": "q6-p1-simple-cnn", "epochs": 3}, {}, ["key 'epochs'", "from"]),
        ({"from": "aml-p2-mlp"}, {}, ["key 'from'", "no arms"]),
    ],
)
def test_a_reference_that_cannot_be_read_is_refused_in_one_line(reference, overrides, words):
    from coursebook.book import params

    with pytest.raises(params.ParameterError) as refused:
        params.resolve("q6-p3-early-stopping", "quick", {"arms": [REFERENCE[0], reference], **overrides})
    message = str(refused.value)
    assert "\n" not in message and message.startswith("command line: arm arms[1]")
    assert all(word in message for word in words), message


def test_another_chapters_arm_is_read_with_this_chapters_data_and_splits():
    from coursebook.book import params

    linked = params.resolve(
        "q6-p3-early-stopping", "quick", {"arms": REFERENCE, "validation_fraction": 0.3, "test_size": 500}
    ).values
    own = params.resolve("q6-p1-simple-cnn", "quick", {"validation_fraction": 0.3, "test_size": 500}).values
    keys = [inputs.key() for inputs in runstore.planned_runs(linked, "fp")]
    assert keys[1] == runstore.planned_runs(own, "fp")[0].key()  # Part 1 as q6-p1 would train it on these splits
    default = [
        inputs.key() for inputs in runstore.planned_runs(params.resolve("q6-p1-simple-cnn", "quick").values, "fp")
    ]
    assert keys[1] not in default  # not the run q6-p1 trains on its own splits


def test_the_referencing_chapter_executes_again_when_the_referenced_arm_changes(tmp_path, monkeypatch):
    import shutil

    from coursebook.book import paths, runner

    copy = tmp_path / "params"
    shutil.copytree(Path(__file__).parents[1] / "params", copy)
    for name, value in {"PARAMS_DIR": copy, "PROFILES_DIR": copy / "profiles", "MODELS_DIR": copy / "models"}.items():
        monkeypatch.setattr(paths, name, value)
    before = runner.plan_chapter("q6-p3-early-stopping", "quick", {"arms": REFERENCE}).components["parameters"]
    chapter = copy / "q6-p1-simple-cnn.yaml"
    chapter.write_text(chapter.read_text().replace("batch_size: 32", "batch_size: 16"))
    after = runner.plan_chapter("q6-p3-early-stopping", "quick", {"arms": REFERENCE}).components["parameters"]
    assert after != before
