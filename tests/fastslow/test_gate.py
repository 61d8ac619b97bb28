"""The fast-slow gate kernels against plain numpy references."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from rewardlab import _core
from rewardlab.errors import InvalidInputError
from rewardlab.fastslow.gate import Gate, agreement, intuition, quantile_grid, shape_confidence, sweep


def ref_first_token(z, ids):
    z = np.asarray(z, np.float64)
    m = z.max(axis=1, keepdims=True)
    logp = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
    p = np.exp(logp)
    ent = -np.where(p > 0, p * np.where(p > 0, logp, 0.0), 0.0).sum(axis=1) / math.log(z.shape[1])
    top = np.sort(p, axis=1)
    return logp[:, ids], ent, top[:, -1] - top[:, -2]


@given(rows=st.integers(1, 6), vocab=st.integers(2, 40), dtype=st.sampled_from([np.float32, np.float64]), data=st.data())
def test_first_token_features_match_numpy(rows, vocab, dtype, data):
    z = data.draw(hnp.arrays(dtype, (rows, vocab), elements=st.floats(-30, 30, width=32)))
    if data.draw(st.booleans()):
        z[:, 0] = -np.inf  # a banned token
        z[:, 1] = np.maximum(z[:, 1], 0)
    ids = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=3))
    logp, ent, gap = _core.first_token_features(np.ascontiguousarray(z), ids)
    rl, re, rg = ref_first_token(z, ids)
    np.testing.assert_allclose(logp, rl, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ent, re, atol=1e-9)
    np.testing.assert_allclose(gap, rg, atol=1e-9)


def test_first_token_features_reject_bad_input():
    with pytest.raises(InvalidInputError, match="verdict_ids"):
        _core.first_token_features(np.zeros((2, 3), np.float32), [3])
    with pytest.raises(InvalidInputError, match="logits"):
        _core.first_token_features(np.zeros(3, np.float32), [0])
    with pytest.raises(InvalidInputError, match="logits"):
        _core.first_token_features(np.full((1, 3), np.nan), [0])
    with pytest.raises(InvalidInputError, match="logits"):
        _core.first_token_features(np.zeros((2, 3), np.int64), [0])


def brute_levels(c1, c2):
    """(count, τ1, τ2) of every common quantile level k = 0..n, by direct routing."""
    n = len(c1)
    s1, s2 = np.sort(c1), np.sort(c2)
    out = []
    for k in range(n + 1):
        t1 = -np.inf if k == 0 else (np.inf if k == n else s1[k])
        t2 = -np.inf if k == 0 else (np.inf if k == n else s2[k])
        out.append((int(((c1 < t1) | (c2 < t2)).sum()), t1, t2))
    return out


@given(n=st.integers(1, 30), rate=st.floats(0, 1), data=st.data())
def test_calibrate_to_rate_is_the_largest_level_within_target(n, rate, data):
    vals = st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.9, 1.0]) if data.draw(st.booleans()) else st.floats(0, 1)
    c1 = np.array(data.draw(st.lists(vals, min_size=n, max_size=n)))
    c2 = np.array(data.draw(st.lists(vals, min_size=n, max_size=n)))
    gate = Gate.calibrate(c1, c2, slow_rate=rate)
    routed = gate.route(c1, c2)
    allowed = math.floor(rate * n + 1e-9)
    assert routed.sum() <= allowed
    assert routed.sum() == round(gate.dev_slow_rate * n)
    best = max(c for c, _, _ in brute_levels(c1, c2) if c <= allowed)
    assert routed.sum() == best


@given(n=st.integers(1, 25), data=st.data())
def test_calibrate_to_token_budget(n, data):
    c1 = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    c2 = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    fast = np.array(data.draw(st.lists(st.integers(1, 20), min_size=n, max_size=n)), float)
    slow = np.array(data.draw(st.lists(st.integers(0, 200), min_size=n, max_size=n)), float)
    budget = data.draw(st.floats(fast.mean(), fast.mean() + slow.mean()))
    gate = Gate.calibrate(c1, c2, token_budget=budget, fast_tokens=fast, slow_tokens=slow)
    routed = gate.route(c1, c2)
    spent = (fast.sum() + slow[routed].sum()) / n
    assert spent <= budget + 1e-9
    assert math.isclose(spent, gate.dev_tokens, rel_tol=1e-12)
    # No level that routes more items fits the budget as well.
    s1, s2 = np.sort(c1), np.sort(c2)
    for k in range(1, n + 1):
        t1, t2 = (np.inf, np.inf) if k == n else (s1[k], s2[k])
        r = (c1 < t1) | (c2 < t2)
        if r.sum() > routed.sum():
            assert (fast.sum() + slow[r].sum()) / n > budget, f"level {k} routes {r.sum()} items within budget"


def test_rate_zero_and_one_route_nothing_and_everything_on_new_items():
    rng = np.random.default_rng(0)
    c1, c2 = rng.random(50), rng.random(50)
    new1, new2 = rng.random(200) - 0.5, rng.random(200) + 0.5
    assert not Gate.calibrate(c1, c2, slow_rate=0.0).route(new1, new2).any()
    assert Gate.calibrate(c1, c2, slow_rate=1.0).route(new1 + 9, new2 + 9).all()
    # c1 alone when c2 is absent
    g = Gate.calibrate(c1, None, slow_rate=0.2)
    assert g.tau2 == -np.inf and g.route(c1).sum() == 10


def test_calibrate_errors_name_the_argument():
    c = np.linspace(0, 1, 5)
    with pytest.raises(InvalidInputError, match="slow_rate"):
        Gate.calibrate(c, c, slow_rate=1.5)
    with pytest.raises(InvalidInputError, match="slow_rate"):
        Gate.calibrate(c, c)
    with pytest.raises(InvalidInputError, match="token_budget"):
        Gate.calibrate(c, c, token_budget=10.0)
    with pytest.raises(InvalidInputError, match="token_budget"):
        Gate.calibrate(c, c, token_budget=0.5, fast_tokens=np.ones(5), slow_tokens=np.ones(5))
    with pytest.raises(InvalidInputError, match="c2"):
        Gate.calibrate(c, c[:3], slow_rate=0.5)
    with pytest.raises(InvalidInputError, match="c1"):
        Gate(0.5).route(np.array([0.1, np.nan]))
    with pytest.raises(InvalidInputError, match="slow_tokens"):
        Gate.calibrate(c, c, token_budget=5.0, fast_tokens=np.ones(5), slow_tokens=-np.ones(5))


@given(n=st.integers(1, 40), data=st.data())
def test_sweep_equals_routing_every_cell(n, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    c1 = rng.integers(0, 5, n) / 4.0  # ties on purpose
    c2 = rng.random(n)
    fc, sc = rng.integers(0, 3, n) / 2.0, rng.integers(0, 3, n) / 2.0
    ft, stok = rng.integers(1, 10, n).astype(float), rng.integers(0, 100, n).astype(float)
    sw = sweep(c1, c2, fc, sc, ft, stok, points=7)
    for a, t1 in enumerate(sw.tau1):
        for b, t2 in enumerate(sw.tau2):
            r = (c1 < t1) | (c2 < t2)
            assert math.isclose(sw.slow_rate[a, b], r.mean())
            assert math.isclose(sw.accuracy[a, b], np.where(r, sc, fc).mean(), abs_tol=1e-12)
            assert math.isclose(sw.tokens[a, b], (ft + np.where(r, stok, 0)).mean(), rel_tol=1e-12)
    front = sw.frontier()
    assert all(x[0] <= y[0] and x[1] < y[1] for x, y in zip(front, front[1:]))
    assert math.isclose(front[-1][1], sw.accuracy.max())


def test_confidences():
    np.testing.assert_allclose(intuition([0.0, 2.0, -2.0]), [0.0, abs(2 / (1 + math.exp(-2)) - 1)] * 1 + [abs(2 / (1 + math.exp(-2)) - 1)])
    m = np.array([[1.0, 1.0, 0.0], [1.0, -1.0, 0.0]])  # agree, cancel, all zero
    np.testing.assert_allclose(agreement(m), [1.0, 0.0, 0.0])
    assert shape_confidence([0.2], [0.1], [0.3], "none") is None
    np.testing.assert_allclose(shape_confidence([0.2], [0.1], [0.3], "entropy"), [0.7])
    with pytest.raises(InvalidInputError, match="shape"):
        shape_confidence([0.2], [0.1], [0.3], "bogus")
    g = quantile_grid([3.0, 1.0, 2.0], 3)
    assert g[0] == -np.inf and g[-1] == np.inf and list(g[1:-1]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("points", [0, 1, 10**5, 2.5, True])
def test_sweep_refuses_impossible_grids_instead_of_aborting(points):
    c = np.linspace(0, 1, 50)
    ones = np.ones(50)
    with pytest.raises(ValueError, match="points"):
        sweep(c, c, ones, ones, ones, ones, points=points)


def test_the_sweep_kernel_refuses_a_grid_it_cannot_hold():
    c = np.linspace(0, 1, 10)
    taus = np.linspace(0, 1, 2000)
    with pytest.raises(InvalidInputError, match="cells"):
        _core.gate_sweep(c, c, np.zeros(10), np.zeros(10), taus, taus)
