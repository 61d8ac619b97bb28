"""A content-addressed embedding cache in SQLite: safe for concurrent writers and against kill -9.

Layout: ``<root>/<embedder-key>/embeddings.sqlite``, one database per embedder (its key is a hash
of the embedder's id, which names the model *and* every setting that changes the vectors). One
table maps the blake2b-128 of a text to its float32 vector (raw little-endian bytes).

Why SQLite rather than files of our own (the design before, safetensors shards plus compaction):
- a chunk of new vectors is one transaction, so a killed run loses at most the chunk in flight,
  never leaves a partial or temporary file behind, and a rerun embeds only what is missing;
- the key is the primary key and rows are inserted with ``INSERT OR IGNORE``, so two processes
  embedding the same texts can never create duplicate rows, and neither deletes the other's;
- SQLite's locking serialises writers (WAL journal: readers never wait for a writer), so no
  compaction is needed and nothing is rewritten: each vector is written once (plus the WAL);
- lookups read only the requested rows, so the cache is never loaded whole into memory.
It is in the standard library, and its file format is stable and documented.

A database that does not open as one of ours (written by something else, disk trouble) is
reported and moved aside, never trusted. Caches of the older shard format are imported once.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import time
import uuid
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

_KEY_BYTES = 16
_DB_NAME = "embeddings.sqlite"
_FORMAT = "rewardlab-embeddings-v2"
_BATCH = 500  # keys per lookup statement (well under SQLite's limit on bound variables)
_BUSY_MS = 600_000  # a writer waits this long for another process's transaction


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_KEY_BYTES).digest()


def embedder_key(embedder_id: str) -> str:
    return hashlib.sha256(embedder_id.encode("utf-8")).hexdigest()[:20]


def _is_lock_error(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EmbeddingCache:
    """Embeddings of one embedder, looked up by text. Not shared across embedders by design."""

    def __init__(self, root: str | Path, embedder_id: str, dim: int) -> None:
        self.embedder_id = embedder_id
        self.dim = dim
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(f"cache_dir: {root} exists and is not a directory")
        self.dir = root / embedder_key(embedder_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / _DB_NAME
        self.ignored: list[str] = []
        self._db = self._open()
        self._import_shards()

    # ---- opening ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a committed chunk survives kill -9 of the process; after a power loss the
            # last chunks may be gone but the database is consistent (and a rerun re-embeds them).
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?), ('embedder', ?), ('dim', ?)",
                       (_FORMAT, self.embedder_id, str(self.dim)))
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if meta.get("format") != _FORMAT or meta.get("embedder") != self.embedder_id or meta.get("dim") != str(self.dim):
                raise sqlite3.DatabaseError(f"holds {meta}, not {self.embedder_id!r} of dim {self.dim}")
        except BaseException:
            db.close()  # a half-set-up connection is not kept (a retry opens a fresh one)
            raise
        return db

    def _connect_waiting(self) -> sqlite3.Connection:
        """:meth:`_connect`, retried while another process holds the lock.

        SQLite does not call its busy handler everywhere: switching a new database to WAL needs
        an exclusive lock, and a connection that would deadlock with another gets "database is
        locked" at once. Two processes opening a fresh cache together hit this (CI did), so the
        opening is retried with jittered back-off for as long as a writer would wait.
        """
        deadline = time.monotonic() + _BUSY_MS / 1000
        pause = 0.005
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as err:
                if not _is_lock_error(err) or time.monotonic() > deadline:
                    raise
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.5)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect_waiting()
        except sqlite3.OperationalError as err:
            if _is_lock_error(err):
                raise
            return self._set_aside(err)
        except sqlite3.DatabaseError as err:  # not a database, or not ours
            return self._set_aside(err)

    def _set_aside(self, err: Exception) -> sqlite3.Connection:
        bad = self.path.with_name(f"{_DB_NAME}.unreadable-{int(time.time())}-{uuid.uuid4().hex[:6]}")
        self.ignored.append(f"{self.path.name}: {err}")
        warnings.warn(f"embedding cache: ignoring unreadable cache {self.path} ({err}); moved to {bad.name}", stacklevel=4)
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                os.replace(src, f"{bad}{suffix}")
        return self._connect_waiting()

    def _import_shards(self) -> None:
        """Moves vectors of the shard format (rewardlab <= 0.1) into the database, once."""
        shards = sorted(self.dir.glob("shard-*.safetensors"))
        for tmp in self.dir.glob(".shard-*.tmp"):  # left by killed runs of the shard format
            tmp.unlink(missing_ok=True)
        if not shards:
            return
        from safetensors.numpy import load_file

        for shard in shards:
            try:
                data = load_file(shard)
                keys, vecs = data["keys"], data["embeddings"]
                if keys.dtype != np.uint8 or keys.shape != (len(vecs), _KEY_BYTES) or vecs.shape[1:] != (self.dim,):
                    raise ValueError("unexpected tensor shapes")
            except Exception as err:  # a shard we cannot trust is skipped, and said so
                self.ignored.append(f"{shard.name}: {err}")
                warnings.warn(f"embedding cache: ignoring unreadable shard {shard} ({err})", stacklevel=4)
            else:
                self._insert([k.tobytes() for k in keys], vecs)
            shard.unlink(missing_ok=True)

    # ---- reading and writing ------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def __contains__(self, text: str) -> bool:
        return self._db.execute("SELECT 1 FROM vectors WHERE key = ?", (text_key(text),)).fetchone() is not None

    def _present(self, keys: Sequence[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for part in _chunks(keys, _BATCH):
            q = f"SELECT key FROM vectors WHERE key IN ({','.join('?' * len(part))})"
            found.update(row[0] for row in self._db.execute(q, tuple(part)))
        return found

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The distinct texts not cached yet, in first-seen order."""
        first: dict[bytes, str] = {}
        for text in texts:
            first.setdefault(text_key(text), text)
        present = self._present(list(first))
        return [t for k, t in first.items() if k not in present]

    def _insert(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = np.ascontiguousarray(vectors, dtype="<f4")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR IGNORE INTO vectors VALUES (?, ?)", ((k, rows[i].tobytes()) for i, k in enumerate(keys))
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Persists one chunk in one transaction: all of it, or (if killed) none of it."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"vectors: expected shape {(len(texts), self.dim)}, got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors: the embedder returned non-finite values; refusing to cache them")
        self._insert([text_key(t) for t in texts], vectors)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), D]``; every text must be cached (see :meth:`missing`)."""
        keys = [text_key(t) for t in texts]
        rows: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            rows.setdefault(k, i)
        out = np.empty((len(texts), self.dim), np.float32)
        unique = list(rows)
        filled = 0
        for part in _chunks(unique, _BATCH):
            q = f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})"
            for key, blob in self._db.execute(q, tuple(part)):
                if len(blob) == 4 * self.dim:  # a row of another size was not written by us
                    out[rows[key]] = np.frombuffer(blob, dtype="<f4")
                    filled += 1
        if filled != len(unique):
            raise KeyError("embedding cache: a requested text is not cached; embed missing texts first")
        if len(unique) != len(keys):  # repeated texts: copy from their first occurrence
            for i, k in enumerate(keys):
                if rows[k] != i:
                    out[i] = out[rows[k]]
        return out

    def close(self) -> None:
        """Closes the database connection (the file stays)."""
        self._db.close()

    def __del__(self) -> None:
        try:
            self._db.close()
        except Exception:
            pass
