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
    assert "padding: 0.3em 0.9em" in html
    assert list(frame.columns) == ["layer", "non_trainable", "output_shape"]  # the caller's frame is untouched
