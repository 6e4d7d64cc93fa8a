"""Where the project's files live: derived from the package location, so a copy of the project
directory is self-contained (tests build the book in a temporary copy). ``COURSEBOOK_ROOT``
points the runner at another project directory (tests use it for miniature projects)."""

import os
from pathlib import Path

ROOT = Path(os.environ.get("COURSEBOOK_ROOT") or Path(__file__).resolve().parents[2])
PARAMS_DIR = ROOT / "params"
MODELS_DIR = PARAMS_DIR / "models"
PROFILES_DIR = PARAMS_DIR / "profiles"
NOTEBOOKS_DIR = ROOT / "notebooks"
BOOK_DIR = ROOT / "book"
CHAPTERS_DIR = BOOK_DIR / "chapters"
BUILD_DIR = ROOT / "_build"
TOC_FILE = ROOT / "_toc.yml"
CONFIG_FILE = ROOT / "_config.yml"
REQUIREMENTS_FILE = ROOT / "requirements.txt"
PACKAGE_DIR = ROOT / "coursebook"
DATA_DIR = ROOT / "data"  # the course's data files (or set COURSEBOOK_DATA)
DATASET_CACHE_DIR = ROOT / ".cache" / "datasets"  # decoded arrays (or set COURSEBOOK_CACHE)


def relative(path: Path | str) -> str:
    """``path`` as messages show it: relative to the project root where it lies inside, else as given."""
    path = Path(path)
    for inside, root in ((path, ROOT), (path.resolve(), ROOT.resolve())):
        try:
            return str(inside.relative_to(root))
        except ValueError:
            continue
    return str(path)
