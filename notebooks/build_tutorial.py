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
from chapters import convolution, graph, regularisation, sanity
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
    11. Overfitting and regularisation
    12. The computational graph
    13. Sanity checks before training
    14. Convolution

    Everything is seeded, so running it again gives the same numbers. On an otherwise idle 2-core
    machine it runs top to bottom in about 45 seconds (chapters 1-10 take 17 of them, with the
    MNIST files present), and two to three times longer while other programs keep the cores
    busy.
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
    from scratchnn.plots import plot_history, plot_images, plot_misclassified
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

    Rosenblatt's learning rule (Rosenblatt, 1958) is one line: whenever a sample $(x_i, t_i)$
    with $t_i \in \{-1, +1\}$ is misclassified, i.e. $t_i (w^\top x_i + b) \le 0$, move the
    boundary towards it, $w \leftarrow w + t_i x_i$, $b \leftarrow b + t_i$. If a line separating
    the two classes exists, this stops after finitely many mistakes. If none exists, it never
    stops.

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
    gradient descent (chapters 3, 4 and 8 explain how `fit` does it).
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
        f"perceptron: last w = ({w_xor[0]:.0f}, {w_xor[1]:.0f}), b = {b_xor:.0f}":
            points @ w_xor + b_xor,
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
    hidden layer only helps because of the non-linearity between the two linear maps. The
    perceptron's panel shows no boundary because on XOR every epoch makes four mistakes whose
    updates cancel exactly: the weights are back at $w = 0$, $b = 0$ after each epoch (as printed
    above), so its last score is 0 everywhere and the whole plane falls on one side.

    **Why networks and not kernels.** The kernel perceptron keeps one coefficient $\alpha_j$ per
    training sample and needs the kernel matrix $K_{ij} = k(x_i, x_j)$: $n \times n$ numbers
    for $n$ samples. Its memory grows as $n^2$, and so does one epoch's work (each of the $n$
    scores is a sum over all $n$ samples); a kernel support vector machine solves for the same
    $n$ coefficients from the same matrix, at a cost between $n^2$ and $n^3$. A network's size is
    set by its layers, not by the data: an epoch costs the same per sample, so its time grows as
    $n$ and its memory not at all. Counted for $n$ samples of 64 pixels:
    """),
    code("""
    K_digits = poly_kernel(X_train.astype(np.float64), X_train.astype(np.float64))
    print(f"kernel matrix of the {len(X_train):,} training digits: {K_digits.shape}, "
          f"{K_digits.nbytes / 1e6:.1f} MB\\n")

    # Multiply-adds per sample for a 64-32-10 network: the forward pass, and about twice that
    # backward (one product for the weights' gradient, one for the gradient passed down).
    per_sample = 3 * (64 * 32 + 32 * 10)
    print("the kernel matrix's memory, and each method's multiply-adds per epoch:")
    print(f"{'n':>7} {'kernel matrix':>14} {'kernel perceptron':>18} {'network 64-32-10':>17}")
    for n in [1_344, 10_000, 60_000]:
        print(f"{n:>7,} {n * n * 8 / 1e6:>11,.0f} MB {n * n:>18.1e} {n * per_sample:>17.1e}")
    """),
    md(r"""
    *What to notice:* on the 1,344 digits an epoch of the kernel perceptron is cheaper than one of
    the network, but 45 times more data (MNIST's 60,000 images) multiplies its memory and its work
    per epoch by about 2,000, to 29 GB for the matrix alone, while the network's work grows 45
    times and its memory not at all. That is why kernel methods suit small data sets and networks
    large ones.
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
    print(f"probabilities range from {probs.min():.2f} to {probs.max():.2f}; the first digit's:",
          probs[0].round(2))
    print("predicted classes:", probs.argmax(axis=1), " true:", y_train[:5])
    """),
    md(r"""
    *What to notice:* the batch size $B$ rides along unchanged in the first axis; only the second
    axis changes, as set by each weight matrix. The untrained network's guesses are arbitrary
    (here every digit is called a 1). Its probabilities are not uniform either: they range from
    0.03 to 0.23, so the random weights already favour some classes for reasons that have
    nothing to do with the input, yet no class gets anywhere near probability 1. Training
    (chapters 4 and 8) is what turns these arbitrary preferences into confident, right ones.
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

    The fits use Adam (chapter 9) with a *learning-rate schedule*: the callback
    `CosineAnnealing(T_max=600)` lowers the step size after every epoch along half a cosine,
    $\eta_t = \eta_0 \cdot \tfrac12 \big(1 + \cos(\pi t / T)\big)$ for epoch $t$ of $T = 600$,
    from $\eta_0 = 0.1$ down to almost 0 at the end. The absolute error needs it: its gradient
    keeps the same size however close the line is to the best one, so with a constant step the
    line would keep jittering around it instead of settling.
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
    minimises the absolute error can always be chosen through as many points as it has
    parameters, here two, with about as many points above it as below: 9 and 9 here.) MSE is the
    right choice when errors are Gaussian-like; MAE (or a compromise like the Huber loss) when
    outliers are expected.

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
    print("symmetric:", np.allclose(J, J.T), "| each row sums to", J.sum(axis=1).round(12),
          "| each column sums to", J.sum(axis=0).round(12))

    # Backpropagation needs only J's product with the incoming gradient dCE/ds = -y / s.
    y_onehot = np.eye(4)[1]
    s_z = softmax(z)
    print("J.T @ (-y / s) == s - y:", np.allclose(J.T @ (-y_onehot / s_z), s_z - y_onehot))
    """),
    md(r"""
    *What to notice:* the rows of $J$ sum to zero because softmax ignores a shift of all its
    inputs, $s(z + c) = s(z)$: raising every logit by the same amount changes nothing. The
    columns sum to zero because the probabilities always sum to one: pushing one logit up can only
    move probability around. $J$ is symmetric, so each fact implies the other.

    Backpropagation never needs $J$ itself, only its product with the incoming gradient. For the
    cross-entropy with a one-hot $y$ that gradient is
    $\partial\,\mathrm{CE} / \partial s = -y / s$, and
    $J^\top(-y/s) = -y + s\,(y^\top \mathbf{1}) = s - y$: the product collapses to the fused
    gradient above. That is why the library fuses softmax into the cross-entropy: it
    computes $s - y$ in $C$ operations instead of building a $C \times C$ matrix, and never
    divides by a probability that may be tiny.
    """),
]

CHAPTER_4 = [
    md(r"""
    ## 4. Backpropagation and the update step

    Backpropagation (Rumelhart, Hinton & Williams, 1986) is the chain rule applied from the loss
    backwards, reusing what the forward pass stored. Write
    $\delta^{(l)} = \partial L / \partial z^{(l)}$, a matrix shaped like $z^{(l)}$. For a layer
    $z = aW + b$ and an activation $a = f(z)$:

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
    when the analytic gradient is right, and $10^{-2}$ to $1$ when it is wrong.
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
    to about ten digits, while a gradient missing one factor fails the check by nine orders of
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
    completely where it is not; leaky ReLU keeps a small slope $\alpha$ there. The library's
    default is $\alpha = 0.01$, which drawn at this scale looks exactly like ReLU, so the last
    panel below uses $\alpha = 0.2$.
    """),
    code("""
    def leaky_relu_visible(x, derivative=False):
        return leaky_relu(x, alpha=0.2, derivative=derivative)


    x_plot = np.linspace(-6, 6, 601)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), layout="constrained")
    for ax, (title, fn) in zip(axes, [("sigmoid", sigmoid), ("tanh", tanh), ("ReLU", relu),
                                      ("leaky ReLU, alpha = 0.2", leaky_relu_visible)]):
        ax.axhline(0, color="0.6", linewidth=0.8)
        ax.axvline(0, color="0.6", linewidth=0.8)
        ax.plot(x_plot, fn(x_plot), linewidth=2, label="$f(x)$")
        ax.plot(x_plot, fn(x_plot, derivative=True), "--", linewidth=2, label="$f'(x)$")
        ax.set(title=title, xlabel="x")
    axes[0].legend(loc="upper left")
    plt.show()
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
    """),
    md(r"""
    **Vanishing gradients.** Going back through a sigmoid layer multiplies the gradient by
    $\sigma'(z) \le 1/4$; going back through a linear layer multiplies it by $W^\top$ (chapter
    4's $\delta^{(l)} W^{(l)\top}$), which can shrink or grow it depending on the size of the
    weights. We send one gradient back through ten sigmoid layers of width 32 and measure how
    much each kind of step changes its size, for three initialisations of the weights (chapter
    10 explains them; Xavier is the default for sigmoid layers).
    """),
    code("""
    print(f"largest sigmoid derivative: {sigmoid(0.0, derivative=True):.2f}, "
          f"and 0.25 ** 10 = {0.25**10:.1e}\\n")
    print("size of dL/dz at the first hidden layer / at the output, through 10 sigmoid layers:")
    print(f"{'initialisation':<16}{'sigmoid factors':>16}{'weight factors':>16}{'together':>10}")
    for label, init in [("Xavier", "xavier_uniform"), ("He", "he_uniform"),
                        ("uniform(-1, 1)", "uniform")]:
        sigmoid_net = MultiLayerNetwork.from_sizes([64] + [32] * 10 + [10], activation="sigmoid",
                                                   init=init, rng=SEED)
        ce = CrossEntropyLoss()
        ce.forward(y_train[:256], sigmoid_net.forward(X_train[:256]))
        grad, factors = ce.backward(), {"sigmoid": 1.0, "weights": 1.0}
        for layer in sigmoid_net.layers[:0:-1]:  # backwards, down to the first hidden layer's z
            size_before = np.linalg.norm(grad)
            grad = layer.backward(grad)
            kind = "sigmoid" if isinstance(layer, SigmoidLayer) else "weights"
            factors[kind] *= np.linalg.norm(grad) / size_before
        print(f"{label:<16}{factors['sigmoid']:>16.1e}{factors['weights']:>16.1e}"
              f"{factors['sigmoid'] * factors['weights']:>10.1e}")
    """),
    md(r"""
    *What to notice:* the ten sigmoid factors alone shrink the gradient by $10^{-6}$ or more
    ($0.25^{10} \approx 10^{-6}$ is their best case; saturated units give less). The weights
    multiply too. With Xavier's weights the linear steps neither shrink nor grow the gradient
    overall (their factors multiply to about 1), so the first layer receives a gradient two
    million times smaller than the output does. Larger weights grow the gradient at every linear
    step and make up for part of the shrinking (with uniform$(-1, 1)$ weights only a factor of
    about 400 is left), but they also push the sigmoids into saturation, where their factors are
    smaller still. Either way this is the *vanishing gradient* that made deep sigmoid
    networks hard to train before ReLU, whose factor is exactly 1 wherever it is active.
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
    ax2.set(title="test accuracy", xlabel="epoch")
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

    **What a hidden unit adds.** Digits live in 64 dimensions; two dimensions show what growing a
    network does. Two interleaved half-moons of 150 points each, and a network $2 \to h \to 2$
    with $h$ ReLU units, for $h$ = 1, 3, 8 and 32:
    """),
    code("""
    def make_moons(n, noise, rng):
        \"\"\"Two interleaved half circles, n // 2 points each, as sklearn's make_moons.\"\"\"
        t = rng.uniform(0, np.pi, n)
        label = np.arange(n) % 2
        X = np.where(label[:, None] == 0, np.column_stack([np.cos(t), np.sin(t)]),
                     np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)]))
        return (X + noise * rng.normal(size=X.shape)).astype(np.float32), label


    X_moons, y_moons = make_moons(300, 0.15, np.random.default_rng(SEED))
    grid = np.stack(np.meshgrid(np.linspace(-1.7, 2.7, 221), np.linspace(-1.3, 1.8, 156)), axis=-1)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6), layout="constrained")
    for ax, hidden in zip(axes, [1, 3, 8, 32]):
        moons_net = MultiLayerNetwork.from_sizes([2, hidden, 2], rng=SEED)
        moons_net.fit(X_moons, y_moons, optimizer=Adam(lr=0.03), epochs=40, batch_size=30,
                      seed=SEED, verbose=0)
        p_orange = moons_net.predict_proba(grid.reshape(-1, 2))[:, 1].reshape(grid.shape[:2])
        ax.contourf(grid[..., 0], grid[..., 1], p_orange, levels=[0, 0.5, 1],
                    colors=["tab:blue", "tab:orange"], alpha=0.25)
        ax.contour(grid[..., 0], grid[..., 1], p_orange, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(*X_moons.T, c=np.where(y_moons == 1, "tab:orange", "tab:blue"), s=10,
                   edgecolor="k", linewidth=0.3)
        wrong = int(np.sum(moons_net.predict(X_moons) != y_moons))
        units = "unit" if hidden == 1 else "units"
        ax.set(title=f"{hidden} hidden {units}: {wrong} of {len(X_moons)} wrong",
               aspect="equal")
    plt.show()
    """),
    md(r"""
    *What to notice:* one ReLU unit can only draw a straight line, since the network is then a
    linear model of a single feature. Each further unit adds a place where the boundary can bend:
    three units already classify all but one of the 300 training points, and 8 or 32 follow the gap
    between the moons more closely. Away from the data, in the corners, each network draws its
    boundary differently: nothing there tells it where to go, which is why a network's confident
    answers far from its training data deserve little trust.
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
    repository, and takes the first of these layouts it finds there:

    * the standard files (`train-images-idx3-ubyte.gz`, ..., `t10k-labels-idx1-ubyte.gz`, or
      `mnist_train.csv` and `mnist_test.csv`), read by `load_mnist(folder)`;
    * the 10,000 test images (IDX) in the folder itself or in a `mnist/` folder inside it, with
      5,000 training images as CSV in `mnist5k/mnist_5k.csv.gz` beside that test folder;
    * the test images alone: then the network trains on half of them and is tested on the
      other half.

    When none is there, the training below is skipped with a note saying what was missing (use
    `scratchnn.datasets.download_mnist(folder)` to fetch the standard files once). With the full
    60,000 training images, the first 5,000 are used, to keep the run short.
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
        \"\"\"(train, test, the files used, relative to folder): the first layout above.\"\"\"
        try:
            return (*load_mnist(folder), "the standard files")
        except FileNotFoundError:
            pass  # no standard files: look for the test files
        for test_folder in [folder, folder / "mnist"]:
            try:
                test = load_mnist(test_folder, split="test")
            except FileNotFoundError:
                continue
            test_files = "the test files" + ("" if test_folder == folder else " in mnist/")
            csv = test_folder.parent / "mnist5k" / "mnist_5k.csv.gz"
            if csv.is_file():
                return load_mnist(csv), test, f"{os.path.relpath(csv, folder)} and {test_files}"
            X_tr, X_te, y_tr, y_te = train_test_split(*test, test_size=0.5, seed=SEED,
                                                      stratify=True)
            return ((X_tr, y_tr), (X_te, y_te),
                    f"only {test_files}, split in two halves (no {csv} beside them)")
        raise FileNotFoundError(
            f"no MNIST files in {folder}: neither the standard training and test files nor the "
            f"test files (in it or in {folder / 'mnist'})"
        )


    folder, mnist = find_mnist_folder(), None
    try:
        if folder is None or not folder.is_dir():
            raise FileNotFoundError(f"no folder at {folder}")
        *mnist, used = load_local_mnist(folder)
        (Xm_train, ym_train), (Xm_test, ym_test) = mnist
        Xm_train, ym_train = Xm_train[:5000], ym_train[:5000]  # the full 60,000 take 12x longer
        print(f"MNIST from {used}:\\n  train {Xm_train.shape}, test {Xm_test.shape}, "
              f"pixels in [{Xm_train.min()}, {Xm_train.max()}]")
    except (OSError, ValueError) as err:
        mnist = None
        print(f"NOTE: MNIST not found ({err}); skipping the MNIST training. "
              "Set SCRATCHNN_MNIST_DIR to a folder with the MNIST files to run it.")
    """, tags=["mnist"]),
    md(r"""
    A first layer's weights can be looked at as images: column $j$ of $W^{(1)}$ holds one weight
    per pixel, and hidden unit $j$ responds most strongly to an input shaped like that column
    (red: pixels that raise its score, blue: pixels that lower it). Below each column we also
    draw what training changed in it, the trained weights minus the random initial ones.
    """),
    code("""
    def plot_first_layer(W, W_initial, side, n=10):
        \"\"\"The first n columns of W (n_pixels, n_hidden) as side x side images, and below each
        its change from W_initial.\"\"\"
        fig, axes = plt.subplots(2, n, figsize=(n * 0.9, 2.2), layout="constrained")
        for j in range(n):
            for ax, image in zip(axes[:, j], [W[:, j], W[:, j] - W_initial[:, j]]):
                limit = np.abs(image).max()  # the same scale on both sides of 0: white is 0
                ax.imshow(image.reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set(xticks=[], yticks=[])
        axes[0, 0].set_ylabel("weights")
        axes[1, 0].set_ylabel("change")
        fig.suptitle(f"first-layer weights of {n} of the {W.shape[1]} hidden units")
        plt.show()


    if mnist is None:
        print("NOTE: MNIST training skipped (no local files).")
    else:
        mnist_net = MultiLayerNetwork.from_sizes([784, 128, 10], rng=SEED)
        W_initial = mnist_net.layers[0].params["W"].copy()
        mnist_net.fit(Xm_train, ym_train, optimizer=Adam(lr=1e-3), epochs=5, batch_size=64,
                      seed=SEED, verbose=0)
        predicted = mnist_net.predict(Xm_test)
        train_accuracy = accuracy(ym_train, mnist_net.predict(Xm_train))
        print(f"train accuracy {train_accuracy:.3f}, test accuracy "
              f"on all {len(Xm_test):,} test images {accuracy(ym_test, predicted):.3f}")
        display(plot_misclassified(Xm_test, ym_test, predicted, n=12))
        plot_first_layer(mnist_net.layers[0].params["W"], W_initial, side=28)
    """, tags=["mnist"]),
    md(r"""
    *What to notice:* the same 2-layer recipe that reads $8 \times 8$ digits reads $28 \times 28$
    ones; with only 5,000 training images and 5 epochs it already gets about nine test digits in
    ten right. Its mistakes are not only the ambiguous scrawls: most of the misread digits above
    are ones a person reads at a glance, a sign of how little 5,000 images and a layer that knows
    nothing of which pixels are neighbours can teach (chapter 14's convolutions build that in).
    The weights still look like noise: after 5 epochs they are mostly their random start. What
    training added is smooth, stroke-sized patches of red and blue, and nothing at all at the
    border of the image, where every MNIST digit has blank pixels and so no gradient ever arrives.
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

    The trained network's first layer, drawn as in chapter 7: 64 weights per hidden unit, one per
    pixel of the $8 \times 8$ digits.
    """),
    code("""
    W_start = MultiLayerNetwork.from_sizes([64, 32, 10], rng=SEED).layers[0].params["W"]
    plot_first_layer(fit_net.layers[0].params["W"], W_start, side=8)
    """),
    md(r"""
    *What to notice:* the weights are still mostly their random start. The changes sit where the
    strokes are, and the leftmost and rightmost pixel columns, blank in almost every digit, have
    hardly changed: a pixel that is 0 adds nothing to $\partial L / \partial W = a^\top \delta$
    (chapter 4), so its weights only move on the rare digits that touch it.

    **Watching training.** Every `fit` above passed `verbose=0` to keep this notebook short. The
    default, `verbose=1`, draws a progress bar per epoch with the running loss, and leaves the
    epoch's loss and accuracy on it when the epoch ends:
    """),
    code("""
    bar_net = MultiLayerNetwork.from_sizes([64, 32, 10], rng=SEED)
    bar_history = bar_net.fit(X_train, y_train, optimizer=SGD(lr=lr), epochs=3,
                              batch_size=batch_size, seed=SEED, validation_data=(X_test, y_test))
    """),
]

CHAPTER_9 = [
    md(r"""
    ## 9. Optimizers

    Plain SGD uses the same learning rate in every direction. In a long narrow valley that means
    zig-zagging across it while crawling along it. The usual remedies, with $g_t$ the gradient at
    step $t$:

    * **Momentum** keeps a velocity, an accumulation of past gradients, so consistent directions
      speed up and oscillating ones cancel: $v_t = \mu v_{t-1} + g_t$, $\theta \leftarrow \theta -
      \eta v_t$.
    * **RMSProp** divides each coordinate by a running root-mean-square of its gradients, giving
      every parameter its own step size: $s_t = \rho s_{t-1} + (1 - \rho) g_t^2$,
      $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{s_t} + \epsilon)$, with $\rho$ = 0.99
      (`RMSProp`'s `alpha`).
    * **Adam** (Kingma & Ba, 2014) combines both, with bias-corrected averages
      $\hat m_t = m_t / (1 - \beta_1^t)$ and $\hat v_t = v_t / (1 - \beta_2^t)$ of $g_t$ and
      $g_t^2$: $\theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$.

    To see the zig-zag, take a narrow valley in two dimensions, $f(x, y) = x^2/20 + y^2$, twenty
    times steeper across ($y$) than along ($x$), and start at $(-9, 1.5)$. The optimizers step
    anything that holds its parameters and gradients in dicts named `params` and `grads`, as a
    layer does, so they can move a single point.
    """),
    code("""
    class Point:
        \"\"\"A stand-in for a layer: one parameter, a point (x, y), and its gradient.\"\"\"

        def __init__(self, xy):
            self.params = {"xy": np.array(xy, dtype=np.float64)}
            self.grads = {"xy": np.zeros(2)}


    def valley(x, y):
        return x**2 / 20 + y**2


    valley_optimizers = {
        "SGD (lr 0.9)": SGD(lr=0.9),
        "SGD + momentum 0.5 (lr 0.9)": SGD(lr=0.9, momentum=0.5),
        "RMSProp (lr 0.1)": RMSProp(lr=0.1),
        "Adam (lr 0.3)": Adam(lr=0.3),
    }
    xs, ys = np.meshgrid(np.linspace(-10, 3, 261), np.linspace(-2, 2, 81))
    fig, axes = plt.subplots(2, 2, figsize=(11, 4.4), layout="constrained", sharex=True,
                             sharey=True)
    for ax, (name, optimizer) in zip(axes.flat, valley_optimizers.items()):
        point = Point([-9.0, 1.5])
        path = [point.params["xy"].copy()]
        for _ in range(30):
            x, y = point.params["xy"]
            point.grads["xy"][:] = [x / 10, 2 * y]  # the gradient of valley(x, y)
            optimizer.step([point])
            path.append(point.params["xy"].copy())
        path = np.array(path)
        ax.contour(xs, ys, valley(xs, ys), levels=np.geomspace(0.02, 5, 8), colors="0.75",
                   linewidths=0.7)
        ax.plot(*path.T, marker="o", markersize=3, linewidth=1, color="tab:red")
        ax.plot(0, 0, "k*", markersize=10)
        ax.set(title=f"{name}: f = {valley(*path[-1]):.1e} after 30 steps", aspect="equal")
    plt.show()
    """),
    md(r"""
    *What to notice:* plain SGD's step is too large across the valley, so $y$ overshoots and
    changes sign at every step, and too small along it, so $x$ crawls. With momentum, at the same
    learning rate, the steps across alternate in sign and cancel in the velocity while those along
    the valley add up: 30 steps reach the bottom. RMSProp divides each coordinate by the size of
    its own recent gradients, so the steep direction is tamed from the first step and both
    coordinates take steps of similar size, large at first (its average of $g_t^2$ starts at 0,
    so the first step is $\eta / \sqrt{1 - \rho} = 10\eta$ in each coordinate) and then a few
    times $\eta$: a straight walk whose speed is set by the learning rate, not by
    the slope. Adam adds momentum to that: a smooth curve. The ranking here says
    little (these learning rates were picked by hand for this toy); the shapes of the paths are
    the point.

    Now the digits: same network, same initial weights, same batches; only the optimizer
    changes. Each uses a learning rate of its usual scale, untuned: $0.05$ for SGD, the common
    default $0.001$ for RMSProp and Adam.
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
    best learning rate before drawing conclusions: chapter 13 sweeps the learning rate to find it.
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

    Xavier (Glorot & Bengio, 2010) was derived for tanh-like activations, which keep both signs;
    He (He et al., 2015) doubles it to make up for ReLU zeroing half its inputs. We push 512
    digits (standardised to mean 0, variance 1) through ten ReLU layers of width 256 and record
    the size of the activations after each layer, and the size of the weight gradients that flow
    back.
    """),
    code("""
    scaler = Scaler("standard").fit(X_train)  # per pixel: subtract the mean, divide by the std
    X_std, X_test_std = scaler.transform(X_train), scaler.transform(X_test)
    x_batch, y_batch = X_std[:512], y_train[:512]
    depth, width = 10, 256
    inits = {"uniform(-1, 1)": "uniform", "Xavier": "xavier_uniform", "He": "he_uniform"}

    activation_std, gradient_norm, activations = {}, {}, {}
    for label, init in inits.items():
        deep_net = MultiLayerNetwork.from_sizes([64] + [width] * depth + [10], activation="relu",
                                                init=init, rng=SEED)
        stds, out, activations[label] = [], x_batch, []
        with np.errstate(over="ignore", invalid="ignore"):  # uniform(-1, 1) is meant to blow up
            for layer in deep_net.layers:
                out = layer.forward(out)
                if isinstance(layer, ReLULayer):
                    stds.append(out.std())
                    activations[label].append(out)
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
    The same activations as histograms, one row per initialisation and one curve per layer,
    from layer 1 (dark) to layer 10 (yellow). A ReLU outputs 0 for about half its inputs; the
    histograms show the other half on a logarithmic axis (powers of ten), the same in every row,
    so a shift to the right is growth.
    """),
    code("""
    fig, axes = plt.subplots(len(inits), 1, figsize=(11, 6), sharex=True, layout="constrained")
    bins = np.linspace(-6, 9, 151)
    colors = plt.cm.viridis(np.linspace(0, 0.9, depth))
    for ax, label in zip(axes, inits):
        for layer_number, (a, color) in enumerate(zip(activations[label], colors), start=1):
            a = a[:128]  # 128 of the 512 digits: the same histogram, drawn faster
            ax.hist(np.log10(a[a > 0]), bins=bins, histtype="step", color=color,
                    label=f"layer {layer_number}")
        share_zero = np.mean([np.mean(a == 0) for a in activations[label]])
        ax.set(title=f"{label}: {share_zero:.0%} of the activations are 0", yticks=[])
    axes[0].legend(ncols=2, fontsize=8, loc="upper left")
    axes[-1].set_xlabel("log10 of a positive activation")
    plt.show()
    """),
    md(r"""
    What this does to training. Ten layers of width 256 would train slowly here, so we train a
    smaller deep network, six ReLU layers of width 64, on the same standardised digits, from each
    initialisation: 10 epochs of plain SGD with learning rate 0.01. At $n = 64$ the table's
    factors per layer become about 11 for uniform$(-1, 1)$, and still $\tfrac12$ and 1 for
    Xavier and He.
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
    gradients follow: $10^8$ to $10^9$ with uniform weights, and 30 (first layer) to 240 (last)
    times smaller with Xavier than with He. In training, the smaller network shows the same three
    fates: with uniform weights the first steps throw the weights to overflow and training
    diverges within the first batches; the Xavier network learns, but far more slowly than the He
    network at the same learning rate. The histograms tell the same story: the uniform row moves
    right by almost a power of ten per layer, the Xavier row drifts left, and the He row stays
    where it started; in every row about half the units output 0, as a ReLU of inputs symmetric
    around 0 should.

    A good initialisation only sets the scale at the start; training moves the weights away from
    it. *Batch normalisation* (Ioffe & Szegedy, 2015) keeps the scale right throughout, by
    standardising each layer's inputs over the batch: the library has it as `BatchNorm1D`.
    """),
]

WHERE_NEXT = [
    md(r"""
    ## Where next

    You have now seen every piece of `scratchnn` at work, from the perceptron to a convolutional
    network. The exercises notebook asks you to write these pieces yourself, chapter by chapter,
    with the gradient check of chapter 4 as your safety net; its capstone trains your own layers,
    loss, network, initialiser and optimizer on the digits, end to end. When your own network
    misbehaves, the sanity checks of chapter 13 are the first thing to run, and when it fits the
    training set far better than the test set, chapter 11's L2 penalty, dropout (Srivastava et
    al., 2014) and early stopping are the first remedies.
    """),
]

REFERENCES = [
    md(r"""
    ## References

    * Rosenblatt, F. (1958). The perceptron: a probabilistic model for information storage and
      organization in the brain. *Psychological Review*, 65(6), 386-408.
    * Rumelhart, D. E., Hinton, G. E., & Williams, R. J. (1986). Learning representations by
      back-propagating errors. *Nature*, 323(6088), 533-536.
    * Glorot, X., & Bengio, Y. (2010). Understanding the difficulty of training deep feedforward
      neural networks. *Proceedings of the 13th International Conference on Artificial
      Intelligence and Statistics (AISTATS)*, PMLR 9, 249-256.
    * He, K., Zhang, X., Ren, S., & Sun, J. (2015). Delving deep into rectifiers: surpassing
      human-level performance on ImageNet classification. *Proceedings of the IEEE International
      Conference on Computer Vision (ICCV)*, 1026-1034.
    * Kingma, D. P., & Ba, J. (2014). Adam: a method for stochastic optimization.
      arXiv:1412.6980; published at the *3rd International Conference on Learning
      Representations (ICLR)*, 2015.
    * Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I., & Salakhutdinov, R. (2014).
      Dropout: a simple way to prevent neural networks from overfitting. *Journal of Machine
      Learning Research*, 15(56), 1929-1958.
    * Ioffe, S., & Szegedy, C. (2015). Batch normalization: accelerating deep network training by
      reducing internal covariate shift. *Proceedings of the 32nd International Conference on
      Machine Learning (ICML)*, PMLR 37, 448-456.
    * Goodfellow, I., Bengio, Y., & Courville, A. (2016). *Deep Learning*. MIT Press (section
      7.8: early stopping as a regulariser).
    * Loshchilov, I., & Hutter, F. (2019). Decoupled weight decay regularization. *7th
      International Conference on Learning Representations (ICLR)*; arXiv:1711.05101.
    """),
]

CELLS = [*INTRO, *CHAPTER_1, *CHAPTER_2, *CHAPTER_3, *CHAPTER_4, *CHAPTER_5, *CHAPTER_6,
         *CHAPTER_7, *CHAPTER_8, *CHAPTER_9, *CHAPTER_10, *regularisation.TUTORIAL,
         *graph.TUTORIAL, *sanity.TUTORIAL, *convolution.TUTORIAL, *WHERE_NEXT, *REFERENCES]


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
# The one progress bar shown (chapter 8) would record its speed and elapsed time, different at every
# build; tqdm takes its default format from this variable, so the saved bar shows only the counts.
BAR_WITHOUT_TIMINGS = {"TQDM_BAR_FORMAT": "{l_bar}{bar}| {n_fmt}/{total_fmt}"}


def execute(nb, timeout=300):
    """Run every cell in a fresh kernel started in this folder, keeping the outputs."""
    from nbclient import NotebookClient

    # record_timing=False: no "execution" timestamps in each cell's metadata. coalesce_streams:
    # how a cell's printing is cut into stream outputs depends on timing; merged, it does not.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True, resources={"metadata": {"path": str(HERE)}})
    client.execute(env={**os.environ, **SINGLE_THREADED, **BAR_WITHOUT_TIMINGS})
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
