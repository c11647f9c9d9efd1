"""Chapter 15 of the exercises, the capstone: the learner's own network reads digits.

Every part written in chapters 3 to 10 (``LinearLayer``, ``ReLULayer``, ``MultiLayerNetwork``,
``cross_entropy_loss``, ``he_normal``, ``Adam``, ``one_hot``, ``get_batches``) trains the digits
of chapter 7 end to end, in a training loop the learner writes (``train_network``); the check
names the part to fix when the network does not reach 95% test accuracy. It needs the names
those chapters define, so it comes last in the exercises notebook.

The tutorial has no capstone (scratchnn's own network trains there from the start), so
``TUTORIAL`` is empty.
"""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = []

EXERCISES = [
    md(r"""
    ## 15. Capstone: your network reads digits

    Until now the training cells used scratchnn's own network
    (`scratchnn.MultiLayerNetwork.from_sizes`). Here a network made only of your code learns
    to read the digits of chapter 7:

    | part | chapter | its job |
    |---|---|---|
    | `LinearLayer`, `ReLULayer` | 5 | the layers: $xW + b$, then $\max(0, \cdot)$ |
    | `MultiLayerNetwork` | 6 | runs them forward, and backward last to first |
    | `he_normal` | 10 | draws the first weights, $N(0, 2 / n_\text{in})$ |
    | `one_hot`, `get_batches` | 7 | the labels as rows, the data in batches |
    | `cross_entropy_loss` | 3 | the loss, and its gradient at the output |
    | `Adam` | 9 | turns the gradients into steps |

    The network is $64 \to 64 \to 10$: a `LinearLayer(64, 64)`, a `ReLULayer`, a
    `LinearLayer(64, 10)` whose ten outputs are the logits, one per digit. The check builds it
    from your classes as below, so the only new code is the loop that trains it:

    ```python
    rng = np.random.default_rng(seed)
    network = MultiLayerNetwork()
    for n_in, n_out in [(64, 64), (64, 10)]:
        layer = LinearLayer(n_in, n_out, rng=rng)
        layer.params["W"][...] = he_normal(n_in, n_out, rng)  # the weights your initialiser draws
        network.add(layer)
        if n_out != 10:
            network.add(ReLULayer())
    optimizer = Adam(lr=0.005)
    history = train_network(network, optimizer, X_train, one_hot(y_train, 10), 15, 32, rng)
    ```
    """),
    code("""
    import matplotlib.pyplot as plt

    from scratchnn.exercises.capstone import check_capstone
    """),
    md(r"""
    Write `train_network(network, optimizer, X, Y, epochs, batch_size, rng)`. `X` is
    `(n, 64)`, `Y` its one-hot labels `(n, 10)`: train on these arguments, not on the
    notebook's `X_train`. Each epoch:

    1. shuffle the rows of `X` and `Y` with **one** permutation, `order = rng.permutation(len(X))`
       (a row of `X` must keep its label);
    2. cut both into batches with your `get_batches`;
    3. for each batch: `logits = network.forward(xb)`; the batch's loss
       `cross_entropy_loss(yb, logits)`; `network.backward(...)` of its gradient
       `cross_entropy_loss(yb, logits, derivative=True)`; then `optimizer.step(network)`.

    Return `history`, the mean of each epoch's batch losses, one number per epoch. No learning
    rate appears: the optimizer holds it, and its `step` replaces the network's
    `update_params` of chapter 6. The check also watches your loop on a few rows, so these
    steps are what it holds you to, even where a network would learn without them.
    """),
    exercise("train_network", """
    def train_network(network, optimizer, X, Y, epochs, batch_size, rng):
        history = []  # the mean training loss of each epoch
        for epoch in range(epochs):
            # Code here
            raise NotImplementedError
        return history
    """),
    check("""
    capstone = check_capstone(
        train_network, (X_train, y_train, X_test, y_test),
        LinearLayer=LinearLayer, activation=ReLULayer, MultiLayerNetwork=MultiLayerNetwork,
        cross_entropy_loss=cross_entropy_loss, init=he_normal, optimizer=Adam,
        one_hot=one_hot, get_batches=get_batches)
    """),
    md(r"""
    *What to notice:* the check first runs each part's own check; while one is not written or
    fails, it names it and trains nothing. Then it trains once (seeded, under a second) and
    passes at 95% test accuracy. It also watches your loop on 11 rows for 3 epochs: a step
    before backward, a history that is not the mean of the batch losses, or epochs never
    shuffled fail the check even when the network trains. A part can pass its own check and
    still break the whole run:
    a loop that shuffles the inputs but not the labels learns nothing (10%, chance), a loop
    that forgets `optimizer.step` never changes a weight. When the run falls short, the check
    repeats it with one of your parts at a time replaced by scratchnn's (same interface); the
    part whose replacement makes the network train is the one it names.

    Try another network from your parts: `activation=TanhLayer, init=xavier_uniform`, or
    `optimizer=Momentum` (its rate is 0.05); or `seed=1`.
    """),
    code("""
    if capstone:
        misread = np.flatnonzero(capstone.test_predictions != y_test)
        fig = plt.figure(figsize=(10, 3.2), layout="constrained")
        left, right = fig.subfigures(1, 2, width_ratios=[1, 1.5])
        ax = left.subplots()
        epochs = np.arange(1, len(capstone.history) + 1)
        ax.plot(epochs, capstone.history, marker="o")
        ax.set(xlabel="epoch", ylabel="mean training loss (log scale)", yscale="log",
               xticks=epochs[::2],
               title=f"your network: test accuracy {capstone.test_accuracy:.3f}")
        shown = misread[:12]
        for ax, i in zip(right.subplots(2, 6).ravel(), list(shown) + [None] * (12 - len(shown))):
            ax.axis("off")
            if i is not None:
                ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
                ax.set_title(f"{y_test[i]} read as {capstone.test_predictions[i]}", fontsize=9)
        more = f"; the first {len(shown)}" if len(misread) > len(shown) else ""
        right.suptitle(f"{len(misread)} of {len(y_test)} test digits misread{more}", fontsize=10)
        plt.show()
    else:
        print("Waiting for check_capstone to pass.")
    """),
    md(r"""
    *What to notice:* the loss falls about tenfold in the first five epochs, then slowly, with
    small bumps: each epoch visits the batches in a new order, and a step that suits one batch
    can cost another. Among the misread digits, some are hard to read even for a person at
    8x8 pixels, and some are clear to us and misread all the same: the network has learned
    from 1,347 examples, not from the idea of a digit. Every number here came from code you
    wrote.
    """),
]
