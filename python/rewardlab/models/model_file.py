"""The on-disk format of a reward model: written atomically as a whole, read as untrusted input.

A model folder holds ``rewardlab_model.json`` (format marker, version, per-member embedder, head
shape, score normalisation, training record, and the name and SHA-256 of its weights file) and
``weights-<hash>.safetensors`` (tensors named ``member{i}.{param}``).

Saving writes the new weights under a new name first and then replaces the config in one rename:
a crash at any point leaves either the old model or the new one, never new weights read with an
old config. Stale weight files are removed only after the new config is in place.

Loading trusts nothing in the folder: the config is size-capped and must be a regular file, every
field is type- and range-checked, embedder specs may not point outside the folder, the weights'
hash must match the config, and the tensor shapes are checked against the config from the
safetensors header before any head is built.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any

from rewardlab.errors import InvalidInputError

FORMAT = "rewardlab-reward-model"
FORMAT_VERSION = 2
READS_VERSIONS = (1, 2)  # version 1: fixed weights.safetensors, no hash
CONFIG_FILE = "rewardlab_model.json"
LEGACY_WEIGHTS_FILE = "weights.safetensors"
MAX_CONFIG_BYTES = 4 << 20  # a config holds a few numbers per member and the training record
MAX_JSON_DEPTH = 64


class ModelFormatError(InvalidInputError):
    """A path that does not hold a (readable, compatible) rewardlab reward model."""


def _write_new(path: Path, data: bytes) -> None:
    """Writes ``data`` to a fresh file (permissions from the umask, as any user file) and fsyncs it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_model(directory: str | Path, config: dict[str, Any], weights: bytes) -> Path:
    """Saves ``config`` and the serialised safetensors ``weights`` into ``directory`` atomically."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"out: {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(weights).hexdigest()
    name = f"weights-{digest[:16]}.safetensors"
    config = dict(config, format=FORMAT, format_version=FORMAT_VERSION, weights={"file": name, "sha256": digest})
    text = json.dumps(config, indent=2, default=_json_default).encode("utf-8")
    tag = uuid.uuid4().hex
    if not (out / name).exists():  # same weights already there (re-save): keep that file
        tmp_w = out / f".{name}.{tag}.tmp"
        _write_new(tmp_w, weights)
        os.replace(tmp_w, out / name)
    tmp_c = out / f".{CONFIG_FILE}.{tag}.tmp"
    _write_new(tmp_c, text)
    _fsync_dir(out)
    os.replace(tmp_c, out / CONFIG_FILE)  # the commit point
    _fsync_dir(out)
    for stale in list(out.glob("weights-*.safetensors")) + [out / LEGACY_WEIGHTS_FILE]:
        if stale.name != name:
            stale.unlink(missing_ok=True)
    for tmp in out.glob(".*.tmp"):  # left by a save that was killed
        if tmp.name.startswith((f".{CONFIG_FILE}.", ".weights")):
            tmp.unlink(missing_ok=True)
    return out


def read_config(path: Path) -> dict[str, Any]:
    """The config of the model folder ``path``, parsed with size and depth limits."""
    cfg_path = path / CONFIG_FILE
    if not path.is_dir():
        raise ModelFormatError(f"model: {path} is not a directory holding a rewardlab model")
    if not cfg_path.exists():
        raise ModelFormatError(f"model: {path} is not a rewardlab model folder (no {CONFIG_FILE})")
    if not cfg_path.is_file():
        raise ModelFormatError(f"model: {cfg_path} is not a regular file")
    with open(cfg_path, "rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelFormatError(f"model: {cfg_path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; not a rewardlab config")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # bad JSON, bad UTF-8, huge integers, deep nesting
        raise ModelFormatError(f"model: {cfg_path} is not valid JSON ({str(err)[:200]})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFormatError(f"model: {cfg_path} is not a rewardlab reward-model config")
    if config.get("format_version") not in READS_VERSIONS:
        raise ModelFormatError(
            f"model: {path} has format version {config.get('format_version')!r}, this rewardlab reads "
            f"{', '.join(map(str, READS_VERSIONS))}"
        )
    _check_depth(config, cfg_path)
    return config


def _check_depth(obj: Any, where: Path, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ModelFormatError(f"model: {where} nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(obj, dict):
        for v in obj.values():
            _check_depth(v, where, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_depth(v, where, depth + 1)


def weights_path(path: Path, config: dict[str, Any]) -> tuple[Path, str | None]:
    """The weights file the config names, and its expected SHA-256 (None for version 1)."""
    if config["format_version"] == 1:
        return path / LEGACY_WEIGHTS_FILE, None
    spec = config.get("weights")
    if not isinstance(spec, dict) or not isinstance(spec.get("file"), str) or not isinstance(spec.get("sha256"), str):
        raise ModelFormatError("model: the config's 'weights' must be {\"file\": str, \"sha256\": str}")
    name = spec["file"]
    if Path(name).name != name or not name.endswith(".safetensors"):
        raise ModelFormatError(f"model: weights file {name!r} must be a .safetensors file inside the model folder")
    return path / name, spec["sha256"]


def read_weights(path: Path, config: dict[str, Any]) -> bytes:
    """The weights file's bytes, after checking them against the config's hash."""
    file, digest = weights_path(path, config)
    if not file.is_file():
        raise ModelFormatError(f"model: {path} has no weights file {file.name}")
    data = file.read_bytes()
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise ModelFormatError(
            f"model: {file} does not match the SHA-256 its config records (a partial copy or a tampered file)"
        )
    return data


def safetensors_header(data: bytes) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors file's header, without reading any tensor."""
    if len(data) < 8:
        raise ModelFormatError("model: the weights file is too short to be safetensors")
    size = int.from_bytes(data[:8], "little")
    if size > min(len(data) - 8, 100 << 20):
        raise ModelFormatError("model: the weights file's safetensors header is truncated or oversized")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
        shapes = {k: tuple(int(d) for d in v["shape"]) for k, v in header.items() if k != "__metadata__"}
    except (ValueError, RecursionError, TypeError, KeyError, AttributeError) as err:
        raise ModelFormatError(f"model: the weights file's safetensors header does not parse ({err})") from None
    return shapes


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelFormatError(f"model: {what} must be a finite number, got {value!r}"[:300])
    return float(value)


def _count(value: Any, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ModelFormatError(f"model: {what} must be an integer >= {low}, got {value!r}"[:300])
    return value


def member_specs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of a parsed config with every field checked: embedder (str), head (dim,
    hidden, dropout), offset, scale (> 0), info (dict)."""
    members = config.get("members")
    if not isinstance(members, list) or not members:
        raise ModelFormatError("model: the config lists no members")
    if not isinstance(config.get("meta", {}), dict):
        raise ModelFormatError("model: the config's 'meta' must be an object")
    out = []
    for i, spec in enumerate(members):
        where = f"member {i}"
        if not isinstance(spec, dict):
            raise ModelFormatError(f"model: {where} must be an object")
        head = spec.get("head")
        if not isinstance(head, dict):
            raise ModelFormatError(f"model: {where}: 'head' must be an object")
        hidden = head.get("hidden")
        if not isinstance(hidden, list):
            raise ModelFormatError(f"model: {where}: head 'hidden' must be a list of layer widths")
        dropout = _number(head.get("dropout"), f"{where}: head dropout")
        if not 0.0 <= dropout < 1.0:
            raise ModelFormatError(f"model: {where}: head dropout must be in [0, 1), got {dropout}")
        scale = _number(spec.get("scale"), f"{where}: scale")
        if not scale > 0:
            raise ModelFormatError(f"model: {where}: scale must be positive, got {scale}")
        info = spec.get("info", {})
        if not isinstance(info, dict):
            raise ModelFormatError(f"model: {where}: 'info' must be an object")
        if not isinstance(spec.get("embedder"), str):
            raise ModelFormatError(f"model: {where}: 'embedder' must be a string")
        out.append(
            {
                "embedder": spec["embedder"],
                "dim": _count(head.get("dim"), f"{where}: head dim"),
                "hidden": tuple(_count(h, f"{where}: head hidden width") for h in hidden),
                "dropout": dropout,
                "offset": _number(spec.get("offset"), f"{where}: offset"),
                "scale": scale,
                "info": info,
            }
        )
    return out


def expected_shapes(dim: int, hidden: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of :class:`~rewardlab.models.heads.MLPHead` (Linear, ReLU, Dropout per layer)."""
    shapes: dict[str, tuple[int, ...]] = {}
    width = dim
    for layer, h in enumerate(hidden):
        shapes[f"net.{3 * layer}.weight"] = (h, width)
        shapes[f"net.{3 * layer}.bias"] = (h,)
        width = h
    shapes[f"net.{3 * len(hidden)}.weight"] = (1, width)
    shapes[f"net.{3 * len(hidden)}.bias"] = (1,)
    return shapes


def check_shapes(header: dict[str, tuple[int, ...]], members: list[dict[str, Any]]) -> None:
    """Every member's parameters present with the shapes its config implies, and nothing else."""
    wanted: dict[str, tuple[int, ...]] = {}
    for i, m in enumerate(members):
        for name, shape in expected_shapes(m["dim"], m["hidden"]).items():
            wanted[f"member{i}.{name}"] = shape
    for name, shape in wanted.items():
        if name not in header:
            raise ModelFormatError(f"model: the weights lack {name} (the config and the weights do not match)")
        if tuple(header[name]) != shape:
            raise ModelFormatError(f"model: {name} has shape {tuple(header[name])}, the config implies {shape}")
    extra = sorted(set(header) - set(wanted))
    if extra:
        raise ModelFormatError(f"model: the weights hold tensors no member uses: {', '.join(extra[:5])}")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
