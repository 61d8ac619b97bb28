"""Trivial baselines on the same pairs, and a model's paired difference to them.

"The longer response wins" and "the shorter response wins" need no model. A reward model that
does not beat both has learned no more than length, a bias preference data is known to carry. A
difference between two scorers on the same pairs is paired: each pair's outcome under one minus
its outcome under the other. Its interval is cluster-robust over prompts, because pairs that share
a prompt (RM-Bench's nine grid pairs, or several HH pairs of one dialogue) are not independent.
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

from rewardlab.errors import invalid
from rewardlab.models.evaluate import wilson_interval


def outcomes(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Per pair: 1 where ``chosen`` is higher, 0.5 for a tie, 0 else (float64)."""
    c, r = np.asarray(chosen, np.float64), np.asarray(rejected, np.float64)
    if c.shape != r.shape or c.ndim != 1:
        raise invalid("rejected", f"must be 1-D like chosen {c.shape}, got {r.shape}")
    return np.where(c > r, 1.0, np.where(c == r, 0.5, 0.0))


def response_words(text: str) -> int:
    """The length a length baseline compares: whitespace words of the response."""
    return len(text.split())


def clustered_mean_interval(x: Sequence[float] | np.ndarray, clusters: Sequence[Hashable],
                            z: float = 1.96) -> tuple[float, float, float]:
    """``(mean, low, high)`` of ``x`` with a cluster-robust standard error: the spread of the
    clusters' totals around their share of the mean, with the small-sample factor G / (G - 1).
    With one item per cluster this is the usual ``std(ddof=1) / sqrt(n)``. NaN bounds below two
    clusters."""
    x = np.asarray(x, np.float64)
    if x.ndim != 1 or len(clusters) != len(x):
        raise invalid("clusters", f"need one cluster per value ({len(x)}), got {len(clusters)}")
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    index: dict[Hashable, int] = {}
    ids = np.fromiter((index.setdefault(c, len(index)) for c in clusters), np.int64, len(x))
    g = len(index)
    mean = float(x.mean())
    if g < 2:
        return mean, float("nan"), float("nan")
    totals = np.bincount(ids, weights=x, minlength=g)
    sizes = np.bincount(ids, minlength=g)
    se = float(np.sqrt(g / (g - 1) * np.sum((totals - sizes * mean) ** 2)) / len(x))
    return mean, mean - z * se, mean + z * se


def length_baselines(model: np.ndarray, chosen_words: Sequence[int] | np.ndarray, rejected_words: Sequence[int] | np.ndarray,
                     clusters: Sequence[Hashable]) -> dict:
    """The two length baselines' accuracies (Wilson intervals, as the model's) and the model's
    paired, cluster-robust difference to each. ``model``: the model's per-pair outcomes."""
    model = np.asarray(model, np.float64)
    c, r = np.asarray(chosen_words, np.float64), np.asarray(rejected_words, np.float64)
    if not (len(model) == len(c) == len(r) == len(clusters)):
        raise invalid("chosen_words", "need one length per pair for chosen, rejected and clusters")
    out: dict = {"clusters": len(set(clusters)), "length_unit": "words of the response"}
    for name, base in (("longer", outcomes(c, r)), ("shorter", outcomes(-c, -r))):
        diff, lo, hi = clustered_mean_interval(model - base, clusters)
        lo, hi = max(lo, -1.0), min(hi, 1.0)  # a difference of two accuracies lies in [-1, 1] (NaN stays NaN)
        out[name] = {"accuracy": float(base.mean()), "ci95": list(wilson_interval(float(base.sum()), len(base))),
                     "model_minus_baseline": diff, "difference_ci95": [lo, hi]}
    return out


def difference_verdict(low: float, high: float) -> str:
    """What a difference's interval says: "model better", "model worse" or "no clear difference"."""
    return "model better" if low > 0 else "model worse" if high < 0 else "no clear difference"


def baseline_lines(baselines: dict) -> list[str]:
    """:func:`length_baselines` as the lines a report prints: each rule's accuracy and the model's
    paired difference to it, with its verdict."""
    lines = [f"length baselines on the same pairs ({baselines['clusters']} prompts; intervals of differences clustered by prompt):"]
    for name in ("longer", "shorter"):
        b = baselines[name]
        lo, hi = b["difference_ci95"]
        lines.append(f"  {name} response wins: {b['accuracy']:.3f} [{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]; "
                     f"model minus it {b['model_minus_baseline']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({difference_verdict(lo, hi)})")
    return lines
