"""The S3 backend of the server's store against a real S3-compatible store (SeaweedFS):
the blob contract on both backends (directory and S3), the object layout under the prefix,
start-up failures that name their fix, and a server whose data dir loses everything but its
database and still serves every run, media payload and file byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fwtrack.server.config import S3Location, ServerConfig
from fwtrack.server.store import BlobKey, DirectoryStore, RunKey, Store, open_store
from fwtrack.server.store.s3 import S3Store
from seaweed import REGION, Seaweed

from .harness import REPO, ServerProcess, child_env, free_port

ENTITY = "alice"
PROGRAM = REPO / "tests" / "programs" / "media_and_files_run.py"


def key_of(data: bytes, entity: str = ENTITY) -> BlobKey:
    # The store trusts its caller's address; any well-formed one names the blob.
    return BlobKey(entity, "sha256:" + hashlib.sha256(data).hexdigest())


@pytest.fixture
def aws_env(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The four AWS variables of the test store, set for this process."""
    env = seaweed.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def s3_store(seaweed: Seaweed, cache: Path, prefix: str = "team/fwtrack/") -> S3Store:
    store = S3Store(
        S3Location(seaweed.new_bucket(), prefix), cache, endpoint=seaweed.endpoint, region=REGION
    )
    store.check()
    return store


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each backend in turn: the directory store, and the S3 store over a fresh bucket."""
    if request.param == "directory":
        return DirectoryStore(tmp_path / "store")
    request.getfixturevalue("aws_env")
    seaweed: Seaweed = request.getfixturevalue("seaweed")
    return s3_store(seaweed, tmp_path / "cache")


# -- the blob contract, on both backends --------------------------------------------------------


def test_put_open_size_delete(store: Store) -> None:
    data = b"a run file\n" * 1000
    key = key_of(data)
    assert not store.exists(key)
    assert store.size(key) is None
    with pytest.raises(FileNotFoundError):
        store.open(key)
    store.put(key, data)
    assert store.exists(key)
    assert store.size(key) == len(data)
    with store.open(key) as fh:
        assert fh.read() == data
    store.put(key, memoryview(data))  # storing it again is harmless
    assert store.size(key) == len(data)
    store.delete(key)
    assert not store.exists(key)
    assert store.size(key) is None
    with pytest.raises(FileNotFoundError):
        store.open(key)
    store.delete(key)  # nothing to remove: no error
    assert os.listdir(store.root / "tmp") == []


def test_open_streams_in_pieces(store: Store) -> None:
    data = os.urandom(3 << 20) + b"tail"
    key = key_of(data)
    store.put(key, data)
    got = bytearray()
    with store.open(key) as fh:
        while piece := fh.read(100_000):
            assert len(piece) <= 100_000
            got += piece
    assert bytes(got) == data
    fh = store.open(key)
    assert fh.read(10) == data[:10]
    fh.close()  # closed half-read: no error, nothing left open


def test_a_staged_upload_is_stored_and_an_unused_one_removed(store: Store) -> None:
    data = os.urandom(5 << 20)
    key = key_of(data)
    with store.stage() as staged:
        for start in range(0, len(data), 1 << 20):
            staged.write(memoryview(data)[start : start + (1 << 20)])
        assert staged.size == len(data)
        staged.seal()
        assert not store.exists(key)  # nothing visible before `put`
        store.put(key, staged)
    assert store.size(key) == len(data)
    with store.open(key) as fh:
        assert fh.read() == data
    with store.stage() as staged:
        staged.write(b"refused bytes")
        assert len(os.listdir(store.root / "tmp")) == 1
    assert os.listdir(store.root / "tmp") == []  # a refused upload leaves nothing


def test_put_many_stores_every_blob(store: Store) -> None:
    blobs = [os.urandom(1000 + i * 4099) for i in range(40)]
    with store.stage() as staged:
        staged.write(blobs[0])
        items: list[tuple[BlobKey, Any]] = [(key_of(blobs[0]), staged)]
        items += [(key_of(b), b) for b in blobs[1:]]
        store.put_many(items)
    for blob in blobs:
        with store.open(key_of(blob)) as fh:
            assert fh.read() == blob
    other = key_of(blobs[0], entity="bob")  # blobs are kept per entity
    assert not store.exists(other)


def test_a_bad_entity_or_source_is_refused_before_anything_is_stored(store: Store) -> None:
    data = b"x" * 100
    for entity in ("", ".", "..", "a/b"):
        with pytest.raises(ValueError, match="not an entity name"):
            store.put(key_of(data, entity), data)
    with pytest.raises(TypeError, match="put takes bytes"):
        store.put(key_of(data), "text")  # type: ignore[arg-type]
    assert not store.exists(key_of(data))


def test_run_keys_place_caches_by_row(store: Store) -> None:
    one, again = RunKey(3, "r1", 10), RunKey(3, "r1", 11)  # deleted and uploaded again
    assert store.run_log(one).path.parent == store.run_dir(one)
    assert store.index_dir(one).parent == store.run_dir(one)
    assert store.run_dir(one).is_relative_to(store.root)
    store.sync_run(one, 0)  # nothing stored: nothing to fetch
    if isinstance(store, S3Store):
        assert store.run_dir(one) != store.run_dir(again)


# -- the S3 backend --------------------------------------------------------------------------


@pytest.mark.usefixtures("aws_env")
def test_objects_are_laid_out_under_the_prefix(seaweed: Seaweed, tmp_path: Path) -> None:
    store = s3_store(seaweed, tmp_path / "cache", prefix="team/fwtrack/")
    data = b"payload"
    key = BlobKey(ENTITY, "blake3:" + "ab" * 32)
    store.put(key, data)
    assert store.object_key(key) == f"team/fwtrack/blobs/{ENTITY}/ab/blake3-{'ab' * 32}"
    assert seaweed.keys(store.bucket) == [store.object_key(key)]
    assert store.local_path(key) is None  # the routes stream `open`
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    bare = S3Store(
        S3Location(store.bucket, ""), tmp_path / "c2", endpoint=seaweed.endpoint, region=REGION
    )
    assert bare.object_key(key) == f"blobs/{ENTITY}/ab/blake3-{'ab' * 32}"
    with pytest.raises(FileNotFoundError):
        bare.open(key)  # stored under another prefix


@pytest.mark.usefixtures("aws_env")
def test_delete_run_removes_its_objects_and_caches_only(seaweed: Seaweed, tmp_path: Path) -> None:
    store = s3_store(seaweed, tmp_path / "cache", prefix="p/")
    doomed, kept = RunKey(1, "r", 7), RunKey(1, "r", 70)
    for run in (doomed, kept):
        for name in ("log/0000000000000000-0000000000000010", "index/manifest.json"):
            store.client.put_object(
                Bucket=store.bucket, Key=store.run_prefix(run) + name, Body=b"x"
            )
        store.index_dir(run).mkdir(parents=True)
    blob = key_of(b"shared")
    store.put(blob, b"shared")
    store.delete_run(doomed)
    assert seaweed.keys(store.bucket) == sorted(
        [
            store.object_key(blob),
            "p/runs/70/index/manifest.json",
            "p/runs/70/log/0000000000000000-0000000000000010",
        ]
    )
    assert not store.run_dir(doomed).exists()
    assert store.index_dir(kept).is_dir()
    store.delete_run(doomed)  # again: nothing left, no error


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("snapshot", [False, True], ids=["from-the-log", "from-a-snapshot"])
def test_a_second_server_reads_what_another_appended(
    seaweed: Seaweed, tmp_path: Path, snapshot: bool
) -> None:
    import numpy as np

    from fwtrack.server import core

    from .apputil import make_run

    data = make_run(tmp_path / "client", "p", "r1", steps=60).read_bytes()
    location = S3Location(seaweed.new_bucket(), "x/")
    one, two = (
        S3Store(location, tmp_path / name, endpoint=seaweed.endpoint, region=REGION)
        for name in ("one", "two")
    )
    run = RunKey(1, "r1", 5)
    cut = len(data) // 2
    for start, end in ((0, cut), (cut, len(data))):
        with one.run_log(run).locked(create=True) as handle:
            handle.append(data[start:end], start)
            core.index_update(str(one.run_log(run).path), str(one.index_dir(run)))
            if snapshot and start == 0:
                one.snapshot_index(run)  # the index of the first half only
    snapshots = [k for k in seaweed.keys(location.bucket) if k.endswith("/index/manifest.json")]
    assert snapshots == (["x/runs/5/index/manifest.json"] if snapshot else [])
    two.sync_run(run, len(data))
    assert two.run_log(run).path.read_bytes() == data
    got = core.read_series(str(two.index_dir(run)), None, 0, None, None)
    want = core.read_series(str(one.index_dir(run)), None, 0, None, None)
    assert sorted(got) == sorted(want)
    assert want
    for key, columns in want.items():
        for name, values in columns.items():
            assert np.array_equal(got[key][name], values, equal_nan=True), (key, name)
    two.sync_run(run, len(data))  # up to date: nothing to do


@pytest.mark.usefixtures("aws_env")
def test_a_big_staged_blob_goes_up_in_parts(
    seaweed: Seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fwtrack.server.store import s3

    monkeypatch.setattr(s3, "_MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(s3, "_MULTIPART_CHUNK", 5 << 20)
    store = s3_store(seaweed, tmp_path / "cache")
    data = os.urandom((12 << 20) + 7)
    key = key_of(data)
    with store.stage() as staged:
        staged.write(data)
        store.put(key, staged)
    head = store.client.head_object(Bucket=store.bucket, Key=store.object_key(key))
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert store.size(key) == len(data)
    with store.open(key) as fh:
        assert fh.read() == data
    listed = store.client.list_multipart_uploads(Bucket=store.bucket)
    assert listed.get("Uploads", []) == []


# -- configuration and start-up ----------------------------------------------------------------


def _config(tmp_path: Path, url: str, endpoint: str) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data", store_url=url, s3_endpoint=endpoint)


@pytest.mark.usefixtures("aws_env")
def test_open_store_picks_the_backend(seaweed: Seaweed, tmp_path: Path) -> None:
    assert isinstance(open_store(ServerConfig(data_dir=tmp_path / "d")), DirectoryStore)
    there = open_store(ServerConfig(data_dir=tmp_path / "d", store_url=str(tmp_path / "elsewhere")))
    assert isinstance(there, DirectoryStore)
    assert there.root == tmp_path / "elsewhere"
    bucket = seaweed.new_bucket()
    found = open_store(_config(tmp_path, f"s3://{bucket}/a/b", seaweed.endpoint))
    assert isinstance(found, S3Store)
    assert (found.bucket, found.prefix, found.cache_dir) == (
        bucket,
        "a/b/",
        tmp_path / "data" / "cache",
    )
    # the endpoint and region come from the AWS variables when not given
    config = ServerConfig(data_dir=tmp_path / "d", store_url=f"s3://{bucket}")
    assert config.s3_endpoint_url == seaweed.endpoint
    assert isinstance(open_store(config), S3Store)


def test_a_bad_store_url_fails_with_a_hint(tmp_path: Path) -> None:
    for url, says in [
        ("gs://bucket/x", "unsupported scheme 'gs'"),
        ("s3://", "is not a bucket name"),
        ("s3://UPPER/x", "is not a bucket name"),
        ("s3://bucket/../x", "not a usable key prefix"),
    ]:
        with pytest.raises(ValueError, match="hint:") as caught:
            ServerConfig(data_dir=tmp_path, store_url=url)
        assert says in str(caught.value), url
    with pytest.raises(ValueError, match="hint:"):
        ServerConfig(data_dir=tmp_path, store_url="s3://b-1/x", s3_endpoint="127.0.0.1:9000")


@pytest.mark.usefixtures("aws_env")
def test_a_missing_bucket_fails_at_start_with_a_hint(seaweed: Seaweed, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist") as caught:
        open_store(_config(tmp_path, "s3://no-such-bucket-here/x", seaweed.endpoint))
    assert str(caught.value) == (
        f"bucket 'no-such-bucket-here' does not exist at {seaweed.endpoint}; hint: create it, "
        "or check --s3-endpoint and the bucket in --store"
    )


def test_refused_credentials_fail_at_start_with_a_hint(
    seaweed: Seaweed, aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = seaweed.new_bucket()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(ValueError, match="refused the credentials") as caught:
        open_store(_config(tmp_path, f"s3://{bucket}", seaweed.endpoint))
    text = str(caught.value)
    assert text.startswith(f"{seaweed.endpoint} refused the credentials for bucket {bucket!r}")
    assert "hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in text


def test_no_credentials_fail_at_start_with_a_hint(
    seaweed: Seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ValueError, match="no credentials for the S3 store") as caught:
        open_store(_config(tmp_path, "s3://some-bucket", seaweed.endpoint))
    assert "hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in str(caught.value)


@pytest.mark.usefixtures("aws_env")
def test_an_unreachable_endpoint_fails_at_start_with_a_hint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ValueError, match="cannot reach") as caught:
        open_store(_config(tmp_path, "s3://some-bucket", endpoint))
    text = str(caught.value)
    assert text.startswith(f"cannot reach the S3 endpoint {endpoint}")
    assert "hint: check --s3-endpoint (or AWS_ENDPOINT_URL)" in text


def test_the_server_command_refuses_a_missing_bucket(seaweed: Seaweed, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    store = ["--store", "s3://absent-bucket/fw", "--s3-endpoint", seaweed.endpoint]
    proc = subprocess.run(
        [sys.executable, "-m", "fwtrack", "server", "--data", data, *store],
        env=child_env(**seaweed.env()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (
        f"fwtrack: error: bucket 'absent-bucket' does not exist at {seaweed.endpoint}; hint: "
        "create it, or check --s3-endpoint and the bucket in --store"
    )
    assert not (tmp_path / "data" / "fwtrack.db").exists()  # nothing was set up


# -- the headline: nothing on the server's disk but its database -------------------------------


def _s3_server(tmp_path: Path, seaweed: Seaweed, bucket: str, db_url: str | None) -> ServerProcess:
    return ServerProcess(
        tmp_path / "data",
        db_url,
        extra_args=["--store", f"s3://{bucket}/fwtrack"],
        env=seaweed.env(),
        start_timeout=90,
    )


def _train(tmp_path: Path, srv: ServerProcess, files: int) -> dict[str, Any]:
    env = child_env(
        FWTRACK_DIR=str(tmp_path / "client" / "fwtrack"),
        FWTRACK_CONFIG_DIR=str(tmp_path / "client" / "config"),
        FWTRACK_BASE_URL=srv.url,
        FWTRACK_API_KEY=srv.admin_key,
        FWTRACK_UPLOAD_TIMEOUT="120",
    )
    (tmp_path / "client").mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(PROGRAM), "online", str(files), str(300_000), str(9 << 20)],
        cwd=tmp_path / "client",
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    made: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return made


def _everything(srv: ServerProcess, runs: list[str]) -> dict[str, bytes]:
    """Every byte a reader gets back for `runs`: the run list, each run's stored log, history,
    media, files (listing and bytes of each), console and system metrics."""
    import httpx

    out: dict[str, bytes] = {}
    with httpx.Client(base_url=f"{srv.url}/api/v1", headers=srv.headers, timeout=60) as http:

        def get(path: str, **params: Any) -> bytes:
            r = http.get(path, params=params, follow_redirects=True)  # big blobs: presigned GET
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            return r.content

        listing = json.loads(get("/runs/admin/blobs"))["runs"]
        out["runs"] = json.dumps(
            sorted((r["id"], r["state"], r["summary"]) for r in listing)
        ).encode()
        for run_id in runs:
            base = f"/runs/admin/blobs/{run_id}"
            out[f"{run_id}/log"] = get(f"{base}/log")
            out[f"{run_id}/history"] = get(f"{base}/history", samples=0)
            out[f"{run_id}/media/keys"] = get(f"{base}/media/keys")
            out[f"{run_id}/media"] = get(f"{base}/media", key="sample")
            out[f"{run_id}/console"] = get(f"{base}/logs")
            out[f"{run_id}/system"] = get(f"{base}/system")
            out[f"{run_id}/files"] = get(f"{base}/files")
            for item in json.loads(out[f"{run_id}/files"])["files"]:
                out[f"{run_id}/files/{item['path']}"] = get(f"{base}/files/{item['path']}")
    return out


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_server_keeps_nothing_on_disk_but_its_database(
    seaweed: Seaweed, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    from fwtrack import _core

    db_url = request.getfixturevalue("fresh_postgres_db") if database == "postgresql" else None
    bucket = seaweed.new_bucket()
    srv = _s3_server(tmp_path, seaweed, bucket, db_url).start()
    try:
        made = [_train(tmp_path, srv, files) for files in (3, 5)]
        runs = [m["id"] for m in made]
        before = _everything(srv, runs)
    finally:
        srv.stop()

    # what a reader got is what the clients wrote
    for m in made:
        run_dir = Path(m["dir"])
        assert before[f"{m['id']}/log"] == (run_dir / "run.fwlog").read_bytes()
        names = [f["path"] for f in json.loads(before[f"{m['id']}/files"])["files"]]
        media = [d["path"] for _, _, _, d in _core.RunReader(str(run_dir)).media()]
        assert len(media) == 12
        assert set(media) <= set(names)
        for path in names:
            local = run_dir / "files" / path
            assert before[f"{m['id']}/files/{path}"] == local.read_bytes(), path
    # every byte is in the bucket: blobs, log segments
    keys = seaweed.keys(bucket, "fwtrack/")
    assert any(k.startswith("fwtrack/blobs/admin/") for k in keys)
    assert any("/log/" in k for k in keys)
    assert sum(k.endswith("/index/manifest.json") for k in keys) == 2  # finished: snapshots

    # everything in the data dir but the database (SQLite's file) goes
    data = tmp_path / "data"
    assert (data / "cache" / "runs").is_dir()
    for entry in data.iterdir():
        if entry.name != "fwtrack.db":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    assert [p.name for p in data.iterdir()] == (["fwtrack.db"] if db_url is None else [])

    srv.start()
    try:
        after = _everything(srv, runs)
    finally:
        srv.stop()
    assert sorted(after) == sorted(before)
    for name, body in before.items():
        assert after[name] == body, name


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_run_deleted_and_uploaded_again_never_meets_its_old_bytes(
    seaweed: Seaweed, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """Its objects go before its row does; on PostgreSQL the new row's key is a new one (SQLite
    may give the freed key again: nothing of the old run is left under it)."""
    import httpx

    from .apputil import make_run

    first = make_run(tmp_path / "c1", "again", "r1", steps=30).read_bytes()
    second = make_run(tmp_path / "c2", "again", "r1", steps=7, config={"lr": 0.1}).read_bytes()
    bucket = seaweed.new_bucket()
    db_url = request.getfixturevalue("fresh_postgres_db") if database == "postgresql" else None
    srv = _s3_server(tmp_path, seaweed, bucket, db_url).start()
    base = "/api/v1/runs/admin/again/r1"
    try:
        with httpx.Client(base_url=srv.url, headers=srv.headers, timeout=60) as http:
            assert http.post(f"{base}/log", params={"offset": 0}, content=first).json() == {
                "offset": len(first)
            }
            old = {k.split("/")[2] for k in seaweed.keys(bucket, "fwtrack/runs/")}
            assert len(old) == 1  # one run: its pk
            assert http.delete(base).status_code == 200
            assert seaweed.keys(bucket, "fwtrack/runs/") == []  # its segments went with it
            assert http.post(f"{base}/log", params={"offset": 0}, content=second).json() == {
                "offset": len(second)
            }
            assert http.get(f"{base}/log").content == second
            history = http.get(f"{base}/history", params={"samples": 0}).json()["series"]
            assert len(history["loss"]["step"]) == 7
            new = {k.split("/")[2] for k in seaweed.keys(bucket, "fwtrack/runs/")}
            assert len(new) == 1
            if database == "postgresql":
                assert new.isdisjoint(old)  # keyed by the new row
    finally:
        srv.stop()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["directory", "s3"])
def test_ranged_downloads_answer_the_same_on_both_stores(
    seaweed: Seaweed, tmp_path: Path, backend: str
) -> None:
    """A file the S3 store streams (no local copy) answers a single range as a local file
    does: 206 with its Content-Range, 416 past the end, the whole file for an If-Range that
    no longer matches."""
    import httpx

    from fwtrack import _core

    from .apputil import make_run

    log = make_run(tmp_path / "client", "ranges", "r1", steps=3).read_bytes()
    data = os.urandom(300_000)
    if backend == "s3":
        srv = _s3_server(tmp_path, seaweed, seaweed.new_bucket(), None).start()
    else:
        srv = ServerProcess(tmp_path / "data", start_timeout=90).start()
    url = "/api/v1/runs/admin/ranges/r1/files/weights.bin"
    etag = f'"{_core.hash_bytes(data)}"'
    try:
        with httpx.Client(base_url=srv.url, headers=srv.headers, timeout=60) as http:
            r = http.post("/api/v1/runs/admin/ranges/r1/log", params={"offset": 0}, content=log)
            assert r.status_code == 200
            assert http.put(url, content=data).status_code == 200
            for asked, start, end in [
                ("bytes=0-7", 0, 8),
                ("bytes=1000-", 1000, len(data)),
                ("bytes=-5", len(data) - 5, len(data)),
                ("bytes=299990-400000", 299_990, len(data)),
            ]:
                r = http.get(url, headers={"Range": asked})
                assert (r.status_code, r.content) == (206, data[start:end]), asked
                assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(data)}"
                assert r.headers["content-length"] == str(end - start)
            r = http.get(url, headers={"Range": "bytes=300000-"})
            assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{len(data)}")
            r = http.get(url, headers={"Range": "bytes=0-7", "If-Range": '"another"'})
            assert (r.status_code, r.content) == (200, data)
            r = http.get(url, headers={"Range": "bytes=0-7", "If-Range": etag})
            assert (r.status_code, r.content) == (206, data[:8])
            r = http.get(url)
            assert (r.status_code, r.content, r.headers["accept-ranges"]) == (200, data, "bytes")
    finally:
        srv.stop()
