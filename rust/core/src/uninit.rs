//! Output arrays allocated without zeroing them first. A kernel that writes every element of its
//! output gains nothing from `vec![0; n]`, whose zeroing (a memset whenever the allocator hands
//! back reused memory) costs as much as the kernel's own write of the output.
//!
//! A kernel allocates with [`vec()`], writes each element once (with [`write_all`] where it can,
//! so that the write is checked to cover the slice), and converts with [`assume_init`] only
//! after every part succeeded; on an error the uninitialised buffer is simply dropped.

use std::mem::{ManuallyDrop, MaybeUninit};

/// `n` elements, not yet written.
pub fn vec<F>(n: usize) -> Vec<MaybeUninit<F>> {
    let mut v = Vec::with_capacity(n);
    // writes nothing: the loop over `MaybeUninit::uninit` compiles away
    v.resize_with(n, MaybeUninit::uninit);
    v
}

/// Writes the items of `values` into `out`, one per element, and returns `out` initialised.
/// Panics unless `values` yields exactly `out.len()` items (a kernel bug, never bad input).
#[inline(always)]
pub fn write_all<F, I: IntoIterator<Item = F>>(out: &mut [MaybeUninit<F>], values: I) -> &mut [F] {
    let mut written = 0;
    for (o, x) in out.iter_mut().zip(values) {
        o.write(x);
        written += 1;
    }
    assert_eq!(written, out.len(), "uninit::write_all: fewer values than elements");
    // SAFETY: each of the `out.len()` elements was written just above.
    unsafe { assume_init_mut(out) }
}

/// `out` as initialised.
///
/// # Safety
/// Every element of `out` has been written.
#[inline(always)]
pub unsafe fn assume_init_mut<F>(out: &mut [MaybeUninit<F>]) -> &mut [F] {
    // SAFETY: MaybeUninit<F> has F's layout; the caller guarantees initialisation.
    unsafe { &mut *(out as *mut [MaybeUninit<F>] as *mut [F]) }
}

/// The vector as initialised, without copying.
///
/// # Safety
/// Every element of `v` has been written.
pub unsafe fn assume_init<F>(v: Vec<MaybeUninit<F>>) -> Vec<F> {
    let mut v = ManuallyDrop::new(v);
    // SAFETY: same allocation, same layout, same length and capacity; the caller guarantees
    // that all `len` elements are initialised.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut F, v.len(), v.capacity()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_all_fills_and_converts() {
        let mut v = vec::<f32>(4);
        let init = write_all(&mut v, [1.0, 2.0, 3.0, 4.0]);
        init[0] += 1.0;
        let v = unsafe { assume_init(v) };
        assert_eq!(v, vec![2.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    #[should_panic(expected = "fewer values")]
    fn write_all_rejects_short_input() {
        let mut v = vec::<f64>(3);
        write_all(&mut v, [1.0]);
    }
}
