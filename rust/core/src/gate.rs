//! The dual-confidence gate of fast-slow reward scoring: which items may keep their cheap fast
//! score and which must pay for a slow chain-of-thought judgement.
//!
//! An item stays fast when both confidences clear their thresholds, `c1 ≥ τ1 AND c2 ≥ τ2`; it
//! goes slow otherwise. `c1` ("intuition") comes from the fast margin, `c2` from the shape of the
//! first-token distribution or from ensemble disagreement; both are "higher = surer".
//!
//! Three batched kernels:
//! - [`first_token`]: from full-vocabulary logits `[rows, vocab]`, the log-probabilities of the
//!   verdict tokens, the normalised entropy and the top-1 − top-2 probability gap, in one pass
//!   per row (no `[rows, vocab]` softmax is materialised).
//! - [`calibrate`]: thresholds at one common quantile level of `c1` and `c2` on a dev split,
//!   the highest level whose slow count or token spend stays within a target.
//! - [`sweep`]: the slow count, accuracy gain and slow tokens of every cell of a `τ1 × τ2` grid,
//!   for accuracy-versus-tokens curves, by one sort and prefix sums per `τ2` column.

use crate::error::{CoreError, Result};
use crate::parallel;
use crate::real::{first_non_finite, Real};

/// Features of one first-token distribution per row.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstToken {
    /// `[rows, K]` log-probabilities (full-vocabulary softmax) of the verdict tokens.
    pub verdict_logp: Vec<f64>,
    /// Entropy divided by `ln(vocab)`: 0 for a one-hot distribution, 1 for a uniform one.
    pub entropy: Vec<f64>,
    /// Probability of the most likely token minus that of the second.
    pub top2_gap: Vec<f64>,
}

/// First-token features of every row of `logits` (`[rows, vocab]`, row-major).
pub fn first_token<T: Real>(logits: &[T], vocab: usize, verdict_ids: &[usize]) -> Result<FirstToken> {
    if vocab < 2 {
        return Err(CoreError::value("vocab", format!("must be at least 2, got {vocab}")));
    }
    if logits.is_empty() {
        return Err(CoreError::Empty { arg: "logits" });
    }
    if logits.len() % vocab != 0 {
        return Err(CoreError::shape("logits", format!("a multiple of vocab = {vocab} values"), logits.len().to_string()));
    }
    if verdict_ids.is_empty() {
        return Err(CoreError::Empty { arg: "verdict_ids" });
    }
    if let Some(&bad) = verdict_ids.iter().find(|&&id| id >= vocab) {
        return Err(CoreError::value("verdict_ids", format!("token id {bad} is outside the vocabulary of {vocab}")));
    }
    let rows = logits.len() / vocab;
    let per_row = parallel::try_map((0..rows).collect(), logits.len(), #[inline(always)] |r| {
        let z = &logits[r * vocab..(r + 1) * vocab];
        // Pass 1: max and top two; pass 2: sum of exp and of z·exp, both shifted by the max.
        let (mut top1, mut top2) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (j, &v) in z.iter().enumerate() {
            let v = v.f64();
            if v.is_nan() {
                return Err(CoreError::value("logits", format!("row {r} holds NaN at token {j}")));
            }
            if v > top1 {
                top2 = top1;
                top1 = v;
            } else if v > top2 {
                top2 = v;
            }
        }
        if !top1.is_finite() {
            return Err(CoreError::value("logits", format!("row {r} has no finite maximum")));
        }
        let (mut sum, mut weighted) = (0.0f64, 0.0f64);
        for &v in z {
            let d = v.f64() - top1;
            let e = d.exp();
            sum += e;
            if e > 0.0 {
                weighted += d * e;
            }
        }
        let log_z = top1 + sum.ln();
        // H = log Z − E[z] = ln(sum) − Σ d·e / sum, with d = z − max.
        let entropy = (sum.ln() - weighted / sum).max(0.0) / (vocab as f64).ln();
        let gap = ((top1 - log_z).exp() - (top2 - log_z).exp()).max(0.0);
        let lp: Vec<f64> = verdict_ids.iter().map(|&id| z[id].f64() - log_z).collect();
        Ok((lp, entropy, gap))
    })?;
    let mut out = FirstToken { verdict_logp: Vec::with_capacity(rows * verdict_ids.len()), entropy: Vec::with_capacity(rows), top2_gap: Vec::with_capacity(rows) };
    for (lp, h, g) in per_row {
        out.verdict_logp.extend(lp);
        out.entropy.push(h);
        out.top2_gap.push(g);
    }
    Ok(out)
}

fn check_confidence(arg: &'static str, c: &[f64], n: usize) -> Result<()> {
    if c.len() != n {
        return Err(CoreError::shape(arg, format!("{n} values like c1"), c.len().to_string()));
    }
    if let Some(i) = c.iter().position(|x| x.is_nan()) {
        return Err(CoreError::value(arg, format!("value {i} is NaN")));
    }
    Ok(())
}

fn check_pair(c1: &[f64], c2: Option<&[f64]>) -> Result<()> {
    if c1.is_empty() {
        return Err(CoreError::Empty { arg: "c1" });
    }
    check_confidence("c1", c1, c1.len())?;
    if let Some(c2) = c2 {
        check_confidence("c2", c2, c1.len())?;
    }
    Ok(())
}

/// A sorted copy (parallel sort for large inputs).
fn sorted(c: &[f64]) -> Vec<f64> {
    let mut s = c.to_vec();
    if parallel::use_parallel(c.len()) {
        use rayon::slice::ParallelSliceMut;
        s.par_sort_unstable_by(f64::total_cmp);
    } else {
        s.sort_unstable_by(f64::total_cmp);
    }
    s
}

fn check_threshold(arg: &'static str, t: f64) -> Result<()> {
    if t.is_nan() {
        return Err(CoreError::value(arg, "must not be NaN"));
    }
    Ok(())
}

/// `true` where an item goes slow: `c1 < τ1` or `c2 < τ2` (`c2` absent: `c1` alone decides).
pub fn route(c1: &[f64], c2: Option<&[f64]>, tau1: f64, tau2: f64) -> Result<Vec<bool>> {
    check_pair(c1, c2)?;
    check_threshold("tau1", tau1)?;
    check_threshold("tau2", tau2)?;
    Ok(match c2 {
        Some(c2) => c1.iter().zip(c2).map(|(&a, &b)| a < tau1 || b < tau2).collect(),
        None => c1.iter().map(|&a| a < tau1).collect(),
    })
}

/// What a calibration must not exceed: a number of slow items, or a total token spend
/// (`Σ fast tokens + Σ slow tokens of the slow items`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    SlowCount(usize),
    Tokens { fast: &'a [f64], slow: &'a [f64], budget: f64 },
}

/// Calibrated thresholds and what they spend on the calibration items.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    pub tau1: f64,
    pub tau2: f64,
    pub slow: usize,
    pub tokens: f64,
}

/// The thresholds `τ1 = c1₍ₖ₎`, `τ2 = c2₍ₖ₎` (the k-th smallest values; `−∞` at `k = 0`, `+∞` at `k = n`) at the
/// largest level `k` whose slow set stays within `target`.
///
/// The slow set grows with `k`; item `i` joins at `k_i = min(#{c1 ≤ c1_i}, #{c2 ≤ c2_i})`, the
/// first level at which one of its confidences falls strictly below its threshold. A counting
/// sort of the `k_i` and one prefix sum give every level's slow count and spend at once.
pub fn calibrate(c1: &[f64], c2: Option<&[f64]>, target: Target<'_>) -> Result<Calibration> {
    check_pair(c1, c2)?;
    let n = c1.len();
    let (fast_total, slow_tokens) = match target {
        Target::SlowCount(_) => (0.0, None),
        Target::Tokens { fast, slow, budget } => {
            for (arg, v) in [("fast_tokens", fast), ("slow_tokens", slow)] {
                if v.len() != n {
                    return Err(CoreError::shape(arg, format!("{n} values like c1"), v.len().to_string()));
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite() || *x < 0.0) {
                    return Err(CoreError::value(arg, format!("must be finite and ≥ 0; value {i} is {}", v[i])));
                }
            }
            if !budget.is_finite() {
                return Err(CoreError::value("token_budget", format!("must be finite, got {budget}")));
            }
            (fast.iter().sum::<f64>(), Some(slow))
        }
    };
    let s1 = sorted(c1);
    let s2 = c2.map(sorted);
    let entries = parallel::try_map((0..n).collect(), 4 * n, #[inline(always)] |i| {
        let k1 = s1.partition_point(|&v| v <= c1[i]);
        Ok(match (&s2, c2) {
            (Some(s2), Some(c2)) => k1.min(s2.partition_point(|&v| v <= c2[i])),
            _ => k1,
        })
    })?;
    // joined[k]: count and slow tokens of the items entering at level k (k = n: never).
    let mut count = vec![0usize; n + 1];
    let mut spend = vec![0.0f64; n + 1];
    for (i, &k) in entries.iter().enumerate() {
        count[k] += 1;
        if let Some(st) = slow_tokens {
            spend[k] += st[i];
        }
    }
    // Level k < n sends the items with k_i ≤ k; level n (thresholds +∞) sends all of them.
    // Keep the lowest level that reaches the largest slow set within the target: on new data
    // lower thresholds send fewer items, so the target is less likely to be overshot.
    let all_spend: f64 = spend.iter().sum();
    let (mut best, mut slow, mut tokens) = (0usize, count[0], fast_total + spend[0]);
    let (mut cum_n, mut cum_t) = (count[0], spend[0]);
    for k in 1..=n {
        let (level_n, level_t) = if k == n {
            (n, all_spend)
        } else {
            cum_n += count[k];
            cum_t += spend[k];
            (cum_n, cum_t)
        };
        let ok = match target {
            Target::SlowCount(m) => level_n <= m,
            Target::Tokens { budget, .. } => fast_total + level_t <= budget,
        };
        if !ok {
            break;
        }
        if level_n > slow {
            (best, slow, tokens) = (k, level_n, fast_total + level_t);
        }
    }
    if let Target::Tokens { budget, .. } = target {
        if fast_total > budget {
            return Err(CoreError::value(
                "token_budget",
                format!("{budget} is below the fast path's own spend of {fast_total} on these items"),
            ));
        }
    }
    if slow == n {
        best = n; // everything allowed: +∞ keeps routing everything on new items
    }
    // Level 0 routes nothing here; −∞ keeps it routing nothing on new items too.
    let at = |s: &[f64]| if best == n { f64::INFINITY } else if best == 0 { f64::NEG_INFINITY } else { s[best] };
    Ok(Calibration { tau1: at(&s1), tau2: s2.as_deref().map_or(f64::NEG_INFINITY, at), slow, tokens })
}

/// Per grid cell `(a, b)` (row-major, `a` over `tau1`): slow items, their summed `gain` and
/// their summed `slow_tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub slow: Vec<u64>,
    pub gain: Vec<f64>,
    pub tokens: Vec<f64>,
}

/// The largest threshold grid [`sweep`] evaluates (about 50 MB of results).
pub const MAX_SWEEP_CELLS: usize = 1 << 20;

/// Every cell of the `tau1 × tau2` grid at once. `gain` is what routing an item slow adds to
/// the number correct (`slow_correct − fast_correct`), so a cell's accuracy is
/// `(Σ fast_correct + gain) / n`; `slow_tokens` is what the slow path spends on it.
pub fn sweep(c1: &[f64], c2: &[f64], gain: &[f64], slow_tokens: &[f64], tau1: &[f64], tau2: &[f64]) -> Result<Sweep> {
    check_pair(c1, Some(c2))?;
    let n = c1.len();
    for (arg, v) in [("gain", gain), ("slow_tokens", slow_tokens)] {
        if v.len() != n {
            return Err(CoreError::shape(arg, format!("{n} values like c1"), v.len().to_string()));
        }
        if let Some(i) = first_non_finite(v) {
            return Err(CoreError::value(arg, format!("must be finite; value {i} is {}", v[i])));
        }
    }
    for (arg, t) in [("tau1", tau1), ("tau2", tau2)] {
        if t.is_empty() {
            return Err(CoreError::Empty { arg });
        }
        if let Some(i) = t.iter().position(|x| x.is_nan()) {
            return Err(CoreError::value(arg, format!("value {i} is NaN")));
        }
    }
    // Each cell costs 48 bytes and each column a pass over the items: refuse a grid that cannot
    // be held instead of letting the allocator abort the process.
    let cells = tau1.len().saturating_mul(tau2.len());
    if cells > MAX_SWEEP_CELLS {
        return Err(CoreError::value(
            "tau1",
            format!("a {} x {} threshold grid has {cells} cells; at most {MAX_SWEEP_CELLS} are allowed", tau1.len(), tau2.len()),
        ));
    }
    // Items in c1 order, copied once so that every column is one sequential pass.
    let mut order: Vec<usize> = (0..n).collect();
    if parallel::use_parallel(n) {
        use rayon::slice::ParallelSliceMut;
        order.par_sort_unstable_by(|&i, &j| c1[i].total_cmp(&c1[j]));
    } else {
        order.sort_unstable_by(|&i, &j| c1[i].total_cmp(&c1[j]));
    }
    let items: Vec<(f64, f64, f64, f64)> = order.iter().map(|&i| (c1[i], c2[i], gain[i], slow_tokens[i])).collect();
    let mut t1_order: Vec<usize> = (0..tau1.len()).collect();
    t1_order.sort_by(|&a, &b| tau1[a].total_cmp(&tau1[b]));
    let (g1, g2) = (tau1.len(), tau2.len());
    let columns = parallel::try_map((0..g2).collect(), n * g2, #[inline(always)] |b| {
        let t2 = tau2[b];
        // Items below τ2 go slow in every cell of the column (base); the others only below τ1,
        // a prefix of the c1 order (cumulative sums read off at each τ1).
        let (mut base_n, mut base_g, mut base_t) = (0u64, 0.0f64, 0.0f64);
        let (mut cn, mut cg, mut ct) = (0u64, 0.0f64, 0.0f64);
        let mut col = vec![(0u64, 0.0f64, 0.0f64); g1];
        let mut next = 0usize; // the next τ1 (in increasing order) to read off
        for &(x1, x2, g, t) in &items {
            while next < g1 && x1 >= tau1[t1_order[next]] {
                col[t1_order[next]] = (cn, cg, ct);
                next += 1;
            }
            if x2 < t2 {
                base_n += 1;
                base_g += g;
                base_t += t;
            } else {
                cn += 1;
                cg += g;
                ct += t;
            }
        }
        for &a in &t1_order[next..] {
            col[a] = (cn, cg, ct);
        }
        Ok(col.into_iter().map(|(n_, g_, t_)| (base_n + n_, base_g + g_, base_t + t_)).collect::<Vec<_>>())
    })?;
    let mut out = Sweep { slow: vec![0; g1 * g2], gain: vec![0.0; g1 * g2], tokens: vec![0.0; g1 * g2] };
    for (b, col) in columns.into_iter().enumerate() {
        for (a, (cn, cg, ct)) in col.into_iter().enumerate() {
            out.slow[a * g2 + b] = cn;
            out.gain[a * g2 + b] = cg;
            out.tokens[a * g2 + b] = ct;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_token_by_hand() {
        // Row 0: uniform over 4 tokens; row 1: logits (ln 3, 0, -inf, -inf) → p = (3/4, 1/4, 0, 0).
        let ln3 = 3f64.ln();
        let f = first_token(&[0.0, 0.0, 0.0, 0.0, ln3, 0.0, f64::NEG_INFINITY, f64::NEG_INFINITY], 4, &[1, 0]).unwrap();
        assert!((f.verdict_logp[0] - 0.25f64.ln()).abs() < 1e-12);
        assert!((f.verdict_logp[2] - 0.25f64.ln()).abs() < 1e-12 && (f.verdict_logp[3] - 0.75f64.ln()).abs() < 1e-12);
        assert!((f.entropy[0] - 1.0).abs() < 1e-12 && f.top2_gap[0].abs() < 1e-12);
        let h = -(0.75 * 0.75f64.ln() + 0.25 * 0.25f64.ln()) / 4f64.ln();
        assert!((f.entropy[1] - h).abs() < 1e-12 && (f.top2_gap[1] - 0.5).abs() < 1e-12);
        assert_eq!(first_token(&[0.0f32; 4], 4, &[4]).unwrap_err().arg(), "verdict_ids");
        assert_eq!(first_token(&[0.0f32; 5], 4, &[0]).unwrap_err().arg(), "logits");
    }

    #[test]
    fn calibration_levels() {
        let c1 = [0.1, 0.2, 0.3, 0.4];
        let c2 = [0.4, 0.3, 0.2, 0.1];
        // Level 1 (τ = second smallest): item 0 (c1 0.1 < 0.2) and item 3 (c2 0.1 < 0.2).
        let cal = calibrate(&c1, Some(&c2), Target::SlowCount(2)).unwrap();
        assert_eq!((cal.tau1, cal.tau2, cal.slow), (0.2, 0.2, 2));
        let slow = route(&c1, Some(&c2), cal.tau1, cal.tau2).unwrap();
        assert_eq!(slow, vec![true, false, false, true]);
        let all = calibrate(&c1, Some(&c2), Target::SlowCount(4)).unwrap();
        assert_eq!((all.tau1, all.tau2, all.slow), (f64::INFINITY, f64::INFINITY, 4));
        let only = calibrate(&[0.5, 0.5], None, Target::SlowCount(2)).unwrap();
        assert_eq!((only.tau1, only.slow), (f64::INFINITY, 2));
        let none = calibrate(&c1, Some(&c2), Target::SlowCount(1)).unwrap();
        assert_eq!((none.tau1, none.tau2, none.slow), (f64::NEG_INFINITY, f64::NEG_INFINITY, 0));
        let fast = [1.0; 4];
        let slow_t = [10.0, 20.0, 30.0, 40.0];
        let b = calibrate(&c1, Some(&c2), Target::Tokens { fast: &fast, slow: &slow_t, budget: 54.0 }).unwrap();
        assert_eq!((b.slow, b.tokens), (2, 54.0));
        let err = calibrate(&c1, None, Target::Tokens { fast: &fast, slow: &slow_t, budget: 3.0 }).unwrap_err();
        assert_eq!(err.arg(), "token_budget");
    }

    #[test]
    fn sweep_matches_route() {
        let c1 = [0.5, 0.1, 0.9, 0.3, 0.7];
        let c2 = [0.2, 0.8, 0.4, 0.6, 0.1];
        let gain = [1.0, -1.0, 0.0, 1.0, 0.5];
        let tok = [3.0, 5.0, 7.0, 11.0, 13.0];
        let t1 = [0.6, 0.0, 0.35, 1.0];
        let t2 = [0.5, 0.15];
        let s = sweep(&c1, &c2, &gain, &tok, &t1, &t2).unwrap();
        for (a, &x) in t1.iter().enumerate() {
            for (b, &y) in t2.iter().enumerate() {
                let r = route(&c1, Some(&c2), x, y).unwrap();
                let n = r.iter().filter(|&&v| v).count() as u64;
                let g: f64 = (0..5).filter(|&i| r[i]).map(|i| gain[i]).sum();
                let t: f64 = (0..5).filter(|&i| r[i]).map(|i| tok[i]).sum();
                assert_eq!((s.slow[a * 2 + b], s.gain[a * 2 + b], s.tokens[a * 2 + b]), (n, g, t));
            }
        }
    }
}
