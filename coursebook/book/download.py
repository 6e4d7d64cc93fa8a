"""The executed chapter as a page's ``.ipynb`` download button gives it: the numbers its text quotes
with ``{glue:text}`` roles (which only the book renders) written in as the page shows them, and each
``{glue:figure}`` shown where its cell drew it, with its caption where the page has it."""

from __future__ import annotations

import ast
import copy
import re
from typing import Any

GLUE_PREFIX = "application/papermill.record/"  # how myst-nb's glue marks a value in a cell's outputs
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`")
GLUE_FIGURE = re.compile(r"```\{glue:figure\}[ \t]+(\S+)[ \t]*\n((?::[^\n]*\n)*)(.*?)\n?```", re.S)
SHOWN = ("image/png", "text/plain")  # what a notebook frontend shows of a glued figure


def glued(nb: Any) -> dict[str, dict[str, Any]]:
    """Each glued name -> its data, by plain MIME type."""
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = {k.removeprefix(GLUE_PREFIX): v for k, v in output.get("data", {}).items()}
    return values


def text_value(plain: str, spec: str | None) -> str:
    """A glued value as ``{glue:text}`name:spec``` shows it: formatted with ``spec`` (its Python
    literal), else its text with a string's quotes removed."""
    return format(ast.literal_eval(plain), spec) if spec else plain.strip("'\"")


def with_values(nb: Any) -> Any:
    """A copy of the executed notebook ``nb`` with its glue roles replaced by what the page shows;
    a role naming nothing glued stays as it is."""
    nb = copy.deepcopy(nb)
    values = glued(nb)

    def text(match: re.Match) -> str:
        plain = values.get(match.group(1), {}).get("text/plain")
        return match.group(0) if plain is None else text_value(plain, match.group(2))

    def figure(match: re.Match) -> str:
        caption = match.group(3).strip()
        return f"*Figure ({match.group(1)}, drawn by the code above):* {caption}" if caption else ""

    def resolved(markdown: str) -> str:
        return GLUE_TEXT.sub(text, GLUE_FIGURE.sub(figure, markdown))

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = resolved(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.get("metadata", {}).get("scrapbook") and f"{GLUE_PREFIX}image/png" in data:
                output["data"] = {k: data[GLUE_PREFIX + k] for k in SHOWN if GLUE_PREFIX + k in data}
            elif "text/markdown" in data:  # Markdown a cell displays (a figure with its caption, prose)
                markdown = data["text/markdown"]
                data["text/markdown"] = resolved("".join(markdown) if isinstance(markdown, list) else markdown)
    return nb
