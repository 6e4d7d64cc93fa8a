"""Tests for coursebook.course.backprop: every expected gradient comes from finite differences of
a loss written here from the assignment's formula, or from a hand-built array."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from coursebook.book import paths
from coursebook.course import backprop as bp

EPS = 1e-6
NETWORK_RTOL = 1e-6  # relative error allowed between analytic and central differences


def reference_loss(w, X, Y_true):
    """The assignment's loss, written directly from its formula (independent of the module)."""
    H = 1.0 / (1.0 + np.exp(-(X @ w["W1"].T + w["b1"])))
    Y = 1.0 / (1.0 + np.exp(-(H @ w["W2"] + w["b2"])))
    return np.sum((Y - Y_true) ** 2) / (2 * len(Y_true))


def rounding_error(f_value: float, eps: float = EPS) -> float:
    """What floating-point rounding alone can put into a central difference of a function whose
    value is about ``f_value``: a few ulps of f, divided by the step (the bound for ``atol``)."""
    return 8 * np.finfo(np.float64).eps * (abs(f_value) + 1) / (2 * eps)


def numeric_gradient(f, array, eps=EPS):
    """Central differences of the scalar f() with respect to each entry of ``array`` (in place)."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        f_plus = f()
        array[index] = original - eps
        f_minus = f()
        array[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def network_numeric_gradients(weights, X, Y_true):
    w = {name: np.array(value, dtype=np.float64) for name, value in weights.items()}
    return {name: numeric_gradient(lambda: reference_loss(w, X, Y_true), w[name]) for name in w}


def relative_errors(a, b):
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)


def random_problem(seed, n_samples=20):
    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.normal(size=(3, 2)),
        "b1": rng.normal(size=3),
        "W2": rng.normal(size=3),
        "b2": np.array(rng.normal()),
    }
    return weights, rng.uniform(size=(n_samples, 2)), rng.integers(0, 2, size=n_samples)


@pytest.fixture(scope="module")
def setup():
    return bp.assignment_setup(seed=0)


# --- the assignment's setup and stated answers --------------------------------------------


def test_setup_reproduces_global_seed_draws_in_assignment_order(setup):
    saved = np.random.get_state()
    try:
        np.random.seed(0)  # the assignment's lines, verbatim
        expected = {"W1": np.random.randn(3, 2), "b1": np.zeros(3), "W2": np.random.randn(3), "b2": 0}
        X = np.random.rand(1000, 2)
        Y = np.random.randint(low=0, high=2, size=(1000,))
        global_before = np.random.get_state()
        bp.assignment_setup(seed=0)
        global_after = np.random.get_state()
    finally:
        np.random.set_state(saved)
    weights, X_got, Y_got = setup
    for name in bp.PARAMETER_NAMES:
        np.testing.assert_array_equal(weights[name], expected[name])
        assert np.shape(weights[name]) == np.shape(expected[name])
    np.testing.assert_array_equal(X_got, X)
    np.testing.assert_array_equal(Y_got, Y)
    np.testing.assert_array_equal(global_after[1], global_before[1])  # global stream untouched
    assert global_after[2] == global_before[2]


def test_loss_matches_assignment_value(setup):
    weights, X, Y = setup
    assert round(bp.loss(weights, X, Y), 3) == 0.133


def test_db1_matches_assignment_to_one_unit_in_last_stated_digit(setup):
    weights, X, Y = setup
    db1 = bp.gradients(weights, X, Y)["b1"]
    stated = [0.00492, -0.000581, -0.00066]
    last_digit_unit = [1e-5, 1e-6, 1e-5]
    for got, want, unit in zip(db1, stated, last_digit_unit, strict=True):
        assert abs(got - want) <= unit, (got, want)


# --- the network: forward, loss, gradients ------------------------------------------------


def test_forward_shapes_and_values_match_formula(setup):
    weights, X, _ = setup
    cache = bp.forward(weights, X[:7])
    assert [a.shape for a in cache] == [(7, 3), (7, 3), (7,), (7,)]
    np.testing.assert_allclose(cache.Z1, X[:7] @ weights["W1"].T + weights["b1"], rtol=1e-14)
    np.testing.assert_allclose(cache.Y, 1 / (1 + np.exp(-cache.Z2)), rtol=1e-14)


@pytest.mark.parametrize("seed", [1, 2])
def test_loss_equals_reference_formula(seed):
    weights, X, Y = random_problem(seed)
    assert bp.loss(weights, X, Y) == pytest.approx(reference_loss(weights, X, Y), rel=1e-12)


def test_gradient_shapes_match_weights(setup):
    weights, X, Y = setup
    grads = bp.gradients(weights, X, Y)
    assert {name: g.shape for name, g in grads.items()} == {n: np.shape(w) for n, w in weights.items()}


def test_assignment_gradients_match_central_differences(setup):
    weights, X, Y = setup
    analytic = bp.gradients(weights, X, Y)
    numeric = network_numeric_gradients(weights, X, Y)
    for name in bp.PARAMETER_NAMES:
        assert np.max(relative_errors(analytic[name], numeric[name])) < NETWORK_RTOL, name


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 30))
def test_random_network_gradients_match_central_differences(seed, n_samples):
    weights, X, Y = random_problem(seed, n_samples)
    analytic = bp.gradients(weights, X, Y)
    numeric = network_numeric_gradients(weights, X, Y)
    for name in bp.PARAMETER_NAMES:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-5, atol=1e-9, err_msg=name)


def test_module_finite_differences_agree_with_test_finite_differences(setup):
    weights, X, Y = setup
    module_fd = bp.finite_difference_gradients(weights, X, Y)
    test_fd = network_numeric_gradients(weights, X, Y)
    for name in bp.PARAMETER_NAMES:
        np.testing.assert_allclose(module_fd[name], test_fd[name], rtol=1e-6, err_msg=name)


def test_validate_weights_names_the_bad_key(setup):
    weights, _, _ = setup
    with pytest.raises(ValueError, match="W2"):
        bp.validate_weights({**weights, "W2": np.zeros((3, 1))})
    with pytest.raises(ValueError, match="b1"):
        bp.validate_weights({k: v for k, v in weights.items() if k != "b1"})


# --- automatic differentiation by the Keras backend ----------------------------------------


def test_keras_autodiff_matches_analytic_in_float64(setup):
    weights, X, Y = setup
    autodiff = bp.keras_autodiff_gradients(weights, X, Y)
    analytic = bp.gradients(weights, X, Y)
    for name in bp.PARAMETER_NAMES:
        assert autodiff[name].shape == np.shape(weights[name])
        np.testing.assert_allclose(autodiff[name], analytic[name], rtol=1e-10, err_msg=name)


def _other_installed_backends():
    import keras

    active = keras.backend.backend()
    return [b for b in ("tensorflow", "jax", "torch") if b != active and importlib.util.find_spec(b)]


@pytest.mark.slow  # trains a CNN for a while, or starts another backend in a subprocess
@pytest.mark.parametrize("backend", _other_installed_backends())
def test_keras_autodiff_on_other_backend(backend):
    script = (
        "import json; from coursebook.course import backprop as bp\n"
        "w, X, Y = bp.assignment_setup()\n"
        "a, b = bp.keras_autodiff_gradients(w, X, Y), bp.gradients(w, X, Y)\n"
        "print(json.dumps({n: float(bp.relative_error(a[n], b[n]).max()) for n in bp.PARAMETER_NAMES}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(paths.ROOT)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert max(errors.values()) < 1e-10, errors


# --- pieces: backward against finite differences of forward --------------------------------

values = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@st.composite
def affine_inputs(draw):
    """x (N, n), W (m, n) and b (m,), or the single-unit form W (n,), b ()."""
    n_samples, n_in = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    out_shape = draw(st.sampled_from([(), (1,), (2,), (3,)]))
    x = draw(arrays(np.float64, (n_samples, n_in), elements=values))
    W = draw(arrays(np.float64, (*out_shape, n_in), elements=values))
    b = draw(arrays(np.float64, out_shape, elements=values))
    upstream = draw(arrays(np.float64, (n_samples, *out_shape), elements=values))
    return x, W, b, upstream


@settings(max_examples=40, deadline=None)
@given(affine_inputs())
def test_affine_backward_matches_finite_differences(inputs):
    x, W, b, upstream = inputs
    assert bp.affine_forward(x, W, b).shape == upstream.shape
    projected = lambda: np.sum(upstream * bp.affine_forward(x, W, b))  # noqa: E731
    d_x, d_W, d_b = bp.affine_backward(upstream, x, W)
    for analytic, variable in [(d_x, x), (d_W, W), (d_b, b)]:
        assert analytic.shape == variable.shape
        np.testing.assert_allclose(analytic, numeric_gradient(projected, variable), rtol=1e-6, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (n, 2), elements=st.floats(-8, 8)), arrays(np.float64, (n, 2), elements=values)
        )
    )
)
def test_sigmoid_backward_matches_finite_differences(inputs):
    z, upstream = inputs
    s = bp.sigmoid_forward(z)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-z)), rtol=1e-14)
    projected = lambda: np.sum(np.abs(upstream * bp.sigmoid_forward(z)))  # noqa: E731 - the size of f, for rounding
    numeric = numeric_gradient(lambda: np.sum(upstream * bp.sigmoid_forward(z)), z)
    np.testing.assert_allclose(bp.sigmoid_backward(upstream, s), numeric, rtol=1e-6, atol=rounding_error(projected()))


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(bp.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(arrays(np.float64, (n,), elements=values), arrays(np.float64, (n,), elements=values))
    )
)
def test_half_mse_backward_matches_finite_differences(inputs):
    y, y_true = inputs
    assert bp.half_mse_forward(y, y_true) == pytest.approx(np.mean((y - y_true) ** 2) / 2, abs=1e-15)
    numeric = numeric_gradient(lambda: bp.half_mse_forward(y, y_true), y)
    np.testing.assert_allclose(
        bp.half_mse_backward(y, y_true), numeric, rtol=1e-6, atol=rounding_error(bp.half_mse_forward(y, y_true))
    )


# --- training and reporting ----------------------------------------------------------------


def test_gradient_descent_decreases_loss_monotonically(setup):
    weights, X, Y = setup
    before = {name: value.copy() for name, value in weights.items()}
    final, losses = bp.train(weights, X, Y, steps=30, learning_rate=0.5)
    assert losses.shape == (31,)
    assert np.all(np.diff(losses) < 0)
    assert losses[0] == pytest.approx(reference_loss(weights, X, Y), rel=1e-12)
    assert losses[-1] == pytest.approx(reference_loss(final, X, Y), rel=1e-12)
    for name in bp.PARAMETER_NAMES:
        np.testing.assert_array_equal(weights[name], before[name])  # input left unchanged


def test_one_training_step_moves_against_numeric_gradient(setup):
    weights, X, Y = setup
    learning_rate = 0.3
    final, _ = bp.train(weights, X, Y, steps=1, learning_rate=learning_rate)
    numeric = network_numeric_gradients(weights, X, Y)
    for name in bp.PARAMETER_NAMES:
        step_direction = (weights[name] - final[name]) / learning_rate
        assert np.max(relative_errors(step_direction, numeric[name])) < NETWORK_RTOL, name


def test_train_rejects_nonpositive_learning_rate(setup):
    weights, X, Y = setup
    with pytest.raises(ValueError, match="learning_rate=0"):
        bp.train(weights, X, Y, steps=3, learning_rate=0)


def test_gradient_table_has_one_row_per_entry_with_small_errors(setup):
    weights, X, Y = setup
    table = bp.gradient_table(weights, X, Y)
    assert len(table) == 6 + 3 + 3 + 1
    assert list(table.columns) == [
        "parameter",
        "index",
        "analytic",
        "finite_difference",
        "autodiff",
        "rel_error_finite_difference",
        "rel_error_autodiff",
    ]
    w1_rows = table.loc[table.parameter == "W1", "index"].tolist()
    assert w1_rows == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    numeric = network_numeric_gradients(weights, X, Y)
    expected_b1 = numeric["b1"]
    np.testing.assert_allclose(table.loc[table.parameter == "b1", "analytic"], expected_b1, rtol=1e-6)
    assert table.rel_error_finite_difference.max() < NETWORK_RTOL
    assert table.rel_error_autodiff.max() < 1e-10


def test_gradient_table_without_autodiff(setup):
    weights, X, Y = setup
    table = bp.gradient_table(weights, X, Y, autodiff=False)
    assert "autodiff" not in table.columns and len(table) == 13


# --- the page: the assignment's seed always, another seed beside it ------------------------

# typed from the assignment (Part 1): "np.random.seed(0)", "close to L = 0.133 and
# dL/db1 = [0.00492, -0.000581, -0.00066]"
ASSIGNMENT = {"reference_seed": 0, "stated_loss": 0.133, "stated_db1": [0.00492, -0.000581, -0.00066]}


def verbatim_setup(seed):
    """The assignment's set-up lines, verbatim, with ``seed`` in np.random.seed."""
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        weights = {"W1": np.random.randn(3, 2), "b1": np.zeros(3), "W2": np.random.randn(3), "b2": np.zeros(())}
        return weights, np.random.rand(1000, 2), np.random.randint(low=0, high=2, size=(1000,))
    finally:
        np.random.set_state(saved)


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_every_profile_and_any_page_seed_keeps_the_assignments_reference(profile):
    from coursebook.book import params

    values = params.resolve("aml-p1-backprop", profile, {"seed": 3}).values
    assert {key: values[key] for key in ASSIGNMENT} == ASSIGNMENT and values["seed"] == 3


def test_the_reference_run_reports_the_assignments_values_computed_independently():
    from coursebook.course.prose import backprop_checks

    stated = backprop_checks.Stated(
        ASSIGNMENT["reference_seed"], ASSIGNMENT["stated_loss"], tuple(ASSIGNMENT["stated_db1"])
    )
    weights, X, Y = verbatim_setup(0)
    expected_loss = reference_loss(weights, X, Y)
    expected_db1 = network_numeric_gradients(weights, X, Y)["b1"]
    assert round(expected_loss, 3) == 0.133
    run = backprop_checks.run_seed(0, fd_epsilon=EPS, steps=3, learning_rate=5.0, stated=stated)
    assert run.checks.loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(run.checks.db1, expected_db1, rtol=1e-6)
    assert run.checks.stated_loss == 0.133
    assert f"this run gives L = {expected_loss:.4f} (matching to the 3 decimals stated)" in run.checks.text
    assert "dL/db1 = [" + ", ".join(f"{v:.4g}" for v in expected_db1) + "]" in run.checks.text
    assert run.baseline == pytest.approx(np.var(Y) / 2)
    from coursebook.course import answers

    answer = answers.backprop(run.checks, run.losses, backprop_checks.training_verdict(run.losses, run.baseline))
    assert f"L = {expected_loss:.4f} (the assignment: about 0.133)" in answer


def test_another_seed_is_a_second_run_beside_the_reference():
    from coursebook.course.prose import backprop_checks

    stated = backprop_checks.Stated(0, 0.133, (0.00492, -0.000581, -0.00066))
    runs = [
        backprop_checks.run_seed(seed, fd_epsilon=EPS, steps=2, learning_rate=5.0, stated=stated) for seed in (0, 3)
    ]
    weights, X, Y = verbatim_setup(3)
    expected = reference_loss(weights, X, Y)
    assert runs[1].checks.loss == pytest.approx(expected, rel=1e-12) and runs[1].checks.stated_loss is None
    text = backprop_checks.seeds_text(runs, stated)
    assert f"seed 3 draws other weights, points and labels with the same setup: L = {expected:.4f}" in text
    assert "not comparable" in text
    table = backprop_checks.runs_table(runs)
    assert list(table["seed"]) == [0, 3]
    assert list(table["L"]) == [round(reference_loss(*verbatim_setup(s)), 4) for s in (0, 3)]
    assert "only run" in backprop_checks.seeds_text(runs[:1], stated)
