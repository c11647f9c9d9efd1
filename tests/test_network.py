"""MultiLayerNetwork: building, forward/backward through the stack, prediction, dtype and errors."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import (
    CrossEntropyLoss,
    DropoutLayer,
    IdentityLayer,
    LeakyReLULayer,
    LinearLayer,
    MultiLayerNetwork,
    ReLULayer,
    SigmoidLayer,
    SoftmaxLayer,
    TanhLayer,
    accuracy,
)


def small_net(dtype=np.float32):
    return (MultiLayerNetwork()
            .add(LinearLayer(4, 5, rng=0, dtype=dtype))
            .add(ReLULayer())
            .add(LinearLayer(5, 3, rng=1, dtype=dtype)))


# -- building --------------------------------------------------------------------------------------
def test_add_returns_the_network_so_calls_chain():
    net = MultiLayerNetwork()
    first, relu = LinearLayer(4, 5), ReLULayer()
    assert net.add(first) is net
    assert net.add(relu).add(LinearLayer(5, 2)) is net
    assert len(net) == 3
    assert net.layers[0] is first and net.layers[1] is relu
    assert (net.n_features, net.n_outputs) == (4, 2)


def test_the_constructor_takes_a_list_of_layers():
    layers = [LinearLayer(3, 2), TanhLayer()]
    net = MultiLayerNetwork(layers)
    assert net.layers == layers
    assert net.layers is not layers


def test_add_refuses_the_same_layer_instance_twice():
    relu = ReLULayer()
    net = MultiLayerNetwork().add(LinearLayer(3, 3)).add(relu).add(LinearLayer(3, 3))
    with pytest.raises(ValueError, match="this ReLULayer is already in the network"):
        net.add(relu)
    linear = LinearLayer(3, 3)
    net.add(linear)
    with pytest.raises(ValueError, match="this LinearLayer is already in the network"):
        net.add(linear)
    assert len(net) == 4


def test_add_refuses_a_linear_layer_whose_input_does_not_fit():
    net = MultiLayerNetwork().add(LinearLayer(4, 5)).add(ReLULayer())
    with pytest.raises(ValueError, match=r"cannot add LinearLayer\(6, 2, dtype=float32\) after "
                                         r"layer 1, ReLULayer\(\), whose output is \(batch, 5\):"
                                         r" it needs \(batch, 6\)\.$"):
        net.add(LinearLayer(6, 2))
    assert len(net) == 2


def test_add_refuses_what_is_not_a_layer():
    with pytest.raises(TypeError, match="add\\(\\) takes a Layer, got builtin_function_or_method"):
        MultiLayerNetwork().add(max)
    with pytest.raises(TypeError, match="add\\(\\) takes a Layer, got type"):
        MultiLayerNetwork().add(ReLULayer)  # the class, not an instance


def test_parameters_are_layer_name_array_triples_of_the_live_arrays():
    net = small_net()
    triples = net.parameters()
    assert [(type(layer).__name__, name, p.shape) for layer, name, p in triples] == [
        ("LinearLayer", "W", (4, 5)), ("LinearLayer", "b", (1, 5)),
        ("LinearLayer", "W", (5, 3)), ("LinearLayer", "b", (1, 3)),
    ]
    for layer, name, p in triples:
        assert p is layer.params[name]
    assert net.n_params == 4 * 5 + 5 + 5 * 3 + 3


def test_repr_lists_the_layers_and_their_parameter_counts():
    text = repr(small_net())
    lines = text.splitlines()
    assert lines[0] == "MultiLayerNetwork(input (batch, 4)"
    assert "(0) LinearLayer(4, 5, dtype=float32)" in lines[1] and lines[1].endswith("25 params")
    assert lines[1].split("->")[1].split() == ["(batch,", "5)", "25", "params"]
    assert lines[2].split() == ["(1)", "ReLULayer()", "->", "(batch,", "5)"]
    assert "(2) LinearLayer(5, 3, dtype=float32)" in lines[3] and lines[3].endswith("18 params")
    assert lines[4].strip() == "total: 43 parameters"
    assert lines[5] == ")"
    big = MultiLayerNetwork().add(LinearLayer(784, 256))
    assert "200,960 params" in repr(big)


# -- from_sizes ------------------------------------------------------------------------------------
def test_from_sizes_builds_linear_activation_pairs():
    net = MultiLayerNetwork.from_sizes([6, 8, 7, 3], activation="tanh")
    assert [type(layer) for layer in net.layers] == [
        LinearLayer, TanhLayer, LinearLayer, TanhLayer, LinearLayer]
    assert [(layer.n_in, layer.n_out) for layer in net.layers[::2]] == [(6, 8), (8, 7), (7, 3)]
    with_output = MultiLayerNetwork.from_sizes([6, 3], output_activation="softmax")
    assert [type(layer) for layer in with_output.layers] == [LinearLayer, SoftmaxLayer]
    leaky = MultiLayerNetwork.from_sizes([2, 2, 2], activation="LEAKY_RELU")
    assert isinstance(leaky.layers[1], LeakyReLULayer)
    linear = MultiLayerNetwork.from_sizes([2, 3, 2], activation=None)
    assert isinstance(linear.layers[1], IdentityLayer)


def test_from_sizes_initialises_for_the_activation_and_repeats_with_a_seed():
    relu_net = MultiLayerNetwork.from_sizes([200, 100, 10], rng=0)
    W = relu_net.layers[0].params["W"]
    assert relu_net.layers[0].init == "he_uniform"
    assert np.abs(W).max() <= np.sqrt(6 / 200)
    assert W.std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert MultiLayerNetwork.from_sizes([5, 4], activation="tanh").layers[0].init == (
        "xavier_uniform")
    again = MultiLayerNetwork.from_sizes([200, 100, 10], rng=0)
    for a, b in zip(relu_net.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # One generator for the whole stack: the layers do not repeat each other's weights.
    square = MultiLayerNetwork.from_sizes([5, 5, 5], rng=0)
    assert not np.array_equal(square.layers[0].params["W"], square.layers[2].params["W"])


def test_from_sizes_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"sizes needs at least an input and an output size"):
        MultiLayerNetwork.from_sizes([4])
    with pytest.raises(ValueError, match="every size in sizes must be >= 1, got 0"):
        MultiLayerNetwork.from_sizes([4, 0, 2])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MultiLayerNetwork.from_sizes([4, 2], activation="swish")
    with pytest.raises(ValueError, match="unknown activation 'softmx'"):
        MultiLayerNetwork.from_sizes([4, 2], output_activation="softmx")
    with pytest.raises(ValueError, match="unknown initialiser 'he'"):
        MultiLayerNetwork.from_sizes([4, 2], init="he")


# -- forward, backward, dtype ----------------------------------------------------------------------
def test_forward_and_backward_run_the_layers_in_order(rng):
    net = small_net(np.float64)
    x = rng.normal(size=(6, 4))
    a = net.layers[1](net.layers[0](x))
    expected = net.layers[2](a)
    np.testing.assert_array_equal(net.forward(x), expected)
    np.testing.assert_array_equal(net(x), expected)
    g = rng.normal(size=(6, 3))
    grad_x = net.backward(g)
    W1, W2 = net.layers[0].params["W"], net.layers[2].params["W"]
    grad_a = g @ W2.T * (a > 0)
    np.testing.assert_allclose(net.layers[2].grads["W"], a.T @ g, rtol=1e-12)
    np.testing.assert_allclose(net.layers[0].grads["W"], x.T @ grad_a, rtol=1e-12)
    np.testing.assert_allclose(grad_x, grad_a @ W1.T, rtol=1e-12)
    assert net.backward(g, input_grad=False) is None


def test_forward_and_backward_leave_their_arguments_alone(rng):
    net = (MultiLayerNetwork.from_sizes([4, 6, 3], output_activation="softmax", dtype=np.float64)
           .add(DropoutLayer(0.5, rng=0)))
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    x_copy, g_copy = x.copy(), g.copy()
    net.forward(x)
    net.backward(g)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, g_copy)


def test_float32_by_default_and_float64_on_request(rng):
    x64 = rng.normal(size=(5, 4))
    net = MultiLayerNetwork.from_sizes([4, 6, 3])
    assert net.dtype == np.float32
    assert net(x64).dtype == np.float32  # float64 input is not upcast into float64 work
    assert net(x64.astype(np.int64)).dtype == np.float32
    assert net.backward(np.ones((5, 3))).dtype == np.float32
    assert net.predict_proba(x64).dtype == np.float32
    wide = MultiLayerNetwork.from_sizes([4, 6, 3], dtype=np.float64)
    assert wide.dtype == np.float64 and wide(x64.astype(np.float32)).dtype == np.float64
    assert MultiLayerNetwork().add(ReLULayer()).dtype == np.float32


def test_float32_network_without_parameters_returns_float32():
    assert MultiLayerNetwork().add(SigmoidLayer())(np.zeros((2, 2))).dtype == np.float32


def test_update_params_is_plain_gradient_descent(rng):
    net = small_net(np.float64)
    net.forward(rng.normal(size=(8, 4)))
    net.backward(rng.normal(size=(8, 3)))
    before = [(p.copy(), layer.grads[name].copy()) for layer, name, p in net.parameters()]
    net.update_params(0.05)
    for (p_old, g), (_, _, p) in zip(before, net.parameters(), strict=True):
        np.testing.assert_allclose(p, p_old - 0.05 * g, rtol=1e-15)


@pytest.mark.parametrize("lr", [0, -0.1, np.nan, np.inf])
def test_update_params_refuses_bad_learning_rates(lr):
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        small_net().update_params(lr)


@pytest.mark.parametrize("lr", [True, "0.1", None])
def test_update_params_refuses_non_numbers(lr):
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        small_net().update_params(lr)


def test_training_flag_reaches_every_layer_and_later_additions():
    net = small_net().add(DropoutLayer(0.5))
    net.training = False
    assert all(not layer.training for layer in net.layers)
    late = DropoutLayer(0.2)
    net.add(late)
    assert late.training is False
    net.training = True
    assert all(layer.training for layer in net.layers)


# -- prediction ------------------------------------------------------------------------------------
def test_predict_gives_the_class_of_the_largest_output(rng):
    net = small_net(np.float64)
    x = rng.normal(size=(20, 4))
    labels = net.predict(x)
    assert labels.shape == (20,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, net(x).argmax(axis=1))
    proba = net.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), labels)


def test_predict_in_batches_equals_one_pass(rng):
    net = small_net(np.float64)
    x = rng.normal(size=(23, 4))
    np.testing.assert_allclose(net.predict_raw(x, batch_size=5), net(x), rtol=1e-15)
    assert net.predict_raw(np.zeros((0, 4))).shape == (0, 3)


def test_predict_of_a_single_sigmoid_output_is_zero_or_one(rng):
    net = MultiLayerNetwork.from_sizes([3, 1], output_activation="sigmoid", dtype=np.float64)
    x = rng.normal(size=(30, 3)) * 3
    p = net(x)[:, 0]
    np.testing.assert_array_equal(net.predict(x), (p > 0.5).astype(int))
    np.testing.assert_allclose(net.predict_proba(x), np.stack([1 - p, p], axis=1))  # as sklearn


def test_predict_of_a_regressor_returns_the_values(rng):
    net = MultiLayerNetwork.from_sizes([3, 4, 1], dtype=np.float64)
    x = rng.normal(size=(7, 3))
    np.testing.assert_array_equal(net.predict(x), net(x))


def test_predict_runs_in_evaluation_mode_and_restores_training():
    net = MultiLayerNetwork().add(LinearLayer(3, 3, rng=0)).add(DropoutLayer(0.5, rng=0))
    x = np.ones((50, 3), dtype=np.float32)
    np.testing.assert_array_equal(net.predict_raw(x), net.layers[0](x))
    assert net.training is True and net.layers[1].training is True
    assert (net(x) == 0).any()  # dropout is active again


def test_a_network_learns_a_separable_problem(rng):
    # Two Gaussian blobs; a few hundred plain gradient-descent steps must separate them.
    x = np.concatenate([rng.normal(-1.5, 1, size=(100, 2)), rng.normal(1.5, 1, size=(100, 2))])
    y = np.repeat([0, 1], 100)
    net = MultiLayerNetwork.from_sizes([2, 8, 2], rng=0)
    loss = CrossEntropyLoss()
    first = loss(y, net(x))
    for _ in range(200):
        loss(y, net(x))
        net.backward(loss.backward(), input_grad=False)
        net.update_params(0.5)
    assert loss(y, net(x)) < first / 3
    assert accuracy(y, net.predict(x)) > 0.95


# -- bad input -------------------------------------------------------------------------------------
def test_wrong_number_of_features_is_named():
    net = MultiLayerNetwork.from_sizes([64, 10])
    with pytest.raises(ValueError, match="X has 63 features, the first layer expects 64"):
        net.forward(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="X has 63 features, the first layer expects 64"):
        net.predict(np.zeros((2, 63)))


@pytest.mark.parametrize("bad_x, message", [
    (np.zeros(64), r"X must be a 2-D array \(batch, features\), got 1-D .* x\.reshape\(1, -1\)"),
    (np.zeros((2, 8, 8)), r"X must be a 2-D array \(batch, features\), got 3-D array of shape"),
    (np.full((2, 64), np.nan), "X contains 128 NaN or infinite value"),
])
def test_bad_arrays_are_refused(bad_x, message):
    net = MultiLayerNetwork.from_sizes([64, 10])
    with pytest.raises(ValueError, match=message):
        net.forward(bad_x)
    with pytest.raises(ValueError, match=message):
        net.predict(bad_x)


def test_an_empty_network_says_so():
    with pytest.raises(ValueError, match="the network has no layers"):
        MultiLayerNetwork().forward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="the network has no layers"):
        MultiLayerNetwork().backward(np.zeros((1, 2)))


def test_backward_before_forward_is_refused():
    with pytest.raises(ValueError, match=r"LinearLayer.backward\(\) called before forward\(\)"):
        small_net().backward(np.zeros((2, 3)))


def test_backward_with_a_gradient_of_the_wrong_shape_is_refused(rng):
    net = small_net()
    net(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match=r"grad_z has shape \(2, 4\) but LinearLayer's last"):
        net.backward(np.zeros((2, 4)))


def test_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        small_net().predict(np.zeros((3, 4)), batch_size=0)
