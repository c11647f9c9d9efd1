"""Chapter 13, sanity checks before training: the initial loss, overfitting one batch, a gradient
check and a learning-rate sweep per optimizer (and chapter 9's comparison redone at each
optimizer's best rate); the exercises write ``overfit_one_batch`` and ``lr_sweep``."""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = [
    md(r"""
    ## 13. Sanity checks before training

    A bug in a network rarely crashes it: it trains a little worse, and nothing says why. Before
    a long run, a few checks that take seconds catch most bugs (Andrej Karpathy's "A recipe for
    training neural networks" and Stanford's CS231n notes give the same advice):

    1. the loss at initialisation is what the maths predicts;
    2. the network can drive the loss on one small batch to about zero;
    3. the gradients agree with finite differences;
    4. the learning rate is chosen by a sweep, not by habit.

    **1. The initial loss.** An untrained network should not prefer any class. If its logits
    are small, the softmax is nearly uniform, $s_c \approx 1/C$, and the cross-entropy is
    $-\log(1/C) = \ln C$: $\ln 10 \approx 2.303$ for the ten digits. A much larger initial loss
    means the network starts out confidently wrong, usually because the weights are too large
    (chapter 10), and its first steps go into undoing that. A last layer started at zero gives
    exactly $\ln C$.
    """),
    code("""
    print(f"ln 10 = {np.log(10):.4f}")
    ce = CrossEntropyLoss()
    for label, init in [("He (the default for ReLU)", "he_uniform"), ("Xavier", "xavier_uniform"),
                        ("uniform(-1, 1)", "uniform")]:
        net = MultiLayerNetwork.from_sizes([64, 64, 10], init=init, rng=SEED)
        logits = net.forward(X_train)
        print(f"{label:<26} logits' std {logits.std():6.2f}   initial loss "
              f"{ce.forward(y_train, logits):7.3f}")
    net.layers[-1].params["W"][...] = 0  # the last layer at zero: every logit is 0
    print(f"{'last layer at zero':<26} logits' std {net.forward(X_train).std():6.2f}   "
          f"initial loss {ce.forward(y_train, net.forward(X_train)):7.3f}")
    """),
    md(r"""
    *What to notice:* He's and Xavier's scales start near $\ln 10$ (a little above: their logits
    are small but not zero, so each sample's softmax leans towards some class at random, and
    that costs more than it gains on average). With uniform$(-1, 1)$ weights the logits have a
    standard deviation of about 9 and the initial loss is nearly eight times $\ln 10$: a loss
    like that at step 0 says "check the initialisation" before any training has happened.

    **2. Overfit one batch.** Twenty digits, two of each class, and a network with thousands of
    parameters: trained on that batch alone, the loss must fall to about zero. If it does not,
    something is broken: a wrong gradient, a learning rate far off, labels that do not reach the
    loss, a layer that blocks the gradient. It is also the quickest end-to-end test of a training
    loop. Below: the loop as it would be written by hand, once with a sensible network and once
    with every weight started at zero, where every hidden unit computes the same thing, receives
    the same gradient and so stays identical, here at zero (ReLU(0) = 0 passes no gradient to
    the first layer).
    """),
    code("""
    batch = np.concatenate([np.flatnonzero(y_train == c)[:2] for c in range(10)])
    x_batch, y_batch = X_train[batch], y_train[batch]


    def overfit(net, steps=150):
        \"\"\"Train on (x_batch, y_batch) alone; the loss before each step.\"\"\"
        loss, optimizer, losses = CrossEntropyLoss(), Adam(lr=0.01), []
        for _ in range(steps):
            losses.append(loss.forward(y_batch, net.forward(x_batch)))
            net.backward(loss.backward(), input_grad=False)
            optimizer.step(net)
        return losses


    healthy = overfit(MultiLayerNetwork.from_sizes([64, 64, 10], rng=SEED))
    zero_net = MultiLayerNetwork.from_sizes([64, 64, 10], rng=SEED)
    for layer in zero_net.layers:
        for p in layer.params.values():
            p[...] = 0
    stuck = overfit(zero_net)
    print(f"He initialisation: loss {healthy[0]:.3f} -> {healthy[-1]:.2e} after 150 steps")
    print(f"all weights zero:  loss {stuck[0]:.3f} -> {stuck[-1]:.3f} "
          f"(ln 10 = {np.log(10):.3f})")

    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    ax.plot(np.arange(1, 151), healthy, label="He initialisation")
    ax.plot(np.arange(1, 151), stuck, label="all weights zero")
    ax.set(title="Overfitting one batch of 20 digits", xlabel="step", ylabel="cross-entropy",
           yscale="log")
    ax.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* the healthy network memorises the 20 digits within 150 steps (a loss of
    about $10^{-3}$). The all-zero network starts at exactly $\ln 10$ and never leaves it: the
    hidden units output 0 and pass no gradient back, so only the last biases could move, and
    with two digits of each class their gradient $\sum_n (s_n - y_n)$ is zero too. Nothing
    moves at all. The loss curve alone said the network was broken, before any evaluation.

    **3. Check the gradients.** Chapter 4 checked a layer's backward pass against finite
    differences; here the whole chain, network *and* loss, for every parameter of a small float64
    network on eight digits. (Finite differences need float64, and a smooth activation: at a
    ReLU's kink a difference quotient can straddle the corner.)
    """),
    code("""
    rng = np.random.default_rng(SEED)
    check_net = MultiLayerNetwork([LinearLayer(64, 16, rng=rng, dtype=np.float64), TanhLayer(),
                                   LinearLayer(16, 10, rng=rng, dtype=np.float64)])
    x8, y8 = X_train[:8].astype(np.float64), y_train[:8]
    ce8 = CrossEntropyLoss()


    def batch_loss():
        return ce8.forward(y8, check_net.forward(x8))


    batch_loss()
    check_net.backward(ce8.backward())
    for i, layer in enumerate(check_net.layers):
        for name, p in layer.params.items():
            analytic = layer.grads[name].copy()
            numeric = numerical_gradient(batch_loss, p)  # nudges p in place, then restores it
            print(f"layers[{i}].{name} {str(p.shape):<9} relative error "
                  f"{relative_error(analytic, numeric):.1e}")
    """),
    md(r"""
    *What to notice:* every relative error is about $10^{-9}$: the backward passes and
    the fused softmax-cross-entropy gradient are right. A wrong gradient gives errors of
    $10^{-2}$ to 1 (chapter 4's, missing the tanh derivative, gave 0.18).

    **4. A learning-rate sweep.** The learning rate matters more than the choice of optimizer,
    and each optimizer has its own scale: momentum multiplies the effective step by about
    $1/(1 - \mu) = 10$, while RMSProp and Adam divide each gradient by its running size, so their
    steps are about $\eta$ per coordinate whatever the gradient's size. A sweep tries rates on a
    log scale, a short run each, and keeps the one with the lowest final training loss; a run
    that diverges (a NaN or infinite loss) counts as worse than any finite one, and a tie goes to
    the smaller rate. Here: 11 rates from $10^{-4}$ to $10$, half a decade apart, five epochs
    each, the same network, initial weights and batches for every run.
    """),
    code("""
    rates = np.logspace(-4, 1, 11)
    makers = {
        "SGD": lambda lr: SGD(lr=lr),
        "SGD + momentum 0.9": lambda lr: SGD(lr=lr, momentum=0.9),
        "RMSProp": lambda lr: RMSProp(lr=lr),
        "Adam": lambda lr: Adam(lr=lr),
    }


    def final_loss(optimizer, epochs):
        net = MultiLayerNetwork.from_sizes([64, 64, 10], rng=SEED)  # identical initial weights
        try:
            history = net.fit(X_train, y_train, optimizer=optimizer, epochs=epochs,
                              batch_size=32, seed=SEED, verbose=0)
        except TrainingDivergedError:
            return np.inf
        return history.history["loss"][-1]


    sweep, best_rate = {}, {}
    for name, make in makers.items():
        sweep[name] = np.array([final_loss(make(lr), epochs=5) for lr in rates])
        finite = np.where(np.isfinite(sweep[name]), sweep[name], np.inf)
        best_rate[name] = rates[np.lexsort((rates, finite))[0]]  # lowest loss, then smaller rate
        print(f"{name:<20} best rate {best_rate[name]:<8.3g} final loss after 5 epochs "
              f"{finite.min():.4f}; runs that diverged: {int(np.sum(np.isinf(finite)))}")
    """),
    code("""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    for k, ((name, losses), color) in enumerate(zip(sweep.items(), ["C0", "C1", "C2", "C3"])):
        ax.plot(rates, losses, marker="o", color=color,
                label=f"{name}: best {best_rate[name]:.3g}")
        i = int(np.flatnonzero(rates == best_rate[name])[0])
        # smaller stars drawn later, so that two optimizers with the same best rate both show
        ax.plot(rates[i], losses[i], marker="*", markersize=24 - 5 * k, color=color,
                markeredgecolor="k")
    ax.axhline(np.log(10), color="grey", linestyle=":", label="ln 10: nothing learned")
    ax.set(title="Learning-rate sweep: training loss after 5 epochs (star: each one's best)",
           xlabel="learning rate", ylabel="final training loss", xscale="log", yscale="log")
    ax.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* every optimizer has a U-shaped curve: too small a rate learns little in
    five epochs (the loss stays near $\ln 10$), too large a rate breaks training and the loss
    ends near or above $\ln 10$ (a run that diverged to NaN would count as infinitely bad; none
    did here). The best rates span two decades: 1 for SGD, 0.1 with momentum (ten times smaller,
    as $1/(1 - \mu)$ predicts), 0.01 for RMSProp and Adam; at its best rate each ends the five
    epochs at a loss of 0.10 to 0.12. The minima are flat over about half a decade, so a sweep
    with half-decade steps is fine enough.

    Chapter 9 compared the four at "usual" rates (0.05 for both SGDs, 0.001 for RMSProp and
    Adam) and found momentum far ahead. Those rates were 20 times below SGD's best here, twice
    below momentum's, and 10 times below RMSProp's and Adam's. The same comparison, 20 epochs
    each, at chapter 9's rates (dashed) and at each optimizer's best rate from the sweep (solid):
    """),
    code("""
    chapter_9_rate = {"SGD": 0.05, "SGD + momentum 0.9": 0.05, "RMSProp": 1e-3, "Adam": 1e-3}
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    print(f"{'optimizer':<20} {'rate':>7} {'final loss':>10} {'test acc':>8}   "
          f"{'best rate':>9} {'final loss':>10} {'test acc':>8}")
    for (name, make), color in zip(makers.items(), ["C0", "C1", "C2", "C3"]):
        row = f"{name:<20}"
        for rate, style in [(chapter_9_rate[name], "--"), (best_rate[name], "-")]:
            net = MultiLayerNetwork.from_sizes([64, 64, 10], rng=SEED)
            history = net.fit(X_train, y_train, optimizer=make(rate), epochs=20, batch_size=32,
                              seed=SEED, verbose=0).history
            ax.plot(np.arange(1, 21), history["loss"], style, color=color,
                    label=f"{name}, lr {rate:.3g}")
            row += (f" {rate:>7.3g} {history['loss'][-1]:>10.4f} "
                    f"{accuracy(y_test, net.predict(X_test)):>8.3f}  ")
        print(row)
    ax.set(title="Training loss: chapter 9's rates (dashed) and each one's best rate (solid)",
           xlabel="epoch", ylabel="cross-entropy", yscale="log")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(ncol=2, fontsize="small")
    plt.show()
    """),
    md(r"""
    *What to notice:* at chapter 9's rates the ranking was momentum far ahead, RMSProp next,
    Adam and SGD last, with final losses spread over a factor of 8. At each optimizer's best
    rate the four curves lie close together and end within a third of each other (0.006 to
    0.007); the apparent advantage of momentum was mostly a better-suited learning rate. Two
    cautions. The sweep picked rates by the training loss after 5 epochs; runs of 20 epochs at
    the largest good rates are bumpier (the spikes of SGD and RMSProp), and a schedule that
    lowers the rate later (`CosineAnnealing`, chapter 3) would smooth them. And a lower
    training loss is not a better test accuracy: RMSProp at its best rate fits the training set
    better than at 0.001 yet does worse on the test set. The sweep tunes the optimisation; the
    validation set still judges the model.
    """),
]

EXERCISES = [
    md(r"""
    ## 13. Sanity checks before training

    Two checks worth running before every long training.

    **Overfit one batch.** A network with thousands of parameters must be able to drive the loss
    on one small batch to about zero. If it cannot, something is broken (a gradient, the
    learning rate, the labels), and no amount of training on the full data set will say which.
    Write `overfit_one_batch(network, x, y, loss, optimizer, steps)`: repeat `steps` times a
    training step on the same batch (forward, `loss.forward(y, out)`, `network.backward(
    loss.backward())`, `optimizer.step(network)`) and return the loss of every step, computed
    before that step's update (so the first value is the loss of the untrained network): a list
    (or an array) of `steps` numbers. Train `network` itself, and leave `x` and `y` unchanged.
    """),
    code("""
    from scratchnn.exercises.sanity import check_lr_sweep, check_overfit_one_batch
    """),
    exercise("overfit_one_batch", """
    def overfit_one_batch(network, x, y, loss, optimizer, steps):
        # Code here
        raise NotImplementedError
    """),
    check("check_overfit_one_batch(overfit_one_batch);"),
    md(r"""
    With it, 20 digits (two per class) and a 64-64-10 network: the first loss should be near
    $\ln 10 \approx 2.30$ (a little above with random weights; chapter 13 of the tutorial says
    why), the last close to zero.
    """),
    code("""
    if check_overfit_one_batch(overfit_one_batch, verbose=False):
        batch = np.concatenate([np.flatnonzero(y_train == c)[:2] for c in range(10)])
        net = scratchnn.MultiLayerNetwork.from_sizes([64, 64, 10], rng=0, dtype=np.float64)
        losses = overfit_one_batch(net, X_train[batch], y_train[batch],
                                   scratchnn.CrossEntropyLoss(), scratchnn.optim.Adam(lr=0.01), 150)
        print(f"loss at the first step {losses[0]:.3f} (ln 10 = {np.log(10):.3f}), "
              f"after 150 steps {losses[-1]:.1e}")
    else:
        print("Waiting for overfit_one_batch to pass its check.")
    """),
    md(r"""
    **A learning-rate sweep.** Train once per learning rate, a short run each, and keep the rate
    whose final training loss is lowest. Write `lr_sweep(train_fn, rates)`: `train_fn(lr)`
    trains a fresh network with rate `lr` and returns its final loss (NaN or infinity when the
    run diverged); `rates` is a list or an array of rates, in any order: leave it as it is
    (`rates.sort()` would reorder the caller's list). Call `train_fn`
    **exactly once per rate** (each call is a whole training run) and return a pair
    `(best_rate, losses)`:

    * `losses`: what `train_fn` returned for each rate, in the order of `rates` (a list or an
      array; a diverged run may stay NaN or become `np.inf`);
    * `best_rate`: the rate with the lowest **finite** loss. A NaN or infinite loss is worse
      than any finite one (careful: `np.argmin` and `min` treat NaN as the smallest value).
      When two rates tie for the lowest loss, the **smaller rate** wins (it is the safer one);
    * when no loss is finite, raise a `ValueError` with a sentence saying so.
    """),
    exercise("lr_sweep", """
    def lr_sweep(train_fn, rates):
        # Code here
        raise NotImplementedError
    """),
    check("check_lr_sweep(lr_sweep);"),
    md(r"""
    Your sweep on the digits, for Adam: three epochs per rate.
    """),
    code("""
    def adam_final_loss(lr):
        net = scratchnn.MultiLayerNetwork.from_sizes([64, 32, 10], rng=0)
        history = net.fit(X_train, y_train, optimizer=scratchnn.optim.Adam(lr=lr), epochs=3,
                          batch_size=32, seed=0, verbose=0)
        return history.history["loss"][-1]


    if check_lr_sweep(lr_sweep, verbose=False):
        rates = np.logspace(-4, 0, 5)
        best, losses = lr_sweep(adam_final_loss, rates)
        for lr, value in zip(rates, losses):
            print(f"lr {lr:<8.0e} final loss {value:.4f}{'   <- best' if lr == best else ''}")
    else:
        print("Waiting for lr_sweep to pass its check.")
    """),
]
