"""Aggregating an ensemble's scores: ``[K members, N items]`` in, one score per item out.

Every method also returns the members' population standard deviation per item (``ddof=0``),
the ensemble's uncertainty. One Rust kernel with the GIL released does the whole batch.

Methods (``METHODS``):

- ``"mean"``, ``"min"``, ``"max"``, ``"median"``
- ``"quantile"``: ``np.quantile(scores, q, axis=0)`` with numpy's default ``"linear"`` method
- ``"uwo"``: ``mean - lam * std`` (uncertainty-weighted optimisation with a std penalty)
- ``"uwo_var"``: ``mean - lam * var`` (Coste et al.'s original uncertainty-weighted optimisation)
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np

from rewardlab import _core
from rewardlab.errors import invalid

__all__ = ["METHODS", "Aggregated", "aggregate"]

METHODS = ("mean", "min", "max", "median", "quantile", "uwo", "uwo_var")


class Aggregated(NamedTuple):
    """One aggregate score per item and the members' population std per item, both ``[N]``."""

    value: np.ndarray
    std: np.ndarray


def aggregate(scores: Any, method: str = "mean", *, lam: float = 1.0, q: float = 0.5) -> Aggregated:
    """Aggregates ``scores`` of shape ``[K members, N items]`` over the members.

    ``scores`` may be a numpy array, a nested list or a CPU torch tensor; float32 and float64 stay
    as they are (the results have the same dtype), integers become float64. ``lam`` is the penalty
    of ``"uwo"``/``"uwo_var"`` and ``q`` the quantile of ``"quantile"``; each method reads only its
    own parameter. Raises ``InvalidInputError`` for an unknown method, a ``q`` outside [0, 1], a
    non-finite ``lam``, scores that are not 2-D, empty, or not all finite.
    """
    if method not in METHODS:
        raise invalid("method", f"unknown method {method!r}; expected one of {', '.join(map(repr, METHODS))}")
    lam_f, q_f = _scalar(lam, "lam"), _scalar(q, "q")
    a = _scores_array(scores)
    value, std = _core.aggregate(a, method, lam_f, q_f)
    return Aggregated(value, std)


def _scalar(x: Any, arg: str) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise invalid(arg, f"must be a number, got {type(x).__name__}") from None


def _scores_array(scores: Any) -> np.ndarray:
    # a tensor means torch is already imported; importing it here would cost every caller 1.5 s
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(scores, torch.Tensor):
        if scores.device.type != "cpu":
            raise invalid("scores", f"is on {scores.device}; move it to the CPU first")
        if scores.dtype in (torch.float16, torch.bfloat16):
            raise invalid("scores", f"dtype {scores.dtype} is not supported; pass float32, float64 or integers")
        a = scores.detach().numpy()
    else:
        try:
            a = np.asarray(scores)
        except ValueError as e:  # ragged nested lists
            raise invalid("scores", f"is not a rectangular array ({e})") from None
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    elif a.dtype not in (np.float32, np.float64):
        raise invalid("scores", f"dtype {a.dtype} is not supported; pass float32, float64 or integers")
    if a.ndim != 2:
        raise invalid("scores", f"must be 2-D [members, items], got shape {list(a.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise invalid("scores", f"must hold at least one member and one item, got shape {list(a.shape)}")
    # The kernel reads rows in place; views (a transpose, a column slice) are copied once here.
    return np.ascontiguousarray(a)
