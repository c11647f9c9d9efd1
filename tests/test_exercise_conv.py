"""The chapter-14 checkers (im2col, conv2d_forward, max_pool2d, max_pool2d_backward): the worked
solutions and correct-but-unusual attempts pass, blanks are "not implemented yet", and each
usual mistake fails with the hint that names it."""

from __future__ import annotations

import exercise_solutions_conv as sol
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from verdicts import assert_fails_with, assert_passes, verdict

from scratchnn.exercises.conv import (
    check_conv2d_forward,
    check_im2col,
    check_max_pool2d,
    check_max_pool2d_backward,
    reference_conv,
    windows,
)
from scratchnn.layers import Conv2D


def sizes(x, k, s, p):
    N, C, H, W = x.shape
    return N, C, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1


def pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


# -- the checkers' own references -----------------------------------------------------------------
def test_the_window_reference_agrees_with_conv2d_on_every_case():
    rng = np.random.default_rng(0)
    cases = [(2, 3, 5, 6, 3, 1, 0), (2, 3, 7, 6, 3, 2, 1), (1, 2, 6, 8, 2, 2, 0)]
    for N, C, H, W, k, s, p in cases:
        x, Wt, b = rng.normal(size=(N, C, H, W)), rng.normal(size=(4, C, k, k)), rng.normal(size=4)
        layer = Conv2D(C, 4, k, stride=s, padding=p, dtype=np.float64)
        layer.params["W"][...], layer.params["b"][...] = Wt, b
        by_windows = np.einsum("fcuv,cuvnij->nfij", Wt, windows(x, k, s, p)) + b[:, None, None]
        np.testing.assert_allclose(reference_conv(x, Wt, b, s, p), layer.forward(x), atol=1e-12)
        np.testing.assert_allclose(by_windows, layer.forward(x), atol=1e-12)


# -- blanks ---------------------------------------------------------------------------------------
def not_implemented(*args):
    raise NotImplementedError


def empty(*args):
    pass


@pytest.mark.parametrize("checker", [check_im2col, check_conv2d_forward, check_max_pool2d,
                                     check_max_pool2d_backward])
@pytest.mark.parametrize("blank", [not_implemented, empty])
def test_a_blank_is_not_implemented_yet(checker, blank, capsys):
    result = checker(blank)
    assert result.status == "not implemented yet" and not result, verdict(result)
    assert "NOT IMPLEMENTED YET" in capsys.readouterr().out


def test_a_checker_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match="must be the function you wrote"):
        check_im2col("im2col")


# -- im2col ---------------------------------------------------------------------------------------
def im2col_rows(x, k, s=1, p=0):
    """One row per window, (n, i, j) order, patch (c, u, v): the transpose of the solution's."""
    N, C, Ho, Wo = sizes(x, k, s, p)
    view = sliding_window_view(pad(x, p), (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * k * k)


def im2col_positions_last_batch(x, k, s=1, p=0):
    """CS231n's order: columns (i, j, n), batch fastest."""
    N, C, Ho, Wo = sizes(x, k, s, p)
    view = sliding_window_view(pad(x, p), (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :Ho, :Wo]
    return view.transpose(1, 4, 5, 2, 3, 0).reshape(C * k * k, -1)


def im2col_channels_last(x, k, s=1, p=0):
    """Rows (n, i, j), columns (u, v, c): a channels-last patch, W.transpose(0, 2, 3, 1)."""
    N, C, Ho, Wo = sizes(x, k, s, p)
    xp = pad(x, p).transpose(0, 2, 3, 1)  # (N, Hp, Wp, C)
    rows = [xp[n, s * i:s * i + k, s * j:s * j + k, :].ravel()
            for n in range(N) for i in range(Ho) for j in range(Wo)]
    return np.array(rows)


def im2col_columns_first(x, k, s=1, p=0):
    """Patch order (c, v, u): the window read column by column, W.transpose(0, 1, 3, 2)."""
    N, C, Ho, Wo = sizes(x, k, s, p)
    return sol.im2col(x, k, s, p).reshape(C, k, k, -1).swapaxes(1, 2).reshape(C * k * k, -1)


def im2col_float32_view(x, k, s=1, p=0):
    """Keeps x's dtype and builds the matrix with as_strided (a learner who read Conv2D)."""
    return sol.im2col(x.astype(np.float32), k, s, p)


def im2col_pixel_loops(x, kernel_size, stride=1, padding=0):
    N, C, Ho, Wo = sizes(x, kernel_size, stride, padding)
    xp = pad(x, padding)
    cols = np.zeros((C * kernel_size ** 2, N * Ho * Wo))
    col = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                r0, c0 = i * stride, j * stride
                cols[:, col] = xp[n, :, r0:r0 + kernel_size, c0:c0 + kernel_size].reshape(-1)
                col += 1
    return cols


def im2col_lists_of_lists(x, kernel_size, stride=1, padding=0):
    """A loops-and-lists student: one Python list per window, a tuple kernel size allowed."""
    k = kernel_size if np.isscalar(kernel_size) else kernel_size[0]
    xp = pad(x, padding)
    N, C, H, W = xp.shape
    rows = [xp[n, :, i:i + k, j:j + k].ravel().tolist()
            for n in range(N) for i in range(0, H - k + 1, stride)
            for j in range(0, W - k + 1, stride)]
    return np.array(rows).T


@pytest.mark.parametrize("fn", [sol.im2col, im2col_rows, im2col_positions_last_batch,
                                im2col_channels_last, im2col_columns_first, im2col_float32_view,
                                im2col_pixel_loops, im2col_lists_of_lists])
def test_im2col_accepts_every_layout_a_reshape_of_w_matches(fn):
    assert_passes(check_im2col(fn, verbose=False))


def test_im2col_names_the_layout_it_found():
    checked = "\n".join(check_im2col(im2col_channels_last, verbose=False).checked)
    assert "rows (n, i, j), columns (u, v, c): cols @ W.transpose(0, 2, 3, 1).reshape(F, -1).T" \
        in checked
    checked = "\n".join(check_im2col(sol.im2col, verbose=False).checked)
    assert "rows (c, u, v), columns (n, i, j): W.reshape(F, -1) @ cols" in checked


def im2col_flipped(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    return sol.im2col(x, k, s, p).reshape(C, k, k, -1)[:, ::-1, ::-1].reshape(C * k * k, -1)


def im2col_no_stride(x, k, s=1, p=0):
    return sol.im2col(x, k, 1, p)


def im2col_pad_all_axes(x, k, s=1, p=0):
    xp = np.pad(x, p)  # pads batch and channels too
    return sol.im2col(xp, k, s, 0)


def im2col_pad_all_axes_sliced(x, k, s=1, p=0):
    # Loops over the original N and C but index the array padded on every axis.
    N, C = x.shape[:2]
    return sol.im2col(np.pad(x, p)[:N, :C], k, s, 0)


def im2col_one_short(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    return sol.im2col(x, k, s, p).reshape(C * k * k, N, Ho, Wo)[:, :, :-1, :-1].reshape(
        C * k * k, -1)


def im2col_ignores_padding(x, k, s=1, p=0):
    return sol.im2col(x, k, s, 0)


def im2col_rounds_up(x, k, s=1, p=0):
    N, C, H, W = x.shape
    Ho, Wo = -(-(H + 2 * p - k) // s) + 1, -(-(W + 2 * p - k) // s) + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p + s), (p, p + s)))
    return np.stack([xp[n, :, s * i:s * i + k, s * j:s * j + k].ravel() for n in range(N)
                     for i in range(Ho) for j in range(Wo)], axis=1)


def im2col_start_not_strided(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    full = sol.im2col(x, k, 1, p).reshape(C * k * k, N, *sizes(x, k, 1, p)[2:])
    return full[:, :, :Ho, :Wo].reshape(C * k * k, -1)


def im2col_not_reshaped(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    return sol.im2col(x, k, s, p).reshape(C, k, k, N, Ho, Wo)


def im2col_pads_with_ones(x, k, s=1, p=0):
    return sol.im2col(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=1.0) if p
                      else x, k, s, 0)


def im2col_in_place(x, k, s=1, p=0):
    cols = sol.im2col(x, k, s, p)
    x *= 0
    return cols


def im2col_channels_not_moved(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    xp = pad(x, p)
    cols = np.empty((C, k, k, N, Ho, Wo))
    for u in range(k):
        for v in range(k):
            cols[:, u, v] = xp[:, :, u:u + s * Ho:s, v:v + s * Wo:s]  # (N, C, ..) into (C, N, ..)
    return cols.reshape(C * k * k, -1)


def im2col_past_the_edge(x, k, s=1, p=0):
    N, C, H, W = x.shape
    xp = pad(x, p)
    Ho, Wo = (H + 2 * p - k) // s + 2, (W + 2 * p - k) // s + 2
    cols = []
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                cols.append([xp[n, c, s * i + u, s * j + v] for c in range(C) for u in range(k)
                             for v in range(k)])
    return np.array(cols).T


def im2col_reshape_count(x, k, s=1, p=0):
    N, C, Ho, Wo = sizes(x, k, s, p)
    return windows(x, k, s, p)[..., :-1, :].reshape(C * k * k, N * Ho * Wo)


def im2col_images_in_rows(x, k, s=1, p=0):
    view = sliding_window_view(pad(x, p), (k, k), axis=(2, 3))[:, :, ::s, ::s]
    N, C, Ho, Wo = view.shape[:4]
    return view.transpose(0, 1, 4, 5, 2, 3).reshape(N * C * k * k, Ho * Wo)


@pytest.mark.parametrize("fn, fragments", [
    (im2col_images_in_rows, ["has shape (54, 12)", "the images went into the rows"]),
    (im2col_channels_not_moved, ["raised ValueError", ".transpose(1, 0, 2, 3) makes it"]),
    (im2col_past_the_edge, ["raised IndexError", "an index ran past the (padded) image"]),
    (im2col_reshape_count, ["cannot reshape", "compare the number of windows"]),
    (im2col_flipped, ["the kernel flipped"]),
    (im2col_no_stride, ["has shape", "the stride is ignored"]),
    (im2col_pad_all_axes, ["np.pad(x, p) pads every axis"]),
    (im2col_pad_all_axes_sliced, ["np.pad(x, p) pads every axis"]),
    (im2col_one_short, ["one output row and column short"]),
    (im2col_ignores_padding, ["leaves the padding out"]),
    (im2col_rounds_up, ["rounded up"]),
    (im2col_start_not_strided, ["not multiplied by the stride"]),
    (im2col_not_reshaped, ["return a 2-D matrix"]),
    # No named mistake: the verdict says which pixel the wrong entry should hold.
    (im2col_pads_with_ones, ["should hold the pixel of image", "x_pad[", "entries differ"]),
    (im2col_in_place, ["the input x was changed in place"]),
])
def test_im2col_names_the_usual_mistakes(fn, fragments):
    assert_fails_with(check_im2col(fn, verbose=False), *fragments)


# -- conv2d_forward -------------------------------------------------------------------------------
def conv_loops(x, W, b, stride=1, padding=0):
    """Six nested loops, the definition written out."""
    N, C, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    F, _, k, _ = W.shape
    xp = pad(x, padding)
    z = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    total = b[f]
                    for c in range(C):
                        for u in range(k):
                            for v in range(k):
                                total += W[f, c, u, v] * xp[n, c, stride * i + u, stride * j + v]
                    z[n, f, i, j] = total
    return z


def conv_einsum(x, W, b, stride=1, padding=0):
    k = W.shape[2]
    view = sliding_window_view(pad(x, padding), (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncijuv,fcuv->nfij", view, W) + b.reshape(1, -1, 1, 1)


def conv_keeps_float32(x, W, b, stride=1, padding=0):
    """Rows as windows, then x W^T; keeps float32 inputs float32."""
    N, C, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    rows = im2col_rows(x, W.shape[2], stride, padding)
    z = rows @ W.reshape(len(W), -1).T + b  # (N Ho Wo, F)
    return z.reshape(N, Ho, Wo, -1).transpose(0, 3, 1, 2)


def conv_per_offset(x, W, b, stride=1, padding=0):
    """A sum over kernel offsets, each a product over channels: no im2col matrix at all."""
    N, C, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    xp = pad(x, padding)
    z = np.broadcast_to(b[None, :, None, None], (N, len(W), Ho, Wo)).copy()
    for u in range(W.shape[2]):
        for v in range(W.shape[3]):
            patch = xp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride]
            z += np.einsum("ncij,fc->nfij", patch, W[:, :, u, v])
    return z


def conv_computes_in_float32(x, W, b, stride=1, padding=0):
    # float64 inputs, computed (and returned) in float32: rounding, not a wrong formula.
    return sol.conv2d_forward(x.astype(np.float32), W.astype(np.float32),
                              b.astype(np.float32), stride, padding)


def test_a_float32_convolution_of_float64_inputs_passes_with_a_note():
    result = check_conv2d_forward(conv_computes_in_float32, verbose=False)
    assert_passes(result)
    assert "computes in float32" in "\n".join(result.notes)


def conv_tensordot(x, W, b, stride=1, padding=0):
    view = sliding_window_view(pad(x, padding), W.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    z = np.tensordot(view, W, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, F)
    return z.transpose(0, 3, 1, 2) + b.reshape(1, -1, 1, 1)


def conv_sizes_by_true_division(x, W, b, stride=1, padding=0):
    # int((H + 2p - k) / s + 1) rounds down as // does for these non-negative sizes.
    F, C, k, _ = W.shape
    H, Wd = x.shape[2:]
    Ho, Wo = int((H + 2 * padding - k) / stride + 1), int((Wd + 2 * padding - k) / stride + 1)
    xp = pad(x, padding)
    z = np.zeros((len(x), F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            z[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3]))
    return z + b[None, :, None, None]


def conv_gemm_transposed_back(x, W, b, stride=1, padding=0):
    N, _, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    z = W.reshape(len(W), -1) @ sol.im2col(x, W.shape[2], stride, padding) + b[:, None]
    return z.reshape(len(W), N, Ho, Wo).transpose(1, 0, 2, 3)


@pytest.mark.parametrize("fn", [sol.conv2d_forward, conv_loops, conv_einsum, conv_keeps_float32,
                                conv_per_offset, conv_tensordot, conv_sizes_by_true_division,
                                conv_gemm_transposed_back])
def test_conv2d_forward_accepts_loops_and_vectorised_code_in_both_dtypes(fn):
    assert_passes(check_conv2d_forward(fn, verbose=False))


def conv_flipped(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W[:, :, ::-1, ::-1], b, stride, padding)


def conv_no_bias(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, np.zeros_like(b), stride, padding)


def conv_bias_last_axis(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, np.zeros_like(b), stride, padding) + b


def conv_bias_per_channel(x, W, b, stride=1, padding=0):
    z = np.zeros(sol.conv2d_forward(x, W, b, stride, padding).shape)
    for c in range(x.shape[1]):
        z += sol.conv2d_forward(x[:, c:c + 1], W[:, c:c + 1], b, stride, padding)
    return z


def conv_last_channel_only(x, W, b, stride=1, padding=0):
    for c in range(x.shape[1]):
        z = sol.conv2d_forward(x[:, c:c + 1], W[:, c:c + 1], b, stride, padding)  # = not +=
    return z


def conv_no_channel_sum(x, W, b, stride=1, padding=0):
    return np.stack([sol.conv2d_forward(x[:, c:c + 1], W[:, c:c + 1], b, stride, padding)
                     for c in range(x.shape[1])], axis=2)


def conv_no_stride(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, b, 1, padding)


def conv_start_not_strided(x, W, b, stride=1, padding=0):
    N, C, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    return sol.conv2d_forward(x, W, b, 1, padding)[:, :, :Ho, :Wo]


def conv_pad_all_axes(x, W, b, stride=1, padding=0):
    N, C = x.shape[:2]
    return sol.conv2d_forward(np.pad(x, padding)[:N, :C], W, b, stride, 0)


def conv_pad_all_axes_shape(x, W, b, stride=1, padding=0):
    xp = np.pad(x, padding)
    return conv_loops(xp[:, :x.shape[1]], W, b, stride, 0)


def conv_one_too_many(x, W, b, stride=1, padding=0):
    N, C, H, Wd = x.shape
    k = W.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding + stride), (padding, padding + stride)))
    z = sol.conv2d_forward(xp, W, b, stride, 0)
    Ho, Wo = (H + 2 * padding - k) // stride + 2, (Wd + 2 * padding - k) // stride + 2
    return z[:, :, :Ho, :Wo]


def conv_height_width_swapped(x, W, b, stride=1, padding=0):
    N, C, H, Wd = x.shape
    k = W.shape[2]
    Ho, Wo = (Wd + 2 * padding - k) // stride + 1, (H + 2 * padding - k) // stride + 1
    return np.zeros((N, len(W), Ho, Wo))  # the shape alone is judged first


def conv_bias_in_inner_loop(x, W, b, stride=1, padding=0):
    C, k = x.shape[1], W.shape[2]
    return sol.conv2d_forward(x, W, b * C * k * k, stride, padding)


def conv_ignores_padding(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, b, stride, 0)


def conv_relu(x, W, b, stride=1, padding=0):
    return np.maximum(sol.conv2d_forward(x, W, b, stride, padding), 0)


def conv_bias_broadcast_error(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, np.zeros_like(b), stride, padding) + b[:, None]


def conv_channels_last(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, b, stride, padding).transpose(0, 2, 3, 1)


def conv_transposed_kernel(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W.transpose(0, 1, 3, 2), b, stride, padding)


def conv_in_float16(x, W, b, stride=1, padding=0):
    # float16 loses precision: about 1e-3 relative, far beyond rounding.
    return sol.conv2d_forward(x.astype(np.float16), W.astype(np.float16), b, stride, padding)


def conv_reshaped_straight(x, W, b, stride=1, padding=0):
    N, _, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    z = W.reshape(len(W), -1) @ sol.im2col(x, W.shape[2], stride, padding) + b[:, None]
    return z.reshape(N, len(W), Ho, Wo)  # (F, N Ho Wo) read as (N, F, Ho, Wo): no axis moved


def conv_rows_reshaped_straight(x, W, b, stride=1, padding=0):
    N, _, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    z = sol.im2col(x, W.shape[2], stride, padding).T @ W.reshape(len(W), -1).T
    return z.reshape(N, len(W), Ho, Wo) + b[None, :, None, None]


def conv_positions_scrambled(x, W, b, stride=1, padding=0):
    # Every number right, the pixels of each map reversed: no reshape explains it.
    return reference_conv(x, W, b, stride, padding)[:, :, ::-1, ::-1]


def conv_filters_by_columns_reshape(x, W, b, stride=1, padding=0):
    N, _, Ho, Wo = sizes(x, W.shape[2], stride, padding)
    z = sol.im2col(x, W.shape[2], stride, padding).T @ W.reshape(-1, len(W)) + b
    return z.reshape(N, Ho, Wo, len(W)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("fn, fragments", [
    (conv_filters_by_columns_reshape, ["W.reshape(-1, F) does not hold one filter per column"]),
    (conv_reshaped_straight, ["reshape it to (F, N, Ho, Wo), then .transpose(1, 0, 2, 3)"]),
    (conv_rows_reshaped_straight, ["reshape it to (N, Ho, Wo, F), then .transpose(0, 3, 1, 2)"]),
    (conv_positions_scrambled, ["every number is right but in the wrong place"]),
    (conv_flipped, ["true convolution (the kernel flipped)"]),
    (conv_no_bias, ["the bias is missing"]),
    (conv_bias_last_axis, ["along the last (width) axis"]),
    (conv_bias_per_channel, ["the bias was added 3 times, once per channel"]),
    (conv_last_channel_only, ["only the last input channel counts"]),
    (conv_no_channel_sum, ["the sum over the input channels is missing"]),
    (conv_no_stride, ["has shape", "the stride is ignored"]),
    (conv_start_not_strided, ["not multiplied by the stride"]),
    (conv_pad_all_axes, ["np.pad(x, p) pads every axis"]),
    (conv_pad_all_axes_shape, ["np.pad(x, p) pads every axis"]),
    (conv_one_too_many, ["one output row and column too many"]),
    (conv_height_width_swapped, ["height and width are swapped"]),
    (conv_relu, ["went through a ReLU"]),
    (conv_bias_in_inner_loop, ["the bias was added 27 times, once per product"]),
    (conv_ignores_padding, ["leaves the padding out"]),
    (conv_bias_broadcast_error, ["raised ValueError", "b[None, :, None, None]"]),
    (conv_channels_last, ["the filters are the last axis"]),
    (conv_transposed_kernel, ["the kernel is transposed"]),
    (conv_in_float16, ["entries differ", "that is float16's precision"]),
])
def test_conv2d_forward_names_the_usual_mistakes(fn, fragments):
    assert_fails_with(check_conv2d_forward(fn, verbose=False), *fragments)


# -- max pooling ----------------------------------------------------------------------------------
def pool_sliding(x, kernel_size, stride=None):
    s = stride or kernel_size
    view = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::s, ::s]
    return view.max(axis=(4, 5))


def pool_loops(x, kernel_size, stride=None):
    s = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    Ho, Wo = (H - kernel_size) // s + 1, (W - kernel_size) // s + 1
    out = np.empty((N, C, Ho, Wo))
    for n, c, i, j in np.ndindex(N, C, Ho, Wo):
        out[n, c, i, j] = x[n, c, i * s:i * s + kernel_size, j * s:j * s + kernel_size].max()
    return out


def pool_running_maximum(x, kernel_size, stride=None):
    """Starts from -inf and takes np.maximum with one strided slice per kernel offset."""
    s = stride or kernel_size
    N, C, Ho, Wo = sizes(x, kernel_size, s, 0)
    out = np.full((N, C, Ho, Wo), -np.inf)
    for u in range(kernel_size):
        for v in range(kernel_size):
            out = np.maximum(out, x[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s])
    return out


@pytest.mark.parametrize("fn", [sol.max_pool2d, pool_sliding, pool_loops, pool_running_maximum])
def test_max_pool2d_accepts_loops_and_vectorised_code(fn):
    assert_passes(check_max_pool2d(fn, verbose=False))


def pool_average(x, kernel_size, stride=None):
    s = stride or kernel_size
    view = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::s, ::s]
    return view.mean(axis=(4, 5))


def pool_no_stride(x, kernel_size, stride=None):
    return pool_sliding(x, kernel_size, 1)


def pool_reshape_trick(x, kernel_size, stride=None):
    N, C, H, W = x.shape
    k = kernel_size
    return x.reshape(N, C, H // k, k, W // k, k).max(axis=(3, 5))


def pool_ceil(x, kernel_size, stride=None):
    s = stride or kernel_size
    N, C, H, W = x.shape
    Ho, Wo = -(-(H - kernel_size) // s) + 1, -(-(W - kernel_size) // s) + 1
    return np.array([[[[x[n, c, i * s:i * s + kernel_size, j * s:j * s + kernel_size].max()
                        for j in range(Wo)] for i in range(Ho)] for c in range(C)]
                     for n in range(N)])


def pool_across_channels(x, kernel_size, stride=None):
    return pool_sliding(x, kernel_size, stride).max(axis=1)


def pool_whole_image(x, kernel_size, stride=None):
    return x.max(axis=(2, 3))


def pool_min(x, kernel_size, stride=None):
    return -pool_sliding(-x, kernel_size, stride)


def pool_default_stride_2(x, kernel_size, stride=2):
    return pool_sliding(x, kernel_size, stride)


def pool_cropped_reshape(x, kernel_size, stride=None):
    # Crops the edge so the reshape works: pools with stride = kernel size, whatever the stride.
    N, C, H, W = x.shape
    k = kernel_size
    Ho, Wo = H // k, W // k
    return x[:, :, :Ho * k, :Wo * k].reshape(N, C, Ho, k, Wo, k).max(axis=(3, 5))


def pool_in_float16(x, kernel_size, stride=None):
    return pool_sliding(x.astype(np.float16), kernel_size, stride)


@pytest.mark.parametrize("fn, fragments", [
    (pool_in_float16, ["that is float16's precision"]),
    (pool_default_stride_2, ["with stride=None the stride is the kernel size (3)"]),
    (pool_cropped_reshape, ["these windows move by the kernel size (3); here the stride is 2"]),
    (pool_average, ["average pooling"]),
    (pool_no_stride, ["the stride is ignored"]),
    (pool_reshape_trick, ["only works when k divides H and W"]),
    (pool_ceil, ["rounded up"]),
    (pool_across_channels, ["across channels"]),
    (pool_min, ["the smallest value"]),
    (pool_whole_image, ["the maximum of each whole image"]),
])
def test_max_pool2d_names_the_usual_mistakes(fn, fragments):
    assert_fails_with(check_max_pool2d(fn, verbose=False), *fragments)


def backward_split_ties(x, grad_out, kernel_size, stride=None):
    """Non-overlapping or not: each window's gradient split evenly between its tied maxima."""
    s = stride or kernel_size
    k = kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        mask = window == window.max()
        dx[n, c, i * s:i * s + k, j * s:j * s + k] += mask * grad_out[n, c, i, j] / mask.sum()
    return dx


def backward_first_by_mask(x, grad_out, kernel_size, stride=None):
    """Vectorised over windows: the first maximum found by a running 'taken' mask, as the
    library does, one kernel offset at a time."""
    s = stride or kernel_size
    out = sol.max_pool2d(x, kernel_size, s)
    Ho, Wo = out.shape[2:]
    dx = np.zeros_like(x)
    taken = np.zeros(out.shape, dtype=bool)
    for u in range(kernel_size):
        for v in range(kernel_size):
            hit = (x[:, :, u:u + s * Ho:s, v:v + s * Wo:s] == out) & ~taken
            taken |= hit
            dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += hit * grad_out
    return dx


def backward_last_tie(x, grad_out, kernel_size, stride=None):
    """The last of the tied maxima takes the gradient: as valid a subgradient as the first."""
    s = stride or kernel_size
    k = kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k].ravel()
        last = k * k - 1 - np.argmax(window[::-1])
        dx[n, c, i * s + last // k, j * s + last % k] += grad_out[n, c, i, j]
    return dx


@pytest.mark.parametrize("fn", [sol.max_pool2d_backward, backward_split_ties,
                                backward_first_by_mask, backward_last_tie])
def test_max_pool2d_backward_accepts_any_valid_routing(fn):
    assert_passes(check_max_pool2d_backward(fn, verbose=False))


def backward_spread(x, grad_out, kernel_size, stride=None):
    s = stride or kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        dx[n, c, i * s:i * s + kernel_size, j * s:j * s + kernel_size] += grad_out[n, c, i, j]
    return dx


def backward_average(x, grad_out, kernel_size, stride=None):
    return backward_spread(x, grad_out, kernel_size, stride) / kernel_size ** 2


def backward_ones(x, grad_out, kernel_size, stride=None):
    return sol.max_pool2d_backward(x, np.ones_like(grad_out), kernel_size, stride)


def backward_assigns(x, grad_out, kernel_size, stride=None):
    s = stride or kernel_size
    k = kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        u, v = np.unravel_index(window.argmax(), window.shape)
        dx[n, c, i * s + u, j * s + v] = grad_out[n, c, i, j]  # = where += is needed
    return dx


def backward_all_ties(x, grad_out, kernel_size, stride=None):
    s = stride or kernel_size
    k = kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
        dx[n, c, i * s:i * s + k, j * s:j * s + k] += (window == window.max()) * grad_out[
            n, c, i, j]
    return dx


def backward_tie_off_by_one(x, grad_out, kernel_size, stride=None):
    """Right without ties; on a tie, the pixel after the first maximum takes the gradient."""
    s = stride or kernel_size
    k = kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + k, j * s:j * s + k].ravel()
        first = np.argmax(window)
        where = first + 1 if np.sum(window == window.max()) > 1 else first
        dx[n, c, i * s + where // k, j * s + where % k] += grad_out[n, c, i, j]
    return dx


def backward_changes_grad(x, grad_out, kernel_size, stride=None):
    dx = sol.max_pool2d_backward(x, grad_out, kernel_size, stride)
    grad_out[...] = 0
    return dx


def backward_by_repeating(x, grad_out, kernel_size, stride=None):
    # Upsampling by np.repeat: right for stride == kernel size only.
    k = kernel_size
    out = sol.max_pool2d(x, k, stride)
    Ho, Wo = out.shape[2:]
    dx = np.zeros_like(x)
    window_max = out.repeat(k, axis=2).repeat(k, axis=3)
    grad = grad_out.repeat(k, axis=2).repeat(k, axis=3)
    dx[:, :, :Ho * k, :Wo * k] = (x[:, :, :Ho * k, :Wo * k] == window_max) * grad
    return dx


def _first_maximum_routed(x, grad_out, kernel_size, stride, place):
    """Each window's gradient sent to place(i, j, u, v, s), (u, v) its maximum in the window."""
    s = stride or kernel_size
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(grad_out.shape):
        window = x[n, c, i * s:i * s + kernel_size, j * s:j * s + kernel_size]
        u, v = np.unravel_index(np.argmax(window), window.shape)
        dx[(n, c, *place(i, j, u, v, s))] += grad_out[n, c, i, j]
    return dx


def backward_row_and_column_swapped(x, grad_out, kernel_size, stride=None):
    return _first_maximum_routed(x, grad_out, kernel_size, stride,
                                 lambda i, j, u, v, s: (s * i + v, s * j + u))


def backward_corner_missing(x, grad_out, kernel_size, stride=None):
    return _first_maximum_routed(x, grad_out, kernel_size, stride, lambda i, j, u, v, s: (u, v))


def backward_arguments_swapped(grad_out, x, kernel_size, stride=None):
    return _first_maximum_routed(x, grad_out, kernel_size, stride,
                                 lambda i, j, u, v, s: (s * i + u, s * j + v))


def backward_default_stride_2(x, grad_out, kernel_size, stride=2):
    return sol.max_pool2d_backward(x, grad_out, kernel_size, stride)


@pytest.mark.parametrize("fn, fragments", [
    (backward_row_and_column_swapped, ["the maximum's row and column are swapped"]),
    (backward_corner_missing, ["the window's corner is missing"]),
    (backward_arguments_swapped, ["a window came out empty", "in the order (x, grad_out"]),
    (backward_default_stride_2, ["with stride=None the stride is the kernel size (3)"]),
    (backward_by_repeating, ["raised ValueError", "the windows overlap here (stride 2 < kernel 3)",
                             "np.repeat"]),
    (backward_spread, ["every pixel of the window got the gradient"]),
    (backward_average, ["average pooling's backward"]),
    (backward_ones, ["the maximum's pixel got 1"]),
    (backward_assigns, ["add (+=), do not assign"]),
    (backward_all_ties, ["held by 4 of its pixels", "sent its whole gradient to every copy"]),
    (backward_changes_grad, ["grad_out was changed in place"]),
    (backward_tie_off_by_one, ["held by 2 of its pixels", "not a maximum, got",
                               "only a pixel that holds the window's maximum"]),
])
def test_max_pool2d_backward_names_the_usual_mistakes(fn, fragments):
    assert_fails_with(check_max_pool2d_backward(fn, verbose=False), *fragments)


def im2col_with_sizes(x, k, s=1, p=0):
    cols = sol.im2col(x, k, s, p)
    return cols, ((x.shape[2] + 2 * p - k) // s + 1, (x.shape[3] + 2 * p - k) // s + 1)


def pool_with_cache(x, kernel_size, stride=None):
    return sol.max_pool2d(x, kernel_size, stride), (x, kernel_size, stride)


def conv_with_cache(x, W, b, stride=1, padding=0):
    return sol.conv2d_forward(x, W, b, stride, padding), (x, W, b)


def backward_with_db(x, grad_out, kernel_size, stride=None):
    return sol.max_pool2d_backward(x, grad_out, kernel_size, stride), None


@pytest.mark.parametrize("checker, fn", [
    (check_im2col, im2col_with_sizes), (check_max_pool2d, pool_with_cache),
    (check_conv2d_forward, conv_with_cache), (check_max_pool2d_backward, backward_with_db),
])
def test_a_result_returned_with_a_cache_is_named(checker, fn):
    assert_fails_with(checker(fn, verbose=False), "returned a tuple of 2 items",
                      "return the array alone")
