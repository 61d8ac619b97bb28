//! Criterion benches of segment-level reward redistribution at 1024 x 8192 tokens (float32
//! values): delimiter segmentation, segment rewards from values, spreading onto tokens, and the
//! three together. About 2% of tokens are delimiters; segments are 16..=512 tokens.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rewardlab_core::layout::Layout;
use rewardlab_core::redistribution::redistribute::{redistribute, spread_into, Spread};
use rewardlab_core::redistribution::segment::{by_delimiters, by_entropy};

const B: usize = 1024;
const T: usize = 8192;
const DELIMITERS: [i64; 8] = [13, 198, 271, 382, 1339, 4416, 14190, 22464];

fn inputs() -> (Vec<i64>, Vec<f32>, Vec<i64>) {
    let mut s = 1u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    };
    let tokens: Vec<i64> = (0..B * T)
        .map(|_| {
            let r = next();
            if r % 50 == 0 {
                DELIMITERS[(r / 50 % 8) as usize]
            } else {
                (r % 32000) as i64
            }
        })
        .collect();
    let entropy: Vec<f32> = (0..B * T).map(|_| (next() % 1000) as f32 / 250.0).collect();
    let lengths: Vec<i64> = (0..B).map(|i| (T - (i * 37) % (T / 2)) as i64).collect();
    (tokens, entropy, lengths)
}

fn bench(c: &mut Criterion) {
    let (tok, ent, lengths) = inputs();
    let lay = Layout::Padded { rows: B, cols: T };
    let seg = by_delimiters(&tok, &lay, Some(&lengths), &DELIMITERS, 16, 512).unwrap();
    let values: Vec<f32> = (0..seg.total()).map(|k| (k % 97) as f32 / 97.0).collect();
    let outcome: Vec<f32> = (0..B).map(|i| (i % 2) as f32).collect();
    let rewards = redistribute(&values, &seg.offsets, &outcome).unwrap();
    let mut out = vec![0.0f32; B * T];

    c.bench_function("segment_delimiters_1024x8192", |b| {
        b.iter(|| by_delimiters(black_box(&tok), &lay, Some(&lengths), &DELIMITERS, 16, 512).unwrap())
    });
    c.bench_function("segment_entropy_1024x8192_f32", |b| {
        b.iter(|| by_entropy(black_box(&ent), &lay, Some(&lengths), 3.9f32, 16, 512).unwrap())
    });
    c.bench_function("redistribute_1024x8192", |b| {
        b.iter(|| redistribute(black_box(&values), &seg.offsets, &outcome).unwrap())
    });
    for (name, mode) in [("last", Spread::Last), ("uniform", Spread::Uniform), ("broadcast", Spread::Broadcast)] {
        c.bench_function(&format!("spread_{name}_1024x8192_f32"), |b| {
            b.iter(|| spread_into(&mut out, black_box(&rewards), &seg, &lay, mode).unwrap())
        });
    }
    c.bench_function("segment_redistribute_spread_1024x8192_f32", |b| {
        b.iter(|| {
            let seg = by_delimiters(black_box(&tok), &lay, Some(&lengths), &DELIMITERS, 16, 512).unwrap();
            let values = &values[..seg.total().min(values.len())];
            let seg_rewards = redistribute(values, &seg.offsets, &outcome).unwrap();
            spread_into(&mut out, &seg_rewards, &seg, &lay, Spread::Uniform).unwrap();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
