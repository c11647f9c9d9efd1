"""The notebook's abstract ``Layer``: the contract every layer keeps.

Computing:

* ``forward(x)`` / ``__call__(x)``: x (batch, *input_shape) -> output (batch, *output_shape),
  remembering what backward needs. The batch is always the first axis; images are
  (batch, channels, height, width), as in PyTorch.
* ``backward(grad_z)``: given dL/d(output), fills ``grads`` and returns dL/dx. It never changes
  ``grad_z`` in place. ``backward(grad_z, input_grad=False)`` skips dL/dx (returns None), which
  the network uses for its first layer, where nobody needs it.
* ``params`` and ``grads``: dicts from a name to an array, the same names in both, empty for
  layers without parameters. Optimizers work on these dicts alone. ``grads`` arrays are filled in
  place, so each backward overwrites the previous gradients (no ``zero_grad`` needed).
* ``state``: arrays that are part of the model but not trained (BatchNorm's running mean and
  variance). They are saved, restored and copied with the weights; optimizers never see them.
* ``update_params(learning_rate)``: plain gradient descent, p <- p - lr * dL/dp, as the notebook.
* ``training``: True while training, False for evaluation; the network sets it on every layer.

Describing itself (what the network, model files and exporters read, instead of type switches):

* ``output_shape(input_shape)``: the per-sample output shape for a per-sample input shape, or a
  ValueError naming the layer when it cannot take that input. None means "cannot tell" (a layer
  someone wrote without it); the network then stops inferring shapes after it.
* ``input_shape``: the per-sample input shape the layer fixes (a LinearLayer fixes (n_in,)), or
  None when it takes many.
* ``get_config()``: the constructor's settings as plain JSON values; ``cls.from_config(config)``
  builds an equal layer (with fresh weights). ``cls.array_shapes(config)`` gives the shapes of
  its ``params`` and ``state`` from those settings alone, so a model file is checked before any
  layer is built.
* ``stochastic``: True for layers that draw random numbers while training (dropout). They keep a
  generator in ``self.rng``, which ``fit(seed=...)`` replaces so that runs repeat.
* ``batch_statistics``: True for layers whose training output depends on the whole batch
  (BatchNorm); they need two samples or more, so ``fit`` never gives them a batch of one.
* ``elementwise``: True when the output has the input's shape whatever it is (activations), so a
  network can see through it when it looks for the layer that fixes its input shape.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array


class ShapeError(ValueError):
    """A layer cannot take an input of some shape; ``needs`` says what it takes, so a network
    can put the sentence in its own words."""

    def __init__(self, message, needs):
        super().__init__(message)
        self.needs = needs


class Layer:
    """Base class. Subclasses implement ``forward`` and ``backward`` (and describe themselves)."""

    stochastic = False
    batch_statistics = False
    elementwise = False

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.state = {}
        self.training = True
        self._x = None
        self._out = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_z, input_grad=True):
        raise NotImplementedError

    def update_params(self, learning_rate):
        for name, param in self.params.items():
            param -= learning_rate * self.grads[name]

    def __call__(self, x):
        return self.forward(x)

    # -- self-description -------------------------------------------------------------------------
    def output_shape(self, input_shape):
        """Per-sample output shape for a per-sample ``input_shape`` (a tuple without the batch)."""
        return tuple(input_shape) if self.elementwise else None

    @property
    def input_shape(self):
        """The per-sample input shape this layer requires, or None if it takes several."""
        return None

    def get_config(self):
        """The settings that rebuild this layer with ``from_config``, as plain JSON values."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def array_shapes(cls, config):
        """{"params": {name: shape}, "state": {name: shape}} of a layer built from ``config``,
        without building it; a layer without arrays has none."""
        return {}

    @property
    def n_params(self):
        return sum(p.size for p in self.params.values())

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"

    # -- checks shared by every layer -------------------------------------------------------------
    def _check_input(self, x, n_features=None, dtype=None, ndim=None, layout=None):
        """x as a float array with the batch first: at least 2-D, exactly ``ndim``-D if given
        (``layout`` names the axes in the error, e.g. "(batch, channels, height, width)")."""
        x = as_float_array(x, "x", dtype=dtype)
        if (ndim is not None and x.ndim != ndim) or x.ndim < 2:
            want = f"{ndim}-D array {layout or ''}" if ndim else "2-D array or more (batch, ...)"
            hint = ""
            if x.ndim == 1:
                hint = " For one sample use x.reshape(1, -1); for one feature, x.reshape(-1, 1)."
            raise ValueError(
                f"x must be a {want.rstrip()} for {self!r}, got {x.ndim}-D array of shape "
                f"{x.shape}.{hint}"
            )
        if n_features is not None and x.shape[-1] != n_features:
            raise ValueError(
                f"x has {x.shape[-1]} features, {type(self).__name__} expects {n_features}."
            )
        return x

    def _shape_error(self, input_shape, needs):
        """The ShapeError for a per-sample input shape this layer cannot take."""
        return ShapeError(
            f"{self!r} cannot take input of shape (batch, {', '.join(map(str, input_shape))}): "
            f"it needs {needs}.", needs=needs)

    def _check_grad(self, grad_z):
        if self._out is None:
            raise ValueError(f"{type(self).__name__}.backward() called before forward().")
        grad_z = np.asarray(grad_z)
        if grad_z.shape != self._out.shape:
            raise ValueError(
                f"grad_z has shape {grad_z.shape} but {type(self).__name__}'s last output had "
                f"shape {self._out.shape}; they must match."
            )
        return grad_z.astype(self._out.dtype, copy=False)
