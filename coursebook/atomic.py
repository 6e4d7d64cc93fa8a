"""Atomic file writes, the one home for them: write a temporary file beside the target, then
rename it into place, so a reader never sees half a file and a failed or interrupted write
leaves the previous file as it was (and no temporary file behind)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO


def atomic_write_bytes(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary binary file beside ``target``, then rename it into place."""
    target = Path(target)
    tmp_name = _staged(target, write)
    try:
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_texts(contents: Mapping[Path, str | None]) -> None:
    """Write several files as one: each text (UTF-8) goes to a temporary file beside its target
    first, and only when all are written are they renamed into place, in the given order (a
    ``None`` removes that file at its turn). A failed write (a full or read-only disk) changes
    none of the targets; the error names the target it was writing."""
    staged: dict[Path, str | None] = {}
    try:
        for target, text in contents.items():
            try:
                staged[Path(target)] = None if text is None else _staged(Path(target), _text_writer(text))
            except OSError as err:
                raise OSError(err.errno, err.strerror, str(target)) from err
        for target, tmp_name in list(staged.items()):
            if tmp_name is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(tmp_name, target)
            del staged[target]
    finally:
        for tmp_name in staged.values():
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)


def _text_writer(text: str) -> Callable[[BinaryIO], object]:
    return lambda file: file.write(text.encode("utf-8"))


def _staged(target: Path, write: Callable[[BinaryIO], object]) -> str:
    """A temporary file beside ``target`` with ``write(file)``'s content; its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as tmp_file:
            write(tmp_file)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tmp_name


def _mode_for(target: Path) -> int:
    """An existing file keeps its mode; a new one gets what ``open`` would give (never mkstemp's 0600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return umask_mode()


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the umask lets a new file have it (what ``open`` would give)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, _text_writer(text))
