//! Bindings of `rewardlab_core::credit::outcome`: Outcome-reward advantages, group ids and group statistics, row scores and broadcasts.

use super::*;
use rewardlab_core::credit::outcome;

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
