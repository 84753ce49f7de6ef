"""Shared request dependencies: the app context, the viewer, entity/project/run lookups.

Order of checks on every entity route: the key (401), the names (400), the entity (403, on
its name alone), then the project and run (404).
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fwtrack.server.auth import Viewer, authenticate, require_entity
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run
from fwtrack.server.errors import ApiError, check_entity, check_project, check_run_id

__all__ = [
    "ERRORS",
    "Ctx",
    "CurrentViewer",
    "error",
    "find_project",
    "find_run",
    "reach",
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer fwk_...`")

_ERROR_SCHEMA = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    }
}


def error(code: int, text: str) -> dict[int | str, dict[str, object]]:
    """An OpenAPI `responses` entry for an error answer."""
    return {code: {"description": text, **_ERROR_SCHEMA}}


ERRORS: dict[int | str, dict[str, object]] = {
    **error(400, "Malformed request"),
    **error(401, "Missing, unknown or revoked API key"),
    **error(403, "The entity is not reachable with this key"),
    **error(404, "Not found"),
    **error(413, "Request body too large"),
    **error(503, "Overloaded; retry after Retry-After seconds"),
}


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_viewer(
    request: Request,
    ctx: Ctx,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    if ctx.local_viewer is not None:
        return ctx.local_viewer
    return authenticate(ctx.db, request.headers.get("authorization"))


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]


def reach(
    viewer: Viewer,
    entity: str,
    project: str | None = None,
    run_id: str | None = None,
    *,
    write: bool = False,
) -> None:
    """Validate the names (400), then the entity's reachability (403); `write` also refuses
    a team's viewers (403)."""
    check_entity(entity)
    if project is not None:
        check_project(project)
    if run_id is not None:
        check_run_id(run_id)
    require_entity(viewer, entity, write=write)


def find_project(ctx: AppContext, entity: str, name: str) -> Project:
    """The project, or 404 naming it."""
    with ctx.db.read() as session:
        project = session.scalar(
            sa.select(Project).where(Project.entity == entity, Project.name == name)
        )
    if project is None:
        raise ApiError(404, f"no project {entity}/{name}; hint: GET /api/v1/projects lists yours")
    return project


def find_run(ctx: AppContext, entity: str, project_name: str, run_id: str) -> tuple[Project, Run]:
    """The project and run, or 404 naming what is missing."""
    project = find_project(ctx, entity, project_name)
    with ctx.db.read() as session:
        run = session.scalar(
            sa.select(Run).where(Run.project_id == project.id, Run.run_id == run_id)
        )
    if run is None:
        raise ApiError(404, f"no run {run_id!r} in project {entity}/{project_name}")
    return project, run
