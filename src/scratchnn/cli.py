"""The ``scratchnn`` command: train, evaluate, predict and inspect models from a shell.

    scratchnn train --data digits --hidden 64,32 --epochs 30 --out runs/digits
    scratchnn evaluate --model runs/digits/model.npz
    scratchnn predict --model runs/digits/model.npz --input digit.png
    scratchnn info --model runs/digits/model.npz

Training goes through ``MultiLayerNetwork.fit``; the model file (``scratchnn.save``) keeps the
preprocessing, so ``predict`` takes raw rows or images. Every error a user can cause ends the
command with one line on stderr and a non-zero exit code (2 for a misused option, 1 otherwise),
never a traceback; ``SCRATCHNN_DEBUG=1`` shows the traceback. The user guide is docs/cli.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import numbers
import os
import platform
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ._files import atomic_write
from .layers import ACTIVATION_LAYERS
from .network import MultiLayerNetwork
from .serialization import load_model_file, save

_TASKS = ("classification", "regression")
_ACTIVATIONS = sorted(set(ACTIVATION_LAYERS) - {"softmax", "identity", "linear"})
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SPLIT_SEED = 0  # the train/test split never moves, whatever --seed, so runs compare fairly
_TEST_FRACTION = 0.2
_OWN_SPLIT = "the files' own train and test sets"


class UsageError(ValueError):
    """A bad option value: reported like argparse's own errors, with exit code 2."""


def _say(*parts):
    print(*parts, file=sys.stdout)


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
    """"64,32" or [64, 32] -> (64, 32); "" or [] -> () (no hidden layer)."""
    sizes = value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = [value]
    elif isinstance(value, str):
        sizes = [v for v in value.replace(" ", "").split(",") if v]
    try:
        if not isinstance(sizes, list):
            raise UsageError
        return tuple(_integer(1)(v) for v in sizes)
    except UsageError:
        raise UsageError(f"must be positive layer sizes such as 64,32; got {value!r}") from None


def _layer_spec(value):
    """"conv 32 3 pad 1, relu, ..." or a TOML list of items -> the spec, checked, as one line."""
    from .layers.spec import parse_spec

    try:
        return ", ".join(item for _, _, item in parse_spec(value))
    except ValueError as exc:
        raise UsageError(f"is not a layer spec: {exc} See docs/cli.md, 'Layer specs'") from None


def _optimizer_name(value):
    from .optim import OPTIMIZERS

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


# -- data ------------------------------------------------------------------------------------------
@dataclass
class _Data:
    """A data set split into training and test parts, in raw form.

    Image data: X (n, pixels) arrays of raw pixel values 0..max_value, y int labels. Tables: X a
    DataFrame of the feature columns, y a Series of the target's own values.
    """

    spec: str
    name: str
    task: str
    X_train: object
    y_train: object
    X_test: object
    y_test: object
    split: str
    target: str | None = None
    image_shape: tuple | None = None
    max_value: float | None = None
    test_spec: str | None = None  # the --test-data the test rows came from

    @property
    def is_image(self):
        return self.max_value is not None

    @property
    def has_own_test_set(self):
        return self.split == _OWN_SPLIT

    @property
    def training_part(self):
        """The rows a model trained on this data alone would never see are the test part;
        with other test data, training takes every row but a test set of the files' own."""
        return "train" if self.has_own_test_set else "all"

    @property
    def held_out_part(self):
        """The rows to test on when this data is someone's test data."""
        return "test" if self.has_own_test_set else "all"

    def rows(self, part):
        if part == "test":
            return self.X_test, self.y_test
        if part == "train":
            return self.X_train, self.y_train
        return _concat(self.X_train, self.X_test), _concat(self.y_train, self.y_test)


def _concat(a, b):
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b])
    import pandas as pd

    return pd.concat([a, b])


def _parse_data_spec(spec, option):
    """"digits" / "mnist:DIR" / "csv:PATH" -> (kind, absolute path or None)."""
    kind, sep, rest = spec.partition(":")
    if spec == "digits":
        return "digits", None
    if kind in ("mnist", "csv") and sep and rest:
        return kind, Path(rest).expanduser().resolve()
    raise UsageError(f"{option} must be digits, mnist:DIR or csv:PATH; got {spec!r}.")


def _load_data(spec, target=None, task=None, option="--data"):
    kind, path = _parse_data_spec(spec, option)
    if kind != "csv":
        if target is not None:
            raise UsageError(f"--target applies to csv:PATH data, not to {spec}.")
        if task not in (None, "classification"):
            raise UsageError(f"{spec} is a classification data set; --task {task} does not fit.")
    if kind == "digits":
        return _digits_data()
    if kind == "mnist":
        return _mnist_data(path)
    return _csv_data(path, target, task)


def _with_test_data(data, spec):
    """``data`` to train on (every row but a test set of the files' own), the data ``spec``
    names to test on."""
    if (_parse_data_spec(spec, "--test-data")[0] == "csv") == data.is_image:
        raise UsageError(f"--test-data {spec} is not {'images' if data.is_image else 'a table'} "
                         f"like --data {data.spec}.")
    test = _load_data(spec, data.target, data.task, option="--test-data")
    width, test_width = data.X_train.shape[1], test.X_train.shape[1]
    if data.is_image and (width, data.max_value) != (test_width, test.max_value):
        raise UsageError(f"--test-data {test.spec} has {test_width} values per row, but --data "
                         f"{data.spec} has {width}; they must be the same kind of image.")
    X_train, y_train = data.rows(data.training_part)
    X_test, y_test = test.rows(test.held_out_part)
    rows = "the train set" if data.has_own_test_set else "every row"
    return dataclasses.replace(data, X_train=X_train, y_train=y_train, X_test=X_test,
                               y_test=y_test, split=f"{rows}; the test rows are {test.spec}",
                               test_spec=test.spec)


def _split(X, y, stratify):
    from .preprocessing import train_test_split

    if stratify and np.min(np.unique(np.asarray(y), return_counts=True)[1]) < 2:
        stratify = False  # a class with one row cannot be on both sides
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=_TEST_FRACTION, seed=_SPLIT_SEED, stratify=stratify)
    how = "stratified " if stratify else ""
    return (X_train, y_train, X_test, y_test,
            f"{how}{1 - _TEST_FRACTION:.0%}/{_TEST_FRACTION:.0%} split with seed {_SPLIT_SEED}")


def _digits_data():
    from .datasets import load_digits

    X, y = load_digits()
    # The raw pixels are 0..16; load_digits scales them to [0, 1] by a power of two, so this is
    # exact. The model file's preprocessing does the scaling, so it applies to users' rows too.
    raw = X * np.float32(16)
    return _Data("digits", "digits", "classification", *_split(raw, y, stratify=True),
                 image_shape=(8, 8), max_value=16.0)


def _mnist_data(path):
    from .datasets import load_mnist

    try:
        loaded = load_mnist(path)
    except FileNotFoundError:
        loaded = _one_mnist_split(path)
        if loaded is None:
            raise
    spec = f"mnist:{path}"
    if hasattr(loaded, "train"):
        (X_train, y_train), (X_test, y_test) = loaded
        parts = (_raw_pixels(X_train), y_train, _raw_pixels(X_test), y_test, _OWN_SPLIT)
    else:
        parts = _split(_raw_pixels(loaded.X), loaded.y, stratify=True)
    side = math.isqrt(parts[0].shape[1])
    shape = (side, side) if side * side == parts[0].shape[1] else None
    return _Data(spec, "mnist", "classification", *parts, image_shape=shape, max_value=255.0)


def _one_mnist_split(path):
    """A folder with only one of the train/test sets, or only one CSV file: that, else None."""
    from .datasets import load_mnist

    if not path.is_dir():
        return None
    for split in ("train", "test"):
        try:
            return load_mnist(path, split)
        except FileNotFoundError:
            continue
    csvs = [p for p in path.iterdir() if p.name.lower().endswith((".csv", ".csv.gz"))]
    return load_mnist(csvs[0]) if len(csvs) == 1 else None


def _raw_pixels(X):
    # load_mnist gives pixels / 255 in float32; rounding recovers the integer bytes exactly.
    return np.rint(X * np.float32(255)).astype(np.float32)


def _csv_data(path, target, task):
    from .datasets import load_csv

    if target is None:
        columns = ", ".join(map(repr, load_csv(path).X.columns))
        raise UsageError(f"csv data needs --target COLUMN, the column to predict; {path.name} "
                         f"has {columns}.")
    table = load_csv(path, target)
    if task is None:
        task = _infer_task(table.y)
    if task == "regression":
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(table.y.dtype) or table.y.dtype == bool:
            raise UsageError(f"--task regression needs a numeric target; {target!r} holds "
                             f"values such as {table.y.iloc[0]!r}.")
    parts = _split(table.X, table.y, stratify=task == "classification")
    return _Data(f"csv:{path}", path.name.split(".")[0], task, *parts, target=target)


def _infer_task(y):
    """Classification for text, booleans and whole numbers with few distinct values."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y.dtype) or y.dtype == bool:
        return "classification"
    values = y.to_numpy(dtype=np.float64)
    whole = np.all(values == np.round(values))
    return "classification" if whole and len(np.unique(values)) <= 20 else "regression"


# -- preparing data for the network ----------------------------------------------------------------
def _preprocessor(data):
    """The preprocessing of raw X, fitted on the training rows only."""
    from .preprocessing import Preprocessor, Scaler

    if data.is_image:
        n_pixels = data.X_train.shape[1]
        # Fitting min-max scaling to the pixel range (not to the data) maps 0..max to [0, 1].
        return Scaler("minmax").fit(np.array([[0.0] * n_pixels, [data.max_value] * n_pixels]))
    return Preprocessor().fit(data.X_train)


def _class_list(data):
    """Every class name, from every row: a class absent from the training part is still a
    known (if never predicted) class when the test part is scored."""
    from .preprocessing import LabelEncoder

    return LabelEncoder().fit(_concat(data.y_train, data.y_test)).classes_.tolist()


# -- metrics ---------------------------------------------------------------------------------------
def _scores(model, X, y):
    """A model's metrics on raw rows: accuracy and loss, or RMSE, MAE and R^2 in the target's
    units."""
    scores = model.evaluate(X, y)
    if model.is_classifier:
        return {"accuracy": scores["accuracy"], "loss": scores["loss"]}
    return scores


def _format_metrics(metrics):
    parts = []
    for key, value in metrics.items():
        value += 0.0  # -0.0 (a loss of exactly nothing) prints as 0.0
        if key == "r2":
            parts.append(f"R^2 {value:.4f}")
        elif key in ("rmse", "mae"):
            parts.append(f"{key.upper()} {value:,.4g}" if abs(value) < 1e4 else
                         f"{key.upper()} {value:,.0f}")
        else:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


def _linear_baseline(model, data):
    """Test metrics of scikit-learn's LinearRegression on the same split and preprocessing."""
    from sklearn.linear_model import LinearRegression

    from . import metrics

    y_train = np.asarray(data.y_train, dtype=np.float64)
    baseline = LinearRegression().fit(model.transform(data.X_train).astype(np.float64), y_train)
    y_true = np.asarray(data.y_test, dtype=np.float64)
    y_pred = baseline.predict(model.transform(data.X_test).astype(np.float64))
    return {name: metrics.METRICS[name](y_true, y_pred) for name in ("rmse", "mae", "r2")}


# -- train -----------------------------------------------------------------------------------------
def _cmd_train(args):
    from .model import Model
    from .optim import get_optimizer
    from .plots import plot_history
    from .training import EarlyStopping

    opts = _train_options(args)
    data = _load_data(opts["data"], opts["target"], opts["task"])
    if opts["test-data"] is not None:
        data = _with_test_data(data, opts["test-data"])
    out = _output_folder(Path(opts["out"] if opts["out"] is not None else Path("runs") / data.name))
    dtype = np.dtype(opts["dtype"]).type
    preprocessor = _preprocessor(data)
    n_features = preprocessor.transform(data.X_train[:1]).shape[1]
    classify = data.task == "classification"
    classes = _class_list(data) if classify else None
    n_out = len(classes) if classify else 1
    if opts["layers"] is not None:
        network = _network_from_spec(opts["layers"], data, n_features, n_out, opts["seed"], dtype)
        shown = opts["layers"]
    else:
        sizes = [n_features, *opts["hidden"], n_out]
        network = MultiLayerNetwork.from_sizes(sizes, activation=opts["activation"],
                                               rng=opts["seed"], dtype=dtype)
        shown = f"{'-'.join(map(str, sizes))} ({opts['activation']})"
    model = Model(network, preprocessor=preprocessor, seed=opts["seed"],
                  task="multiclass" if classify else "regression")
    optimizer = get_optimizer(opts["optimizer"], lr=opts["lr"])
    validation_split, callbacks = opts["validation-split"], []
    if opts["early-stopping"] is not None:
        validation_split = validation_split or 0.1
        callbacks.append(EarlyStopping("val_loss", patience=opts["early-stopping"],
                                       restore_best_weights=True))

    n_train, n_test = len(data.X_train), len(data.X_test)
    what = f"{n_out} classes" if classify else f"{data.target} (regression)"
    _say(f"data: {data.spec}: {n_train} training rows, {n_test} test rows "
         f"({data.split}), {n_features} features -> {what}")
    _say(f"network: {shown}, {network.n_params:,} parameters, {opts['dtype']}; "
         f"optimizer {optimizer!r}")
    start = time.perf_counter()
    model.fit(data.X_train, data.y_train, classes=classes, optimizer=optimizer,
              epochs=opts["epochs"], batch_size=opts["batch-size"],
              validation_split=validation_split, callbacks=callbacks,
              threads=opts["threads"] or "auto", verbose=0 if args.quiet else 1)
    history = model.history
    seconds = time.perf_counter() - start
    epochs_run = len(history.epoch)
    note = " (interrupted)" if history.interrupted else (
        " (early stopping; best weights kept)" if history.stopped_epoch is not None else "")
    _say(f"trained {epochs_run} epoch(s) in {seconds:.1f} s{note}")

    metrics = {"train": _scores(model, data.X_train, data.y_train),
               "test": _scores(model, data.X_test, data.y_test)}
    if not classify:
        metrics["baseline"] = _linear_baseline(model, data)
    for part in ("train", "test"):
        _say(f"{part + ':':<7}{_format_metrics(metrics[part])}")
    if "baseline" in metrics:
        _say(f"baseline (scikit-learn LinearRegression, same split and preprocessing): test "
             f"{_format_metrics(metrics['baseline'])}")

    model.metadata.update({
        "task": data.task, "data": data.spec, "test_data": data.test_spec,
        "target": data.target, "split": data.split,
        "input": _input_description(data, preprocessor, n_features),
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2), "epochs_run": epochs_run,
        "stopped_early": history.stopped_epoch is not None, "interrupted": history.interrupted,
        "n_train": n_train, "n_test": n_test, "metrics": metrics,
        "python": platform.python_version(), "numpy": np.__version__,
    })
    model_path = out / "model.npz"
    save(model, model_path)
    _write_json(out / "history.json", {"epochs": [e + 1 for e in history.epoch],
                                        "history": history.history,
                                        "stopped_early": model.metadata["stopped_early"],
                                        "interrupted": history.interrupted})
    plot_history(history, path=out / "curves.png")
    _say(f"wrote {model_path}, {out / 'history.json'} and {out / 'curves.png'}")
    return 0


def _network_from_spec(spec, data, n_features, n_out, seed, dtype):
    """The --layers network. The model takes rows of pixels, as every image model here, so a
    spec with convolutions starts with a Reshape of each row to a one-channel image."""
    from .layers import Reshape
    from .layers.spec import LayerSpecError, parse_spec, uses_images

    images = uses_images(parse_spec(spec))
    if images and (not data.is_image or data.image_shape is None):
        raise UsageError(f"--layers has convolution or pooling layers, which need images, but "
                         f"--data {data.spec} is {'a table' if not data.is_image else 'not square'}"
                         "; use dense layers.")
    shape = (1, *data.image_shape) if images else (n_features,)
    try:
        net = MultiLayerNetwork.from_spec(spec, shape, n_out, rng=seed, dtype=dtype)
    except LayerSpecError as exc:
        raise UsageError(f"--layers {exc}") from None
    return MultiLayerNetwork([Reshape(shape), *net.layers]) if images else net


def _output_folder(out):
    """``out``, created and checked writable now rather than after the training time is spent."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; --out needs a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write into --out {out}: {exc.strerror}") from None
    return out


def _input_description(data, preprocessor, n_features):
    if data.is_image:
        return {"kind": "image", "shape": list(data.image_shape) if data.image_shape else None,
                "max_value": data.max_value, "n_features": n_features}
    return {"kind": "table", "columns": list(preprocessor.columns_), "n_features": n_features}


def _write_json(path, obj):
    text = json.dumps(_json_safe(obj), indent=1)
    with atomic_write(path) as fh:
        fh.write(text.encode("utf-8"))


def _json_safe(obj):
    """NaN and infinities as null: history.json stays standard JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# -- evaluate --------------------------------------------------------------------------------------
def _cmd_evaluate(args):
    from .plots import plot_confusion_matrix

    model = load_model_file(args.model)
    meta = model.metadata
    spec = args.data or meta.get("test_data") or meta.get("data")
    if spec is None:
        raise UsageError("this model file does not say what data it was trained on; give --data.")
    task = meta.get("task") or _task_of(model)
    if task == "regression" and not spec.startswith("csv:"):
        raise ValueError(f"the model predicts {meta.get('target') or 'a number'} (regression); "
                         f"{spec} has no such column, it holds labelled images.")
    target = args.target or (meta.get("target") if spec.startswith("csv:") else None)
    data = _load_data(spec, target, task)
    part, why = _evaluation_part(data, meta, args.all_rows)
    X_raw, y_raw = data.rows(part)
    X = _model_input(model, X_raw, spec, "evaluate")
    _say(f"model: {args.model}")
    _say(f"data: {data.spec}: {len(X)} rows ({why})")
    if task == "classification":
        from .preprocessing import LabelEncoder

        encoder = LabelEncoder.from_config({"kind": "LabelEncoder", "classes": model.class_names})
        labels = encoder.transform(y_raw)
        scores = model.network.evaluate(X, labels)
        _say(_format_metrics({"accuracy": scores["accuracy"], "loss": scores["loss"]}))
        predicted = model.network.predict(X)
        _say_confusion(labels, predicted, model.class_names)
        path = Path(args.confusion_matrix or Path(args.model).parent / "confusion_matrix.png")
        plot_confusion_matrix(labels, predicted, class_names=model.class_names, path=path)
        _say(f"wrote {path}")
    else:
        _say(_format_metrics(_scores(model, X_raw, y_raw)))
    return 0


def _task_of(model):
    """The task of a model saved without the CLI's metadata, from what the file holds."""
    if model.is_classifier:
        return "classification"
    if model.target_scaler is not None:
        return "regression"
    raise ValueError("the model file names no classes and no target scaling, so it is not clear "
                     "what its outputs mean; save it with class_names=... or target_scaler=....")


def _evaluation_part(data, meta, all_rows):
    """Which rows to score, and why: never the rows the model was trained on, if it can help."""
    if all_rows:
        return "all", "all rows, as asked"
    if data.spec == meta.get("test_data"):
        return data.held_out_part, "the test data given in training"
    if data.has_own_test_set:
        return "test", "the test set"
    if data.spec == meta.get("data"):
        if meta.get("test_data"):
            return "all", (f"all rows; the model was trained on them and tested on "
                           f"{meta['test_data']}")
        return "test", f"the held-out test part of the {data.split} used in training"
    if meta.get("data") is None:
        return "all", "all rows: the model file does not say what data it was trained on"
    return "all", "all rows: the model was trained on other data"


def _say_confusion(labels, predicted, class_names):
    from .metrics import confusion_matrix

    matrix = confusion_matrix(labels, predicted, n_classes=len(class_names))
    names = [str(c) for c in class_names]
    width = max(max(map(len, names)), len(str(matrix.max())), 4)
    _say("confusion matrix (rows: true class, columns: predicted):")
    _say(" " * (width + 1) + " ".join(f"{c:>{width}}" for c in names))
    for name, row in zip(names, matrix, strict=True):
        _say(f"{name:>{width}} " + " ".join(f"{v:>{width}}" for v in row))


def _model_input(model, X_raw, source, command):
    """Raw rows through the model's preprocessing, checked against what the model takes; a
    note on stderr for each category the model never saw (it encodes it as none)."""
    want = model.metadata.get("input", {})
    if isinstance(X_raw, np.ndarray) and want.get("kind") == "table":
        raise ValueError(f"{source} gives pixel rows, but the model was trained on a table with "
                         f"columns {', '.join(want['columns'])}.")
    if not isinstance(X_raw, np.ndarray) and want.get("kind") == "image":
        raise ValueError(f"{source} is a table, but the model takes {_describe_image(want)}.")
    if isinstance(X_raw, np.ndarray) and X_raw.shape[1] != model.network.n_features:
        raise ValueError(f"{source} has {X_raw.shape[1]} values per row, but the model takes "
                         f"{_describe_image(want) if want else model.network.n_features}.")
    if want.get("kind") == "image":
        _check_pixel_range(X_raw, float(want["max_value"]), source, command)
    unseen = getattr(model.preprocessor, "unseen_categories", None)
    for column, counts in (unseen(X_raw) if unseen else {}).items():
        shown = ", ".join(f"{v!r} ({n} row{'s' if n > 1 else ''})"
                          for v, n in list(counts.items())[:5])
        plural = "values" if len(counts) > 1 else "a value"
        _error(f"scratchnn {command}: note: {column} has {shown}, {plural} not seen in "
               f"training; {'they are' if len(counts) > 1 else 'it is'} encoded as no category.")
    return model.transform(X_raw)


def _check_pixel_range(X_raw, max_value, source, command):
    """Pixels beyond the training range are an error; pixels all within 0..1 for a model that
    takes 0..16 or 0..255 were most likely scaled already, which predicts nonsense silently."""
    low, high = float(X_raw.min()), float(X_raw.max())
    if low < 0 or high > max_value:
        raise ValueError(f"{source} has pixel values {'down to' if low < 0 else 'up to'} "
                         f"{low if low < 0 else high:g}, but the model takes 0..{max_value:g}.")
    if 0 < high <= 1 < max_value:
        _error(f"scratchnn {command}: note: every value in {source} is within 0..1, but the "
               f"model takes pixel values 0..{max_value:g}; were they scaled already?")


def _describe_image(want):
    shape = want.get("shape")
    size = "x".join(map(str, shape)) + " " if shape else ""
    return f"{want.get('n_features')} {size}pixel values 0..{want.get('max_value', 1):g}"


# -- predict ---------------------------------------------------------------------------------------
def _cmd_predict(args):
    import pandas as pd

    model = load_model_file(args.model)
    inputs = [Path(p) for p in args.input]
    images = [p for p in inputs if p.suffix.lower() in _IMAGE_SUFFIXES]
    if images and len(images) != len(inputs):
        raise UsageError("--input takes either one CSV file or image files, not both.")
    if not images and len(inputs) > 1:
        raise UsageError("--input takes one CSV file at a time.")
    if images:
        X_raw = _image_rows(images, model.metadata.get("input", {}))
        table = pd.DataFrame({"file": [str(p) for p in images]})
    else:
        X_raw = _read_rows(inputs[0], model)
        table = pd.DataFrame(index=range(len(X_raw)))
    X = _model_input(model, X_raw, str(inputs[0]), "predict")
    if model.is_classifier:
        proba = model.network.predict_proba(X)
        table["prediction"] = np.asarray(model.class_names)[model.network.predict(X)]
        table["probability"] = np.round(proba.max(axis=1), 4)
    else:
        values = model.predict(X_raw).reshape(len(X), -1)
        for j in range(values.shape[1]):
            table["prediction" if values.shape[1] == 1 else f"prediction_{j}"] = values[:, j]
    if args.output:
        path = Path(args.output)
        with atomic_write(path) as fh:
            fh.write(table.to_csv(index=False).encode("utf-8"))
        _say(f"wrote {len(table)} prediction(s) to {path}")
    else:
        sys.stdout.write(table.to_csv(index=False))
    return 0


def _read_rows(path, model):
    """Raw rows of a CSV file: a table for a table model, else rows of numbers."""
    import pandas as pd

    from .datasets import load_csv

    if model.metadata.get("input", {}).get("kind") == "table":
        return load_csv(path).X
    if not path.is_file():
        raise FileNotFoundError(f"no input file at {path}.")
    try:
        frame = pd.read_csv(path, header=None)
        if pd.to_numeric(frame.iloc[0], errors="coerce").isna().any():
            frame = pd.read_csv(path)  # the first line names the columns
            frame = frame.drop(columns=[c for c in frame.columns
                                        if str(c).strip().lower() == "label"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} could not be read as CSV: {exc}") from None
    if frame.empty:
        raise ValueError(f"{path} has no rows to predict.")
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{path} has empty or non-numeric values; each row must be numbers.")
    return values.astype(model.network.dtype)


def _image_rows(paths, want):
    """Image files -> rows of raw pixel values, as the training images.

    Each image is made grayscale (a transparent background counts as white) and, if its border
    is light (mean brightness > 0.5), inverted, so the digit is light on dark as in the
    training data. It is then padded to a square with the background and resized to the
    model's input shape by averaging (8x8 for digits, 28x28 for MNIST), and scaled to the
    training range 0..max_value.
    """
    if want.get("kind") != "image" or not want.get("shape"):
        raise ValueError("this model was not trained on images, so it cannot read image files; "
                         "give a CSV file of rows.")
    rows = [_image_row(path, tuple(want["shape"]), float(want["max_value"])) for path in paths]
    return np.stack(rows).astype(np.float32)


def _image_row(path, shape, max_value):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if "A" in img.getbands() or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            gray = np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255)
    except FileNotFoundError:
        raise FileNotFoundError(f"no image file at {path}.") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path} could not be read as an image ({exc}).") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 0.5:
        gray = 1 - gray
    h, w = gray.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = gray
    resized = Image.fromarray(square).resize(shape[::-1], Image.Resampling.BOX)
    return np.clip(np.asarray(resized, dtype=np.float32), 0, 1).reshape(-1) * max_value


# -- info ------------------------------------------------------------------------------------------
def _cmd_info(args):
    model = load_model_file(args.model)
    net, meta = model.network, model.metadata
    _say(f"model: {args.model} (format {model.format_version}, written by scratchnn "
         f"{model.scratchnn_version})")
    _say(repr(net))
    _say(f"parameters: {net.n_params:,} ({np.dtype(net.dtype).name})")
    if model.is_classifier:
        names = ", ".join(map(str, model.class_names))
        _say(f"task: classification, {len(model.class_names)} classes: {names}")
    elif meta.get("task"):
        _say(f"task: {meta['task']}" + (f" of {meta['target']}" if meta.get("target") else ""))
    want = meta.get("input", {})
    if want.get("kind") == "image":
        _say(f"input: {_describe_image(want)}")
    elif want.get("kind") == "table":
        _say(f"input: table columns {', '.join(want['columns'])}")
    if model.preprocessor is not None:
        _say(f"preprocessing: {model.preprocessor!r}")
    if model.target_scaler is not None:
        _say(f"target scaling: {model.target_scaler!r}")
    if meta.get("data"):
        _say(f"trained on: {meta['data']} ({meta.get('split', '?')}), {meta.get('n_train', '?')} "
             f"training rows, {meta.get('epochs_run', '?')} epoch(s) in "
             f"{meta.get('seconds', '?')} s, {meta.get('trained_at', '?')}")
    if meta.get("options"):
        _say("options: " + " ".join(f"--{k} {_show_option(v)}" for k, v in meta["options"].items()
                                    if v is not None))
    for part, values in meta.get("metrics", {}).items():
        _say(f"{part} metrics: {_format_metrics(values)}")
    if model.optimizer is not None:
        _say(f"optimizer state: {model.optimizer!r} after {model.optimizer.iterations:,} steps "
             "(training can resume)")
    return 0


def _show_option(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# -- the command line ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block plus the message.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _command(commands, name, run, summary, description, *, takes_model=True):
    """A subcommand that calls ``run(args)``, with the --model option most of them share."""
    sub = commands.add_parser(name, help=summary, description=description)
    sub.set_defaults(run=run)
    if takes_model:
        sub.add_argument("--model", required=True, metavar="FILE", help="a model.npz")
    return sub


def build_parser():
    """The argparse parser of the ``scratchnn`` command and its four subcommands."""
    from . import __version__

    parser = _Parser(prog="scratchnn", description="Neural networks from scratch in NumPy: "
                     "train, evaluate, predict and inspect models.")
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    train = _command(commands, "train", _cmd_train, "train a network and save it",
                     "Train a network; write model.npz, history.json and curves.png into --out.",
                     takes_model=False)
    train.add_argument("--config", metavar="FILE",
                       help="TOML file of these options (the command line wins)")
    for name, (_, _, metavar, text) in _TRAIN_OPTIONS.items():
        train.add_argument(f"--{name}", metavar=metavar, help=text)
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = _command(commands, "evaluate", _cmd_evaluate, "score a saved model on data",
                        "Metrics of a saved model; for a classifier also the confusion matrix "
                        "(printed and as a PNG).")
    evaluate.add_argument("--data", metavar="SPEC",
                          help="digits, mnist:DIR or csv:PATH (default: the data the model "
                               "was tested on in training)")
    evaluate.add_argument("--target", metavar="COLUMN",
                          help="target column of csv data (default: the model's)")
    evaluate.add_argument("--all-rows", action="store_true",
                          help="score every row, even those of the training part")
    evaluate.add_argument("--confusion-matrix", metavar="PNG",
                          help="where to write the confusion matrix (default: beside the model)")

    predict = _command(commands, "predict", _cmd_predict, "predict raw rows or images",
                       "Predictions for the rows of a CSV file (raw values: the saved "
                       "preprocessing is applied) or for images.")
    predict.add_argument("--input", required=True, nargs="+", metavar="FILE",
                         help="one CSV file, or image files (PNG, JPEG...) for image models")
    predict.add_argument("--output", metavar="CSV", help="write here instead of to stdout")

    _command(commands, "info", _cmd_info, "describe a saved model",
             "The architecture, parameter count and how a saved model was trained.")
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (0 success, 1 error, 2 misused option)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an error argparse has already reported
        return exc.code if isinstance(exc.code, int) else 1
    debug = os.environ.get("SCRATCHNN_DEBUG")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout has gone (`scratchnn predict ... | head`): stop quietly, and point
        # stdout at /dev/null so that flushing it at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        if debug:
            raise
        _error(f"scratchnn {args.command}: error: {exc}")
        return 2
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:
        # ArithmeticError: a diverged training run (TrainingDivergedError) says what to change.
        if debug:
            raise
        _error(f"scratchnn {args.command}: error: {_describe(exc)}")
        return 1


def _describe(exc):
    """The sentence of an error; an OSError's "[Errno 13] Permission denied: 'x'" in words."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _error(message):
    print(" ".join(str(message).split()), file=sys.stderr)
