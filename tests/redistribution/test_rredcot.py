"""Importance-sampled values, redistribution, spreading and the RREDCoT advantage estimator
(rewardlab.redistribution, credit.rredcot) against numpy references and loops; errors name their
argument."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardlab import credit
from rewardlab import redistribution as rd
from rewardlab.errors import InvalidInputError
from redistribution_refs import (
    DTYPES,
    maybe_torch,
    ref_logsumexp_values,
    ref_redistribute,
    ref_reward_to_go,
    ref_spread,
    torch,
)
from tolerances import assert_close


# ---------------------------------------------------------------- importance-sampled values


@given(
    s=st.integers(1, 5), m=st.integers(1, 6), dtype=DTYPES, per_state=st.booleans(),
    use_torch=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_log_value_is_matches_numpy_logsumexp(s, m, dtype, per_state, use_torch, seed):
    rng = np.random.default_rng(seed)
    scale = rng.choice([1.0, 50.0, 5000.0])  # large scales: exp of the terms underflows/overflows
    lp = (-rng.exponential(scale, size=(s, m))).astype(dtype)
    lp[rng.random((s, m)) < 0.2] = -np.inf
    lq = (-rng.exponential(scale, size=(s, m) if per_state else (m,))).astype(dtype)
    u = rng.choice([0.0, 0.0, 1.0, 0.5, 2.0], size=m).astype(dtype)
    conv = lambda a: maybe_torch(a, use_torch)
    got = rd.log_value_is(conv(lp), conv(lq), conv(u))
    val = rd.value_is(conv(lp), conv(lq), conv(u))
    if use_torch:
        assert isinstance(got, torch.Tensor) and isinstance(val, torch.Tensor)
        got, val = got.numpy(), val.numpy()
    expected = ref_logsumexp_values(lp, lq, u)
    assert got.dtype == dtype and got.shape == (s,)
    assert not np.isnan(got).any() and not np.isnan(val).any()
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    fin = np.isfinite(expected)
    assert_close(got[fin], expected[fin], dtype, scale=max(1.0, float(np.abs(expected[fin]).max(initial=0))))
    with np.errstate(over="ignore"):
        ev = np.exp(expected.astype(dtype))
    np.testing.assert_array_equal(np.isinf(val), np.isinf(ev))
    ok = np.isfinite(ev)
    np.testing.assert_allclose(val[ok], ev[ok], rtol=1e-3 if dtype == np.float32 else 1e-9, atol=1e-300)


def test_log_value_is_zero_utility_and_impossible_completions_give_minus_inf():
    lp = np.array([[0.0, -1.0], [-np.inf, -np.inf], [-1.0, -np.inf]])
    lq = np.array([-1.0, -2.0])
    got = rd.log_value_is(lp, lq, np.array([0.0, 0.0]))
    assert np.isneginf(got).all()
    got = rd.log_value_is(lp, lq, np.array([1.0, 0.0]))
    assert got[1] == -np.inf and np.isfinite(got[[0, 2]]).all()
    np.testing.assert_array_equal(rd.value_is(lp, lq, np.array([0.0, 0.0])), [0.0, 0.0, 0.0])


def test_log_value_is_of_very_long_completions():
    """Completions of 8192 tokens at about -20 nats per token: π and q underflow to 0 in any float
    (numpy's exp(lp)/exp(lq) is 0/0 = NaN) but the log-space estimate is exact."""
    rng = np.random.default_rng(3)
    s, m, t = 4, 8, 8192
    tok_pi = -20.0 + rng.normal(0, 0.5, size=(s, m, t))
    tok_q = -20.0 + rng.normal(0, 0.5, size=(m, t))
    lp = rd.sequence_logprob(tok_pi.reshape(s * m, t)).reshape(s, m)
    lq = rd.sequence_logprob(tok_q)
    np.testing.assert_allclose(lp, tok_pi.sum(-1), rtol=1e-12)
    u = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.exp(lp) / np.exp(lq)).all()  # the naive estimate is hopeless
    got = rd.log_value_is(lp, lq, u)
    expected = ref_logsumexp_values(lp, lq, u)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # exactly representable case: every ratio e^{±163840}
    lp = np.full((2, 2), -163840.0)
    lq = np.array([0.0, 0.0])
    assert rd.log_value_is(lp, lq, np.array([1.0, 1.0])).tolist() == [-163840.0, -163840.0]
    assert rd.value_is(lp, lq, np.array([1.0, 1.0])).tolist() == [0.0, 0.0]
    assert rd.value_is(-lp, lq, np.array([1.0, 1.0])).tolist() == [np.inf, np.inf]
    for dtype in (np.float32, np.float64):
        got = rd.log_value_is(np.full((1, 3), -163840.0, dtype), np.full(3, -163840.0 + 700, dtype), np.ones(3, dtype))
        assert got.dtype == dtype and got[0] == -700.0


# ---------------------------------------------------------------- redistribution


@st.composite
def segment_values(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = draw(st.lists(st.integers(0, 5), min_size=1, max_size=7))
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    dtype = draw(DTYPES)
    values = rng.random(off[-1]).astype(dtype)
    outcome = (rng.choice([0.0, 1.0], size=len(counts)) if draw(st.booleans()) else rng.normal(size=len(counts))).astype(dtype)
    return values, off, outcome, dtype


@given(data=segment_values(), use_torch=st.booleans())
def test_redistribute_matches_loop_and_sums_to_return(data, use_torch):
    values, off, outcome, dtype = data
    got = rd.redistribute(maybe_torch(values, use_torch), off, maybe_torch(outcome, use_torch))
    if use_torch:
        assert isinstance(got, torch.Tensor)
        got = got.numpy()
    assert got.dtype == dtype and got.shape == values.shape
    assert_close(got, ref_redistribute(values, off, outcome), dtype)
    for b in range(len(off) - 1):
        if off[b + 1] > off[b]:  # return equivalence: Σ_k r̃_k = R − V̂(s_0)
            total = math.fsum(got[off[b]:off[b + 1]].astype(np.float64))
            assert total == pytest.approx(float(outcome[b]) - float(values[off[b]]), abs=1e-5 if dtype == np.float32 else 1e-12)


def test_redistribute_accepts_segments():
    seg = rd.Segments(np.array([2, 4, 1]), np.array([0, 2, 2, 3]))
    got = rd.redistribute(np.array([0.25, 0.5, 0.75]), seg, np.array([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(got, [0.25, 0.5, -0.75])


@st.composite
def spread_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lens = draw(st.lists(st.sampled_from([0, 1, 2, 3, 6, 9]), min_size=1, max_size=6))
    ends, off = [], [0]
    for n in lens:
        cuts = sorted(set(rng.integers(1, max(n, 2), size=int(rng.integers(0, 4))).tolist()))
        ends += [c for c in cuts if c < n] + ([n] if n else [])
        off.append(len(ends))
    seg = rd.Segments(np.array(ends, dtype=np.int64), np.array(off, dtype=np.int64))
    dtype = draw(DTYPES)
    padded = draw(st.booleans())
    return seg, lens, dtype, padded, rng


@pytest.mark.parametrize("mode", ["last", "uniform", "broadcast"])
@given(case=spread_case(), use_torch=st.booleans())
def test_spread_to_tokens_matches_loop(mode, case, use_torch):
    seg, lens, dtype, padded, rng = case
    rewards = rng.normal(size=seg.total).astype(dtype)
    if padded:
        width = max(lens) + int(rng.integers(0, 3))
        got = rd.spread_to_tokens(maybe_torch(rewards, use_torch), seg, shape=(len(lens), width), mode=mode)
        widths = [width] * len(lens)
    else:
        widths = [n + int(rng.integers(0, 2)) for n in lens]  # a ragged row may be wider than its segments
        off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        got = rd.spread_to_tokens(maybe_torch(rewards, use_torch), seg, offsets=off, mode=mode)
    if use_torch:
        assert isinstance(got, torch.Tensor)
        got = got.numpy()
    assert got.dtype == dtype
    rows = ref_spread(rewards, seg.ends, seg.offsets, widths, mode)
    expected = np.array(rows) if padded else np.array([x for r in rows for x in r])
    assert got.shape == expected.shape
    assert_close(got, expected, dtype)


@pytest.mark.parametrize("mode", ["last", "uniform", "broadcast"])
@given(data=segment_values(), padded=st.booleans(), use_torch=st.booleans())
def test_rredcot_token_rewards_is_redistribute_then_spread(mode, data, padded, use_torch):
    values, off, outcome, dtype = data
    rng = np.random.default_rng(int(off[-1]))
    ends = []
    lens = []
    for b in range(len(off) - 1):
        k = int(off[b + 1] - off[b])
        row = np.cumsum(rng.integers(1, 4, size=k)).tolist()
        ends += row
        lens.append(row[-1] if row else 0)
    seg = rd.Segments(np.array(ends, dtype=np.int64), off)
    kw = dict(shape=(len(lens), max(lens) + 1)) if padded else dict(offsets=np.concatenate([[0], np.cumsum(lens)]))
    got = rd.rredcot_token_rewards(maybe_torch(values, use_torch), maybe_torch(outcome, use_torch), seg, mode=mode, **kw)
    if use_torch:
        assert isinstance(got, torch.Tensor)
        got = got.numpy()
    widths = [max(lens) + 1] * len(lens) if padded else lens
    rows = ref_spread(ref_redistribute(values, off, outcome), ends, off, widths, mode)
    expected = np.array(rows) if padded else np.array([x for r in rows for x in r])
    assert got.dtype == dtype and got.shape == expected.shape
    assert_close(got, expected, dtype)


# ---------------------------------------------------------------- the advantage estimator


@st.composite
def rredcot_batch(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b = draw(st.integers(1, 8))
    t = draw(st.integers(1, 9))
    dtype = draw(DTYPES)
    r = rng.normal(size=(b, t)).astype(dtype)
    lengths = rng.integers(0, t + 1, size=b)
    lengths[rng.random(b) < 0.2] = 1
    m = np.arange(t)[None, :] < lengths[:, None]
    if draw(st.booleans()):
        m &= rng.random((b, t)) > 0.2  # holes (multi-turn observations)
    m = m.astype(draw(st.sampled_from([np.bool_, np.int64, np.float32])))
    n_groups = draw(st.integers(1, b))
    ids = rng.integers(0, n_groups, size=b)
    index = draw(st.sampled_from(["int", "str"]))
    ids = [f"uid{i}" for i in ids] if index == "str" else ids
    return r, m, ids, dtype


@given(batch=rredcot_batch(), norm=st.booleans(), use_index=st.booleans(), use_torch=st.booleans())
def test_rredcot_advantages_match_numpy(batch, norm, use_index, use_torch):
    r, m, ids, dtype = batch
    got = credit.rredcot(maybe_torch(r, use_torch), maybe_torch(m, use_torch), ids if use_index else None, norm_by_std=norm, epsilon=1e-6)
    if use_torch:
        assert isinstance(got, torch.Tensor)
        got = got.numpy()
    assert got.dtype == dtype and got.shape == r.shape
    rtg = ref_reward_to_go(r, m.astype(bool))
    if use_index and norm:
        totals = [math.fsum(float(x) for x, on in zip(r[i], m[i]) if on) for i in range(r.shape[0])]
        groups: dict = {}
        for i, g in enumerate(ids):
            groups.setdefault(g, []).append(totals[i])
        for i, g in enumerate(ids):
            members = groups[g]
            std = 1.0 if len(members) == 1 else float(np.std(members, ddof=1))
            rtg[i] /= std + 1e-6
    assert_close(got, rtg, dtype, scale=r.shape[1] * 1e3)


def test_rredcot_ragged_equals_padded():
    rng = np.random.default_rng(5)
    lens = np.array([0, 1, 4, 7, 7])
    r = rng.normal(size=(5, 7))
    m = np.arange(7)[None, :] < lens[:, None]
    off = np.concatenate([[0], np.cumsum(lens)])
    flat = r[m]
    padded = credit.rredcot(r, m, [0, 0, 1, 1, 1])
    ragged = credit.rredcot(flat, np.ones_like(flat, dtype=bool), [0, 0, 1, 1, 1], offsets=off)
    np.testing.assert_array_equal(ragged, padded[m])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_end_to_end_last_mode_gives_return_minus_state_value(dtype):
    """segment -> values -> token rewards (mode last) -> rredcot: every token of segment k gets
    R − V̂(s_k), which a loop computes directly."""
    rng = np.random.default_rng(11)
    b, t = 6, 30
    tok = rng.integers(0, 8, size=(b, t))
    lengths = np.array([0, 1, 30, 17, 5, 29])
    seg = rd.segment(tok, lengths=lengths, delimiters=[3], min_len=2, max_len=8)
    values = rng.random(seg.total).astype(dtype)
    outcome = rng.choice([0.0, 1.0], size=b).astype(dtype)
    rewards = rd.rredcot_token_rewards(values, outcome, seg, shape=(b, t), mode="last")
    mask = np.arange(t)[None, :] < lengths[:, None]
    adv = credit.rredcot(rewards, mask)
    expected = np.zeros((b, t))
    for i in range(b):
        start = 0
        for k in range(seg.offsets[i], seg.offsets[i + 1]):
            expected[i, start:seg.ends[k]] = float(outcome[i]) - float(values[k])
            start = seg.ends[k]
    assert_close(adv, expected, dtype)
    # uniform spreading keeps each row's token sum at R − V̂(s_0)
    uni = rd.rredcot_token_rewards(values, outcome, seg, shape=(b, t), mode="uniform")
    for i in range(b):
        if lengths[i]:
            assert float(uni[i].astype(np.float64).sum()) == pytest.approx(float(outcome[i]) - float(values[seg.offsets[i]]), abs=1e-5)


# ---------------------------------------------------------------- errors name their argument

TOK = np.array([[1, 2, 3], [2, 2, 0]])
ENT = np.ones((2, 3), dtype=np.float32)
SEG = rd.Segments(np.array([1, 3, 2]), np.array([0, 2, 3]))
V = np.array([0.1, 0.2, 0.3])
R = np.array([1.0, 0.0])

ERRORS = [
    ("tokens", lambda: rd.segment(delimiters=[2])),
    ("tokens", lambda: rd.segment()),
    ("tokens", lambda: rd.segment(TOK.astype(np.float64), delimiters=[2])),
    ("tokens", lambda: rd.segment(TOK.ravel(), delimiters=[2])),
    ("tokens", lambda: rd.segment([[1, 2]], delimiters=[2])),
    ("tokens", lambda: rd.segment(TOK, offsets=np.array([0, 3, 6]), delimiters=[2])),
    ("threshold", lambda: rd.segment(TOK, entropy=ENT, delimiters=[2])),
    ("threshold", lambda: rd.segment(entropy=ENT, threshold="high")),
    ("threshold", lambda: rd.segment(entropy=ENT, threshold=float("nan"))),
    ("entropy", lambda: rd.segment(TOK, delimiters=[2], threshold=1.0)),
    ("entropy", lambda: rd.segment(TOK, entropy=ENT[:, :2], delimiters=[2], threshold=1.0)),
    ("entropy", lambda: rd.segment(entropy=TOK, threshold=1.0)),
    ("entropy", lambda: rd.segment(entropy=np.array([[0.0, np.nan]]), threshold=1.0)),
    ("delimiters", lambda: rd.segment(TOK, delimiters=[1.5])),
    ("delimiters", lambda: rd.segment(TOK, delimiters=[[1]])),
    ("min_len", lambda: rd.segment(TOK, delimiters=[2], min_len=0)),
    ("min_len", lambda: rd.segment(TOK, delimiters=[2], min_len=4, max_len=3)),
    ("min_len", lambda: rd.segment(TOK, delimiters=[2], min_len=1.5)),
    ("max_len", lambda: rd.segment(TOK, delimiters=[2], max_len=-1)),
    ("lengths", lambda: rd.segment(TOK, delimiters=[2], lengths=[1, 4])),
    ("lengths", lambda: rd.segment(TOK, delimiters=[2], lengths=[1])),
    ("lengths", lambda: rd.segment(TOK, delimiters=[2], lengths=[1, -1])),
    ("offsets", lambda: rd.segment(TOK.ravel(), delimiters=[2], offsets=[0, 4, 5])),
    ("offsets", lambda: rd.segment(TOK.ravel(), delimiters=[2], offsets=[1, 6])),
    ("batch", lambda: rd.segment(np.zeros((0, 3), dtype=np.int64), delimiters=[2])),
    ("token_logp", lambda: rd.sequence_logprob(np.array([[0.0, np.nan]]))),
    ("token_logp", lambda: rd.sequence_logprob(np.array([[0.0, np.inf]]))),
    ("token_logp", lambda: rd.sequence_logprob(np.array([1, 2]))),
    ("token_logp", lambda: rd.sequence_logprob(np.zeros(3))),
    ("lengths", lambda: rd.sequence_logprob(np.zeros((2, 3)), lengths=[4, 0])),
    ("log_pi", lambda: rd.log_value_is(np.zeros(3), np.zeros(3), np.ones(3))),
    ("log_pi", lambda: rd.log_value_is(np.array([[np.nan, 0.0]]), np.zeros(2), np.ones(2))),
    ("log_pi", lambda: rd.log_value_is(np.array([[np.inf, 0.0]]), np.zeros(2), np.ones(2))),
    ("log_q", lambda: rd.log_value_is(np.zeros((2, 3)), np.zeros(2), np.ones(3))),
    ("log_q", lambda: rd.log_value_is(np.zeros((2, 3)), np.zeros((3, 2)), np.ones(3))),
    ("log_q", lambda: rd.log_value_is(np.zeros((2, 3)), np.array([0.0, -np.inf, 0.0]), np.ones(3))),
    ("log_q", lambda: rd.value_is(np.zeros((2, 3)), np.zeros(3, dtype=np.float32), np.ones(3))),
    ("utility", lambda: rd.log_value_is(np.zeros((2, 3)), np.zeros(3), np.ones(2))),
    ("utility", lambda: rd.log_value_is(np.zeros((2, 3)), np.zeros(3), np.array([1.0, -1.0, 0.0]))),
    ("utility", lambda: rd.log_value_is(np.zeros((2, 3)), np.zeros(3), np.array([1.0, np.nan, 0.0]))),
    ("completions", lambda: rd.log_value_is(np.zeros((2, 0)), np.zeros(0), np.ones(0))),
    ("states", lambda: rd.log_value_is(np.zeros((0, 2)), np.zeros(2), np.ones(2))),
    ("values", lambda: rd.redistribute(V[:2], SEG, R)),
    ("values", lambda: rd.redistribute(np.array([0.1, np.nan, 0.3]), SEG, R)),
    ("values", lambda: rd.redistribute(V.reshape(3, 1), SEG, R)),
    ("values", lambda: rd.redistribute([0.1, 0.2, 0.3], SEG, R)),
    ("outcome", lambda: rd.redistribute(V, SEG, R[:1])),
    ("outcome", lambda: rd.redistribute(V, SEG, np.array([1.0, np.inf]))),
    ("outcome", lambda: rd.redistribute(V, SEG, R.astype(np.float32))),
    ("outcome", lambda: rd.redistribute(np.zeros(0), np.array([0]), np.zeros(0))),
    ("seg_offsets", lambda: rd.redistribute(V, np.array([0, 3, 2]), R)),
    ("seg_offsets", lambda: rd.redistribute(V, np.array([0.0, 2.0, 3.0]), R)),
    ("segments", lambda: rd.spread_to_tokens(V, "not segments", shape=(2, 3))),
    ("segments", lambda: rd.spread_to_tokens(V, SEG, shape=(3, 3))),
    ("segments", lambda: rd.spread_to_tokens(V, SEG, shape=(2, 2))),
    ("segments", lambda: rd.spread_to_tokens(V, rd.Segments(np.array([2, 1, 2]), np.array([0, 2, 3])), shape=(2, 3))),
    ("segment_rewards", lambda: rd.spread_to_tokens(V[:2], SEG, shape=(2, 3))),
    ("segment_rewards", lambda: rd.spread_to_tokens(V.astype(np.int64), SEG, shape=(2, 3))),
    ("shape", lambda: rd.spread_to_tokens(V, SEG)),
    ("shape", lambda: rd.spread_to_tokens(V, SEG, shape=(2, -3))),
    ("shape", lambda: rd.spread_to_tokens(V, SEG, shape=(2, 3, 1))),
    ("offsets", lambda: rd.spread_to_tokens(V, SEG, shape=(2, 3), offsets=[0, 3, 5])),
    ("offsets", lambda: rd.spread_to_tokens(V, SEG, offsets=[0, 3, 2])),
    ("mode", lambda: rd.spread_to_tokens(V, SEG, shape=(2, 3), mode="first")),
    ("mode", lambda: rd.rredcot_token_rewards(V, R, SEG, shape=(2, 3), mode="sum")),
    ("segments", lambda: rd.rredcot_token_rewards(V, R, SEG, shape=(2, 2))),
    ("values", lambda: rd.rredcot_token_rewards(V[:2], R, SEG, shape=(2, 3))),
    ("outcome", lambda: rd.rredcot_token_rewards(V, R[:1], SEG, shape=(2, 3))),
    ("outcome", lambda: rd.rredcot_token_rewards(V, R.astype(np.float32), SEG, shape=(2, 3))),
    ("ends", lambda: rd.Segments(np.array([1.5]), np.array([0, 1]))),
    ("token_rewards", lambda: credit.rredcot(np.zeros(3), np.ones(3))),
    ("token_rewards", lambda: credit.rredcot(np.zeros((2, 3), dtype=np.int64), np.ones((2, 3)))),
    ("mask", lambda: credit.rredcot(np.zeros((2, 3)), None)),
    ("mask", lambda: credit.rredcot(np.zeros((2, 3)), np.ones((2, 2)))),
    ("mask", lambda: credit.rredcot(np.zeros((2, 3)), np.full((2, 3), 2.0))),
    ("index", lambda: credit.rredcot(np.zeros((2, 3)), np.ones((2, 3)), [0])),
    ("epsilon", lambda: credit.rredcot(np.zeros((2, 3)), np.ones((2, 3)), [0, 0], epsilon=-1.0)),
    ("epsilon", lambda: credit.rredcot(np.zeros((2, 3)), np.ones((2, 3)), [0, 0], epsilon=float("nan"))),
]


@pytest.mark.parametrize("arg,call", ERRORS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ERRORS)])
def test_errors_name_their_argument(arg, call):
    with pytest.raises(InvalidInputError) as e:
        call()
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"{arg}:"), str(e.value)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_torch_segment_and_spread():
    tok = torch.tensor([[1, 9, 2, 9], [9, 1, 1, 1]])
    seg = rd.segment(tok, delimiters=torch.tensor([9]), lengths=torch.tensor([4, 2]))
    np.testing.assert_array_equal(seg.ends, [2, 4, 1, 2])
    r = rd.spread_to_tokens(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64), seg, shape=tok.shape, mode="last")
    assert isinstance(r, torch.Tensor) and r.dtype == torch.float64
    assert r.tolist() == [[0.0, 1.0, 0.0, 2.0], [3.0, 4.0, 0.0, 0.0]]
    with pytest.raises(InvalidInputError, match="^segment_rewards: must be contiguous"):
        rd.spread_to_tokens(torch.zeros(8, dtype=torch.float64)[::2], seg, shape=(2, 4))
