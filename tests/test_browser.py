"""The built smoke book as a reader sees it: served over HTTP on 127.0.0.1 and opened page by page
in headless Chromium (Debian's ``chromium`` driven by Playwright; no browser download)."""

from __future__ import annotations

import ast
import functools
import http.server
import re
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from coursebook.book.params import load_chapter, toc_chapter_ids
from tests.conftest import PROJECT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT / "_build" / "screenshots"
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`")
GLUE_PREFIX = "application/papermill.record/"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (Debian: apt-get install chromium)"
)


@pytest.fixture(scope="module")
def site(smoke_book):
    """The smoke book's HTML served on an ephemeral port of 127.0.0.1; yields (base URL, html dir)."""
    html = smoke_book.root / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab closed while a file was sent: fine
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", html
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh tab, with every console error, page error, error status and failed
    request recorded. The test machine is offline: resources from other hosts cannot load, so only their
    failure to load is left out; everything the book serves itself (MathJax too) must load."""

    def __init__(self, browser, url: str):
        self.base = url.split("/", 3)[:3]
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images too
        self.page.wait_for_load_state("networkidle")

    def _request_failed(self, request) -> None:
        # net::ERR_ABORTED: the page moved on (a redirect) before the file came; a missing one answers 404
        if self._local(request.url) and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _local(self, url: str) -> bool:
        return url.split("/", 3)[:3] == self.base

    def _console(self, message) -> None:
        offline = message.text.startswith("Failed to load resource: net::") and not self._local(message.location["url"])
        if message.type == "error" and not offline:
            self.problems.append(f"console: {message.text} ({message.location['url']})")

    def broken_images(self) -> list[str]:
        return self.page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )

    def cramped_table_cells(self) -> list[str]:
        """Neighbouring cells of a chapter's tables whose texts are less than 6 px apart."""
        return self.page.evaluate("""() => {
            const cramped = [], range = document.createRange();
            for (const row of document.querySelectorAll("div.cell_output table tr")) {
                const cells = [...row.children];
                for (let i = 0; i + 1 < cells.length; i++) {
                    range.selectNodeContents(cells[i]); const left = range.getBoundingClientRect();
                    range.selectNodeContents(cells[i + 1]); const right = range.getBoundingClientRect();
                    if (left.width && right.width && right.left - left.right < 6)
                        cramped.push(cells[i].textContent + " | " + cells[i + 1].textContent);
                }
            }
            return cramped;
        }""")

    def wide_tables(self) -> list[str]:
        """Tables wider than the page's content column (a reader would scroll sideways): their headings."""
        return self.page.evaluate("""() => {
            const article = document.querySelector("article.bd-article");  // none on search.html
            if (!article) return [];
            const column = article.getBoundingClientRect();
            return [...article.querySelectorAll("table")]
                .filter(t => t.getBoundingClientRect().width > column.width + 1)
                .map(t => Math.round(t.getBoundingClientRect().width) + " px > " + Math.round(column.width) + " px: "
                          + [...t.querySelectorAll("th")].map(h => h.textContent.trim()).join(" | ").slice(0, 120));
        }""")

    def text(self) -> str:
        return self.page.inner_text("body")


def pages(html: Path) -> list[str]:
    """Every HTML page of the book, relative to the site root."""
    return sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if not {"_static", "_sources", "figures"} & set(p.relative_to(html).parts)
        and str(p.relative_to(html)) != "index.html"
    )  # the site root: a redirect, see below


def glued_texts(notebook: Path) -> list[str]:
    """Each ``{glue:text}`name:format``` of an executed chapter, formatted from the glued value."""
    nb = nbformat.read(notebook, as_version=4)
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            plain = output.get("data", {}).get(GLUE_PREFIX + "text/plain")
            if name and plain is not None:
                values[name] = plain
    expected = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for name, spec in GLUE_TEXT.findall(cell.source):
                value = values[name]
                expected.append(format(ast.literal_eval(value), spec) if spec else value.strip("'\""))
    return expected


def figure_names(notebook: Path) -> list[str]:
    """The names of the figures a chapter shows: its ``{glue:figure}`` directives, in Markdown cells
    or in the Markdown a code cell displays (``run.figure``)."""
    nb = nbformat.read(notebook, as_version=4)
    texts = [
        c.source if c.cell_type == "markdown" else output.get("data", {}).get("text/markdown", "")
        for c in nb.cells
        for output in ([c] if c.cell_type == "markdown" else c.get("outputs", []))
    ]
    return [m for text in texts for m in re.findall(r"\{glue:figure\}\s+(\S+)", text)]


def test_every_page_loads_cleanly_in_chromium(site, browser, smoke_book):
    base, html = site
    chapters = toc_chapter_ids(smoke_book.root / "_toc.yml")
    titles = {c: load_chapter(c).title for c in chapters}
    visited = pages(html)
    assert {f"book/chapters/{c}.html" for c in chapters} <= set(visited)
    for relative in visited:
        visit = Visit(browser, base + quote(relative))
        assert visit.problems == [], relative
        assert visit.broken_images() == [], relative
        assert visit.cramped_table_cells() == [], relative
        assert visit.wide_tables() == [], relative  # a laptop-wide window (1280 px) shows every table whole
        text = visit.text()
        assert "Traceback" not in text and "{glue" not in text, relative
        errors = visit.page.locator(".output.stderr, .output.traceback, .output.error, .system-message")
        assert errors.count() == 0, f"{relative}: {errors.first.inner_text()[:300] if errors.count() else ''}"
        sidebar = visit.page.locator(".bd-sidebar-primary")
        for chapter, title in titles.items():
            link = "a.current" if relative == f"book/chapters/{chapter}.html" else f"a[href$='{chapter}.html']"
            assert sidebar.locator(link).count() >= 1, f"{relative}: no {chapter} in the sidebar"
            assert title in sidebar.text_content(), f"{relative}: no title {title!r} in the sidebar"
        visit.page.close()


MATH_CHAPTER = "aml-p1-backprop"  # the chapter whose derivations are equations


def test_the_backprop_page_renders_its_math_with_the_network_blocked(site, browser):
    """Opened from disk with every request that is not a file aborted: MathJax is served with the
    book, and each equation Sphinx marked (``.math``) holds MathJax's rendered output."""
    _, html = site
    page = browser.new_page()
    blocked: list[str] = []

    def files_only(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", files_only)
    page.goto((html / "book" / "chapters" / f"{MATH_CHAPTER}.html").as_uri(), wait_until="load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.document", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")
    equations = page.locator(".math").count()
    assert equations > 0, f"{MATH_CHAPTER} has no equations to render"
    assert page.locator(".math mjx-container").count() == equations
    assert [url for url in blocked if "mathjax" in url.lower()] == []
    assert "\\frac" not in page.inner_text("article")  # no raw TeX left on the page
    page.close()


def test_the_site_root_leads_to_the_landing_page(site, browser):
    base, html = site
    icon = re.search(r'<link rel="icon" href="([^"]+)"', (html / "index.html").read_text(encoding="utf-8"))
    assert icon and (html / icon.group(1)).is_file()  # named, a browser asks for no /favicon.ico
    visit = Visit(browser, base)
    visit.page.wait_for_url(f"{base}book/index.html")
    assert visit.problems == []


def test_glued_numbers_and_figure_files_on_each_chapter(site, browser, smoke_book):
    base, _html = site
    for chapter in toc_chapter_ids(smoke_book.root / "_toc.yml"):
        visit = Visit(browser, f"{base}book/chapters/{chapter}.html")
        text = visit.text()
        for expected in glued_texts(smoke_book.root / "book" / "chapters" / f"{chapter}.ipynb"):
            assert expected in text, f"{chapter}: glued {expected!r} not on the page"
        links = visit.page.locator(".figure-files a")
        for href in [links.nth(i).get_attribute("href") for i in range(links.count())]:
            response = visit.page.request.get(f"{base}book/chapters/{href}")
            assert response.ok and len(response.body()) > 0, f"{chapter}: {href}"
        colab = visit.page.locator("p.runnable-notebook a.open-in-colab")
        assert colab.count() == 1 and colab.get_attribute("href") == (
            f"https://colab.research.google.com/github/example/coursebook/blob/gh-pages/notebooks/{chapter}.ipynb"
        ), chapter  # the smoke book is built as in GitHub Actions from example/coursebook (conftest.BUILT_FROM)
        offered = visit.page.request.get(f"{base}notebooks/{chapter}.ipynb")  # what gh-pages will hold there
        assert offered.ok and "https://github.com/example/coursebook.git" in offered.text(), chapter
        shown = figure_names(smoke_book.root / "book" / "chapters" / f"{chapter}.ipynb")
        linked = sorted(Path(links.nth(i).get_attribute("href")).name for i in range(links.count()))
        assert linked == sorted(f"{name}.{kind}" for name in shown for kind in ("png", "pdf")), chapter
        for name in shown:
            files = smoke_book.root / "_build" / "figures" / chapter
            assert (files / f"{name}.png").read_bytes()[:4] == b"\x89PNG", f"{chapter}/{name}.png"
            assert (files / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", f"{chapter}/{name}.pdf"
        visit.page.close()


def test_search_finds_a_chapter_by_a_word_of_its_title(site, browser, smoke_book):
    base, _ = site
    chapter = toc_chapter_ids(smoke_book.root / "_toc.yml")[-1]
    word = max(re.findall(r"[A-Za-z]{4,}", load_chapter(chapter).title), key=len)
    visit = Visit(browser, f"{base}search.html?q={quote(word)}")
    results = visit.page.locator(f"#search-results a[href*='{chapter}']")
    results.first.wait_for(timeout=20_000)
    assert results.count() >= 1 and visit.problems == []


def test_screenshots_of_the_landing_page_and_a_chapter(site, browser, smoke_book):
    base, _ = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chapter = toc_chapter_ids(smoke_book.root / "_toc.yml")[0]
    for name, url in [("landing", f"{base}book/index.html"), (chapter, f"{base}book/chapters/{chapter}.html")]:
        visit = Visit(browser, url)
        visit.page.evaluate("window.scrollTo(0, 0)")  # the sticky header and sidebar where a reader sees them
        target = SCREENSHOTS / f"{name}.png"
        visit.page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
        visit.page.close()
