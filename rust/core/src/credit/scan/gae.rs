//! Generalized advantage estimation: one reverse scan of `delta_t + gamma * lambda * A_{t+1}`,
//! over groups of interleaved rows (see the parent module for the machinery).

use super::*;

/// Generalised advantage estimation. Returns advantages (unwhitened) and returns
/// (`advantages + values`, with values zeroed at masked tokens in [`MaskedSteps::Zero`] mode).
#[allow(clippy::too_many_arguments)]
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
    let g = F::of(gamma);
    // Python evaluates `gamma * lam * x` left to right: the product is taken in double first.
    let gl = F::of(gamma * lam);
    scan_groups(layout, mask, true, with_moments, #[inline(always)] |range, t, lens, prefix, adv, ret| {
        let (r, v, m) = (&rewards[range.clone()], &values[range.clone()], mask.map(|m| &m[range]));
        let known = prefix.then_some(lens);
        if lens.len() == INTERLEAVE {
            gae_rows::<INTERLEAVE, F, M>(r, v, m, adv, ret, t, g, gl, steps, known)
        } else {
            gae_rows::<1, F, M>(r, v, m, adv, ret, t, g, gl, steps, known)
        }
    })
}

/// GAE over `K` rows of length `t` laid end to end; writes every element of `adv` and `ret`.
/// Right-padded rows (and every row in [`MaskedSteps::Zero`] mode) take the split path: the
/// deltas, which depend on no earlier step, in one vectorised pass, then only the
/// `a = delta + c * a` chain, rows interleaved. Rows with holes in the mask (verl's multi-turn
/// observations, over which the next value is carried) take [`gae_rows_holes`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gae_rows<const K: usize, F: Real, M: MaskElem>(
    r: &[F],
    v: &[F],
    m: Option<&[M]>,
    adv: &mut [MaybeUninit<F>],
    ret: &mut [MaybeUninit<F>],
    t: usize,
    g: F,
    gl: F,
    steps: MaskedSteps,
    prefix_lens: Option<&[usize]>,
) {
    let (rr, vr) = (rows_of::<K, F>(r, t), rows_of::<K, F>(v, t));
    let mr = m.map(|m| rows_of::<K, M>(m, t));
    match steps {
        MaskedSteps::Carry => {
            let Some(lens) = prefix_lens.map(|l| std::array::from_fn::<usize, K, _>(|k| l[k])) else {
                return gae_rows_holes::<K, F, M>(r, v, m, adv, ret, t, g, gl);
            };
            for (k, a) in rows_of_mut::<K, _>(adv, t).into_iter().enumerate() {
                carry_deltas(rr[k], vr[k], a, lens[k], g);
            }
            // SAFETY: `carry_deltas` wrote each of the K rows in full.
            let adv = unsafe { assume_init_mut(adv) };
            chain::<K, F>(adv, t, lens.into_iter().max().unwrap_or(0), gl);
            write_all(ret, adv.iter().zip(v).map(|(&a, &v)| a + v));
        }
        MaskedSteps::Zero => {
            // `ret` holds the zeroed values until the chain has run
            let (adv_rows, ret_rows) = (rows_of_mut::<K, _>(adv, t), rows_of_mut::<K, _>(ret, t));
            for (k, (a, z)) in adv_rows.into_iter().zip(ret_rows).enumerate() {
                zero_deltas(rr[k], vr[k], mr.map(|m| m[k]), a, z, g);
            }
            // SAFETY: `zero_deltas` wrote each of the K rows of both in full.
            let (adv, ret) = unsafe { (assume_init_mut(adv), assume_init_mut(ret)) };
            chain::<K, F>(adv, t, t, gl);
            ret.iter_mut().zip(adv.iter()).for_each(|(o, &a)| *o = a + *o);
        }
    }
}

/// verl's deltas of a right-padded row with `len` valid tokens, `r + g * v[i + 1] - v`, with the
/// value after the last valid token 0; 0 on the padding (whose advantage stays 0).
#[inline(always)]
fn carry_deltas<F: Real>(r: &[F], v: &[F], out: &mut [MaybeUninit<F>], len: usize, g: F) {
    let (body, pad) = out.split_at_mut(len);
    if let Some(last) = len.checked_sub(1) {
        let (inner, end) = body.split_at_mut(last);
        write_all(inner, r[..last].iter().zip(&v[..last]).zip(&v[1..len]).map(|((&r, &v), &next)| r + g * next - v));
        write_all(end, [r[last] + g * F::zero() - v[last]]);
    }
    write_all(pad, std::iter::repeat(F::zero()).take(r.len() - len));
}

/// OpenRLHF's deltas: rewards and values zeroed where the mask is 0 (by multiplication, so NaN
/// stays NaN as in `x * mask`), `rz + g * vz[i + 1] - vz`, the value after the row 0. The zeroed
/// values go to `vz`.
#[inline(always)]
fn zero_deltas<F: Real, M: MaskElem>(r: &[F], v: &[F], m: Option<&[M]>, out: &mut [MaybeUninit<F>], vz: &mut [MaybeUninit<F>], g: F) {
    let flag = |m: M| if m.on() { F::one() } else { F::zero() };
    let vz = match m {
        Some(m) => write_all(vz, v.iter().zip(m).map(|(&v, &m)| flag(m) * v)),
        None => write_all(vz, v.iter().copied()),
    };
    let Some(last) = r.len().checked_sub(1) else { return };
    let (inner, end) = out.split_at_mut(last);
    let rz_last = match m {
        Some(m) => flag(m[last]) * r[last],
        None => r[last],
    };
    match m {
        Some(m) => write_all(inner, r.iter().zip(m).zip(vz.windows(2)).map(|((&r, &m), w)| flag(m) * r + g * w[1] - w[0])),
        None => write_all(inner, r.iter().zip(vz.windows(2)).map(|(&r, w)| r + g * w[1] - w[0])),
    };
    write_all(end, [rz_last + g * F::zero() - vz[last]]);
}

/// verl's GAE over `K` rows with any mask: the advantage and the next value pass over masked
/// tokens unchanged. Rows interleaved in one loop; writes every element of `adv` and `ret`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gae_rows_holes<const K: usize, F: Real, M: MaskElem>(
    r: &[F],
    v: &[F],
    m: Option<&[M]>,
    adv: &mut [MaybeUninit<F>],
    ret: &mut [MaybeUninit<F>],
    t: usize,
    g: F,
    gl: F,
) {
    let (r, v) = (rows_of::<K, F>(r, t), rows_of::<K, F>(v, t));
    let m = m.map(|m| rows_of::<K, M>(m, t));
    let (adv, ret) = (rows_of_mut::<K, _>(adv, t), rows_of_mut::<K, _>(ret, t));
    let (mut next_value, mut last_gae) = ([F::zero(); K], [F::zero(); K]);
    for i in (0..t).rev() {
        // loads before stores, as in `chain`
        let (rt, vt, on): ([F; K], [F; K], [bool; K]) = load(&r, &v, m.as_ref(), i);
        for k in 0..K {
            let delta = rt[k] + g * next_value[k] - vt[k];
            // selects, not a branch: the mask's edges would mispredict
            last_gae[k] = if on[k] { delta + gl * last_gae[k] } else { last_gae[k] };
            next_value[k] = if on[k] { vt[k] } else { next_value[k] };
        }
        for k in 0..K {
            adv[k][i].write(last_gae[k]);
            ret[k][i].write(last_gae[k] + vt[k]);
        }
    }
}
