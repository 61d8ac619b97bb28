//! Bindings of `rewardlab_core::credit::token_reward`: KL penalties and the scalar reward placed on the last valid token.

use super::*;
use rewardlab_core::credit::token_reward;

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
