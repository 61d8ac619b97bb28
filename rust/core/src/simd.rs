//! Runs a kernel body compiled for the widest vector unit the CPU has.
//!
//! Wheels target baseline x86-64 (SSE2, 4 floats per vector), while the machines they run on
//! mostly have AVX2 (8) or AVX-512 (16). [`widest`] compiles the closure it is given three times,
//! for AVX-512, AVX2 and the baseline, and picks one at run time (the detection is cached).
//! Results are bit-identical across the three: Rust never contracts `a * b + c` into an FMA and
//! never reorders float adds, so only the vector width changes, not the arithmetic.

/// Calls `f`, with its body (and everything inlined into it) compiled for AVX-512 or AVX2 when
/// the CPU has them.
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the features this function enables were detected on this CPU just above.
            return unsafe { x86::v4(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { x86::v3(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    pub unsafe fn v4<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn v3<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}

#[cfg(test)]
mod tests {
    use crate::real::{exp_f32, lane_sum};

    /// The vectorised `exp` and the lane sums, as the kernels use them.
    fn work(xs: &[f32]) -> (Vec<u32>, u64) {
        let ys: Vec<f32> = xs.iter().map(|&x| exp_f32(x)).collect();
        (ys.iter().map(|y| y.to_bits()).collect(), lane_sum(&ys, |y| y as f64).to_bits())
    }

    #[test]
    fn every_vector_width_gives_the_same_bits() {
        let xs: Vec<f32> = (0..10_007).map(|i| (i as f32) * 0.017 - 85.0).chain([f32::NAN, f32::INFINITY, -f32::INFINITY, 89.0]).collect();
        let baseline = work(&xs);
        assert_eq!(super::widest(|| work(&xs)), baseline);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected just above.
                assert_eq!(unsafe { super::x86::v3(#[inline(always)] || work(&xs)) }, baseline);
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                // SAFETY: the AVX-512 subsets were detected just above.
                assert_eq!(unsafe { super::x86::v4(#[inline(always)] || work(&xs)) }, baseline);
            }
        }
    }
}
