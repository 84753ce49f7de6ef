"""The audit of admin actions: who did what, when (docs/collaboration.md).

`GET /api/v1/audit`: server admins read every event; a team's admins read their team's
(`entity=<team>` is then required); anyone else is answered 403. Events are recorded by
`fwtrack.server.audit.record` in the routes that make the changes (users, teams, keys,
invitations, bulk run actions, reports)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel

from fwtrack.server.db import AuditEvent
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.registry import is_entity_admin
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer

__all__ = ["MAX_AUDIT_PAGE", "router"]

router = APIRouter(responses=ERRORS)

MAX_AUDIT_PAGE = 1000
"""The most events one answer holds."""


class AuditEventOut(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    entity: str | None
    target: str
    detail: dict[str, Any] | None


class AuditOut(BaseModel):
    events: list[AuditEventOut]
    next: int | None


@router.get("/audit", response_model=AuditOut, tags=["access"])
def audit_events(
    user: CurrentViewer,
    ctx: Ctx,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=48, description="An action, or a prefix ending in `.`")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="An event id")] = None,
) -> dict[str, Any]:
    """Audit events, newest first: `entity` keeps one user's or team's, `action` one action
    (`team.role`) or a family (`invitation.`); `before` (the answer's `next`) pages back.
    Server admins read all; a team admin reads their team's (with `entity=<team>`)."""
    if entity is not None:
        check_entity(entity)
    with ctx.db.read() as session:
        if not user.is_admin:
            if entity is None:
                raise ApiError(
                    403,
                    "only server admins read the whole audit; hint: a team admin asks for "
                    "their team's with ?entity=<team>",
                )
            if entity == user.name or not is_entity_admin(session, user, entity):
                raise ApiError(
                    403,
                    f"only admins of team {entity!r} (and server admins) read its audit; "
                    "hint: ask one of them",
                )
        query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if entity is not None:
            query = query.where(AuditEvent.entity == entity)
        if action is not None:
            if action.endswith("."):
                query = query.where(AuditEvent.action.startswith(action, autoescape=True))
            else:
                query = query.where(AuditEvent.action == action)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        rows = session.scalars(query).all()
        events = [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "entity": r.entity,
                "target": r.target,
                "detail": r.detail,
            }
            for r in rows
        ]
    return {"events": events, "next": events[-1]["id"] if len(events) == limit else None}
