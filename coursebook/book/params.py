"""Chapter parameters: declaration, resolution and validation.

A chapter is ``params/<id>.yaml`` (which source notebook, the title, the assignment's parameter
values) plus its source notebook's ``parameters`` cell, which *declares* every parameter in one
place, like a config file::

    epochs = 20              # [1, 1000] training epochs
    learning_rate = 1e-3     # (0, 1] Adam step size
    data = "auto"            # {auto, cifar10, synthetic} which images to train on
    models = ["a", "b"]      # {@models} architectures from params/models/
    train_size: "Optional[int]" = None  # [1, ] training images (None: all)

The type comes from the annotation or else from the default; the comment may start with a
range (``[lo, hi]``, ``(lo, hi)``, either end open) or a set of choices (``{a, b}``). A tag such as
``{@models}`` or ``{@arms}`` names a kind the course defines (``hooks.Course``): its choices (the model
specs in ``params/models``) or its own check (experiment arms). Effective parameters = notebook defaults <- the
chapter file <- the profile <- command-line overrides; all of it is checked here, before any
kernel starts, and every error is one line naming the file (or override), the key, the bad
value and what is allowed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from coursebook import checks
from coursebook.book import paths
from coursebook.book.hooks import Linker, course
from coursebook.yamlfile import safe_load

DEFAULT_PROFILE = "quick"
TIMEOUT = checks.Check(  # a chapter's, a profile's or the command line's limit per cell (book.timeouts)
    "seconds per cell, a number > 0, or 0/null for no limit",
    lambda value: value is None or (checks.is_number(value) and value >= 0),
    {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]},
    lambda value: None if value is None else float(value),
)
CHAPTER_FILE: checks.Options = {  # params/<id>.yaml (its parameters are checked against the notebook's declarations)
    "notebook": (checks.text, checks.REQUIRED),
    "title": (checks.text, checks.REQUIRED),
    "parameters": (checks.optional(checks.kind(dict, "a mapping of name: value", "object")), None),
    "timeout": (TIMEOUT, None),
}
CHAPTER_PREFIX = "book/chapters/"  # executed chapters, as _toc.yml names them


class ParameterError(ValueError):
    """Bad chapter, profile or parameter input; the message is one line that says where."""


@dataclass(frozen=True)
class Declaration:
    """One parameter as declared in a notebook's ``parameters`` cell."""

    name: str
    type: type
    default: Any
    optional: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    help: str = ""

    @property
    def tag(self) -> str | None:
        """The course's kind this parameter is of ('@models', '@arms'), if its choices name one."""
        if self.choices is not None and len(self.choices) == 1 and self.choices[0].startswith("@"):
            return self.choices[0]
        return None

    def check(self) -> checks.Check:
        """What this parameter accepts, as a check (its words are what error messages say)."""
        if self.tag is not None and self.tag in course().parameters.kinds:  # the course checks the entries itself
            base = course().parameters.kinds[self.tag]()
        elif self.choices is not None:
            names = tuple(course().parameters.choices[self.tag]()) if self.tag else self.choices
            base = checks.each(checks.choice(names)) if self.type is list else checks.choice(names)
        elif self.type in (int, float):
            make = checks.integer if self.type is int else checks.number
            base = make(self.low, self.high, low_open=self.low_open, high_open=self.high_open)
        else:
            base = checks.kind(self.type, _WORDS[self.type], _JSON_TYPES[self.type])
        return checks.optional(base) if self.optional else base


_WORDS = {str: "a string", bool: "true or false", list: "a list", dict: "a mapping"}
_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}


@dataclass
class Chapter:
    """A chapter: its id, params file and source notebook."""

    id: str
    title: str
    notebook: Path
    params_file: Path
    parameters: dict[str, Any]
    timeout: Any = None  # seconds per cell from the chapter file (checked by book.timeouts)


@dataclass
class Resolved:
    """Effective parameters of one chapter run, with where each value came from."""

    chapter: Chapter
    profile: str
    values: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)  # name -> "notebook"|"chapter"|"profile"|"override"

    @property
    def overridden(self) -> list[str]:
        return [k for k, o in self.origin.items() if o == "override"]


# --------------------------------------------------------------------------- YAML + chapters


def load_yaml(path: Path) -> Any:
    """Safe-load a YAML file; a syntax error names the file and line."""
    try:
        return safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{paths.relative(path)}: file not found") from None
    except yaml.MarkedYAMLError as err:
        line = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        problem = " ".join(f"{err.context or ''} {err.problem or ''}".split())
        raise ParameterError(f"{paths.relative(path)}: not valid YAML{line}: {problem}") from None
    except yaml.YAMLError as err:
        raise ParameterError(f"{paths.relative(path)}: not valid YAML: {' '.join(str(err).split())}") from None


@dataclass(frozen=True)
class TocPart:
    """One part (assignment) of ``_toc.yml``: its caption, its introduction page and its chapter ids."""

    caption: str
    root: str  # the introduction's docname, e.g. book/e4742
    chapters: list[str]  # chapter ids in order

    @property
    def name(self) -> str:
        """The introduction page's file name, e.g. 'aml' for book/aml: what ``make pdf PART=`` takes."""
        return Path(self.root).name


def toc_parts(toc_file: Path | None = None) -> list[TocPart]:
    """The parts of ``_toc.yml`` in order, read with sphinx_external_toc, the parser Jupyter Book itself
    uses (the one reader of the table of contents)."""
    from sphinx_external_toc.api import FileItem
    from sphinx_external_toc.parsing import MalformedError, parse_toc_yaml

    path = toc_file or paths.TOC_FILE
    try:
        site = parse_toc_yaml(path)
    except FileNotFoundError:
        raise ParameterError(f"{paths.relative(path)}: file not found") from None
    except (MalformedError, yaml.YAMLError) as err:
        raise ParameterError(
            f"{paths.relative(path)}: not a valid table of contents: {' '.join(str(err).split())}"
        ) from None

    def chapters(docname: str) -> list[str]:
        own = [docname.removeprefix(CHAPTER_PREFIX)] if docname.startswith(CHAPTER_PREFIX) else []
        return own + [
            c
            for tree in site[docname].subtrees
            for item in tree.items
            if isinstance(item, FileItem)
            for c in chapters(item)
        ]

    return [
        TocPart(
            str(tree.caption or ""),
            str(tree.items[0]),
            [c for item in tree.items if isinstance(item, FileItem) for c in chapters(item)],
        )
        for tree in site[site.root.docname].subtrees
        if tree.items
    ]


def toc_chapter_ids(toc_file: Path | None = None) -> list[str]:
    """Chapter ids in ``_toc.yml`` order (entries ``book/chapters/<id>``)."""
    return [chapter for part in toc_parts(toc_file) for chapter in part.chapters]


def check_toc(chapter_ids: list[str]) -> None:
    """Each ``_toc.yml`` chapter has its ``params/<id>.yaml`` and each params file is a chapter."""
    toc = paths.relative(paths.TOC_FILE)
    for chapter_id in chapter_ids:
        params_file = paths.PARAMS_DIR / f"{chapter_id}.yaml"
        if not params_file.is_file():
            raise ParameterError(
                f"{toc}: entry '{CHAPTER_PREFIX}{chapter_id}' has no {paths.relative(params_file)} "
                "(every chapter needs one: notebook, title, parameters)"
            )
    for params_file in sorted(paths.PARAMS_DIR.glob("*.yaml")):
        if params_file.stem not in chapter_ids:
            raise ParameterError(
                f"{paths.relative(params_file)}: chapter '{params_file.stem}' is not in {toc} "
                f"(add '- file: {CHAPTER_PREFIX}{params_file.stem}' there, or remove the file)"
            )


def load_chapter(chapter_id: str) -> Chapter:
    """Read ``params/<id>.yaml``; unknown chapter ids list the known ones."""
    params_file = paths.PARAMS_DIR / f"{chapter_id}.yaml"
    if not params_file.exists():
        known = ", ".join(toc_chapter_ids()) or "none"
        raise ParameterError(
            f"unknown chapter '{chapter_id}': no {paths.relative(params_file)} (chapters in _toc.yml: {known})"
        )
    try:
        raw = checks.check_options(load_yaml(params_file) or {}, CHAPTER_FILE)
        notebook = paths.NOTEBOOKS_DIR / raw["notebook"]
        if not notebook.is_file():
            notebooks = sorted(path.name for path in paths.NOTEBOOKS_DIR.glob("*.ipynb"))
            raise checks.Invalid(
                f"a notebook in {paths.relative(paths.NOTEBOOKS_DIR)}/: one of {checks.listed(notebooks)}",
                value=raw["notebook"],
                key="notebook",
            )
    except checks.Invalid as bad:
        raise ParameterError(bad.line(paths.relative(params_file))) from None
    return Chapter(chapter_id, raw["title"], notebook, params_file, raw["parameters"] or {}, raw["timeout"])


# --------------------------------------------------------------------------- declarations

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_RANGE = re.compile(r"^([\[(])\s*([^,\])]*)\s*,\s*([^\])]*)\s*([\])])\s*")
_CHOICES = re.compile(r"^\{([^}]*)\}\s*")


@lru_cache(maxsize=64)
def _declarations_cached(notebook: Path, mtime: float) -> dict[str, Declaration]:
    import papermill  # imported here: it is only needed by the runner

    found = papermill.inspect_notebook(str(notebook))
    if not found:
        raise ParameterError(f"{paths.relative(notebook)}: no cell tagged 'parameters'")
    return {name: _declaration(notebook, name, info) for name, info in found.items()}


def declarations(notebook: Path) -> dict[str, Declaration]:
    """Parameters declared in a notebook's ``parameters`` cell."""
    return _declarations_cached(notebook, notebook.stat().st_mtime)


def _declaration(notebook: Path, name: str, info: dict) -> Declaration:
    where = f"{paths.relative(notebook)}: parameter '{name}'"
    try:
        default = ast.literal_eval(info["default"])
    except (ValueError, SyntaxError):
        raise ParameterError(f"{where}: default {info['default']!r} is not a literal") from None
    annotation = (info.get("inferred_type_name") or "None").replace(" ", "")
    optional = annotation.endswith("|None") or annotation.startswith("Optional[")
    type_name = annotation.removesuffix("|None").removeprefix("Optional[").removesuffix("]")
    if type_name in _TYPES:
        kind = _TYPES[type_name]
    elif default is None:
        raise ParameterError(f'{where}: a None default needs an annotation such as "Optional[int]"')
    else:
        kind = type(default)
    if kind not in _TYPES.values():
        raise ParameterError(f"{where}: unsupported type {kind.__name__}")
    help_text = (info.get("help") or "").strip()
    fields: dict[str, Any] = {}
    if match := _RANGE.match(help_text):
        fields = {
            "low": float(match[2]) if match[2] else None,
            "high": float(match[3]) if match[3] else None,
            "low_open": match[1] == "(",
            "high_open": match[4] == ")",
        }
        help_text = help_text[match.end() :]
    elif match := _CHOICES.match(help_text):
        fields = {"choices": tuple(c.strip() for c in match[1].split(",") if c.strip())}
        help_text = help_text[match.end() :]
    return Declaration(name, kind, default, optional=optional or default is None, help=help_text, **fields)


# --------------------------------------------------------------------------- checking values


def check_value(decl: Declaration, value: Any, where: str) -> Any:
    """Return ``value`` (ints widened to float where a float is declared) or raise one clear line."""
    try:
        return decl.check()(value)
    except checks.Invalid as bad:
        raise ParameterError(bad.under(decl.name).line(where)) from None


# --------------------------------------------------------------------------- profiles + overrides


def profiles() -> tuple[str, ...]:
    """The profiles: the files in ``params/profiles/`` (a new file is a new profile)."""
    return tuple(sorted(path.stem for path in paths.PROFILES_DIR.glob("*.yaml")))


def check_profile(profile: str) -> None:
    """A profile named on the command line (``--profile``, ``PROFILE=``) is one of :func:`profiles`."""
    if profile not in profiles():
        raise ParameterError(
            f"command line: key 'profile' (--profile, PROFILE=): value {profile!r} is not "
            f"allowed: unknown profile (expected one of {{{', '.join(profiles())}}})"
        )


def _mapping_of(entries: str) -> checks.Check:
    """A mapping (null: an empty one) of the ``entries`` named in words."""
    return checks.Check(
        f"a mapping of {entries}",
        lambda value: value is None or isinstance(value, dict),
        {"type": ["object", "null"]},
        lambda value: dict(value or {}),
    )


PARAMETER_VALUES = _mapping_of("parameter: value")
PROFILE_FILE: checks.Options = {  # params/profiles/<name>.yaml
    "defaults": (PARAMETER_VALUES, {}),
    "chapters": (_mapping_of("chapter id: {parameter: value}"), {}),
    "timeout": (TIMEOUT, None),
}


def load_profile(profile: str) -> dict[str, Any]:
    """``params/profiles/<name>.yaml``: ``defaults`` for every chapter, ``chapters: {id: {...}}``."""
    check_profile(profile)
    path = paths.PROFILES_DIR / f"{profile}.yaml"
    try:
        raw = checks.check_options(load_yaml(path) or {}, PROFILE_FILE)
        for chapter_id, values in raw["chapters"].items():
            try:
                raw["chapters"][chapter_id] = PARAMETER_VALUES(values)
            except checks.Invalid as bad:
                raise bad.under(f"chapters.{chapter_id}") from None
    except checks.Invalid as bad:
        raise ParameterError(bad.line(paths.relative(path))) from None
    return {**raw, "file": path}


def with_data(overrides: dict[str, Any] | None, notebook: Path, data: str | None) -> dict[str, Any]:
    """``overrides`` with ``data`` (``DATA=``, ``--data``) for the course's data parameter
    (``hooks.Parameters.data``) when the notebook declares it; an override of its own wins."""
    overrides = dict(overrides or {})
    key = course().parameters.data
    if data is not None and key in declarations(notebook):
        overrides.setdefault(key, data)
    return overrides


def data_help(which: str) -> str:
    """``--data``'s help: the course's data parameter of ``which`` chapters, the values it takes."""
    parameters = course().parameters
    return f"the parameter {parameters.data} of {which} (checked there: {parameters.data_choices})"


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=3", "data=synthetic"]`` -> values parsed as YAML scalars."""
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"command line: override '{item}' is not of the form key=value")
        try:
            overrides[key.strip()] = safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ParameterError(f"command line: override '{item}': value is not a YAML scalar") from None
    return overrides


def resolve(
    chapter_id: str, profile: str = DEFAULT_PROFILE, overrides: dict[str, Any] | None = None, link: bool = True
) -> Resolved:
    """Effective, validated parameters of one chapter. What it takes from another chapter (the
    course's ``link``) is read from that chapter's parameters under the same profile, with the
    overrides the course names (``link=False``: without linking, for such a read)."""
    chapter = load_chapter(chapter_id)
    decls = declarations(chapter.notebook)
    prof = load_profile(profile)
    values = {name: d.default for name, d in decls.items()}
    origin = dict.fromkeys(values, "notebook")
    where_of = dict.fromkeys(values, f"the default in {paths.relative(chapter.notebook)}")
    layers = [
        (chapter.parameters, paths.relative(chapter.params_file), "chapter"),
        (_applicable(prof["defaults"], decls), paths.relative(prof["file"]), "profile"),
        (prof["chapters"].get(chapter_id) or {}, f"{paths.relative(prof['file'])} (chapters: {chapter_id})", "profile"),
        (overrides or {}, "command line", "override"),
    ]
    for layer, where, source in layers:
        for key, value in layer.items():
            if key not in decls:
                unknown = checks.Invalid(", ".join(decls), key=str(key), problem="unknown")
                raise ParameterError(unknown.line(where, f": the parameters chapter {chapter_id} declares"))
            values[key] = check_value(decls[key], value, where)
            origin[key] = source
            where_of[key] = where
    if "seed" not in decls:
        raise ParameterError(
            f"{paths.relative(chapter.notebook)}: every chapter must declare an integer 'seed' parameter"
        )
    if link and (linker := course().parameters.link) is not None:
        values = _linked(linker, values, profile, where_of)
    try:
        course().parameters.check(values, {name: d.tag for name, d in decls.items() if d.tag}, where_of)
    except ValueError as err:  # the course's message names the file, key, value and what is allowed
        raise ParameterError(str(err)) from None
    return Resolved(chapter, profile, values, origin)


def _linked(linker: Linker, values: dict[str, Any], profile: str, where_of: dict[str, str]) -> dict[str, Any]:
    def read_chapter(other: str, overrides: dict[str, Any]) -> dict[str, Any]:
        declared = declarations(load_chapter(other).notebook)
        return resolve(other, profile, {k: v for k, v in overrides.items() if k in declared}, link=False).values

    try:
        return linker(values, read_chapter, where_of)
    except ValueError as err:  # the course's message names the file, key, value and what is allowed
        raise ParameterError(str(err)) from None


def _applicable(defaults: dict[str, Any], decls: dict[str, Declaration]) -> dict[str, Any]:
    """Profile defaults apply to the chapters that declare them."""
    return {k: v for k, v in defaults.items() if k in decls}


def check_profile_keys(profile: str, chapter_ids: list[str]) -> None:
    """A profile default that no chapter declares is a typo: reject it."""
    prof = load_profile(profile)
    declared: set[str] = set()
    for cid in chapter_ids:
        declared |= set(declarations(load_chapter(cid).notebook))
    for key in prof["defaults"]:
        if key not in declared:
            raise ParameterError(f"{paths.relative(prof['file'])}: key 'defaults.{key}' is declared by no chapter")
    for cid in prof["chapters"]:
        if cid not in chapter_ids:
            raise ParameterError(f"{paths.relative(prof['file'])}: key 'chapters.{cid}': no such chapter in _toc.yml")
