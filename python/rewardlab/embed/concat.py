"""Several embedders side by side: ``minilm+length`` is MiniLM's 384 coordinates, then the
length feature (one vector per text, the parts' vectors concatenated in the spec's order).

Each part keeps its own cache rows (:func:`rewardlab.embed.embed_texts` embeds part by part), so
a concatenation costs no new embedding of texts its parts have seen.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.embed.base import Embedder


class ConcatEmbedder:
    """The parts' vectors concatenated; ``name`` is the spec (``a+b``)."""

    def __init__(self, parts: Sequence[Embedder]) -> None:
        self.parts = list(parts)
        self.name = "+".join(p.name for p in self.parts)
        self.id = "concat(" + ",".join(p.id for p in self.parts) + ")"
        self.dim = sum(p.dim for p in self.parts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]`` for one batch (uncached; ``embed_texts`` caches per part)."""
        return np.hstack([np.asarray(p.embed(texts), np.float32) for p in self.parts])
