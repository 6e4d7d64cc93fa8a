"""The chapter cache: a chapter re-executes only when one of its inputs changed.

A chapter's key is built from named components (the source notebook, the effective parameters,
the package source, the architecture specs, the dataset fingerprint, the pinned requirements and
the Keras backend).
Each executed chapter stores its components in a record beside the executed notebook, so the
runner can say not only *that* a chapter is stale but *which* input changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from coursebook.atomic import atomic_write_text  # noqa: F401  (the runner writes records with it)
from coursebook.book import paths

COMPONENTS = ("notebook", "parameters", "package", "models", "data", "requirements", "backend")


def digest(data: bytes | str) -> str:
    """Short sha256 hex digest."""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()[:16]


def notebook_digest(notebook: Path) -> str:
    """Hash of a notebook's cells (type, source, tags); outputs and other metadata do not count."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    content = [(c["cell_type"], "".join(c["source"]), sorted(c.get("metadata", {}).get("tags", []))) for c in cells]
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


def models_digest() -> str:
    """Hash of every architecture spec in ``params/models`` (chapters read them at run time)."""
    return files_digest(paths.MODELS_DIR, "*.yaml")


def file_digest(path: Path) -> str:
    return digest(path.read_bytes()) if path.exists() else "missing"


def parameters_digest(title: str, profile: str, values: dict[str, Any]) -> str:
    """The effective parameters, plus the title and profile that the page shows."""
    return digest(json.dumps({"title": title, "profile": profile, "values": values}, sort_keys=True))


def key_of(components: dict[str, str]) -> str:
    """One key from all components."""
    return digest(json.dumps({name: components[name] for name in COMPONENTS}))


def changed_components(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    """Names of the components that differ (all of them when there is no previous record)."""
    if not old:
        return list(COMPONENTS)
    return [name for name in COMPONENTS if old.get(name) != new[name]]


def record_path(chapter_id: str) -> Path:
    return paths.CHAPTERS_DIR / f"{chapter_id}.run.json"


def output_path(chapter_id: str) -> Path:
    return paths.CHAPTERS_DIR / f"{chapter_id}.ipynb"


def results_path(chapter_id: str) -> Path:
    """What a training chapter measured (``coursebook.course.results``), kept with its last good output."""
    return paths.CHAPTERS_DIR / f"{chapter_id}.results.json"


def failed_path(chapter_id: str) -> Path:
    """Where the notebook of a failed run is kept for inspection (the last good output stays)."""
    return paths.CHAPTERS_DIR / f"{chapter_id}.failed.ipynb"


def read_record(chapter_id: str) -> dict[str, Any] | None:
    """The last successful run's record, or None (missing or unreadable)."""
    try:
        return json.loads(record_path(chapter_id).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
