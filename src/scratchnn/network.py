"""``MultiLayerNetwork``: a stack of layers run in order, as in the notebook."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, as_rng, assume_finite, check_float, check_positive_int
from .activations import softmax
from .layers import (
    Layer,
    LeakyReLULayer,
    LinearLayer,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    activation_class,
)

_RELU_LIKE = (ReLULayer, LeakyReLULayer)


class MultiLayerNetwork:
    """Layers applied in order: ``net.add(LinearLayer(64, 32)).add(ReLULayer())...``.

    forward: X (batch, n_features) -> output (batch, n_outputs).
    backward(grad): grad = dL/d(output) (batch, n_outputs); fills every layer's ``grads``.
    """

    def __init__(self, layers=()):
        self.layers = []
        self._training = True
        for layer in layers:
            self.add(layer)

    # -- building ---------------------------------------------------------------------------------
    def add(self, layer):
        """Append a layer and return the network, so calls chain."""
        if not isinstance(layer, Layer):
            raise TypeError(f"add() takes a Layer, got {type(layer).__name__}.")
        if any(layer is other for other in self.layers):
            raise ValueError(
                f"this {type(layer).__name__} is already in the network; a layer keeps the cache "
                "of its last forward pass, so add a new instance instead of reusing one."
            )
        last = self._last_linear()
        dtypes = {p.dtype for _, _, p in self.parameters()}
        dtypes |= {p.dtype for p in layer.params.values()}
        if len(dtypes) > 1:
            raise ValueError(
                f"cannot mix dtypes {sorted(str(d) for d in dtypes)} in one network: build every "
                "layer with the same dtype= (float32 by default)."
            )
        if isinstance(layer, LinearLayer) and last is not None and last.n_out != layer.n_in:
            raise ValueError(
                f"cannot add LinearLayer({layer.n_in}, {layer.n_out}) after a layer with "
                f"{last.n_out} outputs: n_in must be {last.n_out}."
            )
        layer.training = self._training
        self.layers.append(layer)
        return self

    @classmethod
    def from_sizes(cls, sizes, activation="relu", output_activation=None, init=None, rng=None,
                   dtype=np.float32):
        """The usual stack: Linear, activation, ..., Linear (+ optional output activation).

        ``from_sizes([64, 32, 10])`` gives Linear(64, 32), ReLU, Linear(32, 10): raw scores for
        ``CrossEntropyLoss``. ``init`` defaults to He for ReLU-like activations, Xavier otherwise.
        """
        sizes = list(sizes)
        activation = "identity" if activation is None else activation  # None: no nonlinearity
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output size, got {sizes}.")
        for size in sizes:
            check_positive_int(size, "every size in sizes")
        hidden_cls = activation_class(activation)
        output_cls = activation_class(output_activation) if output_activation is not None else None
        if init is None:
            init = "he_uniform" if hidden_cls in _RELU_LIKE else "xavier_uniform"
        rng = as_rng(rng)
        net = cls()
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            net.add(LinearLayer(n_in, n_out, init=init, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                net.add(hidden_cls())
        if output_cls is not None:
            net.add(output_cls())
        return net

    # -- properties -------------------------------------------------------------------------------
    def _linears(self):
        return [layer for layer in self.layers if isinstance(layer, LinearLayer)]

    def _last_linear(self):
        linears = self._linears()
        return linears[-1] if linears else None

    @property
    def n_features(self):
        """Input width the network expects (None while it has no LinearLayer)."""
        linears = self._linears()
        return linears[0].n_in if linears else None

    @property
    def n_outputs(self):
        last = self._last_linear()
        return last.n_out if last is not None else None

    @property
    def dtype(self):
        """The dtype of the first parameterised layer (float32 for a network without any)."""
        for layer in self.layers:
            for p in layer.params.values():
                return p.dtype.type
        return np.float32

    @property
    def training(self):
        """True while training (dropout active); False for evaluation. Set it on the network."""
        return self._training

    @training.setter
    def training(self, value):
        self._training = bool(value)
        for layer in self.layers:
            layer.training = self._training

    def parameters(self):
        """Every (layer, name, array) triple, in layer order."""
        return [(layer, name, p) for layer in self.layers for name, p in layer.params.items()]

    @property
    def n_params(self):
        return sum(layer.n_params for layer in self.layers)

    def get_weights(self):
        """Copies of every parameter array, in ``parameters()`` order."""
        return [p.copy() for _, _, p in self.parameters()]

    def set_weights(self, weights):
        """Copy ``weights`` (as from ``get_weights``) into the parameters, in place: the arrays
        keep their identity, so an optimizer's per-parameter state still refers to them."""
        params = self.parameters()
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"got {len(weights)} arrays, the network has {len(params)} parameters."
            )
        for (layer, name, p), w in zip(params, weights, strict=True):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(
                    f"{type(layer).__name__} parameter {name!r} has shape {p.shape}, got {w.shape}."
                )
        for (_, _, p), w in zip(params, weights, strict=True):
            np.copyto(p, w, casting="same_kind")

    # -- computing --------------------------------------------------------------------------------
    def _check_x(self, x, name="X"):
        if not self.layers:
            raise ValueError("the network has no layers; add some with net.add(...).")
        x = as_float_array(x, name, ndim=2, dtype=self.dtype)
        n = self.n_features
        if n is not None and x.shape[1] != n:
            raise ValueError(f"{name} has {x.shape[1]} features, the first layer expects {n}.")
        return x

    def forward(self, x):
        """x: (batch, n_features) -> output (batch, n_outputs), every layer in order."""
        return self._run_layers(self._check_x(x))

    def __call__(self, x):
        return self.forward(x)

    def _run_layers(self, x):
        # x was checked for NaN/inf once, here; the layers need not scan each other's outputs.
        with assume_finite():
            for layer in self.layers:
                x = layer.forward(x)
        return x

    def backward(self, grad, input_grad=True):
        """Backpropagate dL/d(output) through every layer, last to first.

        Returns dL/dX, or None with ``input_grad=False`` (which also skips the first layer's
        input-gradient product: training never needs it).
        """
        if not self.layers:
            raise ValueError("the network has no layers; add some with net.add(...).")
        for i in range(len(self.layers) - 1, 0, -1):
            grad = self.layers[i].backward(grad)
        return self.layers[0].backward(grad, input_grad=input_grad)

    def update_params(self, learning_rate):
        """Plain gradient descent on every parameter: p <- p - learning_rate * dL/dp."""
        learning_rate = check_float(learning_rate, "learning_rate", low=0.0, low_open=True)
        for layer in self.layers:
            layer.update_params(learning_rate)

    def predict_raw(self, x, batch_size=1024):
        """Outputs in evaluation mode, computed in batches so a large X stays cheap in memory."""
        x = self._check_x(x)
        batch_size = check_positive_int(batch_size, "batch_size")
        was_training = self.training
        self.training = False
        try:
            outs = [self._run_layers(x[i : i + batch_size])
                    for i in range(0, len(x), batch_size)]
        finally:
            self.training = was_training
        if not outs:
            return np.zeros((0, self.n_outputs or 0), dtype=self.dtype)
        return np.concatenate(outs)

    def predict_proba(self, x, batch_size=1024):
        """Class probabilities (batch, C): the softmax of the outputs unless the network already
        ends in a SoftmaxLayer; a single sigmoid output is returned as it is."""
        out = self.predict_raw(x, batch_size)
        if out.shape[1] > 1 and not isinstance(self.layers[-1], SoftmaxLayer):
            out = softmax(out)
        return out

    def predict(self, x, batch_size=1024):
        """Class labels for a classifier, values for a regressor.

        Several outputs: the index of the largest (batch,). One output after a SigmoidLayer:
        0/1 labels from p > 0.5. Any other single output: the raw values (batch, 1).
        """
        out = self.predict_raw(x, batch_size)
        if out.shape[1] > 1:
            return out.argmax(axis=1)
        if isinstance(self.layers[-1], SigmoidLayer):
            return (out[:, 0] > 0.5).astype(np.int64)
        return out

    # -- training ---------------------------------------------------------------------------------
    def fit(self, X, y, **kwargs):
        """Train the network; see ``scratchnn.training.fit`` for every argument."""
        from .training import fit

        return fit(self, X, y, **kwargs)

    def evaluate(self, X, y, loss=None, metrics=None, batch_size=1024):
        """Mean loss and metrics on (X, y), computed in batches; see ``scratchnn.training``."""
        from .training import evaluate

        return evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)

    # -- display ----------------------------------------------------------------------------------
    def __repr__(self):
        lines = ["MultiLayerNetwork("]
        for i, layer in enumerate(self.layers):
            count = f"{layer.n_params:,} params" if layer.params else ""
            lines.append(f"  ({i}) {layer!r:<40} {count}".rstrip())
        lines.append(f"  total: {self.n_params:,} parameters")
        lines.append(")")
        return "\n".join(lines)

    def __len__(self):
        return len(self.layers)
