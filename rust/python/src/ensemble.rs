//! Binding of the ensemble aggregation kernel: convert, release the GIL, call the core.

use crate::arrays::floats;
use crate::errors::{detach, invalid, to_py};
use crate::with_floats;
use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::prelude::*;
use rewardlab_core::ensemble::{self, Aggregate};

/// `(aggregate, std)` over the members (axis 0) of C-contiguous `[K, N]` float32/float64
/// scores, both `[N]` in the input dtype.
#[pyfunction]
#[pyo3(signature = (scores, method, lam, q))]
pub fn aggregate<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    method: &str,
    lam: f64,
    q: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let how = Aggregate::parse(method, lam, q).map_err(to_py)?;
    let s = floats("scores", scores)?;
    let shape = s.shape().to_vec();
    let &[members, items] = shape.as_slice() else {
        return Err(invalid("scores", format!("must be 2-D [members, items], got shape {shape:?}")));
    };
    with_floats!(s, |xs: F| {
        // One allocation for both outputs, returned as two views of it: two separate blocks of
        // N floats freed together can exceed glibc's trim threshold (4 MB each at N = 1M float32),
        // and then every call page-faults them back in, which doubled the time of a mean.
        let both = detach(py, || {
            let mut both: Vec<F> = vec![0.0; 2 * items];
            let (value, std) = both.split_at_mut(items);
            ensemble::aggregate(xs, members, items, how, value, std)?;
            Ok(both)
        })?;
        let both = both.into_pyarray(py).reshape([2, items])?.into_any();
        Ok((both.get_item(0)?, both.get_item(1)?))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(aggregate, m)?)?;
    Ok(())
}
