"""Prose edits without retraining: a Markdown, title or question change re-renders the cached
execution without a kernel; a change to what the code computes executes again."""

from __future__ import annotations

import nbformat

from coursebook.book import cache, runner

PARAMETERS = 'seed = 0  # [0, ] seed\nquestion = ""  # the question, quoted\nvalue = 1  # [0, 100] a number'
COUNTING = """\
from pathlib import Path
with open(Path("runs.txt"), "a") as fh:  # one line per kernel run of this cell
    fh.write("ran\\n")
print("value is", value * 10)"""


def _notebook(root, intro="Some words.", code=COUNTING):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata.tags = ["parameters"]
    quoted = nbformat.v4.new_markdown_cell("> (the question)")
    quoted.metadata.tags = ["question"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\n" + intro),
        params,
        quoted,
        nbformat.v4.new_code_cell(code),
        nbformat.v4.new_markdown_cell("## Closing words"),
    ]
    nbformat.write(nb, root / "notebooks" / "train.ipynb")
    (root / "params" / "alpha.yaml").write_text(
        "notebook: train.ipynb\ntitle: First title\nparameters:\n  value: 4\n  question: Why?\n"
    )


def _build(root):
    lines: list[str] = []
    summary = runner.execute_all(runner.plan_book("quick", ["alpha"]), log=lines.append, live=False)
    return summary.outcomes[0], lines


def _runs(root) -> int:
    return (root / "runs.txt").read_text().count("ran")


def _page(root):
    nb = nbformat.read(cache.output_path("alpha"), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return nb, text, outputs


def test_markdown_title_and_question_edits_re_render_without_a_kernel(mini_project):
    _notebook(mini_project)
    assert _build(mini_project)[0].status == "executed" and _runs(mini_project) == 1
    nb, text, outputs = _page(mini_project)
    assert "# First title" in text and "> Why?" in text and "value is 40" in outputs

    _notebook(mini_project, intro="Better words.")
    params = mini_project / "params" / "alpha.yaml"
    params.write_text(params.read_text().replace("First title", "Second title").replace("Why?", "Why not?"))
    assert runner.plan_chapter("alpha", "quick", None).changed == ["text"]
    outcome, lines = _build(mini_project)
    assert outcome.status == "re-rendered" and outcome.reason == "text changed"
    assert any(line.startswith("  re-rendered alpha  (text changed)") for line in lines)
    assert _runs(mini_project) == 1  # no kernel ran the code cell again
    nb, text, outputs = _page(mini_project)
    assert "# Second title\n\nBetter words." in text and "> Why not?" in text and "Why?" not in text
    assert "value is 40" in outputs  # the cached outputs stay
    nbformat.validate(nb)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "Why not?" in injected.source and "remove-cell" in injected.metadata.tags
    assert runner.plan_chapter("alpha", "quick", None).changed == []  # the record holds the new key
    assert not list(cache.output_path("alpha").parent.glob(".*.tmp"))


def test_a_code_change_executes_again(mini_project):
    _notebook(mini_project)
    _build(mini_project)
    _notebook(mini_project, code=COUNTING.replace("value * 10", "value * 100"))
    assert runner.plan_chapter("alpha", "quick", None).changed == ["notebook"]
    outcome, _ = _build(mini_project)
    assert outcome.status == "executed" and _runs(mini_project) == 2
    assert "value is 400" in _page(mini_project)[2]


def test_a_question_the_code_reads_is_an_ordinary_parameter(mini_project):
    _notebook(mini_project, code=COUNTING + "\nprint(question)")
    _build(mini_project)
    params = mini_project / "params" / "alpha.yaml"
    params.write_text(params.read_text().replace("Why?", "Why not?"))
    assert runner.plan_chapter("alpha", "quick", None).changed == ["parameters"]
    outcome, _ = _build(mini_project)
    assert outcome.status == "executed" and "Why not?" in _page(mini_project)[2]


def test_a_cached_notebook_that_does_not_fit_executes_instead(mini_project):
    _notebook(mini_project)
    _build(mini_project)
    out = cache.output_path("alpha")
    nb = nbformat.read(out, as_version=4)
    nb.cells = [c for c in nb.cells if "value is" not in "".join(o.get("text", "") for o in c.get("outputs", []))]
    nbformat.write(nb, out)  # damaged: a code cell is missing
    _notebook(mini_project, intro="Other words.")
    outcome, _ = _build(mini_project)
    assert outcome.status == "executed" and _runs(mini_project) == 2
