//! The upload thread and the state it shares with the [`crate::Uploader`] handle.
//!
//! The handle and the thread meet in one mutex-guarded [`Inner`]; the thread never holds the
//! mutex while it does I/O, so `status()` and `notify()` return at once. One condition
//! variable carries every change both ways (commands to the thread, progress to waiters).

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

use crate::frames::{self, Batch, Stop};
use crate::net::{Client, Reply, RunPath, describe_status};
use crate::state::{self, Target};
use crate::{Config, Outcome, State, Status};

#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // flags of one state, guarded together
pub(crate) struct Inner {
    acked: u64,
    local_size: u64,
    state: State,
    last_error: Option<String>,
    entity: Option<String>,
    /// Requests (or connection attempts) that concluded, either way.
    exchanges: u64,
    /// The last exchange failed in a way that is retried.
    failing: bool,
    warnings: Vec<String>,
    /// The "cannot reach the server" warning, shown only while the failure lasts.
    pending_transient: Option<String>,
    transient_reported: bool,
    // Commands to the thread.
    wake: bool,
    complete: bool,
    deadline: Option<Instant>,
    abort: bool,
    /// Bumped on every command other than `wake`.
    commands: u64,
    /// The log's size when it was declared complete.
    target: Option<u64>,
    unsent_tail: u64,
    /// The thread ended at the deadline (or on abort) rather than done or refused.
    gave_up: bool,
    ended: bool,
}

pub(crate) struct Shared {
    m: Mutex<Inner>,
    cv: Condvar,
}

impl Shared {
    pub(crate) fn new(entity: Option<String>) -> Shared {
        Shared {
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
                complete: false,
                deadline: None,
                abort: false,
                commands: 0,
                target: None,
                unsent_tail: 0,
                gave_up: false,
                ended: false,
            }),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn notify(&self) {
        self.m.lock().wake = true;
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
            remaining: if done { 0 } else { end.saturating_sub(g.acked) },
            unsent_tail: g.unsent_tail,
            timed_out: !done && (g.state == State::Running || g.gave_up),
            error: g.last_error.clone(),
        }
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

/// How the thread ended.
enum End {
    Done,
    GaveUp,
    Fatal(String),
}

/// What may cut a sleep short.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WakeOn {
    /// `notify()`, a command, the deadline.
    Notify,
    /// A command (complete, abort), the deadline: a backoff ends early when the run ends.
    Command,
    /// Only abort and the deadline: `Retry-After` is honoured.
    Abort,
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
    attempt: u32,
    last_request: Instant,
    rng: u64,
    run_dir: String,
    save_warned: bool,
}

impl Worker {
    pub(crate) fn new(cfg: Config, shared: Arc<Shared>) -> Worker {
        let client = Client::new(&cfg.base_url, &cfg.api_key, &cfg.user_agent);
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ (Arc::as_ptr(&shared) as u64);
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
            attempt: 0,
            last_request: Instant::now(),
            rng: seed | 1,
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
        let mut g = shared.m.lock();
        match end {
            End::Done => g.state = State::Done,
            End::GaveUp => {
                g.state = State::Stopped;
                g.gave_up = true;
            }
            End::Fatal(msg) => {
                g.state = State::Stopped;
                g.last_error = Some(msg.clone());
                g.warnings.push(msg);
            }
        }
        g.ended = true;
        drop(g);
        shared.cv.notify_all();
    }

    fn target(&self) -> Target<'_> {
        Target {
            base_url: &self.cfg.base_url,
            entity: &self.entity,
            project: &self.cfg.project,
            run_id: &self.cfg.run_id,
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
        self.saved = state::load(&self.cfg.state_path, &self.target());
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
        loop {
            let (complete, stop) = self.commands();
            if stop {
                return End::GaveUp;
            }
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

    /// (complete, stop now).
    fn commands(&self) -> (bool, bool) {
        let g = self.shared.m.lock();
        let past = g.deadline.is_some_and(|d| Instant::now() >= d);
        (g.complete, g.abort || past)
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

    fn rand01(&mut self) -> f64 {
        // xorshift64*: jitter needs no better randomness.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next backoff: full jitter below a cap that doubles per failure. Once the log is
    /// complete (`finish()` or `fwtrack sync` waits on it), the cap stays at
    /// `FINISHING_BACKOFF_MAX`, so a server that comes back is noticed within seconds rather
    /// than after a long backoff built up while it was away.
    fn backoff(&mut self) -> Duration {
        let factor = 2f64.powi(self.attempt.min(40) as i32);
        let mut max = self.cfg.backoff_max;
        if self.shared.m.lock().complete {
            max = max.min(FINISHING_BACKOFF_MAX);
        }
        let cap = (self.cfg.backoff_initial.as_secs_f64() * factor).min(max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(cap * self.rand01())
    }

    /// The timeout of the next request: the configured one, cut at the deadline.
    fn request_timeout(&self) -> Duration {
        let deadline = self.shared.m.lock().deadline;
        let t = self.cfg.request_timeout;
        match deadline {
            Some(d) => t
                .min(d.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
            None => t,
        }
    }

    fn sleep(&self, dur: Duration, on: WakeOn) {
        let until = Instant::now() + dur;
        let mut g = self.shared.m.lock();
        let seen = g.commands;
        loop {
            let now = Instant::now();
            if g.abort || g.deadline.is_some_and(|d| now >= d) || now >= until {
                return;
            }
            if on == WakeOn::Notify && g.wake {
                g.wake = false;
                return;
            }
            if on != WakeOn::Abort && g.commands != seen {
                return;
            }
            let wake_at = g.deadline.map_or(until, |d| d.min(until));
            self.shared.cv.wait_until(&mut g, wake_at);
        }
    }

    fn contact_ok(&mut self) {
        self.attempt = 0;
        let mut g = self.shared.m.lock();
        g.exchanges += 1;
        g.failing = false;
        g.last_error = None;
        drop(g);
        self.shared.cv.notify_all();
    }

    fn failure(&mut self, msg: String) {
        let warning = format!(
            "fwtrack: cannot upload run {} to {}: {msg}; retrying in the background (the run \
             is logged locally in {} and nothing is lost)",
            self.run_name(),
            self.cfg.base_url,
            self.run_dir
        );
        let mut g = self.shared.m.lock();
        g.exchanges += 1;
        g.failing = true;
        g.last_error = Some(msg);
        if !g.transient_reported {
            g.pending_transient = Some(warning);
        }
        drop(g);
        self.shared.cv.notify_all();
    }

    fn resolve_entity(&mut self) -> Result<String, End> {
        if let Some(e) = &self.cfg.entity {
            return Ok(e.clone());
        }
        loop {
            if self.commands().1 {
                return Err(End::GaveUp);
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
        let sync = self.sync_command();
        let hint = match code {
            401 => format!(
                "check the API key: run `fwtrack login {}` (or set FWTRACK_API_KEY), then \
                 `{sync}`",
                self.cfg.base_url
            ),
            403 => format!(
                "the key's user cannot write to entity '{}': set FWTRACK_ENTITY to your user \
                 name or one of your teams, then `{sync} --entity <name>`",
                self.entity
            ),
            404 => format!(
                "check the base URL (FWTRACK_BASE_URL={}): it must be the address of a \
                 fwtrack server, then `{sync}`",
                self.cfg.base_url
            ),
            413 => format!(
                "one frame of this log is larger than the server accepts: raise the server's \
                 --max-upload-bytes, then `{sync}`"
            ),
            400 => format!(
                "the server found the log invalid; check it with `fwtrack show {}`",
                self.run_dir
            ),
            _ => format!("fix the cause above, then `{sync}`"),
        };
        format!(
            "fwtrack: the server at {} refused the upload of run {} ({}: {detail}); uploading \
             stopped and the run stays logged locally in {}. hint: {hint}",
            self.cfg.base_url,
            self.run_name(),
            describe_status(code),
            self.run_dir
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
            match state::save(&self.cfg.state_path, &self.target(), s) {
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
