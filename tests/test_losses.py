"""Loss values and gradients by hand, the loss objects' contract, and the errors for bad input.

Gradients are checked against finite differences in test_gradcheck.py and against PyTorch in
test_oracle_torch.py; here the values are ones worked out on paper.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchnn import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MAELoss,
    MSELoss,
    binary_cross_entropy,
    cross_entropy_loss,
    mae,
    mse,
)
from scratchnn.losses import LOSSES, get_loss

LOSS_OBJECTS = [MSELoss, MAELoss, BinaryCrossEntropyLoss, CrossEntropyLoss]


# -- values worked out by hand ---------------------------------------------------------------------
def test_mse_value_and_gradient():
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 4.0, 2.0, 4.5])
    assert mse(y, p) == pytest.approx((0 + 4 + 1 + 0.25) / 4)
    # The gradient of the mean, one number per element (not the notebook's scalar sum).
    np.testing.assert_allclose(mse(y, p, derivative=True), [0.0, 1.0, -0.5, 0.25])


def test_mae_value_and_gradient():
    y, p = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.5], [3.0, 6.0]])
    assert mae(y, p) == pytest.approx((1 + 0.5 + 0 + 2) / 4)
    np.testing.assert_allclose(mae(y, p, derivative=True), [[-0.25, 0.25], [0.0, 0.25]])


def test_binary_cross_entropy_value_and_gradient():
    y, p = np.array([1.0, 0.0]), np.array([0.5, 0.2])
    assert binary_cross_entropy(y, p) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)
    # dL/dp = (p - y) / (p (1 - p)) / n
    np.testing.assert_allclose(binary_cross_entropy(y, p, derivative=True), [-1.0, 0.625])


def test_binary_cross_entropy_from_logits_equals_bce_of_the_sigmoid():
    y, z = np.array([1.0, 0.0, 1.0]), np.array([-2.0, 0.3, 4.0])
    p = 1 / (1 + np.exp(-z))
    logits_loss = BinaryCrossEntropyLoss(from_logits=True)
    assert logits_loss(y, z) == pytest.approx(binary_cross_entropy(y, p), rel=1e-12)
    np.testing.assert_allclose(logits_loss.backward(), (p - y) / 3, rtol=1e-12)


def test_cross_entropy_of_uniform_logits_is_log_of_the_class_count():
    logits = np.zeros((4, 5))
    assert cross_entropy_loss(np.array([0, 1, 2, 4]), logits) == pytest.approx(np.log(5))


def test_cross_entropy_value_and_gradient():
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 3.0, -1.0]])
    labels = np.array([0, 2])
    s = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -(np.log(s[0, 0]) + np.log(s[1, 2])) / 2
    assert cross_entropy_loss(labels, logits) == pytest.approx(expected, rel=1e-12)
    one_hot = np.eye(3)[labels]
    np.testing.assert_allclose(cross_entropy_loss(one_hot, logits, derivative=True),
                               (s - one_hot) / 2, rtol=1e-12)


def test_cross_entropy_labels_and_one_hot_rows_agree(rng):
    logits = rng.normal(size=(8, 4))
    labels = rng.integers(0, 4, size=8)
    loss_labels, loss_rows = CrossEntropyLoss(), CrossEntropyLoss()
    assert loss_labels(labels, logits) == pytest.approx(loss_rows(np.eye(4)[labels], logits))
    np.testing.assert_allclose(loss_labels.backward(), loss_rows.backward())
    # A column of labels (n, 1) reads the same as (n,).
    assert cross_entropy_loss(labels.reshape(-1, 1), logits) == pytest.approx(loss_labels(
        labels, logits))


def test_cross_entropy_with_probability_targets(rng):
    logits = rng.normal(size=(5, 3))
    target = rng.dirichlet(np.ones(3), size=5)
    log_s = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert cross_entropy_loss(target, logits) == pytest.approx(-np.sum(target * log_s) / 5)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cross_entropy_loss([0, 1], logits) == 0.0
        assert cross_entropy_loss([1, 0], logits) == pytest.approx(2000.0)
        assert np.isfinite(cross_entropy_loss([1, 0], logits, derivative=True)).all()


def test_bce_from_logits_is_stable_for_huge_scores():
    loss = BinaryCrossEntropyLoss(from_logits=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loss([1.0, 0.0], [1000.0, -1000.0]) == 0.0
        assert loss([0.0, 1.0], [1000.0, -1000.0]) == pytest.approx(1000.0)
        np.testing.assert_allclose(loss.backward(), [0.5, -0.5])


def test_bce_of_saturated_probabilities_is_finite_and_silent():
    # A float32 sigmoid rounds to exactly 1.0 for scores above ~17, so p in {0, 1} is common.
    # As PyTorch, log(p) is floored at -100: a certain wrong answer costs 100, never inf.
    y, p = np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert binary_cross_entropy(y, p) == pytest.approx(50.0)
        grad = binary_cross_entropy(y, p, derivative=True)
    assert np.isfinite(grad).all()
    assert grad[0] < 0 < grad[1]


# -- the loss objects ------------------------------------------------------------------------------
@pytest.mark.parametrize("loss_cls", [MSELoss, MAELoss, BinaryCrossEntropyLoss])
def test_objects_and_functions_agree(loss_cls, rng):
    function = {MSELoss: mse, MAELoss: mae, BinaryCrossEntropyLoss: binary_cross_entropy}[loss_cls]
    y = rng.integers(0, 2, size=(6, 2)).astype(np.float64)
    p = rng.uniform(0.05, 0.95, size=(6, 2))
    loss = loss_cls()
    value = loss(y, p)
    assert isinstance(value, float)
    assert value == function(y, p)
    np.testing.assert_array_equal(loss.backward(), function(y, p, derivative=True))


@pytest.mark.parametrize("loss_cls", [MSELoss, MAELoss, BinaryCrossEntropyLoss])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_has_the_shape_and_dtype_of_y_pred(loss_cls, dtype, rng):
    p = rng.uniform(0.1, 0.9, size=(5, 3)).astype(dtype)
    y = rng.integers(0, 2, size=(5, 3))  # integer targets are cast to y_pred's dtype
    loss = loss_cls()
    loss(y, p)
    grad = loss.backward()
    assert grad.shape == p.shape and grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_gradient_keeps_the_logits_dtype(dtype, rng):
    logits = rng.normal(size=(4, 3)).astype(dtype)
    grad = cross_entropy_loss([0, 1, 2, 0], logits, derivative=True)
    assert grad.shape == (4, 3) and grad.dtype == dtype
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-7)


@pytest.mark.parametrize("loss, function", [
    (MSELoss(), mse), (MAELoss(), mae), (BinaryCrossEntropyLoss(), binary_cross_entropy),
    (CrossEntropyLoss(), cross_entropy_loss),
], ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("targets", ["labels", "rows"])
def test_calling_a_loss_is_its_forward_and_backward_follows_it(loss, function, targets, rng):
    p = rng.uniform(0.05, 0.95, size=(6, 3))
    labels = rng.integers(0, 3, size=6)
    y = labels if targets == "labels" and function is cross_entropy_loss else np.eye(3)[labels]
    value = loss(y, p)
    assert value == loss.forward(y, p) == function(y, p)
    grad = loss.backward()
    np.testing.assert_allclose(grad, function(y, p, derivative=True), rtol=1e-15)
    # The gradient of a mean over n rows is bounded by what one row contributes.
    assert np.abs(grad).max() <= np.abs(function(y[:1], p[:1], derivative=True)).max()


def test_one_dimensional_target_against_a_column_is_not_broadcast():
    # (n,) - (n, 1) would broadcast to (n, n) and give a silently wrong loss.
    y, p = np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [5.0]])
    assert mse(y, p) == pytest.approx(4 / 3)
    assert mse(y, p, derivative=True).shape == (3, 1)


def test_backward_reflects_the_latest_forward():
    loss = MSELoss()
    loss([0.0, 0.0], [1.0, 1.0])
    loss([0.0, 0.0], [3.0, -1.0])
    np.testing.assert_allclose(loss.backward(), [3.0, -1.0])


@pytest.mark.parametrize("loss_cls", LOSS_OBJECTS)
def test_backward_before_forward_is_refused(loss_cls):
    with pytest.raises(ValueError, match=f"{loss_cls.__name__}.backward\\(\\) called before"):
        loss_cls().backward()


def test_losses_by_name():
    for name, cls in LOSSES.items():
        assert type(get_loss(name)) is cls
        assert type(get_loss(name.upper())) is cls
    mine = MSELoss()
    assert get_loss(mine) is mine
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")


def test_reprs():
    assert repr(MSELoss()) == "MSELoss()"
    assert repr(BinaryCrossEntropyLoss(from_logits=True)) == (
        "BinaryCrossEntropyLoss(from_logits=True)")


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", [mse, mae, binary_cross_entropy])
def test_mismatched_shapes_are_refused(function):
    with pytest.raises(ValueError, match=r"y_true has shape \(4,\) but y_pred has shape \(3,\)"):
        function(np.ones(4) / 2, np.ones(3) / 2)
    with pytest.raises(ValueError, match=r"y_true has shape \(2, 3\) but y_pred has shape"):
        function(np.ones((2, 3)) / 2, np.ones((3, 2)) / 2)


def test_bce_refuses_values_outside_zero_one():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from_logits=True"):
        binary_cross_entropy([1.0, 0.0], [1.2, 0.5])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        BinaryCrossEntropyLoss()([1.0, 0.0], [0.5, -0.1])
    # Logits may be anything.
    assert BinaryCrossEntropyLoss(from_logits=True)([1.0, 0.0], [3.2, -1.5]) > 0


@pytest.mark.parametrize("function", [mse, mae, binary_cross_entropy])
def test_nan_and_inf_are_refused(function):
    with pytest.raises(ValueError, match="y_pred contains 1 NaN or infinite"):
        function([0.0, 1.0], [np.nan, 0.5])
    with pytest.raises(ValueError, match="y_true contains 1 NaN or infinite"):
        function([np.inf, 1.0], [0.5, 0.5])


def test_cross_entropy_refuses_nonfinite_logits():
    with pytest.raises(ValueError, match="logits contains 1 NaN or infinite"):
        cross_entropy_loss([0, 1], [[0.0, np.inf], [1.0, 2.0]])


def test_empty_predictions_are_refused():
    with pytest.raises(ValueError, match="y_pred is empty"):
        mse([], [])
    with pytest.raises(ValueError, match="logits is empty"):
        cross_entropy_loss(np.zeros(0, dtype=int), np.zeros((0, 3)))


def test_cross_entropy_refuses_labels_out_of_range():
    with pytest.raises(ValueError, match=r"y_true has label 3 but there are only 3 classes"):
        cross_entropy_loss([0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="negative class label"):
        cross_entropy_loss([0, -1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="whole-number class labels"):
        cross_entropy_loss([0.5, 1.0], np.zeros((2, 3)))


def test_cross_entropy_refuses_mismatched_sample_counts():
    with pytest.raises(ValueError, match="y_true has 3 samples but logits has 2"):
        cross_entropy_loss([0, 1, 2], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="y_true has 3 samples but logits has 2"):
        cross_entropy_loss(np.eye(3), np.zeros((2, 3)))


def test_cross_entropy_refuses_one_dimensional_logits():
    with pytest.raises(ValueError, match=r"logits must be a 2-D array \(batch, features\)"):
        cross_entropy_loss([1], np.zeros(3))


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="y_pred must be an array of numbers, got str"):
        mse([1.0], "1.0")
    with pytest.raises(TypeError, match="y_true must hold numbers"):
        mse(np.array(["a"]), [1.0])
