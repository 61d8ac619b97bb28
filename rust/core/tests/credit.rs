//! Core kernels against naive loops and properties that must hold.

use rewardlab_core::CoreError;
use rewardlab_core::credit::groups::{factorize, group_stats};
use rewardlab_core::credit::outcome::{outcome_advantages, Estimator, Robust, Singleton};
use rewardlab_core::credit::scan::{discounted_returns, gae, MaskedSteps};
use rewardlab_core::credit::whiten::{masked_whiten, Moments, WhitenSpec};
use rewardlab_core::layout::Layout;

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

#[test]
fn gae_with_unit_gamma_lambda_and_zero_values_is_reward_to_go() {
    let mut s = 7;
    let (rows, cols) = (5, 9);
    let r: Vec<f64> = (0..rows * cols).map(|_| lcg(&mut s)).collect();
    let v = vec![0.0; rows * cols];
    let lay = Layout::Padded { rows, cols };
    let out = gae::<f64, bool>(&r, &v, None, &lay, 1.0, 1.0, MaskedSteps::Carry, false).unwrap();
    let ret = discounted_returns::<f64, bool>(&r, None, &lay, 1.0, MaskedSteps::Carry, false).unwrap();
    for row in 0..rows {
        let mut acc = 0.0;
        for t in (0..cols).rev() {
            acc += r[row * cols + t];
            assert!((out.first[row * cols + t] - acc).abs() < 1e-12);
            assert!((ret.first[row * cols + t] - acc).abs() < 1e-12);
        }
    }
}

#[test]
fn carry_mode_skips_masked_tokens() {
    // masked middle token: the first token bootstraps from the third token's value
    let r = [1.0f64, 100.0, 2.0];
    let v = [0.5, 100.0, 0.25];
    let m = [1u8, 0, 1];
    let lay = Layout::Padded { rows: 1, cols: 3 };
    let out = gae(&r, &v, Some(&m[..]), &lay, 0.5, 1.0, MaskedSteps::Carry, false).unwrap();
    let a2 = 2.0 - 0.25;
    let a0 = (1.0 + 0.5 * 0.25 - 0.5) + 0.5 * a2;
    assert_eq!(out.first, vec![a0, a2, a2]);
}

#[test]
fn ragged_offsets_are_validated() {
    let bad = [0i64, 3, 2];
    assert!(matches!(Layout::ragged(&bad, 2), Err(CoreError::Value { arg: "offsets", .. })));
    assert!(matches!(Layout::ragged(&[0, 2], 3), Err(CoreError::Value { arg: "offsets", .. })));
    assert!(Layout::ragged(&[0, 0, 3], 3).is_ok());
}

#[test]
fn mask_values_other_than_zero_and_one_are_rejected() {
    let lay = Layout::Padded { rows: 1, cols: 2 };
    let err = gae(&[0.0f32; 2], &[0.0f32; 2], Some(&[1i64, 2][..]), &lay, 1.0, 1.0, MaskedSteps::Carry, false);
    assert!(matches!(err, Err(CoreError::Value { arg: "mask", .. })));
}

#[test]
fn chan_merge_equals_direct_moments() {
    let mut s = 3;
    let x: Vec<f64> = (0..1000).map(|_| 5.0 + lcg(&mut s)).collect();
    let whole = Moments::of::<f64, bool>(&x, None, 0).unwrap();
    let parts = x.chunks(77).map(|c| Moments::of::<f64, bool>(c, None, 0).unwrap());
    let merged = Moments::merge_all(parts);
    assert!((whole.mean - merged.mean).abs() < 1e-12);
    assert!((whole.m2 - merged.m2).abs() < 1e-9);
}

#[test]
fn whitened_values_have_zero_mean_and_unit_variance() {
    let mut s = 11;
    let x: Vec<f64> = (0..5000).map(|_| 3.0 * lcg(&mut s) + 7.0).collect();
    let w = masked_whiten::<f64, bool>(&x, None, &WhitenSpec::VERL).unwrap();
    let m = Moments::of::<f64, bool>(&w, None, 0).unwrap();
    assert!(m.mean.abs() < 1e-9);
    assert!((m.m2 / (m.n - 1.0) - 1.0).abs() < 1e-6);
}

#[test]
fn factorize_keeps_first_appearance_order() {
    let (codes, n) = factorize(["b", "a", "b", "c", "a"]);
    assert_eq!(codes, vec![0, 1, 0, 2, 1]);
    assert_eq!(n, 3);
}

#[test]
fn grpo_advantages_sum_to_zero_per_group_and_rloo_matches_leave_one_out() {
    let scores = [1.0f64, 2.0, 4.0, 0.5, 0.5, 3.0];
    let (codes, n) = factorize([0, 0, 0, 1, 1, 2]);
    let est = Estimator::Grpo { scale_by_std: true, eps: 0.0 };
    let (adv, rep) = outcome_advantages(&scores, &codes, n, None, est, Singleton::PassThrough, Robust::default()).unwrap();
    assert!((adv[0] + adv[1] + adv[2]).abs() < 1e-12);
    assert_eq!(adv[5], 3.0); // singleton passes through
    assert_eq!(rep.n_singleton_groups, 1);
    let (rloo, _) = outcome_advantages(&scores, &codes, n, None, Estimator::Rloo, Singleton::Zero, Robust::default()).unwrap();
    assert!((rloo[0] - (1.0 - 3.0)).abs() < 1e-12);
    assert_eq!(rloo[5], 0.0);
    let st = group_stats(&scores, &codes, n, None).unwrap();
    assert_eq!(st.std[1], 0.0);
}
