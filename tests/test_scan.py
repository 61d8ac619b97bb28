"""GAE and discounted returns against the numpy loops in refs.py, padded and ragged."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refs
from rewardlab import credit
from strategies import padded_batch
from tolerances import assert_close

GAMMAS = st.sampled_from([1.0, 0.99, 0.9])
LAMS = st.sampled_from([1.0, 0.95, 0.5])


@given(padded_batch(), GAMMAS, LAMS, st.sampled_from(["carry", "zero"]))
def test_gae_matches_reference(batch, gamma, lam, mode):
    r, v, m = batch
    adv, ret = credit.gae(r, v, m, gamma=gamma, lam=lam, masked_steps=mode)
    ref_adv, ref_ret = refs.gae(r.astype(np.float64), v.astype(np.float64), m, gamma, lam, mode)
    assert adv.dtype == r.dtype and adv.shape == r.shape
    assert_close(adv, ref_adv, r.dtype, scale=r.shape[1])
    assert_close(ret, ref_ret, r.dtype, scale=r.shape[1])


@given(padded_batch(), GAMMAS, st.sampled_from(["carry", "zero"]))
def test_returns_match_reference(batch, gamma, mode):
    r, _, m = batch
    out = credit.discounted_returns(r, m, gamma=gamma, masked_steps=mode)
    assert_close(out, refs.returns(r.astype(np.float64), m, gamma, mode), r.dtype, scale=r.shape[1])


def _ragged(r, v, m):
    """Drop the trailing pads of each row: same data as a ragged batch (empty rows included)."""
    lengths = [int(np.nonzero(row)[0].max()) + 1 if row.any() else 0 for row in m.astype(bool)]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = lambda a: np.concatenate([a[i, :n] for i, n in enumerate(lengths)]).astype(a.dtype)
    return flat(r), flat(v), flat(m), offsets, lengths


@given(padded_batch(), GAMMAS, LAMS)
def test_ragged_equals_padded(batch, gamma, lam):
    r, v, m = batch
    fr, fv, fm, offsets, lengths = _ragged(r, v, m)
    adv, ret = credit.gae(r, v, m, gamma=gamma, lam=lam)
    radv, rret = credit.gae(fr, fv, fm, offsets=offsets, gamma=gamma, lam=lam)
    rg = credit.discounted_returns(fr, fm, offsets=offsets, gamma=gamma)
    g = credit.discounted_returns(r, m, gamma=gamma)
    for i, n in enumerate(lengths):
        sl = slice(offsets[i], offsets[i + 1])
        # valid tokens see identical inputs in both layouts, so the outputs agree exactly
        on = m[i, :n].astype(bool)
        np.testing.assert_array_equal(radv[sl][on], adv[i, :n][on])
        np.testing.assert_array_equal(rret[sl][on], ret[i, :n][on])
        np.testing.assert_array_equal(rg[sl], g[i, :n])


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    r = torch.randn(3, 5)
    adv, ret = credit.gae(r, torch.zeros(3, 5), torch.ones(3, 5, dtype=torch.bool), gamma=1.0, lam=1.0)
    assert isinstance(adv, torch.Tensor) and adv.dtype == torch.float32
    # gamma = lam = 1 with zero values: the advantage is the reward-to-go
    np.testing.assert_allclose(adv.numpy(), np.flip(np.cumsum(np.flip(r.numpy(), 1), 1), 1), rtol=1e-5, atol=1e-6)


def test_no_nan_leaks_from_masked_positions():
    r = np.array([[1.0, np.nan, 2.0]], dtype=np.float32)
    v = np.array([[0.5, np.inf, 0.25]], dtype=np.float32)
    m = np.array([[1, 0, 1]], dtype=np.int64)
    adv, _ = credit.gae(r, v, m, gamma=0.9, lam=0.9)
    assert np.isfinite(adv[0, [0, 2]]).all()
