"""Helpers of the agent and CLI tests: a sweep config around tests/programs/sweep_curve.py,
`fwtrack sweep` / `fwtrack agent` as real processes, and waiting for a condition (bounded by the
per-test timeout, never by a timing threshold)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.harness import child_env

REPO = Path(__file__).resolve().parents[2]
TRIAL = REPO / "tests" / "programs" / "sweep_curve.py"
HEARTBEAT = "0.5"


def agent_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI or agent process: runs and the local sweep store under
    `<tmp_path>/fwtrack`, short heartbeats, and this interpreter first on PATH (the default
    command runs `python`)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return child_env(
        FWTRACK_DIR=str(tmp_path / "fwtrack"),
        FWTRACK_CONFIG_DIR=str(tmp_path / "config"),
        FWTRACK_CACHE_DIR=str(tmp_path / "cache"),
        FWTRACK_SWEEP_HEARTBEAT=HEARTBEAT,
        FWTRACK_FLUSH_INTERVAL="0.2",
        PATH=path,
        **extra,
    )


def config(parameters: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A sweep config running the trial program (grid and `loss` minimized by default)."""
    return {
        "program": str(TRIAL),
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": parameters,
        **top,
    }


def cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fwtrack", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def create(cfg: dict[str, Any], *, env: dict[str, str], cwd: Path, project: str = "sw") -> str:
    """`fwtrack sweep` on `cfg` (written as JSON, which is YAML); the reference it prints for
    `fwtrack agent`."""
    path = cwd / f"sweep-{time.monotonic_ns()}.yaml"
    path.write_text(json.dumps(cfg))
    out = cli("sweep", str(path), "--project", project, env=env, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    match = re.search(r"fwtrack agent (\S+)", out.stdout)
    assert match, out.stdout
    return match.group(1)


class AgentProcess:
    """`fwtrack agent REF ...` as a real process; its output goes to a file under `cwd`."""

    def __init__(self, ref: str, *more: str, env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / f"agent-{time.monotonic_ns()}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fwtrack", "agent", ref, *more],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def finish(self, timeout: float = 240) -> str:
        """Wait for the agent to exit on its own with status 0; its output."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the agent did not exit:\n{self.output}") from None
        assert code == 0, self.output
        return self.output

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = 120) -> Any:
    """Poll `check` until it returns something truthy (a hang is bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
