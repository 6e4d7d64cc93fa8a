"""``make schema``: the project's input files as JSON Schema, generated from the checks that
validate them (:mod:`coursebook.checks`), so an editor flags a bad key or value as it is typed.

    python -m coursebook schema [--output _build/schema]

writes one schema per chapter file (``chapter-<id>.schema.json``: the parameters its notebook
declares, with their ranges and choices), the profiles' (``profile.schema.json``), the course's own
(``model.schema.json`` for ``params/models/*.yaml``) and ``yaml.schemas.json``: which schema checks
which files, as the VS Code YAML extension's ``yaml.schemas`` setting takes it. The checks stay the
authority: a file its schema accepts can still be refused for what a schema cannot say (a patience
not below the arm's epochs, layers whose shapes do not chain, more images than the data holds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from coursebook.atomic import atomic_write_texts
from coursebook.book import params, paths
from coursebook.book.hooks import course
from coursebook.checks import mapping_schema

DEFAULT_OUTPUT = paths.BUILD_DIR / "schema"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def parameters_schema(chapter_id: str) -> dict[str, Any]:
    """The ``parameters`` of one chapter file: each declared parameter's check, its help as description."""
    declared = params.declarations(params.load_chapter(chapter_id).notebook)
    return {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            name: {**decl.check().schema, **({"description": decl.help} if decl.help else {})}
            for name, decl in declared.items()
        },
    }


def chapter_schema(chapter_id: str) -> dict[str, Any]:
    """``params/<id>.yaml`` as JSON Schema."""
    schema = mapping_schema(params.CHAPTER_FILE)
    schema["properties"]["parameters"] = parameters_schema(chapter_id)
    return {"$schema": DRAFT, "title": f"coursebook chapter {chapter_id}", **schema}


def profile_schema(chapter_ids: list[str]) -> dict[str, Any]:
    """``params/profiles/<name>.yaml``: defaults for the chapters that declare them, per-chapter values."""
    per_chapter = {chapter_id: parameters_schema(chapter_id) for chapter_id in chapter_ids}
    defaults: dict[str, list[dict[str, Any]]] = {}
    for chapter in per_chapter.values():
        for name, schema in chapter["properties"].items():
            if schema not in defaults.setdefault(name, []):
                defaults[name].append(schema)
    schema = mapping_schema(params.PROFILE_FILE)
    schema["properties"].update(
        defaults={
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                name: variants[0] if len(variants) == 1 else {"anyOf": variants} for name, variants in defaults.items()
            },
        },
        chapters={"type": ["object", "null"], "additionalProperties": False, "properties": per_chapter},
    )
    return {"$schema": DRAFT, "title": "coursebook profile", **schema}


def schemas() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every schema: its file name -> (the files it checks, relative to the project; the schema)."""
    chapter_ids = params.toc_chapter_ids()
    found = {
        f"chapter-{chapter_id}.schema.json": (
            f"{paths.relative(paths.PARAMS_DIR)}/{chapter_id}.yaml",
            chapter_schema(chapter_id),
        )
        for chapter_id in chapter_ids
    }
    found["profile.schema.json"] = (f"{paths.relative(paths.PROFILES_DIR)}/*.yaml", profile_schema(chapter_ids))
    for name, (pattern, schema) in course().parameters.file_schemas().items():
        found[f"{name}.schema.json"] = (pattern, {"$schema": DRAFT, **schema})
    return found


def write(output: Path = DEFAULT_OUTPUT) -> list[Path]:
    """Write every schema and the ``yaml.schemas`` mapping into ``output``, all or nothing."""
    found = schemas()
    files = {output / name: json.dumps(schema, indent=1) + "\n" for name, (_, schema) in found.items()}
    mapping = {_setting_path(output / name): pattern for name, (pattern, _) in found.items()}
    files[output / "yaml.schemas.json"] = json.dumps(mapping, indent=1) + "\n"
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_texts(files)
    return list(files)


def _setting_path(path: Path) -> str:
    """A schema's path as the editor's setting names it: relative to the project, else absolute."""
    shown = paths.relative(path)
    return shown if Path(shown).is_absolute() else f"./{shown}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursebook schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the schemas")
    args = parser.parse_args(argv)
    try:
        written = write(args.output.resolve())
    except params.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"coursebook: {len(written) - 1} JSON Schemas in {paths.relative(args.output.resolve())}/; "
        f"for VS Code's YAML extension, put the contents of {written[-1].name} under the setting yaml.schemas"
    )
    return 0
