"""Worked solutions of chapter 11 of notebooks/exercises.ipynb (overfitting and regularisation),
written as a learner would write them; self-contained in the notebook's namespace (NumPy as
``np``, ``Layer`` from scratchnn)."""

import numpy as np

from scratchnn import Layer


def l2_penalty(weights, lam):
    value = lam / 2 * sum(np.sum(W ** 2) for W in weights)
    grads = [lam * W for W in weights]
    return value, grads


class DropoutLayer(Layer):
    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(rng)
        self.mask = None

    def forward(self, x):
        if not self.training:
            self.mask = None
            return x
        self.mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p)
        return x * self.mask

    def backward(self, grad_z):
        if self.mask is None:
            return grad_z
        return grad_z * self.mask
