//! The record model and its MessagePack encoding (one encoding for every record kind).
//!
//! A record is a kind byte followed by a MessagePack map; `docs/format.md` lists the fields
//! of each kind. Unknown kinds are kept as [`Record::Unknown`] so that older readers skip
//! what newer writers add.

use std::sync::Arc;

use rmpv::Value as Mp;

use crate::error::{Error, Result};
use crate::histogram::Hist;
use crate::pending::PendingValue;

/// Kind bytes of the records.
pub mod kind {
    pub const RUN_START: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const HISTORY: u8 = 3;
    pub const HISTOGRAM: u8 = 4;
    pub const SUMMARY: u8 = 5;
    pub const METRIC_DEF: u8 = 6;
    pub const FINISH: u8 = 7;
    pub const SYSTEM: u8 = 8;
    pub const CONSOLE: u8 = 9;
    pub const MEDIA: u8 = 10;
    pub const ARTIFACT_LOGGED: u8 = 11;
    pub const ARTIFACT_USED: u8 = 12;
    pub const ALERT: u8 = 13;
    pub const RUN_EDIT: u8 = 14;
    /// The highest kind this reader knows; higher ones are kept as [`super::Record::Unknown`].
    pub const LAST_KNOWN: u8 = RUN_EDIT;
}

/// A scalar value in a history row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// The value as a float, when it is a number (bools are not numbers here).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(_) | Value::Str(_) => None,
        }
    }

    /// The MessagePack form.
    pub fn to_mp(&self) -> Mp {
        match self {
            Value::Bool(b) => Mp::Boolean(*b),
            Value::Int(i) => Mp::from(*i),
            Value::Float(f) => Mp::F64(*f),
            Value::Str(s) => Mp::from(s.as_str()),
        }
    }

    fn from_mp(v: &Mp) -> Option<Value> {
        match v {
            Mp::Boolean(b) => Some(Value::Bool(*b)),
            Mp::Integer(i) => i
                .as_i64()
                .map(Value::Int)
                .or_else(|| i.as_u64().map(|u| Value::Float(u as f64))),
            Mp::F64(f) => Some(Value::Float(*f)),
            Mp::F32(f) => Some(Value::Float(f64::from(*f))),
            Mp::String(s) => s.as_str().map(|s| Value::Str(s.to_owned())),
            _ => None,
        }
    }
}

/// Keys are shared between rows, so they are reference counted.
pub type Key = Arc<str>;

/// One committed history row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub step: u64,
    /// Unix time in seconds.
    pub timestamp: f64,
    /// Seconds since the run started (continuing across resumes).
    pub runtime: f64,
    pub values: Vec<(Key, Value)>,
}

/// One histogram logged under a key at a step.
#[derive(Clone, Debug, PartialEq)]
pub struct HistRecord {
    pub step: u64,
    pub timestamp: f64,
    pub key: Key,
    pub hist: Hist,
}

/// How a metric is summarized and which metric is its x-axis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricDef {
    /// A key, or a prefix followed by `*`.
    pub name: String,
    pub step_metric: Option<String>,
    /// Aggregations: "min", "max", "mean", "last", "first".
    pub summary: Vec<String>,
    /// `"minimize"` or `"maximize"`: which way is better (the dashboard and `best` use it).
    /// Encoded only when set, as are `hidden` (when true) and `step_sync`.
    pub goal: Option<String>,
    /// Left out of the dashboard's default panels.
    pub hidden: bool,
    /// Whether the step metric's last value is added to rows that lack it (W&B's
    /// `step_sync`); kept as given.
    pub step_sync: Option<bool>,
}

/// The levels an alert may have.
pub const ALERT_LEVELS: [&str; 3] = ["INFO", "WARN", "ERROR"];

/// The end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    pub exit_code: i32,
    pub timestamp: f64,
    pub runtime: f64,
    /// Why the run ended when it was not the program's own end, e.g. `"stopped"` (a sweep or
    /// the user stopped it). Encoded only when set, so older readers never see it.
    pub reason: Option<String>,
}

/// The summary snapshot: the full summary, and which keys the user set explicitly.
#[derive(Clone, Debug, PartialEq)]
pub struct SummarySnapshot {
    pub values: Mp,
    pub explicit: Vec<String>,
}

/// One sample of the system metrics (on their own time axis, not the history's steps).
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSample {
    pub timestamp: f64,
    pub runtime: f64,
    pub values: Vec<(Key, f64)>,
}

/// A batch of console lines of one stream, each with its Unix time.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsoleLines {
    /// `"stdout"` or `"stderr"`.
    pub stream: String,
    pub lines: Vec<(f64, String)>,
}

/// A media value (image, audio, video, html, table or a gallery of them) logged under a key
/// at a step. `value` is the descriptor (`docs/format.md`); the payload is a content-addressed
/// file next to the log.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRecord {
    pub step: u64,
    pub timestamp: f64,
    pub key: Key,
    pub value: Mp,
}

/// What a row carries besides its scalar values; each becomes its own record at commit.
#[derive(Clone, Debug, PartialEq)]
pub enum Attachment {
    Hist(Hist),
    Media(Mp),
    /// A media descriptor still to come (see [`crate::pending`]).
    Pending(PendingValue),
}

/// Every kind of record in a run log.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Run metadata (id, name, project, tags, ...) at each start or resume.
    RunStart(Mp),
    /// A full snapshot of the run config.
    Config(Mp),
    History(Row),
    Histogram(HistRecord),
    Summary(SummarySnapshot),
    MetricDef(MetricDef),
    Finish(Finish),
    System(SystemSample),
    Console(ConsoleLines),
    Media(MediaRecord),
    /// A run logged an artifact version: the whole body map (`name` and `digest` strings
    /// at least; `docs/format.md` lists the other fields).
    ArtifactLogged(Mp),
    /// A run used an artifact version: the whole body map (`name` and `digest` strings at
    /// least).
    ArtifactUsed(Mp),
    /// An alert the run raised: the body map, `ts` (Unix time), `title`, `text` and `level`
    /// (one of [`ALERT_LEVELS`]) at least.
    Alert(Mp),
    /// Run info edited after the fact (name, tags, notes, ... through the public API): the
    /// body map, `ts` and `info` (the keys set) at least.
    RunEdit(Mp),
    /// A kind this reader does not know; kept as raw bytes.
    Unknown {
        kind: u8,
        body: Vec<u8>,
    },
}

fn w<T>(r: std::result::Result<T, impl std::fmt::Display>) -> T {
    // Writing MessagePack into a Vec cannot fail; keep the signature infallible.
    match r {
        Ok(v) => v,
        Err(e) => unreachable!("writing to a Vec failed: {e}"),
    }
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    w(rmp::encode::write_str(buf, s));
}

fn write_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Bool(b) => w(rmp::encode::write_bool(buf, *b)),
        Value::Int(i) => {
            w(rmp::encode::write_sint(buf, *i));
        }
        Value::Float(f) => w(rmp::encode::write_f64(buf, *f)),
        Value::Str(s) => write_str(buf, s),
    }
}

fn write_mp(buf: &mut Vec<u8>, v: &Mp) {
    w(rmpv::encode::write_value(buf, v));
}

fn write_f64_array(buf: &mut Vec<u8>, xs: &[f64]) {
    w(rmp::encode::write_array_len(buf, xs.len() as u32));
    for x in xs {
        w(rmp::encode::write_f64(buf, *x));
    }
}

impl Record {
    /// The kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Record::RunStart(_) => kind::RUN_START,
            Record::Config(_) => kind::CONFIG,
            Record::History(_) => kind::HISTORY,
            Record::Histogram(_) => kind::HISTOGRAM,
            Record::Summary(_) => kind::SUMMARY,
            Record::MetricDef(_) => kind::METRIC_DEF,
            Record::Finish(_) => kind::FINISH,
            Record::System(_) => kind::SYSTEM,
            Record::Console(_) => kind::CONSOLE,
            Record::Media(_) => kind::MEDIA,
            Record::ArtifactLogged(_) => kind::ARTIFACT_LOGGED,
            Record::ArtifactUsed(_) => kind::ARTIFACT_USED,
            Record::Alert(_) => kind::ALERT,
            Record::RunEdit(_) => kind::RUN_EDIT,
            Record::Unknown { kind, .. } => *kind,
        }
    }

    /// Append the MessagePack body (without the kind byte) to `buf`.
    pub fn encode_body(&self, buf: &mut Vec<u8>) {
        match self {
            Record::RunStart(info) => {
                w(rmp::encode::write_map_len(buf, 1));
                write_str(buf, "info");
                write_mp(buf, info);
            }
            Record::Config(config) => {
                w(rmp::encode::write_map_len(buf, 1));
                write_str(buf, "config");
                write_mp(buf, config);
            }
            Record::History(row) => {
                w(rmp::encode::write_map_len(buf, 4));
                write_str(buf, "step");
                w(rmp::encode::write_uint(buf, row.step));
                write_str(buf, "ts");
                w(rmp::encode::write_f64(buf, row.timestamp));
                write_str(buf, "rt");
                w(rmp::encode::write_f64(buf, row.runtime));
                write_str(buf, "values");
                w(rmp::encode::write_map_len(buf, row.values.len() as u32));
                for (k, v) in &row.values {
                    write_str(buf, k);
                    write_value(buf, v);
                }
            }
            Record::Histogram(h) => {
                w(rmp::encode::write_map_len(buf, 8));
                write_str(buf, "step");
                w(rmp::encode::write_uint(buf, h.step));
                write_str(buf, "ts");
                w(rmp::encode::write_f64(buf, h.timestamp));
                write_str(buf, "key");
                write_str(buf, &h.key);
                write_str(buf, "edges");
                write_f64_array(buf, &h.hist.edges);
                write_str(buf, "counts");
                w(rmp::encode::write_array_len(
                    buf,
                    h.hist.counts.len() as u32,
                ));
                for c in &h.hist.counts {
                    w(rmp::encode::write_uint(buf, *c));
                }
                write_str(buf, "nan");
                w(rmp::encode::write_uint(buf, h.hist.nan));
                write_str(buf, "pos_inf");
                w(rmp::encode::write_uint(buf, h.hist.pos_inf));
                write_str(buf, "neg_inf");
                w(rmp::encode::write_uint(buf, h.hist.neg_inf));
            }
            Record::Summary(s) => {
                w(rmp::encode::write_map_len(buf, 2));
                write_str(buf, "values");
                write_mp(buf, &s.values);
                write_str(buf, "explicit");
                w(rmp::encode::write_array_len(buf, s.explicit.len() as u32));
                for k in &s.explicit {
                    write_str(buf, k);
                }
            }
            Record::MetricDef(d) => {
                let extra = u32::from(d.goal.is_some())
                    + u32::from(d.hidden)
                    + u32::from(d.step_sync.is_some());
                w(rmp::encode::write_map_len(buf, 3 + extra));
                write_str(buf, "name");
                write_str(buf, &d.name);
                write_str(buf, "step_metric");
                match &d.step_metric {
                    Some(s) => write_str(buf, s),
                    None => w(rmp::encode::write_nil(buf)),
                }
                write_str(buf, "summary");
                w(rmp::encode::write_array_len(buf, d.summary.len() as u32));
                for a in &d.summary {
                    write_str(buf, a);
                }
                if let Some(goal) = &d.goal {
                    write_str(buf, "goal");
                    write_str(buf, goal);
                }
                if d.hidden {
                    write_str(buf, "hidden");
                    w(rmp::encode::write_bool(buf, true));
                }
                if let Some(sync) = d.step_sync {
                    write_str(buf, "step_sync");
                    w(rmp::encode::write_bool(buf, sync));
                }
            }
            Record::Finish(f) => {
                let len = if f.reason.is_some() { 4 } else { 3 };
                w(rmp::encode::write_map_len(buf, len));
                write_str(buf, "exit_code");
                w(rmp::encode::write_sint(buf, i64::from(f.exit_code)));
                write_str(buf, "ts");
                w(rmp::encode::write_f64(buf, f.timestamp));
                write_str(buf, "rt");
                w(rmp::encode::write_f64(buf, f.runtime));
                if let Some(reason) = &f.reason {
                    write_str(buf, "reason");
                    write_str(buf, reason);
                }
            }
            Record::System(x) => {
                w(rmp::encode::write_map_len(buf, 3));
                write_str(buf, "ts");
                w(rmp::encode::write_f64(buf, x.timestamp));
                write_str(buf, "rt");
                w(rmp::encode::write_f64(buf, x.runtime));
                write_str(buf, "values");
                w(rmp::encode::write_map_len(buf, x.values.len() as u32));
                for (k, v) in &x.values {
                    write_str(buf, k);
                    w(rmp::encode::write_f64(buf, *v));
                }
            }
            Record::Console(c) => {
                w(rmp::encode::write_map_len(buf, 3));
                write_str(buf, "stream");
                write_str(buf, &c.stream);
                write_str(buf, "ts");
                w(rmp::encode::write_array_len(buf, c.lines.len() as u32));
                for (t, _) in &c.lines {
                    w(rmp::encode::write_f64(buf, *t));
                }
                write_str(buf, "lines");
                w(rmp::encode::write_array_len(buf, c.lines.len() as u32));
                for (_, l) in &c.lines {
                    write_str(buf, l);
                }
            }
            Record::Media(x) => {
                w(rmp::encode::write_map_len(buf, 4));
                write_str(buf, "step");
                w(rmp::encode::write_uint(buf, x.step));
                write_str(buf, "ts");
                w(rmp::encode::write_f64(buf, x.timestamp));
                write_str(buf, "key");
                write_str(buf, &x.key);
                write_str(buf, "value");
                write_mp(buf, &x.value);
            }
            Record::ArtifactLogged(body)
            | Record::ArtifactUsed(body)
            | Record::Alert(body)
            | Record::RunEdit(body) => write_mp(buf, body),
            Record::Unknown { body, .. } => buf.extend_from_slice(body),
        }
    }

    /// Decode a record from its kind byte and MessagePack body.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Record> {
        if !matches!(kind, 1..=kind::LAST_KNOWN) {
            return Ok(Record::Unknown {
                kind,
                body: body.to_vec(),
            });
        }
        let mut cursor = body;
        let v = rmpv::decode::read_value(&mut cursor)
            .map_err(|e| Error::Decode(format!("kind {kind}: {e}")))?;
        let m = Fields::new(&v, kind)?;
        Ok(match kind {
            kind::RUN_START => Record::RunStart(m.get("info").cloned().unwrap_or(Mp::Nil)),
            kind::CONFIG => Record::Config(m.get("config").cloned().unwrap_or(Mp::Nil)),
            kind::HISTORY => {
                let mut values = Vec::new();
                if let Some(Mp::Map(entries)) = m.get("values") {
                    values.reserve(entries.len());
                    for (k, v) in entries {
                        let key = k.as_str().ok_or_else(|| bad(kind, "non-string key"))?;
                        // Nil and unknown value types are left out of the row.
                        if let Some(val) = Value::from_mp(v) {
                            values.push((Key::from(key), val));
                        }
                    }
                }
                Record::History(Row {
                    step: m.u64("step")?,
                    timestamp: m.f64("ts")?,
                    runtime: m.f64("rt")?,
                    values,
                })
            }
            kind::HISTOGRAM => Record::Histogram(HistRecord {
                step: m.u64("step")?,
                timestamp: m.f64("ts")?,
                key: Key::from(m.str("key")?),
                hist: Hist {
                    edges: m.array("edges")?.iter().filter_map(Mp::as_f64).collect(),
                    counts: m.array("counts")?.iter().filter_map(Mp::as_u64).collect(),
                    nan: m.u64("nan").unwrap_or(0),
                    pos_inf: m.u64("pos_inf").unwrap_or(0),
                    neg_inf: m.u64("neg_inf").unwrap_or(0),
                },
            }),
            kind::SUMMARY => Record::Summary(SummarySnapshot {
                values: m.get("values").cloned().unwrap_or(Mp::Map(Vec::new())),
                explicit: m.strings("explicit"),
            }),
            kind::METRIC_DEF => Record::MetricDef(MetricDef {
                name: m.str("name")?.to_owned(),
                step_metric: m.get("step_metric").and_then(Mp::as_str).map(str::to_owned),
                summary: m.strings("summary"),
                // Optional: absent in logs written before they existed.
                goal: m.get("goal").and_then(Mp::as_str).map(str::to_owned),
                hidden: m.get("hidden").and_then(Mp::as_bool).unwrap_or(false),
                step_sync: m.get("step_sync").and_then(Mp::as_bool),
            }),
            kind::ALERT => {
                m.f64("ts")?;
                m.str("title")?;
                m.str("level")?;
                Record::Alert(v)
            }
            kind::RUN_EDIT => {
                m.f64("ts")?;
                if !matches!(m.need("info")?, Mp::Map(_)) {
                    return Err(bad(kind, "\"info\" is not a map"));
                }
                Record::RunEdit(v)
            }
            kind::SYSTEM => {
                let mut values = Vec::new();
                if let Some(Mp::Map(entries)) = m.get("values") {
                    values.reserve(entries.len());
                    for (k, v) in entries {
                        let key = k.as_str().ok_or_else(|| bad(kind, "non-string key"))?;
                        if let Some(x) = v.as_f64() {
                            values.push((Key::from(key), x));
                        }
                    }
                }
                Record::System(SystemSample {
                    timestamp: m.f64("ts")?,
                    runtime: m.f64("rt")?,
                    values,
                })
            }
            kind::MEDIA => Record::Media(MediaRecord {
                step: m.u64("step")?,
                timestamp: m.f64("ts")?,
                key: Key::from(m.str("key")?),
                value: m.get("value").cloned().unwrap_or(Mp::Nil),
            }),
            kind::ARTIFACT_LOGGED | kind::ARTIFACT_USED => {
                m.str("name")?;
                m.str("digest")?;
                if kind == kind::ARTIFACT_LOGGED {
                    Record::ArtifactLogged(v)
                } else {
                    Record::ArtifactUsed(v)
                }
            }
            kind::CONSOLE => {
                let ts = m.array("ts")?;
                let lines = m.array("lines")?;
                if ts.len() != lines.len() {
                    return Err(bad(kind, "\"ts\" and \"lines\" differ in length"));
                }
                let mut out = Vec::with_capacity(lines.len());
                for (time, line) in ts.iter().zip(lines) {
                    let time = time
                        .as_f64()
                        .ok_or_else(|| bad(kind, "a line time is not a float"))?;
                    // Invalid UTF-8 is kept, lossily decoded.
                    let text = match line {
                        Mp::String(raw) => match raw.as_str() {
                            Some(text) => text.to_owned(),
                            None => String::from_utf8_lossy(raw.as_bytes()).into_owned(),
                        },
                        _ => return Err(bad(kind, "a line is not a string")),
                    };
                    out.push((time, text));
                }
                Record::Console(ConsoleLines {
                    stream: m.str("stream")?.to_owned(),
                    lines: out,
                })
            }
            _ => Record::Finish(Finish {
                exit_code: i32::try_from(m.i64("exit_code")?).unwrap_or(i32::MAX),
                timestamp: m.f64("ts")?,
                runtime: m.f64("rt")?,
                // Optional: absent in logs written before it existed; a non-string is ignored.
                reason: m.get("reason").and_then(Mp::as_str).map(str::to_owned),
            }),
        })
    }
}

fn bad(kind: u8, what: &str) -> Error {
    Error::Decode(format!("kind {kind}: {what}"))
}

struct Fields<'a> {
    entries: &'a [(Mp, Mp)],
    kind: u8,
}

impl<'a> Fields<'a> {
    fn new(v: &'a Mp, kind: u8) -> Result<Self> {
        match v {
            Mp::Map(entries) => Ok(Fields { entries, kind }),
            _ => Err(bad(kind, "body is not a map")),
        }
    }
    fn get(&self, name: &str) -> Option<&'a Mp> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    }
    fn need(&self, name: &str) -> Result<&'a Mp> {
        self.get(name)
            .ok_or_else(|| bad(self.kind, &format!("missing field {name:?}")))
    }
    fn u64(&self, name: &str) -> Result<u64> {
        self.need(name)?
            .as_u64()
            .ok_or_else(|| bad(self.kind, &format!("{name:?} is not an unsigned integer")))
    }
    fn i64(&self, name: &str) -> Result<i64> {
        self.need(name)?
            .as_i64()
            .ok_or_else(|| bad(self.kind, &format!("{name:?} is not an integer")))
    }
    fn f64(&self, name: &str) -> Result<f64> {
        self.need(name)?
            .as_f64()
            .ok_or_else(|| bad(self.kind, &format!("{name:?} is not a float")))
    }
    fn str(&self, name: &str) -> Result<&'a str> {
        self.need(name)?
            .as_str()
            .ok_or_else(|| bad(self.kind, &format!("{name:?} is not a string")))
    }
    /// The strings of an optional array field (empty when absent).
    fn strings(&self, name: &str) -> Vec<String> {
        self.get(name)
            .and_then(Mp::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn array(&self, name: &str) -> Result<&'a [Mp]> {
        self.need(name)?
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| bad(self.kind, &format!("{name:?} is not an array")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(r: &Record) -> Record {
        let mut buf = Vec::new();
        r.encode_body(&mut buf);
        match Record::decode(r.kind(), &buf) {
            Ok(x) => x,
            Err(e) => panic!("decode failed: {e}"),
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let recs = vec![
            Record::RunStart(Mp::Map(vec![(Mp::from("id"), Mp::from("abc"))])),
            Record::Config(Mp::Map(vec![(Mp::from("lr"), Mp::F64(0.1))])),
            Record::History(Row {
                step: 7,
                timestamp: 1.5,
                runtime: 0.25,
                values: vec![
                    (Key::from("a"), Value::Float(f64::INFINITY)),
                    (Key::from("b"), Value::Int(-3)),
                    (Key::from("c"), Value::Bool(true)),
                    (Key::from("d"), Value::Str("x".into())),
                ],
            }),
            Record::Histogram(HistRecord {
                step: 2,
                timestamp: 3.0,
                key: Key::from("w"),
                hist: Hist {
                    edges: vec![0.0, 1.0, 2.0],
                    counts: vec![4, 5],
                    nan: 1,
                    pos_inf: 2,
                    neg_inf: 3,
                },
            }),
            Record::Summary(SummarySnapshot {
                values: Mp::Map(vec![(Mp::from("loss"), Mp::F64(0.5))]),
                explicit: vec!["best".into()],
            }),
            Record::MetricDef(MetricDef {
                name: "train/*".into(),
                step_metric: Some("epoch".into()),
                summary: vec!["min".into(), "max".into()],
                ..MetricDef::default()
            }),
            Record::MetricDef(MetricDef {
                name: "val/acc".into(),
                step_metric: None,
                summary: vec!["max".into()],
                goal: Some("maximize".into()),
                hidden: true,
                step_sync: Some(false),
            }),
            Record::Alert(Mp::Map(vec![
                (Mp::from("ts"), Mp::F64(12.5)),
                (Mp::from("title"), Mp::from("loss is NaN")),
                (Mp::from("text"), Mp::from("at step 7")),
                (Mp::from("level"), Mp::from("WARN")),
            ])),
            Record::Finish(Finish {
                exit_code: 1,
                timestamp: 9.0,
                runtime: 8.0,
                reason: None,
            }),
            Record::Finish(Finish {
                exit_code: 143,
                timestamp: 9.0,
                runtime: 8.0,
                reason: Some("stopped".into()),
            }),
            Record::System(SystemSample {
                timestamp: 4.0,
                runtime: 1.5,
                values: vec![(Key::from("system/cpu.percent"), 12.5)],
            }),
            Record::Console(ConsoleLines {
                stream: "stderr".into(),
                lines: vec![(1.0, "hello".into()), (2.0, String::new())],
            }),
            Record::Media(MediaRecord {
                step: 3,
                timestamp: 5.0,
                key: Key::from("samples"),
                value: Mp::Map(vec![
                    (Mp::from("_type"), Mp::from("image")),
                    (Mp::from("path"), Mp::from("media/ab.png")),
                    (Mp::from("width"), Mp::from(256)),
                ]),
            }),
            Record::ArtifactLogged(Mp::Map(vec![
                (Mp::from("id"), Mp::from("0123456789abcdef0123456789abcdef")),
                (Mp::from("name"), Mp::from("mnist-train")),
                (Mp::from("digest"), Mp::from("blake3:00")),
                (Mp::from("size"), Mp::from(123u64)),
                (Mp::from("aliases"), Mp::Array(vec![Mp::from("best")])),
                (Mp::from("version"), Mp::Nil),
                (Mp::from("metadata"), Mp::Map(vec![])),
            ])),
            Record::ArtifactUsed(Mp::Map(vec![
                (Mp::from("ts"), Mp::F64(2.5)),
                (Mp::from("name"), Mp::from("mnist-train")),
                (Mp::from("digest"), Mp::from("blake3:00")),
                (Mp::from("ref"), Mp::from("mnist-train:latest")),
            ])),
            Record::Unknown {
                kind: 200,
                body: vec![1, 2, 3],
            },
        ];
        for r in &recs {
            assert_eq!(&roundtrip(r), r);
        }
    }

    #[test]
    fn artifact_records_need_a_name_and_a_digest() {
        let encode = |entries: Vec<(Mp, Mp)>| {
            let mut buf = Vec::new();
            write_mp(&mut buf, &Mp::Map(entries));
            buf
        };
        let name = (Mp::from("name"), Mp::from("data"));
        let digest = (Mp::from("digest"), Mp::from("blake3:00"));
        for kind in [kind::ARTIFACT_LOGGED, kind::ARTIFACT_USED] {
            let ok = encode(vec![name.clone(), digest.clone()]);
            assert_eq!(Record::decode(kind, &ok).map(|r| r.kind()).ok(), Some(kind));
            for (body, why) in [
                (encode(vec![name.clone()]), "missing field \"digest\""),
                (encode(vec![digest.clone()]), "missing field \"name\""),
                (
                    encode(vec![(Mp::from("name"), Mp::from(3)), digest.clone()]),
                    "\"name\" is not a string",
                ),
                (
                    encode(vec![name.clone(), (Mp::from("digest"), Mp::Nil)]),
                    "\"digest\" is not a string",
                ),
                (encode_list(), "body is not a map"),
            ] {
                match Record::decode(kind, &body) {
                    Err(Error::Decode(e)) => assert!(e.contains(why), "{e}"),
                    other => panic!("kind {kind}: expected {why}, got {other:?}"),
                }
            }
        }
    }

    fn encode_list() -> Vec<u8> {
        let mut buf = Vec::new();
        write_mp(&mut buf, &Mp::Array(vec![Mp::from("name")]));
        buf
    }

    #[test]
    fn nan_survives() {
        let r = Record::History(Row {
            step: 0,
            timestamp: 0.0,
            runtime: 0.0,
            values: vec![(Key::from("n"), Value::Float(f64::NAN))],
        });
        let Record::History(row) = roundtrip(&r) else {
            panic!("wrong kind")
        };
        assert!(matches!(row.values[0].1, Value::Float(f) if f.is_nan()));
    }

    fn finish_body(entries: Vec<(Mp, Mp)>) -> Vec<u8> {
        let mut buf = Vec::new();
        write_mp(&mut buf, &Mp::Map(entries));
        buf
    }

    #[test]
    fn a_metric_def_without_goal_hidden_or_step_sync_keeps_the_old_encoding() {
        let mut buf = Vec::new();
        Record::MetricDef(MetricDef {
            name: "loss".into(),
            summary: vec!["min".into()],
            ..MetricDef::default()
        })
        .encode_body(&mut buf);
        let v = rmpv::decode::read_value(&mut buf.as_slice()).unwrap_or(Mp::Nil);
        let keys: Vec<_> = v
            .as_map()
            .map(|m| m.iter().filter_map(|(k, _)| k.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["name", "step_metric", "summary"]);
    }

    #[test]
    fn an_alert_needs_a_time_a_title_and_a_level() {
        let body = |entries: Vec<(&str, Mp)>| {
            let mut buf = Vec::new();
            let map = Mp::Map(entries.into_iter().map(|(k, v)| (Mp::from(k), v)).collect());
            rmpv::encode::write_value(&mut buf, &map).unwrap_or(());
            buf
        };
        let ok = body(vec![
            ("ts", Mp::F64(1.0)),
            ("title", Mp::from("t")),
            ("text", Mp::from("")),
            ("level", Mp::from("INFO")),
        ]);
        assert!(matches!(
            Record::decode(kind::ALERT, &ok),
            Ok(Record::Alert(_))
        ));
        let no_title = body(vec![("ts", Mp::F64(1.0)), ("level", Mp::from("INFO"))]);
        assert!(Record::decode(kind::ALERT, &no_title).is_err());
    }

    #[test]
    fn finish_without_reason_keeps_the_old_encoding() {
        let f = Finish {
            exit_code: 0,
            timestamp: 2.0,
            runtime: 1.0,
            reason: None,
        };
        let mut new = Vec::new();
        Record::Finish(f).encode_body(&mut new);
        // The body an older writer produced: exactly these three keys.
        let old = finish_body(vec![
            (Mp::from("exit_code"), Mp::from(0)),
            (Mp::from("ts"), Mp::F64(2.0)),
            (Mp::from("rt"), Mp::F64(1.0)),
        ]);
        assert_eq!(new, old);
    }

    #[test]
    fn finish_reason_is_one_more_key_that_readers_may_ignore() {
        let mut buf = Vec::new();
        Record::Finish(Finish {
            exit_code: 143,
            timestamp: 2.0,
            runtime: 1.0,
            reason: Some("stopped".into()),
        })
        .encode_body(&mut buf);
        let v = rmpv::decode::read_value(&mut buf.as_slice()).unwrap_or(Mp::Nil);
        let Mp::Map(entries) = &v else {
            panic!("not a map: {v:?}")
        };
        let keys: Vec<_> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["exit_code", "ts", "rt", "reason"]);
        // An older reader looks fields up by name: the three it knows are unchanged.
        let m = match Fields::new(&v, kind::FINISH) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(m.i64("exit_code").ok(), Some(143));
        assert_eq!(m.f64("ts").ok(), Some(2.0));
        assert_eq!(m.f64("rt").ok(), Some(1.0));
    }

    #[test]
    fn finish_decodes_with_and_without_reason_and_skips_unknown_keys() {
        let decode = |entries| match Record::decode(kind::FINISH, &finish_body(entries)) {
            Ok(Record::Finish(f)) => f,
            other => panic!("expected a finish record, got {other:?}"),
        };
        let base = || {
            vec![
                (Mp::from("exit_code"), Mp::from(1)),
                (Mp::from("ts"), Mp::F64(3.0)),
                (Mp::from("rt"), Mp::F64(0.5)),
            ]
        };
        assert_eq!(decode(base()).reason, None);
        let mut with = base();
        with.push((Mp::from("reason"), Mp::from("stopped")));
        assert_eq!(decode(with).reason.as_deref(), Some("stopped"));
        let mut future = base();
        future.push((Mp::from("some_future_key"), Mp::from(7)));
        future.push((Mp::from("reason"), Mp::Nil));
        let f = decode(future);
        assert_eq!((f.exit_code, f.reason), (1, None));
    }
}
