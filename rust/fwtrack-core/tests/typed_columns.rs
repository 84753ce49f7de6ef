//! The typed history decoder ([`fwtrack_core::columns`]) against the generic one: decoding
//! records straight into columns (or rows), with or without key and step filters, gives
//! exactly what decoding every record into generic values and folding them gives; opening a
//! log without decoding its history gives the same metadata.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::{arb_f64, arb_mp, arb_record, arb_value, build_log, f_eq, mp_eq, value_eq};
use fwtrack_core::codec;
use fwtrack_core::columns::HistoryFilter;
use fwtrack_core::reader::{
    Column, Columns, RowStream, RunLog, RunView, decode_log, history_columns,
};
use fwtrack_core::record::{Key, Record, Row, Value, kind};
use proptest::prelude::*;
use rmpv::Value as Mp;

#[allow(clippy::many_single_char_names)]
fn columns_eq(a: &Columns, b: &Columns) -> Result<(), String> {
    if a.step != b.step {
        return Err(format!("steps {:?} != {:?}", a.step, b.step));
    }
    let floats =
        |x: &[f64], y: &[f64]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| f_eq(*p, *q));
    if !floats(&a.timestamp, &b.timestamp) || !floats(&a.runtime, &b.runtime) {
        return Err("times differ".to_owned());
    }
    let keys = |c: &Columns| {
        c.columns
            .iter()
            .map(|(k, _)| k.to_string())
            .collect::<Vec<_>>()
    };
    if keys(a) != keys(b) {
        return Err(format!("keys {:?} != {:?}", keys(a), keys(b)));
    }
    for ((k, x), (_, y)) in a.columns.iter().zip(&b.columns) {
        let same = match (x, y) {
            (Column::Numeric(p), Column::Numeric(q)) => floats(p, q),
            (Column::Mixed(p), Column::Mixed(q)) => {
                p.len() == q.len()
                    && p.iter().zip(q).all(|(u, v)| match (u, v) {
                        (Some(u), Some(v)) => value_eq(u, v),
                        (None, None) => true,
                        _ => false,
                    })
            }
            _ => false,
        };
        if !same {
            return Err(format!("column {k}: {x:?} != {y:?}"));
        }
    }
    Ok(())
}

/// What the generic path gives for a filter: the merged rows at the wanted steps, built
/// into columns of the wanted keys.
fn generic_columns(view: &RunView, f: &HistoryFilter) -> Columns {
    let rows: Vec<Row> = view
        .rows
        .iter()
        .filter(|r| f.wants_step(r.step))
        .cloned()
        .collect();
    Columns::build(&rows, f.keys.as_deref())
}

/// A history record body with arbitrary MessagePack values (nil, binary, nested, big
/// unsigned integers...), as a writer of another version might have written it.
fn raw_history(step: u64, ts: f64, values: &[(String, Mp)]) -> Record {
    let body = Mp::Map(vec![
        (Mp::from("step"), Mp::from(step)),
        (Mp::from("ts"), Mp::F64(ts)),
        (Mp::from("rt"), Mp::F64(ts / 2.0)),
        (
            Mp::from("values"),
            Mp::Map(
                values
                    .iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), v.clone()))
                    .collect(),
            ),
        ),
    ]);
    let mut buf = Vec::new();
    rmpv::encode::write_value(&mut buf, &body).unwrap();
    // Decoded by the generic decoder as a history record: the round trip of the kind byte.
    Record::decode(kind::HISTORY, &buf).unwrap()
}

const KEYS: [&str; 5] = ["a", "b", "loss/x", "s", "flag"];

fn unique(vals: Vec<(usize, Value)>) -> Vec<(Key, Value)> {
    let mut seen = HashSet::new();
    vals.into_iter()
        .filter(|(k, _)| seen.insert(*k))
        .map(|(k, v)| (Key::from(KEYS[k]), v))
        .collect()
}

fn arb_history() -> impl Strategy<Value = Record> {
    let typed = (
        0u64..6,
        arb_f64(),
        prop::collection::vec((0..KEYS.len(), arb_value()), 0..5),
    )
        .prop_map(|(step, ts, vals)| {
            Record::History(Row {
                step,
                timestamp: ts,
                runtime: 1.0,
                values: unique(vals),
            })
        });
    let numeric = (
        0u64..6,
        prop::collection::vec((0..KEYS.len(), arb_f64()), 0..5),
    )
        .prop_map(|(step, vals)| {
            let vals = vals
                .into_iter()
                .map(|(k, x)| (k, Value::Float(x)))
                .collect();
            Record::History(Row {
                step,
                timestamp: step as f64,
                runtime: 0.5,
                values: unique(vals),
            })
        });
    let raw = (
        0u64..6,
        prop::collection::vec((0..KEYS.len(), arb_mp()), 0..4),
    )
        .prop_map(|(step, vals)| {
            let mut seen = HashSet::new();
            let vals: Vec<(String, Mp)> = vals
                .into_iter()
                .filter(|(k, _)| seen.insert(*k))
                .map(|(k, v)| (KEYS[k].to_owned(), v))
                .collect();
            raw_history(step, 3.0, &vals)
        });
    // Any other record; a history record's keys made unique (a row comes from a dict: no
    // writer repeats a key within a record, and the typed decoder keeps the last of them).
    let other = arb_record().prop_map(|r| match r {
        Record::History(mut row) => {
            let mut seen = HashSet::new();
            row.values.retain(|(k, _)| seen.insert(k.clone()));
            Record::History(row)
        }
        r => r,
    });
    prop_oneof![4 => typed, 3 => numeric, 1 => raw, 1 => other]
}

fn arb_filter() -> impl Strategy<Value = HistoryFilter> {
    (
        prop::option::of(prop::collection::vec(0..KEYS.len() + 1, 0..3)),
        prop::option::of(0u64..6),
        prop::option::of(0u64..7),
    )
        .prop_map(|(keys, min_step, max_step)| HistoryFilter {
            keys: keys.map(|ks| {
                ks.into_iter()
                    .map(|k| KEYS.get(k).map_or("never", |k| k).to_owned())
                    .collect()
            }),
            min_step,
            max_step,
        })
}

fn check(bytes: &[u8], filter: &HistoryFilter) -> Result<(), TestCaseError> {
    let want = RunView::from_contents(decode_log(bytes, "generic").unwrap());
    let got = RunLog::fold_bytes(bytes, "typed").unwrap();
    prop_assert!(mp_eq(&got.meta.to_mp(), &want.meta.to_mp()), "meta differs");
    prop_assert_eq!(got.valid_len, want.valid_len);
    prop_assert_eq!(got.next_seq, want.next_seq);
    prop_assert_eq!(got.hists.len(), want.hists.len());
    prop_assert!(got.rows.is_empty());
    let all = HistoryFilter::default();
    let typed = history_columns(&bytes[..got.valid_len as usize], &all);
    columns_eq(&typed, &want.columns(None)).map_err(TestCaseError::fail)?;
    let typed = history_columns(&bytes[..got.valid_len as usize], filter);
    columns_eq(&typed, &generic_columns(&want, filter)).map_err(TestCaseError::fail)?;

    // Rows streamed from a file, filtered.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.fwlog");
    std::fs::write(&path, bytes).unwrap();
    let streamed: Vec<Row> = RowStream::open_filtered(&path, filter.clone())
        .unwrap()
        .collect();
    let wanted: Option<HashSet<&str>> = filter
        .keys
        .as_ref()
        .map(|k| k.iter().map(String::as_str).collect());
    let expected: Vec<Row> = want
        .rows
        .iter()
        .filter(|r| filter.wants_step(r.step))
        .map(|r| Row {
            values: r
                .values
                .iter()
                .filter(|(k, _)| wanted.as_ref().is_none_or(|w| w.contains(&**k)))
                .cloned()
                .collect(),
            ..r.clone()
        })
        .collect();
    prop_assert_eq!(streamed.len(), expected.len());
    for (s, e) in streamed.iter().zip(&expected) {
        prop_assert!(
            s.step == e.step
                && f_eq(s.timestamp, e.timestamp)
                && s.values.len() == e.values.len()
                && s.values
                    .iter()
                    .zip(&e.values)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && value_eq(v1, v2)),
            "row {:?} != {:?}",
            s,
            e
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn typed_decoding_equals_the_generic_fold(
        blocks in prop::collection::vec(prop::collection::vec(arb_history(), 1..8), 1..5),
        filter in arb_filter(),
        cut in any::<prop::sample::Index>(),
    ) {
        let (bytes, _) = build_log(&blocks);
        check(&bytes, &filter)?;
        // A torn tail: the log cut anywhere after its header (a crash, or a writer still
        // writing).
        let at = codec::HEADER_LEN + cut.index(bytes.len() - codec::HEADER_LEN + 1);
        check(&bytes[..at], &filter)?;
    }
}

#[test]
fn a_bad_history_record_ends_the_log_at_its_frame_for_both_readers() {
    // A frame with a valid CRC whose history record has a non-string key.
    let body = Mp::Map(vec![
        (Mp::from("step"), Mp::from(1)),
        (Mp::from("ts"), Mp::F64(1.0)),
        (Mp::from("rt"), Mp::F64(1.0)),
        (
            Mp::from("values"),
            Mp::Map(vec![(Mp::from(7), Mp::F64(1.0))]),
        ),
    ]);
    let mut raw = Vec::new();
    codec::push_record(
        &mut raw,
        &Record::History(Row {
            step: 0,
            timestamp: 0.0,
            runtime: 0.0,
            values: vec![(Key::from("a"), Value::Float(1.0))],
        }),
    );
    let mut bytes = codec::header().to_vec();
    bytes.extend(codec::encode_frame(&raw, 0, 1, 1));
    let good_end = bytes.len();
    let mut bad = Vec::new();
    let mut b = Vec::new();
    rmpv::encode::write_value(&mut b, &body).unwrap();
    bad.extend(((b.len() + 1) as u32).to_le_bytes());
    bad.push(kind::HISTORY);
    bad.extend(b);
    bytes.extend(codec::encode_frame(&bad, 1, 1, 1));
    let want = RunView::from_contents(decode_log(&bytes, "x").unwrap());
    let got = RunLog::fold_bytes(&bytes, "x").unwrap();
    assert_eq!(got.valid_len, good_end as u64);
    assert_eq!(got.valid_len, want.valid_len);
    assert_eq!(got.meta, want.meta);
    assert!(got.meta.tail_error.is_some());
    let cols = history_columns(&bytes[..got.valid_len as usize], &HistoryFilter::default());
    assert_eq!(cols.step, vec![0]);
}

#[test]
fn a_run_being_written_reads_as_a_snapshot_and_history_decodes_on_demand() {
    use fwtrack_core::writer::{Writer, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        block_bytes: 512,
        ..common::quiet_opts()
    };
    let (w, _) = Writer::open(dir.path(), common::start("r"), false, opts).unwrap();
    for i in 0..300u64 {
        let vals: Vec<(&str, Value)> = if i < 100 {
            vec![("a", Value::Float(i as f64))]
        } else {
            // "b" appears mid-run; "s" turns "a" mixed at step 200
            let a = if i == 200 {
                Value::Str("x".into())
            } else {
                Value::Int(i as i64)
            };
            vec![("a", a), ("b", Value::Float(f64::INFINITY))]
        };
        w.send(common::row(i, &vals)).unwrap();
    }
    w.flush().unwrap();
    let log = RunLog::open(dir.path()).unwrap();
    let generic = RunView::open(dir.path()).unwrap();
    assert!(mp_eq(&log.view.meta.to_mp(), &generic.meta.to_mp()));
    // More rows after the reader was made are not in its history.
    for i in 300..400u64 {
        w.send(common::row(i, &[("a", Value::Float(1.0))])).unwrap();
    }
    w.flush().unwrap();
    let cols = log.history(&HistoryFilter::default()).unwrap();
    columns_eq(&cols, &generic.columns(None)).unwrap();
    assert_eq!(cols.step.len(), generic.rows.len());
    let only_b = log
        .history(&HistoryFilter {
            keys: Some(vec!["b".into()]),
            min_step: Some(150),
            max_step: Some(250),
        })
        .unwrap();
    assert_eq!(only_b.step, (150..250).collect::<Vec<u64>>());
    assert_eq!(only_b.columns.len(), 1);
    w.close().unwrap();
}
