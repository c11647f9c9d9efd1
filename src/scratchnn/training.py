"""The fit loop behind ``MultiLayerNetwork.fit``: the notebook's minibatch loop, made robust.

One epoch is: shuffle, then for each batch forward -> loss -> backward -> optimizer step; at its end
the validation set is evaluated and callbacks run. The result is a ``History`` with one value per
epoch for ``loss``, each metric and their ``val_`` versions.
"""

from __future__ import annotations

import math
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
from .callbacks import Callback, MonitorCallback, monitored
from .losses import BinaryCrossEntropyLoss, CrossEntropyLoss, get_loss
from .utils import to_labels


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite. ``.history`` holds the epochs completed before it."""

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


class History(Callback):
    """What happened during ``fit``: ``history[key]`` is a list with one value per epoch."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.interrupted = False
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


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


def _split_validation(X, y, validation_data, validation_split):
    if validation_data is not None and validation_split:
        raise ValueError("give either validation_data or validation_split, not both.")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (X_val, y_val).")
        return X, y, validation_data
    if validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}.")
        # As Keras: the last fraction of the data, taken before any shuffling.
        n_val = int(round(len(X) * validation_split))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_split={validation_split} leaves {n_val} of {len(X)} samples "
                "for validation; it must leave at least one sample on each side."
            )
        cut = len(X) - n_val
        return X[:cut], y[:cut], (X[cut:], y[cut:])
    return X, y, None


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
        callbacks=None, verbose=1):
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
    shuffle, seed : reshuffle every epoch; the same seed gives bit-identical runs.
    validation_data : (X_val, y_val), or validation_split : the last fraction of (X, y).
    metrics : names ("accuracy", "mse", "mae", "rmse") or callables f(y_true, y_pred); accuracy
        by default for classification losses.
    callbacks : Callback objects, or plain callables f(epoch, logs) run after each epoch.
    verbose : 0 silent, 1 a progress bar per epoch, 2 one line per epoch.

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

    X, y, validation_data = _split_validation(X, y, validation_data, validation_split)
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

    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if layer.stochastic and seed is not None:
            layer.rng = np.random.default_rng(rng.integers(2**63))
    callbacks = [_as_callback(cb) for cb in (callbacks or [])]
    loop = _FitLoop(network, loss, optimizer, metric_fns, X, y, batch_size, validation, callbacks)

    network.training = True
    try:
        with _DeferredInterrupt() as interrupt:
            loop.run(epochs, rng if shuffle else None, verbose, interrupt)
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

    def run(self, epochs, rng, verbose, interrupt):
        """Train for ``epochs``, reshuffling with ``rng`` (None: keep the order)."""
        history = self.history
        for cb in self.callbacks:
            cb.on_train_begin({})
        for epoch in range(epochs):
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            order = rng.permutation(len(self.X)) if rng is not None else None
            try:
                logs = self.run_epoch(epoch, epochs, order, verbose, interrupt)
            except TrainingDivergedError as err:
                err.history = history
                raise
            if logs is None:
                history.interrupted = True
                break
            if self.validation is not None:
                val = _evaluate(self.network, *self.validation, self.loss, self.metric_fns)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(self.optimizer.lr)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            if verbose == 2:
                tqdm.write(f"epoch {epoch + 1}/{epochs} - " + _format_logs(logs), file=sys.stdout)
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
        never applied.)"""
        if all(np.isfinite(p).all() for _, _, p in self.network.parameters()):
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


class LambdaCallback(Callback):
    """A plain callable f(epoch, logs), run after each epoch."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, epoch, logs=None):
        self.fn(epoch, logs)


def _as_callback(cb):
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return LambdaCallback(cb)
    raise TypeError(f"callbacks must be Callback objects or callables, got {type(cb).__name__}.")


# -- callbacks
class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the network ends with the weights of its best epoch.
    ``mode`` is "min" (losses), "max" (accuracy) or "auto" (max for names with "acc").
    As in Keras, ``patience=2`` stops after the second epoch in a row without improvement.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best_weights=False,
                 mode="auto"):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_positive_int(patience, "patience", minimum=0)
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        value = monitored(self, logs)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.network.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.network.set_weights(self.best_weights)


class ModelCheckpoint(MonitorCallback):
    """Save the network to ``path`` after each epoch (or only when ``monitor`` improves).

    ``path`` may contain ``{epoch}`` (1-based). Files are written with ``scratchnn.save``.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor, mode)
        self.path = str(path)
        self.save_best_only = bool(save_best_only)

    def on_epoch_end(self, epoch, logs=None):
        from .serialization import save

        if self.save_best_only:
            value = monitored(self, logs)
            if not self.improved(value):
                return
            self.best = value
        save(self.network, self.path.format(epoch=epoch + 1), optimizer=self.optimizer)
