//! Histograms of large arrays, computed in parallel (rayon).
//!
//! Binning follows `numpy.histogram` with equal-width bins exactly: the range is the finite
//! minimum and maximum (widened by 0.5 on each side when they are equal), the edges are
//! `numpy.linspace(min, max, bins + 1)` computed in the precision numpy uses for the input
//! type (float32 edges for float32 data, float16 for float16, float64 otherwise), and each
//! value's bin is found the way numpy finds it (a multiply, then a correction against the
//! edges), so counts and edges match numpy's.
//! NaN and ±Inf are left out of the bins and counted on their own.

use rayon::prelude::*;

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
    fn to_f64(self) -> f64;

    /// The bin edges, computed in the precision numpy computes them in for this type
    /// (`numpy.result_type` of the data and its own minimum): float64 for ints and float64.
    fn edges(start: f64, stop: f64, n: usize) -> Vec<f64> {
        linspace(start, stop, n)
    }
}

macro_rules! sample_as {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
sample_as!(f64, i8, i16, i32, i64, u8, u16, u32, u64);

impl Sample for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn edges(start: f64, stop: f64, n: usize) -> Vec<f64> {
        // `numpy.linspace(..., dtype=float32)`: every operation rounded to float32.
        let (start, stop) = (start as f32, stop as f32);
        let step = (stop - start) / n as f32;
        let mut e: Vec<f64> = (0..=n)
            .map(|i| f64::from(i as f32 * step + start))
            .collect();
        e[n] = f64::from(stop);
        e
    }
}

impl Sample for half::f16 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn edges(start: f64, stop: f64, n: usize) -> Vec<f64> {
        use half::f16;
        let (start, stop) = (f16::from_f64(start), f16::from_f64(stop));
        let step =
            f16::from_f32((stop.to_f32() - start.to_f32()) / f16::from_f64(n as f64).to_f32());
        let mut e: Vec<f64> = (0..=n)
            .map(|i| {
                let prod = f16::from_f32(f16::from_f64(i as f64).to_f32() * step.to_f32());
                f64::from(f16::from_f32(prod.to_f32() + start.to_f32()))
            })
            .collect();
        e[n] = f64::from(stop);
        e
    }
}

impl Sample for half::bf16 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

const CHUNK: usize = 1 << 16;

#[derive(Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
}

impl Range {
    const EMPTY: Range = Range {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
    };

    fn merge(self, o: Range) -> Range {
        Range {
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            nan: self.nan + o.nan,
            pos_inf: self.pos_inf + o.pos_inf,
            neg_inf: self.neg_inf + o.neg_inf,
        }
    }
}

fn range_of<T: Sample>(xs: &[T]) -> Range {
    // Fast path, in independent lanes so that it vectorizes: comparisons skip NaN, and
    // `v * 0 != 0` flags NaN and ±Inf alike.
    const LANES: usize = 8;
    let mut lo = [f64::INFINITY; LANES];
    let mut hi = [f64::NEG_INFINITY; LANES];
    let mut bad = [0u32; LANES];
    let mut blocks = xs.chunks_exact(LANES);
    for block in &mut blocks {
        for j in 0..LANES {
            let v = block[j].to_f64();
            lo[j] = if v < lo[j] { v } else { lo[j] };
            hi[j] = if v > hi[j] { v } else { hi[j] };
            bad[j] += u32::from(v * 0.0 != 0.0);
        }
    }
    let mut r = Range::EMPTY;
    let mut non_finite = bad.iter().any(|b| *b > 0);
    for &x in blocks.remainder() {
        let v = x.to_f64();
        non_finite |= !v.is_finite();
    }
    if !non_finite {
        let rest = blocks.remainder().iter().map(|x| x.to_f64());
        r.min = lo
            .iter()
            .copied()
            .chain(rest.clone())
            .fold(f64::INFINITY, f64::min);
        r.max = hi
            .iter()
            .copied()
            .chain(rest)
            .fold(f64::NEG_INFINITY, f64::max);
        return r;
    }
    // Rare path: recount, keeping only the finite values in the range.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in xs {
        let v = x.to_f64();
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        } else if v.is_nan() {
            r.nan += 1;
        } else if v > 0.0 {
            r.pos_inf += 1;
        } else {
            r.neg_inf += 1;
        }
    }
    r.min = lo;
    r.max = hi;
    r
}

/// `numpy.linspace(start, stop, n + 1)`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let delta = stop - start;
    let step = delta / n as f64;
    let mut edges: Vec<f64> = (0..=n).map(|i| i as f64 * step + start).collect();
    edges[n] = stop;
    edges
}

#[inline(always)]
fn bin_of(v: f64, first: f64, norm: f64, edges: &[f64], bins: usize) -> usize {
    // As numpy: truncate, pull the maximum into the last bin, then correct by the edges.
    let mut i = (((v - first) * norm) as usize).min(bins - 1);
    if v < edges[i] {
        i = i.saturating_sub(1);
    } else if i + 1 < bins && v >= edges[i + 1] {
        i += 1;
    }
    i
}

fn count_chunk<T: Sample>(
    xs: &[T],
    first: f64,
    norm: f64,
    edges: &[f64],
    bins: usize,
    all_finite: bool,
) -> Vec<u64> {
    if !all_finite {
        let mut counts = vec![0u64; bins];
        for &x in xs {
            let v = x.to_f64();
            if v.is_finite() {
                counts[bin_of(v, first, norm, edges, bins)] += 1;
            }
        }
        return counts;
    }
    // Four interleaved tallies: neighbouring values often fall in the same bin, and one
    // tally would make each increment wait for the previous one.
    let mut tally = vec![0u32; 4 * bins];
    let (t0, rest) = tally.split_at_mut(bins);
    let (t1, rest) = rest.split_at_mut(bins);
    let (t2, t3) = rest.split_at_mut(bins);
    let mut quads = xs.chunks_exact(4);
    for q in &mut quads {
        t0[bin_of(q[0].to_f64(), first, norm, edges, bins)] += 1;
        t1[bin_of(q[1].to_f64(), first, norm, edges, bins)] += 1;
        t2[bin_of(q[2].to_f64(), first, norm, edges, bins)] += 1;
        t3[bin_of(q[3].to_f64(), first, norm, edges, bins)] += 1;
    }
    for &x in quads.remainder() {
        t0[bin_of(x.to_f64(), first, norm, edges, bins)] += 1;
    }
    (0..bins)
        .map(|b| u64::from(t0[b]) + u64::from(t1[b]) + u64::from(t2[b]) + u64::from(t3[b]))
        .collect()
}

fn add(mut a: Vec<u64>, b: Vec<u64>) -> Vec<u64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// The histogram of `xs` in `bins` equal-width bins (1..=[`MAX_BINS`]; clamped).
pub fn compute<T: Sample>(xs: &[T], bins: usize) -> Hist {
    let bins = bins.clamp(1, MAX_BINS);
    let r = if xs.len() <= CHUNK {
        range_of(xs)
    } else {
        xs.par_chunks(CHUNK)
            .map(range_of)
            .reduce(|| Range::EMPTY, Range::merge)
    };
    let (mut first, mut last) = if r.min <= r.max {
        (r.min, r.max)
    } else {
        (0.0, 1.0) // no finite value: numpy's default range
    };
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let edges = T::edges(first, last, bins);
    let norm = bins as f64 / (last - first);
    let all_finite = r.nan + r.pos_inf + r.neg_inf == 0;
    let counts = if xs.len() <= CHUNK {
        count_chunk(xs, first, norm, &edges, bins, all_finite)
    } else {
        xs.par_chunks(CHUNK)
            .map(|c| count_chunk(c, first, norm, &edges, bins, all_finite))
            .reduce(|| vec![0u64; bins], add)
    };
    Hist {
        edges,
        counts,
        nan: r.nan,
        pos_inf: r.pos_inf,
        neg_inf: r.neg_inf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_counts() {
        let h = compute(&[0.0f64, 1.0, 2.0, 3.0, 4.0], 4);
        assert_eq!(h.edges, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(h.counts, vec![1, 1, 1, 2]);
    }

    #[test]
    fn non_finite_are_counted_apart() {
        let h = compute(
            &[
                f32::NAN,
                1.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                2.0,
                f32::NAN,
            ],
            2,
        );
        assert_eq!((h.nan, h.pos_inf, h.neg_inf), (2, 1, 1));
        assert_eq!(h.counts.iter().sum::<u64>(), 2);
        assert_eq!(h.edges.first().copied(), Some(1.0));
        assert_eq!(h.edges.last().copied(), Some(2.0));
    }

    #[test]
    fn constant_and_empty_inputs() {
        let h = compute(&[5i32; 10], 4);
        assert_eq!(h.edges.first().copied(), Some(4.5));
        assert_eq!(h.counts.iter().sum::<u64>(), 10);
        let e = compute::<f64>(&[], 3);
        assert_eq!(e.counts, vec![0, 0, 0]);
        assert_eq!(e.edges.len(), 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn counts_add_up(xs in proptest::collection::vec(-1e6f64..1e6, 0..150_000), bins in 1usize..100) {
            let h = compute(&xs, bins);
            prop_assert_eq!(h.counts.iter().sum::<u64>(), xs.len() as u64);
            prop_assert_eq!(h.edges.len(), h.counts.len() + 1);
            // every value lies within its bin's edges
            for &x in xs.iter().take(200) {
                let first = h.edges[0];
                let last = h.edges[bins];
                let norm = bins as f64 / (last - first);
                let i = bin_of(x, first, norm, &h.edges, bins);
                prop_assert!(h.edges[i] <= x);
                prop_assert!(x < h.edges[i + 1] || (i == bins - 1 && x <= h.edges[bins]));
            }
        }
    }
}
