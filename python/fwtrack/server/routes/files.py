"""Run files: the list, one file's bytes, storing one, and the run's environment snapshot.

They are read through `fwtrack.server.blobs` (`RunFiles`): an uploaded run's from the store,
through its manifest; a local run's (`fwtrack ui`) from its own `files/` folder."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from fwtrack.run_files import merge_metadata
from fwtrack.server import manifest
from fwtrack.server.addresses import address_of
from fwtrack.server.blobs import BlobStore, StoredFile
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_run, reach
from fwtrack.server.routes.run_request import OCTET_BODY, RUN, parse_range
from fwtrack.server.store.base import BlobKey
from fwtrack.server.store.presign import GET_EXPIRES, presigner

__all__ = ["FILE_RESPONSES", "router", "serve_file"]

router = APIRouter(responses=ERRORS)


@router.get(RUN + "/files", tags=["files"])
def files_list(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """`{"files": [{"path", "size", "address"}]}`, sorted by path (`address` is the file's
    content address; null in `fwtrack ui`, which reads local runs in place)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    # fwtrack ui: symbolic links (a file, a folder, `files/` itself) are left out.
    return JsonResponse({"files": ctx.blobs.files(proj, run).list()})


_CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "html": "text/html",
    "htm": "text/html",
    "json": "application/json",
    "csv": "text/csv",
    **dict.fromkeys(
        ("txt", "log", "patch", "diff", "py", "md", "yaml", "yml", "toml", "cfg", "ini"),
        "text/plain",
    ),
}
_MEDIA_PAYLOAD = re.compile(r"^media/([0-9a-f]{64})\.[a-z0-9.]+$")
_IMMUTABLE = "private, max-age=31536000, immutable"
# A run file is the uploader's content: an HTML payload (or SVG) runs sandboxed, in an origin
# of its own, never as the dashboard's.
# (nosniff comes with every answer: SecurityHeadersMiddleware.)
_FILE_HEADERS = {"Content-Security-Policy": "sandbox allow-scripts"}


def _content_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(".table.json"):
        return "application/json"
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return _CONTENT_TYPES.get(ext, "application/octet-stream")


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"*/*": {}}},
    206: {"description": "The one range asked for (`Range: bytes=a-b`)"},
    304: {"description": "Not modified (`If-None-Match` matched the ETag)"},
    307: {
        "description": "A large file on a store that signs URLs: fetch it from the "
        "presigned URL in `Location` (without this server's Authorization header)"
    },
    416: {"description": "The range starts past the end of the file"},
}
"""The `responses` of a route answering a stored file (`serve_file`)."""


@router.get(
    RUN + "/files/{path:path}",
    tags=["files"],
    responses=FILE_RESPONSES,
)
def file_download(
    entity: str,
    project: str,
    run_id: str,
    path: str,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> Response:
    """Download one run file, with a Content-Type from its extension. Its ETag is its content
    address; media payloads (`media/<hex>.<ext>`, content-addressed by name) are cacheable
    for good, other files are revalidated (`no-cache`). A file over the server's
    `--presign-threshold` on an S3-compatible store is answered `307` to a presigned URL of
    the bucket (15 minutes, with the same Content-Type), so its bytes do not pass through
    the server."""
    reach(user, entity, project, run_id)
    check_file_path(path)
    proj, run = find_run(ctx, entity, project, run_id)
    stored = ctx.blobs.files(proj, run).get(path)
    payload = _MEDIA_PAYLOAD.match(path)
    etag = None
    if stored.address is None and payload is not None:  # fwtrack ui: named by its hash
        etag = f'"{payload.group(1)}"'
    return serve_file(ctx, request, proj.entity, stored, immutable=payload is not None, etag=etag)


def serve_file(
    ctx: Ctx,
    request: Request,
    entity: str,
    stored: StoredFile,
    *,
    immutable: bool,
    etag: str | None = None,
) -> Response:
    """The answer for one stored file of `entity` (a run file, an artifact's file): the
    Content-Type from its path's extension, the sandbox policy, its content address as ETag
    (else `etag`), cached for good when `immutable` (else revalidated), `304` for a matching
    `If-None-Match`, one `Range`, and `307` to a presigned URL for a blob over the threshold
    on a store that signs."""
    headers = dict(_FILE_HEADERS)
    headers["Cache-Control"] = _IMMUTABLE if immutable else "private, no-cache"
    if stored.address is not None:
        headers["ETag"] = f'"{stored.address}"'
    elif etag is not None:
        headers["ETag"] = etag
    media_type = _content_type(stored.path)
    redirect = _presigned(ctx, entity, stored, media_type)
    if redirect is not None:
        response: Response = RedirectResponse(
            redirect,
            307,
            headers={"ETag": headers.get("ETag", ""), "Cache-Control": "private, no-store"},
        )
    elif stored.local is not None:
        try:
            st = os.stat(stored.local)
        except FileNotFoundError:
            raise ApiError(404, f"the file {stored.path!r} is missing from the store") from None
        response = FileResponse(
            stored.local, media_type=media_type, headers=headers, stat_result=st
        )
    else:
        response = _streamed(stored, media_type, headers, request)
    tags = request.headers.get("if-none-match")
    etag = response.headers.get("etag")
    if tags and (
        tags.strip() == "*"
        or (etag is not None and etag in {t.strip().removeprefix("W/") for t in tags.split(",")})
    ):
        keep = ("etag", "cache-control", "last-modified")
        return Response(
            status_code=304, headers={k: v for k, v in response.headers.items() if k in keep}
        )
    return response


_ACTIVE = ("text/html", "image/svg+xml")  # content that runs in the origin serving it


def _presigned(ctx: Ctx, entity: str, stored: StoredFile, media_type: str) -> str | None:
    """A presigned URL of the file's blob when it is over the threshold on a store that
    signs (else None). HTML and SVG come as attachments: the bucket's origin sends no
    sandbox policy."""
    if stored.address is None or stored.size <= ctx.config.presign_threshold:
        return None
    if not isinstance(ctx.blobs, BlobStore):
        return None
    signer = presigner(ctx.blobs.store)
    if signer is None:
        return None
    key = signer.object_key(BlobKey(entity, stored.address))
    disposition = "attachment" if media_type in _ACTIVE else None
    return signer.presign_get(key, GET_EXPIRES, media_type, disposition)


def _streamed(
    stored: StoredFile, media_type: str, headers: dict[str, str], request: Request
) -> Response:
    """A file without a local copy (the S3 store), streamed from `open()`, answering a single
    `Range: bytes=a-b` with 206 (416 when it starts past the end) as `FileResponse` does for a
    local file. A range of another form, or an `If-Range` that no longer matches, gets the
    whole file."""
    size = stored.size
    start, end, status = 0, size, 200
    headers["Accept-Ranges"] = "bytes"
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and (if_range is None or if_range.strip() == headers.get("ETag")):
        try:
            span = parse_range(wanted, size)
        except ApiError:
            span = (0, size)  # several ranges, another unit: the whole file (RFC 9110 14.2)
        else:
            if span is None:
                return Response(
                    status_code=416,
                    headers={**headers, "Content-Range": f"bytes */{size}"},
                )
            start, end = span
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        _chunks(stored, start, end), status_code=status, media_type=media_type, headers=headers
    )


def _chunks(stored: StoredFile, start: int, end: int) -> Iterator[bytes]:
    """Bytes `[start, end)` of the file, in chunks of up to 1 MiB."""
    with stored.open() as fh:
        skip = start
        while skip > 0:
            dropped = fh.read(min(skip, 1 << 20))
            if not dropped:
                return
            skip -= len(dropped)
        left = end - start
        while left > 0 and (chunk := fh.read(min(left, 1 << 20))):
            left -= len(chunk)
            yield chunk


def _check_name(path: str, address: str, body: bytes) -> None:
    """A media payload (`media/<hex>.<ext>`) is served as immutable under its name: refuse
    bytes that do not hash to it (400), so content never changes under a name. The hex is
    BLAKE3 (new clients) or SHA-256 (older ones)."""
    payload = _MEDIA_PAYLOAD.match(path)
    if payload is None:
        return
    named = payload.group(1)
    if address.partition(":")[2] == named or hashlib.sha256(body).hexdigest() == named:
        return
    raise ApiError(
        400,
        f"content does not match its address: {path!r} names {named}, the {len(body)} bytes "
        f"sent hash to {address}; hint: a media payload is stored as media/<hash of its "
        "bytes>.<ext> and never replaced by other bytes",
    )


@router.put(
    RUN + "/files/{path:path}",
    tags=["files"],
    openapi_extra=OCTET_BODY,
    responses={
        **error(405, "This server (`fwtrack ui`) serves local runs read-only"),
        **error(409, "A file or folder of the run is in the way of this path"),
    },
)
async def file_upload(
    entity: str,
    project: str,
    run_id: str,
    path: str,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """Store one run file (replacing it): `{"path", "size"}`. The body is kept as a
    blob of the run's entity and `path` names it in the run's manifest. A media payload
    (`media/<hex>.<ext>`) must hash to its name (400 otherwise); a path onto a folder of files
    or under a file is a 409."""
    reach(user, entity, project, run_id, write=True)
    check_file_path(path)
    if not isinstance(ctx.blobs, BlobStore):
        raise ApiError(405, "`fwtrack ui` serves local runs read-only")
    store = ctx.blobs.store
    body = await request.body()

    def keep() -> None:
        _, run = find_run(ctx, entity, project, run_id)
        address = address_of(body)
        _check_name(path, address, body)
        try:
            manifest.keep(ctx.db, store, entity, [(address, len(body), body)])
        except OSError as exc:
            raise ApiError(
                503,
                f"the server could not store the file ({exc.strerror or exc}); retry later",
                headers={"Retry-After": "5"},
            ) from exc
        manifest.record_files(ctx.db, entity, run.id, [(path, address, len(body))])

    await run_in_threadpool(keep)
    return JsonResponse({"path": path, "size": len(body)})


# -- environment snapshot --------------------------------------------------------------------


@router.get(RUN + "/metadata", tags=["files"])
def metadata(entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """The run's environment: its start info (host, program, python, ...) with the keys of
    the snapshot `files/metadata.json` (git, command line, OS, CPU, GPUs, ...) it lacks, as
    `run.metadata` gives it; `{}` when neither exists."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    try:
        raw: bytes | None = ctx.blobs.files(proj, run).get("metadata.json").read()
    except (ApiError, OSError):  # none (fwtrack ui: a symbolic link is none either)
        raw = None
    start = dict(run.meta or {})
    return JsonResponse(json_safe(merge_metadata(start, raw)))
