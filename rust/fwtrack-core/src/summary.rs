//! Run summaries: each metric's last value by default, the aggregations a metric
//! definition asks for (`min`, `max`, `mean`, `first`, `last`), and values set explicitly,
//! which win over computed ones.

use std::collections::{BTreeMap, HashMap};

use rmpv::Value as Mp;

use crate::record::{Key, MetricDef, SummarySnapshot, Value};

/// The aggregations a metric definition may ask for.
pub const AGGREGATIONS: [&str; 5] = ["min", "max", "mean", "last", "first"];

#[derive(Debug, Clone)]
struct Agg {
    first: Value,
    last: Value,
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
}

impl Agg {
    fn new(v: &Value, seed: Option<&Mp>, mean_seed: Option<(f64, u64)>) -> Agg {
        let (sum, count) = mean_seed.unwrap_or((0.0, 0));
        let mut a = Agg {
            first: v.clone(),
            last: v.clone(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum,
            count,
        };
        // Continue a resumed run's aggregates where they were.
        if let Some(Mp::Map(entries)) = seed {
            for (k, val) in entries {
                match (k.as_str(), val.as_f64()) {
                    (Some("min"), Some(x)) => a.min = x,
                    (Some("max"), Some(x)) => a.max = x,
                    _ => {}
                }
                if k.as_str() == Some("first")
                    && let Some(f) = mp_to_value(val)
                {
                    a.first = f;
                }
            }
        }
        a
    }

    fn observe(&mut self, v: &Value) {
        if let Some(x) = v.as_f64()
            && !x.is_nan()
        {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
            self.sum += x;
            self.count += 1;
        }
        self.last = v.clone();
    }

    fn get(&self, agg: &str) -> Mp {
        match agg {
            // A resumed run's restored min/max count even before a number is observed.
            "min" if self.count > 0 || self.min != f64::INFINITY => Mp::F64(self.min),
            "max" if self.count > 0 || self.max != f64::NEG_INFINITY => Mp::F64(self.max),
            "mean" if self.count > 0 => Mp::F64(self.sum / self.count as f64),
            "first" => self.first.to_mp(),
            "min" | "max" | "mean" => Mp::Nil,
            _ => self.last.to_mp(),
        }
    }
}

fn mp_to_value(v: &Mp) -> Option<Value> {
    match v {
        Mp::Boolean(b) => Some(Value::Bool(*b)),
        Mp::Integer(i) => i.as_i64().map(Value::Int),
        Mp::F64(f) => Some(Value::Float(*f)),
        Mp::F32(f) => Some(Value::Float(f64::from(*f))),
        Mp::String(s) => s.as_str().map(|s| Value::Str(s.to_owned())),
        _ => None,
    }
}

/// Whether a metric definition's name (a key or `prefix*`) covers `key`.
pub fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    }
}

/// The summary of a run as the writer keeps it.
#[derive(Debug, Default)]
pub struct SummaryState {
    computed: HashMap<Key, Agg>,
    restored: BTreeMap<String, Mp>,
    /// A resumed run's (sum, count) of each numeric key, so `mean` continues over the values
    /// logged before the resume (a snapshot keeps only the mean). Used when a key is first
    /// observed after the resume.
    restored_means: HashMap<String, (f64, u64)>,
    explicit: BTreeMap<String, Mp>,
    defs: Vec<MetricDef>,
    dirty: bool,
}

impl SummaryState {
    /// Continue from a snapshot and the metric definitions of a resumed run.
    pub fn restore(snapshot: Option<&SummarySnapshot>, defs: Vec<MetricDef>) -> Self {
        let mut s = SummaryState {
            defs,
            ..SummaryState::default()
        };
        if let Some(snap) = snapshot
            && let Mp::Map(entries) = &snap.values
        {
            for (k, v) in entries {
                let Some(k) = k.as_str() else { continue };
                if snap.explicit.iter().any(|e| e == k) {
                    s.explicit.insert(k.to_owned(), v.clone());
                } else {
                    s.restored.insert(k.to_owned(), v.clone());
                }
            }
        }
        s
    }

    /// Continue each key's `mean` from the (sum, count) of the values logged before a resume.
    pub fn restore_means(&mut self, means: HashMap<String, (f64, u64)>) {
        self.restored_means = means;
    }

    /// (sum, count) of each key's numeric values so far, those before a resume included:
    /// what a restart continues `mean` from.
    pub fn means(&self) -> HashMap<String, (f64, u64)> {
        let mut out = self.restored_means.clone();
        for (k, a) in &self.computed {
            out.insert(k.to_string(), (a.sum, a.count));
        }
        out
    }

    /// Whether anything changed since the last snapshot.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Mark the summary as changed (a snapshot is due).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Add a metric definition.
    pub fn define(&mut self, def: MetricDef) {
        self.defs.retain(|d| d.name != def.name);
        self.defs.push(def);
        self.dirty = true;
    }

    /// Observe a logged value.
    pub fn observe(&mut self, key: &Key, v: &Value) {
        if let Some(a) = self.computed.get_mut(key) {
            a.observe(v);
        } else {
            let mut a = Agg::new(
                v,
                self.restored.get(&**key),
                self.restored_means.get(&**key).copied(),
            );
            a.observe(v);
            self.computed.insert(key.clone(), a);
        }
        self.dirty = true;
    }

    /// Set (and delete) explicit values.
    pub fn set_explicit(&mut self, values: Vec<(String, Mp)>, delete: Vec<String>) {
        for k in delete {
            self.explicit.remove(&k);
            self.restored.remove(&k);
            self.computed.remove(k.as_str());
        }
        for (k, v) in values {
            self.explicit.insert(k, v);
        }
        self.dirty = true;
    }

    fn aggregations(&self, key: &str) -> Option<&[String]> {
        self.defs
            .iter()
            .rev()
            .find(|d| !d.summary.is_empty() && matches(&d.name, key))
            .map(|d| d.summary.as_slice())
    }

    /// The full summary, keys sorted; clears the dirty flag.
    pub fn snapshot(&mut self) -> SummarySnapshot {
        self.dirty = false;
        let mut out: BTreeMap<String, Mp> = self.restored.clone();
        for (k, a) in &self.computed {
            let v = match self.aggregations(k) {
                Some(aggs) => Mp::Map(
                    aggs.iter()
                        .map(|g| (Mp::from(g.as_str()), a.get(g)))
                        .collect(),
                ),
                None => a.last.to_mp(),
            };
            out.insert(k.to_string(), v);
        }
        for (k, v) in &self.explicit {
            out.insert(k.clone(), v.clone());
        }
        SummarySnapshot {
            values: Mp::Map(out.into_iter().map(|(k, v)| (Mp::from(k), v)).collect()),
            explicit: self.explicit.keys().cloned().collect(),
        }
    }
}

/// Persisting a summary state, so that a reader following a log (the server's history
/// index) continues it across updates exactly where it stopped.
impl SummaryState {
    /// Everything needed to continue this state elsewhere, as a MessagePack map (metric
    /// definitions are not included: they are stored with the run's metadata).
    pub fn to_mp(&self) -> Mp {
        // Sorted by key, so equal states save as equal bytes.
        let mut aggs: Vec<(&Key, &Agg)> = self.computed.iter().collect();
        aggs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let computed = aggs
            .into_iter()
            .map(|(k, a)| {
                let agg = Mp::Array(vec![
                    a.first.to_mp(),
                    a.last.to_mp(),
                    Mp::F64(a.min),
                    Mp::F64(a.max),
                    Mp::F64(a.sum),
                    Mp::from(a.count),
                ]);
                (Mp::from(&**k), agg)
            })
            .collect();
        let map = |m: &BTreeMap<String, Mp>| {
            Mp::Map(
                m.iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), v.clone()))
                    .collect(),
            )
        };
        let mut means: Vec<(&String, &(f64, u64))> = self.restored_means.iter().collect();
        means.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let means = means
            .into_iter()
            .map(|(k, (sum, count))| {
                (
                    Mp::from(k.as_str()),
                    Mp::Array(vec![Mp::F64(*sum), Mp::from(*count)]),
                )
            })
            .collect();
        Mp::Map(vec![
            (Mp::from("computed"), Mp::Map(computed)),
            (Mp::from("restored"), map(&self.restored)),
            (Mp::from("explicit"), map(&self.explicit)),
            (Mp::from("dirty"), Mp::Boolean(self.dirty)),
            (Mp::from("means"), Mp::Map(means)),
        ])
    }

    /// The state [`SummaryState::to_mp`] saved, with the run's metric definitions; None when
    /// `v` is not such a state.
    pub fn from_mp(v: &Mp, defs: Vec<MetricDef>) -> Option<SummaryState> {
        let Mp::Map(fields) = v else { return None };
        let field = |name: &str| fields.iter().find(|(k, _)| k.as_str() == Some(name));
        let strings = |name: &str| -> Option<BTreeMap<String, Mp>> {
            match field(name) {
                Some((_, Mp::Map(e))) => e
                    .iter()
                    .map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect(),
                _ => None,
            }
        };
        let mut computed = HashMap::new();
        let Some((_, Mp::Map(entries))) = field("computed") else {
            return None;
        };
        for (k, agg) in entries {
            let Mp::Array(parts) = agg else { return None };
            let [first, last, min, max, sum, count] = parts.as_slice() else {
                return None;
            };
            computed.insert(
                Key::from(k.as_str()?),
                Agg {
                    first: mp_to_value(first)?,
                    last: mp_to_value(last)?,
                    min: min.as_f64()?,
                    max: max.as_f64()?,
                    sum: sum.as_f64()?,
                    count: count.as_u64()?,
                },
            );
        }
        Some(SummaryState {
            computed,
            restored: strings("restored")?,
            // Absent from states saved before means continued across resumes.
            restored_means: match field("means") {
                Some((_, Mp::Map(e))) => e
                    .iter()
                    .filter_map(|(k, v)| {
                        let [sum, count] = v.as_array()?.as_slice() else {
                            return None;
                        };
                        Some((k.as_str()?.to_owned(), (sum.as_f64()?, count.as_u64()?)))
                    })
                    .collect(),
                _ => HashMap::new(),
            },
            explicit: strings("explicit")?,
            defs,
            dirty: field("dirty").and_then(|(_, d)| d.as_bool())?,
        })
    }

    /// Bring the explicit values in line with a snapshot the writer wrote: keys the writer
    /// set explicitly take the snapshot's values, and keys the snapshot no longer has (or
    /// no longer marks explicit) were deleted. The dirty flag is cleared: the summary is
    /// the snapshot's.
    pub fn sync_explicit(&mut self, snapshot: &SummarySnapshot) {
        let Mp::Map(entries) = &snapshot.values else {
            return;
        };
        let present: std::collections::HashSet<&str> =
            entries.iter().filter_map(|(k, _)| k.as_str()).collect();
        let mut delete: Vec<String> = self
            .explicit
            .keys()
            .filter(|k| !snapshot.explicit.iter().any(|e| e == *k))
            .cloned()
            .collect();
        delete.extend(
            self.restored
                .keys()
                .map(String::as_str)
                .chain(self.computed.keys().map(|k| &**k))
                .filter(|k| !present.contains(k))
                .map(str::to_owned),
        );
        let values: Vec<(String, Mp)> = entries
            .iter()
            .filter_map(|(k, v)| {
                let k = k.as_str()?;
                snapshot
                    .explicit
                    .iter()
                    .any(|e| e == k)
                    .then(|| (k.to_owned(), v.clone()))
            })
            .collect();
        // Deleting an explicit key that the snapshot still has as a computed value must not
        // drop its aggregate: only keys absent from the snapshot lose their computed state.
        for k in &delete {
            if present.contains(k.as_str()) {
                self.explicit.remove(k);
            } else {
                self.explicit.remove(k);
                self.restored.remove(k);
                self.computed.remove(k.as_str());
            }
        }
        for (k, v) in values {
            self.explicit.insert(k, v);
        }
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(s: &'a SummarySnapshot, k: &str) -> Option<&'a Mp> {
        match &s.values {
            Mp::Map(e) => e
                .iter()
                .find(|(x, _)| x.as_str() == Some(k))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    #[test]
    fn last_min_max_mean_and_explicit() {
        let mut s = SummaryState::default();
        s.define(MetricDef {
            name: "acc*".into(),
            step_metric: None,
            summary: vec!["max".into(), "mean".into()],
            ..MetricDef::default()
        });
        let loss = Key::from("loss");
        let acc = Key::from("acc/val");
        for x in [3.0, 1.0, 2.0] {
            s.observe(&loss, &Value::Float(x));
            s.observe(&acc, &Value::Float(x));
        }
        s.set_explicit(vec![("best".into(), Mp::from(7))], vec![]);
        let snap = s.snapshot();
        assert_eq!(get(&snap, "loss"), Some(&Mp::F64(2.0)));
        assert_eq!(
            get(&snap, "acc/val"),
            Some(&Mp::Map(vec![
                (Mp::from("max"), Mp::F64(3.0)),
                (Mp::from("mean"), Mp::F64(2.0))
            ]))
        );
        assert_eq!(get(&snap, "best"), Some(&Mp::from(7)));
        assert_eq!(snap.explicit, vec!["best".to_owned()]);
        // explicit wins over computed
        s.set_explicit(vec![("loss".into(), Mp::F64(0.0))], vec![]);
        assert_eq!(get(&s.snapshot(), "loss"), Some(&Mp::F64(0.0)));
    }

    #[test]
    fn saved_state_continues_exactly() {
        let defs = vec![MetricDef {
            name: "m".into(),
            step_metric: None,
            summary: vec!["mean".into(), "first".into(), "min".into()],
            ..MetricDef::default()
        }];
        let mut a = SummaryState::restore(None, defs.clone());
        for x in [4.0, f64::NAN, 2.0] {
            a.observe(&Key::from("m"), &Value::Float(x));
        }
        a.observe(&Key::from("s"), &Value::Str("x".into()));
        a.set_explicit(vec![("e".into(), Mp::from(1))], vec![]);
        let saved = a.to_mp();
        let mut b = SummaryState::from_mp(&saved, defs).unwrap_or_else(|| panic!("bad state"));
        for s in [&mut a, &mut b] {
            s.observe(&Key::from("m"), &Value::Int(9));
        }
        assert_eq!(a.snapshot(), b.snapshot());
        assert_eq!(a.to_mp(), b.to_mp());
        assert!(SummaryState::from_mp(&Mp::from(3), vec![]).is_none());
    }

    #[test]
    fn restored_min_continues() {
        let mut s = SummaryState::default();
        s.define(MetricDef {
            name: "l".into(),
            step_metric: None,
            summary: vec!["min".into()],
            ..MetricDef::default()
        });
        s.observe(&Key::from("l"), &Value::Float(1.0));
        let snap = s.snapshot();
        let mut r = SummaryState::restore(Some(&snap), s.defs.clone());
        r.observe(&Key::from("l"), &Value::Float(5.0));
        let snap2 = r.snapshot();
        assert_eq!(
            get(&snap2, "l"),
            Some(&Mp::Map(vec![(Mp::from("min"), Mp::F64(1.0))]))
        );
    }
}
