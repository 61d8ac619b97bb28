"""Credit assignment: advantage estimators, returns, whitening and KL penalties in Rust.

Every function takes numpy arrays or CPU torch tensors (and returns the same kind), token batches
either padded ``[B, T]`` with a 0/1 mask or ragged (flat 1-D values plus ``offsets`` of length
``B + 1``), float32 or float64. There is no Python loop anywhere: each call is one kernel with
the GIL released.

Drop-in replacements with the exact semantics of the reference stacks live in
``rewardlab.credit.verl``, ``rewardlab.credit.openrlhf`` and ``rewardlab.credit.trl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import numpy as np

from rewardlab import _core
from rewardlab._utils.arrays import check_batch, float_array, like_input, mask_array, offsets_array
from rewardlab.credit.groups import GroupStats, group_codes, group_stats
from rewardlab.errors import invalid

__all__ = [
    "WhitenSpec",
    "VERL_WHITEN",
    "OPENRLHF_WHITEN",
    "gae",
    "discounted_returns",
    "masked_whiten",
    "outcome_advantages",
    "OutcomeAdvantages",
    "grpo",
    "rloo",
    "reinforce_pp_baseline",
    "rredcot",
    "kl_penalty",
    "group_stats",
    "group_codes",
    "GroupStats",
    "set_parallel",
    "release_buffers",
]

MaskedSteps = Literal["carry", "zero"]


@dataclass(frozen=True)
class WhitenSpec:
    """How to whiten over the masked tokens of a batch; each field is a way the stacks differ.

    ``(v - mean) * rsqrt(var + eps)`` (``eps_mode="add"``) or ``rsqrt(max(var, eps))``
    (``"floor"``), with the mean taken as ``sum / (count + count_eps)``.
    """

    unbiased: bool = True
    count_eps: float = 1e-8
    eps: float = 1e-8
    eps_mode: Literal["add", "floor"] = "add"
    shift_mean: bool = True
    remask: bool = False
    #: round count-derived scalars to float32, as torch does for integer/bool masks (verl parity)
    f32_counts: bool = False

    def as_tuple(self) -> tuple[bool, float, bool, float, bool, bool, bool]:
        """The fields in the order the Rust kernels take them."""
        if self.eps_mode not in ("add", "floor"):
            raise invalid("eps_mode", f"expected 'add' or 'floor', got {self.eps_mode!r}")
        return (self.unbiased, float(self.count_eps), self.eps_mode == "floor", float(self.eps), self.shift_mean, self.remask, self.f32_counts)


#: ``verl.utils.torch_functional.masked_whiten``: Bessel, ``rsqrt(var + 1e-8)``, mean over ``count + 1e-8``.
VERL_WHITEN = WhitenSpec()
#: OpenRLHF's advantage normalisation: population variance, ``rsqrt(max(var, 1e-8))``.
OPENRLHF_WHITEN = WhitenSpec(unbiased=False, count_eps=0.0, eps=1e-8, eps_mode="floor")


def set_parallel(on: bool) -> None:
    """Turn the kernels' multi-threading on or off (``RAYON_NUM_THREADS`` caps the threads)."""
    _core.set_parallel(bool(on))


def release_buffers() -> None:
    """Hand back the large freed output blocks the kernels keep for reuse (at most 8 blocks and
    256 MiB; kept so that repeated calls do not page-fault their outputs in again)."""
    _core.release_buffers()


def _spec(whiten: Optional[WhitenSpec]) -> Any:
    if whiten is None:
        return None
    if not isinstance(whiten, WhitenSpec):
        raise invalid("whiten", f"must be a WhitenSpec or None, got {type(whiten).__name__}")
    return whiten.as_tuple()


def _steps(masked_steps: str) -> str:
    if masked_steps not in ("carry", "zero"):
        raise invalid("masked_steps", f"expected 'carry' or 'zero', got {masked_steps!r}")
    return masked_steps


def gae(
    rewards: Any,
    values: Any,
    mask: Any = None,
    *,
    offsets: Any = None,
    gamma: float = 1.0,
    lam: float = 1.0,
    masked_steps: MaskedSteps = "carry",
    whiten: Optional[WhitenSpec] = None,
) -> tuple[Any, Any]:
    """Generalised advantage estimation. Returns ``(advantages, returns)``.

    ``masked_steps="carry"`` skips masked tokens (verl: multi-turn observations keep the running
    state); ``"zero"`` zeroes rewards and values there (OpenRLHF). ``returns`` are
    ``advantages + values`` before whitening; ``whiten`` whitens the advantages over the mask.
    """
    r = float_array(rewards, "rewards")
    off = offsets_array(offsets)
    check_batch(r, "rewards", off)
    v = float_array(values, "values", like=r, like_name="rewards")
    m = mask_array(mask, "mask", r, "rewards")
    adv, ret = _core.gae(r, v, m, off, gamma=float(gamma), lam=float(lam), masked_steps=_steps(masked_steps), whiten=_spec(whiten))
    return like_input(adv, rewards), like_input(ret, rewards)


def discounted_returns(
    rewards: Any,
    mask: Any = None,
    *,
    offsets: Any = None,
    gamma: float = 1.0,
    masked_steps: MaskedSteps = "carry",
) -> Any:
    """Reward-to-go ``G_t = r_t + gamma * G_{t+1}`` per response (REINFORCE / REINFORCE++)."""
    r = float_array(rewards, "rewards")
    off = offsets_array(offsets)
    check_batch(r, "rewards", off)
    m = mask_array(mask, "mask", r, "rewards")
    ret, _ = _core.discounted_returns(r, m, off, gamma=float(gamma), masked_steps=_steps(masked_steps))
    return like_input(ret, rewards)


def masked_whiten(values: Any, mask: Any = None, spec: WhitenSpec = VERL_WHITEN) -> Any:
    """Whiten ``values`` with the mean and variance of the tokens the mask selects."""
    v = float_array(values, "values")
    m = mask_array(mask, "mask", v, "values")
    return like_input(_core.masked_whiten(v, m, _spec(spec)), values)


@dataclass
class OutcomeAdvantages:
    """Token advantages (``[B, T]`` or ragged) and per-response scalars, with what the robust options did."""

    token: Any
    scalar: Any
    report: dict = field(default_factory=dict)


def outcome_advantages(
    token_rewards: Any,
    mask: Any,
    index: Any,
    *,
    estimator: Literal["grpo", "rloo", "mean_baseline"],
    offsets: Any = None,
    epsilon: float = 1e-6,
    scale_by_std: bool = True,
    singleton: Literal["pass", "zero"] = "pass",
    masked_scores: bool = False,
    finite_only: bool = False,
    mask_zero_variance: bool = False,
    exclude_empty: bool = False,
    std_floor: float = 0.0,
    whiten: Optional[WhitenSpec] = None,
) -> OutcomeAdvantages:
    """Group-baselined advantages from one outcome score per response, broadcast over its tokens.

    The score of a response is the sum of its token rewards (over every token, as verl does, or
    over valid tokens only with ``masked_scores``). Groups are keyed by ``index``: any ids
    (strings, ints), any sizes, in any order. ``singleton="pass"`` lets a lone response keep its
    raw score (verl's loops), ``"zero"`` gives it 0.

    Robust options, all off by default: ``finite_only`` leaves NaN/inf scores out of the group
    statistics (their advantage is 0), ``mask_zero_variance`` gives groups of equal scores exactly 0,
    ``exclude_empty`` leaves zero-length responses out of the statistics, ``std_floor`` bounds the
    GRPO denominator from below.
    """
    r = float_array(token_rewards, "token_rewards")
    off = offsets_array(offsets)
    check_batch(r, "token_rewards", off)
    m = mask_array(mask, "mask", r, "token_rewards")
    if m is None:
        raise invalid("mask", "is required (pass an all-ones mask for ragged batches without holes)")
    scores, empty = _core.row_scores(r, m, off, masked=masked_scores)
    codes, n_groups = group_codes(index, scores.shape[0])
    scalars, report = _core.outcome_advantages(
        scores, codes, n_groups, empty,
        estimator=estimator, epsilon=float(epsilon), scale_by_std=scale_by_std, singleton=singleton,
        finite_only=finite_only, mask_zero_variance=mask_zero_variance, exclude_empty=exclude_empty,
        std_floor=float(std_floor),
    )
    token = _core.broadcast_rows(scalars, m, off, whiten=_spec(whiten))
    return OutcomeAdvantages(like_input(token, token_rewards), like_input(scalars, token_rewards), report)


def grpo(token_rewards: Any, mask: Any, index: Any, *, scale_by_std: bool = True, epsilon: float = 1e-6, **robust: Any) -> OutcomeAdvantages:
    """GRPO (``scale_by_std=True``) or Dr.GRPO (``False``) outcome advantages."""
    return outcome_advantages(token_rewards, mask, index, estimator="grpo", scale_by_std=scale_by_std, epsilon=epsilon, **robust)


def rloo(token_rewards: Any, mask: Any, index: Any, **robust: Any) -> OutcomeAdvantages:
    """RLOO: each score minus the mean of the other scores of its group."""
    return outcome_advantages(token_rewards, mask, index, estimator="rloo", **robust)


def reinforce_pp_baseline(token_rewards: Any, mask: Any, index: Any, whiten: WhitenSpec = WhitenSpec(remask=True), **robust: Any) -> OutcomeAdvantages:
    """REINFORCE++-baseline: group-mean baseline, then batch whitening over the mask."""
    return outcome_advantages(token_rewards, mask, index, estimator="mean_baseline", whiten=whiten, **robust)


def rredcot(
    token_rewards: Any,
    mask: Any,
    index: Any = None,
    *,
    offsets: Any = None,
    norm_by_std: bool = True,
    epsilon: float = 1e-6,
) -> Any:
    """Advantages from RREDCoT token rewards (``rewardlab.redistribution.rredcot_token_rewards``).

    The per-token reward-to-go with ``gamma = 1`` over the valid tokens (masked tokens get 0).
    With the default ``mode="last"`` spreading, a token of segment ``k`` gets
    ``Σ_{j >= k} r̃_j = R − V̂(s_k)``: the outcome minus the value of the state before its
    step, so ``V̂`` is the baseline and no group mean is subtracted. (With ``"uniform"`` a token
    also keeps the rest of its own step's reward; ``"broadcast"`` rewards are advantages already.)

    With ``index`` (group ids, as GRPO's) and ``norm_by_std``, every row is divided by
    ``std + epsilon``, the unbiased std of its group's sequence totals ``Σ_t r_t = R − V̂(s_0)``
    (GRPO's scale; a single-response group uses std 1, as GRPO's ``singleton="pass"``).
    Otherwise the reward-to-go is returned as it is.
    """
    r = float_array(token_rewards, "token_rewards")
    off = offsets_array(offsets)
    check_batch(r, "token_rewards", off)
    m = mask_array(mask, "mask", r, "token_rewards")
    if m is None:
        raise invalid("mask", "is required (pass an all-ones mask for ragged batches without holes)")
    rtg, _ = _core.discounted_returns(r, m, off, gamma=1.0, masked_steps="carry")
    if index is None or not norm_by_std:
        return like_input(rtg, token_rewards)
    eps = float(epsilon) if isinstance(epsilon, (int, float, np.number)) else float("nan")
    if not (np.isfinite(eps) and eps >= 0):
        raise invalid("epsilon", f"must be a finite number >= 0, got {epsilon!r}")
    totals, _ = _core.row_scores(r, m, off, masked=True)
    stats = group_stats(totals, index)
    std = stats.std[stats.codes]
    scale = (1.0 / (np.where(np.isnan(std) & (stats.count[stats.codes] == 1), 1.0, std) + eps)).astype(r.dtype)
    rtg *= scale[:, None] if off is None else np.repeat(scale, np.diff(off))
    return like_input(rtg, token_rewards)


def kl_penalty(logprob: Any, ref_logprob: Any, estimator: str = "k3", clamp: Literal["none", "verl", "openrlhf"] = "verl") -> Any:
    """Per-token KL estimate: ``k1``/``kl``, ``abs``, ``k2``/``mse``, ``k3``/``low_var_kl``.

    ``clamp`` picks the reference stack's clamps (verl: k3 only; OpenRLHF: every estimator to ±10).
    """
    lp = float_array(logprob, "logprob")
    rp = float_array(ref_logprob, "ref_logprob", like=lp, like_name="logprob")
    return like_input(_core.kl_penalty(lp, rp, estimator=estimator, clamp=clamp), logprob)
