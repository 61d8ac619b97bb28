"""Drop-in replacements for ``verl.trainer.ppo.core_algos`` (verl 0.9.1) advantage functions.

Same names, signatures, dtypes and results: swap ``from verl.trainer.ppo import core_algos`` for
``from rewardlab.credit import verl as core_algos`` and nothing else changes. Each call is one Rust
kernel instead of a Python loop over the batch or over the tokens.

Where verl's loop and vectorised versions disagree we follow the loop version (verl's default):
- a group with one response keeps its raw score (GRPO divides it by ``1 + epsilon``, RLOO leaves
  it as is); verl's ``compute_rloo_vectorized_outcome_advantage`` gives it 0, and so does ours of
  that name.
- group statistics are computed in float64 (verl: in the input dtype, the vectorised version in
  float32). Results agree to float32 rounding, except in groups whose scores are all equal but not
  exactly representable: there verl divides float32 rounding residue (~1e-8) by ``std + 1e-6``
  and returns noise of order 1e-2, where we return exactly 0.
- NaN/inf values at masked positions do not leak into neighbouring tokens (verl multiplies them
  by 0, which gives NaN).
Bad input raises ``rewardlab.InvalidInputError`` (a ``ValueError``) naming the argument.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from rewardlab import _core
from rewardlab.credit import WhitenSpec
from rewardlab.credit.on_device import kl_value, on_device
from rewardlab.credit._torch import mask_np, padded_np, product_dtype, to_torch, values_like, values_np
from rewardlab.credit.groups import group_codes
from rewardlab.errors import invalid

__all__ = [
    "compute_gae_advantage_return",
    "compute_grpo_outcome_advantage",
    "compute_grpo_vectorized_outcome_advantage",
    "compute_rloo_outcome_advantage",
    "compute_rloo_vectorized_outcome_advantage",
    "compute_reinforce_plus_plus_outcome_advantage",
    "compute_reinforce_plus_plus_baseline_outcome_advantage",
    "kl_penalty",
    "masked_whiten",
]

UPSTREAM = "verl==0.9.1"


def _whiten_spec(mask: torch.Tensor, *, remask: bool = False, shift_mean: bool = True) -> tuple:
    """verl's masked_whiten; its count scalars live in float32 unless the mask is float64."""
    return WhitenSpec(remask=remask, shift_mean=shift_mean, f32_counts=mask.dtype != torch.float64).as_tuple()


def _float(x: Any, arg: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise invalid(arg, f"must be a number, got {type(x).__name__}") from None


@torch.no_grad()
def compute_gae_advantage_return(
    token_level_rewards: torch.Tensor,
    values: torch.Tensor,
    response_mask: torch.Tensor,
    gamma: Any,
    lam: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE with masked (observation) tokens skipped; advantages whitened over the mask, not re-masked."""
    r = padded_np(token_level_rewards, "token_level_rewards")
    v = values_like(values, "values", r, "token_level_rewards")
    m = mask_np(response_mask, "response_mask", r, "token_level_rewards")
    adv, ret = _core.gae(
        r, v, m, None, gamma=_float(gamma, "gamma"), lam=_float(lam, "lam"), masked_steps="carry", whiten=_whiten_spec(response_mask)
    )
    dtype = product_dtype(token_level_rewards, values, response_mask)
    dev = token_level_rewards.device
    return to_torch(adv, dev, dtype), to_torch(ret, dev, product_dtype(token_level_rewards, values))


def _outcome(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any,
    *,
    estimator: str,
    epsilon: float = 1e-6,
    scale_by_std: bool = True,
    singleton: str = "pass",
    whiten: Optional[tuple] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r = padded_np(token_level_rewards, "token_level_rewards")
    m = mask_np(response_mask, "response_mask", r, "token_level_rewards")
    # verl sums every token (unmasked), so the mask is read once, by broadcast_rows, which checks it
    scores, _ = _core.row_scores(r, None, None, masked=False)
    codes, n_groups = group_codes(index, r.shape[0])
    scalars, _ = _core.outcome_advantages(
        scores, codes, n_groups, None, estimator=estimator, epsilon=_float(epsilon, "epsilon"),
        scale_by_std=bool(scale_by_std), singleton=singleton,
    )
    token = _core.broadcast_rows(scalars, m, None, whiten=whiten)
    out = to_torch(token, token_level_rewards.device, product_dtype(token_level_rewards, response_mask))
    return out, out


@torch.no_grad()
def compute_grpo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    norm_adv_by_std_in_grpo: bool = True,
    config: Optional[Any] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO (or Dr.GRPO with ``norm_adv_by_std_in_grpo=False``) outcome advantages, loop semantics."""
    return _outcome(token_level_rewards, response_mask, index, estimator="grpo", epsilon=epsilon, scale_by_std=norm_adv_by_std_in_grpo)


# In verl 0.9.1 the vectorised GRPO has the loop's semantics (singletons: mean 0, std 1), so one
# function serves both names.
compute_grpo_vectorized_outcome_advantage = compute_grpo_outcome_advantage


@torch.no_grad()
def compute_rloo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    config: Optional[Any] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO, loop semantics: a single-response group keeps its raw score."""
    return _outcome(token_level_rewards, response_mask, index, estimator="rloo")


@torch.no_grad()
def compute_rloo_vectorized_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    config: Optional[Any] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO, vectorised semantics: a single-response group gets 0."""
    return _outcome(token_level_rewards, response_mask, index, estimator="rloo", singleton="zero")


@torch.no_grad()
def compute_reinforce_plus_plus_baseline_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any,
    epsilon: float = 1e-6,
    config: Optional[Any] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group-mean baseline, tiled over tokens, whitened over the batch, re-masked."""
    return _outcome(token_level_rewards, response_mask, index, estimator="mean_baseline", whiten=_whiten_spec(response_mask, remask=True))


@torch.no_grad()
def compute_reinforce_plus_plus_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    config: Optional[Any] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discounted returns (masked tokens carry the running return, their return is 0), whitened, re-masked."""
    if config is None:
        raise invalid("config", "is required: REINFORCE++ reads config.gamma")
    gamma = config["gamma"] if isinstance(config, dict) else getattr(config, "gamma", None)
    if gamma is None:
        raise invalid("config", "has no gamma")
    r = padded_np(token_level_rewards, "token_level_rewards")
    m = mask_np(response_mask, "response_mask", r, "token_level_rewards")
    returns, adv = _core.discounted_returns(r, m, None, gamma=_float(gamma, "config.gamma"), masked_steps="carry", whiten=_whiten_spec(response_mask, remask=True))
    assert adv is not None  # whitening was asked for
    dev, dtype = token_level_rewards.device, product_dtype(token_level_rewards, response_mask)
    return to_torch(adv, dev, dtype), to_torch(returns, dev, dtype)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """``verl.utils.torch_functional.masked_whiten``."""
    v = values_np(values, "values")
    m = mask_np(mask, "mask", v, "values")
    out = _core.masked_whiten(v, m, _whiten_spec(mask, shift_mean=bool(shift_mean)))
    return to_torch(out, values.device, product_dtype(values, mask))


class _KlStraightThrough(torch.autograd.Function):
    """Forward: the Rust estimate. Backward: d/dlogprob of k2 = logprob - ref (verl's "+" variants)."""

    @staticmethod
    def forward(ctx: Any, logprob: torch.Tensor, ref_logprob: torch.Tensor, forward_value: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logprob, ref_logprob)
        return forward_value

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        logprob, ref_logprob = ctx.saved_tensors
        d = grad * (logprob - ref_logprob)
        return d, -d, None


class _KlExact(torch.autograd.Function):
    """Forward: the Rust estimate. Backward: the analytic derivative of that estimator, clamps included."""

    @staticmethod
    def forward(ctx: Any, logprob: torch.Tensor, ref_logprob: torch.Tensor, forward_value: torch.Tensor, name: str) -> torch.Tensor:
        ctx.save_for_backward(logprob, ref_logprob)
        ctx.name = name
        return forward_value

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        logprob, ref_logprob = ctx.saved_tensors
        diff = logprob - ref_logprob
        name = ctx.name
        if name in ("kl", "k1"):
            d = grad
        elif name == "abs":
            d = grad * torch.sign(diff)
        elif name in ("mse", "k2"):
            d = grad * diff
        else:  # k3: f = clamp(exp(kl) - kl - 1, ±10), kl = clamp(ref - logp, ±20)
            kl = -diff
            klc = kl.clamp(-20, 20)
            value = torch.exp(klc) - klc - 1
            pass_kl = (kl >= -20) & (kl <= 20)
            pass_out = (value >= -10) & (value <= 10)
            d = grad * (-(torch.exp(klc) - 1)) * pass_kl * pass_out
        return d, -d, None, None


def kl_penalty(logprob: torch.Tensor, ref_logprob: torch.Tensor, kl_penalty: str) -> torch.Tensor:
    """verl's ``kl_penalty``: kl/k1, abs, mse/k2, low_var_kl/k3, and the "+" straight-through
    variants whose gradient is that of k2. Gradients flow when the inputs require them."""
    if not isinstance(kl_penalty, str):
        raise invalid("kl_penalty", f"must be a string, got {type(kl_penalty).__name__}")
    if kl_penalty == "full":
        raise NotImplementedError
    base = kl_penalty[:-1] if kl_penalty.endswith("+") else kl_penalty
    if on_device(logprob) or on_device(ref_logprob):
        # inside a GPU loss: computed on the device with torch (autograd as verl's own), no copy
        dtype = product_dtype(logprob, ref_logprob)
        value = kl_value(logprob, ref_logprob, base, dtype)
        if kl_penalty.endswith("+") and base not in ("mse", "k2"):
            k2 = kl_value(logprob, ref_logprob, "k2", dtype)
            return value.detach() + k2 - k2.detach()  # k2's gradient, the estimator's value
        return value
    lp = values_np(logprob, "logprob")
    rp = values_like(ref_logprob, "ref_logprob", lp, "logprob")
    dtype = product_dtype(logprob, ref_logprob)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    value = to_torch(_core.kl_penalty(lp.astype(np_dtype, copy=False), rp.astype(np_dtype, copy=False), estimator=base, clamp="verl"), logprob.device, dtype)
    if not (torch.is_grad_enabled() and (logprob.requires_grad or ref_logprob.requires_grad)):
        return value
    if kl_penalty.endswith("+") and base not in ("mse", "k2"):
        return _KlStraightThrough.apply(logprob, ref_logprob, value)
    return _KlExact.apply(logprob, ref_logprob, value, base)
