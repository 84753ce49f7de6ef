"""Sweep agents against a real `fwtrack server` on PostgreSQL: a grid of 12 run by three agent
processes at once (each configuration exactly once, the runs uploaded with their sweep id), an
agent killed mid-trial (its trial run again by another agent), `Api(base_url=...).sweep()`."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fwserver import Server
from fwtrack.api import Api
from server.harness import PostgresCluster
from sweeps.agentutil import HEARTBEAT, AgentProcess, agent_env, config, create, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        srv = Server(tmp_path_factory.mktemp("sweeps-pg") / "data")
        srv.db_url = cluster.create_database()
        srv.extra_args = ["--sweep-heartbeat", HEARTBEAT]
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()
    finally:
        cluster.stop()


def _env(tmp_path: Path, server: Server, **extra: str) -> dict[str, str]:
    return agent_env(
        tmp_path,
        FWTRACK_BASE_URL=server.url,
        FWTRACK_API_KEY=server.key,
        FWTRACK_UPLOAD_TIMEOUT="120",
        **extra,
    )


def _api(server: Server) -> Api:
    return Api(base_url=server.url, api_key=server.key)


def test_grid_of_12_by_three_agents_on_a_server(tmp_path: Path, pg_server: Server) -> None:
    env = _env(tmp_path, pg_server)
    ref = create(
        config({"a": {"values": [1, 2, 3]}, "b": {"values": [1, 2, 3, 4]}, "steps": {"value": 2}}),
        env=env,
        cwd=tmp_path,
        project="grid12",
    )
    entity, project, sweep_id = ref.split("/")
    assert project == "grid12"
    agents = [AgentProcess(ref, env=env, cwd=tmp_path) for _ in range(3)]
    for agent in agents:
        assert "the sweep is done" in agent.finish()

    api = _api(pg_server)
    runs = api.runs(f"{entity}/grid12")
    assert len(runs) == 12
    assert sorted((r.config["a"], r.config["b"]) for r in runs) == sorted(
        (a, b) for a in (1, 2, 3) for b in (1, 2, 3, 4)
    )
    assert {r.state for r in runs} == {"finished"}
    sweep = api.sweep(ref)
    assert sweep.state == "finished"
    assert sweep.id == sweep_id
    trials = sweep.trials
    assert len(trials) == 12
    assert {t["state"] for t in trials} == {"finished"}
    assert sorted(t["run_id"] for t in trials) == sorted(r.id for r in runs)
    best = sweep.best_run()
    assert best is not None
    assert (best.config["a"], best.config["b"]) == (1, 1)
    assert api.sweep(sweep_id).path == ref  # a bare id is located by the server


def test_an_agent_killed_mid_trial_on_a_server(tmp_path: Path, pg_server: Server) -> None:
    hold = tmp_path / "hold"
    hold.write_text("")
    env = _env(tmp_path, pg_server, SWEEP_TRIAL_HOLD=str(hold))
    cfg = config({"a": {"values": [1, 2]}, "steps": {"value": 2}})
    ref = create(cfg, env=env, cwd=tmp_path, project="killed")

    first = AgentProcess(ref, env=env, cwd=tmp_path)
    pid_file = wait_for("the first trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))[0]
    old_run_id = pid_file.name.split(".")[1]
    first.kill()
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    hold.unlink()

    assert "the sweep is done" in AgentProcess(ref, env=env, cwd=tmp_path).finish()
    sweep = _api(pg_server).sweep(ref)
    assert sweep.state == "finished"
    trials = sorted(sweep.trials, key=lambda t: t["number"])
    assert [t["state"] for t in trials] == ["finished", "finished"]
    rerun = next(t for t in trials if t["past_run_ids"])
    assert rerun["past_run_ids"] == [old_run_id]
    assert sorted(r.config["a"] for r in sweep.runs if r.state == "finished") == [1, 2]


def test_a_server_restart_does_not_end_the_agent_or_its_trial(tmp_path: Path) -> None:
    # A heartbeat interval longer than the restart: the agent is not lost meanwhile.
    srv = Server(tmp_path / "data")
    srv.extra_args = ["--sweep-heartbeat", "5"]
    srv.start()
    try:
        hold = tmp_path / "hold"
        hold.write_text("")
        env = _env(tmp_path, srv, SWEEP_TRIAL_HOLD=str(hold))
        cfg = config({"a": {"values": [1, 2]}, "steps": {"value": 2}})
        ref = create(cfg, env=env, cwd=tmp_path, project="restart")
        agent = AgentProcess(ref, env=env, cwd=tmp_path)
        pid_file = wait_for("the trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))[0]
        held_run = pid_file.name.split(".")[1]

        srv.kill9()
        wait_for("the agent to miss the server", lambda: "retrying" in agent.output)
        assert agent.proc.poll() is None
        srv.restart()
        hold.unlink()

        out = agent.finish()
        assert "the controller answers again" in out
        assert "the sweep is done" in out
        sweep = _api(srv).sweep(ref)
        trials = sorted(sweep.trials, key=lambda t: t["number"])
        assert [(t["state"], t["attempt"]) for t in trials] == [("finished", 0), ("finished", 0)]
        assert trials[0]["run_id"] == held_run
        assert sorted(r.config["a"] for r in sweep.runs) == [1, 2]
        assert {r.state for r in sweep.runs} == {"finished"}
    finally:
        srv.stop()


def test_hyperband_on_a_server(tmp_path: Path, pg_server: Server) -> None:
    # As in test_agent.py: ranks 0 and 1 finish, 2, 3 and 4 are stopped at their first band.
    env = _env(tmp_path, pg_server)
    cfg = config(
        {
            "rank": {"values": [0, 1, 2, 3, 4]},
            "curve": {"value": "rank"},
            "steps": {"value": 4},
            "handshake": {"value": True},
        },
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
    )
    ref = create(cfg, env=env, cwd=tmp_path, project="hyperband")
    AgentProcess(ref, env=env, cwd=tmp_path).finish()

    api = _api(pg_server)
    trials = sorted(api.sweep(ref).trials, key=lambda t: t["params"]["rank"])
    assert [t["state"] for t in trials] == ["finished", "finished", "stopped", "stopped", "stopped"]
    entity = ref.split("/")[0]
    runs = {r.id: r for r in api.runs(f"{entity}/hyperband")}
    for trial in trials:
        run = runs[trial["run_id"]]
        assert run.state == trial["state"]
        assert run.sweep_id == ref.split("/")[2]
        rank = trial["params"]["rank"]
        assert list(run.history(["loss"])["loss"]) == pytest.approx(
            [rank + 1 / (s + 1) for s in range(4)]
        )
