"""rewardlab.credit.trl.grpo_advantages against TRL 1.16.0's inline GRPO block, run from its source."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference_stacks import trl_grpo_block
from rewardlab.credit import trl as ours

run_trl = trl_grpo_block()


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 3),
    st.sampled_from(["group", "batch", "none"]),
    st.sampled_from(["sum_then_normalize", "normalize_then_sum"]),
    st.floats(0.0, 0.4),
)
def test_grpo_advantages(seed, prompts, g, k, scale, aggregation, nan_rate):
    rng = np.random.default_rng(seed)
    rpf = rng.choice([0.0, 1.0, 0.5, -2.0], size=(prompts * g, k)).astype(np.float32)
    rpf[rng.random(rpf.shape) < nan_rate] = np.nan  # reward functions that returned None
    w = rng.uniform(0.5, 2.0, size=k).astype(np.float32)
    t = torch.from_numpy(rpf)
    ref_adv, ref_zero = run_trl(t.clone(), w, g, scale, aggregation)
    adv, zero = ours.grpo_advantages(t, w, g, scale, aggregation)
    torch.testing.assert_close(adv, ref_adv, rtol=1e-5, atol=1e-5)
    assert torch.equal(zero, ref_zero)
