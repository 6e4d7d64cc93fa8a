"""The benchmark's set-ups measure what they name (their timings are only printed, never asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from coursebook.book import params

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_pipeline
import paired


def test_noop_build_finds_every_chapter_cached():
    """Every chapter of _toc.yml counted, and none executed (the benchmark raises if one did)."""
    result = bench_pipeline.noop_build(repeats=1)
    assert result["noop_build_chapters"] == len(params.toc_chapter_ids())
    assert result["noop_build_s"] > 0


def test_noop_build_refuses_to_time_an_execution(monkeypatch):
    """A fake project whose records do not match its inputs makes chapters execute: that is an
    error, not a no-op figure."""
    monkeypatch.setattr(bench_pipeline, "_timed", lambda cmd, env: _touch_records(env) or 1.0)
    with pytest.raises(RuntimeError, match="cached chapters executed again"):
        bench_pipeline.noop_build(repeats=1)


def _touch_records(env: dict[str, str]) -> None:
    for record in (Path(env["COURSEBOOK_ROOT"]) / "book" / "chapters").glob("*.run.json"):
        record.write_text(record.read_text() + " ")


def test_pairs_alternate_which_side_goes_first():
    order = []
    firsts, seconds = paired.alternating_pairs(lambda: order.append("a") or 1.0, lambda: order.append("b") or 2.0, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert (firsts, seconds) == ([1.0] * 3, [2.0] * 3)


def test_the_chapter_profile_splits_wall_time_into_training_reads_and_the_rest(tmp_path):
    import json

    import bench_chapters

    from tests import factories

    results = factories.results_dict(
        factories.arm(
            "a", [factories.run(0, seconds=[3.0, 2.0]), {**factories.run(1, seconds=[4.0, 1.0]), "read_from": "x"}]
        )
    )
    (tmp_path / "c.results.json").write_text(json.dumps(results))
    (tmp_path / "c.run.json").write_text(json.dumps({"seconds": 20.0, "profile": "quick"}))
    cells = [
        {"cell_type": "code", "source": ["import x\n"], "metadata": {"papermill": {"duration": 4.0}}},
        {"cell_type": "code", "source": "results = experiment.train()", "metadata": {"papermill": {"duration": 9.0}}},
        {"cell_type": "markdown", "source": "text", "metadata": {}},
    ]
    (tmp_path / "c.ipynb").write_text(json.dumps({"cells": cells}))
    row = bench_chapters.chapter_profile("c", tmp_path)
    assert (row["training_s"], row["runs_trained"], row["runs_read"]) == (
        5.0,
        1,
        1,
    )  # the read run's epochs are not its own
    assert row["overhead_s"] == 15.0 and row["cells_s"] == 13.0
    assert row["costliest"][0] == ("import x", 4.0) and row["costliest"][1] == ("results = experiment.train()", 4.0)
