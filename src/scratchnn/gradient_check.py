"""Finite-difference gradient checking, for our layers and for the ones learners write.

    >>> from scratchnn import LinearLayer, gradcheck
    >>> layer = LinearLayer(4, 3, dtype=np.float64, rng=0)
    >>> gradcheck(layer, np.random.default_rng(0).normal(size=(5, 4))).passed
    True

A layer is checked through the scalar L = sum(forward(x) * R) for a fixed random R, so
dL/d(output) = R is passed to ``backward`` and every analytic gradient (input and each entry of
``params``) is compared with central differences (f(p + eps) - f(p - eps)) / (2 eps), whose error
is O(eps^2). The comparison is the relative error ||analytic - numeric|| / (||analytic|| +
||numeric||), which is ~1e-10 for a correct float64 gradient and ~1 for a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array, as_rng
from .network import MultiLayerNetwork


@dataclass
class GradcheckResult:
    """Relative error of each checked gradient, by name ("x", "W", "b", "y_pred", ...)."""

    errors: dict = field(default_factory=dict)
    rtol: float = 1e-6

    @property
    def passed(self):
        return all(err < self.rtol for err in self.errors.values())

    @property
    def worst(self):
        return max(self.errors.values(), default=0.0)

    def __bool__(self):
        return self.passed

    def __str__(self):
        rows = [f"  {name:<8} relative error {err:.2e}  {'ok' if err < self.rtol else 'WRONG'}"
                for name, err in self.errors.items()]
        verdict = "passed" if self.passed else "FAILED"
        return f"gradcheck {verdict} (rtol {self.rtol:g})\n" + "\n".join(rows)


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||), 0 when both are zero."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic gradient has shape {a.shape}, numeric has shape {n.shape}.")
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f() with respect to the array x.

    x is changed in place one entry at a time and restored, so f must read x (a parameter array
    or an input it closes over) each time it is called. Each difference is divided by the step
    the entry really took: in float32 (or float16) x + eps rounds, and 2 * eps would be wrong.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    # Index by position rather than through a flat view: a transposed or sliced parameter (a
    # view, not contiguous) is changed in place just the same.
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up, f_plus = float(x[i]), f()
        x[i] = old - eps
        down, f_minus = float(x[i]), f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (up - down)
    return grad


def _require_float64(arrays, what):
    for name, arr in arrays.items():
        if arr.dtype != np.float64:
            raise ValueError(
                f"gradcheck needs float64 for a meaningful check, but {what} {name!r} is "
                f"{arr.dtype}; build it with dtype=np.float64."
            )


def _named_layers(model):
    """(prefix, layer) pairs: a network's parameters are named "<index>.<name>" ("0.W")."""
    if isinstance(model, MultiLayerNetwork):
        return [(f"{i}.", layer) for i, layer in enumerate(model.layers)]
    return [("", model)]


def gradcheck(layer, x, eps=1e-6, rtol=1e-6, rng=0):
    """Check ``layer.backward`` against finite differences at input x (batch, ...): rows
    (batch, n_in) or images (batch, channels, height, width).

    Works for any object with ``forward``, ``backward`` and ``params`` dicts: a layer or a
    ``MultiLayerNetwork``. Returns a GradcheckResult; ``result.passed`` is the verdict.
    """
    x = np.array(as_float_array(x, "x"), dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(
            f"x must be a 2-D array or more with the batch first, got shape {x.shape}; for one "
            "sample use x.reshape(1, -1)."
        )
    parts = _named_layers(layer)
    params = {prefix + name: p for prefix, part in parts
              for name, p in getattr(part, "params", {}).items()}
    _require_float64(params, "parameter")
    out = np.asarray(layer.forward(x))
    weights = as_rng(rng).normal(size=out.shape)

    def loss():
        return float(np.sum(np.asarray(layer.forward(x)) * weights))

    loss()
    grad_x = layer.backward(weights.copy())
    analytic = {"x": np.array(grad_x)}
    analytic.update({prefix + name: np.array(g) for prefix, part in parts
                     for name, g in getattr(part, "grads", {}).items()})

    result = GradcheckResult(rtol=rtol)
    result.errors["x"] = relative_error(analytic["x"], numerical_gradient(loss, x, eps))
    for name, p in params.items():
        if name not in analytic:
            raise ValueError(f"layer has a parameter {name!r} but no gradient of that name.")
        result.errors[name] = relative_error(analytic[name], numerical_gradient(loss, p, eps))
    return result


def check_loss(loss, y_true, y_pred, eps=1e-6, rtol=1e-6):
    """Check a loss object's ``backward()`` (dL/dy_pred) against finite differences."""
    y_pred = np.array(as_float_array(y_pred, "y_pred"), dtype=np.float64)

    def value():
        return loss.forward(y_true, y_pred)

    value()
    analytic = np.array(loss.backward())
    result = GradcheckResult(rtol=rtol)
    result.errors["y_pred"] = relative_error(analytic, numerical_gradient(value, y_pred, eps))
    return result
