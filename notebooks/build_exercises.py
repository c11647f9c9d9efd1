"""Build notebooks/exercises.ipynb from the cells below.

    python notebooks/build_exercises.py

The notebook is written here as Python strings so that it can be reviewed in a diff and
regenerated; edit this file, not the .ipynb. It is saved without outputs. Building it needs
nbformat (`pip install -e ".[dev]"`). The build is deterministic: cell ids come from the cell's
position ("cell-0", ...), so rebuilding an unchanged notebook leaves git clean.

Each blank the learner fills is a code cell tagged ``exercise-<name>`` that defines exactly one
function or class called ``<name>``; the cell after it, tagged ``check``, runs its checker from
``scratchnn.exercises``. tests/test_notebooks.py runs the notebook as it is (every check must
say "not implemented yet") and with the blanks replaced by tests/exercise_solutions*.py (every
check must pass).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from cells import check, code, exercise, md
from chapters import capstone, convolution, graph, regularisation, sanity
from nbformat.v4 import new_notebook

NOTEBOOK = Path(__file__).resolve().parent / "exercises.ipynb"


INTRO = [
    md(r"""
    # Neural networks from scratch: exercises

    The chapters of the tutorial (`tutorial.ipynb`), with the code left for you to write. Each
    blank is a cell whose body says `# Code here` and `raise NotImplementedError`; replace those
    two lines with your code and run the cell, then run the check below it. A check runs your
    code next to `scratchnn`'s own on random inputs (and through a finite-difference gradient
    check where there is a gradient) and prints a short verdict:

    * `PASSED`, with what was checked;
    * `FAILED`, with which output or gradient is wrong, on what input, the expected and the
      computed values and, for the usual mistakes, a hint;
    * `NOT IMPLEMENTED YET` while the blank is still blank.

    A check never stops the notebook: you can run it top to bottom at any time, and the cells
    that need your code (a training run, for example) wait until its check passes. The notebook
    is saved with its outputs cleared.

    1. From perceptron to neural network: `sigmoid`, `relu`
    2. Forward propagation: `forward_propagation`
    3. Loss functions: `mae`, `mse`, `binary_cross_entropy`, `softmax`, `cross_entropy_loss`
    4. Backpropagation and the update step: `numerical_gradient`
    5. Layers and activations: `tanh`, `leaky_relu`, `LinearLayer`, the activation layers
    6. Depth versus width: `MultiLayerNetwork`
    7. Data: `one_hot`, `get_batches`
    8. The training loop: `train_step`
    9. Optimizers: `SGD`, `Momentum`, `RMSProp`, `Adam`
    10. Weight initialisation: `xavier_uniform`, `he_normal`
    11. Overfitting and regularisation: `l2_penalty`, `DropoutLayer`
    12. The computational graph: `Value`, a scalar autograd
    13. Sanity checks before training: `overfit_one_batch`, `lr_sweep`
    14. Convolution: `im2col`, `conv2d_forward`, `max_pool2d`, `max_pool2d_backward`
    15. Capstone: your network reads digits: `train_network`, with every part you wrote

    Shapes follow one convention throughout: a batch of inputs is a matrix $x$ of shape
    `(batch, n_features)`, one sample per row, and a layer's weights $W$ have shape
    `(n_in, n_out)`, so that a layer computes $xW + b$.
    """),
    code("""
    import numpy as np

    import scratchnn
    from scratchnn import Layer
    from scratchnn.exercises import (
        check_activation_function,
        check_activation_layer,
        check_forward_propagation,
        check_get_batches,
        check_initializer,
        check_linear_layer,
        check_loss_function,
        check_network,
        check_numerical_gradient,
        check_one_hot,
        check_optimizer,
        check_relu,
        check_sigmoid,
        check_softmax,
        check_training_step,
    )

    np.set_printoptions(precision=4, suppress=True)
    """),
]

CHAPTER_1 = [
    md(r"""
    ## 1. From perceptron to neural network

    A perceptron computes a weighted sum of its inputs, $z = w^\top x + b$. Stacking such linear
    layers gains nothing: $(xW_1)W_2 = x(W_1W_2)$ is again one linear layer. What makes a network
    more than a linear model is a non-linear *activation* applied after each layer.
    """),
    code("""
    rng = np.random.default_rng(0)
    W1, W2, x = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(5, 3))
    print("two linear layers equal one:", np.allclose((x @ W1) @ W2, x @ (W1 @ W2)))
    """),
    md(r"""
    Write the two classic activations. Each takes an array `x` (any shape) and works elementwise;
    with `derivative=True` it returns the derivative *evaluated at the input* `x`:

    $$\sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \sigma'(x) = \sigma(x)\,\bigl(1 - \sigma(x)\bigr),$$

    $$\operatorname{relu}(x) = \max(0, x), \qquad \operatorname{relu}'(x) =
    \begin{cases} 1 & x > 0 \\ 0 & x < 0 \end{cases}$$

    (at $x = 0$ either value is fine). Use NumPy's elementwise functions (`np.exp`,
    `np.maximum`, comparisons such as `x > 0`), never Python's `max` or an `if` on an array.
    The check also tries $x = \pm 1000$: $e^{1000}$ overflows, so think about which exponent you
    compute. Return a new array and leave `x` as it is: a layer's backward will call your
    derivative on the very input its forward kept.
    """),
    exercise("sigmoid", """
    def sigmoid(x, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check("check_sigmoid(sigmoid);"),
    exercise("relu", """
    def relu(x, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check("check_relu(relu);"),
]

CHAPTER_2 = [
    md(r"""
    ## 2. Forward propagation

    A network is a list of layers. With $a^{(0)} = x$, layer $l$ computes

    $$z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}, \qquad a^{(l)} = f\bigl(z^{(l)}\bigr),$$

    where $W^{(l)}$ is `(n_in, n_out)` and $b^{(l)}$ is `(1, n_out)` (broadcast over the batch).
    The last layer has no activation: its $z^{(L)}$ is the network's output (raw scores).

    Write `forward_propagation(x, weights, biases, activation)`: `weights` and `biases` are
    lists with one entry per layer, `activation` a function such as your `sigmoid` (applied
    after every layer but the last). Return the last layer's $z^{(L)}$, of shape
    `(batch, n_out)` of that layer, and leave `x` and both lists as they are.
    """),
    exercise("forward_propagation", """
    def forward_propagation(x, weights, biases, activation):
        # Code here
        raise NotImplementedError
    """),
    check("check_forward_propagation(forward_propagation);"),
]

CHAPTER_3 = [
    md(r"""
    ## 3. Loss functions

    A loss turns predictions $\hat y$ and targets $y$ into one number to minimise. Every loss here
    is a *mean*, and with `derivative=True` returns the gradient $\partial L / \partial \hat y$:
    an array shaped like `y_pred`, one number per element, which is what backpropagation starts
    from. With $n$ the number of elements (`y_pred.size`):

    $$\text{MAE} = \frac1n \sum_i |\hat y_i - y_i|, \qquad
      \frac{\partial\,\text{MAE}}{\partial \hat y_i} =
      \frac{\operatorname{sign}(\hat y_i - y_i)}{n}$$

    (where $\hat y_i = y_i$, `np.sign` gives 0; $d / |d|$ would be $0/0$).

    $$\text{MSE} = \frac1n \sum_i (\hat y_i - y_i)^2, \qquad
      \frac{\partial\,\text{MSE}}{\partial \hat y_i} = \frac{2(\hat y_i - y_i)}{n}$$

    Binary cross-entropy, for probabilities $p_i = \hat y_i \in [0, 1]$ and labels
    $y_i \in \{0, 1\}$:

    $$\text{BCE} = -\frac1n \sum_i \bigl(y_i \log p_i + (1 - y_i) \log(1 - p_i)\bigr), \qquad
      \frac{\partial\,\text{BCE}}{\partial p_i} = \frac{p_i - y_i}{n\,p_i(1 - p_i)}$$

    $\log 0 = -\infty$: keep $p$ away from 0 and 1 (`np.clip(p, 1e-12, 1 - 1e-12)`; in float32,
    $1 - 10^{-12}$ rounds to 1, so use $10^{-7}$ there).
    """),
    exercise("mae", """
    def mae(y_real, y_pred, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_loss_function(mae, "mae");'),
    exercise("mse", """
    def mse(y_real, y_pred, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_loss_function(mse, "mse");'),
    exercise("binary_cross_entropy", """
    def binary_cross_entropy(y_real, y_pred, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_loss_function(binary_cross_entropy, "binary_cross_entropy");'),
    md(r"""
    For several classes, the network outputs one raw score (logit) $z_c$ per class and the
    *softmax* turns a row of scores into probabilities:

    $$s_c = \frac{e^{z_c}}{\sum_k e^{z_k}}, \qquad
      J_{ij} = \frac{\partial s_i}{\partial z_j} = s_i(\delta_{ij} - s_j), \quad
      J = \operatorname{diag}(s) - s s^\top.$$

    Write `softmax(x)` for one sample `(C,)` or a batch `(batch, C)`, normalising each row
    (`axis=-1`, `keepdims=True`); with `derivative=True` and one sample, return the `(C, C)`
    Jacobian. Subtracting the row's maximum from $z$ changes nothing and keeps $e^z$ from
    overflowing.
    """),
    exercise("softmax", """
    def softmax(x, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check("check_softmax(softmax);"),
    md(r"""
    Cross-entropy takes the logits and one-hot targets $y$ (`(batch, C)`), applies the softmax
    inside, and averages over the batch of $B$ rows:

    $$\text{CE} = -\frac1B \sum_b \sum_c y_{bc} \log s_{bc}, \qquad
      \frac{\partial\,\text{CE}}{\partial z_{bc}} = \frac{s_{bc} - y_{bc}}{B}.$$

    The gradient is that simple because the softmax's Jacobian and the log cancel. For the value,
    compute $\log s$ as $z - \max z - \log \sum_k e^{z_k - \max z}$ (log-softmax), which stays
    finite for logits of $\pm 1000$.
    """),
    exercise("cross_entropy_loss", """
    def cross_entropy_loss(y_real, logits, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_loss_function(cross_entropy_loss, "cross_entropy");'),
]

CHAPTER_4 = [
    md(r"""
    ## 4. Backpropagation and the update step

    Backpropagation is the chain rule applied layer by layer, from the loss back to the input:
    given $g = \partial L / \partial z$ for a layer's output, each layer computes the gradients
    of its parameters and $\partial L / \partial x$, which is the $g$ of the layer before it.
    Gradient descent then moves every parameter a small step downhill:

    $$p \leftarrow p - \eta \, \frac{\partial L}{\partial p}.$$

    How do you know a gradient is right? Compare it with finite differences. For each entry
    $x_i$, the *central difference*

    $$\frac{\partial f}{\partial x_i} \approx
      \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon}$$

    has an error of order $\varepsilon^2$ (the one-sided $(f(x + \varepsilon e_i) - f(x)) /
    \varepsilon$ only $\varepsilon$). Write `numerical_gradient(f, x, eps=1e-5)` with the
    central difference: `f` takes an array shaped like `x` and returns a number; return an array of the same shape as `x`, and
    leave `x` as you found it. `np.ndindex(x.shape)` walks over every index.
    """),
    exercise("numerical_gradient", """
    def numerical_gradient(f, x, eps=1e-5):
        # Code here
        raise NotImplementedError
    """),
    check("check_numerical_gradient(numerical_gradient);"),
    md(r"""
    With both in hand, your own finite differences can check your own loss derivative:
    """),
    code("""
    if check_numerical_gradient(numerical_gradient, verbose=False) and check_loss_function(
            mse, "mse", verbose=False):
        rng = np.random.default_rng(1)
        y_real, y_pred = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
        numeric = numerical_gradient(lambda p: mse(y_real, p), y_pred.copy())
        analytic = mse(y_real, y_pred, derivative=True)
        error = scratchnn.gradient_check.relative_error(analytic, numeric)
        print(f"relative error between the two gradients of MSE: {error:.1e}")
    else:
        print("Waiting for numerical_gradient and mse to pass their checks.")
    """),
]

CHAPTER_5 = [
    md(r"""
    ## 5. Layers and activations

    Two more activations first, with the same `derivative=` switch:

    $$\tanh'(x) = 1 - \tanh^2(x), \qquad
      \operatorname{leaky\_relu}(x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases},
      \quad \operatorname{leaky\_relu}'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x < 0
      \end{cases}$$
    """),
    exercise("tanh", """
    def tanh(x, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_activation_function(tanh, "tanh");'),
    exercise("leaky_relu", """
    def leaky_relu(x, alpha=0.01, derivative=False):
        # Code here
        raise NotImplementedError
    """),
    check('check_activation_function(leaky_relu, "leaky_relu");'),
    md(r"""
    Now the same maths as objects. A layer keeps scratchnn's contract:

    * `forward(x)`: `(batch, n_in) -> (batch, n_out)`, remembering on `self` what `backward`
      will need (not on the class or in a global: a network has several layers of a kind);
    * `backward(grad_z)`: given $g = \partial L / \partial z$ (shaped like the output), store the
      parameters' gradients in `self.grads`, replacing those of the previous call (`=`, not
      `+=`: each backward pass is for a new batch), and **return** $\partial L / \partial x$.
      Never change `grad_z` itself (`grad_z *= ...` or `grad_z[mask] = 0`), nor the array
      `forward` returned (`self.a *= ...`): the caller still holds them. Keep the
      `(batch, n)` shapes for any batch size, 1 included (no `np.squeeze`);
    * `params` and `grads`: dicts from a name to an array of the same shape;
    * `update_params(learning_rate)`: $p \leftarrow p - \eta\,\partial L/\partial p$, in place.

    For the linear layer $z = xW + b$ with a batch $x$ of shape `(batch, n_in)`:

    $$\frac{\partial L}{\partial W} = x^\top g, \qquad
      \frac{\partial L}{\partial b} = \sum_{\text{batch}} g, \qquad
      \frac{\partial L}{\partial x} = g\,W^\top,$$

    of shapes `(n_in, n_out)`, `(1, n_out)` and `(batch, n_in)`: each gradient has the shape of
    what it is the gradient of.

    The sums over the batch are sums, not means: $g$ already carries the loss's $1/B$.
    The classes subclass `scratchnn.Layer`, which gives them `layer(x)` as a shorthand for
    `layer.forward(x)`. They compute in float64 (scratchnn's own layers default to float32 for
    speed; a gradient check needs float64).
    """),
    exercise("LinearLayer", """
    class LinearLayer(Layer):
        def __init__(self, n_in, n_out, rng=None):
            super().__init__()
            rng = np.random.default_rng(rng)
            limit = np.sqrt(6 / (n_in + n_out))
            self.params = {"W": rng.uniform(-limit, limit, size=(n_in, n_out)),
                           "b": np.zeros((1, n_out))}
            self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError

        def update_params(self, learning_rate):
            # Code here
            raise NotImplementedError
    """),
    check("check_linear_layer(LinearLayer);"),
    md(r"""
    An activation layer has no parameters; its backward multiplies $g$ by the derivative,
    elementwise: $\partial L / \partial x = g \odot f'(x)$. Keep what you need in `forward`: the
    input $x$ for ReLU, or the output $a$ for sigmoid ($f' = a(1 - a)$) and tanh
    ($f' = 1 - a^2$). Careful: $\sigma'$ of the *output* would be $\sigma'(\sigma(x))$.

    Softmax mixes the entries of a row, so its backward is a vector-Jacobian product, for each
    row $g^\top J = s \odot (g - \langle g, s \rangle)$. Every row of $J$ sums to 0 (adding the same
    number to every logit leaves $s$ unchanged), so summing the Jacobian instead of multiplying
    by it gives zeros.
    """),
    exercise("ReLULayer", """
    class ReLULayer(Layer):
        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check('check_activation_layer(ReLULayer, "relu");'),
    exercise("LeakyReLULayer", """
    class LeakyReLULayer(Layer):
        def __init__(self, alpha=0.01):
            super().__init__()
            self.alpha = alpha

        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check('check_activation_layer(LeakyReLULayer, "leaky_relu");'),
    exercise("SigmoidLayer", """
    class SigmoidLayer(Layer):
        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check('check_activation_layer(SigmoidLayer, "sigmoid");'),
    exercise("TanhLayer", """
    class TanhLayer(Layer):
        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check('check_activation_layer(TanhLayer, "tanh");'),
    exercise("SoftmaxLayer", """
    class SoftmaxLayer(Layer):
        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check('check_activation_layer(SoftmaxLayer, "softmax");'),
]

CHAPTER_6 = [
    md(r"""
    ## 6. Depth versus width

    A network runs its layers in order on the way forward and in reverse order on the way back,
    each layer handing its result to the next:

    * `add(layer)`: append the layer itself (not a copy) to `self.layers`, a list made in
      `__init__` so that each network has its own, and return `self`, so that calls chain;
    * `forward(x)`: `x = layer.forward(x)` for each layer, first to last;
    * `backward(grad)`: `grad = layer.backward(grad)` for each layer, **last to first**; return
      the final `grad`, $\partial L / \partial x$ for the network's input;
    * `update_params(learning_rate)`: every layer's `update_params` (a layer without parameters
      does nothing; do not pick layers by their class: the check fills your network with
      scratchnn's own layers).
    """),
    exercise("MultiLayerNetwork", """
    class MultiLayerNetwork:
        def __init__(self):
            self.layers = []

        def add(self, layer):
            # Code here
            raise NotImplementedError

        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad):
            # Code here
            raise NotImplementedError

        def update_params(self, learning_rate):
            # Code here
            raise NotImplementedError
    """),
    check("check_network(MultiLayerNetwork);"),
    md(r"""
    With a network class, depth and width are one line each. A linear layer has
    $n_\text{in} n_\text{out} + n_\text{out}$ parameters, so a deep, narrow network can have far
    fewer parameters than a shallow, wide one, while composing more non-linearities.
    """),
    code("""
    for sizes in ([64, 512, 10], [64, 64, 10], [64, 32, 32, 32, 10]):
        net = scratchnn.MultiLayerNetwork.from_sizes(sizes)
        print(f"{str(sizes):<22} {len(sizes) - 2} hidden layer(s), {net.n_params:>6,} parameters")
    """),
]

CHAPTER_7 = [
    md(r"""
    ## 7. Data

    scikit-learn's 1,797 handwritten digits: 8x8 images flattened to 64 pixels in $[0, 1]$, and
    labels 0 to 9. Two helpers prepare them for training.

    `one_hot(labels, n_classes)` turns labels `(n,)` into rows `(n, n_classes)` with a single 1
    at each label (use `n_classes`: a batch need not contain every class).
    `get_batches(x, batch_size)` splits `x` along its first axis into consecutive batches *of*
    `batch_size` rows, the last one shorter when `len(x)` is not a multiple
    (`np.array_split(x, batch_size)` would make `batch_size` batches instead).
    """),
    code("""
    from sklearn.model_selection import train_test_split

    from scratchnn.datasets import load_digits

    X_digits, y_digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X_digits.astype(np.float64), y_digits, test_size=0.25, stratify=y_digits, random_state=0)
    print(f"train {X_train.shape}, test {X_test.shape}, labels {np.unique(y_train)}")
    """),
    exercise("one_hot", """
    def one_hot(labels, n_classes):
        # Code here
        raise NotImplementedError
    """),
    check("check_one_hot(one_hot);"),
    exercise("get_batches", """
    def get_batches(x, batch_size):
        # Code here
        raise NotImplementedError
    """),
    check("check_get_batches(get_batches);"),
]

CHAPTER_8 = [
    md(r"""
    ## 8. The training loop

    An epoch shuffles the training set, cuts it into batches and, for each batch, runs one
    step: forward, loss, backward, update. Write that step as
    `train_step(network, x_batch, y_batch, loss, learning_rate)`, for a scratchnn network, a
    batch with its one-hot targets and a loss object (here `CrossEntropyLoss`):
    `loss.forward(y_true, y_pred)` returns the mean loss (targets first, unlike PyTorch) and
    `loss.backward()` its gradient with respect to `y_pred`, already divided by the batch size;
    `network.update_params(learning_rate)` takes the step. Return the batch's loss value as
    `loss.forward` computed it, before the update.
    """),
    exercise("train_step", """
    def train_step(network, x_batch, y_batch, loss, learning_rate):
        # Code here
        raise NotImplementedError
    """),
    check("check_training_step(train_step);"),
    md(r"""
    The loop around it, given: once `train_step`, `one_hot` and `get_batches` pass their checks,
    this trains a 64-32-10 network on the digits with your code: batches of 50, learning rate
    0.2. (Try batches of 64 and a rate of 0.5: the last batch of each epoch then has only 3
    samples, and its large, noisy step can undo much of the epoch.)
    """),
    code("""
    ready = all(checker(fn, verbose=False) for checker, fn in [
        (check_training_step, train_step), (check_one_hot, one_hot),
        (check_get_batches, get_batches)])
    if ready:
        rng = np.random.default_rng(0)
        net = scratchnn.MultiLayerNetwork.from_sizes([64, 32, 10], rng=0, dtype=np.float64)
        loss = scratchnn.CrossEntropyLoss()
        Y_train = one_hot(y_train, 10)
        for epoch in range(1, 11):
            X_shuffled, Y_shuffled = scratchnn.shuffle(X_train, Y_train, rng=rng)
            values = [train_step(net, xb, yb, loss, 0.2) for xb, yb in
                      zip(get_batches(X_shuffled, 50), get_batches(Y_shuffled, 50))]
            if epoch % 2 == 0:
                test_accuracy = scratchnn.accuracy(y_test, net.predict(X_test))
                print(f"epoch {epoch:2d}: loss {np.mean(values):.3f}, "
                      f"test accuracy {test_accuracy:.3f}")
    else:
        print("Waiting for train_step, one_hot and get_batches to pass their checks.")
    """),
]

CHAPTER_9 = [
    md(r"""
    ## 9. Optimizers

    An optimizer turns the gradients a backward pass left in `layer.grads` into a change of
    `layer.params`. Yours have the interface of `scratchnn.optim`: `opt = Adam(lr=0.01)`, then
    `opt.step(network)` after each backward pass, updating every `layer.params[name]` **in
    place** (`p -= ...`; `p = p - ...` would only rebind a local name). Whatever an optimizer
    remembers between steps is kept per parameter, in a dict made in `__init__` (each
    optimizer its own) and keyed by `(layer index, name)`: a name or a shape alone is shared
    by several layers. With $g$ the gradient and $\eta$ the learning rate:

    * **SGD**: $p \leftarrow p - \eta g$.
    * **Momentum**: $v \leftarrow \mu v + g$, $\;p \leftarrow p - \eta v$ ($v$ starts at 0):
      steps grow along directions the gradient keeps pointing to.
    * **RMSProp**: $s \leftarrow \alpha s + (1 - \alpha) g^2$,
      $\;p \leftarrow p - \eta\, g / (\sqrt{s} + \epsilon)$: each coordinate's step is divided by
      its recent gradient size ($\epsilon$ outside the root; $s$ starts at 0, like $v$).
    * **Adam**: both, corrected for starting at zero, with $t = 1, 2, \dots$ the step count:
      $m \leftarrow \beta_1 m + (1 - \beta_1) g$, $\;v \leftarrow \beta_2 v + (1 - \beta_2) g^2$,
      $\;\hat m = m / (1 - \beta_1^t)$, $\;\hat v = v / (1 - \beta_2^t)$,
      $\;p \leftarrow p - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$.

    The checks run several steps next to `scratchnn.optim` with the same gradients. Each
    step brings new gradient arrays, as a backward that assigns `self.grads["W"] = ...` does:
    read `layer.grads[name]` at every step.
    """),
    exercise("SGD", """
    class SGD:
        def __init__(self, lr):
            self.lr = lr

        def step(self, network):
            for i, layer in enumerate(network.layers):
                for name, p in layer.params.items():
                    g = layer.grads[name]
                    # Code here
                    raise NotImplementedError
    """),
    check('check_optimizer(SGD, "sgd");'),
    exercise("Momentum", """
    class Momentum:
        def __init__(self, lr, momentum=0.9):
            self.lr = lr
            self.momentum = momentum
            self.velocity = {}  # (layer index, parameter name) -> array shaped like the parameter

        def step(self, network):
            for i, layer in enumerate(network.layers):
                for name, p in layer.params.items():
                    g = layer.grads[name]
                    # Code here
                    raise NotImplementedError
    """),
    check('check_optimizer(Momentum, "momentum");'),
    exercise("RMSProp", """
    class RMSProp:
        def __init__(self, lr, alpha=0.99, eps=1e-8):
            self.lr = lr
            self.alpha = alpha
            self.eps = eps
            self.square_avg = {}

        def step(self, network):
            for i, layer in enumerate(network.layers):
                for name, p in layer.params.items():
                    g = layer.grads[name]
                    # Code here
                    raise NotImplementedError
    """),
    check('check_optimizer(RMSProp, "rmsprop");'),
    exercise("Adam", """
    class Adam:
        def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
            self.lr = lr
            self.betas = betas
            self.eps = eps
            self.m, self.v = {}, {}
            self.t = 0

        def step(self, network):
            b1, b2 = self.betas
            # Code here: count this step in self.t (t = 1 at the first step), then update
            # every parameter as in the other optimizers.
            raise NotImplementedError
    """),
    check('check_optimizer(Adam, "adam");'),
    md(r"""
    Each optimizer that passes its check now trains the same network for five epochs:
    """),
    code("""
    def train_with(optimizer, epochs=5):
        rng = np.random.default_rng(0)
        net = scratchnn.MultiLayerNetwork.from_sizes([64, 32, 10], rng=0, dtype=np.float64)
        loss = scratchnn.CrossEntropyLoss()
        for _ in range(epochs):
            X_shuffled, y_shuffled = scratchnn.shuffle(X_train, y_train, rng=rng)
            for start in range(0, len(X_shuffled), 50):
                xb, yb = X_shuffled[start:start + 50], y_shuffled[start:start + 50]
                loss.forward(yb, net.forward(xb))
                net.backward(loss.backward(), input_grad=False)
                optimizer.step(net)
        return scratchnn.accuracy(y_test, net.predict(X_test))


    for cls, kind, lr in [(SGD, "sgd", 0.5), (Momentum, "momentum", 0.05),
                          (RMSProp, "rmsprop", 0.005), (Adam, "adam", 0.005)]:
        if check_optimizer(cls, kind, verbose=False):
            print(f"{cls.__name__:<9} lr {lr:<6} test accuracy after 5 epochs: "
                  f"{train_with(cls(lr=lr)):.3f}")
        else:
            print(f"{cls.__name__:<9} waiting for its check to pass.")
    """),
]

CHAPTER_10 = [
    md(r"""
    ## 10. Weight initialisation

    With $n$ inputs of unit variance, weights of variance $v$ give outputs of variance $n v$.
    Too large and activations explode layer after layer; too small and they vanish. Two scales
    keep the variance steady:

    * **Xavier (Glorot)**, for tanh and sigmoid: $\operatorname{Var}(W) = \dfrac{2}{n_\text{in} +
      n_\text{out}}$; the uniform version draws from $U(-a, a)$ with
      $a = \sqrt{6 / (n_\text{in} + n_\text{out})}$ (a uniform $U(-a, a)$ has variance $a^2/3$).
    * **He (Kaiming)**, for ReLU, which zeroes half its inputs: $\operatorname{Var}(W) =
      \dfrac{2}{n_\text{in}}$; the normal version draws from $N(0, 2 / n_\text{in})$, i.e.
      standard deviation $\sqrt{2 / n_\text{in}}$.

    Each function returns a weight matrix of shape `(n_in, n_out)`, drawn from the generator
    `rng` it is given (`rng.uniform`, `rng.normal`), so that a seed makes it repeatable.
    """),
    exercise("xavier_uniform", """
    def xavier_uniform(n_in, n_out, rng):
        # Code here
        raise NotImplementedError
    """),
    check('check_initializer(xavier_uniform, "xavier_uniform");'),
    exercise("he_normal", """
    def he_normal(n_in, n_out, rng):
        # Code here
        raise NotImplementedError
    """),
    check('check_initializer(he_normal, "he_normal");'),
    md(r"""
    What the scale does to a deep network: the spread of the activations after each of ten
    256-wide layers, for the original notebook's $U(-1, 1)$ and for He's scale (scratchnn's own
    initialisers, so this runs whether or not yours are done).
    """),
    code("""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 256))
    for name in ("uniform", "he_normal"):
        a, spread = x, []
        for _ in range(10):
            a = np.maximum(a @ scratchnn.init.get(name)((256, 256), rng=rng, dtype=np.float64), 0)
            spread.append(a.std())
        print(f"{name:<10}", " ".join(f"{s:9.3g}" for s in spread))
    """),
    md(r"""
    When every check passes, you have written the core of `scratchnn`. Compare your code with
    its source (`scratchnn/layers/dense.py` and `activations.py`, `network.py`, `losses.py`,
    `optim.py`), which adds input checks, float32 support and a few speed-ups around the same
    maths. The capstone at the end of this notebook trains your own classes on the digits.
    """),
]


def build():
    nb = new_notebook()
    nb.cells = (INTRO + CHAPTER_1 + CHAPTER_2 + CHAPTER_3 + CHAPTER_4 + CHAPTER_5 + CHAPTER_6
                + CHAPTER_7 + CHAPTER_8 + CHAPTER_9 + CHAPTER_10
                # The capstone trains the classes of chapters 3-10, so it comes last.
                + [cell for chapter in (regularisation, graph, sanity, convolution, capstone)
                   for cell in chapter.EXERCISES])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable: nbformat's are random, a rebuild would change them all
    return nb


def main():
    nb = build()
    nbformat.validate(nb)
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {NOTEBOOK}", file=sys.stderr)


if __name__ == "__main__":
    main()
