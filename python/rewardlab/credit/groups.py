"""Group ids of any kind (verl's uuid strings, ints, tensors) to dense codes, and group statistics."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rewardlab import _core
from rewardlab._utils.arrays import float_array, is_torch
from rewardlab.errors import invalid


def group_codes(index: Any, n: int) -> tuple[np.ndarray, int]:
    """Dense uint32 codes (first-appearance order) and the group count for ``n`` responses."""
    if is_torch(index):
        index = index.detach().cpu().numpy()
    if isinstance(index, np.ndarray) and index.dtype.kind in "iub":
        if index.ndim != 1:
            raise invalid("index", f"must be 1-D, got shape {list(index.shape)}")
        ids: Any = index.astype(np.int64, copy=False)
    else:
        ids = index
    try:
        length = len(ids)
    except TypeError:
        raise invalid("index", f"must be a sequence of group ids, got {type(index).__name__}") from None
    if length != n:
        raise invalid("index", f"has {length} group ids but the batch has {n} responses")
    try:
        codes, n_groups = _core.factorize(ids)
    except ValueError:
        # Hashables other than str/int (tuples, floats): the same first-appearance coding in Python.
        table: dict[Any, int] = {}
        try:
            codes = np.fromiter((table.setdefault(k, len(table)) for k in ids), dtype=np.uint32, count=n)
        except TypeError as e:
            raise invalid("index", f"group ids must be hashable ({e})") from None
        n_groups = len(table)
    return codes, n_groups


class GroupStats(NamedTuple):
    """Per-group statistics, groups in order of first appearance."""

    count: np.ndarray  # type: ignore[assignment]  # uint32; the field shadows tuple.count on purpose
    mean: np.ndarray  # float64
    std: np.ndarray  # float64, Bessel-corrected, NaN for single-member groups
    codes: np.ndarray  # uint32 group code of every response


def group_stats(scores: Any, index: Any) -> GroupStats:
    """Count, mean and unbiased std of ``scores`` per group of ``index`` (any hashable ids)."""
    s = float_array(scores, "scores")
    if s.ndim != 1:
        raise invalid("scores", f"must be 1-D, got shape {list(s.shape)}")
    codes, n_groups = group_codes(index, s.shape[0])
    count, mean, std = _core.group_stats(s, codes, n_groups)
    return GroupStats(count, mean, std, codes)
