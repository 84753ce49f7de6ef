//! Records still to come: the writer waits for each where it stands in the queue, and a
//! cancelled or abandoned one is left out without blocking what follows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{eventually, fl, map, open, quiet_opts, row};
use fwtrack_core::LOG_FILE_NAME;
use fwtrack_core::pending::{Entry, PendingRecord, PendingValue, pending};
use fwtrack_core::reader::read_log;
use fwtrack_core::record::{Key, Record};
use fwtrack_core::writer::WriterOptions;
use rmpv::Value as Mp;

fn media_at(step: u64, value: PendingValue) -> Entry {
    Entry::Pending(PendingRecord {
        step,
        timestamp: 1_700_000_000.0 + step as f64,
        key: Key::from("img"),
        value,
    })
}

/// The step and kind of every history and media record in the log, in log order.
fn order(dir: &std::path::Path) -> Vec<(u64, &'static str)> {
    read_log(&dir.join(LOG_FILE_NAME))
        .unwrap()
        .records
        .iter()
        .filter_map(|r| match r {
            Record::History(row) => Some((row.step, "row")),
            Record::Media(m) => Some((m.step, "media")),
            _ => None,
        })
        .collect()
}

fn descriptor(n: i64) -> Mp {
    map(&[("_type", Mp::from("image")), ("n", Mp::from(n))])
}

#[test]
fn a_pending_record_keeps_its_place_and_what_comes_before_it_is_written_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let opts = WriterOptions {
        flush_interval: Duration::from_millis(20),
        ..WriterOptions::default()
    };
    let (w, _) = open(&dir, false, opts);
    let (completer, value) = pending();
    w.send_entries(vec![
        row(0, &[fl("loss", 1.0)]).into(),
        media_at(1, value),
        row(1, &[fl("loss", 0.5)]).into(),
    ])
    .unwrap();
    w.send(row(2, &[fl("loss", 0.25)])).unwrap();

    // The row before the pending record reaches the file while the writer waits ...
    eventually("the row before the pending record", || {
        (order(&dir) == vec![(0, "row")]).then_some(())
    });
    // ... and nothing queued after it does.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(order(&dir), vec![(0, "row")]);

    assert!(completer.complete(descriptor(7)));
    w.close().unwrap();
    assert_eq!(
        order(&dir),
        vec![(0, "row"), (1, "media"), (1, "row"), (2, "row")]
    );
    let records = read_log(&dir.join(LOG_FILE_NAME)).unwrap().records;
    let media: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Media(m) => Some((m.key.to_string(), m.value.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(media, vec![("img".to_string(), descriptor(7))]);
}

#[test]
fn flush_waits_for_a_pending_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (w, _) = open(&dir, false, quiet_opts());
    let (completer, value) = pending();
    w.send_entries(vec![media_at(0, value), row(0, &[fl("a", 1.0)]).into()])
        .unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            w.flush().unwrap();
            done_tx.send(order(&dir)).unwrap();
        });
        // The flush has not returned while the record is pending.
        assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
        completer.complete(descriptor(1));
        let flushed = done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(flushed, vec![(0, "media"), (0, "row")]);
    });
    w.close().unwrap();
}

#[test]
fn a_cancelled_record_is_left_out_with_its_warning_and_the_rest_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (w, _) = open(&dir, false, quiet_opts());
    let (first, v1) = pending();
    let (second, v2) = pending();
    w.send_entries(vec![
        media_at(0, v1),
        row(0, &[fl("a", 1.0)]).into(),
        media_at(1, v2),
        row(1, &[fl("a", 2.0)]).into(),
    ])
    .unwrap();
    assert!(first.cancel(Some("the media under 'img' was not stored".into())));
    assert!(!first.complete(descriptor(0))); // too late: stays cancelled
    second.complete(descriptor(1));
    w.flush().unwrap();
    assert_eq!(
        w.take_warnings(),
        vec!["the media under 'img' was not stored"]
    );
    w.close().unwrap();
    assert_eq!(order(&dir), vec![(0, "row"), (1, "media"), (1, "row")]);
}

#[test]
fn a_dropped_completer_never_blocks_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (w, _) = open(&dir, false, quiet_opts());
    let (completer, value) = pending();
    w.send_entries(vec![media_at(0, value), row(0, &[fl("a", 1.0)]).into()])
        .unwrap();
    // The thread that was to encode the value dies.
    std::thread::spawn(move || drop(completer)).join().unwrap();
    w.close().unwrap();
    assert_eq!(order(&dir), vec![(0, "row")]);
    assert!(w.take_warnings().is_empty());
}

#[test]
fn many_pending_records_complete_out_of_order_and_land_in_queue_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (w, _) = open(&dir, false, quiet_opts());
    let mut completers = Vec::new();
    for step in 0..50u64 {
        let (c, v) = pending();
        completers.push(c);
        w.send_entries(vec![media_at(step, v), row(step, &[fl("a", 1.0)]).into()])
            .unwrap();
    }
    // Completed last to first, from another thread.
    std::thread::spawn(move || {
        for (i, c) in completers.into_iter().enumerate().rev() {
            c.complete(descriptor(i as i64));
        }
    })
    .join()
    .unwrap();
    w.close().unwrap();
    let want: Vec<_> = (0..50u64)
        .flat_map(|s| [(s, "media"), (s, "row")])
        .collect();
    assert_eq!(order(&dir), want);
}
