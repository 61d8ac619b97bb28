"""Pairwise accuracy of reward models, with intervals, per member and per aggregation rule."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from rewardlab.errors import invalid

# The aggregation rules a report compares: (label, method, keyword arguments).
DEFAULT_RULES: tuple[tuple[str, str, dict], ...] = (
    ("mean", "mean", {}),
    ("min", "min", {}),
    ("median", "median", {}),
    ("uwo", "uwo", {"lam": 1.0}),
)
CLI_RULES = {"mean": ("mean", {}), "min": ("min", {}), "median": ("median", {}), "uwo": ("uwo", {"lam": 1.0})}


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (good near 0/1 and for small n)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at p = 0 or 1 the exact bound equals p; rounding must not leave p outside its interval
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def mean_interval(x: Sequence[float] | np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Normal interval of a mean (95% by default); NaN with fewer than two values."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return (float("nan"), float("nan"))
    half = z * float(x.std(ddof=1)) / np.sqrt(len(x))
    return float(x.mean()) - half, float(x.mean()) + half


@dataclass(frozen=True)
class Accuracy:
    """Share of pairs whose chosen response scores higher; a tie counts one half."""

    n_pairs: int
    correct: int
    ties: int
    accuracy: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict:
        """The accuracy as plain JSON values."""
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def pairwise_accuracy(chosen: np.ndarray, rejected: np.ndarray) -> Accuracy:
    """Share of pairs whose chosen response scores above the rejected one (a tie counts one half),
    with its Wilson 95% interval."""
    chosen, rejected = np.asarray(chosen, np.float64), np.asarray(rejected, np.float64)
    if chosen.shape != rejected.shape or chosen.ndim != 1:
        raise invalid("rejected", f"must be 1-D and match chosen's shape {chosen.shape}, got {rejected.shape}")
    if len(chosen) == 0:
        raise invalid("chosen", "no pairs to evaluate")
    if not (np.isfinite(chosen).all() and np.isfinite(rejected).all()):
        raise invalid("chosen", "scores must be finite")
    correct = int((chosen > rejected).sum())
    ties = int((chosen == rejected).sum())
    wins = correct + 0.5 * ties
    return Accuracy(len(chosen), correct, ties, wins / len(chosen), wilson_interval(wins, len(chosen)))


def ensemble_accuracy(
    chosen_scores: np.ndarray,
    rejected_scores: np.ndarray,
    rules: Sequence[tuple[str, str, dict]] = DEFAULT_RULES,
) -> dict:
    """Accuracy of every member and every aggregation rule from ``[K, N]`` member scores."""
    from rewardlab.models.ensemble import aggregate

    chosen_scores, rejected_scores = np.asarray(chosen_scores), np.asarray(rejected_scores)
    if chosen_scores.ndim != 2 or chosen_scores.shape != rejected_scores.shape:
        raise invalid("rejected_scores", f"must be [K, N] like chosen_scores {chosen_scores.shape}, got {rejected_scores.shape}")
    members = [pairwise_accuracy(c, r) for c, r in zip(chosen_scores, rejected_scores)]
    rules_out = {}
    for label, method, kwargs in rules:
        c = aggregate(chosen_scores, method, **kwargs).value
        r = aggregate(rejected_scores, method, **kwargs).value
        rules_out[label] = pairwise_accuracy(c, r).to_dict()
    return {
        "n_pairs": int(chosen_scores.shape[1]),
        "members": [m.to_dict() for m in members],
        "mean_member_accuracy": float(np.mean([m.accuracy for m in members])),
        "aggregations": rules_out,
    }
