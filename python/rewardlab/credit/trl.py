"""Drop-in for TRL's (trl 1.16.0) GRPO group normalisation.

TRL computes GRPO advantages inline in ``GRPOTrainer._generate_and_score_completions``; this is
that block as a function: from the gathered ``rewards_per_func`` ``(N, n_funcs)`` (NaN where a
reward function returned None) to per-completion advantages ``(N,)``, for contiguous groups of
``num_generations``. It also returns the ``is_std_zero`` flags TRL logs as
``frac_reward_zero_std``.

Difference: TRL lets +/-inf rewards into ``nanmean`` (turning the whole group into NaN, then 0);
here +/-inf are treated like NaN (left out of the group statistics, advantage 0).
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from rewardlab import _core
from rewardlab.credit._torch import to_torch, values_np
from rewardlab.errors import invalid

__all__ = ["grpo_advantages"]

UPSTREAM = "trl==1.16.0"
_EPS = 1e-4


def _group(values: np.ndarray, codes: np.ndarray, n_groups: int, scale: bool) -> tuple[np.ndarray, np.ndarray]:
    """(advantage, group std per item) with NaN-excluded stats and 0 for lone scorable items."""
    adv, _ = _core.outcome_advantages(values, codes, n_groups, None, estimator="grpo", epsilon=_EPS,
                                      scale_by_std=scale, singleton="zero", finite_only=True)
    # TRL's nanstd per group (NaN below two scorable items), for the is_std_zero flags
    _, _, std = _core.group_stats(values, codes, n_groups, finite_only=True)
    return adv, std[codes]


@torch.no_grad()
def grpo_advantages(
    rewards_per_func: torch.Tensor,
    reward_weights: Sequence[float] | torch.Tensor,
    num_generations: int,
    scale_rewards: Literal["group", "batch", "none"] = "group",
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = "sum_then_normalize",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(advantages, is_std_zero)``, both ``(N,)``."""
    rpf = values_np(rewards_per_func, "rewards_per_func")
    if rpf.ndim != 2 or rpf.shape[0] == 0:
        raise invalid("rewards_per_func", f"must be 2-D [N, n_funcs] with N > 0, got shape {list(rpf.shape)}")
    n, k = rpf.shape
    w = np.asarray(reward_weights.detach().cpu() if isinstance(reward_weights, torch.Tensor) else reward_weights, dtype=rpf.dtype)
    if w.shape != (k,):
        raise invalid("reward_weights", f"must hold {k} weights, one per reward function, got shape {list(w.shape)}")
    g = int(num_generations)
    if g < 1 or n % g:
        raise invalid("num_generations", f"must divide the number of completions ({n}), got {num_generations}")
    if scale_rewards not in ("group", "batch", "none"):
        raise invalid("scale_rewards", f"must be 'batch', 'group' or 'none', got {scale_rewards!r}")
    codes = (np.arange(n) // g).astype(np.uint32)
    n_groups = n // g
    unscorable = np.isnan(rpf).all(axis=1)
    if multi_objective_aggregation == "sum_then_normalize":
        rewards = np.nansum(rpf * w[None, :], axis=1)
        rewards[unscorable] = np.nan
        if scale_rewards == "batch":
            adv, _ = _group(rewards, codes, n_groups, scale=False)
            std = _batch_std(rewards)
            adv = adv / (std + _EPS) if np.isfinite(std) else np.zeros_like(adv)
            # TRL flags by isclose(nanstd, 0): NaN (fewer than two scorable rewards) is not "zero std"
            std_items = np.full(n, std) if n > 1 else np.zeros(n)
        else:
            adv, std_items = _group(rewards, codes, n_groups, scale=scale_rewards == "group")
            if g == 1:
                std_items = np.zeros(n)
    elif multi_objective_aggregation == "normalize_then_sum":
        z = np.zeros_like(rpf)
        for j in range(k):  # one kernel call per reward function, not per sample
            if g > 1:
                col, _ = _group(np.ascontiguousarray(rpf[:, j]), codes, n_groups, scale=True)
                z[:, j] = np.where(np.isnan(rpf[:, j]), np.nan, col)
            else:
                z[:, j] = np.where(np.isnan(rpf[:, j]), np.nan, 0.0)
        rewards = np.nansum(z * w[None, :], axis=1)
        rewards[unscorable] = np.nan
        std = _batch_std(rewards) if n > 1 else 0.0
        mean = np.nanmean(rewards) if np.isfinite(rewards).any() else np.nan
        adv = np.nan_to_num((rewards - mean) / (std + _EPS), nan=0.0)
        std_items = np.full(n, std)
    else:
        raise invalid("multi_objective_aggregation", f"must be 'sum_then_normalize' or 'normalize_then_sum', got {multi_objective_aggregation!r}")
    if not np.isfinite(adv).all():  # the check alone: nan_to_num costs more than the kernel here
        adv = np.nan_to_num(adv, nan=0.0)
    # TRL's isclose(std, 0): |std| <= atol (1e-8); NaN and inf are not close
    is_std_zero = np.abs(std_items) <= 1e-8
    dev = rewards_per_func.device
    return to_torch(np.ascontiguousarray(adv, dtype=rpf.dtype), dev, rewards_per_func.dtype), to_torch(is_std_zero, dev, torch.bool)


def _batch_std(rewards: np.ndarray) -> float:
    finite = rewards[np.isfinite(rewards)]
    return float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
