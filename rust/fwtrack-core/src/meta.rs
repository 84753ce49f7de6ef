//! A run's metadata as its log tells it, and the one fold that computes it.
//!
//! Both readers of a log fold its records through [`RunMeta::fold`]: the reader
//! ([`crate::reader::RunView`], `RunReader.meta()`) and the history index
//! ([`crate::index`], whose manifest carries the metadata so a server shows a run without
//! decoding its log). The summary is the one part each computes its own way (the reader
//! takes the last snapshot, the index computes what the writer would).

use rmpv::Value as Mp;

use crate::record::{Finish, MetricDef, Record};

/// The artifact records of a run, each the record's whole body map, in log order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Artifacts {
    /// `ArtifactLogged` bodies: versions this run logged.
    pub logged: Vec<Mp>,
    /// `ArtifactUsed` bodies: versions this run used.
    pub used: Vec<Mp>,
}

impl Artifacts {
    /// `{"logged": [...], "used": [...]}`.
    pub fn to_mp(&self) -> Mp {
        Mp::Map(vec![
            entry("logged", Mp::Array(self.logged.clone())),
            entry("used", Mp::Array(self.used.clone())),
        ])
    }

    fn from_mp(v: Option<&Mp>) -> Artifacts {
        // A manifest written before artifact records existed has none.
        let list = |name| {
            v.and_then(|v| field(v, name))
                .and_then(Mp::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Artifacts {
            logged: list("logged"),
            used: list("used"),
        }
    }
}

pub(crate) fn field<'a>(m: &'a Mp, name: &str) -> Option<&'a Mp> {
    match m {
        Mp::Map(e) => e
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub(crate) fn opt_u64(v: Option<u64>) -> Mp {
    v.map_or(Mp::Nil, Mp::from)
}

pub(crate) fn entry(name: &str, v: Mp) -> (Mp, Mp) {
    (Mp::from(name), v)
}

/// A run's metadata as its log tells it, in the shape of `RunReader.meta()`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMeta {
    /// Run-start info, one per start or resume.
    pub starts: Vec<Mp>,
    pub config: Option<Mp>,
    /// The summary (a map), as the writer computes it.
    pub summary: Mp,
    pub metrics: Vec<MetricDef>,
    /// The finish record, if the last start was followed by one.
    pub finish: Option<Finish>,
    pub last_step: Option<u64>,
    pub runtime: f64,
    /// History rows (records with the same step as the previous one merge into it).
    pub rows: u64,
    pub records: u64,
    /// Why reading stopped before the end of the log, if it did.
    pub tail_error: Option<String>,
    /// The artifact versions the run logged and used.
    pub artifacts: Artifacts,
    /// The alerts the run raised: each `Alert` record's body map, in log order.
    pub alerts: Vec<Mp>,
}

impl Default for RunMeta {
    fn default() -> Self {
        RunMeta {
            starts: Vec::new(),
            config: None,
            summary: Mp::Map(Vec::new()),
            metrics: Vec::new(),
            finish: None,
            last_step: None,
            runtime: 0.0,
            rows: 0,
            records: 0,
            tail_error: None,
            artifacts: Artifacts::default(),
            alerts: Vec::new(),
        }
    }
}

fn saw_step(last_step: &mut Option<u64>, step: u64) {
    *last_step = Some(last_step.map_or(step, |s| s.max(step)));
}

fn metric_to_mp(d: &MetricDef) -> Mp {
    Mp::Map(vec![
        entry("name", Mp::from(d.name.as_str())),
        entry(
            "step_metric",
            d.step_metric.as_deref().map_or(Mp::Nil, Mp::from),
        ),
        entry(
            "summary",
            Mp::Array(d.summary.iter().map(|s| Mp::from(s.as_str())).collect()),
        ),
        entry("goal", d.goal.as_deref().map_or(Mp::Nil, Mp::from)),
        entry("hidden", Mp::Boolean(d.hidden)),
        entry("step_sync", d.step_sync.map_or(Mp::Nil, Mp::Boolean)),
    ])
}

fn metric_from_mp(v: &Mp) -> Option<MetricDef> {
    Some(MetricDef {
        name: field(v, "name")?.as_str()?.to_owned(),
        step_metric: field(v, "step_metric")
            .and_then(Mp::as_str)
            .map(str::to_owned),
        summary: field(v, "summary")?
            .as_array()?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        // Absent from metadata stored before they existed.
        goal: field(v, "goal").and_then(Mp::as_str).map(str::to_owned),
        hidden: field(v, "hidden").and_then(Mp::as_bool).unwrap_or(false),
        step_sync: field(v, "step_sync").and_then(Mp::as_bool),
    })
}

impl RunMeta {
    /// The metadata as a MessagePack map with the keys of `RunReader.meta()`.
    pub fn to_mp(&self) -> Mp {
        let finish = self.finish.as_ref().map_or(Mp::Nil, |f| {
            Mp::Map(vec![
                entry("exit_code", Mp::from(f.exit_code)),
                entry("timestamp", Mp::F64(f.timestamp)),
                entry("runtime", Mp::F64(f.runtime)),
                entry("reason", f.reason.as_deref().map_or(Mp::Nil, Mp::from)),
            ])
        });
        Mp::Map(vec![
            entry("starts", Mp::Array(self.starts.clone())),
            entry("config", self.config.clone().unwrap_or(Mp::Map(Vec::new()))),
            entry("summary", self.summary.clone()),
            entry(
                "metrics",
                Mp::Array(self.metrics.iter().map(metric_to_mp).collect()),
            ),
            entry("finish", finish),
            entry("last_step", opt_u64(self.last_step)),
            entry("runtime", Mp::F64(self.runtime)),
            entry("rows", Mp::from(self.rows)),
            entry("records", Mp::from(self.records)),
            entry(
                "tail_error",
                self.tail_error.as_deref().map_or(Mp::Nil, Mp::from),
            ),
            entry("artifacts", self.artifacts.to_mp()),
            entry("alerts", Mp::Array(self.alerts.clone())),
        ])
    }

    pub(crate) fn from_mp(v: &Mp) -> Option<RunMeta> {
        let finish = match field(v, "finish")? {
            Mp::Nil => None,
            f => Some(Finish {
                exit_code: i32::try_from(field(f, "exit_code")?.as_i64()?).ok()?,
                timestamp: field(f, "timestamp")?.as_f64()?,
                runtime: field(f, "runtime")?.as_f64()?,
                // Absent from metadata stored before finish reasons existed.
                reason: field(f, "reason").and_then(Mp::as_str).map(str::to_owned),
            }),
        };
        let config = match field(v, "config")? {
            Mp::Map(e) if e.is_empty() => None,
            c => Some(c.clone()),
        };
        Some(RunMeta {
            starts: field(v, "starts")?.as_array()?.clone(),
            config,
            summary: field(v, "summary")?.clone(),
            metrics: field(v, "metrics")?
                .as_array()?
                .iter()
                .map(metric_from_mp)
                .collect::<Option<_>>()?,
            finish,
            last_step: field(v, "last_step").and_then(Mp::as_u64),
            runtime: field(v, "runtime")?.as_f64()?,
            rows: field(v, "rows")?.as_u64()?,
            records: field(v, "records")?.as_u64()?,
            tail_error: field(v, "tail_error")
                .and_then(Mp::as_str)
                .map(str::to_owned),
            artifacts: Artifacts::from_mp(field(v, "artifacts")),
            // Absent from metadata stored before alerts existed.
            alerts: field(v, "alerts")
                .and_then(Mp::as_array)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// Fold one record into the metadata (all but the summary, which each reader computes
    /// its own way). `last_row_step` is the step of the last history record folded: a
    /// record with the same step merges into that row (`docs/format.md`, "Folding the
    /// records into a run").
    pub fn fold(&mut self, r: &Record, last_row_step: &mut Option<u64>) {
        self.records += 1;
        match r {
            Record::RunStart(info) => {
                self.starts.push(info.clone());
                self.finish = None;
            }
            Record::Config(c) => self.config = Some(c.clone()),
            Record::History(row) => {
                saw_step(&mut self.last_step, row.step);
                self.runtime = self.runtime.max(row.runtime);
                if *last_row_step != Some(row.step) {
                    self.rows += 1;
                }
                *last_row_step = Some(row.step);
            }
            Record::Histogram(h) => saw_step(&mut self.last_step, h.step),
            Record::Media(m) => saw_step(&mut self.last_step, m.step),
            Record::MetricDef(d) => {
                self.metrics.retain(|x| x.name != d.name);
                self.metrics.push(d.clone());
            }
            Record::Finish(f) => {
                self.runtime = self.runtime.max(f.runtime);
                self.finish = Some(f.clone());
            }
            Record::ArtifactLogged(body) => self.artifacts.logged.push(body.clone()),
            Record::ArtifactUsed(body) => self.artifacts.used.push(body.clone()),
            Record::Alert(body) => self.alerts.push(body.clone()),
            Record::RunEdit(body) => {
                // The edited keys replace those of every start's info, so readers that take
                // the name, tags or notes from any start see the edit.
                if let Some(Mp::Map(patch)) = field(body, "info") {
                    for start in &mut self.starts {
                        if let Mp::Map(info) = start {
                            for (k, v) in patch {
                                match info.iter_mut().find(|(key, _)| key == k) {
                                    Some(slot) => slot.1 = v.clone(),
                                    None => info.push((k.clone(), v.clone())),
                                }
                            }
                        }
                    }
                }
            }
            Record::Summary(_)
            | Record::System(_)
            | Record::Console(_)
            | Record::Unknown { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(reason: Option<&str>) -> Finish {
        Finish {
            exit_code: 143,
            timestamp: 5.0,
            runtime: 4.0,
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn finish_reason_is_in_the_meta_map_and_round_trips() {
        for reason in [None, Some("stopped")] {
            let mut meta = RunMeta::default();
            let mut last = None;
            meta.fold(&Record::RunStart(Mp::Map(Vec::new())), &mut last);
            meta.fold(&Record::Finish(finish(reason)), &mut last);
            let mp = meta.to_mp();
            let f = field(&mp, "finish").cloned().unwrap_or(Mp::Nil);
            assert_eq!(
                field(&f, "reason").cloned(),
                Some(reason.map_or(Mp::Nil, Mp::from))
            );
            assert_eq!(RunMeta::from_mp(&mp), Some(meta));
        }
    }

    #[test]
    fn metadata_stored_without_a_reason_still_reads() {
        let meta = RunMeta {
            finish: Some(finish(None)),
            ..RunMeta::default()
        };
        let Mp::Map(mut entries) = meta.to_mp() else {
            panic!("meta is not a map")
        };
        // Metadata an older version stored: the finish map without "reason".
        for (k, v) in &mut entries {
            if k.as_str() == Some("finish") {
                if let Mp::Map(f) = v {
                    f.retain(|(k, _)| k.as_str() != Some("reason"));
                }
            }
        }
        let back = RunMeta::from_mp(&Mp::Map(entries));
        assert_eq!(back.and_then(|m| m.finish), Some(finish(None)));
    }

    #[test]
    fn a_new_start_clears_the_finish_and_its_reason() {
        let mut meta = RunMeta::default();
        let mut last = None;
        meta.fold(&Record::Finish(finish(Some("stopped"))), &mut last);
        meta.fold(&Record::RunStart(Mp::Map(Vec::new())), &mut last);
        assert_eq!(meta.finish, None);
    }
}
