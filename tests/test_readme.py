"""The README stays short and true to the Makefile, and the pages it links to exist.

- README.md has at most 200 lines (the rest lives in docs/, one file per topic);
- every ``make <target>`` in the code of README.md and docs/*.md is a target of the Makefile (its
  rules as ``make -p`` prints them), and every variable the README hands to make (``make X=1``,
  ``X=... make``, a backticked ``X`` or ``X=...``) is one the Makefile or the runner reads;
- every relative link in README.md and docs/*.md points to a file that exists (and a ``#anchor``
  to one of its headings);
- ``make help`` exits 0 and lists every target the README names.

The checks are functions of the text, so a test can show that they catch a made-up target.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from coursebook.book import paths

ROOT = paths.ROOT
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 200

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+)`")
_MAKE = re.compile(r"(?:^|[\s;&|(])((?:[A-Z][A-Z0-9_]*=\S*\s+)*)make((?:\s+[^\s#;&|)]+)*)")
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=")
_TARGET = re.compile(r"^[a-z][a-z0-9-]*$")
_VARIABLE_SPAN = re.compile(r"^([A-Z][A-Z0-9_]{2,})(?:=.*)?$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


# --------------------------------------------------------------------------- what the Makefile has


def _make(*args: str) -> subprocess.CompletedProcess:
    """``make args`` in the project, free of the flags of a make that runs this test (make test)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@lru_cache(maxsize=1)
def makefile_targets() -> frozenset[str]:
    """The Makefile's explicit targets, from make's own database (``make -p``; -q runs no recipe)."""
    database = _make("-pRrq", "help").stdout
    targets, not_a_target = set(), False
    for line in database.splitlines():
        if line.startswith("# Not a target"):
            not_a_target = True
            continue
        match = re.match(r"^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(?!=)", line)
        if match and not not_a_target:
            targets.add(match.group(1))
        not_a_target = False
    return frozenset(targets)


@lru_cache(maxsize=1)
def known_variables() -> frozenset[str]:
    """Variables the Makefile assigns, exports or reads, and the environment variables the
    runner (the ``coursebook`` package) reads."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    names = set(re.findall(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)\s*[:?+]?=", makefile, re.MULTILINE))
    names |= set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", makefile))
    names |= set(re.findall(r"\$\$\{?([A-Z][A-Z0-9_]*)", makefile))
    for line in re.findall(r"^export\s+([A-Z0-9_ ]+)$", makefile, re.MULTILINE):
        names |= set(line.split())
    for source in (ROOT / "coursebook").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if "environ" in text:
            names |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", text))
    return frozenset(names)


# --------------------------------------------------------------------------- what a page says


def code_of(text: str) -> list[str]:
    """The lines of the fenced code blocks and the inline code spans of a Markdown text."""
    blocks = _FENCE.findall(text)
    prose = _FENCE.sub("", text)
    return [line for block in blocks for line in block.splitlines()] + _SPAN.findall(prose)


def make_calls(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """Every ``make`` invocation in the code of ``text``: (variables before make, variables after
    it, targets)."""
    calls = []
    for code in code_of(text):
        for before, after in _MAKE.findall(code):
            words = after.split()
            variables = [m.group(1) for word in words if (m := _ASSIGNMENT.match(word))]
            targets = [word for word in words if _TARGET.match(word)]
            calls.append(([_ASSIGNMENT.match(w).group(1) for w in before.split()], variables, targets))
    return calls


def unknown_targets(text: str) -> list[str]:
    return sorted({t for _, _, targets in make_calls(text) for t in targets} - makefile_targets())


def variables_named(text: str) -> set[str]:
    """Variables handed to make (before or after ``make``) and backticked variable names."""
    named = {v for before, after, _ in make_calls(text) for v in before + after}
    for span in _SPAN.findall(_FENCE.sub("", text)):
        if match := _VARIABLE_SPAN.match(span.strip()):
            named.add(match.group(1))
    return named


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file (or ``#anchor`` heading) does not exist."""
    broken = []
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#{1,6}\s+(.+)$", _FENCE.sub("", file.read_text(encoding="utf-8")), re.MULTILINE)
            if anchor not in {slug(h) for h in headings}:
                broken.append(target)
    return broken


# --------------------------------------------------------------------------- the tests


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_the_makefile_targets_are_read():
    assert {"book", "run", "test", "help"} <= makefile_targets(), makefile_targets()


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_mentioned_exists(page):
    text = page.read_text(encoding="utf-8")
    assert make_calls(text) or page != README, "the README names no make command"
    assert unknown_targets(text) == [], f"{page.name} names targets the Makefile lacks"


def test_every_variable_the_readme_hands_to_make_is_read():
    named = variables_named(README.read_text(encoding="utf-8"))
    assert {"PROFILE", "CHAPTER", "PARAMS"} <= named, named
    assert sorted(named - known_variables()) == []


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file(page):
    assert broken_links(page) == []


def test_the_readme_links_every_page_of_docs():
    text = README.read_text(encoding="utf-8")
    assert DOCS, "docs/ has no pages"
    missing = [p.name for p in DOCS if f"docs/{p.name}" not in text]
    assert missing == [], "pages of docs/ the README does not link"


def test_make_help_lists_the_targets_the_readme_names():
    result = _make("help")
    assert result.returncode == 0, result.stderr
    listed = {line.split("\t")[0] for line in result.stdout.splitlines()}
    named = {t for _, _, targets in make_calls(README.read_text(encoding="utf-8")) for t in targets}
    assert named and named <= listed, sorted(named - listed)


def test_the_checks_catch_a_made_up_target_variable_and_link(tmp_path):
    readme = "Build with `make book`, then `make frobnicate PROFILE=quick WIBBLE=1`.\n\n```bash\nmake tset\n```\n"
    assert unknown_targets(readme) == ["frobnicate", "tset"]
    assert variables_named(readme) - known_variables() == {"WIBBLE"}
    page = tmp_path / "README.md"
    page.write_text("See [a page](docs/nowhere.md), [here](#nothing) and [the web](https://example.org).\n")
    assert broken_links(page) == ["docs/nowhere.md", "#nothing"]
