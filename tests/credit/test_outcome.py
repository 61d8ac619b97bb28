"""Group statistics and outcome advantages (GRPO, Dr.GRPO, RLOO, mean baseline) against refs.outcome."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refs
from rewardlab import credit
from strategies import group_ids, outcome_scores
from tolerances import assert_close


@st.composite
def outcome_case(draw):
    n = draw(st.integers(1, 24))
    return draw(outcome_scores(n)), draw(group_ids(n)), draw(st.sampled_from([np.float32, np.float64]))


def _token_batch(scores, dtype, t=4):
    """Scores as token rewards on the last valid token of a right-padded batch."""
    n = len(scores)
    lengths = np.random.default_rng(n).integers(1, t + 1, size=n)
    mask = np.arange(t)[None, :] < lengths[:, None]
    r = np.zeros((n, t), dtype=dtype)
    r[np.arange(n), lengths - 1] = scores
    return r, mask


@given(outcome_case(), st.sampled_from(["grpo", "rloo", "mean_baseline"]), st.booleans(), st.sampled_from(["pass", "zero"]))
def test_outcome_matches_reference(case, estimator, scale, singleton):
    scores, ids, dtype = case
    r, mask = _token_batch(scores, dtype)
    res = credit.outcome_advantages(r, mask, ids, estimator=estimator, scale_by_std=scale, singleton=singleton, mask_zero_variance=True)
    ref = refs.outcome(scores.astype(dtype).astype(np.float64), list(ids), estimator=estimator, scale=scale, singleton=singleton, mask_zero_variance=True)
    assert_close(res.scalar, ref, dtype, scale=10)
    assert_close(res.token, ref[:, None] * mask, dtype, scale=10)


@given(outcome_case())
def test_group_stats_match_numpy(case):
    scores, ids, dtype = case
    s = scores.astype(dtype)
    st_ = credit.group_stats(s, ids)
    for code, label in enumerate(dict.fromkeys(ids.tolist())):
        members = s[[i for i, k in enumerate(ids.tolist()) if k == label]].astype(np.float64)
        assert st_.count[code] == members.size
        np.testing.assert_allclose(st_.mean[code], members.mean(), rtol=1e-12)
        if members.size > 1:
            np.testing.assert_allclose(st_.std[code], members.std(ddof=1), rtol=1e-9, atol=1e-12)
        else:
            assert np.isnan(st_.std[code])


def test_constant_non_dyadic_group_is_exactly_zero():
    # 0.35 is not representable: float32 sums leave a residue that verl divides by 1e-6
    r = np.zeros((8, 3), dtype=np.float32)
    r[:, -1] = 0.35
    res = credit.grpo(r, np.ones_like(r, dtype=bool), np.zeros(8, dtype=np.int64))
    assert np.all(res.scalar == 0.0)


def test_finite_only_excludes_nan_and_reports_it():
    scores = np.array([1.0, np.nan, 3.0, np.inf, 5.0, 5.0])
    r = scores[:, None].copy()
    res = credit.grpo(r, np.ones_like(r, dtype=bool), ["a", "a", "a", "b", "b", "b"], finite_only=True)
    ref = refs.outcome(scores, list("aaabbb"), estimator="grpo", finite_only=True)
    np.testing.assert_allclose(res.scalar, ref, rtol=1e-12)
    assert res.scalar[1] == 0.0 and res.scalar[3] == 0.0
    assert res.report["n_nonfinite_excluded"] == 2


def test_exclude_empty_leaves_zero_length_responses_out():
    r = np.array([[0.0, 1.0], [0.0, 0.0], [0.0, 3.0]], dtype=np.float64)
    mask = np.array([[1, 1], [0, 0], [1, 1]], dtype=bool)
    res = credit.rloo(r, mask, [0, 0, 0], exclude_empty=True)
    np.testing.assert_allclose(res.scalar, [1.0 - 3.0, 0.0, 3.0 - 1.0])
    assert res.report["n_empty_excluded"] == 1


def test_masked_scores_ignore_reward_on_padding():
    # verl PR #6310: a zero-length response writes its reward at index -1, onto padding
    r = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]])
    mask = np.array([[0, 0, 0], [1, 0, 0]], dtype=bool)
    leaky = credit.grpo(r, mask, [0, 0], scale_by_std=False)
    clean = credit.grpo(r, mask, [0, 0], scale_by_std=False, masked_scores=True)
    np.testing.assert_allclose(leaky.scalar, [-0.5, 0.5])
    np.testing.assert_allclose(clean.scalar, [-1.0, 1.0])


def test_std_floor_bounds_the_denominator():
    r = np.array([[1.0], [1.0 + 1e-7]])
    res = credit.grpo(r, np.ones_like(r, dtype=bool), [0, 0], std_floor=1e-3, epsilon=0.0)
    assert np.all(np.abs(res.scalar) < 1e-3)


def test_unhashable_and_other_hashable_ids():
    r = np.ones((3, 1))
    m = np.ones((3, 1), dtype=bool)
    res = credit.grpo(r, m, [(1, 2), (1, 2), 0.5], scale_by_std=False)
    np.testing.assert_allclose(res.scalar, [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="index"):
        credit.grpo(r, m, [[1], [1], [2]])


@pytest.mark.parametrize("epsilon", [-1.0, -1e-9, float("nan"), float("inf")])
def test_grpo_rejects_a_negative_or_non_finite_epsilon(epsilon):
    """epsilon=-1 used to flip the sign of every advantage whose group std was below 1."""
    from rewardlab.credit import verl

    scores = np.array([[1.0], [0.0], [0.5], [0.2]], dtype=np.float32)
    mask = np.ones_like(scores)
    index = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="epsilon"):
        credit.grpo(scores, mask, index, epsilon=epsilon)
    import torch

    with pytest.raises(ValueError, match="epsilon"):
        verl.compute_grpo_outcome_advantage(torch.from_numpy(scores), torch.from_numpy(mask), index, epsilon=epsilon)


def test_place_outcome_reward_without_a_mask_is_an_error_not_a_panic():
    from rewardlab import _core

    kl = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="action_mask"):
        _core.place_outcome_reward(np.ones(2, np.float32), kl, None, None, kl_coef=0.1, clip=None)
