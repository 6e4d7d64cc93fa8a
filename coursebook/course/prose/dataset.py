"""What a chapter trains on: split sizes and the image shape in one sentence."""

from __future__ import annotations

from collections.abc import Sequence

from coursebook.course.prose.numbers import capitalized, join


def describe_dataset(
    name: str, n_train: int, n_val: int, n_test: int, shape: Sequence[int], *, validation_is_test: bool = False
) -> str:
    """One sentence on split sizes and image shape (channels last; no channel axis or 1 channel
    is grayscale, 3 channels are colour). With ``validation_is_test`` (the reference protocol)
    the test images are counted once and said to serve as validation data too.

    >>> print(describe_dataset("CIFAR-10", 50_000, 10_000, 10_000, (32, 32, 3), validation_is_test=True))
    ... # doctest: +NORMALIZE_WHITESPACE
    CIFAR-10 has 50,000 training and 10,000 test images (the test images also serve as validation data);
    each is 32x32 pixels in colour (3 channels, RGB).
    """
    if validation_is_test:
        if n_val != n_test:
            raise ValueError(
                f"describe_dataset: validation on the test set needs n_val == n_test, got {n_val:,} and {n_test:,}"
            )
        counts = f"{n_train:,} training and {n_test:,} test images (the test images also serve as validation data)"
    else:
        splits = [f"{n_train:,} training"] + ([f"{n_val:,} validation"] if n_val else []) + [f"{n_test:,} test"]
        counts = f"{join(splits)} images"
    return capitalized(f"{name} has {counts}; {_describe_shape(tuple(shape))}.")


def _describe_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"each is a flat vector of {shape[0]:,} values"
    if len(shape) not in (2, 3):
        raise ValueError(f"describe_dataset: cannot describe image shape {shape}")
    pixels = f"each is {shape[0]}x{shape[1]} pixels"
    channels = shape[2] if len(shape) == 3 else 1
    if channels == 1:
        return f"{pixels} in grayscale (1 channel)"
    if channels == 3:
        return f"{pixels} in colour (3 channels, RGB)"
    return f"{pixels} with {channels} channels"
