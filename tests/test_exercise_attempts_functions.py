"""Second red-team round on the checkers of chapters 1-4, 7 and 10 (activations, softmax, forward
propagation, losses, the finite-difference gradient, one_hot, get_batches, initialisers).

Attempts written as other students would: one coming from PyTorch (loss(input, target), class
indices, nn.Linear's init), one from MATLAB (1-based thinking, shape[1], np.matrix), one who
writes Python loops and lists, one who over-engineers (callable classes, caches, decorators), one
who is numerically careful (log1p, expm1, logaddexp, xlogy, complex steps) and one who copies the
notebook's formulas literally. Each is registered with ``@attempt(checker, ...)``: without
``hint`` it must pass; with ``hint`` (a fragment or a tuple of them) it must fail and its
messages contain every fragment and none of ``absent``. Its docstring says what is unusual about
it or what the mistake is.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import logsumexp, xlogy
from verdicts import Attempts

from scratchnn.exercises import (
    check_activation_derivatives,
    check_activation_function,
    check_forward_propagation,
    check_get_batches,
    check_initializer,
    check_loss_function,
    check_numerical_gradient,
    check_one_hot,
    check_relu,
    check_sigmoid,
    check_softmax,
)

attempt = Attempts()


def stable_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def log_softmax(z):
    return z - logsumexp(z, axis=-1, keepdims=True)


# -- sigmoid and relu ------------------------------------------------------------------------------
@attempt(check_sigmoid)
def sigmoid_clipped_input(x, derivative=False):
    """np.clip(x, -500, 500) before a naive exp: never overflows, right to float64's precision."""
    s = 1 / (1 + np.exp(-np.clip(x, -500, 500)))
    return s * (1 - s) if derivative else s


@attempt(check_sigmoid)
def sigmoid_in_log_space(x, derivative=False):
    """Numerically careful: log s = -logaddexp(0, -x), and s (1 - s) as exp(log s + log(1 - s))."""
    if derivative:
        return np.exp(-np.logaddexp(0, -x) - np.logaddexp(0, x))
    return np.exp(-np.logaddexp(0, -x))


@attempt(check_sigmoid)
def sigmoid_math_e_power(x, derivative=False):
    """The formula copied literally: 1 / (1 + math.e ** -x) (NumPy's power, overflow to inf)."""
    s = 1 / (1 + math.e ** -x)
    return s * (1 - s) if derivative else s


@attempt(check_sigmoid)
def sigmoid_nested_lists(x, derivative=False):
    """Python loops over rows and entries with math.exp, each branch the stable one."""
    def one(v):
        return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    s = np.array([[one(v) for v in row] for row in x])
    return s * (1 - s) if derivative else s


@attempt(check_sigmoid)
def sigmoid_matrix(x, derivative=False):
    """MATLAB habit: np.asmatrix, and np.multiply for the elementwise product."""
    s = np.asmatrix(stable_sigmoid(x))
    return np.multiply(s, 1 - s) if derivative else s


class SigmoidFunction:
    """A callable object instead of a function (no __name__)."""

    def __call__(self, x, derivative=False):
        s = stable_sigmoid(x)
        return s * (1 - s) if derivative else s


attempt(check_sigmoid)(SigmoidFunction())

_BY_BYTES = {}


@attempt(check_sigmoid)
def sigmoid_cached_by_bytes(x, derivative=False):
    """A cache keyed by the input's bytes: right for every input."""
    s = _BY_BYTES.setdefault(x.tobytes() + str(x.shape).encode(), stable_sigmoid(x))
    return s * (1 - s) if derivative else s


class SigmoidKeepsItsOutput:
    """derivative=True from the output of the last call (a layer's habit in a function)."""

    def __init__(self):
        self.out = None

    def __call__(self, x, derivative=False):
        if derivative:
            return self.out * (1 - self.out)
        self.out = stable_sigmoid(x)
        return self.out


attempt(check_sigmoid, hint="earlier call's input")(SigmoidKeepsItsOutput())


@functools.lru_cache
def sigmoid_lru_cache(x, derivative=False):
    """functools.lru_cache on a function of arrays: unhashable."""
    s = stable_sigmoid(x)
    return s * (1 - s) if derivative else s


attempt(check_sigmoid, hint="functools.lru_cache")(sigmoid_lru_cache)


@attempt(check_relu)
def relu_half_of_x_plus_abs(x, derivative=False):
    """(x + |x|) / 2, and the derivative as sign(max(x, 0))."""
    return np.sign(np.maximum(x, 0)) if derivative else (x + np.abs(x)) / 2


@attempt(check_relu)
def relu_fmax_heaviside(x, derivative=False):
    """np.fmax and np.heaviside(x, 0.5): one half at x = 0."""
    return np.heaviside(x, 0.5) if derivative else np.fmax(x, 0)


@attempt(check_relu)
def relu_boolean_derivative(x, derivative=False):
    """The derivative as the boolean array x > 0 (numbers to NumPy); x.clip(min=0)."""
    return x > 0 if derivative else x.clip(min=0)


attempt(check_relu)(np.vectorize(
    lambda v, derivative=False: (1.0 if v > 0 else 0.0) if derivative else max(v, 0.0)))


@attempt(check_relu, hint=("`out = x` gives x a second name", "must not change its argument"))
def relu_out_is_x(x, derivative=False):
    """MATLAB's copy on assignment expected: out = x; out[out < 0] = 0 zeroes the caller's x."""
    out = x
    if derivative:
        out[out > 0] = 1
    out[out < 0] = 0
    return out


@attempt(check_relu, hint="0/0")
def relu_derivative_x_over_abs(x, derivative=False):
    """(x / |x| + 1) / 2: right except NaN at x = 0."""
    return (x / np.abs(x) + 1) / 2 if derivative else np.maximum(x, 0)


# -- tanh and leaky ReLU ---------------------------------------------------------------------------
@attempt(check_activation_function, "tanh")
def tanh_expm1(x, derivative=False):
    """Numerically careful: tanh |x| = -expm1(-2|x|) / (2 + expm1(-2|x|)), with x's sign."""
    e = np.expm1(-2 * np.abs(x))
    t = -e / (2 + e) * np.sign(x)
    return 1 - t * t if derivative else t


@attempt(check_activation_function, "tanh")
def tanh_sech_squared(x, derivative=False):
    """tanh' = 1 / cosh(x) ** 2."""
    return 1 / np.cosh(x) ** 2 if derivative else np.tanh(x)


@attempt(check_activation_derivatives, "tanh")
def tanh_derivative_from_exponentials(x, derivative=False):
    """tanh' = 4 / (e^x + e^-x) ** 2, the notebook's definition differentiated by hand."""
    return 4 / (np.exp(x) + np.exp(-x)) ** 2 if derivative else np.tanh(x)


@attempt(check_activation_function, "leaky_relu")
def leaky_relu_leak(x, leak=0.2, derivative=False):
    """The slope under a name of its own, leak, with its own default 0.2."""
    return np.where(x > 0, 1.0, leak) if derivative else np.where(x > 0, x, leak * x)


@attempt(check_activation_function, "leaky_relu")
def leaky_relu_keyword_only(x, derivative=False, *, alpha=0.3):
    """alpha keyword-only, after derivative, with Keras' default 0.3."""
    return np.where(x > 0, 1.0, alpha) if derivative else np.maximum(x, alpha * x)


def _leaky(x, alpha=0.01, derivative=False):
    return np.where(x > 0, 1.0, alpha) if derivative else np.where(x > 0, x, alpha * x)


attempt(check_activation_function, "leaky_relu")(functools.partial(_leaky, alpha=0.1))


def _logged(fn):
    def wrapper(*args, **kwargs):  # no functools.wraps: the signature is (*args, **kwargs)
        return fn(*args, **kwargs)
    return wrapper


@attempt(check_activation_function, "leaky_relu")
@_logged
def leaky_relu_behind_a_decorator(x, alpha=0.2, derivative=False):
    """A decorator without functools.wraps hides alpha = 0.2: read from its values instead."""
    return _leaky(x, alpha, derivative)


@attempt(check_activation_function, "leaky_relu")
def leaky_relu_with_a_scale(x, derivative=False, scale=1.0):
    """A numeric parameter that is not the slope (scale=1.0), and the slope 0.01 written in."""
    return scale * _leaky(x, 0.01, derivative)


@attempt(check_activation_function, "leaky_relu")
def leaky_relu_slope_in_kwargs(x, derivative=False, **options):
    """The slope read from **options with a default of 0.05: found from its values."""
    return _leaky(x, options.get("alpha", 0.05), derivative)


@attempt(check_activation_function, "leaky_relu", hint="0/0")
def leaky_relu_derivative_nan_at_zero(x, alpha=0.01, derivative=False):
    """The slopes multiplied by |x| / |x|: NaN at x = 0."""
    if derivative:
        return np.where(x > 0, 1.0, alpha) * np.abs(x) / np.abs(x)
    return np.where(x > 0, x, alpha * x)


@attempt(check_activation_function, "leaky_relu", hint="negative inputs must give alpha * x")
@_logged
def leaky_relu_decorated_relu(x, alpha=0.2, derivative=False):
    """Behind a decorator and a plain ReLU: no slope to read, judged with 0.01."""
    return (x > 0).astype(float) if derivative else np.maximum(x, 0)


# -- softmax ---------------------------------------------------------------------------------------
@attempt(check_softmax)
def softmax_broadcast_jacobian(x, derivative=False):
    """J = s[:, None] * (I - s[None, :])."""
    s = np.exp(log_softmax(x))
    return s[:, None] * (np.eye(len(s)) - s[None, :]) if derivative else s


@attempt(check_softmax)
def softmax_lists(x, derivative=False):
    """Plain Python: lists, max, math.exp; the Jacobian as a nested list."""
    def row(r):
        m = max(r)
        e = [math.exp(v - m) for v in r]
        return [v / sum(e) for v in e]
    if np.ndim(x) == 1:
        s = row(x)
        if derivative:
            return [[s[i] * ((i == j) - s[j]) for j in range(len(s))] for i in range(len(s))]
        return s
    return [row(r) for r in x]


@attempt(check_softmax, hint="np.atleast_2d")
def softmax_always_two_dimensional(x, derivative=False):
    """np.atleast_2d: one sample comes back (1, C)."""
    s = np.exp(log_softmax(np.atleast_2d(x)))
    return np.diag(s[0]) - np.outer(s[0], s[0]) if derivative else s


# -- forward propagation ---------------------------------------------------------------------------
@attempt(check_forward_propagation)
def forward_propagation_pytorch_layout(x, weights, biases, activation):
    """(W^T a^T)^T + b: PyTorch's W x, transposed back."""
    a = x
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = (W.T @ a.T).T + b
        a = z if k == len(weights) - 1 else activation(z)
    return a


@attempt(check_forward_propagation)
def forward_propagation_recursive(x, weights, biases, activation):
    """Recursion on the rest of the lists (slices, which leave the caller's lists alone)."""
    z = x @ weights[0] + biases[0]
    if len(weights) == 1:
        return z
    return forward_propagation_recursive(activation(z), weights[1:], biases[1:], activation)


@attempt(check_forward_propagation)
def forward_propagation_in_place_bias(x, weights, biases, activation):
    """z += b on the fresh product a @ W: in place, but on its own array."""
    a = x
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W
        z += b
        a = z if k == len(weights) - 1 else activation(z)
    return a


@attempt(check_forward_propagation, hint="item 3 is the right answer")
def forward_propagation_every_layer(x, weights, biases, activation):
    """Returns the list of every layer's output (for a backward pass), not the last one."""
    outputs = [x]
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = outputs[-1] @ W + b
        outputs.append(z if k == len(weights) - 1 else activation(z))
    return outputs


@attempt(check_forward_propagation, hint=("gave the activation's derivative", "a = activation(z)"))
def forward_propagation_derivative_of_the_activation(x, weights, biases, activation):
    """activation(z, True): the derivative's values between the layers."""
    a = x
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W + b
        a = z if k == len(weights) - 1 else activation(z, True)
    return a


@attempt(check_forward_propagation, hint=("gave the activation's derivative",
                                          "none after the last layer"))
def forward_propagation_derivative_at_every_layer(x, weights, biases, activation):
    """activation(z, derivative=True) after every layer, the last one too."""
    a = x
    for W, b in zip(weights, biases, strict=True):
        a = activation(a @ W + b, derivative=True)
    return a


@attempt(check_forward_propagation)
def forward_propagation_derivative_false_by_name(x, weights, biases, activation):
    """activation(z, derivative=False), the default spelled out."""
    a = x
    for k, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W + b
        a = z if k == len(weights) - 1 else activation(z, derivative=False)
    return a


@attempt(check_forward_propagation, hint="forward_propagation changed its arguments")
def forward_propagation_weights_reversed_for_a_stack(x, weights, biases, activation):
    """weights.reverse() to pop() layers off the end like a stack: the caller's lists change."""
    weights.reverse()
    biases.reverse()
    a = x
    while weights:
        W, b = weights.pop(), biases.pop()
        z = a @ W + b
        a = z if not weights else activation(z)
    return a


# -- losses ----------------------------------------------------------------------------------------
def loss(name, doc, values, derivative):
    """A loss ``name(y_real, y_pred, derivative=False)`` from its two halves."""
    def f(y_real, y_pred, derivative_=False, **kwargs):
        half = derivative if kwargs.get("derivative", derivative_) else values
        return half(y_real, y_pred)
    f.__name__, f.__doc__ = name, doc
    return f


attempt(check_loss_function, "mse")(loss(
    "mse_norm", "np.linalg.norm(d) ** 2 / n.",
    lambda y, p: np.linalg.norm(p - y) ** 2 / p.size, lambda y, p: 2 * (p - y) / p.size))
attempt(check_loss_function, "mse")(loss(
    "mse_mean_of_row_means", "The mean of each row's mean: the same number.",
    lambda y, p: np.mean(np.mean((p - y) ** 2, axis=1)),
    lambda y, p: 2 * (p - y) / np.prod(p.shape)))
attempt(check_loss_function, "mse", hint="without the 1/2")(loss(
    "mse_halved", "0.5 * mean(d ** 2), the derivative d / n to match.",
    lambda y, p: 0.5 * np.mean((p - y) ** 2), lambda y, p: (p - y) / p.size))
attempt(check_loss_function, "mse", hint="return shape (6, 2)")(loss(
    "mse_flat_derivative", "The right derivative, flattened.",
    lambda y, p: np.mean((p - y) ** 2), lambda y, p: (2 * (p - y) / p.size).ravel()))
attempt(check_loss_function, "mae")(loss(
    "mae_where_at_a_tie", "np.where(d > 0, 1, -1): -1 at y_pred == y_real, a valid subgradient.",
    lambda y, p: np.mean(np.abs(p - y)), lambda y, p: np.where(p - y > 0, 1.0, -1.0) / p.size))
attempt(check_loss_function, "mae", hint="0/0 = NaN", absent=("sign(d) (+1 or -1)",))(loss(
    "mae_d_over_abs", "d / |d| / n: NaN where y_pred == y_real.",
    lambda y, p: np.mean(np.abs(p - y)), lambda y, p: (p - y) / np.abs(p - y) / p.size))


@attempt(check_loss_function, "mse", hint="takes the prediction first",
         absent=("the sign is flipped",))
def mse_pytorch_order(y_pred, y_real, derivative=False):
    """PyTorch's loss(input, target) order: the check's y_real lands in y_pred."""
    return 2 * (y_pred - y_real) / y_pred.size if derivative else np.mean((y_pred - y_real) ** 2)


@attempt(check_loss_function, "mse")
def mse_names_swapped_consistently(y_pred, y_real, derivative=False):
    """Misnamed parameters, used consistently with the order the check calls: right as called,
    so the names alone do not fail it."""
    return 2 * (y_real - y_pred) / y_pred.size if derivative else np.mean((y_pred - y_real) ** 2)


@attempt(check_loss_function, "binary_cross_entropy", hint="takes the prediction first")
def bce_pytorch_order(y_pred, y_true, derivative=False):
    """(y_pred, y_true), as PyTorch and Keras name them."""
    p = np.clip(y_pred, 1e-12, 1 - 1e-12)
    if derivative:
        return (p - y_true) / (p * (1 - p)) / p.size
    return -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


@attempt(check_loss_function, "binary_cross_entropy")
def bce_xlogy(y_real, y_pred, derivative=False):
    """scipy's xlogy on p clipped at 1e-15 (scikit-learn's old eps)."""
    p = np.clip(y_pred, 1e-15, 1 - 1e-15)
    if derivative:
        return (-y_real / p + (1 - y_real) / (1 - p)) / p.size
    return -np.mean(xlogy(y_real, p) + xlogy(1 - y_real, 1 - p))


@attempt(check_loss_function, "binary_cross_entropy")
def bce_where_log1p(y_real, y_pred, derivative=False):
    """np.where on the label, log1p(-p) for the label-0 term, clipped at 1e-7."""
    p = np.clip(y_pred, 1e-7, 1 - 1e-7)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return np.mean(np.where(y_real == 1, -np.log(p), -np.log1p(-p)))


@attempt(check_loss_function, "binary_cross_entropy")
def bce_through_the_logit(y_real, y_pred, derivative=False):
    """Back to the logit z = log p - log1p(-p), then softplus(z) - y z."""
    p = np.clip(y_pred, 1e-12, 1 - 1e-12)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    z = np.log(p) - np.log1p(-p)
    return np.mean(np.logaddexp(0, z) - y_real * z)


@attempt(check_loss_function, "binary_cross_entropy")
def bce_float32_at_1e_7(y_real, y_pred, derivative=False):
    """float32 throughout, clipped at 1e-7 as the text advises for float32."""
    p, y = np.clip(y_pred.astype(np.float32), 1e-7, 1 - 1e-7), y_real.astype(np.float32)
    if derivative:
        return (p - y) / (p * (1 - p)) / p.size
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


@attempt(check_loss_function, "binary_cross_entropy", hint="clip the probabilities")
def bce_xlogy_unclipped(y_real, y_pred, derivative=False):
    """xlogy makes 0 log 0 = 0, but a confidently wrong answer is still log(0) = -inf."""
    if derivative:
        return (y_pred - y_real) / np.maximum(y_pred * (1 - y_pred), 1e-12) / y_pred.size
    return -np.mean(xlogy(y_real, y_pred) + xlogy(1 - y_real, 1 - y_pred))


@attempt(check_loss_function, "cross_entropy")
def cross_entropy_through_the_jacobian(y_real, logits, derivative=False):
    """The long way: dL/ds times each row's softmax Jacobian, with s kept from 0 by 1e-300."""
    s = np.exp(log_softmax(logits))
    if derivative:
        grad = np.zeros_like(s)
        for b in range(len(s)):
            jacobian = np.diag(s[b]) - np.outer(s[b], s[b])
            grad[b] = jacobian.T @ (-y_real[b] / np.maximum(s[b], 1e-300) / len(s))
        return grad
    return -np.sum(y_real * np.log(np.maximum(s, 1e-300))) / len(s)


@attempt(check_loss_function, "cross_entropy")
def cross_entropy_take_along_axis(y_real, logits, derivative=False):
    """The labels from argmax, np.take_along_axis for the value, -1 at each label for the
    gradient."""
    labels = y_real.argmax(axis=1)
    logs = log_softmax(logits)
    if derivative:
        grad = np.exp(logs)
        grad[np.arange(len(grad)), labels] -= 1
        return grad / len(grad)
    return -np.take_along_axis(logs, labels[:, None], axis=1).mean()


@attempt(check_loss_function, "cross_entropy")
def cross_entropy_float32(y_real, logits, derivative=False):
    """Log-softmax computed in float32."""
    z = logits.astype(np.float32)
    logs = z - z.max(axis=1, keepdims=True)
    logs = logs - np.log(np.exp(logs).sum(axis=1, keepdims=True))
    if derivative:
        return (np.exp(logs) - y_real.astype(np.float32)) / len(z)
    return -np.sum(y_real * logs) / len(z)


@attempt(check_loss_function, "cross_entropy", hint="not integer class indices")
def cross_entropy_class_indices(y_real, logits, derivative=False):
    """PyTorch's CrossEntropyLoss habit: y_real used as class indices."""
    batch, logs = len(logits), log_softmax(logits)
    if derivative:
        grad = np.exp(logs)
        grad[np.arange(batch), y_real] -= 1
        return grad / batch
    return -np.mean(logs[np.arange(batch), y_real])


@attempt(check_loss_function, "cross_entropy", hint="not the batch's z.max()",
         absent=("overflows",))
def cross_entropy_batch_maximum(y_real, logits, derivative=False):
    """'z - max z' read literally as the batch's maximum: a row far below it takes log(0)."""
    z = logits - logits.max()
    logs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    if derivative:
        return (np.exp(logs) - y_real) / len(logits)
    return -np.sum(y_real * logs) / len(logits)


@attempt(check_loss_function, "cross_entropy", hint=("item 0 is the right answer",
                                                     "item 1 is the right answer"))
def cross_entropy_loss_and_gradient(y_real, logits, derivative=False):
    """Returns (loss, gradient) on every call (crashed the checker)."""
    logs = log_softmax(logits)
    return -np.sum(y_real * logs) / len(logits), (np.exp(logs) - y_real) / len(logits)


@attempt(check_loss_function, "cross_entropy", hint="takes the prediction first")
def cross_entropy_logits_first(logits, y_real, derivative=False):
    """(logits, y_real): the order of PyTorch's F.cross_entropy(input, target)."""
    if derivative:
        return (np.exp(log_softmax(logits)) - y_real) / len(logits)
    return -np.sum(y_real * log_softmax(logits)) / len(logits)


class CrossEntropyKeepsItsSoftmax:
    """Over-engineered: the value's call keeps s for the derivative's call, which is then
    right only when it follows a value call on the same logits (passed before)."""

    def __init__(self):
        self.s = None

    def __call__(self, y_real, logits, derivative=False):
        if derivative:
            return (self.s - y_real) / len(y_real)
        logs = log_softmax(logits)
        self.s = np.exp(logs)
        return -np.sum(y_real * logs) / len(logits)


attempt(check_loss_function, "cross_entropy", hint="the previous call's data")(
    CrossEntropyKeepsItsSoftmax())

_DIFFERENCES = {}


@attempt(check_loss_function, "mse", hint="the previous call's data")
def mse_cached_by_shape(y_real, y_pred, derivative=False):
    """y_pred - y_real cached by the shape: every batch of a training run gets the first one's."""
    d = _DIFFERENCES.setdefault(y_pred.shape, y_pred - y_real)
    return 2 * d / d.size if derivative else np.mean(d ** 2)


# -- numerical gradient ----------------------------------------------------------------------------
@attempt(check_numerical_gradient)
def numgrad_basis_vectors(f, x, eps=1e-5):
    """The formula literally: f(x + eps e_i) - f(x - eps e_i), with e_i a basis array."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1
        grad[i] = (f(x + eps * e) - f(x - eps * e)) / (2 * eps)
    return grad


@attempt(check_numerical_gradient)
def numgrad_flat_index(f, x, eps=1e-5):
    """MATLAB's linear indexing: x.flat[k], restored from the old value."""
    grad = np.zeros(x.shape)
    for k in range(x.size):
        old = x.flat[k]
        x.flat[k] = old + eps
        up = f(x)
        x.flat[k] = old - eps
        down = f(x)
        x.flat[k] = old
        grad.flat[k] = (up - down) / (2 * eps)
    return grad


@attempt(check_numerical_gradient)
def numgrad_relative_step(f, x, eps=1e-5):
    """A step scaled by |x_i|, divided by the step the copies really took."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        step = eps * max(1.0, abs(x[i]))
        plus[i] += step
        minus[i] -= step
        grad[i] = (f(plus) - f(minus)) / (plus[i] - minus[i])
    return grad


@attempt(check_numerical_gradient)
def numgrad_nested_lists(f, x, eps=1e-5):
    """Two loops over rows and columns, the gradient built as a list of lists."""
    rows = []
    for r in range(x.shape[0]):
        row = []
        for c in range(x.shape[1]):
            plus, minus = x.copy(), x.copy()
            plus[r][c] += eps
            minus[r][c] -= eps
            row.append((f(plus) - f(minus)) / (2 * eps))
        rows.append(row)
    return rows


class NumericalGradient:
    """A callable object keeping its eps."""

    def __init__(self, eps=1e-6):
        self.eps = eps

    def __call__(self, f, x):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[i] += self.eps
            minus[i] -= self.eps
            grad[i] = (f(plus) - f(minus)) / (2 * self.eps)
        return grad


attempt(check_numerical_gradient)(NumericalGradient())


def _numgrad_with(eps):
    def numgrad(f, x, eps=eps):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[i] += eps
            minus[i] -= eps
            grad[i] = (f(plus) - f(minus)) / (2 * eps)
        return grad
    numgrad.__name__ = f"numgrad_eps_{eps:.0e}".replace("-", "_")
    numgrad.__doc__ = f"A central difference with eps = {eps:g}: error well below 1e-6."
    return numgrad


for _eps in (1e-3, 1e-4, 1e-7, 1e-8):
    attempt(check_numerical_gradient)(_numgrad_with(_eps))


@attempt(check_numerical_gradient, hint="complex-step")
def numgrad_complex_step(f, x, eps=1e-20):
    """The complex-step derivative: needs an f that computes in complex numbers."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        z = x.astype(complex)
        z[i] += 1j * eps
        grad[i] = np.imag(f(z)) / eps
    return grad


@attempt(check_numerical_gradient, hint="item 0 is the right answer",
         absent=("one entry per entry of x",))
def numgrad_gradient_and_value(f, x, eps=1e-5):
    """Returns (gradient, f(x))."""
    return _numgrad_with(eps)(f, x), f(x)


@attempt(check_numerical_gradient, hint="never computed")
def numgrad_first_column_only(f, x, eps=1e-5):
    """MATLAB's x(i) read as the first column: one loop over the rows."""
    grad = np.zeros_like(x)
    for r in range(len(x)):
        plus, minus = x.copy(), x.copy()
        plus[r, 0] += eps
        minus[r, 0] -= eps
        grad[r, 0] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@attempt(check_numerical_gradient, hint="grad = x gives x a second name",
         absent=("restore each entry",))
def numgrad_gradient_named_x(f, x, eps=1e-5):
    """MATLAB's copy on assignment expected: grad = x, then grad[i] = ... writes into x."""
    grad = x
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


# -- one_hot and get_batches -----------------------------------------------------------------------
@attempt(check_one_hot)
def one_hot_boolean_comparison(labels, n_classes):
    """labels[:, None] == np.arange(n_classes): booleans, which NumPy counts as 0 and 1."""
    return labels[:, None] == np.arange(n_classes)


@attempt(check_one_hot)
def one_hot_lists_of_ints(labels, n_classes):
    """A list of lists of int(label == c)."""
    return [[int(label == c) for c in range(n_classes)] for label in labels]


@attempt(check_one_hot)
def one_hot_put_along_axis(labels, n_classes):
    """np.put_along_axis into uint8."""
    out = np.zeros((labels.size, n_classes), dtype=np.uint8)
    np.put_along_axis(out, labels.reshape(-1, 1), 1, axis=1)
    return out


@attempt(check_one_hot, hint="use n_classes")
def one_hot_classes_counted(labels, n_classes):
    """Counts the classes present (3), ignoring n_classes."""
    return np.eye(len(np.unique(labels)))[labels]


@attempt(check_one_hot, hint="return shape (6, 4)")
def one_hot_flattened(labels, n_classes):
    """The rows concatenated into one vector."""
    return np.eye(n_classes)[labels].ravel()


@attempt(check_one_hot, hint="holds its label where it should hold 1")
def one_hot_label_values(labels, n_classes):
    """out[rows, labels] = labels: the label itself instead of 1."""
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = labels
    return out


@attempt(check_get_batches)
def get_batches_np_split_at_multiples(x, batch_size):
    """np.split at batch_size, 2 batch_size, ...: batches of batch_size, the last shorter."""
    return np.split(x, range(batch_size, len(x), batch_size))


@attempt(check_get_batches)
def get_batches_while_loop(x, batch_size):
    """A while loop with min() for the end of the last batch."""
    batches, start = [], 0
    while start < len(x):
        batches.append(x[start:min(start + batch_size, len(x))])
        start += batch_size
    return batches


@attempt(check_get_batches)
def get_batches_ceil_tuple(x, batch_size):
    """math.ceil of the number of batches, a tuple."""
    return tuple(x[k * batch_size:(k + 1) * batch_size]
                 for k in range(math.ceil(len(x) / batch_size)))


@attempt(check_get_batches, hint="x.shape[1] counts the columns",
         absent=("one row too many",))
def get_batches_over_the_columns(x, batch_size):
    """range over x.shape[1] (MATLAB's size(x, 2) confusion): covers 2 rows' worth of starts."""
    return [x[i:i + batch_size] for i in range(0, x.shape[1], batch_size)]


@attempt(check_get_batches, hint="in two batches")
def get_batches_wraps_around(x, batch_size):
    """An extra batch of the first rows appended."""
    return [x[i:i + batch_size] for i in range(0, len(x), batch_size)] + [x[:batch_size]]


@attempt(check_get_batches, hint="no .T")
def get_batches_transposed(x, batch_size):
    """Each batch transposed to (features, batch), a column-major habit."""
    return [x[i:i + batch_size].T for i in range(0, len(x), batch_size)]


@attempt(check_get_batches, hint="the last, shorter batch is missing")
def get_batches_zip_of_iterators(x, batch_size):
    """zip(*[iter(x)] * batch_size): drops the leftover rows."""
    return [np.array(batch) for batch in zip(*[iter(x)] * batch_size, strict=False)]


_BATCHES_BY_SHAPE = {}


@attempt(check_get_batches, hint="batches of an earlier call")
def get_batches_cached_by_shape(x, batch_size):
    """Over-engineered: the batches cached by (shape, batch_size), so every epoch's shuffled X
    (same shape) gets the first epoch's batches back (passed before)."""
    key = (x.shape, batch_size)
    if key not in _BATCHES_BY_SHAPE:
        _BATCHES_BY_SHAPE[key] = [x[i:i + batch_size].copy() for i in range(0, len(x), batch_size)]
    return _BATCHES_BY_SHAPE[key]


# -- initialisers ----------------------------------------------------------------------------------
@attempt(check_initializer, "he_normal")
def he_normal_scalar_draws(n_in, n_out, rng):
    """One rng.normal call per weight, in nested list comprehensions."""
    std = math.sqrt(2 / n_in)
    return np.array([[rng.normal(0, std) for _ in range(n_out)] for _ in range(n_in)])


@attempt(check_initializer, "xavier_uniform")
def xavier_uniform_from_random(n_in, n_out, rng):
    """rng.random in [0, 1) stretched to [-a, a)."""
    return (rng.random((n_in, n_out)) * 2 - 1) * np.sqrt(6 / (n_in + n_out))


@attempt(check_initializer, "xavier_uniform")
def xavier_uniform_pytorch_layout(n_in, n_out, rng):
    """Drawn as PyTorch's (n_out, n_in) and transposed."""
    a = np.sqrt(6 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_out, n_in)).T


@attempt(check_initializer, "he_normal")
def he_normal_truncated_as_keras(n_in, n_out, rng):
    """Keras' truncated normal at 2 std, its std scaled up by 1 / 0.8796 to keep the variance."""
    std = np.sqrt(2 / n_in) / 0.87962566103423978
    w = rng.normal(0, std, size=(n_in, n_out))
    outside = np.abs(w) > 2 * std
    while outside.any():
        w[outside] = rng.normal(0, std, size=outside.sum())
        outside = np.abs(w) > 2 * std
    return w


@attempt(check_initializer, "xavier_uniform", hint="PyTorch's nn.Linear default")
def xavier_uniform_pytorch_linear(n_in, n_out, rng):
    """U(-1/sqrt(n_in), 1/sqrt(n_in)), what nn.Linear does by default."""
    return rng.uniform(-1 / np.sqrt(n_in), 1 / np.sqrt(n_in), size=(n_in, n_out))


@attempt(check_initializer, "he_normal", hint="return the weight matrix alone")
def he_normal_with_biases(n_in, n_out, rng):
    """Returns (W, b)."""
    return rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), np.zeros((1, n_out))


@attempt(check_initializer, "xavier_uniform", hint="integer division",
         absent=("fixed seed",))
def xavier_uniform_integer_division(n_in, n_out, rng):
    """6 // (n_in + n_out) is 0: every weight 0 (was told it used a fixed seed)."""
    a = np.sqrt(6 // (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out))


@attempt(check_initializer, "he_normal", hint="all equal")
def he_normal_constant(n_in, n_out, rng):
    """Every weight sqrt(2 / n_in): the scale without the draw."""
    return np.full((n_in, n_out), np.sqrt(2 / n_in))


@attempt(check_initializer, "he_normal", hint="size=(n_in, n_out)")
def he_normal_flat(n_in, n_out, rng):
    """size=n_in * n_out: a vector."""
    return rng.normal(0, np.sqrt(2 / n_in), size=n_in * n_out)


# -- calls that do not fit the signature, and more of the students above -------------------------
@attempt(check_numerical_gradient, hint="the arguments of the exercise's signature",
         absent=("call f(x_plus)",))
def numgrad_eps_without_default(f, x, eps):
    """eps without its default: the check's call numerical_gradient(f, x) fails (was told to
    call f with the array)."""
    return _numgrad_with(1e-5)(f, x, eps)


@attempt(check_initializer, "he_normal", hint="the arguments of the exercise's signature")
def he_normal_keras_shape(shape, rng):
    """Keras' initialiser(shape) signature: he_normal(n_in, n_out, rng) does not fit."""
    return rng.normal(0, np.sqrt(2 / shape[0]), size=shape)


@attempt(check_sigmoid)
def sigmoid_long_double(x, derivative=False):
    """Computes in np.longdouble, wider than float64."""
    s = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    return s * (1 - s) if derivative else s


class MeanSquaredError:
    """A loss object with __call__ (no __name__)."""

    def __call__(self, y_real, y_pred, derivative=False):
        d = y_pred - y_real
        return 2 * d / d.size if derivative else np.mean(d ** 2)


attempt(check_loss_function, "mse")(MeanSquaredError())


@attempt(check_one_hot)
def one_hot_num_classes_loop(labels, num_classes):
    """PyTorch's parameter name num_classes, int64, a loop over enumerate."""
    out = np.zeros((len(labels), num_classes), dtype=np.int64)
    for i, label in enumerate(labels):
        out[i, label] = 1
    return out


@attempt(check_one_hot, hint="row(s) [0] have no 1")
def one_hot_loop_from_one(labels, n_classes):
    """MATLAB's 1-based loop: range(1, n) skips the first sample."""
    out = np.zeros((len(labels), n_classes))
    for i in range(1, len(labels)):
        out[i, labels[i]] = 1
    return out


@attempt(check_get_batches, hint="hold 22 of the 23 rows")
def get_batches_from_row_one(x, batch_size):
    """MATLAB's 1-based range: the batches start at row 1."""
    return [x[i:i + batch_size] for i in range(1, len(x), batch_size)]


@attempt(check_get_batches)
def get_batches_object_array(x, batch_size):
    """An object array holding the batches."""
    out = np.empty(-(-len(x) // batch_size), dtype=object)
    for k in range(len(out)):
        out[k] = x[k * batch_size:(k + 1) * batch_size]
    return out


@attempt(check_softmax, hint="return shape (5, 5)")
def softmax_jacobian_of_a_batch(x, derivative=False):
    """The Jacobian for a batch, (1, C, C) for one sample."""
    s = np.atleast_2d(np.exp(log_softmax(x)))
    if derivative:
        return np.einsum("bi,ij->bij", s, np.eye(s.shape[1])) - np.einsum("bi,bj->bij", s, s)
    return s.reshape(np.shape(x))


# -- the kink, large inputs in the derivative, one-sided differences ------------------------------
@attempt(check_activation_function, "leaky_relu")
def leaky_relu_strict_masks(x, alpha=0.01, derivative=False):
    """The derivative's two cases copied literally, (x > 0) + alpha (x < 0): 0 at x = 0, where
    the text leaves it open (was failed for not being 0.01 there)."""
    return (x > 0) * 1.0 + (x < 0) * alpha if derivative else np.where(x > 0, x, alpha * x)


@attempt(check_sigmoid, hint="the derivative overflowed")
def sigmoid_derivative_from_exponentials(x, derivative=False):
    """sigmoid' = e^-x / (1 + e^-x)^2: right for ordinary x, NaN (inf / inf) at x = -1000."""
    if derivative:
        return np.exp(-x) / (1 + np.exp(-x)) ** 2
    return stable_sigmoid(x)


@attempt(check_sigmoid)
def sigmoid_derivative_from_clipped_exponentials(x, derivative=False):
    """The same formula on x clipped to [-500, 500]: finite everywhere."""
    e = np.exp(-np.clip(x, -500, 500))
    return e / (1 + e) ** 2 if derivative else 1 / (1 + e)


@attempt(check_activation_derivatives, "tanh", hint="the derivative overflowed")
def tanh_derivative_from_exponentials_unguarded(x, derivative=False):
    """tanh' = 1 - ((e^x - e^-x) / (e^x + e^-x))^2: NaN at +-1000."""
    t = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return 1 - t * t if derivative else np.tanh(x)


@attempt(check_numerical_gradient, hint="one-sided difference")
def numgrad_forward_difference_tiny_eps(f, x, eps=1e-8):
    """(f(x + eps) - f(x)) / eps with eps = 1e-8: accurate to 1e-7 here, but not the central
    difference (passed before)."""
    grad, f_x = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        plus = x.copy()
        plus[i] += eps
        grad[i] = (f(plus) - f_x) / eps
    return grad


@attempt(check_numerical_gradient)
def numgrad_second_order_forward_difference(f, x, eps=1e-5):
    """(-3 f(x) + 4 f(x + h) - f(x + 2h)) / 2h: one-sided, but of second order like the
    central difference, so it is not taken for the first-order one."""
    grad, f_x = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        one, two = x.copy(), x.copy()
        one[i] += eps
        two[i] += 2 * eps
        grad[i] = (-3 * f_x + 4 * f(one) - f(two)) / (2 * eps)
    return grad


@attempt(check_numerical_gradient, hint="one-sided difference")
def numgrad_backward_difference_tiny_eps(f, x, eps=1e-8):
    """(f(x) - f(x - eps)) / eps: the other side."""
    grad, f_x = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        minus = x.copy()
        minus[i] -= eps
        grad[i] = (f_x - f(minus)) / eps
    return grad


# -- distributions off centre, logits for probabilities, J of x ---------------------------------
@attempt(check_initializer, "xavier_uniform", hint="centre the distribution on 0",
         absent=("not rng.normal",))
def xavier_uniform_absolute_values(n_in, n_out, rng):
    """|U(-a, a)|: U(0, a) (was also told it drew from a normal distribution)."""
    a = np.sqrt(6 / (n_in + n_out))
    return np.abs(rng.uniform(-a, a, size=(n_in, n_out)))


@attempt(check_initializer, "he_normal", hint="look uniformly distributed")
def he_normal_uniform_of_the_right_std(n_in, n_out, rng):
    """He's uniform (the right variance) for He's normal."""
    a = np.sqrt(6 / n_in)
    return rng.uniform(-a, a, size=(n_in, n_out))


@attempt(check_softmax, hint="not from x itself")
def softmax_jacobian_of_the_input(x, derivative=False):
    """diag(x) - x x^T: the Jacobian's formula applied to the logits."""
    return np.diag(x) - np.outer(x, x) if derivative else np.exp(log_softmax(x))


@attempt(check_loss_function, "binary_cross_entropy", hint="BCEWithLogitsLoss")
def bce_on_logits(y_real, y_pred, derivative=False):
    """PyTorch's BCEWithLogitsLoss: a sigmoid applied to y_pred, which is a probability."""
    p = stable_sigmoid(y_pred)
    if derivative:
        return (p - y_real) / y_pred.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@attempt(check_loss_function, "cross_entropy")
def cross_entropy_keras_clip(y_real, logits, derivative=False):
    """Keras' categorical cross-entropy: probabilities clipped to [1e-7, 1 - 1e-7]."""
    s = np.exp(log_softmax(logits))
    if derivative:
        return (s - y_real) / len(s)
    return -np.sum(y_real * np.log(np.clip(s, 1e-7, 1 - 1e-7))) / len(s)


@attempt(check_loss_function, "binary_cross_entropy")
def bce_clip_below_and_eps_above(y_real, y_pred, derivative=False, eps=1e-9):
    """Two guards: a clip for log p, + eps for log(1 - p), eps in the derivative's denominator."""
    if derivative:
        return (y_pred - y_real) / (y_pred * (1 - y_pred) + eps) / y_pred.size
    return -np.mean(y_real * np.log(np.clip(y_pred, eps, 1))
                    + (1 - y_real) * np.log(1 - y_pred + eps))


@attempt(check_get_batches, hint="shuffling is a separate step")
def get_batches_shuffles_by_default(x, batch_size, shuffle=True, rng=None):
    """An extra shuffle=True keyword: the check's call shuffles."""
    if shuffle:
        x = x[np.random.default_rng(rng).permutation(len(x))]
    return [x[i:i + batch_size] for i in range(0, len(x), batch_size)]


@attempt(check_get_batches)
def get_batches_map(x, batch_size):
    """A map object of slices."""
    return map(lambda i: x[i:i + batch_size], range(0, len(x), batch_size))


@attempt(check_sigmoid, hint="got an array of complex128")
def sigmoid_through_emath(x, derivative=False):
    """np.emath.sqrt(s ** 2) is complex: the message says what kind of array it got."""
    s = np.emath.sqrt(stable_sigmoid(x) ** 2 + 0j)
    return s * (1 - s) if derivative else s


@attempt(check_loss_function, "mse", hint="got str", absent=("return the loss alone",))
def mse_formatted(y_real, y_pred, derivative=False):
    """Returns the loss formatted for printing, f"{loss:.4f}"."""
    d = y_pred - y_real
    return 2 * d / d.size if derivative else f"{np.mean(d ** 2):.4f}"


# -- PyTorch's own objects (when torch is installed) ---------------------------------------
try:
    import torch
except ImportError:  # the attempts below need it; the others do not
    torch = None

if torch is not None:
    @attempt(check_sigmoid)
    def sigmoid_torch_float32(x, derivative=False):
        """torch.sigmoid on a float32 tensor, returned as the tensor (crashed the checker: a
        torch.dtype has no .kind)."""
        s = torch.sigmoid(torch.tensor(x, dtype=torch.float32))
        return s * (1 - s) if derivative else s

    @attempt(check_sigmoid, hint="requires grad")
    def sigmoid_torch_requires_grad(x, derivative=False):
        """A tensor that requires grad: NumPy cannot read it."""
        s = torch.sigmoid(torch.tensor(x, requires_grad=True))
        return s * (1 - s) if derivative else s

    @attempt(check_loss_function, "cross_entropy")
    def cross_entropy_torch_autograd(y_real, logits, derivative=False):
        """The gradient from torch's autograd, returned as NumPy."""
        z = torch.tensor(logits, requires_grad=True)
        loss = -(torch.tensor(y_real) * torch.log_softmax(z, dim=1)).sum() / len(logits)
        if derivative:
            loss.backward()
            return z.grad.numpy()
        return loss.item()

    @attempt(check_one_hot)
    def one_hot_torch_functional(labels, n_classes):
        """torch.nn.functional.one_hot: an int64 tensor."""
        return torch.nn.functional.one_hot(torch.from_numpy(labels), n_classes)

    @attempt(check_get_batches)
    def get_batches_torch_split(x, batch_size):
        """torch's Tensor.split(batch_size): a tuple of tensors."""
        return torch.from_numpy(x).split(batch_size)


# -- the tests -------------------------------------------------------------------------------------
test_a_correct_attempt_passes, test_a_wrong_attempt_fails_and_names_its_mistake = attempt.tests()
