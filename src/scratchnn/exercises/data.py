"""Checkers for chapters 7 and 10: preparing the data (one-hot labels, batches) and weight
initialisation."""

from __future__ import annotations

import numpy as np

from ..utils import get_batches, one_hot
from ._core import (
    as_numbers,
    check_callable,
    check_kind,
    compare,
    fmt,
    run_check,
    unchanged,
)


# -- chapter 7: one-hot labels and batches --------------------------------------------------------
def _one_hot_body(check, fn):
    labels = np.array([2, 0, 1, 2, 0])  # class 3 of 4 is absent, as it may be from a batch
    n_classes = 4
    before = labels.copy()
    got = check.run(f"one_hot(labels, {n_classes}) with labels = {labels.tolist()}", fn, labels,
                    n_classes)
    unchanged(check, before, labels, "labels", "one_hot must not change its argument.")
    expected = one_hot(labels, n_classes)
    variants = [("the rows are the samples: shape (n_samples, n_classes), "
                 "out[np.arange(n), labels] = 1.", expected.T),
                ("use n_classes for the number of columns: a batch need not contain every class.",
                 one_hot(labels))]
    if compare(check, got, expected, "one_hot(labels, 4)", variants):
        check.ok(f"labels {labels.tolist()} with {n_classes} classes")


def check_one_hot(fn, *, verbose=True):
    """Check ``fn(labels, n_classes)`` -> (n, n_classes) one-hot rows against
    ``scratchnn.one_hot``. Returns a CheckResult (truthy when passed) and prints the verdict."""
    check_callable(fn)
    return run_check("one_hot", _one_hot_body, fn, verbose=verbose)


def _get_batches_body(check, fn):
    x = np.arange(23 * 2, dtype=float).reshape(23, 2)
    batch_size = 4
    before = x.copy()
    got = check.run(f"get_batches(x, {batch_size}) with x of shape {x.shape}", fn, x, batch_size)
    unchanged(check, before, x, "x", "get_batches must not change (or shuffle) x in place.")
    expected = get_batches(x, batch_size)
    try:
        batches = list(got)
    except TypeError:
        check.stop(f"get_batches returned {type(got).__name__}, expected a list of arrays.")
    sizes = [len(b) if hasattr(b, "__len__") else None for b in batches]
    want = [len(b) for b in expected]
    if sizes != want:
        hint = None
        if len(batches) == batch_size:
            hint = ("np.array_split(x, batch_size) makes batch_size batches, not batches of "
                    "batch_size rows; slice x[i:i + batch_size] for i in range(0, len(x), "
                    "batch_size).")
        elif sizes == want[:-1]:
            hint = ("the last, shorter batch is missing: range(0, len(x), batch_size) also "
                    "starts a batch at the leftover rows.")
        check.stop(f"the batch sizes are {sizes}, expected {want} (23 rows in batches of 4).",
                   hint)
    for i, (b, e) in enumerate(zip(batches, expected, strict=True)):
        compare(check, b, e, f"batch {i}", fatal=True,
                hint="keep the rows in order: shuffling is a separate step, done before.")
    check.ok(f"23 rows in batches of {batch_size}: sizes {want}, rows in order")


def check_get_batches(fn, *, verbose=True):
    """Check ``fn(x, batch_size)`` -> consecutive batches of ``batch_size`` rows (the last one
    shorter) against ``scratchnn.get_batches``. Returns a CheckResult and prints the verdict."""
    check_callable(fn)
    return run_check("get_batches", _get_batches_body, fn, verbose=verbose)


# -- chapter 10: weight initialisation ------------------------------------------------------------
N_IN, N_OUT = 300, 200  # different, so using the wrong fan shows; 60,000 draws for the statistics

_INITIALISERS = {
    # kind: (uniform?, the variance for (n_in, n_out), the formula)
    "xavier_uniform": (True, 2.0 / (N_IN + N_OUT), "U(-a, a) with a = sqrt(6 / (n_in + n_out))"),
    "xavier_normal": (False, 2.0 / (N_IN + N_OUT), "N(0, std^2), std = sqrt(2 / (n_in + n_out))"),
    "he_uniform": (True, 2.0 / N_IN, "U(-a, a) with a = sqrt(6 / n_in)"),
    "he_normal": (False, 2.0 / N_IN, "N(0, std^2) with std = sqrt(2 / n_in)"),
}


def _std_variants(kind, var):
    """(hint, std) of typical slips in the scale of ``kind``, whose right variance is ``var``."""
    variants = [("the variance was used as the standard deviation: take its square root.", var),
                ("the factor 2 is missing from the variance.", np.sqrt(var / 2))]
    if kind.startswith("he"):
        variants += [("He uses n_in (fan_in): the variance is 2 / n_in.", np.sqrt(2.0 / N_OUT)),
                     ("that is Xavier's scale; He's variance is 2 / n_in.",
                      np.sqrt(2.0 / (N_IN + N_OUT)))]
    else:
        variants += [("Xavier uses both fans: the variance is 2 / (n_in + n_out); 2 / n_in is "
                      "He's.", np.sqrt(2.0 / N_IN)),
                     ("Xavier uses both fans: the variance is 2 / (n_in + n_out).",
                      np.sqrt(2.0 / N_OUT))]
    if _INITIALISERS[kind][0]:
        variants.insert(0, ("U(-a, a) has variance a^2 / 3, so a = sqrt(3 * variance): "
                            "sqrt(6 / ...), not sqrt(2 / ...).", np.sqrt(var / 3)))
    return variants


def _initializer_body(check, fn, kind):
    uniform, var, formula = _INITIALISERS[kind]
    std = np.sqrt(var)
    call = f"{getattr(fn, '__name__', kind)}({N_IN}, {N_OUT}, rng)"
    w = check.run(call, fn, N_IN, N_OUT, np.random.default_rng(0))
    arr = as_numbers(w)
    if arr is None or arr.shape != (N_IN, N_OUT):
        got = "a " + type(w).__name__ if arr is None else f"shape {arr.shape}"
        check.stop(f"{call} returned {got}, expected shape ({N_IN}, {N_OUT}).",
                   "W is (n_in, n_out): pass size=(n_in, n_out) to the rng." if arr is not None
                   and arr.shape == (N_OUT, N_IN) else None)
    again = as_numbers(check.run(call, fn, N_IN, N_OUT, np.random.default_rng(0)))
    if again is None or not np.array_equal(arr, again):
        check.fail("two calls with the same seed gave different weights.",
                   "draw from the rng argument (rng.normal / rng.uniform), not from np.random, "
                   "so that a seed makes runs repeatable.")
    mean, got_std = float(arr.mean()), float(arr.std())
    if abs(mean) > 5 * std / np.sqrt(arr.size):
        check.fail(f"the weights have mean {fmt(mean)}, expected 0.",
                   "centre the distribution on 0: U(-a, a) or N(0, std^2).")
    if not np.isclose(got_std, std, rtol=0.05):
        hint = next((h for h, s in _std_variants(kind, var) if np.isclose(got_std, s, rtol=0.05)),
                    None)
        check.fail(f"the weights have standard deviation {fmt(got_std)}, expected {fmt(std)} "
                   f"for n_in = {N_IN}, n_out = {N_OUT} (variance {fmt(var)}).",
                   hint or f"{kind} is {formula}.")
    _check_shape_of_distribution(check, arr, uniform, got_std)
    if not check.messages:
        check.ok(f"{formula}: shape, mean, standard deviation and spread of "
                 f"{arr.size:,} draws, repeatable with a seed")


def _check_shape_of_distribution(check, arr, uniform, got_std):
    """A uniform sample never passes its bound sqrt(3) std; a normal one does 8% of the time."""
    beyond = float(np.mean(np.abs(arr) > 1.8 * got_std))
    if uniform and beyond > 0:
        check.fail("some weights lie beyond the bound of a uniform distribution.",
                   "draw from rng.uniform(-a, a, size=(n_in, n_out)), not rng.normal.")
    if not uniform and beyond < 0.03:
        check.fail("the weights look uniformly distributed; expected a normal distribution.",
                   "draw from rng.normal(0.0, std, size=(n_in, n_out)).")


def check_initializer(fn, kind, *, verbose=True):
    """Check ``fn(n_in, n_out, rng)`` -> an (n_in, n_out) weight matrix for initialiser ``kind``:
    "xavier_uniform", "xavier_normal", "he_uniform" or "he_normal". The statistics of 60,000
    draws are compared with the formula (as in ``scratchnn.init``), and a seeded rng must make
    the draw repeatable. Returns a CheckResult (truthy when passed) and prints the verdict."""
    check_kind(kind, _INITIALISERS)
    check_callable(fn)
    return run_check(f"initialiser {kind}", _initializer_body, fn, kind, verbose=verbose)
