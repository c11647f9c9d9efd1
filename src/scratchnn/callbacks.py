"""The callback protocol of ``MultiLayerNetwork.fit``.

A callback is told when training starts and ends and when each epoch starts and ends. Before
training it is given the network and the optimizer (``self.network``, ``self.optimizer``), so it
can read or change them (a learning-rate schedule sets ``optimizer.lr``; early stopping copies
weights). Setting ``self.stop_training = True`` ends training after the current epoch.

``logs`` is a dict of this epoch's numbers: ``loss``, each metric, ``val_loss``, ``lr``...
"""

from __future__ import annotations


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
