"""The landing page's results overview, from hand-made results files in a miniature project."""

from __future__ import annotations

import json
import math

from coursebook.book import overview, paths
from coursebook.book.params import toc_parts
from tests import factories


def run(seed, val_acc, test_acc, evaluated_epoch=3):
    """A run of 3 epochs (2 s, 1 s, 1 s) evaluated at ``evaluated_epoch``."""
    return factories.run(seed, val=val_acc, test=test_acc, epochs=3, evaluated=evaluated_epoch)


def results(arms, profile="full", synthetic=False, check=True):
    """A results file's mapping of ``arms`` (name, parameter count, runs); ``check``: one the book accepts."""
    built = [factories.arm(name, runs, model="tiny", parameters=total) for name, total, runs in arms]
    options = {"chapter": "alpha", "profile": profile, "synthetic": synthetic}
    return factories.results(*built, **options).to_dict() if check else factories.results_dict(*built, **options)


def publish(chapter_id, data):
    """A results file and the executed notebook it belongs to."""
    paths.CHAPTERS_DIR.mkdir(parents=True, exist_ok=True)
    (paths.CHAPTERS_DIR / f"{chapter_id}.ipynb").write_text("{}")
    text = data if isinstance(data, str) else json.dumps(data)
    (paths.CHAPTERS_DIR / f"{chapter_id}.results.json").write_text(text)


def table_rows(markdown):
    return [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| chapter")]


def test_parts_follow_the_toc(mini_project):
    assert [(p.caption, p.chapters) for p in toc_parts()] == [("Part", ["alpha", "beta"])]


def test_one_row_per_arm_with_mean_and_sd_over_runs(mini_project):
    publish("alpha", results([("base", 1234567, [run(0, 0.5, 0.4), run(1, 0.7, 0.6)]),
                              ("b|*x_", 10, [run(0, 0.25, 0.2, evaluated_epoch=2), run(1, 0.5, 0.3)])]))
    text = overview.overview_markdown(toc_parts())
    first, second = table_rows(text)
    sd = math.sqrt(((0.5 - 0.6) ** 2 + (0.7 - 0.6) ** 2) / 1)
    pm = "\u00a0±\u00a0"
    assert first.split(" | ") == ["| {doc}`Chapter alpha </book/chapters/alpha>` (2 runs; CIFAR-10, full)", "base",
                                  "1,234,567", "3", f"0.6000{pm}{sd:.4f}", f"0.5000{pm}{sd:.4f}",
                                  f"4.0{pm}0.0\u00a0s |"]
    cells = second.split(" | ")
    assert cells[0] == "| " and cells[1] == "b\\|\\*x\\_"  # chapter link only on its first row; name escaped
    assert cells[3] == "2, 3"  # evaluated epochs differ: listed per run
    assert "### Part" in text
    assert "reduced profile" not in text  # full profile on CIFAR-10: nothing to mark


def test_synthetic_and_small_profiles_are_marked(mini_project):
    publish("alpha", results([("base", 10, [run(0, 0.5, 0.4)])], profile="quick"))
    publish("beta", results([("base", 10, [run(0, 0.5, 0.4)])], synthetic=True))
    text = overview.overview_markdown(toc_parts())
    alpha, beta = table_rows(text)
    assert alpha.startswith("| {doc}`Chapter alpha </book/chapters/alpha>` (1 run; CIFAR-10, **quick**) |")
    assert beta.startswith("| {doc}`Chapter beta </book/chapters/beta>` (1 run; **synthetic**, full) |")
    assert "**2 of 2 chapters were computed with a reduced profile or on the synthetic stand-in**" in text


def test_chapters_without_results_or_page_are_left_out(mini_project):
    assert "No chapter has results yet" in overview.overview_markdown(toc_parts())
    paths.CHAPTERS_DIR.mkdir(parents=True)
    (paths.CHAPTERS_DIR / "alpha.results.json").write_text(json.dumps(results([("a", 1, [run(0, 0.5, 0.4)])])))
    assert "No chapter has results yet" in overview.overview_markdown(toc_parts())  # no page to link


def test_a_damaged_results_file_is_named_not_fatal(mini_project):
    publish("alpha", "{not json")
    publish("beta", results([("base", 10, [])], check=False))
    alpha, beta = table_rows(overview.overview_markdown(toc_parts()))
    assert "book/chapters/alpha.results.json cannot be read" in alpha
    assert "unreadable arm (no runs)" in beta


def test_write_is_atomic_and_creates_the_folder(mini_project):
    publish("alpha", results([("base", 10, [run(0, 0.5, 0.4)])]))
    target = overview.write()
    assert target == mini_project / "book" / "_generated" / "overview.md"
    assert target.read_text().startswith("## Results overview")
    assert [p.name for p in target.parent.iterdir()] == ["overview.md"]
