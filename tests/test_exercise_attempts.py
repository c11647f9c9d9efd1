"""A catalogue of learners' attempts at the exercises, to keep the checkers honest.

Every checker must PASS correct work however it is written (loops, np.where, einsum, in-place
operations, another stable formula or clipping eps, lists instead of arrays, float32) and FAIL
wrong work with a hint that names the mistake. Each attempt below is registered with
``@correct(checker, ...)`` or ``@wrong(checker, ..., hint=...)``; its docstring says, in one
line, what is unusual about it or what the mistake is. ``absent`` lists hints that would
mislead for that attempt (the evidence does not support them).
"""

from __future__ import annotations

import functools
import itertools
import math

import exercise_solutions as sol
import numpy as np
from scipy.special import expit, logsumexp
from verdicts import Attempts

import scratchnn as sn
from scratchnn.exercises import (
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
    check_softmax,
    check_training_step,
)

attempts = Attempts()
correct, wrong = attempts.correct, attempts.wrong


def activation(name, doc, values, derivative):
    """An activation function ``name(x, derivative=False)`` from its two halves."""
    def f(x, derivative_=False, **kwargs):
        return derivative(x) if kwargs.get("derivative", derivative_) else values(x)
    f.__name__, f.__doc__ = name, doc
    return f


# -- sigmoid ---------------------------------------------------------------------------------------
@correct(check_activation_function, "sigmoid")
def sigmoid_via_tanh(x, derivative=False):
    """sigmoid(x) = (1 + tanh(x / 2)) / 2: another formula that never overflows."""
    s = 0.5 * (1 + np.tanh(x / 2))
    return s * (1 - s) if derivative else s


@correct(check_activation_function, "sigmoid")
def sigmoid_scipy_expit(x, derivative=False):
    """scipy.special.expit, and the derivative as e^-x / (1 + e^-x)^2 via expit."""
    return expit(x) * expit(-x) if derivative else expit(x)


@correct(check_activation_function, "sigmoid")
def sigmoid_in_place(x, derivative=False):
    """Naive 1 / (1 + e^-x) built in place on a copy: overflows to inf at -1000, still right."""
    s = np.negative(x)
    np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)
    if derivative:
        s *= 1 - s
    return s


@correct(check_activation_function, "sigmoid")
def sigmoid_loop(x, derivative=False):
    """A Python loop over the entries with math.exp, branching on the sign."""
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        e = math.exp(-abs(v))
        s = 1 / (1 + e) if v >= 0 else e / (1 + e)
        out[i] = s * (1 - s) if derivative else s
    return out


@wrong(check_activation_function, "sigmoid", hint="needs parentheses")
def sigmoid_precedence(x, derivative=False):
    """1 / 1 + np.exp(-x): the denominator lost its parentheses."""
    return 1 / 1 + np.exp(-x)


wrong(check_activation_function, "sigmoid", hint="a factor is missing")(
    activation("sigmoid_derivative_one_minus_s", "sigmoid' = 1 - s: a factor missing.",
               expit, lambda x: 1 - expit(x)))
wrong(check_activation_function, "sigmoid", hint="not s * (1 + s)")(
    activation("sigmoid_derivative_plus", "sigmoid' = s (1 + s).",
               expit, lambda x: expit(x) * (1 + expit(x))))


@wrong(check_activation_function, "sigmoid", hint="exp overflowed")
def sigmoid_naive_exp_x(x, derivative=False):
    """e^x / (1 + e^x): inf / inf = NaN at x = 1000."""
    return np.exp(x) / (1 + np.exp(x))


@correct(check_activation_function, "sigmoid")
def sigmoid_frompyfunc(x, derivative=False):
    """np.frompyfunc over a stable scalar formula: an object array of Python floats."""
    def scalar(v):
        e = math.exp(-abs(v))
        return 1 / (1 + e) if v >= 0 else e / (1 + e)
    s = np.frompyfunc(scalar, 1, 1)(x)
    return s * (1 - s) if derivative else s


@correct(check_activation_function, "sigmoid")
def sigmoid_logaddexp(x, derivative=False):
    """exp(-log(1 + e^-x)) with np.logaddexp: never overflows."""
    s = np.exp(-np.logaddexp(0, -x))
    return s * (1 - s) if derivative else s


@wrong(check_activation_function, "sigmoid", hint="math.exp (or a Python float) overflows")
def sigmoid_math_exp_vectorized(x, derivative=False):
    """np.vectorize over 1 / (1 + math.exp(-v)): math.exp raises OverflowError at -1000."""
    s = np.vectorize(lambda v: 1 / (1 + math.exp(-v)))(x)
    return s * (1 - s) if derivative else s


@wrong(check_activation_function, "sigmoid", hint="sigmoid must not change its argument",
       absent=("uses x as if it were the output",))
def sigmoid_derivative_in_place(x, derivative=False):
    """The derivative written into x itself (x[...] = s * (1 - s))."""
    s = expit(x)
    if derivative:
        x[...] = s * (1 - s)
        return x
    return s


# -- relu ------------------------------------------------------------------------------------------
@correct(check_activation_function, "relu")
def relu_mask_product(x, derivative=False):
    """x * (x > 0) for the value (gives -0.0 below 0), and the boolean mask as the derivative."""
    return x > 0 if derivative else x * (x > 0)


@correct(check_activation_function, "relu")
def relu_clip_heaviside(x, derivative=False):
    """np.clip(x, 0, None), and np.heaviside with 1/2 at the kink."""
    return np.heaviside(x, 0.5) if derivative else np.clip(x, 0, None)


@correct(check_activation_function, "relu")
def relu_where_at_least_zero(x, derivative=False):
    """np.where, with a derivative of 1 at x = 0 (x >= 0)."""
    return np.where(x >= 0, 1.0, 0.0) if derivative else np.where(x > 0, x, 0.0)


@wrong(check_activation_function, "relu", hint="np.sign(x) is -1")
def relu_derivative_sign(x, derivative=False):
    """relu'(x) = np.sign(x): -1 where relu is flat."""
    return np.sign(x) if derivative else np.maximum(x, 0)


@wrong(check_activation_function, "relu", hint="not |x|")
def relu_abs(x, derivative=False):
    """|x| instead of max(x, 0)."""
    return (x > 0) * 1.0 if derivative else np.abs(x)


@wrong(check_activation_function, "relu", hint="np.maximum(x, 0), not np.minimum")
def relu_minimum(x, derivative=False):
    """np.minimum(x, 0): the negative part."""
    return (x > 0) * 1.0 if derivative else np.minimum(x, 0)


@wrong(check_activation_function, "relu", hint="relu must not change its argument")
def relu_derivative_in_place(x, derivative=False):
    """The derivative's mask written over x: right numbers, but the caller's x is gone."""
    if derivative:
        x[x > 0] = 1
        x[x <= 0] = 0
        return x
    return np.maximum(x, 0)


# -- tanh ------------------------------------------------------------------------------------------
@correct(check_activation_function, "tanh")
def tanh_via_sigmoid(x, derivative=False):
    """2 sigmoid(2x) - 1 written by hand (overflows harmlessly), 1 / cosh^2 as the derivative."""
    if derivative:
        return 1 / np.cosh(x) ** 2
    return 2 / (1 + np.exp(-2 * x)) - 1


@correct(check_activation_function, "tanh")
def tanh_stable_exp(x, derivative=False):
    """(1 - e^-2|x|) / (1 + e^-2|x|) with the sign put back: never overflows."""
    e = np.exp(-2 * np.abs(x))
    t = np.sign(x) * (1 - e) / (1 + e)
    return 1 - t * t if derivative else t


@correct(check_activation_function, "tanh")
def tanh_in_float32(x, derivative=False):
    """Computes in float32: judged at float32's precision."""
    t = np.tanh(x.astype(np.float32))
    return 1 - t * t if derivative else t


wrong(check_activation_function, "tanh", hint="the square is missing")(
    activation("tanh_derivative_unsquared", "tanh' = 1 - tanh.", np.tanh,
               lambda x: 1 - np.tanh(x)))
wrong(check_activation_function, "tanh", hint="not (1 - tanh(x)) ** 2")(
    activation("tanh_derivative_square_of_difference", "tanh' = (1 - tanh) ** 2.", np.tanh,
               lambda x: (1 - np.tanh(x)) ** 2))
wrong(check_activation_function, "tanh", hint="the sigmoid takes 2x")(
    activation("tanh_as_2_sigmoid_x", "tanh = 2 sigmoid(x) - 1 (x, not 2x).",
               lambda x: 2 * expit(x) - 1, lambda x: 1 - np.tanh(x) ** 2))


@wrong(check_activation_function, "tanh", hint="e^1000 overflows")
def tanh_naive(x, derivative=False):
    """(e^x - e^-x) / (e^x + e^-x): inf / inf at +-1000."""
    t = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return 1 - t**2 if derivative else t


# -- leaky ReLU ------------------------------------------------------------------------------------
@correct(check_activation_function, "leaky_relu")
def leaky_relu_maximum(x, alpha=0.01, derivative=False):
    """np.maximum(alpha * x, x) (right for alpha < 1)."""
    return np.where(x > 0, 1.0, alpha) if derivative else np.maximum(alpha * x, x)


@correct(check_activation_function, "leaky_relu")
def leaky_relu_default_point_two(x, alpha=0.2, derivative=False):
    """Another default slope: alpha = 0.2 is a leaky ReLU too."""
    return np.where(x >= 0, 1.0, alpha) if derivative else np.where(x >= 0, x, alpha * x)


@correct(check_activation_function, "leaky_relu")
def leaky_relu_negative_slope(x, negative_slope=0.01, derivative=False):
    """PyTorch's name for the slope, negative_slope."""
    mask = x > 0
    return mask + negative_slope * ~mask if derivative else x * (mask + negative_slope * ~mask)


@wrong(check_activation_function, "leaky_relu", hint="the alpha argument is ignored")
def leaky_relu_fixed_slope(x, alpha=0.01, derivative=False):
    """Writes 0.01 in the body instead of using alpha."""
    return np.where(x > 0, 1.0, 0.01) if derivative else np.where(x > 0, x, 0.01 * x)


@wrong(check_activation_function, "leaky_relu", hint="the slopes are swapped")
def leaky_relu_swapped_slopes(x, alpha=0.01, derivative=False):
    """The derivative is alpha above 0 and 1 below."""
    return np.where(x > 0, alpha, 1.0) if derivative else np.where(x > 0, x, alpha * x)


@wrong(check_activation_function, "leaky_relu", hint="not alpha.")
def leaky_relu_constant_below(x, alpha=0.01, derivative=False):
    """alpha instead of alpha * x below 0."""
    return np.where(x > 0, 1.0, alpha) if derivative else np.where(x > 0, x, alpha)


@wrong(check_activation_function, "leaky_relu", hint="0 is a plain ReLU")
def leaky_relu_default_zero(x, alpha=0, derivative=False):
    """A default slope of 0: a plain ReLU, judged with its own default it passed."""
    return np.where(x > 0, 1.0, alpha) if derivative else np.where(x > 0, x, alpha * x)


@wrong(check_activation_function, "sigmoid", hint="keep that parameter name (derivative)")
def sigmoid_deriv_keyword(x, deriv=False):
    """The switch renamed deriv=: the exercise (and the network) call derivative=True."""
    s = expit(x)
    return s * (1 - s) if deriv else s


# -- softmax ---------------------------------------------------------------------------------------
@correct(check_softmax)
def softmax_logsumexp(x, derivative=False):
    """exp(x - logsumexp(x)), and the Jacobian with einsum."""
    s = np.exp(x - logsumexp(x, axis=-1, keepdims=True))
    if derivative:
        return np.einsum("i,ij->ij", s, np.eye(len(s))) - np.einsum("i,j->ij", s, s)
    return s


@correct(check_softmax)
def softmax_global_max_and_loop_jacobian(x, derivative=False):
    """Subtracts the largest entry of the whole batch (stable enough here); Jacobian by loops."""
    e = np.exp(x - np.max(x))
    s = e / e.sum(axis=-1, keepdims=True)
    if not derivative:
        return s
    jac = np.empty((len(s), len(s)))
    for i in range(len(s)):
        for j in range(len(s)):
            jac[i, j] = s[i] * ((i == j) - s[j])
    return jac


@correct(check_softmax)
def softmax_in_place(x, derivative=False):
    """Shifts, exponentiates and normalises one new array in place."""
    s = x - np.max(x, axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return np.diagflat(s) - np.outer(s, s) if derivative else s


@wrong(check_softmax, hint="exponentiate first")
def softmax_without_exp(x, derivative=False):
    """x / sum(x): no exponential."""
    return x / x.sum(axis=-1, keepdims=True)


@wrong(check_softmax, hint="np.outer(s, s)")
def softmax_jacobian_dot(x, derivative=False):
    """The Jacobian with s @ s (a number) instead of the outer product."""
    s = sn.softmax(x)
    return np.diag(s) - s @ s if derivative else s


@wrong(check_softmax, hint="needs keepdims=True")
def softmax_sum_without_keepdims(x, derivative=False):
    """e / e.sum(axis=-1): the sum loses its axis and cannot broadcast against the rows."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1)


@wrong(check_softmax, hint="softmax must not change its argument")
def softmax_shifts_in_place(x, derivative=False):
    """x -= x.max(...): the values are right (softmax ignores the shift), the caller's x is not."""
    x -= x.max(axis=-1, keepdims=True)
    s = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    return np.diag(s) - np.outer(s, s) if derivative else s


# -- losses ----------------------------------------------------------------------------------------
def loss(name, doc, values, derivative):
    """A loss ``name(y_real, y_pred, derivative=False)`` from its two halves."""
    def f(y_real, y_pred, derivative_=False, **kwargs):
        half = derivative if kwargs.get("derivative", derivative_) else values
        return half(y_real, y_pred)
    f.__name__, f.__doc__ = name, doc
    return f


@correct(check_loss_function, "mse")
def mse_loop(y_real, y_pred, derivative=False):
    """Python loops over the entries, returning a float."""
    n = y_pred.size
    if derivative:
        grad = np.zeros_like(y_pred)
        for i in np.ndindex(y_pred.shape):
            grad[i] = 2 * (y_pred[i] - y_real[i]) / n
        return grad
    return float(sum((p - y) ** 2 for p, y in zip(y_pred.ravel(), y_real.ravel(),
                                                  strict=True)) / n)


correct(check_loss_function, "mse")(
    loss("mse_square_mean", "np.square(...).mean(); n from np.prod(shape).",
         lambda y, p: np.square(p - y).mean(), lambda y, p: 2 * (p - y) / np.prod(p.shape)))
correct(check_loss_function, "mae")(
    loss("mae_where", "sum / size; the sign with np.where.",
         lambda y, p: np.abs(y - p).sum() / p.size,
         lambda y, p: np.where(p > y, 1.0, -1.0) / p.size))
correct(check_loss_function, "mse")(
    loss("mse_average_einsum", "np.average, and einsum for the sum of squares.",
         lambda y, p: np.einsum("ij,ij->", p - y, p - y) / p.size,
         lambda y, p: np.multiply(2.0, p - y) / p.size))


@correct(check_loss_function, "mse")
def mse_in_float32(y_real, y_pred, derivative=False):
    """Casts both arguments to float32 first."""
    y, p = y_real.astype(np.float32), y_pred.astype(np.float32)
    return 2 * (p - y) / p.size if derivative else np.mean((p - y) ** 2)


@correct(check_loss_function, "binary_cross_entropy")
def bce_clipped_at_1e_3(y_real, y_pred, derivative=False):
    """Clipped at eps = 1e-3 (the attempt the old checker rejected)."""
    p = np.clip(y_pred, 1e-3, 1 - 1e-3)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@correct(check_loss_function, "binary_cross_entropy")
def bce_eps_inside_the_log(y_real, y_pred, derivative=False, eps=1e-7):
    """log(p + eps) instead of clipping, and the derivative as -y/p + (1 - y)/(1 - p)."""
    if derivative:
        return (-y_real / (y_pred + eps) + (1 - y_real) / (1 - y_pred + eps)) / y_pred.size
    return -np.mean(y_real * np.log(y_pred + eps) + (1 - y_real) * np.log(1 - y_pred + eps))


@correct(check_loss_function, "binary_cross_entropy")
def bce_pytorch_clamp(y_real, y_pred, derivative=False):
    """PyTorch's way: each log clamped at -100; the derivative's denominator kept from 0."""
    if derivative:
        return (y_pred - y_real) / np.maximum(y_pred * (1 - y_pred), 1e-12) / y_pred.size
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(y_pred), np.log(1 - y_pred)
    return -np.mean(y_real * np.maximum(log_p, -100) + (1 - y_real) * np.maximum(log_q, -100))


@correct(check_loss_function, "cross_entropy")
def cross_entropy_logsumexp_and_labels(y_real, logits, derivative=False):
    """scipy's logsumexp; the derivative by subtracting 1 at each row's label."""
    batch = len(logits)
    if derivative:
        grad = sn.softmax(logits)
        grad[np.arange(batch), y_real.argmax(axis=1)] -= 1
        return grad / batch
    return -np.sum(y_real * (logits - logsumexp(logits, axis=1, keepdims=True))) / batch


@correct(check_loss_function, "cross_entropy")
def cross_entropy_clipped_probabilities(y_real, logits, derivative=False):
    """log(s + 1e-12) of a stable softmax, row by row in a loop."""
    s = sn.softmax(logits)
    if derivative:
        return (s - y_real) / len(logits)
    return -sum(np.sum(y * np.log(p + 1e-12)) for y, p in zip(y_real, s, strict=True)) / len(s)


correct(check_loss_function, "cross_entropy")(
    loss("cross_entropy_log_s_plus_1e_3", "log(softmax + 1e-3): another eps, inside the log.",
         lambda y, z: -np.sum(y * np.log(sn.softmax(z) + 1e-3)) / len(z),
         lambda y, z: (sn.softmax(z) - y) / len(z)))
wrong(check_loss_function, "binary_cross_entropy", hint="acts as if eps = 0.05")(
    loss("bce_log_p_plus_0_05", "log(p + 0.05): an eps large enough to move every value.",
         lambda y, p: -np.mean(y * np.log(p + 0.05) + (1 - y) * np.log(1 - p + 0.05)),
         lambda y, p: sn.binary_cross_entropy(y, p, derivative=True)))
wrong(check_loss_function, "mae", hint="sign(d) (+1 or -1), not |d|")(
    loss("mae_derivative_abs", "MAE' = |p - y| / n.", lambda y, p: np.mean(np.abs(p - y)),
         lambda y, p: np.abs(p - y) / p.size))
wrong(check_loss_function, "mae", hint="before averaging")(
    loss("mae_abs_of_mean", "|mean(p - y)|.", lambda y, p: abs(np.mean(p - y)),
         lambda y, p: np.sign(p - y) / p.size))
wrong(check_loss_function, "mse", hint="the squared error itself")(
    loss("mse_derivative_is_the_loss", "MSE' = (p - y)^2 / n.",
         lambda y, p: np.mean((p - y) ** 2), lambda y, p: (p - y) ** 2 / p.size))
wrong(check_loss_function, "binary_cross_entropy", hint="term is missing")(
    loss("bce_only_positive_term", "-mean(y log p): the label-0 term dropped.",
         lambda y, p: -np.mean(y * np.log(p)),
         lambda y, p: sn.binary_cross_entropy(y, p, derivative=True)))
wrong(check_loss_function, "binary_cross_entropy", hint="one of its signs is flipped")(
    loss("bce_derivative_sign_error", "-y/p - (1 - y)/(1 - p): one sign flipped.",
         sn.binary_cross_entropy, lambda y, p: (-y / p - (1 - y) / (1 - p)) / p.size))
wrong(check_loss_function, "cross_entropy", hint="take the log")(
    loss("cross_entropy_without_log", "-sum(y * softmax(z)): the log forgotten.",
         lambda y, z: -np.sum(y * sn.softmax(z)) / len(z),
         lambda y, z: (sn.softmax(z) - y) / len(z)))
wrong(check_loss_function, "cross_entropy", hint="not (z - y) / batch")(
    loss("cross_entropy_derivative_without_softmax", "(z - y) / batch: softmax forgotten.",
         sn.cross_entropy_loss, lambda y, z: (z - y) / len(z)))


@wrong(check_loss_function, "cross_entropy", hint="the sign is flipped", absent=("overflow",))
def cross_entropy_gradient_sign_flipped(y_real, logits, derivative=False):
    """(y - softmax(z)) / batch: the held-out attempt that was also told e^1000 overflows."""
    if derivative:
        return (y_real - sn.softmax(logits)) / len(logits)
    return sn.cross_entropy_loss(y_real, logits)


@wrong(check_loss_function, "binary_cross_entropy", hint="clip the probabilities")
def bce_unclipped(y_real, y_pred, derivative=False):
    """No clipping: log(0) at confident predictions."""
    if derivative:
        return (y_pred - y_real) / (y_pred * (1 - y_pred)) / y_pred.size
    return -np.mean(y_real * np.log(y_pred) + (1 - y_real) * np.log(1 - y_pred))


@wrong(check_loss_function, "binary_cross_entropy", hint="at both ends")
def bce_clipped_below_only(y_real, y_pred, derivative=False):
    """np.maximum(p, eps): p = 1 still takes log(0)."""
    p = np.maximum(y_pred, 1e-12)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@wrong(check_loss_function, "binary_cross_entropy", hint="clipping constant is too large")
def bce_clipped_at_0_05(y_real, y_pred, derivative=False):
    """Clipped at 0.05: confident right answers cost 0.05 each."""
    p = np.clip(y_pred, 0.05, 0.95)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@correct(check_loss_function, "binary_cross_entropy")
def bce_clipped_at_1e_2(y_real, y_pred, derivative=False):
    """Clipped at exactly 1e-2, the largest eps the checker allows (read back with rounding)."""
    p = np.clip(y_pred, 1e-2, 1 - 1e-2)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@wrong(check_loss_function, "binary_cross_entropy", hint="rounds to exactly 1 in float64",
       absent=("at both ends",))
def bce_clipped_at_1e_20(y_real, y_pred, derivative=False):
    """np.clip(p, 1e-20, 1 - 1e-20): 1 - 1e-20 is 1.0, so p = 1 still takes log(0)."""
    p = np.clip(y_pred, 1e-20, 1 - 1e-20)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@wrong(check_loss_function, "binary_cross_entropy", hint="y_pred was changed in place")
def bce_clips_its_argument(y_real, y_pred, derivative=False):
    """np.clip(..., out=y_pred): only the confident edge cases show it."""
    p = np.clip(y_pred, 1e-12, 1 - 1e-12, out=y_pred)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@wrong(check_loss_function, "mse", hint="y_pred was changed in place",
       absent=("the loss: expected",))
def mse_subtracts_in_place(y_real, y_pred, derivative=False):
    """y_pred -= y_real: right numbers on the given input, the caller's y_pred overwritten."""
    y_pred -= y_real
    return 2 * y_pred / y_pred.size if derivative else np.mean(y_pred**2)


wrong(check_loss_function, "cross_entropy", hint="not over axis=0", absent=("acts as if eps",))(
    loss("cross_entropy_softmax_over_the_batch", "log-softmax over axis 0 (the old "
         "checker read it as eps = 1).",
         lambda y, z: -np.sum(y * (z - logsumexp(z, axis=0, keepdims=True))) / len(z),
         lambda y, z: (sn.softmax(z) - y) / len(z)))
wrong(check_loss_function, "cross_entropy", hint="two slips")(
    loss("cross_entropy_gradient_y_minus_s", "y - softmax(z): sign flipped, no 1/batch.",
         sn.cross_entropy_loss, lambda y, z: y - sn.softmax(z)))


@wrong(check_loss_function, "binary_cross_entropy", hint="rounds to exactly 1 in float32")
def bce_float32_clipped_at_1e_12(y_real, y_pred, derivative=False):
    """Clips a float32 copy at 1e-12: 1 - 1e-12 is 1 in float32."""
    p = np.clip(y_pred.astype(np.float32), 1e-12, 1 - 1e-12)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


@wrong(check_loss_function, "binary_cross_entropy", hint="not by the number of rows")
def bce_mean_over_rows(y_real, y_pred, derivative=False):
    """Divides by len(y_pred): the mean only when there is one output per sample."""
    p = np.clip(y_pred, 1e-12, 1 - 1e-12)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / len(p)
    return -np.sum(y_real * np.log(p) + (1 - y_real) * np.log(1 - p)) / len(p)


@correct(check_loss_function, "binary_cross_entropy")
def bce_eps_inside_exact_derivative(y_real, y_pred, derivative=False, eps=1e-3):
    """log(p + 1e-3), and the exact derivative of that: -y / (p + eps) + (1 - y) / (1 - p + eps)."""
    if derivative:
        return (-y_real / (y_pred + eps) + (1 - y_real) / (1 - y_pred + eps)) / y_pred.size
    return -np.mean(y_real * np.log(y_pred + eps) + (1 - y_real) * np.log(1 - y_pred + eps))


@correct(check_loss_function, "cross_entropy")
def cross_entropy_eps_inside_exact_derivative(y_real, logits, derivative=False, eps=1e-3):
    """log(s + 1e-3), and its exact derivative: (s - y) / batch scaled by s_y / (s_y + eps)."""
    s = sn.softmax(logits)
    if derivative:
        right = np.sum(y_real * s, axis=1, keepdims=True)
        return right / (right + eps) * (s - y_real) / len(logits)
    return -np.sum(y_real * np.log(s + eps)) / len(logits)


@wrong(check_loss_function, "cross_entropy", hint="the derivative[")
def cross_entropy_eps_and_a_wrong_gradient(y_real, logits, derivative=False):
    """log(s + 1e-2) (a right eps) with a gradient 1.8 times too large: the eps once widened
    the derivative's tolerance to 100%, so only the edge cases caught it."""
    if derivative:
        return 1.8 * (sn.softmax(logits) - y_real) / len(logits)
    return -np.sum(y_real * np.log(sn.softmax(logits) + 1e-2)) / len(logits)


@wrong(check_loss_function, "binary_cross_entropy", hint="the derivative[")
def bce_eps_and_a_wrong_gradient(y_real, y_pred, derivative=False):
    """log(p + 1e-2) with a guarded derivative 1.3 times too large (passed before)."""
    if derivative:
        return 1.3 * (y_pred - y_real) / (y_pred * (1 - y_pred) + 1e-12) / y_pred.size
    return -np.mean(y_real * np.log(y_pred + 1e-2) + (1 - y_real) * np.log(1 - y_pred + 1e-2))


# -- numerical gradient ----------------------------------------------------------------------------
@correct(check_numerical_gradient)
def numgrad_add_and_subtract(f, x, eps=1e-5):
    """Restores x by adding and subtracting eps (x differs by a rounding step afterwards)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps
        f_plus = f(x)
        x[i] -= 2 * eps
        f_minus = f(x)
        x[i] += eps
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


@correct(check_numerical_gradient)
def numgrad_copy_per_entry(f, x, eps=1e-6):
    """A fresh copy of x for each entry and each side, over x.flat; eps = 1e-6."""
    grad = np.zeros(x.size)
    for k in range(x.size):
        plus, minus = x.copy().ravel(), x.copy().ravel()
        plus[k] += eps
        minus[k] -= eps
        grad[k] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape).tolist()


@correct(check_numerical_gradient)
def numgrad_nditer_float32_result(f, x, eps=1e-4):
    """np.nditer over x, eps = 1e-4, the gradient stored in a float32 array."""
    grad = np.zeros(x.shape, dtype=np.float32)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="several entries of x changed at once")
def numgrad_row_at_a_time(f, x, eps=1e-5):
    """Perturbs a whole row at once."""
    grad = np.zeros_like(x)
    for r in range(len(x)):
        plus, minus = x.copy(), x.copy()
        plus[r] += eps
        minus[r] -= eps
        grad[r] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="several entries of x changed at once")
def numgrad_one_copy_for_all(f, x, eps=1e-5):
    """One copy made before the loop: the perturbations pile up."""
    grad = np.zeros_like(x)
    shifted = x.copy()
    for i in np.ndindex(x.shape):
        shifted[i] += eps
        up = f(shifted)
        shifted[i] -= 2 * eps
        grad[i] = (up - f(shifted)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="float32")
def numgrad_in_float32(f, x, eps=1e-5):
    """Works on x.astype(np.float32)."""
    x32 = x.astype(np.float32)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x32.copy(), x32.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="reshape the perturbed copy back")
def numgrad_flat_copies(f, x, eps=1e-5):
    """Calls f with flattened copies of x."""
    flat = x.ravel()
    grad = np.zeros(flat.size)
    for k in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[k] += eps
        minus[k] -= eps
        grad[k] = (f(plus) - f(minus)) / (2 * eps)
    return grad.reshape(x.shape)


def _central(name, doc, eps, sign=1.0):
    def numerical_gradient(f, x):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[i] += eps
            minus[i] -= eps
            grad[i] = sign * (f(plus) - f(minus)) / (2 * eps)
        return grad
    numerical_gradient.__name__, numerical_gradient.__doc__ = name, doc
    return numerical_gradient


correct(check_numerical_gradient)(_central("numgrad_eps_1e_3", "eps = 1e-3: coarse, fine.", 1e-3))
correct(check_numerical_gradient)(_central("numgrad_eps_1e_8", "eps = 1e-8: fine, fine.", 1e-8))
wrong(check_numerical_gradient, hint="eps = 0.1 is too large")(
    _central("numgrad_eps_0_1", "eps = 0.1: the right formula, too coarse.", 0.1))
wrong(check_numerical_gradient, hint="is too small")(
    _central("numgrad_eps_1e_13", "eps = 1e-13: drowned in rounding.", 1e-13))
wrong(check_numerical_gradient, hint="the wrong way round")(
    _central("numgrad_reversed", "f(x - eps) - f(x + eps).", 1e-5, sign=-1.0))


@wrong(check_numerical_gradient, hint="restore each entry")
def numgrad_left_at_minus_eps(f, x, eps=1e-5):
    """Adds eps, subtracts 2 eps, and never puts the entry back."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps
        up = f(x)
        x[i] -= 2 * eps
        grad[i] = (up - f(x)) / (2 * eps)
    return grad


@correct(check_numerical_gradient)
def numgrad_four_point_stencil(f, x, eps=1e-3):
    """The fourth-order stencil (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        values = []
        for k in (-2, -1, 1, 2):
            shifted = x.copy()
            shifted[i] += k * eps
            values.append(f(shifted))
        grad[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * eps)
    return grad


@correct(check_numerical_gradient)
def numgrad_readwrite_nditer(f, x, eps=1e-5):
    """Perturbs x through a readwrite np.nditer and restores each entry."""
    grad = np.zeros(x.size)
    with np.nditer(x, op_flags=["readwrite"]) as entries:
        for k, entry in enumerate(entries):
            old = float(entry)
            entry[...] = old + eps
            up = f(x)
            entry[...] = old - eps
            down = f(x)
            entry[...] = old
            grad[k] = (up - down) / (2 * eps)
    return grad.reshape(x.shape)


@wrong(check_numerical_gradient, hint="loses its fraction")
def numgrad_integer_array(f, x, eps=1e-5):
    """grad = np.zeros(x.shape, dtype=int): every difference truncated."""
    grad = np.zeros(x.shape, dtype=int)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="never computed (still 0)")
def numgrad_first_row_only(f, x, eps=1e-5):
    """Loops over the columns of the first row only."""
    grad = np.zeros_like(x)
    for j in range(x.shape[1]):
        plus, minus = x.copy(), x.copy()
        plus[0, j] += eps
        minus[0, j] -= eps
        grad[0, j] = (f(plus) - f(minus)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="with the parentheses")
def numgrad_precedence(f, x, eps=1e-5):
    """(f(x + eps) - f(x - eps)) / 2 * eps: multiplied by eps."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / 2 * eps
    return grad


@wrong(check_numerical_gradient, hint="every entry holds their sum")
def numgrad_adds_to_every_entry(f, x, eps=1e-5):
    """grad += difference instead of grad[i] = difference."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad += (f(plus) - f(minus)) / (2 * eps)
    return grad


@wrong(check_numerical_gradient, hint="x's entries, in another shape")
def numgrad_flat_result(f, x, eps=1e-5):
    """Returns the gradient flattened."""
    return sol.numerical_gradient(f, x, eps).ravel()


# -- LinearLayer -----------------------------------------------------------------------------------
class LinearLayerEinsumAliases(sn.Layer):
    """einsum everywhere, aliases self.W / self.b to the params, grads written with [...] =."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.W, self.b = np.zeros((n_in, n_out)), np.zeros((1, n_out))
        self.params = {"W": self.W, "b": self.b}
        self.grads = {"W": np.zeros_like(self.W), "b": np.zeros_like(self.b)}

    def forward(self, x):
        self.x = x.copy()
        return np.einsum("bi,io->bo", x, self.W) + self.b

    def backward(self, grad_z):
        self.grads["W"][...] = np.einsum("bi,bo->io", self.x, grad_z)
        self.grads["b"][...] = np.einsum("bo->o", grad_z)
        return np.einsum("bo,io->bi", grad_z, self.W)

    def update_params(self, learning_rate):
        np.subtract(self.W, learning_rate * self.grads["W"], out=self.W)
        self.b -= learning_rate * self.grads["b"]


correct(check_linear_layer)(LinearLayerEinsumAliases)


@correct(check_linear_layer)
class LinearLayerLoopsOverTheBatch(sol.LinearLayer):
    """Gradients summed sample by sample in a loop, dL/dx with .dot, new dicts in update."""

    def backward(self, grad_z):
        W_grad = np.zeros_like(self.params["W"])
        for x_row, g_row in zip(self.x, grad_z, strict=True):
            W_grad += np.outer(x_row, g_row)
        self.grads = {"W": W_grad, "b": np.sum(grad_z, axis=0)[None, :]}
        return grad_z.dot(self.params["W"].T)

    def update_params(self, learning_rate):
        self.params = {k: p - learning_rate * self.grads[k] for k, p in self.params.items()}


@correct(check_linear_layer)
class LinearLayerInFloat32(LinearLayerEinsumAliases):
    """Keeps its parameters and computes in float32 (the held-out attempt told "wrong formula")."""

    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out)
        self.W, self.b = self.W.astype(np.float32), self.b.astype(np.float32)
        self.params = {"W": self.W, "b": self.b}
        self.grads = {"W": np.zeros_like(self.W), "b": np.zeros_like(self.b)}

    def forward(self, x):
        return super().forward(x.astype(np.float32))


@correct(check_linear_layer)
class LinearLayerWithDtype(sol.LinearLayer):
    """Takes dtype=np.float32 as scratchnn does: rebuilt in float64 for the gradient check."""

    def __init__(self, n_in, n_out, rng=None, dtype=np.float32):
        super().__init__(n_in, n_out, rng)
        self.params = {k: p.astype(dtype) for k, p in self.params.items()}
        self.grads = {k: np.zeros_like(p) for k, p in self.params.items()}

    def forward(self, x):
        self.x = np.asarray(x, dtype=self.params["W"].dtype)
        return self.x @ self.params["W"] + self.params["b"]


@wrong(check_linear_layer, hint="added this batch's gradient to the previous one")
class LinearLayerAccumulates(sol.LinearLayer):
    """grads += ...: the gradients pile up over backward calls."""

    def backward(self, grad_z):
        self.grads["W"] += self.x.T @ grad_z
        self.grads["b"] += grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"].T


@wrong(check_linear_layer, hint="dL/dx[", absent=("float32",))
class LinearLayerInFloat32WrongInput(LinearLayerInFloat32):
    """float32 and dL/dx off by 10%: judged by its formula, which is wrong."""

    def backward(self, grad_z):
        return 1.1 * super().backward(grad_z)


@wrong(check_linear_layer, hint="grad_z.T @ x instead of x.T @ grad_z")
class LinearLayerTransposedWeightGradient(sol.LinearLayer):
    """dL/dW = grad_z.T @ x."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        self.grads["W"] = grad_z.T @ self.x
        return dx


@correct(check_linear_layer)
class LinearLayerGradsAsProperties(sn.Layer):
    """self.W, self.b, self.dW, self.db, with params and grads as properties built from them;
    update_params reads self.dW (the held-out kind the old checker failed: it replaced grads)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.W, self.b = np.zeros((n_in, n_out)), np.zeros((1, n_out))
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    params = property(lambda self: {"W": self.W, "b": self.b}, lambda self, value: None)
    grads = property(lambda self: {"W": self.dW, "b": self.db}, lambda self, value: None)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_z):
        self.dW, self.db = self.x.T @ grad_z, grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.W.T

    def update_params(self, learning_rate):
        self.W -= learning_rate * self.dW
        self.b -= learning_rate * self.db


@correct(check_linear_layer)
class LinearLayerGradsAliasAttributes(sol.LinearLayer):
    """backward keeps self.dW and self.db and points grads at them; update_params reads them."""

    def backward(self, grad_z):
        self.dW = self.x.T @ grad_z
        self.db = grad_z.sum(axis=0, keepdims=True)
        self.grads = {"W": self.dW, "b": self.db}
        return grad_z @ self.params["W"].T

    def update_params(self, learning_rate):
        self.params["W"] -= learning_rate * self.dW
        self.params["b"] -= learning_rate * self.db


@wrong(check_linear_layer, hint="backward only computes the gradients")
class LinearLayerUpdatesInBackward(sol.LinearLayer):
    """backward also takes a step (with its own rate): the optimizer would step twice."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        self.update_params(0.1)
        return dx


@wrong(check_linear_layer, hint="one gradient per bias, not one number")
class LinearLayerBiasGradientOneNumber(sol.LinearLayer):
    """dL/db = np.sum(grad_z): summed over the outputs too."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        self.grads["b"] = np.sum(grad_z)
        return dx


_CACHE = {}


@wrong(check_linear_layer, hint="two layers of this class share what forward kept")
class LinearLayerModuleCache(sol.LinearLayer):
    """Keeps x in a module-level dict: every LinearLayer of a network shares it."""

    def forward(self, x):
        _CACHE["x"] = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        self.grads["W"] = _CACHE["x"].T @ grad_z
        self.grads["b"] = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"].T


@correct(check_linear_layer)
class LinearLayerKeepsAFloat32Input(sol.LinearLayer):
    """Keeps x as float32 (its parameters float64): judged at float32's precision, not told
    its formula is wrong by a float64 gradient check."""

    def forward(self, x):
        self.x = np.asarray(x, dtype=np.float32)
        return self.x @ self.params["W"] + self.params["b"]


# -- activation layers -----------------------------------------------------------------------------
@correct(check_activation_layer, "relu")
class ReLULayerMaskFromOutput(sn.Layer):
    """The mask from the output (a > 0), as scratchnn does, and np.where."""

    def forward(self, x):
        self.a = np.maximum(x, 0)
        return self.a

    def backward(self, grad_z):
        return np.where(self.a > 0, grad_z, 0.0)


@correct(check_activation_layer, "relu")
class ReLULayerInFloat32(sn.Layer):
    """Computes in float32."""

    def forward(self, x):
        self.x = x.astype(np.float32)
        return np.maximum(self.x, 0)

    def backward(self, grad_z):
        return grad_z.astype(np.float32) * (self.x > 0)


@correct(check_activation_layer, "sigmoid")
class SigmoidLayerKeepsInput(sn.Layer):
    """Keeps the input and recomputes the sigmoid in backward."""

    def forward(self, x):
        self.x = x
        return expit(x)

    def backward(self, grad_z):
        return grad_z * expit(self.x) * expit(-self.x)


@wrong(check_activation_layer, "sigmoid", hint="use a stable formula")
class SigmoidLayerOverflows(sol.SigmoidLayer):
    """e^x / (1 + e^x): NaN at x = 1000."""

    def forward(self, x):
        self.a = np.exp(x) / (1 + np.exp(x))
        return self.a


@correct(check_activation_layer, "tanh")
class TanhLayerCosh(sn.Layer):
    """dL/dx = grad_z / cosh(x)^2 from the stored input."""

    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, grad_z):
        return grad_z / np.cosh(self.x) ** 2


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerPointTwo(sol.LeakyReLULayer):
    """Another default slope, alpha = 0.2."""

    def __init__(self, alpha=0.2):
        super().__init__(alpha)


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerNegativeSlope(sn.Layer):
    """PyTorch's name, negative_slope, and a mask of slopes kept from forward."""

    def __init__(self, negative_slope=0.05):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        self.slopes = np.where(x > 0, 1.0, self.negative_slope)
        return x * self.slopes

    def backward(self, grad_z):
        return grad_z * self.slopes


@correct(check_activation_layer, "softmax")
class SoftmaxLayerFullJacobians(sol.SoftmaxLayer):
    """Builds every row's (C, C) Jacobian and multiplies with einsum."""

    def backward(self, grad_z):
        s = self.s
        jacobians = np.einsum("bi,ij->bij", s, np.eye(s.shape[1])) - np.einsum("bi,bj->bij", s, s)
        return np.einsum("bij,bj->bi", jacobians, grad_z)


def _layer(base, backward, doc):
    cls = type(base.__name__, (base,), {"backward": backward, "__doc__": doc})
    cls.__qualname__ = cls.__name__ = f"{base.__name__}_{backward.__name__}"
    return cls


def mask_from_grad(self, grad_z):
    return grad_z * (grad_z > 0)


def sign_of_x(self, grad_z):
    return grad_z * np.sign(self.x)


def one_minus_a(self, grad_z):
    return grad_z * (1 - self.a)


def output_passed_on(self, grad_z):
    return grad_z * self.a


def unweighted_sum(self, grad_z):
    return self.s * (grad_z - grad_z.sum(axis=1, keepdims=True))


def derivative_of_grad(self, grad_z):
    return grad_z * (1 - grad_z**2)


wrong(check_activation_layer, "tanh", hint="the derivative was computed from grad_z")(
    _layer(sol.TanhLayer, derivative_of_grad, "tanh' taken of grad_z, not of the output."))
wrong(check_activation_layer, "relu", hint="the mask was taken from grad_z")(
    _layer(sol.ReLULayer, mask_from_grad, "ReLU's mask taken from grad_z."))
wrong(check_activation_layer, "relu", hint="not np.sign(x)")(
    _layer(sol.ReLULayer, sign_of_x, "relu' = sign(x)."))
wrong(check_activation_layer, "tanh", hint="the square is missing")(
    _layer(sol.TanhLayer, one_minus_a, "tanh' = 1 - a."))
wrong(check_activation_layer, "sigmoid", hint="passed on instead of multiplying")(
    _layer(sol.SigmoidLayer, output_passed_on, "grad_z * a."))
wrong(check_activation_layer, "softmax", hint="weighted by s")(
    _layer(sol.SoftmaxLayer, unweighted_sum, "the row sum of grad_z not weighted by s."))


@wrong(check_activation_layer, "leaky_relu", hint="the layer ignores its alpha")
class LeakyReLULayerFixedSlope(sol.LeakyReLULayer):
    """Keeps alpha but computes with 0.01."""

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0.01 * x)

    def backward(self, grad_z):
        return np.where(self.x > 0, grad_z, 0.01 * grad_z)


@wrong(check_activation_layer, "relu", hint="two layers of this class share what forward kept")
class ReLULayerClassMask(sn.Layer):
    """The mask kept on the class (ReLULayerClassMask.mask = ...): shared by every ReLU layer."""

    mask = None

    def forward(self, x):
        type(self).mask = x > 0
        return x * self.mask

    def backward(self, grad_z):
        return grad_z * self.mask


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerSlopeUnderAnotherName(sn.Layer):
    """Default slope 0.1 kept as self.leak: read from the constructor's default."""

    def __init__(self, alpha=0.1):
        super().__init__()
        self.leak = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.leak * x)

    def backward(self, grad_z):
        return np.where(self.x > 0, grad_z, self.leak * grad_z)


@wrong(check_activation_layer, "leaky_relu", hint="0 is a plain ReLU")
class LeakyReLULayerSlopeZero(sol.LeakyReLULayer):
    """Built with alpha = 0 by default."""

    def __init__(self, alpha=0.0):
        super().__init__(alpha)


# -- forward propagation, the network, the training step -------------------------------------------
@correct(check_forward_propagation)
def forward_propagation_indices(x, weights, biases, activation):
    """Hidden layers in a loop over indices with np.dot and np.add, the last one outside it."""
    a = x
    for i in range(len(weights) - 1):
        a = activation(np.add(np.dot(a, weights[i]), biases[i]))
    return a @ weights[-1] + biases[-1]


@correct(check_forward_propagation)
def forward_propagation_reduce_einsum(x, weights, biases, activation):
    """functools.reduce over the hidden layers, einsum for the products."""
    hidden = functools.reduce(
        lambda a, wb: activation(np.einsum("bi,io->bo", a, wb[0]) + wb[1]),
        zip(weights[:-1], biases[:-1], strict=True), x)
    return np.einsum("bi,io->bo", hidden, weights[-1]) + biases[-1]


@wrong(check_forward_propagation, hint="the activation was applied to the last layer only")
def forward_propagation_activation_at_the_end(x, weights, biases, activation):
    """No activation between layers, one after the last."""
    for W, b in zip(weights, biases, strict=True):
        x = x @ W + b
    return activation(x)


@wrong(check_forward_propagation, hint="activation(a @ W) + b")
def forward_propagation_bias_after(x, weights, biases, activation):
    """The bias added after the activation."""
    a = x
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        a = activation(a @ W) + b
    return a @ weights[-1] + biases[-1]


@wrong(check_forward_propagation, hint="weights[-1] rather than weights.pop()")
def forward_propagation_pops_the_last_layer(x, weights, biases, activation):
    """Takes the output layer with weights.pop(): right output, the caller's list one short."""
    W_out = weights.pop()
    a = x
    for W, b in zip(weights, biases, strict=False):
        a = activation(a @ W + b)
    return a @ W_out + biases[-1]


@wrong(check_forward_propagation, hint="item 3 is the right answer")
def forward_propagation_every_activation(x, weights, biases, activation):
    """Returns the list of every layer's output."""
    outputs = [x]
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = outputs[-1] @ W + b
        outputs.append(z if i == len(weights) - 1 else activation(z))
    return outputs


@wrong(check_activation_function, "sigmoid", hint="item 1 is the right answer")
def sigmoid_returns_value_and_derivative(x, derivative=False):
    """derivative=True returns (s, s * (1 - s))."""
    s = expit(x)
    return (s, s * (1 - s)) if derivative else s


@correct(check_network)
class NetworkWithIndices:
    """Index loops, backward by range(len - 1, -1, -1), add returning None."""

    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers += [layer]

    def forward(self, x):
        for i in range(len(self.layers)):
            x = self.layers[i].forward(x)
        return x

    def backward(self, grad):
        for i in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[i].backward(grad)
        return grad

    def update_params(self, learning_rate):
        for layer in self.layers:
            if layer.params:
                layer.update_params(learning_rate)


@correct(check_network)
class NetworkInFloat32(sol.MultiLayerNetwork):
    """Casts what it passes on to float32."""

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(np.asarray(x, dtype=np.float32))
        return x


@correct(check_network)
class NetworkReduce(sol.MultiLayerNetwork):
    """functools.reduce for both passes; add chains by returning self."""

    def forward(self, x):
        return functools.reduce(lambda a, layer: layer.forward(a), self.layers, x)

    def backward(self, grad):
        return functools.reduce(lambda g, layer: layer.backward(g), self.layers[::-1], grad)


@wrong(check_network, hint="run every layer once")
class NetworkForwardSkipsLastLayer(sol.MultiLayerNetwork):
    """forward stops before the last layer."""

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = layer.forward(x)
        return x


@wrong(check_network, hint="call backward once on every layer")
class NetworkSkipsFirstLayerInBackward(sol.MultiLayerNetwork):
    """backward stops before the first layer."""

    def backward(self, grad):
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        return grad


@correct(check_network)
class NetworkLayersTuple:
    """Keeps its layers in a tuple, self.layers += (layer,)."""

    def __init__(self):
        self.layers = ()

    def add(self, layer):
        self.layers += (layer,)
        return self

    forward = sol.MultiLayerNetwork.forward
    backward = sol.MultiLayerNetwork.backward
    update_params = sol.MultiLayerNetwork.update_params


@wrong(check_network, hint="reverses the list itself")
class NetworkReversesItsLayers(sol.MultiLayerNetwork):
    """self.layers.reverse() in backward: the next forward runs the layers backwards."""

    def backward(self, grad):
        self.layers.reverse()
        for layer in self.layers:
            grad = layer.backward(grad)
        return grad


@wrong(check_network, hint="updated 2 times")
class NetworkUpdatesTwice(sol.MultiLayerNetwork):
    """update_params calls every layer's update_params twice."""

    def update_params(self, learning_rate):
        for layer in self.layers * 2:
            layer.update_params(learning_rate)


@wrong(check_network, hint="isinstance(layer, LinearLayer)")
class NetworkUpdatesItsLinearLayersOnly(sol.MultiLayerNetwork):
    """Updates only instances of its own LinearLayer class: none of the checker's layers are."""

    def update_params(self, learning_rate):
        for layer in self.layers:
            if isinstance(layer, sol.LinearLayer):
                layer.update_params(learning_rate)


@wrong(check_training_step, hint="loss.forward takes the targets first")
def train_step_loss_arguments_swapped(network, x_batch, y_batch, loss, learning_rate):
    """loss.forward(y_pred, y_batch), PyTorch's order."""
    value = loss.forward(network.forward(x_batch), y_batch)
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value


@correct(check_training_step)
def train_step_with_an_optimizer(network, x_batch, y_batch, loss, learning_rate):
    """scratchnn's SGD optimizer instead of update_params."""
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    sn.optim.SGD(lr=learning_rate).step(network)
    return value


@correct(check_training_step)
def train_step_by_hand(network, x_batch, y_batch, loss, learning_rate):
    """The loss gradient written by hand, (softmax(z) - y) / batch; returns a float."""
    logits = network.forward(x_batch)
    value = float(loss.forward(y_batch, logits))
    network.backward((sn.softmax(logits) - y_batch) / len(x_batch))
    network.update_params(learning_rate)
    return value


@correct(check_training_step)
def train_step_call_and_no_input_gradient(network, x_batch, y_batch, loss, learning_rate):
    """network(x) as a call, backward without the input's gradient, a 0-d array returned."""
    value = np.asarray(loss.forward(y_batch, network(x_batch)))
    network.backward(loss.backward(), input_grad=False)
    network.update_params(learning_rate)
    return value


@wrong(check_training_step, hint="learning_rate must be a finite number > 0")
def train_step_uphill(network, x_batch, y_batch, loss, learning_rate):
    """update_params(-learning_rate)."""
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    network.update_params(-learning_rate)
    return value


@wrong(check_training_step, hint="updated 2 times")
def train_step_updates_twice(network, x_batch, y_batch, loss, learning_rate):
    """Calls update_params twice."""
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    network.update_params(learning_rate)
    network.update_params(learning_rate)
    return value


@wrong(check_training_step, hint="the parameters did not change")
def train_step_without_update(network, x_batch, y_batch, loss, learning_rate):
    """Forgets update_params."""
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    return value


# -- one_hot and get_batches -----------------------------------------------------------------------
@correct(check_one_hot)
def one_hot_eye_rows(labels, n_classes):
    """Rows of the identity matrix, picked by the labels."""
    return np.eye(n_classes)[labels]


@correct(check_one_hot)
def one_hot_int_identity(labels, n_classes):
    """Integer dtype."""
    return np.identity(n_classes, dtype=int)[labels]


@correct(check_one_hot)
def one_hot_comparison(labels, n_classes):
    """A broadcast comparison, as booleans."""
    return labels[:, None] == np.arange(n_classes)


@correct(check_one_hot)
def one_hot_loop_of_lists(labels, n_classes):
    """Lists of ints built in a loop."""
    return [[int(c == label) for c in range(n_classes)] for label in labels]


@wrong(check_one_hot, hint="one column off")
def one_hot_from_one(labels, n_classes):
    """Labels counted from 1."""
    return np.eye(n_classes)[labels - 1]


@wrong(check_one_hot, hint="one column off")
def one_hot_plus_one(labels, n_classes):
    """Column label + 1: the last class is out of range."""
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels + 1] = 1
    return out


@wrong(check_one_hot, hint="sets those columns in every row")
def one_hot_columns(labels, n_classes):
    """out[:, labels] = 1."""
    out = np.zeros((len(labels), n_classes))
    out[:, labels] = 1
    return out


@correct(check_get_batches)
def get_batches_generator(x, batch_size):
    """A generator of copies."""
    start = 0
    while start < len(x):
        yield x[start:start + batch_size].copy()
        start += batch_size


@correct(check_get_batches)
def get_batches_np_split(x, batch_size):
    """np.split at multiples of batch_size, as a tuple."""
    return tuple(np.split(x, range(batch_size, len(x), batch_size)))


@correct(check_get_batches)
def get_batches_lists_of_rows(x, batch_size):
    """Each batch a list of rows."""
    return [list(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]


@wrong(check_get_batches, hint="keep the rows in order")
def get_batches_shuffled(x, batch_size):
    """Shuffles a copy of x first (shuffling is the training loop's job)."""
    x = np.random.default_rng(0).permutation(x)
    return [x[i:i + batch_size] for i in range(0, len(x), batch_size)]


@wrong(check_get_batches, hint="x's own rows, unchanged")
def get_batches_normalised(x, batch_size):
    """Centres each batch: the rows are no longer x's."""
    return [b - b.mean(axis=0) for b in (x[i:i + batch_size]
                                         for i in range(0, len(x), batch_size))]


@wrong(check_get_batches, hint="the last batch is empty")
def get_batches_one_too_many(x, batch_size):
    """len(x) // batch_size + 1 batches: an empty one when batch_size divides len(x)."""
    return [x[i * batch_size:(i + 1) * batch_size] for i in range(len(x) // batch_size + 1)]


@wrong(check_get_batches, hint="balanced pieces")
def get_batches_balanced(x, batch_size):
    """np.array_split into ceil(n / batch_size) pieces: balanced, not of batch_size rows."""
    return np.array_split(x, math.ceil(len(x) / batch_size))


@wrong(check_get_batches, hint="a batch starts at every row")
def get_batches_every_row(x, batch_size):
    """range(len(x)): a batch at every row."""
    return [x[i:i + batch_size] for i in range(len(x))]


@wrong(check_get_batches, hint="one row too many")
def get_batches_inclusive(x, batch_size):
    """x[i:i + batch_size + 1]."""
    return [x[i:i + batch_size + 1] for i in range(0, len(x), batch_size)]


@wrong(check_one_hot, hint="not n_classes + 1", absent=("per sample",))
def one_hot_one_column_too_many(labels, n_classes):
    """np.eye(n_classes + 1)[labels]: a spare column (once told "one column per sample")."""
    return np.eye(n_classes + 1)[labels]


@wrong(check_one_hot, hint="the 0s and 1s are swapped")
def one_hot_inverted(labels, n_classes):
    """1 - one_hot: 0 at the label, 1 elsewhere."""
    return 1 - np.eye(n_classes)[labels]


@correct(check_get_batches)
def get_batches_islice(x, batch_size):
    """itertools.islice over the rows, each chunk made an array again."""
    rows = iter(x)
    while chunk := list(itertools.islice(rows, batch_size)):
        yield np.array(chunk)


@correct(check_get_batches)
def get_batches_dict_values(x, batch_size):
    """A dict from start row to batch, its values returned."""
    return {i: x[i:i + batch_size] for i in range(0, len(x), batch_size)}.values()


@wrong(check_get_batches, hint="iterating over a dict gives its keys")
def get_batches_dict(x, batch_size):
    """The dict itself: a loop over it sees the start rows (the checker crashed on it)."""
    return {i: x[i:i + batch_size] for i in range(0, len(x), batch_size)}


@wrong(check_get_batches, hint="return the batches themselves")
def get_batches_with_index(x, batch_size):
    """(start, batch) pairs."""
    return [(i, x[i:i + batch_size]) for i in range(0, len(x), batch_size)]


@wrong(check_get_batches, hint="the shorter, leftover batch comes last", absent=("balanced",))
def get_batches_short_first(x, batch_size):
    """The leftover rows as the first batch (once told "balanced pieces")."""
    rest = len(x) % batch_size
    return ([x[:rest]] if rest else []) + [x[i:i + batch_size]
                                           for i in range(rest, len(x), batch_size)]


@wrong(check_get_batches, hint="counts those rows twice")
def get_batches_last_filled_up(x, batch_size):
    """The last batch taken as x[-batch_size:], so that every batch is full."""
    batches = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
    batches[-1] = x[-batch_size:]
    return batches


@wrong(check_get_batches, hint="so they overlap")
def get_batches_overlapping(x, batch_size):
    """range(0, len(x), batch_size - 1): consecutive batches share a row."""
    return [x[i:i + batch_size] for i in range(0, len(x), max(batch_size - 1, 1))]


@wrong(check_get_batches, hint="gave batches of [4, 4, 4, 4, 3] rows",
       absent=("overlap", "skip rows"))
def get_batches_scaled_and_short(x, batch_size):
    """Scaled rows in batches one row apart too far: no overlap hint for rows that are not x's."""
    return [10 * x[i:i + batch_size] for i in range(0, len(x), batch_size + 1)]


# -- optimizers ------------------------------------------------------------------------------------
class Optimizer:
    """An optimizer the learner's way: ``update(p, g, state)`` changes p in place; ``state`` is
    a dict kept per parameter under ``key(i, name, p)``."""

    def __init__(self, lr, **hyper):
        self.lr = lr
        self.__dict__.update(hyper)
        self.state = {}
        self.t = 0

    def key(self, i, name, p):
        return (i, name)

    def step(self, network):
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                self.update(p, layer.grads[name],
                            self.state.setdefault(self.key(i, name, p), {}))


@correct(check_optimizer, "momentum")
class MomentumKeyedById(Optimizer):
    """Velocities keyed by id(p), kept as arrays updated in place."""

    def key(self, i, name, p):
        return id(p)

    def update(self, p, g, state):
        v = state.setdefault("v", np.zeros_like(p))
        v *= self.momentum
        v += g
        p -= self.lr * v


@correct(check_optimizer, "adam")
class AdamCountingTPerParameter(Optimizer):
    """t kept per parameter, in its state."""

    def update(self, p, g, state):
        b1, b2 = self.betas
        state["t"] = t = state.get("t", 0) + 1
        state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0) + (1 - b2) * g**2
        p -= self.lr * (state["m"] / (1 - b1**t)) / (np.sqrt(state["v"] / (1 - b2**t)) + self.eps)


@correct(check_optimizer, "rmsprop")
class RMSPropPowerHalf(Optimizer):
    """s ** 0.5 instead of np.sqrt, and np.square."""

    def update(self, p, g, state):
        state["s"] = self.alpha * state.get("s", 0.0) + (1 - self.alpha) * np.square(g)
        p -= self.lr * g / (state["s"] ** 0.5 + self.eps)


class MomentumKeyedByName(MomentumKeyedById):
    """Velocities keyed by the parameter's name alone: every layer's 'W' shares one."""

    def key(self, i, name, p):
        return name


wrong(check_optimizer, "momentum", hint="keyed by (layer index, name)",
      absent=("keepdims",))(MomentumKeyedByName)


@wrong(check_optimizer, "rmsprop", hint="of the squared gradient")
class RMSPropAveragesG(Optimizer):
    """Averages g instead of g ** 2."""

    def update(self, p, g, state):
        state["s"] = self.alpha * state.get("s", 0.0) + (1 - self.alpha) * g
        p -= self.lr * g / (np.sqrt(state["s"]) + self.eps)


@wrong(check_optimizer, "adam", hint="not (1 - b1) ** t")
class AdamPowerOutside(Optimizer):
    """Bias correction with (1 - b1) ** t."""

    def update(self, p, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0) + (1 - b2) * g**2
        m_hat, v_hat = state["m"] / (1 - b1) ** self.t, state["v"] / (1 - b2) ** self.t
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


@wrong(check_optimizer, "adam", hint="t counts steps, not parameters")
class AdamCountsParameters(Optimizer):
    """One t for the optimizer, counted up once per parameter (inside the loop)."""

    def step(self, network):
        b1, b2 = self.betas
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                self.t += 1
                g, s = layer.grads[name], self.state.setdefault((i, name), {})
                s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0) + (1 - b2) * g**2
                p -= self.lr * s["m"] / (1 - b1**self.t) / (
                    np.sqrt(s["v"] / (1 - b2**self.t)) + self.eps)


@wrong(check_optimizer, "adam", hint="the update uses eps = 1e-07")
class AdamOwnEps(AdamCountingTPerParameter):
    """Ignores the eps it is given and uses 1e-7."""

    def update(self, p, g, state):
        self.eps = 1e-7
        super().update(p, g, state)


@wrong(check_optimizer, "sgd", hint="0.1 times the expected one")
class SGDFixedRate(Optimizer):
    """Steps with 0.01 whatever lr it was given."""

    def update(self, p, g, state):
        p -= 0.01 * g


@wrong(check_optimizer, "momentum", hint="Nesterov")
class MomentumNesterov(MomentumKeyedById):
    """Nesterov's look-ahead step."""

    def update(self, p, g, state):
        v = state.setdefault("v", np.zeros_like(p))
        v[...] = self.momentum * v + g
        p -= self.lr * (g + self.momentum * v)


@wrong(check_optimizer, "rmsprop", hint="eps was added to the step")
class RMSPropEpsOnTheStep(Optimizer):
    """lr * g / np.sqrt(s) + eps: the parentheses are missing."""

    def update(self, p, g, state):
        state["s"] = self.alpha * state.get("s", 0.0) + (1 - self.alpha) * g * g
        p -= self.lr * g / np.sqrt(state["s"]) + self.eps


@correct(check_optimizer, "adam")
class AdamEfficientForm(Optimizer):
    """The Adam paper's efficient form: the corrections folded into the learning rate."""

    def update(self, p, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        lr_t = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        p -= lr_t * state["m"] / (np.sqrt(state["v"]) + self.eps)


@correct(check_optimizer, "momentum")
class MomentumLearningRateInside(Optimizer):
    """v = momentum * v + lr * g; p -= v (equal for a fixed learning rate)."""

    def update(self, p, g, state):
        state["v"] = self.momentum * state.get("v", 0.0) + self.lr * g
        p -= state["v"]


@correct(check_optimizer, "sgd")
class SGDThroughTheDict:
    """Assigns through the dict: layer.params[name] -= ..., still in place."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers:
            for name in layer.params:
                layer.params[name] -= self.lr * layer.grads[name]


@correct(check_optimizer, "rmsprop")
class RMSPropKeyedByLayer(Optimizer):
    """State keyed by (id(layer), name) via the arrays' identity; np.divide with out=."""

    def key(self, i, name, p):
        return id(p), name

    def update(self, p, g, state):
        s = state.setdefault("s", np.zeros_like(p))
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        step = np.divide(g, np.sqrt(s) + self.eps)
        p -= self.lr * step


@wrong(check_optimizer, "rmsprop", hint="the two weights are swapped")
class RMSPropSwapped(Optimizer):
    """s = (1 - alpha) * s + alpha * g ** 2."""

    def update(self, p, g, state):
        state["s"] = (1 - self.alpha) * state.get("s", 0.0) + self.alpha * g * g
        p -= self.lr * g / (np.sqrt(state["s"]) + self.eps)


def _adam_update(**mistake):
    def update(self, p, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        new = g if mistake.get("g_not_squared") else g * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * new
        m_hat = state["m"] / (1 - b1**self.t)
        v_hat = state["v"] / (1 - (b1 if mistake.get("b1_for_v") else b2) ** self.t)
        if mistake.get("eps_on_step"):
            p -= self.lr * m_hat / np.sqrt(v_hat) + self.eps
        else:
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
    return update


AdamB1ForV = type("AdamB1ForV", (Optimizer,), {
    "update": _adam_update(b1_for_v=True), "__doc__": "v corrected with 1 - b1 ** t."})
AdamAveragesG = type("AdamAveragesG", (Optimizer,), {
    "update": _adam_update(g_not_squared=True), "__doc__": "v averages g, not g ** 2."})
AdamEpsOnTheStep = type("AdamEpsOnTheStep", (Optimizer,), {
    "update": _adam_update(eps_on_step=True), "__doc__": "lr * m_hat / sqrt(v_hat) + eps."})
wrong(check_optimizer, "adam", hint="v's bias correction uses b2")(AdamB1ForV)
wrong(check_optimizer, "adam", hint="of the squared gradient")(AdamAveragesG)
wrong(check_optimizer, "adam", hint="eps was added to the step")(AdamEpsOnTheStep)


@wrong(check_optimizer, "momentum", hint="(dampening)")
class MomentumAverage(Optimizer):
    """v = momentum * v + (1 - momentum) * g: an average, not momentum."""

    def update(self, p, g, state):
        state["v"] = self.momentum * state.get("v", 0.0) + (1 - self.momentum) * g
        p -= self.lr * state["v"]


@wrong(check_optimizer, "adam", hint="t counts steps, not layers")
class AdamCountsLayers(Optimizer):
    """t counted up once per layer, inside the loop over the layers."""

    def step(self, network):
        for i, layer in enumerate(network.layers):
            self.t += 1
            for name, p in layer.params.items():
                self.update(p, layer.grads[name], self.state.setdefault((i, name), {}))

    update = _adam_update()


@wrong(check_optimizer, "adam", hint="they were taken the other way round")
class AdamBetasReversed(Optimizer):
    """b2, b1 = self.betas."""

    def update(self, p, g, state):
        b2, b1 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = state["m"] / (1 - b1**self.t), state["v"] / (1 - b2**self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


@correct(check_optimizer, "momentum")
class MomentumKeyedByLayerObject(Optimizer):
    """Velocities keyed by (layer, name): the layer object itself as the key."""

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                v = self.state.get((layer, name), 0.0) * self.momentum + layer.grads[name]
                self.state[layer, name] = v
                p -= self.lr * v


@correct(check_optimizer, "momentum")
class MomentumOnTheLayers(Optimizer):
    """Velocities kept on the layers themselves (layer.velocity), not in the optimizer."""

    def step(self, network):
        for layer in network.layers:
            velocity = layer.__dict__.setdefault("velocity", {})
            for name, p in layer.params.items():
                velocity[name] = self.momentum * velocity.get(name, 0.0) + layer.grads[name]
                p -= self.lr * velocity[name]


@correct(check_optimizer, "adam")
class AdamCountsAfterTheLoop(Optimizer):
    """Uses t + 1 inside the loop and counts the step after it."""

    def step(self, network):
        b1, b2 = self.betas
        t = self.t + 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g, s = layer.grads[name], self.state.setdefault((i, name), {})
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                p -= self.lr * (s["m"] / (1 - b1**t)) / (np.sqrt(s["v"] / (1 - b2**t)) + self.eps)
        self.t = t


@wrong(check_optimizer, "momentum", hint="not from g itself", absent=("keepdims",))
class MomentumStartsFromTheGradient(Optimizer):
    """setdefault(key, g) then v *= momentum: the velocity is the gradient array itself."""

    def update(self, p, g, state):
        v = state.setdefault("v", g)
        v *= self.momentum
        v += g
        p -= self.lr * v


@wrong(check_optimizer, "momentum", hint="update v first",
       absent=("only rebinds a local name",))
class MomentumStepsWithTheOldVelocity(Optimizer):
    """p -= lr * v before v is updated: step 1 changes nothing (once told "rebinds a name")."""

    def update(self, p, g, state):
        p -= self.lr * state.get("v", 0.0)
        state["v"] = self.momentum * state.get("v", 0.0) + g


@wrong(check_optimizer, "momentum", hint="the old velocity is multiplied by momentum")
class MomentumWithoutTheFactor(Optimizer):
    """v = v + g: the momentum factor forgotten."""

    def update(self, p, g, state):
        state["v"] = state.get("v", 0.0) + g
        p -= self.lr * state["v"]


@wrong(check_optimizer, "rmsprop", hint="s starts at 0", absent=("(1 - alpha) factor",))
class RMSPropStartsAtTheFirstSquare(Optimizer):
    """s initialised with the first g ** 2 (once told the (1 - alpha) factor was missing)."""

    def update(self, p, g, state):
        state["s"] = self.alpha * state.get("s", g * g) + (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(state["s"]) + self.eps)


@wrong(check_optimizer, "rmsprop", hint="alpha = 0.99 (your default)")
class RMSPropKeepsItsDefaultAlpha(Optimizer):
    """self.alpha = 0.99 whatever alpha it is given."""

    def __init__(self, lr, alpha=0.99, eps=1e-8):
        super().__init__(lr, alpha=0.99, eps=eps)

    def update(self, p, g, state):
        state["s"] = self.alpha * state.get("s", 0.0) + (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(state["s"]) + self.eps)


@wrong(check_optimizer, "adam", hint="eps ** 2", absent=("added to the step",))
class AdamEpsSquaredInTheRoot(Optimizer):
    """np.sqrt(v_hat + eps ** 2): once blamed on eps added to the step (both are ~ no eps)."""

    def update(self, p, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = state["m"] / (1 - b1**self.t), state["v"] / (1 - b2**self.t)
        p -= self.lr * m_hat / np.sqrt(v_hat + self.eps**2)


@wrong(check_optimizer, "adam", hint="counted twice")
class AdamCountsTwice(AdamCountingTPerParameter):
    """self.t += 1 at the start of step and again at its end."""

    def step(self, network):
        super().step(network)
        self.t += 1

    update = _adam_update()


@wrong(check_optimizer, "adam", hint="belongs inside the square root")
class AdamCorrectsTheRoot(Optimizer):
    """np.sqrt(v) / (1 - b2 ** t): the correction applied after the root."""

    def update(self, p, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat = state["m"] / (1 - b1**self.t)
        p -= self.lr * m_hat / (np.sqrt(state["v"]) / (1 - b2**self.t) + self.eps)


@wrong(check_optimizer, "adam", hint="betas = (0.9, 0.99), not the betas it was given")
class AdamFixedBetas(Optimizer):
    """b1, b2 = 0.9, 0.99 written in the body."""

    def update(self, p, g, state):
        b1, b2 = 0.9, 0.99
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = state["m"] / (1 - b1**self.t), state["v"] / (1 - b2**self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


@correct(check_optimizer, "sgd")
class SGDZeroesTheGradients(Optimizer):
    """Zeroes each gradient after using it (PyTorch's zero_grad inside step)."""

    def update(self, p, g, state):
        p -= self.lr * g
        g[...] = 0


@correct(check_optimizer, "adam")
class AdamThenZeroGrad(sol.Adam):
    """The worked Adam, then every layer's gradients filled with 0."""

    def step(self, network):
        super().step(network)
        for layer in network.layers:
            for g in layer.grads.values():
                g.fill(0.0)


@wrong(check_optimizer, "sgd", hint="not g *= lr")
class SGDScalesTheGradients(Optimizer):
    """g *= lr; p -= g: the right step, but the caller's gradients scaled."""

    def update(self, p, g, state):
        g *= self.lr
        p -= g


_ARRAY_BETAS = np.array([0.9, 0.99])


@wrong(check_optimizer, "adam", hint="(0.9, 0.99) (your default)")
class AdamArrayDefaultBetas(Optimizer):
    """Its default betas an array, (0.9, 0.99), used whatever it is given."""

    def __init__(self, lr, betas=_ARRAY_BETAS, eps=1e-8):
        super().__init__(lr, betas=tuple(_ARRAY_BETAS), eps=eps)

    update = _adam_update()


# -- initialisers ----------------------------------------------------------------------------------
@correct(check_initializer, "he_normal")
def he_normal_standard_normal(n_in, n_out, rng):
    """A standard normal draw scaled by math.sqrt(2 / n_in)."""
    return rng.standard_normal((n_in, n_out)) * math.sqrt(2 / n_in)


@correct(check_initializer, "xavier_uniform")
def xavier_uniform_from_random(n_in, n_out, rng):
    """rng.random() in [0, 1) stretched to [-a, a)."""
    return (2 * rng.random((n_in, n_out)) - 1) * np.sqrt(6 / (n_in + n_out))


@correct(check_initializer, "he_uniform")
def he_uniform_float32(n_in, n_out, rng):
    """U(-1, 1) scaled, returned in float32."""
    return (rng.uniform(-1, 1, (n_in, n_out)) * np.sqrt(6 / n_in)).astype(np.float32)


@correct(check_initializer, "xavier_normal")
def xavier_normal_keywords(n_in, n_out, rng):
    """rng.normal with keywords."""
    return rng.normal(loc=0.0, scale=np.sqrt(2.0 / (n_in + n_out)), size=(n_in, n_out))


@wrong(check_initializer, "xavier_uniform", hint="variance a^2 / 3")
def xavier_uniform_bound_of_a_normal(n_in, n_out, rng):
    """U(-a, a) with a = sqrt(2 / (n_in + n_out)), the normal's std."""
    return rng.uniform(-1, 1, (n_in, n_out)) * np.sqrt(2 / (n_in + n_out))


@wrong(check_initializer, "he_normal", hint="He uses n_in")
def he_normal_fan_out(n_in, n_out, rng):
    """sqrt(2 / n_out)."""
    return rng.normal(0, np.sqrt(2 / n_out), (n_in, n_out))


@wrong(check_initializer, "he_normal", hint="generators with different seeds")
def he_normal_own_generator(n_in, n_out, rng):
    """np.random.default_rng(0) inside: repeatable, but every layer of a shape gets the same W."""
    return np.random.default_rng(0).normal(0, np.sqrt(2 / n_in), (n_in, n_out))


@correct(check_initializer, "he_normal")
def he_normal_transposed_draw(n_in, n_out, rng):
    """Drawn as (n_out, n_in) and transposed; a list of lists returned."""
    return rng.normal(0, np.sqrt(2 / n_in), (n_out, n_in)).T.tolist()


# -- the tests -------------------------------------------------------------------------------------
test_a_correct_attempt_passes, test_a_wrong_attempt_fails_and_names_its_mistake = attempts.tests()
