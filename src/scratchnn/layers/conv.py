"""The 2-D convolution layer."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import init as initializers
from .._validation import as_rng, check_dtype, check_positive_int
from .base import Layer


def _pair(value, name, minimum):
    """An int or a pair (height, width) as a tuple of two ints >= ``minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}.")
        return tuple(check_positive_int(v, name, minimum=minimum) for v in value)
    value = check_positive_int(value, name, minimum=minimum)
    return (value, value)


def _plain(pair):
    """A pair as the user would write it: 3 for (3, 3), [3, 2] for (3, 2) (JSON has no tuples)."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def _shown(pair):
    return pair[0] if pair[0] == pair[1] else pair


class Conv2D(Layer):
    """2-D convolution with zero padding, as ``torch.nn.Conv2d`` (a cross-correlation).

    x: (batch, C, H, W) -> z: (batch, F, Ho, Wo), Ho = (H + 2 ph - kh) // sh + 1, Wo likewise;
    W: (F, C, kh, kw), b: (F,);
    z[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] xpad[n, c, sh i + u, sw j + v].

    As one matrix product (im2col): the columns X_col (C kh kw, positions) hold every window of
    every image, so Z = W_mat X_col with W_mat = W reshaped (F, C kh kw). Backward, with G = dL/dZ
    in the same layout: dL/dW_mat = G X_col^T, dL/db = G summed over positions,
    dL/dX_col = W_mat^T G, whose columns are added back onto the windows they came from (col2im).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="he_uniform", rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "Conv2D in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2D out_channels")
        self.kernel_size = _pair(kernel_size, f"{type(self).__name__} kernel_size", 1)
        self.stride = _pair(stride, f"{type(self).__name__} stride", 1)
        self.padding = _pair(padding, f"{type(self).__name__} padding", 0)
        self.dtype = check_dtype(dtype)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        F, C, (kh, kw) = self.out_channels, self.in_channels, self.kernel_size
        # fan_in = C kh kw: drawn in LinearLayer's (fan_in, fan_out) layout, then laid out as torch.
        W = initializers.get(init)((C * kh * kw, F), rng=as_rng(rng), dtype=self.dtype)
        if W.shape != (C * kh * kw, F):
            raise ValueError(f"initialiser returned shape {W.shape}, expected {(C * kh * kw, F)}.")
        self.params = {"W": np.ascontiguousarray(W.T.reshape(F, C, kh, kw), dtype=self.dtype),
                       "b": np.zeros(F, dtype=self.dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._buffers_for = None

    # -- the windows ------------------------------------------------------------------------------
    def _prepare(self, x_shape):
        """Buffers for a batch of shape ``x_shape``, kept while the batch shape stays the same.

        Each image is zero-padded into a buffer of (Hp + 1) rows of Wb = sw * Wq pixels, Wq >= Wo.
        Then the pixel under kernel offset (u, v) for output (i, j) sits at a fixed distance
        u Wb + v from (sh i) Wb + sw j, so every offset's pixels for all outputs are one strided
        view, and the output is computed on a "wide" grid of Ho x Wq positions whose last
        Wq - Wo columns are discarded (their gradient is zero). With stride 1 a view row runs on
        into the next, so copies and col2im work on long contiguous runs, not Wo pixels at a time.
        The spare row keeps the wide columns of the last row inside the buffer.
        """
        if self._buffers_for == x_shape:
            return
        N, C, H, W = x_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        F, K = self.out_channels, C * kh * kw
        Hp, Wp = H + 2 * ph, W + 2 * pw
        Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
        Wq = -(-Wp // sw)
        Wb = Wq * sw
        self._geometry = (N, C, H, W, F, K, Ho, Wo, Wq)
        self._xpad = np.zeros((N, C, Hp + 1, Wb), dtype=self.dtype)
        self._cols = np.empty((K, N * Ho * Wq), dtype=self.dtype)
        self._zwide = np.empty((F, N * Ho * Wq), dtype=self.dtype)
        self._gwide = np.zeros((F, N, Ho, Wq), dtype=self.dtype)  # wide columns stay 0
        self._dcols = np.empty_like(self._cols)
        self._dxpad = np.empty_like(self._xpad)
        self._buffers_for = x_shape

    def _windows(self, padded):
        """(C, kh, kw, N, Ho, Wq) view of a padded buffer: [c, u, v, n, i, j] = pixel under
        kernel offset (u, v) for output (i, j) of image n, channel c."""
        N, C, _, _, _, _, Ho, _, Wq = self._geometry
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        sN, sC, sH, sW = padded.strides
        return as_strided(padded, shape=(C, kh, kw, N, Ho, Wq),
                          strides=(sC, sH, sW, sN, sh * sH, sw * sW))

    # -- computing --------------------------------------------------------------------------------
    def forward(self, x):
        x = self._check_input(x, dtype=self.dtype, ndim=4,
                              layout="(batch, channels, height, width)")
        self.output_shape(x.shape[1:])
        self._prepare(x.shape)
        N, C, H, W, F, K, Ho, Wo, Wq = self._geometry
        ph, pw = self.padding
        self._xpad[:, :, ph:ph + H, pw:pw + W] = x  # the zero border is never written
        np.copyto(self._cols.reshape(C, *self.kernel_size, N, Ho, Wq), self._windows(self._xpad))
        np.matmul(self.params["W"].reshape(F, K), self._cols, out=self._zwide)
        z_wide = self._zwide.reshape(F, N, Ho, Wq)[:, :, :, :Wo].transpose(1, 0, 2, 3)
        z = np.empty((N, F, Ho, Wo), self.dtype)
        np.add(z_wide, self.params["b"][:, None, None], out=z)
        self._out = z
        return z

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        N, C, H, W, F, K, Ho, Wo, Wq = self._geometry
        self._gwide[:, :, :, :Wo] = g.transpose(1, 0, 2, 3)
        g_wide = self._gwide.reshape(F, -1)
        np.matmul(g_wide, self._cols.T, out=self.grads["W"].reshape(F, K))
        np.sum(g_wide, axis=1, out=self.grads["b"])
        if not input_grad:
            return None
        np.matmul(self.params["W"].reshape(F, K).T, g_wide, out=self._dcols)
        dcols = self._dcols.reshape(C, *self.kernel_size, N, Ho, Wq)
        self._dxpad.fill(0)
        dwindows = self._windows(self._dxpad)
        # col2im: one strided add per kernel offset. Within one offset no two outputs share a
        # pixel, so each += is a plain elementwise add.
        for u in range(self.kernel_size[0]):
            for v in range(self.kernel_size[1]):
                dwindows[:, u, v] += dcols[:, u, v]
        ph, pw = self.padding
        return self._dxpad[:, :, ph:ph + H, pw:pw + W].copy()

    # -- self-description -------------------------------------------------------------------------
    def output_shape(self, input_shape):
        C, (kh, kw), (sh, sw), (ph, pw) = (self.in_channels, self.kernel_size, self.stride,
                                           self.padding)
        if len(input_shape) != 3 or input_shape[0] != C:
            raise self._shape_error(input_shape, f"(batch, {C}, height, width)")
        H, W = input_shape[1] + 2 * ph, input_shape[2] + 2 * pw
        if H < kh or W < kw:
            raise self._shape_error(
                input_shape, f"images of at least {max(kh - 2 * ph, 1)}x{max(kw - 2 * pw, 1)} "
                f"pixels (height x width) for a {kh}x{kw} kernel with padding "
                f"{_shown(self.padding)}")
        return (self.out_channels, (H - kh) // sh + 1, (W - kw) // sw + 1)

    @classmethod
    def array_shapes(cls, config):
        F = check_positive_int(config["out_channels"], "Conv2D out_channels")
        C = check_positive_int(config["in_channels"], "Conv2D in_channels")
        kh, kw = _pair(config["kernel_size"], "Conv2D kernel_size", 1)
        return {"params": {"W": (F, C, kh, kw), "b": (F,)}}

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": _plain(self.kernel_size), "stride": _plain(self.stride),
                "padding": _plain(self.padding), "init": self.init,
                "dtype": np.dtype(self.dtype).name}

    def __repr__(self):
        dtype = "" if self.dtype == np.float32 else f", dtype={np.dtype(self.dtype).name}"
        return (f"Conv2D({self.in_channels}, {self.out_channels}, "
                f"kernel_size={_shown(self.kernel_size)}, stride={_shown(self.stride)}, "
                f"padding={_shown(self.padding)}{dtype})")
