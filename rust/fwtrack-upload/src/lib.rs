//! fwtrack's uploader: ships a run to a tracking server — its log and its files — with one
//! set of guarantees.
//!
//! Pure Rust, no Python. An [`Uploader`] owns two background threads (docs/server.md,
//! "Upload protocol"):
//!
//! - the log thread follows `<run dir>/run.fwlog` as the writer appends to it and sends
//!   *whole frames* with `POST /api/v1/runs/{entity}/{project}/{run_id}/log?offset=N`. The
//!   server acknowledges byte offsets, so a retry after any failure neither loses nor
//!   duplicates a record.
//! - the files thread ships `<run dir>/files/**` (media payloads, `run.save` files, the code
//!   and environment snapshot) as blobs by content address (BLAKE3,
//!   `fwtrack_core::address`): once the server holds the run, every
//!   [`Config::files_interval`] while the run is live, and once more after the log is
//!   declared complete, it hashes the files whose size or modification time changed, asks
//!   the server which addresses it lacks (`POST .../blobs/missing`), sends those (packs of up
//!   to [`Config::max_pack_bytes`] with `POST .../blobs`, a larger blob alone and streamed
//!   with `PUT .../blobs/{address}`), and records the paths (`POST .../files`). Symbolic
//!   links are never followed: they are left out with a warning naming them. The bytes of a
//!   blob are checked against its address as they are packed, and a file that changed while
//!   it was hashed or sent waits for the next pass, so no blob goes under another content's
//!   address.
//!
//!   The same thread commits the run's artifacts: each pass takes the pending commits in
//!   `<run dir>/artifacts/pending/*.json` (in name order), sends the blobs of each that the
//!   server lacks from the commit's blob directory (the same packs, streamed `PUT`s and
//!   presigned uploads as the run's files), then posts the commit (`POST .../artifacts`)
//!   and files the server's answer under `artifacts/committed/` (or, refused, under
//!   `artifacts/failed/`, with one warning).
//!
//! Both record what the server holds in `<run dir>/upload.json` (the acknowledged offset, and
//! each file's size, modification time, address and whether the server's manifest has it),
//! for one server, entity and run, so a restarted uploader (or `fwtrack sync`) resumes where
//! the last one stopped, and one over an unchanged run sends nothing.
//!
//! Failures are sorted by what fixes them: `409` moves to the server's offset (or, for the
//! manifest, sends the blobs it names as missing); `429`/`503` wait for `Retry-After`; other
//! 5xx, connection errors and timeouts back off exponentially with full jitter (0.1 s
//! doubling to 30 s) for as long as the run lives; `400`/`401`/`403`/`404`/`413` stop the
//! upload with one warning that says how to fix it (the run stays on disk for `fwtrack
//! sync`). A refusal of the files alone (a server without the blob routes) stops only the
//! files; a path the server refuses (a file/folder clash) is named once and left out.
//!
//! The caller is never blocked, except in [`Uploader::finish`] and the `wait*` methods,
//! which wait on purpose (for the log and the files). After `fork()` the threads do not
//! exist in the child: every call on an uploader created before the fork is a no-op there.

mod blobs;
mod files;
mod frames;
mod net;
mod state;
mod worker;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fwtrack_core::lock::fork_generation;

use crate::files::FilesWorker;
use crate::worker::{Shared, Worker};

/// The file name of the upload state inside a run directory.
pub const STATE_FILE_NAME: &str = "upload.json";
/// The folder of a run's files inside its run directory.
pub const FILES_DIR_NAME: &str = "files";
/// The folder of a run's artifact commits inside its run directory (`pending/`,
/// `committed/`, `failed/`).
pub const ARTIFACTS_DIR_NAME: &str = "artifacts";

/// How an uploader talks to its server and what it uploads.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server's base URL, e.g. `https://fwtrack.example.com` (no trailing `/api/v1`).
    pub base_url: String,
    /// The API key sent as `Authorization: Bearer <key>` (none when empty).
    pub api_key: String,
    /// The entity (user or team) the run belongs to; `None` asks the server whose key this
    /// is (`GET /api/v1/viewer`) and uses that user.
    pub entity: Option<String>,
    pub project: String,
    pub run_id: String,
    /// The run log to tail (`<run dir>/run.fwlog`).
    pub log_path: PathBuf,
    /// Where the acknowledged offset and the files' addresses are recorded
    /// (`<run dir>/upload.json`).
    pub state_path: PathBuf,
    /// Largest request body; a single larger frame still goes alone.
    pub max_batch_bytes: usize,
    /// An empty-body heartbeat goes out after this long without a request.
    pub heartbeat: Duration,
    /// How often the log's size is polled when [`Uploader::notify`] is not called.
    pub poll_interval: Duration,
    /// Longest a single request may take.
    pub request_timeout: Duration,
    /// First backoff cap after a failure; it doubles per failure up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub user_agent: String,
    /// Follow a run another process is writing: while this lock file is held, keep tailing;
    /// once it is released (the writer finished or died), upload the rest and end.
    pub follow_lock: Option<PathBuf>,
    /// The run's files to upload (`<run dir>/files`); `None` uploads the log only.
    pub files_dir: Option<PathBuf>,
    /// How often the run's files are scanned while the run is live (they are always
    /// scanned once more after the log is declared complete).
    pub files_interval: Duration,
    /// Largest pack of blobs per request; a larger blob goes alone, streamed (`PUT`).
    pub max_pack_bytes: usize,
}

impl Config {
    /// The defaults for the run in `run_dir`: 4 MiB batches, a heartbeat every 30 s, polling
    /// every 200 ms, backoff from 0.1 s doubling to 30 s.
    pub fn new(
        base_url: &str,
        api_key: &str,
        entity: Option<String>,
        project: &str,
        run_id: &str,
        run_dir: &Path,
    ) -> Config {
        Config {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            entity,
            project: project.to_owned(),
            run_id: run_id.to_owned(),
            log_path: run_dir.join(fwtrack_core::LOG_FILE_NAME),
            state_path: run_dir.join(STATE_FILE_NAME),
            max_batch_bytes: 4 << 20,
            heartbeat: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            request_timeout: Duration::from_secs(120),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            user_agent: format!("fwtrack/{}", fwtrack_core::VERSION),
            follow_lock: None,
            files_dir: Some(run_dir.join(FILES_DIR_NAME)),
            files_interval: Duration::from_secs(10),
            max_pack_bytes: 8 << 20,
        }
    }

    fn check(&self) -> Result<(), Error> {
        let scheme_ok =
            self.base_url.starts_with("http://") || self.base_url.starts_with("https://");
        if !scheme_ok || self.base_url.len() <= "https://".len() {
            return Err(Error::Config(format!(
                "base URL {:?} is not an http(s) URL. hint: use the server's address, e.g. \
                 https://fwtrack.example.com",
                self.base_url
            )));
        }
        for (what, value) in [("project", &self.project), ("run id", &self.run_id)] {
            if value.is_empty() {
                return Err(Error::Config(format!("the {what} is empty")));
            }
        }
        if self.entity.as_deref() == Some("") {
            return Err(Error::Config(
                "the entity is empty. hint: leave it unset to upload as the key's user".into(),
            ));
        }
        if self.max_pack_bytes == 0 {
            return Err(Error::Config(
                "max_pack_bytes is 0; use at least one byte (a blob larger than the limit is \
                 sent alone)"
                    .into(),
            ));
        }
        if self.max_batch_bytes == 0 {
            return Err(Error::Config(
                "max_batch_bytes is 0; use at least one byte (a frame larger than the limit \
                 is sent alone)"
                    .into(),
            ));
        }
        let positive = [
            ("heartbeat", self.heartbeat),
            ("poll_interval", self.poll_interval),
            ("request_timeout", self.request_timeout),
            ("files_interval", self.files_interval),
        ];
        if let Some((what, _)) = positive.iter().find(|(_, d)| d.is_zero()) {
            return Err(Error::Config(format!(
                "{what} is zero; use a positive duration"
            )));
        }
        Ok(())
    }
}

/// Why an uploader could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid upload settings: {0}")]
    Config(String),
    #[error("cannot start the upload thread: {0}")]
    Spawn(std::io::Error),
}

/// Where an uploader is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The threads are uploading (or waiting for more to upload, or for the server).
    Running,
    /// Everything up to the end of the complete log is acknowledged and the run's files are
    /// on the server; the threads ended.
    Done,
    /// The threads ended before that: refused by the server, given up at a deadline, or
    /// inherited through `fork()`.
    Stopped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Done => "done",
            State::Stopped => "stopped",
        }
    }
}

/// A snapshot of an uploader's progress.
#[derive(Clone, Debug)]
pub struct Status {
    /// Bytes of the log the server has acknowledged.
    pub acked: u64,
    /// Size of the local log when last looked at.
    pub local_size: u64,
    pub state: State,
    /// The last failure (cleared by the next success); after a stop, why it stopped.
    pub last_error: Option<String>,
    /// The entity the run is uploaded to, once known.
    pub entity: Option<String>,
    /// Whether the log was declared complete ([`Uploader::complete`], `finish`, or the
    /// followed writer ended).
    pub complete: bool,
    /// The run's files are on the server as they were at the last scan after the log was
    /// declared complete, and no artifact commit is left pending (also true when files are
    /// not uploaded).
    pub files_done: bool,
    /// Regular files found under `files/` by the last scan.
    pub files_total: u64,
    /// Of those, the files the server does not hold as they are now, and their bytes.
    pub files_pending: u64,
    pub files_pending_bytes: u64,
    /// Files recorded in the server's manifest by this uploader.
    pub files_recorded: u64,
    /// Blobs (file contents the server lacked) sent by this uploader, and their bytes.
    pub blobs_sent: u64,
    pub blob_bytes_sent: u64,
    /// Artifact commits waiting in `<run dir>/artifacts/pending/` at the last look (the
    /// files part is not done while one is left).
    pub artifacts_pending: u64,
    /// Artifact commits this uploader committed on the server (`artifacts/committed/`).
    pub artifacts_committed: u64,
    /// Artifact commits the server refused, or whose blobs are nowhere
    /// (`artifacts/failed/`, each with one warning).
    pub artifacts_failed: u64,
}

/// What [`Uploader::finish`] achieved.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Everything up to the end of the complete log is acknowledged, and the run's files
    /// are on the server.
    pub done: bool,
    pub acked: u64,
    /// Bytes of the log not acknowledged (0 when done).
    pub remaining: u64,
    /// Bytes at the end of the log that are not whole, valid frames (a run that died
    /// mid-write), never uploaded.
    pub unsent_tail: u64,
    /// Not done because the deadline came (or the upload was aborted), not because the
    /// server refused it.
    pub timed_out: bool,
    pub error: Option<String>,
    /// The run's files are on the server (see [`Status::files_done`]).
    pub files_done: bool,
    /// Files not on the server yet, and their bytes (0 when `files_done`).
    pub files_pending: u64,
    pub files_pending_bytes: u64,
    /// Files recorded in the server's manifest by this uploader.
    pub files_recorded: u64,
    /// Blobs sent by this uploader, and their bytes.
    pub blobs_sent: u64,
    pub blob_bytes_sent: u64,
    /// Artifact commits left in `artifacts/pending/`, committed and failed (see [`Status`]).
    pub artifacts_pending: u64,
    pub artifacts_committed: u64,
    pub artifacts_failed: u64,
}

/// Uploads one run (its log and its files) in background threads. See the crate
/// documentation.
pub struct Uploader {
    shared: Arc<Shared>,
    generation: u64,
    log_path: PathBuf,
}

impl Uploader {
    /// Check the settings and start the upload threads. Nothing is sent before they run;
    /// this never waits for the network.
    pub fn start(config: Config) -> Result<Uploader, Error> {
        config.check()?;
        let shared = Arc::new(Shared::new(
            config.entity.clone(),
            config.state_path.clone(),
            config.files_dir.is_some(),
        ));
        let log_path = config.log_path.clone();
        let files = config
            .files_dir
            .clone()
            .map(|root| FilesWorker::new(config.clone(), root, shared.clone()));
        let worker = Worker::new(config, shared.clone());
        std::thread::Builder::new()
            .name("fwtrack-upload".into())
            .spawn(move || worker.run())
            .map_err(Error::Spawn)?;
        if let Some(files) = files {
            let spawned = std::thread::Builder::new()
                .name("fwtrack-upload-files".into())
                .spawn(move || files.run());
            if let Err(e) = spawned {
                shared.abort();
                return Err(Error::Spawn(e));
            }
        }
        Ok(Uploader {
            shared,
            generation: fork_generation(),
            log_path,
        })
    }

    /// False in a process forked after this uploader started (its thread is not there).
    fn live(&self) -> bool {
        self.generation == fork_generation()
    }

    /// The log grew: look at it now instead of at the next poll.
    pub fn notify(&self) {
        if self.live() {
            self.shared.notify();
        }
    }

    /// Look at the run's files and pending artifact commits now instead of at the next
    /// `files_interval` (once the server holds the run).
    pub fn notify_files(&self) {
        if self.live() {
            self.shared.notify_files();
        }
    }

    /// Progress so far.
    pub fn status(&self) -> Status {
        if !self.live() {
            return Status {
                acked: 0,
                local_size: 0,
                state: State::Stopped,
                last_error: Some(FORKED.to_owned()),
                entity: None,
                complete: false,
                files_done: false,
                files_total: 0,
                files_pending: 0,
                files_pending_bytes: 0,
                files_recorded: 0,
                blobs_sent: 0,
                blob_bytes_sent: 0,
                artifacts_pending: 0,
                artifacts_committed: 0,
                artifacts_failed: 0,
            };
        }
        self.shared.status()
    }

    /// Declare the log complete: upload up to its current end (and the run's files as they
    /// are now), then end the threads, giving up after `timeout` (`None`: no limit). Does not
    /// wait (see [`Uploader::wait`]).
    pub fn complete(&self, timeout: Option<Duration>) {
        if self.live() {
            self.shared.complete(timeout.map(|t| Instant::now() + t));
        }
    }

    /// Wait until the threads have ended, at most `timeout` (`None`: no limit). True when
    /// they have.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if !self.live() {
            return true;
        }
        self.shared.wait_ended(timeout.map(|t| Instant::now() + t))
    }

    /// Wait until the server has answered once (or the first attempt failed, or the thread
    /// ended), at most `timeout`. True when that happened.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        if !self.live() {
            return true;
        }
        self.shared.wait_ready(Instant::now() + timeout)
    }

    /// The log is complete: upload until everything (the log and the run's files) is on the
    /// server, giving up after `timeout` (`None`: no limit). The threads end either way.
    /// Returns at the deadline even when a request is still in flight.
    pub fn finish(&self, timeout: Option<Duration>) -> Outcome {
        if !self.live() {
            return self.outcome();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        self.shared.complete(deadline);
        if !self.shared.wait_ended(deadline) {
            self.shared.abort();
        }
        self.outcome()
    }

    /// What the upload has achieved so far (final once the thread has ended).
    pub fn outcome(&self) -> Outcome {
        if !self.live() {
            return Outcome {
                done: false,
                acked: 0,
                remaining: 0,
                unsent_tail: 0,
                timed_out: false,
                error: Some(FORKED.to_owned()),
                files_done: false,
                files_pending: 0,
                files_pending_bytes: 0,
                files_recorded: 0,
                blobs_sent: 0,
                blob_bytes_sent: 0,
                artifacts_pending: 0,
                artifacts_committed: 0,
                artifacts_failed: 0,
            };
        }
        let size = fs::metadata(&self.log_path).map_or(0, |m| m.len());
        self.shared.outcome(size)
    }

    /// Stop the threads as soon as possible, without waiting for them.
    pub fn abort(&self) {
        if self.live() {
            self.shared.abort();
        }
    }

    /// Warnings to show the user, each at most once: a refusal that stopped the upload, a
    /// corrupt frame, trouble recording `upload.json`, a link left out of the run's files, a
    /// file path the server refused, and (only while it lasts) a server that cannot be
    /// reached.
    pub fn take_warnings(&self) -> Vec<String> {
        if !self.live() {
            return Vec::new();
        }
        self.shared.take_warnings()
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        // Without finish() the upload stops; the log and upload.json stay for `fwtrack sync`.
        // In a forked child the mutex may have been held by the parent's thread: leave it.
        if self.live() {
            self.shared.abort();
        }
    }
}

const FORKED: &str = "this process was forked from the one that started the upload; uploads \
                      happen in the parent process";
