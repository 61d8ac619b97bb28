//! Aggregation of an ensemble's scores: K members score the same N items, and each item gets one
//! number (mean, min, max, median, a quantile or an uncertainty-penalised mean) plus the members'
//! spread (population std), its uncertainty.
//!
//! Scores are row-major `[K, N]`, one row per member, so the K scores of an item lie N apart.
//! The kernel works on column blocks of items, in parallel. Within a block, the moments (and min
//! or max) come from one sweep over the K rows with the sums of a few items held in registers,
//! vectorised across items. Order statistics of up to 64 members run a sorting network the same
//! way, one compare-exchange of two rows at a time; more members are selected item by item.

use crate::error::{check_finite, CoreError, Result};
use crate::parallel;
use crate::real::Real;
use std::cmp::Ordering;

/// How the K member scores of an item become one score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Mean,
    Min,
    Max,
    /// The middle score (halfway between the two middle ones for even K), as `np.median`.
    Median,
    /// `np.quantile(.., q, method="linear")`: interpolates the sorted scores at `q * (K - 1)`.
    Quantile(f64),
    /// Uncertainty-weighted optimisation with a std penalty: `mean - lam * std`.
    MeanMinusStd(f64),
    /// Coste et al.'s uncertainty-weighted optimisation: `mean - lam * var`.
    MeanMinusVar(f64),
}

/// The names [`Aggregate::parse`] accepts, in the order error messages list them.
pub const METHOD_NAMES: [&str; 7] = ["mean", "min", "max", "median", "quantile", "uwo", "uwo_var"];

impl Aggregate {
    /// The method called `name`, taking `lam` or `q` where it has a parameter; validated.
    pub fn parse(name: &str, lam: f64, q: f64) -> Result<Self> {
        let method = match name {
            "mean" => Aggregate::Mean,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            "median" => Aggregate::Median,
            "quantile" => Aggregate::Quantile(q),
            "uwo" => Aggregate::MeanMinusStd(lam),
            "uwo_var" => Aggregate::MeanMinusVar(lam),
            other => {
                let names = METHOD_NAMES.map(|n| format!("'{n}'")).join(", ");
                return Err(CoreError::value("method", format!("unknown method {other:?}; expected one of {names}")));
            }
        };
        method.validate()?;
        Ok(method)
    }

    pub fn validate(self) -> Result<()> {
        match self {
            Aggregate::Quantile(q) => {
                check_finite("q", q)?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(CoreError::value("q", format!("must lie in [0, 1], got {q}")));
                }
                Ok(())
            }
            Aggregate::MeanMinusStd(lam) | Aggregate::MeanMinusVar(lam) => check_finite("lam", lam),
            Aggregate::Mean | Aggregate::Min | Aggregate::Max | Aggregate::Median => Ok(()),
        }
    }

    /// The quantile an order-statistic method reads, `None` for the others.
    fn quantile(self) -> Option<f64> {
        match self {
            Aggregate::Median => Some(0.5),
            Aggregate::Quantile(q) => Some(q),
            _ => None,
        }
    }
}

/// The most items a block holds; its f64 accumulators live on the stack.
const MAX_BLOCK: usize = 2048;
/// Bytes of scores (the K row segments of a block) that should stay in cache while it is swept.
const BLOCK_BYTES: usize = 256 * 1024;
/// The most members an order statistic sorts with a network; more are selected item by item.
const NETWORK_MAX_MEMBERS: usize = 64;
/// Items a network sorts at once: K x LANES scores in an L1-resident stack buffer.
const LANES: usize = 64;

/// Aggregates `scores` (row-major `[members, items]`) into `out[items]` by `method`, and writes
/// every item's population std (ddof 0) across members into `spread[items]`.
///
/// Errors name the argument: a length mismatch (`scores`, `out`, `spread`), no member or no item
/// (`scores`), a bad `q` or `lam`, and a non-finite score (`scores`, with the member and item of
/// the first one in row-major order).
pub fn aggregate<R: Real>(
    scores: &[R],
    members: usize,
    items: usize,
    method: Aggregate,
    out: &mut [R],
    spread: &mut [R],
) -> Result<()> {
    method.validate()?;
    let expected = members.saturating_mul(items);
    if scores.len() != expected {
        return Err(CoreError::shape("scores", format!("{members} x {items} = {expected} scores"), scores.len().to_string()));
    }
    if members == 0 || items == 0 {
        return Err(CoreError::Empty { arg: "scores" });
    }
    for (arg, len) in [("out", out.len()), ("spread", spread.len())] {
        if len != items {
            return Err(CoreError::shape(arg, format!("{items} items"), len.to_string()));
        }
    }
    let order = method.quantile().map(|q| OrderStatistic::new(members, q));
    let width = block_width(members, std::mem::size_of::<R>());
    let blocks: Vec<(usize, &mut [R], &mut [R])> = out
        .chunks_mut(width)
        .zip(spread.chunks_mut(width))
        .enumerate()
        .map(|(b, (o, s))| (b * width, o, s))
        .collect();
    let bad = parallel::try_map(blocks, scores.len(), #[inline(always)] |(start, out, spread)| {
        let block = Block { scores, members, items, start, width: out.len() };
        Ok(aggregate_block(&block, method, order.as_ref(), out, spread))
    })?;
    // Blocks report their first bad score; the earliest in row-major order is (member, item)-least.
    match bad.into_iter().flatten().min() {
        Some((member, item)) => Err(CoreError::value(
            "scores",
            format!("member {member}, item {item} is {:?}; every score must be finite", scores[member * items + item]),
        )),
        None => Ok(()),
    }
}

/// Items per block: as many as keep `BLOCK_BYTES` of scores hot, a multiple of `LANES`, at most `MAX_BLOCK`.
fn block_width(members: usize, elem_bytes: usize) -> usize {
    (BLOCK_BYTES / (members * elem_bytes)).clamp(LANES, MAX_BLOCK) / LANES * LANES
}

/// Items `start..start + width` of every member.
struct Block<'a, R> {
    scores: &'a [R],
    members: usize,
    items: usize,
    start: usize,
    width: usize,
}

impl<'a, R: Real> Block<'a, R> {
    #[inline(always)]
    fn row(&self, member: usize) -> &'a [R] {
        &self.scores[member * self.items + self.start..][..self.width]
    }

    #[inline(always)]
    fn rows(&self) -> impl Iterator<Item = &'a [R]> + '_ {
        (0..self.members).map(move |k| self.row(k))
    }

    /// `(member, item)` of the block's first non-finite score in row-major order.
    fn first_non_finite(&self) -> Option<(usize, usize)> {
        self.rows()
            .enumerate()
            .find_map(|(k, row)| row.iter().position(|x| !x.is_finite()).map(|j| (k, self.start + j)))
    }
}

/// Aggregates one block into `out` and `spread` (the block's slices of them). Returns the block's
/// first non-finite score as `(member, item)`, leaving the outputs unspecified, or `None`.
#[inline(always)]
fn aggregate_block<R: Real>(
    block: &Block<'_, R>,
    method: Aggregate,
    order: Option<&OrderStatistic>,
    out: &mut [R],
    spread: &mut [R],
) -> Option<(usize, usize)> {
    let mut mean_buf = [0.0f64; MAX_BLOCK];
    let mut var_buf = [0.0f64; MAX_BLOCK];
    let (mean, var) = (&mut mean_buf[..block.width], &mut var_buf[..block.width]);
    // min and max come out of the same sweep as the moments, straight into `out`.
    match method {
        Aggregate::Min => block_stats::<R, MIN>(block, mean, var, out),
        Aggregate::Max => block_stats::<R, MAX>(block, mean, var, out),
        _ => block_stats::<R, NO_EXTREME>(block, mean, var, out),
    }
    // Any NaN or inf score makes its item's mean non-finite (as, harmlessly, a sum that
    // overflowed does): one branch per block instead of one per score.
    if !mean.iter().fold(true, |ok, m| ok & m.is_finite()) {
        if let Some(bad) = block.first_non_finite() {
            return Some(bad);
        }
    }
    for (s, &v) in spread.iter_mut().zip(var.iter()) {
        *s = R::of(v).sqrt();
    }
    match method {
        Aggregate::Mean => write(out, mean.iter().copied()),
        Aggregate::MeanMinusStd(lam) => write(out, mean.iter().zip(spread.iter()).map(|(&m, &s)| m - lam * s.f64())),
        Aggregate::MeanMinusVar(lam) => write(out, mean.iter().zip(var.iter()).map(|(&m, &v)| m - lam * v)),
        Aggregate::Min | Aggregate::Max => {}
        Aggregate::Median | Aggregate::Quantile(_) => order.expect("planned for order statistics").compute(block, out),
    }
    None
}

/// Which extreme [`tile_stats`] tracks besides the moments (each costs registers the moments need).
const NO_EXTREME: u8 = 0;
const MIN: u8 = 1;
const MAX: u8 = 2;

/// Items whose accumulators stay in registers while the K rows stream past.
const TILE: usize = 8;

/// [`tile_stats`] over the block: register tiles of TILE items, then the tail one item at a time.
#[inline(always)]
fn block_stats<R: Real, const EXTREME: u8>(block: &Block<'_, R>, mean: &mut [f64], var: &mut [f64], extreme: &mut [R]) {
    let tiled = block.width / TILE * TILE;
    for t0 in (0..tiled).step_by(TILE) {
        let stats = tile_stats::<R, TILE, EXTREME>(block, t0);
        stats.store(t0, mean, var, extreme);
    }
    for t0 in tiled..block.width {
        tile_stats::<R, 1, EXTREME>(block, t0).store(t0, mean, var, extreme);
    }
}

/// Per-item statistics of T consecutive items.
struct TileStats<R, const T: usize> {
    mean: [f64; T],
    var: [f64; T],
    extreme: [R; T],
}

impl<R: Real, const T: usize> TileStats<R, T> {
    #[inline(always)]
    fn store(&self, t0: usize, mean: &mut [f64], var: &mut [f64], extreme: &mut [R]) {
        mean[t0..t0 + T].copy_from_slice(&self.mean);
        var[t0..t0 + T].copy_from_slice(&self.var);
        extreme[t0..t0 + T].copy_from_slice(&self.extreme);
    }
}

/// Mean, population variance and the `EXTREME` (or the first score) of items `t0..t0 + T` of the
/// block, from one sweep over the rows. The moments are in f64, from `d = x - x0`, `x0` being the
/// item's first score: `mean = x0 + Σd / K`, `var = Σd² / K - (Σd / K)²`. Shifting by a member
/// keeps this stable: `(x0 - mean)² <= K var`, so the subtraction loses at most a factor K + 1 of
/// relative precision, and equal scores give exactly their value and a variance of exactly 0.
/// Every score is read once and the sums stay in registers (a two-pass variance reads twice).
#[inline(always)]
fn tile_stats<R: Real, const T: usize, const EXTREME: u8>(block: &Block<'_, R>, t0: usize) -> TileStats<R, T> {
    let first: [R; T] = block.row(0)[t0..t0 + T].try_into().expect("T scores");
    let x0: [f64; T] = std::array::from_fn(|i| first[i].f64());
    let (mut sum, mut sum_sq, mut extreme) = ([0.0f64; T], [0.0f64; T], first);
    for row in block.rows().skip(1) {
        let row = &row[t0..t0 + T];
        for i in 0..T {
            let d = row[i].f64() - x0[i];
            sum[i] += d;
            sum_sq[i] += d * d;
            // Selects, not f32::min/max: the scores are finite, so no NaN needs handling.
            if EXTREME == MIN {
                extreme[i] = if row[i] < extreme[i] { row[i] } else { extreme[i] };
            } else if EXTREME == MAX {
                extreme[i] = if row[i] > extreme[i] { row[i] } else { extreme[i] };
            }
        }
    }
    let inv_members = 1.0 / block.members as f64;
    let shift: [f64; T] = std::array::from_fn(|i| sum[i] * inv_members);
    TileStats {
        mean: std::array::from_fn(|i| x0[i] + shift[i]),
        // Squares past ~1e154 overflow to inf − inf = NaN, which `max(0.0)` would turn into a
        // variance of 0: an overflowed spread is infinite (numpy's answer), never zero.
        var: std::array::from_fn(|i| {
            let v = sum_sq[i] * inv_members - shift[i] * shift[i];
            if v.is_nan() { f64::INFINITY } else { v.max(0.0) }
        }),
        extreme,
    }
}

#[inline(always)]
fn write<R: Real>(out: &mut [R], values: impl Iterator<Item = f64>) {
    for (o, v) in out.iter_mut().zip(values) {
        *o = R::of(v);
    }
}

/// numpy's "linear" quantile of K sorted scores: `lerp(sorted[lo], sorted[hi], t)` at the virtual
/// index `q (K - 1) = lo + t`, with `hi = lo + 1` clipped to the last score.
struct OrderStatistic {
    lo: usize,
    hi: usize,
    t: f64,
    /// Compare-exchanges `(i, j)`, `i < j`, after which ranks `lo` and `hi` hold their order
    /// statistics; `None` above `NETWORK_MAX_MEMBERS`.
    network: Option<Vec<(usize, usize)>>,
}

impl OrderStatistic {
    fn new(members: usize, q: f64) -> Self {
        let position = q * (members - 1) as f64;
        let lo = (position.floor() as usize).min(members - 1);
        let hi = (lo + 1).min(members - 1);
        let t = position - lo as f64;
        let network = (members <= NETWORK_MAX_MEMBERS).then(|| prune(&sorting_network(members), members, &[lo, hi]));
        OrderStatistic { lo, hi, t, network }
    }

    #[inline(always)]
    fn compute<R: Real>(&self, block: &Block<'_, R>, out: &mut [R]) {
        match &self.network {
            Some(network) => self.by_network(network, block, out),
            None => self.by_selection(block, out),
        }
    }

    /// Runs the network on `LANES` items at a time: each compare-exchange is an element-wise
    /// min/max of two rows, vectorised across items, and nothing branches on the data.
    #[inline(always)]
    fn by_network<R: Real>(&self, network: &[(usize, usize)], block: &Block<'_, R>, out: &mut [R]) {
        let mut lanes = [R::zero(); NETWORK_MAX_MEMBERS * LANES];
        for (chunk, out) in out.chunks_mut(LANES).enumerate() {
            let (c0, w) = (chunk * LANES, out.len());
            for (k, row) in block.rows().enumerate() {
                lanes[k * LANES..][..w].copy_from_slice(&row[c0..c0 + w]);
            }
            // All LANES columns are sorted, stale ones included: a fixed trip count vectorises fully.
            for &(i, j) in network {
                let (below, above) = lanes.split_at_mut(j * LANES);
                let (a, b) = (&mut below[i * LANES..][..LANES], &mut above[..LANES]);
                for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                    let (small, large) = if *y < *x { (*y, *x) } else { (*x, *y) };
                    *x = small;
                    *y = large;
                }
            }
            let (a, b) = (&lanes[self.lo * LANES..][..w], &lanes[self.hi * LANES..][..w]);
            write(out, a.iter().zip(b).map(|(&a, &b)| lerp(a.f64(), b.f64(), self.t)));
        }
    }

    /// Gathers each item's scores into one buffer per block and selects ranks `lo` and `hi` in O(K).
    fn by_selection<R: Real>(&self, block: &Block<'_, R>, out: &mut [R]) {
        let mut buf = vec![R::zero(); block.members];
        let by_value = |a: &R, b: &R| a.partial_cmp(b).unwrap_or(Ordering::Equal);
        for (j, o) in out.iter_mut().enumerate() {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = block.scores[k * block.items + block.start + j];
            }
            let (_, &mut a, above) = buf.select_nth_unstable_by(self.lo, by_value);
            let b = if self.hi == self.lo { a } else { above.iter().copied().fold(R::infinity(), R::min) };
            *o = R::of(lerp(a.f64(), b.f64(), self.t));
        }
    }
}

/// Batcher's odd-even merge sort on `n` wires: compare-exchanges `(i, j)` with `i < j`, in order.
/// The power-of-two network with the comparators past the last wire dropped, which still sorts
/// (the missing wires act as +inf and never move).
fn sorting_network(n: usize) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        pairs.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    pairs
}

/// The comparators of a network on `n` wires that the final values of wires `keep` depend on, in order.
fn prune(network: &[(usize, usize)], n: usize, keep: &[usize]) -> Vec<(usize, usize)> {
    let mut needed = vec![false; n];
    for &w in keep {
        needed[w] = true;
    }
    let mut kept: Vec<(usize, usize)> = network
        .iter()
        .rev()
        .filter(|&&(i, j)| {
            let used = needed[i] || needed[j];
            if used {
                needed[i] = true;
                needed[j] = true;
            }
            used
        })
        .copied()
        .collect();
    kept.reverse();
    kept
}

/// numpy's `_lerp`: from the nearer end, so that `t = 0` and `t = 1` return `a` and `b` exactly.
#[inline(always)]
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests;
