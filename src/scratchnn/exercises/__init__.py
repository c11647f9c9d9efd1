"""Self-checking exercises: run your own code against scratchnn's and get a verdict that helps.

Each checker takes the function or class you wrote, runs it next to scratchnn's reference on
random inputs (and through a finite-difference gradient check where there is a gradient), prints
a short verdict and returns a ``CheckResult``, truthy when everything matched::

    >>> from scratchnn.exercises import check_linear_layer
    >>> check_linear_layer(LinearLayer)          # doctest: +SKIP
    LinearLayer: FAILED
      ok: forward: x @ W + b on inputs of shape (5, 4)
      grads['W'] has shape (3, 4), expected (4, 3).
        Hint: did you compute grad_z.T @ x instead of x.T @ grad_z?

A body that still raises ``NotImplementedError`` (or is a bare ``pass``) gives "not implemented
yet"; any other error in your code is reported in one line, with the input it was given.
Pass ``verbose=False`` to get the result without printing it.

The checkers follow the chapters of notebooks/exercises.ipynb:

1. ``check_sigmoid``, ``check_relu`` (values and ``derivative=True``)
2. ``check_forward_propagation``
3. ``check_loss_function`` (mse, mae, binary_cross_entropy, cross_entropy), ``check_softmax``
4. ``check_numerical_gradient``
5. ``check_activation_function`` (tanh, leaky_relu), ``check_activation_derivatives``,
   ``check_linear_layer``, ``check_activation_layer``
6. ``check_network``
7. ``check_one_hot``, ``check_get_batches``
8. ``check_training_step``
9. ``check_optimizer`` (sgd, momentum, rmsprop, adam)
10. ``check_initializer`` (xavier/he, uniform/normal)
11. ``check_l2_penalty``, ``check_dropout_layer``
12. ``check_value`` (a scalar autograd)
13. ``check_overfit_one_batch``, ``check_lr_sweep``
14. ``check_im2col``, ``check_conv2d_forward``, ``check_max_pool2d``, ``check_max_pool2d_backward``
15. ``check_capstone``: the learner's own parts train the digits, and the part to fix is named
"""

from ._core import CheckResult
from .capstone import CapstoneResult, check_capstone
from .conv import check_conv2d_forward, check_im2col, check_max_pool2d, check_max_pool2d_backward
from .data import check_get_batches, check_initializer, check_one_hot
from .functions import (
    check_activation_derivatives,
    check_activation_function,
    check_relu,
    check_sigmoid,
    check_softmax,
)
from .graph import check_value
from .layers import check_activation_layer, check_linear_layer
from .losses import check_loss_function, check_numerical_gradient
from .network import check_forward_propagation, check_network, check_training_step
from .optim import check_optimizer
from .regularisation import check_dropout_layer, check_l2_penalty
from .sanity import check_lr_sweep, check_overfit_one_batch

__all__ = [
    "CapstoneResult",
    "CheckResult",
    "check_activation_derivatives",
    "check_activation_function",
    "check_activation_layer",
    "check_capstone",
    "check_conv2d_forward",
    "check_dropout_layer",
    "check_forward_propagation",
    "check_get_batches",
    "check_im2col",
    "check_initializer",
    "check_l2_penalty",
    "check_linear_layer",
    "check_loss_function",
    "check_lr_sweep",
    "check_max_pool2d",
    "check_max_pool2d_backward",
    "check_network",
    "check_numerical_gradient",
    "check_one_hot",
    "check_optimizer",
    "check_overfit_one_batch",
    "check_relu",
    "check_sigmoid",
    "check_softmax",
    "check_training_step",
    "check_value",
]
