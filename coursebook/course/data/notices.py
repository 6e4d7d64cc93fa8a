"""What a page says above its results about the data it was computed on (the book shows it:
``hooks.Pages.data_notice``): a loud warning for the synthetic stand-in, a note for the sample."""

from __future__ import annotations

from typing import Any

SYNTHETIC_WARNING = """\
```{{admonition}} Synthetic data: these are NOT CIFAR-10 results
:class: warning

This page was computed on **{name}**, a learnable stand-in with CIFAR-10's shape (32×32 colour
images, 10 classes) that coursebook generates when the real CIFAR-10 archive is not available.
Every number, figure and sentence below describes that stand-in, not CIFAR-10. To compute this
page on CIFAR-10, put `cifar-10-python.tar.gz` in `data/` and run `make run CHAPTER={chapter} PARAMS="data=cifar10"`.
```
"""

SAMPLE_NOTE = """\
```{{admonition}} Computed on a {name}
:class: note

This page was computed on real CIFAR-10 images, but only on **a {name}** ({train:,} training and
{test:,} test images, about a tenth of the official archive): accuracies are lower than with all
50,000 training images, and the test accuracies rest on fewer images.
```
"""


def data_notice(dataset: Any, chapter: str) -> str:
    """The notice for ``dataset`` (a ``coursebook.course.data.Dataset``) on ``chapter``'s page ('' for
    the whole of CIFAR-10)."""
    if dataset.is_synthetic:
        return SYNTHETIC_WARNING.format(name=dataset.name, chapter=chapter)
    if "sample" in dataset.name:
        return SAMPLE_NOTE.format(name=dataset.name, train=len(dataset.x_train), test=len(dataset.x_test))
    return ""
