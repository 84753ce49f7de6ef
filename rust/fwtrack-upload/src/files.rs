//! The files thread: ships `<run dir>/files/**` (media payloads, `run.save` files, the code
//! and environment snapshot) as blobs by content address (docs/server.md, "Upload protocol").
//!
//! A pass scans `files/` (never following a symbolic link), hashes the files whose size or
//! modification time changed since `upload.json` last saw them, asks the server which of
//! the addresses it lacks (`POST .../blobs/missing`), sends those (packed up to
//! `max_pack_bytes` per `POST .../blobs`; a larger blob alone), then records the paths
//! (`POST .../files`). A blob sent alone first asks `POST .../blobs/uploads`: the server
//! answers that it has it, that it takes it itself (`PUT .../blobs/{address}`, streamed), or
//! with presigned URLs of the parts the object store lacks, which are `PUT` straight there
//! (no `Authorization` header, up to `PARALLEL_PARTS` at once) before the upload is completed
//! (`POST .../blobs/uploads/{upload}/complete`: the server verifies it). An expired URL, or
//! a part the store does not hold when completing, asks again; asking again is also how an
//! interrupted upload resumes (the server lists what the store holds). A server without the
//! route (`404`/`405`) gets today's `PUT`. Passes run once the server has acknowledged the
//! log (the run then exists there), every `files_interval` while the run is live, and once
//! more after the log is declared complete; that last pass decides whether the files part is
//! done. A pass with nothing new sends nothing.
//!
//! The bytes of a blob are read and checked against its address right before they are
//! packed, and a file that changed while it was hashed or sent is left for the next pass, so
//! a blob is never sent under another content's address (and if one were, the server would
//! refuse it: the file is then hashed again). Failures are retried as the log's are: `429`/
//! `503` after `Retry-After`, 5xx and connection errors with backoff and jitter; `401`/`403`
//! stop the whole upload with one warning; other refusals stop only the files part, with one
//! warning saying how to fix it.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::Config;
use crate::blobs::{self, entry_overhead, open_regular, push_entry, read_verified};
use crate::net::{Client, JsonReply, PartReply, RunPath, describe_status, segment};
use crate::state::Files;
use crate::worker::{Backoff, End, Part, Shared, WakeOn, refusal, transient_warning};

/// At most this many addresses (or manifest entries) per JSON request (the server's limit).
const MAX_PER_REQUEST: usize = 10_000;
/// Sending the blobs a `409` named as missing, then recording again, at most this often.
const MISSING_ROUNDS: u32 = 3;
/// After the log is complete, files still changing are tried again this many times...
const FINAL_TRIES: u32 = 5;
/// ... this long apart.
const UNSETTLED_WAIT: Duration = Duration::from_millis(500);
/// Individual warnings about refused paths per uploader; the rest are counted.
const MAX_PATH_WARNINGS: u32 = 5;
/// A streamed blob may take this much longer per MiB than the request timeout.
const PER_MIB: Duration = Duration::from_secs(1);
/// Packs in flight at once: the next pack is read and checked while the server stores the
/// last one. (More did not help against a server on two cores, whose cost is the fsync of
/// every blob it stores.)
const PARALLEL_PACKS: usize = 2;
/// Parts of one large blob sent at once to their presigned URLs.
const PARALLEL_PARTS: usize = 4;
/// A large blob's upload is asked for at most this often in one go (each answer lists only
/// the parts the object store lacks, with fresh URLs); then it goes through the server.
const UPLOAD_ROUNDS: u32 = 8;

/// One blob to send: where its bytes are (a file under `files/`, or a blob of an artifact
/// commit's blob directory: both go through the same packs, `PUT`s and presigned uploads)
/// and how many.
#[derive(Clone, Debug)]
struct Source {
    path: PathBuf,
    size: u64,
}

/// Counts what it reads, so that a streamed body cut short is told apart from the network.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// One part of a large blob to send to its presigned URL.
#[derive(Debug)]
struct PartJob {
    number: u64,
    offset: u64,
    size: u64,
    url: String,
}

/// What became of a large blob's parts.
enum Parts {
    /// Every listed part is in the object store: (number, ETag) of each.
    Sent(Vec<(u64, String)>),
    /// A URL expired (or the store refused a part: why): ask the server again.
    Expired(String),
    /// The file changed: hash it again.
    Changed,
}

/// What became of a large blob sent through `POST .../blobs/uploads`.
enum Large {
    /// The server holds it (it had it, or the upload completed and verified).
    Stored,
    /// Send it to the server itself (`PUT .../blobs/{address}`).
    Server,
    /// The server has no such route (an older one): `PUT`, and do not ask again.
    NoRoute,
    /// The file changed, or the server found the bytes not matching the address.
    Changed,
}

/// What a request needs: borrowed from the [`FilesWorker`], shared by the threads that send
/// packs at once.
struct Link<'a> {
    cfg: &'a Config,
    shared: &'a Shared,
    client: &'a Client,
    run: Option<&'a RunPath>,
    entity: &'a str,
    run_dir: &'a str,
    root: &'a Path,
    /// The server may have `POST .../blobs/uploads` (false once it answered 404/405).
    uploads: &'a AtomicBool,
}

/// A `Link` from a worker's fields (borrowed one by one, so that its backoff stays free).
macro_rules! link {
    ($w:expr) => {
        Link {
            cfg: &$w.cfg,
            shared: &$w.shared,
            client: &$w.client,
            run: $w.run.as_ref(),
            entity: &$w.entity,
            run_dir: &$w.run_dir,
            root: &$w.root,
            uploads: &$w.uploads,
        }
    };
}

/// A pack of blobs and what it holds (to be sent).
type PackJob<'q> = (Vec<u8>, Vec<(&'q Source, String)>);

/// What became of a pack.
enum Packed {
    Sent,
    /// The server refused these addresses as not matching their bytes.
    Refused(Vec<String>),
    /// `413`: the server takes smaller bodies.
    TooLarge,
}

impl Link<'_> {
    fn run_name(&self) -> String {
        format!("{}/{}/{}", self.entity, self.cfg.project, self.cfg.run_id)
    }

    /// Send one request, retrying what is retried. `attempt` returns `None` when the request
    /// cannot be made as planned (the file behind a blob changed): no retry then.
    fn call(
        &self,
        backoff: &mut Backoff,
        attempt: impl FnMut(&Client, &RunPath, Duration) -> Option<JsonReply>,
        extra_time: Duration,
    ) -> Result<Option<JsonReply>, End> {
        self.call_allowing(backoff, attempt, extra_time, &[])
    }

    /// [`Link::call`], but refusals with a status in `allowed` are answers for the caller.
    fn call_allowing(
        &self,
        backoff: &mut Backoff,
        mut attempt: impl FnMut(&Client, &RunPath, Duration) -> Option<JsonReply>,
        extra_time: Duration,
        allowed: &[u16],
    ) -> Result<Option<JsonReply>, End> {
        let Some(run) = self.run else {
            return Err(End::Halted);
        };
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return Err(end);
            }
            let timeout = self
                .shared
                .request_timeout(self.cfg.request_timeout + extra_time);
            let Some(reply) = attempt(self.client, run, timeout) else {
                return Ok(None);
            };
            match reply {
                JsonReply::Ok(_) | JsonReply::Rejected(..) => {
                    backoff.reset();
                    self.shared.contact_ok();
                    return Ok(Some(reply));
                }
                JsonReply::Busy(wait, msg) => {
                    self.failure(msg);
                    match wait {
                        Some(d) => self.shared.sleep(d, WakeOn::Abort),
                        None => self.back_off(backoff),
                    }
                }
                JsonReply::Transient(msg) => {
                    self.failure(msg);
                    self.back_off(backoff);
                }
                JsonReply::Refused(code, detail) if allowed.contains(&code) => {
                    backoff.reset();
                    self.shared.contact_ok();
                    return Ok(Some(JsonReply::Refused(code, detail)));
                }
                JsonReply::Refused(code @ (401 | 403), detail) => {
                    return Err(End::Fatal(refusal(
                        self.cfg,
                        self.entity,
                        &self.run_name(),
                        self.run_dir,
                        code,
                        &detail,
                    )));
                }
                JsonReply::Refused(code, detail) => {
                    // A 404 before the server confirmed the run may be a run it does not
                    // have yet (upload.json from before the server lost it): the log thread
                    // is on it.
                    let waiting = {
                        let g = self.shared.m.lock();
                        code == 404 && !g.confirmed && !g.log_ended
                    };
                    if waiting {
                        self.failure(format!("{}: {detail}", describe_status(code)));
                        self.back_off(backoff);
                        continue;
                    }
                    return Err(End::Off(self.files_refusal(code, &detail)));
                }
            }
        }
    }

    fn back_off(&self, backoff: &mut Backoff) {
        let d = backoff.next(self.shared.is_complete());
        self.shared.sleep(d, WakeOn::Command);
    }

    fn failure(&self, msg: String) {
        let warning = transient_warning(self.cfg, &self.run_name(), self.run_dir, &msg);
        self.shared.failure(msg, warning);
    }

    fn files_refusal(&self, code: u16, detail: &str) -> String {
        let sync = format!("fwtrack sync {}", self.run_dir);
        let hint = match code {
            404 => format!(
                "the server at {} may be older than this client (it does not take run files \
                 by content address): upgrade it, then `{sync}`",
                self.cfg.base_url
            ),
            405 => format!(
                "this server does not take uploads: upload the run to a `fwtrack server` with \
                 `{sync} --base-url URL`"
            ),
            _ => format!("fix the cause above, then `{sync}`"),
        };
        format!(
            "fwtrack: the server at {} refused the files of run {} ({}: {detail}); they were \
             not uploaded and stay in {}. hint: {hint}",
            self.cfg.base_url,
            self.run_name(),
            describe_status(code),
            self.root.display()
        )
    }

    fn unexpected(&self, what: &str, answer: &Value) -> End {
        let mut text = answer.to_string();
        text.truncate(300);
        End::Off(format!(
            "fwtrack: the server at {} answered {what} unexpectedly ({text}); the files of run \
             {} were not uploaded and stay in {}. hint: check that the base URL is a fwtrack \
             server of this version, then `fwtrack sync {}`",
            self.cfg.base_url,
            self.run_name(),
            self.root.display(),
            self.run_dir
        ))
    }

    /// `POST .../blobs` with a pack of `entries`.
    fn post_pack(
        &self,
        backoff: &mut Backoff,
        body: &[u8],
        entries: &[(&Source, String)],
    ) -> Result<Packed, End> {
        let reply = self.call(
            backoff,
            |c, run, t| Some(c.post_pack(run, body, t)),
            Duration::ZERO,
        )?;
        match reply {
            Some(JsonReply::Ok(v)) => {
                let stored = v
                    .get("stored")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let bytes: u64 = entries.iter().map(|(s, _)| s.size).sum();
                let mut g = self.shared.m.lock();
                g.files.blobs_sent += stored.max(entries.len()) as u64;
                g.files.blob_bytes_sent += bytes;
                Ok(Packed::Sent)
            }
            Some(JsonReply::Rejected(400, v, detail)) => {
                // Entries before the refused one may be stored; the manifest's 409 names
                // whatever is still missing.
                let Some(refused) = v.get("refused").and_then(Value::as_array) else {
                    return Err(End::Off(self.files_refusal(400, &detail)));
                };
                let list = refused.iter().filter_map(Value::as_str);
                Ok(Packed::Refused(list.map(str::to_owned).collect()))
            }
            Some(JsonReply::Rejected(413, ..)) => Ok(Packed::TooLarge),
            Some(JsonReply::Rejected(code, _, detail)) => {
                Err(End::Off(self.files_refusal(code, &detail)))
            }
            _ => Err(End::Halted),
        }
    }

    /// `PUT .../blobs/{address}`, the body streamed from the file. False when the file
    /// changed (or the server found its bytes not matching the address).
    fn put(&self, backoff: &mut Backoff, address: &str, src: &Source) -> Result<bool, End> {
        let size = src.size;
        let extra = PER_MIB * (size >> 20) as u32;
        let reply = self.call(
            backoff,
            |c, run, t| {
                let (file, len) = open_regular(&src.path).ok()?;
                if len != size {
                    return None;
                }
                let mut body = Counting {
                    inner: file.take(size),
                    n: 0,
                };
                let reply = c.put_blob(run, address, size, &mut body, t);
                if body.n < size && matches!(reply, JsonReply::Transient(_)) {
                    // Cut short: the file may have shrunk meanwhile.
                    let now = std::fs::symlink_metadata(&src.path).map(|m| m.len()).ok();
                    if now != Some(size) {
                        return None;
                    }
                }
                Some(reply)
            },
            extra,
        )?;
        match reply {
            None | Some(JsonReply::Rejected(400, ..)) => Ok(false),
            Some(JsonReply::Ok(_)) => {
                let mut g = self.shared.m.lock();
                g.files.blobs_sent += 1;
                g.files.blob_bytes_sent += size;
                Ok(true)
            }
            Some(JsonReply::Rejected(code, _, detail)) => {
                Err(End::Off(self.files_refusal(code, &detail)))
            }
            Some(_) => Err(End::Halted),
        }
    }

    /// Send one blob alone: through the object store when the server offers it (see the
    /// module docstring), else streamed to the server. False when the file changed (or the
    /// server found its bytes not matching the address).
    fn put_large(&self, backoff: &mut Backoff, address: &str, src: &Source) -> Result<bool, End> {
        if self.uploads.load(Ordering::Relaxed) {
            match self.presigned(backoff, address, src)? {
                Large::Stored => return Ok(true),
                Large::Changed => return Ok(false),
                Large::NoRoute => self.uploads.store(false, Ordering::Relaxed),
                Large::Server => {}
            }
        }
        self.put(backoff, address, src)
    }

    /// `POST .../blobs/uploads`, the parts it lists to their URLs, then `complete`; asked
    /// again (resuming) after an expired URL or a part the store lacks.
    fn presigned(&self, backoff: &mut Backoff, address: &str, src: &Source) -> Result<Large, End> {
        let ask = json!({"address": address, "size": src.size});
        let mut refused = None;
        for _ in 0..UPLOAD_ROUNDS {
            let reply = self.call_allowing(
                backoff,
                |c, run, t| Some(c.post_json(&run.uploads, &ask, t)),
                Duration::ZERO,
                &[404, 405],
            )?;
            let v = match reply {
                Some(JsonReply::Ok(v)) => v,
                Some(JsonReply::Refused(..)) => return Ok(Large::NoRoute),
                Some(JsonReply::Rejected(code, _, detail)) => {
                    return Err(End::Off(self.files_refusal(code, &detail)));
                }
                _ => return Err(End::Halted),
            };
            match v.get("mode").and_then(Value::as_str) {
                Some("stored") => return Ok(Large::Stored),
                Some("server") => return Ok(Large::Server),
                Some("presigned") => {}
                _ => return Err(self.unexpected("POST blobs/uploads", &v)),
            }
            let (Some(upload), Some(jobs)) = (
                v.get("upload").and_then(Value::as_str),
                part_jobs(&v, src.size),
            ) else {
                return Err(self.unexpected("POST blobs/uploads", &v));
            };
            let sent = match self.send_parts(jobs, src)? {
                Parts::Sent(sent) => sent,
                Parts::Expired(why) => {
                    refused = Some(why);
                    continue;
                }
                Parts::Changed => return Ok(Large::Changed),
            };
            let body = json!({
                "parts": sent
                    .iter()
                    .map(|(number, etag)| json!({"number": number, "etag": etag}))
                    .collect::<Vec<_>>(),
            });
            // The server reads the whole blob back to verify it.
            let extra = PER_MIB * u32::try_from(src.size >> 20).unwrap_or(u32::MAX);
            let reply = self.call_allowing(
                backoff,
                |c, run, t| {
                    let url = format!("{}/{}/complete", run.uploads, segment(upload));
                    Some(c.post_json(&url, &body, t))
                },
                extra,
                &[404],
            )?;
            match reply {
                Some(JsonReply::Ok(_)) => {
                    self.shared.m.lock().files.blobs_sent += 1;
                    return Ok(Large::Stored);
                }
                Some(JsonReply::Rejected(400, ..)) => return Ok(Large::Changed),
                // Parts the store lacks, or the upload is gone (aborted): ask again.
                Some(JsonReply::Rejected(409, ..) | JsonReply::Refused(404, _)) => {}
                Some(JsonReply::Rejected(code, _, detail)) => {
                    return Err(End::Off(self.files_refusal(code, &detail)));
                }
                _ => return Err(End::Halted),
            }
        }
        if let Some(why) = refused {
            self.shared.warn(format!(
                "fwtrack: the object store kept refusing the presigned URLs of {} ({why}); it \
                 goes through the server at {} instead. hint: check the server's \
                 --s3-public-endpoint (clients must reach it under that name)",
                src.path.display(),
                self.cfg.base_url
            ));
        }
        Ok(Large::Server)
    }

    /// Send `jobs` to their URLs, `PARALLEL_PARTS` at a time.
    fn send_parts(&self, jobs: Vec<PartJob>, src: &Source) -> Result<Parts, End> {
        let threads = PARALLEL_PARTS.min(jobs.len());
        let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
        let sent: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
        let stopped: Mutex<Option<Result<Parts, End>>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for i in 0..threads {
                let (queue, sent, stopped) = (&queue, &sent, &stopped);
                scope.spawn(move || {
                    let mut backoff = Backoff::new(self.cfg, 0x5057 + i as u64);
                    loop {
                        if stopped.lock().is_some() {
                            break;
                        }
                        let Some(job) = queue.lock().pop_front() else {
                            break;
                        };
                        match self.send_part(&mut backoff, &job, src) {
                            Ok(Some(etag)) => sent.lock().push((job.number, etag)),
                            Ok(None) => {
                                stopped.lock().get_or_insert(Ok(Parts::Changed));
                            }
                            Err(Ok(end)) => {
                                stopped.lock().get_or_insert(Err(end));
                            }
                            Err(Err(why)) => {
                                stopped.lock().get_or_insert(Ok(Parts::Expired(why)));
                            }
                        }
                    }
                });
            }
        });
        if let Some(outcome) = stopped.into_inner() {
            return outcome;
        }
        let mut sent = sent.into_inner();
        sent.sort_unstable();
        Ok(Parts::Sent(sent))
    }

    /// One part, retried through transient failures: its ETag; `Ok(None)` when the file
    /// changed; `Err(Err(why))` when the URL no longer works (ask again), `Err(Ok(end))`
    /// when the upload stops.
    fn send_part(
        &self,
        backoff: &mut Backoff,
        job: &PartJob,
        src: &Source,
    ) -> Result<Option<String>, Result<End, String>> {
        let extra = PER_MIB * u32::try_from(job.size >> 20).unwrap_or(u32::MAX);
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return Err(Ok(end));
            }
            let Ok((mut file, len)) = open_regular(&src.path) else {
                return Ok(None);
            };
            if len != src.size || file.seek(SeekFrom::Start(job.offset)).is_err() {
                return Ok(None);
            }
            let mut body = Counting {
                inner: file.take(job.size),
                n: 0,
            };
            let timeout = self
                .shared
                .request_timeout(self.cfg.request_timeout + extra);
            match self.client.put_part(&job.url, job.size, &mut body, timeout) {
                PartReply::Stored(etag) => {
                    backoff.reset();
                    self.shared.m.lock().files.blob_bytes_sent += job.size;
                    return Ok(Some(etag));
                }
                PartReply::Expired(code, text) => {
                    return Err(Err(format!("{}: {text}", describe_status(code))));
                }
                PartReply::Transient(msg) => {
                    if body.n < job.size {
                        let now = std::fs::symlink_metadata(&src.path).map(|m| m.len()).ok();
                        if now != Some(src.size) {
                            return Ok(None);
                        }
                    }
                    self.failure(msg);
                    self.back_off(backoff);
                }
            }
        }
    }
}

/// The parts a `presigned` answer lists, each checked to lie inside a blob of `size` bytes.
fn part_jobs(v: &Value, size: u64) -> Option<Vec<PartJob>> {
    let part_size = v.get("part_size")?.as_u64().filter(|&p| p > 0)?;
    let mut jobs = Vec::new();
    for part in v.get("parts")?.as_array()? {
        let number = part.get("number")?.as_u64().filter(|&n| n >= 1)?;
        let offset = (number - 1).checked_mul(part_size)?;
        let len = part.get("size")?.as_u64()?;
        if len > part_size || offset.checked_add(len)? > size {
            return None;
        }
        let url = part.get("url")?.as_str()?;
        let ok_scheme = url.starts_with("http://") || url.starts_with("https://");
        if !ok_scheme {
            return None;
        }
        jobs.push(PartJob {
            number,
            offset,
            size: len,
            url: url.to_owned(),
        });
    }
    Some(jobs)
}

pub(crate) struct FilesWorker {
    cfg: Config,
    root: PathBuf,
    shared: Arc<Shared>,
    client: Client,
    run: Option<RunPath>,
    entity: String,
    files: Files,
    /// Sizes of the files found by the current pass's scan.
    sizes: BTreeMap<String, u64>,
    backoff: Backoff,
    pack_limit: usize,
    per_request: usize,
    warned: HashSet<PathBuf>,
    path_warnings: u32,
    /// Refused paths past `MAX_PATH_WARNINGS` already counted in a warning.
    path_warnings_told: u32,
    run_dir: String,
    save_warned: bool,
    /// `files` differs from what `upload.json` holds (beyond modification times that became
    /// trusted: those are written with the next change, so that a pass with nothing new
    /// writes nothing).
    dirty: bool,
    /// The server may have `POST .../blobs/uploads` (false once it answered 404/405).
    uploads: AtomicBool,
    /// `<run dir>/artifacts`: the artifact commits (`pending/`, `committed/`, `failed/`).
    artifacts: PathBuf,
}

impl FilesWorker {
    pub(crate) fn new(cfg: Config, root: PathBuf, shared: Arc<Shared>) -> FilesWorker {
        let client = Client::new(&cfg.base_url, &cfg.api_key, &cfg.user_agent);
        let backoff = Backoff::new(&cfg, (Arc::as_ptr(&shared) as u64).rotate_left(17));
        let parent = root.parent().unwrap_or(Path::new("."));
        let run_dir = parent.display().to_string();
        let artifacts = parent.join(crate::ARTIFACTS_DIR_NAME);
        FilesWorker {
            pack_limit: cfg.max_pack_bytes,
            per_request: MAX_PER_REQUEST,
            cfg,
            root,
            shared,
            client,
            run: None,
            entity: String::new(),
            files: Files::new(),
            sizes: BTreeMap::new(),
            backoff,
            warned: HashSet::new(),
            path_warnings: 0,
            path_warnings_told: MAX_PATH_WARNINGS,
            run_dir,
            save_warned: false,
            dirty: false,
            uploads: AtomicBool::new(true),
            artifacts,
        }
    }

    /// The thread's body: upload, then publish how it ended. Never unwinds.
    pub(crate) fn run(mut self) {
        let shared = self.shared.clone();
        let end = catch_unwind(AssertUnwindSafe(|| self.main())).unwrap_or_else(|_| {
            End::Off(format!(
                "fwtrack: uploading the files of the run failed unexpectedly; they are kept \
                 locally in {}. hint: upload them with `fwtrack sync {}`",
                self.root.display(),
                self.run_dir
            ))
        });
        shared.end(Part::Files, end);
    }

    fn run_name(&self) -> String {
        link!(self).run_name()
    }

    fn main(&mut self) -> End {
        self.count_commits();
        match self.wait_for_run() {
            Ok(entity) => self.entity = entity,
            Err(end) => return end,
        }
        self.run = Some(RunPath::new(
            &self.cfg.base_url,
            &self.entity,
            &self.cfg.project,
            &self.cfg.run_id,
        ));
        self.files = self.shared.persist.lock().files();
        let mut final_tries = 0;
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return end;
            }
            // Only a pass that starts after the log is complete sees every file.
            let complete = self.shared.is_complete();
            let unsettled = match self.pass() {
                Ok(u) => u,
                Err(end) => return end,
            };
            // The artifact commits once the files are through: a commit's blobs may be
            // among them, and its manifest names no run file.
            let commits_left = match self.commit_artifacts() {
                Ok(left) => left,
                Err(end) => return end,
            };
            if complete {
                if unsettled.is_empty() && commits_left.is_none() {
                    return End::Done;
                }
                final_tries += 1;
                if final_tries >= FINAL_TRIES {
                    for name in &unsettled {
                        self.shared.warn(format!(
                            "fwtrack: {} kept changing while it was uploaded, so it was not \
                             uploaded. hint: once nothing writes to it, run `fwtrack sync {}`",
                            self.root.join(name).display(),
                            self.run_dir
                        ));
                    }
                    if let Some(why) = commits_left {
                        return End::Off(self.commits_left_message(&why));
                    }
                    return End::Done;
                }
                self.shared.sleep(UNSETTLED_WAIT, WakeOn::Abort);
                continue;
            }
            // The next pass, after the interval or as soon as the log is complete (perhaps
            // declared while this pass ran).
            self.shared.sleep(self.cfg.files_interval, WakeOn::Complete);
        }
    }

    /// Wait until the run exists on the server (the log thread has an acknowledged offset)
    /// and its entity is known; the entity.
    fn wait_for_run(&self) -> Result<String, End> {
        loop {
            if let Some(end) = self.shared.stop_reason() {
                return Err(end);
            }
            let mut g = self.shared.m.lock();
            if g.log_ended && !g.log_done {
                return Err(End::Halted);
            }
            if g.acked > 0 {
                if let Some(e) = &g.entity {
                    return Ok(e.clone());
                }
            }
            match g.deadline {
                Some(d) => {
                    self.shared.cv.wait_until(&mut g, d);
                }
                None => self.shared.cv.wait(&mut g),
            }
        }
    }

    /// Publish the progress: `total` files found (when scanned now), and what is pending.
    fn publish(&self, total: Option<u64>, unsettled: &BTreeSet<String>) {
        let (mut pending, mut bytes) = (0u64, 0u64);
        for e in self.files.values() {
            if !e.recorded && !e.refused {
                pending += 1;
                bytes += e.size;
            }
        }
        for name in unsettled {
            if !self.files.contains_key(name) {
                pending += 1;
                bytes += self.sizes.get(name).copied().unwrap_or(0);
            }
        }
        let mut g = self.shared.m.lock();
        if let Some(t) = total {
            g.files.total = t;
        }
        g.files.pending = pending;
        g.files.pending_bytes = bytes;
        drop(g);
        self.shared.cv.notify_all();
    }

    fn save(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let res = self.shared.persist.lock().set_files(&self.files);
        if let Err(e) = res {
            if !self.save_warned {
                self.save_warned = true;
                self.shared.warn(format!(
                    "fwtrack: cannot record the upload progress in {} ({e}); an interrupted \
                     upload hashes the run's files again",
                    self.cfg.state_path.display()
                ));
            }
        }
    }

    /// One pass over the run's files; the names left for the next pass (they changed while
    /// they were hashed or sent).
    fn pass(&mut self) -> Result<BTreeSet<String>, End> {
        let scan = blobs::scan(&self.root);
        for (path, msg) in &scan.skipped {
            if self.warned.insert(path.clone()) {
                self.shared.warn(msg.clone());
            }
        }
        let hashed = blobs::update(&mut self.files, &scan);
        let mut unsettled: BTreeSet<String> = hashed.unsettled.into_iter().collect();
        self.sizes = scan
            .files
            .iter()
            .map(|f| (f.name.clone(), f.size))
            .collect();
        self.publish(Some(scan.files.len() as u64), &unsettled);
        if hashed.changed {
            self.dirty = true;
            self.save();
        }
        let want: Vec<String> = self
            .files
            .iter()
            .filter(|(_, e)| !e.recorded && !e.refused)
            .map(|(n, _)| n.clone())
            .collect();
        if want.is_empty() {
            return Ok(unsettled);
        }
        // One source per address (the first file holding it).
        let mut sources: BTreeMap<String, Source> = BTreeMap::new();
        for name in &want {
            if let Some(e) = self.files.get(name) {
                sources.entry(e.address.clone()).or_insert_with(|| Source {
                    path: self.root.join(name),
                    size: e.size,
                });
            }
        }
        let addresses: Vec<String> = sources.keys().cloned().collect();
        let missing = self.ask_missing(&addresses)?;
        let bad = self.send(missing, &sources)?;
        let mut names = Vec::with_capacity(want.len());
        for name in want {
            let stale = self
                .files
                .get(&name)
                .is_none_or(|e| bad.contains(&e.address));
            if stale {
                self.files.remove(&name);
                self.dirty = true;
                unsettled.insert(name);
            } else {
                names.push(name);
            }
        }
        self.record(names, &sources, &mut unsettled)?;
        if self.path_warnings > self.path_warnings_told {
            self.shared.warn(format!(
                "fwtrack: the server at {} refused {} more files of run {}; they are marked \
                 \"refused\" in {}",
                self.cfg.base_url,
                self.path_warnings - self.path_warnings_told,
                self.run_name(),
                self.cfg.state_path.display()
            ));
            self.path_warnings_told = self.path_warnings;
        }
        self.save();
        self.publish(None, &unsettled);
        Ok(unsettled)
    }

    /// Send one request, retrying what is retried (see [`Link::call`]).
    fn call(
        &mut self,
        attempt: impl FnMut(&Client, &RunPath, Duration) -> Option<JsonReply>,
        extra_time: Duration,
    ) -> Result<Option<JsonReply>, End> {
        link!(self).call(&mut self.backoff, attempt, extra_time)
    }

    /// `POST .../blobs/missing` for `addresses`, in chunks: the ones the server lacks.
    fn ask_missing(&mut self, addresses: &[String]) -> Result<Vec<String>, End> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < addresses.len() {
            let part = &addresses[i..addresses.len().min(i + self.per_request)];
            let body = json!({ "addresses": part });
            let reply = self.call(
                |c, run, t| Some(c.post_json(&run.missing, &body, t)),
                Duration::ZERO,
            )?;
            match reply {
                Some(JsonReply::Ok(v)) => {
                    let Some(list) = v.get("missing").and_then(Value::as_array) else {
                        return Err(link!(self).unexpected("POST blobs/missing", &v));
                    };
                    out.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
                    i += part.len();
                }
                Some(JsonReply::Rejected(413, ..)) if part.len() > 1 => {
                    self.per_request = (part.len() / 2).max(1);
                }
                Some(JsonReply::Rejected(code, _, detail)) => {
                    return Err(End::Off(link!(self).files_refusal(code, &detail)));
                }
                _ => return Err(End::Halted),
            }
        }
        Ok(out)
    }

    /// Send the blobs of `missing`: packed, up to `PARALLEL_PACKS` packs in flight at once
    /// (the server verifies and stores each while the next arrives), or alone and streamed
    /// when larger than a pack. Returns the addresses whose files changed since they were
    /// hashed (or that the server refused as not matching): their files are hashed again.
    fn send(
        &mut self,
        missing: Vec<String>,
        sources: &BTreeMap<String, Source>,
    ) -> Result<BTreeSet<String>, End> {
        // In the order of their paths: neighbours on disk are read together.
        let mut queue: Vec<(&Source, String)> = missing
            .into_iter()
            .filter_map(|a| sources.get(&a).map(|s| (s, a)))
            .collect();
        queue.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        let limit = self.pack_limit;
        let bad = Mutex::new(BTreeSet::new());
        let back: Mutex<Vec<(&Source, String)>> = Mutex::new(Vec::new());
        let failed: Mutex<Option<End>> = Mutex::new(None);
        let link = link!(self);
        let backoff = &mut self.backoff;
        // A rendezvous: the next pack is built while up to PARALLEL_PACKS are sent.
        let (tx, rx) = std::sync::mpsc::sync_channel::<PackJob<'_>>(0);
        let rx = Mutex::new(rx);
        std::thread::scope(|scope| {
            let tx = tx; // dropped when the last pack is handed over: the senders end
            for i in 0..PARALLEL_PACKS {
                let (rx, link, bad, back, failed) = (&rx, &link, &bad, &back, &failed);
                scope.spawn(move || {
                    let mut backoff = Backoff::new(link.cfg, i as u64);
                    loop {
                        let job = rx.lock().recv();
                        let Ok((body, entries)) = job else {
                            break;
                        };
                        if failed.lock().is_some() {
                            continue;
                        }
                        match link.post_pack(&mut backoff, &body, &entries) {
                            Ok(Packed::Sent) => {}
                            Ok(Packed::Refused(list)) => bad.lock().extend(list),
                            Ok(Packed::TooLarge) => back.lock().extend(entries),
                            Err(end) => {
                                failed.lock().get_or_insert(end);
                            }
                        }
                    }
                });
            }
            let mut pack = Vec::new();
            let mut in_pack: Vec<(&Source, String)> = Vec::new();
            for (src, address) in queue {
                if failed.lock().is_some() {
                    break;
                }
                let need = entry_overhead(&address) + src.size as usize;
                if need > limit {
                    match link.put_large(backoff, &address, src) {
                        Ok(true) => {}
                        Ok(false) => {
                            bad.lock().insert(address);
                        }
                        Err(end) => {
                            failed.lock().get_or_insert(end);
                        }
                    }
                    continue;
                }
                if !in_pack.is_empty() && pack.len() + need > limit {
                    let job = (std::mem::take(&mut pack), std::mem::take(&mut in_pack));
                    if tx.send(job).is_err() {
                        break;
                    }
                }
                match read_verified(&src.path, src.size, &address) {
                    Some(data) => {
                        push_entry(&mut pack, &address, &data);
                        in_pack.push((src, address));
                    }
                    None => {
                        bad.lock().insert(address);
                    }
                }
            }
            if !in_pack.is_empty() && failed.lock().is_none() {
                let _ = tx.send((pack, in_pack));
            }
        });
        if let Some(end) = failed.into_inner() {
            return Err(end);
        }
        let mut bad = bad.into_inner();
        let back = back.into_inner();
        if !back.is_empty() {
            // The server takes smaller bodies than ours: send those again in packs half as
            // large (down to one blob each, then streamed).
            self.pack_limit = (limit / 2).max(1);
            let again = back.into_iter().map(|(_, a)| a).collect();
            bad.extend(self.send(again, sources)?);
        }
        Ok(bad)
    }

    /// `POST .../files` for `names`, in chunks. A `409` naming missing blobs sends them and
    /// tries again; a path the server refuses (a file/folder clash, a name it does not take)
    /// is isolated by halving, warned about and not tried again until it changes.
    fn record(
        &mut self,
        names: Vec<String>,
        sources: &BTreeMap<String, Source>,
        unsettled: &mut BTreeSet<String>,
    ) -> Result<(), End> {
        let mut work: Vec<Vec<String>> = names
            .chunks(self.per_request.max(1))
            .rev()
            .map(<[String]>::to_vec)
            .collect();
        while let Some(mut chunk) = work.pop() {
            let mut rounds = 0;
            loop {
                if chunk.is_empty() {
                    break;
                }
                let entries: Vec<Value> = chunk
                    .iter()
                    .filter_map(|n| {
                        let e = self.files.get(n)?;
                        Some(json!({"path": n, "address": e.address, "size": e.size}))
                    })
                    .collect();
                let body = json!({ "files": entries });
                let reply = self.call(
                    |c, run, t| Some(c.post_json(&run.files, &body, t)),
                    Duration::ZERO,
                )?;
                let (code, v, detail) = match reply {
                    Some(JsonReply::Ok(_)) => {
                        for n in &chunk {
                            if let Some(e) = self.files.get_mut(n) {
                                e.recorded = true;
                            }
                        }
                        self.shared.m.lock().files.recorded += chunk.len() as u64;
                        self.dirty = true;
                        self.save();
                        self.publish(None, unsettled);
                        break;
                    }
                    Some(JsonReply::Rejected(code, v, detail)) => (code, v, detail),
                    _ => return Err(End::Halted),
                };
                let missing: Option<Vec<String>> = (code == 409)
                    .then(|| v.get("missing").and_then(Value::as_array))
                    .flatten()
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    });
                if let Some(missing) = missing.filter(|m| !m.is_empty()) {
                    rounds += 1;
                    if rounds > MISSING_ROUNDS {
                        unsettled.extend(chunk);
                        break;
                    }
                    let bad = self.send(missing, sources)?;
                    if !bad.is_empty() {
                        let files = &mut self.files;
                        chunk.retain(|n| {
                            let stale = files.get(n).is_none_or(|e| bad.contains(&e.address));
                            if stale {
                                files.remove(n);
                                self.dirty = true;
                                unsettled.insert(n.clone());
                            }
                            !stale
                        });
                    }
                    continue;
                }
                if chunk.len() > 1 {
                    let back = chunk.split_off(chunk.len() / 2);
                    work.push(back);
                    work.push(chunk);
                    break;
                }
                self.refuse_path(&chunk[0], code, &detail);
                break;
            }
        }
        Ok(())
    }

    fn refuse_path(&mut self, name: &str, code: u16, detail: &str) {
        if let Some(e) = self.files.get_mut(name) {
            e.refused = true;
        }
        self.dirty = true;
        self.save();
        self.path_warnings += 1;
        if self.path_warnings <= MAX_PATH_WARNINGS {
            let why = match code {
                409 => "a file and a folder of a run cannot share a name: rename it",
                400 => "the server does not take this name for a run file: rename it",
                _ => "fix the cause above",
            };
            self.shared.warn(format!(
                "fwtrack: the server at {} refused the run file {} ({}: {detail}); it was not \
                 uploaded (the other files were). hint: {why}, then `fwtrack sync {}`",
                self.cfg.base_url,
                self.root.join(name).display(),
                describe_status(code),
                self.run_dir
            ));
        }
    }
}

// After `link!`, which it uses.
mod artifacts;
