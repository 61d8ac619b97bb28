"""A content-addressed embedding cache in safetensors, safe against interrupted runs.

Layout: ``<root>/<embedder-key>/shard-*.safetensors``, one folder per embedder (its key is a hash
of the embedder's id, which names the model *and* every setting that changes the vectors). A shard
holds ``keys`` (uint8 ``[n, 16]``, the blake2b-128 of each text) and ``embeddings`` (float32
``[n, D]``). New vectors are appended as a new shard written to a temporary file, fsynced and
renamed into place, so a shard is either complete or absent: an interrupted run loses at most the
chunk in flight, and a rerun embeds only what is missing. A shard that does not parse (written by
something else, disk trouble) is reported and ignored, never trusted. Many small shards are
compacted into one the same atomic way.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

_KEY_BYTES = 16
_COMPACT_ABOVE = 32  # shards; merging keeps open() counts and index build time flat


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_KEY_BYTES).digest()


def embedder_key(embedder_id: str) -> str:
    return hashlib.sha256(embedder_id.encode("utf-8")).hexdigest()[:20]


def _write_atomic(path: Path, keys: np.ndarray, vectors: np.ndarray, embedder_id: str) -> None:
    from safetensors.numpy import save

    blob = save(
        {"keys": np.ascontiguousarray(keys), "embeddings": np.ascontiguousarray(vectors, dtype=np.float32)},
        metadata={"embedder": embedder_id, "format": "rewardlab-embeddings-v1"},
    )
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EmbeddingCache:
    """Embeddings of one embedder, looked up by text. Not shared across embedders by design."""

    def __init__(self, root: str | Path, embedder_id: str, dim: int) -> None:
        self.embedder_id = embedder_id
        self.dim = dim
        self.dir = Path(root) / embedder_key(embedder_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "embedder.json"
        if not meta.exists():
            tmp = meta.with_name(f".embedder.{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps({"id": embedder_id, "dim": dim}))
            os.replace(tmp, meta)
        self.ignored: list[str] = []
        self._index: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._rows = 0
        self._shards = 0
        self._load()

    def _load(self) -> None:
        from safetensors.numpy import load_file

        for shard in sorted(self.dir.glob("shard-*.safetensors")):
            try:
                data = load_file(shard)
                keys, vecs = data["keys"], data["embeddings"]
                if keys.dtype != np.uint8 or keys.shape != (len(vecs), _KEY_BYTES) or vecs.shape[1:] != (self.dim,):
                    raise ValueError("unexpected tensor shapes")
            except Exception as err:  # a shard we cannot trust is skipped, and said so
                self.ignored.append(f"{shard.name}: {err}")
                warnings.warn(f"embedding cache: ignoring unreadable shard {shard} ({err})", stacklevel=3)
                continue
            self._add(keys, vecs)
            self._shards += 1

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        for i, key in enumerate(keys):
            self._index.setdefault(key.tobytes(), self._rows + i)
        self._blocks.append(vectors.astype(np.float32, copy=False))
        self._rows += len(vectors)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._index

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The distinct texts not cached yet, in first-seen order."""
        seen: set[bytes] = set()
        out = []
        for text in texts:
            key = text_key(text)
            if key not in self._index and key not in seen:
                seen.add(key)
                out.append(text)
        return out

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Persists one chunk as a new shard (atomically), then indexes it."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"vectors: expected shape {(len(texts), self.dim)}, got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors: the embedder returned non-finite values; refusing to cache them")
        keys = np.frombuffer(b"".join(text_key(t) for t in texts), dtype=np.uint8).reshape(len(texts), _KEY_BYTES)
        _write_atomic(self.dir / f"shard-{uuid.uuid4().hex}.safetensors", keys, vectors, self.embedder_id)
        self._add(keys, vectors)
        self._shards += 1
        if self._shards > _COMPACT_ABOVE:
            self.compact()

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), D]``; every text must be cached (see :meth:`missing`)."""
        table = self._table()
        try:
            rows = [self._index[text_key(t)] for t in texts]
        except KeyError:
            raise KeyError("embedding cache: a requested text is not cached; embed missing texts first") from None
        return table[np.asarray(rows, dtype=np.int64)] if rows else np.zeros((0, self.dim), np.float32)

    def _table(self) -> np.ndarray:
        if len(self._blocks) != 1:
            self._blocks = [np.concatenate(self._blocks) if self._blocks else np.zeros((0, self.dim), np.float32)]
        return self._blocks[0]

    def compact(self) -> None:
        """Rewrites all shards as one (new file first, old files removed after)."""
        old = sorted(self.dir.glob("shard-*.safetensors"))
        table = self._table()
        keys = np.zeros((self._rows, _KEY_BYTES), np.uint8)
        for key, row in self._index.items():
            keys[row] = np.frombuffer(key, np.uint8)
        live = np.zeros(self._rows, bool)
        live[list(self._index.values())] = True
        _write_atomic(self.dir / f"shard-{uuid.uuid4().hex}.safetensors", keys[live], table[live], self.embedder_id)
        for shard in old:
            shard.unlink(missing_ok=True)
        self._index, self._blocks, self._rows, self._shards = {}, [], 0, 0
        self._load()
