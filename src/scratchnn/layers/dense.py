"""The fully connected layer."""

from __future__ import annotations

import numpy as np

from .. import init as initializers
from .._validation import as_rng, check_dtype, check_positive_int
from .base import Layer


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
        x = self._check_input(x, self.n_in, self.dtype, ndim=2, layout="(batch, features)")
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

    @property
    def input_shape(self):
        return (self.n_in,)

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.n_in,):
            raise self._shape_error(input_shape, f"(batch, {self.n_in}); add a Flatten() before "
                                    "it for images" if len(input_shape) > 1 else
                                    f"(batch, {self.n_in})")
        return (self.n_out,)

    @classmethod
    def array_shapes(cls, config):
        n_in = check_positive_int(config["n_in"], "n_in")
        n_out = check_positive_int(config["n_out"], "n_out")
        return {"params": {"W": (n_in, n_out), "b": (1, n_out)}}

    def get_config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init,
                "dtype": np.dtype(self.dtype).name}

    def __repr__(self):
        return f"LinearLayer({self.n_in}, {self.n_out}, dtype={np.dtype(self.dtype).name})"
