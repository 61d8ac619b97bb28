"""Reward shaping for KL-regularised inference-time alignment.

Under KL regularisation the aligned policy is ``ρ_base(y)·exp(r(y)/β)``: it inherits the base
policy's bias. The Stackelberg threshold shaping of Wang et al. (ICML 2026) hands the policy a
per-prompt threshold reward instead: ``B`` above ``m*`` and 0 below, where ``m*`` is the root of
``F(m) = E_base[w·(r_U − m)]`` with ``w = exp(B/β)`` when ``r_U ≥ m`` and 1 otherwise; deployed as
``B·σ(α(r_U − m*))``. The root is solved exactly per group in Rust (F is piecewise linear).

Groups are the candidates of one prompt: a padded ``[P, N]`` array, or flat values with
``offsets`` (``offsets[g]:offsets[g+1]`` is group g). ``base_weights`` are the base policy's
probabilities of the candidates (omit for samples drawn from the base policy: uniform).

Bad input raises ``InvalidInputError``: an empty group, non-finite rewards, ``beta`` or ``B`` ≤ 0.
A group of one candidate has ``m*`` equal to its reward; an all-equal group too (every shaped
reward is then ``B/2``, i.e. no preference, the same for every candidate).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rewardlab import _core
from rewardlab._utils.groups import as_f64, group_index, groups
from rewardlab.errors import invalid

SHAPINGS = ("none", "stackelberg", "stackelberg_hard", "meanstd", "minmax")


class Thresholds(NamedTuple):
    m: np.ndarray  # per group: the threshold m*
    b: np.ndarray  # per group: the bound B after the optional range clip


def stackelberg_thresholds(
    rewards: Any,
    offsets: Any | None = None,
    base_weights: Any | None = None,
    *,
    beta: float,
    B: float,
    exponent_cap: float | None = None,
    range_factor: float | None = None,
) -> Thresholds:
    """Per-group ``m*``. ``exponent_cap`` caps ``B/β`` (the paper's CD code: 2.0);
    ``range_factor`` clips ``B`` to that multiple of the group's reward range (CD: 2.0)."""
    r, off = groups(rewards, offsets)
    w = as_f64(base_weights, "base_weights") if base_weights is not None else None
    m, b = _core.stackelberg_thresholds(r, off, w, b=float(B), beta=float(beta), exponent_cap=exponent_cap, range_factor=range_factor)
    return Thresholds(m, b)


def shape_rewards(
    rewards: Any,
    offsets: Any | None = None,
    method: str = "stackelberg",
    *,
    beta: float = 1.0,
    B: float = 2.0,
    alpha: float = 1.0,
    base_weights: Any | None = None,
    exponent_cap: float | None = None,
    range_factor: float | None = None,
) -> np.ndarray:
    """Shaped rewards, same shape as ``rewards``.

    ``stackelberg`` = ``B·σ(α(r − m*))``; ``stackelberg_hard`` = ``B·[r > m*]`` (``B/2`` at
    equality); baselines: ``none`` (raw), ``meanstd`` (per-group ``(r − mean)/std``, 0 for a
    constant group), ``minmax`` (per-group ``(r − min)/(max − min)``, 0 for a constant group).
    """
    if method not in SHAPINGS:
        raise invalid("method", f"expected one of {', '.join(SHAPINGS)}, got {method!r}")
    r, off = groups(rewards, offsets)
    if method == "none":
        if not np.isfinite(r).all():
            raise invalid("rewards", "must be finite")
        return r.copy()
    if method in ("meanstd", "minmax"):
        return _normalise(r, off, method)
    th = stackelberg_thresholds(r, off, base_weights, beta=beta, B=B, exponent_cap=exponent_cap, range_factor=range_factor)
    return _core.shape_rewards(r, th.m, th.b, off, alpha=float(alpha), hard=method == "stackelberg_hard")


def _normalise(r: np.ndarray, off: np.ndarray | None, method: str) -> np.ndarray:
    if not np.isfinite(r).all():
        raise invalid("rewards", "must be finite")
    flat = r.reshape(-1)
    g = group_index(r, off)
    if off is not None and (np.diff(off) <= 0).any():
        raise invalid("offsets", "every group needs at least one candidate")
    n = np.bincount(g).astype(np.float64)
    if method == "meanstd":
        mean = np.bincount(g, flat) / n
        var = np.bincount(g, (flat - mean[g]) ** 2) / n
        std = np.sqrt(var)
        out = np.where(std[g] > 0, (flat - mean[g]) / np.where(std[g] > 0, std[g], 1.0), 0.0)
    else:
        lo = np.full(len(n), np.inf)
        hi = np.full(len(n), -np.inf)
        np.minimum.at(lo, g, flat)
        np.maximum.at(hi, g, flat)
        span = hi - lo
        out = np.where(span[g] > 0, (flat - lo[g]) / np.where(span[g] > 0, span[g], 1.0), 0.0)
    return out.reshape(r.shape)
