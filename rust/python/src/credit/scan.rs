//! Bindings of `rewardlab_core::credit::scan`: GAE and discounted returns.

use super::*;
use rewardlab_core::credit::scan;

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
