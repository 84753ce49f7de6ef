//! The uploader against an in-test server that implements the upload protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{
    Fault, KEY, TestServer, USER, append, config, dead_url, eventually, local, run_dir,
    saved_offset,
};
use fwtrack_core::lock::DirLock;
use fwtrack_upload::{Config, State, Uploader};

const LONG: Option<Duration> = Some(Duration::from_secs(60));

#[test]
fn a_complete_log_lands_byte_identical_and_the_offset_is_recorded() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 20, 3000);
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(
        (out.acked, out.remaining, out.unsent_tail),
        (ends[20], 0, 0)
    );
    assert_eq!(server.stored("proj", "run1"), local(&dir));
    assert_eq!(saved_offset(&dir), Some(ends[20]));
    let st = up.status();
    assert_eq!(st.state, State::Done);
    assert_eq!(st.entity.as_deref(), Some(USER));
    assert!(up.take_warnings().is_empty());
    let agents = server.state.lock().user_agents.clone();
    assert!(
        agents.iter().all(|a| a.starts_with("fwtrack/")),
        "{agents:?}"
    );
}

#[test]
fn batches_stay_under_the_limit_and_end_on_frame_boundaries() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 30, 1000);
    let mut cfg = config(&server.url, &dir);
    cfg.max_batch_bytes = 3500; // three frames of ~1040 bytes
    let up = Uploader::start(cfg).unwrap();
    // A frame bigger than the limit goes alone.
    append(&dir, 30, 1, 8000);
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(server.stored("proj", "run1"), local(&dir));
    let seen = server.seen();
    assert!(seen.len() >= 11, "{} requests", seen.len());
    for s in &seen {
        assert_eq!(s.status, 200);
        let end = s.offset + s.len as u64;
        assert!(
            ends.contains(&end) || end == local(&dir).len() as u64,
            "{s:?}"
        );
        assert!(s.len <= 3500 || s.offset == ends[30], "{s:?}");
    }
}

#[test]
fn a_growing_log_is_followed_frame_by_frame() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    for i in 1..=5u64 {
        append(&dir, i, 1, 500);
        up.notify();
        let want = local(&dir);
        eventually("the server catches up with the log", || {
            server.stored("proj", "run1") == want
        });
    }
    // A frame written in two pieces is not sent until it is whole.
    let piece = common::frame(6, 700);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("run.fwlog"))
        .unwrap();
    std::io::Write::write_all(&mut f, &piece[..300]).unwrap();
    up.notify();
    std::thread::sleep(Duration::from_millis(200));
    let before = server.stored("proj", "run1").len() as u64;
    assert_eq!(before + 300, local(&dir).len() as u64);
    std::io::Write::write_all(&mut f, &piece[300..]).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(server.stored("proj", "run1"), local(&dir));
}

#[test]
fn conflict_rewinds_to_the_server_offset() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 10, 500);
    // The server holds the first three frames; upload.json claims seven.
    let full = local(&dir);
    server.state.lock().logs.insert(
        format!("{USER}/proj/run1"),
        full[..ends[3] as usize].to_vec(),
    );
    std::fs::write(
        dir.join("upload.json"),
        format!(
            r#"{{"base_url": "{}", "entity": "{USER}", "project": "proj", "run_id": "run1", "offset": {}}}"#,
            server.url, ends[7]
        ),
    )
    .unwrap();
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(server.stored("proj", "run1"), full);
    let seen = server.seen();
    assert_eq!((seen[0].offset, seen[0].status), (ends[7], 409));
    assert_eq!((seen[1].offset, seen[1].status), (ends[3], 200));
    assert_eq!(saved_offset(&dir), Some(ends[10]));
}

#[test]
fn retry_after_is_honoured() {
    let server = TestServer::start();
    server.fault(Fault::Busy(429, 1));
    server.fault(Fault::Busy(503, 1));
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    let seen = server.seen();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [429, 503, 200]);
    // Each retry came no sooner than the server asked for.
    for pair in seen.windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= Duration::from_secs(1));
    }
    assert_eq!(server.stored("proj", "run1"), local(&dir));
}

#[test]
fn server_errors_and_dropped_connections_are_retried() {
    let server = TestServer::start();
    for f in [
        Fault::Status(500),
        Fault::Drop,
        Fault::Status(502),
        Fault::Drop,
        Fault::Status(503),
    ] {
        server.fault(f);
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 5, 200);
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(server.stored("proj", "run1"), local(&dir));
    assert_eq!(server.seen().len(), 6);
    // The failure is over: no "cannot reach" warning is left to show.
    assert!(up.take_warnings().is_empty());
    assert_eq!(up.status().last_error, None);
}

#[test]
fn a_restarted_uploader_resumes_from_upload_json() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 4, 300);
    let first = Uploader::start(config(&server.url, &dir)).unwrap();
    assert!(first.finish(LONG).done);
    drop(first);
    assert_eq!(saved_offset(&dir), Some(ends[4]));
    append(&dir, 4, 3, 300);
    let n_before = server.seen().len();
    let second = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = second.finish(LONG);
    assert!(out.done, "{out:?}");
    let seen = server.seen();
    assert_eq!(seen[n_before].offset, ends[4], "{seen:?}");
    assert_eq!(server.stored("proj", "run1"), local(&dir));
    // A third run over a fully uploaded log sends nothing.
    let n = seen.len();
    let third = Uploader::start(config(&server.url, &dir)).unwrap();
    assert!(third.finish(LONG).done);
    assert_eq!(server.seen().len(), n);
}

#[test]
fn bodies_too_large_for_the_server_are_split() {
    let server = TestServer::start();
    server.state.lock().max_body = Some(2500);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 12, 1000);
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(server.stored("proj", "run1"), local(&dir));
}

#[test]
fn a_bad_key_stops_with_one_clear_warning() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let mut cfg = config(&server.url, &dir);
    cfg.api_key = "fwk_wrong".into();
    let up = Uploader::start(cfg).unwrap();
    assert!(up.wait(LONG));
    let st = up.status();
    assert_eq!(st.state, State::Stopped);
    let warnings = up.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert!(w.contains("401 Unauthorized"), "{w}");
    assert!(w.contains("unknown API key"), "{w}");
    assert!(w.contains("fwtrack login"), "{w}");
    assert!(w.contains("fwtrack sync"), "{w}");
    assert!(up.take_warnings().is_empty());
    let out = up.finish(LONG);
    assert!(!out.done && !out.timed_out);
    assert!(out.remaining > 0);
    assert!(dir.join("run.fwlog").exists());
}

#[test]
fn a_different_run_on_the_server_is_not_overwritten() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let other = tempfile::tempdir().unwrap();
    let (other_dir, _) = run_dir(other.path(), 8, 400);
    let bigger = local(&other_dir);
    server
        .state
        .lock()
        .logs
        .insert(format!("{USER}/proj/run1"), bigger.clone());
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(!out.done);
    let err = out.error.unwrap_or_default();
    assert!(err.contains("different run"), "{err}");
    assert_eq!(server.stored("proj", "run1"), bigger);
}

#[test]
fn finish_gives_up_at_its_deadline_when_the_server_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 2, 100);
    let url = dead_url();
    let up = Uploader::start(config(&url, &dir)).unwrap();
    assert!(up.wait_ready(Duration::from_secs(30)));
    let w = up.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("retrying in the background"), "{}", w[0]);
    let out = up.finish(Some(Duration::from_millis(500)));
    assert!(!out.done && out.timed_out);
    assert_eq!((out.acked, out.remaining), (0, ends[2]));
    assert!(out.error.is_some());
    assert!(up.wait(LONG));
    assert_eq!(up.status().state, State::Stopped);
}

#[test]
fn the_server_coming_back_later_gets_everything() {
    // Reserve a port, start the uploader against it while nothing listens, then listen.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let server = TestServer::start();
    let url = server.url.clone();
    drop(server);
    // The listener thread notices the stop flag within a few ms; wait for the port to free.
    let addr = url.trim_start_matches("http://").to_owned();
    eventually("the port is free", || {
        std::net::TcpStream::connect(&addr).is_err()
    });
    let mut cfg = config(&url, &dir);
    cfg.backoff_max = Duration::from_millis(200);
    let up = Uploader::start(cfg).unwrap();
    assert!(up.wait_ready(Duration::from_secs(30)));
    assert!(up.status().last_error.is_some());
    let listener = std::net::TcpListener::bind(&addr).unwrap();
    let stored = common::serve_on(listener);
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(stored.stored("proj", "run1"), local(&dir));
}

#[test]
fn follow_mode_ends_when_the_writer_lock_is_released() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let lock = DirLock::acquire(&dir.join(".lock")).unwrap();
    let mut cfg = config(&server.url, &dir);
    cfg.follow_lock = Some(dir.join(".lock"));
    let up = Uploader::start(cfg).unwrap();
    append(&dir, 2, 2, 100);
    let want = local(&dir);
    eventually("the server has what was written", || {
        server.stored("proj", "run1") == want
    });
    assert!(!up.wait(Some(Duration::from_millis(100))));
    append(&dir, 4, 2, 100);
    drop(lock);
    assert!(up.wait(LONG));
    assert_eq!(up.status().state, State::Done);
    assert_eq!(server.stored("proj", "run1"), local(&dir));
}

#[test]
fn an_idle_run_sends_heartbeats() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    let mut cfg = config(&server.url, &dir);
    cfg.heartbeat = Duration::from_millis(50);
    let up = Uploader::start(cfg).unwrap();
    eventually("two heartbeats", || {
        server.seen().iter().filter(|s| s.len == 0).count() >= 2
    });
    let size = local(&dir).len() as u64;
    assert!(
        server
            .seen()
            .iter()
            .filter(|s| s.len == 0)
            .all(|s| s.offset == size && s.status == 200)
    );
    assert!(up.finish(LONG).done);
}

#[test]
fn a_given_entity_skips_the_viewer_lookup_and_bad_settings_are_refused() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    let mut cfg = config(&server.url, &dir);
    cfg.entity = Some("team-x".into());
    let up = Uploader::start(cfg).unwrap();
    assert!(up.finish(LONG).done);
    assert!(
        !server
            .state
            .lock()
            .logs
            .contains_key(&format!("{USER}/proj/run1"))
    );
    assert!(server.state.lock().logs.contains_key("team-x/proj/run1"));
    let bad = Config::new("ftp://x", KEY, None, "p", "r", &dir);
    let err = Uploader::start(bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not an http(s) URL"), "{err}");
}

#[test]
fn without_upload_json_the_server_offset_is_asked_for() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ends) = run_dir(tmp.path(), 6, 400);
    let full = local(&dir);
    server.state.lock().logs.insert(
        format!("{USER}/proj/run1"),
        full[..ends[4] as usize].to_vec(),
    );
    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].offset, ends[4]);
    assert_eq!(server.stored("proj", "run1"), full);
}
