"""The last-token hidden state of a transformers causal LM as an embedding (the paper's feature)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rewardlab.data.pairs import dialogue_turns
from rewardlab.devices import dtype_tag
from rewardlab.errors import invalid
from rewardlab.lm import load_causal_lm, resolve_spec


class CausalLMEmbedder:
    """``hidden_states[-1][:, -1, :]`` of the dialogue, with left padding and left truncation.

    Left padding is what makes position -1 the last real token of every row in a batch; with
    right padding it would be a pad token for all but the longest text (a known pitfall of the
    reference code). Truncation is on the left too, keeping the reply.

    With ``chat_template=True`` (spec ``lm-chat:PATH``) an instruct model sees each dialogue as it
    saw conversations in training: the text is split back into messages and rendered with the
    tokenizer's chat template (the last token is then the reply's end-of-turn marker); a tokenizer
    without one is refused. ``lm:PATH`` reads the HH dialogue text as it is (the models trained
    before chat rendering existed keep their inputs).
    """

    def __init__(self, spec: str, max_tokens: int = 512, chat_template: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        import torch

        self._torch = torch
        self.name = f"lm-chat:{spec}" if chat_template else f"lm:{spec}"
        path = resolve_spec(spec)
        self.tokenizer, self.model = load_causal_lm(spec, device=device, dtype=dtype)
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"
        self.max_tokens = max_tokens
        self.dim = int(self.model.config.hidden_size)
        if chat_template and not getattr(self.tokenizer, "chat_template", None):
            raise invalid("embedder", f"lm-chat:{spec}: the tokenizer has no chat template; use lm:{spec}")
        self.chat = chat_template
        # a rendered dialogue is a different text: its vectors must not share cache rows with the plain ones
        self.id = f"causal-lm/{path.name}|last-token|last-layer|left-pad|max{max_tokens}|" + ("chat|v2" if self.chat else "v1")
        self.id += dtype_tag(self.model.dtype)

    def render(self, texts: Sequence[str]) -> list[str]:
        """What the model reads: the chat-template rendering of each dialogue, or the text itself."""
        if not self.chat:
            return list(texts)
        return [self.tokenizer.apply_chat_template(dialogue_turns(t), tokenize=False).rstrip() for t in texts]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens read per text, after rendering and the same truncation as :meth:`embed` (what
        the token-budget batches of ``embed_texts`` are cut by)."""
        enc = self.tokenizer(self.render(texts), truncation=True, max_length=self.max_tokens,
                             add_special_tokens=not self.chat)
        return [len(ids) for ids in enc["input_ids"]]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Last-token, last-layer hidden states ``[len(texts), dim]``, float32."""
        torch = self._torch
        batch = self.tokenizer(
            self.render(texts), return_tensors="pt", padding=True, truncation=True, max_length=self.max_tokens,
            add_special_tokens=not self.chat,  # a rendered template already holds its special tokens
        ).to(self.model.device)
        with torch.inference_mode():
            out = self.model(**batch, output_hidden_states=True)
        # one copy to the host per batch, of the rows' last states only
        return out.hidden_states[-1][:, -1, :].float().cpu().numpy().astype(np.float32, copy=True)
