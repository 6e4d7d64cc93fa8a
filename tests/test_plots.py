"""Tests of coursebook.course.plots: inspect the Figure objects, and save some to PNG."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from coursebook.course import plots

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(arms=("original", "extra"), seeds=(0, 1, 2), epochs=4) -> pd.DataFrame:
    """value = 10*arm index + seed + epoch/10 (+1 for validation), so means are known;
    accuracies are that value / 100, so they stay in [0, 1]."""
    rows = [
        (
            arm,
            seed,
            epoch,
            metric,
            (10 * v + seed + epoch / 10 + metric.startswith("val_")) / (100 if "accuracy" in metric else 1),
        )
        for v, arm in enumerate(arms)
        for seed in seeds
        for epoch in range(1, epochs + 1)
        for metric in ("loss", "val_loss", "accuracy", "val_accuracy")
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "epoch", "metric", "value"])


def saves_png(fig: Figure, tmp_path) -> bool:
    path = tmp_path / "figure.png"
    fig.savefig(path)
    return path.read_bytes().startswith(PNG_MAGIC)


# --- training curves -----------------------------------------------------------------------


def test_training_curves_panels_lines_and_legend(tmp_path):
    fig = plots.training_curves(history())
    assert len(fig.axes) == 2
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    for ax in fig.axes:
        styles = sorted(line.get_linestyle() for line in ax.lines)
        assert styles == ["-", "-", "--", "--"]  # train dashed, validation solid, two arms
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 4  # one band per line
    assert all(ax.get_legend() is None for ax in fig.axes)  # below the panels, over no curve
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels == ["original", "extra", "training, running (training mode)", "validation", "spread over 3 seeds"]
    assert saves_png(fig, tmp_path)


def test_a_loss_that_dwarfs_the_others_goes_on_a_log_scale_and_inference_mode_is_dotted():
    frame = history(arms=("plain",), seeds=(0,))  # losses 0.1 to 1.4, median 0.75: a linear scale
    assert plots.training_curves(frame, metrics=("loss",)).axes[0].get_yscale() == "linear"
    diverged = frame.copy()
    diverged.loc[(diverged.metric == "val_loss") & (diverged.epoch == 1), "value"] = 109.0  # a12-h's epoch 1
    eval_rows = frame[frame.metric == "accuracy"].assign(metric="eval_accuracy")
    fig = plots.training_curves(pd.concat([diverged, eval_rows]), metrics=("loss", "accuracy"))
    loss, accuracy = fig.axes
    assert loss.get_yscale() == "log" and loss.get_title() == "loss (log scale)"
    assert accuracy.get_yscale() == "linear"  # accuracies stay in [0, 1], linear
    assert sorted(line.get_linestyle() for line in accuracy.lines) == ["-", "--", ":"]
    assert "training, inference mode" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_training_curves_plot_the_seed_mean_in_variant_colours():
    fig = plots.training_curves(history(), metrics=("loss",))
    ax = fig.axes[0]
    colours = plots.variant_colours(["original", "extra"])
    # mean over seeds 0, 1, 2 is 1 + 10*v + epoch/10, validation +1
    expected = {("original", "--"): 1.0, ("original", "-"): 2.0, ("extra", "--"): 11.0, ("extra", "-"): 12.0}
    for line in ax.lines:
        arm = next(v for v, c in colours.items() if mcolors.same_color(c, line.get_color()))
        offset = expected[(arm, line.get_linestyle())]
        np.testing.assert_allclose(line.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(line.get_ydata(), offset + np.arange(1, 5) / 10)


def test_training_curves_band_is_mean_plus_minus_sd():
    fig = plots.training_curves(history(arms=("only",)), metrics=("loss",))
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    # seeds 0, 1, 2 around mean 1 + epoch/10: sample sd is 1
    at_first_epoch = band[np.isclose(band[:, 0], 1.0), 1]
    np.testing.assert_allclose(sorted(set(np.round(at_first_epoch, 9))), [0.1, 2.1])


def test_runs_of_different_lengths_end_the_mean_and_show_every_run():
    frame = history(arms=("es",), seeds=(0, 1), epochs=4)
    frame = frame[~((frame.seed == 1) & (frame.epoch > 2))]  # early stopping ended seed 1 after epoch 2
    ax = plots.training_curves(frame, metrics=("loss",)).axes[0]
    by_width = sorted(ax.lines, key=lambda line: line.get_linewidth())
    runs, means = by_width[:4], by_width[4:]  # two thin lines per series (one per run), then the means
    assert sorted(len(line.get_xdata()) for line in runs) == [2, 2, 4, 4]
    for line in means:  # the mean stops where a run ended: never a mean of fewer runs
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        offset = 1.0 if line.get_linestyle() == "-" else 0.0
        np.testing.assert_allclose(line.get_ydata(), [0.5 + 0.1 + offset, 0.5 + 0.2 + offset])


def test_single_seed_has_no_band_and_variants_can_be_chosen():
    fig = plots.training_curves(history(seeds=(0,)), metrics=("val_accuracy",), arms=["extra"])
    ax = fig.axes[0]
    assert [line.get_linestyle() for line in ax.lines] == ["-"]
    assert not ax.collections
    assert "spread" not in " ".join(t.get_text() for t in ax.figure.legends[0].get_texts())


def test_training_curves_reject_unknown_names():
    with pytest.raises(ValueError, match="'f1'"):
        plots.training_curves(history(), metrics=("f1",))
    with pytest.raises(ValueError, match="missing"):
        plots.training_curves(history(), arms=["missing"])
    with pytest.raises(ValueError, match="band"):
        plots.training_curves(history(), band="iqr")


# --- confusion matrices --------------------------------------------------------------------


def confusion() -> np.ndarray:
    cm = np.diag(np.arange(10, 20))
    cm[5, 3] = 7  # dog predicted as cat
    return cm


def test_confusion_heatmap_labels_and_counts():
    cm = confusion()
    fig = plots.confusion_heatmap(cm, NAMES, title="validation")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "true", "validation")
    annotations = [int(t.get_text()) for t in ax.texts]
    assert annotations == cm.ravel().tolist()  # row-major: row 5 (dog), column 3 (cat) holds 7


def test_confusion_heatmap_normalized_rows_and_given_axes():
    fig = Figure()
    ax = fig.subplots()
    cm = np.array([[3, 1], [0, 4]])
    assert plots.confusion_heatmap(cm, ["cat", "dog"], ax=ax, normalize=True) is fig
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "1.00"]
    with pytest.raises(ValueError, match="3 class names"):
        plots.confusion_heatmap(cm, ["a", "b", "c"])


def test_confusion_grid_titles_and_layout(tmp_path):
    names = ["original / train", "original / validation", "extra / train", "extra / validation"]
    fig = plots.confusion_grid(dict.fromkeys(names, np.eye(3, dtype=int)), ["cat", "dog", "frog"])
    assert [ax.get_title() for ax in fig.axes] == names
    cells = [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in fig.axes]
    assert cells == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert saves_png(fig, tmp_path)
    assert len(plots.confusion_grid(dict.fromkeys("abc", confusion()), NAMES).axes) == 3


# --- images --------------------------------------------------------------------------------


def test_displayable_handles_uint8_unit_floats_and_standardized():
    np.testing.assert_allclose(plots.displayable(np.array([[0, 51, 255]], dtype=np.uint8)), [[0, 0.2, 1]])
    unit = np.array([[0.1, 0.5]])
    np.testing.assert_allclose(plots.displayable(unit), unit)
    np.testing.assert_allclose(plots.displayable(np.array([[-2.0, 0.0, 2.0]])), [[0, 0.5, 1]])
    np.testing.assert_allclose(plots.displayable(np.full((2, 2), 7.0)), np.zeros((2, 2)))
    assert plots.displayable(np.zeros((4, 4, 1))).shape == (4, 4)


def tile(fig, row: int, column: int, size: int) -> np.ndarray:
    """The image at (row, column) of a sample grid's montage (tiles of size x size, 2 pixels apart)."""
    canvas = fig.axes[0].images[0].get_array()
    step = size + 2
    return np.asarray(canvas[row * step : row * step + size, column * step : column * step + size])


def test_sample_grid_rows_are_classes_with_their_first_images(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 6)
    rng.shuffle(labels)
    x = rng.integers(0, 256, (60, 8, 8, 3), dtype=np.uint8)
    fig = plots.sample_grid(x, labels, NAMES, per_class=5)
    assert len(fig.axes) == 1 and fig.axes[0].images[0].get_array().shape == (10 * 10 - 2, 5 * 10 - 2, 3)
    assert [label.get_text() for label in fig.axes[0].get_yticklabels()] == NAMES
    for row, _name in enumerate(NAMES):
        for column, index in enumerate(np.flatnonzero(labels == row)[:5]):
            np.testing.assert_allclose(tile(fig, row, column, 8), x[index] / 255)
    assert saves_png(fig, tmp_path)


def test_sample_grid_accepts_one_hot_flat_images_and_missing_classes(tmp_path):
    x = np.linspace(0, 1, 3 * 12).reshape(3, 12)  # three flattened 2x2x3 images
    one_hot = np.eye(3)[[0, 0, 1]]
    fig = plots.sample_grid(x, one_hot, ["a", "b", "c"], per_class=2, image_shape=(2, 2, 3))
    np.testing.assert_allclose(tile(fig, 0, 1, 2), x[1].reshape(2, 2, 3))
    np.testing.assert_allclose(tile(fig, 1, 0, 2), x[2].reshape(2, 2, 3))
    assert (tile(fig, 1, 1, 2) == 1).all() and (tile(fig, 2, 0, 2) == 1).all()  # class b has one image, c none: white
    assert [label.get_text() for label in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    assert saves_png(fig, tmp_path)


def test_prediction_grid_titles_and_red_mistakes(tmp_path):
    true = np.array([3, 5, 5, 1, 0, 9, 8])
    pred = np.array([3, 3, 5, 9, 0, 9, 8])  # two mistakes: dog as cat, automobile as truck
    probabilities = np.eye(10)[pred]
    fig = plots.prediction_grid(np.zeros((7, 4, 4, 3)), true, probabilities, NAMES, ncols=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 10 and len(shown) == 7
    titles = [ax.title for ax in shown]
    assert titles[1].get_text() == "dog / cat"
    red = [t.get_text() for t in titles if mcolors.same_color(t.get_color(), plots.WRONG_COLOUR)]
    assert red == ["dog / cat", "automobile / truck"]
    assert fig.get_suptitle().startswith("true / predicted")
    assert saves_png(fig, tmp_path)
    with pytest.raises(ValueError, match="7 images"):
        plots.prediction_grid(np.zeros((7, 4, 4, 3)), true[:6], pred, NAMES)


def test_integer_labels_shaped_n_by_1_are_labels_not_one_hot():
    # Dataset.y_* and un-one-hot splits are (N, 1): one column of class indices.
    column = np.array([[3], [5], [1]])
    fig = plots.prediction_grid(np.zeros((3, 4, 4, 3)), column, np.array([3, 5, 1]), NAMES, ncols=3)
    assert [ax.get_title() for ax in fig.axes] == ["cat / cat", "dog / dog", "automobile / automobile"]
    assert fig.get_suptitle().startswith("true / predicted (0 of 3 wrong")
    labels = np.repeat(np.arange(3), 2)[:, None]  # shape (6, 1): two images per class
    x = np.arange(6, dtype=np.uint8)[:, None, None, None] * np.ones((6, 2, 2, 3), dtype=np.uint8)
    grid = plots.sample_grid(x, labels, ["a", "b", "c"], per_class=2)
    np.testing.assert_allclose(tile(grid, 2, 1, 2), x[5] / 255)


# --- learning and loss curves --------------------------------------------------------------


def test_learning_curve_means_and_runs(tmp_path):
    fig = plots.learning_curve([1000, 5000, 10000], [[0.40, 0.44], 0.55, [0.60, 0.62, 0.64]])
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1000, 5000, 10000])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.42, 0.55, 0.62])
    runs = next(c for c in ax.collections if not isinstance(c, PolyCollection))
    assert len(runs.get_offsets()) == 6
    assert ax.get_xlabel() == "training images"
    assert saves_png(fig, tmp_path)


def test_learning_curve_from_frame_and_bad_input():
    frame = pd.DataFrame({"size": [100, 100, 200], "seed": [0, 1, 0], "value": [0.2, 0.4, 0.5]})
    ax = plots.learning_curve(frame, logx=False).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.3, 0.5])
    with pytest.raises(ValueError, match="one accuracy"):
        plots.learning_curve([100, 200], [0.5])


def test_loss_curve_plots_values_against_iterations():
    ax = plots.loss_curve([0.5, 0.25, 0.125]).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.5, 0.25, 0.125])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("iteration", "loss")


def test_loss_curve_from_step_zero_with_the_constant_prediction_baseline():
    figure = plots.loss_curve(np.array([0.3, 0.2, 0.15]), start=0, xlabel="step", baseline=0.125)
    curve, baseline = figure.axes[0].get_lines()
    np.testing.assert_array_equal(curve.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(curve.get_ydata(), [0.3, 0.2, 0.15])
    assert list(baseline.get_ydata()) == [0.125, 0.125] and figure.axes[0].get_legend() is not None


def test_set_style_sets_rcparams():
    with matplotlib.rc_context():  # restores the global settings for other tests
        plots.set_style()
        assert matplotlib.rcParams["savefig.bbox"] is None  # 'standard': saved as laid out, not cropped
        assert matplotlib.rcParams["axes.grid"]
