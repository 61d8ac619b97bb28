"""Shared plumbing of the torch drop-ins: tensors in, Rust kernel, tensors out, with the dtype
and device the reference function would have produced."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rewardlab.credit._arrays import as_array, float_array, mask_array


def values_np(t: torch.Tensor, arg: str) -> np.ndarray:
    return float_array(t, arg, lenient=True)


def mask_np(t: torch.Tensor, arg: str, like: np.ndarray, like_name: str) -> np.ndarray:
    m = as_array(t, arg, lenient=True)
    if m.dtype == np.float16:
        m = m.astype(np.float32)
    return mask_array(m, arg, like, like_name, lenient=True)


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
