"""scratchnn: neural networks from scratch in plain NumPy, every gradient visible and checked."""

from . import init
from .activations import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .gradient_check import check_loss, gradcheck, numerical_gradient
from .layers import (
    DropoutLayer,
    IdentityLayer,
    Layer,
    LeakyReLULayer,
    LinearLayer,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
)
from .losses import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    Loss,
    MAELoss,
    MSELoss,
    binary_cross_entropy,
    cross_entropy_loss,
    mae,
    mse,
)
from .network import MultiLayerNetwork
from .utils import accuracy, get_batches, initialize_weights, one_hot, shuffle

__version__ = "0.1.0"

__all__ = [
    "BinaryCrossEntropyLoss",
    "CrossEntropyLoss",
    "DropoutLayer",
    "IdentityLayer",
    "Layer",
    "LeakyReLULayer",
    "LinearLayer",
    "Loss",
    "MAELoss",
    "MSELoss",
    "MultiLayerNetwork",
    "ReLULayer",
    "SigmoidLayer",
    "SoftmaxLayer",
    "TanhLayer",
    "accuracy",
    "binary_cross_entropy",
    "check_loss",
    "cross_entropy_loss",
    "get_batches",
    "gradcheck",
    "init",
    "initialize_weights",
    "leaky_relu",
    "log_softmax",
    "mae",
    "mse",
    "numerical_gradient",
    "one_hot",
    "relu",
    "shuffle",
    "sigmoid",
    "softmax",
    "tanh",
]
