"""Questions as data, answers by kind.

A chapter's ``questions`` parameter lists its sub-questions, the assignment's words in order, each
with what it turns on::

    questions:
      - label: G                        # how the assignment numbers it (optional)
        ask: "Compare the validation loss of E and F: is either model over- or under-fitting? Explain."
        kind: fit                       # the answer strategy (one of KINDS)
        arms: ["E: baseline", "F: augmented"]   # by name, as in the results (default: every arm)
        measure: val_loss               # what it compares (coursebook.course.results.MEASURES)
        epochs: curve                   # evaluated (each run's evaluated weights), equal (epoch by epoch) or
                                        # curve (whole curves); each kind reads some (KIND_EPOCHS), its first by default
        explain: augmentation           # the mechanism to weigh against the run's facts (MECHANISMS), or null
        mark: 0.9                       # speed: the mark as a fraction of the lowest best value any run reached
        highlight: 10000                # learning-curve: a size the assignment names

Each kind is one module of :mod:`coursebook.course.answers.kinds` that registers its strategy with
:func:`register` (the way Papermill registers engines): ``strategy(results, question) -> Section``.
An unknown kind, mechanism, measure or arm is refused in one line when the chapter's parameters are
checked, before any kernel starts (:func:`check_questions`, called by ``course.registration``).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coursebook import checks
from coursebook.course.results import MEASURES

EPOCHS = ("evaluated", "equal", "curve")
MECHANISMS = (
    "augmentation",
    "batch-norm",
    "capacity",
    "convolution",
    "depth",
    "regularizers",
    "early-stopping",
    "data-size",
)
KINDS: dict[str, Callable[[Any, Question], Section]] = {}
KIND_EPOCHS: dict[str, tuple[str, ...]] = {}  # kind -> the epochs it reads (the first is its default)
QUESTIONS_ALLOWED = "a non-empty list of questions, each a mapping with keys ask and kind"


@dataclass(frozen=True)
class Question:
    """One sub-question as its chapter declares it (see the module docstring)."""

    ask: str
    kind: str
    label: str = ""
    arms: tuple[str, ...] = ()
    measure: str | None = None
    epochs: str | None = None
    explain: str | None = None
    mark: float = 0.9
    highlight: int | None = None


@dataclass
class Section:
    """A question's answer: ``direct`` (the one-sentence answer, shown first in the page's summary),
    the ``detail`` sentences, ``tables`` (Markdown) and ``why`` (the explanation, tied to numbers)."""

    direct: str
    detail: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)


def register(
    kind: str, epochs: tuple[str, ...] = ("evaluated",)
) -> Callable[[Callable[[Any, Question], Section]], Callable[[Any, Question], Section]]:
    """Register ``strategy`` as the answer of questions of ``kind``, which read ``epochs`` (each
    run's evaluated weights, equal epochs, or whole curves; the first is the default)."""

    def add(strategy: Callable[[Any, Question], Section]) -> Callable[[Any, Question], Section]:
        KINDS[kind], KIND_EPOCHS[kind] = strategy, epochs
        return strategy

    return add


def kinds() -> tuple[str, ...]:
    """Every registered kind (importing each module of the ``kinds`` package registers it)."""
    from coursebook.course.answers import kinds as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return tuple(sorted(KINDS))


def strategy(kind: str) -> Callable[[Any, Question], Section]:
    kinds()
    if kind not in KINDS:
        raise KeyError(f"no answer strategy for kind {kind!r} (kinds: {', '.join(sorted(KINDS))})")
    return KINDS[kind]


def schema_of() -> checks.Options:
    """The options of one question, as :func:`coursebook.checks.check_options` reads them."""
    names = checks.Check(
        "a non-empty list of arm names",
        lambda v: isinstance(v, list) and bool(v) and all(isinstance(n, str) and n.strip() for n in v),
        {"type": "array", "minItems": 1, "items": {"type": "string"}},
        tuple,
    )
    return {
        "ask": (checks.text, checks.REQUIRED),
        "kind": (checks.choice(kinds()), checks.REQUIRED),
        "label": (checks.string, ""),
        "arms": (names, ()),
        "measure": (checks.optional(checks.choice(MEASURES)), None),
        "epochs": (checks.optional(checks.choice(EPOCHS)), None),
        "explain": (checks.optional(checks.choice(MECHANISMS)), None),
        "mark": (checks.number(0, 1, low_open=True), 0.9),
        "highlight": (checks.optional(checks.integer(1)), None),
    }


def questions_kind() -> checks.Check:
    """A ``@questions`` parameter, coarsely (each question is checked by :func:`check_questions`)."""
    return checks.Check(
        QUESTIONS_ALLOWED,
        lambda value: isinstance(value, list) and bool(value),
        {"type": "array", "minItems": 1, "items": checks.mapping_schema(schema_of())},
    )


def check_questions(value: Any, arm_names: Sequence[str] | None, where: str, key: str = "questions") -> list[Question]:
    """Every question of ``value``, checked: known kind, mechanism, measure and epochs, and arms that
    the chapter has (``arm_names``; None: not known here). Raises ValueError with one line."""
    if not isinstance(value, list) or not value:
        raise ValueError(checks.Invalid(QUESTIONS_ALLOWED, value=value, key=key).line(where))
    found = []
    for index, entry in enumerate(value):
        try:
            parsed = checks.check_options(entry, schema_of())
        except checks.Invalid as bad:
            raise ValueError(bad.under(f"{key}[{index}]").line(where)) from None
        allowed = KIND_EPOCHS[parsed["kind"]]
        if parsed["epochs"] not in (None, *allowed):
            refusal = checks.Invalid(
                f"{checks.listed(allowed)} for kind {parsed['kind']!r}",
                value=parsed["epochs"],
                key=f"{key}[{index}].epochs",
            )
            raise ValueError(refusal.line(where))
        unknown = [arm for arm in parsed["arms"] if arm_names is not None and arm not in arm_names]
        if unknown:
            refusal = checks.Invalid(
                f"names of the chapter's arms {checks.listed(arm_names or [])}",
                value=unknown[0],
                key=f"{key}[{index}].arms",
            )
            raise ValueError(refusal.line(where))
        found.append(Question(**{**parsed, "epochs": parsed["epochs"] or allowed[0]}))
    return found


def questions(value: Sequence[Mapping[str, Any] | Question]) -> list[Question]:
    """``value`` as questions (already :class:`Question` objects are kept)."""
    kinds()
    parsed = [q if isinstance(q, Question) else Question(**checks.check_options(q, schema_of())) for q in value]
    return [q if q.epochs else dataclasses.replace(q, epochs=KIND_EPOCHS[q.kind][0]) for q in parsed]
