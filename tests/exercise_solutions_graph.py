"""Worked solutions of chapter 12 (the computational graph) of notebooks/exercises.ipynb.

As in exercise_solutions.py: tests/test_notebooks.py pastes each definition below into the
notebook cell tagged ``exercise-<name>``, so it must be self-contained in the notebook's
namespace, where the chapter's first cell has imported ``math``. ``Value`` is the notebook's
scaffold with its three blanks (``__mul__``'s backward step, ``tanh``, ``backward``) filled in.
"""

import math


class Value:
    """A number that remembers how it was computed, and its gradient d(output)/d(self)."""

    def __init__(self, data, parents=(), op=""):
        self.data = data
        self.grad = 0.0
        self._parents = parents
        self._op = op
        self._backward = lambda: None  # adds this node's share of its gradient to its parents'

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        # An explicit stack instead of recursion: a chain deeper than Python's recursion limit
        # (about 1,000) is sorted as well.
        topo, visited, stack = [], set(), [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                topo.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((parent, False) for parent in node._parents)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return other + (-self)

    def __rtruediv__(self, other):
        return other * self**-1
