"""Plain python/numpy references for the RREDCoT tests, written independently of the library:
naive list-based segmentation, numpy sums and log-sum-exp, loops for redistribution, spreading and
the reward-to-go; hypothesis strategies for padded and ragged batches."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st


try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

DTYPES = st.sampled_from([np.float32, np.float64])
LIMITS = st.sampled_from([(1, 0), (2, 0), (3, 0), (1, 2), (2, 3), (3, 4), (1, 1)])
DELIMS = st.sampled_from([[], [2], [2, 5], [0, 1, 2, 3, 4, 5, 6], [2, 1 << 30], [-3, 5]])
THRESHOLDS = st.sampled_from([0.5, 1.0, 1.5, math.inf, -math.inf])


# ---------------------------------------------------------------- references


def ref_segment_row(n, cuts, min_len, max_len):
    """Segment ends of one row of length n from raw cut positions, by lists: split at the cuts,
    merge a too-short segment into the next (the last one into its predecessor), then chop
    segments longer than max_len into max_len pieces from their start."""
    if n == 0:
        return []
    points = sorted({c for c in cuts if 0 < c < n}) + [n]
    pieces = []
    start = 0
    for c in points:
        pieces.append([start, c])
        start = c
    merged = []
    acc_start = 0
    for _, e in pieces:
        if e - acc_start >= min_len:
            merged.append([acc_start, e])
            acc_start = e
    if acc_start < n:  # a short tail is left over
        if merged:
            merged[-1][1] = n
        else:
            merged.append([0, n])
    ends = []
    for s, e in merged:
        while max_len and e - s > max_len:
            s += max_len
            ends.append(s)
        ends.append(e)
    return ends


def ref_cuts(tok, ent, delims, threshold, dtype):
    n = len(tok) if tok is not None else len(ent)
    cuts = []
    if tok is not None:
        cuts += [t + 1 for t in range(n - 1) if int(tok[t]) in delims]
    if ent is not None:
        thr = float(np.asarray(threshold, dtype=dtype))  # compared in the input precision
        cuts += [t for t in range(1, n) if float(ent[t]) > thr]
    return cuts


def ref_logsumexp_values(lp, lq, u):
    """log V̂ per state in float64: log((1/M) Σ exp(lp − lq) u) by an explicit max shift."""
    lp = np.asarray(lp, dtype=np.float64)
    lq = np.broadcast_to(np.asarray(lq, dtype=np.float64), lp.shape)
    u = np.asarray(u, dtype=np.float64)
    out = np.empty(lp.shape[0])
    for s in range(lp.shape[0]):
        terms = [lp[s, m] - lq[s, m] + math.log(u[m]) for m in range(lp.shape[1]) if u[m] > 0 and lp[s, m] > -math.inf]
        if not terms:
            out[s] = -math.inf
            continue
        top = max(terms)
        out[s] = top + math.log(sum(math.exp(t - top) for t in terms)) - math.log(lp.shape[1])
    return out


def ref_redistribute(values, offsets, outcome):
    out = []
    for b in range(len(offsets) - 1):
        v = [float(x) for x in values[offsets[b]:offsets[b + 1]]]
        for k in range(len(v)):
            nxt = v[k + 1] if k + 1 < len(v) else float(outcome[b])
            out.append(nxt - v[k])
    return np.array(out, dtype=np.float64)


def ref_spread(rewards, ends, seg_off, widths, mode):
    """Per-row token rewards as lists (row b has widths[b] positions)."""
    rows = []
    for b, w in enumerate(widths):
        row = [0.0] * w
        start = 0
        for k in range(seg_off[b], seg_off[b + 1]):
            e, r = int(ends[k]), float(rewards[k])
            for t in range(start, e):
                if mode == "broadcast":
                    row[t] = r
                elif mode == "uniform":
                    row[t] = r / (e - start)
                elif t == e - 1:
                    row[t] = r
            start = e
        rows.append(row)
    return rows


def ref_reward_to_go(r, m):
    out = np.zeros(r.shape, dtype=np.float64)
    for i in range(r.shape[0]):
        g = 0.0
        for t in reversed(range(r.shape[1])):
            if m[i, t]:
                g += float(r[i, t])
                out[i, t] = g
    return out


# ---------------------------------------------------------------- batches


@st.composite
def token_batch(draw, max_rows=6, max_len=12):
    """Rows of token ids (0..6 plus rare large/negative ids) and entropies from a small set (so
    ties with the threshold occur), with length-0/1 rows likely; and a layout: padded with
    lengths, padded full rows, or ragged."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b = draw(st.integers(1, max_rows))
    lens = [int(x) for x in rng.choice([0, 1, 2, 5, max_len], size=b, p=[0.15, 0.15, 0.2, 0.25, 0.25])]
    lens = [min(n, int(rng.integers(0, max_len + 1))) if rng.random() < 0.3 else n for n in lens]
    vocab = np.array([0, 1, 2, 3, 4, 5, 6, 1 << 30, -3])
    toks = [rng.choice(vocab, size=n, p=[0.13] * 7 + [0.045, 0.045]).astype(np.int64) for n in lens]
    ents = [rng.choice([0.1, 0.5, 1.0, 1.5, 3.0], size=n) for n in lens]
    kind = draw(st.sampled_from(["padded_lengths", "padded_full", "ragged"]))
    if kind == "padded_full":
        w = max(lens)
        lens = [w] * b
        toks = [np.concatenate([t, rng.choice(vocab[:7], size=w - len(t))]).astype(np.int64) for t in toks]
        ents = [np.concatenate([e, rng.choice([0.1, 3.0], size=w - len(e))]) for e in ents]
    return lens, toks, ents, kind


def layout_inputs(lens, toks, ents, kind, dtype, rng):
    """(tokens, entropy, lengths, offsets) arrays for the layout; padding holds junk (NaN entropy)."""
    if kind == "ragged":
        off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        tok = np.concatenate(toks + [np.zeros(0, np.int64)]).astype(np.int64)
        ent = np.concatenate(ents + [np.zeros(0)]).astype(dtype)
        return tok, ent, None, off
    w = max(lens) + (int(rng.integers(0, 3)) if kind == "padded_lengths" else 0)
    tok = rng.integers(0, 7, size=(len(lens), w)).astype(np.int64)
    ent = np.full((len(lens), w), np.nan, dtype=dtype)
    for i, n in enumerate(lens):
        tok[i, :n] = toks[i]
        ent[i, :n] = ents[i]
    lengths = np.array(lens, dtype=np.int64) if kind == "padded_lengths" else None
    return tok, ent, lengths, None


def maybe_torch(a, use):
    if use and torch is not None and a is not None:
        return torch.from_numpy(np.ascontiguousarray(a))
    return a
