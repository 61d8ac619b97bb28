//! Bindings of `rewardlab_core::credit::whiten`: Masked moments and whitening.

use super::*;
use rewardlab_core::credit::whiten;

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
