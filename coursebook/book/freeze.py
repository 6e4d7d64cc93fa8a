"""``make freeze``: stage the executed chapters for a commit, so that a clone of that commit (CI, a
classmate, another machine) reuses them instead of executing them again.

    python -m coursebook freeze

A chapter is reused when its record (``<id>.run.json``) matches its inputs and every file the record
names is there, so exactly these are staged (``git add -f``: ``book/chapters/`` is ignored):
the executed notebook ``<id>.ipynb``, the record ``<id>.run.json`` and, for a chapter that trains,
the results file ``<id>.results.json`` (the record names it and holds its digest: without it the
chapter is "damaged (missing)" and executes again). Failed notebooks are never staged.

A chapter is staged only if it is up to date: planned again with its record's profile and parameters,
nothing has changed since it ran (commit the sources you computed it from). Chapters run with
``PARAMS`` overrides (``make run``) are staged but said: ``make book`` in CI uses the values in
``params/`` and would execute them again. The profile each chapter was computed with is said too:
CI reuses it only when its ``PROFILE`` (repository variable) is the same.

Exit status: 0 every executed chapter staged, 1 some executed chapter not staged (out of date or
damaged: one line says why), 2 not a git checkout.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from coursebook.book import cache, params, paths, runner


def chapter_files(chapter_id: str, record: dict) -> list[Path]:
    """The files a clone needs to reuse one chapter: notebook, record and the results file it names."""
    files = [cache.output_path(chapter_id), cache.record_path(chapter_id)]
    if record.get("results"):
        files.append(cache.results_path(chapter_id))
    return files


def why_not(chapter_id: str) -> tuple[list[Path], str, dict]:
    """(the files to stage, '' or why the chapter cannot be staged, its record)."""
    record, damage = cache.previous_run(chapter_id)
    if damage:
        return [], damage, {}
    if record is None:
        return [], "not built yet", {}
    overrides = {
        k: record["parameters"][k] for k in record.get("overridden") or [] if k in record.get("parameters", {})
    }
    try:
        plan = runner.plan_chapter(chapter_id, record.get("profile", params.DEFAULT_PROFILE), overrides)
    except params.ParameterError as err:
        return [], f"its parameters are no longer valid ({err})", record
    if plan.changed:
        return [], f"out of date ({runner.describe_reason(plan.changed)}): run make book first", record
    return chapter_files(chapter_id, record), "", record


def main(argv: list[str] | None = None) -> int:
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=paths.ROOT, capture_output=True, text=True
    )
    if inside.returncode or inside.stdout.strip() != "true":
        print(f"error: {paths.ROOT} is not a git checkout: nothing to stage", file=sys.stderr)
        return 2
    staged, problems, not_built, overridden = [], [], [], []
    profiles: Counter[str] = Counter()
    for chapter_id in params.toc_chapter_ids():
        files, problem, record = why_not(chapter_id)
        if problem == "not built yet":
            not_built.append(chapter_id)
        elif problem:
            problems.append(f"  not staged  {chapter_id}: {problem}")
        else:
            staged.append((chapter_id, files))
            profiles[record.get("profile", "?")] += 1
            if record.get("overridden"):
                overridden.append(f"{chapter_id} ({', '.join(record['overridden'])})")
    names = [str(f.relative_to(paths.ROOT)) for _, chapter in staged for f in chapter]
    if names:
        added = subprocess.run(["git", "add", "-f", "--", *names], cwd=paths.ROOT, capture_output=True, text=True)
        if added.returncode:
            print(f"error: git add: {(added.stderr or added.stdout).strip().splitlines()[-1]}", file=sys.stderr)
            return 1
    print(f"coursebook: staged {len(staged)} chapter(s), {len(names)} file(s) (git add -f):")
    for chapter_id, chapter in staged:
        print(f"  staged      {chapter_id}  ({', '.join(f.name for f in chapter)})")
    for line in problems:
        print(line)
    if not_built:
        print(f"  not built yet: {', '.join(not_built)} (a clone executes them)")
    if staged:
        print(
            f"  profile(s): {', '.join(f'{p} ({n})' for p, n in profiles.items())}: CI reuses them when its "
            "PROFILE (the repository variable) is the same"
        )
    if overridden:
        print(
            f"  run with overrides (make run PARAMS=...): {'; '.join(overridden)}: make book uses params/ "
            "and would execute them again"
        )
    if staged:
        print('  next: git commit -m "Executed chapters" && git push')
    return 1 if problems else 0
