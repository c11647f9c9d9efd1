"""Activation layers: elementwise nonlinearities (and the softmax over the last axis)."""

from __future__ import annotations

import numpy as np

from .._validation import check_float
from ..activations import sigmoid, softmax
from .base import Layer


class ReLULayer(Layer):
    """a = max(0, z); dL/dz = dL/da * [z > 0]. Shape-preserving."""

    elementwise = True

    def forward(self, x):
        x = self._check_input(x)
        self._out = np.maximum(x, 0)
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g * (self._out > 0)


class LeakyReLULayer(Layer):
    """a = z for z > 0 else alpha z; dL/dz = dL/da * (1 or alpha)."""

    elementwise = True

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

    def get_config(self):
        return {"alpha": self.alpha}


class SigmoidLayer(Layer):
    """a = sigma(z); dL/dz = dL/da * a (1 - a), using the stored output a (not sigma(a))."""

    elementwise = True

    def forward(self, x):
        self._out = sigmoid(self._check_input(x))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        a = self._out
        return g * a * (1 - a)


class TanhLayer(Layer):
    """a = tanh(z); dL/dz = dL/da * (1 - a^2)."""

    elementwise = True

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
        self._out = softmax(self._check_input(x, ndim=2, layout="(batch, classes)"))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        s = self._out
        return s * (g - np.sum(g * s, axis=1, keepdims=True))

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise self._shape_error(input_shape, "(batch, classes); add a Flatten() before it")
        return tuple(input_shape)


class IdentityLayer(Layer):
    """a = z; dL/dz = dL/da (returned as a copy, so callers may change it freely)."""

    elementwise = True

    def forward(self, x):
        self._out = self._check_input(x)
        return self._out

    def backward(self, grad_z, input_grad=True):
        return self._check_grad(grad_z).copy()


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
