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


def test_outputs_are_fully_written_into_reused_buffers():
    # Outputs are allocated without zeroing, and large freed blocks are kept for the next call
    # (rewardlab_core::retain): any element a kernel failed to write would show a stale value.
    rng = np.random.default_rng(7)
    b, t = 512, 1024  # 2 MiB of float32 per output, above the size that is kept
    for _ in range(2):
        junk = credit.gae(np.full((b, t), 1e30, np.float32), np.full((b, t), 1e30, np.float32), gamma=1.0, lam=1.0)
        junk2 = credit.discounted_returns(np.full((b, t), -7e29, np.float32), gamma=1.0)
        del junk, junk2
        r = rng.normal(size=(b, t)).astype(np.float32)
        v = rng.normal(size=(b, t)).astype(np.float32)
        lengths = rng.integers(0, t + 1, size=b)
        m = np.arange(t)[None, :] < lengths[:, None]
        m[::3] &= rng.random((m[::3].shape)) > 0.1  # every third row with holes
        for mode in ("carry", "zero"):
            adv, ret = credit.gae(r, v, m, gamma=0.99, lam=0.95, masked_steps=mode)
            ref_adv, ref_ret = refs.gae(r[:8].astype(np.float64), v[:8].astype(np.float64), m[:8], 0.99, 0.95, mode)
            assert_close(adv[:8], ref_adv, np.float32, scale=t)
            assert_close(ret[:8], ref_ret, np.float32, scale=t)
            assert np.abs(adv).max() < 1e6 and np.abs(ret).max() < 1e6  # no stale 1e30 anywhere
            out = credit.discounted_returns(r, m, gamma=0.99, masked_steps=mode)
            assert np.isfinite(out).all() and np.abs(out).max() < 1e6
    credit.release_buffers()
