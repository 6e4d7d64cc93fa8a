"""Resolve requirements.txt for every supported platform and Python without installing anything.

    python scripts/check_lock.py [requirements.txt] [--python 3.11 3.12] [--platform linux macos]

For each (platform, Python) pip resolves the pinned file with binary wheels only, as that machine
would (``pip install --dry-run --ignore-installed --only-binary=:all: --platform ...``), and the
script prints one line per combination: ok, the resolver's error, or the packages pip would add
that the file does not pin (a platform-only dependency needs its own pinned line with a marker). Needs the network (PyPI);
``make check-lock`` runs it. Exit status 1 when any combination fails.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# pip does not widen --platform to older tags of the same family, so each platform lists the tags
# its pip would accept (newest first).
PLATFORMS = {
    "linux": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
              "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64", "any"],
    "macos": [f"macosx_{v}_0_arm64" for v in (14, 13, 12, 11)] + [f"macosx_{v}_0_universal2" for v in (14, 13, 12, 11)]
             + ["macosx_10_9_universal2", "any"],
    "windows": ["win_amd64", "any"],
}
# Full versions: some pins need a patch release (soupsieve 4.1 wants Python >= 3.11.5).
PYTHONS = ["3.10.16", "3.11.11", "3.12.8", "3.13.1"]
INSTALLER_TOOLS = {"pip", "setuptools", "wheel"}  # left out of the pins, as pip freeze does


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def resolve(requirements: Path, platform: str, python: str) -> tuple[bool, str]:
    """Dry-run pip for one combination; (ok, pip's error, or the packages it would add unpinned)."""
    with tempfile.TemporaryDirectory(prefix="check-lock-") as target:
        report = Path(target) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--disable-pip-version-check", "--only-binary=:all:", "--python-version", python,
               "--target", str(Path(target) / "site"), "--report", str(report), "-r", str(requirements)]
        for tag in PLATFORMS[platform]:
            cmd += ["--platform", tag]
        done = subprocess.run(cmd, capture_output=True, text=True)
        installed = json.loads(report.read_text())["install"] if report.exists() else []
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR")]
    if done.returncode:
        return False, (lines[-1] if lines else f"pip exited with {done.returncode}")
    pinned = INSTALLER_TOOLS | {_name(line) for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")}
    extra = sorted(f"{item['metadata']['name']}=={item['metadata']['version']}" for item in installed
                   if _name(item["metadata"]["name"]) not in pinned)
    return not extra, ("not pinned: " + ", ".join(extra)) if extra else ""


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
            print(f"{'ok    ' if ok else 'FAILED'}  {platform:8s} Python {python}" + ("" if ok else f"  {message}"),
                  flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
