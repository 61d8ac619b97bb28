//! Bindings of the credit-assignment kernels: convert, release the GIL, call the core.

use crate::arrays::{floats, mask, same, slice};
use crate::errors::{detach, invalid, to_py};
use crate::{with_floats, with_mask};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rewardlab_core::credit::groups;
use rewardlab_core::credit::kl::{KlClamp, KlEstimator};
use rewardlab_core::credit::multi_reward::{Aggregation, Scale};
use rewardlab_core::credit::outcome::{Estimator, Robust, Singleton};
use rewardlab_core::credit::scan::MaskedSteps;
use rewardlab_core::credit::whiten::{VarEps, WhitenSpec};
use rewardlab_core::Layout;

mod multi_reward;
mod outcome;
mod scan;
mod token_reward;
mod whiten;

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan::gae, m)?)?;
    m.add_function(wrap_pyfunction!(scan::discounted_returns, m)?)?;
    m.add_function(wrap_pyfunction!(whiten::masked_whiten, m)?)?;
    m.add_function(wrap_pyfunction!(whiten::masked_moments, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::row_scores, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::factorize, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::group_stats, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::outcome_advantages, m)?)?;
    m.add_function(wrap_pyfunction!(multi_reward::group_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(outcome::broadcast_rows, m)?)?;
    m.add_function(wrap_pyfunction!(token_reward::kl_penalty, m)?)?;
    m.add_function(wrap_pyfunction!(token_reward::place_outcome_reward, m)?)?;
    Ok(())
}
