"""Worked solutions of notebooks/exercises.ipynb, written as a learner would write them.

tests/test_exercises.py shows that each passes its checker (alongside scratchnn's own classes),
and tests/test_notebooks.py pastes them into the notebook's exercise cells (tagged
``exercise-<name>``, by the names below) to run it with every exercise solved. So each is
self-contained in the notebook's namespace: NumPy as ``np``, ``Layer`` from scratchnn and the
learner's earlier answers (``sigmoid``, ``softmax``).
"""

import numpy as np

from scratchnn import Layer


# -- chapter 1 ------------------------------------------------------------------------------------
def sigmoid(x, derivative=False):
    # e^-|x| never overflows: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) otherwise.
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    if derivative:
        return s * (1 - s)
    return s


def relu(x, derivative=False):
    if derivative:
        return (x > 0).astype(float)
    return np.maximum(x, 0)


# -- chapter 2 ------------------------------------------------------------------------------------
def forward_propagation(x, weights, biases, activation):
    a = x
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W + b
        a = z if i == len(weights) - 1 else activation(z)
    return a


# -- chapter 3 ------------------------------------------------------------------------------------
def mae(y_real, y_pred, derivative=False):
    if derivative:
        return np.sign(y_pred - y_real) / y_pred.size
    return np.mean(np.abs(y_pred - y_real))


def mse(y_real, y_pred, derivative=False):
    if derivative:
        return 2 * (y_pred - y_real) / y_pred.size
    return np.mean((y_pred - y_real) ** 2)


def binary_cross_entropy(y_real, y_pred, derivative=False):
    p = np.clip(y_pred, 1e-12, 1 - 1e-12)
    if derivative:
        return (p - y_real) / (p * (1 - p)) / p.size
    return -np.mean(y_real * np.log(p) + (1 - y_real) * np.log(1 - p))


def softmax(x, derivative=False):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    s = e / np.sum(e, axis=-1, keepdims=True)
    if derivative:
        return np.diag(s) - np.outer(s, s)
    return s


def cross_entropy_loss(y_real, logits, derivative=False):
    batch = logits.shape[0]
    if derivative:
        return (softmax(logits) - y_real) / batch
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_s = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(y_real * log_s) / batch


# -- chapter 4 ------------------------------------------------------------------------------------
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


# -- chapter 5 ------------------------------------------------------------------------------------
def tanh(x, derivative=False):
    t = np.tanh(x)
    if derivative:
        return 1 - t**2
    return t


def leaky_relu(x, alpha=0.01, derivative=False):
    if derivative:
        return np.where(x > 0, 1.0, alpha)
    return np.where(x > 0, x, alpha * x)


class LinearLayer(Layer):
    def __init__(self, n_in, n_out, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        limit = np.sqrt(6 / (n_in + n_out))
        self.params = {"W": rng.uniform(-limit, limit, size=(n_in, n_out)),
                       "b": np.zeros((1, n_out))}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z):
        self.grads["W"] = self.x.T @ grad_z
        self.grads["b"] = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"].T

    def update_params(self, learning_rate):
        for name in self.params:
            self.params[name] -= learning_rate * self.grads[name]


class ReLULayer(Layer):
    def forward(self, x):
        self.x = x
        return relu(x)

    def backward(self, grad_z):
        return grad_z * relu(self.x, derivative=True)


class LeakyReLULayer(Layer):
    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return leaky_relu(x, self.alpha)

    def backward(self, grad_z):
        return grad_z * leaky_relu(self.x, self.alpha, derivative=True)


class SigmoidLayer(Layer):
    def forward(self, x):
        self.a = sigmoid(x)
        return self.a

    def backward(self, grad_z):
        return grad_z * self.a * (1 - self.a)


class TanhLayer(Layer):
    def forward(self, x):
        self.a = np.tanh(x)
        return self.a

    def backward(self, grad_z):
        return grad_z * (1 - self.a**2)


class SoftmaxLayer(Layer):
    def forward(self, x):
        self.s = softmax(x)
        return self.s

    def backward(self, grad_z):
        # Each row: J @ g with J = diag(s) - s s^T, which is s * (g - s . g).
        s = self.s
        return s * (grad_z - np.sum(grad_z * s, axis=1, keepdims=True))


# -- chapter 6 ------------------------------------------------------------------------------------
class MultiLayerNetwork:
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


# -- chapter 7 ------------------------------------------------------------------------------------
def one_hot(labels, n_classes):
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1
    return out


def get_batches(x, batch_size):
    return [x[i:i + batch_size] for i in range(0, len(x), batch_size)]


# -- chapter 8 ------------------------------------------------------------------------------------
def train_step(network, x_batch, y_batch, loss, learning_rate):
    y_pred = network.forward(x_batch)
    value = loss.forward(y_batch, y_pred)
    network.backward(loss.backward())
    network.update_params(learning_rate)
    return value


# -- chapter 9 ------------------------------------------------------------------------------------
class SGD:
    def __init__(self, lr):
        self.lr = lr

    def step(self, network):
        for layer in network.layers:
            for name, p in layer.params.items():
                p -= self.lr * layer.grads[name]


class Momentum:
    def __init__(self, lr, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}  # (layer index, parameter name) -> array

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                v = self.velocity.setdefault((i, name), np.zeros_like(p))
                v *= self.momentum
                v += layer.grads[name]
                p -= self.lr * v


class RMSProp:
    def __init__(self, lr, alpha=0.99, eps=1e-8):
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self.square_avg = {}

    def step(self, network):
        for i, layer in enumerate(network.layers):
            for name, p in layer.params.items():
                g = layer.grads[name]
                s = self.square_avg.setdefault((i, name), np.zeros_like(p))
                s[...] = self.alpha * s + (1 - self.alpha) * g**2
                p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam:
    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.m, self.v = {}, {}
        self.t = 0

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
                m_hat = m / (1 - b1**self.t)
                v_hat = v / (1 - b2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


# -- chapter 10 -----------------------------------------------------------------------------------
def xavier_uniform(n_in, n_out, rng):
    a = np.sqrt(6 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out))


def he_normal(n_in, n_out, rng):
    return rng.normal(0.0, np.sqrt(2 / n_in), size=(n_in, n_out))
