//! Property tests of the downsampling: each bucket's min/max equal a brute force over the
//! bucket, each kept point is its bucket's last, the series' last point is kept, the output
//! is sorted and no longer than `samples + 1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fwtrack_core::downsample::{ROW_BYTES, bucket_of, downsample, downsample_rows};
use proptest::prelude::*;

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e6f64..1e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// Non-decreasing steps (repeats allowed) with values.
fn arb_series() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    proptest::collection::vec((0u64..5, arb_value()), 0..400).prop_map(|pts| {
        let mut step = 0u64;
        pts.into_iter()
            .map(|(d, v)| {
                step += d;
                (step as f64, v)
            })
            .unzip()
    })
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn buckets_match_brute_force((step, value) in arb_series(), samples in 0usize..60) {
        let ts: Vec<f64> = step.iter().map(|s| s * 2.0 + 0.5).collect();
        let out = downsample(&step, &value, &ts, samples);
        let n = step.len();
        if samples == 0 || n <= samples {
            prop_assert!(out.min.is_none() && out.max.is_none());
            prop_assert_eq!(&out.step, &step);
            prop_assert!(out.value.iter().zip(&value).all(|(a, b)| same(*a, *b)));
            return Ok(());
        }
        prop_assert!(out.len() <= samples + 1);
        prop_assert!(out.step.windows(2).all(|w| w[0] <= w[1]));
        // The series' last point is the output's last point.
        prop_assert_eq!(out.step.last(), step.last());
        prop_assert!(same(*out.value.last().unwrap(), value[n - 1]));
        prop_assert_eq!(out.timestamp.last(), ts.last());
        let (lo, hi) = (step[0], step[n - 1]);
        let (mn, mx) = (out.min.as_ref().unwrap(), out.max.as_ref().unwrap());
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); samples];
        for i in 0..n {
            buckets[bucket_of(step[i], lo, hi, samples)].push(i);
        }
        let nonempty: Vec<&Vec<usize>> = buckets.iter().filter(|b| !b.is_empty()).collect();
        prop_assert_eq!(nonempty.len(), out.len());
        for (j, b) in nonempty.iter().enumerate() {
            let last = *b.last().unwrap();
            prop_assert_eq!(out.step[j], step[last]);
            prop_assert!(same(out.value[j], value[last]));
            prop_assert_eq!(out.timestamp[j], ts[last]);
            let finite: Vec<f64> = b.iter().map(|&i| value[i]).filter(|v| v.is_finite()).collect();
            let bmin = finite.iter().copied().fold(f64::NAN, f64::min);
            let bmax = finite.iter().copied().fold(f64::NAN, f64::max);
            prop_assert!(same(mn[j], bmin), "bucket {} min {} want {}", j, mn[j], bmin);
            prop_assert!(same(mx[j], bmax), "bucket {} max {} want {}", j, mx[j], bmax);
        }
        // Buckets are equal-width: every step of a bucket lies in its slice of the range.
        for (j, b) in buckets.iter().enumerate() {
            for &i in b {
                let w = (hi - lo) / samples as f64;
                prop_assert!(step[i] >= lo + w * j as f64 - 1e-9 * hi.abs().max(1.0));
            }
        }
    }

    #[test]
    fn rows_bytes_and_columns_agree((step, value) in arb_series(), samples in 0usize..40) {
        let ts: Vec<f64> = step.iter().map(|s| s + 0.25).collect();
        let mut bytes = Vec::with_capacity(step.len() * ROW_BYTES);
        for i in 0..step.len() {
            for x in [step[i], ts[i], value[i]] {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        let a = downsample(&step, &value, &ts, samples);
        let b = downsample_rows(&bytes, samples);
        prop_assert_eq!(a.len(), b.len());
        prop_assert_eq!(&a.step, &b.step);
        prop_assert!(a.value.iter().zip(&b.value).all(|(x, y)| same(*x, *y)));
    }
}

#[test]
fn out_of_order_steps_stay_bounded() {
    let step: Vec<f64> = (0..1000).map(|i| f64::from((i * 37) % 101)).collect();
    let value: Vec<f64> = (0..1000).map(f64::from).collect();
    let out = downsample(&step, &value, &value, 10);
    assert!(out.len() <= 10);
    // The series' last point (the last of its bucket) is kept.
    assert!(
        out.step
            .iter()
            .zip(&out.value)
            .any(|(s, v)| *s == step[999] && *v == 999.0)
    );
}

#[test]
fn huge_and_tiny_step_ranges() {
    let step = vec![0.0, 1e300, 1.7e308];
    let out = downsample(&step, &[1.0, 2.0, 3.0], &[0.0; 3], 2);
    assert_eq!(out.len(), 2);
    assert_eq!(out.step.last(), Some(&1.7e308));
    let step = vec![1.0, 1.0 + f64::EPSILON, 1.0 + 2.0 * f64::EPSILON];
    let out = downsample(&step, &[1.0, 2.0, 3.0], &[0.0; 3], 2);
    assert_eq!(out.value.last(), Some(&3.0));
}
