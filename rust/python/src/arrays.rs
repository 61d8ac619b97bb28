//! Borrowing numpy arrays as slices, by dtype. The Python facade already normalised dtype and
//! contiguity with a clear message; these checks are the last line of defence.

use crate::errors::invalid;
use numpy::{Element, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

pub enum Floats<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

impl Floats<'_> {
    pub fn shape(&self) -> &[usize] {
        match self {
            Floats::F32(a) => a.shape(),
            Floats::F64(a) => a.shape(),
        }
    }
}

fn dtype_name(obj: &Bound<'_, PyAny>) -> String {
    obj.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| obj.get_type().to_string())
}

fn contiguous<'py, T: Element>(arg: &str, a: PyReadonlyArrayDyn<'py, T>) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    if a.is_c_contiguous() {
        Ok(a)
    } else {
        Err(invalid(arg, "must be C-contiguous (call np.ascontiguousarray or tensor.contiguous())"))
    }
}

pub fn floats<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<Floats<'py>> {
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<f32>>() {
        return Ok(Floats::F32(contiguous(arg, a)?));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<f64>>() {
        return Ok(Floats::F64(contiguous(arg, a)?));
    }
    Err(invalid(arg, format!("must be a float32 or float64 numpy array, got {}", dtype_name(obj))))
}

/// An array that must have the element type `T` of an earlier argument.
pub fn same<'py, T: Element>(arg: &str, like: &str, obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    match obj.extract::<PyReadonlyArrayDyn<T>>() {
        Ok(a) => contiguous(arg, a),
        Err(_) => Err(invalid(
            arg,
            format!("dtype {} does not match the dtype of {like} ({})", dtype_name(obj), std::any::type_name::<T>()),
        )),
    }
}

pub enum Mask<'py> {
    Bool(PyReadonlyArrayDyn<'py, bool>),
    U8(PyReadonlyArrayDyn<'py, u8>),
    I8(PyReadonlyArrayDyn<'py, i8>),
    I32(PyReadonlyArrayDyn<'py, i32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
    Absent,
}

pub fn mask<'py>(arg: &str, obj: Option<&Bound<'py, PyAny>>) -> PyResult<Mask<'py>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Mask::Absent) };
    macro_rules! try_as {
        ($t:ty, $v:ident) => {
            if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<$t>>() {
                return Ok(Mask::$v(contiguous(arg, a)?));
            }
        };
    }
    try_as!(bool, Bool);
    try_as!(u8, U8);
    try_as!(i8, I8);
    try_as!(i32, I32);
    try_as!(i64, I64);
    try_as!(f32, F32);
    try_as!(f64, F64);
    Err(invalid(arg, format!("must be a bool, uint8, int8, int32, int64, float32 or float64 array, got {}", dtype_name(obj))))
}

pub fn slice<'a, T: Element>(a: &'a PyReadonlyArrayDyn<'_, T>) -> &'a [T] {
    a.as_slice().expect("checked C-contiguous")
}

/// Expands `$body` with `$m: Option<&[M]>` bound for whichever mask dtype arrived.
#[macro_export]
macro_rules! with_mask {
    ($mask:expr, |$m:ident| $body:expr) => {
        match &$mask {
            $crate::arrays::Mask::Bool(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::U8(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::I8(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::I32(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::I64(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::F32(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::F64(a) => { let $m = Some($crate::arrays::slice(a)); $body }
            $crate::arrays::Mask::Absent => { let $m: Option<&[bool]> = None; $body }
        }
    };
}

/// Expands `$body` with `$x: &[F]` and the type alias `$t = F` for the float dtype that arrived.
#[macro_export]
macro_rules! with_floats {
    ($floats:expr, |$x:ident : $t:ident| $body:expr) => {
        match &$floats {
            $crate::arrays::Floats::F32(a) => { #[allow(dead_code)] type $t = f32; let $x = $crate::arrays::slice(a); $body }
            $crate::arrays::Floats::F64(a) => { #[allow(dead_code)] type $t = f64; let $x = $crate::arrays::slice(a); $body }
        }
    };
}
