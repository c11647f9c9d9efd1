"""check_value, the checker of chapter 12's scalar autograd: the worked solution and correct but
unusual classes pass, the notebook's blank scaffold is "not implemented yet", and each usual
mistake fails with the hint that names it."""

from __future__ import annotations

import inspect
import itertools
import math
import re
import textwrap

import exercise_solutions_graph as sol
import numpy as np
import pytest
import verdicts
from chapters import graph as chapter
from verdicts import assert_passes

from scratchnn.exercises.graph import (
    ACCUMULATE,
    ALL_ZERO,
    EXPRESSIONS,
    MUL_CHAIN,
    MUL_SWAPPED,
    ORDER,
    REUSE,
    SEED,
    STATE,
    TANH_CHAIN,
    TANH_OUTPUT,
    TANH_SQUARE,
    TWICE,
    _reference,
    check_value,
)

SOLUTION = inspect.getsource(sol.Value)


def define(source):
    """The class ``Value`` that ``source`` defines, in a namespace like the notebook's."""
    namespace = {"math": math, "np": np, "itertools": itertools}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 -- test code written in this file
    return namespace["Value"]


def mutate(*replacements, source=SOLUTION):
    """The worked solution with each (old, new) replaced once; old must be there."""
    for old, new in replacements:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return define(source)


def verdict(result):
    return verdicts.verdict(result, notes=True)


def assert_fails_with(result, *fragments):
    verdicts.assert_fails_with(result, *fragments, notes=True)


# -- the reference engine is right ----------------------------------------------------------------
EXACT = {  # d/d(inputs) by hand, for every expression the checker builds
    "a * b": lambda a, b: [b, a],
    "(a * b + c) * d": lambda a, b, c, d: [b * d, a * d, d, a * b + c],
    "tanh(a)": lambda a: [1 - math.tanh(a) ** 2],
    "a * a": lambda a: [2 * a],
    "a * b + a": lambda a, b: [b + 1, a],
    "c + c with c = a * b": lambda a, b: [2 * b, 2 * a],
    "2 * a": lambda a: [2.0],
    "1 - a": lambda a: [-1.0],
    "a / b": lambda a, b: [1 / b, -a / b**2],
    "3 / b": lambda b: [-3 / b**2],
    "b ** 3": lambda b: [3 * b**2],
}


def test_reference_gradients_are_the_exact_derivatives_and_agree_with_finite_differences():
    for text, values, fn, _ in EXPRESSIONS:
        _, grads = _reference(fn, values)
        if text in EXACT:
            assert np.allclose(grads, EXACT[text](*values.values()), rtol=1e-12), text
        xs = list(values.values())
        for i in range(len(xs)):
            up, down = list(xs), list(xs)
            up[i] += 1e-6
            down[i] -= 1e-6
            numeric = (_reference(fn, dict(zip(values, up, strict=True)))[0]
                       - _reference(fn, dict(zip(values, down, strict=True)))[0]) / 2e-6
            assert math.isclose(grads[i], numeric, rel_tol=1e-6, abs_tol=1e-9), (text, i)


# -- right answers pass ---------------------------------------------------------------------------
def test_worked_solution_passes_and_says_what_it_checked(capsys):
    result = check_value(sol.Value)
    assert_passes(result)
    printed = capsys.readouterr().out
    assert printed.startswith("Value: PASSED")
    assert "a * a" in printed and "5,000 nodes deep" in printed


def test_the_notebook_scaffold_is_not_implemented_yet_until_each_blank_is_filled():
    (cell,) = [c for c in chapter.EXERCISES if "exercise-Value" in c.metadata.get("tags", [])]
    scaffold = cell.source
    assert check_value(define(scaffold), verbose=False).status == "not implemented yet"
    filled_mul = scaffold.replace(
        "            # Code here\n            raise NotImplementedError",
        "            self.grad += other.data * out.grad\n"
        "            other.grad += self.data * out.grad", 1)
    # __mul__ filled, tanh and backward still blank: still not implemented, without a crash.
    assert filled_mul != scaffold
    assert check_value(define(filled_mul), verbose=False).status == "not implemented yet"


RECURSIVE_SORT = '''
    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._parents:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
'''

KAHN_SORT = '''
    def backward(self):
        # Kahn's algorithm: a node is ready when every node that uses it has been processed.
        users, seen, stack = {}, {id(self)}, [self]
        nodes = [self]
        while stack:
            node = stack.pop()
            for p in node._parents:
                users[id(p)] = users.get(id(p), 0) + 1
                if id(p) not in seen:
                    seen.add(id(p))
                    nodes.append(p)
                    stack.append(p)
        self.grad = 1.0
        ready = [self]
        while ready:
            node = ready.pop()
            node._backward()
            for p in node._parents:
                users[id(p)] -= 1
                if users[id(p)] == 0:
                    ready.append(p)
'''

ZERO_FIRST = '''
    def backward(self, seed=1.0):
        order, seen, todo = [], set(), [(self, iter(self._parents))]
        seen.add(id(self))
        while todo:  # depth-first with an iterator per node: a node is listed after its parents
            node, parents = todo[-1]
            parent = next(parents, None)
            if parent is None:
                order.append(node)
                todo.pop()
            elif id(parent) not in seen:
                seen.add(id(parent))
                todo.append((parent, iter(parent._parents)))
        for node in order:
            node.grad = 0.0
        self.grad = seed
        for node in reversed(order):
            node._backward()
'''

METHODS = '''
class Value:
    # Parents kept in a set and a list, derivatives by method and operation name, no closures.
    def __init__(self, data, parents=(), op=""):
        self.data = np.float64(data)
        self.grad = 0
        self._prev = set(parents)
        self._args = list(parents)
        self._op = op

    def _wrap(self, other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._wrap(other)
        return Value(self.data + other.data, [self, other], "+")

    def __mul__(self, other):
        other = self._wrap(other)
        return Value(self.data * other.data, [self, other], "*")

    def __pow__(self, k):
        out = Value(self.data ** k, [self], "**")
        out.k = k
        return out

    def tanh(self):
        e = math.exp(2 * self.data)  # (e^2x - 1) / (e^2x + 1)
        return Value((e - 1) / (e + 1), [self], "tanh")

    def _step(self):
        if self._op == "+":
            for arg in self._args:
                arg.grad = arg.grad + self.grad
        elif self._op == "*":
            a, b = self._args
            a.grad = a.grad + b.data * self.grad
            b.grad = b.grad + a.data * self.grad
        elif self._op == "**":
            (a,) = self._args
            a.grad = a.grad + self.k * a.data ** (self.k - 1) * self.grad
        elif self._op == "tanh":
            (a,) = self._args
            a.grad = a.grad + (1 - self.data * self.data) * self.grad

    def backward(self):
        topo, seen = [], set()

        def visit(node):
            if node in seen:
                return
            seen.add(node)
            for p in node._prev:
                visit(p)
            topo.append(node)
        visit(self)
        self.grad = 1
        for node in topo[::-1]:
            node._step()

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
'''

TANH_COMPOSED = '''
    def tanh(self):
        # Built from the other operations: 1 - 2 / (e^2x + 1), with e^2x as a given constant's
        # power would lose the graph, so the exponential is a node of its own.
        e = Value(math.exp(2 * self.data), (self,), "exp2x")

        def _backward():
            self.grad += 2 * e.data * e.grad
        e._backward = _backward
        return 1 - 2 / (e + 1)
'''


@pytest.mark.parametrize("make", [
    pytest.param(lambda: mutate(("    def backward(self):", RECURSIVE_SORT + "\n    def _old(self):"
                                 )), id="recursive-topological-sort"),
    pytest.param(lambda: mutate(("    def backward(self):", KAHN_SORT + "\n    def _old(self):")),
                 id="kahn-algorithm"),
    pytest.param(lambda: mutate(("    def backward(self):", ZERO_FIRST + "\n    def _old(self):")),
                 id="zeroes-the-graph-first-and-takes-a-seed"),
    pytest.param(lambda: mutate(("    def tanh(self):", TANH_COMPOSED + "\n    def _old(self):")),
                 id="tanh-composed-of-other-nodes"),
    pytest.param(lambda: define(METHODS), id="methods-sets-lists-numpy-floats"),
    pytest.param(lambda: mutate(("self._parents = parents", "self._parents = list(parents)"),
                                ("self.grad = 1.0", "self.grad += 1.0"),
                                ("(1 - t**2) * out.grad", "out.grad * (1 - out.data * out.data)"),
                                ("self.grad += other.data * out.grad\n",
                                 "self.grad = self.grad + out.grad * other.data\n")),
                 id="list-parents-seed-added-tanh-from-out-data"),
])
def test_correct_but_unusual_classes_pass(make):
    assert_passes(check_value(make(), verbose=False))


CREATION_ORDER = '''
    _created = itertools.count()  # every Value numbered as it is made: parents come first

    def backward(self):
        nodes, stack = {self}, [self]
        while stack:
            for parent in stack.pop()._parents:
                if parent not in nodes:
                    nodes.add(parent)
                    stack.append(parent)
        self.grad = 1.0
        for node in sorted(nodes, key=lambda node: node._number, reverse=True):
            node._backward()
'''


@pytest.mark.parametrize("make", [
    pytest.param(lambda: mutate(replace_backward(CREATION_ORDER),
                                ("        self._op = op\n", "        self._op = op\n"
                                 "        self._number = next(Value._created)\n")),
                 id="sorted-by-creation-number"),
    pytest.param(lambda: mutate(("(1 - t**2) * out.grad", "out.grad / math.cosh(self.data) ** 2")),
                 id="tanh-derivative-as-sech-squared"),
    pytest.param(lambda: mutate(replace_backward(MEMOISED_ORDER)), id="order-memoised"),
    pytest.param(lambda: mutate(("    def backward(self):", EQUALITY_BY_DATA)),
                 id="eq-by-data-hash-by-id"),
    pytest.param(lambda: mutate(("t = math.tanh(self.data)",
                                 "t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) "
                                 "+ 1)"), ("self.grad = 1.0", "self.grad = 1")),
                 id="tanh-from-exp-integer-seed"),
])
def test_more_correct_but_unusual_classes_pass(make):
    assert_passes(check_value(make(), verbose=False))


def test_float32_values_pass_at_float32_precision_with_a_note():
    result = check_value(mutate(("self.data = data", "self.data = np.float32(data)"),
                                ("t = math.tanh(self.data)", "t = np.tanh(self.data)")),
                         verbose=False)
    assert_passes(result)
    assert "float32" in verdict(result)


def test_a_class_with_slots_passes():
    slotted = mutate(('    """A number that remembers how it was computed, and its gradient '
                      'd(output)/d(self)."""\n',
                      '    __slots__ = ("data", "grad", "_parents", "_op", "_backward")\n'))
    assert not hasattr(slotted(1.0), "__dict__")
    assert_passes(check_value(slotted, verbose=False))


def test_a_recursive_sort_passes_with_a_note_about_the_recursion_limit():
    result = check_value(mutate(("    def backward(self):",
                                 RECURSIVE_SORT + "\n    def _old(self):")), verbose=False)
    assert_passes(result)
    assert "recursion limit" in verdict(result) and "explicit stack" in verdict(result)
    # The worked solution's iterative sort gets no such note.
    assert not check_value(sol.Value, verbose=False).notes


# -- each usual mistake fails, with its hint ------------------------------------------------------
MUL_BACKWARD = ("self.grad += other.data * out.grad\n            "
                "other.grad += self.data * out.grad")
TANH_BACKWARD = "self.grad += (1 - t**2) * out.grad"

NO_VISITED = '''
    def backward(self):
        topo = []

        def build(v):
            for child in v._parents:
                build(child)
            topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
'''

NAIVE_RECURSIVE = '''
    def backward(self):
        self.grad = 1.0
        self._propagate()

    def _propagate(self):
        self._backward()
        for parent in self._parents:
            parent._propagate()
'''

BREADTH_FIRST = '''
    def backward(self):
        self.grad = 1.0
        queue, seen = [self], {self}
        for node in queue:
            node._backward()
            for parent in node._parents:
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
'''

MUTABLE_DEFAULTS = '''
    def backward(self):
        self.grad = 1.0
        for v in reversed(self._build()):
            v._backward()

    def _build(self, visited=set(), topo=[]):
        if self not in visited:
            visited.add(self)
            for child in self._parents:
                child._build(visited, topo)
            topo.append(self)
        return topo
'''

VISITED_FLAG = '''
    def backward(self):
        topo = []

        def build(v):
            if not getattr(v, "seen", False):
                v.seen = True
                for child in v._parents:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
'''


PRE_ORDER = '''
    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                topo.append(v)  # before its parents: each node after *one* of its users only
                for child in v._parents:
                    build(child)
        build(self)
        self.grad = 1.0
        for v in topo:
            v._backward()
'''

OUTPUT_STEP_ONLY = '''
    def backward(self):
        self.grad = 1.0
        self._backward()
'''

MEMOISED_ORDER = '''
    def backward(self):
        # The order is sorted once per output and kept on it: right for every later call.
        if not hasattr(self, "_topo"):
            topo, visited, stack = [], set(), [(self, False)]
            while stack:
                node, done = stack.pop()
                if done:
                    topo.append(node)
                elif node not in visited:
                    visited.add(node)
                    stack.append((node, True))
                    stack.extend((p, False) for p in node._parents)
            self._topo = topo
        self.grad = 1.0
        for node in reversed(self._topo):
            node._backward()
'''

EQUALITY_BY_DATA = '''
    def __eq__(self, other):
        return isinstance(other, Value) and self.data == other.data

    def __hash__(self):
        return id(self)

    def backward(self):'''


FREES_THE_GRAPH = '''
    def backward(self):
        topo, visited, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((p, False) for p in node._parents)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
            node._backward = lambda: None  # the graph freed as it goes, as PyTorch does
'''


RESEEDS_EVERY_NODE = '''
    def backward(self):
        self.grad = 1.0  # right for the output only: every parent's backward() resets its grad
        self._backward()
        for parent in self._parents:
            parent.backward()
'''


def replace_backward(source):
    return ("    def backward(self):", source + "\n    def _old(self):")


@pytest.mark.parametrize(("replacements", "hint"), [
    pytest.param([(MUL_BACKWARD, MUL_BACKWARD.replace("+=", "="))], ACCUMULATE,
                 id="mul-assigns-instead-of-accumulating"),
    pytest.param([(MUL_BACKWARD, MUL_BACKWARD.replace(" * out.grad", ""))], MUL_CHAIN,
                 id="mul-without-out-grad"),
    pytest.param([(MUL_BACKWARD, "self.grad += self.data * out.grad\n            "
                                 "other.grad += other.data * out.grad")], MUL_SWAPPED,
                 id="mul-factors-swapped"),
    pytest.param([(TANH_BACKWARD, "self.grad += (1 - t) * out.grad")], TANH_SQUARE,
                 id="tanh-derivative-1-minus-t"),
    pytest.param([(TANH_BACKWARD, "self.grad += (1 - self.data**2) * out.grad")], TANH_OUTPUT,
                 id="tanh-derivative-from-the-input"),
    pytest.param([(TANH_BACKWARD, "self.grad += 1 - t**2")], TANH_CHAIN,
                 id="tanh-without-out-grad"),
    pytest.param([(TANH_BACKWARD, "self.grad = (1 - t**2) * out.grad")], ACCUMULATE,
                 id="tanh-assigns-instead-of-accumulating"),
    pytest.param([(MUL_BACKWARD, MUL_BACKWARD.replace("* out.grad", "* self.grad", 1)
                   .replace("* out.grad", "* other.grad"))], "not self.grad",
                 id="mul-chain-factor-from-its-own-grad"),
    pytest.param([(TANH_BACKWARD, "self.grad += (1 - t**2) * self.grad")], "not self.grad",
                 id="tanh-chain-factor-from-its-own-grad"),
    pytest.param([("        self.grad = 1.0\n        for node in reversed(topo):\n"
                   "            node._backward()\n",
                   "        for node in reversed(topo):\n            node._backward()\n"
                   "        self.grad = 1.0\n")], ALL_ZERO, id="seed-set-after-the-steps"),
    pytest.param([("for node in reversed(topo):", "for node in reversed(topo[:-1]):")],
                 ALL_ZERO, id="output-step-left-out"),
    pytest.param([("        self.grad = 1.0\n", "")], SEED, id="no-seed"),
    pytest.param([("for node in reversed(topo):", "for node in topo:")], ORDER,
                 id="topological-order-not-reversed"),
    pytest.param([replace_backward(NO_VISITED)], TWICE, id="no-visited-set"),
    pytest.param([replace_backward(NAIVE_RECURSIVE)], ORDER, id="recursive-backward-no-sort"),
    pytest.param([replace_backward(BREADTH_FIRST)], ORDER, id="breadth-first-order"),
    pytest.param([replace_backward(MUTABLE_DEFAULTS)], STATE, id="mutable-default-arguments"),
    pytest.param([(MUL_BACKWARD, "self.grad += out.data / self.data * out.grad\n            "
                                 "other.grad += out.data / other.data * out.grad")],
                 "divides by zero when a = 0", id="mul-derivative-by-division"),
    pytest.param([(TANH_BACKWARD, "self.grad += (1 - math.tanh(t) ** 2) * out.grad")],
                 "not 1 - tanh(t)**2", id="tanh-applied-twice"),
    pytest.param([("self.grad = 1.0", "self.grad = self.data")], "not with the output's value",
                 id="seed-is-the-output-value"),
    pytest.param([replace_backward(OUTPUT_STEP_ONLY)], "or only the output's step ran",
                 id="only-the-output-step"),
    # Tied on the wrong expressions with another mistake, which would have got wrong an
    # expression this one gets right: the order alone is named.
    pytest.param([replace_backward(PRE_ORDER)], "the local backward steps ran in the wrong order",
                 id="pre-order-listing"),
    pytest.param([("out = Value(t, (self,), \"tanh\")", "out = Value(t, (), \"tanh\")")],
                 "tanh's result does not list its input as a parent", id="tanh-without-parents"),
    pytest.param([("        out._backward = _backward\n        return out\n\n    def backward",
                   "        self._backward = _backward\n        return out\n\n    def backward")],
                 "tanh's backward step belongs to its result", id="tanh-step-on-its-input"),
    pytest.param([(TANH_BACKWARD, "self.grad += 1 - t**2 * out.grad")], "* binds before -",
                 id="tanh-chain-factor-without-brackets"),
    pytest.param([(MUL_BACKWARD, "self.grad += other.data * out.grad")], "to both factors",
                 id="mul-gradient-to-one-factor-only"),
    pytest.param([(TANH_BACKWARD, "self.grad += t * (1 - t) * out.grad")],
                 "the sigmoid's derivative", id="tanh-derivative-of-the-sigmoid"),
    pytest.param([(MUL_BACKWARD, MUL_BACKWARD.replace("out.grad", "out.data"))],
                 "not out.data, the product's value", id="mul-chain-factor-out-data"),
    pytest.param([(MUL_BACKWARD, MUL_BACKWARD.replace("other.data", "other.grad")
                   .replace("self.data", "self.grad"))],
                 "by the other factor's value (other.data), not its gradient",
                 id="mul-factor-from-the-other-grad"),
    pytest.param([replace_backward(RESEEDS_EVERY_NODE)], "calling backward() on each parent",
                 id="backward-called-on-every-parent"),
    pytest.param([replace_backward(FREES_THE_GRAPH)], "a graph taken apart as it went",
                 id="graph-freed-by-backward"),
    pytest.param([replace_backward(VISITED_FLAG)], "a 'visited' flag left on the nodes",
                 id="visited-flag-left-on-nodes"),
])
def test_usual_mistakes_fail_with_their_hint(replacements, hint):
    assert_fails_with(check_value(mutate(*replacements), verbose=False), hint)


def test_the_hint_is_that_of_the_mistake_explaining_most_expressions():
    # Run leaves-first, tanh(a * b + c) * d comes out as if tanh's step used self.grad; the
    # other expressions show the order is at fault, and only that hint is given.
    result = check_value(mutate(("for node in reversed(topo):", "for node in topo:")),
                         verbose=False)
    assert_fails_with(result, ORDER)
    assert "self.grad is the input's own gradient" not in verdict(result)


def test_a_wrong_gradient_is_reported_with_exact_and_finite_difference_values():
    result = check_value(mutate((MUL_BACKWARD, MUL_BACKWARD.replace("+=", "="))), verbose=False)
    # a * a at a = 3: d/da = 6, the overwriting version keeps only one of the two 3s.
    assert_fails_with(result, "a * a, with a = 3: a.grad is 3, expected 6 (exact; central "
                      "differences of your own forward give 6)")


def test_an_unrecognised_mistake_on_reused_nodes_gets_the_general_hint():
    # Each parent's share counted as if it were the only use (x.grad *set* by the last user)
    # and also in the wrong order: no single known mistake, but only reused nodes go wrong.
    wrong = mutate(replace_backward(BREADTH_FIRST),
                   (MUL_BACKWARD, MUL_BACKWARD.replace("+=", "=")))
    result = check_value(wrong, verbose=False)
    assert result.status == "failed"
    assert any(hint in verdict(result) for hint in (REUSE, ORDER, ACCUMULATE))


def test_tanh_returning_a_number_or_a_wrong_value_is_named():
    returns_float = mutate(("        return out\n\n    def backward",
                            "        return t\n\n    def backward"))
    assert_fails_with(check_value(returns_float, verbose=False), "not a Value",
                      "must return a new Value")
    tan = mutate(("t = math.tanh(self.data)", "t = math.tan(self.data)"))
    assert_fails_with(check_value(tan, verbose=False), "the value of tanh(a), with a = 0.7 is",
                      "math.tanh")


def test_a_missing_reflected_operator_is_named():
    no_rsub = mutate(("    def __rsub__(self, other):\n        return other + (-self)\n", ""))
    assert_fails_with(check_value(no_rsub, verbose=False), "building 1 - a raised TypeError",
                      "__rsub__")


def test_checker_refuses_an_instance():
    with pytest.raises(TypeError, match="pass the class"):
        check_value(sol.Value(1.0), verbose=False)


# -- the exercises chapter ------------------------------------------------------------------------
def run_exercise_chapter(value_source):
    """Execute the chapter's code cells in one namespace, as the notebook does, with the
    exercise cell replaced by ``value_source`` (None: left blank); return what they print."""
    import contextlib
    import io

    import scratchnn

    namespace, printed = {"np": np, "scratchnn": scratchnn}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in chapter.EXERCISES:
            if cell.cell_type != "code":
                continue
            is_blank = "exercise-Value" in cell.metadata.get("tags", [])
            exec(value_source if is_blank and value_source else cell.source,  # noqa: S102
                 namespace)
    return printed.getvalue()


def test_exercise_chapter_reproduces_a_linear_layer_once_value_passes():
    printed = run_exercise_chapter(SOLUTION)
    assert "Value: PASSED" in printed and "Waiting" not in printed
    differences = [float(d) for d in re.findall(r"largest difference (\S+)", printed)]
    assert len(differences) == 3 and max(differences) < 1e-12, printed


def test_exercise_chapter_waits_while_value_is_blank_or_wrong():
    printed = run_exercise_chapter(None)
    assert "Value: NOT IMPLEMENTED YET" in printed and "Waiting for Value" in printed
    wrong = SOLUTION.replace("(1 - t**2) * out.grad", "(1 - t) * out.grad")
    printed = run_exercise_chapter(wrong)
    assert "Value: FAILED" in printed and "Waiting for Value" in printed
    assert "largest difference" not in printed
