"""Resolve a pinned requirements file for every supported platform and Python without installing anything.

    python scripts/check_lock.py [requirements.txt] [--python 3.12.8 ...] [--platform linux macos windows]

For each (platform, Python) the file's environment markers are evaluated for that platform (pip
evaluates them for the machine it runs on, whatever ``--platform`` says), then pip resolves the
result with binary wheels only, as that machine would (``pip install --dry-run --ignore-installed
--only-binary=:all: --platform ... --python-version ...``). A combination passes when pip resolves
it, adds no package the file does not pin, and no installed package needs, on that platform, a
dependency that is missing (pip cannot see those: it evaluates dependencies' markers for this
machine too). One line per combination; exit status 1 when any fails. Needs the network (PyPI);
``make check-lock`` runs it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

# pip does not widen --platform to older tags of the same family, so each platform lists the tags
# its pip would accept (newest first), and the values its environment markers see.
PLATFORMS = {
    "linux": {
        "tags": [
            "manylinux_2_28_x86_64",
            "manylinux_2_27_x86_64",
            "manylinux_2_24_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "manylinux2010_x86_64",
            "manylinux1_x86_64",
            "linux_x86_64",
            "any",
        ],
        "markers": {
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": "x86_64",
            "os_name": "posix",
        },
    },
    "macos": {
        "tags": [f"macosx_{v}_0_{arch}" for v in (15, 14, 13, 12, 11) for arch in ("arm64", "universal2")]
        + ["macosx_10_9_universal2", "any"],
        "markers": {
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": "arm64",
            "os_name": "posix",
        },
    },
    "windows": {
        "tags": ["win_amd64", "any"],
        "markers": {
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": "AMD64",
            "os_name": "nt",
        },
    },
}
# Full versions: some pins need a patch release (soupsieve 4.1 wants Python >= 3.11.5).
PYTHONS = ["3.10.12", "3.11.2", "3.11.11", "3.12.8", "3.13.1"]
INSTALLER_TOOLS = {"pip", "setuptools", "wheel"}  # left out of the pins, as pip freeze does


def name_of(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~;\[ ]", requirement.strip(), maxsplit=1)[0]).lower()


def environment(platform: str, python: str) -> dict[str, str]:
    return {
        **PLATFORMS[platform]["markers"],
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
    }


def for_platform(requirements: Path, env: dict[str, str]) -> list[str]:
    """The file's requirement lines that apply on ``env``, markers removed."""
    lines = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        if not marker.strip() or Marker(marker.strip()).evaluate(env):
            lines.append(requirement.strip())
    return lines


def missing_dependencies(installed: list[dict], env: dict[str, str]) -> list[str]:
    """Dependencies that ``env`` needs and the resolution lacks, as 'name (needed by package)'."""
    names = {name_of(item["metadata"]["name"]) for item in installed}
    missing = set()
    for item in installed:
        extras = ["", *list(item.get("requested_extras") or [])]
        for text in item["metadata"].get("requires_dist") or []:
            requirement = Requirement(text)
            needed = requirement.marker is None or any(requirement.marker.evaluate({**env, "extra": e}) for e in extras)
            if needed and name_of(requirement.name) not in names:
                missing.add(f"{requirement.name} (needed by {item['metadata']['name']})")
    return sorted(missing)


def resolve(requirements: Path, platform: str, python: str) -> tuple[bool, str]:
    """Dry-run pip for one combination; (ok, what is wrong)."""
    env = environment(platform, python)
    with tempfile.TemporaryDirectory(prefix="check-lock-") as work:
        pinned_file = Path(work) / "requirements.txt"
        pinned = for_platform(requirements, env)
        pinned_file.write_text("\n".join(pinned) + "\n")
        report = Path(work) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--target",
            str(Path(work) / "site"),
            "--report",
            str(report),
            "-r",
            str(pinned_file),
        ]
        for tag in PLATFORMS[platform]["tags"]:
            cmd += ["--platform", tag]
        done = subprocess.run(cmd, capture_output=True, text=True)
        installed = json.loads(report.read_text())["install"] if report.exists() else []
    if done.returncode:
        errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR")]
        return False, errors[-1] if errors else f"pip exited with {done.returncode}"
    names = INSTALLER_TOOLS | {name_of(line) for line in pinned}
    unpinned = sorted(
        f"{i['metadata']['name']}=={i['metadata']['version']}"
        for i in installed
        if name_of(i["metadata"]["name"]) not in names
    )
    problems = ([f"not pinned: {', '.join(unpinned)}"] if unpinned else []) + (
        [f"missing on this platform: {', '.join(m)}"] if (m := missing_dependencies(installed, env)) else []
    )
    return not problems, "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="?", default="requirements.txt")
    parser.add_argument("--python", nargs="*", default=PYTHONS)
    parser.add_argument("--platform", nargs="*", default=list(PLATFORMS), choices=list(PLATFORMS))
    args = parser.parse_args(argv)
    failures = 0
    for platform in args.platform:
        for python in args.python:
            ok, message = resolve(Path(args.requirements), platform, python)
            failures += not ok
            print(
                f"{'ok    ' if ok else 'FAILED'}  {args.requirements}  {platform:8s} Python {python}"
                + (f"  {message}" if message else ""),
                flush=True,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
