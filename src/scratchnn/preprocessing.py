"""Preprocessing fitted on training data only, whose state saves as plain JSON (never pickle).

* ``Scaler`` -- standard or min-max scaling of array columns, with ``inverse_transform`` (for a
  regression target, say).
* ``Preprocessor`` -- a table (DataFrame) to a float32 matrix: missing numbers imputed, numbers
  scaled, categories one-hot encoded.
* ``LabelEncoder`` -- class names (strings or numbers) to labels 0..K-1 and back.
* ``train_test_split`` -- scikit-learn's, with a seed and optional stratification.

Each transformer has ``to_config()``, a dict of strings, numbers and lists that ``json.dumps``
writes as it is, and ``from_config(config)``, which rebuilds an identical transformer. The state
is a few statistics per column, so it is computed here in NumPy and kept in plain arrays rather
than in scikit-learn objects, whose fitted state is only savable by pickling them.
One-hot encoding of integer labels is ``scratchnn.utils.one_hot``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from ._validation import as_float_array, as_labels, check_same_length

__all__ = [
    "LabelEncoder",
    "Preprocessor",
    "Scaler",
    "column_kinds",
    "train_test_split",
]

_SCALINGS = ("standard", "minmax")


def column_kinds(frame):
    """(numeric, categorical): the column names of ``frame`` by kind, in table order.

    Numbers (ints, floats) are numeric; anything else -- strings, booleans, categories -- is
    categorical.
    """
    numeric, categorical = [], []
    for name in frame.columns:
        dtype = frame[name].dtype
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        (numeric if is_number else categorical).append(name)
    return numeric, categorical


# -- config helpers -------------------------------------------------------------------------------
def _config_of(config, kind, keys):
    """Check that ``config`` is a dict made by ``kind.to_config()`` with all of ``keys``."""
    if not isinstance(config, dict):
        raise TypeError(f"a {kind} config must be a dict, got {type(config).__name__}.")
    if config.get("kind") != kind:
        raise ValueError(f"this config is for {config.get('kind')!r}, not {kind!r}.")
    missing = [k for k in keys if k not in config]
    if missing:
        raise ValueError(f"the {kind} config lacks {', '.join(missing)}.")
    return config


def _float_list(values, name, length):
    array = np.asarray(values, dtype=np.float64) if isinstance(values, list) else None
    if array is None or array.shape != (length,) or not np.isfinite(array).all():
        raise ValueError(f"config entry {name!r} must be a list of {length} finite numbers.")
    return array


def _name_list(values, name):
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"config entry {name!r} must be a list of strings.")
    return list(values)


# -- Scaler ---------------------------------------------------------------------------------------
class Scaler:
    """Scale each column: ``(x - center) / scale``, with statistics learnt by ``fit``.

    method="standard": center = mean, scale = standard deviation (zero mean, unit variance).
    method="minmax": center = min, scale = max - min (values in [0, 1] on the training data).
    A constant column gets scale 1 and center its value, so it becomes 0 instead of dividing by
    zero. x: (n, k) -> (n, k), in the dtype of x (float32 stays float32).
    """

    def __init__(self, method="standard"):
        if method not in _SCALINGS:
            raise ValueError(f"method must be 'standard' or 'minmax', got {method!r}.")
        self.method = method
        self.center_ = None
        self.scale_ = None

    @property
    def n_features_in_(self):
        return None if self.center_ is None else len(self.center_)

    def fit(self, x):
        """Learn the statistics of each column of x (n, k); returns self."""
        x = as_float_array(x, "x", ndim=2)
        if len(x) == 0:
            raise ValueError("Scaler.fit needs at least one row.")
        low, high = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
        if self.method == "standard":
            # float64 accumulators: a float32 sum of many rows loses digits.
            center = x.mean(axis=0, dtype=np.float64)
            scale = x.std(axis=0, dtype=np.float64)
        else:
            center, scale = low, high - low
        # Exactly constant columns: the mean may be off by one ulp, so use the value itself.
        constant = low == high
        center[constant], scale[constant] = low[constant], 1.0
        self.center_, self.scale_ = center, scale
        return self

    def _check(self, x):
        if self.center_ is None:
            raise ValueError("this Scaler is not fitted yet; call fit(x) first.")
        x = as_float_array(x, "x", ndim=2)
        if x.shape[1] != len(self.center_):
            raise ValueError(
                f"x has {x.shape[1]} features, but this Scaler was fitted on {len(self.center_)}."
            )
        return x

    def transform(self, x):
        """x (n, k) -> scaled (n, k)."""
        x = self._check(x)
        return (x - self.center_.astype(x.dtype)) / self.scale_.astype(x.dtype)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def inverse_transform(self, z):
        """scaled z (n, k) -> x (n, k) in the original units."""
        z = self._check(z)
        return z * self.scale_.astype(z.dtype) + self.center_.astype(z.dtype)

    def to_config(self):
        if self.center_ is None:
            raise ValueError("this Scaler is not fitted yet; there is no state to save.")
        return {"kind": "Scaler", "method": self.method, "center": self.center_.tolist(),
                "scale": self.scale_.tolist()}

    @classmethod
    def from_config(cls, config):
        config = _config_of(config, "Scaler", ("method", "center", "scale"))
        scaler = cls(config["method"])
        if not isinstance(config["center"], list):
            raise ValueError("config entry 'center' must be a list of finite numbers.")
        n = len(config["center"])
        scaler.center_ = _float_list(config["center"], "center", n)
        scaler.scale_ = _float_list(config["scale"], "scale", n)
        if not np.all(scaler.scale_ > 0):
            raise ValueError("config entry 'scale' must hold positive numbers only.")
        return scaler

    def __repr__(self):
        fitted = "" if self.center_ is None else f", n_features={len(self.center_)}"
        return f"Scaler(method={self.method!r}{fitted})"


# -- Preprocessor ---------------------------------------------------------------------------------
def _category_string(value):
    """The string a category is stored as; whole floats read as ints (1.0 -> "1") so that a
    column read as float because of a gap matches the same column read as int."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


class Preprocessor:
    """A table to a float32 matrix: impute and scale numbers, one-hot encode categories.

    ``fit`` learns from the training table only: for each numeric column the value that fills
    its gaps (median or mean of the known values) and its scaling; for each categorical column
    its sorted list of categories. ``transform`` then gives, per row, the numeric columns (in
    fit order) followed by one 0/1 column per category; ``feature_names_out`` names them
    (``"ocean_proximity=INLAND"``). A category not seen in fit, or a missing one, gives an
    all-zero one-hot block. Columns of the table that were not fitted are ignored.

    data: DataFrame (n, columns) or 2-D array (n, k) -> (n, n_features_out) float32.

    Parameters
    ----------
    scaling : "standard", "minmax" or None (numbers left as they are, after imputation).
    impute : "median" or "mean".
    """

    def __init__(self, scaling="standard", impute="median"):
        if scaling is not None and scaling not in _SCALINGS:
            raise ValueError(f"scaling must be 'standard', 'minmax' or None, got {scaling!r}.")
        if impute not in ("median", "mean"):
            raise ValueError(f"impute must be 'median' or 'mean', got {impute!r}.")
        self.scaling = scaling
        self.impute = impute
        self.numeric_ = None
        self.categorical_ = None
        self.fill_values_ = None
        self.scaler_ = None
        self.categories_ = None

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, data, numeric=None, categorical=None):
        """Learn from the training table; returns self.

        ``numeric`` / ``categorical`` name the columns to use; by default every column, by its
        dtype (see ``column_kinds``). An array is read as numeric columns ``x0, x1, ...``.
        """
        frame = self._as_frame(data, fitting=True)
        if len(frame) == 0:
            raise ValueError("Preprocessor.fit needs at least one row.")
        auto_numeric, auto_categorical = column_kinds(frame)
        numeric = auto_numeric if numeric is None else self._column_list(numeric, "numeric")
        categorical = (auto_categorical if categorical is None
                       else self._column_list(categorical, "categorical"))
        both = set(numeric) & set(categorical)
        if both:
            raise ValueError(f"columns {sorted(both)} are listed as numeric and as categorical.")
        if not numeric and not categorical:
            raise ValueError("there are no columns to preprocess.")
        not_str = [c for c in numeric + categorical if not isinstance(c, str)]
        if not_str:
            raise TypeError(
                f"column names must be strings (they are saved as JSON), got {not_str[0]!r}; "
                "rename them, e.g. frame.columns = frame.columns.astype(str)."
            )
        self._require_columns(frame, numeric + categorical)

        values = self._numeric_values(frame, numeric)
        known = ~np.isnan(values)
        empty = [name for name, ok in zip(numeric, known.any(axis=0), strict=True) if not ok]
        if empty:
            raise ValueError(f"numeric column(s) {empty} have no values to learn from.")
        statistic = np.nanmedian if self.impute == "median" else np.nanmean
        fill_values = statistic(values, axis=0) if numeric else np.zeros(0)
        filled = np.where(known, values, fill_values)

        self.numeric_, self.categorical_ = list(numeric), list(categorical)
        self.fill_values_ = np.asarray(fill_values, dtype=np.float64)
        self.scaler_ = Scaler(self.scaling).fit(filled) if self.scaling and numeric else None
        self.categories_ = [
            sorted(set(self._category_strings(frame[name]).dropna())) for name in categorical
        ]
        return self

    def fit_transform(self, data, numeric=None, categorical=None):
        return self.fit(data, numeric, categorical).transform(data)

    # -- transforming -----------------------------------------------------------------------------
    @property
    def columns_(self):
        """The fitted input columns: numeric then categorical."""
        self._check_fitted()
        return self.numeric_ + self.categorical_

    @property
    def feature_names_out(self):
        """Names of the output columns: numeric names, then ``"column=category"``."""
        self._check_fitted()
        names = list(self.numeric_)
        for name, categories in zip(self.categorical_, self.categories_, strict=True):
            names += [f"{name}={category}" for category in categories]
        return names

    @property
    def n_features_out(self):
        return len(self.feature_names_out)

    def transform(self, data):
        """data (n, columns) -> (n, n_features_out) float32."""
        self._check_fitted()
        frame = self._as_frame(data)
        self._require_columns(frame, self.columns_)
        out = np.zeros((len(frame), self.n_features_out), dtype=np.float32)
        values = self._numeric_values(frame, self.numeric_)
        values = np.where(np.isnan(values), self.fill_values_, values)
        if self.scaler_ is not None:
            values = self.scaler_.transform(values)
        out[:, : len(self.numeric_)] = values
        offset = len(self.numeric_)
        rows = np.arange(len(frame))
        for name, categories in zip(self.categorical_, self.categories_, strict=True):
            # code -1 (unknown or missing) sets nothing: an all-zero block.
            codes = pd.Index(categories).get_indexer(self._category_strings(frame[name]))
            seen = codes >= 0
            out[rows[seen], offset + codes[seen]] = 1.0
            offset += len(categories)
        return out

    def unseen_categories(self, data):
        """{column: {value: count}} of the categories in ``data`` that fit never saw, each of
        which ``transform`` encodes as an all-zero block; missing values are not counted."""
        self._check_fitted()
        frame = self._as_frame(data)
        self._require_columns(frame, self.categorical_)
        unseen = {}
        for name, categories in zip(self.categorical_, self.categories_, strict=True):
            values = self._category_strings(frame[name]).dropna()
            new = values[~values.isin(categories)]
            if len(new):
                unseen[name] = new.value_counts(sort=False).to_dict()
        return unseen

    # -- saving -----------------------------------------------------------------------------------
    def to_config(self):
        """The fitted state as a JSON-ready dict of strings, numbers and lists."""
        self._check_fitted()
        return {
            "kind": "Preprocessor",
            "scaling": self.scaling,
            "impute": self.impute,
            "numeric": list(self.numeric_),
            "fill_values": self.fill_values_.tolist(),
            "scaler": None if self.scaler_ is None else self.scaler_.to_config(),
            "categorical": list(self.categorical_),
            "categories": [list(c) for c in self.categories_],
        }

    @classmethod
    def from_config(cls, config):
        """The Preprocessor whose ``to_config()`` gave ``config``."""
        keys = ("scaling", "impute", "numeric", "fill_values", "scaler", "categorical",
                "categories")
        config = _config_of(config, "Preprocessor", keys)
        pre = cls(config["scaling"], config["impute"])
        pre.numeric_ = _name_list(config["numeric"], "numeric")
        pre.categorical_ = _name_list(config["categorical"], "categorical")
        pre.fill_values_ = _float_list(config["fill_values"], "fill_values", len(pre.numeric_))
        categories = config["categories"]
        if not isinstance(categories, list) or len(categories) != len(pre.categorical_):
            raise ValueError("config entry 'categories' must hold one list per categorical column.")
        pre.categories_ = [_name_list(c, "categories") for c in categories]
        if config["scaler"] is not None:
            pre.scaler_ = Scaler.from_config(config["scaler"])
        expected = (pre.scaling, len(pre.numeric_)) if pre.scaling and pre.numeric_ else None
        found = pre.scaler_ and (pre.scaler_.method, pre.scaler_.n_features_in_)
        if found != expected:
            raise ValueError("config entry 'scaler' does not match its 'scaling' and 'numeric'.")
        return pre

    def __repr__(self):
        fitted = ""
        if self.numeric_ is not None:
            fitted = (f", numeric={len(self.numeric_)}, categorical={len(self.categorical_)}, "
                      f"n_features_out={self.n_features_out}")
        return f"Preprocessor(scaling={self.scaling!r}, impute={self.impute!r}{fitted})"

    # -- helpers ----------------------------------------------------------------------------------
    def _check_fitted(self):
        if self.numeric_ is None:
            raise ValueError("this Preprocessor is not fitted yet; call fit(train_data) first.")

    def _as_frame(self, data, fitting=False):
        if isinstance(data, pd.DataFrame):
            return data
        if isinstance(data, pd.Series):
            raise TypeError("data must be a table (DataFrame or 2-D array), got a Series.")
        array = as_float_array(data, "data", ndim=2, allow_nonfinite=True)
        if fitting:
            names = [f"x{i}" for i in range(array.shape[1])]
        else:
            names = self.columns_
            if array.shape[1] != len(names):
                raise ValueError(
                    f"data has {array.shape[1]} features, but this Preprocessor was fitted on "
                    f"{len(names)} columns ({', '.join(map(str, names))})."
                )
        return pd.DataFrame(array, columns=names)

    @staticmethod
    def _column_list(columns, what):
        if isinstance(columns, str):
            raise TypeError(f"{what} must be a list of column names, got the string {columns!r}.")
        return list(columns)

    @staticmethod
    def _require_columns(frame, columns):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            has = ", ".join(map(repr, frame.columns[:8]))
            if len(frame.columns) > 8:
                has = f"{len(frame.columns)} columns: {has}, ..."
            raise ValueError(
                f"the data lacks the column(s) {', '.join(map(repr, missing))} that the "
                f"Preprocessor uses; it has {has}."
            )

    @staticmethod
    def _numeric_values(frame, columns):
        """(n, len(columns)) float64 with NaN for gaps; non-numbers and infinities refused."""
        values = np.empty((len(frame), len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):
            column = frame[name]
            numbers_ = pd.to_numeric(column, errors="coerce")
            bad = numbers_.isna() & column.notna()
            if bad.any():
                raise ValueError(
                    f"numeric column {name!r} holds non-numeric values such as "
                    f"{column[bad].iloc[0]!r}."
                )
            values[:, j] = numbers_.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            column = columns[int(np.nonzero(np.isinf(values).any(axis=0))[0][0])]
            raise ValueError(f"numeric column {column!r} holds infinite values.")
        return values

    @staticmethod
    def _category_strings(column):
        """The column as category strings, missing values as None."""
        return pd.Series(
            [None if pd.isna(v) else _category_string(v) for v in column.to_numpy(dtype=object)],
            index=column.index, dtype=object,
        )


# -- LabelEncoder ---------------------------------------------------------------------------------
def _as_class_values(y, name):
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class names, got shape {array.shape}.")
    if array.dtype.kind not in "biufUO":
        raise TypeError(f"{name} must hold strings or numbers as class names, got {array.dtype}.")
    if pd.isna(array).any():
        raise ValueError(f"{name} has missing class names; drop those rows first.")
    return array


class LabelEncoder:
    """Class names (strings or numbers) <-> labels 0..K-1, in sorted order of the names.

    ``classes_[label]`` is the name of a label. y: (n,) names -> (n,) int64 labels.
    """

    def __init__(self):
        self.classes_ = None

    @property
    def n_classes(self):
        self._check_fitted()
        return len(self.classes_)

    def fit(self, y):
        y = _as_class_values(y, "y")
        if len(y) == 0:
            raise ValueError("LabelEncoder.fit needs at least one label.")
        try:
            classes = np.unique(y)
        except TypeError:
            raise TypeError(
                "y mixes kinds of class names (such as numbers and strings); use one kind."
            ) from None
        if classes.dtype == object:
            # pandas hands strings over as objects; a typed array saves and compares plainly
            classes = np.array(classes.tolist())
        self.classes_ = classes
        return self

    def transform(self, y):
        """names (n,) -> labels (n,) int64; a name not seen in fit is a ValueError."""
        self._check_fitted()
        y = _as_class_values(y, "y")
        labels = pd.Index(self.classes_).get_indexer(y)
        unknown = labels < 0
        if unknown.any():
            shown = ", ".join(map(repr, pd.unique(y[unknown])[:5].tolist()))
            raise ValueError(
                f"y has class name(s) not seen in fit: {shown}; the known classes are "
                f"{self.classes_.tolist()}."
            )
        return labels.astype(np.int64)

    def fit_transform(self, y):
        return self.fit(y).transform(y)

    def inverse_transform(self, labels):
        """labels (n,) -> class names (n,)."""
        self._check_fitted()
        return self.classes_[as_labels(labels, "labels", n_classes=len(self.classes_))]

    def to_config(self):
        self._check_fitted()
        return {"kind": "LabelEncoder", "classes": self.classes_.tolist()}

    @classmethod
    def from_config(cls, config):
        config = _config_of(config, "LabelEncoder", ("classes",))
        classes = config["classes"]
        if not isinstance(classes, list) or not classes:
            raise ValueError("config entry 'classes' must be a non-empty list.")
        kinds = {bool if isinstance(c, bool) else str if isinstance(c, str) else
                 numbers.Real if isinstance(c, numbers.Real) else type(c) for c in classes}
        if len(kinds) != 1 or not kinds <= {bool, str, numbers.Real}:
            raise ValueError("config entry 'classes' must be all strings, all numbers or all "
                             "booleans.")
        encoder = cls()
        encoder.classes_ = _as_class_values(classes, "classes")
        if len(np.unique(encoder.classes_)) != len(classes):
            raise ValueError("config entry 'classes' has repeated class names.")
        return encoder

    def _check_fitted(self):
        if self.classes_ is None:
            raise ValueError("this LabelEncoder is not fitted yet; call fit(y) first.")

    def __repr__(self):
        fitted = "" if self.classes_ is None else f"classes={self.classes_.tolist()!r}"
        return f"LabelEncoder({fitted})"


# -- train_test_split -----------------------------------------------------------------------------
def train_test_split(X, y, test_size=0.2, seed=0, stratify=False):
    """Shuffle and split: returns X_train, X_test, y_train, y_test.

    X and y may be arrays or pandas objects (which keep their index). ``test_size`` is a
    fraction in (0, 1) or a number of samples; ``seed`` (an int, or None for a fresh split) makes
    the split repeatable; ``stratify=True`` keeps each class's share of y in both parts.
    """
    from sklearn.model_selection import train_test_split as sklearn_split  # slow import

    check_same_length(X, y)
    n = len(X)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction or a number of samples, got {test_size!r}.")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"test_size={test_size} samples must be between 1 and {n - 1}.")
    elif not 0 < test_size < 1 or not 1 <= math.ceil(test_size * n) <= n - 1:
        raise ValueError(
            f"test_size={test_size} must be a fraction in (0, 1) that leaves both parts non-empty "
            f"for {n} samples."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int or None, got {seed!r}.")
    try:
        return sklearn_split(
            X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
        )
    except ValueError as exc:
        if stratify:
            raise ValueError(f"Cannot split y with stratification: {exc}") from None
        raise
