"""The layer contract (params/grads, no in-place changes, dtype), each layer's maths and its errors.

Gradients are also checked by finite differences (test_gradcheck.py) and against PyTorch
(test_oracle_torch.py); here are the contracts and the values that can be worked out by hand.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from scratchnn import (
    DropoutLayer,
    IdentityLayer,
    Layer,
    LeakyReLULayer,
    LinearLayer,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
    softmax,
)
from scratchnn.layers import ACTIVATION_LAYERS, activation_layer

N_IN = 4


def run(layer, x, rng):
    """Forward x, backward a random upstream gradient; returns (out, grad_z, dL/dx)."""
    out = layer.forward(x)
    grad_z = rng.normal(size=out.shape).astype(out.dtype)
    return out, grad_z, layer.backward(grad_z)


# -- the contract, for every layer -----------------------------------------------------------------
def test_params_and_grads_have_the_same_names_and_shapes(make_layer, rng):
    layer = make_layer(N_IN, np.float64)
    assert set(layer.params) == set(layer.grads)
    for name, p in layer.params.items():
        assert layer.grads[name].shape == p.shape
        assert layer.grads[name].dtype == p.dtype
    assert layer.n_params == sum(p.size for p in layer.params.values())
    run(layer, rng.normal(size=(5, N_IN)), rng)
    assert set(layer.params) == set(layer.grads)


def test_linear_layer_parameter_layout():
    layer = LinearLayer(5, 3)
    assert layer.params["W"].shape == (5, 3)
    assert layer.params["b"].shape == (1, 3)
    assert set(layer.params) == {"W", "b"}
    assert layer.n_params == 18
    np.testing.assert_array_equal(layer.params["b"], 0.0)


def test_backward_does_not_change_grad_z_or_x_in_place(make_layer, rng):
    layer = make_layer(N_IN, np.float64)
    x = rng.normal(size=(6, N_IN))
    x_copy = x.copy()
    out = layer.forward(x)
    grad_z = rng.normal(size=out.shape)
    grad_copy = grad_z.copy()
    grad_x = layer.backward(grad_z)
    np.testing.assert_array_equal(grad_z, grad_copy)
    np.testing.assert_array_equal(x, x_copy)
    # Nor may the returned gradient alias grad_z: the caller may change one and keep the other.
    assert not np.shares_memory(grad_x, grad_z)
    grad_x[...] = 7.0
    np.testing.assert_array_equal(grad_z, grad_copy)


def test_backward_returns_the_input_shape(make_layer, rng):
    layer = make_layer(N_IN, np.float64)
    x = rng.normal(size=(3, N_IN))
    _, _, grad_x = run(layer, x, rng)
    assert grad_x.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_and_backward(make_layer, dtype, rng):
    layer = make_layer(N_IN, dtype)
    out, _, grad_x = run(layer, rng.normal(size=(3, N_IN)).astype(dtype), rng)
    assert out.dtype == dtype
    assert grad_x.dtype == dtype
    for g in layer.grads.values():
        assert g.dtype == dtype


def test_backward_before_forward_is_refused(make_layer):
    layer = make_layer(N_IN, np.float64)
    with pytest.raises(ValueError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3)))


def test_grad_z_of_the_wrong_shape_is_refused(make_layer, rng):
    layer = make_layer(N_IN, np.float64)
    out = layer.forward(rng.normal(size=(2, N_IN)))
    expected = rf"grad_z has shape \(3, 7\) but .* shape {re.escape(str(out.shape))}; they must"
    with pytest.raises(ValueError, match=expected):
        layer.backward(np.ones((3, 7)))


@pytest.mark.parametrize("bad_x, message", [
    (np.ones(N_IN), r"x must be a 2-D array .* got 1-D array of shape \(4,\)\. For one sample"),
    (np.array([[1.0, np.nan, 0.0, 0.0]]), "x contains 1 NaN or infinite value"),
    (np.array([[1.0, np.inf, -np.inf, 0.0]]), "x contains 2 NaN or infinite value"),
])
def test_bad_input_is_refused(make_layer, bad_x, message):
    # The clear error comes first: no RuntimeWarning from NumPy on the way.
    with warnings.catch_warnings(), pytest.raises(ValueError, match=message):
        warnings.simplefilter("error")
        make_layer(N_IN, np.float64).forward(bad_x)


def test_layers_for_rows_refuse_more_axes_and_elementwise_ones_take_any(make_layer, rng):
    layer = make_layer(N_IN, np.float64)
    x = rng.normal(size=(2, 3, N_IN))
    if isinstance(layer, (LinearLayer, SoftmaxLayer)):
        with pytest.raises(ValueError, match=r"x must be a 2-D array .* got 3-D array of shape "
                                             r"\(2, 3, 4\)"):
            layer.forward(x)
    else:
        assert layer.elementwise
        out = layer.forward(x)
        assert out.shape == x.shape
        assert layer.backward(np.ones_like(out)).shape == x.shape


def test_huge_but_finite_float32_input_is_accepted_silently():
    x = np.full((3, N_IN), 3e38, dtype=np.float32)  # its sum overflows float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(IdentityLayer()(x), x)


def test_non_numeric_input_is_a_type_error(make_layer):
    with pytest.raises(TypeError, match="x must hold numbers"):
        make_layer(N_IN, np.float64).forward(np.array([["a", "b", "c", "d"]]))


def test_input_grad_false_skips_the_input_gradient_but_fills_grads(rng):
    layer = LinearLayer(3, 2, dtype=np.float64, rng=1)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(x)
    assert layer.backward(g, input_grad=False) is None
    np.testing.assert_allclose(layer.grads["W"], x.T @ g)
    np.testing.assert_allclose(layer.grads["b"], g.sum(axis=0, keepdims=True))


# -- each layer's maths ----------------------------------------------------------------------------
def test_linear_layer_forward_and_backward_by_hand():
    layer = LinearLayer(2, 3, dtype=np.float64)
    layer.params["W"][...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.params["b"][...] = [[0.5, -0.5, 1.0]]
    x = np.array([[1.0, 0.0], [2.0, -1.0]])
    np.testing.assert_array_equal(layer(x), [[1.5, 1.5, 4.0], [-1.5, -1.5, 1.0]])
    g = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(layer.backward(g), [[1.0, 4.0], [5.0, 11.0]])
    np.testing.assert_array_equal(layer.grads["W"], [[1.0, 2.0, 2.0], [0.0, -1.0, -1.0]])
    np.testing.assert_array_equal(layer.grads["b"], [[1.0, 1.0, 1.0]])


def test_gradients_are_overwritten_not_accumulated(rng):
    layer = LinearLayer(3, 2, dtype=np.float64, rng=0)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(x)
    layer.backward(g)
    first = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.forward(x)
    layer.backward(g)
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, first[name])


def test_update_params_is_plain_gradient_descent(rng):
    layer = LinearLayer(3, 2, dtype=np.float64, rng=0)
    layer.forward(rng.normal(size=(4, 3)))
    layer.backward(rng.normal(size=(4, 2)))
    before = {name: p.copy() for name, p in layer.params.items()}
    arrays = {name: p for name, p in layer.params.items()}
    layer.update_params(0.1)
    for name, p in layer.params.items():
        np.testing.assert_allclose(p, before[name] - 0.1 * layer.grads[name], rtol=1e-15)
        assert p is arrays[name]  # updated in place: optimizers may hold on to the arrays


@pytest.mark.parametrize("layer_cls, f, df", [
    (ReLULayer, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    (SigmoidLayer, lambda x: 1 / (1 + np.exp(-x)),
     lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (TanhLayer, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    (IdentityLayer, lambda x: x, np.ones_like),
])
def test_elementwise_layers(layer_cls, f, df, rng):
    layer = layer_cls()
    x = rng.normal(size=(5, 3)) * 2
    out, g, grad_x = run(layer, x, rng)
    np.testing.assert_allclose(out, f(x), rtol=1e-14)
    np.testing.assert_allclose(grad_x, g * df(x), rtol=1e-12, atol=1e-15)


def test_leaky_relu_layer(rng):
    layer = LeakyReLULayer(alpha=0.2)
    x = np.array([[-2.0, 3.0], [0.5, -0.1]])
    np.testing.assert_allclose(layer(x), [[-0.4, 3.0], [0.5, -0.02]])
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(layer.backward(g), [[0.2, 2.0], [3.0, 0.8]])
    assert repr(layer) == "LeakyReLULayer(alpha=0.2)"
    assert LeakyReLULayer().alpha == 0.01


def test_softmax_backward_is_the_vector_jacobian_product(rng):
    layer = SoftmaxLayer()
    x = rng.normal(size=(5, 4))
    out, g, grad_x = run(layer, x, rng)
    np.testing.assert_allclose(out, softmax(x))
    # dL/dx_b = J_b^T g_b with the full (C, C) Jacobian of each row.
    expected = np.einsum("bij,bi->bj", softmax(x, derivative=True), g)
    np.testing.assert_allclose(grad_x, expected, rtol=1e-12, atol=1e-15)
    # The notebook draft summed the Jacobian's rows and got zeros; this one must not.
    assert np.abs(grad_x).max() > 1e-3


def test_dropout_training_zeroes_about_p_and_rescales_the_rest(rng):
    layer = DropoutLayer(p=0.25, rng=0)
    x = rng.uniform(1.0, 2.0, size=(400, 50))
    out = layer(x)
    dropped = out == 0
    assert dropped.mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(out[~dropped], x[~dropped] / 0.75, rtol=1e-15)
    # Inverted dropout keeps the expected activation.
    assert out.mean() == pytest.approx(x.mean(), rel=0.01)


def test_dropout_backward_uses_the_forward_mask(rng):
    layer = DropoutLayer(p=0.5, rng=3)
    x = rng.uniform(1.0, 2.0, size=(20, 10))
    out = layer(x)
    g = rng.normal(size=out.shape)
    np.testing.assert_allclose(layer.backward(g), g * out / x, rtol=1e-15)


def test_dropout_masks_change_between_calls_and_repeat_with_a_seed(rng):
    x = np.ones((30, 30))
    a, b = DropoutLayer(0.5, rng=7), DropoutLayer(0.5, rng=7)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))


def test_dropout_is_the_identity_in_evaluation_and_with_p_zero(rng):
    x = rng.normal(size=(6, 5))
    layer = DropoutLayer(p=0.9, rng=0)
    layer.training = False
    np.testing.assert_array_equal(layer(x), x)
    g = rng.normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(g), g)
    np.testing.assert_array_equal(DropoutLayer(p=0.0)(x), x)


def test_dropout_float32_mask_keeps_float32():
    out = DropoutLayer(0.5, rng=0)(np.ones((4, 4), dtype=np.float32))
    assert out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, 2.0}


# -- dtype of LinearLayer --------------------------------------------------------------------------
def test_linear_layer_is_float32_by_default_and_float64_on_request(rng):
    x64 = rng.normal(size=(3, 4))
    default = LinearLayer(4, 2, rng=0)
    assert all(p.dtype == np.float32 for p in default.params.values())
    # float64 input is computed in the layer's float32, never upcast.
    assert default(x64).dtype == np.float32
    assert default(x64.astype(int)).dtype == np.float32
    assert default.backward(np.ones((3, 2))).dtype == np.float32
    wide = LinearLayer(4, 2, rng=0, dtype=np.float64)
    assert all(p.dtype == np.float64 for p in wide.params.values())
    assert wide(x64.astype(np.float32)).dtype == np.float64
    np.testing.assert_allclose(default(x64), wide(x64), rtol=1e-5, atol=1e-6)


def test_linear_layer_refuses_other_dtypes():
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64, got float16"):
        LinearLayer(2, 2, dtype=np.float16)
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        LinearLayer(2, 2, dtype=int)


# -- construction ----------------------------------------------------------------------------------
def test_linear_layer_initialisation_is_repeatable_and_by_name():
    a, b = LinearLayer(6, 4, rng=5), LinearLayer(6, 4, rng=5)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], LinearLayer(6, 4, rng=6).params["W"])
    np.testing.assert_array_equal(LinearLayer(6, 4, init="zeros").params["W"], 0.0)
    assert np.abs(LinearLayer(6, 4, init="uniform", rng=0).params["W"]).max() > 0.9


def test_linear_layer_accepts_a_custom_initialiser():
    def ones(shape, rng=None, dtype=np.float32):
        return np.ones(shape, dtype=dtype)

    layer = LinearLayer(3, 2, init=ones)
    np.testing.assert_array_equal(layer.params["W"], 1.0)
    assert layer.init == "ones"
    with pytest.raises(ValueError, match=r"initialiser returned shape \(2, 3\), expected \(3, 2\)"):
        LinearLayer(3, 2, init=lambda shape, rng, dtype: np.ones(shape[::-1]))


def test_linear_layer_refuses_bad_sizes_and_unknown_initialisers():
    with pytest.raises(ValueError, match="n_in must be >= 1, got 0"):
        LinearLayer(0, 3)
    with pytest.raises(TypeError, match="n_out must be an integer, got 2.5"):
        LinearLayer(3, 2.5)
    with pytest.raises(ValueError, match="unknown initialiser 'glorious'"):
        LinearLayer(3, 2, init="glorious")


def test_linear_layer_names_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="x has 3 features, LinearLayer expects 4"):
        LinearLayer(4, 2)(np.ones((5, 3)))


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, np.nan])
def test_dropout_refuses_bad_probabilities(p):
    match = r"dropout probability p must be a finite number in \[0, 1\)"
    with pytest.raises(ValueError, match=match):
        DropoutLayer(p)


@pytest.mark.parametrize("p", [True, "0.5", None])
def test_dropout_refuses_non_numbers(p):
    with pytest.raises(TypeError, match="dropout probability p must be a number"):
        DropoutLayer(p)


@pytest.mark.parametrize("alpha", [-0.1, np.nan, np.inf])
def test_leaky_relu_refuses_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        LeakyReLULayer(alpha)


def test_activation_layers_by_name_are_new_instances():
    for name, cls in ACTIVATION_LAYERS.items():
        first, second = activation_layer(name), activation_layer(name.upper())
        assert type(first) is cls and type(second) is cls
        assert first is not second  # a shared instance would share its cache
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        activation_layer("swish")


def test_base_layer_has_no_maths_and_subclasses_reuse_the_contract(rng):
    with pytest.raises(NotImplementedError):
        Layer().forward(np.ones((1, 1)))

    class Scale(Layer):
        """a = c x with one learnable c."""

        def __init__(self):
            super().__init__()
            self.params = {"c": np.array([[2.0]])}
            self.grads = {"c": np.zeros((1, 1))}

        def forward(self, x):
            self._x = self._check_input(x)
            self._out = self._x * self.params["c"]
            return self._out

        def backward(self, grad_z, input_grad=True):
            g = self._check_grad(grad_z)
            self.grads["c"][...] = np.sum(g * self._x)
            return g * self.params["c"]

    layer = Scale()
    x = rng.normal(size=(3, 2))
    layer(x)
    layer.backward(np.ones((3, 2)))
    layer.update_params(0.5)
    assert layer.params["c"][0, 0] == pytest.approx(2.0 - 0.5 * x.sum())
    assert repr(layer) == "Scale()"


def test_reprs():
    assert repr(LinearLayer(3, 2)) == "LinearLayer(3, 2, dtype=float32)"
    assert repr(LinearLayer(3, 2, dtype=np.float64)) == "LinearLayer(3, 2, dtype=float64)"
    assert repr(ReLULayer()) == "ReLULayer()"
    assert repr(DropoutLayer(0.3)) == "DropoutLayer(p=0.3)"


def test_every_registered_layer_tells_its_array_shapes_from_its_settings():
    from scratchnn.layers import LAYERS

    examples = {"LinearLayer": dict(n_in=3, n_out=2), "Conv2D": dict(
        in_channels=2, out_channels=4, kernel_size=(3, 2)), "BatchNorm1D": dict(n_features=5),
        "BatchNorm2D": dict(channels=3), "Reshape": dict(shape=(2, 2)),
        "MaxPool2D": dict(kernel_size=2), "AvgPool2D": dict(kernel_size=2)}
    for name, cls in LAYERS.items():
        layer = cls(**examples.get(name, {}))
        expected = {kind: {k: a.shape for k, a in getattr(layer, kind).items()}
                    for kind in ("params", "state") if getattr(layer, kind)}
        assert cls.array_shapes(layer.get_config()) == expected, name
