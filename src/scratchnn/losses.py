"""Loss functions: the notebook's plain functions and the loss objects used for training.

Every loss is the *mean* over its elements (over the batch for cross-entropy), as PyTorch's
default ``reduction="mean"``. ``derivative=True`` / ``backward()`` give the gradient of that mean
with respect to ``y_pred``, elementwise, with the same shape as ``y_pred``.

``forward(y_true, y_pred, sample_weight=w)`` takes one weight per sample (row) and gives the
weighted mean over samples, L = sum_i w_i l_i / sum_i w_i, where l_i is row i's loss (the mean over
its elements; for cross-entropy, its negative log-likelihood). w = ones gives the unweighted mean;
class weights are w_i = c[y_i], which is ``torch.nn.CrossEntropyLoss(weight=c)`` for labels.

A correction to the notebook: its ``mse(..., derivative=True)`` returned the scalar
``sum(y_pred - y_real)``, which is not a gradient at all. Here it is ``2 (y_pred - y_real) / n``,
one number per element, which is what backpropagation needs.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_labels
from .activations import log_softmax, sigmoid


def _prepare(y_true, y_pred):
    """Validate a (target, prediction) pair and return both as float arrays of one shape."""
    y_pred = as_float_array(y_pred, "y_pred")
    y_true = as_float_array(y_true, "y_true", dtype=y_pred.dtype)
    # A 1-D target against a (n, 1) prediction would broadcast to (n, n): a classic silent bug.
    if y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_true = y_true.reshape(-1, 1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; they must match."
        )
    if y_pred.size == 0:
        raise ValueError("y_pred is empty; a loss needs at least one sample.")
    return y_true, y_pred


def _prepare_classes(y_true, logits):
    """Cross-entropy targets: integer labels (batch,) or float rows (batch, C) (one-hot or
    probabilities), checked against logits (batch, C)."""
    logits = as_float_array(logits, "logits", ndim=2)
    if logits.shape[0] == 0:
        raise ValueError("logits is empty; a loss needs at least one sample.")
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == logits.shape[1] and logits.shape[1] > 1:
        target = as_float_array(y, "y_true", dtype=logits.dtype)
    else:
        target = as_labels(y, "y_true", n_classes=logits.shape[1])
    if target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"y_true has {target.shape[0]} samples but logits has {logits.shape[0]}; "
            "they must match."
        )
    return target, logits


def _check_sample_weight(sample_weight, y_pred):
    """sample_weight as a float64 array (n,) of finite weights >= 0, not all zero."""
    w = as_float_array(sample_weight, "sample_weight", dtype=np.float64, allow_nonfinite=True)
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be a 1-D array with one weight per sample, got "
                         f"shape {w.shape}.")
    if y_pred.ndim == 0:
        raise ValueError("sample_weight needs predictions with a batch axis (one row per sample), "
                         "but y_pred is a single number.")
    if len(w) != len(y_pred):
        raise ValueError(f"sample_weight has {len(w)} weight(s) for {len(y_pred)} samples; give "
                         "one weight per sample (row).")
    if not np.isfinite(w).all():
        raise ValueError(f"sample_weight contains {np.count_nonzero(~np.isfinite(w))} NaN or "
                         "infinite value(s); weights must be finite.")
    if w.min() < 0:
        raise ValueError(f"sample_weight contains {np.count_nonzero(w < 0)} negative value(s) "
                         f"(smallest {w.min():g}); weights must be >= 0.")
    if not w.any():
        raise ValueError("sample_weight sums to 0; at least one sample needs a positive weight.")
    # Only ratios matter; dividing by the largest keeps sum(w) from overflowing for huge weights.
    return w / w.max()


def _check_probabilities(p):
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            "y_pred must be probabilities in [0, 1] for binary cross-entropy; for raw scores "
            "use BinaryCrossEntropyLoss(from_logits=True)."
        )


# PyTorch clamps log(p) at -100 so that p = 0 gives a large finite loss instead of inf.
_LOG_FLOOR = -100.0
# ...and keeps the backward denominator p (1 - p) away from zero.
_BCE_EPS = 1e-12


class Loss:
    """A training loss: ``forward(y_true, y_pred, sample_weight=None)`` -> mean loss,
    ``backward()`` -> dL/dy_pred.

    A subclass gives ``_value`` (the unweighted mean) and ``_grad`` (its gradient), and either
    ``_elementwise`` (the loss of each element, averaged over a row for its sample's loss) or
    ``_per_sample`` (the loss of each row). The weighting is done here, once for every loss.
    """

    def __init__(self):
        self._cache = None

    def forward(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        if sample_weight is None:
            self._cache = (y_true, y_pred, None)
            return float(self._value(y_true, y_pred))
        w = _check_sample_weight(sample_weight, y_pred)
        self._cache = (y_true, y_pred, w)
        return float(np.sum(w * self._per_sample(y_true, y_pred)) / np.sum(w))

    def backward(self):
        if self._cache is None:
            raise ValueError(f"{type(self).__name__}.backward() called before forward().")
        y_true, y_pred, w = self._cache
        grad = self._grad(y_true, y_pred)
        if w is None:
            return grad
        # Row i of the unweighted gradient is (dl_i/dy_pred_i) / n; the weighted mean's is
        # (dl_i/dy_pred_i) w_i / sum(w), so each row is scaled by n w_i / sum(w).
        scale = (w * (len(w) / np.sum(w))).astype(grad.dtype)
        return grad * scale.reshape(-1, *[1] * (grad.ndim - 1))

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Not ``__call__ = forward``: that would bind Loss.forward and bypass a subclass's own.
        return self.forward(y_true, y_pred, sample_weight)

    _prepare = staticmethod(_prepare)

    def _value(self, y, p):
        return np.mean(self._elementwise(y, p))

    def _per_sample(self, y, p):
        return self._elementwise(y, p).reshape(len(p), -1).mean(axis=1)

    def __repr__(self):
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """L = mean((y_pred - y)^2); dL/dy_pred = 2 (y_pred - y) / n."""

    @staticmethod
    def _elementwise(y, p):
        d = p - y
        return d * d

    @staticmethod
    def _grad(y, p):
        return (2.0 / p.size) * (p - y)


class MAELoss(Loss):
    """L = mean(|y_pred - y|); dL/dy_pred = sign(y_pred - y) / n (0 where they are equal)."""

    @staticmethod
    def _elementwise(y, p):
        return np.abs(p - y)

    @staticmethod
    def _grad(y, p):
        return np.sign(p - y) / p.size


class BinaryCrossEntropyLoss(Loss):
    """L = -mean(y log p + (1 - y) log(1 - p)) on probabilities p, or on logits z.

    With ``from_logits=True`` y_pred holds raw scores z and p = sigmoid(z) is fused into the loss:
    L = mean(max(z, 0) - z y + log(1 + e^-|z|)), dL/dz = (sigmoid(z) - y) / n, stable for any z.
    """

    def __init__(self, from_logits=False):
        super().__init__()
        self.from_logits = bool(from_logits)

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = _prepare(y_true, y_pred)
        if not self.from_logits:
            _check_probabilities(y_pred)
        return y_true, y_pred

    def _elementwise(self, y, p):
        if self.from_logits:
            z = p
            return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        # p = 0 or 1 is common (a float32 sigmoid saturates): log(0) = -inf is floored, no error.
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(np.maximum(p, 0)), _LOG_FLOOR)
            log_1mp = np.maximum(np.log(np.maximum(1 - p, 0)), _LOG_FLOOR)
        return -(y * log_p + (1 - y) * log_1mp)

    def _grad(self, y, p):
        if self.from_logits:
            return (sigmoid(p) - y) / p.size
        return (p - y) / np.maximum(p * (1 - p), _BCE_EPS) / p.size

    def __repr__(self):
        return f"BinaryCrossEntropyLoss(from_logits={self.from_logits})"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits: L = -mean_b sum_c y_bc log softmax(z_b)_c.

    Targets are one-hot (or probability) rows of shape (batch, C), or integer labels (batch,).
    The softmax is fused into the loss, so the gradient is simply (softmax(z) - y) / batch and
    log-softmax is used instead of log(p + eps): exact, and stable for any logits.
    """

    @staticmethod
    def _prepare(y_true, logits):
        # The log-softmax is taken once, here: forward caches it and backward reuses it.
        target, logits = _prepare_classes(y_true, logits)
        return target, log_softmax(logits)

    @staticmethod
    def _value(target, log_probs):
        n = log_probs.shape[0]
        if target.ndim == 1:  # labels: pick each row's log-probability of its class
            return -log_probs[np.arange(n), target].sum() / n
        return -np.sum(target * log_probs) / n

    @staticmethod
    def _per_sample(target, log_probs):
        if target.ndim == 1:
            return -log_probs[np.arange(len(target)), target]
        return -np.sum(target * log_probs, axis=1)

    @staticmethod
    def _grad(target, log_probs):
        grad = np.exp(log_probs)
        if target.ndim == 1:
            grad[np.arange(len(target)), target] -= 1
        else:
            grad -= target
        grad /= log_probs.shape[0]
        return grad


LOSSES = {
    "mse": MSELoss,
    "mae": MAELoss,
    "binary_cross_entropy": BinaryCrossEntropyLoss,
    "bce": BinaryCrossEntropyLoss,
    "cross_entropy": CrossEntropyLoss,
    "categorical_cross_entropy": CrossEntropyLoss,
}


def get_loss(loss):
    """A Loss object from a Loss instance or one of the names in ``LOSSES``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return LOSSES[loss.lower()]()
    raise ValueError(f"unknown loss {loss!r}; choose a Loss object or one of {sorted(LOSSES)}.")


def _loss_function(loss_cls, y_true, y_pred, derivative):
    loss = loss_cls()
    y_true, y_pred = loss._prepare(y_true, y_pred)
    return loss._grad(y_true, y_pred) if derivative else float(loss._value(y_true, y_pred))


def mse(y_real, y_pred, derivative=False):
    """Mean squared error; with ``derivative=True`` the gradient 2 (y_pred - y_real) / n."""
    return _loss_function(MSELoss, y_real, y_pred, derivative)


def mae(y_real, y_pred, derivative=False):
    """Mean absolute error; with ``derivative=True`` the gradient sign(y_pred - y_real) / n."""
    return _loss_function(MAELoss, y_real, y_pred, derivative)


def binary_cross_entropy(y_real, y_pred, derivative=False):
    """Binary cross-entropy on probabilities y_pred in [0, 1]."""
    return _loss_function(BinaryCrossEntropyLoss, y_real, y_pred, derivative)


def cross_entropy_loss(y_real, logits, derivative=False):
    """Multiclass cross-entropy of raw scores (softmax inside, as the notebook).

    y_real: one-hot rows (batch, C) or labels (batch,); logits: (batch, C).
    With ``derivative=True`` returns dL/dlogits = (softmax(logits) - y_real) / batch.
    """
    return _loss_function(CrossEntropyLoss, y_real, logits, derivative)
