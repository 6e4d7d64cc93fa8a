"""A chapter's notebook to run by hand: its source notebook with the chapter's effective parameters
injected as Papermill injects them (the profile, ``DATA`` and ``PARAMS`` applied), its title and
question filled in, and the chapter named, so it runs on its own in Jupyter, from any directory.

    python -m coursebook notebook <id> --output <path> [--profile quick] [--data auto] [--set key=value ...]

``make lab CHAPTER=<id>`` writes it to ``work/<id>.ipynb`` (ignored by git) and opens JupyterLab on
it; every chapter page of the book offers the same notebook for download, with the parameters that
page was computed with (``figures``-like Sphinx hook in ``sphinx_pages``). The injected cell ends
with ``runtime.opened_as(...)``: ``runtime.start(None, seed=seed)`` then knows the chapter, and the
run card says it was run by hand with that profile. Nothing is cached and no results file is
written: the book is built by ``make book`` only.

Exit status: 0 written, 2 bad input (one line naming the file or the command line, the key and the
value, as for ``make book``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

from coursebook.book import pagetext, params
from coursebook.book.params import ParameterError, Resolved

INTRO = """\
> **Chapter `{chapter}`, profile `{profile}`{overrides}**, written by `python -m coursebook notebook`.
> Run it top to bottom (Run -> Run All Cells) with the project's environment (`make venv`, or
> `make lab CHAPTER={chapter}`); the parameters it runs with are in the cell tagged
> `injected-parameters` below the defaults, and the run card at the end lists them. The text quotes
> numbers with `{{glue:text}}` roles that only the book renders: here they are in the outputs of the
> cells that compute them. Nothing here changes the book: `make book` builds it.
"""


def resolve(
    chapter_id: str,
    profile: str = params.DEFAULT_PROFILE,
    overrides: dict[str, Any] | None = None,
    data: str | None = None,
) -> Resolved:
    """The chapter's effective parameters, as ``make run CHAPTER=<id>`` would resolve them."""
    params.check_profile(profile)
    try:
        chapter = params.load_chapter(chapter_id)
    except ParameterError as err:
        if str(err).startswith("unknown chapter"):
            raise ParameterError(f"command line: key 'chapter' (CHAPTER=): {err}") from None
        raise
    return params.resolve(chapter_id, profile, params.with_data(overrides, chapter.notebook, data))


INSTALL = """\
# Runs anywhere (Colab, Kaggle, a Jupyter without the project): where coursebook is not importable, this
# cell clones the repository this notebook was written from, at its commit, and installs its pinned
# environment (requirements.txt); in a checkout with make venv it does nothing.
import importlib.util, os, subprocess, sys
REPOSITORY, COMMIT = {repository!r}, {commit!r}
if importlib.util.find_spec("coursebook") is None:
    if not os.path.isdir("coursebook-src"):
        subprocess.run(["git", "clone", "-q", REPOSITORY, "coursebook-src"], check=True)
    subprocess.run(["git", "-C", "coursebook-src", "checkout", "-q", COMMIT], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", "coursebook-src/requirements.txt"], check=True)
    sys.path.insert(0, os.path.abspath("coursebook-src"))
"""
INSTALL_TAG = "install-coursebook"


def install_cell(repository: str, commit: str) -> nbformat.NotebookNode:
    """The first code cell of a notebook meant to run outside a checkout (see `INSTALL`)."""
    cell = nbformat.v4.new_code_cell(INSTALL.format(repository=repository, commit=commit))
    cell.metadata["tags"] = [INSTALL_TAG]
    return cell


def build(resolved: Resolved, source: tuple[str, str] | None = None) -> nbformat.NotebookNode:
    """The runnable notebook of one resolved chapter (nothing is written); with ``source`` (repository,
    commit), its first code cell installs the project from there (:func:`install_cell`)."""
    from papermill.parameterize import parameterize_notebook

    chapter = resolved.chapter
    nb = pagetext.prepare_source(chapter.notebook, chapter.title, resolved.values)
    for cell in nb.cells:  # what papermill.execute_notebook prepares before it parameterizes
        cell.metadata.setdefault("tags", [])
    nb.metadata["papermill"] = {}
    nb = parameterize_notebook(nb, resolved.values, kernel_name="python3", language="python")
    description = {
        "chapter": chapter.id,
        "title": chapter.title,
        "profile": resolved.profile,
        "parameters": resolved.values,
        "origin": resolved.origin,
        "text_parameters": pagetext.text_parameters(chapter.notebook, list(resolved.values)),
    }
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source += (
                "\n# the chapter these values are for (runtime.start reports it on the run card)\n"
                "from coursebook.book import runtime as _runtime\n"
                f"_runtime.opened_as({description!r})\n"
            )
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    overridden = resolved.overridden
    intro = INTRO.format(
        chapter=chapter.id,
        profile=resolved.profile,
        overrides=f" and {', '.join(f'`{k}`' for k in overridden)} overridden" if overridden else "",
    )
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(intro))
    if source is not None:
        nb.cells.insert(2, install_cell(*source))
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write(resolved: Resolved, output: Path) -> Path:
    """Write the runnable notebook to ``output`` (its folder is created) and return the path."""
    from coursebook.atomic import atomic_write_text

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, nbformat.writes(build(resolved)) + "\n")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursebook notebook", description=__doc__.splitlines()[0])
    parser.add_argument("chapter", help="a chapter id (the book/chapters/<id> entries of _toc.yml)")
    parser.add_argument("--output", required=True, type=Path, help="the notebook to write")
    parser.add_argument("--profile", default=params.DEFAULT_PROFILE, help="smoke | quick | full")
    parser.add_argument("--data", help=params.data_help("a chapter that declares it"))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="parameter overrides")
    args = parser.parse_args(argv)
    try:
        resolved = resolve(args.chapter, args.profile, params.parse_overrides(args.set), args.data)
        path = write(resolved, args.output)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"coursebook: wrote {path} (chapter {args.chapter}, profile {args.profile})")
    return 0
