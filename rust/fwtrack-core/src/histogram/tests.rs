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

#[test]
fn constant_float32_is_widened_in_float32() {
    // float32(1e8) - 0.5 rounds back to 1e8 in float32 (numpy refuses such a range: "too
    // many bins for data range"); every value is still counted once.
    let h = compute(&[1e8f32; 3], 2);
    assert_eq!(h.edges, vec![1e8, 1e8, 1e8]);
    assert_eq!(h.counts.iter().sum::<u64>(), 3);
}

#[test]
fn huge_int64_range_uses_the_exact_width() {
    let xs = [i64::MIN, -1, 0, 1, i64::MAX];
    let h = compute(&xs, 4);
    assert_eq!(h.counts, vec![1, 1, 2, 1]); // as numpy
    assert_eq!(h.edges[0], i64::MIN as f64);
}

/// The SIMD kernels and the scalar loop give the same tallies (the SIMD ones are used by
/// `compute` when the CPU has them; this compares both directly).
fn same_as_scalar<T: Sample>(xs: &[T], bins: usize) {
    let r = range_scalar(xs);
    let (first, last, denom) = outer_edges(xs, &r);
    let p = Params::new(first, denom, bins, linspace(first, last, bins));
    let mut fast = vec![0u64; bins + 1];
    T::count(xs, &p, &mut fast);
    let mut slow = vec![0u64; bins + 1];
    count_scalar(xs, &p, &mut slow);
    assert_eq!(fast, slow);
    let fr = T::range(xs);
    assert_eq!(format!("{fr:?}"), format!("{r:?}"));
}

fn adversarial_f32() -> Vec<Vec<f32>> {
    let sub = f32::from_bits(1); // the smallest subnormal
    let mut cases = vec![
        (0..1000).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        vec![0.0, sub, 2.0 * sub, 3.0 * sub, 7.0 * sub],
        vec![-f32::MAX, 0.0, f32::MAX, 1.0, -1.0, 3e38, -3e38],
        vec![1e7, 1e7 + 1.0, 1e7 + 2.0, 1e7 + 1.0, 1e7 + 1.0, 1e7],
        vec![
            f32::NAN,
            1.0,
            f32::INFINITY,
            2.0,
            f32::NEG_INFINITY,
            1.5,
            1.25,
            1.75,
            1.125,
        ],
    ];
    // Values on and one ulp either side of every edge of [0, 1) in 64 bins.
    let edges = linspace(0.0f32, 1.0, 64);
    let mut near = Vec::new();
    for e in &edges {
        near.extend([
            *e,
            f32::from_bits(e.to_bits() + 1),
            f32::from_bits(e.to_bits().saturating_sub(1)),
        ]);
    }
    near.retain(|v| (0.0..=1.0).contains(v));
    cases.push(near);
    cases
}

#[test]
fn adversarial_f32_simd_matches_scalar() {
    for xs in adversarial_f32() {
        for bins in [1, 3, 7, 64, 100, 512] {
            same_as_scalar(&xs, bins);
        }
    }
}

#[test]
fn adversarial_f64_simd_matches_scalar() {
    for xs in adversarial_f32() {
        let xs: Vec<f64> = xs.iter().map(|v| f64::from(*v)).collect();
        for bins in [1, 3, 7, 64, 100, 512] {
            same_as_scalar(&xs, bins);
        }
    }
    let huge = vec![-f64::MAX, f64::MAX, 0.0, 1e300, -1e300, 5e-324, 1e308];
    same_as_scalar(&huge, 64);
    let subnormal = vec![0.0, 5e-324, 1e-323, 1.5e-323, 2.5e-323];
    same_as_scalar(&subnormal, 64);
}

#[test]
fn every_value_lies_in_its_bin_for_ordinary_data() {
    let xs: Vec<f32> = (0..200_000)
        .map(|i| ((i * 7919) % 100_003) as f32 * 0.37 - 5e3)
        .collect();
    let h = compute(&xs, 64);
    assert_eq!(h.counts.iter().sum::<u64>(), xs.len() as u64);
    let e32: Vec<f32> = h.edges.iter().map(|e| *e as f32).collect();
    let mut want = vec![0u64; 64];
    for &x in &xs {
        let i = e32.partition_point(|e| *e <= x).clamp(1, 64) - 1;
        want[i] += 1;
    }
    assert_eq!(h.counts, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn counts_add_up(xs in proptest::collection::vec(-1e6f64..1e6, 0..150_000), bins in 1usize..100) {
        let h = compute(&xs, bins);
        prop_assert_eq!(h.counts.iter().sum::<u64>(), xs.len() as u64);
        prop_assert_eq!(h.edges.len(), h.counts.len() + 1);
        // every value lies within its bin's edges
        let r = range_scalar(&xs);
        let (first, _, denom) = outer_edges(&xs, &r);
        let p = Params::new(first, denom, bins, h.edges.clone());
        for &x in xs.iter().take(200) {
            let i = bin_of(x, &p);
            prop_assert!(h.edges[i] <= x);
            prop_assert!(x < h.edges[i + 1] || (i == bins - 1 && x <= h.edges[bins]));
        }
    }

    #[test]
    fn f32_kernels_agree(xs in proptest::collection::vec(proptest::num::f32::ANY, 0..3000), bins in 1usize..200) {
        same_as_scalar(&xs, bins);
    }
}
