"""Worked solutions of the exercises' chapter 14 (convolution), written as a learner would write
them. tests/test_exercise_conv.py shows that each passes its checker, and tests/test_notebooks.py
pastes them into the notebook's cells tagged ``exercise-<name>``; each uses only NumPy as ``np``
and the learner's earlier answers (``conv2d_forward`` calls ``im2col``).
"""

import numpy as np


def im2col(x, kernel_size, stride=1, padding=0):
    N, C, H, W = x.shape
    k, s, p = kernel_size, stride, padding
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.empty((C, k, k, N, Ho, Wo), dtype=x.dtype)
    # One strided slice per kernel offset (u, v) holds that offset's pixel of every window.
    for u in range(k):
        for v in range(k):
            cols[:, u, v] = x_pad[:, :, u:u + s * Ho:s, v:v + s * Wo:s].transpose(1, 0, 2, 3)
    return cols.reshape(C * k * k, N * Ho * Wo)


def conv2d_forward(x, W, b, stride=1, padding=0):
    N, C, H, Wd = x.shape
    F, _, k, _ = W.shape
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
    z = W.reshape(F, -1) @ im2col(x, k, stride, padding) + b[:, None]  # (F, N Ho Wo)
    return z.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)


def max_pool2d(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    out = np.full((N, C, Ho, Wo), -np.inf, dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            out = np.maximum(out, x[:, :, u:u + s * Ho:s, v:v + s * Wo:s])
    return out


def max_pool2d_backward(x, grad_out, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    N, C, Ho, Wo = grad_out.shape
    n, c = np.indices((N, C))
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, s * i:s * i + k, s * j:s * j + k].reshape(N, C, k * k)
            u, v = np.divmod(window.argmax(axis=2), k)  # the first maximum of each window
            # += : where windows overlap, one pixel can be the maximum of several.
            dx[n, c, s * i + u, s * j + v] += grad_out[:, :, i, j]
    return dx
