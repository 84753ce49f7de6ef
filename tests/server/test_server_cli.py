"""`python -m fwtrack server` as a real process: first start, health, OpenAPI, workers,
restart, several processes starting at once (migration lock)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .apputil import frame_boundaries, make_run
from .harness import child_env, free_port, stop_process_group

START_TIMEOUT = 60.0
KEY_LINE = re.compile(r"admin API key: (fwk_[A-Za-z0-9]{40})")


class Proc:
    """One `fwtrack server` process with its output in a file."""

    def __init__(self, tmp_path: Path, args: list[str], name: str, **env: str) -> None:
        self.port = free_port()
        self.out = tmp_path / f"{name}.out"
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.out, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fwtrack", "server", "--port", str(self.port), *args],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=child_env(**env),
                cwd=tmp_path,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                status, _ = request(self.url + "/api/v1/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not healthy in {START_TIMEOUT}s:\n{self.output()}")

    def admin_key(self) -> str | None:
        match = KEY_LINE.search(self.output())
        return match.group(1) if match else None

    def stop(self) -> None:
        stop_process_group(self.proc, signal.SIGINT)


def request(
    url: str, *, key: str | None = None, method: str = "GET", data: bytes | None = None
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def get_json(url: str, key: str | None = None) -> Any:
    status, body = request(url, key=key)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def procs() -> Any:
    made: list[Proc] = []
    yield made
    for proc in made:
        proc.stop()


def start(procs: list[Proc], tmp_path: Path, *args: str, name: str = "server", **env: str) -> Proc:
    proc = Proc(tmp_path, list(args), f"{name}{len(procs)}", **env)
    procs.append(proc)
    return proc


def upload_all(url: str, key: str, project: str, run_id: str, data: bytes) -> None:
    offset = 0
    for cut in frame_boundaries(data)[1:]:
        if cut - offset < 2000 and cut != len(data):
            continue
        status, body = request(
            f"{url}/api/v1/runs/admin/{project}/{run_id}/log?offset={offset}",
            key=key,
            method="POST",
            data=data[offset:cut],
        )
        assert status == 200, body
        offset = json.loads(body)["offset"]
    assert offset == len(data)


def test_first_start_prints_the_key_and_restart_keeps_data(
    procs: list[Proc], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start(procs, tmp_path, "--data", str(data_dir))
    server.wait_healthy()
    key = server.admin_key()
    assert key is not None, server.output()
    assert server.url in server.output()
    health = get_json(server.url + "/api/v1/health")
    assert health["status"] == "ok"
    assert get_json(server.url + "/api/v1/viewer", key)["name"] == "admin"
    doc = get_json(server.url + "/api/v1/openapi.json")
    assert "/api/v1/runs/{entity}/{project}" in doc["paths"]
    status, page = request(server.url + "/api/v1/docs")
    assert status == 200
    assert b"swagger" in page.lower()

    log = make_run(tmp_path / "client", "cli", "r1", steps=300).read_bytes()
    upload_all(server.url, key, "cli", "r1", log)
    server.stop()
    assert server.proc.returncode == 0, server.output()

    again = start(procs, tmp_path, "--data", str(data_dir))
    again.wait_healthy()
    assert again.admin_key() is None  # printed on the first start only
    assert get_json(again.url + "/api/v1/viewer", key)["name"] == "admin"
    runs = get_json(again.url + "/api/v1/runs/admin/cli", key)
    assert [r["id"] for r in runs["runs"]] == ["r1"]
    assert runs["runs"][0]["state"] == "finished"
    status, stored = request(again.url + "/api/v1/runs/admin/cli/r1/log", key=key)
    assert stored == log


def test_seeded_admin_key(procs: list[Proc], tmp_path: Path) -> None:
    key = "fwk_" + "Seed" * 10
    server = start(procs, tmp_path, "--data", str(tmp_path / "d"), FWTRACK_SERVER_ADMIN_KEY=key)
    server.wait_healthy()
    assert key not in server.output()
    assert "FWTRACK_SERVER_ADMIN_KEY" in server.output()
    assert get_json(server.url + "/api/v1/viewer", key)["is_admin"] is True


def test_bad_arguments_fail_clearly(procs: list[Proc], tmp_path: Path) -> None:
    server = start(procs, tmp_path, "--db", "mysql://x/y")
    assert server.proc.wait(timeout=60) == 2
    assert "unsupported database 'mysql'" in server.output()
    server = start(
        procs, tmp_path, "--data", str(tmp_path / "d"), FWTRACK_SERVER_ADMIN_KEY="not-a-key"
    )
    assert server.proc.wait(timeout=60) == 2
    assert "API key looks like" in server.output()


def test_workers_share_the_stores(procs: list[Proc], tmp_path: Path) -> None:
    key = "fwk_" + "Work" * 10
    server = start(
        procs,
        tmp_path,
        "--data",
        str(tmp_path / "d"),
        "--workers",
        "2",
        FWTRACK_SERVER_ADMIN_KEY=key,
    )
    server.wait_healthy()
    logs = {}
    for n in range(3):
        logs[f"w{n}"] = make_run(tmp_path / "client", "workers", f"w{n}", steps=200).read_bytes()
    for run_id, data in logs.items():
        upload_all(server.url, key, "workers", run_id, data)
    for _ in range(10):  # answered by either worker, the same
        runs = get_json(server.url + "/api/v1/runs/admin/workers?sort=id", key)
        assert [r["id"] for r in runs["runs"]] == ["w0", "w1", "w2"]
    for run_id, data in logs.items():
        assert request(f"{server.url}/api/v1/runs/admin/workers/{run_id}/log", key=key)[1] == data
    deadline = time.monotonic() + START_TIMEOUT
    while server.output().count("Started server process") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.output().count("Started server process") == 2, server.output()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_starting_at_once_migrate_once(
    procs: list[Proc], tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    args = ["--data", str(tmp_path / "shared")]
    if backend == "postgresql":
        args += ["--db", request.getfixturevalue("fresh_postgres_db")]
    servers = [start(procs, tmp_path, *args) for _ in range(3)]
    for server in servers:
        server.wait_healthy()
    keys = [s.admin_key() for s in servers if s.admin_key() is not None]
    assert len(keys) == 1, [s.output() for s in servers]
    for server in servers:
        assert get_json(server.url + "/api/v1/viewer", keys[0])["name"] == "admin"
