"""Chapter 14, convolution: what a convolutional layer computes, im2col and col2im by hand against
scratchnn's Conv2D, pooling, and a small CNN on the digits with its filters and feature maps."""

from __future__ import annotations

from cells import check, code, exercise, md

TUTORIAL = [
    md(r"""
    ## 14. Convolution

    A dense layer gives each of the 64 pixels of a digit its own weight in every unit: a stroke
    detector learned in one corner of the image knows nothing about the same stroke one pixel to
    the right. A *convolutional* layer slides small filters over the image and uses the same
    weights at every position. For a batch $x$ of shape $(N, C, H, W)$ (images, channels, height,
    width), $F$ filters $W$ of shape $(F, C, k, k)$, a bias $b$ of shape $(F,)$, stride $s$ and
    zero padding $p$:

    $$z_{n,f,i,j} = b_f + \sum_{c=0}^{C-1} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1}
      W_{f,c,u,v}\; \tilde x_{n,\,c,\,s i + u,\,s j + v},$$

    where $\tilde x$ is $x$ with $p$ rows and columns of zeros added around each image. Output
    pixel $(i, j)$ looks at the $k \times k$ window whose top-left corner is $(s i, s j)$, in
    every channel, so $z$ has shape $(N, F, H_\text{out}, W_\text{out})$ with

    $$H_\text{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1, \qquad
      W_\text{out} = \left\lfloor \frac{W + 2p - k}{s} \right\rfloor + 1.$$

    Strictly, this is a *cross-correlation*: the convolution of signal processing flips the
    kernel, $\sum_{u} W_u\, x_{i - u}$. Since the filters are learned, a flipped filter is just
    another filter, and deep-learning libraries, `Conv2D` among them, compute the
    cross-correlation and call it convolution. Written as loops, on a $5 \times 6$ image that is
    dark on the left and bright on the right, with a filter that subtracts each window's left
    column from its right one:
    """),
    code("""
    from scratchnn.layers import AvgPool2D, Conv2D, MaxPool2D


    def conv2d_loops(x, W, b, stride=1, padding=0):
        \"\"\"z (N, F, Ho, Wo): the definition above, one output value at a time.\"\"\"
        N, C, H, Wd = x.shape
        F, _, k, _ = W.shape
        Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
        x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        z = np.zeros((N, F, Ho, Wo))
        for n in range(N):
            for f in range(F):
                for i in range(Ho):
                    for j in range(Wo):
                        window = x_pad[n, :, stride * i:stride * i + k, stride * j:stride * j + k]
                        z[n, f, i, j] = np.sum(W[f] * window) + b[f]  # sum over c, u, v
        return z


    edge_image = np.zeros((1, 1, 5, 6))
    edge_image[..., 3:] = 1.0                               # bright from column 3 on
    edge_filter = np.array([[[[-1.0, 0.0, 1.0]] * 3]])      # (F=1, C=1, 3, 3)
    print("image:\\n", edge_image[0, 0])
    print("filter:\\n", edge_filter[0, 0])
    edges = conv2d_loops(edge_image, edge_filter, np.zeros(1))
    print("output (no padding, stride 1):\\n", edges[0, 0])
    for stride, padding in [(1, 0), (1, 1), (2, 0), (2, 1)]:
        out = conv2d_loops(edge_image, edge_filter, np.zeros(1), stride, padding)
        layer = Conv2D(1, 1, 3, stride=stride, padding=padding, rng=SEED)
        print(f"stride {stride}, padding {padding}: output {out.shape[2:]}, "
              f"Conv2D.output_shape {layer.output_shape((1, 5, 6))[1:]}")
    """),
    md(r"""
    *What to notice:* the output is 3 where the window straddles the edge and 0 where the image
    is flat: the filter is an edge detector, and the same one works at every position. Padding 1
    keeps a $3 \times 3$ filter's output the size of the input; stride 2 about halves it
    ($5 \times 6$ gives $3 \times 3$ with padding 1, $2 \times 2$ without), a window that would
    run past the edge being dropped.

    **im2col: the layer as one matrix product.** The loops above take one Python step per output
    value. Instead, copy every window into one column of a matrix $X_\text{col}$ of shape
    $(C k^2, N H_\text{out} W_\text{out})$: row $(c, u, v)$, column $(n, i, j)$. Reshaping $W$ to
    $W_\text{mat}$ of shape $(F, C k^2)$ orders its rows' entries the same way, so the whole layer
    is one product,

    $$Z = W_\text{mat}\, X_\text{col} + b \quad (F,\ N H_\text{out} W_\text{out}),$$

    reshaped to $(N, F, H_\text{out}, W_\text{out})$. Building $X_\text{col}$ takes $k^2$ NumPy
    slices, not one per window: for a fixed kernel offset $(u, v)$, the pixels under it for every
    output are $\tilde x[:, :, u : u + s H_\text{out} : s,\ v : v + s W_\text{out} : s]$.
    We check it against the loops and against `Conv2D`, given the same weights, on a batch with
    three channels, stride 2 and padding 1.
    """),
    code("""
    def im2col(x, k, stride=1, padding=0):
        \"\"\"x (N, C, H, W) -> (C k k, N Ho Wo): column (n, i, j) holds the window of output (i, j)
        of image n, rows in (c, u, v) order as W.reshape(F, -1).\"\"\"
        N, C, H, Wd = x.shape
        Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
        x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        cols = np.empty((C, k, k, N, Ho, Wo), dtype=x.dtype)
        for u in range(k):
            for v in range(k):
                under_uv = x_pad[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride]
                cols[:, u, v] = under_uv.transpose(1, 0, 2, 3)   # (N, C, ..) -> (C, N, ..)
        return cols.reshape(C * k * k, N * Ho * Wo)


    def conv2d_im2col(x, W, b, stride=1, padding=0):
        N, (F, C, k, _) = len(x), W.shape
        cols = im2col(x, k, stride, padding)
        Z = W.reshape(F, -1) @ cols + b[:, None]               # (F, N Ho Wo)
        Ho = (x.shape[2] + 2 * padding - k) // stride + 1
        return Z.reshape(F, N, Ho, -1).transpose(1, 0, 2, 3)   # (N, F, Ho, Wo)


    rng = np.random.default_rng(SEED)
    x_conv = rng.normal(size=(4, 3, 7, 6))
    conv = Conv2D(3, 5, 3, stride=2, padding=1, rng=SEED, dtype=np.float64)
    W_conv, b_conv = conv.params["W"], conv.params["b"]
    b_conv[:] = rng.normal(size=5)                              # a non-zero bias, so it is tested
    z_loops = conv2d_loops(x_conv, W_conv, b_conv, stride=2, padding=1)
    z_im2col = conv2d_im2col(x_conv, W_conv, b_conv, stride=2, padding=1)
    z_layer = conv.forward(x_conv)
    print("X_col", im2col(x_conv, 3, 2, 1).shape, "-> z", z_im2col.shape)
    print(f"largest difference, im2col vs loops: {np.abs(z_im2col - z_loops).max():.1e}, "
          f"im2col vs Conv2D: {np.abs(z_im2col - z_layer).max():.1e}")
    """),
    md(r"""
    The price is memory: each pixel is copied into up to $k^2$ columns, so a batch of 32 digits
    with a $3 \times 3$ kernel and padding 1 gives a matrix of $9 \times 2{,}048$ from 2,048
    pixels. In exchange, the arithmetic runs in one BLAS matrix product.

    **Backward, also as matrix products.** Lay the incoming gradient $G = \partial L / \partial Z$
    out like $Z$, $(F, N H_\text{out} W_\text{out})$. Since $Z = W_\text{mat} X_\text{col} + b$
    is an ordinary linear map (chapter 4, with a transpose),

    $$\frac{\partial L}{\partial W_\text{mat}} = G\, X_\text{col}^\top, \qquad
      \frac{\partial L}{\partial b} = \sum_\text{columns} G, \qquad
      \frac{\partial L}{\partial X_\text{col}} = W_\text{mat}^\top G.$$

    Each weight meets every window, so its gradient sums over all of them. The last product gives
    the gradient of each *copy* of a pixel; a pixel copied into several windows gets the sum of
    its copies' gradients. *col2im* does this: it adds each column back onto the window it was
    copied from (with `+=`, since neighbouring windows overlap) and drops the padding.
    """),
    code("""
    def col2im(dcols, x_shape, k, stride=1, padding=0):
        \"\"\"(C k k, N Ho Wo) -> (N, C, H, W): each column added back onto its window.\"\"\"
        N, C, H, Wd = x_shape
        Ho, Wo = (H + 2 * padding - k) // stride + 1, (Wd + 2 * padding - k) // stride + 1
        dcols = dcols.reshape(C, k, k, N, Ho, Wo)
        dx_pad = np.zeros((N, C, H + 2 * padding, Wd + 2 * padding))
        for u in range(k):
            for v in range(k):
                dx_pad[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += (
                    dcols[:, u, v].transpose(1, 0, 2, 3))
        return dx_pad[:, :, padding:padding + H, padding:padding + Wd]


    G = rng.normal(size=z_layer.shape)                           # some dL/dz, (N, F, Ho, Wo)
    dx_layer = conv.backward(G)
    G_mat = G.transpose(1, 0, 2, 3).reshape(5, -1)               # (F, N Ho Wo), like Z
    cols = im2col(x_conv, 3, 2, 1)
    dW = (G_mat @ cols.T).reshape(W_conv.shape)
    db = G_mat.sum(axis=1)
    dx = col2im(W_conv.reshape(5, -1).T @ G_mat, x_conv.shape, 3, 2, 1)
    for name, mine, library in [("dW", dW, conv.grads["W"]), ("db", db, conv.grads["b"]),
                                ("dx", dx, dx_layer)]:
        print(f"{name} {str(mine.shape):<14} largest difference from Conv2D.backward: "
              f"{np.abs(mine - library).max():.1e}")
    """),
    md(r"""
    **Pooling.** A pooling layer shrinks each channel on its own, with no parameters: *max
    pooling* keeps the largest value of each $k \times k$ window, *average pooling* its mean.
    With $k = 2$ and stride 2 (the default: windows do not overlap) an $8 \times 8$ map becomes
    $4 \times 4$, and a feature found anywhere in a window survives a shift inside it. Backward,
    average pooling spreads each window's gradient evenly, $g / k^2$ per pixel. Max pooling
    sends all of it to the one pixel that held the maximum: the others did not affect the
    output, so their gradient is 0 (on a tie, `MaxPool2D` picks the first, as PyTorch does).
    """),
    code("""
    x_pool = np.array([[1, 5, 2, 0], [3, 2, 8, 1], [0, 4, 6, 6], [7, 1, 2, 9]], float)[None, None]
    by_hand = x_pool.reshape(1, 1, 2, 2, 2, 2).max(axis=(3, 5))  # (.., row block, 2, col block, 2)
    max_pool, avg_pool = MaxPool2D(2), AvgPool2D(2)
    print("x:\\n", x_pool[0, 0])
    print("max pool:\\n", max_pool.forward(x_pool)[0, 0], " by hand equal:",
          np.array_equal(by_hand, max_pool.forward(x_pool)))
    print("average pool:\\n", avg_pool.forward(x_pool)[0, 0])
    g_pool = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
    print("max pool backward of g = [[10, 20], [30, 40]]:\\n", max_pool.backward(g_pool)[0, 0])
    print("average pool backward:\\n", avg_pool.backward(g_pool)[0, 0])
    """),
    md(r"""
    *What to notice:* each gradient of the max pool lands on the position of its window's
    maximum (5, 8, 7 and 9) and nowhere else; the average pool gives every pixel of a window a
    quarter.

    **A small CNN on the digits.** One convolutional layer of 8 filters ($3 \times 3$, padding
    1), a ReLU, a $2 \times 2$ max pool and a dense layer to the 10 classes, written as a spec
    string. The digits are the same rows of 64 pixels as before, seen as images
    $(N, 1, 8, 8)$. It is trained exactly as chapter 8 trained its $64 \to 32 \to 10$ network
    (SGD with learning rate 0.1, 25 epochs, batches of 32), and both are trained here with three
    seeds; seed 0 gives chapter 8's network itself. Then both are tested on the test digits
    moved by one pixel (up, down, left, right, filling with 0).
    """),
    code("""
    spec = "conv 8 3 pad 1, relu, maxpool 2, flatten, dense 10"
    Xi_train, Xi_test = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    padded_test = np.pad(Xi_test, ((0, 0), (0, 0), (1, 1), (1, 1)))
    shifted_test = [padded_test[:, :, 1 - dy:9 - dy, 1 - dx:9 - dx]
                    for dy, dx in [(-1, 0), (1, 0), (0, -1), (0, 1)]]

    scores = {"MLP 64-32-10": [], "CNN": []}
    for seed in range(3):
        mlp = MultiLayerNetwork.from_sizes([64, 32, 10], rng=seed)
        cnn = MultiLayerNetwork.from_spec(spec, input_shape=(1, 8, 8), rng=seed)
        for name, net, to_input in [("MLP 64-32-10", mlp, lambda X: X.reshape(len(X), -1)),
                                    ("CNN", cnn, lambda X: X)]:
            net.fit(to_input(Xi_train), y_train, optimizer=SGD(lr=0.1), epochs=25, batch_size=32,
                    seed=seed, verbose=0)
            shifted = np.mean([accuracy(y_test, net.predict(to_input(X))) for X in shifted_test])
            scores[name].append((accuracy(y_test, net.predict(to_input(Xi_test))), shifted))
    print(cnn, "\\n")
    for name, net in [("MLP 64-32-10", mlp), ("CNN", cnn)]:
        test, shifted = np.array(scores[name]).T
        print(f"{name:<13} {net.n_params:>5,} parameters   test accuracy per seed "
              f"{np.round(test, 3)}   on shifted digits {np.round(shifted, 3)}")
    """),
    code("""
    filters = cnn.layers[0].params["W"][:, 0]                   # (8, 3, 3): the first layer
    digit = Xi_test[:1]                                         # one test digit, (1, 1, 8, 8)
    maps = cnn.layers[1].forward(cnn.layers[0].forward(digit))[0]   # after conv and ReLU
    pooled = cnn.layers[2].forward(maps[None])[0]

    fig, axes = plt.subplots(3, 9, figsize=(11, 4.4), layout="constrained")
    limit = np.abs(filters).max()
    axes[0, 0].imshow(digit[0, 0], cmap="gray_r")
    axes[0, 0].set_title(f"digit ({y_test[0]})", fontsize=9)
    for f in range(8):
        image = axes[0, f + 1].imshow(filters[f], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, f + 1].set_title(f"filter {f}", fontsize=9)
        axes[1, f + 1].imshow(maps[f], cmap="gray_r", vmin=0, vmax=maps.max())
        axes[2, f + 1].imshow(pooled[f], cmap="gray_r", vmin=0, vmax=maps.max())
    axes[1, 0].text(0.5, 0.5, "conv + ReLU\\n8 x 8", ha="center", va="center")
    axes[2, 0].text(0.5, 0.5, "max pool\\n4 x 4", ha="center", va="center")
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
    for ax in axes[1:, 0]:
        ax.axis("off")
    fig.colorbar(image, ax=axes[0, :], shrink=0.8, label="weight")
    fig.suptitle("The CNN's 8 first-layer filters (red +, blue -) and what they make of one digit")
    plt.show()
    """),
    md(r"""
    *What to notice:* the CNN's test accuracy (0.969 to 0.976 over the three seeds) overlaps the
    MLP's (0.962 to 0.974) with 1,370 parameters instead of 2,410. On digits moved by one pixel
    both fall to about half right, the MLP to 0.43-0.45 and the CNN to 0.56-0.60: the feature
    maps move with the digit, but the dense layer after them weighs each position separately,
    and a $2 \times 2$ pool absorbs only part of a one-pixel move. In the figure, the learned
    filters are not tidy edge detectors. Filters 1 and 2 are mostly positive and their maps
    look like a blurred copy of the digit; filters such as 0 and 6 mix positive and negative
    weights and light up on only some of the strokes; filter 3 has small weights and its map
    stays nearly blank on this digit. Max pooling keeps each map's bright parts at half the
    resolution.
    """),
]

EXERCISES = [
    md(r"""
    ## 14. Convolution

    A convolutional layer slides $F$ small filters over a batch of images. Images are
    `(N, C, H, W)` (images, channels, height, width), the filters $W$ are `(F, C, k, k)` and the
    bias $b$ is `(F,)`. With stride $s$ and $p$ rows and columns of zeros around each image
    ($\tilde x$), output pixel $(i, j)$ of filter $f$ is

    $$z_{n,f,i,j} = b_f + \sum_{c} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1}
      W_{f,c,u,v}\; \tilde x_{n,\,c,\,s i + u,\,s j + v},$$

    of shape `(N, F, Ho, Wo)` with $H_o = \lfloor (H + 2p - k) / s \rfloor + 1$ and $W_o$
    likewise. This is a cross-correlation, as in every deep-learning library: $u$ and $v$ count
    forward from the window's top-left corner $(s i, s j)$, the kernel is not flipped.

    Write `im2col(x, kernel_size, stride=1, padding=0)`: every window of every image as one
    column of a matrix of shape `(C * k * k, N * Ho * Wo)`. Order the rows $(c, u, v)$, as
    `W.reshape(F, -1)` orders a filter's weights, and the columns $(n, i, j)$. Then
    `W.reshape(F, -1) @ im2col(x, k, s, p)` is the whole convolution, bias aside. (The check
    also accepts the transpose and any other order of those axes that some reshape of `W`
    matches, and tells you which layout it found.) Pad only height and width:
    `np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))`. Loops are fine; so is one slice per kernel
    offset $(u, v)$, `x_pad[:, :, u:u + s * Ho:s, v:v + s * Wo:s]`, which holds that offset's
    pixel of every window.
    """),
    code("""
    from scratchnn.exercises.conv import (
        check_conv2d_forward,
        check_im2col,
        check_max_pool2d,
        check_max_pool2d_backward,
    )
    from scratchnn.layers import Conv2D, MaxPool2D
    """),
    exercise("im2col", """
    def im2col(x, kernel_size, stride=1, padding=0):
        # Code here
        raise NotImplementedError
    """),
    check("check_im2col(im2col);"),
    md(r"""
    Now the layer's forward pass, `conv2d_forward(x, W, b, stride=1, padding=0)`, returning `z`
    of shape `(N, F, Ho, Wo)`. With your `im2col` it is one matrix product and a reshape (mind
    the order of the axes when you reshape the product back); loops over the formula are
    correct too, only slower. Add each filter's bias to every pixel of its own output map.
    """),
    exercise("conv2d_forward", """
    def conv2d_forward(x, W, b, stride=1, padding=0):
        # Code here
        raise NotImplementedError
    """),
    check("check_conv2d_forward(conv2d_forward);"),
    md(r"""
    Your convolution against scratchnn's `Conv2D` on the digits: 8 filters of $3 \times 3$ with
    padding 1, on the first 100 training digits as `(100, 1, 8, 8)` images.
    """),
    code("""
    if check_conv2d_forward(conv2d_forward, verbose=False):
        digits = X_train[:100].reshape(-1, 1, 8, 8)
        layer = Conv2D(1, 8, 3, padding=1, rng=0, dtype=np.float64)
        layer.params["b"][:] = np.linspace(-0.5, 0.5, 8)
        mine = conv2d_forward(digits, layer.params["W"], layer.params["b"], 1, 1)
        print(f"z {mine.shape}, largest difference from Conv2D: "
              f"{np.abs(mine - layer.forward(digits)).max():.1e}")
    else:
        print("Waiting for conv2d_forward to pass its check.")
    """),
    md(r"""
    **Max pooling** keeps the largest value of each `kernel_size x kernel_size` window, channel by
    channel: `(N, C, H, W) -> (N, C, Ho, Wo)` with $H_o = \lfloor (H - k) / s \rfloor + 1$. The
    stride defaults to the kernel size (`stride=None`), so by default the windows do not overlap;
    windows that would run past the edge are dropped. Write `max_pool2d(x, kernel_size,
    stride=None)`.

    Its backward pass, `max_pool2d_backward(x, grad_out, kernel_size, stride=None)`, returns
    $\partial L / \partial x$, shaped like `x`: each window's gradient `grad_out[n, c, i, j]` goes
    to the pixel that held the window's maximum, and the window's other pixels get nothing from it
    (they did not change its output). Where windows overlap, a pixel can be the maximum of several
    and gets the sum of their gradients. When a window's maximum appears more than once (a window of
    zeros after a ReLU), its gradient must still be passed on only once: give it to one of the tied
    pixels (scratchnn and PyTorch take the first) or split it between them.
    """),
    exercise("max_pool2d", """
    def max_pool2d(x, kernel_size, stride=None):
        # Code here
        raise NotImplementedError
    """),
    check("check_max_pool2d(max_pool2d);"),
    exercise("max_pool2d_backward", """
    def max_pool2d_backward(x, grad_out, kernel_size, stride=None):
        # Code here
        raise NotImplementedError
    """),
    check("check_max_pool2d_backward(max_pool2d_backward);"),
    md(r"""
    The first layers of a CNN with your functions, forward and backward: convolution, ReLU and
    a $2 \times 2$ max pool on 100 digits, against `Conv2D`, `np.maximum` and `MaxPool2D`. The
    gradient is compared before the ReLU, $\partial L / \partial z$: a window of zeros, whose
    tie you may have split differently from scratchnn, sends its gradient to pixels that the
    ReLU then blocks, so every valid rule gives the same $\partial L / \partial z$.
    """),
    code("""
    ready = all(checker(fn, verbose=False) for checker, fn in [
        (check_conv2d_forward, conv2d_forward), (check_max_pool2d, max_pool2d),
        (check_max_pool2d_backward, max_pool2d_backward)])
    if ready:
        digits = X_train[:100].reshape(-1, 1, 8, 8)
        layer, pool = Conv2D(1, 8, 3, padding=1, rng=0, dtype=np.float64), MaxPool2D(2)
        z = conv2d_forward(digits, layer.params["W"], layer.params["b"], 1, 1)
        maps = np.maximum(z, 0)
        pooled = max_pool2d(maps, 2)
        z_library = layer.forward(digits)
        pooled_library = pool.forward(np.maximum(z_library, 0))
        grad = np.random.default_rng(0).normal(size=pooled.shape)  # some dL/d(pooled)
        dz = (z > 0) * max_pool2d_backward(maps, grad, 2)
        dz_library = (z_library > 0) * pool.backward(grad)
        print(f"pooled {pooled.shape}, largest difference from scratchnn: "
              f"{np.abs(pooled - pooled_library).max():.1e}")
        print(f"dL/dz {dz.shape}, largest difference from scratchnn: "
              f"{np.abs(dz - dz_library).max():.1e}")
    else:
        print("Waiting for conv2d_forward, max_pool2d and max_pool2d_backward to pass their "
              "checks.")
    """),
]
