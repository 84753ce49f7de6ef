"""Runs: listing, detail, edit, delete, upload, log download, history, histograms, files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fwtrack import _core
from fwtrack.server import core
from fwtrack.server.auth import Viewer, entity_exists
from fwtrack.server.blobs import write_atomic
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run, now
from fwtrack.server.errors import ApiError, check_file_path, check_run_id
from fwtrack.server.ingest import delete_run, get_or_create_project, ingest, stored_offset
from fwtrack.server.jsonutil import JsonResponse, json_safe, series_list
from fwtrack.server.queries import RunQuery, list_runs, run_json
from fwtrack.server.routes.deps import (
    ERRORS,
    Ctx,
    CurrentViewer,
    error,
    find_project,
    find_run,
    reach,
)

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

RUN = "/runs/{entity}/{project}/{run_id}"
MAX_KEYS = 1000
MAX_KEY_LEN = 256
MAX_RUNS_PER_HISTORY = 100
MAX_IDS = 1000
_CHUNK = 1 << 20
LOG_HEADER_LEN = 16
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

_OCTET_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class RunPatchIn(BaseModel):
    """Fields a user may edit; the log no longer overrides an edited field."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    tags: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=256
    )
    notes: str | None = Field(default=None, max_length=65536)


class MultiHistoryIn(BaseModel):
    """Many runs' series in one request."""

    model_config = ConfigDict(extra="forbid")
    runs: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]] = Field(
        min_length=1, max_length=MAX_RUNS_PER_HISTORY
    )
    keys: list[Annotated[str, Field(min_length=1, max_length=MAX_KEY_LEN)]] | None = Field(
        default=None, max_length=MAX_KEYS
    )
    samples: int = Field(default=1000, ge=0, le=1_000_000)
    min_step: float | None = None
    max_step: float | None = None


# -- listing and detail ----------------------------------------------------------------------


@router.get("/runs/{entity}/{project}", tags=["runs"])
def runs_list(
    entity: str,
    project: str,
    user: CurrentViewer,
    ctx: Ctx,
    filter: Annotated[str, Query(max_length=4096)] = "",
    search: Annotated[str, Query(max_length=256)] = "",
    sort: Annotated[str, Query(max_length=300)] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ids: Annotated[str, Query(max_length=66000)] = "",
) -> JsonResponse:
    """Runs of a project: `{"runs": [...], "total"}` (see docs/server.md, "Runs list");
    `ids=a,b,c` keeps only those runs (the dashboard's comparison and selection)."""
    reach(user, entity, project)
    wanted = tuple(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if len(wanted) > MAX_IDS:
        raise ApiError(400, f"ids: at most {MAX_IDS} run ids, got {len(wanted)}")
    for run_id in wanted:
        check_run_id(run_id)
    proj = find_project(ctx, entity, project)
    query = RunQuery(
        filter=filter, search=search, sort=sort, limit=limit, offset=offset, ids=wanted
    )
    with ctx.db.read() as session:
        rows, total = list_runs(session, proj, query, ctx.db.dialect, ctx.stale_after)
    return JsonResponse(
        {"runs": [run_json(r, proj, ctx.stale_after) for r in rows], "total": total}
    )


@router.get(RUN, tags=["runs"])
def run_detail(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One run object."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    return JsonResponse(run_json(run, proj, ctx.stale_after))


@router.patch(RUN, tags=["runs"])
def run_edit(
    entity: str, project: str, run_id: str, body: RunPatchIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Edit a run's name, tags or notes."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ApiError(400, "name cannot be null; send a string of 1-256 characters")
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    with ctx.db.write() as session:
        row = session.get(Run, run.id)
        if row is None:
            raise ApiError(404, f"no run {run_id!r} in project {entity}/{project}")
        for field, value in changes.items():
            setattr(row, field, json_safe(value))
        row.edited = sorted({*(row.edited or []), *changes})
        row.updated_at = now()
        session.flush()
        out = run_json(row, proj, ctx.stale_after)
    return JsonResponse(out)


@router.delete(RUN, tags=["runs"], responses=error(409, "The local run is still being written"))
def run_delete(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Delete a run: its row and everything stored for it."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    paths = ctx.blobs.paths(proj.id, proj.name, run_id)
    if ctx.blobs.in_place and paths.run_dir.exists() and _core.is_locked(str(paths.run_dir)):
        raise ApiError(409, f"run {run_id!r} is still being written; finish it first")
    delete_run(ctx.db, ctx.blobs, proj, run)
    return JsonResponse({"id": run_id, "deleted": True})


# -- upload and log download -----------------------------------------------------------------


def _upload(
    ctx: AppContext, entity: str, project: str, run_id: str, offset: int, body: bytes
) -> JsonResponse:
    if ctx.blobs.in_place:
        raise ApiError(405, "`fwtrack ui` indexes local runs in place and accepts no uploads")
    with ctx.db.read() as session:
        exists = session.scalar(
            sa.select(Project.id).where(Project.entity == entity, Project.name == project)
        )
        if exists is None and not entity_exists(session, entity):
            raise ApiError(
                404,
                f"no user or team named {entity!r}; hint: an admin creates it with "
                "POST /api/v1/users or POST /api/v1/teams",
            )
        known = (
            exists is not None
            and session.scalar(
                sa.select(Run.id).where(Run.project_id == exists, Run.run_id == run_id)
            )
            is not None
        )
    if not known:
        # A new run: check the bytes before creating anything, so a refused first upload
        # leaves no project or run behind.
        if offset > 0:
            return JsonResponse(
                {
                    "detail": f"offset {offset} is past the stored end 0; resend from offset 0",
                    "offset": 0,
                },
                409,
            )
        if body:
            try:
                core.validate_frames(body, True)
            except ValueError as exc:
                raise ApiError(
                    400,
                    f"bytes from offset 0 are not a run-log header and whole frames: {exc}; "
                    "hint: send the log from its start, in whole frames",
                ) from exc
    proj = get_or_create_project(ctx.db, entity, project)
    result = ingest(ctx.db, ctx.blobs, proj, run_id, offset, body)
    if result.status == 409:
        return JsonResponse(
            {
                "detail": f"offset {offset} is past the stored end {result.offset}; "
                f"resend from offset {result.offset}",
                "offset": result.offset,
            },
            409,
        )
    return JsonResponse({"offset": result.offset})


@router.post(
    RUN + "/log",
    tags=["upload"],
    openapi_extra=_OCTET_BODY,
    responses={
        **error(409, "The offset is past the stored end: resend from `offset`"),
        **error(405, "This server (`fwtrack ui`) accepts no uploads"),
        **error(429, "Too many uploads at once; retry after Retry-After seconds"),
    },
)
async def log_upload(
    entity: str,
    project: str,
    run_id: str,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=2**62)],
) -> JsonResponse:
    """Append bytes `[offset, offset+len)` of the client's run log (idempotent by offset).

    200 `{"offset": S}` stored up to S; 409 `{"offset": S}` resend from S; 400 not whole
    frames; 413 too large. An empty body is a heartbeat.
    """
    reach(user, entity, project, run_id)
    if ctx.uploads_in_flight >= ctx.config.max_concurrent_uploads:
        raise ApiError(
            429,
            f"the server is handling {ctx.uploads_in_flight} uploads; retry after 1 s",
            headers={"Retry-After": "1"},
        )
    ctx.uploads_in_flight += 1
    try:
        body = await request.body()
        response: JsonResponse = await run_in_threadpool(
            _upload, ctx, entity, project, run_id, offset, body
        )
    finally:
        ctx.uploads_in_flight -= 1
    return response


@router.get(RUN + "/log/offset", tags=["upload"])
def log_offset(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The stored size of the run's log (0 for a run not uploaded yet)."""
    reach(user, entity, project, run_id)
    with ctx.db.read() as session:
        row = session.execute(
            sa.select(Project, Run)
            .join(Run, Run.project_id == Project.id)
            .where(Project.entity == entity, Project.name == project, Run.run_id == run_id)
        ).one_or_none()
    if row is None:
        return JsonResponse({"offset": 0})
    return JsonResponse({"offset": stored_offset(ctx.db, ctx.blobs, row[0], row[1])})


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`(start, end_exclusive)` of a single `bytes=` range; None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        raise ApiError(400, f"unsupported Range {header[:80]!r}: use 'bytes=<start>-[<end>]'")
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return None
    return start, end


def _stream(path: str, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


@router.get(
    RUN + "/log",
    tags=["upload"],
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The requested range", "content": {"application/octet-stream": {}}},
        **error(416, "The range starts past the end of the log"),
    },
)
def log_download(
    entity: str, project: str, run_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> Response:
    """The stored run log bytes (whole frames as acknowledged); supports `Range: bytes=a-b`."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    log = ctx.blobs.paths(proj.id, proj.name, run_id).stored_log()  # never a symbolic link
    try:
        actual = log.stat().st_size
    except FileNotFoundError:
        actual = 0
    size = actual if ctx.blobs.in_place else min(actual, run.log_size)
    headers = {"Accept-Ranges": "bytes"}
    start, end, status = 0, size, 200
    range_header = request.headers.get("range")
    if range_header:
        span = _parse_range(range_header, size)
        if span is None:
            return JsonResponse(
                {"detail": f"range not satisfiable: the log has {size} bytes"},
                416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        _stream(str(log), start, end) if end > start else iter(()),
        status_code=status,
        media_type="application/octet-stream",
        headers=headers,
    )


# -- history and histograms ------------------------------------------------------------------


def _series_json(series: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    out: dict[str, Any] = {}
    downsampled = False
    for key, columns in series.items():
        item = {
            "step": series_list(columns["step"], integral=True),
            "value": series_list(columns["value"]),
            "timestamp": series_list(columns["timestamp"]),
        }
        if "min" in columns and "max" in columns:
            downsampled = True
            item["min"] = series_list(columns["min"])
            item["max"] = series_list(columns["max"])
        out[key] = item
    return out, downsampled


def keys_arg(keys: str | None) -> list[str] | None:
    """The `keys` query parameter (comma-separated) as a list; None when absent or empty."""
    if keys is None or not keys.strip():
        return None
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    if len(wanted) > MAX_KEYS or any(len(k) > MAX_KEY_LEN for k in wanted):
        raise ApiError(400, f"keys: at most {MAX_KEYS} keys of at most {MAX_KEY_LEN} characters")
    return wanted


def _check_steps(min_step: float | None, max_step: float | None) -> None:
    for name, value in (("min_step", min_step), ("max_step", max_step)):
        if value is not None and value != value:
            raise ApiError(400, f"{name} must be a number, got NaN")


@router.get(RUN + "/history", tags=["history"])
def history(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    keys: Annotated[str | None, Query(max_length=65536)] = None,
    samples: Annotated[int, Query(ge=0, le=1_000_000)] = 1000,
    min_step: float | None = None,
    max_step: float | None = None,
) -> JsonResponse:
    """Metric series, min/max-preserving downsampled to about `samples` points (0 = all)."""
    reach(user, entity, project, run_id)
    _check_steps(min_step, max_step)
    wanted = keys_arg(keys)
    proj, _ = find_run(ctx, entity, project, run_id)
    paths = ctx.blobs.paths(proj.id, proj.name, run_id)
    series = core.read_series(str(paths.index), wanted, samples, min_step, max_step)
    out, downsampled = _series_json(series)
    return JsonResponse({"run": run_id, "series": out, "downsampled": downsampled})


@router.post("/history/{entity}/{project}", tags=["history"])
def history_many(
    entity: str, project: str, body: MultiHistoryIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Series of several runs of one project: `{"runs": [{"run", "series", "downsampled"}],
    "missing": [run ids not found]}`."""
    reach(user, entity, project)
    _check_steps(body.min_step, body.max_step)
    proj = find_project(ctx, entity, project)
    with ctx.db.read() as session:
        found = set(
            session.scalars(
                sa.select(Run.run_id).where(Run.project_id == proj.id, Run.run_id.in_(body.runs))
            )
        )
    results = []
    for run_id in dict.fromkeys(body.runs):
        if run_id not in found:
            continue
        paths = ctx.blobs.paths(proj.id, proj.name, run_id)
        series = core.read_series(
            str(paths.index), body.keys, body.samples, body.min_step, body.max_step
        )
        out, downsampled = _series_json(series)
        results.append({"run": run_id, "series": out, "downsampled": downsampled})
    missing = [r for r in dict.fromkeys(body.runs) if r not in found]
    return JsonResponse({"runs": results, "missing": missing})


def _stored_reader(
    ctx: AppContext, user: Viewer, entity: str, project: str, run_id: str
) -> _core.RunReader | None:
    """A reader of the run's stored log, or None while the log holds no record yet (404 for
    an unknown or unreachable run, 409 for a log that cannot be read)."""
    reach(user, entity, project, run_id)
    proj, _ = find_run(ctx, entity, project, run_id)
    log = ctx.blobs.paths(proj.id, proj.name, run_id).stored_log()  # never a symbolic link
    try:
        empty = log.stat().st_size <= LOG_HEADER_LEN
    except FileNotFoundError:
        empty = True
    if empty:
        return None
    try:
        return _core.RunReader(str(log))
    except _core.CorruptLogError as exc:
        raise ApiError(409, f"the stored log cannot be read: {exc}") from exc


@router.get(
    RUN + "/histograms",
    tags=["history"],
    responses=error(409, "The run log cannot be read"),
)
def histograms(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    key: Annotated[str, Query(min_length=1, max_length=MAX_KEY_LEN)],
) -> JsonResponse:
    """Every histogram logged under `key`: `{"key", "steps", "edges", "counts", "nan",
    "pos_inf", "neg_inf"}` with one entry per step."""
    reader = _stored_reader(ctx, user, entity, project, run_id)
    if reader is None:
        raise ApiError(404, f"run {run_id!r} has no histograms under {key!r}")
    available = reader.histogram_keys()
    if key not in available:
        names = ", ".join(repr(k) for k in available[:20]) or "none"
        raise ApiError(404, f"run {run_id!r} has no histograms under {key!r}; it has: {names}")
    entries = reader.histograms(key)
    return JsonResponse(
        json_safe(
            {
                "key": key,
                "steps": [int(step) for step, _ in entries],
                "edges": [h.edges.tolist() for _, h in entries],
                "counts": [h.counts.tolist() for _, h in entries],
                "nan": [h.nan_count for _, h in entries],
                "pos_inf": [h.pos_inf_count for _, h in entries],
                "neg_inf": [h.neg_inf_count for _, h in entries],
            }
        )
    )


@router.get(
    RUN + "/histograms/keys",
    tags=["history"],
    responses=error(409, "The run log cannot be read"),
)
def histogram_keys(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The keys the run logged histograms under, sorted: `{"keys": [...]}`."""
    reader = _stored_reader(ctx, user, entity, project, run_id)
    if reader is None:
        return JsonResponse({"keys": []})
    return JsonResponse(json_safe({"keys": sorted(reader.histogram_keys())}))


# -- files -----------------------------------------------------------------------------------


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
    openapi_extra=_OCTET_BODY,
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
