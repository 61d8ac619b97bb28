"""Torch versions of the kernels that run inside a trainer's GPU step, for tensors that are not on
the CPU.

The Rust kernels read host memory. A CUDA tensor would be copied to the host and the result back,
and each copy synchronises the GPU stream: the step stalls until the GPU catches up. verl's
``kl_penalty`` sits inside the loss and TRL's group normalisation between generation and the loss,
so for them the choice is explicit. A CUDA (or MPS) tensor is computed here, with vectorised torch
operations on its own device, and never leaves it. A CPU tensor goes to Rust as before. The tests
run these functions on CPU tensors and check them equal to the Rust kernels, with NaN and ±inf
included.
"""

from __future__ import annotations

import torch

EPS = 1e-4  # TRL's eps in (r - mean) / (std + eps)


def on_device(t: torch.Tensor) -> bool:
    """Whether ``t`` lives off the host (then the torch path keeps it there)."""
    return isinstance(t, torch.Tensor) and t.device.type != "cpu"


# ---- verl's kl_penalty ---------------------------------------------------------------------------
def kl_value(logprob: torch.Tensor, ref_logprob: torch.Tensor, estimator: str, dtype: torch.dtype) -> torch.Tensor:
    """verl's KL estimators as its ``kl_penalty`` computes them (k3 clamped to ±20 inside the
    exponent and to ±10 after), in ``dtype``."""
    lp, rp = logprob.to(dtype), ref_logprob.to(dtype)
    if estimator in ("kl", "k1"):
        return lp - rp
    if estimator == "abs":
        return (lp - rp).abs()
    if estimator in ("mse", "k2"):
        return 0.5 * (lp - rp).square()
    if estimator in ("low_var_kl", "k3"):
        kl = torch.clamp(rp - lp, min=-20, max=20)
        return torch.clamp(torch.exp(kl) - kl - 1, min=-10, max=10)
    from rewardlab.errors import invalid

    raise invalid("kl_penalty", f"unknown estimator {estimator!r}")


# ---- TRL's GRPO group normalisation --------------------------------------------------------------
def _weighted_nansums(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``nansum(row * w)`` per row, NaN for a row that is all NaN (unscorable)."""
    p = values * w
    scored = (~torch.isnan(values)).any(dim=1)
    acc = torch.where(torch.isnan(p), torch.zeros_like(p), p).sum(dim=1)
    return torch.where(scored, acc, torch.full_like(acc, float("nan")))


def _moments(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Count, mean and Bessel-corrected std of the finite values along the last axis, in float64
    (the correction ``count / (count - 1)`` rounded to float32, as torch's ``nanstd`` does)."""
    v = v.double()
    finite = torch.isfinite(v)
    count = finite.sum(dim=-1).double()
    mean = torch.where(finite, v, 0.0).sum(dim=-1) / count
    dev = torch.where(finite, v - mean.unsqueeze(-1), 0.0)
    bessel = (count / (count - 1)).float().double()
    std = torch.where(count > 1, ((dev * dev).sum(dim=-1) / count * bessel).sqrt(), float("nan"))
    return count, mean, std


def _centre_groups(values: torch.Tensor, group: int, by_std: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r - mean) / (std + eps)`` (or ``r - mean``) within each group, 0 for non-finite values
    and for groups with fewer than two finite values; and each group's std, per value."""
    runs = values.reshape(-1, group).double()
    count, mean, std = _moments(runs)
    scale = torch.where(count < 2, 0.0, 1.0 / (std + EPS) if by_std else torch.ones_like(std))
    out = torch.where(torch.isfinite(runs), (runs - mean.unsqueeze(-1)) * scale.unsqueeze(-1), 0.0)
    return out.reshape(-1).to(values.dtype), std.repeat_interleave(group)


def _is_zero(std: torch.Tensor) -> torch.Tensor:
    return std.abs() <= 1e-8  # NaN is not close to zero


def group_normalize(rewards: torch.Tensor, weights: list[float], group: int, scale: str,
                    aggregation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(advantages, is_std_zero)`` of ``rewards`` ``[n, k]`` on its own device: what
    ``_core.group_normalize`` computes (see rust/core/src/credit/multi_reward.rs)."""
    from rewardlab.errors import invalid

    if rewards.ndim != 2 or rewards.shape[1] != len(weights) or rewards.shape[0] == 0:
        raise invalid("rewards_per_func", f"expected [n, {len(weights)}] with n > 0, got {list(rewards.shape)}")
    n = rewards.shape[0]
    if group < 1 or n % group != 0:
        raise invalid("num_generations", f"must divide the number of completions ({n}), got {group}")
    if scale not in ("group", "batch", "none"):
        raise invalid("scale_rewards", f"expected group, batch or none, got {scale!r}")
    if aggregation not in ("sum_then_normalize", "normalize_then_sum"):
        raise invalid("multi_objective_aggregation", f"expected sum_then_normalize or normalize_then_sum, got {aggregation!r}")
    w = torch.tensor(weights, dtype=rewards.dtype, device=rewards.device)
    if aggregation == "sum_then_normalize":
        sums = _weighted_nansums(rewards, w)
        adv, std = _centre_groups(sums, group, scale == "group")
        std_zero = _is_zero(std) if group > 1 else torch.ones(n, dtype=torch.bool, device=rewards.device)
        if scale == "batch":
            _, _, batch_std = _moments(sums)
            # torch.where, not an if on the value: reading it on the host would synchronise
            adv = torch.where(torch.isfinite(batch_std), adv / (batch_std + EPS).to(adv.dtype), torch.zeros_like(adv))
            std_zero = _is_zero(batch_std if n > 1 else torch.zeros((), dtype=torch.float64)).expand(n).to(rewards.device)
    else:
        columns = []
        for j in range(rewards.shape[1]):
            col = rewards[:, j]
            centred = _centre_groups(col, group, True)[0] if group > 1 else torch.zeros_like(col)
            columns.append(torch.where(torch.isnan(col), col, centred))
        combined = _weighted_nansums(torch.stack(columns, dim=1), w)
        _, mean, std = _moments(combined)
        std = std if n > 1 else torch.zeros((), dtype=torch.float64, device=rewards.device)
        adv = (combined - mean.to(combined.dtype)) / (std + EPS).to(combined.dtype)
        std_zero = _is_zero(std).expand(n)
    return torch.nan_to_num(adv, nan=0.0), std_zero.clone()
