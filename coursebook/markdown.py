"""The one Markdown writer of the project: escaping a name or value so that Markdown (and a MyST table
cell) shows it as typed, link text for a role, block quotes and tables. Shared by the book machinery and the
coursework, and importing neither."""

from __future__ import annotations

import re
from collections.abc import Sequence

SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#~])")
LINE_START_SPECIAL = re.compile(r"^([-+=])")  # a list item or heading marker where a name starts a line


def escape(text: object) -> str:
    """``text`` with the characters Markdown (and MyST tables) would interpret escaped.

    >>> escape("a*b_c|d")
    'a\\\\*b\\\\_c\\\\|d'
    """
    return LINE_START_SPECIAL.sub(r"\\\1", SPECIAL.sub(r"\\\1", str(text)))


def link_text(text: str) -> str:
    """Text safe as the link text of a role such as ``{doc}`text <target>```: on one line, without the
    backquote and angle brackets that would end it (a role's text takes no backslash escapes).

    >>> link_text("a <b> `c`")
    "a ‹b› 'c'"
    """
    return " ".join(text.split()).replace("`", "'").replace("<", "‹").replace(">", "›")


def quote(text: str) -> str:
    """Markdown block quote of a (multi-line) text; empty text gives an empty string.

    >>> quote("one\\n\\ntwo")
    '> one\\n>\\n> two'
    """
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[bool] = ()) -> str:
    """A Markdown table (cells as given: escape names first); ``numeric`` right-aligns columns. No rows
    give an empty string: a table of headings alone says nothing (and Sphinx's LaTeX writer fails on it).

    >>> print(table(["arm", "seed"], [["E", 11]], numeric=[False, True]))
    | arm | seed |
    | --- | ---: |
    | E | 11 |
    >>> table(["arm"], [])
    ''
    """
    if not rows:
        return ""
    aligns = [("---:" if i < len(numeric) and numeric[i] else "---") for i in range(len(header))]
    lines = [header, aligns, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)
