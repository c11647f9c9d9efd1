"""Preprocessing: scikit-learn as the oracle, JSON round trips, and errors that name the problem."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from fixtures import housing_like
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from scratchnn.preprocessing import (
    LabelEncoder,
    Preprocessor,
    Scaler,
    column_kinds,
    train_test_split,
)


def json_round_trip(transformer):
    return type(transformer).from_config(json.loads(json.dumps(transformer.to_config())))


# -- Scaler ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, oracle", [("standard", StandardScaler), ("minmax", MinMaxScaler)])
def test_scaler_matches_sklearn(method, oracle):
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, size=(40, 4)) * [1, 10, 100, 0.1]
    test = rng.normal(5, 3, size=(7, 4))
    scaler = Scaler(method).fit(train)
    reference = oracle().fit(train)
    np.testing.assert_allclose(scaler.transform(test), reference.transform(test), rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test, rtol=1e-12)


def test_scaler_constant_column_becomes_zero_without_dividing_by_zero():
    x = np.column_stack([np.full(5, 0.1), np.arange(5.0), np.full(5, -7.0)]).astype(np.float32)
    for method in ("standard", "minmax"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no division-by-zero RuntimeWarning
            z = Scaler(method).fit_transform(x)
        assert np.isfinite(z).all()
        np.testing.assert_array_equal(z[:, [0, 2]], 0.0)
    np.testing.assert_allclose(Scaler("minmax").fit_transform(x)[:, 1], [0, 0.25, 0.5, 0.75, 1])


def test_scaler_keeps_float32_and_refuses_wrong_shapes():
    x = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    scaler = Scaler().fit(x)
    assert scaler.transform(x).dtype == np.float32
    assert scaler.inverse_transform(x).dtype == np.float32
    with pytest.raises(ValueError, match="x has 2 features, but this Scaler was fitted on 3"):
        scaler.transform(x[:, :2])
    with pytest.raises(ValueError, match="not fitted"):
        Scaler().transform(x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        Scaler().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="method must be"):
        Scaler("robust")


def test_scaler_config_round_trip_and_validation():
    x = np.random.default_rng(2).normal(size=(30, 3))
    scaler = Scaler("minmax").fit(x)
    again = json_round_trip(scaler)
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))
    assert repr(again) == "Scaler(method='minmax', n_features=3)"
    config = scaler.to_config()
    with pytest.raises(ValueError, match="'scale' must be a list of 3 finite numbers"):
        Scaler.from_config({**config, "scale": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        Scaler.from_config({**config, "scale": [1.0, 0.0, 1.0]})
    with pytest.raises(ValueError, match="for 'LabelEncoder', not 'Scaler'"):
        Scaler.from_config({**config, "kind": "LabelEncoder"})


# -- Preprocessor ---------------------------------------------------------------------------------
TARGET = "median_house_value"


@pytest.fixture
def housing():
    table = housing_like(300, seed=4)
    features = table.drop(columns=TARGET)
    return features.iloc[:240].reset_index(drop=True), features.iloc[240:].reset_index(drop=True)


def test_column_kinds(housing):
    numeric, categorical = column_kinds(housing[0].assign(flag=True))
    assert categorical == ["ocean_proximity", "flag"]
    assert numeric[0] == "longitude" and len(numeric) == 8


@pytest.mark.parametrize("scaling, scaler", [("standard", StandardScaler),
                                             ("minmax", MinMaxScaler)])
def test_preprocessor_matches_a_sklearn_pipeline(housing, scaling, scaler):
    train, test = housing
    numeric, categorical = column_kinds(train)
    reference = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), scaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
    ]).fit(train)
    pre = Preprocessor(scaling=scaling).fit(train)
    out = pre.transform(test)
    assert out.dtype == np.float32 and out.shape == (60, pre.n_features_out)
    np.testing.assert_allclose(out, reference.transform(test), rtol=1e-5, atol=1e-6)
    assert pre.feature_names_out[:8] == numeric
    seen = sorted(set(train["ocean_proximity"]))
    assert pre.feature_names_out[8:] == [f"ocean_proximity={c}" for c in seen]


def test_gaps_are_filled_with_the_training_statistic(housing):
    train, test = housing
    test = test.copy()
    test.loc[:4, "median_income"] = np.nan
    raw = Preprocessor(scaling=None).fit(train).transform(test)
    column = list(train.columns).index("median_income")
    np.testing.assert_allclose(raw[:5, column], np.median(train["median_income"]), rtol=1e-6)
    mean = Preprocessor(scaling=None, impute="mean").fit(train).transform(test)
    np.testing.assert_allclose(mean[:5, column], train["median_income"].mean(), rtol=1e-6)


def test_unknown_and_missing_categories_give_all_zero_blocks(housing):
    train, test = housing
    test = test.copy()
    test.loc[0, "ocean_proximity"] = "UNDERWATER"
    test.loc[1, "ocean_proximity"] = None
    pre = Preprocessor().fit(train)
    one_hot = pre.transform(test)[:, 8:]
    known = test["ocean_proximity"].isin(train["ocean_proximity"]).to_numpy()
    assert not known[:2].any() and known[2:].sum() >= len(test) - 3
    np.testing.assert_array_equal(one_hot.sum(axis=1), known.astype(np.float32))
    assert set(one_hot.ravel()) == {0.0, 1.0}
    # Said, so a caller can warn: the unseen value (not the missing one) and how often.
    unseen = pre.unseen_categories(test)["ocean_proximity"]
    assert unseen["UNDERWATER"] == 1 and sum(unseen.values()) == (~known).sum() - 1
    assert pre.unseen_categories(train) == {}


def test_integer_categories_match_after_a_gap_turns_them_to_float():
    train = pd.DataFrame({"size": [1.0, 2.0, np.nan, 3.0], "x": [0.0, 1.0, 2.0, 3.0]})
    pre = Preprocessor().fit(train, numeric=["x"], categorical=["size"])
    assert pre.feature_names_out == ["x", "size=1", "size=2", "size=3"]
    test = pd.DataFrame({"size": [3, 1], "x": [1.0, 1.0]})
    np.testing.assert_array_equal(pre.transform(test)[:, 1:], [[0, 0, 1], [1, 0, 0]])


def test_preprocessor_json_round_trip_is_identical(housing):
    train, test = housing
    for scaling in ("standard", "minmax", None):
        pre = Preprocessor(scaling=scaling).fit(train)
        text = json.dumps(pre.to_config())
        again = Preprocessor.from_config(json.loads(text))
        np.testing.assert_array_equal(again.transform(test), pre.transform(test))
        assert again.feature_names_out == pre.feature_names_out
        assert repr(again) == repr(pre)


def test_preprocessor_refuses_bad_configs(housing):
    config = Preprocessor().fit(housing[0]).to_config()
    with pytest.raises(ValueError, match="lacks categories"):
        Preprocessor.from_config({k: v for k, v in config.items() if k != "categories"})
    with pytest.raises(ValueError, match="'fill_values' must be a list of 8"):
        Preprocessor.from_config({**config, "fill_values": [0.0]})
    with pytest.raises(ValueError, match="'scaler' does not match"):
        Preprocessor.from_config({**config, "scaling": "minmax"})
    with pytest.raises(ValueError, match="'scaler' does not match"):
        Preprocessor.from_config({**config, "scaler": None})
    with pytest.raises(TypeError, match="must be a dict"):
        Preprocessor.from_config(json.dumps(config))


def test_missing_column_and_wrong_width_are_named(housing):
    train, test = housing
    pre = Preprocessor().fit(train)
    with pytest.raises(ValueError, match="lacks the column\\(s\\) 'median_income'"):
        pre.transform(test.drop(columns="median_income"))
    # extra columns are ignored
    np.testing.assert_array_equal(pre.transform(test.assign(extra=1)), pre.transform(test))
    # a headerless file of 784 pixels, read as a table, is not listed column by column
    wide = pd.DataFrame(np.zeros((2, 784)), columns=[str(i) for i in range(784)])
    with pytest.raises(ValueError, match=r"it has 784 columns: '0', '1', .*'7', \.\.\.\.$"):
        pre.transform(wide)
    arrays = Preprocessor().fit(np.arange(12.0).reshape(4, 3))
    assert arrays.feature_names_out == ["x0", "x1", "x2"]
    with pytest.raises(ValueError, match="data has 2 features, but .* fitted on 3 columns"):
        arrays.transform(np.zeros((2, 2)))


def test_preprocessor_input_errors(housing):
    train, _ = housing
    fitted = Preprocessor().fit(train)
    with pytest.raises(ValueError, match="'median_income' holds non-numeric values such as 'n/a'"):
        fitted.transform(train.assign(median_income=["n/a"] + [1.0] * (len(train) - 1)))
    with pytest.raises(ValueError, match=r"\['empty'\] have no values"):
        Preprocessor().fit(train.assign(empty=np.nan))
    with pytest.raises(ValueError, match="'population' holds infinite values"):
        Preprocessor().fit(train.assign(population=np.inf))
    with pytest.raises(TypeError, match="column names must be strings"):
        Preprocessor().fit(pd.DataFrame({0: [1.0, 2.0]}))
    with pytest.raises(ValueError, match="as numeric and as categorical"):
        Preprocessor().fit(train, numeric=["latitude"], categorical=["latitude"])
    with pytest.raises(ValueError, match="not fitted"):
        Preprocessor().transform(train)
    with pytest.raises(ValueError, match="scaling must be"):
        Preprocessor(scaling="robust")


# -- LabelEncoder ---------------------------------------------------------------------------------
def test_label_encoder_strings_round_trip():
    names = pd.Series(["cat", "dog", "ant", "dog", "cat"])
    encoder = LabelEncoder().fit(names)
    assert encoder.classes_.tolist() == ["ant", "cat", "dog"] and encoder.n_classes == 3
    labels = encoder.transform(names)
    assert labels.dtype == np.int64 and labels.tolist() == [1, 2, 0, 2, 1]
    assert encoder.inverse_transform(labels).tolist() == names.tolist()
    again = json_round_trip(encoder)
    np.testing.assert_array_equal(again.transform(["dog", "ant"]), [2, 0])
    with pytest.raises(ValueError, match="not seen in fit: 'emu'.*'ant', 'cat', 'dog'"):
        encoder.transform(["cat", "emu"])


def test_label_encoder_numbers_keep_their_type_through_json():
    encoder = LabelEncoder().fit(np.array([10, 30, 20, 10]))
    assert encoder.transform([30, 10]).tolist() == [2, 0]
    again = json_round_trip(encoder)
    assert again.classes_.dtype.kind == "i"
    np.testing.assert_array_equal(again.inverse_transform([0, 2]), [10, 30])
    with pytest.raises(ValueError, match="not seen in fit"):
        encoder.transform(["10"])
    with pytest.raises(ValueError, match="labels has label 3 but there are only 3 classes"):
        encoder.inverse_transform([3])


def test_label_encoder_errors():
    with pytest.raises(TypeError, match="mixes kinds"):
        LabelEncoder().fit(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="missing class names"):
        LabelEncoder().fit(pd.Series(["a", None]))
    with pytest.raises(ValueError, match="not fitted"):
        LabelEncoder().transform([1])
    with pytest.raises(ValueError, match="all strings, all numbers"):
        LabelEncoder.from_config({"kind": "LabelEncoder", "classes": [1, "a"]})
    with pytest.raises(ValueError, match="repeated"):
        LabelEncoder.from_config({"kind": "LabelEncoder", "classes": ["a", "a"]})


# -- train_test_split -----------------------------------------------------------------------------
def test_split_is_seeded_and_complete():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=3)
    assert len(X_test) == 10 and len(X_train) == 40
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)  # rows stay with their targets
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(50))
    again = train_test_split(X, y, test_size=0.2, seed=3)
    np.testing.assert_array_equal(again[3], y_test)
    other = train_test_split(X, y, test_size=0.2, seed=4)
    assert not np.array_equal(other[3], y_test)
    assert len(train_test_split(X, y, test_size=7)[1]) == 7


def test_stratified_split_keeps_class_shares():
    y = np.array([0] * 80 + [1] * 20)
    X = np.arange(100.0).reshape(100, 1)
    for seed in range(5):
        _, _, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=seed, stratify=True)
        assert np.bincount(y_test).tolist() == [20, 5]
        assert np.bincount(y_train).tolist() == [60, 15]


def test_split_works_on_dataframes_and_checks_arguments():
    table = housing_like(40)
    X_train, X_test, y_train, y_test = train_test_split(table.drop(columns=TARGET), table[TARGET])
    assert isinstance(X_train, pd.DataFrame) and (X_train.index == y_train.index).all()
    X, y = np.zeros((10, 2)), np.arange(10)
    with pytest.raises(ValueError, match="different lengths"):
        train_test_split(X, y[:9])
    with pytest.raises(ValueError, match="fraction in \\(0, 1\\)"):
        train_test_split(X, y, test_size=1.5)
    with pytest.raises(ValueError, match="between 1 and 9"):
        train_test_split(X, y, test_size=10)
    with pytest.raises(TypeError, match="seed must be"):
        train_test_split(X, y, seed=1.5)
    with pytest.raises(ValueError, match="Cannot split y with stratification"):
        train_test_split(X, np.array([0] * 9 + [1]), stratify=True)
