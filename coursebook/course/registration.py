"""The course as the book sees it (``coursebook.book.hooks.Course``, by role): its parameters (the
architectures a chapter may name, the checks of arms, model specs and image counts, the data
parameter), the training a chapter asks for, its data's fingerprint and the results check, a kernel's
environment, backend, log noise and set-up, and what the pages say (the run card's data, the landing
page's rows, ``summary``). Importing this module imports no Keras; each function imports what it needs."""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coursebook.book import cache, paths
from coursebook.book.hooks import Course, CourseInputError, DataCard, Kernel, Pages, Parameters, Runs, RunStore
from coursebook.checks import Check
from coursebook.course import summary

MODELS = "@models"  # a parameter naming architectures of models/ (one name or a list)
ARMS = "@arms"  # a list of experiment arms (coursebook.course.arms)
QUESTIONS = "@questions"  # a chapter's sub-questions and their kinds (coursebook.course.answers.registry)


def model_names() -> tuple[str, ...]:
    from coursebook.course.models import available_models  # imports no Keras

    return tuple(available_models())


def arms_kind() -> Check:
    """An ``@arms`` parameter, coarsely: a non-empty list (each arm is checked by :func:`check`), each
    arm its own or another chapter's."""
    from coursebook.course.arms import ARMS_ALLOWED, arm_schema, reference_schema

    return Check(
        ARMS_ALLOWED,
        lambda value: isinstance(value, list) and bool(value),
        {"type": "array", "minItems": 1, "items": {"anyOf": [arm_schema(), reference_schema()]}},
    )


def link(values: dict[str, Any], read_chapter: Any, where_of: Mapping[str, str]) -> dict[str, Any]:
    """Each arm of another chapter (``{name?, from, arm?}``) as that chapter trains it."""
    from coursebook.course.arms import link_references

    if not isinstance(values.get("arms"), list):
        return values
    return {**values, "arms": link_references(values["arms"], values, read_chapter, where_of.get("arms", "arms"))}


def questions_kind() -> Check:
    """A ``@questions`` parameter, coarsely (each question is checked by :func:`check`)."""
    from coursebook.course.answers.registry import questions_kind as kind

    return kind()


def file_schemas() -> dict[str, tuple[str, dict[str, Any]]]:
    """The model specs' JSON Schema (``params/models/*.yaml``)."""
    from coursebook.course.models import spec_schema

    return {"model": (f"{paths.relative(paths.MODELS_DIR)}/*.yaml", spec_schema())}


# --------------------------------------------------------------------------- parameter checks


def check(values: dict[str, Any], kinds: Mapping[str, str], where_of: Mapping[str, str]) -> None:
    """Arms, the architectures they and ``@models`` parameters name, and image counts within the data."""
    for name, kind in kinds.items():
        if kind == MODELS and values.get(name) is not None:
            check_model_specs(name, values[name], where_of.get(name, "the notebook"))
        elif kind == ARMS:
            check_arms(values, name, where_of)
            check_model_specs(name, [arm["model"] for arm in values[name]], where_of[name])
        elif kind == QUESTIONS:
            check_questions(values, name, kinds, where_of.get(name, "the notebook"))
    check_data_sizes(values, where_of)


def check_questions(values: dict[str, Any], name: str, kinds: Mapping[str, str], where: str) -> None:
    """Every question's kind, mechanism and measure, and the arms it names among the chapter's (a
    learning curve names its arms by size, so its questions name none)."""
    from coursebook.course.answers.registry import check_questions as check_each

    arms = next((values[key] for key, kind in kinds.items() if kind == ARMS), None)
    names = (
        None
        if values.get("sizes") or not isinstance(arms, list)
        else [arm["name"] for arm in arms if isinstance(arm, dict) and isinstance(arm.get("name"), str)]
    )
    check_each(values[name], names, where, name)


def check_arms(values: dict[str, Any], name: str, where_of: Mapping[str, str]) -> None:
    """Every arm of ``values[name]`` with the chapter-level settings in ``values``."""
    from coursebook.course.arms import check_arms as check_each

    check_each(values[name], values, where=where_of[name], describe=where_of.get)


def check_model_specs(key: str, value: str | list[str], where: str) -> None:
    """Every architecture a chapter uses must load: layer types and options, shapes that chain."""
    from coursebook.course.models import ModelSpecError, load_spec  # Keras-free

    for name in value if isinstance(value, list) else [value]:
        try:
            load_spec(name)
        except ModelSpecError as err:
            problem = " ".join(str(err).replace(f"{paths.ROOT}/", "").split())  # spec paths relative to the project
            raise ValueError(f"{where}: key '{key}': model '{name}': {problem}") from None


def check_data_sizes(values: dict[str, Any], where_of: Mapping[str, str]) -> None:
    """Image counts (``train_size``, an arm's ``train_size``, ``sizes``, ``test_size``) within the
    data: every source (CIFAR-10, the synthetic stand-in) has 50,000 training and 10,000 test images."""
    from coursebook.course.data.sources import FULL_SIZES  # numpy only

    n_train, n_test = FULL_SIZES
    fraction = values.get("validation_fraction")
    if values.get("validation", "holdout") == "holdout" and isinstance(fraction, (int, float)):
        available = n_train - math.floor(fraction * n_train)  # what the stratified validation split leaves
        left = f"the {available:,} training images left after the validation split (validation_fraction {fraction})"
    else:
        available, left = n_train, f"the {n_train:,} training images"
    counts = [
        ("train_size", values.get("train_size"), available, left),
        ("sizes", values.get("sizes"), available, left),
        ("test_size", values.get("test_size"), n_test, f"the {n_test:,} test images"),
    ]
    counts += [
        (f"arms[{i}].train_size", arm.get("train_size"), available, left)
        for i, arm in enumerate(values.get("arms") or [])
        if isinstance(arm, dict)
    ]
    for key, value, limit, what in counts:
        numbers = value if isinstance(value, list) else [value]
        if any(isinstance(n, int) and n > limit for n in numbers):
            where = where_of.get(key.split(".")[0].split("[")[0], "the notebook")
            raise ValueError(f"{where}: key '{key}': value {value!r} is not allowed (expected at most {what})")


# --------------------------------------------------------------------------- what a chapter will train


def training_runs(values: dict[str, Any]) -> list[tuple[int, float, float]]:
    """(epochs, training images, cost) of every training run a chapter's parameters ask for: each arm
    (``arms``; for a learning curve, one arm per entry of ``sizes``, its ``train_size`` the size)
    with its own epochs and training images (the arm's key, else the chapter's), ``repeats`` times.
    A chapter without arms but with ``epochs`` trains one model per repeat; one without ``epochs``
    trains nothing. Epochs are the most a run may take (early stopping can end it sooner). The cost
    weighs each image by its model (:func:`run_cost`)."""
    from coursebook.course.arms import SETTING_DEFAULTS

    if "epochs" not in values and "arms" not in values:
        return []
    arms = values.get("arms") or [{}]
    if values.get("sizes"):  # a learning curve: the arm trained at every size
        arms = [{**arm, "train_size": size} for arm in arms for size in values["sizes"]]
    repeats = int(values.get("repeats", 1) or 1)
    runs = []
    for arm in arms:
        setting = {key: arm.get(key, values.get(key, default)) for key, default in SETTING_DEFAULTS.items()}
        images = float(setting["train_size"] or all_training_images(values))
        runs += [(int(setting["epochs"]), images, run_cost(setting, images, values))] * repeats
    return runs


def run_cost(setting: dict[str, Any], images: float, values: dict[str, Any]) -> float:
    """Seconds per training image of one run (an order of magnitude, :func:`models.image_seconds`)
    relative to one image at the throughput the estimates assume before any bench, counting each
    epoch's inference passes (its validation images and the training probe) and a batch-norm model's
    recomputed statistics, each image a third of a training image. 1.0 without a model (or one that
    does not load)."""
    from coursebook.book.estimates import CPU_IMAGES_PER_SECOND
    from coursebook.course import models
    from coursebook.course.arms import BATCH_NORM_IMAGES, PROBE_IMAGES

    model = setting["model"] or values.get("model")
    try:
        spec = models.as_spec(model) if model else None
    except models.ModelSpecError:  # reported, with the file and key, before any kernel starts
        spec = None
    if spec is None:
        return 1.0
    evaluated = min(x for x in (validation_images(values), setting["monitor_images"]) if x) + PROBE_IMAGES
    if setting["batch_norm"] == "recompute" and any(layer.type == "batchnorm" for layer in spec.layers):
        evaluated += BATCH_NORM_IMAGES
    per_image = models.image_seconds(spec, int(setting["batch_size"]))
    per_image *= 1 + evaluated / (models.TRAINING_FLOPS_FACTOR * images)
    return per_image * CPU_IMAGES_PER_SECOND


def validation_images(values: dict[str, Any]) -> float:
    """The images each epoch validates on: the test images, or the held-out part (at most ``validation_size``)."""
    from coursebook.course.data.sources import FULL_SIZES

    if values.get("validation") == "test":
        return float(values.get("test_size") or FULL_SIZES[1])
    held = FULL_SIZES[0] * float(values.get("validation_fraction", 0.2))
    return float(min(held, values.get("validation_size") or held))


def all_training_images(values: dict[str, Any]) -> float:
    """The training images left after the validation split (all of them when the test set validates)."""
    from coursebook.course.data.sources import FULL_SIZES

    if values.get("validation") == "test":
        return float(FULL_SIZES[0])
    return FULL_SIZES[0] * (1 - float(values.get("validation_fraction", 0.2)))


# --------------------------------------------------------------------------- data and results


def data_fingerprint(values: dict[str, Any]) -> str:
    """The dataset's fingerprint, without decoding images ('none' for a chapter without data)."""
    if "data" not in values:
        return "none"
    from coursebook.course.data import DataError, dataset_fingerprint  # numpy only

    try:
        return dataset_fingerprint(values["data"])
    except DataError as err:  # e.g. data=cifar10 without the archive
        raise CourseInputError("data", " ".join(str(err).split())) from None


def prepare_data(values: list[dict[str, Any]]) -> None:
    """Before any kernel starts: CIFAR-10 downloaded once when a chapter about to execute will use
    it, and every dataset those chapters use decoded (or generated) once into the dataset cache,
    which their kernels then read instead of each decoding it (two at once, the first time)."""
    from coursebook.course.data import DataError, sources  # numpy only

    chosen = sorted({v["data"] for v in values if "data" in v})
    try:
        sources.fetch(chosen)
        for source in chosen:
            sources.load_dataset(source)
    except DataError as err:
        raise CourseInputError("data", " ".join(str(err).split())) from None


def describe_data(fingerprint: str) -> str:
    """A data fingerprint in words ('no data' for 'none')."""
    from coursebook.course.data import sources

    return "no data" if fingerprint == "none" else sources.describe(fingerprint)


def session_dirs() -> list[Path]:
    """The run store: every finished training run, kept with the chapters when a session ends."""
    from coursebook.course import runstore

    return [runstore.store_dir()]


def models_digest(values: dict[str, Any], fingerprint: str) -> str:
    """Every architecture spec in ``params/models`` (chapters read them at run time)."""
    return cache.files_digest(paths.MODELS_DIR, "*.yaml")


def data_digest(values: dict[str, Any], fingerprint: str) -> str:
    """The dataset a chapter trains on, by its fingerprint."""
    return cache.digest(fingerprint)


def results_problem(path: Path) -> str:
    """'' when ``path`` is a sound results file (``results.Results``), else what is wrong with it."""
    from coursebook.course.results import Results, ResultsError

    try:
        Results.load(path)
    except ResultsError as err:
        return str(err).removeprefix(f"{path}: ")
    return ""


# --------------------------------------------------------------------------- the run store


def run_keys(values: dict[str, Any], fingerprint: str) -> list[str]:
    """The run-store key of every training run a chapter's parameters ask for (no data is loaded)."""
    from coursebook.course import runstore

    try:
        planned = runstore.planned_runs(values, fingerprint)
    except (ValueError, TypeError):  # e.g. learning-curve sizes the kernel refuses with the data at hand
        return []
    code, versions = runstore.code_digest(), runstore.library_versions()
    return [inputs.key(code, versions) for inputs in planned]


def run_stored(key: str) -> bool:
    from coursebook.course import runstore

    return runstore.RunStore().has(key)


def run_counts(text: str) -> tuple[int, int]:
    """(trained, read from the store) among the runs of a results file's text."""
    from coursebook.course.results import Results

    try:
        runs = [run for arm in Results.from_dict(json.loads(text)).arms for run in arm.runs]
    except ValueError:  # a chapter whose results are not training runs (backprop, parameter counts)
        return 0, 0
    read = sum(1 for run in runs if run.read_from)
    return len(runs) - read, read


# --------------------------------------------------------------------------- a chapter's kernel


# a kernel's environment: quiet TensorFlow C++ logs, JAX allocating GPU memory as it needs it
KERNEL_ENV_DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "2", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
DETERMINISTIC_XLA_FLAG = "--xla_gpu_deterministic_ops"


def kernel_environment(deterministic: bool, environ: Mapping[str, str]) -> dict[str, str]:
    """The backends' variables a kernel needs on top of ``environ`` (which keeps its own values);
    with ``deterministic``, those that make TensorFlow, cuBLAS and XLA on GPU deterministic."""
    env = {name: environ.get(name, value) for name, value in KERNEL_ENV_DEFAULTS.items()}
    if deterministic:
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # deterministic cuBLAS (TensorFlow, PyTorch)
        flags = environ.get("XLA_FLAGS", "")
        if DETERMINISTIC_XLA_FLAG not in flags:  # JAX (and XLA in TensorFlow) on GPU
            env["XLA_FLAGS"] = (flags + f" {DETERMINISTIC_XLA_FLAG}=true").strip()
    return env


def backend() -> str:
    """The Keras backend the kernels will use (they inherit this process's ``KERAS_BACKEND``)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


# TensorFlow's and XLA's start-up lines on stderr (C++ logging that no setting silences)
LOG_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:. ]+\d+ \S+\.(cc|h):\d+\]"
    r"|.*(oneDNN custom operations|cuda_(blas|dnn|fft)|TF-TRT|computation placer|Unable to register)"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    r"|This TensorFlow binary is optimized to use available CPU instructions)"
)


def seed(value: int) -> None:
    """Seed Python, NumPy and the Keras backend."""
    import numpy as np

    random.seed(value)
    np.random.seed(value)
    import keras

    keras.utils.set_random_seed(value)


def determinism() -> None:
    """Deterministic kernels for the Keras backend (slower on GPUs). JAX reads its XLA flag at
    import, so the runner sets it in the kernel's environment."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)


def style_figures() -> None:
    from coursebook.course import plots

    plots.set_style()


def data_notice(dataset: Any, chapter: str) -> str:
    """What a page says above its results about its data (``course.data.notices``)."""
    from coursebook.course.data.notices import data_notice as notice

    return notice(dataset, chapter)


def device() -> str:
    """Keras backend and device, e.g. 'tensorflow on CPU'."""
    from coursebook.course.training import configure_backend

    return configure_backend()


def versions() -> str:
    """Python, NumPy, Keras and backend versions, in one line."""
    from coursebook.course.training import backend_versions

    v = backend_versions()
    return f"Python {v['python']}, NumPy {v['numpy']}, Keras {v['keras']}, {v['backend']} {v[v['backend']]}"


def data_card(dataset: Any, splits: Any = None) -> DataCard:
    """A loaded ``course.data`` dataset (and its splits, when the chapter made them) for the run card."""
    counts = {"train": len(dataset.x_train), "test": len(dataset.x_test)}
    if splits is not None:
        counts = {"train": len(splits.x_train), "validation": len(splits.x_val), "test": len(splits.x_test)}
    return DataCard(dataset.name, dataset.fingerprint, bool(dataset.is_synthetic), counts)


COURSE = Course(
    parameters=Parameters(
        choices={MODELS: model_names},
        kinds={ARMS: arms_kind, QUESTIONS: questions_kind},
        check=check,
        file_schemas=file_schemas,
        data="data",
        data_choices="auto | cifar10 | synthetic",
        budget=("epochs", "repeats", "train_size", "sizes", "data"),
        none_means={
            "train_size": "all",
            "test_size": "all",
            "validation_size": "all held out",
            "learning_rate": "the optimizer's default",
        },
        link=link,
        size_caps={"train_size": "train", "validation_size": "validation", "test_size": "test"},
    ),
    runs=Runs(
        training_runs=training_runs,
        data_fingerprint=data_fingerprint,
        cache_components={"models": models_digest, "data": data_digest},
        results_problem=results_problem,
        run_store=RunStore(keys=run_keys, holds=run_stored, counts=run_counts),
        prepare_data=prepare_data,
        describe_data=describe_data,
        session_dirs=session_dirs,
    ),
    kernel=Kernel(
        environment=kernel_environment,
        backend=backend,
        log_noise=LOG_NOISE,
        seed=seed,
        determinism=determinism,
        style_figures=style_figures,
        device=device,
        versions=versions,
    ),
    pages=Pages(
        data_card=data_card,
        data_notice=data_notice,
        stand_in_flag="synthetic stand-in, not CIFAR-10",
        stand_in="the synthetic stand-in (not CIFAR-10)",
        overview=summary.overview,
        overview_columns=summary.COLUMNS,
        overview_introduction=summary.INTRODUCTION,
    ),
)
