"""Ensemble aggregation against plain numpy expressions, and its errors."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rewardlab import InvalidInputError, _core
from rewardlab.models.ensemble import METHODS, Aggregated, aggregate
from strategies import DTYPES
from tolerances import assert_close


def reference(x, method, lam, q):
    """The numpy expression each method stands for, in float64."""
    x = x.astype(np.float64)
    return {
        "mean": lambda: x.mean(0),
        "min": lambda: x.min(0),
        "max": lambda: x.max(0),
        "median": lambda: np.median(x, 0),
        "quantile": lambda: np.quantile(x, q, axis=0, method="linear"),
        "uwo": lambda: x.mean(0) - lam * x.std(0),
        "uwo_var": lambda: x.mean(0) - lam * x.var(0),
    }[method]()


@st.composite
def member_scores(draw, max_members=12, max_items=300):
    """``[K, N]`` scores: continuous, with many ties (a few discrete values), or with constant columns."""
    k = draw(st.integers(1, max_members))
    n = draw(st.integers(1, max_items))
    dtype = draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "ties", "constant_columns"]))
    if kind == "ties":
        x = rng.choice([0.0, 0.35, 1.0, -2.0], size=(k, n))
    else:
        x = rng.normal(draw(st.sampled_from([0.0, 3.0])), 1.0, size=(k, n))
        if kind == "constant_columns":
            constant = rng.random(n) < 0.5
            x[:, constant] = x[0, constant]
    return x.astype(dtype)


LAMS = st.floats(-3.0, 3.0, allow_nan=False)
QS = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


@given(member_scores(), st.sampled_from(METHODS), LAMS, QS)
def test_matches_numpy(x, method, lam, q):
    out = aggregate(x, method, lam=lam, q=q)
    assert isinstance(out, Aggregated)
    assert out.value.dtype == x.dtype and out.std.dtype == x.dtype
    assert out.value.shape == out.std.shape == (x.shape[1],)
    assert_close(out.value, reference(x, method, lam, q), x.dtype, scale=1 + abs(lam))
    assert_close(out.std, x.astype(np.float64).std(0), x.dtype)
    if method in ("min", "max"):
        np.testing.assert_array_equal(out.value, getattr(x, method)(0))


@given(member_scores(), st.sampled_from(METHODS), LAMS, QS)
def test_constant_columns_are_exact(x, method, lam, q):
    constant = (x == x[0]).all(0)
    out = aggregate(x, method, lam=lam, q=q)
    np.testing.assert_array_equal(out.value[constant], x[0, constant])
    np.testing.assert_array_equal(out.std[constant], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_batch_matches_numpy_in_parallel_and_sequentially(dtype):
    # 8 x 200,000 scores: far past the kernel's threshold for going parallel
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 200_000)).astype(dtype)
    x[:, ::7] = np.round(x[:, ::7])  # ties
    for method in METHODS:
        out = aggregate(x, method, lam=0.5, q=0.9)
        assert_close(out.value, reference(x, method, 0.5, 0.9), dtype)
        assert_close(out.std, x.astype(np.float64).std(0), dtype)
        _core.set_parallel(False)
        try:
            sequential = aggregate(x, method, lam=0.5, q=0.9)
        finally:
            _core.set_parallel(True)
        np.testing.assert_array_equal(out.value, sequential.value)
        np.testing.assert_array_equal(out.std, sequential.std)


@pytest.mark.parametrize("members", [33, 65, 100])
def test_many_members(members):
    # past the insertion-sort and stack-buffer limits of the order statistics
    x = np.random.default_rng(members).normal(size=(members, 500))
    for method, q in [("median", 0.5), ("quantile", 0.13), ("quantile", 1.0)]:
        assert_close(aggregate(x, method, q=q).value, reference(x, method, 1.0, q), np.float64)


def test_inputs_other_than_float_arrays():
    x = np.random.default_rng(1).normal(size=(4, 50)).astype(np.float32)
    want = aggregate(x, "uwo")
    got = aggregate(torch.from_numpy(x).requires_grad_(), "uwo")
    np.testing.assert_array_equal(got.value, want.value)
    assert got.value.dtype == np.float32
    # views are copied once, results are the same
    np.testing.assert_array_equal(aggregate(np.ascontiguousarray(x.T).T, "median").value, aggregate(x, "median").value)
    np.testing.assert_array_equal(aggregate(torch.from_numpy(x.T.copy()).T, "max").value, x.max(0))
    ints = aggregate([[1, 2, 3], [3, 4, 8]], "mean")
    assert ints.value.dtype == np.float64
    np.testing.assert_array_equal(ints.value, [2.0, 3.0, 5.5])


@pytest.mark.parametrize("member, item, bad", [(0, 0, np.nan), (2, 17, np.inf), (1, 99, -np.inf)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_scores_are_located(member, item, bad, dtype):
    x = np.zeros((3, 100), dtype=dtype)
    x[member, item] = bad
    for method in ("mean", "median", "min"):
        with pytest.raises(InvalidInputError, match=rf"^scores: member {member}, item {item} is"):
            aggregate(x, method)


@pytest.mark.parametrize("scores", [np.zeros(5), np.zeros((2, 3, 4)), np.float64(1.0), [[1.0, 2.0], [3.0]]])
def test_scores_must_be_two_dimensional(scores):
    with pytest.raises(InvalidInputError, match="^scores:"):
        aggregate(scores)


@pytest.mark.parametrize("shape", [(0, 5), (3, 0)])
def test_scores_must_not_be_empty(shape):
    with pytest.raises(InvalidInputError, match="^scores:"):
        aggregate(np.zeros(shape))


@pytest.mark.parametrize("scores", [np.zeros((2, 2), dtype=np.float16), np.zeros((2, 2), dtype=complex), [["a", "b"]]])
def test_unsupported_dtypes(scores):
    with pytest.raises(InvalidInputError, match="^scores: dtype"):
        aggregate(scores)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(InvalidInputError, match="^method: .*'average'.*'uwo_var'"):
        aggregate(np.zeros((2, 2)), "average")


@pytest.mark.parametrize("q", [-0.1, 1.1, np.nan, np.inf])
def test_q_must_be_a_probability(q):
    with pytest.raises(InvalidInputError, match="^q:"):
        aggregate(np.zeros((2, 2)), "quantile", q=q)


@pytest.mark.parametrize("method", ["uwo", "uwo_var"])
@pytest.mark.parametrize("lam", [np.nan, np.inf, -np.inf])
def test_lam_must_be_finite(method, lam):
    with pytest.raises(InvalidInputError, match="^lam:"):
        aggregate(np.zeros((2, 2)), method, lam=lam)


def test_errors_are_value_errors_and_parameters_must_be_numbers():
    with pytest.raises(ValueError, match="^lam: must be a number"):
        aggregate(np.zeros((2, 2)), "uwo", lam="big")


def test_native_function_refuses_what_the_facade_would_convert():
    with pytest.raises(InvalidInputError, match="^scores: must be C-contiguous"):
        _core.aggregate(np.zeros((3, 4)).T, "mean", 1.0, 0.5)
    with pytest.raises(InvalidInputError, match="^scores: must be a float32 or float64"):
        _core.aggregate(np.zeros((3, 4), dtype=np.int64), "mean", 1.0, 0.5)
    with pytest.raises(InvalidInputError, match="^scores: must be 2-D"):
        _core.aggregate(np.zeros(4), "mean", 1.0, 0.5)
    with pytest.raises(InvalidInputError, match="^method:"):
        _core.aggregate(np.zeros((3, 4)), "avg", 1.0, 0.5)


@pytest.mark.parametrize("scale", [1e154, 1e155, 1e200, 1e307])
def test_an_overflowing_spread_is_infinite_like_numpy_never_zero(scale):
    x = np.array([[scale, -scale, 0.5 * scale]])
    x = np.concatenate([x, -x]).T.copy()  # [3 members, 2 items]
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x.std(0)
    got = aggregate(x, "mean").std
    assert not (got == 0).any()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected) | np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12)
