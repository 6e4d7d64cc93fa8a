"""The runnable notebook a chapter page offers installs the project where it is not installed: its
first code cell clones the repository the book was built from, at that commit, and installs its pins.
Run here in a clean virtualenv against a local repository (whose pins are cut to what the import of
the book's parameter code needs, so that no backend is downloaded)."""

from __future__ import annotations

import subprocess
import sys

from coursebook.book import notebook, provenance
from tests.conftest import PROJECT
from tests.road import git, origin_repository


def _origin(tmp_path):
    origin = origin_repository(tmp_path / "origin")
    (origin / "requirements.txt").write_text("PyYAML==6.0.3\n")
    git(origin, "commit", "-qam", "pins cut for the test")
    return origin, git(origin, "rev-parse", "HEAD").strip()


def test_the_install_cell_installs_the_project_in_a_clean_virtualenv(tmp_path):
    origin, commit = _origin(tmp_path)
    git(origin, "commit", "-q", "--allow-empty", "-m", "a later commit the cell must not take")
    clean = tmp_path / "clean"
    subprocess.run([sys.executable, "-m", "venv", str(clean)], check=True, timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    cell = notebook.install_cell(str(origin), commit)
    assert cell.metadata.tags == [notebook.INSTALL_TAG]
    script = cell.source + "\nimport coursebook.book.params as p\nprint(p.__file__)\n"
    for _ in range(2):  # a second run (the notebook run again) finds the clone and installs nothing new
        ran = subprocess.run(
            [str(clean / "bin" / "python"), "-c", script],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert ran.stdout.strip() == str(work / "coursebook-src" / "coursebook" / "book" / "params.py")
    assert git(work / "coursebook-src", "rev-parse", "HEAD").strip() == commit


def test_the_install_cell_does_nothing_where_the_project_is_installed(tmp_path):
    cell = notebook.install_cell(str(tmp_path / "no-such-repository"), "0" * 40)
    ran = subprocess.run(
        [sys.executable, "-c", cell.source],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT)},
    )
    assert ran.returncode == 0, ran.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_repository_is_github_actions_own_in_ci(monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/coursebook")
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    assert provenance.repository() == ("https://github.com/someone/coursebook.git", "f" * 40)


def test_the_runnable_notebook_installs_first():
    resolved = notebook.resolve("aml-p1-backprop", "smoke")
    plain, offered = notebook.build(resolved), notebook.build(resolved, ("https://example.org/r.git", "a" * 40))
    code = [c for c in offered.cells if c.cell_type == "code"]
    assert code[0].metadata.tags == [notebook.INSTALL_TAG] and "'https://example.org/r.git', 'aaaa" in code[0].source
    assert [c.source for c in offered.cells if c is not code[0]] == [c.source for c in plain.cells]
