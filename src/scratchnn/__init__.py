"""scratchnn: neural networks from scratch in plain NumPy, every gradient visible and checked."""

import importlib

from . import callbacks, datasets, init, optim, plots
from .activations import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .callbacks import EarlyStopping, History, ModelCheckpoint
from .gradient_check import check_loss, gradcheck, numerical_gradient
from .layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    DropoutLayer,
    Flatten,
    GlobalAvgPool2D,
    IdentityLayer,
    Layer,
    LeakyReLULayer,
    LinearLayer,
    MaxPool2D,
    ReLULayer,
    Reshape,
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
from .model import Model
from .network import MultiLayerNetwork
from .serialization import ModelFileError, SavedModel, load, load_model_file, save
from .threads import get_num_threads, set_num_threads
from .training import TrainingDivergedError
from .utils import accuracy, get_batches, initialize_weights, one_hot, shuffle

__version__ = "0.1.0"


def __getattr__(name):
    # preprocessing needs pandas, which takes half a second to import: load it on first use.
    if name == "preprocessing":
        return importlib.import_module(".preprocessing", __name__)
    raise AttributeError(f"module 'scratchnn' has no attribute {name!r}")


__all__ = [
    "AvgPool2D",
    "BatchNorm1D",
    "BatchNorm2D",
    "Conv2D",
    "Flatten",
    "GlobalAvgPool2D",
    "MaxPool2D",
    "Model",
    "Reshape",
    "BinaryCrossEntropyLoss",
    "CrossEntropyLoss",
    "DropoutLayer",
    "EarlyStopping",
    "History",
    "IdentityLayer",
    "Layer",
    "LeakyReLULayer",
    "LinearLayer",
    "Loss",
    "MAELoss",
    "MSELoss",
    "ModelFileError",
    "ModelCheckpoint",
    "MultiLayerNetwork",
    "ReLULayer",
    "SavedModel",
    "SigmoidLayer",
    "SoftmaxLayer",
    "TanhLayer",
    "TrainingDivergedError",
    "accuracy",
    "binary_cross_entropy",
    "callbacks",
    "check_loss",
    "cross_entropy_loss",
    "datasets",
    "get_batches",
    "gradcheck",
    "init",
    "initialize_weights",
    "leaky_relu",
    "load",
    "load_model_file",
    "log_softmax",
    "mae",
    "mse",
    "numerical_gradient",
    "one_hot",
    "optim",
    "plots",
    "preprocessing",
    "relu",
    "save",
    "set_num_threads",
    "get_num_threads",
    "shuffle",
    "sigmoid",
    "softmax",
    "tanh",
]
