"""Question-specific explanations: why a measured effect happened, as Markdown.

Superseded on the pages by :mod:`coursebook.course.answers`, which renders every comparative sentence
from a claim checked against the results; these modules are kept for their tests until they are removed.

A chapter names its ``topic`` (a parameter); ``answer(topic, results)`` returns that topic's
explanation of the run's results. Each topic is one module here (``batch-norm`` ->
``batch_norm.py``) exposing ``answer(results) -> str``. A module states a mechanism only when
the numbers show the effect it explains, and always says what limits the evidence.

``results`` is a chapter's results (the object the page reads, or the mapping saved as
``book/chapters/<id>.results.json``); :mod:`coursebook.course.explain.measures` reads both.
"""

from __future__ import annotations

import importlib
from typing import Any

TOPICS = ("depth", "early-stopping", "bn-dropout", "data-size",
          "batch-norm", "augmentation", "dropout-vs-bn", "baseline")
# topics whose answer diagnoses every arm's fit (explain.fitting), over-fitting sentence included
DIAGNOSES_FIT = ("baseline", "augmentation")


def diagnoses_fit(topic: str) -> bool:
    """Whether ``topic``'s explanation states each arm's over-fitting diagnosis itself."""
    return topic in DIAGNOSES_FIT


def module_name(topic: str) -> str:
    """The module that explains ``topic`` (hyphens become underscores)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown explanation topic {topic!r}; allowed: {', '.join(TOPICS)}")
    return f"{__name__}.{topic.replace('-', '_')}"


def answer(topic: str, results: Any) -> str:
    """Markdown explaining ``results`` for ``topic``; an empty topic or "none" explains nothing ('')."""
    if not topic or topic == "none":
        return ""
    return importlib.import_module(module_name(topic)).answer(results)
