//! Step semantics: which row a `log()` call lands in.
//!
//! Each committed call is one row. Without an explicit step the row gets the current step,
//! which then increments. `commit = false` accumulates into a pending row. An explicit step
//! equal to the current one merges into it; a higher one first commits the pending row; a
//! lower one is dropped (reported once).
//!
//! Committed rows come out as writer [`Entry`]s: a media value still being encoded becomes a
//! [`PendingRecord`] in its place among the records of its step.

use crate::pending::{Entry, PendingRecord};
use crate::record::{Attachment, HistRecord, Key, MediaRecord, Record, Row, Value};

/// What `StepState::log` did with a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// The call's step was below the current step; nothing was recorded.
    Dropped {
        step: u64,
        current: u64,
        /// True the first time a call is dropped (report it then).
        first: bool,
    },
}

#[derive(Debug, Default)]
struct Pending {
    step: u64,
    values: Vec<(Key, Value)>,
    attachments: Vec<(Key, Attachment)>,
}

/// The step counter and the pending (uncommitted) row of a run.
#[derive(Debug, Default)]
pub struct StepState {
    next: u64,
    last_committed: Option<u64>,
    pending: Option<Pending>,
    dropped: u64,
}

fn merge<T>(into: &mut Vec<(Key, T)>, from: Vec<(Key, T)>) {
    for (k, v) in from {
        if let Some(slot) = into.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            into.push((k, v));
        }
    }
}

impl StepState {
    /// A fresh state, or one continuing after `last_committed` (a resumed run).
    pub fn new(last_committed: Option<u64>) -> Self {
        StepState {
            next: last_committed.map_or(0, |s| s + 1),
            last_committed,
            pending: None,
            dropped: 0,
        }
    }

    /// The step the next implicit commit gets.
    pub fn step(&self) -> u64 {
        self.pending.as_ref().map_or(self.next, |p| p.step)
    }

    /// Whether a call with explicit step `k` would be dropped.
    pub fn would_drop(&self, k: u64) -> bool {
        match &self.pending {
            Some(p) => k < p.step,
            None => self.last_committed.is_some_and(|last| k < last),
        }
    }

    /// How many calls were dropped for going below the current step.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Apply one `log()` call; committed rows are appended to `out` as records.
    /// `clock` gives (unix time, runtime) for a row committed now.
    pub fn log(
        &mut self,
        values: Vec<(Key, Value)>,
        attachments: Vec<(Key, Attachment)>,
        step: Option<u64>,
        commit: bool,
        clock: (f64, f64),
        out: &mut Vec<Entry>,
    ) -> Outcome {
        if let Some(k) = step {
            let current = match &self.pending {
                Some(p) => p.step,
                None => self.last_committed.unwrap_or(0),
            };
            if self.would_drop(k) {
                self.dropped += 1;
                return Outcome::Dropped {
                    step: k,
                    current,
                    first: self.dropped == 1,
                };
            }
            if self.pending.as_ref().is_some_and(|p| p.step < k) {
                self.commit(clock, out);
            }
        }
        let target = step.unwrap_or_else(|| self.step());
        let pending = self.pending.get_or_insert_with(|| Pending {
            step: target,
            ..Pending::default()
        });
        if pending.values.is_empty() && pending.attachments.is_empty() {
            pending.values = values;
            pending.attachments = attachments;
        } else {
            merge(&mut pending.values, values);
            merge(&mut pending.attachments, attachments);
        }
        if commit {
            self.commit(clock, out);
        }
        Outcome::Accepted
    }

    /// Commit the pending row, if any.
    pub fn commit(&mut self, clock: (f64, f64), out: &mut Vec<Entry>) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let (timestamp, runtime) = clock;
        for (key, a) in p.attachments {
            out.push(match a {
                Attachment::Hist(hist) => Entry::Record(Record::Histogram(HistRecord {
                    step: p.step,
                    timestamp,
                    key,
                    hist,
                })),
                Attachment::Media(value) => Entry::Record(Record::Media(MediaRecord {
                    step: p.step,
                    timestamp,
                    key,
                    value,
                })),
                Attachment::Pending(value) => Entry::Pending(PendingRecord {
                    step: p.step,
                    timestamp,
                    key,
                    value,
                }),
            });
        }
        out.push(Entry::Record(Record::History(Row {
            step: p.step,
            timestamp,
            runtime,
            values: p.values,
        })));
        self.last_committed = Some(p.step);
        self.next = p.step + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(k: &str, x: f64) -> Vec<(Key, Value)> {
        vec![(Key::from(k), Value::Float(x))]
    }

    fn steps(out: &[Entry]) -> Vec<u64> {
        out.iter()
            .filter_map(|r| match r {
                Entry::Record(Record::History(row)) => Some(row.step),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn implicit_steps_increment() {
        let mut s = StepState::new(None);
        let mut out = Vec::new();
        for i in 0..3 {
            s.log(
                v("a", f64::from(i)),
                vec![],
                None,
                true,
                (0.0, 0.0),
                &mut out,
            );
        }
        assert_eq!(steps(&out), vec![0, 1, 2]);
        assert_eq!(s.step(), 3);
    }

    #[test]
    fn media_commits_with_its_row_at_the_row_step() {
        let mut s = StepState::new(None);
        let mut out = Vec::new();
        let img = |n: i64| Attachment::Media(rmpv::Value::from(n));
        s.log(v("a", 1.0), vec![], None, true, (0.0, 0.0), &mut out);
        s.log(
            vec![],
            vec![(Key::from("img"), img(1))],
            None,
            false,
            (0.0, 0.0),
            &mut out,
        );
        s.log(
            vec![],
            vec![(Key::from("img"), img(2))],
            None,
            true,
            (7.0, 0.5),
            &mut out,
        );
        assert_eq!(steps(&out), vec![0, 1]);
        let media: Vec<_> = out
            .iter()
            .filter_map(|r| match r {
                Entry::Record(Record::Media(m)) => Some((m.step, m.timestamp, m.value.clone())),
                _ => None,
            })
            .collect();
        // The later value under the same key replaces the pending one.
        assert_eq!(media, vec![(1, 7.0, rmpv::Value::from(2))]);
    }

    #[test]
    fn pending_media_take_their_place_before_their_row() {
        let (_completer, value) = crate::pending::pending();
        let mut s = StepState::new(None);
        let mut out = Vec::new();
        s.log(v("a", 1.0), vec![], None, true, (0.0, 0.0), &mut out);
        s.log(
            v("b", 2.0),
            vec![(Key::from("img"), Attachment::Pending(value.clone()))],
            None,
            true,
            (3.0, 0.5),
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[1],
            Entry::Pending(PendingRecord {
                step: 1,
                timestamp: 3.0,
                key: Key::from("img"),
                value,
            })
        );
        assert_eq!(steps(&out), vec![0, 1]);
    }

    #[test]
    fn commit_false_accumulates() {
        let mut s = StepState::new(None);
        let mut out = Vec::new();
        s.log(v("a", 1.0), vec![], None, false, (0.0, 0.0), &mut out);
        s.log(v("b", 2.0), vec![], None, true, (0.0, 0.0), &mut out);
        assert_eq!(out.len(), 1);
        let Entry::Record(Record::History(row)) = &out[0] else {
            panic!("not a row")
        };
        assert_eq!(row.values.len(), 2);
    }

    #[test]
    fn explicit_steps_and_drops() {
        let mut s = StepState::new(None);
        let mut out = Vec::new();
        s.log(v("a", 1.0), vec![], Some(10), true, (0.0, 0.0), &mut out);
        assert_eq!(s.step(), 11);
        // equal to the last committed step: accepted (merged by readers)
        let o = s.log(v("b", 1.0), vec![], Some(10), true, (0.0, 0.0), &mut out);
        assert_eq!(o, Outcome::Accepted);
        let o = s.log(v("c", 1.0), vec![], Some(3), true, (0.0, 0.0), &mut out);
        assert_eq!(
            o,
            Outcome::Dropped {
                step: 3,
                current: 10,
                first: true
            }
        );
        let o = s.log(v("c", 1.0), vec![], Some(2), true, (0.0, 0.0), &mut out);
        assert!(matches!(o, Outcome::Dropped { first: false, .. }));
        assert_eq!(steps(&out), vec![10, 10]);
        assert_eq!(s.dropped(), 2);
    }

    #[test]
    fn higher_step_commits_pending_first() {
        let mut s = StepState::new(Some(4));
        let mut out = Vec::new();
        s.log(v("a", 1.0), vec![], None, false, (0.0, 0.0), &mut out);
        s.log(v("b", 1.0), vec![], Some(9), false, (0.0, 0.0), &mut out);
        assert_eq!(steps(&out), vec![5]);
        s.commit((0.0, 0.0), &mut out);
        assert_eq!(steps(&out), vec![5, 9]);
    }
}
