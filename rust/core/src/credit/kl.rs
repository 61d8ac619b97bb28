//! Per-token KL penalty estimators between the policy and the reference log-probabilities
//! (Schulman's k1/k2/k3 and |log ratio|), with each reference stack's clamps.

use crate::error::{CoreError, Result};
use crate::parallel;
use crate::real::Real;
use crate::uninit::{self, write_all};
use std::mem::MaybeUninit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlEstimator {
    /// `log p - log q`.
    K1,
    /// `|log p - log q|`.
    Abs,
    /// `(log p - log q)^2 / 2`.
    K2,
    /// `exp(q - p) - (q - p) - 1` in log space (verl's low_var_kl).
    K3,
}

impl KlEstimator {
    /// Accepts the names verl, OpenRLHF and TRL use.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "kl" | "k1" => Ok(KlEstimator::K1),
            "abs" => Ok(KlEstimator::Abs),
            "mse" | "k2" => Ok(KlEstimator::K2),
            "low_var_kl" | "k3" => Ok(KlEstimator::K3),
            other => Err(CoreError::value(
                "kl_penalty",
                format!("unknown estimator {other:?}; expected one of kl/k1, abs, mse/k2, low_var_kl/k3"),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlClamp {
    /// No clamping at all.
    None,
    /// verl: k3 clamps `q - p` to ±20 before `exp` and the result to ±10; others unclamped.
    Verl,
    /// OpenRLHF: k3 clamps `p - q` below at -10 before `exp`; every estimator is clamped to ±10.
    OpenRlhf,
}

#[inline(always)]
fn kl_one<F: Real>(logp: F, reference: F, est: KlEstimator, clamp: KlClamp) -> F {
    let (ten, twenty) = (F::of(10.0), F::of(20.0));
    let log_ratio = logp - reference;
    let value = match est {
        KlEstimator::K1 => log_ratio,
        KlEstimator::Abs => log_ratio.abs(),
        // OpenRLHF writes log_ratio**2 / 2.0, verl 0.5 * square: equal in IEEE arithmetic.
        KlEstimator::K2 => F::of(0.5) * (log_ratio * log_ratio),
        KlEstimator::K3 => match clamp {
            KlClamp::OpenRlhf => {
                let x = log_ratio.clamp_nan(-ten, F::infinity());
                ((-x).exp_vec() - F::one()) + x
            }
            KlClamp::Verl => {
                let kl = (reference - logp).clamp_nan(-twenty, twenty);
                (kl.exp_vec_in_range() - kl) - F::one()
            }
            KlClamp::None => {
                let kl = reference - logp;
                (kl.exp_vec() - kl) - F::one()
            }
        },
    };
    let clamp_out = matches!(clamp, KlClamp::OpenRlhf) || (matches!(clamp, KlClamp::Verl) && est == KlEstimator::K3);
    if clamp_out {
        value.clamp_nan(-ten, ten)
    } else {
        value
    }
}

/// Elementwise KL estimate of equal-length `logprob` and `ref_logprob`.
pub fn kl_penalty<F: Real>(logprob: &[F], ref_logprob: &[F], est: KlEstimator, clamp: KlClamp) -> Result<Vec<F>> {
    if logprob.len() != ref_logprob.len() {
        return Err(CoreError::shape(
            "ref_logprob",
            format!("{} elements like logprob", logprob.len()),
            ref_logprob.len().to_string(),
        ));
    }
    if logprob.is_empty() {
        return Err(CoreError::Empty { arg: "logprob" });
    }
    const CHUNK: usize = 1 << 14;
    let n = logprob.len();
    let mut out = uninit::vec::<F>(n);
    let chunks: Vec<(usize, &mut [MaybeUninit<F>])> = out.chunks_mut(CHUNK).enumerate().map(|(i, c)| (i * CHUNK, c)).collect();
    parallel::try_for_each(chunks, n, #[inline(always)] |(start, chunk)| {
        let end = start + chunk.len();
        fill(chunk, &logprob[start..end], &ref_logprob[start..end], est, clamp);
        Ok(())
    })?;
    // SAFETY: the chunks cover `out` and `fill` writes each in full.
    Ok(unsafe { uninit::assume_init(out) })
}

/// One loop per (estimator, clamp) pair, so that each loop body is branch-free and vectorises
/// (with `exp_vec`) instead of re-deciding the estimator per element.
#[inline(always)]
fn fill<F: Real>(out: &mut [MaybeUninit<F>], logp: &[F], reference: &[F], est: KlEstimator, clamp: KlClamp) {
    macro_rules! run {
        ($e:expr, $c:expr) => {{
            write_all(out, logp.iter().zip(reference).map(|(&a, &b)| kl_one(a, b, $e, $c)));
        }};
    }
    use KlClamp as C;
    use KlEstimator as E;
    match (est, clamp) {
        (E::K1, C::None) => run!(E::K1, C::None),
        (E::K1, C::Verl) => run!(E::K1, C::Verl),
        (E::K1, C::OpenRlhf) => run!(E::K1, C::OpenRlhf),
        (E::Abs, C::None) => run!(E::Abs, C::None),
        (E::Abs, C::Verl) => run!(E::Abs, C::Verl),
        (E::Abs, C::OpenRlhf) => run!(E::Abs, C::OpenRlhf),
        (E::K2, C::None) => run!(E::K2, C::None),
        (E::K2, C::Verl) => run!(E::K2, C::Verl),
        (E::K2, C::OpenRlhf) => run!(E::K2, C::OpenRlhf),
        (E::K3, C::None) => run!(E::K3, C::None),
        (E::K3, C::Verl) => run!(E::K3, C::Verl),
        (E::K3, C::OpenRlhf) => run!(E::K3, C::OpenRlhf),
    }
}
