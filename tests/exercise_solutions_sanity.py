"""Worked solutions of chapter 13 of notebooks/exercises.ipynb (sanity checks before training),
written as a learner would write them; self-contained in the notebook's namespace (NumPy as
``np``)."""

import numpy as np


def lr_sweep(train_fn, rates):
    losses = [train_fn(lr) for lr in rates]
    best_rate, best_loss = None, np.inf
    for lr, value in zip(rates, losses, strict=True):
        if np.isfinite(value) and (value < best_loss or (value == best_loss and lr < best_rate)):
            best_rate, best_loss = lr, value
    if best_rate is None:
        raise ValueError("no learning rate gave a finite loss: every run diverged.")
    return best_rate, losses


def overfit_one_batch(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        value = loss.forward(y, network.forward(x))
        network.backward(loss.backward())
        optimizer.step(network)
        losses.append(value)
    return losses
