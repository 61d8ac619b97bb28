//! [`Segments`]: the segment boundaries of a batch, as every segmenter returns them, and the
//! checks that make a user-built one safe to index with.

use crate::error::{CoreError, Result};
use crate::layout::Layout;

/// Segment boundaries of a batch: row `b` owns `ends[offsets[b]..offsets[b + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segments {
    /// Exclusive end of each segment, relative to its row's start.
    pub ends: Vec<i64>,
    /// `B + 1` entries, starting at 0 and ending at `ends.len()`.
    pub offsets: Vec<i64>,
}

impl Segments {
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The number of segments over all rows.
    pub fn total(&self) -> usize {
        self.ends.len()
    }

    /// The segment ends of row `b`.
    pub fn row(&self, b: usize) -> &[i64] {
        &self.ends[self.offsets[b] as usize..self.offsets[b + 1] as usize]
    }

    /// The start of every segment (0, then the previous segment's end), laid out like `ends`.
    /// The start of segment `k` is the prefix length of state `s_k`: the response tokens that
    /// precede it, for the teacher-forced passes that estimate `V(s_k)`.
    pub fn starts(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.ends.len());
        for b in 0..self.rows() {
            let mut start = 0;
            for &e in self.row(b) {
                out.push(start);
                start = e;
            }
        }
        out
    }

    /// Errors (naming `segments`) unless these segments fit `layout`: one row per layout row,
    /// well-formed offsets, and per row strictly increasing ends in `1..=row width`. The last
    /// end may stop short of the row width (the rest is padding).
    pub fn check(&self, layout: &Layout) -> Result<()> {
        let rows = layout.rows();
        if self.offsets.len() != rows + 1 {
            return Err(CoreError::shape(
                "segments",
                format!("{} offsets (one per row plus one)", rows + 1),
                format!("{} offsets", self.offsets.len()),
            ));
        }
        let total = check_offsets("segments", &self.offsets)?;
        if total != self.ends.len() {
            return Err(CoreError::value(
                "segments",
                format!("last offset must equal the number of ends ({}), got {total}", self.ends.len()),
            ));
        }
        for b in 0..rows {
            let width = layout.range(b).len() as i64;
            let mut prev = 0i64;
            for (k, &e) in self.row(b).iter().enumerate() {
                if e <= prev || e > width {
                    return Err(CoreError::value(
                        "segments",
                        format!(
                            "row {b}: segment ends must be strictly increasing within 1..={width}; end {k} is {e} after {prev}"
                        ),
                    ));
                }
                prev = e;
            }
        }
        Ok(())
    }
}

/// Checks that `offsets` starts at 0 and never decreases; returns its last entry.
pub(crate) fn check_offsets(arg: &'static str, offsets: &[i64]) -> Result<usize> {
    if offsets.is_empty() {
        return Err(CoreError::value(arg, "must hold B + 1 entries (at least [0]), got an empty array"));
    }
    if offsets[0] != 0 {
        return Err(CoreError::value(arg, format!("must start at 0, got {}", offsets[0])));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return Err(CoreError::value(
            arg,
            format!("must be non-decreasing, but offsets[{}]={} > offsets[{}]={}", i, offsets[i], i + 1, offsets[i + 1]),
        ));
    }
    Ok(*offsets.last().unwrap() as usize)
}
