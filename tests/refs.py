"""Plain numpy references, written from the formulas (and the reference stacks' documented
semantics), sharing no code with rewardlab. Slow on purpose: loops a reader can check."""

from __future__ import annotations

import numpy as np


def gae(r, v, m, gamma, lam, mode):
    """Row-wise reverse loop. mode 'carry': skip masked tokens; 'zero': zero them, no skipping."""
    adv = np.zeros_like(r, dtype=np.float64)
    ret = np.zeros_like(r, dtype=np.float64)
    for i in range(r.shape[0]):
        nv, lg = 0.0, 0.0
        for t in reversed(range(r.shape[1])):
            on = bool(m[i, t])
            if mode == "carry":
                delta = r[i, t] + gamma * nv - v[i, t]
                if on:
                    lg = delta + gamma * lam * lg
                    nv = v[i, t]
                adv[i, t] = lg
                ret[i, t] = lg + v[i, t]
            else:
                rt, vt = (r[i, t], v[i, t]) if on else (0.0, 0.0)
                lg = rt + gamma * nv - vt + gamma * lam * lg
                nv = vt
                adv[i, t] = lg
                ret[i, t] = lg + vt
    return adv, ret


def returns(r, m, gamma, mode):
    out = np.zeros_like(r, dtype=np.float64)
    for i in range(r.shape[0]):
        g = 0.0
        for t in reversed(range(r.shape[1])):
            on = bool(m[i, t])
            if mode == "carry":
                if on:
                    g = r[i, t] + gamma * g
                    out[i, t] = g
            else:
                g = (r[i, t] if on else 0.0) + gamma * g
                out[i, t] = g
    return out


def whiten(x, m, *, unbiased=True, count_eps=1e-8, eps=1e-8, floor=False, shift_mean=True, remask=False):
    sel = x[m.astype(bool)].astype(np.float64)
    n = sel.size
    mean = sel.sum() / (n + count_eps)
    var = ((sel - mean) ** 2).sum() / (n + count_eps)
    if unbiased:
        var = var * n / (n - 1)
    rstd = 1 / np.sqrt(max(var, eps)) if floor else 1 / np.sqrt(var + eps)
    out = (x - mean) * rstd
    if not shift_mean:
        out = out + mean
    if remask:
        out = out * m
    return out


def outcome(scores, ids, *, estimator, eps=1e-6, scale=True, singleton="pass", finite_only=False, mask_zero_variance=False):
    groups: dict = {}
    for i, k in enumerate(ids):
        if finite_only and not np.isfinite(scores[i]):
            continue
        groups.setdefault(k, []).append(float(scores[i]))
    out = np.zeros(len(scores))
    for i, k in enumerate(ids):
        s = float(scores[i])
        if finite_only and not np.isfinite(s):
            continue
        g = np.array(groups[k])
        n = g.size
        if n == 1:
            if singleton == "zero":
                out[i] = 0.0
            else:
                out[i] = s / (1 + eps) if (estimator == "grpo" and scale) else s
            continue
        mean, std = g.mean(), g.std(ddof=1)
        if mask_zero_variance and np.all(g == g[0]):
            out[i] = 0.0
        elif estimator == "grpo":
            out[i] = (s - mean) / (std + eps) if scale else s - mean
        elif estimator == "rloo":
            out[i] = s - (g.sum() - s) / (n - 1)
        else:
            out[i] = s - mean
    return out


def kl(lp, rp, est, clamp):
    lp, rp = lp.astype(np.float64), rp.astype(np.float64)
    d = lp - rp
    if est == "k1":
        val = d
    elif est == "abs":
        val = np.abs(d)
    elif est == "k2":
        val = 0.5 * d * d
    else:
        if clamp == "openrlhf":
            x = np.maximum(d, -10)
            val = np.exp(-x) - 1 + x
        else:
            k = rp - lp
            if clamp == "verl":
                k = np.clip(k, -20, 20)
            val = np.exp(k) - k - 1
    if clamp == "openrlhf" or (clamp == "verl" and est == "k3"):
        val = np.clip(val, -10, 10)
    return val
