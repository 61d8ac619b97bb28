//! Binding of the shaping / inference-time alignment kernels (float64, padded [P, N] or flat + offsets).

use crate::errors::detach;
use crate::groups::{contiguous, group_layout, same_shape};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rewardlab_core::shaping::{self, ThresholdSpec, Thresholds};

/// `(m*, B used)` per group.
#[pyfunction]
#[pyo3(signature = (rewards, offsets=None, base_weights=None, *, b, beta, exponent_cap=None, range_factor=None))]
#[allow(clippy::too_many_arguments)]
pub fn stackelberg_thresholds<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    base_weights: Option<PyReadonlyArrayDyn<'py, f64>>,
    b: f64,
    beta: f64,
    exponent_cap: Option<f64>,
    range_factor: Option<f64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let r = contiguous("rewards", &rewards)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let w = match &base_weights {
        Some(a) => {
            same_shape("base_weights", a, rewards.shape())?;
            Some(contiguous("base_weights", a)?)
        }
        None => None,
    };
    let spec = ThresholdSpec { b, beta, exponent_cap, range_factor };
    let th = detach(py, || shaping::thresholds(r, w, &lay, spec))?;
    Ok((th.m.into_pyarray(py).into_any(), th.b.into_pyarray(py).into_any()))
}

/// Shaped rewards given per-group thresholds and bounds.
#[pyfunction]
#[pyo3(signature = (rewards, m, b, offsets=None, *, alpha, hard))]
pub fn shape_rewards<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    m: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    alpha: f64,
    hard: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let r = contiguous("rewards", &rewards)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let th = Thresholds { m: m.as_slice()?.to_vec(), b: b.as_slice()?.to_vec() };
    let out = detach(py, || shaping::shape(r, &lay, &th, alpha, hard))?;
    Ok(out.into_pyarray(py).reshape(rewards.shape().to_vec())?.into_any())
}

/// Per-candidate probabilities of the tilted distribution (soft best-of-N).
#[pyfunction]
#[pyo3(signature = (rewards, offsets=None, base_weights=None, *, beta))]
pub fn tilted_probabilities<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    base_weights: Option<PyReadonlyArrayDyn<'py, f64>>,
    beta: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let r = contiguous("rewards", &rewards)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let w = match &base_weights {
        Some(a) => {
            same_shape("base_weights", a, rewards.shape())?;
            Some(contiguous("base_weights", a)?)
        }
        None => None,
    };
    let out = detach(py, || shaping::tilted_probabilities(r, w, &lay, beta))?;
    Ok(out.into_pyarray(py).reshape(rewards.shape().to_vec())?.into_any())
}

/// Expected utility per group under the tilted distribution.
#[pyfunction]
#[pyo3(signature = (rewards, utilities, offsets=None, base_weights=None, *, beta))]
pub fn tilted_expectation<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    utilities: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
    base_weights: Option<PyReadonlyArrayDyn<'py, f64>>,
    beta: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let r = contiguous("rewards", &rewards)?;
    same_shape("utilities", &utilities, rewards.shape())?;
    let u = contiguous("utilities", &utilities)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let w = match &base_weights {
        Some(a) => {
            same_shape("base_weights", a, rewards.shape())?;
            Some(contiguous("base_weights", a)?)
        }
        None => None,
    };
    let out = detach(py, || shaping::tilted_expectation(r, u, w, &lay, beta))?;
    Ok(out.into_pyarray(py).into_any())
}

/// Index within its group of each group's best candidate (first on ties).
#[pyfunction]
#[pyo3(signature = (rewards, offsets=None))]
pub fn best_of_n<'py>(
    py: Python<'py>,
    rewards: PyReadonlyArrayDyn<'py, f64>,
    offsets: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<Bound<'py, PyAny>> {
    let r = contiguous("rewards", &rewards)?;
    let off = offsets.as_ref().map(|o| o.as_slice()).transpose()?;
    let lay = group_layout(rewards.shape(), off, r.len())?;
    let out = detach(py, || shaping::best_of_n(r, &lay))?;
    Ok(out.into_pyarray(py).into_any())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stackelberg_thresholds, m)?)?;
    m.add_function(wrap_pyfunction!(shape_rewards, m)?)?;
    m.add_function(wrap_pyfunction!(tilted_probabilities, m)?)?;
    m.add_function(wrap_pyfunction!(tilted_expectation, m)?)?;
    m.add_function(wrap_pyfunction!(best_of_n, m)?)?;
    Ok(())
}
