"""Oracle tests: every layer, loss and a whole network agree with ``torch.nn``.

The same weights and inputs must give the same forward output and the same input and parameter
gradients as PyTorch, to 1e-10 in float64 and 1e-5 in float32 (largest absolute difference), over
several shapes and seeds. Inputs are kept off the kinks (ReLU at 0, MAE where y_pred == y_true),
where the two libraries may legitimately pick different subgradients.

PyTorch is a test dependency only. ``python tests/test_oracle_torch.py`` prints the largest
difference measured for each case and dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratchnn import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    DropoutLayer,
    IdentityLayer,
    LeakyReLULayer,
    LinearLayer,
    MAELoss,
    MSELoss,
    MultiLayerNetwork,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
    binary_cross_entropy,
    cross_entropy_loss,
    mae,
    mse,
)

# These tensors are tiny: one thread avoids torch's thread handoff, 30x slower on a busy machine.
torch.set_num_threads(1)

TOL = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = [np.float32, np.float64]
SEEDS = [0, 1, 2]
LAYER_SHAPES = [(1, 1), (4, 3), (16, 9)]  # (batch, n_in)
LOSS_SHAPES = [(1, 2), (5, 3), (16, 10)]  # (batch, outputs); cross-entropy needs >= 2 classes
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
LEARNING_RATE = 0.1


def leaf(a):
    """A torch tensor that requires grad, holding its own copy of a."""
    return torch.tensor(np.array(a), requires_grad=True)


def off_kinks(rng, shape, dtype, margin=0.05):
    """Normal samples pushed at least ``margin`` away from 0."""
    z = rng.normal(size=shape)
    return (z + np.where(z < 0, -margin, margin)).astype(dtype)


# -- torch twins of our layers ---------------------------------------------------------------------
def torch_linear(layer):
    """nn.Linear holding our weights: torch keeps weight as (out, in), we keep W as (in, out)."""
    twin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=TORCH_DTYPE[layer.dtype])
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
        twin.bias.copy_(torch.from_numpy(layer.params["b"][0]))
    return twin


TORCH_TWINS = {
    LinearLayer: torch_linear,
    ReLULayer: lambda layer: torch.nn.ReLU(),
    LeakyReLULayer: lambda layer: torch.nn.LeakyReLU(layer.alpha),
    SigmoidLayer: lambda layer: torch.nn.Sigmoid(),
    TanhLayer: lambda layer: torch.nn.Tanh(),
    SoftmaxLayer: lambda layer: torch.nn.Softmax(dim=1),
    IdentityLayer: lambda layer: torch.nn.Identity(),
    DropoutLayer: lambda layer: torch.nn.Dropout(layer.p).train(layer.training),
}


def torch_grads_in_our_layout(twin):
    """A twin's parameter gradients named and shaped as ours: W (in, out), b (1, out)."""
    if not isinstance(twin, torch.nn.Linear):
        return {}
    return {"W": twin.weight.grad.T, "b": twin.bias.grad[None, :]}


def random_bias(layer, rng):
    # Our biases start at zero, which would hide a bias gradient on the wrong axis.
    layer.params["b"][...] = rng.normal(size=layer.params["b"].shape)


# -- cases: each returns {quantity: (ours, torch's)} for one dtype, shape and seed -----------------
def forward_backward(ours, twin, x, rng):
    """x through ours and through its torch twin, then one random dL/d(output) back through both."""
    out = ours.forward(x)
    g = rng.normal(size=out.shape).astype(x.dtype)
    grad_x = ours.backward(g)
    x_t = leaf(x)
    out_t = twin(x_t)
    out_t.backward(torch.from_numpy(g))
    return {"output": (out, out_t), "dL/dx": (grad_x, x_t.grad)}


def layer_case(make_layer):
    def case(dtype, shape, seed):
        rng = np.random.default_rng(seed)
        layer = make_layer(shape[1], dtype, seed)
        if isinstance(layer, LinearLayer):
            random_bias(layer, rng)
        twin = TORCH_TWINS[type(layer)](layer)
        pairs = forward_backward(layer, twin, off_kinks(rng, shape, dtype), rng)
        theirs = torch_grads_in_our_layout(twin)
        pairs.update({f"dL/d{name}": (layer.grads[name], theirs[name]) for name in layer.params})
        return pairs

    return case


def dropout_with_a_fixed_mask(dtype, shape, seed):
    """Our training-mode dropout against torch computing with our mask: x * mask / (1 - p)."""
    rng = np.random.default_rng(seed)
    layer = DropoutLayer(p=0.4, rng=seed)
    x = off_kinks(rng, (shape[0], shape[1] + 20), dtype)  # wide enough to drop some units
    out = layer.forward(x)
    keep = torch.from_numpy((out != 0).astype(dtype))
    g = rng.normal(size=x.shape).astype(dtype)
    grad_x = layer.backward(g)
    x_t = leaf(x)
    out_t = x_t * keep / (1 - layer.p)
    out_t.backward(torch.from_numpy(g))
    return {"output": (out, out_t), "dL/dx": (grad_x, x_t.grad)}


def _eval_dropout(n_in, dtype, seed):
    layer = DropoutLayer(p=0.4, rng=seed)
    layer.training = False
    return layer


def network_case(activation, output_activation=None):
    """from_sizes vs the equivalent nn.Sequential: output, every gradient, one SGD step."""

    def case(dtype, shape, seed):
        rng = np.random.default_rng(seed)
        net = MultiLayerNetwork.from_sizes([shape[1], 7, 5, 3], activation=activation,
                                           output_activation=output_activation, rng=seed,
                                           dtype=dtype)
        for layer in net.layers:
            if isinstance(layer, LinearLayer):
                random_bias(layer, rng)
        twins = [TORCH_TWINS[type(layer)](layer) for layer in net.layers]
        sequential = torch.nn.Sequential(*twins)
        pairs = forward_backward(net, sequential, rng.normal(size=shape).astype(dtype), rng)
        for i, (layer, twin) in enumerate(zip(net.layers, twins, strict=True)):
            theirs = torch_grads_in_our_layout(twin)
            pairs.update({f"dL/d{i}.{name}": (layer.grads[name], theirs[name])
                          for name in layer.params})
        net.update_params(LEARNING_RATE)
        with torch.no_grad():  # torch.optim.SGD's step, without its 2 s first import
            for param in sequential.parameters():
                param -= LEARNING_RATE * param.grad
        for i, (layer, twin) in enumerate(zip(net.layers, twins, strict=True)):
            if isinstance(twin, torch.nn.Linear):
                pairs[f"{i}.W after SGD"] = (layer.params["W"], twin.weight.T)
                pairs[f"{i}.b after SGD"] = (layer.params["b"][0], twin.bias)
        return pairs

    return case


def network_with_cross_entropy(dtype, shape, seed):
    """Network and loss together: X -> logits -> CrossEntropyLoss, backpropagated to every W."""
    rng = np.random.default_rng(seed)
    net = MultiLayerNetwork.from_sizes([shape[1], 6, 4], rng=seed, dtype=dtype)
    sequential = torch.nn.Sequential(*[TORCH_TWINS[type(layer)](layer) for layer in net.layers])
    x = rng.normal(size=shape).astype(dtype)
    labels = rng.integers(0, 4, size=shape[0])
    loss = CrossEntropyLoss()
    value = loss(labels, net.forward(x))
    grad_x = net.backward(loss.backward())
    x_t = leaf(x)
    value_t = torch.nn.functional.cross_entropy(sequential(x_t), torch.from_numpy(labels))
    value_t.backward()
    return {"loss": (value, value_t), "dL/dx": (grad_x, x_t.grad),
            "dL/d0.W": (net.layers[0].grads["W"], sequential[0].weight.grad.T),
            "dL/d2.b": (net.layers[2].grads["b"][0], sequential[2].bias.grad)}


def _targets_and_predictions(kind, dtype, shape, rng):
    """(ours y_true, torch y_true, y_pred) for a loss of the given kind."""
    if kind == "regression":
        y = rng.normal(size=shape).astype(dtype)
        # y_pred at least 0.05 away from y: MAE has a kink where they are equal.
        return y, torch.from_numpy(y), y + off_kinks(rng, shape, dtype)
    if kind in ("binary", "soft-binary"):
        y = (rng.integers(0, 2, size=shape) if kind == "binary"
             else rng.uniform(size=shape)).astype(dtype)
        return y, torch.from_numpy(y), (1 / (1 + np.exp(-2 * rng.normal(size=shape)))).astype(dtype)
    if kind == "logits":
        y = rng.integers(0, 2, size=shape).astype(dtype)
        return y, torch.from_numpy(y), (3 * rng.normal(size=shape)).astype(dtype)
    logits = (2 * rng.normal(size=shape)).astype(dtype)
    labels = rng.integers(0, shape[1], size=shape[0])
    if kind == "labels":
        return labels, torch.from_numpy(labels), logits
    if kind == "one-hot":
        rows = np.eye(shape[1], dtype=dtype)[labels]
    else:  # probability rows
        rows = rng.dirichlet(np.ones(shape[1]), size=shape[0]).astype(dtype)
    return rows, torch.from_numpy(rows), logits


def loss_case(make_loss, torch_loss, kind):
    """A loss object: forward value and backward() vs the torch loss and autograd."""

    def case(dtype, shape, seed):
        y, y_t, p = _targets_and_predictions(kind, dtype, shape, np.random.default_rng(seed))
        loss = make_loss()
        value = loss(y, p)
        grad = loss.backward()
        p_t = leaf(p)
        value_t = torch_loss(p_t, y_t)
        value_t.backward()
        return {"loss": (value, value_t), "dL/dy_pred": (grad, p_t.grad)}

    return case


def function_case(function, torch_loss, kind):
    """A plain loss function: its value and its derivative=True vs torch."""

    def case(dtype, shape, seed):
        y, y_t, p = _targets_and_predictions(kind, dtype, shape, np.random.default_rng(seed))
        p_t = leaf(p)
        value_t = torch_loss(p_t, y_t)
        value_t.backward()
        return {"loss": (function(y, p), value_t),
                "derivative": (function(y, p, derivative=True), p_t.grad)}

    return case


F = torch.nn.functional
CASES = {
    # name: (case function, shapes)
    "LinearLayer": (layer_case(lambda n, dt, s: LinearLayer(n, 5, rng=s, dtype=dt)), LAYER_SHAPES),
    "ReLULayer": (layer_case(lambda n, dt, s: ReLULayer()), LAYER_SHAPES),
    "LeakyReLULayer": (layer_case(lambda n, dt, s: LeakyReLULayer(0.1)), LAYER_SHAPES),
    "SigmoidLayer": (layer_case(lambda n, dt, s: SigmoidLayer()), LAYER_SHAPES),
    "TanhLayer": (layer_case(lambda n, dt, s: TanhLayer()), LAYER_SHAPES),
    "SoftmaxLayer": (layer_case(lambda n, dt, s: SoftmaxLayer()), LAYER_SHAPES),
    "IdentityLayer": (layer_case(lambda n, dt, s: IdentityLayer()), LAYER_SHAPES),
    "DropoutLayer (eval)": (layer_case(_eval_dropout), LAYER_SHAPES),
    "DropoutLayer (fixed mask)": (dropout_with_a_fixed_mask, LAYER_SHAPES),
    "network relu": (network_case("relu"), LAYER_SHAPES),
    "network leaky_relu": (network_case("leaky_relu"), LAYER_SHAPES),
    "network tanh": (network_case("tanh"), LAYER_SHAPES),
    "network sigmoid+softmax": (network_case("sigmoid", "softmax"), LAYER_SHAPES),
    "network + CrossEntropyLoss": (network_with_cross_entropy, LAYER_SHAPES),
    "MSELoss": (loss_case(MSELoss, F.mse_loss, "regression"), [(7,), *LOSS_SHAPES]),
    "MAELoss": (loss_case(MAELoss, F.l1_loss, "regression"), [(7,), *LOSS_SHAPES]),
    "BCELoss (0/1 targets)": (loss_case(BinaryCrossEntropyLoss, F.binary_cross_entropy,
                                        "binary"), [(7,), *LOSS_SHAPES]),
    "BCELoss (soft targets)": (loss_case(BinaryCrossEntropyLoss, F.binary_cross_entropy,
                                         "soft-binary"), LOSS_SHAPES),
    "BCELoss(from_logits=True)": (
        loss_case(lambda: BinaryCrossEntropyLoss(from_logits=True),
                  F.binary_cross_entropy_with_logits, "logits"), [(7,), *LOSS_SHAPES]),
    "CrossEntropyLoss (labels)": (loss_case(CrossEntropyLoss, F.cross_entropy, "labels"),
                                  LOSS_SHAPES),
    "CrossEntropyLoss (one-hot)": (loss_case(CrossEntropyLoss, F.cross_entropy, "one-hot"),
                                   LOSS_SHAPES),
    "CrossEntropyLoss (probabilities)": (
        loss_case(CrossEntropyLoss, F.cross_entropy, "probabilities"), LOSS_SHAPES),
    "mse()": (function_case(mse, F.mse_loss, "regression"), LOSS_SHAPES),
    "mae()": (function_case(mae, F.l1_loss, "regression"), LOSS_SHAPES),
    "binary_cross_entropy()": (
        function_case(binary_cross_entropy, F.binary_cross_entropy, "binary"), LOSS_SHAPES),
    "cross_entropy_loss() (labels)": (
        function_case(cross_entropy_loss, F.cross_entropy, "labels"), LOSS_SHAPES),
    "cross_entropy_loss() (one-hot)": (
        function_case(cross_entropy_loss, F.cross_entropy, "one-hot"), LOSS_SHAPES),
}


def differences(pairs):
    """{quantity: largest |ours - torch's|}, after checking that the shapes agree."""
    result = {}
    for name, (ours, theirs) in pairs.items():
        ours = np.asarray(ours, dtype=np.float64)
        theirs = theirs.detach().numpy().astype(np.float64)
        assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs torch {theirs.shape}"
        result[name] = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    return result


PARAMS = [pytest.param(name, dtype, shape, seed, id=f"{name}-{dtype.__name__}-{shape}-{seed}")
          for name, (_, shapes) in CASES.items() for dtype in DTYPES for shape in shapes
          for seed in SEEDS]


@pytest.mark.parametrize("name, dtype, shape, seed", PARAMS)
def test_matches_torch(name, dtype, shape, seed):
    pairs = CASES[name][0](dtype, shape, seed)
    for quantity, (ours, _) in pairs.items():
        # Arrays come back in the dtype they were computed in; loss values are Python floats.
        if isinstance(ours, np.ndarray):
            assert ours.dtype == dtype, f"{quantity} is {ours.dtype}, expected {dtype.__name__}"
    errors = differences(pairs)
    bad = {q: e for q, e in errors.items() if not e <= TOL[dtype]}
    assert not bad, f"differences from torch above {TOL[dtype]:g}: {bad}"


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_scales_survivors_like_torch(seed):
    """Our fixed-mask reference assumes torch's convention: survivors times 1 / (1 - p)."""
    torch.manual_seed(seed)
    x = torch.rand(50, 40, dtype=torch.float64) + 1.0
    out_t = torch.nn.Dropout(0.3).train()(x).numpy()
    ours = DropoutLayer(0.3, rng=seed)(x.numpy())
    for out in (out_t, ours):
        kept = out != 0
        np.testing.assert_allclose(out[kept], x.numpy()[kept] / 0.7, rtol=1e-15)
        assert kept.mean() == pytest.approx(0.7, abs=0.03)


def test_the_oracle_notices_a_difference():
    """A deliberately wrong loss (no factor 2) must fail the comparison."""
    wrong = loss_case(MSELoss, lambda p, y: F.mse_loss(p, y) / 2, "regression")
    errors = differences(wrong(np.float64, (5, 3), 0))
    assert errors["loss"] > 1e-3 and errors["dL/dy_pred"] > 1e-3


def max_differences():
    """{case: {dtype name: largest difference over every quantity, shape and seed}}."""
    table = {}
    for name, (case, shapes) in CASES.items():
        table[name] = {}
        for dtype in DTYPES:
            table[name][dtype.__name__] = max(
                max(differences(case(dtype, shape, seed)).values())
                for shape in shapes for seed in SEEDS)
    return table


if __name__ == "__main__":
    print(f"{'case':<36}{'float64 (tol 1e-10)':>22}{'float32 (tol 1e-5)':>22}")
    for name, row in max_differences().items():
        print(f"{name:<36}{row['float64']:>22.2e}{row['float32']:>22.2e}")
