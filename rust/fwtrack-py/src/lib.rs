//! `fwtrack._core`: the PyO3 glue over `fwtrack-core`. Argument conversion, GIL release and
//! error mapping only; the algorithms live in the core crate.

use pyo3::prelude::*;

mod address;
mod blobdir;
mod convert;
mod errors;
mod hist;
mod index;
mod payload;
mod pending;
mod reader;
mod series_wire;
mod upload;
mod writer;

/// Mark this process as a forked child: every existing `RunWriter` goes inert.
#[pyfunction]
fn after_fork_child() {
    fwtrack_core::lock::after_fork_child();
}

/// True in a process forked from one that imported fwtrack.
#[pyfunction]
fn is_forked_child() -> bool {
    fwtrack_core::lock::fork_generation() > 0
}

/// True when a live writer holds the run directory's lock.
#[pyfunction]
fn is_locked(path: std::path::PathBuf) -> bool {
    let lock = if path.is_dir() {
        path.join(fwtrack_core::LOCK_FILE_NAME)
    } else {
        path
    };
    fwtrack_core::lock::is_locked(&lock)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", fwtrack_core::VERSION)?;
    m.add("FORMAT_VERSION", fwtrack_core::codec::FORMAT_VERSION)?;
    m.add("LOG_FILE_NAME", fwtrack_core::LOG_FILE_NAME)?;
    m.add("LOG_HEADER_LEN", fwtrack_core::codec::HEADER_LEN)?;
    m.add("FRAME_HEADER_LEN", fwtrack_core::codec::FRAME_HEADER_LEN)?;
    m.add("CorruptLogError", py.get_type::<errors::CorruptLogError>())?;
    m.add_class::<writer::PyRunWriter>()?;
    m.add_class::<reader::PyRunReader>()?;
    m.add_class::<reader::RowIter>()?;
    m.add_class::<hist::PyHistogram>()?;
    m.add_class::<convert::PyMediaValue>()?;
    m.add_class::<pending::PyPendingMedia>()?;
    m.add_function(wrap_pyfunction!(payload::store_payload, m)?)?;
    m.add_function(wrap_pyfunction!(writer::amend_run, m)?)?;
    m.add_class::<writer::ConsoleReader>()?;
    m.add_class::<upload::PyUploader>()?;
    m.add_class::<address::PyHasher>()?;
    m.add_function(wrap_pyfunction!(hist::histogram, m)?)?;
    m.add_function(wrap_pyfunction!(reader::scan_rows, m)?)?;
    m.add_function(wrap_pyfunction!(after_fork_child, m)?)?;
    m.add_function(wrap_pyfunction!(is_forked_child, m)?)?;
    m.add_function(wrap_pyfunction!(is_locked, m)?)?;
    m.add_function(wrap_pyfunction!(index::validate_frames, m)?)?;
    m.add_function(wrap_pyfunction!(index::frame_sequence, m)?)?;
    m.add_function(wrap_pyfunction!(index::log_next_seq, m)?)?;
    m.add_function(wrap_pyfunction!(index::index_update, m)?)?;
    m.add_function(wrap_pyfunction!(index::index_read_meta, m)?)?;
    m.add_function(wrap_pyfunction!(index::read_series, m)?)?;
    m.add_function(wrap_pyfunction!(index::downsample, m)?)?;
    m.add_function(wrap_pyfunction!(series_wire::encode_history, m)?)?;
    index::register_parts(m)?;
    m.add_function(wrap_pyfunction!(address::hash_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(address::hash_file, m)?)?;
    m.add_function(wrap_pyfunction!(address::hash_files, m)?)?;
    m.add_function(wrap_pyfunction!(address::check_address, m)?)?;
    m.add_function(wrap_pyfunction!(blobdir::store_files, m)?)?;
    m.add_function(wrap_pyfunction!(blobdir::store_blob, m)?)?;
    Ok(())
}
