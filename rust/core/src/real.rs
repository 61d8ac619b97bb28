//! Floating-point element types the kernels are generic over (`f32`, `f64`).

use num_traits::Float;
use std::fmt::Debug;

pub trait Real: Float + Send + Sync + Debug + 'static {
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;

    /// `exp` in a form the compiler can vectorise; within a few ulp of `exp`. The default is
    /// the library `exp` (f64 keeps it: its tolerance is tighter than any cheap polynomial's).
    #[inline(always)]
    fn exp_vec(self) -> Self {
        self.exp()
    }

    /// [`Real::exp_vec`] for arguments known to lie in `[-80, 80]` or to be NaN.
    #[inline(always)]
    fn exp_vec_in_range(self) -> Self {
        self.exp_vec()
    }

    /// `torch.clamp` semantics: NaN stays NaN (`f32::max` would replace it by the bound).
    #[inline(always)]
    fn clamp_nan(self, lo: Self, hi: Self) -> Self {
        // two compare-selects; a comparison with NaN is false, so NaN passes through both
        let x = if self < lo { lo } else { self };
        if x > hi {
            hi
        } else {
            x
        }
    }
}

impl Real for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_vec(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn exp_vec_in_range(self) -> Self {
        exp_f32_in_range(self)
    }
}

/// Branch-free `expf` (Cephes' range reduction and polynomial, about 1 ulp on the normal
/// range): `exp(x) = 2^n · p(r)` with `n = round(x / ln 2)` and `|r| ≤ ln 2 / 2`. The scalar
/// library call is what kept the KL kernels behind torch's vectorised `exp`. Overflow gives
/// `+inf`, results below the normal range flush to 0, NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const HI: f32 = 88.722_83; // ln(f32::MAX)
    const LO: f32 = -87.336_55; // ln(f32::MIN_POSITIVE)
    let (p, n) = exp_parts(x.clamp(LO, HI));
    // 2^n in two halves: after the clamp n lies in -126..=128, and 2^128 or a subnormal 2^n
    // cannot be built in one step
    let (a, b) = (n >> 1, n - (n >> 1));
    let y = p * pow2(a) * pow2(b);
    let y = if x > HI { f32::INFINITY } else { y };
    let y = if x < LO { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// [`exp_f32`] for `x` known to lie in `[-80, 80]` or to be NaN (the KL kernels clamp first):
/// no range clamps or selects, and `2^n` in one step. The same bits as `exp_f32` there; NaN
/// propagates through the arithmetic.
#[inline(always)]
pub fn exp_f32_in_range(x: f32) -> f32 {
    let (p, n) = exp_parts(x);
    p * pow2(n)
}

/// `p(r)` and `n` of `exp(x) = 2^n · p(r)`, for `x` within the normal range.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn exp_parts(x: f32) -> (f32, i32) {
    // round to nearest by the 1.5·2^23 trick, not f32::round: that is a call into compiler
    // builtins on baseline x86-64 and kept the loop scalar
    const SHIFT: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = (x - n * 0.693_359_4) + n * 2.121_944_4e-4; // ln 2 split in two for an exact r
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r
        + 5.000_000_1e-1;
    let p = p * r * r + r + 1.0;
    // The integer n from the shifted float's low mantissa bits: `n as i32` saturates, which x86
    // can only do one lane at a time.
    (p, shifted.to_bits() as i32 - SHIFT.to_bits() as i32)
}

/// `2^n` for `n` in `-126..=127`, from exponent bits.
#[inline(always)]
fn pow2(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

impl Real for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

/// Index of the first NaN or ±inf in `xs`. The usual all-finite case is a branch-free fold,
/// which vectorises (an early-exit search does not); the position is searched only when there is
/// one.
#[inline(always)]
pub fn first_non_finite<F: Real>(xs: &[F]) -> Option<usize> {
    if xs.iter().fold(true, |ok, x| ok & x.is_finite()) {
        None
    } else {
        xs.iter().position(|x| !x.is_finite())
    }
}

/// Independent `f64` accumulators in [`lane_sum`]: two 512-bit vectors of them.
const LANES: usize = 16;

/// `Σ f(x)` in `f64` over sixteen independent accumulators. One `f64` chain is bound by the add
/// latency (about 4 cycles per element) and cannot be vectorised, because reordering changes
/// the rounding; sixteen chains let the compiler use full-width vector adds, two of them
/// independent, and keep every sum memory-bound. The result differs from a left-to-right sum
/// only by rounding.
#[inline(always)]
pub fn lane_sum<T: Copy>(xs: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] += f(c[j]);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    fold_lanes(acc) + tail
}

/// [`lane_sum`] over two slices of the same length, element by element.
#[inline(always)]
pub fn lane_sum_zip<A: Copy, B: Copy>(a: &[A], b: &[B], f: impl Fn(A, B) -> f64) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(LANES), b[..n].chunks_exact(LANES));
    let tail: f64 = a.remainder().iter().zip(b.remainder()).map(|(&x, &y)| f(x, y)).sum();
    let mut acc = [0.0f64; LANES];
    // chunks of exactly LANES, zipped: no bounds checks, so the body vectorises
    for (ca, cb) in a.zip(b) {
        for j in 0..LANES {
            acc[j] += f(ca[j], cb[j]);
        }
    }
    fold_lanes(acc) + tail
}

/// The lanes summed in order. A pairwise fold (lane `j` with lane `j + w/2`) made the compiler
/// split the accumulators into 128-bit pairs inside the loop too; summed in order, the loop keeps
/// two full 512-bit vectors.
#[inline(always)]
fn fold_lanes(acc: [f64; LANES]) -> f64 {
    acc.into_iter().fold(0.0, |s, a| s + a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_two_ulp_of_the_library_exp() {
        let mut worst = 0.0f64;
        let mut x = -87.3f32;
        while x < 88.7 {
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            let ulp = (want as f32).abs() * f32::EPSILON;
            worst = worst.max((got - want).abs() / ulp as f64);
            x += 0.000_731;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-88.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_in_range_equals_exp_f32_on_its_range() {
        let mut x = -80.0f32;
        while x <= 80.0 {
            assert_eq!(exp_f32_in_range(x).to_bits(), exp_f32(x).to_bits(), "x = {x}");
            x += 0.000_917;
        }
        assert!(exp_f32_in_range(f32::NAN).is_nan());
        assert!(exp_f32_in_range(-f32::NAN).is_nan());
    }

    #[test]
    fn lane_sums_equal_plain_sums_on_exact_values() {
        // integers and halves add exactly in f64, so any order gives the same result
        for n in [0usize, 1, 7, 8, 9, 63, 64, 1000] {
            let xs: Vec<f32> = (0..n).map(|i| (i as f32) * 0.5 - 3.0).collect();
            let ms: Vec<i64> = (0..n).map(|i| (i % 3 != 0) as i64).collect();
            let plain: f64 = xs.iter().map(|&x| x as f64).sum();
            assert_eq!(lane_sum(&xs, |x| x.f64()), plain);
            let masked: f64 = xs.iter().zip(&ms).filter(|(_, &m)| m != 0).map(|(&x, _)| x as f64).sum();
            assert_eq!(lane_sum_zip(&xs, &ms, |x, m| if m != 0 { x.f64() } else { 0.0 }), masked);
        }
    }
}
