//! Conversions between Python objects and core values.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rmpv::Value as Mp;

use fwtrack_core::record::{Attachment, Key, Value};

use crate::hist::PyHistogram;
use crate::pending::PyPendingMedia;

/// A stored media value as `log()` hands it to the writer: its descriptor (the payload is
/// already written next to the log). Made by the Python data types, not by users.
#[pyclass(module = "fwtrack._core", name = "MediaValue", frozen)]
pub struct PyMediaValue {
    value: Mp,
}

#[pymethods]
impl PyMediaValue {
    #[new]
    fn new(descriptor: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(PyMediaValue {
            value: py_to_mp(descriptor.as_any())?,
        })
    }

    /// The descriptor as a dict.
    fn descriptor<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        mp_to_py(py, &self.value)
    }
}

/// Longest key accepted (after flattening).
pub const MAX_KEY_LEN: usize = 256;

/// The converted contents of one `log()` call.
#[derive(Default)]
pub struct Converted {
    pub values: Vec<(Key, Value)>,
    /// Histograms and media, each its own record.
    pub attachments: Vec<(Key, Attachment)>,
}

fn check_key(key: &str) -> PyResult<()> {
    if key.is_empty() {
        return Err(PyValueError::new_err(
            "metric key '' is empty (or a nested dict has an empty key); use a non-empty name such as 'train/loss'",
        ));
    }
    if key.chars().count() > MAX_KEY_LEN {
        let shown: String = key.chars().take(40).collect();
        return Err(PyValueError::new_err(format!(
            "metric key '{shown}...' is {} characters long; keys may have at most {MAX_KEY_LEN}",
            key.chars().count()
        )));
    }
    Ok(())
}

fn key_of(prefix: &str, k: &Bound<'_, PyAny>) -> PyResult<Key> {
    let Ok(s) = k.cast::<PyString>() else {
        return Err(PyValueError::new_err(format!(
            "metric key {} is a {}, not a str; use string keys such as 'train/loss'",
            k.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
            k.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string()),
        )));
    };
    let s = s.to_str()?;
    check_key(s)?;
    Ok(if prefix.is_empty() {
        Key::from(s)
    } else {
        Key::from(format!("{prefix}/{s}"))
    })
}

/// Convert the dict of a `log()` call; nested dicts flatten with "/". `converter` handles
/// every value that is not a plain scalar or dict.
pub fn convert_row(
    data: &Bound<'_, PyDict>,
    converter: &Bound<'_, PyAny>,
    out: &mut Converted,
) -> PyResult<()> {
    out.values.reserve(data.len());
    convert_into("", data, converter, out, 0)
}

fn convert_into(
    prefix: &str,
    data: &Bound<'_, PyDict>,
    converter: &Bound<'_, PyAny>,
    out: &mut Converted,
    depth: usize,
) -> PyResult<()> {
    if depth > 32 {
        return Err(PyValueError::new_err(format!(
            "metric dict under '{prefix}' is nested more than 32 levels deep (a cycle?)"
        )));
    }
    for (k, v) in data.iter() {
        let key = key_of(prefix, &k)?;
        if key.len() > MAX_KEY_LEN {
            check_key(&key)?;
        }
        if let Ok(d) = v.cast::<PyDict>() {
            convert_into(&key, d, converter, out, depth + 1)?;
            continue;
        }
        convert_value(key, &v, converter, out, true)?;
    }
    Ok(())
}

fn convert_value(
    key: Key,
    v: &Bound<'_, PyAny>,
    converter: &Bound<'_, PyAny>,
    out: &mut Converted,
    may_convert: bool,
) -> PyResult<()> {
    let value = if let Ok(f) = v.cast_exact::<PyFloat>() {
        Value::Float(f.value())
    } else if let Ok(b) = v.cast_exact::<PyBool>() {
        Value::Bool(b.is_true())
    } else if let Ok(i) = v.cast_exact::<PyInt>() {
        match i.extract::<i64>() {
            Ok(x) => Value::Int(x),
            Err(_) => Value::Float(i.extract::<f64>()?),
        }
    } else if let Ok(s) = v.cast::<PyString>() {
        Value::Str(s.to_str()?.to_owned())
    } else if let Ok(h) = v.cast::<PyHistogram>() {
        out.attachments
            .push((key, Attachment::Hist(h.get().hist.clone())));
        return Ok(());
    } else if let Ok(m) = v.cast::<PyMediaValue>() {
        out.attachments
            .push((key, Attachment::Media(m.get().value.clone())));
        return Ok(());
    } else if let Ok(p) = v.cast::<PyPendingMedia>() {
        out.attachments
            .push((key, Attachment::Pending(p.get().value.clone())));
        return Ok(());
    } else if let Ok(f) = v.cast::<PyFloat>() {
        // float subclasses (numpy.float64)
        Value::Float(f.value())
    } else if v.is_none() {
        return Ok(());
    } else if may_convert {
        let converted = converter.call1((&*key, v))?;
        if let Ok(d) = converted.cast::<PyDict>() {
            return convert_into(&key, d, converter, out, 1);
        }
        return convert_value(key, &converted, converter, out, false);
    } else {
        return Err(PyTypeError::new_err(format!(
            "value of metric '{key}' has unsupported type {}; log numbers, bools, strings, \
             numpy arrays, tensors or fwtrack.Histogram",
            v.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string()),
        )));
    };
    out.values.push((key, value));
    Ok(())
}

/// A Python object (JSON-like: None, bool, int, float, str, list, tuple, dict; numpy bool,
/// integer and float scalars as their value) as MessagePack. Other objects become their
/// `repr`. The config, summary and run info of the SDK come this way, without JSON text.
pub fn py_to_mp(v: &Bound<'_, PyAny>) -> PyResult<Mp> {
    Ok(if v.is_none() {
        Mp::Nil
    } else if let Ok(b) = v.cast::<PyBool>() {
        Mp::Boolean(b.is_true())
    } else if let Ok(i) = v.cast::<PyInt>() {
        match i.extract::<i64>() {
            Ok(x) => Mp::from(x),
            Err(_) => match i.extract::<u64>() {
                Ok(x) => Mp::from(x),
                Err(_) => Mp::F64(i.extract::<f64>()?),
            },
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        Mp::F64(f.value())
    } else if let Ok(s) = v.cast::<PyString>() {
        Mp::from(s.to_str()?)
    } else if let Ok(d) = v.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(d.len());
        for (k, val) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_str()?.to_owned(),
                Err(_) => k.str()?.to_str()?.to_owned(),
            };
            entries.push((Mp::from(key), py_to_mp(&val)?));
        }
        Mp::Map(entries)
    } else if let Ok(l) = v.cast::<PyList>() {
        Mp::Array(l.iter().map(|x| py_to_mp(&x)).collect::<PyResult<_>>()?)
    } else if let Ok(t) = v.cast::<PyTuple>() {
        Mp::Array(t.iter().map(|x| py_to_mp(&x)).collect::<PyResult<_>>()?)
    } else if let Some(item) = numpy_scalar(v)? {
        py_to_mp(&item)?
    } else {
        Mp::from(v.repr()?.to_str()?)
    })
}

/// The Python scalar of a numpy bool, integer or float scalar (`.item()`); None for anything
/// else. numpy is never imported here: a numpy scalar's type lives in the `numpy` module.
fn numpy_scalar<'py>(v: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let t = v.get_type();
    if !t
        .module()
        .is_ok_and(|m| m.to_str().is_ok_and(|m| m == "numpy"))
    {
        return Ok(None);
    }
    let Ok(kind) = v.getattr("dtype").and_then(|d| d.getattr("kind")) else {
        return Ok(None);
    };
    if !kind
        .cast::<PyString>()
        .is_ok_and(|k| k.to_str().is_ok_and(|k| "biuf".contains(k)))
    {
        return Ok(None);
    }
    let item = v.call_method0("item")?;
    Ok((!item.get_type().is(&t)).then_some(item))
}

/// Accept a JSON string (parsed with Python's `json`, so NaN and Infinity survive) or an
/// object, and convert it to MessagePack.
pub fn json_or_obj_to_mp(v: &Bound<'_, PyAny>) -> PyResult<Mp> {
    if let Ok(s) = v.cast::<PyString>() {
        let parsed = v.py().import("json")?.call_method1("loads", (s,))?;
        return py_to_mp(&parsed);
    }
    py_to_mp(v)
}

/// One media value as Python gets it: `(step, unix_time, key, descriptor)`.
pub type MediaItem<'py> = (u64, f64, String, Bound<'py, PyAny>);

/// A media record as a [`MediaItem`].
pub fn media_item<'py>(
    py: Python<'py>,
    m: &fwtrack_core::record::MediaRecord,
) -> PyResult<MediaItem<'py>> {
    Ok((
        m.step,
        m.timestamp,
        m.key.to_string(),
        mp_to_py(py, &m.value)?,
    ))
}

/// MessagePack as a Python object.
pub fn mp_to_py<'py>(py: Python<'py>, v: &Mp) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Mp::Nil | Mp::Ext(..) => py.None().into_bound(py),
        Mp::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Mp::Integer(i) => {
            if let Some(x) = i.as_i64() {
                x.into_pyobject(py)?.into_any()
            } else {
                i.as_u64().unwrap_or(u64::MAX).into_pyobject(py)?.into_any()
            }
        }
        Mp::F32(f) => f64::from(*f).into_pyobject(py)?.into_any(),
        Mp::F64(f) => f.into_pyobject(py)?.into_any(),
        Mp::String(s) => match s.as_str() {
            Some(s) => PyString::new(py, s).into_any(),
            None => pyo3::types::PyBytes::new(py, s.as_bytes()).into_any(),
        },
        Mp::Binary(b) => pyo3::types::PyBytes::new(py, b).into_any(),
        Mp::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(mp_to_py(py, x)?)?;
            }
            l.into_any()
        }
        Mp::Map(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(mp_to_py(py, k)?, mp_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A row value as a Python object.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
    })
}
