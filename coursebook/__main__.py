"""``python -m coursebook``: the book runner's command line. ``build``, ``validate`` and ``status`` are
:mod:`coursebook.book.cli`; ``publish``, ``pdf``, ``notebook``, ``freeze``, ``schema`` and ``keep`` are commands of
their own modules, which build on ``cli`` (so ``cli`` imports none of them)."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "publish": "publish",
    "pdf": "pdf",
    "notebook": "notebook",
    "freeze": "freeze",
    "schema": "schema",
    "keep": "keep",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        return importlib.import_module(f"coursebook.book.{COMMANDS[argv[0]]}").main(argv[1:])
    from coursebook.book import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
