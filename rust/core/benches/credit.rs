//! Criterion benches of the core credit kernels at 1024 x 1024 float32 tokens (TRL's
//! normalisation: 1024 rewards), groups of 8.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rewardlab_core::credit::groups::factorize;
use rewardlab_core::credit::kl::{kl_penalty, KlClamp, KlEstimator};
use rewardlab_core::credit::multi_reward::{group_normalize, Aggregation, Scale};
use rewardlab_core::credit::outcome::{broadcast_rows, outcome_advantages, row_scores, Estimator, Robust, Singleton};
use rewardlab_core::credit::scan::{discounted_returns, gae, MaskedSteps};
use rewardlab_core::credit::whiten::{masked_whiten, WhitenSpec};
use rewardlab_core::layout::Layout;

const B: usize = 1024;
const T: usize = 1024;

fn inputs() -> (Vec<f32>, Vec<f32>, Vec<i64>) {
    let mut s = 1u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let rewards: Vec<f32> = (0..B * T).map(|_| next()).collect();
    let values: Vec<f32> = (0..B * T).map(|_| next()).collect();
    let mask: Vec<i64> = (0..B).flat_map(|i| (0..T).map(move |t| (t < T - (i * 7) % T) as i64)).collect();
    (rewards, values, mask)
}

fn bench(c: &mut Criterion) {
    let (r, v, m) = inputs();
    let lay = Layout::Padded { rows: B, cols: T };
    c.bench_function("gae_carry_whiten_1024x1024", |b| {
        b.iter(|| {
            let out = gae(black_box(&r), &v, Some(&m[..]), &lay, 1.0, 0.95, MaskedSteps::Carry, true).unwrap();
            black_box(WhitenSpec::VERL.params(out.moments).unwrap());
        })
    });
    c.bench_function("returns_zero_1024x1024", |b| {
        b.iter(|| discounted_returns(black_box(&r), Some(&m[..]), &lay, 1.0, MaskedSteps::Zero, false).unwrap())
    });
    c.bench_function("whiten_1024x1024", |b| b.iter(|| masked_whiten(black_box(&r), Some(&m[..]), &WhitenSpec::VERL).unwrap()));
    let (codes, n) = factorize((0..B).map(|i| i / 8));
    c.bench_function("grpo_1024x1024", |b| {
        b.iter(|| {
            let (scores, _) = row_scores(black_box(&r), Some(&m[..]), &lay, false).unwrap();
            let est = Estimator::Grpo { scale_by_std: true, eps: 1e-6 };
            let (adv, _) = outcome_advantages(&scores, &codes, n, None, est, Singleton::PassThrough, Robust::default()).unwrap();
            broadcast_rows(&adv, Some(&m[..]), &lay, None).unwrap()
        })
    });
    // TRL's block: one reward per completion, 1024 completions
    c.bench_function("trl_group_normalize_1024", |b| {
        b.iter(|| group_normalize(black_box(&r[..B]), &[1.0], 8, Scale::Group, Aggregation::SumThenNormalize).unwrap())
    });
    c.bench_function("kl_k3_verl_1024x1024", |b| b.iter(|| kl_penalty(black_box(&r), &v, KlEstimator::K3, KlClamp::Verl).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
