"""What the book asks of the coursework it builds: one small interface, filled in by the course.

The book runs chapters, caches their results and assembles pages; deep learning is the course's
business. Where the book needs the course (the names a ``@models`` parameter may take, the checks of
the course's own parameter kinds, the training a chapter asks for, the fingerprint of its data,
whether a results file is sound, its rows on the landing page, a kernel's set-up), it asks the
:class:`Course` found here.

The package's top level names the module that builds it (``coursebook.COURSE_MODULE``), so this
subpackage imports nothing of the course: :func:`course` imports that module on first use, the way
Papermill looks its engines up in a registry. :func:`use` swaps in another course (tests do).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursebook.checks import Check

# Course.link: (a chapter's values, a reader of another chapter's values, where each value comes from) -> its values
Linker = Callable[[dict[str, Any], Callable[[str, dict[str, Any]], dict[str, Any]], Mapping[str, str]], dict[str, Any]]


class CourseInputError(ValueError):
    """A course check's verdict on one key: ``str(err)`` says what is wrong (without the file)."""

    def __init__(self, key: str, problem: str):
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True)
class Overview:
    """One chapter's results as the landing page's overview lists them (Markdown, escaped)."""

    runs: str  # runs per arm, e.g. '3 runs'
    data: str  # what it was computed on, e.g. 'CIFAR-10' or '**synthetic**'
    profile: str  # the profile its results file names
    stand_in: bool  # computed on a stand-in for the real data
    rows: list[list[str]]  # one per arm: a cell per column of Course.overview_columns
    budget: Mapping[str, Sequence[int]] = field(default_factory=dict)  # e.g. {'epochs trained': [12, 14]}


@dataclass(frozen=True)
class RunStore:
    """The course's store of training runs (each computed once for the whole book), as the book plans
    and reports it: which runs a chapter needs and which of them the store already holds."""

    # (values, data fingerprint) -> the key of every training run the values ask for, in order
    keys: Callable[[dict[str, Any], str], list[str]]
    # a key -> whether the store holds its run
    holds: Callable[[str], bool]
    # a results file's text -> (runs trained by that chapter's execution, runs it read from the store)
    counts: Callable[[str], tuple[int, int]]


@dataclass(frozen=True)
class Course:
    """The course's answers to the book's questions (each a plain function, cheap to import)."""

    # a parameter's choices tag (e.g. '@models') -> the names it may take
    choices: Mapping[str, Callable[[], Sequence[str]]]
    # a tag of a kind the course checks itself (e.g. '@arms') -> a coarse check of it: what it allows,
    # in words and as JSON Schema (the full check, with its context, is ``check``)
    kinds: Mapping[str, Callable[[], Check]]
    # (values, {key: its choices tag}, {key: where its value came from}) -> None; raises ValueError
    # whose message names the file, the key, the value and what is allowed
    check: Callable[[dict[str, Any], Mapping[str, str], Mapping[str, str]], None]
    # values -> (epochs, training images) of every training run they ask for
    training_runs: Callable[[dict[str, Any]], list[tuple[int, float]]]
    # values -> the fingerprint of the data they train on ('none' without data); CourseInputError
    data_fingerprint: Callable[[dict[str, Any]], str]
    # the course's own inputs of a run, each a component of the cache key: name -> (values, data
    # fingerprint) -> digest (e.g. the model specs, the data); a change executes the chapter again
    cache_components: Mapping[str, Callable[[dict[str, Any], str], str]]
    # a results file -> '' when sound, else what is wrong with it
    results_problem: Callable[[Path], str]
    # a results file -> its rows on the landing page (ValueError or OSError when unreadable), their
    # column headings, and the sentences that say what the columns mean
    overview: Callable[[Path], Overview]
    overview_columns: Sequence[str]
    overview_introduction: str
    # in the kernel: seed everything, turn on deterministic kernels, set the figures' style
    seed: Callable[[int], None]
    determinism: Callable[[], None]
    style_figures: Callable[[], None]
    # in the kernel: what a page says above its results about the data it was computed on (dataset,
    # chapter id) -> Markdown ('' for the real data); how the run card flags a stand-in
    data_notice: Callable[[Any, str], str]
    stand_in_flag: str
    # in the kernel: 'tensorflow on CPU'; 'Python 3.11.11, NumPy ..., Keras ..., tensorflow ...'
    device: Callable[[], str]
    versions: Callable[[], str]
    # the course's own input files, for ``python -m coursebook schema``: name -> (the files' glob
    # pattern relative to the project, their JSON Schema)
    file_schemas: Callable[[], Mapping[str, tuple[str, dict[str, Any]]]]
    # (values, a reader of another chapter's resolved values (its id, the overrides to read it with),
    # {key: where its value came from}) -> the values with what they take from other chapters filled in
    # (e.g. another chapter's arm, so its runs are read, not trained again); ValueError names the file,
    # key, value and what is allowed
    link: Linker | None = None
    # the store of training runs (None: every run a chapter asks for is trained when it executes)
    run_store: RunStore | None = None
    # in the build, before any kernel starts: fetch, once, the data the values of the chapters about to
    # execute need (CourseInputError naming what could not be fetched)
    prepare_data: Callable[[list[dict[str, Any]]], None] = lambda values: None
    # a data fingerprint ('none': no data) -> what it is, in words, for make status and the build's first line
    describe_data: Callable[[str], str] = lambda fingerprint: fingerprint
    # the course's own folders of finished work, carried out of a session with the chapters
    # (``python -m coursebook keep``), e.g. the run store
    session_dirs: Callable[[], list[Path]] = lambda: []


_registered: Course | None = None


def course() -> Course:
    """The course the book builds (imported on first use from ``coursebook.COURSE_MODULE``)."""
    global _registered
    if _registered is None:
        import coursebook

        _registered = importlib.import_module(coursebook.COURSE_MODULE).COURSE
    return _registered


def use(replacement: Course | None) -> None:
    """Build another course (``None``: the package's own again, on next use)."""
    global _registered
    _registered = replacement
