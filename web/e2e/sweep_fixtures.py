"""Real sweeps for `sweeps.spec.ts`, run by real agents (`fwtrack agent` subprocesses).

sweep_fixtures.py server --url URL --key KEY --work DIR --out seeded.json
    logs online to project `admin/sweeps-e2e` of the server at URL as KEY: `fwtrack sweep`
    creates the grid sweep `lr-grid` (lr x optimizer, 6 trials, `loss` minimized), two
    `fwtrack agent` processes run it to the end (each trial is this script's `trial` command,
    a real run logged online); the sweep `cancelled-mid-trial` is cancelled while its one
    trial runs (held), so its run ends `stopped`; then `fwtrack sweep` creates the random
    sweep `idle`, left running without agents (the browser test pauses it). Writes what was
    seeded as JSON: the sweep ids and, by `lr/optimizer`, each grid point's final loss.
sweep_fixtures.py local --dir DIR --out seeded.json
    the same grid sweep on the local sweep store of DIR (no server), project `local-sweeps`,
    run by one local agent, for `fwtrack ui --dir DIR`.
sweep_fixtures.py trial [--key=value ...]
    a trial: `fwtrack.init` (the agent's parameters land in its config), logs `loss` over
    STEPS steps ending at `final_loss(lr, optimizer)`; with `hold` it then waits to be stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT = "sweeps-e2e"
LOCAL_PROJECT = "local-sweeps"
STEPS = 4
LRS = [0.001, 0.01, 0.1]
OPTIMIZERS = ["adam", "sgd"]
HERE = Path(__file__).resolve()


def final_loss(lr: float, optimizer: str) -> float:
    """Distinct for every grid point: best at lr 0.01 with adam."""
    return round(abs(math.log10(lr) + 2) + (0.5 if optimizer == "sgd" else 0.0) + 0.25 * lr, 6)


def grid_config(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "lr x optimizer on a known loss",
        "program": str(HERE),
        "command": ["${env}", "${interpreter}", "${program}", "trial", "${args}"],
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"values": LRS}, "optimizer": {"values": OPTIMIZERS}},
    }


def held_config() -> dict[str, Any]:
    """One trial that logs and then waits to be stopped (`hold`): cancelling the sweep stops it."""
    return {
        "name": "cancelled-mid-trial",
        "program": str(HERE),
        "command": ["${env}", "${interpreter}", "${program}", "trial", "${args}"],
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"value": 0.01},
            "optimizer": {"value": "adam"},
            "hold": {"value": True},
        },
    }


def idle_config() -> dict[str, Any]:
    return {
        "name": "idle",
        "program": str(HERE),
        "command": ["${env}", "${interpreter}", "${program}", "trial", "${args}"],
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"min": 0.0001, "max": 0.1}, "optimizer": {"values": OPTIMIZERS}},
    }


def child_env(**extra: str) -> dict[str, str]:
    """This interpreter first on PATH (the default command runs `python`), short heartbeats."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["FWTRACK_SWEEP_HEARTBEAT"] = "0.5"
    env["FWTRACK_FLUSH_INTERVAL"] = "0.2"
    env.update(extra)
    return env


def fwtrack_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "fwtrack", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"fwtrack {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        )
    return out.stdout


def create_sweep(cfg: dict[str, Any], project: str, env: dict[str, str], cwd: Path) -> str:
    """`fwtrack sweep` on `cfg`; the reference it prints for `fwtrack agent`."""
    path = cwd / f"{cfg['name']}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    out = fwtrack_cli(["sweep", str(path), "--project", project], env, cwd)
    match = re.search(r"fwtrack agent (\S+)", out)
    if match is None:
        raise RuntimeError(f"fwtrack sweep printed no agent command:\n{out}")
    return match.group(1)


def run_agents(ref: str, n: int, env: dict[str, str], cwd: Path, timeout: float = 180) -> None:
    """`n` agents at once until the sweep is done; each must exit 0."""
    procs = []
    for i in range(n):
        log = (cwd / f"agent-{i}.log").open("w")
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "fwtrack", "agent", ref],
                    env=env,
                    cwd=cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
                cwd / f"agent-{i}.log",
            )
        )
    deadline = time.monotonic() + timeout
    for proc, log, path in procs:
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p, _, _ in procs:
                p.kill()
            raise RuntimeError(f"an agent did not finish:\n{path.read_text()}") from None
        log.close()
        if code != 0:
            raise RuntimeError(f"an agent exited {code}:\n{path.read_text()}")


def get_json(url: str, env: dict[str, str]) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {env['FWTRACK_API_KEY']}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def cancel_mid_trial(ref: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> None:
    """An agent starts the held trial; once its loss reached the controller, `fwtrack sweep
    --cancel`: the agent stops the trial (SIGTERM) and exits, the run ends `stopped`."""
    log_path = cwd / "agent-held.log"
    with log_path.open("w") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "fwtrack", "agent", ref],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        trials_url = f"{env['FWTRACK_BASE_URL']}/api/v1/sweeps/{ref}/trials"
        deadline = time.monotonic() + timeout
        while not any(t["history_len"] > 0 for t in get_json(trials_url, env)["trials"]):
            if agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the held trial never reported:\n{log_path.read_text()}")
            time.sleep(0.2)
        fwtrack_cli(["sweep", "--cancel", ref], env, cwd)
        code = agent.wait(timeout=max(1.0, deadline - time.monotonic()))
        if code != 0:
            raise RuntimeError(f"the agent exited {code}:\n{log_path.read_text()}")
    finally:
        if agent.poll() is None:
            agent.kill()


def expected_trials() -> dict[str, dict[str, Any]]:
    """By `lr/optimizer`: the parameters and the final loss."""
    return {
        f"{lr}/{opt}": {"lr": lr, "optimizer": opt, "loss": final_loss(lr, opt)}
        for lr in LRS
        for opt in OPTIMIZERS
    }


def cmd_server(args: argparse.Namespace) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = child_env(
        FWTRACK_BASE_URL=args.url,
        FWTRACK_API_KEY=args.key,
        FWTRACK_ENTITY="admin",
        FWTRACK_MODE="online",
        FWTRACK_DIR=str(work / "client-runs"),
        FWTRACK_CONFIG_DIR=str(work / "config"),
        FWTRACK_CACHE_DIR=str(work / "cache"),
    )
    grid = create_sweep(grid_config("lr-grid"), PROJECT, env, work)
    run_agents(grid, 2, env, work)
    held = create_sweep(held_config(), PROJECT, env, work)
    cancel_mid_trial(held, env, work)
    idle = create_sweep(idle_config(), PROJECT, env, work)
    seeded = {
        "entity": "admin",
        "project": PROJECT,
        "grid": grid.split("/")[-1],
        "idle": idle.split("/")[-1],
        "cancelled": held.split("/")[-1],
        "expected": expected_trials(),
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    env = child_env(FWTRACK_DIR=str(root), FWTRACK_MODE="offline")
    for k in ("FWTRACK_BASE_URL", "FWTRACK_API_KEY", "FWTRACK_ENTITY"):
        env.pop(k, None)
    cwd = root.parent
    grid = create_sweep(grid_config("local-grid"), LOCAL_PROJECT, env, cwd)
    run_agents(grid, 1, env, cwd)
    seeded = {
        "entity": "local",
        "project": LOCAL_PROJECT,
        "grid": grid.split("/")[-1],
        "expected": expected_trials(),
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


def cmd_trial(_args: argparse.Namespace) -> int:
    import fwtrack

    run = fwtrack.init(
        config={"lr": 0.01, "optimizer": "adam"},
        settings={"console": False, "save_code": False, "capture_env": False, "system_interval": 0},
    )
    lr = float(run.config["lr"])
    opt = str(run.config["optimizer"])
    final = final_loss(lr, opt)
    for step in range(STEPS):
        # falls to `final` at the last step
        fwtrack.log({"loss": final + (STEPS - 1 - step) * 0.5})
    if run.config.get("hold"):
        run.flush()
        # until the agent stops this trial (SIGTERM finishes the run as `stopped`)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
    run.finish()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    local = sub.add_parser("local")
    local.add_argument("--dir", required=True)
    local.add_argument("--out", required=True)
    sub.add_parser("trial")
    args, _rest = parser.parse_known_args()
    return {"server": cmd_server, "local": cmd_local, "trial": cmd_trial}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
