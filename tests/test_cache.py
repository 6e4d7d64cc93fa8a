"""The cache key: every input changes it, outputs do not, and the reason names what changed."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from coursebook.book import cache, runner
from tests.conftest import model_spec


@pytest.fixture
def fake_data(monkeypatch):
    """Stand-in for the dataset fingerprint so the test controls it."""
    state = {"fingerprint": "archive-md5-1"}
    monkeypatch.setattr(runner, "data_fingerprint", lambda resolved: state["fingerprint"])
    return state


def _record(plan):
    """Pretend the plan was executed: write its output and record."""
    cache.output_path(plan.chapter_id).parent.mkdir(parents=True, exist_ok=True)
    cache.output_path(plan.chapter_id).write_text('{"cells": []}')
    record = {"key": plan.key, "components": plan.components}
    cache.atomic_write_text(cache.record_path(plan.chapter_id), json.dumps(record))


def _changes_after(mutate, mini_project, fake_data, overrides=None):
    first = runner.plan_chapter("alpha", "quick", None)
    _record(first)
    assert runner.plan_chapter("alpha", "quick", None).changed == []
    mutate()
    second = runner.plan_chapter("alpha", "quick", overrides)
    assert second.key != first.key
    return second.changed


def test_first_plan_executes_with_reason_no_previous_result(mini_project, fake_data):
    plan = runner.plan_chapter("alpha", "quick", None)
    assert plan.changed == list(cache.components())
    assert runner.describe_reason(plan.changed) == "no previous result"


def test_notebook_source_change(mini_project, fake_data):
    nb_path = mini_project / "notebooks" / "train.ipynb"

    def edit():
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells[-1].source += "\nresult += 1"
        nbformat.write(nb, nb_path)

    assert _changes_after(edit, mini_project, fake_data) == ["notebook"]


def test_notebook_outputs_do_not_change_the_key(mini_project, fake_data):
    nb_path = mini_project / "notebooks" / "train.ipynb"
    before = cache.notebook_digest(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="40\n")]
    nb.cells[-1].execution_count = 7
    nbformat.write(nb, nb_path)
    assert cache.notebook_digest(nb_path) == before


def test_parameter_change_in_file_profile_and_override(mini_project, fake_data):
    alpha = mini_project / "params" / "alpha.yaml"
    assert _changes_after(lambda: alpha.write_text(alpha.read_text().replace("20", "21")), mini_project, fake_data) == [
        "parameters"
    ]
    profile = mini_project / "params" / "profiles" / "quick.yaml"
    assert _changes_after(lambda: profile.write_text("defaults: {epochs: 2}\n"), mini_project, fake_data) == [
        "parameters"
    ]
    assert _changes_after(lambda: None, mini_project, fake_data, {"seed": 5}) == ["parameters"]


def test_package_source_change(mini_project, fake_data):
    package = mini_project / "coursebook"
    assert _changes_after(lambda: (package / "mod.py").write_text("X = 2\n"), mini_project, fake_data) == ["package"]


def test_package_digest_sees_content_and_new_files(tmp_path):
    (tmp_path / "a.py").write_text("A = 1\n")
    before = cache.package_digest(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("B = 1\n")
    added = cache.package_digest(tmp_path)
    (tmp_path / "a.py").write_text("A = 2\n")
    assert len({before, added, cache.package_digest(tmp_path)}) == 3


def test_architecture_spec_change(mini_project, fake_data):
    spec = mini_project / "params" / "models" / "tiny.yaml"
    assert _changes_after(lambda: spec.write_text(model_spec(5)), mini_project, fake_data) == ["models"]


def test_dataset_fingerprint_change(mini_project, fake_data):
    assert _changes_after(lambda: fake_data.update(fingerprint="archive-md5-2"), mini_project, fake_data) == ["data"]


def test_requirements_change(mini_project, fake_data):
    req = mini_project / "requirements.txt"
    assert _changes_after(lambda: req.write_text("numpy==2\n"), mini_project, fake_data) == ["requirements"]


def test_backend_change(mini_project, fake_data, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert _changes_after(lambda: os.environ.update(KERAS_BACKEND="jax"), mini_project, fake_data) == ["backend"]


def test_deterministic_kernels_change_the_backend_component(mini_project, fake_data, monkeypatch):
    monkeypatch.delenv("COURSEBOOK_DETERMINISTIC", raising=False)
    plain = runner.plan_chapter("alpha", "quick", None).components["backend"]
    assert _changes_after(lambda: os.environ.update(COURSEBOOK_DETERMINISTIC="1"), mini_project, fake_data) == [
        "backend"
    ]
    os.environ["COURSEBOOK_DETERMINISTIC"] = ""  # unset again: the plain key, as before the option existed
    assert (
        runner.plan_chapter("alpha", "quick", None).components["backend"]
        == plain
        == os.environ.get("KERAS_BACKEND", "tensorflow")
    )


def test_missing_output_means_re_execute(mini_project, fake_data):
    plan = runner.plan_chapter("alpha", "quick", None)
    _record(plan)
    cache.output_path("alpha").unlink()
    assert runner.plan_chapter("alpha", "quick", None).changed == list(cache.components())


def test_atomic_write_keeps_old_content_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    cache.atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        cache.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_missing_cifar10_is_a_clear_error_before_any_kernel(mini_project, monkeypatch, tmp_path):
    from coursebook.book import paths
    from coursebook.book.params import ParameterError
    from coursebook.course import data

    monkeypatch.setenv("COURSEBOOK_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *args, **kwargs: False)
    with pytest.raises(ParameterError, match=r"^command line: key 'data' = 'cifar10' for chapter alpha: .*not found"):
        runner.plan_chapter("alpha", "quick", {"data": "cifar10"})


def test_atomic_write_leaves_a_readable_file_and_keeps_an_existing_mode(tmp_path):
    fresh = tmp_path / "fresh.json"
    cache.atomic_write_text(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # the umask's, not mkstemp's 0600: files are shared
    fresh.chmod(0o664)
    cache.atomic_write_text(fresh, "y")
    assert fresh.stat().st_mode & 0o777 == 0o664 and fresh.read_text() == "y"
