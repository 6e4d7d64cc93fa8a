"""Ctrl-C and SIGTERM during a build: stop cleanly, leave nothing half-done.

The runner's main process and its worker processes turn SIGINT and SIGTERM into `Interrupted`
(a KeyboardInterrupt, so ``except Exception`` never swallows it). A chapter being executed stops,
its kernel is shut down at once (it runs in its own session, so a terminal's Ctrl-C never reaches
it), its temporary files are removed, and the previous executed notebook, record and results file
stay as they were. The command line then prints one
line and exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

A run killed with SIGKILL cannot clean up: `remove_leftovers` deletes its private run directory
(``book/chapters/.<id>.<pid>.running.<random>/``) and temporary files at the start of the next
build (under the build lock, so no running build owns them). Its kernel exits by itself:
ipykernel polls its parent and stops when the parent is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from multiprocessing import get_context
from pathlib import Path
from typing import Any, overload

import psutil

from coursebook.book import paths

SIGNALS = (signal.SIGINT, signal.SIGTERM)
KERNEL_STOP_SECONDS = 5.0
TEMPORARY_PATTERNS = (".*.running.*", ".*.tmp")  # a run's notebook and results in progress; atomic writes

_in_worker = False
_executing = False
_deferring = False
_deferred: int | None = None  # a signal that arrived while held off (see `deferred`)
current: str | None = None  # the chapter this process is executing


class Interrupted(KeyboardInterrupt):
    """The build received SIGINT or SIGTERM (a KeyboardInterrupt, which libraries let through)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def install() -> None:
    """Make SIGINT and SIGTERM raise `Interrupted` in this process."""
    for sig in SIGNALS:
        signal.signal(sig, _on_signal)


@contextmanager
def handled() -> Iterator[None]:
    """`install` for the duration of a build; the previous handlers come back afterwards."""
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def install_in_worker() -> None:
    """Initializer of a pool worker process: interruptions clean up, then the worker exits; the
    worker gets SIGTERM if the runner dies (even by SIGKILL), so it never runs on unsupervised."""
    global _in_worker
    _in_worker = True
    install()
    _terminate_with_parent()


def _terminate_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the runner died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _on_signal(signum: int, _frame) -> None:
    global _deferred
    if _deferring:
        _deferred = _deferred or signum
        return
    for sig in SIGNALS:  # one interruption: further signals must not cut the clean-up short
        signal.signal(sig, signal.SIG_IGN)
    if _in_worker and not _executing:
        stop_kernels()  # a kernel started ahead for the next chapter
        os._exit(128 + signum)  # an idle worker has nothing else to clean up
    if not _in_worker:
        _forward_to_workers(signum)
    stop_kernels()  # before the client's own clean-up, which would wait for the busy kernel to answer
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM for a moment that must not be cut in two (renaming a run's
    files into place); one that arrived meanwhile takes effect at the end."""
    global _deferring, _deferred
    _deferring, _deferred = True, None
    try:
        yield
    finally:
        _deferring = False
        if _deferred is not None:
            signum, _deferred = _deferred, None
            _on_signal(signum, None)


@overload
def as_interrupted(error: KeyboardInterrupt) -> Interrupted: ...
@overload
def as_interrupted(error: BaseException) -> Interrupted | None: ...
def as_interrupted(error: BaseException) -> Interrupted | None:
    """`Interrupted` for a KeyboardInterrupt too (SIGINT before `install`)."""
    if isinstance(error, Interrupted):
        return error
    if isinstance(error, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    return None


@contextmanager
def leaves_nothing(chapter_id: str) -> Iterator[None]:
    """Around one chapter's execution: if interrupted, stop the kernels this process started
    and remove the chapter's temporary files; a worker process then exits at once (its pool is
    shutting down)."""
    global _executing, current
    _executing, current = True, chapter_id
    try:
        yield
    except Exception:
        current = None
        raise
    except BaseException as error:  # Interrupted, KeyboardInterrupt, SystemExit
        stop_kernels()
        for pattern in TEMPORARY_PATTERNS:
            for path in paths.CHAPTERS_DIR.glob(pattern.replace("*", f"{chapter_id}.*", 1)):
                _remove(path)
        if _in_worker:
            interrupted = as_interrupted(error)
            os._exit(interrupted.exit_status if interrupted else 1)
        raise
    else:
        current = None
    finally:
        _executing = False


@contextmanager
def worker_pool(
    jobs: int, initializer: Callable[..., None] | None = None, initargs: tuple = (), mp_context: Any = None
) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers clean up like the main process when interrupted
    (``initializer(*initargs)`` runs in each worker after the signal handlers are installed)."""
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=mp_context or get_context("spawn"),
        initializer=_init_worker,
        initargs=(initializer, initargs),
    )
    try:
        yield pool
    except BaseException as error:
        if (interrupted := as_interrupted(error)) is not None:
            _forward_to_workers(interrupted.signum)
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)


def _init_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    install_in_worker()
    if initializer is not None:
        initializer(*initargs)


def _forward_to_workers(signum: int) -> None:
    """SIGTERM reaches only the main process, SIGINT from a terminal the whole group: either way,
    every pool worker of this process gets the signal once (a second one is ignored)."""
    for child in _children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                child.send_signal(signum)
        except psutil.Error:
            pass


def _children(recursive: bool = False) -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=recursive)
    except psutil.Error:
        return []


def is_kernel(process: psutil.Process) -> bool:
    try:
        return "ipykernel" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def stop_kernels(timeout: float = KERNEL_STOP_SECONDS) -> None:
    """Terminate every kernel this process started (the kernel is in its own session, so a
    terminal's Ctrl-C does not reach it); kill those still running after ``timeout`` seconds."""
    kernels = [p for p in _children(recursive=True) if is_kernel(p)]
    for kernel in kernels:
        with suppress(psutil.Error):
            kernel.terminate()
    _, alive = psutil.wait_procs(kernels, timeout=timeout)
    for kernel in alive:
        with suppress(psutil.Error):
            kernel.kill()
    psutil.wait_procs(alive, timeout=timeout)


def remove_leftovers() -> list[tuple[Path, bool]]:
    """Delete the temporary files and private run directories that a killed run left in
    ``book/chapters`` (call with the build lock held: then no other build owns them); return what
    was removed, each path with whether it was a directory."""
    removed = []
    for pattern in TEMPORARY_PATTERNS:
        for path in sorted(paths.CHAPTERS_DIR.glob(pattern)):
            removed.append((path, path.is_dir() and not path.is_symlink()))
            _remove(path)
    return removed


def _remove(path: Path) -> None:
    """Remove a temporary file, or a chapter's private run directory."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- what the user is told

_watched: list = []  # the plans of the build in progress (runner.Plan)
_watch_started = 0.0


def watch(plans: list) -> None:
    """Remember the build's plans, so an interruption can say which chapters it cut short."""
    global _watched, _watch_started
    _watched, _watch_started = [p for p in plans if p.changed], time.time()


def _finished(plan) -> bool:
    """Whether the chapter's record was written by this build, for this plan's key."""
    from coursebook.book import cache

    record = cache.record_path(plan.chapter_id)
    try:
        return (
            record.stat().st_mtime >= _watch_started
            and (cache.read_record(plan.chapter_id) or {}).get("key") == plan.key
        )
    except (OSError, TypeError, KeyError):
        return False


def report(interrupted: Interrupted) -> int:
    """Stop what is left, print one line, return the exit status (128 + signal number)."""
    stop_kernels()
    done = [p.chapter_id for p in _watched if _finished(p)]
    cut = [p.chapter_id for p in _watched if p.chapter_id not in done]
    after = f"; finished before it: {', '.join(done)}" if done else ""
    if current is not None:
        where, kept = f"chapter {current}", "nothing was changed (its previous notebook, record and results are kept)"
    elif cut:
        where = "chapter" + ("s " if len(cut) > 1 else " ") + ", ".join(cut)
        kept = (
            "nothing of "
            + ("theirs" if len(cut) > 1 else "it")
            + " was changed (previous notebooks, records and results are kept)"
        )
    elif done:
        where, kept, after = "the HTML build", f"every chapter was executed and is kept ({', '.join(done)})", ""
    else:
        where, kept = "the build", "no chapter was being executed, nothing was changed"
    print(f"coursebook: interrupted by {interrupted.name} during {where}: {kept}{after}", file=sys.stderr)
    return interrupted.exit_status


def report_leftovers(removed: list[tuple[Path, bool]]) -> None:
    """One line naming what ``remove_leftovers`` removed (a run's private directory ends in '/')."""
    if removed:
        names = ", ".join(str(p.relative_to(paths.ROOT)) + ("/" if is_dir else "") for p, is_dir in removed)
        print(f"coursebook: removed {len(removed)} temporary item(s) left by an interrupted run: {names}")
