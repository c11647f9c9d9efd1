"""scikit-learn estimators: ``NeuralNetClassifier`` and ``NeuralNetRegressor``.

Each wraps a ``scratchnn.Model`` (no second training loop) behind scikit-learn's conventions, so
a scratchnn network can be cloned, put in a ``Pipeline``, cross-validated and grid-searched:

    from sklearn.model_selection import GridSearchCV
    from scratchnn.sklearn import NeuralNetClassifier

    search = GridSearchCV(NeuralNetClassifier(epochs=50, random_state=0),
                          {"hidden_layer_sizes": [(32,), (64, 32)], "learning_rate": [1e-3, 1e-2]})
    search.fit(X, y).best_params_

The constructor only stores hyper-parameters; ``fit`` validates them (scikit-learn's
``InvalidParameterError``, a ValueError, with a sentence), builds a ``Model`` with them and trains
it. As ``MLPClassifier``, the estimators do not scale X: put a ``StandardScaler`` or a
``ColumnTransformer`` in front of them in a ``Pipeline``. The regressor standardises its targets
(as ``Model`` does) and predicts in their units.

A fitted estimator is saved in scratchnn's pickle-free model file, its hyper-parameters in the
file's metadata: ``scratchnn.save(estimator, path)``, ``load_estimator(path)``.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass, field, fields

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_random_state,
    validate_data,
)

from .callbacks import EarlyStopping
from .model import Model
from .optim import OPTIMIZERS

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor", "load_estimator"]

# The scikit-learn estimator checks these estimators fail, and why (see NeuralNetTags).
_EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "weights are exact in the loss (a weighted mean, and the regressor's target scaling "
        "is weighted), but the network trains in float32: weighted and repeated rows sum in "
        "another order and the predictions agree to ~1e-6 relative, not to the check's "
        "rtol=1e-7 (tests/test_sklearn.py checks the equivalence at float32 tolerance)."),
    "check_methods_subset_invariance": (
        "the network computes in float32, and on some CPUs OpenBLAS multiplies a batch of one "
        "row with another kernel than a batch of many, so a row's scores differ by ~1e-6 "
        "relative between the two, above the check's atol=1e-7 (it passes on other CPUs; "
        "tests/test_sklearn.py checks the invariance at float32 tolerance)."),
}


@dataclass(slots=True)
class NeuralNetTags(Tags):
    """scikit-learn's estimator tags, plus ``expected_failed_checks``: {name of a check of
    ``sklearn.utils.estimator_checks``: why this estimator fails it}. scikit-learn 1.6+ takes
    that list from ``parametrize_with_checks(..., expected_failed_checks=)``; the estimator
    keeps it here, in its tags, so the reason lives beside the code it is about::

        parametrize_with_checks(estimators, expected_failed_checks=lambda est:
                                get_tags(est).expected_failed_checks)
    """

    expected_failed_checks: dict = field(default_factory=dict)


_ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")
_METADATA_KEY = "sklearn"  # where save() keeps the estimator's class and hyper-parameters


class _NeuralNetBase(BaseEstimator):
    """What the classifier and the regressor share: hyper-parameters, building the Model,
    fit / partial_fit, saving."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "layers": [str, list, None],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left"), None],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": [Interval(numbers.Integral, 0, 2, closed="both"), "boolean"],
    }

    # scikit-learn reads the hyper-parameters from __init__'s signature; the regressor uses
    # this one as it is, the classifier adds class_weight.
    def __init__(self, hidden_layer_sizes=(64,), *, layers=None, activation="relu",
                 optimizer="adam", learning_rate=1e-3, epochs=100, batch_size="auto",
                 weight_decay=None, dropout=0.0, early_stopping=False, validation_fraction=0.1,
                 patience=10, random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.layers = layers
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    # -- building the Model ----------------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
                raise ValueError(f"hidden_layer_sizes must hold positive whole numbers, got "
                                 f"{self.hidden_layer_sizes!r}.")
        return tuple(int(s) for s in sizes)

    def _layers_spec(self):
        """The layers spec the Model is built from: ``layers`` as given; with ``dropout``, the
        hidden layers written out as a spec; else None (the Model's ``hidden`` sizes)."""
        if self.layers is not None:
            if self.dropout:
                raise ValueError(f"dropout={self.dropout!r} cannot be placed in a given layers "
                                 "spec; write it there instead (e.g. 'dense 64, relu, dropout "
                                 "0.2').")
            return self.layers
        if not self.dropout:
            return None
        items = []
        for size in self._hidden_sizes():
            items.append(f"dense {size}")
            if self.activation != "identity":
                items.append(self.activation)
            items.append(f"dropout {float(self.dropout)!r}")
        return ", ".join(items) if items else None

    def _seed(self):
        """random_state as the Model's seed: an int as it is, else one drawn from it."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _new_model(self, task):
        spec = self._layers_spec()
        hidden = self._hidden_sizes() if spec is None else ()
        return Model(task=task, preprocessor=None, hidden=hidden, activation=self.activation,
                     layers=spec, seed=self._seed())

    def _new_optimizer(self):
        cls, kwargs = OPTIMIZERS[self.optimizer]
        if self.weight_decay is not None:
            kwargs = {**kwargs, "weight_decay": float(self.weight_decay)}
        return cls(float(self.learning_rate), **kwargs)

    def _batch_size(self, n_samples):
        # "auto" as MLPClassifier: min(200, n_samples)
        return min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)

    # -- training -------------------------------------------------------------------------------
    def _train(self, X, y, sample_weight, *, first, epochs, classes=None):
        """Train a new Model (``first``), or the current one, for ``epochs`` (fit: a new Model
        for ``self.epochs``; partial_fit: one epoch, of a new Model on the first call), then set
        the fitted attributes."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        options = {"batch_size": self._batch_size(len(X)), "verbose": int(self.verbose),
                   "sample_weight": sample_weight}
        options.update(self._class_weight_option())
        if first:
            self.model_ = self._new_model(self._model_task(classes))
            self.model_.target_scaler = self._target_scaler(y, sample_weight)
            self.history_ = {}
            options["optimizer"] = self._new_optimizer()
            if self.early_stopping and epochs > 1:  # partial_fit: no held-out part
                options.update(validation_split=self.validation_fraction, callbacks=[
                    EarlyStopping("val_loss", patience=self.patience,
                                  restore_best_weights=True)])
        # Later calls: the Model keeps its optimizer, seed and epoch count, so it continues.
        self.model_.fit(X, y, classes=classes, epochs=epochs, **options)
        for key, values in self.model_.history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.network_ = self.model_.network
        self.n_iter_ = int(self.model_.optimizer.epochs)
        return self

    def _class_weight_option(self):
        return {}

    def _target_scaler(self, y, sample_weight):
        """None (the Model standardises the targets itself), or with sample weights a scaler of
        the weighted mean and standard deviation: weights 2 and 0 then scale as a repeated and
        a removed row do."""
        return None

    def _model_task(self, classes):
        return "regression"

    # -- saving ---------------------------------------------------------------------------------
    def to_model(self):
        """The fitted ``Model``, its metadata holding this estimator's class, hyper-parameters and
        fitted attributes: what ``scratchnn.save(estimator, path)`` writes."""
        check_is_fitted(self)
        model = copy.copy(self.model_)
        names = getattr(self, "feature_names_in_", None)
        model.metadata = {**self.model_.metadata, _METADATA_KEY: {
            "estimator": type(self).__name__,
            "params": _encode_params(self.get_params()),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None if names is None else [str(n) for n in names],
            "history": {k: [float(v) for v in vs] for k, vs in self.history_.items()},
        }}
        return model

    def _restore(self, model, saved):
        """Set the fitted attributes around a loaded ``model`` (see ``load_estimator``)."""
        self.model_ = model
        self.network_ = model.network
        self.n_features_in_ = saved["n_features_in"]
        if saved.get("feature_names_in") is not None:
            self.feature_names_in_ = np.asarray(saved["feature_names_in"], dtype=object)
        self.history_ = {k: list(v) for k, v in saved.get("history", {}).items()}
        self.n_iter_ = int(getattr(model.optimizer, "epochs", 0))
        if model.class_names is not None:
            self.classes_ = np.asarray(model.class_names)
        return self

    def __sklearn_tags__(self):
        base = super().__sklearn_tags__()
        return NeuralNetTags(**{f.name: getattr(base, f.name) for f in fields(base)},
                             expected_failed_checks=dict(_EXPECTED_FAILED_CHECKS))


class NeuralNetClassifier(ClassifierMixin, _NeuralNetBase):
    """A scratchnn network as a scikit-learn classifier (binary or multiclass).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of ints, default=(64,)
        The width of each hidden layer: Linear, activation, ..., Linear (the output layer has one
        unit per class, or one logit for two classes).
    layers : str or None, default=None
        A layer spec as ``MultiLayerNetwork.from_spec`` ("dense 64, relu, dropout 0.2, dense 32,
        relu"); when given, it replaces hidden_layer_sizes and activation (the output layer is
        added).
    activation : {"relu", "tanh", "sigmoid", "leaky_relu", "identity"}, default="relu"
    optimizer : {"adam", "adamw", "sgd", "momentum", "rmsprop", "adagrad"}, default="adam"
    learning_rate : float > 0, default=1e-3
    epochs : int >= 1, default=100
        Passes over the training data (fewer with early stopping).
    batch_size : int >= 1 or "auto", default="auto"
        Rows per step; "auto" is min(200, n_samples), as ``MLPClassifier``.
    weight_decay : float >= 0 or None, default=None
        L2 penalty of the optimizer; None keeps its own default (0, AdamW's 0.01).
    dropout : float in [0, 1), default=0.0
        Dropout after each hidden layer's activation.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and stop when its loss
        has not improved for ``patience`` epochs, keeping the best epoch's weights.
    validation_fraction : float in (0, 1), default=0.1
    patience : int >= 1, default=10
    class_weight : dict {class name: weight}, "balanced" or None, default=None
    random_state : int, RandomState or None, default=None
        The Model's seed (an int is used as it is): initial weights, shuffles, dropout.
    verbose : 0, 1 or 2, default=0
        0 silent, 1 a progress bar per epoch, 2 a line per epoch.

    Attributes
    ----------
    classes_ : (n_classes,) the class names, in the order of ``predict_proba``'s columns.
    n_features_in_, feature_names_in_ : as every scikit-learn estimator.
    model_ : the fitted ``scratchnn.Model``;  network_ : its ``MultiLayerNetwork``.
    history_ : {"loss": [...], "accuracy": [...], ...}, one value per epoch trained.
    n_iter_ : the number of epochs trained so far.
    """

    _parameter_constraints: dict = {
        **_NeuralNetBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(64,), *, layers=None, activation="relu",
                 optimizer="adam", learning_rate=1e-3, epochs=100, batch_size="auto",
                 weight_decay=None, dropout=0.0, early_stopping=False, validation_fraction=0.1,
                 patience=10, class_weight=None, random_state=None, verbose=0):
        super().__init__(hidden_layer_sizes, layers=layers, activation=activation,
                         optimizer=optimizer, learning_rate=learning_rate, epochs=epochs,
                         batch_size=batch_size, weight_decay=weight_decay, dropout=dropout,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         patience=patience, random_state=random_state, verbose=verbose)
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train a new network on X (n_samples, n_features) and the class names y (n_samples,);
        ``sample_weight`` (n_samples,) weighs each sample in the loss. Returns self."""
        X, y = self._check_xy(X, y, reset=True)
        self.classes_ = np.unique(y)
        self._check_two_classes(self.classes_)
        return self._train(X, y, sample_weight, first=True, epochs=self.epochs,
                           classes=self.classes_)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on (X, y), as ``MLPClassifier.partial_fit``. The first call (on an
        unfitted estimator) needs ``classes``: every class name, as y may lack some."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit: every "
                             "class name, since one batch of y may lack some.")
        if not first and classes is not None and not np.array_equal(
                np.unique(classes), self.classes_):
            raise ValueError(f"classes={list(classes)!r} differs from the classes of the first "
                             f"call, {self.classes_.tolist()!r}.")
        X, y = self._check_xy(X, y, reset=first)
        if first:
            self.classes_ = np.unique(classes)
            self._check_two_classes(self.classes_)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(f"y has class name(s) {unknown.tolist()[:5]} not in classes "
                             f"{self.classes_.tolist()}.")
        return self._train(X, y, sample_weight, first=first, epochs=1, classes=self.classes_)

    def _check_xy(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset)
        check_classification_targets(y)
        return X, y

    @staticmethod
    def _check_two_classes(classes):
        if len(classes) < 2:
            raise ValueError(f"y has only one class ({classes.tolist()}); a classifier needs "
                             "samples of at least 2 classes.")

    def _model_task(self, classes):
        return "binary" if len(classes) == 2 else "multiclass"

    def _class_weight_option(self):
        """class_weight by class name -> by the network's label (the index in classes_)."""
        cw = self.class_weight
        if cw is None or isinstance(cw, str):
            return {"class_weight": cw}
        unknown = [k for k in cw if k not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(f"class_weight names class(es) {unknown[:5]} that are not in y's "
                             f"classes {self.classes_.tolist()}.")
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        return {"class_weight": {index[k]: float(w) for k, w in cw.items()}}

    def _network_input(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.transform(X)

    def decision_function(self, X):
        """The network's raw scores: (n_samples,) logits of classes_[1] for two classes,
        (n_samples, n_classes) for more."""
        x = self._network_input(X)
        scores = self.network_.predict_raw(x).astype(np.float64)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        x = self._network_input(X)
        return self.network_.predict_proba(x).astype(np.float64)

    def predict(self, X):
        """The class name of each row (n_samples,)."""
        x = self._network_input(X)
        return self.classes_[self.network_.predict(x)]


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A scratchnn network as a scikit-learn regressor (one target or several).

    The parameters are those of ``NeuralNetClassifier`` without class_weight. The targets are
    standardised for training (their mean and standard deviation are learnt by ``fit``) and
    predictions come back in their units: (n_samples,) for a 1-D y, (n_samples, n_targets) for
    a 2-D one.

    Attributes: n_features_in_, feature_names_in_, model_, network_, history_ ({"loss": [...],
    "mae": [...]}, in standardised units), n_iter_.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train a new network on X (n_samples, n_features) and y (n_samples,) or
        (n_samples, n_targets); ``sample_weight`` (n_samples,) weighs each sample. Returns
        self."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=True)
        return self._train(X, y, sample_weight, first=True, epochs=self.epochs)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch on (X, y), as ``MLPRegressor.partial_fit`` (the first call fits the
        target scaling on its y)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=first)
        if not first:
            n_targets = 1 if y.ndim == 1 else y.shape[1]
            if n_targets != self.network_.n_outputs:
                raise ValueError(f"y has {n_targets} target(s), the network was fitted on "
                                 f"{self.network_.n_outputs}.")
        return self._train(X, y, sample_weight, first=first, epochs=1)

    def _target_scaler(self, y, sample_weight):
        if sample_weight is None:
            return None
        from .preprocessing import Scaler

        values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        w = _check_sample_weight(sample_weight, values)
        if not w.any():
            return None  # fit refuses all-zero weights with its own sentence
        center = np.average(values, axis=0, weights=w)
        scale = np.sqrt(np.average((values - center) ** 2, axis=0, weights=w))
        kept = values[w > 0]
        constant = (kept == kept[0]).all(axis=0)
        center[constant], scale[constant] = kept[0, constant], 1.0
        return Scaler.from_config({"kind": "Scaler", "method": "standard",
                                   "center": center.tolist(), "scale": scale.tolist()})

    def predict(self, X):
        """Predictions in the target's units: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.model_.predict(X), dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# -- model files -----------------------------------------------------------------------------------
_ESTIMATORS = {cls.__name__: cls for cls in (NeuralNetClassifier, NeuralNetRegressor)}


def _encode_params(params):
    """Hyper-parameters as JSON: tuples as lists, class_weight as [name, weight] pairs (JSON
    keys are strings only); a RandomState object cannot be stored and is saved as None."""
    encoded = {}
    for name, value in params.items():
        if name == "hidden_layer_sizes" and not isinstance(value, numbers.Integral):
            value = [int(v) for v in value]
        elif name == "class_weight" and isinstance(value, dict):
            value = {"pairs": [[_plain(k), float(v)] for k, v in value.items()]}
        elif name == "random_state" and not isinstance(value, (numbers.Integral, type(None))):
            value = None
        encoded[name] = _plain(value)
    return encoded


def _decode_params(encoded):
    params = dict(encoded)
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    cw = params.get("class_weight")
    if isinstance(cw, dict):
        params["class_weight"] = {k: w for k, w in cw["pairs"]}
    return params


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def load_estimator(path):
    """The fitted estimator saved with ``scratchnn.save(estimator, path)``: its class and
    hyper-parameters from the file's metadata, around the Model the file holds. The file is
    read as every scratchnn model file (never unpickled). A plain model file (no estimator in
    its metadata) is refused with a ValueError."""
    from .serialization import ModelFileError, load_model_file

    model = load_model_file(path)
    saved = model.metadata.get(_METADATA_KEY)
    if not isinstance(saved, dict) or saved.get("estimator") not in _ESTIMATORS:
        raise ModelFileError(f"{path} holds a scratchnn model but no scikit-learn estimator; "
                             "load it with scratchnn.load_model_file.")
    cls = _ESTIMATORS[saved["estimator"]]
    try:
        estimator = cls(**_decode_params(saved["params"]))
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path} has estimator settings that cannot be restored: "
                             f"{exc}") from None
    model.metadata = {k: v for k, v in model.metadata.items() if k != _METADATA_KEY}
    return estimator._restore(model, saved)
