"""The chapter side of a run: seeding, the stand-in data's warning and the run card.

A chapter notebook starts with ``run = runtime.start("<chapter id>", seed=seed)`` right after its
``parameters`` cell and ends with ``run.card()``. Executed by the book runner, the run knows the
effective parameters (and which were overridden) from the runner; opened by hand in Jupyter,
it runs with its parameters cell's values and says so (a notebook that serves several chapters is
recognised by its parameters); a chapter's notebook written by ``python -m coursebook notebook``
(``make lab``) carries its chapter, profile and parameters, and the card reports them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coursebook.book import paths
from coursebook.book.hooks import DataCard, course
from coursebook.book.progress import RUN_ENV  # JSON describing the run, set by the runner
from coursebook.markdown import quote  # noqa: F401  (notebooks quote the question with runtime.quote)


@dataclass
class ChapterRun:
    """One execution of one chapter; collects what the run card reports."""

    chapter: str
    title: str
    profile: str
    parameters: dict[str, Any]
    origin: dict[str, str]
    commit: str
    started: float
    interactive: bool
    dataset: DataCard | None = None
    planned_fingerprint: str | None = None  # what the runner's cache key assumed ("none": no data)
    results_path: str | None = None  # where the runner wants the results file (None: opened by hand)
    device: str = ""
    text_parameters: list[str] = field(default_factory=list)  # quoted in the page's text, not read by code
    deterministic: bool = False  # op determinism on (DETERMINISTIC=1)
    extra: dict[str, str] = field(default_factory=dict)

    def use_dataset(self, dataset: Any, splits: Any = None) -> None:
        """Record the dataset (``hooks.Pages.data_card``) for the card; show a loud warning when it is a
        stand-in. Fails when the runner planned (and keyed its cache on) another dataset, e.g. a download
        that failed and fell back to the stand-in: such a page must not be cached as the real data."""
        card = course().pages.data_card(dataset, splits)
        if self.planned_fingerprint not in (None, "none") and card.fingerprint != self.planned_fingerprint:
            raise RuntimeError(
                f"loaded {card.name} ({card.fingerprint}) but the book runner planned dataset "
                f"{self.planned_fingerprint}; run again with DATA=synthetic or provide the data it planned"
            )
        self.dataset = card
        if notice := course().pages.data_notice(dataset, self.chapter):  # a stand-in or a sample says so loudly
            show_markdown(notice)
        if departed := departures_text(self.departures(), self.chapter):
            show_markdown(departed)

    def departures(self) -> list[tuple[str, Any, Any, str]]:
        """(parameter, value, the value of ``params/<chapter>.yaml`` (the assignment's setting; None:
        not set there), where this value comes from) for every parameter this run takes from the
        profile or the command line with another value than the chapter file's, but for a size cap
        above the images its part of the loaded data holds (it removed nothing)."""
        from coursebook.book.params import load_yaml

        try:
            assignment = (load_yaml(paths.PARAMS_DIR / f"{self.chapter}.yaml") or {}).get("parameters") or {}
        except Exception:  # noqa: BLE001 - opened by hand without a chapter file: nothing departs
            return []
        return [
            (name, value, assignment.get(name), self.origin[name])
            for name, value in self.parameters.items()
            if self.origin.get(name) in ("profile", "override")
            and value != assignment.get(name)
            and name not in self.text_parameters
            and not self._removed_nothing(name, value)
        ]

    def _removed_nothing(self, name: str, value: Any) -> bool:
        part = course().parameters.size_caps.get(name)
        held = self.dataset.counts.get(part) if self.dataset and part else None
        return isinstance(value, int) and held is not None and value > held

    def save_results(self, results: Any) -> str | None:
        """Write the chapter's results object (``coursebook.course.results.Results``) atomically to the
        path the runner gave; the runner keeps it as ``book/chapters/<id>.results.json`` only if the
        whole chapter succeeds. Opened by hand, the results are checked but written nowhere.
        Returns the path written, or None."""
        text = results.to_json()  # checks the schema and that every number is finite
        if not self.results_path:
            return None
        self.extra["results file"] = (
            f"`book/chapters/{self.chapter}.results.json` (schema version {results.schema_version})"
        )
        from coursebook.atomic import atomic_write_text

        atomic_write_text(Path(self.results_path), text)
        return self.results_path

    def figure(self, key: str, figure: Any, caption: str) -> None:
        """Show ``figure`` with a numbered ``caption``, referable as ``{numref}`<chapter>-<key>```
        (the chapter id keeps the name unique when several chapters share a notebook)."""
        glue(key, figure)
        show_markdown(f"```{{glue:figure}} {key}\n:name: {self.chapter}-{key}\n\n{caption}\n```")

    def card(self) -> str:
        """Display (and return) the run card as a Markdown table."""
        text = run_card_markdown(self)
        show_markdown(text)
        return text


def start(chapter: str | None, seed: int) -> ChapterRun:
    """Begin a chapter run: read the runner's description (or that of a chapter's written notebook,
    or, opened by hand, the notebook's own parameters) and seed every RNG. ``chapter`` may be None
    in a notebook that serves several chapters."""
    description = os.environ.get(RUN_ENV)
    if description:
        info = json.loads(description)
        if chapter is not None and info["chapter"] != chapter:
            raise RuntimeError(f"notebook says chapter {chapter!r} but the runner executes {info['chapter']!r}")
        interactive = False
    elif _opened is not None and chapter in (None, _opened["chapter"]):
        info = _edited(_opened)  # a chapter's notebook written by `python -m coursebook notebook` (make lab)
        interactive = True
        print(
            f"coursebook: chapter {info['chapter']} with the settings of profile {info['profile']} "
            f"(written by python -m coursebook notebook); the book itself is built by make book"
        )
    else:
        info = _resolve_interactively(chapter)
        interactive = True
    determinism = bool(info.get("deterministic", os.environ.get("COURSEBOOK_DETERMINISTIC", "") in ("1", "true")))
    course().kernel.seed(seed)
    if determinism:
        course().kernel.determinism()
    _figures_as_images()
    run = ChapterRun(
        chapter=info.get("chapter", chapter),
        title=info["title"],
        profile=info["profile"],
        parameters=info["parameters"],
        origin=info["origin"],
        commit=info.get("commit") or _commit(),
        started=info.get("started", time.time()),
        interactive=interactive,
        planned_fingerprint=info.get("data_fingerprint"),
        text_parameters=list(info.get("text_parameters", [])),
        deterministic=determinism,
        results_path=info.get("results_path"),
    )
    run.device = describe_device()
    return run


def _figures_as_images() -> None:
    """Figures are built without pyplot, so tell IPython to render them as PNG (the web page) and
    PDF (vector, for the PDF book and the figure files); set the plot style."""
    course().kernel.style_figures()
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - ipykernel brings matplotlib-inline
        return
    # every figure lays itself out (constrained layout), so it is saved as it is drawn: "tight", the
    # default, draws each figure once more only to measure it
    set_matplotlib_formats("png", "pdf", bbox_inches=None)


LONG_TEXT = 30  # characters: a longer text column of a table wraps in the PDF
WRAP_TEXT = 16  # characters: a longer text column wraps on the web page (numbers never do)


# Numbers stay on one line; headings and long texts wrap, so that a table fits the page's content column
TABLE_STYLE = [
    {"selector": "th, td", "props": "padding: 0.3em 0.5em; text-align: right"},
    {"selector": "th", "props": "font-weight: 600; border-bottom: 1px solid #888"},
]
ONE_LINE = {"white-space": "nowrap"}
WRAPPED_TEXT = {"white-space": "normal", "min-width": "8em", "text-align": "left"}


def heading(name: Any) -> str:
    """A column name as words: 'non_trainable' -> 'non-trainable', 'output_shape' -> 'output shape'."""
    return str(name).replace("non_", "non-").replace("_", " ")


class Table:
    """A DataFrame as the book shows it: HTML for the web page, LaTeX for the PDF."""

    def __init__(self, frame: Any, precision: int = 4, formats: dict[str, str] | None = None, index: bool = False):
        self.frame, self.precision, self.formats, self.index = frame, precision, formats or {}, index

    def _styler(self, escape: str | None) -> Any:
        frame = self.frame.rename(columns=heading)
        styler = frame.style.format(precision=self.precision, thousands=",", escape=escape)
        for column, pattern in self.formats.items():
            styler = styler.format(pattern, subset=[heading(column)], escape=escape)
        styler = styler.format_index(escape=escape, axis=1)
        return styler if self.index else styler.hide(axis="index")

    def _repr_html_(self) -> str:
        styler = self._styler("html").set_table_styles(TABLE_STYLE)
        long = {heading(c) for c in self.frame.columns if self._long_text(self.frame[c], WRAP_TEXT)}
        short = [c for c in styler.data.columns if c not in long]
        if short:
            styler = styler.set_properties(subset=short, **ONE_LINE)
        if long:
            styler = styler.set_properties(subset=sorted(long), **WRAPPED_TEXT)
        return styler.to_html()

    @staticmethod
    def _long_text(column: Any, limit: int = LONG_TEXT) -> bool:
        from pandas.api.types import is_numeric_dtype

        return not is_numeric_dtype(column) and column.astype(str).str.len().max() > limit

    def _repr_latex_(self) -> str:
        """A booktabs tabular, shrunk to the text width when still wider (adjustbox, loaded by _config.yml)."""
        tabular = self._styler("latex").to_latex(hrules=True, column_format=self._column_format())
        return "\\adjustbox{max width=\\linewidth}{" + tabular + "}"

    def _column_format(self) -> str:
        """LaTeX columns: numbers on the right, short text on the left, long text (titles,
        questions) wrapped in a 5 cm column rather than making the whole table tiny."""
        from pandas.api.types import is_numeric_dtype

        frame = self.frame.reset_index() if self.index else self.frame
        spec = ""
        for position in range(frame.shape[1]):
            column = frame.iloc[:, position]
            if is_numeric_dtype(column):
                spec += "r"
            elif self._long_text(column):
                spec += "p{5cm}"
            else:
                spec += "l"
        return spec


def table(
    frame: Any, precision: int = 4, formats: dict[str, str] | None = None, index: bool = False, transpose: bool = False
) -> Table:
    """Show a DataFrame in the book: thousands separators, fixed precision (``formats`` overrides
    per column, e.g. ``{"error": "{:.1e}"}``), no row numbers unless ``index``. ``transpose`` turns
    a wide table of few rows on its side: the first column's values become the column headings."""
    if transpose:
        first = frame.columns[0]
        frame = frame.set_index(first).T.rename(index=heading).rename_axis(None, axis=1)
        frame = frame.rename_axis(heading(first)).reset_index()
    return Table(frame, precision, formats, index)


def reproducibility_text(deterministic: bool) -> str:
    """What the run card says about repeating the run bit for bit."""
    if deterministic:
        return (
            "bit-reproducible: seeded, op determinism on (DETERMINISTIC=1); the same software and "
            "device give the same numbers"
        )
    return (
        "seeded, but not guaranteed bit-reproducible: op determinism is off "
        "(DETERMINISTIC=1 turns it on, at some cost in speed on GPUs)"
    )


def describe_device() -> str:
    """The course's backend and device (``hooks.Kernel.device``)."""
    return course().kernel.device()


def versions() -> str:
    """The software versions, in one line (the course says which matter)."""
    return course().kernel.versions()


def run_card_markdown(run: ChapterRun) -> str:
    """The run card: parameters (overrides marked), profile, dataset, backend, versions, commit, time."""
    rows = [
        ("chapter", f"`{run.chapter}`" + (" (run interactively, not by the book runner)" if run.interactive else "")),
        ("profile", f"`{run.profile}`"),
        ("dataset", _dataset_text(run.dataset)),
        ("backend and device", run.device),
        ("reproducibility", reproducibility_text(run.deterministic)),
        ("versions", versions()),
        ("git commit", f"`{run.commit}`"),
        ("wall time", f"{time.time() - run.started:.1f} s"),
        *run.extra.items(),
    ]
    lines = ["| run | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    lines += ["| parameter | value | from |", "|---|---|---|"]
    for name, value in run.parameters.items():
        source = run.origin.get(name, "notebook")
        mark = "**override**" if source == "override" else source
        if name in run.text_parameters:  # shown in the page's text, which can change without a run
            lines.append(f"| `{name}` | quoted at the top of the page | {mark} |")
            continue
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 80 else shown[:60] + " …"
        lines.append(f"| `{name}` | `{shown}` | {mark} |")
    return "\n".join(lines) + "\n"


def departures_text(departures: list[tuple[str, Any, Any, str]], chapter: str) -> str:
    """A note listing where a run departs from its chapter file's (the assignment's) settings; '' if nowhere."""
    if not departures:
        return ""
    where = {"profile": "profile", "override": "command line"}
    items = "; ".join(
        f"`{name}` {_setting(name, value)} instead of {_setting(name, assignment)} ({where[origin]})"
        for name, value, assignment, origin in departures
    )
    return (
        "```{admonition} Settings reduced from the assignment's\n:class: note\n\n"
        f"This run departs from the assignment's protocol (`params/{chapter}.yaml`) in: {items}. Every number "
        "and sentence below describes this run.\n```"
    )


def _setting(name: str, value: Any) -> str:
    if value is None:
        return course().parameters.none_means.get(name, "none")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _dataset_text(dataset: DataCard | None) -> str:
    if dataset is None:
        return "none (this chapter trains on no image data)"
    counts = ", ".join(f"{n:,} {split}" for split, n in dataset.counts.items())
    flag = f" **({course().pages.stand_in_flag})**" if dataset.stand_in else ""
    return f"{dataset.name}{flag}; {counts} images; fingerprint `{dataset.fingerprint}`"


# The chapter a notebook written by `python -m coursebook notebook` is for (its injected cell calls
# opened_as); None in a source notebook opened by hand.
_opened: dict[str, Any] | None = None


def opened_as(description: dict[str, Any]) -> None:
    """Called by the injected parameters cell of a chapter's written notebook: ``runtime.start``
    then reports that chapter, its profile and its parameters (overrides marked) on the run card."""
    global _opened
    _opened = dict(description)


def _edited(description: dict[str, Any]) -> dict[str, Any]:
    """The written notebook's description with the values the kernel holds now: a parameter edited
    by hand after the injected cell ran is reported as run, marked 'edited by hand'."""
    namespace = _user_namespace()
    parameters, origin = dict(description["parameters"]), dict(description["origin"])
    for name, value in description["parameters"].items():
        if name in namespace and namespace[name] != value:
            parameters[name], origin[name] = namespace[name], "edited by hand"
    return {**description, "parameters": parameters, "origin": origin}


def _commit() -> str:
    from coursebook.book.provenance import git_commit

    return git_commit()


def _resolve_interactively(chapter: str | None) -> dict[str, Any]:
    """Opened by hand, a notebook runs with its parameters cell's values (as the kernel holds them,
    edits included): report those, and say so. Without a chapter id (a notebook that serves several
    chapters) the notebook is recognised by the parameters its kernel defined."""
    from coursebook.book.params import declarations, load_chapter

    if chapter is not None:
        loaded = load_chapter(chapter)
        notebook, title, chapters = loaded.notebook, loaded.title, [chapter]
    else:
        notebook = _this_notebook()
        title, chapters = _first_heading(notebook), _chapters_of(notebook)
    values = {name: d.default for name, d in declarations(notebook).items()}
    namespace = _user_namespace()
    values.update({name: namespace[name] for name in values if name in namespace})
    budget = course().parameters.budget
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if k in budget)
    print(
        f"coursebook: {notebook.name} opened by hand: it runs with its parameters cell's values "
        f"({shown or 'see the run card'}), not a chapter's settings. For a chapter's own settings: "
        f"make lab CHAPTER=<id> (chapters on this notebook: {', '.join(chapters) or 'none'})."
    )
    return {
        "chapter": chapter or notebook.stem,
        "title": title,
        "profile": "none (parameters cell values)",
        "parameters": values,
        "origin": dict.fromkeys(values, "notebook"),
        "commit": _commit(),
    }


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the kernels have IPython
        return {}
    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}


def _this_notebook():
    """The source notebook this kernel runs: the one its front end names (JupyterLab's
    ``__session__``, VS Code's ``__vsc_ipynb_file__``) when it is one of ``notebooks/``, else the
    notebook of ``notebooks/`` that starts without a chapter id and whose parameters are all defined."""
    from coursebook.book import paths
    from coursebook.book.params import declarations

    namespace = _user_namespace()
    for key in ("__session__", "__vsc_ipynb_file__"):
        named = paths.NOTEBOOKS_DIR / Path(str(namespace.get(key) or "")).name
        if str(namespace.get(key) or "").endswith(".ipynb") and named.is_file():
            return named
    candidates = []
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb")):
        if "runtime.start(None" not in notebook.read_text(encoding="utf-8"):
            continue
        names = set(declarations(notebook))
        if names and names <= set(namespace):
            candidates.append((len(names), notebook))
    if not candidates:
        raise RuntimeError(
            "runtime.start(None, ...) outside the book runner: run the notebook's parameters cell first, "
            "or write a chapter's notebook with make lab CHAPTER=<id>"
        )
    return max(candidates)[1]


def _first_heading(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        text = "".join(cell["source"]) if cell["cell_type"] == "markdown" else ""
        if text.startswith("# "):
            return text.splitlines()[0][2:].strip()
    return notebook.stem


def _chapters_of(notebook: Path) -> list[str]:
    from coursebook.book.params import load_chapter, toc_chapter_ids

    return [c for c in toc_chapter_ids() if load_chapter(c).notebook == notebook]


def glue(name: str, value: Any) -> None:
    """What ``myst_nb.glue(name, value, display=False)`` writes into the cell's outputs, with NumPy
    scalars turned into Python numbers (which ``{glue:text}`name:.3f``` can format; a glued
    ``np.float64`` cannot be). Written here rather than imported: importing ``myst_nb`` in the
    kernel imports nbformat and its JSON-schema checks, about a second of every chapter."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    from coursebook.book.download import GLUE_PREFIX

    if isinstance(value, np.generic):
        value = value.item()
    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + key: data for key, data in bundle.items()}, raw=True, metadata=metadata)


def show_markdown(text: str) -> None:
    """Display Markdown (MyST) as a cell output; empty text shows nothing."""
    if not text.strip():
        return
    from IPython.display import Markdown, display

    display(Markdown(text))
