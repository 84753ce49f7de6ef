//! Content addresses: BLAKE3 of buffers and files, hashed with the GIL released.

use std::path::PathBuf;

use numpy::npyffi::_PyArray_GET_ITEM_DATA;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use parking_lot::Mutex;
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

use fwtrack_core::address::{self, Address};

use crate::errors::io_to_py;

/// The bytes of a C-contiguous buffer (bytes, bytearray, memoryview, numpy array, anything
/// with the buffer protocol), borrowed without a copy for as long as the view lives.
///
/// `bytes` are read directly and numpy arrays through their data pointer; any other buffer
/// is wrapped by `numpy.frombuffer` (the limited API of Python 3.10 has no buffer protocol),
/// whose array holds the buffer export, so a `bytearray` cannot be resized meanwhile.
enum ByteView<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(Bound<'py, PyUntypedArray>),
}

fn not_contiguous(kind: &str) -> PyErr {
    PyValueError::new_err(format!(
        "cannot hash a non-contiguous {kind} in place; hint: pass numpy.ascontiguousarray(x) or bytes(x)"
    ))
}

impl<'py> ByteView<'py> {
    fn get(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(ByteView::Bytes(b.clone()));
        }
        let array = if let Ok(a) = obj.cast::<PyUntypedArray>() {
            a.clone()
        } else {
            static FROMBUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let py = obj.py();
            let frombuffer = FROMBUFFER.import(py, "numpy", "frombuffer")?;
            let flat = frombuffer.call1((obj, "u1")).map_err(|e| {
                if e.is_instance_of::<PyBufferError>(py) {
                    not_contiguous("buffer")
                } else {
                    e
                }
            })?;
            flat.cast_into::<PyUntypedArray>()?
        };
        if !array.is_c_contiguous() {
            return Err(not_contiguous("numpy array"));
        }
        if array.dtype().has_object() {
            return Err(PyTypeError::new_err(
                "cannot hash a numpy array of Python objects; hint: hash the bytes of each object",
            ));
        }
        Ok(ByteView::Array(array))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            ByteView::Bytes(b) => b.as_bytes(),
            ByteView::Array(a) => {
                let len = a.len() * a.dtype().itemsize();
                if len == 0 {
                    return &[];
                }
                // SAFETY: a C-contiguous array holds `len` bytes at its data pointer, kept
                // alive by the array object this view holds a reference to.
                unsafe {
                    let data = (*_PyArray_GET_ITEM_DATA(a.as_array_ptr())).data;
                    std::slice::from_raw_parts(data.cast::<u8>(), len)
                }
            }
        }
    }
}

/// The BLAKE3 address (`blake3:<hex>`) of the bytes of any C-contiguous buffer.
#[pyfunction]
pub fn hash_bytes(py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<String> {
    let view = ByteView::get(buffer)?;
    let data = view.bytes();
    Ok(py.detach(|| address::hash_bytes(data)).to_string())
}

/// The BLAKE3 address and size of the regular file at `path` (a symbolic link is refused).
#[pyfunction]
pub fn hash_file(py: Python<'_>, path: PathBuf) -> PyResult<(String, u64)> {
    let (a, size) = py
        .detach(|| address::hash_file(&path))
        .map_err(|e| io_to_py(&e))?;
    Ok((a.to_string(), size))
}

/// The addresses and sizes of `paths`, hashed in parallel; None for a file that cannot be
/// read (missing, a symbolic link, not a regular file).
#[pyfunction]
pub fn hash_files(py: Python<'_>, paths: Vec<PathBuf>) -> Vec<Option<(String, u64)>> {
    let results = py.detach(|| address::hash_files(&paths));
    results
        .into_iter()
        .map(|r| r.ok().map(|(a, size)| (a.to_string(), size)))
        .collect()
}

/// `address` normalised (lowercase hex), or ValueError naming it and the expected form.
#[pyfunction]
pub fn check_address(address: &str) -> PyResult<String> {
    Address::parse(address)
        .map(|a| a.to_string())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Incremental BLAKE3: `update()` with pieces, `hexdigest()` for the address so far.
#[pyclass(name = "Hasher", module = "fwtrack._core", frozen)]
pub struct PyHasher {
    inner: Mutex<address::Hasher>,
}

#[pymethods]
impl PyHasher {
    #[new]
    fn new() -> Self {
        PyHasher {
            inner: Mutex::new(address::Hasher::new()),
        }
    }

    /// Add the bytes of a C-contiguous buffer.
    fn update(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<()> {
        let view = ByteView::get(buffer)?;
        let data = view.bytes();
        py.detach(|| {
            self.inner.lock().update(data);
        });
        Ok(())
    }

    /// The address (`blake3:<hex>`) of everything added so far.
    fn hexdigest(&self, py: Python<'_>) -> String {
        py.detach(|| self.inner.lock().finalize()).to_string()
    }

    /// The number of bytes added so far.
    #[getter]
    fn size(&self) -> u64 {
        self.inner.lock().len()
    }
}
