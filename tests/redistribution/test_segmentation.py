"""Segmentation and sequence log-probabilities (rewardlab.redistribution) against naive references:
padded and ragged batches, length-0/1 rows, float32/float64, numpy and torch inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardlab import redistribution as rd
from rewardlab.errors import InvalidInputError
from redistribution_refs import (
    DELIMS,
    DTYPES,
    LIMITS,
    THRESHOLDS,
    layout_inputs,
    maybe_torch,
    ref_cuts,
    ref_segment_row,
    token_batch,
    torch,
)
from tolerances import assert_close


# ---------------------------------------------------------------- segmentation


@pytest.mark.parametrize("rule", ["delimiters", "entropy", "hybrid"])
@given(batch=token_batch(), limits=LIMITS, delims=DELIMS, threshold=THRESHOLDS, dtype=DTYPES, use_torch=st.booleans())
def test_segment_matches_naive_loop(rule, batch, limits, delims, threshold, dtype, use_torch):
    lens, toks, ents, kind = batch
    min_len, max_len = limits
    rng = np.random.default_rng(len(lens))
    tok, ent, lengths, off = layout_inputs(lens, toks, ents, kind, dtype, rng)
    kw = dict(lengths=maybe_torch(lengths, use_torch), offsets=off, min_len=min_len, max_len=max_len)
    if rule == "delimiters":
        seg = rd.segment(maybe_torch(tok, use_torch), delimiters=delims, **kw)
    elif rule == "entropy":
        seg = rd.segment(entropy=maybe_torch(ent, use_torch), threshold=threshold, **kw)
    else:
        seg = rd.segment(maybe_torch(tok, use_torch), entropy=maybe_torch(ent, use_torch), delimiters=delims or [2], threshold=threshold, **kw)
        delims = delims or [2]
    expected_ends, expected_off = [], [0]
    for b, n in enumerate(lens):
        cuts = ref_cuts(toks[b] if rule != "entropy" else None, ents[b].astype(dtype) if rule != "delimiters" else None, set(delims), threshold, dtype)
        row = ref_segment_row(n, cuts, min_len, max_len)
        expected_ends += row
        expected_off.append(len(expected_ends))
    assert isinstance(seg, rd.Segments)
    assert seg.ends.dtype == np.int64 and seg.offsets.dtype == np.int64
    np.testing.assert_array_equal(seg.ends, np.array(expected_ends, dtype=np.int64))
    np.testing.assert_array_equal(seg.offsets, np.array(expected_off, dtype=np.int64))
    # helpers against loops
    starts, counts = [], []
    for b in range(len(lens)):
        row = expected_ends[expected_off[b]:expected_off[b + 1]]
        starts += [0] + row[:-1] if row else []
        counts.append(len(row))
    np.testing.assert_array_equal(seg.starts(), np.array(starts, dtype=np.int64))
    np.testing.assert_array_equal(seg.counts(), counts)
    np.testing.assert_array_equal(seg.row_lengths(), lens)
    assert seg.rows == len(lens) and seg.total == len(expected_ends)


def test_segment_large_batch_parallel_path():
    """Above 2^16 tokens the rows run in parallel: same result as the naive loop."""
    rng = np.random.default_rng(7)
    b, t = 48, 2048
    tok = rng.integers(0, 50, size=(b, t)).astype(np.int64)
    lengths = rng.integers(0, t + 1, size=b)
    lengths[:3] = [0, 1, t]
    seg = rd.segment(tok, lengths=lengths, delimiters=[3, 7], min_len=4, max_len=64)
    ends = []
    for i in range(b):
        n = int(lengths[i])
        ends += ref_segment_row(n, [s + 1 for s in range(n - 1) if tok[i, s] in (3, 7)], 4, 64)
    np.testing.assert_array_equal(seg.ends, ends)


@given(batch=token_batch(), use_torch=st.booleans())
def test_from_boundaries_round_trip(batch, use_torch):
    lens, toks, ents, kind = batch
    seg = rd.segment(entropy=np.concatenate(ents + [np.zeros(0)]), offsets=np.concatenate([[0], np.cumsum(lens)]), threshold=1.0)
    back = rd.segments_from_boundaries(maybe_torch(seg.ends, use_torch), maybe_torch(seg.offsets, use_torch), maybe_torch(np.array(lens), use_torch))
    np.testing.assert_array_equal(back.ends, seg.ends)
    np.testing.assert_array_equal(back.offsets, seg.offsets)


def test_from_boundaries_lists_and_errors():
    s = rd.segments_from_boundaries([2, 5, 1], [0, 2, 2, 3], [5, 0, 1])
    np.testing.assert_array_equal(s.ends, [2, 5, 1])
    with pytest.raises(InvalidInputError, match=r"^ends: row 0: the last end"):
        rd.segments_from_boundaries([2, 4], [0, 2], [5])
    with pytest.raises(InvalidInputError, match=r"^ends: row 0 has length 3 but no segment"):
        rd.segments_from_boundaries([], [0, 0], [3])
    with pytest.raises(InvalidInputError, match=r"^ends: .*strictly increasing"):
        rd.segments_from_boundaries([3, 3], [0, 2], [3])
    with pytest.raises(InvalidInputError, match=r"^row_lengths"):
        rd.segments_from_boundaries([1], [0, 1], [1, 2])
    with pytest.raises(InvalidInputError, match=r"^offsets"):
        rd.segments_from_boundaries([1], [1, 1], [1])


# ---------------------------------------------------------------- sequence log-probabilities


@given(batch=token_batch(), dtype=DTYPES, use_torch=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_sequence_logprob_matches_numpy_sums(batch, dtype, use_torch, seed):
    lens, _, _, kind = batch
    rng = np.random.default_rng(seed)
    rows = [(-rng.exponential(3.0, size=n)).astype(dtype) for n in lens]
    if rows and rows[0].size and rng.random() < 0.3:
        rows[0][0] = -np.inf  # an impossible token
    if kind == "ragged":
        off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        x, lengths = np.concatenate(rows + [np.zeros(0, dtype)]).astype(dtype), None
    else:
        off = None
        x = np.full((len(lens), max(lens) + 1), np.nan if kind == "padded_lengths" else 0.0, dtype=dtype)
        for i, r in enumerate(rows):
            x[i, : r.size] = r
        lengths = np.array(lens) if kind == "padded_lengths" else None
    got = rd.sequence_logprob(maybe_torch(x, use_torch), lengths=lengths, offsets=off)
    if use_torch:
        assert isinstance(got, torch.Tensor)
        got = got.numpy()
    assert got.dtype == dtype and got.shape == (len(lens),)
    expected = np.array([math.fsum(r.astype(np.float64)) for r in rows])
    fin = np.isfinite(expected)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    assert_close(got[fin], expected[fin], dtype, scale=max(lens) + 1)


def test_sequence_logprob_of_a_long_sequence_is_exact():
    for dtype in (np.float32, np.float64):
        x = np.full((2, 8192), -20.0, dtype=dtype)
        assert rd.sequence_logprob(x).tolist() == [-163840.0, -163840.0]
        assert rd.sequence_logprob(x, lengths=np.array([8192, 1])).tolist() == [-163840.0, -20.0]
