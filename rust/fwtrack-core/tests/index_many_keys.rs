//! A run with more metric keys than a process may have open files: an update holds no
//! descriptor per column. (Its own test binary: it lowers this process's file limit.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{build_log, fl, row};
use fwtrack_core::index::{index_update, read_series};
use fwtrack_core::record::Record;

#[test]
fn more_keys_than_open_files() {
    let limit = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: setrlimit with a valid, initialized struct.
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) },
        0
    );
    let tmp = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("layer{i}/grad_norm")).collect();
    let blocks: Vec<Vec<Record>> = (0..3u64)
        .map(|s| keys.iter().map(|k| row(s, &[fl(k, s as f64)])).collect())
        .collect();
    let log = tmp.path().join("run.fwlog");
    let idx = tmp.path().join("index");
    let (bytes, frames) = build_log(&blocks);
    std::fs::write(&log, &bytes[..frames[1].0]).unwrap();
    index_update(&log, &idx).unwrap();
    std::fs::write(&log, &bytes).unwrap();
    let u = index_update(&log, &idx).unwrap();
    assert_eq!(u.keys, keys);
    let s = read_series(&idx, None, 0, None, None).unwrap();
    assert_eq!(s.len(), 200);
    assert!(s.iter().all(|(_, x)| x.value == vec![0.0, 1.0, 2.0]));
}
