"""Masked whitening (verl and OpenRLHF conventions) against refs.whiten."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import refs
from rewardlab import InvalidInputError, credit
from strategies import padded_batch
from tolerances import assert_close


@given(padded_batch(), st.sampled_from(["verl", "openrlhf"]), st.booleans(), st.booleans())
def test_whiten_matches_reference(batch, style, shift_mean, remask):
    x, _, m = batch
    assume(m.astype(bool).sum() >= 2)
    base = credit.VERL_WHITEN if style == "verl" else credit.OPENRLHF_WHITEN
    spec = credit.WhitenSpec(**{**base.__dict__, "shift_mean": shift_mean, "remask": remask})
    out = credit.masked_whiten(x, m, spec)
    ref = refs.whiten(
        x.astype(np.float64), m, unbiased=spec.unbiased, count_eps=spec.count_eps, eps=spec.eps,
        floor=spec.eps_mode == "floor", shift_mean=shift_mean, remask=remask,
    )
    assert_close(out, ref, x.dtype, scale=10)


def test_whiten_is_zero_mean_unit_variance_over_mask():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(64, 128))
    m = rng.random((64, 128)) > 0.3
    out = credit.masked_whiten(x, m)
    sel = out[m]
    assert abs(sel.mean()) < 1e-9
    assert abs(sel.std(ddof=1) - 1.0) < 1e-6


@pytest.mark.parametrize("n_on", [0, 1])
def test_whiten_needs_two_tokens(n_on):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = np.zeros((2, 3), dtype=bool)
    m.flat[:n_on] = True
    with pytest.raises(InvalidInputError, match="mask"):
        credit.masked_whiten(x, m)


def test_whiten_is_stable_for_large_offsets():
    # one-pass E[x^2] - E[x]^2 would lose every digit here
    x = (1e6 + np.random.default_rng(1).normal(size=(8, 1000))).astype(np.float64)
    out = credit.masked_whiten(x, np.ones_like(x, dtype=bool))
    assert abs(out.std(ddof=1) - 1.0) < 1e-6


@pytest.mark.parametrize("value", [1 / 3, 0.1, -2.7e5, 1.9394476])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("style", ["verl", "openrlhf"])
def test_whitening_identical_values_gives_exactly_zero(value, dtype, style):
    # A plain sum of 14 copies of 1/3 need not divide back to 1/3, and rsqrt(0 + 1e-8) = 1e4
    # would amplify that last-bit residue (hypothesis found it in the REINFORCE++-baseline test).
    # verl with its usual integer mask: the count's 1e-8 vanishes in float32, so the mean is the
    # value itself (with a float64 mask verl's mean is shifted by design, and so is ours).
    spec = credit.WhitenSpec(f32_counts=True) if style == "verl" else credit.OPENRLHF_WHITEN
    spec = credit.WhitenSpec(**{**spec.__dict__, "remask": True})
    x = np.full((3, 6), value, dtype=dtype)
    m = np.zeros((3, 6), dtype=np.int64)
    m[0, :5], m[1, :6], m[2, :3] = 1, 1, 1
    assert (credit.masked_whiten(x, m, spec) == 0).all()
    # the same through the broadcast path, whose moments come from the rows' token counts
    from rewardlab import _core

    assert (_core.broadcast_rows(np.full(3, value, dtype=dtype), m, None, whiten=spec.as_tuple()) == 0).all()
