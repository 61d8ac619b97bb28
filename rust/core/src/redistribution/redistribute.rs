//! Segment-level reward redistribution (RREDCoT, after RUDDER): state values of segment
//! prefixes from an importance-sampling estimate built on the model's own log-probabilities,
//! return-equivalent segment rewards from value differences, and their spreading onto tokens.
//!
//! With states `s_0` (the prompt) and `s_k` (prompt plus the first `k` segments), a row with `K`
//! segments and verifier reward `R` gets `r̃_k = V̂(s_k) − V̂(s_{k−1})` for `k < K` and
//! `r̃_K = R − V̂(s_{K−1})`, so its segment rewards sum to `R − V̂(s_0)`.
//!
//! The value estimate `V̂(s) = (1/M) Σ_m π(c_m|s) / q(c_m) · U_m` over `M` already sampled
//! completions is computed in log space: sequence log-probabilities of long completions are far
//! below the smallest float, so the terms are combined by a max-shifted log-sum-exp in f64.

use crate::error::{CoreError, Result};
use crate::layout::Layout;
use crate::parallel;
use crate::real::{first_non_finite, lane_sum, Real};
use crate::redistribution::segment::{check_offsets, valid_lengths, Segments};
use crate::uninit;
use std::mem::MaybeUninit;

/// Per-row sum of token log-probabilities over the valid prefix (`lengths`, or the whole row):
/// `log π(c|s)` of a completion from its teacher-forced token log-probs. Accumulates in f64.
/// `-inf` (an impossible token) gives `-inf`; NaN or `+inf` is an error naming `token_logp`.
pub fn sequence_logprob<F: Real>(token_logp: &[F], layout: &Layout, lengths: Option<&[i64]>) -> Result<Vec<F>> {
    layout.check("token_logp", token_logp.len())?;
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    let lens = valid_lengths(layout, lengths)?;
    let rows: Vec<usize> = (0..layout.rows()).collect();
    parallel::try_map(rows, layout.len(), #[inline(always)] |b| {
        let start = layout.range(b).start;
        let row = &token_logp[start..start + lens[b]];
        let sum = lane_sum(row, |x| x.f64());
        // NaN and +inf (alone or against -inf) are the only ways the sum is NaN or +inf
        if sum.is_nan() || sum == f64::INFINITY {
            let i = row.iter().position(|x| x.is_nan() || *x == F::infinity()).unwrap_or(0);
            return Err(CoreError::value(
                "token_logp",
                format!("must not be NaN or +inf; {:?} at flat index {}", row[i], start + i),
            ));
        }
        Ok(F::of(sum))
    })
}

/// Checks the estimator's inputs; returns whether `log_q` is per state (`[S, M]`).
fn check_is_inputs<F: Real>(log_pi: &[F], log_q: &[F], utility: &[F], states: usize, completions: usize) -> Result<bool> {
    if completions == 0 {
        return Err(CoreError::Empty { arg: "completions" });
    }
    if states == 0 {
        return Err(CoreError::Empty { arg: "states" });
    }
    let sm = states.checked_mul(completions).ok_or_else(|| CoreError::value("states", "states x completions overflows"))?;
    if log_pi.len() != sm {
        return Err(CoreError::shape("log_pi", format!("[{states}, {completions}] = {sm} values"), log_pi.len().to_string()));
    }
    let per_state = if log_q.len() == completions {
        false
    } else if log_q.len() == sm {
        true
    } else {
        return Err(CoreError::shape(
            "log_q",
            format!("[{completions}] or [{states}, {completions}] values"),
            log_q.len().to_string(),
        ));
    };
    if utility.len() != completions {
        return Err(CoreError::shape("utility", format!("[{completions}] values, one per completion"), utility.len().to_string()));
    }
    if let Some(i) = first_non_finite(log_q) {
        return Err(CoreError::value(
            "log_q",
            format!("must be finite (a sampled completion has q > 0); {:?} at index {i}", log_q[i]),
        ));
    }
    if let Some(i) = utility.iter().position(|u| !(u.is_finite() && *u >= F::zero())) {
        return Err(CoreError::value("utility", format!("must be finite and >= 0; {:?} at index {i}", utility[i])));
    }
    Ok(per_state)
}

/// `log V̂(s)` for each of `states` states: `V̂(s) = (1/M) Σ_m exp(log_pi[s, m] − log_q[m]) · U_m`.
///
/// - `log_pi`: row-major `[states, completions]`, `log π(c_m | s)`; `-inf` marks a completion
///   impossible from `s`; NaN or `+inf` is an error.
/// - `log_q`: `[completions]` (one proposal for all states) or `[states, completions]`; finite.
/// - `utility`: `[completions]`, finite and `>= 0`; terms with `U_m = 0` drop out.
///
/// Computed in f64 as a max-shifted log-sum-exp, so neither huge ratios nor sequence
/// log-probabilities of −1e5 overflow or underflow. A state whose terms are all zero gets
/// `-inf` (`V̂ = 0`); the result is never NaN.
pub fn log_value_is<F: Real>(log_pi: &[F], log_q: &[F], utility: &[F], states: usize, completions: usize) -> Result<Vec<F>> {
    let per_state = check_is_inputs(log_pi, log_q, utility, states, completions)?;
    let m = completions;
    // ln U once: -inf for U = 0, which makes that term exp(-inf) = 0 without a branch
    let log_u: Vec<f64> = utility.iter().map(|u| u.f64().ln()).collect();
    let log_m = (m as f64).ln();
    let items: Vec<usize> = (0..states).collect();
    parallel::try_map(items, log_pi.len(), #[inline(always)] |s| {
        let lp = &log_pi[s * m..(s + 1) * m];
        let lq = if per_state { &log_q[s * m..(s + 1) * m] } else { log_q };
        if !lp.iter().fold(true, |ok, x| ok & (*x < F::infinity())) {
            let i = lp.iter().position(|x| x.is_nan() || *x == F::infinity()).unwrap_or(0);
            return Err(CoreError::value(
                "log_pi",
                format!("must not be NaN or +inf; {:?} at state {s}, completion {i}", lp[i]),
            ));
        }
        // every term is finite or -inf (log_pi < +inf, log_q finite, ln U <= +finite)
        let term = |j: usize| lp[j].f64() - lq[j].f64() + log_u[j];
        let top = (0..m).map(term).fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            return Ok(F::neg_infinity());
        }
        let sum: f64 = (0..m).map(|j| (term(j) - top).exp()).sum();
        Ok(F::of(top + sum.ln() - log_m))
    })
}

/// `V̂(s) = exp(log V̂(s))`, see [`log_value_is`]. It is 0 where the log value is `-inf` (or
/// below the float range), and `+inf` only where the true estimate exceeds the float range
/// (`log V̂ > ln(F::MAX)`, about 88.7 for f32, 709.8 for f64); use the log form to stay exact.
pub fn value_is<F: Real>(log_pi: &[F], log_q: &[F], utility: &[F], states: usize, completions: usize) -> Result<Vec<F>> {
    let mut v = log_value_is(log_pi, log_q, utility, states, completions)?;
    v.iter_mut().for_each(|x| *x = x.exp());
    Ok(v)
}

/// Segment rewards from state values. `values` holds, per row, `K_b` values
/// `V̂(s_0), …, V̂(s_{K_b−1})` laid out by `seg_offsets` (the [`Segments::offsets`]); `outcome`
/// holds one final reward `R_b` per row. Returns `r̃` in the same layout:
/// `r̃[j] = V̂(s_{j+1}) − V̂(s_j)` for `j < K_b − 1` and `r̃[K_b − 1] = R_b − V̂(s_{K_b−1})`.
/// A row without segments (an empty response) has no output and its outcome is not used.
pub fn redistribute<F: Real>(values: &[F], seg_offsets: &[i64], outcome: &[F]) -> Result<Vec<F>> {
    let total = check_offsets("seg_offsets", seg_offsets)?;
    if total != values.len() {
        return Err(CoreError::shape("values", format!("{total} values (seg_offsets[-1])"), values.len().to_string()));
    }
    let rows = seg_offsets.len() - 1;
    if outcome.len() != rows {
        return Err(CoreError::shape("outcome", format!("{rows} rewards, one per row"), outcome.len().to_string()));
    }
    if rows == 0 {
        return Err(CoreError::Empty { arg: "outcome" });
    }
    if let Some(i) = first_non_finite(values) {
        return Err(CoreError::value("values", format!("must be finite; {:?} at index {i}", values[i])));
    }
    if let Some(i) = first_non_finite(outcome) {
        return Err(CoreError::value("outcome", format!("must be finite; {:?} at index {i}", outcome[i])));
    }
    let layout = Layout::Ragged { offsets: seg_offsets };
    let mut out = uninit::vec::<F>(total);
    let rows: Vec<_> = layout.split_mut(&mut out).into_iter().enumerate().collect();
    // one subtraction per value: threads pay for themselves only from about a million values
    // (1.3e5 values: 38-55 us on one thread, 58-85 us on two)
    parallel::try_for_each(rows, total / 16, #[inline(always)] |(b, out)| {
        let v = &values[layout.range(b)];
        if let Some((last, diffs)) = out.split_last_mut() {
            // zipped slices, not indices: no bounds checks, so the difference vectorises
            uninit::write_all(diffs, v[1..].iter().zip(v).map(|(&next, &cur)| next - cur));
            last.write(outcome[b] - v[v.len() - 1]);
        }
        Ok(())
    })?;
    // SAFETY: the rows cover `out` (ragged layout of `total` values), and each row is written in
    // full: its differences and its last value
    Ok(unsafe { uninit::assume_init(out) })
}

/// How a segment's reward is placed on its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// The whole reward on the segment's last token (a sparse reward, as an outcome reward).
    Last,
    /// `reward / length` on each token: token sums equal segment sums.
    Uniform,
    /// The reward on every token of the segment (advantage-style, as GRPO broadcasts).
    Broadcast,
}

/// Token rewards in `layout` (padded `[B, T]` or ragged) from one reward per segment; tokens
/// after a row's last segment (padding) get 0. See [`spread_into`].
pub fn spread_to_tokens<F: Real>(segment_rewards: &[F], segments: &Segments, layout: &Layout, mode: Spread) -> Result<Vec<F>> {
    let mut out = uninit::vec::<F>(layout.len());
    spread_into_uninit(&mut out, segment_rewards, segments, layout, mode)?;
    // SAFETY: spread_into_uninit returned Ok, so it wrote every position
    Ok(unsafe { uninit::assume_init(out) })
}

/// [`spread_to_tokens`] into a caller's buffer of `layout.len()` values; every position is
/// written. `segments` is checked against `layout` ([`Segments::check`]); `segment_rewards`
/// holds one value per segment. Non-finite rewards are spread as they are.
pub fn spread_into<F: Real>(out: &mut [F], segment_rewards: &[F], segments: &Segments, layout: &Layout, mode: Spread) -> Result<()> {
    // SAFETY: MaybeUninit<F> has F's layout, and only initialised values are written through it
    let out = unsafe { &mut *(out as *mut [F] as *mut [MaybeUninit<F>]) };
    spread_into_uninit(out, segment_rewards, segments, layout, mode)
}

/// [`spread_into`] a buffer that need not be initialised: on `Ok`, every position has been
/// written. Memory that is not zeroed first costs one pass over the output instead of two, and
/// memory kept by the allocator (`retain.rs`) no page faults: the `last` spread of 1024 × 8192
/// tokens into `numpy.zeros` took 2.2-8 ms, depending on whether numpy's memory came fresh from
/// the system (huge pages) or from glibc's heap (4 KiB pages, faulted in by both threads).
pub fn spread_into_uninit<F: Real>(
    out: &mut [MaybeUninit<F>],
    segment_rewards: &[F],
    segments: &Segments,
    layout: &Layout,
    mode: Spread,
) -> Result<()> {
    layout.check("out", out.len())?;
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    segments.check(layout)?;
    if segment_rewards.len() != segments.total() {
        return Err(CoreError::shape(
            "segment_rewards",
            format!("{} values, one per segment", segments.total()),
            segment_rewards.len().to_string(),
        ));
    }
    let fill = |seg: &mut [MaybeUninit<F>], x: F| seg.iter_mut().for_each(|o| _ = o.write(x));
    let n = layout.len();
    let rows: Vec<_> = layout.split_mut(out).into_iter().enumerate().collect();
    parallel::try_for_each(rows, n, #[inline(always)] |(b, out)| {
        let first = segments.offsets[b] as usize;
        let mut start = 0usize;
        for (k, &end) in segments.row(b).iter().enumerate() {
            let (end, r) = (end as usize, segment_rewards[first + k]);
            let seg = &mut out[start..end];
            match mode {
                Spread::Last => {
                    // segments are non-empty (checked), so there is a last token
                    if let Some((last, rest)) = seg.split_last_mut() {
                        fill(rest, F::zero());
                        last.write(r);
                    }
                }
                Spread::Uniform => fill(seg, r / F::of(seg.len() as f64)),
                Spread::Broadcast => fill(seg, r),
            }
            start = end;
        }
        fill(&mut out[start..], F::zero());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telescoping_by_hand() {
        // row 0: values 0.2, 0.5, 0.4 with R = 1 -> 0.3, -0.1, 0.6; row 1: no segment; row 2: K = 1
        let r = redistribute(&[0.25f64, 0.5, 0.375, 0.75], &[0, 3, 3, 4], &[1.0, 1.0, 0.0]).unwrap();
        assert_eq!(r, vec![0.25, -0.125, 0.625, -0.75]);
    }

    #[test]
    fn log_sum_exp_by_hand() {
        // one state, M = 2: (1/2)(e^{0 - ln 0.5}·1 + e^{ln 0.25 - ln 0.5}·2) = (1/2)(2 + 1) = 1.5
        let lv = log_value_is(&[0.0f64, 0.25f64.ln()], &[0.5f64.ln(), 0.5f64.ln()], &[1.0, 2.0], 1, 2).unwrap();
        assert!((lv[0] - 1.5f64.ln()).abs() < 1e-15);
        let none = log_value_is(&[f64::NEG_INFINITY, 0.0], &[0.0, 0.0], &[1.0, 0.0], 1, 2).unwrap();
        assert_eq!(none, vec![f64::NEG_INFINITY]);
    }
}
