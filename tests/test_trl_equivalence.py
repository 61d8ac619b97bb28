"""rewardlab.credit.trl.grpo_advantages against TRL 1.16.0's inline GRPO block, run from its source."""

import numpy as np
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from reference_stacks import trl_grpo_block
from rewardlab.credit import trl as ours

run_trl = trl_grpo_block()


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    # the kernel specialises group sizes 2, 4, 8, 16, ... and sums groups in lanes of eight
    st.sampled_from([1, 2, 3, 4, 5, 8, 9, 16, 17]),
    st.integers(1, 5),
    st.sampled_from(["group", "batch", "none"]),
    st.sampled_from(["sum_then_normalize", "normalize_then_sum"]),
    st.floats(0.0, 0.4),
    st.sampled_from([np.float32, np.float64]),
)
@example(seed=0, prompts=1, g=2, k=1, scale="batch", aggregation="sum_then_normalize", nan_rate=0.25, dtype=np.float32)  # one scorable reward
@example(seed=4294967294, prompts=1, g=3, k=1, scale="group", aggregation="sum_then_normalize", nan_rate=0.0, dtype=np.float32)  # float32 mean rounds
def test_grpo_advantages(seed, prompts, g, k, scale, aggregation, nan_rate, dtype):
    rng = np.random.default_rng(seed)
    rpf = rng.choice([0.0, 1.0, 0.5, -2.0], size=(prompts * g, k)).astype(dtype)
    rpf[rng.random(rpf.shape) < nan_rate] = np.nan  # reward functions that returned None
    w = rng.uniform(0.5, 2.0, size=k).astype(dtype)
    t = torch.from_numpy(rpf)
    ref_adv, ref_zero = run_trl(t.clone(), w, g, scale, aggregation)
    adv, zero = ours.grpo_advantages(t, w, g, scale, aggregation)
    # Documented difference (docs/credit.md): TRL takes the mean of a constant group in float32,
    # whose rounding can leave a std of ~1e-7, so it flags the group as not constant and returns
    # advantages of ~-1e-3 instead of 0. rewardlab accumulates in float64 and gets exactly 0.
    scope = np.zeros(len(rpf), dtype=int) if scale == "batch" or aggregation == "normalize_then_sum" else np.arange(len(rpf)) // g
    exact_constant = np.array([
        all(np.array_equal(rpf[j], rpf[i], equal_nan=True) for j in np.nonzero(scope == scope[i])[0]) for i in range(len(rpf))
    ])
    differs = (zero != ref_zero).numpy()
    assert (exact_constant[differs]).all() and zero.numpy()[differs].all()
    assert (adv.numpy()[differs] == 0).all() and (ref_adv.abs().numpy()[differs] < 2e-3).all()
    keep = torch.from_numpy(~differs)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert adv.dtype == ref_adv.dtype
    torch.testing.assert_close(adv[keep], ref_adv[keep], rtol=tol, atol=tol)
    assert torch.equal(zero[keep], ref_zero[keep])


@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.sampled_from(["group", "batch", "none"]))
def test_infinite_rewards_count_as_unscored(seed, g, scale):
    """Documented difference: a +/-inf reward is left out like NaN (TRL would turn its whole
    group into NaN, then 0). With one reward function, that is TRL's result with the infinities
    replaced by NaN."""
    rng = np.random.default_rng(seed)
    rpf = rng.normal(size=(3 * g, 1)).astype(np.float32)
    rpf[rng.random(rpf.shape) < 0.3] = np.inf
    rpf[rng.random(rpf.shape) < 0.2] = -np.inf
    as_nan = np.where(np.isinf(rpf), np.nan, rpf)
    ref_adv, ref_zero = run_trl(torch.from_numpy(as_nan), np.ones(1, np.float32), g, scale, "sum_then_normalize")
    adv, zero = ours.grpo_advantages(torch.from_numpy(rpf), [1.0], g, scale)
    torch.testing.assert_close(adv, ref_adv, rtol=1e-5, atol=1e-5)
    assert torch.equal(zero, ref_zero)
