"""The Embedder protocol: what a text-embedding backend must provide."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to fixed-size float32 vectors.

    ``id`` names the model and every setting that changes the vectors (truncation, pooling,
    format version): it keys the cache, so two embedders with the same id must agree exactly.
    ``name`` is the short spec a user passes (``minilm``, ``e5``, ``lm:PATH``, ``hash``).
    """

    name: str
    id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]`` for one batch."""
        ...
