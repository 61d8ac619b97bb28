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
from rewardlab.credit.on_device import group_normalize as on_device_normalize, on_device
from rewardlab.errors import invalid

__all__ = ["grpo_advantages"]

UPSTREAM = "trl==1.16.0"


def grpo_advantages(
    rewards_per_func: torch.Tensor,
    reward_weights: Sequence[float] | torch.Tensor,
    num_generations: int,
    scale_rewards: Literal["group", "batch", "none"] = "group",
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = "sum_then_normalize",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(advantages, is_std_zero)``, both ``(N,)``.

    One Rust call (``_core.group_normalize``): on a few thousand rewards, a chain of numpy or
    torch operations costs its per-call overhead many times over. A tensor on a GPU is normalised
    there instead (:mod:`rewardlab.credit.on_device`), so the step never waits on a copy.
    """
    weights: Any = reward_weights
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().double().numpy()
    if isinstance(weights, np.ndarray) and weights.ndim != 1:
        raise invalid("reward_weights", f"must be 1-D, one weight per reward function, got shape {list(weights.shape)}")
    try:
        # a list comprehension, not np.asarray: this runs on every step, on a few numbers
        weights = [float(w) for w in weights]
    except (TypeError, ValueError) as e:
        raise invalid("reward_weights", f"must be a 1-D sequence of numbers, one per reward function ({e})") from None
    g = num_generations
    if not isinstance(g, (int, np.integer)) or isinstance(g, bool) or g < 1:
        raise invalid("num_generations", f"must be a positive integer, got {num_generations!r}")
    if on_device(rewards_per_func):  # a CUDA/MPS tensor stays on its device (no stream sync)
        exact = rewards_per_func.dtype in (torch.float32, torch.float64)
        work = rewards_per_func.detach() if exact else rewards_per_func.detach().float()
        adv, is_std_zero = on_device_normalize(work, weights, int(g), scale_rewards, multi_objective_aggregation)
        return adv.to(rewards_per_func.dtype if rewards_per_func.is_floating_point() else torch.float32), is_std_zero
    rpf = values_np(rewards_per_func, "rewards_per_func")
    adv, is_std_zero = _core.group_normalize(rpf, weights, int(g), scale_rewards, multi_objective_aggregation)
    dev = rewards_per_func.device
    return to_torch(adv, dev, rewards_per_func.dtype), to_torch(is_std_zero, dev, torch.bool)
