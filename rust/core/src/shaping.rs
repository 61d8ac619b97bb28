//! Reward shaping for KL-regularised inference-time alignment (Stackelberg threshold shaping)
//! and the tilted / best-of-N selections it is used with, over groups of candidates (one group
//! per prompt, padded or ragged).
//!
//! Under KL regularisation the aligned policy is ρ(y) ∝ ρ_base(y)·exp(r(y)/β). The designer's best
//! response is a threshold reward (B above m*, 0 below), m* the root of
//! F(m) = Σ_i w_i·γ_i(m)·(r_i − m), γ_i = exp(B/β) if r_i ≥ m else 1, with w the base weights of the
//! samples (uniform for samples drawn from ρ_base). F is continuous, strictly decreasing and
//! *piecewise linear* in m, so instead of bisecting to a tolerance we sort the group once and solve
//! the one linear piece that holds the root: exact, and O(n log n) per group.
//!
//! All statistics are f64: groups are small and exactness matters more than width here.

use crate::error::{check_finite, CoreError, Result};
use crate::layout::Layout;
use crate::parallel;
use crate::real::first_non_finite;

/// How the threshold's weight is formed and capped (the reference code has two conventions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdSpec {
    /// Reward bound B (> 0).
    pub b: f64,
    /// KL strength β (> 0).
    pub beta: f64,
    /// Cap on the exponent B/β (the CD code uses 2.0), if any.
    pub exponent_cap: Option<f64>,
    /// Clip B per group to this multiple of the group's reward range (CD: 2.0, ARGS: 1.01), if any.
    pub range_factor: Option<f64>,
}

impl ThresholdSpec {
    fn validate(&self) -> Result<()> {
        check_finite("B", self.b)?;
        check_finite("beta", self.beta)?;
        if self.b <= 0.0 {
            return Err(CoreError::value("B", format!("must be positive, got {}", self.b)));
        }
        if self.beta <= 0.0 {
            return Err(CoreError::value("beta", format!("must be positive, got {}", self.beta)));
        }
        if let Some(c) = self.exponent_cap {
            if !(c.is_finite() && c > 0.0) {
                return Err(CoreError::value("exponent_cap", format!("must be positive and finite, got {c}")));
            }
        }
        if let Some(f) = self.range_factor {
            if !(f.is_finite() && f > 0.0) {
                return Err(CoreError::value("range_factor", format!("must be positive and finite, got {f}")));
            }
        }
        Ok(())
    }
}

/// Per-group threshold m* and the bound B actually used (after the range clip).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub m: Vec<f64>,
    pub b: Vec<f64>,
}

fn check_inputs(rewards: &[f64], weights: Option<&[f64]>, layout: &Layout) -> Result<()> {
    layout.check("rewards", rewards.len())?;
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "rewards" });
    }
    for g in 0..layout.rows() {
        if layout.range(g).is_empty() {
            return Err(CoreError::value("offsets", format!("group {g} has no candidates")));
        }
    }
    if let Some(i) = first_non_finite(rewards) {
        return Err(CoreError::value("rewards", format!("must be finite; value {i} is {}", rewards[i])));
    }
    if let Some(w) = weights {
        if w.len() != rewards.len() {
            return Err(CoreError::shape("base_weights", format!("{} values like rewards", rewards.len()), w.len().to_string()));
        }
        if let Some(i) = w.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(CoreError::value("base_weights", format!("must be finite and >= 0; value {i} is {}", w[i])));
        }
        for g in 0..layout.rows() {
            if w[layout.range(g)].iter().sum::<f64>() <= 0.0 {
                return Err(CoreError::value("base_weights", format!("group {g} has zero total weight")));
            }
        }
    }
    Ok(())
}

/// The exact root of F for every group.
pub fn thresholds(rewards: &[f64], weights: Option<&[f64]>, layout: &Layout, spec: ThresholdSpec) -> Result<Thresholds> {
    spec.validate()?;
    check_inputs(rewards, weights, layout)?;
    let groups: Vec<usize> = (0..layout.rows()).collect();
    let pairs = parallel::try_map(groups, rewards.len(), #[inline(always)] |g| {
        let range = layout.range(g);
        let r = &rewards[range.clone()];
        let w = weights.map(|w| &w[range]);
        let (lo, hi) = r.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let b = match spec.range_factor {
            Some(f) if hi > lo => spec.b.min(f * (hi - lo)),
            _ => spec.b,
        };
        let exponent = spec.exponent_cap.map_or(b / spec.beta, |c| (b / spec.beta).min(c));
        // γ = e^exponent overflows past 709.8; every formula below takes 1/γ instead, which
        // only underflows towards the exact large-γ limit.
        Ok((group_root(r, w, exponent), b))
    })?;
    let (m, b) = pairs.into_iter().unzip();
    Ok(Thresholds { m, b })
}

/// Root of F(m) = Σ w_i·(γ if r_i ≥ m else 1)·(r_i − m) for one group, γ = e^exponent.
///
/// The returned float is the one nearest the exact root on the same side of every reward as the
/// exact root: where the root lies a hair below a reward and rounds onto it (large γ), the next
/// float below is returned, so `r > m` holds exactly when it holds for the exact root.
fn group_root(r: &[f64], w: Option<&[f64]>, exponent: f64) -> f64 {
    let inv_gamma = (-exponent).exp();
    let n = r.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| r[a].total_cmp(&r[b]));
    let wt = |i: usize| w.map_or(1.0, |w| w[i]);
    let (total_wr, total_w) = order.iter().fold((0.0, 0.0), |(s, t), &i| (s + wt(i) * r[i], t + wt(i)));
    // Piece j: the j smallest samples are below m (weight 1), the rest at or above it (weight γ);
    // there F(m)/γ = A_j − m·W_j with A_j = Σ_low w·r/γ + Σ_high w·r, valid for m in [r_(j−1), r_(j)].
    let (mut low_wr, mut low_w) = (0.0, 0.0);
    let mut best = (f64::INFINITY, 0.0);
    for j in 0..=n {
        if j > 0 {
            let i = order[j - 1];
            low_wr += wt(i) * r[i];
            low_w += wt(i);
        }
        let (a, den) = if j == n {
            (low_wr, low_w) // nothing at or above m: no γ in this piece
        } else {
            (low_wr * inv_gamma + (total_wr - low_wr), low_w * inv_gamma + (total_w - low_w))
        };
        if den <= 0.0 {
            continue;
        }
        let m = a / den;
        let left = if j == 0 { f64::NEG_INFINITY } else { r[order[j - 1]] };
        let right = if j == n { f64::INFINITY } else { r[order[j]] };
        if left <= m && m <= right {
            return on_the_exact_side(r, w, exponent, m);
        }
        // Rounding can put the root a hair outside its piece; keep the closest candidate.
        let miss = if m < left { left - m } else { m - right };
        if miss < best.0 {
            best = (miss, m.clamp(left, right));
        }
    }
    on_the_exact_side(r, w, exponent, best.1)
}

/// `m`, or its neighbouring float, so that no reward equals it unless F is zero there.
///
/// F is strictly decreasing, so the exact root is below a reward `m` exactly when F(m) < 0 and
/// above it when F(m) > 0. At m equal to a reward F = Σ_{r<m} w·(r−m) + γ·Σ_{r>m} w·(r−m): the two
/// sums have fixed signs, and they are compared in logs so that no γ overflows or underflows.
fn on_the_exact_side(r: &[f64], w: Option<&[f64]>, exponent: f64, m: f64) -> f64 {
    if !r.contains(&m) {
        return m;
    }
    let (mut below, mut above) = (0.0f64, 0.0f64);
    for (k, &x) in r.iter().enumerate() {
        let wk = w.map_or(1.0, |w| w[k]);
        if x < m {
            below += wk * (m - x);
        } else if x > m {
            above += wk * (x - m);
        }
    }
    let (below, above) = (below.ln(), exponent + above.ln()); // ln 0 = −inf: an empty side loses
    if below > above {
        next_below(m)
    } else if above > below {
        next_above(m)
    } else {
        m
    }
}

fn next_below(x: f64) -> f64 {
    -next_above(-x)
}

fn next_above(x: f64) -> f64 {
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Shaped rewards per candidate: `B_g·σ(α(r − m_g))`, or the hard threshold `B_g·[r > m_g]`
/// (`B_g/2` at equality, the α → ∞ limit of the smooth form).
pub fn shape(rewards: &[f64], layout: &Layout, th: &Thresholds, alpha: f64, hard: bool) -> Result<Vec<f64>> {
    layout.check("rewards", rewards.len())?;
    check_finite("alpha", alpha)?;
    if alpha <= 0.0 && !hard {
        return Err(CoreError::value("alpha", format!("must be positive, got {alpha}")));
    }
    if th.m.len() != layout.rows() || th.b.len() != layout.rows() {
        return Err(CoreError::shape("thresholds", format!("{} groups", layout.rows()), th.m.len().to_string()));
    }
    let mut out = vec![0.0; rewards.len()];
    for (g, chunk) in layout.split_mut(&mut out).into_iter().enumerate() {
        let (m, b) = (th.m[g], th.b[g]);
        for (o, &r) in chunk.iter_mut().zip(&rewards[layout.range(g)]) {
            *o = if hard {
                if r > m { b } else if r < m { 0.0 } else { 0.5 * b }
            } else {
                b / (1.0 + (-alpha * (r - m)).exp())
            };
        }
    }
    Ok(out)
}

/// Probabilities of the tilted distribution within each group: p_i ∝ w_i·exp(r_i/β), computed
/// with the group's max subtracted (no overflow for any reward scale).
pub fn tilted_probabilities(rewards: &[f64], weights: Option<&[f64]>, layout: &Layout, beta: f64) -> Result<Vec<f64>> {
    check_finite("beta", beta)?;
    if beta <= 0.0 {
        return Err(CoreError::value("beta", format!("must be positive, got {beta}")));
    }
    check_inputs(rewards, weights, layout)?;
    let mut out = vec![0.0; rewards.len()];
    for (g, chunk) in layout.split_mut(&mut out).into_iter().enumerate() {
        let range = layout.range(g);
        let r = &rewards[range.clone()];
        let top = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        for (k, (o, &x)) in chunk.iter_mut().zip(r).enumerate() {
            *o = weights.map_or(1.0, |w| w[range.start + k]) * ((x - top) / beta).exp();
            z += *o;
        }
        for o in chunk.iter_mut() {
            *o /= z;
        }
    }
    Ok(out)
}

/// Expected utility under the tilted distribution of each group: Σ_i p_i·u_i.
pub fn tilted_expectation(rewards: &[f64], utilities: &[f64], weights: Option<&[f64]>, layout: &Layout, beta: f64) -> Result<Vec<f64>> {
    if utilities.len() != rewards.len() {
        return Err(CoreError::shape("utilities", format!("{} values like rewards", rewards.len()), utilities.len().to_string()));
    }
    if let Some(i) = utilities.iter().position(|u| !u.is_finite()) {
        return Err(CoreError::value("utilities", format!("must be finite; value {i} is {}", utilities[i])));
    }
    let p = tilted_probabilities(rewards, weights, layout, beta)?;
    Ok((0..layout.rows()).map(|g| layout.range(g).map(|i| p[i] * utilities[i]).sum()).collect())
}

/// Index (within its group) of each group's best candidate; the first one on ties.
pub fn best_of_n(rewards: &[f64], layout: &Layout) -> Result<Vec<i64>> {
    check_inputs(rewards, None, layout)?;
    Ok((0..layout.rows())
        .map(|g| {
            let r = &rewards[layout.range(g)];
            let mut best = 0;
            for (k, &x) in r.iter().enumerate().skip(1) {
                if x > r[best] {
                    best = k;
                }
            }
            best as i64
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_example_of_the_paper() {
        // Base prior 0.9/0.1 over outputs with utilities 1 and 2, 1/β = 1.
        let (r, w) = ([1.0, 2.0], [0.9, 0.1]);
        let lay = Layout::Padded { rows: 1, cols: 2 };
        let raw = tilted_expectation(&r, &r, Some(&w), &lay, 1.0).unwrap()[0];
        assert!((raw - 1.232).abs() < 5e-4, "{raw}");
        for (ratio, want) in [(2.0, 1.451), (3.0, 1.691)] {
            let spec = ThresholdSpec { b: ratio, beta: 1.0, exponent_cap: None, range_factor: None };
            let th = thresholds(&r, Some(&w), &lay, spec).unwrap();
            let shaped = shape(&r, &lay, &th, 1.0, true).unwrap();
            let utility = tilted_expectation(&shaped, &r, Some(&w), &lay, 1.0).unwrap()[0];
            assert!((utility - want).abs() < 5e-4, "{ratio}: {utility}");
            // Self-consistency (Theorem 1): m* is the utility of the policy it induces.
            assert!((th.m[0] - utility).abs() < 1e-12);
        }
    }

    #[test]
    fn single_and_constant_groups_have_their_value_as_threshold() {
        let lay = Layout::Ragged { offsets: &[0, 1, 4] };
        let spec = ThresholdSpec { b: 2.0, beta: 1.0, exponent_cap: None, range_factor: Some(2.0) };
        let th = thresholds(&[0.3, 5.0, 5.0, 5.0], None, &lay, spec).unwrap();
        assert_eq!(th.m, vec![0.3, 5.0]);
    }

    #[test]
    fn huge_b_over_beta_does_not_overflow_and_keeps_the_top_candidate_above() {
        // γ = e^710 is inf in f64; the exact root is 3 − 3/(2 + γ), just below 3.
        let lay = Layout::Padded { rows: 1, cols: 3 };
        for b in [40.0, 710.0, 1e6] {
            let spec = ThresholdSpec { b, beta: 1.0, exponent_cap: None, range_factor: None };
            let th = thresholds(&[1.0, 2.0, 3.0], None, &lay, spec).unwrap();
            assert!(th.m[0] < 3.0 && th.m[0] > 3.0 - 1e-12, "{b}: {}", th.m[0]);
            assert_eq!(shape(&[1.0, 2.0, 3.0], &lay, &th, 1.0, true).unwrap(), vec![0.0, 0.0, b]);
        }
    }

    #[test]
    fn bad_inputs_are_named() {
        let lay = Layout::Ragged { offsets: &[0, 0, 2] };
        let spec = ThresholdSpec { b: 1.0, beta: 1.0, exponent_cap: None, range_factor: None };
        assert_eq!(thresholds(&[1.0, 2.0], None, &lay, spec).unwrap_err().arg(), "offsets");
        let lay = Layout::Padded { rows: 1, cols: 2 };
        assert_eq!(thresholds(&[1.0, f64::NAN], None, &lay, spec).unwrap_err().arg(), "rewards");
        assert_eq!(thresholds(&[1.0, 2.0], None, &lay, ThresholdSpec { beta: 0.0, ..spec }).unwrap_err().arg(), "beta");
        assert_eq!(thresholds(&[1.0, 2.0], Some(&[0.0, 0.0]), &lay, spec).unwrap_err().arg(), "base_weights");
    }
}
