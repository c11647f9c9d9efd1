"""Activation functions as plain functions, with the notebook's ``derivative=`` switch.

``f(x, derivative=True)`` returns f'(x) evaluated at the *input* x (``sigmoid(0, True)`` is 0.25).
All are written to be stable for large |x|: no overflow warnings at x = +-1000.
"""

from __future__ import annotations

import numpy as np


def _float(x):
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def sigmoid(x, derivative=False):
    """sigma(x) = 1 / (1 + e^-x); derivative sigma(x) (1 - sigma(x)).

    Computed from e^-|x| so the exponent is never positive and cannot overflow.
    """
    x = _float(x)
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
    return s * (1.0 - s) if derivative else s


def relu(x, derivative=False):
    """max(0, x); derivative 1 for x > 0 else 0 (the subgradient at 0 is taken as 0, as PyTorch)."""
    x = _float(x)
    if derivative:
        return (x > 0).astype(x.dtype)
    return np.maximum(x, 0)


def tanh(x, derivative=False):
    """tanh(x); derivative 1 - tanh(x)^2."""
    x = _float(x)
    t = np.tanh(x)
    return 1.0 - t * t if derivative else t


def leaky_relu(x, alpha=0.01, derivative=False):
    """x for x > 0, alpha * x otherwise; derivative 1 or alpha."""
    x = _float(x)
    if derivative:
        return np.where(x > 0, 1.0, alpha).astype(x.dtype)
    return np.where(x > 0, x, alpha * x).astype(x.dtype, copy=False)


def log_softmax(x, axis=-1):
    """log(softmax(x)) without ever forming softmax: x - max - log(sum(exp(x - max)))."""
    x = _float(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, derivative=False):
    """Row-wise softmax s_i = e^{x_i} / sum_j e^{x_j} over the last axis.

    x: (C,) or (batch, C). With ``derivative=True`` returns the Jacobian of each row,
    J[b, i, j] = s_i (delta_ij - s_j), shape (batch, C, C) (or (C, C) for a 1-D x).
    Subtracting the row maximum first keeps exp from overflowing.
    """
    x = _float(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"softmax expects a 1-D or 2-D array, got shape {x.shape}.")
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    if not derivative:
        return s
    # diag(s) - s s^T, built for every row at once.
    jac = -s[..., :, None] * s[..., None, :]
    idx = np.arange(s.shape[-1])
    jac[..., idx, idx] += s
    return jac


ACTIVATIONS = {
    "sigmoid": sigmoid,
    "relu": relu,
    "tanh": tanh,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
}
