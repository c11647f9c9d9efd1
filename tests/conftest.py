"""Fixtures shared by the test modules: a seeded generator and a factory for every layer kind."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import (
    DropoutLayer,
    IdentityLayer,
    LeakyReLULayer,
    LinearLayer,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
)


def _linear(n_in, dtype):
    layer = LinearLayer(n_in, 3, rng=0, dtype=dtype)
    # The default bias is zero, which would hide a bias added on the wrong axis.
    layer.params["b"][...] = np.array([[-0.5, 0.25, 0.75]])
    return layer


def _dropout_eval(n_in, dtype):
    layer = DropoutLayer(p=0.3, rng=0)
    layer.training = False
    return layer


# name -> factory(n_in, dtype) returning a fresh layer; activation layers take their dtype from x.
LAYER_FACTORIES = {
    "LinearLayer": _linear,
    "ReLULayer": lambda n_in, dtype: ReLULayer(),
    "LeakyReLULayer": lambda n_in, dtype: LeakyReLULayer(alpha=0.1),
    "SigmoidLayer": lambda n_in, dtype: SigmoidLayer(),
    "TanhLayer": lambda n_in, dtype: TanhLayer(),
    "SoftmaxLayer": lambda n_in, dtype: SoftmaxLayer(),
    "IdentityLayer": lambda n_in, dtype: IdentityLayer(),
    "DropoutLayer": lambda n_in, dtype: DropoutLayer(p=0.3, rng=0),
    "DropoutLayer(eval)": _dropout_eval,
}


@pytest.fixture(params=list(LAYER_FACTORIES))
def make_layer(request):
    """One factory per layer kind: ``make_layer(n_in, dtype)`` -> a new layer."""
    return LAYER_FACTORIES[request.param]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
