"""Parameter declaration, resolution and validation: every bad input is one line naming where."""

from __future__ import annotations

import re

import pytest

from coursebook.__main__ import main
from coursebook.book import params
from coursebook.book.params import ParameterError, parse_overrides, resolve


def test_declarations_read_type_range_and_choices(mini_project):
    decls = params.declarations(mini_project / "notebooks" / "train.ipynb")
    assert list(decls) == ["seed", "epochs", "learning_rate", "data", "models", "use_bn", "train_size"]
    assert decls["epochs"].type is int and (decls["epochs"].low, decls["epochs"].high) == (1, 1000)
    assert decls["learning_rate"].low_open and decls["learning_rate"].high_open
    assert decls["data"].choices == ("auto", "cifar10", "synthetic")
    assert decls["train_size"].optional and decls["train_size"].type is int
    assert decls["use_bn"].type is bool


def test_precedence_notebook_chapter_profile_override(mini_project):
    (mini_project / "params" / "profiles" / "smoke.yaml").write_text(
        "defaults: {epochs: 2, learning_rate: 0.5}\nchapters: {beta: {epochs: 3}}\n"
    )
    alpha = resolve("alpha", "smoke", {"learning_rate": 0.25})
    assert alpha.values["epochs"] == 2 and alpha.origin["epochs"] == "profile"
    assert alpha.values["learning_rate"] == 0.25 and alpha.overridden == ["learning_rate"]
    assert alpha.values["seed"] == 0 and alpha.origin["seed"] == "notebook"
    assert resolve("beta", "smoke").values["epochs"] == 3
    assert resolve("alpha", "full").values["epochs"] == 20 and resolve("alpha", "full").origin["epochs"] == "chapter"


def test_int_is_accepted_for_float_and_none_for_optional(mini_project):
    from conftest import PARAMETERS_CELL, write_notebook

    write_notebook(
        mini_project / "notebooks" / "train.ipynb",
        PARAMETERS_CELL + "scale = 1.5             # [0, 10] a float whose range holds integers\n",
    )
    resolved = resolve("alpha", "full", {"scale": 2, "train_size": None})
    assert resolved.values["scale"] == 2 and resolved.values["train_size"] is None
    assert sorted(resolved.overridden) == ["scale", "train_size"]
    assert isinstance(resolve("alpha", "full", {"seed": 3}).values["seed"], int)


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"epochs": "ten"}, ["key 'epochs'", "'ten'", "int in [1, 1000]"]),
        ({"epochs": 0}, ["key 'epochs'", "value 0"]),
        ({"epochs": 2.5}, ["key 'epochs'", "2.5"]),
        ({"epochs": True}, ["key 'epochs'", "True"]),
        ({"learning_rate": 1}, ["key 'learning_rate'", "value 1 is not allowed (expected a number in (0, 1))"]),
        ({"data": "mnist"}, ["key 'data'", "'mnist'", "{auto, cifar10, synthetic}"]),
        ({"models": ["tiny", "huge"]}, ["key 'models'", "huge", "{tiny, wide}"]),
        ({"use_bn": "yes"}, ["key 'use_bn'", "value 'yes' is not allowed (expected true or false)"]),
        ({"seed": None}, ["key 'seed'", "None"]),
        (
            {"learning_rate": float("nan")},
            ["key 'learning_rate'", "value nan is not allowed (expected a number in (0, 1))"],
        ),
        ({"epochs": float("inf")}, ["key 'epochs'", "inf"]),
        (
            {"models": ["tiny", "tiny"]},
            ["key 'models'", "value ['tiny', 'tiny'] is not allowed (expected a non-empty list of distinct entries"],
        ),
        (
            {"epoch": 3},
            ["key 'epoch' is not allowed (allowed: seed, epochs", ": the parameters chapter alpha declares)"],
        ),
    ],
)
def test_bad_override_is_one_line_naming_key_value_and_allowed(mini_project, overrides, fragments):
    with pytest.raises(ParameterError) as err:
        resolve("alpha", "quick", overrides)
    message = str(err.value)
    assert message.startswith("command line: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_bad_value_in_chapter_file_names_the_file(mini_project):
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\nparameters: {epochs: -1}\n")
    with pytest.raises(ParameterError, match=r"^params/alpha.yaml: key 'epochs': value -1"):
        resolve("alpha")


def test_unknown_key_in_chapter_file_and_in_its_top_level(mini_project):
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\nparameters: {epohcs: 1}\n")
    with pytest.raises(
        ParameterError, match=r"^params/alpha.yaml: key 'epohcs' is not allowed \(allowed: seed, epochs"
    ):
        resolve("alpha")
    (mini_project / "params" / "alpha.yaml").write_text("notebook: train.ipynb\ntitle: A\nparams: {}\n")
    with pytest.raises(
        ParameterError,
        match=r"^params/alpha.yaml: key 'params' is not allowed \(allowed: notebook, title, parameters, timeout\)",
    ):
        resolve("alpha")


def test_profile_errors_name_the_profile_file(mini_project):
    (mini_project / "params" / "profiles" / "smoke.yaml").write_text("defaults: {epochs: 0}\n")
    with pytest.raises(ParameterError, match=r"^params/profiles/smoke.yaml: key 'epochs': value 0"):
        resolve("alpha", "smoke")
    (mini_project / "params" / "profiles" / "smoke.yaml").write_text("defaults: {epoch: 1}\n")
    with pytest.raises(
        ParameterError, match=r"params/profiles/smoke.yaml: key 'defaults.epoch' is declared by no chapter"
    ):
        params.check_profile_keys("smoke", ["alpha", "beta"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("defaults: [epochs]\n", r"key 'defaults': value \['epochs'\] is not allowed \(expected a mapping"),
        ("chapters: {alpha: -1}\n", r"key 'chapters.alpha': value -1 is not allowed \(expected a mapping"),
        ("chapters: .inf\n", r"key 'chapters': value inf is not allowed \(expected a mapping"),
        (
            "- defaults\n",
            r"value \['defaults'\] is not allowed \(expected a mapping with keys \{defaults, chapters, timeout\}\)",
        ),
        ("defaults: {}\nepochs: 3\n", r"key 'epochs' is not allowed \(allowed: defaults, chapters, timeout\)"),
    ],
)
def test_a_profile_of_the_wrong_shape_is_one_line_naming_its_key(mini_project, text, message):
    (mini_project / "params" / "profiles" / "smoke.yaml").write_text(text)
    with pytest.raises(ParameterError, match=r"^params/profiles/smoke.yaml: " + message):
        resolve("alpha", "smoke")


def test_unknown_chapter_and_profile(mini_project):
    with pytest.raises(ParameterError, match=r"unknown chapter 'gamma'.*alpha, beta"):
        resolve("gamma")
    with pytest.raises(
        ParameterError, match=r"key 'profile'.*'fast'.*unknown profile \(expected one of \{full, quick, smoke\}\)"
    ):
        resolve("alpha", "fast")


def test_yaml_syntax_error_names_file(mini_project):
    (mini_project / "params" / "alpha.yaml").write_text("notebook: [unclosed\n")
    with pytest.raises(ParameterError, match=r"^params/alpha.yaml: not valid YAML"):
        resolve("alpha")


def test_yaml_is_loaded_safely(mini_project):
    (mini_project / "params" / "alpha.yaml").write_text("notebook: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        resolve("alpha")


def test_every_chapter_must_declare_seed(mini_project):
    from tests.conftest import write_notebook

    write_notebook(mini_project / "notebooks" / "train.ipynb", "epochs = 1  # [1, ] epochs")
    with pytest.raises(ParameterError, match="must declare an integer 'seed'"):
        resolve("alpha")


def test_overrides_parse_as_yaml_scalars():
    assert parse_overrides(["epochs=3", "lr=1e-3", "data=synthetic", "flag=true", "size=null", "models=[a, b]"]) == {
        "epochs": 3,
        "lr": 1e-3,
        "data": "synthetic",
        "flag": True,
        "size": None,
        "models": ["a", "b"],
    }
    with pytest.raises(ParameterError, match="command line: override 'epochs' is not of the form key=value"):
        parse_overrides(["epochs"])


def test_cli_exits_2_with_one_line_before_any_kernel(mini_project, capsys):
    assert main(["build", "--chapter", "alpha", "--set", "epochs=zero"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "key 'epochs'" in err and "'zero'" in err
    assert not (mini_project / "book" / "chapters").exists()  # nothing executed
    assert main(["build", "--profile", "huge"]) == 2
    assert main(["build", "--chapter", "nope"]) == 2
    assert main(["build", "--set", "epochs=2"]) == 2  # overrides need a chapter


def test_toc_chapter_ids_keep_the_order_of_parts_and_sections(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/index\nparts:\n"
        "  - caption: One\n    chapters:\n      - file: book/one\n        sections:\n"
        "          - file: book/chapters/b-second\n          - file: book/chapters/a-first\n"
        "  - caption: Two\n    chapters:\n      - file: book/chapters/c-third\n      - url: https://example.org\n"
        "        title: elsewhere\n"
    )
    assert params.toc_chapter_ids(toc) == ["b-second", "a-first", "c-third"]


def test_a_malformed_toc_is_one_line_naming_the_file(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nparts:\n  - chapters: []\n")
    with pytest.raises(ParameterError, match=re.escape("_toc.yml: not a valid table of contents")):
        params.toc_chapter_ids(toc)


def test_model_choices_are_the_model_specs(mini_project):
    """A ``{@models}`` parameter takes the names of the spec files in params/models/ (the course's choices)."""
    names = sorted(path.stem for path in (mini_project / "params" / "models").glob("*.yaml"))
    assert names == ["tiny", "wide"]
    decl = params.Declaration("models", list, ["tiny"], choices=("@models",))
    assert params.check_value(decl, ["wide", "tiny"], "here") == ["wide", "tiny"]
    with pytest.raises(
        ParameterError,
        match=re.escape(
            "here: key 'models': value ['nope'] is not allowed "
            "(expected a non-empty list of distinct entries, each one of {tiny, wide})"
        ),
    ):
        params.check_value(decl, ["nope"], "here")


@pytest.mark.parametrize(
    ("chapter", "overrides", "fragments"),
    [
        (
            "q6-p5-data-subset",
            {"sizes": [400, 45001]},  # quick holds out 10% (5,000) of the 50,000
            [
                "command line: key 'sizes'",
                "[400, 45001]",
                "at most the 45,000 training images left after the validation split",
            ],
        ),
        (
            "e4742-p1a-extra-conv-layer",
            {"train_size": 45001},  # quick holds out 10%
            ["command line: key 'train_size'", "45001", "the 45,000 training images"],
        ),
        (
            "e4742-p2-batch-norm",
            {"test_size": 10001},
            ["command line: key 'test_size'", "at most the 10,000 test images"],
        ),
    ],
)
def test_image_counts_beyond_the_data_are_refused_before_any_kernel(chapter, overrides, fragments):
    with pytest.raises(ParameterError) as error:
        resolve(chapter, "quick", overrides)
    for fragment in fragments:
        assert fragment in str(error.value), (fragment, str(error.value))


def test_image_counts_up_to_the_data_are_accepted():
    assert resolve("q6-p5-data-subset", "quick", {"sizes": [400, 45000]}).values["sizes"] == [400, 45000]
    assert resolve("e4742-p2-batch-norm", "quick", {"test_size": 10000}).values["test_size"] == 10000


def test_full_repeats_every_training_chapter_over_at_least_three_seeds():
    """The assignments ran each model once; the full book reports mean ± sd over >= 3 seeds."""
    trained = [
        chapter
        for chapter in params.toc_chapter_ids()
        if "repeats" in params.declarations(params.load_chapter(chapter).notebook)
    ]
    assert len(trained) >= 11
    repeats = {chapter: resolve(chapter, "full").values["repeats"] for chapter in trained}
    assert {chapter: n for chapter, n in repeats.items() if n < 3} == {}


def _course_with(monkeypatch, **parameters):
    """The registered course, its parameters role changed as given."""
    import dataclasses

    from coursebook.book import hooks

    course = hooks.course()
    changed = dataclasses.replace(course, parameters=dataclasses.replace(course.parameters, **parameters))
    monkeypatch.setattr(hooks, "_registered", changed)


def test_data_goes_to_the_parameter_the_course_names_where_a_chapter_declares_it(mini_project, monkeypatch):
    from tests.conftest import write_notebook

    declares = mini_project / "notebooks" / "train.ipynb"
    other = mini_project / "notebooks" / "other.ipynb"
    write_notebook(other, "seed = 0  # [0, ] random seed")
    _course_with(monkeypatch, data="data", data_choices="a | b")
    assert params.with_data({"epochs": 3}, declares, "b") == {"epochs": 3, "data": "b"}
    assert params.with_data({"data": "a"}, declares, "b") == {"data": "a"}  # the chapter's own override wins
    assert params.with_data({"epochs": 3}, declares, None) == {"epochs": 3}
    assert params.with_data(None, other, "b") == {}
    _course_with(monkeypatch, data="seed", data_choices="0 | 1")
    assert params.with_data(None, other, 1) == {"seed": 1}
    assert params.data_help("every chapter") == "the parameter seed of every chapter (checked there: 0 | 1)"
