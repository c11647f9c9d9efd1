"""Checker for chapter 12: the learner's scalar autograd, a ``Value`` class.

What the learner's class must offer, and all the check looks at: ``Value(number)``; ``.data``
and ``.grad``; the operators ``+ * - /`` and ``**`` (a number exponent), with plain numbers on
either side (``2 * a``, ``1 - a``); ``-a``; ``.tanh()``; and ``.backward()``, which fills every
node's ``.grad`` with d(output)/d(node). How it stores a node's parents (tuple, set, list, any
name), whether its local backward steps are closures or methods, whether its topological sort is
recursive or iterative: none of that is looked at. Only behaviour is judged.

Each test expression is built twice: from the learner's Values and from ``_Node``, a reference
autograd in this module. The learner's gradients must equal the reference's (the exact
derivatives; tests/test_exercise_graph.py checks them against formulas) and agree with central
differences of the learner's own forward values. ``_Node`` can also make each usual mistake on
purpose (``_MISTAKES``); the hint is that of the mistake whose gradients equal the learner's on
the most expressions, leaving out, among those tied, a mistake that would have got wrong an
expression the learner got right (each remaining one is named). Then backward runs twice on
one graph (grads zeroed in between) and on two graphs in turn: state kept between calls (a
mutable default argument, a visited flag left on the nodes) shows there.

A recursive topological sort is accepted: the graphs checked are at most about 200 nodes deep.
A 5,000-deep chain is tried last; if it hits Python's recursion limit, that is a note, not a
failure.
"""

from __future__ import annotations

import math

import numpy as np

from ._core import check_class, fmt, run_check

EPS = 1e-6  # central differences of smooth expressions of size ~1: error ~1e-10
MODEST_DEPTH, DEEP_DEPTH = 200, 5000
MAX_REPORTED = 3  # wrong expressions described in full; the rest are listed by name

# -- hints ----------------------------------------------------------------------------------------
ACCUMULATE = ("a node used twice receives a gradient from each use: add to it "
              "(`self.grad += ...`), never overwrite it (`self.grad = ...`).")
MUL_CHAIN = ("in __mul__'s backward, multiply the local derivative by out.grad (the chain rule): "
             "`self.grad += other.data * out.grad`.")
MUL_SWAPPED = ("d(a*b)/da = b: `self.grad += other.data * out.grad` and "
               "`other.grad += self.data * out.grad` (each side gets the *other* factor).")
TANH_SQUARE = "tanh'(x) = 1 - tanh(x)**2: with t = tanh(x), the local derivative is 1 - t**2."
TANH_OUTPUT = ("tanh'(x) = 1 - t**2 with t = tanh(x), the output; 1 - x**2 uses the input "
               "instead.")
TANH_CHAIN = "in tanh's backward, multiply 1 - t**2 by out.grad (the chain rule)."
SEED = ("backward must start the output's gradient at 1 (`self.grad = 1.0`: d out/d out = 1) "
        "before it goes through the graph.")
ORDER = ("the local backward steps ran in the wrong order (or only the output's step ran, "
         "which leaves the same gradients as running them leaves first). A node may pass its "
         "gradient on only once every node that uses it has added its share: build a "
         "topological order (each node after its parents), then call the steps in that order "
         "*reversed*, output first.")
TWICE = ("a node's backward step ran more than once: keep a `visited` set so that each node "
         "enters the topological order once. (Gradients also add up like this when backward "
         "runs twice on one graph without the grads set back to 0 in between.)")
STATE = ("backward kept something from an earlier call: a mutable default argument "
         "(`def build(v, visited=set(), topo=[])`), a list on the class, or a 'visited' flag "
         "left on the nodes outlives the call. Create the visited set and the order inside "
         "backward, on every call.")
FREED = ("the second backward() on the same graph reached none of the inputs: the first call "
         "left something that stops it, a 'visited' flag left on the nodes, or a graph taken "
         "apart as it went (emptying _parents or replacing _backward, as PyTorch frees a "
         "graph). Keep the graph as it is, and the visited set inside backward: the check runs "
         "backward twice on one graph.")
SELF_GRAD = ("the chain factor is out.grad, the gradient of the node the operation produced; "
             "self.grad is the input's own gradient, still being summed: "
             "`self.grad += other.data * out.grad`.")
ALL_ZERO = ("every input's gradient is 0. Is the output's gradient 1 before the first backward "
            "step runs (`self.grad = 1.0` first)? Do the steps run output first (reverse "
            "topological order), the output's own step included? Does each step multiply by "
            "out.grad (the gradient of the node it produced), not self.grad, and by the other "
            "factor's value (other.data), not its gradient?")
TANH_TWICE = ("t = tanh(x) is already the output: the local derivative is 1 - t**2, not "
              "1 - tanh(t)**2, which applies tanh a second time.")
SEED_DATA = ("d out/d out = 1: start backward with `self.grad = 1.0`, not with the output's "
             "value (self.data).")
DIVIDES = ("d(a*b)/da = b: use other.data, not out.data / self.data, which divides by zero "
           "when a = 0.")
TANH_ORPHAN = ("tanh's result does not list its input as a parent, so backward never reaches "
               "it: `out = Value(t, (self,), 'tanh')`.")
TANH_ON_INPUT = ("tanh's backward step belongs to its result: `out._backward = _backward`; "
                 "`self._backward = _backward` replaces the input's own step (a sum or product "
                 "then never passes its gradient on).")
TANH_SIGMOID = ("t * (1 - t) is the sigmoid's derivative; tanh's is 1 - t**2, with t = "
                "tanh(x).")
MUL_OUT_DATA = ("the chain factor is out.grad (d output / d out), not out.data, the product's "
                "value: `self.grad += other.data * out.grad`.")
MUL_OTHER_GRAD = ("d(a*b)/da = b's value, other.data; other.grad is b's gradient (0 while "
                  "backward is still running): `self.grad += other.data * out.grad`.")
TANH_PRECEDENCE = ("1 - t**2 * out.grad multiplies only t**2 by out.grad (* binds before -): "
                   "write (1 - t**2) * out.grad.")
MUL_ONE_SIDE = ("a product passes a gradient to both factors: `self.grad += other.data * "
                "out.grad` and `other.grad += self.data * out.grad`.")
RESEED = ("only the output's gradient starts at 1: calling backward() on each parent sets "
          "theirs to 1 again and loses what they had received. backward() runs once, on the "
          "output; it calls every node's _backward step in reverse topological order.")
REUSE = ("the gradients are right where each node is used once and wrong where a node is used "
         "twice: check `+=` in every backward step, that each node is visited once, and that "
         "the steps run in reverse topological order.")


# -- the reference engine -------------------------------------------------------------------------
_MISTAKES = {
    "mul_assign": ACCUMULATE,
    "mul_no_chain": MUL_CHAIN,
    "mul_swapped": MUL_SWAPPED,
    "mul_self_grad": SELF_GRAD,
    "mul_out_data": MUL_OUT_DATA,
    "mul_other_grad": MUL_OTHER_GRAD,
    "mul_one_side": MUL_ONE_SIDE,
    "tanh_assign": ACCUMULATE,
    "tanh_one_minus_t": TANH_SQUARE,
    "tanh_input": TANH_OUTPUT,
    "tanh_no_chain": TANH_CHAIN,
    "tanh_self_grad": SELF_GRAD,
    "tanh_twice": TANH_TWICE,
    "tanh_sigmoid": TANH_SIGMOID,
    "tanh_precedence": TANH_PRECEDENCE,
    "tanh_orphan": TANH_ORPHAN,
    "tanh_on_input": TANH_ON_INPUT,
    "recursive_reseed": RESEED,
    "no_seed": SEED,
    "seed_data": SEED_DATA,
    "forward_order": ORDER,
    "output_only": ORDER,
    "pre_order": ORDER,
    "no_visited": TWICE,
    "naive_recursive": ORDER,
    "breadth_first": ORDER,
}


class _Node:
    """A scalar of the reference autograd; ``mistake`` (a key of _MISTAKES or None) makes it
    compute gradients the way that mistake does."""

    def __init__(self, data, parents=(), mistake=None):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.mistake = mistake
        self.step = lambda: None

    def _wrap(self, other):
        return other if isinstance(other, _Node) else _Node(other, mistake=self.mistake)

    def __add__(self, other):
        other = self._wrap(other)
        out = _Node(self.data + other.data, (self, other), self.mistake)

        def step():
            self.grad += out.grad
            other.grad += out.grad
        out.step = step
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = _Node(self.data * other.data, (self, other), self.mistake)
        mistake = self.mistake

        def step():
            da, db = other.data * out.grad, self.data * out.grad
            if mistake == "mul_no_chain":
                da, db = other.data, self.data
            elif mistake == "mul_swapped":
                da, db = self.data * out.grad, other.data * out.grad
            elif mistake == "mul_self_grad":
                da, db = other.data * self.grad, self.data * other.grad
            elif mistake == "mul_out_data":
                da, db = other.data * out.data, self.data * out.data
            elif mistake == "mul_other_grad":
                da, db = other.grad * out.grad, self.grad * out.grad
            elif mistake == "mul_one_side":
                db = 0.0
            if mistake == "mul_assign":
                self.grad = da
                other.grad = db
            else:
                self.grad += da
                other.grad += db
        out.step = step
        return out

    def __pow__(self, k):
        out = _Node(self.data ** k, (self,), self.mistake)

        def step():
            self.grad += k * self.data ** (k - 1) * out.grad
        out.step = step
        return out

    def tanh(self):
        t = math.tanh(self.data)
        mistake = self.mistake
        out = _Node(t, () if mistake == "tanh_orphan" else (self,), mistake)

        def step():
            local = {"tanh_one_minus_t": 1 - t,
                     "tanh_input": 1 - self.data ** 2,
                     "tanh_twice": 1 - math.tanh(t) ** 2,
                     "tanh_sigmoid": t * (1 - t)}.get(mistake, 1 - t * t)
            share = {"tanh_no_chain": local,
                     "tanh_self_grad": local * self.grad,
                     "tanh_precedence": 1 - t * t * out.grad}.get(mistake, local * out.grad)
            if mistake == "tanh_assign":
                self.grad = share
            else:
                self.grad += share
        if mistake == "tanh_on_input":
            self.step = step
        else:
            out.step = step
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * self._wrap(other) ** -1

    def __rtruediv__(self, other):
        return other * self ** -1

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self):
        mistake = self.mistake
        if mistake != "no_seed":
            self.grad = self.data if mistake == "seed_data" else 1.0
        if mistake == "output_only":
            self.step()
            return
        if mistake == "recursive_reseed":
            # backward() called on every parent: each sets its own gradient to 1 again.
            self.step()
            for parent in self.parents:
                parent.backward()
            return
        if mistake == "pre_order":
            # Each node listed when first reached from the output, before its parents: a node
            # may then pass its gradient on before every node using it has added its share.
            order, seen, stack = [], set(), [self]
            while stack:
                node = stack.pop()
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                    stack.extend(reversed(node.parents))
            for node in order:
                node.step()
            return
        if mistake == "naive_recursive":
            # Each node's step runs once per path from the output: no topological order.
            stack = [self]
            while stack:
                node = stack.pop()
                node.step()
                stack.extend(reversed(node.parents))
            return
        if mistake == "breadth_first":
            order, seen, i = [self], {id(self)}, 0
            while i < len(order):
                for p in order[i].parents:
                    if id(p) not in seen:
                        seen.add(id(p))
                        order.append(p)
                i += 1
            for node in order:
                node.step()
            return
        topo = _topological_order(self, dedupe=mistake != "no_visited")
        for node in (topo if mistake == "forward_order" else reversed(topo)):
            node.step()


def _topological_order(root, dedupe=True):
    """Every node after its parents, by an iterative depth-first search (graphs deeper than
    Python's recursion limit are fine). ``dedupe=False`` lists a node once per path to it."""
    topo, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            topo.append(node)
            continue
        if dedupe:
            if id(node) in seen:
                continue
            seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents))
    return topo


# -- the expressions ------------------------------------------------------------------------------
def _chain(depth):
    def build(a, b):
        x = a
        for _ in range(depth):
            x = (x * 1.01).tanh() + b * 0.01
        return x
    return build


def _unequal_paths(a, b):
    x = a * b
    return x.tanh().tanh() * x


def _inner_reused(a, b):
    c = a * b
    return c + c


def _tanh_and_input(a, b):
    x = a * b
    return x.tanh() + x


def _users_at_two_depths(a, b):
    x = a * b
    return x.tanh() + 2 * x


# (text, names and values of the inputs, the expression, whether a node is used twice)
EXPRESSIONS = [
    ("a * b", {"a": 2.0, "b": -3.0}, lambda a, b: a * b, False),
    ("(a * b + c) * d", {"a": 2.0, "b": -3.0, "c": 10.0, "d": -2.0},
     lambda a, b, c, d: (a * b + c) * d, False),
    ("tanh(a)", {"a": 0.7}, lambda a: a.tanh(), False),
    ("tanh(a * b + c) * d", {"a": 0.5, "b": -1.5, "c": 0.8, "d": -2.0},
     lambda a, b, c, d: (a * b + c).tanh() * d, False),
    ("a * a", {"a": 3.0}, lambda a: a * a, True),
    ("a * b + a", {"a": 2.0, "b": -3.0}, lambda a, b: a * b + a, True),
    ("c + c with c = a * b", {"a": 1.5, "b": -0.5}, _inner_reused, True),
    ("tanh(x) + x with x = a * b", {"a": 0.6, "b": 0.9}, _tanh_and_input, True),
    ("tanh(tanh(x)) * x with x = a * b", {"a": 0.8, "b": 1.1}, _unequal_paths, True),
    # x's users sit at different depths: listed when first reached, x comes before 2 * x.
    ("tanh(x) + 2 * x with x = a * b", {"a": 0.6, "b": -0.7}, _users_at_two_depths, True),
    ("a * b with a = 0", {"a": 0.0, "b": -3.0}, lambda a, b: a * b, False),
    ("2 * a", {"a": 1.5}, lambda a: 2 * a, False),
    ("a * 2 + 1", {"a": 1.5}, lambda a: a * 2 + 1, False),
    ("1 - a", {"a": 1.5}, lambda a: 1 - a, False),
    ("-a * b", {"a": 1.5, "b": 0.5}, lambda a, b: -a * b, False),
    ("a - b", {"a": 1.5, "b": 0.5}, lambda a, b: a - b, False),
    ("a / b", {"a": 1.5, "b": -0.4}, lambda a, b: a / b, False),
    ("3 / b", {"b": -0.4}, lambda b: 3 / b, False),
    ("b ** 3", {"b": -0.4}, lambda b: b ** 3, False),
    (f"a chain {MODEST_DEPTH} deep: x = tanh(1.01 x) + 0.01 b, from x = a",
     {"a": 0.5, "b": 0.3}, _chain(MODEST_DEPTH), True),
]


def _reference(fn, values, mistake=None):
    """(output data, gradients of the inputs) by the reference engine."""
    leaves = [_Node(v, mistake=mistake) for v in values.values()]
    out = fn(*leaves)
    out.backward()
    return out.data, np.array([leaf.grad for leaf in leaves])


# -- running the learner's class ------------------------------------------------------------------
def _error_hint(exc):
    text = str(exc)
    if isinstance(exc, ZeroDivisionError):
        return DIVIDES
    if isinstance(exc, AttributeError) and "'float' object" in text:
        return ("an operation returned a plain number where a Value was needed: tanh (like every "
                "operation) must return a new Value, `out`, with its own backward step.")
    if isinstance(exc, TypeError) and "unsupported operand" in text:
        return ("a Value meets a plain number: the given `other = other if isinstance(other, "
                "Value) else Value(other)` wraps it, and __radd__/__rmul__/__rsub__ handle "
                "`2 * a`, `1 - a`.")
    if isinstance(exc, _DeepGraph):
        return ("a recursive function went deeper than Python's recursion limit: a backward "
                "that calls itself on every parent never stops on a cycle-free graph? Only a "
                "topological sort should walk the graph.")
    return None


class _DeepGraph(RuntimeError):
    """A RecursionError, under another class: _core reports RecursionError with advice about
    layers calling their own forward, which does not fit a Value."""


def _no_recursion_error(fn):
    def call(*args):
        try:
            return fn(*args)
        except RecursionError as exc:
            raise _DeepGraph("maximum recursion depth exceeded").with_traceback(
                exc.__traceback__) from None
    return call


def _learner_graph(check, cls, text, fn, values):
    """(output, inputs) built from the learner's class, or a stop with what went wrong."""
    leaves = [check.run(f"Value({fmt(v)})", cls, v) for v in values.values()]
    out = check.run(f"building {text}", _no_recursion_error(fn), *leaves, hint=_error_hint)
    return out, leaves


def _number(check, value, what):
    try:
        return float(value)
    except (TypeError, ValueError):
        check.stop(f"{what} should be a number, got {type(value).__name__}.",
                   "data and grad hold plain numbers; an operation returns a Value whose .data "
                   "is the result.")


def _forward_value(cls, fn, values):
    """The learner's output data on ``values`` (for finite differences)."""
    out = fn(*(cls(v) for v in values))
    return float(out.data)


def _finite_differences(cls, fn, values):
    xs = list(values.values())
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += EPS
        down[i] -= EPS
        grads.append((_forward_value(cls, fn, up) - _forward_value(cls, fn, down)) / (2 * EPS))
    return np.array(grads)


def _inputs_text(values):
    return ", ".join(f"{name} = {fmt(v)}" for name, v in values.items())


def _judge(check, cls, text, values, fn, reused):
    """Check one expression: None when its value and every input's gradient are right, else
    (problem, the mistakes of _MISTAKES that give the learner's gradients, a hint to give when
    the mistake is not known)."""
    on = f"{text}, with {_inputs_text(values)}"
    out, leaves = _learner_graph(check, cls, text, fn, values)
    expected_data, expected = _reference(fn, values)
    if not hasattr(out, "backward"):
        check.stop(f"{text} gave {type(out).__name__} {out!r}, not a Value.",
                   "every operation (tanh too) must return a new Value, `out`, whose backward "
                   "step knows its parents.")
    data = _number(check, getattr(out, "data", None), f"the .data of {text}")
    # Values holding float32 (np.float32(data)) are right to about 1e-7; finite differences
    # with eps = 1e-6 mean nothing there, so only the exact derivatives are compared.
    narrow = _is_narrow(out.data)
    rtol, atol = _tolerances(out.data)
    if narrow:
        check.note("your Values hold float32 numbers: compared at float32's precision (about "
                   "1e-7); plain Python floats (float64) are exact enough for finite "
                   "differences.")
    if not math.isclose(data, expected_data, rel_tol=rtol, abs_tol=atol):
        hint = ("use math.tanh(x) (or np.tanh) for the forward value." if "tanh" in text
                else None)
        return f"the value of {on} is {fmt(data)}, expected {fmt(expected_data)}.", set(), hint
    check.run(f"backward() on {text}", _no_recursion_error(out.backward), returns=False,
              hint=_error_hint)
    got = np.array([_number(check, getattr(leaf, "grad", None), "a .grad") for leaf in leaves])
    numeric = check.run(f"your forward on {text}, nudged for finite differences",
                        _no_recursion_error(_finite_differences), cls, fn, values,
                        hint=_error_hint)
    if (np.allclose(got, expected, rtol=rtol, atol=atol)
            and (narrow or np.allclose(got, numeric, rtol=1e-5, atol=1e-7))):
        return None

    names = list(values)
    worst = int(np.argmax(np.abs(got - expected)))
    problem = (f"{on}: {names[worst]}.grad is {fmt(got[worst])}, expected "
               f"{fmt(expected[worst])} (exact; central differences of your own forward give "
               f"{fmt(numeric[worst])}).")
    if _number(check, getattr(out, "grad", None), "the output's .grad") == 0 and not got.any():
        return problem, {"no_seed"}, SEED
    # Several mistakes give all zeros (a late seed, forward order, self.grad as the chain
    # factor): such gradients tell nothing apart, and get the hint that names them all.
    matching = {mistake for mistake in _MISTAKES if mistake != "no_seed" and got.any()
                and not (text.startswith("a chain") and mistake == "no_visited")
                and np.allclose(got, _reference(fn, values, mistake)[1], rtol=rtol, atol=atol)}
    fallback = ALL_ZERO if not got.any() else REUSE if reused else None
    return problem, matching, fallback


def _node_graph(cls, values):
    """tanh(a * b + c) with every node kept, for the repeat checks."""
    a, b, c = (cls(v) for v in values)
    ab = a * b
    s = ab + c
    out = s.tanh()
    return out, [a, b, c, ab, s, out]


def _reachable(out, cls):
    """Every node ``out`` was computed from, found through any attribute holding instances of
    ``cls`` (or tuples, lists, sets of them): the learner names the parents as they like, and
    an operation built from others (tanh from exp, say) has nodes the checker never sees."""
    found, stack = {id(out): out}, [out]
    while stack:
        for value in _attributes(stack.pop()):
            items = value if isinstance(value, (tuple, list, set, frozenset)) else (value,)
            for item in items:
                if isinstance(item, cls) and id(item) not in found:
                    found[id(item)] = item
                    stack.append(item)
    return list(found.values())


def _attributes(obj):
    """The values of ``obj``'s attributes, whether kept in a __dict__ or in __slots__."""
    values = list(getattr(obj, "__dict__", {}).values())
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                values.append(getattr(obj, name))
    return values


def _is_narrow(number):
    """True for a float type of less than 64 bits (np.float32, np.float16)."""
    dtype = np.asarray(number).dtype
    return dtype.kind == "f" and dtype.itemsize < 8


def _tolerances(number):
    """(rtol, atol) for gradients of Values holding numbers like ``number``: float32's or
    float64's precision."""
    return (1e-4, 1e-6) if _is_narrow(number) else (1e-7, 1e-10)


def _grads(nodes):
    return np.array([float(node.grad) for node in nodes])


def _repeat(check, cls):
    """backward twice on one graph (grads zeroed between) and on two graphs, one after the other:
    the same gradients each time, and the first graph's left alone by the second's backward."""
    values = (0.4, -1.2, 0.3)
    out, nodes = check.run("building tanh(a * b + c)", _node_graph, cls, values)
    check.run("backward() on tanh(a * b + c)", _no_recursion_error(out.backward), returns=False)
    first = _grads(nodes)
    for node in _reachable(out, cls):
        node.grad = 0.0
    check.run("backward() again", _no_recursion_error(out.backward), returns=False)
    if not np.allclose(_grads(nodes), first, rtol=1e-12, atol=0):
        # Nothing reached the inputs the second time: the first call took the graph apart.
        freed = not _grads(nodes[:3]).any() and first[:3].any()
        check.fail("a second backward() on the same graph, after setting every .grad back to "
                   f"0, gave other gradients (a.grad {fmt(first[0])} the first time, "
                   f"{fmt(nodes[0].grad)} the second).", FREED if freed else STATE)
        return False
    out2, nodes2 = check.run("building a second graph", _node_graph, cls, values)
    check.run("backward() on the second graph", _no_recursion_error(out2.backward),
              returns=False)
    if not np.allclose(_grads(nodes), first, rtol=1e-12, atol=0):
        check.fail("backward() on a second, separate graph changed the gradients of the first "
                   f"one (its a.grad went from {fmt(first[0])} to {fmt(nodes[0].grad)}).", STATE)
        return False
    if not np.allclose(_grads(nodes2), first, rtol=1e-12, atol=0):
        check.fail("backward() on a second graph, equal to the first, gave other gradients "
                   f"(a.grad {fmt(first[0])} the first time, {fmt(nodes2[0].grad)} the second).",
                   STATE)
        return False
    return True


def _deep_chain(check, cls):
    """A 5,000-deep chain: right gradients, or a note if a recursive sort cannot reach them."""
    values = {"a": 0.5, "b": 0.3}
    fn = _chain(DEEP_DEPTH)
    try:
        leaves = [cls(v) for v in values.values()]
        out = fn(*leaves)
        out.backward()
    except RecursionError:
        check.note(f"backward() on a chain {DEEP_DEPTH:,} nodes deep hit Python's recursion "
                   "limit (about 1,000 nested calls): a recursive topological sort is fine for "
                   "the graphs of this chapter, but an explicit stack (see the tutorial) has no "
                   "such limit.")
        return
    expected = _reference(fn, values)[1]
    got = np.array([float(leaf.grad) for leaf in leaves])
    rtol, atol = _tolerances(out.data)
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        check.ok(f"a chain {DEEP_DEPTH:,} nodes deep, deeper than Python's recursion limit")
    else:
        check.fail(f"on a chain {DEEP_DEPTH:,} nodes deep, a.grad is {fmt(got[0])}, expected "
                   f"{fmt(expected[0])}.")


def _contradicted(text, values, fn):
    """The mistakes of _MISTAKES that would have got this expression wrong (the learner got it
    right, so their hint would not fit)."""
    _, expected = _reference(fn, values)
    return {m for m in _MISTAKES if not (text.startswith("a chain") and m == "no_visited")
            and not np.allclose(_reference(fn, values, m)[1], expected, rtol=1e-9, atol=1e-12)}


def _report(check, wrong, right=()):
    """Describe the first wrong expressions and name the rest. The hint is that of the known
    mistake that explains the most of them: one mistake can, on a single expression, give the
    same numbers as another (all zeros, say), but rarely on all of them. Among mistakes that
    explain as many, those that would also have got wrong an expression the learner got right
    (``right``: a set of such mistakes per right expression) are left out."""
    if any(fallback is None for *_, fallback in wrong):
        # Expressions without a reused node are wrong too: "right where each node is used
        # once" would mislead.
        wrong = [(*rest, None if fallback == REUSE else fallback) for *rest, fallback in wrong]
    score = {m: (sum(m in matching for _, _, matching, _ in wrong),
                 -sum(m in contradicted for contradicted in right)) for m in _MISTAKES}
    counts = {m: score[m][0] for m in _MISTAKES}
    best = max(_MISTAKES, key=lambda m: score[m])
    # Mistakes that explain as many expressions give the same numbers there: name them all.
    tied = list(dict.fromkeys(_MISTAKES[m] for m in _MISTAKES if score[m] == score[best]))
    hint = (tied[0] if len(tied) == 1
            else "either " + "; or ".join(h.rstrip(".") for h in tied) + ".")
    for _, problem, matching, fallback in wrong[:MAX_REPORTED]:
        if counts[best] and best in matching:
            check.fail(problem, hint)
        elif counts[best] and fallback != ALL_ZERO:
            check.fail(problem)  # not the known mistake's numbers: a second mistake, or order
        else:
            check.fail(problem, fallback)
    if len(wrong) > MAX_REPORTED:
        check.fail(f"{len(wrong) - MAX_REPORTED} more expressions are wrong too: "
                   + "; ".join(text for text, *_ in wrong[MAX_REPORTED:]) + ".")


def _value_body(check, cls):
    groups, wrong, right = {False: [], True: []}, [], []
    for text, values, fn, reused in EXPRESSIONS:
        problem = _judge(check, cls, text, values, fn, reused)
        if problem is None:
            groups[reused].append(text)
            right.append((text, values, fn))
        else:
            wrong.append((text, *problem))
    if wrong:
        _report(check, wrong, [_contradicted(*expression) for expression in right])
    if groups[False]:
        check.ok("values and gradients, against exact derivatives and finite differences, of "
                 + "; ".join(groups[False]))
    if groups[True]:
        check.ok("nodes used more than once: " + "; ".join(groups[True]))
    if not check.messages and _repeat(check, cls):
        check.ok("backward twice on one graph (grads zeroed in between), and on a second graph "
                 "without touching the first: the same gradients")
    if not check.messages:
        _deep_chain(check, cls)
        text = repr(cls(2.0))
        if "object at 0x" in text:
            check.note("repr(Value(2.0)) is the default "
                       f"{text!r}: a __repr__ showing data and grad helps debugging.")


def check_value(cls, *, verbose=True):
    """Check the learner's scalar autograd class ``cls`` (see the module docstring).

    Parameters
    ----------
    cls : type
        The class: ``cls(number)`` is a leaf; its instances support + * - / ** (also with
        numbers), unary -, ``.tanh()`` and ``.backward()``.
    verbose : bool
        Print the verdict.

    Returns
    -------
    CheckResult
        Truthy when every expression's value and gradients are right.
    """
    check_class(cls)
    return run_check(cls.__name__, _value_body, cls, verbose=verbose)
