//! Turning one scalar reward per response into a token-level reward with a KL penalty:
//! the scalar lands on the last valid token, `-kl_coef * kl` on every token (OpenRLHF's
//! `compute_reward`).

use crate::error::{check_finite, CoreError, Result};
use crate::layout::Layout;
use crate::mask::{check_mask, MaskElem};
use crate::parallel;
use crate::real::Real;
use crate::uninit::{self, write_all};

/// `out[i, t] = [t == last valid token of row i] * clip(r[i]) + (-kl_coef) * kl[i, t]`.
/// A row with no valid token receives its reward on its last position, as OpenRLHF's argmax does.
pub fn place_outcome_reward<F: Real, M: MaskElem>(
    reward: &[F],
    kl: &[F],
    mask: &[M],
    layout: &Layout,
    kl_coef: f64,
    clip: Option<(f64, f64)>,
) -> Result<Vec<F>> {
    layout.check("kl", kl.len())?;
    layout.check("action_mask", mask.len())?;
    if reward.len() != layout.rows() {
        return Err(CoreError::shape("r", format!("{} rewards, one per row", layout.rows()), reward.len().to_string()));
    }
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    check_finite("kl_coef", kl_coef)?;
    let coef = F::of(-kl_coef.max(0.0));
    let n = layout.len();
    let mut out = uninit::vec::<F>(n);
    let rows: Vec<_> = layout.split_mut(&mut out).into_iter().enumerate().collect();
    parallel::try_for_each(rows, n, #[inline(always)] |(row, out)| {
        let span = layout.range(row);
        let m = &mask[span.clone()];
        check_mask("action_mask", m, span.start)?;
        let last = m.iter().rposition(|k| k.on());
        let out = write_all(out, kl[span.clone()].iter().map(|&k| coef * k));
        if out.is_empty() {
            return Ok(());
        }
        let mut r = reward[row];
        if let Some((lo, hi)) = clip {
            r = r.clamp_nan(F::of(lo), F::of(hi));
        }
        let t = last.unwrap_or(out.len() - 1);
        out[t] = r + out[t];
        Ok(())
    })?;
    // SAFETY: every row ran without error and wrote its slice in full; the rows cover `out`.
    Ok(unsafe { uninit::assume_init(out) })
}
