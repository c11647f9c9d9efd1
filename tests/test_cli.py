"""The ``scratchnn`` command line, run in-process through ``main`` (and once as the installed
entry point): train, evaluate, predict and info on digits, a housing-like CSV and MNIST files,
and one clear line on stderr for every error a user can cause."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures import write_housing_like_csv, write_idx_mnist, write_mnist_csv
from PIL import Image

from scratchnn.cli import _format_metrics, _image_row, main
from scratchnn.datasets import load_digits
from scratchnn.preprocessing import Preprocessor, Scaler, train_test_split
from scratchnn.serialization import load_model_file
from scratchnn.training import _RandomStreams, _split_validation


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``scratchnn argv...``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def metric(text, name, line_start=""):
    """The number after ``name`` on the first line of ``text`` starting with ``line_start``."""
    line = next(ln for ln in text.splitlines() if ln.startswith(line_start) and name in ln)
    return float(line.split(name)[1].split()[0].replace(",", ""))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One small digits training run shared by the tests: (folder, stdout)."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    code = main(["train", "--data", "digits", "--hidden", "32", "--epochs", "8", "--seed", "0",
                 "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def digits_test():
    """The raw test rows (pixels 0..16) and labels of the CLI's fixed split."""
    X, y = load_digits()
    _, X_test, _, y_test = train_test_split(X * 16, y, test_size=0.2, seed=0, stratify=True)
    return X_test, y_test


# -- train ---------------------------------------------------------------------------------------
def test_train_digits_writes_model_history_and_curves(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--hidden", "32,16", "--epochs", "3", "--seed", "1",
                            "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "64",
                            "--out", out, "--quiet")
    assert code == 0, err
    assert "1437 training rows, 360 test rows" in stdout
    assert "64-32-16-10 (relu)" in stdout
    history = json.loads((out / "history.json").read_text())
    assert history["epochs"] == [1, 2, 3] and len(history["history"]["accuracy"]) == 3
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = load_model_file(out / "model.npz")
    assert model.class_names == list(range(10))
    assert type(model.optimizer).__name__ == "SGD" and model.optimizer.lr == 0.1
    options = model.metadata["options"]
    assert options["hidden"] == [32, 16] and options["batch-size"] == 64
    # The printed test accuracy is the saved one, and what the saved model scores again.
    printed = metric(stdout, "accuracy", "test:")
    assert printed == pytest.approx(model.metadata["metrics"]["test"]["accuracy"], abs=1e-4)


def test_train_is_repeatable_with_a_seed(tmp_path):
    for name in ("a", "b"):
        assert main(["train", "--hidden", "8", "--epochs", "1", "--seed", "3", "--quiet",
                     "--out", str(tmp_path / name)]) == 0
    a, b = (load_model_file(tmp_path / n / "model.npz").network for n in ("a", "b"))
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_trained_digits_model_is_accurate(digits_run, digits_test):
    model = load_model_file(digits_run / "model.npz")
    X_test, y_test = digits_test
    accuracy = np.mean(model.predict(X_test) == y_test)
    assert accuracy > 0.9
    assert accuracy == pytest.approx(model.metadata["metrics"]["test"]["accuracy"], abs=1e-9)


def test_early_stopping_holds_out_validation_rows(tmp_path, capsys):
    out = tmp_path / "es"
    code, stdout, _ = run(capsys, "train", "--hidden", "8", "--epochs", "40", "--lr", "0.05",
                          "--early-stopping", "0", "--out", out, "--quiet")
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert "val_loss" in history["history"]  # --validation-split 0.1 by default
    val = history["history"]["val_loss"]
    # patience 0: training went on exactly while the validation loss kept falling.
    assert all(b < a for a, b in zip(val[:-2], val[1:-1], strict=True))
    if history["stopped_early"]:
        assert val[-1] >= min(val[:-1]) and "early stopping" in stdout
    # The saved weights are the best epoch's: their loss on the validation rows (10% of the
    # training part, drawn with the seed as fit draws them) is the smallest validation loss.
    model = load_model_file(out / "model.npz")
    X, y = load_digits()
    X_train, _, y_train, _ = train_test_split(X * 16, y, test_size=0.2, seed=0, stratify=True)
    _, rows = _split_validation(X_train, y_train, None, 0.1, _RandomStreams(0), stratify=True)
    loss = model.network.evaluate(model.transform(X_train[rows]), y_train[rows],
                                  loss="cross_entropy")["loss"]
    assert loss == pytest.approx(min(val), rel=1e-5)


def test_config_file_with_command_line_override(tmp_path, capsys):
    folder = tmp_path / "project"
    folder.mkdir()
    write_housing_like_csv(folder / "houses.csv", n_rows=120)
    (folder / "run.toml").write_text(
        'data = "csv:houses.csv"\ntarget = "median_house_value"\ntask = "regression"\n'
        'hidden = [16]\nepochs = 5\nbatch_size = 16\nout = "runs/houses"\n'
    )
    code, stdout, err = run(capsys, "train", "--config", folder / "run.toml", "--epochs", "2",
                            "--quiet")
    assert code == 0, err
    model = load_model_file(folder / "runs" / "houses" / "model.npz")  # relative to the file
    opts = model.metadata["options"]
    assert opts["epochs"] == 2 and opts["hidden"] == [16] and opts["batch-size"] == 16
    assert model.metadata["epochs_run"] == 2
    assert model.metadata["data"] == f"csv:{(folder / 'houses.csv').resolve()}"


# -- convolutional networks -----------------------------------------------------------------------
CNN_SPEC = "conv 8 3 pad 1, batchnorm, relu, maxpool 2, flatten, dense 32, relu, dropout 0.2"


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """A small CNN trained on digits from a layer spec: (folder, stdout)."""
    out = tmp_path_factory.mktemp("runs") / "cnn"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["train", "--data", "digits", "--layers", CNN_SPEC, "--epochs", "6",
                     "--seed", "0", "--out", str(out), "--quiet"])
    assert code == 0
    return out, stdout.getvalue()


def test_train_a_cnn_from_a_layer_spec(cnn_run, digits_test):
    out, stdout = cnn_run
    assert f"network: {CNN_SPEC}, " in stdout
    model = load_model_file(out / "model.npz")
    names = [type(layer).__name__ for layer in model.network.layers]
    # Rows of 64 pixels become one-channel 8x8 images; the output layer is added for 10 classes.
    assert names == ["Reshape", "Conv2D", "BatchNorm2D", "ReLULayer", "MaxPool2D", "Flatten",
                     "LinearLayer", "ReLULayer", "DropoutLayer", "LinearLayer"]
    assert model.network.input_shape == (64,) and model.network.n_outputs == 10
    assert model.metadata["options"]["layers"] == CNN_SPEC
    X_test, y_test = digits_test
    assert np.mean(model.predict(X_test) == y_test) > 0.9
    assert metric(stdout, "accuracy", "test:") > 0.9


def test_a_cnn_model_predicts_png_digits_and_evaluates(cnn_run, digits_test, tmp_path, capsys):
    out, _ = cnn_run
    X_test, _ = digits_test
    model = load_model_file(out / "model.npz")
    confident = np.flatnonzero(model.predict_proba(X_test).max(axis=1) > 0.9)[:3]
    paths = [_digit_png(tmp_path / f"digit{i}.png", X_test[i]) for i in confident]
    code, _, err = run(capsys, "predict", "--model", out / "model.npz", "--input", *paths,
                       "--output", tmp_path / "out.csv")
    assert code == 0, err
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "out.csv")["prediction"],
                                  model.predict(X_test[confident]))
    code, stdout, err = run(capsys, "evaluate", "--model", out / "model.npz")
    assert code == 0, err
    assert "accuracy" in stdout
    code, stdout, err = run(capsys, "info", "--model", out / "model.npz")
    assert code == 0 and "Conv2D(1, 8, kernel_size=3" in stdout and "(batch, 8, 8, 8)" in stdout


def test_a_layer_spec_in_the_config_file_as_a_list(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(
        'layers = ["conv 4 3", "relu", "globalavgpool"]\nepochs = 1\nout = "run"\n')
    code, stdout, err = run(capsys, "train", "--config", tmp_path / "run.toml", "--quiet")
    assert code == 0, err
    net = load_model_file(tmp_path / "run" / "model.npz").network
    assert [type(layer).__name__ for layer in net.layers][-2:] == ["GlobalAvgPool2D",
                                                                   "LinearLayer"]


def test_a_layer_spec_of_dense_layers_trains_a_table(tmp_path, capsys):
    write_housing_like_csv(tmp_path / "houses.csv", n_rows=80)
    code, stdout, err = run(capsys, "train", "--data", f"csv:{tmp_path / 'houses.csv'}",
                            "--target", "median_house_value", "--layers", "dense 8, tanh",
                            "--epochs", "1", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    net = load_model_file(tmp_path / "run" / "model.npz").network
    assert [layer.n_out for layer in net.layers if hasattr(layer, "n_out")] == [8, 1]


# -- regression, end to end ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def housing_run(tmp_path_factory):
    """A regression run on a housing-like CSV: (folder, table, stdout of train)."""
    folder = tmp_path_factory.mktemp("housing")
    table = write_housing_like_csv(folder / "housing.csv", n_rows=600, seed=0)
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["train", "--data", f"csv:{folder / 'housing.csv'}", "--target",
                     "median_house_value", "--task", "regression", "--hidden", "32",
                     "--epochs", "60", "--lr", "3e-3", "--out", str(folder / "run"), "--quiet"])
    assert code == 0
    return folder, table, stdout.getvalue()


def test_regression_reports_rmse_r2_and_a_linear_baseline(housing_run, capsys):
    folder, table, stdout = housing_run
    assert "median_house_value (regression)" in stdout
    model = load_model_file(folder / "run" / "model.npz")
    test_rmse = metric(stdout, "RMSE", "test:")
    baseline_rmse = metric(stdout, "RMSE", "baseline")
    assert test_rmse == pytest.approx(model.metadata["metrics"]["test"]["rmse"], rel=1e-3)
    assert baseline_rmse == pytest.approx(model.metadata["metrics"]["baseline"]["rmse"], rel=1e-3)
    assert metric(stdout, "R^2", "test:") > 0.6

    # Recompute both on the same split: the preprocessor is fitted on the training rows only.
    X, y = table.drop(columns="median_house_value"), table["median_house_value"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    pre = Preprocessor().fit(X_train)
    assert model.preprocessor.to_config() == pre.to_config()
    from sklearn.linear_model import LinearRegression

    linear = LinearRegression().fit(pre.transform(X_train), y_train)
    expected = np.sqrt(np.mean((linear.predict(pre.transform(X_test)) - y_test) ** 2))
    assert baseline_rmse == pytest.approx(expected, rel=1e-3)
    # The target was standardised for training; the file keeps that scaling.
    assert isinstance(model.target_scaler, Scaler)
    assert model.target_scaler.center_[0] == pytest.approx(y_train.mean())
    network_rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))  # (n,), as y
    assert network_rmse == pytest.approx(test_rmse, rel=1e-3)

    code, stdout, _ = run(capsys, "evaluate", "--model", folder / "run" / "model.npz")
    assert code == 0 and "held-out test part" in stdout
    assert metric(stdout, "RMSE") == pytest.approx(test_rmse, rel=1e-3)


def test_predict_regression_from_raw_rows(housing_run, tmp_path, capsys):
    folder, table, _ = housing_run
    rows = table.drop(columns="median_house_value").head(6).copy()
    rows.loc[0, "total_bedrooms"] = np.nan  # imputed with the training median
    rows.loc[1, "ocean_proximity"] = "ON THE MOON"  # unseen category: an all-zero block
    rows = rows[list(reversed(rows.columns))]  # column order does not matter, names do
    rows.to_csv(tmp_path / "rows.csv", index=False)
    code, stdout, err = run(capsys, "predict", "--model", folder / "run" / "model.npz",
                            "--input", tmp_path / "rows.csv", "--output", tmp_path / "p.csv")
    assert code == 0, err
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    model = load_model_file(folder / "run" / "model.npz")
    np.testing.assert_allclose(predicted, model.predict(rows), rtol=1e-6)
    assert np.all((predicted > 0) & (predicted < 1e6))
    # The unseen category is predicted, but not silently.
    assert err.strip() == ("scratchnn predict: note: ocean_proximity has 'ON THE MOON' (1 row), "
                           "a value not seen in training; it is encoded as no category.")


# -- evaluate, predict, info on digits -----------------------------------------------------------
def test_evaluate_digits_prints_metrics_and_writes_confusion_matrix(digits_run, capsys):
    code, stdout, err = run(capsys, "evaluate", "--model", digits_run / "model.npz",
                            "--data", "digits")
    assert code == 0, err
    model = load_model_file(digits_run / "model.npz")
    assert metric(stdout, "accuracy") == pytest.approx(
        model.metadata["metrics"]["test"]["accuracy"], abs=1e-4)
    assert "360 rows" in stdout
    lines = stdout.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted):") + 2
    matrix = np.array([[int(v) for v in ln.split()[1:]] for ln in lines[start:start + 10]])
    assert matrix.sum() == 360 and np.trace(matrix) / 360 == pytest.approx(
        metric(stdout, "accuracy"), abs=1e-4)
    assert (digits_run / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"

    code, stdout, _ = run(capsys, "evaluate", "--model", digits_run / "model.npz", "--all-rows",
                          "--confusion-matrix", digits_run / "all.png")
    assert code == 0 and "1797 rows" in stdout and (digits_run / "all.png").exists()


def test_evaluate_a_model_saved_from_python(digits_run, tmp_path, capsys):
    from scratchnn.serialization import save

    trained = load_model_file(digits_run / "model.npz")
    save(trained.network, tmp_path / "plain.npz", preprocessor=trained.preprocessor,
         class_names=trained.class_names)
    code, stdout, err = run(capsys, "evaluate", "--model", tmp_path / "plain.npz", "--data",
                            "digits", "--confusion-matrix", tmp_path / "cm.png")
    assert code == 0, err
    assert "1797 rows (all rows: the model file does not say" in stdout
    X, y = load_digits()
    expected = np.mean(trained.predict(X * 16) == y)
    assert metric(stdout, "accuracy") == pytest.approx(expected, abs=1e-4)

    save(trained.network, tmp_path / "bare.npz")  # nothing says what the outputs mean
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "bare.npz", "--data", "digits")
    assert code == 1 and "names no classes and no target scaling" in err


def test_predict_digits_from_csv_rows(digits_run, digits_test, tmp_path, capsys):
    X_test, y_test = digits_test
    path = tmp_path / "rows.csv"
    np.savetxt(path, X_test[:25], fmt="%d", delimiter=",")
    code, stdout, err = run(capsys, "predict", "--model", digits_run / "model.npz",
                            "--input", path)
    assert code == 0, err
    table = pd.read_csv(pd.io.common.StringIO(stdout))
    model = load_model_file(digits_run / "model.npz")
    np.testing.assert_array_equal(table["prediction"], model.predict(X_test[:25]))
    assert np.mean(table["prediction"] == y_test[:25]) > 0.8
    assert table["probability"].between(0, 1).all()

    # A header row and a label column, as in MNIST-style CSV files, are recognised.
    with_header = pd.DataFrame(X_test[:5], columns=[f"p{i}" for i in range(64)])
    with_header.insert(0, "label", y_test[:5])
    with_header.to_csv(path, index=False)
    code, stdout, _ = run(capsys, "predict", "--model", digits_run / "model.npz", "--input", path)
    assert code == 0
    predicted = pd.read_csv(pd.io.common.StringIO(stdout))["prediction"]
    np.testing.assert_array_equal(predicted, model.predict(X_test[:5]))

    # Pixels already scaled to [0, 1] (load_digits' X) would predict nonsense: said on stderr.
    np.savetxt(path, X_test[:5] / 16, delimiter=",")
    code, _, err = run(capsys, "predict", "--model", digits_run / "model.npz", "--input", path)
    assert code == 0
    assert err.strip() == (f"scratchnn predict: note: every value in {path} is within 0..1, but "
                           "the model takes pixel values 0..16; were they scaled already?")
    # Pixels beyond the range (0..255 rows for an 8x8 digits model) are refused.
    np.savetxt(path, X_test[:5] * 16, delimiter=",")
    code, _, err = run(capsys, "predict", "--model", digits_run / "model.npz", "--input", path)
    assert code == 1
    assert f"{path} has pixel values up to 256, but the model takes 0..16" in err


def _digit_png(path, raw_pixels, *, white_background=True, mode="L", scale=8):
    """An image of an 8x8 digit (raw pixels 0..16) drawn ``scale`` times larger."""
    ink = raw_pixels.reshape(8, 8) / 16.0
    gray = 1 - ink if white_background else ink
    big = np.kron(gray, np.ones((scale, scale)))
    img = Image.fromarray(np.rint(big * 255).astype(np.uint8))
    if mode == "RGBA":  # ink as opaque black, background fully transparent
        alpha = np.rint(np.kron(ink, np.ones((scale, scale))) * 255).astype(np.uint8)
        img = Image.merge("RGBA", [Image.new("L", img.size, 0)] * 3 + [Image.fromarray(alpha)])
    img.save(path)
    return path


@pytest.mark.parametrize("kind", ["white", "black", "transparent"])
def test_image_is_read_as_the_training_pixels(digits_test, tmp_path, kind):
    raw = digits_test[0][7]
    path = _digit_png(tmp_path / "d.png", raw, white_background=kind == "white",
                      mode="RGBA" if kind == "transparent" else "L")
    row = _image_row(path, (8, 8), 16.0)
    np.testing.assert_allclose(row, raw, atol=16 / 255)


def test_image_that_is_not_square_is_padded_not_stretched(tmp_path):
    img = np.zeros((16, 32), dtype=np.uint8)
    img[:, :16] = 255  # left half of a wide image lit
    Image.fromarray(img).save(tmp_path / "wide.png")
    row = _image_row(tmp_path / "wide.png", (8, 8), 16.0).reshape(8, 8)
    np.testing.assert_allclose(row[2:6, :4], 16.0)  # the image sits in the middle rows
    np.testing.assert_allclose(row[[0, 1, 6, 7]], 0.0)
    np.testing.assert_allclose(row[:, 4:], 0.0)


def test_predict_digits_from_png_files(digits_run, digits_test, tmp_path, capsys):
    X_test, _ = digits_test
    model = load_model_file(digits_run / "model.npz")
    proba = model.predict_proba(X_test)
    confident = np.flatnonzero(proba.max(axis=1) > 0.9)[:4]  # far from any decision boundary
    paths = [_digit_png(tmp_path / f"digit{i}.png", X_test[i]) for i in confident]
    code, stdout, err = run(capsys, "predict", "--model", digits_run / "model.npz", "--input",
                            *paths, "--output", tmp_path / "out.csv")
    assert code == 0, err
    assert "wrote 4 prediction(s)" in stdout
    table = pd.read_csv(tmp_path / "out.csv")
    assert table["file"].tolist() == [str(p) for p in paths]
    np.testing.assert_array_equal(table["prediction"], model.predict(X_test[confident]))


def test_info_describes_the_model(digits_run, capsys):
    code, stdout, err = run(capsys, "info", "--model", digits_run / "model.npz")
    assert code == 0, err
    for expected in ("LinearLayer(64, 32", "parameters: 2,410 (float32)",
                     "classification, 10 classes", "input: 64 8x8 pixel values 0..16",
                     "trained on: digits", "--epochs 8", "test metrics: accuracy",
                     "optimizer state: Adam", "after 360 steps"):
        assert expected in stdout


def test_mnist_folder_with_its_own_test_set(tmp_path, capsys):
    write_idx_mnist(tmp_path / "mnist", n_train=60, n_test=20)
    code, stdout, err = run(capsys, "train", "--data", f"mnist:{tmp_path / 'mnist'}",
                            "--hidden", "8", "--epochs", "2", "--out", tmp_path / "run",
                            "--quiet")
    assert code == 0, err
    assert "60 training rows, 20 test rows (the files' own train and test sets), 784" in stdout
    code, stdout, _ = run(capsys, "evaluate", "--model", tmp_path / "run" / "model.npz")
    assert code == 0 and "20 rows (the test set)" in stdout
    code, stdout, _ = run(capsys, "info", "--model", tmp_path / "run" / "model.npz")
    assert "784 28x28 pixel values 0..255" in stdout


def test_train_on_one_data_set_and_test_on_another(tmp_path, capsys):
    # What a user with the shared files has: training-set rows in a headerless CSV of another
    # name (pixels, then the label) and only the t10k IDX files.
    (tmp_path / "five").mkdir()
    write_mnist_csv(tmp_path / "five" / "mnist_5k.csv.gz", n=50, header=False,
                    label_position="last", gz=True)
    write_idx_mnist(tmp_path / "t10k", n_train=0, n_test=20)
    train, test = f"mnist:{tmp_path / 'five'}", f"mnist:{tmp_path / 't10k'}"
    code, stdout, err = run(capsys, "train", "--data", train, "--test-data", test,
                            "--hidden", "8", "--epochs", "2", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert f"50 training rows, 20 test rows (every row; the test rows are {test})" in stdout
    model = load_model_file(tmp_path / "run" / "model.npz")
    assert model.metadata["test_data"] == test and model.metadata["n_train"] == 50
    # evaluate scores the test data by default, and finds what train printed.
    code, stdout, err = run(capsys, "evaluate", "--model", tmp_path / "run" / "model.npz")
    assert code == 0, err
    assert f"data: {test}: 20 rows (the test data given in training)" in stdout
    assert metric(stdout, "accuracy") == pytest.approx(
        model.metadata["metrics"]["test"]["accuracy"], abs=1e-4)
    code, stdout, _ = run(capsys, "evaluate", "--model", tmp_path / "run" / "model.npz",
                          "--data", train)
    assert "50 rows (all rows; the model was trained on them" in stdout


# -- errors: one line on stderr, no traceback ----------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "three.csv").write_text("1,2,3\n4,5,6\n")
    (folder / "notes.txt").write_text("not a model")
    (folder / "zeros.csv").write_text(",".join(["0"] * 64) + "\n")
    (folder / "bad.toml").write_text("epochs = [\n")
    (folder / "unknown.toml").write_text("epoch = 3\n")
    (folder / "typed.toml").write_text('epochs = "many"\n')
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    table = write_housing_like_csv(folder / "houses.csv", n_rows=40)
    table.loc[3, "ocean_proximity"] = "ON THE MOON"
    table.to_csv(folder / "moon.csv", index=False)
    write_idx_mnist(folder / "mnist", n_train=0, n_test=5)
    assert main(["train", "--data", f"csv:{folder / 'houses.csv'}", "--target",
                 "median_house_value", "--hidden", "4", "--epochs", "1", "--quiet",
                 "--out", str(folder / "regressor")]) == 0
    # A table classifier (the task is read from the text target).
    assert main(["train", "--data", f"csv:{folder / 'houses.csv'}", "--target",
                 "ocean_proximity", "--hidden", "4", "--epochs", "1", "--quiet",
                 "--out", str(folder / "table")]) == 0
    return folder


ERRORS = [
    (["train", "--epochs", "0"], 2, "--epochs must be at least 1"),
    (["train", "--epochs", "ten"], 2, "--epochs must be a whole number"),
    (["train", "--hidden", "64,x"], 2, "--hidden must be positive layer sizes"),
    (["train", "--lr", "-0.1"], 2, "--lr must be a number > 0"),
    (["train", "--validation-split", "1.5"], 2, "--validation-split must be a fraction"),
    (["train", "--activation", "softmax"], 2, "--activation must be one of"),
    (["train", "--layers", "conv 8"], 2, "--layers is not a layer spec: item 1 ('conv 8') lacks K"),
    (["train", "--layers", "conv 8 3, relu,, dense 10"], 2, "item 3 of the layer spec is empty"),
    (["train", "--layers", "conv 8 3 pad -1"], 2, "padding must be >= 0, got -1"),
    (["train", "--layers", "conv 8 9"], 2, "it needs images of at least 9x9 pixels"),
    (["train", "--layers", "conv 8 3, dense 10"], 2, "dense needs rows before it"),
    (["train", "--layers", "dense 5"], 2, "has 5 outputs, but the network needs 10"),
    (["train", "--layers", "swish"], 2, "names an unknown layer 'swish'"),
    (["train", "--layers", "dense 8", "--hidden", "8"], 2, "give only one"),
    (["train", "--data", "csv:{bad}/houses.csv", "--target", "median_house_value", "--layers",
      "conv 4 3"], 2, "convolution or pooling layers, which need images"),
    (["train", "--optimizer", "adamax"], 2, "--optimizer must be one of"),
    (["train", "--data", "iris"], 2, "--data must be digits, mnist:DIR or csv:PATH"),
    (["train", "--data", "digits", "--task", "regression"], 2, "classification data set"),
    (["train", "--data", "csv:{bad}/missing.csv", "--target", "y"], 1, "No CSV file at"),
    (["train", "--data", "csv:{bad}/houses.csv"], 2, "needs --target COLUMN"),
    (["train", "--data", "csv:{bad}/houses.csv", "--target", "price"], 1, "has no column 'price'"),
    (["train", "--data", "csv:{bad}/houses.csv", "--target", "ocean_proximity", "--task",
      "regression"], 2, "needs a numeric target"),
    (["train", "--data", "mnist:{bad}"], 1, "no train data"),
    (["train", "--test-data", "mnist:{bad}/mnist"], 2,
     "--test-data mnist:{bad}/mnist has 784 values per row, but --data digits has 64"),
    (["train", "--data", "csv:{bad}/houses.csv", "--target", "median_house_value",
      "--test-data", "digits"], 2, "--test-data digits is not a table like --data"),
    (["train", "--config", "{bad}/missing.toml"], 1, "no config file at"),
    (["train", "--config", "{bad}/bad.toml"], 1, "is not valid TOML"),
    (["train", "--config", "{bad}/unknown.toml"], 2,
     "unknown option 'epoch' (did you mean 'epochs'?)"),
    (["evaluate", "--model", "{bad}/regressor/model.npz", "--data", "digits"], 1,
     "the model predicts median_house_value (regression); digits has no such column"),
    (["train", "--config", "{bad}/typed.toml"], 2, "typed.toml: epochs must be a whole number"),
    (["train", "--epochs", "2", "--lr", "1e30", "--optimizer", "sgd", "--out", "{bad}/run"], 1,
     "loss diverged at epoch 1"),
    (["info", "--model", "{bad}/missing.npz"], 1, "no model file at"),
    (["info", "--model", "{bad}/notes.txt"], 1, "not a scratchnn model file"),
    (["info"], 2, "the following arguments are required: --model"),
    (["fly"], 2, "invalid choice: 'fly'"),
    (["predict", "--model", "{model}", "--input", "{bad}/three.csv"], 1,
     "has 3 values per row, but the model takes 64 8x8 pixel values"),
    (["predict", "--model", "{model}", "--input", "{bad}/missing.csv"], 1, "no input file at"),
    (["predict", "--model", "{model}", "--input", "{bad}/picture.png"], 1,
     "could not be read as an image"),
    (["predict", "--model", "{model}", "--input", "{bad}/picture.png", "{bad}/three.csv"], 2,
     "either one CSV file or image files"),
    (["evaluate", "--model", "{model}", "--data", "csv:{bad}/houses.csv", "--target",
      "median_house_value"], 1, "is a table, but the model takes 64 8x8 pixel values"),
    (["evaluate", "--model", "{bad}/table/model.npz", "--data", "csv:{bad}/moon.csv"], 1,
     "class name(s) not seen in fit: 'ON THE MOON'"),
    (["predict", "--model", "{bad}/table/model.npz", "--input", "{bad}/three.csv"], 1,
     "the data lacks the column(s) 'longitude'"),
    (["predict", "--model", "{bad}/table/model.npz", "--input", "{bad}/picture.png"], 1,
     "not trained on images"),
    # Unwritable places: said before any training, in words, naming the user's path.
    (["train", "--out", "{bad}/notes.txt"], 1, "notes.txt is a file; --out needs a folder"),
    (["train", "--out", "{bad}/notes.txt/run"], 1, "cannot write into --out {bad}/notes.txt/run"),
    (["predict", "--model", "{model}", "--input", "{bad}/zeros.csv", "--output", "{bad}"], 1,
     "cannot write {bad}: Is a directory"),
    (["evaluate", "--model", "{model}", "--confusion-matrix", "{bad}/notes.txt/cm.png"], 1,
     "cannot write {bad}/notes.txt/cm.png"),
]


@pytest.mark.parametrize("argv, code, message", ERRORS,
                         ids=[" ".join(a)[:60] for a, _, _ in ERRORS])
def test_user_errors_print_one_line_and_exit_nonzero(argv, code, message, bad_files, digits_run,
                                                     capsys):
    argv = [a.format(bad=bad_files, model=digits_run / "model.npz") for a in argv]
    returned, out, err = run(capsys, *argv)
    assert returned == code
    assert "Traceback" not in err and "[Errno" not in err and ".tmp" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("scratchnn") and message.format(bad=bad_files) in err
    assert "epoch(s) in" not in out  # a run doomed by its options fails before it trains


def test_metrics_are_printed_without_a_minus_zero():
    # A cross-entropy of -0.0 (log of a probability of exactly 1) printed as "-0.0000".
    assert _format_metrics({"accuracy": 1.0, "loss": -0.0}) == "accuracy 1.0000  loss 0.0000"


def test_help_exits_zero(capsys):
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--early-stopping PATIENCE" in out


# -- the installed command -----------------------------------------------------------------------
def test_installed_entry_point(digits_run, tmp_path):
    exe = Path(sys.executable).with_name("scratchnn")
    done = subprocess.run([exe, "info", "--model", digits_run / "model.npz"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "parameters: 2,410 (float32)" in done.stdout
    done = subprocess.run([exe, "predict", "--model", tmp_path / "none.npz", "--input", "x.csv"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == f"scratchnn predict: error: no model file at {tmp_path}/none.npz."


def test_info_shows_metrics_saved_from_python(tmp_path, capsys):
    from scratchnn import MultiLayerNetwork, save

    save(MultiLayerNetwork.from_sizes([3, 2], rng=0), tmp_path / "m.npz",
         metadata={"metrics": {"accuracy": 0.5, "test": {"loss": 0.25}}})
    code, stdout, err = run(capsys, "info", "--model", tmp_path / "m.npz")
    assert code == 0, err
    assert "metrics: accuracy 0.5000" in stdout and "test metrics: loss 0.2500" in stdout
