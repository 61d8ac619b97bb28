"""Moving arrays between numpy/torch and the Rust kernels without copies.

Two policies:
- ``strict`` (the native ``rewardlab.credit`` API): values must already be C-contiguous
  float32/float64 arrays; anything else is an ``InvalidInputError`` naming the argument, so no
  copy ever hides in a hot path.
- ``lenient`` (the verl/OpenRLHF/TRL drop-ins): accept whatever the reference function accepts
  (non-contiguous views, CUDA tensors, integer masks) and copy only where the reference would.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from rewardlab.errors import invalid

try:  # torch is optional for the numpy API
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MASK_DTYPES = {np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float32, np.float64)}


def is_torch(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _torch_to_numpy(x: "torch.Tensor", arg: str, lenient: bool) -> np.ndarray:
    # is_cpu, not device.type: building the device object costs more than the rest of the checks
    if not x.is_cpu:
        if not lenient:
            raise invalid(arg, f"is on {x.device}; move it to the CPU first")
        x = x.cpu()
    if x.requires_grad:
        x = x.detach()
    if not x.is_contiguous():
        if not lenient:
            raise invalid(arg, "must be contiguous (call .contiguous())")
        x = x.contiguous()
    if x.dtype in (torch.float16, torch.bfloat16):
        if not lenient:
            raise invalid(arg, f"dtype {x.dtype} is not supported; pass float32 or float64")
        x = x.float()
    return x.numpy()


def as_array(x: Any, arg: str, *, lenient: bool = False) -> np.ndarray:
    """A numpy view of ``x`` (numpy array or CPU torch tensor)."""
    if is_torch(x):
        return _torch_to_numpy(x, arg, lenient)
    if isinstance(x, np.ndarray):
        if not x.flags.c_contiguous:
            if not lenient:
                raise invalid(arg, "must be C-contiguous (call np.ascontiguousarray)")
            x = np.ascontiguousarray(x)
        return x
    if lenient:
        return np.ascontiguousarray(np.asarray(x))
    raise invalid(arg, f"must be a numpy array or a torch tensor, got {type(x).__name__}")


def float_array(x: Any, arg: str, *, lenient: bool = False, like: Optional[np.ndarray] = None, like_name: str = "") -> np.ndarray:
    a = as_array(x, arg, lenient=lenient)
    if a.dtype not in FLOATS:
        if not lenient or a.dtype.kind not in "fiub":
            raise invalid(arg, f"dtype {a.dtype} is not supported; pass float32 or float64")
        a = a.astype(np.float32)
    if like is not None:
        if a.shape != like.shape:
            raise invalid(arg, f"shape {list(a.shape)} does not match {like_name}'s {list(like.shape)}")
        if a.dtype != like.dtype:
            if not lenient:
                raise invalid(arg, f"dtype {a.dtype} does not match {like_name}'s {like.dtype}")
            a = a.astype(like.dtype)
    return a


def mask_array(x: Any, arg: str, like: np.ndarray, like_name: str, *, lenient: bool = False) -> Optional[np.ndarray]:
    if x is None:
        return None
    a = as_array(x, arg, lenient=lenient)
    if a.shape != like.shape:
        raise invalid(arg, f"shape {list(a.shape)} does not match {like_name}'s {list(like.shape)}")
    if a.dtype not in MASK_DTYPES:
        raise invalid(arg, f"dtype {a.dtype} is not supported for a mask; use bool, an integer or a float 0/1 array")
    return a


def offsets_array(x: Any) -> Optional[np.ndarray]:
    if x is None:
        return None
    a = as_array(x, "offsets", lenient=True)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise invalid("offsets", f"must be a 1-D integer array of B + 1 row starts, got shape {list(a.shape)} dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def check_batch(a: np.ndarray, arg: str, offsets: Optional[np.ndarray]) -> None:
    """Shape checks that read better here than in the kernel's generic message."""
    if offsets is None:
        if a.ndim != 2:
            raise invalid(arg, f"must be 2-D [batch, tokens] (or 1-D with offsets), got shape {list(a.shape)}")
        if a.shape[0] == 0:
            raise invalid(arg, "batch is empty (shape[0] == 0)")
    elif a.ndim != 1:
        raise invalid(arg, f"must be 1-D flat tokens when offsets are given, got shape {list(a.shape)}")


def like_input(out: np.ndarray, template: Any) -> Any:
    """Returns ``out`` as the same kind of array as ``template`` (torch in, torch out)."""
    if is_torch(template):
        t = torch.from_numpy(out)
        if template.device.type != "cpu":
            t = t.to(template.device)
        return t
    return out
