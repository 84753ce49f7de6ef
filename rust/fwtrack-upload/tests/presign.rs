//! Large blobs straight to the object store: `POST .../blobs/uploads`, the parts `PUT` to
//! their presigned URLs (never with the API key), `complete`; expired URLs, a resumed
//! upload, and a server without the route. Against the in-test server and its in-memory
//! bucket (`common`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{MockUpload, Presign, TestServer, USER, noise, put, run_dir};
use fwtrack_core::address::hash_bytes;
use fwtrack_upload::{Config, Uploader};

const LONG: Option<Duration> = Some(Duration::from_secs(60));
const PART: u64 = 64 << 10;
const PACK: usize = 32 << 10;

fn files_config(url: &str, dir: &Path) -> Config {
    let mut c = common::files_config(url, dir, PACK);
    c.backoff_initial = Duration::from_millis(10);
    c
}

fn presigning(server: &TestServer) {
    server.state.lock().presign = Some(Presign {
        threshold: PACK as u64,
        part_size: PART,
    });
}

fn kinds(server: &TestServer) -> Vec<&'static str> {
    server.blob_seen().iter().map(|s| s.kind).collect()
}

#[test]
fn a_large_blob_goes_to_the_bucket_in_parts_without_the_api_key() {
    let server = TestServer::start();
    presigning(&server);
    server.state.lock().part_delay = Duration::from_millis(30);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let big = noise(1, 20 * PART as usize + 123); // 21 parts
    put(&dir, "model/weights.bin", &big);
    put(&dir, "small.txt", b"small");

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    let address = hash_bytes(&big).to_string();
    assert_eq!(server.blob(&address).as_deref(), Some(&big[..]));
    assert_eq!(
        server.manifest("proj", "run1")["model/weights.bin"].0,
        address
    );

    let st = server.state.lock();
    let parts = &st.bucket_seen;
    assert_eq!(parts.len(), 21, "{parts:?}");
    assert!(
        parts.iter().all(|p| p.status == 200 && !p.authorized),
        "{parts:?}"
    );
    let mut numbers: Vec<u64> = parts.iter().map(|p| p.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=21).collect::<Vec<_>>());
    assert!(
        (2..=4).contains(&st.max_parts_in_flight),
        "{}",
        st.max_parts_in_flight
    );
    assert!(st.uploads.is_empty());
    drop(st);
    // Asked once, completed once; the blob's bytes never went to the server.
    let k = kinds(&server);
    assert_eq!(k.iter().filter(|k| **k == "uploads").count(), 1, "{k:?}");
    assert_eq!(k.iter().filter(|k| **k == "complete").count(), 1, "{k:?}");
    assert!(!k.contains(&"put"), "{k:?}");
    let through_server: usize = server.blob_seen().iter().map(|s| s.len).sum();
    assert!(through_server < 10_000, "{through_server}");
}

#[test]
fn expired_urls_are_asked_for_again_and_failed_parts_retried() {
    let server = TestServer::start();
    presigning(&server);
    {
        let mut st = server.state.lock();
        st.expire_parts = 2;
        st.fail_parts = 3;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let big = noise(2, 6 * PART as usize);
    put(&dir, "big.bin", &big);

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(
        server.blob(&hash_bytes(&big).to_string()).as_deref(),
        Some(&big[..])
    );
    let k = kinds(&server);
    assert!(k.iter().filter(|k| **k == "uploads").count() >= 2, "{k:?}");
    let st = server.state.lock();
    assert_eq!(st.bucket_seen.iter().filter(|p| p.status == 403).count(), 2);
    assert_eq!(st.bucket_seen.iter().filter(|p| p.status == 500).count(), 3);
    // Each part stored once.
    assert_eq!(st.bucket_seen.iter().filter(|p| p.status == 200).count(), 6);
}

#[test]
fn a_restarted_upload_sends_only_the_parts_the_bucket_lacks() {
    let server = TestServer::start();
    presigning(&server);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let big = noise(3, 10 * PART as usize + 7); // 11 parts
    put(&dir, "big.bin", &big);
    let address = hash_bytes(&big).to_string();
    // An earlier process sent parts 1 to 4 and 9 before it died.
    let mut earlier = MockUpload {
        entity: USER.to_owned(),
        address: address.clone(),
        size: big.len() as u64,
        ..MockUpload::default()
    };
    for n in [1u64, 2, 3, 4, 9] {
        let at = ((n - 1) * PART) as usize;
        earlier
            .parts
            .insert(n, big[at..at + PART as usize].to_vec());
    }
    server.state.lock().uploads.insert("up1".into(), earlier);

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(server.blob(&address).as_deref(), Some(&big[..]));
    let st = server.state.lock();
    let mut sent: Vec<u64> = st.bucket_seen.iter().map(|p| p.number).collect();
    sent.sort_unstable();
    assert_eq!(sent, vec![5, 6, 7, 8, 10, 11]);
    assert!(st.bucket_seen.iter().all(|p| p.upload == "up1"));
}

#[test]
fn bytes_the_server_refuses_are_hashed_again_and_sent_again() {
    let server = TestServer::start();
    presigning(&server);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let big = noise(4, 3 * PART as usize);
    let address = hash_bytes(&big).to_string();
    // An earlier (broken) process left a wrong part 1 in the upload.
    let mut earlier = MockUpload {
        entity: USER.to_owned(),
        address: address.clone(),
        size: big.len() as u64,
        ..MockUpload::default()
    };
    earlier.parts.insert(1, vec![0; PART as usize]);
    server.state.lock().uploads.insert("up1".into(), earlier);
    put(&dir, "big.bin", &big);

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(server.blob(&address).as_deref(), Some(&big[..]));
    let k = kinds(&server);
    let statuses: Vec<(&str, u16)> = server
        .blob_seen()
        .iter()
        .filter(|s| s.kind == "complete")
        .map(|s| (s.kind, s.status))
        .collect();
    assert_eq!(
        statuses,
        vec![("complete", 400), ("complete", 200)],
        "{k:?}"
    );
}

#[test]
fn a_server_without_the_route_gets_the_blob_streamed() {
    let server = TestServer::start(); // no `presign`: POST blobs/uploads is a 404
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    let big = noise(5, 3 * PART as usize);
    put(&dir, "a.bin", &big);
    put(&dir, "b.bin", &noise(6, 2 * PART as usize));

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    assert_eq!(
        server.blob(&hash_bytes(&big).to_string()).as_deref(),
        Some(&big[..])
    );
    assert_eq!(
        kinds(&server).iter().filter(|k| **k == "put").count(),
        2,
        "{:?}",
        kinds(&server)
    );
    assert!(server.state.lock().bucket_seen.is_empty());
}

#[test]
fn a_blob_under_the_servers_threshold_goes_through_the_server() {
    let server = TestServer::start();
    server.state.lock().presign = Some(Presign {
        threshold: 1 << 30,
        part_size: PART,
    });
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = run_dir(tmp.path(), 2, 100);
    put(&dir, "a.bin", &noise(7, 2 * PART as usize));

    let up = Uploader::start(files_config(&server.url, &dir)).unwrap();
    let out = up.finish(LONG);
    assert!(out.done && out.files_done, "{out:?}");
    let k = kinds(&server);
    assert_eq!(
        k.iter()
            .filter(|k| **k == "uploads" || **k == "put")
            .count(),
        2,
        "{k:?}"
    );
    assert!(server.state.lock().bucket_seen.is_empty());
}
