"""Embedded responses with golden rewards: ``[prompts, responses, D]`` vectors and ``[prompts,
responses]`` rewards, the shape of the arrays Sun et al. (2025) release.

Their test split is 2000 x 500 x 2048 float32 (8 GB), so the vectors are read memory-mapped and
by blocks of prompts; a split of one file into train and test prompts keeps an index into the
mapped array instead of a copy. Only the golden rewards (``[P, R]`` float64) are held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from rewardlab.errors import invalid

__all__ = ["ResponseSet", "load_arrays"]


@dataclass(frozen=True)
class ResponseSet:
    """Prompts ``rows`` of ``embeddings`` (``[P_all, R, D]``, any float dtype, possibly a memmap)
    with their golden rewards ``gold`` ``[len(rows), R]``."""

    embeddings: np.ndarray
    gold: np.ndarray
    rows: np.ndarray
    source: str = ""

    @classmethod
    def of(cls, embeddings: np.ndarray, gold: np.ndarray, source: str = "") -> "ResponseSet":
        """All prompts of ``embeddings`` ``[P, R, D]`` and ``gold`` ``[P, R]`` (shapes checked)."""
        if embeddings.ndim != 3 or embeddings.shape[0] < 1 or embeddings.shape[1] < 1 or embeddings.shape[2] < 1:
            raise invalid("embeddings", f"must be [prompts, responses, D], got shape {list(embeddings.shape)}")
        if embeddings.dtype.kind != "f":
            raise invalid("embeddings", f"must hold floats, got dtype {embeddings.dtype}")
        gold = np.asarray(gold, dtype=np.float64)
        if gold.shape != embeddings.shape[:2]:
            raise invalid("gold", f"must be [prompts, responses] = {list(embeddings.shape[:2])} like the embeddings, "
                                  f"got {list(gold.shape)}")
        if not np.isfinite(gold).all():
            bad = np.argwhere(~np.isfinite(gold))[0]
            raise invalid("gold", f"golden rewards must be finite; prompt {bad[0]}, response {bad[1]} is {gold[tuple(bad)]}")
        return cls(embeddings, gold, np.arange(embeddings.shape[0]), source)

    @property
    def prompts(self) -> int:
        """How many prompts."""
        return len(self.rows)

    @property
    def responses(self) -> int:
        """Responses per prompt."""
        return int(self.embeddings.shape[1])

    @property
    def dim(self) -> int:
        """Embedding dimension D."""
        return int(self.embeddings.shape[2])

    def subset(self, positions: np.ndarray) -> "ResponseSet":
        """The prompts at ``positions`` (of this set), sharing the same array."""
        positions = np.asarray(positions, np.int64)
        return ResponseSet(self.embeddings, self.gold[positions], self.rows[positions], self.source)

    def split(self, test_fraction: float, seed: int = 0) -> tuple["ResponseSet", "ResponseSet"]:
        """Disjoint (train, test) sets of prompts, ``test_fraction`` of them in test (seeded)."""
        if not 0 < test_fraction < 1:
            raise invalid("test_fraction", f"must be in (0, 1), got {test_fraction!r}")
        order = np.random.default_rng(seed).permutation(self.prompts)
        cut = int(round(self.prompts * test_fraction))
        if cut < 1 or cut >= self.prompts:
            raise invalid("test_fraction", f"leaves an empty split of {self.prompts} prompts")
        return self.subset(np.sort(order[cut:])), self.subset(np.sort(order[:cut]))

    def vectors(self, at: np.ndarray) -> np.ndarray:
        """float32 ``[M, D]``: the responses at ``at`` ``[M, 2]`` (prompt position, response),
        read in file order."""
        at = np.asarray(at, np.int64)
        flat = self.rows[at[:, 0]] * self.responses + at[:, 1]
        order = np.argsort(flat, kind="stable")
        out = np.empty((len(at), self.dim), np.float32)
        prompt_rows = self.rows[at[:, 0]]
        for a in range(0, len(order), 4096):
            part = order[a : a + 4096]
            out[part] = self.embeddings[prompt_rows[part], at[part, 1]]  # any memory layout, no reshape copy
        return out

    def blocks(self, max_bytes: int = 256 << 20) -> Iterator[tuple[slice, np.ndarray]]:
        """``(positions, float32 [b, R, D])`` over the prompts in order, about ``max_bytes`` each."""
        per_prompt = self.responses * self.dim * 4
        step = max(1, max_bytes // per_prompt)
        for a in range(0, self.prompts, step):
            part = slice(a, min(a + step, self.prompts))
            yield part, np.asarray(self.embeddings[self.rows[part]], dtype=np.float32)


def load_arrays(embeddings: str | Path, gold: str | Path) -> ResponseSet:
    """A response set from two ``.npy`` files, the vectors memory-mapped (never read whole)."""
    arrays = []
    for arg, path in (("embeddings", embeddings), ("gold", gold)):
        path = Path(path)
        if not path.is_file():
            raise invalid(arg, f"no such file: {path}")
        try:
            arrays.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (ValueError, OSError) as e:
            raise invalid(arg, f"{path} is not a .npy array ({e})") from None
    return ResponseSet.of(arrays[0], np.asarray(arrays[1]), source=str(embeddings))
