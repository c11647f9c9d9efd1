"""The notebook's helpers: weights, batches, shuffling, accuracy and one-hot labels."""

from __future__ import annotations

import numpy as np

from ._validation import as_labels, as_rng, check_positive_int, check_same_length
from .init import uniform


def initialize_weights(input_size, output_size, rng=None, dtype=np.float32):
    """Weights of shape (input_size, output_size), uniform in [-1, 1] as in the notebook."""
    check_positive_int(input_size, "input_size")
    check_positive_int(output_size, "output_size")
    return uniform((input_size, output_size), rng=rng, dtype=dtype)


def get_batches(x, batch_size):
    """Split x along its first axis into consecutive batches OF ``batch_size`` rows.

    The last batch is shorter when len(x) is not a multiple of batch_size. (``np.array_split(x,
    batch_size)`` would instead make ``batch_size`` batches.) Batches are views, not copies.
    """
    check_positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("x must have at least one axis to split into batches.")
    return [x[i : i + batch_size] for i in range(0, len(x), batch_size)]


def shuffle(X, y, rng=None):
    """X and y reordered by the same random permutation (new arrays; the inputs are untouched)."""
    X, y = np.asarray(X), np.asarray(y)
    check_same_length(X, y)
    perm = as_rng(rng).permutation(len(X))
    return X[perm], y[perm]


def to_labels(y):
    """Class labels from labels (n,), one-hot / probability / score rows (n, C), or a single
    column of probabilities (n, 1), read as class 1 where p > 0.5."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.dtype.kind == "f" and y.size and not np.all(y == np.round(y)):
        return (y.reshape(len(y), -1)[:, 0] > 0.5).astype(np.int64)
    return as_labels(y)


def accuracy(y_real, y_pred):
    """Fraction of samples whose predicted class is the real one.

    Each argument may be labels (n,) or one-hot / probability / score rows (n, C).
    """
    real, pred = to_labels(y_real), to_labels(y_pred)
    check_same_length(real, pred, "y_real", "y_pred")
    if real.size == 0:
        raise ValueError("accuracy of an empty set is undefined.")
    return float(np.mean(real == pred))


def one_hot(labels, n_classes=None, dtype=np.float32):
    """labels (n,) -> (n, n_classes) rows with a single 1 at each label."""
    labels = as_labels(labels, "labels")
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    else:
        n_classes = check_positive_int(n_classes, "n_classes")
        labels = as_labels(labels, "labels", n_classes=n_classes)
    out = np.zeros((labels.size, n_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out
