"""Where chapters run: a Dask cluster with the same cache decisions and atomic writes on the
submitting side, per-chapter failures; each kernel's environment (GPU per worker, determinism)."""

from __future__ import annotations

import json
import sys

import psutil
import pytest

from coursebook.book import cache, executors, interrupts, runner, runtime
from tests.conftest import PARAMETERS_CELL, write_notebook

SIMPLE = "seed = 0  # [0, ] seed\nvalue = 1  # [0, 100] a number"


@pytest.fixture
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as local:
        yield local


def test_a_book_on_a_dask_cluster(mini_project, cluster):
    write_notebook(
        mini_project / "notebooks" / "train.ipynb",
        SIMPLE,
        "import os\nassert value != 13, 'unlucky'\nprint('value is', value, 'in', os.getpid())",
    )
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\nparameters: {value: 13}\n")
    (mini_project / "params" / "beta.yaml").write_text("notebook: train.ipynb\ntitle: B\nparameters: {value: 5}\n")
    lines: list[str] = []
    summary = runner.execute_all(
        runner.plan_book("quick"), log=lines.append, scheduler=cluster.scheduler_address, live=False
    )
    status = {o.chapter_id: o.status for o in summary.outcomes}
    assert status == {"alpha": "failed", "beta": "executed"}
    failed = next(o for o in summary.outcomes if o.status == "failed")
    assert "cell [3]: AssertionError: unlucky" in failed.error and "alpha.failed.ipynb" in failed.error
    assert "value is 5" in cache.output_path("beta").read_text()
    record = json.loads(cache.record_path("beta").read_text())
    assert record["key"] == runner.plan_chapter("beta", "quick", None).key
    assert cache.failed_path("alpha").exists() and not cache.output_path("alpha").exists()
    assert not list(cache.output_path("beta").parent.glob(".*"))  # no temporary file left

    again = runner.execute_all(
        runner.plan_book("quick"), log=lines.append, scheduler=cluster.scheduler_address, live=False
    )
    assert {o.chapter_id: o.status for o in again.outcomes} == {"alpha": "failed", "beta": "reused"}


def test_a_chapter_the_cluster_loses_is_a_failure_of_that_chapter(mini_project, cluster):
    write_notebook(mini_project / "notebooks" / "train.ipynb", SIMPLE, "print(value)")
    for chapter in ("alpha", "beta"):
        (mini_project / "params" / f"{chapter}.yaml").write_text(f"notebook: train.ipynb\ntitle: {chapter}\n")

    def crash(plan):
        raise MemoryError("worker killed")

    results = list(
        executors.run_all(runner.plan_book("quick"), crash, runner.lost, scheduler=cluster.scheduler_address)
    )
    assert sorted(plan.chapter_id for plan, _ in results) == ["alpha", "beta"]
    for _, result in results:
        assert result.outcome.status == "failed"
        assert result.outcome.error == "the executor lost the chapter: MemoryError: worker killed"
    assert not cache.output_path("alpha").exists() and not cache.failed_path("alpha").exists()


@pytest.mark.parametrize(
    "slot, gpus, expected",
    [
        (0, ["0", "1", "2"], "0"),
        (1, ["0", "1", "2"], "1"),
        (4, ["0", "1", "2"], "1"),
        (3, ["3"], None),
        (0, [], None),
    ],
)
def test_each_worker_gets_its_own_gpu_when_there_are_several(slot, gpus, expected):
    assert executors.gpu_for_slot(slot, gpus) == expected


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert executors.visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert executors.visible_gpus() == []


def test_determinism_sets_the_backends_flags_in_the_kernel_environment(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setenv(executors.DETERMINISTIC_ENV, "1")
    env = executors.kernel_env("{}")
    assert env["TF_DETERMINISTIC_OPS"] == "1" and env["XLA_FLAGS"] == "--xla_gpu_deterministic_ops=true"
    monkeypatch.setenv(executors.DETERMINISTIC_ENV, "0")
    assert "XLA_FLAGS" not in executors.kernel_env("{}") and "TF_DETERMINISTIC_OPS" not in executors.kernel_env("{}")


def test_the_run_card_says_whether_the_run_is_bit_reproducible():
    run = runtime.ChapterRun(
        "alpha",
        "A",
        "quick",
        {"seed": 0, "question": "Why?"},
        {"seed": "notebook", "question": "chapter"},
        "abc",
        0.0,
        False,
        device="tensorflow on CPU",
        text_parameters=["question"],
        deterministic=True,
    )
    card = runtime.run_card_markdown(run)
    assert "| reproducibility | bit-reproducible: seeded, op determinism on (DETERMINISTIC=1)" in card
    assert "| `question` | quoted at the top of the page | chapter |" in card and "Why?" not in card
    run.deterministic = False
    assert "| reproducibility | seeded, but not guaranteed bit-reproducible" in runtime.run_card_markdown(run)


def test_a_plain_kernel_gets_the_backend_s_quiet_defaults_unless_the_environment_sets_them(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")
    env = executors.kernel_env('{"chapter": "alpha"}', determinism=False)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
    assert env[executors.RUN_ENV] == '{"chapter": "alpha"}'
    assert not {"TF_DETERMINISTIC_OPS", "CUBLAS_WORKSPACE_CONFIG", "XLA_FLAGS"} & set(env)


def test_deterministic_kernels_keep_the_xla_flags_already_set(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env = executors.kernel_env("{}", determinism=True)
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_gpu_deterministic_ops=true"
    assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_deterministic_ops=false")
    assert "XLA_FLAGS" not in executors.kernel_env("{}", determinism=True)  # the environment's own choice stands


# --------------------------------------------------------------------------- kernels started ahead


def _kernels() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if interrupts.is_kernel(p)]


def _printed(kernel, code: str) -> str:
    client = kernel.blocking_client()
    client.start_channels()
    out: list[str] = []
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(code, output_hook=lambda m: out.append(m["content"].get("text", "")), timeout=60)
    finally:
        client.stop_channels()
    return "".join(out)


def test_the_imports_a_kernel_runs_ahead_are_the_notebooks_own_each_once(tmp_path):
    first = write_notebook(
        tmp_path / "a.ipynb", "import math  # a parameters cell is not run ahead", "import os\nx = 1"
    )
    second = write_notebook(
        tmp_path / "b.ipynb", SIMPLE, "%matplotlib inline\nimport sys", "from os import path\nimport os"
    )
    assert executors.imported_modules([first, second]) == ("os", "os.path")


def test_preloading_imports_modules_without_binding_their_names(tmp_path, monkeypatch):
    (tmp_path / "ahead_probe_module.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    executors.preload(["ahead_probe_module", "ahead_probe_module.LOADED", "no_such_module_anywhere"])
    assert sys.modules["ahead_probe_module"].LOADED and "ahead_probe_module" not in globals()
    sys.modules.pop("ahead_probe_module")


def test_a_kernel_started_ahead_has_run_the_imports_and_takes_the_next_chapters_run(
    mini_project, tmp_path, monkeypatch
):
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "ahead_marker.py").write_text("LOADED = True\n")
    monkeypatch.setenv("PYTHONPATH", str(modules))
    logs = mini_project / "_build" / "logs"
    executors.start_ahead(executors.kernel_env('{"chapter": "alpha"}'), ["ahead_marker"])
    kernel = executors.take_ahead(executors.kernel_env('{"chapter": "beta"}'), logs / "beta.kernel.log")
    assert kernel is not None
    try:
        printed = _printed(
            kernel,
            "import os, sys\n"
            "print(os.environ['COURSEBOOK_RUN'], 'ahead_marker' in sys.modules, 'ahead_marker' in dir())",
        )
    finally:
        executors.close_kernel(kernel)
    assert printed == '{"chapter": "beta"} True False\n'  # loaded, yet the chapter must import it itself
    assert (logs / "beta.kernel.log").exists() and not list(logs.glob("kernel-ahead.*"))
    psutil.wait_procs(_kernels(), timeout=10)
    assert not _kernels()


def test_a_kernel_started_with_another_environment_is_stopped_not_used(mini_project, monkeypatch):
    executors.start_ahead(executors.kernel_env("{}"), [])
    monkeypatch.setenv(executors.DETERMINISTIC_ENV, "1")  # the next chapter wants deterministic kernels
    assert executors.take_ahead(executors.kernel_env("{}"), mini_project / "beta.log") is None
    psutil.wait_procs(_kernels(), timeout=10)
    assert not _kernels()


def test_a_worker_starts_the_next_kernel_only_when_a_chapter_follows_it(mini_project):
    plans = runner.plan_book("quick")  # alpha and beta
    assert [p.kernel_ahead for p in runner.with_kernels_ahead(plans, 1, None)] == [(), None]
    assert [p.kernel_ahead for p in runner.with_kernels_ahead(plans, 2, None)] == [None, None]
    assert [p.kernel_ahead for p in runner.with_kernels_ahead(plans, 1, "tcp://scheduler:8786")] == [None, None]


def test_the_second_of_two_chapters_runs_in_the_kernel_started_during_the_first(mini_project, tmp_path, monkeypatch):
    (tmp_path / "ahead_probe.py").write_text("LOADED = True\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    write_notebook(
        mini_project / "notebooks" / "train.ipynb",
        PARAMETERS_CELL,
        "import json, os, sys\nwarm = 'ahead_probe' in sys.modules\nimport ahead_probe\n"
        "print(json.loads(os.environ['COURSEBOOK_RUN'])['chapter'], 'imported before its cell:', warm)",
    )
    summary = runner.execute_all(runner.plan_book("quick"), jobs=1, live=False, log=lambda line: None)
    assert {o.status for o in summary.outcomes} == {"executed"}
    # each kernel had its own chapter's run description; beta's had run the notebook's imports already
    assert "alpha imported before its cell: False" in cache.output_path("alpha").read_text()
    assert "beta imported before its cell: True" in cache.output_path("beta").read_text()
    assert not _kernels()
