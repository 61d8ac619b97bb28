"""The last-token hidden state of a transformers causal LM as an embedding (the paper's feature)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.lm import load_causal_lm, resolve_spec


class CausalLMEmbedder:
    """``hidden_states[-1][:, -1, :]`` of the dialogue, with left padding and left truncation.

    Left padding is what makes position -1 the last real token of every row in a batch; with
    right padding it would be a pad token for all but the longest text (a known pitfall of the
    reference code). Truncation is on the left too, keeping the reply.
    """

    def __init__(self, spec: str, max_tokens: int = 512) -> None:
        import torch

        self._torch = torch
        self.name = f"lm:{spec}"
        path = resolve_spec(spec)
        self.tokenizer, self.model = load_causal_lm(spec)
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"
        self.max_tokens = max_tokens
        self.dim = int(self.model.config.hidden_size)
        self.id = f"causal-lm/{path.name}|last-token|last-layer|left-pad|max{max_tokens}|v1"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        batch = self.tokenizer(
            list(texts), return_tensors="pt", padding=True, truncation=True, max_length=self.max_tokens
        )
        with torch.inference_mode():
            out = self.model(**batch, output_hidden_states=True)
        return out.hidden_states[-1][:, -1, :].float().numpy().astype(np.float32, copy=True)
