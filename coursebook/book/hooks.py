"""What the book asks of the coursework it builds: four small roles, filled in by the course.

The book runs chapters, caches their results and assembles pages; deep learning is the course's
business, and the book's code names no framework, data set or course parameter. Where it needs the
course, it asks the :class:`Course` found here, through one of its roles: the chapters' parameters
(:class:`Parameters`: the names a ``@models`` parameter may take, the checks of the course's own
kinds, which parameter names the data), what a chapter computes (:class:`Runs`: its training runs, its
data's fingerprint, the cache key's course components, whether a results file is sound), a chapter's
kernel (:class:`Kernel`: its environment, its backend, its log noise, its set-up) and what the pages
say (:class:`Pages`: the data a run used, the landing page's rows).

The package's top level names the module that builds it (``coursebook.COURSE_MODULE``), so this
subpackage imports nothing of the course: :func:`course` imports that module on first use, the way
Papermill looks its engines up in a registry. :func:`use` swaps in another course (tests do).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursebook.checks import Check

# Parameters.link: (a chapter's values, a reader of another chapter's values, where each value comes from) -> its values
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
    data: str  # what it was computed on, e.g. the data set's name or '**<stand-in>**'
    profile: str  # the profile its results file names
    stand_in: bool  # computed on a stand-in for the real data
    rows: list[list[str]]  # one per arm: a cell per column of Pages.overview_columns
    budget: Mapping[str, Sequence[int]] = field(default_factory=dict)  # e.g. {'<budget> trained': [12, 14]}


@dataclass(frozen=True)
class DataCard:
    """The data a chapter's run loaded, as its run card reports it."""

    name: str
    fingerprint: str
    stand_in: bool  # a stand-in for the real data (the card flags it)
    counts: Mapping[str, int]  # images per split, e.g. {'train': 500, 'validation': 20, 'test': 500}


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
class Parameters:
    """A chapter's parameters as the course reads them: its kinds, its checks, its data and budget."""

    # a parameter's choices tag (e.g. '@models') -> the names it may take
    choices: Mapping[str, Callable[[], Sequence[str]]]
    # a tag of a kind the course checks itself (e.g. '@arms') -> a coarse check of it: what it allows,
    # in words and as JSON Schema (the full check, with its context, is ``check``)
    kinds: Mapping[str, Callable[[], Check]]
    # (values, {key: its choices tag}, {key: where its value came from}) -> None; raises ValueError
    # whose message names the file, the key, the value and what is allowed
    check: Callable[[dict[str, Any], Mapping[str, str], Mapping[str, str]], None]
    # the course's own input files, for ``python -m coursebook schema``: name -> (the files' glob
    # pattern relative to the project, their JSON Schema)
    file_schemas: Callable[[], Mapping[str, tuple[str, dict[str, Any]]]]
    # the parameter that names a chapter's data (``DATA=``, ``--data`` set it where a chapter declares
    # it) and the values it takes, in words for ``--help``
    data: str
    data_choices: str
    # the parameters that say how much a chapter trains (and on what), shown when a notebook is opened by hand
    budget: Sequence[str]
    # a parameter -> what its None means, in words (any other parameter's None reads 'none')
    none_means: Mapping[str, str]
    # (values, a reader of another chapter's resolved values (its id, the overrides to read it with),
    # {key: where its value came from}) -> the values with what they take from other chapters filled in
    # (e.g. another chapter's arm, so its runs are read, not trained again); ValueError names the file,
    # key, value and what is allowed
    link: Linker | None = None
    # a parameter that caps the images of a part -> that part's key in ``DataCard.counts``: a cap above
    # the images the part holds removed nothing, so the page does not list it as a departure
    size_caps: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Runs:
    """What a chapter computes, as the build plans, caches and reports it."""

    # values -> (passes over the data, training images, cost) of every training run they ask for; the
    # cost is an image's seconds relative to one at the assumed throughput (estimates.CPU_IMAGES_PER_SECOND)
    training_runs: Callable[[dict[str, Any]], list[tuple[int, float, float]]]
    # values -> the fingerprint of the data they train on ('none' without data); CourseInputError
    data_fingerprint: Callable[[dict[str, Any]], str]
    # the course's own inputs of a run, each a component of the cache key: name -> (values, data
    # fingerprint) -> digest (e.g. the model specs, the data); a change executes the chapter again
    cache_components: Mapping[str, Callable[[dict[str, Any], str], str]]
    # a results file -> '' when sound, else what is wrong with it
    results_problem: Callable[[Path], str]
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


@dataclass(frozen=True)
class Kernel:
    """A chapter's kernel: what its environment needs, what it logs in vain, how it is set up."""

    # (deterministic kernels wanted, this process's environment) -> the variables a kernel needs on top
    # of it (a variable the environment sets already keeps its value)
    environment: Callable[[bool, Mapping[str, str]], dict[str, str]]
    # the backend the kernels will compute with, read in this process (a component of the cache key)
    backend: Callable[[], str]
    # lines of a cell's stderr that the backend writes at start-up and no setting silences
    log_noise: re.Pattern[str]
    # in the kernel: seed everything, turn on deterministic kernels, set the figures' style
    seed: Callable[[int], None]
    determinism: Callable[[], None]
    style_figures: Callable[[], None]
    # in the kernel: the backend and device; the software versions that matter, in one line
    device: Callable[[], str]
    versions: Callable[[], str]


@dataclass(frozen=True)
class Pages:
    """What the pages say about the data a chapter used and about its results."""

    # in the kernel: (the data set a chapter loaded, its splits or None) -> what the run card reports
    data_card: Callable[[Any, Any], DataCard]
    # in the kernel: what a page says above its results about the data it was computed on (data set,
    # chapter id) -> Markdown ('' for the real data); how the run card flags a stand-in
    data_notice: Callable[[Any, str], str]
    stand_in_flag: str
    # the landing page: how it names the stand-in data; a results file -> its rows (ValueError or
    # OSError when unreadable), their column headings, the sentences that say what the columns mean
    stand_in: str
    overview: Callable[[Path], Overview]
    overview_columns: Sequence[str]
    overview_introduction: str


@dataclass(frozen=True)
class Course:
    """The course's answers to the book's questions (each a plain function, cheap to import), by role."""

    parameters: Parameters
    runs: Runs
    kernel: Kernel
    pages: Pages


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
