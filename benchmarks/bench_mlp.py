"""One epoch of an MLP 784-256-128-10 on 60,000 MNIST-shaped samples, against its peers.

    python benchmarks/bench_mlp.py [--rounds 5] [--batch-sizes 32,128] [--skip sklearn]

Every contender's library is imported once before anything is timed: a missing one (PyTorch is
only in the test extra) stops the run at once, naming the ``--skip`` that leaves it out.

ReLU, softmax cross-entropy, plain SGD with lr 0.1, float32, shuffled every epoch. Each contender
runs in its own subprocess (so peak memory is its own) on the same random data:

* scratchnn: ``network.fit(..., epochs=1, verbose=0, metrics=[])``, the public fit loop;
* PyTorch CPU: the same architecture, a hand-written loop slicing a freshly shuffled tensor;
* scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0)``, one epoch;
* numpy-loop: the same step hand-written in NumPy as one flat loop, with no layers, no checks
  and preallocated batch buffers: what the library's structure costs is the gap to it;
* the GEMM floor: only the eight matrix products a step needs (3 forward, 3 weight gradients,
  2 input gradients), in NumPy float32 into preallocated outputs, times the number of steps.

It prints seconds per epoch (the median over rounds; in each round every contender runs once, so
a slow spell of this shared machine hits them all), samples per second, the peak memory above what
the process held before training, and the ratios to PyTorch and to the floor. Epoch cost
does not depend on pixel values, so random data serves.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from _bench import current_rss_mb, peak_rss_mb

N_SAMPLES, N_FEATURES, HIDDEN, N_CLASSES, LR = 60_000, 784, (256, 128), 10, 0.1


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((N_SAMPLES, N_FEATURES), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    return X, y


def run_scratchnn(X, y, batch_size, repeats):
    from scratchnn import MultiLayerNetwork
    from scratchnn.optim import SGD

    net = MultiLayerNetwork.from_sizes([N_FEATURES, *HIDDEN, N_CLASSES], activation="relu", rng=0)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        net.fit(X, y, loss="cross_entropy", optimizer=SGD(lr=LR), epochs=1,
                batch_size=batch_size, seed=r, verbose=0, metrics=[])
        times.append(time.perf_counter() - start)
    return times


def run_torch(X, y, batch_size, repeats):
    import torch

    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN[0]), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN[0], HIDDEN[1]), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN[1], N_CLASSES),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        perm = torch.randperm(len(Xt))
        Xs, ys = Xt[perm], yt[perm]
        for i in range(0, len(Xs), batch_size):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xs[i : i + batch_size]), ys[i : i + batch_size])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def run_sklearn(X, y, batch_size, repeats):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    times = []
    for r in range(repeats):
        clf = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="sgd", learning_rate_init=LR,
                            momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                            batch_size=batch_size, max_iter=1, shuffle=True, random_state=r)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        times.append(time.perf_counter() - start)
    return times


def run_numpy_loop(X, y, batch_size, repeats):
    """A good hand-written NumPy training loop: no classes, no checks, the same arithmetic."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    sizes = [(N_FEATURES, HIDDEN[0]), (HIDDEN[0], HIDDEN[1]), (HIDDEN[1], N_CLASSES)]
    Ws = [(rng.uniform(-1, 1, s) * np.sqrt(6 / s[0])).astype(f32) for s in sizes]
    bs = [np.zeros((1, s[1]), f32) for s in sizes]
    params = [p for pair in zip(Ws, bs, strict=True) for p in pair]
    grads = [np.empty_like(p) for p in params]
    scratch = [np.empty_like(p) for p in params]
    xbuf, ybuf = np.empty((batch_size, N_FEATURES), f32), np.empty(batch_size, np.int64)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        perm = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = perm[i : i + batch_size]
            n = len(idx)
            x, labels = xbuf[:n], ybuf[:n]
            np.take(X, idx, axis=0, out=x, mode="clip")
            np.take(y, idx, axis=0, out=labels, mode="clip")
            z1 = x @ Ws[0]
            z1 += bs[0]
            a1 = np.maximum(z1, 0)
            z2 = a1 @ Ws[1]
            z2 += bs[1]
            a2 = np.maximum(z2, 0)
            z3 = a2 @ Ws[2]
            z3 += bs[2]
            shifted = z3 - z3.max(axis=1, keepdims=True)
            g = np.exp(shifted)
            g /= g.sum(axis=1, keepdims=True)
            g[np.arange(n), labels] -= 1
            g /= n
            np.matmul(a2.T, g, out=grads[4])
            np.sum(g, axis=0, keepdims=True, out=grads[5])
            g = (g @ Ws[2].T) * (a2 > 0)
            np.matmul(a1.T, g, out=grads[2])
            np.sum(g, axis=0, keepdims=True, out=grads[3])
            g = (g @ Ws[1].T) * (a1 > 0)
            np.matmul(x.T, g, out=grads[0])
            np.sum(g, axis=0, keepdims=True, out=grads[1])
            for p, gp, tmp in zip(params, grads, scratch, strict=True):
                np.multiply(gp, LR, out=tmp)
                p -= tmp
        times.append(time.perf_counter() - start)
    return times


def run_floor(X, y, batch_size, repeats):
    """The eight GEMMs of one step, into preallocated outputs, times the number of steps."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    W1, W2, W3 = (rng.random(s, dtype=f32) for s in [(784, 256), (256, 128), (128, 10)])
    x = X[:batch_size]
    h1, h2, z = (np.empty((batch_size, n), f32) for n in (256, 128, 10))
    g3, g2, g1 = np.empty_like(z), np.empty_like(h2), np.empty_like(h1)
    dW1, dW2, dW3 = np.empty_like(W1), np.empty_like(W2), np.empty_like(W3)
    g3[:] = rng.random(g3.shape, dtype=f32)
    n_steps = -(-len(X) // batch_size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_steps):
            np.matmul(x, W1, out=h1)
            np.matmul(h1, W2, out=h2)
            np.matmul(h2, W3, out=z)
            np.matmul(h2.T, g3, out=dW3)
            np.matmul(g3, W3.T, out=g2)
            np.matmul(h1.T, g2, out=dW2)
            np.matmul(g2, W2.T, out=g1)
            np.matmul(x.T, g1, out=dW1)
        times.append(time.perf_counter() - start)
    return times


RUNNERS = {"scratchnn": run_scratchnn, "pytorch": run_torch, "sklearn": run_sklearn,
           "numpy-loop": run_numpy_loop, "floor": run_floor}


# Imported before the baseline is read, so peak memory counts training, not loading a library.
PRELOAD = {"scratchnn": "scratchnn", "pytorch": "torch", "sklearn": "sklearn.neural_network",
           "numpy-loop": "numpy", "floor": "numpy"}


def check_contenders(names):
    """Fail at once, in one sentence, if a contender is unknown or its library does not import,
    rather than after the other contenders' rounds (minutes) when its first worker dies."""
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        sys.exit(f"bench_mlp: no contender {', '.join(map(repr, unknown))}; the contenders are "
                 f"{', '.join(RUNNERS)}.")
    for name in names:
        try:
            importlib.import_module(PRELOAD[name])
        except ImportError as err:
            sys.exit(f"bench_mlp: the {name} contender needs {PRELOAD[name]}, which does not "
                     f"import ({err}); install it, or leave it out with --skip {name}.")


def worker(name, batch_size, repeats):
    importlib.import_module(PRELOAD[name])
    X, y = make_data()
    base = current_rss_mb()
    times = RUNNERS[name](X, y, batch_size, repeats)
    print(json.dumps({"times": times, "peak_mb": max(peak_rss_mb() - base, 0.0)}))


def measure(name, batch_size, repeats):
    cmd = [sys.executable, __file__, "--worker", name, "--batch-sizes", str(batch_size),
           "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} at batch {batch_size} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed epochs per contender, interleaved across contenders")
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.worker:
        worker(args.worker, batch_sizes[0], args.repeats)
        return
    skip = set(filter(None, args.skip.split(",")))
    check_contenders(skip)
    names = [n for n in RUNNERS if n not in skip]
    check_contenders(names)
    print(f"MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD lr {LR}, float32, "
          f"{N_SAMPLES:,} samples; median of {args.rounds} rounds, contenders interleaved "
          f"in each round, each timed on its second epoch in a fresh process; "
          f"{os.cpu_count()} cores")
    header = (f"{'batch':>5}  {'contender':<10} {'s/epoch':>8} {'samples/s':>10} "
              f"{'peak MB':>8} {'vs torch':>9} {'vs floor':>9}")
    print(header)
    print("-" * len(header))
    for bs in batch_sizes:
        times = {n: [] for n in names}
        peak = dict.fromkeys(names, 0.0)
        # Interleaving spreads the machine's slow and fast moments over every contender.
        for _ in range(args.rounds):
            for n in names:
                result = measure(n, bs, repeats=2)
                times[n].append(result["times"][-1])  # the first epoch warms up
                peak[n] = max(peak[n], result["peak_mb"])
        med = {n: statistics.median(t) for n, t in times.items()}
        for n in names:
            vs_torch = f"{med[n] / med['pytorch']:.2f}x" if "pytorch" in med else "-"
            vs_floor = f"{med[n] / med['floor']:.2f}x" if "floor" in med else "-"
            print(f"{bs:>5}  {n:<10} {med[n]:>8.3f} {N_SAMPLES / med[n]:>10,.0f} "
                  f"{peak[n]:>8.1f} {vs_torch:>9} {vs_floor:>9}", flush=True)


if __name__ == "__main__":
    main()
