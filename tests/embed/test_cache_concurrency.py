"""The embedding cache under two writer processes and kill -9: no lost or duplicate rows, no
stray files, no warnings, and every vector the one its text was embedded to."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import warnings

import numpy as np

from rewardlab.embed.cache import EmbeddingCache

WRITER = textwrap.dedent(
    """
    import hashlib, sys, numpy as np
    from rewardlab.embed.cache import EmbeddingCache

    def vec(t):
        seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).normal(size=32).astype(np.float32)

    root, start, stop, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cache = EmbeddingCache(root, "writer|v1", 32)
    texts = [f"text {i}" for i in range(start, stop)]
    for k in range(0, len(texts), chunk):
        todo = cache.missing(texts[k:k + chunk])
        if todo:
            cache.put(todo, np.stack([vec(t) for t in todo]))
        print(k, flush=True)
    print("done", flush=True)
    """
)


def vec(t):
    import hashlib

    seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).normal(size=32).astype(np.float32)


def start(root, a, b, chunk):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(a), str(b), str(chunk)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_writers_and_a_kill_minus_nine(tmp_path):
    # Two processes write overlapping ranges; the first is killed -9 mid-run (after it has
    # committed some chunks, while it keeps writing); the second runs to the end.
    a = start(tmp_path, 0, 30_000, 50)
    b = start(tmp_path, 15_000, 45_000, 50)
    for _ in range(20):  # the victim has committed chunks and is still writing
        a.stdout.readline()
    os.kill(a.pid, signal.SIGKILL)
    a.wait(timeout=60)
    out, err = b.communicate(timeout=600)
    assert b.returncode == 0 and out.strip().endswith("done"), err
    assert "Warning" not in err

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reader after the crash sees no unreadable anything
        cache = EmbeddingCache(tmp_path, "writer|v1", 32)
    survivors = [f"text {i}" for i in range(15_000, 45_000)]
    assert not cache.missing(survivors)
    np.testing.assert_array_equal(cache.get(survivors[::997]), np.stack([vec(t) for t in survivors[::997]]))
    n = len(cache)
    assert 30_000 <= n < 45_000  # what the victim committed before dying, and no row twice
    files = sorted(p.name for p in cache.dir.iterdir())
    assert set(files) <= {"embeddings.sqlite", "embeddings.sqlite-wal", "embeddings.sqlite-shm"}, files

    # The killed run, restarted, embeds only what it lacks and completes the cache.
    rerun = start(tmp_path, 0, 30_000, 500)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    cache = EmbeddingCache(tmp_path, "writer|v1", 32)
    assert len(cache) == 45_000
    everything = [f"text {i}" for i in range(0, 45_000, 451)]
    np.testing.assert_array_equal(cache.get(everything), np.stack([vec(t) for t in everything]))


OPENER = textwrap.dedent(
    """
    import sys, numpy as np
    from rewardlab.embed.cache import EmbeddingCache
    cache = EmbeddingCache(sys.argv[1], "opener|v1", 4)
    cache.put([sys.argv[2]], np.full((1, 4), float(sys.argv[2]), np.float32))
    """
)


def test_processes_opening_a_fresh_cache_together_all_get_in(tmp_path):
    # Switching a new database to WAL takes an exclusive lock, and SQLite answers "database is
    # locked" at once (without waiting) to a connection that would deadlock. CI hit this with
    # two writers; unretried it failed ~1 open in 200 here with 10 processes at once.
    roots = [tmp_path / str(trial) for trial in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(root), str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for root in roots for i in range(8)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for e in errors if e]
    for root in roots:
        cache = EmbeddingCache(root, "opener|v1", 4)
        np.testing.assert_array_equal(cache.get([str(i) for i in range(8)])[:, 0], np.arange(8, dtype=np.float32))


def test_an_open_that_finds_the_database_locked_waits_and_retries(tmp_path, monkeypatch):
    # The race above is rare; this forces it: the first two attempts find the lock taken.
    real = EmbeddingCache._connect
    attempts = []

    def locked_twice(self):
        attempts.append(1)
        if len(attempts) <= 2:
            raise sqlite3.OperationalError("database is locked")
        return real(self)

    monkeypatch.setattr(EmbeddingCache, "_connect", locked_twice)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a locked database is waited for, never set aside
        cache = EmbeddingCache(tmp_path, "opener|v1", 4)
    assert len(attempts) == 3 and len(cache) == 0
    assert sorted(p.name for p in cache.dir.iterdir() if "unreadable" in p.name) == []
