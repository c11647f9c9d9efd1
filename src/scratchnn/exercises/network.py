"""Checkers for chapters 2, 6 and 8: forward propagation by hand, the learner's
``MultiLayerNetwork`` and the body of the training loop.

``check_network`` fills the learner's network with scratchnn's own layers, wrapped in spies that
log every call: a wrong network is then told apart by *how* it called its layers (in the wrong
order, with the wrong input), not only by its wrong output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..activations import sigmoid, softmax
from ..layers import Layer, LinearLayer, ReLULayer, TanhLayer
from ..losses import CrossEntropyLoss
from ..network import MultiLayerNetwork
from ._core import (
    as_numbers,
    check_callable,
    check_class,
    close,
    compare,
    finite_difference_check,
    fmt,
    is_empty_body,
    mismatch,
    narrowest_float,
    random_array,
    run_check,
)

LEARNING_RATE = 0.1


# -- chapter 2: forward propagation through a list of weights -------------------------------------
def _forward_propagation_body(check, fn):
    rng = np.random.default_rng(20)
    sizes = [4, 6, 5, 3]
    weights = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.normal(size=(1, b)) for b in sizes[1:]]
    x = rng.normal(size=(7, 4))

    def run(hidden, output, bias=True):
        a = x
        for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
            z = a @ W + (b if bias else 0)
            a = (output if i == len(weights) - 1 else hidden)(z)
        return a

    identity = lambda z: z  # noqa: E731 -- the output layer of a regression network
    derivative = lambda z: sigmoid(z, derivative=True)  # noqa: E731
    expected = run(sigmoid, identity)
    variants = [("the activation belongs to the hidden layers only: the last layer's output "
                 "z = a @ W + b is returned as it is.", run(sigmoid, sigmoid)),
                ("apply the activation after every hidden layer: a = activation(a @ W + b).",
                 run(identity, identity)),
                ("the biases are missing: z = a @ W + b.", run(sigmoid, identity, bias=False)),
                ("the activation comes after the bias is added: a = activation(a @ W + b), "
                 "not activation(a @ W) + b.", _bias_after(x, weights, biases)),
                ("the output layer must have no activation, and the hidden ones must: the "
                 "activation was applied to the last layer only.", run(identity, sigmoid)),
                ("the hidden layers gave the activation's derivative (activation(z, True) or "
                 "derivative=True): forward propagation applies the activation itself, "
                 "a = activation(z); the derivative is for the backward pass.",
                 run(derivative, identity)),
                ("the layers gave the activation's derivative (activation(z, True) or "
                 "derivative=True): forward propagation applies the activation itself, "
                 "a = activation(z), and none after the last layer.",
                 run(derivative, derivative))]
    shapes = (f"x is {x.shape} and the weights are {[w.shape for w in weights]}: "
              "each layer computes a @ W (batch, n_in) @ (n_in, n_out), not W @ a.")
    given = (x.copy(), [w.copy() for w in weights], [b.copy() for b in biases])
    got = check.run(f"forward_propagation(x, weights, biases, sigmoid) with x of shape {x.shape} "
                    f"and {len(weights)} layers", fn, *given, sigmoid,
                    hint=lambda exc: shapes if "matmul" in str(exc) else None)
    if not (close(given[0], x, 0, 0) and all(
            len(g) == len(e) and all(close(a, b, 0, 0) for a, b in zip(g, e, strict=True))
            for g, e in ((given[1], weights), (given[2], biases)))):
        check.fail("forward_propagation changed its arguments (x, or the lists of weights and "
                   "biases).", "read them without changing them: weights[-1] rather than "
                   "weights.pop(), a = a @ W + b rather than in-place updates of x. The caller "
                   "still needs them.")
    if compare(check, got, expected, "the output", variants):
        check.ok(f"a {sizes} network on a batch of {len(x)}: sigmoid hidden layers, linear output")


def _bias_after(x, weights, biases):
    a = x
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        a = a @ W + b if i == len(weights) - 1 else sigmoid(a @ W) + b
    return a


def check_forward_propagation(fn, *, verbose=True):
    """Check ``fn(x, weights, biases, activation)``: x (batch, n_in) through the layers
    a <- activation(a @ W + b) with no activation after the last one, for lists of weights
    (n_in, n_out) and biases (1, n_out), all left as they were. Returns a CheckResult and
    prints the verdict."""
    check_callable(fn)
    return run_check("forward_propagation", _forward_propagation_body, fn, verbose=verbose)


# -- chapter 6: the learner's MultiLayerNetwork ---------------------------------------------------
class _Spy(Layer):
    """A scratchnn layer that logs how the network under test calls it."""

    def __init__(self, inner, index, log):
        super().__init__()
        self.inner, self.index, self.log = inner, index, log
        self.params, self.grads = inner.params, inner.grads

    def forward(self, x):
        self.log.append(("forward", self.index, np.array(x, copy=True)))
        return self.inner.forward(x)

    def backward(self, grad_z, input_grad=True):
        self.log.append(("backward", self.index, np.array(grad_z, copy=True)))
        return self.inner.backward(grad_z, input_grad)

    def update_params(self, learning_rate):
        self.log.append(("update_params", self.index, learning_rate))
        self.inner.update_params(learning_rate)

    def __repr__(self):
        return repr(self.inner)


def _stack(seed):
    rng = np.random.default_rng(seed)
    return [LinearLayer(4, 6, rng=rng, dtype=np.float64), TanhLayer(),
            LinearLayer(6, 5, rng=rng, dtype=np.float64), ReLULayer(),
            LinearLayer(5, 3, rng=rng, dtype=np.float64)]


def _calls(log, kind):
    return [(index, arr) for k, index, arr in log if k == kind]


def _network_body(check, cls):
    net = check.run(f"{cls.__name__}()", cls)
    log = []
    spies = [_Spy(layer, i, log) for i, layer in enumerate(_stack(21))]
    ref = MultiLayerNetwork(_stack(21))
    for spy in spies:
        check.run(f"add({spy!r})", net.add, spy, returns=False)
    layers = getattr(net, "layers", None)
    if not _sequence(layers) or [id(v) for v in layers] != [id(s) for s in spies]:
        if not layers and is_empty_body(net.add):
            check.not_implemented("add(layer): the body is still empty.")
        if _sequence(layers) and [id(v) for v in layers] == [id(s) for s in spies[::-1]]:
            check.stop("net.layers holds the layers in the reverse of the order they were added.",
                       "append the layer to self.layers, at its end: self.layers.append(layer), "
                       "not insert(0, ...). layers[0] is the first layer: optimizers and the "
                       "checks read self.layers in that order.")
        if _copies(layers, spies):
            check.stop("net.layers holds copies of the layers added, not the objects themselves.",
                       "append the layer itself, self.layers.append(layer): the caller keeps "
                       "the layers it added (to read their weights, or to share one between "
                       "networks), and a copy's parameters are not theirs.")
        check.stop(f"after adding {len(spies)} layers, net.layers is {layers!r}.",
                   "add must append the layer to self.layers (a list, in the order added).")
    check.ok(f"add: {len(spies)} layers in order")
    _own_list(check, cls, net)

    x = random_array((5, 4), 22)
    out = check.run(f"forward(X) with X of shape {x.shape}", net.forward, x,
                    hint=lambda exc: _forward_hint(log, x))
    # A network that casts what it passes on (x.astype(np.float32)) is judged at that precision.
    check.low_precision(narrowest_float(out, *(arr for _, _, arr in log)), cls.__name__)
    _check_forward_calls(check, _calls(log, "forward"), ref, x)
    expected = ref.forward(x)
    logits = ("forward returns the last layer's output as it is: a softmax added at the end "
              "belongs to the loss (CrossEntropyLoss takes the logits) or to predict.")
    if compare(check, out, expected, "forward(X)", [(logits, softmax(expected))]):
        check.ok("forward: each layer applied to the previous layer's output")

    log.clear()
    grad = random_array((5, 3), 23)
    dx = check.run(f"backward(grad) with grad of shape {grad.shape}", net.backward, grad,
                   returns=False, hint=lambda exc: _backward_hint(log, grad))
    expected_dx = ref.backward(grad)
    calls = _calls(log, "backward")
    if [id(v) for v in getattr(net, "layers", ())] != [id(s) for s in spies]:
        check.stop("backward changed the order of net.layers.",
                   "self.layers.reverse() reverses the list itself, so the next forward runs the "
                   "layers backwards: loop over reversed(self.layers) or self.layers[::-1], "
                   "which leave the list as it is.")
    check.low_precision(narrowest_float(dx, *(arr for _, arr in calls)), cls.__name__)
    if not calls and dx is None and is_empty_body(net.backward):
        check.not_implemented("backward(grad): the body is still empty.")
    _check_backward_calls(check, calls, ref, grad)
    ok = True
    for i, (spy, ref_layer) in enumerate(zip(spies, ref.layers, strict=True)):
        for name, expected in ref_layer.grads.items():
            ok &= compare(check, spy.grads[name], expected, f"layers[{i}].grads[{name!r}]")
    if dx is None:
        ok = False
        check.fail("backward returned None.", "return the gradient with respect to the network's "
                   "input X: what the first layer's backward returns.")
    else:
        ok &= compare(check, dx, expected_dx, "the returned dL/dX")
    if ok:
        check.ok("backward: layers visited last to first, each given the next layer's gradient")

    _network_update(check, net, spies, ref)
    if not check.messages:
        finite_difference_check(check, net, x, what="dL/dX",
                                blame="backward must return what the first layer's backward "
                                      "returns, for the input forward was last given.")


def _sequence(layers):
    """A list, a tuple, a deque...: layers kept in order, whatever the container."""
    return isinstance(layers, Sequence) and not isinstance(layers, (str, bytes))


def _copies(layers, spies):
    """True when ``layers`` holds other objects of the added layers' classes, in their order."""
    return (_sequence(layers) and len(layers) == len(spies)
            and all(type(v) is type(s) and v is not s for v, s in zip(layers, spies,
                                                                    strict=True)))


def _own_list(check, cls, net):
    """A second network must start empty: a list given as a default argument
    (``def __init__(self, layers=[])``) or kept on the class is shared by every network."""
    other = check.run(f"a second {cls.__name__}()", cls)
    layers = getattr(other, "layers", None)
    if layers is net.layers or (_sequence(layers) and len(layers)):
        check.stop(f"a second {cls.__name__}() starts with the layers added to the first one.",
                   "its list of layers is shared by every network: a default argument "
                   "(layers=[]) is made once, and a list on the class belongs to the class. Make "
                   "a new list in __init__: self.layers = [] (or list(layers or [])).")
    check.ok("a second network starts with no layers")


_FEED_FORWARD = "feed each layer the previous layer's output: x = layer.forward(x)."
_FEED_BACKWARD = ("pass each layer the gradient returned by the layer after it: "
                  "grad = layer.backward(grad).")
_BACKWARDS = ("the network's backward is going forwards through the layers: the gradient flows "
              "from the output back, so visit them last to first: "
              "for layer in reversed(self.layers).")


def _forward_hint(log, x):
    calls = _calls(log, "forward")
    if len(calls) > 1 and close(calls[1][1], x):
        return _FEED_FORWARD
    return None


def _backward_hint(log, grad):
    calls = _calls(log, "backward")
    if calls and calls[0][0] == 0:
        return _BACKWARDS
    if len(calls) > 1 and close(calls[1][1], grad):
        return _FEED_BACKWARD
    return None


def _check_forward_calls(check, calls, ref, x):
    order = [index for index, _ in calls]
    n = len(ref.layers)
    if order != list(range(n)):
        hint = ("run every layer once, first to last: for layer in self.layers: "
                "x = layer.forward(x).")
        if order == list(range(n)) * len(x):
            hint = ("the layers were run once per sample: give each layer the whole batch "
                    "(batch, n_in) at once, as they expect; a layer keeps only its last input "
                    "for backward.")
        check.stop(f"forward called the layers in the order {order}, expected {list(range(n))}.",
                   hint)
    a = x
    for (index, got), layer in zip(calls, ref.layers, strict=True):
        if not close(got, a, check.rtol, check.atol):
            check.stop(f"layers[{index}] was given the wrong input in forward.",
                       _FEED_FORWARD if close(got, x) else None)
        a = layer.forward(a)


def _check_backward_calls(check, calls, ref, grad):
    order = [index for index, _ in calls]
    expected = list(range(len(ref.layers) - 1, -1, -1))
    if order != expected:
        hint = _BACKWARDS if order and order[0] == 0 else (
            "call backward once on every layer, last to first: for layer in "
            "reversed(self.layers).")
        if order == [i for i in expected if ref.layers[i].params]:
            hint += (" Layers without parameters (the activations) too: their backward "
                     "multiplies the gradient by their derivative.")
        check.stop(f"backward visited the layers in the order {order}, expected {expected}.",
                   hint)
    g = grad
    for index, got in calls:
        if not close(got, g, check.rtol, check.atol):
            hint = _FEED_BACKWARD if close(got, grad) else None
            if g is grad:
                hint = ("the last layer's backward is given grad as the network's backward "
                        "received it: grad is already dL/d(output), computed by the loss "
                        "outside the network.")
            check.stop(f"layers[{index}].backward was given the wrong gradient.", hint)
        g = ref.layers[index].backward(g)


def _network_update(check, net, spies, ref):
    rng = np.random.default_rng(24)
    before, given = {}, {}
    for i, (spy, ref_layer) in enumerate(zip(spies, ref.layers, strict=True)):
        for name, p in spy.params.items():
            g = rng.normal(size=p.shape)
            spy.grads[name][...] = g
            ref_layer.grads[name][...] = g
            ref_layer.params[name][...] = p
            before[i, name], given[i, name] = p.copy(), g
    check.run(f"update_params({LEARNING_RATE})", net.update_params, LEARNING_RATE,
              returns=False)
    ref.update_params(LEARNING_RATE)
    if all(close(spies[i].params[name], p, 0, 0) for (i, name), p in before.items()):
        if is_empty_body(net.update_params):
            check.not_implemented("update_params(learning_rate): the body is still empty.")
        check.stop("update_params left every parameter unchanged.",
                   "call layer.update_params(learning_rate) on every layer (one without "
                   "parameters does nothing). The check fills your network with scratchnn's "
                   "layers, so a test such as isinstance(layer, LinearLayer) for your own class "
                   "finds none of them.")
    for (i, name), p in before.items():
        # The gradients as given: a network may zero them after the update (zero_grad).
        g = given[i, name]
        # One wrong parameter is enough to show: the others share the cause.
        compare(check, spies[i].params[name], ref.layers[i].params[name],
                f"layers[{i}].params[{name!r}] after update_params",
                [("this layer was not updated: update_params must call "
                  "layer.update_params(learning_rate) on every layer.", p),
                 ("the parameters moved up the gradient: p -= learning_rate * grad.",
                  p + LEARNING_RATE * g)],
                hint=_step_scale_hint(spies[i].params[name], p, g), fatal=True)
    check.ok("update_params: every layer updated with the learning rate")


def _step_scale_hint(got, before, g):
    """A layer moved by c * learning_rate * grad: updated c times, or with another rate."""
    step, unit = np.asarray(got, dtype=np.float64) - before, -LEARNING_RATE * g
    c = float(np.sum(step * unit) / np.sum(unit * unit))
    if not close(step, c * unit, rtol=1e-6, atol=1e-12):
        return None
    if c > 1.5 and np.isclose(c, round(c)):
        return (f"this layer was updated {round(c)} times: call update_params once on each "
                "layer of self.layers.")
    return (f"this layer moved {fmt(c)} times learning_rate * grad: pass learning_rate to each "
            "layer's update_params unchanged.")


def check_network(cls, *, verbose=True):
    """Check the learner's network class: ``cls()``, ``add(layer)``, ``forward(X)``,
    ``backward(grad)`` (returning dL/dX) and ``update_params(learning_rate)``, filled with
    scratchnn's own layers so that only the network's logic is tested. net.layers must hold
    the layers themselves (not copies), in the order added, in any sequence (list, tuple,
    deque); a second network must start with none of them. Returns a CheckResult
    (truthy when passed) and prints the verdict."""
    check_class(cls)
    return run_check(cls.__name__, _network_body, cls, verbose=verbose)


# -- chapter 8: one step of the training loop -----------------------------------------------------
def _train_step_body(check, fn):
    def make():
        return MultiLayerNetwork.from_sizes([4, 6, 3], activation="tanh", rng=25,
                                            dtype=np.float64)

    net, ref = make(), make()
    rng = np.random.default_rng(26)
    x = rng.normal(size=(8, 4))
    y = np.eye(3)[rng.integers(0, 3, size=8)]
    before = ref.get_weights()

    loss_ref = CrossEntropyLoss()
    expected_loss = loss_ref.forward(y, ref.forward(x))
    ref.backward(loss_ref.backward(), input_grad=False)
    ref.update_params(LEARNING_RATE)
    after_loss = CrossEntropyLoss().forward(y, ref.forward(x))

    returned = check.run(f"train_step(network, x_batch, y_batch, loss, {LEARNING_RATE}) with a "
                         f"batch of {len(x)}", fn, net, x, y, CrossEntropyLoss(), LEARNING_RATE,
                         returns=False, hint=_train_step_hint)
    got = net.get_weights()
    step = [g - b for g, b in zip(got, before, strict=True)]
    want = [r - b for r, b in zip(ref.get_weights(), before, strict=True)]
    if returned is None and not any(s.any() for s in step) and is_empty_body(fn):
        check.not_implemented("train_step: the body is still empty.")
    # loss.forward(y_pred, y_true), PyTorch's order: a step, but on the wrong loss.
    swapped, loss_swapped = make(), CrossEntropyLoss()
    with np.errstate(all="ignore"):
        loss_swapped.forward(swapped.forward(x), y)
        swapped.backward(loss_swapped.backward(), input_grad=False)
    swapped.update_params(LEARNING_RATE)
    moved = [w - b for w, b in zip(swapped.get_weights(), before, strict=True)]
    if any(np.any(m != 0) for m in moved) and all(
            np.allclose(s, m, equal_nan=True) for s, m in zip(step, moved, strict=True)):
        check.stop("the step is one of gradient descent on loss.forward(y_pred, y_batch).",
                   "loss.forward takes the targets first: loss.forward(y_batch, y_pred) "
                   "(scratchnn's order, y_true then y_pred; PyTorch's losses take them the other "
                   "way round).")
    _per_sample(check, make, x, y, before, step)
    _check_step(check, step, want, len(x))
    _check_returned_loss(check, returned, expected_loss, after_loss, len(x))


def _per_sample(check, make, x, y, before, step):
    """A step taken once per sample of the batch (a loop over its rows) is named."""
    net, loss = make(), CrossEntropyLoss()
    for row, target in zip(x, y, strict=True):
        loss.forward(target[None], net.forward(row[None]))
        net.backward(loss.backward(), input_grad=False)
        net.update_params(LEARNING_RATE)
    moved = [w - b for w, b in zip(net.get_weights(), before, strict=True)]
    if all(close(s, m) for s, m in zip(step, moved, strict=True)):
        check.stop(f"the parameters took {len(x)} steps, one per sample of the batch.",
                   "take one step for the whole batch: forward, loss, backward and update once "
                   "on x_batch; the loss's gradient then averages the samples' gradients.")


def _train_step_hint(exc):
    text = str(exc)
    if "grad_z has shape ()" in text:
        return ("network.backward takes dL/d(output), the array loss.backward() returns, not "
                "the loss value.")
    missing = re.match(r"'(MultiLayerNetwork|\w*Loss)' object has no attribute '(\w+)'", text)
    if isinstance(exc, AttributeError) and missing and missing.group(2) == "zero_grad":
        return (f"scratchnn's {missing.group(1)} has no zero_grad: each backward replaces the "
                "gradients (they do not add up as PyTorch's do), so there is nothing to clear.")
    if isinstance(exc, AttributeError) and missing:
        return (f"scratchnn's {missing.group(1)} has no {missing.group(2)}: the step needs only "
                "network.forward, loss.forward, loss.backward, network.backward and "
                "network.update_params.")
    if isinstance(exc, TypeError) and re.search(r"Loss\.backward\(\) takes 1 positional", text):
        return ("loss.backward() takes no arguments: it differentiates the loss of the last "
                "loss.forward(y_batch, y_pred), which kept what it needs.")
    return None


def _check_step(check, step, want, batch):
    s = np.concatenate([a.ravel() for a in step])
    w = np.concatenate([a.ravel() for a in want])
    if close(s, w):
        check.ok("one step: forward, loss, backward, update, as scratchnn's network does it")
        return
    if not s.any():
        check.stop("the parameters did not change.", "after network.backward(loss.backward()), "
                   "call network.update_params(learning_rate).")
    c = float(s @ w / (w @ w))
    if close(s, c * w, rtol=1e-4, atol=1e-9):
        if np.isclose(c, -1, rtol=1e-3):
            hint = ("the parameters moved up the gradient: the step must be p - learning_rate * "
                    "grad, i.e. update_params(learning_rate) with a positive rate.")
        elif np.isclose(c, batch, rtol=1e-3):
            hint = ("the step is batch_size times too large: the loss gradient must be divided "
                    "by the batch size (loss.backward() already does).")
        elif np.isclose(c, 1 / batch, rtol=1e-3):
            hint = "the step is divided by the batch size twice: loss.backward() already is."
        elif np.isclose(c, round(c), rtol=1e-3) and c > 1:
            hint = (f"the parameters were updated {round(c)} times: call "
                    "network.update_params(learning_rate) once per step.")
        else:
            hint = "pass the learning rate unchanged to update_params."
        check.stop(f"the step has the right direction but is {fmt(c)} times the expected one.",
                   hint)
    check.stop("the parameters changed, but not as one step of gradient descent on this batch "
               f"would: {np.count_nonzero(~np.isclose(s, w))} of {s.size} values differ.",
               "the step is: y_pred = network.forward(x_batch); value = loss.forward(y_batch, "
               "y_pred); network.backward(loss.backward()); network.update_params(learning_rate).")


def _check_returned_loss(check, returned, expected, after, batch):
    value = as_numbers(returned)
    if isinstance(returned, (tuple, list)) and (value is None or value.size != 1):
        # (loss, y_pred) or [loss, accuracy]: compare names the item that is the loss.
        among = any(close(item, expected) for item in returned)
        compare(check, returned, expected, "the returned loss",
                hint=None if among else "return loss.forward(y_batch, y_pred), one number.")
    elif returned is None:
        check.fail("train_step returned None.", "return the batch's loss value (a float), so "
                   "that the loop can report the mean loss of the epoch.")
    elif value is None or value.size != 1:
        check.fail(f"train_step returned {type(returned).__name__}, expected the loss value "
                   "(one number).", "return loss.forward(y_batch, y_pred).")
    elif close(value.reshape(()), after):
        check.fail("train_step returned the loss after the update.", "return the loss computed "
                   "in this step's forward pass, before the update.")
    elif check.expect(mismatch(value.reshape(()), expected, "the returned loss"),
                      "loss.forward already returns the mean over the batch: return its value "
                      "as it is." if close(value.reshape(()), batch * expected) else
                      "return loss.forward(y_batch, y_pred)."):
        check.ok("returns the batch's loss")


def check_training_step(fn, *, verbose=True):
    """Check ``fn(network, x_batch, y_batch, loss, learning_rate)``, the body of the training
    loop: one forward, loss, backward and update on a scratchnn network with a
    ``CrossEntropyLoss``, compared with the same step done by scratchnn, and the returned loss.
    Returns a CheckResult (truthy when passed) and prints the verdict."""
    check_callable(fn)
    return run_check("train_step", _train_step_body, fn, verbose=verbose)
