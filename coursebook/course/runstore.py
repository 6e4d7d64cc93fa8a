"""The run store: every training run computed once, for the whole book.

A run is identified by what determines it (:class:`RunInputs`): the model spec, the arm's
effective settings, the seed, the data (fingerprint, split and preprocessing), the code that trains
and measures it and the versions of the libraries that compute it. Its key is the digest of all of
these, so a run that another chapter, an earlier build or another machine (whose ``.cache/runs`` was
copied or committed) already computed is read, not trained.

Each entry is one JSON file, ``<key>.json``, written atomically once the run finished (an
interrupted chapter keeps the runs it completed) and checked when read like a results file: its
key, its digest and every field of its run; a damaged entry is reported and recomputed, never read.
Two kernels that need the same run take its file lock (the ``filelock`` package): one trains, the
other waits, or first trains its other runs (:func:`run_all`).
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from coursebook.atomic import atomic_write_text
from coursebook.book import paths
from coursebook.course import arms as arms_module, results as results_module
from coursebook.yamlfile import safe_load

STORE_FORMAT = 1
# the package's files whose code decides what a run computes (training, measuring, data, models)
TRAINING_CODE = (
    "course/training.py",
    "course/models.py",
    "course/evaluation.py",
    "course/learned.py",
    "course/arms.py",
    "course/experiments.py",
    "course/runstore.py",
    "course/data",
)
# where each backend's version comes from (the first installed distribution)
BACKEND_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "jax": ("jax", "jaxlib"),
    "torch": ("torch",),
}
NOT_IN_KEY = ("name", "source_chapter")  # an arm's label and where it was declared change no number


def store_dir() -> Path:
    """``.cache/runs`` of the project, or ``COURSEBOOK_RUNS``."""
    return Path(os.environ.get("COURSEBOOK_RUNS") or paths.ROOT / ".cache" / "runs")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def code_digest() -> str:
    """Digest of the package code that trains and measures a run (not the code of the pages)."""
    root, found = paths.PACKAGE_DIR, []
    for entry in TRAINING_CODE:
        target = root / entry
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        found += [
            f"{file.relative_to(root).as_posix()}:{_digest(file.read_bytes()) if file.is_file() else 'missing'}"
            for file in files
        ]
    return _digest("\n".join(found))


def library_versions(backend: str | None = None) -> dict[str, str]:
    """The versions that change a run's numbers: numpy, keras and the backend's library (read from
    the installed distributions, so no backend is imported), and whether kernels are deterministic."""
    backend = backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    versions = {"backend": backend, "deterministic": str(bool(os.environ.get("COURSEBOOK_DETERMINISTIC")))}
    for name in ("numpy", "keras", *BACKEND_DISTRIBUTIONS.get(backend, (backend,))):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def model_spec(model: str) -> Any:
    """A model spec as parsed YAML (its comments and layout are not part of a run)."""
    from coursebook.course import models

    return safe_load(models._spec_path(model).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RunInputs:
    """Everything that determines one run, in a form whose digest is its key."""

    settings: Mapping[str, Any]  # the arm's effective settings (its name aside)
    seed: int
    data: Mapping[str, Any]  # fingerprint, split and preprocessing of the images it trains on

    def describe(self) -> dict[str, Any]:
        settings = {k: v for k, v in self.settings.items() if k not in NOT_IN_KEY}
        return {
            "format": STORE_FORMAT,
            "model": model_spec(settings["model"]),
            "settings": settings,
            "seed": self.seed,
            "data": dict(self.data),
        }

    def identity(self, code: str | None = None, versions: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What the key is the digest of: the description, the training code and the library versions."""
        return {**self.describe(), "code": code or code_digest(), "versions": dict(versions or library_versions())}

    def key(self, code: str | None = None, versions: Mapping[str, str] | None = None) -> str:
        return _digest(_canonical(self.identity(code, versions)))


def seeds_for(seed: int, repeats: int) -> list[int]:
    """The seeds of ``repeats`` runs: seed, seed + 1, ..."""
    return [seed + i for i in range(repeats)]


def data_inputs(
    fingerprint: str,
    validation: str,
    validation_fraction: float,
    test_size: int | None,
    scaling: str,
    split_seed: int,
    validation_size: int | None = None,
) -> dict[str, Any]:
    """The data a run trains and is measured on, as its key in the run store sees it."""
    return {
        "fingerprint": fingerprint,
        "validation": validation,
        "validation_fraction": validation_fraction,
        "validation_size": validation_size,
        "test_size": test_size,
        "scaling": scaling,
        "split_seed": split_seed,
    }


def planned_runs(values: dict[str, Any], fingerprint: str) -> list[RunInputs]:
    """The runs a chapter's parameters ask for, as ``Experiment.train`` keys them (seeds outer,
    arms inner; a learning curve's arm at every size), without loading any data. A chapter that
    trains one ``model`` for ``epochs`` (the walkthrough) has that model as its one arm; one with
    neither arms nor such a model has no runs."""
    from coursebook.course import learning_curve

    arms = values.get("arms") or model_arm(values)
    if not arms:
        return []
    if values.get("sizes"):
        arms = learning_curve.size_arms(arms[0], values["sizes"])
    chapter = {k: values[k] for k in arms_module.SETTING_DEFAULTS if k in values and k != "model"}
    effective = arms_module.check_arms(arms, chapter, where="parameters")
    seeds = seeds_for(int(values["seed"]), int(values.get("repeats", 1) or 1))
    data_part = data_inputs(
        fingerprint,
        values.get("validation", "holdout"),
        values.get("validation_fraction", 0.2),
        values.get("test_size"),
        values.get("scaling", "unit"),
        seeds[0],
        values.get("validation_size"),
    )
    return [RunInputs(arm, seed, data_part) for seed in seeds for arm in effective]


def model_arm(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The one arm of a chapter whose parameters name a ``model`` to train for ``epochs`` ([] otherwise)."""
    return arms_module.one_model(values["model"]) if values.get("model") and "epochs" in values else []


@dataclass
class Stored:
    """A run as the store holds it: the run, the arm's parameter counts and where it was computed."""

    run: results_module.Run
    parameters: dict[str, int]
    chapter: str  # the chapter that computed it
    device: str
    read: bool = False  # read from the store (True) or trained just now


class RunStore:
    """One folder of run entries; see the module docstring."""

    def __init__(self, directory: Path | None = None, warn: Callable[[str], None] = print):
        self.directory = Path(directory or store_dir())
        self.warn = warn

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def lock(self, key: str) -> filelock.FileLock:
        (self.directory / "locks").mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(self.directory / "locks" / f"{key}.lock")

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> Stored | None:
        """The entry of ``key``; None when there is none or it is damaged (which is said)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return _parse(path.read_text(encoding="utf-8"), key)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, results_module.ResultsError) as err:
            self.warn(
                f"run store: {paths.relative(path)} is damaged ({' '.join(str(err).split())}): training the run again"
            )
            return None

    def write(self, key: str, identity: Mapping[str, Any], stored: Stored) -> None:
        """Store ``stored`` under ``key``, with the ``identity`` that ``key`` is the digest of."""
        body = {"run": _run_dict(stored.run), "parameters": stored.parameters}
        entry = {
            "format": STORE_FORMAT,
            "key": key,
            "digest": _digest(_canonical(body)),
            "computed": {
                "chapter": stored.chapter,
                "device": stored.device,
                "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            },
            "identity": dict(identity),
            **body,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path(key), json.dumps(entry, indent=1, allow_nan=False) + "\n")

    def origin(self, key: str) -> str | None:
        """The chapter that computed the stored run of ``key`` (None: not stored, or unreadable)."""
        try:
            return json.loads(self.path(key).read_text(encoding="utf-8"))["computed"]["chapter"]
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _run_dict(run: results_module.Run) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(run)
    data.pop("read_from", None)  # where a copy was read is not part of the run
    return data


def _parse(text: str, key: str) -> Stored:
    entry = json.loads(text, parse_constant=results_module._reject_constant)
    if entry.get("format") != STORE_FORMAT or entry.get("key") != key or _digest(_canonical(entry["identity"])) != key:
        raise ValueError(
            f"its format ({entry.get('format')!r}), key and inputs do not match format {STORE_FORMAT} "
            "and the file's name"
        )
    body = {"run": entry["run"], "parameters": entry["parameters"]}
    if entry.get("digest") != _digest(_canonical(body)):
        raise ValueError("its digest does not match its contents")
    run = results_module.build_run(entry["run"], where="run")
    parameters = {str(k): int(v) for k, v in entry["parameters"].items()}
    return Stored(run, parameters, str(entry["computed"]["chapter"]), str(entry["computed"]["device"]), read=True)


# --------------------------------------------------------------------------- many runs


@dataclass
class Job:
    """One run a chapter needs: its inputs and how to train it when the store does not hold it."""

    inputs: RunInputs
    train: Callable[[], tuple[results_module.Run, dict[str, int]]]
    label: Any = None
    identity: dict[str, Any] = field(default_factory=dict, init=False)
    key: str = field(default="", init=False)


def run_all(
    jobs: list[Job],
    chapter: str,
    device: str,
    store: RunStore | None = None,
    announce: Callable[[Job, bool], None] | None = None,
) -> list[Stored]:
    """Every job's run, read from the store or trained (and stored as soon as it finished), in
    the jobs' order. A run whose lock another kernel holds is left for later while this chapter
    has other runs to train, then waited for (and read once the other kernel stored it)."""
    store = store or RunStore()
    code, versions = code_digest(), library_versions()
    for job in jobs:
        job.identity = job.inputs.identity(code, versions)
        job.key = _digest(_canonical(job.identity))
    done: dict[int, Stored] = {}
    pending, blocking = list(range(len(jobs))), False
    while pending:
        left = []
        for index in pending:
            stored = _run_one(jobs[index], chapter, device, store, announce, wait=blocking or len(pending) == 1)
            if stored is None:
                left.append(index)
            else:
                done[index] = stored
        blocking = left == pending  # nothing could be done: wait for the first busy run
        pending = left
    return [done[index] for index in range(len(jobs))]


def _run_one(
    job: Job, chapter: str, device: str, store: RunStore, announce: Callable[[Job, bool], None] | None, wait: bool
) -> Stored | None:
    lock = store.lock(job.key)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except filelock.Timeout:
        return None
    try:
        stored = store.read(job.key)
        if announce:
            announce(job, stored is not None)
        if stored is None:
            run, parameters = job.train()
            stored = Stored(run, parameters, chapter, device)
            store.write(job.key, job.identity, stored)
        return stored
    finally:
        lock.release()


def card_text(entries: Iterable[Stored]) -> str:
    """What the run card says of a chapter's runs: how many were trained, how many read and whence."""
    entries = list(entries)
    read = [entry for entry in entries if entry.read]
    text = f"{len(entries) - len(read)} of {len(entries)} trained in this execution"
    if read:
        origins = ", ".join(f"`{chapter}`" for chapter in sorted({entry.chapter or "?" for entry in read}))
        text += f"; {len(read)} read from the run store `.cache/runs` (first computed by {origins})"
    return text
