//! `store_payload`: a media payload hashed and written once, with the GIL released.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::io_to_py;

/// Hash `payload` (BLAKE3) and, unless `<dir>/<hex>.<ext>` exists, write it there through a
/// fsynced temporary file renamed into place (`dir` made when missing); one call with the GIL
/// released, so the media worker hands the GIL back once per payload. Returns `(address,
/// size)`. An I/O error is an `OSError` naming the file.
#[pyfunction]
pub fn store_payload(
    py: Python<'_>,
    dir: PathBuf,
    ext: &str,
    payload: &Bound<'_, PyBytes>,
) -> PyResult<(String, usize)> {
    let data = payload.as_bytes();
    let stored = py
        .detach(|| fwtrack_core::payload::store(&dir, ext, data))
        .map_err(|e| io_to_py(&e))?;
    Ok((stored.address.to_string(), data.len()))
}
