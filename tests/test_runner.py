"""Executing chapters: atomic success, failures that keep the last good result, the summary."""

from __future__ import annotations

import json

import nbformat

from coursebook.book import cache, runner
from tests.conftest import write_notebook

SIMPLE = "seed = 0  # [0, ] seed\nvalue = 1  # [0, 100] a number"


def _use_notebook(root, *body):
    write_notebook(root / "notebooks" / "train.ipynb", SIMPLE, *body)
    for chapter in ("alpha", "beta"):
        (root / "params" / f"{chapter}.yaml").write_text(f"notebook: train.ipynb\ntitle: Chapter {chapter}\n")


def _outputs(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_execute_writes_output_record_title_and_hides_injected_cell(mini_project):
    _use_notebook(mini_project, "print('value is', value * 10)")
    plan = runner.plan_chapter("alpha", "quick", {"value": 7})
    outcome = runner.execute(plan)
    assert outcome.status == "executed", outcome.error
    out = cache.output_path("alpha")
    nb = nbformat.read(out, as_version=4)
    assert nb.cells[0].source.startswith("# Chapter alpha")
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    assert "value is 70" in _outputs(out)
    record = json.loads(cache.record_path("alpha").read_text())
    assert record["key"] == plan.key and record["parameters"]["value"] == 7 and record["overridden"] == ["value"]
    assert not list(out.parent.glob(".*running*"))  # no temporary notebook left
    assert runner.plan_chapter("alpha", "quick", {"value": 7}).changed == []


def test_failure_keeps_last_good_output_and_names_the_cell(mini_project):
    _use_notebook(mini_project, "print('value is', value)", "assert value < 50, 'value too large'")
    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 3})).status == "executed"
    good = cache.output_path("alpha").read_text()
    good_record = cache.record_path("alpha").read_text()

    outcome = runner.execute(runner.plan_chapter("alpha", "quick", {"value": 60}))
    assert outcome.status == "failed"
    assert "AssertionError" in outcome.error and "value too large" in outcome.error and "cell [" in outcome.error
    assert cache.output_path("alpha").read_text() == good  # the last good result survives
    assert cache.record_path("alpha").read_text() == good_record
    failed = mini_project / "book" / "chapters" / "alpha.failed.ipynb"
    assert failed.exists() and "value is 60" in _outputs(failed)
    assert runner.plan_chapter("alpha", "quick", {"value": 60}).changed == ["parameters"]  # still stale

    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 4})).status == "executed"
    assert not failed.exists()  # a later success retires the failed notebook


def test_one_failing_chapter_does_not_stop_the_others(mini_project, capsys):
    _use_notebook(mini_project, "assert value != 13, 'unlucky'")
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\nparameters: {value: 13}\n")
    plans = runner.plan_book("quick")
    summary = runner.execute_all(plans, jobs=2)
    status = {o.chapter_id: o.status for o in summary.outcomes}
    assert status == {"alpha": "failed", "beta": "executed"}
    runner.print_summary(summary, html_seconds=None)
    printed = capsys.readouterr().out
    assert "FAILED: alpha: cell [" in printed and "unlucky" in printed
    assert "executed" in printed and "beta" in printed
    assert cache.output_path("beta").exists() and not cache.output_path("alpha").exists()

    again = runner.execute_all(runner.plan_book("quick"), jobs=1)
    assert {o.chapter_id: o.status for o in again.outcomes} == {"alpha": "failed", "beta": "reused"}


def _results_notebook(root):
    """A chapter whose kernel saves a results object with test accuracy value/100, then fails for value >= 50."""
    from tests.test_results import _data

    _use_notebook(
        root,
        "\n".join(
            [
                "import json",
                "from coursebook.book import runtime",
                "from coursebook.course.results import Results",
                "run = runtime.start(None, seed=seed)",
                f"data = json.loads({json.dumps(_data())!r})",
                "data['arms'][0]['runs'][0]['test']['accuracy'] = value / 100",
                "print('saved to', run.save_results(Results.from_dict(data)))",
            ]
        ),
        "assert value < 50, 'value too large'",
    )


def _saved_accuracy() -> float:
    from coursebook.course.results import Results

    return Results.load(cache.results_path("alpha")).arms[0].runs[0].test["accuracy"]


def test_results_file_is_kept_only_with_a_successful_run(mini_project):
    _results_notebook(mini_project)
    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 3})).status == "executed"
    assert cache.results_path("alpha") == mini_project / "book" / "chapters" / "alpha.results.json"
    assert _saved_accuracy() == 0.03
    good = cache.results_path("alpha").read_bytes()

    # the kernel writes its results, then a later cell fails: the previous file stays untouched
    outcome = runner.execute(runner.plan_chapter("alpha", "quick", {"value": 60}))
    assert outcome.status == "failed" and "value too large" in outcome.error
    assert cache.results_path("alpha").read_bytes() == good
    assert "saved to" in _outputs(cache.failed_path("alpha"))  # it did write, to a temporary path
    assert sorted(p.name for p in cache.results_path("alpha").parent.iterdir()) == [
        "alpha.failed.ipynb",
        "alpha.ipynb",
        "alpha.results.json",
        "alpha.run.json",
    ]  # no temporary file left

    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 4})).status == "executed"
    assert _saved_accuracy() == 0.04
    assert json.loads(cache.record_path("alpha").read_text())["results"] == "alpha.results.json"
    assert runner.plan_chapter("alpha", "quick", {"value": 4}).changed == []
    cache.results_path("alpha").unlink()  # a page whose results file is gone is not reused, and that is said
    assert runner.plan_chapter("alpha", "quick", {"value": 4}).changed == [
        "damaged book/chapters/alpha.results.json (missing)"
    ]


def test_a_successful_run_that_saves_no_results_leaves_no_stale_file(mini_project):
    _results_notebook(mini_project)
    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 3})).status == "executed"
    _use_notebook(mini_project, "print(value)")
    assert runner.execute(runner.plan_chapter("alpha", "quick", {"value": 3})).status == "executed"
    assert not cache.results_path("alpha").exists()
    assert json.loads(cache.record_path("alpha").read_text())["results"] is None
    assert runner.plan_chapter("alpha", "quick", {"value": 3}).changed == []


def test_the_backend_s_start_up_lines_leave_a_cell_s_stderr_and_its_own_lines_stay(tmp_path):
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1733550000.123456    4242 cpu_feature_guard.cc:210] This TensorFlow binary is optimized\n",
        "E0000 00:00:1733550000.223456    4242 cuda_dnn.cc:8310] Unable to register cuDNN factory\n",
        (
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
            "appropriate compiler flags.\n"
        ),
    ]
    kept = "UserWarning: the chapter's own warning\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x = 1", outputs=[nbformat.v4.new_output("stream", name="stderr", text="".join(noise))]
        ),
        nbformat.v4.new_code_cell(
            "y = 2",
            outputs=[
                nbformat.v4.new_output("stream", name="stderr", text=noise[1] + kept + noise[2]),
                nbformat.v4.new_output("stream", name="stdout", text=noise[1]),
            ],
        ),
    ]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    runner.tidy_outputs(path)
    first, second = nbformat.read(path, as_version=4).cells
    assert first.outputs == []  # nothing but noise: the output is gone
    assert [(o.name, o.text) for o in second.outputs] == [("stderr", kept), ("stdout", noise[1])]
