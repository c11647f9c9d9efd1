"""Checks at the user-facing boundary.

Every public entry point calls one of these before doing any work, so a bad argument fails with a
sentence naming the problem instead of a NumPy traceback from deep inside a matrix product.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)

_config = threading.local()


@contextlib.contextmanager
def assume_finite():
    """Skip the NaN/inf scan inside this block (as scikit-learn's ``assume_finite``).

    The network checks its input once and then runs its layers inside this block, so each layer
    does not scan again what the layer before it produced. Shapes and ranks are still checked.
    """
    previous = getattr(_config, "assume_finite", False)
    _config.assume_finite = True
    try:
        yield
    finally:
        _config.assume_finite = previous


def as_float_array(x, name="x", *, ndim=None, dtype=None, allow_nonfinite=False):
    """Return ``x`` as a floating ndarray after checking its type, rank and values.

    ``dtype=None`` keeps float32/float64 input as it is and turns anything else (ints, bools,
    lists) into float64 -- the NumPy default -- so float32 work is never silently upcast.
    """
    fast = isinstance(x, np.ndarray) and x.dtype in FLOAT_DTYPES
    if fast and (dtype is None or x.dtype == dtype):
        source = arr = x  # the common case inside training: nothing to convert
    else:
        source = _as_numbers(x, name)
        arr = _to_float(source, dtype)
    if ndim is not None and arr.ndim != ndim:
        shape_hint = "(batch, features)" if ndim == 2 else f"{ndim}-D"
        extra = ""
        if ndim == 2 and arr.ndim == 1:
            extra = " For one sample use x.reshape(1, -1); for one feature, x.reshape(-1, 1)."
        raise ValueError(
            f"{name} must be a {ndim}-D array {shape_hint}, got {arr.ndim}-D array of shape "
            f"{arr.shape}.{extra}"
        )
    if not allow_nonfinite and not getattr(_config, "assume_finite", False):
        if source.dtype.kind == "f" and source.dtype.itemsize > arr.dtype.itemsize:
            _check_cast(source, arr, name)
        _check_finite(arr, name)
    return arr


def _check_finite(arr, name):
    # A sum is NaN/inf whenever any element is, and needs no temporary array; only when it is not
    # finite (which huge but finite values can also cause) is the exact elementwise test run.
    # The sum of inf and -inf, or of huge float32 values, must not warn before the clear error.
    with np.errstate(over="ignore", invalid="ignore"):
        finite_sum = np.isfinite(arr.sum())
    if not finite_sum and not np.isfinite(arr).all():
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        n_inf = int(np.count_nonzero(np.isinf(arr)))
        which = ", ".join(f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n)
        raise ValueError(f"{name} contains {n_nan + n_inf} NaN or infinite value(s) ({which}); "
                         "clean the data first.")


def _check_cast(source, arr, name):
    """Refuse finite values of ``source`` that became infinite in ``arr``, its cast to a
    narrower float (1e308 does not fit in float32, whose largest value is about 3.4e38)."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite_sum = np.isfinite(arr.sum())
    if finite_sum:
        return
    overflowed = np.isinf(arr) & np.isfinite(source)
    if overflowed.any():
        biggest = float(np.abs(source[overflowed]).max())
        limit = float(np.finfo(arr.dtype).max)
        raise ValueError(
            f"{name} has {int(overflowed.sum())} value(s) that overflow {arr.dtype} (up to "
            f"{biggest:.3g}; {arr.dtype} holds at most {limit:.3g}): rescale {name}, or use "
            "float64."
        )


def _as_numbers(x, name):
    """``x`` as an ndarray of real numbers (any numeric or bool dtype), or a TypeError."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}.")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} could not be read as an array of numbers: {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got an array of dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}.")
    return arr


def _to_float(arr, dtype):
    """``arr`` in ``dtype``, or by default float32/float64 kept and anything else float64."""
    if dtype is not None:
        with np.errstate(over="ignore"):  # a value that overflows is refused by _check_cast
            return arr.astype(dtype, copy=False)
    return arr if arr.dtype in FLOAT_DTYPES else arr.astype(np.float64)


def check_positive_int(value, name, *, minimum=1):
    """``value`` as an int, or a ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_float(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float in the given interval, or a TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    too_low = low is not None and (value < low or (low_open and value == low))
    too_high = high is not None and (value > high or (high_open and value == high))
    if not math.isfinite(value) or too_low or too_high:
        if low is not None and high is not None:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = ""
        message = f"{name} must be a finite number {where}, got {value!r}."
        raise ValueError(message.replace(" ,", ","))
    return value


def check_dtype(dtype):
    """The float dtype a layer computes in: float32 or float64, anything else is refused."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}.") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dt}.")
    return dt.type


def check_same_length(x, y, x_name="X", y_name="y"):
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} have different lengths: {len(x)} samples vs {len(y)} targets."
        )


def as_rng(rng):
    """A ``np.random.Generator`` from None, a seed or an existing generator."""
    if rng is None or isinstance(rng, numbers.Integral):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {rng!r}.")


def as_labels(y, name="y", *, n_classes=None):
    """Integer class labels as a 1-D int64 array, each in [0, n_classes) when that is given."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {arr.shape}.")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole-number class labels, got non-integer values.")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}.")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} has a negative class label ({labels.min()}); labels start at 0.")
    if n_classes is not None and labels.size and labels.max() >= n_classes:
        raise ValueError(
            f"{name} has label {labels.max()} but there are only {n_classes} classes "
            f"(labels must be in 0..{n_classes - 1})."
        )
    return labels


def check_sample_weight(sample_weight, n):
    """sample_weight (or None) as a 1-D float array of n finite weights >= 0, not all zero:
    what fit, evaluate and the metrics take."""
    if sample_weight is None:
        return None
    w = as_float_array(sample_weight, "sample_weight", allow_nonfinite=True)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D, one weight per sample, got shape {w.shape}."
        )
    if len(w) != n:
        raise ValueError(f"sample_weight has {len(w)} weights for {n} samples.")
    n_bad = int(w.size - np.count_nonzero(np.isfinite(w)))
    if n_bad:
        raise ValueError(
            f"sample_weight has {n_bad} NaN or infinite value(s); weights must be finite."
        )
    n_negative = int(np.count_nonzero(w < 0))
    if n_negative:
        raise ValueError(
            f"sample_weight has {n_negative} negative value(s); weights must be >= 0."
        )
    if not np.any(w > 0):
        raise ValueError("sample_weight is all zeros; at least one weight must be positive.")
    return w
