"""The numbers the docs cite that the project can compute, computed from ``_toc.yml`` and ``params/``
(each chapter's values under a profile, as the runner resolves them): how many chapters and shared
notebooks there are, how many chapters share a notebook, which chapter uses which notebook, and how
many seeds the comparisons and the learning curve run under each profile."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from coursebook.book import params, paths
from coursebook.book.params import toc_chapter_ids

WORDS = {
    word: n
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else WORDS[text.lower()]


def _doc(name: str) -> str:
    return " ".join((paths.ROOT / name).read_text(encoding="utf-8").split())  # lines joined: a sentence may wrap


def _cited(name: str, pattern: str) -> tuple[str, ...]:
    found = re.search(pattern, _doc(name))
    assert found, f"{name} no longer says {pattern!r}: update this test with what it says now"
    return found.groups()


def _values(profile: str) -> dict[str, dict]:
    return {chapter: params.resolve(chapter, profile, {}).values for chapter in toc_chapter_ids()}


def _notebooks() -> dict[str, str]:
    return {chapter: params.load_chapter(chapter).notebook.stem for chapter in toc_chapter_ids()}


def _comparisons(values: dict[str, dict]) -> dict[str, int]:
    """Chapters that compare arms (two or more) -> their seeds."""
    return {c: v["repeats"] for c, v in values.items() if len(v.get("arms") or []) >= 2}


def test_the_chapter_and_notebook_counts_the_readme_cites():
    chapters, notebooks = _cited(
        "README.md", r"(\w+) chapters answer every question .*? on one of (\w+) shared notebooks"
    )
    assert _number(chapters) == len(toc_chapter_ids())
    assert _number(notebooks) == len(set(_notebooks().values()))


def test_the_readme_table_names_each_chapters_notebook():
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \|.*\| ([a-z-]+) \|$", (paths.ROOT / "README.md").read_text(), re.M))
    assert rows == _notebooks()


def test_the_chapters_that_share_compare_models():
    (count,) = _cited("docs/jupyter.md", r"`notebooks/compare-models.ipynb`, which (\w+) chapters share")
    assert _number(count) == Counter(_notebooks().values())["compare-models"]


def test_the_seeds_of_the_quick_comparisons():
    most, how_many, of, rest = _cited(
        "README.md", r"(\d+) seeds for (\d+) of the (\d+) comparisons and (\d+) for the others"
    )
    seeds = _comparisons(_values("quick"))
    assert int(of) == len(seeds)
    assert int(how_many) == sum(1 for s in seeds.values() if s == int(most))
    assert {s for s in seeds.values() if s != int(most)} == {int(rest)}


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("README.md", r"`full`: .*? the comparisons and the learning curve over (\d+) seeds"),
        ("docs/authoring.md", r"`full` \| .*? the comparisons and the learning curve repeated over (\d+) seeds"),
        ("docs/gpu.md", r"`PROFILE=full` trains every model with the assignments' settings, (\w+) seeds each"),
    ],
)
def test_the_seeds_of_the_full_profile(name, pattern):
    (cited,) = _cited(name, pattern)
    values = _values("full")
    trained = {c: v["repeats"] for c, v in values.items() if "repeats" in v}
    assert set(_comparisons(values)) | {c for c, v in values.items() if v.get("sizes")} <= set(trained)
    assert set(trained.values()) == {_number(cited)}
