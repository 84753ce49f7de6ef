"""Run files: the list, one file's bytes, storing one, and the run's environment snapshot."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from fwtrack.run_files import merge_metadata
from fwtrack.server.blobs import write_atomic
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_run, reach
from fwtrack.server.routes.run_request import OCTET_BODY, RUN, run_paths

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


@router.get(RUN + "/files", tags=["files"])
def files_list(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """`{"files": [{"path", "size"}]}`, sorted by path."""
    reach(user, entity, project, run_id)
    proj, _ = find_run(ctx, entity, project, run_id)
    # Symbolic links (a file, a folder, `files/` itself) are left out, wherever they lead.
    return JsonResponse({"files": ctx.blobs.paths(proj.id, proj.name, run_id).list_files()})


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


@router.get(
    RUN + "/files/{path:path}",
    tags=["files"],
    responses={
        200: {"content": {"*/*": {}}},
        304: {"description": "Not modified (`If-None-Match` matched the ETag)"},
    },
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
    """Download one run file, with a Content-Type from its extension. Media payloads
    (`media/<sha256>.<ext>`, content-addressed) carry the sha256 as ETag and are cacheable
    for good; other files are revalidated (`no-cache`)."""
    reach(user, entity, project, run_id)
    check_file_path(path)
    proj, _ = find_run(ctx, entity, project, run_id)
    target = ctx.blobs.paths(proj.id, proj.name, run_id).file(path)
    if not target.is_file():
        raise ApiError(404, f"run {run_id!r} has no file {path!r}; GET .../files lists them")
    headers = dict(_FILE_HEADERS)
    payload = _MEDIA_PAYLOAD.match(path)
    if payload is not None:
        headers["ETag"] = f'"{payload.group(1)}"'
        headers["Cache-Control"] = "private, max-age=31536000, immutable"
    else:
        headers["Cache-Control"] = "private, no-cache"
    response = FileResponse(
        target, media_type=_content_type(path), headers=headers, stat_result=target.stat()
    )
    tags = request.headers.get("if-none-match")
    if tags and (
        tags.strip() == "*"
        or response.headers["etag"] in {t.strip().removeprefix("W/") for t in tags.split(",")}
    ):
        keep = ("etag", "cache-control", "last-modified")
        return Response(
            status_code=304, headers={k: v for k, v in response.headers.items() if k in keep}
        )
    return response


def _file_clash(files: Path, path: str) -> str | None:
    """Why run file `path` cannot be stored under `files`: a folder on its way is a file, or
    `path` is a folder of other files; None when it can be."""
    parts = path.split("/")
    here = files
    for i, part in enumerate(parts[:-1]):
        here = here / part
        if here.exists() and not here.is_dir():
            return (
                f"run file {'/'.join(parts[: i + 1])!r} exists, so {path!r} cannot be stored "
                "under it; hint: upload it under another name"
            )
    target = here / parts[-1]
    if target.is_dir():
        inside = sorted(p.name for p in target.iterdir() if not p.name.startswith("."))
        example = f" (it holds {path}/{inside[0]!s})" if inside else ""
        return (
            f"{path!r} is a folder of run files{example}, so a file cannot take its name; "
            "hint: upload it under another name"
        )
    return None


def _check_address(path: str, body: bytes) -> None:
    """A media payload (`media/<sha256>.<ext>`) is served as immutable under its sha256: refuse
    bytes that do not hash to it (400), so stored content never changes under its address."""
    payload = _MEDIA_PAYLOAD.match(path)
    if payload is None:
        return
    digest = hashlib.sha256(body).hexdigest()
    if digest != payload.group(1):
        raise ApiError(
            400,
            f"content does not match its address: {path!r} names sha256 {payload.group(1)}, "
            f"the {len(body)} bytes sent have sha256 {digest}; hint: a media payload is "
            "stored as media/<sha256 of its bytes>.<ext> and never replaced by other bytes",
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
    """Store one run file (replacing it): `{"path", "size"}`. A media payload
    (`media/<sha256>.<ext>`) must hash to its name (400 otherwise); a path onto a folder of
    files or under a file is a 409."""
    reach(user, entity, project, run_id)
    check_file_path(path)
    if ctx.blobs.in_place:
        raise ApiError(405, "`fwtrack ui` serves local runs read-only")
    body = await request.body()

    def store() -> None:
        proj, _ = find_run(ctx, entity, project, run_id)
        _check_address(path, body)
        paths = ctx.blobs.paths(proj.id, proj.name, run_id)
        target = paths.file(path)
        clash = _file_clash(paths.files, path)
        if clash is not None:
            raise ApiError(409, clash)
        try:
            write_atomic(target, body)
        except (IsADirectoryError, NotADirectoryError, FileExistsError):
            # another upload made the clash meanwhile
            clash = _file_clash(paths.files, path) or f"{path!r} is in the way; retry"
            raise ApiError(409, clash) from None

    await run_in_threadpool(store)
    return JsonResponse({"path": path, "size": len(body)})


# -- environment snapshot --------------------------------------------------------------------


@router.get(RUN + "/metadata", tags=["files"])
def metadata(entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """The run's environment: its start info (host, program, python, ...) with the keys of
    the snapshot `files/metadata.json` (git, command line, OS, CPU, GPUs, ...) it lacks, as
    `run.metadata` gives it; `{}` when neither exists."""
    start, paths = run_paths(ctx, user, entity, project, run_id)
    try:
        snap = paths.file("metadata.json")  # never through a symbolic link
        raw: bytes | None = snap.read_bytes() if os.path.isfile(snap) else None
    except (ApiError, OSError):
        raw = None
    return JsonResponse(json_safe(merge_metadata(start, raw)))
