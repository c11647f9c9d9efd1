"""Callbacks of ``MultiLayerNetwork.fit``: the protocol and every callback scratchnn has.

``History`` (what ``fit`` returns), ``EarlyStopping``, ``ModelCheckpoint``, the learning-rate
schedules (``ConstantLR``, ``StepDecay``, ``ExponentialDecay``, ``CosineAnnealing``,
``ReduceLROnPlateau``) and ``LambdaCallback`` for a plain function.

A callback is told when training starts and ends and when each epoch starts and ends. Before
training it is given the network and the optimizer (``self.network``, ``self.optimizer``), so it
can read or change them (a learning-rate schedule sets ``optimizer.lr``; early stopping copies
weights). Setting ``self.stop_training = True`` ends training after the current epoch.

``logs`` is a dict of this epoch's numbers: ``loss``, each metric, ``val_loss``, ``lr``...
"""

from __future__ import annotations

import math
import os
import string

from ._validation import check_float, check_positive_int


class Callback:
    """Base class: override the hooks you need; each does nothing by default."""

    network = None
    optimizer = None
    stop_training = False

    def set_context(self, network, optimizer):
        self.network = network
        self.optimizer = optimizer
        self.stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


def monitored(callback, logs):
    """The value of ``callback.monitor`` in this epoch's logs, or an error naming what is there."""
    logs = logs or {}
    if callback.monitor not in logs:
        raise ValueError(
            f"{type(callback).__name__} monitors {callback.monitor!r}, but the logs only have "
            f"{sorted(logs)}; pass validation data or monitor another key."
        )
    return logs[callback.monitor]


class MonitorCallback(Callback):
    """A callback that watches one number in the logs and remembers its best value so far.

    ``mode`` is "min" (losses), "max" (accuracies) or "auto" (max for names with "acc").
    A value improves on the best by more than ``min_delta`` (``threshold_mode="abs"``) or by more
    than ``min_delta * |best|`` (``threshold_mode="rel"``).
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0, threshold_mode="abs"):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a key of the logs (a str), got {monitor!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}.")
        self.monitor = monitor
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.min_delta = check_float(min_delta, "min_delta", low=0.0)
        self.threshold_mode = threshold_mode
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value):
        margin = self.min_delta
        if self.threshold_mode == "rel":
            margin = self.min_delta * abs(self.best) if math.isfinite(self.best) else 0.0
        if self.mode == "min":
            return value < self.best - margin
        return value > self.best + margin


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


class LambdaCallback(Callback):
    """A plain callable f(epoch, logs), run after each epoch."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, epoch, logs=None):
        self.fn(epoch, logs)


def as_callback(cb):
    """A Callback as it is; a plain callable f(epoch, logs) wrapped in a LambdaCallback."""
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return LambdaCallback(cb)
    raise TypeError(f"callbacks must be Callback objects or callables, got {type(cb).__name__}.")


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

    ``path`` may contain ``{epoch}`` (1-based), with a format spec such as ``{epoch:03d}``; no
    other field (write ``{{`` and ``}}`` for a literal brace). Files are written with
    ``scratchnn.save``.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor, mode)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
        self.path = _checked_pattern(os.fspath(path))
        self.save_best_only = bool(save_best_only)

    def on_epoch_end(self, epoch, logs=None):
        # The one import upward: a callback that writes model files needs the file format.
        from .serialization import save

        if self.save_best_only:
            value = monitored(self, logs)
            if not self.improved(value):
                return
            self.best = value
        save(self.network, self.path.format(epoch=epoch + 1), optimizer=self.optimizer)


def _checked_pattern(path):
    """``path`` if ``path.format(epoch=...)`` works, else a ValueError saying why: checked when
    the checkpoint is made, not after the first epoch has been trained."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(path) if field is not None]
    except ValueError as err:  # a lone { or }
        raise ValueError(f"ModelCheckpoint path {path!r} is not a valid pattern ({err}); "
                         "write {{ and }} for a literal brace.") from None
    others = [f"{{{field}}}" for field in fields if field != "epoch"]
    if others:
        raise ValueError(f"ModelCheckpoint path {path!r} has {', '.join(others)}; only {{epoch}} "
                         "(the epoch number, from 1) can be filled in. Write {{ and }} for a "
                         "literal brace.")
    try:
        path.format(epoch=1)
    except (ValueError, TypeError) as err:  # a format spec that does not fit an int: {epoch:s}
        raise ValueError(f"ModelCheckpoint path {path!r} cannot be filled in with an epoch "
                         f"number: {err}.") from None
    return path


# -- learning-rate schedules ----------------------------------------------------------------------
def _optimizer_of(callback):
    if not hasattr(callback.optimizer, "lr"):
        raise ValueError(
            f"{type(callback).__name__} has no optimizer; call set_context(network, optimizer) "
            "first (fit does this)."
        )
    return callback.optimizer


class LRSchedule(Callback):
    """Base of the epoch-wise schedules: during epoch e (0-based) the learning rate is
    ``lr_at(e, base_lr)``, with ``base_lr`` the optimizer's ``initial_lr`` (the lr it was made
    with, which its saved state keeps), so a resumed training continues the same schedule.

    As callbacks they set ``optimizer.lr`` in ``on_epoch_begin``; without ``fit``, call
    ``set_context(network, optimizer)`` and the hooks, or use ``lr_at`` directly. The values are
    those of the torch scheduler of the same name stepped once per epoch.
    """

    base_lr = None

    def lr_at(self, epoch, base_lr):
        """The learning rate for ``epoch`` (an int >= 0) starting from ``base_lr``."""
        epoch = check_positive_int(epoch, "epoch", minimum=0)
        base_lr = check_float(base_lr, "base_lr", low=0.0, low_open=True)
        return self._lr_at(epoch, base_lr)

    def _lr_at(self, epoch, base_lr):
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        optimizer = _optimizer_of(self)
        self.base_lr = getattr(optimizer, "initial_lr", optimizer.lr)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(self)
        if self.base_lr is None:
            self.base_lr = getattr(optimizer, "initial_lr", optimizer.lr)
        optimizer.lr = self.lr_at(epoch, self.base_lr)


class ConstantLR(LRSchedule):
    """lr = base_lr * factor for the first ``total_iters`` epochs, base_lr after.

    With the defaults (factor=1, total_iters=0) the learning rate stays base_lr: useful to pin it.
    As ``torch.optim.lr_scheduler.ConstantLR`` given the same factor and total_iters.
    """

    def __init__(self, factor=1.0, total_iters=0):
        self.factor = check_float(factor, "factor", low=0.0, high=1.0, low_open=True)
        self.total_iters = check_positive_int(total_iters, "total_iters", minimum=0)

    def _lr_at(self, epoch, base_lr):
        return base_lr * self.factor if epoch < self.total_iters else base_lr

    def __repr__(self):
        return f"ConstantLR(factor={self.factor}, total_iters={self.total_iters})"


class StepDecay(LRSchedule):
    """lr = base_lr * gamma ** (epoch // step_size): divided by 1/gamma every ``step_size``
    epochs. As ``torch.optim.lr_scheduler.StepLR``."""

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_float(gamma, "gamma", low=0.0, low_open=True)

    def _lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def __repr__(self):
        return f"StepDecay(step_size={self.step_size}, gamma={self.gamma})"


class ExponentialDecay(LRSchedule):
    """lr = base_lr * gamma ** epoch. As ``torch.optim.lr_scheduler.ExponentialLR``."""

    def __init__(self, gamma):
        self.gamma = check_float(gamma, "gamma", low=0.0, low_open=True)

    def _lr_at(self, epoch, base_lr):
        return base_lr * self.gamma**epoch

    def __repr__(self):
        return f"ExponentialDecay(gamma={self.gamma})"


class CosineAnnealing(LRSchedule):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2.

    Falls from base_lr to eta_min over ``T_max`` epochs along half a cosine. Past T_max it rises
    again (the cosine has period 2 T_max), exactly as torch's ``CosineAnnealingLR``; train for
    T_max epochs to end at eta_min.
    """

    def __init__(self, T_max, eta_min=0.0):
        self.T_max = check_positive_int(T_max, "T_max")
        self.eta_min = check_float(eta_min, "eta_min", low=0.0)

    def _lr_at(self, epoch, base_lr):
        cosine = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (base_lr - self.eta_min) * cosine

    def __repr__(self):
        return f"CosineAnnealing(T_max={self.T_max}, eta_min={self.eta_min})"


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``logs[monitor]`` stops improving.

    After each epoch the monitored value is compared with the best so far. In ``mode="min"`` it
    improves when value < best - min_delta |best| (``threshold_mode="rel"``, the default) or
    value < best - min_delta (``threshold_mode="abs"``); ``mode="max"`` mirrors this. After more
    than ``patience`` epochs without improvement, lr <- max(lr * factor, min_lr) (a change smaller
    than 1e-8 is skipped), then ``cooldown`` epochs pass before bad epochs count again.

    This is ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with ``threshold=min_delta`` (the
    defaults are torch's). For a negative best, torch's relative threshold best * (1 - min_delta)
    moves the wrong way; the |best| above keeps "improve" meaning better. ``EarlyStopping``'s
    min_delta is absolute: use ``threshold_mode="abs"`` for the same meaning here. Without
    ``fit``, call ``set_context(network, optimizer)`` and then ``step(value)`` once per epoch.
    """

    _MIN_CHANGE = 1e-8  # torch's eps: smaller reductions are not worth applying

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4, min_lr=0.0,
                 mode="min", threshold_mode="rel", cooldown=0):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a logged value, got {monitor!r}.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        super().__init__(monitor, mode, min_delta, threshold_mode)
        self.factor = check_float(factor, "factor", low=0.0, high=1.0, low_open=True,
                                   high_open=True)
        self.patience = check_positive_int(patience, "patience", minimum=0)
        self.min_lr = check_float(min_lr, "min_lr", low=0.0)
        self.cooldown = check_positive_int(cooldown, "cooldown", minimum=0)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        self.step(monitored(self, logs))

    def step(self, value):
        """Record one epoch's monitored ``value``; returns the (possibly reduced) learning rate."""
        value = float(value)
        if self.improved(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        optimizer = _optimizer_of(self)
        if self.num_bad_epochs > self.patience:
            new_lr = max(optimizer.lr * self.factor, self.min_lr)
            if optimizer.lr - new_lr > self._MIN_CHANGE:
                optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return optimizer.lr

    def __repr__(self):
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, "
            f"patience={self.patience}, min_delta={self.min_delta}, min_lr={self.min_lr}, "
            f"mode={self.mode!r}, threshold_mode={self.threshold_mode!r}, "
            f"cooldown={self.cooldown})"
        )
