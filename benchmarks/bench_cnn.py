"""One epoch of two small CNNs on 60,000 MNIST-shaped images: scratchnn, PyTorch, the GEMM floor.

    python benchmarks/bench_cnn.py [--network a|b|both] [--rounds 3] [--samples 60000]
                                   [--threads N] [--profile]

The networks, NCHW float32, every convolution 3x3 with padding 1 and every pooling 2x2:

* a: Conv(1->8)-ReLU-MaxPool-Conv(8->16)-ReLU-MaxPool-Flatten-Linear(784->10)
* b: Conv(1->32)-ReLU-MaxPool-Conv(32->64)-ReLU-MaxPool-Flatten-Linear(3136->128)-ReLU-
  Linear(128->10)

trained with softmax cross-entropy and plain SGD (lr 0.01), batch 64, reshuffled every epoch, on
random 1x28x28 images with labels 0..9 (seeded; epoch cost does not depend on pixel values). Each
contender runs in its own subprocess (so peak memory is its own), warms up on 10 batches, then
one full epoch is timed:

* scratchnn: ``MultiLayerNetwork(layers).fit(..., epochs=1, verbose=0, metrics=[])``, the public
  fit loop with ``Conv2D``, ``MaxPool2D``, ``Flatten`` and ``LinearLayer``;
* PyTorch CPU: the same ``nn.Sequential``, a hand-written loop slicing a freshly shuffled tensor,
  ``torch.optim.SGD``;
* the GEMM floor: only the matrix products of the epoch, in NumPy float32 into preallocated
  outputs. Per convolution or dense layer: the forward product, the weight gradient and the input
  gradient (not for the first layer: training never needs the gradient of the images), each
  convolution as one GEMM on an im2col matrix built once before timing. No im2col/col2im,
  pooling, ReLU, softmax or update: what an im2col NumPy implementation cannot beat with this
  BLAS and these threads. PyTorch is not bound by it (its convolutions are not NumPy GEMMs).

How to read the table: s/epoch is the median over rounds (in each round every contender runs once,
interleaved, so a slow spell of this shared machine hits them all) and "range" the fastest and
slowest round; "vs torch" and "vs floor" divide the medians. scratchnn's gap to the floor is what
its layers cost beyond the arithmetic (im2col and col2im copies, pooling, transposes, checks); the
floor's gap to PyTorch is what NumPy GEMMs cost against a tuned convolution library. "peak MB" is
the most resident memory the process reached above what it held after importing its library and
making the data (the largest over rounds). "threads" is what each contender computed with:
OpenBLAS/MKL threads for NumPy, intra-op threads for PyTorch. The load average is read before and
after each table: a load near or above the CPU count means other work shared the machine and the
times are high. ``--profile`` times nothing: it runs one scratchnn epoch under cProfile instead
and prints where the time goes.
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
from itertools import pairwise

import numpy as np
from _bench import current_rss_mb, peak_rss_mb

N_SAMPLES, SIDE, N_CLASSES, BATCH, LR, WARMUP_BATCHES = 60_000, 28, 10, 64, 0.01, 10

# Each convolution is 3x3, padding 1, then ReLU and 2x2 max-pooling; then Flatten and the dense
# layers, with ReLU between them.
NETWORKS = {
    "a": {"convs": [(1, 8), (8, 16)], "dense": [784, 10]},
    "b": {"convs": [(1, 32), (32, 64)], "dense": [3136, 128, 10]},
}

# Each contender's libraries, imported before the memory baseline (so peak memory counts training,
# not loading) and checked before anything runs (so a missing one fails at once).
PRELOAD = {"scratchnn": "scratchnn", "pytorch": "torch", "floor": "numpy"}


def describe(spec):
    convs = "-".join(f"Conv({i}->{o})-ReLU-MaxPool" for i, o in spec["convs"])
    dense = "-ReLU-".join(f"Linear({i}->{o})" for i, o in pairwise(spec["dense"]))
    return f"{convs}-Flatten-{dense}"


def make_data(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, 1, SIDE, SIDE), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, n_samples)
    return X, y


# -- the contenders: make_*(spec) returns epoch(X, y, seed), which trains one epoch ----------------
def make_scratchnn(spec):
    from scratchnn import MultiLayerNetwork
    from scratchnn.layers import Conv2D, Flatten, LinearLayer, MaxPool2D, ReLULayer
    from scratchnn.optim import SGD

    layers = []
    for i, (c_in, c_out) in enumerate(spec["convs"]):
        layers += [Conv2D(c_in, c_out, 3, padding=1, rng=i), ReLULayer(), MaxPool2D(2)]
    layers.append(Flatten())
    for i, (n_in, n_out) in enumerate(pairwise(spec["dense"])):
        layers += [ReLULayer()] if i else []
        layers.append(LinearLayer(n_in, n_out, rng=len(layers)))
    net = MultiLayerNetwork(layers)

    def epoch(X, y, seed):
        net.fit(X, y, loss="cross_entropy", optimizer=SGD(lr=LR), epochs=1, batch_size=BATCH,
                shuffle=True, seed=seed, verbose=0, metrics=[])

    return epoch


def make_torch(spec):
    import torch
    from torch import nn

    torch.manual_seed(0)
    modules = []
    for c_in, c_out in spec["convs"]:
        modules += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    modules.append(nn.Flatten())
    for i, (n_in, n_out) in enumerate(pairwise(spec["dense"])):
        modules += [nn.ReLU()] if i else []
        modules.append(nn.Linear(n_in, n_out))
    model = nn.Sequential(*modules)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def epoch(X, y, seed):
        perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
        Xs, ys = torch.from_numpy(X)[perm], torch.from_numpy(y)[perm]
        for i in range(0, len(Xs), BATCH):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xs[i : i + BATCH]), ys[i : i + BATCH]).backward()
            opt.step()

    return epoch


def gemm_shapes(spec):
    """(rows per sample, K, N) of each layer's forward GEMM (rows, K) @ (K, N): a convolution has
    one row per output pixel and K = in_channels * 3 * 3 (its im2col matrix); a dense layer one."""
    side, shapes = SIDE, []
    for c_in, c_out in spec["convs"]:
        shapes.append((side * side, c_in * 9, c_out))
        side //= 2
    if spec["dense"][0] != spec["convs"][-1][1] * side * side:
        raise ValueError(f"the first dense layer takes {spec['dense'][0]} features, "
                         f"the convolutions give {spec['convs'][-1][1] * side * side}.")
    shapes += [(1, n_in, n_out) for n_in, n_out in pairwise(spec["dense"])]
    return shapes


def make_floor(spec):
    """Per layer and batch: Z = A W, dW = A^T G and (after the first layer) dA = G W^T."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    layers = []
    for rows, k, n in gemm_shapes(spec):
        m = rows * BATCH
        a, w, g = (rng.random(shape, dtype=f32) for shape in [(m, k), (k, n), (m, n)])
        layers.append((rows, a, w, g, np.empty((m, n), f32), np.empty((k, n), f32),
                       np.empty((m, k), f32)))

    def epoch(X, y, seed):
        for start in range(0, len(X), BATCH):
            b = min(BATCH, len(X) - start)  # the last batch may be shorter
            for i, (rows, a, w, g, z, dw, da) in enumerate(layers):
                m = rows * b
                np.matmul(a[:m], w, out=z[:m])
                np.matmul(a[:m].T, g[:m], out=dw)
                if i:
                    np.matmul(g[:m], w.T, out=da[:m])

    return epoch


MAKERS = {"scratchnn": make_scratchnn, "pytorch": make_torch, "floor": make_floor}


# -- threads ------------------------------------------------------------------------------------
def set_threads(name, n):
    """Limit the contender's BLAS (threadpoolctl, when installed) and PyTorch's threads to n."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the OMP/OPENBLAS/MKL_NUM_THREADS variables set by measure() remain
        pass
    else:
        threadpool_limits(limits=n)
    if name == "pytorch":
        import torch

        torch.set_num_threads(n)


def threads_used(name):
    if name == "pytorch":
        import torch

        return f"torch {torch.get_num_threads()}"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS " + os.environ.get("OPENBLAS_NUM_THREADS", "default")
    blas = [f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()
            if p["user_api"] == "blas"]
    return ", ".join(blas) or "no BLAS"


# -- running --------------------------------------------------------------------------------------
def check_contenders():
    """Fail at once, in one sentence, if a contender cannot run."""
    try:
        from scratchnn.layers import Conv2D, MaxPool2D  # noqa: F401
    except ImportError:
        sys.exit("bench_cnn: this scratchnn has no Conv2D and MaxPool2D in scratchnn.layers, so "
                 "there is no CNN to benchmark yet.")
    try:
        importlib.import_module(PRELOAD["pytorch"])
    except ImportError as err:
        sys.exit(f"bench_cnn: PyTorch, the reference every time is compared to, does not import "
                 f"({err}); install it with `pip install torch`.")


def worker(name, network, n_samples, threads):
    importlib.import_module(PRELOAD[name])
    if threads:
        set_threads(name, threads)
    X, y = make_data(n_samples)
    base = current_rss_mb()
    epoch = MAKERS[name](NETWORKS[network])
    warm = min(WARMUP_BATCHES * BATCH, n_samples)
    epoch(X[:warm], y[:warm], seed=0)
    start = time.perf_counter()
    epoch(X, y, seed=1)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": max(peak_rss_mb() - base, 0.0),
                      "threads": threads_used(name)}))


def measure(name, network, n_samples, threads):
    cmd = [sys.executable, __file__, "--worker", name, "--network", network,
           "--samples", str(n_samples)]
    env = dict(os.environ)
    if threads:
        cmd += ["--threads", str(threads)]
        env.update(dict.fromkeys(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"],
                                 str(threads)))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{name} on network {network} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_average():
    return f"{os.getloadavg()[0]:.2f}"


def benchmark(network, rounds, n_samples, threads):
    names = list(MAKERS)
    print(f"\nnetwork {network}: {describe(NETWORKS[network])}")
    print(f"SGD lr {LR}, batch {BATCH}, float32, {n_samples:,} samples; median of {rounds} "
          f"round{'s' * (rounds > 1)}, contenders interleaved in each, each a fresh process "
          f"timed on one epoch after {WARMUP_BATCHES} warm-up batches")
    load_before = load_average()
    times = {n: [] for n in names}
    peak = dict.fromkeys(names, 0.0)
    used = {}
    # Interleaving spreads the machine's slow and fast moments over every contender.
    for _ in range(rounds):
        for n in names:
            result = measure(n, network, n_samples, threads)
            times[n].append(result["seconds"])
            peak[n] = max(peak[n], result["peak_mb"])
            used[n] = result["threads"]
    med = {n: statistics.median(t) for n, t in times.items()}
    header = (f"{'contender':<10} {'s/epoch':>8} {'range':>15} {'vs torch':>9} {'vs floor':>9} "
              f"{'peak MB':>8}  threads")
    print(header)
    print("-" * len(header))
    for n in names:
        spread = f"{min(times[n]):.2f}-{max(times[n]):.2f}"
        print(f"{n:<10} {med[n]:>8.2f} {spread:>15} {med[n] / med['pytorch']:>8.2f}x "
              f"{med[n] / med['floor']:>8.2f}x {peak[n]:>8.1f}  {used[n]}", flush=True)
    print(f"load average (1 min) {load_before} before, {load_average()} after, "
          f"on {os.cpu_count()} CPUs")


def profile(network, n_samples, threads, top=25):
    """One scratchnn epoch under cProfile: the top functions by cumulative and by own time."""
    import cProfile
    import pstats

    importlib.import_module(PRELOAD["scratchnn"])
    if threads:
        set_threads("scratchnn", threads)
    X, y = make_data(n_samples)
    epoch = make_scratchnn(NETWORKS[network])
    warm = min(WARMUP_BATCHES * BATCH, n_samples)
    epoch(X[:warm], y[:warm], seed=0)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(epoch, X, y, 1)
    seconds = time.perf_counter() - start
    print(f"\nnetwork {network}: {describe(NETWORKS[network])}; one scratchnn epoch of "
          f"{n_samples:,} samples under cProfile: {seconds:.2f} s ({threads_used('scratchnn')}, "
          f"load average {load_average()} on {os.cpu_count()} CPUs)")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"top {top} by cumulative time (the function and all it calls):")
    stats.sort_stats("cumulative").print_stats(top)
    print(f"top {top} by own time (the function alone, without what it calls):")
    stats.sort_stats("tottime").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=["a", "b", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed epochs per contender, interleaved across contenders")
    parser.add_argument("--samples", type=int, default=N_SAMPLES,
                        help="images per epoch (small values for a smoke run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads for every contender (default: as is)")
    parser.add_argument("--profile", action="store_true",
                        help="profile one scratchnn epoch with cProfile instead of timing")
    parser.add_argument("--worker", choices=list(MAKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    for option in ("rounds", "samples", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option} must be at least 1, got {value}.")
    networks = ["a", "b"] if args.network == "both" else [args.network]
    if args.worker:
        worker(args.worker, networks[0], args.samples, args.threads)
        return
    check_contenders()
    for network in networks:
        if args.profile:
            profile(network, args.samples, args.threads)
        else:
            benchmark(network, args.rounds, args.samples, args.threads)


if __name__ == "__main__":
    main()
