"""``MultiLayerNetwork``: a stack of layers run in order, as in the notebook."""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, as_rng, assume_finite, check_float, check_positive_int
from .layers import (
    Flatten,
    Layer,
    LeakyReLULayer,
    LinearLayer,
    ReLULayer,
    activation_class,
)
from .layers.base import ShapeError
from .tasks import check_task, head_of, probabilities, task_of_head
from .training import evaluate as _evaluate
from .training import fit as _fit

_RELU_LIKE = (ReLULayer, LeakyReLULayer)


def _batch_shape(shape):
    """A per-sample shape as the user sees a whole batch: (64,) -> "(batch, 64)"."""
    return "(batch, " + ", ".join(map(str, shape)) + ")" if shape else "(batch,)"


def _check_shape(shape, name="input_shape"):
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        return tuple(check_positive_int(s, f"every size in {name}") for s in shape)
    except TypeError:
        raise TypeError(
            f"{name} must be a tuple of positive ints without the batch axis, e.g. (1, 28, 28); "
            f"got {shape!r}."
        ) from None


class MultiLayerNetwork:
    """Layers applied in order: ``net.add(LinearLayer(64, 32)).add(ReLULayer())...``.

    forward: X (batch, *input_shape) -> output (batch, *output_shape): rows (batch, n_features)
    for an MLP, images (batch, channels, height, width) for a CNN.
    backward(grad): grad = dL/d(output); fills every layer's ``grads``.

    The network knows the shape of one sample: ``input_shape`` is given, or taken from the first
    layer that fixes it (a LinearLayer fixes (n_in,)), or from the first batch it sees. From it,
    ``add`` works out each layer's output shape and refuses a layer that cannot take the output
    of the one before.
    """

    def __init__(self, layers=(), input_shape=None, task=None):
        self.layers = []
        self._training = True
        self._task = check_task(task)
        self._input_shape = None if input_shape is None else _check_shape(input_shape)
        self._shapes = []  # each layer's per-sample output shape; None where it is unknown
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
        dtypes = {p.dtype for _, _, p in self.parameters()}
        dtypes |= {p.dtype for p in layer.params.values()}
        if len(dtypes) > 1:
            raise ValueError(
                f"cannot mix dtypes {sorted(str(d) for d in dtypes)} in one network: build every "
                "layer with the same dtype= (float32 by default)."
            )
        input_shape = self._input_shape
        if input_shape is None and all(other.elementwise for other in self.layers):
            input_shape = layer.input_shape  # the first layer that fixes it
        shapes = self._infer_shapes(input_shape, [*self.layers, layer])
        layer.training = self._training
        self.layers.append(layer)
        self._input_shape, self._shapes = input_shape, shapes
        return self

    def _infer_shapes(self, input_shape, layers):
        """Each layer's output shape from ``input_shape``, or a ValueError naming the two layers
        that do not fit together."""
        shapes, shape = [], input_shape
        for i, layer in enumerate(layers):
            if shape is not None:
                try:
                    shape = layer.output_shape(shape)
                except ValueError as exc:
                    before = (f"after layer {i - 1}, {layers[i - 1]!r}, whose output is"
                              if i else "as the first layer, with input")
                    # The shape is said already: say only what the layer needs.
                    reason = f"it needs {exc.needs}." if isinstance(exc, ShapeError) else exc
                    raise ValueError(
                        f"cannot add {layer!r} {before} {_batch_shape(shapes[-1] if i else shape)}"
                        f": {reason}"
                    ) from None
                shape = None if shape is None else tuple(shape)
            shapes.append(shape)
        return shapes

    def build(self, input_shape):
        """Fix the per-sample input shape, e.g. ``(1, 28, 28)``, and work out every layer's
        output shape (done by ``add`` and the first forward pass when it is not given)."""
        input_shape = _check_shape(input_shape)
        self._shapes = self._infer_shapes(input_shape, self.layers)
        self._input_shape = input_shape
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

    @classmethod
    def from_spec(cls, spec, input_shape, n_outputs=None, rng=None, dtype=np.float32):
        """A network from a one-line layer spec (see ``scratchnn.layers.spec``), e.g.

            MultiLayerNetwork.from_spec("conv 8 3 pad 1, relu, maxpool 2, flatten, dense 10",
                                        input_shape=(1, 28, 28))

        Each layer's input size comes from the layer before. With ``n_outputs``, a spec that does
        not end in a dense layer of that size gets one (after a flatten if it ends in images); a
        final dense layer of another size is refused.
        """
        from .layers.spec import LayerSpecError, build_layer, parse_spec

        parsed = parse_spec(spec)
        rng = as_rng(rng)
        net = cls(input_shape=input_shape)
        if n_outputs is not None:
            n_outputs = check_positive_int(n_outputs, "n_outputs")
            name, args, item = parsed[-1]
            if name == "dense" and args["N"] != n_outputs:
                raise LayerSpecError(
                    f"the last layer ({item!r}) has {args['N']} outputs, but the network needs "
                    f"{n_outputs}: end the spec with 'dense {n_outputs}', or leave the output "
                    "layer out and it is added."
                )
            if name != "dense":
                parsed.append(("dense", {"N": n_outputs}, f"dense {n_outputs} (added)"))
        for i, (name, args, item) in enumerate(parsed):
            next_name = parsed[i + 1][0] if i + 1 < len(parsed) else None
            if name == "dense" and len(net.output_shape) > 1 and item.endswith("(added)"):
                net.add(Flatten())
            try:
                net.add(build_layer(name, args, net.output_shape, rng, dtype, next_name))
            except (TypeError, ValueError) as exc:
                raise LayerSpecError(f"item {i + 1} of the layer spec ({item!r}): {exc}") from None
        return net

    # -- properties -------------------------------------------------------------------------------
    @property
    def input_shape(self):
        """The shape of one input sample, e.g. (64,) or (1, 28, 28); None until it is known."""
        return self._input_shape

    @property
    def output_shape(self):
        """The shape of one output sample, e.g. (10,); None until it is known."""
        return self._shapes[-1] if self._shapes else self._input_shape

    @property
    def n_features(self):
        """Input width of a network on rows (batch, n_features); None for images or unknown."""
        shape = self._input_shape
        return shape[0] if shape is not None and len(shape) == 1 else None

    @property
    def n_outputs(self):
        """Output width (batch, n_outputs); None while the shapes are unknown."""
        shape = self.output_shape if self.layers else None
        return shape[0] if shape is not None and len(shape) == 1 else None

    @property
    def task(self):
        """"binary", "multiclass", "multilabel" or "regression" (see ``scratchnn.tasks``): as
        given or recorded by ``fit``, else as the output layer says (a sigmoid or softmax), else
        None."""
        return self._task or task_of_head(head_of(self.layers), self.n_outputs)

    @task.setter
    def task(self, value):
        self._task = check_task(value)

    @property
    def dtype(self):
        """The dtype of the first parameterised layer (float32 for a network without any)."""
        for layer in self.layers:
            for p in layer.params.values():
                return p.dtype.type
        return np.float32

    @property
    def training(self):
        """True while training (dropout active, batch statistics in BatchNorm); False for
        evaluation. Set it on the network."""
        return self._training

    @training.setter
    def training(self, value):
        self._training = bool(value)
        for layer in self.layers:
            layer.training = self._training

    def parameters(self):
        """Every trained (layer, name, array) triple, in layer order."""
        return [(layer, name, p) for layer in self.layers for name, p in layer.params.items()]

    def states(self):
        """Every (layer, name, array) triple of non-trained state (running statistics)."""
        return [(layer, name, s) for layer in self.layers for name, s in layer.state.items()]

    @property
    def n_params(self):
        return sum(layer.n_params for layer in self.layers)

    def get_weights(self):
        """Copies of every parameter array, in ``parameters()`` order, then of every state array,
        in ``states()`` order: all that makes the network compute what it computes."""
        return [a.copy() for _, _, a in self.parameters() + self.states()]

    def set_weights(self, weights):
        """Copy ``weights`` (as from ``get_weights``) into the parameters and state, in place: the
        arrays keep their identity, so an optimizer's per-parameter state still refers to them."""
        targets = self.parameters() + self.states()
        weights = list(weights)
        if len(weights) != len(targets):
            n_state = len(targets) - len(self.parameters())
            raise ValueError(
                f"got {len(weights)} arrays, the network has {len(self.parameters())} parameters"
                + (f" and {n_state} state arrays." if n_state else ".")
            )
        for (layer, name, p), w in zip(targets, weights, strict=True):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(
                    f"{type(layer).__name__} parameter {name!r} has shape {p.shape}, got {w.shape}."
                )
        for (_, _, p), w in zip(targets, weights, strict=True):
            np.copyto(p, w, casting="same_kind")

    # -- computing --------------------------------------------------------------------------------
    def _check_x(self, x, name="X"):
        """x as an array of this network's dtype with samples of ``input_shape``. A network that
        does not know its input shape yet takes it from the first batch it sees."""
        if not self.layers:
            raise ValueError("the network has no layers; add some with net.add(...).")
        x = as_float_array(x, name, dtype=self.dtype)
        if self._input_shape is None and x.ndim >= 2:
            self.build(x.shape[1:])
        want = self._input_shape
        if want is None or x.ndim != len(want) + 1:
            layout = "(batch, features)" if want is None or len(want) == 1 else _batch_shape(want)
            ndim = 2 if want is None else len(want) + 1
            hint = ""
            if x.ndim == 1 and ndim == 2:
                hint = " For one sample use x.reshape(1, -1); for one feature, x.reshape(-1, 1)."
            elif want is not None and x.ndim >= 1 and math.prod(x.shape[1:]) == math.prod(want):
                hint = (f" Reshape it with X.reshape(-1, {', '.join(map(str, want))}), or start "
                        f"the network with Reshape({want}).")
            raise ValueError(
                f"{name} must be a {ndim}-D array {layout}, got {x.ndim}-D array of shape "
                f"{x.shape}.{hint}"
            )
        if x.shape[1:] != want:
            if len(want) == 1:
                raise ValueError(
                    f"{name} has {x.shape[1]} features, the first layer expects {want[0]}.")
            raise ValueError(
                f"{name} has samples of shape {x.shape[1:]}, the network expects {want} "
                f"(input {_batch_shape(want)})."
            )
        return x

    def forward(self, x):
        """x: (batch, *input_shape) -> output (batch, *output_shape), every layer in order."""
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
            return np.zeros((0, *(self.output_shape or (0,))), dtype=self.dtype)
        return np.concatenate(outs)

    def predict_proba(self, x, batch_size=1024):
        """Class probabilities, as scikit-learn gives them: (batch, 2) for a binary classifier
        (columns: class 0, class 1), (batch, C) for classes, (batch, k) for multi-label outputs.
        Raw scores go through the sigmoid or softmax; a network that ends in one is read as is.
        """
        task = self._classifier_task("predict_proba")
        p = probabilities(self.predict_raw(x, batch_size), task, head_of(self.layers))
        return np.concatenate([1 - p, p], axis=1) if task == "binary" else p

    def predict(self, x, batch_size=1024):
        """What the network predicts for x, by its task (see ``scratchnn.tasks``): labels (batch,)
        for binary and multiclass, 0/1 rows (batch, k) for multi-label, values (batch, k) for
        regression."""
        out = self.predict_raw(x, batch_size)
        task = self.task or ("multiclass" if out.shape[1] > 1 else "regression")
        if task == "regression":
            return out
        p = probabilities(out, task, head_of(self.layers))
        if task == "multiclass":
            return p.argmax(axis=1)
        labels = (p > 0.5).astype(np.int64)
        return labels[:, 0] if task == "binary" else labels

    def _classifier_task(self, what):
        task = self.task
        if task is None and (self.n_outputs or 0) > 1:
            return "multiclass"
        if task is None:
            raise ValueError(
                f"{what} needs to know the network's task: one raw output may be a logit or a "
                "value. Set network.task = 'binary' (or train it: fit records the task)."
            )
        if task == "regression":
            raise ValueError(f"{what} is for classifiers; this network's task is regression.")
        return task

    # -- training ---------------------------------------------------------------------------------
    # The loop lives in scratchnn.training; these are it, signatures and docstrings included.
    fit = _fit
    evaluate = _evaluate

    # -- display ----------------------------------------------------------------------------------
    def __repr__(self):
        """Each layer with its output shape and parameter count, as Keras's ``summary()``."""
        def shown(shape):
            return "(batch, ?)" if shape is None else _batch_shape(shape)

        width = max([40, *(len(repr(layer)) + 1 for layer in self.layers)])
        lines = [f"MultiLayerNetwork(input {shown(self._input_shape)}"]
        for i, (layer, shape) in enumerate(zip(self.layers, self._shapes, strict=True)):
            count = f"{layer.n_params:,} params" if layer.params else ""
            lines.append(f"  ({i}) {layer!r:<{width}} -> {shown(shape):<20} {count}".rstrip())
        total = f"  total: {self.n_params:,} parameters"
        n_state = sum(s.size for _, _, s in self.states())
        lines.append(total + (f", {n_state:,} state values (not trained)" if n_state else ""))
        lines.append(")")
        return "\n".join(lines)

    def __len__(self):
        return len(self.layers)
