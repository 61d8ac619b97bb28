//! Binding of the teacher-diagnostics kernels (float64 groups, padded or flat + offsets).

use crate::errors::detach;
use crate::groups::{contiguous, group_layout, same_shape};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rewardlab_core::diagnostics;

/// `(mean[P], var[P], global_mean, global_var)`: each group's moments (variance with divisor
/// `n - ddof`) and the population moments of all rewards.
#[pyfunction]
#[pyo3(signature = (rewards, offsets=None, *, ddof))]
pub fn group_moments<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    ddof: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, f64, f64)> {
    let r = contiguous("rewards", &rewards)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let m = detach(py, || diagnostics::group_moments(r, &lay, ddof))?;
    Ok((m.mean.into_pyarray(py).into_any(), m.var.into_pyarray(py).into_any(), m.global_mean, m.global_var))
}

/// `(agreeing[P], comparable[P])` pairs per group against gold.
#[pyfunction]
#[pyo3(signature = (rewards, gold, offsets=None))]
pub fn pairwise_agreement<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    gold: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let r = contiguous("rewards", &rewards)?;
    same_shape("gold", &gold, rewards.shape())?;
    let y = contiguous("gold", &gold)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let (agree, n) = detach(py, || diagnostics::pairwise_agreement(r, y, &lay))?;
    Ok((agree.into_pyarray(py).into_any(), n.into_pyarray(py).into_any()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(group_moments, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise_agreement, m)?)?;
    Ok(())
}
