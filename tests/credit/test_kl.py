"""KL penalty estimators with each stack's clamps, against refs.kl."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import refs
from rewardlab import credit
from tolerances import assert_close


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["k1", "abs", "k2", "k3"]),
    st.sampled_from(["none", "verl", "openrlhf"]),
    st.sampled_from([np.float32, np.float64]),
)
def test_kl_matches_reference(seed, est, clamp, dtype):
    rng = np.random.default_rng(seed)
    # log ratios up to ±30 reach every clamp
    lp = (rng.normal(size=(5, 7)) * 10 - 5).astype(dtype)
    rp = (rng.normal(size=(5, 7)) * 10 - 5).astype(dtype)
    out = credit.kl_penalty(lp, rp, est, clamp)
    ref = refs.kl(lp, rp, est, clamp)
    # exp of up to 20 in float32: compare relative
    assert_close(out, ref, dtype, scale=float(np.abs(ref).max() + 1))


def test_kl_estimator_aliases():
    lp, rp = np.array([-1.0, -2.0]), np.array([-1.5, -0.5])
    np.testing.assert_array_equal(credit.kl_penalty(lp, rp, "low_var_kl"), credit.kl_penalty(lp, rp, "k3"))
    np.testing.assert_array_equal(credit.kl_penalty(lp, rp, "mse"), credit.kl_penalty(lp, rp, "k2"))
    np.testing.assert_array_equal(credit.kl_penalty(lp, rp, "kl"), credit.kl_penalty(lp, rp, "k1"))


def test_kl_keeps_nan():
    out = credit.kl_penalty(np.array([np.nan]), np.array([0.0]), "k3", "openrlhf")
    assert np.isnan(out[0])
