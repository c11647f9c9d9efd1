"""Batch normalisation: ``BatchNorm1D`` for (batch, features), ``BatchNorm2D`` for images.

Both are PyTorch's ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` with ``affine=True`` and
``track_running_stats=True``; they differ only in the axes a statistic is taken over, so the
maths lives once, in ``_BatchNorm``.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_dtype, check_float, check_positive_int
from .base import Layer


class _BatchNorm(Layer):
    """y = gamma * xhat + beta, xhat = (x - mean) / sqrt(var + eps), per feature (channel).

    Training: mean and var are the batch's (var biased, dividing by n, the number of values per
    channel), and the running statistics move towards them:
    running = (1 - momentum) * running + momentum * batch statistic, with the unbiased variance
    (n / (n - 1)) * var for ``running_var``. Evaluation: mean and var are the running ones.

    Backward, with g = dL/dy and sums over the n values of each channel:
    dL/dgamma = sum(g * xhat), dL/dbeta = sum(g);
    training: dL/dx = gamma * inv_std / n * (n * g - sum(g) - xhat * sum(g * xhat)), because the
    batch's mean and variance depend on x too; evaluation: dL/dx = gamma * inv_std * g.
    """

    batch_statistics = True
    _axes = None  # the axes a statistic is reduced over: all but the channel axis 1
    _layout = None  # the axes named in errors
    _size_name = None  # "features" or "channels", the name of the constructor's first argument

    def __init__(self, size, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        self.size = check_positive_int(size, self._size_name)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.dtype = check_dtype(dtype)
        self.params = {"gamma": np.ones(self.size, dtype=self.dtype),
                       "beta": np.zeros(self.size, dtype=self.dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.state = {"running_mean": np.zeros(self.size, dtype=self.dtype),
                      "running_var": np.ones(self.size, dtype=self.dtype)}
        self._xhat = self._inv_std = None
        self._batch_stats = True

    def _per_channel(self, v):
        """A (channels,) array shaped to broadcast against x: (1, C) or (1, C, 1, 1)."""
        return v.reshape((1, -1) + (1,) * (len(self._axes) - 1))

    def _mean(self, a):
        """Per-channel mean of a (N, C, ...): (C,), in the layer's dtype.

        The sums over each image's pixels are one matrix-vector product (BLAS), about 15x
        faster than ``a.mean(axis=(0, 2, 3))``; the N partial sums per channel are then added
        in float64, as torch accumulates on the CPU."""
        rows = np.ascontiguousarray(a).reshape(a.shape[0] * self.size, -1)
        per_image = rows @ np.ones(rows.shape[1], dtype=rows.dtype)
        total = per_image.reshape(a.shape[0], self.size).sum(axis=0, dtype=np.float64)
        return (total / (a.size // self.size)).astype(self.dtype)

    def forward(self, x):
        x = self._check_input(x, dtype=self.dtype, ndim=len(self._axes) + 1, layout=self._layout)
        if x.shape[1] != self.size:
            raise ValueError(f"{self!r} needs x of shape {self._needs()}, got shape {x.shape}.")
        n = x.size // self.size  # values per channel
        if self.training:
            if n < 2:
                raise ValueError(
                    f"Expected more than 1 value per channel when training, got x of shape "
                    f"{x.shape}: {self!r} cannot take batch statistics from one value per "
                    f"channel; train with batches of 2 or more, or set training = False.")
            mean = self._mean(x)
            x_centred = x - self._per_channel(mean)
            out = np.square(x_centred)  # a scratch buffer until it holds the output
            var = self._mean(out)
            m = self.momentum
            self.state["running_mean"][...] = (1 - m) * self.state["running_mean"] + m * mean
            self.state["running_var"][...] = ((1 - m) * self.state["running_var"]
                                              + m * var * (n / (n - 1)))
        else:
            x_centred = x - self._per_channel(self.state["running_mean"])
            out = np.empty_like(x_centred)
            var = self.state["running_var"]
        self._inv_std = self._per_channel(1 / np.sqrt(var + self.dtype(self.eps)))
        self._xhat = np.multiply(x_centred, self._inv_std, out=x_centred)
        self._batch_stats = self.training  # backward follows the mode of this forward pass
        # out = gamma * xhat + beta, written into the buffer already allocated
        np.multiply(self._xhat, self._per_channel(self.params["gamma"]), out=out)
        out += self._per_channel(self.params["beta"])
        self._out = out
        return out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        xhat = self._xhat
        n = g.size // self.size
        g_xhat = g * xhat
        self.grads["beta"][...] = self._mean(g) * n
        self.grads["gamma"][...] = self._mean(g_xhat) * n
        if not input_grad:
            return None
        scale = self._per_channel(self.params["gamma"]) * self._inv_std
        if not self._batch_stats:
            return scale * g
        # dx = scale * (g - mean(g) - xhat * mean(g xhat)), in the g_xhat buffer
        dx = np.multiply(xhat, self._per_channel(self.grads["gamma"] / n), out=g_xhat)
        dx += self._per_channel(self.grads["beta"] / n)
        np.subtract(g, dx, out=dx)
        dx *= scale
        return dx

    # -- self-description -------------------------------------------------------------------------
    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != len(self._axes) or input_shape[0] != self.size:
            raise self._shape_error(input_shape, self._needs())
        return input_shape

    @classmethod
    def array_shapes(cls, config):
        n = check_positive_int(config[cls._size_name], cls._size_name)
        return {"params": {"gamma": (n,), "beta": (n,)},
                "state": {"running_mean": (n,), "running_var": (n,)}}

    def get_config(self):
        return {self._size_name: self.size, "momentum": self.momentum, "eps": self.eps,
                "dtype": np.dtype(self.dtype).name}

    def __repr__(self):
        return (f"{type(self).__name__}({self.size}, momentum={self.momentum:g}, "
                f"eps={self.eps:g}, dtype={np.dtype(self.dtype).name})")


class BatchNorm1D(_BatchNorm):
    """Batch normalisation of x (batch, n_features) -> (batch, n_features), statistics per feature
    over the batch; as ``torch.nn.BatchNorm1d(n_features)``. gamma, beta: (n_features,)."""

    _axes = (0,)
    _layout = "(batch, features)"
    _size_name = "n_features"

    def __init__(self, n_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__(n_features, momentum=momentum, eps=eps, dtype=dtype)

    @property
    def n_features(self):
        return self.size

    @property
    def input_shape(self):
        return (self.size,)

    def _needs(self):
        return f"(batch, {self.size})"


class BatchNorm2D(_BatchNorm):
    """Batch normalisation of images x (batch, C, H, W) -> (batch, C, H, W), statistics per
    channel over the batch, height and width; as ``torch.nn.BatchNorm2d(C)``. gamma, beta: (C,)."""

    _axes = (0, 2, 3)
    _layout = "(batch, channels, height, width)"
    _size_name = "channels"

    def __init__(self, channels, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__(channels, momentum=momentum, eps=eps, dtype=dtype)

    @property
    def channels(self):
        return self.size

    def _needs(self):
        return f"(batch, {self.size}, height, width)"
