"""Every metric in one place: how well a network's outputs match the targets, as one float.

A metric is a function ``f(y_true, y_pred, sample_weight=None) -> float``. What it is given depends
on the network's task:

================  =============================================  ==================================
task              y_pred                                         y_true
================  =============================================  ==================================
``"binary"``      probability of class 1, (n,) or (n, 1)         labels 0/1, (n,) or (n, 1)
``"multiclass"``  class probabilities (n, C), C >= 2             labels (n,) or one-hot rows (n, C)
``"multilabel"``  an independent probability per output (n, k)   0/1 targets (n, k)
``"regression"``  values (n,) or (n, k)                          values of the same shape
================  =============================================  ==================================

**Metric callables get probabilities for classifiers**, never labels or logits: a metric that
needs labels takes them with ``predicted_labels`` (p > 0.5 for binary and for each multilabel
column, the largest probability for multiclass), and ``roc_auc`` / ``log_loss`` need the
probabilities themselves. Values outside [0, 1] are refused with a hint to apply sigmoid/softmax.

The numbers are scikit-learn's (``sklearn.metrics``); this module only turns probabilities into
labels, checks the input and names what is wrong. sklearn is imported inside the functions, on
first use, because importing it takes a second or two and ``import scratchnn`` must stay fast.
Where sklearn warns and returns NaN or 0 (``roc_auc`` with one class present, ``r2`` of one sample)
the same happens here. Regression metrics over several outputs are computed per output and then
averaged (sklearn's ``multioutput="uniform_average"``); so ``rmse`` is ``sqrt(mse)`` for one output,
and the mean of the outputs' RMSEs for several.

``METRICS`` maps each name to a ``Metric`` (its function, the tasks it fits, whether greater is
better); ``get_metric(name_or_callable, task)`` gives the callable for one task and refuses a metric
that does not fit it; ``default_metrics(task)`` is what ``fit`` logs when no metrics are asked for.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_labels, check_positive_int, check_sample_weight
from .tasks import CLASSIFICATION_TASKS, TASKS

AVERAGES = ("binary", "micro", "macro", "weighted")

__all__ = [
    "AVERAGES",
    "CLASSIFICATION_TASKS",
    "METRICS",
    "TASKS",
    "Metric",
    "accuracy",
    "confusion_matrix",
    "default_metrics",
    "f1",
    "get_metric",
    "log_loss",
    "mae",
    "mse",
    "precision",
    "predicted_labels",
    "r2",
    "recall",
    "rmse",
    "roc_auc",
]


# -- probabilities -> labels -----------------------------------------------------------------------
def predicted_labels(y_pred, task):
    """The labels a classifier's probabilities predict.

    binary: (n,) or (n, 1) -> (n,) int64, 1 where p > 0.5. multiclass: (n, C) -> (n,) int64, the
    column of the largest probability. multilabel: (n, k) -> (n, k) int64, 1 where p > 0.5.
    """
    task = _check_task(task)
    if task == "regression":
        raise ValueError(
            "predicted_labels is for classifiers; a regression network's outputs are values, "
            "not probabilities."
        )
    return _labels_from_probabilities(_probabilities(y_pred, task), task)


def _labels_from_probabilities(proba, task):
    if task == "multiclass":
        return proba.argmax(axis=1)
    return (proba > 0.5).astype(np.int64)


# -- classification metrics ------------------------------------------------------------------------
def accuracy(y_true, y_pred, sample_weight=None, *, task=None):
    """Fraction of samples whose predicted class is the true one (weighted by ``sample_weight``).

    For multilabel this is sklearn's subset accuracy: a sample counts only when every one of its
    k labels is right.
    """
    from sklearn.metrics import accuracy_score

    task, target, proba, weights = _prepare_classes(y_true, y_pred, sample_weight, task)
    labels = _labels_from_probabilities(proba, task)
    return float(accuracy_score(target, labels, sample_weight=weights))


def precision(y_true, y_pred, sample_weight=None, *, task=None, average=None, zero_division=0.0):
    """Of the samples predicted in a class, the fraction truly in it: tp / (tp + fp).

    ``average``: ``"binary"`` (class 1 only; the default for a binary task), ``"macro"`` (the
    unweighted mean over classes; the default otherwise), ``"micro"`` (from the counts summed over
    classes) or ``"weighted"`` (the mean weighted by each class's true count). A class never
    predicted has no precision; it counts as ``zero_division`` (0.0), without sklearn's warning.
    """
    return _precision_recall_f1("precision", y_true, y_pred, sample_weight, task, average,
                                zero_division)


def recall(y_true, y_pred, sample_weight=None, *, task=None, average=None, zero_division=0.0):
    """Of the samples truly in a class, the fraction predicted in it: tp / (tp + fn).

    ``average`` and ``zero_division`` as for ``precision``.
    """
    return _precision_recall_f1("recall", y_true, y_pred, sample_weight, task, average,
                                zero_division)


def f1(y_true, y_pred, sample_weight=None, *, task=None, average=None, zero_division=0.0):
    """The harmonic mean of precision and recall, 2 tp / (2 tp + fp + fn).

    ``average`` and ``zero_division`` as for ``precision``.
    """
    return _precision_recall_f1("f1", y_true, y_pred, sample_weight, task, average, zero_division)


def _precision_recall_f1(which, y_true, y_pred, sample_weight, task, average, zero_division):
    from sklearn.metrics import f1_score, precision_score, recall_score

    task, target, proba, weights = _prepare_classes(y_true, y_pred, sample_weight, task)
    average = _check_average(average, task)
    kwargs = {"average": average, "sample_weight": weights, "zero_division": zero_division}
    if average == "binary":
        kwargs["pos_label"] = 1
    elif task != "multilabel":
        # Every class the network can output counts, also one absent from this batch.
        kwargs["labels"] = np.arange(2 if task == "binary" else proba.shape[1])
    score = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[which]
    return float(score(target, _labels_from_probabilities(proba, task), **kwargs))


def roc_auc(y_true, y_pred, sample_weight=None, *, task=None):
    """Area under the ROC curve: the chance that a random positive scores above a random negative.

    binary: from the probability of class 1. multiclass: one-vs-rest, the unweighted mean over
    classes (the rows must sum to 1). multilabel: the unweighted mean over the k outputs. With only
    one class present in ``y_true`` it is undefined: sklearn warns and the result is NaN.
    """
    from sklearn.metrics import roc_auc_score

    task, target, proba, weights = _prepare_classes(y_true, y_pred, sample_weight, task)
    if task == "multiclass":
        return float(roc_auc_score(target, proba, sample_weight=weights, multi_class="ovr",
                                   average="macro", labels=np.arange(proba.shape[1])))
    return float(roc_auc_score(target, proba, sample_weight=weights, average="macro"))


def log_loss(y_true, y_pred, sample_weight=None, *, task=None):
    """Cross-entropy of the true labels under the predicted probabilities (mean over samples).

    binary and multiclass: sklearn's ``log_loss``. multilabel: each output is its own binary
    problem, so it is the mean over the k outputs of their binary log losses (the mean binary
    cross-entropy over every element, as a sigmoid-per-output network is trained).
    """
    from sklearn.metrics import log_loss as sk_log_loss

    task, target, proba, weights = _prepare_classes(y_true, y_pred, sample_weight, task)
    if task == "multilabel":
        per_output = [sk_log_loss(target[:, j], proba[:, j], sample_weight=weights, labels=[0, 1])
                      for j in range(proba.shape[1])]
        return float(np.mean(per_output))
    labels = np.arange(proba.shape[1]) if task == "multiclass" else [0, 1]
    return float(sk_log_loss(target, proba, sample_weight=weights, labels=labels))


def confusion_matrix(y_true, y_pred, n_classes=None, sample_weight=None):
    """Counts (C, C): entry [i, j] is the number of samples of true class i predicted as j.

    ``y_pred`` is class probabilities (n, C), a probability of class 1 (n,) or (n, 1) (read as
    p > 0.5), or predicted labels (n,) (whole numbers). ``y_true`` is labels (n,) or one-hot rows.
    ``n_classes`` defaults to C for probability rows, 2 for a probability of class 1, and otherwise
    one more than the largest label seen. The result is int64, or float64 with ``sample_weight``
    (each sample adds its weight).
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    if n_classes is not None:
        n_classes = check_positive_int(n_classes, "n_classes")
    pred_arr = _nonempty_array(y_pred, "y_pred")
    if pred_arr.ndim == 2 and pred_arr.shape[1] > 1:
        proba = _probabilities(pred_arr, "multiclass")
        if n_classes is not None and n_classes != proba.shape[1]:
            raise ValueError(
                f"n_classes is {n_classes} but y_pred has {proba.shape[1]} columns of class "
                "probabilities."
            )
        n_classes = proba.shape[1]
        pred = proba.argmax(axis=1)
    else:
        flat = as_float_array(pred_arr, "y_pred").reshape(len(pred_arr), -1)
        if flat.shape[1] != 1 or pred_arr.ndim > 2:
            raise ValueError(
                f"y_pred must be labels (n,), a probability (n,) or (n, 1), or probability rows "
                f"(n, C), got shape {pred_arr.shape}."
            )
        if np.all(flat == np.round(flat)):
            pred = as_labels(flat, "y_pred", n_classes=n_classes)
        else:
            pred = _labels_from_probabilities(_probabilities(flat, "binary"), "binary")
            n_classes = 2 if n_classes is None else n_classes
    true = _labels_from_targets(y_true, n_classes)
    _check_lengths(true, pred)
    if n_classes is None:
        n_classes = int(max(true.max(), pred.max())) + 1
    elif pred.max() >= n_classes:
        raise ValueError(f"y_pred predicts class {pred.max()} but n_classes is {n_classes}.")
    weights = check_sample_weight(sample_weight, len(true))
    return sk_confusion_matrix(true, pred, labels=np.arange(n_classes), sample_weight=weights)


# -- regression metrics ----------------------------------------------------------------------------
def mse(y_true, y_pred, sample_weight=None):
    """Mean squared error, mean((y_pred - y_true)^2); several outputs: the mean over outputs."""
    from sklearn.metrics import mean_squared_error

    y_true, y_pred, weights = _prepare_values(y_true, y_pred, sample_weight)
    return float(mean_squared_error(y_true, y_pred, sample_weight=weights))


def rmse(y_true, y_pred, sample_weight=None):
    """Root mean squared error, in the target's units: sqrt(mse) for one output; for several, the
    mean of each output's RMSE (as sklearn's ``root_mean_squared_error``)."""
    import sklearn.metrics

    y_true, y_pred, weights = _prepare_values(y_true, y_pred, sample_weight)
    root_mse = getattr(sklearn.metrics, "root_mean_squared_error", None)
    if root_mse is not None:
        return float(root_mse(y_true, y_pred, sample_weight=weights))
    per_output = sklearn.metrics.mean_squared_error(  # sklearn < 1.4
        y_true, y_pred, sample_weight=weights, multioutput="raw_values"
    )
    return float(np.mean(np.sqrt(per_output)))


def mae(y_true, y_pred, sample_weight=None):
    """Mean absolute error, mean(|y_pred - y_true|); several outputs: the mean over outputs."""
    from sklearn.metrics import mean_absolute_error

    y_true, y_pred, weights = _prepare_values(y_true, y_pred, sample_weight)
    return float(mean_absolute_error(y_true, y_pred, sample_weight=weights))


def r2(y_true, y_pred, sample_weight=None):
    """Coefficient of determination, 1 - SS_res / SS_tot (1 is perfect, 0 is predicting the mean).

    Several outputs: the mean over outputs. A constant ``y_true`` gives 1.0 when predicted exactly,
    else 0.0; a single sample gives NaN with sklearn's warning.
    """
    from sklearn.metrics import r2_score

    y_true, y_pred, weights = _prepare_values(y_true, y_pred, sample_weight)
    return float(r2_score(y_true, y_pred, sample_weight=weights))


# -- registry --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A named metric: its function, the tasks it fits and whether greater values are better.

    Calling it calls the function and returns a float. ``greater_is_better`` is None for a user's
    callable, whose direction is not known.
    """

    name: str
    function: Callable
    tasks: tuple[str, ...]
    greater_is_better: bool | None = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        value = self.function(y_true, y_pred, sample_weight=sample_weight)
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(())[()]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"metric {self.name!r} must return a number, got {value!r}.")
        return float(value)

    @property
    def __name__(self):  # so code that names callables by __name__ names a Metric too
        return self.name

    def __repr__(self):
        return (f"Metric({self.name!r}, tasks={self.tasks}, "
                f"greater_is_better={self.greater_is_better})")


METRICS = {
    m.name: m
    for m in (
        Metric("accuracy", accuracy, CLASSIFICATION_TASKS, True),
        Metric("precision", precision, CLASSIFICATION_TASKS, True),
        Metric("recall", recall, CLASSIFICATION_TASKS, True),
        Metric("f1", f1, CLASSIFICATION_TASKS, True),
        Metric("roc_auc", roc_auc, CLASSIFICATION_TASKS, True),
        Metric("log_loss", log_loss, CLASSIFICATION_TASKS, False),
        Metric("mse", mse, ("regression",), False),
        Metric("rmse", rmse, ("regression",), False),
        Metric("mae", mae, ("regression",), False),
        Metric("r2", r2, ("regression",), True),
    )
}

# What fit logs each epoch besides the loss when no metrics are asked for. A classifier: accuracy.
# A regressor: MAE, because it is in the target's own units and, unlike RMSE or MSE, does not
# repeat what an MSE loss already shows; R^2 is left out as it is noisy on small validation sets.
_DEFAULT_METRICS = {
    "binary": ("accuracy",),
    "multiclass": ("accuracy",),
    "multilabel": ("accuracy",),
    "regression": ("mae",),
}


def default_metrics(task):
    """The metric names ``fit`` logs for ``task`` when none are given: ["accuracy"] for a
    classifier, ["mae"] for regression."""
    return list(_DEFAULT_METRICS[_check_task(task)])


def get_metric(metric, task):
    """The ``Metric`` to compute for a network whose task is ``task``.

    ``metric`` is a name in ``METRICS`` (any case), a ``Metric``, or a user's callable
    ``f(y_true, y_pred)`` -- or ``f(y_true, y_pred, sample_weight=None)`` to support weights --
    named by its ``__name__``. The result is called as ``m(y_true, y_pred, sample_weight=None)``
    and returns a float; classification metrics get the task bound, so multiclass one-hot targets
    and multilabel targets are never confused.
    """
    task = _check_task(task)
    if isinstance(metric, Metric):
        entry = metric
    elif isinstance(metric, str):
        entry = METRICS.get(metric.strip().lower())
        if entry is None:
            raise ValueError(_unknown_metric_message(metric, task))
    elif callable(metric):
        return _user_metric(metric, task)
    else:
        raise TypeError(
            f"metric must be a name such as 'accuracy' or a callable f(y_true, y_pred), "
            f"got {type(metric).__name__}."
        )
    if task not in entry.tasks:
        fitting = sorted(name for name, m in METRICS.items() if task in m.tasks)
        raise ValueError(
            f"{entry.name} is a metric for {_describe_tasks(entry.tasks)}; this network's task is "
            f"{task} (metrics for {task}: {', '.join(fitting)})."
        )
    function = entry.function
    if _takes_keyword(function, "task"):
        function = functools.partial(function, task=task)
    return Metric(entry.name, function, (task,), entry.greater_is_better)


def _user_metric(fn, task):
    name = getattr(fn, "__name__", None) or type(fn).__name__
    takes_weight = _takes_keyword(fn, "sample_weight")

    def call(y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            return fn(y_true, y_pred)
        if not takes_weight:
            raise TypeError(
                f"metric {name!r} does not take sample_weight; define it as "
                f"{name}(y_true, y_pred, sample_weight=None) to use weights."
            )
        return fn(y_true, y_pred, sample_weight=sample_weight)

    return Metric(name, call, (task,), greater_is_better=None)


def _takes_keyword(fn, keyword):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return keyword in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _unknown_metric_message(name, task):
    known = sorted(METRICS)
    close = difflib.get_close_matches(name.strip().lower(), known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    fitting = ", ".join(n for n in known if task in METRICS[n].tasks)
    return (f"unknown metric {name!r}.{hint} Metrics for {task}: {fitting}; or pass a callable "
            "f(y_true, y_pred).")


def _describe_tasks(tasks):
    kinds = [t for t in CLASSIFICATION_TASKS if t in tasks]
    parts = []
    if kinds:
        joined = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        parts.append(f"{joined} classification")
    if "regression" in tasks:
        parts.append("regression")
    return " and ".join(parts)


# -- input checks ----------------------------------------------------------------------------------
def _check_task(task):
    if task not in TASKS:
        raise ValueError(
            f"task must be one of {', '.join(repr(t) for t in TASKS)}, got {task!r}."
        )
    return task


def _check_average(average, task):
    if average is None:
        return "binary" if task == "binary" else "macro"
    if average not in AVERAGES:
        raise ValueError(
            f"average must be one of {', '.join(repr(a) for a in AVERAGES)}, got {average!r}."
        )
    if average == "binary" and task != "binary":
        raise ValueError(
            f"average='binary' scores class 1 of a binary task; for a {task} task use 'macro', "
            "'micro' or 'weighted'."
        )
    return average


def _nonempty_array(y, name):
    if isinstance(y, (str, bytes)) or y is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(y).__name__}.")
    arr = np.asarray(y)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array with one row per sample, got a scalar.")
    if len(arr) == 0:
        raise ValueError(f"{name} is empty; a metric needs at least one sample.")
    return arr


def _check_lengths(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} samples and y_pred has {len(y_pred)}; they must have one "
            "row per sample each."
        )


def _infer_task(y_true, y_pred):
    true_arr, pred_arr = np.asarray(y_true), np.asarray(y_pred)
    if pred_arr.ndim <= 1 or (pred_arr.ndim == 2 and pred_arr.shape[1] == 1):
        return "binary"
    if true_arr.ndim == 2 and true_arr.shape[1] > 1:
        raise ValueError(
            f"y_true of shape {true_arr.shape} can be one-hot classes or multilabel 0/1 targets; "
            "pass task='multiclass' or task='multilabel'."
        )
    return "multiclass"


def _probabilities(y_pred, task):
    """y_pred checked as probabilities: (n,) for binary, (n, C) for multiclass and multilabel."""
    arr = _nonempty_array(y_pred, "y_pred")
    proba = as_float_array(arr, "y_pred")
    if task == "binary":
        if proba.ndim == 2 and proba.shape[1] == 1:
            proba = proba[:, 0]
        if proba.ndim != 1:
            raise ValueError(
                f"y_pred for a binary task must be one probability of class 1 per sample, (n,) or "
                f"(n, 1), got shape {proba.shape}; for class-probability rows use "
                "task='multiclass'."
            )
    elif task == "multiclass":
        if proba.ndim != 2 or proba.shape[1] < 2:
            raise ValueError(
                f"y_pred for a multiclass task must be class-probability rows (n, C) with C >= 2, "
                f"got shape {proba.shape}."
            )
    else:
        if proba.ndim == 1:
            proba = proba.reshape(-1, 1)
        if proba.ndim != 2:
            raise ValueError(
                f"y_pred for a multilabel task must be probabilities (n, k), got shape "
                f"{proba.shape}."
            )
    n_outside = int(np.count_nonzero((proba < 0) | (proba > 1)))
    if n_outside:
        activation = "softmax" if task == "multiclass" else "sigmoid"
        raise ValueError(
            f"y_pred has {n_outside} value(s) outside [0, 1]; metrics for classifiers take "
            f"probabilities, so apply {activation} to logits or scores first."
        )
    return proba


def _labels_from_targets(y_true, n_classes=None):
    """Labels (n,) from labels (n,) / (n, 1) or one-hot rows (n, C), each in [0, n_classes)."""
    arr = _nonempty_array(y_true, "y_true")
    if arr.ndim == 2 and arr.shape[1] > 1:
        if n_classes is not None and arr.shape[1] != n_classes:
            raise ValueError(
                f"y_true has {arr.shape[1]} one-hot columns but there are {n_classes} classes."
            )
        return as_float_array(arr, "y_true").argmax(axis=1)
    return as_labels(arr, "y_true", n_classes=n_classes)


def _prepare_classes(y_true, y_pred, sample_weight, task):
    """(task, targets, probabilities, weights), each checked, for a classification metric."""
    _nonempty_array(y_true, "y_true")
    if task is None:
        task = _infer_task(y_true, y_pred)
    elif _check_task(task) == "regression":
        raise ValueError(
            "this is a metric for classification; for a regression task use mse, rmse, mae or r2."
        )
    proba = _probabilities(y_pred, task)
    if task == "multilabel":
        target = as_float_array(_nonempty_array(y_true, "y_true"), "y_true")
        if target.ndim == 1:
            target = target.reshape(-1, 1)
        _check_lengths(target, proba)
        if target.shape != proba.shape:
            raise ValueError(
                f"y_true has shape {target.shape} and y_pred {proba.shape}; a multilabel task "
                "needs one 0/1 target per output."
            )
        n_other = int(np.count_nonzero((target != 0) & (target != 1)))
        if n_other:
            raise ValueError(
                f"y_true has {n_other} value(s) other than 0 and 1; multilabel targets are 0/1."
            )
        target = target.astype(np.int64)
    else:
        n_classes = 2 if task == "binary" else proba.shape[1]
        target = _labels_from_targets(y_true, n_classes)
        _check_lengths(target, proba)
    return task, target, proba, check_sample_weight(sample_weight, len(proba))


def _prepare_values(y_true, y_pred, sample_weight):
    """(targets, predictions, weights) for a regression metric; 1-D arrays become (n, 1)."""
    true = as_float_array(_nonempty_array(y_true, "y_true"), "y_true")
    pred = as_float_array(_nonempty_array(y_pred, "y_pred"), "y_pred")
    _check_lengths(true, pred)
    true = true.reshape(-1, 1) if true.ndim == 1 else true
    pred = pred.reshape(-1, 1) if pred.ndim == 1 else pred
    if true.ndim != 2 or true.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {true.shape} and y_pred {pred.shape}; regression metrics need "
            "the same (n,) or (n, k) shape for both."
        )
    return true, pred, check_sample_weight(sample_weight, len(true))
