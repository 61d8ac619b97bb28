"""Type stubs of the native module. Users import ``rewardlab``, never ``_core``."""

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "InvalidInputError",
    "__version__",
    "aggregate",
    "best_of_n",
    "broadcast_rows",
    "build_profile",
    "discounted_returns",
    "factorize",
    "first_token_features",
    "gae",
    "gate_calibrate",
    "gate_route",
    "gate_sweep",
    "group_moments",
    "group_normalize",
    "group_stats",
    "is_parallel",
    "kl_penalty",
    "log_value_is",
    "masked_moments",
    "masked_whiten",
    "outcome_advantages",
    "pairwise_agreement",
    "place_outcome_reward",
    "redistribute",
    "release_buffers",
    "row_scores",
    "rredcot_token_rewards",
    "segment",
    "segments_from_boundaries",
    "sequence_logprob",
    "set_parallel",
    "shape_rewards",
    "spread_to_tokens",
    "stackelberg_thresholds",
    "tilted_expectation",
    "tilted_probabilities",
    "value_is",
]

__version__: str

class InvalidInputError(ValueError): ...

# (unbiased, count_eps, var_eps_is_floor, var_eps, shift_mean, remask, f32_counts)
_Spec = Tuple[bool, float, bool, float, bool, bool, bool]

def build_profile() -> str: ...
def set_parallel(on: bool) -> None: ...
def is_parallel() -> bool: ...
def release_buffers() -> None: ...
def gae(
    rewards: npt.NDArray[Any],
    values: npt.NDArray[Any],
    mask: Optional[npt.NDArray[Any]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    gamma: float,
    lam: float,
    masked_steps: str,
    whiten: Optional[_Spec] = None,
) -> Tuple[npt.NDArray[Any], npt.NDArray[Any]]: ...
def discounted_returns(
    rewards: npt.NDArray[Any],
    mask: Optional[npt.NDArray[Any]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    gamma: float,
    masked_steps: str,
    whiten: Optional[_Spec] = None,
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]]]: ...
def masked_whiten(values: npt.NDArray[Any], mask: Optional[npt.NDArray[Any]], spec_tuple: _Spec) -> npt.NDArray[Any]: ...
def masked_moments(values: npt.NDArray[Any], mask: Optional[npt.NDArray[Any]] = None) -> Tuple[float, float, float]: ...
def row_scores(
    token_rewards: npt.NDArray[Any],
    mask: Optional[npt.NDArray[Any]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    masked: bool = False,
) -> Tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]: ...
def factorize(ids: Any) -> Tuple[npt.NDArray[np.uint32], int]: ...
def group_stats(
    scores: npt.NDArray[Any], codes: npt.NDArray[np.uint32], n_groups: int
) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def outcome_advantages(
    scores: npt.NDArray[Any],
    codes: npt.NDArray[np.uint32],
    n_groups: int,
    empty: Optional[npt.NDArray[np.bool_]] = None,
    *,
    estimator: str,
    epsilon: float = 1e-6,
    scale_by_std: bool = True,
    singleton: str = "pass",
    finite_only: bool = False,
    mask_zero_variance: bool = False,
    exclude_empty: bool = False,
    std_floor: float = 0.0,
) -> Tuple[npt.NDArray[Any], dict[str, int]]: ...
def group_normalize(
    rewards_per_func: npt.NDArray[Any],
    reward_weights: list[float],
    num_generations: int,
    scale_rewards: str,
    multi_objective_aggregation: str,
) -> Tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]: ...
def broadcast_rows(
    scalars: npt.NDArray[Any],
    mask: npt.NDArray[Any],
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    whiten: Optional[_Spec] = None,
) -> npt.NDArray[Any]: ...
def kl_penalty(logprob: npt.NDArray[Any], ref_logprob: npt.NDArray[Any], *, estimator: str, clamp: str) -> npt.NDArray[Any]: ...
def place_outcome_reward(
    r: npt.NDArray[Any],
    kl: npt.NDArray[Any],
    action_mask: npt.NDArray[Any],
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    kl_coef: float,
    clip: Optional[Tuple[float, float]] = None,
) -> npt.NDArray[Any]: ...

# ensemble: C-contiguous [K, N] float32/float64 scores -> (aggregate [N], population std [N]) in that dtype
def aggregate(scores: npt.NDArray[Any], method: str, lam: float, q: float) -> Tuple[npt.NDArray[Any], npt.NDArray[Any]]: ...

# shaping / inference-time alignment: float64 rewards [P, N] (or flat [T] with int64 offsets [P+1])
def stackelberg_thresholds(
    rewards: npt.NDArray[Any],
    offsets: Optional[npt.NDArray[Any]] = None,
    base_weights: Optional[npt.NDArray[Any]] = None,
    *,
    b: float,
    beta: float,
    exponent_cap: Optional[float] = None,
    range_factor: Optional[float] = None,
) -> Tuple[npt.NDArray[Any], npt.NDArray[Any]]: ...
def shape_rewards(
    rewards: npt.NDArray[Any], m: npt.NDArray[Any], b: npt.NDArray[Any], offsets: Optional[npt.NDArray[Any]] = None, *, alpha: float, hard: bool
) -> npt.NDArray[Any]: ...
def tilted_probabilities(
    rewards: npt.NDArray[Any], offsets: Optional[npt.NDArray[Any]] = None, base_weights: Optional[npt.NDArray[Any]] = None, *, beta: float
) -> npt.NDArray[Any]: ...
def tilted_expectation(
    rewards: npt.NDArray[Any],
    utilities: npt.NDArray[Any],
    offsets: Optional[npt.NDArray[Any]] = None,
    base_weights: Optional[npt.NDArray[Any]] = None,
    *,
    beta: float,
) -> npt.NDArray[Any]: ...
def best_of_n(rewards: npt.NDArray[Any], offsets: Optional[npt.NDArray[Any]] = None) -> npt.NDArray[Any]: ...

# teacher diagnostics: float64 rewards [P, N] (or flat [T] with int64 offsets [P+1])
def group_moments(
    rewards: npt.NDArray[Any], offsets: Optional[npt.NDArray[Any]] = None, *, ddof: int
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]: ...
def pairwise_agreement(
    rewards: npt.NDArray[Any], gold: npt.NDArray[Any], offsets: Optional[npt.NDArray[Any]] = None
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint64]]: ...

# RREDCoT redistribution: int64 token ids / ends / offsets, float32/float64 values (output in that dtype)
def segment(
    tokens: Optional[npt.NDArray[np.int64]] = None,
    entropy: Optional[npt.NDArray[Any]] = None,
    lengths: Optional[npt.NDArray[np.int64]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    delimiters: npt.NDArray[np.int64],
    threshold: Optional[float] = None,
    min_len: int = 1,
    max_len: int = 0,
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def segments_from_boundaries(
    ends: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], row_lengths: npt.NDArray[np.int64]
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def sequence_logprob(
    token_logp: npt.NDArray[Any], lengths: Optional[npt.NDArray[np.int64]] = None, offsets: Optional[npt.NDArray[np.int64]] = None
) -> npt.NDArray[Any]: ...
def log_value_is(log_pi: npt.NDArray[Any], log_q: npt.NDArray[Any], utility: npt.NDArray[Any]) -> npt.NDArray[Any]: ...
def value_is(log_pi: npt.NDArray[Any], log_q: npt.NDArray[Any], utility: npt.NDArray[Any]) -> npt.NDArray[Any]: ...
def redistribute(values: npt.NDArray[Any], seg_offsets: npt.NDArray[np.int64], outcome: npt.NDArray[Any]) -> npt.NDArray[Any]: ...
def spread_to_tokens(
    segment_rewards: npt.NDArray[Any],
    seg_ends: npt.NDArray[np.int64],
    seg_offsets: npt.NDArray[np.int64],
    shape: Optional[Tuple[int, int]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    mode: str,
) -> npt.NDArray[Any]: ...
def rredcot_token_rewards(
    values: npt.NDArray[Any],
    outcome: npt.NDArray[Any],
    seg_ends: npt.NDArray[np.int64],
    seg_offsets: npt.NDArray[np.int64],
    shape: Optional[Tuple[int, int]] = None,
    offsets: Optional[npt.NDArray[np.int64]] = None,
    *,
    mode: str,
) -> npt.NDArray[Any]: ...

# fast-slow gate: logits float32/float64 [rows, vocab]; confidences and token counts float64 [n]
def first_token_features(
    logits: npt.NDArray[Any], verdict_ids: Sequence[int]
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def gate_route(
    c1: npt.NDArray[np.float64], c2: Optional[npt.NDArray[np.float64]] = None, *, tau1: float, tau2: float
) -> npt.NDArray[np.bool_]: ...
def gate_calibrate(
    c1: npt.NDArray[np.float64],
    c2: Optional[npt.NDArray[np.float64]] = None,
    *,
    slow_count: Optional[int] = None,
    fast_tokens: Optional[npt.NDArray[np.float64]] = None,
    slow_tokens: Optional[npt.NDArray[np.float64]] = None,
    token_budget: Optional[float] = None,
) -> Tuple[float, float, int, float]: ...
def gate_sweep(
    c1: npt.NDArray[np.float64],
    c2: npt.NDArray[np.float64],
    gain: npt.NDArray[np.float64],
    slow_tokens: npt.NDArray[np.float64],
    tau1: npt.NDArray[np.float64],
    tau2: npt.NDArray[np.float64],
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
