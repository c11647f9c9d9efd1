"""Pooling layers: ``MaxPool2D``, ``AvgPool2D`` and ``GlobalAvgPool2D`` (no parameters)."""

from __future__ import annotations

import numpy as np

from .base import Layer
from .conv import _pair, _plain, _shown

_IMAGES = "(batch, channels, height, width)"


class _Pool2D(Layer):
    """Shared by the windowed pools: kernel (kh, kw) moved by stride (sh, sw), no padding, as
    ``torch.nn.MaxPool2d``/``AvgPool2d``: Ho = (H - kh) // sh + 1, Wo likewise; the pools compute
    in the input's dtype. Every window is visited as a strided slice per kernel offset (u, v):
    a reduction over the kernel axes of an (N, C, Ho, kh, Wo, kw) reshape was measured 20-40x
    slower (NumPy reduces over two inner strided axes of length 2 one element at a time)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, f"{name} kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{name} stride", 1)

    def _offsets(self, x):
        """(u, v, x's (N, C, Ho, Wo) slice under kernel offset (u, v)) for every offset in order."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        _, Ho, Wo = self.output_shape(x.shape[1:])
        for u in range(kh):
            for v in range(kw):
                yield u, v, x[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw]

    def _fold_windows(self, x, ufunc):
        """ufunc (np.maximum, np.add) of every window's pixels: (N, C, Ho, Wo)."""
        out = None
        for _, _, window in self._offsets(x):
            out = window.copy() if out is None else ufunc(out, window, out=out)
        return out

    @property
    def _tiles(self):
        """True when the windows never overlap, so each pixel gets the gradient of one window."""
        return all(s >= k for s, k in zip(self.stride, self.kernel_size, strict=True))

    def _start(self, x):
        x = self._check_input(x, ndim=4, layout=_IMAGES)
        self.output_shape(x.shape[1:])
        self._x = x
        return x

    def output_shape(self, input_shape):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if len(input_shape) != 3:
            raise self._shape_error(input_shape, _IMAGES)
        C, H, W = input_shape
        if H < kh or W < kw:
            raise self._shape_error(input_shape, f"images of at least {kh}x{kw} pixels "
                                    f"(height x width) for a {kh}x{kw} window")
        return (C, (H - kh) // sh + 1, (W - kw) // sw + 1)

    def get_config(self):
        return {"kernel_size": _plain(self.kernel_size), "stride": _plain(self.stride)}

    def __repr__(self):
        return (f"{type(self).__name__}(kernel_size={_shown(self.kernel_size)}, "
                f"stride={_shown(self.stride)})")


class MaxPool2D(_Pool2D):
    """The largest value of each window: x (batch, C, H, W) -> (batch, C, Ho, Wo).

    Backward sends each window's gradient to the pixel that held its maximum; when several
    pixels tie, to the first in row-major order, as torch does (exactly one per window).
    """

    def forward(self, x):
        self._out = self._fold_windows(self._start(x), np.maximum)
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        if not input_grad:
            return None
        x, out = self._x, self._out
        dx = np.zeros_like(x)
        taken = np.zeros(out.shape, dtype=bool)  # windows whose maximum has been found
        hit = np.empty_like(taken)
        last = self.kernel_size[0] * self.kernel_size[1] - 1
        for (u, v, window), (_, _, dwindow) in zip(self._offsets(x), self._offsets(dx),
                                                          strict=True):
            np.equal(window, out, out=hit)
            np.greater(hit, taken, out=hit)  # a max not already found earlier in its window
            if u * self.kernel_size[1] + v < last:
                taken |= hit
            if self._tiles:
                np.multiply(g, hit, out=dwindow)
            else:
                dwindow += g * hit
        return dx


class AvgPool2D(_Pool2D):
    """The mean of each window: x (batch, C, H, W) -> (batch, C, Ho, Wo). Backward spreads
    each window's gradient evenly over its kh kw pixels."""

    def forward(self, x):
        x = self._start(x)
        out = self._fold_windows(x, np.add)
        out *= x.dtype.type(1 / (self.kernel_size[0] * self.kernel_size[1]))
        self._out = out
        return out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        if not input_grad:
            return None
        g = g * g.dtype.type(1 / (self.kernel_size[0] * self.kernel_size[1]))
        dx = np.zeros_like(self._x)
        for _, _, dwindow in self._offsets(dx):
            if self._tiles:
                dwindow[...] = g
            else:
                dwindow += g
        return dx


class GlobalAvgPool2D(Layer):
    """The mean of each channel over the whole image, as ``nn.AdaptiveAvgPool2d(1)`` then a
    flatten: x (batch, C, H, W) -> (batch, C). Backward: dL/dx = g / (H W) at every pixel."""

    def forward(self, x):
        x = self._check_input(x, ndim=4, layout=_IMAGES)
        self._x_shape = x.shape
        self._out = x.mean(axis=(2, 3))
        return self._out

    def backward(self, grad_z, input_grad=True):
        g = self._check_grad(grad_z)
        if not input_grad:
            return None
        N, C, H, W = self._x_shape
        dx = np.empty(self._x_shape, dtype=g.dtype)
        dx[...] = (g * g.dtype.type(1 / (H * W)))[:, :, None, None]
        return dx

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise self._shape_error(input_shape, _IMAGES)
        return (input_shape[0],)

    def __repr__(self):
        return "GlobalAvgPool2D()"
