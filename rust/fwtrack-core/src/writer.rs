//! The writer: a bounded queue in front of one thread that encodes, compresses and appends
//! frames to the run log.
//!
//! Records reach the file within `flush_interval` (or sooner when a block fills); `flush`
//! and `close` also fsync. When the thread falls behind, `send` blocks on the bounded queue:
//! memory stays bounded and nothing is dropped. A failed write (disk full) truncates the
//! partial frame away, keeps the block for the next attempt and reports a warning.
//!
//! A record can be queued before its content exists ([`Entry::Pending`], a media value still
//! being encoded): the thread waits for it where it stands in the queue, so records keep
//! their order and `flush`/`close` wait for it too. While it waits, what came before it is
//! still written within `flush_interval`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, bounded};
use parking_lot::Mutex;
use rmpv::Value as Mp;

use crate::codec;
use crate::error::{Error, Result};
use crate::lock::DirLock;
use crate::pending::{Entry, PendingRecord, Settled};
use crate::reader::{RunView, read_log};
use crate::record::{MetricDef, Record, SummarySnapshot};
use crate::summary::SummaryState;

/// How a writer behaves.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Longest time a record waits in memory before it is written.
    pub flush_interval: Duration,
    /// Records the queue holds before `send` blocks.
    pub queue_capacity: usize,
    /// Uncompressed bytes that close a block early.
    pub block_bytes: usize,
    pub zstd_level: i32,
    /// A block that cannot be written is dropped (with a warning) past this many bytes.
    pub max_unwritten_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_interval: Duration::from_secs(1),
            queue_capacity: 65_536,
            block_bytes: 1 << 20,
            zstd_level: 1,
            max_unwritten_bytes: 256 << 20,
        }
    }
}

/// What a resumed run continues from.
#[derive(Debug, Default)]
pub struct Recovered {
    pub last_step: Option<u64>,
    pub runtime: f64,
    pub config: Option<Mp>,
    pub summary: Option<SummarySnapshot>,
    pub metrics: Vec<MetricDef>,
    /// (sum, count) of the numeric values of each history key, so `mean` continues.
    pub means: HashMap<String, (f64, u64)>,
    /// Bytes cut from a torn or corrupt tail.
    pub truncated: u64,
}

enum Msg {
    Record(Record),
    Records(Vec<Record>),
    Entries(Vec<Entry>),
    SetSummary(Vec<(String, Mp)>, Vec<String>),
    Summary(Sender<Mp>),
    Flush(Sender<Result<()>>),
    Close(Sender<Result<()>>),
}

#[derive(Default)]
struct Shared {
    warnings: Mutex<Vec<String>>,
    has_warnings: AtomicBool,
    /// The summary as it was when the writer closed.
    final_summary: Mutex<Option<Mp>>,
}

impl Shared {
    fn warn(&self, msg: String) {
        self.warnings.lock().push(msg);
        self.has_warnings.store(true, Ordering::Release);
    }
}

/// Longest the writer thread sleeps between looks at the queue. Producers wake it sooner
/// when the queue fills up or when they wait for an answer (flush, summary, close), so the
/// logging side never pays for a wake-up per record.
const MAX_IDLE: Duration = Duration::from_millis(20);

/// Queued messages past which a producer wakes the writer thread (a bounded amount of work
/// per wake-up keeps `finish()` short after a burst).
const WAKE_AT: usize = 2048;

/// Append the records `make` returns, given the run as its log tells it, to the log of the
/// run directory `dir` as one frame after its last whole one (a torn tail is cut, as a resume
/// does), fsynced, without a start or finish record: an edit of a run that is not being
/// written. The run's lock is held throughout; fails with [`Error::Locked`] while a live
/// writer holds it.
pub fn amend(dir: &Path, make: impl FnOnce(&RunView) -> Result<Vec<Record>>) -> Result<()> {
    let _lock = DirLock::acquire(&dir.join(crate::LOCK_FILE_NAME))?;
    let path = dir.join(crate::LOG_FILE_NAME);
    let view = RunView::from_contents(read_log(&path)?);
    let records = make(&view)?;
    if records.is_empty() {
        return Ok(());
    }
    let mut raw = Vec::new();
    for r in &records {
        codec::push_record(&mut raw, r);
    }
    let count = u32::try_from(records.len())
        .map_err(|_| Error::Decode("too many records for one frame".into()))?;
    let frame = codec::encode_frame(&raw, view.next_seq, count, 1);
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let appended = file
        .set_len(view.valid_len)
        .and_then(|()| std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)))
        .and_then(|_| file.write_all(&frame))
        .and_then(|()| file.sync_all());
    if let Err(e) = appended {
        // Leave the log as it was.
        let _ = file.set_len(view.valid_len);
        return Err(Error::io(&path, e));
    }
    Ok(())
}

/// The handle the logging side holds.
pub struct Writer {
    tx: Sender<Msg>,
    capacity: usize,
    waker: std::thread::Thread,
    thread: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

/// Appends records to a writer from another thread (see [`Writer::sender`]).
#[derive(Clone)]
pub struct RecordSender {
    tx: Sender<Msg>,
    waker: std::thread::Thread,
}

impl RecordSender {
    /// Enqueue records, waiting while the queue is full; an error once the writer is gone.
    pub fn send_all(&self, rs: Vec<Record>) -> Result<()> {
        if rs.is_empty() {
            return Ok(());
        }
        self.tx.send(Msg::Records(rs)).map_err(|_| Writer::gone())?;
        if self.tx.len() >= WAKE_AT {
            self.waker.unpark();
        }
        Ok(())
    }
}

struct Thread {
    file: File,
    path: PathBuf,
    good_len: u64,
    next_seq: u64,
    raw: Vec<u8>,
    count: u32,
    first_pending: Option<Instant>,
    summary: SummaryState,
    opts: WriterOptions,
    shared: Arc<Shared>,
    failing: bool,
    /// While writes fail, the next attempt waits until then (a flush tries at once).
    retry_at: Option<Instant>,
    _lock: DirLock,
}

impl Writer {
    /// Open the run directory `dir` (created if missing) and start the writer thread. A new
    /// log gets a header; with `resume`, an existing log is continued after its last whole
    /// frame. The first record appended is `start`.
    pub fn open(
        dir: &Path,
        start: Record,
        resume: bool,
        opts: WriterOptions,
    ) -> Result<(Writer, Recovered)> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = DirLock::acquire(&dir.join(crate::LOCK_FILE_NAME))?;
        let path = dir.join(crate::LOG_FILE_NAME);
        let mut recovered = Recovered::default();
        // A log shorter than its header (a crash inside `open`) holds nothing: start over.
        let exists = std::fs::metadata(&path).is_ok_and(|m| m.len() >= codec::HEADER_LEN as u64);
        let (file, good_len, next_seq) = if resume && exists {
            let contents = read_log(&path)?;
            let file_len = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
            let valid = contents.valid_len;
            let next_seq = contents.next_seq;
            let view = RunView::from_contents(contents);
            let mut means: HashMap<String, (f64, u64)> = HashMap::new();
            for row in &view.rows {
                for (k, v) in &row.values {
                    if let Some(x) = v.as_f64().filter(|x| !x.is_nan()) {
                        let m = means.entry(k.to_string()).or_insert((0.0, 0));
                        m.0 += x;
                        m.1 += 1;
                    }
                }
            }
            recovered = Recovered {
                means,
                last_step: view.meta.last_step,
                runtime: view.meta.runtime,
                config: view.meta.config,
                summary: view.summary,
                metrics: view.meta.metrics,
                truncated: file_len - valid,
            };
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            file.set_len(valid).map_err(|e| Error::io(&path, e))?;
            (file, valid, next_seq)
        } else {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            file.write_all(&codec::header())
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(&path, e))?;
            drop(file);
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            (file, codec::HEADER_LEN as u64, 0)
        };
        let shared = Arc::new(Shared::default());
        let mut t = Thread {
            file,
            path,
            good_len,
            next_seq,
            raw: Vec::with_capacity(opts.block_bytes + 4096),
            count: 0,
            first_pending: None,
            summary: {
                let mut s =
                    SummaryState::restore(recovered.summary.as_ref(), recovered.metrics.clone());
                s.restore_means(std::mem::take(&mut recovered.means));
                s
            },
            opts: opts.clone(),
            shared: shared.clone(),
            failing: false,
            retry_at: None,
            _lock: lock,
        };
        t.add(start);
        // The start record is on disk before `open` returns.
        t.write_block(true)?;
        let (tx, rx) = bounded(opts.queue_capacity.max(1));
        let handle = std::thread::Builder::new()
            .name("fwtrack-writer".into())
            .spawn(move || t.run(&rx))
            .map_err(|e| Error::WriterGone(format!("cannot start the writer thread: {e}")))?;
        Ok((
            Writer {
                tx,
                capacity: opts.queue_capacity.max(1),
                waker: handle.thread().clone(),
                thread: Mutex::new(Some(handle)),
                shared,
                closed: AtomicBool::new(false),
            },
            recovered,
        ))
    }

    fn gone() -> Error {
        Error::WriterGone("the writer thread is not running".into())
    }

    /// Wake the writer thread when enough work is queued.
    fn nudge(&self) {
        let len = self.tx.len();
        if len >= WAKE_AT || len * 2 >= self.capacity {
            self.waker.unpark();
        }
    }

    /// Enqueue a message, waiting while the queue is full; `urgent` wakes the writer.
    fn push(&self, msg: Msg, urgent: bool) -> Result<()> {
        match self.tx.try_send(msg) {
            Ok(()) => {
                if urgent {
                    self.waker.unpark();
                } else {
                    self.nudge();
                }
                Ok(())
            }
            Err(TrySendError::Full(msg)) => {
                self.waker.unpark();
                self.tx.send(msg).map_err(|_| Self::gone())?;
                self.waker.unpark();
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(Self::gone()),
        }
    }

    /// A handle another thread can append records through (for instance a console reader),
    /// without going through the owner of this `Writer`. Its sends fail once the writer has
    /// closed.
    pub fn sender(&self) -> RecordSender {
        RecordSender {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Enqueue a record, waiting while the queue is full.
    pub fn send(&self, r: Record) -> Result<()> {
        self.push(Msg::Record(r), false)
    }

    /// Enqueue records, waiting while the queue is full.
    pub fn send_all(&self, rs: Vec<Record>) -> Result<()> {
        match rs.len() {
            0 => Ok(()),
            1 => self.send(rs.into_iter().next().ok_or_else(Self::gone)?),
            _ => self.push(Msg::Records(rs), false),
        }
    }

    /// Enqueue entries (records, and records still to come), waiting while the queue is full.
    pub fn send_entries(&self, es: Vec<Entry>) -> Result<()> {
        if es.is_empty() {
            return Ok(());
        }
        self.push(Msg::Entries(es), false)
    }

    /// Enqueue entries without waiting; gives them back when the queue is full.
    pub fn try_send_entries(&self, es: Vec<Entry>) -> Result<Option<Vec<Entry>>> {
        if es.is_empty() {
            return Ok(None);
        }
        match self.tx.try_send(Msg::Entries(es)) {
            Ok(()) => {
                self.nudge();
                Ok(None)
            }
            Err(TrySendError::Full(m)) => {
                self.waker.unpark();
                match m {
                    Msg::Entries(es) => Ok(Some(es)),
                    _ => Err(Self::gone()),
                }
            }
            Err(TrySendError::Disconnected(_)) => Err(Self::gone()),
        }
    }

    /// Enqueue records without waiting; gives them back when the queue is full.
    pub fn try_send_all(&self, rs: Vec<Record>) -> Result<Option<Vec<Record>>> {
        let msg = if rs.len() == 1 {
            Msg::Record(rs.into_iter().next().ok_or_else(Self::gone)?)
        } else {
            Msg::Records(rs)
        };
        match self.tx.try_send(msg) {
            Ok(()) => {
                self.nudge();
                Ok(None)
            }
            Err(TrySendError::Full(m)) => {
                self.waker.unpark();
                match m {
                    Msg::Record(r) => Ok(Some(vec![r])),
                    Msg::Records(rs) => Ok(Some(rs)),
                    _ => Err(Self::gone()),
                }
            }
            Err(TrySendError::Disconnected(_)) => Err(Self::gone()),
        }
    }

    /// Set and delete explicit summary values.
    pub fn set_summary(&self, values: Vec<(String, Mp)>, delete: Vec<String>) -> Result<()> {
        self.push(Msg::SetSummary(values, delete), false)
    }

    /// The summary including everything enqueued so far (the final one once closed).
    pub fn summary(&self) -> Result<Mp> {
        if self.is_closed() {
            if let Some(h) = self.thread.lock().take() {
                let _ = h.join();
            }
            if let Some(s) = &*self.shared.final_summary.lock() {
                return Ok(s.clone());
            }
        }
        let (tx, rx) = bounded(1);
        self.push(Msg::Summary(tx), true)?;
        rx.recv().map_err(|_| Self::gone())
    }

    /// Return when everything enqueued so far is written and fsynced.
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = bounded(1);
        self.push(Msg::Flush(tx), true)?;
        rx.recv().map_err(|_| Self::gone())?
    }

    /// Write everything, fsync, and stop the thread. Later calls do nothing.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (tx, rx) = bounded(1);
        let sent = self.push(Msg::Close(tx), true).is_ok();
        let res = if sent {
            rx.recv().unwrap_or_else(|_| Err(Self::gone()))
        } else {
            Err(Self::gone())
        };
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
        res
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Warnings the writer thread produced since the last call (cheap when there are none).
    pub fn take_warnings(&self) -> Vec<String> {
        if !self.shared.has_warnings.load(Ordering::Acquire) {
            return Vec::new();
        }
        self.shared.has_warnings.store(false, Ordering::Release);
        std::mem::take(&mut *self.shared.warnings.lock())
    }
}

impl Thread {
    fn run(mut self, rx: &Receiver<Msg>) {
        loop {
            loop {
                match rx.try_recv() {
                    Ok(msg) => {
                        if !self.handle(msg) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.write_and_report(true);
                        return;
                    }
                }
                if self.raw.len() >= self.opts.block_bytes {
                    self.write_and_report(false);
                }
            }
            let wait = match self.first_pending {
                Some(t) => {
                    let due = t + self.opts.flush_interval;
                    if Instant::now() >= due {
                        self.write_and_report(false);
                        MAX_IDLE
                    } else {
                        due.saturating_duration_since(Instant::now())
                    }
                }
                None => MAX_IDLE,
            };
            std::thread::park_timeout(wait.min(MAX_IDLE));
        }
    }

    /// Handle one message; false when the thread should stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Record(r) => self.add(r),
            Msg::Records(rs) => rs.into_iter().for_each(|r| self.add(r)),
            Msg::Entries(es) => {
                for e in es {
                    match e {
                        Entry::Record(r) => self.add(r),
                        Entry::Pending(p) => self.add_pending(p),
                    }
                }
            }
            Msg::SetSummary(values, delete) => {
                self.summary.set_explicit(values, delete);
                // The snapshot is due within `flush_interval`, like a record.
                self.first_pending.get_or_insert_with(Instant::now);
            }
            Msg::Summary(reply) => {
                let _ = reply.send(self.summary.snapshot_peek());
            }
            Msg::Flush(reply) => {
                let _ = reply.send(self.write_block(true));
            }
            Msg::Close(reply) => {
                let res = self.write_block(true);
                *self.shared.final_summary.lock() = Some(self.summary.snapshot_peek());
                let _ = reply.send(res);
                return false;
            }
        }
        true
    }

    fn add(&mut self, r: Record) {
        match &r {
            Record::History(row) => {
                for (k, v) in &row.values {
                    self.summary.observe(k, v);
                }
            }
            Record::MetricDef(d) => self.summary.define(d.clone()),
            _ => {}
        }
        codec::push_record(&mut self.raw, &r);
        self.count += 1;
        self.first_pending.get_or_insert_with(Instant::now);
    }

    /// Wait for a record still to come and add it (or leave it out when cancelled). What is
    /// already in the block is written when due meanwhile, as when idle.
    fn add_pending(&mut self, p: PendingRecord) {
        loop {
            let wait = match self.first_pending {
                Some(t) => {
                    let due = t + self.opts.flush_interval;
                    if Instant::now() >= due {
                        self.write_and_report(false);
                    }
                    due.saturating_duration_since(Instant::now())
                        .max(MAX_IDLE)
                        .min(self.opts.flush_interval)
                }
                None => self.opts.flush_interval,
            };
            match p.value.wait(wait) {
                Some(Settled::Done(value)) => {
                    self.add(p.into_record(value));
                    return;
                }
                Some(Settled::Cancelled(reason)) => {
                    if let Some(reason) = reason {
                        self.shared.warn(reason);
                    }
                    return;
                }
                None => {}
            }
        }
    }

    fn write_and_report(&mut self, sync: bool) {
        // While the disk refuses writes, retry at most once per flush interval.
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        // Errors are reported through the warnings; the block stays for the next attempt.
        let _ = self.write_block(sync);
    }

    fn write_block(&mut self, sync: bool) -> Result<()> {
        if self.summary.is_dirty() {
            let snap = self.summary.snapshot();
            codec::push_record(&mut self.raw, &Record::Summary(snap));
            self.count += 1;
        }
        if self.count > 0 {
            let frame =
                codec::encode_frame(&self.raw, self.next_seq, self.count, self.opts.zstd_level);
            if let Err(e) = self.file.write_all(&frame) {
                // Cut the partial frame so the log stays readable, keep the block.
                let _ = self.file.set_len(self.good_len);
                self.retry_at = Some(Instant::now() + self.opts.flush_interval);
                let err = Error::io(&self.path, e);
                if !self.failing {
                    self.failing = true;
                    self.shared.warn(format!(
                        "fwtrack could not write the run log ({err}); logged data is kept in \
                         memory and written when the disk accepts it"
                    ));
                }
                if self.raw.len() > self.opts.max_unwritten_bytes {
                    self.shared.warn(format!(
                        "fwtrack dropped {} records that could not be written to {} ({err})",
                        self.count,
                        self.path.display()
                    ));
                    self.next_seq += u64::from(self.count);
                    self.raw.clear();
                    self.count = 0;
                    self.first_pending = None;
                }
                return Err(err);
            }
            self.retry_at = None;
            if self.failing {
                self.failing = false;
                self.shared
                    .warn("fwtrack: writing the run log works again; nothing was lost".into());
            }
            self.good_len += frame.len() as u64;
            self.next_seq += u64::from(self.count);
            self.raw.clear();
            self.count = 0;
            self.first_pending = None;
        }
        if sync {
            self.file
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }
}

impl SummaryState {
    /// The current summary values without touching the dirty flag.
    fn snapshot_peek(&mut self) -> Mp {
        let dirty = self.is_dirty();
        let snap = self.snapshot();
        if dirty {
            self.mark_dirty();
        }
        snap.values
    }
}
