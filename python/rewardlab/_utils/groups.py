"""Candidate groups (one per prompt) as padded ``[P, N]`` arrays or flat values + offsets."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.errors import invalid


def as_f64(x: Any, arg: str) -> np.ndarray:
    try:
        a = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise invalid(arg, f"must be numeric ({err})") from None
    return a


def groups(rewards: Any, offsets: Any | None) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 rewards and int64 offsets, checked for the layout the kernels accept."""
    r = as_f64(rewards, "rewards")
    if offsets is None:
        if r.ndim != 2:
            raise invalid("rewards", f"must be 2-D [prompts, candidates] or 1-D with offsets, got shape {r.shape}")
        return r, None
    try:
        raw = np.asarray(offsets)
    except (TypeError, ValueError) as err:
        raise invalid("offsets", f"must be a 1-D array of integers ({err})") from None
    if raw.dtype.kind not in "iu":  # a float offset such as 1.7 would be truncated silently
        raise invalid("offsets", f"must be integers (group starts), got dtype {raw.dtype}")
    off = np.ascontiguousarray(raw, dtype=np.int64)
    if r.ndim != 1 or off.ndim != 1:
        raise invalid("offsets", "with offsets, rewards must be 1-D (flat candidates) and offsets 1-D")
    return r, off


def group_index(r: np.ndarray, off: np.ndarray | None) -> np.ndarray:
    """Group number of every candidate (flat order)."""
    if off is None:
        return np.repeat(np.arange(r.shape[0]), r.shape[1])
    return np.repeat(np.arange(len(off) - 1), np.diff(off))
