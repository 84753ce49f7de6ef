"""The local sweep store: sweeps without a server, in `<root>/.sweeps/sweeps.db` (SQLite) under
the run directory (`FWTRACK_DIR`, default `./fwtrack`). Agents on one machine share it; SQLite's
write lock serializes their calls as the sweep row's lock does on a server, and `fwtrack ui`
reads it."""

from __future__ import annotations

import os
from pathlib import Path

from fwtrack.sweeps.controller import Controller

__all__ = ["SWEEPS_DIR", "local_database", "open_local"]

SWEEPS_DIR = ".sweeps"
"""The folder of the run directory that holds the local sweep store."""


def local_database(root: str | os.PathLike[str]) -> Path:
    """The SQLite file of the local sweep store of the run directory `root`."""
    return Path(root).absolute() / SWEEPS_DIR / "sweeps.db"


def open_local(
    root: str | os.PathLike[str], *, heartbeat_interval: float | None = None
) -> Controller:
    """A `Controller` on the local sweep store of `root`, creating it (just the sweep tables,
    under the file lock `sweeps.db.lock`) the first time. The heartbeat interval is
    `FWTRACK_SWEEP_HEARTBEAT` (default 10 s) unless given."""
    try:
        from fwtrack.server.db import Base, Database, Sweep, SweepAgent, SweepTrial
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            f"local sweeps need {exc.name}; install it with `pip install 'fwtrack[sweeps]'`"
        ) from exc
    from fwtrack.sdk.settings import sweep_heartbeat_interval

    if heartbeat_interval is None:
        heartbeat_interval = sweep_heartbeat_interval()
    path = local_database(root)
    db = Database(f"sqlite:///{path}")
    with db.migration_lock() as connection:
        tables = [Sweep.__table__, SweepAgent.__table__, SweepTrial.__table__]
        Base.metadata.create_all(connection, tables=tables)  # type: ignore[arg-type]
        connection.commit()
    return Controller(db, heartbeat_interval=heartbeat_interval)
