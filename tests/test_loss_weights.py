"""Per-sample weights in the loss objects: ``forward(y_true, y_pred, sample_weight=w)``.

The weighted loss is L = sum_i w_i l_i / sum_i w_i, with l_i the loss of row i (the mean over its
elements for MSE, MAE and BCE). It is checked against PyTorch in float64 (to 1e-10, value and
dL/dy_pred), against finite differences, and against plain facts: ones are no weights, an integer
weight is that many copies of the row.

``python tests/test_loss_weights.py`` prints the largest difference from torch for each case.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratchnn import BinaryCrossEntropyLoss, CrossEntropyLoss, MAELoss, MSELoss
from scratchnn.gradient_check import check_loss

torch.set_num_threads(1)  # tiny tensors: one thread avoids torch's thread handoff

F = torch.nn.functional
TOL = 1e-10
SEEDS = [0, 1, 2]
LOSS_OBJECTS = [MSELoss, MAELoss, BinaryCrossEntropyLoss, CrossEntropyLoss]


def leaf(a):
    return torch.tensor(np.array(a), requires_grad=True)


def some_weights(rng, n):
    """Positive weights of varied size, with one sample weighted 0 when there are several."""
    w = rng.uniform(0.1, 3.0, size=n)
    if n > 2:
        w[rng.integers(n)] = 0.0
    return w


def data(kind, shape, rng):
    """(y_true, y_pred) in float64 for a loss of the given kind."""
    if kind == "regression":
        y = rng.normal(size=shape)
        step = rng.normal(size=shape)
        return y, y + step + np.where(step < 0, -0.05, 0.05)  # off MAE's kink at y_pred == y
    if kind == "probabilities":
        return rng.integers(0, 2, size=shape).astype(float), rng.uniform(0.05, 0.95, size=shape)
    if kind == "logits":
        return rng.integers(0, 2, size=shape).astype(float), 3 * rng.normal(size=shape)
    logits = 2 * rng.normal(size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    if kind == "labels":
        return labels, logits
    if kind == "one-hot":
        return np.eye(shape[1])[labels], logits
    return rng.dirichlet(np.ones(shape[1]), size=shape[0]), logits  # probability rows


def ours(loss, y, p, w):
    value = loss(y, p, sample_weight=w)
    return value, loss.backward()


def torch_hand_weighted(torch_loss):
    """torch's per-element losses (reduction="none"), averaged per row, then weighted by hand."""

    def weighted(p_t, y_t, w):
        per_element = torch_loss(p_t, y_t, reduction="none")
        per_sample = per_element.reshape(len(w), -1).mean(dim=1)
        w_t = torch.from_numpy(w)
        return (w_t * per_sample).sum() / w_t.sum()

    return weighted


def torch_weight_argument(torch_loss):
    """torch's own ``weight`` (one per row, shape (n, 1) or (n,)) with reduction="sum", over
    sum(w) times the outputs per row: torch's "mean" would divide by the element count instead."""

    def weighted(p_t, y_t, w):
        w_t = torch.from_numpy(w.reshape(-1, *[1] * (p_t.ndim - 1)))
        outputs = p_t[0].numel()
        return torch_loss(p_t, y_t, weight=w_t, reduction="sum") / (w.sum() * outputs)

    return weighted


def class_weights_case(shape, seed):
    """nn.CrossEntropyLoss(weight=c) is sample weights w_i = c[y_i]."""
    rng = np.random.default_rng(seed)
    labels, logits = data("labels", shape, rng)
    c = rng.uniform(0.2, 5.0, size=shape[1])
    value, grad = ours(CrossEntropyLoss(), labels, logits, c[labels])
    logits_t = leaf(logits)
    value_t = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(c))(logits_t,
                                                                      torch.from_numpy(labels))
    value_t.backward()
    return {"loss": (value, value_t), "dL/dlogits": (grad, logits_t.grad)}


def weighted_case(make_loss, kind, torch_weighted):
    def case(shape, seed):
        rng = np.random.default_rng(seed)
        y, p = data(kind, shape, rng)
        w = some_weights(rng, shape[0])
        value, grad = ours(make_loss(), y, p, w)
        p_t = leaf(p)
        value_t = torch_weighted(p_t, torch.from_numpy(y), w)
        value_t.backward()
        return {"loss": (value, value_t), "dL/dy_pred": (grad, p_t.grad)}

    return case


def bce_logits():
    return BinaryCrossEntropyLoss(from_logits=True)


REGRESSION_SHAPES = [(7,), (7, 1), (6, 3)]  # one output per sample (as a vector or a column), three
BINARY_SHAPES = [(7,), (7, 1), (6, 3)]
CLASS_SHAPES = [(1, 2), (6, 3), (16, 10)]
BCE_LOGITS = F.binary_cross_entropy_with_logits
CASES = {
    "CrossEntropyLoss class weights = nn.CrossEntropyLoss(weight=c)": (
        class_weights_case, CLASS_SHAPES),
    "CrossEntropyLoss labels": (
        weighted_case(CrossEntropyLoss, "labels", torch_hand_weighted(F.cross_entropy)),
        CLASS_SHAPES),
    "CrossEntropyLoss one-hot": (
        weighted_case(CrossEntropyLoss, "one-hot", torch_hand_weighted(F.cross_entropy)),
        CLASS_SHAPES),
    "CrossEntropyLoss probabilities": (
        weighted_case(CrossEntropyLoss, "probability rows", torch_hand_weighted(F.cross_entropy)),
        CLASS_SHAPES),
    "BCE from logits": (
        weighted_case(bce_logits, "logits", torch_hand_weighted(BCE_LOGITS)), BINARY_SHAPES),
    "BCE from logits = torch weight, sum / (k sum w)": (
        weighted_case(bce_logits, "logits", torch_weight_argument(BCE_LOGITS)), BINARY_SHAPES),
    "BCE on probabilities": (
        weighted_case(BinaryCrossEntropyLoss, "probabilities",
                      torch_hand_weighted(F.binary_cross_entropy)), BINARY_SHAPES),
    "BCE on probabilities = torch weight, sum / (k sum w)": (
        weighted_case(BinaryCrossEntropyLoss, "probabilities",
                      torch_weight_argument(F.binary_cross_entropy)), BINARY_SHAPES),
    "MSELoss": (weighted_case(MSELoss, "regression", torch_hand_weighted(F.mse_loss)),
                REGRESSION_SHAPES),
    "MAELoss": (weighted_case(MAELoss, "regression", torch_hand_weighted(F.l1_loss)),
                REGRESSION_SHAPES),
}


def differences(pairs):
    result = {}
    for name, (mine, theirs) in pairs.items():
        mine = np.asarray(mine, dtype=np.float64)
        theirs = theirs.detach().numpy()
        assert mine.shape == theirs.shape, f"{name}: shape {mine.shape} vs torch {theirs.shape}"
        result[name] = float(np.max(np.abs(mine - theirs)))
    return result


@pytest.mark.parametrize("name, shape, seed", [
    pytest.param(name, shape, seed, id=f"{name}-{shape}-{seed}")
    for name, (_, shapes) in CASES.items() for shape in shapes for seed in SEEDS])
def test_weighted_losses_match_torch(name, shape, seed):
    errors = differences(CASES[name][0](shape, seed))
    bad = {q: e for q, e in errors.items() if not e <= TOL}
    assert not bad, f"differences from torch above {TOL:g}: {bad}"


# -- finite differences ----------------------------------------------------------------------------
class Weighted:
    """A loss with its sample weights fixed, in the forward(y_true, y_pred) form of check_loss."""

    def __init__(self, loss, sample_weight):
        self.loss, self.sample_weight = loss, sample_weight

    def forward(self, y_true, y_pred):
        return self.loss.forward(y_true, y_pred, sample_weight=self.sample_weight)

    def backward(self):
        return self.loss.backward()


@pytest.mark.parametrize("make_loss, kind", [
    (MSELoss, "regression"), (MAELoss, "regression"), (BinaryCrossEntropyLoss, "probabilities"),
    (bce_logits, "logits"), (CrossEntropyLoss, "labels"), (CrossEntropyLoss, "probability rows"),
], ids=["mse", "mae", "bce", "bce-logits", "ce-labels", "ce-rows"])
def test_weighted_backward_matches_finite_differences(make_loss, kind):
    rng = np.random.default_rng(0)
    y, p = data(kind, (5, 3), rng)
    result = check_loss(Weighted(make_loss(), some_weights(rng, 5)), y, p)
    assert result.passed, str(result)


# -- facts about weights ---------------------------------------------------------------------------
@pytest.mark.parametrize("make_loss, kind", [
    (MSELoss, "regression"), (MAELoss, "regression"), (BinaryCrossEntropyLoss, "probabilities"),
    (bce_logits, "logits"), (CrossEntropyLoss, "labels"), (CrossEntropyLoss, "probability rows"),
], ids=["mse", "mae", "bce", "bce-logits", "ce-labels", "ce-rows"])
def test_ones_are_no_weights_and_integer_weights_repeat_rows(make_loss, kind):
    rng = np.random.default_rng(1)
    y, p = data(kind, (6, 3), rng)
    loss = make_loss()
    plain, plain_grad = loss(y, p), loss.backward()
    assert loss(y, p, sample_weight=np.ones(6)) == pytest.approx(plain, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), plain_grad, rtol=1e-13)
    # Weight 2 is the row twice, weight 0 the row left out. Each copy of a row gets its own
    # gradient; summed back over the copies they are the weighted loss's gradient for that row.
    counts = np.array([2, 0, 1, 3, 1, 2])
    rows = np.repeat(np.arange(6), counts)
    weighted = loss(y, p, sample_weight=counts)
    weighted_grad = loss.backward()
    assert weighted == pytest.approx(loss(y[rows], p[rows]), rel=1e-13)
    folded = np.zeros_like(p)
    np.add.at(folded, rows, loss.backward())
    np.testing.assert_allclose(weighted_grad, folded, rtol=1e-13, atol=1e-17)


def test_only_ratios_of_weights_matter():
    rng = np.random.default_rng(2)
    y, p = data("labels", (5, 4), rng)
    w = some_weights(rng, 5)
    loss = CrossEntropyLoss()
    value, grad = loss(y, p, sample_weight=w), loss.backward()
    assert loss(y, p, sample_weight=w * 1e300) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), grad, rtol=1e-13)


@pytest.mark.parametrize("loss_cls", LOSS_OBJECTS)
def test_weighted_gradient_keeps_float32(loss_cls):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 0.9, size=(4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 0]) if loss_cls is CrossEntropyLoss else np.eye(3)[[0, 2, 1, 0]]
    loss = loss_cls()
    loss(y, p, sample_weight=[1.0, 2.0, 0.5, 0.0])
    grad = loss.backward()
    assert grad.shape == p.shape and grad.dtype == np.float32
    assert not grad[3].any()  # a sample of weight 0 gets no gradient


def test_backward_follows_the_latest_forward_weighted_or_not():
    loss = MSELoss()
    loss([0.0, 0.0], [1.0, 3.0], sample_weight=[1.0, 0.0])
    np.testing.assert_allclose(loss.backward(), [2.0, 0.0])
    loss([0.0, 0.0], [1.0, 3.0])
    np.testing.assert_allclose(loss.backward(), [1.0, 3.0])


# -- bad weights -----------------------------------------------------------------------------------
BAD_WEIGHTS = [
    (np.ones((4, 1)), ValueError, r"sample_weight must be a 1-D array .* got shape \(4, 1\)"),
    (1.0, ValueError, r"sample_weight must be a 1-D array .* got shape \(\)"),
    (np.ones(3), ValueError, r"sample_weight has 3 weight\(s\) for 4 samples"),
    ([1.0, np.nan, 1.0, np.inf], ValueError, "sample_weight contains 2 NaN or infinite"),
    ([1.0, -2.0, 1.0, 1.0], ValueError, r"1 negative value\(s\) \(smallest -2\); .* >= 0"),
    (np.zeros(4), ValueError, "sample_weight sums to 0; at least one sample needs a positive"),
    ("ones", TypeError, "sample_weight must be an array of numbers, got str"),
    (["a"] * 4, TypeError, "sample_weight must hold numbers"),
]


@pytest.mark.parametrize("loss_cls", LOSS_OBJECTS)
@pytest.mark.parametrize("weight, error, message", BAD_WEIGHTS,
                         ids=["2-D", "scalar", "length", "nan-inf", "negative", "zeros", "str",
                              "strings"])
def test_bad_weights_are_refused_with_a_sentence(loss_cls, weight, error, message):
    p = np.full((4, 2), 0.5)
    y = np.array([0, 1, 1, 0]) if loss_cls is CrossEntropyLoss else np.zeros((4, 2))
    with pytest.raises(error, match=message):
        loss_cls()(y, p, sample_weight=weight)


def test_weights_need_a_batch_axis():
    with pytest.raises(ValueError, match="y_pred is a single number"):
        MSELoss()(1.0, 2.0, sample_weight=[1.0])


if __name__ == "__main__":
    for name, (case, shapes) in CASES.items():
        worst = {}
        for shape in shapes:
            for seed in SEEDS:
                for quantity, err in differences(case(shape, seed)).items():
                    worst[quantity] = max(worst.get(quantity, 0.0), err)
        print(f"{name:<55} " + "  ".join(f"{q} {e:.1e}" for q, e in worst.items()))
