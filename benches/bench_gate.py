"""Times the fast-slow gate kernels against numpy (and torch for the first-token features), in one run.

- first-token features of ``[rows, vocab]`` float32 logits (SmolLM2's vocabulary, 49,152): verdict
  log-probs, normalised entropy and top-1 − top-2 gap; against torch (``log_softmax``, entropy,
  ``topk``; the strongest alternative, multi-threaded) and numpy.
- calibration to a slow rate at 1,000,000 items: against numpy doing the same common-quantile
  search with ``searchsorted`` and ``bincount``.
- the accuracy/tokens sweep over a 64 × 64 threshold grid at 1,000,000 items: against numpy with
  the same algorithm (one sort by ``c1``, per ``τ2`` column a masked ``cumsum`` and
  ``searchsorted``), the strongest numpy form (a ``[G1, G2, n]`` broadcast does not fit in memory).
Results are checked against rewardlab's before timing. Prints medians and speed-ups.

    python benches/bench_gate.py [--items N] [--rows R] [--grid G] [--reps K] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from rewardlab import _core
from rewardlab.fastslow.gate import Gate
from timing import median_ms, require_release

VOCAB = 49152


def torch_first_token(z, ids):
    import torch

    t = torch.from_numpy(z)
    logp = torch.log_softmax(t, dim=-1)
    ent = -(logp.exp() * logp).sum(-1) / np.log(z.shape[1])
    top = torch.topk(logp, 2, dim=-1).values.exp()
    return logp[:, ids], ent, top[:, 0] - top[:, 1]


def numpy_first_token(z, ids):
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    logp = z - m - np.log(s)
    ent = -(e / s * logp).sum(axis=1) / np.log(z.shape[1])
    top = np.partition(logp, -2, axis=1)[:, -2:]
    p = np.exp(top)
    return logp[:, ids], ent, np.abs(p[:, 1] - p[:, 0])


def numpy_calibrate(c1, c2, m):
    n = len(c1)
    s1, s2 = np.sort(c1), np.sort(c2)
    k = np.minimum(np.searchsorted(s1, c1, "right"), np.searchsorted(s2, c2, "right"))
    count = np.cumsum(np.bincount(k, minlength=n + 1))
    level = np.flatnonzero(count[:n] <= m)
    best = int(level[-1]) if len(level) else 0
    best = int(np.searchsorted(count[: best + 1], count[best]))  # the lowest level with that count
    return (s1[best], s2[best], int(count[best])) if 0 < best < n else None


def numpy_sweep(c1, c2, gain, tok, t1, t2):
    order = np.argsort(c1, kind="stable")
    c1s, c2s, gs, ts = c1[order], c2[order], gain[order], tok[order]
    pos = np.searchsorted(c1s, t1, "left")  # items with c1 < τ1
    slow = np.empty((len(t1), len(t2)), np.int64)
    g_out, t_out = np.empty(slow.shape), np.empty(slow.shape)
    for b, y in enumerate(t2):
        below = c2s < y
        above = ~below
        cn = np.concatenate([[0], np.cumsum(above)])
        cg = np.concatenate([[0], np.cumsum(np.where(above, gs, 0.0))])
        ct = np.concatenate([[0], np.cumsum(np.where(above, ts, 0.0))])
        slow[:, b] = below.sum() + cn[pos]
        g_out[:, b] = gs[below].sum() + cg[pos]
        t_out[:, b] = ts[below].sum() + ct[pos]
    return slow, g_out, t_out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=64, help="first-token rows (a judge batch of views)")
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    require_release()
    import torch

    rng = np.random.default_rng(0)
    z = (rng.standard_normal((args.rows, VOCAB)) * 3).astype(np.float32)
    ids = [49, 50]
    n = args.items
    c1, c2 = rng.random(n), rng.random(n)
    gain = rng.integers(-1, 2, n).astype(np.float64)
    tok = rng.integers(100, 400, n).astype(np.float64)
    t1 = np.quantile(c1, np.linspace(0, 1, args.grid))
    t2 = np.quantile(c2, np.linspace(0, 1, args.grid))

    ours = _core.first_token_features(z, ids)
    for other in (torch_first_token(z, ids), numpy_first_token(z, ids)):
        for a, b in zip(ours, other):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b, np.float64), rtol=1e-4, atol=1e-5)
    m = int(0.3 * n)
    g = Gate.calibrate(c1, c2, slow_rate=0.3)
    ref = numpy_calibrate(c1, c2, m)
    assert ref is not None and (g.tau1, g.tau2) == ref[:2] and round(g.dev_slow_rate * n) == ref[2]
    s_ours = _core.gate_sweep(c1, c2, gain, tok, t1, t2)
    s_np = numpy_sweep(c1, c2, gain, tok, t1, t2)
    np.testing.assert_array_equal(s_ours[0], s_np[0])
    np.testing.assert_allclose(s_ours[1], s_np[1], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(s_ours[2], s_np[2], rtol=1e-9)

    rows = []
    t = median_ms(lambda: _core.first_token_features(z, ids), args.reps)
    rows.append((f"first-token features {args.rows}x{VOCAB // 1024}k", t, f"torch ({torch.get_num_threads()} threads)",
                 median_ms(lambda: torch_first_token(z, ids), args.reps)))
    rows.append(("", t, "numpy", median_ms(lambda: numpy_first_token(z, ids), args.reps)))
    t = median_ms(lambda: _core.gate_calibrate(c1, c2, slow_count=m), args.reps)
    rows.append((f"calibrate, {n // 1000}k items", t, "numpy searchsorted+bincount", median_ms(lambda: numpy_calibrate(c1, c2, m), args.reps)))
    t = median_ms(lambda: _core.gate_sweep(c1, c2, gain, tok, t1, t2), args.reps)
    rows.append((f"sweep {args.grid}x{args.grid}, {n // 1000}k items", t, "numpy sort+cumsum per column",
                 median_ms(lambda: numpy_sweep(c1, c2, gain, tok, t1, t2), max(3, args.reps // 2))))

    print(f"{platform.machine()}, numpy {np.__version__}, torch {torch.__version__}; median ms")
    print(f"{'kernel':<34}{'rewardlab':>10}  {'alternative':<30}{'ms':>10}{'speed-up':>10}")
    for name, a, alt, b in rows:
        print(f"{name:<34}{a:>10.2f}  {alt:<30}{b:>10.1f}{b / a:>9.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([dict(kernel=n_, rewardlab_ms=a, alternative=alt, alternative_ms=b) for n_, a, alt, b in rows], fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
