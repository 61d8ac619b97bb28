"""What every benchmark script shares: the timer and the refusal to time a debug build."""

from __future__ import annotations

import statistics
import sys
import time


def median_ms(fn, reps: int) -> float:
    """Median wall time of ``fn()`` over ``reps`` runs after one warm-up run, in milliseconds."""
    fn()
    times = []
    for _ in range(reps):
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
