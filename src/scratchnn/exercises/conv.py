"""Checkers for chapter 14: ``im2col``, ``conv2d_forward``, ``max_pool2d`` and its backward.

Images are (batch, channels, height, width) = (N, C, H, W), as scratchnn's ``Conv2D`` takes them.
A convolution with F filters W (F, C, k, k), bias b (F,), stride s and zero padding p computes the
cross-correlation

    z[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] x_pad[n, c, s i + u, s j + v],

of shape (N, F, Ho, Wo) with Ho = (H + 2p - k) // s + 1 and Wo likewise. The checkers compare
with ``Conv2D`` and ``MaxPool2D`` in float64 on several shapes (stride 2, padding, a batch of one,
several channels, rectangular images, a float32 input) and name the usual mistakes. The layout
of ``im2col``'s matrix is judged by behaviour: any order of its rows and columns that a reshape
of W (and of the product) can match is accepted, and the verdict says which one it found.
A wrong result is compared with what the usual mistakes compute (a flipped kernel, the product
reshaped without moving its axes, pooling with the kernel size or 2 as its stride, a maximum's
pixel without its window's corner, ...) and the hint names the one it matches.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from ..layers import AvgPool2D, Conv2D, MaxPool2D
from ._core import (
    as_numbers,
    check_callable,
    close,
    compare,
    fmt,
    mismatch,
    random_array,
    run_check,
)

# (N, C, H, W, k, s, p): stride 1 with and without padding; stride 2 where (H + 2p - k) is not a
# multiple of s, so rounding up shows; a batch of one with one channel and an even kernel. The
# images are not square, so swapped heights and widths show, and C k k differs from N Ho Wo, so
# the orientation of im2col's matrix is never ambiguous.
_CASES = [(2, 3, 5, 6, 3, 1, 0), (2, 2, 5, 6, 3, 1, 1), (2, 3, 7, 6, 3, 2, 1),
          (1, 1, 6, 8, 2, 2, 0)]
_N_FILTERS = 4  # with the first case's Wo = 4: a bias broadcast over the width fits silently

_PATCH_AXES, _POSITION_AXES = ("c", "u", "v"), ("n", "i", "j")


def out_size(n, k, s, p):
    """Output length along one axis: (n + 2p - k) // s + 1."""
    return (n + 2 * p - k) // s + 1


def windows(x, k, s, p):
    """(C, k, k, N, Ho, Wo) float64: [c, u, v, n, i, j] = x_pad[n, c, s i + u, s j + v], the
    pixel under kernel offset (u, v) of the window for output (i, j)."""
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.empty((C, k, k, N, Ho, Wo))
    for u in range(k):
        for v in range(k):
            out[:, u, v] = offset_view(xp, u, v, s, Ho, Wo).swapaxes(0, 1)
    return out


def offset_view(a, u, v, s, Ho, Wo):
    """a[:, :, s i + u, s j + v] for every output (i, j): (N, C, Ho, Wo), a view of a."""
    return a[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s]


def _correlate(win, W, b):
    """z (N, F, Ho, Wo) from the windows (C, k, k, N, Ho, Wo), W (F, C, k, k) and b (F,)."""
    return np.einsum("fcuv,cuvnij->nfij", W, win) + b[:, None, None]


def reference_conv(x, W, b, stride, padding):
    """scratchnn's Conv2D in float64 with the weights W and b: (N, F, Ho, Wo)."""
    F, C, k, _ = W.shape
    layer = Conv2D(C, F, k, stride=stride, padding=padding, dtype=np.float64)
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer.forward(np.asarray(x, dtype=np.float64))


def window_error_hint(exc):
    """Advice on the exceptions that windows of the wrong size or shape raise."""
    text = str(exc)
    if isinstance(exc, IndexError) and "out of bounds" in text:
        return ("an index ran past the (padded) image: the window of output (i, j) covers rows "
                "s*i to s*i + k - 1, and with Ho = (H + 2p - k) // s + 1 outputs the last window "
                "still fits. Pad x before indexing it.")
    if "cannot reshape" in text:
        return ("the array does not hold the values the new shape asks for: compare the number "
                "of windows your slices or loops produce with Ho = (H + 2p - k) // s + 1 and "
                "Wo = (W + 2p - k) // s + 1.")
    if "broadcast" in text:
        return ("arrays of different shapes met; print both. A slice x_pad[:, :, u:u + s*Ho:s, "
                "v:v + s*Wo:s] is (N, C, Ho, Wo) (.transpose(1, 0, 2, 3) makes it (C, N, Ho, Wo)), "
                "one window x_pad[n, :, rows, columns] is (C, k, k), and a slice that runs past "
                "the edge comes out shorter than asked.")
    return None


def _kept(check, before, after, what, hint):
    """End the check when the learner's code changed an input (``before`` is its copy): every
    later case would repeat it, and the values are judged on an input the caller never gave."""
    if not close(after, before, rtol=0, atol=0):
        check.stop(f"{what} was changed in place.", hint)


def _alone(check, got, what):
    """End the check when ``got`` is a tuple holding the result and more (a cache, the output
    size), as some courses' versions return: these functions return the array alone."""
    if isinstance(got, tuple) and got and as_numbers(got[0]) is not None:
        check.stop(f"{what} returned a tuple of {len(got)} items, expected one array.",
                   "return the array alone (no cache or sizes beside it): the check works out "
                   "the rest itself.")


def _precision_hint(got, expected):
    """For a result right to about 1% and no closer (float16 arithmetic), else None."""
    if close(got, expected, rtol=1e-2, atol=1e-2):
        return ("every entry is right to about 1% and no closer: that is float16's precision "
                "(or another rounding step); compute in float32 or float64.")
    return None


def _case_text(x, k, s, p):
    return f"x of shape {x.shape}, kernel {k}, stride {s}, padding {p}"


def _case_data(case, seed, dtype=np.float64):
    N, C, H, W, k, s, p = case
    # Normal values are all distinct, so each pixel says where it came from.
    return random_array((N, C, H, W), seed).astype(dtype), k, s, p


def _size_hints(H, W, k, s, p, stride_hint):
    """[(hint, (Ho, Wo))] for the usual wrong output sizes, those that differ from the right one."""
    def sizes(f):
        return f(H), f(W)

    right = sizes(lambda n: out_size(n, k, s, p))
    found = [
        (stride_hint, sizes(lambda n: n + 2 * p - k + 1)),
        ("the output size leaves the padding out: Ho = (H + 2p - k) // s + 1 counts the p zero "
         "rows on each side.", sizes(lambda n: (n - k) // s + 1)),
        ("the padding went on one side only: pad p rows above and below, p columns left and "
         "right, e.g. np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))).",
         sizes(lambda n: (n + p - k) // s + 1)),
        ("one output row and column short: Ho = (H + 2p - k) // s + 1 (the +1 counts the window "
         "at the start); range(0, H + 2p - k, s) misses the last window.",
         sizes(lambda n: (n + 2 * p - k) // s)),
        ("the output size was rounded up: a window that does not fit inside the (padded) image "
         "is dropped, Ho = (H + 2p - k) // s + 1 with // rounding down.",
         sizes(lambda n: -(-(n + 2 * p - k) // s) + 1)),
        ("one output row and column too many: the last window must fit inside the (padded) "
         "image, so Ho = (H + 2p - k) // s + 1.", sizes(lambda n: (n + 2 * p - k) // s + 2)),
        ("height and width are swapped: x is (N, C, H, W), so Ho comes from H (x.shape[2]) and Wo "
         "from W (x.shape[3]).", right[::-1]),
    ]
    return [(hint, hw) for hint, hw in found if hw != right]


_CONV_STRIDE = ("the stride is ignored: with stride s the windows start every s pixels, "
                "Ho = (H + 2p - k) // s + 1.")
_PAD_ALL_AXES = ("np.pad(x, p) pads every axis, the batch and channel axes too: pad only height "
                 "and width, np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))).")


# -- im2col ---------------------------------------------------------------------------------------
def _layouts(win):
    """(layout, matrix) for every way of laying the windows out as a matrix that some reshape of
    W matches: rows the patch axes (c, u, v) in any order and columns the positions (n, i, j)
    in any order, or the transpose. layout = (patch order, position order, transposed)."""
    C, k, _, N, Ho, Wo = win.shape
    for a in permutations(range(3)):
        for q in permutations(range(3)):
            cols = win.transpose(*a, *(3 + i for i in q)).reshape(C * k * k, N * Ho * Wo)
            yield (a, q, False), cols
            yield (a, q, True), cols.T


def describe_layout(layout):
    """'rows (c, u, v), columns (n, i, j): W.reshape(F, -1) @ cols' for a layout of ``_layouts``."""
    a, q, transposed = layout
    patch = ", ".join(_PATCH_AXES[i] for i in a)
    position = ", ".join(_POSITION_AXES[i] for i in q)
    weights = ("W.reshape(F, -1)" if a == (0, 1, 2)
               else f"W.transpose(0, {', '.join(str(1 + i) for i in a)}).reshape(F, -1)")
    if transposed:
        return (f"rows ({position}), columns ({patch}): cols @ {weights}.T gives z with rows "
                f"({position})")
    return (f"rows ({patch}), columns ({position}): {weights} @ cols gives z with columns "
            f"({position})")


def _im2col_variants(x, k, s, p):
    """(hint, windows) that the usual wrong im2col computes, in the right shape."""
    N, C = x.shape[:2]
    Ho, Wo = out_size(x.shape[2], k, s, p), out_size(x.shape[3], k, s, p)
    found = [("the window is read backwards (the kernel flipped, a true convolution): the pixel "
              "under kernel offset (u, v) is x_pad[n, c, s*i + u, s*j + v], u and v counting "
              "forward.", windows(x, k, s, p)[:, ::-1, ::-1])]
    if s > 1:
        found.append(("the window for output (i, j) starts at (s*i, s*j): the start was not "
                      "multiplied by the stride.", windows(x, k, 1, p)[..., :Ho, :Wo]))
    if p > 0:
        found.append((_PAD_ALL_AXES, windows(np.pad(x, p)[:N, :C], k, s, 0)))
    return found


def _im2col_shape_hint(shape, x, k, s, p):
    N, C, H, W = x.shape
    rows = C * k * k
    hints = [(hint, N * Ho * Wo) for hint, (Ho, Wo) in _size_hints(H, W, k, s, p, _CONV_STRIDE)]
    for hint, positions in hints:
        if shape in ((rows, positions), (positions, rows)):
            return hint
    Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
    if N > 1 and shape in ((N * rows, Ho * Wo), (Ho * Wo, N * rows)):
        return ("the images went into the rows: a column holds one window of one image, so the "
                "rows are (c, u, v) and the columns (n, i, j), one per window of every image.")
    if p > 0 and ((C + 2 * p) * k * k in shape or (N + 2 * p) * Ho * Wo in shape):
        return _PAD_ALL_AXES
    return None


def _locate(got, win, layout, k, s, p):
    """A sentence on the first wrong entry of ``got`` read in ``layout``: which pixel it holds."""
    index = dict(_layouts(np.arange(win.size).reshape(win.shape)))[layout]
    expected = dict(_layouts(win))[layout]
    bad = ~np.isclose(got, expected, rtol=1e-6, atol=1e-9)
    r, q = np.argwhere(bad)[0]
    c, u, v, n, i, j = np.unravel_index(index[r, q], win.shape)
    return (f"im2col(x, {k}, {s}, {p})[{r}, {q}] should hold the pixel of image {n}, channel "
            f"{c} under kernel offset (u, v) = ({u}, {v}) of the window for output (i, j) = "
            f"({i}, {j}), x_pad[{n}, {c}, {s * i + u}, {s * j + v}] = {fmt(expected[r, q])}; got "
            f"{fmt(got[r, q])} ({int(bad.sum())} of {bad.size} entries differ, read as "
            f"{describe_layout(layout).split(':')[0]}, the layout most entries match).")


def _im2col_case(check, fn, x, k, s, p):
    """The layout ``fn`` used on this case (None when its result has no valid layout)."""
    what = f"im2col(x, {k}, {s}, {p})"
    before = x.copy()
    got = check.run(f"{what} with x of shape {x.shape}", fn, x, k, s, p, hint=window_error_hint)
    _kept(check, before, x, "the input x", "im2col must not change x: pad a copy "
              "(np.pad returns a new array).")
    x = before  # judged on the input it was given
    _alone(check, got, what)
    win = windows(x, k, s, p)
    C, _, _, N, Ho, Wo = win.shape
    shape = (C * k * k, N * Ho * Wo)
    g = as_numbers(got)
    if g is None:
        check.stop(f"{what} should be an array of numbers, got {type(got).__name__}.")
    if g.shape not in (shape, shape[::-1]):
        if g.ndim != 2 and g.size == win.size:
            hint = (f"return a 2-D matrix, one column per window: reshape it to {shape} (or its "
                    "transpose).")
        else:
            hint = _im2col_shape_hint(g.shape, x, k, s, p)
        check.stop(f"{what} has shape {g.shape} on {_case_text(x, k, s, p)}, expected {shape} "
                   f"(C k k rows, one column per output pixel of every image) or {shape[::-1]}.",
                   hint)
    for layout, matrix in _layouts(win):
        if close(g, matrix, rtol=1e-6, atol=1e-9):
            return layout
    for hint, wrong in _im2col_variants(x, k, s, p):
        if any(close(g, matrix, rtol=1e-6, atol=1e-9) for _, matrix in _layouts(wrong)):
            check.stop(f"{what} holds the wrong pixels on {_case_text(x, k, s, p)}.", hint)
    candidates = [(layout, int(np.isclose(g, m, rtol=1e-6, atol=1e-9).sum()))
                  for layout, m in _layouts(win) if m.shape == g.shape]
    best = max(candidates, key=lambda item: item[1])[0]
    check.stop(_locate(g, win, best, k, s, p) + f" On {_case_text(x, k, s, p)}.")


def _im2col_body(check, fn):
    layout = None
    for seed, case in enumerate(_CASES):
        x, k, s, p = _case_data(case, seed)
        found = _im2col_case(check, fn, x, k, s, p)
        layout = layout or found
        check.ok(_case_text(x, k, s, p))
    x, k, s, p = _case_data(_CASES[2], 7, np.float32)
    _im2col_case(check, fn, x, k, s, p)
    check.ok(f"float32 {_case_text(x, k, s, p)}")
    check.ok(f"layout found: {describe_layout(layout)}")


def check_im2col(fn, *, verbose=True):
    """Check ``fn(x, kernel_size, stride, padding)`` -> the windows of x as a matrix.

    x: (N, C, H, W), k = kernel_size (an int, square kernels); returns (C k k, N Ho Wo): the
    column for output pixel (n, i, j) holds x_pad[n, c, s i + u, s j + v] for every (c, u, v).
    Any order of the rows (c, u, v) and columns (n, i, j), or the transpose, is accepted: each
    is matched by a reshape of W. Tried on four shapes and a float32 x. Returns a CheckResult
    (truthy when passed) and prints the verdict, which names the layout found.
    """
    check_callable(fn)
    return run_check("im2col", _im2col_body, fn, verbose=verbose)


# -- conv2d_forward -------------------------------------------------------------------------------
def _conv_variants(x, W, b, s, p):
    """(hint, z) that the usual wrong convolutions compute, in the right shape."""
    F, C, k, _ = W.shape
    N = len(x)
    win = windows(x, k, s, p)
    z = _correlate(win, W, b)
    nobias = z - b[:, None, None]
    Ho, Wo = z.shape[2:]
    found = [
        ("this is a true convolution (the kernel flipped): deep-learning layers compute a "
         "cross-correlation, z[n, f, i, j] = b[f] + sum over c, u, v of W[f, c, u, v] * "
         "x_pad[n, c, s*i + u, s*j + v], with u and v counting forward.",
         _correlate(win, W[:, :, ::-1, ::-1], b)),
        ("the bias is missing: add b[f] to every pixel of output map f.", nobias),
        ("the bias was added along the last (width) axis: b has one value per filter, so add "
         "it as b[None, :, None, None] (or b.reshape(1, F, 1, 1)).",
         nobias + b if Wo == F else None),
        ("the kernel is transposed: W[f, c, u, v] multiplies the pixel u rows down and v "
         "columns right of the window's corner.", _correlate(win, W.transpose(0, 1, 3, 2), b)),
        ("only the first input channel counts: sum the products over every channel c as well.",
         _correlate(win[:1], W[:, :1], b)),
        ("only the last input channel counts: sum the products over every channel c (`+=` in "
         "the channel loop, not `=`).", _correlate(win[-1:], W[:, -1:], b)),
        ("W.reshape(-1, F) does not hold one filter per column (it cuts the weights in "
         "order, across filters): W.reshape(F, -1) holds one filter per row; use "
         "W.reshape(F, -1).T for a filter per column.",
         _correlate(win, W.reshape(-1, F).T.reshape(W.shape), b)),
        ("the output went through a ReLU: conv2d_forward is the convolution alone.",
         np.maximum(z, 0)),
        ("every filter got the sum of all the biases: output map f gets b[f] only.",
         nobias + b.sum()),
    ]
    # The product's right numbers reshaped straight to (N, F, Ho, Wo): images and filters mixed.
    by_filter = ("W.reshape(F, -1) @ cols is (F, N*Ho*Wo), its columns ordered (n, i, j): "
                 "reshape it to (F, N, Ho, Wo), then .transpose(1, 0, 2, 3); a reshape straight "
                 "to (N, F, Ho, Wo) moves no axis and mixes images with filters.")
    by_position = ("cols.T @ W.reshape(F, -1).T is (N*Ho*Wo, F), one row per output pixel: "
                   "reshape it to (N, Ho, Wo, F), then .transpose(0, 3, 1, 2); a reshape "
                   "straight to (N, F, Ho, Wo) moves no axis.")
    for hint, axes in ((by_filter, (1, 0, 2, 3)), (by_position, (0, 2, 3, 1))):
        for bias_after in (False, True):
            product = (nobias if bias_after else z).transpose(axes).reshape(z.shape)
            found.append((hint, product + b[:, None, None] if bias_after else product))
    for times, where in ((C, "channel"), (k * k, "kernel offset"), (C * k * k, "product")):
        if times > 1:
            found.append((f"the bias was added {times} times, once per {where}: add it once per "
                          "output pixel, after the sum.", nobias + times * b[:, None, None]))
    if s > 1:
        found.append(("the window for output (i, j) starts at (s*i, s*j): the start was not "
                      "multiplied by the stride.", _correlate(windows(x, k, 1, p), W, b)
                      [:, :, :Ho, :Wo]))
    if p > 0:
        found.append((_PAD_ALL_AXES, _correlate(windows(np.pad(x, p)[:N, :C], k, s, 0), W, b)))
    return found


def _conv_shape_hint(shape, x, W, s, p):
    N, C, H, Wd = x.shape
    F, _, k, _ = W.shape
    Ho, Wo = out_size(H, k, s, p), out_size(Wd, k, s, p)
    if shape in ((N, F, C, Ho, Wo), (N, C, F, Ho, Wo)):
        return ("the sum over the input channels is missing: z[n, f] adds the products of every "
                "channel c.")
    if shape == (N, Ho, Wo, F):
        return "the filters are the last axis: return (N, F, Ho, Wo), e.g. z.transpose(0, 3, 1, 2)."
    if shape == (F, N, Ho, Wo):
        return ("the filter axis comes first: return (N, F, Ho, Wo), e.g. z.transpose(1, 0, 2, "
                "3) after W.reshape(F, -1) @ cols.")
    if p > 0 and len(shape) == 4 and shape[0] == N + 2 * p:
        return _PAD_ALL_AXES
    if len(shape) == 4 and shape[:2] == (N, F):
        for hint, hw in _size_hints(H, Wd, k, s, p, _CONV_STRIDE):
            if shape[2:] == hw:
                return hint
    return None


def _conv_error_hint(n_filters):
    """Advice on an exception in conv2d_forward: a bias of the wrong shape, or any window error."""
    def hint(exc):
        text = str(exc).replace(" ", "")
        if "broadcast" in text and any(f"({n_filters},{rest})" in text for rest in ("", "1")):
            return ("b has shape (F,), one value per filter: add it as b[None, :, None, None] (or "
                    "b.reshape(1, F, 1, 1)) so that each goes on every pixel of its own output "
                    "map.")
        return window_error_hint(exc)
    return hint


def _conv_case(check, fn, x, W, b, s, p, rtol=1e-6):
    k = W.shape[2]
    what = f"conv2d_forward(x, W, b, {s}, {p})"
    copies = [a.copy() for a in (x, W, b)]
    got = check.run(f"{what} with x of shape {x.shape}, W of shape {W.shape}", fn, x, W, b, s, p,
                    hint=_conv_error_hint(len(W)))
    for before, after, name in zip(copies, (x, W, b), ("x", "W", "b"), strict=True):
        _kept(check, before, after, f"the input {name}",
                  "conv2d_forward must not change its inputs: pad a copy of x.")
    x, W, b = copies  # judged on the inputs it was given
    _alone(check, got, what)
    expected = reference_conv(x, W, b, s, p)
    g = as_numbers(got)
    on = f"{_case_text(x, k, s, p)}, {W.shape[0]} filters"
    if g is not None and g.shape != expected.shape:
        check.stop(mismatch(g, expected, what, on=on), _conv_shape_hint(g.shape, x, W, s, p))
    atol = 1e-6 if x.dtype == np.float32 else 1e-9
    if getattr(got, "dtype", None) == np.float32 and x.dtype == np.float64:
        # float64 inputs, a float32 result: its rounding is not a wrong formula.
        check.low_precision(np.float32, "conv2d_forward")
        rtol, atol = max(rtol, 1e-4), max(atol, 1e-6)
    scrambled = g is not None and close(np.sort(g, axis=None), np.sort(expected, axis=None),
                                        rtol=rtol, atol=atol)
    compare(check, got, expected, what, _conv_variants(x, W, b, s, p), fatal=True, on=on,
            rtol=rtol, atol=atol,
            hint="every number is right but in the wrong place: a reshape keeps the order of "
                 "the entries, so move the axes with .transpose to (N, F, Ho, Wo) first."
            if scrambled else
            _precision_hint(got, expected) or
            ("recompute that one entry by hand: z[n, f, i, j] = b[f] + np.sum(W[f] * "
             "x_pad[n, :, s*i:s*i + k, s*j:s*j + k]), and compare it with yours."
             if g is not None else "return z as a NumPy array of shape (N, F, Ho, Wo)."))
    return on


def _conv_body(check, fn):
    for seed, case in enumerate(_CASES):
        x, k, s, p = _case_data(case, seed)
        C = x.shape[1]
        W = random_array((_N_FILTERS, C, k, k), 10 + seed, scale=0.5)
        b = random_array(_N_FILTERS, 20 + seed)
        check.ok(_conv_case(check, fn, x, W, b, s, p))
    x, k, s, p = _case_data(_CASES[2], 7, np.float32)
    W = random_array((_N_FILTERS, x.shape[1], k, k), 17, scale=0.5).astype(np.float32)
    b = random_array(_N_FILTERS, 27).astype(np.float32)
    check.ok(f"float32 x, W and b: {_conv_case(check, fn, x, W, b, s, p, rtol=1e-4)}")


def check_conv2d_forward(fn, *, verbose=True):
    """Check ``fn(x, W, b, stride, padding)`` -> z against scratchnn's ``Conv2D``.

    x: (N, C, H, W), W: (F, C, k, k), b: (F,) -> z: (N, F, Ho, Wo), the cross-correlation
    z[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] x_pad[n, c, s i + u, s j + v]. Tried on
    four shapes (stride 2, padding, a batch of one, several channels) and in float32; loops or
    matrix products are both fine. Returns a CheckResult and prints the verdict.
    """
    check_callable(fn)
    return run_check("conv2d_forward", _conv_body, fn, verbose=verbose)


# -- max pooling ----------------------------------------------------------------------------------
# (N, C, H, W, k, stride): non-overlapping 2x2; odd sizes, where the last row and column are
# dropped; overlapping 3x3 windows with stride 2; the default stride (None) on a batch of one.
_POOL_CASES = [(2, 3, 4, 6, 2, 2), (2, 2, 5, 7, 2, 2), (2, 2, 7, 5, 3, 2), (1, 3, 6, 6, 3, None)]
_POOL_STRIDE = ("the stride is ignored: max pooling moves its window by the stride, which is "
                "the kernel size by default (stride=None), so windows do not overlap.")


def _stride_hint(k, s, default=False):
    """For pooling done with another stride than ``s``: the stride given, or the default's."""
    if default:
        return (f"with stride=None the stride is the kernel size ({k}): `if stride is None: "
                "stride = kernel_size`; a default stride of 2 (or any number) is right for 2 x 2 "
                "windows only.")
    return (f"these windows move by the kernel size ({k}); here the stride is {s}: start window "
            f"(i, j) at (s*i, s*j). A reshape to (N, C, H // k, k, W // k, k) pools with "
            "stride = k only.")


def _other_strides(k, s, default):
    """(hint, stride) for the strides a pooling with the wrong stride uses, not ``s``."""
    found = [(_stride_hint(k, s), k)] if s != k else []
    if default:
        found += [(_stride_hint(k, s, default=True), t) for t in (1, 2) if t != s]
    return found


def _pool_text(x, k, s):
    return f"x of shape {x.shape}, kernel {k}, stride {s}"


def _pool_args(k, s):
    return (k,) if s is None else (k, s)


def _pool_shape_hint(shape, x, k, s, default=False):
    """Advice on a pooled output of the wrong shape (``default``: the stride was not given)."""
    N, C, H, W = x.shape
    if len(shape) == 3 and shape[0] == N:
        return "the maximum was taken across channels too: pool each channel on its own."
    if shape == (N, C):
        return ("this is the maximum of each whole image: take the maximum of each k x k "
                "window, moved by the stride.")
    if len(shape) == 4 and shape[:2] == (N, C):
        for hint, t in _other_strides(k, s, default):
            if shape[2:] == (out_size(H, k, t, 0), out_size(W, k, t, 0)):
                return hint
        for hint, hw in _size_hints(H, W, k, s, 0, _POOL_STRIDE):
            if shape[2:] == hw:
                return hint
    return None


def _pool_error_hint_for(k, s):
    """``_pool_error_hint``, told first when the windows of this case overlap."""
    def hint(exc):
        if s < k and "broadcast" in str(exc):
            return (f"the windows overlap here (stride {s} < kernel {k}): repeating the output "
                    "or grad_out k times (np.repeat, np.kron) lines them up with x only when "
                    "stride == kernel size. Go window by window, or kernel offset by offset, "
                    "adding with +=.")
        return _pool_error_hint(exc)
    return hint


def _pool_error_hint(exc):
    if "empty sequence" in str(exc) or "zero-size array" in str(exc):
        return ("a window came out empty (a slice starting past the edge of x): the arguments "
                "come in the order (x, grad_out, kernel_size, stride), and window (i, j) starts "
                "at (s*i, s*j) of x.")
    if "reshape" in str(exc):
        return ("x.reshape(N, C, H // k, k, W // k, k) only works when k divides H and W and "
                "stride == k: take one strided slice per kernel offset instead, "
                "x[:, :, u:u + s*(Ho - 1) + 1:s, v:v + s*(Wo - 1) + 1:s].")
    return window_error_hint(exc)


def _pool_call(check, fn, name, x, grad_out=None, *, k, s):
    """``fn(x[, grad_out], kernel_size[, stride])``, which must leave its arrays unchanged; ends
    the check on an error or on a result returned with more beside it. Returns (what, result)."""
    arrays = (x,) if grad_out is None else (x, grad_out)
    what = f"{name}(x, {'grad_out, ' * len(arrays[1:])}{', '.join(map(str, _pool_args(k, s)))})"
    copies = [a.copy() for a in arrays]
    got = check.run(f"{what} with x of shape {x.shape}", fn, *arrays, *_pool_args(k, s),
                    hint=_pool_error_hint_for(k, k if s is None else s))
    _kept(check, copies[0], x, "the input x", f"{name} must not change x.")
    if grad_out is not None:
        _kept(check, copies[1], grad_out, "grad_out", f"{name} must not change grad_out: the "
              "caller still holds it.")
    _alone(check, got, what)
    return what, got


def _pool_variants(x, k, s, default):
    """(hint, output) that the usual wrong max poolings compute."""
    return [("this is the mean of each window (average pooling): take the largest value.",
             AvgPool2D(k, s).forward(x)),
            ("this is the smallest value of each window: take the largest.",
             -MaxPool2D(k, s).forward(-x)),
            ("this is the largest absolute value: take the largest value, sign included.",
             MaxPool2D(k, s).forward(np.abs(x)))] + [
            (hint, MaxPool2D(k, t).forward(x)) for hint, t in _other_strides(k, s, default)]


def _max_pool_body(check, fn):
    for seed, (N, C, H, W, k, s) in enumerate(_POOL_CASES):
        x = random_array((N, C, H, W), 30 + seed)
        stride = k if s is None else s
        what, got = _pool_call(check, fn, "max_pool2d", x, k=k, s=s)
        expected = MaxPool2D(k, stride).forward(x)
        g = as_numbers(got)
        if g is not None and g.shape != expected.shape:
            check.stop(mismatch(g, expected, what, on=_pool_text(x, k, stride)),
                       _pool_shape_hint(g.shape, x, k, stride, default=s is None))
        compare(check, got, expected, what, _pool_variants(x, k, stride, s is None), fatal=True,
                on=_pool_text(x, k, stride), hint=_precision_hint(got, expected))
        check.ok(_pool_text(x, k, stride) + (" (the default)" if s is None else ""))


def check_max_pool2d(fn, *, verbose=True):
    """Check ``fn(x, kernel_size, stride=None)`` -> the maximum of each window, as
    ``MaxPool2D``: x (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H - k) // s + 1, stride defaulting
    to the kernel size. Tried with odd sizes, overlapping windows and the default stride.
    Returns a CheckResult and prints the verdict."""
    check_callable(fn)
    return run_check("max_pool2d", _max_pool_body, fn, verbose=verbose)


def _routed(x, g, k, s, place=lambda i, j, u, v, s: (s * i + u, s * j + v), add=True):
    """dx when each window's gradient goes to ``place(i, j, u, v, s)``, (u, v) being where the
    window's (first) maximum sits inside it: right by default; the usual loop mistakes
    otherwise (a place past the edge is skipped). ``add=False`` assigns (=) instead of +=."""
    dx = np.zeros_like(x)
    N, C, Ho, Wo = g.shape
    for n, c, i, j in np.ndindex(N, C, Ho, Wo):
        window = x[n, c, s * i:s * i + k, s * j:s * j + k]
        r, q = place(i, j, *np.unravel_index(np.argmax(window), window.shape), s)
        if r < x.shape[2] and q < x.shape[3]:
            dx[n, c, r, q] = dx[n, c, r, q] + g[n, c, i, j] if add else g[n, c, i, j]
    return dx


def _backward_variants(x, g, k, s, default=False):
    out = MaxPool2D(k, s).forward(x)
    spread = np.zeros_like(x)
    for u in range(k):
        for v in range(k):
            offset_view(spread, u, v, s, *out.shape[2:])[...] += g
    avg = AvgPool2D(k, s)
    avg.forward(x)
    ref = MaxPool2D(k, s)
    ref.forward(x)
    found = [("every pixel of the window got the gradient: only the pixel that held the "
              "window's maximum does (the others did not change the output).", spread),
             ("this is average pooling's backward (g / k^2 on every pixel): max pooling sends "
              "the whole gradient to the maximum's pixel.", avg.backward(g)),
             ("the maximum's pixel got 1: it gets the window's gradient, grad_out[n, c, i, j].",
              ref.backward(np.ones_like(g)))]
    if s < k:
        found.append(("where windows overlap (stride < kernel size), a pixel that is the maximum "
                      "of two windows gets the sum of their gradients: add (+=), do not assign.",
                      _routed(x, g, k, s, add=False)))
    found += [
        ("the maximum's row and column are swapped: the maximum at (u, v) inside window (i, j) "
         "is pixel (s*i + u, s*j + v) of x (np.unravel_index(np.argmax(window), (k, k)) gives "
         "(u, v) in that order).", _routed(x, g, k, s, lambda i, j, u, v, s: (s * i + v,
                                                                               s * j + u))),
        ("the window's corner is missing: the maximum at (u, v) inside window (i, j) is pixel "
         "(s*i + u, s*j + v) of x, not (u, v).", _routed(x, g, k, s, lambda i, j, u, v, s: (u, v))),
    ]
    found += [(hint, _pool_backward(x, g, k, t)) for hint, t in _other_strides(k, s, default)]
    return found


def _pool_backward(x, g, k, s):
    """MaxPool2D(k, s)'s dL/dx for grad_out g, None when g does not fit its output."""
    pool = MaxPool2D(k, s)
    return pool.backward(g) if pool.forward(x).shape == g.shape else None


def _ties_problem(x, g, dx, k):
    """None when each window's gradient (windows k x k, stride k) went, whole, to pixels that
    hold its maximum (split between tied pixels in any proportion); else (problem, hint)."""
    N, C, Ho, Wo = g.shape
    for n, c, i, j in np.ndindex(N, C, Ho, Wo):
        window = x[n, c, k * i:k * i + k, k * j:k * j + k]
        got = dx[n, c, k * i:k * i + k, k * j:k * j + k]
        top = window == window.max()
        share = got[top] / g[n, c, i, j]
        at = (f"window ({i}, {j}) of image {n}, channel {c} (maximum {fmt(window.max())}, held "
              f"by {int(top.sum())} of its pixels)")
        if not np.allclose(got[~top], 0):
            u, v = np.argwhere(~top & ~np.isclose(got, 0))[0]
            return (f"{at}: its pixel ({u}, {v}), not a maximum, got {fmt(got[u, v])}.",
                    "only a pixel that holds the window's maximum gets its gradient.")
        if not np.all(share > -1e-9):
            return (f"{at}: a pixel holding the maximum got a gradient of the opposite sign to "
                    f"the window's {fmt(g[n, c, i, j])}.", None)
        if not np.isclose(share.sum(), 1):
            hint = None
            if top.sum() > 1 and np.isclose(share.sum(), top.sum()):
                hint = ("a window whose maximum appears more than once (as zeros after a ReLU "
                        "do) sent its whole gradient to every copy, multiplying it: give it to "
                        "one of them (the first, np.argmax) or split it between them.")
            return (f"{at}: passed on {fmt(share.sum())} times its gradient, expected exactly "
                    "once."), hint
    return None


def _max_pool_backward_body(check, fn):
    for seed, (N, C, H, W, k, s) in enumerate(_POOL_CASES):
        x = random_array((N, C, H, W), 40 + seed)
        stride = k if s is None else s
        g = random_array(MaxPool2D(k, stride).forward(x).shape, 50 + seed)
        what, got = _pool_call(check, fn, "max_pool2d_backward", x, g, k=k, s=s)
        expected = _pool_backward(x, g, k, stride)
        compare(check, got, expected, what, _backward_variants(x, g, k, stride, default=s is None),
                fatal=True, on=_pool_text(x, k, stride), hint=_precision_hint(got, expected))
        check.ok(_pool_text(x, k, stride) + (" (the default)" if s is None else "")
                 + (", overlapping windows" if stride < k else ""))
    # Ties: after a ReLU whole windows are 0. Any split of the gradient between tied pixels
    # is a valid subgradient; torch and scratchnn give it to the first.
    x = np.maximum(random_array((2, 2, 4, 6), 60), 0)
    x[0, 0, :2, :2] = 0.0
    x[1, 1, 2:, 4:] = [[1.5, 0.0], [0.0, 1.5]]
    g = random_array((2, 2, 2, 3), 61)
    got = check.run(f"max_pool2d_backward(x, grad_out, 2) with tied maxima in x of shape "
                    f"{x.shape}", fn, x.copy(), g.copy(), 2, hint=_pool_error_hint)
    dx = as_numbers(got)
    if dx is None or dx.shape != x.shape:
        check.stop(mismatch(got, x, "max_pool2d_backward(x, grad_out, 2)", on="tied maxima"))
    problem = _ties_problem(x, g, dx, 2)
    if problem is not None:
        check.stop(*problem)
    check.ok("windows with tied maxima (zeros after a ReLU) pass their gradient on once")


def check_max_pool2d_backward(fn, *, verbose=True):
    """Check ``fn(x, grad_out, kernel_size, stride=None)`` -> dL/dx against ``MaxPool2D``.

    x: (N, C, H, W), grad_out: (N, C, Ho, Wo) -> dx: (N, C, H, W), each window's gradient at the
    pixel that held its maximum, summed where overlapping windows share that pixel. Where a
    window's maximum is tied, any split of its gradient between the tied pixels is accepted.
    Returns a CheckResult and prints the verdict.
    """
    check_callable(fn)
    return run_check("max_pool2d_backward", _max_pool_backward_body, fn, verbose=verbose)
