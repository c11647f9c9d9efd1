"""scratchnn: neural networks from scratch in plain NumPy, every gradient visible and checked.

``import scratchnn`` loads NumPy, tqdm and the core: ``datasets``, ``plots`` and ``preprocessing``
are loaded on first use (``scratchnn.plots.plot_history`` works as usual), so a command that does
not plot or download does not pay for matplotlib, scikit-learn, pandas or http.client.
"""

import importlib

from . import callbacks, init, optim
from .activations import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .callbacks import EarlyStopping, History, ModelCheckpoint
from .export import export_onnx
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


# Submodules loaded on first use: preprocessing needs pandas (half a second to import), plots
# matplotlib (pyplot: about one), datasets http.client and urllib for download_mnist.
_LAZY_SUBMODULES = ("datasets", "plots", "preprocessing")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scratchnn' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY_SUBMODULES})


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
    "export_onnx",
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
