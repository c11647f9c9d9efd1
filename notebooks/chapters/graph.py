"""Chapter 12, the computational graph: a scalar autograd in the spirit of Karpathy's micrograd,
which reproduces a LinearLayer's gradients, and why layer-wise backward is the same chain rule."""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = []

EXERCISES = [
    md(r"""
    ## 12. The computational graph

    Backpropagation does not need layers. Any computation is a graph of elementary operations
    ($+$, $\times$, $\tanh$, ...), and the chain rule can walk that graph backwards one
    operation at a time. Andrej Karpathy's [micrograd](https://github.com/karpathy/micrograd)
    does exactly that for single numbers in about 100 lines; the original notebook this course
    grew from calls reading it a "must". Here you write its core.

    A `Value` holds a number `data`, its gradient `grad` (d output / d this value, filled in by
    `backward`), the Values it was computed from (`_parents`) and `_backward`, a small function
    that, once this node's own `grad` is known, **adds** its share to each parent's `grad`. For
    $out = a + b$ both shares are $1 \cdot out.grad$ (given below, as a model); for
    $out = a \cdot b$ they are $b \cdot out.grad$ and $a \cdot out.grad$.

    Fill in three parts:

    * `__mul__`'s `_backward`;
    * `tanh`: a new `Value` holding $t = \tanh(x)$ (`math.tanh`), whose `_backward` adds
      $(1 - t^2) \cdot out.grad$ to `self.grad`;
    * `backward()`: list the graph's nodes in topological order (each node after its parents,
      every node once), set `self.grad = 1.0` (d out / d out) and call every node's `_backward`
      in that order **reversed**, so that a node passes its gradient on only after everything
      that uses it has added its share.

    Always `grad +=`, never `grad =`: in `a * b + a`, `a` receives a gradient from each use.
    The check builds many small expressions (a node used twice, `a * a`, numbers mixed in as in
    `2 * a` or `1 - a`) and compares your gradients with the exact derivatives and with finite
    differences. A recursive topological sort (as in micrograd) is accepted: the graphs checked
    are at most 200 nodes deep. The check also tries a chain 5,000 deep, past Python's recursion
    limit of about 1,000 nested calls; if your sort is recursive, it only notes that an explicit
    stack would handle it.
    """),
    code("""
    import math

    from scratchnn.exercises.graph import check_value
    """),
    exercise("Value", """
    class Value:
        \"\"\"A number that remembers how it was computed, and its gradient d(output)/d(self).\"\"\"

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
                # Code here
                raise NotImplementedError
            out._backward = _backward
            return out

        def __pow__(self, k):
            out = Value(self.data ** k, (self,), f"**{k}")

            def _backward():
                self.grad += k * self.data ** (k - 1) * out.grad
            out._backward = _backward
            return out

        def tanh(self):
            # Code here
            raise NotImplementedError

        def backward(self):
            # Code here
            raise NotImplementedError

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
    """),
    check("check_value(Value);"),
]
