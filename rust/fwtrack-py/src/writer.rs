//! `RunWriter`: the logging side of a run.

use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rmpv::Value as Mp;

use fwtrack_core::console;
use fwtrack_core::index::json;
use fwtrack_core::lock::fork_generation;
use fwtrack_core::pending::Entry;
use fwtrack_core::record::{
    ALERT_LEVELS, ConsoleLines, Finish, Key, MetricDef, Record, SummarySnapshot, SystemSample,
};
use fwtrack_core::steps::{Outcome, StepState};
use fwtrack_core::summary::AGGREGATIONS;
use fwtrack_core::writer::{DEFAULT_QUEUE_BYTES, Writer, WriterOptions};

use crate::convert::{Converted, convert_row, json_or_obj_to_mp, mp_to_py};
use crate::errors::IntoPy;

/// The thread recording one captured console stream (`RunWriter.read_console`).
#[pyclass(name = "ConsoleReader", module = "fwtrack._core", frozen)]
pub struct ConsoleReader {
    handle: Mutex<Option<JoinHandle<()>>>,
}

#[pymethods]
impl ConsoleReader {
    /// Wait up to `timeout` seconds for the stream to end and its last lines to be queued;
    /// True when it has.
    fn join(&self, py: Python<'_>, timeout: f64) -> bool {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.max(0.0));
        py.detach(|| {
            let mut slot = self.handle.lock();
            loop {
                match slot.as_ref() {
                    None => return true,
                    Some(h) if h.is_finished() => {
                        if let Some(h) = slot.take() {
                            let _ = h.join();
                        }
                        return true;
                    }
                    Some(_) if Instant::now() >= deadline => return false,
                    Some(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        })
    }
}

/// Owns one run log and the writer thread appending to it.
#[pyclass(name = "RunWriter", module = "fwtrack._core", frozen)]
pub struct PyRunWriter {
    writer: Writer,
    steps: Mutex<StepState>,
    converter: Py<PyAny>,
    warn: Py<PyAny>,
    started: Instant,
    /// The run's start as Unix time: the info's `started_at` when it has one (an importer
    /// sets it to when the run really started), else when this writer opened.
    started_unix: f64,
    runtime_offset: f64,
    generation: u64,
    fork_warned: AtomicBool,
    gone_warned: AtomicBool,
    finished: AtomicBool,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl PyRunWriter {
    fn clock(&self) -> (f64, f64) {
        (
            now_unix(),
            self.runtime_offset + self.started.elapsed().as_secs_f64(),
        )
    }

    /// (Unix time, run time) of an event at Unix time `ts`: `rt` when given, else `ts` less
    /// the run's start (never below zero).
    fn clock_at(&self, ts: f64, rt: Option<f64>) -> PyResult<(f64, f64)> {
        if !ts.is_finite() {
            return Err(PyValueError::new_err(format!(
                "ts={ts} is not a Unix time; pass seconds since the epoch"
            )));
        }
        let rt = rt.unwrap_or(self.runtime_offset + (ts - self.started_unix).max(0.0));
        if !rt.is_finite() || rt < 0.0 {
            return Err(PyValueError::new_err(format!(
                "rt={rt} is not a run time; pass seconds since the run started (>= 0)"
            )));
        }
        Ok((ts, rt))
    }

    /// True (after one warning) when this object was inherited through `fork()`.
    fn inert(&self, py: Python<'_>) -> bool {
        if self.generation == fork_generation() {
            return false;
        }
        if !self.fork_warned.swap(true, Ordering::Relaxed) {
            let _ = self.warn.call1(
                py,
                (
                    "fwtrack: this process was forked from the one that started the run; its \
                  fwtrack calls are ignored (log from the parent process, or call \
                  fwtrack.init() in the child for a run of its own)",
                ),
            );
        }
        true
    }

    fn check_open(&self) -> PyResult<()> {
        if self.finished.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err(
                "the run is finished; nothing more can be logged to it. hint: start a new run \
                 with fwtrack.init()",
            ));
        }
        Ok(())
    }

    /// Lock the step state. Waiting happens with the GIL released: a thread holding the
    /// lock may itself be waiting (GIL released) for room in the queue.
    fn lock_steps(&self, py: Python<'_>) -> parking_lot::MutexGuard<'_, StepState> {
        match self.steps.try_lock() {
            Some(g) => g,
            None => py.detach(|| self.steps.lock()),
        }
    }

    fn report_warnings(&self, py: Python<'_>) {
        for w in self.writer.take_warnings() {
            let _ = self.warn.call1(py, (w,));
        }
    }

    fn enqueue(&self, py: Python<'_>, entries: Vec<Entry>) -> PyResult<()> {
        let sent = match self.writer.try_send_entries(entries) {
            Ok(None) => Ok(()),
            // The queue is full: wait for the writer without holding the GIL.
            Ok(Some(back)) => py.detach(|| self.writer.send_entries(back)),
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => Ok(()),
            // A writer that died must not take the training down: report once, go on.
            Err(e) => {
                if !self.gone_warned.swap(true, Ordering::Relaxed) {
                    self.warn.call1(
                        py,
                        (format!(
                            "fwtrack: {e}; data logged from now on is not recorded (what was \
                             logged before is in the run log)"
                        ),),
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn check_stream(stream: &str) -> PyResult<()> {
    if matches!(stream, "stdout" | "stderr") {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "stream={stream:?} is not a console stream; use \"stdout\" or \"stderr\""
        )))
    }
}

/// The MessagePack body of an artifact record from its JSON text: an object with string
/// `name` and `digest`, or ValueError naming what is wrong.
fn artifact_body(body_json: &str) -> PyResult<Mp> {
    let body = json::parse(body_json).map_err(|e| {
        PyValueError::new_err(format!(
            "the artifact record body is not valid JSON ({e}); pass json.dumps() of a dict"
        ))
    })?;
    let Mp::Map(entries) = &body else {
        return Err(PyValueError::new_err(
            "the artifact record body must be a JSON object with string \"name\" and \"digest\"",
        ));
    };
    for field in ["name", "digest"] {
        match entries.iter().find(|(k, _)| k.as_str() == Some(field)) {
            Some((_, v)) if v.is_str() => {}
            Some((_, v)) => {
                return Err(PyValueError::new_err(format!(
                    "the artifact record body's {field:?} is {}, not a string; pass the \
                     artifact's {field} as a string",
                    json::to_string(v)
                )));
            }
            None => {
                return Err(PyValueError::new_err(format!(
                    "the artifact record body has no {field:?}; it needs string \"name\" and \
                     \"digest\" fields"
                )));
            }
        }
    }
    Ok(body)
}

/// Open the writer of `path`. `info` is the run-start info (a dict, or its JSON text), or a
/// callable making it from the metadata of the log being resumed (`RunReader.meta()`'s
/// dict, None for a new log): the log is decoded once, for both. Returns the info too.
fn open_writer(
    py: Python<'_>,
    path: &std::path::Path,
    info: &Bound<'_, PyAny>,
    resume: bool,
    opts: WriterOptions,
) -> PyResult<(Writer, fwtrack_core::writer::Recovered, Mp)> {
    if !info.is_callable() {
        let info = json_or_obj_to_mp(info)?;
        let start = Record::RunStart(info.clone());
        let (writer, recovered) = py
            .detach(|| Writer::open(path, start, resume, opts))
            .py_err()?;
        return Ok((writer, recovered, info));
    }
    let make = info.clone().unbind();
    let mut failed: Option<PyErr> = None;
    let mut made = Mp::Nil;
    let opened = py.detach(|| {
        Writer::open_with(
            path,
            |prior| {
                Python::attach(|py| {
                    let prior = match prior {
                        Some(m) => mp_to_py(py, &m.to_mp())?,
                        None => py.None().into_bound(py),
                    };
                    json_or_obj_to_mp(&make.bind(py).call1((prior,))?)
                })
                .map(|info| {
                    made = info.clone();
                    Record::RunStart(info)
                })
                .map_err(|e| {
                    failed = Some(e);
                    fwtrack_core::error::Error::WriterGone("the run info was not made".into())
                })
            },
            resume,
            opts,
        )
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let (writer, recovered) = opened.py_err()?;
    Ok((writer, recovered, made))
}

#[pymethods]
impl PyRunWriter {
    #[new]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature
    #[pyo3(signature = (path, info, *, resume = false, flush_interval = 1.0, queue_capacity = 65536, queue_bytes = DEFAULT_QUEUE_BYTES, converter, warn))]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        info: &Bound<'_, PyAny>,
        resume: bool,
        flush_interval: f64,
        queue_capacity: usize,
        queue_bytes: usize,
        converter: Py<PyAny>,
        warn: Py<PyAny>,
    ) -> PyResult<Self> {
        if !(flush_interval.is_finite() && flush_interval > 0.0 && flush_interval <= 3600.0) {
            return Err(PyValueError::new_err(format!(
                "flush_interval={flush_interval} is out of range; use seconds in (0, 3600]"
            )));
        }
        if queue_capacity == 0 {
            return Err(PyValueError::new_err(
                "queue_capacity=0 is out of range; use at least 1",
            ));
        }
        if queue_bytes == 0 {
            return Err(PyValueError::new_err(
                "queue_bytes=0 is out of range; use a budget of bytes >= 1, e.g. 4194304 (4 MiB)",
            ));
        }
        let opts = WriterOptions {
            flush_interval: Duration::from_secs_f64(flush_interval),
            queue_capacity,
            queue_bytes,
            ..WriterOptions::default()
        };
        let (writer, recovered, info) = open_writer(py, &path, info, resume, opts)?;
        let started_unix = match &info {
            Mp::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some("started_at"))
                .and_then(|(_, v)| v.as_f64()),
            _ => None,
        }
        .filter(|t| t.is_finite())
        .unwrap_or_else(now_unix);
        Ok(PyRunWriter {
            writer,
            steps: Mutex::new(StepState::new(recovered.last_step)),
            converter,
            warn,
            started: Instant::now(),
            started_unix,
            runtime_offset: recovered.runtime,
            generation: fork_generation(),
            fork_warned: AtomicBool::new(false),
            gone_warned: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        })
    }

    /// Log one row (see docs/api.md, "Steps").
    #[pyo3(signature = (data, step = None, commit = true))]
    fn log(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyDict>,
        step: Option<i64>,
        commit: bool,
    ) -> PyResult<()> {
        if self.inert(py) {
            return Ok(());
        }
        self.check_open()?;
        let step = match step {
            Some(s) if s < 0 => {
                return Err(PyValueError::new_err(format!(
                    "step={s} is negative; steps start at 0"
                )));
            }
            Some(s) => Some(s as u64),
            None => None,
        };
        let mut row = Converted::default();
        convert_row(data, self.converter.bind(py), &mut row)?;
        let mut out = Vec::with_capacity(1 + row.attachments.len());
        let outcome = {
            let mut st = self.lock_steps(py);
            let keys: Option<Vec<String>> = step
                .filter(|k| st.would_drop(*k))
                .map(|_| row.values.iter().map(|(k, _)| k.to_string()).collect());
            let o = st.log(
                row.values,
                row.attachments,
                step,
                commit,
                self.clock(),
                &mut out,
            );
            if !out.is_empty() {
                // Enqueue under the step lock so rows reach the log in step order.
                self.enqueue(py, out)?;
            }
            (o, keys)
        };
        if let (
            Outcome::Dropped {
                step,
                current,
                first: true,
            },
            keys,
        ) = outcome
        {
            let keys = keys.unwrap_or_default().join(", ");
            self.warn.call1(
                py,
                (format!(
                    "fwtrack: log(step={step}) was dropped because the run is already at \
                     step {current} (keys: {keys}); steps must not decrease. Further drops \
                     are not reported. hint: use define_metric(..., step_metric=...) for a \
                     custom x-axis"
                ),),
            )?;
        }
        self.report_warnings(py);
        Ok(())
    }

    /// Log one row committed at exactly `step` with Unix time `ts` and run time `rt`
    /// (default: `ts` less the run's start): history as it happened, for importers. A step
    /// below the current one raises ValueError.
    #[pyo3(signature = (data, step, ts, rt = None))]
    fn log_at(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyDict>,
        step: i64,
        ts: f64,
        rt: Option<f64>,
    ) -> PyResult<()> {
        if self.inert(py) {
            return Ok(());
        }
        self.check_open()?;
        let step = u64::try_from(step).map_err(|_| {
            PyValueError::new_err(format!("step={step} is negative; steps start at 0"))
        })?;
        let clock = self.clock_at(ts, rt)?;
        let mut row = Converted::default();
        convert_row(data, self.converter.bind(py), &mut row)?;
        let mut out = Vec::with_capacity(1 + row.attachments.len());
        let mut st = self.lock_steps(py);
        if st.would_drop(step) {
            return Err(PyValueError::new_err(format!(
                "log_at(step={step}) is below the run's current step {}; rows must be \
                 written in step order",
                st.step()
            )));
        }
        st.log(
            row.values,
            row.attachments,
            Some(step),
            true,
            clock,
            &mut out,
        );
        // Enqueue under the step lock so rows reach the log in step order.
        self.enqueue(py, out)?;
        drop(st);
        self.report_warnings(py);
        Ok(())
    }

    /// Append one system-metrics sample (`{key: float}`), timed now or at Unix time `ts`
    /// (run time `rt`, default `ts` less the run's start). Called from the sampler thread;
    /// after `finish` it does nothing.
    #[pyo3(signature = (values, ts = None, rt = None))]
    fn log_system(
        &self,
        py: Python<'_>,
        values: Vec<(String, f64)>,
        ts: Option<f64>,
        rt: Option<f64>,
    ) -> PyResult<()> {
        if self.inert(py) || self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let (timestamp, runtime) = match ts {
            Some(ts) => self.clock_at(ts, rt)?,
            None => self.clock(),
        };
        let values = values
            .into_iter()
            .map(|(k, v)| (Key::from(k.as_str()), v))
            .collect();
        self.enqueue(
            py,
            vec![Entry::Record(Record::System(SystemSample {
                timestamp,
                runtime,
                values,
            }))],
        )
    }

    /// Append console `lines` of `stream` ("stdout" or "stderr") printed at Unix time `ts`
    /// (one `Console` record; for importers and output not read from a pipe).
    fn log_console(
        &self,
        py: Python<'_>,
        stream: &str,
        lines: Vec<String>,
        ts: f64,
    ) -> PyResult<()> {
        check_stream(stream)?;
        if !ts.is_finite() {
            return Err(PyValueError::new_err(format!(
                "ts={ts} is not a Unix time; pass seconds since the epoch"
            )));
        }
        if self.inert(py) || self.finished.load(Ordering::Acquire) || lines.is_empty() {
            return Ok(());
        }
        self.enqueue(
            py,
            vec![Entry::Record(Record::Console(ConsoleLines {
                stream: stream.to_owned(),
                lines: lines.into_iter().map(|l| (ts, l)).collect(),
            }))],
        )
    }

    /// Append an alert (`Alert` record): `level` one of "INFO", "WARN", "ERROR". Ordered
    /// with the other records; after `finish` it does nothing.
    fn log_alert(&self, py: Python<'_>, title: &str, text: &str, level: &str) -> PyResult<()> {
        if !ALERT_LEVELS.contains(&level) {
            return Err(PyValueError::new_err(format!(
                "alert level {level:?} is unknown; use one of {}",
                ALERT_LEVELS.join(", ")
            )));
        }
        if title.is_empty() {
            return Err(PyValueError::new_err(
                "an alert needs a title; pass a short non-empty str",
            ));
        }
        if self.inert(py) || self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let body = Mp::Map(vec![
            (Mp::from("ts"), Mp::F64(now_unix())),
            (Mp::from("title"), Mp::from(title)),
            (Mp::from("text"), Mp::from(text)),
            (Mp::from("level"), Mp::from(level)),
        ]);
        self.enqueue(py, vec![Entry::Record(Record::Alert(body))])
    }

    /// Append a `RunEdit` record: run info keys set while the run runs (`run.name = ...`,
    /// `run.tags = ...`, `run.notes = ...`); readers show them over the start's info. After
    /// `finish` it does nothing.
    fn log_run_edit(&self, py: Python<'_>, info: &Bound<'_, PyAny>) -> PyResult<()> {
        let Mp::Map(info) = json_or_obj_to_mp(info)? else {
            return Err(PyValueError::new_err(
                "the run edit must be a dict (or a JSON object) of run info keys",
            ));
        };
        if self.inert(py) || self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let body = Mp::Map(vec![
            (Mp::from("ts"), Mp::F64(now_unix())),
            (Mp::from("info"), Mp::Map(info)),
        ]);
        self.enqueue(py, vec![Entry::Record(Record::RunEdit(body))])
    }

    /// Record the console output arriving on the pipe descriptor `fd` (which this call takes
    /// over and closes at its end) as `stream` ("stdout" or "stderr") lines, in a thread
    /// that never takes the GIL. The returned handle's `join(timeout)` waits for the pipe's
    /// end.
    fn read_console(&self, stream: &str, fd: i32) -> PyResult<ConsoleReader> {
        check_stream(stream)?;
        if fd < 0 {
            return Err(PyValueError::new_err(format!(
                "fd={fd} is not a descriptor"
            )));
        }
        // SAFETY: the caller hands over an open descriptor it no longer uses; the File owns
        // it from here on and closes it when the reader thread ends.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        let handle = console::spawn_reader(file, stream.to_owned(), self.writer.sender())
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start a console reader: {e}")))?;
        Ok(ConsoleReader {
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Append a full config snapshot: a dict converted straight to the record (a JSON
    /// object's text is accepted too).
    fn log_config(&self, py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.inert(py) {
            return Ok(());
        }
        self.check_open()?;
        let cfg = json_or_obj_to_mp(config)?;
        self.enqueue(py, vec![Entry::Record(Record::Config(cfg))])
    }

    /// Append an artifact record: `kind` "logged" (`ArtifactLogged`) or "used"
    /// (`ArtifactUsed`), `body_json` a JSON object with string `name` and `digest` (the other
    /// fields are in docs/format.md). Ordered with the other records; after `finish` it does
    /// nothing.
    fn log_artifact_record(&self, py: Python<'_>, kind: &str, body_json: &str) -> PyResult<()> {
        let logged = match kind {
            "logged" => true,
            "used" => false,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind={other:?} is not an artifact record kind; use \"logged\" or \"used\""
                )));
            }
        };
        let body = artifact_body(body_json)?;
        if self.inert(py) || self.finished.load(Ordering::Acquire) {
            return Ok(());
        }
        let record = if logged {
            Record::ArtifactLogged(body)
        } else {
            Record::ArtifactUsed(body)
        };
        self.enqueue(py, vec![Entry::Record(record)])
    }

    #[pyo3(signature = (name, step_metric = None, summary = Vec::new(), *, goal = None, hidden = false, step_sync = None))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature
    fn define_metric(
        &self,
        py: Python<'_>,
        name: String,
        step_metric: Option<String>,
        summary: Vec<String>,
        goal: Option<String>,
        hidden: bool,
        step_sync: Option<bool>,
    ) -> PyResult<()> {
        if self.inert(py) {
            return Ok(());
        }
        self.check_open()?;
        if name.is_empty() || name == "*" && summary.is_empty() && step_metric.is_none() {
            return Err(PyValueError::new_err(format!(
                "define_metric name {name:?} is empty; name a metric such as 'train/loss' or a prefix such as 'train/*'"
            )));
        }
        if let Some(bad) = summary.iter().find(|a| !AGGREGATIONS.contains(&a.as_str())) {
            return Err(PyValueError::new_err(format!(
                "summary aggregation {bad:?} is unknown; use one of {}",
                AGGREGATIONS.join(", ")
            )));
        }
        if let Some(g) = goal
            .as_deref()
            .filter(|g| !matches!(*g, "minimize" | "maximize"))
        {
            return Err(PyValueError::new_err(format!(
                "define_metric goal {g:?} is unknown; use \"minimize\" or \"maximize\""
            )));
        }
        self.enqueue(
            py,
            vec![Entry::Record(Record::MetricDef(MetricDef {
                name,
                step_metric,
                summary,
                goal,
                hidden,
                step_sync,
            }))],
        )
    }

    /// Explicit summary values (they win over computed ones): a dict converted straight to
    /// the record (a JSON object's text is accepted too).
    #[pyo3(signature = (values, delete = Vec::new()))]
    fn update_summary(
        &self,
        py: Python<'_>,
        values: &Bound<'_, PyAny>,
        delete: Vec<String>,
    ) -> PyResult<()> {
        if self.inert(py) {
            return Ok(());
        }
        self.check_open()?;
        let values = match json_or_obj_to_mp(values)? {
            Mp::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (k.as_str().map(str::to_owned).unwrap_or_default(), v))
                .collect(),
            Mp::Nil => Vec::new(),
            _ => {
                return Err(PyValueError::new_err(
                    "summary values must be a dict (or a JSON object)",
                ));
            }
        };
        py.detach(|| self.writer.set_summary(values, delete))
            .py_err()
    }

    /// The summary including everything logged so far.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.inert(py) {
            return Ok(PyDict::new(py).into_any());
        }
        let v = py.detach(|| self.writer.summary()).py_err()?;
        mp_to_py(py, &v)
    }

    /// Return when everything logged so far is written and fsynced.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        if self.inert(py) || self.writer.is_closed() {
            return Ok(());
        }
        let res = py.detach(|| self.writer.flush());
        self.report_warnings(py);
        if let Err(e) = res {
            // Disk trouble never raises into the training loop: it is reported instead.
            self.warn.call1(
                py,
                (format!(
                    "fwtrack: flush() could not make the logged data durable ({e}); it stays \
                     in memory and is written when the disk accepts it"
                ),),
            )?;
        }
        Ok(())
    }

    /// Commit a pending row, write the finish record, fsync and stop the writer thread.
    ///
    /// `reason` says why the run ended when it was not the program's own end (`"stopped"`:
    /// a sweep or the user stopped it); it is stored in the finish record only when given.
    ///
    /// `ts` (Unix time) dates the end instead of now, for importers; its run time is `ts`
    /// less the run's start.
    #[pyo3(signature = (exit_code = 0, reason = None, ts = None))]
    fn finish(
        &self,
        py: Python<'_>,
        exit_code: i32,
        reason: Option<String>,
        ts: Option<f64>,
    ) -> PyResult<()> {
        if reason.as_deref().is_some_and(str::is_empty) {
            return Err(PyValueError::new_err(
                "finish reason must be a non-empty str such as 'stopped', or None",
            ));
        }
        let at = ts.map(|t| self.clock_at(t, None)).transpose()?;
        if self.inert(py) || self.finished.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut out = Vec::new();
        {
            let mut st = self.lock_steps(py);
            st.commit(at.unwrap_or_else(|| self.clock()), &mut out);
        }
        let (timestamp, runtime) = at.unwrap_or_else(|| self.clock());
        out.push(Entry::Record(Record::Finish(Finish {
            exit_code,
            timestamp,
            runtime,
            reason,
        })));
        let res = py.detach(|| {
            self.writer.send_entries(out)?;
            self.writer.close()
        });
        self.report_warnings(py);
        if let Err(e) = res {
            self.warn.call1(
                py,
                (format!(
                    "fwtrack: finish() could not write the end of the run ({e}); the run log \
                     holds what was written before"
                ),),
            )?;
        }
        Ok(())
    }

    /// The step the next implicit commit gets.
    #[getter]
    fn step(&self, py: Python<'_>) -> u64 {
        if self.inert(py) {
            return 0;
        }
        self.lock_steps(py).step()
    }

    /// Seconds of run time so far (continuing across resumes).
    #[getter]
    fn runtime(&self) -> f64 {
        self.clock().1
    }

    #[getter]
    fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    #[getter]
    fn dropped_steps(&self, py: Python<'_>) -> u64 {
        if self.inert(py) {
            return 0;
        }
        self.lock_steps(py).dropped()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "RunWriter(step={}, finished={})",
            self.step(py),
            self.finished()
        )
    }
}

/// Edit a run that is not being written: append one frame holding a `Summary` snapshot with
/// `summary` set and `summary_delete` removed (both then explicit, as `update_summary`), a
/// `Config` record when `config` (the whole new config) is given, and a `RunEdit` record when
/// `info` (run info keys to set: name, tags, notes, ...) is given. The run's lock is held
/// while reading and appending; RuntimeError while a live process writes the run.
#[pyfunction]
#[pyo3(signature = (path, *, summary = None, summary_delete = Vec::new(), config = None, info = None))]
pub fn amend_run(
    py: Python<'_>,
    path: std::path::PathBuf,
    summary: Option<&Bound<'_, PyAny>>,
    summary_delete: Vec<String>,
    config: Option<&Bound<'_, PyAny>>,
    info: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let as_map = |what: &str, v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Vec<(Mp, Mp)>>> {
        match v.map(json_or_obj_to_mp).transpose()? {
            None => Ok(None),
            Some(Mp::Map(entries)) => Ok(Some(entries)),
            Some(_) => Err(PyValueError::new_err(format!(
                "{what} must be a dict (or a JSON object)"
            ))),
        }
    };
    let summary = as_map("summary", summary)?;
    let config = as_map("config", config)?.map(Mp::Map);
    let info = as_map("info", info)?;
    py.detach(|| {
        fwtrack_core::writer::amend(&path, |view| {
            let mut out = Vec::new();
            if summary.is_some() || !summary_delete.is_empty() {
                let (mut values, mut explicit) = match &view.summary {
                    Some(s) => (
                        match &s.values {
                            Mp::Map(e) => e.clone(),
                            _ => Vec::new(),
                        },
                        s.explicit.clone(),
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                values.retain(|(k, _)| {
                    !k.as_str()
                        .is_some_and(|k| summary_delete.iter().any(|d| d == k))
                });
                explicit.retain(|k| !summary_delete.contains(k));
                for (k, v) in summary.clone().unwrap_or_default() {
                    let Some(name) = k.as_str().map(str::to_owned) else {
                        continue;
                    };
                    match values
                        .iter_mut()
                        .find(|(key, _)| key.as_str() == Some(&name))
                    {
                        Some(slot) => slot.1 = v,
                        None => values.push((k, v)),
                    }
                    if !explicit.contains(&name) {
                        explicit.push(name);
                    }
                }
                out.push(Record::Summary(SummarySnapshot {
                    values: Mp::Map(values),
                    explicit,
                }));
            }
            if let Some(c) = config.clone() {
                out.push(Record::Config(c));
            }
            if let Some(i) = info.clone() {
                out.push(Record::RunEdit(Mp::Map(vec![
                    (Mp::from("ts"), Mp::F64(now_unix())),
                    (Mp::from("info"), Mp::Map(i)),
                ])));
            }
            Ok(out)
        })
    })
    .py_err()
}
