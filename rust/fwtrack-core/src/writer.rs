//! The writer: a bounded queue in front of one thread that encodes, compresses and appends
//! frames to the run log.
//!
//! Records reach the file within `flush_interval` (or sooner when a block fills); `flush`
//! and `close` also fsync. The queue is bounded in bytes (`queue_bytes`, an estimate of the
//! memory its messages hold) and in messages (`queue_capacity`): when the thread falls
//! behind and either bound is reached, `send` waits until the thread has taken enough out.
//! Memory stays bounded and nothing is dropped. A failed write (disk full) truncates the
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, unbounded};
use parking_lot::{Condvar, Mutex};
use rmpv::Value as Mp;

use crate::codec;
use crate::error::{Error, Result};
use crate::lock::DirLock;
use crate::meta::RunMeta;
use crate::pending::{Entry, PendingRecord, Settled};
use crate::reader::{RunView, read_log};
use crate::record::{Key, MetricDef, Record, SummarySnapshot};
use crate::summary::SummaryState;

/// How a writer behaves.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Longest time a record waits in memory before it is written.
    pub flush_interval: Duration,
    /// Messages (log calls) the queue holds before `send` waits.
    pub queue_capacity: usize,
    /// Bytes of memory (as [`Record`]s hold them, estimated) the queue holds before `send`
    /// waits. A message larger than this still goes through, alone in the queue.
    pub queue_bytes: usize,
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
            queue_bytes: DEFAULT_QUEUE_BYTES,
            block_bytes: 1 << 20,
            zstd_level: 1,
            max_unwritten_bytes: 256 << 20,
        }
    }
}

/// The default of [`WriterOptions::queue_bytes`]: 4 MiB.
pub const DEFAULT_QUEUE_BYTES: usize = 4 << 20;

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

/// A message and the bytes it holds (as [`Budget`] counts them).
struct Queued {
    msg: Msg,
    bytes: usize,
}

/// Heap bytes a MessagePack value holds beyond its own size.
fn mp_heap_bytes(v: &Mp) -> usize {
    match v {
        Mp::String(s) => s.as_bytes().len(),
        Mp::Binary(b) | Mp::Ext(_, b) => b.len(),
        Mp::Array(a) => {
            a.capacity() * std::mem::size_of::<Mp>() + a.iter().map(mp_heap_bytes).sum::<usize>()
        }
        Mp::Map(m) => {
            m.capacity() * std::mem::size_of::<(Mp, Mp)>()
                + m.iter()
                    .map(|(k, v)| mp_heap_bytes(k) + mp_heap_bytes(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// What the allocator takes for a block of `n` bytes (its header, 16-byte granules).
fn heap_block(n: usize) -> usize {
    if n == 0 { 0 } else { (n + 8).div_ceil(16) * 16 }
}

/// Heap bytes of a key held by this record alone (a key shared with other rows is not
/// counted).
fn key_bytes(k: &Key) -> usize {
    if Arc::strong_count(k) == 1 {
        heap_block(2 * std::mem::size_of::<usize>() + k.len())
    } else {
        0
    }
}

fn strings_bytes(v: &[String]) -> usize {
    std::mem::size_of_val(v) + v.iter().map(String::len).sum::<usize>()
}

/// Bytes of memory a record holds, estimated: its size plus what it owns on the heap (keys
/// are shared between rows, so they are not counted).
fn record_bytes(r: &Record) -> usize {
    use std::mem::size_of;
    size_of::<Record>()
        + match r {
            Record::History(row) => {
                row.values.capacity() * size_of::<(Key, crate::record::Value)>()
                    + row
                        .values
                        .iter()
                        .map(|(k, v)| {
                            key_bytes(k)
                                + match v {
                                    crate::record::Value::Str(s) => heap_block(s.len()),
                                    _ => 0,
                                }
                        })
                        .sum::<usize>()
            }
            Record::Histogram(h) => {
                (h.hist.edges.capacity() + h.hist.counts.capacity()) * size_of::<u64>()
            }
            Record::Summary(s) => mp_heap_bytes(&s.values) + strings_bytes(&s.explicit),
            Record::MetricDef(d) => {
                d.name.len()
                    + d.step_metric.as_ref().map_or(0, String::len)
                    + strings_bytes(&d.summary)
                    + d.goal.as_ref().map_or(0, String::len)
            }
            Record::Finish(f) => f.reason.as_ref().map_or(0, String::len),
            Record::System(s) => {
                s.values.capacity() * size_of::<(Key, f64)>()
                    + s.values.iter().map(|(k, _)| key_bytes(k)).sum::<usize>()
            }
            Record::Console(c) => {
                c.stream.len()
                    + c.lines.capacity() * size_of::<(f64, String)>()
                    + c.lines.iter().map(|(_, l)| l.len()).sum::<usize>()
            }
            Record::Media(m) => mp_heap_bytes(&m.value),
            Record::RunStart(v)
            | Record::Config(v)
            | Record::ArtifactLogged(v)
            | Record::ArtifactUsed(v)
            | Record::Alert(v)
            | Record::RunEdit(v) => mp_heap_bytes(v),
            Record::Unknown { body, .. } => body.len(),
        }
}

fn entry_bytes(e: &Entry) -> usize {
    match e {
        Entry::Record(r) => record_bytes(r),
        // The value itself is held by whoever completes it, not by the queue.
        Entry::Pending(_) => std::mem::size_of::<Entry>(),
    }
}

impl Msg {
    /// Bytes of memory this message holds while queued, estimated.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Queued>()
            + match self {
                Msg::Record(r) => record_bytes(r),
                Msg::Records(rs) => rs.iter().map(record_bytes).sum(),
                Msg::Entries(es) => es.iter().map(entry_bytes).sum(),
                Msg::SetSummary(values, delete) => {
                    values
                        .iter()
                        .map(|(k, v)| {
                            std::mem::size_of::<(String, Mp)>() + k.len() + mp_heap_bytes(v)
                        })
                        .sum::<usize>()
                        + strings_bytes(delete)
                }
                Msg::Summary(_) | Msg::Flush(_) | Msg::Close(_) => 0,
            }
    }
}

/// What the queue holds (bytes and messages) against its bounds, and where producers wait
/// for room. A producer that finds a bound reached waits until the writer thread has taken
/// the queue down to half of both bounds, so a full queue costs one wake-up per half queue,
/// not one per message. A message is always let in when the queue is empty, whatever its
/// size.
struct Budget {
    bytes: AtomicUsize,
    msgs: AtomicUsize,
    max_bytes: usize,
    max_msgs: usize,
    waiting: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
    /// The writer thread has stopped: nobody waits any more (sends then fail).
    stopped: AtomicBool,
}

impl Budget {
    fn new(max_bytes: usize, max_msgs: usize) -> Budget {
        Budget {
            bytes: AtomicUsize::new(0),
            msgs: AtomicUsize::new(0),
            max_bytes: max_bytes.max(1),
            max_msgs: max_msgs.max(1),
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// Whether a message of `n` bytes may go in now.
    fn fits(&self, n: usize) -> bool {
        let m = self.msgs.load(Ordering::SeqCst);
        m == 0
            || (m < self.max_msgs
                && self.bytes.load(Ordering::SeqCst).saturating_add(n) <= self.max_bytes)
            || self.stopped.load(Ordering::Acquire)
    }

    /// Whether a waiting producer of a message of `n` bytes may go on: the queue is down
    /// to half of both bounds (and the message fits), or empty.
    fn drained(&self, n: usize) -> bool {
        let m = self.msgs.load(Ordering::SeqCst);
        let b = self.bytes.load(Ordering::SeqCst);
        m == 0
            || (m * 2 <= self.max_msgs
                && b * 2 <= self.max_bytes
                && b.saturating_add(n) <= self.max_bytes)
            || self.stopped.load(Ordering::Acquire)
    }

    fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::SeqCst);
        self.msgs.fetch_add(1, Ordering::SeqCst);
    }

    /// Count a message of `n` bytes in when there is room; false when a bound is reached.
    fn try_reserve(&self, n: usize) -> bool {
        if self.fits(n) {
            self.add(n);
            true
        } else {
            false
        }
    }

    /// Count a message of `n` bytes in, first waiting for room when a bound is reached
    /// (`writer` is woken so that it makes room).
    fn reserve(&self, n: usize, writer: &std::thread::Thread) {
        if self.try_reserve(n) {
            return;
        }
        let mut guard = self.lock.lock();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while !self.drained(n) {
            writer.unpark();
            // `release` wakes us; the timeout only bounds a wake-up that went astray.
            self.room.wait_for(&mut guard, MAX_IDLE);
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        self.add(n);
    }

    /// Count out a message of `n` bytes the writer thread has handled.
    fn release(&self, n: usize) {
        let b = self.bytes.fetch_sub(n, Ordering::SeqCst) - n;
        let m = self.msgs.fetch_sub(1, Ordering::SeqCst) - 1;
        if self.waiting.load(Ordering::SeqCst) > 0
            && (m == 0 || (m * 2 <= self.max_msgs && b * 2 <= self.max_bytes))
        {
            let _guard = self.lock.lock();
            self.room.notify_all();
        }
    }

    /// Whether the queue is at half of a bound or more (the writer should be busy).
    fn half_full(&self) -> bool {
        let m = self.msgs.load(Ordering::Relaxed);
        m >= WAKE_AT
            || m * 2 >= self.max_msgs
            || self.bytes.load(Ordering::Relaxed) * 2 >= self.max_bytes
    }

    /// The writer thread has stopped: let every producer through.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _guard = self.lock.lock();
        self.room.notify_all();
    }
}

/// Stops the budget when the writer thread ends, however it ends.
struct StopOnDrop(Arc<Budget>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
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
    tx: Sender<Queued>,
    budget: Arc<Budget>,
    waker: std::thread::Thread,
    thread: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

/// Appends records to a writer from another thread (see [`Writer::sender`]).
#[derive(Clone)]
pub struct RecordSender {
    tx: Sender<Queued>,
    budget: Arc<Budget>,
    waker: std::thread::Thread,
}

impl RecordSender {
    /// Enqueue records, waiting while the queue is full; an error once the writer is gone.
    pub fn send_all(&self, rs: Vec<Record>) -> Result<()> {
        if rs.is_empty() {
            return Ok(());
        }
        let msg = Msg::Records(rs);
        let bytes = msg.bytes();
        self.budget.reserve(bytes, &self.waker);
        self.tx
            .send(Queued { msg, bytes })
            .map_err(|_| Writer::gone())?;
        if self.budget.half_full() {
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
        Self::open_with(dir, |_| Ok(start), resume, opts)
    }

    /// [`Writer::open`] with the start record made by `start` from the metadata of the log
    /// being resumed (None for a new log): a resumed run's start can carry over what the log
    /// holds (name, tags, ...) from the one decode that recovers it.
    pub fn open_with(
        dir: &Path,
        start: impl FnOnce(Option<&RunMeta>) -> Result<Record>,
        resume: bool,
        opts: WriterOptions,
    ) -> Result<(Writer, Recovered)> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = DirLock::acquire(&dir.join(crate::LOCK_FILE_NAME))?;
        let path = dir.join(crate::LOG_FILE_NAME);
        let mut recovered = Recovered::default();
        let mut prior = None;
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
            prior = Some(view.meta.clone());
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
        t.add(start(prior.as_ref())?);
        // The start record is on disk before `open` returns.
        t.write_block(true)?;
        let (tx, rx) = unbounded();
        let budget = Arc::new(Budget::new(opts.queue_bytes, opts.queue_capacity));
        let stop = StopOnDrop(budget.clone());
        let handle = std::thread::Builder::new()
            .name("fwtrack-writer".into())
            .spawn(move || {
                let stop = stop;
                t.run(&rx, &stop.0);
            })
            .map_err(|e| Error::WriterGone(format!("cannot start the writer thread: {e}")))?;
        Ok((
            Writer {
                tx,
                budget,
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
        if self.budget.half_full() {
            self.waker.unpark();
        }
    }

    /// Enqueue a message, waiting while the queue is full; `urgent` wakes the writer.
    fn push(&self, msg: Msg, urgent: bool) -> Result<()> {
        let bytes = msg.bytes();
        self.budget.reserve(bytes, &self.waker);
        self.tx
            .send(Queued { msg, bytes })
            .map_err(|_| Self::gone())?;
        if urgent {
            self.waker.unpark();
        } else {
            self.nudge();
        }
        Ok(())
    }

    /// Enqueue a message when the queue has room; gives it back when it is full.
    fn try_push(&self, msg: Msg) -> Result<Option<Msg>> {
        let bytes = msg.bytes();
        if !self.budget.try_reserve(bytes) {
            self.waker.unpark();
            return Ok(Some(msg));
        }
        self.tx
            .send(Queued { msg, bytes })
            .map_err(|_| Self::gone())?;
        self.nudge();
        Ok(None)
    }

    /// A handle another thread can append records through (for instance a console reader),
    /// without going through the owner of this `Writer`. Its sends fail once the writer has
    /// closed.
    pub fn sender(&self) -> RecordSender {
        RecordSender {
            tx: self.tx.clone(),
            budget: self.budget.clone(),
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
        match self.try_push(Msg::Entries(es))? {
            None => Ok(None),
            Some(Msg::Entries(es)) => Ok(Some(es)),
            Some(_) => Err(Self::gone()),
        }
    }

    /// Enqueue records without waiting; gives them back when the queue is full.
    pub fn try_send_all(&self, rs: Vec<Record>) -> Result<Option<Vec<Record>>> {
        let msg = if rs.len() == 1 {
            Msg::Record(rs.into_iter().next().ok_or_else(Self::gone)?)
        } else {
            Msg::Records(rs)
        };
        match self.try_push(msg)? {
            None => Ok(None),
            Some(Msg::Record(r)) => Ok(Some(vec![r])),
            Some(Msg::Records(rs)) => Ok(Some(rs)),
            Some(_) => Err(Self::gone()),
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
    fn run(mut self, rx: &Receiver<Queued>, budget: &Budget) {
        loop {
            loop {
                match rx.try_recv() {
                    Ok(Queued { msg, bytes }) => {
                        let go_on = self.handle(msg);
                        budget.release(bytes);
                        if !go_on {
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
            start_writeback(&self.file, self.good_len, frame.len());
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

/// Start writing `len` bytes at `offset` of `file` to disk without waiting for it, so that
/// the fsync of `flush`/`close` finds little left to do (`finish()` after a burst of logging
/// would otherwise wait for every byte written since the last fsync).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: usize) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return;
    };
    // SAFETY: a valid descriptor owned by `file`; the call only schedules I/O. Its failure
    // changes nothing (the fsync still writes everything), so it is ignored.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: usize) {}

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
