"""ONNX export (``scratchnn.export``): every model kind checked by ``onnx.checker`` and run by
onnxruntime, whose outputs must equal scratchnn's on held-out rows (float32: probabilities within
1e-5, identical labels; regression values within 1e-5 relative) at batch sizes 1 and 1000.
Also: refused layers are named and nothing is written, and the command line's export and info."""

import numpy as np
import pytest
from fixtures import housing_like

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from scratchnn.cli import main  # noqa: E402
from scratchnn.datasets import load_digits  # noqa: E402
from scratchnn.export import _CONVERTERS, describe_onnx, export_onnx, to_onnx  # noqa: E402
from scratchnn.layers import (  # noqa: E402
    LAYERS,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    DropoutLayer,
    Flatten,
    GlobalAvgPool2D,
    IdentityLayer,
    Layer,
    LeakyReLULayer,
    LinearLayer,
    MaxPool2D,
    ReLULayer,
    Reshape,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
)
from scratchnn.model import Model  # noqa: E402
from scratchnn.network import MultiLayerNetwork  # noqa: E402
from scratchnn.serialization import save  # noqa: E402

PROBA_TOL = 1e-5
BATCH_SIZES = (1, 1000)


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(sess, feeds):
    """{output name: array} of one onnxruntime run."""
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds), strict=True))


def batches(n_rows, seed=0):
    """Row indices of held-out data: one row, and 1000 drawn with replacement."""
    rng = np.random.default_rng(seed)
    return {1: np.array([int(rng.integers(n_rows))]), 1000: rng.choice(n_rows, 1000)}


def table_feeds(model, table):
    """A raw table as the exported graph's inputs: X (numeric columns in the preprocessor's
    order, float32; NaN for gaps) and one string column (batch, 1) per categorical column."""
    pre = model.preprocessor
    feeds = {"X": table[pre.numeric_].to_numpy(dtype=np.float32)}
    for column in pre.categorical_:
        feeds[column] = table[[column]].astype(str).to_numpy()
    return feeds


def check_classifier(name, model, X, feeds_of, opset=17):
    """ORT's label and probabilities equal Model.predict and predict_proba on rows of X."""
    proto = to_onnx(model, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    worst = 0.0
    for size, rows in batches(len(X)).items():
        part = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        got = run(sess, feeds_of(part))
        assert got["probabilities"].shape == (size, len(model.class_names))
        assert got["label"].shape == (size,)
        np.testing.assert_array_equal(got["label"], model.predict(part))
        diff = float(np.abs(got["probabilities"] - model.predict_proba(part)).max())
        assert diff <= PROBA_TOL, f"{name}, batch {size}: max |diff| {diff:.3g}"
        worst = max(worst, diff)
    print(f"{name}: max |probability difference| {worst:.3g}")
    return proto


def check_regressor(name, model, X, feeds_of, opset=17):
    proto = to_onnx(model, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    worst = 0.0
    for _, rows in batches(len(X)).items():
        part = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        got = run(sess, feeds_of(part))["variable"]
        want = model.predict(part)
        assert got.shape == want.shape
        diff = float(np.abs(got - want).max() / np.abs(want).max())
        assert diff <= 1e-5, f"{name}: max relative difference {diff:.3g}"
        worst = max(worst, diff)
    print(f"{name}: max |difference| / max |value| {worst:.3g}")
    return proto


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:1200], y[:1200], X[1200:], y[1200:]


@pytest.fixture(scope="module")
def housing():
    table = housing_like(400, seed=0)
    value = table.pop("median_house_value")
    return table[:300], value[:300], table[300:]


# -- the five models of the issue ------------------------------------------------------------------
def test_mlp_classifier_digits(digits):
    X, y, X_test, _ = digits
    model = Model(hidden=(32, 16)).fit(X, y, epochs=4, verbose=0)
    proto = check_classifier("MLP classifier (digits)", model, X_test.astype(np.float32),
                             lambda part: {"X": part})
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["class_names"] == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
    assert meta["task"] == "multiclass"


def test_binary_classifier_one_logit_with_string_labels(digits):
    X, y, X_test, _ = digits
    names = np.where(y % 2 == 1, "odd", "even")
    model = Model(hidden=(16,), task="binary").fit(X, names, epochs=3, verbose=0)
    assert model.network.n_outputs == 1 and not isinstance(model.network.layers[-1],
                                                           SigmoidLayer)
    proto = check_classifier("binary classifier (one logit)", model,
                             X_test.astype(np.float32), lambda part: {"X": part})
    label = next(o for o in proto.graph.output if o.name == "label")
    assert label.type.tensor_type.elem_type == onnx.TensorProto.STRING


def test_multi_output_regressor():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.column_stack([X @ rng.normal(size=6) * 50 + 300, np.tanh(X[:, 0]) * 4, X[:, 1] ** 2])
    model = Model(hidden=(16,)).fit(X[:300], y[:300], epochs=5, verbose=0)
    assert model.target_scaler is not None and model.network.n_outputs == 3
    check_regressor("multi-output regressor", model, X[300:], lambda part: {"X": part})


@pytest.mark.parametrize("opset", [17, 19])
def test_housing_regressor_with_its_preprocessing(housing, opset):
    """Imputed and scaled numbers, one-hot ocean_proximity from a string input (ONNX-ML's
    OneHotEncoder at opset 17, Equal on strings at 19), the target scaling inverted."""
    X, y, X_test = housing
    assert X_test["total_bedrooms"].isna().any()  # the gaps are imputed inside the graph
    model = Model(hidden=(32,)).fit(X, y, epochs=5, verbose=0)
    proto = check_regressor(f"housing regressor with preprocessing (opset {opset})", model,
                            X_test, lambda part: table_feeds(model, part), opset=opset)
    ops = {n.op_type for n in proto.graph.node}
    assert {"IsNaN", "Where", "Sub", "Div"} <= ops
    assert ("Equal" if opset >= 19 else "OneHotEncoder") in ops
    assert [i.name for i in proto.graph.input] == ["X", "ocean_proximity"]


def test_housing_classifier_unknown_and_missing_categories(housing):
    """String class names through Gather; a category never seen in fit (and an empty string,
    as a gap) give the all-zero block Preprocessor gives them."""
    X, _, X_test = housing
    X = X.drop(columns="ocean_proximity")
    y = np.where(X["median_income"] > 4, "rich", np.where(X["housing_median_age"] > 30, "old",
                                                           "new"))
    X = X.assign(kind=np.where(X["total_rooms"] > 4000, "big", "small"))
    X_test = X_test.drop(columns="ocean_proximity").assign(
        kind=np.where(X_test["total_rooms"] > 4000, "big", "small"))
    X_test.iloc[:5, X_test.columns.get_loc("kind")] = "huge"  # never seen in fit
    model = Model(hidden=(16,)).fit(X, y, epochs=4, verbose=0)
    check_classifier("housing classifier (string classes)", model, X_test,
                     lambda part: table_feeds(model, part))
    sess = session(to_onnx(model))
    rows = X_test.iloc[:3].copy()
    feeds = table_feeds(model, rows)
    feeds["kind"] = np.array([["huge"], [""], ["small"]], dtype=object)
    rows["kind"] = ["huge", None, "small"]
    np.testing.assert_allclose(run(sess, feeds)["probabilities"], model.predict_proba(rows),
                               atol=PROBA_TOL)


def test_cnn_with_batchnorm(digits):
    X, y, X_test, _ = digits
    images, test_images = (a.reshape(-1, 1, 8, 8).astype(np.float32) / 16 for a in (X, X_test))
    model = Model(layers="conv 4 3 pad 1, batchnorm, relu, maxpool 2, conv 8 3, batchnorm, "
                         "leaky_relu, avgpool 2 stride 1, flatten, dense 16, batchnorm, tanh, "
                         "dropout 0.2, dense 10").fit(images, y, epochs=3, verbose=0)
    assert model.preprocessor is None
    proto = check_classifier("CNN with BatchNorm", model, test_images, lambda part: {"X": part})
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 3 and "Conv" in ops and "MaxPool" in ops
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim
            ] == ["batch", 1, 8, 8]


# -- every layer kind, on bare networks ------------------------------------------------------------
def _randomised(net, seed=0):
    """Non-trivial parameters and running statistics, so every layer's arithmetic shows."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for name, p in layer.params.items():
            p[...] = rng.normal(scale=0.5, size=p.shape) + (1 if name == "gamma" else 0)
        for name, s in layer.state.items():
            s[...] = rng.uniform(0.5, 2, s.shape) if name == "running_var" else rng.normal(
                size=s.shape)
    return net


def test_every_registered_layer_has_a_converter():
    assert set(_CONVERTERS) == set(LAYERS)


def test_bare_network_with_every_layer_kind():
    net = _randomised(MultiLayerNetwork([
        Reshape((1, 8, 8)), Conv2D(1, 4, 3, stride=2, padding=1), BatchNorm2D(4), ReLULayer(),
        Conv2D(4, 6, (2, 1), padding=(1, 0)), MaxPool2D(2, stride=1), AvgPool2D((2, 1)),
        LeakyReLULayer(0.2), GlobalAvgPool2D(), BatchNorm1D(6), SigmoidLayer(),
        LinearLayer(6, 5), TanhLayer(), DropoutLayer(0.3), Reshape((5, 1, 1)), Flatten(),
        LinearLayer(5, 3), IdentityLayer(), SoftmaxLayer()], input_shape=(64,)))
    net.training = False
    assert set(map(type, net.layers)) == set(LAYERS.values())
    assert net.task == "multiclass"
    X = np.random.default_rng(2).normal(size=(1000, 64)).astype(np.float32)
    sess = session(to_onnx(net))
    got = run(sess, {"X": X})
    np.testing.assert_array_equal(got["label"], net.predict(X))
    np.testing.assert_allclose(got["probabilities"], net.predict_proba(X), atol=PROBA_TOL, rtol=0)
    one = run(sess, {"X": X[:1]})
    np.testing.assert_allclose(one["probabilities"], net.predict_proba(X[:1]), atol=PROBA_TOL,
                               rtol=0)


@pytest.mark.parametrize("task, head", [("binary", "sigmoid"), ("binary", None),
                                        ("multilabel", None), ("regression", None),
                                        (None, None)])
def test_bare_network_heads(task, head):
    n_out = 1 if task in ("binary", None) else 3
    net = MultiLayerNetwork.from_sizes([5, 8, n_out], output_activation=head, rng=0)
    net.task = task
    X = np.random.default_rng(3).normal(size=(1000, 5)).astype(np.float32)
    got = run(session(to_onnx(net)), {"X": X})
    if task is None:
        np.testing.assert_allclose(got["output"], net.predict_raw(X), atol=1e-5, rtol=0)
    elif task == "regression":
        np.testing.assert_allclose(got["variable"], net.predict(X), atol=1e-5, rtol=0)
    else:
        np.testing.assert_array_equal(got["label"], net.predict(X))
        np.testing.assert_allclose(got["probabilities"], net.predict_proba(X), atol=PROBA_TOL,
                                   rtol=0)


def test_float64_network():
    net = MultiLayerNetwork.from_sizes([4, 6, 3], rng=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(50, 4))
    got = run(session(to_onnx(net)), {"X": X})
    np.testing.assert_allclose(got["probabilities"], net.predict_proba(X), atol=1e-12, rtol=0)


# -- refusals and the file -------------------------------------------------------------------------
class Cube(Layer):
    """A layer of someone's own: not in the registry, so not exportable."""

    elementwise = True

    def forward(self, x):
        return x**3


class MyReLU(ReLULayer):
    """A subclass of a registered layer is not that layer: refused too."""


@pytest.mark.parametrize("odd", [Cube, MyReLU])
def test_a_layer_that_cannot_export_is_named_and_nothing_is_written(tmp_path, odd):
    net = MultiLayerNetwork([LinearLayer(3, 4), odd(), LinearLayer(4, 2)])
    path = tmp_path / "sub" / "model.onnx"
    with pytest.raises(ValueError, match=rf"layer 1, {odd.__name__}\(\).*Nothing was written"):
        export_onnx(net, path)
    assert not path.exists() and not path.parent.exists()


def test_a_failed_export_leaves_an_existing_file_intact(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous model")
    with pytest.raises(ValueError, match="Cube"):
        export_onnx(MultiLayerNetwork([LinearLayer(3, 2), Cube()]), path)
    assert path.read_bytes() == b"the previous model"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it
    good = MultiLayerNetwork.from_sizes([3, 2], rng=0)
    export_onnx(good, path)
    assert onnx.load(path).graph.input[0].name == "X"


def test_bad_opset_and_unbuilt_network_are_refused(tmp_path):
    net = MultiLayerNetwork.from_sizes([3, 2], rng=0)
    with pytest.raises(ValueError, match="opset must be between 13"):
        export_onnx(net, tmp_path / "m.onnx", opset=9)
    with pytest.raises(ValueError, match="does not know its input shape"):
        export_onnx(MultiLayerNetwork([ReLULayer()]), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_missing_onnx_package_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "scratchnn\[onnx\]"'):
        export_onnx(MultiLayerNetwork.from_sizes([3, 2], rng=0), tmp_path / "m.onnx")
    save(MultiLayerNetwork.from_sizes([3, 2], rng=0), tmp_path / "m.npz")
    assert main(["export", "--model", str(tmp_path / "m.npz"), "--out",
                 str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "scratchnn[onnx]"' in err


# -- the command line ------------------------------------------------------------------------------
def test_cli_export_and_info(housing, tmp_path, capsys):
    X, y, X_test = housing
    model = Model(hidden=(8,)).fit(X, y, epochs=2, verbose=0)
    save(model, tmp_path / "model.npz")
    out = tmp_path / "model.onnx"
    assert main(["export", "--model", str(tmp_path / "model.npz"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    got = run(ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]),
              table_feeds(model, X_test))["variable"]
    np.testing.assert_allclose(got, model.predict(X_test), rtol=1e-5)

    assert main(["info", "--model", str(out)]) == 0
    info = capsys.readouterr().out
    for line in ("opset: ai.onnx 17, ai.onnx.ml 3", "  X: float32 (batch, 8)",
                 "  ocean_proximity: string (batch, 1)", "  variable: float32 (batch,)",
                 "task: regression", 'categorical columns: ["ocean_proximity"]'):
        assert line in info, info
    assert describe_onnx(out)["outputs"] == [{"name": "variable", "type": "float32",
                                               "shape": ["batch"]}]


def test_cli_errors_are_one_line(tmp_path, capsys):
    save(MultiLayerNetwork.from_sizes([3, 2], rng=0), tmp_path / "m.npz")
    cases = [
        (["export", "--model", str(tmp_path / "m.npz"), "--out", str(tmp_path / "m.onnx"),
          "--opset", "x"], 2, "--opset must be a whole number"),
        (["export", "--model", str(tmp_path / "m.npz"), "--out", str(tmp_path)], 2,
         "is a folder"),
        (["info", "--model", str(tmp_path / "missing.onnx")], 1, "No such file"),
    ]
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    cases.append((["info", "--model", str(tmp_path / "junk.onnx")], 1,
                  "not a readable ONNX file"))
    for argv, code, text in cases:
        assert main(argv) == code
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and text in err, err
    assert not (tmp_path / "m.onnx").exists()
