"""What the benchmark scripts share: the process's memory, read the same way by each of them."""

from __future__ import annotations

import os


def current_rss_mb():
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    """The most resident memory this process has held so far, in MiB.

    Read from VmHWM, which starts afresh when a program starts; getrusage's ru_maxrss does not:
    it keeps the peak of the parent that forked it, so a worker started by a parent that had
    imported PyTorch would report that parent's size as its own peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("/proc/self/status has no VmHWM line; peak memory needs Linux.")
