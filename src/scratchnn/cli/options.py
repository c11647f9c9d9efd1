"""The options of ``scratchnn train``: each value checked, from the command line or a TOML file."""

from __future__ import annotations

import difflib
import math
import numbers
import tomllib
from pathlib import Path

from ._common import _ACTIVATIONS, _TASKS, UsageError


# -- option values ---------------------------------------------------------------------------------
# Each parser takes a command-line string or the value a TOML config gave, and returns the checked
# value or raises UsageError with the problem; the caller adds where the value came from.
def _text(value):
    if not isinstance(value, str) or not value:
        raise UsageError(f"must be a non-empty string, got {value!r}")
    return value


def _choice(*choices):
    def parse(value):
        if value not in choices:
            raise UsageError(f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    return parse


def _integer(minimum):
    def parse(value):
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise UsageError(f"must be a whole number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise UsageError(f"must be a whole number, got {value!r}")
        if value < minimum:
            raise UsageError(f"must be at least {minimum}, got {value}")
        return int(value)

    return parse


def _real(value):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise UsageError(f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UsageError(f"must be a finite number, got {value!r}")
    return float(value)


def _learning_rate(value):
    value = _real(value)
    if value <= 0:
        raise UsageError(f"must be a number > 0, got {value}")
    return value


def _fraction(value):
    value = _real(value)
    if not 0 <= value < 1:
        raise UsageError(f"must be a fraction in [0, 1), got {value}")
    return value


def _hidden(value):
    """"64,32" or [64, 32] -> (64, 32); "" or [] -> () (no hidden layer). "64,,32" is refused:
    the missing size may be a typo for a layer."""
    sizes = value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = [value]
    elif isinstance(value, str):
        text = value.replace(" ", "")
        sizes = text.split(",") if text else []
        if "" in sizes:
            raise UsageError(f"has an empty size between commas ({value!r}); write sizes such "
                             "as 64,32, or \"\" for no hidden layer")
    try:
        if not isinstance(sizes, list):
            raise UsageError
        return tuple(_integer(1)(v) for v in sizes)
    except UsageError:
        raise UsageError(f"must be positive layer sizes such as 64,32; got {value!r}") from None


def _layer_spec(value):
    """"conv 32 3 pad 1, relu, ..." or a TOML list of items -> the spec, checked, as one line."""
    from ..layers.spec import parse_spec

    try:
        return ", ".join(item for _, _, item in parse_spec(value))
    except ValueError as exc:
        raise UsageError(f"is not a layer spec: {exc} See docs/cli.md, 'Layer specs'") from None


def _optimizer_name(value):
    from ..optim import OPTIMIZERS

    return _choice(*sorted(OPTIMIZERS))(value)


# name: (parser, default, metavar, help). The same names (with - or _) are the keys of --config.
_TRAIN_OPTIONS = {
    "data": (_text, "digits", "SPEC",
             "digits (default), mnist:DIR (IDX or CSV files, or one CSV file) or csv:PATH"),
    "test-data": (_text, None, "SPEC",
                  "data to test on, as --data; then every row of --data trains (default: a "
                  "fixed 20%% of --data is held out)"),
    "target": (_text, None, "COLUMN", "the column to predict, for csv:PATH"),
    "task": (_choice(*_TASKS), None, "TASK",
             "classification or regression, for csv:PATH (default: read from the target)"),
    "hidden": (_hidden, (64,), "SIZES", "hidden layer sizes, e.g. 64,32 (default 64)"),
    "layers": (_layer_spec, None, "SPEC",
               "the network as a layer spec instead of --hidden/--activation, e.g. "
               "'conv 32 3 pad 1, relu, maxpool 2, flatten, dense 128, relu, dense 10' "
               "(see docs/cli.md)"),
    "activation": (_choice(*_ACTIVATIONS), "relu", "NAME",
                   f"hidden activation: {', '.join(_ACTIVATIONS)} (default relu)"),
    "optimizer": (_optimizer_name, "adam", "NAME",
                  "sgd, momentum, rmsprop, adagrad, adam (default) or adamw"),
    "lr": (_learning_rate, None, "RATE", "learning rate (default: the optimizer's own)"),
    "epochs": (_integer(1), 30, "N", "passes over the training data (default 30)"),
    "batch-size": (_integer(1), 32, "N", "rows per step (default 32)"),
    "seed": (_integer(0), 0, "N", "seed of the initial weights and the shuffling (default 0)"),
    "validation-split": (_fraction, 0.0, "FRACTION",
                         "fraction of the training rows held out for validation (default 0)"),
    "early-stopping": (_integer(0), None, "PATIENCE",
                       "stop after PATIENCE epochs without a better validation loss and keep "
                       "the best weights (uses --validation-split, 0.1 if not given)"),
    "dtype": (_choice("float32", "float64"), "float32", "DTYPE", "float32 (default) or float64"),
    "threads": (_integer(1), None, "N", "BLAS threads while training (default: one, unless the "
                                      "batches are huge; see docs/cli.md)"),
    "out": (_text, None, "DIR", "folder for model.npz, history.json and curves.png "
                                "(default runs/<data name>)"),
}
_PATH_OPTIONS = ("data", "test-data", "out")  # in a config file, relative to the file's folder


def _train_options(args):
    """The train options: command line over --config file over defaults, each one checked."""
    given = {}
    if args.config is not None:
        given.update(_read_config(Path(args.config)))
    for name in _TRAIN_OPTIONS:
        value = getattr(args, name.replace("-", "_"))
        if value is not None:
            given[name] = (value, f"--{name}")
    if "layers" in given:
        for other in ("hidden", "activation"):
            if other in given:
                raise UsageError(f"{given[other][1]} and {given['layers'][1]} both describe the "
                                 f"network; give only one (--layers can hold any MLP too).")
    options = {}
    for name, (parse, default, _, _) in _TRAIN_OPTIONS.items():
        if name not in given:
            options[name] = default
            continue
        value, source = given[name]
        try:
            options[name] = parse(value)
        except UsageError as exc:
            raise UsageError(f"{source} {exc}.") from None
    return options


def _read_config(path):
    """{option: (value, where it came from)} from a TOML file of train options."""
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"no config file at {path}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}.") from None
    except RecursionError:
        # tomllib reads nested arrays and tables recursively; no option nests at all.
        raise ValueError(f"{path} nests arrays or tables too deeply to read; the train options "
                         "are numbers, strings and lists of them.") from None
    out = {}
    for key, value in table.items():
        name = key.replace("_", "-")
        if name not in _TRAIN_OPTIONS:
            close = difflib.get_close_matches(name, _TRAIN_OPTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{path} has an unknown option {key!r}{hint}; the options are "
                             f"{', '.join(_TRAIN_OPTIONS)}.")
        if name in _PATH_OPTIONS and isinstance(value, str):
            value = _relative_to(path.parent, value, is_data=name != "out")
        out[name] = (value, f"{path}: {key}")
    return out


def _relative_to(folder, value, is_data):
    kind, sep, rest = value.partition(":") if is_data else ("", "", value)
    if is_data and not sep:
        return value  # digits: not a path
    if not rest or Path(rest).is_absolute():
        return value
    return f"{kind}{sep}{folder / rest}"
