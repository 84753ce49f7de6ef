"""20 agents hammering `next_trial` on a grid of 12 at once — threads sharing one controller
(as a server's workers) and separate processes each with their own (as local agents) — on
SQLite, on PostgreSQL and on the local store: exactly 12 trials, each grid point once, each
handed out once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fwtrack.server.db import Database, SweepTrial
from fwtrack.sweeps.controller import Controller
from fwtrack.sweeps.local import open_local
from fwtrack.sweeps.params import canonical_key, grid_points
from server.harness import PostgresCluster, child_env

from .controller_util import BACKENDS, database_url, grid_config, migrated, postgres_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

AGENTS = 20
WORKER = Path(__file__).resolve().parents[1] / "programs" / "controller_worker.py"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as c:
        yield c


@pytest.fixture(params=BACKENDS)
def thread_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    cluster = request.getfixturevalue("cluster") if request.param == "postgresql" else None
    return database_url(request.param, tmp_path, cluster)


def _check(ctl: Controller, sweep_id: str, handed_out: list[list[int]]) -> None:
    config = grid_config()
    with ctl.db.read() as s:
        rows = s.execute(
            sa.select(
                SweepTrial.id, SweepTrial.number, SweepTrial.grid_key, SweepTrial.state
            ).where(SweepTrial.sweep_id == sweep_id)
        ).all()
    assert len(rows) == 12
    assert sorted(r.number for r in rows) == list(range(12))
    assert sorted(r.grid_key for r in rows) == sorted(canonical_key(p) for p in grid_points(config))
    assert {r.state for r in rows} == {"finished"}
    every = [trial_id for claims in handed_out for trial_id in claims]
    assert sorted(every) == sorted(r.id for r in rows)  # each trial handed out exactly once
    sweep = ctl.get(sweep_id)
    assert sweep["state"] == "finished"
    assert sweep["counts"]["finished"] == sweep["counts"]["total"] == 12
    assert len({t["run_id"] for t in ctl.trials(sweep_id)}) == 12


def test_twenty_threads_claim_each_grid_point_once(thread_url: str) -> None:
    db = migrated(thread_url)
    ctl = Controller(db, heartbeat_interval=60.0)
    try:
        sweep_id = ctl.create("e", "p", grid_config())["id"]
        agents = [ctl.register_agent(sweep_id, "thread", i)["agent_id"] for i in range(AGENTS)]
        start = threading.Barrier(AGENTS)
        handed_out: list[list[int]] = [[] for _ in range(AGENTS)]
        reasons: list[Any] = [None] * AGENTS
        errors: list[str] = []

        def agent(i: int) -> None:
            try:
                start.wait()
                while True:
                    answer = ctl.next_trial(sweep_id, agents[i])
                    if "done" in answer:
                        reasons[i] = answer["done"]
                        return
                    if "wait" in answer:
                        time.sleep(0.01)
                        continue
                    trial = answer["trial"]
                    handed_out[i].append(trial["id"])
                    v = float(trial["number"])
                    ctl.finish_trial(sweep_id, agents[i], trial["id"], "finished", v, [v], 0)
            except Exception as exc:  # reported below, never lost in the thread
                errors.append(repr(exc))

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(AGENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=500)
        assert not any(t.is_alive() for t in threads), "an agent hung"
        assert errors == []
        assert reasons == ["exhausted"] * AGENTS
        _check(ctl, sweep_id, handed_out)
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", [*BACKENDS, "local"])
def test_twenty_processes_claim_each_grid_point_once(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """Separate processes, each with its own controller; `local`: the local store, which the
    workers and this test open (and so create) at the same time."""
    go = tmp_path / "go"
    if backend == "local":
        url = f"local:{tmp_path / 'fwtrack'}"
    else:
        cluster = request.getfixturevalue("cluster") if backend == "postgresql" else None
        url = database_url(backend, tmp_path, cluster)
        migrated(url).dispose()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            text=True,
        )
        for _ in range(AGENTS)
    ]
    ctl: Controller | None = None
    try:
        if backend == "local":
            ctl = open_local(tmp_path / "fwtrack", heartbeat_interval=60.0)
        else:
            ctl = Controller(Database(url), heartbeat_interval=60.0)
        sweep_id = ctl.create("e", "p", grid_config())["id"]
        ready = tmp_path / "go.tmp"
        ready.write_text(sweep_id)
        ready.rename(go)
        outputs = [p.communicate(timeout=500) for p in procs]
        for p, (_, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err
        reports = [json.loads(out) for out, _ in outputs]
        assert [r["done"] for r in reports] == ["exhausted"] * AGENTS
        assert len({r["agent_id"] for r in reports}) == AGENTS
        _check(ctl, sweep_id, [r["trials"] for r in reports])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if ctl is not None:
            ctl.db.dispose()
