"""Checker for chapter 9: the learner's optimizers.

The learner's class has the interface of ``scratchnn.optim``: ``opt = cls(lr=..., ...)`` and
``opt.step(network)``, which updates every ``layer.params[name]`` in place from
``layer.grads[name]``. It is run for several steps next to scratchnn's optimizer on the same
network and the same gradients, put in new arrays at every step as a backward does. When they
part, the learner's parameters are compared with
what typical wrong update rules would have produced, to name the mistake.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..network import MultiLayerNetwork
from ..optim import SGD, Adam, RMSProp
from ._core import (
    check_class,
    check_kind,
    close,
    fmt,
    is_empty_body,
    mismatch,
    run_check,
)

N_STEPS = 6

# kind: (scratchnn's class, the keyword arguments both optimizers are created with, the rule)
KINDS = {
    "sgd": (SGD, {"lr": 0.1}, "p -= lr * g"),
    "momentum": (SGD, {"lr": 0.1, "momentum": 0.9},
                 "v = momentum * v + g; p -= lr * v (one v per parameter, starting at 0 and kept "
                 "between steps)"),
    "rmsprop": (RMSProp, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8},
                "s = alpha * s + (1 - alpha) * g ** 2; p -= lr * g / (np.sqrt(s) + eps)"),
    "adam": (Adam, {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8},
             "m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g ** 2; "
             "m_hat = m / (1 - b1 ** t); v_hat = v / (1 - b2 ** t); "
             "p -= lr * m_hat / (np.sqrt(v_hat) + eps), with t = 1 at the first step"),
}

_NOT_KEPT = ("the optimizer's memory is not kept between steps: store it per parameter (e.g. in "
             "a dict keyed by (layer index, name) or id(p)) and reuse it at the next step. Not "
             "keyed by id(layer.grads[name]): a backward puts new gradient arrays there at "
             "every step.")
_FIRST_GRADIENTS = ("from step 2 on, the update used step 1's gradients again: the arrays of "
                    "layer.grads were kept from the first step ((p, g) pairs collected once), "
                    "but a backward puts new arrays in layer.grads at every step "
                    "(self.grads['W'] = ...): read layer.grads[name] at every step. Keeping the "
                    "parameters (or the layers) is fine, as they are updated in place.")


# -- typical wrong update rules, each a function (p, g, state, t) -> new p ------------------------
def _sgd(lr, sign=-1.0):
    return lambda p, g, s, t: p + sign * lr * g


def _momentum(lr, mu, *, ascent=False, old_sign=1.0, dampen=False, keep=True, late=False):
    def update(p, g, s, t):
        v = s.get("v", 0.0) if keep else 0.0
        s["v"] = old_sign * mu * v + ((1 - mu) if dampen else 1.0) * g
        v = v if late else s["v"]  # late: the step taken with the velocity before this one
        return p + lr * v if ascent else p - lr * v

    return update


def _nesterov(lr, mu):
    def update(p, g, s, t):
        v = s["v"] = mu * s.get("v", 0.0) + g
        return p - lr * (g + mu * v)

    return update


def _rmsprop(lr, alpha, eps, *, eps_inside=False, ema=True, root=True, keep=True, square=True,
             swapped=False, eps_after=False, start_at_g2=False, start=0.0):
    def update(p, g, s, t):
        sq = s.get("s", g * g if start_at_g2 else start) if keep else 0.0
        new = g * g if square else g
        if swapped:
            sq = s["s"] = (1 - alpha) * sq + alpha * new
        else:
            sq = s["s"] = alpha * sq + ((1 - alpha) if ema else 1.0) * new
        if not root:
            return p - lr * g / (sq + eps)
        if eps_after:
            return p - (lr * g / np.sqrt(sq) + eps)
        return p - lr * g / (np.sqrt(sq + eps) if eps_inside else np.sqrt(sq) + eps)

    return update


def _adam(lr, betas, eps, *, correct_m=True, correct_v=True, eps_inside=False, t_fixed=False,
          store_hat=False, keep=True, power_outside=False, square=True, swapped=False,
          eps_after=False, b1_for_v=False, root=True, root_before_correction=False,
          numerator_g=False, start_at_g=False):
    b1, b2 = betas

    def update(p, g, s, t):
        t = 1 if t_fixed else t
        m = s.get("m", g if start_at_g else 0.0) if keep else 0.0
        v = s.get("v", g * g if start_at_g else 0.0) if keep else 0.0
        new = g * g if square else g
        if swapped:
            m, v = (1 - b1) * m + b1 * g, (1 - b2) * v + b2 * new
        else:
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * new
        c1, c2 = ((1 - b1) ** t, (1 - b2) ** t) if power_outside else (1 - b1**t, 1 - b2**t)
        if b1_for_v:
            c2 = c1
        m_hat = m / c1 if correct_m else m
        m_hat = g if numerator_g else m_hat
        v_hat = v / c2 if correct_v else v
        s["m"], s["v"] = (m_hat, v_hat) if store_hat else (m, v)
        if eps_after:
            return p - (lr * m_hat / np.sqrt(v_hat) + eps)
        if not root:
            return p - lr * m_hat / (v_hat + eps)
        if root_before_correction:
            return p - lr * m_hat / (np.sqrt(v) / c2 + eps)
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return p - lr * m_hat / denominator

    return update


def _per_parameter_clock(t, i, n):
    """t counted up once per parameter (self.t += 1 inside the loop over parameters)."""
    return (t - 1) * n + i + 1


def _per_layer_clock(layers, all_layers):
    """t counted up once per layer: every layer (all_layers) or those with parameters."""
    owners = sorted(set(layers))
    count = layers.n if all_layers else len(owners)

    def clock(t, i, n):
        rank = layers[i] if all_layers else owners.index(layers[i])
        return (t - 1) * count + rank + 1

    return clock


class _Owners(list):
    """The index of the layer of each parameter, and the number of layers (``n``)."""

    def __init__(self, net):
        super().__init__(net.layers.index(layer) for layer, _, _ in net.parameters())
        self.n = len(net.layers)
        self.shapes = [p.shape for _, _, p in net.parameters()]


def _first_gradients(rule):
    """``rule`` given the first step's gradient at every step, as an optimizer holding the
    gradient arrays of its first step sees them."""
    return lambda p, g, s, t: rule(p, s.setdefault("first g", g), s, t)


def _uphill(rule):
    """``rule`` with the step's sign flipped."""
    return lambda p, g, s, t: 2 * p - rule(p, g, s, t)


_SQUARE = ("the running average is of the squared gradient: {}. Averaging g itself lets it go "
           "negative, and its square root is NaN.")
_SWAPPED = ("the two weights are swapped: the old average keeps the large weight, {}.")
_PRECEDENCE = ("eps was added to the step instead of the denominator: {}, with the parentheses.")

_UPHILL = ("the parameters moved up the gradient: the update subtracts, p -= lr * (direction), "
           "because the gradient points towards a larger loss.")


def _mistakes(kind, hp, layers):
    """[(hint, update rule[, clock[, share]])] of the typical mistakes for optimizer ``kind``
    (see ``_simulate``); ``layers[i]`` is the index of the layer holding parameter i, out of
    ``layers.n``, and ``layers.shapes[i]`` its shape."""
    mistakes = _usual_mistakes(kind, hp, layers) + [
        (_FIRST_GRADIENTS, _first_gradients(_rule(kind, hp)))]
    if kind != "sgd":
        # A state keyed by the parameter's shape: two parameters of one shape share it.
        mistakes.append(
            ("parameters of the same shape share one state: key it by (layer index, name) or "
             "id(p), not by p.shape (two layers of one size, or their biases, have the same).",
             _rule(kind, hp), None, lambda i: layers.shapes[i]))
    return mistakes


def _usual_mistakes(kind, hp, layers):
    lr = hp["lr"]
    if kind == "sgd":
        return [(_UPHILL, _sgd(lr, +1.0)),
                ("the learning rate is missing: p -= lr * g.", lambda p, g, s, t: p - g)]
    if kind == "momentum":
        mu = hp["momentum"]
        return [("this is Nesterov momentum (p -= lr * (g + momentum * v)); plain momentum steps "
                 "by the velocity itself, p -= lr * v.", _nesterov(lr, mu)),
                ("momentum sign error: with v = momentum * v + g the step is p -= lr * v (or, "
                 "with v = momentum * v - lr * g, it is p += v).", _momentum(lr, mu, ascent=True)),
                ("momentum sign error: the old velocity is added, v = momentum * v + g.",
                 _momentum(lr, mu, old_sign=-1.0)),
                ("(1 - momentum) * g makes v an average (dampening); SGD with momentum adds the "
                 "whole gradient: v = momentum * v + g.", _momentum(lr, mu, dampen=True)),
                (_NOT_KEPT, _momentum(lr, mu, keep=False)),
                ("the step uses g, not the velocity: p -= lr * v (with v = momentum * v + g), "
                 "else the velocity never acts.", _sgd(lr)),
                ("the old velocity is multiplied by momentum: v = momentum * v + g (without the "
                 "factor, v sums every gradient so far).", _momentum(lr, 1.0)),
                ("the step used the velocity from before this step's gradient was added: update "
                 "v first (v = momentum * v + g), then p -= lr * v.", _momentum(lr, mu, late=True)),
                ("the learning rate was applied twice (v = momentum * v + lr * g, then "
                 "p -= lr * v): use it in one place, p -= lr * v with v = momentum * v + g.",
                 _momentum(lr * lr, mu))]
    if kind == "rmsprop":
        alpha, eps = hp["alpha"], hp["eps"]
        return [("eps goes outside the square root: g / (np.sqrt(s) + eps), not "
                 "g / np.sqrt(s + eps). The two are close, but differ for small gradients.",
                 _rmsprop(lr, alpha, eps, eps_inside=True)),
                ("eps goes outside the square root: g / (np.sqrt(s) + eps); "
                 "np.sqrt(s + eps ** 2) guards far less for small gradients.",
                 _rmsprop(lr, alpha, eps**2, eps_inside=True)),
                ("the running average needs the (1 - alpha) factor: "
                 "s = alpha * s + (1 - alpha) * g ** 2.", _rmsprop(lr, alpha, eps, ema=False)),
                ("divide by the square root of s: g / (np.sqrt(s) + eps).",
                 _rmsprop(lr, alpha, eps, root=False)),
                (_NOT_KEPT, _rmsprop(lr, alpha, eps, keep=False)),
                (_UPHILL, _uphill(_rmsprop(lr, alpha, eps))),
                (_SQUARE.format("s = alpha * s + (1 - alpha) * g ** 2"),
                 _rmsprop(lr, alpha, eps, square=False)),
                (_SWAPPED.format("s = alpha * s + (1 - alpha) * g ** 2"),
                 _rmsprop(lr, alpha, eps, swapped=True)),
                (_PRECEDENCE.format("g / (np.sqrt(s) + eps)"),
                 _rmsprop(lr, alpha, eps, eps_after=True)),
                ("s starts at 0 (np.zeros_like(p)), not at the first g ** 2: the average then "
                 "grows from 0 as the text's rule says.", _rmsprop(lr, alpha, eps,
                                                                   start_at_g2=True)),
                ("s starts at 0 (np.zeros_like(p)), not at 1: the average then grows from 0 as "
                 "the text's rule says.", _rmsprop(lr, alpha, eps, start=1.0))]
    betas, eps = hp["betas"], hp["eps"]
    return [("missing bias correction in Adam: m and v start at 0, so divide them by "
             "(1 - b1 ** t) and (1 - b2 ** t) before the update.", _adam(lr, betas, eps,
                                                                        correct_m=False,
                                                                        correct_v=False)),
            ("the bias correction of v is missing: v_hat = v / (1 - b2 ** t).",
             _adam(lr, betas, eps, correct_v=False)),
            ("the bias correction of m is missing: m_hat = m / (1 - b1 ** t).",
             _adam(lr, betas, eps, correct_m=False)),
            ("eps goes outside the square root: m_hat / (np.sqrt(v_hat) + eps). The two are "
             "close, but differ for small gradients.", _adam(lr, betas, eps, eps_inside=True)),
            ("eps goes outside the square root: m_hat / (np.sqrt(v_hat) + eps); "
             "np.sqrt(v_hat + eps ** 2) guards far less for small gradients.",
             _adam(lr, betas, eps**2, eps_inside=True)),
            ("t must grow by one at every step (t = 1, 2, 3, ...); the bias correction uses it.",
             _adam(lr, betas, eps, t_fixed=True)),
            ("keep m and v themselves between steps, not the corrected m_hat and v_hat.",
             _adam(lr, betas, eps, store_hat=True)),
            (_NOT_KEPT, _adam(lr, betas, eps, keep=False)),
            (_UPHILL, _uphill(_adam(lr, betas, eps))),
            ("the bias correction is 1 - b1 ** t (the power of b1, then 1 minus it), not "
             "(1 - b1) ** t: m_hat = m / (1 - b1 ** t), v_hat = v / (1 - b2 ** t).",
             _adam(lr, betas, eps, power_outside=True)),
            ("v's bias correction uses b2: v_hat = v / (1 - b2 ** t), not 1 - b1 ** t.",
             _adam(lr, betas, eps, b1_for_v=True)),
            (_SQUARE.format("v = b2 * v + (1 - b2) * g ** 2"), _adam(lr, betas, eps, square=False)),
            (_SWAPPED.format("m = b1 * m + (1 - b1) * g, v = b2 * v + (1 - b2) * g ** 2"),
             _adam(lr, betas, eps, swapped=True)),
            (_PRECEDENCE.format("m_hat / (np.sqrt(v_hat) + eps)"),
             _adam(lr, betas, eps, eps_after=True)),
            ("t counts steps, not parameters: add 1 to t once per step(), before the loop over "
             "the parameters (or keep one t per parameter).",
             _adam(lr, betas, eps), _per_parameter_clock),
            ("t counts steps, not layers: add 1 to t once per step(), before the loop over "
             "the layers.", _adam(lr, betas, eps), _per_layer_clock(layers, all_layers=True)),
            ("t counts steps, not layers: add 1 to t once per step(), before the loop over "
             "the layers.", _adam(lr, betas, eps), _per_layer_clock(layers, all_layers=False)),
            ("betas = (b1, b2) = (0.9, 0.999): b1 = 0.9 averages the gradient, b2 = 0.999 its "
             "square; they were taken the other way round.", _adam(lr, betas[::-1], eps)),
            ("divide by the square root of v_hat: m_hat / (np.sqrt(v_hat) + eps).",
             _adam(lr, betas, eps, root=False)),
            ("the bias correction belongs inside the square root: np.sqrt(v / (1 - b2 ** t)), "
             "not np.sqrt(v) / (1 - b2 ** t).", _adam(lr, betas, eps, root_before_correction=True)),
            ("t must grow by one per step: it was counted twice (self.t += 1 in two places).",
             _adam(lr, betas, eps), lambda t, i, n: 2 * t - 1),
            ("t = 1 at the first step: start self.t at 0 and add 1 before the update (the "
             "first step here used t = 2).", _adam(lr, betas, eps), lambda t, i, n: t + 1),
            ("m and v start at 0 (np.zeros_like(p)), not at g and g ** 2: the bias correction "
             "is for that zero start.", _adam(lr, betas, eps, start_at_g=True)),
            ("the step divides g itself (RMSProp's numerator): Adam's is the average m_hat, "
             "p -= lr * m_hat / (np.sqrt(v_hat) + eps).", _adam(lr, betas, eps,
                                                                numerator_g=True))]


def _right_variants(kind, hp):
    """[(description, update rule)] of rules that are right but not scratchnn's: the checker
    follows them once the learner's parameters match one."""
    if kind != "adam":
        return []
    (b1, b2), lr, eps = hp["betas"], hp["lr"], hp["eps"]

    def efficient(p, g, s, t):
        m = s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        return p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)

    return [("the Adam paper's efficient form, lr_t = lr * sqrt(1 - b2 ** t) / (1 - b1 ** t) "
             "with eps added to sqrt(v)", efficient)]


def _simulate(rule, start, grads, steps, clock=None, share=None):
    """Each parameter after ``steps`` updates by ``rule``, from ``start`` with ``grads[t]``;
    ``clock(t, i, n)`` is the t parameter i of n sees at step t (t itself by default);
    ``share(i)`` is the key of parameter i's state (its own by default): parameters with the
    same key share one state, updated in their order."""
    out, states = list(start), {}
    for t in range(1, steps + 1):
        for i, p in enumerate(out):
            state = states.setdefault(share(i) if share else i, {})
            out[i] = rule(p, grads[t - 1][i], state, clock(t, i, len(start)) if clock else t)
    return out


def _same(got, expected):
    """``close``, but NaN matches NaN: a mistake that gives NaN (the root of a negative
    average) is recognised by giving NaN in the same places."""
    return all(np.shape(g) == np.shape(e) and np.allclose(g, e, rtol=1e-5, atol=1e-7,
                                                          equal_nan=True)
               for g, e in zip(got, expected, strict=True))


# -- the check ------------------------------------------------------------------------------------
def _step_hint(exc):
    if isinstance(exc, TypeError) and "step() takes 1 positional argument but 2" in str(exc):
        return ("the check calls opt.step(network), as the exercise's step(self, network) "
                "does: take the network in step (PyTorch's optimizers are given the "
                "parameters in their constructor instead).")
    if "broadcast" in str(exc):
        return ("one parameter's memory was used for another of a different shape: keep it per "
                "parameter, keyed by (layer index, name) or id(p). A name alone ('W') is shared "
                "by every layer, a layer index alone by its W and b.")
    return None


def _network():
    # Two hidden layers of 4: W (4, 4) is alone of its shape, but the biases of both are
    # (1, 4), so a state keyed by shape is shared and shows.
    return MultiLayerNetwork.from_sizes([3, 4, 4, 2], activation="tanh", rng=30,
                                        dtype=np.float64)


def _gradients(net):
    """N_STEPS gradients for every parameter; about a third of the entries are ~1e-4, where
    eps matters (so a misplaced eps shows)."""
    rng = np.random.default_rng(31)
    shapes = [p.shape for _, _, p in net.parameters()]
    scales = [np.where(rng.random(shape) < 0.3, 1e-4, 1.0) for shape in shapes]
    return [[rng.normal(size=shape) * scale for shape, scale in zip(shapes, scales, strict=True)]
            for _ in range(N_STEPS)]


def _set_grads(net, grads, given):
    """Put new arrays holding ``grads`` in the layers' grads, as a backward that assigns
    self.grads["W"] = ... does at every step: an optimizer holding the arrays of an earlier step
    then sees that step's numbers. ``given`` keeps every array given so far alive, so that no
    new one can take the id of a freed one (a state keyed by id(g) must not find an old entry
    by chance)."""
    for (layer, name, _), g in zip(net.parameters(), grads, strict=True):
        layer.grads[name] = np.array(g, dtype=np.float64, copy=True)
        given.append(layer.grads[name])


def _params(net):
    return [np.array(p, dtype=np.float64, copy=True) for _, _, p in net.parameters()]


def _optimizer_body(check, cls, kind):
    ref_cls, hp, rule = KINDS[kind]
    args = ", ".join(f"{k}={v!r}" for k, v in hp.items())
    opt = check.run(f"{cls.__name__}({args})", cls, **hp,
                    hint=lambda exc: f"the checker creates the optimizer as {cls.__name__}({args})."
                                     if isinstance(exc, TypeError) else None)
    ref = ref_cls(**hp)
    net, ref_net = _network(), _network()
    names = [f"layers[{net.layers.index(layer)}].params[{name!r}]"
             for layer, name, _ in net.parameters()]
    start = _params(net)
    arrays = [p for _, _, p in net.parameters()]
    grads = _gradients(net)
    variant = None  # a right rule that is not scratchnn's, once the learner's matches it
    history, wants = [], []  # the learner's and scratchnn's parameters after each step
    given = []  # every gradient array handed to the learner's network
    parted = None  # the first step where they part
    for t in range(1, N_STEPS + 1):
        _set_grads(net, grads[t - 1], given)
        _set_grads(ref_net, grads[t - 1], [])
        if parted is None:
            check.run(f"step(network) (step {t})", opt.step, net, returns=False, hint=_step_hint)
        else:
            # Only to tell mistakes that agree at the first wrong step apart: an error now
            # just ends the record.
            try:
                with np.errstate(all="ignore"):
                    opt.step(net)
            except Exception:  # noqa: BLE001 -- learner code, already known to be wrong
                break
        ref.step(ref_net)
        got, want = _params(net), _params(ref_net)
        if all(not np.any(layer.grads[name]) for layer, name, _ in net.parameters()):
            # PyTorch's zero_grad done by step itself: harmless, backward writes them anew.
            check.note("step sets the gradients to zero after using them; that is fine here "
                       "(each backward writes new ones), though usually the training loop "
                       "does it.")
        for (layer, name, _), g in zip(net.parameters(), grads[t - 1], strict=True):
            if parted is None and np.any(layer.grads[name]) and not close(layer.grads[name], g,
                                                                          0, 0):
                check.stop(f"step {t} changed layers[...].grads[{name!r}].",
                           "step must read the gradients, not change them: compute new arrays "
                           "(g * lr, not g *= lr), and start a state from np.zeros_like(p) or "
                           "g.copy(), not from g itself (setdefault(key, g) followed by "
                           "v *= ... changes the gradient).")
        history.append(got)
        wants.append(want)
        if parted is not None or all(close(g, w) for g, w in zip(got, want, strict=True)):
            continue
        variant = next((text for text, rule_ in _right_variants(kind, hp)
                        if _same(got, _simulate(rule_, start, grads, t))), None) or variant
        if variant is None:
            parted = t
            if t == 1 and _unchanged(got, start) and is_empty_body(opt.step):
                check.not_implemented("step(network): the body is still empty.")
    if parted is not None:
        _report_divergence(check, kind, hp, rule, parted, names, history, wants, start, grads,
                           _Owners(net), _defaults(cls))
    if variant is None:
        check.ok(f"{N_STEPS} steps match scratchnn.optim.{ref_cls.__name__}({args}): {rule}")
    else:
        check.ok(f"{N_STEPS} steps of {variant}")
        check.note("that form is right; only its eps acts a little differently from the "
                   "usual formula's.")
    _fresh_instance(check, cls, hp, args, grads[0], history[0])
    if any(a is not p for a, (_, _, p) in zip(arrays, net.parameters(), strict=True)):
        check.note("step replaced the arrays in layer.params instead of updating them in place "
                   "(p -= ...). It works here, but other references to the old arrays (an "
                   "optimizer's state, a saved copy) then no longer see the parameters.")


def _fresh_instance(check, cls, hp, args, first_grads, first_step):
    """A second optimizer on a new network must take the first one's first step: a state kept
    on the class (velocity = {} in the class body) or in a default argument (velocity={}) is
    shared by every optimizer, so the next training run starts from the last one's."""
    other = check.run(f"a second {cls.__name__}({args})", cls, **hp)
    net = _network()
    _set_grads(net, first_grads, [])
    check.run("step(network) with the second optimizer", other.step, net, returns=False,
              hint=_step_hint)
    if all(close(g, w) for g, w in zip(_params(net), first_step, strict=True)):
        check.ok("a second optimizer starts afresh")
        return
    check.fail(f"a second {cls.__name__} did not take the first one's first step on a new "
               "network: it started from the first optimizer's state.",
               "keep the state on the instance, made in __init__ (self.velocity = {}), not in "
               "the class body or in a default argument (velocity={}), which every optimizer "
               "shares.")


def _unchanged(got, before):
    return all(close(g, b, 0, 0) for g, b in zip(got, before, strict=True))


def _defaults(cls):
    """The defaults of the learner's constructor, {name: value}."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _explains(got, mistake, want):
    """True when ``mistake`` gives the learner's parameters, closer than the right rule does:
    at a step where they part from the right ones, the mistake must account for (nearly) all
    of the difference, so that a mistake that is itself close to the right rule (eps added
    to the step moves p by 1e-8) cannot take the blame for a difference of 1e-6."""
    if not _same(got, mistake):
        return False
    if _same(got, want):
        return True
    g, m, w = (np.concatenate([np.ravel(a) for a in arrays]) for arrays in (got, mistake, want))
    off, gap = np.abs(g - m), np.abs(g - w)
    if not (np.isfinite(off).all() and np.isfinite(gap).all()):
        return True  # NaN where the mistake gives NaN: _same matched them already
    return float(off.max()) <= 1e-3 * float(gap.max())


def _rule(kind, hp):
    """The right update rule of ``kind`` with hyperparameters ``hp``."""
    if kind == "sgd":
        return _sgd(hp["lr"])
    if kind == "momentum":
        return _momentum(hp["lr"], hp["momentum"])
    if kind == "rmsprop":
        return _rmsprop(hp["lr"], hp["alpha"], hp["eps"])
    return _adam(hp["lr"], hp["betas"], hp["eps"])


# Values a learner may have written in place of the argument it was given.
_USUAL = {"momentum": (0.9, 0.99, 0.95, 0.5), "alpha": (0.99, 0.9, 0.95, 0.999),
          "betas": ((0.9, 0.999), (0.9, 0.99), (0.95, 0.999), (0.9, 0.9)),
          "eps": (1e-8, 1e-7, 1e-6, 1e-10, 1e-5)}


def _ignored_arguments(kind, hp, defaults):
    """[(hint, rule)]: the right rule with one hyperparameter (not lr: a scaled step says that)
    replaced by the learner's default or a usual value: the argument given was not used."""
    mistakes = []
    for name, given in hp.items():
        if name == "lr":
            continue
        default = _hashable(defaults.get(name))
        values = ([default] if default is not None else []) + list(_USUAL.get(name, ()))
        for value in dict.fromkeys(values):
            if value == _hashable(given):
                continue
            source = " (your default)" if value == _hashable(default) else ""
            mistakes.append((f"the update uses {name} = {value!r}{source}, not the {name} it "
                             f"was given ({name}={given!r}): keep the argument (self.{name} = "
                             f"{name}) and use it.", _rule(kind, {**hp, name: value})))
    return mistakes


def _hashable(value):
    """A default as a number or a tuple of numbers (betas as a list or an array), else None:
    only numbers can stand in for a hyperparameter."""
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            return tuple(float(v) for v in np.ravel(value))
        except (TypeError, ValueError):
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _report_divergence(check, kind, hp, rule, t, names, history, wants, start, grads, layers,
                       defaults):
    """Name the mistake that explains the learner's parameters from step ``t`` (the first
    where they part from scratchnn's) for the most steps; mistakes that agree at step t are
    told apart by the steps after it."""
    got, want = history[t - 1], wants[t - 1]
    i = next((i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not close(g, w)), 0)
    problem = mismatch(got[i], want[i], f"after step {t}, {names[i]}")
    best, best_steps = [], t - 1
    for hint, mistake, *how in (_mistakes(kind, hp, layers)
                                + _ignored_arguments(kind, hp, defaults)):
        steps = 0
        with np.errstate(all="ignore"):
            for k in range(1, len(history) + 1):
                if not _explains(history[k - 1], _simulate(mistake, start, grads, k, *how),
                                 wants[k - 1]):
                    break
                steps = k
        if steps > best_steps:
            best, best_steps = [hint], steps
        elif steps == best_steps and best and hint not in best:
            best.append(hint)  # both give the same numbers (here, or with any values)
    if len(best) == 1:
        check.stop(problem, best[0])
    if best:
        check.stop(problem, "more than one mistake gives exactly these numbers here: "
                   + " Or: ".join(best))
    skipped = [names[j] for j in range(len(start))
               if all(close(h[j], start[j], 0, 0) for h in history)]
    if skipped and len(skipped) < len(start):
        check.stop(f"step never changed {', '.join(skipped)}, while the other parameters moved.",
                   "update every parameter of every layer: for layer in network.layers: for "
                   "name, p in layer.params.items(): ... (not only W, nor all layers but one).")
    if all(_unchanged(h, start) for h in history):
        check.stop(f"step {t} left every parameter unchanged.",
                   "update layer.params[name] in place (p -= ...): `p = p - ...` only "
                   "rebinds a local name.")
    if t == 1:
        _first_step(check, kind, hp, problem, start, got, want, grads)
    if not np.isfinite(got[i]).all() and kind == "adam":
        check.stop(problem, "1 - b1 ** t is 0 at t = 0: count the step (t += 1) before the bias "
                   "correction, so that t = 1 at the first step.")
    close_enough = close(got[i], want[i], rtol=1e-2, atol=1e-6)
    check.stop(problem + (" The values are close but differ." if close_enough else ""),
               f"{kind}'s update is: {rule}.")


def _first_step(check, kind, hp, problem, start, got, want, grads):
    """Name a first step that is scratchnn's scaled (another learning rate) or that used its
    own eps instead of the one it was given."""
    step = np.concatenate([(g - s).ravel() for g, s in zip(got, start, strict=True)])
    ref = np.concatenate([(w - s).ravel() for w, s in zip(want, start, strict=True)])
    with np.errstate(all="ignore"):
        scale = float(step @ ref / (ref @ ref))
    if np.isfinite(scale) and np.allclose(step, scale * ref, rtol=1e-4, atol=1e-12):
        if scale > 1.5 and np.isclose(scale, round(scale), rtol=1e-4):
            check.stop(problem, f"the first step is {round(scale)} times the expected one: "
                       f"each parameter was updated {round(scale)} times in one step (e.g. p -= "
                       "lr * g and also layer.update_params(lr)), or with a learning rate "
                       f"{round(scale)} times self.lr: update it once, with self.lr (here "
                       f"lr={hp['lr']}).")
        check.stop(problem, f"the first step is {fmt(scale)} times the expected one: step with "
                   f"the learning rate the optimizer was created with (self.lr, here "
                   f"lr={hp['lr']}), not another.")
    if kind not in ("rmsprop", "adam"):
        return
    # At step 1 both divide lr * g by sqrt(g^2) + eps (RMSProp's s is (1 - alpha) g^2):
    # solve for the learner's eps on the small gradients, where it matters.
    g = np.concatenate([a.ravel() for a in grads[0]])
    root = np.abs(g) * (np.sqrt(1 - hp["alpha"]) if kind == "rmsprop" else 1.0)
    small = np.abs(g) < 1e-3
    with np.errstate(all="ignore"):
        eps = np.median((-hp["lr"] * g / step - root)[small])
    rule = (_rmsprop(hp["lr"], hp["alpha"], eps) if kind == "rmsprop"
            else _adam(hp["lr"], hp["betas"], eps))
    if np.isfinite(eps) and eps > 0 and _same(got, _simulate(rule, start, grads, 1)):
        check.stop(problem, f"the update uses eps = {fmt(eps)}, not the eps it was given "
                   f"(eps={hp['eps']}): keep the argument (self.eps = eps) and use it.")


def check_optimizer(cls, kind, *, verbose=True):
    """Check the learner's optimizer class against ``scratchnn.optim`` for ``kind``: "sgd",
    "momentum" (created as cls(lr=0.1, momentum=0.9)), "rmsprop" (cls(lr=0.01, alpha=0.9,
    eps=1e-8)) or "adam" (cls(lr=0.01, betas=(0.9, 0.999), eps=1e-8)); "sgd" is cls(lr=0.1).

    ``opt.step(network)`` is run for several steps on a small network (two of its parameters
    of one shape, so a state keyed by shape shows) with the same gradients given to both, in
    new arrays at every step (so gradient arrays kept from the first step show); the
    first difference is reported with the mistake that explains the learner's parameters for
    the most steps (missing bias correction, momentum sign error, eps inside the square root,
    a hyperparameter ignored for a default, ...; mistakes giving the same numbers are all
    named, and parameters never updated are listed). A step may zero the gradients after
    using them, not change them otherwise. Adam in the paper's efficient form (the
    corrections folded into the learning rate) is followed as right.
    Returns a CheckResult (truthy when passed) and prints the verdict.
    """
    check_class(cls)
    check_kind(kind, KINDS)
    return run_check(f"{cls.__name__} ({kind})", _optimizer_body, cls, kind, verbose=verbose)
