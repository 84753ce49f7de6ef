//! The binary answer of the history of many runs (`application/x-fwtrack-series`,
//! docs/server.md): every requested run's series read from its index, downsampled and laid
//! out as little-endian columns that a browser wraps in typed arrays without copying.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! 0   4 bytes  magic "FWSR"
//! 4   u32      format version (1)
//! 8   u32      header length H in bytes
//! 12  H bytes  header: UTF-8 JSON
//!     0-7      zero bytes, up to the next multiple of 8: the data section starts here
//!     ...      the columns, each at an offset (from the data section's start) that is a
//!              multiple of 8
//! ```
//!
//! Header: `{"format":1,"samples":S,"runs":[{"run":ID,"downsampled":B,"series":[{"key":K,
//! "n":N,"step":[T,OFF],"value":[T,OFF],...}]}],"missing":[IDS]}`. Each series names its
//! columns (`step` and `value` always, `timestamp` when asked for, `min` and `max` when
//! downsampled) with their type `T` (`"f8"`: float64; `"f4"`: float32, used only when every
//! value of the column is exactly a float32, NaN and infinities included) and offset.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use fwtrack_core::downsample::{self as ds, Series};
use fwtrack_core::index;

use crate::errors::IntoPy;

/// The first four bytes of an answer.
pub const MAGIC: &[u8; 4] = b"FWSR";
/// The version of the layout above.
pub const VERSION: u32 = 1;

/// One run's series (or the error reading them).
type RunSeries = fwtrack_core::Result<Vec<(String, Series)>>;

/// What a request asks of every run.
struct Query<'a> {
    keys: Option<&'a [String]>,
    samples: usize,
    min_step: Option<f64>,
    max_step: Option<f64>,
    until: Option<f64>,
}

/// The series of one run's index; with `until`, only the points logged at or before it,
/// downsampled after the cut (a key left with no point is absent).
fn read_run(index_dir: &Path, q: &Query<'_>) -> RunSeries {
    let Some(until) = q.until else {
        return index::read_series(index_dir, q.keys, q.samples, q.min_step, q.max_step);
    };
    let full = index::read_series(index_dir, q.keys, 0, q.min_step, q.max_step)?;
    let mut out = Vec::with_capacity(full.len());
    for (key, s) in full {
        let mut step = Vec::new();
        let mut value = Vec::new();
        let mut timestamp = Vec::new();
        for i in 0..s.len() {
            if s.timestamp[i] <= until {
                step.push(s.step[i]);
                value.push(s.value[i]);
                timestamp.push(s.timestamp[i]);
            }
        }
        if !step.is_empty() {
            out.push((key, ds::downsample(&step, &value, &timestamp, q.samples)));
        }
    }
    Ok(out)
}

/// Every run's series, read by up to `workers` threads (runs handed out one at a time).
fn read_all(runs: &[(String, PathBuf)], q: &Query<'_>, workers: usize) -> Vec<RunSeries> {
    let workers = workers.clamp(1, runs.len().max(1));
    if workers == 1 {
        return runs.iter().map(|(_, dir)| read_run(dir, q)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, RunSeries)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((_, dir)) = runs.get(i) else { break };
                        mine.push((i, read_run(dir, q)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    // A worker that panicked left its runs out: read them again here (the error shows).
    let mut out = Vec::with_capacity(runs.len());
    let mut it = done.into_iter().peekable();
    for (i, (_, dir)) in runs.iter().enumerate() {
        match it.next_if(|(j, _)| *j == i) {
            Some((_, r)) => out.push(r),
            None => out.push(read_run(dir, q)),
        }
    }
    out
}

/// Whether every value of `col` is exactly a float32 (NaN counts as one).
fn fits_f32(col: &[f64]) -> bool {
    #[allow(clippy::cast_possible_truncation)]
    col.iter().all(|&v| v.is_nan() || f64::from(v as f32) == v)
}

/// Append `col` to `data` at the next multiple of 8, as float32 when exact (else float64);
/// records `"name":[type,offset]` in the header.
fn push_column(header: &mut String, data: &mut Vec<u8>, name: &str, col: &[f64]) {
    data.resize(data.len().next_multiple_of(8), 0);
    let offset = data.len();
    let f4 = fits_f32(col);
    if f4 {
        data.reserve(col.len() * 4);
        for &v in col {
            #[allow(clippy::cast_possible_truncation)]
            data.extend_from_slice(&(v as f32).to_le_bytes());
        }
    } else {
        data.reserve(col.len() * 8);
        for &v in col {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    let _ = write!(
        header,
        ",\"{name}\":[\"{}\",{offset}]",
        if f4 { "f4" } else { "f8" }
    );
}

/// The whole answer (see the module comment).
fn encode(
    runs: &[(String, PathBuf)],
    read: Vec<RunSeries>,
    missing: &[String],
    samples: usize,
    timestamps: bool,
) -> fwtrack_core::Result<Vec<u8>> {
    let mut header = String::with_capacity(256 + runs.len() * 64);
    let _ = write!(
        header,
        "{{\"format\":{VERSION},\"samples\":{samples},\"runs\":["
    );
    let mut data: Vec<u8> = Vec::new();
    for (r, ((run, _), series)) in runs.iter().zip(read).enumerate() {
        let series = series?;
        if r > 0 {
            header.push(',');
        }
        header.push_str("{\"run\":");
        index::json::write_str(run, &mut header);
        let downsampled = series.iter().any(|(_, s)| s.downsampled());
        let _ = write!(header, ",\"downsampled\":{downsampled},\"series\":[");
        for (i, (key, s)) in series.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str("{\"key\":");
            index::json::write_str(key, &mut header);
            let _ = write!(header, ",\"n\":{}", s.len());
            push_column(&mut header, &mut data, "step", &s.step);
            push_column(&mut header, &mut data, "value", &s.value);
            if timestamps {
                push_column(&mut header, &mut data, "timestamp", &s.timestamp);
            }
            if let (Some(mn), Some(mx)) = (&s.min, &s.max) {
                push_column(&mut header, &mut data, "min", mn);
                push_column(&mut header, &mut data, "max", mx);
            }
            header.push('}');
        }
        header.push_str("]}");
    }
    header.push_str("],\"missing\":[");
    for (i, m) in missing.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        index::json::write_str(m, &mut header);
    }
    header.push_str("]}");
    let head_len = u32::try_from(header.len())
        .map_err(|_| fwtrack_core::Error::Decode("history header over 4 GiB".into()))?;
    let start = (12 + header.len()).next_multiple_of(8);
    let mut out = Vec::with_capacity(start + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&head_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.resize(start, 0);
    out.extend_from_slice(&data);
    Ok(out)
}

/// The history of `runs` (pairs of run id and index directory, in answer order) as one
/// `application/x-fwtrack-series` answer (see the module comment): `keys` (all when None),
/// steps within `[min_step, max_step]`, downsampled to `samples` points a series (0 = all),
/// with `until` only the points logged at or before it, timestamps only when `timestamps`.
/// `missing` is copied into the header. Reads the runs on up to `workers` threads with the
/// GIL released.
#[pyfunction]
#[pyo3(signature = (runs, missing, keys = None, samples = 1000, min_step = None, max_step = None, until = None, timestamps = true, workers = 2))]
#[allow(clippy::too_many_arguments)]
pub fn encode_history(
    py: Python<'_>,
    runs: Vec<(String, PathBuf)>,
    missing: Vec<String>,
    keys: Option<Vec<String>>,
    samples: i64,
    min_step: Option<f64>,
    max_step: Option<f64>,
    until: Option<f64>,
    timestamps: bool,
    workers: usize,
) -> PyResult<Bound<'_, PyBytes>> {
    let samples = usize::try_from(samples).map_err(|_| {
        PyValueError::new_err(format!(
            "samples must be >= 0 (0 means full resolution), got {samples}"
        ))
    })?;
    let q = Query {
        keys: keys.as_deref(),
        samples,
        min_step,
        max_step,
        until,
    };
    let bytes = py
        .detach(|| {
            let read = read_all(&runs, &q, workers);
            encode(&runs, read, &missing, samples, timestamps)
        })
        .py_err()?;
    Ok(PyBytes::new(py, &bytes))
}
