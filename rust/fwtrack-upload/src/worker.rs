//! The log thread and the state the upload threads share with the [`crate::Uploader`]
//! handle.
//!
//! The handle and the threads (this one for the log, [`crate::files`] for the run's files)
//! meet in one mutex-guarded [`Inner`]; a thread never holds that mutex while it does I/O,
//! so `status()` and `notify()` return at once. One condition variable carries every change
//! both ways (commands to the threads, progress to waiters). `upload.json` is written under
//! its own mutex ([`Persist`]), shared by both threads.

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

use crate::frames::{self, Batch, Stop};
use crate::net::{Client, Reply, RunPath, describe_status};
use crate::state::{Persist, Target};
use crate::{Config, Outcome, State, Status};

/// Progress of the run files' part.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FilesProgress {
    /// Regular files found by the last scan of `files/`.
    pub total: u64,
    /// Of those, files the server's manifest does not hold (as they are now).
    pub pending: u64,
    pub pending_bytes: u64,
    /// Files recorded in the server's manifest by this uploader.
    pub recorded: u64,
    /// Blobs sent by this uploader, and their bytes.
    pub blobs_sent: u64,
    pub blob_bytes_sent: u64,
    /// Artifact commits waiting in `<run dir>/artifacts/pending/` at the last look.
    pub artifacts_pending: u64,
    /// Artifact commits this uploader committed on the server, and those it gave up on
    /// (written to `artifacts/failed/`).
    pub artifacts_committed: u64,
    pub artifacts_failed: u64,
}

#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // flags of one state, guarded together
pub(crate) struct Inner {
    pub(crate) acked: u64,
    pub(crate) local_size: u64,
    pub(crate) state: State,
    pub(crate) last_error: Option<String>,
    pub(crate) entity: Option<String>,
    /// Requests (or connection attempts) that concluded, either way.
    pub(crate) exchanges: u64,
    /// The last exchange failed in a way that is retried.
    pub(crate) failing: bool,
    pub(crate) warnings: Vec<String>,
    /// The "cannot reach the server" warning, shown only while the failure lasts.
    pub(crate) pending_transient: Option<String>,
    pub(crate) transient_reported: bool,
    // Commands to the thread.
    pub(crate) wake: bool,
    /// `notify_files()`: the files thread makes a pass now (cleared when it wakes for it).
    pub(crate) files_wake: bool,
    pub(crate) complete: bool,
    pub(crate) deadline: Option<Instant>,
    pub(crate) abort: bool,
    /// Bumped on every command other than `wake`.
    pub(crate) commands: u64,
    /// The log's size when it was declared complete.
    pub(crate) target: Option<u64>,
    pub(crate) unsent_tail: u64,
    /// A thread ended at the deadline (or on abort) rather than done or refused.
    pub(crate) gave_up: bool,
    /// A refusal that ends both parts (a bad key, no right to write) was reported.
    pub(crate) halt: bool,
    /// The server answered a log request of this uploader with the run's offset.
    pub(crate) confirmed: bool,
    pub(crate) log_ended: bool,
    pub(crate) log_done: bool,
    pub(crate) files_ended: bool,
    pub(crate) files_done: bool,
    pub(crate) files: FilesProgress,
    /// Both threads ended.
    pub(crate) ended: bool,
}

/// Which thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Log,
    Files,
}

pub(crate) struct Shared {
    pub(crate) m: Mutex<Inner>,
    pub(crate) cv: Condvar,
    /// `upload.json`, written by both threads.
    pub(crate) persist: Mutex<Persist>,
}

impl Shared {
    /// `files`: whether the run's files are uploaded too (else that part is done at once).
    pub(crate) fn new(
        entity: Option<String>,
        state_path: std::path::PathBuf,
        files: bool,
    ) -> Shared {
        Shared {
            persist: Mutex::new(Persist::new(state_path)),
            m: Mutex::new(Inner {
                acked: 0,
                local_size: 0,
                state: State::Running,
                last_error: None,
                entity,
                exchanges: 0,
                failing: false,
                warnings: Vec::new(),
                pending_transient: None,
                transient_reported: false,
                wake: false,
                files_wake: false,
                complete: false,
                deadline: None,
                abort: false,
                commands: 0,
                target: None,
                unsent_tail: 0,
                gave_up: false,
                halt: false,
                confirmed: false,
                log_ended: false,
                log_done: false,
                files_ended: !files,
                files_done: !files,
                files: FilesProgress::default(),
                ended: false,
            }),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn notify(&self) {
        self.m.lock().wake = true;
        self.cv.notify_all();
    }

    pub(crate) fn notify_files(&self) {
        self.m.lock().files_wake = true;
        self.cv.notify_all();
    }

    pub(crate) fn status(&self) -> Status {
        let g = self.m.lock();
        Status {
            acked: g.acked,
            local_size: g.local_size,
            state: g.state,
            last_error: g.last_error.clone(),
            entity: g.entity.clone(),
            complete: g.complete,
            files_done: g.files_done && g.files_ended,
            files_total: g.files.total,
            files_pending: g.files.pending,
            files_pending_bytes: g.files.pending_bytes,
            files_recorded: g.files.recorded,
            blobs_sent: g.files.blobs_sent,
            blob_bytes_sent: g.files.blob_bytes_sent,
            artifacts_pending: g.files.artifacts_pending,
            artifacts_committed: g.files.artifacts_committed,
            artifacts_failed: g.files.artifacts_failed,
        }
    }

    /// Declare the log complete; a `deadline` also sets (or shortens) the deadline.
    pub(crate) fn complete(&self, deadline: Option<Instant>) {
        let mut g = self.m.lock();
        g.complete = true;
        if let Some(d) = deadline {
            g.deadline = Some(g.deadline.map_or(d, |old| old.min(d)));
        }
        g.commands += 1;
        drop(g);
        self.cv.notify_all();
    }

    pub(crate) fn abort(&self) {
        let mut g = self.m.lock();
        g.abort = true;
        g.commands += 1;
        drop(g);
        self.cv.notify_all();
    }

    fn wait_for(&self, deadline: Option<Instant>, done: impl Fn(&Inner) -> bool) -> bool {
        let mut g = self.m.lock();
        loop {
            if done(&g) {
                return true;
            }
            match deadline {
                Some(d) => {
                    if Instant::now() >= d {
                        return false;
                    }
                    self.cv.wait_until(&mut g, d);
                }
                None => self.cv.wait(&mut g),
            }
        }
    }

    pub(crate) fn wait_ended(&self, deadline: Option<Instant>) -> bool {
        self.wait_for(deadline, |g| g.ended)
    }

    pub(crate) fn wait_ready(&self, deadline: Instant) -> bool {
        self.wait_for(Some(deadline), |g| g.ended || g.exchanges > 0)
    }

    pub(crate) fn outcome(&self, file_size: u64) -> Outcome {
        let g = self.m.lock();
        let done = g.state == State::Done;
        let end = g.target.unwrap_or(file_size.max(g.local_size));
        Outcome {
            done,
            acked: g.acked,
            remaining: if g.log_done {
                0
            } else {
                end.saturating_sub(g.acked)
            },
            unsent_tail: g.unsent_tail,
            timed_out: !done && (g.state == State::Running || g.gave_up),
            error: g.last_error.clone(),
            files_done: g.files_done && g.files_ended,
            files_pending: if g.files_done { 0 } else { g.files.pending },
            files_pending_bytes: if g.files_done {
                0
            } else {
                g.files.pending_bytes
            },
            files_recorded: g.files.recorded,
            blobs_sent: g.files.blobs_sent,
            blob_bytes_sent: g.files.blob_bytes_sent,
            artifacts_pending: g.files.artifacts_pending,
            artifacts_committed: g.files.artifacts_committed,
            artifacts_failed: g.files.artifacts_failed,
        }
    }

    /// Why a thread must stop now: abort or the deadline (`GaveUp`), or a refusal that the
    /// other thread met (`Halted`).
    pub(crate) fn stop_reason(&self) -> Option<End> {
        let g = self.m.lock();
        if g.abort || g.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(End::GaveUp)
        } else if g.halt {
            Some(End::Halted)
        } else {
            None
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.m.lock().complete
    }

    /// The timeout of the next request: `t`, cut at the deadline.
    pub(crate) fn request_timeout(&self, t: Duration) -> Duration {
        match self.m.lock().deadline {
            Some(d) => t
                .min(d.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
            None => t,
        }
    }

    /// Record how `part` ended; once both have, the upload's state is final.
    pub(crate) fn end(&self, part: Part, end: End) {
        let mut g = self.m.lock();
        let done = matches!(end, End::Done);
        match end {
            End::Done | End::Halted => {}
            End::GaveUp => g.gave_up = true,
            End::Fatal(msg) => {
                if !g.halt {
                    g.warnings.push(msg.clone());
                }
                g.halt = true;
                g.last_error = Some(msg);
            }
            End::Off(msg) => {
                g.warnings.push(msg.clone());
                g.last_error = Some(msg);
            }
        }
        match part {
            Part::Log => (g.log_ended, g.log_done) = (true, done),
            Part::Files => (g.files_ended, g.files_done) = (true, done),
        }
        if g.log_ended && g.files_ended {
            g.state = if g.log_done && g.files_done {
                State::Done
            } else {
                State::Stopped
            };
            g.ended = true;
        }
        drop(g);
        self.cv.notify_all();
    }

    /// A warning for the user (shown once, by `take_warnings`).
    pub(crate) fn warn(&self, msg: String) {
        self.m.lock().warnings.push(msg);
    }

    /// Sleep `dur`, waking early on abort, the deadline, a halt, and what `on` adds.
    pub(crate) fn sleep(&self, dur: Duration, on: WakeOn) {
        let until = Instant::now() + dur;
        let mut g = self.m.lock();
        let seen = g.commands;
        loop {
            let now = Instant::now();
            if g.abort || g.halt || g.deadline.is_some_and(|d| now >= d) || now >= until {
                return;
            }
            if on == WakeOn::Notify && g.wake {
                g.wake = false;
                return;
            }
            if on != WakeOn::Abort && g.commands != seen {
                return;
            }
            if on == WakeOn::Complete && (g.complete || g.files_wake) {
                g.files_wake = false;
                return;
            }
            let wake_at = g.deadline.map_or(until, |d| d.min(until));
            self.cv.wait_until(&mut g, wake_at);
        }
    }

    /// An exchange with the server concluded well.
    pub(crate) fn contact_ok(&self) {
        let mut g = self.m.lock();
        g.exchanges += 1;
        g.failing = false;
        g.last_error = None;
        drop(g);
        self.cv.notify_all();
    }

    /// An exchange failed in a way that is retried: `msg` is the cause, `warning` what the
    /// user sees (once, while the failure lasts).
    pub(crate) fn failure(&self, msg: String, warning: String) {
        let mut g = self.m.lock();
        g.exchanges += 1;
        g.failing = true;
        g.last_error = Some(msg);
        if !g.transient_reported {
            g.pending_transient = Some(warning);
        }
        drop(g);
        self.cv.notify_all();
    }

    pub(crate) fn take_warnings(&self) -> Vec<String> {
        let mut g = self.m.lock();
        let mut out = std::mem::take(&mut g.warnings);
        if g.failing && !g.transient_reported {
            if let Some(w) = g.pending_transient.take() {
                g.transient_reported = true;
                out.insert(0, w);
            }
        }
        out
    }
}

/// The backoff cap while a caller waits for the upload to complete.
const FINISHING_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How a thread ended.
pub(crate) enum End {
    Done,
    /// At the deadline, or aborted.
    GaveUp,
    /// Refused in a way that ends the whole upload (warned once).
    Fatal(String),
    /// The other thread met such a refusal.
    Halted,
    /// The files part stopped (warned); the log goes on.
    Off(String),
}

/// Exponential backoff with full jitter.
pub(crate) struct Backoff {
    attempt: u32,
    rng: u64,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(cfg: &Config, salt: u64) -> Backoff {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ salt;
        Backoff {
            attempt: 0,
            rng: seed | 1,
            initial: cfg.backoff_initial,
            max: cfg.backoff_max,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    fn rand01(&mut self) -> f64 {
        // xorshift64*: jitter needs no better randomness.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next backoff: full jitter below a cap that doubles per failure. Once the upload
    /// is `complete` (`finish()` or `fwtrack sync` waits on it), the cap stays at
    /// `FINISHING_BACKOFF_MAX`, so a server that comes back is noticed within seconds rather
    /// than after a long backoff built up while it was away.
    pub(crate) fn next(&mut self, complete: bool) -> Duration {
        let factor = 2f64.powi(self.attempt.min(40) as i32);
        let mut max = self.max;
        if complete {
            max = max.min(FINISHING_BACKOFF_MAX);
        }
        let cap = (self.initial.as_secs_f64() * factor).min(max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(cap * self.rand01())
    }
}

/// What may cut a sleep short.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeOn {
    /// `notify()`, a command, the deadline.
    Notify,
    /// A command (complete, abort), the deadline: a backoff ends early when the run ends.
    Command,
    /// Only abort and the deadline: `Retry-After` is honoured.
    Abort,
    /// A command, the upload being complete already (declared before the sleep began), or
    /// `notify_files()`: the pause between two scans of the run's files.
    Complete,
}

pub(crate) struct Worker {
    cfg: Config,
    shared: Arc<Shared>,
    client: Client,
    run: Option<RunPath>,
    entity: String,
    file: Option<File>,
    offset: u64,
    saved: Option<u64>,
    buf: Vec<u8>,
    batch_limit: usize,
    backoff: Backoff,
    last_request: Instant,
    run_dir: String,
    save_warned: bool,
}

impl Worker {
    pub(crate) fn new(cfg: Config, shared: Arc<Shared>) -> Worker {
        let client = Client::new(&cfg.base_url, &cfg.api_key, &cfg.user_agent);
        let backoff = Backoff::new(&cfg, Arc::as_ptr(&shared) as u64);
        let run_dir = cfg
            .log_path
            .parent()
            .unwrap_or(Path::new("."))
            .display()
            .to_string();
        Worker {
            batch_limit: cfg.max_batch_bytes,
            entity: cfg.entity.clone().unwrap_or_default(),
            cfg,
            shared,
            client,
            run: None,
            file: None,
            offset: 0,
            saved: None,
            buf: Vec::new(),
            backoff,
            last_request: Instant::now(),
            run_dir,
            save_warned: false,
        }
    }

    /// The thread's body: upload, then publish how it ended. Never unwinds.
    pub(crate) fn run(mut self) {
        let shared = self.shared.clone();
        let end = catch_unwind(AssertUnwindSafe(|| self.main())).unwrap_or_else(|_| {
            End::Fatal(
                "fwtrack: the upload thread failed unexpectedly; the run is kept locally. \
                 hint: upload it with `fwtrack sync`"
                    .to_owned(),
            )
        });
        shared.end(Part::Log, end);
    }

    fn target(&self) -> Target {
        Target {
            base_url: self.cfg.base_url.clone(),
            entity: self.entity.clone(),
            project: self.cfg.project.clone(),
            run_id: self.cfg.run_id.clone(),
        }
    }

    fn sync_command(&self) -> String {
        format!("fwtrack sync {}", self.run_dir)
    }

    fn run_name(&self) -> String {
        if self.entity.is_empty() {
            format!("{}/{}", self.cfg.project, self.cfg.run_id)
        } else {
            format!("{}/{}/{}", self.entity, self.cfg.project, self.cfg.run_id)
        }
    }

    fn main(&mut self) -> End {
        self.file_len(); // publishes the local size while the entity is looked up
        self.entity = match self.resolve_entity() {
            Ok(e) => e,
            Err(end) => return end,
        };
        self.run = Some(RunPath::new(
            &self.cfg.base_url,
            &self.entity,
            &self.cfg.project,
            &self.cfg.run_id,
        ));
        self.saved = self.shared.persist.lock().load(self.target());
        if let Some(s) = self.saved {
            // Resume there if it is a frame boundary of this log; otherwise start over and
            // let the server's answer put us right.
            let size = self.file_len();
            let ok = self
                .file
                .as_ref()
                .is_some_and(|f| frames::is_boundary(f, size, 0, s).unwrap_or(false));
            self.offset = if ok { s } else { 0 };
        }
        if self.saved.is_none() {
            // No record of an earlier upload: ask the server, so that a run uploaded from
            // elsewhere (or an upload.json lost) is not sent again.
            let reply = match &self.run {
                Some(run) => self.client.log_offset(run, self.request_timeout()),
                None => Reply::Transient(String::new()),
            };
            match reply {
                Reply::Stored(s) => {
                    self.contact_ok();
                    self.shared.m.lock().confirmed = true;
                    if let Err(msg) = self.move_to(s, None) {
                        return End::Fatal(msg);
                    }
                }
                Reply::Refused(404, _) => self.contact_ok(),
                // Anything else meets the upload loop, which deals with it.
                _ => {}
            }
        }
        self.shared.m.lock().acked = self.offset;
        self.shared.cv.notify_all();
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return end;
            }
            let complete = self.shared.is_complete();
            let size = self.file_len();
            let complete = complete || self.follow_ended();
            let limit = if complete { self.freeze(size) } else { size };
            let Some(file) = self.file.as_ref() else {
                if complete {
                    return End::Fatal(format!(
                        "fwtrack: cannot upload run {}: its log {} does not exist",
                        self.run_name(),
                        self.cfg.log_path.display()
                    ));
                }
                self.sleep(self.cfg.poll_interval, WakeOn::Notify);
                continue;
            };
            let batch =
                match frames::read_batch(file, self.offset, limit, self.batch_limit, &mut self.buf)
                {
                    Ok(b) => b,
                    Err(e) => {
                        // The log could not be read (removed, I/O error): try again later.
                        self.shared.m.lock().last_error = Some(format!(
                            "cannot read the run log {}: {e}",
                            self.cfg.log_path.display()
                        ));
                        self.file = None;
                        self.sleep(self.cfg.poll_interval, WakeOn::Command);
                        continue;
                    }
                };
            if batch.end > batch.start {
                if let Some(end) = self.send(&batch) {
                    return end;
                }
                continue;
            }
            if complete {
                self.finish_tail(&batch, limit);
                return End::Done;
            }
            if self.last_request.elapsed() >= self.cfg.heartbeat {
                if let Some(end) = self.heartbeat() {
                    return end;
                }
                continue;
            }
            self.sleep(self.cfg.poll_interval, WakeOn::Notify);
        }
    }

    /// In follow mode, true once the writer's lock is released.
    fn follow_ended(&self) -> bool {
        match &self.cfg.follow_lock {
            Some(lock) => !fwtrack_core::lock::is_locked(lock),
            None => false,
        }
    }

    /// Record (once) the log's end when it became complete; the limit uploads stop at.
    fn freeze(&mut self, size: u64) -> u64 {
        let mut g = self.shared.m.lock();
        if !g.complete {
            g.complete = true;
            g.commands += 1;
        }
        *g.target.get_or_insert(size)
    }

    /// The complete log is uploaded up to `batch.start`; report what could not be.
    fn finish_tail(&mut self, batch: &Batch, limit: u64) {
        let tail = limit.saturating_sub(self.offset);
        let mut g = self.shared.m.lock();
        g.unsent_tail = tail;
        if let Stop::Corrupt { offset, reason } = &batch.stop {
            g.warnings.push(format!(
                "fwtrack: the run log {} is corrupt at byte {offset} ({reason}); the {tail} \
                 bytes from there on were not uploaded",
                self.cfg.log_path.display()
            ));
        }
    }

    /// The log's current size (opening it when needed); 0 when it does not exist.
    fn file_len(&mut self) -> u64 {
        if self.file.is_none() {
            self.file = File::open(&self.cfg.log_path).ok();
        }
        let size = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        self.shared.m.lock().local_size = size;
        size
    }

    fn backoff(&mut self) -> Duration {
        let complete = self.shared.is_complete();
        self.backoff.next(complete)
    }

    /// The timeout of the next request: the configured one, cut at the deadline.
    fn request_timeout(&self) -> Duration {
        self.shared.request_timeout(self.cfg.request_timeout)
    }

    fn sleep(&self, dur: Duration, on: WakeOn) {
        self.shared.sleep(dur, on);
    }

    fn contact_ok(&mut self) {
        self.backoff.reset();
        self.shared.contact_ok();
    }

    fn failure(&mut self, msg: String) {
        let warning = transient_warning(&self.cfg, &self.run_name(), &self.run_dir, &msg);
        self.shared.failure(msg, warning);
    }

    fn resolve_entity(&mut self) -> Result<String, End> {
        if let Some(e) = &self.cfg.entity {
            return Ok(e.clone());
        }
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return Err(end);
            }
            match self.client.viewer(self.request_timeout()) {
                Ok(name) => {
                    self.contact_ok();
                    self.shared.m.lock().entity = Some(name.clone());
                    return Ok(name);
                }
                Err(reply) => {
                    if let Some(end) = self.after_reply(reply, None) {
                        return Err(end);
                    }
                }
            }
        }
    }

    fn send(&mut self, batch: &Batch) -> Option<End> {
        let run = self.run.as_ref()?;
        let reply = self
            .client
            .post_log(run, self.offset, &self.buf, self.request_timeout());
        self.last_request = Instant::now();
        self.after_reply(reply, Some(batch))
    }

    fn heartbeat(&mut self) -> Option<End> {
        let run = self.run.as_ref()?;
        let reply = self
            .client
            .post_log(run, self.offset, &[], self.request_timeout());
        self.last_request = Instant::now();
        self.after_reply(reply, None)
    }

    fn after_reply(&mut self, reply: Reply, batch: Option<&Batch>) -> Option<End> {
        match reply {
            Reply::Stored(s) | Reply::Conflict(s) => {
                self.contact_ok();
                self.shared.m.lock().confirmed = true;
                self.move_to(s, batch.map(|b| b.end)).err().map(End::Fatal)
            }
            Reply::Busy(wait, msg) => {
                self.failure(msg);
                if let Some(d) = wait {
                    self.sleep(d, WakeOn::Abort);
                } else {
                    let d = self.backoff();
                    self.sleep(d, WakeOn::Command);
                }
                None
            }
            Reply::Transient(msg) => {
                self.failure(msg);
                let d = self.backoff();
                self.sleep(d, WakeOn::Command);
                None
            }
            Reply::Refused(413, _) if batch.is_some_and(|b| b.frames > 1) => {
                // The server takes smaller bodies than ours: halve the batches.
                let sent = batch.map_or(1, |b| (b.end - b.start) as usize);
                self.batch_limit = (sent / 2).max(1);
                self.contact_ok();
                None
            }
            Reply::Refused(code, detail) => Some(End::Fatal(self.refusal(code, &detail))),
        }
    }

    fn refusal(&self, code: u16, detail: &str) -> String {
        refusal(
            &self.cfg,
            &self.entity,
            &self.run_name(),
            &self.run_dir,
            code,
            detail,
        )
    }

    /// Continue from the server's offset `s` (after sending up to `sent_end`, if anything).
    fn move_to(&mut self, s: u64, sent_end: Option<u64>) -> Result<(), String> {
        if s != self.offset && Some(s) != sent_end {
            let size = self.file_len();
            if s > size {
                return Err(format!(
                    "fwtrack: the server at {} already holds {s} bytes of run {}, more than \
                     the local log ({size} bytes): the server's run with this id is a \
                     different run. hint: start the run with a new id, or delete the run on \
                     the server, then `{}`",
                    self.cfg.base_url,
                    self.run_name(),
                    self.sync_command()
                ));
            }
            let from = if s > self.offset { self.offset } else { 0 };
            let ok = self
                .file
                .as_ref()
                .is_some_and(|f| frames::is_boundary(f, size, from, s).unwrap_or(false));
            if !ok {
                return Err(format!(
                    "fwtrack: the server at {} holds {s} bytes of run {}, which is not a frame \
                     boundary of the local log: the server's run with this id is a different \
                     run. hint: start the run with a new id, or delete the run on the server, \
                     then `{}`",
                    self.cfg.base_url,
                    self.run_name(),
                    self.sync_command()
                ));
            }
        }
        self.offset = s;
        self.shared.m.lock().acked = s;
        self.shared.cv.notify_all();
        if self.saved != Some(s) {
            let saved = self.shared.persist.lock().set_offset(s);
            match saved {
                Ok(()) => self.saved = Some(s),
                Err(e) if !self.save_warned => {
                    self.save_warned = true;
                    self.shared.m.lock().warnings.push(format!(
                        "fwtrack: cannot record the upload progress in {} ({e}); an \
                         interrupted upload restarts from the server's offset",
                        self.cfg.state_path.display()
                    ));
                }
                Err(_) => {}
            }
        }
        Ok(())
    }
}

/// The warning shown (once, while it lasts) for a failure that is retried.
pub(crate) fn transient_warning(cfg: &Config, run_name: &str, run_dir: &str, msg: &str) -> String {
    format!(
        "fwtrack: cannot upload run {run_name} to {}: {msg}; retrying in the background (the \
         run is logged locally in {run_dir} and nothing is lost)",
        cfg.base_url
    )
}

/// The warning for a refusal that stops the upload: the status, the server's detail and
/// how to fix it.
pub(crate) fn refusal(
    cfg: &Config,
    entity: &str,
    run_name: &str,
    run_dir: &str,
    code: u16,
    detail: &str,
) -> String {
    let sync = format!("fwtrack sync {run_dir}");
    let hint = match code {
        401 => format!(
            "check the API key: run `fwtrack login {}` (or set FWTRACK_API_KEY), then \
                 `{sync}`",
            cfg.base_url
        ),
        403 => format!(
            "the key's user cannot write to entity '{entity}': set FWTRACK_ENTITY to your \
             user name or one of your teams, then `{sync} --entity <name>`"
        ),
        404 => format!(
            "check the base URL (FWTRACK_BASE_URL={}): it must be the address of a \
                 fwtrack server, then `{sync}`",
            cfg.base_url
        ),
        413 => format!(
            "one frame of this log is larger than the server accepts: raise the server's \
                 --max-upload-bytes, then `{sync}`"
        ),
        400 => format!("the server found the log invalid; check it with `fwtrack show {run_dir}`"),
        _ => format!("fix the cause above, then `{sync}`"),
    };
    format!(
        "fwtrack: the server at {} refused the upload of run {} ({}: {detail}); uploading \
             stopped and the run stays logged locally in {}. hint: {hint}",
        cfg.base_url,
        run_name,
        describe_status(code),
        run_dir
    )
}
