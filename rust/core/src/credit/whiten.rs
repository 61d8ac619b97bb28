//! Masked moments and whitening over a whole token batch.
//!
//! Moments are accumulated per chunk in `f64` with a two-pass mean/M2 while the chunk is hot in
//! cache, then merged with Chan's formula: as accurate as numpy's two-pass variance, in one
//! sweep over memory.

use crate::error::{CoreError, Result};
use crate::layout::Layout;
use crate::mask::{check_mask, MaskElem};
use crate::parallel;
use crate::real::{lane_sum, lane_sum_zip, Real};
use crate::uninit::{self, write_all};
use std::mem::MaybeUninit;

/// Count, mean and sum of squared deviations of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Moments of `values[i]` where `mask[i]` is 1 (all values when `mask` is `None`).
    /// `flat_offset` only serves error messages.
    #[inline]
    pub fn of<F: Real, M: MaskElem>(values: &[F], mask: Option<&[M]>, flat_offset: usize) -> Result<Self> {
        if let Some(mask) = mask {
            check_mask("mask", mask, flat_offset)?;
        }
        Ok(Self::of_checked(values, mask))
    }

    /// [`Moments::of`] for a mask that is already validated (the scans check each row first).
    /// Sums are taken around the first selected value, so identical values give their value as
    /// the mean and exactly zero spread (a plain sum of them need not divide back exactly).
    #[inline(always)]
    pub fn of_checked<F: Real, M: MaskElem>(values: &[F], mask: Option<&[M]>) -> Self {
        let first = match mask {
            None => values.first(),
            Some(mask) => mask.iter().position(|m| m.on()).map(|i| &values[i]),
        };
        let Some(shift) = first.map(|v| v.f64()) else { return Moments::default() };
        let (n, sum) = match mask {
            None => (values.len(), lane_sum(values, |v| v.f64() - shift)),
            Some(mask) => {
                let n = mask.iter().map(|m| m.on() as usize).sum::<usize>();
                (n, lane_sum_zip(values, mask, |v, m| if m.on() { v.f64() - shift } else { 0.0 }))
            }
        };
        let mean = shift + sum / n as f64;
        let m2 = match mask {
            None => lane_sum(values, |v| (v.f64() - mean).powi(2)),
            Some(mask) => lane_sum_zip(values, mask, |v, m| if m.on() { (v.f64() - mean).powi(2) } else { 0.0 }),
        };
        Moments { n: n as f64, mean, m2 }
    }

    /// `n` copies of one value.
    pub fn constant(value: f64, n: usize) -> Self {
        if n == 0 {
            return Moments::default();
        }
        Moments { n: n as f64, mean: value, m2: if value.is_finite() { 0.0 } else { f64::NAN } }
    }

    /// Chan et al.'s pairwise merge.
    #[inline(always)]
    pub fn merge(self, other: Moments) -> Moments {
        if other.n == 0.0 {
            return self;
        }
        if self.n == 0.0 {
            return other;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        Moments {
            n,
            mean: self.mean + delta * other.n / n,
            m2: self.m2 + other.m2 + delta * delta * self.n * other.n / n,
        }
    }

    pub fn merge_all(parts: impl IntoIterator<Item = Moments>) -> Moments {
        parts.into_iter().fold(Moments::default(), Moments::merge)
    }
}

/// How the variance floor enters the reciprocal standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VarEps {
    /// `rsqrt(var + eps)` (verl, TRL).
    Add(f64),
    /// `rsqrt(max(var, eps))` (OpenRLHF).
    Floor(f64),
}

/// Every knob in which the reference stacks' whitening functions differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhitenSpec {
    /// Bessel-corrected variance (verl, TRL) or population variance (OpenRLHF).
    pub unbiased: bool,
    /// Added to the token count in every mean's denominator (verl's `masked_mean` adds 1e-8).
    pub count_eps: f64,
    pub var_eps: VarEps,
    /// Keep the zero mean (true) or add the mean back after scaling.
    pub shift_mean: bool,
    /// Zero the output where the mask is 0.
    pub remask: bool,
    /// Round the count-derived scalars (`count + count_eps`, `count / (count - 1)`) to float32,
    /// as torch does when the mask is an integer or bool tensor (its sums promote to the default
    /// float32 dtype). Only matters for bit-level agreement of float64 results with verl.
    pub f32_counts: bool,
}

impl WhitenSpec {
    /// `verl.utils.torch_functional.masked_whiten`.
    pub const VERL: WhitenSpec =
        WhitenSpec { unbiased: true, count_eps: 1e-8, var_eps: VarEps::Add(1e-8), shift_mean: true, remask: false, f32_counts: false };
    /// OpenRLHF's global advantage normalisation in `compute_advantages_and_returns`.
    pub const OPENRLHF: WhitenSpec =
        WhitenSpec { unbiased: false, count_eps: 0.0, var_eps: VarEps::Floor(1e-8), shift_mean: true, remask: false, f32_counts: false };

    /// The `(mean, 1/std)` pair these moments whiten with, following the reference formulas
    /// exactly, including the mean computed with `count + count_eps`.
    pub fn params(&self, m: Moments) -> Result<(f64, f64)> {
        if m.n == 0.0 {
            return Err(CoreError::value("mask", "selects no element: whitening needs at least one token"));
        }
        if self.unbiased && m.n == 1.0 {
            return Err(CoreError::value(
                "mask",
                "selects a single element: the unbiased variance of one token is undefined",
            ));
        }
        let round = |x: f64| if self.f32_counts { x as f32 as f64 } else { x };
        let denom = round(m.n + self.count_eps);
        // `mean * n / n` need not give `mean` back in floating point: skip it when the eps vanished
        let mean = if denom == m.n { m.mean } else { m.mean * m.n / denom };
        // Sum of squares around the (eps-shifted) mean the reference centres on.
        let m2 = m.m2 + m.n * (m.mean - mean).powi(2);
        let mut var = m2 / denom;
        if self.unbiased {
            var *= round(m.n / (m.n - 1.0));
        }
        let rstd = match self.var_eps {
            VarEps::Add(eps) => 1.0 / (var + eps).sqrt(),
            VarEps::Floor(eps) => 1.0 / var.max(eps).sqrt(),
        };
        Ok((mean, rstd))
    }
}

const CHUNK: usize = 1 << 14;

/// Moments of the masked values, computed chunk-parallel.
pub fn masked_moments<F: Real, M: MaskElem>(values: &[F], mask: Option<&[M]>) -> Result<Moments> {
    if let Some(m) = mask {
        if m.len() != values.len() {
            return Err(CoreError::shape("mask", format!("{} elements like values", values.len()), m.len().to_string()));
        }
    }
    let starts: Vec<usize> = (0..values.len()).step_by(CHUNK).collect();
    let parts = parallel::try_map(starts, values.len(), #[inline(always)] |s| {
        let e = (s + CHUNK).min(values.len());
        Moments::of(&values[s..e], mask.map(|m| &m[s..e]), s)
    })?;
    Ok(Moments::merge_all(parts))
}

#[inline(always)]
pub(crate) fn whiten_one<F: Real, M: MaskElem>(v: F, m: Option<M>, spec: &WhitenSpec, mean: F, rstd: F) -> F {
    let mut w = (v - mean) * rstd;
    if !spec.shift_mean {
        w = w + mean;
    }
    if spec.remask {
        if let Some(m) = m {
            // Multiplication, not selection, so that the result equals `x * mask` bit for bit.
            w = w * if m.on() { F::one() } else { F::zero() };
        }
    }
    w
}

/// The mask as the whitening pass needs it: only to re-mask, so not read at all otherwise.
fn remask_with<'m, M>(mask: Option<&'m [M]>, spec: &WhitenSpec) -> Option<&'m [M]> {
    if spec.remask {
        mask
    } else {
        None
    }
}

/// Applies `(v - mean) * rstd` (plus the mean back, and the re-mask, as the spec says) in place.
/// The mask must already be validated.
pub fn apply_in_place<F: Real, M: MaskElem>(values: &mut [F], mask: Option<&[M]>, spec: &WhitenSpec, mean: f64, rstd: f64) {
    let (mean, rstd) = (F::of(mean), F::of(rstd));
    let mask = remask_with(mask, spec);
    let n = values.len();
    let chunks: Vec<(usize, &mut [F])> = values.chunks_mut(CHUNK).enumerate().map(|(i, c)| (i * CHUNK, c)).collect();
    let _ = parallel::try_for_each(chunks, n, #[inline(always)] |(start, chunk)| {
        match mask {
            // zipped slices, not indexing: no bounds check per element, so the loop vectorises
            Some(m) => {
                let m = &m[start..start + chunk.len()];
                chunk.iter_mut().zip(m).for_each(|(v, &k)| *v = whiten_one(*v, Some(k), spec, mean, rstd))
            }
            None => chunk.iter_mut().for_each(|v| *v = whiten_one::<F, M>(*v, None, spec, mean, rstd)),
        }
        Ok(())
    });
}

/// [`apply_in_place`] into a new array, leaving `values` as they are. The mask must already be
/// validated.
pub fn apply<F: Real, M: MaskElem>(values: &[F], mask: Option<&[M]>, spec: &WhitenSpec, mean: f64, rstd: f64) -> Vec<F> {
    let (mean, rstd) = (F::of(mean), F::of(rstd));
    let mask = remask_with(mask, spec);
    let n = values.len();
    let mut out = uninit::vec::<F>(n);
    let chunks: Vec<(usize, &mut [MaybeUninit<F>])> = out.chunks_mut(CHUNK).enumerate().map(|(i, c)| (i * CHUNK, c)).collect();
    let _ = parallel::try_for_each(chunks, n, #[inline(always)] |(start, chunk)| {
        let v = &values[start..start + chunk.len()];
        match mask {
            Some(m) => {
                let m = &m[start..start + chunk.len()];
                write_all(chunk, v.iter().zip(m).map(|(&x, &k)| whiten_one(x, Some(k), spec, mean, rstd)))
            }
            None => write_all(chunk, v.iter().map(|&x| whiten_one::<F, M>(x, None, spec, mean, rstd))),
        };
        Ok(())
    });
    // SAFETY: the chunks cover `out` and each was written in full (the closure cannot fail).
    unsafe { uninit::assume_init(out) }
}

/// [`apply`] with the mask given as each row's valid length (its mask ones, then zeros), so that
/// re-masking reads no mask.
pub fn apply_prefix<F: Real>(values: &[F], layout: &Layout, lens: &[usize], spec: &WhitenSpec, mean: f64, rstd: f64) -> Vec<F> {
    let (mean, rstd) = (F::of(mean), F::of(rstd));
    let n = values.len();
    let mut out = uninit::vec::<F>(n);
    let rows: Vec<_> = layout.split_mut(&mut out).into_iter().zip(lens).enumerate().collect();
    let _ = parallel::try_for_each(rows, n, #[inline(always)] |(row, (out, &len))| {
        let v = &values[layout.range(row)];
        let (on, off) = out.split_at_mut(len);
        write_all(on, v[..len].iter().map(|&x| whiten_one(x, Some(true), spec, mean, rstd)));
        write_all(off, v[len..].iter().map(|&x| whiten_one(x, Some(false), spec, mean, rstd)));
        Ok(())
    });
    // SAFETY: the rows cover `out` and each was written in full (the closure cannot fail).
    unsafe { uninit::assume_init(out) }
}

/// Whitens `values` over the tokens the mask selects, into a new array.
pub fn masked_whiten<F: Real, M: MaskElem>(values: &[F], mask: Option<&[M]>, spec: &WhitenSpec) -> Result<Vec<F>> {
    if values.is_empty() {
        return Err(CoreError::Empty { arg: "values" });
    }
    let moments = masked_moments(values, mask)?;
    let (mean, rstd) = spec.params(moments)?;
    // the mask was validated by masked_moments
    Ok(apply(values, mask, spec, mean, rstd))
}
