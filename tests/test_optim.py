"""Optimizers and learning-rate schedules, checked against torch.optim and for exact resumption."""

from __future__ import annotations

import math
import re
import tracemalloc

import numpy as np
import pytest
import torch

from scratchnn import LinearLayer, MSELoss, MultiLayerNetwork, ReLULayer
from scratchnn.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    ConstantLR,
    CosineAnnealing,
    ExponentialDecay,
    Optimizer,
    ReduceLROnPlateau,
    RMSProp,
    StepDecay,
    get_optimizer,
)

# (our class, torch class, keyword arguments both accept). Cases giving only lr check that our
# defaults (momentum, alpha, eps, betas, AdamW's weight_decay...) are torch's.
TORCH_CASES = {
    "sgd": (SGD, torch.optim.SGD, {"lr": 0.1}),
    "sgd-momentum": (SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    "sgd-nesterov-decay": (SGD, torch.optim.SGD,
                           {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    "sgd-decay": (SGD, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.1}),
    "rmsprop": (RMSProp, torch.optim.RMSprop, {"lr": 0.01}),
    "rmsprop-all": (RMSProp, torch.optim.RMSprop,
                    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5}),
    "adagrad": (Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    "adagrad-all": (Adagrad, torch.optim.Adagrad,
                    {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1,
                     "initial_accumulator_value": 0.5}),
    "adam": (Adam, torch.optim.Adam, {"lr": 0.01}),
    "adam-all": (Adam, torch.optim.Adam,
                 {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1,
                  "amsgrad": True}),
    "adamw": (AdamW, torch.optim.AdamW, {"lr": 0.01}),
    "adamw-amsgrad": (AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
}

# One configuration per update path, for the checks that do not need torch.
OPTIMIZERS = [
    lambda **kw: SGD(0.05, **kw),
    lambda **kw: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, **kw),
    lambda **kw: RMSProp(0.01, momentum=0.5, weight_decay=1e-3, **kw),
    lambda **kw: Adagrad(0.05, lr_decay=0.01, weight_decay=1e-3, **kw),
    lambda **kw: Adam(0.01, weight_decay=1e-3, amsgrad=True, **kw),
    lambda **kw: AdamW(0.01, **kw),
]
OPTIMIZER_IDS = ["sgd", "nesterov", "rmsprop", "adagrad", "adam", "adamw"]


def small_net(dtype=np.float32, seed=0):
    return MultiLayerNetwork.from_sizes([4, 6, 3], rng=seed, dtype=dtype)


def set_random_grads(net, rng):
    """Fill every gradient with fresh random values; returns them as copies."""
    grads = []
    for layer, name, p in net.parameters():
        layer.grads[name][...] = rng.standard_normal(p.shape)
        grads.append(layer.grads[name].copy())
    return grads


def train(net, opt, steps, data, start=0):
    """Real minibatch steps ``start``..``start + steps - 1``: forward, MSE, backward, opt.step,
    cycling through four batches of ``data``."""
    X, y = data
    loss = MSELoss()
    for i in range(start, start + steps):
        rows = slice((i % 4) * 8, (i % 4) * 8 + 8)
        out = net.forward(X[rows])
        loss.forward(y[rows], out)
        net.backward(loss.backward(), input_grad=False)
        opt.step(net)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    return X, np.tanh(X[:, :3] * 2).astype(np.float32)


# -- against torch.optim ------------------------------------------------------------------------
@pytest.mark.parametrize("clip_norm", [None, 0.5])
@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_matches_torch_optim_for_20_steps(case, clip_norm):
    ours_cls, torch_cls, kwargs = TORCH_CASES[case]
    net = small_net(np.float64)
    tensors = [torch.tensor(p.copy(), requires_grad=True) for _, _, p in net.parameters()]
    ours, theirs = ours_cls(**kwargs, clip_norm=clip_norm), torch_cls(tensors, **kwargs)
    rng = np.random.default_rng(3)
    for step in range(20):
        for t, g in zip(tensors, set_random_grads(net, rng), strict=True):
            t.grad = torch.tensor(g)
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(tensors, clip_norm)
        if step == 10:  # a schedule changing lr between steps
            ours.lr = ours.lr * 0.3
            theirs.param_groups[0]["lr"] *= 0.3
        ours.step(net)
        theirs.step()
        for (_, _, p), t in zip(net.parameters(), tensors, strict=True):
            np.testing.assert_allclose(p, t.detach().numpy(), rtol=0, atol=1e-6)
    # The gradients left in the layers are torch's (clipped in place when clip_norm is set).
    for (layer, name, _), t in zip(net.parameters(), tensors, strict=True):
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=0, atol=1e-12)


def test_default_learning_rates():
    assert [SGD().lr, RMSProp().lr, Adagrad().lr, Adam().lr, AdamW().lr] == [
        0.01, 0.01, 0.01, 0.001, 0.001]
    assert AdamW().weight_decay == 0.01 and Adam().weight_decay == 0.0


# -- the step contract --------------------------------------------------------------------------
@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_step_is_in_place_float32_and_leaves_grads_alone(make, data):
    net = small_net(np.float32)
    arrays = [p for _, _, p in net.parameters()]
    before = net.get_weights()
    opt = make()
    train(net, opt, 3, data)
    grads = [layer.grads[name].copy() for layer, name, _ in net.parameters()]
    opt.step(net)
    for (layer, name, p), original, g in zip(net.parameters(), arrays, grads, strict=True):
        assert p is original and p.dtype == np.float32
        np.testing.assert_array_equal(layer.grads[name], g)  # weight decay did not leak in
    assert not any(np.array_equal(a, b) for a, b in zip(before, net.get_weights(), strict=True))
    for key, state in opt.state.items():
        assert re.fullmatch(r"[02]\.[Wb]", key) and state["step"] == 4
        assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_step_allocates_no_arrays_once_warm(make):
    layer = LinearLayer(256, 256, rng=0)
    layer.grads["W"][...] = 1e-3
    layer.grads["b"][...] = 1e-3
    opt = make(clip_norm=1e-4)
    opt.step([layer])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for _ in range(3):
            opt.step([layer])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One temporary copy of W would be 256 KiB; bookkeeping stays far below.
    assert peak < layer.params["W"].nbytes / 16


def test_step_accepts_a_list_of_layers_and_skips_parameterless_ones():
    layers = [LinearLayer(3, 2, rng=0), ReLULayer(), LinearLayer(2, 1, rng=1)]
    for layer in (layers[0], layers[2]):
        layer.grads["W"][...] = 1.0
        layer.grads["b"][...] = -2.0
    expected = [layer.params[n] - 0.5 * layer.grads[n] for layer in layers
                for n in layer.params]
    opt = SGD(0.5)
    opt.step(layers)
    for p, e in zip((p for layer in layers for p in layer.params.values()), expected,
                    strict=True):
        np.testing.assert_allclose(p, e, rtol=1e-6)
    assert sorted(opt.state) == ["0.W", "0.b", "2.W", "2.b"]


def test_stateless_sgd_can_step_networks_of_other_shapes():
    opt = SGD(0.1)
    for sizes in ([4, 6, 3], [4, 5, 3], [4, 6, 3]):
        net = MultiLayerNetwork.from_sizes(sizes, rng=0)
        set_random_grads(net, np.random.default_rng(0))
        expected = [p - np.float32(0.1) * layer.grads[name] for layer, name, p in
                    net.parameters()]
        opt.step(net)
        for p, e in zip(net.get_weights(), expected, strict=True):
            np.testing.assert_allclose(p, e, rtol=1e-6)


def test_plain_sgd_is_the_notebook_update():
    net = small_net(np.float64)
    rng = np.random.default_rng(0)
    grads = set_random_grads(net, rng)
    expected = [p - 0.1 * g for p, g in zip(net.get_weights(), grads, strict=True)]
    SGD(0.1).step(net)
    for p, e in zip(net.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(p, e)


def test_a_failed_step_changes_nothing():
    net = small_net()
    net.layers[2].grads["b"] = np.zeros((3, 1), dtype=np.float32)
    before = net.get_weights()
    opt = Adam()
    with pytest.raises(ValueError, match=r"layers\[2\] \(LinearLayer\) gradient 'b' has shape"):
        opt.step(net)
    for a, b in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert opt.iterations == 0


def test_missing_gradient_and_non_networks_are_refused():
    net = small_net()
    del net.layers[0].grads["W"]
    with pytest.raises(ValueError, match=r"no gradient for parameter 'W'; run a backward pass"):
        SGD().step(net)
    with pytest.raises(TypeError, match="a network .* or a list of layers, got ndarray"):
        SGD().step(np.zeros(3))
    with pytest.raises(TypeError, match=r"layers\[0\] \(str\) is not a layer"):
        SGD().step(["relu"])


# -- gradient clipping --------------------------------------------------------------------------
def test_clipping_scales_grads_in_place_to_the_global_norm():
    net = small_net(np.float64)
    grads = set_random_grads(net, np.random.default_rng(1))
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    opt = SGD(0.1, clip_norm=norm / 4)
    opt.step(net)
    assert opt.last_grad_norm == pytest.approx(norm)
    clipped = [layer.grads[name] for layer, name, _ in net.parameters()]
    assert math.sqrt(sum(float(np.sum(g * g)) for g in clipped)) == pytest.approx(norm / 4)
    for g, c in zip(grads, clipped, strict=True):
        np.testing.assert_allclose(c, g * (norm / 4) / norm, rtol=1e-6)


def test_clipping_leaves_small_gradients_unchanged():
    net = small_net(np.float64)
    grads = set_random_grads(net, np.random.default_rng(1))
    opt = SGD(0.1, clip_norm=1e6)
    opt.step(net)
    for (layer, name, _), g in zip(net.parameters(), grads, strict=True):
        np.testing.assert_array_equal(layer.grads[name], g)


# -- saving and resuming ------------------------------------------------------------------------
@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_resuming_from_an_npz_is_bit_identical(make, data, tmp_path):
    net_a, opt_a = small_net(), make(clip_norm=1.0)
    train(net_a, opt_a, 10, data)

    net_b, opt_b = small_net(), make(clip_norm=1.0)
    train(net_b, opt_b, 4, data)
    opt_b.lr = opt_b.lr / 2  # a schedule's change must be part of the saved state
    saved_lr = opt_b.lr
    state = opt_b.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    np.savez(tmp_path / "opt.npz", **state)
    weights = net_b.get_weights()

    net_c, opt_c = small_net(seed=99), make(clip_norm=1.0)
    net_c.set_weights(weights)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as saved:
        opt_c.load_state_dict(saved)
    assert opt_c.lr == saved_lr and opt_c.iterations == 4
    opt_c.lr = opt_a.lr  # back to the uninterrupted run's learning rate
    train(net_c, opt_c, 6, data, start=4)
    for a, c in zip(net_a.get_weights(), net_c.get_weights(), strict=True):
        np.testing.assert_array_equal(a, c)
    assert opt_c.state_dict().keys() == opt_a.state_dict().keys()
    for key, value in opt_a.state_dict().items():
        np.testing.assert_array_equal(opt_c.state_dict()[key], value, err_msg=key)


def test_state_dict_is_a_snapshot_with_names_and_hyperparameters(data):
    net, opt = small_net(), SGD(0.1, momentum=0.9, clip_norm=2.0)
    train(net, opt, 2, data)
    state = opt.state_dict()
    assert str(state["optimizer"]) == "SGD" and state["iterations"] == 2
    assert state["hyper.momentum"] == 0.9 and state["hyper.clip_norm"] == 2.0
    assert state["state.2.W.step"] == 2 and state["state.2.W.step"].dtype == np.int64
    velocity = state["state.0.W.momentum_buffer"].copy()
    train(net, opt, 1, data)
    np.testing.assert_array_equal(state["state.0.W.momentum_buffer"], velocity)


def test_mismatched_restores_are_refused(data):
    net, opt = small_net(), SGD(0.1, momentum=0.9)
    train(net, opt, 2, data)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="saved from a SGD optimizer; it cannot be loaded into"):
        Adam().load_state_dict(state)
    with pytest.raises(ValueError, match=r"momentum=0.9 \(here 0.5\)"):
        SGD(0.1, momentum=0.5).load_state_dict(state)
    with pytest.raises(ValueError, match=r"clip_norm=nan \(here 1.0\)"):
        SGD(0.1, momentum=0.9, clip_norm=1.0).load_state_dict(state)
    with pytest.raises(ValueError, match=r"unknown entry 'state.0.W.exp_avg'"):
        SGD(0.1, momentum=0.9).load_state_dict({**state, "state.0.W.exp_avg": np.zeros(2)})
    with pytest.raises(ValueError, match="no 'optimizer' entry"):
        SGD().load_state_dict({"lr": np.array(0.1)})
    with pytest.raises(TypeError, match="takes a dict"):
        SGD().load_state_dict([1, 2])

    other = MultiLayerNetwork.from_sizes([4, 5, 3], rng=0)  # same keys, other shapes
    restored = SGD(0.1, momentum=0.9)
    restored.load_state_dict(state)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0.W has shape \(4, 6\)"):
        restored.step(other)
    deeper = MultiLayerNetwork.from_sizes([4, 6, 3, 2], rng=0)
    restored.load_state_dict(state)
    with pytest.raises(ValueError, match=r"parameters without restored state: \['4.W', '4.b'\]"):
        restored.step(deeper)


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_from_state_dict_rebuilds_the_optimizer(make, data, tmp_path):
    net, opt = small_net(), make(clip_norm=0.5)
    train(net, opt, 3, data)
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as saved:
        rebuilt = Optimizer.from_state_dict(saved)
    assert type(rebuilt) is type(opt) and repr(rebuilt) == repr(opt)
    assert rebuilt.hyperparameters() == opt.hyperparameters()
    twin = small_net()
    twin.set_weights(net.get_weights())
    train(net, opt, 2, data, start=3)
    train(twin, rebuilt, 2, data, start=3)
    for a, b in zip(net.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_from_state_dict_names_only_optimizer_classes():
    state = SGD().state_dict()
    for name in ("Optimizer", "ReduceLROnPlateau", "os.system"):
        with pytest.raises(ValueError, match=rf"unknown optimizer class '{name}'; expected one"):
            Optimizer.from_state_dict({**state, "optimizer": np.array(name)})
    with pytest.raises(ValueError, match=r"hyper-parameters do not fit SGD: .*'betas'"):
        Optimizer.from_state_dict({**state, "hyper.betas": np.array([0.9, 0.99])})


def test_restored_float64_state_is_cast_to_a_float32_network(data):
    net64, opt64 = small_net(np.float64), Adam()
    train(net64, opt64, 2, (data[0].astype(np.float64), data[1].astype(np.float64)))
    net32, opt32 = small_net(np.float32), Adam()
    opt32.load_state_dict(opt64.state_dict())
    train(net32, opt32, 1, data)
    assert all(v.dtype == np.float32 for s in opt32.state.values()
               for k, v in s.items() if k != "step")


# -- construction -------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "message"), [
    (lambda: SGD(0), r"lr must be a finite number > 0, got 0.0"),
    (lambda: SGD(float("nan")), r"lr must be a finite number > 0, got nan"),
    (lambda: SGD(0.1, momentum=-0.1), r"momentum must be a finite number >= 0"),
    (lambda: SGD(0.1, nesterov=True), r"nesterov=True needs a momentum > 0"),
    (lambda: SGD(0.1, weight_decay=-1), r"weight_decay must be a finite number >= 0"),
    (lambda: RMSProp(alpha=1.0), r"alpha must be a finite number in \[0, 1\), got 1.0"),
    (lambda: RMSProp(eps=0), r"eps must be a finite number > 0"),
    (lambda: Adagrad(lr_decay=-1), r"lr_decay must be a finite number >= 0"),
    (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\] must be a finite number in \[0, 1\), got 1.0"),
    (lambda: Adam(betas=0.9), r"betas must be a pair"),
    (lambda: AdamW(clip_norm=0), r"clip_norm must be a finite number > 0"),
])
def test_bad_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_hyperparameter_types_are_refused():
    with pytest.raises(TypeError, match="lr must be a number, got '0.1'"):
        Adam("0.1")
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        SGD(0.1, momentum=0.9, nesterov="yes")


def test_lr_can_be_set_to_zero_but_not_below():
    opt = Adam()
    opt.lr = 0
    assert opt.lr == 0.0 and isinstance(opt.lr, float)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -0.1"):
        opt.lr = -0.1


def test_get_optimizer():
    assert type(get_optimizer("sgd")) is SGD and get_optimizer("sgd").momentum == 0
    momentum = get_optimizer("Momentum", lr=0.2)
    assert type(momentum) is SGD and momentum.momentum == 0.9 and momentum.lr == 0.2
    for name, cls in [("rmsprop", RMSProp), ("adagrad", Adagrad), ("adam", Adam),
                      ("adamw", AdamW)]:
        assert type(get_optimizer(name)) is cls
        assert get_optimizer(name, lr=0.5).lr == 0.5
    opt = Adam()
    assert get_optimizer(opt) is opt
    with pytest.raises(ValueError, match=r"lr=0.1 was given with an optimizer instance"):
        get_optimizer(opt, lr=0.1)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamax'; .*'adagrad', 'adam'"):
        get_optimizer("adamax")
    assert isinstance(get_optimizer("adam"), Optimizer)


def test_repr_shows_the_hyperparameters():
    assert repr(SGD(0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0, clip_norm=None)")
    assert repr(AdamW()).startswith("AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_dec")


# -- schedules ----------------------------------------------------------------------------------
def run_schedule(schedule, lr, epochs):
    """The lr seen in each epoch, driving the callback hooks as fit does."""
    opt = SGD(lr)
    schedule.set_context(small_net(), opt)
    schedule.on_train_begin({})
    seen = []
    for epoch in range(epochs):
        schedule.on_epoch_begin(epoch, {})
        seen.append(opt.lr)
        schedule.on_epoch_end(epoch, {"loss": 1.0})
    return seen


def run_torch_schedule(make, lr, epochs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(opt)
    seen = []
    for _ in range(epochs):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize(("ours", "theirs"), [
    (StepDecay(3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    (StepDecay(2), lambda o: torch.optim.lr_scheduler.StepLR(o, 2)),
    (ExponentialDecay(0.8), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8)),
    (CosineAnnealing(7), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7)),
    (CosineAnnealing(5, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 5, eta_min=0.01)),
    (ConstantLR(0.25, total_iters=4),
     lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.25, total_iters=4)),
], ids=["step", "step-default", "exponential", "cosine", "cosine-eta-min", "constant"])
def test_schedules_match_torch(ours, theirs):
    expected = run_torch_schedule(theirs, 0.1, 20)
    np.testing.assert_allclose(run_schedule(ours, 0.1, 20), expected, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose([ours.lr_at(e, 0.1) for e in range(20)], expected, rtol=1e-10,
                               atol=1e-15)


def test_schedule_values_by_hand():
    assert run_schedule(ConstantLR(), 0.3, 3) == [0.3, 0.3, 0.3]
    assert StepDecay(2, gamma=0.1).lr_at(5, 1.0) == pytest.approx(0.01)
    assert ExponentialDecay(0.5).lr_at(3, 2.0) == 0.25
    cosine = CosineAnnealing(4, eta_min=0.1)
    assert [cosine.lr_at(e, 1.1) for e in (0, 2, 4)] == pytest.approx([1.1, 0.6, 0.1])


def test_schedule_starts_from_the_optimizers_initial_lr():
    opt = SGD(0.1)
    schedule = ExponentialDecay(0.5)
    schedule.set_context(small_net(), opt)
    schedule.on_train_begin({})
    schedule.on_epoch_begin(2)
    assert opt.lr == pytest.approx(0.025)
    # A second fit (or a resumed one) goes on from the lr the optimizer was made with, not from
    # the decayed one; set initial_lr to start a schedule from another rate.
    schedule.on_train_begin({})
    schedule.on_epoch_begin(3)
    assert opt.lr == pytest.approx(0.0125)
    opt.initial_lr = 0.8
    schedule.on_train_begin({})
    schedule.on_epoch_begin(1)
    assert opt.lr == 0.4


def test_schedule_errors():
    with pytest.raises(ValueError, match=r"has no optimizer; call set_context"):
        StepDecay(2).on_epoch_begin(0)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        StepDecay(2).lr_at(-1, 0.1)
    with pytest.raises(ValueError, match="step_size must be >= 1"):
        StepDecay(0)
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        ExponentialDecay(0)
    with pytest.raises(ValueError, match=r"factor must be a finite number in \(0, 1\]"):
        ConstantLR(factor=2)
    with pytest.raises(ValueError, match="base_lr must be a finite number > 0"):
        CosineAnnealing(3).lr_at(0, 0)


def plateau_values():
    rng = np.random.default_rng(5)
    steps = rng.choice([-0.2, -0.001, 0.0, 0.0005, 0.1], size=60)
    return list(10.0 + np.cumsum(steps))


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize(("patience", "cooldown", "min_lr"), [(2, 0, 0.0), (1, 2, 1e-3),
                                                              (0, 1, 0.0)])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode, patience, cooldown, min_lr):
    values = plateau_values()
    kwargs = {"mode": mode, "factor": 0.5, "patience": patience, "threshold_mode": threshold_mode,
              "cooldown": cooldown, "min_lr": min_lr}
    torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    torch_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, threshold=0.01,
                                                               **kwargs)
    opt = SGD(0.1)
    plateau = ReduceLROnPlateau(monitor="val_loss", min_delta=0.01, **kwargs)
    plateau.set_context(small_net(), opt)
    plateau.on_train_begin({})
    ours, theirs = [], []
    for epoch, value in enumerate(values):
        plateau.on_epoch_end(epoch, {"loss": 0.0, "val_loss": value})
        torch_plateau.step(value)
        ours.append(opt.lr)
        theirs.append(torch_opt.param_groups[0]["lr"])
    assert len(set(ours)) > 2  # the sequence really exercises reductions
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_reduce_on_plateau_by_hand():
    opt = SGD(1.0)
    plateau = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05, threshold_mode="abs",
                                min_delta=0.5)
    plateau.set_context(None, opt)
    lrs = [plateau.step(v) for v in (5.0, 4.6, 4.7, 3.0, 2.9, 2.8, 2.7, 2.6)]
    # 4.6 and 4.7 are not 0.5 better than 5.0: two bad epochs > patience 1 -> 0.1, then the
    # same again from the best 3.0 -> 0.01, floored at min_lr.
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05])


def test_reduce_on_plateau_errors():
    plateau = ReduceLROnPlateau(monitor="val_loss")
    plateau.set_context(None, SGD())
    with pytest.raises(ValueError, match=r"monitors 'val_loss', but the logs only have "
                                         r"\['accuracy', 'loss'\]"):
        plateau.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    with pytest.raises(ValueError, match=r"factor must be a finite number in \(0, 1\)"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        ReduceLROnPlateau(mode="auto")
    with pytest.raises(ValueError, match="threshold_mode must be 'rel' or 'abs'"):
        ReduceLROnPlateau(threshold_mode="relative")
    with pytest.raises(ValueError, match="patience must be >= 0"):
        ReduceLROnPlateau(patience=-1)
