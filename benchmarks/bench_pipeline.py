"""What the pipeline costs: training through the package against bare Keras, the throughput and
achieved GFLOP/s of every assignment model, a no-op build, the overhead of one chapter run, and
the time per chapter of the last build.

Run standalone: ``python benchmarks/bench_pipeline.py [--images 1024 --epochs 3 --repeats 3]``.
Random images stand in for CIFAR-10 (an epoch's cost does not depend on pixel values). Every
figure is the median of ``--repeats`` runs; the first epoch of a fit (tracing, compilation) is
never timed. FLOPs come from the specs (``models.forward_flops``, times 3 for a training step).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from paired import alternating_pairs, random_images  # noqa: E402

from coursebook.book import cache, paths  # noqa: E402
from coursebook.course import models, training  # noqa: E402

MODEL = "e4742-original"
BATCH_SIZE = 64  # every assignment chapter's batch size


def _compiled(name: str):
    import keras

    keras.backend.clear_session()  # every fit starts from the same backend state
    return training.compile_model(models.build_model(name))


def package_epochs(name: str, x, y, epochs: int, validation: tuple | None = None) -> list[float]:
    """Seconds of every epoch after the first of ``training.train``, progress reporting on."""
    result = training.train(
        _compiled(name), (x, y), epochs=epochs, batch_size=BATCH_SIZE, verbose=0, validation_data=validation
    )
    return result.seconds_per_epoch[1:]


def package_own_seconds(name: str, x, y, epochs: int, validation: tuple | None = None) -> tuple[float, float]:
    """(seconds the package itself spends in one ``training.train``, seconds of its ``model.fit``):
    the first is everything outside the fit (checks, seeding, the temporary directory, the history
    frame) plus the progress reports made inside it (the epoch timer's two clock reads are not
    counted)."""
    model, report = _compiled(name), training.progress.report
    fit, spent = model.fit, {"fit": 0.0, "report": 0.0}

    def timed_fit(*args, **kwargs):
        start = time.perf_counter()
        history = fit(*args, **kwargs)
        spent["fit"] = time.perf_counter() - start
        return history

    def timed_report(*args, **kwargs):
        start = time.perf_counter()
        report(*args, **kwargs)
        spent["report"] += time.perf_counter() - start

    model.fit, training.progress.report = timed_fit, timed_report
    try:
        start = time.perf_counter()
        training.train(model, (x, y), epochs=epochs, batch_size=BATCH_SIZE, verbose=0, validation_data=validation)
        total = time.perf_counter() - start
    finally:
        training.progress.report = report
    return total - spent["fit"] + spent["report"], spent["fit"]


def package_epoch_seconds(name: str, x, y, epochs: int) -> float:
    """Median seconds per epoch (after the first) of ``training.train``."""
    return statistics.median(package_epochs(name, x, y, epochs))


def bare_epochs(name: str, x, y, epochs: int, validation: tuple | None = None) -> list[float]:
    """The same model and arrays through plain ``model.fit``, timed by the same kind of callback."""
    import keras

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    seconds: list[float] = []
    keras.utils.set_random_seed(0)
    _compiled(name).fit(
        x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, callbacks=[Timer()], validation_data=validation
    )
    return seconds[1:]


def overhead(images: int, epochs: int, pairs: int) -> dict[str, float]:
    """(1) package vs bare Keras on a chapter's kind of fit (a quarter as many validation images,
    evaluated every epoch): ``pairs`` pairs of fits, one of each, back to back, alternating which
    goes first. Each pair gives the ratio of its two median epochs, and the figure is the median of
    those ratios: on this kind of machine a whole fit now and then runs up to half slower (other
    tenants, clock speed), which a single pair cannot tell from overhead but the median of many
    discards. The quartiles of the pairs' ratios show that spread. Beside it, measured directly and
    free of that noise: the package's own seconds per fit, as a fraction of the fit
    (:func:`package_own_seconds`)."""
    x, y = random_images(images, (32, 32, 3))
    validation = random_images(images // 4, (32, 32, 3), seed=1)
    with tempfile.TemporaryDirectory() as tmp:  # the runner's progress file, as in a real build
        os.environ["COURSEBOOK_RUN"] = json.dumps({"chapter": "bench", "progress_file": str(Path(tmp) / "p.jsonl")})
        try:
            bare, package = alternating_pairs(
                lambda: statistics.median(bare_epochs(MODEL, x, y, epochs, validation)),
                lambda: statistics.median(package_epochs(MODEL, x, y, epochs, validation)),
                pairs,
            )
            ratios = [p / b for p, b in zip(package, bare, strict=True)]
            own = [package_own_seconds(MODEL, x, y, epochs, validation) for _ in range(3)]
        finally:
            del os.environ["COURSEBOOK_RUN"]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {
        "package_epoch_s": statistics.median(package),
        "bare_epoch_s": statistics.median(bare),
        "overhead_ratio": statistics.median(ratios),
        "overhead_ratio_quartiles": [quartiles[0], quartiles[2]],
        "overhead_pairs": pairs,
        "package_own_s": statistics.median(o for o, _ in own),
        "package_own_fraction": statistics.median(o / f for o, f in own),
    }


def throughput(images: int, epochs: int, repeats: int) -> dict[str, dict[str, float]]:
    """(2) training images/s and achieved GFLOP/s of every model in params/models."""
    img_per_s, gflops = {}, {}
    for name in models.available_models():
        spec = models.load_spec(name)
        x, y = random_images(images, spec.input_shape)
        runs = [package_epoch_seconds(name, x, y, epochs) for _ in range(repeats)]
        img_per_s[name] = images / statistics.median(runs)
        gflops[name] = img_per_s[name] * models.TRAINING_FLOPS_FACTOR * models.forward_flops(name) / 1e9
    return {"img_per_s": img_per_s, "gflops": gflops}


def _copy_project(target: Path) -> None:
    for name in ("params", "notebooks", "coursebook", "_static", "_toc.yml", "_config.yml", "requirements.txt"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    (target / "book").mkdir()
    for page in [*(ROOT / "book").glob("*.md"), ROOT / "book" / "favicon.svg"]:
        shutil.copy2(page, target / "book" / page.name)


def _cached_project(project: Path) -> dict[str, str]:
    """Make ``project`` a copy of this one whose every chapter is cached (an executed notebook
    holding only its title, and a record matching the current inputs); returns the environment
    that points the runner at it."""
    _copy_project(project)
    env = {**os.environ, "COURSEBOOK_ROOT": str(project), "PYTHONPATH": str(ROOT)}
    script = (
        "import nbformat\n"
        "from coursebook.book import cache, runner\n"
        "for plan in runner.plan_book('quick', data='synthetic'):\n"
        "    cache.output_path(plan.chapter_id).parent.mkdir(parents=True, exist_ok=True)\n"
        "    title = nbformat.v4.new_markdown_cell('# ' + plan.resolved.chapter.title)\n"
        "    page = nbformat.v4.new_notebook(cells=[title])\n"
        "    nbformat.write(page, cache.output_path(plan.chapter_id))\n"
        "    runner.write_record(plan, 1.0)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=project, env=env, check=True)
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=env.get("COURSEBOOK_ROOT", ROOT), env=env, capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"benchmark set-up: {' '.join(cmd[1:])} exited with {done.returncode}:\n{tail}")
    return time.perf_counter() - start


def _unchanged(records: dict[Path, bytes]) -> None:
    """Raise if a cached chapter executed: the figure would time executions, not the pipeline."""
    rerun = sorted(path.name for path, text in records.items() if path.read_bytes() != text)
    if rerun:
        raise RuntimeError(f"benchmark set-up: cached chapters executed again: {', '.join(rerun)}")


def _records(project: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in (project / "book" / "chapters").glob("*.run.json")}


def noop_build(repeats: int) -> dict[str, float]:
    """(3a) ``make book`` with every chapter cached, without the HTML step: the command ``make
    book`` runs, on a copy of the project whose records match the current inputs."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        env = _cached_project(project)
        records = _records(project)
        cmd = [sys.executable, "-m", "coursebook", "build", "--profile", "quick", "--data", "synthetic", "--no-html"]
        seconds = [_timed(cmd, env) for _ in range(repeats)]
        _unchanged(records)
    return {"noop_build_s": statistics.median(seconds), "noop_build_chapters": len(records)}


def _add_empty_chapter(project: Path) -> None:
    """A chapter whose only cell does nothing, appended to the book's last part."""
    import nbformat
    import yaml

    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("seed = 0  # [0, ] seed")
    cell.metadata.tags = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Empty"), cell, nbformat.v4.new_code_cell("pass")]
    nbformat.write(nb, project / "notebooks" / "empty.ipynb")
    (project / "params" / "empty.yaml").write_text("notebook: empty.ipynb\ntitle: Empty\n")
    toc = yaml.safe_load((project / "_toc.yml").read_text())
    toc["parts"][-1]["chapters"].append({"file": "book/chapters/empty"})
    (project / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))


def run_overhead(repeats: int) -> dict[str, float]:
    """(3b) what ``make run`` costs beyond the notebook's cells: interpreter and runner start-up,
    kernel start and shut-down, Papermill and the HTML step, on the whole book (every other
    chapter cached) with one more chapter whose only cell does nothing."""
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        env = _cached_project(project)
        records = _records(project)
        _add_empty_chapter(project)
        cmd = [sys.executable, "-m", "coursebook", "build", "--chapter", "empty"]
        html_first = _timed(cmd, env)  # the first HTML build writes every page: not what make run costs
        totals, overheads = [], []
        for _ in range(repeats):
            (project / "book" / "chapters" / "empty.run.json").unlink()  # so that it executes again
            totals.append(_timed(cmd, env))
            executed = nbformat.read(project / "book" / "chapters" / "empty.ipynb", as_version=4)
            cells = sum(c.metadata.get("papermill", {}).get("duration") or 0 for c in executed.cells)
            overheads.append(totals[-1] - cells)
        _unchanged(records)
    return {
        "run_overhead_s": statistics.median(overheads),
        "run_total_s": statistics.median(totals),
        "first_html_build_s": html_first,
    }


def last_build_times() -> dict[str, float]:
    """(5) seconds per chapter of the last build's quick-profile records."""
    times = {}
    for record_file in sorted(paths.CHAPTERS_DIR.glob("*.run.json")):
        record = cache.read_record(record_file.name.removesuffix(".run.json"))
        if record and record.get("profile") == "quick":
            times[record["chapter"]] = float(record["seconds"])
    return times


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3, help="including one untimed warm-up epoch")
    parser.add_argument("--repeats", type=int, default=3)
    # the overhead is a ratio of two similar times, compared with a 5% goal: many pairs of fits
    parser.add_argument("--overhead-images", type=int, default=2048)
    parser.add_argument("--overhead-epochs", type=int, default=4, help="including one untimed warm-up epoch")
    parser.add_argument("--overhead-pairs", type=int, default=10, help="pairs of fits (package, bare Keras)")
    args = parser.parse_args(argv)
    device = training.configure_backend()
    results: dict[str, object] = {"device": device, "images": args.images, "repeats": args.repeats}
    results.update(overhead(args.overhead_images, args.overhead_epochs, args.overhead_pairs))
    print(
        f"pipeline overhead, {MODEL}, {args.overhead_images:,} images (+{args.overhead_images // 4:,} validation), "
        f"{args.overhead_epochs - 1} timed epochs, batch {BATCH_SIZE}, {device}:"
    )
    low, high = results["overhead_ratio_quartiles"]
    print(
        f"  median epoch: package {results['package_epoch_s']:.3f} s, bare Keras {results['bare_epoch_s']:.3f} s; "
        f"ratio {results['overhead_ratio']:.3f} (median of {args.overhead_pairs} pairs of fits; quartiles "
        f"{low:.3f} to {high:.3f}; goal <= 1.05)"
    )
    print(
        f"  the package's own work per fit (outside model.fit, and its progress reports): "
        f"{results['package_own_s'] * 1000:.1f} ms, {results['package_own_fraction']:.2%} of the fit"
    )
    results.update(throughput(args.images, args.epochs, args.repeats))
    print(
        f"\ntraining throughput at batch {BATCH_SIZE} (FLOPs from the spec, x{models.TRAINING_FLOPS_FACTOR} for a "
        "training step):"
    )
    print(f"  {'model':24s} {'MFLOP/img':>10s} {'img/s':>8s} {'GFLOP/s':>8s}")
    for name in results["img_per_s"]:
        print(
            f"  {name:24s} {models.forward_flops(name) / 1e6:10.2f} {results['img_per_s'][name]:8.0f} "
            f"{results['gflops'][name]:8.2f}"
        )
    results.update(noop_build(args.repeats))
    results.update(run_overhead(args.repeats))
    print(
        f"\nno-op make book ({results['noop_build_chapters']} chapters cached, without the HTML step): "
        f"{results['noop_build_s']:.2f} s (goal <= 3 s)"
    )
    print(
        "make run beyond the notebook's cells (start-up, kernel, Papermill, HTML of the "
        f"{results['noop_build_chapters'] + 1}-chapter book): {results['run_overhead_s']:.2f} s (goal <= 5 s); "
        f"the first HTML build took {results['first_html_build_s']:.1f} s"
    )
    results["quick_chapter_s"] = last_build_times()
    print("\nquick profile, seconds per chapter of the last build:")
    for chapter, seconds in results["quick_chapter_s"].items():
        print(f"  {chapter:40s} {seconds:8.1f}")
    if not results["quick_chapter_s"]:
        print("  no quick-profile records in book/chapters (run make book first)")
    return results


if __name__ == "__main__":
    main()
