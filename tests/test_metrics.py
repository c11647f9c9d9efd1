"""scratchnn.metrics against scikit-learn and hand-worked values, for every task a metric fits,
with and without sample weights; the registry (get_metric, default_metrics); the error sentences."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import sklearn.metrics as skm

from scratchnn import metrics
from scratchnn.metrics import (
    METRICS,
    Metric,
    accuracy,
    confusion_matrix,
    default_metrics,
    f1,
    get_metric,
    log_loss,
    mae,
    mse,
    precision,
    predicted_labels,
    r2,
    recall,
    rmse,
    roc_auc,
)

rng = np.random.default_rng(0)

# binary: one probability of class 1 per sample
Y_BIN = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0])
P_BIN = np.array([0.1, 0.8, 0.4, 0.6, 0.9, 0.3, 0.55, 0.2, 0.45, 0.7])
W = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 2.0, 0.0, 1.5])

# multiclass: softmax rows over 3 classes, every class present in the targets
_logits = rng.normal(size=(10, 3))
P_MC = np.exp(_logits) / np.exp(_logits).sum(axis=1, keepdims=True)
Y_MC = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
ONEHOT_MC = np.eye(3)[Y_MC]

# multilabel: 3 independent outputs, both values present in every column
P_ML = rng.uniform(size=(10, 3))
Y_ML = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1],
                 [0, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0]])

# regression: 1 and 3 outputs
Y_R1, P_R1 = np.array([3.0, -0.5, 2.0, 7.0, 1.0]), np.array([2.5, 0.0, 2.0, 8.0, 1.5])
Y_R3 = rng.normal(size=(8, 3)) * [1.0, 10.0, 0.1]
P_R3 = Y_R3 + rng.normal(size=(8, 3))
W_R = np.array([1.0, 0.5, 2.0, 1.0, 3.0, 1.0, 0.0, 1.0])


# -- hand-worked values ----------------------------------------------------------------------------
def test_binary_values_by_hand():
    y, p = np.array([0, 1, 1, 0]), np.array([0.2, 0.6, 0.4, 0.7])  # labels 0 1 0 1
    assert accuracy(y, p) == 0.5
    assert precision(y, p) == 0.5  # tp 1, fp 1
    assert recall(y, p) == 0.5  # tp 1, fn 1
    assert f1(y, p) == 0.5
    # positives score 0.6 and 0.4, negatives 0.2 and 0.7: 2 of the 4 pairs are ordered right
    assert roc_auc(y, p) == 0.5
    assert log_loss(y, p) == pytest.approx(-np.mean(np.log([0.8, 0.6, 0.4, 0.3])))
    # weights: the two wrong samples count 3 times
    assert accuracy(y, p, [1, 1, 3, 3]) == pytest.approx(2 / 8)


def test_regression_values_by_hand():
    assert mse(Y_R1, P_R1) == pytest.approx((0.25 + 0.25 + 0 + 1 + 0.25) / 5)
    assert mae(Y_R1, P_R1) == pytest.approx((0.5 + 0.5 + 0 + 1 + 0.5) / 5)
    assert rmse(Y_R1, P_R1) == pytest.approx(math.sqrt(1.75 / 5))
    ss_tot = np.sum((Y_R1 - Y_R1.mean()) ** 2)
    assert r2(Y_R1, P_R1) == pytest.approx(1 - 1.75 / ss_tot)


def test_predicted_labels():
    np.testing.assert_array_equal(predicted_labels(P_BIN, "binary"), P_BIN > 0.5)
    np.testing.assert_array_equal(predicted_labels(P_BIN[:, None], "binary"), P_BIN > 0.5)
    assert predicted_labels([0.5], "binary")[0] == 0  # p > 0.5 strictly, as utils.to_labels
    np.testing.assert_array_equal(predicted_labels(P_MC, "multiclass"), P_MC.argmax(axis=1))
    np.testing.assert_array_equal(predicted_labels(P_ML, "multilabel"), P_ML > 0.5)
    assert predicted_labels(P_ML, "multilabel").shape == (10, 3)
    with pytest.raises(ValueError, match="regression network's outputs are values"):
        predicted_labels(P_R1, "regression")


# -- against scikit-learn --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["(n,)", "(n, 1)"])
@pytest.mark.parametrize("weights", [None, W], ids=["unweighted", "weighted"])
def test_binary_matches_sklearn(shape, weights):
    p = P_BIN if shape == "(n,)" else P_BIN.reshape(-1, 1)
    y = Y_BIN if shape == "(n,)" else Y_BIN.reshape(-1, 1)
    labels = (P_BIN > 0.5).astype(int)
    kw = {"sample_weight": weights}
    assert accuracy(y, p, weights) == skm.accuracy_score(Y_BIN, labels, **kw)
    for ours, theirs in [(precision, skm.precision_score), (recall, skm.recall_score),
                         (f1, skm.f1_score)]:
        assert ours(y, p, weights) == theirs(Y_BIN, labels, **kw)
        for average in ["macro", "micro", "weighted"] if shape == "(n,)" else []:
            assert ours(y, p, weights, average=average) == pytest.approx(
                theirs(Y_BIN, labels, average=average, **kw))
    assert roc_auc(y, p, weights) == skm.roc_auc_score(Y_BIN, P_BIN, **kw)
    assert log_loss(y, p, weights) == pytest.approx(skm.log_loss(Y_BIN, P_BIN, **kw))


@pytest.mark.parametrize("weights", [None, W], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("targets", ["labels", "one-hot"])
def test_multiclass_matches_sklearn(weights, targets):
    y = Y_MC if targets == "labels" else ONEHOT_MC
    labels = P_MC.argmax(axis=1)
    kw = {"sample_weight": weights}
    assert accuracy(y, P_MC, weights, task="multiclass") == skm.accuracy_score(Y_MC, labels, **kw)
    for ours, theirs in [(precision, skm.precision_score), (recall, skm.recall_score),
                         (f1, skm.f1_score)]:
        assert ours(y, P_MC, weights, task="multiclass") == pytest.approx(
            theirs(Y_MC, labels, average="macro", zero_division=0, **kw))
        for average in ["micro", "weighted"] if targets == "labels" else []:
            assert ours(y, P_MC, weights, task="multiclass", average=average) == pytest.approx(
                theirs(Y_MC, labels, average=average, zero_division=0, **kw))
    assert roc_auc(y, P_MC, weights, task="multiclass") == pytest.approx(
        skm.roc_auc_score(Y_MC, P_MC, multi_class="ovr", **kw))
    assert log_loss(y, P_MC, weights, task="multiclass") == pytest.approx(
        skm.log_loss(Y_MC, P_MC, **kw))


def test_multiclass_task_inferred_from_label_targets():
    assert accuracy(Y_MC, P_MC) == accuracy(Y_MC, P_MC, task="multiclass")
    assert log_loss(Y_MC, P_MC) == log_loss(ONEHOT_MC, P_MC, task="multiclass")


def test_multiclass_counts_classes_absent_from_the_batch():
    # class 2 is neither true nor predicted here, but the network has 3 outputs: macro over 3.
    y, p = np.array([0, 1]), np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]])
    assert f1(y, p) == pytest.approx(skm.f1_score(y, [0, 1], average="macro",
                                                  labels=[0, 1, 2], zero_division=0))
    assert f1(y, p) == pytest.approx(2 / 3)
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p, labels=[0, 1, 2]))


@pytest.mark.parametrize("weights", [None, W], ids=["unweighted", "weighted"])
def test_multilabel_matches_sklearn(weights):
    labels = (P_ML > 0.5).astype(int)
    kw = {"sample_weight": weights}
    ml = {"task": "multilabel"}
    assert accuracy(Y_ML, P_ML, weights, **ml) == skm.accuracy_score(Y_ML, labels, **kw)
    for ours, theirs in [(precision, skm.precision_score), (recall, skm.recall_score),
                         (f1, skm.f1_score)]:
        for average in ["macro", "micro", "weighted"]:
            assert ours(Y_ML, P_ML, weights, average=average, **ml) == pytest.approx(
                theirs(Y_ML, labels, average=average, zero_division=0, **kw))
    assert roc_auc(Y_ML, P_ML, weights, **ml) == pytest.approx(
        skm.roc_auc_score(Y_ML, P_ML, **kw))
    per_output = [skm.log_loss(Y_ML[:, j], P_ML[:, j], **kw) for j in range(3)]
    assert log_loss(Y_ML, P_ML, weights, **ml) == pytest.approx(np.mean(per_output))


def test_multilabel_log_loss_is_mean_binary_cross_entropy():
    bce = -(Y_ML * np.log(P_ML) + (1 - Y_ML) * np.log(1 - P_ML))
    assert log_loss(Y_ML, P_ML, task="multilabel") == pytest.approx(bce.mean())


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_regression_matches_sklearn(outputs, weighted):
    y, p = (Y_R1, P_R1) if outputs == 1 else (Y_R3, P_R3)
    w = (W_R[: len(y)] if weighted else None)
    kw = {"sample_weight": w}
    assert mse(y, p, w) == pytest.approx(skm.mean_squared_error(y, p, **kw))
    assert mae(y, p, w) == pytest.approx(skm.mean_absolute_error(y, p, **kw))
    assert r2(y, p, w) == pytest.approx(skm.r2_score(y, p, **kw))
    assert rmse(y, p, w) == pytest.approx(skm.root_mean_squared_error(y, p, **kw))
    if outputs == 1:
        assert rmse(y, p, w) == pytest.approx(math.sqrt(mse(y, p, w)))
        # (n,) and (n, 1) are the same single output, in either argument
        assert mse(y.reshape(-1, 1), p, w) == mse(y, p.reshape(-1, 1), w) == mse(y, p, w)
    else:
        # several outputs: each output's RMSE, then their mean (sklearn's uniform_average)
        per_output = np.sqrt(skm.mean_squared_error(y, p, multioutput="raw_values", **kw))
        assert rmse(y, p, w) == pytest.approx(per_output.mean())


def test_sample_weight_zero_is_the_same_as_leaving_the_sample_out():
    keep = W > 0
    for name in ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]:
        m = get_metric(name, "binary")
        assert m(Y_BIN, P_BIN, W) == pytest.approx(m(Y_BIN[keep], P_BIN[keep], W[keep]))
    assert accuracy(Y_BIN, P_BIN, W) != accuracy(Y_BIN, P_BIN)
    keep = W_R > 0
    for name in ["mse", "rmse", "mae", "r2"]:
        m = get_metric(name, "regression")
        assert m(Y_R3, P_R3, W_R) == pytest.approx(m(Y_R3[keep], P_R3[keep], W_R[keep]))


def test_every_metric_returns_a_python_float_for_every_task_it_fits():
    data = {"binary": (Y_BIN, P_BIN.astype(np.float32)), "multiclass": (Y_MC, P_MC),
            "multilabel": (Y_ML, P_ML), "regression": (Y_R3, P_R3)}
    for name, entry in METRICS.items():
        for task in entry.tasks:
            value = get_metric(name, task)(*data[task])
            assert type(value) is float, (name, task)
            assert np.isfinite(value), (name, task)


# -- confusion matrix ------------------------------------------------------------------------------
def test_confusion_matrix():
    cm = confusion_matrix(Y_MC, P_MC)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(Y_MC, P_MC.argmax(axis=1)))
    assert cm.dtype == np.int64 and cm.shape == (3, 3)
    np.testing.assert_array_equal(confusion_matrix(ONEHOT_MC, P_MC), cm)
    # a probability of class 1, as (n,) or (n, 1): two classes, p > 0.5
    expected = skm.confusion_matrix(Y_BIN, P_BIN > 0.5)
    np.testing.assert_array_equal(confusion_matrix(Y_BIN, P_BIN), expected)
    np.testing.assert_array_equal(confusion_matrix(Y_BIN, P_BIN[:, None]), expected)
    # predicted labels; classes up to n_classes even when absent
    np.testing.assert_array_equal(confusion_matrix([0, 2, 1], [0, 1, 1]),
                                  [[1, 0, 0], [0, 1, 0], [0, 1, 0]])
    assert confusion_matrix([0, 1], [0, 1], n_classes=4).shape == (4, 4)
    weighted = confusion_matrix(Y_BIN, P_BIN, sample_weight=W)
    np.testing.assert_allclose(weighted, skm.confusion_matrix(Y_BIN, P_BIN > 0.5,
                                                              sample_weight=W))
    assert weighted.dtype == np.float64


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="n_classes is 4 but y_pred has 3 columns"):
        confusion_matrix(Y_MC, P_MC, n_classes=4)
    with pytest.raises(ValueError, match="y_true has label 3 but there are only 3 classes"):
        confusion_matrix([0, 3], P_MC[:2])
    with pytest.raises(ValueError, match="y_pred has label 5 but there are only 2 classes"):
        confusion_matrix([0, 1], [0, 5], n_classes=2)
    with pytest.raises(ValueError, match="y_true has 10 samples and y_pred has 9"):
        confusion_matrix(Y_BIN, P_BIN[:-1])


# -- registry --------------------------------------------------------------------------------------
def test_registry_entries():
    assert set(METRICS) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                            "mse", "rmse", "mae", "r2"}
    assert METRICS["log_loss"].greater_is_better is False
    assert METRICS["r2"].greater_is_better is True
    assert METRICS["mse"].tasks == ("regression",)
    assert "regression" not in METRICS["accuracy"].tasks
    assert repr(METRICS["mae"]) == "Metric('mae', tasks=('regression',), greater_is_better=False)"


def test_get_metric_binds_the_task():
    m = get_metric("ACCURACY", "multilabel")
    assert isinstance(m, Metric) and m.name == m.__name__ == "accuracy"
    assert m.tasks == ("multilabel",)
    # (n, k) targets alone would be ambiguous; the bound task decides
    assert m(Y_ML, P_ML) == accuracy(Y_ML, P_ML, task="multilabel")
    assert get_metric("f1", "multiclass")(ONEHOT_MC, P_MC) == f1(Y_MC, P_MC)
    assert get_metric(METRICS["r2"], "regression")(Y_R1, P_R1) == r2(Y_R1, P_R1)


def test_get_metric_refuses_a_metric_for_another_task():
    with pytest.raises(ValueError, match=(
        r"^roc_auc is a metric for binary, multiclass and multilabel classification; this "
        r"network's task is regression \(metrics for regression: mae, mse, r2, rmse\)\.$"
    )):
        get_metric("roc_auc", "regression")
    with pytest.raises(ValueError, match="^mse is a metric for regression; this network's task "
                                         "is binary"):
        get_metric("mse", "binary")


def test_get_metric_unknown_name_lists_names_and_suggests():
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'\. Did you mean 'accuracy'\?"
                                         r" Metrics for binary: accuracy, f1, log_loss,"):
        get_metric("acuracy", "binary")
    with pytest.raises(ValueError, match="Did you mean 'rmse'"):
        get_metric("rsme", "regression")
    with pytest.raises(ValueError, match="^unknown metric 'zzz'. Metrics for"):
        get_metric("zzz", "regression")
    with pytest.raises(TypeError, match="metric must be a name"):
        get_metric(3, "binary")
    with pytest.raises(ValueError, match="task must be one of 'binary', 'multiclass', "):
        get_metric("accuracy", "classification")


def test_get_metric_wraps_a_user_callable():
    def max_error(y_true, y_pred):
        return np.max(np.abs(np.asarray(y_true) - np.asarray(y_pred)))

    m = get_metric(max_error, "regression")
    assert m.name == "max_error" and m.greater_is_better is None
    value = m(Y_R1, P_R1)
    assert value == 1.0 and type(value) is float
    with pytest.raises(TypeError, match="metric 'max_error' does not take sample_weight"):
        m(Y_R1, P_R1, sample_weight=np.ones(5))

    def weighted_error(y_true, y_pred, sample_weight=None):
        return np.average(np.abs(y_true - y_pred), weights=sample_weight)

    assert get_metric(weighted_error, "regression")(Y_R1, P_R1, [1, 0, 0, 0, 0]) == 0.5
    with pytest.raises(TypeError, match="metric '<lambda>' must return a number, got 'x'"):
        get_metric(lambda y, p: "x", "binary")(Y_BIN, P_BIN)


def test_default_metrics():
    for task in ["binary", "multiclass", "multilabel"]:
        assert default_metrics(task) == ["accuracy"]
    assert default_metrics("regression") == ["mae"]
    default_metrics("binary").append("f1")  # a fresh list each time
    assert default_metrics("binary") == ["accuracy"]
    for task in metrics.TASKS:
        for name in default_metrics(task):
            get_metric(name, task)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights, message", [
    ([1, -1, -2, 1, -0.5, 1, 1, 1, 1, 1],
     r"^sample_weight has 3 negative value\(s\); weights must be >= 0\.$"),
    (np.zeros(10), "^sample_weight is all zeros; at least one weight must be positive.$"),
    ([1, np.nan, 1, 1, 1, 1, np.inf, 1, 1, 1],
     r"^sample_weight has 2 NaN or infinite value\(s\); weights must be finite\.$"),
    (np.ones(9), "^sample_weight has 9 weights for 10 samples.$"),
    (np.ones((10, 2)), r"^sample_weight must be 1-D, one weight per sample, got shape \(10, 2\)"),
])
def test_bad_sample_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        accuracy(Y_BIN, P_BIN, weights)
    with pytest.raises(ValueError, match=message):
        mae(Y_BIN.astype(float), P_BIN, weights)


def test_sample_weight_column_is_accepted():
    assert accuracy(Y_BIN, P_BIN, W[:, None]) == accuracy(Y_BIN, P_BIN, W)


def test_shape_and_length_errors():
    with pytest.raises(ValueError, match="^y_true has 9 samples and y_pred has 10; they must"):
        accuracy(Y_BIN[:-1], P_BIN)
    with pytest.raises(ValueError, match=r"y_true has shape \(5, 1\) and y_pred \(5, 3\); "
                                         "regression metrics need the same"):
        mse(Y_R1, P_R3[:5])
    with pytest.raises(ValueError, match=r"y_true has shape \(10, 2\) and y_pred \(10, 3\); a "
                                         "multilabel task"):
        f1(Y_ML[:, :2], P_ML, task="multilabel")
    with pytest.raises(ValueError, match="y_true has 2 one-hot columns but there are 3 classes"):
        accuracy(ONEHOT_MC[:, :2], P_MC, task="multiclass")
    with pytest.raises(ValueError, match=r"binary task must be one probability of class 1 per "
                                         r"sample, \(n,\) or \(n, 1\), got shape \(10, 3\)"):
        accuracy(Y_BIN, P_MC, task="binary")
    with pytest.raises(ValueError, match=r"multiclass task must be class-probability rows"):
        accuracy(Y_BIN, P_BIN, task="multiclass")


def test_empty_input():
    for fn, task in [(accuracy, "binary"), (mse, None)]:
        kw = {"task": task} if task else {}
        with pytest.raises(ValueError, match="^y_true is empty; a metric needs at least one"):
            fn([], [], **kw)
        with pytest.raises(ValueError, match="^y_pred is empty; a metric needs at least one"):
            fn([1.0], [], **kw)
    with pytest.raises(ValueError, match="empty"):
        confusion_matrix([], [])


def test_label_and_probability_errors():
    with pytest.raises(ValueError, match=r"y_true has label 2 but there are only 2 classes"):
        accuracy([0, 2], [0.1, 0.9])
    with pytest.raises(ValueError, match=r"y_true has label 3 but there are only 3 classes"):
        log_loss([0, 3], P_MC[:2])
    with pytest.raises(ValueError, match="y_true has a negative class label"):
        accuracy([0, -1], [0.1, 0.9])
    with pytest.raises(ValueError, match=r"y_true has 1 value\(s\) other than 0 and 1"):
        accuracy([[0, 1], [2, 0]], [[0.1, 0.9], [0.8, 0.2]], task="multilabel")
    with pytest.raises(ValueError, match=r"y_pred has 2 value\(s\) outside \[0, 1\]; metrics for "
                                         "classifiers take probabilities, so apply sigmoid"):
        accuracy([0, 1, 1], [-1.5, 2.0, 0.5])
    with pytest.raises(ValueError, match="apply softmax"):
        accuracy(Y_MC, _logits)
    with pytest.raises(ValueError, match="y_pred contains 1 NaN or infinite"):
        roc_auc([0, 1], [0.5, np.nan])
    with pytest.raises(TypeError, match="y_pred must be an array of numbers, got str"):
        accuracy([0, 1], "ab")


def test_ambiguous_and_wrong_task_errors():
    with pytest.raises(ValueError, match=r"y_true of shape \(10, 3\) can be one-hot classes or "
                                         "multilabel 0/1 targets; pass task="):
        accuracy(Y_ML, P_ML)
    with pytest.raises(ValueError, match="this is a metric for classification; for a regression"):
        accuracy(Y_R1, P_R1, task="regression")
    with pytest.raises(ValueError, match="average='binary' scores class 1 of a binary task; for "
                                         "a multiclass task use 'macro'"):
        f1(Y_MC, P_MC, average="binary")
    with pytest.raises(ValueError, match="average must be one of 'binary', 'micro', 'macro', "
                                         "'weighted', got 'samples'"):
        f1(Y_BIN, P_BIN, average="samples")


# -- import cost -----------------------------------------------------------------------------------
def test_import_does_not_import_sklearn():
    code = ("import sys, scratchnn.metrics, numpy as np; "
            "assert 'sklearn' not in sys.modules, 'imported on import'; "
            "scratchnn.metrics.get_metric('f1', 'binary'); "
            "scratchnn.metrics.default_metrics('binary'); "
            "assert 'sklearn' not in sys.modules, 'imported by the registry'")
    subprocess.run([sys.executable, "-c", code], check=True)
