"""Faults and bad input: every fault ends cleanly, nothing good is lost, everything is said in one line.

The runner is started as ``python -m coursebook build`` in a process group of its own, as a terminal
would run it, on a miniature project whose chapter sleeps; signals go to it as a terminal (Ctrl-C: the
whole group) or ``kill`` (SIGTERM, SIGKILL: the runner) sends them. Checked each time: the exit status,
the one line, the files before and after (byte for byte), and the process table (no kernel left).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from coursebook import atomic
from coursebook.book import cache, cli, interrupts, lock, params, paths, runner
from coursebook.course import data
from tests.conftest import PARAMETERS_CELL, write_notebook

REPO = Path(__file__).resolve().parents[1]
SLEEPY = "seed = 0  # [0, ] seed\nnap = 0.0  # [0, 600] seconds the chapter sleeps\nlabel = 'x'  # any text"
START_SECONDS = 90  # generous: kernels start slowly on a loaded 2-core machine


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def sleepy(mini_project):
    """The mini project with a chapter notebook that prints its label and sleeps ``nap`` seconds."""
    write_notebook(
        mini_project / "notebooks" / "train.ipynb", SLEEPY, "import time\nprint('label:', label)", "time.sleep(nap)"
    )
    for chapter in ("alpha", "beta"):
        (mini_project / "params" / f"{chapter}.yaml").write_text(
            f"notebook: train.ipynb\ntitle: Chapter {chapter}\nparameters: {{nap: 120}}\n"
        )
    return mini_project


def previous_result(chapter_id: str, nap: float = 0.5) -> dict[Path, bytes]:
    """A good result of an earlier run (with another ``nap``, so the chapter is stale): files and bytes."""
    plan = runner.plan_chapter(chapter_id, "quick", {"nap": nap})
    out, record, results = (
        cache.output_path(chapter_id),
        cache.record_path(chapter_id),
        cache.results_path(chapter_id),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cells": [], "metadata": {"earlier": nap}, "nbformat": 4, "nbformat_minor": 5}))
    results.write_text(json.dumps({"schema_version": 1, "earlier": nap}))
    record.write_text(
        json.dumps(
            {
                "chapter": chapter_id,
                "key": plan.key,
                "components": plan.components,
                "results": results.name,
                "results_digest": cache.file_digest(results),
            }
        )
    )
    return {path: path.read_bytes() for path in (out, record, results)}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job would ignore Ctrl-C


def start_build(*args: str) -> subprocess.Popen:
    """``python -m coursebook build`` on the mini project, in its own session like a terminal's job."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "coursebook", "build", "--no-html", "--profile", "quick", *args],
        cwd=paths.ROOT.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def run_build(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = start_build(*args)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kernels(root: Path) -> list[psutil.Process]:
    """Kernel processes working in ``root`` (kernels run with the project as their directory),
    wherever their parent chain leads now (an orphan's does not lead to the runner any more)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if (
                "ipykernel" in " ".join(proc.info["cmdline"] or [])
                and proc.cwd() == str(root)
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def wait_for_running(proc: subprocess.Popen, root: Path, chapters: int) -> list[psutil.Process]:
    """Until ``chapters`` kernels of the runner are inside their sleeping cell; return them."""
    chapters_dir = root / "book" / "chapters"

    def ready() -> bool:
        assert proc.poll() is None, proc.communicate()
        running = list(chapters_dir.glob(".*.running.*/*.ipynb"))  # in each run's private directory
        started = [p for p in running if "label: x" in p.read_text(errors="replace")]
        return (
            len(started) == chapters and len([k for k in descendants(proc.pid) if interrupts.is_kernel(k)]) == chapters
        )

    wait_until(ready, START_SECONDS, f"{chapters} chapter(s) to reach their sleeping cell")
    return [k for k in descendants(proc.pid) if interrupts.is_kernel(k)]


def assert_gone(processes: list[psutil.Process], seconds: float = 15) -> None:
    def gone() -> bool:
        return all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in processes)

    wait_until(gone, seconds, "the kernels to exit")


def one_line(text: str, marker: str) -> str:
    lines = [line for line in text.splitlines() if marker in line]
    assert len(lines) == 1, text
    return lines[0]


# --------------------------------------------------------------------------- interruptions


@pytest.mark.parametrize(
    ("signum", "jobs"),
    [
        (signal.SIGINT, 1),
        (signal.SIGTERM, 1),
        (signal.SIGINT, 2),
        (signal.SIGTERM, 2),
    ],
)
def test_interrupted_build_stops_kernels_removes_temporaries_and_keeps_previous_results(sleepy, signum, jobs):
    chapters = ["alpha", "beta"] if jobs > 1 else ["alpha"]
    before = {}
    for chapter in chapters:
        before |= previous_result(chapter)
    proc = start_build("--jobs", str(jobs), *([] if jobs > 1 else ["--chapter", "alpha"]))
    running = wait_for_running(proc, sleepy, len(chapters))
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C in a terminal: the whole foreground group
    else:
        os.kill(proc.pid, signum)  # kill <pid>: the runner alone
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 128 + signum
    line = one_line(err, "interrupted")
    assert f"interrupted by {signal.Signals(signum).name} during chapter" in line and "nothing" in line
    assert all(chapter in line for chapter in chapters)
    assert "Traceback" not in out + err
    assert {path: path.read_bytes() for path in before} == before  # byte for byte
    assert not list((sleepy / "book" / "chapters").glob(".*")), "temporary files left"
    assert_gone(running, seconds=5)
    assert kernels(sleepy) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(("cut", "kernels_up"), [("alpha", 2), ("beta", 1)])
def test_an_interrupted_build_stops_the_kernels_started_ahead_too(sleepy, signum, cut, kernels_up):
    """JOBS=1: beta's kernel starts while alpha runs; cut alpha (two kernels up) or beta (in that kernel)."""
    if cut == "beta":
        (sleepy / "params" / "alpha.yaml").write_text(
            "notebook: train.ipynb\ntitle: Chapter alpha\nparameters: {nap: 0}\n"
        )
    before = previous_result("alpha") | previous_result("beta")
    proc = start_build("--jobs", "1")

    def asleep() -> bool:
        assert proc.poll() is None, proc.communicate()
        running = list((sleepy / "book" / "chapters").glob(f".{cut}.*.running.*/*.ipynb"))
        in_cell = [p for p in running if "label: x" in p.read_text(errors="replace")]
        return len(in_cell) == 1 and len([k for k in descendants(proc.pid) if interrupts.is_kernel(k)]) == kernels_up

    wait_until(asleep, START_SECONDS, f"{cut} to sleep with {kernels_up} kernel(s) up")
    started = [k for k in descendants(proc.pid) if interrupts.is_kernel(k)]
    os.killpg(proc.pid, signum) if signum == signal.SIGINT else os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 128 + signum
    assert f"interrupted by {signal.Signals(signum).name} during chapter {cut}" in one_line(err, "interrupted")
    assert "Traceback" not in out + err and "never retrieved" not in err
    if cut == "alpha":
        assert {path: path.read_bytes() for path in before} == before
    assert_gone(started, seconds=5)
    assert kernels(sleepy) == []


def test_killed_runner_leaves_temporaries_the_next_build_removes(sleepy):
    before = previous_result("alpha")
    proc = start_build("--chapter", "alpha")
    running = wait_for_running(proc, sleepy, 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    left = list((sleepy / "book" / "chapters").glob(".alpha.*.running.*"))
    assert len(left) == 1 and left[0].is_dir() and left[0].name.startswith(f".alpha.{proc.pid}.running."), left
    assert (left[0] / "alpha.ipynb").exists()  # the run's notebook in progress
    assert_gone(running)  # the kernel sees its parent gone and exits by itself
    assert kernels(sleepy) == []
    assert {path: path.read_bytes() for path in before} == before

    again = run_build("--chapter", "alpha", "--set", "nap=0")
    assert again.returncode == 0, again.stderr
    assert f"removed 1 temporary item(s) left by an interrupted run: book/chapters/{left[0].name}/\n" in again.stdout
    assert f"took over the build lock of pid {proc.pid}, which is no longer running" in again.stdout
    assert not left[0].exists() and cache.read_record("alpha")["parameters"]["nap"] == 0
    assert kernels(sleepy) == []


def test_killed_runner_with_workers_leaves_no_worker_kernel_or_file_behind(sleepy):
    before = previous_result("alpha") | previous_result("beta")
    proc = start_build("--jobs", "2")
    running = wait_for_running(proc, sleepy, 2)
    workers = psutil.Process(proc.pid).children()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_gone(running + workers)  # the workers are told (SIGTERM) and clean up like an interrupted build
    assert kernels(sleepy) == []
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in (sleepy / "book" / "chapters").iterdir()) == sorted(p.name for p in before)


def test_kernel_that_dies_fails_its_chapter_naming_the_cell_and_the_others_run(sleepy):
    write_notebook(
        sleepy / "notebooks" / "die.ipynb",
        SLEEPY,
        "x = 1",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does",
        "print('never')",
    )
    (sleepy / "params" / "alpha.yaml").write_text("notebook: die.ipynb\ntitle: Dies\n")
    (sleepy / "params" / "beta.yaml").write_text("notebook: train.ipynb\ntitle: Lives\n")
    before = previous_result("alpha")
    result = run_build()
    assert result.returncode == 1
    # count: parameters cell, Papermill's injected cell, 'x = 1', then the killing cell
    line = one_line(result.stdout, "FAILED: alpha")
    assert "cell [4] (import os, signal): kernel died" in line
    assert re.search(r"executed\s+\S+ s\s+beta", result.stdout)
    assert {path: path.read_bytes() for path in before} == before
    assert "Traceback" not in result.stdout + result.stderr and kernels(sleepy) == []


def test_ctrl_c_while_a_run_is_committed_takes_effect_once_its_files_are_all_in_place(sleepy, monkeypatch):
    previous_result("alpha")
    plan = runner.plan_chapter("alpha", "quick", None)
    result = runner.Result(
        runner.Outcome("alpha", "executed", "", 1.0),
        notebook='{"cells": [], "run": "new"}',
        results='{"schema_version": 1, "run": "new"}',
    )
    replace, renamed = os.replace, []

    def ctrl_c_after_the_first_rename(source, target):
        replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", ctrl_c_after_the_first_rename)
    with interrupts.handled(), pytest.raises(interrupts.Interrupted):
        runner.commit(plan, result)
    assert renamed == ["alpha.results.json", "alpha.ipynb", "alpha.run.json"]  # the record last
    assert cache.output_path("alpha").read_text() == result.notebook
    assert cache.results_path("alpha").read_text() == result.results
    assert runner.plan_chapter("alpha", "quick", None).changed == []  # record, notebook and results agree


# --------------------------------------------------------------------------- one build at a time


def test_second_build_refuses_with_no_wait_naming_the_holder(sleepy):
    with lock.build_lock():
        result = run_build("--no-wait")
    assert result.returncode == lock.BUSY_EXIT_STATUS
    assert f"another build (pid {os.getpid()}) is running in this checkout" in one_line(result.stderr, "error:")
    assert not (sleepy / "book" / "chapters").exists()  # nothing ran


def test_second_build_waits_for_the_first_then_runs(sleepy):
    for chapter in ("alpha", "beta"):
        plan = runner.plan_chapter(chapter, "quick", None)
        cache.output_path(chapter).parent.mkdir(parents=True, exist_ok=True)
        cache.output_path(chapter).write_text('{"cells": []}')
        cache.record_path(chapter).write_text(json.dumps({"key": plan.key, "components": plan.components}))
    lines: list[str] = []
    with lock.build_lock():
        proc = start_build()
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        wait_until(lambda: lines, 60, "the second build to say that it waits")
        assert f"coursebook: waiting for the build of pid {os.getpid()} to finish" in lines[0]
        time.sleep(1)
        assert proc.poll() is None and len(lines) == 1  # still waiting while the lock is held
    assert proc.wait(timeout=60) == 0
    reader.join(timeout=10)
    assert any("reused    alpha" in line for line in lines) and any("reused    beta" in line for line in lines)


def test_ctrl_c_while_waiting_for_the_lock_changes_nothing(sleepy):
    before = previous_result("alpha")
    lines: list[str] = []
    with lock.build_lock():
        proc = start_build("--chapter", "alpha")
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        wait_until(lambda: lines, 60, "the second build to say that it waits")
        os.killpg(proc.pid, signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130
    assert one_line(err, "interrupted") == (
        "coursebook: interrupted by SIGINT during the build: no chapter was being executed, nothing was changed"
    )
    assert {path: path.read_bytes() for path in before} == before and kernels(sleepy) == []


def test_stale_lock_of_a_dead_process_is_taken_over(sleepy):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from coursebook.book import lock; import time\n"
            "with lock.build_lock():\n    print('held', flush=True); time.sleep(600)",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert lock.holder() == holder.pid
    holder.kill()
    holder.wait()
    said: list[str] = []
    with lock.build_lock(wait=False, log=said.append):
        assert lock.holder() == os.getpid()
    assert said == [f"coursebook: took over the build lock of pid {holder.pid}, which is no longer running"]


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_unwritable_checkout_is_one_line_and_keeps_the_previous_result(sleepy, monkeypatch, capsys, code):
    before = previous_result("alpha")
    target = cache.record_path("alpha")  # written last: the notebook and results file are already staged
    mkstemp = atomic.tempfile.mkstemp

    def refuse(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(f".{target.name}."):
            raise OSError(code, os.strerror(code))
        return mkstemp(*args, **kwargs)

    def succeeded(plan):  # the kernel's side ran well; the submitting side cannot write
        return runner.Result(
            runner.Outcome("alpha", "executed", "", 1.0), notebook='{"cells": []}', results='{"schema_version": 1}'
        )

    monkeypatch.setattr(runner, "run_safely", succeeded)
    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    summary = runner.execute_all([runner.plan_chapter("alpha", "quick", None)])
    assert [o.status for o in summary.outcomes] == ["failed"]
    assert summary.outcomes[0].error == f"cannot write {target}: {os.strerror(code)} (the previous result is kept)"
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(target.parent.iterdir()) == sorted(before), "temporary files left"

    def no_lock(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(lock, "_acquire", no_lock)
    capsys.readouterr()
    assert cli.main(["build", "--no-html", "--profile", "quick"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot take the build lock {lock.lock_path()}: {os.strerror(code)}\n"


# --------------------------------------------------------------------------- damaged state


def _good_previous(chapter: str = "alpha") -> runner.Plan:
    """An up-to-date chapter: notebook, results file, and a record with the results file's digest."""
    plan = runner.plan_chapter(chapter, "quick", None)
    cache.output_path(chapter).parent.mkdir(parents=True, exist_ok=True)
    cache.output_path(chapter).write_text('{"cells": []}')
    cache.results_path(chapter).write_text('{"schema_version": 1, "arms": "as the run wrote them"}')
    results_digest = hashlib.sha256(cache.results_path(chapter).read_bytes()).hexdigest()[:16]
    cache.record_path(chapter).write_text(
        json.dumps(
            {
                "key": plan.key,
                "components": plan.components,
                "results": f"{chapter}.results.json",
                "results_digest": results_digest,
            }
        )
    )
    assert runner.plan_chapter(chapter, "quick", None).changed == []
    return plan


def _record_without_results_digest() -> None:
    """A record written before the runner kept the digest: the results file's schema is checked."""
    record = json.loads(cache.record_path("alpha").read_text())
    del record["results_digest"]
    cache.record_path("alpha").write_text(json.dumps(record))
    cache.results_path("alpha").write_text('{"schema_version": 1, "chapter": ')


def _edit_record(path: Path) -> None:
    record = json.loads(path.read_text())
    record["components"]["parameters"] = "0" * 16  # hand-edited: the key no longer matches
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda: cache.record_path("alpha").write_text('{"key": "ab'), "alpha.run.json (not a JSON object)"),
        (lambda: cache.record_path("alpha").write_text("[1, 2]"), "alpha.run.json (not a JSON object)"),
        (
            lambda: _edit_record(cache.record_path("alpha")),
            "alpha.run.json (its key does not match its inputs: edited, or written by another version of coursebook)",
        ),
        (lambda: cache.output_path("alpha").write_text('{"cells": [{"sou'), "alpha.ipynb (not valid JSON)"),
        (lambda: cache.output_path("alpha").write_bytes(b"\xff\xfe\x00"), "alpha.ipynb (not valid JSON)"),
        (lambda: cache.output_path("alpha").write_text('{"metadata": {}}'), "alpha.ipynb (not a notebook)"),
        (
            lambda: cache.results_path("alpha").write_text('{"schema_version": 1, "arms": "as the run w'),
            "alpha.results.json (edited or truncated)",
        ),
        (
            lambda: cache.results_path("alpha").write_text('{"schema_version": 1, "arms": "edited by hand"}'),
            "alpha.results.json (edited or truncated)",
        ),
        (lambda: cache.results_path("alpha").unlink(), "alpha.results.json (missing)"),
        (
            _record_without_results_digest,
            "alpha.results.json (not valid results JSON: Expecting value: line 1 column 34 (char 33))",
        ),
    ],
)
def test_damaged_previous_state_is_said_in_one_line_and_executed_again(sleepy, damage, expected):
    _good_previous()
    damage()
    plan = runner.plan_chapter("alpha", "quick", None)
    assert plan.changed == [f"damaged book/chapters/{expected}"]
    assert runner.describe_reason(plan.changed) == f"damaged book/chapters/{expected}: executing again"


def test_damaged_record_is_recomputed_without_traceback_and_modes_follow_the_umask(sleepy):
    _good_previous()
    cache.record_path("alpha").write_text('{"key": "trunc')
    result = run_build("--chapter", "alpha", "--set", "nap=0")
    assert result.returncode == 0, result.stderr
    line = one_line(result.stdout, "executing alpha")
    assert "damaged book/chapters/alpha.run.json (not a JSON object): executing again" in line
    assert "Traceback" not in result.stdout + result.stderr
    record = cache.read_record("alpha")
    assert record["key"] == cache.key_of(record["components"]) and record["parameters"]["nap"] == 0
    mask = os.umask(0)
    os.umask(mask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (cache.record_path("alpha"), cache.output_path("alpha"))}
    assert set(modes.values()) == {0o666 & ~mask}, modes  # the record is no longer 0600


def test_atomic_writes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        cache.atomic_write_text(tmp_path / "a.json", "{}")
        data.atomic_write_bytes(tmp_path / "b.npy", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.npy").stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("array", "replacement", "problem"),
    [
        ("x_train", np.zeros((30, 32, 32, 3), np.float32), "x_train.npy is float32 (30, 32, 32, 3), expected uint8"),
        (
            "x_test",
            np.zeros((20, 32, 32), np.uint8),
            "x_test.npy is uint8 (20, 32, 32), expected uint8 (20, 32, 32, 3)",
        ),
        ("y_train", np.zeros((29, 1), np.uint8), "y_train.npy is uint8 (29, 1), expected uint8 (30, 1)"),
        ("y_test", None, "unreadable"),
    ],
)
def test_damaged_dataset_cache_is_said_and_rebuilt_never_served(tmp_path, capsys, array, replacement, problem):
    fresh = data.load_synthetic(30, 20, seed=1, cache_dir=tmp_path)
    target = tmp_path / fresh.fingerprint / f"{array}.npy"
    if replacement is None:
        target.write_bytes(target.read_bytes()[:40])  # truncated
    else:
        np.save(target, replacement)
    capsys.readouterr()
    again = data.load_synthetic(30, 20, seed=1, cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert one_line(err, "damaged").startswith(
        f"coursebook: the dataset cache {tmp_path / fresh.fingerprint} is damaged"
    )
    assert problem in err and "rebuilding it" in err
    for name in data.ARRAY_NAMES:
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))
    np.testing.assert_array_equal(np.load(target), getattr(fresh, array))  # the cache was rewritten
    data.load_synthetic(30, 20, seed=1, cache_dir=tmp_path)
    assert capsys.readouterr().err == ""  # and is good again


# --------------------------------------------------------------------------- data


def _batch_files(directory: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    files = {}
    for name in (*data.TRAIN_BATCHES, data.TEST_BATCH):
        content = {
            b"labels": [int(v) for v in rng.integers(0, 10, 4)],
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
        }
        files[name] = pickle.dumps(content, protocol=2)
    files[data.META_FILE] = pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}, protocol=2)
    for name, raw in files.items():
        (directory / name).write_bytes(raw)
    return files


@pytest.fixture
def no_cifar(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("COURSEBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *a, **k: False)
    return tmp_path


def test_extracted_directory_is_checked_against_the_official_per_file_md5s(no_cifar):
    files = _batch_files(no_cifar / "data" / "cifar-10-batches-py")
    first = data.TRAIN_BATCHES[0]
    with pytest.raises(data.DataError) as error:
        data.load_dataset("cifar10")
    message = str(error.value)
    assert (
        f"{first} has md5 {hashlib.md5(files[first]).hexdigest()}, expected c99cafc152244af753f735de768cd75f" in message
    )
    assert "provide the archive" in message and "cifar-10-python.tar.gz" in message and "\n" not in message
    with pytest.raises(data.DataError, match="has md5"):
        data.dataset_fingerprint("auto")  # the planner refuses it too, before any kernel


def test_near_miss_archive_names_are_named_in_the_not_found_error(no_cifar):
    misses = ["cifar-10-python.tgz", "cifar10.tar.gz", "CIFAR-10-python.tar.gz", "Cifar_10_batches_py"]
    (no_cifar / "data").mkdir()
    for name in misses:
        (no_cifar / "data" / name).write_bytes(b"")
    (no_cifar / "data" / "notes.txt").write_text("unrelated")
    with pytest.raises(data.DataError, match="was not found") as error:
        data.load_dataset("cifar10")
    message = str(error.value)
    for name in misses:
        assert str(no_cifar / "data" / name) in message
    assert "notes.txt" not in message and "rename it" in message


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_unwritable_dataset_cache_is_a_clear_error(tmp_path, monkeypatch, code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(data.DataError) as error:
        data.load_synthetic(30, 20, seed=0, cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert f"cannot write to {tmp_path / 'cache'}" in message and os.strerror(code) in message
    assert data.CACHE_ENV in message
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"not checked yet")
    with pytest.raises(data.DataError, match=f"cannot write to {tmp_path / 'cache'}"):
        data.content_md5([archive], tmp_path / "cache")  # the checksum index, written at planning


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind root; the simulated case above covers it")
def test_read_only_dataset_cache_directory_is_a_clear_error(tmp_path):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o555)
    try:
        with pytest.raises(data.DataError, match="cannot write to"):
            data.load_synthetic(30, 20, seed=0, cache_dir=cache_dir)
    finally:
        cache_dir.chmod(0o755)


# --------------------------------------------------------------------------- security


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_batch_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    raw = pickle.dumps({b"data": _RunsCode(marker), b"labels": []}, protocol=2)
    with pytest.raises(data.DataError, match="unexpected object"):
        data.decode_batch(raw, "test_batch")
    assert not marker.exists()


def test_yaml_python_tags_are_refused_in_model_specs(mini_project):
    marker = mini_project / "ran"
    (mini_project / "params" / "models" / "tiny.yaml").write_text(
        f"title: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    (mini_project / "params" / "alpha.yaml").write_text(
        "notebook: train.ipynb\ntitle: A\nparameters: {models: [tiny]}\n"
    )
    with pytest.raises(params.ParameterError, match="not valid YAML"):
        runner.plan_chapter("alpha", "quick", None)
    assert not marker.exists()


def test_no_shell_eval_or_unsafe_yaml_in_the_package():
    unsafe = re.compile(
        r"shell\s*=\s*True|os\.system\(|os\.popen\(|\beval\(|\bexec\(|yaml\.load\((?![^)]*Loader=_SafeLoader)"
        r"|yaml\.unsafe_load|pickle\.loads?\("
    )
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "coursebook").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if unsafe.search(line)
    ]
    assert found == []


def test_a_parameter_value_is_passed_as_data_never_run(sleepy):
    marker = sleepy / "ran"
    value = f"x$(touch {marker})\"+__import__('os').system('touch {marker}')+\"`touch {marker}`"
    result = run_build("--chapter", "alpha", "--set", "nap=0", f"label={value}")
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    outputs = json.dumps(json.loads(cache.output_path("alpha").read_text())["cells"])
    assert json.dumps(f"label: {value}")[1:-1] in outputs


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def project(mini_project, monkeypatch):
    """The mini project with an optimizer choice; no kernel may start, no network is tried."""
    write_notebook(
        mini_project / "notebooks" / "train.ipynb",
        PARAMETERS_CELL + 'optimizer = "adam"      # {adam, sgd} optimizer\n'
        'arms = [{"name": "a", "model": "tiny"}]  # {@arms} arms compared\n',
        "result = epochs * 2",
    )
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *a, **k: False)
    monkeypatch.setenv("KERAS_HOME", str(mini_project / "keras-home"))
    monkeypatch.setenv("COURSEBOOK_CACHE", str(mini_project / "cache"))
    monkeypatch.setattr(paths, "DATA_DIR", mini_project / "data")

    def no_kernel(*args, **kwargs):
        raise AssertionError("a chapter was executed")

    monkeypatch.setattr(runner, "execute_all", no_kernel)
    return mini_project


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _chapter(parameters: str) -> dict[str, str]:
    return {"params/alpha.yaml": f"notebook: train.ipynb\ntitle: A\nparameters:\n{parameters}"}


def _spec(layers: str, input_shape: str = "[32, 32, 3]") -> dict[str, str]:
    return {
        "params/models/bad.yaml": f"title: Bad\nsource: tests\ninput_shape: {input_shape}\nlayers:\n{layers}",
        **_chapter("  models: [bad]\n"),
    }


TOC_WITHOUT_BETA = (
    "format: jb-book\nroot: book/index\nparts:\n  - caption: Part\n    chapters:\n      - file: book/chapters/alpha\n"
)
SPEC = "params/models/bad.yaml: key 'layers"

BAD_INPUT = {
    # name: (files to write, command line, fragments of the one line)
    "unknown key": (
        _chapter("  epoch: 3\n"),
        [],
        ["params/alpha.yaml", "key 'epoch' is not allowed", "allowed: seed, epochs"],
    ),
    "unknown key on the command line": (
        {},
        ["--chapter", "alpha", "--set", "epoch=3"],
        ["command line", "key 'epoch' is not allowed", "the parameters chapter alpha declares"],
    ),
    "wrong type": (_chapter("  epochs: ten\n"), [], ["params/alpha.yaml", "key 'epochs'", "'ten'", "int in [1, 1000]"]),
    "wrong type bool": (
        {},
        ["--chapter", "alpha", "--set", "use_bn=maybe"],
        ["command line", "key 'use_bn'", "value 'maybe' is not allowed", "(expected true or false)"],
    ),
    "out of range": (_chapter("  epochs: 0\n"), [], ["params/alpha.yaml", "key 'epochs'", "value 0", "[1, 1000]"]),
    "NaN": (
        _chapter("  learning_rate: .nan\n"),
        [],
        ["params/alpha.yaml", "key 'learning_rate'", "value nan is not allowed", "a number in (0, 1)"],
    ),
    "inf": (
        {},
        ["--chapter", "alpha", "--set", "learning_rate=.inf"],
        ["command line", "key 'learning_rate'", "value inf is not allowed", "a number in (0, 1)"],
    ),
    "malformed YAML": (
        {"params/alpha.yaml": "notebook: [train.ipynb\ntitle: A\n"},
        [],
        ["params/alpha.yaml", "not valid YAML (line 2)"],
    ),
    "duplicate key": (
        _chapter("  epochs: 3\n  seed: 1\n  epochs: 4\n"),
        [],
        ["params/alpha.yaml", "(line 6)", "key 'epochs' is given twice (lines 4 and 6)"],
    ),
    "duplicate key in a profile": (
        {"params/profiles/quick.yaml": "defaults: {}\nchapters: {}\ndefaults: {epochs: 1}\n"},
        [],
        ["params/profiles/quick.yaml", "key 'defaults' is given twice (lines 1 and 3)"],
    ),
    "duplicate key in a model spec": (
        {"params/models/bad.yaml": "title: A\ntitle: B\n", **_chapter("  models: [bad]\n")},
        [],
        ["params/alpha.yaml", "key 'models'", "model 'bad'", "key 'title' is given twice"],
    ),
    "unknown chapter": (
        {},
        ["--chapter", "gamma"],
        ["command line: key 'chapter'", "unknown chapter 'gamma'", "params/gamma.yaml", "alpha, beta"],
    ),
    "unknown profile": ({}, [], ["command line: key 'profile'", "'huge'", "unknown profile", "{full, quick, smoke}"]),
    "unknown model": (
        _chapter("  models: [huge]\n"),
        [],
        ["params/alpha.yaml", "key 'models'", "huge", "{tiny, wide}"],
    ),
    "unknown layer type": (
        _spec("  - convolution: {filters: 8, kernel: 3}\n"),
        [],
        [
            "params/alpha.yaml",
            "key 'models'",
            "model 'bad'",
            f"{SPEC}[0]'",
            "'convolution'",
            "expected a layer type in {conv,",
        ],
    ),
    "unknown layer option": (
        _spec("  - conv: {filters: 8, kernel: 3, dilation: 2}\n"),
        [],
        [f"{SPEC}[0].conv.dilation' is not allowed", "allowed: filters, kernel,"],
    ),
    "unknown optimizer": (
        _chapter("  optimizer: adagrad\n"),
        [],
        ["params/alpha.yaml", "key 'optimizer'", "'adagrad'", "{adam, sgd}"],
    ),
    "unknown activation": (
        _spec("  - conv: {filters: 8, kernel: 3, activation: relu7}\n"),
        [],
        [f"{SPEC}[0].conv.activation'", "'relu7'", "expected one of {elu,"],
    ),
    "negative filters": (
        _spec("  - conv: {filters: -8, kernel: 3}\n"),
        [],
        [f"{SPEC}[0].conv.filters'", "-8", "an int in [1, ]"],
    ),
    "zero units": (
        _spec("  - flatten\n  - dense: {units: 0}\n"),
        [],
        [f"{SPEC}[1].dense.units'", "value 0", "num_classes or an int in [1, ]"],
    ),
    "zero kernel": (
        _spec("  - conv: {filters: 8, kernel: 0}\n"),
        [],
        [f"{SPEC}[0].conv.kernel'", "value 0", "a positive int or a list of two"],
    ),
    "kernel larger than its input": (
        _spec("  - conv: {filters: 8, kernel: 40}\n"),
        [],
        [f"{SPEC}[0]' (conv)", "input is too small", "(-7, -7, 8)"],
    ),
    "shapes that cannot chain": (
        _spec("  - flatten\n  - conv: {filters: 8, kernel: 3}\n"),
        [],
        [f"{SPEC}[1]' (conv)", "needs a (height, width, channels) input", "(3072,)"],
    ),
    "unknown arm key": (
        _chapter("  arms: [{name: a, model: tiny, colour: red}]\n"),
        [],
        ["params/alpha.yaml", "arm 'a' (arms[0])", "key 'colour' is not allowed", "allowed: name, model"],
    ),
    "patience over the epochs": (
        _chapter("  epochs: 5\n  arms: [{name: a, model: tiny, early_stopping: {patience: 5}}]\n"),
        [],
        ["params/alpha.yaml", "arm 'a'", "early_stopping.patience", "5"],
    ),
    "empty arm list": (_chapter("  arms: []\n"), [], ["params/alpha.yaml", "key 'arms'", "value []", "non-empty list"]),
    "duplicated arm name": (
        _chapter("  arms: [{name: a, model: tiny}, {name: a, model: wide}]\n"),
        [],
        ["params/alpha.yaml", "arm 'a' (arms[1])", "key 'name'", "'a'", "arms[0] has the same name"],
    ),
    "arm whose model spec is broken": (
        {
            **_spec("  - conv: {filters: 8, kernel: 3}\n  - dense: {units: 4}\n"),
            **_chapter("  arms: [{name: a, model: bad}]\n"),
        },
        [],
        ["params/alpha.yaml", "key 'arms'", "model 'bad'", f"{SPEC}[1]' (dense)", "needs a flat input"],
    ),
    "toc entry without a params file": (
        {
            "_toc.yml": TOC_WITHOUT_BETA.replace("alpha", "gamma")
            + "      - file: book/chapters/alpha\n      - file: book/chapters/beta\n"
        },
        [],
        ["_toc.yml", "entry 'book/chapters/gamma'", "no params/gamma.yaml"],
    ),
    "params file not in the toc": (
        {"_toc.yml": TOC_WITHOUT_BETA},
        [],
        ["params/beta.yaml", "chapter 'beta' is not in _toc.yml", "- file: book/chapters/beta"],
    ),
    "profile key no chapter declares": (
        {"params/profiles/quick.yaml": "defaults: {epoch: 1}\nchapters: {}\n"},
        [],
        ["params/profiles/quick.yaml", "key 'defaults.epoch'", "declared by no chapter"],
    ),
    "train_size beyond the data": (
        {},
        ["--chapter", "alpha", "--set", "train_size=50001"],
        ["command line", "key 'train_size'", "50001", "at most the 50,000 training images"],
    ),
    "an arm's train_size beyond the data": (
        _chapter("  arms: [{name: a, model: tiny, train_size: 60000}]\n"),
        [],
        ["params/alpha.yaml", "key 'arms[0].train_size'", "60000", "at most the 50,000 training images"],
    ),
    "PARAMS without CHAPTER": ({}, ["--set", "epochs=2"], ["command line", "--set/PARAMS needs --chapter/CHAPTER"]),
    "override without =": (
        {},
        ["--chapter", "alpha", "--set", "epochs"],
        ["command line", "override 'epochs'", "key=value"],
    ),
    "non-integer JOBS": ({}, ["--jobs", "two"], ["command line", "key 'jobs'", "'two'", "integer >= 1"]),
    "zero JOBS": ({}, ["--jobs", "0"], ["command line", "key 'jobs'", "'0'", "integer >= 1"]),
    "DATA outside its choices": (
        {},
        ["--data", "mnist"],
        ["command line", "key 'data'", "'mnist'", "{auto, cifar10, synthetic}"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_before_any_kernel(project, capsys, case):
    files, argv, fragments = BAD_INPUT[case]
    _write(project, files)
    profile = "huge" if case == "unknown profile" else "quick"
    assert cli.main(["build", "--no-html", "--profile", profile, *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ")
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not (project / "book" / "chapters").exists()


def test_there_are_at_least_25_bad_input_cases():
    assert len(BAD_INPUT) >= 25


MARKER = "touch-marker"


@pytest.mark.parametrize(
    ("variables", "fragments"),
    [
        (["JOBS=x"], ["key 'jobs'", "'x'", "integer >= 1"]),
        (["DATA=mnist"], ["key 'data'", "'mnist'", "{auto, cifar10, synthetic}"]),
        (["PARAMS=epochs=2"], ["--set/PARAMS needs --chapter/CHAPTER"]),
        (["PROFILE=huge"], ["key 'profile'", "'huge'", "unknown profile"]),
        # values that a shell would run, were they ever shell text
        ([f"JOBS=$$(touch {MARKER})"], ["key 'jobs'", f"'$(touch {MARKER})'"]),  # $$: make passes a literal $
        ([f"PROFILE=`touch {MARKER}`"], ["key 'profile'", f"'`touch {MARKER}`'"]),
        ([f'DATA=x"; touch {MARKER}; echo "'], ["key 'data'", f"touch {MARKER}"]),
        ([f"PARAMS=epochs=$$(touch {MARKER})"], [f"command line: override '{MARKER})' is not of the form key=value"]),
    ],
)
def test_make_passes_bad_values_to_the_runner_which_says_them_in_one_line(project, variables, fragments):
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "book", *variables],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COURSEBOOK_ROOT": str(project)},
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and all(f in errors[0] for f in fragments), result.stderr
    assert not (project / "book" / "chapters").exists()
    assert not (REPO / MARKER).exists() and not (project / MARKER).exists()


def test_make_run_without_chapter_says_so(project):
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COURSEBOOK_ROOT": str(project)},
    )
    assert result.returncode == 2
    assert one_line(result.stderr, "error:") == (
        "error: command line: make run needs CHAPTER=<id> (the book/chapters/<id> entries of _toc.yml)"
    )


# --------------------------------------------------------------------------- determinism

DETERMINISM_CHAPTER = "determinism-check"
DETERMINISM_PARAMS = f"""\
notebook: compare-models.ipynb
title: Determinism check
parameters:
  question: Does the same seed give the same histories?
  arms:
    - {{name: tiny, model: {DETERMINISM_CHAPTER}}}
  repeats: 1
  epochs: 2
  batch_size: 50
  seed: 3
"""


def _source_tree(directory: str, names: list[str]) -> set[str]:
    """Copy the project as a fresh clone has it: no environment, builds, data or executed chapters."""
    here = Path(directory).resolve()
    skip = set(names) & {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
    if here == REPO:
        skip |= set(names) & {".git", ".venv", "_build", ".cache", "data"}
    if here == REPO / "book":
        skip |= set(names) & {"chapters"}
    return skip


def test_the_same_chapter_twice_on_cpu_writes_identical_histories(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=_source_tree)
    (project / "params" / "models" / f"{DETERMINISM_CHAPTER}.yaml").write_text(
        "title: Tiny CNN\nsource: tests\ninput_shape: [32, 32, 3]\nlayers:\n"
        "  - conv: {filters: 4, kernel: 3, activation: relu}\n  - maxpool: {size: 4}\n  - flatten\n"
        "  - dense: {units: num_classes, activation: softmax}\n"
    )
    (project / "params" / f"{DETERMINISM_CHAPTER}.yaml").write_text(DETERMINISM_PARAMS)
    env = {k: v for k, v in os.environ.items() if k != "COURSEBOOK_ROOT"}
    env |= {"PYTHONPATH": str(project), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}
    histories = []
    for _ in range(2):
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
                DETERMINISM_CHAPTER,
                "--no-html",
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        saved = json.loads((project / "book" / "chapters" / f"{DETERMINISM_CHAPTER}.results.json").read_text())
        histories.append([run["history"] for arm in saved["arms"] for run in arm["runs"]])
    first, second = histories
    assert first and all(len(values) == 2 for history in first for values in history.values())  # 2 epochs
    assert first == second  # exactly: every loss and accuracy of every epoch
