"""Layers, one module per family; every class a model file may name is registered here.

``LAYERS`` maps a class name to one of scratchnn's own layer classes. Model files (and
exporters) build and read layers through it alone, so loading a file can only ever create these
classes: a name that is not in it, or a subclass, is refused.
"""

from .activations import (
    ACTIVATION_LAYERS,
    IdentityLayer,
    LeakyReLULayer,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
    activation_class,
    activation_layer,
)
from .base import Layer
from .conv import Conv2D
from .dense import LinearLayer
from .dropout import DropoutLayer
from .normalization import BatchNorm1D, BatchNorm2D
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .reshape import Flatten, Reshape

LAYERS = {
    cls.__name__: cls
    for cls in (
        LinearLayer,
        ReLULayer,
        LeakyReLULayer,
        SigmoidLayer,
        TanhLayer,
        SoftmaxLayer,
        IdentityLayer,
        DropoutLayer,
        BatchNorm1D,
        BatchNorm2D,
        Conv2D,
        MaxPool2D,
        AvgPool2D,
        GlobalAvgPool2D,
        Flatten,
        Reshape,
    )
}


def layer_from_config(name, config):
    """A new layer of the registered class ``name`` built from its ``get_config()`` settings."""
    cls = LAYERS.get(name)
    if cls is None:
        raise ValueError(
            f"unknown layer type {name!r}; scratchnn's layers are {', '.join(LAYERS)}."
        )
    if not isinstance(config, dict):
        raise TypeError(f"the settings of a {name} must be a JSON object, got {config!r}.")
    return cls.from_config(config)


__all__ = [
    "ACTIVATION_LAYERS",
    "LAYERS",
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Conv2D",
    "DropoutLayer",
    "Flatten",
    "GlobalAvgPool2D",
    "IdentityLayer",
    "Layer",
    "LeakyReLULayer",
    "LinearLayer",
    "MaxPool2D",
    "ReLULayer",
    "Reshape",
    "SigmoidLayer",
    "SoftmaxLayer",
    "TanhLayer",
    "activation_class",
    "activation_layer",
    "layer_from_config",
]
