"""The four commands: train, evaluate, predict and info (options and printing; the work is the
library's ``Model``)."""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import stat
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .._files import atomic_write, replaced_together
from ..network import MultiLayerNetwork
from ..serialization import load_model_file, save
from ._common import _IMAGE_SUFFIXES, UsageError, _say
from .data import (
    _class_list,
    _describe_image,
    _image_rows,
    _load_data,
    _model_input,
    _preprocessor,
    _read_rows,
    _with_test_data,
)
from .options import _train_options


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

    from .. import metrics

    y_train = np.asarray(data.y_train, dtype=np.float64)
    baseline = LinearRegression().fit(model.transform(data.X_train).astype(np.float64), y_train)
    y_true = np.asarray(data.y_test, dtype=np.float64)
    y_pred = baseline.predict(model.transform(data.X_test).astype(np.float64))
    return {name: metrics.METRICS[name](y_true, y_pred) for name in ("rmse", "mae", "r2")}


# -- train -----------------------------------------------------------------------------------------
def _cmd_train(args):
    from ..model import Model
    from ..optim import get_optimizer
    from ..plots import plot_history
    from ..training import EarlyStopping

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
    _check_memory(opts, data, n_features, n_out)
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
    if history.interrupted and epochs_run == 0:
        _say(f"interrupted during the first epoch, after {seconds:.1f} s; nothing was written")
        return 130
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
    # The three files of a run are replaced together: a failure (a full disk while drawing the
    # curves) leaves the previous run's files as they were, never a mix of two runs.
    with replaced_together():
        save(model, model_path)
        _write_json(out / "history.json", {"epochs": [e + 1 for e in history.epoch],
                                            "history": history.history,
                                            "stopped_early": model.metadata["stopped_early"],
                                            "interrupted": history.interrupted})
        plot_history(history, path=out / "curves.png")
    _say(f"wrote {model_path}, {out / 'history.json'} and {out / 'curves.png'}")
    if history.interrupted:
        _say(f"interrupted after {epochs_run} of {opts['epochs']} epochs: the files hold the "
             "partly trained model")
        return 130
    return 0


# -- memory, before anything is allocated ----------------------------------------------------------
_OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}


def _check_memory(opts, data, n_features, n_out):
    """Refuse a network whose training needs more memory than the machine has available, with
    the estimate, before its weights are allocated.

    The estimate: per parameter the weights, their gradients, one scratch array of the
    optimizer, a copy of the weights taken at each epoch's start (to roll back a diverging
    epoch), and the optimizer's per-parameter buffers (Adam: 2) with their copy; per sample of
    a batch (at least 1024 rows, as predict runs), three arrays per layer output (forward,
    backward, cache), and the unfolded patches of each convolution.
    """
    if opts["layers"] is not None:
        from ..layers.spec import parse_spec

        images = data.is_image and data.image_shape is not None
        shape = (1, *data.image_shape) if images else (n_features,)
        size = _spec_size(parse_spec(opts["layers"]), shape, n_out)
        what = f"--layers {opts['layers']!r}"
    else:
        widths = [n_features, *opts["hidden"], n_out]
        size = (sum(a * b + b for a, b in itertools.pairwise(widths)), 2 * sum(widths[1:]))
        what = f"hidden layers {','.join(map(str, opts['hidden']))}"
    if size is None:
        return  # a spec whose shapes do not fit: building it says what is wrong
    n_params, per_sample = size
    itemsize = np.dtype(opts["dtype"]).itemsize
    slots = _OPTIMIZER_SLOTS.get(opts["optimizer"], 2)
    rows = max(opts["batch-size"], 1024)
    need = itemsize * (n_params * (4 + 2 * slots) + 3 * rows * per_sample)
    available = _available_memory()
    if available is not None and need > available:
        raise ValueError(f"{what}: a network of {n_params:,} parameters; training it "
                         f"({opts['dtype']}, {opts['optimizer']}, batch {opts['batch-size']}) "
                         f"would need about {_gigabytes(need)} of memory, and this machine has "
                         f"{_gigabytes(available)} available; use smaller layers.")


def _spec_size(parsed, shape, n_out):
    """(parameters, values per sample of the layer outputs) of a parsed layer spec on inputs of
    ``shape``, with the output layer ``from_spec`` adds; None if the shapes do not fit."""
    items = [(name, args) for name, args, _ in parsed]
    if items[-1][0] != "dense":
        items += [("flatten", {}), ("dense", {"N": n_out})]
    n_params = values = 0
    for name, args in items:
        if name in ("conv", "maxpool", "avgpool", "globalavgpool") and len(shape) != 3:
            return None
        if name == "conv":
            (c, h, w), k, stride, pad = shape, args["K"], args.get("stride", 1), args.get("pad", 0)
            h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            n_params += args["F"] * c * k * k + args["F"]
            values += c * k * k * h * w  # the unfolded patches (im2col)
            shape = (args["F"], h, w)
        elif name in ("maxpool", "avgpool"):
            (c, h, w), k = shape, args["K"]
            stride = args.get("stride") or k
            shape = (c, (h - k) // stride + 1, (w - k) // stride + 1)
        elif name == "globalavgpool":
            shape = shape[:1]
        elif name == "flatten":
            shape = (math.prod(shape),)
        elif name == "dense":
            if len(shape) != 1:
                return None
            n_params += shape[0] * args["N"] + args["N"]
            shape = (args["N"],)
        elif name == "batchnorm":
            n_params += 4 * shape[0]  # scale, shift and the two running statistics
        if min(shape) < 1:
            return None
        values += math.prod(shape)
    return n_params, values


def _available_memory():
    """Bytes of memory available to a new allocation (Linux's MemAvailable), or the physical
    memory where that is not known, or None."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n):
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def _network_from_spec(spec, data, n_features, n_out, seed, dtype):
    """The --layers network. The model takes rows of pixels, as every image model here, so a
    spec with convolutions starts with a Reshape of each row to a one-channel image."""
    from ..layers import Reshape
    from ..layers.spec import LayerSpecError, parse_spec, uses_images

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


_RUN_FILES = ("model.npz", "history.json", "curves.png")


def _output_folder(out):
    """``out``, created and checked writable now rather than after the training time is spent,
    and without a folder (or socket...) where a file of the run goes."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; --out needs a folder.")
    for name in _RUN_FILES:
        try:
            mode = (out / name).stat().st_mode
        except OSError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise ValueError(f"{out / name} is {kind}, and training writes {name} there; move "
                             "it away or choose another --out.")
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
    from ..plots import plot_confusion_matrix

    model = load_model_file(args.model)
    meta = model.metadata
    spec = args.data or meta.get("test_data") or meta.get("data")
    if spec is None:
        raise UsageError("this model file does not say what data it was trained on; give --data.")
    if not isinstance(spec, str):
        raise ValueError(f"{args.model} records {spec!r} as its data, which is not a data "
                         "spec; give --data.")
    if args.data is None:
        # The model file chose this data: say so before reading it (a file from elsewhere may
        # name any path; _load_data reads only regular files and folders).
        tested = "tested" if spec == meta.get("test_data") else "trained"
        _say(f"evaluating {spec}: the data the model file says it was {tested} on (give --data "
             "to choose)")
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
        from ..preprocessing import LabelEncoder

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
    from ..metrics import confusion_matrix

    matrix = confusion_matrix(labels, predicted, n_classes=len(class_names))
    names = [str(c) for c in class_names]
    width = max(max(map(len, names)), len(str(matrix.max())), 4)
    _say("confusion matrix (rows: true class, columns: predicted):")
    _say(" " * (width + 1) + " ".join(f"{c:>{width}}" for c in names))
    for name, row in zip(names, matrix, strict=True):
        _say(f"{name:>{width}} " + " ".join(f"{v:>{width}}" for v in row))


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


# -- info ------------------------------------------------------------------------------------------
def _cmd_info(args):
    if Path(args.model).suffix.lower() == ".onnx":
        from .export import _cmd_info_onnx

        return _cmd_info_onnx(args.model)
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
    metrics = meta.get("metrics", {})
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    if flat:  # saved from Python: {"accuracy": 0.97}
        _say(f"metrics: {_format_metrics(flat)}")
    for part, values in metrics.items():  # written by train: {"test": {"accuracy": 0.97}}
        if isinstance(values, dict):
            _say(f"{part} metrics: {_format_metrics(values)}")
    if model.optimizer is not None:
        _say(f"optimizer state: {model.optimizer!r} after {model.optimizer.iterations:,} steps "
             "(training can resume)")
    return 0


def _show_option(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
