"""The dual-confidence gate of fast-slow scoring: keep the fast score where both confidences are
high, pay for the slow judgement elsewhere.

An item stays fast when ``c1 ≥ τ1 and c2 ≥ τ2`` (F/S-RM's "activate slow thinking unless both
the intuition and the token distribution are confident"; the paper's formulas are not public,
the choices here are documented in docs/fastslow.md):

- ``c1`` (intuition) ``= |2σ(s) − 1| = |tanh(s/2)|`` of the fast log-odds ``s``;
- ``c2`` (distribution shape) for an LM judge: ``mass`` (probability that the first token is a
  verdict token at all, min over the two views), ``top2`` (top-1 − top-2 probability gap) or
  ``entropy`` (1 − normalised entropy); for an embedding ensemble: agreement
  ``|mean| / (|mean| + std)`` of the members' margins.

Thresholds are calibrated on a dev split (Rust ``gate_calibrate``) to a slow rate or to a token
budget; ``sweep`` evaluates a whole ``τ1 × τ2`` grid at once (Rust ``gate_sweep``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rewardlab import _core
from rewardlab.errors import invalid

SHAPES = ("mass", "top2", "entropy", "none")


def _vector(name: str, x, n: int | None = None) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise invalid(name, f"must be 1-D, got shape {a.shape}")
    if n is not None and len(a) != n:
        raise invalid(name, f"must have {n} values, got {len(a)}")
    return a


def intuition(margin) -> np.ndarray:
    """``c1 = |2σ(margin) − 1|``: 0 for a coin flip, 1 for certainty."""
    return np.abs(np.tanh(0.5 * _vector("margin", margin)))


def agreement(member_margins) -> np.ndarray:
    """``c2`` of an ensemble ``[K, n]``: ``|mean| / (|mean| + std)`` of the member margins, scale
    free, 1 when all members agree exactly, 0 when they cancel out (0/0 also counts as 0)."""
    m = np.asarray(member_margins, np.float64)
    if m.ndim != 2 or m.shape[0] < 1:
        raise invalid("member_margins", f"must be [K, n], got shape {m.shape}")
    mean, std = np.abs(m.mean(axis=0)), m.std(axis=0)
    total = mean + std
    return np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)


def shape_confidence(mass, top2_gap, entropy, shape: str) -> np.ndarray | None:
    """The LM judge's ``c2`` by name; ``None`` for ``"none"`` (the gate then uses ``c1`` alone)."""
    if shape not in SHAPES:
        raise invalid("shape", f"expected one of {', '.join(SHAPES)}, got {shape!r}")
    return {"mass": lambda: np.asarray(mass, np.float64), "top2": lambda: np.asarray(top2_gap, np.float64),
            "entropy": lambda: 1.0 - np.asarray(entropy, np.float64), "none": lambda: None}[shape]()


@dataclass(frozen=True)
class Gate:
    """Thresholds ``τ1`` on ``c1`` and ``τ2`` on ``c2`` (``-inf``: ``c2`` not used)."""

    tau1: float
    tau2: float = -math.inf
    # What the calibration items spent at these thresholds.
    dev_slow_rate: float = float("nan")
    dev_tokens: float = float("nan")

    def route(self, c1, c2=None) -> np.ndarray:
        """Boolean ``[n]``: which items go slow."""
        c1 = _vector("c1", c1)
        c2 = None if c2 is None else _vector("c2", c2, len(c1))
        return _core.gate_route(c1, c2, tau1=float(self.tau1), tau2=float(self.tau2))

    @classmethod
    def calibrate(cls, c1, c2=None, *, slow_rate: float | None = None, token_budget: float | None = None,
                  fast_tokens=None, slow_tokens=None) -> "Gate":
        """Thresholds at one common quantile level of ``c1`` and ``c2`` on these (dev) items: the
        highest level whose slow share stays ≤ ``slow_rate``, or whose mean tokens per item
        (fast path on every item + slow path on the routed ones) stay ≤ ``token_budget``."""
        c1 = _vector("c1", c1)
        n = len(c1)
        c2 = None if c2 is None else _vector("c2", c2, n)
        if (slow_rate is None) == (token_budget is None):
            raise invalid("slow_rate", "give exactly one of slow_rate and token_budget")
        if slow_rate is not None:
            if not 0.0 <= slow_rate <= 1.0:
                raise invalid("slow_rate", f"must be in [0, 1], got {slow_rate}")
            t1, t2, slow, tokens = _core.gate_calibrate(c1, c2, slow_count=int(math.floor(slow_rate * n + 1e-9)))
            return cls(t1, t2, slow / n, float("nan"))
        if fast_tokens is None or slow_tokens is None:
            raise invalid("token_budget", "needs fast_tokens and slow_tokens per item")
        if not (isinstance(token_budget, (int, float)) and math.isfinite(token_budget)):
            raise invalid("token_budget", f"must be a finite number of tokens per item, got {token_budget!r}")
        f, s = _vector("fast_tokens", fast_tokens, n), _vector("slow_tokens", slow_tokens, n)
        # The budget is per item; the kernel compares totals. The relative slack absorbs the rounding
        # of mean × n, so a budget equal to a level's exact mean spend admits that level.
        total = float(token_budget) * n * (1 + 1e-12)
        t1, t2, slow, tokens = _core.gate_calibrate(c1, c2, fast_tokens=f, slow_tokens=s, token_budget=total)
        return cls(t1, t2, slow / n, tokens / n)


@dataclass
class Sweep:
    """Every ``(τ1, τ2)`` cell: slow rate, accuracy and mean tokens per item."""

    tau1: np.ndarray
    tau2: np.ndarray
    slow_rate: np.ndarray  # [G1, G2]
    accuracy: np.ndarray
    tokens: np.ndarray

    def frontier(self) -> list[tuple[float, float, float, float]]:
        """The Pareto-best cells, ``(tokens, accuracy, τ1, τ2)`` by increasing tokens: no other
        cell is at least as accurate for fewer tokens."""
        order = np.lexsort((-self.accuracy.ravel(), self.tokens.ravel()))
        out, best = [], -np.inf
        for i in order:
            a, b = np.unravel_index(i, self.accuracy.shape)
            if self.accuracy[a, b] > best + 1e-12:
                best = float(self.accuracy[a, b])
                out.append((float(self.tokens[a, b]), float(best), float(self.tau1[a]), float(self.tau2[b])))
        return out


def quantile_grid(c, points: int) -> np.ndarray:
    """Thresholds that split ``c`` at ``points`` quantile levels, plus ``-inf`` (nothing below)
    and ``+inf`` (everything below)."""
    inner = np.quantile(np.asarray(c, np.float64), np.linspace(0, 1, max(points, 2)))
    return np.unique(np.concatenate([[-np.inf], inner, [np.inf]]))


MAX_POINTS = 1000  # quantile levels per confidence: a grid of at most ~1000 x 1000 cells


def sweep(c1, c2, fast_correct, slow_correct, fast_tokens, slow_tokens, points: int = 33) -> Sweep:
    """Accuracy and spend of the gate at every pair of quantile thresholds (``c2=None``: a
    single column). ``*_correct`` are 1 / 0.5 (tie) / 0 per item."""
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 2 <= points <= MAX_POINTS:
        raise invalid("points", f"must be an integer in [2, {MAX_POINTS}], got {points!r}")
    c1 = _vector("c1", c1)
    n = len(c1)
    c2v = np.zeros(n) if c2 is None else _vector("c2", c2, n)
    fc, sc = _vector("fast_correct", fast_correct, n), _vector("slow_correct", slow_correct, n)
    ft, st = _vector("fast_tokens", fast_tokens, n), _vector("slow_tokens", slow_tokens, n)
    t1 = quantile_grid(c1, points)
    t2 = np.array([-np.inf]) if c2 is None else quantile_grid(c2v, points)
    slow, gain, tokens = _core.gate_sweep(c1, c2v, sc - fc, st, t1, t2)
    return Sweep(t1, t2, slow / n, (fc.sum() + gain) / n, (ft.sum() + tokens) / n)
