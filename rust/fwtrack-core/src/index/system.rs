//! System-metric samples in the index.
//!
//! ```text
//! system.time   per sample, 16 bytes: Unix time (f64), run time (f64)
//! system.val    per value, 16 bytes: sample number (u32), key number (u32; the manifest's
//!               `system.keys` names them), value (f64)
//! ```

use std::collections::HashMap;
use std::path::Path;

use rmpv::Value as Mp;

use super::parts::{self, Writer, f64_at, read_range, strings_from_mp, strings_to_mp, u32_at};
use crate::error::Result;
use crate::meta::{entry, field};
use crate::record::SystemSample;

const TIME: &str = "system.time";
const VALUES: &str = "system.val";
const SAMPLE_BYTES: u64 = 16;
const VALUE_BYTES: u64 = 16;

/// The keys seen so far (their numbers are their positions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemState {
    pub keys: Vec<String>,
    by_key: HashMap<String, u32>,
}

impl SystemState {
    pub(crate) fn to_mp(&self) -> Mp {
        Mp::Map(vec![entry("keys", strings_to_mp(&self.keys))])
    }

    pub(crate) fn from_mp(v: &Mp) -> Option<SystemState> {
        let keys = strings_from_mp(field(v, "keys")?)?;
        Some(SystemState {
            by_key: keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i as u32))
                .collect(),
            keys,
        })
    }

    /// Append one sample.
    pub(crate) fn fold(&mut self, s: &SystemSample, w: &mut Writer) -> Result<()> {
        let n = (w.len(TIME) / SAMPLE_BYTES) as u32;
        let mut time = [0u8; 16];
        time[..8].copy_from_slice(&s.timestamp.to_le_bytes());
        time[8..].copy_from_slice(&s.runtime.to_le_bytes());
        w.append(TIME, &time)?;
        let mut vals = Vec::with_capacity(s.values.len() * VALUE_BYTES as usize);
        for (k, x) in &s.values {
            let id = if let Some(&i) = self.by_key.get(&**k) {
                i
            } else {
                self.keys.push(k.to_string());
                let i = (self.keys.len() - 1) as u32;
                self.by_key.insert(k.to_string(), i);
                i
            };
            vals.extend_from_slice(&n.to_le_bytes());
            vals.extend_from_slice(&id.to_le_bytes());
            vals.extend_from_slice(&x.to_le_bytes());
        }
        w.append(VALUES, &vals)
    }
}

/// The system samples as columns.
#[derive(Debug, Default, PartialEq)]
pub struct SystemColumns {
    pub timestamp: Vec<f64>,
    pub runtime: Vec<f64>,
    /// One column per key (NaN where a sample lacks the key), keys in order of first
    /// appearance.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// The system samples of an index as columns (only `keys`' columns, when given).
pub fn read_columns(
    dir: &Path,
    state: &parts::Parts,
    keys: Option<&[String]>,
) -> Result<SystemColumns> {
    let time = read_range(dir, TIME, 0, state.len(TIME))?;
    let n = time.len() / SAMPLE_BYTES as usize;
    let mut out = SystemColumns {
        timestamp: (0..n).map(|i| f64_at(&time, i * 16)).collect(),
        runtime: (0..n).map(|i| f64_at(&time, i * 16 + 8)).collect(),
        columns: Vec::new(),
    };
    let wanted = |k: &str| keys.is_none_or(|ks| ks.iter().any(|x| x == k));
    // Key number -> column, for the keys asked for.
    let mut slot: Vec<Option<usize>> = vec![None; state.system.keys.len()];
    let vals = read_range(dir, VALUES, 0, state.len(VALUES))?;
    for r in 0..vals.len() / VALUE_BYTES as usize {
        let at = r * VALUE_BYTES as usize;
        let (i, k) = (u32_at(&vals, at) as usize, u32_at(&vals, at + 4) as usize);
        if i >= n || k >= slot.len() {
            continue;
        }
        let c = if let Some(c) = slot[k] {
            c
        } else {
            if !wanted(&state.system.keys[k]) {
                continue;
            }
            out.columns
                .push((state.system.keys[k].clone(), vec![f64::NAN; n]));
            slot[k] = Some(out.columns.len() - 1);
            out.columns.len() - 1
        };
        out.columns[c].1[i] = f64_at(&vals, at + 8);
    }
    Ok(out)
}
