"""A model that knows its task: every head predicts right, metrics and defaults follow the task,
weights are weights, and the library Model works on raw tables in the user's own terms.

The numbered tests are the eight cases that were wrong before tasks existed."""

import inspect

import numpy as np
import pandas as pd
import pytest
import torch
from fixtures import housing_like
from sklearn.datasets import load_breast_cancer, load_iris, load_linnerud

from scratchnn import (
    BinaryCrossEntropyLoss,
    LinearLayer,
    Model,
    MultiLayerNetwork,
    SigmoidLayer,
    load_model_file,
    save,
)
from scratchnn.cli import _TRAIN_OPTIONS
from scratchnn.optim import SGD, Adam
from scratchnn.training import fit

torch.set_num_threads(1)


def breast_cancer(n=300):
    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X[:n], y[:n]


# -- the eight cases -------------------------------------------------------------------------------
def test_1_a_binary_classifier_on_logits_predicts_labels_and_probabilities(tmp_path):
    X, y = breast_cancer()
    net = MultiLayerNetwork.from_sizes([30, 8, 1], rng=0)
    history = net.fit(X, y, loss=BinaryCrossEntropyLoss(from_logits=True), lr=0.01, epochs=5,
                      seed=0, verbose=0)
    assert net.task == "binary"
    predicted = net.predict(X)
    assert predicted.shape == (300,) and set(np.unique(predicted)) <= {0, 1}
    proba = net.predict_proba(X)
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(predicted, (proba[:, 1] > 0.5).astype(int))
    # fit's accuracy and predict agree: both read the logit through the sigmoid.
    assert net.evaluate(X, y)["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert history.history["accuracy"][-1] > 0.9
    save(net, tmp_path / "m.npz", class_names=["malignant", "benign"])
    loaded = load_model_file(tmp_path / "m.npz")
    names = loaded.predict(X)
    np.testing.assert_array_equal(names, np.array(["malignant", "benign"])[predicted])
    np.testing.assert_allclose(loaded.predict_proba(X), proba)


def test_2_multi_output_regression_predicts_every_output():
    X, Y = load_linnerud(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Y = ((Y - Y.mean(0)) / Y.std(0)).astype(np.float32)
    net = MultiLayerNetwork.from_sizes([3, 16, 3], rng=0)
    net.fit(X, Y, epochs=5, seed=0, verbose=0)
    assert net.task == "regression"
    assert net.predict(X).shape == (20, 3)
    np.testing.assert_array_equal(net.predict(X), net.predict_raw(X))
    with pytest.raises(ValueError, match="predict_proba is for classifiers; this network's task"):
        net.predict_proba(X)


def test_3_integer_multi_output_targets_are_values_not_soft_labels():
    X, Y = load_linnerud(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Y = Y.astype(np.int64)  # whole numbers, e.g. counts
    net = MultiLayerNetwork.from_sizes([3, 16, 3], rng=0)
    history = net.fit(X, Y, epochs=2, seed=0, verbose=0)
    assert net.task == "regression" and "accuracy" not in history.history
    # The loss is the mean squared error of the counts, not a cross-entropy.
    out = net.predict_raw(X)
    assert net.evaluate(X, Y)["loss"] == pytest.approx(np.mean((out - Y) ** 2), rel=1e-5)
    # One-hot rows still mean classes.
    onehot = np.eye(3, dtype=np.int64)[np.arange(20) % 3]
    other = MultiLayerNetwork.from_sizes([3, 3], rng=0)
    other.fit(X, onehot, epochs=1, verbose=0)
    assert other.task == "multiclass"


def test_4_a_sigmoid_network_trains_and_evaluates_as_binary_without_a_loss():
    X, y = breast_cancer()
    net = MultiLayerNetwork([LinearLayer(30, 1, rng=0), SigmoidLayer()])
    assert net.task == "binary"  # read from the output layer
    net.fit(X, y, epochs=3, seed=0, verbose=0)
    scores = net.evaluate(X, y)
    assert set(scores) == {"loss", "accuracy"}
    p = net.predict_raw(X)
    assert scores["loss"] == pytest.approx(BinaryCrossEntropyLoss()(y.reshape(-1, 1), p),
                                           rel=1e-6)
    assert scores["accuracy"] == pytest.approx(np.mean((p[:, 0] > 0.5) == y))


def test_5_float_class_labels_train_a_classifier_and_a_mistake_is_explained():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    net = MultiLayerNetwork.from_sizes([4, 8, 3], rng=0)
    net.fit(X, y.astype(np.float64), lr=0.05, epochs=20, seed=0, verbose=0)  # 0.0, 1.0, 2.0
    assert net.task == "multiclass"
    assert np.mean(net.predict(X) == y) > 0.8
    with pytest.raises(ValueError, match=r"y has 1 columns, the network outputs 3\. If y holds "
                                         r"class labels, train with loss='cross_entropy'"):
        MultiLayerNetwork.from_sizes([4, 3], rng=0).fit(X, y.astype(float), loss="mse")


def test_8_fit_and_the_command_line_default_to_the_same_optimizer():
    assert inspect.signature(fit).parameters["optimizer"].default == "adam"
    assert _TRAIN_OPTIONS["optimizer"][1] == "adam" and _TRAIN_OPTIONS["lr"][1] is None
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0)
    X, y = load_iris(return_X_y=True)
    history = net.fit(X.astype(np.float32), y, epochs=1, verbose=0)
    assert history.history["lr"] == [Adam().lr] == [1e-3]


# -- multi-label -----------------------------------------------------------------------------------
def test_multilabel_outputs_with_a_sigmoid_each():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] + X[:, 3] > 0], axis=1).astype(np.int64)
    net = MultiLayerNetwork.from_sizes([4, 16, 3], rng=0)
    net.fit(X, Y, loss=BinaryCrossEntropyLoss(from_logits=True), lr=0.03, epochs=30, seed=0,
            verbose=0)
    assert net.task == "multilabel"
    assert net.predict(X).shape == (200, 3) and net.predict_proba(X).shape == (200, 3)
    assert np.mean(net.predict(X) == Y) > 0.9


# -- weights ---------------------------------------------------------------------------------------
def test_class_weight_equals_torch_cross_entropy_with_weight():
    X, y = load_iris(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0))
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0, dtype=np.float64)
    twin = torch.nn.Linear(4, 3, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(net.layers[0].params["W"].T.copy()))
        twin.bias.copy_(torch.from_numpy(net.layers[0].params["b"][0]))
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0, 0.5], dtype=torch.float64))
    expected = loss_fn(twin(torch.from_numpy(X)), torch.from_numpy(y))
    w = np.array([weights[c] for c in y])
    assert net.evaluate(X, y, sample_weight=w)["loss"] == pytest.approx(expected.item(), abs=1e-12)
    # One full-batch SGD step with class_weight is torch's step with that weighted loss.
    net.fit(X, y, optimizer=SGD(lr=0.5), class_weight=weights, epochs=1, batch_size=150,
            shuffle=False, verbose=0)
    expected.backward()
    with torch.no_grad():
        for p in twin.parameters():
            p -= 0.5 * p.grad
    np.testing.assert_allclose(net.layers[0].params["W"], twin.weight.detach().numpy().T,
                               atol=1e-12)


def test_balanced_class_weight_is_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 80 + [1] * 20)
    X = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    net = MultiLayerNetwork.from_sizes([2, 2], rng=0, dtype=np.float64)
    balanced = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    w = balanced[y]
    by_hand = net.evaluate(X, y, sample_weight=w)["loss"]
    net.fit(X, y, class_weight="balanced", optimizer=SGD(lr=1e-12), epochs=1, batch_size=100,
            shuffle=False, verbose=0)
    assert net.evaluate(X, y, sample_weight=w)["loss"] == pytest.approx(by_hand, rel=1e-9)


def test_sample_weight_zero_is_a_sample_left_out():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float64)
    keep = np.arange(150) % 3 != 0
    a = MultiLayerNetwork.from_sizes([4, 3], rng=0, dtype=np.float64)
    b = MultiLayerNetwork.from_sizes([4, 3], rng=0, dtype=np.float64)
    a.fit(X, y, sample_weight=keep.astype(float), optimizer=SGD(lr=0.1), epochs=3,
          batch_size=150, shuffle=False, verbose=0)
    b.fit(X[keep], y[keep], optimizer=SGD(lr=0.1), epochs=3, batch_size=150, shuffle=False,
          verbose=0)
    np.testing.assert_allclose(a.get_weights()[0], b.get_weights()[0], atol=1e-12)


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, message", [
    ({"class_weight": {5: 2.0}}, ValueError, r"class_weight names class 5, but the classes are"),
    ({"class_weight": "balance"}, ValueError, "class_weight must be 'balanced' or a dict"),
    ({"sample_weight": -np.ones(150)}, ValueError, r"sample_weight has 150 negative value\(s\)"),
    ({"sample_weight": np.zeros(150)}, ValueError, "sample_weight is all zeros"),
    ({"sample_weight": np.ones(3)}, ValueError, "sample_weight has 3 values for 150 samples"),
    ({"metrics": ["roc_auc", "r2"]}, ValueError, "r2 is a metric for regression"),
    ({"metrics": ["acuracy"]}, ValueError, "(?i)did you mean 'accuracy'"),
])
def test_bad_training_options_are_sentences(kwargs, error, message):
    X, y = load_iris(return_X_y=True)
    net = MultiLayerNetwork.from_sizes([4, 3], rng=0)
    with pytest.raises(error, match=message):
        net.fit(X.astype(np.float32), y, epochs=1, verbose=0, **kwargs)


def test_text_labels_and_metrics_that_do_not_fit_the_task():
    net = MultiLayerNetwork.from_sizes([2, 3], rng=0)
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(TypeError, match="encode text labels as 0..C-1 first"):
        net.fit(X, np.array(["a", "b", "c", "a"]), verbose=0)
    reg = MultiLayerNetwork.from_sizes([2, 1], rng=0)
    with pytest.raises(ValueError, match="roc_auc is a metric for .*classification.*regression"):
        reg.fit(X, np.arange(4.0) / 3, metrics=["roc_auc"], verbose=0)
    with pytest.raises(ValueError, match="class_weight is for classifiers .* task is regression"):
        reg.fit(X, np.arange(4.0) / 3, class_weight="balanced", verbose=0)
    with pytest.raises(ValueError, match="task must be one of binary, multiclass"):
        MultiLayerNetwork(task="classification")


def test_a_softmax_output_with_no_loss_says_what_to_do():
    from scratchnn import SoftmaxLayer

    X, y = load_iris(return_X_y=True)
    net = MultiLayerNetwork([LinearLayer(4, 3, rng=0), SoftmaxLayer()])
    with pytest.raises(ValueError, match="remove the SoftmaxLayer"):
        net.fit(X.astype(np.float32), y, verbose=0)


# -- the library Model -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def houses():
    return housing_like(400, seed=0)


def test_model_classifies_a_raw_table_with_text_labels(houses, tmp_path):
    X = houses.drop(columns=["ocean_proximity"])
    y = houses["ocean_proximity"]
    model = Model(hidden=(16,)).fit(X, y, epochs=5, verbose=0)
    assert model.task == "multiclass" and model.class_names == sorted(y.unique())
    predicted = model.predict(X)
    assert predicted.dtype.kind == "U" and set(predicted) <= set(y)
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(predicted, np.asarray(model.class_names)[proba.argmax(1)])
    scores = model.evaluate(X, y)
    assert scores["accuracy"] == pytest.approx(np.mean(predicted == y.to_numpy()))
    save(model, tmp_path / "m.npz")
    again = load_model_file(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict(X), predicted)
    assert again.task == "multiclass"


def test_model_regression_predicts_in_the_targets_units_and_resumes(houses, tmp_path):
    X = houses.drop(columns=["median_house_value"])
    y = houses["median_house_value"]
    model = Model(hidden=(16,), seed=1).fit(X, y, epochs=3, verbose=0)
    assert model.task == "regression"
    predicted = model.predict(X)
    assert predicted.shape == (400,)
    assert 0.2 * y.mean() < predicted.mean() < 5 * y.mean()  # house values, not z-scores
    scores = model.evaluate(X, y)
    assert set(scores) == {"rmse", "mae", "r2"}
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - y) ** 2)), rel=1e-5)
    # Fitting again goes on from epoch 3 with the same optimizer, after a save too.
    save(model, tmp_path / "m.npz")
    loaded = load_model_file(tmp_path / "m.npz")
    loaded.fit(X, y, epochs=2, verbose=0)
    model.fit(X, y, epochs=2, verbose=0)
    assert model.history.epoch == loaded.history.epoch == [3, 4]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_model_on_images_with_a_layer_spec():
    from scratchnn.datasets import load_digits

    X, y = load_digits(return_images=True)
    model = Model(layers="conv 4 3 pad 1, relu, maxpool 2, flatten", seed=0)
    model.fit(X[:300], y[:300], epochs=2, verbose=0)
    assert model.preprocessor is None and model.network.input_shape == (1, 8, 8)
    assert model.predict(X[300:310]).shape == (10,)


def test_model_errors_name_the_problem():
    with pytest.raises(ValueError, match="this Model is not fitted yet"):
        Model().predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="a binary model needs 2 classes, y has 3"):
        Model(task="binary").fit(np.zeros((3, 2)), ["a", "b", "c"], verbose=0)
    with pytest.raises(TypeError, match="a regression model needs numbers in y"):
        Model(task="regression").fit(np.zeros((2, 2)), ["a", "b"], verbose=0)
    with pytest.raises(ValueError, match="give a layers spec"):
        Model().fit(np.zeros((4, 1, 3, 3)), [0, 1, 0, 1], verbose=0)
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="the network has 5 outputs, but the multiclass targets "
                                         "need 2"):
        Model(MultiLayerNetwork.from_sizes([1, 5])).fit(frame, [0, 1, 0, 1], verbose=0)


@pytest.mark.parametrize("y, message", [
    (np.full(10, 1e308), r"y has 10 value\(s\) that overflow float32"),
    (np.r_[np.inf, np.full(9, 0.5)], r"y contains 1 NaN or infinite value\(s\) \(1 infinite\)"),
    (np.ones(10), r"y holds one class only \(1\.0\); a classifier needs two or more"),
])
def test_model_checks_targets_before_scaling_them(y, message):
    import warnings

    with warnings.catch_warnings(), pytest.raises(ValueError, match=message):
        warnings.simplefilter("error")  # no RuntimeWarning from statistics of bad values
        Model().fit(np.random.default_rng(0).random((10, 2)), y, verbose=0)
