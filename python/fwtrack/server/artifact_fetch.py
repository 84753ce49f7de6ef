"""Many artifact blobs in one answer: `POST /artifacts/{entity}/{project}/blobs/fetch`
streams a pack (`application/x-fwtrack-blobs`, the format of `fwtrack.server.pack`) of the
blobs asked for, so that a download of many small files is a few requests rather than one
per file.

Only a blob that a committed version of the project names (its entries' blobs and its
manifest) may be fetched: on the server's store that is an `artifact_blobs` row of one of the
project's versions (the collector keeps those blobs); `fwtrack ui` has no such rows and looks
in the versions' manifests. The answer is bounded (`MAX_FETCH_BYTES`); its length is known
before the first byte (the sizes are in SQL), so a cut answer is seen as one by the client,
which verifies every blob's address anyway.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server.blobs import BlobStore
from fwtrack.server.db import (
    ArtifactBlob,
    ArtifactCollection,
    ArtifactManifest,
    ArtifactVersion,
    Blob,
    Project,
)
from fwtrack.server.store.base import BlobKey
from fwtrack.server.store.directory import DirectoryStore

__all__ = ["MAX_FETCH_BYTES", "entry_header", "pack_length", "referenced", "stream_pack"]

MAX_FETCH_BYTES = 64 << 20
"""The most blob bytes one fetch answers (the client asks for about 8 MiB at a time)."""
_IN = 500
_CHUNK = 1 << 20
_AHEAD = 16
"""Blobs read ahead, in parallel, from a store without local files (S3)."""
_AHEAD_MAX_SIZE = 1 << 20
"""Only blobs up to this size are read ahead (whole, into memory)."""


def entry_header(address: str, size: int) -> bytes:
    """A pack entry's header: u16 LE address length, the address, u64 LE size."""
    raw = address.encode("ascii")
    return len(raw).to_bytes(2, "little") + raw + size.to_bytes(8, "little")


def pack_length(items: Sequence[tuple[str, int]]) -> int:
    """Bytes of the pack of `(address, size)` items."""
    return sum(2 + len(a) + 8 + size for a, size in items)


def referenced(
    session: Session, project: Project, addresses: Sequence[str], *, local: bool
) -> dict[str, int]:
    """address → size of those of `addresses` that a committed version of `project` names
    (and that are stored). `local`: `fwtrack ui`, whose versions have no `artifact_blobs`
    rows; their manifests are read instead."""
    if local:
        return _referenced_by_manifests(session, project, set(addresses))
    found: dict[str, int] = {}
    for start in range(0, len(addresses), _IN):
        chunk = addresses[start : start + _IN]
        query = sa.select(Blob.address, Blob.size).where(
            Blob.entity == project.entity,
            Blob.address.in_(chunk),
            Blob.stored.is_(True),
            sa.exists()
            .where(ArtifactBlob.blob_id == Blob.id)
            .where(ArtifactVersion.id == ArtifactBlob.version_id)
            .where(ArtifactCollection.id == ArtifactVersion.collection_id)
            .where(ArtifactCollection.project_id == project.id),
        )
        for address, size in session.execute(query):
            found[address] = int(size)
    return found


def _referenced_by_manifests(
    session: Session, project: Project, wanted: set[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    rows = session.execute(
        sa.select(ArtifactManifest.address, ArtifactManifest.nbytes, ArtifactManifest.entries)
        .join(ArtifactVersion, ArtifactVersion.id == ArtifactManifest.version_id)
        .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
        .where(ArtifactCollection.project_id == project.id)
    )
    for address, nbytes, entries in rows:
        if address in wanted:
            found[address] = int(nbytes)
        for entry in (entries or {}).values():
            if isinstance(entry, dict) and entry.get("address") in wanted:
                found[str(entry["address"])] = int(entry.get("size") or 0)
    return found


def _opener(blobs: Any, entity: str) -> Callable[[str, int], BinaryIO]:
    if isinstance(blobs, BlobStore):
        store = blobs.store
        return lambda address, size: store.open(BlobKey(entity, address))
    return lambda address, size: blobs.blob_file(entity, address, size, address).open()


def _read_whole(opener: Callable[[str, int], BinaryIO], address: str, size: int) -> bytes:
    with opener(address, size) as fh:
        data = fh.read(size + 1)
    if len(data) != size:
        raise OSError(f"the stored blob {address} has {len(data)} bytes, not {size}")
    return data


def stream_pack(blobs: Any, entity: str, items: Sequence[tuple[str, int]]) -> Iterator[bytes]:
    """The pack of `items` (`(address, size)`), in pieces of about 1 MiB, read from `blobs`
    (a `BlobStore` or `fwtrack ui`'s layout). A blob that cannot be read ends the answer
    early (OSError): the client sees a short body."""
    opener = _opener(blobs, entity)
    remote = isinstance(blobs, BlobStore) and not isinstance(blobs.store, DirectoryStore)
    buf = bytearray()
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fwtrack-fetch") if remote else None
    ahead: deque[tuple[str, int, Future[bytes] | None]] = deque()
    todo = iter(items)

    def fill() -> None:
        while len(ahead) < _AHEAD:
            item = next(todo, None)
            if item is None:
                return
            address, size = item
            if pool is not None and size <= _AHEAD_MAX_SIZE:
                ahead.append((address, size, pool.submit(_read_whole, opener, address, size)))
            else:
                ahead.append((address, size, None))

    try:
        fill()
        while ahead:
            address, size, future = ahead.popleft()
            buf += entry_header(address, size)
            if future is not None:
                buf += future.result()
            elif size <= _CHUNK:
                buf += _read_whole(opener, address, size)
            else:
                with opener(address, size) as fh:
                    got = 0
                    while got < size:
                        chunk = fh.read(min(_CHUNK, size - got))
                        if not chunk:
                            raise OSError(f"the stored blob {address} ended at {got} of {size}")
                        got += len(chunk)
                        buf += chunk
                        if len(buf) >= _CHUNK:
                            yield bytes(buf)
                            buf.clear()
            fill()
            if len(buf) >= _CHUNK:
                yield bytes(buf)
                buf.clear()
        if buf:
            yield bytes(buf)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
