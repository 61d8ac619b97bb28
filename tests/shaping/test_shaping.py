"""Stackelberg threshold shaping and inference-time selection against numpy references and the
paper's toy example."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rewardlab.shaping.selection import best_of_n, soft_best_of_n, tilted_expectation
from rewardlab.shaping import shape_rewards, stackelberg_thresholds


def F(m, r, w, gamma):
    return np.sum(w * np.where(r >= m, gamma, 1.0) * (r - m))


def bisect_root(r, w, gamma, iters=200):
    """Plain bisection on the strictly decreasing F (the method the paper describes)."""
    lo, hi = r.min() - 1.0, r.max() + 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if F(mid, r, w, gamma) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ---- the paper's toy example: base prior 0.9/0.1, utilities 1 and 2, 1/beta = 1 -----------------

def test_toy_example_numbers():
    u = np.array([[1.0, 2.0]])
    w = np.array([[0.9, 0.1]])
    raw = tilted_expectation(u, u, base_weights=w, beta=1.0)[0]
    assert round(raw, 3) == 1.232
    assert round(soft_best_of_n(u, base_weights=w, beta=1.0)[0, 1], 3) == 0.232
    for ratio, published in ((2.0, 1.451), (3.0, 1.691)):
        shaped = shape_rewards(u, method="stackelberg_hard", beta=1.0, B=ratio, base_weights=w)
        assert round(tilted_expectation(shaped, u, base_weights=w, beta=1.0)[0], 3) == published


# ---- thresholds against bisection ------------------------------------------------------------------

@st.composite
def candidate_groups(draw):
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "ties", "scaled"]))
    n = sum(sizes)
    r = rng.normal(size=n)
    if kind == "ties":
        r = rng.choice([0.0, 0.5, 1.0], size=n)
    elif kind == "scaled":
        r = r * 1e3 + 50
    w = rng.random(n) + 0.01 if draw(st.booleans()) else None
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return r, w, offsets


@given(candidate_groups(), st.floats(0.1, 5.0), st.floats(0.1, 5.0), st.sampled_from([None, 2.0]), st.sampled_from([None, 2.0]))
# gamma = e^40: the exact root 3 - 3/(2 + e^40) rounds onto the top reward 3 (the audit's failure)
@example(g=(np.array([1.0, 2.0, 3.0]), None, np.array([0, 3])), B=4.0, beta=0.1, cap=None, range_factor=None)
def test_thresholds_match_bisection_and_are_self_consistent(g, B, beta, cap, range_factor):
    r, w, off = g
    th = stackelberg_thresholds(r, off, w, beta=beta, B=B, exponent_cap=cap, range_factor=range_factor)
    for k in range(len(off) - 1):
        rk = r[off[k] : off[k + 1]]
        wk = np.ones_like(rk) if w is None else w[off[k] : off[k + 1]]
        b = B if range_factor is None or rk.max() == rk.min() else min(B, range_factor * (rk.max() - rk.min()))
        assert th.b[k] == pytest.approx(b, rel=1e-12)
        gamma = np.exp(min(b / beta, cap) if cap else b / beta)
        scale = max(1.0, np.abs(rk).max())
        assert th.m[k] == pytest.approx(bisect_root(rk, wk, gamma), abs=1e-9 * scale)
        # Theorem 1: m* is the expected utility of the policy the threshold reward induces,
        # with F's weights (gamma where r >= m; m is on the exact root's side of every reward).
        tilt = wk * np.where(rk >= th.m[k], gamma, 1.0)
        assert np.sum(tilt * rk) / np.sum(tilt) == pytest.approx(th.m[k], abs=1e-9 * scale)
        assert rk.min() - 1e-12 * scale <= th.m[k] <= rk.max() + 1e-12 * scale


@given(candidate_groups(), st.floats(0.1, 5.0), st.floats(0.1, 3.0))
def test_shaped_rewards_bounded_and_monotone(g, B, alpha):
    r, w, off = g
    soft = shape_rewards(r, off, "stackelberg", beta=1.0, B=B, alpha=alpha, base_weights=w)
    hard = shape_rewards(r, off, "stackelberg_hard", beta=1.0, B=B, base_weights=w)
    th = stackelberg_thresholds(r, off, w, beta=1.0, B=B)
    assert ((soft >= 0) & (soft <= B)).all() and set(np.unique(hard)) <= {0.0, B / 2, B}
    for k in range(len(off) - 1):
        s = slice(off[k], off[k + 1])
        order = np.argsort(r[s], kind="stable")
        assert (np.diff(soft[s][order]) >= -1e-12).all()
        with np.errstate(over="ignore"):  # exp overflow -> inf -> shaped 0, which is right
            expect = th.b[k] / (1 + np.exp(-alpha * (r[s] - th.m[k])))
        np.testing.assert_allclose(soft[s], expect, rtol=1e-12)


# ---- selection -------------------------------------------------------------------------------------

@given(candidate_groups(), st.floats(0.05, 10.0))
def test_soft_best_of_n_and_expectation_match_numpy(g, beta):
    r, w, off = g
    u = np.cos(r)  # any utility
    p = soft_best_of_n(r, off, w, beta=beta)
    e = tilted_expectation(r, u, off, w, beta=beta)
    for k in range(len(off) - 1):
        s = slice(off[k], off[k + 1])
        wk = np.ones(off[k + 1] - off[k]) if w is None else w[s]
        logits = np.log(wk) + r[s] / beta
        ref = np.exp(logits - logits.max())
        ref /= ref.sum()
        np.testing.assert_allclose(p[s], ref, rtol=1e-10, atol=1e-300)
        assert e[k] == pytest.approx(np.sum(ref * u[s]), rel=1e-10, abs=1e-12)


def test_best_of_n_first_on_ties_and_padded_equals_ragged():
    r = np.array([[0.1, 0.9, 0.9], [2.0, -1.0, 0.0]])
    np.testing.assert_array_equal(best_of_n(r), [1, 0])
    np.testing.assert_array_equal(best_of_n(r.reshape(-1), [0, 3, 6]), [1, 0])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    np.testing.assert_array_equal(best_of_n(x), np.argmax(x, axis=1))


def test_huge_rewards_do_not_overflow():
    p = soft_best_of_n(np.array([[1e6, 1e6 - 1.0]]), beta=1.0)
    np.testing.assert_allclose(p, [[1 / (1 + np.exp(-1)), 1 - 1 / (1 + np.exp(-1))]])


def test_baselines_match_numpy():
    r = np.array([1.0, 2.0, 4.0, 3.0, 3.0, 7.0])
    off = [0, 3, 5, 6]
    ms = shape_rewards(r, off, "meanstd")
    np.testing.assert_allclose(ms[:3], (r[:3] - r[:3].mean()) / r[:3].std())
    np.testing.assert_array_equal(ms[3:], 0.0)  # constant group and singleton: no preference
    mm = shape_rewards(r, off, "minmax")
    np.testing.assert_allclose(mm[:3], [0, 1 / 3, 1])
    np.testing.assert_array_equal(shape_rewards(r, off, "none"), r)


def test_singletons_and_all_equal_groups_are_documented_behaviour():
    th = stackelberg_thresholds(np.array([0.3, 2.0, 2.0, 2.0]), [0, 1, 4], beta=1.0, B=2.0)
    np.testing.assert_array_equal(th.m, [0.3, 2.0])
    shaped = shape_rewards(np.array([0.3, 2.0, 2.0, 2.0]), [0, 1, 4], "stackelberg", B=2.0)
    np.testing.assert_allclose(shaped, 1.0)  # B/2 everywhere: no preference


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: stackelberg_thresholds(np.array([1.0, 2.0]), [0, 0, 2], beta=1.0, B=1.0), "offsets"),
        (lambda: stackelberg_thresholds(np.array([[1.0, np.nan]]), beta=1.0, B=1.0), "rewards"),
        (lambda: stackelberg_thresholds(np.array([[1.0, 2.0]]), beta=0.0, B=1.0), "beta"),
        (lambda: stackelberg_thresholds(np.array([[1.0, 2.0]]), beta=1.0, B=-1.0), "B"),
        (lambda: stackelberg_thresholds(np.array([[1.0, 2.0]]), np.array(None), None, beta=1.0, B=1.0), "offsets"),
        (lambda: stackelberg_thresholds(np.array([[1.0, 2.0]]), None, np.array([[1.0]]), beta=1.0, B=1.0), "base_weights"),
        (lambda: stackelberg_thresholds(np.array([[1.0, 2.0]]), None, np.array([[-1.0, 1.0]]), beta=1.0, B=1.0), "base_weights"),
        (lambda: soft_best_of_n(np.array([[1.0, 2.0]]), beta=-1.0), "beta"),
        (lambda: tilted_expectation(np.array([[1.0, 2.0]]), np.array([[1.0]]), beta=1.0), "utilities"),
        (lambda: shape_rewards(np.array([[1.0]]), method="rank"), "method"),
        (lambda: best_of_n(np.array([1.0, 2.0])), "rewards"),
        (lambda: shape_rewards(np.array([[1.0, 2.0]]), method="stackelberg", alpha=0.0), "alpha"),
    ],
)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=f"^{arg}"):
        call()


# ---- audit regressions: huge B/beta, float offsets -------------------------------------------------

def exact_root(r, gamma_exponent):
    """The root of F by bisection in arbitrary precision (mpmath), with enough digits to resolve
    3 − 3/(2 + e^(B/β)) from 3 where e^(B/β) is far past float64."""
    import mpmath

    digits = int(gamma_exponent / 2.3) + 40
    mpmath.mp.dps = digits
    gamma = mpmath.e ** mpmath.mpf(gamma_exponent)
    r = [mpmath.mpf(x) for x in r]
    F = lambda m: sum((gamma if x >= m else 1) * (x - m) for x in r)  # noqa: E731
    lo, hi = min(r) - 1, max(r) + 1
    for _ in range(int(3.4 * digits)):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if F(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("b_over_beta", [38.0, 40.0, 700.0, 710.0, 720.0, 5000.0])
def test_huge_b_over_beta_neither_overflows_nor_ties_the_top_candidate(b_over_beta):
    r = np.array([[1.0, 2.0, 3.0]])
    m = stackelberg_thresholds(r, beta=1.0, B=b_over_beta).m[0]
    exact = exact_root([1.0, 2.0, 3.0], b_over_beta)
    assert m < 3.0 and exact < 3  # the exact root is below the top reward, and so is m
    assert abs(m - float(exact)) <= 4.5e-16  # the nearest float below 3 (or the root itself)
    hard = shape_rewards(r, method="stackelberg_hard", beta=1.0, B=b_over_beta)
    np.testing.assert_array_equal(hard, [[0.0, 0.0, b_over_beta]])


def test_bon_shaping_with_huge_b_over_beta_is_not_random():
    """`bon --no-caps --b-over-beta 720` used to score exactly like random (threshold 0)."""
    rng = np.random.default_rng(0)
    r = rng.normal(size=(50, 8))
    shaped = shape_rewards(r, method="stackelberg_hard", beta=1.0, B=720.0)
    assert (shaped[np.arange(50), r.argmax(1)] == 720.0).all()


@pytest.mark.parametrize("offsets", [[0, 1.7, 3], np.array([0.0, 1.0, 3.0]), ["0", "1", "3"]])
def test_float_offsets_are_refused_not_truncated(offsets):
    from rewardlab.diagnostics import reward_variance

    r = np.array([1.0, 2.0, 3.0])
    for call in (lambda: stackelberg_thresholds(r, offsets, beta=1.0, B=1.0), lambda: best_of_n(r, offsets),
                 lambda: reward_variance(r, offsets)):
        with pytest.raises(ValueError, match="offsets"):
            call()
