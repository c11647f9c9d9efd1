"""scratchnn.sklearn: scikit-learn's estimator checks, and the estimators in Pipeline,
ColumnTransformer, cross_val_score, GridSearchCV, RandomizedSearchCV and clone give exactly what a
``scratchnn.Model`` (or a bare network) trained with the same settings and seed gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures import housing_like, write_housing_like_csv
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import scratchnn
from scratchnn import Model, MultiLayerNetwork
from scratchnn.optim import Adam
from scratchnn.sklearn import NeuralNetClassifier, NeuralNetRegressor, load_estimator

FAST = {"hidden_layer_sizes": (16,), "epochs": 30, "learning_rate": 0.01}


# -- scikit-learn's own estimator test suite ---------------------------------------------------
@parametrize_with_checks(
    [NeuralNetClassifier(**FAST), NeuralNetRegressor(**FAST)],
    expected_failed_checks=lambda est: get_tags(est).expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_are_few_and_explained():
    for est in (NeuralNetClassifier(), NeuralNetRegressor()):
        failing = get_tags(est).expected_failed_checks
        assert len(failing) <= 3
        assert all(isinstance(why, str) and len(why) > 40 for why in failing.values())


@pytest.mark.parametrize("cls", [NeuralNetClassifier, NeuralNetRegressor])
def test_sample_weight_equivalence_at_float32_tolerance(cls):
    """The check listed as an expected failure holds to float32 rounding: integer weights are
    repeated rows, zero weights removed rows."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    est = cls(**FAST, random_state=0)
    weighted = clone(est).fit(X, y, sample_weight=sw)
    repeated = clone(est).fit(X.repeat(sw, axis=0), y.repeat(sw))
    method = "predict_proba" if cls is NeuralNetClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [NeuralNetClassifier, NeuralNetRegressor])
def test_methods_are_subset_invariant_at_float32_tolerance(cls):
    """The other check listed as an expected failure: each row's outputs are the same whether it
    is predicted alone or in a batch, to float32 rounding."""
    X, y = _classes(n=60)
    est = cls(**FAST, random_state=0).fit(X, y)
    methods = (["predict_proba", "decision_function", "predict"] if cls is NeuralNetClassifier
               else ["predict"])
    for method in methods:
        whole = getattr(est, method)(X)
        one_by_one = np.concatenate([getattr(est, method)(X[i : i + 1]) for i in range(len(X))])
        np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-5, err_msg=method)


# -- the same as training a Model or a network directly ----------------------------------------
def _classes(n=120, n_classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=n_classes, random_state=seed)
    return X, y


def test_classifier_equals_model_and_network_trained_directly():
    X, y = _classes()
    names = np.array(["cat", "dog", "emu"])[y]
    clf = NeuralNetClassifier((16, 8), learning_rate=0.01, epochs=5, batch_size=32,
                              random_state=3).fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]

    model = Model(hidden=(16, 8), preprocessor=None, seed=3)
    model.fit(X, names, epochs=5, batch_size=32, optimizer="adam", lr=0.01, verbose=0)
    np.testing.assert_array_equal(clf.predict(X), model.predict(X))
    np.testing.assert_array_equal(clf.predict_proba(X), model.predict_proba(X))

    net = MultiLayerNetwork.from_sizes([6, 16, 8, 3], rng=3)
    net.fit(X, y, optimizer=Adam(0.01), epochs=5, batch_size=32, seed=3, verbose=0)
    np.testing.assert_array_equal(clf.decision_function(X), net.predict_raw(X))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[net.predict(X)])
    assert clf.history_["loss"] == model.history.history["loss"]


def test_binary_classifier_with_string_labels_and_class_weight():
    X, y = _classes(n_classes=2)
    labels = np.where(y == 1, "yes", "no")
    clf = NeuralNetClassifier((8,), epochs=4, class_weight={"yes": 3.0}, random_state=0)
    clf.fit(X, labels)
    model = Model(hidden=(8,), preprocessor=None, seed=0, task="binary")
    model.fit(X, labels, epochs=4, batch_size=min(200, len(X)), lr=1e-3, verbose=0,
              class_weight={1: 3.0})  # classes_ ["no", "yes"]: "yes" is label 1
    np.testing.assert_array_equal(clf.predict_proba(X), model.predict_proba(X))
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.decision_function(X).shape == (len(X),)
    assert set(clf.predict(X)) <= {"yes", "no"}
    assert clf.score(X, labels) == accuracy_score(labels, clf.predict(X))


def test_regressor_equals_model_single_and_multi_output_with_sample_weight():
    X, y = make_regression(n_samples=80, n_features=5, n_targets=2, noise=1.0, random_state=0)
    y = y * 1000 + 5e4  # large units: the targets are standardised for training
    reg = NeuralNetRegressor((16,), epochs=6, batch_size=16, random_state=1).fit(X, y)
    model = Model(hidden=(16,), preprocessor=None, seed=1)
    model.fit(X, y, epochs=6, batch_size=16, verbose=0)
    assert reg.predict(X).shape == (80, 2)
    np.testing.assert_array_equal(reg.predict(X), model.predict(X))
    assert reg.score(X, y) == r2_score(y, reg.predict(X))

    w = np.linspace(0.5, 2.0, 80)
    one = NeuralNetRegressor((16,), epochs=6, random_state=1).fit(X, y[:, 0], sample_weight=w)
    assert one.predict(X).shape == (80,)
    # With weights the target scaling is weighted; given that scaler, Model trains the same.
    model = Model(hidden=(16,), preprocessor=None, seed=1,
                  target_scaler=one.model_.target_scaler)
    model.fit(X, y[:, 0], epochs=6, batch_size=80, sample_weight=w, verbose=0)
    np.testing.assert_array_equal(one.predict(X), model.predict(X))
    np.testing.assert_allclose(one.model_.target_scaler.center_,
                               [np.average(y[:, 0], weights=w)])


def test_dropout_weight_decay_and_layers_spec_reach_the_model():
    X, y = _classes()
    clf = NeuralNetClassifier((16,), dropout=0.25, weight_decay=1e-3, optimizer="sgd",
                              learning_rate=0.05, epochs=3, random_state=0).fit(X, y)
    model = Model(layers="dense 16, relu, dropout 0.25", preprocessor=None, seed=0)
    model.fit(X, y, epochs=3, batch_size=120, verbose=0,
              optimizer=scratchnn.optim.SGD(0.05, weight_decay=1e-3))
    np.testing.assert_array_equal(clf.predict_proba(X), model.predict_proba(X))
    spec = NeuralNetClassifier(layers="dense 8, tanh", epochs=2, random_state=0).fit(X, y)
    assert [type(layer).__name__ for layer in spec.network_.layers] == [
        "LinearLayer", "TanhLayer", "LinearLayer"]


def test_early_stopping_keeps_the_best_epoch():
    X, y = _classes(n=200)
    clf = NeuralNetClassifier((16,), epochs=200, learning_rate=0.05, early_stopping=True,
                              patience=3, random_state=0).fit(X, y)
    losses = clf.history_["val_loss"]
    assert len(losses) < 200
    assert clf.n_iter_ == len(losses)


def test_partial_fit_continues_as_one_longer_fit():
    X, y = _classes()
    full = NeuralNetClassifier((8,), epochs=3, random_state=0).fit(X, y)
    step = NeuralNetClassifier((8,), epochs=3, random_state=0)
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        step.partial_fit(X, y)
    for _ in range(3):
        step.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(step.predict_proba(X), full.predict_proba(X))
    assert step.n_iter_ == 3 and len(step.history_["loss"]) == 3
    # a batch lacking a class still trains the 3-class network
    step.partial_fit(X[y != 2], y[y != 2])
    assert step.predict_proba(X).shape == (120, 3)
    with pytest.raises(ValueError, match=r"not in classes"):
        step.partial_fit(X, y + 5)

    reg = NeuralNetRegressor((8,), epochs=2, random_state=0)
    reg.partial_fit(X, X[:, 0]).partial_fit(X, X[:, 0])
    np.testing.assert_array_equal(
        reg.predict(X), NeuralNetRegressor((8,), epochs=2, random_state=0).fit(
            X, X[:, 0]).predict(X))


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("params, words", [
    ({"learning_rate": 0}, "'learning_rate' parameter"),
    ({"epochs": 0}, "'epochs' parameter"),
    ({"activation": "swish"}, "'activation' parameter"),
    ({"optimizer": "lbfgs"}, "'optimizer' parameter"),
    ({"dropout": 1.0}, "'dropout' parameter"),
    ({"batch_size": "all"}, "'batch_size' parameter"),
    ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes must hold positive whole numbers"),
    ({"layers": "dense 8, relu", "dropout": 0.5}, "cannot be placed in a given layers spec"),
    ({"class_weight": {"emu": 2.0}}, "class_weight names class"),
])
def test_bad_hyper_parameters_are_refused_at_fit_with_a_sentence(params, words):
    clf = NeuralNetClassifier(**params)  # stored unchanged: no error yet
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    X, y = _classes(n=30)
    with pytest.raises(ValueError, match=words):
        clf.fit(X, y)


def test_unfitted_and_other_columns_are_refused():
    X, y = _classes(n=40)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    clf = NeuralNetClassifier(epochs=1)
    with pytest.raises(NotFittedError):
        clf.predict(frame)
    clf.fit(frame, y)
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    assert clf.n_features_in_ == 6
    other = frame.rename(columns={"f5": "size"})
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- size.*missing:\n- f5"):
        clf.predict(other)
    with pytest.raises(ValueError, match="only one class"):
        NeuralNetClassifier().fit(X, np.zeros(40))


# -- in scikit-learn's tools -------------------------------------------------------------------
def _housing_pipeline(**params):
    numeric = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
               "population", "households", "median_income"]
    columns = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         ["ocean_proximity"]),
    ])
    return Pipeline([("columns", columns),
                     ("net", NeuralNetRegressor((32,), epochs=20, learning_rate=0.01,
                                                random_state=0, **params))])


def test_pipeline_with_column_transformer_on_the_housing_csv(tmp_path):
    write_housing_like_csv(tmp_path / "housing.csv", n_rows=300)
    table = pd.read_csv(tmp_path / "housing.csv")
    y = table.pop("median_house_value")
    train, test = table.iloc[:240], table.iloc[240:]
    pipe = _housing_pipeline().fit(train, y[:240])
    assert pipe.score(test, y[240:]) > 0.5

    x_train = pipe["columns"].transform(train)
    model = Model(hidden=(32,), preprocessor=None, seed=0)
    model.fit(x_train, y[:240].to_numpy(), epochs=20, batch_size=200, lr=0.01, verbose=0)
    np.testing.assert_array_equal(pipe.predict(test),
                                  model.predict(pipe["columns"].transform(test)))


def test_cross_val_score_equals_a_loop_of_clones():
    X, y = _classes(n=90)
    clf = NeuralNetClassifier((8,), epochs=5, learning_rate=0.01, random_state=0)
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(clf, X, y, cv=cv)
    by_hand = [clone(clf).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in cv.split(X)]
    assert scores.tolist() == by_hand


def test_grid_search_in_two_processes_equals_sequential_and_direct_training():
    table = housing_like(160, seed=1)
    y = table.pop("median_house_value")
    grid = {"net__hidden_layer_sizes": [(8,), (16,)], "net__learning_rate": [0.003, 0.03]}
    pipe = _housing_pipeline()
    parallel = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(table, y)
    sequential = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(table, y)
    assert parallel.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"],
                                  sequential.cv_results_["mean_test_score"])
    best = parallel.best_params_
    x = parallel.best_estimator_["columns"].transform(table)
    model = Model(hidden=best["net__hidden_layer_sizes"], preprocessor=None, seed=0)
    model.fit(x, y.to_numpy(), epochs=20, batch_size=160, lr=best["net__learning_rate"],
              verbose=0)
    np.testing.assert_array_equal(parallel.predict(table), model.predict(x))


def test_randomized_search_and_clone():
    X, y = _classes(n=90)
    clf = NeuralNetClassifier(epochs=5, random_state=0)
    search = RandomizedSearchCV(clf, {"hidden_layer_sizes": [(4,), (8,), (16,)],
                                      "learning_rate": [1e-3, 1e-2, 3e-2]},
                                n_iter=3, cv=2, random_state=0).fit(X, y)
    twin = clone(search.best_estimator_)
    assert not hasattr(twin, "model_")
    assert twin.get_params() == search.best_estimator_.get_params()
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X),
                                  search.best_estimator_.predict_proba(X))


# -- model files -------------------------------------------------------------------------------
def test_save_and_load_an_estimator_in_the_pickle_free_model_file(tmp_path):
    X, y = _classes()
    frame = pd.DataFrame(X, columns=list("abcdef"))
    names = np.array(["cat", "dog", "emu"])[y]
    clf = NeuralNetClassifier((8,), epochs=3, class_weight={"cat": 2.0}, random_state=5)
    clf.fit(frame, names)
    path = tmp_path / "clf.npz"
    scratchnn.save(clf, path)
    with np.load(path, allow_pickle=False) as archive:  # nothing pickled in it
        assert "model.json" in archive.files
    loaded = load_estimator(path)
    assert type(loaded) is NeuralNetClassifier
    assert loaded.get_params() == clf.get_params()
    assert loaded.feature_names_in_.tolist() == list("abcdef")
    assert loaded.history_ == clf.history_
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    # training resumes exactly after loading
    loaded.partial_fit(frame, names)
    clf.partial_fit(frame, names)
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    # ... and the file is an ordinary model file too
    np.testing.assert_array_equal(scratchnn.load_model_file(path).predict(X), clf.predict(frame))

    reg = NeuralNetRegressor((8,), epochs=2, random_state=0).fit(X, X[:, :2] * 100)
    scratchnn.save(reg, tmp_path / "reg.npz")
    again = load_estimator(tmp_path / "reg.npz")
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    assert not hasattr(again, "feature_names_in_")

    scratchnn.save(Model(hidden=(4,), preprocessor=None).fit(X, y, epochs=1, verbose=0),
                   tmp_path / "plain.npz")
    with pytest.raises(scratchnn.ModelFileError, match="no scikit-learn estimator"):
        load_estimator(tmp_path / "plain.npz")
    with pytest.raises(NotFittedError):
        scratchnn.save(NeuralNetRegressor(), tmp_path / "unfitted.npz")
