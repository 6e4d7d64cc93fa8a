"""Where chapters run: one after another, a local process pool (``JOBS=N``) or a Dask cluster
(``SCHEDULER=tcp://host:port``), and the environment each chapter's kernel gets.

Every executor calls the same ``run`` function on a plan and hands its result back to the
submitting side, which alone writes into ``book/chapters`` (atomically). Kernels get their run
description and settings through their own environment (never by changing this process's), and
their stdout/stderr (the kernel's start-up warnings, the backend's C++ logs) go to
``_build/logs/<chapter>.kernel.log`` instead of the console.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from coursebook.book import interrupts
from coursebook.book.hooks import course
from coursebook.book.progress import RUN_ENV

QUIET_LOGGERS = ("papermill", "nbclient", "jupyter_client", "traitlets", "distributed", "tornado")
DETERMINISTIC_ENV = "COURSEBOOK_DETERMINISTIC"


def quiet_logs() -> None:
    """Keep the execution libraries' chatter (kernel start, TCP warnings) out of the console."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


# --------------------------------------------------------------------------- kernel environment


def deterministic() -> bool:
    """``DETERMINISTIC=1`` (the Makefile exports it as COURSEBOOK_DETERMINISTIC)."""
    return os.environ.get(DETERMINISTIC_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def kernel_env(run_description: str, determinism: bool | None = None) -> dict[str, str]:
    """Variables set for one chapter's kernel on top of this process's environment: the course's
    (``hooks.Kernel.environment``, deterministic ones with ``DETERMINISTIC=1``), the run description
    and this package on ``PYTHONPATH``."""
    wanted = deterministic() if determinism is None else determinism
    env = course().kernel.environment(wanted, os.environ)
    env[RUN_ENV] = run_description
    source = str(Path(__file__).resolve().parents[2])  # the kernel imports this very coursebook
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    return env


def kernel_manager_class(env: dict[str, str], log_path: Path) -> type:
    """A Jupyter kernel manager that starts the kernel with ``env`` added and its output in ``log_path``."""
    from jupyter_client.manager import AsyncKernelManager

    class ChapterKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = {**(kw.get("env") or os.environ), **env}
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "wb") as log:  # this run's log; the child keeps its own descriptor
                kw["stdout"] = kw["stderr"] = log
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return ChapterKernelManager


# --------------------------------------------------------------------------- GPUs


def visible_gpus() -> list[str]:
    """GPU ids this machine offers: CUDA_VISIBLE_DEVICES when set, else ``nvidia-smi -L``."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g.strip() for g in given.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def gpu_for_slot(slot: int, gpus: list[str]) -> str | None:
    """The GPU of worker ``slot``: round-robin over several GPUs; None (share) with one or none."""
    return gpus[slot % len(gpus)] if len(gpus) > 1 else None


def _init_worker(counter: Any, gpus: list[str]) -> None:
    """Pool worker start-up: take the next slot and, with several GPUs, its own GPU."""
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    gpu = gpu_for_slot(slot, gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # inherited by the kernels this worker starts
    quiet_logs()


# --------------------------------------------------------------------------- executors


def run_all(
    plans: list[Any],
    run: Callable[[Any], Any],
    failed: Callable[[Any, str], Any],
    jobs: int = 1,
    scheduler: str | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(plan, run(plan))`` as chapters finish. ``failed(plan, message)`` stands in for a
    result when the executor itself loses a chapter (a worker that died, a lost connection)."""
    if scheduler:
        yield from _on_dask(plans, run, failed, scheduler)
    elif jobs > 1 and len(plans) > 1:
        yield from _on_pool(plans, run, failed, jobs)
    else:
        for plan in plans:
            yield plan, run(plan)


def _on_pool(plans: list[Any], run: Callable, failed: Callable, jobs: int) -> Iterator[tuple[Any, Any]]:
    context = get_context("spawn")
    counter = context.Value("i", 0)
    with interrupts.worker_pool(min(jobs, len(plans)), _init_worker, (counter, visible_gpus()), context) as pool:
        futures = {pool.submit(run, plan): plan for plan in plans}
        for future in as_completed(futures):
            yield futures[future], _result_or_failure(future, futures[future], failed)


def _on_dask(plans: list[Any], run: Callable, failed: Callable, scheduler: str) -> Iterator[tuple[Any, Any]]:
    from distributed import Client, as_completed as dask_completed

    with Client(scheduler) as client:
        futures = {
            client.submit(
                _isolated, run, plan, key=f"chapter-{plan.chapter_id}-{uuid.uuid4().hex[:8]}", pure=False
            ): plan
            for plan in plans
        }
        for future in dask_completed(futures):
            yield futures[future], _result_or_failure(future, futures[future], failed)


def _isolated(run: Callable[[Any], Any], plan: Any) -> Any:
    """``run(plan)`` in an empty context: a Dask worker thread may carry a copy of another thread's
    context, and with it that thread's asyncio loop (jupyter_core keeps it in a context variable),
    which two chapters' kernels must not share."""
    return contextvars.Context().run(run, plan)


def _result_or_failure(future: Any, plan: Any, failed: Callable) -> Any:
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - the executor lost the chapter: report it, go on
        return failed(plan, f"the executor lost the chapter: {type(err).__name__}: {' '.join(str(err).split())[:300]}")
