//! Histograms: numpy buffers binned in Rust with the GIL released.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use fwtrack_core::histogram::{Hist, MAX_BINS, Sample, compute};

/// Bins and counts of one histogram.
#[pyclass(name = "Histogram", module = "fwtrack._core", frozen)]
pub struct PyHistogram {
    pub hist: Hist,
}

#[pymethods]
impl PyHistogram {
    /// A histogram from precomputed `counts` and `edges` (`len(edges) == len(counts) + 1`).
    #[staticmethod]
    #[pyo3(signature = (counts, edges, *, nan_count = 0, pos_inf_count = 0, neg_inf_count = 0))]
    fn from_counts(
        counts: Vec<f64>,
        edges: Vec<f64>,
        nan_count: u64,
        pos_inf_count: u64,
        neg_inf_count: u64,
    ) -> PyResult<Self> {
        if counts.is_empty() || edges.len() != counts.len() + 1 {
            return Err(PyValueError::new_err(format!(
                "np_histogram needs len(edges) == len(counts) + 1 and at least one bin; got {} counts and {} edges",
                counts.len(),
                edges.len()
            )));
        }
        if counts.len() > MAX_BINS {
            return Err(PyValueError::new_err(format!(
                "np_histogram has {} bins; at most {MAX_BINS} are supported",
                counts.len()
            )));
        }
        if let Some(c) = counts.iter().find(|c| !c.is_finite() || **c < 0.0) {
            return Err(PyValueError::new_err(format!(
                "np_histogram counts must be finite and >= 0; got {c}"
            )));
        }
        if edges
            .windows(2)
            .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
        {
            return Err(PyValueError::new_err(
                "np_histogram edges must be finite and strictly increasing",
            ));
        }
        Ok(PyHistogram {
            hist: Hist {
                edges,
                counts: counts.iter().map(|c| c.round() as u64).collect(),
                nan: nan_count,
                pos_inf: pos_inf_count,
                neg_inf: neg_inf_count,
            },
        })
    }

    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        PyArray1::from_slice(py, &self.hist.counts)
    }

    #[getter]
    fn edges<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.hist.edges)
    }

    #[getter]
    fn nan_count(&self) -> u64 {
        self.hist.nan
    }

    #[getter]
    fn pos_inf_count(&self) -> u64 {
        self.hist.pos_inf
    }

    #[getter]
    fn neg_inf_count(&self) -> u64 {
        self.hist.neg_inf
    }

    fn __repr__(&self) -> String {
        format!(
            "Histogram(bins={}, count={}, range=[{}, {}])",
            self.hist.counts.len(),
            self.hist.counts.iter().sum::<u64>(),
            self.hist.edges.first().copied().unwrap_or(0.0),
            self.hist.edges.last().copied().unwrap_or(0.0)
        )
    }
}

fn bin<T: Sample + numpy::Element>(
    py: Python<'_>,
    arr: &Bound<'_, PyArrayDyn<T>>,
    bins: usize,
) -> Hist {
    let ro: PyReadonlyArrayDyn<'_, T> = arr.readonly();
    if let Ok(slice) = ro.as_slice() {
        py.detach(|| compute(slice, bins))
    } else {
        let owned: Vec<T> = ro.as_array().iter().copied().collect();
        py.detach(|| compute(&owned, bins))
    }
}

/// Histogram of a numpy array (float16/32/64, any int) with the GIL released.
#[pyfunction]
#[pyo3(signature = (values, num_bins = 64))]
pub fn histogram(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    num_bins: usize,
) -> PyResult<PyHistogram> {
    if num_bins == 0 || num_bins > MAX_BINS {
        return Err(PyValueError::new_err(format!(
            "num_bins={num_bins} is out of range; use 1 to {MAX_BINS}"
        )));
    }
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if let Ok(a) = values.cast::<PyArrayDyn<$t>>() {
                return Ok(PyHistogram { hist: bin(py, a, num_bins) });
            }
        )*};
    }
    try_types!(f32, f64, half::f16, i64, i32, i16, i8, u64, u32, u16, u8);
    let what = match values.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("a numpy array of dtype {}", a.dtype()),
        Err(_) => format!(
            "a {}",
            values
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ),
    };
    Err(PyTypeError::new_err(format!(
        "cannot compute a histogram of {what}; pass a numpy array of floats or ints"
    )))
}
