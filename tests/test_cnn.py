"""Convolutional networks end to end: training against PyTorch, model files, state, shapes, digits.

1. A small CNN (Conv2D, BatchNorm2D, ReLU, MaxPool2D, AvgPool2D or GlobalAvgPool2D, Flatten,
   LinearLayer, BatchNorm1D) trained for 20 steps with SGD (momentum) and with Adam must end
   with the weights and BatchNorm running statistics of the same ``torch.nn.Sequential`` trained
   by ``torch.optim`` on the same batches: 1e-10 (absolute) in float64, 1e-4 (relative to
   torch's largest value) in float32. scratchnn is driven by its own API, once through
   forward / loss / backward / ``opt.step`` and once through ``fit(shuffle=False)``.
2. A trained CNN with BatchNorm and dropout survives ``save`` / ``load_model_file``: the same
   predictions, state and summary, and resumed training is bit-identical to continuing.
3. State (running statistics) goes with the weights: get/set_weights, optimizers, early
   stopping, the roll-back of a diverging fit, evaluation mode.
4. Shape inference and summaries on CNNs; fit seeds every layer that says it is stochastic.
5. A small CNN reaches 98% test accuracy on scikit-learn's 8x8 digits.

``python tests/test_cnn.py`` prints the largest difference from torch per case, and the digits
accuracy and training time.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

import scratchnn
from scratchnn import (
    CrossEntropyLoss,
    EarlyStopping,
    ModelFileError,
    MultiLayerNetwork,
    TrainingDivergedError,
    load_model_file,
)
from scratchnn.callbacks import Callback
from scratchnn.layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    DropoutLayer,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    LinearLayer,
    MaxPool2D,
    ReLULayer,
)
from scratchnn.optim import SGD, Adam, CosineAnnealing

torch.set_num_threads(1)  # tiny tensors: one thread avoids torch's thread handoff

TOL = {np.float64: 1e-10, np.float32: 1e-4}  # float64 absolute, float32 relative to max |torch|
DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# -- 1. a small CNN against torch ------------------------------------------------------------------
# Each architecture is a list of specs from which both networks are built, so the torch twin never
# depends on how a scratchnn layer names its settings. Input: (batch, 1, 10, 10).
ARCHITECTURES = {
    # conv 10x10 -> pool 5x5 -> conv 5x5 -> avg pool 2x2 (floor, as torch) -> 24 features
    "avgpool": [("conv", 1, 4, 3, 1, 1), ("bn2d", 4), ("relu",), ("maxpool", 2),
                ("conv", 4, 6, 3, 1, 1), ("relu",), ("avgpool", 2), ("flatten",),
                ("linear", 24, 8), ("bn1d", 8), ("relu",), ("linear", 8, 3)],
    # a strided convolution without padding: 5x5 -> 2x2, then the mean over the image
    "global": [("conv", 1, 4, 3, 1, 1), ("bn2d", 4), ("relu",), ("maxpool", 2),
               ("conv", 4, 6, 3, 2, 0), ("relu",), ("gap",), ("flatten",),
               ("linear", 6, 8), ("relu",), ("linear", 8, 3)],
}
N_STEPS, BATCH, N_SAMPLES = 20, 8, 32  # 4 fixed batches, 5 passes over them
LR = {"sgd": 0.05, "adam": 0.01}

# A bias that feeds a BatchNorm is in the null space of the loss: the normalisation subtracts it
# again, so its gradient is rounding noise (~1e-17 in float64, ~1e-9 in float32), and the running
# mean carries whatever it becomes. SGD multiplies that noise by lr: harmless. Adam divides it by
# sqrt(v) + eps ~ eps = 1e-8: steps of ~lr * 1e-9 in float64, but ~lr in float32, a random walk
# that two implementations (or torch on two machines) take differently; hence bias=False before
# a BatchNorm in torch code. Those arrays get a tolerance of their own with Adam.
NULL_SPACE_TOL = {np.float64: 1e-8, np.float32: math.inf}


def null_space(spec):
    """The names of the biases that feed a BatchNorm and of its running mean."""
    return {name for i, (kind, *_) in enumerate(spec) if kind in ("bn1d", "bn2d")
            for name in (f"{i - 1}.b", f"{i}.running_mean")}


def beyond_tolerance(diffs, arch, opt_name, dtype):
    loose = null_space(ARCHITECTURES[arch]) if opt_name == "adam" else set()
    return {k: v for k, v in diffs.items()
            if not v <= (NULL_SPACE_TOL if k in loose else TOL)[dtype]}


def build(spec, dtype, seed=0):
    """The scratchnn network of ``spec``, with random biases and BatchNorm gamma and beta (zeros
    and ones would hide a gradient on the wrong axis) and random running statistics."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (kind, *args) in enumerate(spec):
        if kind == "conv":
            c, f, k, stride, pad = args
            layers.append(Conv2D(c, f, k, stride=stride, padding=pad, rng=seed + i, dtype=dtype))
        elif kind == "linear":
            layers.append(LinearLayer(*args, init="he_uniform", rng=seed + i, dtype=dtype))
        elif kind in ("bn1d", "bn2d"):
            layers.append((BatchNorm1D if kind == "bn1d" else BatchNorm2D)(args[0], dtype=dtype))
        else:
            layers.append({"relu": ReLULayer, "flatten": Flatten, "gap": GlobalAvgPool2D,
                           "maxpool": MaxPool2D, "avgpool": AvgPool2D}[kind](*args))
    for layer in layers:
        for name, p in layer.params.items():
            if name in ("b", "beta"):
                p[...] = rng.normal(scale=0.1, size=p.shape)
            elif name == "gamma":
                p[...] = rng.uniform(0.5, 1.5, size=p.shape)
        if layer.state:
            layer.state["running_mean"][...] = rng.normal(scale=0.1, size=layer.size)
            layer.state["running_var"][...] = rng.uniform(0.5, 2.0, size=layer.size)
    return MultiLayerNetwork(layers, input_shape=(1, 10, 10))


def torch_twin(spec, net):
    """The same network in torch, holding copies of ``net``'s weights and running statistics."""
    dtype = TORCH_DTYPE[net.dtype]
    modules = []
    for (kind, *args), layer in zip(spec, net.layers, strict=True):
        if kind == "conv":
            c, f, k, stride, pad = args
            m = torch.nn.Conv2d(c, f, k, stride=stride, padding=pad, dtype=dtype)
        elif kind == "linear":
            m = torch.nn.Linear(*args, dtype=dtype)
        elif kind in ("bn1d", "bn2d"):
            m = (torch.nn.BatchNorm1d if kind == "bn1d" else torch.nn.BatchNorm2d)(
                args[0], momentum=layer.momentum, eps=layer.eps, dtype=dtype)
        else:
            m = {"relu": torch.nn.ReLU, "flatten": torch.nn.Flatten,
                 "gap": lambda: torch.nn.AdaptiveAvgPool2d(1), "maxpool": torch.nn.MaxPool2d,
                 "avgpool": torch.nn.AvgPool2d}[kind](*args)
        with torch.no_grad():
            for name, (ours, _) in ours_and_theirs(layer, m).items():
                theirs = dict(m.named_parameters()) | dict(m.named_buffers())
                key = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}.get(name,
                                                                                           name)
                theirs[key].copy_(torch.from_numpy(to_torch_layout(layer, name, ours)))
        modules.append(m)
    return torch.nn.Sequential(*modules)


def to_torch_layout(layer, name, a):
    """LinearLayer keeps W as (n_in, n_out) and b as (1, n_out); torch as (out, in) and (out,)."""
    if isinstance(layer, LinearLayer):
        return np.ascontiguousarray(a.T if name == "W" else a[0])
    return a.copy()


def ours_and_theirs(layer, twin):
    """{name: (our array in our layout, torch's array in our layout)} for every parameter and
    state array of a layer."""
    if not (layer.params or layer.state):
        return {}
    theirs = {name: t.detach().numpy() for name, t in
              [*twin.named_parameters(), *twin.named_buffers()]}
    if isinstance(layer, LinearLayer):
        return {"W": (layer.params["W"], theirs["weight"].T),
                "b": (layer.params["b"], theirs["bias"][None, :])}
    pairs = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias",
             "running_mean": "running_mean", "running_var": "running_var"}
    return {name: (arr, theirs[pairs[name]])
            for name, arr in [*layer.params.items(), *layer.state.items()]}


def data(dtype, seed=0):
    rng = np.random.default_rng(seed + 1000)
    X = rng.normal(size=(N_SAMPLES, 1, 10, 10)).astype(dtype)
    y = rng.integers(0, 3, size=N_SAMPLES)
    return X, y


def batches():
    for step in range(N_STEPS):
        start = (step * BATCH) % N_SAMPLES
        yield start, start + BATCH


def make_optimizers(name, twin):
    if name == "sgd":
        return (SGD(LR["sgd"], momentum=0.9),
                torch.optim.SGD(twin.parameters(), lr=LR["sgd"], momentum=0.9))
    return Adam(LR["adam"]), torch.optim.Adam(twin.parameters(), lr=LR["adam"])


def train_torch(twin, opt_t, X, y):
    twin.train()
    losses = []
    for start, stop in batches():
        opt_t.zero_grad()
        value = torch.nn.functional.cross_entropy(twin(torch.from_numpy(X[start:stop])),
                                                  torch.from_numpy(y[start:stop]))
        value.backward()
        opt_t.step()
        losses.append(value.item())
    return losses


def train_by_hand(net, opt, X, y):
    """The notebook's loop, with scratchnn's own objects."""
    loss = CrossEntropyLoss()
    net.training = True
    losses = []
    for start, stop in batches():
        out = net.forward(X[start:stop])
        losses.append(loss.forward(y[start:stop], out))
        net.backward(loss.backward())
        opt.step(net)
    return losses


def differences(net, twin, dtype):
    """{"<layer>.<name>": largest difference from torch}, absolute in float64, relative to the
    largest |value| of torch's array in float32."""
    result = {}
    for i, (layer, m) in enumerate(zip(net.layers, twin, strict=True)):
        for name, (ours, theirs) in ours_and_theirs(layer, m).items():
            assert ours.dtype == dtype and ours.shape == theirs.shape, f"{i}.{name}"
            diff = np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)))
            scale = 1.0 if dtype == np.float64 else max(np.max(np.abs(theirs)), 1e-30)
            result[f"{i}.{name}"] = float(diff / scale)
    return result


def cnn_vs_torch(arch, opt_name, dtype, via_fit=False):
    """Train both networks for N_STEPS; returns (differences, our losses, torch's losses, net)."""
    spec = ARCHITECTURES[arch]
    X, y = data(dtype)
    net = build(spec, dtype)
    twin = torch_twin(spec, net)
    assert max(differences(net, twin, dtype).values()) == 0.0  # the copies are exact
    opt, opt_t = make_optimizers(opt_name, twin)
    theirs = train_torch(twin, opt_t, X, y)
    if via_fit:
        history = net.fit(X, y, loss=CrossEntropyLoss(), optimizer=opt, batch_size=BATCH,
                          epochs=N_STEPS * BATCH // N_SAMPLES, shuffle=False, verbose=0)
        # fit logs the mean loss of each pass over the 4 batches
        ours = history.history["loss"]
        theirs = list(np.mean(np.reshape(theirs, (-1, N_SAMPLES // BATCH)), axis=1))
    else:
        ours = train_by_hand(net, opt, X, y)
    return differences(net, twin, dtype), ours, theirs, net


CNN_CASES = [pytest.param(arch, opt, dtype, id=f"{arch}-{opt}-{dtype.__name__}")
             for arch in ARCHITECTURES for opt in ("sgd", "adam") for dtype in DTYPES]


@pytest.mark.parametrize("arch, opt_name, dtype", CNN_CASES)
def test_cnn_trains_like_torch(arch, opt_name, dtype):
    diffs, ours, theirs, net = cnn_vs_torch(arch, opt_name, dtype)
    n_arrays = sum({"conv": 2, "linear": 2, "bn1d": 4, "bn2d": 4}.get(kind, 0)
                   for kind, *_ in ARCHITECTURES[arch])
    assert len(diffs) == n_arrays  # every parameter and running statistic is compared
    bad = beyond_tolerance(diffs, arch, opt_name, dtype)
    assert not bad, f"after {N_STEPS} steps, differences from torch above {TOL[dtype]:g}: {bad}"
    np.testing.assert_allclose(ours, theirs, rtol=TOL[dtype], atol=TOL[dtype])
    assert ours[-1] < ours[0]  # it did learn something: the comparison is not of a stuck network
    # evaluation mode: both use their (equal) running statistics
    X, _ = data(dtype, seed=5)
    twin = torch_twin(ARCHITECTURES[arch], net).eval()
    out_t = twin(torch.from_numpy(X)).detach().numpy()
    scale = 1.0 if dtype == np.float64 else np.max(np.abs(out_t))
    assert np.max(np.abs(net.predict_raw(X) - out_t)) <= TOL[dtype] * scale


@pytest.mark.parametrize("arch, opt_name, dtype", CNN_CASES)
def test_fit_trains_like_torch_and_like_the_hand_written_loop(arch, opt_name, dtype):
    diffs, ours, theirs, net = cnn_vs_torch(arch, opt_name, dtype, via_fit=True)
    bad = beyond_tolerance(diffs, arch, opt_name, dtype)
    assert not bad, f"after fit, differences from torch above {TOL[dtype]:g}: {bad}"
    np.testing.assert_allclose(ours, theirs, rtol=TOL[dtype], atol=TOL[dtype])
    # fit(shuffle=False) takes exactly the steps of the hand-written loop: bit-identical
    by_hand = build(ARCHITECTURES[arch], dtype)
    opt, _ = make_optimizers(opt_name, torch_twin(ARCHITECTURES[arch], by_hand))
    train_by_hand(by_hand, opt, *data(dtype))
    for a, b in zip(net.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- 2. model files -------------------------------------------------------------------------------
def regularised_cnn(seed=0):
    """A float32 CNN on (1, 8, 8) images with both batch norms and two dropout layers."""
    return MultiLayerNetwork([
        Conv2D(1, 4, 3, padding=1, rng=seed), BatchNorm2D(4), ReLULayer(), MaxPool2D(2),
        DropoutLayer(0.2), Flatten(), LinearLayer(64, 16, rng=seed + 1), BatchNorm1D(16),
        ReLULayer(), DropoutLayer(0.3), LinearLayer(16, 3, rng=seed + 2),
    ], input_shape=(1, 8, 8))


def small_images(n=40, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1, 8, 8)).astype(dtype)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 0, 4:, :4].mean(
        axis=(1, 2)) > 0.2)
    return X, y


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def trained_file(tmp_path):
    X, y = small_images()
    net = regularised_cnn()
    opt = Adam(0.01)
    net.fit(X, y, optimizer=opt, epochs=3, batch_size=8, seed=0, verbose=0)
    path = tmp_path / "cnn.npz"
    scratchnn.save(net, path, optimizer=opt)
    return net, opt, path


def test_model_file_round_trip_of_a_cnn(trained_file):
    net, opt, path = trained_file
    X, y = small_images()
    saved = load_model_file(path)
    loaded = saved.network
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert loaded.input_shape == (1, 8, 8) and loaded.output_shape == (3,)
    assert repr(loaded) == repr(net)
    assert_same_weights(loaded, net)
    for (_, name, ours), (_, name_l, theirs) in zip(net.states(), loaded.states(), strict=True):
        assert name == name_l
        np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(net.layers[1].state["running_var"], np.ones(4))  # trained state
    np.testing.assert_array_equal(loaded.predict_raw(X), net.predict_raw(X))
    # Resuming from the file is continuing: same batches, same dropout masks (seed), same Adam.
    kwargs = {"epochs": 2, "batch_size": 8, "shuffle": False, "seed": 1, "verbose": 0}
    h_net = net.fit(X, y, optimizer=opt, **kwargs)
    h_loaded = loaded.fit(X, y, optimizer=saved.optimizer, **kwargs)
    assert h_loaded.history == h_net.history
    assert_same_weights(loaded, net)
    assert saved.optimizer.iterations == opt.iterations == 3 * 5 + 2 * 5


def rewrite(path, new_path, change):
    """Copy the model file ``path`` to ``new_path`` with ``change(arrays)`` applied."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    np.savez(new_path, **arrays)
    return new_path


def test_model_file_without_running_statistics_is_refused(trained_file, tmp_path):
    _, _, path = trained_file
    for i in (1, 7):  # BatchNorm2D and BatchNorm1D
        key = f"state/{i}/running_mean"
        bad = rewrite(path, tmp_path / f"no_state_{i}.npz", lambda a, key=key: a.pop(key))
        with pytest.raises(ModelFileError, match=f"lacks the array '{key}'"):
            load_model_file(bad)

        def wrong_shape(a, key=key):
            a[key] = np.zeros(len(a[key]) + 1, dtype=a[key].dtype)

        bad = rewrite(path, tmp_path / f"bad_state_{i}.npz", wrong_shape)
        with pytest.raises(ModelFileError, match=f"array '{key}' of shape"):
            load_model_file(bad)
    # the untouched file still loads: the refusals are about the state arrays
    assert len(load_model_file(path).network) == 11


# -- 3. state goes with the weights --------------------------------------------------------------
def n_states(net):
    return len(net.states())


def test_get_and_set_weights_carry_the_running_statistics():
    X, _ = small_images()
    net = regularised_cnn()
    assert n_states(net) == 4 and len(net.get_weights()) == len(net.parameters()) + 4
    before = net.get_weights()
    prediction = net.predict_raw(X)
    net.training = True
    net.forward(X)  # batch statistics: the running statistics move, the parameters do not
    after = net.get_weights()
    n_params = len(net.parameters())
    for a, b in zip(before[:n_params], after[:n_params], strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b)
               for a, b in zip(before[n_params:], after[n_params:], strict=True))
    assert not np.array_equal(net.predict_raw(X), prediction)
    net.set_weights(before)
    assert_same_arrays([s for _, _, s in net.states()], before[n_params:])
    np.testing.assert_array_equal(net.predict_raw(X), prediction)
    # state arrays keep their identity (as parameters do), so layers keep writing into them
    assert net.layers[1].state["running_mean"] is net.states()[0][2]
    with pytest.raises(ValueError, match="parameters and 4 state arrays"):
        net.set_weights(before[:n_params])


def assert_same_arrays(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("opt", [SGD(0.1, momentum=0.9, weight_decay=0.1),
                                 Adam(0.01, weight_decay=0.1)], ids=["sgd", "adam"])
def test_optimizers_never_change_the_state(opt):
    X, y = small_images(16)
    net = regularised_cnn()
    loss = CrossEntropyLoss()
    net.training = True
    for _ in range(3):
        out = net.forward(X)  # changes the state (training mode)
        loss.forward(y, out)
        net.backward(loss.backward())
        state = [s.copy() for _, _, s in net.states()]
        params = [p.copy() for _, _, p in net.parameters()]
        opt.step(net)  # weight decay pulls every parameter, never a running statistic
        assert_same_arrays([s for _, _, s in net.states()], state)
        assert all(not np.array_equal(p, q)
                   for p, (_, _, q) in zip(params, net.parameters(), strict=True))
    assert not any("running" in key for key in opt.state_dict())
    # evaluation mode reads the state and leaves it as it is
    state = [s.copy() for _, _, s in net.states()]
    net.predict_raw(X)
    net.evaluate(X, y)
    assert_same_arrays([s for _, _, s in net.states()], state)


class Recorder(Callback):
    """Keeps the network's weights (and state) at the start and the end of every epoch."""

    def __init__(self):
        self.epoch, self.at_start, self.at_end = None, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.at_start.append(self.network.get_weights())

    def on_epoch_end(self, epoch, logs=None):
        self.at_end.append(self.network.get_weights())


def test_early_stopping_restores_the_running_statistics_of_the_best_epoch():
    X, y = small_images()
    net = regularised_cnn()
    recorder = Recorder()
    scripted = [3.0, 1.0, 2.0, 2.5, 4.0, 0.5]  # best at epoch 1; patience 2 stops after epoch 3

    def score(y_true, y_pred):
        return scripted[recorder.epoch]

    stopper = EarlyStopping(monitor="val_score", patience=2, restore_best_weights=True,
                            mode="min")
    history = net.fit(X[:32], y[:32], validation_data=(X[32:], y[32:]), metrics=[score],
                      optimizer=Adam(0.01), epochs=6, batch_size=8, seed=0, verbose=0,
                      callbacks=[stopper, recorder])
    assert history.history["val_score"] == scripted[:4] and stopper.best_epoch == 1
    n_params = len(net.parameters())
    best, last = recorder.at_end[1], recorder.at_end[-1]
    assert all(not np.array_equal(a, b)
               for a, b in zip(best[n_params:], last[n_params:], strict=True))
    assert_same_arrays(net.get_weights(), best)  # parameters and running statistics


def bn_cnn(last_bn, seed=0):
    """Conv-BN-ReLU-pool-Flatten-Linear-(BN1D)-ReLU-Linear in float64 on (1, 8, 8)."""
    layers = [Conv2D(1, 4, 3, padding=1, rng=seed, dtype=np.float64),
              BatchNorm2D(4, dtype=np.float64), ReLULayer(), MaxPool2D(2), Flatten(),
              LinearLayer(64, 8, rng=seed + 1, dtype=np.float64)]
    if last_bn:
        layers.append(BatchNorm1D(8, dtype=np.float64))
    layers += [ReLULayer(), LinearLayer(8, 3, rng=seed + 2, dtype=np.float64)]
    return MultiLayerNetwork(layers)


def diverge(net, optimizer):
    """One sane epoch, then a fit that diverges; returns the weights at the start of each epoch
    of the second fit and the error."""
    X, y = small_images(dtype=np.float64)
    net.fit(X, y, optimizer=SGD(0.01), epochs=1, batch_size=8, verbose=0)
    recorder = Recorder()
    with pytest.raises(TrainingDivergedError) as err:
        net.fit(X, y, optimizer=optimizer, epochs=3, batch_size=8, verbose=0,
                callbacks=[recorder])
    return recorder, err.value


def test_a_diverging_fit_rolls_the_state_back_with_the_weights():
    # lr * weight_decay * p overflows: the first step makes the parameters infinite, the next
    # forward pass gives a NaN loss (and NaN running statistics), and fit undoes the epoch.
    net = bn_cnn(last_bn=True)
    recorder, err = diverge(net, SGD(1e300, weight_decay=1e100))
    assert "loss diverged at epoch 1, batch 2" in str(err)
    assert_same_arrays(net.get_weights(), recorder.at_start[-1])  # parameters and state
    state = [s for _, _, s in net.states()]
    assert not np.array_equal(state[1], np.ones(4))  # the state the first, sane fit left
    assert np.isfinite(net.predict_raw(small_images(dtype=np.float64)[0])).all()


# Behind a BatchNorm the parameters may stay finite (huge) while the forward pass writes inf or
# NaN into running_mean / running_var; the roll-back must look at the state too (it did not
# before 42eaf45: fit raised, or even returned normally, leaving non-finite running statistics).
def test_a_nan_loss_with_finite_parameters_still_rolls_the_state_back():
    # Plain huge lr: the loss turns NaN while every parameter is still finite, but the failing
    # forward pass has already written inf into running_var.
    net = bn_cnn(last_bn=True)
    recorder, err = diverge(net, SGD(1e200))
    assert "loss diverged at epoch 1, batch 2" in str(err)
    assert_same_arrays(net.get_weights(), recorder.at_start[-1])
    assert all(np.isfinite(s).all() for _, _, s in net.states())


def test_a_fit_that_ends_with_non_finite_running_statistics_is_refused():
    # lr=1e10: the loss grows huge but stays finite; with this seed's shuffles the running
    # variance of the BatchNorm1D overflows to inf in the third epoch, which is undone.
    X, y = small_images(dtype=np.float64)
    net = bn_cnn(last_bn=True)
    recorder = Recorder()
    with pytest.raises(TrainingDivergedError, match="NaN or infinite in epoch 3"):
        net.fit(X, y, optimizer=SGD(1e10), epochs=3, batch_size=8, seed=1, verbose=0,
                callbacks=[recorder])
    assert_same_arrays(net.get_weights(), recorder.at_start[2])
    assert all(np.isfinite(s).all() for _, _, s in net.states())


def conv2d_reference(x, W, b, padding):
    """z[n, f, i, j] = b[f] + sum_{c,u,v} W[f, c, u, v] xpad[n, c, i + u, j + v] (stride 1)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, W.shape[2:], axis=(2, 3))  # (n, c, i, j, u, v)
    return np.einsum("ncijuv,fcuv->nfij", windows, W) + b[:, None, None]


def test_evaluation_mode_uses_the_running_statistics():
    rng = np.random.default_rng(3)
    net = MultiLayerNetwork([Conv2D(1, 3, 3, padding=1, rng=0, dtype=np.float64),
                             BatchNorm2D(3, dtype=np.float64), ReLULayer(), Flatten(),
                             LinearLayer(3 * 36, 2, rng=1, dtype=np.float64)])
    conv, bn, _, _, linear = net.layers
    conv.params["b"][...] = rng.normal(size=3)
    bn.params["gamma"][...] = rng.uniform(0.5, 2, size=3)
    bn.params["beta"][...] = rng.normal(size=3)
    bn.state["running_mean"][...] = rng.normal(size=3)
    bn.state["running_var"][...] = rng.uniform(0.5, 2, size=3)
    x = rng.normal(size=(5, 1, 6, 6))

    def per_channel(v):
        return v[None, :, None, None]

    z = conv2d_reference(x, conv.params["W"], conv.params["b"], 1)
    a = np.maximum(per_channel(bn.params["gamma"]) * (z - per_channel(bn.state["running_mean"]))
                   / np.sqrt(per_channel(bn.state["running_var"]) + bn.eps)
                   + per_channel(bn.params["beta"]), 0)
    expected = a.reshape(5, -1) @ linear.params["W"] + linear.params["b"]
    state = net.get_weights()
    np.testing.assert_allclose(net.predict_raw(x), expected, rtol=1e-12, atol=1e-12)
    net.training = False
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert_same_arrays(net.get_weights(), state)  # evaluation never moves the statistics
    net.training = True  # batch statistics instead, and the running ones move
    assert np.max(np.abs(net.forward(x) - expected)) > 1e-3
    assert not np.array_equal(bn.state["running_mean"], state[-2])


# -- 4. shapes, summaries, seeding ----------------------------------------------------------------
def mnist_stack():
    return [Conv2D(1, 8, 3, padding=1, rng=0), ReLULayer(), MaxPool2D(2),
            Conv2D(8, 16, 3, stride=2, rng=1), BatchNorm2D(16), ReLULayer(), AvgPool2D(2),
            DropoutLayer(0.25), Flatten(), LinearLayer(144, 32, rng=2), ReLULayer(),
            LinearLayer(32, 10, rng=3)]


MNIST_SHAPES = [(8, 28, 28), (8, 28, 28), (8, 14, 14), (16, 6, 6), (16, 6, 6), (16, 6, 6),
                (16, 3, 3), (16, 3, 3), (144,), (32,), (32,), (10,)]


def test_network_infers_every_output_shape_of_a_cnn():
    layers = mnist_stack()
    net = MultiLayerNetwork(layers, input_shape=(1, 28, 28))
    assert net.input_shape == (1, 28, 28) and net.output_shape == (10,)
    assert net.n_outputs == 10 and net.n_features is None
    # each prefix of the stack, and a real forward pass layer by layer, agree with the table
    x = np.random.default_rng(0).normal(size=(2, 1, 28, 28)).astype(np.float32)
    for i, layer in enumerate(layers):
        assert MultiLayerNetwork(layers[: i + 1], input_shape=(1, 28, 28)).output_shape == \
            MNIST_SHAPES[i], f"layer {i}, {layer!r}"
        x = layer.forward(x)
        assert x.shape == (2, *MNIST_SHAPES[i]), f"layer {i}, {layer!r}"
    assert net.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_a_layer_that_does_not_fit_is_refused_on_add_with_a_sentence():
    net = MultiLayerNetwork([Flatten()], input_shape=(1, 28, 28))
    with pytest.raises(ValueError) as err:
        net.add(LinearLayer(100, 10))
    message = str(err.value)
    assert "LinearLayer(100, 10" in message and "Flatten()" in message
    assert "(batch, 784)" in message
    assert len(net) == 1 and net.output_shape == (784,)  # the network is as it was
    net.add(LinearLayer(784, 10))
    assert net.output_shape == (10,)

    net = MultiLayerNetwork([Conv2D(1, 4, 3, padding=1)], input_shape=(1, 28, 28))
    net.add(MaxPool2D(2))
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8.*MaxPool2D.*\(batch, 4, 14, 14\)"):
        net.add(Conv2D(3, 8, 3))
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8.*first layer.*\(batch, 1, 28, 28\)"):
        MultiLayerNetwork([Conv2D(3, 8, 3)], input_shape=(1, 28, 28))


def test_a_network_without_input_shape_learns_it_from_the_first_batch():
    net = MultiLayerNetwork([Conv2D(1, 4, 3, padding=1, rng=0), ReLULayer(), MaxPool2D(2),
                             Flatten(), LinearLayer(4 * 3 * 3, 3, rng=1)])
    assert net.input_shape is None and net.output_shape is None
    assert "(batch, ?)" in repr(net)
    X, y = small_images(12)
    X = X[:, :, :6, :6]
    net.fit(X, y, epochs=1, batch_size=4, verbose=0)
    assert net.input_shape == (1, 6, 6) and net.output_shape == (3,)
    assert "(batch, ?)" not in repr(net)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 8, 8\).*expects \(1, 6, 6\)"):
        net.predict(small_images(2)[0])
    # a layer that cannot take what comes before it is named on the first batch
    late = MultiLayerNetwork([Conv2D(1, 4, 3, padding=1), Flatten(), LinearLayer(100, 3)])
    with pytest.raises(ValueError, match=r"LinearLayer\(100, 3.*Flatten\(\).*\(batch, 144\)"):
        late.forward(X)


def test_printing_a_cnn_shows_each_output_shape_and_parameter_count(capsys):
    net = MultiLayerNetwork(mnist_stack(), input_shape=(1, 28, 28))
    print(net)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "MultiLayerNetwork(input (batch, 1, 28, 28)"
    assert lines[-1] == ")" and len(lines) == len(net) + 3
    counts = [8 * 9 + 8, 0, 0, 16 * 8 * 9 + 16, 32, 0, 0, 0, 0, 144 * 32 + 32, 0, 32 * 10 + 10]
    for i, (line, layer, shape, count) in enumerate(
            zip(lines[1:-2], net.layers, MNIST_SHAPES, counts, strict=True)):
        assert line.lstrip().startswith(f"({i}) {layer!r}")
        assert "-> (batch, " + ", ".join(map(str, shape)) + ")" in line
        assert line.endswith(f"{count:,} params") if count else line.endswith(")")
    assert f"total: {sum(counts):,} parameters, 32 state values (not trained)" in lines[-2]


class Jitter(Layer):
    """Multiplicative Gaussian noise while training: a stochastic layer that is no DropoutLayer.
    x (batch, ...) -> x * (1 + 0.1 e), e ~ N(0, 1); dL/dx = g * (1 + 0.1 e)."""

    stochastic = True
    elementwise = True

    def __init__(self):
        super().__init__()
        self.rng = np.random.default_rng()  # unseeded: only fit(seed=...) makes runs repeat
        self._scale = None

    def forward(self, x):
        x = self._check_input(x)
        if self.training:
            self._scale = (1 + 0.1 * self.rng.standard_normal(x.shape)).astype(x.dtype)
        else:
            self._scale = np.ones_like(x)
        self._out = x * self._scale
        return self._out

    def backward(self, grad_z, input_grad=True):
        return self._check_grad(grad_z) * self._scale


@pytest.mark.parametrize("noise", [lambda: DropoutLayer(0.3, rng=None), Jitter],
                         ids=["DropoutLayer", "custom stochastic layer"])
def test_fit_seeds_every_stochastic_layer(noise):
    X, y = small_images(24)

    def run(seed):
        net = MultiLayerNetwork([Conv2D(1, 4, 3, padding=1, rng=0), noise(), ReLULayer(),
                                 MaxPool2D(2), Flatten(), noise(), LinearLayer(64, 3, rng=1)])
        history = net.fit(X, y, optimizer=Adam(0.01), epochs=2, batch_size=8, seed=seed,
                          verbose=0)
        return net.get_weights(), history.history["loss"]

    weights, losses = run(seed=7)
    again, losses_again = run(seed=7)
    assert losses_again == losses
    assert_same_arrays(again, weights)
    other, _ = run(seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(other, weights, strict=True))
    # without a seed the layers draw from their own unseeded generators: runs differ
    one, two = run(seed=None), run(seed=None)
    assert one[1] != two[1]


# -- 5. digits ----------------------------------------------------------------------------------
# The last 397 digits come from other writers than the first 1,400. The suggested
# Conv16-pool-Conv32-pool-Linear(128) net levels off near 96% there, whatever the epochs and lr
# (as an RBF SVM does); 98% with a margin takes a convolution on the full 8x8 image,
# BatchNorm, dropout, one-pixel shifts of the training images and a cosine learning rate.
DIGITS_EPOCHS, DIGITS_LR, DIGITS_BATCH, DIGITS_SEED = 6, 0.01, 64, 0


def digits_cnn(seed=0):
    return MultiLayerNetwork([
        Conv2D(1, 16, 3, padding=1, rng=seed), BatchNorm2D(16), ReLULayer(),
        Conv2D(16, 32, 3, padding=1, rng=seed + 1), BatchNorm2D(32), ReLULayer(), MaxPool2D(2),
        Flatten(), DropoutLayer(0.4), LinearLayer(512, 10, rng=seed + 2),
    ], input_shape=(1, 8, 8))


def with_shifts(X, y):
    """X (n, 1, 8, 8) and its copies moved by one pixel up, down, left and right (5n images)."""
    padded = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)))
    moved = [padded[:, :, 1 + dy:9 + dy, 1 + dx:9 + dx]
             for dy, dx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))]
    return np.concatenate(moved), np.tile(y, len(moved))


def train_digits(seed=DIGITS_SEED):
    """(test accuracy, seconds) of the digits CNN trained on the first 1,400 images."""
    digits = scratchnn.datasets.load_digits()
    X, y = digits.X, digits.y
    assert X.shape == (1797, 64) and X.dtype == np.float32
    X = X.reshape(-1, 1, 8, 8)
    X_train, y_train = with_shifts(X[:1400], y[:1400])
    net = digits_cnn(seed)
    start = time.perf_counter()
    # fit trains these small matrix products with one BLAS thread (threads="auto").
    net.fit(X_train, y_train, optimizer=Adam(DIGITS_LR), epochs=DIGITS_EPOCHS,
            batch_size=DIGITS_BATCH, seed=seed, verbose=0,
            callbacks=[CosineAnnealing(DIGITS_EPOCHS)])
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(net.predict(X[1400:]) == y[1400:]))
    return accuracy, seconds


def test_a_small_cnn_learns_the_digits():
    # Speed is measured by benchmarks/bench_cnn.py, not here; python tests/test_cnn.py prints
    # the time of this run.
    accuracy, _ = train_digits()
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f} on the last 397 digits"


if __name__ == "__main__":
    print(f"{'case':<22}{'by hand':>10}{'fit':>10}{'  bias before BN, its running mean':>36}")
    for param in CNN_CASES:
        arch, opt_name, dtype = param.values
        loose = null_space(ARCHITECTURES[arch])
        row = []
        for via_fit in (False, True):
            diffs = cnn_vs_torch(arch, opt_name, dtype, via_fit=via_fit)[0]
            row.append(max(v for k, v in diffs.items() if k not in loose))
        row.append(max(v for k, v in diffs.items() if k in loose))
        print(f"{param.id:<22}" + "".join(f"{v:>10.2e}" for v in row[:2]) + f"{row[2]:>36.2e}")
    for seed in range(3):
        accuracy, seconds = train_digits(seed)
        print(f"digits seed {seed}: test accuracy {accuracy:.4f}, trained in {seconds:.1f} s")
