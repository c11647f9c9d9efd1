"""The fit loop: results it must reach, and how it behaves when things go wrong."""

import os
import signal

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from scratchnn import (
    CrossEntropyLoss,
    DropoutLayer,
    Layer,
    LinearLayer,
    MSELoss,
    MultiLayerNetwork,
    ReLULayer,
    SigmoidLayer,
    gradcheck,
)
from scratchnn.callbacks import Callback
from scratchnn.optim import SGD, Adam
from scratchnn.training import (
    EarlyStopping,
    TrainingDivergedError,
    _RandomStreams,
    _split_validation,
)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    X = (data.data / 16.0).astype(np.float32)
    return train_test_split(X, data.target, test_size=0.2, random_state=0, stratify=data.target)


def small_problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


# -- results it must reach ---------------------------------------------------------------------
def test_digits_reaches_about_97_percent_with_adam(digits):
    X_train, X_test, y_train, y_test = digits
    net = MultiLayerNetwork.from_sizes([64, 64, 10], activation="relu", rng=0)
    history = net.fit(X_train, y_train, loss="cross_entropy", optimizer=Adam(lr=1e-3),
                      epochs=30, batch_size=32, seed=0, verbose=0)
    assert len(history.history["loss"]) == 30
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    test_accuracy = np.mean(net.predict(X_test) == y_test)
    # Over seeds 0-7 this run gives 0.961-0.975 (mean 0.969); one seed is checked, with a margin.
    assert test_accuracy >= 0.965


def test_regression_beats_a_linear_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(1000, 1))
    y = np.sin(x)
    x_train, x_test, y_train, y_test = x[:800], x[800:], y[:800], y[800:]
    net = MultiLayerNetwork.from_sizes([1, 32, 32, 1], activation="tanh", rng=0, dtype=np.float64)
    net.fit(x_train, y_train, loss=MSELoss(), optimizer=Adam(lr=1e-2), epochs=150,
            batch_size=32, seed=0, verbose=0)
    net_mse = np.mean((net.predict(x_test) - y_test) ** 2)
    linear = LinearRegression().fit(x_train, y_train)
    linear_mse = np.mean((linear.predict(x_test) - y_test) ** 2)
    assert net_mse < linear_mse / 20, (net_mse, linear_mse)


def test_xor_is_learned_by_a_2_4_1_sigmoid_network():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    net = MultiLayerNetwork.from_sizes([2, 4, 1], activation="sigmoid",
                                       output_activation="sigmoid", rng=1, dtype=np.float64)
    net.fit(X, y, loss="bce", optimizer=Adam(lr=0.05), epochs=1500, batch_size=4, seed=0,
            verbose=0)
    np.testing.assert_array_equal(net.predict(X), y[:, 0])


# -- the History --------------------------------------------------------------------------------
def test_history_has_one_value_per_epoch_for_every_key():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    history = net.fit(X, y, optimizer="adam", epochs=4, validation_split=0.25, seed=0,
                      verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    # val_ numbers are what evaluate() says on the held-out quarter, drawn with the seed.
    _, val = _split_validation(X, y, None, 0.25, _RandomStreams(0), stratify=True)
    X_val, y_val = X[val], y[val]
    assert len(X_val) == 50
    assert history.history["val_loss"][-1] == pytest.approx(
        net.evaluate(X_val, y_val)["loss"], rel=1e-6)


def test_validation_split_is_shuffled_and_stratified_with_the_seed():
    # A file sorted by label: the last rows are all of the last class.
    y = np.repeat(np.arange(4), 25)
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32) + y[:, None]
    train, val = _split_validation(X, y, None, 0.2, _RandomStreams(5), stratify=True)
    X_tr, y_tr, X_val, y_val = X[train], y[train], X[val], y[val]
    assert np.bincount(y_val).tolist() == [5, 5, 5, 5]
    assert np.bincount(y_tr).tolist() == [20, 20, 20, 20]
    assert sorted(np.concatenate([X_tr[:, 0], X_val[:, 0]])) == sorted(X[:, 0])
    again = _split_validation(X, y, None, 0.2, _RandomStreams(5), stratify=True)[1]
    other = _split_validation(X, y, None, 0.2, _RandomStreams(6), stratify=True)[1]
    np.testing.assert_array_equal(again, val)
    assert not np.array_equal(other, val)
    net = MultiLayerNetwork.from_sizes([3, 8, 4], rng=0)
    history = net.fit(X, y, optimizer="adam", lr=0.05, epochs=5, validation_split=0.2, seed=5,
                      verbose=0)
    assert history.history["val_accuracy"][-1] > 0.5  # was 0.0: it validated on unseen 3s


def test_validation_split_warns_when_a_class_is_missing_from_one_side():
    y = np.array([0] * 30 + [1] * 30 + [2])  # one sample of class 2 cannot be on both sides
    X = np.zeros((61, 2), dtype=np.float32)
    with pytest.warns(UserWarning, match=r"left class\(es\) \[2\] out of the"):
        _split_validation(X, y, None, 0.2, _RandomStreams(0), stratify=True)


def test_validation_split_of_the_wrong_type_is_a_sentence():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 2], rng=0)
    with pytest.raises(TypeError, match=r"validation_split must be a fraction in \(0, 1\), got '0"):
        net.fit(X, y, validation_split="0.5", verbose=0)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        net.fit(X, y, seed=-1, verbose=0)


def test_validation_data_and_split_are_exclusive():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    with pytest.raises(ValueError, match="either validation_data or validation_split"):
        net.fit(X, y, validation_data=(X, y), validation_split=0.2, verbose=0)


def test_same_seed_gives_bit_identical_weights_and_history():
    X, y = small_problem()

    def run():
        net = MultiLayerNetwork.from_sizes([5, 16, 2], rng=3)
        net.layers.insert(2, DropoutLayer(0.3))
        h = net.fit(X, y, optimizer="adam", epochs=3, batch_size=16, seed=7, verbose=0)
        return net.get_weights(), h.history

    (w1, h1), (w2, h2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_is_plain_minibatch_sgd():
    """One epoch without shuffling equals the notebook's loop written out by hand."""
    X, y = small_problem(n=50)
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0, dtype=np.float64)
    ref = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0, dtype=np.float64)
    net.fit(X, y, loss="cross_entropy", optimizer=SGD(lr=0.1), epochs=1, batch_size=16,
            shuffle=False, verbose=0)
    loss = CrossEntropyLoss()
    for i in range(0, 50, 16):
        loss.forward(y[i:i + 16], ref.forward(X[i:i + 16]))
        ref.backward(loss.backward())
        ref.update_params(0.1)
    for a, b in zip(net.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_float32_training_stays_float32():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    net.fit(X.astype(np.float64), y, optimizer="sgd", epochs=1, verbose=0)
    assert all(p.dtype == np.float32 for _, _, p in net.parameters())


# -- failures -----------------------------------------------------------------------------------
def test_divergence_stops_with_a_clear_error_and_finite_weights():
    X, y = small_problem()
    X = X * 1e4
    net = MultiLayerNetwork.from_sizes([5, 64, 1], rng=0)
    with pytest.raises(TrainingDivergedError,
                       match=r"loss diverged at epoch \d+, batch \d+.*smaller learning rate"):
        net.fit(X, y.astype(np.float32), loss="mse", optimizer=SGD(lr=10.0), epochs=20,
                verbose=0)
    assert all(np.isfinite(p).all() for _, _, p in net.parameters())


def test_ctrl_c_mid_epoch_returns_the_history_so_far_with_consistent_weights():
    X, y = small_problem(n=400)

    class InterruptingLoss(CrossEntropyLoss):
        calls = 0

        def forward(self, y_true, y_pred):
            type(self).calls += 1
            if type(self).calls == 30:  # in the middle of the third epoch
                os.kill(os.getpid(), signal.SIGINT)
            return super().forward(y_true, y_pred)

    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    seen = []
    history = net.fit(X, y, loss=InterruptingLoss(), optimizer="adam", epochs=10,
                      batch_size=32, verbose=0,
                      callbacks=[lambda epoch, logs: seen.append(net.get_weights())])
    assert history.interrupted
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(p).all() for _, _, p in net.parameters())
    # The interrupted epoch stopped between steps: its weights moved on from epoch 2's.
    assert not np.array_equal(net.get_weights()[0], seen[-1][0])


def test_bad_arguments_are_named():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        net.fit(X, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="different lengths"):
        net.fit(X, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="label 2 but there are only 2 classes"):
        net.fit(X, y + 1, verbose=0)
    with pytest.raises(ValueError, match="X has 4 features, the first layer expects 5"):
        net.fit(X[:, :4], y, verbose=0)
    with pytest.raises(ValueError, match="unknown metric"):
        net.fit(X, y, metrics=["precision@k"], verbose=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        net.fit(X, y, verbose=3)


# -- callbacks ----------------------------------------------------------------------------------
def test_early_stopping_restores_the_best_weights():
    X, y = small_problem()
    X_val, y_val = small_problem(seed=1)
    net = MultiLayerNetwork.from_sizes([5, 32, 2], rng=0)
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (logs["val_loss"], self.network.get_weights())

    # A learning rate this large makes validation loss bounce, so stopping has work to do.
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = net.fit(X, y, optimizer=SGD(lr=3.0), epochs=40, validation_data=(X_val, y_val),
                      callbacks=[Snapshot(), stopper], seed=0, verbose=0)
    assert history.stopped_epoch is not None and history.stopped_epoch < 39
    best_epoch = min(snapshots, key=lambda e: snapshots[e][0])
    assert stopper.best_epoch == best_epoch
    for a, b in zip(net.get_weights(), snapshots[best_epoch][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_names_a_missing_key():
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    with pytest.raises(ValueError, match="monitors 'val_loss'.*pass validation data"):
        net.fit(X, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_progress_output(capsys):
    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    net.fit(X, y, epochs=2, verbose=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 2 and "loss" in lines[0] and "accuracy" in lines[0]
    net.fit(X, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "epoch 1/1 loss" in out and "accuracy" in out
    net.fit(X, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# -- dropout and evaluation ---------------------------------------------------------------------
def test_dropout_is_active_only_while_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 50)).astype(np.float32)
    layer = DropoutLayer(0.4, rng=0)
    out = layer.forward(x)
    dropped = np.mean(out == 0)
    assert 0.37 < dropped < 0.43
    np.testing.assert_allclose(out[out != 0], x[out != 0] / 0.6, rtol=1e-6)
    net = MultiLayerNetwork([LinearLayer(50, 50, rng=0), ReLULayer(), layer])
    net.training = False
    assert layer.training is False
    np.testing.assert_array_equal(net.forward(x), np.maximum(x @ net.layers[0].params["W"]
                                                             + net.layers[0].params["b"], 0))


def test_dropout_gradient_with_a_fixed_mask():
    class FixedMaskDropout(DropoutLayer):
        def _draw_mask(self, shape, dtype):
            return np.random.default_rng(5).binomial(1, 0.5, size=shape).astype(dtype) / 0.5

    x = np.random.default_rng(0).normal(size=(6, 7))
    result = gradcheck(FixedMaskDropout(0.5), x)
    assert result.passed, str(result)


def test_evaluate_in_batches_equals_one_pass():
    X, y = small_problem(n=300)
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0, dtype=np.float64)
    whole = net.evaluate(X, y, batch_size=300)
    batched = net.evaluate(X, y, batch_size=7)
    assert whole == pytest.approx(batched, rel=1e-12)
    assert 0 <= whole["accuracy"] <= 1


def test_sigmoid_output_predicts_labels():
    net = MultiLayerNetwork([LinearLayer(3, 1, rng=0), SigmoidLayer()])
    labels = net.predict(np.ones((4, 3)))
    assert labels.dtype == np.int64 and set(labels) <= {0, 1}


def test_a_schedule_in_callbacks_sets_each_epochs_learning_rate():
    from scratchnn.optim import ReduceLROnPlateau, StepDecay

    X, y = small_problem()
    net = MultiLayerNetwork.from_sizes([5, 8, 2], rng=0)
    history = net.fit(X, y, optimizer=SGD(lr=0.4), epochs=5, verbose=0,
                      callbacks=[StepDecay(step_size=2, gamma=0.5)])
    assert history.history["lr"] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    history = net.fit(X, y, optimizer=SGD(lr=0.4), epochs=3, verbose=0, callbacks=[plateau])
    # min_delta=10 means no epoch counts as an improvement, so every epoch after the first halves.
    assert history.history["lr"][-1] < 0.4


# -- exact resume ---------------------------------------------------------------------------------
def test_three_plus_three_epochs_after_a_save_equal_six_epochs_bit_for_bit(tmp_path):
    from scratchnn import DropoutLayer, LinearLayer, ReLULayer, load_model_file, save
    from scratchnn.callbacks import CosineAnnealing

    X, y = small_problem(n=90)

    def network():
        return MultiLayerNetwork([LinearLayer(5, 16, rng=0), ReLULayer(), DropoutLayer(0.3),
                                  LinearLayer(16, 2, rng=1)])

    straight = network()
    h6 = straight.fit(X, y, optimizer=SGD(lr=0.01, momentum=0.9), epochs=6, batch_size=16,
                      seed=3, callbacks=[CosineAnnealing(T_max=6)], verbose=0)
    first = network()
    opt = SGD(lr=0.01, momentum=0.9)
    h3 = first.fit(X, y, optimizer=opt, epochs=3, batch_size=16, seed=3,
                   callbacks=[CosineAnnealing(T_max=6)], verbose=0)
    assert opt.epochs == 3
    save(first, tmp_path / "m.npz", optimizer=opt)
    saved = load_model_file(tmp_path / "m.npz")
    h3b = saved.network.fit(X, y, optimizer=saved.optimizer, epochs=3, batch_size=16, seed=3,
                            callbacks=[CosineAnnealing(T_max=6)], verbose=0)
    assert h3b.epoch == [3, 4, 5]
    for key in ("loss", "lr"):
        assert h3.history[key] + h3b.history[key] == h6.history[key]
    assert h6.history["lr"] == pytest.approx([0.01, 0.0093301, 0.0075, 0.005, 0.0025, 0.00066987],
                                             rel=1e-4)
    for a, b in zip(saved.network.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_initial_epoch_overrides_the_optimizers_count():
    X, y = small_problem(n=40)
    net = MultiLayerNetwork.from_sizes([5, 2], rng=0)
    history = net.fit(X, y, epochs=2, initial_epoch=10, seed=0, verbose=0)
    assert history.epoch == [10, 11]
    with pytest.raises(ValueError, match="initial_epoch must be >= 0"):
        net.fit(X, y, epochs=1, initial_epoch=-1, verbose=0)


class PlainLinear(Layer):
    """A layer as a learner writes it: params, grads, forward and backward, and no description of
    its output shape."""

    def __init__(self, n_in, n_out, seed):
        super().__init__()
        self.params = {"W": np.random.default_rng(seed).normal(0, n_in**-0.5, (n_in, n_out)),
                       "b": np.zeros((1, n_out))}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_z, input_grad=True):
        self.grads["W"][...] = self.x.T @ grad_z
        self.grads["b"][...] = grad_z.sum(axis=0, keepdims=True)
        return grad_z @ self.params["W"].T


def test_fit_reads_the_output_width_of_layers_that_do_not_describe_it():
    # Integer labels for 3 outputs are classes; the width comes from one sample through the
    # network when its layers do not say it (before, the labels were read as one regression
    # target and fit failed on "y_true has shape (n, 1) but y_pred has shape (n, 3)").
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.argmax(X[:, :3], axis=1)
    net = MultiLayerNetwork([PlainLinear(4, 8, seed=1), ReLULayer(), PlainLinear(8, 3, seed=2)])
    assert net.n_outputs is None
    history = net.fit(X, y, optimizer=SGD(lr=0.5), epochs=30, batch_size=30, seed=0, verbose=0)
    assert net.task == "multiclass" and "accuracy" in history.history
    assert net.evaluate(X, y)["accuracy"] > 0.9
    one_hot = np.eye(3)[y]
    assert net.evaluate(X, one_hot)["accuracy"] > 0.9
