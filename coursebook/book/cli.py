"""Command line of the book runner (the Makefile calls it).

    python -m coursebook build [--profile quick] [--chapter ID] [--set key=value ...] [--jobs N]
    python -m coursebook validate [--profile quick]
    python -m coursebook publish [--remote origin] [--force]      (see coursebook.book.publish)
    python -m coursebook pdf [--part <assignment>] [--profile quick]  (see coursebook.book.pdf)
"""

from __future__ import annotations

import argparse
import sys
import time

from coursebook.book import params, runner


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["publish"]:
        from coursebook.book import publish

        return publish.main(argv[1:])
    if argv[:1] == ["pdf"]:
        from coursebook.book import pdf

        return pdf.main(argv[1:])
    args = _parser().parse_args(argv)
    start = time.perf_counter()
    try:
        overrides = params.parse_overrides(args.set or [])
        if args.set and not args.chapter:
            raise params.ParameterError("command line: --set/PARAMS needs --chapter/CHAPTER (overrides apply to one chapter)")
        if args.chapter:
            params.load_chapter(args.chapter)  # unknown chapter: fail before anything else
        plans = runner.plan_book(args.profile, [args.chapter] if args.chapter else None, overrides, args.data,
                                 force=bool(args.chapter))
    except params.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "validate":
        for plan in plans:
            print(f"ok  {plan.chapter_id}  ({runner.describe_reason(plan.changed)})")
        return 0
    print(f"coursebook: profile {args.profile}, {len(plans)} chapter(s)")
    summary = runner.execute_all(plans, jobs=args.jobs)
    html_start = time.perf_counter()
    html_status = runner.build_html(args.builder) if not args.no_html else 0
    html_seconds = None if args.no_html else time.perf_counter() - html_start
    runner.print_summary(summary, html_seconds)
    print(f"  total    {time.perf_counter() - start:7.1f} s")
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
    parser.add_argument("--builder", default="html", choices=["html", "pdflatex"])
    parser.add_argument("--no-html", action="store_true", help="execute chapters only")
    return parser


if __name__ == "__main__":
    sys.exit(main())
