"""A network in one line: the layer spec of ``MultiLayerNetwork.from_spec`` and ``--layers``.

    "conv 32 3 pad 1, relu, maxpool 2, conv 64 3 pad 1, relu, maxpool 2, flatten,
     dense 128, relu, dropout 0.5, dense 10"

Items are separated by commas; each is a name, its sizes, and ``key value`` options. Input sizes
are never written: each layer takes them from the output of the one before.

    conv F K [stride S] [pad P]   Conv2D with F filters of K x K
    maxpool K [stride S]          MaxPool2D (stride K by default)
    avgpool K [stride S]          AvgPool2D
    globalavgpool                 GlobalAvgPool2D: (C, H, W) -> (C,)
    batchnorm                     BatchNorm2D after images, BatchNorm1D after rows
    flatten                       Flatten
    dense N                       LinearLayer with N outputs
    dropout P                     DropoutLayer
    relu | tanh | sigmoid | leaky_relu [ALPHA]
"""

from __future__ import annotations

from .._validation import check_dtype
from .activations import LeakyReLULayer, ReLULayer, SigmoidLayer, TanhLayer
from .conv import Conv2D
from .dense import LinearLayer
from .dropout import DropoutLayer
from .normalization import BatchNorm1D, BatchNorm2D
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .reshape import Flatten

# name: (positional argument names, option names, usage); the builders are in _build.
_GRAMMAR = {
    "conv": (("F", "K"), ("stride", "pad"), "conv F K [stride S] [pad P]"),
    "maxpool": (("K",), ("stride",), "maxpool K [stride S]"),
    "avgpool": (("K",), ("stride",), "avgpool K [stride S]"),
    "globalavgpool": ((), (), "globalavgpool"),
    "batchnorm": ((), (), "batchnorm"),
    "flatten": ((), (), "flatten"),
    "dense": (("N",), (), "dense N"),
    "dropout": (("P",), (), "dropout P"),
    "relu": ((), (), "relu"),
    "tanh": ((), (), "tanh"),
    "sigmoid": ((), (), "sigmoid"),
    "leaky_relu": ((), ("alpha",), "leaky_relu [alpha A]"),
}
_ALIASES = {"conv2d": "conv", "maxpool2d": "maxpool", "avgpool2d": "avgpool", "linear": "dense",
            "globalavgpool2d": "globalavgpool", "bn": "batchnorm", "padding": "pad",
            "leakyrelu": "leaky_relu"}
_REAL_ARGUMENTS = ("P", "alpha")


class LayerSpecError(ValueError):
    """A layer spec that cannot be read or built; the message names the item."""


def parse_spec(spec):
    """"conv 32 3 pad 1, relu" (or a list of items) -> [("conv", {"F": 32, "K": 3, "pad": 1},
    "conv 32 3 pad 1"), ("relu", {}, "relu")]: names and numbers checked, nothing built yet."""
    if isinstance(spec, str):
        items = spec.split(",")
    elif isinstance(spec, (list, tuple)) and all(isinstance(item, str) for item in spec):
        items = list(spec)
    else:
        raise LayerSpecError(f"a layer spec is a string such as 'dense 64, relu', got {spec!r}.")
    parsed = []
    for i, item in enumerate(items, start=1):
        tokens = item.split()
        if not tokens:
            raise LayerSpecError(f"item {i} of the layer spec is empty (two commas in a row?).")
        parsed.append(_parse_item(i, item.strip(), tokens))
    if not parsed:
        raise LayerSpecError("the layer spec names no layers.")
    return parsed


def _parse_item(i, item, tokens):
    name = _ALIASES.get(tokens[0].lower(), tokens[0].lower())
    if name not in _GRAMMAR:
        raise LayerSpecError(
            f"item {i} ({item!r}) names an unknown layer {tokens[0]!r}; the layers are "
            f"{', '.join(_GRAMMAR)}."
        )
    positional, options, usage = _GRAMMAR[name]
    args, rest = {}, tokens[1:]
    for arg in positional:
        if not rest or rest[0].lower() in options or rest[0].lower() in _ALIASES:
            raise LayerSpecError(f"item {i} ({item!r}) lacks {arg}: write {usage}.")
        args[arg] = _number(i, item, rest.pop(0), arg, usage)
    while rest:
        key = _ALIASES.get(rest[0].lower(), rest[0].lower())
        if key not in options or len(rest) < 2:
            raise LayerSpecError(f"item {i} ({item!r}) has {' '.join(rest)!r} left over: "
                                 f"write {usage}.")
        args[key] = _number(i, item, rest[1], key, usage)
        rest = rest[2:]
    return name, args, item


def _number(i, item, token, arg, usage):
    try:
        return float(token) if arg in _REAL_ARGUMENTS else int(token)
    except ValueError:
        kind = "a number" if arg in _REAL_ARGUMENTS else "a whole number"
        raise LayerSpecError(
            f"item {i} ({item!r}) needs {kind} for {arg}, got {token!r}: write {usage}."
        ) from None


def build_layer(name, args, input_shape, rng=None, dtype="float32", next_name=None):
    """One parsed item as a layer fitting ``input_shape`` (the per-sample output before it).
    A dense layer followed by ``next_name`` "relu" or "leaky_relu" gets He initialisation,
    any other Xavier (as ``MultiLayerNetwork.from_sizes``); convolutions He."""
    dtype = check_dtype(dtype)
    if name in ("conv", "maxpool", "avgpool", "globalavgpool") and len(input_shape) != 3:
        raise ValueError(f"{name} needs images (channels, height, width) before it, but its "
                         f"input is (batch, {', '.join(map(str, input_shape))}).")
    if name in ("dense",) and len(input_shape) != 1:
        raise ValueError(f"dense needs rows before it, but its input is (batch, "
                         f"{', '.join(map(str, input_shape))}); add flatten first.")
    if name == "conv":
        return Conv2D(input_shape[0], args["F"], args["K"], stride=args.get("stride", 1),
                      padding=args.get("pad", 0), rng=rng, dtype=dtype)
    if name == "maxpool":
        return MaxPool2D(args["K"], stride=args.get("stride"))
    if name == "avgpool":
        return AvgPool2D(args["K"], stride=args.get("stride"))
    if name == "batchnorm":
        images = len(input_shape) == 3
        return (BatchNorm2D if images else BatchNorm1D)(input_shape[0], dtype=dtype)
    if name == "dense":
        init = "he_uniform" if next_name in ("relu", "leaky_relu") else "xavier_uniform"
        return LinearLayer(input_shape[0], args["N"], init=init, rng=rng, dtype=dtype)
    if name == "dropout":
        return DropoutLayer(args["P"], rng=rng)
    if name == "leaky_relu":
        return LeakyReLULayer(args.get("alpha", 0.01))
    simple = {"globalavgpool": GlobalAvgPool2D, "flatten": Flatten, "relu": ReLULayer,
              "tanh": TanhLayer, "sigmoid": SigmoidLayer}
    return simple[name]()


def uses_images(parsed):
    """True when a parsed spec has layers that need images (convolutions, pooling)."""
    return any(name in ("conv", "maxpool", "avgpool", "globalavgpool") for name, _, _ in parsed)
