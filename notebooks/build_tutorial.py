"""Build notebooks/tutorial.ipynb from the cells below, and optionally run it and save its outputs.

    python notebooks/build_tutorial.py             # write the notebook without outputs
    python notebooks/build_tutorial.py --execute   # ... run it top to bottom, keep the outputs,
                                                   # and copy the README figure to docs/images/

The notebook is written here as Python strings so that it can be reviewed in a diff and
regenerated; edit this file, not the .ipynb. Running it needs nbformat, nbclient, ipykernel and
matplotlib: `pip install -e ".[dev]"`.

The build is deterministic, so rebuilding an unchanged tutorial leaves git clean: cell ids come
from the cell's position ("cell-0", "cell-1", ...), not nbformat's random ones, and no execution
timestamps are recorded, and each cell's printed text is one output however the kernel sent it.
Everything the cells compute is seeded and runs on one BLAS thread.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

import nbformat
from cells import code, md
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "tutorial.ipynb"
README_FIGURE = HERE.parent / "docs" / "images" / "tutorial-initialisation.png"
README_TAG = "readme-figure"  # the cell whose first PNG output becomes README_FIGURE


INTRO = [
    md(r"""
    # Neural networks from scratch: a tutorial that runs

    This notebook builds a neural network up from a single perceptron to a trained digit
    classifier, one idea at a time. Each chapter states the idea, writes down the maths, computes
    it (often twice: a few lines of plain NumPy next to the `scratchnn` call, with a check that
    both agree), and ends with a plot or a printed check and a sentence on what to notice.

    1. From perceptron to neural network
    2. Forward propagation
    3. Loss functions
    4. Backpropagation and the update step
    5. Layers and activations
    6. Depth versus width
    7. Data: digits and MNIST
    8. The training loop
    9. Optimizers
    10. Weight initialisation

    Everything is seeded, so running it again gives the same numbers. It runs top to bottom in
    well under a minute on a laptop.
    """),
    code("""
    %matplotlib inline
    import os
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np
    from IPython.display import display

    from scratchnn import (
        BinaryCrossEntropyLoss,
        CrossEntropyLoss,
        LeakyReLULayer,
        LinearLayer,
        MSELoss,
        MultiLayerNetwork,
        ReLULayer,
        SigmoidLayer,
        TanhLayer,
        accuracy,
        binary_cross_entropy,
        cross_entropy_loss,
        get_batches,
        gradcheck,
        leaky_relu,
        mae,
        mse,
        relu,
        shuffle,
        sigmoid,
        softmax,
        tanh,
    )
    from scratchnn.datasets import load_digits, load_mnist
    from scratchnn.gradient_check import numerical_gradient, relative_error
    from scratchnn.optim import SGD, Adam, CosineAnnealing, RMSProp
    from scratchnn.plots import plot_activation, plot_history, plot_images, plot_misclassified
    from scratchnn.preprocessing import Scaler, train_test_split
    from scratchnn.training import TrainingDivergedError

    SEED = 0
    np.set_printoptions(precision=4, suppress=True)
    plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})

    # scikit-learn's 1,797 handwritten digits (8x8 pixels, scaled to [0, 1]): small enough that
    # every experiment below trains in a second or two. One fixed, stratified split: 1,344
    # training images (exactly 42 batches of 32, see chapter 8) and 453 test images.
    X_digits, y_digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        X_digits, y_digits, test_size=453, seed=SEED, stratify=True
    )
    print(f"train {X_train.shape} {X_train.dtype}, test {X_test.shape}, "
          f"classes {np.unique(y_train)}")
    """, tags=["setup"]),
]

CHAPTER_1 = [
    md(r"""
    ## 1. From perceptron to neural network

    **The linear model.** A perceptron scores an input $x \in \mathbb{R}^d$ with a weight vector
    $w$ and a bias $b$ and answers with the sign of the score:

    $$\hat y = \operatorname{sign}(w^\top x + b).$$

    Rosenblatt's learning rule is one line: whenever a sample $(x_i, t_i)$ with $t_i \in
    \{-1, +1\}$ is misclassified, i.e. $t_i (w^\top x_i + b) \le 0$, move the boundary towards it,
    $w \leftarrow w + t_i x_i$, $b \leftarrow b + t_i$. If a line separating the two classes
    exists, this stops after finitely many mistakes. If none exists, it never stops.

    The classic case with no separating line is XOR: $(0,0)$ and $(1,1)$ are one class, $(0,1)$ and
    $(1,0)$ the other. Let us watch the rule succeed on AND and fail on XOR.
    """),
    code("""
    X_xor = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    t_and = np.array([-1, -1, -1, 1])
    t_xor = np.array([-1, 1, 1, -1])


    def train_perceptron(X, t, epochs=100):
        \"\"\"Rosenblatt's rule; returns (w, b, mistakes in the last epoch).\"\"\"
        w, b = np.zeros(X.shape[1]), 0.0
        for _ in range(epochs):
            mistakes = 0
            for x_i, t_i in zip(X, t):
                if t_i * (x_i @ w + b) <= 0:
                    w, b = w + t_i * x_i, b + t_i
                    mistakes += 1
            if mistakes == 0:
                break
        return w, b, mistakes


    for name, t in [("AND", t_and), ("XOR", t_xor)]:
        w, b, mistakes = train_perceptron(X_xor, t)
        print(f"{name}: w = {w}, b = {b:+.0f}, mistakes in the last of <= 100 epochs: {mistakes}")
    """),
    md(r"""
    A perceptron's score is exactly what `LinearLayer` computes, $z = xW + b$, with $W$ of shape
    $(d, 1)$: putting the learned AND weights into a layer gives the same scores.
    """),
    code("""
    w_and, b_and, _ = train_perceptron(X_xor, t_and)
    layer = LinearLayer(2, 1, dtype=np.float64)
    layer.params["W"][:] = w_and[:, None]
    layer.params["b"][:] = b_and
    scores = layer.forward(X_xor)
    signs_match = np.array_equal(np.sign(scores.ravel()), t_and)
    print("scores:", scores.ravel(), " signs match AND:", signs_match)
    """),
    md(r"""
    **Kernels: make the data linear in new features.** A linear model in a feature map
    $\varphi(x)$ is non-linear in $x$. For XOR the product of the two inputs is enough:
    with $\varphi(x) = (x_1, x_2, x_1 x_2)$ the score $x_1 + x_2 - 2 x_1 x_2 - \tfrac12$ separates
    the classes. The *kernel trick* avoids writing $\varphi$ down: the perceptron's weight vector
    is always a sum of training samples, $w = \sum_j \alpha_j t_j \varphi(x_j)$ (where $\alpha_j$
    counts the mistakes made on sample $j$), so scores only need inner products,

    $$f(x) = \sum_j \alpha_j t_j \, k(x_j, x), \qquad k(x, x') = \varphi(x)^\top \varphi(x').$$

    The polynomial kernel $k(x, x') = (1 + x^\top x')^2$ is the inner product of features that
    include $x_1 x_2$, so the *kernel perceptron* below learns XOR.
    """),
    code("""
    def poly_kernel(A, B):
        return (1.0 + A @ B.T) ** 2


    def train_kernel_perceptron(X, t, kernel, epochs=100):
        \"\"\"The perceptron in its dual form: alpha[j] counts the mistakes made on sample j.\"\"\"
        alpha, K = np.zeros(len(X)), kernel(X, X)
        for _ in range(epochs):
            mistakes = 0
            for i in range(len(X)):
                if t[i] * (K[i] @ (alpha * t)) <= 0:
                    alpha[i] += 1
                    mistakes += 1
            if mistakes == 0:
                break
        return alpha, mistakes


    alpha, mistakes = train_kernel_perceptron(X_xor, t_xor, poly_kernel)
    kernel_scores = poly_kernel(X_xor, X_xor) @ (alpha * t_xor)
    print(f"alpha = {alpha}, mistakes in the last epoch: {mistakes}")
    print("XOR classified correctly:", np.array_equal(np.sign(kernel_scores), t_xor))
    """),
    md(r"""
    **Why the non-linearity matters.** A neural network *learns* its features instead of fixing a
    kernel: a first layer computes features $h = f(xW_1 + b_1)$, a second layer is a linear model
    on them. The activation $f$ is essential. Without it, two layers collapse into one:

    $$(x W_1 + b_1) W_2 + b_2 = x \underbrace{W_1 W_2}_{W} + \underbrace{b_1 W_2 + b_2}_{b},$$

    so stacking linear layers never adds expressive power. Numerically:
    """),
    code("""
    rng = np.random.default_rng(SEED)
    first = LinearLayer(2, 5, rng=rng, dtype=np.float64)
    second = LinearLayer(5, 3, rng=rng, dtype=np.float64)
    first.params["b"][:] = rng.normal(size=(1, 5))  # non-zero biases, so they are tested too
    second.params["b"][:] = rng.normal(size=(1, 3))

    merged = LinearLayer(2, 3, dtype=np.float64)
    merged.params["W"][:] = first.params["W"] @ second.params["W"]
    merged.params["b"][:] = first.params["b"] @ second.params["W"] + second.params["b"]

    x = rng.normal(size=(100, 2))
    stacked = second.forward(first.forward(x))
    with_relu = second.forward(ReLULayer().forward(first.forward(x)))
    one_layer = merged.forward(x)
    print(f"two linear layers vs the merged one, largest difference: "
          f"{np.abs(stacked - one_layer).max():.1e}")
    print(f"with a ReLU in between, largest difference: {np.abs(with_relu - one_layer).max():.2f}")
    """),
    md(r"""
    With one hidden layer of four tanh units and a sigmoid output, a network learns XOR by
    gradient descent (chapters 3-4 explain how `fit` does it).
    """),
    code("""
    xor_net = MultiLayerNetwork.from_sizes(
        [2, 4, 1], activation="tanh", output_activation="sigmoid", rng=SEED
    )
    t01 = (t_xor > 0).astype(np.float32)  # 0/1 targets for binary cross-entropy
    xor_net.fit(X_xor, t01, loss="bce", optimizer=Adam(lr=0.05), epochs=300, batch_size=4,
                seed=SEED, verbose=0)
    print("network's probabilities:", xor_net.predict_proba(X_xor)[:, 1].round(3))
    print("XOR classified correctly:", np.array_equal(xor_net.predict(X_xor), t01.astype(int)))
    """),
    code("""
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 201), np.linspace(-0.5, 1.5, 201)), axis=-1)
    points = grid.reshape(-1, 2)
    w_xor, b_xor, _ = train_perceptron(X_xor, t_xor)
    regions = {
        "perceptron (linear): fails": points @ w_xor + b_xor,
        "kernel perceptron (degree 2)": poly_kernel(points, X_xor) @ (alpha * t_xor),
        "network 2-4-1 (tanh)": xor_net.predict_proba(points)[:, 1] - 0.5,
    }
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained")
    for ax, (title, score) in zip(axes, regions.items()):
        ax.contourf(grid[..., 0], grid[..., 1], score.reshape(grid.shape[:2]) > 0,
                    levels=[-0.5, 0.5, 1.5], colors=["tab:blue", "tab:orange"], alpha=0.25)
        ax.scatter(*X_xor.T, c=np.where(t_xor > 0, "tab:orange", "tab:blue"), s=120, edgecolor="k")
        ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    fig.suptitle("XOR: regions each model assigns to the orange class")
    plt.show()
    """),
    md(r"""
    *What to notice:* no line separates XOR, so the perceptron cycles forever; a fixed
    non-linear feature (the kernel) or a learned one (the hidden layer) solves it, and the
    hidden layer only helps because of the non-linearity between the two linear maps.
    """),
]

CHAPTER_2 = [
    md(r"""
    ## 2. Forward propagation

    A multilayer network alternates linear maps and activations. For a batch of $B$ samples as
    the rows of $X = a^{(0)}$, layer $l$ computes

    $$z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}, \qquad a^{(l)} = f\big(z^{(l)}\big),$$

    with $W^{(l)}$ of shape $(n_{l-1}, n_l)$ and $b^{(l)}$ of shape $(1, n_l)$, added to every
    row by broadcasting. The shapes follow: $(B, n_{l-1}) \to (B, n_l)$. The last layer gives
    one raw score (*logit*) per class; softmax (chapter 3) turns them into probabilities.

    Below: 5 digits (64 pixels each) through $64 \to 32 \to 10$, one layer at a time, then the
    same computation in three lines of NumPy.
    """),
    code("""
    net = MultiLayerNetwork(
        [LinearLayer(64, 32, rng=SEED), ReLULayer(), LinearLayer(32, 10, rng=SEED + 1)]
    )
    print(net, "\\n")

    x = X_train[:5]
    out = x
    print(f"{'input':<40} {out.shape}")
    for layer in net.layers:
        out = layer.forward(out)
        print(f"{layer!r:<40} -> {out.shape}")
    """),
    code("""
    W1, b1 = net.layers[0].params["W"], net.layers[0].params["b"]
    W2, b2 = net.layers[2].params["W"], net.layers[2].params["b"]
    print("W1", W1.shape, "b1", b1.shape, "W2", W2.shape, "b2", b2.shape)

    z1 = x @ W1 + b1            # (5, 64) @ (64, 32) + (1, 32) -> (5, 32)
    a1 = np.maximum(z1, 0)      # (5, 32)
    z2 = a1 @ W2 + b2           # (5, 32) @ (32, 10) + (1, 10) -> (5, 10)
    logits = net.forward(x)
    print("by hand == net.forward:", np.allclose(z2, logits, atol=1e-6), "| dtype", logits.dtype)

    probs = softmax(logits)
    print("probabilities sum to 1 per row:", probs.sum(axis=1))
    print("predicted classes:", probs.argmax(axis=1), " true:", y_train[:5])
    """),
    md(r"""
    *What to notice:* the batch size $B$ rides along unchanged in the first axis; only the second
    axis changes, as set by each weight matrix. The untrained network's guesses are arbitrary and
    its probabilities are nearly uniform (about $1/10$ each).
    """),
]

CHAPTER_3 = [
    md(r"""
    ## 3. Loss functions

    Training needs one number saying how wrong the predictions $\hat y$ are.

    **Regression.** Mean squared error and mean absolute error over $n$ values:

    $$\mathrm{MSE} = \frac1n \sum_i (\hat y_i - y_i)^2, \qquad
      \mathrm{MAE} = \frac1n \sum_i |\hat y_i - y_i|, $$

    $$\frac{\partial\,\mathrm{MSE}}{\partial \hat y_i} = \frac{2}{n}(\hat y_i - y_i), \qquad
      \frac{\partial\,\mathrm{MAE}}{\partial \hat y_i} =
      \frac1n \operatorname{sign}(\hat y_i - y_i).$$

    The squared error grows quadratically with a residual and its gradient grows with it, so one
    outlier can dominate; the absolute error's gradient has the same size for every point. We fit a
    line, a `LinearLayer(1, 1)`, to 20 points of which one is an outlier, once with each loss.
    """),
    code("""
    rng = np.random.default_rng(SEED)
    x_line = np.linspace(0, 1, 20, dtype=np.float32).reshape(-1, 1)
    y_line = (2 * x_line + 1 + 0.1 * rng.normal(size=x_line.shape)).astype(np.float32)
    y_line[-3] = -3.0  # the outlier

    lines = {}
    for loss_name in ["mse", "mae"]:
        model = MultiLayerNetwork([LinearLayer(1, 1, rng=SEED)])
        model.fit(x_line, y_line, loss=loss_name, optimizer=Adam(lr=0.1), epochs=600, batch_size=20,
                  seed=SEED, verbose=0, callbacks=[CosineAnnealing(T_max=600)])
        slope, intercept = model.layers[0].params["W"].item(), model.layers[0].params["b"].item()
        lines[loss_name] = (slope, intercept)
        print(f"{loss_name.upper()} fit: y = {slope:.3f} x + {intercept:.3f}")

    # Checks: the MSE line is the least-squares line; the MAE line has as many points above as
    # below.
    ls_slope, ls_intercept = np.polyfit(x_line.ravel(), y_line.ravel(), 1)
    print(f"least squares (np.polyfit): y = {ls_slope:.3f} x + {ls_intercept:.3f}")
    residuals = y_line.ravel() - (lines["mae"][0] * x_line.ravel() + lines["mae"][1])
    above, below = np.sum(residuals > 1e-3), np.sum(residuals < -1e-3)
    print(f"MAE line: {above} points above, {below} below, {len(residuals) - above - below} on it")
    """),
    code("""
    pred = (lines["mse"][0] * x_line + lines["mse"][1]).astype(np.float32)
    print("gradient on the outlier / on a typical point:")
    for name, loss_fn in [("MSE", mse), ("MAE", mae)]:
        grad = loss_fn(y_line, pred, derivative=True)
        print(f"  {name}: {grad[-3, 0]:+.3f} / {grad[5, 0]:+.3f}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    r = np.linspace(-3, 3, 201)
    ax1.plot(r, r**2, label="squared: $r^2$")
    ax1.plot(r, np.abs(r), label="absolute: $|r|$")
    ax1.set(title="Penalty for a residual r", xlabel="residual r = prediction - target",
            ylim=(0, 9))
    ax1.legend()
    ax2.scatter(x_line, y_line, color="k", s=20, label="data")
    ax2.scatter(x_line[-3], y_line[-3], color="tab:red", s=80, label="outlier")
    for loss_name, (slope, intercept) in lines.items():
        ax2.plot(x_line, slope * x_line + intercept, linewidth=2,
                 label=f"fit with {loss_name.upper()}")
    ax2.set(title="A line fitted with each loss", xlabel="x", ylabel="y")
    ax2.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* the MSE line is dragged towards the outlier (its gradient there is many times
    that on an ordinary point), while the MAE line follows the other 19 points. (A line that
    minimises the absolute error passes through as many points as it has parameters, here two, and
    has as many points above it as below.) MSE is the right
    choice when errors are Gaussian-like; MAE (or a compromise like the Huber loss) when outliers
    are expected.

    **Binary classification.** A model outputs $p = P(y = 1 \mid x)$, usually as $\sigma(z)$.
    The *binary cross-entropy* is the negative log-likelihood of the labels $y \in \{0, 1\}$:

    $$\mathrm{BCE} = -\frac1n \sum_i \big[y_i \log p_i + (1 - y_i) \log (1 - p_i)\big].$$

    A confident wrong answer costs a lot: $-\log(0.01) \approx 4.6$.
    """),
    code("""
    y_bin = np.array([1, 1, 0, 1], dtype=np.float32)
    p_bin = np.array([0.9, 0.6, 0.2, 0.01], dtype=np.float32)
    per_sample = -(y_bin * np.log(p_bin) + (1 - y_bin) * np.log(1 - p_bin))
    print("per-sample losses:", per_sample)
    print(f"NumPy: {per_sample.mean():.5f}   scratchnn: {binary_cross_entropy(y_bin, p_bin):.5f}")

    # With raw scores z, the loss object fuses the sigmoid in and stays finite for any z.
    z_bin = np.log(p_bin / (1 - p_bin))  # the logits of p_bin
    print(f"from logits: {BinaryCrossEntropyLoss(from_logits=True).forward(y_bin, z_bin):.5f}")
    """),
    md(r"""
    **Multiclass classification.** Softmax turns $C$ logits into probabilities, and the
    cross-entropy takes the negative log-probability of the true class $c_i$:

    $$s_k(z) = \frac{e^{z_k}}{\sum_j e^{z_j}}, \qquad
      \mathrm{CE} = -\frac1n \sum_i \log s_{c_i}(z_i), \qquad
      \frac{\partial\,\mathrm{CE}}{\partial z_i} = \frac1n\big(s(z_i) - \mathrm{onehot}(c_i)\big).$$

    The gradient is remarkably simple: "what was predicted minus what was right". Computing
    $e^{z}$ directly overflows for large logits; subtracting $\max_j z_j$ first changes nothing
    in $s$ (it cancels) and keeps the exponents $\le 0$.
    """),
    code("""
    logits_ce = np.array([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, 0.3, 0.0], [1.0, 1.0, 1.0, 1.0]])
    labels_ce = np.array([0, 2, 3])

    shifted = logits_ce - logits_ce.max(axis=1, keepdims=True)
    s = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    ce_numpy = -np.log(s[np.arange(3), labels_ce]).mean()
    grad_numpy = (s - np.eye(4)[labels_ce]) / 3
    print(f"NumPy: {ce_numpy:.5f}   scratchnn: {cross_entropy_loss(labels_ce, logits_ce):.5f}")
    grad_library = cross_entropy_loss(labels_ce, logits_ce, derivative=True)
    print("gradients agree:", np.allclose(grad_numpy, grad_library))
    print("softmax of [1000, 1001, 1002]:", softmax(np.array([1000.0, 1001.0, 1002.0])),
          "(no overflow)")
    """),
    md(r"""
    **The softmax Jacobian.** Every output of softmax depends on every input:

    $$\frac{\partial s_i}{\partial z_j} = s_i(\delta_{ij} - s_j), \qquad
      J = \operatorname{diag}(s) - s s^\top.$$

    `softmax(z, derivative=True)` returns this matrix. We check it column by column against
    central differences $\big(s(z + h e_j) - s(z - h e_j)\big) / 2h$.
    """),
    code("""
    z = np.array([1.0, 2.0, 0.5, -1.0])
    J = softmax(z, derivative=True)
    h = 1e-6
    columns = [(softmax(z + h * e) - softmax(z - h * e)) / (2 * h) for e in np.eye(4)]
    J_numeric = np.stack(columns, axis=1)  # column j: the change of s when z_j moves
    print("J =\\n", J)
    print(f"largest difference from finite differences: {np.abs(J - J_numeric).max():.1e}")
    print("symmetric:", np.allclose(J, J.T), "| each row sums to", J.sum(axis=1).round(12))
    """),
    md(r"""
    *What to notice:* the rows of $J$ sum to zero, because the probabilities always sum to one:
    pushing one logit up can only move probability around. That is why the fused
    "softmax + cross-entropy" gradient $s - y$ is both cheaper and more stable than multiplying
    by $J$.
    """),
]

CHAPTER_4 = [
    md(r"""
    ## 4. Backpropagation and the update step

    Backpropagation is the chain rule applied from the loss backwards, reusing what the forward
    pass stored. Write $\delta^{(l)} = \partial L / \partial z^{(l)}$, a matrix shaped like
    $z^{(l)}$. For a layer $z = aW + b$ and an activation $a = f(z)$:

    $$\frac{\partial L}{\partial W^{(l)}} = a^{(l-1)\top} \delta^{(l)}, \qquad
      \frac{\partial L}{\partial b^{(l)}} = \sum_{\text{batch}} \delta^{(l)}, \qquad
      \delta^{(l-1)} = \big(\delta^{(l)} W^{(l)\top}\big) \odot f'\big(z^{(l-1)}\big).$$

    Then gradient descent moves every parameter a small step downhill:
    $\theta \leftarrow \theta - \eta \, \partial L / \partial \theta$ with learning rate $\eta$.

    We write the backward pass of a $3 \to 4 \to 2$ tanh network with MSE by hand and compare it
    with `net.backward`. Gradient checks use float64, where finite differences are accurate.
    """),
    code("""
    rng = np.random.default_rng(SEED)
    small = MultiLayerNetwork([LinearLayer(3, 4, rng=rng, dtype=np.float64), TanhLayer(),
                               LinearLayer(4, 2, rng=rng, dtype=np.float64)])
    x4, y4 = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    mse_loss = MSELoss()
    loss_before = mse_loss.forward(y4, small.forward(x4))
    small.backward(mse_loss.backward())

    W1, b1 = small.layers[0].params["W"], small.layers[0].params["b"]
    W2, b2 = small.layers[2].params["W"], small.layers[2].params["b"]
    z1 = x4 @ W1 + b1
    a1 = np.tanh(z1)
    z2 = a1 @ W2 + b2
    delta2 = 2 * (z2 - y4) / z2.size        # dL/dz2 for the mean squared error
    dW2, db2 = a1.T @ delta2, delta2.sum(axis=0, keepdims=True)
    delta1 = (delta2 @ W2.T) * (1 - a1**2)   # tanh'(z) = 1 - tanh(z)^2
    dW1, db1 = x4.T @ delta1, delta1.sum(axis=0, keepdims=True)

    by_hand = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    library = {"W1": small.layers[0].grads["W"], "b1": small.layers[0].grads["b"],
               "W2": small.layers[2].grads["W"], "b2": small.layers[2].grads["b"]}
    for name in by_hand:
        print(f"d{name}: hand == library: {np.allclose(by_hand[name], library[name])}")
    """),
    md(r"""
    **A gradient check by hand.** The derivative is a limit, so we can approximate it: nudge one
    weight by $\pm\varepsilon$ and measure the loss,

    $$\frac{\partial L}{\partial \theta} \approx
      \frac{L(\theta + \varepsilon) - L(\theta - \varepsilon)}{2\varepsilon},$$

    with an error of order $\varepsilon^2$. We compare with the relative error
    $\lVert g - \tilde g \rVert / (\lVert g \rVert + \lVert \tilde g \rVert)$: about $10^{-10}$
    when the analytic gradient is right, about $1$ when it is wrong.
    """),
    code("""
    def loss_now():
        return mse_loss.forward(y4, small.forward(x4))


    eps = 1e-6
    numeric = np.zeros_like(W1)
    for idx in np.ndindex(W1.shape):
        old = W1[idx]                    # W1 is the layer's own array: change it in place
        W1[idx] = old + eps
        up = loss_now()
        W1[idx] = old - eps
        down = loss_now()
        W1[idx] = old
        numeric[idx] = (up - down) / (2 * eps)

    # The library's numerical_gradient is this loop; relative_error is the formula above.
    print("loop == numerical_gradient:", np.allclose(numeric, numerical_gradient(loss_now, W1)))
    print(f"dW1 vs finite differences: relative error {relative_error(dW1, numeric):.1e}")
    forgot_tanh = x4.T @ (delta2 @ W2.T)  # a typical bug: the activation's derivative left out
    print(f"the same check on a buggy gradient:  {relative_error(forgot_tanh, numeric):.1e}")
    print()
    print(gradcheck(small, x4))  # the library's version: every parameter and the input
    """),
    code("""
    small.update_params(0.1)  # one step: p <- p - 0.1 dL/dp for every parameter
    print(f"loss before the step {loss_before:.4f}, after {loss_now():.4f}")
    for _ in range(50):
        mse_loss.forward(y4, small.forward(x4))
        small.backward(mse_loss.backward())
        small.update_params(0.1)
    print(f"after 50 more steps: {loss_now():.4f}")
    """),
    md(r"""
    *What to notice:* the hand-written gradients, the library's and the finite differences agree
    to about ten digits, while a gradient missing one factor fails the check by ten orders of
    magnitude. Running such a check is the fastest way to debug a new layer.
    """),
]

CHAPTER_5 = [
    md(r"""
    ## 5. Layers and activations

    An activation is applied elementwise, so its backward pass multiplies the incoming gradient
    by its derivative. The four classics:

    | name | $f(x)$ | $f'(x)$ |
    | --- | --- | --- |
    | sigmoid | $\sigma(x) = 1 / (1 + e^{-x})$ | $\sigma(x)\,(1 - \sigma(x))$ |
    | tanh | $\tanh x$ | $1 - \tanh^2 x$ |
    | ReLU | $\max(0, x)$ | $1$ if $x > 0$ else $0$ |
    | leaky ReLU | $x$ if $x > 0$ else $\alpha x$ | $1$ if $x > 0$ else $\alpha$ |

    Sigmoid and tanh *saturate*: for large $|x|$ their derivative vanishes, and the sigmoid's is
    never above $1/4$. ReLU passes gradients through unchanged where it is active but blocks them
    completely where it is not; leaky ReLU keeps a small slope $\alpha$ there.
    """),
    code("""
    for name in ["sigmoid", "relu", "tanh", "leaky_relu"]:
        display(plot_activation(name))
    """),
    md(r"""
    Two checks for each activation: its derivative against central differences (away from the
    kink at 0, where ReLU has no derivative), and its layer's backward pass, which must be the
    incoming gradient times that derivative.
    """),
    code("""
    xs = np.linspace(-5, 5, 1000)  # an even count, so 0 itself is not among the points
    g = np.random.default_rng(SEED).normal(size=(1, xs.size))
    pairs = [(sigmoid, SigmoidLayer()), (tanh, TanhLayer()), (relu, ReLULayer()),
             (leaky_relu, LeakyReLULayer(alpha=0.01))]
    for fn, layer in pairs:
        numeric = (fn(xs + 1e-6) - fn(xs - 1e-6)) / 2e-6
        derivative_error = np.abs(fn(xs, derivative=True) - numeric).max()
        layer.forward(xs[None, :])
        backward_ok = np.allclose(layer.backward(g), g * fn(xs, derivative=True))
        print(f"{fn.__name__:<11} derivative error {derivative_error:.1e}   "
              f"{type(layer).__name__}.backward == g * f'(x): {backward_ok}")
    print(f"\\nlargest sigmoid derivative {sigmoid(0.0, derivative=True):.2f}; "
          f"through 10 sigmoid layers a gradient shrinks by at least {0.25**10:.0e}")
    """),
    md(r"""
    *What to notice:* through many sigmoid layers, gradients shrink by at least a factor 4 per
    layer: the *vanishing gradient* that made deep networks hard to train before ReLU.
    """),
]

CHAPTER_6 = [
    md(r"""
    ## 6. Depth versus width

    One hidden layer with enough units can approximate any continuous function (the universal
    approximation theorem), but it may need very many. Depth composes features: later layers
    build on the earlier ones. Which is better at a fixed budget of parameters? A layer
    $n_\text{in} \to n_\text{out}$ has $n_\text{in} n_\text{out} + n_\text{out}$ parameters. We
    compare a "fat" network with one hidden layer of 48 units against three stacked hidden layers
    whose width is chosen to give (nearly) the same count, each trained three times with
    different seeds.
    """),
    code("""
    def count_params(sizes):
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


    wide = [64, 48, 10]
    budget = count_params(wide)
    h = min(range(1, 64), key=lambda h: abs(count_params([64, h, h, h, 10]) - budget))
    deep = [64, h, h, h, 10]
    print(f"wide {wide}: {count_params(wide)} parameters; "
          f"deep {deep}: {count_params(deep)} parameters")

    results = {}
    for name, sizes in [("wide", wide), ("deep", deep)]:
        runs = []
        for seed in range(3):
            model = MultiLayerNetwork.from_sizes(sizes, rng=seed)
            hist = model.fit(X_train, y_train, optimizer=Adam(lr=3e-3), epochs=20, batch_size=32,
                             seed=seed, validation_data=(X_test, y_test), verbose=0)
            runs.append(hist.history)
        results[name] = runs
        final = [run["val_accuracy"][-1] for run in runs]
        print(f"{name:<5} test accuracy after 20 epochs: "
              f"{np.mean(final):.3f} +- {np.std(final):.3f}")
    """),
    code("""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for (name, runs), color in zip(results.items(), ["tab:blue", "tab:orange"]):
        for i, run in enumerate(runs):
            epochs = np.arange(1, len(run["loss"]) + 1)
            label = f"{name} {wide if name == 'wide' else deep}" if i == 0 else None
            ax1.plot(epochs, run["loss"], color=color, alpha=0.8, label=label)
            ax2.plot(epochs, run["val_accuracy"], color=color, alpha=0.8, label=label)
    ax1.set(title="training loss", xlabel="epoch", yscale="log")
    ax2.set(title="test accuracy", xlabel="epoch", ylim=(0.85, 1.0))
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* with the same number of parameters, the deep network fits the training set
    better (its training loss ends clearly lower), yet it is no better on the test set: on
    1,344 small images the extra flexibility goes into memorising the training images rather than
    into features that generalise. Depth pays off on harder problems with structure to compose,
    such as full-resolution images, and only with a sensible initialisation (chapter 10).
    """),
]

CHAPTER_7 = [
    md(r"""
    ## 7. Data: digits and MNIST

    The digits data set holds 1,797 images of $8 \times 8$ pixels with intensities 0-16. A network
    sees each as a row of 64 numbers (the image read row by row), scaled to $[0, 1]$ so that the
    first layer's inputs have a sensible size. Below: the first digit's pixels as numbers, then the
    first 36 digits with their labels.
    """),
    code("""
    images, labels = load_digits(return_images=True)  # (n, channels, height, width)
    print("images", images.shape, "-> rows of", images[0].size, "features")
    print("the first digit, a", labels[0], "(intensities 0-16):")
    print((images[0, 0] * 16).astype(int))
    plot_images(images, labels, n=36, dpi=70)
    """),
    md(r"""
    **MNIST** has $28 \times 28$ images: 60,000 for training and 10,000 for testing. This
    notebook does not download anything. It looks for local files in the folder named by the
    environment variable `SCRATCHNN_MNIST_DIR`, or else in `../shared/data` beside the
    repository, in either layout:

    * the standard files (`train-images-idx3-ubyte.gz`, ... or `mnist_train.csv`/`mnist_test.csv`),
      read by `load_mnist(folder)`;
    * a `mnist/` folder with the 10,000 test images (IDX) and `mnist5k/mnist_5k.csv.gz`, 5,000
      training images as CSV.

    When no files are found, the training below is skipped with a note (use
    `scratchnn.datasets.download_mnist(folder)` to fetch the files once).
    """),
    code("""
    def find_mnist_folder():
        \"\"\"$SCRATCHNN_MNIST_DIR if set, else ../shared/data beside the repository.\"\"\"
        if os.environ.get("SCRATCHNN_MNIST_DIR"):
            return Path(os.environ["SCRATCHNN_MNIST_DIR"])
        here = Path.cwd().resolve()
        repo = next((p for p in [here, *here.parents] if (p / "pyproject.toml").exists()), None)
        return repo.parent / "shared" / "data" if repo is not None else None


    def load_local_mnist(folder):
        \"\"\"((X_train, y_train), (X_test, y_test)) from either layout described above.\"\"\"
        try:
            return load_mnist(folder)
        except FileNotFoundError:
            train = load_mnist(folder / "mnist5k" / "mnist_5k.csv.gz")
            test = load_mnist(folder / "mnist", split="test")
            return train, test


    folder, mnist = find_mnist_folder(), None
    try:
        if folder is None or not folder.is_dir():
            raise FileNotFoundError(f"no folder at {folder}")
        mnist = load_local_mnist(folder)
        (Xm_train, ym_train), (Xm_test, ym_test) = mnist
        print(f"MNIST train {Xm_train.shape}, test {Xm_test.shape}, "
              f"pixels in [{Xm_train.min()}, {Xm_train.max()}]")
    except (OSError, ValueError) as err:
        print(f"NOTE: MNIST not found ({err}); skipping the MNIST training. "
              "Set SCRATCHNN_MNIST_DIR to a folder with the MNIST files to run it.")
    """, tags=["mnist"]),
    code("""
    if mnist is None:
        print("NOTE: MNIST training skipped (no local files).")
    else:
        mnist_net = MultiLayerNetwork.from_sizes([784, 128, 10], rng=SEED)
        mnist_net.fit(Xm_train, ym_train, optimizer=Adam(lr=1e-3), epochs=5, batch_size=64,
                      seed=SEED, verbose=0)
        predicted = mnist_net.predict(Xm_test)
        train_accuracy = accuracy(ym_train, mnist_net.predict(Xm_train))
        print(f"train accuracy {train_accuracy:.3f}, test accuracy "
              f"on all {len(Xm_test):,} test images {accuracy(ym_test, predicted):.3f}")
        display(plot_misclassified(Xm_test, ym_test, predicted, n=12))
    """, tags=["mnist"]),
    md(r"""
    *What to notice:* the same 2-layer recipe that reads $8 \times 8$ digits reads $28 \times 28$
    ones; with only 5,000 training images and 5 epochs it already gets about nine test digits in
    ten right, and its mistakes are often digits a person would hesitate over too.
    """),
]

CHAPTER_8 = [
    md(r"""
    ## 8. The training loop

    Training repeats, for a number of *epochs* (passes over the data):

    1. shuffle the training set (so the batches differ from epoch to epoch);
    2. split it into *mini-batches* of $B$ samples;
    3. for each batch: forward pass, loss, backward pass, update
       $\theta \leftarrow \theta - \eta\,\nabla_\theta L_\text{batch}$.

    Each batch's gradient is a noisy but cheap estimate of the full gradient: this is
    *stochastic gradient descent*. Written out with the library's building blocks:
    """),
    code("""
    lr, epochs, batch_size = 0.1, 25, 32
    hand_net = MultiLayerNetwork.from_sizes([64, 32, 10], rng=SEED)
    ce = CrossEntropyLoss()
    hand_history = {"loss": [], "accuracy": [], "val_accuracy": []}

    for epoch in range(epochs):
        rng = np.random.default_rng([SEED, 0, epoch])  # epoch e's order, as fit draws it
        X_shuf, y_shuf = shuffle(X_train, y_train, rng)
        total_loss = correct = 0.0
        for xb, yb in zip(get_batches(X_shuf, batch_size), get_batches(y_shuf, batch_size)):
            logits = hand_net.forward(xb)
            total_loss += ce.forward(yb, logits) * len(xb)
            correct += accuracy(yb, logits) * len(xb)
            hand_net.backward(ce.backward())
            hand_net.update_params(lr)
        hand_history["loss"].append(total_loss / len(X_train))
        hand_history["accuracy"].append(correct / len(X_train))
        hand_history["val_accuracy"].append(accuracy(y_test, hand_net.predict(X_test)))

    print(f"after {epochs} epochs: loss {hand_history['loss'][-1]:.4f}, "
          f"train accuracy {hand_history['accuracy'][-1]:.3f}, "
          f"test accuracy {hand_history['val_accuracy'][-1]:.3f}")
    """),
    md(r"""
    `fit` runs the same loop (plus validation, metrics, callbacks, and a clear error if the loss
    diverges). Started from the same weights, with plain SGD at the same learning rate and the
    same shuffling seed, it should follow the hand-written loop step for step (fit also draws
    epoch $e$'s order from the seed and $e$ alone, so that a training resumed at epoch $e$
    shuffles as one that never stopped). Here the test set
    is passed as `validation_data`, so the curves labelled "validation" are test curves.
    """),
    code("""
    fit_net = MultiLayerNetwork.from_sizes([64, 32, 10], rng=SEED)
    history = fit_net.fit(X_train, y_train, loss="cross_entropy", optimizer=SGD(lr=lr),
                          epochs=epochs, batch_size=batch_size, seed=SEED,
                          validation_data=(X_test, y_test), verbose=0)
    loss_gap = np.abs(np.array(history.history["loss"]) - hand_history["loss"]).max()
    weight_gap = max(np.abs(a - b).max()
                     for a, b in zip(fit_net.get_weights(), hand_net.get_weights()))
    print(f"largest difference, hand loop vs fit: loss {loss_gap:.1e}, weights {weight_gap:.1e}")
    print(f"train accuracy {accuracy(y_train, fit_net.predict(X_train)):.3f}, "
          f"test accuracy {accuracy(y_test, fit_net.predict(X_test)):.3f}")
    plot_history(history)
    """),
    md(r"""
    *What to notice:* the two runs agree to the last bit, so `fit` hides no magic. The training
    accuracy of an epoch is averaged over its batches while the weights were still changing; the
    test accuracy is the honest measure of what was learned. One practical detail: when the
    number of samples is not a multiple of the batch size, the last batch of each epoch is short,
    and a batch of 3 samples gives as large a step as one of 32 but a far noisier one. That is why
    the training set here has $1{,}344 = 42 \times 32$ images.
    """),
]

CHAPTER_9 = [
    md(r"""
    ## 9. Optimizers

    Plain SGD takes the same step size in every direction. In a long narrow valley that means
    zig-zagging across it while crawling along it. The usual remedies, with $g_t$ the gradient at
    step $t$:

    * **Momentum** keeps a velocity, an accumulation of past gradients, so consistent directions
      speed up and oscillating ones cancel: $v_t = \mu v_{t-1} + g_t$, $\theta \leftarrow \theta -
      \eta v_t$.
    * **RMSProp** divides each coordinate by a running root-mean-square of its gradients, giving
      every parameter its own step size: $s_t = \rho s_{t-1} + (1 - \rho) g_t^2$,
      $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{s_t} + \epsilon)$.
    * **Adam** combines both, with bias-corrected averages $\hat m_t = m_t / (1 - \beta_1^t)$ and
      $\hat v_t = v_t / (1 - \beta_2^t)$ of $g_t$ and $g_t^2$:
      $\theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$.

    Same network, same initial weights, same batches; only the optimizer changes. Each uses a
    learning rate of its usual scale, untuned: $0.05$ for SGD, the common default $0.001$ for
    RMSProp and Adam.
    """),
    code("""
    optimizers = {
        "SGD (lr 0.05)": SGD(lr=0.05),
        "SGD + momentum 0.9 (lr 0.05)": SGD(lr=0.05, momentum=0.9),
        "RMSProp (lr 0.001)": RMSProp(lr=1e-3),
        "Adam (lr 0.001)": Adam(lr=1e-3),
    }
    opt_histories = {}
    for name, optimizer in optimizers.items():
        model = MultiLayerNetwork.from_sizes([64, 64, 10], rng=SEED)  # identical initial weights
        opt_histories[name] = model.fit(X_train, y_train, optimizer=optimizer, epochs=20,
                                        batch_size=32, seed=SEED,
                                        validation_data=(X_test, y_test), verbose=0)
        print(f"{name:<30} final loss {opt_histories[name].history['loss'][-1]:.4f}, "
              f"test accuracy {opt_histories[name].history['val_accuracy'][-1]:.3f}")

    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for name, hist in opt_histories.items():
        ax.plot(np.arange(1, 21), hist.history["loss"], marker="o", markersize=3, label=name)
    ax.set(title="Training loss, same network and batches", xlabel="epoch", ylabel="cross-entropy",
           yscale="log")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* with the same learning rate, momentum reaches in 3 epochs the loss that plain
    SGD needs 20 for: the velocity accumulates the consistent part of the gradient. RMSProp and
    Adam at their default learning rate land between the two here; their appeal is robustness
    rather than speed, as the default works across many problems and layer sizes without tuning.
    Rankings like this one change with the learning rates, so compare optimizers each at its
    best learning rate before drawing conclusions.
    """),
]

CHAPTER_10 = [
    md(r"""
    ## 10. Weight initialisation

    Consider one unit, $z = \sum_{i=1}^{n} w_i a_i$, with independent zero-mean weights of variance
    $\operatorname{Var}(w)$. Then $\operatorname{Var}(z) = n \operatorname{Var}(w)\,
    \mathbb{E}[a^2]$: each layer multiplies the signal's size by a factor that depends on
    $n \operatorname{Var}(w)$. After a ReLU, $\mathbb{E}[a^2] = \tfrac12 \operatorname{Var}(z)$,
    so the factor per layer is $\tfrac12 n \operatorname{Var}(w)$, and through $L$ layers it is
    raised to the power $L$: anything other than 1 makes the activations explode or vanish.

    | initialiser | $\operatorname{Var}(w)$ | factor per ReLU layer ($n = 256$) |
    | --- | --- | --- |
    | uniform $(-1, 1)$ | $1/3$ | $256/6 \approx 43$ |
    | Xavier (Glorot) | $2 / (n_\text{in} + n_\text{out})$ | $1/2$ |
    | He (Kaiming) | $2 / n_\text{in}$ | $1$ |

    Xavier was derived for tanh-like activations, which keep both signs; He doubles it to make up
    for ReLU zeroing half its inputs. We push 512 digits (standardised to mean 0, variance 1)
    through ten ReLU layers of width 256 and record the size of the activations after each layer,
    and the size of the weight gradients that flow back.
    """),
    code("""
    scaler = Scaler("standard").fit(X_train)  # per pixel: subtract the mean, divide by the std
    X_std, X_test_std = scaler.transform(X_train), scaler.transform(X_test)
    x_batch, y_batch = X_std[:512], y_train[:512]
    depth, width = 10, 256
    inits = {"uniform(-1, 1)": "uniform", "Xavier": "xavier_uniform", "He": "he_uniform"}

    activation_std, gradient_norm = {}, {}
    for label, init in inits.items():
        deep_net = MultiLayerNetwork.from_sizes([64] + [width] * depth + [10], activation="relu",
                                                init=init, rng=SEED)
        stds, out = [], x_batch
        with np.errstate(over="ignore", invalid="ignore"):  # uniform(-1, 1) is meant to blow up
            for layer in deep_net.layers:
                out = layer.forward(out)
                if isinstance(layer, ReLULayer):
                    stds.append(out.std())
            ce = CrossEntropyLoss()
            ce.forward(y_batch, out)
            deep_net.backward(ce.backward())
        activation_std[label] = stds
        gradient_norm[label] = [np.linalg.norm(layer.grads["W"]) for layer in deep_net.layers
                                if isinstance(layer, LinearLayer)][:depth]
        print(f"{label:<15} activation std after layer 1: {stds[0]:.3g}, "
              f"after layer {depth}: {stds[-1]:.3g}")
    """),
    code("""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    layers_axis = np.arange(1, depth + 1)
    for label in inits:
        ax1.plot(layers_axis, activation_std[label], marker="o", label=label)
        ax2.plot(layers_axis, gradient_norm[label], marker="o", label=label)
    ax1.set(title=f"Activations through {depth} ReLU layers of width {width}", xlabel="layer",
            ylabel="std of the activations", yscale="log")
    ax2.set(title="Gradients flowing back", xlabel="layer", ylabel="norm of dL/dW", yscale="log")
    ax1.legend()
    plt.show()
    """, tags=[README_TAG]),
    md(r"""
    What this does to training: the same deep network, trained for 10 epochs with plain SGD.
    """),
    code("""
    for label, init in inits.items():
        deep_net = MultiLayerNetwork.from_sizes([64] + [64] * 6 + [10], init=init, rng=SEED)
        try:
            hist = deep_net.fit(X_std, y_train, optimizer=SGD(lr=0.01), epochs=10, batch_size=32,
                                seed=SEED, verbose=0)
            print(f"{label:<15} final loss {hist.history['loss'][-1]:8.4f}, "
                  f"test accuracy {accuracy(y_test, deep_net.predict(X_test_std)):.3f}")
        except TrainingDivergedError as err:
            print(f"{label:<15} diverged: {err}")
    """),
    md(r"""
    *What to notice:* with uniform$(-1, 1)$ the activations grow by a factor of about
    $\sqrt{43} \approx 6.5$ per layer, with Xavier they shrink by $\sqrt{2}$ per layer, and with
    He they keep their size from the first layer to the last, as the table predicts. The weight
    gradients follow: about $10^8$ with uniform weights, so the first steps throw the weights to
    overflow and training diverges at once; about a hundred times smaller with Xavier than with
    He, so the Xavier network learns, but far more slowly than the He network with the same
    learning rate.

    ## Where next

    You have now seen every piece of `scratchnn` at work. The exercises notebook asks you to write
    some of these pieces yourself, with the gradient check of chapter 4 as your safety net.
    """),
]

CELLS = [*INTRO, *CHAPTER_1, *CHAPTER_2, *CHAPTER_3, *CHAPTER_4, *CHAPTER_5, *CHAPTER_6,
         *CHAPTER_7, *CHAPTER_8, *CHAPTER_9, *CHAPTER_10]


def build():
    """The notebook, without outputs."""
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable: nbformat's are random, a rebuild would change them all
    return nb


# The tutorial's matrices are small: on a busy machine, BLAS threads waiting for each other made
# its MNIST cell 14 times slower than a single thread did.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def execute(nb, timeout=300):
    """Run every cell in a fresh kernel started in this folder, keeping the outputs."""
    from nbclient import NotebookClient

    # record_timing=False: no "execution" timestamps in each cell's metadata. coalesce_streams:
    # how a cell's printing is cut into stream outputs depends on timing; merged, it does not.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True, resources={"metadata": {"path": str(HERE)}})
    client.execute(env={**os.environ, **SINGLE_THREADED})
    return nb


def save_readme_figure(nb, path=README_FIGURE):
    """Write the first PNG output of the cell tagged README_TAG to ``path``."""
    for cell in nb.cells:
        if README_TAG in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(base64.b64decode(png))
                    return path
    raise ValueError(f"no cell tagged {README_TAG!r} has a PNG output; execute the notebook first.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true",
                        help="run the notebook, keep its outputs, write the README figure")
    args = parser.parse_args(argv)
    nb = build()
    if args.execute:
        start = time.perf_counter()
        execute(nb)
        print(f"executed in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        print(f"README figure: {save_readme_figure(nb)}", file=sys.stderr)
    nbformat.validate(nb)
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {NOTEBOOK}", file=sys.stderr)


if __name__ == "__main__":
    main()
