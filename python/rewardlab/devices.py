"""Where the neural models run (``--device``) and in which precision (``--dtype``).

Placement is a property of the machine, not of a reward model: a model file names its embedder
(``minilm``, ``lm:PATH``) and the same file is scored on a laptop's CPU or a cluster's GPU. So a
process has a default placement, set once by the CLI from ``--device``/``--dtype`` (or by
:func:`set_default`, as ``torch.set_default_device`` does for torch), and every constructor that
loads a model also takes ``device=``/``dtype=`` explicitly (:func:`rewardlab.embed.get_embedder`,
``LMJudge.load``, ``PrefixLM.load``, ``TrainConfig.device``).

- ``device``: ``auto`` (CUDA when ``torch.cuda.is_available()``, else CPU), ``cpu``, ``cuda``,
  ``cuda:N`` or ``mps``. One that is not there is refused, naming what is.
- ``dtype``: ``auto``, ``float32``, ``bfloat16`` or ``float16`` for the frozen models (embedders,
  judge, prefix LM). ``auto`` is float32 on the CPU (bfloat16 matmuls are several times slower
  on most CPUs: measured in examples/grpo_with_rewardlab.py) and bfloat16 on CUDA where the GPU
  supports it (float16 otherwise, and on MPS). Reward heads always train and score in float32.

Nothing here imports torch until a placement other than ``cpu`` must be checked or resolved, so
``rewardlab --help`` and the numpy-only paths stay light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rewardlab.errors import invalid

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Placement:
    """A device and dtype as the user wrote them (``auto`` resolved lazily, on first use)."""

    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int | None = None  # padded tokens per embedding batch (None: rewardlab.embed's default)


_default = Placement()


def check_device(spec: str, arg: str = "device") -> str:
    """``spec`` if it names a device form rewardlab knows (no torch import; availability is
    :func:`resolve_device`'s)."""
    if not isinstance(spec, str) or not _DEVICE_RE.match(spec):
        raise invalid(arg, f"expected one of {', '.join(DEVICES)}, got {spec!r}")
    return spec


def check_dtype(spec: str, arg: str = "dtype") -> str:
    if spec not in DTYPES:
        raise invalid(arg, f"expected one of {', '.join(DTYPES)}, got {spec!r}")
    return spec


def available() -> list[str]:
    """The devices this process can use, e.g. ``['cpu', 'cuda:0', 'cuda:1']``."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_device(spec: Any = None, arg: str = "device") -> Any:
    """The ``torch.device`` that ``spec`` (None: the process default) names, checked to exist; a
    ``torch.device`` (already resolved) is returned as it is."""
    import torch

    if isinstance(spec, torch.device):
        return spec
    spec = check_device(_default.device if spec is None else spec, arg)
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    have = available()
    if spec == "mps":
        if "mps" not in have:
            raise invalid(arg, f"mps is not available here (torch.backends.mps.is_available() is False); available: {', '.join(have)}")
        return torch.device("mps")
    if not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "torch.cuda.is_available() is False"
        raise invalid(arg, f"{spec} is not available here ({why}); available: {', '.join(have)}")
    index = int(spec.split(":")[1]) if ":" in spec else 0
    if index >= torch.cuda.device_count():
        raise invalid(arg, f"{spec} is not available here ({torch.cuda.device_count()} CUDA device(s)); available: {', '.join(have)}")
    return torch.device(f"cuda:{index}")


def resolve_dtype(spec: Any = None, device: Any = None, arg: str = "dtype") -> Any:
    """The ``torch.dtype`` for a frozen model on ``device`` (a resolved ``torch.device``); a
    ``torch.dtype`` is returned as it is."""
    import torch

    if isinstance(spec, torch.dtype):
        return spec
    spec = check_dtype(_default.dtype if spec is None else spec, arg)
    kind = "cpu" if device is None else torch.device(device).type
    if spec == "auto":
        if kind == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if kind == "mps" else torch.float32
    if spec == "bfloat16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise invalid(arg, f"bfloat16 is not supported by {torch.cuda.get_device_name(device)}; use float16 or float32")
    return getattr(torch, spec)


def resolve(device: Any = None, dtype: Any = None) -> tuple[Any, Any]:
    """``(torch.device, torch.dtype)`` of ``device``/``dtype``: names, torch objects, or None for
    the process default."""
    dev = resolve_device(device)
    return dev, resolve_dtype(dtype, dev)


def set_default(device: str = "auto", dtype: str = "auto", batch_tokens: int | None = None) -> Placement:
    """Sets the placement of models built without an explicit ``device``/``dtype`` (and the
    padded-token budget of embedding batches: a GPU wants more than the CPU's default); checks
    that the device exists now (a typo or a missing GPU fails before any data is read)."""
    global _default
    if batch_tokens is not None and (not isinstance(batch_tokens, int) or batch_tokens < 1):
        raise invalid("max_batch_tokens", f"must be a positive integer, got {batch_tokens!r}")
    placement = Placement(check_device(device), check_dtype(dtype), batch_tokens)
    if placement.device not in ("auto", "cpu"):
        resolve_device(placement.device)
    _default = placement
    return placement


def restore(placement: Placement) -> None:
    """Puts back a placement :func:`default` returned (no checks: it was checked when set)."""
    global _default
    _default = placement


def default() -> Placement:
    """The process's placement (``auto``/``auto`` unless set)."""
    return _default


def dtype_tag(dtype: Any) -> str:
    """What an embedder's id gains for a precision other than float32 (vectors differ by ~1e-2,
    so they must not share cache rows); empty for float32, so CPU caches keep their keys."""
    name = str(dtype).removeprefix("torch.")
    return "" if name == "float32" else f"|{name}"


__all__ = ["DEVICES", "DTYPES", "Placement", "available", "check_device", "check_dtype", "default",
           "dtype_tag", "resolve", "resolve_device", "resolve_dtype", "restore", "set_default"]
