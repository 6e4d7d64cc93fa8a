"""The Answer section (coursebook.course.answers): every chapter's declared questions answered by
their kind's strategy from factory results; claims and values asserted against numbers computed
here, not wording; property tests over generated histories; the registry's refusals; and no
chapter id in the package's code."""

from __future__ import annotations

import ast
import collections
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from coursebook.book.params import ParameterError, resolve
from coursebook.course import answers, arms as arms_module, learning_curve
from coursebook.course.answers import registry
from tests import factories, prose
from tests.factories import run

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_IDS = re.compile(r"e4742|q6-|aml-|a12-")


def chapters_with_questions() -> list[str]:
    return sorted(p.stem for p in (ROOT / "params").glob("*.yaml") if "questions:" in p.read_text(encoding="utf-8"))


def curves_for(rng: np.random.Generator, epochs: int, bottom: int, level: float) -> dict[str, list[float]]:
    """Plausible curves: validation loss bottoming at ``bottom``, accuracies rising."""
    e = np.arange(1, epochs + 1)
    val_loss = level + 0.05 * (e - bottom) ** 2 / epochs + rng.normal(0, 0.01, epochs)
    return {
        "loss": list(2.0 - 1.2 * (1 - np.exp(-e / (2 + rng.random())))),
        "accuracy": list(np.clip(0.2 + 0.06 * e + rng.normal(0, 0.01, epochs), 0, 1)),
        "val_loss": list(val_loss),
        "val_accuracy": list(np.clip(0.2 + 0.3 * (1 - np.exp(-e / 3)) + rng.normal(0, 0.01, epochs), 0, 1)),
    }


def chapter_results(chapter: str, seed: int = 0):
    """Factory results with the chapter's own arms (names, models, settings) and questions."""
    values = resolve(chapter, "smoke").values
    rng = np.random.default_rng(seed + len(chapter))
    arms = values.get("arms") or [{"name": values["model"], "model": values["model"]}]  # the MLP page: one model
    if values.get("sizes"):
        arms = learning_curve.size_arms(arms[0], values["sizes"])
    built = []
    for index, arm in enumerate(arms):
        epochs = 8
        runs = []
        for s in range(2):
            history = curves_for(rng, epochs, bottom=3 + index + s, level=1.0 + 0.1 * index)
            runs.append(
                run(
                    s,
                    train=0.6 + 0.05 * index,
                    val=float(history["val_accuracy"][-1]),
                    epochs=epochs,
                    history=history,
                    seconds=1.0 + index,
                )
            )
        effective = arms_module.check_arms([arm], values, where="test")[0]  # every setting, as a run records it
        extra = {k: v for k, v in effective.items() if k not in ("name", "model", "source_chapter")}
        built.append(factories.arm(arm["name"], runs, model=arm["model"], **extra))
    return factories.results(*built, chapter=chapter, sizes=(1500, 517, 1000)), values["questions"]


@pytest.mark.parametrize("chapter", chapters_with_questions())
def test_every_chapter_answers_each_of_its_questions_in_order(chapter):
    results, questions = chapter_results(chapter)
    text = answers.answer(results, questions)
    assert ":class: answer-summary" in text and "**Limits.**" in text
    positions = [text.index(f"*{q['ask']}*") for q in questions]
    assert positions == sorted(positions)
    assert "nan" not in text and "-0.00 " not in text and "(mean of" not in text


def test_no_explanation_is_shared_word_for_word_between_chapters():
    why = collections.defaultdict(set)
    for chapter in chapters_with_questions():
        results, questions = chapter_results(chapter)
        for block in answers.answer(results, questions).split("\n\n"):
            if block.startswith("**Why.**"):
                for sentence in prose.sentences(block.removeprefix("**Why.** ")):
                    why[sentence].add(chapter)
    shared = {s: c for s, c in why.items() if len(c) > 1}
    assert why and not shared, shared


def test_every_explain_question_gets_an_explanation():
    for chapter in chapters_with_questions():
        results, questions = chapter_results(chapter)
        for q in registry.questions(questions):
            section = answers.section(results, q)
            assert not q.explain or section.why, (chapter, q.label)


# --------------------------------------------------------------------------- the pages the issue names


def two_arms(reference_curves, arm_curves, *, evaluated=(6, 7, 4, 5), sizes=(1500, 517, 1000), **arm_settings):
    ref = [
        run(s, epochs=len(c["loss"]), evaluated=e, history=c)
        for s, (c, e) in enumerate(zip(reference_curves, evaluated[:2], strict=True))
    ]
    arm = [
        run(s, epochs=len(c["loss"]), evaluated=e, history=c)
        for s, (c, e) in enumerate(zip(arm_curves, evaluated[2:], strict=True))
    ]
    return factories.results(
        factories.arm("E", ref, model="a12-baseline"),
        factories.arm("H", arm, model="a12-batchnorm", **arm_settings),
        sizes=sizes,
    )


def curve(loss, val_loss=None):
    n = len(loss)
    return {
        "loss": loss,
        "accuracy": [0.5] * n,
        "val_loss": val_loss or [1.0 - 0.01 * e for e in range(n)],
        "val_accuracy": [0.5] * n,
    }


def test_a_training_loss_question_is_answered_at_equal_epochs_not_at_each_checkpoint():
    # at the checkpoint epochs (E: 6 and 7, H: 4 and 5) H's loss is higher (1.0, 0.95 against 0.9, 0.85);
    # at equal epochs it is lower from epoch 2 on and higher only at epoch 1
    e = [curve([2.0, 1.6, 1.4, 1.2, 1.05, 0.9, 0.85, 0.8]), curve([2.0, 1.6, 1.4, 1.2, 1.05, 0.92, 0.85, 0.8])]
    h = [curve([2.1, 1.5, 1.2, 1.0, 0.95, 0.7, 0.6, 0.5]), curve([2.2, 1.5, 1.2, 1.1, 0.95, 0.7, 0.6, 0.55])]
    results = two_arms(e, h, learning_rate=0.01, batch_size=64)
    q = registry.Question(
        ask="Compare the training loss of E and H. Explain.",
        kind="curve",
        arms=("E", "H"),
        measure="train_loss",
        epochs="equal",
        explain="batch-norm",
    )
    section = answers.section(results, q)
    assert "lower at epochs 2–8" in section.direct and "higher at epoch 1" in section.direct
    assert "0.53 against 0.80" in section.direct  # epoch 8 seed means: (0.5 + 0.55) / 2 = 0.525 and 0.8
    why = " ".join(section.why)
    assert "7 of 8 equal epochs" in why and "learning rate 0.01" in why and "batch size 64" in why


def test_fit_never_says_over_fitting_while_validation_loss_falls_and_names_the_rise():
    falling = [1.5, 1.3, 1.2, 1.1, 1.0, 0.95, 0.9, 0.88]
    rising = [1.5, 1.2, 1.0, 0.95, 1.0, 1.1, 1.2, 1.3]
    results = two_arms([curve([1.0] * 8, rising)] * 2, [curve([1.0] * 8, falling)] * 2, evaluated=(4, 4, 8, 8))
    q = registry.Question(ask="Over- or under-fitting?", kind="fit", arms=("E", "H"), measure="val_loss")
    section = registry.strategy("fit")(results, q)
    e_part, h_part = section.direct.split(". ")[0].split(";")
    assert "over-fitting" in e_part and "over-fitting" not in h_part and "still improving" in h_part
    # E: 1.5 1.2 1.0 0.95 1.0 1.1 1.2 1.3; H: 1.5 1.3 1.2 1.1 1.0 0.95 0.9 0.88 -> H higher at 2-4, lower at 6-8
    assert "lower at epochs 6–8 and higher at epochs 2–4" in section.direct
    assert "lowest at epoch 4 in both runs" in " ".join(section.detail)


def test_a_model_whose_runs_disagree_is_described_run_by_run_in_one_clause():
    falling = [1.5, 1.3, 1.2, 1.1, 1.0, 0.95, 0.9, 0.88]
    rising = [1.5, 1.2, 1.0, 0.95, 1.0, 1.1, 1.2, 1.3]
    results = two_arms([curve([1.0] * 8, rising)] * 2, [curve([1.0] * 8, rising), curve([1.0] * 8, falling)])
    q = registry.Question(ask="Over- or under-fitting?", kind="fit", arms=("E", "H"), measure="val_loss")
    direct = registry.strategy("fit")(results, q).direct
    assert direct.startswith("Model **E** was over-fitting; model **H** was over-fitting in 1 of 2 runs and ")
    assert "was still improving when the budget ran out in 1 of 2 runs." in direct


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(0.3, 3.0), min_size=1, max_size=12), st.floats(0.01, 0.5), st.integers(0, 1))
def test_generated_histories_still_falling_at_the_end_are_never_called_over_fitting(prefix, drop, seed):
    val_loss = [*prefix, min(prefix) - drop]
    n = len(val_loss)
    rng = np.random.default_rng(seed)
    history = {
        "loss": list(rng.uniform(0.1, 2, n)),
        "accuracy": list(rng.uniform(0.1, 1, n)),
        "val_loss": val_loss,
        "val_accuracy": list(rng.uniform(0.1, 0.4, n)),
    }
    results = factories.results(
        factories.arm("A", [run(0, epochs=n, history=history, train=0.99, val=0.2)], model="q6-simple-cnn"),
        sizes=(1500, 517, 1000),
    )
    text = answers.answer(results, [{"ask": "How does it fit?", "kind": "fit", "explain": "capacity"}])
    assert "over-fitting" not in text.replace("before any over-fitting could show", "")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 10), st.integers(1, 10), st.integers(1, 10), st.integers(0, 2**16))
def test_arms_evaluated_at_different_epochs_are_compared_at_equal_epochs(epochs, e_ref, e_arm, seed):
    e_ref, e_arm = min(e_ref, epochs), min(e_arm, epochs)
    rng = np.random.default_rng(seed)
    ref = [curve(list(rng.uniform(0.5, 2, epochs))) for _ in range(2)]
    arm = [curve(list(rng.uniform(0.5, 2, epochs + 2))) for _ in range(2)]
    results = two_arms(ref, arm, evaluated=(e_ref, e_ref, e_arm, e_arm))
    q = registry.Question(ask="Compare the training loss.", kind="curve", arms=("E", "H"), measure="train_loss")
    section = answers.section(results, q)
    table = section.tables[0].splitlines()[2:]
    assert [int(row.split("|")[1]) for row in table] == list(range(1, epochs + 1))  # every common epoch
    means = (np.mean([c["loss"][epochs - 1] for c in arm]), np.mean([c["loss"][epochs - 1] for c in ref]))
    assert f"At epoch {epochs}, the last both trained, it was {means[0]:.2f} against {means[1]:.2f}" in section.direct


@settings(max_examples=60, deadline=None)
@given(st.floats(0.2, 0.8), st.floats(-0.08, 0.08), st.integers(100, 3000))
def test_differences_inside_the_sampling_error_are_never_higher_or_lower(p, delta, n):
    q_acc = float(np.clip(p + delta, 0.01, 0.99))
    results = factories.results(
        factories.arm("A", [run(0, val=p)]), factories.arm("B", [run(0, val=q_acc)]), sizes=(1500, n, 1000)
    )
    text = registry.strategy("compare")(results, registry.Question(ask="Compare.", kind="compare")).direct
    se = np.hypot(np.sqrt(p * (1 - p) / n), np.sqrt(q_acc * (1 - q_acc) / n))
    if abs(q_acc - p) <= 2 * se:
        assert "higher" not in text and "lower" not in text and "the same" in text
    else:
        assert ("higher" if q_acc > p else "lower") in text


def test_a_monotone_learning_curve_beyond_the_sampling_error_is_concluded_with_the_single_seed_clause():
    accuracies = {500: 0.340, 1000: 0.428, 2000: 0.453, 4000: 0.526}
    arms = [
        factories.arm(learning_curve.arm_name(s), [run(0, val=a)], model="q6-bn-dropout", train_size=s)
        for s, a in accuracies.items()
    ]
    results = factories.results(*arms, sizes=(4000, 517, 1000))
    q = registry.Question(ask="Learning curve?", kind="learning-curve", highlight=1000)
    section = registry.strategy("learning-curve")(results, q)
    assert section.direct.startswith("More training images helped") and "ran once" in section.direct
    # the last step, 0.073, against 2 × its error on 517 images: beyond
    se = np.hypot(np.sqrt(0.526 * 0.474 / 517), np.sqrt(0.453 * 0.547 / 517))
    assert 2 * se < 0.073 and "still rose beyond the error" in " ".join(section.detail)
    assert "1,000-image subset reached 0.43" in " ".join(section.detail)


def test_epochs_to_a_reachable_mark_per_seed_and_total_training_time():
    slow = [[0.20, 0.30, 0.38, 0.42, 0.45], [0.22, 0.31, 0.36, 0.40, 0.44]]
    fast = [[0.40, 0.44, 0.48, 0.50, 0.52], [0.35, 0.41, 0.47, 0.49, 0.50]]

    def arm(name, model, curves, seconds):
        return factories.arm(
            name,
            [run(s, epochs=5, history={"val_accuracy": c}, seconds=seconds) for s, c in enumerate(curves)],
            model=model,
        )

    results = factories.results(
        arm("original", "e4742-original", slow, 3.0),
        arm("with batch norm", "e4742-batchnorm", fast, 4.0),
        sizes=(1500, 517, 1000),
    )
    section = registry.strategy("speed")(results, registry.Question(ask="Speed?", kind="speed", mark=0.9))
    # lowest best value 0.44 -> mark floor(0.9 × 0.44, 2 decimals) = 0.39
    assert "validation accuracy 0.39 as the mark" in section.direct
    # 0.39 first reached: fast runs at epochs 1 (0.40) and 2 (0.41); slow runs both at epoch 4 (0.42, 0.40)
    assert (
        "**with batch norm** at epochs 1 and 2" in section.direct
        and "**original** at epoch 4 in both runs" in section.direct
    )
    assert "**original** 14 s in all, 3 s per epoch" in section.detail[1]  # 2 + 4 × 3
    # epoch 1: 0.375 against 0.21; error of the difference on 517 images ≈ 0.028, so beyond it
    assert "**with batch norm** 0.38" in section.detail[0] and "higher than **original**" in section.detail[0]
    rows = section.tables[0].splitlines()[2:]
    assert [row.split("|")[6].strip() for row in rows] == ["14.0", "14.0", "18.0", "18.0"]


def test_precision_and_recall_are_reported_per_class():
    classes = factories.CIFAR_CLASSES
    report = {
        c: {"precision": 0.3 + i / 20, "recall": 0.35 + i / 20, "f1": 0.32 + i / 20, "support": 100}
        for i, c in enumerate(classes)
    }
    results = factories.results(factories.arm("A", [run(0, report=report)]), sizes=(1500, 517, 1000))
    section = registry.strategy("classes")(results, registry.Question(ask="Report.", kind="classes"))
    assert "truck (precision 0.75, recall 0.80, F1 0.77)" in section.direct
    assert "airplane (precision 0.30, recall 0.35, F1 0.32)" in section.direct
    assert "| cat | 0.45 | 0.50 | 0.47 |" in section.tables[0]


def test_the_regularization_verdict_follows_the_numbers():
    def arm(name, model, train, val):
        rising = [1.5, 1.2, 1.0, 1.1, 1.2, 1.3]
        return factories.arm(
            name, [run(s, train=train, val=val, epochs=6, val_losses=rising) for s in range(3)], model=model
        )

    base = arm("LeNet-5", "aml-lenet5", 0.80, 0.50)
    # dropout narrows the gap but costs validation accuracy; batch norm narrows it at no cost
    dropout = arm("dropout", "aml-lenet5-dropout", 0.50, 0.40)
    norm = arm("batch norm", "aml-lenet5-batchnorm", 0.60, 0.52)
    results = factories.results(base, dropout, norm, sizes=(1500, 517, 1000))
    section = registry.strategy("regularization")(results, registry.Question(ask="Which?", kind="regularization"))
    assert "**batch norm** helped more" in section.direct and "**dropout**" not in section.direct
    still = factories.results(
        factories.arm("LeNet-5", [run(0, epochs=4)], model="aml-lenet5"),
        factories.arm("dropout", [run(0, epochs=4, train=0.5)], model="aml-lenet5-dropout"),
    )
    verdict = registry.strategy("regularization")(still, registry.Question(ask="Which?", kind="regularization"))
    assert "still improving" in verdict.direct and "helped more" not in verdict.direct


def test_early_stopping_says_when_accuracy_rose_after_the_restored_epoch():
    history = {
        "val_loss": [1.2, 1.0, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2],
        "val_accuracy": [0.3, 0.4, 0.42, 0.45, 0.52, 0.55, 0.54, 0.53],
    }
    results = factories.results(
        factories.arm(
            "A",
            [run(0, epochs=8, evaluated=3, history=history)],
            epochs=14,
            early_stopping={"monitor": "val_loss", "patience": 5},
        ),
        sizes=(1500, 517, 1000),
    )
    section = answers.section(results, registry.Question(ask="Stop?", kind="stopping", explain="early-stopping"))
    assert "1 of 1 runs stopped before epoch 14" in section.direct and "epoch 3" in section.direct
    assert "rose beyond its sampling error after the restored epoch" in section.direct  # 0.42 -> 0.55 on 517
    # restored epoch 3 is the loss minimum (0.9) and 3 + patience 5 = 8, the epoch it stopped at
    why = " ".join(section.why)
    assert "minimum in 1 of 1 runs and 1 of 1 runs ended as predicted, at epoch 8" in why
    # why the restored weights scored lower: from the loss minimum to the accuracy peak both curves rose
    assert (
        "from epoch 3 to epoch 6 validation accuracy rose from 0.420 to 0.550 while validation loss went from "
        "0.900 to 1.050"
        in why
        and "cross-entropy penalizes" in why
    )
    assert why.index("ended as predicted") < why.index("cross-entropy")  # the mechanism first, then this run


def test_early_stopping_that_lost_no_accuracy_needs_no_loss_against_accuracy():
    history = {"val_loss": [1.2, 1.0, 0.9, 0.95, 1.0], "val_accuracy": [0.3, 0.4, 0.45, 0.45, 0.44]}
    results = factories.results(
        factories.arm(
            "A",
            [run(0, epochs=5, evaluated=3, history=history)],
            epochs=14,
            early_stopping={"monitor": "val_loss", "patience": 2},
        ),
        sizes=(1500, 517, 1000),
    )
    section = answers.section(results, registry.Question(ask="Stop?", kind="stopping"))
    assert "never rose beyond its sampling error" in section.direct and section.why == []


# --------------------------------------------------------------------------- registry and refusals


def test_the_registry_holds_one_strategy_per_kind_module():
    modules = sorted(p.stem.replace("_", "-") for p in (ROOT / "coursebook/course/answers/kinds").glob("[!_]*.py"))
    assert list(registry.kinds()) == modules


@pytest.mark.parametrize(
    "question, fragment",
    [
        (
            {"ask": "x", "kind": "nonsense"},
            "key 'questions[0].kind': value 'nonsense' is not allowed (expected one of {",
        ),
        ({"ask": "x", "kind": "fit", "arms": ["Z"]}, "key 'questions[0].arms': value 'Z' is not allowed"),
        ({"ask": "x", "kind": "fit", "explain": "magic"}, "key 'questions[0].explain': value 'magic'"),
        ({"kind": "fit"}, "key 'questions[0].ask' is missing"),
        (
            {"ask": "x", "kind": "compare", "epochs": "curve"},
            "value 'curve' is not allowed (expected {evaluated} for kind",
        ),
    ],
)
def test_a_bad_question_is_refused_in_one_line_before_any_kernel(question, fragment):
    with pytest.raises(ParameterError) as refused:
        resolve("a12-f-augmentation", "smoke", {"questions": [question]})
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


def test_a_question_reads_its_kinds_epochs_by_default():
    asked = registry.check_questions(
        [
            {"ask": "a", "kind": "curve"},
            {"ask": "b", "kind": "compare"},
            {"ask": "c", "kind": "curve", "epochs": "curve"},
        ],
        None,
        "f",
    )
    assert [q.epochs for q in asked] == ["equal", "evaluated", "curve"]


def test_no_chapter_id_in_the_package_code():
    found = []
    for path in (ROOT / "coursebook").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            text = (
                node.value
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                else node.id
                if isinstance(node, ast.Name)
                else node.name
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                else None
            )
            if text and CHAPTER_IDS.search(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    assert not found, found


def test_the_checker_finds_a_chapter_id_in_a_string_constant():
    tree = ast.parse('"""docstring a12-f"""\nx = "q6-p3"\n')
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert [c for c in constants[1:] if CHAPTER_IDS.search(c)] == ["q6-p3"]


def test_a_report_gives_each_accuracy_with_twice_its_larger_error():
    results = factories.results(
        factories.arm("A", [run(0, train=0.80, val=0.50, test=0.40), run(1, train=0.80, val=0.52, test=0.44)]),
        sizes=(1500, 500, 1000),
    )
    section = registry.strategy("report")(
        results, registry.Question(ask="Report.", kind="report", measure="test_accuracy")
    )
    # test: mean 0.42; sampling SE √(0.42·0.58/1000) = 0.0156, seeds' SE 0.02 -> ±0.04
    # validation: mean 0.51; sampling SE 0.0224 > seeds' 0.01 -> ±0.045 shown to 2 decimals, 0.04
    assert "**A** (2 runs): test accuracy 0.42 ± 0.04, training accuracy" in section.direct
    assert "validation accuracy 0.51 ± 0.04" in section.direct


def test_no_sentence_of_any_chapter_starts_with_an_arm_name():
    """Arm names may be lower case ('original', 'with batch norm'): a sentence never starts with one."""
    for chapter in chapters_with_questions():
        results, questions = chapter_results(chapter)
        text = answers.answer(results, questions)
        for sentence in prose.sentences(re.sub(r"\*\*[^*]+\.\*\* ", "", text)):
            assert not any(sentence.startswith(arm.name) for arm in results.arms), (chapter, sentence)


def test_an_arm_that_did_not_learn_still_gets_what_can_be_explained_without_its_curves():
    results = factories.results(
        factories.arm("Part 1", [run(0)], model="q6-simple-cnn"),
        factories.arm("deeper", [run(0, learned=False, cause="loss stuck at ln 10")], model="q6-deeper-gap"),
    )
    q = registry.Question(ask="Why did depth not help?", kind="fit", explain="depth")
    why = " ".join(answers.section(results, q).why)
    # 5 convolutions and 3 dense layers against the simple CNN's 6 and 2 (params/models)
    assert "5 convolutional and 3 dense layers (8 weight layers) against 6 and 2 (8)" in why
    assert "not deeper in weight layers" in why and "the limits below say why" in why
    page = answers.answer(results, [q])
    assert page.count("loss stuck at ln 10") == 1  # the cause is said once, in the limits


@pytest.mark.parametrize(
    "read_from, how",
    [
        (["other-chapter", "other-chapter"], "its runs were read from the run store"),
        (["first-chapter", "first-chapter"], "its runs were read from the run store, computed by first-chapter"),
        (["first-chapter", ""], "1 of its 2 runs was read from the run store, the other trained here"),
        (["", ""], "its runs were trained here (the run store did not hold them yet)"),
    ],
)
def test_an_arm_declared_by_another_chapter_is_named_with_where_its_runs_came_from(read_from, how):
    results = factories.results(
        factories.arm("MLP", [run(0), run(1)], model="aml-mlp"),
        factories.arm("LeNet-5", [run(0), run(1)], model="aml-lenet5"),
    )
    results.arms[0].source_chapter = "other-chapter"  # the arm as the other chapter declares it
    for stored, chapter in zip(results.arms[0].runs, read_from, strict=True):
        stored.read_from = chapter
    text = answers.answer(results, [{"ask": "Compare.", "kind": "compare", "arms": ["LeNet-5", "MLP"]}])
    assert f"Chapter other-chapter declares the arm **MLP**: {how}." in text
    assert "the arm **LeNet-5**" not in text


def test_a_question_whose_arms_all_failed_shows_no_empty_table():
    results = factories.results(
        factories.arm("E", [run(0, learned=False, cause="too few steps")]),
        factories.arm("F", [run(0, learned=False, cause="too few steps")]),
    )
    page = answers.answer(
        results, [{"ask": "Fit?", "kind": "fit", "explain": "augmentation"}, {"ask": "Compare.", "kind": "compare"}]
    )
    assert "No fit can be read." in page
    assert "|" not in page  # a table of headings alone: nothing to show (and Sphinx's LaTeX writer fails on it)


def test_convolution_against_a_dense_network_is_weighed_by_accuracy_and_gap():
    # LeNet-5 higher by 0.10 on 10,000 images (sampling error of the difference about 0.007) with a gap
    # of 0.05 against the MLP's 0.30: both predictions hold
    results = factories.results(
        factories.arm("MLP", [run(0, train=0.70, val=0.40), run(1, train=0.72, val=0.42)], model="aml-mlp-images"),
        factories.arm("LeNet-5", [run(0, train=0.55, val=0.50), run(1, train=0.57, val=0.52)], model="aml-lenet5"),
        sizes=(4000, 10_000, 1000),
    )
    q = registry.Question(
        ask="LeNet-5 against the MLP?", kind="compare", arms=("MLP", "LeNet-5"), explain="convolution"
    )
    why = " ".join(answers.section(results, q).why)
    # the specs: 3072·128 + 128 = 393,344 of 402,250 weights in the first dense layer; LeNet-5 62,006
    assert "393,344 of its 402,250 weights" in why and "62,006 against 402,250, 6.5 times fewer" in why
    assert "The runs are consistent with it" in why and "the gap was 0.05 against 0.30" in why
    worse = factories.results(
        factories.arm("MLP", [run(0, train=0.70, val=0.50), run(1, train=0.72, val=0.52)], model="aml-mlp-images"),
        factories.arm("LeNet-5", [run(0, train=0.90, val=0.40), run(1, train=0.92, val=0.42)], model="aml-lenet5"),
        sizes=(4000, 10_000, 1000),
    )
    assert "The runs are inconsistent with it" in " ".join(answers.section(worse, q).why)
    # a wider gap from a model that fit its training images better (0.91 against 0.71, far beyond the
    # sampling error of 4,000 images): the narrow gap of the other is learning less
    assert "narrower gap comes from learning less" in " ".join(answers.section(worse, q).why)
    assert "learning less" not in why  # LeNet-5's gap was the narrower there


def test_a_capacity_explanation_with_runs_that_disagree_says_which_did_what():
    falling = [2.0, 1.8, 1.6, 1.5, 1.4, 1.3]
    rising = [2.0, 1.5, 1.2, 1.4, 1.6, 1.8]  # lowest at epoch 3, then up by 0.60
    growing = {"accuracy": [0.3, 0.5, 0.7, 0.8, 0.9, 0.95], "val_accuracy": [0.3, 0.4, 0.42, 0.41, 0.40, 0.40]}
    results = factories.results(
        factories.arm(
            "LeNet-5",
            [
                run(0, epochs=6, val_losses=falling),
                run(1, epochs=6, val_losses=falling),
                run(2, epochs=6, val_losses=rising, history=growing),
            ],
            model="aml-lenet5",
        ),
        sizes=(3000, 517, 1000),
    )
    q = registry.Question(ask="Curves?", kind="fit", explain="capacity")
    why = " ".join(answers.section(results, q).why)
    assert "the runs show both in 1 of 3 runs and no minimum before the budget ended in 2 of 3 runs" in why
    assert (
        "was still falling at the last epoch in 2 of 3 runs; in the other it bottomed at epoch 3 and then rose by 0.60"
        in why
    )
    # the third run's running training accuracy (it recorded no inference-mode one): 0.7 at epoch 3, 0.95 at 6
    assert "its training accuracy (Keras' running value) rose from 0.70 at epoch 3 to 0.95 at epoch 6" in why


@pytest.mark.parametrize(
    ("accuracy", "said"),
    [
        # a straight climb after the minimum: 0.40 at epoch 3, 0.70 at epoch 6
        (
            [0.30, 0.35, 0.40, 0.50, 0.60, 0.70],
            "the run shows both: its validation loss bottomed at epoch 3 and "
            "then rose by 0.60, while its training accuracy (inference mode, on the first 500 training images) rose "
            "from 0.40 at epoch 3 to 0.70 at epoch 6",
        ),
        # +0.01 after the minimum against a noise of 0.012 (second differences 0, 0.04, 0.02, 0.02: median 0.02)
        (
            [0.30, 0.35, 0.40, 0.41, 0.40, 0.41],
            "the run shows the validation loss's rise alone: its validation loss bottomed at epoch 3 and then "
            "rose by 0.60, while its training accuracy (inference mode, on the first 500 training images) went "
            "from 0.40 at epoch 3 to 0.41 at epoch 6, within its epoch-to-epoch noise",
        ),
    ],
)
def test_a_capacity_explanation_reads_both_halves_of_its_prediction_from_the_run(accuracy, said):
    rising = [2.0, 1.5, 1.2, 1.4, 1.6, 1.8]  # lowest at epoch 3, then up by 0.60
    probe = {"eval_accuracy": accuracy, "eval_loss": [1.5 - a for a in accuracy]}
    results = factories.results(
        factories.arm("LeNet-5", [run(0, epochs=6, val_losses=rising, history=probe)], model="aml-lenet5"),
        sizes=(3000, 517, 1000),
    )
    why = " ".join(answers.section(results, registry.Question(ask="Fit?", kind="fit", explain="capacity")).why)
    assert "validation loss's lowest epoch (epoch 3)" in why
    assert said in why


def test_a_capacity_explanation_says_which_half_each_run_lacks():
    climbing = {"eval_accuracy": [0.30, 0.35, 0.40, 0.50, 0.60, 0.70]}  # +0.30 after epoch 3, no noise
    rising = [2.0, 1.5, 1.2, 1.4, 1.6, 1.8]  # lowest at epoch 3, then up by 0.60
    flat = [2.0, 1.5, 1.2, 1.21, 1.2, 1.21]  # lowest at epoch 3, then within 2% of it
    runs = [run(s, epochs=6, val_losses=v, history=climbing) for s, v in enumerate((rising, flat))]
    results = factories.results(factories.arm("LeNet-5", runs, model="aml-lenet5"), sizes=(3000, 517, 1000))
    why = " ".join(answers.section(results, registry.Question(ask="Fit?", kind="fit", explain="capacity")).why)
    assert "the runs show both in 1 of 2 runs and the training accuracy's rise alone in 1 of 2 runs:" in why
    assert "rose beyond its epoch-to-epoch noise in both runs after that minimum, by 0.30 on average" in why


def test_a_runs_history_is_read_in_one_module():
    # results.py is the one reader of a run's values and curves (Run.value, Run.curve) and of its file
    readers = []
    for path in sorted((ROOT / "coursebook").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "history"
                and isinstance(node.value, ast.Name)
                and node.value.id == "run"
            ):
                readers.append(path.relative_to(ROOT).as_posix())
    assert set(readers) == {"coursebook/course/results.py"}, readers


def test_regularizers_against_a_base_say_which_prediction_the_runs_bear_out():
    # the regularized arm fits its training images better (0.75 against 0.57 on 1,500 images) with a wider
    # gap (0.27 against 0.19): batch normalization's faster fit holds, dropout's narrower gap does not
    base = factories.arm("Part 1", [run(0, train=0.55, val=0.36), run(1, train=0.59, val=0.40)], model="q6-simple-cnn")
    both = factories.arm("Part 4", [run(0, train=0.73, val=0.46), run(1, train=0.77, val=0.50)], model="q6-bn-dropout")
    results = factories.results(base, both, sizes=(1500, 10_000, 1000))
    q = registry.Question(ask="Curves?", kind="fit", arms=("Part 1", "Part 4"), explain="regularizers")
    why = " ".join(answers.section(results, q).why)
    assert "the gap was wider (+0.080 ± " in why and "training accuracy higher (+0.180 ± " in why
    assert "bear out batch normalization's faster fit and not dropout's narrower gap" in why


@pytest.mark.parametrize("seeds", [1, 2])
def test_values_are_called_seed_means_and_averages_only_where_runs_are_averaged(seeds):
    """One run: its own values, no 'seed means', no 'on average', and a one-arm page's limits say
    what a ± is, not how differences between arms are judged (there are none)."""
    rising = [1.5, 1.2, 1.0, 0.95, 1.0, 1.1, 1.2, 1.3]  # lowest at epoch 4, then up 0.35
    climbing = {"eval_accuracy": [0.3 + 0.05 * e for e in range(8)]}  # +0.2 from epoch 4 to 8, no noise
    runs = [run(s, epochs=8, evaluated=8, history={**curve([1.0] * 8, rising), **climbing}) for s in range(seeds)]
    results = factories.results(factories.arm("A", runs, model="aml-lenet5"), sizes=(1500, 517, 1000))
    fit = answers.section(results, registry.Question(ask="Fit?", kind="fit", measure="val_loss", explain="capacity"))
    report = registry.strategy("report")(results, registry.Question(ask="Report.", kind="report"))
    text = " ".join([fit.direct, *fit.detail, *fit.why, report.direct, *report.detail])
    limits = answers.limits(results)
    assert ("rose beyond its epoch-to-epoch noise, by 0.35 on average" in text) == (seeds == 2)
    assert ("seed means" in text) == (seeds == 2)
    assert "by 0.35" in text
    assert ("every run shows both" if seeds == 2 else "the run shows both") in text
    assert (
        "in both runs after that minimum, by 0.20 on average" if seeds == 2 else "from 0.45 at epoch 4 to 0.65"
    ) in text
    assert "A difference is judged" not in limits
    assert (
        "A ± is two standard errors: the larger of" if seeds == 2 else "A ± is two binomial standard errors"
    ) in limits
    assert ("spread over seeds" in limits) == (seeds == 2)
    assert ("rest on 2 runs (seeds)." if seeds == 2 else "rest on one run, so no run-to-run spread.") in limits
