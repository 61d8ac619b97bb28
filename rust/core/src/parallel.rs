//! Row parallelism with rayon, switchable at run time (as tokenizers' TOKENIZERS_PARALLELISM):
//! small batches and `set_parallel(false)` run on the calling thread. `RAYON_NUM_THREADS`
//! caps the pool. Every item runs through [`simd::widest`], so the kernels' row loops use the
//! CPU's widest vectors.

use crate::error::Result;
use crate::simd;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

static PARALLEL: AtomicBool = AtomicBool::new(true);

/// Below this many elements a kernel is faster on one thread than paying rayon's dispatch.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 16;

pub fn set_parallel(on: bool) {
    PARALLEL.store(on, Ordering::Relaxed);
}

pub fn is_parallel() -> bool {
    PARALLEL.load(Ordering::Relaxed)
}

pub fn use_parallel(elements: usize) -> bool {
    is_parallel() && elements >= MIN_PARALLEL_ELEMENTS && rayon::current_num_threads() > 1
}

/// Runs `f` on every item, in parallel when `elements` (the work size) is large enough,
/// stopping at the first error.
pub fn try_for_each<T: Send>(items: Vec<T>, elements: usize, f: impl Fn(T) -> Result<()> + Sync + Send) -> Result<()> {
    if use_parallel(elements) {
        items.into_par_iter().try_for_each(|x| simd::widest(#[inline(always)] || f(x)))
    } else {
        items.into_iter().try_for_each(|x| simd::widest(#[inline(always)] || f(x)))
    }
}

/// Maps every item to a value, in parallel when large enough, keeping the input order.
pub fn try_map<T: Send, U: Send>(
    items: Vec<T>,
    elements: usize,
    f: impl Fn(T) -> Result<U> + Sync + Send,
) -> Result<Vec<U>> {
    if use_parallel(elements) {
        items.into_par_iter().map(|x| simd::widest(#[inline(always)] || f(x))).collect()
    } else {
        items.into_iter().map(|x| simd::widest(#[inline(always)] || f(x))).collect()
    }
}
