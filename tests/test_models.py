"""Model specs, the builder, and parameter counts: formulas against Keras and against the
totals the assignments state (the literals below are copied from the assignment text)."""

import functools
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

from coursebook.book import paths
from coursebook.course import models

ASSIGNED_MODELS = {
    "e4742-original",
    "e4742-extra-block",
    "e4742-batchnorm",
    "q6-simple-cnn",
    "q6-deeper-gap",
    "q6-bn-dropout",
    "aml-mlp",
    "aml-lenet5",
    "aml-lenet5-dropout",
    "aml-lenet5-batchnorm",
    "a12-baseline",
    "a12-batchnorm",
}


def conv(k, c_in, c_out, bias=True):
    """Parameters of a k x k convolution, written out independently of the package."""
    return (k * k * c_in + int(bias)) * c_out


def dense(n_in, n_out, bias=True):
    return (n_in + int(bias)) * n_out


def batchnorm(channels):
    return 4 * channels


@functools.cache
def built(name, num_classes=10):
    return models.build_model(name, num_classes=num_classes)


def table(name, **kwargs):
    return models.parameter_table(name, **kwargs).set_index("layer")


def total(name, **kwargs):
    return models.parameter_summary(name, **kwargs)["total"]


# --- every architecture ------------------------------------------------------------------


def test_every_assigned_architecture_has_a_spec():
    assert set(models.available_models()) >= ASSIGNED_MODELS


@pytest.mark.parametrize("name", sorted(ASSIGNED_MODELS))
def test_formula_counts_match_keras_layer_by_layer(name):
    model = built(name)
    rows = models.parameter_table(name)
    assert list(rows["layer"]) == [layer.name for layer in model.layers]
    for row, layer in zip(rows.itertuples(), model.layers, strict=True):
        assert row.params == layer.count_params(), row.layer
        assert row.output_shape == str(tuple(layer.output.shape[1:])), row.layer
    assert models.parameter_summary(name) == models.keras_parameter_counts(model)


@pytest.mark.parametrize("name", sorted(ASSIGNED_MODELS))
def test_forward_pass_gives_probabilities(name):
    model = built(name)
    batch = np.random.default_rng(0).uniform(size=(2, *model.input_shape[1:])).astype("float32")
    import keras

    probabilities = keras.ops.convert_to_numpy(model(batch, training=False))
    assert probabilities.shape == (2, 10)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_cifar_models_take_a_32x32x3_batch():
    cnn_names = ASSIGNED_MODELS - {"aml-mlp"}
    assert {models.load_spec(name).input_shape for name in cnn_names} == {(32, 32, 3)}
    assert models.load_spec("aml-mlp").input_shape == (32 * 32 * 3,)


def test_overview_lists_every_spec_with_matching_counts():
    overview = models.parameter_overview()
    assert set(overview["model"]) == set(models.available_models())
    assert overview["matches_keras"].all()
    assert (overview["total"] == overview["keras_total"]).all()


# --- totals stated in the assignments ----------------------------------------------------


def test_e4742_original_and_extra_block_totals():
    original = (
        conv(3, 3, 32) + conv(3, 32, 64) + conv(3, 64, 128) + dense(4 * 4 * 128, 128) + dense(128, 64) + dense(64, 10)
    )
    extra = original - dense(2048, 128) + conv(3, 128, 256) + dense(2 * 2 * 256, 128)
    assert original == 364_426 == total("e4742-original")
    assert extra == 528_522 == total("e4742-extra-block")
    assert extra - original == 164_096


def test_e4742_extra_block_shrinks_the_first_dense_layer():
    assert conv(3, 128, 256) == 295_168 == table("e4742-extra-block").loc["conv4", "params"]
    before, after = table("e4742-original").loc["dense1"], table("e4742-extra-block").loc["dense1"]
    assert (before["params"], after["params"]) == (262_272, 131_200)
    assert (before["params"], after["params"]) == (dense(2048, 128), dense(1024, 128))
    assert (before["formula"], after["formula"]) == ("(2048 + 1)·128", "(1024 + 1)·128")


def test_aml_mlp_per_layer_counts():
    per_layer = [dense(3072, 128), dense(128, 64), dense(64, 10)]
    assert per_layer == [393_344, 8_256, 650] == list(table("aml-mlp")["params"])
    assert sum(per_layer) == 402_250 == total("aml-mlp")


def test_aml_mlp_first_layer_depends_on_image_size():
    small = table("aml-mlp", input_shape=(16 * 16 * 3,))
    assert small.loc["dense1", "params"] == dense(16 * 16 * 3, 128)


def test_lenet5_total():
    lenet = conv(5, 3, 6) + conv(5, 6, 16) + dense(5 * 5 * 16, 120) + dense(120, 84) + dense(84, 10)
    assert lenet == 62_006 == total("aml-lenet5") == total("aml-lenet5-dropout")


def test_a12_baseline_total():
    baseline = (
        conv(3, 3, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 64) + dense(8 * 8 * 64, 512) + dense(512, 10)
    )
    assert baseline == 2_168_362 == total("a12-baseline")


# --- totals the assignments do not state, recomputed by hand -----------------------------


def test_batchnorm_variant_totals():
    e4742 = 364_426 + sum(batchnorm(c) for c in (32, 64, 128, 128, 64))
    lenet = 62_006 + sum(batchnorm(c) for c in (6, 16, 120, 84))
    a12 = (
        conv(3, 3, 32, bias=False)
        + conv(3, 32, 32, bias=False)
        + conv(3, 32, 64, bias=False)
        + conv(3, 64, 64, bias=False)
        + dense(4096, 512, bias=False)
        + dense(512, 10)
        + sum(batchnorm(c) for c in (32, 32, 64, 64, 512))
    )
    assert total("e4742-batchnorm") == e4742
    assert total("aml-lenet5-batchnorm") == lenet
    assert models.parameter_summary("a12-batchnorm") == {
        "total": a12,
        "trainable": a12 - 2 * (32 + 32 + 64 + 64 + 512),
        "non_trainable": 2 * (32 + 32 + 64 + 64 + 512),
    }


def test_q6_totals():
    simple = (
        conv(3, 3, 32)
        + conv(3, 32, 32)
        + conv(3, 32, 64)
        + conv(3, 64, 64)
        + conv(3, 64, 128)
        + conv(3, 128, 128)
        + dense(4 * 4 * 128, 128)
        + dense(128, 10)
    )
    filters = [3, 32, 64, 128, 256, 512]
    deeper = (
        sum(conv(3, c_in, c_out) for c_in, c_out in itertools.pairwise(filters))
        + dense(512, 128)
        + dense(128, 32)
        + dense(32, 10)
    )
    bn_dropout = (
        conv(5, 3, 32)
        + conv(3, 32, 64)
        + conv(3, 64, 128)
        + batchnorm(32)
        + batchnorm(64)
        + batchnorm(128)
        + dense(4 * 4 * 128, 128)
        + dense(128, 10)
    )
    assert total("q6-simple-cnn") == simple
    assert total("q6-deeper-gap") == deeper
    assert total("q6-bn-dropout") == bn_dropout


def test_num_classes_sets_the_output_layer():
    assert total("aml-lenet5", num_classes=3) == 62_006 - dense(84, 10) + dense(84, 3)
    assert built("aml-lenet5", num_classes=3).output_shape == (None, 3)


# --- formulas and shapes ------------------------------------------------------------------


def test_formula_text():
    rows = table("a12-batchnorm")
    assert table("e4742-original").loc["conv1", "formula"] == "(3·3·3 + 1)·32"
    assert rows.loc["conv1", "formula"] == "3·3·3·32"
    assert rows.loc["dense1", "formula"] == "4096·512"
    assert rows.loc["batchnorm3", "formula"] == "4·64 (2·64 trainable)"
    assert set(rows.loc[["maxpool1", "flatten1", "activation1", "dropout1"], "formula"]) == {"0"}


def test_q6_deeper_gap_shapes_with_same_pool_padding():
    sides = [32, 16, 16, 8, 8, 4, 4, 2, 2, 1]
    channels = [32, 32, 64, 64, 128, 128, 256, 256, 512, 512]
    expected = [str((s, s, c)) for s, c in zip(sides, channels, strict=True)] + ["(512,)", "(128,)", "(32,)", "(10,)"]
    assert list(table("q6-deeper-gap")["output_shape"]) == expected


def write_spec(tmp_path, layers, input_shape="[15, 15, 3]", name="tiny"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        title: test model
        source: tests
        input_shape: {input_shape}
        layers:
        """)
        + textwrap.indent(textwrap.dedent(layers), "  ")
    )
    return path


def test_strides_and_padding_shapes(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - conv: {filters: 4, kernel: 3, strides: 2, padding: same}
        - conv: {filters: 4, kernel: [3, 1], strides: 2}
        - maxpool: {size: 2, padding: same}
        - maxpool: {size: 3, strides: 1}
        - gap
        - dense: {units: num_classes, activation: softmax}
        """,
        input_shape="[31, 30, 3]",
    )
    # same: ceil(n/s); valid: floor((n-k)/s) + 1
    expected = ["(16, 15, 4)", "(7, 8, 4)", "(4, 4, 4)", "(2, 2, 4)", "(4,)", "(10,)"]
    assert list(models.parameter_table(path)["output_shape"]) == expected
    keras_shapes = [str(tuple(layer.output.shape[1:])) for layer in models.build_model(path).layers]
    assert keras_shapes == expected
    assert models.parameter_table(path).loc[1, "formula"] == "(3·1·4 + 1)·4"


@given(size=st.integers(1, 64), window=st.integers(1, 7), stride=st.integers(1, 4))
def test_window_output_size_counts_window_positions(size, window, stride):
    assert models.window_output_size(size, window, stride, "same") == len(range(0, size, stride))
    if window <= size:
        valid = len(range(0, size - window + 1, stride))
        assert models.window_output_size(size, window, stride, "valid") == valid


# --- validation ---------------------------------------------------------------------------

BAD_LAYERS = [
    ("- pool: {size: 2}", "key 'layers[1]': value 'pool' is not allowed (expected a layer type in {conv,"),
    ("- conv: {filters: 8, kernel: 3, filter: 8}", "key 'layers[1].conv.filter' is not allowed (allowed: filters,"),
    (
        "- conv: {filters: '8', kernel: 3}",
        "key 'layers[1].conv.filters': value '8' is not allowed (expected an int in [1, ])",
    ),
    ("- conv: {filters: true, kernel: 3}", "key 'layers[1].conv.filters': value True is not allowed"),
    (
        "- conv: {filters: 8, kernel: [3, 3, 3]}",
        "key 'layers[1].conv.kernel': value [3, 3, 3] is not allowed (expected a positive int or a list of two)",
    ),
    (
        "- conv: {filters: 8, kernel: 3, padding: full}",
        "key 'layers[1].conv.padding': value 'full' is not allowed (expected one of {valid, same})",
    ),
    (
        "- conv: {filters: 8, kernel: 3, activation: relux}",
        "key 'layers[1].conv.activation': value 'relux' is not allowed (expected one of {elu,",
    ),
    ("- conv: {kernel: 3}", "key 'layers[1].conv.filters' is missing (expected an int in [1, ])"),
    ("- dropout: {rate: 1.5}", "key 'layers[1].dropout.rate': value 1.5 is not allowed (expected a number in [0, 1))"),
    ("- dropout", "key 'layers[1].dropout.rate' is missing (expected a number in [0, 1))"),
    ("- batchnorm: {center: 1}", "key 'layers[1].batchnorm.center': value 1 is not allowed (expected true or false)"),
    ("- dense: {units: 10}", "needs a flat input"),
    ("- conv: {filters: 8, kernel: 17}", "its input is too small"),
]


@pytest.mark.parametrize("bad_layer, message", BAD_LAYERS)
def test_invalid_layer_names_file_index_and_key(tmp_path, bad_layer, message):
    path = write_spec(tmp_path, f"- conv: {{filters: 4, kernel: 3, padding: same}}\n{bad_layer}\n")
    with pytest.raises(models.ModelSpecError) as error:
        models.load_spec(path)
    assert str(path) in str(error.value)
    assert "layers[1]" in str(error.value)
    assert message in str(error.value)


def test_conv_after_flatten_is_rejected(tmp_path):
    path = write_spec(tmp_path, "- flatten\n- conv: {filters: 4, kernel: 3}\n")
    with pytest.raises(models.ModelSpecError, match=r"key 'layers\[1\]' \(conv\) needs a \(height"):
        models.load_spec(path)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "title: t\nsource: s\ninput_shape: [8, 8, 3]\nlayers: [flatten]\nlayer: []\n",
            "key 'layer' is not allowed (allowed: title, source, description, input_shape, layers)",
        ),
        (
            "title: t\nsource: s\nlayers: [flatten]\n",
            "key 'input_shape' is missing (expected [height, width, channels] or [features] of positive ints)",
        ),
        (
            "title: t\nsource: s\ninput_shape: [8, 8]\nlayers: [flatten]\n",
            "key 'input_shape': value [8, 8] is not allowed",
        ),
        (
            "title: t\nsource: s\ninput_shape: [8, 8, 3]\nlayers: []\n",
            "key 'layers': value [] is not allowed (expected a non-empty list of layers)",
        ),
        ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ],
)
def test_invalid_spec_file(tmp_path, text, message):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(models.ModelSpecError) as error:
        models.load_spec(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(models.ModelSpecError, match=r"unknown model 'lenet'.*aml-lenet5"):
        models.load_spec("lenet")


def test_every_allowed_activation_is_known_to_keras():
    import keras

    for name in models.ACTIVATIONS:
        assert callable(keras.activations.get(name)), name


# --- the specs follow the assignments' wording ----------------------------------------------


def weighted_layers(name):
    return [
        (layer.type, layer.options)
        for layer in models.load_spec(name).layers
        if layer.type not in {"batchnorm", "dropout"}
    ]


@pytest.mark.parametrize(
    "variant, base",
    [
        ("e4742-batchnorm", "e4742-original"),
        ("aml-lenet5-dropout", "aml-lenet5"),
        ("aml-lenet5-batchnorm", "aml-lenet5"),
    ],
)
def test_regularized_variants_keep_their_base(variant, base):
    assert weighted_layers(variant) == weighted_layers(base)


def hidden_positions(name, after):
    """Indices of the hidden conv/dense layers, and of the layers of type ``after``."""
    layers = models.load_spec(name).layers
    hidden = [i for i, layer in enumerate(layers[:-1]) if layer.type in {"conv", "dense"}]
    return hidden, [i for i, layer in enumerate(layers) if layer.type == after]


def test_batchnorm_follows_every_hidden_layer():
    for name in ("e4742-batchnorm", "aml-lenet5-batchnorm", "a12-batchnorm"):
        hidden, norms = hidden_positions(name, "batchnorm")
        assert norms == [i + 1 for i in hidden], name


def test_lenet_dropout_follows_every_hidden_block():
    layers = models.load_spec("aml-lenet5-dropout").layers
    before_dropout = [layers[i - 1].type for i, layer in enumerate(layers) if layer.type == "dropout"]
    assert before_dropout == ["maxpool", "maxpool", "dense", "dense"]
    assert {layer.options["rate"] for layer in layers if layer.type == "dropout"} == {0.3}


def test_a12_batchnorm_comes_before_relu_without_bias():
    layers = models.load_spec("a12-batchnorm").layers
    for i, layer in enumerate(layers):
        if layer.type == "batchnorm":
            assert layers[i - 1].options["use_bias"] is False
            assert layers[i - 1].options["activation"] is None
            assert layers[i + 1].options == {"name": "relu"}


def test_specs_live_in_params_models():
    assert models.load_spec("aml-lenet5").path == paths.MODELS_DIR / "aml-lenet5.yaml"


def test_importing_models_does_not_import_keras():
    code = "import sys, coursebook.course.models; assert 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=paths.ROOT)
