//! The single mapping from core errors to Python exceptions.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rewardlab_core::CoreError;

create_exception!(
    _core,
    InvalidInputError,
    PyValueError,
    "Bad input to a rewardlab kernel; the message starts with the argument's name."
);

pub fn to_py(err: CoreError) -> PyErr {
    InvalidInputError::new_err(err.to_string())
}

pub fn invalid(arg: &str, reason: impl std::fmt::Display) -> PyErr {
    InvalidInputError::new_err(format!("{arg}: {reason}"))
}

/// Runs a kernel without the GIL and maps its error.
pub fn detach<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, CoreError> + Send) -> PyResult<T> {
    py.detach(f).map_err(to_py)
}
