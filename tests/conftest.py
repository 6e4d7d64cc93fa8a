"""Shared fixtures: a miniature project (params, notebooks, _toc.yml) the runner can be pointed at,
and the smoke book (this project built once per test session in a temporary copy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from hypothesis import settings

from coursebook.book import paths

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Property tests draw the same examples on every run, so a test run (and CI) is reproducible: a
# failure found once fails again. HYPOTHESIS_PROFILE=explore draws new ones each time.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

PARAMETERS_CELL = textwrap.dedent(
    """\
    seed = 0                # [0, ] random seed
    epochs = 20             # [1, 1000] training epochs
    learning_rate = 1e-3    # (0, 1) step size
    data = "auto"           # {auto, cifar10, synthetic} images to train on
    models = ["tiny"]       # {@models} architectures
    use_bn = False          # batch normalization on or off
    train_size: "Optional[int]" = None  # [1, ] training images (None: all)
    """
)


DEEP_LEARNING = ("keras", "tensorflow", "jax", "torch")


def imported_by(code: str, modules: tuple[str, ...] = DEEP_LEARNING) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported once it ran ``code`` (sorted)."""
    probe = f"{code}; import json, sys; print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def write_notebook(path: Path, parameters: str, *body: str) -> Path:
    """A source notebook: a title, a tagged parameters cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata.tags = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell, *(nbformat.v4.new_code_cell(b) for b in body)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def model_spec(units: int) -> str:
    """A valid architecture spec (chapters' models are checked when they are planned)."""
    return (
        f"title: Dense {units}\nsource: tests\ninput_shape: [32, 32, 3]\n"
        f"layers:\n  - flatten\n  - dense: {{units: {units}, activation: relu}}\n"
        "  - dense: {units: num_classes, activation: softmax}\n"
    )


@pytest.fixture(scope="session", autouse=True)
def session_run_store(tmp_path_factory):
    """Fixtures wider than one test (a module's trained arm, a book built once) train into a store of
    the session's: set up before them, never the checkout's own ``.cache/runs``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEBOOK_RUNS", str(tmp_path_factory.mktemp("session-runs")))
        yield


@pytest.fixture(autouse=True)
def own_run_store(tmp_path_factory, monkeypatch):
    """Each test trains into a run store of its own: none reads a run an earlier test stored."""
    monkeypatch.setenv("COURSEBOOK_RUNS", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture
def mini_project(tmp_path, monkeypatch):
    """A project with chapters 'alpha' and 'beta' sharing one notebook; paths point at it."""
    root = tmp_path / "project"
    monkeypatch.setenv("COURSEBOOK_ROOT", str(root))  # for worker processes, which import paths afresh
    for name, value in {
        "ROOT": root,
        "PARAMS_DIR": root / "params",
        "MODELS_DIR": root / "params" / "models",
        "PROFILES_DIR": root / "params" / "profiles",
        "NOTEBOOKS_DIR": root / "notebooks",
        "BOOK_DIR": root / "book",
        "CHAPTERS_DIR": root / "book" / "chapters",
        "BUILD_DIR": root / "_build",
        "TOC_FILE": root / "_toc.yml",
        "REQUIREMENTS_FILE": root / "requirements.txt",
        "PACKAGE_DIR": root / "coursebook",
    }.items():
        monkeypatch.setattr(paths, name, value)
    write_notebook(root / "notebooks" / "train.ipynb", PARAMETERS_CELL, "result = epochs * 2")
    (root / "params" / "models").mkdir(parents=True)
    (root / "params" / "models" / "tiny.yaml").write_text(model_spec(4))
    (root / "params" / "models" / "wide.yaml").write_text(model_spec(64))
    (root / "params" / "profiles").mkdir()
    for profile in ("smoke", "quick", "full"):
        (root / "params" / "profiles" / f"{profile}.yaml").write_text("defaults: {}\nchapters: {}\n")
    for chapter in ("alpha", "beta"):
        (root / "params" / f"{chapter}.yaml").write_text(
            f"notebook: train.ipynb\ntitle: Chapter {chapter}\nparameters:\n  epochs: 20\n"
        )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nparts:\n  - caption: Part\n    chapters:\n"
        "      - file: book/chapters/alpha\n      - file: book/chapters/beta\n"
    )
    (root / "requirements.txt").write_text("numpy==1\n")
    (root / "coursebook").mkdir()
    (root / "coursebook" / "mod.py").write_text("X = 1\n")
    return root


# --------------------------------------------------------------------------- the smoke book

PROJECT = Path(__file__).resolve().parents[1]
TOP_LEVEL_OUTPUTS = {".git", ".venv", "_build", ".cache", "data"}
ANYWHERE = {"__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints"}


def _sources_only(directory: str, names: list[str]) -> set[str]:
    """No environment, builds, data or executed chapters (as in a fresh clone)."""
    here = Path(directory).resolve()
    skip = set(names) & ANYWHERE
    if here == PROJECT:
        skip |= set(names) & TOP_LEVEL_OUTPUTS
    if here == PROJECT / "book":
        skip |= set(names) & {"chapters"}
    return skip


def project_env(project: Path) -> dict[str, str]:
    """The environment for commands run in a copy of the project."""
    env = {k: v for k, v in os.environ.items() if k not in ("COURSEBOOK_ROOT", "COURSEBOOK_RUNS")}  # its own store
    return env | {"PYTHONPATH": str(project), "TF_CPP_MIN_LOG_LEVEL": "2"}


def smoke_build(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``python -m coursebook build`` (smoke profile, synthetic data, two chapters at a time: CI has two
    cores) in a copy; its output.
    Fails the calling test on a non-zero exit."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "coursebook",
            "build",
            "--profile",
            "smoke",
            "--data",
            "synthetic",
            "--jobs",
            "2",
            *args,
        ],
        cwd=project,
        env=project_env(project) | (env or {}),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


BUILT_FROM = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "example/coursebook",
    "GITHUB_SHA": "0" * 40,
}


@dataclass
class SmokeBook:
    root: Path  # the built copy: book/chapters/, _build/html, _build/figures
    output: str  # what the first build printed

    def copy(self, destination: Path) -> Path:
        """A copy of the built project, for tests that change it (the session's book stays as built)."""
        shutil.copytree(self.root, destination, symlinks=True)
        return destination


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> SmokeBook:
    """This project (sources only, sharing this virtualenv) built once with the smoke profile on
    synthetic data, as GitHub Actions builds it from the repository ``BUILT_FROM`` names (its pages link
    their notebooks in Colab). Read it; to change it, take ``smoke_book.copy(tmp_path / "project")``.
    Under pytest-xdist the workers share one build: the first to need it builds it under a file lock
    in the run's common temporary folder, the others wait for it and read it."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder every worker's own temporary folder is in
    folder, output = shared / "smoke-book", shared / "smoke-book" / "output.txt"
    with FileLock(str(shared / "smoke-book.lock")):
        if not output.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed in another worker
            shutil.copytree(PROJECT, folder / "project", ignore=_sources_only)
            (folder / "project" / ".venv").symlink_to(Path(sys.prefix))
            output.write_text(smoke_build(folder / "project", env=BUILT_FROM), encoding="utf-8")
    return SmokeBook(folder / "project", output.read_text(encoding="utf-8"))


REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-sample"


@pytest.fixture
def real_sample(tmp_path, monkeypatch) -> Path:
    """The real 5,170-image CIFAR-10 sample beside the project (``../shared``), found through
    ``$COURSEBOOK_DATA`` with a private cache; skipped, saying why, where it is absent."""
    if not (REAL_SAMPLE / "cifar-10-python.tar.gz").is_file():
        pytest.skip(f"the real CIFAR-10 sample is not at {REAL_SAMPLE} (it ships in the project's shared/ folder)")
    monkeypatch.setenv("COURSEBOOK_DATA", str(REAL_SAMPLE))
    monkeypatch.setenv("COURSEBOOK_CACHE", str(tmp_path / "cache"))
    return REAL_SAMPLE


# The fast inner loop (`make test-fast`, `pytest -m "not slow and not browser and not latex"`) leaves out
# the test files that execute notebooks in kernels, build the smoke book, train on real images or fuzz
# the inputs with hundreds of plans (slow), open pages in Chromium (browser) or typeset with xelatex (latex),
# and every test that reads the smoke book (``smoke_book``, minutes to build: slow wherever it is).
# `make test` runs them all.
MARKED_FILES = {
    "slow": {
        "test_book.py",
        "test_bench.py",
        "test_cache.py",
        "test_executors.py",
        "test_experiments_arms_book.py",
        "test_faults.py",
        "test_freeze.py",
        "test_fresh_clone.py",
        "test_input_fuzz.py",
        "test_jupyter.py",
        "test_notebooks.py",
        "test_notebook_clean_venv.py",
        "test_pipeline.py",
        "test_publish.py",
        "test_real_images.py",
        "test_rerender.py",
        "test_runner.py",
        "test_timeout.py",
    },
    "browser": {"test_browser.py"},
    "latex": {"test_pdf.py"},
}


BOOK_FIXTURES = {"smoke_book"}  # fixtures that build a book


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        for marker, files in MARKED_FILES.items():
            if item.path.name in files:
                item.add_marker(marker)
                item.add_marker(pytest.mark.xdist_group(item.path.name))  # its module's fixtures built once
        if BOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("slow")  # (the workers share one smoke book: see smoke_book)
    _readers_of_the_book_last(items)


def _readers_of_the_book_last(items: list) -> None:
    """The first test that reads the smoke book stays where it is, so that one worker starts building
    it early; the others run last, so that no other worker waits for the book while tests remain."""
    readers = [item for item in items if BOOK_FIXTURES & set(getattr(item, "fixturenames", ()))]
    later = {id(item) for item in readers[1:]}
    items[:] = [item for item in items if id(item) not in later] + readers[1:]
