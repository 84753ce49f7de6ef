"""Large blobs straight into the bucket: the uploads under way (table `blob_uploads`), how a
client is told what to send, and how a finished upload is verified before its blob row says
stored (docs/server.md, "Large blobs").

- `begin`: a stored blob is touched (`stored`); without a presigner, or at or under the
  threshold, the client sends it through the server (`server`); otherwise the one upload of
  the entity's address (made on first ask, found by any later one, on any replica) and a
  presigned URL for each part the bucket does not hold yet (`presigned`). Asking again is how
  a client resumes, or renews expired URLs: the bucket's own list of parts is the state.
- `complete`: one request at a time per upload (`completing_at`); the bucket joins the parts
  into the blob's final key (only if no object is there: `If-None-Match: *`), the server
  streams the object and hashes it, and only a match makes the blob row `stored`. A mismatch
  deletes the object (unless a verified copy was stored meanwhile) and the upload.
- `abort_stale`: the collector drops uploads untouched for a day (`STALE_AFTER`).

Why the final key is safe: nothing reads a blob before its row says stored, the row is set
only after the object's bytes hashed to the address, and no one but the holder of a part URL
of the one live upload (or the server, writing verified bytes) writes the key.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fwtrack.server import manifest
from fwtrack.server.db import Blob, BlobUpload, Database, now
from fwtrack.server.errors import ApiError
from fwtrack.server.store.base import BlobKey
from fwtrack.server.store.presign import (
    MAX_PARTS,
    PART_EXPIRES,
    Part,
    Presigner,
    UploadGone,
    part_plan,
)

__all__ = ["STALE_AFTER", "Planned", "abort_stale", "begin", "complete"]

log = logging.getLogger("fwtrack.server")

STALE_AFTER = 86400.0
"""Seconds after which the collector aborts an upload nobody asked about."""

_COMPLETE_BASE = 600.0  # a completion left by a dead process is taken over after this ...
_COMPLETE_RATE = 20 << 20  # ... plus the time to hash the blob at this many bytes a second


@dataclass(frozen=True)
class Planned:
    """The answer to `POST .../blobs/uploads`."""

    mode: str
    upload: str | None = None
    part_size: int | None = None
    parts: list[dict[str, Any]] | None = None
    expires_in: int | None = None


def _part_sizes(size: int, part_size: int) -> list[int]:
    count = max(1, -(-size // part_size))
    return [min(part_size, size - i * part_size) for i in range(count)]


def _find(db: Database, entity: str, address: str) -> BlobUpload | None:
    with db.read() as session:
        return session.scalars(
            sa.select(BlobUpload).where(BlobUpload.entity == entity, BlobUpload.address == address)
        ).one_or_none()


def _drop(db: Database, upload: str, upload_id: str | None = None) -> None:
    """Remove upload row `upload` (only while it still names bucket upload `upload_id`)."""
    with db.write() as session:
        query = sa.delete(BlobUpload).where(BlobUpload.id == upload)
        if upload_id is not None:
            query = query.where(BlobUpload.upload_id == upload_id)
        session.execute(query)


def _insert(db: Database, values: dict[str, Any]) -> None:
    stmt = (
        postgresql.insert(BlobUpload) if db.dialect == "postgresql" else sqlite.insert(BlobUpload)
    )
    with db.write() as session:
        session.execute(
            stmt.values(**values).on_conflict_do_nothing(index_elements=["entity", "address"])
        )


def begin(
    db: Database,
    presigner: Presigner | None,
    entity: str,
    address: str,
    size: int,
    threshold: int,
) -> Planned:
    """What the client should do with blob `address` of `size` bytes (see the module)."""
    if manifest.touch(db, entity, [address]):
        return Planned("stored")
    if presigner is None or size <= threshold:
        return Planned("server")
    key = presigner.object_key(BlobKey(entity, address))
    parts: list[Part] | None = None
    row = _find(db, entity, address)
    if row is not None and row.size != size:
        # Someone announced other bytes under this address: one of the two is wrong, and
        # the verification would refuse it; the newest announcement gets the upload.
        presigner.abort(key, row.upload_id)
        _drop(db, row.id, row.upload_id)
        row = None
    if row is not None:
        try:
            parts = presigner.list_parts(key, row.upload_id)
        except UploadGone:
            _drop(db, row.id, row.upload_id)
            row = None
    if row is None:
        part_size, _ = part_plan(size)
        upload_id = presigner.start(key)
        t = now()
        _insert(
            db,
            {
                "id": secrets.token_hex(16),
                "entity": entity,
                "address": address,
                "size": size,
                "part_size": part_size,
                "upload_id": upload_id,
                "created_at": t,
                "touched_at": t,
            },
        )
        row = _find(db, entity, address)
        if row is None or row.upload_id != upload_id:  # another request made it first
            presigner.abort(key, upload_id)
            if row is None:
                raise ApiError(
                    503, "the upload was removed meanwhile; retry", headers={"Retry-After": "1"}
                )
            parts = presigner.list_parts(key, row.upload_id)
        else:
            parts = []
    with db.write() as session:
        session.execute(
            sa.update(BlobUpload).where(BlobUpload.id == row.id).values(touched_at=now())
        )
    sizes = _part_sizes(row.size, row.part_size)
    have = set(_chosen(parts or [], sizes, {}))
    wanted = [
        {
            "number": number,
            "size": sizes[number - 1],
            "url": presigner.presign_part(key, row.upload_id, number, PART_EXPIRES),
        }
        for number in range(1, len(sizes) + 1)
        if number not in have
    ]
    return Planned("presigned", row.id, row.part_size, wanted, PART_EXPIRES)


def _claim(db: Database, entity: str, upload: str) -> BlobUpload:
    """Mark upload `upload` of `entity` as being completed by this request (404 when there is
    none, 503 when another request is completing it)."""
    t = now()
    with db.write() as session:
        row = session.scalars(
            sa.select(BlobUpload)
            .where(BlobUpload.id == upload, BlobUpload.entity == entity)
            .with_for_update()
        ).one_or_none()
        if row is None:
            raise ApiError(
                404,
                f"no upload {upload[:40]!r} is under way (completed, refused or aborted); "
                "hint: ask again with POST .../blobs/uploads",
            )
        patience = _COMPLETE_BASE + row.size / _COMPLETE_RATE
        if row.completing_at is not None and t - row.completing_at < patience:
            raise ApiError(
                503,
                "another request is completing this upload; retry shortly",
                headers={"Retry-After": "5"},
            )
        row.completing_at = t
        row.touched_at = t
    return row


def _release(db: Database, upload: str) -> None:
    with db.write() as session:
        session.execute(
            sa.update(BlobUpload).where(BlobUpload.id == upload).values(completing_at=None)
        )


def _lock_blob(session: Session, dialect: str, entity: str, address: str, size: int) -> Blob:
    """The entity's row of `address` (made, not stored, when missing), locked."""
    stmt = postgresql.insert(Blob) if dialect == "postgresql" else sqlite.insert(Blob)
    session.execute(
        stmt.values(
            entity=entity,
            address=address,
            size=size,
            stored=False,
            candidate=True,
            touched_at=now(),
        ).on_conflict_do_nothing(index_elements=["entity", "address"])
    )
    return session.scalars(
        sa.select(Blob).where(Blob.entity == entity, Blob.address == address).with_for_update()
    ).one()


def _mark_stored(
    db: Database, presigner: Presigner, entity: str, address: str, size: int, key: str
) -> bool:
    """Set the blob row stored, unless its object went away meanwhile (False)."""
    with db.write() as session:
        blob = _lock_blob(session, db.dialect, entity, address, size)
        if not blob.stored:
            if presigner.size(key) != size:  # the collector removed it meanwhile
                return False
            blob.stored = True
            blob.size = size
        blob.touched_at = now()
    return True


def _is_stored(db: Database, entity: str, address: str) -> bool:
    return bool(manifest.touch(db, entity, [address]))


def _clear_key(db: Database, presigner: Presigner, row: BlobUpload, key: str) -> bool:
    """An object is at the final key though no completion of ours put it there: True when it
    is a stored blob; otherwise (a leftover of a failed store or removal) delete it, False."""
    with db.write() as session:
        blob = _lock_blob(session, db.dialect, row.entity, row.address, row.size)
        if blob.stored:
            blob.touched_at = now()
            return True
        presigner.delete(key)
    return False


def complete(
    db: Database,
    presigner: Presigner,
    entity: str,
    upload: str,
    named: list[tuple[int, str]],
) -> tuple[str, int]:
    """Complete upload `upload` and verify it (see the module). `named` are the parts the
    client sent `(number, etag)`; the bucket's list is authoritative, these must agree with
    it. Returns `(address, size)` once stored."""
    row = _claim(db, entity, upload)
    key = presigner.object_key(BlobKey(entity, row.address))
    try:
        return _complete(db, presigner, row, key, named)
    finally:
        _release(db, row.id)


def _complete(
    db: Database, presigner: Presigner, row: BlobUpload, key: str, named: list[tuple[int, str]]
) -> tuple[str, int]:
    sizes = _part_sizes(row.size, row.part_size)
    try:
        found = presigner.list_parts(key, row.upload_id)
    except UploadGone:
        _drop(db, row.id, row.upload_id)
        if _is_stored(db, row.entity, row.address):
            return row.address, row.size
        raise ApiError(
            404, "the bucket no longer has this upload; hint: ask again with POST .../blobs/uploads"
        ) from None
    listed = _chosen(found, sizes, dict(named))
    missing = [n for n in range(1, len(sizes) + 1) if n not in listed]
    if missing or len(sizes) > MAX_PARTS:
        raise ApiError(
            409,
            f"the bucket does not hold every part of the upload (missing, short, or not the "
            f"one sent: {missing[:10]}); hint: ask again with POST .../blobs/uploads and send "
            "the parts it lists",
            extra={"missing_parts": missing},
        )
    parts = [listed[n] for n in range(1, len(sizes) + 1)]
    done = presigner.complete(key, row.upload_id, parts)
    if not done:
        if _clear_key(db, presigner, row, key):  # stored meanwhile through the server
            presigner.abort(key, row.upload_id)
            _drop(db, row.id, row.upload_id)
            return row.address, row.size
        if not presigner.complete(key, row.upload_id, parts):
            raise ApiError(
                503, "the blob's key is busy; retry shortly", headers={"Retry-After": "5"}
            )
    hashed = presigner.digest(key, row.address.partition(":")[0])
    actual, size = hashed if hashed is not None else ("nothing", 0)
    if actual != row.address or size != row.size:
        with db.write() as session:
            blob = _lock_blob(session, db.dialect, row.entity, row.address, row.size)
            if not blob.stored:  # a verified copy stored meanwhile stays
                presigner.delete(key)
        _drop(db, row.id)
        raise ApiError(
            400,
            f"content does not match its address: the {size} bytes uploaded hash to {actual}, "
            f"not {row.address}; nothing was stored. hint: an address is the hash of the "
            "blob's bytes; hash the file again and upload it again",
            extra={"refused": [row.address]},
        )
    if not _mark_stored(db, presigner, row.entity, row.address, row.size, key):
        _drop(db, row.id)
        raise ApiError(
            409, "the blob was removed while it was verified; hint: ask again and upload it again"
        )
    _drop(db, row.id)
    return row.address, row.size


def _etag(value: str) -> str:
    return value.strip().strip('"').lower()


def _chosen(found: list[Part], sizes: list[int], named: dict[int, str]) -> dict[int, Part]:
    """The part to complete with for each number the bucket holds in full: of its listings
    (a part sent again may be listed twice) those of the right size, the one whose ETag the
    client named, else the newest."""
    chosen: dict[int, Part] = {}
    for part in found:  # by number, oldest first
        if not 1 <= part.number <= len(sizes) or part.size != sizes[part.number - 1]:
            continue
        etag = named.get(part.number)
        if etag is not None and _etag(etag) != _etag(part.etag):
            continue
        chosen[part.number] = part
    return chosen


def abort_stale(db: Database, presigner: Presigner | None, max_age: float = STALE_AFTER) -> int:
    """Abort the uploads nobody asked about for `max_age` seconds; returns how many."""
    if presigner is None:
        return 0
    cutoff = now() - max_age
    with db.read() as session:
        rows = session.execute(
            sa.select(BlobUpload.id, BlobUpload.entity, BlobUpload.address, BlobUpload.upload_id)
            .where(BlobUpload.touched_at <= cutoff)
            .order_by(BlobUpload.touched_at)
            .limit(500)
        ).all()
    aborted = 0
    for upload, entity, address, upload_id in rows:
        with db.write() as session:
            gone = session.execute(
                sa.delete(BlobUpload).where(
                    BlobUpload.id == upload,
                    BlobUpload.touched_at <= cutoff,
                    BlobUpload.completing_at.is_(None),
                )
            )
            if not getattr(gone, "rowcount", 0):
                continue
        try:
            presigner.abort(presigner.object_key(BlobKey(entity, address)), upload_id)
        except Exception as exc:  # the bucket's own lifecycle rules may clean it up
            log.warning("could not abort stale upload %s of %s: %s", upload, address, exc)
        aborted += 1
    return aborted
