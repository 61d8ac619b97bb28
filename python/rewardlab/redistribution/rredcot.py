"""Segment-level reward redistribution (RREDCoT): split responses into reasoning steps, estimate
the value of every step prefix by importance sampling over already sampled completions, and turn
the verifier reward into return-equivalent step rewards placed on tokens.

    r̃_k = V̂(s_k) − V̂(s_{k−1}) (k < K),   r̃_K = R − V̂(s_{K−1}),   Σ_k r̃_k = R − V̂(s_0)

Every function takes numpy arrays or CPU torch tensors and returns the same kind (float32 or
float64 kept), token batches either padded ``[B, T]`` (valid tokens left-aligned, optional
``lengths`` ``[B]``) or ragged (flat ``[N]`` plus ``offsets`` ``[B + 1]``). Each call is one
Rust kernel with the GIL released; there is no Python loop over rows. Segment boundaries are
:class:`Segments` of int64 numpy arrays whatever the input kind. See docs/redistribution.md.

Typical use (GRPO rollouts; ``log_pi[k, m]`` from teacher-forced passes after each prefix)::

    seg = segment(tokens, lengths=lengths, delimiters=[newline_id], min_len=16, max_len=512)
    # per row b and segment k: state s_k = prompt + response[:seg.starts()[k]]
    log_v = log_value_is(log_pi, log_q, utility)               # [S_total]
    rewards = rredcot_token_rewards(np.exp(log_v), outcome, seg, shape=tokens.shape)
    adv = rewardlab.credit.rredcot(rewards, mask, index=uids)   # reward-to-go, group std scale
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional, Sequence

import numpy as np

from rewardlab import _core
from rewardlab._utils.arrays import as_array, float_array, is_torch, like_input, offsets_array
from rewardlab.errors import invalid

__all__ = [
    "Segments",
    "segment",
    "segments_from_boundaries",
    "sequence_logprob",
    "log_value_is",
    "value_is",
    "redistribute",
    "spread_to_tokens",
    "rredcot_token_rewards",
]

SpreadMode = Literal["last", "uniform", "broadcast"]
_MODES = ("last", "uniform", "broadcast")


def _ints(x: Any, arg: str, *, ndim: Optional[int] = 1, strict: bool = False) -> np.ndarray:
    """An int64 numpy array from an integer numpy array, CPU torch tensor or (unless ``strict``:
    token batches must be arrays) a sequence of ints. Other integer dtypes are converted."""
    if strict or is_torch(x) or isinstance(x, np.ndarray):
        a = as_array(x, arg, lenient=not strict)
    else:
        try:
            a = np.asarray(x)
        except (TypeError, ValueError) as e:
            raise invalid(arg, f"must be an integer array, got {type(x).__name__} ({e})") from None
        if a.size == 0:
            a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise invalid(arg, f"must hold integers, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise invalid(arg, f"must be {ndim}-D, got shape {list(a.shape)}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _count(x: Any, arg: str, low: int) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise invalid(arg, f"must be an integer, got {type(x).__name__}")
    if x < low:
        raise invalid(arg, f"must be at least {low}, got {x}")
    return int(x)


def _mode(mode: str) -> str:
    if mode not in _MODES:
        raise invalid("mode", f"expected 'last', 'uniform' or 'broadcast', got {mode!r}")
    return mode


@dataclass(frozen=True)
class Segments:
    """Segment boundaries of a batch: row ``b`` owns ``ends[offsets[b]:offsets[b + 1]]``.

    ``ends`` (int64 ``[S_total]``) are exclusive, relative to the row start, strictly
    increasing, the last one equal to the row's valid length; ``offsets`` (int64 ``[B + 1]``)
    start at 0 and end at ``S_total``. A row of length 0 has no segment. Per-segment arrays
    (state values ``V̂(s_0..s_{K−1})``, segment rewards) share ``offsets``.
    """

    ends: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "ends", _ints(self.ends, "ends"))
        object.__setattr__(self, "offsets", _ints(self.offsets, "offsets"))

    @property
    def rows(self) -> int:
        """Number of rows (responses)."""
        return max(int(self.offsets.shape[0]) - 1, 0)

    @property
    def total(self) -> int:
        """Number of segments over all rows."""
        return int(self.ends.shape[0])

    def counts(self) -> np.ndarray:
        """Segments per row, ``[B]``."""
        return np.diff(self.offsets)

    def starts(self) -> np.ndarray:
        """Start of every segment (0, then the previous end), laid out like ``ends``: the
        response-prefix length of state ``s_k``, for the teacher-forced passes."""
        out = np.empty_like(self.ends)
        if out.size:
            out[1:] = self.ends[:-1]
            first = self.offsets[:-1][self.counts() > 0]
            out[first] = 0
        return out

    def row_lengths(self) -> np.ndarray:
        """Valid length of every row (its last end, 0 for a row without segments), ``[B]``."""
        n = self.counts()
        out = np.zeros(n.shape[0], dtype=np.int64)
        has = n > 0
        out[has] = self.ends[self.offsets[1:][has] - 1]
        return out


def _as_segments(segments: Any) -> Segments:
    if not isinstance(segments, Segments):
        raise invalid("segments", f"must be a Segments (from segment() or segments_from_boundaries()), got {type(segments).__name__}")
    return segments


def segment(
    tokens: Any = None,
    *,
    entropy: Any = None,
    lengths: Any = None,
    offsets: Any = None,
    delimiters: Sequence[int] | Any = (),
    threshold: Optional[float] = None,
    min_len: int = 1,
    max_len: int = 0,
) -> Segments:
    """Split every response into reasoning steps.

    - ``tokens`` and ``delimiters`` only: a delimiter token ends the segment containing it.
    - ``entropy`` and ``threshold`` only: a token with entropy ``> threshold`` starts a segment.
    - all of them: both rules (the paper's hybrid keyword-entropy segmentation).

    ``tokens`` (integer ids) and ``entropy`` (float32/float64) are padded ``[B, T]`` or flat
    ``[N]`` with ``offsets`` ``[B + 1]``, and share their shape when both are given. ``lengths``
    ``[B]`` gives each row's valid, left-aligned prefix (padding is never read). Then segments
    shorter than ``min_len`` merge forward (a short last one backward) and segments longer than
    ``max_len`` (0: no limit) are split into ``max_len`` chunks. Empty ``delimiters`` with tokens
    and no threshold give one segment per row (split by ``max_len`` only).
    """
    d = _ints(delimiters, "delimiters")
    min_len = _count(min_len, "min_len", 1)
    max_len = _count(max_len, "max_len", 0)
    if threshold is not None:
        if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)):
            raise invalid("threshold", f"must be a number, got {type(threshold).__name__}")
        threshold = float(threshold)
        if entropy is None:
            raise invalid("entropy", "is required when a threshold is given")
    elif entropy is not None:
        raise invalid("threshold", "is required when entropy is given (tokens with entropy above it start a segment)")
    if tokens is None and d.size:
        raise invalid("tokens", "are required when delimiters are given")
    if tokens is None and entropy is None:
        raise invalid("tokens", "nothing to segment: give tokens with delimiters, entropy with a threshold, or both")
    off = offsets_array(offsets)
    ln = None if lengths is None else _ints(lengths, "lengths")
    tok = None
    if tokens is not None and (threshold is None or d.size):
        tok = _ints(tokens, "tokens", ndim=None, strict=True)
        _check_tokens(tok, "tokens", off)
    ent = None
    if entropy is not None:
        ent = float_array(entropy, "entropy")
        _check_tokens(ent, "entropy", off)
        if tok is not None and tok.shape != ent.shape:
            raise invalid("entropy", f"shape {list(ent.shape)} does not match tokens' {list(tok.shape)}")
    ends, seg_off = _core.segment(tok, ent, ln, off, delimiters=d, threshold=threshold, min_len=min_len, max_len=max_len)
    return Segments(ends, seg_off)


def _check_tokens(a: np.ndarray, arg: str, offsets: Optional[np.ndarray]) -> None:
    if offsets is None:
        if a.ndim != 2:
            raise invalid(arg, f"must be 2-D [batch, tokens] (or 1-D with offsets), got shape {list(a.shape)}")
    elif a.ndim != 1:
        raise invalid(arg, f"must be 1-D flat tokens when offsets are given, got shape {list(a.shape)}")


def segments_from_boundaries(ends: Any, offsets: Any, row_lengths: Any) -> Segments:
    """Validated user-given boundaries: row ``b`` owns ``ends[offsets[b]:offsets[b + 1]]``,
    positive and strictly increasing, the last equal to ``row_lengths[b]`` (none when it is 0)."""
    e, o, n = _ints(ends, "ends"), _ints(offsets, "offsets"), _ints(row_lengths, "row_lengths")
    ends_out, off_out = _core.segments_from_boundaries(e, o, n)
    return Segments(ends_out, off_out)


def sequence_logprob(token_logp: Any, *, lengths: Any = None, offsets: Any = None) -> Any:
    """``log π(c|s)`` per row: the sum of token log-probabilities over the valid prefix
    (``lengths``, or the whole row), accumulated in float64. Returns ``[B]``."""
    x = float_array(token_logp, "token_logp")
    off = offsets_array(offsets)
    _check_tokens(x, "token_logp", off)
    ln = None if lengths is None else _ints(lengths, "lengths")
    return like_input(_core.sequence_logprob(x, ln, off), token_logp)


def _is_inputs(log_pi: Any, log_q: Any, utility: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lp = float_array(log_pi, "log_pi")
    if lp.ndim != 2:
        raise invalid("log_pi", f"must be 2-D [states, completions], got shape {list(lp.shape)}")
    lq = float_array(log_q, "log_q")
    if lq.dtype != lp.dtype:
        raise invalid("log_q", f"dtype {lq.dtype} does not match log_pi's {lp.dtype}")
    u = float_array(utility, "utility")
    if u.dtype != lp.dtype:
        raise invalid("utility", f"dtype {u.dtype} does not match log_pi's {lp.dtype}")
    return lp, lq, u


def log_value_is(log_pi: Any, log_q: Any, utility: Any) -> Any:
    """``log V̂(s)`` per state, ``V̂(s) = (1/M) Σ_m exp(log_pi[s, m] − log_q[m]) · utility[m]``.

    ``log_pi`` ``[S, M]``: ``log π(c_m | s)`` (``-inf`` = impossible from ``s``);
    ``log_q`` ``[M]`` or ``[S, M]``: the proposal's log-probabilities, finite; ``utility``
    ``[M]``: finite and ``>= 0``. Computed in float64 as a max-shifted log-sum-exp, so sequence
    log-probabilities of −1e5 neither underflow nor give NaN; a state whose terms are all zero
    gets ``-inf``. Returns ``[S]`` in the dtype of ``log_pi``.
    """
    lp, lq, u = _is_inputs(log_pi, log_q, utility)
    return like_input(_core.log_value_is(lp, lq, u), log_pi)


def value_is(log_pi: Any, log_q: Any, utility: Any) -> Any:
    """``V̂(s) = exp(log_value_is(...))``: 0 below the float range, ``+inf`` above it."""
    lp, lq, u = _is_inputs(log_pi, log_q, utility)
    return like_input(_core.value_is(lp, lq, u), log_pi)


def redistribute(values: Any, seg_offsets: Any, outcome: Any) -> Any:
    """Segment rewards from state values: per row, ``values[k] = V̂(s_k)`` for its ``K``
    segments (laid out by ``seg_offsets``, or a :class:`Segments`' offsets) and one outcome
    ``R``; ``r̃[k] = V̂(s_{k+1}) − V̂(s_k)``, the last ``R − V̂(s_{K−1})``. Returns ``r̃`` laid
    out like ``values``; each row sums to ``R − V̂(s_0)``. A row without segments has no output."""
    v = float_array(values, "values")
    if v.ndim != 1:
        raise invalid("values", f"must be 1-D (one per segment), got shape {list(v.shape)}")
    so = seg_offsets.offsets if isinstance(seg_offsets, Segments) else _ints(seg_offsets, "seg_offsets")
    o = float_array(outcome, "outcome")
    if o.dtype != v.dtype:
        raise invalid("outcome", f"dtype {o.dtype} does not match values' {v.dtype}")
    return like_input(_core.redistribute(v, so, o), values)


def _out_layout(shape: Any, offsets: Any) -> tuple[Optional[tuple[int, int]], Optional[np.ndarray]]:
    if shape is not None and offsets is not None:
        raise invalid("offsets", "give either shape (padded [B, T] output) or offsets (flat output), not both")
    if shape is None and offsets is None:
        raise invalid("shape", "give shape=(B, T) for a padded output or offsets= for a flat one")
    if shape is not None:
        try:
            dims = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise invalid("shape", f"must be a pair (B, T) of integers, got {shape!r}") from None
        if len(dims) != 2 or min(dims) < 0:
            raise invalid("shape", f"must be a pair (B, T) of non-negative integers, got {shape!r}")
        return dims, None
    return None, offsets_array(offsets)


def spread_to_tokens(
    segment_rewards: Any,
    segments: Segments,
    *,
    shape: Any = None,
    offsets: Any = None,
    mode: SpreadMode = "last",
) -> Any:
    """Token rewards from one reward per segment, padded ``shape = (B, T)`` or flat with
    ``offsets`` ``[B + 1]``; positions after a row's last segment get 0.

    ``mode``: ``"last"`` puts the reward on the segment's last token (a sparse, return-based
    reward), ``"uniform"`` puts ``r̃ / length`` on each token (token sums = segment sums),
    ``"broadcast"`` puts ``r̃`` on every token (advantage-style).
    """
    seg = _as_segments(segments)
    r = float_array(segment_rewards, "segment_rewards")
    if r.ndim != 1:
        raise invalid("segment_rewards", f"must be 1-D (one per segment), got shape {list(r.shape)}")
    dims, off = _out_layout(shape, offsets)
    out = _core.spread_to_tokens(r, seg.ends, seg.offsets, dims, off, mode=_mode(mode))
    return like_input(out, segment_rewards)


def rredcot_token_rewards(
    values: Any,
    outcome: Any,
    segments: Segments,
    *,
    shape: Any = None,
    offsets: Any = None,
    mode: SpreadMode = "last",
) -> Any:
    """:func:`redistribute` then :func:`spread_to_tokens` in one kernel call: token rewards
    ``[B, T]`` (``shape``) or flat (``offsets``) from the state values ``V̂(s_0..s_{K−1})`` of
    every row (laid out by ``segments.offsets``) and the outcomes ``R`` ``[B]``.

    With ``mode="last"`` (the default), :func:`rewardlab.credit.rredcot` turns them into
    advantages ``R − V̂(s_k)`` for every token of segment ``k``.
    """
    seg = _as_segments(segments)
    v = float_array(values, "values")
    if v.ndim != 1:
        raise invalid("values", f"must be 1-D (one per segment), got shape {list(v.shape)}")
    o = float_array(outcome, "outcome")
    if o.dtype != v.dtype:
        raise invalid("outcome", f"dtype {o.dtype} does not match values' {v.dtype}")
    dims, off = _out_layout(shape, offsets)
    out = _core.rredcot_token_rewards(v, o, seg.ends, seg.offsets, dims, off, mode=_mode(mode))
    return like_input(out, values)
