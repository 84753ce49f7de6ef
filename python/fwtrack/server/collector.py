"""The blob collector: removes blobs that no run, no committed artifact version and no report
references once they were left untouched for the grace period (`--blob-grace`,
`FWTRACK_SERVER_BLOB_GRACE`, default an hour).

It looks only at candidates (rows with `candidate` set: new blobs, and blobs released by a
deleted run or a replaced file), so a pass with nothing to do is one indexed query. For each
batch of candidates older than the grace period it runs two transactions (the locking order
and why no referenced blob can be lost are in `fwtrack.server.manifest`):

1. lock the rows (skipping rows another transaction holds), check in a fresh statement which
   are referenced (by a run's file, `run_files`, by a committed artifact version's
   manifest, `artifact_blobs`, or by a report's image, `report_assets`): those are no longer
   candidates; the others lose `stored`;
2. lock the rows that are still not stored, remove their bytes from the store, delete them.

A crash between the two leaves rows that are not stored (reported missing, and stored again
by an upload, or removed at the next pass); a failed removal of bytes leaves the row not
stored, never a row claiming bytes that are gone.

Each pass also aborts the presigned uploads of large blobs nobody asked about for a day
(`fwtrack.server.blob_uploads.abort_stale`), so their parts do not stay in the bucket, and
removes this server's local caches of runs deleted meanwhile, by it or by another replica
(`fwtrack.server.caches`).

Each server process runs one collector thread: after a run was deleted (woken), and every
`interval` seconds (a tenth of the grace period, 1 s to 5 min). At its start it sweeps once
for blobs that lost their last reference without being marked (a crash between a deletion and
its marking), so none is kept for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server import blob_uploads
from fwtrack.server.caches import prune_run_caches
from fwtrack.server.db import ArtifactBlob, Blob, Database, ReportAsset, RunFileRow, now
from fwtrack.server.store.base import BlobKey, Store
from fwtrack.server.store.presign import presigner

__all__ = ["DEFAULT_BLOB_GRACE", "Collector", "collect", "sweep"]

log = logging.getLogger("fwtrack.server")

DEFAULT_BLOB_GRACE = 3600.0
"""Seconds an unreferenced blob is kept after its last upload or `blobs/missing` answer."""

_BATCH = 500


def _referenced(session: Session, ids: Sequence[int]) -> set[int]:
    """Those of `ids` a run file, a committed artifact version or a report's image
    references."""
    if not ids:
        return set()
    by_runs = sa.select(RunFileRow.blob_id).where(RunFileRow.blob_id.in_(ids))
    by_artifacts = sa.select(ArtifactBlob.blob_id).where(ArtifactBlob.blob_id.in_(ids))
    by_reports = sa.select(ReportAsset.blob_id).where(ReportAsset.blob_id.in_(ids))
    return set(session.scalars(sa.union(by_runs, by_artifacts, by_reports)))


def _unstore(db: Database, ids: Sequence[int], cutoff: float) -> list[int]:
    """Transaction 1: of candidates `ids`, clear `stored` on those unreferenced and untouched
    since `cutoff`; return them (with any left not stored by an earlier pass)."""
    with db.write() as session:
        rows = session.scalars(
            sa.select(Blob)
            .where(Blob.id.in_(ids), Blob.candidate.is_(True), Blob.touched_at <= cutoff)
            .order_by(Blob.id)
            .with_for_update(skip_locked=True)
        ).all()
        used = _referenced(session, [r.id for r in rows])  # after the locks: a fresh look
        doomed = []
        for row in rows:
            if row.id in used:
                row.candidate = False  # marked again when it loses a reference
            else:
                row.stored = False
                doomed.append(row.id)
    return doomed


def _remove(db: Database, store: Store, ids: Sequence[int]) -> int:
    """Transaction 2: remove the bytes and rows of `ids` still not stored and unreferenced."""
    if not ids:
        return 0
    removed = 0
    with db.write() as session:
        rows = session.scalars(
            sa.select(Blob)
            .where(Blob.id.in_(ids), Blob.stored.is_(False))
            .order_by(Blob.id)
            .with_for_update(skip_locked=True)
        ).all()
        used = _referenced(session, [r.id for r in rows])
        gone = []
        for row in rows:
            if row.id in used:  # cannot happen (a manifest names stored blobs only): keep it
                row.stored, row.candidate = True, False
                continue
            store.delete(BlobKey(row.entity, row.address))
            gone.append(row.id)
        if gone:
            session.execute(sa.delete(Blob).where(Blob.id.in_(gone)))
            removed = len(gone)
    return removed


def collect(db: Database, store: Store, grace: float, stop: threading.Event | None = None) -> int:
    """One pass: remove every candidate blob unreferenced and untouched for `grace` seconds
    (until `stop` is set). Returns the number removed."""
    cutoff = now() - grace
    removed = 0
    after = 0
    while stop is None or not stop.is_set():
        with db.read() as session:
            ids = session.scalars(
                sa.select(Blob.id)
                .where(Blob.candidate.is_(True), Blob.touched_at <= cutoff, Blob.id > after)
                .order_by(Blob.id)
                .limit(_BATCH)
            ).all()
        if not ids:
            return removed
        after = ids[-1]
        removed += _remove(db, store, _unstore(db, ids, cutoff))
    return removed


def sweep(db: Database) -> int:
    """Mark every unreferenced blob that is not a candidate (left so by a crash between a
    run's deletion and the marking of its blobs). Returns how many."""
    unreferenced = (
        ~sa.exists().where(RunFileRow.blob_id == Blob.id)
        & ~sa.exists().where(ArtifactBlob.blob_id == Blob.id)
        & ~sa.exists().where(ReportAsset.blob_id == Blob.id)
    )
    with db.write() as session:
        result = session.execute(
            sa.update(Blob).where(Blob.candidate.is_(False), unreferenced).values(candidate=True)
        )
    return int(getattr(result, "rowcount", 0) or 0)


class Collector:
    """The collector thread of one server process."""

    def __init__(
        self, db: Database, store: Store, grace: float, interval: float | None = None
    ) -> None:
        self.db = db
        self.store = store
        self.grace = grace
        self.interval = interval if interval is not None else min(max(grace / 10, 1.0), 300.0)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fwtrack-collector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def wake(self) -> None:
        """Run a pass soon (after a run was deleted)."""
        self._wake.set()

    def _loop(self) -> None:
        try:
            marked = sweep(self.db)
            if marked:
                log.info("collector: %d unreferenced blob(s) marked for collection", marked)
        except Exception:
            log.exception("the collector's sweep failed")
        while not self._stop.is_set():
            self._wake.clear()
            try:
                removed = collect(self.db, self.store, self.grace, self._stop)
                if removed:
                    log.info("collector: removed %d unreferenced blob(s)", removed)
            except Exception:  # keep collecting: one failed pass must not stop it
                log.exception("collecting unreferenced blobs failed")
            try:
                aborted = blob_uploads.abort_stale(self.db, presigner(self.store))
                if aborted:
                    log.info("collector: aborted %d stale upload(s) of large blobs", aborted)
            except Exception:
                log.exception("aborting stale uploads failed")
            try:  # caches of runs deleted meanwhile, maybe by another replica
                pruned = prune_run_caches(self.db, self.store)
                if pruned:
                    log.info("collector: removed the local caches of %d deleted run(s)", pruned)
            except Exception:
                log.exception("removing the caches of deleted runs failed")
            self._wake.wait(self.interval)
