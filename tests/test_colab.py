"""gpu/colab.ipynb, the way to a GPU for those without one: valid nbformat, committed clean (no
outputs, no execution counts), and every make command it runs names a target of the Makefile with
variables the Makefile reads. Linked from the README and the landing page. (It is not run here: no
GPU in the test environment.)"""

from __future__ import annotations

import re

import nbformat

from tests.conftest import PROJECT

NOTEBOOK = PROJECT / "gpu" / "colab.ipynb"


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (PROJECT / "Makefile").read_text(), re.M))


def test_valid_and_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_its_make_commands_exist():
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code")
    commands = re.findall(r"make ([a-z-]+)((?: [A-Z]+=\S+)*)", source)
    targets = {target for target, _ in commands}
    assert {"venv", "status", "book", "freeze"} <= targets
    assert targets <= make_targets(), targets - make_targets()
    makefile = (PROJECT / "Makefile").read_text()
    for _, variables in commands:
        for name in re.findall(r"([A-Z]+)=", variables):
            assert re.search(rf"^{name} \?=", makefile, re.M), f"make variable {name} is not read by the Makefile"
    assert "GPU=1" in source and "PROFILE={PROFILE}" in source


def test_linked_from_the_readme_and_the_landing_page():
    assert "gpu/colab.ipynb" in (PROJECT / "README.md").read_text()
    assert "gpu/colab.ipynb" in (PROJECT / "book" / "index.md").read_text()


def test_the_build_saves_finished_work_that_a_new_session_restores():
    code = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    restore = next(i for i, source in enumerate(code) if "-m coursebook keep restore {SAVE_TO}" in source)
    build = next(i for i, source in enumerate(code) if "make book" in source)
    assert restore < build  # what earlier sessions saved is back before make status and make book plan
    assert re.search(r"-m coursebook keep save \{SAVE_TO\} --every \d+ -- make book ", code[build])
    assert 'SAVE_TO = ""' in code[0]


def test_it_says_which_chapters_fit_the_session_before_the_build():
    code = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    status = next(i for i, source in enumerate(code) if source.startswith("!make status"))
    build = next(i for i, source in enumerate(code) if "-- make book " in source)
    assert status < build and "SESSION={SESSION_HOURS}" in code[status] and "PROFILE={PROFILE}" in code[status]
    assert re.search(r"^SESSION_HOURS = \d+(\.\d+)? +# .*yours to set", code[0], re.MULTILINE)
    assert (
        code[status - 1]
        == "if TIME_GPU:  # this GPU's training images/s, in _build/bench.json, which make status then uses\n"
        "    !make bench GPU=1"
    )
    assert re.search(r"^TIME_GPU = False +# ", code[0], re.MULTILINE)  # measuring takes minutes: the user's choice
