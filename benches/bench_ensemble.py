"""Times rewardlab's ensemble aggregation against the best numpy and torch (CPU) expressions, in one run.

Scores of K = 8 members x N = 1,000,000 items, float32 and float64. For every method it prints the
median time of rewardlab (which also returns the per-item std, whatever the method), of the
numpy expression and of the torch expression computing the same statistic, and rewardlab's
speed-up over the fastest of them. Each alternative's result is checked against rewardlab's first.
``torch.median`` returns the lower of the two middle scores for even K, another statistic than
``np.median``: it is timed for reference but never counted as the fastest alternative. Since the
alternatives for mean/min/max/median/quantile compute no std, the time of a std alone in numpy and
torch is printed below the table.

    python benches/bench_ensemble.py [--reps N] [--items N] [--members K] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import numpy as np
import torch

from rewardlab.models.ensemble import METHODS, aggregate
from timing import median_ms, require_release

LAM, Q = 1.0, 0.9


def alternatives(x: np.ndarray, t: torch.Tensor) -> dict:
    """method -> [(library, expression, function, same statistic as rewardlab)]."""

    def uwo_torch(var: bool):
        def f():
            s, m = (torch.var_mean if var else torch.std_mean)(t, 0, correction=0)
            return m - LAM * s
        return f

    return {
        "mean": [("numpy", "x.mean(0)", lambda: x.mean(0), True),
                 ("torch", "t.mean(0)", lambda: t.mean(0), True)],
        "min": [("numpy", "x.min(0)", lambda: x.min(0), True),
                ("torch", "t.amin(0)", lambda: t.amin(0), True)],
        "max": [("numpy", "x.max(0)", lambda: x.max(0), True),
                ("torch", "t.amax(0)", lambda: t.amax(0), True)],
        "median": [("numpy", "np.median(x, 0)", lambda: np.median(x, 0), True),
                   ("torch", "torch.quantile(t, .5, 0)", lambda: torch.quantile(t, 0.5, 0), True),
                   ("torch", "t.median(0) [lower]", lambda: t.median(0).values, False)],
        "quantile": [("numpy", f"np.quantile(x, {Q}, 0)", lambda: np.quantile(x, Q, 0), True),
                     ("torch", f"torch.quantile(t, {Q}, 0)", lambda: torch.quantile(t, Q, 0), True)],
        "uwo": [("numpy", "x.mean(0) - lam*x.std(0)", lambda: x.mean(0) - LAM * x.std(0), True),
                ("torch", "std_mean: m - lam*s", uwo_torch(var=False), True)],
        "uwo_var": [("numpy", "x.mean(0) - lam*x.var(0)", lambda: x.mean(0) - LAM * x.var(0), True),
                    ("torch", "var_mean: m - lam*v", uwo_torch(var=True), True)],
    }


def check(name, ours, theirs, dtype):
    theirs = theirs.numpy() if isinstance(theirs, torch.Tensor) else theirs
    rtol, atol = (2e-4, 2e-5) if dtype == np.float32 else (1e-9, 1e-10)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    require_release()
    torch.set_num_threads(os.cpu_count() or 1)

    machine = (f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, numpy {np.__version__}, "
               f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    k, n = args.members, args.items
    print(f"rewardlab ensemble benchmark: median of {args.reps} runs, K = {k} members x N = {n:,} items, "
          f"lam = {LAM}, q = {Q}; {machine}")
    header = (f"{'method':<9} {'dtype':<8} {'rewardlab ms':>12} {'numpy ms':>9} {'torch ms':>9}   "
              f"{'fastest alternative':<28} {'speed-up':>8}")
    print(header)
    print("-" * len(header))
    results = []
    notes = []
    std_only = {}
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(0).normal(size=(k, n)).astype(dtype)
        t = torch.from_numpy(x)
        alts = alternatives(x, t)
        for method in METHODS:
            ours = aggregate(x, method, lam=LAM, q=Q).value
            ours_ms = median_ms(lambda: aggregate(x, method, lam=LAM, q=Q), args.reps)
            timed = []
            for lib, expr, fn, same in alts[method]:
                if same:
                    check(f"{method}: {expr}", ours, fn(), dtype)
                timed.append({"library": lib, "expression": expr, "ms": median_ms(fn, args.reps), "same_statistic": same})
            comparable = [a for a in timed if a["same_statistic"]]
            fastest = min(comparable, key=lambda a: a["ms"])
            best = {lib: min((a["ms"] for a in comparable if a["library"] == lib), default=float("nan")) for lib in ("numpy", "torch")}
            print(f"{method:<9} {np.dtype(dtype).name:<8} {ours_ms:>12.2f} {best['numpy']:>9.2f} {best['torch']:>9.2f}   "
                  f"{fastest['library'] + ' ' + fastest['expression']:<28} {fastest['ms'] / ours_ms:>7.1f}x")
            for a in timed:
                if not a["same_statistic"]:
                    notes.append(f"{method} {np.dtype(dtype).name}: {a['library']} {a['expression']} {a['ms']:.2f} ms "
                                 f"({a['ms'] / ours_ms:.1f}x rewardlab's time; not the same statistic)")
            results.append({"method": method, "dtype": np.dtype(dtype).name, "rewardlab_ms": ours_ms,
                            "alternatives": timed, "fastest": f"{fastest['library']} {fastest['expression']}",
                            "speedup": fastest["ms"] / ours_ms})
        std_alone = {"numpy x.std(0)": median_ms(lambda: x.std(0), args.reps),
                     "torch t.std(0, correction=0)": median_ms(lambda: t.std(0, correction=0), args.reps)}
        std_only[np.dtype(dtype).name] = std_alone
        notes.append(f"std alone, {np.dtype(dtype).name}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in std_alone.items()))
    for note in notes:
        print("  " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "members": k, "items": n, "lam": LAM, "q": Q, "results": results,
                       "std_alone_ms": std_only}, f, indent=1)


if __name__ == "__main__":
    main()
