"""Figures for a training run and its data: curves, activations, images, confusion matrices.

Every function returns the matplotlib ``Figure`` and, given ``path``, also writes it there as a PNG.

Figures are made with ``pyplot.subplots`` and closed at once. Going through pyplot lets Jupyter's
inline backend set itself up, so a returned figure displays when it is the value of a cell (a bare
``matplotlib.figure.Figure`` does not, until something else has used pyplot). Closing it leaves
pyplot holding no reference: nothing leaks across calls, and the figure is not drawn a second time
when the cell ends. Where there is no display, matplotlib falls back to the Agg backend by itself.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._files import atomic_write
from ._validation import as_float_array, as_labels, check_positive_int, check_same_length
from .activations import ACTIVATIONS
from .utils import to_labels

_WRONG = "tab:red"
_MARKERS_UP_TO = 30  # with more epochs than this, per-epoch markers only clutter the curve


# -- figures and files -----------------------------------------------------------------------------
def _subplots(nrows, ncols, figsize, dpi):
    """A figure pyplot has already let go of, with its axes as an array (nrows, ncols)."""
    import matplotlib.pyplot as plt  # deferred: importing pyplot is slow and picks a backend

    if dpi is not None and (
        isinstance(dpi, bool) or not isinstance(dpi, numbers.Real) or not dpi > 0
    ):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}.")
    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize, dpi=dpi, squeeze=False, layout="constrained"
    )
    plt.close(fig)
    return fig, axes


def _finish(fig, path):
    """Save ``fig`` as a PNG at ``path`` when one is given; return ``fig``."""
    if path is not None:
        _save_png(fig, path)
    return fig


def _save_png(fig, path):
    """Write ``fig`` to ``path`` as a PNG, creating missing parent folders.

    The image goes through ``atomic_write``, so an error while rendering never leaves a truncated
    PNG (nor destroys an older one) at ``path``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(
            f"path must name a .png file, got {str(path)!r}; for another format call "
            "fig.savefig on the returned figure."
        )
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")


# -- training curves -------------------------------------------------------------------------------
def plot_history(history, path=None, metrics=None, *, dpi=None):
    """Loss and metric curves per epoch, training and validation, one panel each.

    Parameters
    ----------
    history : History or dict
        ``fit``'s ``History`` (its ``.history`` dict is read) or a dict such as
        ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}`` with one
        value per epoch.
    path : str or PathLike, optional
        Where to save the figure as a PNG.
    metrics : str or list of str, optional
        Which metrics get a panel after the loss panel. Default: every key other than the loss,
        ``val_*`` and the learning rate ``lr`` (ask for ``"lr"`` explicitly to plot it).
    dpi : float, optional
        Resolution; matplotlib's default when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Panels (loss first) with epochs 1..n on x; each has a title and a train/validation legend.
    """
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping):
        raise TypeError(
            "history must be a History (with a .history dict) or a dict of per-epoch lists, "
            f"got {type(history).__name__}."
        )
    series = {
        key: as_float_array(values, f"history[{key!r}]", ndim=1, allow_nonfinite=True)
        for key, values in data.items()
    }
    series = {key: values for key, values in series.items() if values.size}
    if not series:
        raise ValueError("history is empty: it has no epochs to plot; train for an epoch first.")
    has_loss = "loss" in series or "val_loss" in series
    names = (["loss"] if has_loss else []) + _history_metrics(series, metrics)
    if not names:
        raise ValueError(f"history has no loss or metric to plot; its keys are {sorted(series)}.")

    fig, axes = _subplots(1, len(names), (4.6 * len(names), 3.6), dpi)
    for ax, name in zip(axes.flat, names, strict=True):
        _plot_curves(ax, series, name)
    return _finish(fig, path)


def _history_metrics(data, metrics):
    available = list(dict.fromkeys(key.removeprefix("val_") for key in data))
    if metrics is None:
        return [key for key in available if key not in ("loss", "lr")]
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    for name in metrics:
        if name not in available or name == "loss":
            raise ValueError(
                f"metric {name!r} is not in the history (the loss is always plotted); "
                f"choose from {[key for key in available if key != 'loss']}."
            )
    return metrics


def _plot_curves(ax, series, name):
    """Train and validation curves of one quantity, against epochs 1..n."""
    from matplotlib.ticker import MaxNLocator

    for key, label in ((name, "train"), (f"val_{name}", "validation")):
        if key not in series:
            continue
        values = series[key]
        marker = "o" if len(values) <= _MARKERS_UP_TO else None
        ax.plot(np.arange(1, len(values) + 1), values, marker=marker, markersize=3, label=label)
    title = name.replace("_", " ")
    ax.set_title(title[:1].upper() + title[1:])
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()


# -- activation functions --------------------------------------------------------------------------
def plot_activation(name_or_fn, x=None, path=None, *, dpi=None):
    """An activation function and its derivative, as the notebook's sigmoid and ReLU figures.

    Parameters
    ----------
    name_or_fn : str or callable
        ``"sigmoid"``, ``"relu"``, ``"tanh"`` or ``"leaky_relu"``, or a function called as
        ``f(x)`` and ``f(x, derivative=True)`` (the notebook's convention).
    x : array-like (n,), optional
        Where to evaluate; default 601 points on [-6, 6].
    path : str or PathLike, optional
        Where to save the figure as a PNG.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with two lines, f(x) and f'(x).
    """
    fn, label = _activation(name_or_fn)
    if x is None:
        x = np.linspace(-6, 6, 601, dtype=np.float32)
    else:
        x = np.sort(as_float_array(x, "x", ndim=1))
        if x.size < 2:
            raise ValueError(f"x needs at least 2 points to draw a curve, got {x.size}.")
    y = _one_per_input(fn(x), x, f"{label}(x)")
    try:
        dy = fn(x, derivative=True)
    except TypeError as exc:
        raise TypeError(
            f"{label} must accept a derivative= keyword, as f(x, derivative=True) in the "
            f"notebook; calling it that way failed: {exc}"
        ) from exc
    dy = _one_per_input(dy, x, f"{label}(x, derivative=True)")

    fig, axes = _subplots(1, 1, (6.0, 4.0), dpi)
    ax = axes[0, 0]
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.plot(x, y, linewidth=2, label=f"{label}(x)")
    ax.plot(x, dy, linewidth=2, linestyle="--", label=f"{label}'(x)")
    ax.set_title(f"{label} and its derivative")
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def _activation(name_or_fn):
    """(function, display name) from an activation name or a callable."""
    if isinstance(name_or_fn, str):
        name = name_or_fn.lower()
        if name == "softmax":
            raise ValueError(
                "softmax cannot be drawn as a curve: it maps a whole vector to a vector and its "
                "derivative is a Jacobian matrix, not an elementwise function."
            )
        choices = sorted(set(ACTIVATIONS) - {"softmax"})
        if name not in choices:
            raise ValueError(f"unknown activation {name_or_fn!r}; choose one of {choices}.")
        return ACTIVATIONS[name], name
    if callable(name_or_fn):
        return name_or_fn, getattr(name_or_fn, "__name__", "f")
    raise TypeError(
        f"name_or_fn must be an activation name or a function, got {type(name_or_fn).__name__}."
    )


def _one_per_input(out, x, call):
    out = as_float_array(out, f"the result of {call}", allow_nonfinite=True)
    if out.shape != x.shape:
        raise ValueError(
            f"{call} must return one value per input, shape {x.shape}; got shape {out.shape}."
        )
    return out


# -- images ----------------------------------------------------------------------------------------
def plot_images(images, labels=None, predictions=None, n=25, shape=None, path=None, *,
                class_names=None, dpi=None):
    """A grid of the first ``n`` images, titled with their labels and predictions.

    Parameters
    ----------
    images : array-like (N, h, w), (N, h, w, 3|4), (N, 1|3|4, h, w) or flat (N, h*w)
        Flat rows are made square (64 -> 8x8, 784 -> 28x28) unless ``shape`` says otherwise.
    labels, predictions : array-like (N,) or (N, C), optional
        Class labels, or one-hot / probability rows. A title shows the label; a wrong prediction
        is shown in red as ``"pred X / true Y"``.
    n : int
        How many images to show at most.
    shape : tuple, optional
        ``(h, w)`` or ``(h, w, channels)`` of one image.
    class_names : sequence of str, optional
        Names to show instead of the label numbers.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image shown.
    """
    n = check_positive_int(n, "n")
    arr = _image_array(images)
    names = _class_names(class_names)
    n_classes = None if names is None else len(names)
    if labels is not None:
        labels = _class_labels(labels, "labels", n_classes)
        check_same_length(arr, labels, "images", "labels")
    if predictions is not None:
        predictions = _class_labels(predictions, "predictions", n_classes)
        check_same_length(arr, predictions, "images", "predictions")
    index = np.arange(min(n, len(arr)))
    return _finish(_image_grid(arr, index, labels, predictions, names, shape, dpi), path)


def plot_misclassified(images, y_true, y_pred, n=16, shape=None, class_names=None, path=None, *,
                       dpi=None):
    """Up to ``n`` misclassified images, each titled ``"pred X / true Y"``.

    ``images`` as in :func:`plot_images`; ``y_true`` and ``y_pred`` are labels (N,) or one-hot /
    probability rows (N, C). When every prediction is right the figure says so.
    """
    n = check_positive_int(n, "n")
    arr = _image_array(images)
    names = _class_names(class_names)
    n_classes = None if names is None else len(names)
    true = _class_labels(y_true, "y_true", n_classes)
    pred = _class_labels(y_pred, "y_pred", n_classes)
    check_same_length(arr, true, "images", "y_true")
    check_same_length(true, pred, "y_true", "y_pred")
    wrong = np.flatnonzero(true != pred)
    if wrong.size == 0:
        fig, axes = _subplots(1, 1, (5.0, 1.6), dpi)
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, f"No misclassified examples: all {len(true)} are right.",
                        ha="center", va="center", fontsize=12)
        return _finish(fig, path)
    shown = wrong[:n]
    fig = _image_grid(arr, shown, true, pred, names, shape, dpi,
                      title=f"{wrong.size} of {len(true)} misclassified ({len(shown)} shown)")
    return _finish(fig, path)


def _image_array(images):
    """``images`` as an ndarray of rank 2-4 with at least one image (not yet converted)."""
    try:
        arr = np.asarray(images)
    except ValueError as exc:
        raise ValueError(f"images could not be read as one array: {exc}") from None
    if arr.ndim not in (2, 3, 4):
        hint = " For one flat image use x.reshape(1, -1)." if arr.ndim == 1 else ""
        raise ValueError(
            "images must be (n, h, w), (n, h, w, channels), (n, channels, h, w) or flat "
            "(n, h*w), got shape "
            f"{arr.shape}.{hint}"
        )
    if len(arr) == 0:
        raise ValueError("images is empty: there is nothing to plot.")
    return arr


def _pixels(images, shape):
    """images (k, ...) -> (k, h, w) grey or (k, h, w, 3|4) colour, as floats imshow can draw."""
    integral = images.dtype.kind in "iu"
    arr = as_float_array(images, "images")
    per_image = math.prod(arr.shape[1:])
    if shape is not None:
        shape = _image_shape(shape)
        if math.prod(shape) != per_image:
            raise ValueError(
                f"shape={shape} holds {math.prod(shape)} values but each image has {per_image}."
            )
        arr = arr.reshape(len(arr), *shape)
    elif arr.ndim == 2:
        side = math.isqrt(per_image)
        if side * side != per_image:
            raise ValueError(
                f"flat images have {per_image} pixels each, not a square number; "
                "pass shape=(height, width)."
            )
        arr = arr.reshape(len(arr), side, side)
    if arr.ndim == 4 and arr.shape[1] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 1, -1)  # channels first, as a Conv2D takes them: (n, C, h, w)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 4 and arr.shape[-1] not in (3, 4):
        raise ValueError(
            f"colour images need 3 (RGB) or 4 (RGBA) channels last, got shape {arr.shape[1:]}."
        )
    # imshow reads colour from [0, 1]; integer colour images are taken as 0-255 as matplotlib does.
    return arr / 255.0 if arr.ndim == 4 and integral else arr


def _image_shape(shape):
    if isinstance(shape, numbers.Integral) or not hasattr(shape, "__len__") or len(shape) not in (
        2, 3
    ):
        raise ValueError(
            f"shape must be (height, width) or (height, width, channels), got {shape!r}."
        )
    return tuple(check_positive_int(side, "every entry of shape") for side in shape)


def _image_grid(arr, index, labels, predictions, names, shape, dpi, title=None):
    """Images ``arr[index]`` in a near-square grid, titled by label and prediction."""
    pixels = _pixels(arr[index], shape)
    k = len(pixels)
    ncols = math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    fig, axes = _subplots(nrows, ncols, (1.5 * ncols + 0.3, 1.7 * nrows + 0.4 * bool(title)), dpi)
    for ax in axes.flat[k:]:
        ax.remove()
    for ax, img, i in zip(axes.flat, pixels, index, strict=False):
        ax.imshow(img, cmap="gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        caption, colour = _caption(
            None if labels is None else labels[i],
            None if predictions is None else predictions[i],
            names,
        )
        ax.set_title(caption, color=colour, fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def _caption(label, prediction, names):
    """(title text, colour) for one image."""
    def show(c):
        return str(c) if names is None else names[c]

    if prediction is None:
        return ("" if label is None else show(label)), "black"
    if label is None:
        return f"pred {show(prediction)}", "black"
    if prediction == label:
        return show(label), "black"
    return f"pred {show(prediction)} / true {show(label)}", _WRONG


# -- confusion matrix ------------------------------------------------------------------------------
def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=False, path=None, *,
                          dpi=None):
    """The confusion matrix (rows: true class, columns: predicted), every cell annotated.

    Parameters
    ----------
    y_true, y_pred : array-like (N,) or (N, C)
        Class labels 0..C-1, or one-hot / probability rows.
    class_names : sequence of str, optional
        Names of classes 0..C-1; by default the numbers up to the largest label seen.
    normalize : bool or {"true", "pred", "all"}
        ``False``: counts. ``True`` or ``"true"``: each row divided by its total (recall per
        class); ``"pred"``: by column; ``"all"``: by the grand total.

    Returns
    -------
    matplotlib.figure.Figure
        The matrix as an image with a colour bar; axes labelled "True label" / "Predicted label".
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    from .metrics import confusion_matrix

    if normalize is True:
        normalize = "true"
    if normalize is not False and normalize not in ("true", "pred", "all"):
        raise ValueError(
            f"normalize must be False, True, 'true', 'pred' or 'all', got {normalize!r}."
        )
    names = _class_names(class_names)
    n_classes = None if names is None else len(names)
    true = _class_labels(y_true, "y_true", n_classes)
    pred = _class_labels(y_pred, "y_pred", n_classes)
    check_same_length(true, pred, "y_true", "y_pred")
    if true.size == 0:
        raise ValueError("y_true is empty: a confusion matrix needs at least one sample.")
    if n_classes is None:
        n_classes = int(max(true.max(), pred.max())) + 1
    cm = confusion_matrix(true, pred, n_classes=n_classes)
    if normalize:  # as scikit-learn's normalize=: by row (true), column (pred) or the total
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        totals = cm.sum(axis=axis, keepdims=axis is not None)
        cm = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)

    side = max(4.0, 0.55 * n_classes + 2.5)
    fig, axes = _subplots(1, 1, (side + 1.0, side), dpi)
    display_labels = names if names is not None else [str(c) for c in range(n_classes)]
    long_names = max(len(name) for name in display_labels) > 3
    ConfusionMatrixDisplay(cm, display_labels=display_labels).plot(
        ax=axes[0, 0], cmap="Blues", values_format=".2f" if normalize else "d",
        xticks_rotation=45 if long_names else "horizontal",
    )
    how = {False: "counts", "true": "rows sum to 1", "pred": "columns sum to 1", "all": "sums to 1"}
    axes[0, 0].set_title(f"Confusion matrix ({how[normalize]})")
    return _finish(fig, path)


# -- labels ----------------------------------------------------------------------------------------
def _class_labels(y, name, n_classes=None):
    """Integer labels (n,) from labels, or from one-hot / probability rows (n, C) or (n, 1)."""
    labels = to_labels(y) if np.ndim(y) == 2 else y
    return as_labels(labels, name, n_classes=n_classes)


def _class_names(class_names):
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise TypeError(
            f"class_names must be a sequence of names, got {type(class_names).__name__}."
        )
    if len(class_names) == 0:
        raise ValueError("class_names is empty; give one name per class or leave it out.")
    return [str(c) for c in class_names]
