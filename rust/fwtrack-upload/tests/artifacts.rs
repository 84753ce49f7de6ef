//! Artifact commits: the pending commits of `<run dir>/artifacts/pending/` committed by the
//! files thread, their missing blobs sent from the commit's blob directory through the run
//! files' packs, `PUT`s and presigned uploads. Against the in-test server (`common`), whose
//! `POST RUN/artifacts` checks the manifest and its blobs as the real server does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Fault, Presign, TestServer, USER, eventually, noise, run_dir};
use fwtrack_core::address::hash_bytes;
use fwtrack_upload::{Config, Uploader};
use serde_json::{Value, json};

const LONG: Option<Duration> = Some(Duration::from_secs(60));
const PACK: usize = 64 << 10;

fn config(url: &str, dir: &Path) -> Config {
    let mut c = common::files_config(url, dir, PACK);
    c.backoff_initial = Duration::from_millis(10);
    c
}

/// Store `data` in the blob directory `dir` (`<hh>/<hex>`); its address.
fn store(dir: &Path, data: &[u8]) -> String {
    let address = hash_bytes(data).to_string();
    let hex = &address["blake3:".len()..];
    let p = dir.join(&hex[..2]).join(hex);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    address
}

/// A manifest (canonical JSON: sorted keys, no spaces) of `(path, address, size)` entries.
fn manifest(entries: &[(String, String, u64)]) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    for (path, address, size) in entries {
        m.insert(path.clone(), json!({"address": address, "size": size}));
    }
    m.insert("raw/x.csv".into(), json!({"ref": "s3://bucket/x.csv"}));
    json!({"entries": m, "version": 1}).to_string().into_bytes()
}

/// Write the pending commit `<seq>-<id>.json` of `run_dir`; its JSON.
fn pending(run_dir: &Path, seq: u32, id: &str, name: &str, digest: &str, blobs: &Path) -> Value {
    let doc = json!({
        "id": id, "project": "proj", "name": name, "type": "dataset", "description": null,
        "metadata": {"rows": 3}, "aliases": ["best"], "digest": digest,
        "blob_dir": blobs.to_str().unwrap(), "created_at": 1_765_000_000.0,
    });
    let dir = run_dir.join("artifacts").join("pending");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!(".{seq:06}-{id}.json.tmp"));
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{seq:06}-{id}.json"))).unwrap();
    doc
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn committed(run_dir: &Path, id: &str) -> PathBuf {
    run_dir
        .join("artifacts")
        .join("committed")
        .join(format!("{id}.json"))
}

fn failed(run_dir: &Path, id: &str) -> PathBuf {
    run_dir
        .join("artifacts")
        .join("failed")
        .join(format!("{id}.json"))
}

fn pending_left(run_dir: &Path) -> Vec<String> {
    let dir = run_dir.join("artifacts").join("pending");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A blob directory with `n` small blobs and one larger than a pack, and their manifest.
fn dataset(blobs: &Path, seed: u64, n: u64) -> (String, Vec<(String, String, u64)>) {
    let mut entries = Vec::new();
    for i in 0..n {
        let data = noise(seed * 1000 + i, 3000);
        entries.push((format!("part{i}.bin"), store(blobs, &data), 3000));
    }
    let big = noise(seed * 1000 + 999, 5 * PACK);
    entries.push(("model.bin".into(), store(blobs, &big), big.len() as u64));
    let digest = store(blobs, &manifest(&entries));
    (digest, entries)
}

#[test]
fn a_commit_sends_only_the_missing_blobs_then_files_the_servers_answer() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let (digest, entries) = dataset(&blobs, 1, 5);
    // The server holds the first part already (another run sent it).
    let first = entries[0].1.clone();
    let data = std::fs::read(blobs.join(&first[7..9]).join(&first[7..])).unwrap();
    server
        .state
        .lock()
        .blobs
        .insert((USER.into(), first.clone()), data);
    let doc = pending(&dir, 1, "a1", "mnist", &digest, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(
        (
            out.artifacts_pending,
            out.artifacts_committed,
            out.artifacts_failed
        ),
        (0, 1, 0)
    );
    // Four small blobs, the large one and the manifest: each sent once, the held one never.
    assert_eq!(out.blobs_sent, 6, "{out:?}");
    let st = server.state.lock();
    assert_eq!(st.stores.get(&(USER.into(), first)), None);
    for (_, address, _) in &entries[1..] {
        assert_eq!(st.stores.get(&(USER.into(), address.clone())), Some(&1));
    }
    assert_eq!(st.stores.get(&(USER.into(), digest.clone())), Some(&1));
    // The commit went without blob_dir; the answer is filed; nothing is left pending.
    let mut body = doc.clone();
    body.as_object_mut().unwrap().remove("blob_dir");
    assert_eq!(st.commits_seen, vec![body]);
    let answer = read_json(&committed(&dir, "a1"));
    assert_eq!(answer, st.artifacts[0]);
    assert_eq!(answer["version"], "v0");
    assert_eq!(answer["entity"], USER);
    drop(st);
    assert!(pending_left(&dir).is_empty());
    assert!(up.take_warnings().is_empty());
}

#[test]
fn commits_go_in_name_order_and_a_409_has_the_blobs_sent_again() {
    let server = TestServer::start();
    server.state.lock().lose_packs = 1; // the first pack is answered 200 and lost
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let (d1, _) = dataset(&blobs, 1, 3);
    let (d2, _) = dataset(&blobs, 2, 3);
    // Written in the other order: the names order them.
    pending(&dir, 2, "second", "ds", &d2, &blobs);
    pending(&dir, 1, "first", "ds", &d1, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(out.artifacts_committed, 2);
    assert_eq!(read_json(&committed(&dir, "first"))["version"], "v0");
    assert_eq!(read_json(&committed(&dir, "second"))["version"], "v1");
    let st = server.state.lock();
    let ids: Vec<&str> = st
        .commits_seen
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    // "first": its pack was lost, so the server names its manifest, then (the manifest
    // stored) its parts; "second" goes through at once.
    assert_eq!(ids, ["first", "first", "first", "second"]);
    assert!(pending_left(&dir).is_empty());
}

#[test]
fn a_blob_found_nowhere_a_damaged_blob_or_a_refusal_fails_that_commit_alone() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    // 1: an entry whose blob is neither here nor on the server.
    let lost = hash_bytes(b"never stored").to_string();
    let d1 = store(&blobs, &manifest(&[("lost.bin".into(), lost.clone(), 12)]));
    pending(&dir, 1, "nowhere", "a", &d1, &blobs);
    // 2: a blob whose bytes are not its address's.
    let good = store(&blobs, b"good bytes");
    let hex = &good[7..];
    std::fs::write(blobs.join(&hex[..2]).join(hex), b"evil bytes").unwrap();
    let d2 = store(&blobs, &manifest(&[("x.bin".into(), good, 10)]));
    pending(&dir, 2, "damaged", "b", &d2, &blobs);
    // 3: a manifest on the server that is not one: the server refuses the commit (400).
    let bogus = hash_bytes(b"not a manifest").to_string();
    server
        .state
        .lock()
        .blobs
        .insert((USER.into(), bogus.clone()), b"not a manifest".to_vec());
    pending(&dir, 3, "refused", "c", &bogus, &blobs);
    // 4: a good one after them.
    let (d4, _) = dataset(&blobs, 4, 2);
    pending(&dir, 4, "fine", "d", &d4, &blobs);
    // 5: not a pending commit at all.
    std::fs::write(
        dir.join("artifacts")
            .join("pending")
            .join("000005-junk.json"),
        "{",
    )
    .unwrap();

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(
        (
            out.artifacts_pending,
            out.artifacts_committed,
            out.artifacts_failed
        ),
        (0, 1, 4)
    );
    assert!(committed(&dir, "fine").exists());
    let error = |id: &str| {
        let v = read_json(&failed(&dir, id));
        assert_eq!(v["id"], id);
        v["error"].as_str().unwrap().to_owned()
    };
    let e = error("nowhere");
    assert!(
        e.contains("neither on the server nor in") && e.contains(&lost),
        "{e}"
    );
    let e = error("damaged");
    assert!(e.contains("does not hold the bytes of its address"), "{e}");
    let e = error("refused");
    assert!(
        e.contains("400 Bad Request: the manifest is not JSON"),
        "{e}"
    );
    let e = error("junk");
    assert!(e.contains("is not JSON"), "{e}");
    assert!(pending_left(&dir).is_empty());
    // One warning per failed commit, naming it.
    let warnings = up.take_warnings();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    for id in ["nowhere", "damaged", "refused", "junk"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("(commit {id})"))),
            "{id}: {warnings:?}"
        );
    }
    // Nothing of the failed commits was committed.
    assert_eq!(server.state.lock().artifacts.len(), 1);
}

#[test]
fn server_errors_and_lost_connections_are_retried() {
    let server = TestServer::start();
    for f in [
        Fault::Status(500),
        Fault::Drop,
        Fault::Busy(503, 0),
        Fault::Status(502),
    ] {
        server.blob_fault(f);
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let (digest, _) = dataset(&blobs, 5, 2);
    pending(&dir, 1, "retried", "r", &digest, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert_eq!(out.artifacts_committed, 1);
    assert!(committed(&dir, "retried").exists());
    assert!(server.state.lock().blob_faults.is_empty());
}

#[test]
fn a_large_blob_of_a_commit_goes_through_the_presigned_parts() {
    let server = TestServer::start();
    server.state.lock().presign = Some(Presign {
        threshold: PACK as u64,
        part_size: 2 * PACK as u64,
    });
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let (digest, entries) = dataset(&blobs, 6, 2);
    pending(&dir, 1, "big", "m", &digest, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert!(committed(&dir, "big").exists());
    let big = &entries.last().unwrap().1;
    let st = server.state.lock();
    // 5 packs' worth in parts of 2: three parts, none with the API key.
    let parts: Vec<u64> = st.bucket_seen.iter().map(|p| p.number).collect();
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert!(
        st.bucket_seen
            .iter()
            .all(|p| !p.authorized && p.status == 200)
    );
    assert!(st.blobs.contains_key(&(USER.into(), big.clone())));
    assert!(!st.blob_seen.iter().any(|s| s.kind == "put"));
}

#[test]
fn a_manifest_of_100000_entries_is_checked_10000_addresses_at_a_time() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    // The server holds all but ten of the blobs; the blob directory only those ten (as the
    // SDK stages only what the server lacks).
    let mut entries = Vec::new();
    {
        let mut st = server.state.lock();
        for i in 0..100_000u32 {
            let data = format!("row {i}").into_bytes();
            let address = if i % 10_000 == 7 {
                store(&blobs, &data)
            } else {
                let a = hash_bytes(&data).to_string();
                st.blobs.insert((USER.into(), a.clone()), data.clone());
                a
            };
            entries.push((format!("rows/{i:06}.txt"), address, data.len() as u64));
        }
    }
    let digest = store(&blobs, &manifest(&entries));
    pending(&dir, 1, "many", "rows", &digest, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
    assert!(committed(&dir, "many").exists());
    assert_eq!(out.blobs_sent, 11, "{out:?}");
    let st = server.state.lock();
    assert!(
        st.missing_asked.iter().all(|&n| n <= 10_000),
        "{:?}",
        st.missing_asked
    );
    assert_eq!(st.missing_asked.iter().sum::<usize>(), 100_001);
}

#[test]
fn notify_files_commits_a_commit_written_while_the_run_is_live() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let (d1, _) = dataset(&blobs, 7, 1);
    let (d2, _) = dataset(&blobs, 8, 1);
    pending(&dir, 1, "early", "live", &d1, &blobs);
    let mut cfg = config(&server.url, &dir);
    cfg.files_interval = Duration::from_secs(3600); // no pass but the first without a nudge
    let up = Uploader::start(cfg).unwrap();
    eventually("the first pass committed the early commit", || {
        up.status().artifacts_committed == 1
    });
    assert!(committed(&dir, "early").exists());

    pending(&dir, 2, "later", "live", &d2, &blobs);
    up.notify_files();
    eventually("the nudged pass committed the later commit", || {
        let s = up.status();
        (s.artifacts_committed, s.artifacts_pending) == (2, 0)
    });
    assert!(!up.status().complete);
    assert_eq!(read_json(&committed(&dir, "later"))["version"], "v1");
    let out = up.finish(LONG);
    assert!(out.done, "{out:?}");
}

#[test]
fn a_pending_commit_keeps_the_files_part_from_being_done() {
    // The server keeps answering that the manifest is missing (it loses every pack): the
    // commit stays pending, and the upload ends not done, naming it.
    let server = TestServer::start();
    server.state.lock().lose_packs = u32::MAX;
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 3, 100);
    let blobs = tmp.path().join("blobs");
    let digest = store(&blobs, &manifest(&[]));
    pending(&dir, 1, "stuck", "s", &digest, &blobs);

    let up = Uploader::start(config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(!out.done && !out.files_done, "{out:?}");
    assert_eq!(out.artifacts_pending, 1);
    assert_eq!(out.remaining, 0);
    let error = out.error.unwrap_or_default();
    assert!(
        error.contains("artifact commits of run") && error.contains("fwtrack sync"),
        "{error}"
    );
    assert_eq!(pending_left(&dir), ["000001-stuck.json"]);
    assert!(!committed(&dir, "stuck").exists());
}
