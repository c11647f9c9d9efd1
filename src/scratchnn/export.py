"""ONNX export: ``export_onnx(model_or_network, path, opset=17)`` writes a model that serves
anywhere onnxruntime (or any ONNX runtime) does: C#, Java, a browser, a phone.

The graph is built with the ``onnx`` package's own helpers (``pip install "scratchnn[onnx]"``);
nothing else is involved. It holds, in order:

* the numeric preprocessing of a ``Model`` (imputation ``Where(IsNaN(x), fill, x)``, then
  ``(x - center) / scale``), computed in float64 as ``Preprocessor`` does, so the graph takes
  the same raw numbers as ``Model.predict``;
* the one-hot encoding of each categorical (text) column, from its own string input: ``Equal``
  against the fitted categories from opset 19 (the first opset whose ``Equal`` takes strings),
  the ONNX-ML ``OneHotEncoder`` before it. An unknown or empty string gives an all-zero block,
  as ``Preprocessor`` does for an unseen or missing category;
* every layer, converted by the function that ``_CONVERTERS`` keeps under its registered class
  name (``scratchnn.layers.LAYERS``), from what the layer says about itself: ``get_config()``,
  ``params`` and ``state`` (BatchNorm exports in evaluation mode, with its running statistics;
  dropout is the identity);
* the task's head: for a classifier the outputs ``label`` (the class names, strings or numbers,
  as ``predict``) and ``probabilities`` (as ``predict_proba``), as scikit-learn models exported
  by skl2onnx have them; for a regressor ``variable``, in the target's own units (the target
  scaling is inverted in the graph); for a network without a task its raw ``output``.

Inputs: ``X`` (batch, n_numeric) with the numeric columns in ``Preprocessor.numeric_`` order,
or the network's own input (batch, *input_shape) for a model without table preprocessing; and
one string input (batch, 1) per categorical column, named after the column. The batch dimension
is dynamic. Class names, columns and task also go into the model's ``metadata_props``.

A layer or preprocessing step that cannot be exported is refused by name before anything is
written, and the file is written atomically: a failed export leaves an existing file as it was.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ._files import atomic_write
from .layers import LAYERS
from .tasks import head_of

__all__ = ["describe_onnx", "export_onnx", "to_onnx"]

_INSTALL_HINT = 'pip install "scratchnn[onnx]"'
_MIN_OPSET = 13  # Softmax on one axis, Squeeze/Reshape as today's
_STRING_EQUAL_OPSET = 19  # the first opset whose Equal compares strings
_ML_OPSET = 3  # ai.onnx.ml, for OneHotEncoder below opset 19
_BATCH = "batch"
_OUTPUT_NAMES = ("label", "probabilities", "variable", "output")


def _onnx():
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
        from onnx import helper, numpy_helper  # noqa: F401  (submodules the exporter uses)
    except ImportError:
        raise ImportError(
            f"exporting to ONNX needs the onnx package; install it with {_INSTALL_HINT}."
        ) from None
    return onnx


# -- the graph under construction ------------------------------------------------------------------
class _Graph:
    """Nodes, constants, inputs and outputs, with unique names for every intermediate value."""

    def __init__(self, onnx, float_type):
        self.onnx, self.helper = onnx, onnx.helper
        self.float_type = float_type  # the network's dtype as an ONNX TensorProto type
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.scope = "input"
        self._count = 0
        self.uses_ml = False

    def _name(self, what):
        self._count += 1
        return f"{self.scope}/{what}_{self._count}"

    def const(self, array, what="const"):
        """A constant (an initializer) holding ``array``; returns its name."""
        array = np.asarray(array)
        if array.dtype.kind == "U":
            array = array.astype(object)  # onnx stores strings from object arrays
        name = self._name(what)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, inputs, out=None, domain=None, **attributes):
        """Add one node; returns the name of its output (``out`` if given)."""
        out = out or self._name(op_type)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out],
                                                name=self._name(f"{op_type}_node"),
                                                domain=domain, **attributes))
        return out

    def add_input(self, name, elem_type, shape):
        self.inputs.append(self.helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def add_output(self, name, elem_type, shape):
        self.outputs.append(self.helper.make_tensor_value_info(name, elem_type, shape))


def _pair(value):
    """A kernel size, stride or padding from ``get_config()`` (3 or [3, 2]) as a list of two."""
    return [int(value), int(value)] if isinstance(value, int) else [int(v) for v in value]


# -- the layers, by registered class name ----------------------------------------------------------
def _linear(g, layer, x):
    # z = x W + b: W is (n_in, n_out) already, as Gemm's B; b (1, n_out) as its C, flattened.
    return g.op("Gemm", [x, g.const(layer.params["W"], "W"),
                         g.const(layer.params["b"].reshape(-1), "b")])


def _conv(g, layer, x):
    config = layer.get_config()
    ph, pw = _pair(config["padding"])
    return g.op("Conv", [x, g.const(layer.params["W"], "W"), g.const(layer.params["b"], "b")],
                kernel_shape=_pair(config["kernel_size"]), strides=_pair(config["stride"]),
                pads=[ph, pw, ph, pw])


def _pool(op_type):
    def convert(g, layer, x):
        config = layer.get_config()
        return g.op(op_type, [x], kernel_shape=_pair(config["kernel_size"]),
                    strides=_pair(config["stride"]))
    return convert


def _global_avg_pool(g, layer, x):
    return g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)


def _flatten(g, layer, x):
    return g.op("Flatten", [x], axis=1)


def _reshape(g, layer, x):
    # 0 copies the batch size from the input: [-1, ...] would be ambiguous for an empty batch.
    shape = np.array([0, *layer.get_config()["shape"]], dtype=np.int64)
    return g.op("Reshape", [x, g.const(shape, "shape")])


def _batch_norm(g, layer, x):
    # Evaluation mode: the running statistics, as the layer computes with training = False.
    params, state = layer.params, layer.state
    inputs = [x, g.const(params["gamma"], "gamma"), g.const(params["beta"], "beta"),
              g.const(state["running_mean"], "running_mean"),
              g.const(state["running_var"], "running_var")]
    return g.op("BatchNormalization", inputs, epsilon=float(layer.get_config()["eps"]))


def _elementwise(op_type, **attributes):
    def convert(g, layer, x):
        return g.op(op_type, [x], **attributes)
    return convert


def _leaky_relu(g, layer, x):
    return g.op("LeakyRelu", [x], alpha=float(layer.get_config()["alpha"]))


_CONVERTERS = {
    "LinearLayer": _linear,
    "ReLULayer": _elementwise("Relu"),
    "LeakyReLULayer": _leaky_relu,
    "SigmoidLayer": _elementwise("Sigmoid"),
    "TanhLayer": _elementwise("Tanh"),
    "SoftmaxLayer": _elementwise("Softmax", axis=1),
    "IdentityLayer": _elementwise("Identity"),
    "DropoutLayer": _elementwise("Identity"),  # evaluation mode: dropout keeps every unit
    "BatchNorm1D": _batch_norm,
    "BatchNorm2D": _batch_norm,
    "Conv2D": _conv,
    "MaxPool2D": _pool("MaxPool"),
    "AvgPool2D": _pool("AveragePool"),
    "GlobalAvgPool2D": _global_avg_pool,
    "Flatten": _flatten,
    "Reshape": _reshape,
}


def _check_layers(network):
    """Every layer exportable, or a ValueError naming the ones that are not."""
    refused = []
    for i, layer in enumerate(network.layers):
        name = type(layer).__name__
        if LAYERS.get(name) is not type(layer) or name not in _CONVERTERS:
            refused.append(f"layer {i}, {layer!r}")
    if refused:
        raise ValueError(
            f"cannot export {'; '.join(refused)} to ONNX: the exporter converts scratchnn's own "
            f"layer types only ({', '.join(_CONVERTERS)}). Nothing was written."
        )


# -- preprocessing, by the kind its to_config() names ----------------------------------------------
def _numeric_steps(g, x, fill_values, scaler):
    """x (batch, k) of the input dtype -> imputed and scaled, in float64 as Preprocessor does,
    then in the network's dtype."""
    tp = g.onnx.TensorProto
    x = g.op("Cast", [x], to=tp.DOUBLE)
    if fill_values is not None:
        fill = g.const(np.asarray(fill_values, dtype=np.float64), "fill_values")
        x = g.op("Where", [g.op("IsNaN", [x]), fill, x])
    if scaler is not None:
        x = g.op("Sub", [x, g.const(np.asarray(scaler["center"], np.float64), "center")])
        x = g.op("Div", [x, g.const(np.asarray(scaler["scale"], np.float64), "scale")])
    return g.op("Cast", [x], to=g.float_type)


def _one_hot(g, opset, column, categories):
    """A string input (batch, 1) -> (batch, len(categories)) of 0/1; all zeros for a string
    that is not a category."""
    s = g.add_input(column, g.onnx.TensorProto.STRING, [_BATCH, 1])
    if opset >= _STRING_EQUAL_OPSET:
        hits = g.op("Equal", [s, g.const(np.array(categories, dtype=object), "categories")])
        return g.op("Cast", [hits], to=g.float_type)
    g.uses_ml = True
    encoded = g.op("OneHotEncoder", [s], domain="ai.onnx.ml", cats_strings=list(categories),
                   zeros=1)  # (batch, 1, K), float
    return g.op("Cast", [g.op("Flatten", [encoded], axis=1)], to=g.float_type)


def _table_preprocessor(g, config, network, opset):
    """``Preprocessor``: input X (batch, numeric columns) and one string input per categorical
    column -> the network's (batch, n_features)."""
    numeric, categorical = config["numeric"], config["categorical"]
    taken = set(_OUTPUT_NAMES) | {"X"}
    clash = [c for c in categorical if c in taken]
    if clash:
        raise ValueError(
            f"cannot export the categorical column(s) {clash} under their own names: "
            f"{', '.join(sorted(taken))} name the graph's numeric input and its outputs. "
            "Rename the column(s) and train again.")
    parts = []
    if numeric:
        x = g.add_input("X", g.float_type, [_BATCH, len(numeric)])
        parts.append(_numeric_steps(g, x, config["fill_values"], config["scaler"]))
    for column, categories in zip(categorical, config["categories"], strict=True):
        if categories:
            parts.append(_one_hot(g, opset, column, categories))
        else:  # no category seen in training: the column is an input, but adds no features
            g.add_input(column, g.onnx.TensorProto.STRING, [_BATCH, 1])
    width = len(numeric) + sum(len(c) for c in config["categories"])
    _check_width(width, network)
    return parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)


def _scaler_preprocessor(g, config, network, opset):
    """``Scaler`` (pixel rows, say): input X (batch, k) -> (X - center) / scale."""
    width = len(config["center"])
    _check_width(width, network)
    x = g.add_input("X", g.float_type, [_BATCH, width])
    return _numeric_steps(g, x, None, config)


def _check_width(width, network):
    if network.input_shape != (width,):
        raise ValueError(f"the preprocessing gives {width} features per row, but the network "
                         f"takes {network.input_shape}; they do not belong together.")


_PREPROCESSORS = {"Preprocessor": _table_preprocessor, "Scaler": _scaler_preprocessor}


def _preprocessor_config(preprocessor):
    """The fitted preprocessor's ``to_config()``, if the exporter knows its kind."""
    config = None
    if callable(getattr(preprocessor, "to_config", None)):
        config = preprocessor.to_config()
    if not isinstance(config, dict) or config.get("kind") not in _PREPROCESSORS:
        raise ValueError(
            f"cannot export the preprocessing {preprocessor!r} to ONNX: the exporter knows "
            f"scratchnn's {' and '.join(_PREPROCESSORS)}. Export the network alone "
            "(export_onnx(model.network, path)) and apply the preprocessing before it.")
    return config


# -- the task's outputs ----------------------------------------------------------------------------
def _class_names_constant(class_names):
    """The class names as an array ONNX can hold: strings, int64, float64 or bool."""
    names = np.asarray(class_names)
    if names.dtype.kind in "US":
        return names.astype(str).astype(object)
    if names.dtype.kind in "iu":
        return names.astype(np.int64)
    if names.dtype.kind in "fb":
        return names
    raise TypeError(f"cannot export class names {class_names!r}: they must be strings or numbers.")


def _labels(g, index, parts):
    """Label indices (batch,) int64 -> the class names, or the indices for a bare network."""
    if parts.class_names is None:
        return g.op("Identity", [index], out="label"), g.onnx.TensorProto.INT64
    names = _class_names_constant(parts.class_names)
    elem = g.helper.np_dtype_to_tensor_dtype(names.dtype) if names.dtype != object else (
        g.onnx.TensorProto.STRING)
    return g.op("Gather", [g.const(names, "class_names"), index], out="label", axis=0), elem


def _head(g, z, parts, n_out):
    """The outputs of the task from the network's output z (batch, n_out)."""
    tp = g.onnx.TensorProto
    task, head = parts.task, head_of(parts.network.layers)

    def flat(value, out=None):  # (batch, 1) -> (batch,)
        return g.op("Reshape", [value, g.const(np.array([-1], dtype=np.int64), "flat")], out=out)

    if task == "multiclass":
        p = z if head == "softmax" else g.op("Softmax", [z], axis=1)
        p = g.op("Identity", [p], out="probabilities")
        _, elem = _labels(g, g.op("ArgMax", [p], axis=1, keepdims=0), parts)
        g.add_output("label", elem, [_BATCH])
        g.add_output("probabilities", g.float_type, [_BATCH, n_out])
    elif task in ("binary", "multilabel"):
        p = z if head == "sigmoid" else g.op("Sigmoid", [z])
        half = g.const(np.array(0.5, dtype=parts.network.dtype), "half")
        chosen = g.op("Cast", [g.op("Greater", [p, half])], to=tp.INT64)
        if task == "binary":
            one = g.const(np.array(1, dtype=parts.network.dtype), "one")
            g.op("Concat", [g.op("Sub", [one, p]), p], out="probabilities", axis=1)
            _, elem = _labels(g, flat(chosen), parts)
            g.add_output("label", elem, [_BATCH])
            g.add_output("probabilities", g.float_type, [_BATCH, 2])
        else:  # 0/1 per output, as Model.predict (class names are not applied to them)
            g.op("Identity", [chosen], out="label")
            g.op("Identity", [p], out="probabilities")
            g.add_output("label", tp.INT64, [_BATCH, n_out])
            g.add_output("probabilities", g.float_type, [_BATCH, n_out])
    elif task == "regression":
        if parts.target_scaler is not None:
            config = parts.target_scaler.to_config()
            dtype = parts.network.dtype  # Scaler.inverse_transform computes in z's dtype
            z = g.op("Mul", [z, g.const(np.asarray(config["scale"], dtype), "target_scale")])
            z = g.op("Add", [z, g.const(np.asarray(config["center"], dtype), "target_center")])
        if parts.target_ndim == 1:
            flat(z, out="variable")
            g.add_output("variable", g.float_type, [_BATCH])
        else:
            g.op("Identity", [z], out="variable")
            g.add_output("variable", g.float_type, [_BATCH, n_out])
    else:
        g.op("Identity", [z], out="output")
        shape = parts.output_shape
        g.add_output("output", g.float_type, [_BATCH, *shape] if shape else None)


# -- what is exported ------------------------------------------------------------------------------
@dataclass
class _Parts:
    network: object
    preprocessor: object = None
    class_names: list | None = None
    target_scaler: object = None
    task: str | None = None
    target_ndim: int | None = None
    output_shape: tuple | None = None


def _parts_of(obj):
    """A Model, a MultiLayerNetwork or an estimator with ``to_model()`` as the pieces to export."""
    from .model import Model
    from .network import MultiLayerNetwork

    if not isinstance(obj, (Model, MultiLayerNetwork)) and callable(
            getattr(obj, "to_model", None)):
        obj = obj.to_model()
    if isinstance(obj, Model):
        obj._check_fitted()
        preprocessor = None if isinstance(obj.preprocessor, str) else obj.preprocessor
        parts = _Parts(obj.network, preprocessor, obj.class_names, obj.target_scaler,
                       obj.task or obj.network.task, obj.metadata.get("target_ndim"))
    elif isinstance(obj, MultiLayerNetwork):
        parts = _Parts(obj, task=obj.task)
    else:
        raise TypeError(f"export_onnx takes a scratchnn Model or MultiLayerNetwork, got "
                        f"{type(obj).__name__}.")
    network = parts.network
    if not network.layers:
        raise ValueError("the network has no layers; there is nothing to export.")
    if network.input_shape is None:
        raise ValueError("the network does not know its input shape yet; call "
                         "network.build(input_shape) (or train it) before exporting.")
    _check_layers(network)
    shape = network.input_shape
    for layer in network.layers:  # each layer says what it makes of the one before
        shape = layer.output_shape(shape)
        if shape is None:
            raise ValueError(f"cannot export {layer!r}: it does not say its output shape.")
        shape = tuple(shape)
    parts.output_shape = shape
    if parts.task is None and len(shape) == 1:
        # as MultiLayerNetwork.predict reads a network without a task
        parts.task = "multiclass" if shape[0] > 1 else None
    if parts.task is not None and len(shape) != 1:
        raise ValueError(f"a {parts.task} network must end in rows (batch, outputs); this one "
                         f"ends in (batch, {', '.join(map(str, shape))}): add a Flatten().")
    return parts


def _check_opset(opset, onnx):
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an int, got {opset!r}.")
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be between {_MIN_OPSET} and {newest} (the newest the "
                         f"installed onnx {onnx.__version__} knows), got {opset}.")
    return int(opset)


def to_onnx(model_or_network, opset=17):
    """The ONNX ``ModelProto`` of a fitted ``Model`` (with its preprocessing, class names and
    target scaling) or of a bare ``MultiLayerNetwork``; ``export_onnx`` writes it to a file.

    Checked with ``onnx.checker.check_model`` (full check, with shape inference) before it is
    returned. Raises ValueError naming a layer or preprocessing step that cannot be exported,
    ImportError when the onnx package is missing.
    """
    from . import __version__

    onnx = _onnx()
    opset = _check_opset(opset, onnx)
    parts = _parts_of(model_or_network)
    network = parts.network
    g = _Graph(onnx, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(network.dtype)))

    metadata = {"producer": f"scratchnn {__version__}", "task": parts.task or "none"}
    if parts.preprocessor is not None:
        config = _preprocessor_config(parts.preprocessor)
        x = _PREPROCESSORS[config["kind"]](g, config, network, opset)
        if config["kind"] == "Preprocessor":
            metadata["numeric_columns"] = json.dumps(config["numeric"])
            metadata["categorical_columns"] = json.dumps(config["categorical"])
            metadata["categories"] = json.dumps(dict(zip(config["categorical"],
                                                         config["categories"], strict=True)))
    else:
        x = g.add_input("X", g.float_type, [_BATCH, *network.input_shape])
    for i, layer in enumerate(network.layers):
        name = type(layer).__name__
        g.scope = f"layer{i}_{name}"
        x = _CONVERTERS[name](g, layer, x)
    g.scope = "head"
    _head(g, x, parts, parts.output_shape[0] if parts.output_shape else None)
    if parts.class_names is not None:
        metadata["class_names"] = json.dumps([_plain(c) for c in parts.class_names])

    graph = onnx.helper.make_graph(g.nodes, "scratchnn", g.inputs, g.outputs,
                                   initializer=g.initializers, doc_string=_doc(g, parts))
    opsets = [onnx.helper.make_opsetid("", opset)]
    if g.uses_ml:
        opsets.append(onnx.helper.make_opsetid("ai.onnx.ml", _ML_OPSET))
    # The oldest IR version that holds these opsets: runtimes older than the onnx package read it.
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="scratchnn",
                                   producer_version=__version__,
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _doc(g, parts):
    names = [v.name for v in g.inputs]
    outputs = [v.name for v in g.outputs]
    return (f"scratchnn {parts.task or 'network'}: inputs {', '.join(names)}; outputs "
            f"{', '.join(outputs)}.")


def export_onnx(model_or_network, path, opset=17):
    """Write ``model_or_network`` to ``path`` as an ONNX model; returns the ``ModelProto``.

    model_or_network : a fitted ``Model`` (its numeric preprocessing, one-hot columns, class
        names and target scaling are part of the graph) or a ``MultiLayerNetwork`` (its layers
        and, for a classifier, the probabilities and label indices).
    path : where to write, e.g. "model.onnx"; written atomically (a failed export leaves an
        existing file as it was; missing folders are created).
    opset : the ONNX opset of the default domain, 13 or newer (17 by default; from 19 the
        one-hot encoding of text columns uses Equal on strings instead of ONNX-ML's
        OneHotEncoder).

    Inputs: ``X`` (batch, numeric columns) or (batch, *input_shape), and one string input
    (batch, 1) per categorical column; outputs: ``label`` and ``probabilities`` for a
    classifier, ``variable`` for a regressor, ``output`` for a network without a task.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    proto = to_onnx(model_or_network, opset=opset)
    data = proto.SerializeToString()
    with atomic_write(path) as fh:
        fh.write(data)
    return proto


def describe_onnx(path):
    """The inputs, outputs (name, type, shape), opsets and metadata of an ONNX file, as a dict
    (what ``scratchnn info`` prints)."""
    onnx = _onnx()
    proto = onnx.load(os.fspath(path))

    def value(v):
        tensor = v.type.tensor_type
        elem = ("string" if tensor.elem_type == onnx.TensorProto.STRING else
                np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name)
        dims = None
        if tensor.HasField("shape"):
            dims = [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?")
                    for d in tensor.shape.dim]
        return {"name": v.name, "type": elem, "shape": dims}

    return {
        "inputs": [value(v) for v in proto.graph.input],
        "outputs": [value(v) for v in proto.graph.output],
        "opsets": {o.domain or "ai.onnx": o.version for o in proto.opset_import},
        "ir_version": proto.ir_version,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "metadata": {p.key: p.value for p in proto.metadata_props},
        "n_nodes": len(proto.graph.node),
        "n_weights": sum(math.prod(t.dims) for t in proto.graph.initializer),
    }
