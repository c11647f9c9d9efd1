"""Model files from strangers (issue 13, items 4, 10 and 11, and the model-file fuzz test).

A model file is read within the memory its arrays really take, whatever its description claims;
anything that is not a valid model is a ModelFileError naming the file; weights must be finite.
"""

import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnn import (
    BatchNorm1D,
    LinearLayer,
    MultiLayerNetwork,
    ReLULayer,
)
from scratchnn.cli import main
from scratchnn.optim import Adam
from scratchnn.preprocessing import Scaler
from scratchnn.serialization import ModelFileError, load_model_file, save

MiB = 2**20


# -- building files --------------------------------------------------------------------------------
@functools.cache
def model_bytes():
    """A complete model file: BatchNorm state, Adam state, a scaler, class names, CLI metadata."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    net = MultiLayerNetwork([LinearLayer(4, 6, rng=0), BatchNorm1D(6), ReLULayer(),
                             LinearLayer(6, 3, rng=1)])
    opt = Adam(clip_norm=None)
    net.fit(X, y, optimizer=opt, epochs=1, batch_size=16, seed=0, verbose=0)
    metadata = {"task": "classification", "data": "csv:toy.csv", "target": "label",
                "input": {"kind": "table", "columns": ["a", "b", "c", "d"], "n_features": 4},
                "metrics": {"test": {"accuracy": 0.5, "loss": 1.0}},
                "options": {"epochs": 1, "hidden": [6]}, "n_train": 64, "seconds": 0.1}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.npz"
        save(net, path, optimizer=opt, preprocessor=Scaler().fit(X),
             class_names=["a", "b", "c"], metadata=metadata)
        return path.read_bytes()


def members(data):
    """{member name: bytes} of a model file's bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def zip_bytes(files, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def description(files):
    return json.loads(np.load(io.BytesIO(files["model.json.npy"])).tobytes())


def with_description(files, desc):
    text = json.dumps(desc).encode()
    return {**files, "model.json.npy": npy(np.frombuffer(text, dtype=np.uint8))}


def edited(edit):
    """The model file's members after ``edit(description, members)``."""
    files = members(model_bytes())
    desc = description(files)
    edit(desc, files)
    return with_description(files, desc)


def write(tmp_path, data, name="model.npz"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else zip_bytes(data))
    return path


def load_traced(path):
    """load_model_file(path) and the peak of Python and NumPy allocations while it ran."""
    tracemalloc.start()
    try:
        result = load_model_file(path)
    except BaseException as exc:
        result = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak


def refused(path, match=None, peak_below=16 * MiB):
    """Assert that loading ``path`` is a ModelFileError naming it, within ``peak_below``."""
    result, peak = load_traced(path)
    assert isinstance(result, ModelFileError), repr(result)
    assert str(path) in str(result)
    if match is not None:
        assert match in str(result), str(result)
    assert peak < peak_below, f"{peak / MiB:.1f} MiB"
    return str(result)


def test_the_base_file_loads(tmp_path):
    model = load_model_file(write(tmp_path, model_bytes()))
    assert model.optimizer is not None and model.class_names == ["a", "b", "c"]


# -- item 4: bounded before allocated --------------------------------------------------------------
def huge_linear(n):
    def edit(desc, files):
        desc["layers"][0]["config"].update(n_in=n, n_out=n)
        desc["layers"][0]["params"] = {"W": [n, n], "b": [1, n]}
    return edit


@pytest.mark.parametrize("n", [30_000, 10**6])
def test_a_huge_declared_layer_is_refused_before_anything_is_allocated(tmp_path, n):
    # Before: 30000 cost 3.5 GB and 11 s; 10^6 was a MemoryError.
    refused(write(tmp_path, edited(huge_linear(n))), f"needs ({n}, {n})", peak_below=4 * MiB)


def test_a_huge_declared_layer_loads_nothing_under_an_address_space_limit(tmp_path):
    """The same file in a process that may not grow by more than 512 MiB."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    path = write(tmp_path, edited(huge_linear(30_000)))
    code = f"""
import resource
from scratchnn.serialization import ModelFileError, load_model_file
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1])
limit = size * 1024 + 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    load_model_file({str(path)!r})
except ModelFileError:
    print("ModelFileError")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert out.stdout.strip() == "ModelFileError", out.stderr[-2000:]


def test_the_layer_is_not_built_before_its_arrays_are_checked(tmp_path, monkeypatch):
    built = []
    original = LinearLayer.from_config.__func__
    monkeypatch.setattr(LinearLayer, "from_config",
                        classmethod(lambda cls, c: built.append(c) or original(cls, c)))
    refused(write(tmp_path, edited(huge_linear(30_000))))
    assert built == []


def test_a_header_announcing_more_than_its_member_holds_is_refused(tmp_path):
    # The description, the settings and the npy header all say 30000 x 30000; the data is 96 bytes.
    def edit(desc, files):
        huge_linear(30_000)(desc, files)
        files["params/0/W.npy"] = npy_header((30_000, 30_000)) + bytes(96)
        files["params/0/b.npy"] = npy_header((1, 30_000)) + bytes(24)
    refused(write(tmp_path, edited(edit)), "header announces", peak_below=4 * MiB)


def deflated_zeros(name, header, nbytes):
    """A zip member of ``header`` followed by ``nbytes`` zeros, deflated (a zip bomb)."""
    def add(zf):
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write(header)
            for _ in range(nbytes // MiB):
                fh.write(bytes(MiB))
    return add


def bomb_file(path, edit, add):
    files = edited(edit)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            if name not in ("params/0/W.npy",) or add is None:
                zf.writestr(name, data)
        if add is not None:
            add(zf)
    return path


def test_a_zip_bomb_weight_is_refused_from_the_directory(tmp_path):
    # A 64 MiB all-zero W, as its description and header say, deflated to ~64 KB: refused before
    # inflating (before: a 2.1 MB file with a 2 GiB zero member cost 2.1 GB and 7 s).
    n = 4096
    path = bomb_file(tmp_path / "bomb.npz", huge_linear(n),
                     deflated_zeros("params/0/W.npy", npy_header((n, n)), n * n * 4))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("params/0/W.npy")
        assert info.file_size > 500 * info.compress_size
    refused(path, "zip bomb", peak_below=4 * MiB)


def test_compressed_members_are_capped_together(tmp_path):
    # Two deflated members of 12 MiB each: each under the 16 MiB floor, together over it.
    path = tmp_path / "bombs.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members(model_bytes()).items():
            zf.writestr(name, data)
        for name in ("a.npy", "b.npy"):
            deflated_zeros(name, npy_header((3 * MiB,)), 12 * MiB)(zf)
    refused(path, "zip bomb", peak_below=4 * MiB)


def test_a_member_the_description_does_not_mention_is_never_read(tmp_path):
    files = members(model_bytes())
    files["extra.npy"] = npy(np.zeros(8 * MiB // 4, dtype=np.float32))  # stored, 8 MiB
    message = refused(write(tmp_path, files), "does not mention", peak_below=2 * MiB)
    assert "extra" in message


def test_a_real_model_still_costs_what_its_arrays_take(tmp_path):
    path = tmp_path / "big.npz"
    save(MultiLayerNetwork([LinearLayer(1024, 1024, rng=0)]), path)  # 4 MiB of weights
    model, peak = load_traced(path)
    assert model.network.layers[0].params["W"].shape == (1024, 1024)
    assert peak < 4 * 4 * MiB  # the weights, their gradients and the reading buffer


# -- item 10: one error type, naming the file ------------------------------------------------------
def header_edit(old, new):
    def edit(desc, files):
        raw = files["params/0/W.npy"]
        assert old in raw[:128]
        files["params/0/W.npy"] = raw.replace(old, new, 1)
    return edit


@pytest.mark.parametrize("edit", [
    header_edit(b"{'descr'", b"{'descr\""),  # tokenize.TokenError in numpy's header parser
    header_edit(b"'shape': (", b"'shape': ["),
    header_edit(b"'shape': (4", b"'shape': (-4"),
    header_edit(b"'<f4'", b"'|O8'"),
    header_edit(b"'<f4'", b"'<U9'"),
    header_edit(b"\x93NUMPY\x01", b"\x93NUMPY\x09"),
    header_edit(b"'fortran_order': False", b"'fortran_order': Fals)"),
], ids=["quote", "bracket", "negative", "object", "unicode", "version", "token"])
def test_a_broken_array_header_is_a_model_file_error(tmp_path, edit):
    refused(write(tmp_path, edited(edit)))


def test_one_byte_changes_are_model_file_errors_or_load(tmp_path):
    data = model_bytes()
    path = tmp_path / "m.npz"
    for i in range(0, len(data), 23):  # every 23rd byte: a few seconds; the fuzz tests do more
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        try:
            load_model_file(path)
        except ModelFileError as exc:
            assert str(path) in str(exc)


def test_deeply_nested_json_is_refused(tmp_path):
    # Before: RecursionError. json.dumps recurses too, so the text is built by hand.
    files = members(model_bytes())
    text = json.dumps(description(files))[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    files["model.json.npy"] = npy(np.frombuffer(text.encode(), dtype=np.uint8))
    refused(write(tmp_path, files), "nested more than")


def zip_directory_edit(data, offset_in_entry, value):
    """``data`` with a 2-byte field of every central directory entry set to ``value``."""
    data = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        data[at + offset_in_entry:at + offset_in_entry + 2] = value.to_bytes(2, "little")
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


@pytest.mark.parametrize("offset, value", [(10, 99), (8, 1), (10, zipfile.ZIP_BZIP2)],
                         ids=["unknown-method", "encrypted", "bzip2"])
def test_zip_directory_edits_are_model_file_errors(tmp_path, offset, value):
    # Before: NotImplementedError (method 99) and RuntimeError (encrypted).
    refused(write(tmp_path, zip_directory_edit(model_bytes(), offset, value)))


def meta_edit(key, value):
    return lambda desc, files: desc["metadata"].__setitem__(key, value)


def input_edit(**changes):
    def edit(desc, files):
        for key, value in changes.items():
            if value is None:
                desc["metadata"]["input"].pop(key)
            else:
                desc["metadata"]["input"][key] = value
    return edit


LONG_KEY = "optimizer/state." + "9" * 5000 + ".W.exp_avg"  # int() refuses 5000 digits
WRONG_TYPES = {
    "input-list": meta_edit("input", []),
    "input-null": meta_edit("input", None),
    "table-without-columns": input_edit(columns=None),
    "columns-not-names": input_edit(columns=[1, 2]),
    "image-without-max-value": input_edit(kind="image"),
    "image-shape": input_edit(kind="image", max_value=16, shape=[2]),
    "input-n-features": input_edit(n_features=5),
    "metrics-list": meta_edit("metrics", [0.5]),
    "metrics-text": meta_edit("metrics", {"test": {"accuracy": "high"}}),
    "data-number": meta_edit("data", 5),
    "target-list": meta_edit("target", ["y"]),
    "options-list": meta_edit("options", ["--epochs", "3"]),
    "n-train-text": meta_edit("n_train", "64"),
    "metadata-list": lambda d, f: d.__setitem__("metadata", [1]),
    "n-in-text": lambda d, f: d["layers"][0]["config"].__setitem__("n_in", "4"),
    "n-in-float": lambda d, f: d["layers"][0]["config"].__setitem__("n_in", 4.0),
    "dtype-object": lambda d, f: d["layers"][0]["config"].__setitem__("dtype", {"a": 1}),
    "params-shape-text": lambda d, f: d["layers"][0].__setitem__("params", {"W": "4x6"}),
    "layer-not-object": lambda d, f: d["layers"].__setitem__(0, "LinearLayer"),
    "layers-object": lambda d, f: d.__setitem__("layers", {"0": {}}),
    "class-names-object": lambda d, f: d.__setitem__("class_names", {"a": 1}),
    "class-names-nested": lambda d, f: d.__setitem__("class_names", [["a"], "b", "c"]),
    "optimizer-keys": lambda d, f: d["optimizer"].__setitem__("keys", 5),
    "optimizer-key-number": lambda d, f: d["optimizer"]["keys"].append(5),
    "optimizer-key-index": lambda d, f: (
        d["optimizer"]["keys"].append(LONG_KEY), f.__setitem__(LONG_KEY + ".npy", npy([0.0]))),
    "preprocessor-list": lambda d, f: d.__setitem__("preprocessor", ["Scaler"]),
    "preprocessor-center": lambda d, f: d["preprocessor"]["config"].__setitem__("center", 5),
    "preprocessor-method": lambda d, f: d["preprocessor"]["config"].__setitem__("method", []),
    "preprocessor-module-name": lambda d, f: d["preprocessor"].__setitem__("type", "np"),
    "input-shape-text": lambda d, f: d.__setitem__("input_shape", "4"),
    "task-number": lambda d, f: d.__setitem__("task", 3),
    "version-text": lambda d, f: d.__setitem__("format_version", "2"),
    "huge-int": lambda d, f: d["layers"][0]["config"].__setitem__("n_in", 10**5000),
}


@pytest.mark.parametrize("edit", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_description_of_the_wrong_shape_is_a_model_file_error(tmp_path, edit):
    if edit is WRONG_TYPES["huge-int"]:  # json.dumps refuses it too; write the digits by hand
        files = members(model_bytes())
        text = json.dumps(description(files)).replace('"n_in": 4', '"n_in": ' + "9" * 5000, 1)
        files["model.json.npy"] = npy(np.frombuffer(text.encode(), dtype=np.uint8))
    else:
        files = edited(edit)
    refused(write(tmp_path, files))


@pytest.mark.parametrize("name", ["input-list", "table-without-columns", "metrics-list",
                                  "data-number"])
@pytest.mark.parametrize("command", ["info", "evaluate", "predict"])
def test_the_command_line_reports_a_bad_file_without_a_traceback(tmp_path, capsys, name,
                                                                 command):
    path = write(tmp_path, edited(WRONG_TYPES[name]))
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b,c,d\n1,2,3,4\n")
    extra = {"info": [], "evaluate": [], "predict": ["--input", rows]}[command]
    code = main([command, "--model", str(path), *map(str, extra)])
    _, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in err and str(path) in err and "model" in err


# -- item 11: finite weights -----------------------------------------------------------------------
def array_edit(key, value):
    def edit(desc, files):
        arr = np.load(io.BytesIO(files[key + ".npy"])).copy()
        arr.flat[0] = value
        files[key + ".npy"] = npy(arr)
    return edit


@pytest.mark.parametrize("key, value", [
    ("params/0/W", np.nan), ("params/3/b", np.inf), ("state/1/running_var", -np.inf),
    ("params/1/gamma", np.nan), ("optimizer/state.0.W.exp_avg", np.nan),
])
def test_non_finite_weights_are_refused(tmp_path, key, value):
    # Before: loaded silently; predict printed class 0 with an empty probability.
    message = refused(write(tmp_path, edited(array_edit(key, value))), "NaN or infinite")
    assert key in message


def test_an_unset_hyper_parameter_saved_as_nan_still_loads(tmp_path):
    model = load_model_file(write(tmp_path, model_bytes()))
    assert model.optimizer.clip_norm is None


# -- the fuzz test ---------------------------------------------------------------------------------
FUZZ = settings(max_examples=80, deadline=5000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def loads_cleanly_or_is_refused(tmp_path, data):
    """The one property: a ModelFileError (or a model), within a few MiB."""
    path = write(tmp_path, data, "fuzz.npz")
    result, peak = load_traced(path)
    if isinstance(result, BaseException):
        assert isinstance(result, (ModelFileError, FileNotFoundError)), repr(result)
        assert str(path) in str(result)
    assert peak < 32 * MiB, f"{peak / MiB:.1f} MiB"


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                        min_size=1, max_size=6),
       cut=st.none() | st.integers(0, 10**6))
def test_fuzz_raw_bytes(tmp_path, changes, cut):
    data = bytearray(model_bytes())
    for at, byte in changes:
        data[at % len(data)] = byte
    if cut is not None:
        data = data[:cut % len(data)]
    loads_cleanly_or_is_refused(tmp_path, bytes(data))


@FUZZ
@given(member=st.integers(0, 100), changes=st.lists(
    st.tuples(st.integers(0, 127), st.sampled_from(b"0123456789()[]{}',:-\" <>|fiuUO\x00\xff")),
    min_size=1, max_size=4))
def test_fuzz_array_headers(tmp_path, member, changes):
    """npy headers edited and the zip rewritten with valid checksums."""
    files = members(model_bytes())
    name = sorted(files)[member % len(files)]
    raw = bytearray(files[name])
    for at, byte in changes:
        raw[at % min(len(raw), 128)] = byte
    files[name] = bytes(raw)
    loads_cleanly_or_is_refused(tmp_path, zip_bytes(files))


def json_paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, (*path, i))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=8) | st.sampled_from(["image", "table", "LinearLayer", "float64"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["kind", "shape", "columns", "n_in", "W", "type",
                                       "config", "keys", "x"]), children, max_size=4),
    max_leaves=10)


@FUZZ
@given(data=st.data())
def test_fuzz_description(tmp_path, data):
    """One or more entries of model.json replaced by any JSON value (the zip stays valid)."""
    files = members(model_bytes())
    desc = description(files)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in json_paths(desc) if p]
        path = data.draw(st.sampled_from(paths))
        parent = desc
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = data.draw(JSON_VALUES)
    loads_cleanly_or_is_refused(tmp_path, zip_bytes(with_description(files, desc)))
