"""Where chapters run: a Dask cluster with the same cache decisions and atomic writes on the
submitting side, per-chapter failures; each kernel's environment (GPU per worker, determinism)."""

from __future__ import annotations

import json

import pytest

from coursebook.book import cache, executors, runner, runtime
from tests.conftest import write_notebook

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
