"""``python -m coursebook``: the book runner's command line (see :mod:`coursebook.book.cli`)."""

import sys

from coursebook.book.cli import main

if __name__ == "__main__":
    sys.exit(main())
