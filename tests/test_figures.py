"""Figure files from executed notebooks: names, formats, and the swap that replaces a chapter's folder."""

from __future__ import annotations

import base64
import io

import nbformat
import pytest
from PIL import Image
from pypdf import PdfReader

from coursebook.book import figures

PREFIX = "application/papermill.record/"


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG", dpi=(100, 100))
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def executed_notebook(path, outputs):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    nbformat.write(nb, path)
    return path


def glued(name, data):
    return nbformat.v4.new_output(
        "display_data",
        data={PREFIX + k: v for k, v in data.items()},
        metadata={"scrapbook": {"name": name, "mime_prefix": PREFIX}},
    )


def test_glued_and_displayed_figures_are_found_in_page_order(tmp_path):
    vector = b"%PDF-1.4 a vector figure"
    notebook = executed_notebook(
        tmp_path / "c.ipynb",
        [
            glued(
                "curves",
                {"image/png": b64(png_bytes(30, 20)), "application/pdf": b64(vector), "text/plain": "<Figure>"},
            ),
            glued("accuracy", {"text/plain": "0.5"}),  # a glued number: not a figure
            nbformat.v4.new_output(
                "display_data", data={"image/png": b64(png_bytes(10, 10)), "text/plain": "<Figure>"}
            ),
            glued("samples", {"image/png": b64(png_bytes(40, 10))}),
        ],
    )
    found = figures.notebook_figures(notebook)
    assert [f.name for f in found] == ["curves", "figure-1", "samples"]
    assert found[0].pdf == vector and found[0].png == png_bytes(30, 20)
    assert found[1].pdf is None and Image.open(io.BytesIO(found[2].png)).size == (40, 10)


def test_chapter_folder_is_replaced_whole(tmp_path):
    notebook = executed_notebook(tmp_path / "c.ipynb", [glued("samples", {"image/png": b64(png_bytes(40, 10))})])
    root = tmp_path / "figures"
    (root / "chapter").mkdir(parents=True)
    (root / "chapter" / "removed-figure.png").write_bytes(b"old")
    figures.export({"chapter": notebook}, [root])
    assert sorted(p.name for p in root.iterdir()) == ["chapter"]  # no temporary folder left
    assert sorted(p.name for p in (root / "chapter").iterdir()) == ["samples.pdf", "samples.png"]
    page = PdfReader(root / "chapter" / "samples.pdf").pages[0]  # made from the PNG: 40x10 px at 100 dpi
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx((40 * 72 / 100, 10 * 72 / 100), rel=1e-5)  # PNG stores dots per metre


def test_a_chapter_without_figures_has_no_folder(tmp_path):
    notebook = executed_notebook(tmp_path / "c.ipynb", [glued("accuracy", {"text/plain": "0.5"})])
    root = tmp_path / "figures"
    (root / "chapter").mkdir(parents=True)
    (root / "chapter" / "old.png").write_bytes(b"old")
    figures.export({"chapter": notebook}, [root])
    assert list(root.iterdir()) == []
