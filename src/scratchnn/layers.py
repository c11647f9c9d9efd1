"""Layers: the notebook's abstract ``Layer`` and its concrete kinds.

The contract every layer keeps:

* ``forward(x)`` / ``__call__(x)``: x (batch, n_in) -> output (batch, n_out), remembering what
  backward needs.
* ``backward(grad_z)``: given dL/d(output), fills ``grads`` and returns dL/dx. It never changes
  ``grad_z`` in place. ``backward(grad_z, input_grad=False)`` skips dL/dx (returns None), which
  the network uses for its first layer, where nobody needs it.
* ``params`` and ``grads``: dicts from a name to an array, the same names in both, empty for
  layers without parameters. Optimizers work on these dicts alone. ``grads`` arrays are filled in
  place, so each backward overwrites the previous gradients (no ``zero_grad`` needed).
* ``update_params(learning_rate)``: plain gradient descent, p <- p - lr * dL/dp, as the notebook.
"""

from __future__ import annotations

import numpy as np

from . import init as initializers
from ._validation import as_float_array, as_rng, check_dtype, check_float, check_positive_int
from .activations import sigmoid, softmax


class Layer:
    """Base class. Subclasses implement ``forward`` and ``backward``."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True
        self._x = None
        self._out = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_z, input_grad=True):
        raise NotImplementedError

    def update_params(self, learning_rate):
        for name, param in self.params.items():
            param -= learning_rate * self.grads[name]

    def __call__(self, x):
        return self.forward(x)

    @property
    def n_params(self):
        return sum(p.size for p in self.params.values())

    def __repr__(self):
        return f"{type(self).__name__}()"

    # -- checks shared by every layer -------------------------------------------------------------
    def _check_input(self, x, n_features=None, dtype=None):
        x = as_float_array(x, "x", ndim=2, dtype=dtype)
        if n_features is not None and x.shape[1] != n_features:
            raise ValueError(
                f"x has {x.shape[1]} features, {type(self).__name__} expects {n_features}."
            )
        return x

    def _check_grad(self, grad_z):
        if self._out is None:
            raise ValueError(f"{type(self).__name__}.backward() called before forward().")
        grad_z = np.asarray(grad_z)
        if grad_z.shape != self._out.shape:
            raise ValueError(
                f"grad_z has shape {grad_z.shape} but {type(self).__name__}'s last output had "
                f"shape {self._out.shape}; they must match."
            )
        return grad_z.astype(self._out.dtype, copy=False)


class LinearLayer(Layer):
    """Fully connected layer z = x W + b.

    x: (batch, n_in) -> z: (batch, n_out); W: (n_in, n_out), b: (1, n_out).
    Backward: dL/dW = x^T g, dL/db = sum_batch g, dL/dx = g W^T, where g = dL/dz.
    """

    def __init__(self, n_in, n_out, init="xavier_uniform", rng=None, dtype=np.float32):
        super().__init__()
        self.n_in = check_positive_int(n_in, "n_in")
        self.n_out = check_positive_int(n_out, "n_out")
        self.dtype = check_dtype(dtype)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        W = initializers.get(init)((self.n_in, self.n_out), rng=as_rng(rng), dtype=self.dtype)
        if W.shape != (self.n_in, self.n_out):
            raise ValueError(f"initialiser returned shape {W.shape}, expected {(n_in, n_out)}.")
        self.params = {"W": W.astype(self.dtype, copy=False),
                       "b": np.zeros((1, self.n_out), dtype=self.dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x):
        x = self._check_input(x, self.n_in, self.dtype)
        self._x = x
        z = x @ self.params["W"]
        z += self.params["b"]
        self._out = z
        return z

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        np.matmul(self._x.T, g, out=self.grads["W"])
        np.sum(g, axis=0, keepdims=True, out=self.grads["b"])
        return g @ self.params["W"].T if input_grad else None

    def __repr__(self):
        return f"LinearLayer({self.n_in}, {self.n_out}, dtype={np.dtype(self.dtype).name})"


class ReLULayer(Layer):
    """a = max(0, z); dL/dz = dL/da * [z > 0]. Shape-preserving."""

    def forward(self, x):
        x = self._check_input(x)
        self._out = np.maximum(x, 0)
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g * (self._out > 0)


class LeakyReLULayer(Layer):
    """a = z for z > 0 else alpha z; dL/dz = dL/da * (1 or alpha)."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = check_float(alpha, "alpha", low=0.0)

    def forward(self, x):
        x = self._check_input(x)
        self._x = x
        self._out = np.where(x > 0, x, x * x.dtype.type(self.alpha))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return np.where(self._x > 0, g, g * g.dtype.type(self.alpha))

    def __repr__(self):
        return f"LeakyReLULayer(alpha={self.alpha})"


class SigmoidLayer(Layer):
    """a = sigma(z); dL/dz = dL/da * a (1 - a), using the stored output a (not sigma(a))."""

    def forward(self, x):
        self._out = sigmoid(self._check_input(x))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        a = self._out
        return g * a * (1 - a)


class TanhLayer(Layer):
    """a = tanh(z); dL/dz = dL/da * (1 - a^2)."""

    def forward(self, x):
        self._out = np.tanh(self._check_input(x))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g * (1 - self._out * self._out)


class SoftmaxLayer(Layer):
    """s = softmax(z) per row. x: (batch, C) -> (batch, C).

    Backward is the vector-Jacobian product g^T J with J = diag(s) - s s^T, i.e.
    dL/dz = s * (g - sum_j g_j s_j): O(C) per row instead of building the (C, C) Jacobian.
    (Summing J's rows instead, as the notebook's draft did, gives zeros: each row of J sums to 0.)
    For classification prefer a LinearLayer with ``CrossEntropyLoss``, which fuses the softmax.
    """

    def forward(self, x):
        self._out = softmax(self._check_input(x))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        s = self._out
        return s * (g - np.sum(g * s, axis=1, keepdims=True))


class IdentityLayer(Layer):
    """a = z; dL/dz = dL/da (returned as a copy, so callers may change it freely)."""

    def forward(self, x):
        self._out = self._check_input(x)
        return self._out

    def backward(self, grad_z, input_grad=True):
        return self._check_grad(grad_z).copy()


class DropoutLayer(Layer):
    """Inverted dropout: while training, each unit is zeroed with probability p and the survivors
    are scaled by 1 / (1 - p), so the expected activation is unchanged and evaluation (``training =
    False``) is the identity. dL/dx = dL/da * mask, the same mask as the forward pass.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = check_float(p, "dropout probability p", low=0.0, high=1.0, high_open=True)
        self.rng = as_rng(rng)
        self._mask = None

    def _draw_mask(self, shape, dtype):
        keep = self.rng.random(shape, dtype=np.float32) >= self.p
        return keep.astype(dtype) / dtype.type(1 - self.p)

    def forward(self, x):
        x = self._check_input(x)
        if self.training and self.p > 0:
            self._mask = self._draw_mask(x.shape, x.dtype)
            self._out = x * self._mask
        else:
            self._mask = None
            self._out = x
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g * self._mask if self._mask is not None else g.copy()

    def __repr__(self):
        return f"DropoutLayer(p={self.p})"


ACTIVATION_LAYERS = {
    "relu": ReLULayer,
    "sigmoid": SigmoidLayer,
    "tanh": TanhLayer,
    "leaky_relu": LeakyReLULayer,
    "softmax": SoftmaxLayer,
    "identity": IdentityLayer,
    "linear": IdentityLayer,
}


def activation_class(name):
    """The activation layer class of a name in ``ACTIVATION_LAYERS`` (any case)."""
    if isinstance(name, str) and name.lower() in ACTIVATION_LAYERS:
        return ACTIVATION_LAYERS[name.lower()]
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATION_LAYERS)}.")


def activation_layer(name):
    """A new activation layer from its name (each call makes a new layer: layers hold caches)."""
    return activation_class(name)()
