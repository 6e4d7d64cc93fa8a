"""Source notebooks follow one outline, are committed clean, and match _toc.yml and params/."""

from __future__ import annotations

import json

import nbformat
import pytest

from coursebook.book import paths
from coursebook.book.params import declarations, load_chapter, resolve, toc_chapter_ids

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))
CHAPTERS = toc_chapter_ids()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_source_notebook_has_no_outputs(notebook):
    nb = json.loads(notebook.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert not dirty, f"{notebook.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_outline_title_parameters_setup_card(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "first cell: '# Title' and question"
    assert "parameters" in cells[1].metadata.get("tags", []), "second cell: the tagged parameters cell"
    assert "runtime.start(" in cells[2].source, "third cell: setup that starts the run"
    assert "run.card()" in cells[-1].source, "last cell: the run card"
    assert "seed" in declarations(notebook)
    for cell in cells:
        assert "!pip" not in cell.source and "/content/drive" not in cell.source


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
