//! Candidate groups (one per prompt) of float64 values: padded `[P, N]` or flat + offsets.

use crate::errors::{invalid, to_py};
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use rewardlab_core::Layout;

pub fn group_layout<'a>(shape: &[usize], offsets: Option<&'a [i64]>, len: usize) -> PyResult<Layout<'a>> {
    match (offsets, shape) {
        (Some(off), [_]) => Layout::ragged(off, len).map_err(to_py),
        (Some(_), _) => Err(invalid("rewards", format!("must be 1-D when offsets are given, got shape {shape:?}"))),
        (None, [p, n]) => Ok(Layout::Padded { rows: *p, cols: *n }),
        (None, _) => Err(invalid("rewards", format!("must be 2-D [prompts, candidates] (or 1-D with offsets), got shape {shape:?}"))),
    }
}

pub fn contiguous<'a>(arg: &str, a: &'a PyReadonlyArrayDyn<'_, f64>) -> PyResult<&'a [f64]> {
    a.as_slice().map_err(|_| invalid(arg, "must be C-contiguous float64"))
}

pub fn same_shape(arg: &str, a: &PyReadonlyArrayDyn<'_, f64>, shape: &[usize]) -> PyResult<()> {
    if a.shape() != shape {
        return Err(invalid(arg, format!("shape {:?} does not match rewards {shape:?}", a.shape())));
    }
    Ok(())
}

