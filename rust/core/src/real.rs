//! Floating-point element types the kernels are generic over (`f32`, `f64`).

use num_traits::Float;
use std::fmt::Debug;

pub trait Real: Float + Send + Sync + Debug + 'static {
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;

    /// `torch.clamp` semantics: NaN stays NaN (`f32::max` would replace it by the bound).
    #[inline(always)]
    fn clamp_nan(self, lo: Self, hi: Self) -> Self {
        if self.is_nan() {
            self
        } else {
            self.max(lo).min(hi)
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
