//! The min/max pyramid of the history index, through `index_update` and `read_series`:
//! built incrementally (across torn tails) it equals one build over the whole log, a
//! manifest written without it gets it, and downsampling through it equals downsampling
//! every row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use common::{build_log, fl, row, start};
use fwtrack_core::downsample::{Series, downsample_rows};
use fwtrack_core::index::{
    self, MANIFEST_FILE, index_update, read_column, read_manifest, read_series,
};
use fwtrack_core::record::Record;

/// Blocks of history: "a" at every step, "b" at every third, values logged again at the
/// same step now and then (they replace the last row), NaNs and spikes.
fn blocks() -> Vec<Vec<Record>> {
    let mut out = vec![vec![start("pyr")]];
    let mut step = 0u64;
    for b in 0..24u64 {
        let mut block = Vec::new();
        for i in 0..500u64 {
            let x = ((step * 7919) % 1009) as f64 - 500.0;
            let a = match (step + b) % 97 {
                0 => f64::NAN,
                1 => 1e9,
                _ => x,
            };
            if step % 3 == 0 {
                block.push(row(step, &[fl("a", a), fl("b", -x)]));
            } else {
                block.push(row(step, &[fl("a", a)]));
            }
            if i % 50 == 7 {
                block.push(row(step, &[fl("a", a + 0.5)]));
            }
            step += 1 + (i % 5 == 0) as u64;
        }
        out.push(block);
    }
    out
}

/// The manifest text and the bytes of every column and pyramid level file.
fn files(idx: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let text = std::fs::read_to_string(idx.join(MANIFEST_FILE)).unwrap();
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(idx)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".col") || n.contains(".p"))
        .map(|n| (n.clone(), std::fs::read(idx.join(&n)).unwrap()))
        .collect();
    all.sort();
    (text, all)
}

fn assert_reads_match_rows(idx: &Path) {
    let m = read_manifest(idx).unwrap();
    assert!(m.columns.iter().all(|c| c.levels == 1), "{:?}", m.columns);
    let ranges = [
        (None, None),
        (Some(100.0), Some(15_000.0)),
        (Some(3.0), Some(9_000.5)),
        (None, Some(14_000.0)),
        (Some(1_000.0), None),
    ];
    for c in &m.columns {
        for (lo, hi) in ranges {
            let rows = read_column(idx, c, lo, hi).unwrap();
            for samples in [10, 33, 100] {
                let got =
                    read_series(idx, Some(std::slice::from_ref(&c.key)), samples, lo, hi).unwrap();
                let want = downsample_rows(&rows, samples);
                assert_eq!(format!("{:?}", got[0].1), format!("{want:?}"));
            }
        }
    }
}

#[test]
fn incremental_updates_across_torn_tails_equal_one_build() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, frames) = build_log(&blocks());
    let whole_log = tmp.path().join("whole.fwlog");
    std::fs::write(&whole_log, &bytes).unwrap();
    let whole = tmp.path().join("whole");
    index_update(&whole_log, &whole).unwrap();
    assert_reads_match_rows(&whole);

    // The same log written frame by frame, half of the next frame torn off before each
    // update, the index updated after each.
    let growing = tmp.path().join("growing.fwlog");
    let idx = tmp.path().join("inc");
    let mut f = std::fs::File::create(&growing).unwrap();
    f.write_all(&bytes[..frames[0].0]).unwrap();
    for (i, &(at, len)) in frames.iter().enumerate() {
        f.write_all(&bytes[at..at + len / 2]).unwrap();
        let u = index_update(&growing, &idx).unwrap();
        assert_eq!(u.log_offset, at as u64);
        if i > 0 {
            assert!(u.meta.tail_error.unwrap_or_default().contains("torn tail"));
        }
        f.write_all(&bytes[at + len / 2..at + len]).unwrap();
        index_update(&growing, &idx).unwrap();
    }
    assert_eq!(files(&idx), files(&whole));
    assert_reads_match_rows(&idx);
}

#[test]
fn a_manifest_without_the_pyramid_gets_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, _) = build_log(&blocks());
    let log = tmp.path().join("run.fwlog");
    std::fs::write(&log, &bytes).unwrap();
    let idx = tmp.path().join("index");
    index_update(&log, &idx).unwrap();
    let built = files(&idx);
    // As written before pyramids: no levels in the manifest, no level files.
    let mut m = read_manifest(&idx).unwrap();
    for c in &mut m.columns {
        c.levels = 0;
    }
    std::fs::write(idx.join(MANIFEST_FILE), m.to_json()).unwrap();
    for c in &m.columns {
        std::fs::remove_file(idx.join(c.file.replace(".col", ".p1"))).unwrap();
    }
    assert!(!m.to_json().contains("\"levels\":1"));
    // Readers answer from the rows meanwhile.
    let before = read_series(&idx, None, 50, None, None).unwrap();
    // The next update builds the pyramid though the log did not grow.
    let u = index_update(&log, &idx).unwrap();
    assert_eq!(u.rows_added, 0);
    assert_eq!(files(&idx), built);
    let dbg = |s: &[(String, Series)]| format!("{s:?}");
    assert_eq!(
        dbg(&read_series(&idx, None, 50, None, None).unwrap()),
        dbg(&before)
    );
    assert_reads_match_rows(&idx);
    // A level file lost later (an index copied without it) leaves readers on the rows and
    // is rebuilt by the next update that appends.
    std::fs::remove_file(idx.join("0.p1")).unwrap();
    let s = read_series(&idx, Some(&["a".into()]), 50, None, None).unwrap();
    assert_eq!(dbg(&s), dbg(&before[..1]));
    let _ = index::index_read_meta(&idx).unwrap();
}
