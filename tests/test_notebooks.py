"""Source notebooks follow one outline, are committed clean, and match _toc.yml and params/."""

from __future__ import annotations

import json

import nbformat
import pytest

from coursebook.book import outline, paths
from coursebook.book.params import declarations, load_chapter, resolve, toc_chapter_ids

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))
CHAPTERS = toc_chapter_ids()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_source_notebook_has_no_outputs(notebook):
    nb = json.loads(notebook.read_text())
    dirty = [
        i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
    ]
    assert not dirty, f"{notebook.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_whole_outline(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    assert outline.outline_problems(cells) == []
    assert "seed" in declarations(notebook)
    for cell in cells:
        assert "!pip" not in cell.source and "/content/drive" not in cell.source


def outline_cells(*headings: str, card: bool = True) -> list:
    """Title, parameters, setup, one markdown cell per heading, then the run card."""
    parameters = nbformat.v4.new_code_cell("seed = 0  # [0, ] seed")
    parameters.metadata.tags = ["parameters"]
    cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        parameters,
        nbformat.v4.new_code_cell('run = runtime.start("x", seed=seed)'),
    ]
    cells += [nbformat.v4.new_markdown_cell(f"## {heading}\n\ntext") for heading in headings]
    if card:
        cells += [nbformat.v4.new_markdown_cell("## Run card"), nbformat.v4.new_code_cell("run.card();")]
    return cells


def test_outline_check_accepts_the_order_and_rejects_any_departure():
    assert outline.outline_problems(outline_cells("Data", "Model", "Training", "Results", "Answer")) == []
    assert outline.outline_problems(outline_cells("Model", "Answer")) == []  # sections may be left out
    swapped = outline.outline_problems(outline_cells("Training", "Data"))
    assert swapped == ["cell 4: '## Data' (data) comes after train"]
    assert outline.outline_problems(outline_cells("Results", "Model"))[0].endswith("comes after evaluate and answer")
    assert "names no outline section" in outline.outline_problems(outline_cells("Miscellany"))[0]
    missing_card = outline.outline_problems(outline_cells("Data", card=False))
    assert "the last section must be '## Run card'" in missing_card and len(missing_card) == 2
    untagged = outline_cells("Data")
    untagged[1].metadata.tags = []
    assert outline.outline_problems(untagged) == ["cell 1 must be the code cell tagged 'parameters'"]


def test_every_toc_chapter_has_a_valid_params_file_and_every_notebook_is_used():
    assert len(CHAPTERS) == len(set(CHAPTERS)), "a chapter appears twice in _toc.yml"
    used = set()
    for chapter in CHAPTERS:
        for profile in ("smoke", "quick", "full"):
            resolve(chapter, profile)  # raises on any invalid value
        used.add(load_chapter(chapter).notebook)
    assert used == set(NOTEBOOKS), f"notebooks used by no chapter: {set(NOTEBOOKS) - used}"


def test_full_profile_changes_nothing():
    from coursebook.book.params import load_profile

    profile = load_profile("full")
    assert profile["defaults"] == {} and profile["chapters"] == {}
