//! Min/max-preserving downsampling of a metric series for charts.
//!
//! The step range `[first step, last step]` of the series is cut into `samples` equal-width
//! buckets. Each non-empty bucket yields its last point (step, value, timestamp) and the
//! minimum and maximum of its finite values (NaN when it has none): a spike between two
//! drawn points still shows in the min/max band. The series' last point is always kept
//! (it is the last point of its bucket). Non-finite values are kept as they are and take no
//! part in min/max. With `samples == 0`, or no more points than `samples`, the series is
//! returned at full resolution, without min/max.
//!
//! Points come through an accessor, so a column read straight from an index file (24-byte
//! little-endian rows) is downsampled without building per-point values first.

/// Size of one row of an index column: step, timestamp, value as little-endian f64.
pub const ROW_BYTES: usize = 24;

/// A series, possibly downsampled. All vectors have the same length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub step: Vec<f64>,
    pub value: Vec<f64>,
    pub timestamp: Vec<f64>,
    /// Per point, the minimum finite value of its bucket (only when downsampled).
    pub min: Option<Vec<f64>>,
    /// Per point, the maximum finite value of its bucket (only when downsampled).
    pub max: Option<Vec<f64>>,
}

impl Series {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.step.len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }

    /// Whether min/max were produced.
    pub fn downsampled(&self) -> bool {
        self.min.is_some()
    }
}

/// The bucket of `step` among `samples` equal-width buckets over `[lo, hi]` (clamped to
/// the valid range, so a step outside it lands in the first or last bucket).
#[inline]
pub fn bucket_of(step: f64, lo: f64, hi: f64, samples: usize) -> usize {
    bucket_scaled(step, lo, bucket_scale(lo, hi, samples), samples)
}

/// Buckets per unit of step over `[lo, hi]` (0 when the range is empty or not finite).
#[inline]
pub(crate) fn bucket_scale(lo: f64, hi: f64, samples: usize) -> f64 {
    let width = hi - lo;
    if width.is_finite() && width > 0.0 {
        samples as f64 / width
    } else {
        0.0
    }
}

/// The bucket of `step` given `bucket_scale`'s answer for the range starting at `lo`.
#[inline]
pub(crate) fn bucket_scaled(step: f64, lo: f64, scale: f64, samples: usize) -> usize {
    // `as` truncates toward zero (the floor of a non-negative number) and saturates: a
    // negative offset or NaN gives 0.
    (((step - lo) * scale) as usize).min(samples - 1)
}

/// Downsample `n` points given by `point(i) = (step, timestamp, value)`; steps should be
/// non-decreasing (out-of-order steps still land in their buckets).
pub fn downsample_with(
    n: usize,
    point: impl Fn(usize) -> (f64, f64, f64),
    samples: usize,
) -> Series {
    if samples == 0 || n <= samples {
        let mut s = Series {
            step: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            min: None,
            max: None,
        };
        for i in 0..n {
            let (st, ts, v) = point(i);
            s.step.push(st);
            s.timestamp.push(ts);
            s.value.push(v);
        }
        return s;
    }
    let lo = point(0).0;
    let scale = bucket_scale(lo, point(n - 1).0, samples);
    // Per bucket: the index of its last point (usize::MAX = empty) and its finite min/max.
    let mut last = vec![usize::MAX; samples];
    let mut bmin = vec![f64::INFINITY; samples];
    let mut bmax = vec![f64::NEG_INFINITY; samples];
    for i in 0..n {
        let (st, _, v) = point(i);
        let b = bucket_scaled(st, lo, scale, samples);
        last[b] = i;
        if v.is_finite() {
            if v < bmin[b] {
                bmin[b] = v;
            }
            if v > bmax[b] {
                bmax[b] = v;
            }
        }
    }
    let kept = last.iter().filter(|&&i| i != usize::MAX).count();
    let mut s = Series {
        step: Vec::with_capacity(kept),
        value: Vec::with_capacity(kept),
        timestamp: Vec::with_capacity(kept),
        min: Some(Vec::with_capacity(kept)),
        max: Some(Vec::with_capacity(kept)),
    };
    for b in 0..samples {
        let i = last[b];
        if i == usize::MAX {
            continue;
        }
        let (st, ts, v) = point(i);
        s.step.push(st);
        s.timestamp.push(ts);
        s.value.push(v);
        let finite = bmin[b] <= bmax[b];
        if let (Some(mn), Some(mx)) = (&mut s.min, &mut s.max) {
            mn.push(if finite { bmin[b] } else { f64::NAN });
            mx.push(if finite { bmax[b] } else { f64::NAN });
        }
    }
    s
}

/// Downsample a series given as columns (they must have the same length; the shortest
/// one decides otherwise).
pub fn downsample(step: &[f64], value: &[f64], timestamp: &[f64], samples: usize) -> Series {
    let n = step.len().min(value.len()).min(timestamp.len());
    downsample_with(n, |i| (step[i], timestamp[i], value[i]), samples)
}

#[inline]
fn f64_at(b: &[u8], at: usize) -> f64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(x)
}

/// The (step, timestamp, value) of row `i` of index-column bytes.
#[inline]
pub fn row_at(rows: &[u8], i: usize) -> (f64, f64, f64) {
    let at = i * ROW_BYTES;
    (
        f64_at(rows, at),
        f64_at(rows, at + 8),
        f64_at(rows, at + 16),
    )
}

/// Downsample index-column bytes (whole 24-byte rows; a partial last row is ignored).
pub fn downsample_rows(rows: &[u8], samples: usize) -> Series {
    downsample_with(rows.len() / ROW_BYTES, |i| row_at(rows, i), samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let step: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let value: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64).collect();
        let ts: Vec<f64> = (0..n).map(|i| 1000.0 + i as f64).collect();
        (step, value, ts)
    }

    #[test]
    fn full_resolution_when_small_or_zero() {
        let (s, v, t) = series(10);
        let out = downsample(&s, &v, &t, 10);
        assert_eq!(out.step, s);
        assert!(out.min.is_none() && out.max.is_none());
        let out = downsample(&s, &v, &t, 0);
        assert_eq!(out.len(), 10);
        assert!(!out.downsampled());
        assert!(downsample(&[], &[], &[], 5).is_empty());
    }

    #[test]
    fn buckets_keep_last_point_and_extremes() {
        // 100 steps into 10 buckets of 10 steps; a spike in bucket 3.
        let (s, mut v, t) = series(100);
        v[34] = 1e9;
        v[35] = -1e9;
        let out = downsample(&s, &v, &t, 10);
        assert_eq!(out.len(), 10);
        assert_eq!(out.step[0], 9.0);
        assert_eq!(*out.step.last().unwrap_or(&0.0), 99.0);
        let (mn, mx) = (out.min.unwrap_or_default(), out.max.unwrap_or_default());
        assert_eq!(mx[3], 1e9);
        assert_eq!(mn[3], -1e9);
        assert_eq!(out.value[3], v[39]);
        assert_eq!(out.timestamp[3], t[39]);
    }

    #[test]
    fn non_finite_values_stay_but_skip_min_max() {
        let s: Vec<f64> = (0..6).map(f64::from).collect();
        let v = vec![
            1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NAN,
            2.0,
            f64::NEG_INFINITY,
        ];
        let t = s.clone();
        let out = downsample(&s, &v, &t, 3);
        // buckets: [0,1], [2,3], [4,5]
        assert_eq!(out.len(), 3);
        assert!(out.value[0].is_nan());
        assert!(out.value[1].is_nan());
        assert_eq!(out.value[2], f64::NEG_INFINITY);
        let (mn, mx) = (out.min.unwrap_or_default(), out.max.unwrap_or_default());
        assert_eq!((mn[0], mx[0]), (1.0, 1.0));
        assert!(mn[1].is_nan() && mx[1].is_nan());
        assert_eq!((mn[2], mx[2]), (2.0, 2.0));
    }

    #[test]
    fn equal_steps_and_rows_bytes() {
        let s = vec![5.0; 4];
        let v = vec![1.0, 2.0, 3.0, 4.0];
        let out = downsample(&s, &v, &s, 2);
        assert_eq!(out.value, vec![4.0]);
        assert_eq!(out.min, Some(vec![1.0]));
        let mut bytes = Vec::new();
        for i in 0..4 {
            for x in [s[i], s[i], v[i]] {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        assert_eq!(downsample_rows(&bytes, 2), out);
        assert_eq!(row_at(&bytes, 2), (5.0, 5.0, 3.0));
    }
}
