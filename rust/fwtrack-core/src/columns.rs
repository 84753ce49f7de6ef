//! Typed decoding of history records: straight from their MessagePack bytes into columns
//! (f64 values, steps, times) or rows, without building generic MessagePack values first.
//! Values of keys the caller did not ask for, and records outside the asked step range, are
//! skipped over, never materialized.
//!
//! The result is exactly what decoding the records generically and folding them would give
//! ([`crate::reader::Columns::build`] over merged rows): the same rows (records of equal
//! consecutive steps merged), the same numeric/mixed columns in order of first appearance,
//! the same errors for a malformed record.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::reader::{Column, Columns};
use crate::record::{Key, Row, Value, kind};

/// Which part of the history to decode: every key, or `keys`; steps in
/// `min_step..max_step` (inclusive, exclusive) when set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub keys: Option<Vec<String>>,
    pub min_step: Option<u64>,
    pub max_step: Option<u64>,
}

impl HistoryFilter {
    /// Whether rows at `step` are wanted.
    pub fn wants_step(&self, step: u64) -> bool {
        self.min_step.is_none_or(|m| step >= m) && self.max_step.is_none_or(|m| step < m)
    }
}

fn bad(what: &str) -> Error {
    Error::Decode(format!("kind {}: {what}", kind::HISTORY))
}

/// A scalar as a history value decodes it.
enum Scalar<'a> {
    /// Nil and types a history row leaves out (arrays, maps, binary, extensions, strings
    /// that are not UTF-8).
    Absent,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// An unsigned integer above `i64::MAX` (a float as a history value).
    Big(u64),
    Str(&'a str),
}

/// A read position in a MessagePack body.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

fn truncated() -> Error {
    bad("truncated MessagePack")
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() - self.pos < n {
            return Err(truncated());
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn peek(&self) -> Result<u8> {
        self.b.get(self.pos).copied().ok_or_else(truncated)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Skip one value of any type the way `rmpv` reads it (same errors).
    fn skip_generic(&mut self) -> Result<()> {
        let mut rest = &self.b[self.pos..];
        let before = rest.len();
        rmpv::decode::read_value(&mut rest).map_err(|e| bad(&e.to_string()))?;
        self.pos += before - rest.len();
        Ok(())
    }

    /// The length of a map at the position (consumed), or None when the value is not a map.
    fn map_len(&mut self) -> Result<Option<usize>> {
        let m = self.peek()?;
        let n = match m {
            0x80..=0x8f => {
                self.pos += 1;
                usize::from(m & 0x0f)
            }
            0xde => {
                self.pos += 1;
                usize::from(u16::from_be_bytes(self.be()?))
            }
            0xdf => {
                self.pos += 1;
                u32::from_be_bytes(self.be()?) as usize
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    /// The bytes of a string at the position (consumed), or None (nothing consumed) when
    /// the value is not a string.
    fn str_bytes(&mut self) -> Result<Option<&'a [u8]>> {
        let m = self.peek()?;
        let n = match m {
            0xa0..=0xbf => {
                self.pos += 1;
                usize::from(m & 0x1f)
            }
            0xd9 => {
                self.pos += 1;
                usize::from(self.be::<1>()?[0])
            }
            0xda => {
                self.pos += 1;
                usize::from(u16::from_be_bytes(self.be()?))
            }
            0xdb => {
                self.pos += 1;
                u32::from_be_bytes(self.be()?) as usize
            }
            _ => return Ok(None),
        };
        self.take(n).map(Some)
    }

    /// A map key that must be a UTF-8 string (a history row's keys).
    fn key(&mut self) -> Result<&'a [u8]> {
        match self.str_bytes()? {
            Some(k) => Ok(k),
            None => Err(bad("non-string key")),
        }
    }

    /// One value, decoded as a history value; anything else is skipped.
    fn scalar(&mut self) -> Result<Scalar<'a>> {
        let m = self.peek()?;
        let v = match m {
            0x00..=0x7f => {
                self.pos += 1;
                Scalar::Int(i64::from(m))
            }
            0xe0..=0xff => {
                self.pos += 1;
                Scalar::Int(i64::from(m as i8))
            }
            0xcb => {
                self.pos += 1;
                Scalar::Float(f64::from_be_bytes(self.be()?))
            }
            0xca => {
                self.pos += 1;
                Scalar::Float(f64::from(f32::from_be_bytes(self.be()?)))
            }
            0xc0 => {
                self.pos += 1;
                Scalar::Absent
            }
            0xc2 | 0xc3 => {
                self.pos += 1;
                Scalar::Bool(m == 0xc3)
            }
            0xcc => {
                self.pos += 1;
                Scalar::Int(i64::from(self.be::<1>()?[0]))
            }
            0xcd => {
                self.pos += 1;
                Scalar::Int(i64::from(u16::from_be_bytes(self.be()?)))
            }
            0xce => {
                self.pos += 1;
                Scalar::Int(i64::from(u32::from_be_bytes(self.be()?)))
            }
            0xcf => {
                self.pos += 1;
                let u = u64::from_be_bytes(self.be()?);
                i64::try_from(u).map_or(Scalar::Big(u), Scalar::Int)
            }
            0xd0 => {
                self.pos += 1;
                Scalar::Int(i64::from(i8::from_be_bytes(self.be()?)))
            }
            0xd1 => {
                self.pos += 1;
                Scalar::Int(i64::from(i16::from_be_bytes(self.be()?)))
            }
            0xd2 => {
                self.pos += 1;
                Scalar::Int(i64::from(i32::from_be_bytes(self.be()?)))
            }
            0xd3 => {
                self.pos += 1;
                Scalar::Int(i64::from_be_bytes(self.be()?))
            }
            _ => {
                if let Some(s) = self.str_bytes()? {
                    std::str::from_utf8(s).map_or(Scalar::Absent, Scalar::Str)
                } else {
                    self.skip_generic()?;
                    Scalar::Absent
                }
            }
        };
        Ok(v)
    }

    /// Skip one value (scalars quickly, the rest as `rmpv` reads them).
    fn skip(&mut self) -> Result<()> {
        self.scalar().map(|_| ())
    }
}

/// The fixed fields of a history record and where its values map starts.
pub(crate) struct Header {
    pub step: u64,
    pub timestamp: f64,
    pub runtime: f64,
    /// Offset of the `values` map in the body, when it has one.
    values: Option<usize>,
}

fn number(c: &mut Cur<'_>, name: &str) -> Result<f64> {
    match c.scalar()? {
        Scalar::Int(i) => Ok(i as f64),
        Scalar::Float(f) => Ok(f),
        Scalar::Big(u) => Ok(u as f64),
        _ => Err(bad(&format!("{name:?} is not a float"))),
    }
}

/// Read the fields of a history record body (in any order; the first of a repeated field
/// counts), leaving the values map where it is.
pub(crate) fn header(body: &[u8]) -> Result<Header> {
    let mut c = Cur { b: body, pos: 0 };
    let Some(n) = c.map_len()? else {
        // Not a map: the generic decoder's error (or its MessagePack error).
        c.skip_generic()?;
        return Err(bad("body is not a map"));
    };
    let (mut step, mut ts, mut rt, mut values) = (None, None, None, None);
    for i in 0..n {
        let name = if let Some(k) = c.str_bytes()? {
            k
        } else {
            c.skip_generic()?;
            &[]
        };
        match name {
            b"step" if step.is_none() => {
                step = Some(match c.scalar()? {
                    Scalar::Int(i) if i >= 0 => Ok(i as u64),
                    Scalar::Big(u) => Ok(u),
                    _ => Err(bad("\"step\" is not an unsigned integer")),
                }?);
            }
            b"ts" if ts.is_none() => ts = Some(number(&mut c, "ts")?),
            b"rt" if rt.is_none() => rt = Some(number(&mut c, "rt")?),
            b"values" if values.is_none() => {
                let at = c.pos;
                if c.map_len()?.is_some() {
                    values = Some(at);
                    c.pos = at;
                    if i + 1 == n {
                        // The last field (as the writer puts it): no need to walk past it.
                        break;
                    }
                    skip_values(&mut c)?;
                } else {
                    values = Some(usize::MAX); // present but not a map: no values
                    c.skip()?;
                }
            }
            _ => c.skip()?,
        }
    }
    let missing = |f: &str| bad(&format!("missing field {f:?}"));
    Ok(Header {
        step: step.ok_or_else(|| missing("step"))?,
        timestamp: ts.ok_or_else(|| missing("ts"))?,
        runtime: rt.ok_or_else(|| missing("rt"))?,
        values: values.filter(|&v| v != usize::MAX),
    })
}

fn skip_values(c: &mut Cur<'_>) -> Result<()> {
    let n = c.map_len()?.unwrap_or(0);
    for _ in 0..n {
        let k = c.key()?;
        std::str::from_utf8(k).map_err(|_| bad("non-string key"))?;
        c.skip()?;
    }
    Ok(())
}

/// Check a history record the way the generic decoder does (its fields, and that its
/// values map is well formed with string keys) without decoding its values; gives the step
/// and times.
pub(crate) fn check_record(body: &[u8]) -> Result<Header> {
    let h = header(body)?;
    if let Some(at) = h.values {
        skip_values(&mut Cur { b: body, pos: at })?;
    }
    Ok(h)
}

/// Keys seen so far: their bytes to an id (None for a key the filter leaves out), with a
/// cache by position in the record (rows usually log the same keys in the same order).
struct KeyTable {
    wanted: Option<HashSet<String>>,
    ids: HashMap<Box<[u8]>, Option<u32>>,
    keys: Vec<Key>,
    by_pos: Vec<(Box<[u8]>, Option<u32>)>,
}

impl KeyTable {
    fn new(keys: Option<&[String]>) -> KeyTable {
        KeyTable {
            wanted: keys.map(|k| k.iter().cloned().collect()),
            ids: HashMap::new(),
            keys: Vec::new(),
            by_pos: Vec::new(),
        }
    }

    /// Whether no key at all is wanted.
    fn none_wanted(&self) -> bool {
        self.wanted.as_ref().is_some_and(HashSet::is_empty)
    }

    #[inline]
    fn id(&mut self, pos: usize, k: &[u8]) -> Result<Option<u32>> {
        if let Some((b, id)) = self.by_pos.get(pos)
            && **b == *k
        {
            return Ok(*id);
        }
        let id = if let Some(id) = self.ids.get(k) {
            *id
        } else {
            let s = std::str::from_utf8(k).map_err(|_| bad("non-string key"))?;
            let id = if self.wanted.as_ref().is_none_or(|w| w.contains(s)) {
                self.keys.push(Key::from(s));
                Some((self.keys.len() - 1) as u32)
            } else {
                None
            };
            self.ids.insert(k.into(), id);
            id
        };
        if pos < self.by_pos.len() {
            self.by_pos[pos] = (k.into(), id);
        } else if pos == self.by_pos.len() {
            self.by_pos.push((k.into(), id));
        }
        Ok(id)
    }
}

/// Walk the values map of a record, handing each wanted key's id and value to `f`.
fn each_value<'a>(
    body: &'a [u8],
    header: &Header,
    keys: &mut KeyTable,
    mut visit: impl FnMut(u32, Scalar<'a>),
) -> Result<()> {
    let Some(at) = header.values else {
        return Ok(());
    };
    let mut cur = Cur { b: body, pos: at };
    let n = cur.map_len()?.unwrap_or(0);
    if keys.none_wanted() {
        // Still checked as the generic decoder would.
        cur.pos = at;
        return skip_values(&mut cur);
    }
    for i in 0..n {
        let key = cur.key()?;
        if let Some(id) = keys.id(i, key)? {
            let v = cur.scalar()?;
            visit(id, v);
        } else {
            cur.skip()?;
        }
    }
    Ok(())
}

/// One column while it is built: numbers (with what each row held, to turn it into a mixed
/// column exactly when a string or bool is a row's final value), or mixed values.
enum Building {
    Numeric {
        values: Vec<f64>,
        /// Per row: 0 absent, 1 float, 2 int (`ints` holds its exact value).
        tags: Vec<u8>,
        ints: Vec<i64>,
        has_ints: bool,
        /// A string or bool in the last row, which a later record of the same step may
        /// still replace: the column turns mixed only once the row is final.
        pending: Option<(usize, Value)>,
    },
    Mixed(Vec<Option<Value>>),
}

impl Building {
    fn new() -> Building {
        Building::Numeric {
            values: Vec::new(),
            tags: Vec::new(),
            ints: Vec::new(),
            has_ints: false,
            pending: None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Building::Numeric { values, .. } => values.len(),
            Building::Mixed(xs) => xs.len(),
        }
    }

    /// Make the column `n` rows long (absent values at the end).
    fn pad(&mut self, n: usize) {
        if self.len() >= n {
            return;
        }
        match self {
            Building::Numeric {
                values,
                tags,
                ints,
                has_ints,
                ..
            } => {
                values.resize(n, f64::NAN);
                tags.resize(n, 0);
                if *has_ints {
                    ints.resize(n, 0);
                }
            }
            Building::Mixed(xs) => xs.resize(n, None),
        }
    }

    /// Turn the column mixed if a string or bool is the final value of a row before `row`.
    fn settle(&mut self, row: usize) {
        let Building::Numeric {
            values,
            tags,
            ints,
            pending,
            ..
        } = self
        else {
            return;
        };
        let Some((r, v)) = pending.take_if(|(r, _)| *r < row) else {
            return;
        };
        let mut mixed: Vec<Option<Value>> = tags
            .iter()
            .enumerate()
            .map(|(j, t)| match t {
                1 => Some(Value::Float(values[j])),
                2 => Some(Value::Int(ints[j])),
                _ => None,
            })
            .collect();
        mixed[r] = Some(v);
        *self = Building::Mixed(mixed);
    }

    /// Set row `i` (the last row, or the one after it).
    #[inline]
    fn set(&mut self, i: usize, v: Scalar<'_>) {
        self.settle(i);
        self.pad(i + 1);
        match (&mut *self, v) {
            (_, Scalar::Absent) => {}
            (Building::Mixed(xs), v) => xs[i] = to_value(v),
            (
                Building::Numeric {
                    values,
                    tags,
                    ints,
                    has_ints,
                    pending,
                },
                v,
            ) => {
                if pending.as_ref().is_some_and(|(r, _)| *r == i) {
                    *pending = None;
                }
                match v {
                    Scalar::Big(u) => {
                        values[i] = u as f64;
                        tags[i] = 1;
                    }
                    Scalar::Float(x) => {
                        values[i] = x;
                        tags[i] = 1;
                    }
                    Scalar::Int(n) => {
                        if !*has_ints {
                            *has_ints = true;
                            ints.resize(values.len(), 0);
                        }
                        values[i] = n as f64;
                        tags[i] = 2;
                        ints[i] = n;
                    }
                    v @ (Scalar::Bool(_) | Scalar::Str(_) | Scalar::Absent) => {
                        values[i] = f64::NAN;
                        tags[i] = 0;
                        *pending = to_value(v).map(|v| (i, v));
                    }
                }
            }
        }
    }

    fn finish(mut self, n: usize) -> Column {
        self.settle(usize::MAX);
        self.pad(n);
        match self {
            Building::Numeric { values, .. } => Column::Numeric(values),
            Building::Mixed(xs) => Column::Mixed(xs),
        }
    }
}

fn to_value(v: Scalar<'_>) -> Option<Value> {
    match v {
        Scalar::Absent => None,
        Scalar::Bool(b) => Some(Value::Bool(b)),
        Scalar::Int(n) => Some(Value::Int(n)),
        Scalar::Float(x) => Some(Value::Float(x)),
        Scalar::Big(u) => Some(Value::Float(u as f64)),
        Scalar::Str(s) => Some(Value::Str(s.to_owned())),
    }
}

/// Builds the history columns from history record bodies, fed in log order.
pub struct ColumnsBuilder {
    filter: HistoryFilter,
    keys: KeyTable,
    /// Column of each key id (ids and columns are both in order of first appearance).
    columns: Vec<Building>,
    step: Vec<u64>,
    timestamp: Vec<f64>,
    runtime: Vec<f64>,
    /// The step of the last history record fed, wanted or not.
    last_step: Option<u64>,
}

impl ColumnsBuilder {
    pub fn new(filter: HistoryFilter) -> ColumnsBuilder {
        ColumnsBuilder {
            keys: KeyTable::new(filter.keys.as_deref()),
            filter,
            columns: Vec::new(),
            step: Vec::new(),
            timestamp: Vec::new(),
            runtime: Vec::new(),
            last_step: None,
        }
    }

    /// Add one history record (its MessagePack body).
    pub fn push(&mut self, body: &[u8]) -> Result<()> {
        let h = header(body)?;
        let merge = self.last_step == Some(h.step);
        self.last_step = Some(h.step);
        if !self.filter.wants_step(h.step) {
            return Ok(());
        }
        if merge && !self.step.is_empty() {
            let last = self.step.len() - 1;
            self.timestamp[last] = h.timestamp;
            self.runtime[last] = h.runtime;
        } else {
            self.step.push(h.step);
            self.timestamp.push(h.timestamp);
            self.runtime.push(h.runtime);
        }
        let i = self.step.len() - 1;
        let columns = &mut self.columns;
        each_value(body, &h, &mut self.keys, |id, v| {
            let id = id as usize;
            while columns.len() <= id {
                columns.push(Building::new());
            }
            columns[id].set(i, v);
        })
    }

    /// The columns (every one as long as the rows).
    pub fn finish(self) -> Columns {
        let n = self.step.len();
        let keys = self.keys.keys;
        Columns {
            step: self.step,
            timestamp: self.timestamp,
            runtime: self.runtime,
            columns: keys
                .into_iter()
                .zip(self.columns)
                .map(|(k, c)| (k, c.finish(n)))
                .collect(),
        }
    }
}

/// Decodes history records into rows holding only the wanted keys.
pub struct RowDecoder {
    keys: KeyTable,
}

impl RowDecoder {
    pub fn new(keys: Option<&[String]>) -> RowDecoder {
        RowDecoder {
            keys: KeyTable::new(keys),
        }
    }

    /// The row of one history record (its MessagePack body); when `values` says no for its
    /// step, the row without its values (the values map is still checked).
    pub fn row(&mut self, body: &[u8], values: impl FnOnce(u64) -> bool) -> Result<Row> {
        let h = header(body)?;
        let mut out = Vec::new();
        if values(h.step) {
            let mut raw = Vec::new();
            each_value(body, &h, &mut self.keys, |id, v| raw.push((id, v)))?;
            out.reserve(raw.len());
            for (id, v) in raw {
                if let Some(v) = to_value(v) {
                    out.push((self.keys.keys[id as usize].clone(), v));
                }
            }
        } else if let Some(at) = h.values {
            skip_values(&mut Cur { b: body, pos: at })?;
        }
        Ok(Row {
            step: h.step,
            timestamp: h.timestamp,
            runtime: h.runtime,
            values: out,
        })
    }
}
