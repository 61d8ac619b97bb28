"""A transformers sequence-classification reward model as a scorer (``hf:PATH``).

The format TRL's RewardTrainer, OpenRLHF and the RewardBench leaderboard's models use: an
``AutoModelForSequenceClassification`` with one label, whose logit is the reward of a rendered
conversation. rewardlab treats it as an embedder whose one feature is that reward. A reward model
that reads it (:meth:`rewardlab.models.RewardModel.from_sequence_classifier`) passes the feature
through a fixed identity head. So everything built for embedders serves it unchanged: the score
cache keyed by text, length-sorted batches under a token budget, the device, ensembles beside
embedding heads, the fast-slow judge's fast path, and ``rewardlab serve``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rewardlab.data.pairs import dialogue_turns
from rewardlab.devices import dtype_tag
from rewardlab.errors import invalid
from rewardlab.lm import NO_REMOTE_CODE


class SequenceClassifierEmbedder:
    """The reward ``logits[:, 0]`` of each dialogue, as a ``[N, 1]`` float32 "embedding".

    A dialogue is rendered with the tokenizer's chat template (as the reward model was trained on
    conversations) where it has one, else read as text. Long dialogues are cut on the left (the
    reply is what is judged). Batches are padded on the right, and the model's ``pad_token_id`` is
    set so that transformers reads each row's last real token.
    """

    dim = 1

    def __init__(self, spec: str, max_tokens: int | None = None, device: Any = None, dtype: Any = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch

        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as err:
            raise invalid("model", f"hf: reward models need transformers: pip install 'rewardlab[lm]' ({err})") from None
        from rewardlab._utils.console import quiet_transformers
        from rewardlab.devices import resolve

        quiet_transformers()
        self._torch = torch
        path = Path(spec).expanduser()
        if not (path / "config.json").is_file():
            raise invalid("model", f"hf:{spec}: expected a transformers model folder with a config.json")
        dev, dt = resolve(device, dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **NO_REMOTE_CODE)
            self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=dt, **NO_REMOTE_CODE)
        except (OSError, ValueError, KeyError) as err:
            raise invalid("model", f"hf:{spec}: cannot load a sequence-classification model ({err})") from None
        if self.model.config.num_labels != 1:
            raise invalid("model", f"hf:{spec}: a reward model has one output; this one has num_labels={self.model.config.num_labels}")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.tokenizer.padding_side = "right"
        self.tokenizer.truncation_side = "left"
        self.model.to(dev).eval()
        window = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_tokens = int(max_tokens or min(window, 4096))
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        self.name = f"hf:{spec}"
        # the reward of a text names the model's weights, not just its folder name
        self.id = f"hf-seq-cls/{path.resolve().name}-{_fingerprint(path)}|logit0|max{self.max_tokens}|" + (
            "chat|v1" if self.chat else "text|v1") + dtype_tag(self.model.dtype)

    def render(self, texts: Sequence[str]) -> list[str]:
        """What the model reads: each dialogue in the chat template, or the text itself."""
        if not self.chat:
            return list(texts)
        return [self.tokenizer.apply_chat_template(dialogue_turns(t), tokenize=False) for t in texts]

    def _encode(self, texts: Sequence[str]):
        return self.tokenizer(self.render(texts), truncation=True, max_length=self.max_tokens, padding=True,
                              return_tensors="pt", add_special_tokens=not self.chat)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batch = self._encode(texts).to(self.model.device)
        with self._torch.inference_mode():
            logits = self.model(**batch).logits
        return logits[:, :1].float().cpu().numpy().astype(np.float32, copy=True)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens read per text, after rendering and the same truncation as :meth:`embed`."""
        enc = self.tokenizer(self.render(texts), truncation=True, max_length=self.max_tokens,
                             add_special_tokens=not self.chat)
        return [len(ids) for ids in enc["input_ids"]]


def _fingerprint(folder: Path) -> str:
    """A short hash of the folder's config and weight files: each file's name, size, first and
    last MiB (two checkpoints of one architecture have equal sizes but differ in every tensor;
    hashing whole multi-GB files would cost seconds per load)."""
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(max(0, size - (1 << 20)))
            h.update(fh.read(1 << 20))
    return h.hexdigest()[:12]
