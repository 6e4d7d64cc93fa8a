"""A chapter opened in Jupyter: the notebook ``python -m coursebook notebook`` writes (what ``make lab``
opens and every page offers for download) runs under plain ``jupyter execute`` from a folder outside
the project, with no project variable set (the package is installed in the virtualenv by make venv);
a source notebook that serves several chapters, opened by hand, starts without a traceback."""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import PROJECT
from tests.road import make, origin_repository, user_env

BIN = Path(sys.executable).parent


def _installed_outside(tmp_path: Path) -> bool:
    """Whether a Python started outside the project, without PYTHONPATH, imports coursebook from here."""
    probe = subprocess.run(
        [sys.executable, "-c", "import coursebook, pathlib; print(pathlib.Path(coursebook.__file__).resolve())"],
        cwd=tmp_path,
        env=user_env(),
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and Path(probe.stdout.strip()).is_relative_to(PROJECT)


@pytest.fixture
def outside(tmp_path) -> Path:
    if not _installed_outside(tmp_path):
        pytest.skip("coursebook is not installed in this virtualenv (make venv installs it: pip install -e .)")
    return tmp_path


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


@contextlib.contextmanager
def _runs_it_stores_removed():
    """Remove, afterwards, the entries (and locks) that appeared in the project's own run store: with no
    project variable set the chapter stores its run where the book reads it, and a test leaves the
    checkout's store as it found it."""
    store = PROJECT / ".cache" / "runs"
    existed = store.is_dir()
    before = set(store.rglob("*")) if existed else set()
    try:
        yield
    finally:
        new = set(store.rglob("*")) - before if store.is_dir() else set()
        for path in sorted(new | ({store} if not existed and store.is_dir() else set()), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)


def test_a_written_training_chapter_runs_under_jupyter_execute_outside_the_project(outside):
    notebook = outside / "a12-e-baseline.ipynb"
    written = subprocess.run(
        [
            sys.executable,
            "-m",
            "coursebook",
            "notebook",
            "a12-e-baseline",
            "--output",
            str(notebook),
            "--profile",
            "smoke",
            "--data",
            "synthetic",
            "--set",
            "epochs=1",
            "train_size=200",
        ],
        cwd=outside,
        env=user_env(),
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    source = nbformat.read(notebook, as_version=4)
    nbformat.validate(source)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")
    injected = [c for c in source.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "epochs = 1" in injected[0].source and "opened_as(" in injected[0].source
    assert source.cells[0].source.startswith("# ")  # the chapter's title

    executed = outside / "executed.ipynb"
    with _runs_it_stores_removed():  # a user's shell sets no store: the run goes to the project's
        result = subprocess.run(
            [str(BIN / "jupyter"), "execute", notebook.name, "--output", executed.stem],
            cwd=outside,
            env=user_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    text = outputs_text(nbformat.read(executed, as_version=4))
    assert "Traceback" not in text
    assert "`a12-e-baseline` (run interactively, not by the book runner)" in text  # the run card
    assert "| profile | `smoke` |" in text
    assert "| `epochs` | `1` | **override** |" in text


def test_a_source_notebook_opened_by_hand_says_what_it_runs(outside):
    """compare-models.ipynb serves twelve chapters and starts with runtime.start(None, ...): opened by
    hand, it is recognised by its parameters and says which settings it runs with."""
    source = nbformat.read(PROJECT / "notebooks" / "compare-models.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(source.cells) if "runtime.start(None" in c.source)
    source.cells = [c for c in source.cells[: setup + 1] if c.cell_type == "code"]
    notebook = outside / "compare-models.ipynb"
    nbformat.write(source, notebook)
    result = subprocess.run(
        [str(BIN / "jupyter"), "execute", notebook.name, "--inplace"],
        cwd=outside,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = outputs_text(nbformat.read(notebook, as_version=4))
    assert "compare-models.ipynb opened by hand" in text and "epochs=20" in text
    assert "make lab CHAPTER=<id>" in text and "e4742-p1a-extra-conv-layer" in text


def test_jupyterlab_is_in_the_environment():
    assert importlib.util.find_spec("jupyterlab") is not None
    version = subprocess.run([str(BIN / "jupyter"), "lab", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip()[0].isdigit()


def test_bad_input_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "coursebook", "notebook", "no-such-chapter", "--output", str(tmp_path / "x.ipynb")],
        cwd=PROJECT,
        env=user_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.ipynb").exists()


def test_make_lab_writes_the_chapter_notebook_and_opens_jupyterlab_on_it(tmp_path):
    """make lab in a fresh clone whose .venv is this virtualenv with a stand-in for `jupyter` that
    records how it was called (a real JupyterLab would wait for a browser)."""
    clone = origin_repository(tmp_path / "project")
    venv = clone / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text((Path(sys.prefix) / "pyvenv.cfg").read_text())
    (venv / "bin" / "python").symlink_to(Path(sys.executable))
    for lib in ("lib", "lib64"):
        if (Path(sys.prefix) / lib).exists():
            (venv / lib).symlink_to(Path(sys.prefix) / lib)
    stub = venv / "bin" / "jupyter"
    stub.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/../jupyter-called"\n')
    stub.chmod(0o755)
    for stamp in Path(sys.prefix).glob(".requirements-*"):
        (venv / stamp.name).touch()  # installed: make does not reinstall
    result = make(clone, "lab", "CHAPTER=q6-p5-data-subset", "PROFILE=quick", "PARAMS=epochs=6", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (venv / "jupyter-called").read_text().split() == ["lab", "work/q6-p5-data-subset.ipynb"]
    written = nbformat.read(clone / "work" / "q6-p5-data-subset.ipynb", as_version=4)
    injected = next(c for c in written.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert (
        "epochs = 6" in injected.source and "sizes = [500, 1000, 2000, 4000]" in injected.source
    )  # PARAMS, then quick
    assert "work/" in (clone / ".gitignore").read_text()
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout == ""


def test_a_value_edited_after_the_injected_cell_is_reported_as_run(monkeypatch):
    from coursebook.book import runtime

    monkeypatch.delenv(runtime.RUN_ENV, raising=False)
    monkeypatch.setattr(
        runtime,
        "_opened",
        {
            "chapter": "a12-e-baseline",
            "title": "E",
            "profile": "smoke",
            "parameters": {"seed": 0, "epochs": 2},
            "origin": {"seed": "chapter", "epochs": "profile"},
        },
    )
    monkeypatch.setattr(runtime, "_user_namespace", lambda: {"seed": 0, "epochs": 5})
    monkeypatch.setattr(runtime, "describe_device", lambda: "tensorflow on CPU")
    monkeypatch.setattr(runtime, "_figures_as_images", lambda: None)
    run = runtime.start(None, seed=0)
    assert run.chapter == "a12-e-baseline" and run.profile == "smoke" and run.interactive
    assert run.parameters == {"seed": 0, "epochs": 5} and run.origin["epochs"] == "edited by hand"
