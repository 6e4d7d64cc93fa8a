"""The text of a chapter, kept apart from what its code computes.

A chapter's page mixes two kinds of input: code cells (and the parameters they read), whose
outputs cost a run, and text: the Markdown cells, the title from ``params/<id>.yaml`` and the
assignment's quoted ``question``. The cache keys them separately, so a text-only edit re-renders
the chapter from its cached execution: the Markdown cells of the executed notebook are replaced by
the new ones and the code cells keep their outputs, without starting a kernel.

The title replaces the notebook's first ``# `` heading; the question fills the Markdown cell
tagged ``question`` (as a block quote; the cell is dropped when the question is empty). A text
parameter is one of :data:`TEXT_PARAMETERS` that no code cell reads; a notebook whose code uses it
makes it an ordinary parameter again (a change then re-executes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat

from coursebook.book import cache
from coursebook.markdown import quote

TEXT_PARAMETERS = ("question",)
QUESTION_TAG = "question"
INJECTED_TAG = "injected-parameters"


def _cells(notebook: Path) -> list[dict[str, Any]]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell: dict[str, Any]) -> list[str]:
    return sorted(cell.get("metadata", {}).get("tags", []))


def text_parameters(notebook: Path, names: list[str] | tuple[str, ...]) -> list[str]:
    """The parameters among ``names`` that are text: listed in TEXT_PARAMETERS and read by no code
    cell other than the parameters cell."""
    code = "\n".join(_source(c) for c in _cells(notebook) if c["cell_type"] == "code" and "parameters" not in _tags(c))
    return [n for n in names if n in TEXT_PARAMETERS and not re.search(rf"\b{re.escape(n)}\b", code)]


def text_digest(notebook: Path, title: str, text_values: dict[str, Any]) -> str:
    """Hash of what a re-render can change: Markdown cells and their places, title, text parameters."""
    layout = [(c["cell_type"], _source(c) if c["cell_type"] != "code" else "", _tags(c)) for c in _cells(notebook)]
    return cache.digest(json.dumps({"cells": layout, "title": title, "text": text_values}, sort_keys=True))


def prepare_source(notebook: Path, title: str, values: dict[str, Any]) -> nbformat.NotebookNode:
    """The source notebook as the page shows it: its first heading replaced by the chapter title,
    the cell tagged ``question`` holding the quoted question (dropped when there is none)."""
    nb = nbformat.read(notebook, as_version=4)
    _set_title(nb, title)
    question = str(values.get("question") or "")
    kept = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and QUESTION_TAG in cell.metadata.get("tags", []):
            if not question.strip():
                continue
            cell.source = quote(question)
        kept.append(cell)
    nb.cells = kept
    return nb


def _set_title(nb: nbformat.NotebookNode, title: str) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            if lines and lines[0].startswith("# "):
                cell.source = "\n".join([f"# {title}", *lines[1:]])
            else:
                cell.source = f"# {title}\n\n{cell.source}"
            return


class RenderError(ValueError):
    """The cached execution does not fit the source's code cells: the chapter must execute."""


def rerender(
    executed: nbformat.NotebookNode, source: nbformat.NotebookNode, parameters: dict[str, Any]
) -> nbformat.NotebookNode:
    """The executed notebook with the Markdown of ``source`` (already prepared) and the outputs of
    ``executed``: every code cell of the source, in order, takes the outputs of the executed code
    cell with the same source; Papermill's injected cell is written afresh from ``parameters``."""
    import papermill.parameterize

    for cell in source.cells:  # as Papermill's own loader prepares a notebook
        cell.metadata.setdefault("tags", [])
    source.metadata.setdefault("papermill", {})
    fresh = papermill.parameterize.parameterize_notebook(
        source,
        parameters,
        kernel_name=executed.metadata.get("kernelspec", {}).get("name", "python3"),
        language="python",
    )
    ran = [c for c in executed.cells if c.cell_type == "code"]
    new = [c for c in fresh.cells if c.cell_type == "code"]
    if len(ran) != len(new):
        raise RenderError(f"{len(new)} code cells in the source, {len(ran)} in the cached execution")
    for old, cell in zip(ran, new, strict=True):
        injected = INJECTED_TAG in cell.metadata.get("tags", [])
        if injected != (INJECTED_TAG in old.metadata.get("tags", [])) or (not injected and old.source != cell.source):
            raise RenderError("the code cells of the source differ from the cached execution")
        cell.outputs, cell.execution_count = old.outputs, old.execution_count
        cell.metadata = nbformat.from_dict(json.loads(json.dumps(old.metadata)))
    metadata = json.loads(json.dumps(executed.metadata))
    metadata.setdefault("papermill", {})["parameters"] = parameters
    fresh.metadata = nbformat.from_dict(metadata)
    return fresh
