"""Blobs by content address against real server processes: which ones the server lacks, packs
and streamed uploads verified before anything is stored, the run's file manifest (all or
nothing), blobs kept once per entity and shared by its runs, the collector removing what no
run references (and never what one does, whatever runs at the same time), and a data dir of an
older version whose files stay readable after the upgrade. On the directory store and on S3
(a real SeaweedFS): the collector on every store and SQL backend, the protocol on two of them;
what a store holds is read from its bytes (`ServerProcess.stored_blobs`)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fwtrack import _core
from fwtrack.server.db import Database
from fwtrack.server.pack import encode_pack

from .apputil import MATRIX, REPRESENTATIVE, database, db_url, make_run, split, store_choice
from .conftest import ServerFactory
from .harness import STORES, ServerProcess, Ui

pytestmark = pytest.mark.slow

PROJECT = "blobs"
PACK = {"Content-Type": "application/x-fwtrack-blobs"}
DEADLINE = 60.0


def base(run_id: str, project: str = PROJECT, entity: str = "admin") -> str:
    return f"/api/v1/runs/{entity}/{project}/{run_id}"


def addr(data: bytes) -> str:
    return _core.hash_bytes(data)


@pytest.fixture(scope="session")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real run log (a few steps), uploaded under several run ids (made once per process:
    the tests that use it alone are scheduled one by one under xdist)."""
    root = tmp_path_factory.mktemp("client")
    return make_run(root, PROJECT, "template", steps=5).read_bytes()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as client:
        yield client


def new_run(http: httpx.Client, run_log: bytes, run_id: str, project: str = PROJECT) -> None:
    r = http.post(
        f"{base(run_id, project)}/log",
        params={"offset": 0},
        content=run_log,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text


def missing(http: httpx.Client, run_id: str, addresses: list[str]) -> list[str]:
    r = http.post(f"{base(run_id)}/blobs/missing", json={"addresses": addresses})
    assert r.status_code == 200, r.text
    out: list[str] = r.json()["missing"]
    return out


def send(http: httpx.Client, run_id: str, blobs: list[bytes]) -> httpx.Response:
    return http.post(
        f"{base(run_id)}/blobs", content=encode_pack([(addr(b), b) for b in blobs]), headers=PACK
    )


def record(http: httpx.Client, run_id: str, files: dict[str, bytes]) -> httpx.Response:
    body = {"files": [{"path": p, "address": addr(b), "size": len(b)} for p, b in files.items()]}
    return http.post(f"{base(run_id)}/files", json=body)


def recorded(http: httpx.Client, run_id: str, files: dict[str, bytes]) -> httpx.Response:
    """`record`, sending the blobs again while it answers 409 `missing` (as clients do): with
    `--blob-grace 0` the collector may take a blob between its upload and the manifest."""
    for _ in range(20):
        r = record(http, run_id, files)
        if r.status_code != 409 or "missing" not in r.json():
            return r
        lacking = set(r.json()["missing"])
        assert (
            send(http, run_id, [b for b in files.values() if addr(b) in lacking]).status_code == 200
        )
    return r


def listing(http: httpx.Client, run_id: str) -> dict[str, tuple[int, str]]:
    r = http.get(f"{base(run_id)}/files")
    assert r.status_code == 200, r.text
    return {f["path"]: (f["size"], f["address"]) for f in r.json()["files"]}


def staged(server: ServerProcess) -> list[str]:
    """What is left where the server stages uploads."""
    return sorted(os.listdir(server.staging_dir)) if server.staging_dir.exists() else []


def wait_until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# -- one server (SQLite) for the protocol itself ----------------------------------------------


@pytest.fixture(scope="module", params=REPRESENTATIVE)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    store, backend = split(request.param)
    with database(request, backend) as url:
        srv = ServerProcess(
            tmp_path_factory.mktemp("blobs") / "server",
            db_url=url,
            store=store_choice(request, store),
        )
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()


def test_a_tampered_blob_is_refused_and_nothing_of_it_stored(
    server: ServerProcess, http: httpx.Client, run_log: bytes
) -> None:
    new_run(http, run_log, "tamper")
    good, original = b"a good blob " * 100, b"what the address names " * 100
    tampered = original.replace(b"names", b"NAMES")
    claimed = addr(original)
    assert missing(http, "tamper", [claimed, addr(good)]) == [claimed, addr(good)]

    # a pack: the tampered entry is refused, the good one kept
    pack = encode_pack([(claimed, tampered), (addr(good), good)])
    r = http.post(f"{base('tamper')}/blobs", content=pack, headers=PACK)
    assert r.status_code == 400, r.text
    assert r.json()["refused"] == [claimed]
    assert "content does not match its address" in r.json()["detail"]
    assert missing(http, "tamper", [claimed, addr(good)]) == [claimed]
    names = server.stored_blob_names()
    assert f"blake3-{claimed.partition(':')[2]}" not in names
    assert f"blake3-{addr(good).partition(':')[2]}" in names

    # one streamed blob: refused, its temporary file removed
    r = http.put(f"{base('tamper')}/blobs/{claimed}", content=tampered)
    assert r.status_code == 400, r.text
    assert r.json()["refused"] == [claimed]
    assert missing(http, "tamper", [claimed]) == [claimed]
    assert server.stored_blob_names() == names
    assert staged(server) == []
    # nor can a manifest name it
    r = record(http, "tamper", {"x.txt": original})
    assert r.status_code == 409, r.text
    assert r.json()["missing"] == [claimed]

    # malformed packs and addresses
    for body in (b"\x05\x00hello" + bytes(8), encode_pack([(addr(good), good)])[:-1]):
        r = http.post(f"{base('tamper')}/blobs", content=body, headers=PACK)
        assert r.status_code == 400, r.text
        assert "not a blob pack" in r.json()["detail"]
    r = http.post(f"{base('tamper')}/blobs/missing", json={"addresses": ["blake3:zz"]})
    assert r.status_code == 400
    assert "blake3:zz" in r.json()["detail"]
    assert "internal error" not in server.log_text()


def test_missing_pack_put_manifest_and_download(
    server: ServerProcess, http: httpx.Client, run_log: bytes
) -> None:
    new_run(http, run_log, "round")
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    files = {
        f"media/{addr(png).partition(':')[2]}.png": png,
        "requirements.txt": b"numpy\n",
        "empty.txt": b"",
        "deep/er/notes.md": b"# notes\n" * 50,
    }
    wanted = sorted({addr(b) for b in files.values()})
    assert missing(http, "round", wanted) == wanted
    r = send(http, "round", list(files.values()))
    assert r.status_code == 200, r.text
    assert sorted(r.json()["stored"]) == wanted
    assert missing(http, "round", wanted) == []
    r = record(http, "round", files)
    assert r.status_code == 200, r.text
    assert r.json() == {"recorded": len(files)}
    assert listing(http, "round") == {p: (len(b), addr(b)) for p, b in files.items()}
    for path, data in files.items():
        r = http.get(f"{base('round')}/files/{path}")
        assert r.status_code == 200, (path, r.text)
        assert r.content == data
        assert r.headers["etag"] == f'"{addr(data)}"'
    media = next(p for p in files if p.startswith("media/"))
    r = http.get(f"{base('round')}/files/{media}")
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["content-type"] == "image/png"
    again = http.get(f"{base('round')}/files/{media}", headers={"If-None-Match": f'"{addr(png)}"'})
    assert again.status_code == 304
    part = http.get(f"{base('round')}/files/{media}", headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.content) == (206, png[:8])

    # sending again stores nothing new; a path pointed at other bytes serves them
    count = len(server.stored_blob_names())
    assert send(http, "round", [png]).status_code == 200
    assert len(server.stored_blob_names()) == count
    newer = b"numpy\npandas\n"
    assert send(http, "round", [newer]).status_code == 200
    assert record(http, "round", {"requirements.txt": newer}).status_code == 200
    assert http.get(f"{base('round')}/files/requirements.txt").content == newer

    # an unknown run
    assert http.post(f"{base('ghost')}/blobs/missing", json={"addresses": []}).status_code == 404


def test_a_manifest_naming_an_unstored_blob_records_nothing(
    http: httpx.Client, run_log: bytes
) -> None:
    new_run(http, run_log, "partial")
    kept, absent = b"stored already", b"never sent"
    assert send(http, "partial", [kept]).status_code == 200
    r = record(http, "partial", {"a.txt": kept, "b.txt": absent})
    assert r.status_code == 409, r.text
    assert r.json()["missing"] == [addr(absent)]
    assert listing(http, "partial") == {}
    # a wrong size, and file/folder clashes, are refused without `missing`
    r = http.post(
        f"{base('partial')}/files",
        json={"files": [{"path": "a.txt", "address": addr(kept), "size": 1}]},
    )
    assert r.status_code == 400, r.text
    assert record(http, "partial", {"dir/inner.txt": kept}).status_code == 200
    for clash in ({"dir": kept}, {"dir/inner.txt/below": kept}):
        r = record(http, "partial", clash)
        assert r.status_code == 409, r.text
        assert "missing" not in r.json()
    assert listing(http, "partial") == {"dir/inner.txt": (len(kept), addr(kept))}
    # the old single-file route keeps working, through the same store and manifest
    r = http.put(f"{base('partial')}/files/b.txt", content=absent)
    assert r.status_code == 200, r.text
    assert missing(http, "partial", [addr(absent)]) == []
    assert listing(http, "partial")["b.txt"] == (len(absent), addr(absent))


def test_a_large_blob_is_streamed(
    server: ServerProcess, http: httpx.Client, run_log: bytes
) -> None:
    new_run(http, run_log, "large")
    big = os.urandom(20 << 20)

    def chunks() -> Iterator[bytes]:  # a chunked body: the server cannot size it up front
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    r = http.put(f"{base('large')}/blobs/{addr(big)}", content=chunks())
    assert r.status_code == 200, r.text
    assert r.json() == {"address": addr(big), "size": len(big)}
    assert record(http, "large", {"weights.bin": big}).status_code == 200
    # over the presign threshold, a store that signs sends the download to the bucket
    # (httpx drops the Authorization header on the way to another origin)
    r = http.get(f"{base('large')}/files/weights.bin", follow_redirects=True)
    assert [h.status_code for h in r.history] == ([307] if server.store.is_s3 else [])
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(big).digest()
    assert staged(server) == []


def test_the_blob_routes_are_documented(http: httpx.Client) -> None:
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    run = "/api/v1/runs/{entity}/{project}/{run_id}"
    assert set(paths[f"{run}/blobs/missing"]) == {"post"}
    assert set(paths[f"{run}/blobs"]) == {"post"}
    assert set(paths[f"{run}/blobs/{{address}}"]) == {"put"}
    assert set(paths[f"{run}/files"]) == {"get", "post"}
    pack = paths[f"{run}/blobs"]["post"]
    assert "application/x-fwtrack-blobs" in pack["requestBody"]["content"]
    assert "refused" in str(pack["responses"]["400"])
    assert "application/octet-stream" in str(paths[f"{run}/blobs/{{address}}"]["put"])
    manifest = paths[f"{run}/files"]["post"]
    assert "missing" in str(manifest["responses"]["409"])
    assert "requestBody" in manifest
    for route in (f"{run}/blobs", f"{run}/blobs/{{address}}"):
        for method, operation in paths[route].items():
            assert "429" in operation["responses"], (route, method)
            assert "405" in operation["responses"], (route, method)


def test_fwtrack_ui_takes_no_blobs(ui: Ui) -> None:
    """`fwtrack ui` reads local runs in place: every blob route answers 405."""
    data = b"bytes"
    for method, path, body, kind in (
        ("POST", "/blobs/missing", json.dumps({"addresses": [addr(data)]}).encode(), "json"),
        ("POST", "/blobs", encode_pack([(addr(data), data)]), PACK["Content-Type"]),
        ("PUT", f"/blobs/{addr(data)}", data, "application/octet-stream"),
        ("POST", "/files", json.dumps({"files": []}).encode(), "json"),
    ):
        headers = {"Content-Type": "application/json" if kind == "json" else kind}
        r = httpx.request(
            method, f"{ui.url}/runs/local/proj/r1{path}", content=body, headers=headers
        )
        assert r.status_code == 405, (method, path, r.text)


# -- the collector: per store and backend, grace 0 --------------------------------------------


@pytest.fixture(params=MATRIX)
def collecting(request: pytest.FixtureRequest, server_factory: ServerFactory) -> ServerProcess:
    store, backend = split(request.param)
    return server_factory(
        db_url=db_url(request, backend),
        store=store_choice(request, store),
        extra_args=["--blob-grace", "0"],
    )


def test_two_runs_share_a_blob_until_both_are_deleted(
    collecting: ServerProcess, run_log: bytes
) -> None:
    with httpx.Client(base_url=collecting.url, headers=collecting.headers, timeout=120) as http:
        shared = os.urandom(10_000)
        for run_id in ("one", "two"):
            new_run(http, run_log, run_id)
        assert send(http, "one", [shared]).status_code == 200
        assert missing(http, "two", [addr(shared)]) == []  # kept once for the entity
        for run_id in ("one", "two"):
            assert recorded(http, run_id, {"data/shared.bin": shared}).status_code == 200
        assert len(collecting.stored_blob_names()) == 1

        # deleting one run keeps the blob: a blob no run references shows the collector ran
        witness = b"referenced by no run"
        assert send(http, "two", [witness]).status_code == 200
        assert len(collecting.stored_blob_names()) == 2
        assert http.delete(base("one")).status_code == 200
        wait_until(
            "the collector removing the unreferenced blob",
            lambda: len(collecting.stored_blob_names()) == 1,
        )
        assert http.get(f"{base('two')}/files/data/shared.bin").content == shared
        assert collecting.stored_blobs() == {addr(shared): shared}

        # deleting the other removes it, and nothing of either run is left in the store
        assert http.delete(base("two")).status_code == 200
        wait_until("the store emptied", lambda: collecting.stored_blob_names() == [])
        assert collecting.stored_keys("runs/") == []
        new_run(http, run_log, "three")
        assert missing(http, "three", [addr(shared)]) == [addr(shared)]


def test_the_collector_never_removes_a_referenced_blob(
    collecting: ServerProcess, run_log: bytes
) -> None:
    """Uploaders reference blobs while runs sharing them are deleted (each deletion wakes the
    collector, grace 0): whatever a manifest recorded stays downloadable."""
    pool = [os.urandom(2000) + bytes([i]) for i in range(12)]  # shared by every run
    stop = threading.Event()
    errors: list[str] = []
    recorded: dict[str, dict[str, bytes]] = {}

    def client() -> httpx.Client:
        return httpx.Client(base_url=collecting.url, headers=collecting.headers, timeout=120)

    def uploader(worker: int) -> None:
        rng = random.Random(worker)
        run_id = f"keep-{worker}"
        mine: dict[str, bytes] = {}
        with client() as http:
            new_run(http, run_log, run_id)
            step = 0
            while not stop.is_set() and not errors:
                blob = rng.choice(pool)
                path = f"f/{step}.bin"
                for _ in range(50):  # until the manifest holds: 409 missing means send again
                    lacking = missing(http, run_id, [addr(blob)])
                    if lacking and send(http, run_id, [blob]).status_code != 200:
                        errors.append(f"{run_id}: pack refused")
                    r = record(http, run_id, {path: blob})
                    if r.status_code == 200:
                        mine[path] = blob
                        break
                    if r.status_code != 409 or r.json().get("missing") != [addr(blob)]:
                        errors.append(f"{run_id}: {r.status_code} {r.text}")
                        return
                step += 1
        recorded[run_id] = mine

    def churn(worker: int) -> None:
        """Runs referencing the same blobs, created and deleted over and over."""
        rng = random.Random(100 + worker)
        with client() as http:
            n = 0
            while not stop.is_set() and not errors:
                run_id = f"churn-{worker}-{n}"
                new_run(http, run_log, run_id)
                blobs = rng.sample(pool, 3)
                if send(http, run_id, blobs).status_code == 200:
                    record(http, run_id, {f"c/{i}.bin": b for i, b in enumerate(blobs)})
                r = http.delete(base(run_id))
                if r.status_code != 200:
                    errors.append(f"{run_id}: delete answered {r.status_code} {r.text}")
                n += 1

    def guarded(target: Callable[[int], None], worker: int) -> None:
        try:
            target(worker)
        except Exception as exc:  # reported by the assertion below
            errors.append(f"{target.__name__} {worker}: {exc!r}")

    threads = [threading.Thread(target=guarded, args=(uploader, w)) for w in range(4)]
    threads += [threading.Thread(target=guarded, args=(churn, w)) for w in range(2)]
    for t in threads:
        t.start()
    time.sleep(8)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(recorded) == 4
    with client() as http:
        for run_id, files in recorded.items():
            assert files, run_id
            assert {p: s for p, (s, _) in listing(http, run_id).items()} == {
                p: len(b) for p, b in files.items()
            }
            for path, data in files.items():
                r = http.get(f"{base(run_id)}/files/{path}")
                assert (r.status_code, r.content == data) == (200, True), (run_id, path)
    assert "internal error" not in collecting.log_text()


# -- an older version's data dir ----------------------------------------------------------------


def _old_data_dir(data: Path, log: bytes, files: dict[str, dict[str, bytes]]) -> None:
    """What a server before the store left: a database at revision 0003 with runs of project
    `admin/blobs` (id 1), and `blobs/1/<run id>/{run.fwlog, index/, files/...}`."""
    data.mkdir(parents=True)
    db = Database(f"sqlite:///{data / 'fwtrack.db'}")
    try:
        with db.engine.connect() as connection:
            db.upgrade(connection, "0003")
            connection.execute(
                sa.text(
                    "INSERT INTO projects (id, entity, name, created_at, last_activity) "
                    "VALUES (1, 'admin', :name, 0, 0)"
                ),
                {"name": PROJECT},
            )
            for run_id in files:
                connection.execute(
                    sa.text(
                        "INSERT INTO runs (project_id, run_id, name, state, tags, created_at, "
                        "updated_at, heartbeat_at, runtime, config, summary, metadata, keys, "
                        "log_size, next_seq, edited) VALUES (1, :run, :run, 'finished', '[]', "
                        "0, 0, 0, 0, '{}', '{}', '{}', '[\"loss\"]', :size, 0, '[]')"
                    ),
                    {"run": run_id, "size": len(log)},
                )
            connection.commit()
    finally:
        db.dispose()
    for run_id, run_files in files.items():
        run_dir = data / "blobs" / "1" / run_id
        (run_dir / "files").mkdir(parents=True)
        (run_dir / "run.fwlog").write_bytes(log)
        _core.index_update(str(run_dir / "run.fwlog"), str(run_dir / "index"))
        for path, data_ in run_files.items():
            target = run_dir / "files" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data_)
        (run_dir / "files" / ".upload-x.tmp").write_bytes(b"a temporary of the old server")


@pytest.mark.parametrize("store", STORES)
def test_an_older_data_dir_serves_the_same_files_after_the_upgrade(
    request: pytest.FixtureRequest,
    server_factory: ServerFactory,
    tmp_path: Path,
    run_log: bytes,
    store: str,
) -> None:
    """Started on either store, the server moves the old folders' bytes into it."""
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    old_name = f"media/{hashlib.sha256(png).hexdigest()}.png"  # as older clients named it
    files = {
        "old-a": {old_name: png, "requirements.txt": b"numpy\n", "code/train.py": b"print(1)\n"},
        "old-b": {old_name: png, "metadata.json": json.dumps({"os": "linux"}).encode()},
    }
    data = tmp_path / "server0"
    _old_data_dir(data, run_log, files)
    copy = tmp_path / "blobs-copy"
    shutil.copytree(data / "blobs", copy)

    srv = server_factory(data_dir=data, store=store_choice(request, store))
    with httpx.Client(base_url=srv.url, headers=srv.headers, timeout=120) as http:

        def check() -> None:
            for run_id, run_files in files.items():
                assert listing(http, run_id) == {p: (len(b), addr(b)) for p, b in run_files.items()}
                for path, content in run_files.items():
                    r = http.get(f"{base(run_id)}/files/{path}")
                    assert (r.status_code, r.content == content) == (200, True), path
                assert http.get(f"{base(run_id)}/log").content == run_log
                series = http.get(f"{base(run_id)}/history").json()["series"]
                assert len(series["loss"]["step"]) == 5

        check()
        assert not (data / "blobs").exists()
        # the media payload the two runs share is kept once
        assert len(srv.stored_blob_names()) == 4
        with sqlite3.connect(data / "fwtrack.db") as connection:
            (pk,) = connection.execute("SELECT id FROM runs WHERE run_id = 'old-a'").fetchone()
        assert srv.store.run_log(data, 1, "old-a", pk) == run_log

        # an import interrupted before it removed the old folders is finished at the next start
        srv.stop()
        shutil.copytree(copy, data / "blobs")
        srv.start()
        check()
        assert not (data / "blobs").exists()
        assert len(srv.stored_blob_names()) == 4
        srv.stop()
        srv.start()  # and a start with nothing to import changes nothing
        check()
    assert "internal error" not in srv.log_text()
