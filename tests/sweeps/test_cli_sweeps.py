"""`fwtrack sweep` and `fwtrack agent` as a user types them: the W&B documentation's example
configs create sweeps, pause/resume/stop/cancel change a sweep (a cancel reaches the running
trial, whose run ends `stopped`), and mistakes are reported with the key and the fix."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import fwtrack
from fwtrack.api import Api
from fwtrack.errors import SweepNotFoundError
from sweeps.agentutil import AgentProcess, agent_env, cli, config, create, wait_for

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parent / "wandb_examples").glob("*.yaml"))


def test_the_wandb_example_configs_create_sweeps(tmp_dir: Path) -> None:
    assert len(EXAMPLES) >= 3, "the W&B examples are missing from tests/sweeps/wandb_examples"
    api = Api()
    for path in EXAMPLES:
        raw = yaml.safe_load(path.read_text())
        sweep = api.sweep(fwtrack.sweep(path, project="examples"))
        assert sweep.config == raw, path.name
        assert sweep.state == "running"
        assert sweep.project == "examples"  # the argument wins over the config's project
        assert sweep.data["method"] == raw["method"]


def test_fwtrack_sweep_prints_the_agent_command(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    path = EXAMPLES[0]
    out = cli("sweep", str(path), "--project", "examples", "--seed", "7", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    match = re.search(r"created sweep (\w+) \((grid|random|bayes), project (\S+)\)", out.stdout)
    assert match, out.stdout
    assert f"run an agent: fwtrack agent {match.group(1)}\n" in out.stdout
    sweep = Api(tmp_path / "fwtrack").sweep(match.group(1))
    assert sweep.data["seed"] == 7
    assert sweep.config == yaml.safe_load(path.read_text())


def test_import_fwtrack_loads_no_search_library(tmp_path: Path) -> None:
    code = (
        "import sys, fwtrack, fwtrack.cli\n"
        "from fwtrack.sweeps import agent, cli, client, remote\n"
        "print(fwtrack.agent.__module__, fwtrack.sweep.__module__)\n"
        "print(sorted(m for m in ('optuna', 'sklearn', 'sqlalchemy', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=agent_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["fwtrack.sweeps fwtrack.sweeps", "[]"]


def test_pause_resume_and_stop(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    ref = create(config({"a": {"values": [1, 2, 3]}, "steps": {"value": 1}}), env=env, cwd=tmp_path)
    for action, state in (("pause", "paused"), ("resume", "running")):
        out = cli("sweep", f"--{action}", ref, env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"sweep {ref}: {state}"
        assert Api(tmp_path / "fwtrack").sweep(ref).state == state

    # a running trial is let finish after a stop; no trial starts after it
    hold = tmp_path / "hold"
    hold.write_text("")
    held_env = agent_env(tmp_path, SWEEP_TRIAL_HOLD=str(hold))
    agent = AgentProcess(ref, env=held_env, cwd=tmp_path)
    wait_for("the trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))
    out = cli("sweep", "--stop", ref, env=env, cwd=tmp_path)
    assert out.stdout.strip() == f"sweep {ref}: stopped", out.stderr
    hold.unlink()
    assert "the sweep is done (stopped)" in agent.finish()
    runs = Api(tmp_path / "fwtrack").runs("sw")
    assert [r.state for r in runs] == ["finished"]

    out = cli("sweep", "--resume", ref, env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "stopped" in out.stderr
    assert "fwtrack: error:" in out.stderr


def test_cancel_stops_the_running_trial(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    hold = tmp_path / "hold"
    hold.write_text("")
    held_env = agent_env(tmp_path, SWEEP_TRIAL_HOLD=str(hold))
    ref = create(config({"a": {"values": [1, 2]}, "steps": {"value": 2}}), env=env, cwd=tmp_path)
    agent = AgentProcess(ref, env=held_env, cwd=tmp_path)
    pid_file = wait_for("the trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))[0]
    run_id = pid_file.name.split(".")[1]

    out = cli("sweep", "--cancel", ref, env=env, cwd=tmp_path)
    assert out.stdout.strip() == f"sweep {ref}: cancelled", out.stderr
    text = agent.finish()
    assert "stopping trial 0" in text
    assert "the sweep is done (cancelled)" in text

    api = Api(tmp_path / "fwtrack")
    run = api.run(f"sw/{run_id}")
    assert run.state == "stopped"
    assert list(run.history(["loss"])["loss"]) == [1.0, 0.5]  # its history kept
    trials = api.sweep(ref).trials
    assert [(t["run_id"], t["state"]) for t in trials] == [(run_id, "stopped")]
    assert trials[0]["value"] == 0.5
    assert api.sweep(ref).state == "cancelled"


def test_mistakes_name_the_problem(tmp_path: Path) -> None:
    env = agent_env(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(config({"lr": {"min": 0.1, "max": 0.01}})))
    out = cli("sweep", str(bad), env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "parameters.lr" in out.stderr

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(json.dumps({**config({"a": {"value": 1}}), "methd": "grid"}))
    out = cli("sweep", str(unknown), env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "methd" in out.stderr

    out = cli("agent", "nosuch12", env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "nosuch12" in out.stderr

    out = cli("sweep", "--pause", "nosuch12", env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "nosuch12" in out.stderr

    out = cli("agent", "nosuch12", "--count", "0", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert "--count" in out.stderr


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_stops_the_running_trial_and_exits(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    hold = tmp_path / "hold"
    hold.write_text("")
    env = agent_env(tmp_path, SWEEP_TRIAL_HOLD=str(hold))
    ref = create(config({"a": {"values": [1, 2]}, "steps": {"value": 2}}), env=env, cwd=tmp_path)
    agent = AgentProcess(ref, env=env, cwd=tmp_path)
    pid_file = wait_for("the trial to hold", lambda: list(tmp_path.glob("hold.*.pid")))[0]
    run_id = pid_file.name.split(".")[1]

    agent.proc.send_signal(sig)
    assert agent.proc.wait(timeout=60) == status, agent.output
    assert "interrupted: stopping trial 0" in agent.output
    api = Api(tmp_path / "fwtrack")
    assert api.run(f"sw/{run_id}").state == "stopped"
    sweep = api.sweep(ref)
    assert [(t["run_id"], t["state"]) for t in sweep.trials] == [(run_id, "stopped")]
    assert sweep.state == "running"  # the sweep goes on: another agent takes the next trial


def test_api_sweep_names_what_is_missing(tmp_dir: Path) -> None:
    with pytest.raises(SweepNotFoundError, match="no sweep store"):
        Api().sweep("abcd1234")
    assert not (tmp_dir / "fwtrack" / ".sweeps").exists()  # reading creates nothing
    fwtrack.sweep({"method": "grid", "parameters": {"a": {"values": [1]}}}, project="p")
    with pytest.raises(SweepNotFoundError, match="abcd1234"):
        Api().sweep("abcd1234")
