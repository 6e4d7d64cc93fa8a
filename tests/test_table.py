"""Tables as the book shows them: headings as words, spacing, formats keyed by the frame's names."""

from __future__ import annotations

import pandas as pd

from coursebook.book import runtime


def test_headings_are_words_in_html_and_latex():
    frame = pd.DataFrame({"layer": ["dense1"], "non_trainable": [1234.5], "output_shape": ["(128,)"]})
    shown = runtime.table(frame, formats={"non_trainable": "{:.1e}"})
    html, latex = shown._repr_html_(), shown._repr_latex_()
    for text in (html, latex):
        assert "non-trainable" in text and "output shape" in text
        assert "non_trainable" not in text and "non\\_trainable" not in text and "1.2e+03" in text
    assert list(frame.columns) == ["layer", "non_trainable", "output_shape"]  # the caller's frame is untouched


def cell_rules(html: str) -> dict[str, str]:
    """Column number -> the CSS the Styler gives that column's first cell."""
    import re

    rules = {}
    for selectors, rule in re.findall(r"([^{}]*)\{([^}]*)\}", html):
        for col in re.findall(r"_row0_col(\d+)", selectors):
            rules[int(col)] = rules.get(int(col), "") + rule
    return rules


def test_numbers_and_short_texts_stay_on_one_line_long_texts_wrap():
    frame = pd.DataFrame(
        {
            "arm": ["LeNet-5 + dropout 0.3"],
            "accuracy": ["0.4560 ± 0.0180"],
            "count": [1234567],
            "batch-norm statistics": ["recomputed from training images before each evaluation"],
        }
    )
    rules = cell_rules(runtime.table(frame)._repr_html_())
    assert "white-space: nowrap" in rules[1] and "white-space: nowrap" in rules[2]  # 15 characters, a number
    assert "white-space: normal" in rules[0] and "white-space: normal" in rules[3]  # longer than 16 characters


def test_layers_table_lists_each_model_once_with_the_assignments_totals():
    from types import SimpleNamespace

    from coursebook.course.prose import parameter_counts as reports

    arms = [
        SimpleNamespace(name="E", model="a12-baseline"),
        SimpleNamespace(name="F", model="a12-baseline"),
        SimpleNamespace(name="LeNet", model="aml-lenet5"),
    ]
    table = reports.layers_table(arms)
    totals = table[table["layer"] == "total"]
    assert totals["params"].tolist() == [2_168_362, 62_006]  # the counts the assignments state
    assert [m for m in table["model"] if m] == ["a12-baseline", "aml-lenet5"]  # each model once
    single = reports.layers_table(arms[:2])  # one model: its name would only repeat the arms table's
    assert "model" not in single.columns and single["params"].iloc[-1] == 2_168_362


def test_transpose_turns_arms_into_columns():
    frame = pd.DataFrame({"arm": ["E", "F"], "batch_size": [32, 64], "augmentation": ["none", "flip"]})
    html = runtime.table(frame, transpose=True)._repr_html_()
    assert html.index(">arm<") < html.index(">E<") < html.index(">F<")  # arm names head the columns
    assert ">batch size<" in html and ">flip<" in html
