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
    describe,
    fmt,
    kind_of,
    run_check,
    unchanged,
)


# -- chapter 7: one-hot labels and batches --------------------------------------------------------
def _one_hot_hint(exc):
    if isinstance(exc, IndexError):
        return ("labels run from 0 to n_classes - 1 and each is its own column index: "
                "out[np.arange(n), labels] = 1 (no + 1 or - 1).")
    return None


def _one_hot_body(check, fn):
    # Class 3 of 4 is absent, as it may be from a batch; 6 labels, so that a square (6, 6)
    # matrix (one column per sample) and n_classes + 1 = 5 columns are told apart.
    labels = np.array([2, 0, 1, 2, 0, 1])
    n_classes = 4
    before = labels.copy()
    got = check.run(f"one_hot(labels, {n_classes}) with labels = {labels.tolist()}", fn, labels,
                    n_classes, hint=_one_hot_hint)
    unchanged(check, before, labels, "labels", "one_hot must not change its argument.")
    expected = one_hot(labels, n_classes)
    off_by_one = ("the 1 is one column off: label k goes in column k (labels start at 0), "
                  "out[np.arange(n), labels] = 1.")
    variants = [("the rows are the samples: shape (n_samples, n_classes), "
                 "out[np.arange(n), labels] = 1.", expected.T),
                ("use n_classes for the number of columns: a batch need not contain every class.",
                 one_hot(labels)),
                (off_by_one, one_hot(labels + 1, n_classes)),
                (off_by_one, one_hot((labels - 1) % n_classes, n_classes)),
                ("out[:, labels] = 1 sets those columns in every row: index the rows and the "
                 "columns together, out[np.arange(n), labels] = 1.",
                 np.tile(expected.max(axis=0), (len(labels), 1))),
                ("one column per class, not per sample: np.zeros((len(labels), n_classes)).",
                 np.eye(len(labels))[labels]),
                ("n_classes columns, not n_classes + 1: labels 0 to n_classes - 1 fill exactly "
                 "n_classes columns.", one_hot(labels, n_classes + 1)),
                ("the 0s and 1s are swapped: a row is 1 at its label and 0 elsewhere.",
                 1 - expected),
                ("each row holds its label where it should hold 1: out[np.arange(n), labels] "
                 "= 1.", expected * labels[:, None])]
    if not compare(check, got, expected, f"one_hot(labels, {n_classes})", variants,
                   hint=_empty_rows_hint(got, expected), on=f"labels = {labels.tolist()}"):
        return
    # Every class present, the last one included: labels + 1 or a shifted row then shows.
    labels = np.array([3, 1, 0, 2, 3, 1])
    got = check.run(f"one_hot(labels, {n_classes}) with labels = {labels.tolist()}", fn, labels,
                    n_classes, hint=_one_hot_hint)
    if compare(check, got, one_hot(labels, n_classes), f"one_hot(labels, {n_classes})",
               [(off_by_one, one_hot((labels - 1) % n_classes, n_classes))],
               on=f"labels = {labels.tolist()}"):
        check.ok("labels [2, 0, 1, 2, 0, 1] and [3, 1, 0, 2, 3, 1] with 4 classes")


def _empty_rows_hint(got, expected):
    """Rows left without their 1 while the others are right (a loop starting at 1)."""
    arr = as_numbers(got)
    if arr is None or arr.shape != expected.shape:
        return None
    empty = ~arr.any(axis=1)
    if empty.any() and np.array_equal(arr[~empty], expected[~empty]):
        return (f"row(s) {np.flatnonzero(empty).tolist()} have no 1: every sample's row gets "
                "its 1 (indices start at 0: range(len(labels)), or out[np.arange(n), labels] "
                "= 1).")
    return None


def check_one_hot(fn, *, verbose=True):
    """Check ``fn(labels, n_classes)`` -> (n, n_classes) one-hot rows against
    ``scratchnn.one_hot``, with a class missing from the labels and with every class present.
    Returns a CheckResult (truthy when passed) and prints the verdict."""
    check_callable(fn)
    return run_check("one_hot", _one_hot_body, fn, verbose=verbose)


# (rows, batch_size): a multiple, leftovers of 1 and of batch_size - 1, batch_size 1, a batch
# larger than the data, exactly one batch, a single row.
BATCH_CASES = ((23, 4), (24, 4), (25, 4), (7, 1), (5, 8), (6, 6), (1, 3), (10, 3))


def _batch_sizes_hint(sizes, n, batch_size):
    """What a wrong list of batch sizes for ``n`` rows in batches of ``batch_size`` shows."""
    full, rest = divmod(n, batch_size)
    want = [batch_size] * full + ([rest] if rest else [])
    pieces = -(-n // batch_size)
    if sizes == want + [0]:
        return ("the last batch is empty: when batch_size divides len(x) there is no leftover "
                "batch. range(0, len(x), batch_size) starts exactly the batches needed; "
                "len(x) // batch_size + 1 batches is one too many.")
    if sizes == want[:-1] and rest:
        return ("the last, shorter batch is missing: range(0, len(x), batch_size) also starts a "
                "batch at the leftover rows.")
    if len(sizes) == min(batch_size, n) and sizes == [len(a) for a in np.array_split(
            np.empty(n), batch_size)]:
        return ("np.array_split(x, batch_size) makes batch_size batches, not batches of "
                "batch_size rows; slice x[i:i + batch_size] for i in range(0, len(x), "
                "batch_size).")
    if sorted(sizes) == sorted(want):
        return ("the right batch sizes in the wrong order: batches follow x from row 0, so the "
                "shorter, leftover batch comes last: x[i:i + batch_size] for i in "
                "range(0, len(x), batch_size).")
    if len(sizes) == pieces and sizes == [len(a) for a in np.array_split(np.empty(n), pieces)]:
        return ("these are balanced pieces (as np.array_split makes), not batches of batch_size "
                "rows: every batch but the last has exactly batch_size rows, "
                "x[i:i + batch_size] for i in range(0, len(x), batch_size).")
    if rest and sizes == [batch_size] * len(want):
        return (f"the last batch holds only the {rest} rows left over: filling it up to "
                "batch_size with other rows (from the start, or x[-batch_size:]) counts those "
                "rows twice in an epoch.")
    if len(sizes) == n and n > pieces:
        return ("a batch starts at every row: step the range by batch_size, "
                "range(0, len(x), batch_size).")
    if len(sizes) > 1 and all(s == batch_size + 1 for s in sizes[:-1]):
        return ("each batch has one row too many: x[i:i + batch_size] already stops before "
                "row i + batch_size.")
    return None


def _coverage_hint(sizes, n):
    """Batches holding fewer or more rows than x has, when nothing more specific shows."""
    if sum(sizes) < n:
        return (f"the batches hold {sum(sizes)} of the {n} rows: the range runs over the rows, "
                "len(x) (x.shape[0]; x.shape[1] counts the columns), and every row belongs to "
                "a batch.")
    if sum(sizes) > n:
        return (f"the batches hold {sum(sizes)} rows for the {n} of x: some rows are in two "
                "batches (or a batch was added); each row belongs to exactly one, "
                "x[i:i + batch_size] for i in range(0, len(x), batch_size).")
    return None


def _check_items(check, call, got, batches, x_shape):
    """Each item must be a batch of rows (an array, or a list of rows), not a key of a dict,
    an (index, batch) pair or a single row."""
    for i, batch in enumerate(batches):
        arr = as_numbers(batch)
        if arr is not None and arr.ndim == len(x_shape):
            if arr.shape[1:] == x_shape[1:]:
                continue
            check.stop(f"{call}: item {i} has shape {arr.shape}, expected rows of shape "
                       f"{x_shape[1:]} like x's.",
                       "a batch is a block of rows of x, x[i:i + batch_size], as it is: no .T "
                       "(the samples stay along the first axis)." if arr.shape[0] == x_shape[1]
                       else None)
        what = kind_of(batch) if arr is None else describe(batch)
        hint = ("iterating over a dict gives its keys: return a list of the batches, "
                "list(batches.values())." if isinstance(got, dict) else
                "return the batches themselves, each an array of consecutive rows of x "
                "(x[i:i + batch_size]), with nothing else beside them.")
        check.stop(f"{call}: item {i} is {what}, expected a batch of rows "
                   f"({len(x_shape)}-d like x).",
                   hint)


def _starts_hint(batches, batch_size):
    """Batches that overlap or skip rows, told from the row each starts at (row k of the
    checker's x is [2k, 2k + 1])."""
    first_rows = [np.asarray(b, dtype=float)[0] for b in batches if len(b)]
    starts = [int(row[0]) // 2 for row in first_rows]
    if not all(np.array_equal(row, [2 * k, 2 * k + 1]) for row, k in zip(first_rows, starts,
                                                                          strict=True)):
        return None  # not x's own rows: where they start says nothing
    steps = set(np.diff(starts).tolist())
    if len(steps) == 1 and steps != {batch_size}:
        step = steps.pop()
        return (f"the batches start {step} rows apart, so they "
                + ("overlap" if step < batch_size else "skip rows")
                + ": step by batch_size, range(0, len(x), batch_size).")
    return None


def _get_batches_body(check, fn):
    for n, batch_size in BATCH_CASES:
        _batches_case(check, fn, np.arange(n * 2, dtype=float).reshape(n, 2), batch_size)
    # The first shape again with other rows: batches kept from the earlier call (a cache keyed
    # by the shape or the length) would come back, and in training every epoch's shuffled X
    # has the same shape.
    n, batch_size = BATCH_CASES[0]
    earlier = get_batches(np.arange(n * 2, dtype=float).reshape(n, 2), batch_size)
    _batches_case(check, fn, 100.0 + np.arange(n * 2, dtype=float).reshape(n, 2)[::-1].copy(),
                  batch_size, earlier)
    check.ok("rows in order in batches of batch_size, the last one shorter, for "
             + ", ".join(f"{n} rows by {b}" for n, b in BATCH_CASES)
             + f", and {n} other rows by {batch_size}")


def _batches_case(check, fn, x, batch_size, earlier=None):
    """Judge ``fn(x, batch_size)``; ``earlier`` are the batches of a call on another x of the
    same shape, which must not come back."""
    n = len(x)
    before = x.copy()
    call = f"get_batches(x, {batch_size}) with x of shape {x.shape}"
    if earlier is not None:
        call += " (other rows than before)"
    got = check.run(call, fn, x, batch_size)
    unchanged(check, before, x, "x", "get_batches must not change (or shuffle) x in place.")
    try:
        batches = list(got)
    except TypeError:
        check.stop(f"get_batches returned {type(got).__name__}, expected a list of arrays.")
    _check_items(check, call, got, batches, x.shape)
    expected = get_batches(before, batch_size)
    sizes = [len(b) for b in batches]
    want = [len(b) for b in expected]
    if sizes != want:
        check.stop(f"{call} gave batches of {sizes} rows, expected {want} ({n} rows in "
                   f"batches of {batch_size}, the last one shorter if rows are left over).",
                   _batch_sizes_hint(sizes, n, batch_size)
                   or _starts_hint(batches, batch_size) or _coverage_hint(sizes, n))
    rows = [as_numbers(b) for b in batches]
    reordered = all(r is not None and r.ndim == 2 for r in rows) and np.array_equal(
        np.unique(np.concatenate(rows), axis=0), np.unique(before, axis=0))
    stale = ("these are the batches of an earlier call on another x of the same shape: cut "
             "the x you are given each time (a cache keyed by its shape or length returns "
             "another array's rows).")
    for i, (b, e) in enumerate(zip(batches, expected, strict=True)):
        compare(check, b, e, f"batch {i}", [] if earlier is None else [(stale, earlier[i])],
                fatal=True, on=call,
                hint="keep the rows in order, each row in exactly one batch: shuffling is a "
                     "separate step, done before." if reordered else
                     "each batch holds x's own rows, unchanged: x[i:i + batch_size].")


def check_get_batches(fn, *, verbose=True):
    """Check ``fn(x, batch_size)`` -> consecutive batches of ``batch_size`` rows (the last one
    shorter, never empty) against ``scratchnn.get_batches``, for lengths that batch_size divides
    and lengths it does not, batch_size 1 and batch_size > len(x), and again on other rows of
    an earlier shape (batches kept from an earlier call fail). Any iterable of arrays (list,
    tuple, generator; views or copies) is accepted. Returns a CheckResult and prints it."""
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
                ("the factor 2 is missing from the variance.", np.sqrt(var / 2)),
                ("that is PyTorch's nn.Linear default, U(-1/sqrt(n_in), 1/sqrt(n_in)), not "
                 f"{kind}.", np.sqrt(1.0 / (3 * N_IN))),
                ("that is LeCun's scale, variance 1 / n_in, without the factor 2.",
                 np.sqrt(1.0 / N_IN))]
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
        got = (f"shape {arr.shape}" if arr is not None else kind_of(w)
               if isinstance(w, np.ndarray) else "a " + type(w).__name__)
        check.stop(f"{call} returned {got}, expected shape ({N_IN}, {N_OUT}).",
                   "W is (n_in, n_out): pass size=(n_in, n_out) to the rng." if arr is not None
                   and arr.size == N_IN * N_OUT else _weights_among(w))
    if np.all(arr == arr.flat[0]):
        check.stop(f"every weight is {fmt(arr.flat[0])}.",
                   "weights that are all equal give every unit of a layer the same output and "
                   "the same gradient, so they never become different: draw them at random. "
                   + ("(The scale came out 0: `//` is integer division, 6 // (n_in + n_out) "
                      "is 0; use /.)" if arr.flat[0] == 0 else ""))
    again = as_numbers(check.run(call, fn, N_IN, N_OUT, np.random.default_rng(0)))
    if again is None or not np.array_equal(arr, again):
        check.fail("two calls with the same seed gave different weights.",
                   "draw from the rng argument (rng.normal / rng.uniform), not from np.random, "
                   "so that a seed makes runs repeatable.")
    other = as_numbers(check.run(call.replace("rng)", "another rng)"), fn, N_IN, N_OUT,
                                 np.random.default_rng(1)))
    if other is not None and np.array_equal(arr, other):
        check.fail("generators with different seeds gave the same weights.",
                   "draw from the rng argument itself: a generator made inside the function "
                   "with a fixed seed (np.random.default_rng(0)) gives every layer of the same "
                   "shape the same weights.")
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


def _weights_among(w):
    """The hint for a tuple or list holding the weight matrix among other things."""
    if isinstance(w, (tuple, list)) and any(np.shape(item) == (N_IN, N_OUT) for item in w
                                            if as_numbers(item) is not None):
        return ("return the weight matrix alone (the biases, usually zeros, are the layer's "
                "business).")
    return None


def _check_shape_of_distribution(check, arr, uniform, got_std):
    """A uniform sample never passes its bound sqrt(3) std from its centre; a normal one does
    7% of the time."""
    # Measured from the sample's own centre, so that a shifted uniform (U(0, a)) is not also
    # taken for a normal one: its mean is named on its own.
    beyond = float(np.mean(np.abs(arr - arr.mean()) > 1.8 * got_std))
    if uniform and beyond > 0:
        check.fail("some weights lie beyond the bound of a uniform distribution.",
                   "draw from rng.uniform(-a, a, size=(n_in, n_out)), not rng.normal.")
    if not uniform and beyond < 0.03:
        check.fail("the weights look uniformly distributed; expected a normal distribution.",
                   "draw from rng.normal(0.0, std, size=(n_in, n_out)).")


def check_initializer(fn, kind, *, verbose=True):
    """Check ``fn(n_in, n_out, rng)`` -> an (n_in, n_out) weight matrix for initialiser ``kind``:
    "xavier_uniform", "xavier_normal", "he_uniform" or "he_normal". The statistics of 60,000
    draws are compared with the formula (as in ``scratchnn.init``); a seeded rng must make
    the draw repeatable, generators with other seeds must give other weights, and the weights
    must not all be equal. Returns a CheckResult (truthy when passed) and prints the
    verdict."""
    check_kind(kind, _INITIALISERS)
    check_callable(fn)
    return run_check(f"initialiser {kind}", _initializer_body, fn, kind, verbose=verbose)
