"""The optimisation experiment behind the teacher diagnostics, on a tabular softmax policy.

One prompt, ``n`` outputs with ground-truth rewards ``r_G``. The policy ``π = softmax(θ)`` is
trained by exact policy gradient on a proxy reward ``r``: ``∇_θ E_π[r] = π ⊙ (r − E_π[r])`` (no
sampling noise), and we track ``E_π[r_G]``. Razin et al.'s Theorem 2: for an initial policy there
is a perfectly accurate proxy with low variance under it and a less accurate proxy with high
variance, and the second raises the ground truth faster. ``razin_example`` builds such a pair for
a policy that puts almost all its mass on two mediocre outputs; ``run`` returns the curves.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from rewardlab.errors import invalid


@dataclass(frozen=True)
class TeachingSetup:
    theta0: np.ndarray  # initial logits
    gold: np.ndarray  # ground-truth reward per output
    proxies: dict[str, np.ndarray]  # name -> proxy reward per output (all in [0, 1])


def razin_example(n: int = 6, start_mass: float = 0.9, best_mass: float = 0.05, scale: float = 0.1) -> TeachingSetup:
    """Outputs 0..n-1 with ``r_G = i/(n-1)``; the initial policy puts ``start_mass`` on the worst
    output, ``best_mass`` on the best and spreads the rest over the middle ones.

    - ``accurate, low variance``: ``scale·r_G``, ordering every pair right (accuracy 1) with
      rewards that barely differ (Theorem 2's low-variance teacher).
    - ``less accurate, high variance``: 0 for the worst output, 1 for the best, and the middle
      outputs in *reversed* order just below 1: it misorders most pairs the policy rarely samples,
      but separates the outputs the policy does sample sharply.
    - ``ground truth``: ``r_G`` itself.
    All proxies lie in [0, 1], as the theorem's bounded rewards do.
    """
    if n < 4:
        raise invalid("n", f"must be at least 4, got {n}")
    if not (0 < start_mass < 1 and 0 < best_mass < 1 and start_mass + best_mass < 1):
        raise invalid("start_mass", f"start_mass and best_mass must be in (0, 1) with a sum below 1, got {start_mass}, {best_mass}")
    if not 0 < scale <= 1:
        raise invalid("scale", f"must be in (0, 1], got {scale}")
    p = np.full(n, (1 - start_mass - best_mass) / (n - 2))
    p[0], p[-1] = start_mass, best_mass
    gold = np.arange(n) / (n - 1)
    middle = np.linspace(0.9, 0.6, n - 2)  # decreasing: reversed order among the middle outputs
    high_variance = np.concatenate([[0.0], middle, [1.0]])
    proxies = {"accurate, low variance": scale * gold, "less accurate, high variance": high_variance, "ground truth": gold}
    return TeachingSetup(np.log(p), gold, proxies)


def softmax(theta: np.ndarray) -> np.ndarray:
    z = np.exp(theta - theta.max())
    return z / z.sum()


def run(theta0: np.ndarray, proxy: np.ndarray, gold: np.ndarray, lr: float = 0.5, steps: int = 2000) -> np.ndarray:
    """``E_π[r_G]`` after each step of exact gradient ascent on ``E_π[proxy]`` (length steps + 1)."""
    if lr <= 0 or steps < 1:
        raise invalid("lr", f"lr must be positive and steps >= 1, got {lr}, {steps}")
    theta = np.asarray(theta0, np.float64).copy()
    curve = np.empty(steps + 1)
    for t in range(steps + 1):
        pi = softmax(theta)
        curve[t] = pi @ gold
        theta += lr * pi * (proxy - pi @ proxy)
    return curve


def time_to_gain(curve: np.ndarray, gain: float) -> int | None:
    """First step at which the curve has risen by ``gain`` over its start (None if never)."""
    hit = np.nonzero(curve >= curve[0] + gain)[0]
    return int(hit[0]) if len(hit) else None


def accuracy(proxy: np.ndarray, gold: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Pairwise accuracy over output pairs, weighted by ``weights[i]·weights[j]`` (on-policy) or
    uniform (off-policy)."""
    w = np.ones(len(gold)) if weights is None else weights
    num = den = 0.0
    for i, j in combinations(range(len(gold)), 2):
        if gold[i] == gold[j]:
            continue
        pw = w[i] * w[j]
        d = proxy[i] - proxy[j]
        num += pw * (0.5 if d == 0 else float((d > 0) == (gold[i] > gold[j])))
        den += pw
    return num / den


def variance_under(policy: np.ndarray, reward: np.ndarray) -> float:
    mean = policy @ reward
    return float(policy @ (reward - mean) ** 2)
