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
    assert "padding: 0.3em 0.7em" in html
    assert list(frame.columns) == ["layer", "non_trainable", "output_shape"]  # the caller's frame is untouched


def test_layers_table_lists_each_model_once_with_the_assignments_totals():
    from types import SimpleNamespace

    from coursebook.course.prose import parameters as reports

    arms = [SimpleNamespace(name="E", model="a12-baseline"), SimpleNamespace(name="F", model="a12-baseline"),
            SimpleNamespace(name="LeNet", model="aml-lenet5")]
    table = reports.layers_table(arms)
    totals = table[table["layer"] == "total"]
    assert totals["params"].tolist() == [2_168_362, 62_006]  # the counts the assignments state
    assert [m for m in table["model"] if m] == ["a12-baseline (E, F)", "aml-lenet5 (LeNet)"]


def test_transpose_turns_arms_into_columns():
    frame = pd.DataFrame({"arm": ["E", "F"], "batch_size": [32, 64], "augmentation": ["none", "flip"]})
    html = runtime.table(frame, transpose=True)._repr_html_()
    assert html.index(">arm<") < html.index(">E<") < html.index(">F<")  # arm names head the columns
    assert ">batch size<" in html and ">flip<" in html
