"""Times the Stackelberg threshold solver and soft best-of-N against numpy/scipy, in one run.

100,000 prompts x 16 candidates (float64, uniform base weights, B/beta = 2). Alternatives:
- numpy vectorised bisection over all prompts at once (60 halvings: float64 resolution of the
  bracket), the strongest numpy formulation;
- scipy.optimize.bisect per prompt, as the paper's reference code does it (a Python loop): timed
  on 2,000 prompts and scaled to 100,000, and said so in the table.
Results are checked against rewardlab's before timing. Prints medians and speed-ups.

    python benches/bench_shaping.py [--prompts P] [--candidates N] [--reps R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from rewardlab.shaping import stackelberg_thresholds, tilted_expectation
from timing import median_ms, require_release


def numpy_bisection(r, gamma, iters=60):
    lo, hi = r.min(1), r.max(1)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        f = np.sum(np.where(r >= mid[:, None], gamma, 1.0) * (r - mid[:, None]), axis=1)
        lo = np.where(f > 0, mid, lo)
        hi = np.where(f > 0, hi, mid)
    return 0.5 * (lo + hi)


def scipy_loop(r, gamma):
    from scipy.optimize import bisect

    out = np.empty(len(r))
    for i, row in enumerate(r):
        f = lambda m: float(np.sum(np.where(row >= m, gamma, 1.0) * (row - m)))
        lo, hi = row.min() - 10, row.max() + 10
        out[i] = bisect(f, lo, hi, xtol=1e-12)
    return out


def numpy_tilted(r, u, beta):
    z = (r - r.max(1, keepdims=True)) / beta
    p = np.exp(z)
    return (p * u).sum(1) / p.sum(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    require_release()
    rng = np.random.default_rng(0)
    r = rng.normal(size=(args.prompts, args.candidates))
    u = rng.random((args.prompts, args.candidates))
    beta, B = 1.0, 2.0
    gamma = np.exp(B / beta)

    ours = stackelberg_thresholds(r, beta=beta, B=B).m
    np.testing.assert_allclose(numpy_bisection(r, gamma), ours, atol=1e-9)
    small = min(2000, args.prompts)
    np.testing.assert_allclose(scipy_loop(r[:small], gamma), ours[:small], atol=1e-9)
    np.testing.assert_allclose(numpy_tilted(r, u, 0.3), tilted_expectation(r, u, beta=0.3), rtol=1e-10)

    rows = []
    t_ours = median_ms(lambda: stackelberg_thresholds(r, beta=beta, B=B), args.reps)
    t_np = median_ms(lambda: numpy_bisection(r, gamma), max(3, args.reps // 2))
    t_sp = median_ms(lambda: scipy_loop(r[:small], gamma), 1) * args.prompts / small
    rows.append(("threshold m*", t_ours, "numpy vectorised bisection", t_np))
    rows.append(("threshold m*", t_ours, f"scipy bisect loop (x{args.prompts // small} of {small})", t_sp))
    t_ours = median_ms(lambda: tilted_expectation(r, u, beta=0.3), args.reps)
    t_np = median_ms(lambda: numpy_tilted(r, u, 0.3), args.reps)
    rows.append(("soft BoN expectation", t_ours, "numpy", t_np))

    print(f"{args.prompts} prompts x {args.candidates} candidates, float64; {platform.machine()}, "
          f"numpy {np.__version__}; median ms")
    print(f"{'kernel':<22}{'rewardlab':>10}  {'alternative':<36}{'ms':>10}{'speed-up':>10}")
    for name, a, alt, b in rows:
        print(f"{name:<22}{a:>10.2f}  {alt:<36}{b:>10.1f}{b / a:>9.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([dict(kernel=n, rewardlab_ms=a, alternative=alt, alternative_ms=b) for n, a, alt, b in rows], fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
