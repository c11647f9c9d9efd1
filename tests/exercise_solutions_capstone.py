"""Worked solution of chapter 15 (the capstone) of notebooks/exercises.ipynb.

The loop uses two of the learner's earlier answers by their notebook names,
``cross_entropy_loss`` (chapter 3) and ``get_batches`` (chapter 7). They are not imported here:
tests/test_notebooks.py finds each solution by name in exactly one module, and
``check_capstone`` runs the loop with both names bound to the parts it is given.
"""

import numpy as np


def train_network(network, optimizer, X, Y, epochs, batch_size, rng):
    history = []
    for _ in range(epochs):
        # One permutation for both, so that every row of X keeps its label.
        order = rng.permutation(len(X))
        X_shuffled, Y_shuffled = X[order], Y[order]
        losses = []
        batches = zip(get_batches(X_shuffled, batch_size),  # noqa: F821
                      get_batches(Y_shuffled, batch_size), strict=True)  # noqa: F821
        for xb, yb in batches:
            logits = network.forward(xb)
            losses.append(cross_entropy_loss(yb, logits))  # noqa: F821
            network.backward(cross_entropy_loss(yb, logits, derivative=True))  # noqa: F821
            optimizer.step(network)
        history.append(np.mean(losses))
    return history
