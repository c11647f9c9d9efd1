"""Checkers for chapter 5: the learner's ``LinearLayer`` and activation layers.

The learner's class keeps scratchnn's Layer contract (see ``scratchnn.layers``): ``forward(x)``,
``backward(grad_z)`` filling ``self.grads`` and returning dL/dx, ``params``/``grads`` dicts and
``update_params(learning_rate)``. Each checker runs the learner's layer and scratchnn's side by
side on the same random float64 inputs, then gradient-checks the learner's layer with finite
differences (``scratchnn.gradcheck``).
"""

from __future__ import annotations

import re

import numpy as np

from ..activations import leaky_relu, sigmoid
from ..layers import ACTIVATION_LAYERS, LinearLayer
from ._core import (
    as_numbers,
    check_class,
    check_kind,
    close,
    compare,
    describe,
    finite_difference_check,
    fmt,
    is_empty_body,
    narrowest_float,
    random_array,
    run_check,
    unchanged,
)
from .functions import ALPHA, SLOPE_NAMES, leaky_slope_problem, slope_argument

N_IN, N_OUT, BATCH = 4, 3, 5  # all different, so a transposed product cannot go unnoticed
LEARNING_RATE = 0.1

_IN_PLACE_GRAD = ("backward must not change grad_z in place (as `grad_z *= ...` or "
                  "`grad_z[mask] = 0` do): the caller still holds it. Compute a new array, "
                  "e.g. grad_z * mask.")


_OUTPUT_CHANGED = ("backward changed, in place, the array forward returned (e.g. `self.a *= 1 - "
                   "self.a` on the kept output): the next layer kept it as its input and the "
                   "loss as its prediction. Compute a new array: grad_z * self.a * (1 - self.a).")


def _backward_hint(exc):
    """For an attribute backward reads but nothing set: forward must keep it."""
    found = re.match(r"'(\w+)' object has no attribute '(\w+)'", str(exc))
    if isinstance(exc, AttributeError) and found and found.group(1) not in _NOT_LAYERS:
        return (f"backward reads self.{found.group(2)}, which nothing set: forward must keep "
                f"what backward needs, e.g. `self.{found.group(2)} = x` (or the output), before "
                "returning.")
    return None


# Objects that are not the learner's layer: their missing attributes mean something else.
_NOT_LAYERS = {"list", "tuple", "dict", "float", "int", "NoneType", "ndarray", "str"}


# -- steps shared by the layer checkers -----------------------------------------------------------
def _forward(check, layer, ref, x, variants=(), *, hint=None, error_hint=None,
             overflow_hint=None, on=None):
    """Compare layer.forward(x) with scratchnn's: (True when it matched, the output). ``hint``
    is given when the output is wrong in no recognised way, ``overflow_hint`` when it is also
    not finite (the evidence of an overflow), ``error_hint(exc)`` when forward raises."""
    before = x.copy()
    out = check.run(f"forward(x) with x of shape {x.shape}", layer.forward, x, hint=error_hint)
    _watch_precision(check, layer, out)
    unchanged(check, before, x, "the input x", "forward must not change x (the caller still "
              "holds it): build a new array, e.g. np.maximum(x, 0) instead of x[x < 0] = 0.")
    values = as_numbers(out)
    if overflow_hint and values is not None and not np.isfinite(values).all():
        hint = overflow_hint
    return compare(check, out, ref.forward(x), "forward(x)", variants, hint=hint, inputs=x,
                   on=on), out


def _backward(check, layer, ref, grad_z, variants=(), *, error_hint=None, kink=None,
              output=None, on=None):
    """Run layer.backward(grad_z) and compare the returned dL/dx with scratchnn's.

    ``kink = (index, lowest slope)`` marks an input where the derivative does not exist (ReLU
    at 0): any slope between the lowest and 1 is a valid subgradient there. ``output`` is what
    the last forward returned: backward must leave it as it was (the next layer kept it).
    Returns (returned value, True when it matched).
    """
    before = grad_z.copy()
    output_before = as_numbers(output)  # a copy, or None for what is not an array
    grads_before = {k: np.array(v, copy=True) for k, v in _grads(layer).items()}
    dx = check.run(f"backward(grad_z) with grad_z of shape {grad_z.shape}", layer.backward, grad_z,
                   returns=False, hint=error_hint or _backward_hint)
    unchanged(check, before, grad_z, "grad_z", _IN_PLACE_GRAD)
    if output_before is not None:
        unchanged(check, output_before, output, "the array forward returned", _OUTPUT_CHANGED)
    expected = ref.backward(before)
    if dx is None:
        untouched = all(close(_grads(layer).get(k), v, 0, 0) for k, v in grads_before.items())
        if untouched and is_empty_body(layer.backward):
            check.not_implemented("backward(grad_z): the body is still empty (it returns None).")
        check.fail("backward returned None; it must return dL/dx, which the layer before it "
                   "needs.", "end backward with `return ...` (the gradient with respect to x, "
                   f"{describe(expected)} like x).")
        return None, False
    got = as_numbers(dx)
    if kink is not None and got is not None and got.shape == expected.shape:
        index, low = kink
        slope = got[index] / before[index]
        if low <= slope <= 1:
            expected[index] = got[index]
    return dx, compare(check, dx, expected, "the returned dL/dx", variants, on=on)


def _grads(layer):
    grads = getattr(layer, "grads", None)
    return grads if isinstance(grads, dict) else {}


_ACCUMULATES = ("backward added this batch's gradient to the previous one (`+=`): each backward "
               "call must store the gradient of its own batch, self.grads[name] = ... (an "
               "optimizer reads it after every batch).")
_ZERO_GRAD = (" PyTorch's backward accumulates and zero_grad() clears the gradients, but here "
              "nothing calls zero_grad: the training loop and the optimizers read grads as "
              "backward left them.")


_SQUEEZED = ("on a batch of one sample the batch axis was dropped (np.squeeze, or a reshape "
             "to n values): keep (batch, n) shapes whatever the batch size, as SGD with "
             "batch_size=1 needs.")


def _second_round(check, layer, ref, seed):
    """Forward and backward again on a batch of one sample: the layer must use the new x, keep
    the batch axis, and store this batch's gradients, not add them to the last batch's."""
    previous = {k: np.array(v, dtype=np.float64) for k, v in _grads(layer).items()}
    x = random_array((1, N_IN), seed, scale=2.0)
    on = f"a second batch, x of shape {x.shape}"
    matched, out = _forward(check, layer, ref, x, [(_SQUEEZED, ref.forward(x).ravel())], on=on)
    if not matched:
        return False
    grad_z = random_array(ref.forward(x).shape, seed + 1)
    _, ok = _backward(check, layer, ref, grad_z, [(_SQUEEZED, ref.backward(grad_z).ravel())],
                      output=out, on=on)
    # PyTorch's backward accumulates and its zero_grad() clears: a layer that has one says so.
    accumulates = _ACCUMULATES + (_ZERO_GRAD if callable(getattr(layer, "zero_grad", None))
                                  else "")
    for name, expected in ref.grads.items():
        stale = previous.get(name)
        ok &= compare(check, _grads(layer).get(name), expected, f"grads[{name!r}]",
                      [(accumulates, None if stale is None else stale + expected)],
                      on=on)
    return ok


_SHARED = ("two layers of this class share what forward kept: the first one's backward used "
           "the second one's input. Keep it on the instance (self.x = x), not on the class "
           "({0}.x = ...), in a global or in a default argument: a network has several "
           "layers of each kind.")


def _own_state(check, build, reference, shape, seed):
    """Two layers built by ``build()``: forward on the first, forward on the second, backward
    on the first must use the first's input (state kept on the class or in a global would
    not). ``reference()`` builds scratchnn's layer with the same parameters."""
    first, second = build(), build()
    x, other = random_array(shape, seed, scale=2.0), random_array(shape, seed + 1, scale=2.0)
    ref = reference()
    out = ref.forward(x)
    grad_z = random_array(out.shape, seed + 2)
    check.run("forward(x) on a first layer", first.forward, x)
    check.run("forward(x) on a second layer of the same class", second.forward, other)
    dx = check.run("backward(grad_z) on the first layer", first.backward, grad_z, returns=False)
    expected = ref.backward(grad_z)
    ok = close(dx, expected, check.rtol, check.atol) and all(
        close(_grads(first).get(name), value, check.rtol, check.atol)
        for name, value in ref.grads.items())
    if ok:
        check.ok("two layers keep their own state")
    else:
        check.fail("with two layers of the class, the first layer's backward did not give its "
                   "own gradients once a second layer had run forward.",
                   _SHARED.format(type(first).__name__))
    return ok


def _watch_precision(check, layer, *arrays):
    """Tell the check when the learner's layer computes in float32 (its parameters, what it
    returns, or what it keeps, such as an input cast with x.astype(np.float32)): from then on
    it is judged at float32's precision, and told so."""
    check.low_precision(narrowest_float(*arrays, *_kept_arrays(layer)), type(layer).__name__)


def _kept_arrays(layer):
    """The arrays a layer holds: its parameters and its attributes (what forward kept)."""
    params = getattr(layer, "params", None)
    kept = list(params.values()) if isinstance(params, dict) else []
    return kept + [v for v in getattr(layer, "__dict__", {}).values() if isinstance(v, np.ndarray)]


_WRONG_FORMULA = "a gradient that disagrees with finite differences has a wrong formula."

_STALE = ("forward gave the same output again after x{} changed in place: it must compute from "
          "the arrays as they are at each call. A cache keyed on the input object (or its "
          "bytes) misses such changes, which the finite-difference check and every training "
          "step make.")


def _recomputes(check, layer, x):
    """forward on x, then on the same x object once x and the parameters have changed in
    place (as a gradient check does): the output must change too. True when it did."""
    x = x.copy()
    before = as_numbers(check.run("forward(x)", layer.forward, x))
    params = getattr(layer, "params", None)
    arrays = [p for p in (params.values() if isinstance(params, dict) else ())
              if isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable]
    saved = [p.copy() for p in arrays]
    x += random_array(x.shape, 18)  # not the same shift in every entry: softmax ignores that
    for p in arrays:
        p += random_array(p.shape, 19).astype(p.dtype)
    try:
        after = as_numbers(check.run("forward(x) after x changed in place", layer.forward, x))
    finally:
        for p, value in zip(arrays, saved, strict=True):
            p[...] = value
    if before is not None and close(after, before, 0, 0):
        check.fail("forward returned the output of its previous call after its input changed.",
                   _STALE.format(" and the parameters" if arrays else ""))
        return False
    return True


def _gradient_check(check, layer, x, in_float64=None):
    """Finite differences against the layer's backward. They are exact only in float64: a
    layer that computes in float32 (scratchnn's default) is rebuilt in float64 by
    ``in_float64()`` when it can be, else checked with float32-sized steps and tolerance."""
    out = check.run(f"{type(layer).__name__}.forward", layer.forward, x)
    _watch_precision(check, layer, out)
    narrow = check.narrow
    if narrow is not None and in_float64 is not None:
        wide = in_float64()
        if wide is not None and _computes_in_float64(wide, x):
            check.narrow = None  # only for the gradient check: the rebuilt layer is float64
            finite_difference_check(check, wide, x, what="the layer rebuilt with "
                                    "dtype=np.float64", blame=_WRONG_FORMULA)
            check.narrow = narrow
            return
    finite_difference_check(check, layer, x, what="the layer", blame=_WRONG_FORMULA)


def _computes_in_float64(layer, x):
    try:
        return narrowest_float(layer.forward(x), *_kept_arrays(layer)) == np.float64
    except Exception:  # noqa: BLE001 - the rebuilt learner's layer is only an option
        return False


def _in_float64(cls, values, *args):
    """A new ``cls(*args, dtype=np.float64)`` holding ``values``, or None if it takes no dtype
    or does not compute in float64."""
    try:
        layer = cls(*args, dtype=np.float64)
        for name, value in values.items():
            layer.params[name][...] = value
        layer.grads = {name: np.zeros_like(v) for name, v in values.items()}
        return layer
    except Exception:  # noqa: BLE001 - a learner's class may take no dtype at all
        return None


# -- building the learner's layer -----------------------------------------------------------------
def _build(check, cls, *args, **kwargs):
    """``cls(*args, **kwargs)``, the learner's constructor, as the check calls it."""
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return check.run(f"{cls.__name__}({shown})", cls, *args, **kwargs,
                     hint=lambda exc: _build_hint(exc, cls, shown))


def _build_hint(exc, cls, shown):
    """Why the exercise's way of building the layer failed: an argument without a default,
    or a read-only params/grads property that scratchnn.Layer's __init__ cannot set."""
    text = str(exc)
    # The class's own __init__ (or one it inherits) named by its qualified name.
    missing = re.match(r"[\w.<>]*__init__\(\) missing \d+ required [\w -]+?: (.+)", text)
    if isinstance(exc, TypeError) and missing:
        return (f"the check builds {cls.__name__}({shown}), as the exercise's __init__ "
                f"allows: give {missing.group(1)} a default, as the exercise's code does.")
    if isinstance(exc, TypeError) and re.match(r"[\w.<>]*__init__\(\) takes \d+ positional", text):
        return (f"the check builds {cls.__name__}({shown}), with the arguments of the "
                "exercise's __init__: keep them, in that order (a layer that learns its input "
                "size later, as Keras's build() does, cannot be checked before it has weights).")
    setter = re.match(r"property '(params|grads)' of .* has no setter", text)
    if isinstance(exc, AttributeError) and setter:
        return (f"scratchnn.Layer's __init__ sets self.params = {{}} and self.grads = {{}}, "
                f"which a property without a setter refuses: give {setter.group(1)} a setter, "
                f"or keep a dict holding the arrays themselves (self.params = {{'W': self.W, "
                f"'b': self.b}}).")
    return None


# -- LinearLayer ----------------------------------------------------------------------------------
_COPIES = ("forward and backward use copies of the parameters kept apart from self.params (such "
           "as self.W = self.params['W'].copy()): update_params, the optimizers and this check "
           "change self.params, which the copies never see. Read self.params['W'] and "
           "self.params['b'], or make self.W the same array (no .copy()).")


def _copied_parameters(layer, W, b):
    """(W', b') pairs a forward reading the layer's own arrays instead of its params would use:
    arrays it holds with W's or b's shape that are not the arrays in self.params."""
    params = getattr(layer, "params", None)
    in_params = {id(v) for v in params.values()} if isinstance(params, dict) else set()
    held = [v for v in getattr(layer, "__dict__", {}).values()
            if isinstance(v, np.ndarray) and id(v) not in in_params]
    weights = [v.astype(np.float64) for v in held if v.shape == W.shape]
    biases = [v.astype(np.float64) for v in held if v.shape == b.shape]
    return [(w, c) for w in weights for c in [*biases, b]] + [(W, c) for c in biases]


def _set_params(check, layer, values):
    """Put float64 ``values`` into layer.params (in place when shapes and dtype allow, so that
    aliases such as ``self.W = self.params["W"]`` see them) and zero gradients into grads."""
    params = getattr(layer, "params", None)
    if not isinstance(params, dict) or set(values) - set(params):
        got = (f"a dict with keys {sorted(params)}" if isinstance(params, dict) else
               type(params).__name__)
        lazy = (" Make them in __init__, not in the first forward (as Keras's build() does): "
                "they are read before any forward." if params == {} else "")
        check.stop(f"the layer's params should be a dict with keys {sorted(values)}, got {got}.",
                   "keep the parameters in self.params['W'] (n_in, n_out) and "
                   "self.params['b'] (1, n_out): optimizers and the checkers look there." + lazy)
    for name, value in values.items():
        current = params[name]
        if isinstance(current, np.ndarray) and current.shape != value.shape:
            torch = (" PyTorch's nn.Linear keeps W as (n_out, n_in) and computes x @ W.T; here "
                     "W is (n_in, n_out) and z = x @ W + b." if current.shape == value.shape[::-1]
                     and len(value.shape) == 2 and name == "W" else "")
            check.stop(f"params[{name!r}] has shape {current.shape} after __init__, expected "
                       f"{value.shape}.", "W is (n_in, n_out) so that x @ W works on a batch "
                       "x (batch, n_in); b is (1, n_out), one bias per output." + torch)
        if isinstance(current, np.ndarray) and current.dtype.kind == "f":
            current[...] = value  # in its own dtype: float32 stays float32
        else:
            # The check goes on with float values, but the layer as built cannot train.
            kind = (f"an array of {current.dtype}" if isinstance(current, np.ndarray)
                    else f"a {type(current).__name__}")
            check.fail(f"params[{name!r}] is {kind} after __init__, not an array of floats.",
                       "build the parameters as float arrays (np.zeros((1, n_out)), not "
                       "dtype=int nor a list): the update p -= learning_rate * grad must change "
                       "them in place, which an integer array or a list cannot take.")
            params[name] = value.copy()
    put_grads(layer, {name: np.zeros_like(value) for name, value in values.items()})


def put_grads(layer, values):
    """Put float64 ``values`` into layer.grads: into the arrays it already holds when shapes
    allow, so that a layer whose update_params reads its own aliases of them (self.dW, or
    grads built as a property from self.dW) sees them too; else as new entries."""
    grads = getattr(layer, "grads", None)
    if not isinstance(grads, dict):
        layer.grads = grads = {}
    for name, value in values.items():
        current = grads.get(name)
        if (isinstance(current, np.ndarray) and current.shape == value.shape
                and current.dtype.kind == "f" and current.flags.writeable):
            current[...] = value
        else:
            grads[name] = value.copy()


def _linear_body(check, cls):
    layer = _build(check, cls, N_IN, N_OUT)
    rng = np.random.default_rng(6)
    W, b = rng.normal(size=(N_IN, N_OUT)), rng.normal(size=(1, N_OUT))
    _set_params(check, layer, {"W": W, "b": b})
    _watch_precision(check, layer)
    # The values as the layer holds them (rounded, if it keeps float32): the reference uses them.
    W, b = (np.array(layer.params[name], dtype=np.float64) for name in ("W", "b"))
    ref = _reference_linear(W, b)

    x = random_array((BATCH, N_IN), 7)
    matmul = (f"x is {x.shape} and W is {W.shape}: z = x @ W + b, (batch, n_in) @ (n_in, n_out);"
              " W @ x does not fit.")
    copies = _copied_parameters(layer, W, b)
    matched, out = _forward(check, layer, ref, x,
                            [("the bias is missing: z = x @ W + b.", x @ W),
                             ("the bias is subtracted: z = x @ W + b.", x @ W - b)]
                            + [(_COPIES, x @ W_ + b_) for W_, b_ in copies],
                            error_hint=lambda exc: matmul if "matmul" in str(exc) else None)
    if matched:
        check.ok(f"forward: x @ W + b on x of shape {x.shape}")

    grad_z = random_array((BATCH, N_OUT), 8)
    shapes = (f"With x {x.shape}, grad_z {grad_z.shape} and W {W.shape}: dL/dW = x.T @ grad_z "
              f"{W.shape}, dL/db = grad_z.sum(axis=0, keepdims=True) {b.shape}, dL/dx = "
              f"grad_z @ W.T {x.shape}; x @ grad_z (without .T) cannot work.")
    dx, ok = _backward(check, layer, ref, grad_z,
                       [("dL/dx must have x's shape (batch, n_in): grad_z @ W.T.",
                         (grad_z @ W.T).T)] + [(_COPIES, grad_z @ W_.T) for W_, _ in copies],
                       error_hint=lambda e: shapes if "matmul" in str(e) else _backward_hint(e),
                       output=out)
    ok &= _weight_gradient(check, layer, ref, x, grad_z)
    ok &= _bias_gradient(check, layer, ref, grad_z)
    ok &= _params_kept(check, layer, {"W": W, "b": b})
    if ok:
        check.ok("backward: dL/dW = x.T @ grad_z, dL/db = sum of grad_z over the batch, "
                 "dL/dx = grad_z @ W.T")
    if ok and matched:  # a wrong forward would only be reported again on the second batch
        if _second_round(check, layer, ref, 9):
            check.ok("forward and backward again on a batch of 1")

            def build():
                other = _build(check, cls, N_IN, N_OUT)
                _set_params(check, other, {"W": W, "b": b})
                return other

            _own_state(check, build, lambda: _reference_linear(W, b), (BATCH, N_IN), 16)

    _update(check, layer, W, b)
    if not check.messages:
        _set_params(check, layer, {"W": W, "b": b})
        if _recomputes(check, layer, x):
            _gradient_check(check, layer, x,
                            lambda: _in_float64(cls, {"W": W, "b": b}, N_IN, N_OUT))


def _reference_linear(W, b):
    ref = LinearLayer(*W.shape, dtype=np.float64)
    ref.params["W"][...], ref.params["b"][...] = W, b
    return ref


def _params_kept(check, layer, values):
    """backward computes gradients; a layer that also updates its parameters there (then
    again in update_params, or with a rate of its own) breaks every optimizer."""
    params = getattr(layer, "params", None) or {}
    if all(close(params.get(name), value, 0, 0) for name, value in values.items()):
        return True
    check.fail("backward changed the layer's parameters.",
               "backward only computes the gradients (self.grads) and returns dL/dx; changing "
               "the parameters is update_params's job, which the training loop (or an optimizer) "
               "calls after backward.")
    return False


def _weight_gradient(check, layer, ref, x, grad_z):
    expected = ref.grads["W"]
    variants = [("did you compute grad_z.T @ x instead of x.T @ grad_z?", expected.T),
                ("dL/dW was divided by the batch size: x.T @ grad_z already sums over the batch, "
                 "and grad_z (from the loss) already carries the 1/batch of the mean.",
                 expected / BATCH),
                ("grads['W'] is still all zeros: backward must store dL/dW = x.T @ grad_z in "
                 "self.grads['W'].", np.zeros_like(expected))]
    return compare(check, _grads(layer).get("W"), expected, "grads['W']", variants,
                   hint="dL/dW = x.T @ grad_z, where x is the input saved by forward.")


def _bias_gradient(check, layer, ref, grad_z):
    expected = ref.grads["b"]
    wrong_axis = ("sum over axis 0 (the batch), not axis 1: one gradient per bias, "
                  "grad_z.sum(axis=0, keepdims=True).")
    variants = [("missing bias gradient: grads['b'] is still all zeros. dL/db = "
                 "grad_z.sum(axis=0, keepdims=True).", np.zeros_like(expected)),
                ("b has shape (1, n_out), so its gradient must too: "
                 "grad_z.sum(axis=0, keepdims=True).", expected.ravel()),
                ("the bias gradient was averaged instead of summed: sum grad_z over the batch "
                 "(grad_z already carries the loss's 1/batch).", expected / BATCH),
                ("the bias gradient was averaged instead of summed, and needs keepdims=True.",
                 expected.ravel() / BATCH),
                ("sum grad_z over the batch: dL/db = grad_z.sum(axis=0, keepdims=True).", grad_z),
                (wrong_axis, grad_z.sum(axis=1, keepdims=True)), (wrong_axis, grad_z.sum(axis=1))]
    got = _grads(layer).get("b")
    hint = ("missing bias gradient: backward must store dL/db = grad_z.sum(axis=0, "
            "keepdims=True) in self.grads['b']." if got is None else None)
    if got is not None and np.size(got) == 1 and expected.size > 1:
        hint = ("sum over the batch axis only, grad_z.sum(axis=0, keepdims=True): one gradient "
                "per bias, not one number for all of them.")
    return compare(check, got, expected, "grads['b']", variants, hint=hint)


def _update(check, layer, W, b):
    """update_params(lr) must do p <- p - lr * dL/dp for every parameter."""
    rng = np.random.default_rng(10)
    gW, gb = rng.normal(size=W.shape), rng.normal(size=b.shape)
    _set_params(check, layer, {"W": W, "b": b})
    put_grads(layer, {"W": gW, "b": gb})
    check.run(f"update_params({LEARNING_RATE})", layer.update_params, LEARNING_RATE,
              returns=False)
    ok = True
    values = {"W": (W, gW), "b": (b, gb)}
    moved = {name for name, (p, _) in values.items() if not close(layer.params.get(name), p)}
    for name, (p, g) in values.items():
        got = layer.params.get(name)
        if close(got, p) and is_empty_body(layer.update_params):
            check.not_implemented("update_params: the body is still empty.")
        unchanged_hint = (
            f"update_params changed {', '.join(sorted(moved))} but not {name}: update every "
            "parameter, for name in self.params." if moved else
            f"params[{name!r}] did not change. `p = p - lr * g` only rebinds a local name; write "
            "p -= lr * g (in place) or assign to self.params[name].")
        variants = [("update_params adds the gradient: gradient descent subtracts it, "
                     "p -= learning_rate * grad (the gradient points uphill).",
                     p + LEARNING_RATE * g),
                    ("multiply the gradient by the learning rate: p -= learning_rate * grad.",
                     p - g),
                    (unchanged_hint, p)]
        ok &= compare(check, got, p - LEARNING_RATE * g, f"params[{name!r}] after update_params",
                      variants, hint=_rate_hint(got, p, g))
    if ok:
        check.ok("update_params: p -= learning_rate * grad for W and b")


def _rate_hint(got, before, g):
    """update_params that moved p by c * learning_rate * grad: a rate of its own."""
    step, unit = as_numbers(got), -LEARNING_RATE * g
    if step is None or step.shape != unit.shape:
        return None
    step = step - before
    c = float(np.sum(step * unit) / np.sum(unit * unit))
    if c == 0 or not close(step, c * unit, rtol=1e-6, atol=1e-12):
        return None
    return (f"the parameters moved {fmt(c)} times learning_rate * grad: step with the "
            "learning_rate update_params is given, p -= learning_rate * grad (not a rate of "
            "the layer's own).")


def check_linear_layer(cls, *, verbose=True):
    """Check the learner's fully connected layer class ``cls(n_in, n_out)``.

    forward (x @ W + b), backward (grads['W'], grads['b'] and the returned dL/dx, leaving
    grad_z and forward's output as they were) and update_params against
    ``scratchnn.LinearLayer`` on random float64 inputs, a second batch of one sample (its
    gradients must replace the first's, not add to them; the batch axis stays), two layers of
    the class keeping their own state, a forward that sees its input and parameters changed
    in place, then a finite-difference gradient check. The parameters must be float arrays
    in self.params from __init__ on. A layer that
    keeps float32 parameters (or a float32 copy of its input) is judged at float32's precision
    and told so; its gradient check is exact if it can be rebuilt with dtype=np.float64, else
    done with float32-sized steps. Returns a CheckResult (truthy when passed) and prints it.
    """
    check_class(cls)
    return run_check(cls.__name__, _linear_body, cls, verbose=verbose)


# -- activation layers ----------------------------------------------------------------------------
_ACTIVATION_KINDS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")


_FROM_GRAD = ("the derivative was computed from grad_z: it depends on the layer's output a, "
              "which forward keeps (self.a = ...): dL/dx = grad_z * {}.")


def _forward_variants(kind, x, alpha):
    """(hint, output) for typical wrong forward passes of activation layer ``kind``."""
    if kind == "sigmoid":
        return [("the sign of the exponent is flipped: sigmoid(x) = 1 / (1 + np.exp(-x)).",
                 sigmoid(-x))]
    if kind == "leaky_relu":
        return [("below 0 the output is alpha * x, not alpha.", np.where(x > 0, x, alpha))]
    if kind != "softmax":
        return []
    e = np.exp(x - x.max())
    return [("the softmax was normalised over the whole batch: each row (one sample) sums to 1, "
             "e / e.sum(axis=1, keepdims=True).", e / e.sum()),
            ("the softmax was normalised over axis 0, the batch: each row (one sample) sums to "
             "1, e / e.sum(axis=1, keepdims=True).", e / e.sum(axis=0, keepdims=True))]


def _activation_variants(kind, x, g, alpha):
    """(hint, dL/dx) for typical wrong backward passes of activation layer ``kind``."""
    from_grad = ("the mask was taken from grad_z: whether the gradient passes depends on the "
                 "layer's input x (kept by forward), so use grad_z * (self.x > 0).")
    if kind == "relu":
        return [("for x > 0 the derivative is 1, not x: use grad_z * (x > 0).",
                 g * np.maximum(x, 0)),
                ("the gradient must be zero where x < 0: grad_z * (x > 0).", g),
                ("the mask is flipped: the gradient passes where x > 0.", g * (x < 0)),
                (from_grad, g * (g > 0)), (from_grad, np.maximum(g, 0)),
                ("np.sign(x) is -1 for x < 0, where relu is flat: multiply by (x > 0), "
                 "not np.sign(x).", g * np.sign(x))]
    if kind == "leaky_relu":
        return [("where x < 0 the gradient is alpha * grad_z, not 0.", g * (x > 0)),
                ("where x < 0 the gradient is scaled by alpha.", g),
                (from_grad, np.where(g > 0, g, alpha * g)),
                ("the slopes are swapped: grad_z where x > 0, alpha * grad_z where x < 0.",
                 np.where(x > 0, alpha * g, g)),
                ("the derivative is 1 or alpha, not x or alpha * x.", g * np.where(x > 0, x,
                                                                              alpha * x))]
    if kind == "sigmoid":
        a = sigmoid(x)
        return [("the derivative of sigmoid was taken on the output twice: with the stored "
                 "output a = sigmoid(x), dL/dx = grad_z * a * (1 - a). Calling sigmoid(a, "
                 "derivative=True) computes sigmoid'(sigmoid(x)).",
                 g * sigmoid(a) * (1 - sigmoid(a))),
                 ("x * (1 - x) needs the output a = sigmoid(x), not the input x.", g * x * (1 - x)),
                ("a factor is missing: dL/dx = grad_z * a * (1 - a) with a = sigmoid(x).",
                 g * (1 - a)),
                ("the output a was passed on instead of multiplying by a * (1 - a).", g * a),
                (_FROM_GRAD.format("a * (1 - a)"), g * g * (1 - g))]
    if kind == "tanh":
        a = np.tanh(x)
        return [("the derivative of tanh was taken on the output twice: with the stored output "
                 "a = tanh(x), dL/dx = grad_z * (1 - a ** 2).", g * (1 - np.tanh(a) ** 2)),
                ("1 - x ** 2 needs the output a = tanh(x), not the input x.", g * (1 - x * x)),
                ("the square is missing: tanh' = 1 - a ** 2 with a = tanh(x), not 1 - a.",
                 g * (1 - a)),
                ("square a, not the difference: 1 - a ** 2, not (1 - a) ** 2.",
                 g * (1 - a) ** 2),
                (_FROM_GRAD.format("(1 - a ** 2)"), g * (1 - g * g))]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    return [("the result is all zeros, as from J.sum(axis=1): each row of the softmax Jacobian "
             "J = diag(s) - s s^T sums to 0. The backward pass is the product J @ grad_z for "
             "each sample, i.e. s * (grad_z - sum(grad_z * s, axis=1, keepdims=True)).",
             np.zeros_like(x)),
            ("that is only the diagonal of the Jacobian, s (1 - s); the off-diagonal terms "
             "-s_i s_j matter too: dL/dx = s * (grad_z - sum(grad_z * s, axis=1, "
             "keepdims=True)).", g * s * (1 - s)),
            ("the sum must be weighted by s: dL/dx = s * (grad_z - sum(grad_z * s, axis=1, "
             "keepdims=True)).", s * (g - g.sum(axis=1, keepdims=True))),
            ("the sum is over each row (one sample), axis=1 with keepdims=True: "
             "s * (grad_z - sum(grad_z * s, axis=1, keepdims=True)).",
             s * (g - np.sum(g * s, axis=0, keepdims=True))),
            ("grad_z passed through unchanged: the softmax's Jacobian must multiply it.", g)]


def _softmax_hint(exc):
    """A (batch, batch) array in the error: <g, s> taken as grad_z @ s.T, every row with every
    row, instead of one number per row."""
    if f"({BATCH},{BATCH})" in str(exc).replace(" ", ""):
        return ("<g, s> is one number per row (sample): np.sum(grad_z * s, axis=1, "
                "keepdims=True). grad_z @ s.T (or np.dot) pairs every row with every other, "
                f"a ({BATCH}, {BATCH}) array.")
    return _backward_hint(exc)


def _activation_body(check, cls, kind):
    layer = _build(check, cls)
    alpha = _layer_slope(layer) if kind == "leaky_relu" else None
    if alpha is not None:
        leaky_slope_problem(check, "alpha", alpha)
    ref = ACTIVATION_LAYERS[kind](alpha) if alpha is not None else ACTIVATION_LAYERS[kind]()

    x = random_array((BATCH, N_IN), 11, scale=2.0)
    x[0, 0] = 0.0
    forward_ok, out = _forward(check, layer, ref, x, _forward_variants(kind, x, alpha))
    if forward_ok:
        check.ok(f"forward on x of shape {x.shape}")
    if forward_ok and kind in ("sigmoid", "tanh", "softmax"):
        big = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1001.0, 1002.0]])
        hint = ("e^1000 overflows: subtract each row's maximum before np.exp (softmax does not "
                "change)." if kind == "softmax" else f"use a stable formula: scratchnn.{kind} "
                "or np.exp(-np.abs(x)).")
        if _forward(check, layer, ref, big, overflow_hint=hint)[0]:
            check.ok("forward at inputs of +-1000")
        # Back to the batch the backward pass below is about.
        out = check.run("forward(x)", layer.forward, x)
        ref.forward(x)

    grad_z = random_array((BATCH, N_IN), 12)
    kink = ((0, 0), alpha or 0.0) if kind in ("relu", "leaky_relu") else None
    dx, ok = _backward(check, layer, ref, grad_z, _activation_variants(kind, x, grad_z, alpha),
                       kink=kink, output=out, error_hint=_softmax_hint if kind == "softmax"
                       else None)
    if ok:
        check.ok(f"backward: dL/dx on grad_z of shape {grad_z.shape}")
        if _second_round(check, layer, ref, 13):
            check.ok("forward and backward again on a batch of 1")
            _own_state(check, lambda: _build(check, cls), lambda: (
                ACTIVATION_LAYERS[kind](alpha) if alpha is not None else
                ACTIVATION_LAYERS[kind]()), (BATCH, N_IN), 17)
    if not check.messages and _recomputes(check, layer, x[1:]):
        _gradient_check(check, layer, x[1:])
    if kind == "leaky_relu" and not check.messages:
        _layer_slope_is_used(check, cls, alpha)


def _layer_slope(layer):
    """The slope a LeakyReLU layer keeps (self.alpha, self.negative_slope, ...), else its
    constructor's default (kept under another name, self.leak = alpha), else 0.01."""
    for name in SLOPE_NAMES:
        value = getattr(layer, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    _, default = slope_argument(type(layer))
    return ALPHA if default is None else default


def _layer_slope_is_used(check, cls, alpha):
    """A LeakyReLU layer built with another slope must use it, not a constant in its body."""
    name, _ = slope_argument(cls)
    if name is None:
        return
    other = 0.2 if alpha != 0.2 else 0.1
    layer = _build(check, cls, **{name: other})
    ref = ACTIVATION_LAYERS["leaky_relu"](other)
    x = random_array((BATCH, N_IN), 14, scale=2.0)
    ignored = (f"the layer ignores its {name}: keep it (self.{name} = {name}) and use it in "
               f"forward and backward, not a fixed {fmt(alpha)}.")
    ok, _ = _forward(check, layer, ref, x, [(ignored, leaky_relu(x, alpha))])
    grad_z = random_array((BATCH, N_IN), 15)
    _, ok_back = _backward(check, layer, ref, grad_z,
                           [(ignored, np.where(x > 0, grad_z, alpha * grad_z))])
    if ok and ok_back:
        check.ok(f"uses the {name} it is built with ({name}={other})")


def check_activation_layer(cls, kind, *, verbose=True):
    """Check the learner's activation layer class ``cls()`` against scratchnn's layer ``kind``:
    "relu", "leaky_relu" (the slope read from the layer's alpha, negative_slope or slope,
    default 0.01; a layer built with another slope must use it), "sigmoid", "tanh" or
    "softmax". forward (also at +-1000 where that can overflow), backward (dL/dx; grad_z and
    forward's output must not change), again on a batch of one sample, two layers of the class
    keeping their own state, a forward that sees its input changed in place, and a
    finite-difference gradient check. A layer that computes in float32 is judged at float32's
    precision and told so. Returns a CheckResult and prints it."""
    check_class(cls)
    check_kind(kind, _ACTIVATION_KINDS)
    return run_check(f"{cls.__name__} ({kind})", _activation_body, cls, kind, verbose=verbose)
