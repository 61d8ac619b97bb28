//! Segmentation of responses into reasoning steps, for segment-level reward redistribution
//! (RREDCoT). A segment ends at a delimiter token (a newline, "Wait", "So", ...), or a new one
//! starts at a "forking" token of high predictive entropy; both rules can be combined. Minimum
//! and maximum segment lengths are then enforced.
//!
//! Every segmenter returns [`Segments`]: per row, the exclusive end of each segment relative to
//! the row start. The ends are strictly increasing and the last equals the row's valid length,
//! so a row of length `L > 0` has at least one segment and a row of length 0 has none.
//!
//! Rows come from a [`Layout`]; `lengths` (one per row) optionally gives the valid, left-aligned
//! prefix of each row, the rest being padding that is never read. Rows run in parallel for large
//! batches; the per-token loops allocate nothing.

use crate::error::{CoreError, Result};
use crate::layout::Layout;
use crate::parallel;
use crate::real::{first_non_finite, Real};
pub use crate::redistribution::segments::Segments;
pub(crate) use crate::redistribution::segments::check_offsets;

/// The valid length of every row: `lengths[b]` (checked against the row width) or, without
/// `lengths`, the whole row.
pub fn valid_lengths(layout: &Layout, lengths: Option<&[i64]>) -> Result<Vec<usize>> {
    let rows = layout.rows();
    match lengths {
        None => Ok((0..rows).map(|b| layout.range(b).len()).collect()),
        Some(l) => {
            if l.len() != rows {
                return Err(CoreError::shape("lengths", format!("{rows} lengths, one per row"), l.len().to_string()));
            }
            l.iter()
                .enumerate()
                .map(|(b, &n)| {
                    let width = layout.range(b).len();
                    if n < 0 || n as u64 > width as u64 {
                        Err(CoreError::value("lengths", format!("lengths[{b}]={n} must lie in [0, {width}] (the row width)")))
                    } else {
                        Ok(n as usize)
                    }
                })
                .collect()
        }
    }
}

/// Checks `min_len >= 1` and, when `max_len > 0` (0: no limit), `min_len <= max_len`.
fn check_limits(min_len: usize, max_len: usize) -> Result<()> {
    if min_len == 0 {
        return Err(CoreError::value("min_len", "must be at least 1, got 0"));
    }
    if max_len > 0 && min_len > max_len {
        return Err(CoreError::value("min_len", format!("must not exceed max_len ({max_len}), got {min_len}")));
    }
    Ok(())
}

/// Turns raw cut positions of one row into segment ends under the length rules, streaming:
/// a segment shorter than `min_len` is merged into the following one (the last, if short, into
/// its predecessor), then a segment longer than `max_len` is split into chunks of `max_len`
/// from its start. The merged segment before the current one is held back until it is known
/// not to absorb a short last segment.
struct Builder<'a> {
    out: &'a mut Vec<i64>,
    min_len: usize,
    max_len: usize,
    /// Start of the open segment.
    start: usize,
    /// The last closed segment, not yet written.
    held: Option<(usize, usize)>,
}

impl<'a> Builder<'a> {
    fn new(out: &'a mut Vec<i64>, min_len: usize, max_len: usize) -> Self {
        Builder { out, min_len, max_len, start: 0, held: None }
    }

    /// A cut before position `at` (`0 < at < len`, non-decreasing over calls).
    #[inline]
    fn cut(&mut self, at: usize) {
        // also drops repeated cuts (at == start), since min_len >= 1
        if at - self.start < self.min_len {
            return;
        }
        if let Some((s, e)) = self.held.take() {
            self.emit(s, e);
        }
        self.held = Some((self.start, at));
        self.start = at;
    }

    fn finish(mut self, len: usize) {
        if len == 0 {
            return;
        }
        match self.held.take() {
            Some((s, _)) if len - self.start < self.min_len => self.emit(s, len),
            Some((s, e)) => {
                self.emit(s, e);
                self.emit(self.start, len);
            }
            None => self.emit(self.start, len),
        }
    }

    fn emit(&mut self, start: usize, end: usize) {
        if self.max_len > 0 {
            let mut at = start;
            while end - at > self.max_len {
                at += self.max_len;
                self.out.push(at as i64);
            }
        }
        self.out.push(end as i64);
    }
}

/// Membership test for a short list of delimiter ids: a bitmap when every id is small and
/// non-negative (token ids are), else a sorted list searched by bisection.
enum DelimiterSet {
    Bits(Vec<u64>),
    Sorted(Vec<i64>),
}

/// Largest id (exclusive) the bitmap form accepts: 2^22 bits = 512 KiB.
const MAX_BITMAP_ID: i64 = 1 << 22;

impl DelimiterSet {
    fn new(ids: &[i64]) -> Self {
        if ids.iter().all(|&d| (0..MAX_BITMAP_ID).contains(&d)) {
            let top = ids.iter().copied().max().unwrap_or(0) as usize;
            let mut bits = vec![0u64; top / 64 + 1];
            for &d in ids {
                bits[d as usize / 64] |= 1 << (d as usize % 64);
            }
            DelimiterSet::Bits(bits)
        } else {
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            DelimiterSet::Sorted(sorted)
        }
    }

    #[inline(always)]
    fn contains(&self, id: i64) -> bool {
        match self {
            DelimiterSet::Bits(bits) => {
                // negative ids wrap to huge indices and miss
                let i = id as u64 as usize;
                bits.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 == 1)
            }
            DelimiterSet::Sorted(sorted) => sorted.binary_search(&id).is_ok(),
        }
    }
}

/// Errors (naming `entropy`, with the flat index) unless every value of `row` is finite.
fn check_finite_row<F: Real>(row: &[F], flat_offset: usize) -> Result<()> {
    let Some(i) = first_non_finite(row) else {
        return Ok(());
    };
    Err(CoreError::value(
        "entropy",
        format!("must be finite on valid tokens; {:?} at flat index {}", row[i], flat_offset + i),
    ))
}

/// Runs `row_cuts(b, valid_len, builder)` on every row and gathers the rows' ends.
fn segment_rows(
    layout: &Layout,
    lengths: &[usize],
    min_len: usize,
    max_len: usize,
    row_cuts: impl Fn(usize, usize, &mut Builder) -> Result<()> + Sync + Send,
) -> Result<Segments> {
    let rows: Vec<usize> = (0..layout.rows()).collect();
    let per_row = parallel::try_map(rows, layout.len(), #[inline(always)] |b| {
        let len = lengths[b];
        let mut ends = Vec::new();
        let mut builder = Builder::new(&mut ends, min_len, max_len);
        row_cuts(b, len, &mut builder)?;
        builder.finish(len);
        Ok(ends)
    })?;
    let total = per_row.iter().map(Vec::len).sum();
    let mut seg = Segments { ends: Vec::with_capacity(total), offsets: Vec::with_capacity(per_row.len() + 1) };
    seg.offsets.push(0);
    for ends in per_row {
        seg.ends.extend_from_slice(&ends);
        seg.offsets.push(seg.ends.len() as i64);
    }
    Ok(seg)
}

fn check_batch(layout: &Layout, named: &[(&'static str, usize)]) -> Result<()> {
    for &(arg, len) in named {
        layout.check(arg, len)?;
    }
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    Ok(())
}

/// Segments ending at delimiter tokens: a token whose id is in `delimiters` closes the segment
/// it belongs to (inclusive). Then segments shorter than `min_len` are merged forward (a short
/// last one backward) and segments longer than `max_len` (0: no limit) are split.
pub fn by_delimiters(
    tokens: &[i64],
    layout: &Layout,
    lengths: Option<&[i64]>,
    delimiters: &[i64],
    min_len: usize,
    max_len: usize,
) -> Result<Segments> {
    check_batch(layout, &[("tokens", tokens.len())])?;
    check_limits(min_len, max_len)?;
    let lens = valid_lengths(layout, lengths)?;
    let set = DelimiterSet::new(delimiters);
    segment_rows(layout, &lens, min_len, max_len, |b, len, builder| {
        let row = &tokens[layout.range(b)][..len];
        // the last token ends the last segment anyway
        for (t, &id) in row.iter().enumerate().take(len.saturating_sub(1)) {
            if set.contains(id) {
                builder.cut(t + 1);
            }
        }
        Ok(())
    })
}

/// Segments starting at forking tokens: a token whose entropy exceeds `threshold` starts a new
/// segment (the cut falls before it). Same length rules as [`by_delimiters`]. Entropy must be
/// finite on valid tokens; padding is not read. `threshold` may be ±inf (no fork, every token a
/// fork) but not NaN.
pub fn by_entropy<F: Real>(
    entropy: &[F],
    layout: &Layout,
    lengths: Option<&[i64]>,
    threshold: F,
    min_len: usize,
    max_len: usize,
) -> Result<Segments> {
    check_batch(layout, &[("entropy", entropy.len())])?;
    check_threshold(threshold)?;
    check_limits(min_len, max_len)?;
    let lens = valid_lengths(layout, lengths)?;
    segment_rows(layout, &lens, min_len, max_len, |b, len, builder| {
        let span = layout.range(b);
        let row = &entropy[span.start..span.start + len];
        check_finite_row(row, span.start)?;
        for (t, &h) in row.iter().enumerate().skip(1) {
            if h > threshold {
                builder.cut(t);
            }
        }
        Ok(())
    })
}

/// The paper's hybrid keyword-entropy segmentation: a delimiter token ends its segment and a
/// forking token (entropy above `threshold`) starts one; then the length rules apply. Both
/// arrays share `layout`.
#[allow(clippy::too_many_arguments)]
pub fn hybrid<F: Real>(
    tokens: &[i64],
    entropy: &[F],
    layout: &Layout,
    lengths: Option<&[i64]>,
    delimiters: &[i64],
    threshold: F,
    min_len: usize,
    max_len: usize,
) -> Result<Segments> {
    check_batch(layout, &[("tokens", tokens.len()), ("entropy", entropy.len())])?;
    check_threshold(threshold)?;
    check_limits(min_len, max_len)?;
    let lens = valid_lengths(layout, lengths)?;
    let set = DelimiterSet::new(delimiters);
    segment_rows(layout, &lens, min_len, max_len, |b, len, builder| {
        let span = layout.range(b);
        let (tok, ent) = (&tokens[span.clone()][..len], &entropy[span.start..span.start + len]);
        check_finite_row(ent, span.start)?;
        // a cut before t: token t forks, or token t - 1 is a delimiter
        for t in 1..len {
            if ent[t] > threshold || set.contains(tok[t - 1]) {
                builder.cut(t);
            }
        }
        Ok(())
    })
}

fn check_threshold<F: Real>(threshold: F) -> Result<()> {
    if threshold.is_nan() {
        return Err(CoreError::value("threshold", "must not be NaN"));
    }
    Ok(())
}

/// Validates user-given segment boundaries and packs them as [`Segments`]: `offsets` (B + 1
/// entries, from 0, non-decreasing, ending at `ends.len()`), and per row strictly increasing
/// ends, all positive, the last equal to `row_lengths[b]` (no ends at all when it is 0).
pub fn from_boundaries(ends: &[i64], offsets: &[i64], row_lengths: &[i64]) -> Result<Segments> {
    let total = check_offsets("offsets", offsets)?;
    if total != ends.len() {
        return Err(CoreError::shape("ends", format!("{total} ends (offsets[-1])"), ends.len().to_string()));
    }
    let rows = offsets.len() - 1;
    if row_lengths.len() != rows {
        return Err(CoreError::shape("row_lengths", format!("{rows} lengths, one per row"), row_lengths.len().to_string()));
    }
    for (b, &len) in row_lengths.iter().enumerate() {
        if len < 0 {
            return Err(CoreError::value("row_lengths", format!("row_lengths[{b}]={len} must not be negative")));
        }
        let row = &ends[offsets[b] as usize..offsets[b + 1] as usize];
        match row.last() {
            None if len > 0 => {
                return Err(CoreError::value("ends", format!("row {b} has length {len} but no segment")));
            }
            Some(&last) if last != len => {
                return Err(CoreError::value(
                    "ends",
                    format!("row {b}: the last end must equal the row length {len}, got {last}"),
                ));
            }
            _ => {}
        }
        let mut prev = 0;
        for (k, &e) in row.iter().enumerate() {
            if e <= prev {
                return Err(CoreError::value(
                    "ends",
                    format!("row {b}: ends must be positive and strictly increasing; end {k} is {e} after {prev}"),
                ));
            }
            prev = e;
        }
    }
    Ok(Segments { ends: ends.to_vec(), offsets: offsets.to_vec() })
}

#[cfg(test)]
mod tests;
