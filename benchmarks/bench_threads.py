"""One training epoch with 1 vs 2 BLAS threads, on an idle and on a busy machine.

    python benchmarks/bench_threads.py [--rounds 3] [--samples 10000]
                                       [--batch-sizes 16,64,256,1024] [--skip-cnn]

What it trains, through the public ``fit`` (ReLU, softmax cross-entropy, plain SGD, float32,
shuffled, ``verbose=0, metrics=[]``) on random data (epoch cost does not depend on the values):

* MLP 784-256-128-10 at each batch size (lr 0.1);
* the CNN ``conv 8 3 pad 1, relu, maxpool 2, conv 16 3 pad 1, relu, maxpool 2, flatten, dense 10``
  on 1x28x28 images at batch 64 (lr 0.01).

Each run is a fresh process that sets its BLAS threads with ``scratchnn.threads.set_num_threads``
(and checks that BLAS reports them), warms up on 10 batches, then times one epoch. Two
conditions: "idle" (whatever else the shared machine is doing) and "busy", with a CPU-burning
``python -c "while True: pass"`` process started before the runs and killed after them. In each
round every (condition, threads) pair runs once per workload, interleaved, the order of 1 and 2
threads alternating by round, so a slow spell of the machine hits every contender.

The table gives the median seconds per epoch over rounds for 1 and 2 threads and their ratio
2 threads / 1 thread (below 1: two threads win; above 1: they lose), and "spread", the largest
over the two thread counts of (slowest round / fastest round). Before and after, it prints the
load average; per condition, the share of the machine's CPU time that was busy during the
timed runs (from /proc/stat: the run itself counts, so about 50% on 2 cores is one thread of
ours and nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

N_FEATURES, HIDDEN, N_CLASSES, SIDE, WARMUP_BATCHES = 784, (256, 128), 10, 28, 10
CNN_SPEC = ("conv 8 3 pad 1, relu, maxpool 2, conv 16 3 pad 1, relu, maxpool 2, flatten, "
            "dense 10")
CNN_BATCH = 64


def make_data(n_samples, image, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_samples, 1, SIDE, SIDE) if image else (n_samples, N_FEATURES)
    return rng.random(shape, dtype=np.float32), rng.integers(0, N_CLASSES, n_samples)


def worker(workload, batch_size, n_threads, n_samples):
    """Time one epoch in this process with ``n_threads`` BLAS threads; print JSON."""
    from scratchnn import MultiLayerNetwork
    from scratchnn.threads import get_num_threads, set_num_threads

    set_num_threads(n_threads)
    if get_num_threads() != n_threads:
        raise RuntimeError(f"asked BLAS for {n_threads} threads, it reports {get_num_threads()}.")
    image = workload == "cnn"
    X, y = make_data(n_samples, image)
    if image:
        net = MultiLayerNetwork.from_spec(CNN_SPEC, input_shape=(1, SIDE, SIDE), rng=0)
        lr = 0.01
    else:
        net = MultiLayerNetwork.from_sizes([N_FEATURES, *HIDDEN, N_CLASSES], activation="relu",
                                           rng=0)
        lr = 0.1
    fit = dict(loss="cross_entropy", optimizer="sgd", lr=lr, epochs=1, batch_size=batch_size,
               seed=0, verbose=0, metrics=[])
    warm = min(len(X), WARMUP_BATCHES * batch_size)
    net.fit(X[:warm], y[:warm], **fit)
    start = time.perf_counter()
    net.fit(X, y, **fit)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


def measure(workload, batch_size, n_threads, n_samples):
    cmd = [sys.executable, __file__, "--worker", workload, "--batch-sizes", str(batch_size),
           "--threads", str(n_threads), "--samples", str(n_samples)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{workload} at batch {batch_size} with {n_threads} threads failed:\n"
                           f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def start_burner():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def stop_burner(proc):
    proc.kill()
    proc.wait()


def load_average():
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch-sizes", default="16,64,256,1024", help="for the MLP")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.worker:
        worker(args.worker, batch_sizes[0], args.threads, args.samples)
        return

    workloads = [("mlp", bs) for bs in batch_sizes]
    if not args.skip_cnn:
        workloads.append(("cnn", CNN_BATCH))
    conditions = ("idle", "busy")
    thread_counts = (1, 2)
    times = {(w, c, t): [] for w in workloads for c in conditions for t in thread_counts}
    usage = {c: [0, 0] for c in conditions}

    print(f"One fit epoch, {args.samples:,} random float32 samples, SGD, 1 vs 2 BLAS threads; "
          f"median of {args.rounds} rounds, fresh process per run, interleaved; "
          f"{os.cpu_count()} cores; 'busy' = a CPU-burning process on the other core")
    print(f"load average before: {load_average()}", flush=True)
    for r in range(args.rounds):
        for condition in conditions:
            burner = start_burner() if condition == "busy" else None
            try:
                for w in workloads:
                    order = thread_counts if r % 2 == 0 else thread_counts[::-1]
                    for t in order:
                        busy0, total0 = cpu_times()
                        times[(w, condition, t)].append(measure(*w, t, args.samples))
                        busy1, total1 = cpu_times()
                        usage[condition][0] += busy1 - busy0
                        usage[condition][1] += total1 - total0
            finally:
                if burner is not None:
                    stop_burner(burner)
        print(f"  round {r + 1}/{args.rounds} done, load average {load_average()}", flush=True)
    print(f"load average after: {load_average()}")
    for c in conditions:
        busy, total = usage[c]
        print(f"machine CPU busy during the {c} runs: {100 * busy / max(total, 1):.0f}%")

    header = (f"{'workload':<18} {'condition':<9} {'1 thr s':>8} {'2 thr s':>8} "
              f"{'2thr/1thr':>9} {'spread':>7}")
    print()
    print(header)
    print("-" * len(header))
    for w in workloads:
        name = f"MLP batch {w[1]}" if w[0] == "mlp" else f"CNN batch {w[1]}"
        for c in conditions:
            one, two = (times[(w, c, t)] for t in thread_counts)
            m1, m2 = statistics.median(one), statistics.median(two)
            spread = max(max(s) / min(s) for s in (one, two))
            print(f"{name:<18} {c:<9} {m1:>8.3f} {m2:>8.3f} {m2 / m1:>8.2f}x {spread:>6.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
