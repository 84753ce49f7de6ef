"""The run-log upload (idempotent by offset), the stored size, and the stored log's bytes."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from fwtrack.server import core, webhooks
from fwtrack.server.auth import entity_exists
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run
from fwtrack.server.errors import ApiError
from fwtrack.server.ingest import get_or_create_project, ingest, stored_offset
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_run, reach
from fwtrack.server.routes.run_request import OCTET_BODY, RUN, parse_range, upload_slot
from fwtrack.server.store.directory import read_range

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


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
    if result.alerts:
        webhooks.wake(ctx)  # the run.alert deliveries go now
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
    openapi_extra=OCTET_BODY,
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
    reach(user, entity, project, run_id, write=True)
    async with upload_slot(ctx):
        body = await request.body()
        response: JsonResponse = await run_in_threadpool(
            _upload, ctx, entity, project, run_id, offset, body
        )
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
    log = ctx.blobs.current(proj, run).stored_log()  # never a symbolic link
    try:
        actual = log.stat().st_size
    except FileNotFoundError:
        actual = 0
    size = actual if ctx.blobs.in_place else min(actual, run.log_size)
    headers = {"Accept-Ranges": "bytes"}
    start, end, status = 0, size, 200
    range_header = request.headers.get("range")
    if range_header:
        span = parse_range(range_header, size)
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
        read_range(log, start, end) if end > start else iter(()),
        status_code=status,
        media_type="application/octet-stream",
        headers=headers,
    )
