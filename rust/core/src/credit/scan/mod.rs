//! Reverse scans along each response: GAE and discounted returns.
//!
//! The reference stacks run these as Python loops over the time axis. Here groups of rows run
//! in parallel; within a group, whatever does not depend on the previous step (the per-token
//! deltas) is one vectorised pass, and only the `a = x + c * a` chain runs step by step, the
//! group's rows interleaved so that their chains overlap. The moments needed for whitening are
//! gathered while the group is still in cache. Every row keeps the reference's order of
//! operations, so results are those of the reference loop, bit for bit.

use crate::credit::whiten::{self, Moments, WhitenSpec};
use crate::error::{check_finite, CoreError, Result};
use crate::layout::Layout;
use crate::mask::{self, check_mask, MaskElem};
use crate::parallel;
use crate::real::Real;
use crate::uninit::{self, assume_init_mut, write_all};
use std::mem::MaybeUninit;
use std::ops::Range;

mod gae;
mod returns;

pub use gae::gae;
pub use returns::discounted_returns;

/// What a scan does at tokens whose mask is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskedSteps {
    /// verl: masked tokens (multi-turn observations, trailing pads) are skipped. The running
    /// state is carried across them unchanged, so a masked token's GAE advantage equals that of
    /// the next valid token and values bootstrap over observations; returns are 0 there.
    Carry,
    /// OpenRLHF: rewards and values are zeroed at masked tokens and the recursion runs through
    /// them, bootstrapping from `values[t + 1]` whatever its mask.
    Zero,
}

/// Outputs of a scan, plus the masked moments of the first output when asked for.
pub struct ScanOut<F> {
    pub first: Vec<F>,
    pub second: Vec<F>,
    pub moments: Moments,
    /// Each row's valid length when every row's mask is ones then zeros (or there is no mask),
    /// which lets a re-masking whitening pass skip reading the mask again.
    pub prefix_lens: Option<Vec<usize>>,
}

impl<F: Real> ScanOut<F> {
    /// `first` whitened over the mask by `spec`, into a new array. The mask is the one the scan
    /// validated.
    pub fn whitened_first<M: MaskElem>(&self, mask: Option<&[M]>, layout: &Layout, spec: &WhitenSpec) -> Result<Vec<F>> {
        let (mean, rstd) = spec.params(self.moments)?;
        Ok(match (&self.prefix_lens, spec.remask) {
            (Some(lens), true) => whiten::apply_prefix(&self.first, layout, lens, spec, mean, rstd),
            _ => whiten::apply(&self.first, mask, spec, mean, rstd),
        })
    }

    /// [`ScanOut::whitened_first`] in place.
    pub fn whiten_first<M: MaskElem>(&mut self, mask: Option<&[M]>, spec: &WhitenSpec) -> Result<()> {
        let (mean, rstd) = spec.params(self.moments)?;
        whiten::apply_in_place(&mut self.first, mask, spec, mean, rstd);
        Ok(())
    }
}

fn check_inputs<F, M>(layout: &Layout, named: &[(&'static str, &[F])], mask: Option<&[M]>) -> Result<()> {
    for (name, a) in named {
        layout.check(name, a.len())?;
    }
    if let Some(m) = mask {
        layout.check("mask", m.len())?;
    }
    if layout.rows() == 0 {
        return Err(CoreError::Empty { arg: "batch" });
    }
    Ok(())
}

/// Validates a row's mask once; afterwards `on` reads it without checks. A `match`, not
/// `Option::map_or`: the profiler showed `map_or` left as a baseline-compiled call inside the
/// vector-dispatched row loop (see `simd`).
fn check_row<M: MaskElem>(mask: Option<&[M]>, flat: usize) -> Result<()> {
    match mask {
        Some(m) => check_mask("mask", m, flat),
        None => Ok(()),
    }
}

#[inline(always)]
fn on<M: MaskElem>(mask: Option<&[M]>, i: usize) -> bool {
    match mask {
        Some(m) => m[i].on(),
        None => true,
    }
}

/// Rows a scan steps through side by side. One row alone is a single chain of dependent
/// multiply-add steps per token and the core waits on each link; independent rows interleaved in
/// one loop fill that wait.
const INTERLEAVE: usize = 4;

/// Groups of consecutive rows scanned together: `INTERLEAVE` rows of a padded batch, single rows
/// of a ragged one (its rows differ in length). A group's tokens are one contiguous span.
fn row_groups(layout: &Layout) -> Vec<Range<usize>> {
    let step = match layout {
        Layout::Padded { .. } => INTERLEAVE,
        Layout::Ragged { .. } => 1,
    };
    let rows = layout.rows();
    (0..rows).step_by(step).map(|s| s..(s + step).min(rows)).collect()
}

fn group_span(layout: &Layout, rows: &Range<usize>) -> Range<usize> {
    layout.range(rows.start).start..layout.range(rows.end - 1).end
}

/// Splits `data` into one mutable slice per span; the spans are consecutive and cover it.
fn split_spans<'b, T>(mut data: &'b mut [T], spans: &[Range<usize>]) -> Vec<&'b mut [T]> {
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let (head, tail) = std::mem::take(&mut data).split_at_mut(s.len());
        out.push(head);
        data = tail;
    }
    out
}

/// A work item: a group of rows, its flat span, its part of each output and of the row lengths.
struct Group<'b, F> {
    rows: Range<usize>,
    span: Range<usize>,
    first: &'b mut [MaybeUninit<F>],
    second: &'b mut [MaybeUninit<F>],
    lens: &'b mut [usize],
}

fn groups<'b, F>(layout: &Layout, first: &'b mut [MaybeUninit<F>], second: Option<&'b mut [MaybeUninit<F>]>, lens: &'b mut [usize]) -> Vec<Group<'b, F>> {
    let groups = row_groups(layout);
    let spans: Vec<Range<usize>> = groups.iter().map(|g| group_span(layout, g)).collect();
    let firsts = split_spans(first, &spans);
    let seconds = match second {
        Some(s) => split_spans(s, &spans),
        None => spans.iter().map(|_| <&mut [MaybeUninit<F>]>::default()).collect(),
    };
    let lens = split_spans(lens, &groups);
    groups
        .into_iter()
        .zip(spans)
        .zip(firsts)
        .zip(seconds)
        .zip(lens)
        .map(|((((rows, span), first), second), lens)| Group { rows, span, first, second, lens })
        .collect()
}

/// The work both scans share. For every group of rows, in parallel: validate and summarise its
/// mask, call `scan(range, t, lens, right_padded, first, second)` once over the whole group when
/// it holds `INTERLEAVE` rows and once per row otherwise (`range`: the flat tokens scanned, `t`
/// their row length, `lens` their rows' valid lengths), then gather the moments of `first` while
/// it is in cache. `scan` must write every element of its `first` and `second` (the latter empty
/// unless `with_second`).
#[inline(always)]
fn scan_groups<F: Real, M: MaskElem>(
    layout: &Layout,
    mask: Option<&[M]>,
    with_second: bool,
    with_moments: bool,
    scan: impl Fn(Range<usize>, usize, &[usize], bool, &mut [MaybeUninit<F>], &mut [MaybeUninit<F>]) + Sync + Send,
) -> Result<ScanOut<F>> {
    let n = layout.len();
    let mut first = uninit::vec::<F>(n);
    let mut second = uninit::vec::<F>(if with_second { n } else { 0 });
    let mut lens = vec![0; layout.rows()];
    let items = groups(layout, &mut first, with_second.then_some(&mut second[..]), &mut lens);
    let parts = parallel::try_map(items, n, #[inline(always)] |Group { rows, span, first, second, lens }| {
        let m = mask.map(|m| &m[span.clone()]);
        let t = layout.range(rows.start).len();
        let prefix = summarize_group(m, rows.len(), t, span.start, lens)?;
        let k = if rows.len() == INTERLEAVE { INTERLEAVE } else { 1 };
        for j in (0..rows.len()).step_by(k) {
            let local = j * t..(j + k) * t;
            let sec = if with_second { &mut second[local.clone()] } else { &mut [][..] };
            let flat = span.start + local.start..span.start + local.end;
            scan(flat, t, &lens[j..j + k], prefix, &mut first[local], sec);
        }
        // SAFETY: the calls above cover the group, and `scan` writes all it is given.
        let first = unsafe { assume_init_mut(first) };
        Ok((if with_moments { group_moments(first, m, prefix.then_some(&*lens)) } else { Moments::default() }, prefix))
    })?;
    // SAFETY: every group ran without error, so every element was written.
    let (first, second) = unsafe { (uninit::assume_init(first), uninit::assume_init(second)) };
    let (moments, prefix): (Vec<Moments>, Vec<bool>) = parts.into_iter().unzip();
    let prefix_lens = prefix.into_iter().all(|p| p).then_some(lens);
    Ok(ScanOut { first, second, moments: Moments::merge_all(moments), prefix_lens })
}

/// Masked moments of a group's output. With the rows' valid lengths known (right padding), only
/// each row's valid prefix is read and the mask not at all.
#[inline(always)]
fn group_moments<F: Real, M: MaskElem>(out: &[F], mask: Option<&[M]>, lens: Option<&[usize]>) -> Moments {
    match lens {
        Some(lens) if !lens.is_empty() => {
            let t = out.len() / lens.len();
            // a plain loop: `merge_all` over a mapped zip was left out of line, at baseline width
            let mut acc = Moments::default();
            for (j, &len) in lens.iter().enumerate() {
                acc = acc.merge(Moments::of_checked::<F, bool>(&out[j * t..j * t + len], None));
            }
            acc
        }
        _ => Moments::of_checked(out, mask),
    }
}

/// `K` rows of length `t` laid end to end, as slices the compiler knows are `t` long (so the
/// per-token indexing needs no bounds checks).
#[inline(always)]
fn rows_of<const K: usize, T>(data: &[T], t: usize) -> [&[T]; K] {
    std::array::from_fn(|k| &data[k * t..][..t])
}

#[inline(always)]
fn rows_of_mut<const K: usize, T>(data: &mut [T], t: usize) -> [&mut [T]; K] {
    let mut rest = data;
    std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(t);
        rest = tail;
        head
    })
}

/// Validates a group's mask and writes each row's valid length to `lens`; returns whether every
/// row is right-padded. No mask: full rows.
#[inline(always)]
fn summarize_group<M: MaskElem>(mask: Option<&[M]>, rows: usize, t: usize, flat: usize, lens: &mut [usize]) -> Result<bool> {
    let Some(m) = mask else {
        lens.iter_mut().for_each(|l| *l = t);
        return Ok(true);
    };
    let (mut valid, mut prefix) = (true, true);
    for (j, len) in lens.iter_mut().enumerate().take(rows) {
        let s = mask::summary(&m[j * t..(j + 1) * t]);
        valid &= s.valid;
        prefix &= s.right_padded;
        *len = s.count;
    }
    if !valid {
        check_row(mask, flat)?; // names the first bad value
    }
    Ok(prefix)
}

/// `x[i] = x[i] + c * x[i + 1]` from token `len - 1` down to 0 in each of `K` rows of length `t`:
/// the reference's `a = x + c * a` with `a` starting at 0, the rows' chains interleaved. Tokens
/// from `len` on are left as they are.
#[inline(always)]
fn chain<const K: usize, F: Real>(rows: &mut [F], t: usize, len: usize, c: F) {
    let rows = rows_of_mut::<K, F>(rows, t);
    let mut acc = [F::zero(); K];
    for i in (0..len).rev() {
        // All of a step's loads before any of its stores: rows of 1024 floats are 4 KiB apart,
        // so a load issued after a store to another row looks like it reads that store (4K
        // aliasing) and waits for it.
        let x: [F; K] = std::array::from_fn(|k| rows[k][i]);
        for k in 0..K {
            acc[k] = x[k] + c * acc[k];
        }
        for k in 0..K {
            rows[k][i] = acc[k];
        }
    }
}

/// Step `i` of `K` rows: the two inputs and the mask flags.
#[inline(always)]
fn load<const K: usize, F: Real, M: MaskElem>(a: &[&[F]; K], b: &[&[F]; K], m: Option<&[&[M]; K]>, i: usize) -> ([F; K], [F; K], [bool; K]) {
    (std::array::from_fn(|k| a[k][i]), std::array::from_fn(|k| b[k][i]), std::array::from_fn(|k| on(m.map(|m| m[k]), i)))
}
