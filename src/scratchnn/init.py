"""Weight initialisers, choosable by name: ``get("he_uniform")(shape, rng=0)``.

Each takes ``shape = (fan_in, fan_out)`` (the layout of ``LinearLayer.W``), an optional ``rng``
(None, a seed or a ``np.random.Generator``) and a ``dtype``, and returns a new array.

Why the scale matters: with n inputs of unit variance, a weight of variance v gives an output of
variance n v. Xavier/Glorot keeps v = 2 / (fan_in + fan_out) so signals neither grow nor shrink
through tanh/sigmoid layers; He/Kaiming uses v = 2 / fan_in, doubling it to make up for ReLU
zeroing half its inputs. The notebook's uniform(-1, 1) has v = 1/3 whatever the width, so a
784-wide layer multiplies the variance by about 260.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_rng, check_dtype


def _fans(shape):
    if len(shape) != 2:
        raise ValueError(f"weight shape must be (fan_in, fan_out), got {shape}.")
    fan_in, fan_out = (int(s) for s in shape)
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"weight shape must have positive sizes, got {shape}.")
    return fan_in, fan_out


def _uniform(shape, bound, rng, dtype):
    return as_rng(rng).uniform(-bound, bound, size=shape).astype(check_dtype(dtype))


def _normal(shape, std, rng, dtype):
    return as_rng(rng).normal(0.0, std, size=shape).astype(check_dtype(dtype))


def uniform(shape, rng=None, dtype=np.float32):
    """U(-1, 1), the notebook's initialiser."""
    _fans(shape)
    return _uniform(shape, 1.0, rng, dtype)


def xavier_uniform(shape, rng=None, dtype=np.float32):
    """Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return _uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def xavier_normal(shape, rng=None, dtype=np.float32):
    """Glorot normal: N(0, 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return _normal(shape, np.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def he_uniform(shape, rng=None, dtype=np.float32):
    """He/Kaiming uniform for ReLU: U(-a, a) with a = sqrt(6 / fan_in)."""
    fan_in, _ = _fans(shape)
    return _uniform(shape, np.sqrt(6.0 / fan_in), rng, dtype)


def he_normal(shape, rng=None, dtype=np.float32):
    """He/Kaiming normal for ReLU: N(0, 2 / fan_in)."""
    fan_in, _ = _fans(shape)
    return _normal(shape, np.sqrt(2.0 / fan_in), rng, dtype)


def zeros(shape, rng=None, dtype=np.float32):
    """All zeros (fine for biases; for weights it makes every unit identical)."""
    _fans(shape)
    return np.zeros(shape, dtype=check_dtype(dtype))


INITIALIZERS = {
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "zeros": zeros,
}


def get(init):
    """An initialiser from its name (see ``INITIALIZERS``) or a callable(shape, rng, dtype)."""
    if callable(init):
        return init
    if isinstance(init, str) and init.lower() in INITIALIZERS:
        return INITIALIZERS[init.lower()]
    raise ValueError(f"unknown initialiser {init!r}; choose one of {sorted(INITIALIZERS)}.")
