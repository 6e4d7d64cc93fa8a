"""The Debian packages the browser and PDF tests need are named in three places that a user or CI
reads (.ci/run installs them, the README's docs/ tell users, make pdf's error names them): one list."""

from __future__ import annotations

import re

from coursebook.book import paths, pdf


def _ci_packages() -> list[str]:
    text = (paths.ROOT / ".ci" / "run").read_text()
    return re.search(r"^DEBIAN_PACKAGES=\(([^)]*)\)", text, re.MULTILINE).group(1).split()


def _readme_install_lines() -> list[list[str]]:
    pages = [paths.ROOT / "README.md", *sorted((paths.ROOT / "docs").glob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    return [line.split() for line in re.findall(r"sudo apt-get install ([a-z0-9 .-]+)", text)]


def test_the_readme_installs_what_ci_installs():
    ci = _ci_packages()
    lines = _readme_install_lines()
    assert ci in lines, (ci, lines)
    assert all(set(line) <= set(ci) for line in lines), lines


def test_make_pdf_names_the_pdf_packages_ci_installs():
    named = pdf.DEBIAN_PACKAGES.split()
    assert named == [package for package in _ci_packages() if package != "chromium"]
    assert named in _readme_install_lines()
