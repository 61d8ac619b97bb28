//! Outcome-reward advantage estimators: one scalar score per response, a baseline from its
//! group (GRPO, Dr.GRPO, RLOO, REINFORCE++-baseline), then broadcast over the response's tokens.

use crate::credit::groups::group_stats;
use crate::credit::whiten::{whiten_one, Moments, WhitenSpec};
use crate::error::{check_finite, CoreError, Result};
use crate::layout::Layout;
use crate::mask::{check_mask, count_checked, MaskElem};
use crate::parallel;
use crate::real::{lane_sum, lane_sum_zip, Real};
use crate::uninit::{self, write_all};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Estimator {
    /// `(s - mean) / (std + eps)`; `s - mean` (Dr.GRPO) when `scale_by_std` is false.
    Grpo { scale_by_std: bool, eps: f64 },
    /// Leave-one-out baseline: `s - mean(others) = (s - mean) * n / (n - 1)`.
    Rloo,
    /// Group-mean baseline: `s - mean` (REINFORCE++-baseline, OpenRLHF's dr_grpo).
    MeanBaseline,
}

/// What a group with a single (included) member gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// Baseline 0 and scale 1, so the raw score passes (GRPO divides by `1 + eps`): verl's loops.
    PassThrough,
    /// Advantage 0: verl's vectorised RLOO, TRL.
    Zero,
}

/// Robustness options the reference stacks lack; all off reproduces them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Robust {
    /// Leave NaN/inf scores out of the group statistics; their advantage is 0.
    pub finite_only: bool,
    /// Give every member of a group whose scores are all equal an advantage of exactly 0
    /// (instead of rounding noise divided by eps).
    pub mask_zero_variance: bool,
    /// Leave responses with no valid token out of the group statistics; their advantage is 0.
    pub exclude_empty: bool,
    /// Lower bound on the std a GRPO score is divided by (before eps is added); 0 disables it.
    pub std_floor: f64,
}

/// What the robust options did, for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutcomeReport {
    pub n_groups: usize,
    pub n_singleton_groups: usize,
    pub n_zero_variance_groups: usize,
    pub n_nonfinite_excluded: usize,
    pub n_empty_excluded: usize,
}

/// Per-response advantages from per-response scores and dense group codes.
/// `empty[i]` marks responses with no valid token (only used with `robust.exclude_empty`).
pub fn outcome_advantages<F: Real>(
    scores: &[F],
    codes: &[u32],
    n_groups: usize,
    empty: Option<&[bool]>,
    estimator: Estimator,
    singleton: Singleton,
    robust: Robust,
) -> Result<(Vec<F>, OutcomeReport)> {
    if scores.is_empty() {
        return Err(CoreError::Empty { arg: "scores" });
    }
    if let Estimator::Grpo { eps, .. } = estimator {
        // A negative eps can make std + eps negative and silently flip the advantages' sign.
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(CoreError::value("epsilon", format!("must be finite and >= 0, got {eps}")));
        }
    }
    check_finite("std_floor", robust.std_floor)?;
    let mut report = OutcomeReport { n_groups, ..Default::default() };
    let include: Vec<bool> = (0..scores.len())
        .map(|i| {
            if robust.finite_only && !scores[i].is_finite() {
                report.n_nonfinite_excluded += 1;
                return false;
            }
            if robust.exclude_empty && empty.is_some_and(|e| e[i]) {
                report.n_empty_excluded += 1;
                return false;
            }
            true
        })
        .collect();
    let stats = group_stats(scores, codes, n_groups, Some(&include))?;
    let zero_var: Vec<bool> = (0..n_groups).map(|g| stats.count[g] > 1 && stats.std[g] == 0.0).collect();
    report.n_singleton_groups = stats.count.iter().filter(|&&c| c == 1).count();
    report.n_zero_variance_groups = zero_var.iter().filter(|&&z| z).count();

    let adv = scores
        .iter()
        .zip(codes)
        .zip(&include)
        .map(|((&s, &g), &inc)| {
            let g = g as usize;
            let c = stats.count[g];
            if !inc || (robust.mask_zero_variance && zero_var[g]) {
                return F::zero();
            }
            let s = s.f64();
            let a = if c == 1 {
                match (singleton, estimator) {
                    (Singleton::Zero, _) => 0.0,
                    (Singleton::PassThrough, Estimator::Grpo { scale_by_std: true, eps }) => s / (1.0 + eps),
                    (Singleton::PassThrough, _) => s,
                }
            } else {
                let (mean, n) = (stats.mean[g], c as f64);
                match estimator {
                    Estimator::Grpo { scale_by_std: true, eps } => (s - mean) / (stats.std[g].max(robust.std_floor) + eps),
                    Estimator::Grpo { scale_by_std: false, .. } | Estimator::MeanBaseline => s - mean,
                    Estimator::Rloo => s * n / (n - 1.0) - mean * n / (n - 1.0),
                }
            };
            F::of(a)
        })
        .collect();
    Ok((adv, report))
}

/// Per-row sum of token rewards: over every token (verl's unmasked `sum(-1)`) or, with
/// `masked`, over valid tokens only. Also returns which rows have no valid token.
pub fn row_scores<F: Real, M: MaskElem>(
    rewards: &[F],
    mask: Option<&[M]>,
    layout: &Layout,
    masked: bool,
) -> Result<(Vec<F>, Vec<bool>)> {
    layout.check("token_level_rewards", rewards.len())?;
    if let Some(m) = mask {
        layout.check("response_mask", m.len())?;
    }
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    let rows: Vec<usize> = (0..layout.rows()).collect();
    let out = parallel::try_map(rows, layout.len(), #[inline(always)] |row| {
        let span = layout.range(row);
        let r = &rewards[span.clone()];
        let (sum, valid) = match mask {
            None => (lane_sum(r, |x| x.f64()), r.len()),
            Some(m) => {
                let m = &m[span.clone()];
                let valid = count_checked("response_mask", m, span.start)?;
                let sum = if masked {
                    lane_sum_zip(r, m, |x, k| if k.on() { x.f64() } else { 0.0 })
                } else {
                    lane_sum(r, |x| x.f64())
                };
                (sum, valid)
            }
        };
        Ok((F::of(sum), valid == 0))
    })?;
    Ok(out.into_iter().unzip())
}

/// `out[i, t] = scalars[i] * mask[i, t]` (every token when `mask` is `None`), then whitened over
/// the mask when `whiten` is given. Multiplication, as the references do, so NaN scalars stay
/// visible. Whitening takes no pass over the broadcast values: row `i` contributes `count_i`
/// copies of `scalars[i]`, so its moments follow from the rows' token counts, and the output is
/// written once, already whitened.
pub fn broadcast_rows<F: Real, M: MaskElem>(scalars: &[F], mask: Option<&[M]>, layout: &Layout, whiten: Option<&WhitenSpec>) -> Result<Vec<F>> {
    if scalars.len() != layout.rows() {
        return Err(CoreError::shape("scalars", format!("{} values, one per row", layout.rows()), scalars.len().to_string()));
    }
    let n = layout.len();
    let params = match whiten {
        None => None,
        Some(spec) => {
            let rows: Vec<usize> = (0..layout.rows()).collect();
            let counts = parallel::try_map(rows, n, #[inline(always)] |row| {
                let span = layout.range(row);
                Ok(match mask {
                    None => span.len(),
                    Some(m) => count_checked("response_mask", &m[span.clone()], span.start)?,
                })
            })?;
            let moments = Moments::merge_all(counts.into_iter().zip(scalars).map(|(c, s)| Moments::constant(s.f64(), c)));
            let (mean, rstd) = spec.params(moments)?;
            Some((spec, F::of(mean), F::of(rstd)))
        }
    };
    let mut out = uninit::vec::<F>(n);
    let rows: Vec<_> = layout.split_mut(&mut out).into_iter().enumerate().collect();
    parallel::try_for_each(rows, n, #[inline(always)] |(row, out)| {
        let s = scalars[row];
        let span = layout.range(row);
        let flag = |k: M| if k.on() { F::one() } else { F::zero() };
        match (mask, params) {
            (None, None) => write_all(out, std::iter::repeat(s).take(span.len())),
            (None, Some((spec, mean, rstd))) => {
                let w = whiten_one::<F, M>(s, None, spec, mean, rstd);
                write_all(out, std::iter::repeat(w).take(span.len()))
            }
            (Some(m), None) => {
                let m = &m[span.clone()];
                check_mask("response_mask", m, span.start)?;
                write_all(out, m.iter().map(|&k| s * flag(k)))
            }
            // the mask was validated while counting
            (Some(m), Some((spec, mean, rstd))) => {
                write_all(out, m[span].iter().map(|&k| whiten_one(s * flag(k), Some(k), spec, mean, rstd)))
            }
        };
        Ok(())
    })?;
    // SAFETY: every row ran without error and wrote its slice in full; the rows cover `out`.
    Ok(unsafe { uninit::assume_init(out) })
}
