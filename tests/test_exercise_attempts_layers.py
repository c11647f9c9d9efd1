"""Second round of learners' attempts at chapters 5, 6, 8 and 9 (layers, network, training step,
optimizers), written by other kinds of students than tests/test_exercise_attempts.py's: one coming
from PyTorch (W and b as attributes, zero_grad, __call__, gradients that accumulate), one from Keras
(build(), Sequential(layers)), one who loops over the batch, one who over-engineers with caches
and properties, one who keeps everything in dicts keyed by id, one in float32, one who copies the
notebook's formulas literally. Each attempt is registered with ``@correct(checker, ...)`` (must
pass) or ``@wrong(checker, ..., hint=...)`` (must fail, naming its mistake); its docstring says in
one line what is unusual about it or what the mistake is. ``absent`` lists hints that would
mislead for that attempt.
"""

from __future__ import annotations

import copy
import functools

import exercise_solutions as sol
import numpy as np
import pytest
from scipy.special import expit
from verdicts import Attempts

import scratchnn as sn
from scratchnn.exercises import (
    check_activation_layer,
    check_linear_layer,
    check_network,
    check_optimizer,
    check_training_step,
)
from scratchnn.exercises._core import rough_gradcheck

attempts = Attempts()
correct, wrong = attempts.correct, attempts.wrong


# -- LinearLayer -----------------------------------------------------------------------------------
@correct(check_linear_layer)
class LinearLayerTorchStyle:
    """PyTorch's habits in a class of its own: self.W and self.b as attributes, params and grads
    as read-only properties built from them, a zero_grad method, __call__ for forward."""

    def __init__(self, n_in, n_out, rng=None):
        rng = np.random.default_rng(rng)
        self.W = rng.normal(0, 0.1, (n_in, n_out))
        self.b = np.zeros((1, n_out))
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    @property
    def params(self):
        return {"W": self.W, "b": self.b}

    @property
    def grads(self):
        return {"W": self.dW, "b": self.db}

    def zero_grad(self):
        self.dW[...] = 0
        self.db[...] = 0

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_z):
        self.dW = self.x.T @ grad_z
        self.db = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.W.T

    def update_params(self, learning_rate):
        self.W -= learning_rate * self.dW
        self.b -= learning_rate * self.db


@wrong(check_linear_layer, hint=("give params a setter", "Layer's __init__"))
class LinearLayerTorchStyleOnLayer(sn.Layer):
    """The same read-only properties on a subclass of scratchnn.Layer, whose __init__ sets
    self.params = {}: the class cannot be built, and is told why."""

    params, grads = LinearLayerTorchStyle.params, LinearLayerTorchStyle.grads
    forward, backward = LinearLayerTorchStyle.forward, LinearLayerTorchStyle.backward
    update_params = LinearLayerTorchStyle.update_params

    def __init__(self, n_in, n_out, rng=None):
        super().__init__()
        LinearLayerTorchStyle.__init__(self, n_in, n_out, rng)


@wrong(check_linear_layer, hint=("added this batch's gradient", "zero_grad"))
class LinearLayerTorchAccumulates(LinearLayerTorchStyle):
    """PyTorch's accumulation: backward adds to dW and db, zero_grad is expected to reset them."""

    def backward(self, grad_z):
        self.dW += self.x.T @ grad_z
        self.db += grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.W.T


@correct(check_linear_layer)
class LinearLayerKerasBuild(sn.Layer):
    """Keras's habit: the weights made by build(n_in), called from __init__; call() as forward."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__()
        self.units, self.rng = n_out, np.random.default_rng(rng)
        self.params, self.grads = {}, {}
        self.build(n_in)

    def build(self, n_in):
        self.params["W"] = self.rng.normal(0, 0.1, (n_in, self.units))
        self.params["b"] = np.zeros((1, self.units))
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def call(self, x):
        return x @ self.params["W"] + self.params["b"]

    def forward(self, x):
        self.inputs = x
        return self.call(x)

    def backward(self, grad_z):
        self.grads["W"] = self.inputs.T @ grad_z
        self.grads["b"] = np.sum(grad_z, axis=0, keepdims=True)
        return grad_z @ self.params["W"].T

    def update_params(self, learning_rate):
        for key, value in self.params.items():
            value -= learning_rate * self.grads[key]


@correct(check_linear_layer)
class LinearLayerRowByRow(sol.LinearLayer):
    """Forward and backward one sample at a time, in Python loops."""

    def forward(self, x):
        self.x = x
        return np.array([row @ self.params["W"] + self.params["b"][0] for row in x])

    def backward(self, grad_z):
        W = self.params["W"]
        self.grads["W"] = sum(np.outer(x, g) for x, g in zip(self.x, grad_z, strict=True))
        self.grads["b"] = sum(g for g in grad_z)[None, :]
        return np.stack([W @ g for g in grad_z])


_STATE = {}


@correct(check_linear_layer)
class LinearLayerStateKeyedById(sol.LinearLayer):
    """Keeps its input in a module-level dict keyed by id(self): one entry per layer."""

    def forward(self, x):
        _STATE[id(self)] = {"x": x}
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        x = _STATE[id(self)]["x"]
        self.grads = {"W": x.T @ grad_z, "b": grad_z.sum(0, keepdims=True)}
        return grad_z @ self.params["W"].T


@correct(check_linear_layer)
class LinearLayerCachedProperties(sol.LinearLayer):
    """Over-engineered: W and b as properties over params, a cache dict, np.matmul with out=."""

    W = property(lambda self: self.params["W"])
    b = property(lambda self: self.params["b"])

    def forward(self, x):
        self.cache = {"x": x, "z": np.matmul(x, self.W) + self.b}
        return self.cache["z"]

    def backward(self, grad_z):
        np.matmul(self.cache["x"].T, grad_z, out=self.grads["W"])
        np.sum(grad_z, axis=0, keepdims=True, out=self.grads["b"])
        return np.matmul(grad_z, self.W.T)


@wrong(check_linear_layer, hint="item 0 is the right answer")
class LinearLayerReturnsACache(sol.LinearLayer):
    """CS231n's affine_forward: returns (out, cache)."""

    def forward(self, x):
        out = super().forward(x)
        return out, (x, self.params["W"], self.params["b"])


@wrong(check_linear_layer, hint="item 0 is the right answer")
class LinearLayerBackwardReturnsAllGradients(sol.LinearLayer):
    """CS231n's affine_backward: returns (dx, dW, db)."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        return dx, self.grads["W"], self.grads["b"]


@wrong(check_linear_layer, hint="copy")
class LinearLayerCopiesItsWeights(sol.LinearLayer):
    """forward uses copies self.W, self.b made in __init__: updates to params never reach it."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.W, self.b = self.params["W"].copy(), self.params["b"].copy()

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_z):
        self.grads["W"] = self.x.T @ grad_z
        self.grads["b"] = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.W.T


@wrong(check_linear_layer, hint="give 'rng' a default")
class LinearLayerNeedsAnRng(sol.LinearLayer):
    """rng made a required argument: LinearLayer(4, 3) cannot be built."""

    def __init__(self, n_in, n_out, rng):
        super().__init__(n_in, n_out, rng)


@correct(check_linear_layer)
class LinearLayerInFloat32Throughout(sol.LinearLayer):
    """Parameters, input and gradients all float32 (no dtype= to be rebuilt with)."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x.astype(np.float32)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        grad_z = grad_z.astype(np.float32)
        return super().backward(grad_z)


@correct(check_linear_layer)
class LinearLayerUpdateWithNewArrays(sol.LinearLayer):
    """update_params rebinds the dict entries to new arrays (not in place)."""

    def update_params(self, learning_rate):
        for name in list(self.params):
            self.params[name] = self.params[name] - learning_rate * self.grads[name]


# -- activation layers -----------------------------------------------------------------------------
@correct(check_activation_layer, "relu")
class ReLULayerCopyAndMask(sn.Layer):
    """A copy of x with its negative entries set to 0; the mask kept."""

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, grad_z):
        out = grad_z.copy()
        out[self.mask] = 0
        return out


@correct(check_activation_layer, "relu")
class ReLULayerHeaviside(sn.Layer):
    """np.heaviside(x, 0.5): a slope of 1/2 at x = 0, a valid subgradient."""

    def forward(self, x):
        self.x = x
        return x * np.heaviside(x, 0.5) + 0.0 * (x == 0)

    def backward(self, grad_z):
        return grad_z * np.heaviside(self.x, 0.5)


@wrong(check_activation_layer, "sigmoid", hint="changed")
class SigmoidLayerReusesItsOutput(sn.Layer):
    """backward turns the stored output into the derivative in place: the array forward returned
    (which the next layer, or the loss, still holds) changes."""

    def forward(self, x):
        self.a = expit(x)
        return self.a

    def backward(self, grad_z):
        self.a *= 1 - self.a
        return grad_z * self.a


@correct(check_activation_layer, "sigmoid")
class SigmoidLayerBothBranches(sn.Layer):
    """np.where over both stable branches (one overflows where it is not used)."""

    def forward(self, x):
        with np.errstate(over="ignore", invalid="ignore"):
            self.a = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


@correct(check_activation_layer, "sigmoid")
class SigmoidLayerInFloat32(sn.Layer):
    """Computes in float32 (e^1000 is inf there too: 1 / (1 + inf) = 0 is right)."""

    def forward(self, x):
        with np.errstate(over="ignore"):
            self.a = 1 / (1 + np.exp(-x.astype(np.float32)))
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


@correct(check_activation_layer, "tanh")
class TanhLayerViaSigmoid(sn.Layer):
    """tanh(x) = 2 sigmoid(2x) - 1, the derivative from the output."""

    def forward(self, x):
        self.out = 2 * expit(2 * x) - 1
        return self.out

    def backward(self, grad_z):
        return grad_z * (1 - self.out * self.out)


@correct(check_activation_layer, "softmax")
class SoftmaxLayerRowLoops(sn.Layer):
    """One row at a time: np.diagflat(s) - np.outer(s, s), times the row's gradient."""

    def forward(self, x):
        shifted = x - x.max(axis=1, keepdims=True)
        self.s = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return self.s

    def backward(self, grad_z):
        rows = [(np.diagflat(s) - np.outer(s, s)) @ g for s, g in zip(self.s, grad_z,
                                                                      strict=True)]
        return np.array(rows)


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerKeywordOnly(sn.Layer):
    """alpha keyword-only and kept as a float; forward with np.maximum(x, alpha * x)."""

    def __init__(self, *, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        self.x = x
        return np.maximum(x, self.alpha * x)

    def backward(self, grad_z):
        return grad_z * np.where(self.x > 0, 1.0, self.alpha)


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerClassAttribute(sn.Layer):
    """The slope a class attribute (no __init__ at all)."""

    alpha = 0.05

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, grad_z):
        return np.where(self.x > 0, grad_z, self.alpha * grad_z)


# -- the network -----------------------------------------------------------------------------------
@wrong(check_network, hint="holds copies of the layers added")
class NetworkDeepCopies(sol.MultiLayerNetwork):
    """add keeps copy.deepcopy(layer): the layers the caller holds never train."""

    def add(self, layer):
        self.layers.append(copy.deepcopy(layer))
        return self


@wrong(check_network, hint="shared by every network")
class NetworkMutableDefault(sol.MultiLayerNetwork):
    """Keras-like Sequential(layers=[]): the default list is shared by every network made."""

    def __init__(self, layers=[]):  # noqa: B006 - the learner's mistake under test
        self.layers = layers


@wrong(check_network, hint="shared by every network")
class NetworkClassList(sol.MultiLayerNetwork):
    """layers = [] on the class and no __init__: every network appends to the same list."""

    layers = []  # noqa: RUF012 - the learner's mistake under test

    def __init__(self):
        pass


@correct(check_network)
class NetworkKerasSequential:
    """Sequential(layers=None) with a copy of the list given, __call__ and predict."""

    def __init__(self, layers=None):
        self.layers = list(layers or [])

    def add(self, layer):
        self.layers.append(layer)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def predict(self, x):
        return self.forward(x).argmax(axis=1)

    def backward(self, grad):
        for layer in self.layers[::-1]:
            grad = layer.backward(grad)
        return grad

    def update_params(self, learning_rate):
        for layer in self.layers:
            layer.update_params(learning_rate)


@correct(check_network)
class NetworkDictById:
    """Keeps the layers in a dict keyed by id, layers a property listing them in order."""

    def __init__(self):
        self._by_id = {}

    @property
    def layers(self):
        return list(self._by_id.values())

    def add(self, layer):
        self._by_id[id(layer)] = layer
        return self

    def forward(self, x):
        return functools.reduce(lambda a, layer: layer.forward(a), self.layers, x)

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def update_params(self, learning_rate):
        for layer in self.layers:
            layer.update_params(learning_rate)


@correct(check_network)
class NetworkStepsTheParameters(sol.MultiLayerNetwork):
    """update_params does SGD itself over every layer's params and grads."""

    def update_params(self, learning_rate):
        for layer in self.layers:
            for name, p in layer.params.items():
                p -= learning_rate * layer.grads[name]


@correct(check_network)
class NetworkKeepsActivations(sol.MultiLayerNetwork):
    """Keeps every layer's output in a list (a cache) and zeroes the gradients after updating,
    PyTorch's zero_grad."""

    def forward(self, x):
        self.outputs = [x]
        for layer in self.layers:
            self.outputs.append(layer.forward(self.outputs[-1]))
        return self.outputs[-1]

    def update_params(self, learning_rate):
        super().update_params(learning_rate)
        for layer in self.layers:
            for g in layer.grads.values():
                g[...] = 0


# -- the training step -----------------------------------------------------------------------------
@correct(check_training_step)
def train_step_loss_called(network, x_batch, y_batch, loss, learning_rate):
    """loss(y_true, y_pred) as a call; the value returned as a Python float via .item()."""
    value = loss(y_batch, network(x_batch))
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return np.asarray(value).item()


@correct(check_training_step)
def train_step_float32_batch(network, x_batch, y_batch, loss, learning_rate):
    """Casts the batch to float32 first (the network stays float64)."""
    x_batch = np.asarray(x_batch, dtype=np.float32)
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value


@wrong(check_training_step, hint="item 0 is the right answer")
def train_step_returns_loss_and_predictions(network, x_batch, y_batch, loss, learning_rate):
    """Returns (loss, y_pred), to compute the accuracy too."""
    y_pred = network.forward(x_batch)
    value = loss.forward(y_batch, y_pred)
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value, y_pred


@correct(check_training_step)
def train_step_per_layer(network, x_batch, y_batch, loss, learning_rate):
    """The network's loops written out: forward and backward through network.layers by hand."""
    a = x_batch
    for layer in network.layers:
        a = layer.forward(a)
    value = loss.forward(y_batch, a)
    g = loss.backward()
    for layer in reversed(network.layers):
        g = layer.backward(g)
    for layer in network.layers:
        layer.update_params(learning_rate)
    return value


# -- optimizers ------------------------------------------------------------------------------------
@correct(check_optimizer, "sgd")
class SGDThroughTheLayers:
    """Lets each layer take the step: layer.update_params(self.lr)."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers:
            layer.update_params(self.lr)


@wrong(check_optimizer, "sgd", hint="step(self, network)")
class SGDTorchConstructor:
    """PyTorch's signature: the network given to the constructor, step() without it."""

    def __init__(self, lr, network=None):
        self.lr, self.network = lr, network

    def step(self):
        for layer in self.network.layers:
            for name, p in layer.params.items():
                p -= self.lr * layer.grads[name]


@correct(check_optimizer, "momentum")
class MomentumNegativeVelocity:
    """v = momentum * v - lr * g; p += v (the other sign convention)."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.momentum * self.v.get((i, name), 0.0) - self.lr * layer.grads[name]
                self.v[i, name] = v
                p += v


@correct(check_optimizer, "momentum")
class MomentumFloat32State:
    """Velocities kept in float32."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.v.setdefault((i, name), np.zeros(p.shape, dtype=np.float32))
                v[...] = self.momentum * v + layer.grads[name]
                p -= self.lr * v


@correct(check_optimizer, "rmsprop")
class RMSPropFloat32State:
    """The running average kept in float32."""

    def __init__(self, lr, alpha=0.99, eps=1e-8):
        self.lr, self.alpha, self.eps, self.s = lr, alpha, eps, {}

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                s = self.s.setdefault((i, name), np.zeros(p.shape, dtype=np.float32))
                s[...] = self.alpha * s + (1 - self.alpha) * g * g
                p -= self.lr * g / (np.sqrt(s) + self.eps)


@correct(check_optimizer, "adam")
class AdamListBetasAndPower:
    """betas unpacked from a list, np.power for the corrections, t as a float."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = lr, list(betas), eps
        self.state, self.t = {}, 0.0

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1.0
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                m, v = self.state.get((i, name), (0.0, 0.0))
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * np.square(g)
                self.state[i, name] = (m, v)
                p -= self.lr * (m / (1 - np.power(b1, self.t))) / (
                    np.sqrt(v / (1 - np.power(b2, self.t))) + self.eps)


# -- second batch ----------------------------------------------------------------------------------
@wrong(check_linear_layer, hint="nn.Linear")
class LinearLayerTorchShape(sn.Layer):
    """PyTorch's nn.Linear layout: W of shape (n_out, n_in) and z = x @ W.T + b."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__()
        self.params = {"W": np.random.default_rng(rng).normal(0, 0.1, (n_out, n_in)),
                       "b": np.zeros((1, n_out))}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, grad_z):
        self.grads["W"] = grad_z.T @ self.x
        self.grads["b"] = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"]

    def update_params(self, learning_rate):
        for name, p in self.params.items():
            p -= learning_rate * self.grads[name]


@correct(check_linear_layer)
class LinearLayerBiasByOnes(sol.LinearLayer):
    """dL/db as a row of ones times grad_z; forward with np.dot and a flat bias added."""

    def forward(self, x):
        self.x = x
        return np.dot(x, self.params["W"]) + self.params["b"].ravel()

    def backward(self, grad_z):
        self.grads["W"] = np.dot(self.x.T, grad_z)
        self.grads["b"] = np.ones((1, len(grad_z))) @ grad_z
        return np.dot(grad_z, self.params["W"].T)


@correct(check_activation_layer, "sigmoid")
class SigmoidLayerClipsItsInput(sn.Layer):
    """Clips x to [-500, 500] before np.exp (exact to float64's precision)."""

    def forward(self, x):
        self.a = 1 / (1 + np.exp(-np.clip(x, -500, 500)))
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


@wrong(check_activation_layer, "relu", hint="give 'name' a default")
class ReLULayerNeedsAName(sn.Layer):
    """Keras's habit of naming layers: ReLULayer(name) with no default."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    forward, backward = sol.ReLULayer.forward, sol.ReLULayer.backward


@correct(check_activation_layer, "leaky_relu")
class LeakyReLULayerFloat32Slope(sol.LeakyReLULayer):
    """alpha kept as np.float32(alpha), with **kwargs accepted."""

    def __init__(self, alpha=0.01, **kwargs):
        super().__init__(np.float32(alpha))


@correct(check_activation_layer, "softmax")
class SoftmaxLayerScipy(sn.Layer):
    """scipy.special.softmax over axis -1; backward with one einsum."""

    def forward(self, x):
        from scipy.special import softmax
        self.s = softmax(x, axis=-1)
        return self.s

    def backward(self, grad_z):
        return self.s * grad_z - self.s * np.einsum("bi,bi->b", self.s, grad_z)[:, None]


@wrong(check_network, hint="Layers without parameters (the activations) too")
class NetworkBackwardSkipsActivations(sol.MultiLayerNetwork):
    """backward only through layers with parameters: the activations' derivatives are lost."""

    def backward(self, grad):
        for layer in reversed(self.layers):
            if layer.params:
                grad = layer.backward(grad)
        return grad


@correct(check_network)
class NetworkInADeque(sol.MultiLayerNetwork):
    """The layers in a collections.deque."""

    def __init__(self):
        from collections import deque
        self.layers = deque()


@wrong(check_training_step, hint="has no zero_grad")
def train_step_zero_grad(network, x_batch, y_batch, loss, learning_rate):
    """PyTorch's loop: network.zero_grad() first."""
    network.zero_grad()
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value


@correct(check_training_step)
def train_step_zeroes_by_hand(network, x_batch, y_batch, loss, learning_rate):
    """Zeroes every gradient by hand before the step (harmless)."""
    for layer in network.layers:
        for g in layer.grads.values():
            g[...] = 0
    value = loss.forward(y_batch, network.forward(x_batch))
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value


@wrong(check_training_step, hint="loss.backward() takes no arguments")
def train_step_loss_backward_with_arguments(network, x_batch, y_batch, loss, learning_rate):
    """loss.backward(y_batch, y_pred), as chapter 3's loss functions took their inputs."""
    y_pred = network.forward(x_batch)
    value = loss.forward(y_batch, y_pred)
    network.backward(loss.backward(y_batch, y_pred))
    network.update_params(learning_rate)
    return value


@wrong(check_optimizer, "momentum", hint=("the learning rate was applied twice", "dampening"))
class MomentumLearningRateTwice:
    """v = momentum * v + lr * g and then p -= lr * v: the rate applied twice."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.v[i, name] = (self.momentum * self.v.get((i, name), 0.0)
                                       + self.lr * layer.grads[name])
                p -= self.lr * v


@correct(check_optimizer, "momentum")
class MomentumStateByPosition:
    """Velocities in a list, one per parameter in order, made at the first step."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def step(self, network):
        params = [(p, layer.grads[n]) for layer in network.layers for n, p in layer.params.items()]
        if self.v is None:
            self.v = [np.zeros_like(p) for p, _ in params]
        for v, (p, g) in zip(self.v, params, strict=True):
            v *= self.momentum
            v += g
            p -= self.lr * v


@correct(check_optimizer, "adam")
class AdamEpsHat:
    """The paper's efficient form with eps scaled to match: eps_hat = eps * sqrt(1 - b2 ** t),
    which is the usual formula exactly."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.m, self.v, self.t = lr, betas, eps, {}, {}, 0

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        eps_hat = self.eps * np.sqrt(1 - b2**self.t)
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g, key = layer.grads[name], (i, name)
                self.m[key] = b1 * self.m.get(key, 0) + (1 - b1) * g
                self.v[key] = b2 * self.v.get(key, 0) + (1 - b2) * g * g
                p -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + eps_hat)


@correct(check_optimizer, "adam")
class AdamFloat32State:
    """m and v kept in float32."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.m, self.v, self.t = lr, betas, eps, {}, {}, 0

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                m = self.m.setdefault((i, name), np.zeros(p.shape, np.float32))
                v = self.v.setdefault((i, name), np.zeros(p.shape, np.float32))
                m[...] = b1 * m + (1 - b1) * g
                v[...] = b2 * v + (1 - b2) * g * g
                p -= self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + self.eps)


# -- third batch -----------------------------------------------------------------------------------
@wrong(check_linear_layer, hint="forward gave the same output again", absent=("wrong formula",))
class LinearLayerMemoisesForward(sol.LinearLayer):
    """Over-engineered: forward returns its last output again when given the same x object, so
    it misses every change to the parameters."""

    def forward(self, x):
        if getattr(self, "x", None) is not x:
            self.x, self.out = x, x @ self.params["W"] + self.params["b"]
        return self.out


@wrong(check_linear_layer, hint="step with the learning_rate update_params is given")
class LinearLayerOwnLearningRate(sol.LinearLayer):
    """update_params steps with a rate of its own, 0.01, whatever it is given."""

    def update_params(self, learning_rate):
        super().update_params(0.01)


@correct(check_linear_layer)
class LinearLayerClipsItsGradients(sol.LinearLayer):
    """Over-engineered: gradients clipped at +-1e3 (never reached on the check's inputs)."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        self.grads = {k: np.clip(g, -1e3, 1e3) for k, g in self.grads.items()}
        return dx


_BY_ID = {}


@correct(check_activation_layer, "tanh")
class TanhLayerStateById(sn.Layer):
    """Keeps its output in a module-level dict keyed by id(self)."""

    def forward(self, x):
        _BY_ID[id(self)] = np.tanh(x)
        return _BY_ID[id(self)]

    def backward(self, grad_z):
        return grad_z * (1 - _BY_ID[id(self)] ** 2)


@wrong(check_activation_layer, "softmax", hint="one number per row")
class SoftmaxLayerDotOfRows(sol.SoftmaxLayer):
    """The notebook's <g, s> taken literally as np.dot(grad_z, s.T): every row with every row."""

    def backward(self, grad_z):
        return self.s * (grad_z - np.dot(grad_z, self.s.T))


@correct(check_activation_layer, "relu")
class ReLULayerIntegerMask(sn.Layer):
    """The mask kept as integers, (x > 0).astype(int)."""

    def forward(self, x):
        self.mask = (x > 0).astype(int)
        return x * self.mask

    def backward(self, grad_z):
        return grad_z * self.mask


# -- fourth batch: optimizer state keyed in unusual ways -------------------------------------------
@wrong(check_optimizer, "momentum", hint="not by p.shape")
class MomentumKeyedByShape:
    """Velocities keyed by p.shape: the biases of two layers of one width share one."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                v = self.v[p.shape] = self.momentum * self.v.get(p.shape, 0.0) + layer.grads[name]
                p -= self.lr * v


@wrong(check_optimizer, "adam", hint="not by p.shape")
class AdamKeyedByShape:
    """m and v keyed by p.shape."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.m, self.v, self.t = lr, betas, eps, {}, {}, 0

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for layer in network.layers:
            for name, p in layer.params.items():
                g, key = layer.grads[name], p.shape
                self.m[key] = b1 * self.m.get(key, 0) + (1 - b1) * g
                self.v[key] = b2 * self.v.get(key, 0) + (1 - b2) * g * g
                p -= self.lr * (self.m[key] / (1 - b1**self.t)) / (
                    np.sqrt(self.v[key] / (1 - b2**self.t)) + self.eps)


@correct(check_optimizer, "momentum")
class MomentumKeyedByLayerAndName:
    """Velocities keyed by (id(layer), name), in a collections.defaultdict of floats."""

    def __init__(self, lr, momentum=0.9):
        from collections import defaultdict
        self.lr, self.momentum, self.v = lr, momentum, defaultdict(float)

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                key = (id(layer), name)
                self.v[key] = self.momentum * self.v[key] + layer.grads[name]
                p -= self.lr * self.v[key]


# -- fifth batch: a batch of one sample ------------------------------------------------------------
@wrong(check_linear_layer, hint="the batch axis was dropped")
class LinearLayerSqueezes(sol.LinearLayer):
    """np.squeeze on dL/dx (to tidy shapes): a batch of one loses its batch axis."""

    def backward(self, grad_z):
        return np.squeeze(super().backward(grad_z))


@wrong(check_activation_layer, "softmax", hint="the batch axis was dropped")
class SoftmaxLayerSqueezes(sol.SoftmaxLayer):
    """forward squeezes its output."""

    def forward(self, x):
        return np.squeeze(super().forward(x))


@correct(check_activation_layer, "softmax")
class SoftmaxLayerReshapesRows(sn.Layer):
    """Each row reshaped to a column and back, (n, 1) at a time: works for any batch size."""

    def forward(self, x):
        self.s = np.vstack([sol.softmax(row.reshape(1, -1)) for row in x])
        return self.s

    def backward(self, grad_z):
        return np.vstack([s.reshape(1, -1) * (g - g @ s) for s, g in zip(self.s, grad_z,
                                                                         strict=True)])


# -- sixth batch -----------------------------------------------------------------------------------
@wrong(check_linear_layer, hint="not an array of floats")
class LinearLayerIntegerBias(sol.LinearLayer):
    """The bias made with np.zeros((1, n_out), dtype=int): b -= lr * g cannot cast back."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.params["b"] = np.zeros((1, n_out), dtype=int)


@wrong(check_linear_layer, hint="not an array of floats")
class LinearLayerBiasAsAList(sol.LinearLayer):
    """The bias a list of zeros."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.params["b"] = [[0.0] * n_out]


@wrong(check_network, hint="in the reverse of the order")
class NetworkInsertsAtTheFront(sol.MultiLayerNetwork):
    """add inserts each layer at the front; forward and backward read the list accordingly."""

    def add(self, layer):
        self.layers.insert(0, layer)

    def forward(self, x):
        for layer in reversed(self.layers):
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in self.layers:
            grad = layer.backward(grad)
        return grad


# -- seventh batch: forward passes copied from the one-sample functions ---------------------------
@wrong(check_activation_layer, "softmax", hint="normalised over the whole batch")
class SoftmaxLayerWholeBatch(sol.SoftmaxLayer):
    """Chapter 3's softmax of one vector applied to the batch: e / e.sum() over every entry."""

    def forward(self, x):
        e = np.exp(x - x.max())
        self.s = e / e.sum()
        return self.s


@wrong(check_activation_layer, "softmax", hint="normalised over axis 0")
class SoftmaxLayerOverColumns(sol.SoftmaxLayer):
    """Normalised over axis 0."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=0))
        self.s = e / e.sum(axis=0)
        return self.s


@wrong(check_activation_layer, "sigmoid", hint="the sign of the exponent is flipped")
class SigmoidLayerPositiveExponent(sn.Layer):
    """1 / (1 + e^x)."""

    def forward(self, x):
        self.a = expit(-x)
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


@correct(check_activation_layer, "softmax")
class SoftmaxLayerFloat32(sn.Layer):
    """Computes in float32, the derivative from the kept output."""

    def forward(self, x):
        z = x.astype(np.float32)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s

    def backward(self, grad_z):
        return self.s * (grad_z - (grad_z * self.s).sum(axis=1, keepdims=True))


@correct(check_activation_layer, "tanh")
class TanhLayerClippedExponentials(sn.Layer):
    """(e^2x - 1) / (e^2x + 1) with x clipped to [-20, 20] (tanh is 1 to float64 there)."""

    def forward(self, x):
        e2 = np.exp(2 * np.clip(x, -20, 20))
        self.a = (e2 - 1) / (e2 + 1)
        return self.a

    def backward(self, grad_z):
        return grad_z * (1 - self.a**2)


# -- eighth batch: Keras's lazy build --------------------------------------------------------------
@wrong(check_linear_layer, hint="Keras's build()")
class LinearLayerUnitsOnly(sn.Layer):
    """Keras's Dense(units): the input size learnt at the first forward, by build()."""

    def __init__(self, units):
        super().__init__()
        self.units = units

    def build(self, n_in):
        self.params = {"W": np.zeros((n_in, self.units)), "b": np.zeros((1, self.units))}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        if not self.params:
            self.build(x.shape[1])
        return sol.LinearLayer.forward(self, x)

    backward, update_params = sol.LinearLayer.backward, sol.LinearLayer.update_params


@wrong(check_linear_layer, hint="not in the first forward")
class LinearLayerBuiltAtFirstForward(LinearLayerUnitsOnly):
    """The same build() at the first forward, with n_in and n_out given to __init__."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_out)


@wrong(check_activation_layer, "leaky_relu", hint="not alpha")
class LeakyReLULayerConstantBelow(sol.LeakyReLULayer):
    """np.where(x > 0, x, alpha): alpha below 0 instead of alpha * x."""

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha)


# -- ninth batch -----------------------------------------------------------------------------------
@wrong(check_optimizer, "sgd", hint="updated 2 times in one step")
class SGDStepsTwice:
    """p -= lr * g, then layer.update_params(lr) as well: two steps per call."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                p -= self.lr * layer.grads[name]
            layer.update_params(self.lr)


@wrong(check_linear_layer, hint="changed W but not b", absent=("rebinds",))
class LinearLayerForgetsTheBias(sol.LinearLayer):
    """update_params steps W only (once told that it rebinds a local name)."""

    def update_params(self, learning_rate):
        self.params["W"] -= learning_rate * self.grads["W"]


@wrong(check_linear_layer, hint="the bias is subtracted")
class LinearLayerSubtractsTheBias(sol.LinearLayer):
    """z = x @ W - b."""

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] - self.params["b"]


@wrong(check_optimizer, "sgd", hint="step never changed layers[0].params['b']")
class SGDWeightsOnly:
    """Steps every W and no bias."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers:
            if "W" in layer.params:
                layer.params["W"] -= self.lr * layer.grads["W"]


@wrong(check_optimizer, "sgd", hint="nor all layers but one")
class SGDSkipsTheLastLayer:
    """for layer in network.layers[:-1]: the output layer never learns."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers[:-1]:
            for name, p in layer.params.items():
                p -= self.lr * layer.grads[name]


@wrong(check_optimizer, "momentum", hint=("the step uses g, not the velocity", "not kept"))
class MomentumStepsWithTheGradient(sol.Momentum):
    """Keeps its velocity but steps with g: plain SGD (once told only "not kept")."""

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.velocity.setdefault((i, name), np.zeros_like(p))
                v[...] = self.momentum * v + layer.grads[name]
                p -= self.lr * layer.grads[name]


@wrong(check_optimizer, "adam", hint="RMSProp's numerator")
class AdamWithoutTheFirstMoment(sol.Adam):
    """RMSProp with Adam's bias correction: g / (sqrt(v_hat) + eps)."""

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                v = self.v.setdefault((i, name), np.zeros_like(p))
                v[...] = b2 * v + (1 - b2) * g**2
                p -= self.lr * g / (np.sqrt(v / (1 - b2**self.t)) + self.eps)


@wrong(check_training_step, hint="the step needs only network.forward")
def train_step_training_mode(network, x_batch, y_batch, loss, learning_rate):
    """PyTorch's network.train() before the step."""
    network.train()
    return sol.train_step(network, x_batch, y_batch, loss, learning_rate)


@wrong(check_optimizer, "momentum", hint="not in the class body")
class MomentumStateOnTheClass:
    """velocity = {} in the class body: every Momentum optimizer shares it."""

    velocity = {}  # noqa: RUF012 - the learner's mistake under test

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.velocity.setdefault((i, name), np.zeros_like(p))
                v[...] = self.momentum * v + layer.grads[name]
                p -= self.lr * v


@wrong(check_optimizer, "adam", hint="or in a default argument")
class AdamStateInADefault(sol.Adam):
    """m={} and v={} as default arguments: shared by every Adam made without them."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, m={}, v={}):  # noqa: B006
        super().__init__(lr, betas, eps)
        self.m, self.v = m, v


@wrong(check_activation_layer, "relu", hint="forward gave the same output again")
class ReLULayerMemoisesForward(sol.ReLULayer):
    """Returns its previous output when given the same x object (changed in place since)."""

    def forward(self, x):
        if getattr(self, "x", None) is not x:
            self.x, self.out = x, np.maximum(x, 0)
        return self.out


@wrong(check_activation_layer, "relu", hint="the array forward returned")
class ReLULayerTurnsItsOutputIntoAMask(sn.Layer):
    """backward sets the kept output to 1 where positive, in place: the array returned (the
    next layer's input) changes."""

    def forward(self, x):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, grad_z):
        self.out[self.out > 0] = 1
        return grad_z * self.out


@wrong(check_network, hint="a softmax added at the end belongs to the loss")
class NetworkEndsWithASoftmax(sol.MultiLayerNetwork):
    """Keras's habit of a softmax output: forward returns probabilities."""

    def forward(self, x):
        return sn.softmax(super().forward(x))


@wrong(check_network, hint="grad is already dL/d(output)")
class NetworkBackwardFromTheTargets(sol.MultiLayerNetwork):
    """backward(y) takes the targets and computes the cross-entropy gradient itself."""

    def forward(self, x):
        self.out = super().forward(x)
        return self.out

    def backward(self, y):
        return super().backward((sn.softmax(self.out) - y) / len(y))


@wrong(check_network, hint="once per sample")
class NetworkOneSampleAtATime(sol.MultiLayerNetwork):
    """forward runs each sample through the layers on its own and stacks the outputs."""

    def forward(self, x):
        rows = []
        for row in x:
            a = row[None, :]
            for layer in self.layers:
                a = layer.forward(a)
            rows.append(a[0])
        return np.array(rows)


@wrong(check_training_step, hint="take one step for the whole batch")
def train_step_one_sample_at_a_time(network, x_batch, y_batch, loss, learning_rate):
    """A step per row of the batch, the mean of their losses returned."""
    values = [sol.train_step(network, row[None], target[None], loss, learning_rate)
              for row, target in zip(x_batch, y_batch, strict=True)]
    return float(np.mean(values))


@wrong(check_training_step, hint="already returns the mean over the batch")
def train_step_returns_the_sum(network, x_batch, y_batch, loss, learning_rate):
    """Returns the loss times the batch size, the sum over the samples."""
    return sol.train_step(network, x_batch, y_batch, loss, learning_rate) * len(x_batch)


@correct(check_training_step)
def train_step_returns_a_list_of_one(network, x_batch, y_batch, loss, learning_rate):
    """Returns [value], a list of one number."""
    return [sol.train_step(network, x_batch, y_batch, loss, learning_rate)]


@correct(check_training_step)
def train_step_with_labels(network, x_batch, y_batch, loss, learning_rate):
    """Gives the loss the labels (argmax of the one-hot rows), which CrossEntropyLoss takes."""
    return sol.train_step(network, x_batch, y_batch.argmax(axis=1), loss, learning_rate)


@wrong(check_optimizer, "rmsprop", hint="not at 1")
class RMSPropStartsAtOne(sol.RMSProp):
    """s made with np.ones_like(p)."""

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                s = self.square_avg.setdefault((i, name), np.ones_like(p))
                s[...] = self.alpha * s + (1 - self.alpha) * g**2
                p -= self.lr * g / (np.sqrt(s) + self.eps)


@wrong(check_optimizer, "adam", hint="used t = 2")
class AdamCountsFromOne(sol.Adam):
    """self.t = 1 in __init__ and += 1 before the update: the first step uses t = 2."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(lr, betas, eps)
        self.t = 1


@wrong(check_optimizer, "adam", hint="not at g and g ** 2")
class AdamStartsAtTheFirstGradient(sol.Adam):
    """m and v set to g and g ** 2 at the first step (PyTorch's momentum buffer habit)."""

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g, key = layer.grads[name], (i, name)
                if key not in self.m:
                    self.m[key], self.v[key] = g.copy(), g**2
                else:
                    self.m[key] = b1 * self.m[key] + (1 - b1) * g
                    self.v[key] = b2 * self.v[key] + (1 - b2) * g**2
                m_hat, v_hat = self.m[key] / (1 - b1**self.t), self.v[key] / (1 - b2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


@correct(check_optimizer, "momentum")
class MomentumBufferStartsAtTheGradient(sol.Momentum):
    """PyTorch's buffer: v = g at the first step, then momentum * v + g (the same numbers)."""

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g, key = layer.grads[name], (i, name)
                self.velocity[key] = (g.copy() if key not in self.velocity
                                      else self.momentum * self.velocity[key] + g)
                p -= self.lr * self.velocity[key]


@correct(check_linear_layer)
class LinearLayerZeroesAfterUpdate(LinearLayerTorchStyle):
    """PyTorch's order inside update_params: step, then zero_grad()."""

    def update_params(self, learning_rate):
        super().update_params(learning_rate)
        self.zero_grad()


@correct(check_linear_layer)
class LinearLayerFlatBuffers(sn.Layer):
    """Over-engineered: W and b are views into one flat parameter buffer, the gradients views
    into another, written with out= and [...] = (as a fused optimizer would want)."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__()
        size = n_in * n_out
        self.flat, self.flat_grad = np.zeros(size + n_out), np.zeros(size + n_out)
        self.params = {"W": self.flat[:size].reshape(n_in, n_out),
                       "b": self.flat[size:].reshape(1, n_out)}
        self.grads = {"W": self.flat_grad[:size].reshape(n_in, n_out),
                      "b": self.flat_grad[size:].reshape(1, n_out)}
        self.params["W"][...] = np.random.default_rng(rng).normal(0, 0.1, (n_in, n_out))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        np.matmul(self.x.T, grad_z, out=self.grads["W"])
        self.grads["b"][...] = grad_z.sum(axis=0)
        return grad_z @ self.params["W"].T

    def update_params(self, learning_rate):
        self.flat -= learning_rate * self.flat_grad


# -- tenth batch: what an optimizer may keep between steps ----------------------------------------
# The check's network gets new gradient arrays at every step, as a backward that assigns
# self.grads["W"] = ... gives them; the parameters are updated in place and keep their ids.
@wrong(check_optimizer, "adam", hint=("used step 1's gradients again",
                                      "read layer.grads[name] at every step"))
class AdamKeepingGradientArrays(sol.Adam):
    """(p, g) pairs collected at the first step and reused: later steps see the first
    gradients (the capstone's worked LinearLayer stores new ones at every backward)."""

    def step(self, network):
        if not hasattr(self, "pairs"):
            self.pairs = [(p, layer.grads[name]) for layer in network.layers
                          for name, p in layer.params.items()]
        b1, b2 = self.betas
        self.t += 1
        for i, (p, g) in enumerate(self.pairs):
            m = self.m.setdefault(i, np.zeros_like(p))
            v = self.v.setdefault(i, np.zeros_like(p))
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g**2
            p -= self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t)) + self.eps)


@wrong(check_optimizer, "sgd", hint="used step 1's gradients again")
class SGDKeepingGradientArrays:
    """The (p, g) pairs of the first step, as a fused optimizer's flat list of buffers."""

    def __init__(self, lr):
        self.lr, self.pairs = lr, None

    def step(self, network):
        if self.pairs is None:
            self.pairs = [(p, layer.grads[n]) for layer in network.layers
                          for n, p in layer.params.items()]
        for p, g in self.pairs:
            p -= self.lr * g


@wrong(check_optimizer, "momentum", hint=("not kept between steps", "id(layer.grads[name])"),
       absent=("step 1's gradients",))
class MomentumKeyedByGradientId:
    """Velocities keyed by id(g): every step's new gradient array starts a new velocity."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                g = layer.grads[name]
                v = self.v[id(g)] = self.momentum * self.v.get(id(g), 0.0) + g
                p -= self.lr * v


@correct(check_optimizer, "adam")
class AdamById:
    """m and v keyed by id(p), updated in place: the parameters are updated in place too, so
    their ids hold (the capstone trains with it as well)."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.t, self.state = lr, betas, eps, 0, {}

    def step(self, network):
        b1, b2 = self.betas
        self.t += 1
        for layer in network.layers:
            for name in layer.params:
                p, g = layer.params[name], layer.grads[name]
                m, v = self.state.setdefault(id(p), (np.zeros_like(p), np.zeros_like(p)))
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                step = self.lr * (m / (1 - b1**self.t)) / (np.sqrt(v / (1 - b2**self.t))
                                                             + self.eps)
                np.subtract(p, step, out=p)


@correct(check_optimizer, "rmsprop")
class RMSPropKeepsTheGradsDicts(sol.RMSProp):
    """(p, layer.grads, name) collected once: the dict is kept, its entry read at each step."""

    def step(self, network):
        if not hasattr(self, "slots"):
            self.slots = [(p, layer.grads, name) for layer in network.layers
                          for name, p in layer.params.items()]
        for i, (p, grads, name) in enumerate(self.slots):
            g = grads[name]
            s = self.square_avg.setdefault(i, np.zeros_like(p))
            s[...] = self.alpha * s + (1 - self.alpha) * g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)


@correct(check_optimizer, "momentum")
class MomentumKeepsTheLayers(sol.Momentum):
    """The trainable layers listed once at the first step, layer.grads read at every step."""

    def step(self, network):
        if not hasattr(self, "trainable"):
            self.trainable = [layer for layer in network.layers if layer.params]
        for i, layer in enumerate(self.trainable):
            for name, p in layer.params.items():
                v = self.velocity.setdefault((i, name), np.zeros_like(p))
                v[...] = self.momentum * v + layer.grads[name]
                p -= self.lr * v


# -- eleventh batch: float16 ----------------------------------------------------------------------
# Judged at float16's precision: values within 2%, finite differences with steps of 2^-5 at 5%.
@correct(check_activation_layer, "sigmoid")
class SigmoidLayerInFloat16(sn.Layer):
    """Computes in float16 (e^-x overflows to inf below x = -11: 1 / (1 + inf) = 0 is right)."""

    def forward(self, x):
        with np.errstate(over="ignore"):
            self.a = 1 / (1 + np.exp(-x.astype(np.float16)))
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


@correct(check_activation_layer, "tanh")
class TanhLayerInFloat16(sn.Layer):
    """np.tanh in float16, the gradient returned in float16 too."""

    def forward(self, x):
        self.a = np.tanh(x.astype(np.float16))
        return self.a

    def backward(self, grad_z):
        return (grad_z * (1 - self.a**2)).astype(np.float16)


@correct(check_activation_layer, "relu")
class ReLULayerInFloat16(sn.Layer):
    """Keeps its input as float16."""

    def forward(self, x):
        self.x = x.astype(np.float16)
        return np.maximum(self.x, 0)

    def backward(self, grad_z):
        return grad_z * (self.x > 0)


@correct(check_activation_layer, "softmax")
class SoftmaxLayerInFloat16(sn.Layer):
    """The shifted exponentials in float16."""

    def forward(self, x):
        z = x.astype(np.float16)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s

    def backward(self, grad_z):
        return self.s * (grad_z - (grad_z * self.s).sum(axis=1, keepdims=True))


@correct(check_linear_layer)
class LinearLayerInFloat16(sol.LinearLayer):
    """Parameters, input and gradients all float16 (no dtype= to be rebuilt with)."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.params = {k: v.astype(np.float16) for k, v in self.params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x.astype(np.float16)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        return super().backward(grad_z.astype(np.float16))


@correct(check_network)
class NetworkInFloat16(sol.MultiLayerNetwork):
    """Casts what it passes on to float16."""

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(np.asarray(x, dtype=np.float16))
        return x


@wrong(check_linear_layer, hint="grads['W']", absent=("float16 rounding",))
class LinearLayerInFloat16WeightGradientOff(LinearLayerInFloat16):
    """float16 and dL/dW 10% too large: a wrong formula, not rounding."""

    def backward(self, grad_z):
        dx = super().backward(grad_z)
        self.grads["W"] = self.grads["W"] * 1.1
        return dx


@wrong(check_linear_layer, hint="the returned dL/dx[", absent=("float16 rounding",))
class LinearLayerInFloat16InputGradientOff(LinearLayerInFloat16):
    """float16 and dL/dx 10% too large (passed when float16 values were compared at 10%)."""

    def backward(self, grad_z):
        return 1.1 * super().backward(grad_z)


@wrong(check_activation_layer, "sigmoid", hint="the returned dL/dx[")
class SigmoidLayerInFloat16Off(SigmoidLayerInFloat16):
    """float16 and dL/dx 10% too large."""

    def backward(self, grad_z):
        return 1.1 * super().backward(grad_z)


@wrong(check_activation_layer, "tanh", hint="the square is missing")
class TanhLayerInFloat16OneMinus(TanhLayerInFloat16):
    """float16 and tanh' = 1 - a."""

    def backward(self, grad_z):
        return grad_z * (1 - self.a)


# -- the tests -------------------------------------------------------------------------------------
test_a_correct_attempt_passes, test_a_wrong_attempt_fails_and_names_its_mistake = attempts.tests()


# -- the finite differences behind the float32 and float16 verdicts ------------------------------
class _Scaled(sn.Layer):
    """sigmoid computed in ``dtype``, its backward multiplied by ``factor`` (1: right)."""

    def __init__(self, dtype, factor):
        super().__init__()
        self.dtype, self.factor = dtype, factor

    def forward(self, x):
        self.a = 1 / (1 + np.exp(-np.asarray(x).astype(self.dtype)))
        return self.a

    def backward(self, grad_z):
        return self.factor * grad_z * self.a * (1 - self.a)


@pytest.mark.parametrize("dtype, off", [(np.float16, 1.25), (np.float16, 0.8),
                                        (np.float32, 1.05), (np.float32, 0.95)])
def test_rough_gradcheck_passes_the_right_gradient_and_fails_one_off_by_a_factor(dtype, off):
    x = np.random.default_rng(5).normal(0.0, 2.0, (4, 5))
    assert rough_gradcheck(_Scaled(dtype, 1.0), x, dtype=dtype).passed
    assert not rough_gradcheck(_Scaled(dtype, off), x, dtype=dtype).passed
