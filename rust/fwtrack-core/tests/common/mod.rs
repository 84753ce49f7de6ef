//! Helpers shared by the integration tests: record builders, a NaN-aware record equality,
//! proptest strategies and bounded waits.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use fwtrack_core::codec;
use fwtrack_core::histogram::Hist;
use fwtrack_core::record::{
    ConsoleLines, Finish, HistRecord, Key, MediaRecord, MetricDef, Record, Row, SummarySnapshot,
    SystemSample, Value,
};
use fwtrack_core::writer::{Recovered, Writer, WriterOptions};
use proptest::prelude::*;
use rmpv::Value as Mp;

/// Options for tests: nothing is written by the timer unless a test asks for it.
pub fn quiet_opts() -> WriterOptions {
    WriterOptions {
        flush_interval: Duration::from_secs(3600),
        ..WriterOptions::default()
    }
}

pub fn start(id: &str) -> Record {
    Record::RunStart(Mp::Map(vec![
        (Mp::from("id"), Mp::from(id)),
        (Mp::from("project"), Mp::from("tests")),
    ]))
}

pub fn open(dir: &Path, resume: bool, opts: WriterOptions) -> (Writer, Recovered) {
    Writer::open(dir, start("run1"), resume, opts).unwrap()
}

pub fn row(step: u64, vals: &[(&str, Value)]) -> Record {
    Record::History(Row {
        step,
        timestamp: 1_700_000_000.0 + step as f64,
        runtime: step as f64 * 0.5,
        values: vals
            .iter()
            .map(|(k, v)| (Key::from(*k), v.clone()))
            .collect(),
    })
}

pub fn fl(k: &str, x: f64) -> (&str, Value) {
    (k, Value::Float(x))
}

pub fn map(entries: &[(&str, Mp)]) -> Mp {
    Mp::Map(
        entries
            .iter()
            .map(|(k, v)| (Mp::from(*k), v.clone()))
            .collect(),
    )
}

/// The field `k` of a MessagePack map.
pub fn get<'a>(m: &'a Mp, k: &str) -> Option<&'a Mp> {
    match m {
        Mp::Map(e) => e
            .iter()
            .find(|(x, _)| x.as_str() == Some(k))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Poll `f` until it returns Some, for at most 10 s.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until no live writer holds the lock of `dir` (a dropped writer's thread releases it
/// shortly after the drop).
pub fn wait_unlocked(dir: &Path) {
    let lock = dir.join(fwtrack_core::LOCK_FILE_NAME);
    eventually("the run lock to be released", || {
        (!fwtrack_core::lock::is_locked(&lock)).then_some(())
    });
}

/// A log file made of the header and one frame per block of records, numbered from 0.
/// Returns the bytes and each frame's (offset, len).
pub fn build_log(blocks: &[Vec<Record>]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut bytes = codec::header().to_vec();
    let mut frames = Vec::new();
    let mut seq = 0u64;
    for block in blocks {
        let mut raw = Vec::new();
        for r in block {
            codec::push_record(&mut raw, r);
        }
        let frame = codec::encode_frame(&raw, seq, block.len() as u32, 1);
        frames.push((bytes.len(), frame.len()));
        bytes.extend_from_slice(&frame);
        seq += block.len() as u64;
    }
    (bytes, frames)
}

// ---------------------------------------------------------------------------------------
// NaN-aware equality: floats compare by their bits, so NaN equals the same NaN and a
// float that changed representation (f32 vs f64) or sign of zero is a difference.

pub fn f_eq(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

pub fn mp_eq(a: &Mp, b: &Mp) -> bool {
    match (a, b) {
        (Mp::F64(x), Mp::F64(y)) => f_eq(*x, *y),
        (Mp::F32(x), Mp::F32(y)) => x.to_bits() == y.to_bits(),
        (Mp::Array(x), Mp::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| mp_eq(p, q))
        }
        (Mp::Map(x), Mp::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| mp_eq(k1, k2) && mp_eq(v1, v2))
        }
        _ => a == b,
    }
}

pub fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => f_eq(*x, *y),
        _ => a == b,
    }
}

fn values_eq(a: &[(Key, Value)], b: &[(Key, Value)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((k1, v1), (k2, v2))| k1 == k2 && value_eq(v1, v2))
}

fn hist_eq(a: &Hist, b: &Hist) -> bool {
    a.edges.len() == b.edges.len()
        && a.edges.iter().zip(&b.edges).all(|(x, y)| f_eq(*x, *y))
        && a.counts == b.counts
        && a.nan == b.nan
        && a.pos_inf == b.pos_inf
        && a.neg_inf == b.neg_inf
}

pub fn record_eq(a: &Record, b: &Record) -> bool {
    match (a, b) {
        (Record::RunStart(x), Record::RunStart(y)) | (Record::Config(x), Record::Config(y)) => {
            mp_eq(x, y)
        }
        (Record::History(x), Record::History(y)) => {
            x.step == y.step
                && f_eq(x.timestamp, y.timestamp)
                && f_eq(x.runtime, y.runtime)
                && values_eq(&x.values, &y.values)
        }
        (Record::Histogram(x), Record::Histogram(y)) => {
            x.step == y.step
                && f_eq(x.timestamp, y.timestamp)
                && x.key == y.key
                && hist_eq(&x.hist, &y.hist)
        }
        (Record::Summary(x), Record::Summary(y)) => {
            mp_eq(&x.values, &y.values) && x.explicit == y.explicit
        }
        (Record::Finish(x), Record::Finish(y)) => {
            x.exit_code == y.exit_code
                && f_eq(x.timestamp, y.timestamp)
                && f_eq(x.runtime, y.runtime)
                && x.reason == y.reason
        }
        (Record::System(x), Record::System(y)) => {
            f_eq(x.timestamp, y.timestamp)
                && f_eq(x.runtime, y.runtime)
                && x.values.len() == y.values.len()
                && x.values
                    .iter()
                    .zip(&y.values)
                    .all(|((ka, va), (kb, vb))| ka == kb && f_eq(*va, *vb))
        }
        (Record::Console(x), Record::Console(y)) => {
            x.stream == y.stream
                && x.lines.len() == y.lines.len()
                && x.lines
                    .iter()
                    .zip(&y.lines)
                    .all(|((ta, la), (tb, lb))| f_eq(*ta, *tb) && la == lb)
        }
        (Record::ArtifactLogged(x), Record::ArtifactLogged(y))
        | (Record::ArtifactUsed(x), Record::ArtifactUsed(y))
        | (Record::Alert(x), Record::Alert(y))
        | (Record::RunEdit(x), Record::RunEdit(y)) => mp_eq(x, y),
        (Record::Media(x), Record::Media(y)) => {
            x.step == y.step
                && f_eq(x.timestamp, y.timestamp)
                && x.key == y.key
                && mp_eq(&x.value, &y.value)
        }
        _ => a == b,
    }
}

pub fn assert_records_eq(got: &[Record], want: &[Record]) {
    assert_eq!(got.len(), want.len(), "record counts differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            record_eq(g, w),
            "record {i} differs:\n got  {g:?}\n want {w:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.

pub fn arb_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(f64::MIN_POSITIVE / 2.0),
    ]
}

pub fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_/.]{0,12}", "\\PC{0,16}"]
}

pub fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        arb_f64().prop_map(Value::Float),
        arb_string().prop_map(Value::Str),
    ]
}

/// Arbitrary MessagePack values, nested a few levels.
pub fn arb_mp() -> impl Strategy<Value = Mp> {
    let leaf = prop_oneof![
        Just(Mp::Nil),
        any::<bool>().prop_map(Mp::Boolean),
        any::<i64>().prop_map(Mp::from),
        any::<u64>().prop_map(Mp::from),
        any::<f32>().prop_map(Mp::F32),
        arb_f64().prop_map(Mp::F64),
        arb_string().prop_map(Mp::from),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Mp::Binary),
        (any::<i8>(), proptest::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(t, d)| Mp::Ext(t, d)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Mp::Array),
            proptest::collection::vec((arb_string().prop_map(Mp::from), inner), 0..6)
                .prop_map(Mp::Map),
        ]
    })
}

/// An arbitrary map with string keys (configs, run info, summaries).
pub fn arb_mp_map() -> impl Strategy<Value = Mp> {
    proptest::collection::vec((arb_string(), arb_mp()), 0..6)
        .prop_map(|e| Mp::Map(e.into_iter().map(|(k, v)| (Mp::from(k), v)).collect()))
}

pub fn arb_record() -> impl Strategy<Value = Record> {
    let history = (
        any::<u64>(),
        arb_f64(),
        arb_f64(),
        proptest::collection::vec((arb_string(), arb_value()), 0..8),
    )
        .prop_map(|(step, timestamp, runtime, vals)| {
            Record::History(Row {
                step,
                timestamp,
                runtime,
                values: vals.into_iter().map(|(k, v)| (Key::from(k), v)).collect(),
            })
        });
    let histogram = (
        any::<u64>(),
        arb_f64(),
        arb_string(),
        proptest::collection::vec(arb_f64(), 0..10),
        proptest::collection::vec(any::<u64>(), 0..10),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(step, timestamp, key, edges, counts, nan, pos_inf, neg_inf)| {
                Record::Histogram(HistRecord {
                    step,
                    timestamp,
                    key: Key::from(key),
                    hist: Hist {
                        edges,
                        counts,
                        nan,
                        pos_inf,
                        neg_inf,
                    },
                })
            },
        );
    let summary = (arb_mp_map(), proptest::collection::vec(arb_string(), 0..4))
        .prop_map(|(values, explicit)| Record::Summary(SummarySnapshot { values, explicit }));
    let metric = (
        arb_string(),
        proptest::option::of(arb_string()),
        proptest::collection::vec(arb_string(), 0..4),
        proptest::option::of(arb_string()),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(name, step_metric, summary, goal, hidden, step_sync)| {
            Record::MetricDef(MetricDef {
                name,
                step_metric,
                summary,
                goal,
                hidden,
                step_sync,
            })
        });
    let finish = (
        any::<i32>(),
        arb_f64(),
        arb_f64(),
        proptest::option::of(arb_string()),
    )
        .prop_map(|(exit_code, timestamp, runtime, reason)| {
            Record::Finish(Finish {
                exit_code,
                timestamp,
                runtime,
                reason,
            })
        });
    let system = (
        arb_f64(),
        arb_f64(),
        proptest::collection::vec((arb_string(), arb_f64()), 0..4),
    )
        .prop_map(|(timestamp, runtime, values)| {
            Record::System(SystemSample {
                timestamp,
                runtime,
                values: values.into_iter().map(|(k, x)| (Key::from(k), x)).collect(),
            })
        });
    let console = (
        prop_oneof![Just("stdout"), Just("stderr")],
        proptest::collection::vec((arb_f64(), arb_string()), 0..4),
    )
        .prop_map(|(stream, lines)| {
            Record::Console(ConsoleLines {
                stream: stream.to_owned(),
                lines,
            })
        });
    let media = (any::<u64>(), arb_f64(), arb_string(), arb_mp_map()).prop_map(
        |(step, timestamp, key, value)| {
            Record::Media(MediaRecord {
                step,
                timestamp,
                key: Key::from(key),
                value,
            })
        },
    );
    // An artifact record: `name` and `digest` strings, then any other fields.
    let artifact = (any::<bool>(), arb_string(), arb_string(), arb_mp_map()).prop_map(
        |(logged, name, digest, rest)| {
            let mut body = vec![
                (Mp::from("name"), Mp::from(name)),
                (Mp::from("digest"), Mp::from(digest)),
            ];
            if let Mp::Map(rest) = rest {
                body.extend(rest);
            }
            if logged {
                Record::ArtifactLogged(Mp::Map(body))
            } else {
                Record::ArtifactUsed(Mp::Map(body))
            }
        },
    );
    // An alert: `ts`, `title` and `level`, then any other fields.
    let alert = (arb_f64(), arb_string(), arb_string(), arb_mp_map()).prop_map(
        |(ts, title, level, rest)| {
            let mut body = vec![
                (Mp::from("ts"), Mp::F64(ts)),
                (Mp::from("title"), Mp::from(title)),
                (Mp::from("level"), Mp::from(level)),
            ];
            if let Mp::Map(rest) = rest {
                body.extend(rest);
            }
            Record::Alert(Mp::Map(body))
        },
    );
    // A run edit: `ts` and an `info` map, then any other fields.
    let run_edit = (arb_f64(), arb_mp_map(), arb_mp_map()).prop_map(|(ts, info, rest)| {
        let mut body = vec![(Mp::from("ts"), Mp::F64(ts)), (Mp::from("info"), info)];
        if let Mp::Map(rest) = rest {
            body.extend(rest);
        }
        Record::RunEdit(Mp::Map(body))
    });
    // Kinds no reader knows (1-14 are the known ones).
    let unknown = (
        prop_oneof![Just(0u8), 15u8..=255],
        proptest::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(|(kind, body)| Record::Unknown { kind, body });
    prop_oneof![
        1 => arb_mp_map().prop_map(Record::RunStart),
        1 => arb_mp().prop_map(Record::Config),
        6 => history,
        2 => histogram,
        1 => summary,
        1 => metric,
        1 => finish,
        1 => system,
        1 => console,
        1 => media,
        1 => artifact,
        1 => alert,
        1 => run_edit,
        1 => unknown,
    ]
}

/// Records split into 1..=max_blocks non-empty blocks.
pub fn arb_blocks(max_blocks: usize) -> impl Strategy<Value = Vec<Vec<Record>>> {
    proptest::collection::vec(
        proptest::collection::vec(arb_record(), 1..6),
        1..=max_blocks,
    )
}
