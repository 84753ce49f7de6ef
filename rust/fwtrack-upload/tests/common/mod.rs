//! A small HTTP server (std `TcpListener`) that implements the upload protocol of
//! docs/server.md in memory (the log by offset, blobs by content address, the run's file
//! manifest, and, when `presign` is set, large blobs through "presigned" part URLs of an
//! in-memory bucket served under `/bucket/`), with scripted faults, and helpers that build
//! run logs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fwtrack_core::address::{Address, verify};
use fwtrack_core::codec::{self, HEADER_LEN, Tail};
use fwtrack_core::record::Record;
use fwtrack_upload::Config;
use parking_lot::Mutex;

pub const KEY: &str = "fwk_test";
pub const USER: &str = "alice";

/// What the server does with the next upload request instead of the protocol.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and a JSON detail.
    Status(u16),
    /// Answer 429 or 503 with `Retry-After: secs`.
    Busy(u16, u64),
    /// Close the connection without answering.
    Drop,
}

/// One request to a blob route (`blobs/missing`, `blobs`, `blobs/{address}`, `files`).
#[derive(Clone, Debug)]
pub struct BlobSeen {
    pub method: String,
    /// "missing", "pack", "put" or "files".
    pub kind: &'static str,
    pub len: usize,
    pub at: Instant,
    pub status: u16,
}

/// One upload request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub offset: u64,
    pub len: usize,
    pub at: Instant,
    pub status: u16,
}

/// How the server offers presigned uploads.
#[derive(Clone, Copy, Debug)]
pub struct Presign {
    pub threshold: u64,
    pub part_size: u64,
}

/// A multipart upload of the in-memory bucket.
#[derive(Clone, Debug, Default)]
pub struct MockUpload {
    pub entity: String,
    pub address: String,
    pub size: u64,
    pub parts: BTreeMap<u64, Vec<u8>>,
}

/// One request to the bucket.
#[derive(Clone, Debug)]
pub struct PartSeen {
    pub upload: String,
    pub number: u64,
    pub len: usize,
    /// It carried an `Authorization` header (it must not).
    pub authorized: bool,
    pub status: u16,
}

#[derive(Default)]
pub struct ServerState {
    /// The server's base URL (for the part URLs it hands out).
    pub url: String,
    /// Stored logs by "entity/project/run".
    pub logs: HashMap<String, Vec<u8>>,
    pub faults: VecDeque<Fault>,
    pub seen: Vec<Seen>,
    pub max_body: Option<usize>,
    pub user_agents: Vec<String>,
    /// Stored blobs by (entity, address).
    pub blobs: HashMap<(String, String), Vec<u8>>,
    /// How often each (entity, address) was stored (a second store of the same bytes counts).
    pub stores: HashMap<(String, String), u32>,
    /// The file manifest of each run ("entity/project/run"): path -> (address, size).
    pub manifests: HashMap<String, BTreeMap<String, (String, u64)>>,
    pub blob_faults: VecDeque<Fault>,
    pub blob_seen: Vec<BlobSeen>,
    /// Answer every blob route 404, as a server without them would.
    pub no_blob_routes: bool,
    /// Answer the next packs 200 without storing them.
    pub lose_packs: u32,
    /// Refuse these addresses once each (in a pack or a `PUT`) as not matching their bytes.
    pub refuse_once: std::collections::HashSet<String>,
    /// Wait this long before answering a blob route.
    pub blob_delay: Duration,
    /// Answer a larger pack `413`.
    pub max_pack: Option<usize>,
    /// Offer `POST .../blobs/uploads` (a server on an object store): blobs over
    /// `threshold` go in parts of `part_size` to `/bucket/<upload>/<number>`. `None`: the
    /// route is missing (an older server: 404).
    pub presign: Option<Presign>,
    /// The multipart uploads under way, by id.
    pub uploads: BTreeMap<String, MockUpload>,
    /// Every request to the bucket.
    pub bucket_seen: Vec<PartSeen>,
    /// Answer the next part requests `403` (an expired URL).
    pub expire_parts: u32,
    /// Answer the next part requests `500`.
    pub fail_parts: u32,
    /// Part requests being answered right now, and the most at once.
    pub parts_in_flight: u32,
    pub max_parts_in_flight: u32,
    /// Wait this long in each part request.
    pub part_delay: Duration,
    /// Committed artifact versions (the commit bodies with `version`), in commit order.
    pub artifacts: Vec<serde_json::Value>,
    /// Every artifact commit body as it arrived.
    pub commits_seen: Vec<serde_json::Value>,
    /// The number of addresses in each `blobs/missing` request.
    pub missing_asked: Vec<usize>,
}

pub struct TestServer {
    pub url: String,
    pub state: Arc<Mutex<ServerState>>,
    stop: Arc<AtomicBool>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    Some(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn respond(s: &mut TcpStream, status: u16, body: &str, extra: &str) {
    let reason = match status {
        200 => "OK",
        409 => "Conflict",
        _ => "Error",
    };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = s.write_all(msg.as_bytes());
}

/// The protocol's decision for an upload of `body` at `n` onto `stored`.
fn upload(stored: &mut Vec<u8>, n: u64, body: &[u8]) -> (u16, String) {
    let s = stored.len() as u64;
    if n > s {
        return (409, format!(r#"{{"offset": {s}}}"#));
    }
    if n + body.len() as u64 <= s {
        return (200, format!(r#"{{"offset": {s}}}"#));
    }
    let new = &body[(s - n) as usize..];
    let (frames_from, base) = if s == 0 {
        if new.len() < HEADER_LEN || codec::check_header(new, "upload").is_err() {
            return (
                400,
                r#"{"detail": "the upload does not start with a log header"}"#.into(),
            );
        }
        (&new[HEADER_LEN..], HEADER_LEN as u64)
    } else {
        (new, s)
    };
    let (_, tail) = codec::scan_frames(frames_from, base);
    if tail != Tail::Clean {
        return (
            400,
            format!(r#"{{"detail": "not whole frames: {tail:?}"}}"#),
        );
    }
    stored.extend_from_slice(new);
    (200, format!(r#"{{"offset": {}}}"#, stored.len()))
}

fn json_list(v: &serde_json::Value, key: &str) -> Vec<serde_json::Value> {
    v.get(key)
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The blob routes: (status, JSON body, extra headers), or `None` to drop the connection.
fn blob_route(
    st: &mut ServerState,
    req: &Request,
    run: &str,
    entity: &str,
    rest: &[&str],
) -> Option<(u16, String, String)> {
    let kind = match (req.method.as_str(), rest) {
        ("POST", ["blobs", "missing"]) => "missing",
        ("POST", ["blobs"]) => "pack",
        ("PUT", ["blobs", _]) => "put",
        ("POST", ["files"]) => "files",
        ("POST", ["artifacts"]) => "artifacts",
        ("POST", ["blobs", "uploads"]) if st.presign.is_some() => "uploads",
        ("POST", ["blobs", "uploads", _, "complete"]) if st.presign.is_some() => "complete",
        _ => return Some((404, r#"{"detail": "no such route"}"#.into(), String::new())),
    };
    let fault = st.blob_faults.pop_front();
    let reply = match fault {
        _ if st.no_blob_routes => Some((404, r#"{"detail": "Not Found"}"#.into(), String::new())),
        Some(Fault::Drop) => None,
        Some(Fault::Status(code)) => Some((
            code,
            r#"{"detail": "scripted failure"}"#.into(),
            String::new(),
        )),
        Some(Fault::Busy(code, secs)) => Some((
            code,
            r#"{"detail": "busy"}"#.into(),
            format!("Retry-After: {secs}\r\n"),
        )),
        None => Some(blob_protocol(st, req, run, entity, kind)),
    };
    st.blob_seen.push(BlobSeen {
        method: req.method.clone(),
        kind,
        len: req.body.len(),
        at: Instant::now(),
        status: reply.as_ref().map_or(0, |r| r.0),
    });
    reply
}

fn blob_protocol(
    st: &mut ServerState,
    req: &Request,
    run: &str,
    entity: &str,
    kind: &str,
) -> (u16, String, String) {
    let ok = |body: serde_json::Value| (200, body.to_string(), String::new());
    let bad = |code: u16, body: serde_json::Value| (code, body.to_string(), String::new());
    let has = |st: &ServerState, a: &str| st.blobs.contains_key(&(entity.to_owned(), a.to_owned()));
    let store = |st: &mut ServerState, a: &str, data: &[u8]| {
        let key = (entity.to_owned(), a.to_owned());
        *st.stores.entry(key.clone()).or_default() += 1;
        st.blobs.insert(key, data.to_vec());
    };
    match kind {
        "uploads" => {
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let addr = v["address"].as_str().unwrap_or_default().to_owned();
            let size = v["size"].as_u64().unwrap_or(0);
            let presign = st.presign.unwrap();
            if has(st, &addr) {
                return ok(serde_json::json!({"mode": "stored"}));
            }
            if size <= presign.threshold {
                return ok(serde_json::json!({"mode": "server"}));
            }
            let found = st
                .uploads
                .iter()
                .find(|(_, u)| u.entity == entity && u.address == addr && u.size == size)
                .map(|(id, _)| id.clone());
            let id = if let Some(id) = found {
                id
            } else {
                let id = format!("up-{}", st.blob_seen.len());
                let upload = MockUpload {
                    entity: entity.to_owned(),
                    address: addr.clone(),
                    size,
                    parts: BTreeMap::new(),
                };
                st.uploads.insert(id.clone(), upload);
                id
            };
            let upload = &st.uploads[&id];
            let count = size.div_ceil(presign.part_size);
            let parts: Vec<serde_json::Value> = (1..=count)
                .filter(|n| !upload.parts.contains_key(n))
                .map(|n| {
                    let len = presign.part_size.min(size - (n - 1) * presign.part_size);
                    serde_json::json!({
                        "number": n,
                        "size": len,
                        "url": format!("{}/bucket/{id}/{n}?X-Amz-Signature=fake", st.url),
                    })
                })
                .collect();
            ok(serde_json::json!({
                "mode": "presigned", "upload": id, "part_size": presign.part_size,
                "parts": parts, "expires_in": 3600,
            }))
        }
        "complete" => {
            let id = req.path.rsplit('/').nth(1).unwrap().to_owned();
            let presign = st.presign.unwrap();
            let Some(upload) = st.uploads.get(&id).cloned() else {
                return bad(404, serde_json::json!({"detail": "no such upload"}));
            };
            let count = upload.size.div_ceil(presign.part_size);
            let missing: Vec<u64> = (1..=count)
                .filter(|n| !upload.parts.contains_key(n))
                .collect();
            if !missing.is_empty() {
                return bad(
                    409,
                    serde_json::json!({"detail": "parts missing", "missing_parts": missing}),
                );
            }
            let data: Vec<u8> = upload.parts.values().flatten().copied().collect();
            st.uploads.remove(&id);
            let matches = Address::parse(&upload.address).is_ok_and(|a| verify(&a, &data));
            if !matches || data.len() as u64 != upload.size {
                return bad(
                    400,
                    serde_json::json!({"detail": "content does not match its address",
                                       "refused": [upload.address]}),
                );
            }
            store(st, &upload.address, &data);
            ok(serde_json::json!({"address": upload.address, "size": upload.size}))
        }
        "artifacts" => commit_artifact(st, req, entity),
        "missing" => {
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            st.missing_asked.push(json_list(&v, "addresses").len());
            let missing: Vec<String> = json_list(&v, "addresses")
                .iter()
                .filter_map(|a| a.as_str())
                .filter(|a| !has(st, a))
                .map(str::to_owned)
                .collect();
            ok(serde_json::json!({ "missing": missing }))
        }
        "pack" if st.max_pack.is_some_and(|m| req.body.len() > m) => bad(
            413,
            serde_json::json!({"detail": "the body is larger than the server accepts"}),
        ),
        "pack" => {
            let lose = st.lose_packs > 0;
            st.lose_packs = st.lose_packs.saturating_sub(1);
            let mut pos = 0;
            let b = &req.body;
            let mut stored = Vec::new();
            while pos < b.len() {
                let alen = u16::from_le_bytes([b[pos], b[pos + 1]]) as usize;
                let addr = String::from_utf8(b[pos + 2..pos + 2 + alen].to_vec()).unwrap();
                pos += 2 + alen;
                let size = u64::from_le_bytes(b[pos..pos + 8].try_into().unwrap()) as usize;
                pos += 8;
                let data = &b[pos..pos + size];
                pos += size;
                let matches = Address::parse(&addr).is_ok_and(|a| verify(&a, data));
                if !matches || st.refuse_once.remove(&addr) {
                    return bad(
                        400,
                        serde_json::json!({
                            "detail": format!("content does not match its address: {addr}"),
                            "refused": [addr],
                        }),
                    );
                }
                if !lose {
                    store(st, &addr, data);
                }
                stored.push(addr);
            }
            ok(serde_json::json!({ "stored": stored }))
        }
        "put" => {
            let addr = req.path.rsplit('/').next().unwrap().replace("%3A", ":");
            let matches = Address::parse(&addr).is_ok_and(|a| verify(&a, &req.body));
            if !matches || st.refuse_once.remove(&addr) {
                return bad(
                    400,
                    serde_json::json!({"detail": "content does not match its address"}),
                );
            }
            store(st, &addr, &req.body);
            ok(serde_json::json!({"address": addr, "size": req.body.len()}))
        }
        _ => {
            let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let entries = json_list(&v, "files");
            let mut missing: Vec<String> = entries
                .iter()
                .filter_map(|e| e.get("address")?.as_str())
                .filter(|a| !has(st, a))
                .map(str::to_owned)
                .collect();
            missing.sort();
            missing.dedup();
            if !missing.is_empty() {
                return bad(
                    409,
                    serde_json::json!({"detail": "blobs missing", "missing": missing}),
                );
            }
            let manifest = st.manifests.entry(run.to_owned()).or_default();
            for e in &entries {
                let path = e.get("path").and_then(|p| p.as_str()).unwrap_or_default();
                let clash = manifest.keys().any(|p| {
                    p.starts_with(&format!("{path}/")) || path.starts_with(&format!("{p}/"))
                });
                if clash {
                    return bad(
                        409,
                        serde_json::json!({"detail": format!("{path} clashes with a file or folder")}),
                    );
                }
            }
            for e in &entries {
                let path = e["path"].as_str().unwrap_or_default().to_owned();
                let addr = e["address"].as_str().unwrap_or_default().to_owned();
                manifest.insert(path, (addr, e["size"].as_u64().unwrap_or(0)));
            }
            ok(serde_json::json!({"recorded": entries.len()}))
        }
    }
}

/// `POST RUN/artifacts`: the manifest (named by `digest`) and every blob it names must be
/// stored (`409` with `missing` otherwise); idempotent on `id`; versions `v0, v1, ...` in
/// commit order, the same digest answering its version.
fn commit_artifact(st: &mut ServerState, req: &Request, entity: &str) -> (u16, String, String) {
    let reply = |code: u16, body: serde_json::Value| (code, body.to_string(), String::new());
    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
    st.commits_seen.push(v.clone());
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    if let Some(done) = st.artifacts.iter().find(|a| a["id"] == id.as_str()) {
        return reply(200, done.clone());
    }
    let digest = v["digest"].as_str().unwrap_or_default().to_owned();
    let Some(manifest) = st.blobs.get(&(entity.to_owned(), digest.clone())) else {
        return reply(
            409,
            serde_json::json!({"detail": "the manifest is not stored", "missing": [digest]}),
        );
    };
    let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return reply(
            400,
            serde_json::json!({"detail": "the manifest is not JSON"}),
        );
    };
    let mut missing: Vec<String> = manifest["entries"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|e| e.get("address")?.as_str())
                .filter(|a| !st.blobs.contains_key(&(entity.to_owned(), (*a).to_owned())))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        return reply(
            409,
            serde_json::json!({"detail": "blobs missing", "missing": missing}),
        );
    }
    let same = st
        .artifacts
        .iter()
        .find(|a| a["name"] == v["name"] && a["digest"] == v["digest"]);
    let count = st
        .artifacts
        .iter()
        .filter(|a| a["name"] == v["name"])
        .count();
    let version = same.map_or_else(
        || serde_json::Value::String(format!("v{count}")),
        |a| a["version"].clone(),
    );
    let mut answer = v;
    answer["version"] = version;
    answer["entity"] = entity.into();
    st.artifacts.push(answer.clone());
    reply(200, answer)
}

/// `PUT /bucket/<upload>/<number>`: one part into the in-memory bucket, `ETag` answered.
fn bucket(state: &Arc<Mutex<ServerState>>, req: &Request) -> (u16, String) {
    let mut it = req.path.trim_start_matches("/bucket/").split('/');
    let upload = it.next().unwrap_or_default().to_owned();
    let number: u64 = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let authorized = req.headers.contains_key("authorization");
    let delay = {
        let mut st = state.lock();
        st.parts_in_flight += 1;
        st.max_parts_in_flight = st.max_parts_in_flight.max(st.parts_in_flight);
        st.part_delay
    };
    std::thread::sleep(delay);
    let mut st = state.lock();
    st.parts_in_flight -= 1;
    let status = if authorized || req.method != "PUT" || !req.query.contains("X-Amz-Signature") {
        400
    } else if st.expire_parts > 0 {
        st.expire_parts -= 1;
        403
    } else if st.fail_parts > 0 {
        st.fail_parts -= 1;
        500
    } else if let Some(u) = st.uploads.get_mut(&upload) {
        u.parts.insert(number, req.body.clone());
        200
    } else {
        404
    };
    st.bucket_seen.push(PartSeen {
        upload,
        number,
        len: req.body.len(),
        authorized,
        status,
    });
    let etag = format!("ETag: \"etag-{number}-{}\"\r\n", req.body.len());
    (status, if status == 200 { etag } else { String::new() })
}

fn handle(stream: TcpStream, state: &Arc<Mutex<ServerState>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some(req) = read_request(&mut reader) {
        if let Some(ua) = req.headers.get("user-agent") {
            state.lock().user_agents.push(ua.clone());
        }
        if req.path.starts_with("/bucket/") {
            let (code, extra) = bucket(state, &req);
            respond(&mut out, code, "", &extra);
            continue;
        }
        let auth_ok =
            req.headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {KEY}"));
        if !auth_ok {
            respond(
                &mut out,
                401,
                r#"{"detail": "unknown API key"}"#,
                "WWW-Authenticate: Bearer\r\n",
            );
            continue;
        }
        if req.method == "GET" && req.path == "/api/v1/viewer" {
            respond(&mut out, 200, &format!(r#"{{"name": "{USER}"}}"#), "");
            continue;
        }
        let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        if req.method == "GET" && parts.len() == 8 && parts[6..] == ["log", "offset"] {
            let key = parts[3..6].join("/");
            let st = state.lock();
            match st.logs.get(&key) {
                Some(log) => respond(
                    &mut out,
                    200,
                    &format!(r#"{{"offset": {}}}"#, log.len()),
                    "",
                ),
                None => respond(&mut out, 404, r#"{"detail": "no such run"}"#, ""),
            }
            continue;
        }
        if parts.len() >= 7 && parts[..3] == ["api", "v1", "runs"] && parts[6] != "log" {
            let delay = state.lock().blob_delay;
            std::thread::sleep(delay);
            let run = parts[3..6].join("/");
            let mut st = state.lock();
            let reply = blob_route(&mut st, &req, &run, parts[3], &parts[6..]);
            drop(st);
            match reply {
                Some((code, body, extra)) => respond(&mut out, code, &body, &extra),
                None => return,
            }
            continue;
        }
        if req.method != "POST" || parts.len() != 7 || parts[..3] != ["api", "v1", "runs"] {
            respond(&mut out, 404, r#"{"detail": "no such route"}"#, "");
            continue;
        }
        let key = parts[3..6].join("/");
        let offset: u64 = req
            .query
            .strip_prefix("offset=")
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        let mut st = state.lock();
        let fault = if req.body.is_empty() {
            None
        } else {
            st.faults.pop_front()
        };
        let (status, body, extra) = match fault {
            Some(Fault::Drop) => {
                st.seen.push(Seen {
                    offset,
                    len: req.body.len(),
                    at: Instant::now(),
                    status: 0,
                });
                return;
            }
            Some(Fault::Status(code)) => (
                code,
                r#"{"detail": "scripted failure"}"#.to_owned(),
                String::new(),
            ),
            Some(Fault::Busy(code, secs)) => (
                code,
                r#"{"detail": "busy"}"#.to_owned(),
                format!("Retry-After: {secs}\r\n"),
            ),
            None if st.max_body.is_some_and(|m| req.body.len() > m) => (
                413,
                r#"{"detail": "the body is larger than the server accepts"}"#.to_owned(),
                String::new(),
            ),
            None => {
                let stored = st.logs.entry(key).or_default();
                let (code, body) = upload(stored, offset, &req.body);
                (code, body, String::new())
            }
        };
        st.seen.push(Seen {
            offset,
            len: req.body.len(),
            at: Instant::now(),
            status,
        });
        drop(st);
        respond(&mut out, status, &body, &extra);
    }
}

/// Serve the protocol on `listener` until the returned server is dropped.
pub fn serve_on(listener: TcpListener) -> TestServer {
    let url = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let state = Arc::new(Mutex::new(ServerState {
        url: url.clone(),
        ..ServerState::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let (st, sp) = (state.clone(), stop.clone());
    std::thread::spawn(move || {
        while !sp.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    let st = st.clone();
                    std::thread::spawn(move || handle(s, &st));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    TestServer { url, state, stop }
}

impl TestServer {
    pub fn start() -> TestServer {
        serve_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn stored(&self, project: &str, run: &str) -> Vec<u8> {
        self.state
            .lock()
            .logs
            .get(&format!("{USER}/{project}/{run}"))
            .cloned()
            .unwrap_or_default()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().seen.clone()
    }

    pub fn fault(&self, f: Fault) {
        self.state.lock().faults.push_back(f);
    }

    pub fn blob_fault(&self, f: Fault) {
        self.state.lock().blob_faults.push_back(f);
    }

    pub fn blob_seen(&self) -> Vec<BlobSeen> {
        self.state.lock().blob_seen.clone()
    }

    /// The file manifest of `USER/project/run`.
    pub fn manifest(&self, project: &str, run: &str) -> BTreeMap<String, (String, u64)> {
        self.state
            .lock()
            .manifests
            .get(&format!("{USER}/{project}/{run}"))
            .cloned()
            .unwrap_or_default()
    }

    /// The bytes stored for `USER` under `address`.
    pub fn blob(&self, address: &str) -> Option<Vec<u8>> {
        self.state
            .lock()
            .blobs
            .get(&(USER.to_owned(), address.to_owned()))
            .cloned()
    }
}

/// A free port with nothing listening on it.
pub fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// A frame of one record with `len` bytes that do not compress.
pub fn frame(seq: u64, len: usize) -> Vec<u8> {
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let body: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut raw = Vec::new();
    codec::push_record(&mut raw, &Record::Unknown { kind: 99, body });
    codec::encode_frame(&raw, seq, 1, 1)
}

/// A run directory whose log holds a header and `n` frames of `len` bytes.
pub fn run_dir(root: &Path, n: usize, len: usize) -> (PathBuf, Vec<u64>) {
    let dir = root.join("proj").join("run1");
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = codec::header().to_vec();
    let mut ends = vec![bytes.len() as u64];
    for i in 0..n {
        bytes.extend_from_slice(&frame(i as u64, len));
        ends.push(bytes.len() as u64);
    }
    std::fs::write(dir.join("run.fwlog"), &bytes).unwrap();
    (dir, ends)
}

/// Append `n` more frames to the run log in `dir`.
pub fn append(dir: &Path, first: u64, n: usize, len: usize) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("run.fwlog"))
        .unwrap();
    for i in 0..n {
        f.write_all(&frame(first + i as u64, len)).unwrap();
    }
}

pub fn config(url: &str, dir: &Path) -> Config {
    let mut c = Config::new(url, KEY, None, "proj", "run1", dir);
    c.poll_interval = Duration::from_millis(20);
    c
}

pub fn local(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("run.fwlog")).unwrap()
}

/// Poll `f` every 10 ms for up to 20 s; panics naming `what` when it never holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for: {what}");
}

pub fn saved_offset(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("upload.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("offset")?.as_u64()
}

/// Bytes that do not compress, different for each `seed`.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Write `data` as the run file `<dir>/files/<name>`.
pub fn put(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join("files").join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// `config` for shipping files: packs of at most `pack` bytes, the files scanned every 50 ms.
pub fn files_config(url: &str, dir: &Path, pack: usize) -> Config {
    let mut c = config(url, dir);
    c.max_pack_bytes = pack;
    c.files_interval = Duration::from_millis(50);
    c
}
