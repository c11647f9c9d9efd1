"""An 8-candidate GridSearchCV of scratchnn estimators: sequential vs 2 local Dask workers.

    python benchmarks/bench_search.py [--rounds 2] [--samples 3000] [--epochs 30]

Needs ``pip install "scratchnn[distributed]"``. The search is a Pipeline (StandardScaler,
NeuralNetClassifier) on ``make_classification`` data (20 features, 3 classes), over
hidden_layer_sizes {(32,), (64,)} x learning_rate {1e-3, 1e-2} x batch_size {32, 64}, 3-fold:
8 candidates, 24 fits, then the refit of the best one.

Rows of the table, each the median over ``--rounds`` (sequential and Dask interleaved per round):

* ``search``: that search with ``n_jobs=1`` (one process, one BLAS thread: fit's "auto" policy),
  and under ``joblib.parallel_backend("dask")`` on a ``LocalCluster`` of 2 worker processes x 1
  thread on 127.0.0.1 (started once, before the rounds; its start-up time is printed apart).
  The Dask result is checked to equal the sequential one (best parameters, every score).
* ``trivial search``: the same grid with 1 epoch on 60 rows (a fit takes about a millisecond),
  so its time per fit is the cost of scheduling one search task.
* ``noop tasks``: ``joblib.Parallel`` over 200 calls of a function that returns at once: the
  per-task overhead of the dask backend itself.

Per row: seconds, seconds per task, and speed-up (sequential / Dask). The load average is
printed before and after, with the share of the machine's CPU time that was busy during each
row (from /proc/stat; our own processes count, so 2 busy workers on 2 cores show about 100%).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

import numpy as np

GRID = {
    "neuralnetclassifier__hidden_layer_sizes": [(32,), (64,)],
    "neuralnetclassifier__learning_rate": [1e-3, 1e-2],
    "neuralnetclassifier__batch_size": [32, 64],
}
CV = 3


def _cpu_times():
    """(busy, total) jiffies of the whole machine, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class _Timed:
    """Wall time of a block and the share of the machine's CPU that was busy during it."""

    def __enter__(self):
        self.cpu = _cpu_times()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        busy, total = (b - a for a, b in zip(self.cpu, _cpu_times(), strict=True))
        self.busy = busy / total if total else None  # too short for /proc/stat's ticks
        return False


def _search(epochs, n_jobs):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from scratchnn.sklearn import NeuralNetClassifier

    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=epochs, random_state=0))
    return GridSearchCV(pipe, GRID, cv=CV, n_jobs=n_jobs)


def _data(n):
    from sklearn.datasets import make_classification

    return make_classification(n_samples=n, n_features=20, n_informative=10, n_classes=3,
                               random_state=0)


def _share(shares):
    """The median busy share of some timed runs, as "87%" ("-" when none was long enough)."""
    known = [v for v in shares if v is not None]
    return f"{statistics.median(known):.0%}" if known else "-"


def _noop(i):
    return i


def _same(a, b):
    keys = [f"split{k}_test_score" for k in range(CV)] + ["mean_test_score"]
    return a.best_params_ == b.best_params_ and all(
        np.array_equal(a.cv_results_[k], b.cv_results_[k]) for k in keys)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    import joblib
    from distributed import Client, LocalCluster

    X, y = _data(args.samples)
    X_small, y_small = _data(60)
    n_candidates = int(np.prod([len(values) for values in GRID.values()]))
    n_fits = n_candidates * CV
    print(f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) before: "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"search: {n_candidates} candidates x {CV} folds = {n_fits} fits (+1 refit), "
          f"{args.samples} rows, {args.epochs} epochs; {args.rounds} round(s)")

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster, timeout="60s")
    client.wait_for_workers(2, timeout=120)
    print(f"LocalCluster of 2 worker processes started in {time.perf_counter() - start:.2f} s")

    rows = {"search": ([], []), "trivial search": ([], []), "noop tasks": ([], [])}
    busy = {name: ([], []) for name in rows}
    tasks = {"search": n_fits + 1, "trivial search": n_fits + 1, "noop tasks": 200}
    same = True
    try:
        # A first trivial search on each side warms imports and worker caches.
        _search(1, 1).fit(X_small, y_small)
        with joblib.parallel_backend("dask"):
            _search(1, -1).fit(X_small, y_small)
        for _ in range(args.rounds):
            for name, (data, epochs) in (("search", ((X, y), args.epochs)),
                                         ("trivial search", ((X_small, y_small), 1))):
                with _Timed() as seq:
                    sequential = _search(epochs, 1).fit(*data)
                with joblib.parallel_backend("dask"), _Timed() as dask:
                    on_dask = _search(epochs, -1).fit(*data)
                same &= _same(sequential, on_dask)
                for side, timed in enumerate((seq, dask)):
                    rows[name][side].append(timed.seconds)
                    busy[name][side].append(timed.busy)
            with _Timed() as seq:
                joblib.Parallel(n_jobs=1)(joblib.delayed(_noop)(i) for i in range(200))
            with joblib.parallel_backend("dask"), _Timed() as dask:
                joblib.Parallel(n_jobs=-1)(joblib.delayed(_noop)(i) for i in range(200))
            for side, timed in enumerate((seq, dask)):
                rows["noop tasks"][side].append(timed.seconds)
                busy["noop tasks"][side].append(timed.busy)
    finally:
        client.close(timeout=60)
        cluster.close(timeout=60)

    print()
    print(f"{'':16}{'tasks':>6}  {'sequential s':>12} {'ms/task':>8} {'busy':>5}   "
          f"{'2 Dask workers s':>16} {'ms/task':>8} {'busy':>5}   {'speed-up':>8}")
    for name, (seq, dask) in rows.items():
        s, d = statistics.median(seq), statistics.median(dask)
        n = tasks[name]
        bs, bd = (_share(shares) for shares in busy[name])
        print(f"{name:16}{n:>6}  {s:>12.3f} {1e3 * s / n:>8.2f} {bs:>5}   "
              f"{d:>16.3f} {1e3 * d / n:>8.2f} {bd:>5}   {s / d:>7.2f}x")
    print()
    print(f"Dask search == sequential search (best params, every score): {same}")
    print(f"load average (1, 5, 15 min) after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
