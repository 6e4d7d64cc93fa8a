"""How long a chapter will take, said before it runs.

From the chapter's last recorded run (``<id>.run.json`` holds its seconds) when that run used the
same profile (scaled by the model below when the parameters changed since); otherwise from a rough
throughput model: a fixed start-up cost (kernel, imports, data, figures), plus for every training run
the course says the parameters ask for (``hooks.Runs.training_runs``: repeats x arms, x sizes for a
learning curve) a fixed cost (building, tracing, measuring) and its passes x training images x its
model's relative cost divided by a training throughput. The throughput is the median images/s that
``make bench`` measured on this machine (``_build/bench.json``) when present, else
:data:`CPU_IMAGES_PER_SECOND`, measured for E4742's original model on a 2-core laptop-class CPU. It is
an order of magnitude for planning, not a promise: GPUs and other load change it.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from coursebook.book import cache, paths
from coursebook.book.hooks import course

CPU_IMAGES_PER_SECOND = 1100.0
START_UP_SECONDS = 8.0  # kernel start, imports, data, figures (a quick chapter on a 2-core CPU)
RUN_SECONDS = 4.0  # per training run: building and tracing a model, its final measurement


def throughput() -> tuple[float, str]:
    """Training images per second and where the figure comes from."""
    try:
        bench = json.loads((paths.BUILD_DIR / "bench.json").read_text(encoding="utf-8"))
        measured = [float(v) for v in bench["img_per_s"].values() if v]
        return statistics.median(measured), "make bench"
    except (FileNotFoundError, KeyError, ValueError, AttributeError, TypeError, statistics.StatisticsError):
        return CPU_IMAGES_PER_SECOND, "assumed"


def from_parameters(values: dict[str, Any], read: int = 0) -> float:
    """Seconds by the throughput model; a chapter that trains nothing costs the start-up only.
    ``read`` of its runs come from the run store: they cost (about) nothing."""
    rate = throughput()[0]
    runs = course().runs.training_runs(values)
    seconds = [RUN_SECONDS + passes * images * cost / rate for passes, images, cost in runs]
    trained = sum(seconds) * (1 - min(read, len(runs)) / len(runs)) if runs else 0.0
    return START_UP_SECONDS + trained


def estimate(chapter_id: str, profile: str, values: dict[str, Any], read: int = 0) -> tuple[float, str]:
    """Expected seconds of one chapter and the basis ('last run' or 'estimated'); ``read``: runs
    the run store will give it (a last run that trained every run is scaled down)."""
    record = cache.read_record(chapter_id)
    if record and record.get("profile") == profile and record.get("seconds"):
        recorded = from_parameters(record.get("parameters") or values, int(record.get("runs_read") or 0))
        return float(record["seconds"]) * from_parameters(values, read) / recorded, "last run"
    return from_parameters(values, read), "estimated"


def session_fit(seconds: list[tuple[str, float]], session: float, jobs: int = 1) -> tuple[list[str], float]:
    """The chapters that finish within ``session`` seconds by their estimates, in the order the build
    starts them (``seconds``: chapter id and estimate each), ``jobs`` at a time (chapter time divided by
    the jobs, as the status total); and the seconds those take. The build stops at the first that does
    not fit: the ones after it wait for it."""
    share, elapsed, fit = max(1, min(jobs, len(seconds))), 0.0, []
    for chapter, estimate_s in seconds:
        if elapsed + estimate_s / share > session:
            break
        elapsed += estimate_s / share
        fit.append(chapter)
    return fit, elapsed


def session_text(seconds: list[tuple[str, float]], session: float, jobs: int = 1) -> str:
    """One line: which of the chapters to execute a session of ``session`` seconds finishes, by the estimates."""
    from coursebook.book.progress import clock

    fit, needed = session_fit(seconds, session, jobs)
    head = f"a session of {clock(session)}"
    if not seconds:
        return f"{head}: nothing to execute"
    if len(fit) == len(seconds):
        return f"{head} fits all {len(seconds)} chapter(s) to execute (~{clock(needed)} by the estimates above)"
    if fit:
        done = f"finishes {len(fit)} of the {len(seconds)} chapter(s) to execute (~{clock(needed)}): {', '.join(fit)}"
        waiting = f"the other {len(seconds) - len(fit)}"
    else:
        done, waiting = f"finishes none of the {len(seconds)} chapter(s) to execute", "all"
    return (
        f"{head}, by the estimates above, {done}; {waiting} wait for a later build, which reuses what finished "
        "(a chapter cut short keeps its finished training runs)"
    )
