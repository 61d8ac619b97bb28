"""Evaluation by a golden reward: best-of-N curves and per-prompt rank correlation.

Given a proxy reward and a golden one for every response of every prompt (``[P, R]`` each),
best-of-N draws N of a prompt's R responses at random, picks the one the proxy ranks highest and
scores the pick by its golden reward. Sun et al. (2025) estimate this with 100 random
permutations per prompt; :func:`bon_curve` computes its exact expectation over all N-subsets
instead, in one sort per prompt: the response the proxy ranks k-th (of R) is the pick of a random
N-subset with probability ``C(R-k, N-1) / C(R, N)``. Proxy ties are broken uniformly at random,
which in expectation gives each tied response the mean golden reward of its tie group.
:func:`bon_permutations` is the paper's estimator, kept to show that the two agree.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.errors import invalid

__all__ = ["bon_curve", "bon_permutations", "bon_weights", "prompt_bootstrap", "spearman_per_prompt"]


def _pair(proxy: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proxy, gold = np.asarray(proxy, np.float64), np.asarray(gold, np.float64)
    if gold.ndim != 2 or gold.shape[1] < 1:
        raise invalid("gold", f"must be [prompts, responses], got shape {list(gold.shape)}")
    if proxy.shape != gold.shape:
        raise invalid("proxy", f"must have gold's shape {list(gold.shape)}, got {list(proxy.shape)}")
    if not (np.isfinite(proxy).all() and np.isfinite(gold).all()):
        raise invalid("proxy", "proxy and gold rewards must be finite")
    return proxy, gold


def _check_ns(ns: Sequence[int], responses: int) -> list[int]:
    out = []
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= responses:
            raise invalid("n", f"each N must be an integer in [1, {responses}], got {n!r}")
        out.append(int(n))
    return out


def bon_weights(responses: int, n: int) -> np.ndarray:
    """``[R]``: the probability that the k-th ranked of R responses is the best of a uniformly
    random N-subset, ``C(R-k, N-1) / C(R, N)`` for k = 1..R (sums to 1)."""
    r = responses
    w = np.zeros(r)
    w[0] = n / r
    # C(R-k-1, N-1) / C(R-k, N-1) = (R-k-N+1) / (R-k): a running product, no large binomials
    ratios = (r - np.arange(1, r) - n + 1) / (r - np.arange(1, r))
    w[1:] = w[0] * np.cumprod(np.clip(ratios, 0.0, None))
    return w


def _gold_by_rank(proxy: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Each prompt's golden rewards in descending proxy order, tie groups replaced by their mean."""
    order = np.argsort(-proxy, axis=1, kind="stable")
    s = np.take_along_axis(proxy, order, 1)
    g = np.take_along_axis(gold, order, 1)
    tied = s[:, 1:] == s[:, :-1]
    if tied.any():
        for p in np.flatnonzero(tied.any(axis=1)):
            starts = np.flatnonzero(np.concatenate([[True], ~tied[p]]))
            sums = np.add.reduceat(g[p], starts)
            sizes = np.diff(np.concatenate([starts, [g.shape[1]]]))
            g[p] = np.repeat(sums / sizes, sizes)
    return g


def bon_curve(proxy: np.ndarray, gold: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """``[P, len(ns)]``: each prompt's expected golden reward of the proxy's best of N random
    responses, exactly (all N-subsets equally likely). N = 1 is the mean golden reward."""
    proxy, gold = _pair(proxy, gold)
    ns = _check_ns(ns, gold.shape[1])
    weights = np.stack([bon_weights(gold.shape[1], n) for n in ns], axis=1)  # [R, len(ns)]
    return _gold_by_rank(proxy, gold) @ weights


def bon_permutations(proxy: np.ndarray, gold: np.ndarray, ns: Sequence[int], permutations: int = 100,
                     seed: int = 0) -> np.ndarray:
    """The paper's estimate of :func:`bon_curve`: the mean over ``permutations`` random orders of
    each prompt's responses of the golden reward of the proxy's arg-max among the first N."""
    proxy, gold = _pair(proxy, gold)
    ns = _check_ns(ns, gold.shape[1])
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise invalid("permutations", f"must be a positive integer, got {permutations!r}")
    rng = np.random.default_rng(seed)
    out = np.zeros((gold.shape[0], len(ns)))
    rows = np.arange(gold.shape[0])[:, None]
    for _ in range(permutations):
        order = np.argsort(rng.random(gold.shape), axis=1)
        s, g = proxy[rows, order], gold[rows, order]
        for j, n in enumerate(ns):
            out[:, j] += g[rows[:, 0], np.argmax(s[:, :n], axis=1)]  # argmax: the first of ties in a random order
    return out / permutations


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share the mean of their ranks)."""
    order = np.argsort(x, axis=1, kind="stable")
    s = np.take_along_axis(x, order, 1)
    ranks = np.empty_like(x)
    for p in range(x.shape[0]):
        starts = np.flatnonzero(np.concatenate([[True], s[p, 1:] != s[p, :-1]]))
        sizes = np.diff(np.concatenate([starts, [x.shape[1]]]))
        ranks[p, order[p]] = np.repeat(starts + (sizes - 1) / 2.0, sizes)
    return ranks


def spearman_per_prompt(proxy: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """``[P]``: Spearman's rho between proxy and golden rewards within each prompt (average ranks
    for ties); NaN where either is constant, as the paper drops them."""
    proxy, gold = _pair(proxy, gold)
    a, b = _ranks(proxy), _ranks(gold)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


def prompt_bootstrap(values: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Means over prompts of ``values`` ``[P, ...]`` and their 95% percentile-bootstrap intervals
    ``[2, ...]``, resampling prompts (NaN rows dropped per column). Prompts are the unit: the
    responses of one prompt share it and are not independent."""
    v = np.asarray(values, np.float64)
    if v.ndim < 1 or len(v) == 0:
        raise invalid("values", "need at least one prompt")
    flat = v.reshape(len(v), -1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(reps, len(v)))
    means = np.full(flat.shape[1], np.nan)
    bounds = np.full((2, flat.shape[1]), np.nan)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        means[j] = col[ok].mean()
        # resample prompts; a draw's NaN prompts drop out of its mean (a draw of only NaN prompts, out of all)
        count = ok[idx].sum(axis=1)
        draws = np.where(ok[idx], col[idx], 0.0).sum(axis=1)[count > 0] / count[count > 0]
        bounds[:, j] = np.quantile(draws, [0.025, 0.975])
    return means.reshape(v.shape[1:]), bounds.reshape((2,) + v.shape[1:])
