"""The activation functions return what the notebook says, stably and in the input's dtype."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchnn import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from scratchnn.activations import ACTIVATIONS

ELEMENTWISE = [sigmoid, relu, tanh, leaky_relu]
EXTREMES = np.array([-1000.0, -745.0, -50.0, -1e-3, 1e-3, 50.0, 745.0, 1000.0])


def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def strict_float_errors():
    """Overflow, division by zero and invalid operations raise; underflow to 0 stays allowed,
    since e^-1000 rounding to 0.0 is the exact answer in floating point, not a failure."""
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


# -- what the notebook says ------------------------------------------------------------------------
def test_sigmoid_values_and_derivative_at_zero():
    assert sigmoid(0.0) == 0.5
    assert sigmoid(0.0, derivative=True) == 0.25
    x = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15, atol=1e-15)
    s = sigmoid(x)
    np.testing.assert_allclose(sigmoid(x, derivative=True), s * (1 - s), rtol=1e-15)


def test_relu_and_its_derivative_is_one_above_zero_else_zero():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(relu(x), [0, 0, 0, 0.5, 3.0])
    np.testing.assert_array_equal(relu(x, derivative=True), [0, 0, 0, 1, 1])


def test_tanh_and_its_derivative():
    assert tanh(0.0, derivative=True) == 1.0
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(tanh(x), np.tanh(x))
    np.testing.assert_allclose(tanh(x, derivative=True), 1 - np.tanh(x) ** 2)


def test_leaky_relu_uses_alpha_on_the_negative_side():
    x = np.array([-4.0, -1.0, 2.0])
    np.testing.assert_allclose(leaky_relu(x), [-0.04, -0.01, 2.0])
    np.testing.assert_allclose(leaky_relu(x, alpha=0.2), [-0.8, -0.2, 2.0])
    np.testing.assert_array_equal(leaky_relu(x, alpha=0.2, derivative=True), [0.2, 0.2, 1.0])


@pytest.mark.parametrize("f", ELEMENTWISE, ids=lambda f: f.__name__)
def test_derivative_matches_central_differences(f):
    # Points away from the kink at 0 of relu and leaky_relu.
    x = np.array([-2.5, -1.0, -0.3, 0.4, 1.2, 3.0])
    np.testing.assert_allclose(f(x, derivative=True), central_difference(f, x), atol=1e-8)


def test_softmax_rows_sum_to_one_and_keep_the_order(rng):
    x = rng.normal(size=(7, 5)) * 4
    s = softmax(x)
    assert s.shape == (7, 5)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-14)
    assert (s > 0).all()
    np.testing.assert_array_equal(s.argmax(axis=1), x.argmax(axis=1))
    # Adding a constant to a row does not change its softmax.
    np.testing.assert_allclose(softmax(x + 123.0), s, rtol=1e-12)
    np.testing.assert_allclose(softmax(x[0]), s[0], rtol=1e-14)
    np.testing.assert_allclose(softmax(np.zeros((2, 4))), 0.25)


def test_log_softmax_is_the_log_of_softmax(rng):
    x = rng.normal(size=(4, 6))
    np.testing.assert_allclose(log_softmax(x), np.log(softmax(x)), rtol=1e-13)


def finite_difference_jacobian(x, h=1e-6):
    """J[b, i, j] = d softmax(x_b)_i / d x_bj, one column j at a time for every row."""
    batch, n = x.shape
    jac = np.empty((batch, n, n))
    for j in range(n):
        step = np.zeros_like(x)
        step[:, j] = h
        jac[:, :, j] = (softmax(x + step) - softmax(x - step)) / (2 * h)
    return jac


def test_softmax_derivative_is_the_per_row_jacobian(rng):
    x = rng.normal(size=(6, 4)) * 2
    jac = softmax(x, derivative=True)
    assert jac.shape == (6, 4, 4)
    np.testing.assert_allclose(jac, finite_difference_jacobian(x), atol=1e-9)
    # Each row of J sums to 0 (softmax outputs always sum to 1), and J is symmetric.
    np.testing.assert_allclose(jac.sum(axis=2), 0.0, atol=1e-15)
    np.testing.assert_allclose(jac, jac.transpose(0, 2, 1))


def test_softmax_derivative_of_one_vector_is_a_square_matrix():
    x = np.array([1.0, 2.0, 0.5])
    s = softmax(x)
    np.testing.assert_allclose(softmax(x, derivative=True), np.diag(s) - np.outer(s, s))


def test_softmax_refuses_three_dimensions():
    with pytest.raises(ValueError, match="1-D or 2-D array, got shape \\(2, 3, 4\\)"):
        softmax(np.zeros((2, 3, 4)))


def test_activations_are_registered_by_name():
    assert ACTIVATIONS == {
        "sigmoid": sigmoid, "relu": relu, "tanh": tanh, "leaky_relu": leaky_relu,
        "softmax": softmax,
    }


# -- numerical stability -----------------------------------------------------------------------
@pytest.mark.parametrize("f", ELEMENTWISE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("derivative", [False, True])
def test_elementwise_activations_are_stable_for_large_inputs(f, derivative):
    with warnings.catch_warnings(), strict_float_errors():
        warnings.simplefilter("error")
        out = f(EXTREMES, derivative=derivative)
    assert np.isfinite(out).all()


def test_sigmoid_saturates_to_exactly_zero_and_one():
    with warnings.catch_warnings(), strict_float_errors():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0])
        np.testing.assert_array_equal(sigmoid(np.array([-1000.0, 1000.0]), True), [0.0, 0.0])
        np.testing.assert_array_equal(tanh(np.array([-1000.0, 1000.0])), [-1.0, 1.0])


def test_softmax_and_log_softmax_are_stable_for_large_inputs():
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 0.0]])
    with warnings.catch_warnings(), strict_float_errors():
        warnings.simplefilter("error")
        s = softmax(x)
        jac = softmax(x, derivative=True)
        logs = log_softmax(x)
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]])
    assert np.isfinite(jac).all()
    np.testing.assert_allclose(logs[0], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(logs[2, :2], -np.log(2))


# -- dtype -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("f", [*ELEMENTWISE, softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize("derivative", [False, True])
def test_float32_stays_float32(f, derivative, rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    assert f(x, derivative=derivative).dtype == np.float32
    assert f(x.astype(np.float64), derivative=derivative).dtype == np.float64


@pytest.mark.parametrize("f", [*ELEMENTWISE, softmax], ids=lambda f: f.__name__)
def test_integer_input_gives_float64(f):
    out = f(np.array([[-2, 0, 3]]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, f(np.array([[-2.0, 0.0, 3.0]])))


def test_log_softmax_keeps_float32():
    assert log_softmax(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
