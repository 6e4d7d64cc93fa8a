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


NB = "\u00a0"


def table_rows(markdown):
    return [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| chapter")]


def test_parts_follow_the_toc(mini_project):
    assert [(p.caption, p.chapters) for p in toc_parts()] == [("Part", ["alpha", "beta"])]


def test_one_row_per_arm_with_mean_and_sd_over_runs(mini_project):
    publish(
        "alpha",
        results(
            [
                ("base", 1234567, [run(0, 0.5, 0.4), run(1, 0.7, 0.6)]),
                ("b|*x_", 10, [run(0, 0.25, 0.2, evaluated_epoch=2), run(1, 0.5, 0.3)]),
            ]
        ),
    )
    text = overview.overview_markdown(toc_parts())
    first, second = table_rows(text)
    sd = math.sqrt(((0.5 - 0.6) ** 2 + (0.7 - 0.6) ** 2) / 1)
    pm = "\u00a0±\u00a0"
    images = factories.results_dict()["dataset"]["sizes"]["train"]  # the chapter's training part
    # the runs trained 3 epochs of the arm's settings' 4: "3 of 4"
    assert first.split(" | ") == [
        "| {doc}`Chapter alpha </book/chapters/alpha>` (2 runs; CIFAR-10, full)",
        "base",
        "1,234,567",
        f"{images:,}",
        f"3 of {factories.SETTINGS['epochs']}",
        f"0.6000{pm}{sd:.4f}",
        f"0.5000{pm}{sd:.4f}",
        f"4.0{pm}0.0\u00a0s |",
    ]
    cells = second.split(" | ")
    assert cells[0] == "| " and cells[1] == "b\\|\\*x\\_"  # chapter link only on its first row; name escaped
    assert cells[4] == f"3 of {factories.SETTINGS['epochs']} (evaluated 2, 3)"  # evaluated before the last: said
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
    assert [p.name for p in target.parent.iterdir()] == ["overview.md"]  # no part has an introduction page


def test_training_images_and_epochs_trained_say_why_two_rows_of_one_model_differ(mini_project):
    runs = [factories.run(0, val=0.5, epochs=10, stopped=7, evaluated=4), factories.run(1, val=0.5, epochs=10)]
    arms = [
        factories.arm("small", runs, model="tiny", train_size=1500, epochs=10),
        factories.arm("all", [factories.run(0, val=0.6, epochs=5)], model="tiny", epochs=5),
    ]
    publish("alpha", factories.results(*arms, profile="full", synthetic=False, sizes=(4000, 500, 1000)).to_dict())
    small, whole = (row.split(" | ") for row in table_rows(overview.overview_markdown(toc_parts())))
    assert small[3:5] == ["1,500", "7, 10 of 10 (evaluated 4, 10)"]  # its own train_size; one run stopped early
    assert whole[3:5] == [
        "4,000",
        "5",
    ]  # the chapter's training part; every run trained all its epochs, the last evaluated


def test_the_page_opens_with_the_data_profile_and_budgets_as_run(mini_project):
    publish(
        "alpha",
        factories.results(
            factories.arm("a", [factories.run(0, epochs=12), factories.run(1, epochs=12)], model="tiny", epochs=12),
            profile="quick",
            synthetic=False,
            sizes=(1500, 500, 1000),
            dataset_name="5,170-image sample of CIFAR-10",
        ).to_dict(),
    )
    publish(
        "beta",
        factories.results(
            factories.arm("b", [factories.run(0, epochs=5)], model="tiny", epochs=5, train_size=4000),
            profile="quick",
            synthetic=False,
            sizes=(4000, 500, 1000),
            dataset_name="5,170-image sample of CIFAR-10",
        ).to_dict(),
    )
    text = overview.overview_markdown(toc_parts())
    opening = text.split("\n\n")[1]
    assert opening.startswith(
        "**What this build was computed on.** Data: 5,170-image sample of CIFAR-10. Profile: **quick** (reduced budgets"
    )
    assert "Budgets as run: training images 1,500 to 4,000; epochs trained 5 to 12; runs per arm 1 to 2" in opening


def record(chapter_id, finished, seconds, **extra):
    (paths.CHAPTERS_DIR / f"{chapter_id}.run.json").write_text(
        json.dumps({"chapter": chapter_id, "finished": finished, "seconds": seconds, **extra})
    )


def test_run_times_say_when_chapters_executed_side_by_side(mini_project):
    for chapter_id in ("alpha", "beta"):
        publish(chapter_id, results([("a", 10, [run(0, 0.5, 0.4)])]))
    record("alpha", "2026-01-01T10:00:00+0000", 600.0)
    record("beta", "2026-01-01T10:05:00+0000", 400.0)  # 09:58:20 to 10:05: overlaps alpha by 100 s
    assert "with up to 2 chapters executing at once" in overview.overview_markdown(toc_parts())
    record("beta", "2026-01-01T10:10:00+0000", 600.0)  # from alpha's end (10:00:00) on: one at a time
    assert "with one chapter executing at a time." in overview.overview_markdown(toc_parts())
    record("beta", "2026-01-01T10:05:00+0000", 400.0, rerendered="2026-01-01T11:00:00+0000")
    assert "one chapter executing at a time (1 chapter without a timing record)" in overview.overview_markdown(
        toc_parts()
    )


def test_most_at_once_counts_overlapping_intervals():
    assert overview.most_at_once([(0, 10), (5, 15), (8, 20), (16, 30)]) == 3  # 0-10, 5-15 and 8-20 share 8-10
    assert overview.most_at_once([(0, 10), (5, 15), (9.5, 20)]) == 2  # 9.5-10: under a second, rounding
    assert overview.most_at_once([(0, 10), (10, 20), (20.5, 30)]) == 1  # touching is not overlapping
    assert overview.most_at_once([]) == 0


def test_a_part_with_an_introduction_page_gets_its_own_table(mini_project):
    (mini_project / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nparts:\n  - caption: Part\n    chapters:\n      - file: book/part\n"
        "        sections:\n          - file: book/chapters/alpha\n          - file: book/chapters/beta\n"
    )
    publish("beta", results([("base", 10, [run(0, 0.5, 0.4)])], profile="quick"))
    overview.write()
    part = (mini_project / "book" / "_generated" / "part.md").read_text()
    assert part.startswith("**What this build was computed on.** Data: CIFAR-10. Profile: **quick**")
    assert len(table_rows(part)) == 1 and "Chapter beta" in part and "Chapter alpha" not in part
