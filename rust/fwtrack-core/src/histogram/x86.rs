//! AVX2 kernels (x86-64, chosen at run time): the range pass and the binning pass for float32
//! and float64 input, computing exactly what [`super::bin_of`] computes, lane by lane.
//!
//! Each kernel is an `unsafe fn` compiled with `#[target_feature(enable = "avx2")]` and
//! reached only through a safe wrapper that has checked [`has_avx2`].

use std::arch::x86_64::{
    __m256, __m256d, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ, _CMP_NEQ_UQ, _MM_FROUND_NO_EXC,
    _MM_FROUND_TO_ZERO, _mm_max_epi32, _mm_min_epi32, _mm_set1_epi32, _mm256_add_epi32,
    _mm256_add_epi64, _mm256_and_pd, _mm256_and_ps, _mm256_andnot_si256, _mm256_blendv_epi8,
    _mm256_blendv_pd, _mm256_blendv_ps, _mm256_castpd_si256, _mm256_castps_si256, _mm256_cmp_pd,
    _mm256_cmp_ps, _mm256_cmpeq_epi32, _mm256_cmpeq_epi64, _mm256_cmpgt_epi64,
    _mm256_cvtepi32_epi64, _mm256_cvttpd_epi32, _mm256_cvttps_epi32, _mm256_div_pd, _mm256_div_ps,
    _mm256_i32gather_ps, _mm256_i64gather_pd, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_max_epi32,
    _mm256_max_pd, _mm256_max_ps, _mm256_min_epi32, _mm256_min_pd, _mm256_min_ps,
    _mm256_movemask_pd, _mm256_movemask_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_or_pd,
    _mm256_or_ps, _mm256_round_pd, _mm256_round_ps, _mm256_set1_epi32, _mm256_set1_epi64x,
    _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_setzero_si256,
    _mm256_storeu_pd, _mm256_storeu_ps, _mm256_storeu_si256, _mm256_sub_epi32, _mm256_sub_epi64,
    _mm256_sub_pd, _mm256_sub_ps, _mm256_testz_pd, _mm256_testz_ps,
};

use super::{Params, Range, range_scalar};

/// `_mm256_round_ps`/`_pd` mode: toward zero, no exceptions.
const TRUNC: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;

/// Whether this CPU runs the AVX2 kernels (cached by std after the first call).
#[inline]
pub(super) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// `xs`'s range with AVX2. The caller has checked [`has_avx2`].
pub(super) fn range_f32(xs: &[f32]) -> Range<f32> {
    // SAFETY: the only requirement of `range_f32_avx2` is AVX2, which the caller checked.
    let (lo, hi, finite) = unsafe { range_f32_avx2(xs) };
    if finite {
        Range {
            min_max: (lo <= hi).then_some((lo, hi)),
            ..Range::EMPTY
        }
    } else {
        range_scalar(xs) // rare: recount, keeping the non-finite values apart
    }
}

/// `xs`'s range with AVX2. The caller has checked [`has_avx2`].
pub(super) fn range_f64(xs: &[f64]) -> Range<f64> {
    // SAFETY: the only requirement of `range_f64_avx2` is AVX2, which the caller checked.
    let (lo, hi, finite) = unsafe { range_f64_avx2(xs) };
    if finite {
        Range {
            min_max: (lo <= hi).then_some((lo, hi)),
            ..Range::EMPTY
        }
    } else {
        range_scalar(xs)
    }
}

/// Minimum, maximum, and whether every value is finite.
#[target_feature(enable = "avx2")]
unsafe fn range_f32_avx2(xs: &[f32]) -> (f32, f32, bool) {
    const W: usize = 8;
    let mut blocks = xs.chunks_exact(2 * W);
    // SAFETY: AVX2 is enabled for this function; each load reads 8 in-bounds values of a
    // 16-value block; stores write into local arrays of 8.
    unsafe {
        let (mut lo0, mut lo1) = (_mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::INFINITY));
        let (mut hi0, mut hi1) = (
            _mm256_set1_ps(f32::NEG_INFINITY),
            _mm256_set1_ps(f32::NEG_INFINITY),
        );
        let mut bad = _mm256_setzero_ps();
        for b in &mut blocks {
            let v0 = _mm256_loadu_ps(b.as_ptr());
            let v1 = _mm256_loadu_ps(b.as_ptr().add(W));
            lo0 = _mm256_min_ps(v0, lo0);
            lo1 = _mm256_min_ps(v1, lo1);
            hi0 = _mm256_max_ps(v0, hi0);
            hi1 = _mm256_max_ps(v1, hi1);
            // v - v is 0 for a finite value and NaN for NaN and ±Inf.
            let z0 = _mm256_sub_ps(v0, v0);
            let z1 = _mm256_sub_ps(v1, v1);
            bad = _mm256_or_ps(bad, _mm256_or_ps(z0, z1));
        }
        let finite = _mm256_testz_ps(
            _mm256_cmp_ps::<_CMP_NEQ_UQ>(bad, _mm256_setzero_ps()),
            _mm256_cmp_ps::<_CMP_NEQ_UQ>(bad, _mm256_setzero_ps()),
        ) == 1;
        let (mut l, mut h) = ([0f32; W], [0f32; W]);
        _mm256_storeu_ps(l.as_mut_ptr(), _mm256_min_ps(lo0, lo1));
        _mm256_storeu_ps(h.as_mut_ptr(), _mm256_max_ps(hi0, hi1));
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut finite_rest = true;
        for &v in l.iter().chain(blocks.remainder()) {
            lo = if v < lo { v } else { lo };
        }
        for &v in h.iter().chain(blocks.remainder()) {
            hi = if v > hi { v } else { hi };
        }
        for &v in blocks.remainder() {
            finite_rest &= v.is_finite();
        }
        (lo, hi, finite && finite_rest)
    }
}

/// Minimum, maximum, and whether every value is finite.
#[target_feature(enable = "avx2")]
unsafe fn range_f64_avx2(xs: &[f64]) -> (f64, f64, bool) {
    const W: usize = 4;
    let mut blocks = xs.chunks_exact(2 * W);
    // SAFETY: AVX2 is enabled for this function; each load reads 4 in-bounds values of an
    // 8-value block; stores write into local arrays of 4.
    unsafe {
        let (mut lo0, mut lo1) = (_mm256_set1_pd(f64::INFINITY), _mm256_set1_pd(f64::INFINITY));
        let (mut hi0, mut hi1) = (
            _mm256_set1_pd(f64::NEG_INFINITY),
            _mm256_set1_pd(f64::NEG_INFINITY),
        );
        let mut bad = _mm256_setzero_pd();
        for b in &mut blocks {
            let v0 = _mm256_loadu_pd(b.as_ptr());
            let v1 = _mm256_loadu_pd(b.as_ptr().add(W));
            lo0 = _mm256_min_pd(v0, lo0);
            lo1 = _mm256_min_pd(v1, lo1);
            hi0 = _mm256_max_pd(v0, hi0);
            hi1 = _mm256_max_pd(v1, hi1);
            let z0 = _mm256_sub_pd(v0, v0);
            let z1 = _mm256_sub_pd(v1, v1);
            bad = _mm256_or_pd(bad, _mm256_or_pd(z0, z1));
        }
        let m = _mm256_cmp_pd::<_CMP_NEQ_UQ>(bad, _mm256_setzero_pd());
        let finite = _mm256_testz_pd(m, m) == 1;
        let (mut l, mut h) = ([0f64; W], [0f64; W]);
        _mm256_storeu_pd(l.as_mut_ptr(), _mm256_min_pd(lo0, lo1));
        _mm256_storeu_pd(h.as_mut_ptr(), _mm256_max_pd(hi0, hi1));
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut finite_rest = true;
        for &v in l.iter().chain(blocks.remainder()) {
            lo = if v < lo { v } else { lo };
        }
        for &v in h.iter().chain(blocks.remainder()) {
            hi = if v > hi { v } else { hi };
        }
        for &v in blocks.remainder() {
            finite_rest &= v.is_finite();
        }
        (lo, hi, finite && finite_rest)
    }
}

/// Bins `xs` into `counts` (`bins + 1` slots, non-finite values in the last) with AVX2.
/// The caller has checked [`has_avx2`].
pub(super) fn count_f32(xs: &[f32], p: &Params<f32>, counts: &mut [u64]) {
    let stride = p.bins + 1;
    let mut tally = vec![0u32; 8 * stride];
    // SAFETY: the only requirement of `count_f32_avx2` beyond its arguments' types is AVX2,
    // which the caller checked.
    unsafe { count_f32_avx2(xs, p, &mut tally) };
    merge(&tally, stride, counts);
}

/// Bins `xs` into `counts` with AVX2. The caller has checked [`has_avx2`].
pub(super) fn count_f64(xs: &[f64], p: &Params<f64>, counts: &mut [u64]) {
    let stride = p.bins + 1;
    let mut tally = vec![0u32; 4 * stride];
    // SAFETY: as in `count_f32`.
    unsafe { count_f64_avx2(xs, p, &mut tally) };
    merge(&tally, stride, counts);
}

fn merge(tally: &[u32], stride: usize, counts: &mut [u64]) {
    for lane in tally.chunks_exact(stride) {
        for (c, t) in counts.iter_mut().zip(lane) {
            *c += u64::from(*t);
        }
    }
}

/// Lane `j` of each 8-value block tallies into `tally[j * (bins + 1)..]`; `xs` holds at most
/// `u32::MAX` values per call (a chunk).
#[target_feature(enable = "avx2")]
unsafe fn count_f32_avx2(xs: &[f32], p: &Params<f32>, tally: &mut [u32]) {
    const W: usize = 8;
    let n = p.bins;
    let stride = n + 1;
    debug_assert!(p.edges.len() == n + 1 && tally.len() == W * stride && n <= super::MAX_BINS);
    let mut blocks = xs.chunks_exact(W);
    let edges = p.edges.as_ptr();
    // SAFETY: AVX2 is enabled for this function. Loads read 8 in-bounds values of an 8-value
    // block. Both gathers read `edges[i0]` and `edges[i0 + 1]` with `i0` clamped to
    // `0..=n - 1`, and `edges` holds `n + 1` values. The store writes a local array of 8.
    unsafe {
        let first = _mm256_set1_ps(p.first);
        let denom = _mm256_set1_ps(p.denom);
        let nf = _mm256_set1_ps(n as f32);
        let last = _mm256_set1_epi32(n as i32 - 1);
        let slot_bad = _mm256_set1_epi32(n as i32);
        let zero = _mm256_setzero_si256();
        let (sure_lo, sure_hi) = p.sure.unwrap_or((f32::INFINITY, f32::NEG_INFINITY));
        let (sure_lo, sure_hi) = (_mm256_set1_ps(sure_lo), _mm256_set1_ps(sure_hi));
        for b in &mut blocks {
            let v: __m256 = _mm256_loadu_ps(b.as_ptr());
            // numpy: ((v - first) / denom) * n, truncated; the maximum into the last bin.
            let f = _mm256_mul_ps(_mm256_div_ps(_mm256_sub_ps(v, first), denom), nf);
            // Shortcut (see `Params::new`): every fraction well inside its bin, so the
            // truncated estimate is the bin. NaN and ±Inf never pass these comparisons.
            let frac = _mm256_sub_ps(f, _mm256_round_ps::<TRUNC>(f));
            let sure = _mm256_and_ps(
                _mm256_and_ps(
                    _mm256_cmp_ps::<_CMP_GT_OQ>(frac, sure_lo),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(frac, sure_hi),
                ),
                _mm256_cmp_ps::<_CMP_LT_OQ>(f, nf),
            );
            let slot = if _mm256_movemask_ps(sure) == 0xFF {
                _mm256_cvttps_epi32(f)
            } else {
                let i0 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvttps_epi32(f), last), zero);
                let left = _mm256_i32gather_ps::<4>(edges, i0);
                let right = _mm256_i32gather_ps::<4>(edges.add(1), i0);
                // Down one below the left edge (the mask is -1 where true).
                let dec = _mm256_cmp_ps::<_CMP_LT_OQ>(v, left);
                let i1 = _mm256_add_epi32(i0, _mm256_castps_si256(dec));
                // Up one on or above the (new) right edge, except in the last bin.
                let right1 = _mm256_blendv_ps(right, left, dec);
                let ge = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, right1));
                let inc = _mm256_andnot_si256(_mm256_cmpeq_epi32(i1, last), ge);
                let i2 = _mm256_max_epi32(_mm256_sub_epi32(i1, inc), zero);
                // NaN and ±Inf (v - v is not 0) go to the extra slot `n`.
                let bad = _mm256_cmp_ps::<_CMP_NEQ_UQ>(_mm256_sub_ps(v, v), _mm256_setzero_ps());
                _mm256_blendv_epi8(i2, slot_bad, _mm256_castps_si256(bad))
            };
            let mut slots = [0u32; W];
            _mm256_storeu_si256(slots.as_mut_ptr().cast(), slot);
            for (j, &k) in slots.iter().enumerate() {
                tally[j * stride + k as usize] += 1;
            }
        }
    }
    for &v in blocks.remainder() {
        let k = if v.is_finite() {
            super::bin_of(v, p)
        } else {
            n
        };
        tally[k] += 1;
    }
}

/// As [`count_f32_avx2`], four float64 lanes.
#[target_feature(enable = "avx2")]
unsafe fn count_f64_avx2(xs: &[f64], p: &Params<f64>, tally: &mut [u32]) {
    const W: usize = 4;
    let n = p.bins;
    let stride = n + 1;
    debug_assert!(p.edges.len() == n + 1 && tally.len() == W * stride && n <= super::MAX_BINS);
    let mut blocks = xs.chunks_exact(W);
    let edges = p.edges.as_ptr();
    // SAFETY: AVX2 is enabled for this function. Loads read 4 in-bounds values of a 4-value
    // block. Both gathers read `edges[i0]` and `edges[i0 + 1]` with `i0` clamped to
    // `0..=n - 1`, and `edges` holds `n + 1` values. The store writes a local array of 4.
    unsafe {
        let first = _mm256_set1_pd(p.first);
        let denom = _mm256_set1_pd(p.denom);
        let nf = _mm256_set1_pd(n as f64);
        let last32 = _mm_set1_epi32(n as i32 - 1);
        let zero32 = _mm_set1_epi32(0);
        let last = _mm256_set1_epi64x(n as i64 - 1);
        let slot_bad = _mm256_set1_epi64x(n as i64);
        let zero = _mm256_setzero_si256();
        let (sure_lo, sure_hi) = p.sure.unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
        let (sure_lo, sure_hi) = (_mm256_set1_pd(sure_lo), _mm256_set1_pd(sure_hi));
        for b in &mut blocks {
            let v: __m256d = _mm256_loadu_pd(b.as_ptr());
            let f = _mm256_mul_pd(_mm256_div_pd(_mm256_sub_pd(v, first), denom), nf);
            let frac = _mm256_sub_pd(f, _mm256_round_pd::<TRUNC>(f));
            let sure = _mm256_and_pd(
                _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GT_OQ>(frac, sure_lo),
                    _mm256_cmp_pd::<_CMP_LT_OQ>(frac, sure_hi),
                ),
                _mm256_cmp_pd::<_CMP_LT_OQ>(f, nf),
            );
            let slot = if _mm256_movemask_pd(sure) == 0xF {
                _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(f))
            } else {
                let i0 = _mm256_cvtepi32_epi64(_mm_max_epi32(
                    _mm_min_epi32(_mm256_cvttpd_epi32(f), last32),
                    zero32,
                ));
                let left = _mm256_i64gather_pd::<8>(edges, i0);
                let right = _mm256_i64gather_pd::<8>(edges.add(1), i0);
                let dec = _mm256_cmp_pd::<_CMP_LT_OQ>(v, left);
                let i1 = _mm256_add_epi64(i0, _mm256_castpd_si256(dec));
                let right1 = _mm256_blendv_pd(right, left, dec);
                let ge = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_GE_OQ>(v, right1));
                let inc = _mm256_andnot_si256(_mm256_cmpeq_epi64(i1, last), ge);
                let i2 = _mm256_sub_epi64(i1, inc);
                // i2 is -1 only below edges[0] (never for numpy's inputs): clamp to 0.
                let neg = _mm256_cmpgt_epi64(zero, i2);
                let i2 = _mm256_blendv_epi8(i2, zero, neg);
                let bad = _mm256_cmp_pd::<_CMP_NEQ_UQ>(_mm256_sub_pd(v, v), _mm256_setzero_pd());
                _mm256_blendv_epi8(i2, slot_bad, _mm256_castpd_si256(bad))
            };
            let mut slots = [0u64; W];
            _mm256_storeu_si256(slots.as_mut_ptr().cast(), slot);
            for (j, &k) in slots.iter().enumerate() {
                tally[j * stride + k as usize] += 1;
            }
        }
    }
    for &v in blocks.remainder() {
        let k = if v.is_finite() {
            super::bin_of(v, p)
        } else {
            n
        };
        tally[k] += 1;
    }
}
