"""Command line of the book runner (the Makefile calls it).

    python -m coursebook build [--profile quick] [--chapter ID] [--set key=value ...] [--jobs N] [--no-wait]
                               [--timeout SECONDS] [--scheduler tcp://host:port]
    python -m coursebook validate [--profile quick]
    python -m coursebook status [--profile quick] [--chapter ID] [--set key=value ...] [--session HOURS]
                                                                 (what build would do, and what a session fits)
    python -m coursebook notebook ID --output PATH [--profile quick] [--set key=value ...]
                                         (see coursebook.book.notebook)
    python -m coursebook freeze          (stage the executed chapters for a commit; see coursebook.book.freeze)
    python -m coursebook publish [--remote origin] [--force | --notebooks]  (see coursebook.book.publish)
    python -m coursebook pdf [--part <assignment>] [--profile quick]  (see coursebook.book.pdf)

Exit status: 0 done, 1 a chapter or the HTML build failed, 2 bad input, 75 another build holds the
lock (--no-wait), 130/143 interrupted by SIGINT/SIGTERM (nothing half-done is left).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from coursebook.book import estimates, hooks, interrupts, lock, params, progress, runner


class CommandLineError(Exception):
    """A bad option, said in one line (argparse would print its usage and a second line)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _parser().parse_args(argv)
    except CommandLineError as err:
        print(f"error: command line: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        return _main(args, start)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: one line saying what was kept, no traceback
        return interrupts.report(interrupts.as_interrupted(err))


def _main(args: argparse.Namespace, start: float) -> int:
    try:
        plans = _plan(args)
    except params.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "validate":
        for plan in plans:
            print(f"ok  {plan.chapter_id}  ({runner.describe_reason(plan.changed)})")
        return 0
    if args.command == "status":
        print_status(plans, args.profile, args.jobs, session=args.session)
        return 0
    return under_lock(lambda: _build(args, start), wait=not args.no_wait)


def under_lock(work: Callable[[], int], wait: bool = True, prefix: str = "error: ") -> int:
    """``work()``'s exit status, run holding the checkout's build lock with Ctrl-C and SIGTERM
    handled: another build holding the lock is waited for (or refused, 75), a read-only checkout
    is one line (1), an interruption stops the kernels and says what was kept (128 + signal)."""
    try:
        with interrupts.handled(), lock.build_lock(wait=wait):
            return work()
    except lock.Busy as err:
        print(f"{prefix}{err}", file=sys.stderr)
        return err.exit_status
    except params.ParameterError as err:  # e.g. the data could not be fetched: before any kernel starts
        print(f"{prefix}{err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        return interrupts.report(interrupts.as_interrupted(err))


def execute_chapters(
    plan: Callable[[], list[runner.Plan]], profile: str, jobs: int = 1, scheduler: str | None = None
) -> runner.Summary:
    """Under the build lock: remove what a killed run left, plan (again: a build we waited for may
    have changed the records) and execute what is out of date; on an interruption every private
    run directory and temporary file is removed (they are all ours) before it goes on up."""
    interrupts.report_leftovers(interrupts.remove_leftovers())
    plans = plan()
    print(f"coursebook: profile {profile}, {len(plans)} chapter(s); {data_line(plans)}", flush=True)
    prepare_data(plans)
    interrupts.watch(plans)
    try:
        return runner.execute_all(plans, jobs=jobs, scheduler=scheduler or None)
    except KeyboardInterrupt:
        interrupts.stop_kernels()
        interrupts.remove_leftovers()
        raise


def prepare_data(plans: list[runner.Plan]) -> None:
    """The data of the chapters about to execute, fetched once before any kernel starts (so kernels
    started at once never download it each); ParameterError when it cannot be fetched."""
    executing = [plan.resolved.values for plan in plans if plan.changed and not plan.text_only]
    try:
        hooks.course().runs.prepare_data(executing)
    except hooks.CourseInputError as err:
        raise params.ParameterError(f"key '{err.key}' of the chapters about to execute: {err}") from None


def data_line(plans: list[runner.Plan]) -> str:
    """Which data each chapter will use, in one line: each dataset in words with the chapters that
    use it (the most used one, when it has more than three, with their count)."""
    groups: dict[str, list[str]] = {}
    for plan in plans:
        groups.setdefault(plan.data_fingerprint, []).append(plan.chapter_id)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    parts = []
    for index, (fingerprint, ids) in enumerate(ordered):
        who = f"{len(ids)} chapters" if index == 0 and len(ids) > 3 else ", ".join(ids)
        parts.append(f"{hooks.course().runs.describe_data(fingerprint)} for {who}")
    return "data: " + ("; ".join(parts) or "none")


def _plan(args: argparse.Namespace) -> list[runner.Plan]:
    overrides = params.parse_overrides(args.set or [])
    if args.set and not args.chapter:
        raise params.ParameterError(
            "command line: --set/PARAMS needs --chapter/CHAPTER (overrides apply to one chapter)"
        )
    params.check_profile(args.profile)
    if args.chapter:
        try:
            params.load_chapter(args.chapter)  # unknown chapter: fail before anything else
        except params.ParameterError as err:
            if str(err).startswith("unknown chapter"):
                raise params.ParameterError(f"command line: key 'chapter' (--chapter, CHAPTER=): {err}") from None
            raise
    return runner.plan_book(
        args.profile,
        [args.chapter] if args.chapter else None,
        overrides,
        args.data,
        force=bool(args.chapter),
        timeout=args.timeout,
    )


def print_status(
    plans: list[runner.Plan], profile: str, jobs: int = 1, log=print, session: float | None = None
) -> None:
    """What ``build`` with the same options would do, one line per chapter, then the total (and, with
    ``session`` seconds, which chapters a session that long finishes); no kernel starts and nothing
    is written."""
    log(f"coursebook: profile {profile}, {len(plans)} chapter(s); what make book (make run with CHAPTER) would do:")
    log(f"  {data_line(plans)}")
    width = max((len(p.chapter_id) for p in plans), default=0)
    total, executing, estimated = 0.0, 0, []
    counts = runner.store_counts(plans)
    for plan in plans:
        if not plan.changed:
            state = "up to date"
        elif plan.text_only:
            state = "will re-render: text changed (no kernel, seconds)"
        else:
            train, read = counts.get(plan.chapter_id, (0, 0))
            seconds, basis = estimates.estimate(plan.chapter_id, plan.resolved.profile, plan.resolved.values, read)
            total += seconds
            executing += 1
            estimated.append((plan.chapter_id, seconds))
            reason = (
                "forced (make run always executes)"
                if plan.changed == ["forced"]
                else runner.describe_reason(plan.changed)
            )
            runs = f", {text}" if (text := runner.runs_text(train, read)) else ""
            state = f"will execute: {reason}{runs}, ~{progress.clock(seconds)} {basis}"
        log(f"  {plan.chapter_id:{width}s}  {state}")
    jobs_text = (
        f", ~{progress.clock(total / min(jobs, executing))} with {jobs} jobs" if jobs > 1 and executing > 1 else ""
    )
    rate, source = estimates.throughput()
    log(
        f"  total  {executing} of {len(plans)} chapter(s) will execute, ~{progress.clock(total)} of chapter time"
        f"{jobs_text} (first runs estimated at {rate:,.0f} training images/s, {source})"
    )
    if session is not None:
        log(f"  {estimates.session_text(estimated, session, jobs)}")


def _build(args: argparse.Namespace, start: float) -> int:
    summary = execute_chapters(lambda: _plan(args), args.profile, args.jobs, args.scheduler)
    html_start = time.perf_counter()
    html_status = runner.build_html(args.builder) if not args.no_html else 0
    html_seconds = None if args.no_html else time.perf_counter() - html_start
    runner.print_summary(summary, html_seconds)
    print(f"  {'total':11s} {time.perf_counter() - start:7.1f} s")
    if html_status:
        print(f"FAILED: jupyter-book build exited with {html_status}", file=sys.stderr)
    return 1 if summary.failed or html_status else 0


MAX_AUTO_JOBS = 4  # chapters at once for JOBS=auto: two chapters use 2 cores better than one, 4 suffice on more


def auto_jobs(cores: int | None = None) -> int:
    """The chapters run at once for ``JOBS=auto``: one per core, at most :data:`MAX_AUTO_JOBS`
    (the quick book took 971 s at one and 618 s at two chapters at a time on 2 cores).

    >>> auto_jobs(1), auto_jobs(2), auto_jobs(16)
    (1, 2, 4)
    """
    return max(1, min(cores if cores is not None else (os.cpu_count() or 1), MAX_AUTO_JOBS))


def _hours(text: str) -> float:
    """Seconds of a session given in hours (a number > 0)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"key 'session' (--session, SESSION=): value {text!r} is not allowed "
            "(expected a number of hours > 0, e.g. 4 or 1.5)"
        )
    return value * 3600


def _jobs(text: str) -> int:
    if text == "auto":
        return auto_jobs()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"key 'jobs' (--jobs, JOBS=): value {text!r} is not allowed (expected auto or an integer >= 1)"
        )
    return value


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise CommandLineError(message.removeprefix("argument ").split(": ", 1)[-1] if "key '" in message else message)


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m coursebook", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "validate", "status"])
    add_run_options(parser)
    parser.add_argument("--chapter", help="one chapter id from _toc.yml (re-executed even if up to date)")
    parser.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="parameter overrides for --chapter")
    parser.add_argument("--builder", default="html", choices=["html", "pdflatex"])
    parser.add_argument("--no-html", action="store_true", help="execute chapters only")
    parser.add_argument(
        "--session",
        type=_hours,
        help="status: which chapters a session of this many hours finishes, by the estimates (e.g. 4 or 1.5)",
    )
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that executes chapters (the Makefile's RUNNER_ARGS)."""
    parser.add_argument("--profile", default=params.DEFAULT_PROFILE, help="smoke | quick | full")
    parser.add_argument("--data", help=params.data_help("every chapter that declares it"))
    parser.add_argument(
        "--jobs", type=_jobs, default=1, help="chapters executed in parallel (auto: one per core, at most 4)"
    )
    parser.add_argument("--timeout", type=float, help="seconds any one cell may run, for this run (0: no limit)")
    parser.add_argument(
        "--scheduler", help="Dask scheduler address (tcp://host:port): run the chapters on that cluster"
    )
    parser.add_argument("--no-wait", action="store_true", help="refuse at once if another build holds the lock")


if __name__ == "__main__":
    sys.exit(main())
