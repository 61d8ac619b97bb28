"""An ensemble reward model on frozen embeddings, persisted as safetensors + JSON (never pickle).

A model folder holds ``rewardlab_model.json`` and ``weights-<hash>.safetensors`` (see
:mod:`rewardlab.models.model_file`). Loading anything else raises :class:`ModelFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from rewardlab.errors import InvalidInputError
from rewardlab.models.heads import HeadConfig, Member, MLPHead
from rewardlab.models.model_file import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    ModelFormatError,
    check_shapes,
    member_specs,
    read_config,
    read_weights,
    safetensors_header,
    write_model,
)

__all__ = ["CONFIG_FILE", "FORMAT", "FORMAT_VERSION", "ModelFormatError", "RewardModel"]


SEEN_TENSOR = "meta.seen_pairs"


@dataclass
class RewardModel:
    """K members over frozen embeddings. ``seen_pairs`` (uint8 ``[n, 8]``) fingerprints the pairs
    it trained or early-stopped on (:func:`rewardlab.data.pair_fingerprint`), so that evaluation
    can leave them out by content, whatever file they come from."""

    members: list[Member]
    meta: dict = field(default_factory=dict)
    seen_pairs: np.ndarray | None = None

    def seen(self) -> set[bytes]:
        """The fingerprints of the pairs the model trained on (empty if it does not record them)."""
        return set() if self.seen_pairs is None else {row.tobytes() for row in self.seen_pairs}

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

    # ---- persistence (format and checks: rewardlab.models.model_file) ---------------------
    def save(self, directory: str | Path) -> Path:
        """Writes the model to ``directory`` atomically as a whole (see :mod:`.model_file`)."""
        from safetensors.torch import save

        from rewardlab.embed import model_file_spec

        tensors = {
            f"member{i}.{name}": t.detach().contiguous().clone()
            for i, m in enumerate(self.members)
            for name, t in m.head.state_dict().items()
        }
        if self.seen_pairs is not None:
            seen = np.array(self.seen_pairs, dtype=np.uint8, order="C")  # a writable copy for torch
            if seen.ndim != 2 or seen.shape[1] != 8:
                raise InvalidInputError(f"seen_pairs: must be uint8 [n, 8], got shape {seen.shape}")
            tensors[SEEN_TENSOR] = torch.from_numpy(seen)
        config = {
            "members": [
                {
                    "embedder": model_file_spec(m.embedder, directory),
                    "head": m.head.config.to_dict(),
                    "offset": m.offset,
                    "scale": m.scale,
                    "info": m.info,
                }
                for m in self.members
            ],
            "meta": self.meta,
        }
        return write_model(directory, config, save(tensors, metadata={"format": FORMAT}))

    @classmethod
    def from_sequence_classifier(cls, path: str | Path) -> "RewardModel":
        """A transformers sequence-classification reward model (the format of TRL's RewardTrainer,
        OpenRLHF and RewardBench) as a one-member model: its reward, unscaled, through rewardlab's
        evaluation, serving and fast-slow judge. The model folder loads on first use."""
        from rewardlab.models.training import fixed_member

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise InvalidInputError(f"model: hf:{path}: expected a transformers model folder with a config.json")
        return cls(members=[fixed_member(f"hf:{folder.resolve()}")], meta={"source": f"hf:{folder.resolve()}"})

    @classmethod
    def load(cls, directory: str | Path) -> "RewardModel":
        """Reads a model folder, checking everything in it before building anything;
        ``hf:PATH`` is a sequence-classification reward model (:meth:`from_sequence_classifier`)."""
        if isinstance(directory, str) and directory.startswith("hf:"):
            return cls.from_sequence_classifier(directory[3:])
        from safetensors import SafetensorError
        from safetensors.torch import load

        from rewardlab.embed import model_file_embedder

        path = Path(directory)
        config = read_config(path)
        specs = member_specs(config)
        embedders = [model_file_embedder(m["embedder"], path) for m in specs]
        data = read_weights(path, config)
        header = safetensors_header(data)
        seen_shape = header.pop(SEEN_TENSOR, None)
        if seen_shape is not None and (len(seen_shape) != 2 or seen_shape[1] != 8):
            raise ModelFormatError(f"model: {SEEN_TENSOR} has shape {seen_shape}, expected [n, 8]")
        check_shapes(header, specs)
        try:
            tensors = load(data)
        except (SafetensorError, OSError, ValueError) as err:
            raise ModelFormatError(f"model: the weights in {path} are not readable safetensors ({err})") from None
        members = []
        for i, (spec, embedder) in enumerate(zip(specs, embedders)):
            head = MLPHead(HeadConfig(dim=spec["dim"], hidden=spec["hidden"], dropout=spec["dropout"]))
            prefix = f"member{i}."
            state = {k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
            head.load_state_dict(state)
            head.eval()
            members.append(Member(embedder, head, spec["offset"], spec["scale"], spec["info"]))
        seen = tensors[SEEN_TENSOR].numpy() if seen_shape is not None else None
        if seen is not None and seen.dtype != np.uint8:
            raise ModelFormatError(f"model: {SEEN_TENSOR} must be uint8, got {seen.dtype}")
        return cls(members=members, meta=config.get("meta", {}), seen_pairs=seen)
