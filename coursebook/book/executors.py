"""Where chapters run: one after another, a local process pool (``JOBS=N``) or a Dask cluster
(``SCHEDULER=tcp://host:port``), and the environment each chapter's kernel gets.

Every executor calls the same ``run`` function on a plan and hands its result back to the
submitting side, which alone writes into ``book/chapters`` (atomically). Kernels get their run
description and settings through their own environment (never by changing this process's), and
their stdout/stderr (the kernel's start-up warnings, the backend's C++ logs) go to
``_build/logs/<chapter>.kernel.log`` instead of the console. A worker with another chapter to
come starts that chapter's kernel ahead, during the chapter before it, and has it run the
notebooks' imports (:func:`start_ahead`, :func:`take_ahead`).
"""

from __future__ import annotations

import ast
import atexit
import contextvars
import importlib
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from contextlib import suppress
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from coursebook.book import interrupts, paths
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
    """A Jupyter kernel manager that starts the kernel with ``env`` added and its output in ``log_path``;
    it remembers the clients it hands out, so whoever started the kernel can close them too."""
    from jupyter_client.manager import AsyncKernelManager

    class ChapterKernelManager(AsyncKernelManager):
        handed_out: list[Any]

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = {**(kw.get("env") or os.environ), **env}
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "wb") as log:  # this run's log; the child keeps its own descriptor
                kw["stdout"] = kw["stderr"] = log
                await super()._async_launch_kernel(kernel_cmd, **kw)

        def client(self, **kwargs: Any) -> Any:
            made = super().client(**kwargs)
            self.__dict__.setdefault("handed_out", []).append(made)
            return made

    return ChapterKernelManager


# --------------------------------------------------------------------------- kernels started ahead

AHEAD_READY_SECONDS = 120.0  # how long a chapter waits for the kernel started ahead to finish its imports
_ahead: tuple[Any, dict[str, str], Path] | None = None  # (manager, environment, log) of the kernel started ahead


def imported_modules(notebooks: Sequence[Path]) -> tuple[str, ...]:
    """The modules the notebooks' code cells (their parameters cells aside) import at top level, each
    once, in the order they first appear; ``from a import b`` gives ``a`` and ``a.b`` (which may be a
    name, not a module: :func:`preload` skips it). What a kernel started ahead imports."""
    found: dict[str, None] = {}
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
                continue
            try:
                body = ast.parse(cell.source).body
            except SyntaxError:  # IPython syntax (magics): its imports are left to the chapter
                continue
            for node in body:
                if isinstance(node, ast.Import):
                    found.update((alias.name, None) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.update(
                        (name, None) for name in (node.module, *(f"{node.module}.{a.name}" for a in node.names))
                    )
    return tuple(found)


def preload(modules: Sequence[str]) -> None:
    """Import ``modules`` without binding any name, so a chapter still needs its own imports; one that
    is not a module, or fails, is left for the chapter's own cell to import or report."""
    for module in modules:
        with suppress(Exception):
            importlib.import_module(module)


def start_ahead(env: dict[str, str], modules: Sequence[str]) -> None:
    """Start the next chapter's kernel now, importing the chapters' ``modules`` as it starts
    (:func:`preload`), so that its imports run while this chapter executes. ``env`` is a chapter's
    kernel environment: the run description, which the next chapter alone knows, is set when a
    chapter takes the kernel (:func:`take_ahead`)."""
    from jupyter_core.utils import run_sync

    global _ahead
    stop_ahead()
    log = paths.BUILD_DIR / "logs" / f"kernel-ahead.{os.getpid()}.log"
    common = {k: v for k, v in env.items() if k != RUN_ENV}
    manager = kernel_manager_class(common, log)(kernel_name="python3")
    line = f"__import__({__name__!r}, fromlist=['preload']).preload({list(modules)!r})"
    run_sync(manager.start_kernel)(cwd=str(paths.ROOT), extra_arguments=[f"--IPKernelApp.exec_lines={[line]!r}"])
    _ahead = (manager, common, log)
    atexit.unregister(stop_ahead)  # once, however many kernels were started ahead
    atexit.register(stop_ahead)


def take_ahead(env: dict[str, str], log_path: Path) -> Any | None:
    """The kernel started ahead, now this chapter's: its run description set from ``env``, its log
    moved to ``log_path``. None when there is none, or it was started with another environment, or
    it did not answer (it is stopped then, and the chapter starts its own)."""
    global _ahead
    if _ahead is None:
        return None
    manager, common, log = _ahead
    _ahead = None
    if {k: v for k, v in env.items() if k != RUN_ENV} != common:
        _stop(manager)
        return None
    try:
        _set_variables(manager, {RUN_ENV: env[RUN_ENV]})
    except Exception:  # noqa: BLE001 - a kernel that does not answer: the chapter starts its own
        _stop(manager)
        return None
    os.replace(log, log_path)
    return manager


def stop_ahead() -> None:
    """Stop the kernel started ahead, if any (the build is over, or it was not needed)."""
    if (manager := forget_ahead()) is not None:
        _stop(manager)


def forget_ahead() -> Any | None:
    """Drop the kernel started ahead and its log without stopping it (an interrupted build has stopped
    every kernel already: `interrupts.stop_kernels`); return its manager."""
    global _ahead
    if _ahead is None:
        return None
    manager, _, log = _ahead
    _ahead = None
    log.unlink(missing_ok=True)
    return manager


def close_kernel(manager: Any) -> None:
    """Stop a kernel this process started and close the clients it handed out."""
    for client in manager.__dict__.get("handed_out", []):
        client.stop_channels()
    _stop(manager)


def _set_variables(manager: Any, variables: dict[str, str]) -> None:
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=AHEAD_READY_SECONDS)
        code = f"import os; os.environ.update({variables!r})"
        reply = client.execute_interactive(code, silent=True, store_history=False, timeout=AHEAD_READY_SECONDS)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel started ahead could not take its run description: {reply['content']}")
    finally:
        client.stop_channels()


def _stop(manager: Any) -> None:
    from jupyter_core.utils import run_sync

    with suppress(Exception):  # already gone: nothing to stop
        run_sync(manager.shutdown_kernel)(now=True)


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
