"""Checkers for the plain functions of chapters 1, 3 and 5: activations and softmax.

The learner's function has scratchnn's signature, ``f(x, derivative=False)``: with
``derivative=True`` it returns f'(x) evaluated at the *input* x.
"""

from __future__ import annotations

import numpy as np

from .. import activations as ref
from ._core import (
    as_numbers,
    check_callable,
    check_kind,
    compare,
    random_array,
    run_check,
    unchanged,
)

ALPHA = 0.01  # the leaky ReLU slope the checkers assume (scratchnn's default)

_FORMULAS = {
    "sigmoid": ("1 / (1 + np.exp(-x))", "s * (1 - s) with s = sigmoid(x)"),
    "relu": ("np.maximum(x, 0)", "(x > 0) as numbers: 1 where x > 0, else 0"),
    "tanh": ("np.tanh(x)", "1 - np.tanh(x) ** 2"),
    "leaky_relu": ("np.where(x > 0, x, alpha * x)", "np.where(x > 0, 1.0, alpha)"),
}


def _reference(kind):
    if kind == "leaky_relu":
        return lambda x, derivative=False: ref.leaky_relu(x, ALPHA, derivative)
    return getattr(ref, kind)


def sample_inputs(seed=0):
    """A (4, 6) batch of inputs with an exact 0 and values of both signs up to about +-8."""
    x = random_array((4, 6), seed, scale=3.0)
    x[0, 0] = 0.0
    return x


EXTREME = np.array([[-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0]])


def _value_variants(kind, x):
    s = ref.sigmoid(x)
    variants = {
        "sigmoid": [("the exponent's sign is flipped: sigmoid(x) = 1 / (1 + e^(-x)).", 1 - s)],
        "relu": [("np.max(x, 0) takes the largest entry along axis 0; the elementwise maximum "
                  "is np.maximum(x, 0).", np.max(x, 0)),
                 ("this is the derivative (1 where x > 0); the value is max(x, 0).",
                  (x > 0).astype(float))],
        "tanh": [("this is the sigmoid; tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1.",
                  s)],
        "leaky_relu": [("negative inputs must give alpha * x, not 0.", np.maximum(x, 0))],
    }
    return variants[kind]


def _derivative_variants(kind, x):
    s = ref.sigmoid(x)
    twice = ("the derivative was applied to the output a second time: with a = {0}(x), "
             "{0}'(x) = {1}; calling {0}(a, derivative=True) computes {0}'({0}(x)).")
    as_output = ("{0} uses x as if it were the output: the derivative is given the *input* x, "
                 "so compute a = {1}(x) first.")
    variants = {
        "sigmoid": [(twice.format("sigmoid", "a * (1 - a)"), ref.sigmoid(s, derivative=True)),
                    (as_output.format("x * (1 - x)", "sigmoid"), x * (1 - x)),
                    ("derivative=True returned sigmoid(x) itself.", s)],
        "relu": [("for x > 0 the derivative is 1, not x: return (x > 0), not x * (x > 0).",
                  np.maximum(x, 0)),
                 ("wrong at negative inputs: the derivative is 0 where x < 0, 1 where x > 0.",
                  np.ones_like(x)),
                 ("the mask is flipped: 1 where x > 0, 0 where x < 0.", (x < 0).astype(float))],
        "tanh": [(twice.format("tanh", "1 - a ** 2"), ref.tanh(np.tanh(x), derivative=True)),
                 (as_output.format("1 - x ** 2", "np.tanh"), 1 - x * x),
                 ("derivative=True returned tanh(x) itself.", np.tanh(x))],
        "leaky_relu": [("negative inputs have slope alpha, not 0.", (x > 0).astype(float)),
                       ("for x > 0 the derivative is 1 (and alpha below 0), not x.",
                        np.where(x > 0, x, ALPHA)),
                       ("the derivative is 1 or alpha, not alpha * x.",
                        np.where(x > 0, 1.0, ALPHA * x))],
    }
    return variants[kind]


def function_name(fn, default):
    """The learner's name for ``fn`` (for messages), or ``default`` for a lambda."""
    name = getattr(fn, "__name__", default)
    return default if name == "<lambda>" else name


def _values(check, fn, kind):
    name = function_name(fn, kind)
    x = sample_inputs()
    before = x.copy()
    got = check.run(f"{name}(x) on inputs of shape {x.shape}", fn, x)
    unchanged(check, before, x, "the input x",
              f"{kind} must not change its argument (as `x[x < 0] = 0` does): the caller still "
              f"needs it. Build a new array: {_FORMULAS[kind][0]}.")
    if not compare(check, got, _reference(kind)(x), f"{name}(x)", _value_variants(kind, x),
                   inputs=x):
        return  # large inputs only tell something once ordinary ones work
    check.ok(f"values on inputs of shape {x.shape}")
    # Large inputs: exp(1000) overflows, but the function itself must stay finite and right.
    got = check.run(f"{name}(x) on x = {EXTREME.ravel().tolist()}", fn, EXTREME.copy())
    hint = {"sigmoid": "exp overflowed: use np.exp(-np.abs(x)), which never overflows, with "
                       "1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.",
            "tanh": "use np.tanh(x), which is stable; e^1000 overflows in a hand-written formula.",
            }.get(kind)
    if compare(check, got, _reference(kind)(EXTREME), f"{name}(x)", inputs=EXTREME, hint=hint):
        check.ok("values at +-50 and +-1000")
        if any("overflow" in w for w in check.warnings):
            check.note("NumPy warned about an overflow in exp at x = +-1000 (the result is "
                       "still right); np.exp(-np.abs(x)) avoids it.")


def _derivative(check, fn, kind):
    name = function_name(fn, kind)
    x = sample_inputs(seed=1)
    got = check.run(f"{name}(x, derivative=True) on inputs of shape {x.shape}", fn, x,
                    derivative=True)
    expected = _reference(kind)(x, derivative=True)
    g = as_numbers(got)
    if kind in ("relu", "leaky_relu") and g is not None and g.shape == x.shape:
        # At x = 0 (x[0, 0]) the derivative does not exist: any slope between the two sides is
        # a valid subgradient (x >= 0 gives 1, x > 0 gives 0), so accept the learner's there.
        if (ALPHA if kind == "leaky_relu" else 0.0) <= g[0, 0] <= 1.0:
            expected[0, 0] = g[0, 0]
    if compare(check, got, expected, f"{name}(x, derivative=True)", _derivative_variants(kind, x),
               inputs=x):
        check.ok(f"derivative on inputs of shape {x.shape} (formula: {_FORMULAS[kind][1]})")


def _activation_body(check, fn, kind, values, derivative):
    if values:
        _values(check, fn, kind)
    if derivative:
        _derivative(check, fn, kind)


def check_activation_function(fn, kind, *, values=True, derivative=True, verbose=True):
    """Check ``fn(x)`` and ``fn(x, derivative=True)`` against scratchnn's activation ``kind``.

    kind: "sigmoid", "relu", "tanh" or "leaky_relu" (slope alpha = 0.01 below 0).
    Tried on a (4, 6) batch with an exact 0 and at +-1000; at x = 0 the ReLU derivative may be
    0 or 1. Returns a CheckResult (truthy when passed) and prints the verdict.
    """
    check_kind(kind, _FORMULAS)
    check_callable(fn)
    name = function_name(fn, kind)
    name = kind if name == kind else f"{name} ({kind})"
    return run_check(name, _activation_body, fn, kind, values, derivative, verbose=verbose)


def check_sigmoid(fn, *, verbose=True):
    """``check_activation_function(fn, "sigmoid")``: values and derivative."""
    return check_activation_function(fn, "sigmoid", verbose=verbose)


def check_relu(fn, *, verbose=True):
    """``check_activation_function(fn, "relu")``: values and derivative."""
    return check_activation_function(fn, "relu", verbose=verbose)


def check_activation_derivatives(fn, kind, *, verbose=True):
    """Only the ``derivative=True`` branch of ``fn`` (see ``check_activation_function``)."""
    return check_activation_function(fn, kind, values=False, verbose=verbose)


# -- softmax --------------------------------------------------------------------------------------
def _softmax_body(check, fn):
    x = random_array((4, 5), 2, scale=2.0)
    variants = [("each column was normalised: softmax works on each row (one sample), so sum "
                 "over axis=-1 with keepdims=True.", np.exp(x) / np.exp(x).sum(axis=0)),
                ("the whole batch was normalised at once: divide each row by its own sum, "
                 "e.sum(axis=-1, keepdims=True).", np.exp(x) / np.exp(x).sum())]
    got = check.run(f"softmax(x) on inputs of shape {x.shape}", fn, x)
    if compare(check, got, ref.softmax(x), "softmax(x)", variants):
        check.ok(f"values on a batch of shape {x.shape}")
        big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
        got = check.run("softmax(x) on x = [[1000, 1001, 1002], [-1000, 0, 1000]]", fn, big)
        hint = ("e^1000 overflows to inf and inf / inf is NaN. Subtract each row's maximum "
                "first (x - x.max(axis=-1, keepdims=True)): softmax does not change and the "
                "largest exponent becomes 0.")
        if compare(check, got, ref.softmax(big), "softmax(x) at large inputs", hint=hint):
            check.ok("stable at inputs of +-1000")

    row = x[0].copy()
    got = check.run(f"softmax(x) on one sample of shape {row.shape}", fn, row,
                    hint=lambda exc: "use axis=-1 so that one sample (C,) and a batch "
                                     "(batch, C) both work.")
    if compare(check, got, ref.softmax(row), "softmax(x) of one sample"):
        check.ok("values on one sample (C,)")

    s = ref.softmax(row)
    jac = check.run(f"softmax(x, derivative=True) on one sample of shape {row.shape}", fn, row,
                    derivative=True)
    variants = [("the diagonal term is missing: J = diag(s) - s s^T (J_ij = s_i (delta_ij - s_j)).",
                 -np.outer(s, s)),
                ("only the diagonal: the off-diagonal entries -s_i s_j are missing.", np.diag(s)),
                ("the sign is flipped: J = diag(s) - s s^T.", np.outer(s, s) - np.diag(s)),
                ("this is only the diagonal, s (1 - s), as a vector: the Jacobian is the (C, C) "
                 "matrix diag(s) - s s^T.", s * (1 - s))]
    if compare(check, jac, ref.softmax(row, derivative=True), "the Jacobian", variants):
        check.ok("Jacobian diag(s) - s s^T of one sample, shape (C, C)")


def check_softmax(fn, *, verbose=True):
    """Check ``fn(x)`` (row-wise softmax, (batch, C) and (C,)) and ``fn(x, derivative=True)``
    (the (C, C) Jacobian of one sample) against ``scratchnn.softmax``, including stability at
    inputs of +-1000. Returns a CheckResult and prints the verdict."""
    check_callable(fn)
    return run_check("softmax", _softmax_body, fn, verbose=verbose)
