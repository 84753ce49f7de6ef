//! Media descriptors in the index.
//!
//! ```text
//! media.bin   the descriptors, MessagePack, one after the other
//! media.idx   per value, 32 bytes: end of its descriptor in media.bin (u64), step (u64),
//!             Unix time (f64), key number (u32; the manifest's `media.keys`), 0 (u32)
//! ```
//!
//! The manifest also keeps, per key, how many values it has and the type of the newest.

use std::collections::HashMap;
use std::path::Path;

use rmpv::Value as Mp;

use super::parts::{self, Writer, f64_at, read_range, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::meta::{entry, field};
use crate::record::MediaRecord;

const BIN: &str = "media.bin";
const INDEX: &str = "media.idx";
const ITEM_BYTES: u64 = 32;

/// One media key: how many values it has and the `_type` of the newest.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaKey {
    pub key: String,
    pub count: u64,
    pub kind: Mp,
}

/// The media keys seen so far (their numbers are their positions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaState {
    pub keys: Vec<MediaKey>,
    by_key: HashMap<String, u32>,
}

impl MediaState {
    pub(crate) fn to_mp(&self) -> Mp {
        Mp::Map(vec![entry(
            "keys",
            Mp::Array(
                self.keys
                    .iter()
                    .map(|k| {
                        Mp::Array(vec![
                            Mp::from(k.key.as_str()),
                            Mp::from(k.count),
                            k.kind.clone(),
                        ])
                    })
                    .collect(),
            ),
        )])
    }

    pub(crate) fn from_mp(v: &Mp) -> Option<MediaState> {
        let mut keys = Vec::new();
        for k in field(v, "keys")?.as_array()? {
            let a = k.as_array()?;
            keys.push(MediaKey {
                key: a.first()?.as_str()?.to_owned(),
                count: a.get(1)?.as_u64()?,
                kind: a.get(2)?.clone(),
            });
        }
        Some(MediaState {
            by_key: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.key.clone(), i as u32))
                .collect(),
            keys,
        })
    }

    /// Append one value.
    pub(crate) fn fold(&mut self, m: &MediaRecord, w: &mut Writer) -> Result<()> {
        let kind = match &m.value {
            Mp::Map(_) => crate::meta::field(&m.value, "_type")
                .cloned()
                .unwrap_or(Mp::Nil),
            _ => Mp::Nil,
        };
        let id = if let Some(&i) = self.by_key.get(&*m.key) {
            i
        } else {
            self.keys.push(MediaKey {
                key: m.key.to_string(),
                count: 0,
                kind: Mp::Nil,
            });
            let i = (self.keys.len() - 1) as u32;
            self.by_key.insert(m.key.to_string(), i);
            i
        };
        let k = &mut self.keys[id as usize];
        k.count += 1;
        k.kind = kind;
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &m.value)
            .map_err(|e| Error::Decode(format!("media descriptor of {:?}: {e}", m.key)))?;
        let end = w.len(BIN) + body.len() as u64;
        let mut row = [0u8; ITEM_BYTES as usize];
        row[..8].copy_from_slice(&end.to_le_bytes());
        row[8..16].copy_from_slice(&m.step.to_le_bytes());
        row[16..24].copy_from_slice(&m.timestamp.to_le_bytes());
        row[24..28].copy_from_slice(&id.to_le_bytes());
        w.append(BIN, &body)?;
        w.append(INDEX, &row)
    }
}

/// Media values of an index in log order (of `key` only, when given).
pub fn read_items(dir: &Path, p: &parts::Parts, key: Option<&str>) -> Result<Vec<MediaRecord>> {
    let want = match key {
        None => None,
        Some(k) => match p.media.keys.iter().position(|x| x.key == k) {
            Some(i) => Some(i as u32),
            None => return Ok(Vec::new()),
        },
    };
    let idx = read_range(dir, INDEX, 0, p.len(INDEX))?;
    let bin = read_range(dir, BIN, 0, p.len(BIN))?;
    let mut out = Vec::new();
    let mut prev = 0usize;
    for r in 0..idx.len() / ITEM_BYTES as usize {
        let at = r * ITEM_BYTES as usize;
        let end = usize::try_from(u64_at(&idx, at))
            .unwrap_or(usize::MAX)
            .min(bin.len());
        let body = bin.get(prev..end).unwrap_or_default();
        prev = end;
        let k = u32_at(&idx, at + 24);
        if want.is_some_and(|w| w != k) {
            continue;
        }
        let Some(name) = p.media.keys.get(k as usize) else {
            continue;
        };
        let value = rmpv::decode::read_value(&mut &body[..])
            .map_err(|e| Error::Decode(format!("index media descriptor {r}: {e}")))?;
        out.push(MediaRecord {
            step: u64_at(&idx, at + 8),
            timestamp: f64_at(&idx, at + 16),
            key: name.key.as_str().into(),
            value,
        });
    }
    Ok(out)
}
