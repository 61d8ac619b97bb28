//! `rewardlab._core`: the PyO3 binding of rewardlab-core. Conversion only; no numerics here.

mod arrays;
mod credit;
mod ensemble;
mod diagnostics;
mod errors;
mod gate;
mod groups;
mod redistribution;
mod shaping;

use pyo3::prelude::*;

/// Kernels return large fresh arrays on every call; this allocator keeps a few freed large
/// blocks for reuse instead of letting them be unmapped and page-faulted in again (see
/// `rewardlab_core::retain`).
#[global_allocator]
static ALLOCATOR: rewardlab_core::retain::RetainingAllocator = rewardlab_core::retain::RetainingAllocator;

/// Returns the large blocks kept for reuse to the system (at most 256 MiB are ever kept).
#[pyfunction]
fn release_buffers() {
    rewardlab_core::retain::release()
}

/// "release" or "debug": benchmarks refuse to time a debug build.
#[pyfunction]
fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Turns the kernels' row parallelism on or off (rayon; `RAYON_NUM_THREADS` caps the pool).
#[pyfunction]
fn set_parallel(on: bool) {
    rewardlab_core::parallel::set_parallel(on)
}

#[pyfunction]
fn is_parallel() -> bool {
    rewardlab_core::parallel::is_parallel()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("InvalidInputError", m.py().get_type::<errors::InvalidInputError>())?;
    m.add_function(wrap_pyfunction!(build_profile, m)?)?;
    m.add_function(wrap_pyfunction!(set_parallel, m)?)?;
    m.add_function(wrap_pyfunction!(is_parallel, m)?)?;
    m.add_function(wrap_pyfunction!(release_buffers, m)?)?;
    credit::register(m)?;
    ensemble::register(m)?;
    shaping::register(m)?;
    diagnostics::register(m)?;
    redistribution::register(m)?;
    gate::register(m)?;
    Ok(())
}
