"""What the web pages need beyond Jupyter Book's defaults (a Sphinx extension, see ``_config.yml``).

- No inline script twice: sphinx-thebe adds its configuration script (``const THEBE_JS_URL ...``)
  twice (once with the file name None, once with ''), which Sphinx 7 does not see as the same
  script, so every page declared the constant twice and the browser reported a SyntaxError.
- A runnable notebook on every chapter page: the theme's ``.ipynb`` download is the executed page,
  whose text holds ``{glue:text}`` roles that only the book renders and whose parameters are the
  source notebook's defaults. Each chapter page therefore links ``notebooks/<id>.ipynb`` (written at
  the end of the HTML build by ``coursebook.book.notebook``, with the parameters that page was
  computed with, from its run record): it runs as it is in Jupyter with the project's environment.
  For a book built from a GitHub repository the line also opens it in Colab, from the ``gh-pages``
  branch, where it is published beside the pages (``publish.colab_url``).
- The page's ``.ipynb`` download (``_sources/``) quotes its numbers as the page shows them, not as
  ``{glue:text}`` roles (``coursebook.book.download``).
- A chapter whose last run failed (``book/chapters/<id>.failed.ipynb``) says so atop its page, which
  shows the last good result (or the placeholder of a chapter not built yet).
- In the PDF, the results overview's cells may break where the web page keeps them on one line: its
  eight columns are far narrower on paper than in a browser, so "mean ± sd" breaks at its spaces there
  (``_config.yml`` sets that table in a smaller type too).
- The site's root (``index.html``) sends the browser to the landing page and names the book's icon,
  as every page does: sphinx-external-toc's bare redirect named none, so a browser asked the server
  for ``/favicon.ico``, which does not exist, before it followed the redirect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coursebook.book.publish import NOTEBOOKS_DIR_NAME

CHAPTERS_DOC_PREFIX = "book/chapters/"
OVERVIEW_CLASS = "results-overview"  # coursebook.book.overview.CSS_CLASS
NO_BREAK_SPACE = "\u00a0"
COLAB_CLASS = "open-in-colab"


def _script_key(script: Any) -> tuple:
    """What makes two script tags the same; an inline script's file name is None or '' depending on
    when it was added."""
    attributes = getattr(script, "attributes", {})
    return (str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _executed_chapter(app: Any, docname: str) -> str | None:
    """The chapter id of an executed chapter's page (None for other pages, and placeholders)."""
    if not docname.startswith(CHAPTERS_DOC_PREFIX) or not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return None
    return docname.removeprefix(CHAPTERS_DOC_PREFIX)


def colab_link(chapter: str) -> str | None:
    """Where Colab opens the chapter's runnable notebook, for a book built from a GitHub repository
    (``provenance.repository``); None otherwise."""
    from coursebook.book import provenance, publish

    source = provenance.repository()
    return publish.colab_url(source[0], chapter) if source else None


def _link_runnable_notebook(app: Any, doctree: Any, docname: str) -> None:
    from docutils import nodes

    chapter = _executed_chapter(app, docname)
    if app.builder.format != "html" or chapter is None:
        return
    line = nodes.paragraph(classes=["runnable-notebook"])
    line += nodes.strong(text="Run this chapter yourself: ")
    line += nodes.reference(
        "", f"{chapter}.ipynb", refuri="../" * docname.count("/") + f"{NOTEBOOKS_DIR_NAME}/{chapter}.ipynb"
    )
    colab = colab_link(chapter)
    if colab is not None:
        line += nodes.Text(" (")
        line += nodes.reference("", "open it in Colab", refuri=colab, classes=[COLAB_CLASS])
        line += nodes.Text(")")
    line += nodes.Text(
        " has this page's parameters injected and runs as it is in any Jupyter: its first cell "
        "installs the project from the repository the book was built from, where it is not installed "
        f"(in a checkout: make lab CHAPTER={chapter}; no GPU of your own: gpu/colab.ipynb)."
    )
    _below_title(doctree, line)


def _below_title(doctree: Any, node: Any) -> None:
    """Put ``node`` right below the page's first title (at the top of a page without one)."""
    from docutils import nodes

    sections = list(doctree.findall(nodes.section))
    if sections:
        title = next(iter(sections[0].findall(nodes.title)), None)
        sections[0].insert(sections[0].index(title) + 1 if title is not None else 0, node)
    else:
        doctree.insert(0, node)


def _chapter(docname: str) -> str | None:
    """The chapter id of a chapter's page, executed or a placeholder (None for other pages)."""
    return docname.removeprefix(CHAPTERS_DOC_PREFIX) if docname.startswith(CHAPTERS_DOC_PREFIX) else None


def failed_mark(chapter: str, executed: bool) -> Any:
    """The warning atop the page of a chapter whose last run failed: what the page shows instead."""
    from docutils import nodes

    shown = (
        "This page shows its last good result, computed before that run." if executed else "It has no good result yet."
    )
    box = nodes.warning(classes=["chapter-failed"])
    box += nodes.paragraph(
        text=f"The last run of this chapter failed. {shown} The failed notebook is "
        f"book/chapters/{chapter}.failed.ipynb (in CI: the artifact failed-book); "
        f"make run CHAPTER={chapter} executes it again."
    )
    return box


def _mark_failed(app: Any, doctree: Any, docname: str) -> None:
    from coursebook.book import cache

    chapter = _chapter(docname)
    if app.builder.format != "html" or chapter is None or not cache.failed_path(chapter).exists():
        return
    box = failed_mark(chapter, _executed_chapter(app, docname) is not None)
    _below_title(doctree, box)


def runnable_notebook(chapter: str) -> Any:
    """The chapter's notebook with the parameters of its last run (its record), whose first code cell
    installs the project from the repository the book is built from, where that is known."""
    from coursebook.book import cache, notebook, params, provenance

    record = cache.read_record(chapter) or {}
    profile = record.get("profile", params.DEFAULT_PROFILE)
    recorded = record.get("parameters") or {}
    overrides = {k: recorded[k] for k in record.get("overridden") or [] if k in recorded}
    try:
        resolved = notebook.resolve(
            chapter, profile if profile in params.profiles() else params.DEFAULT_PROFILE, overrides
        )
    except params.ParameterError:  # the parameters changed since the run: offer the recorded ones
        resolved = params.Resolved(
            params.load_chapter(chapter), profile, recorded, dict.fromkeys(recorded, "run record")
        )
    return notebook.build(resolved, provenance.repository())


SITE_ROOT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
{icon}<meta http-equiv="Refresh" content="0; url={landing}">
</head>
<body><p><a href="{landing}">{title}</a></p></body>
</html>
"""


def _write_site_root(app: Any, exception: Exception | None) -> None:
    from html import escape

    from coursebook.atomic import atomic_write_text

    if exception is not None or app.builder.name != "html" or app.config.root_doc == "index":
        return
    favicon = app.config.html_favicon
    icon = f'<link rel="icon" href="_static/{escape(Path(favicon).name)}">\n' if favicon else ""
    landing = f"{app.config.root_doc}.html"
    title = escape(app.config.html_title or app.config.project)
    atomic_write_text(Path(app.outdir) / "index.html", SITE_ROOT.format(title=title, icon=icon, landing=landing))


def _write_runnable_notebooks(app: Any, exception: Exception | None) -> None:
    import nbformat

    from coursebook.atomic import atomic_write_text
    from coursebook.book import download

    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        chapter = _executed_chapter(app, docname)
        if chapter is None:
            continue
        offered = Path(app.outdir) / "_sources" / f"{docname}.ipynb"  # what the page's download button gives
        if offered.is_file():
            atomic_write_text(
                offered, nbformat.writes(download.with_values(nbformat.read(offered, as_version=4))) + "\n"
            )
        target = Path(app.outdir) / NOTEBOOKS_DIR_NAME / f"{chapter}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nbformat.writes(runnable_notebook(chapter)) + "\n", encoding="utf-8")


def _breakable_overview_on_paper(app: Any, doctree: Any, docname: str) -> None:
    from docutils import nodes

    if app.builder.format != "latex":
        return
    for container in doctree.findall(
        lambda node: OVERVIEW_CLASS in node.get("classes", ()) if isinstance(node, nodes.Element) else False
    ):
        for text in list(container.findall(nodes.Text)):
            if NO_BREAK_SPACE in text:
                text.parent.replace(text, nodes.Text(text.replace(NO_BREAK_SPACE, " ")))


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after every handler that adds scripts
    app.connect("doctree-resolved", _link_runnable_notebook)
    app.connect("doctree-resolved", _mark_failed)  # after the link: the warning comes first under the title
    app.connect("doctree-resolved", _breakable_overview_on_paper)
    app.connect("build-finished", _write_runnable_notebooks)
    app.connect("build-finished", _write_site_root, priority=400)  # before sphinx-external-toc's bare one
    return {"parallel_read_safe": True, "parallel_write_safe": True}
