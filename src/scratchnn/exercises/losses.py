"""Checkers for chapters 3 and 4: loss functions and the hand-written finite-difference gradient.

A loss has the signature of scratchnn's: ``loss(y_real, y_pred, derivative=False)`` returns the
mean loss (one number), and with ``derivative=True`` the gradient dL/dy_pred, one number per
element of y_pred. Cross-entropy takes raw scores (logits) and applies the softmax inside.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import losses as ref
from ..activations import sigmoid as ref_sigmoid
from ..activations import softmax
from ..gradient_check import relative_error
from ._core import (
    as_numbers,
    check_callable,
    check_kind,
    close,
    compare,
    describe,
    extra_items_hint,
    fmt,
    kind_of,
    mismatch,
    narrowest_float,
    raised_in_learner_code,
    random_array,
    run_check,
    unchanged,
)
from .functions import function_name

KINDS = {"mse": "mse", "mae": "mae", "binary_cross_entropy": "binary_cross_entropy",
         "bce": "binary_cross_entropy", "cross_entropy": "cross_entropy",
         "ce": "cross_entropy"}

_REFERENCE = {"mse": ref.mse, "mae": ref.mae, "binary_cross_entropy": ref.binary_cross_entropy,
              "cross_entropy": ref.cross_entropy_loss}

_FORMULAS = {
    "mse": ("mean((y_pred - y_real) ** 2)", "2 * (y_pred - y_real) / y_pred.size"),
    "mae": ("mean(|y_pred - y_real|)", "np.sign(y_pred - y_real) / y_pred.size"),
    "binary_cross_entropy": ("-mean(y log p + (1 - y) log(1 - p))",
                             "(p - y) / (p * (1 - p)) / p.size"),
    "cross_entropy": ("-sum(y * log(softmax(z))) / batch", "(softmax(z) - y) / batch"),
}

_ROWS = ("the softmax normalises each row (one sample's scores over the classes): max and "
         "sum over axis=1 (or -1) with keepdims=True, not over axis=0 (the batch).")

_LOGITS = ("y_pred is already a probability (the network's last layer applied the sigmoid): "
           "the loss takes log p and log(1 - p) of y_pred itself, with no sigmoid inside "
           "(PyTorch's BCEWithLogitsLoss takes logits; BCELoss, like this one, does not).")

_SCALAR_GRADIENT = (
    "the derivative must hold one number per element of y_pred (that is what backpropagation "
    "passes to the last layer), e.g. {}; a single number such as np.sum(y_pred - y_real) is "
    "not a gradient."
)


TIE = (0, 0)


def _data(kind, seed=3):
    """(y_real, y_pred) for ``kind``: a (6, 2) regression batch, (6, 2) probabilities for binary
    cross-entropy, one-hot targets and (6, 4) logits for cross-entropy. Seed 3 (the main data)
    has an exact prediction for MAE's kink; another seed gives other data of the same shapes."""
    rng = np.random.default_rng(seed)
    if kind in ("mse", "mae"):
        y, p = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
        if seed == 3:
            p[TIE] = y[TIE]  # a prediction that is exactly right: |d| has no derivative there
        return y, p
    if kind == "binary_cross_entropy":
        # Two outputs per sample (multi-label), so that dividing by the rows is not the mean.
        return rng.integers(0, 2, size=(6, 2)).astype(float), rng.uniform(0.05, 0.95, (6, 2))
    labels = np.array([0, 3, 1, 2, 3, 0]) if seed == 3 else rng.permutation([0, 3, 1, 2, 3, 0])
    return np.eye(4)[labels], rng.normal(0.0, 2.0, size=(6, 4))


def _value_variants(kind, y, p):
    value = _REFERENCE[kind](y, p)
    n, batch = p.size, p.shape[0]
    total = "the sum, not the mean: divide by the number of elements, y_pred.size."
    per_row = "divide by y_pred.size (every element), not by the number of rows."
    if kind == "mse":
        return [(total, value * n), (per_row, value * n / batch),
                ("this is the root of the mean squared error; MSE has no square root.",
                 np.sqrt(value)),
                ("the loss is mean((y_pred - y_real) ** 2), without the 1/2 some books put in "
                 "front (to cancel the 2 of the derivative): this exercise's derivative keeps "
                 "its 2, 2 * (y_pred - y_real) / y_pred.size.", value / 2)]
    if kind == "mae":
        before = "take the absolute value of each difference before averaging."
        return [(total, value * n), (per_row, value * n / batch), (before, np.mean(p - y)),
                (before, abs(np.mean(p - y)))]
    if kind == "binary_cross_entropy":
        return [(total, value * n), (per_row, value * n / batch),
                ("the minus sign is missing: log p < 0, so the loss is -mean(...).", -value),
                ("the (1 - y) log(1 - p) term is missing: samples with label 0 count too.",
                 -np.mean(y * np.log(p))),
                ("the y log p term is missing: samples with label 1 count too.",
                 -np.mean((1 - y) * np.log(1 - p))),
                (_LOGITS, ref.binary_cross_entropy(y, ref_sigmoid(p)))]
    s = softmax(p)
    return [("take the log of the probabilities: -sum(y * log(softmax(z))) / batch.",
             -np.sum(y * s) / batch),
            ("average over the batch (divide the sum by the number of rows).", value * batch),
            ("sum over the classes and average over the samples: dividing by every element "
             "also divides by the number of classes.", value / p.shape[1]),
            ("the minus sign is missing: log softmax < 0, so the loss is -sum(...) / batch.",
             -value),
            (_ROWS, -np.sum(y * np.log(softmax(p.T).T)) / batch)]


def _derivative_variants(kind, y, p):
    grad = _REFERENCE[kind](y, p, derivative=True)
    n, batch = p.size, p.shape[0]
    unscaled = ("the loss is a mean, so its gradient is divided by the number of elements: "
                "divide by y_pred.size.")
    sign = "the sign is flipped: the gradient points towards larger loss, so it is y_pred - y_real."
    variants = [(sign, -grad)]
    if kind in ("mse", "mae", "binary_cross_entropy"):
        variants += [(unscaled, grad * n),
                     ("divide by y_pred.size (every element), not by the number of rows.",
                      grad * n / batch)]
    if kind == "mse":
        variants += [("the factor 2 is missing: d/dp (p - y)^2 = 2 (p - y).", grad / 2),
                     ("the factor 2 and the division by y_pred.size are missing.", grad * n / 2),
                     ("that is the squared error itself, not its derivative 2 (p - y) / n.",
                      (p - y) ** 2 / n)]
    if kind == "mae":
        variants += [("the derivative of |d| is sign(d) (+1 or -1), not |d|: "
                      "np.sign(y_pred - y_real) / y_pred.size.", np.abs(p - y) / n),
                     ("the derivative of |d| is sign(d) (+1 or -1), not d: "
                      "np.sign(y_pred - y_real) / y_pred.size.", (p - y) / n),
                     ("the derivative of |d| is sign(d), whatever the sign of d: "
                      "np.sign(y_pred - y_real), not a constant.", np.full_like(p, 1 / n))]
    if kind == "binary_cross_entropy":
        to_logits = ("(p - y) is the gradient with respect to the logit z when the sigmoid is "
                     "fused into the loss; with respect to the probability p it is "
                     "(p - y) / (p (1 - p)), divided by y_pred.size.")
        variants += [(_LOGITS, (ref_sigmoid(p) - y) / n), (to_logits, (p - y) / n),
                     (to_logits, p - y),
                     ("d/dp log(1 - p) = -1 / (1 - p): the derivative is "
                      "(-y / p + (1 - y) / (1 - p)) / n; one of its signs is flipped.",
                      (-y / p - (1 - y) / (1 - p)) / n),
                     ("d/dp log(1 - p) = -1 / (1 - p): the derivative is "
                      "(-y / p + (1 - y) / (1 - p)) / n; one of its signs is flipped.",
                      (y / p + (1 - y) / (1 - p)) / n)]
    if kind == "cross_entropy":
        s = softmax(p)
        variants += [("forgetting to scale the loss gradient by the batch size: the loss averages "
                      "over the batch, so divide softmax(z) - y by the number of rows.", s - y),
                     ("divide by the number of rows (the batch), not by every element.",
                      (s - y) / n),
                     ("two slips: the sign is flipped (it is softmax(z) - y, which points towards "
                      "larger loss) and the batch's 1/B is missing: (softmax(z) - y) / batch.",
                      y - s),
                     ("this is dL/ds, the gradient with respect to the probabilities s; with the "
                      "softmax inside the loss, the gradient with respect to the logits z "
                      "simplifies to (softmax(z) - y) / batch.", -y / s / batch),
                     ("the softmax is part of the loss: its gradient with respect to the logits "
                      "is (softmax(z) - y) / batch, not (z - y) / batch.", (p - y) / batch),
                     (_ROWS, (softmax(p.T).T - y) / batch)]
    return variants


def _edge_data(kind):
    """Inputs where a naive formula takes log(0), 0/0 or exp(1000): confident and right."""
    if kind == "binary_cross_entropy":
        return np.array([[0.0], [1.0], [1.0]]), np.array([[0.0], [1.0], [0.3]])
    if kind == "cross_entropy":
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([[1000.0, 0.0, -1000.0],
                                                                      [-5.0, 3.0, 1.0]])
    return None


# A learner's clipping constant is theirs to choose: anything up to this changes the loss of a
# confident right answer by at most about 0.01.
LARGEST_EPS = 1e-2


_CHANGED = ("a loss must not change its arguments (as `y_pred -= y_real` or "
            "`np.clip(y_pred, eps, 1 - eps, out=y_pred)` do): y_pred is the network's output, "
            "which its last layer may still need. Build new arrays.")


def _call(check, what, fn, y, p, **kwargs):
    """``fn`` run on copies of y and p, which it must leave as they were; y and p themselves
    stay as given, so every reference value is computed from the inputs the learner saw."""
    y_given, p_given = y.copy(), p.copy()
    out = check.run(what, fn, y_given, p_given, hint=_error_hint, **kwargs)
    unchanged(check, y, y_given, "y_real", _CHANGED)
    unchanged(check, p, p_given, "y_pred", _CHANGED)
    return out


def _error_hint(exc):
    """Advice for an exception of the learner's loss that says more than the generic one."""
    if isinstance(exc, IndexError) and "indices must be of integer" in str(exc):
        return ("y_real holds floats (0.0 and 1.0; for cross-entropy, one-hot rows (batch, C)), "
                "not integer class indices (PyTorch's cross-entropy takes indices; these losses "
                "do not): use -sum(y_real * log_softmax) / batch, or labels = "
                "y_real.argmax(axis=1).")
    return None


def _too_large(eps):
    """eps beyond LARGEST_EPS; the eps read back from a loss is off by a rounding step, so
    an eps of exactly 1e-2 is not "too large"."""
    return eps > LARGEST_EPS * (1 + 1e-6)


def _learner_eps(check, fn, name, kind):
    """The eps the learner's loss keeps log away from 0 with, read from its effect where the
    right class has probability 0: BCE at y = p = 0 gives -log(1 -+ eps) (np.clip, or
    log(1 - p + eps)); cross-entropy at logits [0, 1000] with the target on the 0 gives
    -log(eps) (log(s + eps) or a clipped s), and 1000 when exact. None when the loss there is
    not a finite number (not guarded at all)."""
    if kind == "binary_cross_entropy":
        y, p, shown = np.zeros((1, 1)), np.zeros((1, 1)), "y_real = y_pred = [[0]]"
    else:
        y, p, shown = np.array([[1.0, 0.0]]), np.array([[0.0, 1000.0]]), (
            "y_real = [[1, 0]], logits = [[0, 1000]]")
    value = as_numbers(_call(check, f"{name}(y_real, y_pred) at {shown}", fn, y, p))
    if value is None or value.size != 1 or not np.isfinite(value).all():
        return None
    value = float(value.ravel()[0])
    return float(abs(np.expm1(-value))) if kind == "binary_cross_entropy" else float(
        np.exp(-value))


def _large_eps_variants(kind, y, p, eps):
    """(hint, loss) for a log kept from 0 by an eps large enough to move ordinary values:
    the hint is given only when that eps, in one of the usual forms, explains the value (an eps
    read from a loss that is wrong in another way, e.g. a softmax over the wrong axis, would
    mislead)."""
    if eps is None or not 1e-4 < eps < 1:
        return []
    hint = (f"the loss acts as if eps = {fmt(eps)} kept the log away from 0, which moves its "
            "value: use a small eps such as 1e-12 (np.clip, or log(p + eps)).")
    if kind == "binary_cross_entropy":
        def bce(q, r):
            return -np.mean(y * np.log(q) + (1 - y) * np.log(r))
        return [(hint, bce(p + eps, 1 - p + eps)),
                (hint, bce(np.clip(p, eps, 1 - eps), 1 - np.clip(p, eps, 1 - eps)))]
    s = softmax(p)
    return [(hint, -np.sum(y * np.log(form)) / len(p))
            for form in (s + eps, np.clip(s, eps, 1.0), np.clip(s, eps, 1 - eps))]


def _margin(kind, y, p, eps):
    """How far eps inside the log (log(p + eps) rather than a clip) may move the loss on the
    ordinary data: each term by about eps / (the probability it takes the log of)."""
    if eps is None or _too_large(eps):
        return 0.0  # no guard, or no eps at all (a loss without its log reads as eps ~ 1)
    if kind == "binary_cross_entropy":
        return eps / np.min(np.minimum(p, 1 - p))
    return eps / np.min(np.sum(y * softmax(p), axis=1))


def _eps_forms(kind, y, p, eps):
    """(values, gradients) that the learner's eps, kept inside the log (log(p + eps) rather
    than a clip, which changes nothing on the ordinary data), makes right: judged exactly,
    not by a tolerance as wide as eps could ever move them."""
    if eps is None or _too_large(eps) or eps <= 0:
        return [], []
    n = p.size
    if kind == "binary_cross_entropy":
        def bce(q, r):
            return -np.mean(y * np.log(q) + (1 - y) * np.log(r))
        values = [bce(p + eps, 1 - p + eps), bce(p + eps, 1 - p), bce(p, 1 - p + eps)]
        grads = [(-y / (p + eps) + (1 - y) / (1 - p + eps)) / n,
                 (p - y) / ((p + eps) * (1 - p + eps)) / n,
                 (p - y) / (p * (1 - p) + eps) / n]
        return values, grads
    if kind != "cross_entropy":
        return [], []
    s, batch = softmax(p), len(p)
    values = [-np.sum(y * np.log(form)) / batch
              for form in (s + eps, np.clip(s, eps, 1.0), np.clip(s, eps, 1 - eps))]
    right = np.sum(y * s, axis=1, keepdims=True)
    # The exact derivative of -log(s_y + eps): (s - y) / batch, scaled by s_y / (s_y + eps).
    return values, [right / (right + eps) * (s - y) / batch]


def _followed(check, got, expected, forms):
    """The form among ``forms`` that ``got`` matches (the learner's eps, followed exactly),
    else ``expected``."""
    return next((form for form in forms if close(got, form, check.rtol, check.atol)), expected)


_PREDICTION_NAMES = {"y_pred", "pred", "preds", "prediction", "predictions", "y_hat", "yhat",
                     "output", "outputs", "input", "logits", "scores", "p", "probs", "y_prob"}
_TARGET_NAMES = {"y_real", "y_true", "y", "target", "targets", "label", "labels", "truth"}


def _argument_order(check, fn, name, kind):
    """Stop when ``fn``'s signature takes the prediction first (PyTorch's loss(input, target)
    order) and the loss is wrong as called: every caller, the check included, passes y_real
    first. (Names alone do not fail a loss that is right as called.)"""
    try:
        first, second = list(inspect.signature(fn).parameters)[:2]
    except (TypeError, ValueError):
        return
    if first not in _PREDICTION_NAMES or second not in _TARGET_NAMES:
        return
    if run_check(check.name, _judge_loss, fn, kind, verbose=False).status != "failed":
        return
    second_name = "logits" if kind == "cross_entropy" else "y_pred"
    check.stop(f"{name}({first}, {second}, ...) takes the prediction first.",
               f"the exercise's signature is {name}(y_real, {second_name}, derivative=False), "
               "and every caller (this check, train_step, the capstone) passes the targets "
               "first: swap the two parameters (PyTorch's losses take (input, target); these "
               "do not).")


def _loss_body(check, fn, kind):
    _argument_order(check, fn, function_name(fn, kind), kind)
    _judge_loss(check, fn, kind)


def _judge_loss(check, fn, kind):
    y, p = _data(kind)
    name = function_name(fn, kind)
    eps = (_learner_eps(check, fn, name, kind)
           if kind in ("binary_cross_entropy", "cross_entropy") else None)
    value_forms, grad_forms = _eps_forms(kind, y, p, eps)
    call = f"{name}(y_real, y_pred) with y_pred of shape {p.shape}"
    raw = _call(check, call, fn, y, p)
    check.low_precision(narrowest_float(raw), name)  # float32 is judged at its precision
    value = _scalar(raw)
    value_ok = False
    if as_numbers(value) is None:
        check.fail(f"the loss should be one number, got {kind_of(raw)}.",
                   extra_items_hint(raw, _REFERENCE[kind](y, p), {"rtol": check.rtol,
                                                                  "atol": check.atol})
                   or ("return the loss alone; the gradient is returned by a call with "
                       "derivative=True." if isinstance(raw, (tuple, list)) else None))
    elif np.ndim(value) == 0:
        value_ok = compare(check, value, _followed(check, value, _REFERENCE[kind](y, p),
                                                   value_forms), "the loss",
                           _value_variants(kind, y, p) + _large_eps_variants(kind, y, p, eps),
                           on=f"the check's y_real and y_pred of shape {p.shape}")
        if value_ok:
            check.ok(f"value ({_FORMULAS[kind][0]}) on inputs of shape {p.shape}")
    else:
        check.fail(f"the loss should be one number, got {describe(value)}.",
                   f"average over every element: {_FORMULAS[kind][0]}.")

    grad = _call(check, f"{name}(y_real, y_pred, derivative=True) with y_pred of shape {p.shape}",
                 fn, y, p, derivative=True)
    formula = _FORMULAS[kind][1]
    arr = as_numbers(grad)
    scalar = arr is not None and arr.size == 1
    hint = _SCALAR_GRADIENT.format(formula) if scalar else None
    expected = _followed(check, grad, _REFERENCE[kind](y, p, derivative=True), grad_forms)
    if kind == "mae" and arr is not None and arr.shape == p.shape:
        # Where y_pred == y_real, |d| has no derivative: anything between the two slopes is a
        # subgradient (np.sign gives 0, np.where(d > 0, 1, -1) gives -1), but d / |d| is NaN.
        if abs(arr[TIE]) <= (1 + 1e-6) / p.size:
            expected = expected.copy()
            expected[TIE] = arr[TIE]
        elif not np.isfinite(arr[TIE]):
            hint = ("where y_pred == y_real, d / |d| is 0/0 = NaN (one NaN poisons every "
                    "weight it reaches): np.sign(y_pred - y_real) gives 0 there.")
    grad_ok = compare(check, grad, expected, "the derivative", _derivative_variants(kind, y, p),
                      hint=hint, on=f"the check's y_real and y_pred of shape {p.shape}")
    if grad_ok:
        check.ok(f"derivative ({formula}) on inputs of shape {p.shape}")
        grad_ok = _derivative_alone(check, fn, name, kind, eps, p)

    edge = _edge_data(kind)
    # Extreme inputs only tell something once ordinary ones work: a wrong formula is wrong
    # there too, and blaming it on overflow would mislead.
    if edge is not None and value_ok and grad_ok:
        _edges(check, fn, kind, *edge, eps)


def _derivative_alone(check, fn, name, kind, eps, p_before):
    """The derivative on other data of the same shape, with no call for the value before it:
    a softmax kept from the value's call, or a cache keyed by the shape, answers for the
    earlier data (``p_before`` is the y_pred of the calls before)."""
    y_before, _ = _data(kind)
    y, p = _data(kind, seed=5)
    shown = f"other y_real and y_pred of shape {p.shape}"
    grad = _call(check, f"{name}(y_real, y_pred, derivative=True) on {shown}", fn, y, p,
                 derivative=True)
    stale = ("this is the derivative on the previous call's data: compute it from the "
             "y_real and y_pred it is given (something kept from the value's call, or a cache "
             "keyed by the shape, answers for other data; a training loop may ask for the "
             "derivative alone).")
    expected = _followed(check, grad, _REFERENCE[kind](y, p, derivative=True),
                         _eps_forms(kind, y, p, eps)[1])
    variants = [(stale, _REFERENCE[kind](y_before, p_before, True)),
                (stale, _REFERENCE[kind](y, p_before, True))]
    if compare(check, grad, expected, "the derivative", variants, on=shown):
        check.ok("derivative alone on other data of the same shape")
        return True
    return False


def _scalar(value):
    """A one-element array as a 0-d array (np.float64, [[0.5]] and 0.5 are all one number)."""
    arr = as_numbers(value)
    return arr.reshape(()) if arr is not None and arr.size == 1 else value


def _finite(value, shape):
    arr = as_numbers(value)
    return arr is not None and arr.shape == shape and bool(np.isfinite(arr).all())


def _shown(value):
    arr = as_numbers(value)
    if arr is None:
        return repr(value)
    return fmt(arr.ravel()[0]) if arr.size == 1 else np.array2string(arr.ravel(), precision=4)


def _edges(check, fn, kind, y, p, eps):
    name = function_name(fn, kind)
    if kind == "cross_entropy":
        shown = "logits = [[1000, 0, -1000], [-5, 3, 1]]"
        value = _scalar(_call(check, f"{name} at {shown}", fn, y, p))
        warned = list(check.warnings)
        grad = _call(check, f"{name}(..., derivative=True) at {shown}", fn, y, p, derivative=True)
        warned += check.warnings
        if not any("overflow" in w for w in warned) and any("divide" in w for w in warned):
            # Nothing overflowed, a log(0) did: a row shifted by more than its own maximum
            # (the batch's z.max()) has every e^z round to 0.
            hint = ("a log(0) (of a sum of e^z that all rounded to 0): subtract each row's own "
                    "maximum, z.max(axis=1, keepdims=True), not the batch's z.max(); then the "
                    "largest term of every row is e^0 = 1.")
        else:
            hint = ("e^1000 overflows: compute log-softmax as z - max - log(sum(exp(z - max))), "
                    "subtracting each row's maximum.")
        ok = True
        atol = 1e-5 + 2 * _margin(kind, y, p, eps)
        for got, expected, what in ((value, _REFERENCE[kind](y, p), "the loss"),
                                    (grad, _REFERENCE[kind](y, p, derivative=True),
                                     "the derivative")):
            # Judged by effect: log(s + eps) or a clipped s is fine, so a loose tolerance.
            ok &= compare(check, got, expected, what, on=shown, rtol=1e-4, atol=atol,
                          hint=hint if not _finite(got, np.shape(expected)) else None)
        if ok:
            check.ok("finite and right at confident predictions (logits of +-1000)")
        return
    _bce_edges(check, fn, name, y, p, eps)


def _bce_edges(check, fn, name, y, p, eps):
    """Confident predictions, p = 0 and p = 1: judged by the effect of the learner's clipping
    (finite values and gradients, right up to its eps), not by one value of eps."""
    clip = ("log(0) is -inf and 0 * -inf is NaN: clip the probabilities at both ends first, "
            "p = np.clip(y_pred, eps, 1 - eps) with a small eps such as 1e-12 (this also keeps "
            "the derivative's p (1 - p) away from 0).")
    if eps is not None and _too_large(eps):
        check.stop(f"at y_pred = [[0]] with y_real = [[0]] (a confident right answer) the loss "
                   f"is {fmt(-np.log1p(-min(eps, 0.5)))}, as if p were moved to {fmt(eps)}.",
                   "the clipping constant is too large: it changes the loss of confident "
                   "answers. Use a small eps such as 1e-12 or 1e-7.")
    clip = _tiny_eps_hint(check, fn, name) or clip
    ok = True
    for y_edge, p_edge, shown in (
            (y, p, "y_pred = [[0], [1], [0.3]], y_real = [[0], [1], [1]]"),
            (np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]]),
             "y_pred = [[0], [1]], y_real = [[1], [0]] (confidently wrong)")):
        value = _scalar(_call(check, f"{name} at {shown}", fn, y_edge, p_edge))
        grad = _call(check, f"{name}(..., derivative=True) at {shown}", fn, y_edge, p_edge,
                     derivative=True)
        if not _finite(value, ()):
            ok = False
            check.fail(f"the loss at {shown}: expected a finite number, got {_shown(value)}.",
                       clip)
        elif y_edge is y:
            # Each confident-right term is -log(1 -+ eps) ~ eps: right up to the learner's eps.
            ok &= compare(check, value, ref.binary_cross_entropy(y, p), "the loss", on=shown,
                          rtol=1e-4, atol=1e-5 + 2 * (eps or 0.0))
        # At p = 0 with y = 0, (p - y) / (p (1 - p)) is 0/0: its limit is 1/n, PyTorch (and
        # scratchnn) give 0 and a clipped p gives about 1/n. Any finite value will do.
        if not _finite(grad, p_edge.shape):
            ok = False
            check.fail(f"the derivative at {shown}: expected finite numbers of shape "
                       f"{p_edge.shape}, got {_shown(grad)}.", clip)
    if ok:
        check.ok("finite and right at confident predictions (p = 0 and 1), up to the "
                 + (f"clipping eps = {fmt(eps)}" if eps else "clipping"))


def _tiny_eps_hint(check, fn, name):
    """The hint for a clip whose eps is too small for 1 - eps to differ from 1 (1e-20): it
    guards log(p) at p = 0 but leaves p = 1 where it was. None when that is not the case."""
    value = as_numbers(_call(check, f"{name} at y_pred = [[0]], y_real = [[1]]", fn,
                             np.ones((1, 1)), np.zeros((1, 1))))
    if value is None or value.size != 1 or not np.isfinite(value).all():
        return None
    eps = float(np.exp(-value.ravel()[0]))
    if not 0 < eps < 1e-3:
        return None
    dtype = np.dtype(np.float64)
    if 1 - eps != 1:
        # The learner may clip in float32, and lose what float64 keeps: at p = 1 - 1e-9,
        # 1 - p is 1e-9 in float64 but 0 in float32.
        near = as_numbers(_call(check, f"{name} at y_pred = [[1 - 1e-9]], y_real = [[0]]", fn,
                                np.zeros((1, 1)), np.full((1, 1), 1 - 1e-9)))
        if near is None or np.isfinite(near).all() or np.float32(1) - np.float32(eps) != 1:
            return None
        dtype = np.dtype(np.float32)
    return (f"the clip guards p = 0 with eps = {fmt(eps)}, but 1 - {fmt(eps)} rounds to exactly "
            f"1 in {dtype.name} (which keeps about {np.finfo(dtype).precision} digits), so p = 1 "
            "is not moved and log(1 - p) is log(0). Use an eps that 1 - eps can hold: 1e-12 in "
            "float64, 1e-7 in float32.")


def check_loss_function(fn, kind, *, verbose=True):
    """Check ``fn(y_real, y_pred)`` and ``fn(y_real, y_pred, derivative=True)`` against
    scratchnn's loss ``kind``: "mse", "mae", "binary_cross_entropy" ("bce") or "cross_entropy"
    ("ce", on logits with one-hot targets), including confident predictions where a naive
    formula gives NaN. A guard against log(0) is judged by its effect, not by one eps: the
    learner's eps is read from the loss where the right class has probability 0, and a value
    or derivative is also right when it is exactly what that eps, kept inside the log, gives.
    Every call gets copies of y_real and y_pred, which must come back unchanged. MAE is tried
    where y_pred == y_real, where any derivative between -1/n and 1/n is right (and NaN is
    not). The derivative is also asked for alone, on other data of the same shape (a softmax
    kept from the value's call, or a cache keyed by the shape, fails). A loss whose signature
    takes the prediction first and which is wrong as called is told so. Returns a CheckResult
    (truthy when passed) and prints the verdict."""
    check_kind(kind, KINDS)
    check_callable(fn)
    kind = KINDS[kind]
    return run_check(f"loss {kind}", _loss_body, fn, kind, verbose=verbose)


# -- the finite-difference gradient of chapter 4 --------------------------------------------------
# x = (x + eps) - eps is x only up to a rounding step (about 1e-16 |x|): restoring x that way is
# right, so x counts as changed only beyond this (any eps a learner would use is far larger).
RESTORED_TOL = 1e-12
COUPLING = 0.2


def _numgrad_body(check, fn):
    x = random_array((3, 4), 4)
    w = random_array((3, 4), 5)
    calls = []  # (dtype, f's argument - x) of every call: how the learner perturbs x

    def f(arr):
        calls.append((np.asarray(arr).dtype, np.asarray(arr, dtype=np.float64) - before))
        arr = np.asarray(arr, dtype=np.float64)
        return float(np.sum(w * np.sin(arr)) + 0.5 * np.sum(arr * arr)
                     + COUPLING / 2 * np.sum(arr) ** 2)

    # The (sum x)^2 term couples the entries: an entry left perturbed changes the others'
    # differences, which a sum of separate terms would hide.
    exact = w * np.cos(x) + x + COUPLING * np.sum(x)
    curvature = 1.0 - w * np.sin(x) + COUPLING  # f'' per entry: a one-sided difference's error
    before = x.copy()
    got = check.run(f"numerical_gradient(f, x) with x of shape {x.shape} and "
                    "f(x) = sum(w * sin(x)) + sum(x ** 2) / 2 + (sum x) ** 2 / 10", fn, f, x,
                    hint=_numgrad_hint)
    steps = [np.abs(d[d != 0]) for _, d in calls]
    eps = float(np.median([s.max() for s in steps if s.size])) if any(s.size for s in steps) \
        else None
    if isinstance(got, np.ndarray) and np.shares_memory(got, x):
        check.stop("the gradient returned is x itself (or a view of it): every entry written "
                   "to it overwrote x, and later differences were taken around the wrong point.",
                   "grad = x gives x a second name (NumPy does not copy on assignment, unlike "
                   "MATLAB): start from a new array, grad = np.zeros_like(x).")
    if not close(x, before, rtol=RESTORED_TOL, atol=RESTORED_TOL):
        left = float(np.max(np.abs(x - before)))
        check.fail(f"x was changed in place: an entry is off by {fmt(left)} after the call.",
                   "restore each entry after perturbing it (x[i] = old), or perturb a copy: the "
                   "caller's x must be unchanged.")
    g = as_numbers(got)
    if g is None or g.shape != x.shape:
        check.stop(mismatch_text(got, x), extra_items_hint(got, exact, {"rtol": 1e-5,
                                                                      "atol": 1e-7}) or (
            "the gradient has x's entries, in another shape: return it shaped like x, with the "
            "derivative for x[i] at grad[i] (grad = np.zeros_like(x), filled at the index i "
            "perturbed)." if g is not None and g.size == x.size else
            "the gradient has one entry per entry of x: start from grad = np.zeros_like(x) "
            "and fill grad[i] for each index i."))
    err = relative_error(g, exact)
    if err < 1e-6 and _first_order_one_sided(calls):
        # Accurate enough with a tiny eps, but not the central difference asked for: with the
        # exercise's eps = 1e-5 its error of eps/2 f'' shows.
        check.stop(f"f was only called on one side of x (steps of {fmt(eps)}): a one-sided "
                   "difference.",
                   "use central differences, (f(x + eps) - f(x - eps)) / (2 eps): their error "
                   "shrinks as eps^2, not eps (a one-sided difference needs a tiny eps, where "
                   "rounding takes over).")
    if err < 1e-6:
        check.ok(f"central differences on inputs of shape {x.shape}: relative error {err:.1e} "
                 f"({len(calls)} calls of f)")
        return
    problem = f"the gradient has relative error {err:.1e} (should be below 1e-6); "
    if np.asarray(got).dtype.kind in "biu":
        check.stop(problem + mismatch_text(g, exact),
                   f"the gradient is an array of {np.asarray(got).dtype.name}: each difference "
                   "stored in it loses its fraction. Store them in a float array, "
                   "grad = np.zeros(x.shape).")
    missing = (g == 0) & (exact != 0)
    if missing.any() and not missing.all() and relative_error(g[~missing],
                                                              exact[~missing]) < 1e-6:
        check.stop(problem + mismatch_text(g, exact),
                   f"{int(missing.sum())} of {x.size} entries were never computed (still 0), "
                   "the others are right: visit every index of x, for i in np.ndindex(x.shape).")
    if any(dtype.kind == "c" for dtype, _ in calls):
        check.stop(problem + mismatch_text(g, exact),
                   "f was called with a complex array: the complex-step trick needs an f that "
                   "computes in complex numbers, and a loss (np.abs, np.maximum, a cast to "
                   "float) does not. Use the central difference the exercise asks for.")
    if any(dtype == np.float32 for dtype, _ in calls):
        check.stop(problem + mismatch_text(g, exact),
                   "f was called with a float32 array: float32 keeps about 7 digits, and "
                   "f(x + eps) - f(x - eps) loses most of them. Compute in x's own dtype "
                   "(float64): no .astype(np.float32).")
    if any(s.size > 1 for s in steps):
        check.stop(problem + mismatch_text(g, exact),
                   "f was called with several entries of x changed at once: perturb one entry "
                   "at a time (x[i] for i in np.ndindex(x.shape)) and put it back (or start from "
                   "a fresh copy of x) before the next.")
    # A one-sided difference (f(x + eps) - f(x)) / eps is off by about eps/2 * f''(x).
    h = 2 * np.sum((g - exact) * curvature) / np.sum(curvature * curvature)
    if relative_error(g, exact + h / 2 * curvature) < 1e-6:
        check.stop(f"the gradient has relative error {err:.1e}: it is a one-sided difference "
                   f"with eps = {fmt(abs(h))}.",
                   "use central differences, (f(x + eps) - f(x - eps)) / (2 eps): their error "
                   "shrinks as eps^2, not eps.")
    variants = [("divide f(x + eps) - f(x - eps) by 2 * eps, not by eps.", 2 * exact),
                ("divide f(x + eps) - f(x - eps) by 2 * eps, with parentheses: / (2 * eps).",
                 exact / 2),
                ("the difference is the wrong way round: f(x + eps) - f(x - eps), in that "
                 "order.", -exact)]
    variants.append(("grad += ... adds each entry's difference to the whole array, so every "
                     "entry holds their sum: store each in its own entry, grad[i] = ...",
                     np.full_like(exact, exact.sum())))
    if eps is not None:
        variants.append(("`/ 2 * eps` divides by 2 and then multiplies by eps: write "
                         "/ (2 * eps), with the parentheses.", exact * eps * eps))
    hint = next((h for h, v in variants if relative_error(g, v) < 1e-6), None)
    if hint is None and eps is not None:
        # With step h the central difference of sin is exactly cos(x) sin(h) / h: a match
        # means the formula is right and only the size of eps is not.
        central = w * np.cos(x) * np.sin(eps) / eps + x + COUPLING * np.sum(x)
        if eps > 1e-4 and relative_error(g, central) < 1e-9:
            hint = (f"the formula is right, but eps = {fmt(eps)} is too large: the error of a "
                    "central difference grows as eps^2. Use eps = 1e-5.")
        elif eps < 1e-8:
            hint = (f"eps = {fmt(eps)} is too small: f(x + eps) and f(x - eps) agree in almost "
                    "every digit, so their difference is mostly rounding. Use eps = 1e-5.")
    check.stop(problem + mismatch_text(g, exact), hint)


def _first_order_one_sided(calls):
    """True when every entry of x was moved once, by one step, all to the same side: a
    first-order one-sided difference (a second-order one, f(x + 2h) beside f(x + h), or any
    central scheme moves each entry by more than one step)."""
    steps = {}
    for _, d in calls:
        moved = np.flatnonzero(d)
        if moved.size == 1:
            steps.setdefault(int(moved[0]), set()).add(float(d.flat[moved[0]]))
    if not steps or any(len(s) != 1 for s in steps.values()):
        return False
    signs = {np.sign(next(iter(s))) for s in steps.values()}
    return len(signs) == 1


def _numgrad_hint(exc):
    if isinstance(exc, TypeError) and raised_in_learner_code(exc):
        return "f takes the array: call f(x_plus) with a perturbed copy of x."
    if "broadcast" in str(exc):
        return ("f takes an array shaped like x: if you flattened x to walk over it, reshape "
                "the perturbed copy back (x_plus.reshape(x.shape)) before calling f.")
    return None


def mismatch_text(got, expected):
    return mismatch(got, expected, "numerical_gradient(f, x)") or ""


def check_numerical_gradient(fn, *, verbose=True):
    """Check a hand-written ``fn(f, x)`` -> central-difference gradient of the scalar function
    f(x) at x, with the default eps of the learner's function, against the exact gradient
    (relative error below 1e-6). x must be left as it was, up to a rounding step (adding and
    subtracting eps is fine). Every call of f is recorded, so a failure names how x was
    perturbed (several entries at once, float32, an eps too large or too small); a first-order
    one-sided difference fails even when a tiny eps makes it accurate here. Returns a
    CheckResult (truthy when passed) and prints the verdict."""
    check_callable(fn)
    return run_check("numerical_gradient", _numgrad_body, fn, verbose=verbose)
