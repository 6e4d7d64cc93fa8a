"""The execution time limit of a chapter: how long any one cell may run before the chapter fails.

Taken from, in order: the command line (``TIMEOUT=<seconds>``, ``--timeout``), the chapter file
(``timeout:`` in ``params/<id>.yaml``), the profile (``timeout:`` in ``params/profiles/<name>.yaml``).
``0`` or ``null`` means no limit. A cell that runs longer is interrupted, the kernel shut down,
and the chapter fails naming the cell and the limit; the other chapters go on.
"""

from __future__ import annotations

from typing import Any

from coursebook import checks
from coursebook.book import paths
from coursebook.book.params import TIMEOUT, Chapter, ParameterError, load_profile


def check_timeout(value: Any, where: str) -> float | None:
    """Seconds (None: no limit) or one line naming where, the key, the value and what is allowed."""
    try:
        return TIMEOUT(value) or None  # the check the chapter file and the profile are read with; 0: no limit
    except checks.Invalid as bad:
        raise ParameterError(bad.under("timeout").line(where)) from None


def chapter_timeout(chapter: Chapter, profile: str, command_line: float | None = None) -> float | None:
    """The limit for one chapter run: command line, else chapter file, else profile."""
    if command_line is not None:
        return check_timeout(command_line, "command line")
    if chapter.timeout is not None:
        return check_timeout(chapter.timeout, paths.relative(chapter.params_file))
    prof = load_profile(profile)
    return check_timeout(prof.get("timeout"), paths.relative(prof["file"]))
