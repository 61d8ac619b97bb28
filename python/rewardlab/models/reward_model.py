"""An ensemble reward model on frozen embeddings, persisted as safetensors + JSON (never pickle).

A model folder holds ``rewardlab_model.json`` (format marker, version, per-member embedder,
head shape, score normalisation and training record) and ``weights.safetensors`` (tensors named
``member{i}.{param}``). Loading anything else raises :class:`ModelFormatError`.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from rewardlab.errors import InvalidInputError
from rewardlab.models.heads import HeadConfig, Member, MLPHead

FORMAT = "rewardlab-reward-model"
FORMAT_VERSION = 1
CONFIG_FILE = "rewardlab_model.json"
WEIGHTS_FILE = "weights.safetensors"


class ModelFormatError(InvalidInputError):
    """A path that does not hold a (readable, compatible) rewardlab reward model."""


@dataclass
class RewardModel:
    members: list[Member]
    meta: dict = field(default_factory=dict)

    @property
    def embedders(self) -> list[str]:
        """The distinct embedder specs the members read, in member order."""
        return list(dict.fromkeys(m.embedder for m in self.members))

    def score_features(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """float32 ``[K, N]`` member scores from ``{embedder spec: [N, D] embeddings}``."""
        rows = []
        for i, member in enumerate(self.members):
            x = features.get(member.embedder)
            if x is None:
                raise InvalidInputError(f"features: member {i} needs embeddings from {member.embedder!r}")
            if x.ndim != 2 or x.shape[1] != member.head.config.dim:
                raise InvalidInputError(f"features: member {i} expects [N, {member.head.config.dim}], got {x.shape}")
            rows.append(member.score(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy())
        return np.stack(rows).astype(np.float32)

    def score_texts(self, texts: Sequence[str], **embed_kwargs) -> np.ndarray:
        """float32 ``[K, N]``: embeds ``texts`` (through the cache) with each embedder, then scores."""
        from rewardlab.embed import embed_texts, get_embedder

        feats = {e: embed_texts(get_embedder(e), texts, **embed_kwargs) for e in self.embedders}
        return self.score_features(feats)

    # ---- persistence -------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"member{i}.{name}": t.detach().contiguous().clone()
            for i, m in enumerate(self.members)
            for name, t in m.head.state_dict().items()
        }
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "members": [
                {
                    "embedder": m.embedder,
                    "head": m.head.config.to_dict(),
                    "offset": m.offset,
                    "scale": m.scale,
                    "info": m.info,
                }
                for m in self.members
            ],
            "meta": self.meta,
        }
        # Weights first, config last: a folder with a config always has its weights.
        tag = uuid.uuid4().hex
        tmp_w, tmp_c = out / f".{WEIGHTS_FILE}.{tag}.tmp", out / f".{CONFIG_FILE}.{tag}.tmp"
        save_file(tensors, str(tmp_w), metadata={"format": FORMAT})
        os.replace(tmp_w, out / WEIGHTS_FILE)
        tmp_c.write_text(json.dumps(config, indent=2, default=_json_default))
        os.replace(tmp_c, out / CONFIG_FILE)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> "RewardModel":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(directory)
        cfg_path = path / CONFIG_FILE
        if not path.is_dir():
            raise ModelFormatError(f"model: {path} is not a directory holding a rewardlab model")
        if not cfg_path.exists():
            raise ModelFormatError(f"model: {path} is not a rewardlab model folder (no {CONFIG_FILE})")
        try:
            config = json.loads(cfg_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFormatError(f"model: {cfg_path} is not valid JSON ({err})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ModelFormatError(f"model: {cfg_path} is not a rewardlab reward-model config")
        if config.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(
                f"model: {path} has format version {config.get('format_version')}, this rewardlab reads {FORMAT_VERSION}"
            )
        try:
            tensors = load_file(str(path / WEIGHTS_FILE))
        except FileNotFoundError:
            raise ModelFormatError(f"model: {path} has no {WEIGHTS_FILE}") from None
        except (SafetensorError, OSError) as err:
            raise ModelFormatError(f"model: {path / WEIGHTS_FILE} is not readable safetensors ({err})") from None
        members = []
        for i, spec in enumerate(config.get("members") or []):
            head = MLPHead(HeadConfig.from_dict(spec["head"]))
            prefix = f"member{i}."
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                head.load_state_dict(state)
            except RuntimeError as err:
                raise ModelFormatError(f"model: member {i} weights do not match its config ({err})") from None
            head.eval()
            members.append(Member(spec["embedder"], head, float(spec["offset"]), float(spec["scale"]), spec.get("info", {})))
        if not members:
            raise ModelFormatError(f"model: {cfg_path} lists no members")
        return cls(members=members, meta=config.get("meta", {}))


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
