"""Model files: ``save(network, path)`` and ``load(path)``, safe to load from anyone.

A model file is one ``.npz`` archive (a zip of ``.npy`` arrays) holding

* ``model.json``: UTF-8 JSON (stored as a uint8 array) describing everything that is not a
  parameter: the format version, each layer's type and settings, the preprocessing state, the
  class names, the target scaling, the optimizer's class and the metadata of the run;
* ``params/<layer index>/<name>``: every parameter array, e.g. ``params/0/W`` (n_in, n_out);
* ``state/<layer index>/<name>``: every non-trained state array (BatchNorm's running statistics);
* ``optimizer/<key>``: the optimizer's ``state_dict()`` when one was saved, so training resumes.

Each layer is described by its class name and its ``get_config()`` settings, and rebuilt through
the one registry ``scratchnn.layers.LAYERS``. Loading never unpickles (``allow_pickle=False``) and
builds only the classes of that registry, so a file from a stranger cannot run code. It trusts
nothing else either: a truncated file, a pickle, an unknown layer type or setting, an array that
does not match the shape and dtype the description gives, NaN or infinite weights, or a
description whose entries (the metadata the command line reads included) have the wrong types
are all refused with a ``ModelFileError`` naming the file and the problem; no other error.

Nor can a file make the reader allocate what it does not hold: each layer's array shapes follow
from its settings and are checked against the description, the arrays' own npy headers and the
zip directory's sizes before any array is read or any layer built; members are read in chunks of
their checked size; members the description does not name, overlapping members, compressed
members inflating over 100-fold and descriptions over 16 MiB or nested over 100 deep are refused.

Saving is atomic: the archive is written to a temporary file in the same folder and then renamed
over ``path``, so a crash mid-save leaves the previous file as it was.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._files import atomic_write
from ._validation import check_dtype
from .layers import LAYERS
from .model import Model
from .network import MultiLayerNetwork
from .optim import Optimizer

FORMAT_NAME = "scratchnn-model"
FORMAT_VERSION = 2  # 2: layers as {"type", "config"}, input_shape, state arrays. 1 still loads.
_DESCRIPTION_KEY = "model.json"
_PARAMS_PREFIX = "params/"
_STATE_PREFIX = "state/"
_OPTIMIZER_PREFIX = "optimizer/"
# Where each kind of layer array lives in the archive, by the name of the layer's dict.
_ARRAY_KINDS = {"params": _PARAMS_PREFIX, "state": _STATE_PREFIX}


class ModelFileError(ValueError):
    """A file that is not a usable scratchnn model: truncated, corrupt, unsafe or inconsistent."""


# -- writing ---------------------------------------------------------------------------------------
def save(network, path, *, optimizer=None, preprocessor=None, class_names=None,
         target_scaler=None, metadata=None):
    """Write ``network`` and what is needed to use it on raw input to the model file ``path``.

    Parameters
    ----------
    network : MultiLayerNetwork built from scratchnn's layer types, or a fitted ``Model``, whose
        optimizer, preprocessing, class names, target scaling and metadata are saved with it
        (the keyword arguments, when given, take their place).
    path : str or os.PathLike; written as an ``.npz`` archive under exactly this name (missing
        parent folders are created).
    optimizer : an optimizer from ``scratchnn.optim`` whose state is saved too, so that training
        can resume where it stopped (see ``load_model_file``).
    preprocessor : a fitted preprocessor with ``to_config()`` (e.g. from
        ``scratchnn.preprocessing``), applied to raw input before the network.
    class_names : one name (a string or a number) per class, in output order.
    target_scaler : for regression, the fitted scaler (with ``to_config()``) the targets were
        standardised with; predictions are mapped back through it.
    metadata : a JSON-serialisable dict of how the model was made (data, options, metrics...).

    Any other object with a ``to_model()`` method (the estimators of ``scratchnn.sklearn``) is
    saved as the ``Model`` that method returns.
    """
    if not isinstance(network, (Model, MultiLayerNetwork)) and callable(
            getattr(network, "to_model", None)):
        network = network.to_model()
    if isinstance(network, Model):
        model = network
        model._check_fitted()
        network = model.network
        optimizer = model.optimizer if optimizer is None else optimizer
        preprocessor = model.preprocessor if preprocessor is None else preprocessor
        class_names = model.class_names if class_names is None else class_names
        target_scaler = model.target_scaler if target_scaler is None else target_scaler
        metadata = {**model.metadata, **(metadata or {})}
    if not isinstance(network, MultiLayerNetwork):
        raise TypeError(f"network must be a MultiLayerNetwork, got {type(network).__name__}.")
    if not network.layers:
        raise ValueError("the network has no layers; there is nothing to save.")
    path = _check_path(path)
    layers, arrays = [], {}
    for i, layer in enumerate(network.layers):
        layers.append(_layer_description(i, layer))
        for kind, prefix in _ARRAY_KINDS.items():
            for name, arr in getattr(layer, kind).items():
                arrays[f"{prefix}{i}/{name}"] = arr
    description = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": _version(),
        "dtype": np.dtype(network.dtype).name,
        "input_shape": None if network.input_shape is None else list(network.input_shape),
        "n_features": network.n_features,
        "n_outputs": network.n_outputs,
        "task": network.task,
        "layers": layers,
        "class_names": _check_class_names(class_names, network),
        "preprocessor": _config_of(preprocessor, "preprocessor"),
        "target_scaler": _config_of(target_scaler, "target_scaler"),
        "optimizer": None,
        "metadata": _check_metadata(metadata),
    }
    if optimizer is not None:
        description["optimizer"], opt_arrays = _optimizer_entries(optimizer)
        arrays.update(opt_arrays)
    text = json.dumps(description, indent=1, default=_json_default)
    arrays[_DESCRIPTION_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as fh:
        np.savez(fh, allow_pickle=False, **arrays)


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    return Path(path)


def _version():
    from . import __version__

    return __version__


def _layer_description(i, layer):
    name = type(layer).__name__
    if LAYERS.get(name) is not type(layer):
        raise TypeError(
            f"layer {i} is a {name}, which cannot be saved: model files hold only scratchnn's "
            f"layer types ({', '.join(LAYERS)})."
        )
    entry = {"type": name, "config": layer.get_config()}
    for kind in _ARRAY_KINDS:
        arrays = getattr(layer, kind)
        if arrays:
            entry[kind] = {aname: list(a.shape) for aname, a in arrays.items()}
    return entry


def _check_class_names(class_names, network):
    if class_names is None:
        return None
    names = [n.item() if isinstance(n, np.generic) else n for n in class_names]
    for n in names:
        if not isinstance(n, (str, int, float)):
            raise TypeError(f"class names must be strings or numbers, got {n!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be distinct, got {names}.")
    n_out = network.n_outputs
    expected = 2 if n_out == 1 else n_out
    if expected is not None and len(names) != expected:
        raise ValueError(
            f"got {len(names)} class names for a network with {n_out} output(s); "
            f"give {expected}."
        )
    return names


def _config_of(obj, name):
    """{"type": class name, "config": obj.to_config()} for a preprocessing object, or None."""
    if obj is None:
        return None
    to_config = getattr(obj, "to_config", None)
    if not callable(to_config):
        raise TypeError(
            f"{name} must have a to_config() method (see scratchnn.preprocessing), got "
            f"{type(obj).__name__}."
        )
    return {"type": type(obj).__name__, "config": to_config()}


def _check_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}.")
    try:
        json.dumps(metadata, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    return metadata


def _json_default(obj):
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} {obj!r} is not JSON-serialisable")


def _optimizer_entries(optimizer):
    """The optimizer's JSON entry and its state arrays under the ``optimizer/`` prefix."""
    state_dict = getattr(optimizer, "state_dict", None)
    if not callable(state_dict):
        raise TypeError(
            f"optimizer must be a scratchnn.optim optimizer, got {type(optimizer).__name__}."
        )
    arrays = {}
    for key, value in state_dict().items():
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"optimizer state {key!r} holds Python objects; it cannot be saved.")
        arrays[_OPTIMIZER_PREFIX + key] = arr
    return {"type": type(optimizer).__name__, "keys": sorted(arrays)}, arrays


# -- reading ---------------------------------------------------------------------------------------
SavedModel = Model  # the name load_model_file's result had before Model existed

# What a file may make the reader do. Everything is checked against these, against the layer
# settings and against the arrays' own npy headers and the zip directory's sizes before any array
# is read or any layer is built, so a file costs the memory its arrays really take.
_MAX_DESCRIPTION_BYTES = 16 * 2**20  # model.json; scratchnn writes a few KB (a few MB at most)
_MAX_NESTING = 100  # JSON depth; far deeper input would exhaust Python's recursion
_MAX_LAYERS = 10_000
_MAX_MEMBERS = 100_000
_MAX_SMALL_ARRAY_BYTES = 2**16  # an optimizer counter, learning rate or hyper-parameter
# Compressed members (np.savez_compressed) may inflate at most this much together, once they
# exceed _INFLATION_FLOOR: trained weights hardly compress, a zip bomb's zeros ~1000-fold.
_MAX_INFLATION = 100
_INFLATION_FLOOR = 16 * 2**20
_READ_CHUNK = 16 * 2**20
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # np.savez, np.savez_compressed
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_MARK = b"\x80"
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def load(path):
    """The network saved in the model file ``path`` (see ``load_model_file`` for the rest)."""
    return load_model_file(path).network


def load_model_file(path):
    """Read the model file ``path``: the network, optimizer, preprocessing and metadata.

    Returns a fitted ``Model``. Raises ``FileNotFoundError`` when there is no file and
    ``ModelFileError`` (a ValueError) naming the file when it is not a complete, safe scratchnn
    model: whatever its bytes, no other error, and no allocation beyond what its arrays take.
    """
    path = _check_path(path)
    reader = _Reader(path)
    with reader.opened():
        desc = reader.description()
        plan = reader.plan(desc)
        headers = reader.check_arrays(desc, plan)
        network = reader.network(desc, plan, headers)
        optimizer = reader.optimizer(desc.get("optimizer"), headers)
        preprocessor = reader.preprocessing(desc.get("preprocessor"), "preprocessor")
        target_scaler = reader.preprocessing(desc.get("target_scaler"), "target_scaler")
    try:
        return Model(
            network=network,
            optimizer=optimizer,
            preprocessor=preprocessor,
            class_names=reader.class_names(desc.get("class_names"), network),
            target_scaler=target_scaler,
            metadata=desc.get("metadata") or {},
            format_version=desc["format_version"],
            scratchnn_version=desc.get("scratchnn_version"),
        )
    except (TypeError, ValueError) as exc:
        reader.fail(f"describes a model that cannot be put together: {exc}")


def _why(exc):
    """An exception as a short phrase for a ModelFileError message."""
    text = str(exc)
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value):
    return _is_number(value) and math.isfinite(value)


def _is_shape(value, max_ndim=8):
    return (isinstance(value, list) and len(value) <= max_ndim
            and all(_is_int(n) and n >= 0 for n in value))


def _json_depth(raw):
    """How deeply arrays and objects nest in the JSON text ``raw`` (strings are skipped)."""
    b = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    opens = (b == ord("[")) | (b == ord("{"))
    brackets = opens | (b == ord("]")) | (b == ord("}"))
    steps = np.where(opens[brackets], 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max()) if steps.size else 0


class _Header(NamedTuple):
    """What an npy member's header announces, checked against the member's size."""

    key: str
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes before the data


class _LayerPlan(NamedTuple):
    cls: type
    config: dict
    dtype: np.dtype
    arrays: dict  # kind ("params"/"state") -> {name: shape}


class _Reader:
    """Checks each part of a model file, failing with a ModelFileError naming the file."""

    def __init__(self, path):
        self.path = path
        self.zip = None
        self.members = {}  # archive key ("params/0/W") -> ZipInfo

    def fail(self, problem):
        raise ModelFileError(f"{self.path} {problem}.")

    # -- the archive ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def opened(self):
        self._check_file()
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except MemoryError:
            raise
        except Exception as exc:  # zipfile raises a zoo of types on a crafted directory
            self.fail(f"is truncated or corrupt and cannot be read as a model file ({_why(exc)})")
        try:
            self._check_directory(infos)
            yield self
        finally:
            self.zip.close()

    def _check_file(self):
        path = self.path
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}.")
        if path.is_dir():
            self.fail("is a folder, not a model file")
        if not path.is_file():
            self.fail("is not a regular file (a device, pipe or socket); it is not a model file")
        with open(path, "rb") as fh:
            head = fh.read(len(_ZIP_MAGIC))
        if head != _ZIP_MAGIC:
            if head.startswith(_PICKLE_PROTOCOL_MARK):
                self.fail("is a pickle, not a scratchnn model file; scratchnn never unpickles "
                          "(loading a pickle can run arbitrary code)")
            self.fail(f"{'is empty' if not head else 'is not an .npz archive'}; it is not a "
                      "scratchnn model file")

    def _check_directory(self, infos):
        """The zip directory: arrays only, each once, readable and not a zip bomb."""
        if len(infos) > _MAX_MEMBERS:
            self.fail(f"holds {len(infos)} members; a model file holds far fewer")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or info.is_dir():
                self.fail(f"holds {_shown(name)}, which is not an .npy array")
            key = name[: -len(".npy")]
            if key in self.members:
                self.fail(f"holds the array {_shown(key)} twice")
            if info.flag_bits & 0x1:
                self.fail(f"holds the encrypted member {_shown(key)}")
            if info.compress_type not in _COMPRESSIONS:
                self.fail(f"stores {_shown(key)} with zip compression method "
                          f"{info.compress_type}; model files are stored or deflated")
            self.members[key] = info
        # Members that share their bytes (overlapping entries) would be read many times over.
        stored = sum(info.compress_size for info in infos)
        if stored > self.path.stat().st_size:
            self.fail(f"has members that claim {stored:,} bytes of a {self.path.stat().st_size:,}"
                      "-byte file (overlapping entries); it is refused as a zip bomb")
        deflated = [info for info in infos if info.compress_type != zipfile.ZIP_STORED]
        inflated = sum(info.file_size for info in deflated)
        packed = sum(info.compress_size for info in deflated)
        if inflated > _INFLATION_FLOOR and inflated > _MAX_INFLATION * max(packed, 1):
            self.fail(f"has compressed members of {packed:,} bytes that inflate to "
                      f"{inflated:,} ({inflated // max(packed, 1):,}-fold, largest "
                      f"{_shown(max(deflated, key=lambda i: i.file_size).filename)}); weights "
                      "never compress that well, so it is refused as a zip bomb")

    def header(self, key):
        """The npy header of the member ``key``, checked against the member's size."""
        info = self.members.get(key)
        if info is None:
            self.fail(f"lacks the array {_shown(key)}")
        try:
            with self.zip.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"npy format version {version} is not one numpy writes "
                                     "for plain arrays")
                offset = fh.tell()
        except MemoryError:
            raise
        except Exception as exc:  # the header parser raises SyntaxError, TokenError, ...
            self.fail(f"has an unreadable array {_shown(key)} ({_why(exc)})")
        if dtype.hasobject:
            self.fail(f"holds a pickled Python object ({key!r}); scratchnn never unpickles "
                      "(loading a pickle can run arbitrary code), so the file is refused")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            self.fail(f"has array {_shown(key)} whose header announces {shape} {dtype} "
                      f"({nbytes:,} bytes) but whose member holds {info.file_size - offset:,}")
        return _Header(key, shape, dtype, fortran, offset)

    def read(self, header, finite=False):
        """The array of a checked ``header``, read in chunks into an array of that size."""
        flat = np.empty(math.prod(header.shape), dtype=header.dtype)
        view = memoryview(flat.view(np.uint8))
        try:
            with self.zip.open(self.members[header.key]) as fh:
                fh.read(header.offset)
                done = 0
                while done < len(view):
                    chunk = fh.read(min(_READ_CHUNK, len(view) - done))
                    if not chunk:
                        raise EOFError("the member ends early")
                    view[done:done + len(chunk)] = chunk
                    done += len(chunk)
                fh.read()  # to the end, where zipfile checks the CRC
        except MemoryError:
            raise
        except Exception as exc:
            self.fail(f"has a truncated or corrupt array {_shown(header.key)} ({_why(exc)})")
        if finite and flat.dtype.kind == "f":
            for start in range(0, flat.size, 2**20):
                if not np.isfinite(flat[start:start + 2**20]).all():
                    self.fail(f"has NaN or infinite values in {header.key!r}; a usable model's "
                              "weights are finite")
        if header.fortran_order:
            return flat.reshape(header.shape[::-1]).transpose()
        return flat.reshape(header.shape)

    # -- the description --------------------------------------------------------------------------
    def description(self):
        header = self.header(_DESCRIPTION_KEY) if _DESCRIPTION_KEY in self.members else None
        if header is None:
            self.fail(f"has no {_DESCRIPTION_KEY}; it is not a scratchnn model file")
        if header.dtype != np.uint8 or len(header.shape) != 1:
            self.fail(f"has a malformed {_DESCRIPTION_KEY} (dtype {header.dtype}, shape "
                      f"{header.shape})")
        if header.shape[0] > _MAX_DESCRIPTION_BYTES:
            self.fail(f"has a {_DESCRIPTION_KEY} of {header.shape[0]:,} bytes; scratchnn reads "
                      f"descriptions of up to {_MAX_DESCRIPTION_BYTES:,}")
        raw = self.read(header).tobytes()
        if _json_depth(raw) > _MAX_NESTING:
            self.fail(f"has a {_DESCRIPTION_KEY} nested more than {_MAX_NESTING} levels deep")
        try:
            desc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            self.fail(f"has a {_DESCRIPTION_KEY} that is not valid JSON ({_why(exc)})")
        if not isinstance(desc, dict) or desc.get("format") != FORMAT_NAME:
            self.fail("is not a scratchnn model file (its description names no scratchnn format)")
        version = desc.get("format_version")
        if not _is_int(version) or version < 1:
            self.fail(f"has an invalid format version {_shown(version)}")
        if version > FORMAT_VERSION:
            self.fail(
                f"uses model format {version}, written by scratchnn "
                f"{_shown(desc.get('scratchnn_version', '?'))}; this version reads format "
                f"{FORMAT_VERSION} and older, so upgrade scratchnn to load it"
            )
        self._check_schema(desc)
        return desc

    def _need(self, ok, where, what, value):
        if not ok:
            self.fail(f"has {where} = {_shown(value)}, which is not {what}")

    def _check_schema(self, desc):
        """Every entry the reader or the command line uses has the type it is used as."""
        get = desc.get
        for key in ("scratchnn_version", "dtype", "task"):
            self._need(get(key) is None or isinstance(get(key), str), key, "a string", get(key))
        for key in ("n_features", "n_outputs"):
            self._need(get(key) is None or _is_int(get(key)), key, "an integer", get(key))
        shape = get("input_shape")
        self._need(shape is None or _is_shape(shape), "input_shape", "a list of sizes", shape)
        layers = get("layers")
        if not isinstance(layers, list) or not layers:
            self.fail("describes no layers")
        if len(layers) > _MAX_LAYERS:
            self.fail(f"describes {len(layers):,} layers; scratchnn reads up to {_MAX_LAYERS:,}")
        for i, entry in enumerate(layers):
            self._check_layer_entry(i, entry, desc["format_version"])
        names = get("class_names")
        self._need(names is None or (isinstance(names, list) and all(
            isinstance(n, (str, bool)) or _is_finite_number(n) for n in names)),
            "class_names", "a list of strings or finite numbers", names)
        for key in ("preprocessor", "target_scaler"):
            entry = get(key)
            self._need(entry is None or (isinstance(entry, dict)
                                         and isinstance(entry.get("type"), str)
                                         and isinstance(entry.get("config"), dict)),
                       key, 'null or {"type": name, "config": {...}}', entry)
        entry = get("optimizer")
        self._need(entry is None or (isinstance(entry, dict) and isinstance(entry.get("type"), str)
                                     and isinstance(entry.get("keys"), list)
                                     and all(isinstance(k, str) for k in entry["keys"])),
                   "optimizer", 'null or {"type": name, "keys": [names]}', entry)
        meta = get("metadata")
        self._need(meta is None or isinstance(meta, dict), "metadata", "a JSON object", meta)
        self._check_metadata(meta or {})

    def _check_layer_entry(self, i, entry, version):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or kind not in LAYERS:
            self.fail(
                f"has layer {i} of unknown type {_shown(kind)}; only scratchnn's layer types can "
                f"be loaded ({', '.join(LAYERS)})"
            )
        if version > 1 and not isinstance(entry.get("config"), dict):
            self.fail(f"has layer {i} ({kind}) without a config object")
        for array_kind in _ARRAY_KINDS:
            arrays = entry.get(array_kind)
            self._need(arrays is None or (isinstance(arrays, dict) and all(
                _is_shape(s) for s in arrays.values())), f"layer {i} {array_kind}",
                "an object of array shapes", arrays)

    def _check_metadata(self, meta):
        """The metadata keys scratchnn itself writes and reads (other keys are free-form)."""
        for key in ("data", "test_data", "target", "split", "trained_at", "task", "python",
                    "numpy"):
            value = meta.get(key)
            self._need(value is None or isinstance(value, str), f"metadata {key}", "a string",
                       value)
        for key in ("n_train", "n_test", "epochs_run"):
            value = meta.get(key)
            self._need(value is None or (_is_int(value) and value >= 0), f"metadata {key}",
                       "a count", value)
        for key in ("stopped_early", "interrupted"):
            value = meta.get(key)
            self._need(value is None or isinstance(value, bool), f"metadata {key}", "true or false",
                       value)
        value = meta.get("seconds")
        self._need(value is None or _is_number(value), "metadata seconds", "a number", value)
        if "input" in meta:
            self._check_input(meta["input"])
        metrics = meta.get("metrics")
        # The command line writes {part: {metric: number}}; a library user may write flat ones.
        self._need(metrics is None or (isinstance(metrics, dict) and all(
            _is_number(part) or (isinstance(part, dict) and all(map(_is_number, part.values())))
            for part in metrics.values())), "metadata metrics",
            "an object of numbers or of {metric: number} objects", metrics)
        options = meta.get("options")
        self._need(options is None or (isinstance(options, dict) and all(
            _is_scalar(v) or (isinstance(v, list) and all(map(_is_scalar, v)))
            for v in options.values())), "metadata options",
            "an object of option values", options)

    def _check_input(self, want):
        """metadata["input"]: what the command line feeds the model (images or a table)."""
        self._need(isinstance(want, dict), "metadata input", "a JSON object", want)
        kind = want.get("kind")
        self._need(kind in (None, "image", "table"), "metadata input kind",
                   '"image" or "table"', kind)
        n = want.get("n_features")
        self._need(n is None or (_is_int(n) and n >= 1), "metadata input n_features",
                   "a positive integer", n)
        shape = want.get("shape")
        self._need(shape is None or (_is_shape(shape, 2) and len(shape) == 2 and min(shape) >= 1
                                     and (n is None or math.prod(shape) == n)),
                   "metadata input shape", "[height, width] of n_features pixels", shape)
        if "max_value" in want or kind == "image":
            value = want.get("max_value")
            self._need(_is_finite_number(value) and value > 0, "metadata input max_value",
                       "a positive number", value)
        if "columns" in want or kind == "table":
            columns = want.get("columns")
            self._need(isinstance(columns, list) and all(isinstance(c, str) for c in columns),
                       "metadata input columns", "a list of column names", columns)

    # -- the layers -------------------------------------------------------------------------------
    def plan(self, desc):
        """Each layer's class, settings and array shapes, checked without building it."""
        return [self._layer_plan(i, entry, desc["format_version"])
                for i, entry in enumerate(desc["layers"])]

    def _layer_plan(self, i, entry, version):
        kind = entry["type"]
        if version == 1:  # format 1 kept a layer's settings beside its type
            config = {k: v for k, v in entry.items() if k not in ("type", *_ARRAY_KINDS)}
        else:
            config = entry["config"]
        cls = LAYERS[kind]
        accepted = inspect.signature(cls).parameters
        required = [name for name, p in accepted.items() if p.default is inspect.Parameter.empty]
        missing = [name for name in required if name not in config]
        if missing:
            self.fail(f"has layer {i} ({kind}) without its setting(s) {missing}")
        unknown = sorted(set(config) - set(accepted))
        if unknown:
            self.fail(f"has layer {i} ({kind}) with unknown setting(s) {_shown(unknown)}")
        if "init" in accepted:
            config = {**config, "init": "zeros"}  # the saved weights overwrite it: no random draws
        try:
            dtype = np.dtype(check_dtype(config.get("dtype", "float32")))
            arrays = cls.array_shapes(config)
        except (TypeError, ValueError) as exc:
            self.fail(f"has layer {i} ({kind}) with invalid settings: {exc}")
        for array_kind in _ARRAY_KINDS:
            described = entry.get(array_kind) or {}
            own = arrays.get(array_kind, {})
            if set(described) != set(own):
                what = "parameters" if array_kind == "params" else "state arrays"
                self.fail(f"describes {what} {_shown(sorted(described))} for layer {i} ({kind}), "
                          f"which has {sorted(own)}")
            for name, shape in own.items():
                if tuple(described[name]) != shape:
                    self.fail(f"has array '{_ARRAY_KINDS[array_kind]}{i}/{name}' for which "
                              f"layer {i} ({kind}) with its settings needs {shape} (described "
                              f"as {_shown(described[name])})")
        return _LayerPlan(cls, config, dtype, arrays)

    def check_arrays(self, desc, plan):
        """Every member's npy header against the shapes planned, before reading any array."""
        headers = {}
        for i, layer in enumerate(plan):
            for array_kind, arrays in layer.arrays.items():
                for name, shape in arrays.items():
                    key = f"{_ARRAY_KINDS[array_kind]}{i}/{name}"
                    header = headers[key] = self.header(key)
                    if header.shape != shape:
                        self.fail(f"has array {key!r} of shape {header.shape}, but layer {i} "
                                  f"({layer.cls.__name__}) needs {shape}")
                    if header.dtype != layer.dtype:
                        self.fail(f"has array {key!r} of dtype {header.dtype}, the layer computes "
                                  f"in {layer.dtype}")
        keys = (desc.get("optimizer") or {}).get("keys", [])
        if len(set(keys)) != len(keys):
            self.fail("names an optimizer array twice")
        for key in keys:
            if not key.startswith(_OPTIMIZER_PREFIX) or key not in self.members:
                self.fail(f"lacks the optimizer array {_shown(key)}")
            headers[key] = self._optimizer_header(key, plan)
        unused = sorted(set(self.members) - set(headers) - {_DESCRIPTION_KEY})
        if unused:
            self.fail(f"holds arrays its description does not mention: {_shown(unused)}")
        return headers

    def _optimizer_header(self, key, plan):
        """An optimizer array: a moment of a parameter has the parameter's shape and dtype;
        counters, the learning rate and hyper-parameters are small."""
        header = self.header(key)
        name = key[len(_OPTIMIZER_PREFIX):]
        parts = name.split(".")
        if parts[0] == "state" and parts[-1] != "step":
            index, param = (parts[1], parts[2]) if len(parts) == 4 else ("", "")
            known = index.isascii() and index.isdigit() and int(index[:9]) < len(plan)
            layer = plan[int(index)] if known else None
            shape = layer.arrays.get("params", {}).get(param) if layer else None
            if shape is None:
                self.fail(f"has optimizer state {key!r} for a parameter the network does not have")
            if header.shape != shape or header.dtype != layer.dtype:
                self.fail(f"has optimizer state {key!r} of shape {header.shape} and dtype "
                          f"{header.dtype} for a parameter of {shape} {layer.dtype}")
        elif math.prod(header.shape) * header.dtype.itemsize > _MAX_SMALL_ARRAY_BYTES:
            self.fail(f"has an optimizer entry {key!r} of shape {header.shape} and dtype "
                      f"{header.dtype}, far larger than a counter or setting")
        return header

    def network(self, desc, plan, headers):
        input_shape = desc.get("input_shape")
        try:
            network = MultiLayerNetwork(input_shape=input_shape)
        except (TypeError, ValueError) as exc:
            self.fail(f"has an invalid input_shape {_shown(input_shape)}: {exc}")
        for i, layer_plan in enumerate(plan):
            arrays = {kind: {name: self.read(headers[f"{_ARRAY_KINDS[kind]}{i}/{name}"],
                                             finite=True)
                             for name in shapes}
                      for kind, shapes in layer_plan.arrays.items()}
            layer = self._build(i, layer_plan)
            for kind in _ARRAY_KINDS:
                own = getattr(layer, kind)
                saved = arrays.get(kind, {})
                if {k: v.shape for k, v in own.items()} != {k: v.shape for k, v in saved.items()}:
                    self.fail(f"has layer {i} ({type(layer).__name__}) whose arrays scratchnn "
                              "cannot check before building it")
                for name, arr in saved.items():
                    own[name][...] = arr
            try:
                network.add(layer)
            except ValueError as exc:
                self.fail(f"describes layers that do not fit together: {exc}")
        network.training = False
        try:
            network.task = desc.get("task")
        except ValueError as exc:
            self.fail(f"has an invalid task: {exc}")
        for key in ("n_features", "n_outputs"):
            if key in desc and desc[key] != getattr(network, key):
                self.fail(f"says {key} = {desc[key]} but its layers give {getattr(network, key)}")
        n_in = ((desc.get("metadata") or {}).get("input") or {}).get("n_features")
        if n_in is not None and network.n_features is not None and n_in != network.n_features:
            self.fail(f"says in its metadata that the model takes {n_in} input values, but its "
                      f"layers take {network.n_features}")
        return network

    def _build(self, i, layer_plan):
        try:
            return layer_plan.cls.from_config(layer_plan.config)
        except MemoryError:
            raise
        except Exception as exc:
            self.fail(f"has layer {i} ({layer_plan.cls.__name__}) with invalid settings: {exc}")

    # -- the rest ---------------------------------------------------------------------------------
    def optimizer(self, entry, headers):
        if entry is None:
            return None
        state = {}
        for key in entry["keys"]:
            finite = key.startswith(_OPTIMIZER_PREFIX + "state.")  # hyper-parameters keep NaN
            state[key[len(_OPTIMIZER_PREFIX):]] = self.read(headers[key], finite=finite)
        try:
            return Optimizer.from_state_dict(state)
        except MemoryError:
            raise
        except Exception as exc:
            self.fail(f"has an optimizer state that cannot be restored: {_why(exc)}")

    def preprocessing(self, entry, name):
        if entry is None:
            return None
        from . import preprocessing

        cls = getattr(preprocessing, entry["type"], None)
        if (not isinstance(cls, type) or cls.__module__ != preprocessing.__name__
                or not callable(getattr(cls, "from_config", None))):
            self.fail(f"has a {name} of unknown type {_shown(entry['type'])}")
        try:
            return cls.from_config(entry["config"])
        except MemoryError:
            raise
        except Exception as exc:
            self.fail(f"has a {name} that cannot be rebuilt: {_why(exc)}")

    def class_names(self, names, network):
        if names is None:
            return None
        try:
            return _check_class_names(names, network)
        except (TypeError, ValueError) as exc:
            self.fail(f"has invalid class names: {exc}")


def _is_scalar(value):
    return value is None or isinstance(value, (str, bool)) or _is_number(value)
