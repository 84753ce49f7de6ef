//! Histograms of large arrays, computed in parallel (rayon).
//!
//! Binning follows `numpy.histogram` with equal-width bins exactly, operation for operation and
//! in numpy's precision for the input type ([`Sample::P`]: float32 for float32 data, float16
//! for float16, float64 for float64 and ints): the range is the finite minimum and maximum
//! (widened by 0.5 on each side when they are equal), the edges are `numpy.linspace(min, max,
//! bins + 1)`, and each value's bin is `trunc((v - min) / (max - min) * bins)`, pulled into the
//! last bin at the maximum, then moved down one when the value lies below its bin's left edge
//! and up one when it lies on or above the right edge (the last bin is closed). Counts and edges
//! therefore equal numpy's, even where numpy's correction does not land in the "true" bin
//! (edges that round together in a huge range).
//! NaN and ±Inf are left out of the bins and counted on their own.
//!
//! Speed: one pass finds the range (min, max and the non-finite check together), one pass bins.
//! Both run over 64 Ki-value chunks on rayon's threads; the binning pass tallies each chunk in
//! per-lane `u32` tallies that are merged per chunk. On x86-64 with AVX2 (detected at run time;
//! the crate itself is built for baseline x86-64) float32 and float64 bin indices are computed
//! eight (four) at a time with the branch-free correction in [`x86`]; other CPUs and types run
//! the same arithmetic one value at a time.

use rayon::prelude::*;

mod prec;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use prec::Prec;

/// Bins, counts and the non-finite tallies of one histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Hist {
    /// `counts.len() + 1` bin edges, ascending.
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
}

/// The most bins a histogram may have.
pub const MAX_BINS: usize = 512;

/// An element type a histogram can be computed over.
pub trait Sample: Copy + Send + Sync {
    /// The precision numpy bins this type in (`numpy.result_type` of the data and its range).
    type P: Prec;

    fn to_f64(self) -> f64;

    /// The value in the binning precision (`tmp_a.astype(bin_edges.dtype)` in numpy).
    fn to_p(self) -> Self::P;

    /// For integer types: the exact minimum and maximum (numpy takes the width of the range
    /// as an exact integer difference, not as the difference of two rounded floats).
    fn int_range(_xs: &[Self]) -> Option<(i128, i128)> {
        None
    }

    /// Tally `xs` (all values, non-finite ones in the slot `bins`) into `counts`
    /// (`bins + 1` slots). Types with a SIMD kernel override this.
    fn count(xs: &[Self], p: &Params<Self::P>, counts: &mut [u64]) {
        count_scalar(xs, p, counts);
    }

    /// Minimum, maximum and non-finite tallies of `xs`. Types with a SIMD kernel override this.
    fn range(xs: &[Self]) -> Range<Self::P> {
        range_scalar(xs)
    }
}

macro_rules! sample_int {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            type P = f64;
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn to_p(self) -> f64 { self as f64 }
            fn int_range(xs: &[Self]) -> Option<(i128, i128)> {
                let lo = xs.iter().copied().min()?;
                let hi = xs.iter().copied().max()?;
                Some((i128::from(lo), i128::from(hi)))
            }
            fn range(_xs: &[Self]) -> Range<f64> {
                Range::EMPTY // ints are finite; `int_range` finds the range
            }
        }
    )*};
}
sample_int!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Sample for f64 {
    type P = f64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn to_p(self) -> f64 {
        self
    }
    fn count(xs: &[Self], p: &Params<f64>, counts: &mut [u64]) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            x86::count_f64(xs, p, counts);
            return;
        }
        count_scalar(xs, p, counts);
    }
    fn range(xs: &[Self]) -> Range<f64> {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            return x86::range_f64(xs);
        }
        range_scalar(xs)
    }
}

impl Sample for f32 {
    type P = f32;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn to_p(self) -> f32 {
        self
    }
    fn count(xs: &[Self], p: &Params<f32>, counts: &mut [u64]) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            x86::count_f32(xs, p, counts);
            return;
        }
        count_scalar(xs, p, counts);
    }
    fn range(xs: &[Self]) -> Range<f32> {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            return x86::range_f32(xs);
        }
        range_scalar(xs)
    }
}

impl Sample for half::f16 {
    type P = half::f16;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn to_p(self) -> half::f16 {
        self
    }
}

impl Sample for half::bf16 {
    type P = f64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn to_p(self) -> f64 {
        f64::from(self)
    }
}

const CHUNK: usize = 1 << 16;

/// The finite range and the non-finite tallies of some values.
#[derive(Clone, Copy, Debug)]
pub struct Range<P> {
    /// The finite minimum and maximum (`None` when no value is finite).
    pub min_max: Option<(P, P)>,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
}

impl<P: Prec> Range<P> {
    const EMPTY: Range<P> = Range {
        min_max: None,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
    };

    fn merge(self, o: Range<P>) -> Range<P> {
        let min_max = match (self.min_max, o.min_max) {
            (Some((lo, hi)), Some((lo2, hi2))) => Some((
                if lo2 < lo { lo2 } else { lo },
                if hi2 > hi { hi2 } else { hi },
            )),
            (a, b) => a.or(b),
        };
        Range {
            min_max,
            nan: self.nan + o.nan,
            pos_inf: self.pos_inf + o.pos_inf,
            neg_inf: self.neg_inf + o.neg_inf,
        }
    }
}

/// The range of `xs` one value at a time, non-finite values counted apart.
fn range_scalar<T: Sample>(xs: &[T]) -> Range<T::P> {
    let mut r = Range::EMPTY;
    for &x in xs {
        let v = x.to_p();
        if v.is_finite() {
            r.min_max = Some(match r.min_max {
                None => (v, v),
                Some((lo, hi)) => (if v < lo { v } else { lo }, if v > hi { v } else { hi }),
            });
        } else if v.is_nan() {
            r.nan += 1;
        } else if v > P0::<T>::ZERO {
            r.pos_inf += 1;
        } else {
            r.neg_inf += 1;
        }
    }
    r
}

type P0<T> = <T as Sample>::P;

/// What the binning pass needs: numpy's `first_edge`, `norm_denom`, `n_equal_bins` and edges,
/// all in the binning precision.
#[derive(Clone, Debug)]
pub struct Params<P> {
    pub first: P,
    pub denom: P,
    pub bins: usize,
    /// `bins + 1` edges.
    pub edges: Vec<P>,
    /// Where the edge correction cannot fire: `(lo, hi)` such that a value whose estimate
    /// `g = (v - first) / denom * bins` has `lo < g - trunc(g) < hi` and `g < bins` is in bin
    /// `trunc(g)` without looking at the edges. `None` when edges and estimate disagree by a
    /// quarter of a bin or more somewhere (no shortcut then).
    pub sure: Option<(P, P)>,
}

impl<P: Prec> Params<P> {
    /// The parameters, with the shortcut thresholds worked out from the edges.
    ///
    /// `g` is monotone (each rounded operation is, and `denom > 0`), so with `G_i = g(edges[i])`:
    /// a value with `g(v) > G_i` lies above `edges[i]`, one with `g(v) < G_{i+1}` below
    /// `edges[i + 1]`. Bounding `G_i - i` from above by `a` and `i - G_i` by `b` for every `i`,
    /// a fraction `g - i` in `(a, 1 - b)` means neither correction fires.
    pub fn new(first: P, denom: P, bins: usize, edges: Vec<P>) -> Self {
        let nf = P::from_usize(bins);
        let (mut a, mut b) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (i, e) in edges.iter().enumerate() {
            let g = e.sub(first).div(denom).mul(nf).to_f64();
            a = a.max(g - i as f64);
            b = b.max(i as f64 - g);
        }
        // The slack covers rounding the thresholds (below 1 in magnitude) to `P`.
        let slack = 4.0 * P::EPSILON;
        let ok = denom > P::ZERO && denom.is_finite() && a.abs() < 0.25 && b.abs() < 0.25;
        let sure = ok.then(|| (P::from_f64(a + slack), P::from_f64(1.0 - b - slack)));
        Params {
            first,
            denom,
            bins,
            edges,
            sure,
        }
    }
}

/// numpy's bin for `v` (finite or not; a non-finite value lands in some bin, the caller
/// filters it). Branch-free: comparisons become 0/1 arithmetic.
#[inline(always)]
pub(crate) fn bin_of<P: Prec>(v: P, p: &Params<P>) -> usize {
    let n = p.bins;
    let f = v.sub(p.first).div(p.denom).mul(P::from_usize(n));
    // `astype(intp)`, then the maximum pulled into the last bin; clamped to the edges so the
    // lookups below stay in bounds whatever the input (numpy's indices are in this range for
    // every input it accepts).
    let i0 = (f.trunc_i64().clamp(0, n as i64 - 1)) as usize;
    let dec = usize::from(v < p.edges[i0]);
    let i1 = i0.wrapping_sub(dec);
    // After a decrement, `edges[i1 + 1]` is `edges[i0]`.
    let right = p.edges[i0 + 1 - dec];
    let inc = usize::from(v >= right && i1 != n - 1);
    // `i1` is -1 only if `v < edges[0]`, which numpy never meets (edges[0] is the minimum).
    i1.wrapping_add(inc).min(n - 1)
}

fn count_scalar<T: Sample>(xs: &[T], p: &Params<T::P>, counts: &mut [u64]) {
    let n = p.bins;
    // Four interleaved tallies: neighbouring values often fall in the same bin, and one
    // tally would make each increment wait for the previous one.
    let stride = n + 1;
    let mut tally = vec![0u32; 4 * stride];
    let slot = |x: T| {
        let v = x.to_p();
        if v.is_finite() { bin_of(v, p) } else { n }
    };
    let mut quads = xs.chunks_exact(4);
    for q in &mut quads {
        tally[slot(q[0])] += 1;
        tally[stride + slot(q[1])] += 1;
        tally[2 * stride + slot(q[2])] += 1;
        tally[3 * stride + slot(q[3])] += 1;
    }
    for &x in quads.remainder() {
        tally[slot(x)] += 1;
    }
    for lane in tally.chunks_exact(stride) {
        for (c, t) in counts.iter_mut().zip(lane) {
            *c += u64::from(*t);
        }
    }
}

/// `numpy.linspace(start, stop, n + 1)` in precision `P`.
fn linspace<P: Prec>(start: P, stop: P, n: usize) -> Vec<P> {
    let delta = stop.sub(start);
    let div = P::from_usize(n);
    let step = delta.div(div);
    let mut edges: Vec<P> = if step == P::ZERO {
        (0..=n)
            .map(|i| P::from_usize(i).div(div).mul(delta).add(start))
            .collect()
    } else {
        (0..=n)
            .map(|i| P::from_usize(i).mul(step).add(start))
            .collect()
    };
    edges[n] = stop;
    edges
}

fn add(mut a: Vec<u64>, b: Vec<u64>) -> Vec<u64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// numpy's `first_edge`, `last_edge` and `norm_denom` for a range.
fn outer_edges<T: Sample>(xs: &[T], r: &Range<T::P>) -> (T::P, T::P, T::P) {
    let half = T::P::from_f64(0.5);
    if let Some((lo, hi)) = T::int_range(xs) {
        let (first, last) = (T::P::from_f64(lo as f64), T::P::from_f64(hi as f64));
        if lo == hi {
            let (first, last) = (first.sub(half), last.add(half));
            return (first, last, last.sub(first));
        }
        return (first, last, T::P::from_f64((hi - lo) as f64));
    }
    match r.min_max {
        // No finite value: numpy's default range.
        None => (T::P::ZERO, T::P::from_usize(1), T::P::from_usize(1)),
        Some((lo, hi)) if lo == hi => {
            let (first, last) = (lo.sub(half), hi.add(half));
            (first, last, last.sub(first))
        }
        Some((lo, hi)) => (lo, hi, hi.sub(lo)),
    }
}

/// The histogram of `xs` in `bins` equal-width bins (1..=[`MAX_BINS`]; clamped).
pub fn compute<T: Sample>(xs: &[T], bins: usize) -> Hist {
    let bins = bins.clamp(1, MAX_BINS);
    let r = if xs.len() <= CHUNK {
        T::range(xs)
    } else {
        xs.par_chunks(CHUNK)
            .map(T::range)
            .reduce(|| Range::EMPTY, Range::merge)
    };
    let (first, last, denom) = outer_edges(xs, &r);
    let p = Params::new(first, denom, bins, linspace(first, last, bins));
    let mut counts = if xs.len() <= CHUNK {
        let mut c = vec![0u64; bins + 1];
        T::count(xs, &p, &mut c);
        c
    } else {
        xs.par_chunks(CHUNK)
            .fold(
                || vec![0u64; bins + 1],
                |mut c, chunk| {
                    T::count(chunk, &p, &mut c);
                    c
                },
            )
            .reduce(|| vec![0u64; bins + 1], add)
    };
    counts.truncate(bins); // the last slot held the non-finite values
    Hist {
        edges: p.edges.iter().map(|e| e.to_f64()).collect(),
        counts,
        nan: r.nan,
        pos_inf: r.pos_inf,
        neg_inf: r.neg_inf,
    }
}

#[cfg(test)]
mod tests;
