"""Helpers of the controller tests: a migrated database on SQLite or on a throw-away
PostgreSQL cluster, a clock the test moves by hand, and a compact way to drive trials."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fwtrack.server.db import Database
from fwtrack.sweeps.config import SweepConfig, load_config
from fwtrack.sweeps.controller import Controller
from server.harness import PostgresCluster

BACKENDS = ("sqlite", "postgresql")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for a module's tests, stopped and removed afterwards."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def database_url(backend: str, tmp_path: Path, cluster: PostgresCluster | None) -> str:
    """An empty database: a file under `tmp_path`, or a new database of `cluster`."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'fwtrack.db'}"
    assert cluster is not None
    return cluster.create_database()


def migrated(url: str) -> Database:
    """`Database(url)` brought to the newest revision, as a server starts."""
    db = Database(url)
    db.migrate()
    return db


class Clock:
    """Unix seconds that move only when the test says so."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def grid_config(n_a: int = 4, n_b: int = 3, **top: Any) -> SweepConfig:
    """A grid of `n_a * n_b` points over `a` (ints) and `b` (strings), metric `loss`."""
    raw: dict[str, Any] = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "a": {"values": list(range(n_a))},
            "b": {"values": [f"b{i}" for i in range(n_b)]},
        },
    }
    raw.update(top)
    return load_config(raw)


def run_trial(
    ctl: Controller, sweep_id: str, agent_id: int, value: float, history: list[float] | None = None
) -> dict[str, Any]:
    """Take the agent's next trial and finish it with `value`; returns the finished trial."""
    answer = ctl.next_trial(sweep_id, agent_id)
    assert "trial" in answer, answer
    trial = answer["trial"]
    return ctl.finish_trial(
        sweep_id, agent_id, trial["id"], "finished", value, history or [value], 0
    )
