//! The one place core errors become Python exceptions.

use pyo3::PyErr;
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError};

use fwtrack_core::Error;

create_exception!(
    _core,
    CorruptLogError,
    PyOSError,
    "A file that is not a fwtrack run log, or a format version this fwtrack cannot read."
);

/// The `OSError` subclass of an I/O error's kind, with `msg`.
fn os_error(kind: std::io::ErrorKind, msg: String) -> PyErr {
    match kind {
        std::io::ErrorKind::NotFound => pyo3::exceptions::PyFileNotFoundError::new_err(msg),
        std::io::ErrorKind::PermissionDenied => pyo3::exceptions::PyPermissionError::new_err(msg),
        _ => PyOSError::new_err(msg),
    }
}

/// An I/O error whose message already names its file (as the core's hashing errors do).
pub fn io_to_py(e: &std::io::Error) -> PyErr {
    os_error(e.kind(), e.to_string())
}

/// Convert a core error into the matching Python exception.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Io { path, source } => os_error(source.kind(), format!("{path}: {source}")),
        e @ (Error::NotALog { .. } | Error::UnsupportedVersion { .. } | Error::Decode(_)) => {
            CorruptLogError::new_err(e.to_string())
        }
        e @ Error::Locked { .. } => PyRuntimeError::new_err(format!(
            "{e}\nhint: finish the other process's run first, or resume a different run id"
        )),
        e @ (Error::Finished | Error::WriterGone(_)) => PyRuntimeError::new_err(e.to_string()),
    }
}

/// `Result` of the core, into a `PyResult`.
pub trait IntoPy<T> {
    fn py_err(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPy<T> for fwtrack_core::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
