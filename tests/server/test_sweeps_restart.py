"""A sweep survives its server: a real `fwtrack server` process is killed (SIGKILL, with its
process group) mid-sweep and started again on the same database, on SQLite and on PostgreSQL,
while a client driving two agents keeps calling next / heartbeat / finish and retries through
the outage. The sweep completes with every grid configuration run exactly once: no trial lost,
none duplicated."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from .apputil import db_url
from .harness import ServerProcess
from .sweep_util import GRID_12

pytestmark = pytest.mark.slow

_RETRY_PAUSE = 0.05


class RetryingClient:
    """The sweep routes through one connection pool, retrying a call (the same request) while
    the server cannot be reached or answers 503, as an agent does."""

    def __init__(self, server: ServerProcess) -> None:
        self.http = httpx.Client(
            base_url=f"{server.url}/api/v1", headers=server.headers, timeout=30
        )
        self.failures = 0

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        while True:
            try:
                r = self.http.request(method, path, json=body)
            except httpx.TransportError:
                self.failures += 1
                time.sleep(_RETRY_PAUSE)
                continue
            if r.status_code == 503:
                self.failures += 1
                time.sleep(_RETRY_PAUSE)
                continue
            assert r.status_code in (200, 201), (method, path, r.status_code, r.text)
            return r.json()


class Gate:
    """Lets the main thread kill the server at chosen points of the client's sequence, when
    no request is in flight (so no answer is lost in the kill)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def wait_here(self) -> None:
        self.reached.set()
        assert self.release.wait(timeout=120), "the test never released the client"
        self.release.clear()


def _drive(
    client: RetryingClient,
    base: str,
    agents: list[int],
    gates: dict[int, Callable[[], None]],
    log: list[dict[str, Any]],
) -> None:
    """Run the sweep to the end with `agents` in turn; `gates[k]` runs before call number k."""
    calls = 0

    def step() -> None:
        nonlocal calls
        gate = gates.get(calls)
        if gate is not None:
            gate()
        calls += 1

    done: set[int] = set()
    while len(done) < len(agents):
        for agent in agents:
            if agent in done:
                continue
            step()
            answer = client.call("POST", f"{base}/agents/{agent}/next")
            if "done" in answer:
                done.add(agent)
                continue
            assert "trial" in answer, answer
            trial = answer["trial"]
            log.append(trial)
            step()
            beat = client.call(
                "POST",
                f"{base}/agents/{agent}/heartbeat",
                {"trials": [{"id": trial["id"], "history": [2.0, 1.0], "offset": 0}]},
            )
            assert beat["stop"] == [], beat
            step()
            value = float(trial["number"])
            out = client.call(
                "POST",
                f"{base}/trials/{trial['id']}/finish",
                {"agent_id": agent, "state": "finished", "value": value, "history": [value],
                 "offset": 2},
            )  # fmt: skip
            assert out["state"] == "finished", out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sweep_survives_server_kill9_and_restart(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    server = ServerProcess(
        tmp_path / "data",
        db_url=db_url(request, backend),
        # Agents are never taken for lost here: every trial keeps its first attempt.
        extra_args=["--sweep-heartbeat", "3600"],
    )
    server.start()
    client = RetryingClient(server)
    try:
        project = "restart"
        sweep = client.call("POST", f"/sweeps/admin/{project}", {"config": GRID_12, "seed": 1})
        base = f"/sweeps/admin/{project}/{sweep['id']}"
        agents = [
            client.call("POST", f"{base}/agents", {"host": f"node-{i}", "pid": 100 + i})["agent_id"]
            for i in range(2)
        ]

        # Kill points, as calls of the client (3 per trial: next, heartbeat, finish): after
        # two whole trials (before the next `next`), in the middle of a trial (its heartbeat
        # sent, its finish not yet), and between a trial's `next` and its heartbeat.
        kill_at = [6, 14, 22]
        gates = {k: Gate() for k in kill_at}
        log: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                _drive(client, base, agents, {k: g.wait_here for k, g in gates.items()}, log)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for k in kill_at:
            gate = gates[k]
            while not gate.reached.wait(timeout=1):
                assert thread.is_alive(), errors
            server.kill9()
            failures = client.failures
            gate.release.set()  # the client calls while the server is down, and retries
            while client.failures == failures:
                assert thread.is_alive(), errors
                time.sleep(_RETRY_PAUSE)
            server.restart()
        thread.join(timeout=300)
        assert not thread.is_alive(), "the client did not finish the sweep"
        assert errors == [], errors
        assert server.starts == 1 + len(kill_at)

        # Every configuration handed out exactly once, with one attempt each.
        points = [json.dumps(t["params"], sort_keys=True) for t in log]
        assert len(points) == 12
        assert len(set(points)) == 12
        assert sorted(t["number"] for t in log) == list(range(12))
        assert {t["attempt"] for t in log} == {0}

        r = client.http.get(f"{base}/trials")
        assert r.status_code == 200, r.text
        trials = r.json()["trials"]
        by_number = sorted(log, key=lambda t: t["number"])
        assert [t["id"] for t in trials] == [t["id"] for t in by_number]
        assert {t["state"] for t in trials} == {"finished"}
        assert [t["value"] for t in trials] == [float(n) for n in range(12)]
        assert {t["history_len"] for t in trials} == {3}
        expected = {
            json.dumps(
                {"lr": lr, "layers": layers, "act": act},
                sort_keys=True,
            )
            for lr in (0.1, 0.01, 0.001)
            for layers in (1, 2)
            for act in ("relu", "tanh")
        }
        assert {json.dumps(t["params"], sort_keys=True) for t in trials} == expected

        r = client.http.get(base)
        assert r.status_code == 200, r.text
        final = r.json()
        assert final["state"] == "finished"
        assert final["counts"]["finished"] == 12
        assert final["counts"]["total"] == 12
        assert final["best"]["value"] == 0.0
        assert client.call("POST", f"{base}/agents/{agents[0]}/next") == {"done": "exhausted"}
    finally:
        client.close()
        server.stop()
