"""Checkers for chapter 11: the L2 penalty and an inverted ``DropoutLayer``.

``check_l2_penalty`` compares the learner's ``l2_penalty(weights, lam)`` with the penalty
lam / 2 * sum(||W||^2) and its gradient lam * W on lists of arrays of several shapes and dtypes,
and lam = 0, each through the same case; a wrong answer is matched against the usual mistakes.

``check_dropout_layer`` judges the learner's dropout by its behaviour, never by one random
stream: over 100,000 entries the share of zeros must be p within a few standard deviations,
every kept entry must be x / (1 - p), the mask must differ from sample to sample and from call
to call, backward must reuse the forward pass's mask (also on x with zeros, as after a ReLU, and
with a second layer's forward in between), and evaluation mode (and p = 0) must be the identity.
"""

from __future__ import annotations

import numpy as np

from ._core import (
    as_numbers,
    check_callable,
    check_class,
    close,
    compare,
    describe,
    fmt,
    is_empty_body,
    random_array,
    run_check,
    unchanged,
)

# -- l2_penalty -----------------------------------------------------------------------------------
_IN_PLACE = ("l2_penalty must not change the weights (as `W *= lam` does): build new arrays, "
             "e.g. lam * W.")


def _l2_body(check, fn):
    rng = np.random.default_rng(110)
    cases = [
        ([rng.normal(size=(4, 3)), rng.normal(size=(3, 2))], 0.1, 1e-7),
        # Three arrays, one float32 and a vector: no fixed count of layers, shape or dtype.
        ([rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(4, 4)),
          rng.normal(size=(6,))], 0.03, 1e-5),
    ]
    # lam = 0 is judged like any other lam: an early `return 0.0, []` is told it lost the list.
    cases.append(([w.copy() for w in cases[0][0]], 0.0, 1e-7))
    for weights, lam, rtol in cases:
        if not _l2_case(check, fn, weights, lam, rtol):
            return


def what_it_is(out):
    """'an array of shape (2, 3)', 'the number 0.5' or the type's name, for messages."""
    return describe(out) if as_numbers(out) is not None else type(out).__name__


def _pair(check, out, what):
    """``out`` unpacked as (value, list of gradients); ends the check when it is not that."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        check.stop(f"{what} returned {what_it_is(out)}, expected a pair (value, grads).",
                   "return both: `return value, grads`, with grads a list holding one array per "
                   "weight array.")
    value, grads = out
    if hasattr(grads, "__next__"):  # a generator or map: as good as a list once it is read
        grads = list(grads)
    number = as_numbers(value)
    if number is not None and number.size == 1:
        value = number.reshape(())  # np.sum(..., keepdims=True) is still one number
    if not isinstance(grads, (list, tuple)):
        check.stop(f"the gradients returned by {what} are {type(grads).__name__}, expected a list "
                   "with one array per weight array.",
                   "grads = [lam * W for W in weights].")
    return value, grads


def _l2_case(check, fn, weights, lam, rtol):
    copies = [w.copy() for w in weights]
    originals = list(weights)
    shapes = ", ".join(str(w.shape) for w in weights)
    what = f"l2_penalty(weights, {lam}) on {len(weights)} arrays of shapes {shapes}"
    out = check.run(what, fn, weights, lam)
    if [id(w) for w in weights] != [id(w) for w in originals]:
        check.fail(f"the list weights was changed: it held {len(originals)} arrays, it holds "
                   f"{len(weights)} after the call.",
                   "read the list without changing it (for W in weights: ...); pop, append or "
                   "remove change the caller's list.")
    for i, (w, c) in enumerate(zip(originals, copies, strict=True)):
        unchanged(check, c, w, f"weights[{i}]", _IN_PLACE)
    if (isinstance(out, (tuple, list)) and len(out) == 2 and as_numbers(out[1]) is not None
            and np.size(out[1]) == 1 and isinstance(out[0], (list, tuple))):
        check.stop(f"{what} returned (grads, value): the list first, the number second.",
                   "return the pair in the order (value, grads).")
    value, grads = _pair(check, out, what)
    squares = [float(np.sum(c.astype(np.float64) ** 2)) for c in copies]
    expected = lam / 2 * sum(squares)
    per_array = as_numbers(value)
    if (per_array is not None and per_array.shape == (len(copies),) and len(copies) > 1
            and close(per_array, [lam / 2 * q for q in squares], rtol=rtol)):
        check.stop(f"the penalty ({what}) is a list of {len(copies)} numbers, one per array.",
                   "the penalty is one number: add up the arrays' penalties, lam / 2 * "
                   "sum(np.sum(W ** 2) for W in weights).")
    value_variants = [
        ("the penalty is lam / 2 * sum(W ** 2): with the 1/2, its gradient is exactly lam * W "
         "(the convention of SGD(weight_decay=lam)).", lam * sum(squares)),
        ("sum the squares over every weight array, not only the last.", lam / 2 * squares[-1]),
        ("sum the squares over every weight array, not only the first.", lam / 2 * squares[0]),
        ("the penalty sums the squared weights; np.mean divides by their number.",
         lam / 2 * sum(float(np.mean(c.astype(np.float64) ** 2)) for c in copies)),
        ("square the norm: ||W||^2 = np.sum(W ** 2); np.linalg.norm(W) alone is its root.",
         lam / 2 * sum(np.sqrt(squares))),
        ("np.linalg.norm(W, 2) of a matrix is its largest singular value; ||W||^2 here is the "
         "sum of the squared entries, np.sum(W ** 2) (np.linalg.norm(W) ** 2, the default "
         "Frobenius norm).", lam / 2 * sum(float(np.linalg.norm(c.astype(np.float64), 2)) ** 2
                                          for c in copies)),
        ("that is the L1 penalty (absolute values); L2 sums the squares: lam / 2 * "
         "np.sum(W ** 2).", lam / 2 * sum(float(np.sum(np.abs(c))) for c in copies)),
        ("multiply by lam: the penalty is lam / 2 * sum(W ** 2).", sum(squares) / 2),
        ("add up the arrays' penalties: a mean over the arrays divides the sum by their number.",
         lam / 2 * sum(squares) / len(squares)),
        ("square each entry, then sum: np.sum(W ** 2), not np.sum(W) ** 2.",
         lam / 2 * sum(float(np.sum(c.astype(np.float64))) ** 2 for c in copies)),
        ("every array in weights is penalised, the 1-D ones too: the text's sum runs over all "
         "of them.", lam / 2 * sum(q for q, c in zip(squares, copies, strict=True)
                                   if c.ndim > 1)),
    ]
    ok = compare(check, value, expected, f"the penalty ({what})", value_variants, rtol=rtol,
                 hint="the penalty is lam / 2 * (sum over the arrays of np.sum(W ** 2)).")
    if len(grads) != len(copies):
        check.stop(f"{len(grads)} gradients for {len(copies)} weight arrays.",
                   "one gradient per weight array, in the same order: [lam * W for W in weights].")
    in_order = all(close(g, lam * c, rtol=rtol) for g, c in zip(grads, copies, strict=True))
    if not in_order and all(close(g, lam * c, rtol=rtol)
                            for g, c in zip(grads[::-1], copies, strict=True)):
        check.stop(f"the gradients of {what} are in reverse order: grads[0] belongs to the last "
                   "array.", "one gradient per weight array, in the same order as weights: "
                   "[lam * W for W in weights].")
    for i, (g, c) in enumerate(zip(grads, copies, strict=True)):
        c = c.astype(np.float64)
        variants = [
            ("the gradient of lam / 2 * w ** 2 is lam * w: the 1/2 cancels the 2.", 2 * lam * c),
            ("multiply by lam: the gradient is lam * W.", c),
            ("the gradient of lam / 2 * w ** 2 is lam * w, not lam / 2 * w.", lam / 2 * c),
            ("that is the L1 gradient, lam * sign(W); for L2 it is lam * W.", lam * np.sign(c)),
            ("multiply by lam once: the gradient is lam * W, not lam ** 2 * W.", lam ** 2 * c),
            ("that is the decayed weight (1 - lam) * W a step would leave; the gradient itself "
             "is lam * W.", (1 - lam) * c),
            ("every array in weights is penalised, the 1-D ones too: its gradient is lam * W.",
             np.zeros_like(c) if c.ndim == 1 and lam else None),
        ]
        if (as_numbers(g) is not None and np.shape(g) != c.shape
                and close(np.ravel(g), np.ravel(lam * c), rtol=rtol)):
            check.fail(f"grads[{i}] holds the right numbers in shape {np.shape(g)}, expected "
                       f"its weight array's shape {c.shape}.",
                       "keep each gradient in the shape of its array: lam * W, not flattened.")
            ok = False
            continue
        ok &= compare(check, g, lam * c, f"grads[{i}]", variants, rtol=rtol,
                      hint="the gradient of the penalty with respect to W is lam * W.")
    if ok:
        check.ok(f"{what}: value lam / 2 * sum(W ** 2) and gradients lam * W")
    return ok


def check_l2_penalty(fn, *, verbose=True):
    """Check the learner's ``l2_penalty(weights, lam) -> (value, grads)``: ``weights`` a list of
    arrays, value = lam / 2 * sum of np.sum(W ** 2) over them, grads = [lam * W, ...] (one array
    per weight array, the weights left unchanged). Several lists (float32 and float64, matrices
    and a vector) and lam = 0. Returns a CheckResult (truthy when passed) and prints it."""
    check_callable(fn)
    return run_check(getattr(fn, "__name__", "l2_penalty"), _l2_body, fn, verbose=verbose)


# -- DropoutLayer ---------------------------------------------------------------------------------
P = 0.25  # 1/(1-p), 1/p, 1-p and p all differ, so each scaling mistake shows
ROWS, COLS = 400, 250  # 100,000 entries: the share of zeros is p to within about 0.0014
SIGMAS = 6  # a correct layer fails the statistical tests about once in 10^9 runs

_MASK = ("draw the mask in forward: mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p), "
         "keep it as self.mask, and return x * mask.")


def _mask_statistics(check, out, again=None):
    """Judge one training-mode output on x of ones: share of zeros, kept values, independence.
    ``again()`` gives another output, on a small x, to tell one draw per call from none.
    Returns the zeros' pattern, or None when a problem was recorded."""
    out = as_numbers(out)
    zeros = out == 0
    kept = out[~zeros]
    scale = 1 / (1 - P)
    if kept.size and not np.allclose(kept, kept[0], rtol=1e-5):
        check.stop(f"the kept entries of the output on x of ones take {len(np.unique(kept))} "
                   f"different values (from {fmt(kept.min())} to {fmt(kept.max())}); each should "
                   f"be 1 / (1 - p) = {fmt(scale)}.",
                   "the mask holds only 0 and 1 / (1 - p): compare the random numbers with p "
                   "(rng.random(x.shape) >= p) instead of multiplying x by them.")
    if zeros.all() or not zeros.any():
        # Whole outputs dropped by some calls and kept by others: one draw per call.
        shares = {float(np.mean(as_numbers(again()) == 0)) for _ in range(60)} if again else ()
        one_draw = {0.0, 1.0} <= shares
        check.stop(f"forward in training mode (p = {P}) zeroed {'all' if zeros.all() else 'none'} "
                   f"of {zeros.size:,} entries" + (", and other calls the opposite." if one_draw
                                                    else "."),
                   "one random number for the whole of x drops all of it or nothing: draw one "
                   "per entry, rng.random(x.shape)." if one_draw else
                   "while self.training is True, each entry is zeroed with probability p: "
                   + _MASK)
    # A mask shared by the samples (or by a sample's entries) has far fewer independent draws:
    # named before the share of zeros, which it would throw off.
    if (zeros == zeros[0]).all():
        check.stop("every sample got the same mask: the same features are dropped in the whole "
                   "batch.", "draw one random number per entry of x: rng.random(x.shape).")
    if (zeros == zeros[:, :1]).all():
        check.stop("each sample is dropped or kept as a whole, not entry by entry.",
                   "draw one random number per entry of x: rng.random(x.shape).")
    variants = {1.0: "scale the kept entries by 1 / (1 - p) (inverted dropout): then the expected "
                     "output equals x, and evaluation needs no change.",
                1 - P: "divide the kept entries by (1 - p), not multiply: inverted dropout scales "
                       "them up so that the expected output stays x.",
                1 / P: "divide by 1 - p, the probability of keeping an entry, not by p."}
    got = float(kept[0])
    if not np.isclose(got, scale, rtol=1e-5):
        hint = next((h for v, h in variants.items() if np.isclose(got, v, rtol=1e-5)), None)
        check.fail(f"on x of ones, the kept entries are {fmt(got)}, expected 1 / (1 - p) = "
                   f"{fmt(scale)} (p = {P}).", hint)
    share = float(zeros.mean())
    tolerance = SIGMAS * np.sqrt(P * (1 - P) / zeros.size)
    if abs(share - P) > tolerance:
        hint = ("p is the probability of *dropping* an entry: keep it when rng.random() >= p, "
                "i.e. with probability 1 - p." if abs(share - (1 - P)) <= tolerance else None)
        check.fail(f"{share:.4f} of the entries were zeroed, expected p = {P} (within "
                   f"{tolerance:.4f} over {zeros.size:,} entries).", hint)
    if check.messages:
        return None
    check.ok(f"training mode, p = {P}: {share:.4f} of {zeros.size:,} entries zeroed, the others "
             f"scaled to {fmt(scale)}; mean output {float(out.mean()):.4f} (x was all ones: the "
             "expectation is kept)")
    return zeros


def _dropout_body(check, cls):
    name = cls.__name__
    layer = check.run(f"{name}(p={P})", cls, p=P,
                      hint=lambda exc: f"the checker creates the layer as {name}(p={P})."
                      if isinstance(exc, TypeError) else None)
    layer.training = True
    ones = np.ones((ROWS, COLS))
    out = check.run(f"forward(x) in training mode, x of ones {ones.shape}", layer.forward, ones)
    if isinstance(out, tuple):
        check.stop(f"forward(x) returned a tuple of {len(out)} items, expected one array of x's "
                   f"shape {ones.shape}.", "return x * mask alone: keep the mask in self.mask "
                   "for backward, where a network cannot pass it along.")
    if getattr(as_numbers(out), "shape", None) != ones.shape:
        check.stop(f"forward(x) returned {what_it_is(out)}, expected an array of x's shape "
                   f"{ones.shape}.", _MASK)
    unchanged(check, np.ones_like(ones), ones, "the input x",
              "forward must not change x (the caller still holds it): return x * mask.")
    small = np.ones((4, 5))
    first = _mask_statistics(check, out, lambda: check.run("forward(x) on x of ones (4, 5)",
                                                           layer.forward, small))
    if first is None:
        return
    again = as_numbers(check.run("a second forward(x)", layer.forward, ones))
    if again is not None and again.shape == ones.shape and ((again == 0) == first).all():
        check.stop("two forward passes dropped exactly the same entries.",
                   "draw a new mask at every forward pass from the one generator self.rng: a "
                   "mask drawn once in __init__, or a generator seeded again at every call, "
                   "repeats itself.")
    check.ok("a new mask at every forward pass, drawn per entry")

    if not _backward(check, layer):
        return
    if not (_backward_after_relu(check, layer) and _two_layers(check, cls)):
        return
    _evaluation(check, layer)
    _p_zero(check, cls)


def _backward(check, layer):
    """forward on random x, then backward: dL/dx = grad_z * the same mask. True when right."""
    x = random_array((60, 40), 111)
    out = as_numbers(check.run(f"forward(x) on random x of shape {x.shape}", layer.forward, x))
    scale = 1 / (1 - P)
    if out is None or out.shape != x.shape:
        check.stop(f"forward(x) gave {what_it_is(out)}, expected x's shape {x.shape}.", _MASK)
    ratio = out / x  # x has no zero entry, almost surely
    if not np.all(np.isclose(ratio, 0, atol=1e-9) | np.isclose(ratio, scale, rtol=1e-5)):
        ones_like = np.isclose(out, 0, atol=1e-9) | np.isclose(out, scale, rtol=1e-5)
        check.stop("on random x, forward's output is not x * mask (each entry 0 or x / (1 - p)).",
                   "return x * mask, not the mask itself." if ones_like.all() else _MASK)
    check.ok(f"forward on random x of shape {x.shape}: each entry is 0 or x / (1 - p)")
    mask = np.where(np.isclose(ratio, 0, atol=1e-9), 0.0, scale)
    grad_z = random_array(x.shape, 112)
    before = grad_z.copy()
    dx = check.run(f"backward(grad_z) with grad_z of shape {grad_z.shape}", layer.backward,
                   grad_z, returns=False,
                   hint=lambda exc: "forward must keep its mask (self.mask = mask) for backward."
                   if isinstance(exc, (AttributeError, TypeError)) else None)
    unchanged(check, before, grad_z, "grad_z",
              "backward must not change grad_z in place (grad_z *= mask): return grad_z * mask.")
    if dx is None:
        if is_empty_body(layer.backward):
            check.not_implemented("backward: the body is still empty.")
        check.stop("backward returned None.", "return dL/dx = grad_z * mask.")
    variants = [
        ("backward must scale by the same 1 / (1 - p) as forward: dL/dx = grad_z * mask, with "
         "the mask holding 0 and 1 / (1 - p).", before * (mask > 0)),
        ("the dropped entries had no effect on the output, so their gradient is 0: dL/dx = "
         "grad_z * mask.", before),
    ]
    dropped = _dropped_by_backward(dx, before)
    if (dropped is not None and abs(dropped.mean() - P) < 0.15
            and not (dropped == (mask == 0)).all()):
        check.stop("backward zeroed other entries than forward dropped.",
                   "backward must use the mask of the forward pass (kept as self.mask), not "
                   "draw a new one.")
    if not compare(check, dx, before * mask, "backward's dL/dx", variants, rtol=1e-5,
                   hint="dL/dx = grad_z * mask, the mask forward drew."):
        return False
    check.ok("backward: dL/dx = grad_z * mask, with forward's mask")
    return True


def _dropped_by_backward(dx, grad_z):
    """Where backward's dx is 0, when each entry of dx is grad_z times 0 or 1 / (1 - p) (a mask
    of dropout's kind, whichever it is); else None."""
    got = as_numbers(dx)
    if got is None or got.shape != grad_z.shape:
        return None
    with np.errstate(all="ignore"):
        ratio = got / grad_z
    zero, kept = np.isclose(ratio, 0, atol=1e-9), np.isclose(ratio, 1 / (1 - P), rtol=1e-5)
    return zero if (zero | kept).all() else None


def _backward_after_relu(check, layer):
    """After a ReLU half of x is exactly 0: a mask recovered from out / x is NaN there."""
    x = np.maximum(random_array((60, 40), 117), 0.0)
    out = as_numbers(check.run("forward(x) on x with zeros (a ReLU's output)", layer.forward, x))
    grad_z = random_array(x.shape, 118)
    dx = check.run("backward(grad_z) after forward on x with zeros", layer.backward, grad_z)
    dropped = _dropped_by_backward(dx, grad_z)
    nonzero = x != 0
    if (dropped is not None and out is not None and out.shape == x.shape
            and (dropped[nonzero] == (out[nonzero] == 0)).all()):
        check.ok("backward after forward on x with zeros (a ReLU's output): grad_z * mask")
        return True
    got = as_numbers(dx)
    nan = got is not None and got.shape == x.shape and not np.isfinite(got[~nonzero]).all()
    check.fail("after forward on x whose entries are half zeros (as after a ReLU), backward's "
               "dL/dx is not grad_z * mask" + (" (not finite where x is 0)." if nan else "."),
               "keep the mask itself from forward (self.mask): it cannot be read back from "
               "output / x where x is 0." if nan else "dL/dx = grad_z * mask, the mask forward "
               "drew.")
    return False


def _two_layers(check, cls):
    """Two layers of one network: each backward must use its own layer's mask."""
    first, second = cls(p=P), cls(p=P)
    first.training = second.training = True
    x1, x2 = random_array((30, 20), 119), random_array((30, 20), 120)
    out1 = as_numbers(check.run("forward(x) of a first layer", first.forward, x1))
    check.run("forward(x) of a second layer", second.forward, x2)
    grad_z = random_array(x1.shape, 121)
    dx = check.run("backward(grad_z) of the first layer, after the second's forward",
                   first.backward, grad_z)
    dropped = _dropped_by_backward(dx, grad_z)
    if dropped is not None and out1 is not None and (dropped == (out1 == 0)).all():
        check.ok("two layers: each backward uses its own forward's mask")
        return True
    check.fail("with two dropout layers, the first layer's backward did not use the mask of "
               "its own forward (the second layer's forward came in between).",
               "keep the mask on the instance, self.mask = ...: a mask kept on the class or in "
               "a global variable is shared by every dropout layer of the network.")
    return False


def _evaluation(check, layer):
    layer.training = False
    x = random_array((30, 20), 113)
    out = check.run("forward(x) in evaluation mode (training = False)", layer.forward, x)
    variants = [
        ("inverted dropout already scaled the kept entries while training, so evaluation is the "
         "identity: no (1 - p) factor at test time.", x * (1 - P)),
        ("in evaluation mode dropout is the identity: return x, with no scaling.", x / (1 - P)),
    ]
    got = as_numbers(out)
    hint = ("in evaluation mode (self.training is False) nothing is dropped: return x."
            if got is not None and got.shape == x.shape and (got == 0).any() else None)
    ok = compare(check, out, x, "forward(x) in evaluation mode", variants, hint=hint)
    grad_z = random_array(x.shape, 114)
    stale = ("after an evaluation forward nothing was dropped, so backward returns grad_z: "
             "the mask kept is that of an earlier training forward (check self.training in "
             "backward, or set self.mask = None in evaluation mode).")
    dx = check.run("backward(grad_z) in evaluation mode", layer.backward, grad_z,
                   hint=lambda exc: stale if "broadcast" in str(exc) else None)
    ok &= compare(check, dx, grad_z, "backward's dL/dx in evaluation mode", hint=stale)
    if ok:
        check.ok("evaluation mode: forward and backward are the identity")
    layer.training = True


def _p_zero(check, cls):
    layer = check.run(f"{cls.__name__}(p=0.0)", cls, p=0.0)
    layer.training = True
    x = random_array((30, 20), 115)
    out = check.run("forward(x) with p = 0 in training mode", layer.forward, x)
    ok = compare(check, out, x, "forward(x) with p = 0",
                 hint="with p = 0 nothing is dropped and 1 / (1 - p) = 1: the output is x.")
    if ok:
        grad_z = random_array(x.shape, 116)
        dx = check.run("backward(grad_z) with p = 0", layer.backward, grad_z)
        ok = compare(check, dx, grad_z, "backward's dL/dx with p = 0",
                     hint="with p = 0 the mask is all ones: dL/dx = grad_z.")
    if ok:
        check.ok("p = 0: forward and backward are the identity")


def check_dropout_layer(cls, *, verbose=True):
    """Check the learner's inverted dropout layer ``cls(p)`` (a ``scratchnn.Layer``) by its
    behaviour: in training mode about p of 100,000 entries are zeroed (to within a few standard
    deviations) and the others scaled by 1 / (1 - p), with a new mask per entry and per call;
    backward multiplies grad_z by the same mask (on x with zeros too, and with another layer's
    forward in between: the mask lives on the instance); evaluation mode
    (``layer.training = False``) and p = 0 are the identity. Returns a CheckResult (truthy when
    passed) and prints it."""
    check_class(cls)
    return run_check(cls.__name__, _dropout_body, cls, verbose=verbose)
