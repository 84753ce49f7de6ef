"""A server's local caches of runs that no longer exist.

On object storage each server keeps a copy of the runs it read or stored under its cache
directory (`<cache>/runs/<pk>/`: the log's copy and the history index). Deleting a run removes
the cache of the replica that deleted it; every other replica's copy would stay on its disk for
good (run keys are never reused on PostgreSQL, so it would never be read either). The
collector thread of each process therefore prunes, at each pass, the cached runs whose row is
gone (`prune_run_caches`). A run's row is created before any cache of it, so a cache whose row
is missing belongs to a deleted run. The directory store keeps no such caches: nothing to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from fwtrack.server.db import Database, Run
from fwtrack.server.store.base import Store

__all__ = ["prune_run_caches"]

_BATCH = 500


def _cached_runs(store: Store) -> dict[int, Path]:
    """`{pk: folder}` of the runs the store caches locally (none on the directory store)."""
    root = getattr(store, "cache_dir", None)
    if not isinstance(root, Path):
        return {}
    try:
        entries = list((root / "runs").iterdir())
    except FileNotFoundError:
        return {}
    return {int(e.name): e for e in entries if e.name.isdigit() and not e.is_symlink()}


def prune_run_caches(db: Database, store: Store) -> int:
    """Remove the local caches of runs whose row is gone (deleted, maybe by another replica);
    returns how many."""
    cached = _cached_runs(store)
    if not cached:
        return 0
    pks = sorted(cached)
    alive: set[int] = set()
    with db.read() as session:
        for start in range(0, len(pks), _BATCH):
            chunk = pks[start : start + _BATCH]
            alive.update(session.scalars(sa.select(Run.id).where(Run.id.in_(chunk))))
    gone = [pk for pk in pks if pk not in alive]
    for pk in gone:
        shutil.rmtree(cached[pk], ignore_errors=True)
    return len(gone)
