"""Checker for chapter 15, the capstone: the learner's own parts train the digits end to end.

``check_capstone`` builds a 64-64-10 network from the learner's ``LinearLayer``, activation
layer, ``MultiLayerNetwork`` and initialiser, and trains it with the learner's optimizer, loss,
``one_hot``, ``get_batches`` and training loop ``train_network`` on the digits. It works in
four steps:

1. every part must pass its own chapter's check first (run quietly): a part that is not
   written yet or fails its check is named, and nothing is trained;
2. one seeded training run (well under a second) must reach ``TARGET`` test accuracy;
3. the loop is also watched on a few rows (its calls recorded): a step before backward or
   twice per batch, a gradient scaled, negated or with its arguments swapped, labels parted
   from their rows, rows taken from the notebook's X_train instead of the argument X, epochs
   never shuffled, fixed epochs or batch sizes, a history that is not the mean of the epoch's
   batch losses fail even when the network trained;
4. when the run falls short, it is repeated with one part at a time replaced by scratchnn's own
   (same interface, small adapters below). The part whose replacement makes the network train
   is the one to fix; the symptom (parameters unchanged, a loss that is not finite or does not
   fall, accuracy at chance, training accuracy far above the test's) says how.

The learner's loop finds ``cross_entropy_loss`` and ``get_batches`` among the notebook's names;
the checker runs it with those two names bound to the parts it was given, so that the loop,
too, can be run with one of them replaced.
"""

from __future__ import annotations

import functools
import time
import types
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import init as initializers
from ..layers import ACTIVATION_LAYERS, LinearLayer
from ..losses import cross_entropy_loss as reference_cross_entropy
from ..optim import SGD, Adam
from ..utils import get_batches as reference_get_batches
from ..utils import one_hot as reference_one_hot
from ._core import (
    NOT_IMPLEMENTED,
    CheckResult,
    as_numbers,
    check_callable,
    describe,
    fmt,
    run_check,
)
from .data import check_get_batches, check_initializer, check_one_hot
from .layers import check_activation_layer, check_linear_layer
from .losses import check_loss_function
from .network import check_network
from .optim import check_optimizer
from .sanity import zero_grad_hint

TARGET = 0.95  # test accuracy to reach; the worked solutions reach 0.967-0.980 (seeds 0-9)
HIDDEN, N_CLASSES = 64, 10
EPOCHS, BATCH_SIZE = 15, 32
SEARCH_SECONDS = 30  # at most this long looking for the part to fix (a run takes ~0.2 s)
UNIFORM_LOSS = float(np.log(N_CLASSES))  # the cross-entropy of predicting 1/10 for every class
CHANCE = 0.2  # accuracy at or below this is "nothing learned" (chance is 0.1 on ten classes)

# The learner's classes and functions are recognised by their notebook names.
ACTIVATIONS = {"ReLULayer": "relu", "LeakyReLULayer": "leaky_relu", "TanhLayer": "tanh"}
INITIALISERS = ("xavier_uniform", "xavier_normal", "he_uniform", "he_normal")
# Each optimizer's learning rate, tuned on the worked solutions (>= 0.958 on seeds 0-9,
# with ReLU or tanh).
OPTIMIZERS = {"Adam": ("adam", 0.005), "Momentum": ("momentum", 0.05)}


class Parts(NamedTuple):
    """Everything a training run is made of; each field can be the learner's or scratchnn's."""

    train_network: object
    LinearLayer: object
    activation: object
    MultiLayerNetwork: object
    cross_entropy_loss: object
    init: object
    optimizer: object
    one_hot: object
    get_batches: object


# The chapter each part comes from, for "fix ... first (chapter n)".
_CHAPTERS = {"train_network": 15, "LinearLayer": 5, "activation": 5, "MultiLayerNetwork": 6,
             "cross_entropy_loss": 3, "init": 10, "optimizer": 9, "one_hot": 7, "get_batches": 7}


@dataclass
class CapstoneResult(CheckResult):
    """A CheckResult with what the training run left: ``history`` (the mean training loss of
    each epoch, as train_network returned it), ``train_accuracy``, ``test_accuracy``,
    ``test_predictions`` (n_test,) and the trained ``network``. Empty until training ran."""

    history: list = field(default_factory=list)
    train_accuracy: float = None
    test_accuracy: float = None
    test_predictions: np.ndarray = None
    network: object = None


# -- scratchnn's parts, with the learner's interfaces ---------------------------------------------
class ReferenceNetwork:
    """The network of chapter 6: the learner's interface, without scratchnn's extras (whose
    backward passes an argument the learner's layers do not take)."""

    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers.append(layer)
        return self

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def update_params(self, learning_rate):
        for layer in self.layers:
            layer.update_params(learning_rate)


def reference_linear_layer(n_in, n_out, rng=None):
    return LinearLayer(n_in, n_out, rng=rng, dtype=np.float64)


def reference_initialiser(kind):
    def draw(n_in, n_out, rng):
        return initializers.get(kind)((n_in, n_out), rng=rng, dtype=np.float64)
    draw.__name__ = f"scratchnn.init.{kind}"
    return draw


def reference_optimizer(kind):
    """scratchnn's optimizer for ``kind``, created as the learner's is: ``cls(lr=...)``."""
    if kind == "momentum":
        return functools.partial(SGD, momentum=0.9)
    return Adam


def reference_one_hot_float64(labels, n_classes):
    return reference_one_hot(labels, n_classes, dtype=np.float64)


def reference_train_network(network, optimizer, X, Y, epochs, batch_size, rng, *, loss,
                            get_batches):
    """The training loop of chapter 15, with the loss and batching it is given."""
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = []
        for xb, yb in zip(get_batches(X[order], batch_size), get_batches(Y[order], batch_size),
                          strict=True):
            logits = network.forward(xb)
            losses.append(loss(yb, logits))
            network.backward(loss(yb, logits, derivative=True))
            optimizer.step(network)
        history.append(float(np.mean(losses)))
    return history


def _reference(name, parts, kinds):
    """scratchnn's version of the part ``name`` (a field of Parts)."""
    if name == "train_network":
        return functools.partial(reference_train_network, loss=parts.cross_entropy_loss,
                                 get_batches=parts.get_batches)
    return {"LinearLayer": reference_linear_layer,
            "activation": ACTIVATION_LAYERS[kinds["activation"]],
            "MultiLayerNetwork": ReferenceNetwork,
            "cross_entropy_loss": reference_cross_entropy,
            "init": reference_initialiser(kinds["init"]),
            "optimizer": reference_optimizer(kinds["optimizer"]),
            "one_hot": reference_one_hot_float64,
            "get_batches": reference_get_batches}[name]


def _with_names(fn, **names):
    """``fn`` with some of its global names bound to other objects (the notebook's namespace
    itself is left alone). Anything but a plain function is returned as it is."""
    if not isinstance(fn, types.FunctionType):
        return fn
    bound = types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__,
                               fn.__defaults__, fn.__closure__)
    bound.__kwdefaults__ = fn.__kwdefaults__
    return bound


def _loop_of(parts):
    """The learner's train_network, its names cross_entropy_loss and get_batches bound to the
    parts of this run (which may be scratchnn's)."""
    return _with_names(parts.train_network, cross_entropy_loss=parts.cross_entropy_loss,
                       get_batches=parts.get_batches)


# -- step 1: every part passes its own check ------------------------------------------------------
def _own_checks(parts, kinds):
    """[(field, label, CheckResult)] for every part but the loop, in the chapters' order."""
    checks = [
        ("cross_entropy_loss", lambda p: check_loss_function(p, "cross_entropy", verbose=False)),
        ("LinearLayer", lambda p: check_linear_layer(p, verbose=False)),
        ("activation", lambda p: check_activation_layer(p, kinds["activation"], verbose=False)),
        ("MultiLayerNetwork", lambda p: check_network(p, verbose=False)),
        ("one_hot", lambda p: check_one_hot(p, verbose=False)),
        ("get_batches", lambda p: check_get_batches(p, verbose=False)),
        ("optimizer", lambda p: check_optimizer(p, kinds["optimizer"], verbose=False)),
        ("init", lambda p: check_initializer(p, kinds["init"], verbose=False)),
    ]
    return [(name, _label(getattr(parts, name)), run(getattr(parts, name)))
            for name, run in checks]


def _label(part):
    return getattr(part, "__name__", type(part).__name__)


def _gate(check, results):
    """Stop unless every part passed its own check: a failing part first (it needs fixing),
    else the parts not written yet."""
    failed = [(name, label, r) for name, label, r in results
              if not r and r.status != NOT_IMPLEMENTED]
    missing = [label for _, label, r in results if r.status == NOT_IMPLEMENTED]
    if failed:
        name, label, result = failed[0]
        first = result.messages[0].split("\n")[0] if result.messages else ""
        others = [lb for _, lb, _ in failed[1:]] + missing
        check.stop(f"fix {label} first: it fails its own check (chapter {_CHAPTERS[name]}): "
                   f"{first}" + (f" Still to do after it: {', '.join(others)}." if others else ""),
                   f"run {label}'s check above for the whole verdict; nothing was trained.")
    if missing:
        check.not_implemented(f"not written yet: {', '.join(missing)}. Finish them (their checks "
                              "above say what is left), then train_network; nothing was trained.")
    check.ok("every part passes its own check: " + ", ".join(lb for _, lb, _ in results))


# -- step 2: one training run ---------------------------------------------------------------------
@dataclass
class Run:
    """What one training run gave. ``error`` is the report of an exception (or of a wrong
    return value) from the learner's code, None when the run went through; ``error_hint`` the
    advice that came with it."""

    error: str = None
    error_hint: str = None
    not_implemented: bool = False
    history: list = field(default_factory=list)
    initial_loss: float = None
    final_loss: float = None
    train_accuracy: float = None
    test_accuracy: float = None
    test_predictions: np.ndarray = None
    changed: bool = True
    finite: bool = True
    network: object = None

    @property
    def trains(self):
        return self.error is None and self.test_accuracy >= TARGET


def _mean_loss(logits, Y):
    """Cross-entropy of any logits, inf or NaN included (scratchnn's loss refuses those)."""
    with np.errstate(all="ignore"):
        shifted = logits - np.max(logits, axis=1, keepdims=True)
        log_s = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return float(-np.sum(Y * log_s) / len(Y))


def _build(check, parts, rng):
    net = check.run(f"{_label(parts.MultiLayerNetwork)}()", parts.MultiLayerNetwork)
    sizes = [64, HIDDEN, N_CLASSES]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layer = check.run(f"{_label(parts.LinearLayer)}({n_in}, {n_out}, rng=rng)",
                          parts.LinearLayer, n_in, n_out, rng=rng)
        W = check.run(f"{_label(parts.init)}({n_in}, {n_out}, rng)", parts.init, n_in, n_out,
                      rng)
        # In place: a layer may keep other references to its weight array.
        check.run("layer.params['W'][...] = W", _assign, layer, W, returns=False)
        check.run(f"network.add({_label(parts.LinearLayer)}(...))", net.add, layer,
                  returns=False)
        if i < len(sizes) - 2:
            check.run(f"network.add({_label(parts.activation)}())", net.add,
                      check.run(f"{_label(parts.activation)}()", parts.activation), returns=False)
    return net


def _assign(layer, W):
    layer.params["W"][...] = W


def _parameters(net):
    return [np.array(p, dtype=np.float64, copy=True) for layer in net.layers
            for p in getattr(layer, "params", {}).values()]


def _training_body(check, parts, kinds, data, seed, run):
    X_train, y_train, X_test, y_test = data
    rng = np.random.default_rng(seed)
    net = run.network = _build(check, parts, rng)
    Y = check.run(f"{_label(parts.one_hot)}(y_train, {N_CLASSES})", parts.one_hot, y_train,
                  N_CLASSES)
    lr = kinds["lr"]
    optimizer = check.run(f"{_label(parts.optimizer)}(lr={lr})", parts.optimizer, lr=lr)
    before = _parameters(net)
    run.initial_loss = _mean_loss(check.run("network.forward(X_train)", net.forward, X_train), Y)
    loop = _loop_of(parts)
    # Copies: a loop may shuffle X and Y in place, which must reorder neither the notebook's
    # X_train nor the rows the accuracy is measured on.
    history = check.run(f"train_network(network, optimizer, X_train, Y_train, {EPOCHS}, "
                        f"{BATCH_SIZE}, rng)", loop, net, optimizer, X_train.copy(),
                        np.array(Y, copy=True), EPOCHS, BATCH_SIZE, rng, hint=zero_grad_hint)
    values = _history(check, history, -(-len(X_train) // BATCH_SIZE))
    run.history = values
    logits_train = check.run("network.forward(X_train)", net.forward, X_train)
    logits_test = check.run("network.forward(X_test)", net.forward, X_test)
    after = _parameters(net)
    run.changed = len(after) != len(before) or any(
        not np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    with np.errstate(all="ignore"):
        run.finite = bool(np.isfinite(logits_test).all() and np.isfinite(values).all())
    run.final_loss = _mean_loss(logits_train, Y)
    run.train_accuracy = float(np.mean(np.argmax(logits_train, axis=1) == y_train))
    run.test_predictions = np.argmax(logits_test, axis=1)
    run.test_accuracy = float(np.mean(run.test_predictions == y_test))


def _history(check, history, n_batches):
    """The per-epoch losses train_network returned, as a list of floats (``n_batches`` a
    batch per epoch, to name a history of one loss per batch)."""
    hint = ("return the mean training loss of each epoch: history.append(np.mean(losses)) at "
            "the end of every epoch, then return history.")
    try:
        entries = list(history)
    except TypeError:
        entries = None
    if entries is None or isinstance(history, (str, dict)) or (
            isinstance(history, np.ndarray) and history.ndim > 1):
        shape = f" of shape {np.shape(history)}" if isinstance(history, np.ndarray) else ""
        check.stop(f"train_network returned {type(history).__name__}{shape}, expected a list "
                   f"of {EPOCHS} numbers.", _inside_hint(history) or hint)
    values = []
    for i, entry in enumerate(entries):
        number = as_numbers(entry)  # one number, or an array holding one (keepdims=True)
        if number is not None and number.size == 1:
            values.append(float(number.ravel()[0]))
        else:
            check.stop(f"train_network returned a {type(history).__name__} whose entry {i} is "
                       f"{type(entry).__name__} {str(entry)[:40]}, expected {EPOCHS} numbers.",
                       _inside_hint(history) or hint)
    if len(values) != EPOCHS:
        per_batch = len(values) in (EPOCHS * n_batches, EPOCHS * (n_batches - 1))
        check.stop(f"train_network returned {len(values)} losses for {EPOCHS} epochs, expected "
                   "one per epoch" + (f" ({EPOCHS} epochs of {n_batches} batches: one per "
                                      "batch)." if per_batch else "."),
                   "collect the batch losses of an epoch in a list and append their mean to "
                   "history once per epoch, after the batch loop." if per_batch else
                   "one entry per epoch, the mean of its batch losses: the loss before training "
                   "is not one of them." if len(values) == EPOCHS + 1 else
                   "loop `for epoch in range(epochs)` and append the mean of the epoch's batch "
                   "losses once per epoch.")
    return values


def _inside_hint(history):
    """Advice when a tuple or dict holds the list of EPOCHS losses among other things."""
    items = history.values() if isinstance(history, dict) else (
        history if isinstance(history, tuple) else ())
    for item in items:
        numbers = None if isinstance(item, (str, bytes)) else as_numbers(item)
        if numbers is not None and numbers.shape == (EPOCHS,):
            return (f"the {EPOCHS} losses are in there: return that list alone (the network is "
                    "trained in place, the caller has it already).")
    return None


def _train(parts, kinds, data, seed):
    """One seeded training run of ``parts``; never raises for the learner's code."""
    run = Run()
    result = run_check("training", _training_body, parts, kinds, data, seed, run, verbose=False)
    if result.messages:
        run.error, _, run.error_hint = result.messages[0].partition("\nHint: ")
        run.error_hint = run.error_hint or None
        run.not_implemented = result.status == NOT_IMPLEMENTED
    return run


# -- the loop itself, watched on a few rows -------------------------------------------------------
# The training run judges the result; this run judges the loop's steps, which a run can survive
# (a step taken before backward, the last batch's loss as the epoch's, rows never shuffled).
PROBE_ROWS, PROBE_BATCH, PROBE_EPOCHS = 11, 4, 3  # batches of 4, 4 and 3 rows


class _Spy:
    """Passes every call through to ``target`` (a network or an optimizer) and writes the calls
    that make a training step into ``log``: ("forward", x, logits), ("backward", grad),
    ("step",), ("update_params",)."""

    def __init__(self, target, log):
        self._target, self._log = target, log

    def __getattr__(self, name):
        if name in ("_target", "_log"):  # not set yet: a copy being made (copy.deepcopy)
            raise AttributeError(name)
        return getattr(self._target, name)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        out = self._target.forward(x)
        self._log.append(("forward", np.array(x, dtype=np.float64),
                          np.array(out, dtype=np.float64)))
        return out

    def backward(self, grad):
        self._log.append(("backward", np.array(grad, dtype=np.float64)))
        return self._target.backward(grad)

    def update_params(self, *args, **kwargs):
        self._log.append(("update_params",))
        return self._target.update_params(*args, **kwargs)

    def step(self, network):
        self._log.append(("step",))
        return self._target.step(network)


def _loss_gradient(logits, Y):
    """dL/dlogits of the mean cross-entropy: (softmax(logits) - Y) / batch."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    s = np.exp(shifted)
    return (s / s.sum(axis=1, keepdims=True) - Y) / len(Y)


def _probe_body(check, parts, kinds, data, seed, out):
    X_train, y_train = data[0], data[1]
    # Rows told apart by their bytes: keep the first PROBE_ROWS distinct ones.
    _, first = np.unique(X_train, axis=0, return_index=True)
    rows = np.sort(first)[:PROBE_ROWS]
    X = np.ascontiguousarray(X_train[rows], dtype=np.float64)
    Y = reference_one_hot_float64(y_train[rows], N_CLASSES)
    rng = np.random.default_rng(seed + 1)
    log = []
    network = _Spy(_build(check, parts, rng), log)
    optimizer = _Spy(check.run("optimizer", parts.optimizer, lr=kinds["lr"]), log)
    history = check.run("train_network", _loop_of(parts), network, optimizer, X.copy(), Y.copy(),
                        PROBE_EPOCHS, PROBE_BATCH, rng)
    out["finding"] = _judge_loop(log, history, X, Y, X_train)


def _probe(parts, kinds, data, seed):
    """(problem, hint) for a mistake seen in the learner's loop on a few rows, else None.
    Anything the probe cannot follow (an error, rows it cannot recognise) finds nothing: the
    training run reports errors itself."""
    out = {}
    result = run_check("probe", _probe_body, parts, kinds, data, seed, out, verbose=False)
    return None if result.messages else out.get("finding")


def _index_of(rows):
    """{a row's bytes (as float64): its index} for the rows of a 2-D array."""
    return {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(rows, np.float64))}


def _row_indices(x, index):
    """The rows of the probe's X that ``x``'s rows are, or None when one is not among them."""
    found = [index.get(row.tobytes()) for row in np.ascontiguousarray(x, dtype=np.float64)]
    return None if None in found else np.array(found)


_ORDER = ("each batch: logits = network.forward(xb); network.backward(cross_entropy_loss(yb, "
          "logits, derivative=True)); then optimizer.step(network), once.")


def _judge_loop(log, history, X, Y, X_train):
    """The first mistake the calls in ``log`` and the returned ``history`` show, as
    (problem, hint), or None. ``X_train``: the notebook's digits, of which X holds a few rows."""
    index = _index_of(X)
    batches, forwards, pending = [], [], None
    for event in log:
        if event[0] == "forward":
            rows = _row_indices(event[1], index)
            if rows is None and _row_indices(event[1], _index_of(X_train)) is not None:
                return ("trains on rows of the notebook's X_train that are not in the X it was "
                        f"given ({len(X)} rows)", "use the arguments X and Y inside "
                        "train_network, not the notebook's X_train and y_train: the caller "
                        "decides what it trains on.")
            if rows is None or event[2].shape != (len(rows), N_CLASSES):
                return None  # inputs the probe cannot follow
            # [batches so far, rows, logits, whether a backward used them]
            pending = [len(batches), rows, event[2], False]
            forwards.append(pending)
        elif event[0] == "update_params":
            return ("calls network.update_params", "the optimizer replaces update_params: call "
                    "optimizer.step(network) after each backward, and no update_params.")
        elif event[0] == "backward":
            if batches and batches[-1]["steps"] == 0:
                return ("calls backward twice without a step between", _ORDER)
            if pending is None:
                return None
            pending[3] = True
            batches.append({"rows": pending[1], "logits": pending[2], "grad": event[1],
                            "steps": 0})
        elif not batches:
            return ("calls optimizer.step before the first network.backward: each step then "
                    "uses the gradients of the batch before", _ORDER)
        else:
            batches[-1]["steps"] += 1
    if not batches:
        return None
    if any(b["steps"] != 1 for b in batches):
        many = max(b["steps"] for b in batches)
        return (f"calls optimizer.step {many} times after one backward" if many > 1 else
                "does not call optimizer.step after every backward", _ORDER)
    for b in batches:
        finding = _judge_gradient(b, Y)
        if finding:
            return finding
    return _judge_epochs(batches, forwards, history, X, Y)


def _judge_gradient(batch, Y):
    expected = _loss_gradient(batch["logits"], Y[batch["rows"]])
    got = batch["grad"]
    if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-4, atol=1e-7):
        return None
    if got.shape != expected.shape:
        return (f"gives network.backward {describe(got)}, expected the loss gradient "
                f"cross_entropy_loss(yb, logits, derivative=True), {describe(expected)}",
                "pass cross_entropy_loss(yb, logits, derivative=True) to network.backward.")
    factor = float(np.sum(got * expected) / np.sum(expected * expected))
    if np.allclose(got, factor * expected, rtol=1e-4, atol=1e-7):
        if np.isclose(factor, -1):
            return ("gives network.backward the loss gradient with its sign flipped: the steps "
                    "then climb the loss", "pass cross_entropy_loss(yb, logits, "
                    "derivative=True) to network.backward as it is; the optimizer subtracts it.")
        times = (f"the batch size ({len(expected)})" if np.isclose(factor, len(expected))
                 else fmt(factor))
        return (f"gives network.backward the loss gradient multiplied by {times}",
                "pass cross_entropy_loss(yb, logits, derivative=True) to network.backward as "
                "it is: it is already divided by the batch size, and the optimizer's learning "
                "rate sets the size of the step.")
    swapped = _loss_gradient(Y[batch["rows"]], batch["logits"])
    if np.allclose(got, swapped, rtol=1e-4, atol=1e-7):
        return ("gives network.backward cross_entropy_loss(logits, yb, derivative=True), its "
                "arguments swapped", "the labels come first: cross_entropy_loss(yb, logits, "
                "derivative=True), as in chapter 3.")
    # (softmax - Y') / B with Y' one-hot but not the batch's labels: the rows lost their labels.
    labels = (_loss_gradient(batch["logits"], 0 * expected) - got) * len(expected)
    if (np.allclose(labels, np.round(labels), atol=1e-4)
            and np.allclose(labels.sum(axis=1), 1, atol=1e-4)):
        return ("trains on batches whose labels are not those of their rows",
                "shuffle the inputs and the labels with one permutation: order = "
                "rng.permutation(len(X)), then X[order] and Y[order].")
    return ("gives network.backward something else than the batch's loss gradient "
            "cross_entropy_loss(yb, logits, derivative=True)", "pass cross_entropy_loss(yb, "
            "logits, derivative=True) to network.backward as it is, with yb the labels of xb's "
            "rows.")


def _judge_epochs(batches, forwards, history, X, Y):
    values = [as_numbers(v) for v in history] if isinstance(history, (list, tuple,
                                                                    np.ndarray)) else [None]
    if any(v is None or v.size != 1 for v in values):
        return None  # the training run names a history that is not a list of numbers
    values = [float(v.ravel()[0]) for v in values]
    n = len(X)
    if len(values) != PROBE_EPOCHS:
        return (f"returned {len(values)} losses when called with epochs={PROBE_EPOCHS}",
                "loop `for epoch in range(epochs)`, with the epochs argument, not a fixed number.")
    largest = max(len(b["rows"]) for b in batches)
    if largest > PROBE_BATCH:
        return (f"made batches of {largest} rows when called with batch_size={PROBE_BATCH}",
                "cut the epoch with get_batches(..., batch_size), the argument, not a fixed "
                "number.")
    if len(batches) % PROBE_EPOCHS:
        return (f"took {len(batches)} steps in {PROBE_EPOCHS} epochs, not the same number each "
                "epoch", _ORDER)
    per_epoch = len(batches) // PROBE_EPOCHS
    orders = []
    for e in range(PROBE_EPOCHS):
        order = np.concatenate([b["rows"] for b in batches[e * per_epoch:(e + 1) * per_epoch]])
        if len(np.unique(order)) < len(order) or len(order) < n - PROBE_BATCH + 1:
            return (f"visited {len(np.unique(order))} distinct rows of {n} in an epoch of "
                    f"{len(order)} rows", "every epoch covers each row of the shuffled training "
                    "set once: zip(get_batches(X[order], batch_size), get_batches(Y[order], "
                    "batch_size)).")
        orders.append(tuple(order))
    if len(set(orders)) == 1:
        if orders[0] == tuple(range(len(orders[0]))):
            return ("never shuffles: every epoch visits the rows in their own order",
                    "at the start of every epoch: order = rng.permutation(len(X)), then "
                    "X[order] and Y[order].")
        return ("visits the rows in the same order every epoch",
                "draw a new order = rng.permutation(len(X)) at the start of every epoch.")
    for e, value in enumerate(values):
        finding = _judge_history(e, value, batches[:(e + 1) * per_epoch], per_epoch,
                                 [f for f in forwards
                                  if e * per_epoch <= f[0] <= (e + 1) * per_epoch], Y)
        if finding:
            return finding
    return None


def _judge_history(e, value, so_far, per_epoch, forwards, Y):
    """None when ``value`` is epoch e's loss: the mean of its batch losses (plain or weighted
    by the batch sizes), the same measured again without a step, or the loss on the whole
    training set; else (problem, hint), naming the last batch's loss, the sum or the mean of
    every batch so far. ``so_far``: the batches up to the end of epoch e, ``per_epoch`` each."""
    batches = so_far[-per_epoch:]
    losses = np.array([_mean_loss(b["logits"], Y[b["rows"]]) for b in batches])
    sizes = np.array([len(b["rows"]) for b in batches])
    right = [losses.mean(), np.average(losses, weights=sizes)]
    right += [_mean_loss(logits, Y[rows]) for _, rows, logits, _ in forwards
              if len(rows) == len(Y)]
    # Losses measured again without a step (after each step, or in a pass of their own before
    # or after the epoch's steps) are the epoch's losses too.
    start = min(count for count, *_ in forwards)
    for before in (True, False):
        again = [(_mean_loss(logits, Y[rows]), len(rows))
                 for count, rows, logits, training in forwards
                 if (count == start) == before and not training and len(rows) < len(Y)]
        if again:
            again = np.array(again)
            right += [again[:, 0].mean(), np.average(again[:, 0], weights=again[:, 1])]
    if any(np.isclose(value, r, rtol=1e-4, atol=1e-7) for r in right):
        return None
    wrong = [("the last batch's loss", losses[-1], "collect the batch losses in a list and "
              "append np.mean(losses) once per epoch, after its last batch."),
             ("the sum of the epoch's batch losses", losses.sum(), "append np.mean(losses), "
              "the mean of the epoch's batch losses, not their sum."),
             ("the mean of every batch loss since the first epoch", np.mean(
                 [_mean_loss(b["logits"], Y[b["rows"]]) for b in so_far]) if e else None,
              "start the list of batch losses afresh at every epoch (losses = [] inside the "
              "epoch loop): kept across epochs, it averages the old losses in.")]
    for what, wrong_value, hint in wrong:
        if wrong_value is not None and np.isclose(value, wrong_value, rtol=1e-4, atol=1e-7):
            return (f"returns {what} as epoch {e + 1}'s loss ({fmt(value)}; the mean of the "
                    f"epoch's batch losses is {fmt(right[0])})", hint)
    return (f"returns {fmt(value)} as epoch {e + 1}'s loss; the mean of that epoch's batch "
            f"losses is {fmt(right[0])}", "history.append(np.mean(losses)), with losses the "
            "values cross_entropy_loss(yb, logits) of the epoch's batches.")


# -- step 3: the symptom and the part responsible -------------------------------------------------
def _curve(values):
    return " ".join(f"{v:.3g}" for v in values)


def _symptom(run):
    """(kind, sentence): what went wrong in ``run``, the first that applies of "error",
    "unchanged", "not finite", "diverged", "unpaired" (chance, at the loss of a uniform guess),
    "chance", "flat", "overfit" and "low"."""
    if run.error is not None:
        return "error", run.error.rstrip(".")
    if not run.changed:
        return "unchanged", "training left every parameter unchanged"
    if not run.finite:
        return "not finite", "the loss or the network's outputs became infinite or NaN"
    if run.final_loss > 1.5 * max(run.initial_loss, UNIFORM_LOSS):
        return "diverged", (f"the training loss grew from {fmt(run.initial_loss)} to "
                            f"{fmt(run.final_loss)}")
    if run.test_accuracy <= CHANCE:
        kind = "unpaired" if abs(run.final_loss - UNIFORM_LOSS) < 0.2 else "chance"
        return kind, (f"the network learned nothing: test accuracy {run.test_accuracy:.3f}, "
                      f"about chance (0.1), and a training loss of {fmt(run.final_loss)}, "
                      f"about ln 10 = {UNIFORM_LOSS:.3f}, that of a uniform guess"
                      if kind == "unpaired" else
                      f"the network learned nothing: test accuracy {run.test_accuracy:.3f}, "
                      "about chance (0.1)")
    if run.final_loss >= run.initial_loss:
        return "flat", (f"the training loss did not fall (from {fmt(run.initial_loss)} to "
                        f"{fmt(run.final_loss)})")
    if run.train_accuracy >= TARGET + 0.03:
        return "overfit", (f"training accuracy {run.train_accuracy:.3f} but test accuracy "
                           f"{run.test_accuracy:.3f}: the network fits the training digits "
                           "and not new ones")
    return "low", f"test accuracy {run.test_accuracy:.3f}, below {TARGET}"


_TOO_LARGE = ("the steps are too large: give network.backward the gradient "
              "cross_entropy_loss(yb, logits, derivative=True) as it is (it is already divided "
              "by the batch size), and call optimizer.step(network) once per batch.")


def _hint(name, label, run, kind):
    """How ``name``'s part (the culprit) typically causes a run's symptom ``kind``."""
    if run.error_hint is not None:
        return run.error_hint
    if name == "train_network":
        if kind == "unchanged":
            return "after network.backward(...), call optimizer.step(network) on every batch."
        if kind in ("diverged", "not finite"):
            return _TOO_LARGE
        if kind == "unpaired":
            return ("shuffle the inputs and the labels with one permutation: order = "
                    "rng.permutation(len(X)), then X[order] and Y[order] (a row of X must keep "
                    "its label).")
        return ("each batch: logits = network.forward(xb); network.backward(cross_entropy_loss("
                "yb, logits, derivative=True)); optimizer.step(network); and every epoch covers "
                "the whole shuffled training set.")
    if name == "optimizer":
        if kind == "unchanged":
            return ("step must change every layer.params[name] in place (p -= ...): `p = p - ...`"
                    " only rebinds a local name.")
        return (f"{label}.step passed its check on scratchnn's network: does it use anything "
                "that network has and yours lacks, keep arrays of layer.grads from an earlier "
                "step (a backward may store new ones: read layer.grads[name] at every step), or "
                "not keep its state per parameter (one entry per layer and name)?")
    if name == "MultiLayerNetwork":
        return ("the optimizer reads network.layers: it must hold every layer added, the "
                "objects themselves, in order.")
    if name == "LinearLayer":
        return (f"{label} passed its check but does not learn in a network: do forward and "
                "backward use the arrays in self.params and self.grads (the optimizer reads and "
                "changes those)?")
    if name == "init":
        return f"{label}'s scale: too large and the activations explode, too small and they vanish."
    return f"{label} passed its own check but differs from scratchnn's where training needs it."


def _diagnose(check, parts, kinds, data, seed, run, finding=None):
    """Name the part whose replacement by scratchnn's makes the run train; stops the check.
    ``finding``, (problem, hint) from watching the loop, explains a loop to fix."""
    kind, symptom = _symptom(run)
    curve = f" Losses by epoch: {_curve(run.history)}." if run.history else ""
    if run.test_accuracy is not None and "test accuracy" not in symptom:
        curve += f" Test accuracy {run.test_accuracy:.3f}."
    order = ["train_network", "optimizer", "MultiLayerNetwork", "LinearLayer", "activation",
             "init", "cross_entropy_loss", "one_hot", "get_batches"]
    start = time.perf_counter()
    for name in order:
        if time.perf_counter() - start > SEARCH_SECONDS:
            check.stop(f"{symptom}.{curve} The runs with one part replaced by scratchnn's took "
                       f"over {SEARCH_SECONDS} s, so the search for the part to fix stopped.",
                       "is one of your parts slow (a Python loop over the entries of an "
                       "array)? Compare each part with the chapter that introduced it.")
        swapped = _train(parts._replace(**{name: _reference(name, parts, kinds)}), kinds, data,
                         seed)
        if swapped.trains:
            label = name if name == "train_network" else _label(getattr(parts, name))
            hint, seen = _hint(name, label, run, kind), ""
            if name == "train_network" and finding and run.error_hint is None:
                seen = f" Watched on {PROBE_ROWS} rows, train_network {finding[0]}."
                hint = finding[1]
            check.stop(f"{symptom}.{curve} With scratchnn's version of {label} in place of yours "
                       f"(and everything else yours), the same run reaches test accuracy "
                       f"{swapped.test_accuracy:.3f}: {label} is the part to fix.{seen}", hint)
    check.stop(f"{symptom}.{curve} No single part, replaced by scratchnn's, makes the run train: "
               "more than one part is wrong.", "compare each part with the chapter that "
               "introduced it; start with train_network.")


def _capstone_body(check, parts, kinds, data, seed, out):
    _gate(check, _own_checks(parts, kinds))
    run = _train(parts, kinds, data, seed)
    out.update(history=run.history, train_accuracy=run.train_accuracy,
               test_accuracy=run.test_accuracy, test_predictions=run.test_predictions,
               network=run.network)
    if run.not_implemented:
        check.not_implemented(run.error)
    finding = _probe(parts, kinds, data, seed)
    if run.trains:
        check.ok(f"trained a 64-{HIDDEN}-10 network ({_label(parts.LinearLayer)}, "
                 f"{_label(parts.activation)}, {_label(parts.init)}, {_label(parts.optimizer)}, "
                 f"{EPOCHS} epochs in batches of {BATCH_SIZE}, seed {seed}); loss by epoch: "
                 f"{_curve(run.history)}")
        check.ok(f"test accuracy {run.test_accuracy:.3f} (>= {TARGET}), training accuracy "
                 f"{run.train_accuracy:.3f}")
        if finding:
            problem, hint = finding
            check.fail(f"yet train_network {problem} (seen on {PROBE_ROWS} rows, "
                       f"{PROBE_EPOCHS} epochs in batches of {PROBE_BATCH}).", hint)
        return
    _diagnose(check, parts, kinds, data, seed, run, finding)


def _kinds(activation, init, optimizer):
    kinds = {"activation": ACTIVATIONS.get(_label(activation)),
             "init": _label(init) if _label(init) in INITIALISERS else None,
             "optimizer": OPTIMIZERS.get(_label(optimizer), (None,))[0],
             "lr": OPTIMIZERS.get(_label(optimizer), (None, None))[1]}
    if kinds["activation"] is None:
        raise ValueError(f"activation must be one of your {sorted(ACTIVATIONS)} classes, "
                         f"got {activation!r}.")
    if kinds["init"] is None:
        raise ValueError(f"init must be one of your initialisers {list(INITIALISERS)}, "
                         f"got {init!r}.")
    if kinds["optimizer"] is None:
        raise ValueError(f"optimizer must be your {' or '.join(OPTIMIZERS)} class (the run's "
                         f"learning rate is tuned for those), got {optimizer!r}.")
    return kinds


def _check_data(data):
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise TypeError("data must be (X_train, y_train, X_test, y_test), the digits of "
                        "chapter 7.")
    X_train, y_train, X_test, y_test = data
    for X, y in ((X_train, y_train), (X_test, y_test)):
        if np.ndim(X) != 2 or np.shape(X)[1] != 64 or len(X) != len(y):
            raise ValueError("data must be the digits of chapter 7: X of shape (n, 64) and "
                             f"labels y of shape (n,), got X {np.shape(X)} and y {np.shape(y)}.")
    return (np.asarray(X_train), np.asarray(y_train), np.asarray(X_test), np.asarray(y_test))


def check_capstone(train_network, data, *, LinearLayer, activation, MultiLayerNetwork,  # noqa: N803
                   cross_entropy_loss, init, optimizer, one_hot, get_batches, seed=0,
                   verbose=True):
    """Train the digits with the learner's own parts and judge the result.

    Parameters
    ----------
    train_network : callable
        ``train_network(network, optimizer, X, Y, epochs, batch_size, rng)`` -> list of the
        ``epochs`` mean training losses; X (n, 64), Y one-hot (n, 10). It may use the names
        ``cross_entropy_loss`` and ``get_batches``: it is run with them bound to the parts below.
    data : tuple
        ``(X_train, y_train, X_test, y_test)``, the digits of chapter 7 (labels as integers).
    LinearLayer, activation, MultiLayerNetwork : classes
        The learner's; ``activation`` is ReLULayer, LeakyReLULayer or TanhLayer.
    cross_entropy_loss, one_hot, get_batches : functions
        The learner's, as in chapters 3 and 7.
    init : function
        The learner's initialiser ``init(n_in, n_out, rng)`` -> (n_in, n_out), e.g. he_normal.
    optimizer : class
        The learner's Adam or Momentum, created as ``optimizer(lr=...)``.
    seed : int
        Seeds the initial weights and the shuffling.

    The network is 64 -> LinearLayer -> activation -> LinearLayer -> 10 logits, with weights
    drawn by ``init``, trained for 15 epochs in batches of 32. Returns a CapstoneResult (truthy
    when the test accuracy reaches 0.95) and prints the verdict.
    """
    parts = Parts(train_network, LinearLayer, activation, MultiLayerNetwork, cross_entropy_loss,
                  init, optimizer, one_hot, get_batches)
    for name, value in parts._asdict().items():
        kind = "class" if name in ("LinearLayer", "activation", "MultiLayerNetwork",
                                   "optimizer") else "function"
        check_callable(value, name, kind)
    data = _check_data(data)
    kinds = _kinds(activation, init, optimizer)
    out = {}
    result = run_check("capstone", _capstone_body, parts, kinds, data, seed, out, verbose=False)
    result = CapstoneResult(**vars(result), **out)
    if verbose:
        # The verdict is what the learner reads.
        print(result)
    return result
