"""Conv2D, MaxPool2D, AvgPool2D and GlobalAvgPool2D: finite differences, PyTorch, self-description.

Gradients are checked in float64 by central differences (relative error < 1e-6) and against
torch.nn.Conv2d / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d(1): forward output, input gradient and
parameter gradients, to 1e-10 absolute in float64 and 1e-4 relative to the largest value in
float32. ``python tests/test_conv.py`` prints the largest difference from torch per layer and dtype.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from scratchnn.gradient_check import numerical_gradient, relative_error
from scratchnn.layers import LAYERS, AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D

torch.set_num_threads(1)

DTYPES = [np.float32, np.float64]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# (layer settings, input shape (batch, C, H, W)): strides > 1, padding, odd and non-square sizes.
CONV_CASES = [
    (dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=1, padding=0), (1, 2, 7, 5)),
    (dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1), (2, 2, 7, 5)),
    (dict(in_channels=1, out_channels=4, kernel_size=3, stride=1, padding=1), (3, 1, 6, 6)),
    (dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(2, 1), padding=(2, 1)),
     (2, 3, 5, 7)),
    (dict(in_channels=2, out_channels=2, kernel_size=5, stride=3, padding=2), (1, 2, 7, 5)),
    (dict(in_channels=3, out_channels=2, kernel_size=1, stride=2, padding=0), (2, 3, 5, 4)),
]
POOL_CASES = [  # (class, settings, input shape)
    (MaxPool2D, dict(kernel_size=2), (2, 3, 6, 4)),  # windows tile the image exactly
    (MaxPool2D, dict(kernel_size=2), (1, 2, 7, 5)),  # a row and a column left over
    (MaxPool2D, dict(kernel_size=(3, 2), stride=1), (1, 2, 7, 5)),  # overlapping windows
    (MaxPool2D, dict(kernel_size=3, stride=2), (2, 2, 7, 5)),
    (MaxPool2D, dict(kernel_size=2, stride=3), (1, 2, 7, 5)),  # gaps between windows
    (AvgPool2D, dict(kernel_size=2), (2, 3, 6, 4)),
    (AvgPool2D, dict(kernel_size=2), (1, 2, 7, 5)),
    (AvgPool2D, dict(kernel_size=(3, 2), stride=1), (1, 2, 7, 5)),
    (AvgPool2D, dict(kernel_size=3, stride=2), (2, 2, 7, 5)),
    (GlobalAvgPool2D, {}, (1, 3, 7, 5)),
    (GlobalAvgPool2D, {}, (2, 2, 4, 6)),
]


def make_conv(settings, dtype, seed=0):
    layer = Conv2D(**settings, rng=seed, dtype=dtype)
    # Biases start at zero, which would hide a bias gradient summed over the wrong axes.
    layer.params["b"][...] = np.random.default_rng(seed + 100).normal(size=layer.params["b"].shape)
    return layer


def all_cases():
    """(name, layer factory(dtype), input shape) for every layer case."""
    cases = [(f"Conv2D{s}-{shape}", lambda dt, s=s: make_conv(s, dt), shape)
             for s, shape in CONV_CASES]
    cases += [(f"{cls.__name__}{s}-{shape}", lambda dt, cls=cls, s=s: cls(**s), shape)
              for cls, s, shape in POOL_CASES]
    return cases


CASES = all_cases()
CASE_IDS = [name for name, _, _ in CASES]


# -- finite differences ----------------------------------------------------------------------------
def gradcheck_nd(layer, x, seed=0):
    """{name: relative error} of dL/dx and every dL/dparam for L = sum(forward(x) * R)."""
    R = np.random.default_rng(seed).normal(size=layer.forward(x).shape)

    def loss():
        return float(np.sum(layer.forward(x) * R))

    layer.forward(x)
    analytic = {"x": layer.backward(R)}
    analytic.update({name: g.copy() for name, g in layer.grads.items()})
    errors = {"x": relative_error(analytic["x"], numerical_gradient(loss, x))}
    for name, p in layer.params.items():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, p))
    return errors


@pytest.mark.parametrize("name, make, shape", CASES, ids=CASE_IDS)
def test_gradients_match_finite_differences(name, make, shape):
    layer = make(np.float64)
    rng = np.random.default_rng(1)
    # Distinct values keep every max away from a tie, where the max is not differentiable.
    x = rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) + 0.01 * rng.normal(
        size=shape)
    errors = gradcheck_nd(layer, x)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < 1e-6, errors


def test_the_gradient_check_notices_a_wrong_gradient():
    layer = make_conv(CONV_CASES[1][0], np.float64)
    backward = layer.backward
    layer.backward = lambda g, input_grad=True: 1.01 * backward(g, input_grad)
    x = np.random.default_rng(0).normal(size=CONV_CASES[1][1])
    assert gradcheck_nd(layer, x)["x"] > 1e-3


# -- PyTorch ---------------------------------------------------------------------------------------
def torch_twin(layer):
    if isinstance(layer, Conv2D):
        twin = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                               layer.stride, layer.padding, dtype=TORCH_DTYPE[layer.dtype])
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.params["W"]))
            twin.bias.copy_(torch.from_numpy(layer.params["b"]))
        return twin
    if isinstance(layer, MaxPool2D):
        return torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
    if isinstance(layer, AvgPool2D):
        return torch.nn.AvgPool2d(layer.kernel_size, layer.stride)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())


def torch_pairs(make, shape, dtype, seed, ties=False):
    """{quantity: (ours, torch's)} for one forward and one backward through both."""
    rng = np.random.default_rng(seed)
    layer = make(dtype)
    x = rng.normal(size=shape).astype(dtype)
    if ties:  # as after a ReLU: many windows all zero, the max pool must pick one pixel
        x = np.maximum(x, 0).round(1).astype(dtype)
    out = layer.forward(x)
    g = rng.normal(size=out.shape).astype(dtype)
    dx = layer.backward(g)
    twin = torch_twin(layer)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = twin(x_t)
    out_t.backward(torch.from_numpy(g))
    pairs = {"output": (out, out_t), "dL/dx": (dx, x_t.grad)}
    if isinstance(layer, Conv2D):
        pairs["dL/dW"] = (layer.grads["W"], twin.weight.grad)
        pairs["dL/db"] = (layer.grads["b"], twin.bias.grad)
    return pairs


def differences(pairs, dtype):
    """{quantity: |ours - torch's| max}, relative to the largest |torch value| in float32."""
    result = {}
    for name, (ours, theirs) in pairs.items():
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs torch {theirs.shape}"
        assert ours.dtype == dtype, f"{name} is {ours.dtype}, expected {dtype.__name__}"
        diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
        if dtype == np.float32:
            diff /= max(float(np.max(np.abs(theirs))), 1.0)
        result[name] = diff
    return result


TOL = {np.float32: 1e-4, np.float64: 1e-10}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name, make, shape", CASES, ids=CASE_IDS)
def test_matches_torch(name, make, shape, dtype):
    for seed in (0, 1):
        for ties in (False, True):
            errors = differences(torch_pairs(make, shape, dtype, seed, ties), dtype)
            bad = {q: e for q, e in errors.items() if not e <= TOL[dtype]}
            assert not bad, f"seed {seed}, ties {ties}: above {TOL[dtype]:g}: {bad}"


def test_conv_on_a_bigger_batch_matches_torch_and_reuses_its_buffers():
    """A CNN-sized case, twice (the second forward reuses the first one's buffers), then another
    batch size (new buffers)."""
    layer = make_conv(dict(in_channels=3, out_channels=5, kernel_size=3, padding=1), np.float64)
    for shape in [(8, 3, 12, 10), (8, 3, 12, 10), (3, 3, 12, 10)]:
        errors = differences(torch_pairs(lambda dt: layer, shape, np.float64, len(shape)),
                             np.float64)
        assert max(errors.values()) <= 1e-10, errors


def test_max_pool_sends_a_tied_gradient_to_one_pixel_the_first():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 3] = -1.0
    layer = MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.array([[[[1.0, 2.0]]]]))
    assert dx.tolist() == [[[[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]


def test_input_grad_false_skips_dx_but_fills_the_weight_gradients():
    layer = make_conv(CONV_CASES[1][0], np.float64)
    x = np.random.default_rng(0).normal(size=CONV_CASES[1][1])
    g = np.ones_like(layer.forward(x))
    layer.backward(g)
    expected = {name: grad.copy() for name, grad in layer.grads.items()}
    for grad in layer.grads.values():
        grad[...] = 0
    assert layer.backward(g, input_grad=False) is None
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, expected[name])
    for pool in (MaxPool2D(2), AvgPool2D(2), GlobalAvgPool2D()):
        out = pool.forward(x)
        assert pool.backward(np.ones_like(out), input_grad=False) is None


def test_backward_leaves_grad_z_and_x_alone():
    for _, make, shape in CASES:
        layer = make(np.float64)
        x = np.random.default_rng(0).normal(size=shape)
        x_before = x.copy()
        g = np.random.default_rng(1).normal(size=layer.forward(x).shape)
        g_before = g.copy()
        layer.backward(g)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(g, g_before)


# -- dtypes, shapes, settings ----------------------------------------------------------------------
def test_conv_keeps_its_dtype_and_pools_keep_the_inputs():
    x64 = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    conv = Conv2D(1, 2, 3)
    assert conv.params["W"].dtype == np.float32 and conv.params["b"].dtype == np.float32
    assert conv.forward(x64).dtype == np.float32
    for pool in (MaxPool2D(2), AvgPool2D(2), GlobalAvgPool2D()):
        for dtype in DTYPES:
            out = pool.forward(x64.astype(dtype))
            assert out.dtype == dtype
            assert pool.backward(np.ones_like(out)).dtype == dtype


def test_conv_weights_are_he_initialised_with_fan_in_c_kh_kw():
    layer = Conv2D(4, 64, (3, 2), rng=0, dtype=np.float64)
    assert layer.params["W"].shape == (64, 4, 3, 2)
    assert layer.params["b"].shape == (64,)
    bound = np.sqrt(6 / (4 * 3 * 2))
    assert np.abs(layer.params["W"]).max() <= bound
    assert np.abs(layer.params["W"]).max() > 0.95 * bound
    np.testing.assert_array_equal(layer.params["W"], Conv2D(4, 64, (3, 2), rng=0,
                                                            dtype=np.float64).params["W"])


@pytest.mark.parametrize("name, make, shape", CASES, ids=CASE_IDS)
def test_output_shape_agrees_with_forward(name, make, shape):
    layer = make(np.float64)
    out = layer.forward(np.zeros(shape))
    assert layer.output_shape(shape[1:]) == out.shape[1:]


@pytest.mark.parametrize("name, make, shape", CASES, ids=CASE_IDS)
def test_config_round_trips(name, make, shape):
    layer = make(np.float64)
    config = layer.get_config()
    rebuilt = LAYERS[type(layer).__name__].from_config(config)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    assert repr(rebuilt) == repr(layer)
    assert rebuilt.forward(np.zeros(shape)).shape == layer.forward(np.zeros(shape)).shape


def test_configs_and_reprs():
    conv = Conv2D(1, 8, kernel_size=3, padding=1)
    assert repr(conv) == "Conv2D(1, 8, kernel_size=3, stride=1, padding=1)"
    assert conv.get_config() == {"in_channels": 1, "out_channels": 8, "kernel_size": 3,
                                 "stride": 1, "padding": 1, "init": "he_uniform",
                                 "dtype": "float32"}
    odd = Conv2D(2, 3, (3, 2), stride=(2, 1), padding=(0, 1), init="xavier_uniform",
                 dtype=np.float64)
    assert repr(odd) == ("Conv2D(2, 3, kernel_size=(3, 2), stride=(2, 1), padding=(0, 1), "
                         "dtype=float64)")
    assert odd.get_config()["kernel_size"] == [3, 2]
    assert repr(MaxPool2D(2)) == "MaxPool2D(kernel_size=2, stride=2)"
    assert MaxPool2D(3, stride=2).get_config() == {"kernel_size": 3, "stride": 2}
    assert repr(AvgPool2D((2, 3))) == "AvgPool2D(kernel_size=(2, 3), stride=(2, 3))"
    assert repr(GlobalAvgPool2D()) == "GlobalAvgPool2D()"
    assert GlobalAvgPool2D().get_config() == {}


def test_registered():
    for cls in (Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D):
        assert LAYERS[cls.__name__] is cls


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(padding=-1), ValueError, r"padding must be >= 0, got -1\."),
    (dict(stride=0), ValueError, r"stride must be >= 1, got 0\."),
    (dict(kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0\."),
    (dict(kernel_size=(3, 3, 3)), ValueError, r"kernel_size must be an int or a pair"),
    (dict(stride=1.5), TypeError, r"stride must be an integer, got 1\.5\."),
    (dict(init="nope"), ValueError, r"unknown initialiser 'nope'"),
    (dict(dtype=np.int32), TypeError, r"dtype must be np\.float32 or np\.float64"),
])
def test_conv_refuses_bad_settings(kwargs, error, match):
    settings = dict(in_channels=1, out_channels=2, kernel_size=3) | kwargs
    with pytest.raises(error, match=match):
        Conv2D(**settings)


def test_conv_refuses_bad_channel_counts():
    with pytest.raises(ValueError, match=r"in_channels must be >= 1, got 0\."):
        Conv2D(0, 2, 3)


@pytest.mark.parametrize("make", [lambda: MaxPool2D(0), lambda: AvgPool2D(2, stride=0)])
def test_pools_refuse_bad_settings(make):
    with pytest.raises(ValueError, match=r"(kernel_size|stride) must be >= 1, got 0\."):
        make()


CONV = re.escape("Conv2D(1, 8, kernel_size=3, stride=1, padding=0)")


@pytest.mark.parametrize("layer, x, match", [
    (Conv2D(1, 8, 3), np.zeros((4, 784)),
     rf"x must be a 4-D array \(batch, channels, height, width\) for {CONV}, got 2-D array "
     r"of shape \(4, 784\)\."),
    (Conv2D(1, 8, 3), np.zeros((4, 3, 28, 28)),
     rf"{CONV} cannot take input of shape \(batch, 3, 28, 28\): it needs "
     r"\(batch, 1, height, width\)\."),
    (Conv2D(1, 8, 3), np.zeros((4, 1, 2, 28)),
     rf"{CONV} cannot take input of shape \(batch, 1, 2, 28\): it needs images of at least "
     r"3x3 pixels \(height x width\) for a 3x3 kernel with padding 0\."),
    (Conv2D(1, 8, 5, padding=1), np.zeros((4, 1, 28, 2)),
     r"it needs images of at least 3x3 pixels \(height x width\) for a 5x5 kernel with "
     r"padding 1\."),
    (MaxPool2D(2), np.zeros((4, 3, 1, 5)),
     r"MaxPool2D\(kernel_size=2, stride=2\) cannot take input of shape \(batch, 3, 1, 5\): "
     r"it needs images of at least 2x2 pixels \(height x width\) for a 2x2 window\."),
    (AvgPool2D(2), np.zeros((4, 3, 5)),
     r"x must be a 4-D array \(batch, channels, height, width\) for AvgPool2D"),
    (GlobalAvgPool2D(), np.zeros((4, 10)),
     r"x must be a 4-D array \(batch, channels, height, width\) for GlobalAvgPool2D\(\)"),
])
def test_bad_input_is_one_sentence(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(x)


@pytest.mark.parametrize("layer, input_shape, match", [
    (Conv2D(3, 4, 3), (3, 28), r"it needs \(batch, 3, height, width\)\."),
    (MaxPool2D(2), (784,), r"it needs \(batch, channels, height, width\)\."),
    (GlobalAvgPool2D(), (3, 4), r"it needs \(batch, channels, height, width\)\."),
])
def test_output_shape_refuses_other_inputs(layer, input_shape, match):
    with pytest.raises(ValueError, match=match):
        layer.output_shape(input_shape)


def test_backward_before_forward_and_wrong_grad_shape_are_refused():
    layer = Conv2D(1, 2, 3)
    with pytest.raises(ValueError, match=r"Conv2D\.backward\(\) called before forward\(\)\."):
        layer.backward(np.zeros((1, 2, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"grad_z has shape \(1, 2, 3, 3\) but Conv2D's last "
                                         r"output had shape \(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))


if __name__ == "__main__":
    print(f"{'layer':<20}{'float64 (tol 1e-10 abs)':>26}{'float32 (tol 1e-4 rel)':>26}")
    for kind in ("Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"):
        row = {}
        for dtype in DTYPES:
            row[dtype] = max(max(differences(torch_pairs(make, shape, dtype, seed, ties),
                                             dtype).values())
                             for name, make, shape in CASES if name.startswith(kind + "{")
                             for seed in (0, 1) for ties in (False, True))
        print(f"{kind:<20}{row[np.float64]:>26.2e}{row[np.float32]:>26.2e}")
