"""Chapter 13's checkers: the worked solutions pass, correct but unusual versions pass, blanks
are "not implemented yet", and each typical mistake fails with a hint that names it."""

from __future__ import annotations

import copy
import math

import exercise_solutions_sanity as sol
import numpy as np
import pytest
from verdicts import assert_fails_with, assert_passes

from scratchnn.exercises.sanity import check_lr_sweep, check_overfit_one_batch


# -- lr_sweep -------------------------------------------------------------------------------------
def _lexsort(train_fn, rates):
    rates = np.asarray(rates, dtype=float)
    losses = np.array([train_fn(lr) for lr in rates])
    clean = np.where(np.isfinite(losses), losses, np.inf)
    first = np.lexsort((rates, clean))[0]  # by loss, then by rate
    if not np.isfinite(clean[first]):
        raise ValueError("every run diverged")
    return rates[first], clean  # non-finite losses returned as inf


def _sorted_pairs(train_fn, rates):
    losses = {float(lr): train_fn(lr) for lr in rates}
    finite = [(loss, lr) for lr, loss in sorted(losses.items()) if np.isfinite(loss)]
    if not finite:
        raise ValueError("no finite loss")
    return min(finite)[1], tuple(losses[float(lr)] for lr in rates)


def _nanargmin_smallest_rate(train_fn, rates):
    losses = np.array([train_fn(r) for r in rates], dtype=float)
    if not np.isfinite(losses).any():
        raise ValueError("all runs diverged")
    masked = np.where(np.isfinite(losses), losses, np.nan)
    candidates = np.flatnonzero(masked == np.nanmin(masked))
    return float(np.min(np.asarray(rates)[candidates])), list(losses)


def _keyword_and_math(train_fn, rates):
    # train_fn called by keyword with a Python float; non-finite losses kept as inf.
    losses = [float(train_fn(lr=float(r))) for r in rates]
    clean = [x if math.isfinite(x) else math.inf for x in losses]
    if min(clean) == math.inf:
        raise ValueError("every run diverged: no rate gave a finite loss")
    return min(r for r, x in zip(rates, clean, strict=True) if x == min(clean)), clean


def _isclose_ties(train_fn, rates):
    losses = {r: train_fn(r) for r in rates}
    finite = {r: x for r, x in losses.items() if np.isfinite(x)}
    if not finite:
        raise ValueError("no rate gave a finite loss")
    lowest = min(finite.values())
    return min(r for r, x in finite.items() if np.isclose(x, lowest)), list(losses.values())


def _loops_and_lists(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    best, best_loss = None, math.inf
    for r, x in zip(rates, losses, strict=True):
        if math.isfinite(x) and (x < best_loss or (x == best_loss and r < best)):
            best, best_loss = r, x
    if best is None:
        raise ValueError("every run diverged: no finite loss")
    return best, losses


def _trained_smallest_rate_first(train_fn, rates):
    # Runs the rates in increasing order, reports the losses in the order given.
    losses = [None] * len(rates)
    for i in np.argsort(rates):
        losses[i] = train_fn(rates[i])
    return sol.lr_sweep(lambda lr: losses[list(rates).index(lr)], rates)


def _float32_rates(train_fn, rates):
    return sol.lr_sweep(train_fn, np.asarray(rates, dtype=np.float32))


@pytest.mark.parametrize("fn", [sol.lr_sweep, _lexsort, _sorted_pairs,
                                _nanargmin_smallest_rate, _keyword_and_math, _isclose_ties,
                                _loops_and_lists, _trained_smallest_rate_first, _float32_rates])
def test_correct_lr_sweeps_pass(fn):
    assert_passes(check_lr_sweep(fn, verbose=False))


def test_a_blank_lr_sweep_is_not_implemented():
    def lr_sweep(train_fn, rates):
        # Code here
        raise NotImplementedError

    assert check_lr_sweep(lr_sweep, verbose=False).status == "not implemented yet"


def _argmin(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    return rates[int(np.argmin(losses))], losses


def _first_of_ties(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    if not np.isfinite(losses).any():
        raise ValueError("all diverged")
    return rates[int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))], losses


def _python_min(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    # NaN compares False both ways: a NaN in first place stays the minimum.
    return min(zip(losses, rates, strict=True))[1], losses


def _index(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    clean = np.where(np.isfinite(losses), losses, np.inf)
    return int(np.lexsort((rates, clean))[0]), losses


def _the_loss(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    clean = np.where(np.isfinite(losses), losses, np.inf)
    return clean[np.lexsort((rates, clean))[0]], losses


def _argmax(train_fn, rates):
    losses = np.array([train_fn(r) for r in rates])
    return rates[int(np.nanargmax(np.where(np.isfinite(losses), losses, np.nan)))], losses


def _twice(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    _, best = min((train_fn(r), r) for r in rates if np.isfinite(train_fn(r)))
    return best, losses


def _no_error(train_fn, rates):
    try:
        return sol.lr_sweep(train_fn, rates)
    except ValueError:
        return None, [np.nan] * len(rates)


def _wrong_error(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    if not np.isfinite(losses).any():
        raise RuntimeError("all diverged")
    return sol.lr_sweep(lambda r: losses[list(rates).index(r)], rates)


def _best_only(train_fn, rates):
    return sol.lr_sweep(train_fn, rates)[0]


def _losses_by_sorted_rate(train_fn, rates):
    best, _ = sol.lr_sweep(train_fn, rates)
    return best, [train_fn(r) for r in sorted(rates)][: len(rates)]


def _min_of_nothing(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    return min((x, r) for x, r in zip(losses, rates, strict=True) if np.isfinite(x))[1], losses


def _numpy_min_of_nothing(train_fn, rates):
    losses = np.array([train_fn(r) for r in rates], dtype=float)
    finite = np.isfinite(losses)
    kept, rates_kept = losses[finite], np.asarray(rates)[finite]
    return rates_kept[kept == kept.min()].min(), losses


def _nanmin_of_all_nan(train_fn, rates):
    losses = np.array([train_fn(r) for r in rates], dtype=float)
    losses[np.isinf(losses)] = np.nan
    lowest = np.nanmin(losses)  # warns, and is NaN, when every run diverged
    return min(r for r, x in zip(rates, losses, strict=True) if x == lowest), losses


def _sorts_its_rates(train_fn, rates):
    rates = sorted(rates)
    return sol.lr_sweep(train_fn, rates)


def _isnan_only(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    kept = [(x, r) for x, r in zip(losses, rates, strict=True) if not np.isnan(x)]
    if not kept:
        raise ValueError("every run diverged")
    return min(kept)[1], losses


def _last_of_ties(train_fn, rates):
    losses = [train_fn(r) for r in rates]
    best, best_loss = None, math.inf
    for r, x in zip(rates, losses, strict=True):
        if math.isfinite(x) and x <= best_loss:  # a later tie replaces the earlier one
            best, best_loss = r, x
    if best is None:
        raise ValueError("every run diverged")
    return best, losses


def _sorts_the_callers_rates(train_fn, rates):
    rates.sort()  # the caller's list or array, sorted in place
    return sol.lr_sweep(train_fn, rates)


def _first_of_ties_in_float32(train_fn, rates):
    rates = np.asarray(rates, dtype=np.float32)
    losses = [train_fn(r) for r in rates]
    best, best_loss = None, math.inf
    for r, x in zip(rates, losses, strict=True):
        if math.isfinite(x) and x < best_loss:
            best, best_loss = r, x
    if best is None:
        raise ValueError("every run diverged")
    return best, losses


@pytest.mark.parametrize("fn, fragments", [
    (_first_of_ties_in_float32, ["expected 0.03", "the smaller rate wins"]),
    (_sorts_the_callers_rates, ["changed the rates it was given", "in place"]),
    (_last_of_ties, ["a tie between 0.01 and 0.1", "expected 0.01", "the smaller rate wins"]),
    (_isnan_only, ["instead of raising a ValueError", "np.isnan lets inf through"]),
    (_min_of_nothing, ["min() arg is an empty sequence", "not your sentence",
                       "check for the case yourself"]),
    (_numpy_min_of_nothing, ["zero-size array", "not your sentence"]),
    (_nanmin_of_all_nan, ["raised ValueError in _nanmin_of_all_nan", "not your sentence"]),
    (_sorts_its_rates, ["in the order of rates", "in the order rates came in, not sorted"]),
    (_argmin, ["expected 0.01", "treat NaN as the smallest"]),
    (_first_of_ties, ["expected 0.03", "the smaller rate wins"]),
    (_python_min, ["a NaN first", "treat NaN as the smallest"]),
    (_index, ["not its index"]),
    (_the_loss, ["not its loss"]),
    (_argmax, ["argmin, not argmax"]),
    (_twice, ["times for 5 rates", "exactly once per rate"]),
    (_no_error, ["instead of raising a ValueError"]),
    (_wrong_error, ["raised RuntimeError", "expected a ValueError"]),
    (_best_only, ["expected a pair (best_rate, losses)"]),
])
def test_lr_sweep_mistakes_are_named(fn, fragments):
    assert_fails_with(check_lr_sweep(fn, verbose=False), *fragments)


def test_losses_in_another_order_than_the_rates_fail():
    def sorted_losses(train_fn, rates):
        best, losses = sol.lr_sweep(train_fn, rates)
        order = np.argsort(rates)
        return best, [losses[i] for i in order]

    assert_fails_with(check_lr_sweep(sorted_losses, verbose=False), "in the order of rates")


# -- overfit_one_batch ----------------------------------------------------------------------------
def _array_and_while(network, x, y, loss, optimizer, steps):
    losses = np.empty(steps)
    step = 0
    while step < steps:
        logits = network.forward(x)
        losses[step] = float(loss.forward(y, logits))
        network.backward(loss.backward(), input_grad=False)
        optimizer.step(network)
        step += 1
    return losses


def _forward_twice(network, x, y, loss, optimizer, steps):
    recorded = []
    for _ in range(steps):
        recorded.append(loss.forward(y, network.forward(x)))
        loss.forward(y, network.forward(x))  # again, for the gradient: same weights, same value
        network.backward(loss.backward())
        optimizer.step(network)
    return recorded


def _with_fit(network, x, y, loss, optimizer, steps):
    # One epoch of full-batch fit is one step on the batch, and fit records the loss before it.
    history = network.fit(x, y, loss=loss, optimizer=optimizer, epochs=steps, batch_size=len(x),
                          verbose=0)
    return history.history["loss"]


def _called_like_pytorch(network, x, y, loss, optimizer, steps):
    history = []
    for _ in range(steps):
        value = loss(y, network(x))  # __call__ for forward, as torch modules and losses do
        history.append(float(value))
        network.backward(loss.backward())
        optimizer.step(network)
    return history


def _one_hot_float32_inputs(network, x, y, loss, optimizer, steps):
    # One-hot targets and the inputs cast to float32: the same losses up to float32 rounding.
    x, y = x.astype(np.float32), np.eye(3)[y]
    return sol.overfit_one_batch(network, x, y, loss, optimizer, steps)


def _first_loss_then_after_each(network, x, y, loss, optimizer, steps):
    history = [loss.forward(y, network.forward(x))]
    for step in range(steps):
        network.backward(loss.backward())
        optimizer.step(network)
        if step < steps - 1:
            history.append(loss.forward(y, network.forward(x)))
    return history


@pytest.mark.parametrize("fn", [sol.overfit_one_batch, _array_and_while, _forward_twice,
                                _with_fit, _called_like_pytorch, _one_hot_float32_inputs,
                                _first_loss_then_after_each])
def test_correct_overfit_loops_pass(fn):
    assert_passes(check_overfit_one_batch(fn, verbose=False))


def test_a_blank_overfit_loop_is_not_implemented():
    def overfit_one_batch(network, x, y, loss, optimizer, steps):
        # Code here
        raise NotImplementedError

    assert check_overfit_one_batch(overfit_one_batch, verbose=False).status == (
        "not implemented yet")


def _after_update(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        loss.forward(y, network.forward(x))
        network.backward(loss.backward())
        optimizer.step(network)
        losses.append(loss.forward(y, network.forward(x)))
    return losses


def _no_step(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        losses.append(loss.forward(y, network.forward(x)))
        network.backward(loss.backward())
    return losses


def _no_backward(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        losses.append(loss.forward(y, network.forward(x)))
        optimizer.step(network)
    return losses


def _one_too_many(network, x, y, loss, optimizer, steps):
    return sol.overfit_one_batch(network, x, y, loss, optimizer, steps + 1)


def _extra_step(network, x, y, loss, optimizer, steps):
    losses = sol.overfit_one_batch(network, x, y, loss, optimizer, steps)
    sol.overfit_one_batch(network, x, y, loss, optimizer, 1)
    return losses


def _last_only(network, x, y, loss, optimizer, steps):
    return sol.overfit_one_batch(network, x, y, loss, optimizer, steps)[-1]


def _plain_gradient_descent(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        losses.append(loss.forward(y, network.forward(x)))
        network.backward(loss.backward())
        network.update_params(0.05)  # not the optimizer it was given
    return losses


def _step_before_backward(network, x, y, loss, optimizer, steps):
    losses = []
    for _ in range(steps):
        losses.append(loss.forward(y, network.forward(x)))
        optimizer.step(network)
        network.backward(loss.backward())
    return losses


def _summed_loss(network, x, y, loss, optimizer, steps):
    return [value * len(x) for value in sol.overfit_one_batch(network, x, y, loss, optimizer,
                                                              steps)]


def _new_adam_every_step(network, x, y, loss, optimizer, steps):
    history = []
    for _ in range(steps):
        history.append(loss.forward(y, network.forward(x)))
        network.backward(loss.backward())
        type(optimizer)(lr=optimizer.lr).step(network)
    return history


def _trains_a_copy(network, x, y, loss, optimizer, steps):
    return sol.overfit_one_batch(copy.deepcopy(network), x, y, loss, optimizer, steps)


def _losses_and_network(network, x, y, loss, optimizer, steps):
    return sol.overfit_one_batch(network, x, y, loss, optimizer, steps), network


def _centres_x_in_place(network, x, y, loss, optimizer, steps):
    x -= x.mean(axis=0)
    return sol.overfit_one_batch(network, x, y, loss, optimizer, steps)


def _zero_grad_first(network, x, y, loss, optimizer, steps):
    history = []
    for _ in range(steps):
        optimizer.zero_grad()  # PyTorch's habit
        history.append(loss(y, network(x)))
        network.backward(loss.backward())
        optimizer.step(network)
    return history


@pytest.mark.parametrize("fn, fragments", [
    (_zero_grad_first, ["has no attribute 'zero_grad'", "every backward replaces the gradients"]),
    (_centres_x_in_place, ["changed x in place", "work on a copy"]),
    (_new_adam_every_step, ["a new one at each step forgets its state"]),
    (_trains_a_copy, ["the network given was not changed", "not a copy of it"]),
    (_losses_and_network, ["returned tuple", "return the list of losses alone"]),
    (_step_before_backward, ["the losses[", "after network.backward", "the step before"]),
    (_summed_loss, ["already the mean over the batch"]),
    (_after_update, ["before its update"]),
    (_no_step, ["the loss never changed"]),
    (_no_backward, ["the loss never changed"]),
    (_one_too_many, ["13 losses for steps=12"]),
    (_extra_step, ["weights after the call differ", "exactly `steps` optimizer steps"]),
    (_last_only, ["1 losses for steps=12"]),
    (_plain_gradient_descent, ["the losses[", "optimizer.step(network)"]),
])
def test_overfit_loop_mistakes_are_named(fn, fragments):
    assert_fails_with(check_overfit_one_batch(fn, verbose=False), *fragments)


def test_checker_arguments_are_checked():
    with pytest.raises(TypeError, match="the function you wrote"):
        check_lr_sweep(None)
    with pytest.raises(TypeError, match="the function you wrote"):
        check_overfit_one_batch(42)
