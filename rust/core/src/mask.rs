//! Response masks arrive as bool, integer or float arrays (verl uses int64, TRL bool, tests float).
//! Kernels read them in place through [`MaskElem`], which also rejects anything but 0 and 1,
//! so no converted copy of the mask is ever made.

use crate::error::{CoreError, Result};

pub trait MaskElem: Copy + Send + Sync + 'static {
    /// `Some(true)` for 1, `Some(false)` for 0, `None` for any other value.
    fn flag(self) -> Option<bool>;
    fn describe(self) -> String;
}

impl MaskElem for bool {
    #[inline(always)]
    fn flag(self) -> Option<bool> {
        Some(self)
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
            fn describe(self) -> String { self.to_string() }
        }
    )*};
}
float_mask!(f32, f64);

/// The error for a mask element that is neither 0 nor 1, at flat position `index`.
pub fn bad_mask<M: MaskElem>(arg: &'static str, index: usize, value: M) -> CoreError {
    CoreError::value(arg, format!("must hold only 0 and 1, found {} at flat index {index}", value.describe()))
}

/// Reads a mask element, turning a non-0/1 value into an error.
#[inline(always)]
pub fn flag_at<M: MaskElem>(arg: &'static str, mask: &[M], i: usize, flat_offset: usize) -> Result<bool> {
    let m = mask[i];
    m.flag().ok_or_else(|| bad_mask(arg, flat_offset + i, m))
}
