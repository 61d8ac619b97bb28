//! Bindings of the credit-assignment kernels: convert, release the GIL, call the core.

use crate::arrays::{floats, mask, same, slice};
use crate::errors::{detach, invalid, to_py};
use crate::{with_floats, with_mask};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rewardlab_core::credit::groups;
use rewardlab_core::credit::kl::{KlClamp, KlEstimator};
use rewardlab_core::credit::multi_reward::{self, Aggregation, Scale};
use rewardlab_core::credit::outcome::{self, Estimator, Robust, Singleton};
use rewardlab_core::credit::scan::{self, MaskedSteps};
use rewardlab_core::credit::token_reward;
use rewardlab_core::credit::whiten::{self, VarEps, WhitenSpec};
use rewardlab_core::Layout;

/// `(unbiased, count_eps, var_eps_is_floor, var_eps, shift_mean, remask, f32_counts)` from the facade.
type SpecTuple = (bool, f64, bool, f64, bool, bool, bool);

fn spec(t: SpecTuple) -> WhitenSpec {
    let (unbiased, count_eps, floor, eps, shift_mean, remask, f32_counts) = t;
    let var_eps = if floor { VarEps::Floor(eps) } else { VarEps::Add(eps) };
    WhitenSpec { unbiased, count_eps, var_eps, shift_mean, remask, f32_counts }
}

fn steps(name: &str) -> PyResult<MaskedSteps> {
    match name {
        "carry" => Ok(MaskedSteps::Carry),
        "zero" => Ok(MaskedSteps::Zero),
        other => Err(invalid("masked_steps", format!("expected 'carry' or 'zero', got {other:?}"))),
    }
}

/// The layout of a token array with this shape: `[B, T]` padded, or 1-D with offsets.
fn layout<'a>(arg: &str, shape: &[usize], offsets: Option<&'a [i64]>, len: usize) -> PyResult<Layout<'a>> {
    match offsets {
        Some(off) => {
            if shape.len() != 1 {
                return Err(invalid(arg, format!("must be 1-D (flat tokens) when offsets are given, got shape {shape:?}")));
            }
            Layout::ragged(off, len).map_err(to_py)
        }
        None => {
            if shape.len() != 2 {
                return Err(invalid(arg, format!("must be 2-D [batch, tokens] (or 1-D with offsets), got shape {shape:?}")));
            }
            Ok(Layout::Padded { rows: shape[0], cols: shape[1] })
        }
    }
}

fn shaped<'py, T: numpy::Element>(py: Python<'py>, v: Vec<T>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    Ok(v.into_pyarray(py).reshape(shape.to_vec())?.into_any())
}

#[pyfunction]
#[pyo3(signature = (rewards, values, mask=None, offsets=None, *, gamma, lam, masked_steps, whiten=None))]
#[allow(clippy::too_many_arguments)]
pub fn gae<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    values: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    gamma: f64,
    lam: f64,
    masked_steps: &str,
    whiten: Option<SpecTuple>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let r = floats("rewards", rewards)?;
    let m = crate::arrays::mask("mask", mask)?;
    let mode = steps(masked_steps)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let shape = r.shape().to_vec();
    with_floats!(r, |rs: F| {
        let v: PyReadonlyArrayDyn<F> = same("values", "rewards", values)?;
        let vs = slice(&v);
        let lay = layout("rewards", &shape, off, rs.len())?;
        let out = with_mask!(m, |ms| detach(py, || {
            let mut out = scan::gae(rs, vs, ms, &lay, gamma, lam, mode, whiten.is_some())?;
            if let Some(t) = whiten {
                out.whiten_first(ms, &spec(t))?;
            }
            Ok(out)
        }))?;
        Ok((shaped(py, out.first, &shape)?, shaped(py, out.second, &shape)?))
    })
}

#[pyfunction]
#[pyo3(signature = (rewards, mask=None, offsets=None, *, gamma, masked_steps, whiten=None))]
pub fn discounted_returns<'py>(
    py: Python<'py>,
    rewards: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    gamma: f64,
    masked_steps: &str,
    whiten: Option<SpecTuple>,
) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)> {
    let r = floats("rewards", rewards)?;
    let m = crate::arrays::mask("mask", mask)?;
    let mode = steps(masked_steps)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let shape = r.shape().to_vec();
    with_floats!(r, |rs: F| {
        let lay = layout("rewards", &shape, off, rs.len())?;
        let (returns, whitened) = with_mask!(m, |ms| detach(py, || {
            let out = scan::discounted_returns(rs, ms, &lay, gamma, mode, whiten.is_some())?;
            let whitened = whiten.map(|t| out.whitened_first(ms, &lay, &spec(t))).transpose()?;
            Ok((out.first, whitened))
        }))?;
        let whitened = whitened.map(|w| shaped(py, w, &shape)).transpose()?;
        Ok((shaped(py, returns, &shape)?, whitened))
    })
}

#[pyfunction]
#[pyo3(signature = (values, mask, spec_tuple))]
pub fn masked_whiten<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    spec_tuple: SpecTuple,
) -> PyResult<Bound<'py, PyAny>> {
    let x = floats("values", values)?;
    let m = crate::arrays::mask("mask", mask)?;
    let shape = x.shape().to_vec();
    let s = spec(spec_tuple);
    with_floats!(x, |xs: F| {
        let out = with_mask!(m, |ms| detach(py, || whiten::masked_whiten(xs, ms, &s)))?;
        shaped(py, out, &shape)
    })
}

/// `(count, mean, m2)` of the masked values, in float64.
#[pyfunction]
#[pyo3(signature = (values, mask=None))]
pub fn masked_moments<'py>(py: Python<'py>, values: &Bound<'py, PyAny>, mask: Option<&Bound<'py, PyAny>>) -> PyResult<(f64, f64, f64)> {
    let x = floats("values", values)?;
    let m = crate::arrays::mask("mask", mask)?;
    with_floats!(x, |xs: F| {
        let mo = with_mask!(m, |ms| detach(py, || whiten::masked_moments(xs, ms)))?;
        Ok((mo.n, mo.mean, mo.m2))
    })
}

/// Per-row sums of token rewards and which rows have no valid token.
#[pyfunction]
#[pyo3(signature = (token_rewards, mask=None, offsets=None, *, masked=false))]
pub fn row_scores<'py>(
    py: Python<'py>,
    token_rewards: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    masked: bool,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let r = floats("token_level_rewards", token_rewards)?;
    let m = crate::arrays::mask("response_mask", mask)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let shape = r.shape().to_vec();
    with_floats!(r, |rs: F| {
        let lay = layout("token_level_rewards", &shape, off, rs.len())?;
        let (scores, empty) = with_mask!(m, |ms| detach(py, || outcome::row_scores(rs, ms, &lay, masked)))?;
        Ok((scores.into_pyarray(py).into_any(), empty.into_pyarray(py).into_any()))
    })
}

/// Dense group codes (first-appearance order) for labels given as an integer array or a
/// sequence of str/int.
#[pyfunction]
pub fn factorize<'py>(py: Python<'py>, ids: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, usize)> {
    if let Ok(a) = ids.extract::<PyReadonlyArrayDyn<i64>>() {
        if a.ndim() != 1 {
            return Err(invalid("index", format!("must be 1-D, got shape {:?}", a.shape())));
        }
        let v = a.as_array().iter().copied().collect::<Vec<i64>>();
        let (codes, n) = py.detach(|| groups::factorize(v.iter()));
        return Ok((codes.into_pyarray(py).into_any(), n));
    }
    // Strings (verl's uuid uids) or Python ints, hashed by value without the GIL-heavy dict.
    #[derive(Hash, PartialEq, Eq)]
    enum Key {
        Str(String),
        Int(i64),
    }
    let mut keys = Vec::new();
    for (i, item) in ids.try_iter().map_err(|_| invalid("index", "must be an array or a sequence of group ids"))?.enumerate() {
        let item = item?;
        let key = if let Ok(s) = item.cast::<PyString>() {
            Key::Str(s.to_str()?.to_owned())
        } else if let Ok(n) = item.extract::<i64>() {
            Key::Int(n)
        } else {
            return Err(invalid("index", format!("group ids must be str or int, got {} at position {i}", item.get_type())));
        };
        keys.push(key);
    }
    let (codes, n) = groups::factorize(keys);
    Ok((codes.into_pyarray(py).into_any(), n))
}

/// Count, mean and unbiased std per group.
#[pyfunction]
pub fn group_stats<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    codes: PyReadonlyArray1<'py, u32>,
    n_groups: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let s = floats("scores", scores)?;
    let c = codes.as_slice()?;
    with_floats!(s, |ss: F| {
        let st = detach(py, || groups::group_stats(ss, c, n_groups, None))?;
        Ok((st.count.into_pyarray(py).into_any(), st.mean.into_pyarray(py).into_any(), st.std.into_pyarray(py).into_any()))
    })
}

#[pyfunction]
#[pyo3(signature = (scores, codes, n_groups, empty=None, *, estimator, epsilon=1e-6, scale_by_std=true,
    singleton="pass", finite_only=false, mask_zero_variance=false, exclude_empty=false, std_floor=0.0))]
#[allow(clippy::too_many_arguments)]
pub fn outcome_advantages<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    codes: PyReadonlyArray1<'py, u32>,
    n_groups: usize,
    empty: Option<PyReadonlyArray1<'py, bool>>,
    estimator: &str,
    epsilon: f64,
    scale_by_std: bool,
    singleton: &str,
    finite_only: bool,
    mask_zero_variance: bool,
    exclude_empty: bool,
    std_floor: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let est = match estimator {
        "grpo" => Estimator::Grpo { scale_by_std, eps: epsilon },
        "rloo" => Estimator::Rloo,
        "mean_baseline" => Estimator::MeanBaseline,
        other => return Err(invalid("estimator", format!("expected 'grpo', 'rloo' or 'mean_baseline', got {other:?}"))),
    };
    let single = match singleton {
        "pass" => Singleton::PassThrough,
        "zero" => Singleton::Zero,
        other => return Err(invalid("singleton", format!("expected 'pass' or 'zero', got {other:?}"))),
    };
    let robust = Robust { finite_only, mask_zero_variance, exclude_empty, std_floor };
    let s = floats("scores", scores)?;
    let c = codes.as_slice()?;
    let e = empty.as_ref().map(|e| e.as_slice()).transpose()?;
    if let Some(e) = e {
        if e.len() != c.len() {
            return Err(invalid("empty", format!("expected {} flags, got {}", c.len(), e.len())));
        }
    }
    with_floats!(s, |ss: F| {
        let (adv, rep) = detach(py, || outcome::outcome_advantages(ss, c, n_groups, e, est, single, robust))?;
        let d = PyDict::new(py);
        d.set_item("n_groups", rep.n_groups)?;
        d.set_item("n_singleton_groups", rep.n_singleton_groups)?;
        d.set_item("n_zero_variance_groups", rep.n_zero_variance_groups)?;
        d.set_item("n_nonfinite_excluded", rep.n_nonfinite_excluded)?;
        d.set_item("n_empty_excluded", rep.n_empty_excluded)?;
        Ok((adv.into_pyarray(py).into_any(), d))
    })
}

/// `out[i, t] = scalars[i] * mask[i, t]`, optionally whitened over the mask afterwards.
#[pyfunction]
#[pyo3(signature = (scalars, mask, offsets=None, *, whiten=None))]
pub fn broadcast_rows<'py>(
    py: Python<'py>,
    scalars: &Bound<'py, PyAny>,
    mask: &Bound<'py, PyAny>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    whiten: Option<SpecTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let s = floats("scalars", scalars)?;
    let m = crate::arrays::mask("response_mask", Some(mask))?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let shape = mask.getattr("shape")?.extract::<Vec<usize>>()?;
    let n: usize = shape.iter().product();
    with_floats!(s, |ss: F| {
        let lay = layout("response_mask", &shape, off, n)?;
        let sp = whiten.map(spec);
        let out = with_mask!(m, |ms| detach(py, || outcome::broadcast_rows(ss, ms, &lay, sp.as_ref())))?;
        shaped(py, out, &shape)
    })
}

#[pyfunction]
#[pyo3(signature = (logprob, ref_logprob, *, estimator, clamp))]
pub fn kl_penalty<'py>(
    py: Python<'py>,
    logprob: &Bound<'py, PyAny>,
    ref_logprob: &Bound<'py, PyAny>,
    estimator: &str,
    clamp: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let est = KlEstimator::parse(estimator).map_err(to_py)?;
    let cl = match clamp {
        "none" => KlClamp::None,
        "verl" => KlClamp::Verl,
        "openrlhf" => KlClamp::OpenRlhf,
        other => return Err(invalid("clamp", format!("expected 'none', 'verl' or 'openrlhf', got {other:?}"))),
    };
    let lp = floats("logprob", logprob)?;
    let shape = lp.shape().to_vec();
    with_floats!(lp, |ls: F| {
        let r: PyReadonlyArrayDyn<F> = same("ref_logprob", "logprob", ref_logprob)?;
        if r.shape() != shape.as_slice() {
            return Err(invalid("ref_logprob", format!("shape {:?} does not match logprob's {:?}", r.shape(), shape)));
        }
        let rs = slice(&r);
        let out = detach(py, || rewardlab_core::credit::kl::kl_penalty(ls, rs, est, cl))?;
        shaped(py, out, &shape)
    })
}

#[pyfunction]
#[pyo3(signature = (r, kl, action_mask, offsets=None, *, kl_coef, clip=None))]
#[allow(clippy::too_many_arguments)]
pub fn place_outcome_reward<'py>(
    py: Python<'py>,
    r: &Bound<'py, PyAny>,
    kl: &Bound<'py, PyAny>,
    action_mask: &Bound<'py, PyAny>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    kl_coef: f64,
    clip: Option<(f64, f64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let k = floats("kl", kl)?;
    let m = mask("action_mask", Some(action_mask))?;
    if matches!(m, crate::arrays::Mask::Absent) {
        return Err(invalid("action_mask", "is required (a 0/1 array shaped like kl), got None"));
    }
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let shape = k.shape().to_vec();
    with_floats!(k, |ks: F| {
        let rr: PyReadonlyArrayDyn<F> = same("r", "kl", r)?;
        let rs = slice(&rr);
        let lay = layout("kl", &shape, off, ks.len())?;
        let out = with_mask!(m, |ms| detach(py, || {
            let ms = ms.expect("checked above: the mask is present");
            token_reward::place_outcome_reward(rs, ks, ms, &lay, kl_coef, clip)
        }))?;
        shaped(py, out, &shape)
    })
}

/// TRL's GRPO normalisation of `[n, n_funcs]` rewards (NaN: not scored) in contiguous groups of
/// `num_generations`: `(advantages, is_std_zero)`.
#[pyfunction]
#[pyo3(signature = (rewards_per_func, reward_weights, num_generations, scale_rewards, multi_objective_aggregation))]
pub fn group_normalize<'py>(
    py: Python<'py>,
    rewards_per_func: &Bound<'py, PyAny>,
    reward_weights: Vec<f64>,
    num_generations: usize,
    scale_rewards: &str,
    multi_objective_aggregation: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let scale = match scale_rewards {
        "group" => Scale::Group,
        "batch" => Scale::Batch,
        "none" => Scale::None,
        other => return Err(invalid("scale_rewards", format!("must be 'batch', 'group' or 'none', got {other:?}"))),
    };
    let aggregation = match multi_objective_aggregation {
        "sum_then_normalize" => Aggregation::SumThenNormalize,
        "normalize_then_sum" => Aggregation::NormalizeThenSum,
        other => return Err(invalid("multi_objective_aggregation", format!("must be 'sum_then_normalize' or 'normalize_then_sum', got {other:?}"))),
    };
    let r = floats("rewards_per_func", rewards_per_func)?;
    let shape = r.shape();
    if shape.len() != 2 || shape[0] == 0 {
        return Err(invalid("rewards_per_func", format!("must be 2-D [N, n_funcs] with N > 0, got shape {shape:?}")));
    }
    if shape[1] != reward_weights.len() {
        return Err(invalid("reward_weights", format!("must hold {} weights, one per reward function, got {}", shape[1], reward_weights.len())));
    }
    with_floats!(r, |rr: F| {
        let out = detach(py, || multi_reward::group_normalize(rr, &reward_weights, num_generations, scale, aggregation))?;
        Ok((out.advantages.into_pyarray(py).into_any(), out.std_zero.into_pyarray(py).into_any()))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gae, m)?)?;
    m.add_function(wrap_pyfunction!(discounted_returns, m)?)?;
    m.add_function(wrap_pyfunction!(masked_whiten, m)?)?;
    m.add_function(wrap_pyfunction!(masked_moments, m)?)?;
    m.add_function(wrap_pyfunction!(row_scores, m)?)?;
    m.add_function(wrap_pyfunction!(factorize, m)?)?;
    m.add_function(wrap_pyfunction!(group_stats, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(group_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(broadcast_rows, m)?)?;
    m.add_function(wrap_pyfunction!(kl_penalty, m)?)?;
    m.add_function(wrap_pyfunction!(place_outcome_reward, m)?)?;
    Ok(())
}
