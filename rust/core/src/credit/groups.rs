//! Group statistics keyed by arbitrary group labels (prompt uids), in `f64`.

use crate::error::{CoreError, Result};
use crate::real::Real;
use std::collections::HashMap;
use std::hash::Hash;

/// Maps labels to dense codes `0..G` in order of first appearance.
pub fn factorize<K: Hash + Eq>(labels: impl IntoIterator<Item = K>) -> (Vec<u32>, usize) {
    let mut seen: HashMap<K, u32> = HashMap::new();
    let codes = labels
        .into_iter()
        .map(|k| {
            let next = seen.len() as u32;
            *seen.entry(k).or_insert(next)
        })
        .collect();
    (codes, seen.len())
}

/// Per-group count, mean and unbiased standard deviation of the included scores.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    pub count: Vec<u32>,
    pub mean: Vec<f64>,
    /// Bessel-corrected (as `torch.std`); NaN for groups with fewer than two members.
    pub std: Vec<f64>,
}

/// Statistics of `scores[i]` per group `codes[i]`, over the items where `include[i]` holds
/// (all of them when `include` is `None`). Two passes in `f64`: exact zero for constant groups.
pub fn group_stats<F: Real>(scores: &[F], codes: &[u32], n_groups: usize, include: Option<&[bool]>) -> Result<GroupStats> {
    if codes.len() != scores.len() {
        return Err(CoreError::shape("index", format!("{} group ids, one per response", scores.len()), format!("{}", codes.len())));
    }
    let mut count = vec![0u32; n_groups];
    let mut sum = vec![0.0f64; n_groups];
    let used = |i: usize| include.map_or(true, |inc| inc[i]);
    for (i, (&s, &g)) in scores.iter().zip(codes).enumerate() {
        let g = g as usize;
        if g >= n_groups {
            return Err(CoreError::value("index", format!("group code {g} at position {i} is not below the group count {n_groups}")));
        }
        if used(i) {
            count[g] += 1;
            sum[g] += s.f64();
        }
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(&s, &c)| if c > 0 { s / c as f64 } else { f64::NAN }).collect();
    let mut m2 = vec![0.0f64; n_groups];
    for (i, (&s, &g)) in scores.iter().zip(codes).enumerate() {
        if used(i) {
            let d = s.f64() - mean[g as usize];
            m2[g as usize] += d * d;
        }
    }
    let std = m2
        .iter()
        .zip(&count)
        .map(|(&m2, &c)| if c > 1 { (m2 / (c - 1) as f64).sqrt() } else { f64::NAN })
        .collect();
    Ok(GroupStats { count, mean, std })
}
