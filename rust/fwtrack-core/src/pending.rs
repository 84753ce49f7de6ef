//! Records whose content arrives after they are queued.
//!
//! A media value is logged in its place among the other records of its step, but its payload
//! is encoded and written by another thread. [`pending`] makes the two halves of such a
//! value: a [`PendingValue`] that travels through the step state and the writer queue like
//! any attachment, and a [`Completer`] that the encoding thread keeps. The writer thread,
//! reaching a pending record, waits until the completer gives the value (the record is then
//! written in its place) or cancels it (the record is left out); everything queued after it
//! waits behind it, so records keep their order and `flush`/`close` wait for pending values.
//!
//! A completer dropped before it completes counts as a cancel: an encoding thread that dies
//! never blocks the writer for good.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rmpv::Value as Mp;

use crate::record::{Key, MediaRecord, Record};

#[derive(Debug)]
enum State {
    Waiting,
    Done(Mp),
    /// Left out; the reason, when there is one, is reported as a warning.
    Cancelled(Option<String>),
}

#[derive(Debug)]
struct Slot {
    state: Mutex<State>,
    ready: Condvar,
}

impl Slot {
    /// Move from `Waiting` to `to`; false when the slot was already settled.
    fn settle(&self, to: State) -> bool {
        let mut state = self.state.lock();
        if !matches!(*state, State::Waiting) {
            return false;
        }
        *state = to;
        drop(state);
        self.ready.notify_all();
        true
    }
}

/// The queue side of a value to come (cheap to clone: a shared handle).
#[derive(Clone, Debug)]
pub struct PendingValue(Arc<Slot>);

impl PartialEq for PendingValue {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// How a wait for a pending value ended.
#[derive(Debug, PartialEq)]
pub enum Settled {
    /// The value arrived.
    Done(Mp),
    /// The value was cancelled (or its completer dropped), with the reason when given.
    Cancelled(Option<String>),
}

impl PendingValue {
    /// The value, once settled; `None` when `timeout` passed first.
    pub fn wait(&self, timeout: Duration) -> Option<Settled> {
        let mut state = self.0.state.lock();
        if matches!(*state, State::Waiting) {
            let _ = self.0.ready.wait_for(&mut state, timeout);
        }
        match &*state {
            State::Waiting => None,
            State::Done(v) => Some(Settled::Done(v.clone())),
            State::Cancelled(reason) => Some(Settled::Cancelled(reason.clone())),
        }
    }

    /// Whether the value was completed or cancelled.
    pub fn is_settled(&self) -> bool {
        !matches!(*self.0.state.lock(), State::Waiting)
    }
}

/// The producing side of a value to come: [`complete`](Completer::complete) it or
/// [`cancel`](Completer::cancel) it; dropping it unsettled cancels it.
#[derive(Debug)]
pub struct Completer {
    slot: Arc<Slot>,
    armed: AtomicBool,
}

impl Completer {
    /// Give the value; false when it was already completed or cancelled (the value is then
    /// dropped).
    pub fn complete(&self, value: Mp) -> bool {
        self.slot.settle(State::Done(value))
    }

    /// Leave the record out; `reason`, when given, becomes a writer warning. False when the
    /// value was already settled.
    pub fn cancel(&self, reason: Option<String>) -> bool {
        self.slot.settle(State::Cancelled(reason))
    }

    /// Whether the value was completed or cancelled.
    pub fn is_settled(&self) -> bool {
        !matches!(*self.slot.state.lock(), State::Waiting)
    }

    /// Make dropping this completer do nothing (in a forked child, whose copy of the slot
    /// nobody waits for, and whose lock a thread of the parent may have held at the fork).
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Relaxed) {
            self.slot.settle(State::Cancelled(None));
        }
    }
}

/// A value to come and the completer that gives it.
pub fn pending() -> (Completer, PendingValue) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting),
        ready: Condvar::new(),
    });
    (
        Completer {
            slot: slot.clone(),
            armed: AtomicBool::new(true),
        },
        PendingValue(slot),
    )
}

/// A media record whose descriptor is still to come: where it goes (step, time, key) and
/// the value to wait for.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingRecord {
    pub step: u64,
    pub timestamp: f64,
    pub key: Key,
    pub value: PendingValue,
}

impl PendingRecord {
    /// The record, once the value has arrived.
    pub fn into_record(self, value: Mp) -> Record {
        Record::Media(MediaRecord {
            step: self.step,
            timestamp: self.timestamp,
            key: self.key,
            value,
        })
    }
}

/// What the writer queue takes: a record, or a record still to come.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Record(Record),
    Pending(PendingRecord),
}

impl From<Record> for Entry {
    fn from(r: Record) -> Self {
        Entry::Record(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SHORT: Duration = Duration::from_millis(10);

    #[test]
    fn completes_once() {
        let (c, v) = pending();
        assert_eq!(v.wait(SHORT), None);
        assert!(c.complete(Mp::from(1)));
        assert!(!c.complete(Mp::from(2)));
        assert!(!c.cancel(None));
        assert_eq!(v.wait(SHORT), Some(Settled::Done(Mp::from(1))));
        assert!(v.is_settled() && c.is_settled());
    }

    #[test]
    fn a_dropped_completer_cancels() {
        let (c, v) = pending();
        drop(c);
        assert_eq!(v.wait(SHORT), Some(Settled::Cancelled(None)));
    }

    #[test]
    fn a_disarmed_completer_leaves_the_slot_alone() {
        let (c, v) = pending();
        c.disarm();
        drop(c);
        assert_eq!(v.wait(SHORT), None);
    }

    #[test]
    fn a_waiter_wakes_when_another_thread_completes() {
        let (c, v) = pending();
        let t = std::thread::spawn(move || v.wait(Duration::from_secs(60)));
        std::thread::sleep(SHORT);
        c.cancel(Some("no space".into()));
        assert_eq!(
            t.join().unwrap(),
            Some(Settled::Cancelled(Some("no space".into())))
        );
    }
}
