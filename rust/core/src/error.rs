//! The one error type of the core. Every variant names the argument at fault so that the
//! binding layer can turn it into a Python `ValueError` subclass without guessing.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// An array has the wrong length or shape.
    Shape { arg: &'static str, expected: String, got: String },
    /// An argument holds a value outside its domain (mask not 0/1, gamma not finite, ...).
    Value { arg: &'static str, reason: String },
    /// An argument that must hold at least one element is empty.
    Empty { arg: &'static str },
}

impl CoreError {
    pub fn shape(arg: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        CoreError::Shape { arg, expected: expected.into(), got: got.into() }
    }
    pub fn value(arg: &'static str, reason: impl Into<String>) -> Self {
        CoreError::Value { arg, reason: reason.into() }
    }
    pub fn arg(&self) -> &'static str {
        match self {
            CoreError::Shape { arg, .. } | CoreError::Value { arg, .. } | CoreError::Empty { arg } => arg,
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Shape { arg, expected, got } => {
                write!(f, "{arg}: expected {expected}, got {got}")
            }
            CoreError::Value { arg, reason } => write!(f, "{arg}: {reason}"),
            CoreError::Empty { arg } => write!(f, "{arg}: must not be empty"),
        }
    }
}

impl std::error::Error for CoreError {}

pub type Result<T> = std::result::Result<T, CoreError>;

/// Checks that a scalar hyper-parameter is finite (NaN/inf would silently poison every output).
pub fn check_finite(arg: &'static str, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(CoreError::value(arg, format!("must be finite, got {x}")))
    }
}
