"""Shared plumbing of the torch drop-ins: tensors in, Rust kernel, tensors out, with the dtype
and device the reference function would have produced."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rewardlab._utils.arrays import as_array, float_array, mask_array
from rewardlab.errors import invalid


def values_np(t: torch.Tensor, arg: str) -> np.ndarray:
    return float_array(t, arg, lenient=True)


def padded_np(t: torch.Tensor, arg: str) -> np.ndarray:
    """A ``[batch, response_length]`` float array with batch > 0."""
    a = values_np(t, arg)
    if a.ndim != 2 or a.shape[0] == 0:
        raise invalid(arg, f"must be 2-D [batch, response_length] with batch > 0, got shape {list(a.shape)}")
    return a


def values_like(t: torch.Tensor, arg: str, like: np.ndarray, like_name: str) -> np.ndarray:
    """A float array of ``like``'s shape, cast to ``like``'s dtype (as torch would promote)."""
    a = values_np(t, arg)
    if a.shape != like.shape:
        raise invalid(arg, f"shape {list(a.shape)} does not match {like_name}'s {list(like.shape)}")
    return a.astype(like.dtype, copy=False)


def mask_np(t: torch.Tensor, arg: str, like: np.ndarray, like_name: str) -> np.ndarray:
    m = as_array(t, arg, lenient=True)
    if m.dtype == np.float16:
        m = m.astype(np.float32)
    out = mask_array(m, arg, like, like_name, lenient=True)
    assert out is not None  # a mask was given, so one comes back
    return out


def to_torch(out: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    t = torch.from_numpy(out)
    if t.dtype != dtype:
        t = t.to(dtype)
    if device.type != "cpu":
        t = t.to(device)
    return t


def product_dtype(*tensors: Any) -> torch.dtype:
    """The dtype torch's type promotion gives ``a * b * ...`` (e.g. float32 rewards times an int mask)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype
