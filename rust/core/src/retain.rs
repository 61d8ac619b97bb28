//! A global allocator that keeps a few large freed blocks for the next allocation of the same
//! size.
//!
//! Every kernel call returns fresh multi-megabyte arrays. Whether glibc hands such a block back
//! to the operating system on free (munmap, or trimming the heap top) depends on its adaptive
//! thresholds; when it does, the next call page-faults its whole output in again, about 0.5 ms
//! per 4 MiB, as long as the kernel itself. That alone made single timings swing 3x between
//! runs. A training loop asks for the same shapes every step, so keeping the last few large
//! blocks (bounded in count and bytes) lets each call write into memory that is already mapped.
//! Small allocations go straight to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Only blocks at least this large are kept.
const MIN_BLOCK: usize = 1 << 20;
const MAX_BLOCKS: usize = 8;
const MAX_BYTES: usize = 256 << 20;

#[derive(Clone, Copy)]
struct Block {
    addr: usize,
    size: usize,
    align: usize,
}

struct Cache {
    blocks: [Block; MAX_BLOCKS],
    len: usize,
    bytes: usize,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache { blocks: [Block { addr: 0, size: 0, align: 0 }; MAX_BLOCKS], len: 0, bytes: 0 });

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    // a panic while holding the lock cannot leave the cache inconsistent: it is plain data
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let i = (0..self.len).rev().find(|&i| self.blocks[i].size == layout.size() && self.blocks[i].align == layout.align())?;
        let b = self.remove(i);
        Some(b.addr as *mut u8)
    }

    fn remove(&mut self, i: usize) -> Block {
        let b = self.blocks[i];
        self.blocks.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.bytes -= b.size;
        b
    }

    /// Keeps `b`, returning the blocks evicted (oldest first) to make room, or `b` itself when
    /// it alone exceeds the byte budget.
    fn put(&mut self, b: Block, evicted: &mut [Option<Block>; MAX_BLOCKS + 1]) {
        if b.size > MAX_BYTES {
            evicted[0] = Some(b);
            return;
        }
        let mut n = 0;
        while self.len == MAX_BLOCKS || self.bytes + b.size > MAX_BYTES {
            evicted[n] = Some(self.remove(0));
            n += 1;
        }
        self.blocks[self.len] = b;
        self.len += 1;
        self.bytes += b.size;
    }
}

/// The allocator; install it with `#[global_allocator]` in the final artifact.
pub struct RetainingAllocator;

// SAFETY: every block handed out came from `System` with the same size and alignment it is
// requested with, and every block is owned by exactly one of: the caller, the cache, `System`.
unsafe impl GlobalAlloc for RetainingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BLOCK {
            if let Some(p) = cache().take(layout) {
                return p;
            }
        }
        // SAFETY: forwarded unchanged
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_BLOCK {
            if let Some(p) = cache().take(layout) {
                // SAFETY: `p` is a live block of `layout.size()` bytes now owned by the caller
                unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                return p;
            }
        }
        // SAFETY: forwarded unchanged
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() < MIN_BLOCK {
            // SAFETY: small blocks always come from `System`
            return unsafe { System.dealloc(ptr, layout) };
        }
        let mut evicted = [None; MAX_BLOCKS + 1];
        cache().put(Block { addr: ptr as usize, size: layout.size(), align: layout.align() }, &mut evicted);
        for b in evicted.into_iter().flatten() {
            // SAFETY: evicted blocks came from `System` with this size and alignment
            unsafe { System.dealloc(b.addr as *mut u8, Layout::from_size_align_unchecked(b.size, b.align)) };
        }
    }
}

/// Returns every kept block to the system allocator.
pub fn release() {
    let blocks: Vec<Block> = {
        let mut c = cache();
        let v = c.blocks[..c.len].to_vec();
        c.len = 0;
        c.bytes = 0;
        v
    };
    for b in blocks {
        // SAFETY: as in `dealloc`
        unsafe { System.dealloc(b.addr as *mut u8, Layout::from_size_align_unchecked(b.size, b.align)) };
    }
}

/// Blocks and bytes currently kept.
pub fn kept() -> (usize, usize) {
    let c = cache();
    (c.len, c.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Exercises the allocator directly (the test binary keeps the system one as its global).
    #[test]
    fn reuses_a_freed_block_of_the_same_size_and_bounds_what_it_keeps() {
        let a = RetainingAllocator;
        let layout = Layout::from_size_align(3 << 20, 64).unwrap();
        unsafe {
            let p = a.alloc(layout);
            p.write(7);
            a.dealloc(p, layout);
            let q = a.alloc(layout);
            assert_eq!(p, q, "the freed block is handed out again");
            let z = a.alloc_zeroed(Layout::from_size_align(3 << 20, 32).unwrap());
            assert!(std::slice::from_raw_parts(z, 3 << 20).iter().all(|&b| b == 0));
            a.dealloc(z, Layout::from_size_align(3 << 20, 32).unwrap());
            a.dealloc(q, layout);
            for _ in 0..3 * MAX_BLOCKS {
                let p = a.alloc(Layout::from_size_align(MIN_BLOCK, 8).unwrap());
                let big = a.alloc(Layout::from_size_align(MIN_BLOCK * 2, 8).unwrap());
                a.dealloc(big, Layout::from_size_align(MIN_BLOCK * 2, 8).unwrap());
                a.dealloc(p, Layout::from_size_align(MIN_BLOCK, 8).unwrap());
            }
            let (n, bytes) = kept();
            assert!(n <= MAX_BLOCKS && bytes <= MAX_BYTES);
            release();
            assert_eq!(kept(), (0, 0));
        }
    }
}
