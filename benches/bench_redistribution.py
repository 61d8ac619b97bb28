"""Times RREDCoT redistribution against vectorised numpy, in one run.

At 1024 x 8192 int64 tokens (valid lengths 4096..8192, ~2% delimiter tokens out of 8 ids,
vocabulary 32000) with float32 values: segmentation by delimiters (max_len 512), segment
rewards from state values, spreading onto padded tokens ("last" and "uniform"), and the three
together. The numpy versions are the strongest forms found: a delimiter lookup table (or
``np.isin``, whichever is faster here), ``np.nonzero`` for the segment ends, ``np.repeat`` /
``cumsum`` for the max_len split, shifted differences for the rewards and one fancy-indexed /
boolean-masked write for the spread. They have no ``min_len`` (a greedy, sequential merge that
numpy cannot vectorise), so the comparison uses ``min_len=1``; rewardlab's time with
``min_len=16`` is printed as well, and rewardlab's times on one thread (numpy uses one).
Results are checked equal before timing.

    python benches/bench_redistribution.py [--rows B] [--tokens T] [--reps R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np

from rewardlab import _core
from rewardlab import redistribution as rd
from timing import median_ms, require_release

DELIMITERS = np.array([13, 198, 271, 382, 1339, 4416, 14190, 22464], dtype=np.int64)
VOCAB = 32000


def inputs(b, t, seed=0):
    rng = np.random.default_rng(seed)
    tok = rng.integers(0, VOCAB, size=(b, t), dtype=np.int64)
    hit = rng.random((b, t)) < 0.02
    tok[hit] = rng.choice(DELIMITERS, size=int(hit.sum()))
    lengths = (t - (np.arange(b) * 37) % (t // 2)).astype(np.int64)
    return tok, lengths


# ------------------------------------------------------------------ numpy


def np_is_delim_isin(tok):
    return np.isin(tok, DELIMITERS)


_LUT = np.zeros(VOCAB, dtype=bool)
_LUT[DELIMITERS] = True


def np_is_delim_lut(tok):
    return _LUT[tok]  # ids < VOCAB: a table lookup, as np.isin(kind="table") but without its checks


def np_segment(tok, lengths, max_len, is_delim):
    """(ends, offsets): a delimiter ends its segment, the last valid token ends the row, then
    segments longer than max_len are cut into max_len chunks from their start."""
    b, t = tok.shape
    end = is_delim(tok)
    end &= np.arange(t) < (lengths - 1)[:, None]  # cuts inside the valid prefix only
    nonempty = lengths > 0
    end[np.nonzero(nonempty)[0], lengths[nonempty] - 1] = True
    rows, cols = np.nonzero(end)
    ends = cols + 1
    counts = np.bincount(rows, minlength=b)
    off = np.zeros(b + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    if max_len:
        starts = np.empty_like(ends)
        starts[1:] = ends[:-1]
        starts[off[:-1][counts > 0]] = 0
        pieces = (ends - starts + max_len - 1) // max_len
        if (pieces > 1).any():
            total = int(pieces.sum())
            first = np.cumsum(pieces) - pieces
            k = np.arange(total) - np.repeat(first, pieces)
            ends = np.minimum(np.repeat(starts, pieces) + (k + 1) * max_len, np.repeat(ends, pieces))
            row_pieces = np.bincount(rows, weights=pieces, minlength=b).astype(np.int64)
            np.cumsum(row_pieces, out=off[1:])
    return ends, off


def np_redistribute(values, off, outcome):
    nxt = np.empty_like(values)
    nxt[:-1] = values[1:]
    has = off[1:] > off[:-1]
    nxt[off[1:][has] - 1] = outcome[has]
    return nxt - values


def np_spread(seg_rewards, ends, off, shape, mode):
    b, t = shape
    out = np.zeros(shape, dtype=seg_rewards.dtype)
    counts = np.diff(off)
    rows = np.repeat(np.arange(b), counts)
    if mode == "last":
        out.ravel()[rows * t + ends - 1] = seg_rewards
        return out
    starts = np.empty_like(ends)
    starts[1:] = ends[:-1]
    starts[off[:-1][counts > 0]] = 0
    seglen = ends - starts
    per_token = seg_rewards / seglen.astype(seg_rewards.dtype) if mode == "uniform" else seg_rewards
    # segments tile each row's valid prefix, so the repeated values fill it in row-major order
    row_len = np.zeros(b, dtype=np.int64)
    has = counts > 0
    row_len[has] = ends[off[1:][has] - 1]
    out[np.arange(t) < row_len[:, None]] = np.repeat(per_token, seglen)
    return out


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    require_release()
    b, t, max_len = args.rows, args.tokens, args.max_len
    tok, lengths = inputs(b, t)

    # the faster numpy membership test on this machine
    t_isin = median_ms(lambda: np_is_delim_isin(tok), 3)
    t_lut = median_ms(lambda: np_is_delim_lut(tok), 3)
    is_delim, delim_name = (np_is_delim_lut, "lookup table") if t_lut <= t_isin else (np_is_delim_isin, "np.isin")

    seg = rd.segment(tok, lengths=lengths, delimiters=DELIMITERS, max_len=max_len)
    ends, off = np_segment(tok, lengths, max_len, is_delim)
    np.testing.assert_array_equal(seg.ends, ends)
    np.testing.assert_array_equal(seg.offsets, off)
    rng = np.random.default_rng(1)
    values = rng.random(seg.total).astype(np.float32)
    outcome = (np.arange(b) % 2).astype(np.float32)
    seg_r = rd.redistribute(values, seg, outcome)
    np.testing.assert_array_equal(seg_r, np_redistribute(values, off, outcome))
    for mode in ("last", "uniform"):
        ours = rd.rredcot_token_rewards(values, outcome, seg, shape=(b, t), mode=mode)
        np.testing.assert_array_equal(ours, np_spread(np_redistribute(values, off, outcome), ends, off, (b, t), mode))

    def ours_pipeline(min_len=1):
        s = rd.segment(tok, lengths=lengths, delimiters=DELIMITERS, min_len=min_len, max_len=max_len)
        return rd.rredcot_token_rewards(values[: s.total], outcome, s, shape=(b, t), mode="uniform")

    def numpy_pipeline():
        e, o = np_segment(tok, lengths, max_len, is_delim)
        return np_spread(np_redistribute(values, o, outcome), e, o, (b, t), "uniform")

    np.testing.assert_array_equal(ours_pipeline(), numpy_pipeline())

    reps = args.reps
    rows = [
        ("segment (delimiters)", median_ms(lambda: rd.segment(tok, lengths=lengths, delimiters=DELIMITERS, max_len=max_len), reps),
         f"isin via {delim_name} + nonzero", median_ms(lambda: np_segment(tok, lengths, max_len, is_delim), reps)),
        ("redistribute", median_ms(lambda: rd.redistribute(values, seg, outcome), reps),
         "shifted difference", median_ms(lambda: np_redistribute(values, off, outcome), reps)),
        ("redistribute + spread, last", median_ms(lambda: rd.rredcot_token_rewards(values, outcome, seg, shape=(b, t), mode="last"), reps),
         "diff + fancy-index write", median_ms(lambda: np_spread(np_redistribute(values, off, outcome), ends, off, (b, t), "last"), reps)),
        ("redistribute + spread, uniform", median_ms(lambda: rd.rredcot_token_rewards(values, outcome, seg, shape=(b, t), mode="uniform"), reps),
         "diff + repeat + mask write", median_ms(lambda: np_spread(np_redistribute(values, off, outcome), ends, off, (b, t), "uniform"), reps)),
        ("segment + redistribute + spread", median_ms(ours_pipeline, reps),
         "all of the above", median_ms(numpy_pipeline, reps)),
    ]
    t16 = median_ms(lambda: ours_pipeline(16), reps)
    _core.set_parallel(False)
    try:
        rows.append(("segment (delimiters), 1 thread", median_ms(lambda: rd.segment(tok, lengths=lengths, delimiters=DELIMITERS, max_len=max_len), reps),
                     "(as above)", rows[0][3]))
        rows.append(("pipeline, 1 thread", median_ms(ours_pipeline, reps), "(as above)", rows[4][3]))
    finally:
        _core.set_parallel(True)

    print(f"{b} x {t} tokens (lengths {t // 2}..{t}, ~2% delimiters), {seg.total} segments (max_len {max_len}), "
          f"float32; {platform.machine()}, numpy {np.__version__}; median ms")
    print(f"{'step':<34}{'rewardlab':>10}  {'numpy':<32}{'ms':>10}{'speed-up':>10}")
    for name, a, alt, bb in rows:
        print(f"{name:<34}{a:>10.2f}  {alt:<32}{bb:>10.2f}{bb / a:>9.1f}x")
    print(f"{'pipeline with min_len=16':<34}{t16:>10.2f}  {'(no vectorised numpy form)':<32}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([dict(step=n, rewardlab_ms=a, alternative=alt, alternative_ms=bb) for n, a, alt, bb in rows]
                      + [dict(step="pipeline with min_len=16", rewardlab_ms=t16)], fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
