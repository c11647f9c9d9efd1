"""check_capstone: the learner's own parts train the digits, or the failing part is named.

Each training run takes a fraction of a second; a failing one is repeated with one part at a
time replaced by scratchnn's (at most nine more runs).
"""

from __future__ import annotations

import re
import types

import exercise_solutions as S
import numpy as np
import pytest
from exercise_solutions_capstone import train_network
from sklearn.model_selection import train_test_split
from test_exercise_attempts_layers import AdamById, AdamKeepingGradientArrays

from scratchnn.datasets import load_digits
from scratchnn.exercises.capstone import TARGET, CapstoneResult, check_capstone
from scratchnn.exercises.optim import check_optimizer


@pytest.fixture(scope="module")
def data():
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float64), y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train, X_test, y_test


def run(data, loop=train_network, seed=0, **replace):
    """check_capstone on the worked solutions, with some parts replaced."""
    parts = dict(LinearLayer=S.LinearLayer, activation=S.ReLULayer,
                 MultiLayerNetwork=S.MultiLayerNetwork, cross_entropy_loss=S.cross_entropy_loss,
                 init=S.he_normal, optimizer=S.Adam, one_hot=S.one_hot,
                 get_batches=S.get_batches)
    parts.update(replace)
    return check_capstone(loop, data, **parts, seed=seed, verbose=False)


def named(name, obj):
    """``obj`` under the notebook name the checker recognises it by."""
    obj.__name__ = obj.__qualname__ = name
    return obj


def as_adam(cls):
    """A subclass of ``cls`` named Adam (an attempt of the chapter 9 catalogue, left as it is
    there), as the checker recognises the optimizer."""
    return type("Adam", (cls,), {})


# The worked solution, with the two notebook names it uses bound as check_capstone binds them.
solved_loop = types.FunctionType(train_network.__code__, {
    **train_network.__globals__, "get_batches": S.get_batches,
    "cross_entropy_loss": S.cross_entropy_loss})


def text(result):
    return str(result)


# -- the worked solutions -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
def test_the_worked_solutions_train_past_the_target(data, seed):
    result = run(data, seed=seed)
    assert isinstance(result, CapstoneResult)
    assert result, text(result)
    assert result.test_accuracy >= TARGET
    assert len(result.history) == 15 and result.history[-1] < result.history[0] / 5
    assert result.test_predictions.shape == data[3].shape
    # The predictions are the returned network's.
    logits = result.network.forward(data[2])
    assert np.array_equal(np.argmax(logits, axis=1), result.test_predictions)


def test_the_verdict_is_printed_with_the_learning_curve(data, capsys):
    parts = dict(LinearLayer=S.LinearLayer, activation=S.ReLULayer,
                 MultiLayerNetwork=S.MultiLayerNetwork, cross_entropy_loss=S.cross_entropy_loss,
                 init=S.he_normal, optimizer=S.Adam, one_hot=S.one_hot,
                 get_batches=S.get_batches)
    result = check_capstone(train_network, data, **parts)
    printed = capsys.readouterr().out
    assert printed.startswith("capstone: PASSED")
    assert f"test accuracy {result.test_accuracy:.3f}" in printed
    assert f"{result.history[0]:.3g}" in printed and f"{result.history[-1]:.3g}" in printed


# -- correct but unusual --------------------------------------------------------------------------
def loop_without_the_short_batch(network, optimizer, X, Y, epochs, batch_size, rng):
    # As torch's drop_last=True: the 3 leftover rows of each epoch are skipped.
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = []
        for start in range(0, len(X) - batch_size + 1, batch_size):
            rows = order[start:start + batch_size]
            logits = network.forward(X[rows])
            losses.append(S.cross_entropy_loss(Y[rows], logits))
            network.backward(S.cross_entropy_loss(Y[rows], logits, derivative=True))
            optimizer.step(network)
        history.append(np.mean(losses))
    return np.array(history)


def loop_on_labels_shuffled_in_place(network, optimizer, X, Y, epochs, batch_size, rng):
    # Shuffles X and Y together by stacking them, and computes the gradient by hand.
    history = []
    for _ in range(epochs):
        both = np.hstack([X, Y])
        rng.shuffle(both)
        total = 0.0
        for batch in get_batches(both, batch_size):  # noqa: F821 -- bound by the checker
            xb, yb = batch[:, :X.shape[1]], batch[:, X.shape[1]:]
            logits = network.forward(xb)
            total += cross_entropy_loss(yb, logits) * len(xb)  # noqa: F821
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            network.backward((p - yb) / len(xb))
            optimizer.step(network)
        history.append(total / len(X))
    return history


def loop_shuffling_in_place(network, optimizer, X, Y, epochs, batch_size, rng):
    # The same permutation for both, by replaying the generator's state.
    history = []
    for _ in range(epochs):
        state = rng.bit_generator.state
        rng.shuffle(X)
        rng.bit_generator.state = state
        rng.shuffle(Y)
        losses = []
        for xb, yb in zip(S.get_batches(X, batch_size), S.get_batches(Y, batch_size),
                          strict=True):
            logits = network.forward(xb)
            losses.append(S.cross_entropy_loss(yb, logits))
            network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
            optimizer.step(network)
        history.append(np.mean(losses))
    return history


class LinearLayerWithAliases(S.LinearLayer):
    """Keeps W and b as attributes too, the same arrays as in params."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.W, self.b = self.params["W"], self.params["b"]

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b


@pytest.mark.parametrize("loop, replace", [
    (loop_without_the_short_batch, {}),
    (loop_on_labels_shuffled_in_place, {}),
    (loop_shuffling_in_place, {}),
    (train_network, {"optimizer": as_adam(AdamById)}),
    (train_network, {"LinearLayer": named("LinearLayer", LinearLayerWithAliases)}),
    (train_network, {"activation": S.TanhLayer, "init": S.xavier_uniform}),
    (train_network, {"activation": S.LeakyReLULayer}),
    (train_network, {"optimizer": S.Momentum}),
], ids=["drop-last", "stacked-shuffle", "in-place-shuffle", "adam-by-id", "aliased-W",
        "tanh-xavier", "leaky", "momentum"])
def test_correct_but_unusual_parts_pass(data, loop, replace):
    result = run(data, loop, **replace)
    assert result, text(result)
    # Measured on the rows in their own order, whatever the loop did to its copies.
    assert result.train_accuracy >= TARGET


# -- parts not written yet, or failing their own checks -------------------------------------------
def blank(cls, *methods):
    """``cls`` as the notebook gives it: its __init__ written, ``methods`` still to do."""
    def method(self, *args, **kwargs):
        raise NotImplementedError

    return type(cls.__name__, (cls,), dict.fromkeys(methods, method))


def blank_function(name):
    def fn(*args, **kwargs):
        raise NotImplementedError

    return named(name, fn)


def test_parts_not_written_yet_are_listed_and_nothing_is_trained(data):
    result = run(data, optimizer=blank(S.Adam, "step"), one_hot=blank_function("one_hot"))
    assert result.status == "not implemented yet", text(result)
    assert "one_hot" in text(result) and "Adam" in text(result)
    assert result.history == [] and result.test_accuracy is None


def test_a_blank_loop_is_not_implemented_yet(data):
    result = run(data, blank_function("train_network"))
    assert result.status == "not implemented yet", text(result)
    assert "train_network(network, optimizer, X_train, Y_train, 15, 32, rng) raised" in text(result)


def test_everything_blank_is_not_implemented_yet(data):
    result = run(data, blank_function("train_network"),
                 LinearLayer=blank(S.LinearLayer, "forward", "backward", "update_params"),
                 activation=blank(S.ReLULayer, "forward", "backward"),
                 MultiLayerNetwork=blank(S.MultiLayerNetwork, "add", "forward", "backward",
                                         "update_params"),
                 cross_entropy_loss=blank_function("cross_entropy_loss"),
                 init=blank_function("he_normal"), optimizer=blank(S.Adam, "step"),
                 one_hot=blank_function("one_hot"), get_batches=blank_function("get_batches"))
    assert result.status == "not implemented yet"
    for name in ("LinearLayer", "ReLULayer", "MultiLayerNetwork", "cross_entropy_loss",
                 "he_normal", "Adam", "one_hot", "get_batches"):
        assert name in text(result)


class AdamRebinding(S.Adam):
    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                m = self.m.setdefault((i, name), np.zeros_like(p))
                v = self.v.setdefault((i, name), np.zeros_like(p))
                m[...] = b1 * m + (1 - b1) * g
                v[...] = b2 * v + (1 - b2) * g**2
                p = p - self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t))
                                                            + self.eps)


class NetworkBackwardFirstToLast(S.MultiLayerNetwork):
    def backward(self, grad):
        for layer in self.layers:
            grad = layer.backward(grad)
        return grad


class LinearLayerAscending(S.LinearLayer):
    def update_params(self, learning_rate):
        for name in self.params:
            self.params[name] += learning_rate * self.grads[name]


def he_normal_100x(n_in, n_out, rng):
    return 100 * rng.normal(0.0, np.sqrt(2 / n_in), size=(n_in, n_out))


def get_batches_dropping_the_last(x, batch_size):
    return [x[i:i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]


def cross_entropy_summed(y_real, logits, derivative=False):
    # The gradient is not divided by the batch size.
    return S.cross_entropy_loss(y_real, logits, derivative) * len(logits)


@pytest.mark.parametrize("replace, label", [
    ({"optimizer": named("Adam", AdamRebinding)}, "Adam"),
    ({"MultiLayerNetwork": named("MultiLayerNetwork", NetworkBackwardFirstToLast)},
     "MultiLayerNetwork"),
    ({"LinearLayer": named("LinearLayer", LinearLayerAscending)}, "LinearLayer"),
    ({"init": named("he_normal", he_normal_100x)}, "he_normal"),
    ({"get_batches": named("get_batches", get_batches_dropping_the_last)}, "get_batches"),
    ({"cross_entropy_loss": named("cross_entropy_loss", cross_entropy_summed)},
     "cross_entropy_loss"),
], ids=["adam-rebinds", "backward-first-to-last", "update-ascends", "init-100x", "drop-last",
        "loss-summed"])
def test_a_part_failing_its_own_check_is_named_before_any_training(data, replace, label):
    result = run(data, **replace)
    assert result.status == "failed"
    assert f"fix {label} first" in text(result), text(result)
    assert result.history == [] and result.test_accuracy is None


def test_the_first_failing_part_is_named_and_the_rest_listed(data):
    result = run(data, optimizer=named("Adam", AdamRebinding),
                 LinearLayer=named("LinearLayer", LinearLayerAscending),
                 one_hot=blank_function("one_hot"))
    assert "fix LinearLayer first" in text(result)
    assert "Still to do after it: Adam, one_hot." in text(result)


# -- parts that pass their checks but not the whole run -------------------------------------------
def loop_shuffling_inputs_only(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        X_shuffled = X[rng.permutation(len(X))]
        losses = []
        for xb, yb in zip(S.get_batches(X_shuffled, batch_size), S.get_batches(Y, batch_size),
                          strict=True):
            logits = network.forward(xb)
            losses.append(S.cross_entropy_loss(yb, logits))
            network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
            optimizer.step(network)
        history.append(np.mean(losses))
    return history


def loop_shuffling_each_in_place(network, optimizer, X, Y, epochs, batch_size, rng):
    rng.shuffle(X)
    rng.shuffle(Y)  # another permutation: the rows lose their labels
    return solved_loop(network, optimizer, X, Y, epochs, batch_size, rng)


def loop_scaling_the_gradient(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = []
        for xb, yb in zip(S.get_batches(X[order], batch_size),
                          S.get_batches(Y[order], batch_size), strict=True):
            logits = network.forward(xb)
            losses.append(S.cross_entropy_loss(yb, logits))
            # Undoes the loss's division by the batch size, and more.
            network.backward(S.cross_entropy_loss(yb, logits, derivative=True) * 10 * len(xb))
            optimizer.step(network)
        history.append(np.mean(losses))
    return history


def loop_without_a_step(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        losses = []
        for xb, yb in zip(S.get_batches(X, batch_size), S.get_batches(Y, batch_size),
                          strict=True):
            logits = network.forward(xb)
            losses.append(S.cross_entropy_loss(yb, logits))
            network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
        history.append(np.mean(losses))
    return history


def loop_backward_of_the_loss_value(network, optimizer, X, Y, epochs, batch_size, rng):
    for _ in range(epochs):
        for xb, yb in zip(S.get_batches(X, batch_size), S.get_batches(Y, batch_size),
                          strict=True):
            value = S.cross_entropy_loss(yb, network.forward(xb))
            network.backward(value)
            optimizer.step(network)
    return [0.0] * epochs


def loop_of_one_epoch(network, optimizer, X, Y, epochs, batch_size, rng):
    return solved_loop(network, optimizer, X, Y, 1, batch_size, rng)


def loop_returning_nothing(network, optimizer, X, Y, epochs, batch_size, rng):
    solved_loop(network, optimizer, X, Y, epochs, batch_size, rng)


class AdamOfScratchnnNetworks(S.Adam):
    """Passes check_optimizer (whose network is scratchnn's) but needs network.parameters()."""

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for i, (layer, name, p) in enumerate(network.parameters()):
            g = layer.grads[name]
            m = self.m.setdefault(i, np.zeros_like(p))
            v = self.v.setdefault(i, np.zeros_like(p))
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g**2
            p -= self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + self.eps)


@pytest.mark.parametrize("loop, replace, culprit, fragments", [
    (loop_shuffling_inputs_only, {}, "train_network",
     ["about chance", "about ln 10", "one permutation"]),
    (loop_shuffling_each_in_place, {}, "train_network", ["about chance"]),
    (loop_scaling_the_gradient, {"optimizer": S.Momentum}, "train_network",
     ["the training loss grew", "already divided by the batch size"]),
    (loop_without_a_step, {}, "train_network",
     ["left every parameter unchanged", "optimizer.step(network)"]),
    (loop_backward_of_the_loss_value, {}, "train_network",
     ["raised ValueError in LinearLayer.backward"]),
    (loop_of_one_epoch, {}, "train_network",
     ["returned 1 losses for 15 epochs", "for epoch in range(epochs)"]),
    (loop_returning_nothing, {}, "train_network", ["returned None", "`return` statement"]),
    (train_network, {"optimizer": named("Adam", AdamOfScratchnnNetworks)}, "Adam",
     ["raised AttributeError", "has no attribute 'parameters'"]),
], ids=["labels-not-shuffled", "shuffled-apart-in-place", "diverging",
        "no-step", "backward-of-value",
        "one-epoch", "returns-none", "optimizer-needs-parameters"])
def test_a_part_that_breaks_the_run_is_named(data, loop, replace, culprit, fragments):
    copies = [a.copy() for a in data]
    result = run(data, loop, **replace)
    assert all(np.array_equal(a, b) for a, b in zip(data, copies, strict=True))
    assert result.status == "failed"
    assert f"{culprit} is the part to fix" in text(result), text(result)
    for fragment in fragments:
        assert fragment in text(result), (fragment, text(result))


# -- loops watched on a few rows: mistakes a run survives, and right loops that look unusual -------
def epoch_loop(batch, history_of=np.mean, order_of=None):
    """A loop built from one batch step ``batch(network, optimizer, xb, yb) -> loss``:
    the epoch's order from ``order_of(rng, n, epoch)`` (rng.permutation by default) and its
    history entry ``history_of(losses)``."""
    def loop(network, optimizer, X, Y, epochs, batch_size, rng):
        history = []
        for epoch in range(epochs):
            order = (order_of or (lambda r, n, e: r.permutation(n)))(rng, len(X), epoch)
            losses = [batch(network, optimizer, xb, yb) for xb, yb in zip(
                S.get_batches(X[order], batch_size), S.get_batches(Y[order], batch_size),
                strict=True)]
            history.append(history_of(losses))
        return history
    return loop


def usual_batch(network, optimizer, xb, yb):
    logits = network.forward(xb)
    network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
    optimizer.step(network)
    return S.cross_entropy_loss(yb, logits)


def batch_stepping_first(network, optimizer, xb, yb):
    logits = network.forward(xb)
    optimizer.step(network)  # the gradients of the batch before
    network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
    return S.cross_entropy_loss(yb, logits)


def batch_stepping_twice(network, optimizer, xb, yb):
    loss = usual_batch(network, optimizer, xb, yb)
    optimizer.step(network)
    return loss


def batch_with_update_params_too(network, optimizer, xb, yb):
    loss = usual_batch(network, optimizer, xb, yb)
    network.update_params(0.005)
    return loss


def batch_with_update_params_only(network, optimizer, xb, yb):
    logits = network.forward(xb)
    network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
    network.update_params(0.005)
    return S.cross_entropy_loss(yb, logits)


def batch_gradient_not_divided(network, optimizer, xb, yb):
    logits = network.forward(xb)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    network.backward(p / p.sum(axis=1, keepdims=True) - yb)  # the mean's 1 / B forgotten
    optimizer.step(network)
    return S.cross_entropy_loss(yb, logits)


def batch_gradient_negated(network, optimizer, xb, yb):
    logits = network.forward(xb)
    network.backward(-S.cross_entropy_loss(yb, logits, derivative=True))
    optimizer.step(network)
    return S.cross_entropy_loss(yb, logits)


def batch_loss_after_the_step(network, optimizer, xb, yb):
    network.backward(S.cross_entropy_loss(yb, network.forward(xb), derivative=True))
    optimizer.step(network)
    return S.cross_entropy_loss(yb, network.forward(xb))  # measured again, after the step


def loop_with_a_full_set_loss(network, optimizer, X, Y, epochs, batch_size, rng):
    # The epoch's loss measured on the whole training set at its start; batches by index.
    history = []
    for _ in range(epochs):
        history.append(S.cross_entropy_loss(Y, network.forward(X)))
        for rows in S.get_batches(rng.permutation(len(X)), batch_size):
            usual_batch(network, optimizer, X[rows], Y[rows])
    return tuple(history)


def loop_weighting_by_batch_size(network, optimizer, X, Y, epochs, batch_size, rng):
    history, epoch = [], 0
    while epoch < epochs:
        order = np.arange(len(X))
        rng.shuffle(order)
        losses, sizes = [], []
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            losses.append(usual_batch(network, optimizer, X[rows], Y[rows]))
            sizes.append(len(rows))
        history.append(np.average(losses, weights=sizes))
        epoch += 1
    return np.array(history)


def loop_of_fixed_size(network, optimizer, X, Y, epochs, batch_size, rng):
    return solved_loop(network, optimizer, X, Y, 15, 32, rng)


def loop_on_the_whole_set(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        logits = network.forward(X)
        network.backward(S.cross_entropy_loss(Y, logits, derivative=True))
        optimizer.step(network)
        history.append(S.cross_entropy_loss(Y, logits))
    return history


def loop_stepping_once_per_epoch(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = []
        for xb, yb in zip(S.get_batches(X[order], batch_size),
                          S.get_batches(Y[order], batch_size), strict=True):
            logits = network.forward(xb)
            losses.append(S.cross_entropy_loss(yb, logits))
            network.backward(S.cross_entropy_loss(yb, logits, derivative=True))
        optimizer.step(network)
        history.append(np.mean(losses))
    return history


def in_order(rng, n, epoch):
    return np.arange(n)


def sorted_by_a_fixed_draw(rng, n, epoch):
    return np.random.default_rng(7).permutation(n)


def loop_measuring_in_an_evaluation_pass(network, optimizer, X, Y, epochs, batch_size, rng):
    # The epoch's loss from a pass over the batches without steps, before the epoch trains.
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = [S.cross_entropy_loss(yb, network.forward(xb)) for xb, yb in zip(
            S.get_batches(X, batch_size), S.get_batches(Y, batch_size), strict=True)]
        history.append(np.mean(losses))
        for xb, yb in zip(S.get_batches(X[order], batch_size),
                          S.get_batches(Y[order], batch_size), strict=True):
            usual_batch(network, optimizer, xb, yb)
    return history


def loop_slicing_by_hand(network, optimizer, X, Y, epochs, batch_size, rng):
    """A loops-and-lists student: batches sliced from the permutation, no get_batches."""
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses = [usual_batch(network, optimizer, X[order[i:i + batch_size]],
                              Y[order[i:i + batch_size]]) for i in range(0, len(X), batch_size)]
        history.append(sum(losses) / len(losses))
    return history


def loop_batching_the_indices(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        losses = [usual_batch(network, optimizer, X[rows], Y[rows])
                  for rows in S.get_batches(rng.permutation(len(X)), batch_size)]
        history.append(np.mean(losses))
    return history


def loop_reshuffling_its_own_copy(network, optimizer, X, Y, epochs, batch_size, rng):
    # X and Y rebound to a new order every epoch: the orders compound, still one per epoch.
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        X, Y = X[order], Y[order]
        history.append(np.mean([usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X, batch_size), S.get_batches(Y, batch_size), strict=True)]))
    return history


def loop_dropping_the_short_batch(network, optimizer, X, Y, epochs, batch_size, rng):
    # PyTorch's drop_last: a batch shorter than batch_size is left out.
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        history.append(np.mean([usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X[order], batch_size), S.get_batches(Y[order], batch_size),
            strict=True) if len(xb) == batch_size]))
    return history


def loop_yielding_each_epoch(network, optimizer, X, Y, epochs, batch_size, rng):
    # A generator: the epochs run as the caller reads the losses.
    for _ in range(epochs):
        order = rng.permutation(len(X))
        yield float(np.mean([usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X[order], batch_size), S.get_batches(Y[order], batch_size),
            strict=True)]))


def loop_zeroing_the_gradients_first(network, optimizer, X, Y, epochs, batch_size, rng):
    """PyTorch's habit: every gradient set to 0 before each batch's backward."""
    def batch(network, optimizer, xb, yb):
        for layer in network.layers:
            for grad in getattr(layer, "grads", {}).values():
                grad[...] = 0
        return usual_batch(network, optimizer, xb, yb)
    return epoch_loop(batch)(network, optimizer, X, Y, epochs, batch_size, rng)


@pytest.mark.parametrize("loop", [
    loop_yielding_each_epoch,
    loop_zeroing_the_gradients_first,
    loop_slicing_by_hand,
    loop_batching_the_indices,
    loop_reshuffling_its_own_copy,
    loop_dropping_the_short_batch,
    epoch_loop(usual_batch, history_of=lambda losses: np.mean(losses, keepdims=True)),
    loop_measuring_in_an_evaluation_pass,
    epoch_loop(batch_loss_after_the_step),
    loop_with_a_full_set_loss,
    loop_weighting_by_batch_size,
    epoch_loop(usual_batch, order_of=lambda r, n, e: np.random.permutation(n)),  # noqa: NPY002
], ids=["generator", "gradients-zeroed-first", "sliced-by-hand", "batches-of-indices",
        "reshuffled-copy", "short-batch-dropped",
        "one-element-arrays", "evaluation-pass", "loss-after-step", "full-set-loss",
        "weighted-mean", "global-generator"])
def test_unusual_but_right_loops_pass_the_watch(data, loop):
    assert run(data, loop), text(run(data, loop))


def test_a_history_of_other_things_than_numbers_is_named(data):
    result = run(data, epoch_loop(usual_batch, history_of=lambda losses: f"{np.mean(losses):.3f}"))
    assert "train_network is the part to fix" in text(result)
    assert "returned a list whose entry 0 is str" in text(result), text(result)
    result = run(data, epoch_loop(usual_batch, history_of=lambda losses: np.array(losses[:2])))
    assert "returned a list whose entry 0 is ndarray" in text(result), text(result)


def batch_loss_arguments_swapped(network, optimizer, xb, yb):
    logits = network.forward(xb)
    network.backward(S.cross_entropy_loss(logits, yb, derivative=True))
    optimizer.step(network)
    return S.cross_entropy_loss(yb, logits)


def loop_keeping_losses_across_epochs(network, optimizer, X, Y, epochs, batch_size, rng):
    history, losses = [], []  # losses never emptied: each entry averages every epoch so far
    for _ in range(epochs):
        order = rng.permutation(len(X))
        losses += [usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X[order], batch_size), S.get_batches(Y[order], batch_size),
            strict=True)]
        history.append(np.mean(losses))
    return history


def loop_with_a_loss_per_batch(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        history += [usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X[order], batch_size), S.get_batches(Y[order], batch_size),
            strict=True)]
    return history


def loop_with_the_loss_before_training(network, optimizer, X, Y, epochs, batch_size, rng):
    before = S.cross_entropy_loss(Y, network.forward(X))
    return [before] + solved_loop(network, optimizer, X, Y, epochs, batch_size, rng)


def loop_returning_history_and_network(network, optimizer, X, Y, epochs, batch_size, rng):
    return solved_loop(network, optimizer, X, Y, epochs, batch_size, rng), network


def loop_returning_a_dict(network, optimizer, X, Y, epochs, batch_size, rng):
    return {"loss": solved_loop(network, optimizer, X, Y, epochs, batch_size, rng)}


def batch_zeroing_like_pytorch(network, optimizer, xb, yb):
    optimizer.zero_grad()
    return usual_batch(network, optimizer, xb, yb)


@pytest.mark.parametrize("loop, fragments", [
    (epoch_loop(batch_zeroing_like_pytorch), ["no attribute 'zero_grad'",
                                              "every backward replaces the gradients"]),
    (loop_returning_history_and_network, ["returned a tuple whose entry 0 is list",
                                          "return that list alone"]),
    (loop_returning_a_dict, ["returned dict", "return that list alone"]),
    (loop_with_a_loss_per_batch, ["returned 645 losses for 15 epochs", "one per batch",
                                  "once per epoch, after the batch loop"]),
    (loop_with_the_loss_before_training, ["returned 16 losses",
                                          "the loss before training is not one of them"]),
])
def test_a_history_of_the_wrong_length_is_named(data, loop, fragments):
    result = run(data, loop)
    assert "train_network is the part to fix" in text(result), text(result)
    for fragment in fragments:
        assert fragment in text(result), (fragment, text(result))


@pytest.mark.parametrize("loop, fragments", [
    (loop_keeping_losses_across_epochs,
     ["the mean of every batch loss since the first epoch", "losses = [] inside the epoch loop"]),
    (epoch_loop(usual_batch, history_of=lambda losses: losses[-1]),
     ["returns the last batch's loss as epoch 1's loss", "np.mean(losses) once per epoch"]),
    (epoch_loop(usual_batch, history_of=sum), ["the sum of the epoch's batch losses"]),
    (epoch_loop(batch_stepping_first),
     ["calls optimizer.step before the first network.backward", "then optimizer.step"]),
    (epoch_loop(batch_stepping_twice), ["calls optimizer.step 2 times after one backward"]),
    (epoch_loop(batch_with_update_params_too),
     ["calls network.update_params", "the optimizer replaces update_params"]),
    (epoch_loop(batch_gradient_not_divided),
     ["multiplied by the batch size (4)", "already divided by the batch size"]),
    (epoch_loop(usual_batch, order_of=in_order), ["never shuffles", "rng.permutation"]),
    (epoch_loop(usual_batch, order_of=sorted_by_a_fixed_draw),
     ["same order every epoch", "at the start of every epoch"]),
    (loop_of_fixed_size, ["returned 15 losses when called with epochs=3", "epochs argument"]),
], ids=["losses-kept-across-epochs", "last-batch-loss", "summed-history",
        "step-before-backward", "two-steps", "update-params-too", "gradient-times-batch",
        "never-shuffled", "same-order", "fixed-epochs"])
def test_loop_mistakes_that_still_train_are_named(data, loop, fragments):
    result = run(data, loop)
    assert result.status == "failed" and result.test_accuracy >= TARGET, text(result)
    for fragment in fragments:
        assert fragment in text(result), (fragment, text(result))


@pytest.mark.parametrize("loop, fragments", [
    (epoch_loop(batch_gradient_negated),
     ["sign flipped", "the optimizer subtracts it"]),
    (epoch_loop(batch_with_update_params_only),
     ["calls network.update_params", "the optimizer replaces update_params"]),
    (loop_stepping_once_per_epoch, ["calls backward twice without a step between"]),
    (loop_on_the_whole_set, ["made batches of 11 rows when called with batch_size=4",
                             "get_batches(..., batch_size)"]),
    (loop_shuffling_inputs_only, ["labels are not those of their rows", "one permutation"]),
    (epoch_loop(batch_loss_arguments_swapped), ["its arguments swapped", "the labels come first"]),
], ids=["gradient-negated", "update-params-only", "step-per-epoch", "whole-set", "unpaired",
        "loss-arguments-swapped"])
def test_the_watch_names_what_breaks_the_run(data, loop, fragments):
    result = run(data, loop)
    assert result.status == "failed", text(result)
    assert "train_network is the part to fix. Watched on 11 rows" in text(result), text(result)
    for fragment in fragments:
        assert fragment in text(result), (fragment, text(result))


def test_an_optimizer_keeping_old_gradient_arrays_is_named(data):
    # check_optimizer gives new gradient arrays at every step, as the worked backward does: the
    # mistake is named by Adam's own check, before any training.
    result = run(data, optimizer=as_adam(AdamKeepingGradientArrays))
    assert result.status == "failed"
    assert "fix Adam first" in text(result) and "after step 2" in text(result), text(result)
    assert result.history == [] and result.test_accuracy is None
    own = check_optimizer(AdamKeepingGradientArrays, "adam", verbose=False)
    assert "read layer.grads[name] at every step" in text(own), text(own)


# -- wrong arguments to the checker itself --------------------------------------------------------
def test_the_checker_refuses_what_it_cannot_run(data):
    with pytest.raises(ValueError, match="activation must be one of your"):
        run(data, activation=S.SigmoidLayer)
    with pytest.raises(ValueError, match="optimizer must be your Adam or Momentum"):
        run(data, optimizer=S.SGD)
    with pytest.raises(ValueError, match="digits of chapter 7"):
        run((data[0][:, :10],) + data[1:])
    with pytest.raises(TypeError, match=r"\(X_train, y_train, X_test, y_test\)"):
        run(data[:3])


def _loop_on_the_notebooks_digits(network, optimizer, X, Y, epochs, batch_size, rng):
    # X_train and y_train are the notebook's names: the arguments X and Y are never used.
    Y_all = S.one_hot(y_train, 10)  # noqa: F821 -- bound by the test, as a notebook binds it
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X_train))  # noqa: F821
        history.append(np.mean([usual_batch(network, optimizer, xb, yb) for xb, yb in zip(
            S.get_batches(X_train[order], batch_size),  # noqa: F821
            S.get_batches(Y_all[order], batch_size), strict=True)]))
    return history


def test_a_loop_training_on_the_notebooks_digits_instead_of_its_arguments_is_named(data):
    loop = types.FunctionType(_loop_on_the_notebooks_digits.__code__, {
        **_loop_on_the_notebooks_digits.__globals__, "X_train": data[0], "y_train": data[1]})
    result = run(data, loop)
    assert result.status == "failed" and result.test_accuracy >= TARGET, text(result)
    for fragment in ("not in the X it was given", "use the arguments X and Y"):
        assert fragment in text(result), (fragment, text(result))


def loop_casting_to_float32(network, optimizer, X, Y, epochs, batch_size, rng):
    # The rows' bytes change: the watch cannot follow them, and must not blame the loop.
    return solved_loop(network, optimizer, X.astype(np.float32), Y, epochs, batch_size, rng)


def test_a_loop_casting_its_inputs_is_not_blamed(data):
    assert run(data, loop_casting_to_float32), text(run(data, loop_casting_to_float32))



@pytest.mark.parametrize("data, replace, message", [
    ("digits", {}, "data must be (X_train, y_train, X_test, y_test)"),
    (None, {"LinearLayer": 1}, "LinearLayer must be the class you wrote, got int"),
    (None, {"one_hot": "one_hot"}, "one_hot must be the function you wrote, got str"),
])
def test_bad_arguments_are_named(data, replace, message):
    small = (np.zeros((5, 64)), np.zeros(5), np.zeros((5, 64)), np.zeros(5))
    with pytest.raises(TypeError, match=re.escape(message)):
        run(small if data is None else data, **replace)
