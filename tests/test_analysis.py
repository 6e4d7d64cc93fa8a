"""Tests of the prose (coursebook.course.prose): the sentences agree with the numbers, always."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from coursebook.course.prose import confusion, dataset, numbers

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# --- confusion matrices --------------------------------------------------------------------


def test_dog_and_cat_are_named_by_their_true_indices():
    cm = np.diag(np.full(10, 800))
    cm[5, 3], cm[3, 5], cm[4, 6] = 199, 120, 60  # dog->cat, cat->dog, deer->frog
    result = confusion.most_confused_pairs(cm, CIFAR10, k=2)
    assert list(result.table["true"]) == ["dog", "cat"]
    assert list(result.table["predicted"]) == ["cat", "dog"]
    assert list(result.table["true_label"]) == [5, 3]
    assert result.table["share"][0] == pytest.approx(199 / (800 + 199))
    assert result.sentence.startswith("The most frequent confusions are dog predicted as cat (199 images, 19.9%")
    assert "deer" not in result.sentence and "class 4" not in result.sentence


def test_no_confusion_and_bad_matrices():
    assert "no confusions" in confusion.most_confused_pairs(np.eye(3, dtype=int), ["a", "b", "c"]).sentence
    with pytest.raises(ValueError, match="3 class names"):
        confusion.most_confused_pairs(np.eye(2, dtype=int), ["a", "b", "c"])
    with pytest.raises(ValueError, match="square"):
        confusion.most_confused_pairs(np.ones((2, 3), dtype=int), ["a", "b"])


# --- data sets -----------------------------------------------------------------------------


def test_describe_dataset_says_colour_and_counts():
    text = dataset.describe_dataset("CIFAR-10", 40_000, 10_000, 10_000, (32, 32, 3))
    assert "40,000 training, 10,000 validation and 10,000 test" in text
    assert "colour" in text and "gray" not in text.lower() and "grey" not in text.lower()
    assert "validation" not in dataset.describe_dataset("CIFAR-10", 50_000, 0, 10_000, (3072,))


@given(height=st.integers(1, 64), width=st.integers(1, 64), channels=st.integers(0, 5))
def test_describe_dataset_follows_the_channel_count(height, width, channels):
    shape = (height, width) if channels == 0 else (height, width, channels)  # 0: no channel axis
    text = dataset.describe_dataset("data", 10, 2, 3, shape).lower()
    n_channels = channels or 1
    assert f"{height}x{width} pixels" in text
    assert ("grayscale" in text) == (n_channels == 1) and "grey" not in text
    assert ("colour" in text) == (n_channels == 3)
    assert f"{n_channels} channel{'s' if n_channels != 1 else ''}" in text


def test_epoch_counts_are_singular_for_one():
    assert numbers.epochs(1) == "1 epoch" and numbers.epochs(2) == "2 epochs"


# --- Markdown ------------------------------------------------------------------------------


def rendered_text(markdown: str) -> str:
    """The text a reader sees: Markdown rendered (with tables) and the tags stripped."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert not re.search(r"<(em|strong|table|code|a)\b", html), html
    return re.sub(r"<[^>]+>", "", html).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


name_chars = st.text(alphabet="ab_*|`[]<>#~\\ -", min_size=1, max_size=8).filter(lambda t: t.strip() == t)


@settings(max_examples=100, deadline=None)
@given(a=name_chars, b=name_chars)
def test_class_names_are_escaped_where_they_enter_markdown(a, b):
    cm = np.array([[3, 1], [0, 4]])
    assert f"{a} predicted as {b}" in rendered_text(confusion.most_confused_pairs(cm, [a, b]).sentence)


# --- data sets: the test set as validation --------------------------------------------------


def test_test_images_serving_as_validation_are_counted_once():
    text = dataset.describe_dataset("CIFAR-10", 50_000, 10_000, 10_000, (32, 32, 3), validation_is_test=True)
    assert "50,000 training and 10,000 test images (the test images also serve as validation data)" in text
    assert text.count("10,000") == 1
    with pytest.raises(ValueError, match="n_val == n_test"):
        dataset.describe_dataset("CIFAR-10", 50_000, 5_000, 10_000, (32, 32, 3), validation_is_test=True)
