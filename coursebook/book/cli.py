"""Command line of the book runner (the Makefile calls it).

    python -m coursebook build [--profile quick] [--chapter ID] [--set key=value ...] [--jobs N]
                               [--timeout SECONDS] [--scheduler tcp://host:port]
    python -m coursebook validate [--profile quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from coursebook.book import params, runner


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    start = time.perf_counter()
    try:
        overrides = params.parse_overrides(args.set or [])
        if args.set and not args.chapter:
            raise params.ParameterError("command line: --set/PARAMS needs --chapter/CHAPTER (overrides apply to one chapter)")
        if args.chapter:
            params.load_chapter(args.chapter)  # unknown chapter: fail before anything else
        plans = runner.plan_book(args.profile, [args.chapter] if args.chapter else None, overrides, args.data,
                                 force=bool(args.chapter), timeout=args.timeout)
    except params.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "validate":
        for plan in plans:
            print(f"ok  {plan.chapter_id}  ({runner.describe_reason(plan.changed)})")
        return 0
    print(f"coursebook: profile {args.profile}, {len(plans)} chapter(s)")
    summary = runner.execute_all(plans, jobs=args.jobs, scheduler=args.scheduler or None)
    html_start = time.perf_counter()
    html_status = runner.build_html(args.builder) if not args.no_html else 0
    html_seconds = None if args.no_html else time.perf_counter() - html_start
    runner.print_summary(summary, html_seconds)
    print(f"  {'total':11s} {time.perf_counter() - start:7.1f} s")
    if html_status:
        print(f"FAILED: jupyter-book build exited with {html_status}", file=sys.stderr)
    return 1 if summary.failed or html_status else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coursebook", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "validate"])
    parser.add_argument("--profile", default=params.DEFAULT_PROFILE, help="smoke | quick | full")
    parser.add_argument("--chapter", help="one chapter id from _toc.yml (re-executed even if up to date)")
    parser.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="parameter overrides for --chapter")
    parser.add_argument("--data", help="auto | cifar10 | synthetic, for every chapter that trains")
    parser.add_argument("--jobs", type=int, default=1, help="chapters executed in parallel")
    parser.add_argument("--timeout", type=float, help="seconds any one cell may run, for this run (0: no limit)")
    parser.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port): run the chapters on that cluster")
    parser.add_argument("--builder", default="html", choices=["html", "pdflatex"])
    parser.add_argument("--no-html", action="store_true", help="execute chapters only")
    return parser


if __name__ == "__main__":
    sys.exit(main())
