"""Reading a generated page as a grader does: its prose sentences, and each sentence's template."""

from __future__ import annotations

import re


def sentences(markdown: str) -> list[str]:
    """The prose sentences of a Markdown text (tables, fences and admonition options left out)."""
    lines = [
        line for line in markdown.splitlines() if line.strip() and not line.lstrip().startswith(("|", "```", ":", "<"))
    ]
    text = " ".join(lines)
    text = re.sub(r"\*\*", "", text)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=\S)", text) if s.strip()]


def template(sentence: str) -> str:
    """A sentence with its numbers replaced by '#': its template."""
    return re.sub(r"[-+−]?\d[\d,]*(\.\d+)?(e-?\d+)?", "#", sentence)
