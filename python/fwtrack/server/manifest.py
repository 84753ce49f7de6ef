"""Blobs kept per entity and each run's file manifest, in SQL (tables `blobs`, `run_files`).

The guarantee: a blob a run's manifest references is never removed, whatever runs at the same
time. It rests on row locks taken in one order (a run's row, then blob rows by address) and
on the `stored` flag:

- `keep` inserts a blob's row (or finds it), locks it, puts the bytes into the store and sets
  `stored`, all in one transaction: `stored` implies the bytes are there.
- `record_files` locks the run's row, then share-locks the rows of the blobs it names (only
  `stored` ones count: any other address is answered `409 missing`) and inserts the manifest
  rows, whose foreign key references those blob rows, in one transaction.
- the collector (`fwtrack.server.collector`) locks a candidate's row (skipping locked ones),
  checks in a fresh statement that no manifest row references it, clears `stored` and commits;
  then, in a second transaction holding the row again, removes the bytes and the row. A
  manifest insert that comes between finds the blob not stored (`409 missing`: the client
  sends it again); an upload that comes between stores it again, and the collector leaves it.

On SQLite every write transaction holds the database's write lock (`BEGIN IMMEDIATE`), so
these transactions simply run one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from fwtrack.server.db import Blob, Database, Run, RunFileRow, now
from fwtrack.server.errors import ApiError
from fwtrack.server.store.base import BlobKey, Staged, Store

__all__ = [
    "MAX_ADDRESSES",
    "adopt",
    "find_file",
    "keep",
    "list_files",
    "record_files",
    "release",
    "touch",
]

log = logging.getLogger("fwtrack.server")

MAX_ADDRESSES = 10_000
"""Addresses per `blobs/missing` request, and files per manifest request."""

_IN = 500  # values per IN (...) list
_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = _IN) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def touch(db: Database, entity: str, addresses: Iterable[str]) -> set[str]:
    """Those of `addresses` that `entity` has stored; each of them is touched (its
    `touched_at` set to now, which keeps it from the collector for the grace period)."""
    wanted = sorted(set(addresses))
    found: set[str] = set()
    t = now()
    with db.write() as session:
        for chunk in _chunks(wanted):
            rows = session.execute(
                sa.select(Blob.id, Blob.address)
                .where(Blob.entity == entity, Blob.address.in_(chunk), Blob.stored.is_(True))
                .order_by(Blob.address)
                .with_for_update(key_share=True)
            ).all()
            if rows:
                session.execute(
                    sa.update(Blob).where(Blob.id.in_([r.id for r in rows])).values(touched_at=t)
                )
                found.update(r.address for r in rows)
    return found


def _insert(dialect: str, table: Any) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def keep(
    db: Database,
    store: Store,
    entity: str,
    blobs: Sequence[tuple[str, int, bytes | memoryview | Staged]],
) -> None:
    """Keep verified blobs `(address, size, bytes or staged upload)` for `entity`: rows made
    (or touched), bytes put into the store for those not stored yet, in one transaction."""
    if not blobs:
        return
    t = now()
    by_address: dict[str, tuple[int, bytes | memoryview | Staged]] = {}
    for address, size, src in blobs:
        by_address.setdefault(address, (size, src))
    addresses = sorted(by_address)
    with db.write() as session:
        for chunk in _chunks(addresses):
            rows = [
                {
                    "entity": entity,
                    "address": address,
                    "size": by_address[address][0],
                    "stored": False,
                    "candidate": True,  # unreferenced until a manifest names it
                    "touched_at": t,
                }
                for address in chunk
            ]
            session.execute(
                _insert(db.dialect, Blob)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["entity", "address"])
            )
        locked: list[Blob] = []
        for chunk in _chunks(addresses):
            locked += session.scalars(
                sa.select(Blob)
                .where(Blob.entity == entity, Blob.address.in_(chunk))
                .order_by(Blob.address)
                .with_for_update()
            )
        new = [row for row in locked if not row.stored]
        store.put_many([(BlobKey(entity, r.address), by_address[r.address][1]) for r in new])
        for row in locked:
            if not row.stored:
                row.stored = True
                row.size = by_address[row.address][0]
            row.touched_at = t


def adopt(db: Database, entity: str, blobs: Sequence[tuple[str, int]]) -> None:
    """Record blobs `(address, size)` whose bytes the caller has put into the store itself
    (files imported from an older layout) as stored for `entity`."""
    t = now()
    addresses = sorted(dict(blobs).items())
    with db.write() as session:
        for chunk in _chunks(addresses):
            session.execute(
                _insert(db.dialect, Blob)
                .values(
                    [
                        {
                            "entity": entity,
                            "address": address,
                            "size": size,
                            "stored": True,
                            "candidate": True,
                            "touched_at": t,
                        }
                        for address, size in chunk
                    ]
                )
                .on_conflict_do_nothing(index_elements=["entity", "address"])
            )
            session.execute(
                sa.update(Blob)
                .where(Blob.entity == entity, Blob.address.in_([a for a, _ in chunk]))
                .values(stored=True, touched_at=t)
            )


def release(db: Database, blob_ids: Iterable[int]) -> None:
    """Mark blobs that lost a reference (a deleted run's, a replaced file's) for the
    collector. A failure only delays their removal (the collector's sweep finds them)."""
    ids = sorted(set(blob_ids))
    if not ids:
        return
    try:
        with db.write() as session:
            for chunk in _chunks(ids):
                locked = session.scalars(
                    sa.select(Blob.id)
                    .where(Blob.id.in_(chunk), Blob.candidate.is_(False))
                    .order_by(Blob.entity, Blob.address)
                    .with_for_update(key_share=True)
                ).all()
                if locked:
                    session.execute(
                        sa.update(Blob).where(Blob.id.in_(locked)).values(candidate=True)
                    )
    except OperationalError as exc:
        log.warning("could not mark %d released blob(s) for collection: %s", len(ids), exc)


def _clash(current: Iterable[str], new: Sequence[str]) -> str | None:
    """Why one of the `new` paths cannot join the run's files: a folder on its way is a
    file, or it names a folder of other files; None when none clashes."""
    paths = set(current) | set(new)
    folders: dict[str, str] = {}
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            folders.setdefault("/".join(parts[:i]), path)
    for path in new:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in paths:
                return (
                    f"run file {prefix!r} exists, so {path!r} cannot be stored under it; "
                    "hint: upload it under another name"
                )
        if path in folders:
            return (
                f"{path!r} is a folder of run files (it holds {folders[path]}), so a file "
                "cannot take its name; hint: upload it under another name"
            )
    return None


def record_files(
    db: Database, entity: str, run_pk: int, files: Sequence[tuple[str, str, int]]
) -> int:
    """Record run files `(path, address, size)` in the run's manifest (a path already there
    is pointed at the new blob). All or nothing: `409` with `missing` when a blob is not
    stored for `entity`, `409` for a path clashing with another file, `400` for a size that
    is not the blob's. Returns the number of paths recorded."""
    released: list[int] = []
    with db.write() as session:
        if session.scalar(sa.select(Run.id).where(Run.id == run_pk).with_for_update()) is None:
            raise ApiError(404, "the run was deleted during this request")
        addresses = sorted({address for _, address, _ in files})
        found: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(addresses):
            for blob_id, address, size in session.execute(
                sa.select(Blob.id, Blob.address, Blob.size)
                .where(Blob.entity == entity, Blob.address.in_(chunk), Blob.stored.is_(True))
                .order_by(Blob.address)
                .with_for_update(read=True)
            ):
                found[address] = (blob_id, size)
        missing = [a for a in addresses if a not in found]
        if missing:
            raise ApiError(
                409,
                f"{len(missing)} blob(s) named by the manifest are not stored (e.g. "
                f"{missing[0]}); hint: send them (POST .../blobs or PUT .../blobs/{{address}}) "
                "and post the manifest again",
                extra={"missing": missing},
            )
        for path, address, size in files:
            if found[address][1] != size:
                raise ApiError(
                    400,
                    f"{path!r}: size {size} is not the size of {address} "
                    f"({found[address][1]} bytes); hint: send the file's own size",
                )
        current: dict[str, int] = {
            path: blob_id
            for path, blob_id in session.execute(
                sa.select(RunFileRow.path, RunFileRow.blob_id).where(RunFileRow.run_pk == run_pk)
            )
        }
        clash = _clash(current, [path for path, _, _ in files if path not in current])
        if clash is not None:
            raise ApiError(409, clash)
        inserts = []
        for path, address, size in files:
            blob_id = found[address][0]
            old = current.get(path)
            if old is None:
                inserts.append({"run_pk": run_pk, "path": path, "blob_id": blob_id, "size": size})
            elif old != blob_id:
                session.execute(
                    sa.update(RunFileRow)
                    .where(RunFileRow.run_pk == run_pk, RunFileRow.path == path)
                    .values(blob_id=blob_id, size=size)
                )
                released.append(old)
        if inserts:
            session.execute(sa.insert(RunFileRow), inserts)
    release(db, released)
    return len(files)


def list_files(db: Database, run_pk: int) -> list[dict[str, object]]:
    """`[{"path", "size", "address"}]` of the run's manifest, sorted by path."""
    with db.read() as session:
        rows = session.execute(
            sa.select(RunFileRow.path, RunFileRow.size, Blob.address)
            .join(Blob, Blob.id == RunFileRow.blob_id)
            .where(RunFileRow.run_pk == run_pk)
        ).all()
    out: list[dict[str, object]] = [
        {"path": path, "size": size, "address": address} for path, size, address in rows
    ]
    out.sort(key=lambda f: str(f["path"]))
    return out


def find_file(db: Database, run_pk: int, path: str) -> tuple[str, str, int] | None:
    """`(entity, address, size)` of run file `path`, or None."""
    with db.read() as session:
        row = session.execute(
            sa.select(Blob.entity, Blob.address, RunFileRow.size)
            .join(Blob, Blob.id == RunFileRow.blob_id)
            .where(RunFileRow.run_pk == run_pk, RunFileRow.path == path)
        ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])
