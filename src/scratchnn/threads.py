"""How many threads NumPy's BLAS computes with, and how many training should use.

    set_num_threads(1)          # the rest of the process: one BLAS thread
    set_num_threads(None)       # back to the library defaults
    with threads(1): ...        # one thread inside the block, the previous setting after it
    get_num_threads()           # what BLAS uses now
    default_threads(64, 784)    # what fit uses when told nothing: 1 thread (see below)

Only BLAS pools are touched (OpenBLAS, MKL, BLIS: everything threadpoolctl reports with
``user_api="blas"``), because NumPy computes with nothing else. An OpenMP runtime loaded by
another library (PyTorch's libgomp, scikit-learn's) is left alone. The setting is process-wide:
BLAS keeps one thread count for every Python thread.

What was measured, and why the default is one thread
----------------------------------------------------
``benchmarks/bench_threads.py`` on this machine, 2026-12-02: 2 cores shared with other engineers'
jobs, OpenBLAS 0.3.31 (SkylakeX kernels, 2 threads by default), NumPy 2.4. One ``fit`` epoch on
random float32 data, 1 vs 2 BLAS threads, fresh process per run, interleaved, median of rounds.
"idle" is the machine as it was (other people's jobs included); "busy" adds a
``while True: pass`` process. Ratio = seconds with 2 threads / seconds with 1 (above 1: two
threads lose).

10,000 samples, 5 rounds; load average 2.09 before, 3.20 after; machine CPU busy 76% during the
idle runs (ours included), 100% during the busy runs:

    workload         1 thread s  idle ratio  busy ratio
    MLP batch 16        0.30        0.90x       3.34x
    MLP batch 64        0.16        0.78x       2.53x
    MLP batch 256       0.13        0.74x       2.12x
    MLP batch 1024      0.13-0.15   0.54x       1.32x
    CNN batch 64        1.77-1.86   0.90x       3.12x

An earlier 3-round run, while other jobs kept the machine 92% busy even in the "idle"
condition, had 2 threads losing everywhere: 2.8x (MLP batch 16), 9.3x (batch 64), 7.0x (batch
256), 1.0x (batch 1024), 2.5x (CNN), with round-to-round spreads up to 24x. Larger batches,
32,768 samples, machine ~100% busy in both conditions (load average 3.2-3.4): 2 threads lost
2.1-3.6x at batch 1024, 1.8x at 4096, 1.3x at 16,384. Then 65,536 samples, 3 rounds (load
average 1.72 before, 2.47 after; CPU 79% busy idle, 100% busy): batch 16,384 (12.8 million
values per input) 0.71x idle, 1.06x busy; batch 32,768 (25.7 million) 0.83x idle, 0.81x busy:
the first size measured where two threads win even with the other core taken.

So on this shared 2-core machine two BLAS threads win at most 1.1-1.9x when the other core is
free and lose 1.3-9x when it is not, and the loss shrinks only as the GEMMs grow far beyond
training sizes: each small product then waits on a thread the scheduler has given to someone
else. The default is therefore one thread whenever the largest input of a matrix product,
``batch_size * n_features_or_work`` values, is below 2**24 (16.8 million: batch 16,384 of
1,024-wide rows), which covers every usual training set-up (MNIST's 784 at batch 1024 is 0.8
million; the CNN above is 0.9 million); from it on, the BLAS default: the threshold sits between
the sizes where two threads still lost under contention (1.06-1.3x at 12.8 million) and where
they won (0.81x at 25.7 million). It is a judgement from this machine; on a machine with cores to
spare, ask fit for more threads, or call ``set_num_threads``.

The policy depends only on the arguments, never on the load of the moment: a seeded ``fit`` is
bit-identical only at the same thread count, so a default that followed the load would make two
runs of one script differ.
"""

from __future__ import annotations

import contextlib
import numbers
import threading

__all__ = ["LARGE_WORK", "configured", "default_threads", "get_num_threads", "set_num_threads",
           "threads"]

# Values in the largest matrix-product input of a step (batch_size * width) from which the BLAS
# default is used instead of one thread; see the module docstring.
LARGE_WORK = 2**24

_lock = threading.RLock()
_setting = None  # the n of the last set_num_threads, None while the library defaults hold
_defaults = {}  # each BLAS library's file -> its thread count before scratchnn first changed it


def _check_n(n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(
            f"The number of threads must be a whole number >= 1, or None for the library "
            f"defaults; got {n!r} of type {type(n).__name__}."
        )
    if n < 1:
        raise ValueError(
            f"The number of threads must be >= 1 (or None for the library defaults), got {n}."
        )
    return int(n)


def _blas_controller():
    # Imported here: threadpoolctl inspects every loaded shared library, which is work an import
    # of scratchnn should not do for users who never touch threads.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def configured():
    """True after ``set_num_threads(n)`` with an n (until ``set_num_threads(None)``)."""
    return _setting is not None


def get_num_threads():
    """The number of threads NumPy's BLAS computes with now.

    With several BLAS libraries loaded (NumPy's and SciPy's OpenBLAS, say), the largest of their
    counts. None when threadpoolctl finds no BLAS it can control (Apple Accelerate, for one).
    """
    counts = [lib.num_threads for lib in _blas_controller().lib_controllers]
    return max(counts) if counts else None


def set_num_threads(n):
    """Limit the BLAS threads NumPy uses, for the rest of the process; returns the previous setting.

    n : int >= 1, or None to restore each BLAS library's own default (the thread count it had
        before scratchnn first changed it).

    The returned value is the previous ``n`` (None if the defaults held), so
    ``set_num_threads(set_num_threads(1))`` leaves things as they were. Without a BLAS that
    threadpoolctl can control this does nothing.
    """
    global _setting
    n = _check_n(n)
    with _lock:
        controller = _blas_controller()
        for lib in controller.lib_controllers:
            # A library seen for the first time has never been limited by us: its count now is
            # its default.
            _defaults.setdefault(lib.filepath, lib.num_threads)
        for lib in controller.lib_controllers:
            lib.set_num_threads(n if n is not None else _defaults[lib.filepath])
        previous, _setting = _setting, n
    return previous


@contextlib.contextmanager
def threads(n):
    """Limit BLAS to ``n`` threads inside the block; after it (also after an exception) each
    library has the thread count it had before. ``n=None`` leaves the threads unchanged.

        with threads(1):
            network.fit(X, y, batch_size=32)
    """
    global _setting
    n = _check_n(n)
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with _lock:
        previous = _setting
        # threadpool_limits notes each library's own count and restores exactly that, including
        # a count set by someone else than scratchnn.
        limits = threadpool_limits(limits=n, user_api="blas")
        _setting = n
    try:
        yield
    finally:
        with _lock:
            limits.restore_original_limits()
            _setting = previous


def default_threads(batch_size, n_features_or_work):
    """The BLAS threads ``fit`` uses when the user does not say: an int, or None for the BLAS
    default.

    batch_size : rows per training step.
    n_features_or_work : the width of the widest layer the batch goes through (784 for MNIST
        rows), or for a convolution the number of values one sample holds in its largest
        im2col matrix (C_in * kh * kw * H_out * W_out).

    Returns 1 when ``batch_size * n_features_or_work`` is below ``LARGE_WORK`` (2**24), None
    (the BLAS default) from there on; the module docstring gives the measurements behind it.

        default_threads(64, 784)      # 1: an MNIST MLP step
        default_threads(32768, 784)   # None: 25.7 million values, big enough for 2 threads
    """
    batch_size = _check_size(batch_size, "batch_size")
    work = _check_size(n_features_or_work, "n_features_or_work")
    return 1 if batch_size * work < LARGE_WORK else None


def _check_size(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    return int(value)
