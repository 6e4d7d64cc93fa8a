"""The one validator style (coursebook.checks): what each check accepts, the one-line message of a
refusal with its key path, and JSON Schemas that accept exactly what the checks accept."""

from __future__ import annotations

import jsonschema
import pytest

from coursebook import checks
from coursebook.checks import REQUIRED, Invalid

VALUES = [
    None,
    True,
    False,
    0,
    1,
    2,
    3,
    99,
    100,
    101,
    -1,
    0.0,
    0.5,
    1.0,
    2.5,
    1e9,
    "",
    " ",
    "a",
    "same",
    "valid",
    [],
    [1],
    [1, 2],
    [1, 1],
    [2, 3, 4],
    ["a", "b"],
    ["a", "a"],
    {},
    {"a": 1},
]
CHECKS = {
    "integer(1, 100)": checks.integer(1, 100),
    "integer(0)": checks.integer(0),
    "integer(0, 3, open)": checks.integer(0, 3, low_open=True, high_open=True),
    "number(0, 1, low open)": checks.number(0, 1, low_open=True),
    "number(0)": checks.number(0),
    "choice": checks.choice(("valid", "same")),
    "boolean": checks.boolean,
    "string": checks.string,
    "text": checks.text,
    "optional integer": checks.optional(checks.integer(1, 100)),
    "each choice": checks.each(checks.choice(("a", "b"))),
}


def accepts(check, value) -> bool:
    try:
        check(value)
    except Invalid:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_each_check_and_its_json_schema_accept_the_same_values(name):
    check = CHECKS[name]
    validator = jsonschema.Draft202012Validator(check.schema)
    stricter = [value for value in VALUES if accepts(check, value) and not validator.is_valid(value)]
    looser = [
        value
        for value in VALUES
        if validator.is_valid(value)
        and not accepts(check, value)
        and not (isinstance(value, float) and value.is_integer())
    ]  # JSON Schema: 1.0 is an integer
    assert (stricter, looser) == ([], [])
    assert any(accepts(check, value) for value in VALUES) and not all(accepts(check, value) for value in VALUES)


@pytest.mark.parametrize(
    "check, good, bad",
    [
        (checks.integer(1, 100), [1, 100], [0, 101, 1.0, True, "1"]),
        (checks.integer(0, 3, low_open=True, high_open=True), [1, 2], [0, 3]),
        (checks.number(0, 1, low_open=True), [1, 0.5, 1e-9], [0, 1.5, float("nan"), float("inf"), True]),
        (checks.text, ["a"], ["", "   ", 3, None]),
        (checks.each(checks.choice(("a", "b"))), [["a"], ["b", "a"]], [[], ["a", "a"], ["c"], "a"]),
    ],
)
def test_bounds_types_and_non_finite_numbers(check, good, bad):
    assert [accepts(check, value) for value in good] == [True] * len(good)
    assert [accepts(check, value) for value in bad] == [False] * len(bad)


def test_a_number_is_widened_to_float_and_a_pair_of_bounds_is_written_as_given():
    assert checks.number(0, 1)(1) == 1.0 and isinstance(checks.number(0, 1)(1), float)
    assert checks.integer(0, 10_000_000).allowed == "an int in [0, 10000000]"
    assert checks.number(0, 1, low_open=True, high_open=True).allowed == "a number in (0, 1)"
    assert checks.optional(checks.integer(100)).allowed == "an int in [100, ] or null"


SCHEMA = {
    "size": (checks.integer(1), REQUIRED),
    "mode": (checks.choice(("min", "max")), "min"),
    "inner": (checks.optional(checks.options({"rate": (checks.number(0, 1), REQUIRED)})), None),
}


def test_options_fill_defaults_and_name_the_key_path_of_a_refusal():
    assert checks.check_options({"size": 3}, SCHEMA) == {"size": 3, "mode": "min", "inner": None}
    cases = {
        "size": ({"size": 0}, "file: key 'size': value 0 is not allowed (expected an int in [1, ])"),
        "missing": ({}, "file: key 'size' is missing (expected an int in [1, ])"),
        "unknown": ({"size": 1, "colour": "red"}, "file: key 'colour' is not allowed (allowed: size, mode, inner)"),
        "nested": (
            {"size": 1, "inner": {"rate": 2}},
            "file: key 'inner.rate': value 2 is not allowed (expected a number in [0, 1])",
        ),
        "nested missing": ({"size": 1, "inner": {}}, "file: key 'inner.rate' is missing (expected a number in [0, 1])"),
        "not a mapping": (
            {"size": 1, "inner": 5},
            "file: key 'inner': value 5 is not allowed (expected a mapping with keys {rate} or null)",
        ),
        "whole": ([1], "file: value [1] is not allowed (expected a mapping with keys {size, mode, inner})"),
    }
    for name, (value, expected) in cases.items():
        with pytest.raises(Invalid) as refused:
            checks.check_options(value, SCHEMA)
        assert refused.value.line("file") == expected, name


def test_a_key_path_goes_through_lists_and_mappings_and_a_long_value_is_cut():
    bad = Invalid("an int", value="x" * 100).under("[2]").under("layers")
    assert bad.key == "layers[2]"
    assert bad.under("spec").key == "spec.layers[2]"
    line = bad.line("f.yaml")
    assert line == f"f.yaml: key 'layers[2]': value '{'x' * 56}... is not allowed (expected an int)"
    assert str(Invalid("true or false", value=3)) == "value 3 is not allowed (expected true or false)"


def test_the_json_schema_of_options_requires_what_has_no_default():
    validator = jsonschema.Draft202012Validator(checks.mapping_schema(SCHEMA))
    assert validator.is_valid({"size": 2}) and validator.is_valid({"size": 2, "inner": {"rate": 0.5}})
    assert not validator.is_valid({}) and not validator.is_valid({"size": 2, "colour": 1})
    assert not validator.is_valid({"size": 2, "inner": {}})


def test_make_schema_writes_a_schema_that_accepts_every_params_file_of_the_project(tmp_path):
    import json
    from pathlib import Path

    import yaml

    from coursebook.book import paths, schema

    output = tmp_path / "schema"
    assert schema.main(["--output", str(output)]) == 0
    mapping = json.loads((output / "yaml.schemas.json").read_text())
    checked = set()
    for schema_file, pattern in mapping.items():
        assert schema_file.startswith(str(output))  # outside the project: an absolute path
        found = json.loads(Path(schema_file).read_text())
        jsonschema.Draft202012Validator.check_schema(found)
        validator = jsonschema.Draft202012Validator(found)
        for file in paths.ROOT.glob(pattern):
            assert list(validator.iter_errors(yaml.safe_load(file.read_text()))) == [], file
            checked.add(file)
    expected = {*paths.PARAMS_DIR.glob("*.yaml"), *paths.PROFILES_DIR.glob("*.yaml"), *paths.MODELS_DIR.glob("*.yaml")}
    assert checked == expected
