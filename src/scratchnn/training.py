"""The fit loop behind ``MultiLayerNetwork.fit``: the notebook's minibatch loop, made robust.

One epoch is: shuffle, then for each batch forward -> loss -> backward -> optimizer step; at its end
the validation set is evaluated and callbacks run. The result is a ``History`` with one value per
epoch for ``loss``, each metric and their ``val_`` versions.
"""

from __future__ import annotations

import math
import numbers
import signal
import sys
import threading
import warnings

import numpy as np

from ._validation import (
    as_float_array,
    as_labels,
    assume_finite,
    check_float,
    check_positive_int,
    check_same_length,
    check_sample_weight,
)
from .callbacks import (  # noqa: F401  (EarlyStopping, ModelCheckpoint: importable from here too)
    EarlyStopping,
    History,
    ModelCheckpoint,
    as_callback,
)
from .losses import BinaryCrossEntropyLoss, CrossEntropyLoss, get_loss
from .metrics import default_metrics, get_metric
from .tasks import default_loss, head_of, probabilities, task_of_loss, task_of_targets


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite. ``.history`` holds the epochs completed before it."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


# -- what the training is for: the task, its loss, its targets and its metrics
def _n_outputs(network, X):
    """The network's output width: as its layers say, else from one sample run through it (a
    layer of one's own need not describe its output shape)."""
    if network.n_outputs is not None or len(X) == 0:
        return network.n_outputs
    out = network.predict_raw(X[:1])
    return out.shape[1] if out.ndim == 2 else None


def _resolve_task(network, loss, y, X):
    """The task fit trains for: the network's own (given, recorded or read from its output
    layer), else the loss's, else what the targets look like (see ``scratchnn.tasks``)."""
    n_out = _n_outputs(network, X)
    task = network.task
    if task is None and loss is not None:
        task = task_of_loss(get_loss(loss), n_out)
    return task or task_of_targets(y, n_out)


def _loss_for(network, task, loss):
    return get_loss(loss) if loss is not None else default_loss(task, head_of(network.layers))


def _prepare_targets(network, loss, y, name="y"):
    """Targets in the form the loss wants: int labels or rows for cross-entropy, else (n, k)."""
    n_out = network.n_outputs
    if isinstance(loss, CrossEntropyLoss):
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] > 1:
            if n_out is not None and y_arr.shape[1] != n_out:
                raise ValueError(
                    f"{name} has {y_arr.shape[1]} columns, the network outputs {n_out}."
                )
            return as_float_array(y_arr, name, dtype=network.dtype)
        return as_labels(y_arr, name, n_classes=n_out)
    y_arr = as_float_array(y, name, dtype=network.dtype)
    if y_arr.ndim == 1:
        y_arr = y_arr.reshape(-1, 1)
    if y_arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {y_arr.shape}.")
    if n_out is not None and y_arr.shape[1] != n_out:
        hint = ""
        if y_arr.shape[1] == 1 and n_out > 1:
            hint = (f" If {name} holds class labels, train with loss='cross_entropy' (or leave "
                    f"loss out); {type(loss).__name__} reads {name} as {n_out} values per row.")
        raise ValueError(
            f"{name} has {y_arr.shape[1]} columns, the network outputs {n_out}.{hint}")
    if isinstance(loss, BinaryCrossEntropyLoss) and (y_arr.min() < 0 or y_arr.max() > 1):
        raise ValueError(
            f"{name} holds values from {y_arr.min():g} to {y_arr.max():g}, but binary "
            "cross-entropy needs targets in [0, 1] (labels 0 and 1); for more classes give the "
            "network one output per class."
        )
    return y_arr


def _metric_fns(metrics, task):
    """{name: f(y_true, y_pred, sample_weight)} for ``metrics`` (names or callables)."""
    if metrics is None:
        metrics = default_metrics(task)
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names or callables, got {metrics!r}.")
    fns = [get_metric(m, task) for m in metrics]
    return {fn.__name__: fn for fn in fns}


def _metric_input(network, task, out):
    """What metrics are given: probabilities for a classifier, the values for a regressor."""
    return probabilities(out, task, head_of(network.layers))


def _sample_weights(sample_weight, class_weight, task, y, n):
    """One weight per sample (or None): sample_weight times the weight of each sample's class."""
    w = None
    if sample_weight is not None:
        if np.ndim(sample_weight) == 1 and len(sample_weight) != n:
            raise ValueError(f"sample_weight has {len(sample_weight)} values for {n} samples; "
                             "give one each.")
        w = check_sample_weight(sample_weight, n).astype(np.float64)
    if class_weight is None:
        return w
    if task not in ("binary", "multiclass"):
        raise ValueError(f"class_weight is for classifiers with one label per sample; this "
                         f"network's task is {task}.")
    labels = as_labels(_labels_of(y) if _labels_of(y) is not None else y, "y")
    by_class = _class_weights(class_weight, labels, task)
    cw = by_class[labels]
    return cw if w is None else w * cw


def _class_weights(class_weight, labels, task):
    """class_weight ("balanced" or {class: weight}) as an array indexed by class."""
    n_classes = max(int(labels.max()) + 1, 2 if task == "binary" else 0)
    weights = np.ones(n_classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a dict {{class: weight}}, got "
                             f"{class_weight!r}.")
        from sklearn.utils.class_weight import compute_class_weight  # slow import

        present = np.unique(labels)
        weights[present] = compute_class_weight("balanced", classes=present, y=labels)
        return weights
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be 'balanced' or a dict {{class: weight}}, got "
                        f"{type(class_weight).__name__}.")
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or not (
                0 <= key < n_classes):
            raise ValueError(f"class_weight names class {key!r}, but the classes are 0.."
                             f"{n_classes - 1}.")
        weights[key] = check_float(value, f"class_weight[{key!r}]", low=0.0)
    if not weights[np.unique(labels)].any():
        raise ValueError("class_weight gives every class in y a weight of 0.")
    return weights


def _split_validation(X, y, validation_data, validation_split, streams, stratify):
    """(training indices, validation indices or the given validation_data) of (X, y)."""
    if validation_data is not None and validation_split:
        raise ValueError("give either validation_data or validation_split, not both.")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (X_val, y_val).")
        return np.arange(len(X)), validation_data
    if not validation_split:
        return np.arange(len(X)), None
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"validation_split must be a fraction in (0, 1), got {validation_split!r}.")
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}.")
    n_val = int(round(len(X) * validation_split))
    if n_val < 1 or n_val >= len(X):
        raise ValueError(
            f"validation_split={validation_split} leaves {n_val} of {len(X)} samples "
            "for validation; it must leave at least one sample on each side."
        )
    # Shuffled with the fit's seed (stratified for classes, as scikit-learn's MLP early stopping)
    # rather than the last rows: a file sorted by label would otherwise validate on one class.
    from sklearn.model_selection import train_test_split  # slow import, needed only here

    labels = _labels_of(y) if stratify else None
    if labels is not None and np.min(np.unique(labels, return_counts=True)[1]) < 2:
        labels = None  # a class with one sample cannot be on both sides
    seed = int(streams.generator(2).integers(2**32))
    train_idx, val_idx = train_test_split(np.arange(len(X)), test_size=n_val, random_state=seed,
                                          stratify=labels)
    train_idx.sort()
    val_idx.sort()
    if stratify:
        _warn_missing_classes(y, train_idx, val_idx)
    return train_idx, val_idx


def _labels_of(y):
    """Class labels (n,) of integer labels or one-hot rows, or None for anything else."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    return y.reshape(-1) if y.ndim <= 2 and y.dtype.kind in "iub" else None


def _warn_missing_classes(y, train_idx, val_idx):
    labels = _labels_of(y)
    if labels is None:
        return
    classes = set(np.unique(labels).tolist())
    for part, idx in (("training", train_idx), ("validation", val_idx)):
        missing = sorted(classes - set(np.unique(labels[idx]).tolist()))
        if missing:
            warnings.warn(f"validation_split left class(es) {missing[:10]} out of the {part} "
                          "part; use more data or a larger validation_split.", stacklevel=3)


def _blas_threads(threads, network, batch_size):
    """The thread limit fit trains under (see fit's ``threads``)."""
    from . import threads as blas

    if threads == "auto":
        if blas.configured():
            threads = None  # the user chose with set_num_threads: keep it
        else:
            sizes = [network.input_shape, *network._shapes]
            work = max(math.prod(shape) for shape in sizes if shape is not None)
            threads = blas.default_threads(batch_size, work)
    elif threads is not None:
        threads = check_positive_int(threads, "threads")
    return blas.threads(threads)


class _RandomStreams:
    """Every random draw of a fit comes from (seed, purpose, epoch), never from a generator that
    runs on: epoch 7 shuffles and drops out the same whether it is reached in one fit or in a
    second fit that resumed after epoch 6 from a saved model."""

    def __init__(self, seed):
        if seed is None:
            seed = np.random.SeedSequence().entropy
        self.seed = check_positive_int(seed, "seed", minimum=0)

    def generator(self, *key):
        return np.random.default_rng([self.seed, *key])

    def order(self, epoch, n):
        return self.generator(0, epoch).permutation(n)

    def reseed(self, layers, epoch):
        for i, layer in enumerate(layers):
            if layer.stochastic:
                layer.rng = self.generator(1, epoch, i)


# -- evaluation
def evaluate(network, X, y, loss=None, metrics=None, batch_size=1024, sample_weight=None):
    """Mean loss and each metric over (X, y), in batches of ``batch_size`` (evaluation mode).

    Without ``loss`` and ``metrics``, those of the network's task (see ``scratchnn.tasks``):
    cross-entropy and accuracy for classes, binary cross-entropy and accuracy for binary and
    multi-label outputs, MSE and MAE for regression. ``sample_weight`` (n,) weighs each sample
    in the loss and the metrics.
    """
    X = network._check_x(X)
    task = _resolve_task(network, loss, y, X)
    loss = _loss_for(network, task, loss)
    w = _sample_weights(sample_weight, None, task, y, len(X))
    y = _prepare_targets(network, loss, y)
    check_same_length(X, y)
    return _evaluate(network, X, y, w, loss, task, _metric_fns(metrics, task), batch_size)


def _evaluate(network, X, y, w, loss, task, metric_fns, batch_size=1024):
    """evaluate() on inputs already checked: {"loss": ..., name: value for each metric}."""
    out = network.predict_raw(X, batch_size=batch_size)
    results = {"loss": loss.forward(y, out) if w is None else loss.forward(y, out, w)}
    shown = _metric_input(network, task, out)
    for name, fn in metric_fns.items():
        results[name] = float(fn(y, shown, sample_weight=w))
    return results


# -- interrupts
class _DeferredInterrupt:
    """Turn Ctrl-C during training into a flag checked between steps, so an interrupt never lands
    in the middle of an optimizer update and leaves the weights half-changed."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


# -- the loop
def fit(network, X, y, *, loss=None, optimizer="adam", lr=None, epochs=10, batch_size=32,
        shuffle=True, seed=None, validation_data=None, validation_split=0.0, metrics=None,
        callbacks=None, verbose=1, initial_epoch=None, sample_weight=None, class_weight=None,
        threads="auto"):
    """Train ``network`` on (X, y) with minibatches; returns a ``History``.

    Parameters
    ----------
    X : (n, *network.input_shape) array: rows (n, n_features), or images (n, C, H, W) for a
        network of convolutions.  y : labels (n,), one-hot rows (n, C), or targets (n, k).
    loss : a Loss or its name ("cross_entropy", "mse", "mae", "bce"); by default the loss of the
        network's task (see ``scratchnn.tasks``): cross-entropy for classes, binary
        cross-entropy (on logits, or on the probabilities of a SigmoidLayer) for binary and
        multi-label outputs, MSE for regression. fit records the task on the network.
    optimizer : an optimizer from ``scratchnn.optim`` or its name ("sgd", "adam", ...); ``lr``
        sets the learning rate of a named one. Default: Adam with lr 1e-3 (as the command line).
    epochs, batch_size : passes over the data and rows per step (the last batch may be shorter).
    shuffle, seed : reshuffle every epoch; the same seed gives bit-identical runs at the same
        number of BLAS threads (``threads``: with another count the matrix products sum in
        another order, so the weights differ in the last bits, and the difference grows with the
        epochs). Epoch e's shuffle and dropout masks depend only on (seed, e).
    validation_data : (X_val, y_val), or validation_split : a fraction of (X, y) held out,
        drawn with the seed (stratified by class for classifiers).
    metrics : names from ``scratchnn.metrics`` ("accuracy", "f1", "roc_auc", "mae", "r2", ...)
        or callables f(y_true, y_pred); by default accuracy for classifiers, MAE for regression.
        Classifier metrics are given probabilities. They are computed once per epoch, over all
        of its batches.
    callbacks : Callback objects, or plain callables f(epoch, logs) run after each epoch.
    verbose : 0 silent, 1 a progress bar per epoch, 2 one line per epoch. A bar needs a terminal
        (or a notebook): when stdout is a file or a pipe (a log, CI), 1 prints one line per epoch
        too, as the bar's last state, instead of redrawing the bar into the log.
    initial_epoch : the number of the first epoch (0-based); by default ``optimizer.epochs``, the
        epochs this optimizer has already trained. So a second ``fit`` with the same optimizer
        (or one loaded from a model file) continues: schedules, shuffles and dropout go on from
        epoch ``initial_epoch`` and 3 + 3 epochs with one seed equal 6 epochs bit for bit.
    sample_weight : (n,) weights >= 0: each sample's share in the loss (a weighted mean).
    class_weight : for classifiers, {class: weight} or "balanced" (n / (C * count), as
        scikit-learn): multiplies the weight of each sample of that class.
    threads : BLAS threads while training: an int, None to leave them as they are, or "auto":
        as set by ``scratchnn.set_num_threads``, else ``scratchnn.threads.default_threads`` (one
        thread unless the batch's matrices are huge: measured on a shared 2-core machine, a
        second thread gained at most 1.9x and lost up to 9x when the other core was busy).

    Ctrl-C stops training cleanly between two steps and returns the history so far
    (``history.interrupted`` is True). A NaN or infinite loss raises ``TrainingDivergedError`` and
    leaves the network with its last finite weights. However fit ends, it leaves the network in
    evaluation mode (``network.training`` is False: dropout off); set it back to True for a
    hand-written training loop.
    """
    from .optim import get_optimizer

    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
    X = network._check_x(X)  # first: a network that does not know its input shape learns it here
    task = _resolve_task(network, loss, y, X)
    loss = _loss_for(network, task, loss)
    optimizer = get_optimizer(optimizer, lr=lr)
    metric_fns = _metric_fns(metrics, task)
    check_same_length(X, y)
    if len(X) == 0:
        raise ValueError("X is empty; fit needs at least one sample.")
    weights = _sample_weights(sample_weight, class_weight, task, y, len(X))

    streams = _RandomStreams(seed)
    train_idx, validation_data = _split_validation(
        X, y, validation_data, validation_split, streams,
        stratify=task in ("binary", "multiclass"))
    y = _prepare_targets(network, loss, y)
    validation = None
    if isinstance(validation_data, np.ndarray):  # indices of (X, y)
        idx = validation_data
        validation = (X[idx], y[idx], None if weights is None else weights[idx])
    elif validation_data is not None:
        X_val = network._check_x(validation_data[0], "X_val")
        y_val = _prepare_targets(network, loss, validation_data[1], "y_val")
        check_same_length(X_val, y_val, "X_val", "y_val")
        validation = (X_val, y_val, None)
    if len(train_idx) < len(X):
        X, y = X[train_idx], y[train_idx]
        weights = None if weights is None else weights[train_idx]
    if initial_epoch is None:
        initial_epoch = getattr(optimizer, "epochs", 0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", minimum=0)

    network.task = task
    callbacks = [as_callback(cb) for cb in (callbacks or [])]
    loop = _FitLoop(network, loss, task, optimizer, metric_fns, X, y, weights, batch_size,
                    validation, callbacks)
    network.training = True
    try:
        with _DeferredInterrupt() as interrupt, _blas_threads(threads, network, batch_size):
            loop.run(range(initial_epoch, initial_epoch + epochs), streams if shuffle else None,
                     streams if seed is not None else None, _progress(verbose), interrupt)
    finally:
        network.training = False  # what follows fit is evaluation: dropout off
    return loop.history


class _FitLoop:
    """The epochs of one ``fit``: minibatch steps, validation and callbacks. The batch buffers are
    allocated once for the whole fit."""

    def __init__(self, network, loss, task, optimizer, metric_fns, X, y, weights, batch_size,
                 validation, callbacks):
        self.network, self.loss, self.task, self.optimizer = network, loss, task, optimizer
        self.metric_fns = metric_fns
        self.X, self.y, self.weights, self.batch_size = X, y, weights, batch_size
        self.validation = validation
        self.history = History()
        self.callbacks = [self.history, *callbacks]
        for cb in self.callbacks:
            cb.set_context(network, optimizer)
        self.bounds = _batch_bounds(len(X), batch_size, network)
        size = max(stop - start for start, stop in self.bounds)
        self.x_buf = np.empty((size, *X.shape[1:]), dtype=X.dtype)
        self.epoch_out = None  # the network's outputs of an epoch, for its metrics
        self.y_buf = np.empty((size, *y.shape[1:]), dtype=y.dtype)

    def run(self, epochs, shuffling, seeding, progress, interrupt):
        """Train the ``epochs`` (a range of epoch numbers). ``shuffling`` (a _RandomStreams, or
        None to keep the order) gives each epoch's order, ``seeding`` (or None) reseeds the
        stochastic layers for each epoch. ``progress`` is what is shown (see ``_progress``)."""
        history = self.history
        last = epochs.stop
        for cb in self.callbacks:
            cb.on_train_begin({})
        for epoch in epochs:
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            order = shuffling.order(epoch, len(self.X)) if shuffling is not None else None
            if seeding is not None:
                seeding.reseed(self.network.layers, epoch)
            try:
                logs = self.run_epoch(epoch, last, order, progress == "bar", interrupt)
            except TrainingDivergedError as err:
                err.history = history
                raise
            if logs is None:
                history.interrupted = True
                break
            self.optimizer.epochs = epoch + 1
            if self.validation is not None:
                val = _evaluate(self.network, *self.validation, self.loss, self.task,
                                self.metric_fns)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(self.optimizer.lr)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            if progress == "lines":
                print(f"epoch {epoch + 1}/{last} - " + _format_logs(logs), flush=True)
            elif progress == "bar-as-lines":
                shown = {k: v for k, v in logs.items() if k != "lr"}
                print(f"epoch {epoch + 1}/{last} " + _format_logs(shown, " "), flush=True)
            if any(cb.stop_training for cb in self.callbacks):
                history.stopped_epoch = epoch
                break
            if interrupt.requested:
                history.interrupted = True
                break
        for cb in self.callbacks:
            cb.on_train_end({})

    def _batch(self, order, start, stop):
        """The rows of one minibatch: x, y and their weights (or None)."""
        w = self.weights
        if order is None:
            return self.X[start:stop], self.y[start:stop], None if w is None else w[start:stop]
        idx = order[start:stop]
        xb, yb = self.x_buf[: len(idx)], self.y_buf[: len(idx)]
        # mode="clip" lets take write straight into the buffer (mode="raise" copies through a
        # temporary); the indices come from a permutation, so none is out of range.
        np.take(self.X, idx, axis=0, out=xb, mode="clip")
        np.take(self.y, idx, axis=0, out=yb, mode="clip")
        return xb, yb, None if w is None else w[idx]

    def run_epoch(self, epoch, epochs, order, show_bar, interrupt):
        """Returns this epoch's logs, or None if Ctrl-C was pressed."""
        net, loss, opt = self.network, self.loss, self.optimizer
        weights_at_start = net.get_weights()
        state_at_start = opt.state_dict()
        bar = _progress_bar(len(self.bounds), f"epoch {epoch + 1}/{epochs}", show_bar)
        total_loss, seen = 0.0, 0.0
        skipped = []  # (start, stop) of batches with no weight, never run
        # X was checked for NaN/inf once, in fit. Overflow on the way to a diverging loss is not
        # bad data: it shows up as a non-finite loss, reported below as one clear error.
        with np.errstate(over="ignore", invalid="ignore"), assume_finite():
            for step, (start, stop) in enumerate(self.bounds):
                bar.update(1)
                if interrupt.requested:
                    bar.close()
                    return None
                xb, yb, wb = self._batch(order, start, stop)
                if wb is not None and not wb.any():
                    skipped.append((start, stop))
                    continue  # every sample of this batch has weight 0: nothing to learn
                out = net.forward(xb)
                value = loss.forward(yb, out) if wb is None else loss.forward(yb, out, wb)
                if not math.isfinite(value):
                    bar.close()
                    self._restore_finite(weights_at_start, state_at_start)
                    raise TrainingDivergedError(
                        f"loss diverged at epoch {epoch + 1}, batch {step + 1} (loss = {value}): "
                        "try a smaller learning rate, or scale the inputs."
                    )
                net.backward(loss.backward(), input_grad=False)
                opt.step(net)
                share = len(xb) if wb is None else float(wb.sum())
                total_loss += value * share
                seen += share
                if self.metric_fns:  # kept for the epoch's metrics, in one buffer for the fit
                    if self.epoch_out is None:
                        self.epoch_out = np.empty((len(self.X), *out.shape[1:]), out.dtype)
                    self.epoch_out[start:stop] = out
                if show_bar and (step % 10 == 0 or stop >= len(self.X)):
                    bar.set_description(f"epoch {epoch + 1}/{epochs} loss {total_loss / seen:.4f}")
        # The last step's update is not followed by a loss that would show an overflow in it.
        if self._restore_finite(weights_at_start, state_at_start):
            bar.close()
            raise TrainingDivergedError(
                f"weights became NaN or infinite in epoch {epoch + 1}: try a smaller learning "
                "rate, or scale the inputs."
            )
        logs = {"loss": total_loss / seen}
        logs.update(self._epoch_metrics(order, skipped))
        if show_bar:
            bar.set_description(f"epoch {epoch + 1}/{epochs} " + _format_logs(logs, " "))
        bar.close()
        return logs

    def _epoch_metrics(self, order, skipped):
        """Each metric once over the epoch's batches (with the weights in force as they ran),
        rows in the order the batches took them."""
        if not self.metric_fns or self.epoch_out is None:
            return {}
        ran = np.ones(len(self.X), dtype=bool)
        for start, stop in skipped:
            ran[start:stop] = False
        if not ran.any():
            return {}
        rows = order if order is not None else np.arange(len(self.X))
        w = None if self.weights is None else self.weights[rows][ran]
        shown = _metric_input(self.network, self.task, self.epoch_out[ran])
        return {name: float(fn(self.y[rows][ran], shown, sample_weight=w))
                for name, fn in self.metric_fns.items()}

    def _restore_finite(self, weights_at_start, state_at_start):
        """Keep the weights if all are finite; otherwise roll back to the start of the epoch,
        with the optimizer's state, and return True. (The step that produced a NaN loss was
        never applied.) Layer state counts: behind a BatchNorm the parameters may stay finite
        while the running statistics overflow."""
        arrays = self.network.parameters() + self.network.states()
        if all(np.isfinite(a).all() for _, _, a in arrays):
            return False
        self.network.set_weights(weights_at_start)
        self.optimizer.load_state_dict(state_at_start)
        return True


def _batch_bounds(n, batch_size, network):
    """(start, stop) of each minibatch: batches of ``batch_size``, the last one shorter. A layer
    that takes statistics over the batch (BatchNorm) cannot train on one sample, so a last batch
    of one is folded into the one before it."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and n % batch_size == 1 and any(
            layer.batch_statistics for layer in network.layers):
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _progress(verbose):
    """What fit shows: None (verbose 0), "lines" (verbose 2: one line per epoch with every log),
    "bar" (verbose 1 on a terminal or in a notebook) or "bar-as-lines" (verbose 1 into a file or
    a pipe: one line per epoch, the bar's last state, since a bar redrawn there floods the log
    with one copy per update)."""
    if verbose == 2:
        return "lines"
    if verbose == 1:
        return "bar" if _redraws_in_place(sys.stdout) else "bar-as-lines"
    return None


def _redraws_in_place(stream):
    """Whether ``stream`` shows a progress bar redrawn in place: a terminal, or a Jupyter
    kernel's output (not a tty, but it renders the bar's carriage returns, or tqdm's widget)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    return type(stream).__module__.startswith("ipykernel")


class _NoBar:
    """What run_epoch calls on a bar, doing nothing: no bar is shown."""

    def update(self, n=1):
        pass

    def set_description(self, desc):
        pass

    def close(self):
        pass


def _progress_bar(total, description, show):
    """A tqdm bar over ``total`` steps on stdout, or a _NoBar. tqdm (with asyncio, which
    tqdm.auto imports) is loaded here, by the first fit that shows a bar, not by
    ``import scratchnn``."""
    if not show:
        return _NoBar()
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        # In Jupyter without ipywidgets, tqdm.auto warns on import ("IProgress not found") and
        # falls back to the text bar, which works there; a learner's first cell should show no
        # warning.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=True, file=sys.stdout, dynamic_ncols=True)


def _format_logs(logs, sep=" - "):
    return sep.join(f"{k} {v:.4g}" for k, v in logs.items())


