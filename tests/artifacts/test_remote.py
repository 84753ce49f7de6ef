"""Artifacts against real `fwtrack server` processes, on the directory store and on a real
S3-compatible store (SeaweedFS, large blobs through presigned URLs), one case on PostgreSQL:
online runs log versions through their uploader, other runs use and download them verified,
`fwtrack sync` commits what offline runs logged, and the lineage reads back through
`Api(base_url=...)`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from counting_proxy import CountingProxy
from fwserver import Server, client_env, run_cli
from fwtrack import _core
from fwtrack.api import Api
from fwtrack.artifacts import remote, staging
from fwtrack.artifacts.manifest import ManifestEntry
from fwtrack.errors import ArtifactVerifyError, ReferenceLimitError
from fwtrack.server.pack import encode_pack
from seaweed import Seaweed
from server.harness import PostgresCluster

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = REPO / "tests" / "programs"
PRESIGN_THRESHOLD = 64 * 1024
"""On S3, blobs above this go through presigned URLs (both ways): the big file below does."""
QUIET = {"capture_env": False, "save_code": False, "console": False, "system_interval": 0}


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("artifacts-dir") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, seaweed: Seaweed) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("artifacts-s3") / "data", store="s3", seaweed=seaweed)
    srv.extra_args = ["--presign-threshold", str(PRESIGN_THRESHOLD)]
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["directory", "s3"])
def srv(request: pytest.FixtureRequest) -> Server:
    name = "dir_server" if request.param == "directory" else "s3_server"
    server: Server = request.getfixturevalue(name)
    return server


def _online(monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", "120")


def _env(tmp_path: Path, server: Server, **extra: str) -> dict[str, str]:
    return client_env(
        tmp_path,
        FWTRACK_BASE_URL=server.url,
        FWTRACK_API_KEY=server.key,
        FWTRACK_CACHE_DIR=os.environ["FWTRACK_CACHE_DIR"],
        FWTRACK_UPLOAD_TIMEOUT="120",
        **extra,
    )


def _dataset(root: Path, *, big: bool = True, seed: str = "a") -> Path:
    """A small tree of files (one above the presign threshold when `big`)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.csv").write_text("".join(f"{i},{seed}{i * i}\n" for i in range(500)))
    (root / "images").mkdir(exist_ok=True)
    for i in range(5):
        (root / "images" / f"{i}.bin").write_bytes(bytes([i]) * (1000 + i) + seed.encode())
    (root / "images" / "copy.bin").write_bytes(bytes([1]) * 1001 + seed.encode())  # same as 1
    (root / "empty.txt").write_bytes(b"")
    if big:
        (root / "big.bin").write_bytes(os.urandom(300_000) + seed.encode())
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _staged(artifact_id: str | None) -> Path:
    assert artifact_id is not None
    return staging.staging_root() / artifact_id


# -- round trips ---------------------------------------------------------------------------------


def test_online_log_use_and_download_round_trip(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, srv)
    data = _dataset(tmp_path / "data")
    run = fwtrack.init(project="arts", job_type="dataset", settings=QUIET)
    assert run._uploader is not None
    art = fwtrack.Artifact("mnist", type="dataset", metadata={"rows": 500})
    art.add_dir(str(data))
    logged = run.log_artifact(art, aliases=["best"])
    logged.wait()
    assert logged.version == "v0"
    assert sorted(logged.aliases) == ["best", "latest"]
    assert logged.size == sum(len(b) for b in _tree(data).values())
    # The server's version is the one the run was answered with.
    version = srv.get("/artifacts/admin/arts/collections/mnist/versions/latest")
    assert version["digest"] == logged.digest
    assert version["run"]["id"] == run.id
    assert version["metadata"] == {"rows": 500}
    assert version["files"] == len(_tree(data))
    # After the commit the staging dir is gone: its blobs moved into the download cache.
    assert (Path(run.dir) / "artifacts" / "committed" / f"{logged.id}.json").is_file()
    assert not list((Path(run.dir) / "artifacts" / "pending").glob("*.json"))
    assert not _staged(logged.id).exists()
    run.finish()

    user = fwtrack.init(project="arts", job_type="train", settings=QUIET)
    used = user.use_artifact("mnist:best")
    assert used.digest == logged.digest
    assert used.version == "v0"
    root = Path(used.download(tmp_path / "out"))
    assert _tree(root) == _tree(data)
    assert used.verify(root).ok
    user.finish()
    # The use is recorded on the server: the version's used_by names the run.
    used_by = srv.get("/artifacts/admin/arts/collections/mnist/versions/v0/used_by")
    assert user.id in [u["run_id"] for u in used_by]


def test_download_from_api_with_an_empty_cache(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A second machine: nothing in its cache, everything fetched and verified."""
    _online(monkeypatch, srv)
    data = _dataset(tmp_path / "data", seed="fresh")
    with fwtrack.init(project="arts2", settings=QUIET) as run:
        run.log_artifact(str(data), name="fresh", type="dataset").wait()
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "other-cache"))
    art = Api(base_url=srv.url).artifact("arts2/fresh:latest")
    root = Path(art.download(tmp_path / "copy"))
    assert _tree(root) == _tree(data)
    blobs = tmp_path / "other-cache" / "artifacts" / "blobs"
    cached = [p for p in blobs.rglob("*") if p.is_file() and p.parent.name != "tmp"]
    distinct = set(_tree(data).values())
    assert len(cached) == len(distinct) + 1  # each content once, and the manifest


def test_corrupted_files_are_detected_and_downloaded_again(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, srv)
    data = _dataset(tmp_path / "data", seed="c")
    with fwtrack.init(project="corrupt", settings=QUIET) as run:
        run.log_artifact(str(data), name="ds", type="dataset").wait()
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "fresh-cache"))
    art = Api(base_url=srv.url).artifact("corrupt/ds:v0")
    root = Path(art.download(tmp_path / "dl"))
    # A file of the download changed on disk: verify() names it, download() repairs it.
    (root / "train.csv").write_text("tampered\n")
    (root / "images" / "0.bin").unlink()
    report = art.verify(root)
    assert not report.ok
    assert report.changed == ["train.csv"]
    assert report.missing == ["images/0.bin"]
    with pytest.raises(ArtifactVerifyError):
        art.verify(root, raise_on_error=True)
    art.download(root)
    assert _tree(root) == _tree(data)
    assert art.verify(root).ok
    # A file of the download cache changed on disk: it is not copied, but fetched again.
    big = (data / "big.bin").read_bytes()
    hex_ = art.get_entry("big.bin").address.partition(":")[2]  # type: ignore[union-attr]
    cached = tmp_path / "fresh-cache" / "artifacts" / "blobs" / hex_[:2] / hex_
    assert cached.read_bytes() == big
    cached.write_bytes(b"x" * len(big))
    again = Path(art.download(tmp_path / "dl2"))
    assert (again / "big.bin").read_bytes() == big
    assert cached.read_bytes() == big


# -- offline, then `fwtrack sync` ----------------------------------------------------------------


def test_offline_run_synced_commits_its_artifacts(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = _dataset(tmp_path / "data", seed="off")
    with fwtrack.init(project="offl", mode="offline", settings=QUIET) as run:
        logged = run.log_artifact(str(data), name="ds", type="dataset", aliases=["first"])
        logged.wait()
        assert logged.version == "v0"  # committed by the local registry
    pending = list((Path(run.dir) / "artifacts" / "pending").glob("*.json"))
    assert len(pending) == 1
    status, _ = srv.request("/artifacts/admin/offl/collections/ds/versions/latest")
    assert status == 404
    proc = run_cli("sync", run.dir, env=_env(tmp_path, srv))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 artifact committed" in proc.stdout
    version = srv.get("/artifacts/admin/offl/collections/ds/versions/first")
    assert version["digest"] == logged.digest
    assert version["run"]["id"] == run.id
    assert not list((Path(run.dir) / "artifacts" / "pending").glob("*.json"))
    assert (Path(run.dir) / "artifacts" / "committed" / f"{logged.id}.json").is_file()
    # The bytes on the server are those of the files.
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "sync-cache"))
    art = Api(base_url=srv.url, api_key=srv.key).artifact("offl/ds:first")
    assert _tree(Path(art.download(tmp_path / "back"))) == _tree(data)
    # The staging of an offline run is the local registry: left alone.
    assert (Path(os.environ["FWTRACK_DIR"]) / ".artifacts" / "blobs").is_dir()
    # A second sync has nothing to commit.
    proc = run_cli("sync", run.dir, env=_env(tmp_path, srv))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(srv.get("/artifacts/admin/offl/versions")) == 1


# -- concurrency ---------------------------------------------------------------------------------


def test_two_processes_logging_one_name_get_two_versions(srv: Server, tmp_path: Path) -> None:
    _log_concurrently(srv, tmp_path)


def _log_concurrently(srv: Server, tmp_path: Path) -> None:
    """Two processes log different contents under one name at once: two complete versions."""
    a = _dataset(tmp_path / "a", big=False, seed="procA")
    b = _dataset(tmp_path / "b", big=False, seed="procB")
    go = tmp_path / "go"
    env = _env(tmp_path, srv)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(PROGRAMS / "artifact_log_online.py"),
                "conc",
                "shared",
                str(d),
                "--go",
                str(go),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in (a, b)
    ]
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, out + err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["version"] for r in results) == ["v0", "v1"]
    versions = srv.get("/artifacts/admin/conc/versions", name="shared")
    assert sorted(v["digest"] for v in versions) == sorted(r["digest"] for r in results)
    assert {v["version"]: v["digest"] for v in versions} == {
        r["version"]: r["digest"] for r in results
    }
    # Both are complete: each downloads byte-identical to what its process logged.
    api = Api(base_url=srv.url, api_key=srv.key)
    for result, source in zip(results, (a, b), strict=True):
        art = api.artifact(f"conc/shared:{result['version']}")
        assert _tree(Path(art.download(tmp_path / f"dl-{result['version']}"))) == _tree(source)


# -- lineage -------------------------------------------------------------------------------------


def test_lineage_over_three_runs_through_the_api(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, srv)
    data = _dataset(tmp_path / "data", big=False, seed="lin")
    with fwtrack.init(project="lin", job_type="dataset", settings=QUIET) as prep:
        prep.log_artifact(str(data), name="raw", type="dataset").wait()
    with fwtrack.init(project="lin", job_type="train", settings=QUIET) as train:
        ds = train.use_artifact("raw:latest")
        model_file = tmp_path / "model.bin"
        model_file.write_bytes(b"weights" + ds.digest.encode())
        model = fwtrack.Artifact("net", type="model")
        model.add_file(str(model_file))
        train.log_artifact(model).wait()
    with fwtrack.init(project="lin", job_type="eval", settings=QUIET) as evaluation:
        used = evaluation.use_artifact("lin/net:v0")
        report = fwtrack.Artifact("scores", type="report")
        with report.new_file("scores.json") as f:
            json.dump({"accuracy": 0.9, "model": used.digest}, f)
        evaluation.log_artifact(report).wait()

    api = Api(base_url=srv.url)
    net = api.artifact("lin/net:latest")
    assert api.artifact("admin/lin/net:v0").digest == net.digest  # with the entity
    producer = net.logged_by()
    assert producer is not None
    assert producer.run_id == train.id
    assert [r.run_id for r in net.used_by()] == [evaluation.id]
    near = net.lineage(depth=1)
    assert {n["run_id"] for n in near["nodes"] if n["kind"] == "run"} == {train.id, evaluation.id}
    graph = net.lineage(depth=3)  # the dataset's producer is three hops away
    ids = {n["id"] for n in graph["nodes"]}
    run_nodes = {n["run_id"] for n in graph["nodes"] if n["kind"] == "run"}
    assert {prep.id, train.id, evaluation.id} <= run_nodes
    assert "artifact:lin/raw:v0" in ids
    assert "artifact:lin/net:v0" in ids
    assert "artifact:lin/scores:v0" in ids
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    assert (f"run:admin/lin/{train.id}", "artifact:lin/net:v0") in edges
    assert ("artifact:lin/raw:v0", f"run:admin/lin/{train.id}") in edges
    assert ("artifact:lin/net:v0", f"run:admin/lin/{evaluation.id}") in edges
    # The project's listings.
    assert {t["type"] for t in api.artifact_types("lin")} == {"dataset", "model", "report"}
    names = sorted(c["name"] for c in api.artifact_collections("lin"))
    assert names == ["net", "raw", "scores"]
    assert [a.name for a in api.artifacts("lin", type="model")] == ["net"]
    # A run's logged and used artifacts, from the server.
    train_run = api.run(f"admin/lin/{train.id}")
    assert [a.name for a in train_run.logged_artifacts()] == ["net"]
    assert [a.name for a in train_run.used_artifacts()] == ["raw"]
    # Aliases set through the Api move on the server.
    net.aliases = ["production"]
    again = srv.get("/artifacts/admin/lin/collections/net/versions/production")
    assert again["digest"] == net.digest


# -- many small files ----------------------------------------------------------------------------


def test_many_small_files_and_only_missing_blobs_on_a_relog(
    dir_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, dir_server)
    data = tmp_path / "many"
    for d in range(100):
        (data / f"d{d:03d}").mkdir(parents=True)
        for f in range(100):
            (data / f"d{d:03d}" / f"{f:03d}.txt").write_bytes(b"%d/%d\n" % (d, f) * 20)
    with fwtrack.init(project="many", settings=QUIET) as run:
        first = run.log_artifact(str(data), name="small", type="dataset")
        first.wait()
    assert first.file_count == 10_000
    before = set(dir_server.stored_blob_names("admin"))
    (data / "d050" / "007.txt").write_bytes(b"changed\n")
    with fwtrack.init(project="many", settings=QUIET) as run:
        second = run.log_artifact(str(data), name="small", type="dataset")
        second.wait()
        assert run._uploader is not None
        status = run._uploader.status()
    assert second.version == "v1"
    # Only the changed file and the new manifest went up.
    after = set(dir_server.stored_blob_names("admin"))
    assert len(after - before) == 2
    assert status["blobs_sent"] == 2
    assert status["artifacts_committed"] == 1
    api = Api(base_url=dir_server.url)
    root = Path(api.artifact("many/small:v1").download(tmp_path / "copy"))
    assert (root / "d050" / "007.txt").read_bytes() == b"changed\n"
    assert len(_tree(root)) == 10_000


def test_many_small_files_come_in_packs_byte_identical(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Small contents are fetched many at a time (`POST .../blobs/fetch`), a large one with
    its own GET; the download is the logged tree, and a second one is all cache hits."""
    _online(monkeypatch, srv)
    data = tmp_path / "packs"
    for i in range(400):
        folder = data / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.bin").write_bytes(os.urandom(i * 37 % 5000) if i % 50 else b"same")
    (data / "empty.txt").write_bytes(b"")
    (data / "large.bin").write_bytes(os.urandom(remote.PACK_BLOB_MAX + 10))
    with fwtrack.init(project="packs", settings=QUIET) as run:
        run.log_artifact(str(data), name="small", type="dataset").wait()
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "pack-cache"))
    front = CountingProxy(srv.port).start()
    try:
        art = Api(base_url=front.url).artifact("packs/small:v0")
        start = len(front.seen)
        root = Path(art.download(tmp_path / "copy"))
        first = front.seen[start:]
        start = len(front.seen)
        again = Path(art.download(tmp_path / "again"))
        second = front.seen[start:]
    finally:
        front.stop()
    assert _tree(root) == _tree(data)
    assert _tree(again) == _tree(data)
    packs = [s for s in first if s.method == "POST" and s.path.endswith("/blobs/fetch")]
    files = [s for s in first if "/files/" in s.path]
    assert packs
    assert all(s.status == 200 for s in packs)
    assert len(packs) <= remote.DOWNLOAD_THREADS
    assert [s.path.rsplit("/", 1)[1] for s in files] == ["large.bin"]  # on S3: a 307 to it
    # The cache held everything: no pack and no file asked for the second time.
    assert not [s for s in second if "/blobs/fetch" in s.path or "/files/" in s.path]


class _FakeClient:
    """Answers every pack request with `body`."""

    base_url = "http://fake.invalid"

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.asked: list[str] = []

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[io.BytesIO]:
        self.asked.append(f"{method} {path}")
        yield io.BytesIO(self.body)


def test_a_packed_blob_that_is_not_its_address_is_not_kept(tmp_path: Path) -> None:
    good, bad = b"good bytes", b"bad bytes"
    good_a, bad_a = _core.hash_bytes(good), _core.hash_bytes(bad)
    body = encode_pack([(good_a, good), (bad_a, b"not the bad bytes")])
    client = _FakeClient(body)
    cache = tmp_path / "cache"
    reg = remote.RemoteRegistry(client, "e", cache_dir=cache)  # type: ignore[arg-type]
    entries = [
        ManifestEntry("a/good.txt", good_a, len(good)),
        ManifestEntry("b.txt", bad_a, len(bad)),
    ]
    version = {"entity": "e", "project": "p", "name": "ds", "version": "v0"}
    with pytest.raises(ArtifactVerifyError, match="not its address"):
        reg.materialize(version, entries, tmp_path / "out")
    assert client.asked == ["POST /artifacts/e/p/blobs/fetch"]
    # The good one was kept (cache and file); nothing of the bad one.
    assert (tmp_path / "out" / "a" / "good.txt").read_bytes() == good
    assert not (tmp_path / "out" / "b.txt").exists()
    kept = {p.name for p in cache.rglob("*") if p.is_file()}
    assert kept == {good_a.partition(":")[2]}
    # An answer holding a blob that was not asked for is refused too.
    client.body = encode_pack([(_core.hash_bytes(b"other"), b"other")])
    with pytest.raises(ArtifactVerifyError, match="not asked for"):
        reg.materialize(version, entries[1:], tmp_path / "out2")
    assert not (tmp_path / "out2" / "b.txt").exists()


# -- the download cache's bound ------------------------------------------------------------------


def test_remote_downloads_keep_the_cache_within_its_bound(
    dir_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, dir_server)
    sources = []
    with fwtrack.init(project="bound", settings=QUIET) as run:
        for i in range(4):
            src = tmp_path / f"blob{i}"
            src.mkdir()
            (src / "data.bin").write_bytes(os.urandom(200_000))
            sources.append(src)
            run.log_artifact(str(src), name=f"part{i}", type="dataset").wait()
    bound = 450_000
    cache = tmp_path / "bounded-cache"
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(cache))
    monkeypatch.setenv("FWTRACK_CACHE_SIZE", str(bound))
    api = Api(base_url=dir_server.url)
    for i, src in enumerate(sources):
        root = Path(api.artifact(f"bound/part{i}:v0").download(tmp_path / f"out{i}"))
        assert _tree(root) == _tree(src)
        held = sum(
            p.stat().st_size
            for p in (cache / "artifacts" / "blobs").rglob("*")
            if p.is_file() and p.parent.name != "tmp"
        )
        assert held <= bound
    # The latest download is still cached (least recently used ones went first).
    last = api.artifact("bound/part3:v0").get_entry("data.bin").address
    assert last is not None
    hex_ = last.partition(":")[2]
    assert (cache / "artifacts" / "blobs" / hex_[:2] / hex_).is_file()


# -- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        srv = Server(tmp_path_factory.mktemp("artifacts-pg") / "data")
        srv.db_url = cluster.create_database()
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()
    finally:
        cluster.stop()


def test_round_trip_and_concurrent_versions_on_postgresql(
    pg_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _log_concurrently(pg_server, tmp_path)
    _online(monkeypatch, pg_server)
    with fwtrack.init(project="conc", settings=QUIET) as run:
        used = run.use_artifact("shared:v1")
        root = Path(used.download(tmp_path / "pg-dl"))
        assert used.verify(root).ok


# -- a server that is down -----------------------------------------------------------------------


@pytest.mark.filterwarnings("default::fwtrack.errors.FwTrackWarning")  # "cannot upload ..."
def test_logging_while_the_server_is_down_commits_once_it_is_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The staging cannot ask which blobs the server lacks: it stages every one; the uploader
    commits once the server answers again, and training never saw an error."""
    server = Server(tmp_path / "down-data").start()
    try:
        _online(monkeypatch, server)
        data = _dataset(tmp_path / "data", big=False, seed="down")
        run = fwtrack.init(project="down", settings=QUIET)
        server.kill9()
        logged = run.log_artifact(str(data), name="ds", type="dataset")
        run.log({"loss": 1.0})  # training goes on
        pending = Path(run.dir) / "artifacts" / "pending"
        with pytest.raises(staging.ArtifactCommitTimeoutError):
            logged.wait(timeout=1)
        assert logged.version is None  # staged, not committed yet
        (pending_file,) = pending.glob("*.json")
        log_id = pending_file.stem.partition("-")[2]
        staged = [p for p in _staged(log_id).rglob("*") if p.is_file()]
        assert len(staged) == len(set(_tree(data).values())) + 1  # every content + manifest
        server.restart()
        logged.wait()
        assert logged.version == "v0"
        assert logged.id == log_id
        assert not list(pending.glob("*.json"))
        assert not _staged(log_id).exists()
        run.finish()
        version = server.get("/artifacts/admin/down/collections/ds/versions/v0")
        assert version["digest"] == logged.digest
    finally:
        server.stop()


# -- references to a real S3 prefix, logged online -------------------------------------------------


def test_s3_references_logged_online_and_fetched_from_their_source(
    srv: Server, seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server holds the reference entries (URI, size, ETag), never their bytes; a download
    elsewhere fetches them from the bucket, checked."""
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    bucket = seaweed.new_bucket("refs-online")
    s3 = seaweed.client()
    objects = {f"data/part-{i}.csv": f"row,{i}\n".encode() * (i + 1) for i in range(3)}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    _online(monkeypatch, srv)
    readme = tmp_path / "README.md"
    readme.write_text("stored on the server\n")
    with fwtrack.init(project="refs", settings=QUIET) as run:
        art = fwtrack.Artifact("lake", type="dataset")
        art.add_reference(f"s3://{bucket}/data/", name="raw", max_objects=3)
        art.add_file(str(readme))
        with pytest.raises(ReferenceLimitError, match="max_objects=2"):
            art.add_reference(f"s3://{bucket}/data/", name="capped", max_objects=2)
        logged = run.log_artifact(art).wait()
    manifest = srv.get("/artifacts/admin/refs/collections/lake/versions/v0/manifest")
    entry = manifest["entries"]["raw/part-1.csv"]
    assert entry["ref"] == f"s3://{bucket}/data/part-1.csv"
    assert entry["size"] == len(objects["data/part-1.csv"])
    assert "address" not in entry
    assert sorted(manifest["entries"]) == ["README.md", *(f"raw/part-{i}.csv" for i in range(3))]
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / "ref-cache"))
    art = Api(base_url=srv.url).artifact("refs/lake:latest")
    assert art.digest == logged.digest
    root = Path(art.download(tmp_path / "lake"))
    expected = {f"raw/{k.split('/')[1]}": v for k, v in objects.items()}
    expected["README.md"] = b"stored on the server\n"
    assert _tree(root) == expected
    assert art.verify(root).ok
