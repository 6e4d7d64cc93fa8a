"""The chapter cache: a chapter re-executes only when one of its inputs changed.

A chapter's key is built from named components (the source notebook's code cells, its text (Markdown
cells, title, quoted question: see ``pagetext``), the effective parameters,
the package source, the architecture specs, the dataset fingerprint, the pinned requirements and
the backend the kernels use, ``hooks.Kernel.backend``).
Each executed chapter stores its components in a record beside the executed notebook, so the
runner can say not only *that* a chapter is stale but *which* input changed.

What the key must contain, and what it must not (so that a chapter computed on a GPU, ``make book
PROFILE=full GPU=1``, frozen with ``make freeze`` and committed, is reused by a CPU-only CI run of
the same commit): it holds everything that changes what a run computes or means, i.e. the code, the
text, the effective parameters and profile, the model specs, the dataset's fingerprint, the pinned
versions (``requirements.txt`` always, also under ``GPU=1``: ``requirements-gpu.txt`` pins the same
versions, TensorFlow and JAX as their CUDA builds of the same releases) and the course's backend with
the determinism switch (``backend``). It holds nothing about where the run happened: not the device
(CPU or GPU, which is on the run card), the virtualenv, the machine, paths, times or the git commit
(a commit that changes nothing a chapter reads must not re-execute it). Numbers computed on a GPU
differ from a CPU's in the last digits (non-deterministic kernels); the run card says which device
computed a page.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from coursebook.atomic import atomic_write_text  # noqa: F401  (the runner writes records with it)
from coursebook.book import paths
from coursebook.book.hooks import course

BOOK_COMPONENTS = ("notebook", "text", "parameters", "package", "requirements", "backend")


def components() -> tuple[str, ...]:
    """Every component's name: the book's own, then the course's (``hooks.Runs.cache_components``:
    the model specs, the dataset's fingerprint)."""
    return BOOK_COMPONENTS + tuple(course().runs.cache_components)


def digest(data: bytes | str) -> str:
    """Short sha256 hex digest."""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()[:16]


def notebook_digest(notebook: Path) -> str:
    """Hash of a notebook's code cells (source, tags): what a run computes. Markdown cells count in
    the ``text`` component (``pagetext.text_digest``); outputs and other metadata do not count."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    content = [
        ("".join(c["source"]), sorted(c.get("metadata", {}).get("tags", []))) for c in cells if c["cell_type"] == "code"
    ]
    return digest(json.dumps(content))


def files_digest(directory: Path, pattern: str) -> str:
    """Hash of every file matching ``pattern`` below ``directory`` (relative path and content)."""
    h = hashlib.sha256()
    for path in sorted(directory.rglob(pattern)):
        h.update(str(path.relative_to(directory)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def package_digest(package_dir: Path | None = None) -> str:
    """Hash of every ``.py`` file of the package."""
    return files_digest(package_dir or paths.PACKAGE_DIR, "*.py")


def file_digest(path: Path) -> str:
    return digest(path.read_bytes()) if path.exists() else "missing"


def parameters_digest(profile: str, values: dict[str, Any]) -> str:
    """The effective parameters the code reads, plus the profile that the run card shows."""
    return digest(json.dumps({"profile": profile, "values": values}, sort_keys=True))


def key_of(found: dict[str, str]) -> str:
    """One key from all components."""
    return digest(json.dumps({name: found[name] for name in components()}, sort_keys=True))


def changed_components(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    """Names of the components that differ (all of them when there is no previous record)."""
    if not old:
        return list(components())
    return [name for name in components() if old.get(name) != new[name]]


def record_path(chapter_id: str) -> Path:
    return paths.CHAPTERS_DIR / f"{chapter_id}.run.json"


def output_path(chapter_id: str) -> Path:
    return paths.CHAPTERS_DIR / f"{chapter_id}.ipynb"


def results_path(chapter_id: str) -> Path:
    """What a training chapter measured (its results file), kept with its last good output."""
    return paths.CHAPTERS_DIR / f"{chapter_id}.results.json"


def failed_path(chapter_id: str) -> Path:
    """Where the notebook of a failed run is kept for inspection (the last good output stays)."""
    return paths.CHAPTERS_DIR / f"{chapter_id}.failed.ipynb"


def read_record(chapter_id: str) -> dict[str, Any] | None:
    """The last successful run's record, or None (missing or unreadable)."""
    try:
        record = json.loads(record_path(chapter_id).read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def previous_run(chapter_id: str) -> tuple[dict[str, Any] | None, str]:
    """The last successful run's record (None: no previous result) and, if its files cannot be
    trusted, why: ``"damaged <file> (<reason>)"``. A damaged chapter is executed again; its files
    are replaced only when that run succeeds."""
    record_file, output = record_path(chapter_id), output_path(chapter_id)
    if not record_file.exists() or not output.exists():
        return None, ""
    record = read_record(chapter_id)
    if record is None:
        return None, f"damaged {paths.relative(record_file)} (not a JSON object)"
    found = record.get("components")
    if not (isinstance(found, dict) and set(components()) <= set(found) and record.get("key") == key_of(found)):
        return (
            None,
            f"damaged {paths.relative(record_file)} (its key does not match its inputs: edited, or written by another "
            "version of coursebook)",
        )
    try:
        notebook = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, f"damaged {paths.relative(output)} (not valid JSON)"
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None, f"damaged {paths.relative(output)} (not a notebook)"
    return (None, damage) if (damage := _results_damage(chapter_id, record)) else (record, "")


def _results_damage(chapter_id: str, record: dict[str, Any]) -> str:
    """Why ``<id>.results.json`` is not the file the last run wrote ('' if it is, or there is none)."""
    results = results_path(chapter_id)
    if record.get("results") and not results.exists():
        return f"damaged {paths.relative(results)} (missing)"
    written = record.get("results_digest")  # of the results file the run wrote
    if written is not None and file_digest(results) != written:
        return f"damaged {paths.relative(results)} (edited or truncated)"
    if written is None and results.exists():  # a record from before the digest: check the schema
        problem = course().runs.results_problem(results)
        if problem:
            return f"damaged {paths.relative(results)} ({problem})"
    return ""
