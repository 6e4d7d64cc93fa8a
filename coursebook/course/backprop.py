"""A 2-3-1 sigmoid network trained by hand-written backpropagation (aml-hw4-q3, Part 1).

Built in micrograd's manner: each piece (affine map, sigmoid, half mean squared error) has
a forward and a backward of a few lines, and the network's ``forward``/``backward`` compose
them. The analytic gradients are checked two independent ways: central finite differences
(``finite_difference_gradients``) and the active Keras backend's automatic differentiation
(``keras_autodiff_gradients``). Only numpy is imported at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Params = dict[str, np.ndarray]
"""Network weights or their gradients, keyed by PARAMETER_NAMES."""

PARAMETER_NAMES = ("W1", "b1", "W2", "b2")
PARAMETER_SHAPES = {"W1": (3, 2), "b1": (3,), "W2": (3,), "b2": ()}


# --- data and weights ------------------------------------------------------------------


def assignment_setup(seed: int = 0) -> tuple[Params, np.ndarray, np.ndarray]:
    """Weights, inputs X (1000, 2) and 0/1 targets Y (1000,), drawn as the assignment does.

    The draws are those of ``np.random.seed(seed)`` followed by randn(3, 2), randn(3),
    rand(1000, 2), randint(0, 2, 1000), taken from a private legacy RandomState so the
    global numpy state is left alone. All weights are float64 arrays (b2 has shape ()).
    """
    rng = np.random.RandomState(seed)
    weights = {"W1": rng.randn(3, 2), "b1": np.zeros(3), "W2": rng.randn(3), "b2": np.zeros(())}
    X = rng.rand(1000, 2)
    Y = rng.randint(low=0, high=2, size=(1000,))
    return weights, X, Y


def validate_weights(weights: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError naming the key if ``weights`` lacks a parameter or has a wrong shape."""
    missing = [name for name in PARAMETER_NAMES if name not in weights]
    if missing:
        raise ValueError(f"weights lack {missing}; expected keys {PARAMETER_NAMES}")
    for name, shape in PARAMETER_SHAPES.items():
        if np.shape(weights[name]) != shape:
            raise ValueError(f"weights[{name!r}] has shape {np.shape(weights[name])}, expected {shape}")


def copy_weights(weights: Mapping[str, np.ndarray]) -> Params:
    """Independent float64 copies of every parameter (so updates never alias the input)."""
    return {name: np.array(weights[name], dtype=np.float64) for name in PARAMETER_NAMES}


# --- pieces: forward and backward ------------------------------------------------------


def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z = x W^T + b for x (N, n). W (m, n), b (m,) give z (N, m); W (n,), b () give z (N,)."""
    return x @ W.T + b


def affine_backward(d_z: np.ndarray, x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (d_x, d_W, d_b) of the affine piece, given d_z = dL/dz."""
    d_z2 = d_z.reshape(len(x), -1)  # a single output unit becomes one column
    d_x = d_z2 @ W.reshape(d_z2.shape[1], -1)
    d_W = (d_z2.T @ x).reshape(W.shape)
    d_b = d_z2.sum(axis=0).reshape(W.shape[:-1])
    return d_x, d_W, d_b


def sigmoid_forward(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid 1 / (1 + e^-z), written to avoid overflow for large |z|."""
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_backward(d_s: np.ndarray, s: np.ndarray) -> np.ndarray:
    """dL/dz from d_s = dL/ds and the forward output s = sigmoid(z): s' = s (1 - s)."""
    return d_s * s * (1.0 - s)


def half_mse_forward(y: np.ndarray, y_true: np.ndarray) -> float:
    """L = 1/(2N) * sum((y - y_true)^2)."""
    return float(np.sum((y - y_true) ** 2) / (2 * len(y)))


def half_mse_backward(y: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """dL/dy = (y - y_true) / N."""
    return (y - y_true) / len(y)


# --- the network -----------------------------------------------------------------------


class ForwardCache(NamedTuple):
    """Intermediate values of the forward pass, kept for the backward pass."""

    Z1: np.ndarray  # hidden pre-activations (N, 3)
    H: np.ndarray  # hidden activations (N, 3)
    Z2: np.ndarray  # output pre-activations (N,)
    Y: np.ndarray  # network outputs (N,)


def forward(weights: Mapping[str, np.ndarray], X: np.ndarray) -> ForwardCache:
    """Run the 2-3-1 sigmoid network on X (N, 2)."""
    Z1 = affine_forward(X, weights["W1"], weights["b1"])
    H = sigmoid_forward(Z1)
    Z2 = affine_forward(H, weights["W2"], weights["b2"])
    return ForwardCache(Z1=Z1, H=H, Z2=Z2, Y=sigmoid_forward(Z2))


def backward(weights: Mapping[str, np.ndarray], X: np.ndarray, Y_true: np.ndarray, cache: ForwardCache) -> Params:
    """Gradients of the half-MSE loss with respect to W1, b1, W2, b2 (same shapes)."""
    d_Z2 = sigmoid_backward(half_mse_backward(cache.Y, Y_true), cache.Y)
    d_H, d_W2, d_b2 = affine_backward(d_Z2, cache.H, weights["W2"])
    d_Z1 = sigmoid_backward(d_H, cache.H)
    _, d_W1, d_b1 = affine_backward(d_Z1, X, weights["W1"])
    return {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}


def loss(weights: Mapping[str, np.ndarray], X: np.ndarray, Y_true: np.ndarray) -> float:
    """Half mean squared error of the network's outputs on (X, Y_true)."""
    return half_mse_forward(forward(weights, X).Y, Y_true)


def gradients(weights: Mapping[str, np.ndarray], X: np.ndarray, Y_true: np.ndarray) -> Params:
    """Analytic gradients: a forward pass followed by the backward pass."""
    return backward(weights, X, Y_true, forward(weights, X))


# --- independent checks ----------------------------------------------------------------


def finite_difference_gradients(
    weights: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, eps: float = 1e-6
) -> Params:
    """Central differences (L(w + eps) - L(w - eps)) / (2 eps) for every entry of every parameter."""
    probe = copy_weights(weights)
    grads = {}
    for name in PARAMETER_NAMES:
        grads[name] = np.zeros_like(probe[name])
        for index in np.ndindex(probe[name].shape):
            original = probe[name][index]
            probe[name][index] = original + eps
            loss_plus = loss(probe, X, Y)
            probe[name][index] = original - eps
            loss_minus = loss(probe, X, Y)
            probe[name][index] = original
            grads[name][index] = (loss_plus - loss_minus) / (2 * eps)
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise |a - b| / max(|a|, |b|), taken as 0 where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.finfo(np.float64).tiny)
    return np.abs(a - b) / scale


def _keras_loss(params: Mapping, X, Y_true):
    """The same half-MSE loss of the same network, written with keras.ops (any backend)."""
    from keras import ops

    H = ops.sigmoid(ops.matmul(X, ops.transpose(params["W1"])) + params["b1"])
    Y = ops.sigmoid(ops.matmul(H, params["W2"]) + params["b2"])
    return ops.sum(ops.square(Y - Y_true)) / (2 * X.shape[0])


def backend_gradient(loss_fn: Callable, params: Mapping[str, np.ndarray], *args: np.ndarray) -> Params:
    """Gradient of ``loss_fn(params, *args)`` with respect to ``params``, by the active
    Keras backend's own autodiff, in float64:

    - tensorflow: ``tf.GradientTape`` watching the parameter tensors;
    - jax: ``jax.grad`` inside ``jax.enable_x64(True)`` (JAX is float32 unless told);
    - torch: ``torch.autograd.grad`` on tensors created with ``requires_grad=True``.

    Keras 3 has no backend-neutral gradient function, so this is the one place that names
    the backends.
    """
    import keras

    backend = keras.backend.backend()
    names = list(params)
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = {name: tf.constant(params[name], dtype=tf.float64) for name in names}
        constants = [tf.constant(arg, dtype=tf.float64) for arg in args]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = loss_fn(tensors, *constants)
        grads = tape.gradient(value, tensors)
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        try:
            from jax import enable_x64
        except ImportError:  # JAX before 0.7 (the older pins, for Python 3.10 to 3.11.4)
            from jax.experimental import enable_x64

        with enable_x64(True):
            tensors = {name: jnp.asarray(params[name], dtype=jnp.float64) for name in names}
            constants = [jnp.asarray(arg, dtype=jnp.float64) for arg in args]
            grads = jax.grad(loss_fn)(tensors, *constants)
            grads = {name: np.asarray(grad) for name, grad in grads.items()}
    elif backend == "torch":
        import torch

        tensors = {name: torch.tensor(params[name], dtype=torch.float64, requires_grad=True) for name in names}
        constants = [torch.tensor(arg, dtype=torch.float64) for arg in args]
        value = loss_fn(tensors, *constants)
        grads = dict(zip(names, torch.autograd.grad(value, [tensors[name] for name in names]), strict=True))
    else:
        raise ValueError(f"keras backend {backend!r} is not supported; use tensorflow, jax or torch")
    return {name: np.asarray(keras.ops.convert_to_numpy(grads[name]), dtype=np.float64) for name in names}


def keras_autodiff_gradients(weights: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Params:
    """Gradients of the loss by the active Keras backend's automatic differentiation."""
    validate_weights(weights)
    return backend_gradient(_keras_loss, copy_weights(weights), np.asarray(X), np.asarray(Y))


# --- training and reporting ------------------------------------------------------------


def train(
    weights: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, steps: int, learning_rate: float
) -> tuple[Params, np.ndarray]:
    """Full-batch gradient descent from ``weights`` (left unchanged).

    Returns the final weights and the losses before each step and after the last one
    (``steps + 1`` values).
    """
    validate_weights(weights)
    if steps < 0 or learning_rate <= 0:
        raise ValueError(f"need steps >= 0 and learning_rate > 0, got steps={steps}, learning_rate={learning_rate}")
    current = copy_weights(weights)
    losses = np.empty(steps + 1)
    for step in range(steps):
        cache = forward(current, X)
        losses[step] = half_mse_forward(cache.Y, Y)
        grads = backward(current, X, Y, cache)
        current = {name: current[name] - learning_rate * grads[name] for name in PARAMETER_NAMES}
    losses[steps] = loss(current, X, Y)
    return current, losses


def gradient_table(
    weights: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, eps: float = 1e-6, autodiff: bool = True
) -> pd.DataFrame:
    """One row per parameter entry: analytic, finite-difference and (optionally) Keras-autodiff
    gradients, with each check's relative error to the analytic value."""
    validate_weights(weights)
    methods = {
        "analytic": gradients(weights, X, Y),
        "finite_difference": finite_difference_gradients(weights, X, Y, eps),
    }
    if autodiff:
        methods["autodiff"] = keras_autodiff_gradients(weights, X, Y)
    return _table_from_gradients(methods)


def _table_from_gradients(methods: Mapping[str, Params]) -> pd.DataFrame:
    """Long table of gradient entries; columns per method plus relative errors to the first method."""
    import pandas as pd

    reference, *checks = methods
    rows = []
    for name in PARAMETER_NAMES:
        for index in np.ndindex(np.shape(methods[reference][name])):
            row = {"parameter": name, "index": index}
            row.update({method: float(grads[name][index]) for method, grads in methods.items()})
            row.update({f"rel_error_{m}": float(relative_error(row[reference], row[m])) for m in checks})
            rows.append(row)
    return pd.DataFrame(rows)
