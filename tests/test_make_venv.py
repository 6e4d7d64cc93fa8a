"""``make venv`` recovers from a virtualenv that has no pip, and ``make status`` installs nothing.

The Makefile runs in a scratch copy of the project's make inputs, with ``PYTHON`` a stand-in
interpreter whose ``-m venv DIR`` writes a ``DIR/bin/python`` that records every call it gets:
what make asks of an interpreter is seen without installing anything.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT
from tests.road import user_env

FAKE_PYTHON = """#!/bin/bash
# python -m venv DIR: a virtualenv whose python records each call in DIR/calls.log and succeeds
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/bash\\necho "$*" >> "$(dirname "$0")/../calls.log"\\n' > "$3/bin/python"
  chmod +x "$3/bin/python"
  exit 0
fi
exit 3
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Makefile", "requirements.txt", "requirements-gpu.txt", "pyproject.toml"):
        shutil.copy(PROJECT / name, project / name)
    fake = tmp_path / "python-stand-in"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return project


def _make(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _pipless_venv(directory: Path) -> None:
    """What ``python -m venv`` leaves when it stops at 'ensurepip is not available': bin/python, no pip."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120)
    assert (directory / "bin" / "python").exists()
    no_pip = subprocess.run([str(directory / "bin" / "python"), "-m", "pip", "--version"], capture_output=True)
    assert no_pip.returncode != 0


def test_make_venv_recreates_a_virtualenv_without_pip(tmp_path):
    project = _project(tmp_path)
    _pipless_venv(project / ".venv")
    result = _make(project, "venv", f"PYTHON={tmp_path / 'python-stand-in'}")
    assert result.returncode == 0, result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines() if "recreating" in line]
    assert said == [
        "make: .venv has no working pip (a 'python -m venv' that stopped, "
        "e.g. at 'ensurepip is not available'): recreating it"
    ]
    assert not (project / ".venv" / "pyvenv.cfg").exists()  # the old one is gone, the stand-in's is there
    calls = (project / ".venv" / "calls.log").read_text().splitlines()
    assert calls[0].startswith("-m pip install") and calls[0].endswith("--upgrade pip")
    assert any(call.endswith("-r requirements.txt") for call in calls)
    assert list(project.joinpath(".venv").glob(".requirements-*")), "the install was not stamped"


def test_make_venv_keeps_a_virtualenv_that_has_pip(tmp_path):
    project = _project(tmp_path)
    stand_in = f"PYTHON={tmp_path / 'python-stand-in'}"
    assert _make(project, "venv", stand_in).returncode == 0
    (project / ".venv" / "calls.log").unlink()
    with open(project / "requirements.txt", "a") as requirements:  # changed pins: make installs again
        requirements.write("# changed\n")
    result = _make(project, "venv", stand_in)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recreating" not in result.stdout
    calls = (project / ".venv" / "calls.log").read_text().splitlines()
    assert calls[0] == "-m pip --version"  # asked whether pip works, then installed with it
    assert any(call.endswith("-r requirements.txt") for call in calls[1:])


def test_make_status_without_a_virtualenv_installs_nothing(tmp_path):
    project = _project(tmp_path)
    for args in ((), ("GPU=1",)):
        result = _make(project, "status", *args, f"PYTHON={tmp_path / 'python-stand-in'}")
        assert result.returncode == 2
        venv = ".venv-gpu" if args else ".venv"
        assert result.stderr.splitlines()[0:1] == [
            f"make status: no virtualenv is installed yet, and make status installs nothing: "
            f"'make venv' creates {venv} (a minute or two)"
        ]
        assert not (project / ".venv").exists() and not (project / ".venv-gpu").exists()


def test_make_status_gpu_uses_the_installed_cpu_virtualenv(tmp_path):
    project = _project(tmp_path)
    stand_in = f"PYTHON={tmp_path / 'python-stand-in'}"
    assert _make(project, "venv", stand_in).returncode == 0
    (project / ".venv" / "calls.log").unlink()
    result = _make(project, "status", "GPU=1", "PROFILE=smoke", stand_in)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (project / ".venv-gpu").exists()
    calls = (project / ".venv" / "calls.log").read_text().splitlines()
    assert calls == ["-m coursebook status --profile smoke --jobs auto"]


def test_make_status_passes_the_session_length(tmp_path):
    project = _project(tmp_path)
    stand_in = f"PYTHON={tmp_path / 'python-stand-in'}"
    assert _make(project, "venv", stand_in).returncode == 0
    (project / ".venv" / "calls.log").unlink()
    result = _make(project, "status", "PROFILE=full", "SESSION=4.5", stand_in)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (project / ".venv" / "calls.log").read_text().splitlines()
    assert calls == ["-m coursebook status --profile full --jobs auto --session 4.5"]
