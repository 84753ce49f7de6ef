//! The HTTP side of the upload protocol (docs/server.md, "Upload protocol"): one blocking
//! request at a time on a pooled `ureq` agent, every answer sorted into what the uploader
//! does next.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

/// What an exchange with the server came to.
#[derive(Debug)]
pub(crate) enum Reply {
    /// `200 {"offset": S}`: the server holds `S` bytes.
    Stored(u64),
    /// `409 {"offset": S}`: the client's offset was wrong; continue from `S`.
    Conflict(u64),
    /// `429`/`503`: overloaded; wait `Retry-After` (when given), then retry.
    Busy(Option<Duration>, String),
    /// A 5xx, a connection error, a timeout or an answer without the expected fields.
    Transient(String),
    /// A 4xx that retrying cannot fix: (status, the server's detail).
    Refused(u16, String),
}

/// What a JSON exchange of the blob protocol came to (`blobs/missing`, `blobs`, `files`).
#[derive(Debug)]
pub(crate) enum JsonReply {
    /// `200` with a JSON body.
    Ok(Value),
    /// `400`, `409` or `413`: the request as sent cannot succeed; the caller looks at the
    /// body (`refused`, `missing`) and decides. (status, body, the server's detail).
    Rejected(u16, Value, String),
    /// `429`/`503`: overloaded; wait `Retry-After` (when given), then retry.
    Busy(Option<Duration>, String),
    /// A 5xx, a connection error, a timeout or a `200` that is not JSON.
    Transient(String),
    /// Another 4xx (`401`, `403`, `404`, `405`, ...): (status, the server's detail).
    Refused(u16, String),
}

/// What became of one part of a large blob sent to its presigned URL (straight to the
/// object store, not to the server).
#[derive(Debug)]
pub(crate) enum PartReply {
    /// `2xx` with the part's `ETag`.
    Stored(String),
    /// A `4xx`: the URL expired (`403`) or the store refused it; the server is asked for
    /// fresh URLs. (status, the store's answer).
    Expired(u16, String),
    /// A 5xx, a connection error, a timeout, or a `2xx` without an `ETag`.
    Transient(String),
}

/// The longest `Retry-After` honoured; a larger value is taken as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub(crate) struct Client {
    agent: ureq::Agent,
    base_url: String,
    auth: Option<String>,
}

/// Percent-encode one URL path segment (entity, project and run ids are plain already).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn excerpt(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// The server's `detail` (a JSON error body), or the body itself, or nothing.
fn detail_of(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => match v.get("detail") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => excerpt(&other.to_string()),
            None => excerpt(body),
        },
        Err(_) => excerpt(body),
    }
}

fn offset_of(body: &str) -> Option<u64> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("offset")?
        .as_u64()
}

fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let raw = resp.headers().get("retry-after")?.to_str().ok()?.trim();
    let secs: f64 = raw.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER))
}

fn status_text(code: u16) -> &'static str {
    match code {
        400 => "400 Bad Request",
        401 => "401 Unauthorized",
        403 => "403 Forbidden",
        404 => "404 Not Found",
        409 => "409 Conflict",
        413 => "413 Content Too Large",
        429 => "429 Too Many Requests",
        500 => "500 Internal Server Error",
        502 => "502 Bad Gateway",
        503 => "503 Service Unavailable",
        504 => "504 Gateway Timeout",
        _ => "",
    }
}

/// `"401 Unauthorized"`, or the bare number for codes without a name here.
pub(crate) fn describe_status(code: u16) -> String {
    match status_text(code) {
        "" => code.to_string(),
        s => s.to_owned(),
    }
}

fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "the request timed out".to_owned(),
        ureq::Error::Io(io) => format!("connection error: {io}"),
        ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
        ureq::Error::ConnectionFailed => "the connection failed".to_owned(),
        other => other.to_string(),
    }
}

impl Client {
    pub(crate) fn new(base_url: &str, api_key: &str, user_agent: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(user_agent)
            .max_redirects(0)
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
            base_url: base_url.to_owned(),
            auth: (!api_key.is_empty()).then(|| format!("Bearer {api_key}")),
        }
    }

    fn classify(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => return Reply::Transient(transport_error(&e)),
        };
        let code = resp.status().as_u16();
        let wait = retry_after(&resp);
        let body = match resp.body_mut().read_to_string() {
            Ok(b) => b,
            Err(e) => return Reply::Transient(format!("reading the answer failed: {e}")),
        };
        match code {
            200 | 409 => match offset_of(&body) {
                Some(s) if code == 200 => Reply::Stored(s),
                Some(s) => Reply::Conflict(s),
                None => Reply::Transient(format!(
                    "the server answered {} without an offset ({}); is the base URL a fwtrack \
                     server?",
                    describe_status(code),
                    excerpt(&body)
                )),
            },
            429 | 503 => Reply::Busy(
                wait,
                format!(
                    "the server is busy ({}): {}",
                    describe_status(code),
                    detail_of(&body)
                ),
            ),
            500..=599 => Reply::Transient(format!(
                "the server answered {}: {}",
                describe_status(code),
                detail_of(&body)
            )),
            400..=499 => Reply::Refused(code, detail_of(&body)),
            other => Reply::Transient(format!(
                "unexpected answer {other} from the server: {}",
                excerpt(&body)
            )),
        }
    }

    fn classify_json(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> JsonReply {
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => return JsonReply::Transient(transport_error(&e)),
        };
        let code = resp.status().as_u16();
        let wait = retry_after(&resp);
        let body = match resp.body_mut().read_to_string() {
            Ok(b) => b,
            Err(e) => return JsonReply::Transient(format!("reading the answer failed: {e}")),
        };
        match code {
            200 => match serde_json::from_str::<Value>(&body) {
                Ok(v) => JsonReply::Ok(v),
                Err(_) => JsonReply::Transient(format!(
                    "the server answered 200 OK without JSON ({}); is the base URL a fwtrack \
                     server?",
                    excerpt(&body)
                )),
            },
            400 | 409 | 413 => {
                let value = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
                JsonReply::Rejected(code, value, detail_of(&body))
            }
            429 | 503 => JsonReply::Busy(
                wait,
                format!(
                    "the server is busy ({}): {}",
                    describe_status(code),
                    detail_of(&body)
                ),
            ),
            500..=599 => JsonReply::Transient(format!(
                "the server answered {}: {}",
                describe_status(code),
                detail_of(&body)
            )),
            400..=499 => JsonReply::Refused(code, detail_of(&body)),
            other => JsonReply::Transient(format!(
                "unexpected answer {other} from the server: {}",
                excerpt(&body)
            )),
        }
    }

    /// `POST {url}` with a JSON body.
    pub(crate) fn post_json(&self, url: &str, body: &Value, timeout: Duration) -> JsonReply {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::classify_json(req.send(body.to_string().as_bytes()))
    }

    /// `POST .../blobs` with a pack of blobs (`application/x-fwtrack-blobs`).
    pub(crate) fn post_pack(&self, run: &RunPath, pack: &[u8], timeout: Duration) -> JsonReply {
        let mut req = self
            .agent
            .post(&run.blobs)
            .header("Content-Type", PACK_CONTENT_TYPE);
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::classify_json(req.send(pack))
    }

    /// `PUT .../blobs/{address}` with `size` bytes read from `body` (streamed, never held
    /// in memory whole).
    pub(crate) fn put_blob(
        &self,
        run: &RunPath,
        address: &str,
        size: u64,
        body: &mut dyn std::io::Read,
        timeout: Duration,
    ) -> JsonReply {
        let url = format!("{}/{address}", run.blobs);
        let mut req = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string());
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::classify_json(req.send(ureq::SendBody::from_reader(body)))
    }

    /// `PUT {url}` of one part of a large blob, `size` bytes read from `body`, to a presigned
    /// URL of the object store: without the `Authorization` header (the URL carries its own
    /// signature, and the API key never leaves for another host).
    pub(crate) fn put_part(
        &self,
        url: &str,
        size: u64,
        body: &mut dyn std::io::Read,
        timeout: Duration,
    ) -> PartReply {
        let req = self
            .agent
            .put(url)
            .header("Content-Length", size.to_string())
            .config()
            .timeout_global(Some(timeout))
            .build();
        let mut resp = match req.send(ureq::SendBody::from_reader(body)) {
            Ok(r) => r,
            Err(e) => return PartReply::Transient(transport_error(&e)),
        };
        let code = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        match (code, etag) {
            (200..=299, Some(etag)) if !etag.is_empty() => PartReply::Stored(etag),
            (200..=299, _) => PartReply::Transient(format!(
                "the object store answered {code} without an ETag for a part ({})",
                excerpt(&text)
            )),
            (400..=499, _) => PartReply::Expired(code, excerpt(&text)),
            _ => PartReply::Transient(format!(
                "the object store answered {} to a part: {}",
                describe_status(code),
                excerpt(&text)
            )),
        }
    }

    /// `POST /api/v1/runs/{entity}/{project}/{run_id}/log?offset=N` with `body` (empty: a
    /// heartbeat).
    pub(crate) fn post_log(
        &self,
        run: &RunPath,
        offset: u64,
        body: &[u8],
        timeout: Duration,
    ) -> Reply {
        let url = format!("{}?offset={offset}", run.log);
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::classify(req.send(body))
    }

    /// `GET .../log/offset`: how much of the run the server holds.
    pub(crate) fn log_offset(&self, run: &RunPath, timeout: Duration) -> Reply {
        let url = format!("{}/offset", run.log);
        let mut req = self.agent.get(&url);
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        Self::classify(req.call())
    }

    /// `GET /api/v1/viewer`: the name of the key's user (`Ok`), or why not (`Err`).
    pub(crate) fn viewer(&self, timeout: Duration) -> Result<String, Reply> {
        let url = format!("{}/api/v1/viewer", self.base_url);
        let mut req = self.agent.get(&url);
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let req = req.config().timeout_global(Some(timeout)).build();
        let mut resp = match req.call() {
            Ok(r) => r,
            Err(e) => return Err(Reply::Transient(transport_error(&e))),
        };
        let code = resp.status().as_u16();
        if code != 200 {
            // Reuse the classification of error answers.
            let wait = retry_after(&resp);
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(match code {
                429 | 503 => Reply::Busy(wait, detail_of(&body)),
                400..=499 => Reply::Refused(code, detail_of(&body)),
                _ => Reply::Transient(format!(
                    "the server answered {}: {}",
                    describe_status(code),
                    detail_of(&body)
                )),
            });
        }
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| Reply::Transient(format!("reading the answer failed: {e}")))?;
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| {
                Reply::Transient(format!(
                    "GET /api/v1/viewer answered without a user name ({}); is the base URL a \
                     fwtrack server?",
                    excerpt(&body)
                ))
            })
    }
}

/// The content type of a pack of blobs (`POST .../blobs`).
pub(crate) const PACK_CONTENT_TYPE: &str = "application/x-fwtrack-blobs";

/// The upload URLs of one run.
pub(crate) struct RunPath {
    /// `.../log`: the run log.
    pub log: String,
    /// `.../blobs`: packs (`POST`), one blob (`PUT .../blobs/{address}`).
    pub blobs: String,
    /// `.../blobs/missing`: which addresses the server lacks.
    pub missing: String,
    /// `.../blobs/uploads`: how to send a large blob (straight to the object store), and
    /// `.../blobs/uploads/{upload}/complete`.
    pub uploads: String,
    /// `.../files`: the run's file manifest.
    pub files: String,
    /// `.../artifacts`: artifact commits of the run (it logged them).
    pub artifacts: String,
}

impl RunPath {
    pub(crate) fn new(base_url: &str, entity: &str, project: &str, run_id: &str) -> RunPath {
        let run = format!(
            "{base_url}/api/v1/runs/{}/{}/{}",
            segment(entity),
            segment(project),
            segment(run_id)
        );
        RunPath {
            log: format!("{run}/log"),
            blobs: format!("{run}/blobs"),
            missing: format!("{run}/blobs/missing"),
            uploads: format!("{run}/blobs/uploads"),
            files: format!("{run}/files"),
            artifacts: format!("{run}/artifacts"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_and_segments() {
        assert_eq!(detail_of(r#"{"detail": "bad key"}"#), "bad key");
        assert_eq!(detail_of(r#"{"detail": [1]}"#), "[1]");
        assert_eq!(detail_of("oops"), "oops");
        assert_eq!(offset_of(r#"{"offset": 42}"#), Some(42));
        assert_eq!(offset_of(r#"{"offset": -1}"#), None);
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(describe_status(401), "401 Unauthorized");
        assert_eq!(describe_status(418), "418");
    }
}
