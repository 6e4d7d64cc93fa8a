"""The chapter side of a run: the run card and the synthetic-data warning."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from coursebook.book import runtime


@pytest.fixture
def shown(monkeypatch):
    texts: list[str] = []
    monkeypatch.setattr(runtime, "show_markdown", texts.append)
    return texts


def _start(monkeypatch, **overrides):
    description = {
        "chapter": "alpha",
        "title": "A",
        "profile": "smoke",
        "parameters": {"seed": 3, "epochs": 2},
        "origin": {"seed": "override", "epochs": "profile"},
        "commit": "abc1234",
        "started": 0.0,
    }
    monkeypatch.setenv(runtime.RUN_ENV, json.dumps(description | overrides))
    monkeypatch.setattr(runtime, "describe_device", lambda: "tensorflow on CPU")
    return runtime.start("alpha", seed=3)


def _dataset(synthetic: bool):
    x = np.zeros((5, 32, 32, 3), np.uint8)
    return SimpleNamespace(
        name="synthetic stand-in" if synthetic else "CIFAR-10",
        is_synthetic=synthetic,
        fingerprint="f00d",
        x_train=x,
        x_test=x[:2],
    )


def test_start_seeds_numpy_and_card_lists_everything(monkeypatch, shown):
    run = _start(monkeypatch)
    first = np.random.rand()
    np.random.seed(3)
    assert first == np.random.rand()
    run.use_dataset(_dataset(False), SimpleNamespace(x_train=[0] * 4, x_val=[0] * 1, x_test=[0] * 2))
    card = run.card()
    for fragment in [
        "`alpha`",
        "`smoke`",
        "CIFAR-10; 4 train, 1 validation, 2 test images",
        "`f00d`",
        "tensorflow on CPU",
        "Keras 3",
        "`abc1234`",
        "wall time",
        "| `seed` | `3` | **override** |",
        "| `epochs` | `2` | profile |",
    ]:
        assert fragment in card
    assert shown == [card]  # a real dataset shows no warning


def test_synthetic_dataset_shows_a_warning_and_marks_the_card(monkeypatch, shown):
    run = _start(monkeypatch)
    run.use_dataset(_dataset(True))
    assert len(shown) == 1 and ":class: warning" in shown[0] and "NOT CIFAR-10" in shown[0]
    assert "synthetic stand-in, not CIFAR-10" in run.card()


def test_runner_and_notebook_must_agree_on_the_chapter(monkeypatch):
    with pytest.raises(RuntimeError, match="runner executes 'beta'"):
        _start(monkeypatch, chapter="beta")


def displayed(monkeypatch) -> list[tuple[dict, dict]]:
    """What ``IPython.display.display`` is given (bundle, metadata), in order."""
    import IPython.display

    shown: list[tuple[dict, dict]] = []
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw, metadata: shown.append((bundle, metadata)))
    return shown


def test_glue_writes_what_myst_nb_glue_writes(monkeypatch):
    """The book's pages read glued values as myst-nb stores them: same MIME keys, data and metadata."""
    import myst_nb.ext.glue as myst_glue
    from matplotlib.figure import Figure

    shown = displayed(monkeypatch)
    monkeypatch.setattr(myst_glue, "ipy_display", lambda bundle, raw, metadata: shown.append((bundle, metadata)))
    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1])
    for value in (0.25, "Adam", figure):
        runtime.glue("value", value)
        myst_glue.glue("value", value, display=False)
        ours, theirs = shown[-2], shown[-1]
        assert ours == theirs
        assert ours[1]["scrapbook"] == {"name": "value", "mime_prefix": "application/papermill.record/"}


def test_glue_turns_numpy_scalars_into_numbers(monkeypatch):
    shown = displayed(monkeypatch)
    runtime.glue("loss", np.float64(0.25))
    runtime.glue("count", np.int64(7))
    assert [bundle["application/papermill.record/text/plain"] for bundle, _ in shown] == ["0.25", "7"]


def test_table_renders_html_and_escaped_latex_with_separators():
    import pandas as pd

    frame = pd.DataFrame({"layer_name": ["conv_1"], "params": [295168], "rel_error": [2.4e-08], "acc": [0.123456]})
    shown = runtime.table(frame, formats={"rel_error": "{:.1e}"})
    html, latex = shown._repr_html_(), shown._repr_latex_()
    assert "295,168" in html and "2.4e-08" in html and "0.1235" in html and "conv_1" in html
    assert r"conv\_1" in latex and "layer name" in latex and "295,168" in latex and r"\begin{tabular}" in latex


def test_a_dataset_other_than_the_planned_one_fails_the_chapter(monkeypatch, shown):
    run = _start(monkeypatch, data_fingerprint="c58f30108f718f92721af3b95e74349a")
    with pytest.raises(RuntimeError, match="planned dataset c58f3010"):
        run.use_dataset(_dataset(True))  # e.g. the download failed and auto fell back to synthetic
    assert shown == []
    _start(monkeypatch, data_fingerprint="f00d").use_dataset(_dataset(True))  # the planned one is fine


def test_table_latex_fits_the_page_and_wraps_long_text():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "model": ["a", "b"],
            "title": ["Original model with an extra Conv2D 256 block", "short"],
            "total": [364426, 528522],
            "ratio": [0.5, 0.25],
        }
    )
    latex = runtime.table(frame)._repr_latex_()
    assert latex.startswith(r"\adjustbox{max width=\linewidth}{\begin{tabular}{lp{5cm}rr}")
    assert latex.rstrip().endswith(r"\end{tabular}" + "\n}")


def test_a_setting_s_none_reads_as_the_course_says(monkeypatch):
    import dataclasses

    from coursebook.book import hooks

    course = hooks.course()
    words = dataclasses.replace(course.parameters, none_means={"patience": "never"})
    monkeypatch.setattr(hooks, "_registered", dataclasses.replace(course, parameters=words))
    text = runtime.departures_text([("patience", None, 3, "profile"), ("width", 8, None, "override")], "alpha")
    assert "`patience` never instead of 3 (profile); `width` 8 instead of none (command line)." in text


def test_a_figure_is_shown_at_the_size_its_layout_gives_it():
    """Figures lay themselves out, so the page shows each at its own size (4 × 3 inches at the figure's
    100 dpi) rather than cropped to its drawn contents, which costs another drawing of it."""
    import base64
    import io

    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure
    from PIL import Image

    runtime._figures_as_images()
    figure = Figure(figsize=(4, 3), layout="constrained")
    figure.add_subplot().plot([0, 1], [0, 1])
    png = InteractiveShell.instance().display_formatter.formatters["image/png"](figure)
    data = base64.b64decode(png) if isinstance(png, str) else png  # as IPython sends it to the notebook
    assert Image.open(io.BytesIO(data)).size == (400, 300)


def test_a_size_cap_that_removed_nothing_is_not_called_a_departure(monkeypatch, shown):
    """``validation_size`` 1,000 from the profile, which q6-p1's chapter file leaves unset: listed where
    1,000 of the held-out images validate, not where all 517 held out do (the cap removed nothing)."""
    description = {
        "chapter": "q6-p1-simple-cnn",
        "title": "Q6",
        "profile": "quick",
        "parameters": {"seed": 0, "validation_size": 1000, "test_size": 1000},
        "origin": {"seed": "chapter", "validation_size": "profile", "test_size": "profile"},
        "commit": "abc1234",
        "started": 0.0,
    }
    monkeypatch.setenv(runtime.RUN_ENV, json.dumps(description))
    monkeypatch.setattr(runtime, "describe_device", lambda: "tensorflow on CPU")
    for validating, listed in ((517, False), (1000, True)):
        shown.clear()
        run = runtime.start("q6-p1-simple-cnn", seed=0)
        splits = SimpleNamespace(x_train=[0] * 1500, x_val=[0] * validating, x_test=[0] * 1000)
        run.use_dataset(_dataset(False), splits)
        note = "".join(shown)
        assert ("`validation_size` 1,000 instead of all held out (profile)" in note) == listed
        assert "`test_size` 1,000 instead of all (profile)" in note  # 1,000 of the test images: it did cap
