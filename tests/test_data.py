"""Tests of coursebook.course.data: the CIFAR-10 loader on tiny archives in the official format,
the synthetic stand-in, splits and preprocessing."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from coursebook.book import paths
from coursebook.course import data
from coursebook.course.data import (
    DataError,
    Dataset,
    dataset_fingerprint,
    load_dataset,
    make_splits,
    preprocess,
    sample_per_class,
)

LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
               b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip
PER_BATCH = 20


# --- a tiny archive in the official format ----------------------------------------------


def official_batches(seed: int = 0) -> dict[str, dict]:
    """Five training batches and a test batch of 20 random images each, plus the meta file."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name in (*data.TRAIN_BATCHES, data.TEST_BATCH):
        batches[name] = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, PER_BATCH)],
            b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
        }
    batches[data.META_FILE] = {b"label_names": LABEL_NAMES, b"num_vis": 3072}
    return batches


def write_archive(path: Path, batches: dict[str, dict], skip: tuple[str, ...] = ()) -> Path:
    """A ``.tar.gz`` holding ``cifar-10-batches-py/<name>`` pickles, like the official one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            if name in skip:
                continue
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def expected_images(rows: np.ndarray) -> np.ndarray:
    """HWC images from rows of 1024 red, then 1024 green, then 1024 blue values, row-major."""
    row, col, channel = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    return rows[:, channel * 1024 + row * 32 + col]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def batches():
    return official_batches()


@pytest.fixture
def archive(tmp_path, batches):
    return write_archive(tmp_path / "data" / "cifar-10-python.tar.gz", batches)


@pytest.fixture
def no_local_cifar(tmp_path, monkeypatch):
    """No CIFAR-10 from the real machine, caches in tmp_path."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("COURSEBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path / "root" / "data")
    monkeypatch.setattr(paths, "DATASET_CACHE_DIR", tmp_path / "root" / ".cache" / "datasets")
    return tmp_path


@pytest.fixture
def isolated_env(no_local_cifar, monkeypatch):
    """No CIFAR-10 from the real machine, no network, caches in tmp_path."""
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *a, **k: False)
    return no_local_cifar


# --- CIFAR-10 loader --------------------------------------------------------------------


def test_decodes_official_batches_into_hwc_rgb(archive, batches, tmp_path):
    ds = data.load_cifar10(dirs=[archive.parent], cache_dir=tmp_path / "cache",
                              expected_md5=md5_of(archive))  # fmt: skip
    train_data = np.concatenate([batches[n][b"data"] for n in data.TRAIN_BATCHES])
    train_labels = [label for n in data.TRAIN_BATCHES for label in batches[n][b"labels"]]
    assert ds.x_train.shape == (5 * PER_BATCH, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (5 * PER_BATCH, 1) and ds.y_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train, expected_images(train_data))
    np.testing.assert_array_equal(ds.y_train.ravel(), train_labels)
    np.testing.assert_array_equal(ds.x_test, expected_images(batches["test_batch"][b"data"]))
    assert ds.x_train[3, 1, 2, 1] == train_data[3, 1024 + 1 * 32 + 2]  # green of row 1, col 2
    assert ds.class_names == tuple(n.decode() for n in LABEL_NAMES)
    assert ds.fingerprint == md5_of(archive) and not ds.is_synthetic


def test_wrong_checksum_names_file_and_both_sums(archive, tmp_path):
    with pytest.raises(DataError, match="md5") as error:
        data.load_cifar10(dirs=[archive.parent], cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert str(archive) in message and md5_of(archive) in message
    assert data.OFFICIAL_MD5 in message and "cifar-10-python.tar.gz" in message


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_archive_raises_data_error(archive, tmp_path, damage):
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"not a tar" * 99)
    with pytest.raises(DataError, match="corrupt or truncated") as error:
        data.load_cifar10(dirs=[archive.parent], cache_dir=tmp_path / "cache",
                             expected_md5=None)  # fmt: skip
    assert str(archive) in str(error.value)


def test_missing_batch_is_named(tmp_path, batches):
    archive = write_archive(tmp_path / "cifar-10-python.tar.gz", batches, skip=("data_batch_3",))
    with pytest.raises(DataError, match="lacks data_batch_3"):
        data.load_cifar10(dirs=[tmp_path], cache_dir=tmp_path / "cache",
                             expected_md5=md5_of(archive))  # fmt: skip


def test_batch_pickle_cannot_run_code(tmp_path, batches):
    batches["test_batch"] = {b"data": Path("/"), b"labels": []}  # pickles a pathlib class
    write_archive(tmp_path / "cifar-10-python.tar.gz", batches)
    with pytest.raises(DataError, match="unexpected object"):
        data.load_cifar10(dirs=[tmp_path], cache_dir=tmp_path / "cache", expected_md5=None)


def test_not_found_offline_says_where_to_put_it(isolated_env):
    with pytest.raises(DataError, match=re.escape("cifar-10-python.tar.gz")) as error:
        load_dataset("cifar10")
    assert str(isolated_env / "root" / "data") in str(error.value)
    with pytest.raises(DataError, match="cannot be downloaded"):
        dataset_fingerprint("cifar10")


def test_second_load_reads_the_array_cache(archive, tmp_path, monkeypatch):
    options = dict(dirs=[archive.parent], cache_dir=tmp_path / "cache",
                   expected_md5=md5_of(archive))  # fmt: skip
    first = data.load_cifar10(**options)

    def fail(*args):
        raise AssertionError("decoded or hashed again")

    monkeypatch.setattr(data.cifar10, "decode_archive", fail)
    monkeypatch.setattr(data.cifar10.hashlib, "md5", fail)
    second = data.load_cifar10(**options)
    np.testing.assert_array_equal(second.x_train, first.x_train)
    np.testing.assert_array_equal(second.y_test, first.y_test)
    assert second.class_names == first.class_names and second.fingerprint == first.fingerprint


def test_changed_archive_is_hashed_again(archive, tmp_path):
    cache = tmp_path / "cache"
    assert data.cifar10_fingerprint(archive, cache) == md5_of(archive)
    write_archive(archive, official_batches(seed=1))
    assert data.cifar10_fingerprint(archive, cache) == md5_of(archive)


def test_coursebook_data_env_is_searched_first(isolated_env, archive, monkeypatch):
    keras_copy = isolated_env / "keras-home" / "datasets" / "cifar-10-batches-py-target_archive"
    write_archive(keras_copy, official_batches(seed=2))
    assert data.find_cifar10() == keras_copy
    monkeypatch.setenv(data.DATA_ENV, str(archive.parent))
    assert data.find_cifar10() == archive
    assert dataset_fingerprint("cifar10") == md5_of(archive)
    assert dataset_fingerprint("auto") == md5_of(archive)
    ds = data.load_cifar10(expected_md5=md5_of(archive))
    assert ds.source == str(archive) and len(ds.x_train) == 5 * PER_BATCH


def test_extracted_keras_directory_loads(isolated_env, batches, monkeypatch):
    directory = isolated_env / "keras-home" / "datasets" / data.BATCH_DIR_NAMES[1]
    directory.mkdir(parents=True)
    for name, content in batches.items():
        (directory / name).write_bytes(pickle.dumps(content, protocol=2))
    # these tiny batches stand in for the official files: their own md5s are the expected ones
    monkeypatch.setattr(data.cifar10, "OFFICIAL_FILE_MD5", {n: md5_of(directory / n) for n in batches})
    ds = load_dataset("cifar10")
    np.testing.assert_array_equal(ds.x_test, expected_images(batches["test_batch"][b"data"]))
    assert ds.fingerprint.startswith("batches-md5:")
    assert dataset_fingerprint("auto") == ds.fingerprint


def test_auto_without_cifar_uses_synthetic(isolated_env):
    ds = load_dataset("auto", synthetic_sizes=(30, 20), seed=3)
    assert ds.is_synthetic and ds.class_names == data.SYNTHETIC_CLASS_NAMES
    assert dataset_fingerprint("auto", synthetic_sizes=(30, 20), seed=3) == ds.fingerprint


def test_offline_fingerprints_check_the_network_once(no_local_cifar, monkeypatch):
    """Planning many chapters with source="auto" offline pays the ~3 s check only once."""
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network unreachable")

    monkeypatch.setattr(data.cifar10.socket, "create_connection", refuse)
    data.cifar10.network_reachable.cache_clear()
    try:
        first = dataset_fingerprint("auto", synthetic_sizes=(30, 20))
        second = dataset_fingerprint("auto", synthetic_sizes=(30, 20))
    finally:
        data.cifar10.network_reachable.cache_clear()
    assert first == second == data.synthetic_fingerprint(30, 20, 0)
    assert attempts == [("www.cs.toronto.edu", 443)]


def test_default_cache_dir_is_read_from_paths_at_call_time(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSEBOOK_CACHE", raising=False)
    monkeypatch.setattr(paths, "DATASET_CACHE_DIR", tmp_path / "datasets")
    assert data.default_cache_dir() == tmp_path / "datasets"
    monkeypatch.setenv("COURSEBOOK_CACHE", str(tmp_path / "elsewhere"))
    assert data.default_cache_dir() == tmp_path / "elsewhere"


def test_fingerprint_does_not_import_keras():
    code = ("import sys, coursebook.course.data as d; d.dataset_fingerprint('synthetic'); "
            "assert not {'keras', 'tensorflow', 'sklearn'} & set(sys.modules)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, cwd=paths.ROOT)


def test_unknown_source_is_rejected():
    with pytest.raises(DataError, match="source='cifar100'"):
        load_dataset("cifar100")


# --- synthetic stand-in -----------------------------------------------------------------


def test_synthetic_is_deterministic_balanced_uint8():
    x, y = data.synthetic_images(1100, seed=5)
    x_again, y_again = data.synthetic_images(1100, seed=5)
    assert x.shape == (1100, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (1100, 1) and y.dtype == np.uint8
    np.testing.assert_array_equal(x, x_again)
    np.testing.assert_array_equal(y, y_again)
    assert np.bincount(y.ravel(), minlength=10).tolist() == [110] * 10
    assert not np.array_equal(data.synthetic_images(1100, seed=6)[0], x)
    assert x.std() > 30  # images, not blank canvases


def test_synthetic_class_names_differ_from_cifar():
    assert len(data.SYNTHETIC_CLASS_NAMES) == 10 == len(set(data.SYNTHETIC_CLASS_NAMES))
    assert not set(data.SYNTHETIC_CLASS_NAMES) & set(data.CIFAR10_CLASS_NAMES)


def test_synthetic_shapes_survive_horizontal_flips():
    """Each class shape is mirror-symmetric about its vertical axis, so the assignments'
    flip augmentation keeps labels valid; the paired classes still differ."""
    v, u = np.mgrid[-1.5:1.5:61j, -1.5:1.5:61j]
    params = dict(thick=0.2, period=4.0, phase=0.0, half=8.0)
    shapes = {}
    for label, name in enumerate(data.SYNTHETIC_CLASS_NAMES):
        shapes[name] = data.synthetic._shape_sdf(label, u, v, **params)
        mirrored = data.synthetic._shape_sdf(label, -u, v, **params)
        np.testing.assert_allclose(shapes[name], mirrored, atol=1e-9, err_msg=name)
    inside = {name: sdf < 0 for name, sdf in shapes.items()}
    for a, b in [("disc", "ring"), ("square", "frame"), ("plus", "saltire"),
                 ("stripes-h", "stripes-v"), ("triangle", "diamond")]:  # fmt: skip
        assert (inside[a] != inside[b]).mean() > 0.05, (a, b)


def test_synthetic_fingerprint_tracks_seed_sizes_and_version(monkeypatch):
    base = data.synthetic_fingerprint(100, 50, 0)
    assert base == data.synthetic_fingerprint(100, 50, 0)
    others = {data.synthetic_fingerprint(100, 50, 1), data.synthetic_fingerprint(101, 50, 0)}
    monkeypatch.setattr(data.synthetic, "GENERATOR_VERSION", data.GENERATOR_VERSION + 1)
    others.add(data.synthetic_fingerprint(100, 50, 0))
    assert base not in others and len(others) == 3


def test_synthetic_dataset_is_cached(tmp_path, monkeypatch):
    first = data.load_synthetic(40, 20, seed=1, cache_dir=tmp_path)
    monkeypatch.setattr(data.synthetic, "synthetic_images",
                        lambda *a, **k: pytest.fail("generated again"))  # fmt: skip
    second = data.load_synthetic(40, 20, seed=1, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert first.fingerprint == second.fingerprint and second.is_synthetic


def test_a_cached_dataset_is_mapped_read_only_and_a_truncated_array_is_rebuilt(tmp_path, capsys):
    """Every kernel maps the cached arrays instead of reading them whole; nothing may write to them.
    An array file cut short is damage: said, and the cache is built again."""
    first = data.load_synthetic(40, 20, seed=1, cache_dir=tmp_path)
    second = data.load_synthetic(40, 20, seed=1, cache_dir=tmp_path)
    assert isinstance(second.x_train, np.memmap) and not second.x_train.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        second.x_train[0, 0, 0, 0] = 1
    cached = next(tmp_path.rglob("x_train.npy"))
    cached.write_bytes(cached.read_bytes()[:-100])
    third = data.load_synthetic(40, 20, seed=1, cache_dir=tmp_path)
    assert "is damaged" in capsys.readouterr().err
    np.testing.assert_array_equal(third.x_train, first.x_train)


def test_synthetic_rejects_too_few_images(tmp_path):
    with pytest.raises(DataError, match="n_train=5"):
        data.load_synthetic(5, 20, cache_dir=tmp_path)


@pytest.mark.slow  # trains a CNN for a while, or starts another backend in a subprocess
def test_synthetic_is_learnable_by_a_small_cnn():
    """4,000 images, a 57k-parameter CNN, 3 epochs: far above the chance level of 0.10."""
    import keras

    x, y = data.synthetic_images(5000, seed=0)
    x = x.astype("float32") / 255
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu", padding="same"), layers.GlobalMaxPooling2D(),
        layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    model.fit(x[:4000], y[:4000], epochs=3, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[4000:], y[4000:], verbose=0)
    assert accuracy > 0.35


# --- splits, preprocessing, samples -----------------------------------------------------


def indexed_dataset(per_class_train: int = 20, per_class_test: int = 5) -> Dataset:
    """A dataset whose image i carries its own index i in pixel (0, 0), to track it."""

    def part(per_class: int, offset: int):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)[::-1].reshape(-1, 1)
        images = np.zeros((len(labels), 32, 32, 3), np.uint8)
        index = np.arange(len(labels)) + offset
        images[:, 0, 0, 0], images[:, 0, 0, 1] = index % 256, index // 256
        images[:, 1:, :, :] = labels.reshape(-1, 1, 1, 1).astype(int) * 20 + offset // 100
        return images, labels

    x_train, y_train = part(per_class_train, 0)
    x_test, y_test = part(per_class_test, 1000)
    return Dataset("indexed", True, x_train, y_train, x_test, y_test,
                   tuple(f"c{i}" for i in range(10)), "fp", "built in a test")  # fmt: skip


def image_ids(x: np.ndarray) -> np.ndarray:
    return x[:, 0, 0, 0].astype(int) + 256 * x[:, 0, 0, 1].astype(int)


def test_holdout_split_sizes_disjoint_stratified():
    ds = indexed_dataset()
    splits = make_splits(ds, validation_fraction=0.2, seed=0)
    assert splits.sizes == {"train": 160, "val": 40, "test": 50}
    train_ids, val_ids = image_ids(splits.x_train), image_ids(splits.x_val)
    assert set(train_ids).isdisjoint(val_ids) and len(set(train_ids) | set(val_ids)) == 200
    np.testing.assert_array_equal(splits.y_val.ravel(), ds.y_train.ravel()[val_ids])
    assert np.bincount(splits.y_val.ravel()).tolist() == [4] * 10
    assert not splits.leaks_test and "used only for the final evaluation" in splits.protocol
    assert splits.fingerprint == "fp" and splits.class_names == ds.class_names


def test_holdout_split_is_seeded():
    ds = indexed_dataset()
    ids = lambda seed: image_ids(make_splits(ds, seed=seed).x_val)  # noqa: E731
    np.testing.assert_array_equal(ids(0), ids(0))
    assert set(ids(0)) != set(ids(1))


def test_test_protocol_uses_test_set_and_says_so():
    ds = indexed_dataset()
    splits = make_splits(ds, validation="test")
    assert splits.leaks_test and "test images serve as validation" in splits.protocol
    np.testing.assert_array_equal(splits.x_val, ds.x_test)
    assert splits.sizes == {"train": 200, "val": 50, "test": 50}


def test_train_size_takes_a_stratified_part_of_the_training_split():
    ds = indexed_dataset()
    full = make_splits(ds, seed=2)
    sub = make_splits(ds, train_size=50, seed=2)
    assert len(sub.x_train) == 50 and np.bincount(sub.y_train.ravel()).tolist() == [5] * 10
    assert set(image_ids(sub.x_train)) <= set(image_ids(full.x_train))
    np.testing.assert_array_equal(image_ids(sub.x_val), image_ids(full.x_val))
    assert "40 of the 200 training images (20%, seed 2) are held out" in sub.protocol
    assert "trains on 50 of the other 160 (110 unused)" in sub.protocol


def test_test_size_keeps_the_first_test_images_for_every_seed_and_protocol():
    ds = indexed_dataset()
    first_20 = list(range(1000, 1020))  # the test images' own indices, in the file's order
    for seed in (0, 3):
        holdout = make_splits(ds, test_size=20, seed=seed)
        assert image_ids(holdout.x_test).tolist() == first_20
        np.testing.assert_array_equal(holdout.y_test, ds.y_test[:20])
        assert "the first 20 of the 50 test images are used only for the final evaluation" in holdout.protocol
    leaky = make_splits(ds, validation="test", test_size=20)
    assert image_ids(leaky.x_val).tolist() == first_20 and image_ids(leaky.x_test).tolist() == first_20
    assert "the first 20 of the 50 test images serve as validation" in leaky.protocol
    assert "the 50 test images are used only" in make_splits(ds, test_size=50).protocol


def test_validation_size_validates_a_stratified_part_of_the_held_out_images_and_trains_on_the_same():
    ds = indexed_dataset()
    full = make_splits(ds, train_size=50, seed=2)
    capped = make_splits(ds, train_size=50, validation_size=20, seed=2)
    assert len(capped.x_val) == 20 and np.bincount(capped.y_val.ravel()).tolist() == [2] * 10
    assert set(image_ids(capped.x_val)) < set(image_ids(full.x_val))
    np.testing.assert_array_equal(image_ids(capped.x_train), image_ids(full.x_train))  # the rest stays unused
    assert "40 of the 200 training images (20%, seed 2) are held out for validation, of which a stratified 20 " in (
        capped.protocol
    )
    assert "trains on 50 of the other 160 (110 unused)" in capped.protocol
    for at_least_all in (40, 1000):  # a smaller dataset (the sample) keeps all it holds out
        kept = make_splits(ds, train_size=50, validation_size=at_least_all, seed=2)
        np.testing.assert_array_equal(image_ids(kept.x_val), image_ids(full.x_val))
        assert kept.protocol == full.protocol


@pytest.mark.parametrize(
    "options, message",
    [
        ({"validation_size": 0}, "validation_size=0: must be a positive integer"),
        ({"validation_size": 2.5}, "validation_size=2.5"),
        ({"test_size": 0}, "test_size=0: must be an integer from 1 to the 50 test images"),
        ({"test_size": 51}, "test_size=51"),
        ({"test_size": 2.5}, "test_size=2.5"),
        ({"validation_fraction": 0.0}, "validation_fraction=0.0"),
        ({"validation_fraction": 1.5}, "validation_fraction=1.5"),
        ({"validation": "train"}, "validation='train'"),
        ({"train_size": 161}, "train_size=161"),
        ({"train_size": 0}, "train_size=0"),
        ({"train_size": 5}, "train_size=5"),  # fewer images than classes
    ],
)
def test_bad_split_parameters_are_named(options, message):
    with pytest.raises(DataError, match=message):
        make_splits(indexed_dataset(), **options)


def test_unit_scaling_one_hot_and_flatten():
    ds = indexed_dataset()
    splits = preprocess(make_splits(ds), scaling="unit", one_hot=True, flatten=True)
    raw = make_splits(ds)
    assert splits.x_train.dtype == np.float32 and splits.x_train.shape == (160, 3072)
    np.testing.assert_allclose(splits.x_val[7, 5 * 96 + 3 * 3 + 2],
                               raw.x_val[7, 5, 3, 2] / 255.0, rtol=1e-6)  # fmt: skip
    assert splits.y_train.shape == (160, 10) and splits.y_train.sum(axis=1).tolist() == [1] * 160
    np.testing.assert_array_equal(splits.y_test.argmax(axis=1), ds.y_test.ravel())
    assert "one-hot" in splits.preprocessing


def test_standardization_is_fitted_on_the_training_part_only():
    ds = indexed_dataset()
    raw = make_splits(ds)
    splits = preprocess(raw, scaling="standardize", one_hot=False)
    assert splits.x_train.shape == (160, 32, 32, 3) and splits.y_train.shape == (160, 1)
    for channel in range(3):
        values = raw.x_train[..., channel].astype(float).ravel()
        mean = values.sum() / values.size
        std = np.sqrt(((values - mean) ** 2).sum() / values.size)
        np.testing.assert_allclose(splits.x_train[..., channel].mean(), 0, atol=1e-4)
        np.testing.assert_allclose(splits.x_train[..., channel].std(), 1, atol=1e-4)
        expected_test = (raw.x_test[..., channel].astype(float) - mean) / std
        np.testing.assert_allclose(splits.x_test[..., channel], expected_test, rtol=1e-5, atol=1e-5)
    assert abs(splits.x_test.mean()) > 0.01  # test images differ, so they are not centred


def test_preprocessing_twice_is_an_error():
    once = preprocess(make_splits(indexed_dataset()))
    with pytest.raises(DataError, match="already preprocessed"):
        preprocess(once)
    with pytest.raises(DataError, match="scaling='minmax'"):
        preprocess(make_splits(indexed_dataset()), scaling="minmax")


def test_sample_per_class_gives_a_grid_grouped_by_class():
    ds = indexed_dataset()
    x, y = sample_per_class(ds, per_class=5, seed=0)
    assert x.shape == (50, 32, 32, 3) and y.tolist() == sorted(list(range(10)) * 5)
    np.testing.assert_array_equal(ds.y_train.ravel()[image_ids(x)], y)
    assert len(set(image_ids(x))) == 50
    x_again, _ = sample_per_class(ds, per_class=5, seed=0)
    np.testing.assert_array_equal(x, x_again)
    one_hot_splits = preprocess(make_splits(ds), scaling="unit")
    _, y_hot = sample_per_class((one_hot_splits.x_train, one_hot_splits.y_train), per_class=3)
    assert y_hot.tolist() == sorted(list(range(10)) * 3)
    with pytest.raises(DataError, match="per_class=21"):
        sample_per_class(ds, per_class=21)


def test_shared_helpers_have_one_home():
    import coursebook.atomic
    from coursebook.book import cache
    from coursebook.course import data, evaluation

    assert cache.atomic_write_text is coursebook.atomic.atomic_write_text
    assert data.atomic_write_bytes is coursebook.atomic.atomic_write_bytes
    assert evaluation.to_labels is data.to_labels


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    import coursebook.atomic

    target = tmp_path / "arrays.npy"
    coursebook.atomic.atomic_write_text(target, "old")

    def fail(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        coursebook.atomic.atomic_write_bytes(target, fail)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_sample_per_class_accepts_one_hot_and_integer_labels_alike():
    x = np.arange(8)[:, None]
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    from_ints = data.sample_per_class((x, labels), per_class=2, seed=1)
    from_one_hot = data.sample_per_class((x, np.eye(2)[labels]), per_class=2, seed=1)
    np.testing.assert_array_equal(from_ints[0], from_one_hot[0])
    np.testing.assert_array_equal(from_ints[1], from_one_hot[1])


def test_the_source_is_decided_once_for_loading_and_fingerprinting(isolated_env, archive, monkeypatch):
    assert data.choose_source("auto") == data.SourceChoice("synthetic")  # offline, nothing on disk
    assert data.choose_source("synthetic") == data.SourceChoice("synthetic")
    assert data.choose_source("cifar10") == data.SourceChoice("cifar10", None)  # its loader explains
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *a, **k: True)
    assert data.choose_source("auto") == data.SourceChoice("cifar10", None)  # to be downloaded
    assert dataset_fingerprint("auto") == data.OFFICIAL_MD5
    monkeypatch.setenv(data.DATA_ENV, str(archive.parent))
    assert data.choose_source("auto") == data.SourceChoice("cifar10", archive)
    with pytest.raises(DataError, match="source='mnist'"):
        data.choose_source("mnist")
