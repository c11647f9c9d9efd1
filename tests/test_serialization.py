"""Model files: exact round trips, resumable optimizer state, refusal of unsafe or broken files."""

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scratchnn import (
    DropoutLayer,
    IdentityLayer,
    LeakyReLULayer,
    LinearLayer,
    MultiLayerNetwork,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
)
from scratchnn.optim import SGD, Adagrad, Adam, AdamW, RMSProp
from scratchnn.serialization import FORMAT_VERSION, ModelFileError, load, load_model_file, save
from scratchnn.training import ModelCheckpoint


def every_layer_network(dtype):
    """A network using every saveable layer type, with non-zero biases."""
    rng = np.random.default_rng(0)
    net = MultiLayerNetwork([
        LinearLayer(5, 8, rng=rng, dtype=dtype), LeakyReLULayer(alpha=0.2),
        LinearLayer(8, 8, rng=rng, dtype=dtype), TanhLayer(), DropoutLayer(p=0.25),
        LinearLayer(8, 6, rng=rng, dtype=dtype), SigmoidLayer(), IdentityLayer(),
        LinearLayer(6, 6, rng=rng, dtype=dtype), ReLULayer(),
        LinearLayer(6, 3, rng=rng, dtype=dtype), SoftmaxLayer(),
    ])
    for _, name, p in net.parameters():
        if name == "b":
            p[...] = rng.normal(size=p.shape)
    return net


def toy_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return X, y


def read_raw(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    return json.loads(arrays["model.json"].tobytes().decode()), arrays


def write_raw(path, desc, arrays, allow_pickle=False):
    arrays = dict(arrays)
    arrays["model.json"] = np.frombuffer(json.dumps(desc).encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, allow_pickle=allow_pickle, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    net = MultiLayerNetwork.from_sizes([4, 6, 3], rng=0)
    save(net, path, class_names=["a", "b", "c"])
    return path, net


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_predicts_exactly_the_same(tmp_path, dtype):
    net = every_layer_network(dtype)
    X = np.random.default_rng(1).normal(size=(40, 5)).astype(dtype)
    path = tmp_path / "net.npz"
    save(net, path)
    loaded = load(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in net.layers]
    assert loaded.layers[1].alpha == 0.2 and loaded.layers[4].p == 0.25
    assert loaded.dtype is dtype
    out = loaded.predict_raw(X)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, net.predict_raw(X))
    for (_, _, a), (_, _, b) in zip(loaded.parameters(), net.parameters(), strict=True):
        assert a.dtype == b.dtype and a is not b


def test_class_names_metadata_and_version_are_kept(tmp_path):
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0)
    path = tmp_path / "m.npz"
    meta = {"data": "toy", "epochs": np.int64(3), "metrics": {"acc": np.float32(0.5)},
            "curve": np.array([1.0, 0.5])}
    save(net, path, class_names=[np.int64(0), 1, 2], metadata=meta)
    model = load_model_file(path)
    assert model.class_names == [0, 1, 2]
    assert model.metadata == {"data": "toy", "epochs": 3, "metrics": {"acc": 0.5},
                              "curve": [1.0, 0.5]}
    assert model.optimizer is None and model.preprocessor is None
    assert model.format_version == FORMAT_VERSION == 2 and model.scratchnn_version


def test_saving_leaves_only_the_model_file(tmp_path):
    path = tmp_path / "sub" / "dir" / "model.npz"
    save(MultiLayerNetwork.from_sizes([2, 2], rng=0), path)
    assert sorted(os.listdir(path.parent)) == ["model.npz"]
    # Every member is a plain .npy array; nothing in the file is pickled.
    with zipfile.ZipFile(path) as zf:
        assert all(name.endswith(".npy") for name in zf.namelist())
    _, arrays = read_raw(path)
    assert not any(a.dtype.hasobject for a in arrays.values())


def test_preprocessing_round_trip_predicts_in_the_target_units(tmp_path):
    from scratchnn.preprocessing import Preprocessor, Scaler

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"size": rng.uniform(50, 200, 60), "city": rng.choice(["a", "b"], 60)})
    y = (1000 * table["size"] + 5e4 * (table["city"] == "b")).to_numpy().reshape(-1, 1)
    pre, target = Preprocessor().fit(table), Scaler().fit(y)
    net = MultiLayerNetwork.from_sizes([3, 8, 1], rng=0)
    net.fit(pre.transform(table), target.transform(y.astype(np.float32)), epochs=20,
            optimizer="adam", lr=0.01, seed=0, verbose=0)
    save(net, tmp_path / "m.npz", preprocessor=pre, target_scaler=target)
    model = load_model_file(tmp_path / "m.npz")
    assert isinstance(model.preprocessor, Preprocessor) and isinstance(model.target_scaler, Scaler)
    expected = target.inverse_transform(net.predict_raw(pre.transform(table)))
    np.testing.assert_array_equal(model.predict(table), expected)
    assert abs(model.predict(table).mean() - y.mean()) < 0.2 * y.std()  # in the target's units


# -- optimizer state -----------------------------------------------------------------------------
def _resume_case(make_opt, tmp_path):
    X, y = toy_data()
    net = MultiLayerNetwork.from_sizes([4, 8, 3], rng=0)
    opt = make_opt()
    net.fit(X, y, optimizer=opt, epochs=2, batch_size=16, seed=0, verbose=0)
    path = tmp_path / "ckpt.npz"
    save(net, path, optimizer=opt)
    net.fit(X, y, optimizer=opt, epochs=2, batch_size=16, seed=1, verbose=0)
    return X, y, net, opt, path


@pytest.mark.parametrize("make_opt", [
    lambda: Adam(lr=0.01, clip_norm=1.0),
    lambda: AdamW(lr=0.01, amsgrad=True),
    lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
    lambda: RMSProp(lr=0.01, momentum=0.5),
    lambda: Adagrad(lr=0.05, lr_decay=0.01),
], ids=["adam", "adamw", "sgd-nesterov", "rmsprop", "adagrad"])
def test_optimizer_state_resumes_training_bit_identically(tmp_path, make_opt):
    X, y, net, opt, path = _resume_case(make_opt, tmp_path)
    model = load_model_file(path)
    assert type(model.optimizer) is type(opt)
    assert model.optimizer.hyperparameters() == opt.hyperparameters()
    model.network.fit(X, y, optimizer=model.optimizer, epochs=2, batch_size=16, seed=1, verbose=0)
    for a, b in zip(model.network.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == opt.iterations


def test_resuming_with_a_fresh_optimizer_would_differ(tmp_path):
    # The check above can fail: without the saved moments the same run ends elsewhere.
    X, y, net, _, path = _resume_case(lambda: Adam(lr=0.01), tmp_path)
    fresh = load(path)
    fresh.fit(X, y, optimizer=Adam(lr=0.01), epochs=2, batch_size=16, seed=1, verbose=0)
    assert not np.array_equal(fresh.get_weights()[0], net.get_weights()[0])


def test_model_checkpoint_saves_the_optimizer_too(tmp_path):
    X, y = toy_data()
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0)
    path = tmp_path / "ckpt-{epoch}.npz"
    net.fit(X, y, optimizer="adam", epochs=2, batch_size=40, seed=0, verbose=0,
            callbacks=[ModelCheckpoint(path, save_best_only=False)])
    model = load_model_file(tmp_path / "ckpt-2.npz")
    assert isinstance(model.optimizer, Adam) and model.optimizer.iterations == 6
    np.testing.assert_array_equal(model.network.predict_raw(X), net.predict_raw(X))


# -- atomic saving -------------------------------------------------------------------------------
def test_a_save_failing_midway_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save(MultiLayerNetwork.from_sizes([4, 3], rng=0), path)
    before = path.read_bytes()
    real_savez = np.savez

    def savez_then_crash(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)
        file.truncate(file.tell() // 2)  # half the archive is on disk when the "crash" comes
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="disk full"):
        save(MultiLayerNetwork.from_sizes([4, 16, 3], rng=1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    load(path)


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def crash(file, *args, **kwargs):
        file.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save(MultiLayerNetwork.from_sizes([4, 3], rng=0), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


# -- refusing bad files --------------------------------------------------------------------------
class _Trap:
    """Unpickling this would create the file ``marker``: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_array_is_refused_without_unpickling(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "pwned"
    desc, arrays = read_raw(path)
    arrays["params/0/W"] = np.array([_Trap(marker)], dtype=object)
    write_raw(path, desc, arrays, allow_pickle=True)
    with pytest.raises(ModelFileError, match="pickled Python object") as err:
        load(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_a_plain_pickle_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(ModelFileError, match="is a pickle"):
        load(path)
    assert not marker.exists()


def test_unknown_layer_type_is_refused(saved):
    path, _ = saved
    desc, arrays = read_raw(path)
    desc["layers"][1]["type"] = "os.system"
    write_raw(path, desc, arrays)
    with pytest.raises(ModelFileError, match=r"layer 1 of unknown type 'os\.system'"):
        load(path)


def test_saving_a_layer_it_could_not_load_is_refused(tmp_path):
    class MyReLU(ReLULayer):
        pass

    net = MultiLayerNetwork([LinearLayer(2, 2), MyReLU()])
    with pytest.raises(TypeError, match="layer 1 is a MyReLU, which cannot be saved"):
        save(net, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("keep", [0, 2, 30, 0.5, 0.9, -1])
def test_truncated_file_is_refused_with_its_name(saved, keep):
    path, _ = saved
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (keep % len(data))
    path.write_bytes(data[:n])
    with pytest.raises(ModelFileError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message
    assert any(word in message for word in ("truncated", "empty", "not an .npz"))


def test_corrupted_bytes_are_refused(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    start = data.index(b"\x93NUMPY") + 200  # inside the first array's payload
    data[start:start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupt"):
        load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda d, a: a.__setitem__("params/0/W", np.zeros((4, 5), np.float32)),
     r"'params/0/W' of shape \(4, 5\), but layer 0 \(LinearLayer\) needs \(4, 6\)"),
    (lambda d, a: a.__setitem__("params/2/b", np.zeros((1, 3), np.float64)),
     "dtype float64, the layer computes in float32"),
    (lambda d, a: d["layers"][0]["config"].__setitem__("n_out", 7),
     r"needs \(4, 7\) \(described as \[4, 6\]\)"),
    (lambda d, a: a.pop("params/2/W"), "lacks the array 'params/2/W'"),
    (lambda d, a: a.__setitem__("extra", np.zeros(3)), r"does not mention: \['extra'\]"),
    (lambda d, a: d["layers"][0]["config"].pop("n_in"), r"without its setting\(s\) \['n_in'\]"),
    (lambda d, a: d["layers"][0]["config"].__setitem__("dtype", "int8"), "invalid settings"),
    (lambda d, a: d["layers"][1]["config"].__setitem__("beta", 2),
     r"unknown setting\(s\) \['beta'\]"),
    (lambda d, a: d["layers"][1].__setitem__("config", [0.1]), "without a config object"),
    (lambda d, a: d.__setitem__("input_shape", [0]), "invalid input_shape"),
    (lambda d, a: d.__setitem__("format_version", 99), "upgrade scratchnn"),
    (lambda d, a: d.__setitem__("format", "other"), "not a scratchnn model file"),
    (lambda d, a: d.__setitem__("class_names", ["a", "b"]), "invalid class names"),
    (lambda d, a: d.__setitem__("preprocessor", {"type": "train_test_split", "config": {}}),
     "has a preprocessor of unknown type 'train_test_split'"),
    (lambda d, a: d.__setitem__("target_scaler", {"type": "Scaler", "config": {"kind": "x"}}),
     "has a target_scaler that cannot be rebuilt"),
    (lambda d, a: d.__setitem__("optimizer", {"type": "Adam", "keys": ["optimizer/lr"]}),
     "lacks the optimizer array 'optimizer/lr'"),
], ids=["shape", "dtype", "described-shape", "missing", "extra", "setting", "bad-dtype",
        "unknown-setting", "config-not-object", "input-shape",
        "newer-format", "format", "class-names", "preprocessor-type", "scaler-config",
        "optimizer-array"])
def test_inconsistent_file_is_refused(saved, edit, message):
    path, _ = saved
    desc, arrays = read_raw(path)
    edit(desc, arrays)
    write_raw(path, desc, arrays)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_files_that_are_not_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load(tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="is a folder"):
        load(tmp_path)
    plain = tmp_path / "arrays.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(ModelFileError, match="has no model.json"):
        load(plain)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        load(npy)


def test_save_checks_its_arguments(tmp_path):
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0)
    with pytest.raises(TypeError, match="must be a MultiLayerNetwork"):
        save("net", tmp_path / "m.npz")
    with pytest.raises(ValueError, match="no layers"):
        save(MultiLayerNetwork(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="path must be a str"):
        save(net, 3)
    with pytest.raises(ValueError, match="got 2 class names for a network with 3"):
        save(net, tmp_path / "m.npz", class_names=["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        save(net, tmp_path / "m.npz", class_names=["a", "a", "b"])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save(net, tmp_path / "m.npz", metadata={"when": object()})
    with pytest.raises(TypeError, match="to_config"):
        save(net, tmp_path / "m.npz", preprocessor=object())
    with pytest.raises(TypeError, match="scratchnn.optim optimizer"):
        save(net, tmp_path / "m.npz", optimizer="adam")
    assert os.listdir(tmp_path) == []


def test_a_model_file_of_format_1_still_loads_and_predicts_as_it_did():
    # Written by scratchnn 0.1.0 (format 1: settings beside each layer's type, no input_shape)
    # from a 4-6-3 network with LeakyReLU, dropout and softmax, trained 2 epochs with Adam.
    data = Path(__file__).parent / "data"
    model = load_model_file(data / "model_v1.npz")
    assert model.format_version == 1
    assert model.class_names == ["a", "b", "c"]
    net = model.network
    assert net.input_shape == (4,) and net.n_outputs == 3
    assert [type(layer).__name__ for layer in net.layers] == [
        "LinearLayer", "LeakyReLULayer", "DropoutLayer", "LinearLayer", "SoftmaxLayer"]
    assert net.layers[1].alpha == 0.1 and net.layers[2].p == 0.2
    np.testing.assert_array_equal(net.predict_raw(np.load(data / "model_v1_inputs.npy")),
                                  np.load(data / "model_v1_outputs.npy"))
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.iterations == 2
