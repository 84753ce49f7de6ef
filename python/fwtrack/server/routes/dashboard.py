"""What the dashboard needs beside runs and history: a project's saved layout and the config
and summary fields of its runs (for the column picker)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from fwtrack.server.context import AppContext
from fwtrack.server.db import Workspace, now
from fwtrack.server.errors import ApiError
from fwtrack.server.fields import keys_of_project
from fwtrack.server.jsonutil import MAX_JSON_DEPTH, JsonDepthError, loads_bounded
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_project, reach

__all__ = ["MAX_WORKSPACE_BYTES", "router"]

router = APIRouter(responses=ERRORS)

MAX_WORKSPACE_BYTES = 256 * 1024
"""Largest saved layout (the JSON text of `PUT .../workspace`)."""

_WORKSPACE = "/projects/{entity}/{project}/workspace"

_OBJECT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


class FieldsOut(BaseModel):
    config: list[str]
    summary: list[str]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON; send null or a string instead")


def _parse_layout(body: bytes) -> str:
    """The layout text as sent, once it is checked to be a JSON object within the limit."""
    if len(body) > MAX_WORKSPACE_BYTES:
        raise ApiError(
            413,
            f"workspace layout is {len(body)} bytes, over the {MAX_WORKSPACE_BYTES}-byte limit; "
            "hint: keep panels and settings in it, not data",
        )
    try:
        text = body.decode("utf-8")
        value = loads_bounded(text, parse_constant=_reject_constant)
    except JsonDepthError as exc:
        raise ApiError(
            400,
            f"workspace layout is nested deeper than {MAX_JSON_DEPTH} levels of objects and "
            "arrays (the limit); hint: keep panels and settings in it, not deep data",
        ) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"workspace layout is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, f"workspace layout must be a JSON object, got {type(value).__name__}")
    return text


@router.get(
    _WORKSPACE,
    tags=["dashboard"],
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def workspace_get(entity: str, project: str, user: CurrentViewer, ctx: Ctx) -> Response:
    """The project's saved dashboard layout, exactly as stored (`{}` when none was saved)."""
    reach(user, entity, project)
    proj = find_project(ctx, entity, project)
    with ctx.db.read() as session:
        layout = session.scalar(sa.select(Workspace.layout).where(Workspace.project_id == proj.id))
    return Response(
        layout if layout is not None else "{}",
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _store_layout(ctx: AppContext, project_id: int, text: str, by: str) -> None:
    for _ in range(3):
        try:
            with ctx.db.write() as session:
                row = session.get(Workspace, project_id)
                if row is None:
                    session.add(
                        Workspace(
                            project_id=project_id, layout=text, updated_at=now(), updated_by=by
                        )
                    )
                else:
                    row.layout = text
                    row.updated_at = now()
                    row.updated_by = by
            return
        except IntegrityError:
            continue  # a concurrent first save created the row: update it
    raise ApiError(503, "could not save the workspace; retry", headers={"Retry-After": "1"})


@router.put(
    _WORKSPACE,
    tags=["dashboard"],
    openapi_extra=_OBJECT_BODY,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **error(413, f"The layout is larger than {MAX_WORKSPACE_BYTES} bytes"),
    },
)
async def workspace_put(
    entity: str, project: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> Response:
    """Replace the project's saved layout with the JSON object in the body (at most 256 KiB);
    answers the stored layout. Needs the same access as editing the project's runs."""
    reach(user, entity, project, write=True)
    body = await request.body()
    text = _parse_layout(body)

    def store() -> None:
        proj = find_project(ctx, entity, project)
        _store_layout(ctx, proj.id, text, user.name)

    await run_in_threadpool(store)
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get(
    "/runs/{entity}/{project}/fields",
    tags=["runs"],
    response_model=FieldsOut,
)
def run_fields(entity: str, project: str, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Every config and summary key (nested keys joined with `.`) over all runs of the
    project, sorted: `{"config": [...], "summary": [...]}` (the runs table's column picker)."""
    reach(user, entity, project)
    proj = find_project(ctx, entity, project)
    with ctx.db.read() as session:
        return keys_of_project(session, proj.id)
