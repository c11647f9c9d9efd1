"""``Model``: a network with everything it needs to work on the user's own data.

A ``MultiLayerNetwork`` computes on float arrays. A ``Model`` adds the pieces that turn a table
or an array of raw values into those arrays and the network's outputs back into the user's
terms, fitted together and saved together:

* the preprocessing of X (``scratchnn.preprocessing.Preprocessor``: imputation, scaling, one-hot
  columns for text; or any fitted object with ``transform`` and ``to_config``);
* the class names of a classifier (strings, numbers): ``predict`` returns them;
* the scaling of a regressor's targets: ``predict`` returns values in the target's own units;
* the task (``scratchnn.tasks``).

    model = Model(hidden=(64, 32)).fit(table, table.pop("ocean_proximity"), epochs=20)
    model.predict(new_rows)         # -> array(['INLAND', 'NEAR BAY', ...])
    scratchnn.save(model, "m.npz")  # load_model_file("m.npz") gives the Model back

The command line trains and loads exactly this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array, check_positive_int
from .network import MultiLayerNetwork
from .optim import get_optimizer
from .tasks import check_task

_MAX_CLASSES_OF_NUMBERS = 20  # whole numbers with at most this many values are read as classes


@dataclass(eq=False)
class Model:
    """A network and its fitted preprocessing, class names, target scaling and task.

    Build one with the network's shape (``hidden`` sizes and ``activation``, or a ``layers``
    spec as ``MultiLayerNetwork.from_spec``) and ``fit`` it on raw data; or give a ready
    ``network``. ``load_model_file`` returns a fitted Model. After ``fit``: ``network``,
    ``preprocessor``, ``class_names`` (classifiers), ``target_scaler`` (regressors), ``task``,
    ``optimizer`` (its state lets a second ``fit`` resume exactly) and ``history``.
    """

    network: MultiLayerNetwork | None = None
    optimizer: object = None
    preprocessor: object = "auto"
    class_names: list | None = None
    target_scaler: object = None
    metadata: dict = field(default_factory=dict)
    format_version: int | None = None
    scratchnn_version: str | None = None
    task: str | None = None
    hidden: tuple = (64,)
    activation: str = "relu"
    layers: object = None
    scale_target: bool = True
    dtype: object = np.float32
    seed: int = 0
    history: object = None

    def __post_init__(self):
        check_task(self.task)
        if self.task is None and self.network is not None:
            self.task = self.network.task
        # Files written before tasks were saved: class names mean classes, a target scaler values.
        if self.task is None and self.class_names is not None:
            n_out = self.network.n_outputs if self.network is not None else None
            self.task = "binary" if n_out == 1 else "multiclass"
        if self.task is None and self.target_scaler is not None:
            self.task = "regression"
        if self.network is not None and self.network.task is None:
            self.network.task = self.task
        seed = self.metadata.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
            self.seed = seed

    # -- what it is ------------------------------------------------------------------------------
    @property
    def is_classifier(self):
        """True for a model that predicts class names (it knows them)."""
        return self.class_names is not None

    @property
    def classes_(self):
        """The class names, in the order of ``predict_proba``'s columns (scikit-learn's name)."""
        return None if self.class_names is None else np.asarray(self.class_names)

    # -- training -------------------------------------------------------------------------------
    def fit(self, X, y, *, classes=None, **fit_options):
        """Fit the preprocessing, the class names or target scaling and the network on raw data.

        X : a DataFrame (numeric and text columns), a 2-D array, or images (n, C, H, W).
        y : class names (strings, numbers) or target values (n,) / (n, k).
        classes : every class name, when y may lack some (they are still predicted, and scored).
        fit_options : as ``MultiLayerNetwork.fit`` (epochs, batch_size, optimizer, lr,
            validation_split, callbacks, sample_weight, class_weight, verbose, ...); ``seed``
            defaults to the model's. Fitting again continues the same network and optimizer.
        Returns the model.
        """
        X = self._fit_preprocessor(X)
        task = self.task or task_of_values(y)
        targets = self._fit_targets(y, task, classes)
        n_out = self._n_outputs(task, targets)
        if self.network is None:
            self.network = self._build_network(X.shape[1:], n_out)
        elif self.network.n_outputs not in (None, n_out):
            raise ValueError(f"the network has {self.network.n_outputs} outputs, but the "
                             f"{task} targets need {n_out}.")
        self.network.task = self.task = task
        fit_options.setdefault("seed", self.seed)
        self.metadata["seed"] = fit_options["seed"]  # a loaded model resumes with it
        # The optimizer is kept: a second fit (or one after loading) continues its schedule.
        self.optimizer = get_optimizer(fit_options.pop("optimizer", self.optimizer or "adam"),
                                       lr=fit_options.pop("lr", None))
        self.history = self.network.fit(X, targets, optimizer=self.optimizer, **fit_options)
        return self

    def _fit_preprocessor(self, X):
        if isinstance(self.preprocessor, str):  # "auto"
            self.preprocessor = self._default_preprocessor(X)
        if self.preprocessor is not None and not _is_fitted(self.preprocessor):
            self.preprocessor.fit(X)
        return self._preprocess(X)

    @staticmethod
    def _default_preprocessor(X):
        """Tables and rows are imputed and standardised (text columns one-hot); images and
        other N-D arrays go in as they are."""
        from .preprocessing import Preprocessor  # pandas is slow to import: only when needed

        return Preprocessor() if np.ndim(X) == 2 or hasattr(X, "columns") else None

    def _fit_targets(self, y, task, classes):
        """y as the network's targets: labels 0..C-1, 0/1 rows, or standardised values."""
        from .preprocessing import LabelEncoder, Scaler

        if task in ("binary", "multiclass"):
            encoder = LabelEncoder().fit(y if classes is None else classes)
            if len(encoder.classes_) < 2:
                only = encoder.classes_.tolist()[0]
                raise ValueError(f"y holds one class only ({only!r}); a classifier needs two or "
                                 "more.")
            if task == "binary" and len(encoder.classes_) != 2:
                raise ValueError(f"a binary model needs 2 classes, y has "
                                 f"{len(encoder.classes_)}: {encoder.classes_.tolist()[:10]}.")
            self.class_names = encoder.classes_.tolist()
            return encoder.transform(y)
        values = np.asarray(y)
        if values.dtype.kind not in "biuf":
            raise TypeError(f"a {task} model needs numbers in y, got values such as "
                            f"{values.reshape(-1)[0]!r}; for class names use task='multiclass'.")
        # Checked before any statistics: NaN, infinite, or beyond the network's dtype.
        as_float_array(values, "y", dtype=self.network.dtype if self.network else self.dtype)
        values = values.astype(np.float64)
        if task == "multilabel":
            return values
        values = values.reshape(len(values), -1)
        self.metadata["target_ndim"] = np.ndim(y)
        if self.target_scaler is None and self.scale_target and self.optimizer is None:
            # Targets in the 100,000s (house values) make MSE training diverge: z-scores do not.
            self.target_scaler = Scaler("standard").fit(values)
        return values if self.target_scaler is None else self.target_scaler.transform(values)

    def _n_outputs(self, task, targets):
        if task == "multiclass":
            return len(self.class_names)
        if task == "binary":
            return 1
        return targets.shape[1]

    def _build_network(self, input_shape, n_out):
        if self.layers is not None:
            return MultiLayerNetwork.from_spec(self.layers, input_shape, n_out, rng=self.seed,
                                               dtype=self.dtype)
        if len(input_shape) != 1:
            raise ValueError(f"X has samples of shape {input_shape}: give a layers spec for "
                             "them (e.g. 'conv 16 3, relu, maxpool 2, flatten'), or flatten X.")
        hidden = tuple(check_positive_int(h, "every size in hidden") for h in self.hidden)
        return MultiLayerNetwork.from_sizes([input_shape[0], *hidden, n_out],
                                            activation=self.activation, rng=self.seed,
                                            dtype=self.dtype)

    # -- using it --------------------------------------------------------------------------------
    def transform(self, X):
        """Raw input -> network input, through the fitted preprocessing (if there is one).

        X: (n, raw columns) table or array -> (n, n_features), in the network's dtype.
        """
        self._check_fitted()
        return self._preprocess(X)

    def _preprocess(self, X):
        if self.preprocessor is None:
            return X
        dtype = self.network.dtype if self.network is not None else self.dtype
        return np.asarray(self.preprocessor.transform(X), dtype=dtype)

    def predict(self, X):
        """Predictions for raw input, in the terms of the data the model was trained on: class
        names (n,) for a classifier, 0/1 rows for multi-label outputs, values in the target's
        own units for a regressor ((n,) for one target, (n, k) for several)."""
        x = self.transform(X)
        if self.task == "regression":
            values = self.network.predict_raw(x)
            if self.target_scaler is not None:
                values = self.target_scaler.inverse_transform(values)
            return values[:, 0] if self.metadata.get("target_ndim") == 1 else values
        predicted = self.network.predict(x)
        if self.class_names is not None and self.task != "multilabel":
            return np.asarray(self.class_names)[predicted]
        return predicted

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), columns in the order of ``class_names``."""
        return self.network.predict_proba(self.transform(X))

    def evaluate(self, X, y, metrics=None, sample_weight=None):
        """Metrics on raw data, in the user's terms: for a classifier the network's loss and
        accuracy (or ``metrics``); for a regressor RMSE, MAE and R^2 in the target's units."""
        from . import metrics as scores

        x = self.transform(X)
        if self.task in ("binary", "multiclass"):
            from .preprocessing import LabelEncoder

            encoder = LabelEncoder.from_config({"kind": "LabelEncoder",
                                                "classes": self.class_names})
            return self.network.evaluate(x, encoder.transform(y), metrics=metrics,
                                         sample_weight=sample_weight)
        if self.task == "multilabel":
            return self.network.evaluate(x, y, metrics=metrics, sample_weight=sample_weight)
        names = metrics or ["rmse", "mae", "r2"]
        y_true = np.asarray(y, dtype=np.float64)
        y_pred = np.asarray(self.predict(X), dtype=np.float64).reshape(y_true.shape)
        return {fn.__name__: float(fn(y_true, y_pred, sample_weight=sample_weight))
                for fn in (scores.get_metric(name, "regression") for name in names)}

    def _check_fitted(self):
        if self.network is None:
            raise ValueError("this Model is not fitted yet; call fit(X, y) first.")


def _is_fitted(preprocessor):
    """Whether a preprocessing object has learnt its statistics (scratchnn's keep them in
    attributes ending in _, None until fit, as scikit-learn's)."""
    learnt = [v for k, v in vars(preprocessor).items() if k.endswith("_") and not k.startswith("_")]
    return bool(learnt) and all(v is not None for v in learnt)


def task_of_values(y):
    """The task raw targets imply: text, booleans and whole numbers with few distinct values are
    classes ("multiclass"); other numbers are values ("regression"), one column or several. The
    command line reads a table's target with it too."""
    values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] > 1:
        return "regression"
    values = values.reshape(-1)
    if values.dtype.kind not in "iuf":
        return "multiclass"
    whole = values.dtype.kind in "iu" or bool(
        np.all(np.isfinite(values)) and np.all(values == np.round(values))
        and np.abs(values).max(initial=0) < 2**31)
    few = len(np.unique(values)) <= _MAX_CLASSES_OF_NUMBERS
    return "multiclass" if whole and few else "regression"
