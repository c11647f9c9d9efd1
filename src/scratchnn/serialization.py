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
nothing else either: a truncated file, a pickle, an unknown layer type or setting, or an array
that does not match the shape and dtype the description gives are all refused with a
``ModelFileError`` naming the file and the problem.

Saving is atomic: the archive is written to a temporary file in the same folder and then renamed
over ``path``, so a crash mid-save leaves the previous file as it was.
"""

from __future__ import annotations

import inspect
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ._files import atomic_write
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


def load(path):
    """The network saved in the model file ``path`` (see ``load_model_file`` for the rest)."""
    return load_model_file(path).network


def load_model_file(path):
    """Read the model file ``path``: the network, optimizer, preprocessing and metadata.

    Returns a fitted ``Model``. Raises ``FileNotFoundError`` when there is no file and
    ``ModelFileError`` (a ValueError) when the file is not a complete, safe scratchnn model.
    """
    path = _check_path(path)
    arrays = _read_arrays(path)
    reader = _Reader(path)
    desc = reader.description(arrays.pop(_DESCRIPTION_KEY, None))
    network = reader.network(desc, arrays)
    optimizer = reader.optimizer(desc.get("optimizer"), arrays, network)
    if arrays:
        reader.fail(f"holds arrays its description does not mention: {sorted(arrays)}")
    return Model(
        network=network,
        optimizer=optimizer,
        preprocessor=reader.preprocessing(desc.get("preprocessor"), "preprocessor"),
        class_names=reader.class_names(desc.get("class_names"), network),
        target_scaler=reader.preprocessing(desc.get("target_scaler"), "target_scaler"),
        metadata=reader.dict_entry(desc, "metadata"),
        format_version=desc["format_version"],
        scratchnn_version=desc.get("scratchnn_version"),
    )


_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_MARK = b"\x80"


def _read_arrays(path):
    """Every array in the archive, read eagerly with ``allow_pickle=False``."""
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}.")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file.")
    with open(path, "rb") as fh:
        head = fh.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        if head.startswith(_PICKLE_PROTOCOL_MARK):
            raise ModelFileError(
                f"{path} is a pickle, not a scratchnn model file; scratchnn never unpickles "
                "(loading a pickle can run arbitrary code)."
            )
        what = "is empty" if not head else "is not an .npz archive"
        raise ModelFileError(f"{path} {what}; it is not a scratchnn model file.")
    arrays, key = {}, None
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                arrays[key] = archive[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ModelFileError(
                f"{path} holds a pickled Python object ({key!r}); scratchnn never unpickles "
                "(loading a pickle can run arbitrary code), so the file is refused."
            ) from None
        raise ModelFileError(f"{path} is corrupt ({exc}).") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelFileError(
            f"{path} is truncated or corrupt and cannot be read as a model file ({exc})."
        ) from None
    return arrays


class _Reader:
    """Checks each part of a model file's description, failing with the file's name."""

    def __init__(self, path):
        self.path = path

    def fail(self, problem):
        raise ModelFileError(f"{self.path} {problem}.")

    def description(self, raw):
        if raw is None:
            self.fail(f"has no {_DESCRIPTION_KEY}; it is not a scratchnn model file")
        if raw.dtype != np.uint8 or raw.ndim != 1:
            self.fail(f"has a malformed {_DESCRIPTION_KEY} (dtype {raw.dtype}, shape {raw.shape})")
        try:
            desc = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.fail(f"has a {_DESCRIPTION_KEY} that is not valid JSON ({exc})")
        if not isinstance(desc, dict) or desc.get("format") != FORMAT_NAME:
            self.fail("is not a scratchnn model file (its description names no scratchnn format)")
        version = desc.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.fail(f"has an invalid format version {version!r}")
        if version > FORMAT_VERSION:
            self.fail(
                f"uses model format {version}, written by scratchnn "
                f"{desc.get('scratchnn_version', '?')}; this version reads format "
                f"{FORMAT_VERSION} and older, so upgrade scratchnn to load it"
            )
        if not isinstance(desc.get("layers"), list) or not desc["layers"]:
            self.fail("describes no layers")
        return desc

    def network(self, desc, arrays):
        input_shape = desc.get("input_shape")
        try:
            network = MultiLayerNetwork(input_shape=input_shape)
        except (TypeError, ValueError) as exc:
            self.fail(f"has an invalid input_shape {input_shape!r}: {exc}")
        for i, entry in enumerate(desc["layers"]):
            layer = self._layer(i, entry, desc["format_version"])
            for kind in _ARRAY_KINDS:
                self._fill(i, layer, entry, arrays, kind)
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
        return network

    def _layer(self, i, entry, version):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(kind, str) or kind not in LAYERS:
            self.fail(
                f"has layer {i} of unknown type {kind!r}; only scratchnn's layer types can be "
                f"loaded ({', '.join(LAYERS)})"
            )
        if version == 1:  # format 1 kept a layer's settings beside its type
            config = {k: v for k, v in entry.items() if k not in ("type", *_ARRAY_KINDS)}
        else:
            config = entry.get("config")
            if not isinstance(config, dict):
                self.fail(f"has layer {i} ({kind}) without a config object")
        cls = LAYERS[kind]
        accepted = inspect.signature(cls).parameters
        required = [name for name, p in accepted.items() if p.default is inspect.Parameter.empty]
        missing = [name for name in required if name not in config]
        if missing:
            self.fail(f"has layer {i} ({kind}) without its setting(s) {missing}")
        unknown = sorted(set(config) - set(accepted))
        if unknown:
            self.fail(f"has layer {i} ({kind}) with unknown setting(s) {unknown}")
        if "init" in accepted:
            config = {**config, "init": "zeros"}  # the saved weights overwrite it: no random draws
        try:
            return cls.from_config(config)
        except (TypeError, ValueError) as exc:
            self.fail(f"has layer {i} ({kind}) with invalid settings: {exc}")

    def _fill(self, i, layer, entry, arrays, kind):
        """Copy the saved arrays of ``layer.params`` or ``layer.state`` (``kind``) into it."""
        described = entry.get(kind) or {}
        own = getattr(layer, kind)
        if not isinstance(described, dict) or set(described) != set(own):
            what = "parameters" if kind == "params" else "state arrays"
            self.fail(
                f"describes {what} {sorted(described)} for layer {i} "
                f"({type(layer).__name__}), which has {sorted(own)}"
            )
        for name, p in own.items():
            key = f"{_ARRAY_KINDS[kind]}{i}/{name}"
            arr = arrays.pop(key, None)
            if arr is None:
                self.fail(f"lacks the array {key!r}")
            shape = described[name]
            if not isinstance(shape, list) or list(shape) != list(p.shape) or arr.shape != p.shape:
                self.fail(
                    f"has array {key!r} of shape {arr.shape}, but layer {i} "
                    f"({type(layer).__name__}) needs {p.shape} (described as {shape})"
                )
            if arr.dtype != p.dtype:
                self.fail(
                    f"has array {key!r} of dtype {arr.dtype}, the layer computes in {p.dtype}"
                )
            p[...] = arr

    def optimizer(self, entry, arrays, network):
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("keys"), list):
            self.fail("has a malformed optimizer entry")
        state = {}
        for key in entry["keys"]:
            if not isinstance(key, str) or key not in arrays:
                self.fail(f"lacks the optimizer array {key!r}")
            state[key[len(_OPTIMIZER_PREFIX):]] = arrays.pop(key)
        try:
            return Optimizer.from_state_dict(state)
        except (TypeError, ValueError, KeyError) as exc:
            self.fail(f"has an optimizer state that cannot be restored: {exc}")

    def preprocessing(self, entry, name):
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            self.fail(f"has a malformed {name} entry")
        from . import preprocessing

        cls = getattr(preprocessing, str(entry.get("type")), None)
        if not isinstance(cls, type) or not callable(getattr(cls, "from_config", None)):
            self.fail(f"has a {name} of unknown type {entry.get('type')!r}")
        try:
            return cls.from_config(entry["config"])
        except (TypeError, ValueError, KeyError) as exc:
            self.fail(f"has a {name} that cannot be rebuilt: {exc}")

    def class_names(self, names, network):
        if names is None:
            return None
        if not isinstance(names, list):
            self.fail("has class names that are not a list")
        try:
            return _check_class_names(names, network)
        except (TypeError, ValueError) as exc:
            self.fail(f"has invalid class names: {exc}")

    def dict_entry(self, desc, key):
        value = desc.get(key) or {}
        if not isinstance(value, dict):
            self.fail(f"has a {key} entry that is not a JSON object")
        return value
