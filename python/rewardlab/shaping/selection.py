"""Inference-time alignment over sampled candidates: best-of-N, soft best-of-N, tilted expectations.

Soft best-of-N samples candidate i of a prompt with probability ``∝ w_i·exp(r_i/β)`` (the
KL-regularised policy restricted to the candidates; ``w`` = base weights, uniform for samples of
the base policy). All three work on padded ``[P, N]`` or flat + ``offsets`` groups in Rust.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab import _core
from rewardlab._utils.groups import as_f64, groups


def best_of_n(rewards: Any, offsets: Any | None = None) -> np.ndarray:
    """Index within its group of each group's highest reward (the first on ties), int64 ``[P]``."""
    r, off = groups(rewards, offsets)
    return _core.best_of_n(r, off)


def soft_best_of_n(rewards: Any, offsets: Any | None = None, base_weights: Any | None = None, *, beta: float) -> np.ndarray:
    """Selection probabilities of soft best-of-N, same shape as ``rewards``."""
    r, off = groups(rewards, offsets)
    w = as_f64(base_weights, "base_weights") if base_weights is not None else None
    return _core.tilted_probabilities(r, off, w, beta=float(beta))


def tilted_expectation(
    rewards: Any, utilities: Any, offsets: Any | None = None, base_weights: Any | None = None, *, beta: float
) -> np.ndarray:
    """Per group, the expected ``utilities`` of the candidate soft best-of-N picks by ``rewards``."""
    r, off = groups(rewards, offsets)
    u = as_f64(utilities, "utilities")
    w = as_f64(base_weights, "base_weights") if base_weights is not None else None
    return _core.tilted_expectation(r, u, off, w, beta=float(beta))
