"""Checkers for the plain functions of chapters 1, 3 and 5: activations and softmax.

The learner's function has scratchnn's signature, ``f(x, derivative=False)``: with
``derivative=True`` it returns f'(x) evaluated at the *input* x.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import activations as ref
from ._core import (
    as_numbers,
    check_callable,
    check_kind,
    compare,
    fmt,
    narrowest_float,
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


def _reference(kind, alpha=ALPHA):
    if kind == "leaky_relu":
        return lambda x, derivative=False: ref.leaky_relu(x, alpha, derivative)
    return getattr(ref, kind)


SLOPE_NAMES = ("alpha", "negative_slope", "slope")


def slope_argument(fn):
    """(name, default) of the leaky ReLU's slope parameter of ``fn``: the learner's default is
    theirs to choose (0.01, 0.1, 0.2 are all leaky ReLUs). (None, ALPHA) when it has none;
    a default of None when the parameter has no default."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None, ALPHA
    for name in SLOPE_NAMES:
        if name in params:
            default = params[name].default
            return name, float(default) if _is_number(default) else None
    # Under a name of the learner's own (leak=0.2, a=0.1): the one parameter besides
    # derivative whose default is a slope (a number between 0 and 1; scale=1.0 is not).
    numbers = [(name, float(p.default)) for name, p in params.items()
               if name != "derivative" and _is_number(p.default) and 0 < p.default < 1]
    return numbers[0] if len(numbers) == 1 else (None, ALPHA)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _measured_slope(check, fn):
    """The slope below 0 that ``fn`` (a leaky ReLU whose signature names none, e.g. behind a
    decorator taking *args, **kwargs) uses by default, read from its values at -1 and -2;
    None unless that is a leaky ReLU's slope."""
    x = np.array([[-1.0, -2.0]])
    got = as_numbers(_call(check, fn, "leaky_relu", x.copy(), {}))
    if got is None or got.shape != x.shape or not np.isfinite(got).all():
        return None
    slope = -float(got[0, 0])
    return slope if 0 < slope < 1 and np.isclose(got[0, 1], -2 * slope) else None


def sample_inputs(seed=0):
    """A (4, 6) batch of inputs with an exact 0 and values of both signs up to about +-8."""
    x = random_array((4, 6), seed, scale=3.0)
    x[0, 0] = 0.0
    return x


EXTREME = np.array([[-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0]])


def _value_variants(kind, x, alpha=ALPHA):
    s = ref.sigmoid(x)
    with np.errstate(all="ignore"):
        precedence = 1 / 1 + np.exp(-x)
    variants = {
        "sigmoid": [("the exponent's sign is flipped: sigmoid(x) = 1 / (1 + e^(-x)).", 1 - s),
                    ("1 / 1 + np.exp(-x) is 1 + e^-x: the denominator needs parentheses, "
                     "1 / (1 + np.exp(-x)).", precedence)],
        "relu": [("np.max(x, 0) takes the largest entry along axis 0; the elementwise maximum "
                  "is np.maximum(x, 0).", np.max(x, 0)),
                 ("this is the derivative (1 where x > 0); the value is max(x, 0).",
                  (x > 0).astype(float)),
                 ("relu keeps the positive part: np.maximum(x, 0), not np.minimum.",
                  np.minimum(x, 0)),
                 ("relu is 0 for negative x, not |x|: np.maximum(x, 0).", np.abs(x))],
        "tanh": [("this is the sigmoid; tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 sigmoid(2x) - 1.",
                  s),
                 ("tanh(x) = 2 sigmoid(2x) - 1: the sigmoid takes 2x, not x.", 2 * s - 1)],
        "leaky_relu": [("negative inputs must give alpha * x, not 0.", np.maximum(x, 0)),
                       ("negative inputs give alpha * x, not alpha.", np.where(x > 0, x, alpha)),
                       ("the two sides are swapped: x where x > 0, alpha * x where x < 0.",
                        np.where(x > 0, alpha * x, x))],
    }
    return variants[kind]


def _derivative_variants(kind, x, alpha=ALPHA):
    s = ref.sigmoid(x)
    t = np.tanh(x)
    twice = ("the derivative was applied to the output a second time: with a = {0}(x), "
             "{0}'(x) = {1}; calling {0}(a, derivative=True) computes {0}'({0}(x)).")
    as_output = ("{0} uses x as if it were the output: the derivative is given the *input* x, "
                 "so compute a = {1}(x) first.")
    variants = {
        "sigmoid": [(twice.format("sigmoid", "a * (1 - a)"), ref.sigmoid(s, derivative=True)),
                    (as_output.format("x * (1 - x)", "sigmoid"), x * (1 - x)),
                    ("derivative=True returned sigmoid(x) itself.", s),
                    ("a factor is missing: sigmoid'(x) = s * (1 - s) with s = sigmoid(x).",
                     1 - s),
                    ("the sign is wrong: sigmoid'(x) = s * (1 - s), not s * (1 + s).",
                     s * (1 + s))],
        "relu": [("for x > 0 the derivative is 1, not x: return (x > 0), not x * (x > 0).",
                  np.maximum(x, 0)),
                 ("wrong at negative inputs: the derivative is 0 where x < 0, 1 where x > 0.",
                  np.ones_like(x)),
                 ("the mask is flipped: 1 where x > 0, 0 where x < 0.", (x < 0).astype(float)),
                 ("np.sign(x) is -1 for x < 0, where relu is flat: the derivative there is 0, "
                  "so use (x > 0) as numbers.", np.sign(x))],
        "tanh": [(twice.format("tanh", "1 - a ** 2"), ref.tanh(t, derivative=True)),
                 (as_output.format("1 - x ** 2", "np.tanh"), 1 - x * x),
                 ("derivative=True returned tanh(x) itself.", t),
                 ("the square is missing: tanh'(x) = 1 - tanh(x) ** 2, not 1 - tanh(x).", 1 - t),
                 ("square tanh, not the difference: 1 - tanh(x) ** 2, not (1 - tanh(x)) ** 2.",
                  (1 - t) ** 2),
                 ("the sign is wrong: tanh'(x) = 1 - tanh(x) ** 2.", 1 + t * t)],
        "leaky_relu": [("negative inputs have slope alpha, not 0.", (x > 0).astype(float)),
                       ("for x > 0 the derivative is 1 (and alpha below 0), not x.",
                        np.where(x > 0, x, alpha)),
                       ("the derivative is 1 or alpha, not alpha * x.",
                        np.where(x > 0, 1.0, alpha * x)),
                       ("the slopes are swapped: 1 where x > 0, alpha where x < 0.",
                        np.where(x > 0, alpha, 1.0)),
                       ("np.sign(x) is -1 for x < 0: the slope there is alpha.",
                        np.where(x > 0, 1.0, -1.0))],
    }
    return variants[kind]


def function_name(fn, default):
    """The learner's name for ``fn`` (for messages), or ``default`` for a lambda."""
    name = getattr(fn, "__name__", default)
    return default if name == "<lambda>" else name


def _call(check, fn, kind, x, alpha_kwargs, derivative=False):
    name = function_name(fn, kind)
    shown = (f"x = {x.ravel().tolist()}" if x.size < 10 else f"inputs of shape {x.shape}")
    args = "".join(f", {k}={v}" for k, v in alpha_kwargs.items())
    what = f"{name}(x{args}{', derivative=True' if derivative else ''}) on {shown}"
    if derivative:
        got = check.run(what, fn, x, derivative=True, **alpha_kwargs)
    else:
        got = check.run(what, fn, x, **alpha_kwargs)
    check.low_precision(narrowest_float(got), name)  # float32 is judged at its precision
    return got


def _overflowed(check, got):
    """True when the learner's result is not all finite or NumPy warned about an overflow:
    the evidence an overflow hint needs."""
    arr = as_numbers(got)
    return (arr is not None and not np.isfinite(arr).all()) or any(
        "overflow" in w or "invalid" in w for w in check.warnings)


def _values(check, fn, kind, alpha, alpha_kwargs):
    name = function_name(fn, kind)
    x = sample_inputs()
    before = x.copy()
    got = _call(check, fn, kind, x, alpha_kwargs)
    _unchanged_input(check, before, x, kind, _FORMULAS[kind][0], got)
    x = before  # judged on the input it was given, even if it changed it
    if not compare(check, got, _reference(kind, alpha)(x), f"{name}(x)",
                   _value_variants(kind, x, alpha), inputs=x):
        return  # large inputs only tell something once ordinary ones work
    check.ok(f"values on inputs of shape {x.shape}")
    # Large inputs: exp(1000) overflows, but the function itself must stay finite and right.
    got = _call(check, fn, kind, EXTREME.copy(), alpha_kwargs)
    hint = {"sigmoid": "exp overflowed: use np.exp(-np.abs(x)), which never overflows, with "
                       "1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.",
            "tanh": "use np.tanh(x), which is stable; e^1000 overflows in a hand-written formula.",
            }.get(kind)
    if compare(check, got, _reference(kind, alpha)(EXTREME), f"{name}(x)", inputs=EXTREME,
               hint=hint if _overflowed(check, got) else None):
        check.ok("values at +-50 and +-1000")
        if any("overflow" in w for w in check.warnings):
            check.note("NumPy warned about an overflow in exp at x = +-1000 (the result is "
                       "still right); np.exp(-np.abs(x)) avoids it.")


def _unchanged_input(check, before, x, kind, formula, got):
    alias = ("`out = x` gives x a second name (NumPy does not copy on assignment, unlike "
             "MATLAB), so writing into out writes into x; " if isinstance(got, np.ndarray)
             and np.shares_memory(got, x) else "")
    unchanged(check, before, x, "the input x",
              f"{alias}{kind} must not change its argument (as `x[x < 0] = 0`, `x *= ...` or "
              f"`np.exp(x, out=x)` do): the caller still needs it, e.g. a layer's backward "
              f"reads the x its forward kept. Build a new array: {formula}.")


def _derivative(check, fn, kind, alpha, alpha_kwargs):
    name = function_name(fn, kind)
    x = sample_inputs(seed=1)
    before = x.copy()
    got = _call(check, fn, kind, x, alpha_kwargs, derivative=True)
    _unchanged_input(check, before, x, kind, _FORMULAS[kind][1], got)
    x = before
    expected = _reference(kind, alpha)(x, derivative=True)
    g = as_numbers(got)
    if kind in ("relu", "leaky_relu") and g is not None and g.shape == x.shape:
        # At x = 0 (x[0, 0]) the derivative does not exist and the text leaves it open: a
        # slope between the two sides (x >= 0 gives 1) or 0 (two strict masks, (x > 0) +
        # alpha * (x < 0), as the cases are written) are all accepted there.
        if min(alpha, 0.0) <= g[0, 0] <= max(alpha, 1.0):
            expected[0, 0] = g[0, 0]
    # A derivative kept from the last call (self.out of a callable class, a global cache):
    # it answers for the inputs of the value checks, not for this x.
    stale = ("derivative=True returned the derivative at an earlier call's input: compute it "
             "from the x it is given (a layer's backward calls it on the input its forward "
             "kept, which need not be the last array the function saw), not from a cached "
             "output.")
    variants = _derivative_variants(kind, x, alpha) + [
        (stale, _reference(kind, alpha)(earlier, derivative=True))
        for earlier in (sample_inputs(), EXTREME)]
    kink = None
    if g is not None and g.shape == x.shape and kind in ("relu", "leaky_relu"):
        bad = ~np.isfinite(g)
        if bad.any() and np.all(x[bad] == 0):
            kink = ("at x = 0 the derivative is 0/0 (x / |x| or similar gives NaN): use the "
                    "comparison x > 0, which gives a number at 0 too.")
    if not compare(check, got, expected, f"{name}(x, derivative=True)", variants, hint=kink,
                   inputs=x):
        return False
    check.ok(f"derivative on inputs of shape {x.shape} (formula: {_FORMULAS[kind][1]})")
    if kind in ("sigmoid", "tanh"):
        # A layer's backward calls the derivative on its pre-activations, which can be large
        # too: e^-x / (1 + e^-x)^2 is inf / inf = NaN at x = -1000.
        got = _call(check, fn, kind, EXTREME.copy(), alpha_kwargs, derivative=True)
        hint = (f"the derivative overflowed: compute it from a stable {kind}(x) "
                f"({_FORMULAS[kind][1]}), which stays finite at any x.")
        if compare(check, got, _reference(kind, alpha)(EXTREME, derivative=True),
                   f"{name}(x, derivative=True)", inputs=EXTREME,
                   hint=hint if _overflowed(check, got) else None):
            check.ok("derivative at +-50 and +-1000")
    return True


def _slope_is_used(check, fn, name, alpha, values, derivative):
    """A leaky ReLU given another slope must use it, not a constant written in its body."""
    other = 0.2 if alpha != 0.2 else 0.1
    x = sample_inputs(seed=2)
    x[0, 0] = 1.0  # no kink: the derivative is defined everywhere here
    ignored = f"the {name} argument is ignored: use it ({name} * x), not a fixed {fmt(alpha)}."
    ok = True
    for derivative_, wanted in ((False, values), (True, derivative)):
        if not wanted:
            continue
        got = _call(check, fn, "leaky_relu", x, {name: other}, derivative=derivative_)
        ok &= compare(check, got, ref.leaky_relu(x, other, derivative_),
                      f"leaky_relu(x, {name}={other}{', derivative=True' if derivative_ else ''})",
                      [(ignored, ref.leaky_relu(x, alpha, derivative_))], inputs=x)
    if ok:
        check.ok(f"uses its {name} argument ({name}={other})")


def leaky_slope_problem(check, name, alpha):
    """Stop unless ``alpha`` (the learner's default slope) makes a leaky ReLU."""
    if not 0 < alpha < 1:
        check.stop(f"the default slope {name} = {fmt(alpha)} does not make a leaky ReLU.",
                   "a leaky ReLU lets a small part of negative inputs through: its slope below 0 "
                   "is between 0 and 1 (0.01 by default); 0 is a plain ReLU.")


def _activation_body(check, fn, kind, values, derivative):
    alpha, alpha_kwargs, slope_name = ALPHA, {}, None
    if kind == "leaky_relu":
        slope_name, default = slope_argument(fn)
        if slope_name is not None and default is None:
            alpha_kwargs = {slope_name: ALPHA}  # no default: the checker passes scratchnn's
        alpha = ALPHA if default is None else default
        leaky_slope_problem(check, slope_name or "alpha", alpha)
        measured = None if slope_name else _measured_slope(check, fn)
        if measured is not None and not np.isclose(measured, ALPHA):
            alpha = measured
            check.ok(f"judged with the slope your function uses below 0, {fmt(alpha)} (its "
                     "signature names no alpha)")
        elif alpha != ALPHA:
            check.ok(f"judged with your default slope {slope_name or 'alpha'} = {fmt(alpha)}")
    if values:
        _values(check, fn, kind, alpha, alpha_kwargs)
    if derivative:
        _derivative(check, fn, kind, alpha, alpha_kwargs)
    if slope_name is not None and not check.messages:
        _slope_is_used(check, fn, slope_name, alpha, values, derivative)


def check_activation_function(fn, kind, *, values=True, derivative=True, verbose=True):
    """Check ``fn(x)`` and ``fn(x, derivative=True)`` against scratchnn's activation ``kind``.

    kind: "sigmoid", "relu", "tanh" or "leaky_relu" (slope below 0: the default of the
    learner's ``alpha`` parameter, or of its one parameter with a default between 0 and 1
    under another name, or, when the signature names none, the slope its values show; else
    0.01; another alpha given must be used).
    Values and derivatives are tried on a (4, 6) batch with an exact 0 and at +-1000; at x = 0
    the (leaky) ReLU derivative may be anything from 0 to 1 (the text leaves it open), but not
    NaN; x must be left as it was, in both branches; a leaky ReLU's default slope must lie
    between 0 and 1. Returns a CheckResult (truthy when passed) and prints the verdict.
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
                 "e.sum(axis=-1, keepdims=True).", np.exp(x) / np.exp(x).sum()),
                ("exponentiate first: softmax(x) = e^x / sum(e^x), not x / sum(x).",
                 x / x.sum(axis=-1, keepdims=True))]
    got = _softmax_call(check, fn, f"softmax(x) on inputs of shape {x.shape}", x)
    check.low_precision(narrowest_float(got), "softmax")
    if compare(check, got, ref.softmax(x), "softmax(x)", variants):
        check.ok(f"values on a batch of shape {x.shape}")
        big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
        got = _softmax_call(check, fn, "softmax(x) on x = [[1000, 1001, 1002], [-1000, 0, 1000]]",
                            big)
        hint = ("e^1000 overflows to inf and inf / inf is NaN. Subtract each row's maximum "
                "first (x - x.max(axis=-1, keepdims=True)): softmax does not change and the "
                "largest exponent becomes 0.")
        if compare(check, got, ref.softmax(big), "softmax(x) at large inputs",
                   hint=hint if _overflowed(check, got) else None):
            check.ok("stable at inputs of +-1000")

    row = x[0].copy()
    got = _softmax_call(check, fn, f"softmax(x) on one sample of shape {row.shape}", row,
                        hint=lambda exc: "use axis=-1 so that one sample (C,) and a batch "
                                         "(batch, C) both work.")
    if compare(check, got, ref.softmax(row), "softmax(x) of one sample"):
        check.ok("values on one sample (C,)")

    s = ref.softmax(row)
    jac = _softmax_call(check, fn, f"softmax(x, derivative=True) on one sample of shape "
                        f"{row.shape}", row, derivative=True)
    variants = [("the diagonal term is missing: J = diag(s) - s s^T (J_ij = s_i (delta_ij - s_j)).",
                 -np.outer(s, s)),
                ("only the diagonal: the off-diagonal entries -s_i s_j are missing.", np.diag(s)),
                ("the sign is flipped: J = diag(s) - s s^T.", np.outer(s, s) - np.diag(s)),
                ("s s^T is the outer product np.outer(s, s), a (C, C) matrix; s @ s is one "
                 "number.", np.diag(s) - s @ s),
                ("this is only the diagonal, s (1 - s), as a vector: the Jacobian is the (C, C) "
                 "matrix diag(s) - s s^T.", s * (1 - s)),
                ("the Jacobian is built from s = softmax(x), not from x itself: "
                 "J = diag(s) - s s^T.", np.diag(row) - np.outer(row, row))]
    if compare(check, jac, ref.softmax(row, derivative=True), "the Jacobian", variants):
        check.ok("Jacobian diag(s) - s s^T of one sample, shape (C, C)")


def _softmax_call(check, fn, what, x, **kwargs):
    """``fn`` run on a copy of ``x``, which it must leave as it was: subtracting the maximum
    in place (x -= x.max(...)) changes the caller's logits."""
    given = x.copy()
    got = check.run(what, fn, given, **kwargs)
    unchanged(check, x, given, "the input x",
              "softmax must not change its argument (as `x -= x.max(axis=-1, keepdims=True)` or "
              "`np.exp(x, out=x)` do): the caller still holds it. Build a new array, "
              "e = np.exp(x - x.max(axis=-1, keepdims=True)).")
    return got


def check_softmax(fn, *, verbose=True):
    """Check ``fn(x)`` (row-wise softmax, (batch, C) and (C,)) and ``fn(x, derivative=True)``
    (the (C, C) Jacobian of one sample) against ``scratchnn.softmax``, including stability at
    inputs of +-1000; x must be left as it was. Returns a CheckResult and prints the verdict."""
    check_callable(fn)
    return run_check("softmax", _softmax_body, fn, verbose=verbose)
