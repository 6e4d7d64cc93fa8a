"""Every figure of every chapter as files, for students who assemble their own report:
``_build/figures/<chapter>/<name>.png`` and ``.pdf``, named after the figure (its glue name).

The files are taken from the executed notebooks (``book/chapters/<id>.ipynb``) whenever the book
is built, so a chapter reused from an earlier run has its files as surely as one executed now, and
only whole notebooks are read (the runner renames them into place). The kernel stores each figure
as PNG and as vector PDF (``runtime`` asks IPython for both); from a notebook that has only the PNG,
the PDF is made from it. Each chapter's folder is written beside the old one and swapped in.

This module is a Sphinx extension (``_config.yml``: ``sphinx.extra_extensions``): at the end of an
HTML build it also copies the files into ``_build/html/figures/`` (what is published), and on each
chapter page every figure is followed by a line linking its files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from coursebook.book import paths

CHAPTERS_DOC_PREFIX = "book/chapters/"
FIGURES_DIR_NAME = "figures"


@dataclass
class Figure:
    name: str
    png: bytes
    pdf: bytes | None  # None: only the PNG was stored


def figures_dir() -> Path:
    return paths.BUILD_DIR / FIGURES_DIR_NAME


def notebook_figures(notebook: Path) -> list[Figure]:
    """The figures of an executed notebook, in page order: glued ones by their glue name, others
    (displayed directly) as ``figure-<n>``."""
    nb = nbformat.read(notebook, as_version=4)
    found: list[Figure] = []
    unnamed = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            glued = output.get("metadata", {}).get("scrapbook", {})
            prefix = glued.get("mime_prefix", "") if glued else ""
            data = output.get("data", {})
            png = data.get(prefix + "image/png")
            if png is None:
                continue
            if glued:
                name = glued["name"]
            else:
                unnamed += 1
                name = f"figure-{unnamed}"
            pdf = data.get(prefix + "application/pdf")
            found.append(Figure(name, _decode(png), _decode(pdf) if pdf is not None else None))
    return found


def _decode(value: Any) -> bytes:
    return base64.b64decode("".join(value) if isinstance(value, list) else value)


def pdf_from_png(png: bytes) -> bytes:
    """A one-page PDF of a PNG (for notebooks that stored no vector PDF)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    dpi = image.info.get("dpi", (100, 100))[0]
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PDF", resolution=float(dpi))
    return buffer.getvalue()


def write_chapter_figures(root: Path, chapter_id: str, figures: list[Figure]) -> Path:
    """Write ``root/<chapter>/<name>.{png,pdf}`` beside the old folder, then swap it in."""
    target = root / chapter_id
    root.mkdir(parents=True, exist_ok=True)
    fresh = root / f".{chapter_id}.{os.getpid()}.new"
    old = root / f".{chapter_id}.{os.getpid()}.old"
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    fresh.mkdir()
    for figure in figures:
        (fresh / f"{figure.name}.png").write_bytes(figure.png)
        (fresh / f"{figure.name}.pdf").write_bytes(figure.pdf if figure.pdf is not None else pdf_from_png(figure.png))
    if target.exists():
        os.replace(target, old)
    os.replace(fresh, target)
    shutil.rmtree(old, ignore_errors=True)
    if not figures:
        target.rmdir()  # a chapter without figures has no folder
    return target


def export(chapters: dict[str, Path], roots: list[Path]) -> None:
    """Write the figure files of the given chapters (id -> executed notebook) under every root."""
    for chapter_id, notebook in chapters.items():
        figures = notebook_figures(notebook)
        for root in roots:
            write_chapter_figures(root, chapter_id, figures)


# --------------------------------------------------------------------------- Sphinx extension


def _chapter_docs(app: Any) -> dict[str, Path]:
    """Chapter id -> executed notebook, for the chapter pages of this build."""
    return {
        docname.removeprefix(CHAPTERS_DOC_PREFIX): Path(app.env.doc2path(docname))
        for docname in sorted(app.env.found_docs)
        if docname.startswith(CHAPTERS_DOC_PREFIX) and str(app.env.doc2path(docname)).endswith(".ipynb")
    }


def _link_figure_files(app: Any, doctree: Any, docname: str) -> None:
    """Put under each figure of a chapter's web page the links to its files. myst-nb names a
    figure's image after the SHA-256 of its PNG, which finds the figure; a figure not found so
    gets its links at the end of the page."""
    from docutils import nodes

    if app.builder.format != "html" or not docname.startswith(CHAPTERS_DOC_PREFIX):
        return
    notebook = Path(app.env.doc2path(docname))
    if notebook.suffix != ".ipynb" or not notebook.exists():
        return
    chapter_id = docname.removeprefix(CHAPTERS_DOC_PREFIX)
    base = "../" * docname.count("/") + f"{FIGURES_DIR_NAME}/{chapter_id}/"
    unplaced = {hashlib.sha256(f.png).hexdigest(): f.name for f in notebook_figures(notebook)}
    for figure in list(doctree.findall(nodes.figure)):
        for image in figure.findall(nodes.image):
            name = unplaced.pop(Path(image.get("uri", "")).stem, None)
            if name is not None:
                figure.parent.insert(figure.parent.index(figure) + 1, _links_line(nodes, base, [name]))
                break
    if unplaced:
        sections = list(doctree.findall(nodes.section))
        (sections[0] if sections else doctree).append(_links_line(nodes, base, list(unplaced.values())))


def _links_line(nodes: Any, base: str, names: list[str]) -> Any:
    """'Figure file: curves (PNG, PDF)' with links, for the given figure names."""
    line = nodes.paragraph(classes=["figure-files"])
    line += nodes.strong(text="Figure file: " if len(names) == 1 else "Figure files: ")
    for i, name in enumerate(names):
        if i:
            line += nodes.Text(", ")
        line += nodes.literal(text=name)
        line += nodes.Text(" (")
        line += nodes.reference("", "PNG", refuri=f"{base}{name}.png")
        line += nodes.Text(", ")
        line += nodes.reference("", "PDF", refuri=f"{base}{name}.pdf")
        line += nodes.Text(")")
    return line


def _export_after_build(app: Any, exception: Exception | None) -> None:
    if exception is not None:
        return
    roots = [figures_dir()]
    if app.builder.format == "html":
        roots.append(Path(app.outdir) / FIGURES_DIR_NAME)
    export(_chapter_docs(app), roots)


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-resolved", _link_figure_files)
    app.connect("build-finished", _export_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
