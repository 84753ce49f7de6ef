//! Steps and summaries end to end: log calls through `StepState`, the writer's summary, and
//! what a reader folds out of the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{eventually, get, map, mp_eq, open, quiet_opts};
use fwtrack_core::LOG_FILE_NAME;
use fwtrack_core::histogram;
use fwtrack_core::reader::{Column, RunView, read_log};
use fwtrack_core::record::{Attachment, Key, MetricDef, Record, Value};
use fwtrack_core::steps::{Outcome, StepState};
use fwtrack_core::writer::{Writer, WriterOptions};
use rmpv::Value as Mp;

fn vals(kv: &[(&str, f64)]) -> Vec<(Key, Value)> {
    kv.iter()
        .map(|(k, x)| (Key::from(*k), Value::Float(*x)))
        .collect()
}

/// Drives a writer the way the Python `log()` does.
struct Run {
    w: Writer,
    steps: StepState,
    clock: f64,
}

impl Run {
    fn log(&mut self, kv: &[(&str, f64)], step: Option<u64>, commit: bool) -> Outcome {
        self.clock += 1.0;
        let mut out = Vec::new();
        let o = self.steps.log(
            vals(kv),
            vec![],
            step,
            commit,
            (1000.0 + self.clock, self.clock),
            &mut out,
        );
        self.w.send_entries(out).unwrap();
        o
    }
}

fn define(name: &str, summary: &[&str]) -> Record {
    Record::MetricDef(MetricDef {
        name: name.into(),
        step_metric: Some("epoch".into()),
        summary: summary.iter().map(|s| (*s).to_owned()).collect(),
        ..MetricDef::default()
    })
}

#[test]
fn steps_and_summaries_through_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    w.send(define("train/*", &["min", "max", "mean"])).unwrap();
    w.send(define("eval/acc", &["max", "last"])).unwrap();
    let mut run = Run {
        w,
        steps: StepState::new(None),
        clock: 0.0,
    };

    // Steps 0, 1, 2: one implicit step per call.
    for x in [3.0, 1.0, 2.0] {
        run.log(&[("train/loss", x), ("lr", x / 10.0)], None, true);
    }
    // Step 3 built from two calls with commit=false, then committed.
    run.log(&[("eval/acc", 0.5)], None, false);
    run.log(&[("eval/acc", 0.7), ("epoch", 1.0)], None, false);
    run.log(&[("train/loss", 4.0)], None, true);
    // An explicit step jumps ahead; the same step again merges in readers; a lower one is
    // dropped.
    assert_eq!(
        run.log(&[("eval/acc", 0.6)], Some(10), true),
        Outcome::Accepted
    );
    assert_eq!(
        run.log(&[("extra", 1.0)], Some(10), true),
        Outcome::Accepted
    );
    assert!(matches!(
        run.log(&[("train/loss", -1.0)], Some(5), true),
        Outcome::Dropped {
            step: 5,
            current: 10,
            first: true
        }
    ));
    assert_eq!(run.steps.step(), 11);

    // Explicit values win over computed ones and survive later logging.
    run.w
        .set_summary(
            vec![
                ("lr".into(), Mp::from("explicit")),
                ("note".into(), Mp::from("hello")),
            ],
            vec![],
        )
        .unwrap();
    run.log(&[("lr", 9.0)], None, true);
    run.w.set_summary(vec![], vec!["note".into()]).unwrap();

    let summary = run.w.summary().unwrap();
    run.w.close().unwrap();

    assert_eq!(
        get(&summary, "train/loss"),
        Some(&map(&[
            ("min", Mp::F64(1.0)),
            ("max", Mp::F64(4.0)),
            ("mean", Mp::F64(2.5)),
        ]))
    );
    assert_eq!(
        get(&summary, "eval/acc"),
        Some(&map(&[("max", Mp::F64(0.7)), ("last", Mp::F64(0.6))]))
    );
    assert_eq!(get(&summary, "epoch"), Some(&Mp::F64(1.0)));
    assert_eq!(get(&summary, "extra"), Some(&Mp::F64(1.0)));
    assert_eq!(get(&summary, "lr"), Some(&Mp::from("explicit")));
    assert_eq!(get(&summary, "note"), None);

    // The last summary record in the file is the writer's summary.
    let c = read_log(&tmp.path().join(LOG_FILE_NAME)).unwrap();
    let last = c
        .records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Summary(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert!(mp_eq(&last.values, &summary));
    assert_eq!(last.explicit, vec!["lr".to_owned()]);

    let v = RunView::from_contents(c);
    let steps: Vec<u64> = v.rows.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3, 10, 11]);
    // Step 3 holds both commit=false calls, later values winning.
    let step3 = &v.rows[3].values;
    assert_eq!(step3.len(), 3);
    assert!(step3.contains(&(Key::from("eval/acc"), Value::Float(0.7))));
    // The two rows logged at step 10 are merged by the reader.
    assert_eq!(v.rows[4].values.len(), 2);
    assert_eq!(v.meta.last_step, Some(11));
    assert_eq!(v.meta.metrics.len(), 2);

    let cols = v.columns(None);
    assert_eq!(cols.step, vec![0, 1, 2, 3, 10, 11]);
    let loss = cols
        .columns
        .iter()
        .find(|(k, _)| &**k == "train/loss")
        .unwrap();
    let Column::Numeric(xs) = &loss.1 else {
        panic!("train/loss should be numeric")
    };
    assert_eq!(&xs[..4], &[3.0, 1.0, 2.0, 4.0]);
    assert!(xs[4].is_nan() && xs[5].is_nan());
}

#[test]
fn histograms_land_at_their_row_step() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = open(tmp.path(), false, quiet_opts());
    let mut steps = StepState::new(None);
    let data: Vec<f32> = (0..1000).map(|i| i as f32 / 10.0).collect();
    let h = histogram::compute(&data, 8);
    let mut out = Vec::new();
    steps.log(
        vals(&[("loss", 1.0)]),
        vec![(Key::from("weights"), Attachment::Hist(h.clone()))],
        None,
        true,
        (0.0, 0.0),
        &mut out,
    );
    steps.log(
        vec![],
        vec![(Key::from("weights"), Attachment::Hist(h.clone()))],
        Some(4),
        true,
        (0.0, 0.0),
        &mut out,
    );
    w.send_entries(out).unwrap();
    w.close().unwrap();
    let v = RunView::open(tmp.path()).unwrap();
    assert_eq!(
        v.hists,
        vec![
            (0, Key::from("weights"), h.clone()),
            (4, Key::from("weights"), h)
        ]
    );
    assert_eq!(v.meta.last_step, Some(4));
    assert_eq!(v.hists[0].2.counts.iter().sum::<u64>(), 1000);
}

/// BUG (writer.rs, `Thread::run`): summary-only changes (`set_summary` with no history) get
/// no deadline. The timer is re-armed with a full `flush_interval` on every message, so a
/// summary updated (or read) more often than `flush_interval` never reaches the file until
/// `flush`/`close`.
#[test]
fn summary_only_updates_reach_the_file_within_the_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        flush_interval: Duration::from_millis(200),
        ..WriterOptions::default()
    };
    let (w, _) = open(tmp.path(), false, opts);
    let mut i = 0i64;
    eventually("a summary record in the file", || {
        // An update about every 10 ms, well inside the 200 ms interval.
        w.set_summary(vec![("best".into(), Mp::from(i))], vec![])
            .unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
        RunView::open(tmp.path()).unwrap().summary
    });
    w.close().unwrap();
}
