//! Binding of the fast-slow gate kernels (confidences float64 1-D; logits float32 or float64).

use crate::arrays::{floats, slice, Floats};
use crate::errors::{detach, invalid};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use rewardlab_core::gate::{self, Target};

fn vector<'a>(arg: &str, a: &'a PyReadonlyArray1<'_, f64>) -> PyResult<&'a [f64]> {
    a.as_slice().map_err(|_| invalid(arg, "must be a C-contiguous 1-D float64 array"))
}

/// `(verdict_logp[rows, K], entropy[rows], top2_gap[rows])` of `logits[rows, vocab]`.
#[pyfunction]
pub fn first_token_features<'py>(
    py: Python<'py>,
    logits: &Bound<'py, PyAny>,
    verdict_ids: Vec<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let arr = floats("logits", logits)?;
    let shape = arr.shape().to_vec();
    if shape.len() != 2 {
        return Err(invalid("logits", format!("must be 2-D [rows, vocab], got shape {shape:?}")));
    }
    let vocab = shape[1];
    let f = match &arr {
        Floats::F32(a) => {
            let z = slice(a);
            detach(py, || gate::first_token(z, vocab, &verdict_ids))?
        }
        Floats::F64(a) => {
            let z = slice(a);
            detach(py, || gate::first_token(z, vocab, &verdict_ids))?
        }
    };
    let k = verdict_ids.len();
    Ok((
        f.verdict_logp.into_pyarray(py).reshape([shape[0], k])?.into_any(),
        f.entropy.into_pyarray(py).into_any(),
        f.top2_gap.into_pyarray(py).into_any(),
    ))
}

/// Boolean `[n]`: `c1 < tau1 or c2 < tau2`.
#[pyfunction]
#[pyo3(signature = (c1, c2=None, *, tau1, tau2))]
pub fn gate_route<'py>(
    py: Python<'py>,
    c1: PyReadonlyArray1<'py, f64>,
    c2: Option<PyReadonlyArray1<'py, f64>>,
    tau1: f64,
    tau2: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let a = vector("c1", &c1)?;
    let b = c2.as_ref().map(|c| vector("c2", c)).transpose()?;
    let slow = detach(py, || gate::route(a, b, tau1, tau2))?;
    Ok(slow.into_pyarray(py).into_any())
}

/// `(tau1, tau2, slow, tokens)`: the thresholds at the highest common quantile level of `c1` and
/// `c2` whose slow count stays within `slow_count`, or whose spend stays within `token_budget`.
#[pyfunction]
#[pyo3(signature = (c1, c2=None, *, slow_count=None, fast_tokens=None, slow_tokens=None, token_budget=None))]
#[allow(clippy::too_many_arguments)]
pub fn gate_calibrate<'py>(
    py: Python<'py>,
    c1: PyReadonlyArray1<'py, f64>,
    c2: Option<PyReadonlyArray1<'py, f64>>,
    slow_count: Option<usize>,
    fast_tokens: Option<PyReadonlyArray1<'py, f64>>,
    slow_tokens: Option<PyReadonlyArray1<'py, f64>>,
    token_budget: Option<f64>,
) -> PyResult<(f64, f64, usize, f64)> {
    let a = vector("c1", &c1)?;
    let b = c2.as_ref().map(|c| vector("c2", c)).transpose()?;
    let cal = match (slow_count, token_budget, &fast_tokens, &slow_tokens) {
        (Some(m), None, _, _) => detach(py, || gate::calibrate(a, b, Target::SlowCount(m)))?,
        (None, Some(budget), Some(f), Some(s)) => {
            let (f, s) = (vector("fast_tokens", f)?, vector("slow_tokens", s)?);
            detach(py, || gate::calibrate(a, b, Target::Tokens { fast: f, slow: s, budget }))?
        }
        (None, Some(_), _, _) => return Err(invalid("token_budget", "needs fast_tokens and slow_tokens")),
        _ => return Err(invalid("slow_count", "give exactly one of slow_count and token_budget")),
    };
    Ok((cal.tau1, cal.tau2, cal.slow, cal.tokens))
}

/// `(slow[G1, G2] int64, gain[G1, G2], tokens[G1, G2])` over the grid `tau1 × tau2`.
#[pyfunction]
pub fn gate_sweep<'py>(
    py: Python<'py>,
    c1: PyReadonlyArray1<'py, f64>,
    c2: PyReadonlyArray1<'py, f64>,
    gain: PyReadonlyArray1<'py, f64>,
    slow_tokens: PyReadonlyArray1<'py, f64>,
    tau1: PyReadonlyArray1<'py, f64>,
    tau2: PyReadonlyArray1<'py, f64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let (a, b) = (vector("c1", &c1)?, vector("c2", &c2)?);
    let (g, t) = (vector("gain", &gain)?, vector("slow_tokens", &slow_tokens)?);
    let (t1, t2) = (vector("tau1", &tau1)?, vector("tau2", &tau2)?);
    let s = detach(py, || gate::sweep(a, b, g, t, t1, t2))?;
    let shape = [t1.len(), t2.len()];
    let slow: Vec<i64> = s.slow.into_iter().map(|v| v as i64).collect();
    Ok((
        slow.into_pyarray(py).reshape(shape)?.into_any(),
        s.gain.into_pyarray(py).reshape(shape)?.into_any(),
        s.tokens.into_pyarray(py).reshape(shape)?.into_any(),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(first_token_features, m)?)?;
    m.add_function(wrap_pyfunction!(gate_route, m)?)?;
    m.add_function(wrap_pyfunction!(gate_calibrate, m)?)?;
    m.add_function(wrap_pyfunction!(gate_sweep, m)?)?;
    Ok(())
}
