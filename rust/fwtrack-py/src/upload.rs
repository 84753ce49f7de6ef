//! `Uploader`: the PyO3 face of `fwtrack-upload`. Waiting happens with the GIL released, in
//! short slices so that Ctrl-C gets through.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use fwtrack_upload::{Config, Error, Outcome, Uploader};

/// How long one GIL-free wait lasts before signals are checked.
const SLICE: Duration = Duration::from_millis(100);

fn seconds(what: &str, value: f64) -> PyResult<Duration> {
    if value.is_finite() && value > 0.0 && value <= 1e7 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(PyValueError::new_err(format!(
            "{what}={value} is out of range; use a positive number of seconds"
        )))
    }
}

fn timeout(value: Option<f64>) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_secs_f64(v.min(1e9)))),
        Some(v) => Err(PyValueError::new_err(format!(
            "timeout={v} is out of range; use seconds >= 0, or None for no limit"
        ))),
    }
}

/// Uploads one run (its log and its files) to a fwtrack server from background threads.
#[pyclass(name = "Uploader", module = "fwtrack._core", frozen)]
pub struct PyUploader {
    inner: Uploader,
}

impl PyUploader {
    /// Wait (GIL released) until the thread ends or `deadline`; Ctrl-C raises.
    fn wait_sliced(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<bool> {
        loop {
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(self.inner.wait(Some(Duration::ZERO)));
                    }
                    left.min(SLICE)
                }
                None => SLICE,
            };
            if py.detach(|| self.inner.wait(Some(slice))) {
                return Ok(true);
            }
            py.check_signals()?;
        }
    }
}

fn outcome_dict<'py>(py: Python<'py>, o: &Outcome) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("done", o.done)?;
    d.set_item("acked", o.acked)?;
    d.set_item("remaining", o.remaining)?;
    d.set_item("unsent_tail", o.unsent_tail)?;
    d.set_item("timed_out", o.timed_out)?;
    d.set_item("error", o.error.as_deref())?;
    d.set_item("files_done", o.files_done)?;
    d.set_item("files_pending", o.files_pending)?;
    d.set_item("files_pending_bytes", o.files_pending_bytes)?;
    d.set_item("files_recorded", o.files_recorded)?;
    d.set_item("blobs_sent", o.blobs_sent)?;
    d.set_item("blob_bytes_sent", o.blob_bytes_sent)?;
    d.set_item("artifacts_pending", o.artifacts_pending)?;
    d.set_item("artifacts_committed", o.artifacts_committed)?;
    d.set_item("artifacts_failed", o.artifacts_failed)?;
    Ok(d)
}

#[pymethods]
impl PyUploader {
    #[new]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature
    #[pyo3(signature = (
        base_url, api_key, project, run_id, run_dir, *, entity = None, follow = false,
        max_batch_bytes = 4 << 20, heartbeat = 30.0, poll_interval = 0.2,
        request_timeout = 120.0, backoff_initial = 0.1, backoff_max = 30.0, files = true,
        files_interval = 10.0, max_pack_bytes = 8 << 20
    ))]
    fn new(
        base_url: &str,
        api_key: &str,
        project: &str,
        run_id: &str,
        run_dir: PathBuf,
        entity: Option<String>,
        follow: bool,
        max_batch_bytes: usize,
        heartbeat: f64,
        poll_interval: f64,
        request_timeout: f64,
        backoff_initial: f64,
        backoff_max: f64,
        files: bool,
        files_interval: f64,
        max_pack_bytes: usize,
    ) -> PyResult<Self> {
        let mut cfg = Config::new(base_url, api_key, entity, project, run_id, &run_dir);
        cfg.max_batch_bytes = max_batch_bytes;
        cfg.heartbeat = seconds("heartbeat", heartbeat)?;
        cfg.poll_interval = seconds("poll_interval", poll_interval)?;
        cfg.request_timeout = seconds("request_timeout", request_timeout)?;
        cfg.backoff_initial = seconds("backoff_initial", backoff_initial)?;
        cfg.backoff_max = seconds("backoff_max", backoff_max)?;
        cfg.files_interval = seconds("files_interval", files_interval)?;
        cfg.max_pack_bytes = max_pack_bytes;
        if !files {
            cfg.files_dir = None;
        }
        if follow {
            cfg.follow_lock = Some(run_dir.join(fwtrack_core::LOCK_FILE_NAME));
        }
        match Uploader::start(cfg) {
            Ok(inner) => Ok(PyUploader { inner }),
            Err(e @ Error::Config(_)) => Err(PyValueError::new_err(e.to_string())),
            Err(e @ Error::Spawn(_)) => Err(PyRuntimeError::new_err(e.to_string())),
        }
    }

    /// The log grew: look at it now rather than at the next poll. Never waits.
    fn notify(&self) {
        self.inner.notify();
    }

    /// `{"acked", "local_size", "state", "last_error", "entity", "complete", "files_done",
    /// "files_total", "files_pending", "files_pending_bytes", "files_recorded", "blobs_sent",
    /// "blob_bytes_sent", "artifacts_pending", "artifacts_committed", "artifacts_failed"}`.
    /// Never waits on the network.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.inner.status());
        let d = PyDict::new(py);
        d.set_item("acked", s.acked)?;
        d.set_item("local_size", s.local_size)?;
        d.set_item("state", s.state.as_str())?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("entity", s.entity)?;
        d.set_item("complete", s.complete)?;
        d.set_item("files_done", s.files_done)?;
        d.set_item("files_total", s.files_total)?;
        d.set_item("files_pending", s.files_pending)?;
        d.set_item("files_pending_bytes", s.files_pending_bytes)?;
        d.set_item("files_recorded", s.files_recorded)?;
        d.set_item("blobs_sent", s.blobs_sent)?;
        d.set_item("blob_bytes_sent", s.blob_bytes_sent)?;
        d.set_item("artifacts_pending", s.artifacts_pending)?;
        d.set_item("artifacts_committed", s.artifacts_committed)?;
        d.set_item("artifacts_failed", s.artifacts_failed)?;
        Ok(d)
    }

    /// Look at the run's files and pending artifact commits now rather than at the next
    /// `files_interval` (once the server holds the run). Never waits.
    fn notify_files(&self) {
        self.inner.notify_files();
    }

    /// Declare the log complete (upload to its current end, then stop), giving up after
    /// `timeout` seconds (None: no limit). Does not wait.
    #[pyo3(signature = (timeout = None))]
    fn complete(&self, timeout: Option<f64>) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        self.inner.complete(t);
        Ok(())
    }

    /// Wait until the upload thread has ended, at most `timeout` seconds (None: no limit).
    /// True when it has ended.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = self::timeout(timeout)?.map(|t| Instant::now() + t);
        self.wait_sliced(py, deadline)
    }

    /// Wait until the server answered once (or the first attempt failed, or the thread
    /// ended), at most `timeout` seconds. True when that happened.
    fn wait_ready(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let t = self::timeout(Some(timeout))?.unwrap_or_default();
        Ok(py.detach(|| self.inner.wait_ready(t)))
    }

    /// The log is complete: upload the rest of it and of the run's files, waiting at most
    /// `timeout` seconds (None: no limit); past it the upload stops. Returns `{"done",
    /// "acked", "remaining", "unsent_tail", "error", "timed_out", "files_done",
    /// "files_pending", "files_pending_bytes", "files_recorded", "blobs_sent",
    /// "blob_bytes_sent", "artifacts_pending", "artifacts_committed", "artifacts_failed"}`.
    /// Ctrl-C stops the upload and raises KeyboardInterrupt.
    #[pyo3(signature = (timeout = None))]
    fn finish<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let t = self::timeout(timeout)?;
        let deadline = t.map(|t| Instant::now() + t);
        self.inner.complete(t);
        match self.wait_sliced(py, deadline) {
            Ok(true) => {}
            Ok(false) => self.inner.abort(),
            Err(e) => {
                self.inner.abort();
                return Err(e);
            }
        }
        outcome_dict(py, &self.inner.outcome())
    }

    /// What the upload has achieved so far (see `finish`); never waits.
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        outcome_dict(py, &self.inner.outcome())
    }

    /// Stop the upload thread as soon as possible; never waits.
    fn abort(&self) {
        self.inner.abort();
    }

    /// Warnings for the user, each reported once.
    fn take_warnings(&self) -> Vec<String> {
        self.inner.take_warnings()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.status();
        format!(
            "Uploader(state={}, acked={}, local_size={}, files_pending={})",
            s.state.as_str(),
            s.acked,
            s.local_size,
            s.files_pending
        )
    }
}
