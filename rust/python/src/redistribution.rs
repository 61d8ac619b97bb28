//! Binding of the RREDCoT kernels: segmentation, log-space importance-sampled values,
//! redistribution and spreading to tokens. Conversion and shape checks only; one kernel call
//! (or two, fused) per function with the GIL released.

use crate::arrays::{floats, same, slice};
use crate::errors::{detach, invalid, to_py};
use crate::with_floats;
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use rewardlab_core::real::Real;
use rewardlab_core::redistribution::redistribute::{self as rd, Spread};
use rewardlab_core::redistribution::segment::{self as seg, Segments};
use rewardlab_core::{uninit, Layout};
use std::mem::MaybeUninit;

type Arr<'py> = Bound<'py, PyAny>;

/// A C-contiguous int64 array (any number of dimensions).
fn ints<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArrayDyn<'py, i64>> {
    let a = obj.extract::<PyReadonlyArrayDyn<i64>>().map_err(|_| {
        let got = obj.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| obj.get_type().to_string());
        invalid(arg, format!("must be an int64 numpy array, got {got}"))
    })?;
    if !a.is_c_contiguous() {
        return Err(invalid(arg, "must be C-contiguous"));
    }
    Ok(a)
}

/// A 1-D C-contiguous int64 array.
fn ints1<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArrayDyn<'py, i64>> {
    let a = ints(arg, obj)?;
    if a.ndim() != 1 {
        return Err(invalid(arg, format!("must be 1-D, got shape {:?}", a.shape())));
    }
    Ok(a)
}

fn opt_ints1<'py>(arg: &str, obj: Option<&Bound<'py, PyAny>>) -> PyResult<Option<PyReadonlyArrayDyn<'py, i64>>> {
    obj.filter(|o| !o.is_none()).map(|o| ints1(arg, o)).transpose()
}

fn count(arg: &str, x: i64) -> PyResult<usize> {
    usize::try_from(x).map_err(|_| invalid(arg, format!("must not be negative, got {x}")))
}

fn spread_mode(mode: &str) -> PyResult<Spread> {
    match mode {
        "last" => Ok(Spread::Last),
        "uniform" => Ok(Spread::Uniform),
        "broadcast" => Ok(Spread::Broadcast),
        other => Err(invalid("mode", format!("expected 'last', 'uniform' or 'broadcast', got {other:?}"))),
    }
}

/// The layout of a token array of this shape: `[B, T]` padded, or 1-D with `offsets`.
fn input_layout<'a>(arg: &str, shape: &[usize], offsets: Option<&'a [i64]>, len: usize) -> PyResult<Layout<'a>> {
    match (offsets, shape) {
        (Some(off), [_]) => Layout::ragged(off, len).map_err(to_py),
        (Some(_), _) => Err(invalid(arg, format!("must be 1-D (flat tokens) when offsets are given, got shape {shape:?}"))),
        (None, [b, t]) => Ok(Layout::Padded { rows: *b, cols: *t }),
        (None, _) => Err(invalid(arg, format!("must be 2-D [batch, tokens] (or 1-D with offsets), got shape {shape:?}"))),
    }
}

/// The layout of a token output: padded `shape = (B, T)` or flat with `offsets`; exactly one.
fn output_layout<'a>(shape: Option<(i64, i64)>, offsets: Option<&'a [i64]>) -> PyResult<(Layout<'a>, Vec<usize>)> {
    match (shape, offsets) {
        (Some((b, t)), None) => {
            let (b, t) = (count("shape", b)?, count("shape", t)?);
            b.checked_mul(t).ok_or_else(|| invalid("shape", "B x T overflows"))?;
            Ok((Layout::Padded { rows: b, cols: t }, vec![b, t]))
        }
        (None, Some(off)) => {
            let len = off.last().copied().unwrap_or(0).max(0) as usize;
            let lay = Layout::ragged(off, len).map_err(to_py)?;
            Ok((lay, vec![len]))
        }
        (Some(_), Some(_)) => Err(invalid("offsets", "give either shape (padded output) or offsets (flat output), not both")),
        (None, None) => Err(invalid("shape", "give shape=(B, T) for a padded output or offsets for a flat one")),
    }
}

fn segments_out<'py>(py: Python<'py>, s: Segments) -> (Arr<'py>, Arr<'py>) {
    (s.ends.into_pyarray(py).into_any(), s.offsets.into_pyarray(py).into_any())
}

/// `(ends, offsets)` of the segments: by delimiters (`tokens` only), by entropy (`entropy` and
/// `threshold`) or both rules (`tokens`, `entropy` and `threshold`).
#[pyfunction]
#[pyo3(signature = (tokens=None, entropy=None, lengths=None, offsets=None, *, delimiters, threshold=None, min_len=1, max_len=0))]
#[allow(clippy::too_many_arguments)]
pub fn segment<'py>(
    py: Python<'py>,
    tokens: Option<&Bound<'py, PyAny>>,
    entropy: Option<&Bound<'py, PyAny>>,
    lengths: Option<&Bound<'py, PyAny>>,
    offsets: Option<&Bound<'py, PyAny>>,
    delimiters: &Bound<'py, PyAny>,
    threshold: Option<f64>,
    min_len: i64,
    max_len: i64,
) -> PyResult<(Arr<'py>, Arr<'py>)> {
    let tokens = tokens.filter(|o| !o.is_none()).map(|t| ints("tokens", t)).transpose()?;
    let entropy = entropy.filter(|o| !o.is_none());
    let lengths = opt_ints1("lengths", lengths)?;
    let offsets = opt_ints1("offsets", offsets)?;
    let delims = ints1("delimiters", delimiters)?;
    let (min_len, max_len) = (count("min_len", min_len)?, count("max_len", max_len)?);
    let lens = lengths.as_ref().map(slice);
    let off = offsets.as_ref().map(slice);
    let ds = slice(&delims);
    if tokens.is_none() && !ds.is_empty() {
        return Err(invalid("tokens", "are required when delimiters are given"));
    }
    match (tokens, entropy, threshold) {
        (Some(tok), None, None) => {
            let ts = slice(&tok);
            let lay = input_layout("tokens", tok.shape(), off, ts.len())?;
            let s = detach(py, || seg::by_delimiters(ts, &lay, lens, ds, min_len, max_len))?;
            Ok(segments_out(py, s))
        }
        (tok, Some(ent), Some(th)) => {
            let e = floats("entropy", ent)?;
            let eshape = e.shape().to_vec();
            with_floats!(e, |es: F| {
                let lay = input_layout("entropy", &eshape, off, es.len())?;
                let s = match tok {
                    None => detach(py, || seg::by_entropy(es, &lay, lens, F::of(th), min_len, max_len))?,
                    Some(tok) => {
                        if tok.shape() != eshape.as_slice() {
                            return Err(invalid(
                                "entropy",
                                format!("shape {:?} does not match tokens' {:?}", eshape, tok.shape()),
                            ));
                        }
                        let ts = slice(&tok);
                        detach(py, || seg::hybrid(ts, es, &lay, lens, ds, F::of(th), min_len, max_len))?
                    }
                };
                Ok(segments_out(py, s))
            })
        }
        (_, Some(_), None) => Err(invalid("threshold", "is required when entropy is given")),
        (_, None, Some(_)) => Err(invalid("entropy", "is required when a threshold is given")),
        (None, None, None) => Err(invalid("tokens", "nothing to segment: give tokens (with delimiters), entropy with a threshold, or both")),
    }
}

/// Validated user boundaries as `(ends, offsets)`.
#[pyfunction]
pub fn segments_from_boundaries<'py>(
    py: Python<'py>,
    ends: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    row_lengths: &Bound<'py, PyAny>,
) -> PyResult<(Arr<'py>, Arr<'py>)> {
    let (e, o, l) = (ints1("ends", ends)?, ints1("offsets", offsets)?, ints1("row_lengths", row_lengths)?);
    let (es, os, ls) = (slice(&e), slice(&o), slice(&l));
    let s = detach(py, || seg::from_boundaries(es, os, ls))?;
    Ok(segments_out(py, s))
}

/// Per-row sums of token log-probabilities over the valid prefix: `[B]`.
#[pyfunction]
#[pyo3(signature = (token_logp, lengths=None, offsets=None))]
pub fn sequence_logprob<'py>(
    py: Python<'py>,
    token_logp: &Bound<'py, PyAny>,
    lengths: Option<&Bound<'py, PyAny>>,
    offsets: Option<&Bound<'py, PyAny>>,
) -> PyResult<Arr<'py>> {
    let x = floats("token_logp", token_logp)?;
    let lengths = opt_ints1("lengths", lengths)?;
    let offsets = opt_ints1("offsets", offsets)?;
    let (lens, off) = (lengths.as_ref().map(slice), offsets.as_ref().map(slice));
    let shape = x.shape().to_vec();
    with_floats!(x, |xs: F| {
        let lay = input_layout("token_logp", &shape, off, xs.len())?;
        let out = detach(py, || rd::sequence_logprob(xs, &lay, lens))?;
        Ok(out.into_pyarray(py).into_any())
    })
}

fn value_estimate<'py>(
    py: Python<'py>,
    log_pi: &Bound<'py, PyAny>,
    log_q: &Bound<'py, PyAny>,
    utility: &Bound<'py, PyAny>,
    log: bool,
) -> PyResult<Arr<'py>> {
    let lp = floats("log_pi", log_pi)?;
    let shape = lp.shape().to_vec();
    let [s, m] = shape[..] else {
        return Err(invalid("log_pi", format!("must be 2-D [states, completions], got shape {shape:?}")));
    };
    with_floats!(lp, |lps: F| {
        let q: PyReadonlyArrayDyn<F> = same("log_q", "log_pi", log_q)?;
        if q.shape() != [m] && q.shape() != [s, m] {
            return Err(invalid("log_q", format!("must have shape [{m}] or [{s}, {m}], got {:?}", q.shape())));
        }
        let u: PyReadonlyArrayDyn<F> = same("utility", "log_pi", utility)?;
        if u.shape() != [m] {
            return Err(invalid("utility", format!("must have shape [{m}] (one per completion), got {:?}", u.shape())));
        }
        let (qs, us) = (slice(&q), slice(&u));
        let out = if log {
            detach(py, || rd::log_value_is(lps, qs, us, s, m))?
        } else {
            detach(py, || rd::value_is(lps, qs, us, s, m))?
        };
        Ok(out.into_pyarray(py).into_any())
    })
}

/// `log V̂(s)` per state: `[S]`.
#[pyfunction]
pub fn log_value_is<'py>(py: Python<'py>, log_pi: &Bound<'py, PyAny>, log_q: &Bound<'py, PyAny>, utility: &Bound<'py, PyAny>) -> PyResult<Arr<'py>> {
    value_estimate(py, log_pi, log_q, utility, true)
}

/// `V̂(s)` per state: `[S]`.
#[pyfunction]
pub fn value_is<'py>(py: Python<'py>, log_pi: &Bound<'py, PyAny>, log_q: &Bound<'py, PyAny>, utility: &Bound<'py, PyAny>) -> PyResult<Arr<'py>> {
    value_estimate(py, log_pi, log_q, utility, false)
}

fn one_d(arg: &str, shape: &[usize]) -> PyResult<()> {
    if shape.len() != 1 {
        return Err(invalid(arg, format!("must be 1-D, got shape {shape:?}")));
    }
    Ok(())
}

/// Segment rewards `r̃`, laid out like `values`.
#[pyfunction]
pub fn redistribute<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    seg_offsets: &Bound<'py, PyAny>,
    outcome: &Bound<'py, PyAny>,
) -> PyResult<Arr<'py>> {
    let v = floats("values", values)?;
    let so = ints1("seg_offsets", seg_offsets)?;
    let sos = slice(&so);
    with_floats!(v, |vs: F| {
        let o: PyReadonlyArrayDyn<F> = same("outcome", "values", outcome)?;
        one_d("values", v.shape())?;
        one_d("outcome", o.shape())?;
        let os = slice(&o);
        let out = detach(py, || rd::redistribute(vs, sos, os))?;
        Ok(out.into_pyarray(py).into_any())
    })
}

/// An output of `n` values, not yet written, or a `MemoryError` where the size is impossible
/// (`shape` comes from the caller and need not match any input). Allocated by the extension's
/// allocator, which keeps freed large blocks: a training loop's repeated calls write into mapped
/// memory instead of faulting a fresh array in each time.
fn token_buffer<F>(n: usize) -> PyResult<Vec<MaybeUninit<F>>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| PyMemoryError::new_err(format!("shape: cannot allocate {n} token rewards")))?;
    v.resize_with(n, MaybeUninit::uninit);
    Ok(v)
}

/// Token rewards (padded `shape` or flat with `offsets`) that `write` puts into every position of
/// a new array, given the segments and the output layout: the part `spread_to_tokens` and
/// `rredcot_token_rewards` share.
fn token_rewards<'py, F: numpy::Element + Real>(
    py: Python<'py>,
    seg_ends: &Bound<'py, PyAny>,
    seg_offsets: &Bound<'py, PyAny>,
    shape: Option<(i64, i64)>,
    offsets: Option<&Bound<'py, PyAny>>,
    write: impl FnOnce(&mut [MaybeUninit<F>], &Segments, &Layout) -> rewardlab_core::Result<()> + Send,
) -> PyResult<Arr<'py>> {
    let (e, so) = (ints1("segments", seg_ends)?, ints1("segments", seg_offsets)?);
    let offsets = opt_ints1("offsets", offsets)?;
    let (lay, out_shape) = output_layout(shape, offsets.as_ref().map(slice))?;
    let segs = Segments { ends: slice(&e).to_vec(), offsets: slice(&so).to_vec() };
    let mut out = token_buffer::<F>(lay.len())?;
    detach(py, || write(&mut out, &segs, &lay))?;
    // SAFETY: `write` returned Ok, and the spread kernels then have written every position
    let out = unsafe { uninit::assume_init(out) };
    Ok(out.into_pyarray(py).reshape(out_shape)?.into_any())
}

/// Token rewards (padded `shape` or flat with `offsets`) from one reward per segment.
#[pyfunction]
#[pyo3(signature = (segment_rewards, seg_ends, seg_offsets, shape=None, offsets=None, *, mode))]
pub fn spread_to_tokens<'py>(
    py: Python<'py>,
    segment_rewards: &Bound<'py, PyAny>,
    seg_ends: &Bound<'py, PyAny>,
    seg_offsets: &Bound<'py, PyAny>,
    shape: Option<(i64, i64)>,
    offsets: Option<&Bound<'py, PyAny>>,
    mode: &str,
) -> PyResult<Arr<'py>> {
    let mode = spread_mode(mode)?;
    let r = floats("segment_rewards", segment_rewards)?;
    one_d("segment_rewards", r.shape())?;
    with_floats!(r, |rs: F| {
        token_rewards::<F>(py, seg_ends, seg_offsets, shape, offsets, |buf, segs, lay| rd::spread_into_uninit(buf, rs, segs, lay, mode))
    })
}

/// `redistribute` then `spread_to_tokens`, fused: token rewards from state values and outcomes.
#[pyfunction]
#[pyo3(signature = (values, outcome, seg_ends, seg_offsets, shape=None, offsets=None, *, mode))]
#[allow(clippy::too_many_arguments)]
pub fn rredcot_token_rewards<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    outcome: &Bound<'py, PyAny>,
    seg_ends: &Bound<'py, PyAny>,
    seg_offsets: &Bound<'py, PyAny>,
    shape: Option<(i64, i64)>,
    offsets: Option<&Bound<'py, PyAny>>,
    mode: &str,
) -> PyResult<Arr<'py>> {
    let mode = spread_mode(mode)?;
    let v = floats("values", values)?;
    one_d("values", v.shape())?;
    with_floats!(v, |vs: F| {
        let o: PyReadonlyArrayDyn<F> = same("outcome", "values", outcome)?;
        one_d("outcome", o.shape())?;
        let os = slice(&o);
        token_rewards::<F>(py, seg_ends, seg_offsets, shape, offsets, |buf, segs, lay| {
            // segments first, so that bad segments are named as such rather than as seg_offsets
            segs.check(lay)?;
            let r = rd::redistribute(vs, &segs.offsets, os)?;
            rd::spread_into_uninit(buf, &r, segs, lay, mode)
        })
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(segment, m)?)?;
    m.add_function(wrap_pyfunction!(segments_from_boundaries, m)?)?;
    m.add_function(wrap_pyfunction!(sequence_logprob, m)?)?;
    m.add_function(wrap_pyfunction!(log_value_is, m)?)?;
    m.add_function(wrap_pyfunction!(value_is, m)?)?;
    m.add_function(wrap_pyfunction!(redistribute, m)?)?;
    m.add_function(wrap_pyfunction!(spread_to_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(rredcot_token_rewards, m)?)?;
    Ok(())
}
