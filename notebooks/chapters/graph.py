"""Chapter 12, the computational graph: a scalar autograd in the spirit of Karpathy's micrograd,
which reproduces a LinearLayer's gradients, and why layer-wise backward is the same chain rule."""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = [
    md(r"""
    ## 12. The computational graph

    Chapters 4 and 5 wrote backpropagation layer by layer: each layer knows the derivative of
    its own formula. Underneath, every computation is a graph of elementary operations
    ($+$, $\times$, $\tanh$, $\exp$, ...), and the chain rule can walk that graph backwards one
    operation at a time, with no layers at all. That is what PyTorch's autograd does, and what
    Andrej Karpathy's [micrograd](https://github.com/karpathy/micrograd) does for single
    numbers in about 100 lines; the original notebook this tutorial grew from calls reading it
    a "must". We write a micrograd-sized version here and use it to reproduce a `LinearLayer`'s
    gradients.

    A `Value` holds a number (`data`), the Values it was computed from (its parents), and a
    small function `_backward` that knows the local derivatives of its own operation. Once the
    gradient $\partial L / \partial out$ of a node `out` is known (`out.grad`), its `_backward`
    **adds** $\frac{\partial out}{\partial p} \cdot$ `out.grad` to the `grad` of each parent
    $p$: the chain rule, one operation at a time. For $out = a \cdot b$ that is $b \cdot$
    `out.grad` for $a$ and $a \cdot$ `out.grad` for $b$; for $out = \tanh(a)$ it is
    $(1 - out^2) \cdot$ `out.grad`.

    `backward()` on the final node sets its own gradient to 1 ($\partial L / \partial L$),
    lists the graph in *topological order* (every node after the nodes it was computed from)
    and calls each node's `_backward` in that order reversed, so that a node passes its
    gradient on only when every node that uses it has added its share.
    """),
    code("""
    import math
    import sys
    import time
    from collections import defaultdict


    class Value:
        \"\"\"A number that remembers how it was computed, and its gradient dL/d(self).\"\"\"

        def __init__(self, data, parents=(), op="", label=""):
            self.data = float(data)
            self.grad = 0.0
            self._parents = parents
            self._op = op
            self.label = label
            self._backward = lambda: None  # a leaf has nothing to pass on

        def __repr__(self):
            name = f"{self.label}=" if self.label else ""
            return f"Value({name}{self.data:.4g}, grad={self.grad:.4g})"

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                self.grad += out.grad            # d(a + b)/da = 1
                other.grad += out.grad
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other), "*")

            def _backward():
                self.grad += other.data * out.grad   # d(a b)/da = b
                other.grad += self.data * out.grad
            out._backward = _backward
            return out

        def __pow__(self, k):  # k a plain number
            out = Value(self.data**k, (self,), f"**{k}")

            def _backward():
                self.grad += k * self.data ** (k - 1) * out.grad
            out._backward = _backward
            return out

        def _unary(self, value, local, op):
            \"\"\"out = f(self), where local is f'(self) (computed in the forward pass).\"\"\"
            out = Value(value, (self,), op)

            def _backward():
                self.grad += local * out.grad
            out._backward = _backward
            return out

        def tanh(self):
            t = math.tanh(self.data)
            return self._unary(t, 1 - t**2, "tanh")

        def relu(self):
            return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

        def exp(self):
            e = math.exp(self.data)
            return self._unary(e, e, "exp")

        def log(self):
            return self._unary(math.log(self.data), 1 / self.data, "log")

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            return self + (-other)

        def __truediv__(self, other):
            return self * other**-1

        def __radd__(self, other):  # 1 + a, sum([...]) which starts from 0
            return self + other

        def __rmul__(self, other):  # 2 * a
            return self * other

        def __rsub__(self, other):  # 1 - a
            return other + (-self)

        def __rtruediv__(self, other):
            return other * self**-1

        def topological_order(self):
            \"\"\"Every node of the graph once, each after its parents. An explicit stack rather
            than recursion: a graph deeper than Python's recursion limit sorts just as well.\"\"\"
            order, visited, stack = [], set(), [(self, False)]
            while stack:
                node, parents_done = stack.pop()
                if parents_done:
                    order.append(node)
                elif node not in visited:
                    visited.add(node)
                    stack.append((node, True))
                    # reversed: the first parent is popped, and so listed, first
                    stack.extend((parent, False) for parent in reversed(node._parents))
            return order

        def backward(self):
            self.grad = 1.0
            for node in reversed(self.topological_order()):
                node._backward()


    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a
    c.backward()
    print(c, a, b)  # dc/da = b + 1 = -2 (a is used twice), dc/db = a = 2
    """),
    md(r"""
    A single tanh neuron, $o = \tanh(x_1 w_1 + x_2 w_2 + b)$: its graph, built by simply
    computing it, then one call to `backward()`. Each gradient is compared with a central
    difference, $(o(p + \varepsilon) - o(p - \varepsilon)) / 2\varepsilon$, computed by
    nudging that one input and recomputing.
    """),
    code("""
    def neuron(x1, x2, w1, w2, b):
        n = x1 * w1 + x2 * w2 + b
        return n.tanh(), n


    inputs = {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.88}
    leaves = {name: Value(v, label=name) for name, v in inputs.items()}
    o, n = neuron(**leaves)
    n.label, o.label = "n", "o"
    o.backward()
    print(o)
    for name, leaf in leaves.items():
        up = neuron(**{k: Value(v + 1e-6 * (k == name)) for k, v in inputs.items()})[0].data
        down = neuron(**{k: Value(v - 1e-6 * (k == name)) for k, v in inputs.items()})[0].data
        print(f"do/d{name:<2} = {leaf.grad:8.5f}   finite difference {(up - down) / 2e-6:8.5f}")
    """),
    md(r"""
    The same graph drawn: one box per node, laid out by depth (the longest path from an
    input), with its operation, its value and its gradient. Arrows run the way the forward
    pass computes; `backward` visits the boxes from right to left.
    """),
    code("""
    def draw_graph(root, ax):
        \"\"\"Boxes for the nodes of root's graph, columns by depth, arrows parent -> child.\"\"\"
        order = root.topological_order()
        depth = {}
        for node in order:  # parents come first, so their depth is known
            depth[node] = 1 + max((depth[p] for p in node._parents), default=-1)
        columns = defaultdict(list)
        for node in order:
            columns[depth[node]].append(node)
        where = {node: (d, -(i - (len(col) - 1) / 2))
                 for d, col in columns.items() for i, node in enumerate(col)}
        boxes = {}
        for node, (x, y) in where.items():
            title = f"{node.label} = {node._op}" if node.label and node._op else (
                node.label or node._op)
            boxes[node] = ax.text(
                x, y, f"{title}\\ndata {node.data:.4f}\\ngrad {node.grad:.4f}", ha="center",
                va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="round", fc="#fde3c8" if node._parents else "#dbe9f6", ec="0.4"))
        for node in order:
            for parent in node._parents:  # from the parent's right edge to the child's left
                ax.annotate("", xy=(0, 0.5), xycoords=boxes[node], xytext=(1, 0.5),
                            textcoords=boxes[parent],
                            arrowprops=dict(arrowstyle="-|>", color="0.45", shrinkA=4, shrinkB=4))
        heights = [len(col) for col in columns.values()]
        ax.set(xlim=(-0.6, max(columns) + 0.6), ylim=(-max(heights) / 2, max(heights) / 2))
        ax.axis("off")


    fig, ax = plt.subplots(figsize=(11, 4.2), layout="constrained")
    draw_graph(o, ax)
    ax.set_title("o = tanh(x1 w1 + x2 w2 + b): inputs in blue, operations in orange")
    plt.show()
    """),
    md(r"""
    *What to notice:* the graph follows the code as written: `x1 * w1 + x2 * w2 + b` is two
    products and two sums, so two `+` nodes. A sum passes its gradient on unchanged (every box
    feeding a `+` has that `+` box's gradient), a product swaps the factors
    ($\partial o / \partial w_1 = x_1 \cdot \partial o / \partial(x_1 w_1) = 2 \times 0.5$),
    and $\partial o / \partial w_2 = x_2 \cdot \ldots = 0$: an input of 0 makes its weight's
    gradient vanish. Every gradient agrees with its finite difference.

    **A node used twice.** When a value feeds two operations, the chain rule *sums* the two
    paths: for $b = a \cdot a$, $db/da = a + a$. Each use's `_backward` adds its own share,
    which is why every one of them says `grad +=`. With `grad =` the second share overwrites
    the first. Below, the same product written with `=`, on $a = 3$ where $d(a^2)/da = 6$:
    """),
    code("""
    class OverwritingValue(Value):
        \"\"\"Value with a product whose backward writes (=) instead of adding (+=).\"\"\"

        def __mul__(self, other):
            out = OverwritingValue(self.data * other.data, (self, other), "*")

            def _backward():
                self.grad = other.data * out.grad
                other.grad = self.data * out.grad
            out._backward = _backward
            return out


    for cls in (Value, OverwritingValue):
        a = cls(3.0)
        b = a * a
        b.backward()
        print(f"{cls.__name__:<16} a * a at a = 3: da = {a.grad}")

    a = Value(3.0)
    b = a * a
    b.backward()
    b.backward()
    print(f"Value, backward() called twice without zeroing: da = {a.grad}")
    for node in b.topological_order():
        node.grad = 0.0
    b.backward()
    print(f"after setting every grad back to 0 first:         da = {a.grad}")

    deep = start = Value(0.5)
    for _ in range(5_000):
        deep = deep * 1.0001
    deep.backward()
    print(f"a chain of 5,000 products (recursion limit {sys.getrecursionlimit():,}): "
          f"d(end)/d(start) = {start.grad:.4f} = 1.0001^5000 = {1.0001**5000:.4f}")
    """),
    md(r"""
    *What to notice:* with `=`, $a \cdot a$ gets 3 instead of 6: the second use overwrote the
    first one's share. Accumulating has a price: a second `backward()` adds to the gradients
    already there (12), so they must be set back to 0 before each backward pass; that is what
    an optimizer's `zero_grad()` is for in PyTorch, and why micrograd's training loop zeroes
    its parameters' gradients every step. The topological order uses an explicit stack:
    micrograd's recursive version would stop at Python's recursion limit on the 5,000-deep
    chain.

    **A linear layer, one number at a time.** Now the graph of a whole `LinearLayer` followed
    by the softmax cross-entropy of chapter 3, for a batch of 4 samples, 3 inputs and 2
    classes, with every weight, bias and input a `Value`. The loss is written out as it is
    defined,
    $L = \frac1B \sum_{n=1}^{B} \bigl(\log \sum_c e^{z_{nc}} - z_{n, y_n}\bigr)$
    (minus each row's largest logit inside the exponentials, as a constant, for stability),
    and compared with scratchnn's `LinearLayer` and `CrossEntropyLoss` in float64.
    """),
    code("""
    def scalar_layer_loss(x, y, W, b):
        \"\"\"Cross-entropy of the linear layer x W + b, one Value per number.
        Returns the loss and the Values of x, W and b (their .grad filled by loss.backward()).\"\"\"
        xv = [[Value(v) for v in row] for row in x]
        Wv = [[Value(v) for v in row] for row in W]
        bv = [Value(v) for v in b.ravel()]
        n_in, n_out = W.shape
        total = 0
        for row, label in zip(xv, y):
            z = [sum((row[i] * Wv[i][j] for i in range(n_in)), bv[j]) for j in range(n_out)]
            top = max(zj.data for zj in z)  # a constant: shifting the logits changes nothing
            log_sum = sum((zj - top).exp() for zj in z).log() + top
            total = total + (log_sum - z[label])
        return total / len(y), xv, Wv, bv


    def grads_of(values):
        return np.array([[v.grad for v in row] for row in values])


    rng = np.random.default_rng(SEED)
    layer = LinearLayer(3, 2, rng=rng, dtype=np.float64)
    layer.params["b"][...] = rng.normal(size=(1, 2))
    x_graph, y_graph = rng.normal(size=(4, 3)), np.array([0, 1, 1, 0])

    ce = CrossEntropyLoss()
    library_loss = ce.forward(y_graph, layer.forward(x_graph))
    library_dx = layer.backward(ce.backward())

    loss, xv, Wv, bv = scalar_layer_loss(x_graph, y_graph, layer.params["W"], layer.params["b"])
    loss.backward()
    print(f"loss: scalar graph {loss.data:.10f}, library {library_loss:.10f}")
    for name, mine, library in [("W", grads_of(Wv), layer.grads["W"]),
                                ("b", grads_of([bv]), layer.grads["b"]),
                                ("x", grads_of(xv), library_dx)]:
        print(f"dL/d{name}: allclose: {np.allclose(mine, library)}, "
              f"largest difference {np.abs(mine - library).max():.1e}")
    print(f"{len(loss.topological_order())} nodes in the scalar graph")
    """),
    md(r"""
    **Why they agree.** The scalar graph has one product node $x_{ni} W_{ij}$ for every sample
    $n$, input $i$ and output $j$, feeding the sum $z_{nj}$. Let $g_{nj} = \partial L /
    \partial z_{nj}$ (the `out.grad` of the sum node; chapter 4 called this matrix $\delta$).
    A sum passes $g_{nj}$ to every product it adds up, and each product's `_backward` does

    * `W[i][j].grad += x[n][i] * g[n][j]`, once per sample $n$: in total
      $\sum_n x_{ni}\, g_{nj} = (x^\top g)_{ij}$, the layer's $\partial L / \partial W = x^\top
      g$;
    * `x[n][i].grad += W[i][j] * g[n][j]`, once per output $j$: $\sum_j g_{nj} W_{ij} =
      (g W^\top)_{ni}$, the layer's $\partial L / \partial x = g W^\top$;
    * and the bias $b_j$, added into $z_{nj}$ for every sample, collects $\sum_n g_{nj}$.

    The `+=` that made $a \cdot a$ right is the sum over the batch in $x^\top g$: a weight is
    used once per sample. Layer-wise backward (chapters 4 and 5) is the same chain rule with
    the scalar nodes grouped by layer, so that all the products of a layer become one matrix
    product. What changes is the cost: one Python object per multiply against one call into
    optimised matrix code.
    """),
    code("""
    def seconds(fn, repeat):
        \"\"\"The fastest of ``repeat`` runs: the least disturbed by other programs.\"\"\"
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best


    x_batch, y_batch = X_train[:32].astype(np.float64), y_train[:32]
    big = LinearLayer(64, 10, rng=SEED, dtype=np.float64)
    W64, b64 = big.params["W"], big.params["b"]


    def by_scalars():
        loss, *_ = scalar_layer_loss(x_batch, y_batch, W64, b64)
        loss.backward()
        return loss


    def by_layer():
        ce.forward(y_batch, big.forward(x_batch))
        return big.backward(ce.backward())


    start = time.perf_counter()
    scalar_loss = by_scalars()
    scalar_time = time.perf_counter() - start  # once: it is slow enough to time on its own
    layer_time = seconds(by_layer, 200)
    print(f"batch of 32, 64 inputs, 10 classes: "
          f"{len(scalar_loss.topological_order()):,} nodes in the scalar graph")
    # The times depend on the machine and its load, so the notebook prints only a bound that
    # holds everywhere (and the same text on every run); print(scalar_time, layer_time) for yours.
    print("forward + backward through the scalar graph take more than 1,000 times as long as "
          f"through the layer: {scalar_time > 1000 * layer_time}")
    """),
    md(r"""
    *What to notice:* the scalar graph gets every gradient of the layer to rounding error, with
    no formula for $x^\top g$ written anywhere: the matrix formulas of chapter 4 are a way of
    *grouping* the chain rule, not a different rule. The grouping is what makes training
    practical: the same step through the scalar graph costs thousands of times the layer's
    (about ten thousand times on the machine that built this notebook; the exact ratio depends
    on the machine and its load), because every multiply is a Python
    object with a closure, built and visited one at a time. Autograd libraries keep the graph
    but make each node a whole tensor operation (a matrix product, a softmax), so the graph is
    small and the arithmetic runs in compiled code.
    """),
]

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
    $out = a + b$ both shares are $1 \cdot$ `out.grad` (given below, as a model); for
    $out = a \cdot b$ they are $b \cdot$ `out.grad` and $a \cdot$ `out.grad`.

    Fill in three parts:

    * `__mul__`'s `_backward`;
    * `tanh`: a new `Value` holding $t = \tanh(x)$ (`math.tanh`), whose `_backward` adds
      $(1 - t^2) \cdot$ `out.grad` to `self.grad`;
    * `backward()`: list the graph's nodes in topological order (each node after its parents,
      every node once), set `self.grad = 1.0` (d out / d out) and call every node's `_backward`
      in that order **reversed**, so that a node passes its gradient on only after everything
      that uses it has added its share.

    Always `grad +=`, never `grad =`: in `a * b + a`, `a` receives a gradient from each use.
    The check builds many small expressions (a node used twice, `a * a`, numbers mixed in as in
    `2 * a` or `1 - a`) and compares your gradients with the exact derivatives and with finite
    differences. It also runs `backward()` twice on one graph (the grads set back to 0 in
    between), and on two graphs in turn: keep nothing from one call to the next (a default
    argument such as `visited=set()` is created once and shared by every call). A recursive
    topological sort (as in micrograd) is accepted: the graphs checked are at most 200 nodes
    deep. The check also tries a chain 5,000 deep, past Python's recursion
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
    md(r"""
    Once your `Value` passes, it can reproduce a whole layer. Below, scratchnn's float64
    `LinearLayer` and `MSELoss` compute $\partial L / \partial W$, $\partial L / \partial b$ and
    $\partial L / \partial x$ for a batch of 4 samples with 3 inputs and 2 outputs; then the
    same loss is built from your Values, one per number, and your `backward()` fills their
    gradients.
    """),
    code("""
    if check_value(Value, verbose=False):
        rng = np.random.default_rng(0)
        layer = scratchnn.LinearLayer(3, 2, rng=0, dtype=np.float64)
        layer.params["b"][...] = rng.normal(size=(1, 2))
        x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
        mse_loss = scratchnn.MSELoss()
        mse_loss.forward(y, layer.forward(x))
        dx = layer.backward(mse_loss.backward())

        xv = [[Value(v) for v in row] for row in x]
        Wv = [[Value(v) for v in row] for row in layer.params["W"]]
        bv = [Value(v) for v in layer.params["b"][0]]
        z = [[sum((xv[n][i] * Wv[i][j] for i in range(3)), bv[j]) for j in range(2)]
             for n in range(4)]
        loss = sum((z[n][j] - y[n, j]) ** 2 for n in range(4) for j in range(2)) / 8
        loss.backward()
        for name, yours, library in [("W", Wv, layer.grads["W"]), ("b", [bv], layer.grads["b"]),
                                     ("x", xv, dx)]:
            yours = np.array([[v.grad for v in row] for row in yours])
            print(f"dL/d{name}: your Values vs LinearLayer, largest difference "
                  f"{np.abs(yours - library).max():.1e}")
    else:
        print("Waiting for Value to pass its check.")
    """),
    md(r"""
    The two agree to rounding error. In the scalar graph, `W[i][j]` is used once per sample,
    and your `grad +=` sums its four shares, $\sum_n x_{ni}\, g_{nj}$: the layer's
    $\partial L / \partial W = x^\top g$, computed as one matrix product instead of one node
    per multiply. Layer-wise backward is this same chain rule, grouped by layer.
    """),
]
