//! Reverse scans along each response: GAE and discounted returns.
//!
//! The reference stacks run these as Python loops over the time axis. Here each row is one
//! tight loop, rows run in parallel, and the moments needed for whitening are gathered while
//! the row is still in cache.

use crate::error::{check_finite, CoreError, Result};
use crate::layout::Layout;
use crate::mask::{check_mask, MaskElem};
use crate::parallel;
use crate::real::Real;
use crate::whiten::Moments;

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

/// Generalised advantage estimation. Returns advantages (unwhitened) and returns
/// (`advantages + values`, with values zeroed at masked tokens in [`MaskedSteps::Zero`] mode).
pub fn gae<F: Real, M: MaskElem>(
    rewards: &[F],
    values: &[F],
    mask: Option<&[M]>,
    layout: &Layout,
    gamma: f64,
    lam: f64,
    steps: MaskedSteps,
    with_moments: bool,
) -> Result<ScanOut<F>> {
    check_inputs(layout, &[("rewards", rewards), ("values", values)], mask)?;
    check_finite("gamma", gamma)?;
    check_finite("lam", lam)?;
    let n = layout.len();
    let mut adv = vec![F::zero(); n];
    let mut ret = vec![F::zero(); n];
    let g = F::of(gamma);
    // Python evaluates `gamma * lam * x` left to right: the product is taken in double first.
    let gl = F::of(gamma * lam);
    let rows: Vec<_> = layout
        .split_mut(&mut adv)
        .into_iter()
        .zip(layout.split_mut(&mut ret))
        .enumerate()
        .collect();
    let moments = parallel::try_map(rows, n, #[inline(always)] |(row, (adv, ret))| {
        let span = layout.range(row);
        let (r, v) = (&rewards[span.clone()], &values[span.clone()]);
        let m = mask.map(|m| &m[span.clone()]);
        check_row(m, span.start)?;
        gae_row(r, v, m, adv, ret, g, gl, steps);
        if with_moments {
            Ok(Moments::of_checked(adv, m))
        } else {
            Ok(Moments::default())
        }
    })?;
    Ok(ScanOut { first: adv, second: ret, moments: Moments::merge_all(moments) })
}

/// One row's GAE, on slices of exactly the row's length.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gae_row<F: Real, M: MaskElem>(r: &[F], v: &[F], m: Option<&[M]>, adv: &mut [F], ret: &mut [F], g: F, gl: F, steps: MaskedSteps) {
    let (mut next_value, mut last_gae) = (F::zero(), F::zero());
    match steps {
        MaskedSteps::Carry => {
            for t in (0..r.len()).rev() {
                let delta = r[t] + g * next_value - v[t];
                if on(m, t) {
                    last_gae = delta + gl * last_gae;
                    next_value = v[t];
                }
                adv[t] = last_gae;
                ret[t] = last_gae + v[t];
            }
        }
        MaskedSteps::Zero => {
            for t in (0..r.len()).rev() {
                let on = if on(m, t) { F::one() } else { F::zero() };
                let (rt, vt) = (on * r[t], on * v[t]);
                let delta = rt + g * next_value - vt;
                last_gae = delta + gl * last_gae;
                next_value = vt;
                adv[t] = last_gae;
                ret[t] = last_gae + vt;
            }
        }
    }
}

/// Discounted reward-to-go `G_t = r_t + gamma * G_{t+1}` per response. In `first`; `second` is
/// empty. In [`MaskedSteps::Carry`] mode returns are 0 at masked tokens and the running return
/// passes over them (verl 0.9.1 REINFORCE++); in [`MaskedSteps::Zero`] mode masked rewards are
/// zeroed and the return is stored everywhere (OpenRLHF `get_cumulative_returns`).
pub fn discounted_returns<F: Real, M: MaskElem>(
    rewards: &[F],
    mask: Option<&[M]>,
    layout: &Layout,
    gamma: f64,
    steps: MaskedSteps,
    with_moments: bool,
) -> Result<ScanOut<F>> {
    check_inputs(layout, &[("rewards", rewards)], mask)?;
    check_finite("gamma", gamma)?;
    let n = layout.len();
    let mut out = vec![F::zero(); n];
    let g = F::of(gamma);
    let rows: Vec<_> = layout.split_mut(&mut out).into_iter().enumerate().collect();
    let moments = parallel::try_map(rows, n, #[inline(always)] |(row, out)| {
        let span = layout.range(row);
        let r = &rewards[span.clone()];
        let m = mask.map(|m| &m[span.clone()]);
        check_row(m, span.start)?;
        returns_row(r, m, out, g, steps);
        if with_moments {
            Ok(Moments::of_checked(out, m))
        } else {
            Ok(Moments::default())
        }
    })?;
    Ok(ScanOut { first: out, second: Vec::new(), moments: Moments::merge_all(moments) })
}

/// One row's discounted returns (see [`discounted_returns`]).
#[inline(always)]
fn returns_row<F: Real, M: MaskElem>(r: &[F], m: Option<&[M]>, out: &mut [F], g: F, steps: MaskedSteps) {
    let mut running = F::zero();
    for t in (0..r.len()).rev() {
        let on = on(m, t);
        match steps {
            MaskedSteps::Carry => {
                if on {
                    running = r[t] + g * running;
                    out[t] = running;
                } else {
                    out[t] = F::zero();
                }
            }
            MaskedSteps::Zero => {
                let rt = if on { r[t] } else { F::zero() * r[t] };
                running = rt + g * running;
                out[t] = running;
            }
        }
    }
}

