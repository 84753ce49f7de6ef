//! The history index and downsampling for the server: frame validation of uploads, index
//! updates, metadata and series reads. All file work runs with the GIL released.

use std::fs::File;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::PathBuf;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use fwtrack_core::codec;
use fwtrack_core::downsample::{self as ds, Series};
use fwtrack_core::index::console as parts_console;
use fwtrack_core::index::hist as parts_hist;
use fwtrack_core::index::media as parts_media;
use fwtrack_core::index::system as parts_system;
use fwtrack_core::index::{self, IndexUpdate};

use crate::convert::{MediaItem, media_item, mp_to_py};
use crate::errors::{IntoPy, io_to_py};

/// Check that `data` is whole, valid run-log frames (preceded by the file header when
/// `at_start`); returns the number of frames, raises ValueError naming the byte offset and
/// the reason otherwise.
#[pyfunction]
pub fn validate_frames(py: Python<'_>, data: &[u8], at_start: bool) -> PyResult<usize> {
    py.detach(|| codec::validate_frames(data, at_start))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The next record number after the frames of `data` (whole frames, already validated; with
/// `at_start`, after the file header), which must continue a log whose next record is
/// `next_seq`; ValueError naming the first frame numbered below it.
#[pyfunction]
pub fn frame_sequence(py: Python<'_>, data: &[u8], at_start: bool, next_seq: u64) -> PyResult<u64> {
    py.detach(|| codec::frame_sequence(data, at_start, next_seq))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The next record number after the whole frames among the first `size` bytes of the stored
/// log open on descriptor `fd` (read with `pread`; the descriptor's position is untouched).
#[pyfunction]
pub fn log_next_seq(py: Python<'_>, fd: RawFd, size: u64) -> PyResult<u64> {
    if fd < 0 {
        return Err(PyValueError::new_err(format!(
            "{fd} is not a file descriptor"
        )));
    }
    // SAFETY: the descriptor is only duplicated here; an invalid one makes the dup fail.
    let file = File::from(unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?);
    py.detach(|| codec::log_next_seq(&file, size)).map_err(|e| {
        io_to_py(&std::io::Error::new(
            e.kind(),
            format!("the run log (descriptor {fd}): {e}"),
        ))
    })
}

fn update_to_py<'py>(py: Python<'py>, u: &IndexUpdate) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("log_offset", u.log_offset)?;
    d.set_item("rows_added", u.rows_added)?;
    d.set_item("keys", &u.keys)?;
    d.set_item("meta", mp_to_py(py, &u.meta.to_mp())?)?;
    Ok(d)
}

/// Bring the history index in `index_dir` up to date with the run log at `log_path`.
#[pyfunction]
pub fn index_update(
    py: Python<'_>,
    log_path: PathBuf,
    index_dir: PathBuf,
) -> PyResult<Bound<'_, PyDict>> {
    let u = py
        .detach(|| index::index_update(&log_path, &index_dir))
        .py_err()?;
    update_to_py(py, &u)
}

/// The history index in `index_dir` as it is (an empty index when there is none).
#[pyfunction]
pub fn index_read_meta(py: Python<'_>, index_dir: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let u = py.detach(|| index::index_read_meta(&index_dir)).py_err()?;
    update_to_py(py, &u)
}

fn samples_arg(samples: i64) -> PyResult<usize> {
    usize::try_from(samples).map_err(|_| {
        PyValueError::new_err(format!(
            "samples must be >= 0 (0 means full resolution), got {samples}"
        ))
    })
}

fn series_to_py(py: Python<'_>, s: Series) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("step", PyArray1::from_vec(py, s.step))?;
    d.set_item("value", PyArray1::from_vec(py, s.value))?;
    d.set_item("timestamp", PyArray1::from_vec(py, s.timestamp))?;
    if let Some(mn) = s.min {
        d.set_item("min", PyArray1::from_vec(py, mn))?;
    }
    if let Some(mx) = s.max {
        d.set_item("max", PyArray1::from_vec(py, mx))?;
    }
    Ok(d)
}

/// Series of `keys` (all when None; unknown keys are absent) from the index in
/// `index_dir`, restricted to `[min_step, max_step]` and downsampled to `samples`.
#[pyfunction]
#[pyo3(signature = (index_dir, keys = None, samples = 1000, min_step = None, max_step = None))]
pub fn read_series(
    py: Python<'_>,
    index_dir: PathBuf,
    keys: Option<Vec<String>>,
    samples: i64,
    min_step: Option<f64>,
    max_step: Option<f64>,
) -> PyResult<Bound<'_, PyDict>> {
    let samples = samples_arg(samples)?;
    let series = py
        .detach(|| index::read_series(&index_dir, keys.as_deref(), samples, min_step, max_step))
        .py_err()?;
    let d = PyDict::new(py);
    for (k, s) in series {
        d.set_item(k, series_to_py(py, s)?)?;
    }
    Ok(d)
}

fn as_vec(a: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

/// Min/max-preserving downsampling of one series given as float64 arrays.
#[pyfunction]
pub fn downsample<'py>(
    py: Python<'py>,
    step: PyReadonlyArray1<'py, f64>,
    value: PyReadonlyArray1<'py, f64>,
    timestamp: PyReadonlyArray1<'py, f64>,
    samples: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let samples = samples_arg(samples)?;
    let (n, nv, nt) = (step.len()?, value.len()?, timestamp.len()?);
    if n != nv || n != nt {
        return Err(PyValueError::new_err(format!(
            "step, value and timestamp must have the same length, got {n}, {nv} and {nt}"
        )));
    }
    let s = if let (Ok(s), Ok(v), Ok(t)) = (step.as_slice(), value.as_slice(), timestamp.as_slice())
    {
        py.detach(|| ds::downsample(s, v, t, samples))
    } else {
        // Strided arrays are copied first.
        let (s, v, t) = (as_vec(&step), as_vec(&value), as_vec(&timestamp));
        py.detach(|| ds::downsample(&s, &v, &t, samples))
    };
    series_to_py(py, s)
}

// -- the parts of the index: console lines, system samples, media, histograms ------------------

/// `(layout version, log offset)` of the index in `index_dir`: `(0, 0)` without one; a
/// version below `INDEX_VERSION` is an index an update rebuilds.
#[pyfunction]
pub fn index_version(py: Python<'_>, index_dir: PathBuf) -> PyResult<(u64, u64)> {
    let m = py.detach(|| index::read_manifest(&index_dir)).py_err()?;
    Ok((m.version, m.log_offset))
}

type LineTuple = (u64, String, f64, String);

fn line_tuples(lines: Vec<parts_console::Line>) -> Vec<LineTuple> {
    lines
        .into_iter()
        .map(|l| (l.n, l.stream, l.ts, l.text))
        .collect()
}

/// `(total, [(n, stream, unix_time, text)])`: lines `[offset, offset + limit)` of the
/// console (of `stream` only, when given), `total` counting the lines (of `stream`).
#[pyfunction]
#[pyo3(signature = (index_dir, stream, offset, limit))]
pub fn console_page(
    py: Python<'_>,
    index_dir: PathBuf,
    stream: Option<String>,
    offset: u64,
    limit: u64,
) -> PyResult<(u64, Vec<LineTuple>)> {
    py.detach(|| -> fwtrack_core::Result<(u64, Vec<LineTuple>)> {
        let m = index::read_manifest(&index_dir)?;
        let c = parts_console::Console::new(&index_dir, &m.parts);
        let numbers = c.numbers(stream.as_deref(), offset, limit)?;
        Ok((c.total(stream.as_deref()), line_tuples(c.lines(&numbers)?)))
    })
    .py_err()
}

/// The console lines numbered `numbers` (ascending): `[(n, stream, unix_time, text)]`.
#[pyfunction]
pub fn console_lines(
    py: Python<'_>,
    index_dir: PathBuf,
    numbers: Vec<u64>,
) -> PyResult<Vec<LineTuple>> {
    py.detach(|| -> fwtrack_core::Result<Vec<LineTuple>> {
        let m = index::read_manifest(&index_dir)?;
        let c = parts_console::Console::new(&index_dir, &m.parts);
        Ok(line_tuples(c.lines(&numbers)?))
    })
    .py_err()
}

/// Lines (of `stream`) that may contain `needle` (casefolded): `[(n, None)]` for a sure
/// match, `[(n, text)]` for a line the caller checks with `str.casefold`.
#[pyfunction]
pub fn console_search(
    py: Python<'_>,
    index_dir: PathBuf,
    stream: Option<String>,
    needle: String,
) -> PyResult<Vec<(u64, Option<String>)>> {
    py.detach(|| -> fwtrack_core::Result<Vec<(u64, Option<String>)>> {
        let m = index::read_manifest(&index_dir)?;
        parts_console::Console::new(&index_dir, &m.parts).search(stream.as_deref(), &needle)
    })
    .py_err()
}

/// The system samples of the index as columns, as `RunReader.system()` answers them.
#[pyfunction]
#[pyo3(signature = (index_dir, keys = None))]
pub fn system_columns(
    py: Python<'_>,
    index_dir: PathBuf,
    keys: Option<Vec<String>>,
) -> PyResult<Bound<'_, PyDict>> {
    let cols = py
        .detach(|| -> fwtrack_core::Result<parts_system::SystemColumns> {
            let m = index::read_manifest(&index_dir)?;
            parts_system::read_columns(&index_dir, &m.parts, keys.as_deref())
        })
        .py_err()?;
    let d = PyDict::new(py);
    d.set_item("_timestamp", PyArray1::from_vec(py, cols.timestamp))?;
    d.set_item("_runtime", PyArray1::from_vec(py, cols.runtime))?;
    for (k, xs) in cols.columns {
        d.set_item(k, PyArray1::from_vec(py, xs))?;
    }
    Ok(d)
}

/// Media values of the index in log order, `(step, unix_time, key, descriptor)`, of `key`
/// or of all keys.
#[pyfunction]
#[pyo3(signature = (index_dir, key = None))]
pub fn media_items(
    py: Python<'_>,
    index_dir: PathBuf,
    key: Option<String>,
) -> PyResult<Vec<MediaItem<'_>>> {
    let items = py
        .detach(
            || -> fwtrack_core::Result<Vec<fwtrack_core::record::MediaRecord>> {
                let m = index::read_manifest(&index_dir)?;
                parts_media::read_items(&index_dir, &m.parts, key.as_deref())
            },
        )
        .py_err()?;
    items.iter().map(|m| media_item(py, m)).collect()
}

/// The media keys of the index in order of first use: `[(key, count, type of the newest)]`.
#[pyfunction]
pub fn media_keys(
    py: Python<'_>,
    index_dir: PathBuf,
) -> PyResult<Vec<(String, u64, Bound<'_, PyAny>)>> {
    let m = py.detach(|| index::read_manifest(&index_dir)).py_err()?;
    m.parts
        .media
        .keys
        .iter()
        .map(|k| Ok((k.key.clone(), k.count, mp_to_py(py, &k.kind)?)))
        .collect()
}

/// The histogram keys of the index, sorted.
#[pyfunction]
pub fn histogram_keys(py: Python<'_>, index_dir: PathBuf) -> PyResult<Vec<String>> {
    let m = py.detach(|| index::read_manifest(&index_dir)).py_err()?;
    let mut keys = m.parts.hist.keys;
    keys.sort();
    Ok(keys)
}

/// Every histogram of `key` in the index, as lists: `{"steps", "edges", "counts", "nan",
/// "pos_inf", "neg_inf"}`, one entry per histogram in log order.
#[pyfunction]
pub fn histograms(py: Python<'_>, index_dir: PathBuf, key: String) -> PyResult<Bound<'_, PyDict>> {
    let entries = py
        .detach(
            || -> fwtrack_core::Result<Vec<(u64, fwtrack_core::histogram::Hist)>> {
                let m = index::read_manifest(&index_dir)?;
                parts_hist::read_key(&index_dir, &m.parts, &key)
            },
        )
        .py_err()?;
    let d = PyDict::new(py);
    d.set_item("steps", entries.iter().map(|(s, _)| *s).collect::<Vec<_>>())?;
    let edges = PyList::empty(py);
    let counts = PyList::empty(py);
    for (_, h) in &entries {
        edges.append(PyList::new(py, &h.edges)?)?;
        counts.append(PyList::new(py, &h.counts)?)?;
    }
    d.set_item("edges", edges)?;
    d.set_item("counts", counts)?;
    d.set_item(
        "nan",
        entries.iter().map(|(_, h)| h.nan).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "pos_inf",
        entries.iter().map(|(_, h)| h.pos_inf).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "neg_inf",
        entries.iter().map(|(_, h)| h.neg_inf).collect::<Vec<_>>(),
    )?;
    Ok(d)
}

/// The histograms of `key` in the index as the JSON text of the server's answer (`{"key",
/// "steps", "edges", "counts", "nan", "pos_inf", "neg_inf"}`), or None when an edge is not
/// finite.
#[pyfunction]
pub fn histograms_json(
    py: Python<'_>,
    index_dir: PathBuf,
    key: String,
) -> PyResult<Option<Bound<'_, PyBytes>>> {
    let text = py
        .detach(|| -> fwtrack_core::Result<Option<String>> {
            let m = index::read_manifest(&index_dir)?;
            parts_hist::key_json(&index_dir, &m.parts, &key)
        })
        .py_err()?;
    Ok(text.map(|t| PyBytes::new(py, t.as_bytes())))
}

/// Add the functions reading the index's parts to the module.
pub fn register_parts(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("INDEX_VERSION", index::INDEX_VERSION)?;
    m.add_function(wrap_pyfunction!(index_version, m)?)?;
    m.add_function(wrap_pyfunction!(console_page, m)?)?;
    m.add_function(wrap_pyfunction!(console_lines, m)?)?;
    m.add_function(wrap_pyfunction!(console_search, m)?)?;
    m.add_function(wrap_pyfunction!(system_columns, m)?)?;
    m.add_function(wrap_pyfunction!(media_items, m)?)?;
    m.add_function(wrap_pyfunction!(media_keys, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_keys, m)?)?;
    m.add_function(wrap_pyfunction!(histograms, m)?)?;
    m.add_function(wrap_pyfunction!(histograms_json, m)?)?;
    Ok(())
}
