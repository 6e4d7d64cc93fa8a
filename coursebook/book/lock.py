"""One build at a time per checkout.

`build_lock` holds an OS file lock (the `filelock` package: released by the kernel when its
process dies, so a stale lock of a dead process is simply taken over) and writes the holder's pid
beside it, so a second build can say whom it waits for, or refuse at once with ``--no-wait``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from coursebook.book import paths

BUSY_EXIT_STATUS = 75  # EX_TEMPFAIL: try again later


class Busy(RuntimeError):
    """Another build holds the lock and we were told not to wait, or the lock cannot be taken."""

    def __init__(self, message: str, exit_status: int = BUSY_EXIT_STATUS):
        super().__init__(message)
        self.exit_status = exit_status


def lock_path() -> Path:
    return paths.ROOT / ".cache" / "build.lock"


def _owner_path() -> Path:
    return lock_path().with_suffix(".owner")


def holder() -> int | None:
    """The pid written by the last process that took the lock (it may have died since)."""
    try:
        return int(_owner_path().read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _describe(pid: int | None) -> str:
    return f"pid {pid}" if pid is not None else "another process"


@contextmanager
def build_lock(wait: bool = True, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the checkout's build lock; wait for it (saying whom for) or raise `Busy`."""
    path = lock_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _acquire(path, wait, log)
        _owner_path().write_text(f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    except OSError as err:  # a read-only or full checkout
        raise Busy(f"cannot take the build lock {path}: {err.strerror or err}", exit_status=1) from None
    try:
        yield
    finally:
        _owner_path().unlink(missing_ok=True)
        lock.release()


def _acquire(path: Path, wait: bool, log: Callable[[str], None]) -> FileLock:
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pid = holder()
        rel = path.relative_to(paths.ROOT)
        if not wait:
            raise Busy(
                f"another build ({_describe(pid)}) is running in this checkout (lock {rel}); "
                "wait for it or run again without --no-wait/NOWAIT"
            ) from None
        log(f"coursebook: waiting for the build of {_describe(pid)} to finish (lock {rel}) ...")
        lock.acquire()
    previous = holder()
    if previous is not None and previous != os.getpid() and not psutil.pid_exists(previous):
        log(f"coursebook: took over the build lock of pid {previous}, which is no longer running")
    return lock
