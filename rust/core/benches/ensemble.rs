//! Criterion benches of ensemble aggregation at K = 8 members x N = 1,000,000 items, float32
//! (every method with the default parallelism, and mean/median on one thread).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rewardlab_core::ensemble::{aggregate, Aggregate};
use rewardlab_core::parallel::set_parallel;

const K: usize = 8;
const N: usize = 1_000_000;

fn scores() -> Vec<f32> {
    let mut s = 1u64;
    (0..K * N)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = scores();
    let (mut out, mut spread) = (vec![0.0f32; N], vec![0.0f32; N]);
    let methods = [
        ("mean", Aggregate::Mean),
        ("min", Aggregate::Min),
        ("max", Aggregate::Max),
        ("median", Aggregate::Median),
        ("quantile_0.9", Aggregate::Quantile(0.9)),
        ("uwo", Aggregate::MeanMinusStd(1.0)),
        ("uwo_var", Aggregate::MeanMinusVar(1.0)),
    ];
    for (name, method) in methods {
        c.bench_function(&format!("ensemble_{name}_8x1M_f32"), |b| {
            b.iter(|| aggregate(black_box(&x), K, N, method, &mut out, &mut spread).unwrap())
        });
    }
    set_parallel(false);
    for (name, method) in [("mean", Aggregate::Mean), ("median", Aggregate::Median)] {
        c.bench_function(&format!("ensemble_{name}_8x1M_f32_one_thread"), |b| {
            b.iter(|| aggregate(black_box(&x), K, N, method, &mut out, &mut spread).unwrap())
        });
    }
    set_parallel(true);
}

criterion_group!(benches, bench);
criterion_main!(benches);
