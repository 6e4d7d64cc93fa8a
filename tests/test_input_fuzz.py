"""Every input a user edits, mutated at random, is either accepted or refused in one line that names
the file, the key and the value, before any kernel starts: never a traceback.

Each case takes one of the project's own files (a chapter's params file, a profile, a model spec),
changes one thing at a random place (a value of the wrong type, out of range, non-finite, empty,
unicode or Markdown/HTML; a key removed; an unknown key added) and plans the whole book as
``make book`` would (:func:`coursebook.book.runner.plan_book`, which checks every chapter, arm and
model before executing anything). The cases are seeded, so a failure names the seed that repeats it.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from coursebook.book import params, paths, runner, schema

PROJECT = Path(__file__).resolve().parents[1]
CASES_PER_KIND = 70  # 210 cases in all, each planned under every profile: about 30 s on 2 cores (marked slow)
STRANGE_VALUES: list[Any] = [
    "text",
    "",
    "   ",
    [],
    [1, "two"],
    {},
    {"unknown": 1},
    None,
    True,
    False,
    0,
    -1,
    -0.5,
    1.5,
    10**12,
    float("nan"),
    float("inf"),
    float("-inf"),
    "ünïcödé ☃",
    "<b>*bold*</b> | `code` [link](x) _u_",
    "a\nb",
]
KINDS = {  # which files a kind mutates
    "chapter": lambda: sorted(paths.PARAMS_DIR.glob("*.yaml")),
    "profile": lambda: sorted(paths.PROFILES_DIR.glob("*.yaml")),
    "model": lambda: sorted(paths.MODELS_DIR.glob("*.yaml")),
}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project's inputs (params, notebooks, _toc.yml), with nothing executed and no data."""
    root = tmp_path / "project"
    for name in ("params", "notebooks"):
        shutil.copytree(PROJECT / name, root / name)
    for name in ("_toc.yml", "requirements.txt"):
        shutil.copy2(PROJECT / name, root / name)
    monkeypatch.delenv("COURSEBOOK_DATA", raising=False)
    for name, value in {
        "ROOT": root,
        "PARAMS_DIR": root / "params",
        "MODELS_DIR": root / "params" / "models",
        "PROFILES_DIR": root / "params" / "profiles",
        "NOTEBOOKS_DIR": root / "notebooks",
        "BOOK_DIR": root / "book",
        "CHAPTERS_DIR": root / "book" / "chapters",
        "BUILD_DIR": root / "_build",
        "TOC_FILE": root / "_toc.yml",
        "REQUIREMENTS_FILE": root / "requirements.txt",
        "DATA_DIR": root / "data",
        "DATASET_CACHE_DIR": root / ".cache" / "datasets",
    }.items():
        monkeypatch.setattr(paths, name, value)
    return root


def places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a YAML document: the path of keys and list indices leading to it."""
    found = [path]
    if isinstance(node, dict):
        found += [p for key, value in node.items() for p in places(value, (*path, key))]
    elif isinstance(node, list):
        found += [p for i, value in enumerate(node) for p in places(value, (*path, i))]
    return found


def mutate(document: Any, rng: random.Random) -> tuple[Any, list[str], str]:
    """The document with one random change, the keys a refusal may name (the added key; else the changed
    key or one that holds it: a spec's error may name the layer whose shape a changed stride breaks),
    and the change in words."""
    where = rng.choice(places(document)[1:] or [()])
    if not where:
        value = rng.choice(STRANGE_VALUES)
        return value, [], f"the whole document replaced by {value!r}"
    parent = document
    for step in where[:-1]:
        parent = parent[step]
    last, keys, place = where[-1], [str(step) for step in where if isinstance(step, str)], ".".join(map(str, where))
    action = rng.choice(["replace", "replace", "replace", "remove", "add"])
    if action == "remove" and isinstance(parent, dict):
        del parent[last]
        return document, keys, f"key {place} removed"
    if action == "add" and isinstance(parent, dict):
        parent["surprise_key"] = rng.choice(STRANGE_VALUES)
        return document, ["surprise_key"], f"unknown key 'surprise_key' added beside {place}"
    parent[last] = rng.choice(STRANGE_VALUES)
    return document, keys, f"{place} = {parent[last]!r}"


def refusal_problem(message: str, file: Path, keys: list[str]) -> str:
    """What is wrong with a refusal's message ('' when it is one line naming the file and a key, or a key
    whose value came from the changed profile)."""
    if "\n" in message.strip():
        return "more than one line"
    if file.name not in message:
        return f"does not name {file.name}"
    if keys and not any(key in message for key in keys) and f"from params/profiles/{file.name}" not in message:
        return f"names none of the keys {keys}"  # (or a key elsewhere whose value came from the changed profile)
    return ""


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_mutated_input_is_accepted_or_refused_in_one_line_and_its_schema_agrees(project, kind):
    """Each case is planned under every profile that reads the file (accepted: by all of them). A
    refusal is one line naming the file and a key. ``make schema`` writes JSON Schemas from the same
    checks, for editors: whatever the book accepts, the schema accepts too, and it flags most of what
    the book refuses (not all: a schema cannot compare a patience with the epochs or chain layer shapes)."""
    schemas = {
        file: jsonschema.Draft202012Validator(found)
        for pattern, found in schema.schemas().values()
        for file in project.glob(pattern)
    }
    files = KINDS[kind]()
    assert files, f"no {kind} files to mutate"
    problems, flagged_good, refused, flagged = [], [], 0, 0
    for seed in range(CASES_PER_KIND):
        rng = random.Random(f"{kind}-{seed}")
        file = rng.choice(files)
        original = file.read_text(encoding="utf-8")
        document, keys, change = mutate(yaml.safe_load(original), rng)
        file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        errors = list(schemas[file].iter_errors(yaml.safe_load(file.read_text(encoding="utf-8"))))
        try:
            for profile in [file.stem] if kind == "profile" else params.profiles():
                runner.plan_book(profile)
            if errors:
                flagged_good.append(f"seed {seed}, {file.name}, {change}: {errors[0].message}")
        except params.ParameterError as err:
            refused += 1
            flagged += bool(errors)
            problem = refusal_problem(str(err), file, keys)
            if problem:
                problems.append(f"seed {seed}, {file.name}, {change}: {problem}: {err}")
        except Exception as err:  # noqa: BLE001 - any other exception is a traceback for the user
            problems.append(f"seed {seed}, {file.name}, {change}: {type(err).__name__}: {err}")
        finally:
            file.write_text(original, encoding="utf-8")
    assert problems == [], "\n".join(problems)
    assert refused >= CASES_PER_KIND // 6  # many changes are mistakes the checks must catch (not a vacuous run)
    assert flagged_good == [], "\n".join(flagged_good)
    assert flagged / refused >= 0.8, f"the schema flags {flagged} of the {refused} refused inputs"
