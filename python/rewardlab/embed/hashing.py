"""A lexical baseline: signed feature hashing of word unigrams and bigrams (numpy only, instant).

Not a semantic embedding: it is here so that a reward model's accuracy can be compared with what
bag-of-words cues alone give, and so that pipelines can be exercised without a neural model.
"""

from __future__ import annotations

import re
import zlib
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9']+")


class HashingEmbedder:
    name = "hash"

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.id = f"hashing|crc32|uni+bi|dim{dim}|l2|last100000chars|v2"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
            for gram in grams:
                h = zlib.crc32(gram.encode())
                out[row, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
