"""Layers that only rearrange: ``Flatten`` and ``Reshape`` (no parameters, no arithmetic)."""

from __future__ import annotations

import math

from .._validation import check_positive_int
from .base import Layer


class Flatten(Layer):
    """Everything after the batch axis in one row, as ``torch.nn.Flatten``:
    x (batch, d1, d2, ...) -> (batch, d1 * d2 * ...). Backward reshapes the gradient back."""

    def forward(self, x):
        x = self._check_input(x)
        self._x_shape = x.shape
        self._out = x.reshape(len(x), -1)
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g.reshape(self._x_shape) if input_grad else None

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)


class Reshape(Layer):
    """x (batch, *any shape with the same size) -> (batch, *shape), e.g. ``Reshape((1, 28, 28))``
    turns rows of 784 pixels into one-channel images. Backward reshapes the gradient back."""

    def __init__(self, shape):
        super().__init__()
        if isinstance(shape, int):
            shape = (shape,)
        try:
            self.shape = tuple(check_positive_int(s, "every size in shape") for s in shape)
        except TypeError:
            raise TypeError(f"shape must be a tuple of positive ints, got {shape!r}.") from None
        if not self.shape:
            raise ValueError("shape must have at least one size.")

    def forward(self, x):
        x = self._check_input(x)
        self.output_shape(x.shape[1:])
        self._x_shape = x.shape
        self._out = x.reshape(len(x), *self.shape)
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        return g.reshape(self._x_shape) if input_grad else None

    def output_shape(self, input_shape):
        if math.prod(input_shape) != math.prod(self.shape):
            raise self._shape_error(
                input_shape, f"{math.prod(self.shape)} values per sample to make {self.shape}")
        return self.shape

    def get_config(self):
        return {"shape": list(self.shape)}

    def __repr__(self):
        return f"Reshape({self.shape})"
