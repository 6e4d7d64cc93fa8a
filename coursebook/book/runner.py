"""Execute out-of-date chapters with Papermill, then build the book with Jupyter Book.

``plan`` validates every chapter's parameters and computes its cache key before any kernel
starts; ``execute`` runs one chapter into a temporary notebook and renames it into place only on
success (a failed notebook is kept beside it as ``<id>.failed.ipynb`` and the last good output stays); ``build``
does both for the whole book, in parallel when asked, and prints what it did and why.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from coursebook.atomic import atomic_write_texts
from coursebook.book import cache, estimates, executors, interrupts, overview, pagetext, paths, progress
from coursebook.book.hooks import CourseInputError, course
from coursebook.book.params import (
    ParameterError,
    Resolved,
    check_profile_keys,
    check_toc,
    load_chapter,
    resolve,
    toc_chapter_ids,
    with_data,
)
from coursebook.book.provenance import git_commit
from coursebook.book.timeouts import chapter_timeout


@dataclass
class Plan:
    """What to do with one chapter."""

    resolved: Resolved
    components: dict[str, str]
    changed: list[str]  # empty: reuse; ["text"]: re-render from the cached execution
    data_fingerprint: str = "none"  # the dataset the key was computed for; the kernel must load exactly it
    timeout: float | None = None  # seconds any one cell may run (None: no limit)
    run_keys: list[str] = field(default_factory=list)  # the run-store key of every training run it asks for
    # while this one executes, start the next chapter's kernel and import these modules in it
    # (None: start none, no chapter follows on this worker)
    kernel_ahead: tuple[str, ...] | None = None

    @property
    def chapter_id(self) -> str:
        return self.resolved.chapter.id

    @property
    def key(self) -> str:
        return cache.key_of(self.components)

    @property
    def text_only(self) -> bool:
        """Only the text changed: re-render the cached execution, run nothing."""
        return self.changed == ["text"]


@dataclass
class Outcome:
    chapter_id: str
    status: str  # "reused" | "re-rendered" | "executed" | "failed"
    reason: str
    seconds: float = 0.0
    error: str = ""
    runs: tuple[int, int] | None = None  # (trained, read from the run store) when it executed and trains


@dataclass
class Result:
    """What a chapter's run hands back to the submitting side, which writes the files."""

    outcome: Outcome
    notebook: str | None = None  # the executed notebook (JSON) on success
    failed_notebook: str | None = None  # the partly executed notebook on failure
    results: str | None = None  # the results file (JSON) the kernel wrote, on success


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# --------------------------------------------------------------------------- planning


def data_fingerprint(resolved: Resolved) -> str:
    """Fingerprint of the dataset a chapter trains on ('none' for chapters without data)."""
    try:
        return course().runs.data_fingerprint(resolved.values)
    except CourseInputError as err:  # e.g. data the course cannot find: say so before any kernel starts
        where = (
            "command line"
            if resolved.origin.get(err.key) == "override"
            else str(resolved.chapter.params_file.relative_to(paths.ROOT))
        )
        raise ParameterError(
            f"{where}: key '{err.key}' = {resolved.values[err.key]!r} for chapter {resolved.chapter.id}: {err}"
        ) from None


def plan_chapter(
    chapter_id: str, profile: str, overrides: dict[str, Any] | None, force: bool = False, timeout: float | None = None
) -> Plan:
    """Validate one chapter and compare its inputs with the last run's; ``timeout`` (seconds, from
    the command line) wins over the chapter's and the profile's."""
    resolved = resolve(chapter_id, profile, overrides)
    chapter = resolved.chapter
    fingerprint = data_fingerprint(resolved)
    text = pagetext.text_parameters(chapter.notebook, list(resolved.values))
    components = {
        "notebook": cache.notebook_digest(chapter.notebook),
        "text": pagetext.text_digest(chapter.notebook, chapter.title, {k: resolved.values[k] for k in text}),
        "parameters": cache.parameters_digest(profile, {k: v for k, v in resolved.values.items() if k not in text}),
        "package": cache.package_digest(),
        "requirements": cache.file_digest(paths.REQUIREMENTS_FILE),
        # DETERMINISTIC=1 changes the kernels a run uses: its results are not those of a plain run
        "backend": course().kernel.backend() + (" (deterministic)" if executors.deterministic() else ""),
        **{name: component(resolved.values, fingerprint) for name, component in course().runs.cache_components.items()},
    }
    record, damage = cache.previous_run(chapter_id)
    changed = [damage] if damage else cache.changed_components(record and record["components"], components)
    if force and not changed:
        changed = ["forced"]
    store = course().runs.run_store
    keys = store.keys(resolved.values, fingerprint) if store else []
    return Plan(resolved, components, changed, fingerprint, chapter_timeout(chapter, profile, timeout), keys)


def store_counts(plans: list[Plan]) -> dict[str, tuple[int, int]]:
    """(runs to train, runs to read) of every chapter that will execute, in build order: a run the
    store holds, or that an earlier chapter of the same build trains, is read."""
    store, claimed, counts = course().runs.run_store, set(), {}
    for plan in plans:
        if not plan.changed or plan.text_only:
            continue
        train = read = 0
        for key in plan.run_keys:
            if key in claimed or (store is not None and store.holds(key)):
                read += 1
            else:
                train += 1
            claimed.add(key)
        counts[plan.chapter_id] = (train, read)
    return counts


def execution_order(plans: list[Plan]) -> list[Plan]:
    """``plans`` with every chapter that reads a run an earlier one trains moved after all the others
    (in their order): started last, it finds those runs stored instead of waiting for them while they
    train, and the chapters that train them keep their place."""
    trained: set[str] = set()
    readers = []
    for plan in plans:
        if trained.intersection(plan.run_keys):
            readers.append(plan)
        trained.update(plan.run_keys)
    return [plan for plan in plans if plan not in readers] + readers


def runs_text(train: int, read: int) -> str:
    """'4 runs to train, 2 read from the run store' (a chapter without runs: '')."""
    if not train + read:
        return ""
    return f"{train} run{'s' if train != 1 else ''} to train" + (f", {read} read from the run store" if read else "")


def plan_book(
    profile: str,
    chapters: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    data: str | None = None,
    force: bool = False,
    timeout: float | None = None,
) -> list[Plan]:
    """Validate and plan the given chapters (default: every chapter in ``_toc.yml``)."""
    all_ids = toc_chapter_ids()
    if chapters is None:  # the whole book: _toc.yml and params/ must agree (one chapter may be tried alone)
        check_toc(all_ids)
    check_profile_keys(profile, all_ids)
    plans = []
    for chapter_id in chapters or all_ids:
        chapter_overrides = with_data(overrides, load_chapter(chapter_id).notebook, data)  # the chapters that train
        plans.append(plan_chapter(chapter_id, profile, chapter_overrides, force, timeout))
    return plans


def describe_reason(changed: list[str]) -> str:
    if not changed:
        return "inputs unchanged"
    if changed[0].startswith("damaged "):
        return f"{changed[0]}: executing again"
    if len(changed) == len(cache.components()):
        return "no previous result"
    if changed == ["text"]:
        return "text changed"
    return "changed: " + ", ".join(changed)


# --------------------------------------------------------------------------- executing one chapter


def execute(plan: Plan) -> Outcome:
    """Run one chapter here and write its files; the executed notebook replaces the old one only
    if every cell succeeded."""
    return commit(plan, run_safely(plan))


def run_chapter(plan: Plan) -> Result:
    """Execute one chapter into a private temporary directory and return the notebook's content;
    nothing in ``book/chapters`` changes here (see :func:`commit`), so this runs anywhere a worker is."""
    import papermill

    chapter = plan.resolved.chapter
    reason = describe_reason(plan.changed)
    progress_file = progress_path(chapter.id)
    progress_file.parent.mkdir(parents=True, exist_ok=True)
    progress.report("start", path=progress_file, chapter=chapter.id)
    paths.CHAPTERS_DIR.mkdir(parents=True, exist_ok=True)  # a killed run's directory is found there and removed
    with tempfile.TemporaryDirectory(prefix=f".{chapter.id}.{os.getpid()}.running.", dir=paths.CHAPTERS_DIR) as workdir:
        tmp = Path(workdir) / f"{chapter.id}.ipynb"
        tmp_results = Path(workdir) / f"{chapter.id}.results.json"  # written by run.save_results
        env = executors.kernel_env(json.dumps(run_description(plan, progress_file, tmp_results)))
        log_path = paths.BUILD_DIR / "logs" / f"{chapter.id}.kernel.log"
        start = time.perf_counter()
        kernel = executors.take_ahead(env, log_path)  # started during the chapter before, imports done
        if plan.kernel_ahead is not None:
            executors.start_ahead(env, plan.kernel_ahead)
        try:
            papermill.execute_notebook(
                pagetext.prepare_source(chapter.notebook, chapter.title, plan.resolved.values),
                str(tmp),
                parameters=plan.resolved.values,
                kernel_name="python3",
                cwd=str(paths.ROOT),
                progress_bar=False,
                log_output=False,
                execution_timeout=plan.timeout,
                kernel_manager_class=executors.kernel_manager_class(env, log_path),
                km=kernel,  # None: papermill starts one with the class above
                shutdown_kernel="immediate",  # its work is written: a graceful exit only waits for TensorFlow's
            )
        except Exception as err:  # noqa: BLE001 - any failure keeps the last good output
            seconds = time.perf_counter() - start
            failed = tmp.read_text(encoding="utf-8") if tmp.exists() else None
            return Result(
                Outcome(chapter.id, "failed", reason, seconds, describe_failure(err, tmp, plan)), failed_notebook=failed
            )
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: `interrupts` has stopped every kernel already, and
            kernel = None  # stopping one through its manager would run the loop that resumes the cut cells
            executors.forget_ahead()
            raise
        finally:
            if kernel is not None:  # papermill stops only the kernels it started
                executors.close_kernel(kernel)
        seconds = time.perf_counter() - start
        tidy_outputs(tmp)
        results = tmp_results.read_text(encoding="utf-8") if tmp_results.exists() else None
        return Result(
            Outcome(chapter.id, "executed", reason, seconds), notebook=tmp.read_text(encoding="utf-8"), results=results
        )


UNWRITABLE = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT}


def run_safely(plan: Plan) -> Result:
    """``run_chapter`` for a worker: an unexpected error becomes a failed result; Ctrl-C or SIGTERM
    stops the kernel and removes the chapter's temporary files (the old output stays)."""
    try:
        with interrupts.leaves_nothing(plan.chapter_id):
            return run_chapter(plan)
    except OSError as err:
        if err.errno not in UNWRITABLE:
            return lost(plan, traceback.format_exc(limit=3))
        return lost(plan, unwritable(err))
    except Exception:  # noqa: BLE001
        return lost(plan, traceback.format_exc(limit=3))


def lost(plan: Plan, message: str) -> Result:
    """A failed result for a chapter that produced no notebook."""
    return Result(Outcome(plan.chapter_id, "failed", describe_reason(plan.changed), 0.0, message))


def commit(plan: Plan, result: Result) -> Outcome:
    """Write a run's files on this side. On success the results file, the executed notebook and
    its record replace the old ones together (all are written first, then renamed into place, the
    record last, with Ctrl-C held off meanwhile) and the old failed notebook goes; a chapter that
    wrote no results file has none (an older one would disagree with the new page). On failure
    only the failed notebook is written, beside the last good output."""
    chapter_id, outcome = plan.chapter_id, result.outcome
    if outcome.status != "executed" or result.notebook is None:
        if result.failed_notebook is not None:
            failed = cache.failed_path(chapter_id)
            cache.atomic_write_text(failed, result.failed_notebook)
            outcome.error += f" (notebook kept at {failed.relative_to(paths.ROOT)})"
        outcome.status = "failed"
        return outcome
    results = cache.results_path(chapter_id)
    store = course().runs.run_store
    if store is not None and result.results and any(counts := store.counts(result.results)):
        outcome.runs = counts
    trained, read = outcome.runs or (None, None)
    record = record_text(
        plan,
        outcome.seconds,
        results=results.name if result.results else None,
        results_digest=cache.digest(result.results) if result.results else None,
        runs_trained=trained,
        runs_read=read,
    )
    with interrupts.deferred():
        atomic_write_texts(
            {
                results: result.results,
                cache.output_path(chapter_id): result.notebook,
                cache.record_path(chapter_id): record,
                cache.failed_path(chapter_id): None,
            }
        )
    return outcome


def commit_safely(plan: Plan, result: Result) -> Outcome:
    """:func:`commit`, with a read-only or full disk said in one line (the previous result is kept)."""
    try:
        return commit(plan, result)
    except OSError as err:
        if err.errno not in UNWRITABLE:
            raise
        return Outcome(
            plan.chapter_id, "failed", describe_reason(plan.changed), result.outcome.seconds, unwritable(err)
        )


def unwritable(err: OSError) -> str:
    where = f" {err.filename}" if err.filename else ""  # the system's reason, in one line
    return f"cannot write{where}: {err.strerror or err} (the previous result is kept)"


def write_record(plan: Plan, seconds: float, **extra: Any) -> None:
    cache.atomic_write_text(cache.record_path(plan.chapter_id), record_text(plan, seconds, **extra))


def record_text(plan: Plan, seconds: float, **extra: Any) -> str:
    """The run's record (``<id>.run.json``): key, components, parameters, commit, seconds."""
    record = {
        "chapter": plan.chapter_id,
        "key": plan.key,
        "components": plan.components,
        "profile": plan.resolved.profile,
        "parameters": plan.resolved.values,
        "overridden": plan.resolved.overridden,
        "seconds": round(seconds, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": git_commit(),
        **extra,
    }
    return json.dumps(record, indent=2) + "\n"


def rerender(plan: Plan) -> Outcome:
    """Text-only change: rebuild the page from the cached execution (new Markdown, title and
    question; the code cells keep their outputs) without a kernel. Raises pagetext.RenderError when
    the cached notebook does not fit, and the chapter must execute."""
    chapter = plan.resolved.chapter
    start = time.perf_counter()
    executed = nbformat.read(cache.output_path(chapter.id), as_version=4)
    source = pagetext.prepare_source(chapter.notebook, chapter.title, plan.resolved.values)
    page = pagetext.rerender(executed, source, plan.resolved.values)
    old = cache.read_record(chapter.id) or {}
    record = record_text(
        plan,
        float(old.get("seconds", 0.0)),
        results=old.get("results"),
        results_digest=old.get("results_digest"),
        rerendered=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    with interrupts.deferred():
        atomic_write_texts(
            {cache.output_path(chapter.id): nbformat.writes(page) + "\n", cache.record_path(chapter.id): record}
        )
    return Outcome(chapter.id, "re-rendered", describe_reason(plan.changed), time.perf_counter() - start)


def progress_path(chapter_id: str) -> Path:
    return paths.BUILD_DIR / "progress" / f"{chapter_id}.jsonl"


def run_description(plan: Plan, progress_file: Path | None = None, results_path: Path | None = None) -> dict[str, Any]:
    """What the kernel needs to know about its run (read by ``runtime.start``); ``results_path`` is
    the temporary file ``run.save_results`` writes to."""
    r = plan.resolved
    return {
        "chapter": r.chapter.id,
        "title": r.chapter.title,
        "profile": r.profile,
        "parameters": r.values,
        "origin": r.origin,
        "params_file": str(r.chapter.params_file.relative_to(paths.ROOT)),
        "commit": git_commit(),
        "started": time.time(),
        "data_fingerprint": plan.data_fingerprint,
        "text_parameters": pagetext.text_parameters(r.chapter.notebook, list(r.values)),
        "deterministic": executors.deterministic(),
        "progress_file": str(progress_file) if progress_file else None,
        "results_path": str(results_path) if results_path else None,
    }


def tidy_outputs(notebook: Path) -> None:
    """Tag Papermill's injected cell so the book removes it (the run card shows the values), and
    drop the backend's start-up log lines from stderr (``hooks.Kernel.log_noise``)."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(_without_backend_noise, cell.outputs) if o is not None]
    nbformat.write(nb, notebook)


def _without_backend_noise(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    if output.output_type != "stream" or output.name != "stderr":
        return output
    noise = course().kernel.log_noise
    kept = [line for line in output.text.splitlines(keepends=True) if not noise.match(line)]
    if not "".join(kept).strip():
        return None
    output.text = "".join(kept)
    return output


def describe_failure(err: Exception, notebook: Path, plan: Plan) -> str:
    """The failing cell and the error in one line; a timeout names the cell and the limit."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    cell = getattr(err, "exec_count", None)
    timed_out = isinstance(err, TimeoutError) and "timed out" in str(err)
    if timed_out or cell is None:
        cell = last_started_cell(notebook)
    where = f"cell [{cell}]" if cell is not None else "before the first cell"
    if timed_out:
        return (
            f"{where} ran longer than the time limit of {plan.timeout:g} s per cell and was stopped "
            f"(its kernel was shut down); raise the limit with TIMEOUT=<seconds> or 'timeout' in "
            f"{plan.resolved.chapter.params_file.relative_to(paths.ROOT)}"
        )
    if type(err).__name__ == "DeadKernelError":
        where, ename, evalue = dying_cell(notebook), "kernel died", "killed (out of memory, or a signal)"
    return f"{where}: {ename}: {' '.join(str(evalue).split())[:300]}"


def last_started_cell(notebook: Path) -> int | None:
    """Execution count of the last code cell that started (the one that was running)."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError):
        return None
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    return counts[-1] if counts else None


def dying_cell(notebook: Path) -> str:
    """The cell a dead kernel was running: the last code cell Papermill started (its count, if the
    kernel did not announce one, follows the previous cell's)."""
    try:
        cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code" and c.source.strip()]
    except (OSError, ValueError):
        return "an unknown cell"
    started = [i for i, cell in enumerate(cells) if cell.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return "an unknown cell"
    cell, count = cells[started[-1]], 0
    for earlier in cells[: started[-1] + 1]:
        count = earlier.get("execution_count") or count + (earlier is cell)
    first = next(line for line in cell.source.splitlines() if line.strip())
    return f"cell [{count}] ({first.strip()[:80]})"


# --------------------------------------------------------------------------- the whole book


def execute_all(
    plans: list[Plan], jobs: int = 1, log=print, scheduler: str | None = None, live: bool | None = None
) -> Summary:
    """Reuse the up-to-date chapters, re-render those whose text alone changed, execute the others
    (``jobs`` at a time, or on the Dask cluster at ``scheduler``) with live progress; one failure
    stops nothing."""
    executors.quiet_logs()
    summary = Summary()
    todo = []
    for plan in plans:
        if not plan.changed:
            summary.outcomes.append(Outcome(plan.chapter_id, "reused", describe_reason(plan.changed)))
            log(f"  reused    {plan.chapter_id}  ({describe_reason(plan.changed)})")
        elif plan.text_only and (outcome := _try_rerender(plan)) is not None:
            summary.outcomes.append(outcome)
            log(f"  re-rendered {plan.chapter_id}  (text changed) in {outcome.seconds:.1f} s")
        else:
            todo.append(plan)
    todo = with_kernels_ahead(execution_order(todo), jobs, scheduler)
    expected = announce(todo, jobs if not scheduler else 1, log)
    for plan in todo:
        progress_path(plan.chapter_id).unlink(missing_ok=True)
    files = {p.chapter_id: progress_path(p.chapter_id) for p in todo}
    with progress.Display(files, expected, live=live, write=log) as display:
        for plan, result in executors.run_all(todo, run_safely, lost, jobs, scheduler):
            outcome = commit_safely(plan, result)
            display.done(plan.chapter_id)
            summary.outcomes.append(outcome)
            verb = "executed" if outcome.status == "executed" else "FAILED  "
            log(
                f"  {verb}  {outcome.chapter_id}  in {outcome.seconds:.1f} s"
                + (f"  -- {outcome.error}" if outcome.error else "")
            )
    order = {p.chapter_id: i for i, p in enumerate(plans)}
    summary.outcomes.sort(key=lambda o: order[o.chapter_id])
    return summary


def with_kernels_ahead(todo: list[Plan], jobs: int, scheduler: str | None) -> list[Plan]:
    """Mark the chapters during which the next chapter's kernel starts and imports what the chapters
    import: every chapter after which the same worker still has one to execute, in the order they
    start (one after another, or ``jobs`` at a time; a Dask cluster's workers run chapters in threads
    and start their own kernels)."""
    workers = max(1, min(jobs, len(todo)))
    if scheduler or len(todo) <= workers:
        return todo
    imports = executors.imported_modules(list(dict.fromkeys(plan.resolved.chapter.notebook for plan in todo)))
    return [replace(plan, kernel_ahead=imports if i < len(todo) - workers else None) for i, plan in enumerate(todo)]


def announce(todo: list[Plan], jobs: int, log=print) -> dict[str, float]:
    """Say what will execute, why, how many runs it trains and reads from the run store, how long
    it should take and under which time limit; return the expected seconds per chapter."""
    expected, counts = {}, store_counts(todo)
    for plan in todo:
        train, read = counts.get(plan.chapter_id, (0, 0))
        seconds, basis = estimates.estimate(plan.chapter_id, plan.resolved.profile, plan.resolved.values, read)
        expected[plan.chapter_id] = seconds
        limit = f", limit {plan.timeout:g} s per cell" if plan.timeout else ""
        runs = f"; {text}" if (text := runs_text(train, read)) else ""
        log(
            f"  executing {plan.chapter_id}  ({describe_reason(plan.changed)}{runs}; "
            f"~{progress.clock(seconds)} {basis}{limit})"
        )
    if len(todo) > 1:
        total = sum(expected.values())
        parallel = f", about ~{progress.clock(total / min(jobs, len(todo)))} with {jobs} jobs" if jobs > 1 else ""
        log(f"  expected  ~{progress.clock(total)} of chapter time in all{parallel}")
    return expected


def _try_rerender(plan: Plan) -> Outcome | None:
    try:
        return rerender(plan)
    except (pagetext.RenderError, OSError, ValueError):
        plan.changed = ["text", "cached notebook unusable"]  # it does not fit the source: run the code
        return None


def print_summary(summary: Summary, html_seconds: float | None, log=print) -> None:
    log("\nSummary")
    for o in summary.outcomes:
        seconds = f"{o.seconds:7.1f} s" if o.status != "reused" else "        -"
        runs = (
            f"; {o.runs[0]} run{'s' if o.runs[0] != 1 else ''} trained, {o.runs[1]} read from the run store"
            if o.runs
            else ""
        )
        log(f"  {o.status:11s} {seconds}  {o.chapter_id}  ({o.reason}{runs})")
    if html_seconds is not None:
        log(f"  {'html':11s} {html_seconds:7.1f} s  _build/html")
    for o in summary.failed:
        log(f"FAILED: {o.chapter_id}: {o.error}")


def build_html(builder: str = "html", log=print) -> int:
    """Jupyter Book 1 build of the whole book; warnings are errors, every problem is reported.
    The landing page's results overview is regenerated first, from the chapters' results files.
    A chapter never executed in this checkout (a fresh clone after ``make run CHAPTER=...``) gets a
    short page saying so for the length of the build, so the chapters that exist are built and every
    link still resolves; the list of those chapters is said once."""
    overview.write()
    remove_placeholders()  # left by an interrupted build: an executed chapter must not have two sources
    unbuilt = [c for c in toc_chapter_ids() if not cache.output_path(c).exists()]
    if unbuilt:
        log(f"  not built yet: {', '.join(unbuilt)} (their pages say so; make book executes them)")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(paths.ROOT), "--builder", builder, "-W", "-n", "--keep-going"]
    if builder == "pdflatex":
        cmd.remove("-W")  # LaTeX warnings about fonts and figure placement are not errors
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    try:
        write_placeholders(unbuilt)
        return subprocess.run(cmd, cwd=paths.ROOT, env=env).returncode
    finally:
        remove_placeholders()


PLACEHOLDER_MARK = "<!-- coursebook: placeholder of a chapter not built yet (removed after the HTML build) -->"
PLACEHOLDER = """{mark}
# {title}

```{{admonition}} Not built yet
:class: note

This chapter has not been executed in this copy of the book. `make run CHAPTER={chapter}` executes
it alone, `make book` every chapter that is missing or out of date, and `make status` says which
those are and how long they should take.
```
"""


def placeholder_path(chapter_id: str) -> Path:
    return paths.CHAPTERS_DIR / f"{chapter_id}.md"


def write_placeholders(chapter_ids: list[str]) -> None:
    """A page for each chapter that has no executed notebook (its title and how to build it)."""
    paths.CHAPTERS_DIR.mkdir(parents=True, exist_ok=True)
    for chapter_id in chapter_ids:
        text = PLACEHOLDER.format(mark=PLACEHOLDER_MARK, title=load_chapter(chapter_id).title, chapter=chapter_id)
        cache.atomic_write_text(placeholder_path(chapter_id), text)


def remove_placeholders() -> None:
    """Remove every placeholder page (only files that carry the mark: nothing else is touched)."""
    for page in paths.CHAPTERS_DIR.glob("*.md") if paths.CHAPTERS_DIR.is_dir() else []:
        try:
            if page.read_text(encoding="utf-8").startswith(PLACEHOLDER_MARK):
                page.unlink()
        except (OSError, UnicodeDecodeError):
            continue
