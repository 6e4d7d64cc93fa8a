"""What a chapter measured, as one object and one file: ``book/chapters/<id>.results.json``.

The kernel builds a :class:`Results` (``experiments.Experiment.train``), the page computes every
table, figure and sentence from it, and ``run.save_results(results)`` writes it atomically; the
book runner keeps it beside the executed notebook only when the chapter succeeded. The file is
plain JSON (no NaN or infinity: a non-finite number fails the run with a message naming arm, seed
and metric) and is checked field by field when loaded, so a damaged file gives one clear error.

Schema (``schema_version`` 2)::

    {schema_version, chapter, profile, parameters,
     dataset: {name, fingerprint, synthetic, sizes: {train, validation, test}, class_names},
     versions: {python, numpy, keras, backend, <backend>}, device,
     arms: [{name, model, parameters: {total, trainable, non_trainable}, settings: {...effective...},
             source_chapter (optional: the chapter that declares the arm, when another does),
             runs: [{seed, history: {metric: [per-epoch values]}, stopped_epoch, evaluated_epoch,
                     seconds_per_epoch: [...], training: {loss, accuracy}, validation: {loss, accuracy},
                     test: {loss, accuracy}, learned, learned_rule, failure_cause,
                     classification_report: {class: {precision, recall, f1, support}},
                     confusion: {training, validation, test: [[counts]]},
                     correct (optional: {validation, test: which images the evaluated weights classified
                              correctly, one bit per image in order, packed and hex-encoded}),
                     first_test_predictions (optional: the class index the evaluated weights predicted
                                             for each of the first FIRST_TEST_PREDICTIONS test images),
                     read_from (optional: the chapter that computed it, when read from the run store)}]}]}
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coursebook import checks
from coursebook.course import history

SCHEMA_VERSION = 2
SCORED_PARTS = ("training", "validation", "test")  # each {loss, accuracy} of the evaluated weights, inference mode
HISTORY_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")  # every run records these per epoch
# what a question can compare (params: questions[].measure): each run's value of its evaluated weights
MEASURES = ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "train_accuracy", "train_loss", "gap", "seconds")
MEASURED_PART = {"val_accuracy": "validation", "test_accuracy": "test", "train_accuracy": "train"}  # (sampling error)
CURVES = {  # the history metric a measure's per-epoch curve is read from, the inference-mode one first
    "val_accuracy": ("val_accuracy",),
    "val_loss": ("val_loss",),
    "train_accuracy": ("eval_accuracy", "accuracy"),
    "train_loss": ("eval_loss", "loss"),
}
FIRST_TEST_PREDICTIONS = 50  # predicted classes kept per run: a page shows them beside their images


class ResultsError(ValueError):
    """A results object or file that does not follow the schema; the message is one line."""


@dataclass
class Run:
    """One training run of one arm with one seed. Epochs are 1-based: ``stopped_epoch`` is the
    last epoch trained, ``evaluated_epoch`` the epoch whose weights ``training``, ``validation``,
    ``test``, ``classification_report`` and ``confusion`` describe (the restored best one, or the
    last), all measured in inference mode. The history's ``loss``/``accuracy`` are Keras' running
    training values (training mode: dropout on, batch statistics, averaged while the weights
    changed); ``eval_loss``/``eval_accuracy``, where present, are the inference-mode values on a
    fixed subset of the training images. ``learned`` says whether the run learned at all, by the
    rule ``learned_rule`` states with its numbers (:mod:`coursebook.course.learned`);
    ``failure_cause`` is the measured likely cause when it did not ('' otherwise)."""

    seed: int
    history: dict[str, list[float]]
    stopped_epoch: int
    evaluated_epoch: int
    seconds_per_epoch: list[float]
    training: dict[str, float]
    validation: dict[str, float]
    test: dict[str, float]
    learned: bool
    learned_rule: str
    failure_cause: str
    classification_report: dict[str, dict[str, float]]
    confusion: dict[str, list[list[int]]]
    read_from: str = ""  # the chapter that computed it, when it was read from the run store ('' when trained here)
    correct: dict[str, str] = field(default_factory=dict)  # per part: pack_correct of its images (paired comparisons)
    first_test_predictions: list[int] = field(default_factory=list)  # predicted class of the first test images

    # ------------------------------------------------------------------ the one reader of measures

    def value(self, measure: str) -> float:
        """``measure`` (one of MEASURES) of the evaluated weights; ``running_train_accuracy`` is
        Keras' running training accuracy of the evaluated epoch (training mode)."""
        return _VALUES[measure](self)

    def curve_key(self, measure: str) -> str:
        """The history metric ``measure``'s curve is read from (the inference-mode one where recorded)."""
        keys = CURVES.get(measure)
        if keys is None:
            raise KeyError(f"measure {measure!r} has no per-epoch curve (curves: {', '.join(CURVES)})")
        return next((key for key in keys if key in self.history), keys[-1])

    def curve(self, measure: str) -> list[float]:
        """The per-epoch values of ``measure`` up to the last epoch trained."""
        return [float(v) for v in self.history[self.curve_key(measure)][: self.stopped_epoch]]

    def correct_images(self, part: str) -> np.ndarray | None:
        """Whether the evaluated weights classified each image of ``part`` correctly (None: not recorded)."""
        return unpack_correct(self.correct[part]) if part in self.correct else None


@dataclass
class ArmResult:
    """One arm: its model, Keras' parameter counts, its effective settings and its runs."""

    name: str
    model: str
    parameters: dict[str, int]
    settings: dict[str, Any]
    runs: list[Run]
    source_chapter: str = ""  # the chapter that declares this arm, when it is another chapter's arm

    def learned_runs(self) -> list[Run]:
        """The runs that learned: a failed run is left out of every measure."""
        return [run for run in self.runs if run.learned]

    def values(self, measure: str) -> tuple[float, ...]:
        """``measure`` of every run that learned, in run order."""
        return tuple(run.value(measure) for run in self.learned_runs())

    def curves(self, measure: str) -> dict[int, list[float]]:
        """Seed -> ``measure``'s curve, for every run that learned."""
        return {run.seed: run.curve(measure) for run in self.learned_runs()}

    def stopped_early(self, run: Run) -> bool:
        """Whether ``run`` ended before the arm's configured epochs."""
        return run.stopped_epoch < int(self.settings["epochs"])


@dataclass
class DatasetInfo:
    """The data the arms trained on: which dataset, and the size of each part."""

    name: str
    fingerprint: str
    synthetic: bool
    sizes: dict[str, int]
    class_names: list[str]


@dataclass
class Results:
    """Everything a chapter measured; see the module docstring for the file layout."""

    chapter: str
    profile: str
    parameters: dict[str, Any]
    dataset: DatasetInfo
    versions: dict[str, str]
    device: str
    arms: list[ArmResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ access

    def arm(self, name: str) -> ArmResult:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(f"no arm {name!r}; arms: {[a.name for a in self.arms]}")

    @property
    def arm_names(self) -> list[str]:
        return [arm.name for arm in self.arms]

    def images(self, measure: str) -> int | None:
        """How many images an accuracy was measured on (None for a measure without a sampling error)."""
        part = MEASURED_PART.get(measure)
        return int(self.dataset.sizes[part]) if part else None

    def runs_count(self) -> int:
        """The smallest number of runs of any arm."""
        return min(len(arm.runs) for arm in self.arms)

    def history_frame(self) -> pd.DataFrame:
        """The tidy history frame of :mod:`coursebook.course.history` (arm name, seed,
        epoch, metric, value), epoch times as metric ``seconds``; runs end where they stopped."""
        return history.concat(
            history.from_keras(run.history, run.seconds_per_epoch, arm=arm.name, seed=run.seed)
            for arm in self.arms
            for run in arm.runs
        )

    # ------------------------------------------------------------------ checking, JSON

    def check(self) -> Results:
        """Raise :class:`ResultsError` unless every number is finite and every run is consistent."""
        if not self.arms:
            raise ResultsError("results: no arm")
        for arm in self.arms:
            if not arm.runs:
                raise ResultsError(f"results: arm {arm.name!r} has no run")
            for run in arm.runs:
                _check_run(arm.name, run)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON: the optional fields only where they say something."""
        data = dataclasses.asdict(self)
        for arm in data["arms"]:
            _drop_empty(arm, "source_chapter")
            for run in arm["runs"]:
                _drop_empty(run, "read_from")
                _drop_empty(run, "correct")
                _drop_empty(run, "first_test_predictions")
        return {"schema_version": data.pop("schema_version"), **data}

    def to_json(self) -> str:
        self.check()
        return json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write the file atomically (a reader never sees half of it)."""
        from coursebook.atomic import atomic_write_text

        atomic_write_text(Path(path), self.to_json())
        return Path(path)

    @classmethod
    def from_dict(cls, data: Any, where: str = "results") -> Results:
        """Build from parsed JSON, checking every field's presence and type."""
        if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
            raise ResultsError(
                f"{where}: key 'schema_version': value {data.get('schema_version')!r} is not "
                f"allowed (expected {SCHEMA_VERSION})"
            )
        try:
            built = _build(cls, data)
        except checks.Invalid as bad:
            raise ResultsError(bad.line(where)) from None
        return built.check_in(where)

    def check_in(self, where: str) -> Results:
        try:
            return self.check()
        except ResultsError as err:
            raise ResultsError(f"{where}: {str(err).removeprefix('results: ')}") from None

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Read and check a results file; a damaged file raises one :class:`ResultsError` line."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
        except FileNotFoundError:
            raise ResultsError(f"{path}: no results file") from None
        except (json.JSONDecodeError, ValueError, UnicodeDecodeError) as err:
            raise ResultsError(f"{path}: not valid results JSON: {' '.join(str(err).split())}") from None
        return cls.from_dict(data, str(path))


_VALUES: dict[str, typing.Callable[[Run], float]] = {
    "val_accuracy": lambda run: float(run.validation["accuracy"]),
    "val_loss": lambda run: float(run.validation["loss"]),
    "test_accuracy": lambda run: float(run.test["accuracy"]),
    "test_loss": lambda run: float(run.test["loss"]),
    "train_accuracy": lambda run: float(run.training["accuracy"]),
    "train_loss": lambda run: float(run.training["loss"]),
    "gap": lambda run: float(run.training["accuracy"]) - float(run.validation["accuracy"]),
    "seconds": lambda run: history.epoch_time(run.seconds_per_epoch),
    "running_train_accuracy": lambda run: float(run.history["accuracy"][run.evaluated_epoch - 1]),
}


def pack_correct(correct: np.ndarray) -> str:
    """Booleans, one per image, as text: their count, a colon, then the bits packed 8 to a byte, in hex.

    >>> pack_correct(np.array([True, False, True, True, False, False, False, False, True]))
    '9:b080'
    """
    bits = np.asarray(correct, dtype=bool)
    return f"{bits.size}:{np.packbits(bits).tobytes().hex()}"


def unpack_correct(text: str) -> np.ndarray:
    """The booleans :func:`pack_correct` wrote (ValueError for text it did not write)."""
    count, _, packed = text.partition(":")
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(packed), dtype=np.uint8))
    if not count.isdigit() or not int(count) <= bits.size < int(count) + 8:
        raise ValueError(f"not a packed list of images: {text[:20]!r}")
    return bits[: int(count)].astype(bool)


def _drop_empty(entry: dict[str, Any], key: str) -> None:
    if not entry.get(key):
        entry.pop(key, None)


def build_run(data: Any, where: str = "run") -> Run:
    """One run from parsed JSON, every field checked (:class:`ResultsError` names the first wrong one)."""
    try:
        run = _build(Run, data)
    except checks.Invalid as bad:
        raise ResultsError(bad.line(where)) from None
    _check_run("", run)
    return run


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a plain JSON number")


def _check_run(arm: str, run: Run) -> None:
    where = f"results: arm {arm!r}, seed {run.seed}" if arm else f"results: seed {run.seed}"
    lengths = {len(values) for values in run.history.values()}
    if not run.history or lengths != {run.stopped_epoch} or len(run.seconds_per_epoch) != run.stopped_epoch:
        raise ResultsError(
            f"{where}: every history list and seconds_per_epoch must have stopped_epoch = "
            f"{run.stopped_epoch} values (found {sorted(lengths)} and {len(run.seconds_per_epoch)})"
        )
    if not 1 <= run.evaluated_epoch <= run.stopped_epoch:
        raise ResultsError(f"{where}: evaluated_epoch {run.evaluated_epoch} is not in [1, {run.stopped_epoch}]")
    numbers = [
        (f"history metric {m!r} at epoch {e}", v) for m, vs in run.history.items() for e, v in enumerate(vs, start=1)
    ]
    numbers += [(f"seconds_per_epoch at epoch {e}", v) for e, v in enumerate(run.seconds_per_epoch, start=1)]
    for part in SCORED_PARTS:
        missing = [m for m in ("loss", "accuracy") if m not in getattr(run, part)]
        if missing:
            raise ResultsError(f"{where}: {part} lacks metric {missing[0]!r} (expected loss and accuracy)")
    missing = [m for m in HISTORY_METRICS if m not in run.history]
    if missing:
        raise ResultsError(
            f"{where}: history lacks metric {missing[0]!r} (every run records {', '.join(HISTORY_METRICS)})"
        )
    numbers += [(f"{part} metric {m!r}", v) for part in SCORED_PARTS for m, v in getattr(run, part).items()]
    numbers += [
        (f"classification_report {c!r} {m!r}", v)
        for c, row in run.classification_report.items()
        for m, v in row.items()
    ]
    for what, value in numbers:
        if not math.isfinite(value):
            raise ResultsError(f"{where}: {what} is {value} (not a finite number)")
        if "accuracy" in what and not 0 <= value <= 1:
            raise ResultsError(f"{where}: {what} is {value} (accuracies lie in [0, 1])")
    if run.learned == bool(run.failure_cause):
        raise ResultsError(f"{where}: failure_cause must be '' exactly when learned is true")


# --------------------------------------------------------------------------- typed building


NUMBER = checks.Check(
    "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), {"type": "number"}, float
)  # non-finite numbers are refused by Results.check, naming arm, seed and metric
LEAVES = {float: NUMBER, int: checks.integer(), str: checks.string, bool: checks.boolean}


def _build(kind: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as ``kind`` (a dataclass, dict[str, X], list[X], int, float, str,
    bool or Any); raise :class:`~coursebook.checks.Invalid` at the key path of the first wrong field."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        schema = {
            f.name: (_Built(hints[f.name]), _default(f)) for f in dataclasses.fields(kind)
        }  # a field with a default may be absent
        return kind(**checks.check_options(value, schema))
    if origin is dict:
        if not isinstance(value, dict):
            raise checks.Invalid("an object", value=value)
        return {key: _under(key, args[1], item) for key, item in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise checks.Invalid("a list", value=value)
        return [_under(f"[{index}]", args[0], item) for index, item in enumerate(value)]
    if kind is Any:
        return value
    return LEAVES[kind](value)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return checks.REQUIRED if f.default_factory is dataclasses.MISSING else f.default_factory()


def _under(key: str, kind: Any, value: Any) -> Any:
    try:
        return _build(kind, value)
    except checks.Invalid as bad:
        raise bad.under(key) from None


@dataclass(frozen=True)
class _Built:
    """A field of the schema as a check (for :func:`coursebook.checks.check_options`)."""

    kind: Any

    @property
    def allowed(self) -> str:
        if self.kind in LEAVES:
            return LEAVES[self.kind].allowed
        return "a list" if typing.get_origin(self.kind) is list else "an object"

    def __call__(self, value: Any) -> Any:
        return _build(self.kind, value)
