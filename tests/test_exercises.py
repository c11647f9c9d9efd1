"""The exercise checkers: scratchnn's own code and the worked solutions pass every checker,
each typical mistake is caught with its hint, and blank bodies give "not implemented yet"."""

from __future__ import annotations

import exercise_solutions as sol
import numpy as np
import pytest
from verdicts import assert_fails_with, assert_not_implemented, assert_passes, verdict

import scratchnn as sn
from scratchnn import init, optim
from scratchnn.exercises import (
    check_activation_derivatives,
    check_activation_function,
    check_activation_layer,
    check_forward_propagation,
    check_get_batches,
    check_initializer,
    check_linear_layer,
    check_loss_function,
    check_network,
    check_numerical_gradient,
    check_one_hot,
    check_optimizer,
    check_relu,
    check_sigmoid,
    check_softmax,
    check_training_step,
)
from scratchnn.exercises._core import Check, is_empty_body


# -- the result and the runner --------------------------------------------------------------------
def test_result_is_truthy_only_when_passed_and_prints_its_verdict(capsys):
    result = check_sigmoid(sn.sigmoid)
    out = capsys.readouterr().out
    assert result and result.passed and result.messages == []
    assert out.startswith("sigmoid: PASSED") and "ok: values" in out
    assert repr(result).startswith("CheckResult('sigmoid', status='passed'")

    quiet = check_sigmoid(sn.sigmoid, verbose=False)
    assert capsys.readouterr().out == "" and quiet


def test_an_exception_in_learner_code_is_one_line_with_its_input_not_a_traceback(capsys):
    def relu(x, derivative=False):
        return {}["missing"]

    result = check_relu(relu)
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert_fails_with(result, "relu(x) on inputs of shape (4, 6) raised KeyError",
                      "in test_an_exception_in_learner_code_is_one_line_with_its_input_not_a_"
                      "traceback.<locals>.relu")


def test_empty_bodies_are_recognised():
    def passes(x):
        pass

    def documented(self, x):
        """Docstring only, then a comment and pass."""
        # Code here
        pass

    def ellipsis(x):
        ...

    def returns_zero(x):
        return 0

    def real(x):
        return x

    assert is_empty_body(passes) and is_empty_body(documented) and is_empty_body(ellipsis)
    assert not is_empty_body(returns_zero) and not is_empty_body(real)


def test_bad_checker_arguments_are_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        check_activation_function(sn.tanh, "swish")
    with pytest.raises(ValueError, match="kind must be one of"):
        check_loss_function(sn.mse, "hinge")
    with pytest.raises(ValueError, match="kind must be one of"):
        check_optimizer(optim.SGD, "lion")
    with pytest.raises(TypeError, match="the function you wrote"):
        check_sigmoid("sigmoid")
    with pytest.raises(TypeError, match="pass the class you wrote"):
        check_linear_layer(sol.LinearLayer(4, 3))


# -- chapter 1 and 5: activation functions ---------------------------------------------------------
@pytest.mark.parametrize("kind, fn", [
    ("sigmoid", sn.sigmoid), ("relu", sn.relu), ("tanh", sn.tanh), ("leaky_relu", sn.leaky_relu),
    ("sigmoid", sol.sigmoid), ("relu", sol.relu), ("tanh", sol.tanh),
    ("leaky_relu", sol.leaky_relu),
])
def test_reference_activations_pass(kind, fn):
    assert_passes(check_activation_function(fn, kind, verbose=False))


def test_relu_derivative_with_x_at_least_zero_is_accepted():
    def relu(x, derivative=False):
        return (x >= 0).astype(float) if derivative else np.maximum(x, 0)

    assert_passes(check_relu(relu, verbose=False))


def test_naive_sigmoid_passes_with_a_note_about_overflow():
    def sigmoid(x, derivative=False):
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s) if derivative else s

    result = check_sigmoid(sigmoid, verbose=False)
    assert_passes(result)
    assert any("overflow" in note for note in result.notes)


def _sigmoid_with_derivative(derivative_fn):
    def sigmoid(x, derivative=False):
        return derivative_fn(x) if derivative else sn.sigmoid(x)

    return sigmoid


def _relu_with_derivative(derivative_fn):
    def relu(x, derivative=False):
        return derivative_fn(x) if derivative else np.maximum(x, 0)

    return relu


@pytest.mark.parametrize("fn, kind, hint", [
    (_sigmoid_with_derivative(lambda x: sn.sigmoid(sn.sigmoid(x), derivative=True)), "sigmoid",
     "applied to the output a second time"),
    (_sigmoid_with_derivative(lambda x: x * (1 - x)), "sigmoid", "uses x as if it were the output"),
    (_relu_with_derivative(lambda x: x * (x > 0)), "relu", "the derivative is 1, not x"),
    (_relu_with_derivative(lambda x: np.ones_like(x)), "relu", "wrong at negative inputs"),
    (_relu_with_derivative(lambda x: (x < 0).astype(float)), "relu", "the mask is flipped"),
    (lambda x, derivative=False: (1 - np.tanh(np.tanh(x)) ** 2) if derivative else np.tanh(x),
     "tanh", "applied to the output a second time"),
    (lambda x, alpha=0.01, derivative=False: (x > 0) * 1.0 if derivative else sn.leaky_relu(x),
     "leaky_relu", "slope alpha, not 0"),
])
def test_wrong_derivatives_are_named(fn, kind, hint):
    result = check_activation_derivatives(fn, kind, verbose=False)
    assert_fails_with(result, "derivative=True)", "expected", hint)


def test_sigmoid_values_with_the_wrong_sign_and_overflow_are_caught():
    assert_fails_with(check_sigmoid(lambda x, derivative=False: 1 / (1 + np.exp(x)),
                                    verbose=False), "exponent's sign is flipped")

    def unstable(x, derivative=False):
        return np.exp(x) / (1 + np.exp(x))

    assert_fails_with(check_sigmoid(unstable, verbose=False), "got nan", "exp overflowed")


def test_a_wrong_answer_is_not_also_blamed_on_overflow():
    result = check_sigmoid(lambda x, derivative=False: "0.5", verbose=False)
    assert_fails_with(result, "sigmoid(x) should be an array of numbers, got str")
    assert "overflow" not in verdict(result)


def test_relu_changing_its_input_in_place_is_caught():
    def relu(x, derivative=False):
        if derivative:
            return (x > 0).astype(float)
        x[x < 0] = 0
        return x

    assert_fails_with(check_relu(relu, verbose=False), "the input x was changed in place",
                      "x[x < 0] = 0")


def test_a_problem_found_on_several_inputs_is_reported_once_with_its_hint():
    check = Check("relu")
    for _ in range(3):
        check.fail("the input x was changed in place.", "copy it first.")
    check.fail("another problem.", "copy it first.")  # a hint already given is not repeated
    assert check.messages == ["the input x was changed in place.\nHint: copy it first.",
                              "another problem."]


def test_python_max_on_an_array_gets_the_elementwise_hint():
    def relu(x, derivative=False):
        return max(0, x)

    assert_fails_with(check_relu(relu, verbose=False), "raised ValueError", "np.maximum")


def test_blank_activation_bodies_are_not_implemented():
    def sigmoid(x, derivative=False):
        # Code here
        raise NotImplementedError

    def relu(x, derivative=False):
        pass

    for result in (check_sigmoid(sigmoid, verbose=False), check_relu(relu, verbose=False)):
        assert_not_implemented(result)


def test_values_done_and_derivative_blank_is_not_implemented_with_progress():
    def relu(x, derivative=False):
        if derivative:
            raise NotImplementedError
        return np.maximum(x, 0)

    result = check_relu(relu, verbose=False)
    assert_not_implemented(result)
    assert any("values" in item for item in result.checked)
    assert "derivative=True" in verdict(result)


# -- chapter 3: softmax and losses -----------------------------------------------------------------
@pytest.mark.parametrize("fn", [sn.softmax, sol.softmax])
def test_reference_softmax_passes(fn):
    assert_passes(check_softmax(fn, verbose=False))


def _softmax(values=None, jacobian=None):
    def softmax(x, derivative=False):
        if derivative:
            return jacobian(sn.softmax(x))
        return values(x) if values else sn.softmax(x)

    return softmax


@pytest.mark.parametrize("fn, hint", [
    (_softmax(values=lambda x: np.exp(x) / np.exp(x).sum(axis=0)), "each column was normalised"),
    (_softmax(values=lambda x: np.exp(x) / np.exp(x).sum()), "the whole batch was normalised"),
    (_softmax(values=lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
     "Subtract each row's maximum"),
    (_softmax(jacobian=lambda s: -np.outer(s, s)), "the diagonal term is missing"),
    (_softmax(jacobian=lambda s: np.diag(s)), "off-diagonal entries"),
])
def test_softmax_mistakes_are_named(fn, hint):
    assert_fails_with(check_softmax(fn, verbose=False), hint)


def test_softmax_only_for_batches_gets_the_axis_hint():
    def softmax(x, derivative=False):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert_fails_with(check_softmax(softmax, verbose=False), "one sample", "axis=-1")


@pytest.mark.parametrize("kind, fn", [
    ("mse", sn.mse), ("mae", sn.mae), ("bce", sn.binary_cross_entropy),
    ("binary_cross_entropy", sol.binary_cross_entropy), ("ce", sn.cross_entropy_loss),
    ("cross_entropy", sol.cross_entropy_loss), ("mse", sol.mse), ("mae", sol.mae),
])
def test_reference_losses_pass(kind, fn):
    assert_passes(check_loss_function(fn, kind, verbose=False))


def _loss(reference, value=None, derivative=None):
    def loss(y_real, y_pred, derivative_=False, **kwargs):
        if kwargs.get("derivative", derivative_):
            return derivative(y_real, y_pred) if derivative else reference(y_real, y_pred, True)
        return value(y_real, y_pred) if value else reference(y_real, y_pred)

    return loss


@pytest.mark.parametrize("kind, fn, fragments", [
    ("mse", _loss(sn.mse, derivative=lambda y, p: np.sum(p - y)),
     ("is a single number", "not a gradient")),
    ("mse", _loss(sn.mse, derivative=lambda y, p: 2 * (p - y)), ("divide by y_pred.size",)),
    ("mse", _loss(sn.mse, derivative=lambda y, p: (p - y) / p.size), ("the factor 2 is missing",)),
    ("mse", _loss(sn.mse, derivative=lambda y, p: 2 * (p - y) / len(p)),
     ("not by the number of rows",)),
    ("mse", _loss(sn.mse, derivative=lambda y, p: 2 * (y - p) / p.size), ("the sign is flipped",)),
    ("mse", _loss(sn.mse, value=lambda y, p: np.sum((p - y) ** 2)), ("the sum, not the mean",)),
    ("mse", _loss(sn.mse, value=lambda y, p: np.mean((p - y) ** 2, axis=0)),
     ("should be one number",)),
    ("mae", _loss(sn.mae, value=lambda y, p: np.mean(p - y)), ("absolute value",)),
    ("ce", _loss(sn.cross_entropy_loss, derivative=lambda y, z: sn.softmax(z) - y),
     ("forgetting to scale the loss gradient by the batch size",)),
    ("ce", _loss(sn.cross_entropy_loss,
                 value=lambda y, z: -np.sum(y * np.log(np.exp(z) / np.exp(z).sum(1, keepdims=True)))
                 / len(z)), ("the loss", "got nan", "log-softmax")),
    ("ce", _loss(sn.cross_entropy_loss, value=lambda y, z: 6 * sn.cross_entropy_loss(y, z)),
     ("average over the batch",)),
    ("bce", _loss(sn.binary_cross_entropy, derivative=lambda y, p: (p - y) / p.size),
     ("with respect to the logit z",)),
    ("bce", _loss(sn.binary_cross_entropy,
                  value=lambda y, p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
     ("got nan", "clip the probabilities")),
])
def test_loss_mistakes_are_named(kind, fn, fragments):
    assert_fails_with(check_loss_function(fn, kind, verbose=False), *fragments)


def test_blank_loss_is_not_implemented():
    def mse(y_real, y_pred, derivative=False):
        # Code here
        pass

    assert_not_implemented(check_loss_function(mse, "mse", verbose=False))


# -- chapter 4: the finite-difference gradient -----------------------------------------------------
def test_reference_numerical_gradients_pass():
    assert_passes(check_numerical_gradient(sol.numerical_gradient, verbose=False))
    scratchnn_style = lambda f, x: sn.numerical_gradient(lambda: f(x), x)  # noqa: E731
    assert_passes(check_numerical_gradient(scratchnn_style, verbose=False))


def _one_sided(f, x, eps=1e-4):
    grad = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[i] += eps
        grad[i] = (f(shifted) - f0) / eps
    return grad


def _over_eps(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / eps
    return grad


def _not_restored(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps
        f_plus = f(x)
        x[i] -= 2 * eps
        grad[i] = (f_plus - f(x)) / (2 * eps)
    return grad


@pytest.mark.parametrize("fn, fragments", [
    (_one_sided, ("one-sided difference with eps = 0.0001", "central differences")),
    (_over_eps, ("divide f(x + eps) - f(x - eps) by 2 * eps",)),
    (_not_restored, ("x was changed in place", "restore each entry")),
    (lambda f, x: f(x), ("has one entry per entry of x",)),
])
def test_numerical_gradient_mistakes_are_named(fn, fragments):
    assert_fails_with(check_numerical_gradient(fn, verbose=False), *fragments)


# -- chapter 5: layers -----------------------------------------------------------------------------
class Float64Linear(sn.LinearLayer):
    """scratchnn's LinearLayer in float64, as the gradient check needs."""

    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, dtype=np.float64)


@pytest.mark.parametrize("cls", [Float64Linear, sol.LinearLayer])
def test_reference_linear_layers_pass(cls):
    result = check_linear_layer(cls, verbose=False)
    assert_passes(result)
    assert any("finite-difference gradient check" in item for item in result.checked)


def _linear(**methods):
    return type("LinearLayer", (sol.LinearLayer,), methods)


def _backward_with(grad_W=None, grad_b=None, returns=True):
    def backward(self, grad_z):
        self.grads["W"] = grad_W(self.x, grad_z) if grad_W else self.x.T @ grad_z
        self.grads["b"] = grad_b(grad_z) if grad_b else grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"].T if returns else None

    return backward


def _zero_bias(self, grad_z):
    self.grads["W"] = self.x.T @ grad_z
    return grad_z @ self.params["W"].T


def _add_update(self, learning_rate):
    for name in self.params:
        self.params[name] += learning_rate * self.grads[name]


def _rebinding_update(self, learning_rate):
    for name, p in self.params.items():
        p = p - learning_rate * self.grads[name]  # noqa: F841 -- the mistake under test


@pytest.mark.parametrize("methods, fragments", [
    ({"backward": _backward_with(grad_W=lambda x, g: g.T @ x)},
     ("grads['W'] has shape (3, 4), expected (4, 3)", "grad_z.T @ x instead of x.T @ grad_z")),
    ({"backward": _backward_with(grad_W=lambda x, g: x @ g)},
     ("raised ValueError", "x @ grad_z (without .T) cannot work")),
    ({"backward": _backward_with(grad_W=lambda x, g: x.T @ g / len(x))},
     ("divided by the batch size",)),
    ({"backward": _zero_bias}, ("missing bias gradient",)),
    ({"backward": _backward_with(grad_b=lambda g: None)}, ("grads['b'] is None",
                                                            "missing bias gradient")),
    ({"backward": _backward_with(grad_b=lambda g: g.sum(axis=0))},
     ("grads['b'] has shape (3,), expected (1, 3)", "keepdims=True")),
    ({"backward": _backward_with(grad_b=lambda g: g.mean(axis=0, keepdims=True))},
     ("averaged instead of summed",)),
    ({"backward": _backward_with(grad_b=lambda g: g)}, ("sum grad_z over the batch",)),
    ({"backward": _backward_with(returns=False)}, ("backward returned None",)),
    ({"forward": lambda self, x: x @ self.params["W"]}, ("the bias is missing",)),
    ({"forward": lambda self, x: self.params["W"] @ x}, ("W @ x does not fit",)),
    ({"forward": lambda self, x: x @ self.params["W"] + self.params["b"]},
     ("raised AttributeError", "forward must keep what backward needs")),
    ({"update_params": _add_update}, ("adds the gradient",)),
    ({"update_params": _rebinding_update}, ("did not change", "only rebinds a local name")),
])
def test_linear_layer_mistakes_are_named(methods, fragments):
    assert_fails_with(check_linear_layer(_linear(**methods), verbose=False), *fragments)


def test_blank_linear_layer_methods_are_not_implemented():
    def forward(self, x):
        # Code here
        raise NotImplementedError

    def backward(self, grad_z):
        # Code here
        pass

    def update_params(self, learning_rate):
        pass

    assert_not_implemented(check_linear_layer(_linear(forward=forward), verbose=False))
    result = check_linear_layer(_linear(backward=backward), verbose=False)
    assert_not_implemented(result)
    assert any(item.startswith("forward") for item in result.checked)
    assert_not_implemented(check_linear_layer(_linear(update_params=update_params),
                                              verbose=False))


@pytest.mark.parametrize("kind, cls", [
    ("relu", sn.ReLULayer), ("leaky_relu", sn.LeakyReLULayer), ("sigmoid", sn.SigmoidLayer),
    ("tanh", sn.TanhLayer), ("softmax", sn.SoftmaxLayer), ("relu", sol.ReLULayer),
    ("leaky_relu", sol.LeakyReLULayer), ("sigmoid", sol.SigmoidLayer), ("tanh", sol.TanhLayer),
    ("softmax", sol.SoftmaxLayer),
])
def test_reference_activation_layers_pass(kind, cls):
    assert_passes(check_activation_layer(cls, kind, verbose=False))


def test_relu_layer_with_x_at_least_zero_is_accepted():
    relu_ge = type("ReLULayer", (sol.ReLULayer,),
                   {"backward": lambda self, g: g * (self.x >= 0)})
    assert_passes(check_activation_layer(relu_ge, "relu", verbose=False))


def _in_place_relu_backward(self, grad_z):
    grad_z[self.x <= 0] = 0
    return grad_z


def _softmax_backward_by_row_sums(self, grad_z):
    jacobians = np.stack([np.diag(s) - np.outer(s, s) for s in self.s])
    return grad_z * jacobians.sum(axis=1)


def _sigmoid_backward_without_return(self, grad_z):
    grad_x = grad_z * self.a * (1 - self.a)  # noqa: F841 -- the mistake under test


def _unstable_softmax_forward(self, x):
    e = np.exp(x)
    self.s = e / e.sum(axis=1, keepdims=True)
    return self.s


@pytest.mark.parametrize("base, kind, methods, fragments", [
    (sol.ReLULayer, "relu", {"backward": _in_place_relu_backward},
     ("grad_z was changed in place", "the caller still holds it")),
    (sol.ReLULayer, "relu", {"backward": lambda self, g: g * np.maximum(self.x, 0)},
     ("the derivative is 1, not x",)),
    (sol.ReLULayer, "relu", {"backward": lambda self, g: g.copy()},
     ("the gradient must be zero where x < 0",)),
    (sol.SigmoidLayer, "sigmoid",
     {"backward": lambda self, g: g * sn.sigmoid(self.a, derivative=True)},
     ("taken on the output twice",)),
    (sol.TanhLayer, "tanh", {"backward": lambda self, g: g * (1 - np.tanh(self.a) ** 2)},
     ("taken on the output twice",)),
    (sol.LeakyReLULayer, "leaky_relu", {"backward": lambda self, g: g * (self.x > 0)},
     ("alpha * grad_z, not 0",)),
    (sol.SoftmaxLayer, "softmax", {"backward": _softmax_backward_by_row_sums},
     ("all zeros, as from J.sum(axis=1)",)),
    (sol.SoftmaxLayer, "softmax", {"backward": lambda self, g: g * self.s * (1 - self.s)},
     ("only the diagonal of the Jacobian",)),
    (sol.SoftmaxLayer, "softmax", {"forward": _unstable_softmax_forward},
     ("got nan", "subtract each row's maximum")),
    (sol.SigmoidLayer, "sigmoid", {"backward": _sigmoid_backward_without_return},
     ("backward returned None", "`return ...`")),
])
def test_activation_layer_mistakes_are_named(base, kind, methods, fragments):
    cls = type(base.__name__, (base,), methods)
    assert_fails_with(check_activation_layer(cls, kind, verbose=False), *fragments)


def test_blank_activation_layer_is_not_implemented():
    class ReLULayer(sn.Layer):
        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError

    assert_not_implemented(check_activation_layer(ReLULayer, "relu", verbose=False))


# -- chapters 2, 6 and 8: forward propagation, the network, the training step ----------------------
def test_forward_propagation():
    assert_passes(check_forward_propagation(sol.forward_propagation, verbose=False))

    def every_layer_activated(x, weights, biases, activation):
        for W, b in zip(weights, biases, strict=True):
            x = activation(x @ W + b)
        return x

    def no_bias(x, weights, biases, activation):
        return sol.forward_propagation(x, weights, [0 * b for b in biases], activation)

    def w_first(x, weights, biases, activation):
        for W, b in zip(weights, biases, strict=True):
            x = activation(W @ x + b)
        return x

    for fn, hint in [(every_layer_activated, "hidden layers only"),
                     (no_bias, "biases are missing"), (w_first, "not W @ a")]:
        assert_fails_with(check_forward_propagation(fn, verbose=False), hint)


@pytest.mark.parametrize("cls", [sn.MultiLayerNetwork, sol.MultiLayerNetwork])
def test_reference_networks_pass(cls):
    assert_passes(check_network(cls, verbose=False))


def _backward_forwards(self, grad):
    for layer in self.layers:
        grad = layer.backward(grad)
    return grad


def _backward_same_grad(self, grad):
    out = None
    for layer in reversed(self.layers):
        out = layer.backward(grad)
    return out


def _forward_same_input(self, x):
    out = x
    for layer in self.layers:
        out = layer.forward(x)
    return out


def _backward_no_return(self, grad):
    for layer in reversed(self.layers):
        grad = layer.backward(grad)


@pytest.mark.parametrize("methods, fragments", [
    ({"backward": _backward_forwards}, ("going forwards through the layers",
                                        "reversed(self.layers)")),
    ({"backward": _backward_same_grad}, ("grad = layer.backward(grad)",)),
    ({"forward": _forward_same_input}, ("x = layer.forward(x)",)),
    ({"backward": _backward_no_return}, ("backward returned None",)),
    ({"update_params": lambda self, lr: self.layers[0].update_params(lr)},
     ("this layer was not updated",)),
    ({"add": lambda self, layer: self.layers.insert(0, layer)},
     ("append the layer to self.layers",)),
])
def test_network_mistakes_are_named(methods, fragments):
    cls = type("MultiLayerNetwork", (sol.MultiLayerNetwork,), methods)
    assert_fails_with(check_network(cls, verbose=False), *fragments)


def test_blank_network_is_not_implemented():
    class MultiLayerNetwork:
        def __init__(self):
            self.layers = []

        def add(self, layer):
            # Code here
            pass

    assert_not_implemented(check_network(MultiLayerNetwork, verbose=False))


def test_training_step():
    assert_passes(check_training_step(sol.train_step, verbose=False))

    def summed_gradient(network, x, y, loss, lr):
        value = loss.forward(y, network.forward(x))
        network.backward(loss.backward() * len(x))
        network.update_params(lr)
        return value

    def loss_value_backward(network, x, y, loss, lr):
        value = loss.forward(y, network.forward(x))
        network.backward(value)

    def update_first(network, x, y, loss, lr):
        value = loss.forward(y, network.forward(x))
        network.update_params(lr)
        network.backward(loss.backward())
        return value

    def loss_after_update(network, x, y, loss, lr):
        sol.train_step(network, x, y, loss, lr)
        return loss.forward(y, network.forward(x))

    def no_return(network, x, y, loss, lr):
        sol.train_step(network, x, y, loss, lr)

    def blank(network, x_batch, y_batch, loss, learning_rate):
        # Code here
        pass

    for fn, fragments in [
        (summed_gradient, ("8 times the expected one", "batch_size times too large")),
        (loss_value_backward, ("raised ValueError", "not the loss value")),
        (update_first, ("the parameters did not change",)),
        (loss_after_update, ("the loss after the update",)),
        (no_return, ("train_step returned None",)),
    ]:
        assert_fails_with(check_training_step(fn, verbose=False), *fragments)
    assert_not_implemented(check_training_step(blank, verbose=False))


# -- chapter 7: data -------------------------------------------------------------------------------
def test_one_hot_and_batches():
    assert_passes(check_one_hot(sn.one_hot, verbose=False))
    assert_passes(check_one_hot(sol.one_hot, verbose=False))
    assert_fails_with(check_one_hot(lambda labels, n: np.eye(n)[labels].T, verbose=False),
                      "the rows are the samples")
    assert_fails_with(check_one_hot(lambda labels, n: np.eye(labels.max() + 1)[labels],
                                    verbose=False), "use n_classes")

    assert_passes(check_get_batches(sn.get_batches, verbose=False))
    assert_passes(check_get_batches(sol.get_batches, verbose=False))
    assert_fails_with(check_get_batches(lambda x, b: np.array_split(x, b), verbose=False),
                      "np.array_split(x, batch_size) makes batch_size batches")
    drop_last = lambda x, b: [x[i * b:(i + 1) * b] for i in range(len(x) // b)]  # noqa: E731
    assert_fails_with(check_get_batches(drop_last, verbose=False), "the last, shorter batch")

    def shuffled(x, b):
        return sn.get_batches(x[::-1], b)

    assert_fails_with(check_get_batches(shuffled, verbose=False), "keep the rows in order")


# -- chapter 10: initialisation --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal"])
def test_scratchnn_initialisers_pass(kind):
    reference = getattr(init, kind)

    def fn(n_in, n_out, rng):
        return reference((n_in, n_out), rng=rng, dtype=np.float64)

    assert_passes(check_initializer(fn, kind, verbose=False))


def test_initialiser_solutions_pass():
    assert_passes(check_initializer(sol.xavier_uniform, "xavier_uniform", verbose=False))
    assert_passes(check_initializer(sol.he_normal, "he_normal", verbose=False))


@pytest.mark.parametrize("kind, fn, hint", [
    ("he_normal", lambda i, o, rng: rng.normal(0, 2 / i, (i, o)), "the variance was used as"),
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(2 / o), (i, o)), "He uses n_in"),
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(1 / i), (i, o)), "the factor 2"),
    ("xavier_normal", lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (i, o)),
     "2 / n_in is He's"),
    ("he_uniform", lambda i, o, rng: rng.uniform(-np.sqrt(2 / i), np.sqrt(2 / i), (i, o)),
     "variance a^2 / 3"),
    ("he_uniform", lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (i, o)), "rng.uniform(-a, a"),
    ("he_normal", lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), (i, o)),
     "rng.normal(0.0, std"),
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (o, i)), "size=(n_in, n_out)"),
    ("he_normal", lambda i, o, rng: np.random.default_rng().normal(0, np.sqrt(2 / i), (i, o)),
     "draw from the rng argument"),
])
def test_initialiser_mistakes_are_named(kind, fn, hint):
    assert_fails_with(check_initializer(fn, kind, verbose=False), hint)


# -- chapter 9: optimizers -------------------------------------------------------------------------
@pytest.mark.parametrize("kind, cls", [
    ("sgd", optim.SGD), ("momentum", optim.SGD), ("rmsprop", optim.RMSProp), ("adam", optim.Adam),
    ("sgd", sol.SGD), ("momentum", sol.Momentum), ("rmsprop", sol.RMSProp), ("adam", sol.Adam),
])
def test_reference_optimizers_pass(kind, cls):
    assert_passes(check_optimizer(cls, kind, verbose=False))


class _Learner:
    """An optimizer written the learner's way: ``direction(g, state)`` gives the amount to
    subtract from each parameter, ``state`` a dict kept per parameter."""

    def __init__(self, lr, **hyper):
        self.lr = lr
        self.__dict__.update(hyper)
        self.state = {}
        self.t = 0

    def step(self, network):
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                p -= self.direction(layer.grads[name], self.state.setdefault((i, name), {}))


def _optimizer(direction):
    return type("Optimizer", (_Learner,), {"direction": direction})


def _classic_momentum(self, g, s):
    # v = mu v - lr g; p += v: the other common form, equal to torch's for a fixed lr.
    s["v"] = self.momentum * s.get("v", 0.0) - self.lr * g
    return -s["v"]


def _momentum_wrong_sign(self, g, s):
    s["v"] = self.momentum * s.get("v", 0.0) - g
    return self.lr * s["v"]


def _dampened_momentum(self, g, s):
    s["v"] = self.momentum * s.get("v", 0.0) + (1 - self.momentum) * g
    return self.lr * s["v"]


def _forgetful_momentum(self, g, s):
    return self.lr * g


def _rmsprop_eps_inside(self, g, s):
    s["s"] = self.alpha * s.get("s", 0.0) + (1 - self.alpha) * g * g
    return self.lr * g / np.sqrt(s["s"] + self.eps)


def _rmsprop_no_ema_factor(self, g, s):
    s["s"] = self.alpha * s.get("s", 0.0) + g * g
    return self.lr * g / (np.sqrt(s["s"]) + self.eps)


def _adam(correct=True, t_offset=0, store_hat=False):
    def direction(self, g, s):
        b1, b2 = self.betas
        t = self.t + t_offset
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1**t) if correct else s["m"]
        v_hat = s["v"] / (1 - b2**t) if correct else s["v"]
        if store_hat:
            s["m"], s["v"] = m_hat, v_hat
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    return direction


def test_the_classic_momentum_form_passes():
    assert_passes(check_optimizer(_optimizer(_classic_momentum), "momentum", verbose=False))


@pytest.mark.parametrize("kind, direction, fragments", [
    ("sgd", lambda self, g, s: -self.lr * g, ("moved up the gradient",)),
    ("sgd", lambda self, g, s: g, ("the learning rate is missing",)),
    ("momentum", _momentum_wrong_sign, ("after step 1", "momentum sign error")),
    ("momentum", _dampened_momentum, ("dampening",)),
    ("momentum", _forgetful_momentum, ("after step 2", "not kept between steps")),
    ("rmsprop", _rmsprop_eps_inside, ("eps goes outside the square root",)),
    ("rmsprop", _rmsprop_no_ema_factor, ("(1 - alpha) factor",)),
    ("adam", _adam(correct=False), ("missing bias correction in Adam",)),
    ("adam", _adam(t_offset=-1), ("got nan", "t = 1 at the first step")),
    ("adam", _adam(store_hat=True), ("not the corrected m_hat and v_hat",)),
])
def test_optimizer_mistakes_are_named(kind, direction, fragments):
    cls = _optimizer(direction)
    assert_fails_with(check_optimizer(cls, kind, verbose=False), *fragments)


def test_optimizer_interface_problems_are_reported():
    class NoMomentumArgument:
        def __init__(self, lr):
            self.lr = lr

        def step(self, network):
            pass

    assert_fails_with(check_optimizer(NoMomentumArgument, "momentum", verbose=False),
                      "unexpected keyword argument 'momentum'",
                      "creates the optimizer as NoMomentumArgument(lr=0.1, momentum=0.9)")

    class Rebinding(_Learner):
        def step(self, network):
            for layer in network.layers:
                for name, p in layer.params.items():
                    p = p - self.lr * layer.grads[name]  # noqa: F841 -- the mistake under test

    assert_fails_with(check_optimizer(Rebinding, "sgd", verbose=False),
                      "left every parameter unchanged", "only rebinds a local name")

    class ScalesGradients(_Learner):
        def step(self, network):
            for layer in network.layers:
                for name, p in layer.params.items():
                    layer.grads[name] *= self.lr
                    p -= layer.grads[name]

    assert_fails_with(check_optimizer(ScalesGradients, "sgd", verbose=False),
                      "must read the gradients, not change them")

    class Replacing(_Learner):
        def step(self, network):
            for layer in network.layers:
                for name in layer.params:
                    layer.params[name] = layer.params[name] - self.lr * layer.grads[name]

    result = check_optimizer(Replacing, "sgd", verbose=False)
    assert_passes(result)
    assert any("in place" in note for note in result.notes)


def test_blank_optimizer_is_not_implemented():
    class Momentum:
        def __init__(self, lr, momentum=0.9):
            self.lr, self.momentum, self.velocity = lr, momentum, {}

        def step(self, network):
            for layer in network.layers:
                for _ in layer.params:
                    # Code here
                    raise NotImplementedError

    class Empty:
        def __init__(self, lr):
            pass

        def step(self, network):
            pass

    assert_not_implemented(check_optimizer(Momentum, "momentum", verbose=False))
    assert_not_implemented(check_optimizer(Empty, "sgd", verbose=False))


def test_a_float32_layer_is_judged_by_its_formula_not_its_dtype(capsys):
    from scratchnn import LinearLayer

    class Float32Only(LinearLayer):  # takes no dtype: checked at float32's tolerance
        def __init__(self, n_in, n_out):
            super().__init__(n_in, n_out)

    assert check_linear_layer(LinearLayer, verbose=False)  # rebuilt in float64
    result = check_linear_layer(Float32Only)
    assert result, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "computes in float32" in out and "at float32's precision" in out

    class WrongInFloat32(Float32Only):
        def backward(self, grad_z, input_grad=True):
            dx = super().backward(grad_z, input_grad)
            return None if dx is None else 1.5 * dx

    assert not check_linear_layer(WrongInFloat32, verbose=False)
