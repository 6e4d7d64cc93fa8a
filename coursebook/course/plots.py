"""Figures for the book: each function takes data and returns a matplotlib Figure.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so they hold no
global state: a notebook shows one by returning it (or by ``glue``) and nothing needs
closing. Call :func:`set_style` once per notebook for the book's look; the functions read
no other settings. Histories are the tidy frames of :mod:`coursebook.course.history`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullLocator

from coursebook.course import history
from coursebook.course.data import to_labels

LineStyle = Literal["--", ":", "-"]
TRAIN_STYLE: LineStyle = "--"  # Keras' running training metric (training mode, averaged over the epoch)
EVAL_STYLE: LineStyle = ":"  # the inference-mode metric on a fixed subset of the training images (eval_*)
VALIDATION_STYLE: LineStyle = "-"
SERIES_LABELS: dict[LineStyle, str] = {
    TRAIN_STYLE: "training, running (training mode)",
    EVAL_STYLE: "training, inference mode",
    VALIDATION_STYLE: "validation",
}
LOG_SCALE_RATIO = 10  # a loss panel whose largest value is this many times its median is drawn on a log scale
WRONG_COLOUR = "tab:red"
PALETTE = "colorblind"
BANDS = ("sd", "range")


def set_style() -> None:
    """Set the book's plotting style (seaborn theme and rcParams) once per notebook."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "standard",  # figures lay themselves out (constrained layout): saved as drawn
            "axes.titlesize": "medium",
            "legend.frameon": False,
            "image.interpolation": "nearest",
        }
    )


def variant_colours(arms: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A fixed colour per arm, in the given order (the same arm list gives the same colours)."""
    return dict(zip(arms, sns.color_palette(PALETTE, max(len(arms), 1)), strict=False))  # no arm: one colour, unused


def _new_figure(nrows: int, ncols: int, panel: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()


# --- training histories --------------------------------------------------------------------


def training_curves(
    frame: pd.DataFrame,
    metrics: Sequence[str] = ("loss", "accuracy"),
    arms: Sequence[str] | None = None,
    *,
    band: str = "sd",
) -> Figure:
    """One panel per metric with epochs on x: training dashed, validation ("val_" + metric)
    solid, one colour per arm. Over several seeds the line is the mean and the shaded
    band is mean ± sd (``band="sd"``) or min to max (``band="range"``); where runs have
    different lengths (early stopping) the mean stops at the shortest run and every run is
    also drawn as a thin line to its own last epoch."""
    rows = history.check(frame, finite=False)
    arms = _variants(rows, arms)
    if band not in BANDS:
        raise ValueError(f"training_curves: band must be one of {BANDS}, got {band!r}")
    colours = variant_colours(arms)
    fig, axes = _new_figure(1, len(metrics), (4.5, 3.4))
    for ax, metric in zip(axes, metrics, strict=True):
        series = _series_of(rows, metric)
        means = history.seed_mean(rows, series)
        for arm in arms:
            for name in series:
                style = _style(name)
                _mean_line(ax, means[(means["arm"] == arm) & (means["metric"] == name)], colours[arm], style, band)
                if history.ragged(rows, arm):
                    _run_lines(ax, history.per_seed(rows, name, arm), colours[arm], style)
        _label_panel(ax, rows, metric)
    _outside_legend(fig, _legend_handles(colours, rows))
    return fig


def _style(name: str) -> LineStyle:
    return VALIDATION_STYLE if name.startswith("val_") else EVAL_STYLE if name.startswith("eval_") else TRAIN_STYLE


def _label_panel(ax: Axes, rows: pd.DataFrame, metric: str) -> None:
    """Axis labels and title; a loss panel whose largest value exceeds :data:`LOG_SCALE_RATIO` times the
    median of its values goes on a log scale, so one diverging curve does not flatten the others."""
    values = pd.to_numeric(rows[rows["metric"].isin(_series_of(rows, metric))]["value"], errors="coerce")
    values = values[np.isfinite(values) & (values > 0)]
    log = "accuracy" not in metric and not values.empty and values.max() > LOG_SCALE_RATIO * values.median()
    title = metric.replace("_", " ") + (" (log scale)" if log else "")
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=title, yscale="log" if log else "linear")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _outside_legend(fig: Figure, handles: list[Line2D]) -> None:
    """The legend below the panels, where it covers no curve."""
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), fontsize="small")


def _variants(rows: pd.DataFrame, arms: Sequence[str] | None) -> list[str]:
    present = list(pd.unique(rows["arm"]))
    if arms is None:
        return present
    unknown = [v for v in arms if v not in present]
    if unknown:
        raise ValueError(f"arms {unknown} not in history; it has {present}")
    return list(arms)


def _series_of(rows: pd.DataFrame, metric: str) -> list[str]:
    """The metric names present for ``metric``: running training, inference-mode training (``eval_``)
    and validation (``val_``)."""
    names = [metric] if metric.startswith(("val_", "eval_")) else [metric, f"eval_{metric}", f"val_{metric}"]
    present = [name for name in names if name in set(rows["metric"])]
    if not present:
        raise ValueError(f"metric {metric!r} not in history; it has {sorted(set(rows['metric']))}")
    return present


def _mean_line(ax: Axes, means: pd.DataFrame, colour, style: str, band: str) -> None:
    """The seed mean of one series (a slice of :func:`history.seed_mean`) and its band."""
    if means.empty:
        return
    means = means.dropna(subset=["mean"])
    ax.plot(means["epoch"], means["mean"].to_numpy(), linestyle=style, color=colour)
    if (means["of"] > 1).any():
        low, high = (
            (means["mean"] - means["sd"], means["mean"] + means["sd"]) if band == "sd" else (means["min"], means["max"])
        )
        ax.fill_between(
            means["epoch"], low.fillna(means["mean"]), high.fillna(means["mean"]), color=colour, alpha=0.2, linewidth=0
        )


def _run_lines(ax: Axes, curves: pd.DataFrame, colour, style: str) -> None:
    """Every run of one series as a thin line (used when runs have different lengths)."""
    for seed in curves:
        curve = curves[seed].dropna()
        ax.plot(curve.index, curve.to_numpy(), linestyle=style, color=colour, linewidth=0.8, alpha=0.5)


def _legend_handles(colours: Mapping[str, tuple], rows: pd.DataFrame) -> list[Line2D]:
    n_seeds = rows.groupby("arm")["seed"].nunique().max()
    spread = [Line2D([], [], color="grey", alpha=0.4, linewidth=6, label=f"spread over {n_seeds} seeds")]
    return (
        [Line2D([], [], color=colour, label=arm) for arm, colour in colours.items()]
        + _style_handles(rows)
        + (spread if n_seeds > 1 else [])
    )


def _style_handles(rows: pd.DataFrame) -> list[Line2D]:
    """One legend entry per kind of series the frame holds (running, inference-mode, validation)."""
    styles = {_style(str(name)) for name in pd.unique(rows["metric"]) if name != "seconds"}
    return [
        Line2D([], [], color="black", linestyle=style, label=label)
        for style, label in SERIES_LABELS.items()
        if style in styles
    ]


def loss_curve(
    values: Sequence[float],
    *,
    start: int = 1,
    xlabel: str = "iteration",
    ylabel: str = "loss",
    title: str | None = None,
    baseline: float | None = None,
) -> Figure:
    """A single curve of ``values`` against start, start + 1, ...; ``baseline``, if given, is
    drawn as a dotted line labelled as the loss of the best constant prediction."""
    fig, (ax,) = _new_figure(1, 1, (6, 3.5))
    ax.plot(np.arange(start, start + len(values)), np.asarray(values, dtype=float))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or "")
    if baseline is not None:
        ax.axhline(baseline, linestyle=":", color="grey", label="best constant prediction")
        ax.legend()
    return fig


def learning_curve(
    sizes: Sequence[int] | pd.DataFrame,
    accuracies: Sequence[float | Sequence[float]] | None = None,
    *,
    ylabel: str = "validation accuracy",
    logx: bool = True,
) -> Figure:
    """Accuracy against training-set size: mean line, min-max band and one dot per run.

    Pass either ``sizes`` with ``accuracies`` aligned to it (a number or one per seed for
    each size), or a tidy frame with columns ``size`` and ``value`` as ``sizes``.
    """
    table = _learning_table(sizes, accuracies)
    summary = table.groupby("size")["value"].agg(["mean", "min", "max"])
    fig, (ax,) = _new_figure(1, 1, (5, 3.4))
    ax.plot(summary.index, summary["mean"], marker="o", label="mean")
    ax.fill_between(summary.index, summary["min"], summary["max"], alpha=0.2, linewidth=0, label="min to max")
    ax.scatter(table["size"], table["value"], s=12, color="black", alpha=0.6, label="runs", zorder=3)
    ax.set(xlabel="training images", ylabel=ylabel, xscale="log" if logx else "linear")
    ax.set_xticks(summary.index, labels=[f"{size:,.0f}" for size in summary.index])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(loc="lower right", fontsize="small")
    return fig


def learning_curves(frame: pd.DataFrame, *, value: str = "accuracy", logx: bool = True) -> Figure:
    """Several learning curves on one axis, from a tidy frame with columns ``size``, ``part`` (one
    curve each, e.g. validation and test) and ``value``: the mean over runs with ± sd error bars
    (with more than one run per size) and one dot per run."""
    missing = {"size", "part", value} - set(frame.columns)
    if missing:
        raise ValueError(f"learning_curves: frame lacks columns {sorted(missing)}")
    parts = list(pd.unique(frame["part"]))
    colours = variant_colours(parts)
    fig, (ax,) = _new_figure(1, 1, (5.5, 3.6))
    for part in parts:
        rows = frame[frame["part"] == part]
        summary = rows.groupby("size")[value].agg(["mean", "std", "count"])
        errors = summary["std"].where(summary["count"] > 1)
        ax.errorbar(
            summary.index,
            summary["mean"],
            yerr=errors.fillna(0).to_numpy(),
            marker="o",
            capsize=3,
            color=colours[part],
            label=f"{part} (mean ± sd)" if summary["count"].max() > 1 else part,
        )
        learned = rows["learned"] if "learned" in rows else pd.Series(True, index=rows.index)
        ax.scatter(rows["size"][learned], rows[value][learned], s=12, color=colours[part], alpha=0.5, zorder=3)
        if (~learned).any():  # a run that did not learn is no point of the curve's trend: a cross marks it
            ax.scatter(
                rows["size"][~learned],
                rows[value][~learned],
                s=40,
                marker="x",
                color=colours[part],
                zorder=3,
                label=f"{part}: run that did not learn",
            )
    sizes = sorted(pd.unique(frame["size"]))
    ax.set(xlabel="training images", ylabel=value.replace("_", " "), xscale="log" if logx else "linear")
    ax.set_xticks(sizes, labels=[f"{size:,.0f}" for size in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # beside the axes: covers no point
    return fig


def _learning_table(sizes, accuracies) -> pd.DataFrame:
    if isinstance(sizes, pd.DataFrame):
        missing = {"size", "value"} - set(sizes.columns)
        if missing:
            raise ValueError(f"learning_curve frame lacks columns {sorted(missing)}")
        return sizes[["size", "value"]].astype(float)
    if accuracies is None or len(sizes) != len(accuracies):
        raise ValueError("learning_curve: give one accuracy (or list over seeds) per size")
    return pd.DataFrame(
        [(size, float(v)) for size, values in zip(sizes, accuracies, strict=True) for v in np.atleast_1d(values)],
        columns=["size", "value"],
    )


# --- confusion matrices --------------------------------------------------------------------


def confusion_heatmap(
    cm: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str | None = None,
    ax: Axes | None = None,
    normalize: bool = False,
) -> Figure:
    """Heatmap of a confusion matrix (rows true, columns predicted), annotated with counts,
    or with row shares when ``normalize`` is set."""
    counts = np.asarray(cm)
    if counts.shape != (len(class_names), len(class_names)):
        raise ValueError(f"confusion matrix shape {counts.shape} does not fit {len(class_names)} class names")
    if ax is None:
        _, (ax,) = _new_figure(1, 1, (6, 5.2))
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    sns.heatmap(
        shown,
        ax=ax,
        annot=True,
        fmt=".2f" if normalize else "d",
        cmap="Blues",
        cbar=False,
        square=True,
        xticklabels=list(class_names),
        yticklabels=list(class_names),
        annot_kws={"fontsize": "x-small"},
    )
    ax.set(xlabel="predicted", ylabel="true", title=title or "")
    ax.tick_params(axis="y", labelrotation=0)
    for label in ax.get_xticklabels():
        label.set(rotation=45, ha="right", rotation_mode="anchor")
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("confusion_heatmap: the axes belong to no figure")
    return figure


def confusion_grid(
    named_cms: Mapping[str, np.ndarray], class_names: Sequence[str], ncols: int = 2, *, normalize: bool = False
) -> Figure:
    """Confusion heatmaps side by side, titled by their keys (e.g. train/validation x two models)."""
    if not named_cms:
        raise ValueError("confusion_grid needs at least one confusion matrix")
    ncols = min(ncols, len(named_cms))
    fig, axes = _new_figure(math.ceil(len(named_cms) / ncols), ncols, (5.5, 5))
    for ax, (name, cm) in zip(axes, named_cms.items(), strict=False):  # the last row may have spare panels
        confusion_heatmap(cm, class_names, title=name, ax=ax, normalize=normalize)
    for ax in axes[len(named_cms) :]:
        fig.delaxes(ax)
    return fig


# --- images --------------------------------------------------------------------------------


def displayable(image: np.ndarray) -> np.ndarray:
    """An image ready for imshow: uint8 scaled by 1/255, floats in [0, 1] kept, anything else
    (standardized, 0-255 floats) rescaled per image to [0, 1]; one channel squeezed."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype == np.uint8:
        return image / 255.0
    image = image.astype(float)
    low, high = float(image.min()), float(image.max())
    if low >= 0.0 and high <= 1.0:
        return image
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def _images(x: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape((len(x), *image_shape)) if image_shape is not None else x


def _show(ax: Axes, image: np.ndarray) -> None:
    shown = displayable(image)
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    _blank(ax)


def _blank(ax: Axes) -> None:
    """No ticks, grid or frame, but axis labels stay visible (unlike ``set_axis_off``)."""
    ax.set(xticks=[], yticks=[])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


GRID_GAP = 2  # white pixels between the tiles of an image grid


def sample_grid(
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    per_class: int = 5,
    *,
    image_shape: Sequence[int] | None = None,
) -> Figure:
    """The first ``per_class`` images of every class: one row per class, labelled with its name.
    ``image_shape`` unflattens vectors (e.g. (32, 32, 3)). Drawn as one image (:func:`image_montage`):
    one axis with one picture renders, as PNG and PDF, in a fraction of the time of an axis per image."""
    images, labels = _images(x, image_shape), to_labels(y)
    rows = [
        [images[index] for index in np.flatnonzero(labels == label)[:per_class]] for label in range(len(class_names))
    ]
    canvas, centres = image_montage(rows, per_class)
    fig = Figure(figsize=(1.1 * per_class, 1.1 * len(class_names)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(canvas, interpolation="nearest")
    _blank(ax)
    ax.set_yticks(centres, list(class_names))
    ax.tick_params(length=0)
    return fig


def image_montage(rows: Sequence[Sequence[np.ndarray]], columns: int) -> tuple[np.ndarray, list[float]]:
    """One RGB array of tiles, a row of images per entry of ``rows`` (white where a row is short),
    and the vertical centre of every row."""
    shape = next((np.shape(image) for row in rows for image in row), (1, 1))
    height, width = shape[0], shape[1]
    step_y, step_x = height + GRID_GAP, width + GRID_GAP
    canvas = np.ones((len(rows) * step_y - GRID_GAP, columns * step_x - GRID_GAP, 3))
    for r, row in enumerate(rows):
        for c, image in enumerate(row[:columns]):
            tile = displayable(image)
            canvas[r * step_y : r * step_y + height, c * step_x : c * step_x + width] = (
                tile[..., None] if tile.ndim == 2 else tile
            )
    return canvas, [r * step_y + (height - 1) / 2 for r in range(len(rows))]


def prediction_grid(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    ncols: int = 5,
    *,
    image_shape: Sequence[int] | None = None,
) -> Figure:
    """Images titled "true / predicted"; wrong predictions get a red title.
    Labels may be integers ((n,) or (n, 1)), one-hot rows or predicted probabilities."""
    images, true, pred = _images(x, image_shape), to_labels(y_true), to_labels(y_pred)
    if not len(images) == len(true) == len(pred):
        raise ValueError(f"prediction_grid: {len(images)} images, {len(true)} true and {len(pred)} predicted labels")
    fig, axes = _new_figure(math.ceil(len(images) / ncols), ncols, (1.9, 1.9))
    for ax, image, t, p in zip(axes, images, true, pred, strict=False):  # the last row may have spare panels
        _show(ax, image)
        ax.set_title(
            f"{class_names[t]} / {class_names[p]}", fontsize="x-small", color=WRONG_COLOUR if t != p else "black"
        )
    for ax in axes[len(images) :]:
        ax.set_axis_off()
    fig.suptitle(f"true / predicted ({int((true != pred).sum())} of {len(true)} wrong, in red)")
    return fig


# --- runs of unequal length ----------------------------------------------------------------


def run_curves(
    frame: pd.DataFrame,
    evaluated: Mapping[tuple[str, int], int],
    metrics: Sequence[str] = ("loss", "accuracy"),
    arms: Sequence[str] | None = None,
) -> Figure:
    """One line per run, no averaging (runs stopped early end where they stopped): training
    dashed, validation solid, one colour per arm; a dot marks the validation value at the
    epoch each run was evaluated at (``evaluated[(arm, seed)]``, 1-based)."""
    rows = history.check(frame, finite=False)
    arms = _variants(rows, arms)
    colours = variant_colours(arms)
    fig, axes = _new_figure(1, len(metrics), (4.5, 3.4))
    for ax, metric in zip(axes, metrics, strict=True):
        for arm in arms:
            mine = rows[rows["arm"] == arm]
            for seed, run in mine.groupby("seed", sort=True):
                for name in _series_of(rows, metric):
                    curve = run[run["metric"] == name].sort_values("epoch")
                    style = _style(name)
                    ax.plot(curve["epoch"], curve["value"], linestyle=style, color=colours[arm], linewidth=1.2)
                    epoch = evaluated.get((arm, seed))
                    if name.startswith("val_") and epoch is not None:
                        point = curve[curve["epoch"] == epoch]
                        ax.plot(point["epoch"], point["value"], marker="o", color=colours[arm], linestyle="")
        _label_panel(ax, rows, metric)
    handles = [Line2D([], [], color=colour, label=arm) for arm, colour in colours.items()] + [
        *_style_handles(rows),
        Line2D([], [], color="black", marker="o", linestyle="", label="evaluated epoch"),
    ]
    _outside_legend(fig, handles)
    return fig
