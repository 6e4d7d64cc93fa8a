"""Checks of values read from YAML and JSON: one style and one message for every input.

Chapter parameters (``book.params``), experiment arms (``course.arms``), model specs
(``course.models``) and results files (``course.results``) are all checked with the pieces here.
A :class:`Check` returns its value normalized or raises :class:`Invalid`, which says what would
have been accepted and, inside a mapping, at which key path; :func:`options` checks a mapping
against named checks with defaults. Every refusal becomes the same one line::

    params/q6-p2.yaml: arm 'deeper' (arms[1]): key 'epochs': value 0 is not allowed (expected an int in [1, 1000])

Each check also describes what it accepts as JSON Schema (``check.schema``), so the same
declarations give editors a schema for ``params/`` files (``python -m coursebook schema``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()  # an option without a default


class Invalid(ValueError):
    """A refused value. ``allowed`` says what is accepted; ``key`` is the path inside the checked
    mapping ('' for the value itself); ``problem`` is 'value', 'unknown' (a key not allowed) or
    'missing' (a required key absent)."""

    def __init__(self, allowed: str, *, value: Any = None, key: str = "", problem: str = "value"):
        super().__init__(allowed)
        self.allowed, self.value, self.key, self.problem = allowed, value, key, problem

    def under(self, parent: str) -> Invalid:
        """The same refusal one level down: its key prefixed with ``parent``."""
        key = parent + (self.key if self.key.startswith("[") or not self.key else f".{self.key}")
        return Invalid(self.allowed, value=self.value, key=key, problem=self.problem)

    def line(self, where: str = "", note: str = "") -> str:
        """The one-line message: ``where`` names the file (and entry); ``note`` adds a reason."""
        head = ": ".join(part for part in (where, f"key '{self.key}'" if self.key else "") if part)
        if self.problem == "unknown":
            return f"{head} is not allowed (allowed: {self.allowed}{note})"
        if self.problem == "missing":
            return f"{head} is missing (expected {self.allowed}{note})"
        value = f"value {shown(self.value)} is not allowed (expected {self.allowed}{note})"
        return f"{head}: {value}" if head else value

    def __str__(self) -> str:
        return self.line()


def shown(value: Any) -> str:
    """A value as a one-line message shows it (its repr, cut at 60 characters)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def listed(names: Iterable[Any]) -> str:
    """``{a, b, c}``: a set of allowed names as messages write it."""
    return "{" + ", ".join(map(str, names)) + "}"


@dataclass(frozen=True)
class Check:
    """What one value may be: ``test`` decides, ``convert`` normalizes, ``allowed`` says it in
    words and ``schema`` as JSON Schema."""

    allowed: str
    test: Callable[[Any], bool]
    schema: dict[str, Any] = field(default_factory=dict)
    convert: Callable[[Any], Any] = lambda value: value

    def __call__(self, value: Any) -> Any:
        if not self.test(value):
            raise Invalid(self.allowed, value=value)
        return self.convert(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    def number(value: float | None) -> str:
        if value is None:
            return ""
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)

    return f"{'(' if low_open else '['}{number(low)}, {number(high)}{')' if high_open else ']'}"


def _within(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


def _range_schema(low: float | None, high: float | None, low_open: bool, high_open: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if low is not None:
        schema["exclusiveMinimum" if low_open else "minimum"] = low
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    return schema


def integer(
    low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Check:
    """An int (not a bool) in the given bounds; a bound left out (None) is no bound."""
    words = "an int" if low is None and high is None else f"an int in {_bounds(low, high, low_open, high_open)}"
    return Check(
        words,
        lambda v: is_int(v) and _within(v, low, high, low_open, high_open),
        {"type": "integer", **_range_schema(low, high, low_open, high_open)},
    )


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Check:
    """A finite number (an int is widened to float) in the given bounds."""
    words = "a number" if low is None and high is None else f"a number in {_bounds(low, high, low_open, high_open)}"
    return Check(
        words,
        lambda v: is_number(v) and _within(v, low, high, low_open, high_open),
        {"type": "number", **_range_schema(low, high, low_open, high_open)},
        float,
    )


def choice(choices: Sequence[Any]) -> Check:
    """One of ``choices``."""
    return Check(
        f"one of {listed(choices)}",
        lambda v: isinstance(v, (str, int, float)) and v in choices,
        {"enum": list(choices)},
    )


def each(check: Check) -> Check:
    """A non-empty list of distinct values, each accepted by ``check``."""

    def test(value: Any) -> bool:
        return (
            isinstance(value, list)
            and bool(value)
            and all(map(check.test, value))
            and len(set(map(repr, value))) == len(value)
        )

    return Check(
        f"a non-empty list of distinct entries, each {check.allowed}",
        test,
        {"type": "array", "minItems": 1, "uniqueItems": True, "items": check.schema},
    )


def kind(python_type: type, words: str, json_type: str) -> Check:
    """Any value of one type (a bool is not an int)."""
    return Check(
        words,
        lambda v: isinstance(v, python_type) and (python_type is bool or not isinstance(v, bool)),
        {"type": json_type},
    )


boolean = kind(bool, "true or false", "boolean")
string = kind(str, "a string", "string")
text = Check(
    "a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()), {"type": "string", "pattern": "\\S"}
)


def optional(check: Check | OptionsCheck) -> Check:
    """``check``'s values or null (``check`` is a :class:`Check` or :func:`options`)."""
    allowed = f"{check.allowed} or null"

    def convert(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except Invalid as bad:
            if bad.key:  # refused inside the mapping: the key path says more than "or null"
                raise
            raise Invalid(allowed, value=value) from None

    return Check(allowed, lambda value: True, {"anyOf": [check.schema, {"type": "null"}]}, convert)


Options = Mapping[str, "tuple[Callable[[Any], Any], Any]"]


def check_options(value: Any, schema: Options, *, finish: Callable[[dict], dict] | None = None) -> dict[str, Any]:
    """A mapping checked against ``schema`` (``{key: (check, default or REQUIRED)}``), every key
    present with defaults filled in; a refusal names the key path. ``finish`` may complete it."""
    if not isinstance(value, Mapping):
        raise Invalid(f"a mapping with keys {listed(schema)}", value=value)
    unknown = [key for key in value if key not in schema]
    if unknown:
        raise Invalid(", ".join(schema), key=str(unknown[0]), problem="unknown")
    parsed = {}
    for key, (check, default) in schema.items():
        if key not in value:
            if default is REQUIRED:
                raise Invalid(getattr(check, "allowed", "a value"), key=key, problem="missing")
            parsed[key] = default
            continue
        try:
            parsed[key] = check(value[key])
        except Invalid as bad:
            raise bad.under(key) from None
    return finish(parsed) if finish else parsed


@dataclass(frozen=True)
class OptionsCheck:
    """:func:`check_options` as a check, with the JSON Schema of the mapping."""

    schema_of: Options
    finish: Callable[[dict], dict] | None = None

    @property
    def allowed(self) -> str:
        return f"a mapping with keys {listed(self.schema_of)}"

    @property
    def schema(self) -> dict[str, Any]:
        return mapping_schema(self.schema_of)

    def __call__(self, value: Any) -> dict[str, Any]:
        return check_options(value, self.schema_of, finish=self.finish)


def options(schema: Options, finish: Callable[[dict], dict] | None = None) -> OptionsCheck:
    """A check of a mapping of options (see :func:`check_options`)."""
    return OptionsCheck(schema, finish)


def mapping_schema(schema: Options) -> dict[str, Any]:
    """The JSON Schema of a mapping checked against ``schema``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {key: getattr(check, "schema", {}) for key, (check, _) in schema.items()},
        "required": [key for key, (_, default) in schema.items() if default is REQUIRED],
    }
