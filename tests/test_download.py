"""A page's ``.ipynb`` download quotes its numbers as the page shows them: ``{glue:text}`` roles become
the glued values with their format, a ``{glue:figure}`` becomes its caption under the figure shown
where its cell drew it; checked on a made notebook and on every chapter of the smoke book."""

from __future__ import annotations

import nbformat
import pytest

from coursebook.book import download
from coursebook.book.params import toc_chapter_ids

PREFIX = "application/papermill.record/"


def _glue(name: str, **data: str):
    output = nbformat.v4.new_output("display_data", data={PREFIX + k.replace("_", "/"): v for k, v in data.items()})
    output.metadata = {"scrapbook": {"name": name, "mime_prefix": PREFIX}}
    return output


def _notebook():
    code = nbformat.v4.new_code_cell("glue(...)")
    code.outputs = [
        _glue("acc", text_plain="0.876543"),
        _glue("label", text_plain="'Adam'"),
        _glue("fig", image_png="iVBORw0K", application_pdf="JVBERi0x", text_plain="<Figure size 600x350>"),
        nbformat.v4.new_output("display_data", data={"text/markdown": "See {glue:text}`acc:.3f`."}),
    ]
    text = nbformat.v4.new_markdown_cell(
        "Accuracy {glue:text}`acc:.1%` with {glue:text}`label`; {glue:text}`missing:.2f` stays.\n\n"
        "```{glue:figure} fig\n:name: fig-one\n\nCurve up to {glue:text}`acc:.2f`.\n```\n"
    )
    return nbformat.v4.new_notebook(cells=[code, text])


def test_roles_become_the_values_the_page_shows():
    original = _notebook()
    nb = download.with_values(original)
    assert nb.cells[1].source == (
        "Accuracy 87.7% with Adam; {glue:text}`missing:.2f` stays.\n\n"
        "*Figure (fig, drawn by the code above):* Curve up to 0.88.\n"
    )
    assert nb.cells[0].outputs[3].data["text/markdown"] == "See 0.877."
    assert nb.cells[0].outputs[2].data == {"image/png": "iVBORw0K", "text/plain": "<Figure size 600x350>"}
    assert nb.cells[0].outputs[0].data == {PREFIX + "text/plain": "0.876543"}  # a number stays glued
    assert "{glue:text}`acc:.1%`" in original.cells[1].source  # the notebook given is not changed


@pytest.mark.slow  # builds the smoke book, like every test that reads it (conftest.BOOK_FIXTURES)
@pytest.mark.parametrize("chapter", toc_chapter_ids())
def test_each_chapters_download_has_no_text_roles(smoke_book, chapter):
    from tests.test_browser import glued_texts

    executed = smoke_book.root / "book" / "chapters" / f"{chapter}.ipynb"
    offered = smoke_book.root / "_build" / "html" / "_sources" / "book" / "chapters" / f"{chapter}.ipynb"
    nb = nbformat.read(offered, as_version=4)
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert not any("{glue:" in text for text in texts)
    markdown = "\n".join(texts)
    for value in glued_texts(executed):
        assert value in markdown
