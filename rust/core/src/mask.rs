//! Response masks arrive as bool, integer or float arrays (verl uses int64, TRL bool, tests float).
//! Kernels read them in place through [`MaskElem`], which also rejects anything but 0 and 1,
//! so no converted copy of the mask is ever made.

use crate::error::{CoreError, Result};

pub trait MaskElem: Copy + Send + Sync + 'static {
    /// `Some(true)` for 1, `Some(false)` for 0, `None` for any other value.
    fn flag(self) -> Option<bool>;
    /// Branch-free "is 0 or 1", so that whole-row validation vectorises.
    fn is_valid(self) -> bool;
    /// Branch-free "is nonzero"; only meaningful after validation.
    fn on(self) -> bool;
    fn describe(self) -> String;
}

impl MaskElem for bool {
    #[inline(always)]
    fn flag(self) -> Option<bool> {
        Some(self)
    }
    #[inline(always)]
    fn is_valid(self) -> bool {
        true
    }
    #[inline(always)]
    fn on(self) -> bool {
        self
    }
    fn describe(self) -> String {
        self.to_string()
    }
}

macro_rules! int_mask {
    ($($t:ty),*) => {$(
        impl MaskElem for $t {
            #[inline(always)]
            fn flag(self) -> Option<bool> {
                match self { 0 => Some(false), 1 => Some(true), _ => None }
            }
            #[inline(always)]
            fn is_valid(self) -> bool { (self as u64) <= 1 }
            #[inline(always)]
            fn on(self) -> bool { self != 0 }
            fn describe(self) -> String { self.to_string() }
        }
    )*};
}
int_mask!(u8, i8, i32, i64);

macro_rules! float_mask {
    ($($t:ty),*) => {$(
        impl MaskElem for $t {
            #[inline(always)]
            fn flag(self) -> Option<bool> {
                if self == 0.0 { Some(false) } else if self == 1.0 { Some(true) } else { None }
            }
            #[inline(always)]
            fn is_valid(self) -> bool { (self == 0.0) | (self == 1.0) }
            #[inline(always)]
            fn on(self) -> bool { self != 0.0 }
            fn describe(self) -> String { self.to_string() }
        }
    )*};
}
float_mask!(f32, f64);

/// The error for a mask element that is neither 0 nor 1, at flat position `index`.
pub fn bad_mask<M: MaskElem>(arg: &'static str, index: usize, value: M) -> CoreError {
    CoreError::value(arg, format!("must hold only 0 and 1, found {} at flat index {index}", value.describe()))
}

/// Checks a whole slice of mask values in one vectorisable pass; on failure, names the first bad one.
/// Inlined, so that the pass compiles with the caller's vector width (see `simd`).
#[inline(always)]
pub fn check_mask<M: MaskElem>(arg: &'static str, mask: &[M], flat_offset: usize) -> Result<()> {
    if mask.iter().fold(true, |ok, &m| ok & m.is_valid()) {
        return Ok(());
    }
    first_bad(arg, mask, flat_offset)
}

#[cold]
fn first_bad<M: MaskElem>(arg: &'static str, mask: &[M], flat_offset: usize) -> Result<()> {
    let i = mask.iter().position(|m| !m.is_valid()).unwrap_or(0);
    Err(bad_mask(arg, flat_offset + i, mask[i]))
}

/// What one pass over a slice of mask values tells: whether every value is 0 or 1, how many are
/// 1, and whether the ones come first (a right-padded response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub valid: bool,
    pub count: usize,
    pub right_padded: bool,
}

/// Validation, count and shape in a single read of the mask (for verl's int64 masks the largest
/// array a kernel touches). Inlined, so that it compiles with the caller's vector width.
#[inline(always)]
pub fn summary<M: MaskElem>(mask: &[M]) -> Summary {
    let Some(first) = mask.first() else { return Summary { valid: true, count: 0, right_padded: true } };
    let (mut valid, mut count, mut rising) = (first.is_valid(), first.on() as usize, false);
    for (a, b) in mask.iter().zip(&mask[1..]) {
        valid &= b.is_valid();
        count += b.on() as usize;
        rising |= !a.on() & b.on();
    }
    Summary { valid, count, right_padded: !rising }
}

/// The number of ones in a mask slice, after checking in the same pass that it holds only 0 and 1.
#[inline(always)]
pub fn count_checked<M: MaskElem>(arg: &'static str, mask: &[M], flat_offset: usize) -> Result<usize> {
    let s = summary(mask);
    if !s.valid {
        first_bad(arg, mask, flat_offset)?;
    }
    Ok(s.count)
}
