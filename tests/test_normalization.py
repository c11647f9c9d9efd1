"""BatchNorm1D and BatchNorm2D: finite differences, PyTorch's BatchNorm1d/2d, state, config, errors.

Gradients (input, gamma, beta) are checked by central differences in float64, in training mode
(batch statistics, the full batch-norm gradient) and in evaluation mode (running statistics, the
affine gradient). Against torch, several training steps are compared step by step (output, every
gradient), then the running statistics, then evaluation mode; differences are relative to the
largest value of torch's array: 1e-10 in float64, 1e-4 in float32.

``python tests/test_normalization.py`` prints the largest difference from torch per case and dtype.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scratchnn import LinearLayer, MultiLayerNetwork, ReLULayer
from scratchnn.gradient_check import numerical_gradient, relative_error
from scratchnn.layers import LAYERS, BatchNorm1D, BatchNorm2D, layer_from_config
from scratchnn.optim import SGD, Adam

torch.set_num_threads(1)  # tiny tensors: one thread avoids torch's thread handoff

TOL = {np.float32: 1e-4, np.float64: 1e-10}
DTYPES = [np.float32, np.float64]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
SHAPES_1D = [(3, 3), (5, 4), (7, 1)]  # (batch, features)
SHAPES_2D = [(2, 3, 3, 5), (3, 2, 5, 3), (1, 2, 3, 3)]  # (batch, C, H, W), odd H and W
SHAPES = [*SHAPES_1D, *SHAPES_2D]
# With two values per channel, xhat = +-sqrt(var / (var + eps)) hardly depends on x: dL/dx is
# O(eps / var) times the terms it is the difference of, all cancellation, unless eps is large.
BATCH_OF_2 = ((2, 3), 0.5)


def make_layer(shape, dtype=np.float64, momentum=0.1, eps=1e-5, seed=0):
    """A layer for x of ``shape`` with random gamma and beta (ones and zeros would hide an axis)."""
    cls = BatchNorm1D if len(shape) == 2 else BatchNorm2D
    layer = cls(shape[1], momentum=momentum, eps=eps, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    layer.params["gamma"][...] = rng.uniform(0.5, 2.0, size=shape[1])
    layer.params["beta"][...] = rng.normal(size=shape[1])
    return layer


def batch(rng, shape, dtype, step=0):
    """x with a per-channel offset and scale that change from step to step."""
    per_channel = (1, shape[1]) + (1,) * (len(shape) - 2)
    loc = rng.normal(scale=3.0, size=per_channel) + step
    scale = rng.uniform(0.5, 3.0, size=per_channel)
    return (loc + scale * rng.normal(size=shape)).astype(dtype)


def set_random_running_stats(layer, rng):
    layer.state["running_mean"][...] = rng.normal(size=layer.size)
    layer.state["running_var"][...] = rng.uniform(0.3, 3.0, size=layer.size)


# -- finite differences ----------------------------------------------------------------------------
def gradient_errors(layer, x, rng):
    """Relative error of dL/dx, dL/dgamma, dL/dbeta for L = sum(forward(x) * R), any rank of x."""
    r = rng.normal(size=layer.forward(x).shape)
    analytic = {"x": layer.backward(r)}
    analytic.update({name: g.copy() for name, g in layer.grads.items()})

    def loss():
        return float(np.sum(layer.forward(x) * r))

    arrays = {"x": x, **layer.params}
    return {name: relative_error(analytic[name], numerical_gradient(loss, arrays[name]))
            for name in analytic}


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape, eps", [*((shape, 1e-5) for shape in SHAPES), BATCH_OF_2],
                         ids=str)
def test_gradients_match_finite_differences(shape, eps, training):
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    layer = make_layer(shape, eps=eps)
    set_random_running_stats(layer, rng)
    layer.training = training
    errors = gradient_errors(layer, batch(rng, shape, np.float64), rng)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < 1e-6, errors


def test_the_gradient_check_notices_a_wrong_backward():
    """The eval-mode gradient used while training (batch statistics ignored) must fail."""
    rng = np.random.default_rng(0)
    layer = make_layer((5, 3))
    x = batch(rng, (5, 3), np.float64)
    layer.forward(x)
    layer._batch_stats = False
    r = rng.normal(size=x.shape)
    wrong = layer.backward(r)
    layer._batch_stats = True
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(x) * r)), x)
    assert relative_error(wrong, numeric) > 1e-2


# -- PyTorch ---------------------------------------------------------------------------------------
def torch_twin(layer):
    """nn.BatchNorm1d/2d with our gamma, beta, running statistics, momentum and eps."""
    cls = torch.nn.BatchNorm1d if isinstance(layer, BatchNorm1D) else torch.nn.BatchNorm2d
    twin = cls(layer.size, eps=layer.eps, momentum=layer.momentum, dtype=TORCH_DTYPE[layer.dtype])
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        twin.bias.copy_(torch.from_numpy(layer.params["beta"]))
        twin.running_mean.copy_(torch.from_numpy(layer.state["running_mean"]))
        twin.running_var.copy_(torch.from_numpy(layer.state["running_var"]))
    return twin


def step_both(layer, twin, x, rng, label):
    """One forward and backward through ours and torch's; {quantity: (ours, torch's)}."""
    out = layer.forward(x)
    g = rng.normal(size=out.shape).astype(x.dtype)
    grad_x = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    twin.weight.grad = twin.bias.grad = None
    out_t = twin(x_t)
    out_t.backward(torch.from_numpy(g))
    return {f"{label} output": (out, out_t), f"{label} dL/dx": (grad_x, x_t.grad),
            f"{label} dL/dgamma": (layer.grads["gamma"].copy(), twin.weight.grad),
            f"{label} dL/dbeta": (layer.grads["beta"].copy(), twin.bias.grad)}


def train_then_evaluate(dtype, shape, seed, n_steps=5, momentum=0.1, eps=1e-5):
    """n_steps training steps (different batches), the running statistics, then eval mode."""
    rng = np.random.default_rng(seed)
    layer = make_layer(shape, dtype, momentum=momentum, eps=eps, seed=seed)
    twin = torch_twin(layer)
    pairs = {}
    for step in range(n_steps):
        pairs.update(step_both(layer, twin, batch(rng, shape, dtype, step), rng, f"train {step}"))
    pairs["running_mean"] = (layer.state["running_mean"].copy(), twin.running_mean)
    pairs["running_var"] = (layer.state["running_var"].copy(), twin.running_var)
    layer.training = False
    twin.eval()
    eval_shape = (max(shape[0], 2) + 1, *shape[1:])
    pairs.update(step_both(layer, twin, batch(rng, eval_shape, dtype), rng, "eval"))
    # Evaluation must not move the running statistics.
    pairs["running_mean after eval"] = (layer.state["running_mean"], twin.running_mean)
    pairs["running_var after eval"] = (layer.state["running_var"], twin.running_var)
    return pairs


def differences(pairs):
    """{quantity: max |ours - torch's| / max |torch's|}, after checking shapes and dtypes."""
    result = {}
    for name, (ours, theirs) in pairs.items():
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs torch {theirs.shape}"
        assert ours.dtype == theirs.dtype, f"{name}: dtype {ours.dtype} vs torch {theirs.dtype}"
        ours, theirs = ours.astype(np.float64), theirs.astype(np.float64)
        scale = max(float(np.max(np.abs(theirs))), np.finfo(np.float64).tiny)
        result[name] = float(np.max(np.abs(ours - theirs))) / scale
    return result


CASES = {
    "BatchNorm1D": (train_then_evaluate, SHAPES_1D),
    "BatchNorm2D": (train_then_evaluate, SHAPES_2D),
    "BatchNorm1D momentum=0.7": (lambda dt, sh, s: train_then_evaluate(dt, sh, s, momentum=0.7),
                                 SHAPES_1D[1:2]),
    "BatchNorm1D batch 2 eps=0.5": (
        lambda dt, sh, s: train_then_evaluate(dt, sh, s, eps=BATCH_OF_2[1]), [BATCH_OF_2[0]]),
    "BatchNorm2D batch 64": (train_then_evaluate, [(64, 3, 5, 5)]),
}
SEEDS = [0, 1]
PARAMS = [pytest.param(name, dtype, shape, seed, id=f"{name}-{dtype.__name__}-{shape}-{seed}")
          for name, (_, shapes) in CASES.items() for dtype in DTYPES for shape in shapes
          for seed in SEEDS]


@pytest.mark.parametrize("name, dtype, shape, seed", PARAMS)
def test_matches_torch(name, dtype, shape, seed):
    errors = differences(CASES[name][0](dtype, shape, seed))
    bad = {q: e for q, e in errors.items() if not e <= TOL[dtype]}
    assert not bad, f"relative differences from torch above {TOL[dtype]:g}: {bad}"


def test_the_oracle_notices_a_difference():
    """Running variance with the biased batch variance (a classic slip) must fail the comparison."""
    rng = np.random.default_rng(0)
    layer, shape = make_layer((4, 3)), (4, 3)
    twin = torch_twin(layer)
    x = batch(rng, shape, np.float64)
    step_both(layer, twin, x, rng, "train")
    biased = 0.9 + 0.1 * x.var(axis=0)
    assert differences({"running_var": (biased, twin.running_var)})["running_var"] > 1e-3


# -- state -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, shape", [(BatchNorm1D, (6, 3)), (BatchNorm2D, (2, 3, 3, 3))])
def test_running_statistics_are_state_not_params(cls, shape):
    layer = cls(3, dtype=np.float64)
    assert set(layer.params) == set(layer.grads) == {"gamma", "beta"}
    assert set(layer.state) == {"running_mean", "running_var"}
    np.testing.assert_array_equal(layer.state["running_mean"], 0.0)
    np.testing.assert_array_equal(layer.state["running_var"], 1.0)
    assert layer.n_params == 6
    for s in layer.state.values():
        assert not any(np.shares_memory(s, p) for p in (*layer.params.values(),
                                                         *layer.grads.values()))
    rng = np.random.default_rng(0)
    layer.forward(batch(rng, shape, np.float64))
    layer.backward(rng.normal(size=shape))
    before = {k: v.copy() for k, v in layer.state.items()}
    layer.update_params(0.5)
    for k, v in layer.state.items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("make_optimizer", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01)],
                         ids=["SGD", "Adam"])
def test_an_optimizer_never_touches_the_running_statistics(make_optimizer):
    rng = np.random.default_rng(0)
    norm = BatchNorm1D(5, dtype=np.float64)
    net = MultiLayerNetwork([LinearLayer(4, 5, rng=0, dtype=np.float64), norm, ReLULayer(),
                             LinearLayer(5, 2, rng=1, dtype=np.float64)])
    optimizer = make_optimizer()
    state_arrays = dict(norm.state)
    for _ in range(3):
        net.forward(rng.normal(size=(8, 4)))
        net.backward(rng.normal(size=(8, 2)))
        before = {k: v.copy() for k, v in norm.state.items()}
        optimizer.step(net)
        for k, v in norm.state.items():
            np.testing.assert_array_equal(v, before[k])
    assert all(norm.state[k] is v for k, v in state_arrays.items())  # updated in place
    assert not any("running" in key for key in optimizer.state_dict())


def test_training_moves_the_running_statistics_and_evaluation_uses_them():
    rng = np.random.default_rng(1)
    layer = make_layer((6, 3))
    x = batch(rng, (6, 3), np.float64)
    layer.forward(x)
    np.testing.assert_allclose(layer.state["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.state["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1),
                               rtol=1e-14)
    layer.training = False
    before = {k: v.copy() for k, v in layer.state.items()}
    out = layer.forward(x)
    mean, var = before["running_mean"], before["running_var"]
    expected = layer.params["gamma"] * (x - mean) / np.sqrt(var + 1e-5) + layer.params["beta"]
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    for k, v in layer.state.items():
        np.testing.assert_array_equal(v, before[k])
    g = rng.normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(g), g * layer.params["gamma"] / np.sqrt(var + 1e-5),
                               rtol=1e-13)


def test_training_output_is_normalised_per_channel():
    rng = np.random.default_rng(2)
    layer = BatchNorm2D(4, eps=1e-12, dtype=np.float64)
    out = layer.forward(batch(rng, (3, 4, 5, 7), np.float64))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-10)


def test_backward_follows_the_mode_of_the_last_forward():
    rng = np.random.default_rng(3)
    layer = make_layer((5, 2))
    x, g = batch(rng, (5, 2), np.float64), rng.normal(size=(5, 2))
    layer.forward(x)
    full = layer.backward(g)
    layer.training = False  # switched between forward and backward: still the training gradient
    np.testing.assert_array_equal(layer.backward(g), full)


# -- dtype and the contract ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_float32_stays_float32(shape, training):
    rng = np.random.default_rng(4)
    layer = make_layer(shape, np.float32)
    layer.training = training
    out = layer.forward(batch(rng, shape, np.float64))  # float64 input is cast to the layer's dtype
    grad_x = layer.backward(rng.normal(size=shape))
    arrays = [out, grad_x, *layer.params.values(), *layer.grads.values(), *layer.state.values()]
    assert all(a.dtype == np.float32 for a in arrays)


def test_float32_statistics_of_a_large_batch_with_a_large_offset():
    rng = np.random.default_rng(5)
    x64 = 1000.0 + rng.normal(size=(200_000, 2))
    layer = BatchNorm1D(2)
    out = layer.forward(x64.astype(np.float32))
    exact = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + 1e-5)
    # float32 cannot hold 1000 + z closer than 6e-5: that input rounding is the error floor.
    assert np.max(np.abs(out - exact)) < 2e-4
    np.testing.assert_allclose(layer.state["running_mean"], 0.1 * x64.mean(axis=0), rtol=1e-6)


def test_backward_fills_grads_in_place_and_leaves_grad_z_alone():
    rng = np.random.default_rng(6)
    layer = make_layer((2, 3, 3, 3))
    grads = dict(layer.grads)
    x = batch(rng, (2, 3, 3, 3), np.float64)
    x_copy = x.copy()
    g = rng.normal(size=x.shape)
    g_copy = g.copy()
    layer.forward(x)
    layer.backward(g)
    assert all(layer.grads[k] is v for k, v in grads.items())
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(x, x_copy)
    expected_beta = g.sum(axis=(0, 2, 3))
    assert layer.backward(g, input_grad=False) is None
    np.testing.assert_allclose(layer.grads["beta"], expected_beta, rtol=1e-14)


# -- self-description ------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [BatchNorm1D(4), BatchNorm2D(3, momentum=0.01, eps=1e-3,
                                                                  dtype=np.float64)], ids=repr)
def test_get_config_round_trip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    name = type(layer).__name__
    assert LAYERS[name] is type(layer)
    for rebuilt in (type(layer).from_config(config), layer_from_config(name, config)):
        assert type(rebuilt) is type(layer)
        assert rebuilt.get_config() == layer.get_config()
        assert rebuilt.dtype == layer.dtype
        assert repr(rebuilt) == repr(layer)


def test_config_and_repr_read_well():
    layer = BatchNorm2D(3, momentum=0.01, eps=1e-3, dtype=np.float64)
    assert layer.get_config() == {"channels": 3, "momentum": 0.01, "eps": 0.001,
                                  "dtype": "float64"}
    assert repr(layer) == "BatchNorm2D(3, momentum=0.01, eps=0.001, dtype=float64)"
    assert BatchNorm1D(4).get_config() == {"n_features": 4, "momentum": 0.1, "eps": 1e-5,
                                           "dtype": "float32"}
    assert repr(BatchNorm1D(4)) == "BatchNorm1D(4, momentum=0.1, eps=1e-05, dtype=float32)"


def test_output_shape_and_input_shape():
    assert BatchNorm1D(4).output_shape((4,)) == (4,)
    assert BatchNorm1D(4).input_shape == (4,)
    assert BatchNorm2D(3).output_shape((3, 5, 7)) == (3, 5, 7)
    assert BatchNorm2D(3).input_shape is None
    for layer, bad in [(BatchNorm1D(4), (5,)), (BatchNorm1D(4), (4, 2)),
                       (BatchNorm2D(3), (4, 5, 7)), (BatchNorm2D(3), (3, 5)),
                       (BatchNorm2D(3), (3,))]:
        with pytest.raises(ValueError, match=r"BatchNorm\dD\(.*cannot take input of shape"):
            layer.output_shape(bad)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, shape", [(BatchNorm1D(3), (1, 3)),
                                          (BatchNorm2D(3), (1, 3, 1, 1))])
def test_one_value_per_channel_is_refused_in_training(layer, shape):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        layer.forward(np.ones(shape))
    layer.training = False  # evaluation uses the running statistics: one sample is fine
    assert layer.forward(np.ones(shape)).shape == shape


def test_a_single_image_is_enough_in_training_as_in_torch():
    rng = np.random.default_rng(7)
    errors = differences(train_then_evaluate(np.float64, (1, 2, 3, 3), 0, n_steps=2))
    assert max(errors.values()) < 1e-10
    assert BatchNorm2D(2).forward(rng.normal(size=(1, 2, 3, 3))).shape == (1, 2, 3, 3)


@pytest.mark.parametrize("layer, x_shape, needs", [
    (BatchNorm1D(4), (5, 3), "(batch, 4)"),
    (BatchNorm2D(3), (2, 4, 5, 5), "(batch, 3, height, width)"),
])
def test_wrong_feature_or_channel_count(layer, x_shape, needs):
    with pytest.raises(ValueError) as info:
        layer.forward(np.ones(x_shape))
    message = str(info.value)
    assert message.startswith(type(layer).__name__)
    assert needs in message and str(x_shape) in message


@pytest.mark.parametrize("layer, x_shape, layout", [
    (BatchNorm1D(4), (5, 4, 1, 1), "(batch, features)"),
    (BatchNorm2D(3), (5, 3), "(batch, channels, height, width)"),
    (BatchNorm2D(3), (5, 3, 4), "(batch, channels, height, width)"),
])
def test_wrong_rank(layer, x_shape, layout):
    with pytest.raises(ValueError, match=r"x must be a \d-D array") as info:
        layer.forward(np.ones(x_shape))
    assert layout in str(info.value) and str(x_shape) in str(info.value)


def test_bad_settings_and_inputs():
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1D(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm2D(3, eps=0.0)
    with pytest.raises(ValueError, match="n_features"):
        BatchNorm1D(0)
    with pytest.raises(TypeError, match="channels"):
        BatchNorm2D(2.5)
    with pytest.raises(TypeError, match="dtype"):
        BatchNorm1D(3, dtype=np.int32)
    with pytest.raises(ValueError, match="NaN"):
        BatchNorm1D(2).forward(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"backward\(\) called before forward"):
        BatchNorm1D(2).backward(np.ones((3, 2)))


def max_differences():
    """{case: {dtype name: largest relative difference over every quantity, shape and seed}}."""
    return {name: {dtype.__name__: max(max(differences(case(dtype, shape, seed)).values())
                                       for shape in shapes for seed in SEEDS)
                   for dtype in DTYPES}
            for name, (case, shapes) in CASES.items()}


if __name__ == "__main__":
    print(f"{'case':<28}{'float64 (tol 1e-10)':>22}{'float32 (tol 1e-4)':>22}")
    for name, row in max_differences().items():
        print(f"{name:<28}{row['float64']:>22.2e}{row['float32']:>22.2e}")
