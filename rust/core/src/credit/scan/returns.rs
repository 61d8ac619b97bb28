//! Discounted returns `G_t = r_t + gamma * G_{t+1}` per response, on the same scan machinery.

use super::*;

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
    let g = F::of(gamma);
    scan_groups(layout, mask, false, with_moments, #[inline(always)] |range, t, lens, prefix, out, _| {
        let (r, m) = (&rewards[range.clone()], mask.map(|m| &m[range]));
        let known = prefix.then_some(lens);
        if lens.len() == INTERLEAVE {
            returns_rows::<INTERLEAVE, F, M>(r, m, out, t, g, steps, known)
        } else {
            returns_rows::<1, F, M>(r, m, out, t, g, steps, known)
        }
    })
}

/// Discounted returns (see [`discounted_returns`]) over `K` rows of length `t`; writes every
/// element of `out`. Right-padded verl rows run the chain straight from the rewards; OpenRLHF
/// rows first zero their masked rewards in one vectorised pass. verl rows with holes in the
/// mask take [`returns_rows_holes`].
#[inline(always)]
fn returns_rows<const K: usize, F: Real, M: MaskElem>(
    r: &[F],
    m: Option<&[M]>,
    out: &mut [MaybeUninit<F>],
    t: usize,
    g: F,
    steps: MaskedSteps,
    prefix_lens: Option<&[usize]>,
) {
    match steps {
        MaskedSteps::Carry => match prefix_lens {
            Some(l) => chain_from::<K, F>(r, out, t, std::array::from_fn(|k| l[k]), g),
            None => returns_rows_holes::<K, F, M>(r, m, out, t, g),
        },
        MaskedSteps::Zero => {
            match m {
                Some(m) => write_all(out, r.iter().zip(m).map(|(&r, &m)| if m.on() { r } else { F::zero() * r })),
                None => write_all(out, r.iter().copied()),
            };
            // SAFETY: written in full just above.
            chain::<K, F>(unsafe { assume_init_mut(out) }, t, t, g);
        }
    }
}

/// [`chain`] reading `x` from `src` and writing to `out`, for right-padded rows of valid
/// lengths `lens`: tokens past a row's length count as 0, so their output is 0 (verl's return
/// on padding). Saves the pass that would copy the rewards into `out` first. Writes every
/// element of `out`.
#[inline(always)]
fn chain_from<const K: usize, F: Real>(src: &[F], out: &mut [MaybeUninit<F>], t: usize, lens: [usize; K], c: F) {
    // `1 * a` is `a` exactly (NaN, infinities and -0 included), so gamma = 1, the usual
    // REINFORCE++ setting, drops the multiply and halves each link's latency.
    if c == F::one() {
        chain_from_steps::<K, F, true>(src, out, t, lens, c)
    } else {
        chain_from_steps::<K, F, false>(src, out, t, lens, c)
    }
}

#[inline(always)]
fn chain_from_steps<const K: usize, F: Real, const UNIT: bool>(src: &[F], out: &mut [MaybeUninit<F>], t: usize, lens: [usize; K], c: F) {
    let longest = lens.into_iter().max().unwrap_or(0);
    let shortest = lens.into_iter().min().unwrap_or(0);
    let src = rows_of::<K, F>(src, t);
    let out = rows_of_mut::<K, _>(out, t);
    let mut acc = [F::zero(); K];
    let mut step = |i: usize, x: [F; K]| {
        // loads (in `x`) before stores, as in `chain`
        for k in 0..K {
            acc[k] = if UNIT { x[k] + acc[k] } else { x[k] + c * acc[k] };
        }
        for k in 0..K {
            out[k][i].write(acc[k]);
        }
    };
    // where only some rows are still inside their response, then where all are: no length test
    for i in (shortest..longest).rev() {
        step(i, std::array::from_fn(|k| if i < lens[k] { src[k][i] } else { F::zero() }));
    }
    for i in (0..shortest).rev() {
        step(i, std::array::from_fn(|k| src[k][i]));
    }
    for o in out {
        write_all(&mut o[longest..], std::iter::repeat(F::zero()).take(t - longest));
    }
}

/// verl's discounted returns over `K` rows with any mask: the running return passes over masked
/// tokens, whose return is 0. Rows interleaved; writes every element of `out`.
#[inline(always)]
fn returns_rows_holes<const K: usize, F: Real, M: MaskElem>(r: &[F], m: Option<&[M]>, out: &mut [MaybeUninit<F>], t: usize, g: F) {
    let r = rows_of::<K, F>(r, t);
    let m = m.map(|m| rows_of::<K, M>(m, t));
    let out = rows_of_mut::<K, _>(out, t);
    let mut running = [F::zero(); K];
    for i in (0..t).rev() {
        // loads before stores, as in `chain`
        let (rt, _, on): ([F; K], [F; K], [bool; K]) = load(&r, &r, m.as_ref(), i);
        for k in 0..K {
            running[k] = if on[k] { rt[k] + g * running[k] } else { running[k] };
        }
        for k in 0..K {
            out[k][i].write(if on[k] { running[k] } else { F::zero() });
        }
    }
}
