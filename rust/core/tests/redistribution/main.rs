//! RREDCoT in the core: segmentation against naive re-implementations (`segment`), values,
//! redistribution and spreading against an enumerable toy language model with exact state
//! values and analytic extreme cases (`values`).

mod segment;
mod values;

use rewardlab_core::layout::Layout;
use rewardlab_core::redistribution::redistribute::{
    log_value_is, redistribute, sequence_logprob, spread_into, spread_to_tokens, value_is, Spread,
};
use rewardlab_core::CoreError;
use rewardlab_core::redistribution::segment::{by_delimiters, by_entropy, from_boundaries, hybrid, valid_lengths, Segments};

/// xorshift64*: a few bits of randomness without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Batch {
    tokens: Vec<i64>,
    entropy: Vec<f64>,
    /// Ragged offsets, used when `ragged`.
    offsets: Vec<i64>,
    lengths: Vec<i64>,
    rows: usize,
    cols: usize,
}

/// Random rows (lengths 0, 1 and up to 40 included), tokens from a small alphabet so that
/// delimiters are frequent and often first or last, entropy in [0, 2), NaN in the padding.
fn random_batch(rng: &mut Rng, rows: usize, cols: usize) -> Batch {
    let mut lengths: Vec<i64> = (0..rows).map(|_| rng.below(cols as u64 + 1) as i64).collect();
    lengths[0] = 0;
    if rows > 1 {
        lengths[1] = 1;
    }
    let tokens: Vec<i64> = (0..rows * cols).map(|_| rng.below(6) as i64).collect();
    let mut entropy: Vec<f64> = (0..rows * cols).map(|_| 2.0 * rng.unit()).collect();
    for b in 0..rows {
        for t in lengths[b] as usize..cols {
            entropy[b * cols + t] = f64::NAN;
        }
    }
    let mut offsets = vec![0i64];
    for &l in &lengths {
        offsets.push(offsets.last().unwrap() + l);
    }
    Batch { tokens, entropy, offsets, lengths, rows, cols }
}

impl Batch {
    /// The valid tokens and entropies of each row, concatenated (the ragged form).
    fn ragged(&self) -> (Vec<i64>, Vec<f64>) {
        let (mut tok, mut ent) = (vec![], vec![]);
        for b in 0..self.rows {
            let r = b * self.cols..b * self.cols + self.lengths[b] as usize;
            tok.extend_from_slice(&self.tokens[r.clone()]);
            ent.extend_from_slice(&self.entropy[r]);
        }
        (tok, ent)
    }

    fn naive(&self, delims: Option<&[i64]>, threshold: Option<f64>, min_len: usize, max_len: usize) -> Segments {
        pack(
            (0..self.rows)
                .map(|b| {
                    let len = self.lengths[b] as usize;
                    let tok = &self.tokens[b * self.cols..b * self.cols + len];
                    let ent = &self.entropy[b * self.cols..b * self.cols + len];
                    let cut: Vec<bool> = (0..len)
                        .map(|t| {
                            t > 0
                                && (delims.is_some_and(|d| d.contains(&tok[t - 1]))
                                    || threshold.is_some_and(|h| ent[t] > h))
                        })
                        .collect();
                    naive_apply_rules(&cut, len, min_len, max_len)
                })
                .collect(),
        )
    }
}

fn batch_clone(b: &Batch) -> Batch {
    Batch {
        tokens: b.tokens.clone(),
        entropy: b.entropy.clone(),
        offsets: b.offsets.clone(),
        lengths: b.lengths.clone(),
        rows: b.rows,
        cols: b.cols,
    }
}

/// Cuts (positions `t` where a new segment starts) to (start, end) pairs, then the length rules
/// on a list: merge short segments forward one at a time, a short last one backward, then split.
fn naive_apply_rules(cut_before: &[bool], len: usize, min_len: usize, max_len: usize) -> Vec<i64> {
    if len == 0 {
        return vec![];
    }
    let mut segs: Vec<(usize, usize)> = vec![];
    let mut start = 0;
    for (t, &cut) in cut_before.iter().enumerate().skip(1) {
        if cut {
            segs.push((start, t));
            start = t;
        }
    }
    segs.push((start, len));
    let mut i = 0;
    while i + 1 < segs.len() {
        if segs[i].1 - segs[i].0 < min_len {
            segs[i + 1].0 = segs[i].0;
            segs.remove(i);
        } else {
            i += 1;
        }
    }
    let n = segs.len();
    if n >= 2 && segs[n - 1].1 - segs[n - 1].0 < min_len {
        segs[n - 2].1 = segs[n - 1].1;
        segs.pop();
    }
    let mut ends = vec![];
    for (s, e) in segs {
        if max_len == 0 {
            ends.push(e as i64);
            continue;
        }
        let mut chunk_start = s;
        while chunk_start < e {
            let chunk_end = (chunk_start + max_len).min(e);
            ends.push(chunk_end as i64);
            chunk_start = chunk_end;
        }
    }
    ends
}

fn pack(rows: Vec<Vec<i64>>) -> Segments {
    let mut seg = Segments { ends: vec![], offsets: vec![0] };
    for r in rows {
        seg.ends.extend(r);
        seg.offsets.push(seg.ends.len() as i64);
    }
    seg
}
