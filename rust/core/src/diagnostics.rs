//! Teacher diagnostics over groups of policy samples (one group per prompt): per-group reward
//! moments and on-policy pairwise agreement with a gold reward.
//!
//! Reward variance under the policy is what sets the speed of policy-gradient optimisation
//! (Razin et al. 2025); accuracy alone does not. Both are computed in one pass over contiguous
//! groups, in f64, parallel over groups for large batches.

use crate::error::{CoreError, Result};
use crate::layout::Layout;
use crate::parallel;
use crate::real::first_non_finite;

fn check(values: &[f64], arg: &'static str, layout: &Layout) -> Result<()> {
    layout.check(arg, values.len())?;
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg });
    }
    if let Some(i) = first_non_finite(values) {
        return Err(CoreError::value(arg, format!("must be finite; value {i} is {}", values[i])));
    }
    Ok(())
}

/// Per-group moments and the moments of all values together.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    pub mean: Vec<f64>,
    /// Divisor `n − ddof`; NaN where a group has `n ≤ ddof`.
    pub var: Vec<f64>,
    pub global_mean: f64,
    /// Population variance (divisor `n`) of all values: the scale of the paper's standardisation.
    pub global_var: f64,
}

/// Per-group mean and variance, plus the global mean and variance combined from the groups'
/// sums of squared deviations (Chan et al.), so the values are read once.
pub fn group_moments(values: &[f64], layout: &Layout, ddof: usize) -> Result<Moments> {
    check(values, "rewards", layout)?;
    let groups: Vec<usize> = (0..layout.rows()).collect();
    let per_group = parallel::try_map(groups, values.len(), #[inline(always)] |g| {
        let x = &values[layout.range(g)];
        let n = x.len();
        if n == 0 {
            return Ok((0usize, f64::NAN, 0.0));
        }
        let mean = x.iter().sum::<f64>() / n as f64;
        let m2: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
        Ok((n, mean, m2))
    })?;
    let (mut count, mut global_mean, mut global_m2) = (0usize, 0.0f64, 0.0f64);
    for &(n, mean, m2) in &per_group {
        if n == 0 {
            continue;
        }
        let total = count + n;
        let delta = mean - global_mean;
        global_mean += delta * n as f64 / total as f64;
        global_m2 += m2 + delta * delta * (count as f64) * (n as f64) / total as f64;
        count = total;
    }
    if count == 0 {
        return Err(CoreError::Empty { arg: "rewards" });
    }
    Ok(Moments {
        mean: per_group.iter().map(|g| g.1).collect(),
        var: per_group.iter().map(|&(n, _, m2)| if n > ddof { m2 / (n - ddof) as f64 } else { f64::NAN }).collect(),
        global_mean,
        global_var: global_m2 / count as f64,
    })
}

/// Per group: (agreeing pairs, comparable pairs) over all pairs i < j with different gold values.
/// A pair agrees when the proxy orders it as the gold does; a proxy tie counts one half.
pub fn pairwise_agreement(proxy: &[f64], gold: &[f64], layout: &Layout) -> Result<(Vec<f64>, Vec<u64>)> {
    check(proxy, "rewards", layout)?;
    if gold.len() != proxy.len() {
        return Err(CoreError::shape("gold", format!("{} values like rewards", proxy.len()), gold.len().to_string()));
    }
    check(gold, "gold", layout)?;
    let groups: Vec<usize> = (0..layout.rows()).collect();
    let pairs = parallel::try_map(groups, proxy.len(), #[inline(always)] |g| {
        let range = layout.range(g);
        Ok(agreement(&proxy[range.clone()], &gold[range]))
    })?;
    Ok(pairs.into_iter().unzip())
}

/// (agreeing, comparable) pairs of one group in O(n log n) (Knight's algorithm for Kendall's τ):
/// sorted by (gold, proxy), the pairs the proxy orders against the gold are the strict inversions
/// of the proxy sequence, counted by a merge sort; ties come from run lengths.
fn agreement(p: &[f64], y: &[f64]) -> (f64, u64) {
    // x + 0.0 turns −0.0 into 0.0, so that the sort order and `==` agree on ties
    let (p, y): (Vec<f64>, Vec<f64>) = (p.iter().map(|x| x + 0.0).collect(), y.iter().map(|x| x + 0.0).collect());
    let n = p.len() as u64;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_unstable_by(|&a, &b| y[a].total_cmp(&y[b]).then(p[a].total_cmp(&p[b])));
    let gold_ties = tied_pairs(&order, |&a, &b| y[a] == y[b]);
    let joint_ties = tied_pairs(&order, |&a, &b| y[a] == y[b] && p[a] == p[b]);
    let mut seq: Vec<f64> = order.iter().map(|&i| p[i]).collect();
    let discordant = inversions(&mut seq);
    let proxy_ties = tied_pairs(&seq, |a, b| a == b); // seq is now the proxy sorted
    let comparable = pairs(n) - gold_ties;
    let proxy_tied = proxy_ties - joint_ties; // tied in the proxy, different in the gold
    let concordant = comparable - discordant - proxy_tied;
    (concordant as f64 + 0.5 * proxy_tied as f64, comparable)
}

fn pairs(t: u64) -> u64 {
    t * t.saturating_sub(1) / 2
}

/// Pairs within the runs of consecutive items that `same` calls equal.
fn tied_pairs<T>(items: &[T], same: impl Fn(&T, &T) -> bool) -> u64 {
    let (mut total, mut run) = (0u64, 1u64);
    for k in 1..items.len() {
        if same(&items[k - 1], &items[k]) {
            run += 1;
        } else {
            total += pairs(run);
            run = 1;
        }
    }
    total + pairs(run)
}

/// Number of pairs i < j with `x[i] > x[j]` (strictly); sorts `x` (bottom-up merge sort).
fn inversions(x: &mut [f64]) -> u64 {
    let n = x.len();
    let mut buf = x.to_vec();
    let (mut src, mut dst): (&mut [f64], &mut [f64]) = (x, &mut buf);
    let mut count = 0u64;
    let mut width = 1;
    let mut in_x = true;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                if src[j] < src[i] {
                    dst[k] = src[j];
                    count += (mid - i) as u64;
                    j += 1;
                } else {
                    dst[k] = src[i];
                    i += 1;
                }
                k += 1;
            }
            dst[k..k + (mid - i)].copy_from_slice(&src[i..mid]);
            let k = k + (mid - i);
            dst[k..k + (hi - j)].copy_from_slice(&src[j..hi]);
            lo = hi;
        }
        std::mem::swap(&mut src, &mut dst);
        in_x = !in_x;
        width *= 2;
    }
    if !in_x {
        dst.copy_from_slice(src); // the sorted run ended in the buffer: dst is x again
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(p: &[f64], y: &[f64]) -> (f64, u64) {
        let (mut agree, mut comparable) = (0.0, 0u64);
        for i in 0..p.len() {
            for j in i + 1..p.len() {
                let (dg, dp) = (y[i] - y[j], p[i] - p[j]);
                if dg != 0.0 {
                    comparable += 1;
                    agree += if dp == 0.0 { 0.5 } else if (dp > 0.0) == (dg > 0.0) { 1.0 } else { 0.0 };
                }
            }
        }
        (agree, comparable)
    }

    #[test]
    fn fast_agreement_equals_all_pairs_with_ties() {
        let mut state = 12345u64;
        let mut draw = |k: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % k) as f64
        };
        for n in 0..40 {
            for levels in [2, 3, 7, 1000] {
                let p: Vec<f64> = (0..n).map(|_| draw(levels) * if draw(2) == 0.0 { 1.0 } else { -1.0 }).collect();
                let y: Vec<f64> = (0..n).map(|_| draw(levels)).collect();
                assert_eq!(agreement(&p, &y), brute(&p, &y), "n={n} levels={levels}");
            }
        }
    }

    #[test]
    fn moments_and_agreement_by_hand() {
        let lay = Layout::Ragged { offsets: &[0, 3, 4] };
        let m = group_moments(&[1.0, 2.0, 6.0, 5.0], &lay, 1).unwrap();
        assert_eq!(m.mean, vec![3.0, 5.0]);
        assert_eq!(m.var[0], 7.0);
        assert!(m.var[1].is_nan());
        assert_eq!(m.global_mean, 3.5);
        assert!((m.global_var - 4.25).abs() < 1e-12); // mean of squared deviations from 3.5
        // gold 0 < 1 < 2; proxy orders (0,1) right, (0,2) right, (1,2) tied.
        let (agree, n) = pairwise_agreement(&[0.0, 1.0, 1.0, 9.0], &[0.0, 1.0, 2.0, 3.0], &lay).unwrap();
        assert_eq!((agree, n), (vec![2.5, 0.0], vec![3, 0]));
        assert_eq!(agreement(&[0.0, 1.0, 1.0], &[0.0, 1.0, 2.0]), (2.5, 3));
        assert_eq!(group_moments(&[f64::NAN], &Layout::Padded { rows: 1, cols: 1 }, 0).unwrap_err().arg(), "rewards");
    }
}
