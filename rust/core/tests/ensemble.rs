//! Ensemble aggregation against hand-computed values and a naive sort-per-item reference.

use rewardlab_core::ensemble::{aggregate, Aggregate};
use rewardlab_core::CoreError;

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn run<R: rewardlab_core::real::Real>(scores: &[R], members: usize, method: Aggregate) -> (Vec<R>, Vec<R>) {
    let items = scores.len() / members;
    let (mut out, mut spread) = (vec![R::zero(); items], vec![R::zero(); items]);
    aggregate(scores, members, items, method, &mut out, &mut spread).unwrap();
    (out, spread)
}

/// Column `j` of row-major `[members, items]` scores, sorted.
fn sorted_column(scores: &[f64], members: usize, j: usize) -> Vec<f64> {
    let items = scores.len() / members;
    let mut col: Vec<f64> = (0..members).map(|k| scores[k * items + j]).collect();
    col.sort_by(|a, b| a.partial_cmp(b).unwrap());
    col
}

fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn hand_computed_three_members() {
    // items: a spread column (1, 2, 6) and a constant column (4, 4, 4)
    let scores = [1.0f64, 4.0, 2.0, 4.0, 6.0, 4.0];
    let std0 = (14.0f64 / 3.0).sqrt();
    let cases = [
        (Aggregate::Mean, [3.0, 4.0]),
        (Aggregate::Min, [1.0, 4.0]),
        (Aggregate::Max, [6.0, 4.0]),
        (Aggregate::Median, [2.0, 4.0]),
        (Aggregate::Quantile(0.25), [1.5, 4.0]),
        (Aggregate::Quantile(1.0), [6.0, 4.0]),
        (Aggregate::MeanMinusStd(2.0), [3.0 - 2.0 * std0, 4.0]),
        (Aggregate::MeanMinusVar(0.5), [3.0 - 0.5 * 14.0 / 3.0, 4.0]),
    ];
    for (method, expected) in cases {
        let (out, spread) = run(&scores, 3, method);
        assert!(close(out[0], expected[0], 1e-15) && out[1] == expected[1], "{method:?}: {out:?}");
        assert!(close(spread[0], std0, 1e-15));
        assert_eq!(spread[1], 0.0, "constant column: exactly zero spread");
    }
}

#[test]
fn constant_columns_are_exact() {
    // 0.1 + 0.1 + 0.1 = 0.30000000000000004 and /3 != 0.1: a plain sum would leave residue
    let scores = [0.1f64; 3];
    for method in [Aggregate::Mean, Aggregate::MeanMinusStd(5.0), Aggregate::MeanMinusVar(5.0), Aggregate::Quantile(0.3)] {
        assert_eq!(run(&scores, 3, method), (vec![0.1], vec![0.0]), "{method:?}");
    }
}

#[test]
fn median_of_even_members_is_the_middle_mean() {
    let (out, _) = run(&[4.0f32, 1.0, 3.0, 2.0], 4, Aggregate::Median);
    assert_eq!(out, vec![2.5]);
}

#[test]
fn single_member_is_its_own_aggregate() {
    let scores = [0.5f64, -1.0, 3.0];
    for method in [Aggregate::Mean, Aggregate::Min, Aggregate::Median, Aggregate::Quantile(0.9), Aggregate::MeanMinusStd(1.0)] {
        let (out, spread) = run(&scores, 1, method);
        assert_eq!(out, scores.to_vec());
        assert_eq!(spread, vec![0.0; 3]);
    }
}

#[test]
fn matches_naive_reference_for_many_member_counts() {
    // member counts on both sides of the insertion-sort and stack-buffer limits; items across blocks
    let mut seed = 5;
    for members in [1, 2, 3, 7, 8, 31, 32, 33, 64, 65, 100] {
        let items = 3001;
        let scores: Vec<f64> = (0..members * items).map(|_| (lcg(&mut seed) * 4.0).round() / 2.0 + 0.1 * lcg(&mut seed)).collect();
        for q in [0.0, 0.1, 0.5, 0.77, 1.0] {
            let (out, _) = run(&scores, members, Aggregate::Quantile(q));
            for j in (0..items).step_by(97) {
                let want = naive_quantile(&sorted_column(&scores, members, j), q);
                assert!(close(out[j], want, 1e-14), "K={members} q={q} item {j}: {} vs {want}", out[j]);
            }
        }
        let (mean, spread) = run(&scores, members, Aggregate::Mean);
        let (min, _) = run(&scores, members, Aggregate::Min);
        let (max, _) = run(&scores, members, Aggregate::Max);
        for j in (0..items).step_by(97) {
            let col = sorted_column(&scores, members, j);
            let m = col.iter().sum::<f64>() / members as f64;
            let sd = (col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / members as f64).sqrt();
            assert!(close(mean[j], m, 1e-14) && close(spread[j], sd, 1e-12));
            assert_eq!((min[j], max[j]), (col[0], col[members - 1]));
        }
    }
}

#[test]
fn float32_statistics_are_accumulated_in_float64() {
    // a large offset: float32 accumulation would lose the spread
    let mut seed = 9;
    let (members, items) = (8, 5000);
    let scores: Vec<f32> = (0..members * items).map(|_| (1e4 + 0.01 * lcg(&mut seed)) as f32).collect();
    let (mean, spread) = run(&scores, members, Aggregate::Mean);
    for j in (0..items).step_by(101) {
        let col: Vec<f64> = (0..members).map(|k| scores[k * items + j] as f64).collect();
        let m = col.iter().sum::<f64>() / members as f64;
        let sd = (col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / members as f64).sqrt();
        assert!(((mean[j] as f64) - m).abs() <= 1e-3);
        assert!(((spread[j] as f64) - sd).abs() <= 1e-6 * sd.max(1.0), "{} vs {sd}", spread[j]);
    }
}

#[test]
fn first_non_finite_score_in_row_major_order_is_reported() {
    let (members, items) = (4, 200_000);
    let mut scores = vec![0.25f32; members * items];
    scores[2 * items + 5] = f32::NAN;
    scores[items + 150_000] = f32::INFINITY; // a later block, but an earlier row
    let (mut out, mut spread) = (vec![0.0; items], vec![0.0; items]);
    for method in [Aggregate::Mean, Aggregate::Median, Aggregate::Max] {
        let err = aggregate(&scores, members, items, method, &mut out, &mut spread).unwrap_err();
        let CoreError::Value { arg, reason } = err else { panic!("{err:?}") };
        assert_eq!(arg, "scores");
        assert!(reason.contains("member 1, item 150000") && reason.contains("inf"), "{reason}");
    }
}

#[test]
fn overflowing_sums_of_finite_scores_are_not_errors() {
    // MAX - (-MAX) overflows to inf inside the mean; the scores themselves are fine
    let scores = [-f64::MAX, f64::MAX];
    let (out, _) = run(&scores, 2, Aggregate::Max);
    assert_eq!(out, vec![f64::MAX]);
}

#[test]
fn bad_arguments_are_named() {
    let scores = [1.0f64; 6];
    let (mut out, mut spread) = (vec![0.0; 3], vec![0.0; 3]);
    let arg_of = |r: rewardlab_core::Result<()>| r.unwrap_err().arg();
    assert_eq!(arg_of(aggregate(&scores, 4, 3, Aggregate::Mean, &mut out, &mut spread)), "scores");
    assert!(matches!(aggregate(&scores[..0], 0, 3, Aggregate::Mean, &mut out, &mut spread), Err(CoreError::Empty { arg: "scores" })));
    assert!(matches!(aggregate(&scores[..0], 2, 0, Aggregate::Mean, &mut [], &mut []), Err(CoreError::Empty { arg: "scores" })));
    assert_eq!(arg_of(aggregate(&scores, 2, 3, Aggregate::Mean, &mut out[..2], &mut spread)), "out");
    assert_eq!(arg_of(aggregate(&scores, 2, 3, Aggregate::Mean, &mut out, &mut spread[..1])), "spread");
    for q in [-0.1, 1.5, f64::NAN] {
        assert_eq!(arg_of(aggregate(&scores, 2, 3, Aggregate::Quantile(q), &mut out, &mut spread)), "q");
    }
    for lam in [f64::NAN, f64::INFINITY] {
        assert_eq!(arg_of(aggregate(&scores, 2, 3, Aggregate::MeanMinusStd(lam), &mut out, &mut spread)), "lam");
        assert_eq!(arg_of(aggregate(&scores, 2, 3, Aggregate::MeanMinusVar(lam), &mut out, &mut spread)), "lam");
    }
}

#[test]
fn methods_parse_by_name() {
    assert_eq!(Aggregate::parse("uwo", 0.5, 0.5), Ok(Aggregate::MeanMinusStd(0.5)));
    assert_eq!(Aggregate::parse("quantile", 1.0, 0.9), Ok(Aggregate::Quantile(0.9)));
    let err = Aggregate::parse("avg", 1.0, 0.5).unwrap_err();
    assert_eq!(err.arg(), "method");
    assert!(err.to_string().contains("'uwo_var'"));
    assert_eq!(Aggregate::parse("quantile", 1.0, 2.0).unwrap_err().arg(), "q");
}
