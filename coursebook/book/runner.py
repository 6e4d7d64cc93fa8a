"""Execute out-of-date chapters with Papermill, then build the book with Jupyter Book.

``plan`` validates every chapter's parameters and computes its cache key before any kernel
starts; ``execute`` runs one chapter into a temporary notebook and renames it into place only on
success (a failed notebook is kept beside it as ``<id>.failed.ipynb`` and the last good output stays); ``build``
does both for the whole book, in parallel when asked, and prints what it did and why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from coursebook.book import cache, overview, paths
from coursebook.book.provenance import git_commit
from coursebook.book.runtime import RUN_ENV  # JSON describing the run, read inside the kernel
from coursebook.book.params import (ParameterError, Resolved, check_profile_keys, declarations, load_chapter, resolve,
                               toc_chapter_ids)



@dataclass
class Plan:
    """What to do with one chapter."""

    resolved: Resolved
    components: dict[str, str]
    changed: list[str]  # empty: reuse
    data_fingerprint: str = "none"  # the dataset the key was computed for; the kernel must load exactly it

    @property
    def chapter_id(self) -> str:
        return self.resolved.chapter.id

    @property
    def key(self) -> str:
        return cache.key_of(self.components)


@dataclass
class Outcome:
    chapter_id: str
    status: str  # "reused" | "executed" | "failed"
    reason: str
    seconds: float = 0.0
    error: str = ""


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# --------------------------------------------------------------------------- planning


def data_fingerprint(resolved: Resolved) -> str:
    """Fingerprint of the dataset a chapter trains on ('none' for chapters without data)."""
    if "data" not in resolved.values:
        return "none"
    from coursebook.course.data import DataError, dataset_fingerprint  # cheap: no deep-learning backend import

    try:
        return dataset_fingerprint(resolved.values["data"])
    except DataError as err:  # e.g. data=cifar10 without the archive: say so before any kernel starts
        where = "command line" if resolved.origin.get("data") == "override" else str(
            resolved.chapter.params_file.relative_to(paths.ROOT))
        raise ParameterError(f"{where}: key 'data' = {resolved.values['data']!r} for chapter "
                             f"{resolved.chapter.id}: {' '.join(str(err).split())}") from None


def plan_chapter(chapter_id: str, profile: str, overrides: dict[str, Any] | None, force: bool = False) -> Plan:
    resolved = resolve(chapter_id, profile, overrides)
    chapter = resolved.chapter
    fingerprint = data_fingerprint(resolved)
    components = {
        "notebook": cache.notebook_digest(chapter.notebook),
        "parameters": cache.parameters_digest(chapter.title, profile, resolved.values),
        "package": cache.package_digest(),
        "models": cache.models_digest(),
        "data": cache.digest(fingerprint),
        "requirements": cache.file_digest(paths.REQUIREMENTS_FILE),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }
    record = cache.read_record(chapter_id)
    if record and not cache.output_path(chapter_id).exists():
        record = None
    if record and record.get("results") and not cache.results_path(chapter_id).exists():
        record = None  # its results file is gone: run again rather than show a page without one
    changed = cache.changed_components(record and record.get("components"), components)
    if force and not changed:
        changed = ["forced"]
    return Plan(resolved, components, changed, fingerprint)


def plan_book(profile: str, chapters: list[str] | None = None, overrides: dict[str, Any] | None = None,
              data: str | None = None, force: bool = False) -> list[Plan]:
    """Validate and plan the given chapters (default: every chapter in ``_toc.yml``)."""
    all_ids = toc_chapter_ids()
    check_profile_keys(profile, all_ids)
    plans = []
    for chapter_id in chapters or all_ids:
        chapter_overrides = dict(overrides or {})
        if data is not None and "data" in declarations(load_chapter(chapter_id).notebook):
            chapter_overrides.setdefault("data", data)  # DATA= applies to the chapters that train
        plans.append(plan_chapter(chapter_id, profile, chapter_overrides, force))
    return plans


def describe_reason(changed: list[str]) -> str:
    if not changed:
        return "inputs unchanged"
    if len(changed) == len(cache.COMPONENTS):
        return "no previous result"
    return "changed: " + ", ".join(changed)


# --------------------------------------------------------------------------- executing one chapter


def execute(plan: Plan) -> Outcome:
    """Run one chapter; the executed notebook replaces the old one only if every cell succeeded."""
    import papermill

    chapter = plan.resolved.chapter
    reason = describe_reason(plan.changed)
    out = cache.output_path(chapter.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{chapter.id}.{os.getpid()}.running.ipynb")
    tmp_results = out.with_name(f".{chapter.id}.{os.getpid()}.running.results.json")
    tmp_results.unlink(missing_ok=True)
    os.environ[RUN_ENV] = json.dumps(run_description(plan, tmp_results))
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            source_with_title(chapter.notebook, chapter.title), str(tmp),
            parameters=plan.resolved.values, kernel_name="python3", cwd=str(paths.ROOT),
            progress_bar=False, log_output=False,
        )
    except Exception as err:  # noqa: BLE001 - any failure keeps the last good output (and results)
        seconds = time.perf_counter() - start
        tmp_results.unlink(missing_ok=True)
        return Outcome(chapter.id, "failed", reason, seconds, keep_failed(tmp, chapter.id, err))
    seconds = time.perf_counter() - start
    try:
        tidy_outputs(tmp)
        os.replace(tmp, out)
        wrote_results = promote_results(tmp_results, chapter.id)
    finally:
        tmp.unlink(missing_ok=True)  # only left if tidying failed: never leave half-done files
        tmp_results.unlink(missing_ok=True)
    cache.failed_path(chapter.id).unlink(missing_ok=True)  # an earlier failure is no longer current
    record = {
        "chapter": chapter.id, "key": plan.key, "components": plan.components, "profile": plan.resolved.profile,
        "parameters": plan.resolved.values, "overridden": plan.resolved.overridden, "seconds": round(seconds, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": git_commit(),
        "results": cache.results_path(chapter.id).name if wrote_results else None,
    }
    cache.atomic_write_text(cache.record_path(chapter.id), json.dumps(record, indent=2) + "\n")
    return Outcome(chapter.id, "executed", reason, seconds)


def _execute_safely(plan: Plan) -> Outcome:
    """``execute`` for a worker process: an unexpected error becomes a failed outcome."""
    try:
        return execute(plan)
    except Exception:  # noqa: BLE001
        return Outcome(plan.chapter_id, "failed", describe_reason(plan.changed), 0.0, traceback.format_exc(limit=3))


def promote_results(written: Path, chapter_id: str) -> bool:
    """After a successful run, the results file the kernel wrote becomes ``<id>.results.json``; a
    chapter that wrote none has none (an older file would disagree with the new page). Returns
    whether there is one."""
    if written.exists():
        os.replace(written, cache.results_path(chapter_id))
        return True
    cache.results_path(chapter_id).unlink(missing_ok=True)
    return False


def run_description(plan: Plan, results_path: Path | None = None) -> dict[str, Any]:
    """What the kernel needs to know about its run (read by ``runtime.start``); ``results_path`` is
    the temporary file ``run.save_results`` writes to."""
    r = plan.resolved
    return {
        "chapter": r.chapter.id, "title": r.chapter.title, "profile": r.profile, "parameters": r.values,
        "origin": r.origin, "params_file": str(r.chapter.params_file.relative_to(paths.ROOT)),
        "commit": git_commit(), "started": time.time(), "data_fingerprint": plan.data_fingerprint,
        "results_path": str(results_path) if results_path else None,
    }


def source_with_title(notebook: Path, title: str) -> nbformat.NotebookNode:
    """The source notebook with its first heading replaced by the chapter title from params/."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            if lines and lines[0].startswith("# "):
                cell.source = "\n".join([f"# {title}", *lines[1:]])
            else:
                cell.source = f"# {title}\n\n{cell.source}"
            break
    return nb


def tidy_outputs(notebook: Path) -> None:
    """Tag Papermill's injected cell so the book removes it (the run card shows the values), and
    drop the backend's start-up log lines from stderr (C++ logging that no setting silences)."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(_without_backend_noise, cell.outputs) if o is not None]
    nbformat.write(nb, notebook)


BACKEND_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:. ]+\d+ \S+\.(cc|h):\d+\]"
    r"|.*(oneDNN custom operations|cuda_(blas|dnn|fft)|TF-TRT|computation placer|Unable to register)"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    r"|This TensorFlow binary is optimized to use available CPU instructions)"
)


def _without_backend_noise(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    if output.output_type != "stream" or output.name != "stderr":
        return output
    kept = [line for line in output.text.splitlines(keepends=True) if not BACKEND_NOISE.match(line)]
    if not "".join(kept).strip():
        return None
    output.text = "".join(kept)
    return output


def keep_failed(tmp: Path, chapter_id: str, err: Exception) -> str:
    """Keep a failed notebook beside the chapter's output and describe the failing cell in one line."""
    failed = cache.failed_path(chapter_id)
    if tmp.exists():
        failed.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, failed)
    cell = getattr(err, "exec_count", None)
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    where = f"cell [{cell}]" if cell is not None else "before the first cell"
    return f"{where}: {ename}: {' '.join(str(evalue).split())[:300]} (notebook kept at {failed.relative_to(paths.ROOT)})"


# --------------------------------------------------------------------------- the whole book


def execute_all(plans: list[Plan], jobs: int = 1, log=print) -> Summary:
    """Execute the stale chapters (``jobs`` at a time), reuse the others; one failure stops nothing."""
    summary = Summary()
    todo = [p for p in plans if p.changed]
    for plan in plans:
        if not plan.changed:
            summary.outcomes.append(Outcome(plan.chapter_id, "reused", describe_reason(plan.changed)))
            log(f"  reused    {plan.chapter_id}  ({describe_reason(plan.changed)})")
    for plan in todo:
        log(f"  executing {plan.chapter_id}  ({describe_reason(plan.changed)})")
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_execute_safely, todo))
    else:
        results = [_execute_safely(plan) for plan in todo]
    for outcome in results:
        summary.outcomes.append(outcome)
        verb = "executed" if outcome.status == "executed" else "FAILED  "
        log(f"  {verb}  {outcome.chapter_id}  in {outcome.seconds:.1f} s" + (f"  -- {outcome.error}" if outcome.error else ""))
    order = {p.chapter_id: i for i, p in enumerate(plans)}
    summary.outcomes.sort(key=lambda o: order[o.chapter_id])
    return summary


def print_summary(summary: Summary, html_seconds: float | None, log=print) -> None:
    log("\nSummary")
    for o in summary.outcomes:
        seconds = f"{o.seconds:7.1f} s" if o.status != "reused" else "        -"
        log(f"  {o.status:8s} {seconds}  {o.chapter_id}  ({o.reason})")
    if html_seconds is not None:
        log(f"  html     {html_seconds:7.1f} s  _build/html")
    for o in summary.failed:
        log(f"FAILED: {o.chapter_id}: {o.error}")


def build_html(builder: str = "html") -> int:
    """Jupyter Book 1 build of the whole book; warnings are errors, every problem is reported.
    The landing page's results overview is regenerated first, from the chapters' results files."""
    overview.write()
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(paths.ROOT), "--builder", builder, "-W", "-n", "--keep-going"]
    if builder == "pdflatex":
        cmd.remove("-W")  # LaTeX warnings about fonts and figure placement are not errors
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    return subprocess.run(cmd, cwd=paths.ROOT, env=env).returncode
