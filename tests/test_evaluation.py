"""Tests of coursebook.course.evaluation against counts and formulas worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from coursebook.course import evaluation

# six hand-made predictions for three classes
Y_TRUE = [0, 0, 1, 1, 1, 2]
Y_PRED = [0, 1, 1, 1, 0, 2]


def one_hot(labels, n_classes):
    return np.eye(n_classes, dtype=np.float32)[labels]


def test_to_labels_accepts_one_hot_and_integer_labels():
    expected = np.array([2, 0, 1])
    np.testing.assert_array_equal(evaluation.to_labels(one_hot([2, 0, 1], 3)), expected)
    np.testing.assert_array_equal(evaluation.to_labels([2, 0, 1]), expected)
    np.testing.assert_array_equal(evaluation.to_labels(np.array([[2.0], [0.0], [1.0]])), expected)
    with pytest.raises(ValueError, match="integer labels expected"):
        evaluation.to_labels([0.5, 1.0])
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        evaluation.to_labels(np.zeros((2, 2, 2)))


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    expected = np.array(
        [
            [1, 1, 0, 0],  # true 0: once right, once predicted 1
            [1, 2, 0, 0],  # true 1: twice right, once predicted 0
            [0, 0, 1, 0],  # true 2: right
            [0, 0, 0, 0],  # class 3 never occurs but keeps its row and column
        ]
    )
    np.testing.assert_array_equal(evaluation.confusion(Y_TRUE, Y_PRED, 4), expected)
    np.testing.assert_array_equal(evaluation.confusion(one_hot(Y_TRUE, 4), Y_PRED, 4), expected)


def test_classification_report_frame_matches_hand_computed_scores():
    report = evaluation.classification_report_frame(one_hot(Y_TRUE, 3), Y_PRED, ["a", "b", "c"])
    # class a: TP 1, FP 1, FN 1; class b: TP 2, FP 1, FN 1; class c: TP 1, no errors
    precision, recall, support = [1 / 2, 2 / 3, 1.0], [1 / 2, 2 / 3, 1.0], [2, 3, 1]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall, strict=True)]
    classes = report.loc[["a", "b", "c"]]
    np.testing.assert_allclose(classes["precision"], precision)
    np.testing.assert_allclose(classes["recall"], recall)
    np.testing.assert_allclose(classes["f1"], f1)
    assert classes["support"].tolist() == support
    assert report.loc["macro avg", "precision"] == pytest.approx(sum(precision) / 3)
    assert report.loc["weighted avg", "recall"] == pytest.approx(
        sum(r * s for r, s in zip(recall, support, strict=True)) / 6
    )
    assert list(report.columns) == ["precision", "recall", "f1", "support"]


def test_report_keeps_classes_that_are_never_predicted():
    report = evaluation.classification_report_frame([0, 1, 2], [0, 0, 0], ["a", "b", "c"])
    assert report.loc["b", "precision"] == 0 and report.loc["b", "recall"] == 0
    assert report.loc["a", "precision"] == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def softmax_of_inputs() -> keras.Model:
    """A model whose output is softmax(x): a Dense layer with identity weights and no bias."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax", use_bias=False)])
    model.layers[0].set_weights([np.eye(3, dtype=np.float32)])
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def test_predict_labels_returns_the_argmax_class(softmax_of_inputs):
    x = np.array([[3.0, 0.0, 1.0], [0.0, 0.0, 2.0], [0.0, 5.0, 1.0]], dtype=np.float32)
    predicted = evaluation.predict_labels(softmax_of_inputs, x)
    assert predicted.tolist() == [0, 2, 1]
    assert np.issubdtype(predicted.dtype, np.integer)


def test_predictions_in_steps_cover_every_image_once_in_order(softmax_of_inputs):
    """7 images in steps of 3 (the last step shorter): each row is softmax of its own image."""
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    expected = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    probabilities = evaluation.predict_probabilities(softmax_of_inputs, x, batch_size=3)
    assert probabilities.shape == (7, 3)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="no images"):
        evaluation.predict_probabilities(softmax_of_inputs, x[:0])


def test_evaluate_reports_cross_entropy_and_accuracy_per_split(softmax_of_inputs):
    x_train = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    x_val = np.array([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=np.float32)
    y_train, y_val = one_hot([0, 2], 3), one_hot([2, 1, 1], 3)
    splits = SimpleNamespace(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=None, y_test=None)

    def cross_entropy(x, labels):  # -log softmax(x)[label], averaged
        return np.mean([np.log(np.exp(row).sum()) - row[label] for row, label in zip(x, labels, strict=True)])

    scores = evaluation.evaluate(softmax_of_inputs, splits).set_index("split")
    assert list(scores.index) == ["train", "validation"]
    assert scores.loc["train", "accuracy"] == pytest.approx(1 / 2)
    assert scores.loc["validation", "accuracy"] == pytest.approx(2 / 3)
    assert scores.loc["train", "loss"] == pytest.approx(cross_entropy(x_train, [0, 2]), rel=1e-5)
    assert scores.loc["validation", "loss"] == pytest.approx(cross_entropy(x_val, [2, 1, 1]), rel=1e-5)
    from_mapping = evaluation.evaluate(softmax_of_inputs, {"test": (x_val, y_val)})
    assert from_mapping["split"].tolist() == ["test"]
    assert from_mapping["loss"].iloc[0] == pytest.approx(scores.loc["validation", "loss"])


def test_evaluate_without_any_split_says_what_it_needs(softmax_of_inputs):
    with pytest.raises(ValueError, match="no split found"):
        evaluation.evaluate(softmax_of_inputs, SimpleNamespace(images=None))


def test_scores_from_probabilities_equal_model_evaluate(softmax_of_inputs):
    # 200 images of random logits, plus two certain ones: a right one (p = 1 in float32) and a
    # wrong one whose true class has p = e^-30, far below Keras' epsilon: evaluate's loss (the
    # TensorFlow backend reads the softmax's logits) counts its full 30 nats
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0, 3, (200, 3)), [[40.0, 0.0, 0.0], [0.0, 30.0, 0.0]]]).astype(np.float32)
    labels = np.concatenate([rng.integers(0, 3, 200), [0, 2]])
    y = one_hot(labels, 3)
    expected = softmax_of_inputs.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)

    scores = evaluation.scores_from_probabilities(y, evaluation.predict_probabilities(softmax_of_inputs, x))

    assert keras.backend.backend() == "tensorflow"
    assert scores["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert scores["loss"] == pytest.approx(expected["loss"], rel=1e-5)


def test_scores_from_probabilities_by_hand():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.0, 1.0, 0.0], [1e-9, 0.5, 0.5]])
    eps, tiny = keras.config.epsilon(), float(np.finfo(np.float32).tiny)
    clipped = evaluation.scores_from_probabilities([0, 2, 0, 0], probabilities, clip=True)
    exact = evaluation.scores_from_probabilities([0, 2, 0, 0], probabilities, clip=False)
    assert clipped["accuracy"] == exact["accuracy"] == pytest.approx(1 / 4)
    assert clipped["loss"] == pytest.approx((-np.log(0.7) - np.log(0.3) - 2 * np.log(eps)) / 4)
    assert exact["loss"] == pytest.approx((-np.log(0.7) - np.log(0.3) - np.log(tiny) - np.log(1e-9)) / 4)
