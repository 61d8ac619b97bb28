"""What every benchmark script shares: the timer and the refusal to time a debug build."""

from __future__ import annotations

import statistics
import sys
import time


def median_ms(fn, reps: int, min_seconds: float = 0.25, max_reps: int = 500) -> float:
    """Median wall time of ``fn()`` after one warm-up run, in milliseconds: at least ``reps``
    runs, and more (up to ``max_reps``) until ``min_seconds`` have passed, so that the median of a
    sub-millisecond kernel is not decided by a handful of runs on a noisy 2-core machine."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < reps or (time.perf_counter() - start < min_seconds and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def require_release() -> None:
    """Exits (status 2) unless the extension is a release build: debug timings mean nothing."""
    from rewardlab import _core

    if _core.build_profile() != "release":
        print("refusing to benchmark a debug build: run `maturin develop --release`", file=sys.stderr)
        sys.exit(2)
