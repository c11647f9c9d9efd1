"""scratchnn.plots: every figure is rendered to a PNG with Agg and its content checked."""

from __future__ import annotations

import matplotlib
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from sklearn.metrics import confusion_matrix

from scratchnn import MultiLayerNetwork
from scratchnn.activations import leaky_relu, relu, sigmoid, tanh
from scratchnn.plots import (
    plot_activation,
    plot_confusion_matrix,
    plot_history,
    plot_images,
    plot_misclassified,
)
from scratchnn.training import History

matplotlib.use("Agg")  # render off-screen whatever the environment's default backend is

DPI = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

HISTORY = {
    "loss": [1.2, 0.8, 0.5, 0.4],
    "accuracy": [0.5, 0.7, 0.85, 0.9],
    "val_loss": [1.1, 0.9, 0.6, 0.55],
    "val_accuracy": [0.55, 0.68, 0.8, 0.84],
    "lr": [0.1, 0.1, 0.05, 0.05],
}


def assert_png(path, fig):
    """``path`` is a readable PNG of exactly the figure's size in pixels."""
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = mpimg.imread(path)
    width, height = fig.get_size_inches() * fig.dpi
    assert pixels.shape[:2] == (round(height), round(width))
    assert min(pixels.shape[:2]) > 0
    # Something was drawn: a blank canvas would be one colour.
    assert np.ptp(pixels[..., :3]) > 0


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


@pytest.fixture
def digits():
    """Twelve distinct flat 4x4 images, labels 0..2 and predictions wrong at 1, 4, 6 and 11."""
    images = np.arange(12 * 16, dtype=np.float32).reshape(12, 16) % 23
    y_true = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 2, 2, 0, 0, 2, 1, 1, 2, 0, 1, 0])  # wrong at 1, 4, 6, 11
    return images, y_true, y_pred


# -- history ---------------------------------------------------------------------------------------
def test_history_dict_draws_loss_and_accuracy_panels(tmp_path):
    path = tmp_path / "history.png"
    fig = plot_history(HISTORY, path=path, dpi=DPI)
    assert_png(path, fig)
    assert titles(fig) == ["Loss", "Accuracy"]
    for ax, name in zip(fig.axes, ["loss", "accuracy"], strict=True):
        train, val = ax.get_lines()
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(train.get_ydata(), HISTORY[name])
        np.testing.assert_allclose(val.get_ydata(), HISTORY[f"val_{name}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        assert ax.get_xlabel() == "epoch"


def test_history_object_without_validation_data(tmp_path):
    history = History()
    for epoch, (loss, acc) in enumerate([(0.9, 0.6), (0.6, 0.75), (0.45, 0.8)]):
        history.on_epoch_end(epoch, {"loss": loss, "accuracy": acc, "lr": 0.01})
    fig = plot_history(history, path=tmp_path / "sub" / "dir" / "h.png", dpi=DPI)
    assert_png(tmp_path / "sub" / "dir" / "h.png", fig)
    assert titles(fig) == ["Loss", "Accuracy"]
    (line,) = fig.axes[0].get_lines()  # no validation data, so one curve
    np.testing.assert_allclose(line.get_ydata(), [0.9, 0.6, 0.45])
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])


def test_history_returned_by_fit(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = MultiLayerNetwork.from_sizes([4, 8, 2], rng=0)
    history = net.fit(X[:90], y[:90], epochs=3, batch_size=30, seed=0, verbose=0,
                      validation_data=(X[90:], y[90:]))
    fig = plot_history(history, path=tmp_path / "fit.png", dpi=DPI)
    assert_png(tmp_path / "fit.png", fig)
    assert titles(fig) == ["Loss", "Accuracy"]  # the learning rate is not a metric panel
    train, val = fig.axes[1].get_lines()
    np.testing.assert_allclose(train.get_ydata(), history.history["accuracy"])
    np.testing.assert_allclose(val.get_ydata(), history.history["val_accuracy"])


def test_history_metrics_choose_the_panels():
    fig = plot_history(HISTORY, metrics=[], dpi=DPI)
    assert titles(fig) == ["Loss"]
    fig = plot_history(HISTORY, metrics="lr", dpi=DPI)
    assert titles(fig) == ["Loss", "Lr"]
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), HISTORY["lr"])
    with pytest.raises(ValueError, match="'f1' is not in the history"):
        plot_history(HISTORY, metrics=["f1"])


@pytest.mark.parametrize("empty", [{}, {"loss": [], "val_loss": []}, History()])
def test_empty_history_is_refused(empty):
    with pytest.raises(ValueError, match="history is empty"):
        plot_history(empty)


def test_history_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="history must be a History"):
        plot_history([0.5, 0.4])
    with pytest.raises(TypeError, match=r"history\['loss'\]"):
        plot_history({"loss": ["a", "b"]})


# -- activations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [sigmoid, relu, tanh, leaky_relu])
def test_activation_by_name_draws_f_and_its_derivative(tmp_path, fn):
    path = tmp_path / f"{fn.__name__}.png"
    fig = plot_activation(fn.__name__, path=path, dpi=DPI)
    assert_png(path, fig)
    (ax,) = fig.axes
    f_line, df_line = (line for line in ax.get_lines() if line.get_label()[0] != "_")
    x = f_line.get_xdata()
    assert x.min() == -6 and x.max() == 6
    np.testing.assert_allclose(f_line.get_ydata(), fn(x), rtol=1e-6)
    np.testing.assert_allclose(df_line.get_ydata(), fn(x, derivative=True), rtol=1e-6)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"{fn.__name__}(x)", f"{fn.__name__}'(x)"
    ]
    assert fn.__name__ in ax.get_title()


def test_activation_from_a_notebook_style_function_on_given_points(tmp_path):
    def softplus(x, derivative=False):
        return sigmoid(x) if derivative else np.log1p(np.exp(x))

    fig = plot_activation(softplus, x=[2.0, -1.0, 0.0, 1.0], path=tmp_path / "s.png", dpi=DPI)
    assert_png(tmp_path / "s.png", fig)
    f_line, df_line = (line for line in fig.axes[0].get_lines() if line.get_label()[0] != "_")
    np.testing.assert_array_equal(f_line.get_xdata(), [-1.0, 0.0, 1.0, 2.0])  # sorted
    np.testing.assert_allclose(df_line.get_ydata(), sigmoid(np.array([-1.0, 0.0, 1.0, 2.0])))
    assert fig.axes[0].get_title() == "softplus and its derivative"


def test_activation_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        plot_activation("swish")
    with pytest.raises(ValueError, match="softmax cannot be drawn"):
        plot_activation("softmax")
    with pytest.raises(TypeError, match="derivative= keyword"):
        plot_activation(np.sin)
    with pytest.raises(TypeError, match="derivative= keyword"):
        plot_activation(lambda x: x)
    with pytest.raises(ValueError, match="one value per input"):
        plot_activation(lambda x, derivative=False: x[:-1])
    with pytest.raises(TypeError, match="name_or_fn"):
        plot_activation(3)
    with pytest.raises(ValueError, match="at least 2 points"):
        plot_activation("relu", x=[1.0])


# -- image grids -----------------------------------------------------------------------------------
def test_images_grid_infers_square_images_and_colours_wrong_predictions(tmp_path, digits):
    images, y_true, y_pred = digits
    path = tmp_path / "images.png"
    fig = plot_images(images, y_true, y_pred, n=6, path=path, dpi=DPI)
    assert_png(path, fig)
    assert len(fig.axes) == 6
    for ax, image in zip(fig.axes, images, strict=False):
        np.testing.assert_array_equal(ax.images[0].get_array(), image.reshape(4, 4))
    assert titles(fig) == ["0", "pred 2 / true 1", "2", "0", "pred 0 / true 1", "2"]
    red, black = to_rgba("tab:red"), to_rgba("black")
    colours = [to_rgba(ax.title.get_color()) for ax in fig.axes]
    assert colours == [black, red, black, black, red, black]


@pytest.mark.parametrize(("pixels", "side"), [(64, 8), (784, 28)])
def test_flat_images_become_square(pixels, side):
    images = np.random.default_rng(0).integers(0, 256, size=(3, pixels), dtype=np.uint8)
    fig = plot_images(images, dpi=DPI)
    assert len(fig.axes) == 3
    assert fig.axes[0].images[0].get_array().shape == (side, side)
    assert titles(fig) == ["", "", ""]


def test_channels_first_images_as_a_convolution_takes_them():
    rng = np.random.default_rng(0)
    grey = rng.random((2, 1, 8, 8), dtype=np.float32)
    fig = plot_images(grey, dpi=DPI)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), grey[0, 0])
    colour = rng.random((2, 3, 5, 6))
    fig = plot_images(colour, dpi=DPI)
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), colour[1].transpose(1, 2, 0))


def test_images_with_shape_class_names_and_one_hot_labels():
    images = np.arange(30.0).reshape(3, 10)
    one_hot = np.eye(2)[[1, 0, 1]]
    fig = plot_images(images, labels=one_hot, shape=(2, 5), class_names=["cat", "dog"], dpi=DPI)
    assert fig.axes[2].images[0].get_array().shape == (2, 5)
    assert titles(fig) == ["dog", "cat", "dog"]
    fig = plot_images(images.reshape(3, 2, 5), predictions=[1, 1, 0], dpi=DPI)
    assert titles(fig) == ["pred 1", "pred 1", "pred 0"]


def test_colour_images_are_drawn_in_colour():
    rgb = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    fig = plot_images(rgb, dpi=DPI)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array()[0, 0], [1.0, 0.0, 0.0])


def test_image_errors_name_the_problem(digits):
    images, y_true, _ = digits
    with pytest.raises(ValueError, match="not a square number; pass shape"):
        plot_images(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="shape=.*holds 12 values but each image has 16"):
        plot_images(images, shape=(3, 4))
    with pytest.raises(ValueError, match="images and labels have different lengths"):
        plot_images(images, labels=y_true[:5])
    with pytest.raises(ValueError, match="reshape"):
        plot_images(np.zeros(16))
    with pytest.raises(ValueError, match="images is empty"):
        plot_images(np.zeros((0, 16)))
    with pytest.raises(ValueError, match="only 2 classes"):
        plot_images(images, labels=y_true, class_names=["a", "b"])
    with pytest.raises(ValueError, match="n must be >= 1"):
        plot_images(images, n=0)


# -- confusion matrix ------------------------------------------------------------------------------
def test_confusion_matrix_annotations_are_sklearn_counts(tmp_path, digits):
    _, y_true, y_pred = digits
    path = tmp_path / "cm.png"
    fig = plot_confusion_matrix(y_true, y_pred, path=path, dpi=DPI)
    assert_png(path, fig)
    ax = fig.axes[0]
    shown = np.array([int(t.get_text()) for t in ax.texts]).reshape(3, 3)
    np.testing.assert_array_equal(shown, confusion_matrix(y_true, y_pred))
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert len(fig.axes) == 2  # the matrix and its colour bar


def test_confusion_matrix_normalized_with_names_and_probability_rows(digits):
    _, y_true, y_pred = digits
    probabilities = np.eye(4)[y_pred] * 0.7 + 0.075  # rows of a 4-class model, argmax = y_pred
    names = ["zero", "one", "two", "three"]
    fig = plot_confusion_matrix(y_true, probabilities, class_names=names, normalize=True, dpi=DPI)
    ax = fig.axes[0]
    shown = np.array([float(t.get_text()) for t in ax.texts]).reshape(4, 4)
    expected = confusion_matrix(y_true, y_pred, labels=range(4), normalize="true")
    np.testing.assert_allclose(shown, expected, atol=0.005)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert "rows sum to 1" in ax.get_title()


def test_confusion_matrix_errors_name_the_problem(digits):
    _, y_true, y_pred = digits
    with pytest.raises(ValueError, match="y_true and y_pred have different lengths"):
        plot_confusion_matrix(y_true, y_pred[:-1])
    with pytest.raises(ValueError, match="y_pred has label 2 but there are only 2 classes"):
        plot_confusion_matrix(y_true % 2, y_pred, class_names=["a", "b"])
    with pytest.raises(ValueError, match="normalize must be"):
        plot_confusion_matrix(y_true, y_pred, normalize="rows")
    with pytest.raises(ValueError, match="y_true must hold whole-number"):
        plot_confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(TypeError, match="class_names must be a sequence"):
        plot_confusion_matrix(y_true, y_pred, class_names="abc")


# -- misclassified ---------------------------------------------------------------------------------
def test_misclassified_titles_name_the_right_labels(tmp_path, digits):
    images, y_true, y_pred = digits
    path = tmp_path / "mis.png"
    fig = plot_misclassified(images, y_true, y_pred, n=3, path=path, dpi=DPI)
    assert_png(path, fig)
    assert titles(fig) == ["pred 2 / true 1", "pred 0 / true 1", "pred 1 / true 0"]
    for ax, i in zip(fig.axes, [1, 4, 6], strict=True):
        np.testing.assert_array_equal(ax.images[0].get_array(), images[i].reshape(4, 4))
    assert fig.get_suptitle() == "4 of 12 misclassified (3 shown)"
    fig = plot_misclassified(images, y_true, y_pred, class_names=["a", "b", "c"], dpi=DPI)
    assert titles(fig) == ["pred c / true b", "pred a / true b", "pred b / true a",
                           "pred a / true c"]


def test_misclassified_when_all_are_right(tmp_path, digits):
    images, y_true, _ = digits
    path = tmp_path / "none.png"
    fig = plot_misclassified(images, y_true, y_true, path=path, dpi=DPI)
    assert_png(path, fig)
    assert [t.get_text() for t in fig.axes[0].texts] == [
        "No misclassified examples: all 12 are right."
    ]


def test_misclassified_length_mismatch(digits):
    images, y_true, y_pred = digits
    with pytest.raises(ValueError, match="images and y_true have different lengths"):
        plot_misclassified(images[:5], y_true, y_pred)


# -- saving and pyplot state -----------------------------------------------------------------------
def test_saving_refuses_other_formats_and_non_paths(tmp_path):
    with pytest.raises(ValueError, match=r"\.png file"):
        plot_history(HISTORY, path=tmp_path / "h.jpg")
    with pytest.raises(TypeError, match="path must be a str"):
        plot_history(HISTORY, path=3)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_old_png_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "h.png"
    plot_history(HISTORY, path=path, dpi=DPI)
    before = path.read_bytes()

    def broken_savefig(self, fh, **kwargs):
        fh.write(PNG_MAGIC)  # a partial write, then the renderer fails
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="renderer failed"):
        plot_history({"loss": [3.0, 2.0]}, path=path, dpi=DPI)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]


def test_figures_are_not_left_open_in_pyplot(digits):
    images, y_true, y_pred = digits
    open_before = plt.get_fignums()
    plot_history(HISTORY, dpi=DPI)
    plot_activation("tanh", dpi=DPI)
    plot_images(images, y_true, y_pred, dpi=DPI)
    plot_confusion_matrix(y_true, y_pred, dpi=DPI)
    plot_misclassified(images, y_true, y_pred, dpi=DPI)
    assert plt.get_fignums() == open_before


def test_bad_dpi_is_refused():
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        plot_activation("relu", dpi=0)
