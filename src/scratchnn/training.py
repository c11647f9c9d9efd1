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
from tqdm import TqdmWarning

with warnings.catch_warnings():
    # In Jupyter without ipywidgets, tqdm.auto warns on import ("IProgress not found") and falls
    # back to the text bar, which works there; a learner's first cell should not show a warning.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

from ._validation import (
    as_float_array,
    as_labels,
    assume_finite,
    check_positive_int,
    check_same_length,
)
from .callbacks import (  # noqa: F401  (EarlyStopping, ModelCheckpoint: importable from here too)
    EarlyStopping,
    History,
    ModelCheckpoint,
    as_callback,
)
from .losses import BinaryCrossEntropyLoss, CrossEntropyLoss, get_loss
from .utils import to_labels


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite. ``.history`` holds the epochs completed before it."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


# -- metrics
def _accuracy(y_true, y_pred):
    return float(np.mean(to_labels(y_true) == to_labels(y_pred)))


def _mse(y_true, y_pred):
    return float(np.mean((y_pred - y_true.reshape(y_pred.shape)) ** 2))


def _mae(y_true, y_pred):
    return float(np.mean(np.abs(y_pred - y_true.reshape(y_pred.shape))))


def _rmse(y_true, y_pred):
    return math.sqrt(_mse(y_true, y_pred))


METRICS = {"accuracy": _accuracy, "mse": _mse, "mae": _mae, "rmse": _rmse}


def _get_metrics(metrics, loss):
    if metrics is None:
        classify = isinstance(loss, (CrossEntropyLoss, BinaryCrossEntropyLoss))
        metrics = ["accuracy"] if classify else []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    out = {}
    for m in metrics:
        if callable(m):
            out[getattr(m, "__name__", "metric")] = m
        elif isinstance(m, str) and m.lower() in METRICS:
            out[m.lower()] = METRICS[m.lower()]
        else:
            raise ValueError(
                f"unknown metric {m!r}; choose a callable or one of {sorted(METRICS)}."
            )
    return out


def _binary_from_logits(loss):
    return isinstance(loss, BinaryCrossEntropyLoss) and loss.from_logits


def _metric_input(loss, out):
    """What a metric compares with the targets: probabilities for a logit-trained binary model."""
    if _binary_from_logits(loss) and out.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-out))
    return out


# -- data checks
def _prepare_targets(network, loss, y, name="y"):
    """Targets in the form the loss wants: int labels or rows for cross-entropy, else (n, k)."""
    n_out = network.n_outputs
    if isinstance(loss, CrossEntropyLoss):
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] > 1:
            if y_arr.shape[1] != n_out:
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
        raise ValueError(f"{name} has {y_arr.shape[1]} columns, the network outputs {n_out}.")
    return y_arr


def _default_loss(network, y):
    y_arr = np.asarray(y)
    integral = y_arr.dtype.kind in "iub"
    return "cross_entropy" if integral and (network.n_outputs or 0) > 1 else "mse"


def _split_validation(X, y, validation_data, validation_split, streams, stratify):
    if validation_data is not None and validation_split:
        raise ValueError("give either validation_data or validation_split, not both.")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (X_val, y_val).")
        return X, y, validation_data
    if not validation_split:
        return X, y, None
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
    return X[train_idx], y[train_idx], (X[val_idx], y[val_idx])


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
def evaluate(network, X, y, loss=None, metrics=None, batch_size=1024):
    """Mean loss and each metric over (X, y), in batches of ``batch_size`` (evaluation mode)."""
    X = network._check_x(X)
    loss = get_loss(loss if loss is not None else _default_loss(network, y))
    y = _prepare_targets(network, loss, y)
    check_same_length(X, y)
    return _evaluate(network, X, y, loss, _get_metrics(metrics, loss), batch_size)


def _evaluate(network, X, y, loss, metric_fns, batch_size=1024):
    """evaluate() on inputs already checked: {"loss": ..., name: value for each metric}."""
    out = network.predict_raw(X, batch_size=batch_size)
    results = {"loss": loss.forward(y, out)}
    shown = _metric_input(loss, out)
    for name, fn in metric_fns.items():
        results[name] = float(fn(y, shown))
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
def fit(network, X, y, *, loss=None, optimizer="sgd", lr=None, epochs=10, batch_size=32,
        shuffle=True, seed=None, validation_data=None, validation_split=0.0, metrics=None,
        callbacks=None, verbose=1, initial_epoch=None):
    """Train ``network`` on (X, y) with minibatches; returns a ``History``.

    Parameters
    ----------
    X : (n, *network.input_shape) array: rows (n, n_features), or images (n, C, H, W) for a
        network of convolutions.  y : labels (n,), one-hot rows (n, C), or targets (n, k).
    loss : a Loss or its name ("cross_entropy", "mse", "mae", "bce"); by default cross-entropy
        for integer labels with several outputs, MSE otherwise.
    optimizer : an optimizer from ``scratchnn.optim`` or its name ("sgd", "adam", ...); ``lr``
        sets the learning rate of a named one.
    epochs, batch_size : passes over the data and rows per step (the last batch may be shorter).
    shuffle, seed : reshuffle every epoch; the same seed gives bit-identical runs (at the same
        number of BLAS threads). Epoch e's shuffle and dropout masks depend only on (seed, e).
    validation_data : (X_val, y_val), or validation_split : a fraction of (X, y) held out,
        drawn with the seed (stratified by class for classification losses).
    metrics : names ("accuracy", "mse", "mae", "rmse") or callables f(y_true, y_pred); accuracy
        by default for classification losses.
    callbacks : Callback objects, or plain callables f(epoch, logs) run after each epoch.
    verbose : 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    initial_epoch : the number of the first epoch (0-based); by default ``optimizer.epochs``, the
        epochs this optimizer has already trained. So a second ``fit`` with the same optimizer
        (or one loaded from a model file) continues: schedules, shuffles and dropout go on from
        epoch ``initial_epoch`` and 3 + 3 epochs with one seed equal 6 epochs bit for bit.

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
    loss = get_loss(loss if loss is not None else _default_loss(network, y))
    optimizer = get_optimizer(optimizer, lr=lr)
    metric_fns = _get_metrics(metrics, loss)

    streams = _RandomStreams(seed)
    classify = isinstance(loss, (CrossEntropyLoss, BinaryCrossEntropyLoss))
    X, y, validation_data = _split_validation(X, y, validation_data, validation_split, streams,
                                              stratify=classify)
    y = _prepare_targets(network, loss, y)
    check_same_length(X, y)
    if len(X) == 0:
        raise ValueError("X is empty; fit needs at least one sample.")
    validation = None
    if validation_data is not None:
        X_val = network._check_x(validation_data[0], "X_val")
        y_val = _prepare_targets(network, loss, validation_data[1], "y_val")
        check_same_length(X_val, y_val, "X_val", "y_val")
        validation = (X_val, y_val)
    if initial_epoch is None:
        initial_epoch = getattr(optimizer, "epochs", 0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", minimum=0)

    callbacks = [as_callback(cb) for cb in (callbacks or [])]
    loop = _FitLoop(network, loss, optimizer, metric_fns, X, y, batch_size, validation, callbacks)

    network.training = True
    try:
        with _DeferredInterrupt() as interrupt:
            loop.run(range(initial_epoch, initial_epoch + epochs), streams if shuffle else None,
                     streams if seed is not None else None, verbose, interrupt)
    finally:
        network.training = False  # what follows fit is evaluation: dropout off
    return loop.history


class _FitLoop:
    """The epochs of one ``fit``: minibatch steps, validation and callbacks. The batch buffers are
    allocated once for the whole fit."""

    def __init__(self, network, loss, optimizer, metric_fns, X, y, batch_size, validation,
                 callbacks):
        self.network, self.loss, self.optimizer = network, loss, optimizer
        self.metric_fns = metric_fns
        self.X, self.y, self.batch_size = X, y, batch_size
        self.validation = validation
        self.history = History()
        self.callbacks = [self.history, *callbacks]
        for cb in self.callbacks:
            cb.set_context(network, optimizer)
        self.bounds = _batch_bounds(len(X), batch_size, network)
        size = max(stop - start for start, stop in self.bounds)
        self.x_buf = np.empty((size, *X.shape[1:]), dtype=X.dtype)
        self.y_buf = np.empty((size, *y.shape[1:]), dtype=y.dtype)

    def run(self, epochs, shuffling, seeding, verbose, interrupt):
        """Train the ``epochs`` (a range of epoch numbers). ``shuffling`` (a _RandomStreams, or
        None to keep the order) gives each epoch's order, ``seeding`` (or None) reseeds the
        stochastic layers for each epoch."""
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
                logs = self.run_epoch(epoch, last, order, verbose, interrupt)
            except TrainingDivergedError as err:
                err.history = history
                raise
            if logs is None:
                history.interrupted = True
                break
            self.optimizer.epochs = epoch + 1
            if self.validation is not None:
                val = _evaluate(self.network, *self.validation, self.loss, self.metric_fns)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(self.optimizer.lr)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            if verbose == 2:
                tqdm.write(f"epoch {epoch + 1}/{last} - " + _format_logs(logs), file=sys.stdout)
            if any(cb.stop_training for cb in self.callbacks):
                history.stopped_epoch = epoch
                break
            if interrupt.requested:
                history.interrupted = True
                break
        for cb in self.callbacks:
            cb.on_train_end({})

    def _batch(self, order, start, stop):
        if order is None:
            return self.X[start:stop], self.y[start:stop]
        idx = order[start:stop]
        xb, yb = self.x_buf[: len(idx)], self.y_buf[: len(idx)]
        # mode="clip" lets take write straight into the buffer (mode="raise" copies through a
        # temporary); the indices come from a permutation, so none is out of range.
        np.take(self.X, idx, axis=0, out=xb, mode="clip")
        np.take(self.y, idx, axis=0, out=yb, mode="clip")
        return xb, yb

    def run_epoch(self, epoch, epochs, order, verbose, interrupt):
        """Returns this epoch's logs, or None if Ctrl-C was pressed."""
        net, loss, opt = self.network, self.loss, self.optimizer
        weights_at_start = net.get_weights()
        state_at_start = opt.state_dict()
        bar = tqdm(self.bounds, desc=f"epoch {epoch + 1}/{epochs}", leave=True, file=sys.stdout,
                   disable=verbose != 1, dynamic_ncols=True)
        total_loss, seen = 0.0, 0
        metric_sums = dict.fromkeys(self.metric_fns, 0.0)
        # X was checked for NaN/inf once, in fit. Overflow on the way to a diverging loss is not
        # bad data: it shows up as a non-finite loss, reported below as one clear error.
        with np.errstate(over="ignore", invalid="ignore"), assume_finite():
            for step, (start, stop) in enumerate(bar):
                if interrupt.requested:
                    bar.close()
                    return None
                xb, yb = self._batch(order, start, stop)
                out = net.forward(xb)
                value = loss.forward(yb, out)
                if not math.isfinite(value):
                    bar.close()
                    self._restore_finite(weights_at_start, state_at_start)
                    raise TrainingDivergedError(
                        f"loss diverged at epoch {epoch + 1}, batch {step + 1} (loss = {value}): "
                        "try a smaller learning rate, or scale the inputs."
                    )
                net.backward(loss.backward(), input_grad=False)
                opt.step(net)
                n = len(xb)
                total_loss += value * n
                seen += n
                shown = _metric_input(loss, out) if self.metric_fns else None
                for name, fn in self.metric_fns.items():
                    metric_sums[name] += fn(yb, shown) * n
                if verbose == 1 and (step % 10 == 0 or start + n >= len(self.X)):
                    bar.set_description(
                        f"epoch {epoch + 1}/{epochs} loss {total_loss / seen:.4f}"
                        + "".join(f" {k} {v / seen:.4f}" for k, v in metric_sums.items())
                    )
        bar.close()
        # The last step's update is not followed by a loss that would show an overflow in it.
        if self._restore_finite(weights_at_start, state_at_start):
            raise TrainingDivergedError(
                f"weights became NaN or infinite in epoch {epoch + 1}: try a smaller learning "
                "rate, or scale the inputs."
            )
        logs = {"loss": total_loss / seen}
        logs.update({name: s / seen for name, s in metric_sums.items()})
        return logs

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


def _format_logs(logs):
    return " - ".join(f"{k} {v:.4g}" for k, v in logs.items())


