"""rewardlab.credit.verl against the real verl 0.9.1 functions, on hypothesis batches including
the edge cases of anchors.md §2.8 (singletons, constant groups, holes, interleaved uids)."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference_stacks import verl
from rewardlab.credit import verl as ours
from strategies import group_ids, padded_batch

V = verl()
core = V.core_algos


def assert_same(a, b, dtype, f64_rtol=1e-10):
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape
    if dtype == torch.float32:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    else:
        torch.testing.assert_close(a, b, rtol=f64_rtol, atol=1e-12)


# verl's group constants are float32 tensors even for float64 scores (torch.tensor(1.0) + 1e-6 for a
# singleton's std, torch.tensor(0.0) for its mean), so float64 results agree to float32 precision there.
F64_GROUP_RTOL = 1e-7


def tensors(batch):
    r, v, m = batch
    return torch.from_numpy(r), torch.from_numpy(v), torch.from_numpy(m.astype(np.int64))


@given(padded_batch(min_rows=2), st.sampled_from([1.0, 0.99]), st.sampled_from([1.0, 0.95]))
def test_gae(batch, gamma, lam):
    r, v, m = tensors(batch)
    if m.sum() < 2:
        with pytest.raises(ValueError):
            core.compute_gae_advantage_return(r, v, m, gamma, lam)
        with pytest.raises(ValueError):
            ours.compute_gae_advantage_return(r, v, m, gamma, lam)
        return
    ref = core.compute_gae_advantage_return(r, v, m, gamma, lam)
    got = ours.compute_gae_advantage_return(r, v, m, gamma, lam)
    assert_same(got[0], ref[0], r.dtype)
    # the returns are the unwhitened scan: same operations in the same order, so the same bits
    torch.testing.assert_close(got[1], ref[1], rtol=0, atol=0, equal_nan=True)


def _outcome_batch(data, continuous):
    r, _, m = data.draw(padded_batch(min_rows=1, max_rows=12, holes=False))
    n = r.shape[0]
    ids = data.draw(group_ids(n))
    rng = np.random.default_rng(n)
    scores = rng.normal(size=n) if continuous else rng.choice([0.0, 0.5, 1.0], size=n)  # dyadic: exact ties
    tr = np.zeros_like(r)
    tr[:, -1] = scores  # verl's reward manager writes at the last position
    return torch.from_numpy(tr), torch.from_numpy(m.astype(np.int64)), ids


@pytest.mark.parametrize("fn", ["compute_grpo_outcome_advantage", "compute_grpo_vectorized_outcome_advantage"])
@given(data=st.data(), norm=st.booleans(), continuous=st.booleans())
def test_grpo(fn, data, norm, continuous):
    r, m, ids = _outcome_batch(data, continuous)
    if "vectorized" in fn and ids.dtype != object:
        ids = ids - ids.min()  # verl's vectorised index crashes on negative integer uids; ours does not
    ref = getattr(core, fn)(r, m, ids, norm_adv_by_std_in_grpo=norm)
    got = getattr(ours, fn)(r, m, ids, norm_adv_by_std_in_grpo=norm)
    # the vectorised reference computes its group statistics in float32 whatever the input dtype
    precision = torch.float32 if "vectorized" in fn else r.dtype
    assert_same(got[0], ref[0].to(got[0].dtype), precision, F64_GROUP_RTOL)
    assert got[0] is got[1]


@pytest.mark.parametrize(
    "fn", ["compute_rloo_outcome_advantage", "compute_rloo_vectorized_outcome_advantage", "compute_reinforce_plus_plus_baseline_outcome_advantage"]
)
@given(data=st.data(), continuous=st.booleans())
def test_group_baselines(fn, data, continuous):
    r, m, ids = _outcome_batch(data, continuous)
    if "vectorized" in fn and ids.dtype != object:
        ids = ids - ids.min()
    if fn.startswith("compute_reinforce") and m.sum() < 2:
        return  # verl's masked_whiten raises; covered by test_errors
    ref = getattr(core, fn)(r, m, ids, config=None)
    got = getattr(ours, fn)(r, m, ids, config=None)
    if fn.startswith("compute_reinforce") and _whitens_a_constant(r, m, ids):
        # Documented difference: whitening identical values gives exactly 0 here (float64
        # moments); verl returns its float32 rounding residue amplified by rsqrt(0 + 1e-8).
        assert (got[0] == 0).all()
        assert ref[0].abs().max() < 1e-2
        return
    precision = torch.float32 if "vectorized" in fn else r.dtype
    assert_same(got[0], ref[0].to(got[0].dtype), precision, F64_GROUP_RTOL)


def _whitens_a_constant(r, m, ids):
    """True when every valid token gets the same baseline-subtracted score (numpy, float64)."""
    scores = r.double().sum(-1).numpy()  # verl scores a row by its unmasked sum
    keys = [str(i) for i in ids]
    members = {k: [s for s, kk in zip(scores, keys) if kk == k] for k in set(keys)}
    means = {k: np.mean(v) if len(v) > 1 else 0.0 for k, v in members.items()}  # verl: singleton baseline 0
    centred = np.array([s - means[k] for s, k in zip(scores, keys)])
    valid_rows = m.numpy().sum(-1) > 0
    return np.ptp(centred[valid_rows]) == 0


@given(padded_batch(min_rows=2), st.sampled_from([1.0, 0.9]))
def test_reinforce_plus_plus(batch, gamma):
    r, _, m = tensors(batch)
    if m.sum() < 2:
        return
    cfg = type("Cfg", (), {"gamma": gamma})()
    ref = core.compute_reinforce_plus_plus_outcome_advantage(r, m, config=cfg)
    got = ours.compute_reinforce_plus_plus_outcome_advantage(r, m, config=cfg)
    assert_same(got[0], ref[0], r.dtype)
    torch.testing.assert_close(got[1], ref[1], rtol=0, atol=0, equal_nan=True)  # unwhitened: same bits


@given(st.integers(0, 2**32 - 1), st.sampled_from(["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "k3+", "k1+"]),
       st.sampled_from([torch.float32, torch.float64]))
def test_kl_penalty_values(seed, name, dtype):
    g = torch.Generator().manual_seed(seed)
    lp = (torch.randn(4, 9, generator=g, dtype=dtype) * 12) - 5
    rp = (torch.randn(4, 9, generator=g, dtype=dtype) * 12) - 5
    ref = core.kl_penalty(lp, rp, name)
    got = ours.kl_penalty(lp, rp, name)
    torch.testing.assert_close(got, ref, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-5 if dtype == torch.float32 else 1e-12)


@pytest.mark.parametrize("name", ["k1", "abs", "k2", "k3", "k3+", "abs+"])
def test_kl_penalty_gradients(name):
    g = torch.Generator().manual_seed(0)
    base_lp = torch.randn(3, 50, generator=g, dtype=torch.float64) * 15
    base_rp = torch.randn(3, 50, generator=g, dtype=torch.float64) * 15
    grads = []
    for fn in (core.kl_penalty, ours.kl_penalty):
        lp, rp = base_lp.clone().requires_grad_(True), base_rp.clone().requires_grad_(True)
        fn(lp, rp, name).sum().backward()
        grads.append((lp.grad, rp.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


@given(padded_batch(min_rows=2), st.booleans())
def test_masked_whiten(batch, shift_mean):
    r, _, m = tensors(batch)
    if m.sum() < 2:
        return
    assert_same(ours.masked_whiten(r, m, shift_mean), V.masked_whiten(r, m, shift_mean), r.dtype)


def test_noncontiguous_mask_view_like_verl_passes():
    # verl slices response_mask = attention_mask[:, -response_length:]: a non-contiguous view
    attn = torch.ones(4, 10, dtype=torch.int64)
    m = attn[:, -6:]
    r, v = torch.randn(4, 6), torch.randn(4, 6)
    ref = core.compute_gae_advantage_return(r, v, m, 1.0, 1.0)
    got = ours.compute_gae_advantage_return(r, v, m, 1.0, 1.0)
    assert_same(got[0], ref[0], torch.float32)


def test_constant_non_dyadic_group_documented_difference():
    r = torch.zeros(8, 4)
    r[:, -1] = 0.35
    m = torch.ones(8, 4, dtype=torch.int64)
    ids = np.array(["u"] * 8, dtype=object)
    ref = core.compute_grpo_outcome_advantage(r, m, ids)[0]
    got = ours.compute_grpo_outcome_advantage(r, m, ids)[0]
    assert torch.all(got == 0)
    assert torch.all(ref.abs() < 0.1)  # verl: float32 residue / 1e-6, rounding noise
