"""Chapter 11's checkers: the worked solutions and scratchnn's own DropoutLayer pass, correct
but unusual versions pass, blanks are "not implemented yet", and each typical mistake fails with
a hint that names it."""

from __future__ import annotations

import exercise_solutions_regularisation as sol
import numpy as np
import pytest
from verdicts import assert_fails_with, assert_passes

import scratchnn as sn
from scratchnn import Layer
from scratchnn.exercises.regularisation import check_dropout_layer, check_l2_penalty


# -- l2_penalty -----------------------------------------------------------------------------------
def _l2_norm_squared(weights, lam):
    value = 0.5 * lam * sum(np.linalg.norm(W) ** 2 for W in weights)
    return value, tuple(np.multiply(lam, W) for W in weights)


def _l2_loop(weights, lam):
    value, grads = 0.0, []
    for W in weights:
        flat = W.ravel()
        value += lam * float(flat @ flat) / 2
        g = np.empty_like(W, dtype=np.float64)
        g[...] = W
        g *= lam  # in place, on its own copy: the weights are untouched
        grads.append(g)
    return np.array(value), grads


def _l2_generator(weights, lam):
    value = lam / 2 * sum(np.sum(W * W, keepdims=True) for W in weights)  # shape (1, 1)
    return value.ravel(), (lam * W for W in weights)


def _l2_float32_throughout(weights, lam, *, scale=1.0):
    # A keyword argument with a default, and every array and number in float32.
    value = np.float32(lam / 2) * sum(np.sum(np.square(W, dtype=np.float32)) for W in weights)
    return np.float32(scale) * value, [np.float32(lam) * W.astype(np.float32) for W in weights]


def _l2_entry_by_entry(weights, lam):
    """A loops-and-lists student: every entry squared as a Python float."""
    total = 0.0
    for W in weights:
        for v in W.flat:
            total += float(v) * float(v)
    return lam * total / 2, [lam * W for W in weights]


def _l2_early_return_at_zero(weights, lam):
    if lam == 0:
        return 0.0, [np.zeros_like(W) for W in weights]
    return lam / 2 * sum(np.vdot(W, W) for W in weights), [lam * W for W in weights]


def _l2_multiply_out(weights, lam):
    """PyTorch's habit: a copy, then an in-place multiply on the copy (mul_)."""
    grads = []
    for W in weights:
        g = W.copy()
        np.multiply(g, lam, out=g)
        grads.append(g)
    return sum(np.square(W).sum() for W in weights) * lam * 0.5, grads


@pytest.mark.parametrize("fn", [sol.l2_penalty, _l2_norm_squared, _l2_loop, _l2_generator,
                                _l2_float32_throughout, _l2_entry_by_entry,
                                _l2_early_return_at_zero, _l2_multiply_out])
def test_correct_l2_penalties_pass(fn):
    assert_passes(check_l2_penalty(fn, verbose=False))


def test_a_blank_l2_penalty_is_not_implemented():
    def l2_penalty(weights, lam):
        # Code here
        raise NotImplementedError

    def empty(weights, lam):
        pass

    assert check_l2_penalty(l2_penalty, verbose=False).status == "not implemented yet"
    assert check_l2_penalty(empty, verbose=False).status == "not implemented yet"


def _no_half(weights, lam):
    return lam * sum(np.sum(W ** 2) for W in weights), [2 * lam * W for W in weights]


def _grad_without_lam(weights, lam):
    return lam / 2 * sum(np.sum(W ** 2) for W in weights), [W.copy() for W in weights]


def _last_only(weights, lam):
    value = 0.0
    for W in weights:
        value = lam / 2 * np.sum(W ** 2)
    return value, [lam * W for W in weights]


def _mean(weights, lam):
    return lam / 2 * sum(np.mean(W ** 2) for W in weights), [lam * W for W in weights]


def _unsquared_norm(weights, lam):
    return lam / 2 * sum(np.linalg.norm(W) for W in weights), [lam * W for W in weights]


def _l1(weights, lam):
    return lam / 2 * sum(np.sum(np.abs(W)) for W in weights), [lam * np.sign(W) for W in weights]


def _in_place(weights, lam):
    value = lam / 2 * sum(np.sum(W ** 2) for W in weights)
    for W in weights:
        W *= lam
    return value, list(weights)


def _value_only(weights, lam):
    return lam / 2 * sum(np.sum(W ** 2) for W in weights)


def _two_layers_only(weights, lam):
    W1, W2 = weights[:2]
    return lam / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)), [lam * W1, lam * W2]


def _grads_then_value(weights, lam):
    return [lam * W for W in weights], lam / 2 * sum(np.sum(W ** 2) for W in weights)


def _one_penalty_per_array(weights, lam):
    return [lam / 2 * np.sum(W ** 2) for W in weights], [lam * W for W in weights]


def _grads_reversed(weights, lam):
    value = lam / 2 * sum(np.sum(W ** 2) for W in weights)
    return value, [lam * W for W in reversed(weights)]


def _pops_the_list(weights, lam):
    value, grads = 0.0, []
    while weights:
        W = weights.pop(0)
        value += lam / 2 * np.sum(W ** 2)
        grads.append(lam * W)
    return value, grads


def _no_gradients_at_zero(weights, lam):
    if not lam:
        return 0.0, []
    return sol.l2_penalty(weights, lam)


def _vectors_skipped(weights, lam):
    """Biases are often left out in practice; the text's sum runs over every array."""
    value = lam / 2 * sum(np.sum(W ** 2) for W in weights if W.ndim > 1)
    return value, [lam * W if W.ndim > 1 else np.zeros_like(W) for W in weights]


def _square_of_sum(weights, lam):
    return lam / 2 * sum(np.sum(W) ** 2 for W in weights), [lam * W for W in weights]


def _lam_twice(weights, lam):
    return sol.l2_penalty(weights, lam)[0], [lam * lam * W for W in weights]


def _flattened_grads(weights, lam):
    return sol.l2_penalty(weights, lam)[0], [lam * W.ravel() for W in weights]


def _mean_over_arrays(weights, lam):
    return lam / 2 * np.mean([np.sum(W ** 2) for W in weights]), [lam * W for W in weights]


def _decayed_weights(weights, lam):
    return sol.l2_penalty(weights, lam)[0], [W - lam * W for W in weights]


def _spectral_norm(weights, lam):
    # ||W|| read as the matrix 2-norm, the largest singular value.
    return lam / 2 * sum(np.linalg.norm(W, 2) ** 2 for W in weights), [lam * W for W in weights]


@pytest.mark.parametrize("fn, fragments", [
    (_spectral_norm, ["its largest singular value", "default Frobenius norm"]),
    (_no_gradients_at_zero, ["0 gradients for 2 weight arrays", "one gradient per weight array"]),
    (_vectors_skipped, ["the 1-D ones too"]),
    (_square_of_sum, ["not np.sum(W) ** 2"]),
    (_lam_twice, ["multiply by lam once"]),
    (_flattened_grads, ["the right numbers in shape (12,)", "not flattened"]),
    (_mean_over_arrays, ["a mean over the arrays divides"]),
    (_decayed_weights, ["the decayed weight (1 - lam) * W"]),
    (_grads_then_value, ["returned (grads, value)", "in the order (value, grads)"]),
    (_one_penalty_per_array, ["a list of 2 numbers, one per array", "the penalty is one number"]),
    (_grads_reversed, ["in reverse order", "in the same order as weights"]),
    (_pops_the_list, ["the list weights was changed: it held 2 arrays, it holds 0",
                      "pop, append or remove"]),
    (_no_half, ["the 1/2", "the 1/2 cancels the 2"]),
    (_grad_without_lam, ["multiply by lam: the gradient is lam * W"]),
    (_last_only, ["not only the last"]),
    (_mean, ["np.mean divides"]),
    (_unsquared_norm, ["square the norm"]),
    (_l1, ["L1 penalty", "L1 gradient"]),
    (_in_place, ["weights[0] was changed in place", "must not change the weights"]),
    (_value_only, ["expected a pair (value, grads)"]),
    (_two_layers_only, ["2 gradients for 3 weight arrays"]),
])
def test_l2_penalty_mistakes_are_named(fn, fragments):
    assert_fails_with(check_l2_penalty(fn, verbose=False), *fragments)


# -- DropoutLayer ---------------------------------------------------------------------------------
class _Dropout(Layer):
    """A correct layer to derive mistakes from: ``_mask(shape)`` draws the mask."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(rng)
        self.mask = None

    def _mask(self, shape):
        return (self.rng.random(shape) >= self.p) / (1 - self.p)

    def forward(self, x):
        if not self.training:
            self.mask = None
            return x
        self.mask = self._mask(x.shape)
        return x * self.mask

    def backward(self, grad_z):
        return grad_z if self.mask is None else grad_z * self.mask


class _Binomial(_Dropout):
    """Unusual but right: a boolean mask from binomial draws on the global generator, the
    scaling applied separately, and float32 arithmetic."""

    def forward(self, x):
        if self.training and self.p > 0:
            # The legacy global generator is part of what is under test.
            keep = np.random.binomial(1, 1 - self.p, size=x.shape)  # noqa: NPY002
            self.keep = keep.astype(bool)
            return np.where(self.keep, x / np.float32(1 - self.p), np.float32(0))
        self.keep = None
        return x

    def backward(self, grad_z):
        if self.keep is None:
            return grad_z.copy()
        return grad_z * self.keep / (1 - self.p)


class _Choice(_Dropout):
    def _mask(self, shape):
        kept = self.rng.choice([0.0, 1.0], size=shape, p=[self.p, 1 - self.p])
        return kept * (1.0 / (1.0 - self.p))


class _StrictlyGreater(_Dropout):
    """Keeps entries with rng.random() > p (not >=), as a boolean mask, scaling apart."""

    def forward(self, x):
        if not self.training:
            self.keep = None
            return x
        self.keep = self.rng.random(x.shape) > self.p
        return np.where(self.keep, x / (1 - self.p), 0.0)

    def backward(self, grad_z):
        return grad_z if self.keep is None else np.where(self.keep, grad_z / (1 - self.p), 0.0)


class _ExactCount(_Dropout):
    """Drops exactly round(p * size) entries, chosen by a shuffle."""

    def _mask(self, shape):
        mask = np.full(int(np.prod(shape)), 1 / (1 - self.p))
        mask[:round(self.p * mask.size)] = 0.0
        self.rng.shuffle(mask)
        return mask.reshape(shape)


class _IntegerDraws(_Dropout):
    def _mask(self, shape):
        return (self.rng.integers(0, 100, size=shape) >= 100 * self.p) / (1 - self.p)


class _TrainingFlagInBackward(_Dropout):
    """Keeps the last mask and asks self.training in backward, with a keyword in forward."""

    def forward(self, x, training=None):
        if not self.training:
            return x
        self.mask = self._mask(x.shape)
        return x * self.mask

    def backward(self, grad_z):
        return grad_z * self.mask if self.training else grad_z


class _Float32Draws(_Dropout):
    def _mask(self, shape):
        return (self.rng.random(shape, dtype=np.float32) >= self.p) / np.float32(1 - self.p)


class _OnesInEvaluation(_Dropout):
    """Evaluation keeps a mask of ones, so backward never asks which mode it is in."""

    def forward(self, x):
        self.mask = self._mask(x.shape) if self.training else np.ones_like(x)
        return x * self.mask

    def backward(self, grad_z):
        return grad_z * self.mask


class _MaskFromOutput(_Dropout):
    """The mask read back from the output (out != 0), which is 0 where x is 0 anyway."""

    def forward(self, x):
        if not self.training:
            self.mask = None
            return x
        out = x * self._mask(x.shape)
        self.mask = (out != 0) / (1 - self.p)
        return out


@pytest.mark.parametrize("cls", [sol.DropoutLayer, sn.DropoutLayer, _Dropout, _Binomial, _Choice,
                                 _StrictlyGreater, _ExactCount, _IntegerDraws,
                                 _TrainingFlagInBackward, _Float32Draws, _OnesInEvaluation,
                                 _MaskFromOutput])
def test_correct_dropout_layers_pass(cls):
    assert_passes(check_dropout_layer(cls, verbose=False))


def test_the_dropout_checker_judges_statistics_not_one_random_stream():
    # The same layer passes with many different generators, seeded or not.
    for seed in range(5):
        class Seeded(_Dropout):
            def __init__(self, p=0.5, rng=None, _seed=seed):
                super().__init__(p, rng=_seed + 1000)

        assert_passes(check_dropout_layer(Seeded, verbose=False))


def test_a_blank_dropout_layer_is_not_implemented():
    class DropoutLayer(Layer):
        def __init__(self, p=0.5, rng=None):
            super().__init__()
            self.p = p

        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError

    assert check_dropout_layer(DropoutLayer, verbose=False).status == "not implemented yet"


class _NoScaling(_Dropout):
    def _mask(self, shape):
        return (self.rng.random(shape) >= self.p).astype(float)


class _MultipliesBy1MinusP(_Dropout):
    def _mask(self, shape):
        return (self.rng.random(shape) >= self.p) * (1 - self.p)


class _DividesByP(_Dropout):
    def _mask(self, shape):
        return (self.rng.random(shape) >= self.p) / self.p


class _DropsWithOneMinusP(_Dropout):
    def _mask(self, shape):
        return (self.rng.random(shape) < self.p) / (1 - self.p)


class _RandomScale(_Dropout):
    def _mask(self, shape):
        return self.rng.random(shape) / (1 - self.p)


class _OneMaskPerBatch(_Dropout):
    def _mask(self, shape):
        return np.broadcast_to(super()._mask(shape[1:]), shape)


class _WholeSamples(_Dropout):
    def _mask(self, shape):
        return np.broadcast_to(super()._mask((shape[0], 1)), shape)


class _MaskFromInit(_Dropout):
    def _mask(self, shape):
        if getattr(self, "fixed", None) is None or self.fixed.shape != shape:
            self.fixed = super()._mask(shape)
        return self.fixed


class _NewMaskInBackward(_Dropout):
    def backward(self, grad_z):
        if self.mask is None:
            return grad_z
        return grad_z * self._mask(grad_z.shape)


class _BackwardUnscaled(_Dropout):
    def backward(self, grad_z):
        return grad_z if self.mask is None else grad_z * (self.mask > 0)


class _BackwardPassesThrough(_Dropout):
    def backward(self, grad_z):
        return grad_z


class _BackwardInPlace(_Dropout):
    def backward(self, grad_z):
        if self.mask is not None:
            grad_z *= self.mask
        return grad_z


class _ClassicEvaluation(_Dropout):
    def forward(self, x):
        if not self.training:
            self.mask = None
            return x * (1 - self.p)
        return super().forward(x)


class _DropsInEvaluation(_Dropout):
    def forward(self, x):
        self.mask = self._mask(x.shape)
        return x * self.mask


class _ReturnsTheMask(_Dropout):
    def forward(self, x):
        out = super().forward(x)
        return self.mask if self.training else out


class _InPlaceForward(_Dropout):
    def forward(self, x):
        if self.training:
            self.mask = self._mask(x.shape)
            x *= self.mask
        return x


class _ZeroProbabilityDivides(_Dropout):
    def forward(self, x):
        if self.p == 0:
            return x * 0  # a learner's special case gone wrong
        return super().forward(x)


class _StaleMaskInEvaluation(_Dropout):
    def forward(self, x):
        return super().forward(x) if self.training else x  # keeps the training mask

    def backward(self, grad_z):
        return grad_z * self.mask


class _SeededAtEveryCall(_Dropout):
    def _mask(self, shape):
        return (np.random.default_rng(0).random(shape) >= self.p) / (1 - self.p)


class _ReturnsOutputAndMask(_Dropout):
    def forward(self, x):
        return super().forward(x), self.mask


class _RatioInBackward(_Dropout):
    """dL/dx as grad_z * out / x: NaN wherever x is 0, as after a ReLU."""

    def forward(self, x):
        self.x, self.out = x, super().forward(x)
        return self.out

    def backward(self, grad_z):
        with np.errstate(all="ignore"):
            return grad_z * (self.out / self.x)


class _MaskOnTheClass(_Dropout):
    def forward(self, x):
        out = super().forward(x)
        type(self).shared = self.mask
        return out

    def backward(self, grad_z):
        return grad_z if type(self).shared is None else grad_z * type(self).shared


_GLOBAL = {}


class _MaskInAGlobal(_Dropout):
    def forward(self, x):
        out = super().forward(x)
        _GLOBAL["mask"] = self.mask
        return out

    def backward(self, grad_z):
        return grad_z if _GLOBAL["mask"] is None else grad_z * _GLOBAL["mask"]


class _Identity(_Dropout):
    def forward(self, x):
        return x.tolist()  # nothing dropped, and a list at that


class _OneDrawPerCall(_Dropout):
    def _mask(self, shape):
        return np.full(shape, float(self.rng.random() >= self.p) / (1 - self.p))


@pytest.mark.parametrize("cls, fragments", [
    (_RatioInBackward, ["not finite where x is 0", "cannot be read back from output / x"]),
    (_MaskOnTheClass, ["with two dropout layers", "a mask kept on the class or in a global"]),
    (_MaskInAGlobal, ["with two dropout layers", "a mask kept on the class or in a global"]),
    (_OneDrawPerCall, ["other calls the opposite", "one random number for the whole of x"]),
    (_Identity, ["zeroed none of 100,000 entries.", "each entry is zeroed with probability p"]),
    (_ReturnsOutputAndMask, ["returned a tuple of 2 items", "return x * mask alone"]),
    (_StaleMaskInEvaluation, ["in evaluation mode raised ValueError",
                              "the mask kept is that of an earlier training forward"]),
    (_SeededAtEveryCall, ["exactly the same entries", "seeded again at every call"]),
    (_NoScaling, ["expected 1 / (1 - p)", "scale the kept entries by 1 / (1 - p)"]),
    (_MultipliesBy1MinusP, ["divide the kept entries by (1 - p), not multiply"]),
    (_DividesByP, ["not by p"]),
    (_DropsWithOneMinusP, ["zeroed, expected p = 0.25", "probability of *dropping*"]),
    (_RandomScale, ["different values", "compare the random numbers with p"]),
    (_OneMaskPerBatch, ["every sample got the same mask", "one random number per entry"]),
    (_WholeSamples, ["dropped or kept as a whole", "one random number per entry"]),
    (_MaskFromInit, ["exactly the same entries", "a new mask at every forward pass"]),
    (_NewMaskInBackward, ["other entries than forward dropped", "not draw a new one"]),
    (_BackwardUnscaled, ["same 1 / (1 - p) as forward"]),
    (_BackwardPassesThrough, ["their gradient is 0"]),
    (_BackwardInPlace, ["grad_z was changed in place"]),
    (_ClassicEvaluation, ["no (1 - p) factor at test time"]),
    (_DropsInEvaluation, ["nothing is dropped: return x"]),
    (_ReturnsTheMask, ["not the mask itself"]),
    (_InPlaceForward, ["the input x was changed in place"]),
    (_ZeroProbabilityDivides, ["with p = 0 nothing is dropped"]),
])
def test_dropout_mistakes_are_named(cls, fragments):
    assert_fails_with(check_dropout_layer(cls, verbose=False), *fragments)


def test_checker_arguments_are_checked():
    with pytest.raises(TypeError, match="the function you wrote"):
        check_l2_penalty("l2_penalty")
    with pytest.raises(TypeError, match="pass the class you wrote"):
        check_dropout_layer(sol.DropoutLayer(0.5))
