"""Atomic file writes, the one home for them: write a temporary file beside the target, then
rename it into place, so a reader never sees half a file and a failed or interrupted write
leaves the previous file as it was (and no temporary file behind)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write_bytes(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary binary file beside ``target``, then rename it into place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp_file:
            write(tmp_file)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, lambda file: file.write(text.encode("utf-8")))
