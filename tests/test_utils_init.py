"""The notebook's helpers (weights, batches, shuffle, accuracy, one-hot) and every initialiser."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import accuracy, get_batches, init, initialize_weights, one_hot, shuffle

# A large matrix so that sample statistics are within ~1% of their expectation.
BIG = (500, 400)


# -- initialize_weights ----------------------------------------------------------------------------
def test_initialize_weights_is_uniform_in_minus_one_one():
    W = initialize_weights(*BIG, rng=0)
    assert W.shape == BIG and W.dtype == np.float32
    assert -1 <= W.min() < -0.99 and 0.99 < W.max() <= 1
    assert W.mean() == pytest.approx(0.0, abs=0.01)
    assert W.var() == pytest.approx(1 / 3, rel=0.02)
    # Each tenth of [-1, 1] holds about a tenth of the values.
    counts, _ = np.histogram(W, bins=10, range=(-1, 1))
    np.testing.assert_allclose(counts / W.size, 0.1, atol=0.005)


def test_initialize_weights_repeats_with_a_seed_or_generator():
    np.testing.assert_array_equal(initialize_weights(3, 4, rng=7), initialize_weights(3, 4, rng=7))
    assert not np.array_equal(initialize_weights(3, 4, rng=7), initialize_weights(3, 4, rng=8))
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(initialize_weights(3, 4, rng=a), initialize_weights(3, 4, rng=b))
    assert initialize_weights(2, 3, dtype=np.float64).dtype == np.float64


def test_initialize_weights_refuses_bad_sizes_and_rngs():
    with pytest.raises(ValueError, match="input_size must be >= 1, got 0"):
        initialize_weights(0, 3)
    with pytest.raises(TypeError, match="output_size must be an integer, got 2.0"):
        initialize_weights(3, 2.0)
    with pytest.raises(TypeError, match="rng must be None, an int seed or a numpy.random.Gen"):
        initialize_weights(3, 2, rng="seed")
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64, got int64"):
        initialize_weights(3, 2, dtype=np.int64)


# -- get_batches -----------------------------------------------------------------------------------
def test_get_batches_gives_batches_of_batch_size_with_a_shorter_last_one():
    x = np.arange(100 * 3).reshape(100, 3)
    batches = get_batches(x, 32)
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    assert all(np.shares_memory(b, x) for b in batches)  # views, not copies


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 5, [5, 5]), (10, 1, [1] * 10), (10, 10, [10]), (10, 64, [10]), (0, 4, []),
])
def test_get_batches_sizes(n, batch_size, sizes):
    assert [len(b) for b in get_batches(np.zeros(n), batch_size)] == sizes


def test_get_batches_refuses_bad_batch_sizes():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        get_batches(np.zeros(5), 0)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got -3"):
        get_batches(np.zeros(5), -3)
    with pytest.raises(TypeError, match="batch_size must be an integer, got 2.5"):
        get_batches(np.zeros(5), 2.5)
    with pytest.raises(ValueError, match="at least one axis"):
        get_batches(np.float64(3.0), 2)


# -- shuffle ---------------------------------------------------------------------------------------
def test_shuffle_applies_one_permutation_to_x_and_y():
    X = np.arange(50 * 2).reshape(50, 2)
    y = np.arange(50) * 10
    X_copy, y_copy = X.copy(), y.copy()
    Xs, ys = shuffle(X, y, rng=0)
    np.testing.assert_array_equal(Xs[:, 0] * 5, ys)  # row i of X still goes with y[i]
    assert sorted(ys) == sorted(y) and not np.array_equal(ys, y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_shuffle_repeats_with_a_seed():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    np.testing.assert_array_equal(shuffle(X, y, rng=3)[1], shuffle(X, y, rng=3)[1])
    assert not np.array_equal(shuffle(X, y, rng=3)[1], shuffle(X, y, rng=4)[1])


def test_shuffle_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="X and y have different lengths: 5 samples vs 4 targets"):
        shuffle(np.zeros((5, 2)), np.zeros(4))


# -- accuracy and one_hot --------------------------------------------------------------------------
def test_accuracy_of_labels_and_of_score_rows():
    y = np.array([0, 1, 2, 1])
    assert accuracy(y, np.array([0, 1, 1, 1])) == 0.75
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    assert accuracy(y, scores) == 0.5
    assert accuracy(one_hot(y), scores) == 0.5
    assert accuracy(one_hot(y), one_hot(y)) == 1.0
    assert isinstance(accuracy(y, y), float)


def test_accuracy_of_a_single_probability_column():
    y = np.array([1, 0, 1, 0])
    p = np.array([[0.9], [0.4], [0.3], [0.2]])
    assert accuracy(y, p) == 0.75


def test_accuracy_refuses_mismatched_lengths_and_empty_sets():
    with pytest.raises(ValueError, match="y_real and y_pred have different lengths: 3 samples vs"):
        accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="accuracy of an empty set is undefined"):
        accuracy(np.zeros(0, dtype=int), np.zeros(0, dtype=int))


def test_one_hot():
    out = one_hot([2, 0, 1, 2])
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert out.dtype == np.float32
    assert one_hot([1], n_classes=4).tolist() == [[0, 1, 0, 0]]
    assert one_hot(np.array([1.0, 0.0]), dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(one_hot([3, 1, 0]).argmax(axis=1), [3, 1, 0])


def test_one_hot_refuses_bad_labels():
    with pytest.raises(ValueError, match=r"labels has label 5 but there are only 3 classes"):
        one_hot([0, 5], n_classes=3)
    with pytest.raises(ValueError, match="labels has a negative class label"):
        one_hot([0, -1])
    with pytest.raises(ValueError, match="whole-number class labels"):
        one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="1-D array of class labels, got shape"):
        one_hot(np.zeros((2, 3), dtype=int))
    with pytest.raises(TypeError, match="integer class labels, got dtype <U1"):
        one_hot(["a", "b"])
    with pytest.raises(ValueError, match="n_classes must be >= 1"):
        one_hot([0], n_classes=0)


# -- initialisers by name --------------------------------------------------------------------------
def expected_distribution(name, fan_in, fan_out):
    """("uniform", bound) or ("normal", std) or ("zeros", 0) for an initialiser's name."""
    return {
        "uniform": ("uniform", 1.0),
        "xavier_uniform": ("uniform", np.sqrt(6 / (fan_in + fan_out))),
        "glorot_uniform": ("uniform", np.sqrt(6 / (fan_in + fan_out))),
        "xavier_normal": ("normal", np.sqrt(2 / (fan_in + fan_out))),
        "glorot_normal": ("normal", np.sqrt(2 / (fan_in + fan_out))),
        "he_uniform": ("uniform", np.sqrt(6 / fan_in)),
        "kaiming_uniform": ("uniform", np.sqrt(6 / fan_in)),
        "he_normal": ("normal", np.sqrt(2 / fan_in)),
        "kaiming_normal": ("normal", np.sqrt(2 / fan_in)),
        "zeros": ("zeros", 0.0),
    }[name]


def test_every_initialiser_is_covered():
    assert set(init.INITIALIZERS) == {
        "uniform", "xavier_uniform", "glorot_uniform", "xavier_normal", "glorot_normal",
        "he_uniform", "kaiming_uniform", "he_normal", "kaiming_normal", "zeros"}


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_initialiser_statistics(name):
    W = init.get(name)(BIG, rng=0)
    assert W.shape == BIG and W.dtype == np.float32
    kind, scale = expected_distribution(name, *BIG)
    if kind == "zeros":
        np.testing.assert_array_equal(W, 0.0)
        return
    assert W.mean() == pytest.approx(0.0, abs=0.01 * scale)
    if kind == "uniform":
        # U(-a, a): every value within the bound, the extremes near it, std a / sqrt(3).
        assert np.abs(W).max() <= scale
        assert np.abs(W).max() > 0.99 * scale
        assert W.std() == pytest.approx(scale / np.sqrt(3), rel=0.01)
    else:
        assert W.std() == pytest.approx(scale, rel=0.01)
        # A normal puts about 68.3% of its mass within one standard deviation.
        assert np.mean(np.abs(W) < scale) == pytest.approx(0.683, abs=0.01)


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_initialisers_repeat_with_a_seed_and_take_a_dtype(name):
    f = init.get(name)
    np.testing.assert_array_equal(f((6, 5), rng=4), f((6, 5), rng=4))
    assert f((6, 5), rng=4, dtype=np.float64).dtype == np.float64
    assert init.get(name.upper()) is f


def test_aliases_are_the_same_initialiser():
    assert init.get("glorot_uniform") is init.get("xavier_uniform")
    assert init.get("kaiming_normal") is init.get("he_normal")


def test_seeds_give_different_weights():
    assert not np.array_equal(init.he_normal((5, 5), rng=0), init.he_normal((5, 5), rng=1))


def test_get_accepts_a_callable_and_refuses_unknown_names():
    def mine(shape, rng=None, dtype=np.float32):
        return np.full(shape, 0.5, dtype=dtype)

    assert init.get(mine) is mine
    with pytest.raises(ValueError, match=r"unknown initialiser 'xavier'; choose one of \["):
        init.get("xavier")
    with pytest.raises(ValueError, match="unknown initialiser 3"):
        init.get(3)


@pytest.mark.parametrize("shape, message", [
    ((3,), r"weight shape must be \(fan_in, fan_out\), got \(3,\)"),
    ((2, 3, 4), r"weight shape must be \(fan_in, fan_out\)"),
    ((0, 3), r"weight shape must have positive sizes, got \(0, 3\)"),
])
def test_initialisers_refuse_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        init.he_uniform(shape)
