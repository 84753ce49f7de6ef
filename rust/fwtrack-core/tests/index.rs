//! The history index: incremental updates equal one update over the whole log, the
//! metadata matches what the reader folds from the log, the summary is what the writer
//! computes, and interrupted or replaced states are recovered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{arb_blocks, arb_value, build_log, fl, map, mp_eq, open, quiet_opts, row};
use fwtrack_core::codec::{self, HEADER_LEN, Tail};
use fwtrack_core::downsample::{ROW_BYTES, row_at};
use fwtrack_core::index::{self, MANIFEST_FILE, Manifest, RunMeta, read_manifest, read_series};
use fwtrack_core::reader::{Column, RunView, decode_log};
use fwtrack_core::record::{Finish, Key, MetricDef, Record, Row, SummarySnapshot, Value};
use fwtrack_core::writer::{Writer, WriterOptions};
use proptest::prelude::*;
use rmpv::Value as Mp;

fn update(log: &Path, idx: &Path) -> index::IndexUpdate {
    index::index_update(log, idx).unwrap()
}

/// The manifest text and every column's bytes (the first `rows` rows).
fn snapshot_of(idx: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let text = std::fs::read_to_string(idx.join(MANIFEST_FILE)).unwrap();
    let m = Manifest::from_json(&text, "test").unwrap();
    let cols = m
        .columns
        .iter()
        .map(|c| {
            let mut b = std::fs::read(idx.join(&c.file)).unwrap();
            b.truncate(c.rows as usize * ROW_BYTES);
            (c.key.clone(), b)
        })
        .collect();
    (text, cols)
}

/// Index `bytes` in one update.
fn index_whole(bytes: &[u8], dir: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let log = dir.join("whole.fwlog");
    std::fs::write(&log, bytes).unwrap();
    let idx = dir.join("whole-index");
    update(&log, &idx);
    snapshot_of(&idx)
}

/// Index `bytes` as a log growing through `cuts` (byte lengths, any order of growth).
fn index_growing(bytes: &[u8], cuts: &[usize], dir: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let log = dir.join("growing.fwlog");
    let idx = dir.join("growing-index");
    let mut f = std::fs::File::create(&log).unwrap();
    let mut written = 0usize;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(written, bytes.len());
        f.write_all(&bytes[written..cut]).unwrap();
        f.flush().unwrap();
        written = cut;
        update(&log, &idx);
    }
    snapshot_of(&idx)
}

/// Records of a plausible run: steps that never go down, a few keys, every value type.
fn arb_run_record() -> impl Strategy<Value = Record> {
    let key = prop_oneof![Just("a"), Just("b"), Just("train/loss"), Just("s")];
    let history = (
        0u64..3,
        proptest::collection::vec((key.clone(), arb_value()), 0..4),
    )
        .prop_map(|(dstep, vals)| {
            Record::History(Row {
                step: dstep, // made cumulative below
                timestamp: 0.0,
                runtime: 0.0,
                values: vals.into_iter().map(|(k, v)| (Key::from(k), v)).collect(),
            })
        });
    let aggs = proptest::sample::subsequence(vec!["min", "max", "mean", "first", "last"], 0..3);
    let def = (prop_oneof![Just("a"), Just("train/*"), Just("b")], aggs).prop_map(|(n, a)| {
        Record::MetricDef(MetricDef {
            name: n.into(),
            step_metric: None,
            summary: a.into_iter().map(str::to_owned).collect(),
            ..MetricDef::default()
        })
    });
    let snapshot = proptest::collection::vec((key, arb_value()), 0..3).prop_map(|vals| {
        let explicit = vals.iter().take(1).map(|(k, _)| (*k).to_owned()).collect();
        Record::Summary(SummarySnapshot {
            values: Mp::Map(
                vals.into_iter()
                    .map(|(k, v)| (Mp::from(k), v.to_mp()))
                    .collect(),
            ),
            explicit,
        })
    });
    prop_oneof![
        8 => history,
        1 => def,
        1 => snapshot,
        1 => Just(Record::RunStart(map(&[("id", Mp::from("r"))]))),
        1 => Just(Record::Config(map(&[("lr", Mp::F64(0.5))]))),
        1 => Just(Record::Finish(Finish { exit_code: 0, timestamp: 1.0, runtime: 2.0, reason: None })),
    ]
}

fn arb_run_blocks() -> impl Strategy<Value = Vec<Vec<Record>>> {
    proptest::collection::vec(proptest::collection::vec(arb_run_record(), 1..8), 1..8).prop_map(
        |blocks| {
            let mut step = 0u64;
            blocks
                .into_iter()
                .map(|b| {
                    b.into_iter()
                        .map(|r| match r {
                            Record::History(mut row) => {
                                step += row.step;
                                row.step = step;
                                row.timestamp = 1e9 + step as f64;
                                row.runtime = step as f64;
                                Record::History(row)
                            }
                            other => other,
                        })
                        .collect()
                })
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn incremental_updates_equal_one_update(
        blocks in arb_run_blocks(),
        cuts in proptest::collection::vec(0usize..4096, 0..6),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let (bytes, _) = build_log(&blocks);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = index_whole(&bytes, tmp.path());
        let growing = index_growing(&bytes, &cuts, tmp.path());
        prop_assert_eq!(&whole.0, &growing.0);
        prop_assert_eq!(whole.1, growing.1);
    }

    #[test]
    fn any_records_index_the_same_in_pieces(blocks in arb_blocks(5), cut in 0usize..2048) {
        // Arbitrary records (steps in any order, odd keys, unknown kinds) too.
        let tmp = tempfile::tempdir().unwrap();
        let (bytes, _) = build_log(&blocks);
        let whole = index_whole(&bytes, tmp.path());
        let growing = index_growing(&bytes, &[cut], tmp.path());
        prop_assert_eq!(&whole.0, &growing.0);
        prop_assert_eq!(whole.1, growing.1);
    }
}

#[test]
fn every_split_point_of_a_log_gives_the_same_index() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks: Vec<Vec<Record>> = (0..6u64)
        .map(|b| {
            (0..5u64)
                .map(|i| {
                    let s = b * 3 + i / 2; // pairs of records share a step
                    row(s, &[fl("a", (b * 10 + i) as f64), fl("b", f64::NAN)])
                })
                .collect()
        })
        .collect();
    let (bytes, _) = build_log(&blocks);
    let whole = index_whole(&bytes, tmp.path());
    for cut in (0..bytes.len()).step_by(7) {
        let sub = tmp.path().join(format!("cut{cut}"));
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(index_growing(&bytes, &[cut], &sub), whole, "cut at {cut}");
    }
}

// ---------------------------------------------------------------------------------------
// Against the reader and the writer.

fn meta_of_view(v: &RunView) -> RunMeta {
    v.meta.clone()
}

fn assert_meta_eq(got: &RunMeta, want: &RunMeta, what: &str) {
    assert!(
        mp_eq(&got.to_mp(), &want.to_mp()),
        "{what}: metadata differs\n got  {got:?}\n want {want:?}"
    );
}

/// Each numeric key's (step, value) pairs as the reader's merged rows give them.
fn numeric_points(v: &RunView) -> Vec<(String, Vec<(f64, f64)>)> {
    let cols = v.columns(None);
    let mut out = Vec::new();
    for (k, c) in &cols.columns {
        let mut pts = Vec::new();
        for (i, row) in v.rows.iter().enumerate() {
            let Some((_, val)) = row.values.iter().find(|(kk, _)| kk == k) else {
                continue;
            };
            let x = match val {
                Value::Float(x) => *x,
                Value::Int(n) => *n as f64,
                Value::Bool(b) => f64::from(u8::from(*b)),
                Value::Str(_) => continue,
            };
            if let Column::Numeric(xs) = c {
                assert!(xs[i].to_bits() == x.to_bits() || (xs[i].is_nan() && x.is_nan()));
            }
            pts.push((cols.step[i] as f64, x));
        }
        if !pts.is_empty() {
            out.push((k.to_string(), pts));
        }
    }
    out
}

fn indexed_points(idx: &Path) -> Vec<(String, Vec<(f64, f64)>)> {
    read_series(idx, None, 0, None, None)
        .unwrap()
        .into_iter()
        .map(|(k, s)| (k, s.step.into_iter().zip(s.value).collect()))
        .collect()
}

fn same_points(a: &[(String, Vec<(f64, f64)>)], b: &[(String, Vec<(f64, f64)>)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((k1, p1), (k2, p2))| {
            k1 == k2
                && p1.len() == p2.len()
                && p1.iter().zip(p2).all(|(x, y)| {
                    x.0 == y.0 && (x.1.to_bits() == y.1.to_bits() || x.1.is_nan() && y.1.is_nan())
                })
        })
}

fn small_blocks() -> WriterOptions {
    WriterOptions {
        block_bytes: 300,
        ..quiet_opts()
    }
}

/// A run written by the real writer: metric definitions, explicit summary values, NaN,
/// strings, bools, a same-step merge, a resume after a crash and a finish.
fn writer_run(dir: &Path) -> PathBuf {
    let (w, _) = open(dir, false, small_blocks());
    w.send(Record::Config(map(&[("lr", Mp::F64(0.1))])))
        .unwrap();
    w.send(Record::MetricDef(MetricDef {
        name: "loss".into(),
        step_metric: None,
        summary: vec!["min".into(), "max".into(), "mean".into()],
        ..MetricDef::default()
    }))
    .unwrap();
    for step in 0..40u64 {
        let loss = if step == 7 {
            f64::NAN
        } else {
            10.0 - step as f64 * 0.1
        };
        w.send(row(
            step,
            &[
                fl("loss", loss),
                ("epoch", Value::Int((step / 10) as i64)),
                ("flag", Value::Bool(step % 3 == 0)),
                ("phase", Value::Str(format!("p{}", step % 2))),
            ],
        ))
        .unwrap();
        if step == 20 {
            w.send(row(step, &[fl("extra", 1.5)])).unwrap(); // same step: merged
            w.set_summary(vec![("best".into(), Mp::from(3))], vec![])
                .unwrap();
        }
        if step % 9 == 0 {
            w.flush().unwrap();
        }
    }
    w.flush().unwrap();
    drop(w); // a crash: no finish record
    common::wait_unlocked(dir);
    let (w, _) = open(dir, true, small_blocks());
    w.send(Record::MetricDef(MetricDef {
        name: "acc*".into(),
        step_metric: None,
        summary: vec!["max".into(), "first".into()],
        ..MetricDef::default()
    }))
    .unwrap();
    for step in 40..70u64 {
        w.send(row(
            step,
            &[fl("loss", 1.0 / step as f64), fl("acc/top1", step as f64)],
        ))
        .unwrap();
        if step == 55 {
            w.set_summary(vec![], vec!["best".into()]).unwrap();
            w.flush().unwrap();
        }
    }
    w.send(Record::Finish(Finish {
        exit_code: 0,
        timestamp: 2e9,
        runtime: 99.0,
        reason: None,
    }))
    .unwrap();
    w.close().unwrap();
    dir.join(fwtrack_core::LOG_FILE_NAME)
}

#[test]
fn meta_and_columns_match_the_reader_at_every_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let log = writer_run(&run);
    let bytes = std::fs::read(&log).unwrap();
    let (frames, tail) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    assert_eq!(tail, Tail::Clean);
    assert!(frames.len() > 10, "want many frames, got {}", frames.len());
    let growing = tmp.path().join("growing.fwlog");
    let idx = tmp.path().join("index");
    let mut f = std::fs::File::create(&growing).unwrap();
    let mut written = 0usize;
    let ends =
        std::iter::once(HEADER_LEN).chain(frames.iter().map(|fr| (fr.offset + fr.len) as usize));
    for end in ends {
        f.write_all(&bytes[written..end]).unwrap();
        written = end;
        let u = update(&growing, &idx);
        assert_eq!(u.log_offset, end as u64);
        let view = RunView::from_contents(decode_log(&bytes[..end], "prefix").unwrap());
        assert_meta_eq(
            &u.meta,
            &meta_of_view(&view),
            &format!("prefix of {end} bytes"),
        );
        let want = numeric_points(&view);
        assert!(
            same_points(&indexed_points(&idx), &want),
            "columns at {end}"
        );
        assert_eq!(
            u.keys,
            want.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
        );
    }
    // Half of a frame more: the update stops before it and says why.
    let (tail_frame, rest) = {
        let mut raw = Vec::new();
        codec::push_record(&mut raw, &row(999, &[fl("loss", 0.0)]));
        let fr = codec::encode_frame(&raw, 10_000, 1, 1);
        let half = fr.len() / 2;
        (fr[..half].to_vec(), fr[half..].to_vec())
    };
    f.write_all(&tail_frame).unwrap();
    let u = update(&growing, &idx);
    assert_eq!(u.log_offset, bytes.len() as u64);
    assert_eq!(u.rows_added, 0);
    assert!(
        u.meta
            .tail_error
            .as_deref()
            .unwrap_or("")
            .contains("torn tail")
    );
    f.write_all(&rest).unwrap();
    let u = update(&growing, &idx);
    assert_eq!(u.rows_added, 1);
    assert_eq!(u.meta.tail_error, None);
    assert_eq!(u.meta.last_step, Some(999));
}

/// The log with the records `drop` selects left out (frames keep their boundaries).
fn without(bytes: &[u8], drop: impl Fn(usize, &Record) -> bool) -> Vec<u8> {
    let (frames, _) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    let mut i = 0usize;
    let blocks: Vec<Vec<Record>> = frames
        .into_iter()
        .map(|f| {
            f.records
                .into_iter()
                .filter(|r| {
                    i += 1;
                    !drop(i - 1, r)
                })
                .collect::<Vec<_>>()
        })
        .filter(|b| !b.is_empty())
        .collect();
    build_log(&blocks).0
}

#[test]
fn summary_is_computed_as_the_writer_does_without_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (w, _) = open(&dir, false, small_blocks());
    w.send(Record::MetricDef(MetricDef {
        name: "m/*".into(),
        step_metric: None,
        summary: vec![
            "min".into(),
            "max".into(),
            "mean".into(),
            "first".into(),
            "last".into(),
        ],
        ..MetricDef::default()
    }))
    .unwrap();
    for step in 0..200u64 {
        let x = match step % 17 {
            0 => f64::NAN,
            5 => f64::INFINITY,
            _ => (step as f64 * 0.37).sin(),
        };
        w.send(row(
            step,
            &[
                fl("m/x", x),
                ("m/i", Value::Int(step as i64 - 50)),
                ("plain", Value::Str("s".into())),
            ],
        ))
        .unwrap();
        if step % 37 == 0 {
            w.flush().unwrap();
        }
    }
    w.close().unwrap();
    let bytes = std::fs::read(dir.join(fwtrack_core::LOG_FILE_NAME)).unwrap();
    let want = RunView::from_contents(decode_log(&bytes, "full").unwrap());
    let stripped = without(&bytes, |_, r| matches!(r, Record::Summary(_)));
    for cuts in [vec![], vec![500, 1500, 4000]] {
        let sub = tmp.path().join(format!("s{}", cuts.len()));
        std::fs::create_dir_all(&sub).unwrap();
        index_growing(&stripped, &cuts, &sub);
        let m = read_manifest(&sub.join("growing-index")).unwrap();
        let summary = &want.summary.as_ref().unwrap().values;
        assert!(
            mp_eq(&m.meta.summary, summary),
            "computed {:?}\n writer {:?}",
            m.meta.summary,
            summary
        );
    }
}

#[test]
fn a_missing_last_snapshot_is_computed_from_the_restored_state() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let log = writer_run(&run);
    let bytes = std::fs::read(&log).unwrap();
    let want = RunView::from_contents(decode_log(&bytes, "full").unwrap());
    let (frames, _) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    let total: usize = frames.iter().map(|f| f.records.len()).sum();
    // The last Summary record comes just before the Finish record.
    let last_summary = frames
        .iter()
        .flat_map(|f| f.records.iter())
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::Summary(_)))
        .map(|(i, _)| i)
        .last()
        .unwrap();
    assert!(last_summary + 3 >= total);
    let cut = without(&bytes, |i, _| i == last_summary);
    let idx = tmp.path().join("index");
    let cut_log = tmp.path().join("cut.fwlog");
    std::fs::write(&cut_log, &cut).unwrap();
    let u = update(&cut_log, &idx);
    let summary = &want.summary.as_ref().unwrap().values;
    assert!(
        mp_eq(&u.meta.summary, summary),
        "computed {:?}\n writer {:?}",
        u.meta.summary,
        summary
    );
}

// ---------------------------------------------------------------------------------------
// Recovery.

fn simple_log(n: u64, base: f64) -> Vec<u8> {
    let blocks: Vec<Vec<Record>> = (0..n)
        .map(|s| vec![row(s, &[fl("a", base + s as f64), fl("b", -(s as f64))])])
        .collect();
    build_log(&blocks).0
}

#[test]
fn a_replaced_log_is_indexed_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("run.fwlog");
    let idx = tmp.path().join("index");
    std::fs::write(&log, simple_log(50, 0.0)).unwrap();
    update(&log, &idx);
    // Shorter.
    let short = simple_log(5, 100.0);
    std::fs::write(&log, &short).unwrap();
    let u = update(&log, &idx);
    assert_eq!(u.log_offset, short.len() as u64);
    assert_eq!(u.meta.rows, 5);
    std::fs::create_dir_all(tmp.path().join("w1")).unwrap();
    assert_eq!(
        snapshot_of(&idx),
        index_whole(&short, &tmp.path().join("w1"))
    );
    // Longer, with a different first frame.
    let long = simple_log(80, 1000.0);
    std::fs::write(&log, &long).unwrap();
    let u = update(&log, &idx);
    assert_eq!(u.meta.rows, 80);
    let s = read_series(&idx, Some(&["a".into()]), 0, None, None).unwrap();
    assert_eq!(s[0].1.value[0], 1000.0);
    // Cut below the header: an empty index.
    std::fs::write(&log, &long[..10]).unwrap();
    let u = update(&log, &idx);
    assert_eq!((u.log_offset, u.keys.len()), (0, 0));
    assert_eq!(index::index_read_meta(&idx).unwrap().log_offset, 0);
}

#[test]
fn an_interrupted_update_is_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = simple_log(100, 0.0);
    let whole = index_whole(&bytes, tmp.path());
    let (_, frames) = build_log(
        &(0..100u64)
            .map(|s| vec![row(s, &[fl("a", s as f64), fl("b", -(s as f64))])])
            .collect::<Vec<_>>(),
    );
    let log = tmp.path().join("run.fwlog");
    let idx = tmp.path().join("index");
    let half = frames[40].0;
    std::fs::write(&log, &bytes[..half]).unwrap();
    update(&log, &idx);
    // An update that appended rows (and began a new column) but died before the manifest.
    for name in ["0.col", "1.col", "2.col"] {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(idx.join(name))
            .unwrap();
        f.write_all(&[0xAB; 24 * 7 + 5]).unwrap();
    }
    std::fs::write(&log, &bytes).unwrap();
    update(&log, &idx);
    assert_eq!(snapshot_of(&idx), whole);
    assert_eq!(
        std::fs::metadata(idx.join("0.col")).unwrap().len(),
        100 * 24
    );
}

#[test]
fn a_damaged_column_or_manifest_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = simple_log(60, 0.0);
    let whole = index_whole(&bytes, tmp.path());
    let log = tmp.path().join("run.fwlog");
    let idx = tmp.path().join("index");
    std::fs::write(&log, &bytes[..bytes.len() / 2]).unwrap();
    update(&log, &idx);
    std::fs::OpenOptions::new()
        .write(true)
        .open(idx.join("1.col"))
        .unwrap()
        .set_len(10)
        .unwrap();
    std::fs::write(&log, &bytes).unwrap();
    update(&log, &idx);
    assert_eq!(snapshot_of(&idx), whole);
    std::fs::write(idx.join(MANIFEST_FILE), "{not json").unwrap();
    assert!(index::index_read_meta(&idx).is_err());
    update(&log, &idx);
    assert_eq!(snapshot_of(&idx), whole);
}

#[test]
fn manifest_file_names_are_never_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = ["../../escape", "/abs", "a\"b\\c\n", "ключ", "x.col"];
    let blocks = vec![
        evil.iter()
            .map(|k| row(0, &[fl(k, 1.0)]))
            .collect::<Vec<_>>(),
    ];
    let log = tmp.path().join("run.fwlog");
    std::fs::write(&log, build_log(&blocks).0).unwrap();
    let idx = tmp.path().join("index");
    let u = update(&log, &idx);
    assert_eq!(u.keys, evil);
    let mut names: Vec<String> = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".lock",
            "0.col",
            "1.col",
            "2.col",
            "3.col",
            "4.col",
            MANIFEST_FILE
        ]
    );
    // A manifest pointing outside the directory is refused.
    let text = std::fs::read_to_string(idx.join(MANIFEST_FILE)).unwrap();
    let bad = text.replacen("\"0.col\"", "\"../0.col\"", 1);
    std::fs::write(idx.join(MANIFEST_FILE), bad).unwrap();
    assert!(read_manifest(&idx).is_err());
}

#[test]
fn read_series_ranges_and_downsampling() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks: Vec<Vec<Record>> = (0..100u64)
        .map(|b| {
            (0..100u64)
                .map(|i| {
                    let s = b * 100 + i;
                    row(s, &[fl("x", ((s * 7919) % 1000) as f64)])
                })
                .collect()
        })
        .collect();
    let log = tmp.path().join("run.fwlog");
    std::fs::write(&log, build_log(&blocks).0).unwrap();
    let idx = tmp.path().join("index");
    update(&log, &idx);
    let full = read_series(&idx, None, 0, None, None).unwrap();
    assert_eq!(full[0].1.len(), 10_000);
    assert!(!full[0].1.downsampled());
    let ranged = read_series(&idx, None, 0, Some(2500.0), Some(2599.5)).unwrap();
    assert_eq!(ranged[0].1.step.first(), Some(&2500.0));
    assert_eq!(ranged[0].1.step.last(), Some(&2599.0));
    assert_eq!(ranged[0].1.len(), 100);
    assert!(
        read_series(&idx, None, 0, Some(20_000.0), None).unwrap()[0]
            .1
            .is_empty()
    );
    assert!(
        read_series(&idx, None, 0, Some(5.0), Some(4.0)).unwrap()[0]
            .1
            .is_empty()
    );
    let ds = read_series(&idx, None, 100, Some(1000.0), None).unwrap();
    let s = &ds[0].1;
    assert_eq!(s.len(), 100);
    assert_eq!(s.step.last(), Some(&9999.0));
    let f = &full[0].1;
    let want = fwtrack_core::downsample::downsample(
        &f.step[1000..],
        &f.value[1000..],
        &f.timestamp[1000..],
        100,
    );
    assert_eq!(s, &want);
    let col = index::read_column(
        &idx,
        &read_manifest(&idx).unwrap().columns[0],
        Some(10.0),
        Some(11.0),
    )
    .unwrap();
    assert_eq!(col.len(), 2 * ROW_BYTES);
    assert_eq!(row_at(&col, 1).0, 11.0);
}

// ---------------------------------------------------------------------------------------
// Upload validation.

#[test]
fn validate_frames_accepts_whole_frames_only() {
    let bytes = simple_log(5, 0.0);
    assert_eq!(codec::validate_frames(&bytes, true), Ok(5));
    assert_eq!(codec::validate_frames(&bytes[HEADER_LEN..], false), Ok(5));
    assert_eq!(codec::validate_frames(&[], false), Ok(0));
    assert_eq!(codec::validate_frames(&bytes[..HEADER_LEN], true), Ok(0));
    let e = codec::validate_frames(&[], true).unwrap_err();
    assert_eq!(e.offset, 0);
    assert!(e.reason.contains("header"), "{e}");
    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    assert!(
        codec::validate_frames(&bad_magic, true)
            .unwrap_err()
            .reason
            .contains("magic")
    );
    let mut future = bytes.clone();
    future[8] = 99;
    assert!(
        codec::validate_frames(&future, true)
            .unwrap_err()
            .reason
            .contains("version 99")
    );
    // The frames without the header are not a log start.
    assert!(codec::validate_frames(&bytes[HEADER_LEN..], true).is_err());
    // Torn last frame.
    let e = codec::validate_frames(&bytes[..bytes.len() - 1], true).unwrap_err();
    assert!(e.reason.contains("incomplete frame"), "{e}");
    let (frames, _) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    let last = frames.last().unwrap();
    assert_eq!(e.offset, last.offset);
    // A flipped body byte fails the CRC at that frame's offset.
    let mut flipped = bytes.clone();
    let at = frames[2].offset as usize + 30;
    flipped[at] ^= 0x40;
    let e = codec::validate_frames(&flipped, true).unwrap_err();
    assert_eq!(
        (e.offset, e.reason.as_str()),
        (frames[2].offset, "CRC mismatch")
    );
    assert!(
        e.to_string()
            .contains(&format!("byte {}", frames[2].offset))
    );
    // A frame with a good CRC whose records do not decode.
    let junk = codec::encode_frame(&[9, 0, 0, 0, 3, 0xc1], 0, 1, 1);
    let e = codec::validate_frames(&junk, false).unwrap_err();
    assert_eq!(e.offset, 0);
}

#[test]
fn complete_frames_end_finds_the_last_whole_frame() {
    let bytes = simple_log(4, 0.0);
    let body = &bytes[HEADER_LEN..];
    let (frames, _) = codec::scan_frames(body, HEADER_LEN as u64);
    let ends: Vec<u64> = frames.iter().map(|f| f.offset + f.len).collect();
    assert_eq!(
        codec::complete_frames_end(body, HEADER_LEN as u64),
        (bytes.len() as u64, Tail::Clean)
    );
    for cut in 0..body.len() {
        let (end, tail) = codec::complete_frames_end(&body[..cut], HEADER_LEN as u64);
        let want = ends
            .iter()
            .copied()
            .filter(|e| *e <= (HEADER_LEN + cut) as u64)
            .max()
            .unwrap_or(HEADER_LEN as u64);
        assert_eq!(end, want, "cut {cut}");
        assert_eq!(tail == Tail::Clean, end == (HEADER_LEN + cut) as u64);
    }
}

#[test]
fn an_index_follows_a_live_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let opts = WriterOptions {
        block_bytes: 512,
        flush_interval: std::time::Duration::from_millis(5),
        ..WriterOptions::default()
    };
    let (w, _) = Writer::open(&dir, common::start("live"), false, opts).unwrap();
    let log = dir.join(fwtrack_core::LOG_FILE_NAME);
    let idx = tmp.path().join("index");
    let mut last = 0;
    for step in 0..3000u64 {
        w.send(row(step, &[fl("v", step as f64)])).unwrap();
        if step % 250 == 0 {
            let u = update(&log, &idx);
            assert!(u.log_offset >= last);
            last = u.log_offset;
        }
    }
    w.close().unwrap();
    let u = update(&log, &idx);
    assert_eq!(u.meta.rows, 3000);
    let s = read_series(&idx, None, 0, None, None).unwrap();
    assert_eq!(
        s[0].1.value,
        (0..3000).map(|x| x as f64).collect::<Vec<_>>()
    );
}
