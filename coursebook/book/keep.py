"""``python -m coursebook keep``: a session's finished work carried to a folder that outlives it (Google
Drive on Colab, ``/kaggle/working`` on Kaggle) as it finishes, and brought back by a fresh session, whose
build then computes only what is missing.

    python -m coursebook keep save DIR [--every SECONDS] [-- COMMAND ...]
    python -m coursebook keep restore DIR

The work is what a clone needs to reuse each finished chapter (its notebook, results file and run
record, as ``make freeze`` stages them; the record is copied last, so a copy cut short leaves a chapter
that executes again, never one that is wrongly reused) and the course's own files of finished work (the
run store: every training run, so a chapter cut short keeps its finished runs). ``DIR`` mirrors the
project's layout. Each file is copied atomically, and only when it differs (size or modification time)
from the copy already there. With a command (``-- make book ...``), ``save`` runs it and saves every
``SECONDS`` while it runs and once when it ends, exiting with its status: each chapter leaves the
session moments after it finishes.

Exit status: the command's (0 without one), 2 bad input.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from coursebook.atomic import atomic_write_bytes
from coursebook.book import cache, freeze, hooks, params, paths


def work_files() -> list[Path]:
    """The project's files of finished work, each chapter's record after its other files."""
    files = []
    for chapter in params.toc_chapter_ids():
        record, damage = cache.previous_run(chapter)
        if record is None or damage:
            continue
        last = cache.record_path(chapter)
        files += [f for f in freeze.chapter_files(chapter, record) if f != last] + [last]
    for directory in hooks.course().runs.session_dirs():
        if directory.is_dir() and _inside_project(directory):
            files += sorted(f for f in directory.rglob("*") if f.is_file() and not _transient(f.name))
    return files


def _inside_project(path: Path) -> bool:
    return path.resolve().is_relative_to(paths.ROOT.resolve())


def _transient(name: str) -> bool:
    """A lock or a temporary file of an atomic write: never part of the work."""
    return name.startswith(".") or name.endswith((".lock", ".tmp"))


def copy_changed(pairs: list[tuple[Path, Path]]) -> list[Path]:
    """Copy each (source, target) whose target differs in size or modification time, atomically and
    in order, keeping the source's modification time; the sources copied."""
    copied = []
    for source, target in pairs:
        stat = source.stat()
        try:
            there = target.stat()
            if (there.st_size, there.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                continue
        except FileNotFoundError:
            pass
        with open(source, "rb") as stream:
            atomic_write_bytes(target, functools.partial(shutil.copyfileobj, stream))
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        copied.append(source)
    return copied


def save(folder: Path) -> list[Path]:
    """The work copied to ``folder`` (what changed since the last save), relative to the project."""
    root = paths.ROOT.resolve()
    pairs = [(f, folder / f.resolve().relative_to(root)) for f in work_files()]
    return [f.resolve().relative_to(root) for f in copy_changed(pairs)]


def restore(folder: Path) -> list[Path]:
    """The work saved in ``folder`` copied back into the project (what differs), relative to it."""
    saved = sorted(
        (f for f in folder.rglob("*") if f.is_file() and not _transient(f.name)),
        key=lambda f: (f.parent, f.name.endswith(".run.json"), f.name),
    )  # records last
    pairs = [(f, paths.ROOT / f.relative_to(folder)) for f in saved]
    return [f.relative_to(folder) for f in copy_changed(pairs)]


def describe(copied: list[Path]) -> str:
    """'alpha, beta; 3 other file(s)': the chapters whose record was copied, and how many other files."""
    chapters = [p.name.removesuffix(".run.json") for p in copied if p.name.endswith(".run.json")]
    others = len(copied) - sum(1 for p in copied if p.parent == Path(paths.relative(paths.CHAPTERS_DIR)))
    parts = [f"chapter(s) {', '.join(chapters)}"] if chapters else []
    return "; ".join(parts + ([f"{others} other file(s)"] if others else [])) or "nothing new"


def _save_reporting(folder: Path) -> None:
    try:
        copied = save(folder)
    except OSError as err:  # an unmounted or full Drive must not stop the build: said, tried again next time
        print(f"coursebook keep: could not save to {folder}: {err}", file=sys.stderr, flush=True)
        return
    if copied:
        print(f"coursebook keep: saved {describe(copied)} to {folder}", flush=True)


def save_while(folder: Path, command: list[str], every: float) -> int:
    """Run ``command``, saving every ``every`` seconds while it runs and once when it ends; its status."""
    child = subprocess.Popen(command)
    try:
        while True:
            try:
                status = child.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                _save_reporting(folder)
    except KeyboardInterrupt:
        status = child.wait()
    _save_reporting(folder)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    options = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m coursebook keep")
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between saves while COMMAND runs")
    args = parser.parse_args(options)
    if args.every <= 0 or (command and args.action != "save"):
        print("error: command line: --every must be > 0, and only save runs a command", file=sys.stderr)
        return 2
    if args.action == "restore":
        if not args.folder.is_dir():
            print(f"coursebook keep: nothing saved in {args.folder} yet", flush=True)
            return 0
        print(f"coursebook keep: restored {describe(restore(args.folder))} from {args.folder}", flush=True)
        return 0
    if command:
        return save_while(args.folder, command, args.every)
    _save_reporting(args.folder)
    return 0
