//! How a token batch is laid out in memory: padded `[B, T]` row-major, or ragged (flat values
//! plus `B + 1` offsets). Kernels see rows as slices either way.

use crate::error::{CoreError, Result};
use std::ops::Range;

#[derive(Debug, Clone, Copy)]
pub enum Layout<'a> {
    /// `rows × cols`, row-major and contiguous.
    Padded { rows: usize, cols: usize },
    /// Row `i` is `offsets[i]..offsets[i + 1]` of the flat values.
    Ragged { offsets: &'a [i64] },
}

impl<'a> Layout<'a> {
    /// A ragged layout after checking that `offsets` starts at 0, never decreases and ends at `len`.
    pub fn ragged(offsets: &'a [i64], len: usize) -> Result<Self> {
        if offsets.is_empty() {
            return Err(CoreError::value("offsets", "must hold B + 1 entries (at least [0]), got an empty array"));
        }
        if offsets[0] != 0 {
            return Err(CoreError::value("offsets", format!("must start at 0, got {}", offsets[0])));
        }
        for (i, w) in offsets.windows(2).enumerate() {
            if w[1] < w[0] {
                return Err(CoreError::value(
                    "offsets",
                    format!("must be non-decreasing, but offsets[{}]={} > offsets[{}]={}", i, w[0], i + 1, w[1]),
                ));
            }
        }
        let last = *offsets.last().unwrap();
        if last != len as i64 {
            return Err(CoreError::value(
                "offsets",
                format!("last offset must equal the number of values ({len}), got {last}"),
            ));
        }
        Ok(Layout::Ragged { offsets })
    }

    pub fn rows(&self) -> usize {
        match *self {
            Layout::Padded { rows, .. } => rows,
            Layout::Ragged { offsets } => offsets.len() - 1,
        }
    }

    pub fn len(&self) -> usize {
        match *self {
            Layout::Padded { rows, cols } => rows * cols,
            Layout::Ragged { offsets } => *offsets.last().unwrap() as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn range(&self, row: usize) -> Range<usize> {
        match *self {
            Layout::Padded { cols, .. } => row * cols..(row + 1) * cols,
            Layout::Ragged { offsets } => offsets[row] as usize..offsets[row + 1] as usize,
        }
    }

    /// Errors unless an array named `arg` of length `len` fits this layout.
    pub fn check(&self, arg: &'static str, len: usize) -> Result<()> {
        if len == self.len() {
            return Ok(());
        }
        let expected = match *self {
            Layout::Padded { rows, cols } => format!("shape [{rows}, {cols}]"),
            Layout::Ragged { .. } => format!("{} values (offsets[-1])", self.len()),
        };
        Err(CoreError::shape(arg, expected, format!("{len} elements")))
    }

    /// Splits `data` (of length `self.len()`) into one mutable slice per row.
    pub fn split_mut<'b, T>(&self, data: &'b mut [T]) -> Vec<&'b mut [T]> {
        debug_assert_eq!(data.len(), self.len());
        match *self {
            Layout::Padded { cols, rows } => {
                if cols == 0 {
                    return (0..rows).map(|_| <&mut [T]>::default()).collect();
                }
                data.chunks_mut(cols).collect()
            }
            Layout::Ragged { offsets } => {
                let mut out = Vec::with_capacity(offsets.len() - 1);
                let mut rest = data;
                for w in offsets.windows(2) {
                    let (head, tail) = rest.split_at_mut((w[1] - w[0]) as usize);
                    out.push(head);
                    rest = tail;
                }
                out
            }
        }
    }
}
