"""A network's task, and what follows from it: its default loss, its probabilities, its labels.

=================  ===========================================  ===============================
task               outputs                                      ``predict`` gives
=================  ===========================================  ===============================
``"binary"``       1: a logit, or a probability after a          labels 0/1 (n,); ``predict_proba``
                   ``SigmoidLayer``                             (n, 2) as scikit-learn
``"multiclass"``   C >= 2: logits, or probabilities after a      labels (n,) (the largest)
                   ``SoftmaxLayer``
``"multilabel"``   k: a logit (or sigmoid probability) each      0/1 rows (n, k)
``"regression"``   k values                                     the values (n, k)
=================  ===========================================  ===============================

The task is given (``MultiLayerNetwork(..., task="binary")``), or read from the output layer (a
sigmoid or softmax), or from the loss ``fit`` trains with, or from the targets: integer labels
with several outputs are classes, 0/1 labels with one output are binary, whole-number floats
(0.0, 1.0, 2.0) with several outputs are class labels too; anything else is regression. ``fit``
records the task on the network, and model files keep it.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid, softmax
from .layers import SigmoidLayer, SoftmaxLayer
from .losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MAELoss, MSELoss

TASKS = ("binary", "multiclass", "multilabel", "regression")
CLASSIFICATION_TASKS = ("binary", "multiclass", "multilabel")


def check_task(task):
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} (or None), got {task!r}.")
    return task


def head_of(layers):
    """"sigmoid" or "softmax" when the last layer turns outputs into probabilities, else None
    (raw outputs: logits for a classifier, values for a regressor)."""
    last = layers[-1] if layers else None
    if isinstance(last, SigmoidLayer):
        return "sigmoid"
    if isinstance(last, SoftmaxLayer):
        return "softmax"
    return None


def task_of_head(head, n_outputs):
    if head == "softmax":
        return "multiclass"
    if head == "sigmoid":
        return "binary" if n_outputs == 1 else "multilabel"
    return None


def task_of_loss(loss, n_outputs):
    """The task a loss object trains for, or None for a loss scratchnn does not know."""
    if isinstance(loss, CrossEntropyLoss):
        return "multiclass"
    if isinstance(loss, BinaryCrossEntropyLoss):
        return "binary" if n_outputs == 1 else "multilabel"
    if isinstance(loss, (MSELoss, MAELoss)):
        return "regression"
    return None


def task_of_targets(y, n_outputs):
    """The task targets ``y`` imply for a network with ``n_outputs`` outputs."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"y holds {y.dtype} values; a network needs numbers: encode text labels as 0..C-1 "
            "first (scratchnn.Model does it for you, and decodes its predictions)."
        )
    whole = y.dtype.kind in "biu" or (
        y.size > 0 and bool(np.all(np.isfinite(y))) and bool(np.all(y == np.round(y))))
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        if n_outputs is not None and n_outputs > 1 and whole:
            return "multiclass"  # one label per row for several outputs: classes
        if n_outputs == 1 and y.dtype.kind in "biu" and set(
                np.unique(y).tolist()) <= {0, 1}:
            return "binary"
        return "regression"
    if y.ndim == 2 and whole and set(np.unique(y).tolist()) <= {0, 1} and bool(
            np.all(y.sum(axis=1) == 1)):
        return "multiclass"  # one-hot rows
    return "regression"  # integer rows that are not one-hot are values, not soft labels


def default_loss(task, head):
    """The loss ``fit`` trains a ``task`` with, for outputs after ``head``."""
    if task == "multiclass":
        if head == "softmax":
            raise ValueError(
                "the network ends in a SoftmaxLayer, but cross-entropy (the loss for classes) "
                "takes raw scores and applies the softmax itself: remove the SoftmaxLayer "
                "(predict_proba still gives probabilities), or pass a loss."
            )
        return CrossEntropyLoss()
    if task in ("binary", "multilabel"):
        return BinaryCrossEntropyLoss(from_logits=head != "sigmoid")
    return MSELoss()


def probabilities(out, task, head):
    """A classifier's outputs (n, C) as probabilities: the sigmoid or softmax of raw scores,
    unchanged after a sigmoid or softmax layer. Regression outputs are returned as they are."""
    if task in ("binary", "multilabel") and head != "sigmoid":
        return sigmoid(out)
    if task == "multiclass" and head != "softmax":
        return softmax(out)
    return out
