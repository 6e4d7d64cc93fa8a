"""The data layer: real CIFAR-10 or a synthetic stand-in, splits and preprocessing.

    ds = load_dataset("auto")            # CIFAR-10 when it can be had, else synthetic
    splits = preprocess(make_splits(ds, validation="holdout"), scaling="unit")

Modules: `core` (DataError, Dataset, the array cache), `cifar10` (the official archive),
`synthetic` (the learnable stand-in), `sources` (choosing between them) and `splits`
(splits, preprocessing, samples). Every public name is re-exported here.

Importing this package is cheap (numpy only): it imports no Keras, and scikit-learn only when
splits are made. `dataset_fingerprint` never decodes images,
so the book runner can use it as a cache key before any kernel starts.
"""

from coursebook.course.data.cifar10 import (
    ARCHIVE_NAMES,
    BATCH_DIR_NAMES,
    CIFAR10_CLASS_NAMES,
    CIFAR10_NAME,
    DATA_ENV,
    META_FILE,
    OFFICIAL_FILE_MD5,
    OFFICIAL_MD5,
    ORIGIN,
    REQUIRED_FILES,
    TEST_BATCH,
    TRAIN_BATCHES,
    cifar10_fingerprint,
    content_md5,
    decode_archive,
    decode_batch,
    decode_batch_dir,
    decode_class_names,
    download_cifar10,
    find_cifar10,
    load_cifar10,
    locate_cifar10,
    network_reachable,
    placement_hint,
    search_dirs,
)
from coursebook.course.data.core import (
    ARRAY_NAMES,
    CACHE_ENV,
    DataError,
    Dataset,
    atomic_write_bytes,
    default_cache_dir,
    load_arrays,
    report_damage,
    save_arrays,
    unwritable,
)
from coursebook.course.data.sources import (
    FULL_SIZES,
    SOURCES,
    SourceChoice,
    choose_source,
    dataset_fingerprint,
    load_dataset,
    resolve_source,
)
from coursebook.course.data.splits import (
    RAW,
    SCALINGS,
    VALIDATION_PROTOCOLS,
    Splits,
    channel_statistics,
    make_splits,
    preprocess,
    sample_per_class,
    to_labels,
    to_one_hot,
)
from coursebook.course.data.synthetic import (
    GENERATOR_VERSION,
    SYNTHETIC_CLASS_NAMES,
    SYNTHETIC_CLASSES,
    SYNTHETIC_NAME,
    balanced_labels,
    load_synthetic,
    synthetic_fingerprint,
    synthetic_images,
)

__all__ = [  # noqa: RUF022 - grouped by submodule, sorted within each group
    # core
    "ARRAY_NAMES", "CACHE_ENV", "DataError", "Dataset",
    "atomic_write_bytes", "default_cache_dir", "load_arrays", "report_damage", "save_arrays", "unwritable",
    # cifar10
    "ARCHIVE_NAMES", "BATCH_DIR_NAMES", "CIFAR10_CLASS_NAMES", "CIFAR10_NAME", "DATA_ENV",
    "META_FILE", "OFFICIAL_FILE_MD5", "OFFICIAL_MD5", "ORIGIN", "REQUIRED_FILES", "TEST_BATCH", "TRAIN_BATCHES",
    "cifar10_fingerprint", "content_md5", "decode_archive", "decode_batch", "decode_batch_dir",
    "decode_class_names", "download_cifar10", "find_cifar10", "load_cifar10", "locate_cifar10",
    "network_reachable", "placement_hint", "search_dirs",
    # synthetic
    "GENERATOR_VERSION", "SYNTHETIC_CLASSES", "SYNTHETIC_CLASS_NAMES", "SYNTHETIC_NAME",
    "balanced_labels", "load_synthetic", "synthetic_fingerprint", "synthetic_images",
    # sources
    "FULL_SIZES", "SOURCES", "SourceChoice", "choose_source", "dataset_fingerprint", "load_dataset",
    "resolve_source",
    # splits
    "RAW", "SCALINGS", "VALIDATION_PROTOCOLS", "Splits", "channel_statistics", "make_splits",
    "preprocess", "sample_per_class", "to_labels", "to_one_hot",
]  # fmt: skip
