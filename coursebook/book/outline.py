"""The one outline every chapter notebook follows, and a check of it.

In order: a ``# Title`` markdown cell with the question; the code cell tagged ``parameters``;
a setup code cell calling ``runtime.start(``; then sections headed ``## ...`` in the order
data -> model -> train -> evaluate and answer; last a ``## Run card`` heading and a final code
cell calling ``run.card()``. A section may be left out, but none may come before one listed
earlier; sub-sections (``###``) are free. A ``##`` heading belongs to the first section whose
words it contains (:data:`SECTIONS`), so a new notebook names its headings with those words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data", ("data", "sample")),
    ("model", ("model", "architecture", "forward", "backward", "gradient", "layer", "block", "count")),
    ("train", ("train",)),
    ("evaluate and answer", ("result", "evaluat", "test", "confusion", "answer", "why", "discussion")),
)
RUN_CARD = "run card"
HEADING = re.compile(r"^##\s+(.+)$", re.MULTILINE)


def section_of(heading: str) -> str | None:
    """The outline section a ``##`` heading belongs to, or None when it names none."""
    text = heading.lower()
    if RUN_CARD in text:
        return RUN_CARD
    return next((name for name, words in SECTIONS if any(word in text for word in words)), None)


def outline_problems(cells: Sequence[Any]) -> list[str]:
    """Every way ``cells`` (nbformat cells) depart from the outline; empty when they follow it."""
    problems = []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        problems.append("cell 0 must be markdown starting '# Title' with the question")
    if len(cells) < 2 or "parameters" not in cells[1].metadata.get("tags", []):
        problems.append("cell 1 must be the code cell tagged 'parameters'")
    if len(cells) < 3 or cells[2].cell_type != "code" or "runtime.start(" not in cells[2].source:
        problems.append("cell 2 must be the setup code cell calling runtime.start(")
    order = [name for name, _ in SECTIONS] + [RUN_CARD]
    reached = -1
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for heading in HEADING.findall(cell.source):
            section = section_of(heading)
            if section is None:
                problems.append(f"cell {index}: heading '## {heading}' names no outline section ({', '.join(order)})")
            elif order.index(section) < reached:
                problems.append(f"cell {index}: '## {heading}' ({section}) comes after {order[reached]}")
            else:
                reached = order.index(section)
    if reached != order.index(RUN_CARD):
        problems.append("the last section must be '## Run card'")
    if not cells or cells[-1].cell_type != "code" or "run.card()" not in cells[-1].source:
        problems.append("the last cell must be code calling run.card()")
    return problems
