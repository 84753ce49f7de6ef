//! `RunReader`: a run log read back (a snapshot taken when the reader is made).

use std::collections::BTreeSet;
use std::path::PathBuf;

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use fwtrack_core::columns::HistoryFilter;
use fwtrack_core::reader::{Column, RowStream, RunLog, log_path};
use parking_lot::Mutex;

use crate::convert::{MediaItem, media_item, mp_to_py, value_to_py};
use crate::errors::IntoPy;
use crate::hist::PyHistogram;

/// Reads a run log, including one still being written. Opening it decodes everything but
/// the history values; `history()` decodes those, straight into columns.
#[pyclass(name = "RunReader", module = "fwtrack._core", frozen)]
pub struct PyRunReader {
    log: RunLog,
}

impl PyRunReader {
    fn view(&self) -> &fwtrack_core::reader::RunView {
        &self.log.view
    }
}

#[pymethods]
impl PyRunReader {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let log = py.detach(|| RunLog::open(&path)).py_err()?;
        Ok(PyRunReader { log })
    }

    /// Run metadata: starts, config, summary, metrics, finish, last_step, runtime, rows,
    /// records, tail_error, artifacts (the shape of the history index's meta: one fold).
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        mp_to_py(py, &self.view().meta.to_mp())
    }

    /// The history as columns (see `_core.pyi`): of `keys` (every key when None), at steps
    /// in `min_step..max_step` (inclusive, exclusive; unbounded when None).
    #[pyo3(signature = (keys = None, min_step = None, max_step = None))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        keys: Option<Vec<String>>,
        min_step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let filter = HistoryFilter {
            keys,
            min_step,
            max_step,
        };
        let cols = py.detach(|| self.log.history(&filter)).py_err()?;
        let d = PyDict::new(py);
        let steps: Vec<i64> = cols.step.iter().map(|s| *s as i64).collect();
        d.set_item("_step", PyArray1::from_vec(py, steps))?;
        d.set_item("_timestamp", PyArray1::from_vec(py, cols.timestamp))?;
        d.set_item("_runtime", PyArray1::from_vec(py, cols.runtime))?;
        for (k, c) in cols.columns {
            match c {
                Column::Numeric(xs) => d.set_item(&*k, PyArray1::from_vec(py, xs))?,
                Column::Mixed(xs) => {
                    let l = PyList::empty(py);
                    for x in &xs {
                        match x {
                            Some(v) => l.append(value_to_py(py, v)?)?,
                            None => l.append(py.None())?,
                        }
                    }
                    d.set_item(&*k, l)?;
                }
            }
        }
        Ok(d)
    }

    /// Rows as dicts, streamed from the log file frame by frame (rows written after the
    /// reader was made are included).
    #[pyo3(signature = (keys = None, min_step = None, max_step = None))]
    fn scan(
        &self,
        keys: Option<Vec<String>>,
        min_step: Option<u64>,
        max_step: Option<u64>,
    ) -> PyResult<RowIter> {
        scan_rows(self.log.path.clone(), keys, min_step, max_step)
    }

    /// (step, histogram) for each step at which `key` was logged as a histogram.
    fn histograms(&self, key: &str) -> Vec<(u64, PyHistogram)> {
        self.view()
            .hists
            .iter()
            .filter(|(_, k, _)| &**k == key)
            .map(|(s, _, h)| (*s, PyHistogram { hist: h.clone() }))
            .collect()
    }

    /// Keys logged as histograms, sorted.
    fn histogram_keys(&self) -> Vec<String> {
        let keys: BTreeSet<&str> = self.view().hists.iter().map(|(_, k, _)| &**k).collect();
        keys.into_iter().map(str::to_owned).collect()
    }

    /// The system samples as columns: `_timestamp`, `_runtime` and one float64 array per
    /// key (NaN where a sample lacks the key).
    fn system<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let cols = self.view().system_columns();
        let d = PyDict::new(py);
        d.set_item("_timestamp", PyArray1::from_vec(py, cols.timestamp))?;
        d.set_item("_runtime", PyArray1::from_vec(py, cols.runtime))?;
        for (k, xs) in cols.columns {
            d.set_item(&*k, PyArray1::from_vec(py, xs))?;
        }
        Ok(d)
    }

    /// The console lines in log order: `(unix_time, stream, text)`.
    fn console(&self) -> Vec<(f64, String, String)> {
        self.view()
            .console
            .iter()
            .map(|(t, s, l)| (*t, s.to_string(), l.clone()))
            .collect()
    }

    /// Media values in log order, `(step, unix_time, key, descriptor)`, of `key` or of all
    /// keys.
    #[pyo3(signature = (key = None))]
    fn media<'py>(&self, py: Python<'py>, key: Option<&str>) -> PyResult<Vec<MediaItem<'py>>> {
        self.view()
            .media
            .iter()
            .filter(|m| key.is_none_or(|k| &*m.key == k))
            .map(|m| media_item(py, m))
            .collect()
    }

    /// Keys logged with media values, sorted.
    fn media_keys(&self) -> Vec<String> {
        let keys: BTreeSet<&str> = self.view().media.iter().map(|m| &*m.key).collect();
        keys.into_iter().map(str::to_owned).collect()
    }

    /// The alerts the run raised, in log order: `{"ts", "title", "text", "level"}` dicts.
    fn alerts<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.view()
            .meta
            .alerts
            .iter()
            .map(|a| mp_to_py(py, a))
            .collect()
    }

    /// The log file's path for a run directory.
    #[staticmethod]
    fn log_path(path: PathBuf) -> PathBuf {
        log_path(&path)
    }
}

/// Rows of the run log in `path` (a run directory or a log file) as dicts, streamed one
/// frame at a time without reading the whole log first: only `keys` (every key when None),
/// only steps in `min_step..max_step` (inclusive, exclusive); other values are skipped
/// undecoded.
#[pyfunction]
#[pyo3(signature = (path, keys = None, min_step = None, max_step = None))]
pub fn scan_rows(
    path: PathBuf,
    keys: Option<Vec<String>>,
    min_step: Option<u64>,
    max_step: Option<u64>,
) -> PyResult<RowIter> {
    let filter = HistoryFilter {
        keys,
        min_step,
        max_step,
    };
    Ok(RowIter {
        rows: Mutex::new(RowStream::open_filtered(&path, filter).py_err()?),
    })
}

/// Iterator over the rows of a run log.
#[pyclass(module = "fwtrack._core", frozen)]
pub struct RowIter {
    rows: Mutex<RowStream>,
}

#[pymethods]
impl RowIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let next = py.detach(|| self.rows.lock().next());
        let Some(row) = next else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("_step", row.step)?;
        d.set_item("_timestamp", row.timestamp)?;
        d.set_item("_runtime", row.runtime)?;
        for (k, v) in &row.values {
            d.set_item(&**k, value_to_py(py, v)?)?;
        }
        Ok(Some(d))
    }
}
