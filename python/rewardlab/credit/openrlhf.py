"""Drop-in replacements for OpenRLHF's (openrlhf 0.11.2) reward shaping and advantage functions.

- ``compute_approx_kl`` and ``compute_reward`` from ``openrlhf.models.utils``;
- ``get_advantages_and_returns`` and ``get_cumulative_returns``, methods of
  ``openrlhf.trainer.ppo_utils.experience_maker.RemoteExperienceMaker`` that never touch ``self``,
  here as plain functions with the same remaining arguments;
- ``group_baseline`` and ``normalize_advantages``: the two inline steps of
  ``compute_advantages_and_returns`` (the per-prompt baseline on scalar rewards, and the global
  advantage normalisation), as functions.

OpenRLHF's GAE zeroes rewards and values at masked tokens and does not skip them (unlike verl).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np
import torch

from rewardlab import _core
from rewardlab.credit import OPENRLHF_WHITEN
from rewardlab.credit._torch import mask_np, padded_np, product_dtype, to_torch, values_like, values_np
from rewardlab.errors import invalid

__all__ = [
    "compute_approx_kl",
    "compute_reward",
    "get_advantages_and_returns",
    "get_cumulative_returns",
    "group_baseline",
    "normalize_advantages",
]

UPSTREAM = "openrlhf==0.11.2"
KL_IS_WEIGHT_CLIP = 10.0


class _KlValue(torch.autograd.Function):
    """Forward: the Rust estimate. Backward: the derivative of OpenRLHF's estimator, clamps included."""

    @staticmethod
    def forward(ctx: Any, log_probs: torch.Tensor, log_probs_base: torch.Tensor, value: torch.Tensor, name: str) -> torch.Tensor:
        ctx.save_for_backward(log_probs, log_probs_base, value)
        ctx.name = name
        return value.view_as(value)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        log_probs, log_probs_base, value = ctx.saved_tensors
        lr = log_probs.float() - log_probs_base.float()
        inside = (value > -10) & (value < 10)
        if ctx.name == "k1":
            d = grad * inside
        elif ctx.name == "k2":
            d = grad * lr * inside
        else:
            x = lr.clamp(min=-10)
            d = grad * (1 - torch.exp(-x)) * (lr >= -10) * inside
        return d.to(log_probs.dtype), (-d).to(log_probs_base.dtype), None, None


def compute_approx_kl(
    log_probs: torch.Tensor,
    log_probs_base: torch.Tensor,
    log_probs_old: Optional[torch.Tensor] = None,
    kl_estimator: str = "k1",
    unbiased_gradient: bool = False,
) -> torch.Tensor:
    """k1/k2/k3 in float32, every estimator clamped to ±10 (k3's log ratio floored at -10 first)."""
    if kl_estimator not in ("k1", "k2", "k3"):
        raise invalid("kl_estimator", f"unknown estimator {kl_estimator!r}; expected 'k1', 'k2' or 'k3'")
    lp = values_np(log_probs, "log_probs").astype(np.float32, copy=False)
    bp = values_like(log_probs_base, "log_probs_base", lp, "log_probs")
    value = to_torch(_core.kl_penalty(lp, bp, estimator=kl_estimator, clamp="openrlhf"), log_probs.device, torch.float32)
    needs_grad = torch.is_grad_enabled() and (log_probs.requires_grad or log_probs_base.requires_grad)
    if not needs_grad:
        return value
    if not unbiased_gradient:
        return _KlValue.apply(log_probs, log_probs_base, value, kl_estimator)
    log_ratio = log_probs.float() - log_probs_base.float()
    if log_probs_old is None:
        w: Any = 1.0
    else:
        w = (log_probs.float() - log_probs_old.float()).exp().clamp(max=KL_IS_WEIGHT_CLIP).detach()
    surrogate = w * (log_ratio**2 / 2.0)
    return value + surrogate - surrogate.detach()


@torch.no_grad()
def compute_reward(
    r: Union[torch.Tensor, float],
    kl_coef: float,
    kl: torch.Tensor,
    action_mask: Optional[torch.Tensor] = None,
    reward_clip_range: Optional[Tuple[float, float]] = None,
) -> torch.Tensor:
    """Scalar reward (clipped) on the last valid token plus ``-kl_coef * kl`` on every token."""
    if not isinstance(kl, torch.Tensor):
        raise invalid("kl", f"must be a [batch, response_length] tensor, got {type(kl).__name__}")
    if action_mask is None:
        raise invalid("action_mask", "is required to find each response's last token")
    k = padded_np(kl, "kl")
    m = mask_np(action_mask, "action_mask", k, "kl")
    if isinstance(r, torch.Tensor):
        rr = values_np(r.reshape(-1), "r")
    else:
        rr = np.full(k.shape[0], float(r))
    if rr.shape[0] != k.shape[0]:
        raise invalid("r", f"has {rr.shape[0]} rewards but kl has {k.shape[0]} rows")
    clip = None
    if reward_clip_range:
        lo, hi = reward_clip_range
        clip = (float(lo), float(hi))
        if isinstance(r, torch.Tensor) and r.dtype != kl.dtype:
            rr = np.clip(rr, lo, hi)  # OpenRLHF clamps in r's dtype, then casts to kl's
    out = _core.place_outcome_reward(rr.astype(k.dtype, copy=False), k, m, None, kl_coef=float(kl_coef), clip=clip)
    return to_torch(out, kl.device, kl.dtype)


@torch.no_grad()
def get_advantages_and_returns(
    values: torch.Tensor,
    rewards: torch.Tensor,
    action_mask: torch.Tensor,
    gamma: float,
    lambd: float,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """GAE with rewards and values zeroed at masked tokens; ``returns = advantages + masked values``."""
    r = padded_np(rewards, "rewards")
    v = values_like(values, "values", r, "rewards")
    m = None if action_mask is None else mask_np(action_mask, "action_mask", r, "rewards")
    adv, ret = _core.gae(r, v, m, None, gamma=float(gamma), lam=float(lambd), masked_steps="zero")
    tensors = [rewards, values] + ([action_mask] if action_mask is not None else [])
    dtype = product_dtype(*tensors)
    return to_torch(adv, rewards.device, dtype), to_torch(ret, rewards.device, dtype)


@torch.no_grad()
def get_cumulative_returns(rewards: torch.Tensor, action_mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted reward-to-go with masked rewards zeroed."""
    r = padded_np(rewards, "rewards")
    m = None if action_mask is None else mask_np(action_mask, "action_mask", r, "rewards")
    ret, _ = _core.discounted_returns(r, m, None, gamma=float(gamma), masked_steps="zero")
    return to_torch(ret, rewards.device, rewards.dtype)


@torch.no_grad()
def group_baseline(rewards: torch.Tensor, n_samples_per_prompt: int, estimator: str) -> torch.Tensor:
    """The per-prompt shaping of scalar rewards in ``compute_advantages_and_returns``, for
    contiguous groups of ``n_samples_per_prompt``: ``rloo``, ``reinforce_baseline``/``dr_grpo``,
    ``group_norm`` (unbiased std, eps 1e-9) or ``flash_reinforce`` (batch mean). Other estimators
    (gae, reinforce) leave rewards unchanged. Promotes to at least float32, as OpenRLHF does."""
    dtype = torch.promote_types(rewards.dtype, torch.float32)
    flat = values_np(rewards.reshape(-1).to(dtype), "rewards")
    n = int(n_samples_per_prompt)
    if n < 1 or flat.shape[0] % n:
        raise invalid("n_samples_per_prompt", f"must divide the number of rewards ({flat.shape[0]}), got {n_samples_per_prompt}")
    if estimator in ("rloo", "reinforce_baseline", "dr_grpo", "group_norm") and n < 2:
        raise invalid("n_samples_per_prompt", f"{estimator} needs at least 2 samples per prompt, got {n}")
    if estimator == "flash_reinforce":
        codes = np.zeros(flat.shape[0], dtype=np.uint32)
    else:
        codes = (np.arange(flat.shape[0]) // n).astype(np.uint32)
    kernels = {"rloo": ("rloo", 0.0), "reinforce_baseline": ("mean_baseline", 0.0), "dr_grpo": ("mean_baseline", 0.0),
               "group_norm": ("grpo", 1e-9), "flash_reinforce": ("mean_baseline", 0.0)}
    if estimator not in kernels:
        return rewards.to(dtype).reshape(rewards.shape)
    kind, eps = kernels[estimator]
    out, _ = _core.outcome_advantages(flat, codes, int(codes.max()) + 1 if codes.size else 0, None, estimator=kind, epsilon=eps, singleton="pass")
    return to_torch(out, rewards.device, dtype).reshape(rewards.shape)


@torch.no_grad()
def normalize_advantages(advantages: torch.Tensor, action_mask: torch.Tensor, no_std_norm: bool = False) -> torch.Tensor:
    """Global advantage normalisation of ``compute_advantages_and_returns`` (gae, reinforce,
    reinforce_baseline): population variance, ``rsqrt(max(var, 1e-8))``, not re-masked."""
    a = values_np(advantages, "advantages")
    m = mask_np(action_mask, "action_mask", a, "advantages")
    if no_std_norm:
        n, mean, _ = _core.masked_moments(a, m)
        if n == 0:
            raise invalid("action_mask", "selects no token")
        return advantages - torch.tensor(mean, dtype=torch.float32)
    out = _core.masked_whiten(a, m, OPENRLHF_WHITEN.as_tuple())
    return to_torch(out, advantages.device, advantages.dtype)
