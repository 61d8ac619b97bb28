"""Teacher diagnostics against plain numpy references, and the optimisation experiment's claim."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardlab.diagnostics import on_policy_accuracy, reward_variance, standardise, teacher_report
from rewardlab.errors import InvalidInputError
from rewardlab.studies import teaching


def ragged(draw_sizes, rng):
    off = np.concatenate([[0], np.cumsum(draw_sizes)]).astype(np.int64)
    return rng.normal(size=off[-1]), off


def ref_agreement(r, y):
    agree = n = 0.0
    for i, j in combinations(range(len(r)), 2):
        if y[i] == y[j]:
            continue
        n += 1
        agree += 0.5 if r[i] == r[j] else float((r[i] > r[j]) == (y[i] > y[j]))
    return agree, n


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=12), st.integers(0, 2**31), st.integers(0, 2))
def test_variance_matches_numpy_on_ragged_groups(sizes, seed, ddof):
    rng = np.random.default_rng(seed)
    r, off = ragged(sizes, rng)
    if r.size == 0:
        return
    got = reward_variance(r, off, normalise=False, ddof=ddof)
    z = (r - r.mean()) / np.sqrt(r.var() + 1e-8)
    got_norm = reward_variance(r, off, ddof=ddof)
    for g, (a, b) in enumerate(zip(off[:-1], off[1:])):
        if b - a <= ddof:
            assert np.isnan(got[g]) and np.isnan(got_norm[g])
        else:
            assert got[g] == pytest.approx(np.var(r[a:b], ddof=ddof), rel=1e-12, abs=1e-12)
            assert got_norm[g] == pytest.approx(np.var(z[a:b], ddof=ddof), rel=1e-9, abs=1e-12)


def test_padded_equals_ragged_and_normalisation_is_scale_free():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(50, 16))
    off = np.arange(0, 50 * 16 + 1, 16)
    np.testing.assert_allclose(reward_variance(r), reward_variance(r.ravel(), off))
    np.testing.assert_allclose(reward_variance(r), np.var((r - r.mean()) / r.std(), axis=1, ddof=1), rtol=1e-7)
    # the paper's normalisation: an affine change of the reward model does not change its score
    np.testing.assert_allclose(reward_variance(3.0 * r + 7.0), reward_variance(r), rtol=1e-7)
    assert standardise(r).std() == pytest.approx(1.0, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=10), st.integers(0, 2**31))
def test_on_policy_accuracy_matches_pair_enumeration(sizes, seed):
    rng = np.random.default_rng(seed)
    _, off = ragged(sizes, rng)
    # few distinct values so that proxy ties and gold ties both occur
    r = rng.integers(0, 3, size=off[-1]).astype(float)
    y = rng.integers(0, 3, size=off[-1]).astype(float)
    agree = n = 0.0
    for a, b in zip(off[:-1], off[1:]):
        k, m = ref_agreement(r[a:b], y[a:b])
        agree, n = agree + k, n + m
    if n == 0:
        with pytest.raises(InvalidInputError, match="gold"):
            on_policy_accuracy(r, y, off)
        return
    acc, (lo, hi), count = on_policy_accuracy(r, y, off)
    assert 0 <= lo <= acc <= hi <= 1
    assert count == n
    assert acc == pytest.approx(agree / n)
    assert lo <= acc <= hi


def test_teacher_report_ranks_and_flat_teacher_scores_low_variance():
    rng = np.random.default_rng(1)
    gold = rng.normal(size=(200, 8))
    sharp = gold + 0.1 * rng.normal(size=gold.shape)
    # ranks as well as `sharp` within prompts, but almost all its spread lies between prompts
    flat = 100.0 * rng.normal(size=(200, 1)) + 0.01 * sharp
    noisy = gold + 2.0 * rng.normal(size=gold.shape)
    rows = {t.name: t for t in teacher_report({"sharp": sharp, "flat": flat, "noisy": noisy}, gold)}
    assert rows["flat"].accuracy == pytest.approx(rows["sharp"].accuracy)
    assert rows["flat"].variance < 1e-3 < rows["sharp"].variance
    assert rows["noisy"].accuracy < rows["sharp"].accuracy
    assert rows["flat"].variance_rank == 3 and rows["noisy"].accuracy_rank == 3
    lo, hi = rows["sharp"].variance_ci95
    assert lo <= rows["sharp"].variance <= hi


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: reward_variance(np.array([[1.0, np.nan]])), "rewards"),
        (lambda: reward_variance(np.ones(3), np.array([0, 2])), "offsets"),
        (lambda: reward_variance(np.ones(3)), "rewards"),
        (lambda: reward_variance(np.ones((2, 2)), ddof=-1), "ddof"),
        (lambda: on_policy_accuracy(np.ones((2, 3)), np.ones((2, 2))), "gold"),
        (lambda: on_policy_accuracy(np.ones((2, 3)), np.ones((2, 3))), "gold"),
        (lambda: teacher_report({}, np.ones((2, 3))), "rewards_by_model"),
    ],
)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(InvalidInputError, match=arg):
        call()


# ---- the optimisation experiment (Razin et al., Theorem 2, on a tabular softmax policy) -------

def test_high_variance_teacher_raises_ground_truth_faster():
    setup = teaching.razin_example()
    pi0 = teaching.softmax(setup.theta0)
    accurate, fast = setup.proxies["accurate, low variance"], setup.proxies["less accurate, high variance"]
    # the premise: (a) is perfectly accurate, (b) is not, and (b) has far more variance under pi0
    assert teaching.accuracy(accurate, setup.gold) == 1.0
    assert teaching.accuracy(fast, setup.gold) < 0.8
    assert teaching.variance_under(pi0, fast) > 20 * teaching.variance_under(pi0, accurate)
    curves = {name: teaching.run(setup.theta0, r, setup.gold, steps=3000) for name, r in setup.proxies.items()}
    for gain in (0.1, 0.3, 0.5):
        t_slow = teaching.time_to_gain(curves["accurate, low variance"], gain)
        t_fast = teaching.time_to_gain(curves["less accurate, high variance"], gain)
        assert t_fast is not None and t_slow is not None and 3 * t_fast < t_slow
    # exact gradient ascent never lowers the proxy; the accurate proxy converges to the best output
    assert curves["accurate, low variance"][-1] > 0.95


def test_exact_policy_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    theta, r = rng.normal(size=5), rng.random(5)
    analytic = teaching.softmax(theta) * (r - teaching.softmax(theta) @ r)
    eps = 1e-6
    numeric = np.array(
        [(teaching.softmax(theta + eps * e) @ r - teaching.softmax(theta - eps * e) @ r) / (2 * eps) for e in np.eye(5)]
    )
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)
    # the module's update is that gradient: one step of run() moves E[gold] as a plain step would
    curve = teaching.run(theta, r, r, lr=1e-3, steps=1)
    assert curve[1] - curve[0] == pytest.approx(1e-3 * analytic @ analytic, rel=1e-3)


def test_accuracy_interval_is_cluster_robust():
    """Prompts whose pairs all agree or all disagree: the pairs are perfectly correlated within a
    prompt, so the interval must reflect the number of prompts, not the number of pairs."""
    rng = np.random.default_rng(5)
    gold = np.tile(np.arange(16.0), (40, 1))
    sign = np.where(rng.random(40) < 0.5, 1.0, -1.0)[:, None]
    acc, (lo, hi), n = on_policy_accuracy(sign * gold, gold)
    assert n == 40 * 120
    k = (sign > 0).sum()
    assert acc == pytest.approx(k / 40)
    # the binomial interval over 40 independent prompts, not over 4,800 pairs
    half = 1.96 * np.sqrt(acc * (1 - acc) / 40)
    assert hi - lo == pytest.approx(2 * half * np.sqrt(40 / 39), rel=1e-9)


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.sampled_from([2, 3, 10, 10**6]))
def test_agreement_on_large_tied_groups_equals_all_pairs(seed, n, levels):
    """The O(n log n) count equals the all-pairs definition, ties in either score included."""
    rng = np.random.default_rng(seed)
    r = rng.integers(0, levels, n).astype(np.float64) * rng.choice([-1.0, 1.0], n)
    y = rng.integers(0, levels, n).astype(np.float64)
    agree, comparable = ref_agreement(r, y)
    if comparable == 0:
        return
    acc, _, count = on_policy_accuracy(r, y, np.array([0, n]))
    assert count == comparable and acc == pytest.approx(agree / comparable, abs=1e-12)
