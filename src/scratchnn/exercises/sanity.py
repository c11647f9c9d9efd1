"""Checkers for chapter 13: the sanity checks run before a long training.

``check_lr_sweep`` gives the learner's ``lr_sweep(train_fn, rates)`` a stand-in for training
whose final losses are known (a U-shaped curve, a diverged NaN, an infinite loss, ties with the
rates in either order, so neither the first nor the last of the tied wins by luck) and judges
the returned best rate by the chapter's rule: the lowest finite loss; ties go to the smaller
rate; a ValueError when no loss is finite (the learner's own: the ValueError that min() or
NumPy raise on an empty selection is named as such). The rates must come back unchanged.

``check_overfit_one_batch`` runs the learner's ``overfit_one_batch`` next to the same loop on an
identical float64 network, loss and optimizer, and compares the recorded losses and the final
weights (to within float32 rounding, so a learner's float32 copy of x passes and one Adam step more
or less does not); the usual wrong loops are run too, so the hint names the one that matches.
x and y must be left unchanged, and the network given must be the one trained.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..losses import CrossEntropyLoss
from ..network import MultiLayerNetwork
from ..optim import Adam
from ._core import (
    _where,
    as_numbers,
    check_callable,
    close,
    compare,
    fmt,
    run_check,
)
from .regularisation import what_it_is

# -- lr_sweep -------------------------------------------------------------------------------------
_NAN, _INF = float("nan"), float("inf")
# What min(), max() and NumPy's reductions raise on nothing: a ValueError, but not a sentence
# the learner wrote about diverged runs.
_EMPTY_ERRORS = ("empty sequence", "empty iterable", "zero-size array", "All-NaN slice",
                 "argmin of an empty", "argmax of an empty")

# (description, rates as the learner gets them, the loss train_fn returns for each, best rate)
_SWEEPS = [
    ("a U-shaped curve with a diverged (NaN) run at the largest rate",
     [1e-4, 1e-3, 1e-2, 1e-1, 1.0], [2.3, 1.1, 0.4, 0.9, _NAN], 1e-2),
    ("rates from large to small as a NumPy array, an infinite loss and a tie between 0.1 and 0.03",
     np.array([1.0, 0.3, 0.1, 0.03, 0.01]), [_INF, 0.5, 0.2, 0.2, 0.7], 0.03),
    ("a NaN first and the best rate last",
     [0.001, 0.003, 0.01], [_NAN, 0.9, 0.6], 0.01),
    # Rates from small to large with a tie: the last of the tied rates (l <= best) is the larger.
    ("rates from small to large and a tie between 0.01 and 0.1",
     [0.001, 0.01, 0.1, 1.0], [0.8, 0.3, 0.3, _INF], 0.01),
]
_NONE_FINITE = ([0.1, 1.0, 10.0], [_NAN, _INF, _NAN])


class _Training:
    """A stand-in for train_fn: returns the loss set for each rate and logs every call."""

    def __init__(self, rates, losses):
        self.table = [(float(r), loss) for r, loss in zip(rates, losses, strict=True)]
        self.calls = []

    def __call__(self, lr):
        self.calls.append(lr)
        rate = float(np.asarray(lr).item()) if np.size(lr) == 1 else None
        for r, loss in self.table:
            # float32's precision: a learner may hand over the rates as float32.
            if rate is not None and np.isclose(rate, r, rtol=1e-6, atol=0):
                return loss
        raise ValueError(f"train_fn was called with {lr!r}, which is none of the rates "
                         f"{[r for r, _ in self.table]}")


def _sweep_hint(got, rates, losses, best):
    """Name the mistake a wrong best rate comes from."""
    rates = np.asarray(rates, dtype=np.float64)
    values = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(values)
    best_index = int(np.flatnonzero(rates == best)[0])
    if np.isclose(got, best_index) and best_index != best:
        return "return the rate itself, rates[i], not its index i."
    if np.isclose(got, values[best_index]):
        return "return the best rate, not its loss."
    naive = int(np.argmin(values))  # the first NaN, if there is one
    if not finite[naive] and np.isclose(got, rates[naive]):
        return ("a NaN loss (a diverged run) won: np.argmin and min() treat NaN as the "
                    "smallest value. Count every non-finite loss as worse than any finite one "
                    "(e.g. np.where(np.isfinite(losses), losses, np.inf)).")
    ties = rates[finite & (values == values[best_index])]
    if len(ties) > 1 and np.isclose(got, ties, rtol=1e-6, atol=0).any():
        return "when two rates give the same lowest loss, the smaller rate wins."
    if finite.any() and np.isclose(got, rates[finite][np.argmax(values[finite])]):
        return "the best rate has the *lowest* final loss (argmin, not argmax)."
    return None


def _sweep_case(check, fn, description, rates, losses, best):
    train = _Training(rates, losses)
    given = rates.copy() if isinstance(rates, np.ndarray) else list(rates)
    out = check.run(f"lr_sweep(train_fn, rates) on {description}", fn, train, given)
    if not close(np.asarray(given, dtype=np.float64), np.asarray(rates, dtype=np.float64),
                 rtol=0, atol=0):
        check.stop(f"lr_sweep changed the rates it was given: {np.asarray(rates).tolist()} "
                   f"became {np.asarray(given).tolist()}.",
                   "rates.sort() (or rates[...] = ...) changes the caller's list in place; "
                   "leave rates as they came, and report the losses in their order.")
    if len(train.calls) != len(rates):
        check.stop(f"train_fn was called {len(train.calls)} times for {len(rates)} rates.",
                   "train_fn trains a whole network: call it exactly once per rate and keep "
                   "the losses it returns.")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        check.stop(f"lr_sweep returned {what_it_is(out)}, expected a pair (best_rate, losses).",
                   "return best_rate, losses: the rate and the list of losses, one per rate.")
    got_best, got_losses = out
    values = as_numbers(got_losses)
    if values is None or values.shape != (len(rates),):
        check.stop(f"the losses returned are {what_it_is(got_losses)}, expected {len(rates)} "
                   "numbers, one per rate.",
                   "losses holds what train_fn returned for each rate, in the order of rates.")
    expected = np.asarray(losses, dtype=np.float64)
    finite = np.isfinite(expected)
    # A diverged run may be kept as NaN or as inf: both say "no finite loss".
    if not (close(values[finite], expected[finite], rtol=1e-12, atol=0)
            and not np.isfinite(values[~finite]).any()):
        by_rate = expected[np.argsort(np.asarray(rates, dtype=np.float64), kind="stable")]
        sorted_rates = np.array_equal(np.isfinite(values), np.isfinite(by_rate)) and close(
            values[np.isfinite(by_rate)], by_rate[np.isfinite(by_rate)], rtol=1e-12, atol=0)
        check.stop(f"the losses returned are {values.tolist()}, expected {expected.tolist()} "
                   "(train_fn's values, in the order of rates).",
                   "losses[i] is what train_fn(rates[i]) returned, in the order rates came in, "
                   "not sorted." if sorted_rates else
                   "losses[i] is what train_fn(rates[i]) returned.")
    number = as_numbers(got_best)
    if number is None or number.size != 1:
        check.stop(f"the best rate is {what_it_is(got_best)}, expected one number.",
                   "return the rate itself, e.g. rates[i].")
    got = float(number.ravel()[0])
    if not np.isclose(got, best, rtol=1e-6, atol=0):
        check.stop(f"on {description} (rates {np.asarray(rates).tolist()}, losses "
                   f"{expected.tolist()}), the best rate returned is {fmt(got)}, expected "
                   f"{fmt(best)}.", _sweep_hint(got, rates, losses, best))
    check.ok(f"{description}: best rate {fmt(best)}")


def _lr_sweep_body(check, fn):
    for description, rates, losses, best in _SWEEPS:
        _sweep_case(check, fn, description, rates, losses, best)
    rates, losses = _NONE_FINITE
    train = _Training(rates, losses)
    # NumPy's warnings (np.nanmin of all-NaN losses) are the learner's to see in the verdict,
    # not on the notebook's stderr.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = fn(train, list(rates))
        except ValueError as exc:
            if any(text in str(exc) for text in _EMPTY_ERRORS):
                check.stop(f"when every run diverged, lr_sweep raised ValueError{_where(exc)}: "
                           f"{exc}. That is Python or NumPy failing on an empty list, not your "
                           "sentence.", "check for the case yourself (no finite loss) and raise "
                           "ValueError('...') with a sentence saying that every run diverged.")
            check.ok("a ValueError when no rate gives a finite loss")
            return
        except Exception as exc:  # noqa: BLE001 -- any error in learner code is reported
            check.stop(f"when every run diverged, lr_sweep raised {type(exc).__name__} ({exc}), "
                       "expected a ValueError.",
                       "raise ValueError('...') with a sentence saying that no rate gave a "
                       "finite loss.")
    best = out[0] if isinstance(out, (tuple, list)) and len(out) == 2 else None
    chosen = as_numbers(best)
    hint = ("no rate is best when none gave a finite loss: raise ValueError with a sentence "
            "saying so.")
    if chosen is not None and chosen.size == 1:
        loss = dict(zip(rates, losses, strict=True)).get(float(chosen.ravel()[0]))
        if loss is not None and np.isinf(loss):
            hint = ("an infinite loss is not finite either: keep the losses that pass "
                    "np.isfinite (np.isnan lets inf through), and raise ValueError when none "
                    "does.")
    check.fail(f"when every run diverged (losses {losses}), lr_sweep returned {out!r} instead "
               "of raising a ValueError.", hint)


def check_lr_sweep(fn, *, verbose=True):
    """Check the learner's ``lr_sweep(train_fn, rates) -> (best_rate, losses)``: train_fn(lr)
    is called once per rate; losses are its results in the order of rates (a list or an array;
    a diverged run may stay NaN or become inf); best_rate is the rate with the lowest finite
    loss, the smaller rate on a tie; a ValueError when no loss is finite. Returns a CheckResult
    (truthy when passed) and prints it."""
    check_callable(fn)
    return run_check(getattr(fn, "__name__", "lr_sweep"), _lr_sweep_body, fn, verbose=verbose)


# -- overfit_one_batch ----------------------------------------------------------------------------
def zero_grad_hint(exc):
    """Advice for an error from PyTorch's habit of calling optimizer.zero_grad(), else None."""
    if isinstance(exc, AttributeError) and "zero_grad" in str(exc):
        return ("this course's optimizers and networks have no zero_grad: every backward "
                "replaces the gradients (they do not add up as PyTorch's do), so leave it out.")
    return None



STEPS = 12
_LR = 0.05


def _batch():
    rng = np.random.default_rng(130)
    return rng.normal(size=(10, 6)), rng.integers(0, 3, size=10)


def _fresh():
    """The same small float64 network, a loss and an optimizer, new each time."""
    net = MultiLayerNetwork.from_sizes([6, 8, 3], rng=131, dtype=np.float64)
    return net, CrossEntropyLoss(), Adam(lr=_LR)


def _reference_losses(x, y, steps, step_first=False, new_optimizer=False):
    """The loss before each of ``steps + 1`` updates, and the network after ``steps``.
    Two learners' mistakes: ``step_first`` takes each optimizer step before the backward pass,
    ``new_optimizer`` steps with a new Adam each time (its averages and count start over)."""
    net, loss, opt = _fresh()
    values, after = [], None
    for step in range(steps + 1):
        values.append(loss.forward(y, net.forward(x)))
        if step == steps:
            after = [p.copy() for _, _, p in net.parameters()]
        if new_optimizer:
            opt = Adam(lr=_LR)
        if step_first:
            opt.step(net)
        net.backward(loss.backward(), input_grad=False)
        if not step_first:
            opt.step(net)
    return np.array(values), after


def _overfit_body(check, fn):
    x, y = _batch()
    net, loss, opt = _fresh()
    x_given, y_given = x.copy(), y.copy()
    out = check.run(f"overfit_one_batch(network, x, y, loss, optimizer, steps={STEPS}) with x of "
                    f"shape {x.shape}", fn, net, x_given, y_given, loss, opt, STEPS,
                    hint=zero_grad_hint)
    for given, original, name in ((x_given, x, "x"), (y_given, y, "y")):
        if not close(given, original, rtol=0, atol=0):
            check.stop(f"overfit_one_batch changed {name} in place.",
                       f"leave {name} as it came (the caller still holds it): work on a copy, "
                       f"e.g. {name} = {name} - ..., not {name} -= ....")
    values = as_numbers(out)
    if values is None:
        losses_inside = isinstance(out, tuple) and any(
            getattr(as_numbers(item), "size", 0) == STEPS for item in out)
        check.stop(f"overfit_one_batch returned {type(out).__name__}, expected a list of "
                   f"{STEPS} losses.",
                   "return the list of losses alone (the network is the caller's: it is trained "
                   "in place)." if losses_inside else
                   "append each step's loss value to a list and return it.")
    values = values.ravel()
    reference, weights = _reference_losses(x, y, STEPS)
    expected = reference[:STEPS]
    if len(values) != STEPS:
        hint = ("one loss per step: the list holds `steps` values, the first computed before any "
                "update.")
        check.stop(f"{len(values)} losses for steps={STEPS}.", hint)
    variants = [
        ("record each step's loss before its update: the first value is the loss of the "
         "untrained network.", reference[1:]),
        ("the loss never changed: each step needs network.backward(loss.backward()) and then "
         "optimizer.step(network).", np.full(STEPS, reference[0])),
        ("call optimizer.step(network) after network.backward(...): a step taken before it "
         "uses the gradients of the step before (none at the first).",
         _reference_losses(x, y, STEPS, step_first=True)[0][:STEPS]),
        ("record loss.forward(y, out) as it is: it is already the mean over the batch.",
         expected * len(x)),
        ("step with the optimizer given, every time: a new one at each step forgets its state "
         "(Adam's moving averages and step count start over).",
         _reference_losses(x, y, STEPS, new_optimizer=True)[0][:STEPS]),
    ]
    # Tolerances that float32 rounding (x cast by the learner) passes and one Adam step does not.
    if not compare(check, values, expected, "the losses", variants, rtol=1e-6, atol=1e-9,
                   hint="each step: out = network.forward(x); value = loss.forward(y, out); "
                        "network.backward(loss.backward()); optimizer.step(network)."):
        return
    check.ok(f"{STEPS} losses, from {fmt(expected[0])} to {fmt(expected[-1])}, as the "
             "reference loop records them")
    params = [p for _, _, p in net.parameters()]
    untrained = [p for _, _, p in _fresh()[0].parameters()]
    if all(close(p, w, rtol=0, atol=0) for p, w in zip(params, untrained, strict=True)):
        check.stop("the losses are right, but the network given was not changed: its weights are "
                   "those it came with.", "train the network you are given, not a copy of it "
                   "(copy.deepcopy): the caller keeps using it.")
    if not all(close(p, w, rtol=1e-5, atol=1e-8) for p, w in zip(params, weights, strict=True)):
        check.stop(f"the losses are right, but the network's weights after the call differ from "
                   f"those after {STEPS} updates.",
                   "take exactly `steps` optimizer steps, one per recorded loss.")
    check.ok(f"the network ends with the weights of {STEPS} updates")


def check_overfit_one_batch(fn, *, verbose=True):
    """Check the learner's ``overfit_one_batch(network, x, y, loss, optimizer, steps)``, which
    trains ``network`` on the one batch (x, y) for ``steps`` steps (forward, loss, backward,
    ``optimizer.step(network)``) and returns the loss of each step, computed before its update
    (a list or an array). Compared with the same loop on an identical float64 network. Returns
    a CheckResult (truthy when passed) and prints it."""
    check_callable(fn)
    return run_check(getattr(fn, "__name__", "overfit_one_batch"), _overfit_body, fn,
                     verbose=verbose)
