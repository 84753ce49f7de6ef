"""Reliability of uploads: real training processes, a server killed with `kill -9` and
restarted, a proxy that loses, delays, resets and refuses requests, and `fwtrack sync`.

Whatever happens on the way, every run ends up on the server exactly once: its stored log is
byte-identical to the client's `run.fwlog`, its history holds every step once, and it is
`finished`. No test asserts a duration; the clients report their slowest `log()` call and
their loop time, and the tests print them.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .apputil import split, store_choice
from .conftest import ProxyFactory, ServerFactory
from .harness import FaultProxy, ServerProcess, child_env

pytestmark = pytest.mark.slow

API = "/api/v1"
ENTITY = "admin"  # the seeded admin user's own entity
UPLOAD_TIMEOUT = 60  # FWTRACK_UPLOAD_TIMEOUT for the clients: how long finish() may wait
CLIENT_TIMEOUT = 100  # a client still running after this long has hung

CLIENT = '''
"""One training client: `steps` rows with a short sleep between, then finish()."""
import json
import sys
import time

import fwtrack

project, steps, sleep, report = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
run = fwtrack.init(project=project, config={"steps": steps, "sleep": sleep})
slowest = 0.0
start = time.perf_counter()
for step in range(steps):
    t0 = time.perf_counter()
    fwtrack.log({"train/loss": 1.0 / (step + 1), "train/square": float(step * step)})
    slowest = max(slowest, time.perf_counter() - t0)
    if sleep:
        time.sleep(sleep)
loop = time.perf_counter() - start
t0 = time.perf_counter()
fwtrack.finish()
finish = time.perf_counter() - t0
with open(report, "w") as f:
    json.dump(
        {"run_id": run.id, "project": run.project, "dir": run.dir, "steps": steps,
         "slowest_log": slowest, "loop": loop, "finish": finish},
        f,
    )
'''


@dataclass
class Client:
    """A training process and where it reports."""

    proc: subprocess.Popen[bytes]
    report_path: Path
    output: Path

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.report_path.read_text())
        return data

    def output_text(self) -> str:
        return self.output.read_text(errors="replace")


def start_clients(
    tmp: Path,
    n: int,
    *,
    project: str,
    steps: int,
    sleep: float,
    base_url: str | None,
    api_key: str | None,
    env: dict[str, str] | None = None,
) -> list[Client]:
    """`n` training processes; online when `base_url` is given, else offline."""
    script = tmp / "client.py"
    script.write_text(CLIENT)
    env = child_env(FWTRACK_DIR=str(tmp / "fwtrack"), **(env or {}))
    if base_url is not None:
        assert api_key is not None
        env.update(
            FWTRACK_MODE="online",
            FWTRACK_BASE_URL=base_url,
            FWTRACK_API_KEY=api_key,
            FWTRACK_UPLOAD_TIMEOUT=str(UPLOAD_TIMEOUT),
        )
    else:
        env["FWTRACK_MODE"] = "offline"
    clients = []
    for i in range(n):
        report = tmp / f"client{i}.json"
        output = tmp / f"client{i}.out"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, str(script), project, str(steps), str(sleep), str(report)],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        clients.append(Client(proc, report, output))
    return clients


def wait_clients(clients: list[Client], timeout: float = CLIENT_TIMEOUT) -> list[dict[str, Any]]:
    """Wait for every client; a client that fails or hangs fails the test with its output."""
    deadline = time.monotonic() + timeout
    for client in clients:
        try:
            client.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in clients:
                other.proc.kill()
            raise AssertionError(
                f"client {client.proc.pid} still running after {timeout:.0f} s\n"
                f"{client.output_text()}"
            ) from None
        assert client.proc.returncode == 0, (
            f"client exited with {client.proc.returncode}\n{client.output_text()}"
        )
    return [client.report() for client in clients]


@pytest.fixture
def kill_clients_at_exit() -> Iterator[list[Client]]:
    """Clients registered here are killed at teardown if the test left them running."""
    clients: list[Client] = []
    yield clients
    for client in clients:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait(timeout=30)


def running_runs(fwtrack_dir: Path) -> int:
    """How many run logs the clients have created so far."""
    return len(list(fwtrack_dir.glob("*/*/run.fwlog"))) if fwtrack_dir.exists() else 0


# --------------------------------------------------------------------------------------------
# What the server holds


def run_coordinates(report: dict[str, Any]) -> tuple[str, str, str]:
    """(entity, project, run id) of a client's run, from its `upload.json` when present."""
    state = Path(report["dir"]) / "upload.json"
    if state.exists():
        doc = json.loads(state.read_text())
        return doc["entity"], doc["project"], doc["run_id"]
    return ENTITY, report["project"], report["run_id"]


def api_get(http: httpx.Client, server: ServerProcess, path: str, **params: Any) -> httpx.Response:
    """GET that, like every fwtrack client, honours `429`/`503` + `Retry-After` (a few times);
    anything but `200` in the end fails with the server's log."""
    for _ in range(10):
        resp = http.get(path, params=params)
        if resp.status_code not in (429, 503):
            break
        print(f"  GET {path}: {resp.status_code} {resp.text}")
        time.sleep(min(5.0, float(resp.headers.get("Retry-After", "1"))))
    assert resp.status_code == 200, (
        f"GET {path}: {resp.status_code} {resp.text}\n--- server log\n{server.log_text()[-6000:]}"
    )
    return resp


def assert_run_complete(server: ServerProcess, report: dict[str, Any]) -> None:
    """The server holds this client's run exactly: same log bytes, every step once, finished."""
    entity, project, run_id = run_coordinates(report)
    base = f"{API}/runs/{entity}/{project}/{run_id}"
    local = (Path(report["dir"]) / "run.fwlog").read_bytes()
    steps = report["steps"]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
        stored = api_get(http, server, f"{base}/log")
        assert len(stored.content) == len(local), (
            f"run {run_id}: the server stores {len(stored.content)} bytes, the client wrote "
            f"{len(local)}"
        )
        assert stored.content == local, f"run {run_id}: stored log differs from the client's"

        history = api_get(http, server, f"{base}/history", samples=0, keys="train/loss")
        series = history.json()["series"]["train/loss"]
        assert series["step"] == list(range(steps)), (
            f"run {run_id}: history steps are not exactly 0..{steps - 1} once each "
            f"({len(series['step'])} points)"
        )
        expected = [1.0 / (s + 1) for s in range(steps)]
        assert all(math.isclose(a, b) for a, b in zip(series["value"], expected, strict=True))

        detail = api_get(http, server, base)
        assert detail.json()["state"] == "finished", detail.json()
        assert detail.json()["log_size"] == len(local)


def print_timings(title: str, reports: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    for r in reports:
        print(
            f"  run {r['run_id']}: {r['steps']} steps,"
            f" slowest log() {r['slowest_log'] * 1e3:.2f} ms,"
            f" loop {r['loop']:.2f} s, finish() {r['finish']:.2f} s"
        )


def assert_clean_server_log(server: ServerProcess) -> None:
    """No request died with an unhandled exception (the kills are expected, tracebacks not)."""
    text = server.log_text()
    assert "Traceback" not in text, text[-8000:]
    for line in text.splitlines():
        if "WARNING" in line or "warning" in line:
            print(f"  server: {line}")


# --------------------------------------------------------------------------------------------
# (a) online training while the server is killed and restarted


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_db(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite in the data dir, else the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("fresh_postgres_db")
    return url


@pytest.fixture(params=["directory-sqlite", "directory-postgresql", "s3-postgresql"])
def killable(request: pytest.FixtureRequest, server_factory: ServerFactory) -> ServerProcess:
    """A server on SQLite or PostgreSQL with the directory store, and on S3 (a real SeaweedFS:
    the run logs' appends are its objects) with PostgreSQL."""
    store, backend = split(request.param)
    url = request.getfixturevalue("fresh_postgres_db") if backend == "postgresql" else None
    return server_factory(db_url=url, store=store_choice(request, store))


@pytest.mark.timeout(240)
def test_online_training_survives_server_kill9(
    tmp_path: Path, killable: ServerProcess, kill_clients_at_exit: list[Client]
) -> None:
    server = killable
    clients = start_clients(
        tmp_path,
        3,
        project="kill9",
        steps=3000,
        sleep=0.002,
        base_url=server.url,
        api_key=server.admin_key,
    )
    kill_clients_at_exit.extend(clients)
    rng = random.Random(1234)

    # Wait until the runs exist, then kill and restart the server several times.
    deadline = time.monotonic() + 60
    while running_runs(tmp_path / "fwtrack") < 3 and time.monotonic() < deadline:
        assert all(c.proc.poll() is None for c in clients), clients[0].output_text()
        time.sleep(0.05)
    kills_during_training = 0
    for _ in range(4):
        time.sleep(rng.uniform(0.2, 1.0))
        if any(c.proc.poll() is None for c in clients):
            kills_during_training += 1
        server.kill9()
        time.sleep(rng.uniform(0.1, 0.8))
        server.restart()

    # How long the clients take to catch up once the server stays up (printed, not asserted).
    up_since = time.monotonic()
    caught_up: dict[int, float] = {}
    while len(caught_up) < len(clients) and time.monotonic() - up_since < CLIENT_TIMEOUT:
        for client in clients:
            if client.proc.pid not in caught_up and client.proc.poll() is not None:
                caught_up[client.proc.pid] = time.monotonic() - up_since
        time.sleep(0.05)
    reports = wait_clients(clients)
    print_timings(
        f"kill -9 x4 ({kills_during_training} while clients ran), "
        f"{'postgresql' if server.db_url else 'sqlite'} on the {server.store.kind} store; "
        "clients done "
        + ", ".join(f"{t:.1f} s" for t in sorted(caught_up.values()))
        + " after the last restart",
        reports,
    )
    for report in reports:
        assert_run_complete(server, report)
    # And once more after a last restart: everything was durable.
    server.kill9()
    server.restart()
    for report in reports:
        assert_run_complete(server, report)
    assert_clean_server_log(server)


# --------------------------------------------------------------------------------------------
# (b) online training through a proxy that loses, delays and refuses requests


PROXY_RATES = {
    "delay": 0.10,
    "drop_before": 0.08,
    "drop_after": 0.10,
    "reset": 0.08,
    "error_500": 0.08,
    "throttle_429": 0.08,
}


@pytest.mark.timeout(240)
def test_online_training_through_fault_proxy(
    tmp_path: Path,
    server: ServerProcess,
    fault_proxy: ProxyFactory,
    kill_clients_at_exit: list[Client],
) -> None:
    proxy: FaultProxy = fault_proxy(server.port, seed=42, max_delay=1.0, rates=PROXY_RATES)
    clients = start_clients(
        tmp_path,
        3,
        project="faults",
        steps=3000,
        sleep=0.002,
        base_url=proxy.url,
        api_key=server.admin_key,
        # Many small frames: many uploads, so many chances for each kind of fault.
        env={"FWTRACK_FLUSH_INTERVAL": "0.1"},
    )
    kill_clients_at_exit.extend(clients)
    reports = wait_clients(clients)
    counts = proxy.counts
    print_timings(f"through the fault proxy: {counts}", reports)
    for report in reports:
        assert_run_complete(server, report)
    injected = sum(counts.get(name, 0) for name in ("drop_after", "drop_before", "reset"))
    assert injected > 0, f"the proxy injected no connection faults: {counts}"
    assert_clean_server_log(server)


# --------------------------------------------------------------------------------------------
# (c) fwtrack sync


def fwtrack_cli(
    *args: str, server: ServerProcess, cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = child_env(FWTRACK_BASE_URL=server.url, FWTRACK_API_KEY=server.admin_key)
    proc = subprocess.run(
        [sys.executable, "-m", "fwtrack", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"fwtrack {' '.join(args)} exited with {proc.returncode}\n--- stdout\n{proc.stdout}"
        f"\n--- stderr\n{proc.stderr}"
    )
    return proc


@pytest.mark.timeout(240)
def test_sync_offline_runs_twice(
    tmp_path: Path,
    server_factory: ServerFactory,
    backend_db: str | None,
    kill_clients_at_exit: list[Client],
) -> None:
    server = server_factory(db_url=backend_db)
    clients = start_clients(
        tmp_path, 2, project="offline", steps=1500, sleep=0, base_url=None, api_key=None
    )
    kill_clients_at_exit.extend(clients)
    reports = wait_clients(clients)
    run_dirs = [r["dir"] for r in reports]

    first = fwtrack_cli("sync", *run_dirs, server=server, cwd=tmp_path)
    print(first.stdout, first.stderr)
    for report in reports:
        assert_run_complete(server, report)

    # Again: nothing new to send, nothing duplicated.
    second = fwtrack_cli("sync", *run_dirs, server=server, cwd=tmp_path)
    print(second.stdout, second.stderr)
    for report in reports:
        assert_run_complete(server, report)

    # And the whole directory at once (the runs found under it), after a kill -9 of the server.
    server.kill9()
    server.restart()
    fwtrack_cli("sync", str(tmp_path / "fwtrack"), server=server, cwd=tmp_path)
    for report in reports:
        assert_run_complete(server, report)

    # Another server: upload.json names the first one, so nothing is taken for granted there.
    other = server_factory(db_url=None)
    fwtrack_cli("sync", *run_dirs, server=other, cwd=tmp_path)
    for report in reports:
        assert_run_complete(other, report)
    assert_clean_server_log(server)
    assert_clean_server_log(other)


@pytest.mark.timeout(240)
def test_sync_follow_a_run_being_written(
    tmp_path: Path,
    server_factory: ServerFactory,
    backend_db: str | None,
    kill_clients_at_exit: list[Client],
) -> None:
    server = server_factory(db_url=backend_db)
    (client,) = start_clients(
        tmp_path, 1, project="follow", steps=2000, sleep=0.002, base_url=None, api_key=None
    )
    kill_clients_at_exit.append(client)
    fwtrack_dir = tmp_path / "fwtrack"
    deadline = time.monotonic() + 60
    while running_runs(fwtrack_dir) < 1:
        assert time.monotonic() < deadline, "the client created no run log"
        assert client.proc.poll() is None, client.output_text()
        time.sleep(0.05)
    (log_path,) = fwtrack_dir.glob("*/*/run.fwlog")

    # `--follow` keeps shipping what the run appends and returns once the run has finished.
    env = child_env(FWTRACK_BASE_URL=server.url, FWTRACK_API_KEY=server.admin_key)
    follow = subprocess.Popen(
        [sys.executable, "-m", "fwtrack", "sync", "--follow", str(log_path.parent)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        (report,) = wait_clients([client])
        out, _ = follow.communicate(timeout=90)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate(timeout=30)
    text = out.decode(errors="replace")
    print(text)
    assert follow.returncode == 0, text
    assert_run_complete(server, report)

    # A second sync of the finished run changes nothing.
    fwtrack_cli("sync", str(log_path.parent), server=server, cwd=tmp_path)
    assert_run_complete(server, report)
    assert_clean_server_log(server)
