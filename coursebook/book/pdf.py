"""``make pdf``: the book, or one assignment (a part of ``_toc.yml``), as a PDF through xelatex.

    python -m coursebook pdf [--part <assignment>] [--profile quick] [--data auto] [--jobs N] [--no-wait]
                             [--timeout SECONDS] [--scheduler tcp://host:port]

Out-of-date chapters are executed first, as ``make book`` does (the same options, the same build
lock, the same handling of Ctrl-C and SIGTERM). The whole book is written to
``_build/latex/coursebook.pdf``; a part, e.g. ``--part aml``, gets its own table of contents and
configuration under ``_build/parts/<part>/`` (its introduction page as the root, its chapters as
chapters, its caption as the title) and is written to ``_build/pdf/<part>.pdf``: what a student
hands in. The tools are checked first; when one is missing, the exact install command is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from coursebook.book import cli, overview, params, paths, runner
from coursebook.book.params import CHAPTER_PREFIX, TocPart

DEBIAN_PACKAGES = "texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk fonts-dejavu-core"
INSTALL = f"sudo apt-get install {DEBIAN_PACKAGES}   (Debian/Ubuntu)"
FONTS = ("DejaVu Serif", "DejaVu Sans", "DejaVu Sans Mono")  # _config.yml: latex_elements.fontpkg


class PdfError(Exception):
    """Why no PDF can be built: one line for the user."""


def missing_tools() -> list[str]:
    """What the PDF build needs and this machine lacks."""
    missing = [tool for tool in ("xelatex", "latexmk", "make") if shutil.which(tool) is None]
    if shutil.which("fc-list") is None:
        return [*missing, "fontconfig (fc-list)"]
    for font in FONTS:
        listed = subprocess.run(["fc-list", font], capture_output=True, text=True).stdout
        if not listed.strip():
            missing.append(f"font '{font}'")
    return missing


def parts(toc_file: Path | None = None) -> list[TocPart]:
    """The parts (assignments) of ``_toc.yml``: each part's first entry is its introduction page."""
    return params.toc_parts(toc_file)


def find_part(name: str) -> TocPart:
    known = parts()
    for part in known:
        if part.name == name:
            return part
    raise PdfError(f"_toc.yml: no part '{name}' (allowed: {', '.join(p.name for p in known)})")


def part_sources(part: TocPart) -> tuple[Path, Path]:
    """Write the part's own _toc.yml and _config.yml under _build/parts/<part>/; return their paths."""
    where = paths.BUILD_DIR / "parts" / part.name
    where.mkdir(parents=True, exist_ok=True)
    toc = {
        "format": "jb-book",
        "root": part.root,
        "chapters": [{"file": f"{CHAPTER_PREFIX}{chapter}"} for chapter in part.chapters],
    }
    config = params.load_yaml(paths.CONFIG_FILE)
    config["title"] = part.caption
    config.setdefault("latex", {})["latex_documents"] = {"targetname": f"{part.name}.tex"}
    (where / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    (where / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return where / "_toc.yml", where / "_config.yml"


def build_pdf(part: TocPart | None) -> Path:
    """Run Jupyter Book's pdflatex builder (xelatex, from _config.yml); the PDF written."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(paths.ROOT), "--builder", "pdflatex", "-n", "--keep-going"]
    if part is None:
        output = paths.BUILD_DIR / "latex" / "coursebook.pdf"
    else:
        toc, config = part_sources(part)
        out_root = toc.parent
        cmd += ["--toc", str(toc), "--config", str(config), "--path-output", str(out_root)]
        output = out_root / "_build" / "latex" / f"{part.name}.pdf"
    output.unlink(missing_ok=True)
    overview.write()  # the landing page includes it (a fresh clone has none before `make book`)
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    result = subprocess.run(cmd, cwd=paths.ROOT, env=env)
    if result.returncode != 0 or not output.exists():
        raise PdfError(f"the LaTeX build failed (exit {result.returncode}); see {output.with_suffix('.log')}")
    missing_glyphs = [
        line
        for line in output.with_suffix(".log").read_text(errors="replace").splitlines()
        if line.startswith("Missing character")
    ]
    if missing_glyphs:
        raise PdfError(f"{len(missing_glyphs)} missing glyph(s) in {output.name}, e.g. {missing_glyphs[0]}")
    if part is None:
        return output
    final = paths.BUILD_DIR / "pdf" / f"{part.name}.pdf"
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(output, final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = cli.OneLineParser(prog="python -m coursebook pdf", description=__doc__.splitlines()[0])
    parser.add_argument("--part", help="one assignment: the name of its page in _toc.yml (e.g. aml)")
    cli.add_run_options(parser)
    try:
        args = parser.parse_args(argv)
    except cli.CommandLineError as err:
        print(f"make pdf: command line: {err}", file=sys.stderr)
        return 2
    try:
        missing = missing_tools()
        if missing:
            raise PdfError(f"missing {', '.join(missing)}; install: {INSTALL}")
        part = find_part(args.part) if args.part else None
        params.check_profile(args.profile)

        def plan() -> list[runner.Plan]:
            return runner.plan_book(
                args.profile, part.chapters if part else None, None, args.data, timeout=args.timeout
            )

        plan()  # bad input is said before the lock is waited for or any kernel starts
    except (PdfError, params.ParameterError) as err:
        print(f"make pdf: {err}", file=sys.stderr)
        return 2
    return cli.under_lock(lambda: _execute_and_build(args, part, plan), wait=not args.no_wait, prefix="make pdf: ")


def _execute_and_build(args, part: TocPart | None, plan) -> int:
    """Under the build lock: the out-of-date chapters, then the PDF."""
    summary = cli.execute_chapters(plan, args.profile, args.jobs, args.scheduler)
    if summary.failed:
        runner.print_summary(summary, None)
        print("make pdf: not built: a chapter failed (see above)", file=sys.stderr)
        return 1
    try:
        written = build_pdf(part)
    except PdfError as err:
        print(f"make pdf: {err}", file=sys.stderr)
        return 1
    print(f"make pdf: {written.relative_to(paths.ROOT)}")
    return 0
