"""Dropout: the one stochastic layer."""

from __future__ import annotations

import numpy as np

from .._validation import as_rng, check_float
from .base import Layer


class DropoutLayer(Layer):
    """Inverted dropout: while training, each unit is zeroed with probability p and the survivors
    are scaled by 1 / (1 - p), so the expected activation is unchanged and evaluation (``training =
    False``) is the identity. dL/dx = dL/da * mask, the same mask as the forward pass.
    Works on any shape: x (batch, ...) -> the same shape.
    """

    stochastic = True
    elementwise = True

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

    def get_config(self):
        return {"p": self.p}
