//! Importance-sampling values, redistribution and spreading onto tokens; errors; the parallel path.

use super::*;

// ---------------------------------------------------------------- value estimate on a toy tree

/// A toy LM over {0, 1} of depth 3: node `n` (heap order, root 1, children 2n and 2n+1) emits 1
/// with probability `p1[n]`. Leaves are nodes 8..16, leaf `c` is completion `c - 8`.
struct Tree {
    p1: [f64; 8],
    utility: [f64; 8],
}

impl Tree {
    fn new() -> Self {
        Tree {
            p1: [0.0, 0.3, 0.85, 0.1, 0.5, 0.95, 0.25, 0.6],
            utility: [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0],
        }
    }

    /// π(leaf | node): the product of transition probabilities on the path, 0 outside the subtree.
    fn prob(&self, node: usize, leaf: usize) -> f64 {
        let (mut n, mut p) = (leaf, 1.0);
        while n > node {
            let parent = n / 2;
            p *= if n % 2 == 1 { self.p1[parent] } else { 1.0 - self.p1[parent] };
            n = parent;
        }
        if n == node {
            p
        } else {
            0.0
        }
    }

    /// Exact V(node) by recursion over the tree (not via `prob`).
    fn value(&self, node: usize) -> f64 {
        if node >= 8 {
            return self.utility[node - 8];
        }
        let p = self.p1[node];
        (1.0 - p) * self.value(2 * node) + p * self.value(2 * node + 1)
    }

    /// `[nodes, 8]` log π(leaf | node) for every node 1..16 (ln 0 = -inf).
    fn log_pi(&self) -> Vec<f64> {
        (1..16).flat_map(|n| (8..16).map(move |l| (n, l))).map(|(n, l)| self.prob(n, l).ln()).collect()
    }
}

#[test]
fn is_estimate_is_exact_when_q_covers_all_completions() {
    let tree = Tree::new();
    let log_pi = tree.log_pi();
    let exact: Vec<f64> = (1..16).map(|n| tree.value(n)).collect();
    // (a) every leaf once, q uniform: (1/8) Σ π/(1/8) U = Σ π U = V exactly
    let log_q = vec![(1.0f64 / 8.0).ln(); 8];
    let v = value_is(&log_pi, &log_q, &tree.utility, 15, 8).unwrap();
    for (n, (&got, &want)) in v.iter().zip(&exact).enumerate() {
        assert!((got - want).abs() < 1e-12, "node {} uniform: {got} vs {want}", n + 1);
    }
    // (b) q = π(·|x), every leaf once with weight M·q(c) folded into the utility: the
    // estimator's expectation Σ_c q(c) π(c|s)/q(c) U(c) = V(s)
    let q: Vec<f64> = (8..16).map(|l| tree.prob(1, l)).collect();
    let log_q: Vec<f64> = q.iter().map(|x| x.ln()).collect();
    let weighted: Vec<f64> = (0..8).map(|m| 8.0 * q[m] * tree.utility[m]).collect();
    let v = value_is(&log_pi, &log_q, &weighted, 15, 8).unwrap();
    for (n, (&got, &want)) in v.iter().zip(&exact).enumerate() {
        assert!((got - want).abs() < 1e-12, "node {} q = pi: {got} vs {want}", n + 1);
    }
    // (c) the same expectation from one-sample estimates (M = 1), averaged by q
    for (s, &want) in exact.iter().enumerate() {
        let mean: f64 = (0..8)
            .map(|m| {
                let one = value_is(&log_pi[s * 8 + m..s * 8 + m + 1], &log_q[m..m + 1], &tree.utility[m..m + 1], 1, 1);
                q[m] * one.unwrap()[0]
            })
            .sum();
        assert!((mean - want).abs() < 1e-12, "state {s}: {mean} vs {want}");
    }
    // (d) per-state log_q [S, M] equal to the shared one gives the same
    let tiled: Vec<f64> = (0..15).flat_map(|_| log_q.clone()).collect();
    let a = log_value_is(&log_pi, &log_q, &weighted, 15, 8).unwrap();
    let b = log_value_is(&log_pi, &tiled, &weighted, 15, 8).unwrap();
    assert_eq!(a, b);
}

#[test]
fn is_estimate_is_biased_low_when_q_misses_correct_completions() {
    let tree = Tree::new();
    let log_pi = tree.log_pi();
    // q supported on leaves {0, 1, 2, 3, 5, 7}: misses the correct leaves 4 and 6
    let support = [0usize, 1, 2, 3, 5, 7];
    let mass: f64 = support.iter().map(|&m| tree.prob(1, m + 8)).sum();
    let mut strictly_below = 0;
    for s in 0..15 {
        // expectation over q = π(·|x) restricted to the support and renormalised
        let expect: f64 = support
            .iter()
            .map(|&m| {
                let qm = tree.prob(1, m + 8) / mass;
                let one = value_is(&log_pi[s * 8 + m..s * 8 + m + 1], &[qm.ln()], &tree.utility[m..m + 1], 1, 1);
                qm * one.unwrap()[0]
            })
            .sum();
        let exact = tree.value(s + 1);
        let covered: f64 = support.iter().map(|&m| tree.prob(s + 1, m + 8) * tree.utility[m]).sum();
        assert!(expect <= exact + 1e-15, "state {s}: {expect} > {exact}");
        assert!((expect - covered).abs() < 1e-12, "state {s}: bias must be exactly the missed mass");
        strictly_below += (expect < exact - 1e-9) as usize;
    }
    assert!(strictly_below >= 4, "the missed leaves lie below several states");
}

#[test]
fn monte_carlo_is_estimate_approaches_the_value() {
    let tree = Tree::new();
    let log_pi_all = tree.log_pi();
    let q: Vec<f64> = (8..16).map(|l| tree.prob(1, l)).collect();
    let mut rng = Rng(2024);
    let m = 20_000;
    let draws: Vec<usize> = (0..m)
        .map(|_| {
            let (mut u, mut i) = (rng.unit(), 0);
            while i < 7 && u >= q[i] {
                u -= q[i];
                i += 1;
            }
            i
        })
        .collect();
    let log_pi: Vec<f64> = (0..15).flat_map(|s| draws.iter().map(move |&c| (s, c))).map(|(s, c)| log_pi_all[s * 8 + c]).collect();
    let log_q: Vec<f64> = draws.iter().map(|&c| q[c].ln()).collect();
    let util: Vec<f64> = draws.iter().map(|&c| tree.utility[c]).collect();
    let v = value_is(&log_pi, &log_q, &util, 15, m).unwrap();
    // the root estimate is the fraction of correct draws; deep nodes are rarely visited (wide tolerance)
    assert!((v[0] - tree.value(1)).abs() < 0.02, "{} vs {}", v[0], tree.value(1));
    for (s, &got) in v.iter().enumerate().take(3).skip(1) {
        assert!((got - tree.value(s + 1)).abs() < 0.06, "state {s}: {got} vs {}", tree.value(s + 1));
    }
}

#[test]
fn segment_rewards_sum_to_outcome_minus_first_value() {
    let mut rng = Rng(99);
    let rows = 50;
    let k: Vec<i64> = (0..rows).map(|b| if b % 10 == 0 { 0 } else { 1 + rng.below(30) as i64 }).collect();
    let mut offsets = vec![0i64];
    for &n in &k {
        offsets.push(offsets.last().unwrap() + n);
    }
    let values: Vec<f64> = (0..*offsets.last().unwrap()).map(|_| rng.unit() * 10f64.powi(rng.below(7) as i32 - 3)).collect();
    let outcome: Vec<f64> = (0..rows).map(|_| rng.below(2) as f64).collect();
    let r = redistribute(&values, &offsets, &outcome).unwrap();
    assert_eq!(r.len(), values.len());
    for b in 0..rows {
        let span = offsets[b] as usize..offsets[b + 1] as usize;
        if span.is_empty() {
            continue;
        }
        let sum: f64 = r[span.clone()].iter().sum();
        let want = outcome[b] - values[span.start];
        assert!((sum - want).abs() < 1e-12, "row {b}: {sum} vs {want}");
    }
    // on the toy tree, along the response path 1 -> 0 -> 1 (leaf 0b101 = 5, U = 0)
    let tree = Tree::new();
    let path = [1usize, 3, 6];
    let v: Vec<f64> = path.iter().map(|&n| tree.value(n)).collect();
    let r = redistribute(&v, &[0, 3], &[tree.utility[5]]).unwrap();
    assert!((r.iter().sum::<f64>() - (tree.utility[5] - tree.value(1))).abs() < 1e-12);
    assert!((r[0] - (tree.value(3) - tree.value(1))).abs() < 1e-15);
}

// ---------------------------------------------------------------- extremes

#[test]
fn long_sequences_and_unlikely_completions_stay_finite() {
    // 8192 tokens of log-prob -20: log π = -163840 exactly, in f32 and f64
    let lay = Layout::Padded { rows: 2, cols: 8192 };
    let tok32 = vec![-20.0f32; 2 * 8192];
    let seq = sequence_logprob(&tok32, &lay, Some(&[8192, 100])).unwrap();
    assert_eq!(seq, vec![-163840.0f32, -2000.0]);
    let tok64 = vec![-20.0f64; 2 * 8192];
    assert_eq!(sequence_logprob(&tok64, &lay, None).unwrap(), vec![-163840.0, -163840.0]);

    let lp = -163840.0f64;
    // state 0: π = q for completion 0 (ratio 1), completion 1 impossible; state 1: ratio e^{-5}, e^{+3}
    let log_pi = [lp, f64::NEG_INFINITY, lp - 5.0, lp + 3.0 - 200.0];
    let log_q = [lp, lp - 200.0];
    let util = [2.0, 0.5];
    let want0 = (2.0f64 / 2.0).ln();
    let want1 = (0.5 * (2.0 * (-5.0f64).exp() + 0.5 * 3.0f64.exp())).ln();
    let got = log_value_is(&log_pi, &log_q, &util, 2, 2).unwrap();
    assert!((got[0] - want0).abs() < 1e-12 && (got[1] - want1).abs() < 1e-12, "{got:?}");
    // f32 inputs: the same in f32 precision
    let as32 = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let got32 = log_value_is(&as32(&log_pi), &as32(&log_q), &as32(&util), 2, 2).unwrap();
    assert!((got32[1] as f64 - want1).abs() < 1e-2, "{got32:?}");

    // a completion far less likely under the state than under q: log V̂ = -163840 + ln(U/M), V̂ underflows to 0
    let got = log_value_is(&[lp], &[0.0], &[3.0], 1, 1).unwrap();
    assert_eq!(got[0], lp + 3.0f64.ln());
    assert_eq!(value_is(&[lp], &[0.0f64], &[3.0], 1, 1).unwrap(), vec![0.0]);
    // and far more likely: log V̂ = 163840 is exact, V̂ = +inf only because the true value is
    let got = log_value_is(&[0.0], &[lp], &[1.0], 1, 1).unwrap();
    assert_eq!(got[0], 163840.0);
    assert_eq!(value_is(&[0.0f64], &[lp], &[1.0], 1, 1).unwrap(), vec![f64::INFINITY]);
    // ratios of e^{±700} in one state do not overflow the sum
    let got = log_value_is(&[700.0 + lp, -700.0 + lp], &[lp, lp], &[1.0, 1.0], 1, 2).unwrap()[0];
    assert!((got - (700.0 + (1.0 + (-1400.0f64).exp()).ln() - 2.0f64.ln())).abs() < 1e-12);
    // all utilities zero or completions impossible: -inf, V̂ = 0, never NaN
    let got = log_value_is(&[f64::NEG_INFINITY, 0.0], &[0.0, 0.0], &[1.0, 0.0], 1, 2).unwrap();
    assert_eq!(got, vec![f64::NEG_INFINITY]);
    assert_eq!(value_is(&[f64::NEG_INFINITY, 0.0], &[0.0, 0.0], &[1.0, 0.0], 1, 2).unwrap(), vec![0.0]);
}

// ---------------------------------------------------------------- spreading onto tokens

#[test]
fn spread_modes_preserve_segment_sums_and_zero_padding() {
    let mut rng = Rng(5);
    let (rows, cols) = (12, 30);
    let batch = random_batch(&mut rng, rows, cols);
    let padded = Layout::Padded { rows, cols };
    let seg = by_delimiters(&batch.tokens, &padded, Some(&batch.lengths), &[0, 3], 2, 6).unwrap();
    let rewards: Vec<f64> = (0..seg.total()).map(|_| rng.unit() * 2.0 - 1.0).collect();
    for mode in [Spread::Last, Spread::Uniform, Spread::Broadcast] {
        let tok = spread_to_tokens(&rewards, &seg, &padded, mode).unwrap();
        for b in 0..rows {
            let row = &tok[b * cols..(b + 1) * cols];
            let len = batch.lengths[b] as usize;
            assert!(row[len..].iter().all(|&x| x == 0.0), "padding of row {b} in {mode:?}");
            let mut start = 0;
            for (k, &end) in seg.row(b).iter().enumerate() {
                let (end, r) = (end as usize, rewards[seg.offsets[b] as usize + k]);
                let part = &row[start..end];
                match mode {
                    Spread::Last | Spread::Uniform => {
                        assert!((part.iter().sum::<f64>() - r).abs() < 1e-12, "row {b} seg {k} {mode:?}");
                    }
                    Spread::Broadcast => assert!(part.iter().all(|&x| x == r)),
                }
                if mode == Spread::Last {
                    assert!(part[..part.len() - 1].iter().all(|&x| x == 0.0) && part[part.len() - 1] == r);
                }
                start = end;
            }
        }
    }
    // ragged layout, into a dirty buffer: every position is overwritten
    let (rtok, _) = batch.ragged();
    let ragged = Layout::ragged(&batch.offsets, rtok.len()).unwrap();
    let seg = by_delimiters(&rtok, &ragged, None, &[0, 3], 1, 0).unwrap();
    let rewards: Vec<f32> = (0..seg.total()).map(|k| k as f32 + 1.0).collect();
    let mut out = vec![f32::NAN; rtok.len()];
    spread_into(&mut out, &rewards, &seg, &ragged, Spread::Uniform).unwrap();
    let total: f64 = out.iter().map(|&x| x as f64).sum();
    assert!((total - rewards.iter().map(|&x| x as f64).sum::<f64>()).abs() < 1e-3);
}

#[test]
fn end_to_end_token_sums_equal_outcome_minus_first_value() {
    let mut rng = Rng(31337);
    let (rows, cols) = (16, 50);
    let batch = random_batch(&mut rng, rows, cols);
    let padded = Layout::Padded { rows, cols };
    let seg = hybrid(&batch.tokens, &batch.entropy, &padded, Some(&batch.lengths), &[1], 1.6, 3, 12).unwrap();
    let values: Vec<f64> = (0..seg.total()).map(|_| rng.unit()).collect();
    let outcome: Vec<f64> = (0..rows).map(|b| (b % 2) as f64).collect();
    let r = redistribute(&values, &seg.offsets, &outcome).unwrap();
    let tok = spread_to_tokens(&r, &seg, &padded, Spread::Uniform).unwrap();
    for b in 0..rows {
        let sum: f64 = tok[b * cols..(b + 1) * cols].iter().sum();
        let want = if seg.row(b).is_empty() { 0.0 } else { outcome[b] - values[seg.offsets[b] as usize] };
        assert!((sum - want).abs() < 1e-12, "row {b}");
    }
}

// ---------------------------------------------------------------- errors

fn arg<T: std::fmt::Debug>(r: Result<T, CoreError>) -> &'static str {
    r.unwrap_err().arg()
}

#[test]
fn bad_inputs_name_their_argument() {
    let lay = Layout::Padded { rows: 2, cols: 3 };
    let tok = [0i64; 6];
    let ent = [0.0f64; 6];
    assert_eq!(arg(by_delimiters(&tok[..5], &lay, None, &[1], 1, 0)), "tokens");
    assert_eq!(arg(by_delimiters(&tok, &lay, Some(&[1]), &[1], 1, 0)), "lengths");
    assert_eq!(arg(by_delimiters(&tok, &lay, Some(&[1, 4]), &[1], 1, 0)), "lengths");
    assert_eq!(arg(by_delimiters(&tok, &lay, Some(&[-1, 2]), &[1], 1, 0)), "lengths");
    assert_eq!(arg(by_delimiters(&tok, &lay, None, &[1], 0, 0)), "min_len");
    assert_eq!(arg(by_delimiters(&tok, &lay, None, &[1], 4, 3)), "min_len");
    assert_eq!(arg(by_delimiters(&[], &Layout::Padded { rows: 0, cols: 3 }, None, &[1], 1, 0)), "batch");
    assert_eq!(arg(by_entropy(&ent[..4], &lay, None, 1.0, 1, 0)), "entropy");
    assert_eq!(arg(by_entropy(&ent, &lay, None, f64::NAN, 1, 0)), "threshold");
    let mut bad = ent;
    bad[4] = f64::INFINITY;
    let err = by_entropy(&bad, &lay, None, 1.0, 1, 0).unwrap_err();
    assert!(matches!(&err, CoreError::Value { arg: "entropy", reason } if reason.contains("flat index 4")), "{err}");
    // padding is not read
    assert!(by_entropy(&bad, &lay, Some(&[3, 1]), 1.0, 1, 0).is_ok());
    assert_eq!(arg(hybrid(&tok, &ent[..5], &lay, None, &[1], 1.0, 1, 0)), "entropy");

    assert_eq!(arg(from_boundaries(&[2, 3], &[0, 2], &[3, 1])), "row_lengths");
    assert_eq!(arg(from_boundaries(&[2, 3], &[1, 2], &[3])), "offsets");
    assert_eq!(arg(from_boundaries(&[2, 3], &[0, 3], &[3])), "ends");
    assert_eq!(arg(from_boundaries(&[3, 2], &[0, 2], &[2])), "ends");
    assert_eq!(arg(from_boundaries(&[0, 3], &[0, 2], &[3])), "ends");
    assert_eq!(arg(from_boundaries(&[2], &[0, 1], &[3])), "ends");
    assert_eq!(arg(from_boundaries(&[], &[0, 0], &[3])), "ends");
    assert_eq!(arg(from_boundaries(&[], &[0, 0], &[-1])), "row_lengths");
    assert!(from_boundaries(&[], &[0, 0], &[0]).is_ok());

    assert_eq!(arg(valid_lengths(&lay, Some(&[0, 0, 0]))), "lengths");
    assert_eq!(arg(sequence_logprob(&ent[..5], &lay, None)), "token_logp");
    assert_eq!(arg(sequence_logprob(&[0.0, f64::NAN, 0.0, 0.0, 0.0, 0.0], &lay, None)), "token_logp");
    assert_eq!(arg(sequence_logprob(&[0.0, f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0, 0.0], &lay, None)), "token_logp");
    assert_eq!(sequence_logprob(&[0.0, f64::NEG_INFINITY, 0.0, 0.0, 0.0, 0.0], &lay, None).unwrap()[0], f64::NEG_INFINITY);
    assert_eq!(arg(sequence_logprob(&ent, &lay, Some(&[9, 0]))), "lengths");

    let lp = [0.0f64; 4];
    assert_eq!(arg(log_value_is(&lp[..3], &[0.0, 0.0], &[1.0, 1.0], 2, 2)), "log_pi");
    assert_eq!(arg(log_value_is(&lp, &[0.0; 3], &[1.0, 1.0], 2, 2)), "log_q");
    assert_eq!(arg(log_value_is(&lp, &[0.0, 0.0], &[1.0], 2, 2)), "utility");
    assert_eq!(arg(log_value_is(&lp, &[0.0, f64::NEG_INFINITY], &[1.0, 1.0], 2, 2)), "log_q");
    assert_eq!(arg(log_value_is(&lp, &[0.0, 0.0], &[1.0, -1.0], 2, 2)), "utility");
    assert_eq!(arg(log_value_is(&lp, &[0.0, 0.0], &[1.0, f64::NAN], 2, 2)), "utility");
    assert_eq!(arg(log_value_is(&[0.0, 0.0, f64::INFINITY, 0.0], &[0.0, 0.0], &[1.0, 1.0], 2, 2)), "log_pi");
    assert_eq!(arg(log_value_is(&[0.0, 0.0, 0.0, f64::NAN], &[0.0, 0.0], &[1.0, 1.0], 2, 2)), "log_pi");
    assert_eq!(arg(log_value_is::<f64>(&[], &[], &[], 2, 0)), "completions");
    assert_eq!(arg(log_value_is::<f64>(&[], &[0.0], &[1.0], 0, 1)), "states");

    assert_eq!(arg(redistribute(&[0.5f64, 0.5], &[0, 3], &[1.0])), "values");
    assert_eq!(arg(redistribute(&[0.5f64, 0.5], &[0, 2, 1], &[1.0, 1.0])), "seg_offsets");
    assert_eq!(arg(redistribute(&[0.5f64, 0.5], &[0, 2], &[1.0, 1.0])), "outcome");
    assert_eq!(arg(redistribute(&[0.5f64, f64::NAN], &[0, 2], &[1.0])), "values");
    assert_eq!(arg(redistribute(&[0.5f64, 0.5], &[0, 2], &[f64::INFINITY])), "outcome");
    assert_eq!(arg(redistribute::<f64>(&[], &[0], &[])), "outcome");

    let seg = Segments { ends: vec![2, 3, 3], offsets: vec![0, 2, 3] };
    assert!(spread_to_tokens(&[1.0f64, 2.0, 3.0], &seg, &lay, Spread::Last).is_ok());
    assert_eq!(arg(spread_to_tokens(&[1.0f64, 2.0], &seg, &lay, Spread::Last)), "segment_rewards");
    let mut out = [0.0f64; 5];
    assert_eq!(arg(spread_into(&mut out, &[1.0, 2.0, 3.0], &seg, &lay, Spread::Last)), "out");
    for bad in [
        Segments { ends: vec![2, 3, 3], offsets: vec![0, 2] },
        Segments { ends: vec![2, 3, 3], offsets: vec![0, 2, 2] },
        Segments { ends: vec![2, 2, 3], offsets: vec![0, 2, 3] },
        Segments { ends: vec![2, 4, 3], offsets: vec![0, 2, 3] },
        Segments { ends: vec![0, 3, 3], offsets: vec![0, 2, 3] },
        Segments { ends: vec![2, 3, 3], offsets: vec![0, 3, 2] },
    ] {
        assert_eq!(arg(spread_to_tokens(&[1.0f64, 2.0, 3.0], &bad, &lay, Spread::Uniform)), "segments", "{bad:?}");
    }
}

#[test]
fn large_batches_take_the_parallel_path_and_agree() {
    // 64 x 2048 = 131072 tokens: above the parallel threshold
    let mut rng = Rng(4242);
    let (rows, cols) = (64, 2048);
    let batch = random_batch(&mut rng, rows, cols);
    let padded = Layout::Padded { rows, cols };
    let seg = by_delimiters(&batch.tokens, &padded, Some(&batch.lengths), &[3, 0], 3, 40).unwrap();
    assert_eq!(seg, batch.naive(Some(&[3, 0]), None, 3, 40));
    let seg_h = by_entropy(&batch.entropy, &padded, Some(&batch.lengths), 1.7, 2, 0).unwrap();
    assert_eq!(seg_h, batch.naive(None, Some(1.7), 2, 0));
    let logp: Vec<f64> = (0..rows * cols).map(|_| -3.0 * rng.unit()).collect();
    let seq = sequence_logprob(&logp, &padded, Some(&batch.lengths)).unwrap();
    for b in 0..rows {
        let want: f64 = logp[b * cols..b * cols + batch.lengths[b] as usize].iter().sum();
        assert!((seq[b] - want).abs() < 1e-9 * (1.0 + want.abs()), "row {b}");
    }
    let rewards: Vec<f64> = (0..seg.total()).map(|_| rng.unit()).collect();
    let tok = spread_to_tokens(&rewards, &seg, &padded, Spread::Last).unwrap();
    let (sum_tok, sum_seg) = (tok.iter().sum::<f64>(), rewards.iter().sum::<f64>());
    assert!((sum_tok - sum_seg).abs() < 1e-9 * sum_seg);
}
