//! Histograms in the index, one pair of files per key, so that a key's histograms are read
//! without reading the other keys' (or decoding the log).
//!
//! ```text
//! hist.<i>.bin   per histogram of key i (the manifest's `hist.keys`): counts n (u32), edges
//!                e (u32; n + 1), NaN, +Inf and -Inf counts (u64 each), e edges (f64), n
//!                counts (u64)
//! hist.<i>.idx   per histogram, 24 bytes: step (u64), Unix time (f64), end in hist.<i>.bin (u64)
//! ```

use std::collections::HashMap;
use std::path::Path;

use rmpv::Value as Mp;

use super::parts::{
    self, Writer, f64_at, read_range, strings_from_mp, strings_to_mp, u32_at, u64_at,
};
use crate::error::{Error, Result};
use crate::histogram::Hist;
use crate::meta::{entry, field};
use crate::record::HistRecord;

const ENTRY_BYTES: u64 = 24;
const HEAD_BYTES: usize = 32;

fn bin_file(i: usize) -> String {
    format!("hist.{i}.bin")
}

fn idx_file(i: usize) -> String {
    format!("hist.{i}.idx")
}

/// The histogram keys seen so far (their numbers are their positions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistState {
    pub keys: Vec<String>,
    by_key: HashMap<String, usize>,
}

impl HistState {
    pub(crate) fn to_mp(&self) -> Mp {
        Mp::Map(vec![entry("keys", strings_to_mp(&self.keys))])
    }

    pub(crate) fn from_mp(v: &Mp) -> Option<HistState> {
        let keys = strings_from_mp(field(v, "keys")?)?;
        Some(HistState {
            by_key: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect(),
            keys,
        })
    }

    /// Append one histogram.
    pub(crate) fn fold(&mut self, h: HistRecord, w: &mut Writer) -> Result<()> {
        let i = if let Some(&i) = self.by_key.get(&*h.key) {
            i
        } else {
            self.keys.push(h.key.to_string());
            self.by_key.insert(h.key.to_string(), self.keys.len() - 1);
            self.keys.len() - 1
        };
        let n = h.hist.counts.len();
        let mut body = Vec::with_capacity(HEAD_BYTES + 16 * n + 8);
        body.extend_from_slice(&(n as u32).to_le_bytes());
        body.extend_from_slice(&(h.hist.edges.len() as u32).to_le_bytes());
        for x in [h.hist.nan, h.hist.pos_inf, h.hist.neg_inf] {
            body.extend_from_slice(&x.to_le_bytes());
        }
        for e in &h.hist.edges {
            body.extend_from_slice(&e.to_le_bytes());
        }
        for c in &h.hist.counts {
            body.extend_from_slice(&c.to_le_bytes());
        }
        let bin = bin_file(i);
        let end = w.len(&bin) + body.len() as u64;
        let mut row = [0u8; ENTRY_BYTES as usize];
        row[..8].copy_from_slice(&h.step.to_le_bytes());
        row[8..16].copy_from_slice(&h.timestamp.to_le_bytes());
        row[16..].copy_from_slice(&end.to_le_bytes());
        w.append(&bin, &body)?;
        w.append(&idx_file(i), &row)
    }
}

/// Every histogram logged under `key`, in log order: `(step, histogram)`.
pub fn read_key(dir: &Path, p: &parts::Parts, key: &str) -> Result<Vec<(u64, Hist)>> {
    let Some(i) = p.hist.keys.iter().position(|k| k == key) else {
        return Ok(Vec::new());
    };
    let (bin_name, idx_name) = (bin_file(i), idx_file(i));
    let idx = read_range(dir, &idx_name, 0, p.len(&idx_name))?;
    let bin = read_range(dir, &bin_name, 0, p.len(&bin_name))?;
    let bad = |r: usize| Error::Decode(format!("index histogram {r} of {key:?} is malformed"));
    let mut out = Vec::with_capacity(idx.len() / ENTRY_BYTES as usize);
    let mut prev = 0usize;
    for r in 0..idx.len() / ENTRY_BYTES as usize {
        let at = r * ENTRY_BYTES as usize;
        let end = usize::try_from(u64_at(&idx, at + 16)).unwrap_or(usize::MAX);
        let body = bin.get(prev..end).ok_or_else(|| bad(r))?;
        prev = end;
        if body.len() < HEAD_BYTES {
            return Err(bad(r));
        }
        let (n, e) = (u32_at(body, 0) as usize, u32_at(body, 4) as usize);
        if body.len() != HEAD_BYTES + 8 * e + 8 * n {
            return Err(bad(r));
        }
        let edges = (0..e).map(|j| f64_at(body, HEAD_BYTES + 8 * j)).collect();
        let c0 = HEAD_BYTES + 8 * e;
        let counts = (0..n).map(|j| u64_at(body, c0 + 8 * j)).collect();
        out.push((
            u64_at(&idx, at),
            Hist {
                edges,
                counts,
                nan: u64_at(body, 8),
                pos_inf: u64_at(body, 16),
                neg_inf: u64_at(body, 24),
            },
        ));
    }
    Ok(out)
}

/// The histograms of `key` as the JSON text the server answers: `{"key", "steps", "edges",
/// "counts", "nan", "pos_inf", "neg_inf"}`, one entry per histogram in log order. None when
/// an edge is not finite (the caller spells those its own way).
pub fn key_json(dir: &Path, p: &parts::Parts, key: &str) -> Result<Option<String>> {
    use std::fmt::Write as _;
    let entries = read_key(dir, p, key)?;
    if entries
        .iter()
        .any(|(_, h)| h.edges.iter().any(|e| !e.is_finite()))
    {
        return Ok(None);
    }
    let mut out = String::with_capacity(64 + entries.len() * 24 * 64);
    out.push_str("{\"key\":");
    super::json::write_str(key, &mut out);
    let list = |out: &mut String, name: &str, f: &dyn Fn(&mut String, &(u64, Hist))| {
        let _ = write!(out, ",\"{name}\":[");
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            f(out, e);
        }
        out.push(']');
    };
    list(&mut out, "steps", &|o, (s, _)| {
        let _ = write!(o, "{s}");
    });
    list(&mut out, "edges", &|o, (_, h)| {
        o.push('[');
        for (i, e) in h.edges.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            // Debug: the shortest text that reads back to the same bits.
            let _ = write!(o, "{e:?}");
        }
        o.push(']');
    });
    list(&mut out, "counts", &|o, (_, h)| {
        o.push('[');
        for (i, c) in h.counts.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{c}");
        }
        o.push(']');
    });
    list(&mut out, "nan", &|o, (_, h)| {
        let _ = write!(o, "{}", h.nan);
    });
    list(&mut out, "pos_inf", &|o, (_, h)| {
        let _ = write!(o, "{}", h.pos_inf);
    });
    list(&mut out, "neg_inf", &|o, (_, h)| {
        let _ = write!(o, "{}", h.neg_inf);
    });
    out.push('}');
    Ok(Some(out))
}
