//! Blob directories (`<blob_dir>/<hh>/<hex>`): files and bytes stored by content address,
//! with the GIL released.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use fwtrack_core::blobdir;

use crate::errors::io_to_py;

/// Files stored per GIL release; Ctrl-C is looked at between batches.
const BATCH: usize = 1024;

/// Store each file of `paths` in `blob_dir`: read once (a symbolic link or anything but a
/// regular file refused), copied into `<blob_dir>/tmp/` while hashed, renamed to its
/// address. Files in parallel, no fsync per file, one `syncfs` at the end when anything was
/// written. Results in order: `(address, size)`, or an `OSError` instance naming the file.
#[pyfunction]
pub fn store_files(
    py: Python<'_>,
    blob_dir: PathBuf,
    paths: Vec<PathBuf>,
) -> PyResult<Vec<Py<PyAny>>> {
    let mut results = Vec::with_capacity(paths.len());
    let mut wrote = false;
    for batch in paths.chunks(BATCH) {
        let stored = py.detach(|| blobdir::store_files_unsynced(&blob_dir, batch));
        wrote |= stored.iter().any(|r| r.as_ref().is_ok_and(|s| s.written));
        results.extend(stored);
        py.check_signals()?;
    }
    if wrote {
        py.detach(|| blobdir::sync(&blob_dir))
            .map_err(|e| io_to_py(&e))?;
    }
    results
        .into_iter()
        .map(|r| match r {
            Ok(s) => Ok((s.address.to_string(), s.size)
                .into_pyobject(py)?
                .into_any()
                .unbind()),
            Err(e) => Ok(io_to_py(&e).into_value(py).into_any()),
        })
        .collect()
}

/// Store `data` in `blob_dir` under its address (unless it is there already), the file and
/// its directory fsynced; `(address, size)`. OSError naming the file when it cannot be
/// written.
#[pyfunction]
pub fn store_blob(
    py: Python<'_>,
    blob_dir: PathBuf,
    data: &Bound<'_, PyBytes>,
) -> PyResult<(String, u64)> {
    let bytes = data.as_bytes();
    let s = py
        .detach(|| blobdir::store_blob(&blob_dir, bytes))
        .map_err(|e| io_to_py(&e))?;
    Ok((s.address.to_string(), s.size))
}
