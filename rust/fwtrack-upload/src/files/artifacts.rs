//! Artifact commits (docs/server.md, "Upload protocol"): the files thread, in every pass
//! once the run exists on the server, commits the pending commits the SDK wrote to
//! `<run dir>/artifacts/pending/*.json` (in name order):
//!
//! ```json
//! {"id": "<32 hex>", "project": "p", "name": "mnist-train", "type": "dataset",
//!  "description": null, "metadata": {}, "aliases": ["best"], "digest": "blake3:<hex>",
//!  "blob_dir": "/abs/path", "created_at": 1765000000.0}
//! ```
//!
//! It reads the manifest blob (named by `digest`) from `blob_dir` (`<hh>/<hex>`), asks the
//! server which of its addresses (and the digest) the entity lacks (`POST .../blobs/missing`,
//! 10,000 a request), sends those from `blob_dir` through the run files' machinery (packs,
//! streamed `PUT`s, presigned uploads), then posts the commit without `blob_dir`
//! (`POST .../artifacts`). The server's answer (the version) goes to
//! `artifacts/committed/<id>.json` and the pending file is removed. A `409` naming missing
//! blobs has them sent and the commit posted again (`MISSING_ROUNDS` times, then the next
//! pass). A blob neither on the server nor in `blob_dir`, a manifest that is not one, and any
//! other refusal give up on the commit: `artifacts/failed/<id>.json` (`{"id", "error"}`), one
//! warning, the pending file removed. 5xx, `429`/`503` and lost connections are retried as
//! every request of the uploader is; `401`/`403` stop the whole upload (the pending commit
//! stays for `fwtrack sync`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fwtrack_core::address::{Address, Algorithm, hash_file};
use serde_json::{Value, json};

use super::{FilesWorker, Link, MISSING_ROUNDS, Source};
use crate::blobs::read_verified;
use crate::net::{JsonReply, describe_status};
use crate::state::write_atomic;
use crate::worker::End;

const PENDING: &str = "pending";
const COMMITTED: &str = "committed";
const FAILED: &str = "failed";
/// Addresses named in one error, at most (the count says the rest).
const NAMED: usize = 3;
/// The longest commit id taken as a file name.
const MAX_ID: usize = 128;

/// One pending commit, as read from its file.
struct Pending {
    path: PathBuf,
    id: String,
    /// The body of `POST .../artifacts`: the pending JSON without `blob_dir`.
    body: Value,
    digest: Address,
    blob_dir: PathBuf,
}

impl Pending {
    /// `project/name` as the user named the artifact.
    fn label(&self) -> String {
        let field = |k: &str| self.body.get(k).and_then(Value::as_str).unwrap_or("?");
        format!("{}/{}", field("project"), field("name"))
    }
}

/// What became of one pending commit.
enum Fate {
    /// The server's answer: the committed version.
    Committed(Value),
    /// Given up (written to `failed/`): why.
    Failed(String),
    /// Left pending for the next pass: why.
    Later(String),
}

/// An id usable as a file name: letters, digits, `-` and `_`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id a pending file's name carries (`<seq>-<id>.json`), for a file whose JSON does not.
fn id_from_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = stem.split_once('-').map_or(stem.as_str(), |(_, id)| id);
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(MAX_ID)
        .collect();
    if id.is_empty() {
        "unnamed".to_owned()
    } else {
        id
    }
}

/// Where a blob directory keeps `address`: `<dir>/<hh>/<hex>` (BLAKE3 addresses only).
fn blob_path(dir: &Path, address: &Address) -> Option<PathBuf> {
    if address.algo != Algorithm::Blake3 {
        return None;
    }
    let hex = address.hex();
    Some(dir.join(&hex[..2]).join(hex))
}

/// The blob of `address` in `dir` as a source to send, when it is there (a regular file).
fn blob_source(dir: &Path, address: &str) -> Option<Source> {
    let path = blob_path(dir, &Address::parse(address).ok()?)?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    meta.is_file().then_some(Source {
        size: meta.len(),
        path,
    })
}

/// `list`, at most `NAMED` of it, and how many more.
fn some_of(list: &[String]) -> String {
    let mut out = list
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMED {
        let _ = write!(out, " and {} more", list.len() - NAMED);
    }
    out
}

/// Read the pending commit at `path` (relative blob directories are taken from `run_dir`):
/// `Ok(None)` when it is gone (committed by another uploader meanwhile), `Err((id, why))`
/// when it is not a pending commit.
fn read_pending(path: &Path, run_dir: &Path) -> Result<Option<Pending>, (String, String)> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err((id_from_name(path), format!("cannot read it: {e}"))),
    };
    let fail = |why: String| Err((id_from_name(path), why));
    let mut body: Value = match serde_json::from_slice(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return fail("it is not a JSON object".to_owned()),
        Err(e) => return fail(format!("it is not JSON: {e}")),
    };
    let id = match body.get("id").and_then(Value::as_str) {
        Some(id) if valid_id(id) => id.to_owned(),
        _ => {
            return fail(
                "its \"id\" is missing or not letters, digits, '-' and '_' (at most 128)"
                    .to_owned(),
            );
        }
    };
    let fail = |why: String| Err((id.clone(), why));
    let digest = match body
        .get("digest")
        .and_then(Value::as_str)
        .map(Address::parse)
    {
        Some(Ok(a)) if a.algo == Algorithm::Blake3 => a,
        Some(Ok(_)) => return fail("its \"digest\" is not a blake3: address".to_owned()),
        Some(Err(e)) => return fail(format!("its \"digest\" is not an address: {e}")),
        None => return fail("it has no \"digest\"".to_owned()),
    };
    let blob_dir = match body
        .as_object_mut()
        .and_then(|m| m.remove("blob_dir"))
        .as_ref()
        .and_then(Value::as_str)
    {
        Some(d) if !d.is_empty() => run_dir.join(d), // an absolute path replaces run_dir
        _ => return fail("it has no \"blob_dir\"".to_owned()),
    };
    Ok(Some(Pending {
        path: path.to_owned(),
        id,
        body,
        digest,
        blob_dir,
    }))
}

/// The addresses a commit needs on the server: the digest (its manifest) and every entry's
/// address, when the manifest is in the blob directory (`None` when it is not: the server
/// may hold it, and names what it lacks when the commit is posted). `Err` for a manifest
/// blob that is damaged or not a manifest.
fn needed(p: &Pending) -> Result<Option<BTreeSet<String>>, String> {
    let digest = p.digest.to_string();
    let Some(src) = blob_source(&p.blob_dir, &digest) else {
        return Ok(None);
    };
    let Some(data) = read_verified(&src.path, src.size, &digest) else {
        return Err(format!(
            "its manifest {} does not hold the bytes of its digest {digest} (the blob \
             directory is damaged); log the artifact again",
            src.path.display()
        ));
    };
    let not_manifest = |why: &str| {
        format!(
            "its manifest {} is not an artifact manifest ({why})",
            src.path.display()
        )
    };
    let manifest: Value =
        serde_json::from_slice(&data).map_err(|e| not_manifest(&e.to_string()))?;
    let Some(entries) = manifest.get("entries").and_then(Value::as_object) else {
        return Err(not_manifest("no \"entries\" object"));
    };
    let mut out = BTreeSet::new();
    out.insert(digest);
    for (path, entry) in entries {
        let Some(address) = entry.get("address") else {
            continue; // a reference: no bytes of ours
        };
        match address.as_str().map(Address::parse) {
            Some(Ok(a)) => {
                out.insert(a.to_string());
            }
            _ => {
                return Err(not_manifest(&format!(
                    "the entry {path:?} has an invalid address {address}"
                )));
            }
        }
    }
    Ok(Some(out))
}

impl FilesWorker {
    fn pending_dir(&self) -> PathBuf {
        self.artifacts.join(PENDING)
    }

    /// The pending commits' file names, in name order (`.`-files are being written).
    fn pending_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.pending_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                let json = Path::new(n).extension().is_some_and(|e| e == "json");
                json && !n.starts_with('.')
            })
            .collect();
        names.sort();
        names
    }

    /// Publish how many commits are pending.
    pub(super) fn publish_commits(&self, pending: usize) {
        self.shared.m.lock().files.artifacts_pending = pending as u64;
        self.shared.cv.notify_all();
    }

    /// Count the pending commits (before the run exists on the server) and publish it.
    pub(super) fn count_commits(&self) {
        self.publish_commits(self.pending_names().len());
    }

    /// Commit every pending artifact commit (see the module docs). `Some(why)` when some
    /// are left for the next pass.
    pub(super) fn commit_artifacts(&mut self) -> Result<Option<String>, End> {
        let names = self.pending_names();
        let mut pending = names.len();
        self.publish_commits(pending);
        let run_dir = self.artifacts.parent().unwrap_or(Path::new(".")).to_owned();
        let mut later = None;
        for name in names {
            let path = self.pending_dir().join(&name);
            let p = match read_pending(&path, &run_dir) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    pending -= 1;
                    self.publish_commits(pending);
                    continue;
                }
                Err((id, why)) => {
                    let error = format!("the pending commit {} is unusable: {why}", path.display());
                    match self.give_up(&path, &id, &name, &error) {
                        Ok(()) => pending -= 1,
                        Err(why) => later = Some(why),
                    }
                    self.publish_commits(pending);
                    continue;
                }
            };
            let kept = match self.commit(&p)? {
                Fate::Committed(version) => self.committed(&p, &version),
                Fate::Failed(error) => self.give_up(&p.path, &p.id, &p.label(), &error),
                Fate::Later(why) => Err(why),
            };
            match kept {
                Ok(()) => pending -= 1,
                Err(why) => later = Some(why),
            }
            self.publish_commits(pending);
        }
        Ok(later)
    }

    /// The warning for commits still pending when the upload ends.
    pub(super) fn commits_left_message(&self, why: &str) -> String {
        format!(
            "fwtrack: artifact commits of run {} are still pending ({why}); they stay in {} \
             and are not on the server at {}. hint: `fwtrack sync {}` commits them",
            self.run_name(),
            self.pending_dir().display(),
            self.cfg.base_url,
            self.run_dir
        )
    }

    /// Send the commit's missing blobs, post it, and so on until it is done or given up.
    fn commit(&mut self, p: &Pending) -> Result<Fate, End> {
        let addresses: Vec<String> = match needed(p) {
            Ok(Some(set)) => set.into_iter().collect(),
            Ok(None) => vec![p.digest.to_string()],
            Err(why) => return Ok(Fate::Failed(why)),
        };
        let missing = self.ask_missing(&addresses)?;
        if let Some(fate) = self.send_blobs(p, missing)? {
            return Ok(fate);
        }
        let mut rounds = 0;
        loop {
            // A 404 before the server confirmed the run is the run not there yet (the log
            // thread is on it); past that, every refusal but 401/403 is this commit's.
            let waiting = {
                let g = self.shared.m.lock();
                !g.confirmed && !g.log_ended
            };
            let allowed: Vec<u16> = (400..500)
                .filter(|&c| c != 401 && c != 403 && !(waiting && c == 404))
                .collect();
            let url = self
                .run
                .as_ref()
                .map(|r| r.artifacts.clone())
                .unwrap_or_default();
            let reply = link!(self).call_allowing(
                &mut self.backoff,
                |c, _, t| Some(c.post_json(&url, &p.body, t)),
                Duration::ZERO,
                &allowed,
            )?;
            let (code, v, detail) = match reply {
                Some(JsonReply::Ok(version)) => return Ok(Fate::Committed(version)),
                Some(JsonReply::Rejected(code, v, detail)) => (code, v, detail),
                Some(JsonReply::Refused(code, detail)) => (code, Value::Null, detail),
                _ => return Err(End::Halted),
            };
            let missing: Vec<String> = (code == 409)
                .then(|| v.get("missing").and_then(Value::as_array))
                .flatten()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if missing.is_empty() {
                let hint = match code {
                    404 | 405 => format!(
                        "; the server at {} may not take artifacts (upgrade it, or log the \
                         artifact to a `fwtrack server`)",
                        self.cfg.base_url
                    ),
                    _ => String::new(),
                };
                return Ok(Fate::Failed(format!(
                    "the server at {} refused it ({}: {detail}){hint}",
                    self.cfg.base_url,
                    describe_status(code)
                )));
            }
            rounds += 1;
            if rounds > MISSING_ROUNDS {
                return Ok(Fate::Later(format!(
                    "the server kept answering that blobs of {} are missing: {}",
                    p.label(),
                    some_of(&missing)
                )));
            }
            if let Some(fate) = self.send_blobs(p, missing)? {
                return Ok(fate);
            }
        }
    }

    /// Send `missing` from the commit's blob directory. A fate when that cannot be: a blob
    /// is not there, or its bytes are not its address's.
    fn send_blobs(&mut self, p: &Pending, missing: Vec<String>) -> Result<Option<Fate>, End> {
        if missing.is_empty() {
            return Ok(None);
        }
        let mut sources: BTreeMap<String, Source> = BTreeMap::new();
        let mut absent = Vec::new();
        for address in missing {
            match blob_source(&p.blob_dir, &address) {
                Some(src) => {
                    sources.insert(address, src);
                }
                None => absent.push(address),
            }
        }
        if !absent.is_empty() {
            return Ok(Some(Fate::Failed(format!(
                "{} blob{} it needs {} neither on the server nor in {}: {}; log the \
                 artifact again",
                absent.len(),
                if absent.len() == 1 { "" } else { "s" },
                if absent.len() == 1 { "is" } else { "are" },
                p.blob_dir.display(),
                some_of(&absent)
            ))));
        }
        let want: Vec<String> = sources.keys().cloned().collect();
        let bad = self.send(want, &sources)?;
        // Refused as not matching: damaged here, or a hiccup there (sent again on the 409).
        for address in bad {
            let Some(src) = sources.get(&address) else {
                continue;
            };
            let intact = hash_file(&src.path).is_ok_and(|(a, _)| a.to_string() == address);
            if !intact {
                return Ok(Some(Fate::Failed(format!(
                    "the blob {} does not hold the bytes of its address {address} (the blob \
                     directory is damaged); log the artifact again",
                    src.path.display()
                ))));
            }
        }
        Ok(None)
    }

    /// File the server's answer under `committed/<id>.json` and remove the pending file.
    fn committed(&mut self, p: &Pending, version: &Value) -> Result<(), String> {
        let dir = self.artifacts.join(COMMITTED);
        let target = dir.join(format!("{}.json", p.id));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| write_atomic(&target, version.to_string().as_bytes()));
        if let Err(e) = written {
            return Err(format!("cannot write {}: {e}", target.display()));
        }
        remove_pending(&p.path);
        self.shared.m.lock().files.artifacts_committed += 1;
        Ok(())
    }

    /// Give up on a commit: `failed/<id>.json` with the error, one warning, the pending file
    /// removed. `Err` when the record cannot be written (the commit stays pending).
    fn give_up(&mut self, path: &Path, id: &str, label: &str, error: &str) -> Result<(), String> {
        let dir = self.artifacts.join(FAILED);
        let target = dir.join(format!("{id}.json"));
        let doc = json!({"id": id, "error": error}).to_string();
        let written =
            std::fs::create_dir_all(&dir).and_then(|()| write_atomic(&target, doc.as_bytes()));
        if let Err(e) = written {
            return Err(format!("cannot write {}: {e}", target.display()));
        }
        remove_pending(path);
        self.shared.m.lock().files.artifacts_failed += 1;
        self.shared.warn(format!(
            "fwtrack: the artifact {label} (commit {id}) of run {} was not committed to the \
             server at {}: {error} (recorded in {})",
            self.run_name(),
            self.cfg.base_url,
            target.display()
        ));
        Ok(())
    }
}

fn remove_pending(path: &Path) {
    // Gone already is as good: another uploader of this run took it.
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwtrack_core::address::hash_bytes;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn store(dir: &Path, data: &[u8]) -> String {
        let a = hash_bytes(data);
        let p = blob_path(dir, &a).unwrap_or_else(|| panic!("blake3"));
        std::fs::create_dir_all(p.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(p, data).unwrap_or_else(|e| panic!("{e}"));
        a.to_string()
    }

    #[test]
    fn ids_from_json_or_name() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("../x"));
        assert!(!valid_id(""));
        assert_eq!(id_from_name(Path::new("/p/000003-abc.json")), "abc");
        assert_eq!(id_from_name(Path::new("/p/..json")), "unnamed");
    }

    #[test]
    fn pending_and_manifest_are_read_and_checked() {
        let dir = tmp();
        let blobs = dir.path().join("blobs");
        let a = store(&blobs, b"one");
        let manifest = json!({"version": 1, "entries": {
            "a.txt": {"address": a, "size": 3},
            "raw": {"ref": "s3://bucket/x"},
        }});
        let digest = store(&blobs, manifest.to_string().as_bytes());
        let pending = dir.path().join("000001-abc.json");
        let doc = json!({"id": "abc", "project": "p", "name": "n", "digest": digest,
                         "blob_dir": "blobs"});
        std::fs::write(&pending, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let p = read_pending(&pending, dir.path())
            .unwrap_or_else(|e| panic!("{e:?}"))
            .unwrap_or_else(|| panic!("gone"));
        assert_eq!(p.blob_dir, blobs);
        assert!(p.body.get("blob_dir").is_none());
        assert_eq!(p.label(), "p/n");
        let need = needed(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(need, Some([a, digest.clone()].into_iter().collect()));

        // A damaged manifest blob is an error; one not there is for the server to judge.
        let path = blob_path(&blobs, &p.digest).unwrap_or_default();
        std::fs::write(&path, b"{}").unwrap_or_else(|e| panic!("{e}"));
        assert!(needed(&p).is_err_and(|e| e.contains("does not hold")));
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(needed(&p), Ok(None));

        std::fs::write(&pending, "{\"id\": \"abc\"}").unwrap_or_else(|e| panic!("{e}"));
        let err = read_pending(&pending, dir.path()).err();
        assert_eq!(err, Some(("abc".into(), "it has no \"digest\"".into())));
        std::fs::write(&pending, "not json").unwrap_or_else(|e| panic!("{e}"));
        assert!(read_pending(&pending, dir.path()).is_err_and(|(id, _)| id == "abc"));
        std::fs::remove_file(&pending).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read_pending(&pending, dir.path()), Ok(None)));
    }
}
