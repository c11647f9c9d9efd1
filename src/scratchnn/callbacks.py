"""The callback protocol of ``MultiLayerNetwork.fit``.

A callback is told when training starts and ends and when each epoch starts and ends. Before
training it is given the network and the optimizer (``self.network``, ``self.optimizer``), so it
can read or change them (a learning-rate schedule sets ``optimizer.lr``; early stopping copies
weights). Setting ``self.stop_training = True`` ends training after the current epoch.

``logs`` is a dict of this epoch's numbers: ``loss``, each metric, ``val_loss``, ``lr``...
"""

from __future__ import annotations

import math

from ._validation import check_float


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
    A value improves on the best by more than ``min_delta``.
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a key of the logs (a str), got {monitor!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        self.monitor = monitor
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.min_delta = check_float(min_delta, "min_delta", low=0.0)

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta
