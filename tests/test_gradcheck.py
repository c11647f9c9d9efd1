"""Finite differences agree with every layer, network and loss, and catch deliberately wrong ones.

All checks are in float64 with central differences and must reach a relative error below 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    DropoutLayer,
    Layer,
    LinearLayer,
    MAELoss,
    MSELoss,
    MultiLayerNetwork,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    check_loss,
    gradcheck,
    numerical_gradient,
    sigmoid,
    softmax,
)
from scratchnn.gradient_check import GradcheckResult, relative_error

RTOL = 1e-6


class ReseededDropout(DropoutLayer):
    """Dropout that draws the same mask on every forward pass, so the finite differences (many
    forwards) see the mask that backward used."""

    def forward(self, x):
        self.rng = np.random.default_rng(0)
        return super().forward(x)


def checkable(layer):
    if isinstance(layer, DropoutLayer) and layer.training:
        return ReseededDropout(layer.p)
    return layer


def assert_passes(result):
    assert result.passed, str(result)
    assert result.worst < RTOL


# -- every layer, network and loss passes ----------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_layer_passes(make_layer, batch, seed):
    layer = checkable(make_layer(4, np.float64))
    x = np.random.default_rng(seed).normal(size=(batch, 4))
    result = gradcheck(layer, x, rng=seed)
    assert_passes(result)
    assert set(result.errors) == {"x", *layer.params}


def test_the_dropout_check_really_drops_units():
    layer = ReseededDropout(0.5)
    x = np.ones((6, 8))
    out = layer(x)
    assert (out == 0).any() and (out == 2).any()
    np.testing.assert_array_equal(layer(x), out)
    assert_passes(gradcheck(layer, np.random.default_rng(0).normal(size=(6, 8))))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("output_activation", [None, "softmax", "sigmoid"])
def test_whole_networks_pass_and_every_parameter_is_checked(activation, output_activation):
    net = MultiLayerNetwork.from_sizes([5, 6, 4, 3], activation=activation,
                                       output_activation=output_activation, rng=2,
                                       dtype=np.float64)
    for layer in net.layers:  # non-zero biases, so a bias gradient on the wrong axis shows
        if "b" in layer.params:
            layer.params["b"][...] = np.random.default_rng(3).normal(size=layer.params["b"].shape)
    result = gradcheck(net, np.random.default_rng(1).normal(size=(4, 5)))
    assert_passes(result)
    assert set(result.errors) == {"x", "0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}


def test_a_network_with_dropout_passes():
    net = (MultiLayerNetwork().add(LinearLayer(4, 6, rng=0, dtype=np.float64))
           .add(ReseededDropout(0.4)).add(LinearLayer(6, 2, rng=1, dtype=np.float64)))
    assert_passes(gradcheck(net, np.random.default_rng(0).normal(size=(3, 4))))


def _loss_cases():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=6)
    probs = rng.uniform(0.05, 0.95, size=(6, 3))
    yield "mse", MSELoss(), rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    yield "mse-1d", MSELoss(), rng.normal(size=7), rng.normal(size=7)
    # MAE is checked away from its kink y_pred == y_true (the shift keeps them apart).
    y = rng.normal(size=(6, 3))
    yield "mae", MAELoss(), y, y + rng.choice([-1, 1], size=y.shape) * rng.uniform(0.1, 1, y.shape)
    yield "bce", BinaryCrossEntropyLoss(), rng.integers(0, 2, size=(6, 3)), probs
    yield "bce-soft", BinaryCrossEntropyLoss(), rng.uniform(size=(6, 3)), probs
    yield "bce-logits", BinaryCrossEntropyLoss(from_logits=True), rng.integers(0, 2, size=(6, 1)), \
        rng.normal(size=(6, 1)) * 3
    yield "ce-labels", CrossEntropyLoss(), labels, rng.normal(size=(6, 4)) * 2
    yield "ce-one-hot", CrossEntropyLoss(), np.eye(4)[labels], rng.normal(size=(6, 4))
    yield "ce-probabilities", CrossEntropyLoss(), rng.dirichlet(np.ones(4), 6), rng.normal(
        size=(6, 4))


@pytest.mark.parametrize("loss, y_true, y_pred", [case[1:] for case in _loss_cases()],
                         ids=[case[0] for case in _loss_cases()])
def test_every_loss_passes(loss, y_true, y_pred):
    assert_passes(check_loss(loss, y_true, y_pred))


# -- usable on a learner's own layer ---------------------------------------------------------------
class ScaleShift(Layer):
    """A learner's layer: a = x * gamma + beta, with gamma, beta of shape (1, n).

    Its backward builds new gradient arrays (rather than filling them in place), as a learner
    may well write it; the checker must read them after backward.
    """

    def __init__(self, n):
        super().__init__()
        rng = np.random.default_rng(0)
        self.params = {"gamma": rng.normal(size=(1, n)), "beta": rng.normal(size=(1, n))}
        self.grads = {"gamma": None, "beta": None}

    def forward(self, x):
        self._x = self._check_input(x)
        self._out = self._x * self.params["gamma"] + self.params["beta"]
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        self.grads = {"gamma": np.sum(g * self._x, axis=0, keepdims=True),
                      "beta": np.sum(g, axis=0, keepdims=True)}
        return g * self.params["gamma"]


def test_a_learners_own_layer_passes():
    result = gradcheck(ScaleShift(3), np.random.default_rng(0).normal(size=(4, 3)))
    assert_passes(result)
    assert set(result.errors) == {"x", "gamma", "beta"}


# -- wrong layers are caught -----------------------------------------------------------------------
class TransposedInputGradient(LinearLayer):
    """dL/dx = g W instead of g W^T: shapes agree for a square W, values do not."""

    def backward(self, grad_z, input_grad=True):
        super().backward(grad_z, input_grad=False)
        return grad_z @ self.params["W"]


class ForgottenBiasGradient(LinearLayer):
    """Never fills grads["b"], which stays at zero."""

    def backward(self, grad_z, input_grad=True):
        self.grads["W"][...] = self._x.T @ grad_z
        return grad_z @ self.params["W"].T


class MeanWeightGradient(LinearLayer):
    """Divides dL/dW by the batch size, as if the loss were averaged twice."""

    def backward(self, grad_z, input_grad=True):
        grad_x = super().backward(grad_z, input_grad)
        self.grads["W"] /= len(grad_z)
        return grad_x


class SigmoidOfTheOutput(SigmoidLayer):
    """The notebook slip: sigma'(a) evaluated at the output a instead of a (1 - a)."""

    def backward(self, grad_z, input_grad=True):
        return grad_z * sigmoid(self._out, derivative=True)


class SoftmaxSummedJacobian(SoftmaxLayer):
    """The notebook draft: g times the row sums of the Jacobian, which are all zero."""

    def backward(self, grad_z, input_grad=True):
        return grad_z * softmax(self._out, derivative=True).sum(axis=2)


class DropoutForgetsItsMask(ReseededDropout):
    """Backward passes the gradient straight through, ignoring the mask (as in numpy-ml)."""

    def backward(self, grad_z, input_grad=True):
        return np.array(grad_z, copy=True)


@pytest.mark.parametrize("make_wrong, wrong, right", [
    (lambda: TransposedInputGradient(4, 4, rng=0, dtype=np.float64), {"x"}, {"W", "b"}),
    (lambda: ForgottenBiasGradient(4, 3, rng=0, dtype=np.float64), {"b"}, {"x", "W"}),
    (lambda: MeanWeightGradient(4, 3, rng=0, dtype=np.float64), {"W"}, {"x", "b"}),
    (SigmoidOfTheOutput, {"x"}, set()),
    (SoftmaxSummedJacobian, {"x"}, set()),
    (lambda: DropoutForgetsItsMask(0.5), {"x"}, set()),
], ids=["transposed", "no-bias-grad", "mean-W", "sigmoid-of-output", "softmax-row-sums",
        "dropout-no-mask"])
def test_wrong_layers_are_flagged_on_the_wrong_gradient_only(make_wrong, wrong, right):
    result = gradcheck(make_wrong(), np.random.default_rng(0).normal(size=(5, 4)))
    assert not result.passed and not result
    for name in wrong:
        assert result.errors[name] > 0.05, str(result)
    for name in right:
        assert result.errors[name] < RTOL, str(result)
    report = str(result)
    assert report.startswith("gradcheck FAILED")
    assert report.count("WRONG") == len(wrong)


def test_a_wrong_layer_inside_a_network_is_found():
    net = (MultiLayerNetwork().add(LinearLayer(4, 4, rng=0, dtype=np.float64))
           .add(SigmoidOfTheOutput()).add(LinearLayer(4, 2, rng=1, dtype=np.float64)))
    result = gradcheck(net, np.random.default_rng(0).normal(size=(3, 4)))
    assert not result.passed
    assert result.errors["0.W"] > 0.05 and result.errors["x"] > 0.05
    assert result.errors["2.W"] < RTOL  # the layer after the wrong one is still right


class MSEWithoutTheTwo(MSELoss):
    @staticmethod
    def _grad(y, p):
        return (p - y) / p.size


def test_a_wrong_loss_gradient_is_flagged():
    rng = np.random.default_rng(0)
    result = check_loss(MSEWithoutTheTwo(), rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    assert not result.passed
    assert result.errors["y_pred"] == pytest.approx(1 / 3, rel=1e-4)  # |g - 2g| / (|g| + |2g|)


# -- the checker's parts ---------------------------------------------------------------------------
def test_numerical_gradient_of_a_known_function_restores_its_input():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_of_a_view_that_is_not_contiguous():
    # A parameter kept transposed (W as a .T view, as PyTorch stores a linear layer's weights)
    # or sliced is changed in place through the view, and the gradient comes in its shape.
    base = np.arange(12.0).reshape(3, 4)
    for x in (base.T, base[:, ::2]):
        weights = np.linspace(-1, 1, x.size).reshape(x.shape)
        before = base.copy()
        grad = numerical_gradient(lambda x=x, w=weights: float(np.sum(w * x**2)), x)
        np.testing.assert_allclose(grad, 2 * weights * x, rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(base, before)


def test_numerical_gradient_of_a_zero_dimensional_array():
    x = np.array(2.0)
    np.testing.assert_allclose(numerical_gradient(lambda: float(x**3), x), 12.0, rtol=1e-8)


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, 0.0], [-1.0, 0.0]) == 1.0
    assert relative_error([2.0], [1.0]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"analytic gradient has shape \(2,\), numeric has"):
        relative_error(np.zeros(2), np.zeros(3))


def test_result_verdict_and_report():
    good = GradcheckResult(errors={"x": 1e-10, "W": 2e-9})
    assert good.passed and bool(good) and good.worst == 2e-9
    assert "passed" in str(good) and "WRONG" not in str(good)
    bad = GradcheckResult(errors={"x": 1e-10, "W": 0.5})
    assert not bad.passed and bad.worst == 0.5
    assert "W        relative error 5.00e-01  WRONG" in str(bad)
    assert GradcheckResult(errors={"x": 1e-4}, rtol=1e-3).passed


def test_float32_layers_and_networks_are_refused():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"needs float64 .* parameter 'W' is float32; build it"):
        gradcheck(LinearLayer(3, 2), x)
    with pytest.raises(ValueError, match=r"needs float64 .* parameter '0.W' is float32"):
        gradcheck(MultiLayerNetwork.from_sizes([3, 2]), x)


def test_a_parameter_without_a_gradient_is_refused():
    layer = ScaleShift(2)
    layer.backward = lambda grad_z, input_grad=True: grad_z * layer.params["gamma"]  # no grads
    layer.grads = {"gamma": np.zeros((1, 2))}
    with pytest.raises(ValueError, match="parameter 'beta' but no gradient of that name"):
        gradcheck(layer, np.ones((3, 2)))


def test_gradcheck_refuses_bad_input():
    with pytest.raises(ValueError, match="x must be a 2-D array"):
        gradcheck(LinearLayer(3, 2, dtype=np.float64), np.ones(3))


def test_gradcheck_takes_images_and_whole_convolutional_networks():
    from scratchnn import BatchNorm2D, Conv2D, Flatten, MaxPool2D

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 2, 5, 5))
    conv = Conv2D(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64)
    result = gradcheck(conv, x)
    assert result.passed and set(result.errors) == {"x", "W", "b"}
    # (A bias right before a BatchNorm has a zero gradient, which no relative error can check.)
    net = MultiLayerNetwork([Conv2D(2, 3, 3, padding=1, rng=0, dtype=np.float64), ReLULayer(),
                             BatchNorm2D(3, dtype=np.float64), MaxPool2D(2),
                             Flatten(), LinearLayer(12, 2, rng=1, dtype=np.float64)])
    x = rng.normal(size=(3, 2, 5, 5))
    result = gradcheck(net, x)
    assert result.passed, str(result)
    assert {"0.W", "0.b", "2.gamma", "2.beta", "5.W", "5.b"} <= set(result.errors)
