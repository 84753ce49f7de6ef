//! The run's files, shipped as blobs by content address, against the in-test server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{Fault, TestServer, USER, eventually, noise, put, run_dir};
use fwtrack_core::address::hash_bytes;
use fwtrack_upload::{Config, State, Uploader};

const LONG: Option<Duration> = Some(Duration::from_secs(60));
const PACK: usize = 64 << 10;

fn files_config(url: &str, dir: &Path) -> Config {
    common::files_config(url, dir, PACK)
}

/// Every regular file under `<dir>/files` by name, with its bytes.
fn local_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.join("files")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                let name = e
                    .path()
                    .strip_prefix(dir.join("files"))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// The server's manifest holds every local file under its address, with its bytes stored.
fn assert_all_on_server(server: &TestServer, dir: &Path) {
    let manifest = server.manifest("proj", "run1");
    let local = local_files(dir);
    assert_eq!(
        manifest.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    for (name, data) in &local {
        let (address, size) = &manifest[name];
        assert_eq!(*address, hash_bytes(data).to_string(), "{name}");
        assert_eq!(*size, data.len() as u64, "{name}");
        assert_eq!(server.blob(address).as_deref(), Some(&data[..]), "{name}");
    }
}

fn kinds(server: &TestServer) -> Vec<&'static str> {
    server.blob_seen().iter().map(|s| s.kind).collect()
}

#[test]
fn files_land_once_by_address_and_a_second_uploader_sends_nothing() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 200);
    for i in 0..40u64 {
        put(&dir, &format!("media/img{i:02}.png"), &noise(i, 5000));
    }
    put(&dir, "copy-of-img00.png", &noise(0, 5000)); // the same bytes under another name
    put(&dir, "model/weights.bin", &noise(99, 300_000)); // larger than a pack
    put(&dir, "empty.txt", b"");
    put(&dir, "media/.img40.png.tmp", b"being written");
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, b"fwk_secret").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("files").join("creds.json")).unwrap();

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!((out.files_pending, out.files_recorded), (0, 43));
    // 42 distinct contents (the copy and the empty file included), each sent once.
    assert_eq!(out.blobs_sent, 42);
    assert_all_on_server(&server, &dir);
    assert!(
        server
            .blob(&hash_bytes(b"fwk_secret").to_string())
            .is_none()
    );
    let stores = server.state.lock().stores.clone();
    assert!(stores.values().all(|n| *n == 1), "{stores:?}");
    // Packs stay under the limit; the large blob went alone, streamed.
    let seen = server.blob_seen();
    for s in &seen {
        assert_eq!(s.status, 200, "{s:?}");
        if s.kind == "pack" {
            assert!(s.len <= PACK, "{s:?}");
        }
    }
    assert_eq!(seen.iter().filter(|s| s.kind == "put").count(), 1);
    assert!(seen.iter().filter(|s| s.kind == "pack").count() >= 4);
    // The link is named once, with where it leads.
    let warnings = up.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let link = dir.join("files").join("creds.json");
    assert!(
        warnings[0].starts_with(&format!(
            "fwtrack: {} is a symbolic link (to {}): it was not uploaded",
            link.display(),
            secret.display()
        )),
        "{}",
        warnings[0]
    );
    // upload.json keeps the files under the same target as the offset.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("upload.json")).unwrap()).unwrap();
    assert_eq!(state["entity"], USER);
    assert_eq!(state["files"].as_object().unwrap().len(), 43);
    assert_eq!(
        state["files"]["empty.txt"]["address"],
        hash_bytes(b"").to_string()
    );
    drop(up);

    let n = seen.len();
    let again = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = again.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!((out.blobs_sent, out.files_recorded), (0, 0));
    assert_eq!(
        server.blob_seen().len(),
        n,
        "{:?}",
        &server.blob_seen()[n..]
    );
    // The link is warned about again by a new uploader (a new process), once.
    assert_eq!(again.take_warnings().len(), 1);
}

#[test]
fn a_changed_or_new_file_goes_up_on_the_next_upload() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "notes.txt", b"first");
    put(&dir, "keep.txt", b"kept");
    assert!(
        Uploader::start(files_config(&server.url, &dir))
            .unwrap()
            .finish(LONG)
            .done
    );
    let n = server.blob_seen().len();
    put(&dir, "notes.txt", b"second, longer");
    put(&dir, "new/file.txt", b"new");
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!((out.blobs_sent, out.files_recorded), (2, 2));
    assert_all_on_server(&server, &dir);
    assert_eq!(kinds(&server)[n..], ["missing", "pack", "files"]);
}

#[test]
fn files_written_while_the_run_lives_go_up_before_it_ends() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    for i in 0..3u64 {
        let name = format!("media/step{i}.png");
        put(&dir, &name, &noise(i, 1000));
        eventually("the file is on the server", || {
            server.manifest("proj", "run1").contains_key(&name)
        });
    }
    assert_eq!(up.status().state, State::Running);
    // The status is published after the manifest is recorded: the server may see it first.
    eventually("nothing left pending", || up.status().files_pending == 0);
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
}

#[test]
fn finish_during_a_pass_starts_the_last_pass_at_once() {
    let server = TestServer::start();
    server.state.lock().blob_delay = Duration::from_millis(300);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "early.txt", b"early");
    let mut cfg = files_config(&server.url, &dir);
    cfg.files_interval = Duration::from_secs(3600);
    let up = Uploader::start(cfg).unwrap();
    eventually("the first pass is under way", || {
        !server.blob_seen().is_empty()
    });
    put(&dir, "late.txt", b"late");
    // Declared complete while the first pass runs: the last pass follows it without waiting
    // for the interval.
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
}

#[test]
fn blobs_the_server_lost_are_sent_again_when_the_manifest_names_them() {
    let server = TestServer::start();
    server.state.lock().lose_packs = 1;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    for i in 0..5u64 {
        put(&dir, &format!("f{i}.bin"), &noise(i, 2000));
    }
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
    let statuses: Vec<(&str, u16)> = server
        .blob_seen()
        .iter()
        .map(|s| (s.kind, s.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("missing", 200),
            ("pack", 200),
            ("files", 409),
            ("pack", 200),
            ("files", 200)
        ]
    );
}

#[test]
fn a_blob_refused_as_not_matching_is_hashed_again_and_sent_right() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "a.bin", &noise(1, 1000));
    put(&dir, "big.bin", &noise(2, PACK + 10));
    let refuse = [noise(1, 1000), noise(2, PACK + 10)].map(|d| hash_bytes(&d).to_string());
    server.state.lock().refuse_once.extend(refuse);
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
    let seen = server.blob_seen();
    assert_eq!(
        seen.iter().filter(|s| s.status == 400).count(),
        2,
        "{seen:?}"
    );
    assert!(up.take_warnings().is_empty());
}

#[test]
fn packs_too_large_for_the_server_are_split() {
    let server = TestServer::start();
    server.state.lock().max_pack = Some(20_000);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    for i in 0..30u64 {
        put(&dir, &format!("f{i:02}.bin"), &noise(i, 5000));
    }
    put(&dir, "big.bin", &noise(99, 30_000)); // over the server's limit alone: streamed
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
    let seen = server.blob_seen();
    assert!(seen.iter().any(|s| s.status == 413), "{seen:?}");
    assert!(
        seen.iter()
            .filter(|s| s.kind == "pack" && s.status == 200)
            .all(|s| s.len <= 20_000)
    );
}

#[test]
fn retry_after_and_server_errors_on_blob_routes_are_retried() {
    let server = TestServer::start();
    server.blob_fault(Fault::Busy(429, 1));
    server.blob_fault(Fault::Status(500));
    server.blob_fault(Fault::Drop);
    server.blob_fault(Fault::Busy(503, 1));
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "a.txt", b"a");
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_all_on_server(&server, &dir);
    let seen = server.blob_seen();
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [429, 500, 0, 503, 200, 200, 200], "{seen:?}");
    // Each retry after a Retry-After came no sooner than asked.
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(1));
    assert!(seen[4].at.duration_since(seen[3].at) >= Duration::from_secs(1));
    assert!(up.take_warnings().is_empty());
}

#[test]
fn a_path_the_server_refuses_is_named_once_and_the_rest_is_recorded() {
    let server = TestServer::start();
    // The server holds `out` as a file; locally `out` is now a folder.
    server.state.lock().manifests.insert(
        format!("{USER}/proj/run1"),
        BTreeMap::from([("out".to_owned(), ("blake3:00".to_owned(), 1))]),
    );
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    for i in 0..6 {
        put(&dir, &format!("f{i}.txt"), format!("{i}").as_bytes());
    }
    put(&dir, "out/inner.txt", b"inner");
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    let manifest = server.manifest("proj", "run1");
    assert_eq!(manifest.len(), 7, "{manifest:?}");
    assert!(!manifest.contains_key("out/inner.txt"));
    let warnings = up.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("out/inner.txt"), "{}", warnings[0]);
    assert!(warnings[0].contains("409 Conflict"), "{}", warnings[0]);
    drop(up);
    // Not tried again while it is unchanged.
    let n = server.blob_seen().len();
    assert!(
        Uploader::start(files_config(&server.url, &dir))
            .unwrap()
            .finish(LONG)
            .done
    );
    assert_eq!(server.blob_seen().len(), n);
}

#[test]
fn a_server_without_blob_routes_gets_the_log_and_one_warning() {
    let server = TestServer::start();
    server.state.lock().no_blob_routes = true;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    put(&dir, "a.txt", b"a");
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(!out.done && !out.timed_out && !out.files_done, "{out:?}");
    assert_eq!((out.remaining, out.files_pending), (0, 1));
    assert_eq!(server.stored("proj", "run1"), common::local(&dir));
    let warnings = up.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("404 Not Found"), "{}", warnings[0]);
    assert!(warnings[0].contains("upgrade it"), "{}", warnings[0]);
    assert_eq!(up.status().state, State::Stopped);
}

#[test]
fn finish_gives_up_on_files_at_its_deadline() {
    let server = TestServer::start();
    for _ in 0..50 {
        server.blob_fault(Fault::Status(503));
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "a.txt", b"a");
    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(Some(Duration::from_millis(800)));
    assert!(!out.done && out.timed_out, "{out:?}");
    assert_eq!(out.remaining, 0);
    assert_eq!((out.files_pending, out.files_pending_bytes), (1, 1));
    assert!(up.wait(LONG));
}

#[test]
fn without_files_only_the_log_is_uploaded() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 1, 100);
    put(&dir, "a.txt", b"a");
    let mut cfg = files_config(&server.url, &dir);
    cfg.files_dir = None;
    let out = Uploader::start(cfg).unwrap().finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert!(server.blob_seen().is_empty());
}
