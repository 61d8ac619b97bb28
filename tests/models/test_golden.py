"""Evaluation by golden reward against independent references: best-of-N by enumerating every
N-subset, Spearman by scipy, the bootstrap's centre by numpy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.stats import spearmanr

from rewardlab.errors import InvalidInputError
from rewardlab.models.golden import bon_curve, bon_permutations, bon_weights, prompt_bootstrap, spearman_per_prompt


def enumerated_bon(proxy: np.ndarray, gold: np.ndarray, n: int) -> float:
    """The mean over every N-subset of the golden reward of its proxy-best response, proxy ties
    broken uniformly (each tied best contributes equally)."""
    total, count = 0.0, 0
    for subset in itertools.combinations(range(len(gold)), n):
        s = proxy[list(subset)]
        best = [i for i, v in zip(subset, s) if v == s.max()]
        total += float(np.mean(gold[best]))
        count += 1
    return total / count


@given(st.integers(2, 7), st.integers(1, 4), st.integers(0, 2**32 - 1), st.booleans())
@example(responses=5, prompts=2, seed=0, ties=True)
def test_bon_curve_is_the_mean_over_every_subset(responses, prompts, seed, ties):
    rng = np.random.default_rng(seed)
    # integer proxies on a small range make ties common; gold independent of the proxy
    proxy = rng.integers(0, 3, (prompts, responses)).astype(float) if ties else rng.standard_normal((prompts, responses))
    gold = rng.standard_normal((prompts, responses))
    ns = list(range(1, responses + 1))
    got = bon_curve(proxy, gold, ns)
    want = np.array([[enumerated_bon(proxy[p], gold[p], n) for n in ns] for p in range(prompts)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bon_with_the_gold_as_proxy_is_the_expected_maximum_and_n1_is_the_mean():
    rng = np.random.default_rng(3)
    gold = rng.standard_normal((4, 9))
    got = bon_curve(gold, gold, [1, 3, 9])
    np.testing.assert_allclose(got[:, 0], gold.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(got[:, 2], gold.max(axis=1), rtol=1e-12)
    # E[max of 3 of 9] = sum_k g_(k) C(9-k, 2) / C(9, 3), written out with math.comb
    desc = -np.sort(-gold, axis=1)
    want = (desc * [math.comb(9 - k, 2) / math.comb(9, 3) for k in range(1, 10)]).sum(axis=1)
    np.testing.assert_allclose(got[:, 1], want, rtol=1e-12)


@pytest.mark.parametrize("r,n", [(1, 1), (10, 1), (10, 4), (10, 10), (500, 2), (500, 300), (500, 500)])
def test_bon_weights_are_the_binomial_ratios(r, n):
    w = bon_weights(r, n)
    want = np.array([math.comb(r - k, n - 1) / math.comb(r, n) for k in range(1, r + 1)])
    np.testing.assert_allclose(w, want, rtol=1e-9, atol=1e-300)
    assert abs(w.sum() - 1) < 1e-9


def test_the_papers_permutation_estimate_converges_to_the_exact_curve():
    rng = np.random.default_rng(7)
    proxy, gold = rng.standard_normal((30, 20)), rng.standard_normal((30, 20))
    ns = [1, 2, 5, 20]
    exact = bon_curve(proxy, gold, ns)
    est = bon_permutations(proxy, gold, ns, permutations=4000, seed=1)
    # each cell is a mean of 4000 draws of gold values with std <= max|gold|: 5 standard errors
    tol = 5 * np.abs(gold).max() / math.sqrt(4000)
    assert np.abs(est - exact).max() < tol
    np.testing.assert_allclose(est[:, -1], exact[:, -1], rtol=1e-12)  # N = R: every permutation picks the same


@given(st.integers(2, 12), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_spearman_equals_scipy_per_prompt(responses, prompts, seed):
    rng = np.random.default_rng(seed)
    proxy = rng.integers(0, 4, (prompts, responses)).astype(float)  # ties, and sometimes a constant row
    gold = rng.standard_normal((prompts, responses))
    got = spearman_per_prompt(proxy, gold)
    for p in range(prompts):
        if np.ptp(proxy[p]) == 0:
            assert np.isnan(got[p])
        else:
            assert got[p] == pytest.approx(spearmanr(proxy[p], gold[p]).statistic, abs=1e-12)


def test_prompt_bootstrap_centres_on_the_mean_and_drops_nan():
    x = np.array([[1.0, np.nan], [2.0, 4.0], [3.0, 6.0], [6.0, np.nan]])
    mean, ci = prompt_bootstrap(x, reps=500)
    np.testing.assert_allclose(mean, [3.0, 5.0])
    assert (ci[0] <= mean).all() and (mean <= ci[1]).all()
    assert ci[0, 0] >= 1.0 and ci[1, 0] <= 6.0 and ci[0, 1] >= 4.0 and ci[1, 1] <= 6.0


@pytest.mark.parametrize("call,arg", [
    (lambda: bon_curve(np.zeros((2, 3)), np.zeros((2, 4)), [1]), "proxy"),
    (lambda: bon_curve(np.zeros((2, 3)), np.zeros((2, 3)), [4]), "n"),
    (lambda: bon_curve(np.zeros((2, 3)), np.zeros((2, 3)), [0]), "n"),
    (lambda: bon_curve(np.full((2, 3), np.nan), np.zeros((2, 3)), [1]), "proxy"),
    (lambda: bon_curve(np.zeros(3), np.zeros(3), [1]), "gold"),
    (lambda: bon_permutations(np.zeros((2, 3)), np.zeros((2, 3)), [1], permutations=0), "permutations"),
])
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(InvalidInputError, match=f"^{arg}:"):
        call()
