//! The writer and the reader together, through real files in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_records_eq, eventually, fl, get, map, open, quiet_opts, row, start, wait_unlocked,
};
use fwtrack_core::codec::{self, HEADER_LEN, Tail};
use fwtrack_core::histogram;
use fwtrack_core::reader::{RunView, read_log};
use fwtrack_core::record::{Finish, HistRecord, Key, MetricDef, Record, Value};
use fwtrack_core::writer::{Writer, WriterOptions};
use fwtrack_core::{Error, LOCK_FILE_NAME, LOG_FILE_NAME, lock};
use rmpv::Value as Mp;

fn log_of(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(LOG_FILE_NAME)
}

#[test]
fn every_record_kind_round_trips_through_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj").join("run1");
    let (w, rec) = open(&dir, false, quiet_opts());
    assert_eq!(rec.truncated, 0);
    assert!(rec.last_step.is_none());
    assert!(dir.join(LOCK_FILE_NAME).exists());

    let hist = histogram::compute(&[1.0f64, 2.0, 2.5, f64::NAN, f64::INFINITY], 4);
    let sent = vec![
        Record::Config(map(&[
            ("lr", Mp::F64(0.001)),
            ("layers", Mp::Array(vec![Mp::from(64), Mp::from(32)])),
        ])),
        Record::MetricDef(MetricDef {
            name: "train/*".into(),
            step_metric: Some("epoch".into()),
            summary: vec!["min".into()],
            ..MetricDef::default()
        }),
        row(
            0,
            &[
                fl("train/loss", 2.5),
                fl("train/nan", f64::NAN),
                ("flag", Value::Bool(true)),
                ("n", Value::Int(-7)),
                ("phase", Value::Str("warmup".into())),
            ],
        ),
        Record::Histogram(HistRecord {
            step: 0,
            timestamp: 1.0,
            key: Key::from("weights"),
            hist: hist.clone(),
        }),
        Record::Unknown {
            kind: 99,
            body: vec![1, 2, 3],
        },
        Record::ArtifactUsed(Mp::Map(vec![
            (Mp::from("name"), Mp::from("mnist-train")),
            (Mp::from("digest"), Mp::from("blake3:aa")),
            (Mp::from("ref"), Mp::from("mnist-train:latest")),
        ])),
        Record::ArtifactLogged(Mp::Map(vec![
            (Mp::from("name"), Mp::from("model")),
            (Mp::from("digest"), Mp::from("blake3:bb")),
            (Mp::from("aliases"), Mp::Array(vec![Mp::from("best")])),
        ])),
        Record::Finish(Finish {
            exit_code: 0,
            timestamp: 2.0,
            runtime: 1.5,
            reason: Some("stopped".into()),
        }),
    ];
    for r in &sent {
        w.send(r.clone()).unwrap();
    }
    w.set_summary(vec![("best".into(), Mp::from(1))], vec![])
        .unwrap();
    let summary = w.summary().unwrap();
    w.close().unwrap();

    let c = read_log(&log_of(&dir)).unwrap();
    assert_eq!(c.tail, Tail::Clean);
    let mut want = vec![start("run1")];
    want.extend(sent);
    // The writer appends a summary snapshot to the block that follows a change.
    let Some(Record::Summary(snap)) = c.records.last() else {
        panic!("no summary at the end: {:?}", c.records.last())
    };
    assert!(common::mp_eq(&snap.values, &summary));
    assert_eq!(snap.explicit, vec!["best".to_owned()]);
    assert_records_eq(&c.records[..c.records.len() - 1], &want);

    let v = RunView::open(&dir).unwrap();
    assert_eq!(v.meta.starts.len(), 1);
    assert_eq!(v.rows.len(), 1);
    assert_eq!(v.hists, vec![(0, Key::from("weights"), hist)]);
    assert_eq!(v.meta.metrics.len(), 1);
    assert_eq!(v.meta.finish.as_ref().map(|f| f.exit_code), Some(0));
    assert_eq!(v.meta.last_step, Some(0));
    assert!(v.meta.tail_error.is_none());
    assert_eq!(v.meta.artifacts.used, bodies(&want, 12));
    assert_eq!(v.meta.artifacts.logged, bodies(&want, 11));
    assert!(!lock::is_locked(&dir.join(LOCK_FILE_NAME)));
}

#[test]
fn many_rows_span_many_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        block_bytes: 4096,
        ..quiet_opts()
    };
    let (w, _) = open(tmp.path(), false, opts);
    let n: u64 = 100_000;
    let mut batch = Vec::new();
    for step in 0..n {
        batch.push(row(
            step,
            &[
                fl("loss", 1.0 / (step as f64 + 1.0)),
                ("step2", Value::Int(step as i64 * 2)),
            ],
        ));
        if batch.len() == 500 {
            w.send_all(std::mem::take(&mut batch)).unwrap();
        }
    }
    w.send_all(batch).unwrap();
    w.close().unwrap();

    let bytes = std::fs::read(log_of(tmp.path())).unwrap();
    let (frames, tail) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    assert_eq!(tail, Tail::Clean);
    assert!(frames.len() > 100, "only {} frames", frames.len());
    let mut seq = 0;
    for f in &frames {
        assert_eq!(f.first_seq, seq, "sequence numbers run on across frames");
        seq += f.records.len() as u64;
    }
    // The start record, the rows, and the summary snapshots.
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(v.rows.len(), n as usize);
    for (i, r) in v.rows.iter().enumerate() {
        assert_eq!(r.step, i as u64);
        assert_eq!(r.values[1].1, Value::Int(i as i64 * 2));
    }
    assert_eq!(v.meta.last_step, Some(n - 1));
    assert_eq!(v.next_seq, seq);
    let s = v.summary.unwrap();
    assert_eq!(get(&s.values, "loss"), Some(&Mp::F64(1.0 / n as f64)));
}

#[test]
fn flush_makes_everything_sent_readable_while_the_writer_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    // The start record is on disk as soon as `open` returns.
    let c = read_log(&log_of(tmp.path())).unwrap();
    assert_records_eq(&c.records, &[start("run1")]);

    for round in 0..3u64 {
        for i in 0..50 {
            w.send(row(round * 50 + i, &[fl("x", i as f64)])).unwrap();
        }
        w.flush().unwrap();
        let v = RunView::open(tmp.path()).unwrap();
        assert_eq!(v.rows.len() as u64, (round + 1) * 50);
        assert!(v.meta.tail_error.is_none(), "{:?}", v.meta.tail_error);
    }
    w.close().unwrap();
}

#[test]
fn close_twice_is_harmless_and_later_sends_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    w.send(row(0, &[fl("x", 1.0)])).unwrap();
    assert!(!w.is_closed());
    w.close().unwrap();
    assert!(w.is_closed());
    w.close().unwrap();
    assert!(matches!(
        w.send(row(1, &[fl("x", 1.0)])),
        Err(Error::WriterGone(_))
    ));
    assert!(matches!(w.flush(), Err(Error::WriterGone(_))));
    // The summary stays readable: the final one.
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(w.summary().unwrap(), v.summary.as_ref().unwrap().values);
    assert_eq!(v.rows.len(), 1);
    assert!(w.take_warnings().is_empty());
}

#[test]
fn records_reach_the_file_within_the_flush_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        flush_interval: Duration::from_millis(100),
        ..WriterOptions::default()
    };
    let (w, _) = open(tmp.path(), false, opts);
    w.send(row(0, &[fl("x", 1.0)])).unwrap();
    let v = eventually("the row to reach the file", || {
        let v = RunView::open(tmp.path()).unwrap();
        (!v.rows.is_empty()).then_some(v)
    });
    assert_eq!(v.rows[0].step, 0);
    // The summary snapshot travels with the row.
    assert!(v.summary.is_some());
    w.close().unwrap();
}

#[test]
fn a_second_writer_on_a_live_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    w.send(row(0, &[fl("x", 1.0)])).unwrap();
    w.flush().unwrap();
    let lock_path = tmp.path().join(LOCK_FILE_NAME);
    assert!(lock::is_locked(&lock_path));
    for resume in [false, true] {
        match Writer::open(tmp.path(), start("other"), resume, quiet_opts()) {
            Err(Error::Locked { path }) => assert!(path.ends_with(LOCK_FILE_NAME)),
            Err(e) => panic!("resume={resume}: {e}"),
            Ok(_) => panic!("resume={resume}: a second writer opened a live run"),
        }
    }
    // The refused writer did not touch the live log.
    assert_eq!(RunView::open(tmp.path()).unwrap().rows.len(), 1);
    w.close().unwrap();
    assert!(!lock::is_locked(&lock_path));
    let (w2, rec) = Writer::open(tmp.path(), start("run1"), true, quiet_opts()).unwrap();
    assert_eq!(rec.last_step, Some(0));
    w2.close().unwrap();
}

#[test]
fn a_dropped_writer_writes_its_data_and_releases_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    w.send(row(0, &[fl("x", 1.0)])).unwrap();
    drop(w);
    wait_unlocked(tmp.path());
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(v.rows.len(), 1);
    assert!(v.meta.finish.is_none());
}

#[test]
fn a_bounded_queue_delivers_every_record_once() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        queue_capacity: 4,
        block_bytes: 2048,
        ..quiet_opts()
    };
    let (w, _) = open(tmp.path(), false, opts);
    let w = Arc::new(w);
    let threads: i64 = 4;
    let per: i64 = 5_000;
    std::thread::scope(|s| {
        for t in 0..threads {
            let w = w.clone();
            s.spawn(move || {
                let mut i = 0;
                while i < per {
                    let rec = |i: i64| row(0, &[("t", Value::Int(t)), ("i", Value::Int(i))]);
                    match i % 3 {
                        0 => {
                            w.send(rec(i)).unwrap();
                            i += 1;
                        }
                        1 if i + 2 <= per => {
                            w.send_all(vec![rec(i), rec(i + 1)]).unwrap();
                            i += 2;
                        }
                        _ => {
                            let mut pending = vec![rec(i)];
                            // A full queue hands the records back; retry until taken.
                            while let Some(back) = w.try_send_all(pending).unwrap() {
                                pending = back;
                                std::thread::yield_now();
                            }
                            i += 1;
                        }
                    }
                }
            });
        }
    });
    w.close().unwrap();

    let c = read_log(&log_of(tmp.path())).unwrap();
    let mut seen = HashSet::new();
    let mut last = vec![-1i64; threads as usize];
    for r in &c.records {
        let Record::History(row) = r else { continue };
        let (Value::Int(t), Value::Int(i)) = (&row.values[0].1, &row.values[1].1) else {
            panic!("bad row {row:?}")
        };
        assert!(seen.insert((*t, *i)), "({t}, {i}) arrived twice");
        // One thread's records keep their order.
        assert!(*i > last[*t as usize]);
        last[*t as usize] = *i;
    }
    assert_eq!(seen.len() as i64, threads * per);
}

#[test]
fn a_reader_follows_a_log_while_it_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        block_bytes: 512,
        flush_interval: Duration::from_millis(1),
        ..WriterOptions::default()
    };
    let (w, _) = open(tmp.path(), false, opts);
    let n: u64 = 20_000;
    let mut reads = 0;
    std::thread::scope(|s| {
        let w = &w;
        let producer = s.spawn(move || {
            for step in 0..n {
                w.send(row(step, &[fl("x", step as f64)])).unwrap();
            }
        });
        let mut seen = 0;
        while !producer.is_finished() || reads == 0 {
            let c = read_log(&log_of(tmp.path())).unwrap();
            match &c.tail {
                Tail::Clean => {}
                Tail::Torn { offset, .. } => assert_eq!(*offset, c.valid_len),
                Tail::Corrupt { .. } => panic!("a live log read as corrupt: {:?}", c.tail),
            }
            let v = RunView::from_contents(c);
            // Always a prefix of what was sent, and never shrinking.
            for (i, r) in v.rows.iter().enumerate() {
                assert_eq!(r.step, i as u64);
            }
            assert!(v.rows.len() >= seen);
            seen = v.rows.len();
            reads += 1;
        }
    });
    w.close().unwrap();
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(v.rows.len() as u64, n);
    assert!(v.meta.tail_error.is_none());
}

#[test]
fn opening_without_resume_starts_a_new_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    w.send(row(0, &[fl("x", 1.0)])).unwrap();
    w.close().unwrap();
    let (w, rec) = open(tmp.path(), false, quiet_opts());
    assert!(rec.last_step.is_none());
    w.close().unwrap();
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(v.meta.starts.len(), 1);
    assert!(v.rows.is_empty());
}

/// The bodies of the artifact records of `kind` in `records`, in order.
fn bodies(records: &[Record], kind: u8) -> Vec<Mp> {
    records
        .iter()
        .filter(|r| r.kind() == kind)
        .map(|r| match r {
            Record::ArtifactLogged(b) | Record::ArtifactUsed(b) => b.clone(),
            other => panic!("not an artifact record: {other:?}"),
        })
        .collect()
}

#[test]
fn the_byte_budget_holds_the_producer_until_the_writer_drains_the_queue() {
    use fwtrack_core::pending::{Entry, PendingRecord, pending};
    use std::sync::mpsc;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let opts = WriterOptions {
        queue_bytes: 64 << 10,
        ..quiet_opts()
    };
    let (w, _) = open(&dir, false, opts);
    // The writer thread waits for a record still to come: nothing leaves the queue meanwhile.
    let (completer, value) = pending();
    w.send_entries(vec![Entry::Pending(PendingRecord {
        step: 0,
        timestamp: 1.0,
        key: Key::from("img"),
        value,
    })])
    .unwrap();
    let names: Vec<String> = (0..100).map(|k| format!("m/{k}")).collect();
    let wide = |step: u64| {
        let vals: Vec<(&str, Value)> = names.iter().map(|n| fl(n.as_str(), step as f64)).collect();
        row(step, &vals)
    };
    let mut taken = 0;
    while w.try_send_all(vec![wide(taken)]).unwrap().is_none() {
        taken += 1;
        assert!(taken < 10_000, "the queue never refused a row");
    }
    // A 100-value row holds about 5 KB: 64 KiB take about a dozen, not the 65,536 rows the
    // message bound alone would let in.
    assert!((4..=16).contains(&taken), "{taken} rows fit in 64 KiB");

    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            w.send(wide(taken)).unwrap();
            done_tx.send(()).unwrap();
        });
        // The producer waits while the budget is spent ...
        assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
        // ... and goes on once the writer thread drains the queue.
        assert!(completer.complete(map(&[("_type", Mp::from("image"))])));
        done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    });
    w.close().unwrap();
    let view = RunView::open(&dir).unwrap();
    let steps: Vec<u64> = view.rows.iter().map(|r| r.step).collect();
    assert_eq!(steps, (0..=taken).collect::<Vec<u64>>());
    assert!(view.rows.iter().all(|r| r.values.len() == 100));
}
