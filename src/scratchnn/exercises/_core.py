"""What every checker shares: running the learner's code safely, comparing arrays, the verdict.

A checker body receives a ``Check`` and calls the learner's code through ``check.run``. Any
problem found is recorded with ``check.fail`` (the check goes on) or ``check.stop`` (it cannot
go on). Learner code that raises ``NotImplementedError``, or whose body is still a bare ``pass``,
ends the check as "not implemented yet"; any other exception ends it with a one-line report of
the exception, where it was raised and on what input. Nothing from the learner's code reaches
the notebook as a traceback.
"""

from __future__ import annotations

import dis
import linecache
import os
import re
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..gradient_check import GradcheckResult, gradcheck, numerical_gradient, relative_error

PASSED, FAILED, NOT_IMPLEMENTED = "passed", "failed", "not implemented yet"

_NUMPY_DIR = os.path.dirname(np.__file__)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EMPTY_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST"}


@dataclass
class CheckResult:
    """The verdict of one checker. Truthy exactly when the check passed.

    ``status`` is "passed", "failed" or "not implemented yet"; ``messages`` holds one entry per
    problem found (each with its hint), ``checked`` what was verified, ``notes`` advice that does
    not fail the check.
    """

    name: str
    status: str
    messages: list = field(default_factory=list)
    checked: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return self.status == PASSED

    def __bool__(self):
        return self.passed

    def __str__(self):
        lines = [f"{self.name}: {self.status.upper()}"]
        lines += [f"  ok: {item}" for item in self.checked]
        lines += ["  " + msg.replace("\n", "\n    ") for msg in self.messages]
        lines += ["  note: " + note.replace("\n", "\n    ") for note in self.notes]
        return "\n".join(lines)

    def __repr__(self):
        return f"CheckResult({self.name!r}, status={self.status!r}, {len(self.messages)} messages)"


class _Stop(Exception):
    """Raised inside a checker body to end the check with what has been recorded so far."""


def is_empty_body(fn):
    """True when ``fn``'s body does nothing but return None (``pass``, ``...``, a docstring)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return False
    for ins in dis.get_instructions(code):
        if ins.opname not in _EMPTY_OPS:
            return False
        if ins.opname in ("LOAD_CONST", "RETURN_CONST") and ins.argval is not None:
            # Returning any constant but None (0, "", an array literal) is a real body.
            return False
    return True


def _where(exc):
    """' in LinearLayer.backward, at `dW = x @ grad_z`', from the innermost frame of the
    learner's code: frames of NumPy and of scratchnn itself are skipped (the learner did not
    write them, and scratchnn's own errors already say what is wrong)."""
    frames = [(frame, lineno) for frame, lineno in traceback.walk_tb(exc.__traceback__)
              if not frame.f_code.co_filename.startswith((_NUMPY_DIR, _PACKAGE_DIR))]
    if not frames:
        return ""
    frame, lineno = frames[-1]
    line = linecache.getline(frame.f_code.co_filename, lineno).strip()
    return f" in {frame.f_code.co_qualname}" + (f", at `{line}`" if line else "")


def raised_in_learner_code(exc):
    """True when ``exc`` comes from inside the learner's code, not from the call itself (a
    call that does not fit the learner's signature raises before any of its lines runs)."""
    return bool(_where(exc))


_SIGNATURE = re.compile(r"missing \d+ required (positional|keyword-only) argument"
                        r"|takes \d+ positional arguments? but \d+ (was|were) given"
                        r"|takes from \d+ to \d+ positional arguments but \d+ were given")


def _generic_hint(exc):
    text = str(exc)
    if isinstance(exc, TypeError) and _SIGNATURE.search(text) and not _where(exc):
        return ("the check calls your code with the arguments of the exercise's signature "
                "(the def line of the exercise cell): keep its parameters, in that order, and "
                "give any parameter of your own a default value.")
    keyword = re.search(r"unexpected keyword argument '(\w+)'", text)
    # Only when the call itself failed (no frame of the learner's code): a NumPy function
    # given a wrong keyword inside it (np.sum(x, keepdim=True)) says the same words.
    if isinstance(exc, TypeError) and keyword and not _where(exc):
        return (f"the check calls your code with {keyword.group(1)}=... as the exercise's "
                f"signature names it: keep that parameter name ({keyword.group(1)}).")
    if isinstance(exc, OverflowError):
        return ("math.exp (or a Python float) overflows past e^709 and raises; NumPy's np.exp "
                "works on the whole array, and a formula whose exponent is never large "
                "(np.exp(-np.abs(x))) does not overflow at all.")
    if isinstance(exc, TypeError) and "unhashable type" in text:
        return ("a NumPy array cannot be a dict key or pass through functools.lru_cache / "
                "functools.cache (it is mutable, so unhashable): compute the result from the "
                "array each time, or key a cache by x.tobytes().")
    if "truth value of an array" in text:
        return ("`if x > 0` or Python's max/min compare a whole array at once; use NumPy's "
                "elementwise np.maximum, np.where or a boolean mask (x > 0) instead.")
    if "matmul" in text or ("shapes" in text and "not aligned" in text):
        return "a matrix product has mismatched shapes: check which side needs a transpose (.T)."
    if "broadcast" in text:
        shapes = _shapes_in(text)
        if len(shapes) == 2 and _one_axis_dropped(*shapes):
            return ("two arrays of incompatible shapes were combined; a sum or mean over an axis "
                    "needs keepdims=True to broadcast back against the array it came from.")
        return (f"two arrays of incompatible shapes{_listed(shapes)} were combined: check where "
                "each one comes from, and that it belongs to the array it is combined with.")
    return None


def _shapes_in(text):
    """The shapes written as (3,4) or (5,) in a NumPy error message."""
    return [tuple(int(n) for n in group.split(",") if n.strip())
            for group in re.findall(r"\(([\d, ]*\d[\d, ]*)\)", text)]


def _one_axis_dropped(a, b):
    """True when one shape is the other without one of its axes: the mark of a reduction
    (x.sum(axis=1) is (5,) for x (5, 3)) that needed keepdims=True."""
    short, long = sorted((a, b), key=len)
    return len(long) == len(short) + 1 and any(
        long[:i] + long[i + 1:] == short for i in range(len(long)))


def _listed(shapes):
    return " " + " and ".join(str(s) for s in shapes) if shapes else ""


class Check:
    """The state of one running check: what passed, the problems found, advice."""

    def __init__(self, name):
        self.name = name
        self.messages = []
        self._hints = set()
        self._problems = set()
        self.checked = []
        self.notes = []
        self.status = None
        self.warnings = []
        # compare's tolerances: float64's, unless the learner's code computes in float32.
        self.rtol, self.atol = 1e-5, 1e-7
        self.narrow = None

    def low_precision(self, dtype, what):
        """The learner's code computes in ``dtype`` (float32, float16): compare from now on at
        that precision, and say so once (its rounding is not a wrong formula)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f" or dtype.itemsize >= 8 or self.narrow is not None:
            return
        self.narrow = dtype
        resolution = float(np.finfo(dtype).resolution)
        # 100 steps of float32's last digit (1e-4); float16's would be 10%, which lets a
        # gradient off by a factor of 1.1 through: a right float16 value is off by a few
        # 1e-3, so 2% is its ceiling.
        self.rtol = max(self.rtol, min(100 * resolution, 2e-2))
        self.atol = max(self.atol, 10 * resolution)
        self.note(f"{what} computes in {dtype.name}, which keeps about "
                  f"{np.finfo(dtype).precision} digits: values are compared at that precision. "
                  "Build it in float64 (np.float64 arrays, no .astype(np.float32)) for the exact "
                  "check.")

    # -- recording --------------------------------------------------------------------------------
    def ok(self, what):
        self.checked.append(what)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def fail(self, problem, hint=None):
        """Record a problem (once, however often it is found; its hint only the first time it
        is given); the check goes on."""
        if problem in self._problems:
            return
        self._problems.add(problem)
        message = problem + (f"\nHint: {hint}" if hint and hint not in self._hints else "")
        self._hints.add(hint)
        self.messages.append(message)

    def stop(self, problem, hint=None):
        """Record a problem and end the check."""
        self.fail(problem, hint)
        raise _Stop

    def not_implemented(self, text):
        self.status = NOT_IMPLEMENTED
        self.messages.append(text)
        raise _Stop

    def expect(self, problem, hint=None, *, fatal=False):
        """``fail`` (or ``stop`` when fatal) if there is a problem; True when there was none."""
        if problem is None:
            return True
        (self.stop if fatal else self.fail)(problem, hint)
        return False

    # -- running the learner's code ---------------------------------------------------------------
    def run(self, what, fn, *args, returns=True, hint=None, **kwargs):
        """``fn(*args, **kwargs)``, the learner's code, described as ``what`` in messages.

        Ends the check when it raises (NotImplementedError: not implemented yet) or, with
        ``returns=True``, when it returns None. ``hint(exc)`` may turn an exception into advice.
        NumPy warnings raised meanwhile are kept in ``self.warnings`` instead of being shown.
        """
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
            warnings.simplefilter("always")
            try:
                out = fn(*args, **kwargs)
            except NotImplementedError as exc:
                self.not_implemented(
                    f"{what} raised NotImplementedError{_where(exc)}. Fill in its `# Code here` "
                    "part, then run this check again."
                )
            except RecursionError as exc:
                self.stop(f"{what} raised RecursionError{_where(exc)}.",
                          "a function calls itself without end: inside forward, call another "
                          "object's forward, not self.forward.")
            except Exception as exc:  # noqa: BLE001 -- any error in learner code is reported
                advice = (hint(exc) if hint else None) or _generic_hint(exc)
                text = str(exc).rstrip(".") or "(no message)"
                self.stop(f"{what} raised {type(exc).__name__}{_where(exc)}: {text}.", advice)
        self.warnings = [str(w.message) for w in caught]
        if out is None and returns:
            self.returned_none(what, fn)
        return out

    def returned_none(self, what, fn):
        """End the check because ``fn`` gave None where a value was needed."""
        if is_empty_body(fn):
            self.not_implemented(f"{what}: the body is still empty (it returns None).")
        self.stop(f"{what} returned None.", "is a `return` statement missing?")

    def result(self):
        status = self.status or (FAILED if self.messages else PASSED)
        return CheckResult(self.name, status, self.messages, self.checked, self.notes)


def check_callable(fn, name="fn", what="function"):
    """A TypeError unless ``fn`` (the checker's argument ``name``, the ``what`` the learner wrote;
    not learner output) can be called."""
    if not callable(fn):
        raise TypeError(f"{name} must be the {what} you wrote, got {type(fn).__name__}.")


def check_class(cls):
    if not isinstance(cls, type):
        raise TypeError(f"pass the class you wrote (not an instance), got {cls!r}.")


def check_kind(kind, choices):
    if kind not in choices:
        raise ValueError(f"kind must be one of {sorted(choices)}, got {kind!r}.")


def run_check(name, body, *args, verbose=True, **kwargs):
    """Run ``body(check, *args, **kwargs)`` and return (and print, if verbose) the verdict."""
    check = Check(name)
    try:
        body(check, *args, **kwargs)
    except _Stop:
        pass
    result = check.result()
    if verbose:
        # Printing is the point of a checker: the verdict is what the learner reads.
        print(result)
    return result


# -- comparing arrays -----------------------------------------------------------------------------
def fmt(value):
    return f"{float(value) + 0.0:.6g}"  # + 0.0 turns -0.0 into 0.0


def kind_of(value):
    """'tuple', or 'an array of complex128' for an array whose entries are not real numbers."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, np.ndarray) and dtype is not None:
        return f"an array of {dtype}"
    return type(value).__name__


def describe(x):
    """'array of shape (5, 4)' / 'the number 0.5', for messages."""
    arr = np.asarray(x)
    return f"the number {fmt(arr)}" if arr.ndim == 0 else f"an array of shape {arr.shape}"


def as_numbers(value):
    """``value`` as a float64 array, or None when it is not an array of numbers."""
    if value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 -- ragged lists and odd objects are just "not numbers"
        return None
    if arr.dtype.kind == "O":
        # np.frompyfunc and lists of Python floats built by hand give object arrays of numbers.
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError):
            return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr.astype(np.float64)


def close(got, expected, rtol=1e-5, atol=1e-7):
    """True when ``got`` is an array of numbers of ``expected``'s shape and values."""
    g = as_numbers(got)
    e = np.asarray(expected, dtype=np.float64)
    return g is not None and g.shape == e.shape and bool(np.allclose(g, e, rtol=rtol, atol=atol))


def mismatch(got, expected, what, *, inputs=None, input_name="x", on=None, rtol=1e-5, atol=1e-7):
    """None when ``got`` matches ``expected``, otherwise a sentence saying how it differs:
    its type, its shape, or the worst entry with expected and got values (and the input there,
    for elementwise functions). ``on`` names the input the learner's code was given."""
    text = _mismatch(got, expected, what, inputs, input_name, rtol, atol)
    return text if text is None or on is None else f"{text[:-1]} (on {on})."


def _mismatch(got, expected, what, inputs, input_name, rtol, atol):
    e = np.asarray(expected, dtype=np.float64)
    if got is None:
        return f"{what} is None, expected {describe(e)}."
    g = as_numbers(got)
    if g is None:
        return f"{what} should be an array of numbers, got {kind_of(got)}."
    if g.shape != e.shape:
        if g.size == 1 and e.size > 1:
            return f"{what} is a single number ({fmt(g.ravel()[0])}), expected shape {e.shape}."
        return f"{what} has shape {g.shape}, expected {e.shape}."
    bad = ~np.isclose(g, e, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    err = np.where(np.isfinite(g), np.abs(g - e), np.inf)
    idx = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), e.shape)
    at = f"[{', '.join(str(int(i)) for i in idx)}]" if e.ndim else ""
    where = ""
    if inputs is not None and np.shape(inputs) == e.shape:
        where = f" (where {input_name}{at} = {fmt(np.asarray(inputs)[idx])})"
    count = f"; {int(bad.sum())} of {e.size} entries differ" if e.size > 1 else ""
    return f"{what}{at}: expected {fmt(e[idx])}, got {fmt(g[idx])}{where}{count}."


def first_match(got, variants, rtol=1e-5, atol=1e-7):
    """The hint of the first (hint, array) variant that ``got`` equals, else None.

    Each variant is what a typical wrong answer computes; a match names the mistake exactly.
    """
    for hint, candidate in variants:
        if candidate is not None and close(got, candidate, rtol=rtol, atol=atol):
            return hint
    return None


def compare(check, got, expected, what, variants=(), *, hint=None, fatal=False, **kwargs):
    """Record a failure unless ``got`` matches ``expected``; its hint is that of the variant
    ``got`` matches, else ``hint``. Returns True when it matched. The tolerances are the
    check's (float64's, or float32's after ``check.low_precision``) unless given."""
    kwargs.setdefault("rtol", check.rtol)
    kwargs.setdefault("atol", check.atol)
    problem = mismatch(got, expected, what, **kwargs)
    if problem is None:
        return True
    match = first_match(got, variants, rtol=kwargs["rtol"], atol=kwargs["atol"])
    check.expect(problem, match or hint or extra_items_hint(got, expected, kwargs)
                 or reshaped_hint(got, expected, kwargs) or _tensor_hint(got), fatal=fatal)
    return False


def extra_items_hint(got, expected, tolerances):
    """A tuple or list of a few items, one of which is the answer: more was returned."""
    if not isinstance(got, (tuple, list)) or not 2 <= len(got) <= 10:
        return None
    for i, item in enumerate(got):
        if close(item, expected, tolerances["rtol"], tolerances["atol"]):
            return (f"this returned a {type(got).__name__} of {len(got)} items, and item {i} is "
                    "the right answer: return only that one.")
    return None


def _tensor_hint(got):
    """A PyTorch tensor that NumPy cannot read (it requires grad)."""
    if type(got).__name__ == "Tensor" and getattr(got, "requires_grad", False):
        return ("this is a torch tensor that requires grad, which NumPy cannot read: return a "
                "NumPy array (t.detach().numpy()), or compute with NumPy as the exercise does.")
    return None


def reshaped_hint(got, expected, tolerances):
    """The right numbers in another shape (flattened, an extra axis of length 1): say so, so
    that the learner does not look for a wrong formula."""
    g, e = as_numbers(got), np.asarray(expected, dtype=np.float64)
    if g is None or g.shape == e.shape or g.size != e.size or e.size < 2:
        return None
    if not np.allclose(g.reshape(e.shape), e, rtol=tolerances["rtol"], atol=tolerances["atol"]):
        return None
    return (f"the numbers are right, in an array of shape {g.shape}: return shape {e.shape} "
            "(look for a .ravel(), a reshape, np.atleast_2d or an added axis).")


def unchanged(check, before, after, what, hint):
    """Fail when the learner's code changed an argument it was given (``before`` is a copy)."""
    if not close(after, before, rtol=0, atol=0):
        check.fail(f"{what} was changed in place.", hint)


def random_array(shape, seed, scale=1.0):
    return np.random.default_rng(seed).normal(0.0, scale, size=shape)


def narrowest_float(*arrays):
    """The least precise float dtype among ``arrays`` (anything array-like; others ignored),
    float64 when there is none narrower."""
    narrow = np.dtype(np.float64)
    for arr in arrays:
        dtype = getattr(arr, "dtype", None)
        if dtype is not None and not isinstance(dtype, np.dtype):
            # Another library's array (a torch.Tensor has a torch.dtype): NumPy's view of it.
            try:
                dtype = np.asarray(arr).dtype
            except Exception:  # noqa: BLE001 -- not convertible: it has no float dtype to read
                continue
        if dtype is not None and dtype.kind == "f" and dtype.itemsize < narrow.itemsize:
            narrow = dtype
    return narrow


# -- finite differences ---------------------------------------------------------------------------
def finite_difference_check(check, model, x, *, what, blame):
    """Check ``model.backward`` (dL/dx and every ``grads[name]``) against finite differences at
    x and record the verdict; ``blame`` is the hint when they disagree.

    In float64 this is scratchnn's ``gradcheck`` (error ~1e-10 for a right formula). When the
    check found the learner's code computing in float32 or float16 (``check.narrow``),
    differences of a 1e-6 step drown in rounding, so ``rough_gradcheck`` takes steps and a
    tolerance sized for that dtype: a right formula then passes and a wrong one (off by a
    factor, a sign, a term) still fails.
    """
    narrow = check.narrow
    if narrow is None:
        result = check.run("the finite-difference gradient check", gradcheck, model, x)
    else:
        result = check.run(f"the finite-difference gradient check (in {narrow.name})",
                           rough_gradcheck, model, x, dtype=narrow)
    if result.passed:
        check.ok(f"finite-difference gradient check of {what} (largest relative error "
                 f"{result.worst:.1e}" + (f", at {narrow.name}'s precision)" if narrow else ")"))
        return True
    check.fail(f"the finite-difference gradient check of {what} failed:\n{result}",
               blame + (f" (This is not {narrow.name} rounding: steps and tolerance were sized "
                        f"for {narrow.name}.)" if narrow else ""))
    return False


def rough_gradcheck(model, x, dtype=np.float32, rng=0):
    """``gradcheck`` for a model that computes in ``dtype`` (float32, float16): central
    differences with steps and a tolerance sized for its precision (``rough_steps``), through
    ``numerical_gradient``, which divides each difference by the step its array really took.
    x is first rounded to ``dtype``, so that x +- eps, a power of two for float16, is exact
    there too."""
    eps, rtol = rough_steps(dtype)
    x = np.array(x, dtype=np.float64)
    if np.dtype(dtype).itemsize < x.itemsize:
        x = x.astype(dtype).astype(np.float64)
    params = dict(getattr(model, "params", None) or {})
    weights = np.random.default_rng(rng).normal(size=np.shape(model.forward(x)))

    def loss():
        return float(np.sum(np.asarray(model.forward(x), dtype=np.float64) * weights))

    loss()
    analytic = {"x": model.backward(weights.copy())}
    analytic.update(getattr(model, "grads", None) or {})
    result = GradcheckResult(rtol=rtol)
    for name, arr in {"x": x, **params}.items():
        if name not in analytic:
            raise ValueError(f"the layer has a parameter {name!r} but no gradient of that name.")
        result.errors[name] = relative_error(np.array(analytic[name], dtype=np.float64),
                                             numerical_gradient(loss, arr, eps))
    return result


def rough_steps(dtype):
    """(step, rtol) of the finite differences for a model computing in ``dtype``.

    Rounding moves f by about machine eps, so its difference over a step h is off by eps / h,
    and the truncation error of central differences grows as h^2: h of order sqrt(eps) keeps
    both small. float32 keeps a step of 1e-3 judged at 1e-2; float16 (eps ~1e-3) gets
    h = 2^-5, judged at 50 eps ~ 5e-2 (relative errors are ||a - n|| / (||a|| + ||n||): a
    gradient off by a factor of 1.2 or more still fails).
    """
    machine = float(np.finfo(dtype).eps)
    step = max(1e-3, 2.0 ** float(np.round(np.log2(np.sqrt(machine)))))
    return step, max(1e-2, 50 * machine)

