"""`fwtrack agent` against the local sweep store, with real agent and trial processes: a grid
run by three agents at once, an agent killed mid-trial, hyperband stopping the trials it should,
`run_cap` and `--count`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from fwtrack.api import Api
from sweeps.agentutil import AgentProcess, agent_env, config, create, wait_for

pytestmark = pytest.mark.slow


def _api(tmp_path: Path) -> Api:
    return Api(tmp_path / "fwtrack")


def test_grid_of_12_by_three_agents_runs_each_configuration_once(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    ref = create(
        config({"a": {"values": [1, 2, 3]}, "b": {"values": [1, 2, 3, 4]}, "steps": {"value": 2}}),
        env=env,
        cwd=tmp_path,
    )
    agents = [AgentProcess(ref, env=env, cwd=tmp_path) for _ in range(3)]
    outputs = [a.finish() for a in agents]
    assert all("the sweep is done (exhausted)" in o or "done" in o for o in outputs), outputs

    runs = _api(tmp_path).runs("sw")
    assert len(runs) == 12
    configs = sorted((r.config["a"], r.config["b"]) for r in runs)
    assert configs == sorted((a, b) for a in (1, 2, 3) for b in (1, 2, 3, 4))
    assert {r.state for r in runs} == {"finished"}

    sweep = _api(tmp_path).sweep(ref)
    assert sweep.state == "finished"
    trials = sweep.trials
    assert len(trials) == 12
    assert {t["state"] for t in trials} == {"finished"}
    by_run = {r.id: r for r in runs}
    for trial in trials:
        run = by_run[trial["run_id"]]
        assert run.config["a"] == trial["params"]["a"]
        assert trial["value"] == pytest.approx(run.summary["loss"])
        assert trial["value"] == pytest.approx(trial["params"]["a"] * trial["params"]["b"] / 2)
    best = sweep.best_run()
    assert best is not None
    assert (best.config["a"], best.config["b"]) == (1, 1)
    assert sorted(r.id for r in sweep.runs) == sorted(by_run)


def test_an_agent_killed_mid_trial_has_its_trial_run_again(tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.write_text("")
    env = agent_env(tmp_path, SWEEP_TRIAL_HOLD=str(hold))
    ref = create(config({"a": {"values": [1, 2]}, "steps": {"value": 2}}), env=env, cwd=tmp_path)

    first = AgentProcess(ref, env=env, cwd=tmp_path)
    pid_file = wait_for("the first trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))[0]
    old_run_id = pid_file.name.split(".")[1]
    first.kill()  # kill -9: no finish_trial, no more heartbeats
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the machine is gone with its trial
    hold.unlink()

    second = AgentProcess(ref, env=env, cwd=tmp_path)
    out = second.finish()
    assert "the sweep is done" in out

    sweep = _api(tmp_path).sweep(ref)
    assert sweep.state == "finished"
    trials = sorted(sweep.trials, key=lambda t: t["number"])
    assert [t["state"] for t in trials] == ["finished", "finished"]
    rerun = next(t for t in trials if t["past_run_ids"])
    assert rerun["past_run_ids"] == [old_run_id]
    assert rerun["attempt"] == 1
    assert rerun["run_id"] != old_run_id
    runs = {r.id: r for r in _api(tmp_path).runs("sw")}
    assert runs[old_run_id].state == "crashed"
    assert runs[rerun["run_id"]].state == "finished"
    assert sorted(r.config["a"] for r in runs.values() if r.state == "finished") == [1, 2]


def test_hyperband_stops_the_trials_it_should(tmp_path: Path) -> None:
    # Trials run one after another in grid order with curves `rank + 1/(step+1)`: each new
    # trial is the worst so far at every band. With eta 2, trial k is stopped at its first band
    # exactly when k > int((k+1)/2), i.e. for ranks 2, 3 and 4; ranks 0 and 1 finish.
    env = agent_env(tmp_path)
    cfg = config(
        {
            "rank": {"values": [0, 1, 2, 3, 4]},
            "curve": {"value": "rank"},
            "steps": {"value": 4},
            "handshake": {"value": True},
        },
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
    )
    ref = create(cfg, env=env, cwd=tmp_path)
    AgentProcess(ref, env=env, cwd=tmp_path).finish()

    trials = sorted(_api(tmp_path).sweep(ref).trials, key=lambda t: t["params"]["rank"])
    assert [t["state"] for t in trials] == ["finished", "finished", "stopped", "stopped", "stopped"]
    runs = {r.id: r for r in _api(tmp_path).runs("sw")}
    for trial in trials:
        run = runs[trial["run_id"]]
        assert run.state == trial["state"]
        history = list(run.history(["loss"])["loss"])
        rank = trial["params"]["rank"]
        # history kept: every value the trial logged, stopped or not
        assert history == pytest.approx([rank + 1 / (s + 1) for s in range(4)])
        assert trial["value"] == pytest.approx(rank + 0.25)


def test_run_cap_is_exact(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    cfg = config({"a": {"min": 1, "max": 1000}, "steps": {"value": 1}}, method="random", run_cap=3)
    ref = create(cfg, env=env, cwd=tmp_path)
    agents = [AgentProcess(ref, env=env, cwd=tmp_path) for _ in range(2)]
    for agent in agents:
        assert "the sweep is done (run_cap)" in agent.finish()
    assert len(_api(tmp_path).runs("sw")) == 3
    assert len(_api(tmp_path).sweep(ref).trials) == 3


def test_count_limits_the_trials_of_one_agent(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    ref = create(
        config({"a": {"values": [1, 2, 3, 4]}, "steps": {"value": 1}}), env=env, cwd=tmp_path
    )
    AgentProcess(ref, "--count", "2", env=env, cwd=tmp_path).finish()
    assert len(_api(tmp_path).runs("sw")) == 2
    sweep = _api(tmp_path).sweep(ref)
    assert sweep.state == "running"
    assert sorted(t["params"]["a"] for t in sweep.trials) == [1, 2]
    AgentProcess(ref, "--count", "5", env=env, cwd=tmp_path).finish()
    assert sorted(r.config["a"] for r in _api(tmp_path).runs("sw")) == [1, 2, 3, 4]
    assert sweep.state == "finished"
