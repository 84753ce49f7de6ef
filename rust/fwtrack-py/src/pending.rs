//! `PendingMedia`: a media value logged now whose descriptor is given later.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use fwtrack_core::lock::fork_generation;
use fwtrack_core::pending::{Completer, PendingValue, pending};

use crate::convert::py_to_mp;

/// A media record that `log()` queues in its place before its payload is stored. The thread
/// that stores the payload then calls `complete(descriptor)` (the record is written) or
/// `cancel(reason)` (it is left out; `reason` becomes a warning of the run). Until then, the
/// run's writer waits at this record, and everything logged after it waits behind it.
/// Dropping the handle unsettled cancels it. Made by the media worker, not by users.
#[pyclass(module = "fwtrack._core", name = "PendingMedia", frozen)]
pub struct PyPendingMedia {
    completer: Completer,
    pub(crate) value: PendingValue,
    generation: u64,
}

impl PyPendingMedia {
    /// True in a process forked after this handle was made: the slot belongs to the
    /// parent's writer, which the child never writes to.
    fn forked(&self) -> bool {
        self.generation != fork_generation()
    }
}

#[pymethods]
impl PyPendingMedia {
    #[new]
    fn new() -> Self {
        let (completer, value) = pending();
        PyPendingMedia {
            completer,
            value,
            generation: fork_generation(),
        }
    }

    /// Give the descriptor: the record is written in its place. False when the record was
    /// already completed or cancelled.
    fn complete(&self, descriptor: &Bound<'_, PyDict>) -> PyResult<bool> {
        if self.forked() {
            return Ok(false);
        }
        let value = py_to_mp(descriptor.as_any())?;
        Ok(self.completer.complete(value))
    }

    /// Leave the record out; `reason` (when given) is reported as a warning of the run.
    /// False when the record was already completed or cancelled.
    #[pyo3(signature = (reason = None))]
    fn cancel(&self, reason: Option<String>) -> bool {
        if self.forked() {
            return false;
        }
        self.completer.cancel(reason)
    }

    /// Whether the record was completed or cancelled.
    #[getter]
    fn settled(&self) -> bool {
        !self.forked() && self.completer.is_settled()
    }

    fn __repr__(&self) -> String {
        let state = if self.settled() { "settled" } else { "pending" };
        format!("PendingMedia({state})")
    }
}

impl Drop for PyPendingMedia {
    fn drop(&mut self) {
        if self.forked() {
            self.completer.disarm();
        }
    }
}
