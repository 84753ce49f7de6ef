"""Several server processes over one PostgreSQL and one bucket (docs/server.md, "Replicas").

- End to end: two `fwtrack server --store s3://<bucket>` replicas (a real SeaweedFS, a real
  PostgreSQL) behind a round-robin TCP balancer that cuts connections (tests/balancer.py);
  three client processes train online through it, logging scalars at every step, images and
  files (tests/programs/replica_client.py); one replica is `kill -9`ed while they upload and
  restarted. Afterwards, read through EACH replica on its own: every run's stored log is
  byte-identical to the client's `run.fwlog`, every step is in the history once, every media
  payload and file is there and hashes (BLAKE3) to its address.
- Start-up: replicas starting together over one fresh database migrate it once and seed the
  first admin (and its `FWTRACK_SERVER_ADMIN_KEY`) once.
- The collector: two collectors at once over one database remove every unreferenced blob
  once and never a referenced one.
- One run's uploads racing on two replicas (four uploaders, retries from earlier frames) store
  its log once, byte for byte.
- Failed logins on two replicas count together: the lockout holds on both.
- A run deleted through one replica leaves no copy in another replica's cache.
- A connection cut while its body arrives (what a balancer does to a request) is answered,
  not an unhandled error.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from balancer import Balancer
from fwtrack import _core

from .conftest import ServerFactory
from .harness import REPO, ServerProcess, child_env, new_api_key

pytestmark = pytest.mark.slow

API = "/api/v1"
ENTITY = "admin"
PROGRAMS = REPO / "tests" / "programs"
CLIENT = PROGRAMS / "replica_client.py"
STEPS = 2000
CLIENTS = 3
CLIENT_TIMEOUT = 240.0


# --------------------------------------------------------------------------------------------
# Clients


class Client:
    """A training process (tests/programs/replica_client.py) and its report."""

    def __init__(self, tmp: Path, index: int, base_url: str, api_key: str) -> None:
        self.report_path = tmp / f"client{index}.json"
        self.output = tmp / f"client{index}.out"
        env = child_env(
            FWTRACK_DIR=str(tmp / "fwtrack"),
            FWTRACK_CONFIG_DIR=str(tmp / "config"),
            FWTRACK_MODE="online",
            FWTRACK_BASE_URL=base_url,
            FWTRACK_API_KEY=api_key,
            FWTRACK_UPLOAD_TIMEOUT="180",
        )
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CLIENT),
                    "replicas",
                    str(STEPS),
                    str(100 + index),
                    str(self.report_path),
                    str(tmp / "resume"),
                ],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait(self, deadline: float) -> dict[str, Any]:
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"client {self.proc.pid} hung\n{self.text()}") from None
        assert self.proc.returncode == 0, f"client failed\n{self.text()}"
        assert "warning" not in self.text().lower(), self.text()
        report: dict[str, Any] = json.loads(self.report_path.read_text())
        return report


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Clients registered here are killed at teardown if still running."""
    made: list[Client] = []
    yield made
    for client in made:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait(timeout=30)


# --------------------------------------------------------------------------------------------
# Reading a run back through one replica


def _get(http: httpx.Client, server: ServerProcess, path: str, **params: Any) -> httpx.Response:
    """GET that honours `429`/`503` + `Retry-After` a few times; anything but 200 in the end
    fails with the server's log."""
    for _ in range(10):
        resp = http.get(path, params=params)
        if resp.status_code not in (429, 503):
            break
        time.sleep(min(5.0, float(resp.headers.get("Retry-After", "1"))))
    assert resp.status_code == 200, (
        f"GET {path} on :{server.port}: {resp.status_code} {resp.text}\n--- server log\n"
        f"{server.log_text()[-6000:]}"
    )
    return resp


def _local_files(run_dir: Path) -> dict[str, bytes]:
    root = run_dir / "files"
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    }


def assert_run_on(server: ServerProcess, report: dict[str, Any]) -> None:
    """`server` serves the client's run exactly: the same log bytes, every step once, every
    media payload and every file present with its bytes hashing to its address."""
    run_dir = Path(report["dir"])
    base = f"{API}/runs/{ENTITY}/{report['project']}/{report['run_id']}"
    local = (run_dir / "run.fwlog").read_bytes()
    steps = report["steps"]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
        stored = _get(http, server, f"{base}/log").content
        assert len(stored) == len(local), (server.port, report["run_id"], len(stored), len(local))
        assert stored == local, f"{report['run_id']} on :{server.port}: the stored log differs"

        detail = _get(http, server, base).json()
        assert detail["state"] == "finished", detail
        assert detail["log_size"] == len(local)

        history = _get(http, server, f"{base}/history", samples=0, keys="train/loss,train/step")
        series = history.json()["series"]
        assert series["train/loss"]["step"] == list(range(steps)), (
            f"{report['run_id']} on :{server.port}: steps are not 0..{steps - 1} once each "
            f"({len(series['train/loss']['step'])} points)"
        )
        assert series["train/step"]["value"] == [float(s) for s in range(steps)]
        assert all(
            math.isclose(v, 1.0 / (s + 1))
            for s, v in zip(range(steps), series["train/loss"]["value"], strict=True)
        )

        media = _core.RunReader(str(run_dir)).media()
        listed = _get(http, server, f"{base}/media", key="samples/image").json()["items"]
        assert [i["value"] for i in listed] == [d for _, _, k, d in media if k == "samples/image"]
        assert len(media) == len(range(0, steps, 40))
        for _step, _ts, _key, descriptor in media:
            body = _get(http, server, f"{base}/files/{descriptor['path']}").content
            assert _core.hash_bytes(body) == descriptor["address"], descriptor

        files = {f["path"]: f for f in _get(http, server, f"{base}/files").json()["files"]}
        local_files = _local_files(run_dir)
        assert sorted(files) == sorted(local_files)
        for name, data in local_files.items():
            body = _get(http, server, f"{base}/files/{name}").content
            assert body == data, name
            assert _core.hash_bytes(body) == files[name]["address"], name


def _uploaded_bytes(server: ServerProcess, project: str) -> int:
    """The sum of the stored log sizes of `project`'s runs, read from one replica (0 when
    the project does not exist yet or the replica is down)."""
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            resp = http.get(f"{API}/runs/{ENTITY}/{project}")
    except httpx.HTTPError:
        return 0
    if resp.status_code != 200:
        return 0
    return sum(int(r.get("log_size") or 0) for r in resp.json()["runs"])


# --------------------------------------------------------------------------------------------
# End to end


@pytest.mark.timeout(420)
def test_two_replicas_behind_a_balancer_one_killed_mid_upload(
    tmp_path: Path,
    seaweed: Any,
    fresh_postgres_db: str,
    server_factory: ServerFactory,
    clients: list[Client],
) -> None:
    bucket = seaweed.new_bucket()
    admin_key = new_api_key()
    replicas = [
        server_factory(
            start=False,
            data_dir=tmp_path / f"replica{i}",
            db_url=fresh_postgres_db,
            admin_key=admin_key,
            extra_args=["--store", f"s3://{bucket}/fwtrack"],
            env=seaweed.env(),
            start_timeout=90.0,
        )
        for i in range(2)
    ]
    starting = [threading.Thread(target=r.start) for r in replicas]  # together, as a deploy
    for t in starting:
        t.start()
    for t in starting:
        t.join()
    assert all(r.running for r in replicas), [r.log_text()[-3000:] for r in replicas]

    rng = random.Random(2026)
    with Balancer([r.port for r in replicas], seed=7, cut_rate=0.8, max_cut_bytes=64 * 1024) as lb:
        clients.extend(Client(tmp_path, i, lb.url, admin_key) for i in range(CLIENTS))
        # Mid-upload: the runs are on the server and growing, the clients still training (they
        # hold three quarters of the way until told to resume).
        deadline = time.monotonic() + 90
        while _uploaded_bytes(replicas[1], "replicas") < 16 * 1024:
            assert time.monotonic() < deadline, "no upload reached the replicas"
            assert all(c.proc.poll() is None for c in clients), clients[0].text()
            time.sleep(0.1)
        time.sleep(rng.uniform(0.2, 1.0))
        # The victim: a replica that holds a client's connection right now.
        while not any(lb.live(i) for i in range(len(replicas))):
            assert time.monotonic() < deadline, "no client connection to kill"
            time.sleep(0.01)
        victim = max(replicas, key=lambda r: lb.live(replicas.index(r)))
        live_at_kill = lb.live(replicas.index(victim))
        assert all(c.proc.poll() is None for c in clients), "the clients finished too early"
        t0 = time.monotonic()
        victim.kill9()
        time.sleep(rng.uniform(0.5, 1.5))  # the balancer skips it meanwhile
        victim.restart()
        back = time.monotonic() - t0
        before = lb.counts().get(f"backend{replicas.index(victim)}", 0)
        print(f"\nkilled and restarted in {back:.1f} s; balancer then: {lb.counts()}")
        (tmp_path / "resume").touch()

        deadline = time.monotonic() + CLIENT_TIMEOUT
        reports = [c.wait(deadline) for c in clients]
        lb.pause_cuts()
        counts = lb.counts()
    print(f"\nbalancer: {counts}; killed :{victim.port} with {live_at_kill} live connection(s)")
    print("finish(): " + ", ".join(f"{r['finish']:.2f} s" for r in reports))
    assert counts.get("backend0", 0) > 0, counts
    assert counts.get("backend1", 0) > 0, counts
    assert counts.get("cut", 0) > 0, counts
    # Clients moved back onto the restarted replica (no sticky sessions).
    assert counts.get(f"backend{replicas.index(victim)}", 0) > before, counts

    for replica in replicas:
        for report in reports:
            assert_run_on(replica, report)
    for replica in replicas:
        assert "Traceback" not in replica.log_text(), replica.log_text()[-8000:]

    # Nothing lives only on a replica's disk: one started on an empty data dir reads the same.
    fresh = server_factory(
        data_dir=tmp_path / "replica-fresh",
        db_url=fresh_postgres_db,
        admin_key=admin_key,
        extra_args=["--store", f"s3://{bucket}/fwtrack"],
        env=seaweed.env(),
        start_timeout=90.0,
    )
    for report in reports:
        assert_run_on(fresh, report)


# --------------------------------------------------------------------------------------------
# Start-up: migrations and the first admin, by replicas starting together


def test_replicas_starting_together_seed_the_first_admin_once(
    tmp_path: Path, fresh_postgres_db: str
) -> None:
    admin_key = new_api_key()
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(PROGRAMS / "bootstrap_replica.py"),
                fresh_postgres_db,
                str(tmp_path / f"replica{i}"),
                str(go),
            ],
            env=child_env(FWTRACK_SERVER_ADMIN_KEY=admin_key),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(6)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"replica{i}.ready").exists() for i in range(len(procs))):
        assert time.monotonic() < deadline, "the replicas did not get ready"
        assert all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()  # all at once
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=90)
        outputs.append(out.decode(errors="replace"))
        assert proc.returncode == 0, outputs[-1]
    results = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert sorted(r["created"] for r in results) == [False] * 5 + [True], results

    engine = sa.create_engine(fresh_postgres_db)
    try:
        with engine.connect() as conn:
            users = conn.execute(sa.text("SELECT name, is_admin FROM users")).all()
            keys = conn.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one()
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert [tuple(u) for u in users] == [("admin", True)]
    assert keys == 1
    assert len(versions) == 1


# --------------------------------------------------------------------------------------------
# The collector: two at once


def test_two_collectors_at_once_remove_each_unreferenced_blob_once(
    tmp_path: Path, fresh_postgres_db: str
) -> None:
    from fwtrack.server.collector import collect
    from fwtrack.server.db import Blob, Database, Project, Run, RunFileRow
    from fwtrack.server.store.base import BlobKey
    from fwtrack.server.store.directory import DirectoryStore

    db = Database(fresh_postgres_db)
    db.migrate()
    store = DirectoryStore(tmp_path / "store")
    n = 400
    with db.write() as session:
        project = Project(entity=ENTITY, name="gc", created_at=0.0, last_activity=0.0)
        session.add(project)
        session.flush()
        run = Run(project_id=project.id, run_id="r1", created_at=0.0, updated_at=0.0)
        session.add(run)
        session.flush()
        for i in range(n):
            data = f"blob {i}".encode()
            address = _core.hash_bytes(data)
            store.put(BlobKey(ENTITY, address), data)
            blob = Blob(
                entity=ENTITY, address=address, size=len(data), stored=True, candidate=True,
                touched_at=0.0,
            )  # fmt: skip
            session.add(blob)
            session.flush()
            if i % 2 == 0:
                session.add(
                    RunFileRow(run_pk=run.id, path=f"f{i}", blob_id=blob.id, size=blob.size)
                )
    db.dispose()

    removed: Counter[int] = Counter()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def collector(k: int) -> None:
        own = Database(fresh_postgres_db)  # one engine each, as in two processes
        try:
            barrier.wait()
            for _ in range(3):
                removed[k] += collect(own, store, grace=60.0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=collector, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sum(removed.values()) == n // 2, removed
    db = Database(fresh_postgres_db)
    try:
        with db.read() as session:
            left = session.execute(sa.select(Blob.address, Blob.stored)).all()
    finally:
        db.dispose()
    assert len(left) == n // 2
    assert all(stored for _, stored in left)
    kept = {address for address, _ in left}
    for i in range(n):
        address = _core.hash_bytes(f"blob {i}".encode())
        assert store.exists(BlobKey(ENTITY, address)) == (address in kept) == (i % 2 == 0), i


# --------------------------------------------------------------------------------------------
# A connection cut while the client sends its body


@pytest.mark.parametrize(
    ("method", "route", "query"),
    [("POST", "/blobs", b""), ("POST", "/log", b"offset=0"), ("PUT", "/files/a.txt", b"")],
)
def test_a_client_gone_mid_body_is_not_a_server_error(
    tmp_path: Path, method: str, route: str, query: bytes
) -> None:
    """What a balancer's cut does to a request: the body stops, then `http.disconnect`. The
    app answers it (an info line), instead of an unhandled ClientDisconnect (two tracebacks
    in the server's log, one from the app and one from uvicorn)."""
    import asyncio

    from fwtrack.server import ServerConfig, create_app
    from fwtrack.server.ingest import get_or_create_project, get_or_create_run

    key = new_api_key()
    app = create_app(ServerConfig(data_dir=tmp_path / "data", admin_key=key))
    db = app.state.ctx.db
    get_or_create_run(db, get_or_create_project(db, ENTITY, "cut"), "run1")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": f"{API}/runs/{ENTITY}/cut/run1{route}",
        "raw_path": f"{API}/runs/{ENTITY}/cut/run1{route}".encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", b"100000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    messages = [
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # a disconnected client sends nothing more
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400


# --------------------------------------------------------------------------------------------
# Login lockouts: counted in the database, whichever replica a login reaches


@pytest.mark.timeout(240)
def test_failed_logins_on_two_replicas_count_together(
    tmp_path: Path, fresh_postgres_db: str, server_factory: ServerFactory
) -> None:
    flags = ["--login-max-failures", "3", "--login-lockout", "600"]
    admin_key = new_api_key()
    replicas = [
        server_factory(
            data_dir=tmp_path / f"replica{i}",
            db_url=fresh_postgres_db,
            admin_key=admin_key,
            extra_args=flags,
        )
        for i in range(2)
    ]
    wrong = {"username": "admin", "password": "not the password"}
    answers = []
    for i in range(3):  # A, B, A: three failures in all, none three on one replica
        resp = httpx.post(f"{replicas[i % 2].url}{API}/login", json=wrong, timeout=30)
        answers.append(resp.status_code)
    assert answers == [401, 401, 401]
    for replica in replicas:  # the lockout holds on both
        resp = httpx.post(f"{replica.url}{API}/login", json=wrong, timeout=30)
        assert resp.status_code == 429, resp.text
        assert int(resp.headers["Retry-After"]) > 0


# --------------------------------------------------------------------------------------------
# Caches of a run deleted through another replica


@pytest.mark.timeout(240)
def test_a_run_deleted_on_one_replica_leaves_no_cache_on_the_other(
    tmp_path: Path,
    seaweed: Any,
    fresh_postgres_db: str,
    server_factory: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fwtrack

    monkeypatch.setenv("FWTRACK_DIR", str(tmp_path / "fwtrack"))
    run = fwtrack.init(project="gone", mode="offline", settings={"system_interval": 0})
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    data = (Path(run.dir) / "run.fwlog").read_bytes()

    bucket = seaweed.new_bucket()
    admin_key = new_api_key()
    deleter, reader = (
        server_factory(
            data_dir=tmp_path / name,
            db_url=fresh_postgres_db,
            admin_key=admin_key,
            extra_args=["--store", f"s3://{bucket}/fwtrack", "--blob-grace", "1"],
            env=seaweed.env(),
            start_timeout=90.0,
        )
        for name in ("deleter", "reader")
    )
    base = f"{API}/runs/{ENTITY}/gone/{run.id}"
    cached = tmp_path / "reader" / "cache" / "runs"
    with httpx.Client(headers=deleter.headers, timeout=60) as http:
        up = http.post(f"{deleter.url}{base}/log", params={"offset": 0}, content=data)
        assert up.status_code == 200, up.text
        history = _get(http, reader, f"{reader.url}{base}/history", samples=0, keys="loss")
        assert history.json()["series"]["loss"]["step"] == list(range(50))
        assert [p.name for p in cached.iterdir() if p.name.isdigit()]  # the reader's copy
        assert http.delete(f"{deleter.url}{base}").status_code in (200, 204)
    deadline = time.monotonic() + 120  # the reader's collector passes every second
    while [p for p in cached.iterdir() if p.name.isdigit()]:
        assert time.monotonic() < deadline, sorted(p.name for p in cached.iterdir())
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# One run's uploads on two replicas at once


@pytest.mark.timeout(240)
def test_one_runs_uploads_racing_on_two_replicas_store_its_log_once(
    tmp_path: Path, seaweed: Any, fresh_postgres_db: str, server_factory: ServerFactory
) -> None:
    """What a client retrying on another replica while the first still works does, many
    times over: four uploaders (two per replica) send one run's log from wherever the server
    says it ends, often again from an earlier frame. The run's row lock orders them; the log
    is stored once, byte for byte, and indexed once."""
    from .apputil import frame_boundaries, make_run

    steps = 600
    data = make_run(tmp_path / "client", "race", "r1", steps=steps, flush_every=3).read_bytes()
    bounds = frame_boundaries(data)
    assert len(bounds) > 100
    bucket = seaweed.new_bucket()
    admin_key = new_api_key()
    replicas = [
        server_factory(
            data_dir=tmp_path / f"replica{i}",
            db_url=fresh_postgres_db,
            admin_key=admin_key,
            extra_args=["--store", f"s3://{bucket}/fwtrack"],
            env=seaweed.env(),
            start_timeout=90.0,
        )
        for i in range(2)
    ]
    base = f"{API}/runs/{ENTITY}/race/r1"
    errors: list[BaseException] = []
    requests: Counter[int] = Counter()
    barrier = threading.Barrier(4)

    def uploader(k: int) -> None:
        rng = random.Random(k)
        server = replicas[k % 2]
        try:
            with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
                barrier.wait()
                offset = 0
                while offset < len(data):
                    start = offset
                    if offset and rng.random() < 0.3:  # a retry from an earlier frame
                        start = rng.choice([b for b in bounds if b <= offset])
                    later = [b for b in bounds if b > offset]
                    end = later[min(len(later) - 1, rng.randrange(6))]
                    resp = http.post(
                        f"{base}/log", params={"offset": start}, content=data[start:end]
                    )
                    requests[k] += 1
                    if resp.status_code in (429, 503):
                        time.sleep(float(resp.headers.get("Retry-After", "1")))
                        continue
                    assert resp.status_code in (200, 409), (resp.status_code, resp.text)
                    offset = int(resp.json()["offset"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=uploader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    print(f"\nrequests per uploader: {dict(requests)}")
    for server in replicas:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
            assert _get(http, server, f"{base}/log").content == data
            detail = _get(http, server, base).json()
            assert detail["log_size"] == len(data)
            assert detail["state"] == "finished"
            history = _get(http, server, f"{base}/history", samples=0, keys="loss").json()
            assert history["series"]["loss"]["step"] == list(range(steps))
        assert "Traceback" not in server.log_text(), server.log_text()[-8000:]
