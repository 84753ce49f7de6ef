"""Helpers for the sweep route tests: a JSON client of the sweep routes as one key, sweep
configs, and real run logs of trials (written by the core's writer with `sweep_id` in their
start record)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from fwtrack import _core

GRID_12: dict[str, Any] = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"values": [0.1, 0.01, 0.001]},
        "layers": {"values": [1, 2]},
        "act": {"values": ["relu", "tanh"]},
    },
}
"""A grid of 3 * 2 * 2 = 12 configurations."""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def grid(n: int) -> dict[str, Any]:
    """A grid sweep config of `n` configurations (one parameter `x` = 0 .. n-1)."""
    return {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": list(range(n))}},
    }


class SweepClient:
    """The sweep routes of a real server (or `fwtrack ui`) as one key (or none)."""

    def __init__(self, base_url: str, key: str | None = None, entity: str = "admin") -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.base_url = base_url
        self.key = key
        self.entity = entity
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=120)

    def as_(self, key: str, entity: str) -> SweepClient:
        return SweepClient(self.base_url, key, entity)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(path, json=body)

    def sweeps(self, project: str, entity: str | None = None) -> str:
        return f"/sweeps/{entity or self.entity}/{project}"

    def create(
        self, project: str, config: Mapping[str, Any], *, seed: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"config": dict(config)}
        if seed is not None:
            body["seed"] = seed
        r = self.post(self.sweeps(project), body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def sweep(self, project: str, sweep_id: str) -> dict[str, Any]:
        r = self.get(f"{self.sweeps(project)}/{sweep_id}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def agent(self, project: str, sweep_id: str, host: str = "host-a", pid: int = 1) -> int:
        r = self.post(f"{self.sweeps(project)}/{sweep_id}/agents", {"host": host, "pid": pid})
        assert r.status_code == 201, r.text
        agent_id: int = r.json()["agent_id"]
        return agent_id

    def next(self, project: str, sweep_id: str, agent_id: int) -> dict[str, Any]:
        r = self.post(f"{self.sweeps(project)}/{sweep_id}/agents/{agent_id}/next")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def heartbeat(
        self, project: str, sweep_id: str, agent_id: int, trials: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        r = self.post(
            f"{self.sweeps(project)}/{sweep_id}/agents/{agent_id}/heartbeat",
            {"trials": [dict(t) for t in trials]},
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def finish(
        self,
        project: str,
        sweep_id: str,
        agent_id: int,
        trial_id: int,
        state: str = "finished",
        value: float | None = None,
        history: Sequence[float] = (),
        offset: int = 0,
    ) -> dict[str, Any]:
        r = self.post(
            f"{self.sweeps(project)}/{sweep_id}/trials/{trial_id}/finish",
            {
                "agent_id": agent_id,
                "state": state,
                "value": value,
                "history": list(history),
                "offset": offset,
            },
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def trials(self, project: str, sweep_id: str) -> list[dict[str, Any]]:
        r = self.get(f"{self.sweeps(project)}/{sweep_id}/trials")
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()["trials"]
        return out

    def upload(self, project: str, run_id: str, log: bytes) -> None:
        r = self.http.post(
            f"/runs/{self.entity}/{project}/{run_id}/log",
            params={"offset": 0},
            content=log,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text

    def runs(self, project: str, filter: str) -> list[dict[str, Any]]:
        r = self.get(f"/runs/{self.entity}/{project}", params={"filter": filter})
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()["runs"]
        return out


def trial_log(
    root: Path,
    project: str,
    run_id: str,
    *,
    sweep_id: str | None,
    config: Mapping[str, Any] | None = None,
    losses: Sequence[float] = (1.0, 0.5),
    exit_code: int = 0,
    reason: str | None = None,
) -> bytes:
    """A finished run log of a trial: its start record carries `sweep_id`, its config the
    trial's parameters, `loss` logged once per value; the finish record has `reason`."""
    run_dir = root / project / run_id
    info: dict[str, Any] = {
        "id": run_id,
        "project": project,
        "name": f"trial-{run_id}",
        "created_at": time.time(),
    }
    if sweep_id is not None:
        info["sweep_id"] = sweep_id
    warnings: list[str] = []
    writer = _core.RunWriter(
        str(run_dir), json.dumps(info), converter=lambda _k, _v: None, warn=warnings.append
    )
    if config:
        writer.log_config(json.dumps(dict(config)))
    for loss in losses:
        writer.log({"loss": loss})
    writer.finish(exit_code, reason)
    assert warnings == []
    return (run_dir / "run.fwlog").read_bytes()
