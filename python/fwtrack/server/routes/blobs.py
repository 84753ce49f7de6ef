"""Blobs by content address: which ones the server lacks, packs of small ones, one large one,
and the run's file manifest naming them (docs/server.md, "Blob protocol").

Every route is run-scoped: the caller must reach the run's entity (as for the log upload) and
the run must exist (its first log upload creates it). Blobs are kept once per entity and
address; the server hashes every byte it receives and stores nothing whose hash is not its
address.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fwtrack.server import blob_uploads, manifest
from fwtrack.server.addresses import Digest, address_of, check_address
from fwtrack.server.blobs import BlobStore
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.pack import MAX_ADDRESS_LEN, PackError, PackReader
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_run, reach
from fwtrack.server.routes.run_request import RUN, upload_slot
from fwtrack.server.store.base import Staged, Store
from fwtrack.server.store.presign import MAX_PARTS, presigner

__all__ = ["PACK_MEDIA_TYPE", "router"]

router = APIRouter(responses=ERRORS)

PACK_MEDIA_TYPE = "application/x-fwtrack-blobs"
_BATCH_BYTES = 8 << 20  # verified and stored together
_WRITE_BYTES = 1 << 20  # a streamed blob is hashed and written in pieces of about this

_PACK_BODY = {
    "requestBody": {
        "required": True,
        "content": {PACK_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "description": "Entries back to back: u16 LE address length, the address (ASCII), "
        "u64 LE size, then the bytes. At most 64 MiB.",
    }
}
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_READ_ONLY = error(405, "This server (`fwtrack ui`) serves local runs read-only")
_BUSY = error(429, "Too many uploads at once; retry after Retry-After seconds")


def _listing_error(code: int, description: str, listed: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI of an error answer `{"detail", listed: [addresses]}`."""
    schema = {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            listed: {"type": "array", "items": {"type": "string"}},
        },
        "required": ["detail"],
    }
    return {code: {"description": description, "content": {"application/json": {"schema": schema}}}}


_MISMATCH = _listing_error(
    400,
    "Malformed request, or content that does not match its address "
    "(`refused` lists those addresses; nothing of them was stored)",
    "refused",
)
_MISSING = _listing_error(
    409,
    "A blob the manifest names is not stored (`missing` lists them; send "
    "them and post again), or a path clashes with another file (no `missing`). Nothing "
    "was recorded.",
    "missing",
)

Address = Annotated[str, Field(min_length=1, max_length=MAX_ADDRESS_LEN)]


class MissingIn(BaseModel):
    """Addresses the client is about to reference."""

    model_config = ConfigDict(extra="forbid")
    addresses: list[Address] = Field(max_length=manifest.MAX_ADDRESSES)


class MissingOut(BaseModel):
    missing: list[str] = Field(description="The addresses the entity has not stored")


class StoredOut(BaseModel):
    stored: list[str] = Field(description="The addresses of the pack, all stored now")


class BlobOut(BaseModel):
    address: str
    size: int


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=512)
    address: Address
    size: int = Field(ge=0, le=2**62)


class FilesIn(BaseModel):
    """The run's files: each path names a stored blob."""

    model_config = ConfigDict(extra="forbid")
    files: list[FileIn] = Field(max_length=manifest.MAX_ADDRESSES)


class RecordedOut(BaseModel):
    recorded: int = Field(description="The number of paths recorded")


def _address(value: str) -> str:
    try:
        return check_address(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _writable_run(ctx: AppContext, entity: str, project: str, run_id: str) -> tuple[Project, Run]:
    """The run, which must exist; 405 on `fwtrack ui`. (The caller checked `reach`.)"""
    _store(ctx)
    return find_run(ctx, entity, project, run_id)


def _store(ctx: AppContext) -> Store:
    if not isinstance(ctx.blobs, BlobStore):
        raise ApiError(405, "`fwtrack ui` serves local runs read-only")
    return ctx.blobs.store


def _unavailable(exc: OSError) -> ApiError:
    return ApiError(
        503,
        f"the server could not store the blob ({exc.strerror or exc}); retry later",
        headers={"Retry-After": "5"},
    )


@router.post(
    RUN + "/blobs/missing",
    tags=["blobs"],
    response_model=MissingOut,
    responses={**_READ_ONLY},
)
def blobs_missing(
    entity: str, project: str, run_id: str, body: MissingIn, user: CurrentViewer, ctx: Ctx
) -> MissingOut:
    """Which of `addresses` the run's entity has not stored (at most 10,000). The stored ones
    are touched: they stay for the grace period even if no run references them."""
    reach(user, entity, project, run_id, write=True)
    _writable_run(ctx, entity, project, run_id)
    wanted = list(dict.fromkeys(_address(a) for a in body.addresses))
    present = manifest.touch(ctx.db, entity, wanted)
    return MissingOut(missing=[a for a in wanted if a not in present])


def _verify_and_keep(
    ctx: AppContext, entity: str, entries: list[tuple[str, bytes]]
) -> tuple[list[str], list[str]]:
    """Hash each entry; keep those whose bytes match their address. Returns (stored,
    refused)."""
    good: list[tuple[str, int, bytes | memoryview | Staged]] = []
    refused: list[str] = []
    for address, data in entries:
        if address_of(data, address.partition(":")[0]) == address:
            good.append((address, len(data), data))
        else:
            refused.append(address)
    try:
        manifest.keep(ctx.db, _store(ctx), entity, good)
    except OSError as exc:
        raise _unavailable(exc) from exc
    return [a for a, _, _ in good], refused


@router.post(
    RUN + "/blobs",
    tags=["blobs"],
    response_model=StoredOut,
    openapi_extra=_PACK_BODY,
    responses={**_MISMATCH, **_READ_ONLY, **_BUSY},
)
async def blobs_pack(
    entity: str, project: str, run_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> StoredOut:
    """Store a pack of blobs (body `application/x-fwtrack-blobs`, at most 64 MiB): each
    entry is hashed, and one whose bytes do not match its address is not stored (the answer
    is then 400 with `refused`; the entries that matched are kept)."""
    reach(user, entity, project, run_id, write=True)
    await run_in_threadpool(_writable_run, ctx, entity, project, run_id)
    stored: list[str] = []
    refused: list[str] = []
    async with upload_slot(ctx):
        reader = PackReader()
        batch: list[tuple[str, bytes]] = []
        size = 0
        try:
            async for chunk in request.stream():
                for entry in reader.feed(chunk):
                    batch.append(entry)
                    size += len(entry[1])
                    if size >= _BATCH_BYTES:
                        kept, bad = await run_in_threadpool(_verify_and_keep, ctx, entity, batch)
                        stored += kept
                        refused += bad
                        batch, size = [], 0
            reader.finish()
        except PackError as exc:
            raise ApiError(
                400,
                f"not a blob pack: {exc}",
                extra={"refused": refused} if refused else None,
            ) from None
        if batch:
            kept, bad = await run_in_threadpool(_verify_and_keep, ctx, entity, batch)
            stored += kept
            refused += bad
    if refused:
        raise ApiError(
            400,
            f"content does not match its address: {len(refused)} blob(s) (e.g. {refused[0]}) "
            "were not stored; hint: an address is the hash of the blob's bytes "
            "(blake3:<hex>); hash the file again and resend",
            extra={"refused": refused},
        )
    return StoredOut(stored=list(dict.fromkeys(stored)))


def _write(staged: Staged, digest: Digest, pieces: list[bytes]) -> None:
    for piece in pieces:
        digest.update(piece)
        staged.write(piece)


@router.put(
    RUN + "/blobs/{address}",
    tags=["blobs"],
    response_model=BlobOut,
    openapi_extra=_RAW_BODY,
    responses={**_MISMATCH, **_READ_ONLY, **_BUSY},
)
async def blob_put(
    entity: str,
    project: str,
    run_id: str,
    address: Annotated[str, Path(max_length=MAX_ADDRESS_LEN)],
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> BlobOut:
    """Store one blob of any size, streamed (the client sends blobs over 8 MiB this way):
    hashed while it arrives, and stored only when it matches `address` (400 otherwise,
    nothing kept)."""
    reach(user, entity, project, run_id, write=True)
    address = _address(address)
    await run_in_threadpool(_writable_run, ctx, entity, project, run_id)
    store = _store(ctx)
    async with upload_slot(ctx):
        with store.stage() as staged:
            digest = Digest(address.partition(":")[0])
            pieces: list[bytes] = []
            pending = 0
            async for chunk in request.stream():
                pieces.append(chunk)
                pending += len(chunk)
                if pending >= _WRITE_BYTES:
                    await run_in_threadpool(_write, staged, digest, pieces)
                    pieces, pending = [], 0
            if pieces:
                await run_in_threadpool(_write, staged, digest, pieces)
            actual = digest.address()
            if actual != address:
                raise ApiError(
                    400,
                    f"content does not match its address: the {digest.size} bytes sent hash "
                    f"to {actual}, not {address}; nothing was stored",
                    extra={"refused": [address]},
                )
            size = digest.size
            await run_in_threadpool(staged.seal)  # durable before the row says stored
            try:
                await run_in_threadpool(
                    manifest.keep, ctx.db, store, entity, [(address, size, staged)]
                )
            except OSError as exc:
                raise _unavailable(exc) from exc
    return BlobOut(address=address, size=size)


@router.post(
    RUN + "/files",
    tags=["blobs"],
    response_model=RecordedOut,
    responses={**_MISSING, **_READ_ONLY},
)
def files_record(
    entity: str, project: str, run_id: str, body: FilesIn, user: CurrentViewer, ctx: Ctx
) -> RecordedOut:
    """Record the run's files (at most 10,000 per request): each `path` now names the stored
    blob `address` (a path already recorded is pointed at it). All or nothing: 409 with
    `missing` when a blob is not stored, 409 for a path onto a folder of files or under a
    file."""
    reach(user, entity, project, run_id, write=True)
    files: dict[str, tuple[str, str, int]] = {}
    for item in body.files:
        path = check_file_path(item.path)
        entry = (path, _address(item.address), item.size)
        if files.setdefault(path, entry) != entry:
            raise ApiError(400, f"{path!r} is listed twice with different blobs")
    _, run = _writable_run(ctx, entity, project, run_id)
    return RecordedOut(recorded=manifest.record_files(ctx.db, entity, run.id, list(files.values())))


# -- large blobs straight into the bucket (docs/server.md, "Large blobs") ------------------------


class UploadIn(BaseModel):
    """A blob the client is about to send."""

    model_config = ConfigDict(extra="forbid")
    address: Address
    size: int = Field(ge=0, le=2**62)


class UploadPartOut(BaseModel):
    number: int = Field(description="The part's number (1 upward)")
    size: int = Field(description="Its exact size in bytes")
    url: str = Field(description="Send the part's bytes with PUT here (no Authorization)")


class UploadOut(BaseModel):
    mode: Literal["stored", "server", "presigned"] = Field(
        description="`stored`: the entity has the blob already (touched); `server`: send it "
        "with `PUT .../blobs/{address}`; `presigned`: send the listed parts to their URLs, "
        "then complete"
    )
    upload: str | None = Field(None, description="The upload's id (`presigned`)")
    part_size: int | None = Field(None, description="The size of every part but the last")
    parts: list[UploadPartOut] | None = Field(
        None, description="The parts the bucket does not hold yet, each with its URL"
    )
    expires_in: int | None = Field(None, description="Seconds the URLs work")


class CompletePartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(min_length=1, max_length=200)


class CompleteIn(BaseModel):
    """The parts the client sent (the bucket's own list decides; these must agree with it)."""

    model_config = ConfigDict(extra="forbid")
    parts: list[CompletePartIn] = Field(default_factory=list, max_length=MAX_PARTS)


_NO_UPLOAD = error(404, "No such upload under way (completed, refused or aborted): ask again")
_PARTS_MISSING = _listing_error(
    409,
    "The bucket does not hold every part (`missing_parts` lists them): ask again and send them",
    "missing_parts",
)


@router.post(
    RUN + "/blobs/uploads",
    tags=["blobs"],
    response_model=UploadOut,
    response_model_exclude_none=True,
    responses={**_READ_ONLY},
)
def blob_upload_begin(
    entity: str, project: str, run_id: str, body: UploadIn, user: CurrentViewer, ctx: Ctx
) -> UploadOut:
    """How to send one large blob. On a store that signs URLs (S3-compatible) and a blob over
    the server's `--presign-threshold`: one multipart upload per entity and address (a second
    caller, or the same one resuming, gets the same upload), with a presigned URL for each
    part the bucket does not hold yet; the client `PUT`s the parts there, then posts
    `.../blobs/uploads/{upload}/complete`. Asking again resumes (or renews expired URLs)."""
    reach(user, entity, project, run_id, write=True)
    address = _address(body.address)
    store = _store(ctx)
    _writable_run(ctx, entity, project, run_id)
    try:
        planned = blob_uploads.begin(
            ctx.db, presigner(store), entity, address, body.size, ctx.config.presign_threshold
        )
    except OSError as exc:
        raise _unavailable(exc) from exc
    return UploadOut(
        mode=planned.mode,  # type: ignore[arg-type]
        upload=planned.upload,
        part_size=planned.part_size,
        parts=None if planned.parts is None else [UploadPartOut(**part) for part in planned.parts],
        expires_in=planned.expires_in,
    )


@router.post(
    RUN + "/blobs/uploads/{upload}/complete",
    tags=["blobs"],
    response_model=BlobOut,
    responses={**_MISMATCH, **_NO_UPLOAD, **_PARTS_MISSING, **_READ_ONLY, **_BUSY},
)
async def blob_upload_complete(
    entity: str,
    project: str,
    run_id: str,
    upload: Annotated[str, Path(min_length=1, max_length=64)],
    body: CompleteIn,
    user: CurrentViewer,
    ctx: Ctx,
) -> BlobOut:
    """Join the parts into the blob and verify it: the server reads the object back and
    hashes it; only bytes that hash to the address are kept (400 with `refused` otherwise:
    the object and the upload are removed, nothing is stored)."""
    reach(user, entity, project, run_id, write=True)
    await run_in_threadpool(_writable_run, ctx, entity, project, run_id)
    signer = presigner(_store(ctx))
    if signer is None:
        raise ApiError(404, "this server's store takes no presigned uploads; use PUT")
    named = [(p.number, p.etag) for p in body.parts]
    async with upload_slot(ctx):
        try:
            address, size = await run_in_threadpool(
                blob_uploads.complete, ctx.db, signer, entity, upload, named
            )
        except OSError as exc:
            raise _unavailable(exc) from exc
    return BlobOut(address=address, size=size)
