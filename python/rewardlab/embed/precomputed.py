"""Embeddings computed once and read anywhere: a file of vectors keyed by text.

``rewardlab embed --data FILE --embedder SPEC --out FILE.safetensors`` writes one (on a GPU or a
Ray cluster: it takes ``--device`` and ``--ray``). ``rewardlab train|eval|score --embeddings FILE``
then reads vectors from it instead of loading the embedder, so a laptop trains and compares heads
on a large model's embeddings without the model.

The file is a plain safetensors file. It holds two tensors: ``keys``, uint8 ``[N, 16]``, the
blake2b-128 of each text (the embedding cache's key), and ``embeddings``, float32 ``[N, D]``.
The metadata names the format, the embedder spec and its id. It is written as a stream (header
first, then the vectors chunk by chunk) and read memory-mapped: a lookup reads the requested
rows only, so a file larger than RAM works. Nothing in it is executable, and the header is
checked before any row is read.

The same vectors may come as a ``.npy`` array ``[N, D]`` (what other pipelines write) with a JSON
sidecar of the same stem: ``{"embedder": SPEC, "texts": [N strings]}`` or, as ``rewardlab embed
--out FILE.npy`` writes it, ``"keys": [N hex blake2b-128 digests]`` in place of the texts; an
optional ``"embedder_id"``. The array is memory-mapped too (``allow_pickle`` stays off).
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rewardlab.embed.cache import text_key
from rewardlab.errors import invalid

FORMAT = "rewardlab-embeddings-file-v1"
SIDECAR_FORMAT = "rewardlab-embeddings-sidecar-v1"
_KEY_BYTES = 16
_MAX_HEADER = 1 << 20


def write_embeddings(path: str | Path, spec: str, embedder_id: str, dim: int,
                     chunks: Iterable[tuple[Sequence[str], np.ndarray]], count: int) -> Path:
    """Writes ``count`` distinct texts' vectors, given as ``(texts, vectors [n, dim])`` chunks,
    to ``path`` atomically (a temporary file, renamed when complete), never over a file rewardlab
    did not write (:func:`check_out`)."""
    path = Path(path)
    check_out(path)
    if path.suffix == ".npy":
        return _write_npy(path, spec, embedder_id, dim, chunks, count)
    meta = {"format": FORMAT, "embedder": spec, "embedder_id": embedder_id}
    keys_bytes, vec_bytes = count * _KEY_BYTES, count * dim * 4
    header = {
        "__metadata__": meta,
        "keys": {"dtype": "U8", "shape": [count, _KEY_BYTES], "data_offsets": [0, keys_bytes]},
        "embeddings": {"dtype": "F32", "shape": [count, dim], "data_offsets": [keys_bytes, keys_bytes + vec_bytes]},
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    written = 0
    try:
        with open(tmp, "wb") as fh:
            fh.write(struct.pack("<Q", len(text)) + text)
            fh.seek(8 + len(text) + keys_bytes)  # vectors first, keys (known as they come) after
            keys = bytearray()
            for texts, vectors in chunks:
                vectors = np.ascontiguousarray(vectors, dtype="<f4")
                if vectors.shape != (len(texts), dim):
                    raise invalid("vectors", f"expected shape {(len(texts), dim)}, got {vectors.shape}")
                fh.write(vectors.tobytes())
                keys += b"".join(text_key(t) for t in texts)
                written += len(texts)
            if written != count:
                raise invalid("chunks", f"announced {count} texts, got {written}")
            fh.seek(8 + len(text))
            fh.write(bytes(keys))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sidecar_of(path: str | Path) -> Path:
    """The JSON sidecar of a ``.npy`` embeddings array: the same stem, ``.json``."""
    return Path(path).with_suffix(".json")


def _write_npy(path: Path, spec: str, embedder_id: str, dim: int,
               chunks: Iterable[tuple[Sequence[str], np.ndarray]], count: int) -> Path:
    """``path`` (``.npy``, float32 ``[count, dim]``, filled chunk by chunk through a memory map)
    and its sidecar; each written to a temporary file and renamed, the array first."""
    tag = uuid.uuid4().hex[:8]
    tmp, tmp_side = path.with_name(f".{path.name}.{tag}.tmp"), path.with_name(f".{path.name}.{tag}.json.tmp")
    try:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype="<f4", shape=(count, dim))
        keys: list[str] = []
        for texts, vectors in chunks:
            vectors = np.asarray(vectors, dtype="<f4")
            if vectors.shape != (len(texts), dim):
                raise invalid("vectors", f"expected shape {(len(texts), dim)}, got {vectors.shape}")
            if len(keys) + len(texts) > count:
                raise invalid("chunks", f"announced {count} texts, got more")
            arr[len(keys) : len(keys) + len(texts)] = vectors
            keys += [text_key(t).hex() for t in texts]
        if len(keys) != count:
            raise invalid("chunks", f"announced {count} texts, got {len(keys)}")
        arr.flush()
        del arr
        tmp_side.write_text(json.dumps({"format": SIDECAR_FORMAT, "embedder": spec, "embedder_id": embedder_id,
                                        "keys": keys}))
        os.replace(tmp, path)
        os.replace(tmp_side, sidecar_of(path))
    finally:
        tmp.unlink(missing_ok=True)
        tmp_side.unlink(missing_ok=True)
    return path


def check_out(path: str | Path) -> None:
    """Refuses an output that would replace a file rewardlab did not write: ``--data pairs.jsonl
    --out pairs.jsonl``, or ``--out pairs.npy`` beside a data file ``pairs.json``, must never
    overwrite the data. Called before any embedding."""
    path = Path(path)
    if path.suffix == ".npy":
        side = sidecar_of(path)
        for f in (side, path):
            if f.exists() and not _ours(side):
                raise invalid("out", f"writing {path} would replace {f}, which rewardlab did not write; choose another name")
    elif path.exists():
        try:
            PrecomputedEmbeddings(path)
        except ValueError:
            raise invalid("out", f"{path} exists and is not an embeddings file rewardlab wrote; choose another name") from None


def _ours(side: Path) -> bool:
    """Whether ``side`` is a sidecar that rewardlab wrote (and may replace)."""
    try:
        with open(side, "rb") as fh:
            head = fh.read(200)
    except OSError:
        return False
    return head.startswith(b'{"format": "' + SIDECAR_FORMAT.encode() + b'"')


def _read_sidecar(path: Path, count: int) -> tuple[dict, np.ndarray]:
    """The sidecar's fields and the rows' keys, uint8 ``[count, 16]``, checked against the array."""
    side = sidecar_of(path)
    if not side.is_file():
        raise invalid("embeddings", f"{path} needs its sidecar {side} (the embedder and each row's text or key); "
                                    "rewardlab embed --out FILE.npy writes both")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise invalid("embeddings", f"{side} is not JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("embedder"), str):
        raise invalid("embeddings", f"{side} must be a JSON object naming its \"embedder\" (a spec such as minilm)")
    texts, hexes = meta.get("texts"), meta.get("keys")
    rows = texts if texts is not None else hexes
    if not isinstance(rows, list) or (texts is not None) == (hexes is not None):
        raise invalid("embeddings", f"{side} must hold either \"texts\" or \"keys\", a list with one entry per row")
    if len(rows) != count:
        raise invalid("embeddings", f"{side} lists {len(rows)} rows, {path} has {count}")
    try:
        keys = [text_key(t) for t in texts] if texts is not None else [bytes.fromhex(h) for h in rows]
    except (TypeError, ValueError, AttributeError):
        keys = []
    if len(keys) != count or any(len(k) != _KEY_BYTES for k in keys):
        raise invalid("embeddings", f"{side}: \"texts\" must be strings, \"keys\" {_KEY_BYTES * 2}-digit hex digests")
    return meta, np.frombuffer(b"".join(keys), np.uint8).reshape(count, _KEY_BYTES)


class PrecomputedEmbeddings:
    """The vectors of an embeddings file, looked up by text; stands in for its embedder (same
    ``name``, ``id`` and ``dim``) without loading any model."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise invalid("embeddings", f"no such file: {path}")
        self._rows: dict[bytes, int] | None = None
        if self.path.suffix == ".npy":
            self._open_npy()
            return
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            head = fh.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if not 0 < n <= _MAX_HEADER:
                raise invalid("embeddings", f"{path} is not a safetensors file (header length {n})")
            try:
                header = json.loads(fh.read(n))
            except ValueError:
                raise invalid("embeddings", f"{path}: its safetensors header is not JSON") from None
        meta = header.get("__metadata__") or {}
        if meta.get("format") != FORMAT:
            raise invalid("embeddings", f"{path} is not a rewardlab embeddings file (format {meta.get('format')!r}); "
                                        "write one with rewardlab embed")
        try:
            k, e = header["keys"], header["embeddings"]
            count, dim = int(e["shape"][0]), int(e["shape"][1])
            ok = (k["dtype"] == "U8" and k["shape"] == [count, _KEY_BYTES] and e["dtype"] == "F32" and dim > 0
                  and k["data_offsets"] == [0, count * _KEY_BYTES]
                  and e["data_offsets"] == [count * _KEY_BYTES, count * _KEY_BYTES + count * dim * 4]
                  and size == 8 + n + count * _KEY_BYTES + count * dim * 4)
        except (KeyError, TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            raise invalid("embeddings", f"{path}: the tensors are not keys [N, 16] uint8 and embeddings [N, D] float32 "
                                        "filling the file (truncated or written by something else)")
        self.name, self.id, self.dim, self.count = str(meta["embedder"]), str(meta["embedder_id"]), dim, count
        start = 8 + n
        self._keys = np.memmap(self.path, np.uint8, "r", offset=start, shape=(count, _KEY_BYTES)) if count else np.zeros((0, 16), np.uint8)
        self._vectors = (np.memmap(self.path, "<f4", "r", offset=start + count * _KEY_BYTES, shape=(count, dim))
                         if count else np.zeros((0, dim), np.float32))

    def _open_npy(self) -> None:
        try:
            vectors = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise invalid("embeddings", f"{self.path} is not a .npy array ({e})") from None
        if vectors.ndim != 2 or vectors.shape[1] < 1 or vectors.dtype.kind != "f":
            raise invalid("embeddings", f"{self.path}: expected a float array [texts, dim], got {vectors.dtype} "
                                        f"{list(vectors.shape)}")
        count, dim = vectors.shape
        meta, self._keys = _read_sidecar(self.path, count)
        self.name, self.dim, self.count = meta["embedder"], int(dim), int(count)
        self.id = str(meta.get("embedder_id") or f"{self.name}|precomputed")
        self._vectors = vectors

    def _index(self) -> dict[bytes, int]:
        if self._rows is None:  # built on first use, in blocks: the keys are never copied whole
            rows: dict[bytes, int] = {}
            for a in range(0, self.count, 1 << 16):
                block = np.asarray(self._keys[a : a + (1 << 16)])
                rows.update((block[i].tobytes(), a + i) for i in range(len(block)))
            self._rows = rows
        return self._rows

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]``; every text must be in the file."""
        rows = self._index()
        idx = [rows.get(text_key(t), -1) for t in texts]
        missing = [t for t, i in zip(texts, idx) if i < 0]
        if missing:
            raise invalid("embeddings", f"{len(missing)} of {len(texts)} texts are not in {self.path} (the first: "
                                        f"{missing[0][:80]!r}); embed this data with rewardlab embed --embedder {self.name}")
        out = np.empty((len(texts), self.dim), np.float32)
        order = np.argsort(idx, kind="stable")  # rows read in file order
        sorted_rows = np.asarray(idx)[order]
        out[order] = self._vectors[sorted_rows]
        if not np.isfinite(out).all():
            bad = texts[int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])]
            raise invalid("embeddings", f"{self.path} holds a non-finite vector (NaN or inf), for the text {bad[:80]!r}")
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.lookup(texts)


_active: dict[str, PrecomputedEmbeddings] = {}


def use(files: Sequence[PrecomputedEmbeddings]) -> None:
    """Makes ``get_embedder(spec)`` return the file for its spec (the CLI's ``--embeddings``)."""
    _active.clear()
    for f in files:
        if f.name in _active:
            raise invalid("embeddings", f"two files hold {f.name} embeddings: give one per embedder")
        _active[f.name] = f


def active(spec: str) -> PrecomputedEmbeddings | None:
    return _active.get(spec)


def snapshot() -> dict[str, PrecomputedEmbeddings]:
    """The files in use, for :func:`restore`."""
    return dict(_active)


def restore(files: dict[str, PrecomputedEmbeddings]) -> None:
    _active.clear()
    _active.update(files)
