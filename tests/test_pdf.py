"""`make pdf PART=<assignment>`: one part of the smoke book as a PDF through xelatex."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from coursebook.book import pdf
from coursebook.book.params import load_chapter
from tests.conftest import project_env

GLUE_PREFIX = "application/papermill.record/"

needs_xelatex = pytest.mark.skipif(
    shutil.which("xelatex") is None, reason=f"no xelatex (Debian: apt-get install {pdf.DEBIAN_PACKAGES})"
)


def squeezed(text: str) -> str:
    """Text without whitespace, case-folded: PDF text extraction drops or adds spaces between words."""
    return re.sub(r"\s+", "", text).casefold()


def glued_numbers(notebook: Path) -> list[str]:
    """Every glued number of a chapter as ``{glue:text}`name:format``` shows it."""
    nb = nbformat.read(notebook, as_version=4)
    values = {
        o.metadata["scrapbook"]["name"]: o.data[GLUE_PREFIX + "text/plain"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "scrapbook" in o.get("metadata", {}) and GLUE_PREFIX + "text/plain" in o.get("data", {})
    }
    return [
        format(ast.literal_eval(values[name]), spec)
        for c in nb.cells
        if c.cell_type == "markdown"
        for name, spec in re.findall(r"\{glue:text\}`([^`:]+):([^`]*)`", c.source)
    ]


@needs_xelatex
def test_pdf_of_one_part(smoke_book):
    project = smoke_book.root
    part = next(p for p in pdf.parts(project / "_toc.yml") if p.name == "aml")
    result = subprocess.run(
        [sys.executable, "-m", "coursebook", "pdf", "--part", part.name, "--profile", "smoke", "--data", "synthetic"],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "executing" not in result.stdout  # the smoke book's chapters are reused, not re-run
    written = project / "_build" / "pdf" / f"{part.name}.pdf"
    reader = PdfReader(written)
    text = squeezed("\n".join(page.extract_text() for page in reader.pages))
    assert 4 <= len(reader.pages) <= 4 + 12 * len(part.chapters)  # title, contents, introduction, then its chapters
    assert squeezed(part.caption) in text  # the part's title page, not the whole book's
    other_parts = [p for p in pdf.parts(project / "_toc.yml") if p.name != part.name]
    for chapter in part.chapters:
        assert squeezed(load_chapter(chapter).title) in text, chapter
    for other in other_parts:
        for chapter in other.chapters:
            assert squeezed(load_chapter(chapter).title) not in text, f"{chapter} belongs to {other.name}"
    numbers = [n for c in part.chapters for n in glued_numbers(project / "book" / "chapters" / f"{c}.ipynb")]
    assert numbers and all(squeezed(n) in text for n in numbers), numbers
    assert "runcard" in text and "wall time".replace(" ", "") in text
    log = (project / "_build" / "parts" / part.name / "_build" / "latex" / f"{part.name}.log").read_text(
        errors="replace"
    )
    assert "Missing character" not in log
    assert not re.search(r"Overfull \\[hv]box \((\d{2,}|[5-9])\.\d+pt too (wide|high)\)", log), (
        "something sticks out of the page"
    )


def test_pdf_refuses_an_unknown_part_in_one_line(smoke_book):
    result = subprocess.run(
        [sys.executable, "-m", "coursebook", "pdf", "--part", "no-such-part"],
        cwd=smoke_book.root,
        env=project_env(smoke_book.root),
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = ", ".join(p.name for p in pdf.parts(smoke_book.root / "_toc.yml"))
    assert (
        result.returncode == 2
        and result.stderr.strip() == f"make pdf: _toc.yml: no part 'no-such-part' (allowed: {names})"
    )


def test_missing_xelatex_is_named_with_the_install_command(tmp_path):
    """Before anything else: a machine without xelatex is told what to install."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("make", "latexmk", "fc-list"):
        if shutil.which(tool):
            (tools / tool).symlink_to(shutil.which(tool))
    result = subprocess.run(
        [sys.executable, "-m", "coursebook", "pdf", "--part", "aml"],
        cwd=tmp_path,
        env={"PATH": str(tools), "PYTHONPATH": str(Path(pdf.__file__).parents[2])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("make pdf: missing xelatex")
    assert result.stderr.rstrip().endswith(f"install: sudo apt-get install {pdf.DEBIAN_PACKAGES}   (Debian/Ubuntu)")
