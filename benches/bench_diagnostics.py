"""Times the teacher-diagnostics kernels against numpy, in one run.

Per-prompt reward variance (with the paper's global standardisation) at 1,000,000 prompts x 16
policy samples, float64, in both layouts:
- padded ``[P, N]``: numpy ``standardise`` + ``var(axis=1, ddof=1)`` (the strongest numpy form);
- ragged (flat + offsets, group sizes 8..24): numpy ``np.add.reduceat`` of values and squares.
On-policy pairwise accuracy at 100,000 prompts x 16: numpy broadcasting over all ``[P, N, N]``
sample pairs. Results are checked against rewardlab's before timing. Prints medians and speed-ups.

    python benches/bench_diagnostics.py [--prompts P] [--samples N] [--reps R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from rewardlab.diagnostics import on_policy_accuracy, reward_variance
from timing import median_ms, require_release


def numpy_padded(r):
    z = (r - r.mean()) / np.sqrt(r.var() + 1e-8)
    return z.var(axis=1, ddof=1)


def numpy_ragged(r, off):
    z = (r - r.mean()) / np.sqrt(r.var() + 1e-8)
    n = np.diff(off)
    s1 = np.add.reduceat(z, off[:-1])
    s2 = np.add.reduceat(z * z, off[:-1])
    return (s2 - s1 * s1 / n) / (n - 1)


def numpy_agreement(r, y):
    dr = np.sign(r[:, :, None] - r[:, None, :])
    dy = np.sign(y[:, :, None] - y[:, None, :])
    upper = np.triu(np.ones((r.shape[1], r.shape[1]), dtype=bool), 1)
    pairs = upper & (dy != 0)
    agree = ((dr == dy) & pairs).sum() + 0.5 * ((dr == 0) & pairs).sum()
    return agree / pairs.sum()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--pair-prompts", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    require_release()
    rng = np.random.default_rng(0)
    r = rng.normal(size=(args.prompts, args.samples))
    sizes = rng.integers(8, 25, size=args.prompts)
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = rng.normal(size=off[-1])
    rp = np.round(r[: args.pair_prompts], 1)  # rounded: proxy ties occur, as with real scores
    y = rng.integers(0, 5, size=rp.shape).astype(np.float64)

    np.testing.assert_allclose(reward_variance(r), numpy_padded(r), rtol=1e-9)
    np.testing.assert_allclose(reward_variance(flat, off), numpy_ragged(flat, off), rtol=1e-7)
    assert abs(on_policy_accuracy(rp, y)[0] - numpy_agreement(rp, y)) < 1e-12

    rows = []
    t_ours = median_ms(lambda: reward_variance(r), args.reps)
    rows.append(("variance, padded", t_ours, "numpy var(axis=1)", median_ms(lambda: numpy_padded(r), args.reps)))
    t_ours = median_ms(lambda: reward_variance(flat, off), args.reps)
    rows.append(("variance, ragged", t_ours, "numpy add.reduceat", median_ms(lambda: numpy_ragged(flat, off), args.reps)))
    t_ours = median_ms(lambda: on_policy_accuracy(rp, y), args.reps)
    rows.append((f"pair accuracy ({args.pair_prompts // 1000}k)", t_ours, "numpy [P,N,N] broadcast",
                 median_ms(lambda: numpy_agreement(rp, y), max(3, args.reps // 2))))

    print(f"{args.prompts} prompts x {args.samples} samples (ragged: 8..24), float64; {platform.machine()}, "
          f"numpy {np.__version__}; median ms")
    print(f"{'kernel':<26}{'rewardlab':>10}  {'alternative':<28}{'ms':>10}{'speed-up':>10}")
    for name, a, alt, b in rows:
        print(f"{name:<26}{a:>10.2f}  {alt:<28}{b:>10.1f}{b / a:>9.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([dict(kernel=n, rewardlab_ms=a, alternative=alt, alternative_ms=b) for n, a, alt, b in rows], fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
