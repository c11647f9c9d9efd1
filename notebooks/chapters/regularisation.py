"""Chapter 11, overfitting and regularisation: a train/validation gap on 100 digits, and L2 /
AdamW, dropout and early stopping against it; the exercises write an L2 penalty and an inverted
dropout layer."""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = [
    md(r"""
    ## 11. Overfitting and regularisation

    A network with far more parameters than training samples can learn the training set by
    heart: its training loss goes to zero while its loss on new data stops falling and then
    rises. To see it clearly we starve the network: **100** training digits, a network
    $64 \to 128 \to 128 \to 10$ with about 26,000 parameters, and 300 epochs of Adam. Another
    400 digits of the training set, never trained on, are the *validation* set that each
    method watches; the 453 test digits are only used for the final numbers.
    """),
    code("""
    from scratchnn import DropoutLayer
    from scratchnn.callbacks import EarlyStopping
    from scratchnn.optim import AdamW

    X_small, y_small = X_train[:100], y_train[:100]
    X_val, y_val = X_train[100:500], y_train[100:500]
    print("training digits per class:", np.bincount(y_small, minlength=10))


    def wide_net(p=0.0):
        \"\"\"64-128-128-10 with ReLU, the same initial weights every time; with p > 0 a dropout
        layer after each hidden layer.\"\"\"
        layers = [LinearLayer(64, 128, rng=SEED), ReLULayer()]
        layers += [DropoutLayer(p)] if p else []
        layers += [LinearLayer(128, 128, rng=SEED + 1), ReLULayer()]
        layers += [DropoutLayer(p)] if p else []
        return MultiLayerNetwork(layers + [LinearLayer(128, 10, rng=SEED + 2)])


    def train(net, optimizer, callbacks=()):
        return net.fit(X_small, y_small, optimizer=optimizer, epochs=300, batch_size=25,
                       seed=SEED, validation_data=(X_val, y_val), callbacks=list(callbacks),
                       verbose=0).history


    plain_net = wide_net()
    print(f"{plain_net.n_params:,} parameters for {len(X_small)} training digits")
    plain = train(plain_net, Adam(lr=1e-3))
    best = int(np.argmin(plain["val_loss"]))
    print(f"after 300 epochs: training loss {plain['loss'][-1]:.4f}, "
          f"validation loss {plain['val_loss'][-1]:.3f} "
          f"(lowest {plain['val_loss'][best]:.3f}, at epoch {best + 1})")
    print(f"accuracy: training {plain['accuracy'][-1]:.3f}, "
          f"validation {plain['val_accuracy'][-1]:.3f}")
    """),
    code("""
    epochs_axis = np.arange(1, 301)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    ax1.plot(epochs_axis, plain["loss"], label="training")
    ax1.plot(epochs_axis, plain["val_loss"], label="validation")
    ax1.axvline(best + 1, color="grey", linestyle=":", label="lowest validation loss")
    ax1.set(title="Cross-entropy, no regularisation", xlabel="epoch", yscale="log")
    ax2.plot(epochs_axis, plain["accuracy"], label="training")
    ax2.plot(epochs_axis, plain["val_accuracy"], label="validation")
    ax2.set(title="Accuracy", xlabel="epoch", ylim=(0, 1.02))
    for ax in (ax1, ax2):
        ax.legend()
    plt.show()
    """),
    md(r"""
    *What to notice:* the training loss falls by orders of magnitude, to a few ten-thousandths:
    the 100 digits are memorised. The validation loss stops improving after a few dozen epochs
    and then climbs, although the validation accuracy hardly moves: the network grows ever more
    confident on digits it has not seen, and pays heavily for each one it gets wrong. That widening
    gap between the two curves is overfitting. Three remedies follow.

    **L2 regularisation and weight decay.** Add a penalty on the size of the weights to the loss,

    $$L_\text{reg}(w) = L(w) + \frac{\lambda}{2} \lVert w \rVert^2, \qquad
      \nabla L_\text{reg} = \nabla L + \lambda w,$$

    so a gradient step becomes
    $w \leftarrow w - \eta(\nabla L + \lambda w) = (1 - \eta\lambda)\, w - \eta \nabla L$: every
    step first shrinks the weights by a factor $1 - \eta\lambda$, hence the name *weight decay*.
    Large weights are what it takes to be very confident, so the penalty trades a little training
    loss for calmer predictions. (Biases are usually penalised too in simple code, as here;
    they are few and it matters little.)

    For plain SGD the two readings are the same thing. For Adam they are not: the gradient
    $\nabla L + \lambda w$ is divided by $\sqrt{\hat v}$, the running size of that same gradient,
    so a weight whose loss gradient is large is hardly decayed at all, and one whose gradient is
    tiny is decayed hard. **AdamW** (Loshchilov & Hutter, 2019) *decouples* the decay from the
    adaptive step: $w \leftarrow (1 - \eta\lambda)\, w$, then the Adam step on $\nabla L$ alone,
    so every weight shrinks at the same relative rate. In `scratchnn`, `SGD(weight_decay=...)`
    and `Adam(weight_decay=...)` add $\lambda w$ to the gradient; `AdamW(weight_decay=...)`
    decays directly. One step of each, checked against the formulas:
    """),
    code("""
    rng = np.random.default_rng(SEED)
    w0, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    lr, lam = 0.1, 0.5


    def one_step(optimizer):
        \"\"\"The weights after one optimizer step from w0 with gradient g.\"\"\"
        layer = LinearLayer(3, 2, dtype=np.float64)
        layer.params["W"][...], layer.grads["W"][...] = w0, g
        optimizer.step([layer])
        return layer.params["W"]


    sgd_l2 = one_step(SGD(lr=lr, weight_decay=lam))
    print("SGD + L2:  w - lr (g + lam w) == (1 - lr lam) w - lr g:",
          np.allclose(sgd_l2, w0 - lr * (g + lam * w0)),
          np.allclose(sgd_l2, (1 - lr * lam) * w0 - lr * g))
    adam_step = w0 - one_step(Adam(lr=lr))  # Adam's own step, from g alone
    print("AdamW:     (1 - lr lam) w - Adam's step on g alone:",
          np.allclose(one_step(AdamW(lr=lr, weight_decay=lam)), (1 - lr * lam) * w0 - adam_step))
    print("Adam + L2: the decay went through Adam's scaling, so it differs from AdamW's:",
          not np.allclose(one_step(Adam(lr=lr, weight_decay=lam)),
                          one_step(AdamW(lr=lr, weight_decay=lam))))
    """),
    md(r"""
    **Dropout** (Srivastava et al., 2014). While training, each unit of a hidden layer is
    switched off at random with probability $p$, a fresh choice for every sample and every step,
    so no unit can rely on a particular other one being there: the network is pushed towards
    redundant, spread-out features, much like training a crowd of thinned networks that share
    their weights. *Inverted* dropout scales the survivors by $1/(1 - p)$:

    $$a = x \odot m, \qquad m_i = \begin{cases} 1/(1-p) & \text{with probability } 1 - p \\
      0 & \text{with probability } p \end{cases}, \qquad \mathbb{E}[a_i] = x_i,$$

    so the expected activation is unchanged and at evaluation time the layer is simply the
    identity (no rescaling to remember). The backward pass multiplies by the same mask,
    $\partial L/\partial x = \partial L/\partial a \odot m$: a dropped unit had no effect on the
    loss. `fit` switches the layers to training mode and back to evaluation mode at the end.
    """),
    code("""
    dropout = DropoutLayer(p=0.25, rng=SEED)
    ones = np.ones((1000, 100), dtype=np.float32)
    a = dropout.forward(ones)
    print(f"share of zeros {np.mean(a == 0):.4f} (p = 0.25), kept values {np.unique(a[a > 0])}, "
          f"mean {a.mean():.4f} (x was all ones)")
    grad = dropout.backward(np.ones_like(ones))
    print("backward uses the forward mask:", np.array_equal(grad, a))
    dropout.training = False
    print("evaluation mode is the identity:", np.array_equal(dropout.forward(ones), ones))
    """),
    md(r"""
    **Early stopping.** The simplest remedy watches the validation loss and stops when it has not
    improved for `patience` epochs, then puts back the weights of the best epoch
    (`EarlyStopping(patience=..., restore_best_weights=True)`). Why it regularises: gradient descent
    starts from small weights and moves them step by step, so the number of steps limits how far
    they can travel. For a quadratic loss this can be made precise: $t$ steps of rate $\eta$ act
    like an L2 penalty with $\lambda \approx 1/(\eta t)$ (Goodfellow, Bengio & Courville, 2016,
    section 7.8). Stopping early picks the $\lambda$ by looking at the validation set, for the price
    of one training run.

    Now the same network and the same 100 digits with each remedy. The strengths were chosen by
    trying a few values on the validation set (the test set is only used in the table):
    """),
    code("""
    early = EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=True)
    methods = {
        "L2 (Adam, weight_decay 3e-3)": (wide_net(), Adam(lr=1e-3, weight_decay=3e-3), []),
        "AdamW (weight_decay 1.0)": (wide_net(), AdamW(lr=1e-3, weight_decay=1.0), []),
        "dropout p = 0.5": (wide_net(p=0.5), Adam(lr=1e-3), []),
        "early stopping (patience 20)": (wide_net(), Adam(lr=1e-3), [early]),
    }
    histories, nets = {"none": plain}, {"none": plain_net}
    for name, (net, optimizer, callbacks) in methods.items():
        histories[name], nets[name] = train(net, optimizer, callbacks), net
    restored = int(np.argmin(histories["early stopping (patience 20)"]["val_loss"]))
    print(f"early stopping ran {len(histories['early stopping (patience 20)']['loss'])} epochs "
          f"and restored the weights of epoch {restored + 1}")

    print(f"\\n{'method':<30} {'epochs':>6} {'train loss':>10} {'val loss':>8} "
          f"{'train acc':>9} {'val acc':>7} {'test acc':>8} {'sum w^2':>8}")
    for name, net in nets.items():
        weights = sum(float(np.sum(layer.params["W"].astype(np.float64) ** 2))
                      for layer in net.layers if isinstance(layer, LinearLayer))
        ce = CrossEntropyLoss()
        print(f"{name:<30} {len(histories[name]['loss']):>6} "
              f"{ce.forward(y_small, net.forward(X_small)):>10.4f} "
              f"{ce.forward(y_val, net.forward(X_val)):>8.3f} "
              f"{accuracy(y_small, net.predict(X_small)):>9.3f} "
              f"{accuracy(y_val, net.predict(X_val)):>7.3f} "
              f"{accuracy(y_test, net.predict(X_test)):>8.3f} {weights:>8.0f}")
    """),
    code("""
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5), sharey="row", layout="constrained")
    for column, name in zip(axes.T, methods):
        run = histories[name]
        ran = np.arange(1, len(run["loss"]) + 1)
        for ax, key in zip(column, ["loss", "accuracy"]):
            ax.plot(epochs_axis, plain[f"val_{key}"], color="lightgrey",
                    label="validation, no regularisation")
            ax.plot(ran, run[key], color="tab:blue", label="training")
            ax.plot(ran, run[f"val_{key}"], color="tab:orange", label="validation")
            ax.set(xlabel="epoch", xlim=(0, 300))
        column[0].set(title=name, yscale="log")
        column[1].set(ylim=(0, 1.02))
    axes[0, 0].set(ylabel="cross-entropy")
    axes[1, 0].set(ylabel="accuracy")
    axes[0, 0].legend()
    axes[0, 3].axvline(restored + 1, color="grey", linestyle=":")
    plt.show()
    """),
    md(r"""
    *What to notice:* each remedy stops the climb of the validation loss (grey: without
    regularisation). The L2 penalty holds the sum of the squared weights to about a quarter of
    the unregularised network's (the last column of the table), its training loss levels off at
    about 0.02 instead of falling forever, and its validation loss ends lowest; AdamW shrinks
    the weights less at the strength tried here, and its validation loss creeps up more slowly
    than without it. Dropout makes every curve noisy (the training loss in the figure is
    measured with units dropped; the table measures everything afterwards, in evaluation mode).
    Early stopping simply ends the run 20 epochs after the best one and goes back to it.

    What none of them does here is raise the accuracy by much: validation and test accuracies all
    lie within two and a half points of the unregularised network's, about one and a half standard
    errors on 400 or 453 digits ($\sqrt{0.87 \cdot 0.13 / 453} \approx 0.016$), so these small
    differences could change with another seed. Regularisation cured the *overconfidence* (the loss)
    but could not invent the digits that 100 examples lack. The remedy that works best is more data:
    """),
    code("""
    all_data_net = wide_net()
    all_data_net.fit(X_train, y_train, optimizer=Adam(lr=1e-3), epochs=20, batch_size=25,
                     seed=SEED, verbose=0)
    print(f"the same network on all {len(X_train):,} training digits, 20 epochs, no "
          f"regularisation: test accuracy {accuracy(y_test, all_data_net.predict(X_test)):.3f}")
    """),
    md(r"""
    *What to notice:* with thirteen times as many digits and no regularisation at all, the same
    network makes 12 test mistakes, against 41 to 47 for the networks above (trained on 100).
    Regularisation is what one does when more data cannot be had; it is no substitute for it.
    """),
]

EXERCISES = [
    md(r"""
    ## 11. Overfitting and regularisation

    A network that can memorise its training set needs to be held back. Two classic brakes:

    **The L2 penalty.** Add $\frac{\lambda}{2} \sum_W \lVert W \rVert^2$ (the sum, over every
    array in `weights`, vectors included, of its squared entries: $\lVert W \rVert^2$ is
    `np.sum(W ** 2)`, not the matrix 2-norm) to the loss. Its gradient with respect to each $W$ is
    $\lambda W$ (the $\frac12$ is there to cancel the 2), so a gradient step becomes
    $W \leftarrow W - \eta(\nabla L + \lambda W) = (1 - \eta\lambda) W - \eta \nabla L$: weight
    decay, as `scratchnn.optim.SGD(weight_decay=lam)` does.

    Write `l2_penalty(weights, lam)`: `weights` is a list of arrays (any shapes, float32 or
    float64); return a pair `(value, grads)` with `value` the penalty, a number, and `grads` a
    list holding $\lambda W$ for each array, in the same order. Leave the weights unchanged.
    """),
    code("""
    from scratchnn.exercises.regularisation import check_dropout_layer, check_l2_penalty
    """),
    exercise("l2_penalty", """
    def l2_penalty(weights, lam):
        # Code here
        raise NotImplementedError
    """),
    check("check_l2_penalty(l2_penalty);"),
    md(r"""
    One step of `SGD(lr, weight_decay=lam)` is a plain gradient step on the loss plus your
    penalty:
    """),
    code("""
    if check_l2_penalty(l2_penalty, verbose=False):
        rng = np.random.default_rng(0)
        net = scratchnn.MultiLayerNetwork.from_sizes([4, 5, 3], rng=0, dtype=np.float64)
        for layer, name, p in net.parameters():
            layer.grads[name][...] = rng.normal(size=p.shape)
        weights = [layer.params["W"].copy() for layer in net.layers if "W" in layer.params]
        loss_grads = [layer.grads["W"].copy() for layer in net.layers if "W" in layer.params]
        _, penalty_grads = l2_penalty(weights, 0.1)
        scratchnn.optim.SGD(lr=0.5, weight_decay=0.1).step(net)
        by_hand = [W - 0.5 * (g + r) for W, g, r in zip(weights, loss_grads, penalty_grads)]
        after = [layer.params["W"] for layer in net.layers if "W" in layer.params]
        print("SGD(weight_decay=0.1) step == W - lr (dL/dW + grad of l2_penalty):",
              all(np.allclose(a, b) for a, b in zip(after, by_hand)))
    else:
        print("Waiting for l2_penalty to pass its check.")
    """),
    md(r"""
    **Inverted dropout.** While training, each entry of the input is zeroed with probability
    $p$ and the others are scaled by $1/(1-p)$:

    $$a = x \odot m, \qquad m_i = \begin{cases} 1/(1-p) & \text{with probability } 1 - p \\
      0 & \text{with probability } p \end{cases},$$

    so that $\mathbb{E}[a_i] = x_i$ and, in evaluation mode, the layer is the identity. The
    backward pass multiplies by **the same mask**: $\partial L / \partial x =
    \partial L / \partial a \odot m$.

    Write the `forward` and `backward` of `DropoutLayer(p, rng=None)` (the `__init__` is given):

    * in training mode (`self.training` is True, the default; a network sets it for you) draw a
      new mask at every call, one random number per entry of `x`
      (`self.rng.random(x.shape) >= self.p` keeps an entry with probability $1 - p$), keep it
      in `self.mask` and return `x * mask`, with the mask holding 0 and $1/(1-p)$;
    * in evaluation mode (`self.training` is False) return `x` unchanged;
    * `backward(grad_z)` returns `grad_z * self.mask` after a training forward and `grad_z`
      itself after an evaluation forward; never change `grad_z` or `x` in place;
    * `p = 0` drops nothing ($1/(1-0) = 1$).

    The check judges the layer by its behaviour, not by one sequence of random numbers: over
    100,000 entries the share of zeros must be $p$ to within a few standard deviations, every
    kept entry must be $x/(1-p)$, masks must differ between samples and between calls, and
    backward must use the mask of the forward pass, kept on the layer itself (the check also
    runs it on an input with zeros, as after a ReLU, and with a second dropout layer's forward
    in between).
    """),
    exercise("DropoutLayer", """
    class DropoutLayer(Layer):
        def __init__(self, p=0.5, rng=None):
            super().__init__()  # sets self.training = True
            self.p = p
            self.rng = np.random.default_rng(rng)
            self.mask = None

        def forward(self, x):
            # Code here
            raise NotImplementedError

        def backward(self, grad_z):
            # Code here
            raise NotImplementedError
    """),
    check("check_dropout_layer(DropoutLayer);"),
    md(r"""
    Your layer inside a network, trained on 100 digits: in training mode it drops units, and
    after `fit` (which leaves the network in evaluation mode) it lets everything through.
    """),
    code("""
    if check_dropout_layer(DropoutLayer, verbose=False):
        net = scratchnn.MultiLayerNetwork([
            scratchnn.LinearLayer(64, 128, rng=0, dtype=np.float64), scratchnn.ReLULayer(),
            DropoutLayer(0.5, rng=0), scratchnn.LinearLayer(128, 10, rng=1, dtype=np.float64)])
        history = net.fit(X_train[:100], y_train[:100], loss="cross_entropy",
                          optimizer=scratchnn.optim.Adam(lr=1e-3),
                          epochs=100, batch_size=25, seed=0, verbose=0)
        eval_loss = scratchnn.CrossEntropyLoss().forward(y_train[:100], net.forward(X_train[:100]))
        print(f"training loss while dropping: {history.history['loss'][-1]:.3f}; after fit, in "
              f"evaluation mode: {eval_loss:.3f}")
        print(f"test accuracy {scratchnn.accuracy(y_test, net.predict(X_test)):.3f}")
    else:
        print("Waiting for DropoutLayer to pass its check.")
    """),
]
