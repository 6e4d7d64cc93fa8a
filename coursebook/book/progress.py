"""Live progress of running chapters.

Kernel side: the runner names a progress file in the run description (``progress_file`` in the
``RUN_ENV`` JSON); :func:`report` appends one JSON line per event to it (the training callback
reports every epoch with the arm, seed and run it belongs to, see :func:`labels`). Without a
progress file (a notebook opened by hand) reporting does nothing.

Runner side: :class:`Display` tails the files of the running chapters and shows one line per
chapter: arm, seed, run i/n, epoch i/n, elapsed and an estimate of the time left. On a terminal
the lines are a live ``rich`` display; otherwise (CI, a log file) each event is one timestamped line.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.live import Live

RUN_ENV = "COURSEBOOK_RUN"  # the run description (JSON) the runner gives each kernel; runtime reads it too
_labels: dict[str, Any] = {}


# --------------------------------------------------------------------------- kernel side


def destination() -> Path | None:
    """The progress file the runner asked for, or None."""
    description = os.environ.get(RUN_ENV)
    if not description:
        return None
    target = json.loads(description).get("progress_file")
    return Path(target) if target else None


def active() -> bool:
    return destination() is not None


@contextmanager
def labels(**values: Any) -> Iterator[None]:
    """Attach ``values`` (arm, seed, run, runs) to every event reported inside the block."""
    saved = dict(_labels)
    _labels.update(values)
    try:
        yield
    finally:
        _labels.clear()
        _labels.update(saved)


def set_labels(**values: Any) -> None:
    """Set labels for the events that follow (inside a :func:`labels` block, which restores them)."""
    _labels.update(values)


def report(event: str, path: Path | None = None, **fields: Any) -> None:
    """Append one event (with the current labels and the time) to the progress file, if any."""
    target = path or destination()
    if target is None:
        return
    line = json.dumps({"event": event, "time": time.time(), **_labels, **fields}, default=str)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# --------------------------------------------------------------------------- runner side


@dataclass
class ChapterProgress:
    """What is known about one running chapter, from its events."""

    chapter: str
    started: float
    estimate: float | None = None  # seconds the whole chapter is expected to take, if known
    arm: str | None = None
    seed: int | None = None
    run: int | None = None
    runs: int | None = None
    epoch: int = 0
    epochs: int | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    run_ends: list[float] = field(default_factory=list)  # when each finished run's last epoch ended
    offset: int = 0

    def apply(self, event: dict[str, Any]) -> None:
        if event.get("event") == "start":
            self.started = event["time"]
        for name in ("arm", "seed", "run", "runs", "epoch", "epochs"):
            if name in event:
                setattr(self, name, event[name])
        if event.get("event") == "epoch" and "seconds" in event:
            self.epoch_seconds.append(float(event["seconds"]))
            if self.epoch == self.epochs:
                self.run_ends.append(float(event["time"]))

    @property
    def training_done(self) -> bool:
        return bool(self.epochs) and self.epoch == self.epochs and (self.run or 1) == (self.runs or 1)

    def left(self, now: float) -> float | None:
        """Seconds left in training: the runs not yet finished times the time a run takes (the
        median time between run ends once two runs ended, else the median epoch time times the
        epochs), less the time the current run has had. Before the first epoch and after the
        last, the chapter's estimate minus the time elapsed, when there is an estimate."""
        if self.epoch_seconds and self.epochs and not self.training_done:
            per_epoch = statistics.median(self.epoch_seconds)
            gaps = [b - a for a, b in itertools.pairwise(self.run_ends)]
            per_run = statistics.median(gaps) if gaps else per_epoch * self.epochs
            this_run = max(per_run - (now - self.run_ends[-1]), 0.0) if self.run_ends and gaps else 0.0
            this_run = max(this_run, (self.epochs - self.epoch) * per_epoch)
            return this_run + ((self.runs or 1) - (self.run or 1)) * per_run
        if self.estimate is not None:
            return max(self.estimate - (now - self.started), 0.0)
        return None

    def line(self, now: float) -> str:
        parts = [self.chapter]
        if self.arm is not None:
            run = f" (run {self.run}/{self.runs})" if self.run and self.runs else ""
            parts.append(f"{self.arm} seed {self.seed}{run}")
        if self.training_done:
            parts.append("training done, evaluating")
        elif self.epochs:
            parts.append(f"epoch {self.epoch}/{self.epochs}")
        elif self.arm is None:
            parts.append("running")
        parts.append(f"{clock(now - self.started)} elapsed")
        left = self.left(now)
        if left is not None:
            parts.append(f"~{clock(left)} left")
        return " · ".join(parts)


def clock(seconds: float) -> str:
    """0:42, 12:05 or 1:02:05."""
    seconds = round(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def read_events(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines of ``path`` from byte ``offset``; the offset after the last one."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for raw in data[:end].splitlines():
        try:
            events.append(json.loads(raw))
        except json.JSONDecodeError:
            continue  # a torn line from a killed kernel: skip it
    return events, offset + end


class Display:
    """Shows the progress of the chapters whose files are being written, until closed.

    ``files`` maps chapter id -> progress file; ``estimates`` maps chapter id -> expected seconds.
    ``live`` chooses the terminal form (default: when stdout is a terminal)."""

    def __init__(
        self,
        files: dict[str, Path],
        estimates: Mapping[str, float | None] | None = None,
        live: bool | None = None,
        interval: float = 1.0,
        write: Callable[[str], None] | None = None,
    ):
        self.files, self.estimates, self.interval = files, estimates or {}, interval
        self.live = sys.stdout.isatty() if live is None else live
        self.write = write or (lambda text: print(text, flush=True))
        self.state: dict[str, ChapterProgress] = {}
        self.finished: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="coursebook-progress", daemon=True)
        self._rich_live: Live | None = None

    def __enter__(self) -> Display:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._rich_live = Live("", console=Console(), refresh_per_second=2, transient=True)
            self._rich_live.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        if self._rich_live is not None:
            self._rich_live.__exit__(*exc)

    def done(self, chapter: str) -> None:
        """The chapter's outcome is known: stop showing it."""
        self.poll()
        self.finished.add(chapter)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """Read new events of every file and show them."""
        now = time.time()
        for chapter, path in self.files.items():
            if chapter in self.finished:
                continue
            state = self.state.get(chapter)
            events, offset = read_events(path, state.offset if state else 0)
            if not events:
                continue
            if state is None:
                state = self.state[chapter] = ChapterProgress(chapter, events[0]["time"], self.estimates.get(chapter))
            state.offset = offset
            for event in events:
                state.apply(event)
                if not self.live:
                    stamp = time.strftime("%H:%M:%S", time.localtime(event["time"]))
                    self.write(f"  [{stamp}] {state.line(event['time'])}")
        if self.live and self._rich_live is not None:
            from rich.text import Text

            running = [s.line(now) for c, s in self.state.items() if c not in self.finished]
            self._rich_live.update(Text("\n".join(f"  {line}" for line in running), no_wrap=True, overflow="ellipsis"))
